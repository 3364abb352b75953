/* json_get.h — the one set of getters for fields of JSON objects from outside
 * (provider replies and webhooks, PBX hand-offs): absent, null or mistyped fields
 * give the default, never a crash or a truncated surprise. */
#ifndef FAXBOT_JSON_GET_H
#define FAXBOT_JSON_GET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* o[key] when it is a string: copied into dst (cut at dstlen); true if copied. */
bool json_get_str(json_t *o, const char *key, char *dst, size_t dstlen);

/* o[key] when it is a string (not copied), dflt otherwise. */
const char *json_get_string(json_t *o, const char *key, const char *dflt);

/* o[key] as text: a string as it is (not copied), an integer in decimal, a real with
 * "%g", a boolean as "1" or "0" (the numbers printed into buf); NULL when absent,
 * null or of another type. */
const char *json_get_text(json_t *o, const char *key, char *buf, size_t buflen);

/* v as text: a string as it is, an integer in decimal, a real rounded ("%.0f");
 * dst = "" for anything else. */
void json_text(json_t *v, char *dst, size_t dstlen);

/* o[key] as an integer — a JSON integer or a string of decimal digits — when it
 * lies within [min, max]; dflt otherwise. */
long json_get_int(json_t *o, const char *key, long dflt, long min, long max);

/* The same for the counts and codes providers send: an int within ±999,999,999. */
int json_get_small_int(json_t *o, const char *key, int dflt);

#endif
