/* backend_plugin_http.c — the runtime of `http` plugins: one backend per manifest,
 * driven by its "http" section (backend/plugin_http.h, docs/plugins-http.md).
 * A fax goes out as the manifest's send request (a JSON/form body with our tokenized
 * PDF URL, or a multipart upload of the PDF) authenticated as the manifest says
 * (basic, bearer, a header, or OAuth2 client credentials); the answer's fax id and
 * status are read at the manifest's JSON paths and mapped to our states and
 * failure_reasons. Results come back through the manifest's webhooks (checked by its
 * verification scheme) or by polling its status request (resume). Received faxes
 * arrive through an inbound webhook, the document as an upload or a URL we fetch.
 * Every request goes only to a host in http.allowed_hosts: any other is refused.
 *
 * Settings: the plugin's config_schema fields (rows PLUGIN_<ID>_<KEY>, plugin core). */
#include "backend/plugin_http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backend/cloud_util.h"
#include "backend/plugin_http_template.h"
#include "backend/twilio_sig.h"
#include "config/config.h"
#include "config/settings.h"
#include "http/multipart.h"
#include "plugins/plugin.h"
#include "util/util.h"

#define SID_MEMORY 512

typedef struct sid_entry {
    char sid[128];
    char job_id[33];
    int attempt;
} sid_entry;

/* One loaded http plugin: its parsed section and the ops that serve it. */
typedef struct http_slot {
    bool used;
    char id[PLUGIN_ID_MAX];
    http_def def;
    backend_ops ops;
    backend_webhook hooks[HTTP_PLUGIN_MAX_WEBHOOKS];
    char paths[HTTP_PLUGIN_MAX_WEBHOOKS][160];
} http_slot;

#define HTTP_SLOTS 32
static http_slot g_slots[HTTP_SLOTS];
static pthread_mutex_t g_slots_lock = PTHREAD_MUTEX_INITIALIZER;

struct backend {
    backend_sink sink;
    const http_def *def;
    char data_dir[1024];
    char public_url[512];
    bool inbound_enabled;
    json_t *config;               /* field key -> value text */
    pthread_mutex_t lock;         /* token and sid memory */
    char token[4096];
    int64_t token_valid_until;
    sid_entry sids[SID_MEMORY];   /* provider fax id -> attempt, for providers whose webhooks carry only their id */
    int sid_next;
    /* dry run: the requests it would make instead of making them */
    json_t *record;
};

/* ---- templates ---- */

typedef struct tctx {
    backend *b;
    const backend_job *job;
    const char *sid;
} tctx;

static void digits_of(const char *in, char *out, size_t outlen)
{
    size_t k = 0;
    for (const char *p = in ? in : ""; *p && k + 1 < outlen; p++)
        if (*p >= '0' && *p <= '9') out[k++] = *p;
    if (outlen) out[k] = 0;
}

static const char *lookup(void *ctx, const char *name, char *buf, size_t buflen)
{
    tctx *t = ctx;
    const backend_job *j = t->job;
    const http_def *d = t->b->def;
    if (!strncmp(name, "config.", 7)) {
        json_t *v = json_object_get(t->b->config, name + 7);
        if (v) return json_string_value(v) ? json_string_value(v) : "";
        for (int i = 0; i < d->n_config; i++)
            if (!strcmp(d->config[i].name, name + 7)) return "";
        return NULL;
    }
    if (!strncmp(name, "webhook.", 8)) {
        for (int i = 0; i < d->n_webhooks; i++) {
            if (strcmp(d->webhooks[i].name, name + 8)) continue;
            if (!t->b->public_url[0]) return "";
            if (j) str_fmt(buf, buflen, "%s/plugin-hooks/%s/%s?job_id=%s&attempt=%d", t->b->public_url, d->id,
                           d->webhooks[i].name, j->job_id, j->attempt);
            else str_fmt(buf, buflen, "%s/plugin-hooks/%s/%s", t->b->public_url, d->id, d->webhooks[i].name);
            return buf;
        }
        return NULL;
    }
    if (!strncmp(name, "fax.", 4)) {
        const char *f = name + 4;
        if (!strcmp(f, "provider_sid")) return t->sid ? t->sid : j && j->provider_sid ? j->provider_sid : "";
        if (!j) return "";
        if (!strcmp(f, "to")) return j->to ? j->to : "";
        if (!strcmp(f, "to_digits")) { digits_of(j->to, buf, buflen); return buf; }
        if (!strcmp(f, "from")) return j->caller_id ? j->caller_id : "";
        if (!strcmp(f, "from_digits")) { digits_of(j->caller_id, buf, buflen); return buf; }
        if (!strcmp(f, "header_text")) return j->header_text ? j->header_text : "";
        if (!strcmp(f, "pdf_url")) return j->pdf_url ? j->pdf_url : "";
        if (!strcmp(f, "job_id")) return j->job_id;
        if (!strcmp(f, "attempt")) { str_fmt(buf, buflen, "%d", j->attempt); return buf; }
        if (!strcmp(f, "correlation")) { str_fmt(buf, buflen, "%s:%d", j->job_id, j->attempt); return buf; }
        if (!strcmp(f, "pages")) { str_fmt(buf, buflen, "%d", j->pages); return buf; }
        if (!strcmp(f, "file_name")) { str_fmt(buf, buflen, "%s.pdf", j->job_id); return buf; }
    }
    return NULL;
}

/* A rendered template (malloc'd) or NULL with err. */
static char *render(backend *b, const backend_job *job, const char *sid, const char *tmpl, char *err, size_t errlen)
{
    tctx t = {b, job, sid};
    strbuf sb;
    sb_init(&sb);
    if (tmpl_render(tmpl, lookup, &t, &sb, err, errlen)) {
        sb_free(&sb);
        return NULL;
    }
    char *s = sb_steal(&sb);
    return s ? s : strdup("");
}

/* ---- requests ---- */

typedef struct built_req {
    cloud_http_req rq;
    char *url;
    char *body;
    char *headers[HTTP_PLUGIN_MAX_FIELDS + 2];
    int n_headers;
    char *user, *password, *bearer;
    /* multipart */
    char *names[HTTP_PLUGIN_MAX_FIELDS], *values[HTTP_PLUGIN_MAX_FIELDS];
    int n_values;
    const char *file_field, *file_path, *file_name;
} built_req;

static void built_free(built_req *r)
{
    free(r->url);
    free(r->body);
    for (int i = 0; i < r->n_headers; i++) free(r->headers[i]);
    for (int i = 0; i < r->n_values; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->user);
    free(r->password);
    free(r->bearer);
    memset(r, 0, sizeof *r);
}

static void *mime_build(void *h, void *ctx)
{
    built_req *r = ctx;
    curl_mime *m = curl_mime_init(h);
    if (!m) return NULL;
    bool bad = false;
    for (int i = 0; i < r->n_values && !bad; i++) {
        curl_mimepart *p = curl_mime_addpart(m);
        bad = !p || curl_mime_name(p, r->names[i]) != CURLE_OK
              || curl_mime_data(p, r->values[i], CURL_ZERO_TERMINATED) != CURLE_OK;
    }
    if (!bad && r->file_field) {
        curl_mimepart *p = curl_mime_addpart(m);
        bad = !p || !r->file_path || curl_mime_name(p, r->file_field) != CURLE_OK
              || curl_mime_filedata(p, r->file_path) != CURLE_OK || curl_mime_filename(p, r->file_name) != CURLE_OK
              || curl_mime_type(p, "application/pdf") != CURLE_OK;
    }
    if (bad) {
        curl_mime_free(m);
        return NULL;
    }
    return m;
}

/* The URL of an action: base_url + path, or the path when absolute. */
static char *action_url(backend *b, const backend_job *job, const char *sid, const http_action *a, char *err,
                        size_t errlen)
{
    char *path = render(b, job, sid, a->path, err, errlen);
    if (!path) return NULL;
    strbuf sb;
    sb_init(&sb);
    if (strncmp(path, "http", 4)) {
        size_t n = strlen(b->def->base_url);
        while (n && b->def->base_url[n - 1] == '/') n--;
        sb_append(&sb, b->def->base_url, n);
    }
    sb_puts(&sb, path);
    free(path);
    return sb_steal(&sb);
}

static int get_token(backend *b, bool force, char *out, size_t outlen, char *err, size_t errlen);

/* Builds an action's request; 0 or -1 with err (a host outside allowed_hosts included). */
static int build(backend *b, const backend_job *job, const char *sid, const http_action *a, built_req *r, char *err,
                 size_t errlen)
{
    memset(r, 0, sizeof *r);
    const http_def *d = b->def;
    r->url = action_url(b, job, sid, a, err, errlen);
    if (!r->url) return -1;
    if (!http_def_host_ok(d, r->url)) {
        char host[256] = "?";
        url_host(r->url, host, sizeof host);
        str_fmt(err, errlen, "refused: %s is not one of the plugin's http.allowed_hosts", host);
        return -1;
    }
    r->rq.method = a->method;
    r->rq.url = r->url;
    r->rq.timeout_s = d->timeout_s;
    for (int i = 0; i < a->n_headers; i++) {
        char *v = render(b, job, sid, a->headers[i].value, err, errlen);
        if (!v) return -1;
        strbuf h;
        sb_init(&h);
        sb_appendf(&h, "%s: %s", a->headers[i].name, v);
        free(v);
        r->headers[r->n_headers++] = sb_steal(&h);
    }
    switch (d->auth.scheme) {
    case HAUTH_NONE:
        break;
    case HAUTH_BASIC:
        r->user = render(b, job, sid, d->auth.username, err, errlen);
        r->password = render(b, job, sid, d->auth.password ? d->auth.password : "", err, errlen);
        if (!r->user || !r->password) return -1;
        r->rq.user = r->user;
        r->rq.password = r->password;
        break;
    case HAUTH_BEARER:
        if (!(r->bearer = render(b, job, sid, d->auth.token, err, errlen))) return -1;
        r->rq.bearer = r->bearer;
        break;
    case HAUTH_HEADER: {
        char *v = render(b, job, sid, d->auth.value, err, errlen);
        if (!v) return -1;
        strbuf h;
        sb_init(&h);
        sb_appendf(&h, "%s: %s", d->auth.header, v);
        free(v);
        r->headers[r->n_headers++] = sb_steal(&h);
        break;
    }
    case HAUTH_OAUTH2:
        r->bearer = malloc(sizeof b->token);
        if (!r->bearer || get_token(b, false, r->bearer, sizeof b->token, err, errlen)) return -1;
        r->rq.bearer = r->bearer;
        break;
    }
    r->rq.headers = (const char *const *)r->headers;
    r->rq.n_headers = r->n_headers;
    if (!strcmp(a->body, "json")) {
        json_t *o = json_object();
        for (int i = 0; i < a->n_fields; i++) {
            char *v = render(b, job, sid, a->fields[i].value, err, errlen);
            if (!v) {
                json_decref(o);
                return -1;
            }
            if (*v) json_object_set_new(o, a->fields[i].name, json_string(v));
            free(v);
        }
        r->body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        r->rq.content_type = "application/json";
    } else if (!strcmp(a->body, "form")) {
        strbuf sb;
        sb_init(&sb);
        for (int i = 0; i < a->n_fields; i++) {
            char *v = render(b, job, sid, a->fields[i].value, err, errlen);
            if (!v) {
                sb_free(&sb);
                return -1;
            }
            if (*v) {
                if (sb.len) sb_puts(&sb, "&");
                cloud_url_encode(&sb, a->fields[i].name);
                sb_puts(&sb, "=");
                cloud_url_encode(&sb, v);
            }
            free(v);
        }
        r->body = sb_steal(&sb);
        if (!r->body) r->body = strdup("");
        r->rq.content_type = "application/x-www-form-urlencoded";
    } else if (!strcmp(a->body, "multipart")) {
        for (int i = 0; i < a->n_fields; i++) {
            char *v = render(b, job, sid, a->fields[i].value, err, errlen);
            if (!v) return -1;
            if (!*v) {
                free(v);
                continue;
            }
            r->names[r->n_values] = strdup(a->fields[i].name);
            r->values[r->n_values++] = v;
        }
        r->file_field = a->file_field;
        r->file_path = job ? job->pdf_path : NULL;
        r->file_name = "fax.pdf";
        r->rq.mime_build = mime_build;
        r->rq.mime_ctx = r;
    }
    if (r->body) {
        r->rq.body = r->body;
        r->rq.body_len = strlen(r->body);
    }
    return 0;
}

/* ---- OAuth2 client credentials ---- */

static int get_token(backend *b, bool force, char *out, size_t outlen, char *err, size_t errlen)
{
    const http_auth *a = &b->def->auth;
    pthread_mutex_lock(&b->lock);
    if (!force && b->token[0] && mono_ms() < b->token_valid_until) {
        str_copy(out, outlen, b->token);
        pthread_mutex_unlock(&b->lock);
        return 0;
    }
    int rc = -1;
    char *id = render(b, NULL, NULL, a->client_id, err, errlen);
    char *secret = render(b, NULL, NULL, a->client_secret, err, errlen);
    strbuf body;
    sb_init(&body);
    sb_puts(&body, "grant_type=client_credentials");
    if (a->scope && a->scope[0]) {
        sb_puts(&body, "&scope=");
        cloud_url_encode(&body, a->scope);
    }
    if (!id || !secret) goto out;
    if (!http_def_host_ok(b->def, a->token_url)) {
        str_fmt(err, errlen, "refused: the token URL's host is not one of the plugin's http.allowed_hosts");
        goto out;
    }
    cloud_http_req rq = {.method = "POST", .url = a->token_url, .user = id, .password = secret,
                         .content_type = "application/x-www-form-urlencoded", .body = body.data,
                         .body_len = body.len, .timeout_s = 30};
    cloud_http_res rs;
    if (cloud_http(&rq, &rs)) {
        str_fmt(err, errlen, "could not reach the token endpoint: %s", rs.error);
    } else if (rs.status != 200) {
        str_fmt(err, errlen, "the token endpoint answered HTTP %ld%s", rs.status,
                rs.status == 401 || rs.status == 403 ? " (client id/secret rejected)" : "");
    } else {
        json_t *o = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, NULL);
        const char *tok = json_string_value(json_object_get(o, "access_token"));
        json_t *exp = json_object_get(o, "expires_in");
        if (tok && *tok && strlen(tok) < sizeof b->token) {
            long long secs = json_is_integer(exp) ? json_integer_value(exp) : 3600;
            if (secs < 1) secs = 1;
            str_copy(b->token, sizeof b->token, tok);
            b->token_valid_until = mono_ms() + (secs - (secs > 120 ? 60 : secs / 2)) * 1000;
            str_copy(out, outlen, tok);
            rc = 0;
        } else {
            str_fmt(err, errlen, "the token endpoint's answer has no access_token");
        }
        json_decref(o);
    }
    cloud_http_res_free(&rs);
out:
    sb_free(&body);
    free(id);
    free(secret);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* Performs an action: 0 = an answer (rs), -1 = none (rs->error, rs->maybe_sent) or
 * not built (err; rs->status 0, maybe_sent false). */
static int perform(backend *b, const backend_job *job, const char *sid, const http_action *a, cloud_http_res *rs,
                   char *err, size_t errlen)
{
    built_req r;
    memset(rs, 0, sizeof *rs);
    sb_init(&rs->body);
    if (build(b, job, sid, a, &r, err, errlen)) {
        built_free(&r);
        return -1;
    }
    if (b->record) {             /* dry run: what would be sent, not sent */
        json_t *o = json_object();
        json_object_set_new(o, "method", json_string(a->method));
        json_object_set_new(o, "url", json_string(r.url));
        json_object_set_new(o, "body_kind", json_string(a->body));
        if (r.body) json_object_set_new(o, "body", json_string(r.body));
        json_array_append_new(b->record, o);
    }
    int rc = cloud_http(&r.rq, rs);
    if (rc == 0 && rs->status == 401 && b->def->auth.scheme == HAUTH_OAUTH2) {
        if (get_token(b, true, r.bearer, sizeof b->token, err, errlen) == 0) {
            cloud_http_res_free(rs);
            rc = cloud_http(&r.rq, rs);
        }
    }
    if (rc) str_copy(err, errlen, rs->error);
    built_free(&r);
    return rc;
}

/* ---- answers → verdicts ---- */

typedef struct fax_view {
    char id[128], status[64], failure[128], message[256];
    int pages;
} fax_view;

static void read_view(json_t *o, const char *id_p, const char *st_p, const char *fail_p, const char *msg_p,
                      const char *pages_p, fax_view *v)
{
    char pages[32] = "";
    memset(v, 0, sizeof *v);
    v->pages = -1;
    if (id_p) json_path_text(o, id_p, v->id, sizeof v->id);
    if (st_p) json_path_text(o, st_p, v->status, sizeof v->status);
    if (fail_p) json_path_text(o, fail_p, v->failure, sizeof v->failure);
    if (msg_p) json_path_text(o, msg_p, v->message, sizeof v->message);
    if (pages_p) json_path_text(o, pages_p, pages, sizeof pages);
    if (pages[0]) v->pages = atoi(pages);
}

static void verdict_of(const http_def *d, const fax_view *v, cloud_verdict *out)
{
    memset(out, 0, sizeof *out);
    http_state st = http_map_status(d, v->status);
    if (st == HSTATE_PENDING && v->failure[0] && !v->status[0]) st = HSTATE_FAILED;
    switch (st) {
    case HSTATE_PENDING:
        out->state = CLOUD_PENDING;
        return;
    case HSTATE_DELIVERED:
        out->state = CLOUD_DELIVERED;
        return;
    case HSTATE_CANCELLED:
        out->state = CLOUD_FAILED;
        out->reason = "cancelled";
        break;
    case HSTATE_FAILED: {
        const http_failure_rule *r = http_map_failure(d, v->failure);
        out->state = CLOUD_FAILED;
        out->reason = r->reason;
        out->transient = r->transient;
        break;
    }
    }
    str_fmt(out->message, sizeof out->message, "%s: %s%s%s%s", d->name, v->status[0] ? v->status : "failed",
            v->failure[0] ? " (" : "", v->failure, v->failure[0] ? ")" : "");
    if (v->message[0]) {
        size_t n = strlen(out->message);
        str_fmt(out->message + n, sizeof out->message - n, ": %s", v->message);
    }
}

static void remember_sid(backend *b, const char *sid, const char *job_id, int attempt)
{
    if (!sid || !*sid) return;
    pthread_mutex_lock(&b->lock);
    sid_entry *e = &b->sids[b->sid_next];
    b->sid_next = (b->sid_next + 1) % SID_MEMORY;
    str_copy(e->sid, sizeof e->sid, sid);
    str_copy(e->job_id, sizeof e->job_id, job_id);
    e->attempt = attempt;
    pthread_mutex_unlock(&b->lock);
}

static bool recall_sid(backend *b, const char *sid, char job_id[33], int *attempt)
{
    bool found = false;
    pthread_mutex_lock(&b->lock);
    for (int i = 0; i < SID_MEMORY && !found; i++)
        if (b->sids[i].sid[0] && !strcmp(b->sids[i].sid, sid)) {
            str_copy(job_id, 33, b->sids[i].job_id);
            *attempt = b->sids[i].attempt;
            found = true;
        }
    pthread_mutex_unlock(&b->lock);
    return found;
}

static bool retryable(const http_def *d, long status)
{
    for (int i = 0; i < d->n_retry_http; i++)
        if (d->retry_http[i] == status) return true;
    return false;
}

/* The provider's complaint in an error answer: message_path, else the start of the body. */
static void complaint(const http_action *a, const cloud_http_res *rs, char *out, size_t outlen)
{
    out[0] = 0;
    json_t *o = json_loadb(rs->body.data ? rs->body.data : "", rs->body.len, 0, NULL);
    if (o && a->message_path) json_path_text(o, a->message_path, out, outlen);
    json_decref(o);
    if (!out[0] && rs->body.len) utf8_clean(rs->body.data, rs->body.len < 200 ? rs->body.len : 200, out, outlen);
}

/* ---- settings ---- */

static int load_config(backend *b, const plugin *p, char *err, size_t errlen)
{
    b->config = json_object();
    for (int i = 0; p && i < p->n_fields; i++) {
        char v[2048] = "";
        if (p->fields[i].setting && p->fields[i].setting[0]
            && setting_str(p->fields[i].setting, v, sizeof v, err, errlen))
            return -1;
        json_object_set_new(b->config, p->fields[i].key, json_string(v));
    }
    return 0;
}

/* Names the required settings that are empty; 0 if none. */
static int missing_config(const backend *b, char *msg, size_t msglen)
{
    const plugin *p = plugin_find(b->def->id);
    char names[400] = "";
    for (int i = 0; i < b->def->n_config; i++) {
        if (!b->def->config[i].required) continue;
        const char *v = json_string_value(json_object_get(b->config, b->def->config[i].name));
        if (v && *v) continue;
        const char *row = b->def->config[i].name;
        for (int k = 0; p && k < p->n_fields; k++)
            if (!strcmp(p->fields[k].key, row) && p->fields[k].setting) row = p->fields[k].setting;
        size_t n = strlen(names);
        str_fmt(names + n, sizeof names - n, "%s%s", n ? ", " : "", row);
    }
    if (!names[0]) return 0;
    str_fmt(msg, msglen, "plugin %s is not configured: %s not set", b->def->id, names);
    return -1;
}

static http_slot *slot_of(const char *id)
{
    for (int i = 0; i < HTTP_SLOTS; i++)
        if (g_slots[i].used && !strcmp(g_slots[i].id, id)) return &g_slots[i];
    return NULL;
}

static backend *instance_new(const http_def *def, backend_sink sink, const struct config *cfg)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->sink = sink;
    b->def = def;
    pthread_mutex_init(&b->lock, NULL);
    if (cfg) {
        str_copy(b->data_dir, sizeof b->data_dir, cfg->data_dir);
        str_copy(b->public_url, sizeof b->public_url, cfg->public_api_url);
        size_t n = strlen(b->public_url);
        while (n && b->public_url[n - 1] == '/') b->public_url[--n] = 0;
        b->inbound_enabled = cfg->inbound_enabled;
    }
    return b;
}

static void hp_destroy(backend *b)
{
    if (!b) return;
    json_decref(b->config);
    json_decref(b->record);
    pthread_mutex_destroy(&b->lock);
    memset(b->token, 0, sizeof b->token);
    free(b);
}

static backend *hp_create(const struct config *cfg, backend_sink sink, char *err, size_t errlen)
{
    const plugin *p = cfg ? plugin_find(cfg->backend) : NULL;
    pthread_mutex_lock(&g_slots_lock);
    http_slot *s = p ? slot_of(p->id) : NULL;
    pthread_mutex_unlock(&g_slots_lock);
    if (!s) {
        str_fmt(err, errlen, "FAX_BACKEND '%s' is not a loaded http plugin", cfg ? cfg->backend : "?");
        return NULL;
    }
    backend *b = instance_new(&s->def, sink, cfg);
    if (!b) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    if (load_config(b, p, err, errlen)) {
        hp_destroy(b);
        return NULL;
    }
    return b;
}

static int hp_check(backend *b, char *msg, size_t msglen)
{
    if (missing_config(b, msg, msglen)) return -1;
    bool needs_url = false;
    for (int i = 0; i < b->def->send.n_fields; i++)
        if (strstr(b->def->send.fields[i].value, "fax.pdf_url")) needs_url = true;
    if (needs_url && !b->public_url[0]) {
        str_fmt(msg, msglen, "plugin %s sends the document as a URL: set PUBLIC_API_URL (the provider fetches "
                             "/fax/<id>/pdf?token=… from it)", b->def->id);
        return -1;
    }
    str_fmt(msg, msglen, "http plugin %s (%s) at %s%s", b->def->id, b->def->name, b->def->base_url,
            b->public_url[0] || !b->def->n_webhooks ? "" : "; PUBLIC_API_URL is not set, so results are polled");
    return 0;
}

static int hp_warning(backend *b, char *msg, size_t msglen)
{
    for (int i = 0; i < b->def->n_webhooks; i++)
        if (b->def->webhooks[i].verify.scheme == VERIFY_NONE) {
            str_fmt(msg, msglen, "plugin %s: webhook %s is not verified (verify.scheme none): anyone who can reach it "
                                 "can report fax results", b->def->id, b->def->webhooks[i].name);
            return 1;
        }
    return 0;
}

/* ---- sending ---- */

static void fail_now(backend *b, const backend_job *job, const char *reason, bool transient, const char *msg)
{
    cloud_fail(&b->sink, job->job_id, job->attempt, reason, transient, msg);
}

static int hp_submit(backend *b, const backend_job *job)
{
    char msg[600], err[400] = "";
    const http_def *d = b->def;
    if (missing_config(b, msg, sizeof msg)) {
        fail_now(b, job, "provider_error", false, msg);
        return -1;
    }
    if (d->send.file_field && (!job->pdf_path || access(job->pdf_path, R_OK) != 0)) {
        fail_now(b, job, "file_error", false, "the job's PDF is missing or unreadable");
        return -1;
    }
    cloud_http_res rs;
    char masked[40];
    mask_phone(job->to, masked, sizeof masked);
    int rc = perform(b, job, NULL, &d->send, &rs, err, sizeof err);
    int ret = 0;
    if (rc) {
        if (rs.maybe_sent) {
            str_fmt(msg, sizeof msg, "%s: no answer to the send request (%s); it may have reached the provider, so it "
                                     "is not sent again (that could make a second fax)", d->name, err);
            fail_now(b, job, "network_error", false, msg);
        } else if (rs.error[0]) {
            str_fmt(msg, sizeof msg, "%s: could not reach %s (%s)", d->name, d->base_url, err);
            fail_now(b, job, "network_error", true, msg);
        } else {
            str_fmt(msg, sizeof msg, "%s: %s", d->name, err);
            fail_now(b, job, "provider_error", false, msg);
        }
        ret = -1;
    } else if (rs.status >= 200 && rs.status < 300) {
        json_t *o = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, NULL);
        fax_view v;
        read_view(o, d->send.id_path, d->send.status_path, d->send.failure_path, d->send.message_path,
                  d->send.pages_path, &v);
        json_decref(o);
        if (!v.id[0]) {
            str_fmt(msg, sizeof msg, "%s accepted the request but its answer has no fax id at %s", d->name,
                    d->send.id_path);
            fail_now(b, job, "provider_error", false, msg);
            ret = -1;
        } else {
            remember_sid(b, v.id, job->job_id, job->attempt);
            cloud_verdict cv;
            verdict_of(d, &v, &cv);
            log_info("plugin %s: job %s attempt %d to %s: fax %s %s", d->id, job->job_id, job->attempt, masked, v.id,
                     v.status[0] ? v.status : "accepted");
            cloud_report(&b->sink, job->job_id, job->attempt, v.id, &cv, v.pages, NULL);
        }
    } else {
        char why[300];
        complaint(&d->send, &rs, why, sizeof why);
        bool again = retryable(d, rs.status);
        const char *hint = rs.status == 401 || rs.status == 403 ? " (the credentials were refused: check the plugin's settings)" : "";
        str_fmt(msg, sizeof msg, "%s refused the fax: HTTP %ld%s%s%s", d->name, rs.status, why[0] ? ": " : "", why, hint);
        fail_now(b, job, "provider_error", again, msg);
        ret = -1;
    }
    cloud_http_res_free(&rs);
    return ret;
}

/* ---- status polling (resume) ---- */

/* Asks the provider about sid and reports it. 1 reported, 0 the provider has no such
 * fax (HTTP 404), -1 could not tell (err). */
static int poll_status(backend *b, const backend_job *job, const char *sid, char *err, size_t errlen)
{
    const http_def *d = b->def;
    cloud_http_res rs;
    int rc = perform(b, job, sid, &d->status, &rs, err, errlen);
    int ret = -1;
    if (rc == 0 && rs.status == 200) {
        json_t *o = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, NULL);
        fax_view v;
        read_view(o, d->status.id_path, d->status.status_path, d->status.failure_path, d->status.message_path,
                  d->status.pages_path, &v);
        json_decref(o);
        cloud_verdict cv;
        verdict_of(d, &v, &cv);
        cloud_report(&b->sink, job->job_id, job->attempt, sid, &cv, v.pages, NULL);
        ret = 1;
    } else if (rc == 0 && rs.status == 404) {
        ret = 0;
    } else if (rc == 0) {
        str_fmt(err, errlen, "HTTP %ld", rs.status);
    }
    cloud_http_res_free(&rs);
    return ret;
}

static int hp_resume(backend *b, const backend_job *job)
{
    const char *sid = job->provider_sid ? job->provider_sid : "";
    char err[400] = "";
    if (!sid[0]) {
        /* no provider id was recorded: the send may or may not have arrived, and a
         * manifest has no way to look a fax up by our id; never risk a second fax */
        fail_now(b, job, "provider_error", false, "the send request's outcome is unknown (no provider fax id was "
                                                  "recorded); not sent again to avoid a second fax");
        return 0;
    }
    remember_sid(b, sid, job->job_id, job->attempt);
    if (!b->def->status.present) {
        backend_outcome o = outcome_accepted(job->attempt, sid);
        b->sink.report(b->sink.ctx, job->job_id, &o);
        return 0;
    }
    int r = poll_status(b, job, sid, err, sizeof err);
    if (r == 0) {
        log_info("plugin %s: job %s: the provider has no fax %s; it will be sent again", b->def->id, job->job_id, sid);
        return -1;
    }
    if (r < 0) {
        log_warn("plugin %s: job %s: could not read fax %s (%s); asking again later", b->def->id, job->job_id, sid, err);
        backend_outcome o = outcome_accepted(job->attempt, sid);
        b->sink.report(b->sink.ctx, job->job_id, &o);
    }
    return 0;
}

static int hp_diagnose(backend *b, json_t *o)
{
    char msg[600], err[300] = "";
    json_object_set_new(o, "plugin", json_string(b->def->id));
    json_object_set_new(o, "base_url", json_string(b->def->base_url));
    if (missing_config(b, msg, sizeof msg)) {
        cloud_diag_missing(o, msg);
        return -1;
    }
    if (b->def->auth.scheme == HAUTH_OAUTH2) {
        char *tok = malloc(sizeof b->token);
        int rc = tok ? get_token(b, true, tok, sizeof b->token, err, sizeof err) : -1;
        free(tok);
        json_object_set_new(o, "oauth_token", json_string(rc ? "failed" : "ok"));
        json_object_set_new(o, "credentials", json_string(rc ? "rejected" : "ok"));
        if (rc) json_object_set_new(o, "detail", json_string(err));
        return rc;
    }
    json_object_set_new(o, "credentials", json_string("not checked (the manifest has no read-only request)"));
    return 0;
}

/* ---- webhooks ---- */

typedef struct mp_collect {
    json_t *fields;
    const char *file_field;
    strbuf cur;
    char name[128];
    bool is_file;
    unsigned char *file;
    size_t file_len;
} mp_collect;

static int mp_begin(void *ctx, const multipart_part_info *info)
{
    mp_collect *c = ctx;
    sb_free(&c->cur);
    sb_init(&c->cur);
    str_copy(c->name, sizeof c->name, info->name ? info->name : "");
    c->is_file = c->file_field && !strcmp(c->name, c->file_field);
    return 0;
}

static int mp_data(void *ctx, const char *data, size_t len)
{
    mp_collect *c = ctx;
    return sb_append(&c->cur, data, len);
}

static int mp_end(void *ctx)
{
    mp_collect *c = ctx;
    if (c->is_file) {
        free(c->file);
        c->file_len = c->cur.len;
        c->file = (unsigned char *)sb_steal(&c->cur);
    } else {
        json_object_set_new(c->fields, c->name, json_stringn(c->cur.data ? c->cur.data : "", c->cur.len));
    }
    sb_free(&c->cur);
    sb_init(&c->cur);
    return 0;
}

/* The webhook's document as JSON (and an uploaded file); NULL with err. */
static json_t *webhook_doc(const http_webhook_def *w, const webhook_request *req, unsigned char **file, size_t *file_len,
                           char *err, size_t errlen)
{
    json_t *doc = NULL;
    *file = NULL;
    *file_len = 0;
    if (!strcmp(w->format, "json")) {
        json_error_t je;
        doc = json_loadb(req->body ? req->body : "", req->body_len, 0, &je);
        if (!doc) str_fmt(err, errlen, "the webhook body is not JSON: %s", je.text);
        return doc;
    }
    json_t *fields = json_object();
    if (!strcmp(w->format, "form")) {
        form_params fp = {0};
        if (form_parse(req->body ? req->body : "", req->body_len, &fp)) {
            json_decref(fields);
            str_fmt(err, errlen, "the webhook body is not a urlencoded form");
            return NULL;
        }
        for (size_t i = 0; i < fp.n; i++) json_object_set_new(fields, fp.items[i].name, json_string(fp.items[i].value));
        form_free(&fp);
    } else {
        char boundary[256];
        if (multipart_boundary(req->content_type ? req->content_type : "", boundary, sizeof boundary)) {
            json_decref(fields);
            str_fmt(err, errlen, "the webhook body is not multipart/form-data");
            return NULL;
        }
        mp_collect c = {.fields = fields, .file_field = w->file_field};
        sb_init(&c.cur);
        multipart_callbacks cb = {.part_begin = mp_begin, .part_data = mp_data, .part_end = mp_end};
        multipart_parser *p = multipart_new(boundary, &cb, &c);
        int bad = !p || multipart_feed(p, req->body ? req->body : "", req->body_len) || multipart_finish(p);
        if (bad) str_fmt(err, errlen, "malformed multipart body: %s", p ? multipart_error(p) : "out of memory");
        multipart_free(p);
        sb_free(&c.cur);
        if (bad) {
            free(c.file);
            json_decref(fields);
            return NULL;
        }
        *file = c.file;
        *file_len = c.file_len;
    }
    if (w->data_field) {
        const char *text = json_string_value(json_object_get(fields, w->data_field));
        json_t *inner = text ? json_loads(text, 0, NULL) : NULL;
        if (!inner) {
            str_fmt(err, errlen, "the webhook's %s field is missing or not JSON", w->data_field);
            json_decref(fields);
            free(*file);
            *file = NULL;
            return NULL;
        }
        json_decref(fields);
        return inner;
    }
    return fields;
}

static const http_webhook_def *webhook_of(backend *b, const char *path)
{
    for (int i = 0; i < b->def->n_webhooks; i++) {
        char p[200];
        str_fmt(p, sizeof p, "/plugin-hooks/%s/%s", b->def->id, b->def->webhooks[i].name);
        if (!strcmp(p, path)) return &b->def->webhooks[i];
    }
    return NULL;
}

static bool authentic(backend *b, const http_webhook_def *w, const webhook_request *req, webhook_response *res)
{
    char err[300], why[300];
    char *key = w->verify_key ? render(b, NULL, NULL, w->verify_key, err, sizeof err) : strdup("");
    verify_input in = {.body = req->body, .body_len = req->body_len, .url = req->public_url,
                       .content_type = req->content_type,
                       .signature = w->verify.header[0] ? req->header(req, w->verify.header) : NULL,
                       .timestamp = w->verify.timestamp_header[0] ? req->header(req, w->verify.timestamp_header) : NULL,
                       .authorization = req->header(req, "Authorization"), .now_s = now_ms() / 1000};
    bool ok = key && verify_request(&w->verify, key, &in, why, sizeof why);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    if (!ok) {
        log_warn("plugin %s: webhook %s from %s refused: %s", b->def->id, w->name, req->client_ip ? req->client_ip : "?",
                 why);
        char detail[400];
        str_fmt(detail, sizeof detail, "Invalid webhook signature: %s", why);
        webhook_reply_detail(res, 401, detail);
    }
    return ok;
}

static void inbound_fax(backend *b, const http_webhook_def *w, json_t *doc, const unsigned char *file, size_t file_len,
                        webhook_response *res)
{
    char id[128] = "", from[64] = "", to[64] = "", url[2048] = "", err[400], path[1200], inbound_id[33] = "";
    if (!b->inbound_enabled) {
        webhook_reply_detail(res, 404, "Inbound not enabled");
        return;
    }
    json_path_text(doc, w->id_path ? w->id_path : "id", id, sizeof id);
    if (w->from_path) json_path_text(doc, w->from_path, from, sizeof from);
    if (w->to_path) json_path_text(doc, w->to_path, to, sizeof to);
    if (w->media_url_path) json_path_text(doc, w->media_url_path, url, sizeof url);
    if (!id[0]) {
        webhook_reply_detail(res, 400, "the inbound event names no fax id");
        return;
    }
    cloud_http_res rs;
    memset(&rs, 0, sizeof rs);
    sb_init(&rs.body);
    if ((!file || !file_len) && url[0]) {
        if (!http_def_host_ok(b->def, url)) {
            char host[256] = "?";
            url_host(url, host, sizeof host);
            str_fmt(err, sizeof err, "the document URL's host %s is not one of the plugin's http.allowed_hosts: not fetched",
                    host);
            log_warn("plugin %s: inbound fax %s: %s", b->def->id, id, err);
            webhook_reply_detail(res, 400, err);
            return;
        }
        cloud_http_req rq = {.method = "GET", .url = url, .timeout_s = b->def->timeout_s};
        if (cloud_http(&rq, &rs) || rs.status != 200) {
            str_fmt(err, sizeof err, "could not fetch the received document (%s)", rs.status ? "HTTP error" : rs.error);
            cloud_http_res_free(&rs);
            webhook_reply_detail(res, 502, err);
            return;
        }
        file = (const unsigned char *)rs.body.data;
        file_len = rs.body.len;
    }
    const char *kind = cloud_doc_kind(file, file_len);
    if (!kind) {
        webhook_reply_detail(res, 400, "the received document is neither a PDF nor a TIFF");
    } else if (cloud_write_temp(b->data_dir, file, file_len, path, sizeof path, err, sizeof err)) {
        webhook_reply_detail(res, 500, err);
    } else {
        inbound_delivery dl = {.provider_sid = id, .from_number = from, .to_number = to, .file_path = path,
                               .file_type = kind, .move = true};
        if (b->sink.receive(b->sink.ctx, &dl, inbound_id, err, sizeof err)) {
            webhook_reply_detail(res, 500, err);
        } else {
            log_info("plugin %s: inbound fax %s stored as %s", b->def->id, id, inbound_id);
            res->status = 200;
            str_fmt(res->body, sizeof res->body, "{\"status\":\"ok\",\"inbound_id\":\"%s\"}", inbound_id);
        }
        unlink(path);
    }
    cloud_http_res_free(&rs);
}

static void status_event(backend *b, const http_webhook_def *w, const webhook_request *req, json_t *doc,
                         webhook_response *res)
{
    fax_view v;
    read_view(doc, w->id_path, w->status_path, w->failure_path, w->message_path, w->pages_path, &v);
    char job_id[33] = "", tmp[64] = "";
    int attempt = 0;
    const char *q = req->query_param(req, "job_id");
    if (q && cloud_is_job_id(q)) str_copy(job_id, sizeof job_id, q);
    else if (w->job_path) {
        json_path_text(doc, w->job_path, tmp, sizeof tmp);
        if (cloud_is_job_id(tmp)) str_copy(job_id, sizeof job_id, tmp);
    }
    attempt = cloud_query_attempt(req);
    if (!attempt && w->attempt_path) {
        json_path_text(doc, w->attempt_path, tmp, sizeof tmp);
        attempt = atoi(tmp) > 0 ? atoi(tmp) : 0;
    }
    if (!job_id[0] && v.id[0]) recall_sid(b, v.id, job_id, &attempt);
    if (!job_id[0]) {
        webhook_reply(res, 200, "status", "unknown fax (not sent by this gateway, or sent before a restart: its "
                                          "result is polled)");
        return;
    }
    cloud_verdict cv;
    verdict_of(b->def, &v, &cv);
    report_verdict r = cloud_report(&b->sink, job_id, attempt, v.id[0] ? v.id : NULL, &cv, v.pages, NULL);
    webhook_reply(res, 200, "status", r == REPORT_REFUSED ? "ignored" : "ok");
}

static void hp_webhook(backend *b, const webhook_request *req, webhook_response *res)
{
    const http_webhook_def *w = webhook_of(b, req->path);
    if (!w) {
        webhook_reply_detail(res, 404, "Not Found");
        return;
    }
    if (!authentic(b, w, req, res)) return;
    char err[400], event[128] = "";
    unsigned char *file = NULL;
    size_t file_len = 0;
    json_t *doc = webhook_doc(w, req, &file, &file_len, err, sizeof err);
    if (!doc) {
        webhook_reply_detail(res, 400, err);
        return;
    }
    if (w->event_path) json_path_text(doc, w->event_path, event, sizeof event);
    bool ignored = false;
    for (int i = 0; i < w->n_ignore; i++)
        if (!strcmp(event, w->ignore_events[i])) ignored = true;
    if (ignored) webhook_reply(res, 200, "status", "ignored");
    else if (w->inbound && (!w->status || (w->inbound_event && !strcmp(event, w->inbound_event))))
        inbound_fax(b, w, doc, file, file_len, res);
    else if (w->status) status_event(b, w, req, doc, res);
    else webhook_reply(res, 200, "status", "ignored");
    json_decref(doc);
    free(file);
}

/* ---- the ops of one plugin ---- */

const backend_ops *http_plugin_ops(http_def *def, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_slots_lock);
    http_slot *s = slot_of(def->id);
    if (s) {                       /* already built (the ops outlive a reload: routes point at them) */
        pthread_mutex_unlock(&g_slots_lock);
        http_def_free(def);
        return &s->ops;
    }
    for (int i = 0; i < HTTP_SLOTS && !s; i++)
        if (!g_slots[i].used) s = &g_slots[i];
    if (!s) {
        pthread_mutex_unlock(&g_slots_lock);
        http_def_free(def);
        str_fmt(err, errlen, "too many http plugins in use (at most %d)", HTTP_SLOTS);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->used = true;
    s->def = *def;
    str_copy(s->id, sizeof s->id, def->id);
    for (int i = 0; i < s->def.n_webhooks; i++) {
        str_fmt(s->paths[i], sizeof s->paths[i], "/plugin-hooks/%s/%s", s->def.id, s->def.webhooks[i].name);
        s->hooks[i] = (backend_webhook){"POST", s->paths[i], 32u * 1024 * 1024, hp_webhook, s->def.webhooks[i].inbound};
    }
    s->ops = (backend_ops){.name = s->id, .needs_tiff = false, .create = hp_create, .submit = hp_submit,
                           .check = hp_check, .warning = hp_warning, .destroy = hp_destroy, .async = true,
                           .resume = hp_resume, .diagnose = hp_diagnose, .webhooks = s->hooks,
                           .n_webhooks = s->def.n_webhooks};
    pthread_mutex_unlock(&g_slots_lock);
    return &s->ops;
}

/* The plugin kind's backend hook. */
static const backend_ops *hp_backend(const plugin *p, char *err, size_t errlen)
{
    http_def def;
    if (http_def_parse(p->manifest, &def, err, errlen)) return NULL;
    return http_plugin_ops(&def, err, errlen);
}

/* ---- the dry run: POST /admin/plugins/http/validate ---- */

static int dry_sink_report(void *ctx, const char *job_id, const backend_outcome *o)
{
    json_t *norm = ctx;
    static const char *const kinds[] = {"", "in_progress", "in_progress", "SUCCESS", "FAILED"};
    json_object_set_new(norm, "job_id", json_string(job_id));
    if (o->provider_sid) json_object_set_new(norm, "provider_id", json_string(o->provider_sid));
    json_object_set_new(norm, "status", json_string(kinds[o->kind]));
    if (o->kind == OUTCOME_FAILURE) {
        json_object_set_new(norm, "failure_reason", json_string(o->failure_reason ? o->failure_reason : ""));
        json_object_set_new(norm, "transient", json_boolean(o->transient));
        if (o->message) json_object_set_new(norm, "error", json_string(o->message));
    }
    return 0;
}

static report_verdict dry_report(void *ctx, const char *job_id, const backend_outcome *o)
{
    dry_sink_report(ctx, job_id, o);
    return REPORT_APPLIED;
}

json_t *http_plugin_dry_run(json_t *body, int *status)
{
    char err[400];
    json_t *manifest = json_object_get(body, "manifest");
    http_def def;
    if (http_def_parse(manifest, &def, err, sizeof err)) {
        *status = 400;
        json_t *o = json_object();
        json_object_set_new(o, "detail", json_string(err));
        return o;
    }
    json_t *out = json_object();
    json_object_set_new(out, "id", json_string(def.id));
    json_object_set_new(out, "name", json_string(def.name));
    json_t *actions = json_array();
    json_array_append_new(actions, json_string("send_fax"));
    if (def.status.present) json_array_append_new(actions, json_string("get_status"));
    if (def.cancel.present) json_array_append_new(actions, json_string("cancel_fax"));
    json_object_set_new(out, "actions", actions);
    json_t *hosts = json_array();
    for (int i = 0; i < def.n_hosts; i++) json_array_append_new(hosts, json_string(def.hosts[i]));
    json_object_set_new(out, "allowed_domains", hosts);
    json_t *warnings = json_array();
    if (!strncmp(def.base_url, "http://", 7))
        json_array_append_new(warnings, json_string("http.base_url is plain http: credentials and faxes travel unencrypted"));
    json_t *norm = json_object();
    backend_sink sink = {.report = dry_report, .ctx = norm};
    backend *b = instance_new(&def, sink, NULL);
    b->config = json_object();
    json_object_update(b->config, json_object_get(body, "settings"));
    json_object_update(b->config, json_object_get(body, "credentials"));
    b->record = json_array();
    const char *to = json_string_value(json_object_get(body, "to"));
    const char *file_url = json_string_value(json_object_get(body, "file_url"));
    const char *from = json_string_value(json_object_get(body, "from_number"));
    json_t *ro = json_object_get(body, "render_only");
    bool render_only = !json_is_false(ro);
    char job_id[33];
    new_id_hex32(job_id);
    backend_job job = {.job_id = job_id, .to = to ? to : "+15551234567", .caller_id = from ? from : "",
                       .pdf_url = file_url ? file_url : "", .attempt = 1, .pages = 1, .provider_sid = ""};
    if (render_only) {
        built_req r;
        if (build(b, &job, NULL, &def.send, &r, err, sizeof err)) {
            json_object_set_new(out, "error", json_string(err));
        } else {
            json_t *o = json_object();
            json_object_set_new(o, "method", json_string(def.send.method));
            json_object_set_new(o, "url", json_string(r.url));
            json_object_set_new(o, "body_kind", json_string(def.send.body));
            if (r.body) json_object_set_new(o, "body", json_string(r.body));
            json_array_append_new(b->record, o);
        }
        built_free(&r);
    } else if (def.send.file_field) {
        json_object_set_new(out, "error", json_string("this provider takes an upload: a dry run sends no document "
                                                      "(use render_only)"));
    } else {
        hp_submit(b, &job);
        json_object_set_new(out, "normalized", json_incref(norm));
    }
    json_object_set_new(out, "requests", json_incref(b->record));
    if (json_array_size(warnings)) json_object_set_new(out, "warnings", warnings);
    else json_decref(warnings);
    json_decref(norm);
    hp_destroy(b);
    http_def_free(&def);
    *status = 200;
    return out;
}

static json_t *hp_dry_run(const json_t *manifest, const json_t *request, int *status)
{
    json_t *body = json_deep_copy(request);
    if (!json_is_object(body)) {
        json_decref(body);
        body = json_object();
    }
    json_object_set(body, "manifest", (json_t *)manifest);
    json_t *o = http_plugin_dry_run(body, status);
    json_decref(body);
    return o;
}

const plugin_kind_ops plugin_http_kind = {
    .kind = PLUGIN_KIND_HTTP,
    .validate = http_section_validate,
    .backend = hp_backend,
    .dry_run = hp_dry_run,
};
