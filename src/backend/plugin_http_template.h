/* plugin_http_template.h — the pure text pieces of the declarative HTTP provider runtime:
 * "{{ns.name}}" templates filled from a lookup function, dotted JSON paths
 * ("data.payload.fax_id", "items[0].id"), and the host allow-list every request
 * of an http plugin is checked against. No I/O, so they are unit-tested and fuzzed
 * alone. */
#ifndef FAXBOT_HTTP_TEMPLATE_H
#define FAXBOT_HTTP_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

/* Returns the value of a variable ("fax.to", "config.api_key"), or NULL when the
 * name is unknown (an unknown name is an error; a known but empty value is ""). */
typedef const char *(*tmpl_lookup)(void *ctx, const char *name, char *buf, size_t buflen);

/* Appends tmpl with each "{{ name }}" replaced by lookup(name). 0, or -1 with err
 * naming the unknown variable or the unclosed "{{". */
int tmpl_render(const char *tmpl, tmpl_lookup lookup, void *ctx, strbuf *out, char *err, size_t errlen);

/* The variable names a template uses, checked against a vocabulary: 0, or -1 with
 * err naming the first one known(name) refuses (or a syntax error). */
int tmpl_check(const char *tmpl, bool (*known)(const char *name), char *err, size_t errlen);

/* The value at a dotted path with optional [index] steps; NULL if absent. */
json_t *json_path(json_t *root, const char *path);

/* The value at path as text (string as is; integer in decimal; real "%g"; bool
 * "true"/"false"); "" when absent or of another type. */
void json_path_text(json_t *root, const char *path, char *out, size_t outlen);

/* true when path is a syntactically valid dotted path. */
bool json_path_valid(const char *path);

/* The lowercase host of an http(s) URL into host; 0, or -1 when url is not an
 * absolute http:// or https:// URL with a host. */
int url_host(const char *url, char *host, size_t hostlen);

/* true when host matches one of the patterns: an exact name, or "*.example.com"
 * (any subdomain of example.com, not example.com itself). Case-insensitive. */
bool host_allowed(const char *host, const char *const *patterns, int n);

#endif
