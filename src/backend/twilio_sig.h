/* twilio_sig.h — application/x-www-form-urlencoded bodies and the Twilio-style
 * webhook signature that SignalWire's Compatibility API uses (X-SignalWire-Signature,
 * legacy X-Twilio-Signature): base64(HMAC-SHA1(key, URL + for each POST parameter
 * sorted by name: name + value)). Pure functions over bytes. */
#ifndef FAXBOT_TWILIO_SIG_H
#define FAXBOT_TWILIO_SIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct form_param {
    char *name;
    char *value;
} form_param;

typedef struct form_params {
    form_param *items;
    size_t n;
} form_params;

/* Decodes a urlencoded body ('+' is a space, %XX escapes). Returns 0, or -1 on a
 * malformed escape, an embedded NUL, or out of memory (out is then empty). */
int form_parse(const char *body, size_t len, form_params *out);
/* The first value of name, or NULL. */
const char *form_get(const form_params *p, const char *name);
void form_free(form_params *p);

/* The signed text of the URL + sorted parameters schemes: url, then for each
 * parameter sorted by name (then value) its name and value, no separators. 0 or -1. */
struct strbuf;
int url_params_message(const char *url, const form_params *params, struct strbuf *msg);

/* The signature of url + params under key (28 base64 characters + NUL). 0 or -1. */
int twilio_signature(const char *key, const char *url, const form_params *params, char out[29]);

/* Compares header (constant time) with the signature of url, and — as Twilio's and
 * SignalWire's own validators do — of url with its default port added or removed. */
bool twilio_signature_ok(const char *key, const char *url, const form_params *params, const char *header);

#endif
