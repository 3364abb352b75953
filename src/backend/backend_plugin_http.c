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
#include "backend/plugin_http_internal.h"

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

backend *http_instance_new(const http_def *def, backend_sink sink, const struct config *cfg)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->sink = sink;
    b->def = def;
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->token_lock, NULL);
    if (cfg) {
        str_copy(b->data_dir, sizeof b->data_dir, cfg->data_dir);
        str_copy(b->public_url, sizeof b->public_url, cfg->public_api_url);
        size_t n = strlen(b->public_url);
        while (n && b->public_url[n - 1] == '/') b->public_url[--n] = 0;
        b->inbound_enabled = cfg->inbound_enabled;
    }
    return b;
}

void http_instance_free(backend *b)
{
    if (!b) return;
    json_decref(b->config);
    json_decref(b->record);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->token_lock);
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
    backend *b = http_instance_new(&s->def, sink, cfg);
    if (!b) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    if (load_config(b, p, err, errlen)) {
        http_instance_free(b);
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

int http_plugin_submit(backend *b, const backend_job *job)
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
    int rc = http_perform(b, job, NULL, &d->send, &rs, err, sizeof err);
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
    int rc = http_perform(b, job, sid, &d->status, &rs, err, errlen);
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

/* Deep diagnostics: the OAuth token when there is one, then — when the manifest has a
 * status request — that request for a fax id nobody has: an answer of 404 (or 200)
 * means the API is reachable and the credentials are accepted; 401/403 that they are not. */
#define DIAG_PROBE_ID "00000000-0000-0000-0000-000000000000"

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
        int rc = tok ? http_get_token(b, true, tok, sizeof b->token, err, sizeof err) : -1;
        free(tok);
        json_object_set_new(o, "oauth_token", json_string(rc ? "failed" : "ok"));
        if (rc) {
            json_object_set_new(o, "credentials", json_string("rejected"));
            json_object_set_new(o, "detail", json_string(err));
            return -1;
        }
    }
    if (!b->def->status.present) {
        json_object_set_new(o, "credentials", json_string(b->def->auth.scheme == HAUTH_OAUTH2 ? "ok" : "not checked (the manifest has no status request)"));
        return 0;
    }
    cloud_http_res rs;
    int rc = http_perform(b, NULL, DIAG_PROBE_ID, &b->def->status, &rs, err, sizeof err);
    int ret = -1;
    if (rc && !rs.error[0]) {
        json_object_set_new(o, "credentials", json_string("unknown"));
        json_object_set_new(o, "detail", json_string(err));
    } else if (rc) {
        cloud_diag_unreachable(o, b->def->base_url, err);
    } else {
        json_object_set_new(o, "api_reachable", json_boolean(true));
        json_object_set_new(o, "http_status", json_integer(rs.status));
        bool rejected = rs.status == 401 || rs.status == 403;
        bool ok = rs.status == 404 || (rs.status >= 200 && rs.status < 300);
        json_object_set_new(o, "credentials", json_string(rejected ? "rejected" : ok ? "ok" : "unknown"));
        if (!ok) {
            char why[300];
            complaint(&b->def->status, &rs, why, sizeof why);
            str_fmt(msg, sizeof msg, "%s %s answered HTTP %ld%s%s%s", b->def->status.method, b->def->status.path,
                    rs.status, why[0] ? ": " : "", why,
                    rejected ? " (the credentials were refused: check the plugin's settings)" : "");
            json_object_set_new(o, "detail", json_string(msg));
        }
        ret = ok ? 0 : -1;
    }
    cloud_http_res_free(&rs);
    return ret;
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
    char *key = w->verify_key ? http_render(b, NULL, NULL, w->verify_key, err, sizeof err) : strdup("");
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
    s->ops = (backend_ops){.name = s->id, .needs_tiff = false, .create = hp_create, .submit = http_plugin_submit,
                           .check = hp_check, .warning = hp_warning, .destroy = http_instance_free, .async = true,
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
