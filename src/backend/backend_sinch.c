/* backend_sinch.c — the "sinch" backend: faxes go out through the Sinch Fax API v3
 * (Phaxio's successor) as a multipart upload of the normalized PDF; the result comes
 * back as a FAX_COMPLETED webhook to /sinch-callback, or — when that is late or lost —
 * from polling the fax (resume). Inbound faxes arrive as INCOMING_FAX webhooks on
 * /sinch-inbound. Sinch does not sign fax webhooks: they are authenticated only by the
 * HTTP Basic credentials we embed in the callback URL (docs/internals/protocols.md §2.4).
 *
 * Settings (read once in create):
 *   SINCH_PROJECT_ID                 project (required)
 *   SINCH_API_KEY / SINCH_API_SECRET access key id / secret; each falls back to
 *                                    PHAXIO_API_KEY / PHAXIO_API_SECRET when unset OR
 *                                    empty (Faxbot's fallback without its bug 16)
 *   SINCH_BASE_URL                   default https://fax.api.sinch.com/v3 (regional hosts)
 *   SINCH_AUTH_METHOD                basic (default) | oauth (client credentials)
 *   SINCH_AUTH_URL                   default https://auth.sinch.com/oauth2/token
 *   SINCH_WEBHOOK_USER / _PASSWORD   Basic credentials for both webhooks (aliases:
 *                                    SINCH_INBOUND_BASIC_USER / _PASS). Unset: status
 *                                    callbacks use a password derived from the API secret;
 *                                    inbound webhooks are refused (nothing to check them by).
 *   SINCH_CALLBACK_CONTENT_TYPE      json (default) | multipart: callbackUrlContentType
 *   SINCH_MAX_RETRIES                Sinch-side retries per attempt, 0..5, default 0 (our
 *                                    own FAX_MAX_ATTEMPTS policy does the retrying)
 *   SINCH_HTTP_TIMEOUT_SECONDS       per request, default 60 */
#include "backend/backend.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backend/cloud_util.h"
#include "backend/sinch_parse.h"
#include "config/config.h"

#define SINCH_DEFAULT_BASE "https://fax.api.sinch.com/v3"
#define SINCH_DEFAULT_AUTH "https://auth.sinch.com/oauth2/token"
#define SINCH_HEADER_MAX 50
#define SINCH_LIST_MAX 100

struct backend {
    backend_sink sink;
    char data_dir[1024];
    char public_url[512];
    bool inbound_enabled;
    char project_id[128];
    char key[256], secret[256];
    const char *key_var;         /* which variable the key came from (for messages) */
    char base_url[512];
    bool oauth;
    char auth_url[512];
    char hook_user[128], hook_pass[256];
    bool hook_configured;        /* false: derived password (status callbacks only) */
    bool callback_json;
    long max_retries;
    long timeout_s;
    pthread_mutex_t token_lock;  /* held while a token is fetched: one refresh at a time */
    char token[4096];
    int64_t token_valid_until;   /* mono_ms */
};

/* ---- settings ---- */

static const char *env_nonempty(const char *name)
{
    return setting_raw(name);
}

static int strip_url(const char *var, char *url, char *err, size_t errlen)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') url[--n] = 0;
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        str_fmt(err, errlen, "%s must start with http:// or https://", var);
        return -1;
    }
    return 0;
}

/* A webhook password nobody can guess without the API secret, stable across restarts. */
static void derive_hook_password(backend *b)
{
    char msg[300], mac[65];
    str_fmt(msg, sizeof msg, "faxbot sinch webhook %s", b->project_id);
    hmac_sha256_hex(b->secret, strlen(b->secret), msg, strlen(msg), mac);
    str_copy(b->hook_user, sizeof b->hook_user, "faxbot");
    str_fmt(b->hook_pass, sizeof b->hook_pass, "%.40s", mac);
}

static int read_settings(backend *b, char *err, size_t errlen)
{
    char method[32];
    if (setting_str("SINCH_PROJECT_ID", b->project_id, sizeof b->project_id, err, errlen)) return -1;
    const char *k = env_nonempty("SINCH_API_KEY"), *s = env_nonempty("SINCH_API_SECRET");
    b->key_var = k ? "SINCH_API_KEY" : "PHAXIO_API_KEY";
    if (!k) k = env_nonempty("PHAXIO_API_KEY");
    if (!s) s = env_nonempty("PHAXIO_API_SECRET");
    if (str_copy(b->key, sizeof b->key, k ? k : "") || str_copy(b->secret, sizeof b->secret, s ? s : "")) {
        str_fmt(err, errlen, "SINCH_API_KEY / SINCH_API_SECRET are too long");
        return -1;
    }
    if (setting_str("SINCH_BASE_URL", b->base_url, sizeof b->base_url, err, errlen)
        || strip_url("SINCH_BASE_URL", b->base_url, err, errlen))
        return -1;
    if (setting_str("SINCH_AUTH_METHOD", method, sizeof method, err, errlen)) return -1;
    if (!strcasecmp(method, "oauth") || !strcasecmp(method, "oauth2")) {
        b->oauth = true;
    } else if (strcasecmp(method, "basic")) {
        str_fmt(err, errlen, "SINCH_AUTH_METHOD must be basic or oauth");
        return -1;
    }
    if (setting_str("SINCH_AUTH_URL", b->auth_url, sizeof b->auth_url, err, errlen)
        || strip_url("SINCH_AUTH_URL", b->auth_url, err, errlen))
        return -1;

    const char *u = env_nonempty("SINCH_WEBHOOK_USER"), *p = env_nonempty("SINCH_WEBHOOK_PASSWORD");
    if (!u) u = env_nonempty("SINCH_INBOUND_BASIC_USER");
    if (!p) p = env_nonempty("SINCH_INBOUND_BASIC_PASS");
    if (u || p) {
        if (!u || !p) {
            str_fmt(err, errlen, "set both SINCH_WEBHOOK_USER and SINCH_WEBHOOK_PASSWORD (or both "
                                 "SINCH_INBOUND_BASIC_USER and SINCH_INBOUND_BASIC_PASS), not only one");
            return -1;
        }
        if (strchr(u, ':')) {
            str_fmt(err, errlen, "SINCH_WEBHOOK_USER must not contain ':' (HTTP Basic splits on it)");
            return -1;
        }
        if (str_copy(b->hook_user, sizeof b->hook_user, u) || str_copy(b->hook_pass, sizeof b->hook_pass, p)) {
            str_fmt(err, errlen, "SINCH_WEBHOOK_USER / SINCH_WEBHOOK_PASSWORD are too long");
            return -1;
        }
        b->hook_configured = true;
    } else if (b->secret[0]) {
        derive_hook_password(b);
    }

    char ctype[32];
    if (setting_str("SINCH_CALLBACK_CONTENT_TYPE", ctype, sizeof ctype, err, errlen)) return -1;
    if (!strcasecmp(ctype, "json") || !strcasecmp(ctype, "application/json")) {
        b->callback_json = true;
    } else if (!strcasecmp(ctype, "multipart") || !strcasecmp(ctype, "multipart/form-data")) {
        b->callback_json = false;
    } else {
        str_fmt(err, errlen, "SINCH_CALLBACK_CONTENT_TYPE must be json or multipart");
        return -1;
    }
    if (setting_int("SINCH_MAX_RETRIES", &b->max_retries, err, errlen)
        || setting_int("SINCH_HTTP_TIMEOUT_SECONDS", &b->timeout_s, err, errlen))
        return -1;
    return 0;
}

/* What is missing before a fax can be sent; 0 if nothing. */
static int config_problem(const backend *b, char *msg, size_t msglen)
{
    char missing[200] = "";
    if (!b->project_id[0]) str_fmt(missing + strlen(missing), sizeof missing - strlen(missing), "SINCH_PROJECT_ID, ");
    if (!b->key[0]) str_fmt(missing + strlen(missing), sizeof missing - strlen(missing), "SINCH_API_KEY, ");
    if (!b->secret[0]) str_fmt(missing + strlen(missing), sizeof missing - strlen(missing), "SINCH_API_SECRET, ");
    if (missing[0]) {
        missing[strlen(missing) - 2] = 0;
        str_fmt(msg, msglen, "Sinch is not configured: %s not set (the project id and an access key id/secret "
                             "from the Sinch dashboard, Settings > Access keys; PHAXIO_API_KEY/PHAXIO_API_SECRET "
                             "are used when the SINCH_ ones are empty)", missing);
        return -1;
    }
    return 0;
}

static backend *sinch_create(const struct config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    b->sink = sink;
    if (read_settings(b, err, errlen)) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->token_lock, NULL);
    if (cfg) {
        str_copy(b->data_dir, sizeof b->data_dir, cfg->data_dir);
        str_copy(b->public_url, sizeof b->public_url, cfg->public_api_url);
        b->inbound_enabled = cfg->inbound_enabled;
    }
    return b;
}

static void sinch_destroy(backend *b)
{
    if (!b) return;
    pthread_mutex_destroy(&b->token_lock);
    memset(b->secret, 0, sizeof b->secret);
    memset(b->token, 0, sizeof b->token);
    free(b);
}

static int sinch_check(backend *b, char *msg, size_t msglen)
{
    if (config_problem(b, msg, msglen)) return -1;
    if (b->inbound_enabled && !b->hook_configured) {
        str_fmt(msg, msglen, "INBOUND_ENABLED is true but SINCH_WEBHOOK_USER / SINCH_WEBHOOK_PASSWORD are not set: "
                             "Sinch does not sign fax webhooks, so /sinch-inbound needs HTTP Basic credentials "
                             "(put them in the service's incomingWebhookUrl as https://user:pass@host/sinch-inbound)");
        return -1;
    }
    str_fmt(msg, msglen, "Sinch Fax API v3 at %s, project %s, %s auth (%s)%s", b->base_url, b->project_id,
            b->oauth ? "OAuth2" : "HTTP Basic", b->key_var,
            b->public_url[0] ? "; FAX_COMPLETED webhooks to PUBLIC_API_URL/sinch-callback"
                             : "; PUBLIC_API_URL is not set, so results are learned by polling "
                               "(every FAX_LEASE_SECONDS) instead of webhooks");
    return 0;
}

/* ---- auth ---- */

/* A bearer token for the API (OAuth): the cached one, or a fresh one when forced or
 * expired. used = the token a request was just refused with ("" if none): a forced
 * refresh is skipped when another thread has replaced it meanwhile. 0, or -1 with
 * *status = the token endpoint's HTTP status (0 = no answer) and err. */
static int get_token(backend *b, const char *used, char *out, size_t outlen, long *status, char *err, size_t errlen)
{
    *status = 0;
    pthread_mutex_lock(&b->token_lock);
    bool fresh = b->token[0] && mono_ms() < b->token_valid_until;
    if (fresh && (!used || !used[0] || strcmp(used, b->token))) {
        str_copy(out, outlen, b->token);
        pthread_mutex_unlock(&b->token_lock);
        return 0;
    }
    static const char body[] = "grant_type=client_credentials";
    cloud_http_req rq = { .method = "POST", .url = b->auth_url, .user = b->key, .password = b->secret,
                          .content_type = "application/x-www-form-urlencoded", .body = body,
                          .body_len = sizeof body - 1, .timeout_s = 30 };
    cloud_http_res rs;
    int rc = -1;
    if (cloud_http(&rq, &rs)) {
        str_fmt(err, errlen, "could not reach the Sinch token endpoint %s: %s", b->auth_url, rs.error);
    } else if (rs.status != 200) {
        *status = rs.status;
        str_fmt(err, errlen, "the Sinch token endpoint answered HTTP %ld%s", rs.status,
                rs.status == 401 || rs.status == 403 ? ": the access key id/secret were rejected" : "");
    } else {
        *status = rs.status;
        json_t *o = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, NULL);
        json_t *tok = json_object_get(o, "access_token");
        json_t *exp = json_object_get(o, "expires_in");
        if (json_is_string(tok) && json_string_length(tok) > 0 && json_string_length(tok) < sizeof b->token) {
            long long secs = json_is_integer(exp) ? json_integer_value(exp) : 3600;
            if (secs < 1) secs = 1;
            long long margin = secs > 120 ? 60 : secs / 2;   /* renew ~60 s before it expires */
            str_copy(b->token, sizeof b->token, json_string_value(tok));
            b->token_valid_until = mono_ms() + (secs - margin) * 1000;
            str_copy(out, outlen, b->token);
            rc = 0;
            log_debug("sinch: new OAuth token, valid %lld s", secs);
        } else {
            str_fmt(err, errlen, "the Sinch token endpoint's answer has no access_token");
        }
        json_decref(o);
    }
    cloud_http_res_free(&rs);
    pthread_mutex_unlock(&b->token_lock);
    return rc;
}

/* One authenticated API call. 0 = the API answered (rs), -1 = no answer (rs->error,
 * rs->maybe_sent), -2 = no token (rs->status = the token endpoint's status, err). */
static int sinch_call(backend *b, cloud_http_req *rq, cloud_http_res *rs, char *err, size_t errlen)
{
    if (!rq->timeout_s) rq->timeout_s = b->timeout_s;
    if (!b->oauth) {
        rq->user = b->key;
        rq->password = b->secret;
        int rc = cloud_http(rq, rs);
        if (rc) str_copy(err, errlen, rs->error);
        return rc;
    }
    char *token = malloc(sizeof b->token);
    if (!token) {
        memset(rs, 0, sizeof *rs);
        str_copy(err, errlen, "out of memory");
        return -1;
    }
    long tstatus = 0;
    int rc;
    if (get_token(b, "", token, sizeof b->token, &tstatus, err, errlen)) {
        memset(rs, 0, sizeof *rs);
        rs->status = tstatus;
        rc = -2;
        goto out;
    }
    rq->bearer = token;
    rc = cloud_http(rq, rs);
    if (rc == 0 && rs->status == 401) {   /* expired or revoked early: one fresh token, one retry */
        char *used = strdup(token);
        if (used && get_token(b, used, token, sizeof b->token, &tstatus, err, errlen) == 0) {
            cloud_http_res_free(rs);
            rc = cloud_http(rq, rs);
        }
        free(used);
    }
    if (rc == -1) str_copy(err, errlen, rs->error);
out:
    free(token);
    return rc;
}

/* ---- reporting ---- */

static void report_accepted(backend *b, const backend_job *job, const char *sid)
{
    backend_outcome o = outcome_accepted(job->attempt, sid);
    b->sink.report(b->sink.ctx, job->job_id, &o);
}

/* Applies what Sinch says about the fax of this attempt. */
static report_verdict apply_fax(backend *b, const char *job_id, int attempt, const sinch_fax *f)
{
    cloud_verdict v;
    sinch_verdict(f, &v);
    return cloud_report(&b->sink, job_id, attempt, f->id, &v, f->pages, NULL);
}

static void fail_now(backend *b, const backend_job *job, const char *reason, bool transient, const char *message)
{
    cloud_fail(&b->sink, job->job_id, job->attempt, reason, transient, message);
}

/* ---- finding our fax at Sinch ---- */

static void iso_day(int64_t ms, char out[16])
{
    char iso[32];
    iso8601_from_ms(ms, iso);
    str_fmt(out, 16, "%.10s", iso);
}

/* Looks up the fax of this job's attempt by its labels. 1 found (*f), 0 Sinch has
 * none, -1 could not tell (err). */
static int find_by_label(backend *b, const backend_job *job, sinch_fax *f, char *err, size_t errlen)
{
    strbuf url;
    sb_init(&url);
    char day[16];
    int64_t since = job->submitted_at > 0 ? job->submitted_at : now_ms();
    iso_day(since - 86400000LL, day);   /* a day of slack for clock and time-zone differences */
    sb_appendf(&url, "%s/projects/", b->base_url);
    cloud_url_encode(&url, b->project_id);
    sb_appendf(&url, "/faxes?direction=OUTBOUND&pageSize=%d&createTime%%3E=%s&labels%%5B%s%%5D=", SINCH_LIST_MAX, day,
               SINCH_LABEL_JOB);
    cloud_url_encode(&url, job->job_id);
    if (job->to && job->to[0]) {
        sb_puts(&url, "&to=");
        cloud_url_encode(&url, job->to);
    }
    cloud_http_req rq = { .method = "GET", .url = url.data };
    cloud_http_res rs;
    memset(&rs, 0, sizeof rs);
    int found = -1;
    int rc = url.data ? sinch_call(b, &rq, &rs, err, errlen) : -1;
    if (rc == 0 && rs.status == 200) {
        sinch_fax *list = calloc(SINCH_LIST_MAX, sizeof *list);
        int total = 0;
        int n = list ? sinch_parse_fax_list(rs.body.data ? rs.body.data : "", rs.body.len, list, SINCH_LIST_MAX,
                                            &total, err, errlen)
                     : -1;
        if (n >= 0) {
            found = 0;
            for (int i = 0; i < n; i++) {
                if (strcmp(list[i].label_job_id, job->job_id)) continue;   /* the filter is only a hint */
                if (list[i].label_attempt > 0 && list[i].label_attempt != job->attempt) continue;
                *f = list[i];
                found = 1;
                if (list[i].label_attempt == job->attempt) break;   /* an exact match wins */
            }
        }
        free(list);
    } else if (rc == 0) {
        char detail[200];
        sinch_error_text(rs.body.data, rs.body.len, detail, sizeof detail, NULL);
        str_fmt(err, errlen, "listing faxes answered HTTP %ld %s", rs.status, detail);
    }
    cloud_http_res_free(&rs);
    sb_free(&url);
    return found;
}

/* ---- sending ---- */

typedef struct {
    const backend *b;
    const backend_job *job;
    const char *callback_url;
} mime_ctx;

static int add_field(curl_mime *m, const char *name, const char *value)
{
    curl_mimepart *p = curl_mime_addpart(m);
    return p && curl_mime_name(p, name) == CURLE_OK && curl_mime_data(p, value, CURL_ZERO_TERMINATED) == CURLE_OK
           ? 0 : -1;
}

/* headerText is at most 50 characters: cut there, never inside a UTF-8 sequence. */
static void header_text(const char *in, char *out, size_t outlen)
{
    str_copy(out, outlen, in ? in : "");
    size_t n = strlen(out);
    if (n > SINCH_HEADER_MAX) {
        n = SINCH_HEADER_MAX;
        while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80) n--;
        out[n] = 0;
    }
}

static void *build_mime(void *h, void *ctx)
{
    mime_ctx *c = ctx;
    const backend_job *job = c->job;
    curl_mime *m = curl_mime_init(h);
    if (!m) return NULL;
    char name[64], value[64], header[SINCH_HEADER_MAX + 8];
    int bad = add_field(m, "to", job->to);
    curl_mimepart *file = curl_mime_addpart(m);
    str_fmt(value, sizeof value, "%s.pdf", job->job_id);
    bad |= !file || curl_mime_name(file, "file") != CURLE_OK || curl_mime_filedata(file, job->pdf_path) != CURLE_OK
           || curl_mime_filename(file, value) != CURLE_OK || curl_mime_type(file, "application/pdf") != CURLE_OK;
    if (job->caller_id && job->caller_id[0]) bad |= add_field(m, "from", job->caller_id);
    header_text(job->header_text, header, sizeof header);
    if (header[0]) bad |= add_field(m, "headerText", header);
    if (c->callback_url) {
        bad |= add_field(m, "callbackUrl", c->callback_url);
        bad |= add_field(m, "callbackUrlContentType", c->b->callback_json ? "application/json" : "multipart/form-data");
    }
    str_fmt(name, sizeof name, "labels[%s]", SINCH_LABEL_JOB);
    bad |= add_field(m, name, job->job_id);
    str_fmt(name, sizeof name, "labels[%s]", SINCH_LABEL_ATTEMPT);
    str_fmt(value, sizeof value, "%d", job->attempt);
    bad |= add_field(m, name, value);
    str_fmt(value, sizeof value, "%ld", c->b->max_retries);
    bad |= add_field(m, "maxRetries", value);
    if (bad) {
        curl_mime_free(m);
        return NULL;
    }
    return m;
}

/* PUBLIC_API_URL with the webhook credentials as userinfo + /sinch-callback?job_id=…&attempt=… */
static char *callback_url(const backend *b, const backend_job *job)
{
    if (!b->public_url[0]) return NULL;
    strbuf sb;
    sb_init(&sb);
    const char *rest = strstr(b->public_url, "://");
    rest = rest ? rest + 3 : b->public_url;
    sb_append(&sb, b->public_url, (size_t)(rest - b->public_url));
    if (b->hook_user[0]) {
        cloud_url_encode(&sb, b->hook_user);
        sb_puts(&sb, ":");
        cloud_url_encode(&sb, b->hook_pass);
        sb_puts(&sb, "@");
    }
    sb_appendf(&sb, "%s/sinch-callback?job_id=%s&attempt=%d", rest, job->job_id, job->attempt);
    return sb_steal(&sb);
}

/* The request may have created the fax although we got no usable answer: look. */
static void settle_unclear(backend *b, const backend_job *job, const char *what)
{
    sinch_fax f;
    char err[256] = "", msg[400];
    int found = find_by_label(b, job, &f, err, sizeof err);
    if (found == 1) {
        log_info("sinch: job %s: %s, but Sinch has the fax (%s); following it", job->job_id, what, f.id);
        apply_fax(b, job->job_id, job->attempt, &f);
        return;
    }
    if (found < 0)
        log_warn("sinch: job %s: %s and the fax list could not be checked (%s); sending again may make a second fax",
                 job->job_id, what, err);
    str_fmt(msg, sizeof msg, "Sinch: %s", what);
    fail_now(b, job, "network_error", true, msg);
}

static int sinch_submit(backend *b, const backend_job *job)
{
    char msg[600], err[300] = "";
    if (config_problem(b, msg, sizeof msg)) {
        fail_now(b, job, "provider_error", false, msg);
        return -1;
    }
    if (!job->pdf_path || access(job->pdf_path, R_OK) != 0) {
        fail_now(b, job, "file_error", false, "the job's PDF is missing or unreadable");
        return -1;
    }
    char *cb = callback_url(b, job);
    mime_ctx mc = { b, job, cb };
    strbuf url;
    sb_init(&url);
    sb_appendf(&url, "%s/projects/", b->base_url);
    cloud_url_encode(&url, b->project_id);
    sb_puts(&url, "/faxes");
    cloud_http_req rq = { .method = "POST", .url = url.data, .mime_build = build_mime, .mime_ctx = &mc };
    cloud_http_res rs;
    char masked[40];
    mask_phone(job->to, masked, sizeof masked);
    int rc = sinch_call(b, &rq, &rs, err, sizeof err);
    int ret = 0;
    if (rc == -2) {
        bool rejected = rs.status == 401 || rs.status == 403 || (rs.status >= 400 && rs.status < 500);
        str_fmt(msg, sizeof msg, "Sinch OAuth: %s", err);
        fail_now(b, job, rejected ? "provider_error" : "network_error", !rejected, msg);
        ret = -1;
    } else if (rc == -1) {
        str_fmt(msg, sizeof msg, "no answer from %s (%s)", b->base_url, err);
        if (rs.maybe_sent) settle_unclear(b, job, msg);
        else fail_now(b, job, "network_error", true, msg);
        ret = -1;
    } else if (rs.status >= 200 && rs.status < 300) {
        sinch_fax f;
        if (sinch_parse_fax(rs.body.data ? rs.body.data : "", rs.body.len, &f, err, sizeof err) == 0) {
            log_info("sinch: job %s attempt %d to %s: fax %s %s", job->job_id, job->attempt, masked, f.id, f.status);
            apply_fax(b, job->job_id, job->attempt, &f);
        } else {
            str_fmt(msg, sizeof msg, "Sinch accepted the fax but its answer was unreadable (%s)", err);
            settle_unclear(b, job, msg);
        }
    } else if (rs.status >= 500 || rs.status == 429) {
        char detail[300];
        sinch_error_text(rs.body.data, rs.body.len, detail, sizeof detail, NULL);
        str_fmt(msg, sizeof msg, "Sinch answered HTTP %ld%s%s", rs.status, detail[0] ? ": " : "", detail);
        if (rs.status >= 500) {
            settle_unclear(b, job, msg);
        } else {
            fail_now(b, job, "provider_error", true, msg);
        }
        ret = -1;
    } else {
        char detail[300];
        bool bad_to = false;
        sinch_error_text(rs.body.data, rs.body.len, detail, sizeof detail, &bad_to);
        const char *hint = rs.status == 401 || rs.status == 403
                               ? " (the access key was rejected: check SINCH_API_KEY, SINCH_API_SECRET and SINCH_PROJECT_ID)"
                           : rs.status == 402 ? " (the Sinch account has no balance left)"
                           : rs.status == 404 ? " (no such project: check SINCH_PROJECT_ID and SINCH_BASE_URL)"
                                              : "";
        str_fmt(msg, sizeof msg, "Sinch refused the fax: HTTP %ld%s%s%s", rs.status, detail[0] ? ": " : "", detail,
                hint);
        fail_now(b, job, bad_to ? "invalid_number" : "provider_error", false, msg);
        ret = -1;
    }
    cloud_http_res_free(&rs);
    sb_free(&url);
    free(cb);
    return ret;
}

/* ---- resume: what became of an attempt whose result we do not know ---- */

static int sinch_resume(backend *b, const backend_job *job)
{
    const char *sid = job->provider_sid ? job->provider_sid : "";
    char err[300] = "";
    if (!sid[0]) {
        sinch_fax f;
        int found = find_by_label(b, job, &f, err, sizeof err);
        if (found == 0) {
            log_info("sinch: job %s attempt %d never reached Sinch; it will be sent again", job->job_id, job->attempt);
            return -1;
        }
        if (found == 1) apply_fax(b, job->job_id, job->attempt, &f);
        else {
            log_warn("sinch: job %s: could not look the fax up (%s); asking again later", job->job_id, err);
            report_accepted(b, job, NULL);
        }
        return 0;
    }
    strbuf url;
    sb_init(&url);
    sb_appendf(&url, "%s/projects/", b->base_url);
    cloud_url_encode(&url, b->project_id);
    sb_puts(&url, "/faxes/");
    cloud_url_encode(&url, sid);
    cloud_http_req rq = { .method = "GET", .url = url.data };
    cloud_http_res rs;
    int rc = sinch_call(b, &rq, &rs, err, sizeof err);
    int ret = 0;
    sinch_fax f;
    if (rc == 0 && rs.status == 200
        && sinch_parse_fax(rs.body.data ? rs.body.data : "", rs.body.len, &f, err, sizeof err) == 0) {
        apply_fax(b, job->job_id, job->attempt, &f);
    } else if (rc == 0 && rs.status == 404) {
        log_info("sinch: job %s: Sinch has no fax %s; it will be sent again", job->job_id, sid);
        ret = -1;
    } else {
        if (rc == 0 && !err[0]) str_fmt(err, sizeof err, "HTTP %ld", rs.status);
        log_warn("sinch: job %s: could not read fax %s (%s); asking again later", job->job_id, sid, err);
        report_accepted(b, job, sid);
    }
    cloud_http_res_free(&rs);
    sb_free(&url);
    return ret;
}

/* ---- diagnostics: a real authenticated call ---- */

/* The number of services the project has, from a 200 answer. */
static void count_services(json_t *o, const cloud_http_res *rs)
{
    json_t *body = json_loadb(rs->body.data ? rs->body.data : "", rs->body.len, 0, NULL);
    json_t *items = json_object_get(body, "totalItems");
    json_t *services = json_object_get(body, "services");
    if (json_is_integer(items)) json_object_set(o, "services", items);
    else if (json_is_array(services)) json_object_set_new(o, "services", json_integer((json_int_t)json_array_size(services)));
    json_decref(body);
}

static int sinch_diagnose(backend *b, json_t *o)
{
    char msg[600], err[300] = "";
    int ret = -1;
    json_object_set_new(o, "auth_method", json_string(b->oauth ? "oauth" : "basic"));
    json_object_set_new(o, "base_url", json_string(b->base_url));
    json_object_set_new(o, "webhook_auth", json_string(b->hook_configured ? "configured" : b->hook_user[0] ? "derived" : "none"));
    if (config_problem(b, msg, sizeof msg)) {
        cloud_diag_missing(o, msg);
        return -1;
    }
    strbuf url;
    sb_init(&url);
    sb_appendf(&url, "%s/projects/", b->base_url);
    cloud_url_encode(&url, b->project_id);
    sb_puts(&url, "/services?pageSize=1");
    cloud_http_req rq = { .method = "GET", .url = url.data, .timeout_s = 20 };
    cloud_http_res rs;
    int rc = sinch_call(b, &rq, &rs, err, sizeof err);
    if (rc == -2) {
        bool reached = rs.status != 0;
        json_object_set_new(o, "credentials", json_string(reached ? "rejected" : "unknown"));
        json_object_set_new(o, "oauth_token", json_string(reached ? "rejected" : "unreachable"));
        json_object_set_new(o, "api_reachable", json_boolean(false));
        if (rs.status) json_object_set_new(o, "http_status", json_integer(rs.status));
        json_object_set_new(o, "detail", json_string(err));
    } else if (rc == -1) {
        cloud_diag_unreachable(o, b->base_url, err);
    } else {
        if (b->oauth) json_object_set_new(o, "oauth_token", json_string("ok"));
        char complaint[300];
        sinch_error_text(rs.body.data, rs.body.len, complaint, sizeof complaint, NULL);
        if (cloud_diag_answer(o, &rs, "GET /projects/{id}/services", complaint, "check SINCH_API_KEY / SINCH_API_SECRET",
                              "check SINCH_PROJECT_ID")) {
            count_services(o, &rs);
            ret = 0;
        }
    }
    cloud_http_res_free(&rs);
    sb_free(&url);
    return ret;
}

/* ---- webhooks ---- */


static bool authorized(backend *b, const webhook_request *req, webhook_response *res)
{
    if (!b->hook_user[0]) {
        webhook_reply_detail(res, 401, "Sinch webhooks are not accepted: set SINCH_WEBHOOK_USER and SINCH_WEBHOOK_PASSWORD");
        return false;
    }
    if (!cloud_basic_auth_ok(req->header(req, "Authorization"), b->hook_user, b->hook_pass)) {
        log_warn("sinch: webhook %s from %s refused: missing or wrong HTTP Basic credentials", req->path,
                 req->client_ip ? req->client_ip : "?");
        webhook_reply_detail(res, 401, "Invalid or missing webhook credentials (HTTP Basic)");
        return false;
    }
    return true;
}

static void sinch_callback(backend *b, const webhook_request *req, webhook_response *res)
{
    if (!authorized(b, req, res)) return;
    sinch_event ev;
    char err[300];
    if (sinch_parse_event(req->content_type, req->body, req->body_len, false, &ev, err, sizeof err)) {
        sinch_event_free(&ev);
        webhook_reply_detail(res, 400, err);
        return;
    }
    const char *job_id = req->query_param(req, "job_id");
    if (!job_id || !*job_id) job_id = ev.fax.label_job_id;
    int attempt = cloud_query_attempt(req);
    if (!attempt) attempt = ev.fax.label_attempt;
    if (strcasecmp(ev.event, "FAX_COMPLETED") || !ev.has_fax) {
        webhook_reply(res, 200, "status", "ignored");
    } else if (!cloud_is_job_id(job_id)) {
        webhook_reply(res, 200, "status", "no job_id provided");
    } else {
        char id[33];
        str_copy(id, sizeof id, job_id);
        apply_fax(b, id, attempt, &ev.fax);
    }
    sinch_event_free(&ev);
}

static void sinch_inbound(backend *b, const webhook_request *req, webhook_response *res)
{
    if (!b->inbound_enabled) {
        webhook_reply_detail(res, 404, "Inbound not enabled");
        return;
    }
    if (!b->hook_configured) {
        webhook_reply_detail(res, 401, "Inbound Sinch webhooks need SINCH_WEBHOOK_USER and SINCH_WEBHOOK_PASSWORD");
        return;
    }
    if (!authorized(b, req, res)) return;
    sinch_event ev;
    char err[300], path[1200], inbound_id[33] = "";
    if (sinch_parse_event(req->content_type, req->body, req->body_len, true, &ev, err, sizeof err)) {
        sinch_event_free(&ev);
        webhook_reply_detail(res, 400, err);
        return;
    }
    if (strcasecmp(ev.event, "INCOMING_FAX")) {
        webhook_reply(res, 200, "status", "ignored");
    } else if (!ev.has_fax || !ev.fax.id[0]) {
        webhook_reply_detail(res, 400, "the INCOMING_FAX event has no fax id");
    } else if (!ev.file || !ev.file_len) {
        webhook_reply_detail(res, 400, "the INCOMING_FAX event carries no document ('file')");
    } else {
        const char *kind = cloud_doc_kind(ev.file, ev.file_len);
        if (!kind) {
            webhook_reply_detail(res, 400, "the received document is neither a PDF nor a TIFF");
        } else if (cloud_write_temp(b->data_dir, ev.file, ev.file_len, path, sizeof path, err, sizeof err)) {
            webhook_reply_detail(res, 500, err);
        } else {
            inbound_delivery d = { .provider_sid = ev.fax.id, .from_number = ev.fax.from, .to_number = ev.fax.to,
                                   .remote_station_id = NULL, .file_path = path, .file_type = kind, .move = true };
            if (b->sink.receive(b->sink.ctx, &d, inbound_id, err, sizeof err)) {
                unlink(path);
                log_warn("sinch: inbound fax %s not stored: %s", ev.fax.id, err);
                webhook_reply_detail(res, 500, err);
            } else {
                unlink(path);   /* moved already, unless the fax was a replay */
                char masked[40];
                mask_phone(ev.fax.from, masked, sizeof masked);
                log_info("sinch: inbound fax %s from %s stored as %s", ev.fax.id, masked, inbound_id);
                res->status = 200;
                str_fmt(res->body, sizeof res->body, "{\"status\":\"ok\",\"inbound_id\":\"%s\"}", inbound_id);
            }
        }
    }
    sinch_event_free(&ev);
}

#define SINCH_WEBHOOK_MAX_BODY (64u * 1024 * 1024)   /* the document comes along (base64 in JSON) */

static const backend_webhook sinch_webhooks[] = {
    { "POST", "/sinch-callback", SINCH_WEBHOOK_MAX_BODY, sinch_callback },
    { "POST", "/sinch-inbound", SINCH_WEBHOOK_MAX_BODY, sinch_inbound },
};

static const setting_def sinch_settings[] = {
    SETTING_ROW_STR("sinch", "SINCH_PROJECT_ID", "", "Sinch Fax API path", "project id"),
    SETTING_ROW_SECRET("sinch", "SINCH_API_KEY", "Sinch auth", "access key id (else PHAXIO_API_KEY)"),
    SETTING_ROW_SECRET("sinch", "SINCH_API_SECRET", "Sinch auth", "access key secret (else PHAXIO_API_SECRET)"),
    SETTING_ROW_STR("sinch", "SINCH_BASE_URL", SINCH_DEFAULT_BASE, "Sinch Fax API base", "region URL"),
    SETTING_ROW_ENUM("sinch", "SINCH_AUTH_METHOD", "basic", "basic|oauth|oauth2", "Sinch auth", "basic or oauth"),
    SETTING_ROW_STR("sinch", "SINCH_AUTH_URL", SINCH_DEFAULT_AUTH, "Sinch OAuth token URL", "token endpoint"),
    SETTING_ROW_STR("sinch", "SINCH_WEBHOOK_USER", "", "webhook Basic auth", "user for our webhooks"),
    SETTING_ROW_SECRET("sinch", "SINCH_WEBHOOK_PASSWORD", "webhook Basic auth", "password for our webhooks"),
    SETTING_ROW_STR("sinch", "SINCH_INBOUND_BASIC_USER", "", "webhook Basic auth", "Faxbot's name of SINCH_WEBHOOK_USER"),
    SETTING_ROW_SECRET("sinch", "SINCH_INBOUND_BASIC_PASS", "webhook Basic auth", "Faxbot's name of SINCH_WEBHOOK_PASSWORD"),
    SETTING_ROW_ENUM("sinch", "SINCH_CALLBACK_CONTENT_TYPE", "json", "json|application/json|multipart|multipart/form-data", "callbackContentType", "json or multipart"),
    SETTING_ROW_INT("sinch", "SINCH_MAX_RETRIES", "0", 0, 5, "Sinch retries", "provider retries"),
    SETTING_ROW_INT("sinch", "SINCH_HTTP_TIMEOUT_SECONDS", "60", 5, 600, "HTTP client", "seconds"),
    SETTING_END,
};

const backend_ops backend_sinch_ops = {
    .name = "sinch",
    .needs_tiff = false,
    .create = sinch_create,
    .submit = sinch_submit,
    .check = sinch_check,
    .destroy = sinch_destroy,
    .async = true,
    .resume = sinch_resume,
    .diagnose = sinch_diagnose,
    .webhooks = sinch_webhooks,
    .n_webhooks = 2,
    .settings = sinch_settings,
};
