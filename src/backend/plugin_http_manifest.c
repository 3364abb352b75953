/* plugin_http_manifest.c — the "http" section of a plugin manifest: parsed into an
 * http_def and checked field by field, every error naming its field
 * ("http.send.path: …"). Pure (no I/O): the schema tests, the validate route and
 * the runtime all go through http_def_parse. */
#include "backend/plugin_http.h"

#include <string.h>
#include <strings.h>

#include "backend/plugin_http_template.h"
#include "util/util.h"

typedef struct {
    http_def *def;
    char *err;
    size_t errlen;
} pctx;

static int fail(pctx *c, const char *field, const char *fmt, const char *arg)
{
    char msg[300];
    str_fmt(msg, sizeof msg, fmt, arg ? arg : "");
    str_fmt(c->err, c->errlen, "%s: %s", field, msg);
    return -1;
}

/* o[key] as a string: *out (NULL when absent); -1 when present but not a string. */
static int get_str(pctx *c, json_t *o, const char *key, const char *field, const char **out, bool required)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) return fail(c, field, "is required", NULL);
        return 0;
    }
    if (!json_is_string(v)) return fail(c, field, "must be a string", NULL);
    *out = json_string_value(v);
    if (required && !**out) return fail(c, field, "must not be empty", NULL);
    return 0;
}

/* ---- template vocabulary ---- */

static __thread const http_def *t_def;   /* the def being parsed: its config fields and webhooks are the vocabulary */

static bool known_var(const char *name)
{
    static const char *const fax[] = {"fax.to", "fax.to_digits", "fax.from", "fax.from_digits", "fax.header_text",
                                      "fax.pdf_url", "fax.job_id", "fax.attempt", "fax.provider_sid", "fax.correlation",
                                      "fax.pages", "fax.file_name", NULL};
    for (int i = 0; fax[i]; i++)
        if (!strcmp(name, fax[i])) return true;
    const http_def *d = t_def;
    if (!strncmp(name, "config.", 7)) {
        for (int i = 0; d && i < d->n_config; i++)
            if (!strcmp(d->config[i].name, name + 7)) return true;
        return false;
    }
    if (!strncmp(name, "webhook.", 8)) {
        for (int i = 0; d && i < d->n_webhooks; i++)
            if (d->webhooks[i].name && !strcmp(d->webhooks[i].name, name + 8)) return true;
        return false;
    }
    return false;
}

static int check_tmpl(pctx *c, const char *field, const char *tmpl)
{
    char e[200];
    if (!tmpl) return 0;
    if (tmpl_check(tmpl, known_var, e, sizeof e)) return fail(c, field, "%s", e);
    return 0;
}

static int check_path(pctx *c, const char *field, const char *path)
{
    if (path && !json_path_valid(path)) return fail(c, field, "is not a dotted JSON path (e.g. data.id or items[0].id)", NULL);
    return 0;
}

/* A URL template: absolute http(s) with a declared host (templates only after the host). */
static int check_url(pctx *c, const char *field, const char *url)
{
    char host[256];
    if (url_host(url, host, sizeof host))
        return fail(c, field, "must be an absolute http:// or https:// URL with a fixed host (got \"%.80s\")", url);
    if (strstr(host, "{{")) return fail(c, field, "the host must not be a template", NULL);
    if (!host_allowed(host, c->def->hosts, c->def->n_hosts))
        return fail(c, field, "host %s is not one of http.allowed_hosts", host);
    return 0;
}

/* ---- sections ---- */

static int parse_config(pctx *c, json_t *schema)
{
    http_def *d = c->def;
    if (!schema) return 0;
    json_t *props = json_object_get(schema, "properties");
    json_t *fields = json_is_object(props) ? props : json_object_get(schema, "fields");
    if (!fields) fields = schema;
    json_t *required = json_object_get(schema, "required");
    if (json_is_array(fields)) {
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f) {
            const char *n = json_string_value(json_object_get(f, "key"));
            if (!n) n = json_string_value(json_object_get(f, "name"));
            if (!n || d->n_config >= HTTP_PLUGIN_MAX_FIELDS) continue;
            d->config[d->n_config++] = (http_config_field){n, json_is_true(json_object_get(f, "secret")),
                                                           json_is_true(json_object_get(f, "required"))};
        }
    } else if (json_is_object(fields)) {
        const char *k;
        json_t *f;
        json_object_foreach(fields, k, f) {
            if (!json_is_object(f) || d->n_config >= HTTP_PLUGIN_MAX_FIELDS) continue;
            bool req = json_is_true(json_object_get(f, "required"));
            size_t i;
            json_t *r;
            json_array_foreach(required, i, r) if (json_is_string(r) && !strcmp(json_string_value(r), k)) req = true;
            d->config[d->n_config++] = (http_config_field){k, json_is_true(json_object_get(f, "secret")), req};
        }
    }
    return 0;
}

static int parse_auth(pctx *c, json_t *a)
{
    http_auth *au = &c->def->auth;
    if (!a) return fail(c, "http.auth", "is required (use {\"scheme\": \"none\"} for none)", NULL);
    if (!json_is_object(a)) return fail(c, "http.auth", "must be an object", NULL);
    const char *s;
    if (get_str(c, a, "scheme", "http.auth.scheme", &s, true)) return -1;
    if (!strcmp(s, "none")) au->scheme = HAUTH_NONE;
    else if (!strcmp(s, "basic")) au->scheme = HAUTH_BASIC;
    else if (!strcmp(s, "bearer")) au->scheme = HAUTH_BEARER;
    else if (!strcmp(s, "header")) au->scheme = HAUTH_HEADER;
    else if (!strcmp(s, "oauth2_client_credentials")) au->scheme = HAUTH_OAUTH2;
    else return fail(c, "http.auth.scheme", "must be none, basic, bearer, header or oauth2_client_credentials (got \"%s\")", s);
    switch (au->scheme) {
    case HAUTH_NONE:
        return 0;
    case HAUTH_BASIC:
        return get_str(c, a, "username", "http.auth.username", &au->username, true)
               || get_str(c, a, "password", "http.auth.password", &au->password, false)
               || check_tmpl(c, "http.auth.username", au->username) || check_tmpl(c, "http.auth.password", au->password);
    case HAUTH_BEARER:
        return get_str(c, a, "token", "http.auth.token", &au->token, true) || check_tmpl(c, "http.auth.token", au->token);
    case HAUTH_HEADER:
        if (get_str(c, a, "header", "http.auth.header", &au->header, true)
            || get_str(c, a, "value", "http.auth.value", &au->value, true))
            return -1;
        if (strpbrk(au->header, ": \r\n")) return fail(c, "http.auth.header", "must be a bare header name", NULL);
        return check_tmpl(c, "http.auth.value", au->value);
    case HAUTH_OAUTH2:
        return get_str(c, a, "token_url", "http.auth.token_url", &au->token_url, true)
               || check_url(c, "http.auth.token_url", au->token_url)
               || get_str(c, a, "client_id", "http.auth.client_id", &au->client_id, true)
               || get_str(c, a, "client_secret", "http.auth.client_secret", &au->client_secret, true)
               || get_str(c, a, "scope", "http.auth.scope", &au->scope, false)
               || check_tmpl(c, "http.auth.client_id", au->client_id)
               || check_tmpl(c, "http.auth.client_secret", au->client_secret);
    }
    return 0;
}

static int parse_kv(pctx *c, json_t *o, const char *field, http_kv *out, int *n)
{
    char f[160];
    if (!o) return 0;
    if (!json_is_object(o)) return fail(c, field, "must be an object of name: template", NULL);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        str_fmt(f, sizeof f, "%s.%s", field, k);
        if (!json_is_string(v)) return fail(c, f, "must be a string template", NULL);
        if (*n >= HTTP_PLUGIN_MAX_FIELDS) return fail(c, field, "has too many entries", NULL);
        if (check_tmpl(c, f, json_string_value(v))) return -1;
        out[(*n)++] = (http_kv){k, json_string_value(v)};
    }
    return 0;
}

static int parse_action(pctx *c, json_t *root, const char *key, http_action *a, bool required)
{
    char f[96], g[128];
    str_fmt(f, sizeof f, "http.%s", key);
    json_t *o = json_object_get(root, key);
    if (!o) return required ? fail(c, f, "is required", NULL) : 0;
    if (!json_is_object(o)) return fail(c, f, "must be an object", NULL);
    a->present = true;
    str_fmt(g, sizeof g, "%s.method", f);
    if (get_str(c, o, "method", g, &a->method, false)) return -1;
    if (!a->method) a->method = !strcmp(key, "status") ? "GET" : "POST";
    if (strcmp(a->method, "GET") && strcmp(a->method, "POST") && strcmp(a->method, "PUT") && strcmp(a->method, "DELETE")
        && strcmp(a->method, "PATCH"))
        return fail(c, g, "must be GET, POST, PUT, PATCH or DELETE", NULL);
    str_fmt(g, sizeof g, "%s.path", f);
    if (get_str(c, o, "path", g, &a->path, true) || check_tmpl(c, g, a->path)) return -1;
    if (!strncmp(a->path, "http", 4) && check_url(c, g, a->path)) return -1;
    if (strncmp(a->path, "http", 4) && a->path[0] != '/') return fail(c, g, "must start with / (relative to http.base_url) or be a full URL", NULL);
    str_fmt(g, sizeof g, "%s.body", f);
    if (get_str(c, o, "body", g, &a->body, false)) return -1;
    if (!a->body) a->body = "none";
    if (strcmp(a->body, "json") && strcmp(a->body, "form") && strcmp(a->body, "multipart") && strcmp(a->body, "none"))
        return fail(c, g, "must be json, form, multipart or none", NULL);
    str_fmt(g, sizeof g, "%s.fields", f);
    if (parse_kv(c, json_object_get(o, "fields"), g, a->fields, &a->n_fields)) return -1;
    str_fmt(g, sizeof g, "%s.headers", f);
    if (parse_kv(c, json_object_get(o, "headers"), g, a->headers, &a->n_headers)) return -1;
    str_fmt(g, sizeof g, "%s.file_field", f);
    if (get_str(c, o, "file_field", g, &a->file_field, false)) return -1;
    if (a->file_field && strcmp(a->body, "multipart")) return fail(c, g, "only a multipart body carries a file", NULL);
    if (!strcmp(a->body, "multipart") && !strcmp(key, "send") && !a->file_field)
        return fail(c, g, "is required with a multipart body (the part that carries the PDF)", NULL);
    static const char *const paths[] = {"id_path", "status_path", "failure_path", "message_path", "pages_path"};
    const char **dst[] = {&a->id_path, &a->status_path, &a->failure_path, &a->message_path, &a->pages_path};
    json_t *resp = json_object_get(o, "response");
    if (resp && !json_is_object(resp)) return fail(c, f, "response must be an object", NULL);
    for (int i = 0; i < 5; i++) {
        str_fmt(g, sizeof g, "%s.response.%s", f, paths[i]);
        if (get_str(c, resp, paths[i], g, dst[i], false) || check_path(c, g, *dst[i])) return -1;
    }
    if (!strcmp(key, "send") && !a->id_path)
        return fail(c, "http.send.response.id_path", "is required (where the answer names the provider's fax id)", NULL);
    if (!strcmp(key, "status") && !a->status_path)
        return fail(c, "http.status.response.status_path", "is required", NULL);
    return 0;
}

static int parse_state(const char *s, http_state *out)
{
    if (!strcmp(s, "pending")) *out = HSTATE_PENDING;
    else if (!strcmp(s, "delivered")) *out = HSTATE_DELIVERED;
    else if (!strcmp(s, "failed")) *out = HSTATE_FAILED;
    else if (!strcmp(s, "cancelled")) *out = HSTATE_CANCELLED;
    else return -1;
    return 0;
}

static bool our_reason(const char *r)
{
    static const char *const words[] = {"busy", "no_answer", "congestion", "invalid_number", "rejected", "line_error",
                                        "network_error", "provider_error", "conversion_error", "file_error",
                                        "cancelled", NULL};
    for (int i = 0; words[i]; i++)
        if (!strcmp(r, words[i])) return true;
    return false;
}

static int parse_maps(pctx *c, json_t *http)
{
    http_def *d = c->def;
    char g[200];
    json_t *sm = json_object_get(http, "status_map");
    if (!json_is_object(sm) || !json_object_size(sm))
        return fail(c, "http.status_map", "is required: the provider's status words -> pending | delivered | failed | cancelled", NULL);
    const char *k;
    json_t *v;
    json_object_foreach(sm, k, v) {
        str_fmt(g, sizeof g, "http.status_map.%s", k);
        if (!json_is_string(v) || parse_state(json_string_value(v), &d->status_map[d->n_status].state))
            return fail(c, g, "must be pending, delivered, failed or cancelled", NULL);
        if (d->n_status >= HTTP_PLUGIN_MAX_RULES - 1) return fail(c, "http.status_map", "has too many entries", NULL);
        d->status_map[d->n_status++].provider = k;
    }
    json_t *fm = json_object_get(http, "failure_map");
    if (fm && !json_is_object(fm)) return fail(c, "http.failure_map", "must be an object", NULL);
    json_object_foreach(fm, k, v) {
        str_fmt(g, sizeof g, "http.failure_map.%s", k);
        const char *reason = json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "reason"));
        if (!reason || !our_reason(reason))
            return fail(c, g, "reason must be one of busy, no_answer, congestion, invalid_number, rejected, line_error, "
                              "network_error, provider_error, conversion_error, file_error, cancelled", NULL);
        if (d->n_failure >= HTTP_PLUGIN_MAX_RULES - 1) return fail(c, "http.failure_map", "has too many entries", NULL);
        json_t *t = json_object_get(v, "transient");
        if (t && !json_is_boolean(t)) return fail(c, g, "transient must be true or false", NULL);
        d->failure_map[d->n_failure++] = (http_failure_rule){k, reason, json_is_true(t)};
    }
    json_t *rh = json_object_get(http, "retry_http_status");
    if (rh && !json_is_array(rh)) return fail(c, "http.retry_http_status", "must be an array of HTTP statuses", NULL);
    size_t i;
    json_array_foreach(rh, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 400 || json_integer_value(v) > 599)
            return fail(c, "http.retry_http_status", "entries must be HTTP statuses 400..599", NULL);
        if (d->n_retry_http < 16) d->retry_http[d->n_retry_http++] = (long)json_integer_value(v);
    }
    if (!rh) {   /* default: throttling and the server's own trouble */
        static const long dflt[] = {429, 502, 503, 504};
        for (size_t j = 0; j < 4; j++) d->retry_http[d->n_retry_http++] = dflt[j];
    }
    return 0;
}

static int parse_verify(pctx *c, json_t *o, const char *field, http_webhook_def *w)
{
    char g[200];
    if (!json_is_object(o))
        return fail(c, field, "is required: how a webhook is authenticated (basic, hmac, ed25519, or none)", NULL);
    const char *s, *tmp;
    str_fmt(g, sizeof g, "%s.scheme", field);
    if (get_str(c, o, "scheme", g, &s, true)) return -1;
    verify_spec *v = &w->verify;
    if (!strcmp(s, "none")) v->scheme = VERIFY_NONE;
    else if (!strcmp(s, "basic")) v->scheme = VERIFY_BASIC;
    else if (!strcmp(s, "hmac")) v->scheme = VERIFY_HMAC;
    else if (!strcmp(s, "ed25519")) v->scheme = VERIFY_ED25519;
    else return fail(c, g, "must be none, basic, hmac or ed25519 (got \"%s\")", s);
    struct { const char *key; char *dst; size_t len; } words[] = {
        {"algorithm", v->algorithm, sizeof v->algorithm}, {"encoding", v->encoding, sizeof v->encoding},
        {"over", v->over, sizeof v->over}, {"header", v->header, sizeof v->header},
        {"prefix", v->prefix, sizeof v->prefix}, {"timestamp_header", v->timestamp_header, sizeof v->timestamp_header},
        {"message", v->message, sizeof v->message},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        str_fmt(g, sizeof g, "%s.%s", field, words[i].key);
        if (get_str(c, o, words[i].key, g, &tmp, false)) return -1;
        if (tmp && str_copy(words[i].dst, words[i].len, tmp)) return fail(c, g, "is too long", NULL);
    }
    if (v->scheme == VERIFY_HMAC && !v->algorithm[0]) str_copy(v->algorithm, sizeof v->algorithm, "sha256");
    if (!v->encoding[0]) str_copy(v->encoding, sizeof v->encoding, v->scheme == VERIFY_ED25519 ? "base64" : "hex");
    if (v->scheme == VERIFY_HMAC && !v->over[0]) str_copy(v->over, sizeof v->over, "body");
    json_t *tol = json_object_get(o, "tolerance_seconds");
    if (tol && (!json_is_integer(tol) || json_integer_value(tol) < 0))
        return fail(c, field, "tolerance_seconds must be a whole number of seconds", NULL);
    v->tolerance_s = tol ? (long)json_integer_value(tol) : (v->timestamp_header[0] ? 300 : 0);
    char e[200];
    if (verify_spec_check(v, e, sizeof e)) {
        str_fmt(g, sizeof g, "%s.%s", field, e);
        str_copy(c->err, c->errlen, g);
        return -1;
    }
    if (v->scheme == VERIFY_NONE) return 0;
    str_fmt(g, sizeof g, "%s.key", field);
    if (get_str(c, o, "key", g, &w->verify_key, true) || check_tmpl(c, g, w->verify_key)) return -1;
    if (v->scheme == VERIFY_BASIC && !strchr(w->verify_key, ':'))
        return fail(c, g, "must be \"user:password\" for basic", NULL);
    return 0;
}

static int parse_webhooks(pctx *c, json_t *http)
{
    http_def *d = c->def;
    json_t *arr = json_object_get(http, "webhooks");
    if (!arr) return 0;
    if (!json_is_array(arr)) return fail(c, "http.webhooks", "must be an array", NULL);
    if (json_array_size(arr) > HTTP_PLUGIN_MAX_WEBHOOKS) return fail(c, "http.webhooks", "has too many entries", NULL);
    /* names first: templates elsewhere may use {{webhook.<name>}} */
    size_t i;
    json_t *o;
    char f[64], g[200];
    json_array_foreach(arr, i, o) {
        str_fmt(f, sizeof f, "http.webhooks[%zu]", i);
        if (!json_is_object(o)) return fail(c, f, "must be an object", NULL);
        str_fmt(g, sizeof g, "%s.name", f);
        http_webhook_def *w = &d->webhooks[d->n_webhooks++];
        if (get_str(c, o, "name", g, &w->name, true)) return -1;
        for (const char *p = w->name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
                return fail(c, g, "must be lowercase letters, digits, - or _", NULL);
        for (int j = 0; j + 1 < d->n_webhooks; j++)
            if (!strcmp(d->webhooks[j].name, w->name)) return fail(c, g, "is used twice", NULL);
    }
    json_array_foreach(arr, i, o) {
        http_webhook_def *w = &d->webhooks[i];
        str_fmt(f, sizeof f, "http.webhooks[%zu]", i);
        const char *carries;
        str_fmt(g, sizeof g, "%s.carries", f);
        if (get_str(c, o, "carries", g, &carries, false)) return -1;
        if (!carries) carries = "status";
        w->status = !strcmp(carries, "status") || !strcmp(carries, "both");
        w->inbound = !strcmp(carries, "inbound") || !strcmp(carries, "both");
        if (!w->status && !w->inbound) return fail(c, g, "must be status, inbound or both", NULL);
        str_fmt(g, sizeof g, "%s.format", f);
        if (get_str(c, o, "format", g, &w->format, false)) return -1;
        if (!w->format) w->format = "json";
        if (strcmp(w->format, "json") && strcmp(w->format, "form") && strcmp(w->format, "multipart"))
            return fail(c, g, "must be json, form or multipart", NULL);
        str_fmt(g, sizeof g, "%s.data_field", f);
        if (get_str(c, o, "data_field", g, &w->data_field, false)) return -1;
        str_fmt(g, sizeof g, "%s.verify", f);
        if (parse_verify(c, json_object_get(o, "verify"), g, w)) return -1;
        if (w->verify.scheme == VERIFY_HMAC && !strcmp(w->verify.over, "url_params") && strcmp(w->format, "form"))
            return fail(c, g, "over url_params needs format form", NULL);
        struct { const char *key; const char **dst; } ps[] = {
            {"event_path", &w->event_path}, {"id_path", &w->id_path}, {"status_path", &w->status_path},
            {"failure_path", &w->failure_path}, {"message_path", &w->message_path}, {"pages_path", &w->pages_path},
            {"job_path", &w->job_path}, {"attempt_path", &w->attempt_path}, {"from_path", &w->from_path},
            {"to_path", &w->to_path}, {"media_url_path", &w->media_url_path},
        };
        for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
            str_fmt(g, sizeof g, "%s.%s", f, ps[j].key);
            if (get_str(c, o, ps[j].key, g, ps[j].dst, false) || check_path(c, g, *ps[j].dst)) return -1;
        }
        str_fmt(g, sizeof g, "%s.file_field", f);
        if (get_str(c, o, "file_field", g, &w->file_field, false)) return -1;
        str_fmt(g, sizeof g, "%s.inbound_event", f);
        if (get_str(c, o, "inbound_event", g, &w->inbound_event, false)) return -1;
        json_t *ign = json_object_get(o, "ignore_events");
        size_t k;
        json_t *e;
        json_array_foreach(ign, k, e) if (json_is_string(e) && w->n_ignore < 8) w->ignore_events[w->n_ignore++] = json_string_value(e);
        if (w->status && !w->id_path) {
            str_fmt(g, sizeof g, "%s.id_path", f);
            return fail(c, g, "is required for a status webhook (where it names the provider's fax id)", NULL);
        }
        if (w->status && !w->status_path) {
            str_fmt(g, sizeof g, "%s.status_path", f);
            return fail(c, g, "is required for a status webhook", NULL);
        }
        if (w->inbound && !w->media_url_path && !w->file_field) {
            str_fmt(g, sizeof g, "%s.media_url_path", f);
            return fail(c, g, "an inbound webhook needs media_url_path (a document URL to fetch) or file_field (an uploaded part)", NULL);
        }
        if (w->inbound && w->status && !w->inbound_event) {
            str_fmt(g, sizeof g, "%s.inbound_event", f);
            return fail(c, g, "is required when one webhook carries both status and inbound events", NULL);
        }
        if (w->inbound_event && !w->event_path) {
            str_fmt(g, sizeof g, "%s.event_path", f);
            return fail(c, g, "is required with inbound_event", NULL);
        }
    }
    return 0;
}

static int parse_hosts(pctx *c, json_t *http)
{
    http_def *d = c->def;
    json_t *h = json_object_get(http, "allowed_hosts");
    if (!json_is_array(h) || !json_array_size(h))
        return fail(c, "http.allowed_hosts", "is required: the hosts this plugin may call (e.g. [\"api.example.com\"])", NULL);
    if (json_array_size(h) > HTTP_PLUGIN_MAX_HOSTS) return fail(c, "http.allowed_hosts", "has too many entries", NULL);
    size_t i;
    json_t *v;
    json_array_foreach(h, i, v) {
        const char *s = json_string_value(v);
        bool ok = s && *s && strlen(s) < 200;
        for (const char *p = s; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'
                 || *p == ':' || (*p == '*' && p == s && p[1] == '.');
        if (!ok) return fail(c, "http.allowed_hosts", "entries must be host names, or *.domain for its subdomains (got \"%s\")", s ? s : "?");
        if (!strchr(s, '.') && !strchr(s, ':') && strcmp(s, "localhost"))
            return fail(c, "http.allowed_hosts", "\"%s\" is not a host name", s);
        d->hosts[d->n_hosts++] = s;
    }
    return 0;
}

int http_def_parse(json_t *manifest, http_def *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    pctx c = {d, err, errlen};
    if (!json_is_object(manifest)) return fail(&c, "manifest", "must be a JSON object", NULL);
    d->id = json_string_value(json_object_get(manifest, "id"));
    d->name = json_string_value(json_object_get(manifest, "name"));
    if (!d->id) return fail(&c, "id", "is required", NULL);
    if (!d->name) d->name = d->id;
    json_t *http = json_object_get(manifest, "http");
    if (!json_is_object(http)) return fail(&c, "http", "is required for kind http (the provider's API description)", NULL);
    const http_def *saved = t_def;
    t_def = d;
    int rc = -1;
    if (parse_config(&c, json_object_get(manifest, "config_schema")) || parse_hosts(&c, http)) goto out;
    if (get_str(&c, http, "base_url", "http.base_url", &d->base_url, true) || check_url(&c, "http.base_url", d->base_url))
        goto out;
    if (strstr(d->base_url, "{{")) {
        fail(&c, "http.base_url", "must not be a template", NULL);
        goto out;
    }
    json_t *to = json_object_get(http, "timeout_seconds");
    if (to && (!json_is_integer(to) || json_integer_value(to) < 1 || json_integer_value(to) > 600)) {
        fail(&c, "http.timeout_seconds", "must be 1..600", NULL);
        goto out;
    }
    d->timeout_s = to ? (long)json_integer_value(to) : 60;
    if (parse_webhooks(&c, http) || parse_auth(&c, json_object_get(http, "auth"))
        || parse_action(&c, http, "send", &d->send, true) || parse_action(&c, http, "status", &d->status, false)
        || parse_action(&c, http, "cancel", &d->cancel, false) || parse_maps(&c, http))
        goto out;
    if (d->send.status_path == NULL && !d->status.present && d->n_webhooks == 0) {
        fail(&c, "http.status", "is required when neither send.response.status_path nor a status webhook tells the result", NULL);
        goto out;
    }
    d->manifest = json_incref(manifest);
    rc = 0;
out:
    t_def = saved;
    return rc;
}

void http_def_free(http_def *d)
{
    if (d && d->manifest) json_decref(d->manifest);
    if (d) d->manifest = NULL;
}

int http_section_validate(const json_t *manifest, char *err, size_t errlen)
{
    http_def *d = calloc(1, sizeof *d);
    if (!d) {
        str_copy(err, errlen, "out of memory");
        return -1;
    }
    int rc = http_def_parse((json_t *)manifest, d, err, errlen);
    http_def_free(d);
    free(d);
    return rc;
}

http_state http_map_status(const http_def *d, const char *s)
{
    for (int i = 0; s && i < d->n_status; i++)
        if (!strcasecmp(d->status_map[i].provider, s)) return d->status_map[i].state;
    return HSTATE_PENDING;
}

const http_failure_rule *http_map_failure(const http_def *d, const char *s)
{
    static const http_failure_rule dflt = {"*", "provider_error", false};
    const http_failure_rule *star = NULL;
    for (int i = 0; i < d->n_failure; i++) {
        if (!strcmp(d->failure_map[i].provider, "*")) star = &d->failure_map[i];
        else if (s && !strcasecmp(d->failure_map[i].provider, s)) return &d->failure_map[i];
    }
    return star ? star : &dflt;
}

bool http_def_host_ok(const http_def *d, const char *url)
{
    char host[256];
    return url_host(url, host, sizeof host) == 0 && host_allowed(host, d->hosts, d->n_hosts);
}
