/* backend_signalwire.c — the "signalwire" backend: faxes go out through SignalWire's
 * Compatibility ("LaML", Twilio-style) REST API, which fetches the PDF from our
 * tokenized URL (MediaUrl) and reports to /signalwire-callback (StatusCallback),
 * signed Twilio-style in X-SignalWire-Signature. A late or lost callback is made up
 * for by polling the fax (resume). docs/internals/protocols.md §3.
 *
 * Settings (read once in create):
 *   SIGNALWIRE_SPACE_URL            example.signalwire.com (https:// is added) or a full URL
 *   SIGNALWIRE_PROJECT_ID           project id = AccountSid (required)
 *   SIGNALWIRE_API_TOKEN            API token (required; needs the Fax scope)
 *   SIGNALWIRE_FAX_FROM_E164        From (sent when set)
 *   SIGNALWIRE_WEBHOOK_SIGNING_KEY  the project's Signing Key (dashboard > API); SignalWire
 *                                   signs webhooks with it. Unset: the API token is tried.
 *   SIGNALWIRE_STATUS_CALLBACK_URL  (alias SIGNALWIRE_CALLBACK_URL) public URL of our
 *                                   /signalwire-callback when it differs from
 *                                   PUBLIC_API_URL/signalwire-callback (proxies)
 *   SIGNALWIRE_HTTP_TIMEOUT_SECONDS per request, default 30
 * PUBLIC_API_URL is required: SignalWire downloads the PDF from it. */
#include "backend/backend.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/cloud_util.h"
#include "backend/signalwire_parse.h"
#include "backend/twilio_sig.h"
#include "config/config.h"

#define SW_API_PATH "/api/laml/2010-04-01/Accounts/"
#define SW_LIST_MAX 100
#define SW_LIST_PAGES 5

struct backend {
    backend_sink sink;
    char public_url[512];
    char space_url[512];         /* scheme://host[:port], no trailing slash */
    char project_id[128];
    char token[256];
    char from[40];
    char signing_key[256];
    char callback_base[512];     /* where StatusCallback points, without query */
    char callback_query[512];    /* the query part of SIGNALWIRE_STATUS_CALLBACK_URL ("" usually) */
    bool custom_callback;        /* SIGNALWIRE_STATUS_CALLBACK_URL is set */
    long timeout_s;
};

/* ---- settings ---- */

static int read_settings(backend *b, const struct config *cfg, char *err, size_t errlen)
{
    char space[512];
    if (setting_str("SIGNALWIRE_SPACE_URL", space, sizeof space, err, errlen)
        || setting_str("SIGNALWIRE_PROJECT_ID", b->project_id, sizeof b->project_id, err, errlen)
        || setting_str("SIGNALWIRE_API_TOKEN", b->token, sizeof b->token, err, errlen)
        || setting_str("SIGNALWIRE_FAX_FROM_E164", b->from, sizeof b->from, err, errlen)
        || setting_str("SIGNALWIRE_WEBHOOK_SIGNING_KEY", b->signing_key, sizeof b->signing_key, err, errlen)
        || setting_int("SIGNALWIRE_HTTP_TIMEOUT_SECONDS", &b->timeout_s, err, errlen))
        return -1;
    size_t n = strlen(space);
    while (n && space[n - 1] == '/') space[--n] = 0;
    if (n) {
        bool has_scheme = !strncmp(space, "http://", 7) || !strncmp(space, "https://", 8);
        if (strstr(space, "://") && !has_scheme) {
            str_fmt(err, errlen, "SIGNALWIRE_SPACE_URL must be a host name (example.signalwire.com) or an http(s):// URL");
            return -1;
        }
        const char *host = has_scheme ? strstr(space, "://") + 3 : space;
        if (!*host || strpbrk(host, " \t?#@")) {
            str_fmt(err, errlen, "SIGNALWIRE_SPACE_URL must be a host name like example.signalwire.com");
            return -1;
        }
        str_fmt(b->space_url, sizeof b->space_url, "%s%s", has_scheme ? "" : "https://", space);
    }
    if (b->from[0] && b->from[0] != '+') {
        str_fmt(err, errlen, "SIGNALWIRE_FAX_FROM_E164 must be an E.164 number starting with + (e.g. +15551234567)");
        return -1;
    }

    char cb[512] = "";
    const char *v = setting_raw("SIGNALWIRE_STATUS_CALLBACK_URL");
    if (!v) v = setting_raw("SIGNALWIRE_CALLBACK_URL");
    if (v && v[0]) {
        if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
            str_fmt(err, errlen, "SIGNALWIRE_STATUS_CALLBACK_URL must start with http:// or https://");
            return -1;
        }
        str_copy(cb, sizeof cb, v);
        char *q = strchr(cb, '?');
        if (q) {
            *q = 0;
            str_copy(b->callback_query, sizeof b->callback_query, q + 1);
        }
        str_copy(b->callback_base, sizeof b->callback_base, cb);
        b->custom_callback = true;
    } else if (cfg && cfg->public_api_url[0]) {
        str_fmt(b->callback_base, sizeof b->callback_base, "%s/signalwire-callback", cfg->public_api_url);
    }
    return 0;
}

static int config_problem(const backend *b, char *msg, size_t msglen)
{
    char missing[200] = "";
    size_t m = 0;
    if (!b->space_url[0]) m += (size_t)snprintf(missing + m, sizeof missing - m, "SIGNALWIRE_SPACE_URL, ");
    if (!b->project_id[0]) m += (size_t)snprintf(missing + m, sizeof missing - m, "SIGNALWIRE_PROJECT_ID, ");
    if (!b->token[0]) m += (size_t)snprintf(missing + m, sizeof missing - m, "SIGNALWIRE_API_TOKEN, ");
    if (!b->public_url[0]) m += (size_t)snprintf(missing + m, sizeof missing - m, "PUBLIC_API_URL, ");
    if (!m) return 0;
    missing[m - 2] = 0;
    str_fmt(msg, msglen, "SignalWire is not configured: %s not set (the space, project id and an API token with the "
                         "Fax scope from the SignalWire dashboard; PUBLIC_API_URL is the public https URL of this "
                         "server, from which SignalWire downloads the PDF)", missing);
    return -1;
}

static backend *sw_create(const struct config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    b->sink = sink;
    if (cfg) str_copy(b->public_url, sizeof b->public_url, cfg->public_api_url);
    if (read_settings(b, cfg, err, errlen)) {
        free(b);
        return NULL;
    }
    return b;
}

static void sw_destroy(backend *b)
{
    if (!b) return;
    memset(b->token, 0, sizeof b->token);
    memset(b->signing_key, 0, sizeof b->signing_key);
    free(b);
}

static int sw_check(backend *b, char *msg, size_t msglen)
{
    if (config_problem(b, msg, msglen)) return -1;
    str_fmt(msg, msglen, "SignalWire Compatibility fax API at %s, project %s; callbacks to %s verified with %s%s",
            b->space_url, b->project_id, b->callback_base,
            b->signing_key[0] ? "SIGNALWIRE_WEBHOOK_SIGNING_KEY"
                              : "the API token (SIGNALWIRE_WEBHOOK_SIGNING_KEY is not set; SignalWire signs with the "
                                "project's Signing Key, so set it if callbacks are refused)",
            b->from[0] ? "" : "; SIGNALWIRE_FAX_FROM_E164 is not set (SignalWire picks the sender)");
    return 0;
}

/* ---- HTTP ---- */

static int sw_call(backend *b, cloud_http_req *rq, cloud_http_res *rs)
{
    rq->user = b->project_id;
    rq->password = b->token;
    if (!rq->timeout_s) rq->timeout_s = b->timeout_s;
    return cloud_http(rq, rs);
}

static void faxes_url(const backend *b, strbuf *url)
{
    sb_appendf(url, "%s" SW_API_PATH, b->space_url);
    cloud_url_encode(url, b->project_id);
    sb_puts(url, "/Faxes");
}

/* ---- reporting ---- */

static void report_accepted(backend *b, const backend_job *job, const char *sid)
{
    backend_outcome o = outcome_accepted(job->attempt, sid);
    b->sink.report(b->sink.ctx, job->job_id, &o);
}

static report_verdict apply_fax(backend *b, const char *job_id, int attempt, const sw_fax *f)
{
    cloud_verdict v;
    sw_verdict(f, &v);
    return cloud_report(&b->sink, job_id, attempt, f->sid, &v, f->pages, f->remote_station_id);
}

static void fail_now(backend *b, const backend_job *job, const char *reason, bool transient, const char *message)
{
    cloud_fail(&b->sink, job->job_id, job->attempt, reason, transient, message);
}

/* ---- finding our fax at SignalWire ---- */

/* Our MediaUrl is PUBLIC_API_URL/fax/<job>/pdf?token=…&attempt=<n>, or (S3_PRESIGNED_URLS)
 * a presigned S3 URL of …/outbound/<job>/document.pdf?attempt=<n>&X-Amz-…: is this fax ours? */
static bool media_matches(const char *media_url, const char *job_id, int attempt)
{
    char needle[64], object[80];
    str_fmt(needle, sizeof needle, "/fax/%s/pdf", job_id);
    str_fmt(object, sizeof object, "/outbound/%s/document.pdf", job_id);
    if (!strstr(media_url, needle) && !strstr(media_url, object)) return false;
    const char *a = strstr(media_url, "attempt=");
    if (!a) return true;   /* no attempt marker: the job id must do */
    return atoi(a + 8) == attempt;
}

/* 1 found (*f), 0 SignalWire has none, -1 could not tell (err). */
static int find_by_media(backend *b, const backend_job *job, sw_fax *f, char *err, size_t errlen)
{
    char iso[32], after[32];
    int64_t since = job->submitted_at > 0 ? job->submitted_at : now_ms();
    iso8601_from_ms(since - 120000, iso);   /* two minutes of slack for clock differences */
    str_fmt(after, sizeof after, "%.19sZ", iso);
    strbuf url;
    sb_init(&url);
    faxes_url(b, &url);
    sb_appendf(&url, "?PageSize=%d&DateCreatedAfter=", SW_LIST_MAX);
    cloud_url_encode(&url, after);
    if (job->to && job->to[0]) {
        sb_puts(&url, "&To=");
        cloud_url_encode(&url, job->to);
    }
    sw_fax *list = calloc(SW_LIST_MAX, sizeof *list);
    int found = list && url.data ? 0 : -1;
    for (int page = 0; found == 0 && page < SW_LIST_PAGES && url.data; page++) {
        cloud_http_req rq = { .method = "GET", .url = url.data };
        cloud_http_res rs;
        char next[1024] = "";
        if (sw_call(b, &rq, &rs)) {
            str_fmt(err, errlen, "%s", rs.error);
            found = -1;
        } else if (rs.status != 200) {
            char detail[200];
            sw_error_text(rs.body.data, rs.body.len, detail, sizeof detail, NULL);
            str_fmt(err, errlen, "listing faxes answered HTTP %ld %s", rs.status, detail);
            found = -1;
        } else {
            int n = sw_parse_fax_list(rs.body.data ? rs.body.data : "", rs.body.len, list, SW_LIST_MAX, next,
                                      sizeof next, err, errlen);
            if (n < 0) found = -1;
            for (int i = 0; i < n && found == 0; i++) {
                if (list[i].direction[0] && strncasecmp(list[i].direction, "outbound", 8)) continue;
                if (media_matches(list[i].media_url, job->job_id, job->attempt)) {
                    *f = list[i];
                    found = 1;
                }
            }
        }
        cloud_http_res_free(&rs);
        url.len = 0;
        if (found == 0 && next[0] == '/') sb_appendf(&url, "%s%s", b->space_url, next);
        else break;
    }
    free(list);
    sb_free(&url);
    return found;
}

static void settle_unclear(backend *b, const backend_job *job, const char *what)
{
    sw_fax f;
    char err[256] = "", msg[400];
    int found = find_by_media(b, job, &f, err, sizeof err);
    if (found == 1) {
        log_info("signalwire: job %s: %s, but SignalWire has the fax (%s); following it", job->job_id, what, f.sid);
        apply_fax(b, job->job_id, job->attempt, &f);
        return;
    }
    if (found < 0)
        log_warn("signalwire: job %s: %s and the fax list could not be checked (%s); sending again may make a "
                 "second fax", job->job_id, what, err);
    str_fmt(msg, sizeof msg, "SignalWire: %s", what);
    fail_now(b, job, "network_error", true, msg);
}

/* ---- sending ---- */

static void add_param(strbuf *sb, const char *name, const char *value)
{
    if (sb->len) sb_puts(sb, "&");
    sb_puts(sb, name);
    sb_puts(sb, "=");
    cloud_url_encode(sb, value);
}

static int sw_submit(backend *b, const backend_job *job)
{
    char msg[600];
    if (config_problem(b, msg, sizeof msg)) {
        fail_now(b, job, "provider_error", false, msg);
        return -1;
    }
    if (!job->pdf_url || !job->pdf_url[0]) {
        fail_now(b, job, "provider_error", false, "no public PDF URL for SignalWire to fetch (set PUBLIC_API_URL)");
        return -1;
    }
    char *media = NULL, *callback = NULL;
    strbuf tmp;
    sb_init(&tmp);
    if (strstr(job->pdf_url, "attempt="))   /* a presigned URL carries it signed: nothing may be added */
        sb_puts(&tmp, job->pdf_url);
    else
        sb_appendf(&tmp, "%s%sattempt=%d", job->pdf_url, strchr(job->pdf_url, '?') ? "&" : "?", job->attempt);
    media = sb_steal(&tmp);
    sb_appendf(&tmp, "%s?%s%sjob_id=%s&attempt=%d", b->callback_base, b->callback_query,
               b->callback_query[0] ? "&" : "", job->job_id, job->attempt);
    callback = sb_steal(&tmp);

    strbuf form;
    sb_init(&form);
    add_param(&form, "To", job->to);
    if (b->from[0]) add_param(&form, "From", b->from);
    add_param(&form, "MediaUrl", media ? media : job->pdf_url);
    add_param(&form, "Quality", job->fine ? "fine" : "standard");
    add_param(&form, "StatusCallback", callback ? callback : "");
    add_param(&form, "StatusCallbackMethod", "POST");

    strbuf url;
    sb_init(&url);
    faxes_url(b, &url);
    cloud_http_req rq = { .method = "POST", .url = url.data, .content_type = "application/x-www-form-urlencoded",
                          .body = form.data ? form.data : "", .body_len = form.len };
    cloud_http_res rs;
    char masked[40], err[300] = "", detail[300];
    mask_phone(job->to, masked, sizeof masked);
    int ret = 0;
    if (sw_call(b, &rq, &rs)) {
        str_fmt(msg, sizeof msg, "no answer from %s (%s)", b->space_url, rs.error);
        if (rs.maybe_sent) settle_unclear(b, job, msg);
        else fail_now(b, job, "network_error", true, msg);
        ret = -1;
    } else if (rs.status >= 200 && rs.status < 300) {
        sw_fax f;
        if (sw_parse_fax(rs.body.data ? rs.body.data : "", rs.body.len, &f, err, sizeof err) == 0) {
            log_info("signalwire: job %s attempt %d to %s: fax %s %s", job->job_id, job->attempt, masked, f.sid,
                     f.status);
            apply_fax(b, job->job_id, job->attempt, &f);
        } else {
            str_fmt(msg, sizeof msg, "SignalWire accepted the fax but its answer was unreadable (%s)", err);
            settle_unclear(b, job, msg);
        }
    } else {
        int code = -1;
        sw_error_text(rs.body.data, rs.body.len, detail, sizeof detail, &code);
        const char *hint = rs.status == 401 || rs.status == 403
                               ? " (the credentials were rejected: check SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN, "
                                 "and that the token has the Fax scope)"
                           : rs.status == 404 ? " (check SIGNALWIRE_SPACE_URL and SIGNALWIRE_PROJECT_ID)"
                                              : "";
        str_fmt(msg, sizeof msg, "SignalWire %s the fax: HTTP %ld%s%s%s", rs.status >= 500 ? "could not take" : "refused",
                rs.status, detail[0] ? ": " : "", detail, hint);
        if (rs.status >= 500) settle_unclear(b, job, msg);
        else if (rs.status == 429) fail_now(b, job, "provider_error", true, msg);
        else fail_now(b, job, sw_code_is_bad_number(code) ? "invalid_number" : "provider_error", false, msg);
        ret = -1;
    }
    cloud_http_res_free(&rs);
    sb_free(&url);
    sb_free(&form);
    free(media);
    free(callback);
    return ret;
}

/* ---- resume ---- */

static int sw_resume(backend *b, const backend_job *job)
{
    const char *sid = job->provider_sid ? job->provider_sid : "";
    char err[300] = "";
    if (config_problem(b, err, sizeof err)) {
        report_accepted(b, job, sid);
        return 0;
    }
    if (!sid[0]) {
        sw_fax f;
        int found = find_by_media(b, job, &f, err, sizeof err);
        if (found == 0) {
            log_info("signalwire: job %s attempt %d never reached SignalWire; it will be sent again", job->job_id,
                     job->attempt);
            return -1;
        }
        if (found == 1) {
            apply_fax(b, job->job_id, job->attempt, &f);
        } else {
            log_warn("signalwire: job %s: could not look the fax up (%s); asking again later", job->job_id, err);
            report_accepted(b, job, NULL);
        }
        return 0;
    }
    strbuf url;
    sb_init(&url);
    faxes_url(b, &url);
    sb_puts(&url, "/");
    cloud_url_encode(&url, sid);
    cloud_http_req rq = { .method = "GET", .url = url.data };
    cloud_http_res rs;
    int ret = 0;
    sw_fax f;
    if (sw_call(b, &rq, &rs) == 0 && rs.status == 200
        && sw_parse_fax(rs.body.data ? rs.body.data : "", rs.body.len, &f, err, sizeof err) == 0) {
        apply_fax(b, job->job_id, job->attempt, &f);
    } else if (rs.status == 404) {
        log_info("signalwire: job %s: SignalWire has no fax %s; it will be sent again", job->job_id, sid);
        ret = -1;
    } else {
        if (!err[0]) str_fmt(err, sizeof err, "%s", rs.status ? "unexpected answer" : rs.error);
        log_warn("signalwire: job %s: could not read fax %s (HTTP %ld, %s); asking again later", job->job_id, sid,
                 rs.status, err);
        report_accepted(b, job, sid);
    }
    cloud_http_res_free(&rs);
    sb_free(&url);
    return ret;
}

/* ---- diagnostics ---- */

static int sw_diagnose(backend *b, json_t *o)
{
    char msg[600];
    int ret = -1;
    json_object_set_new(o, "space_url", json_string(b->space_url));
    json_object_set_new(o, "webhook_key", json_string(b->signing_key[0] ? "signing_key" : "api_token"));
    if (config_problem(b, msg, sizeof msg)) {
        cloud_diag_missing(o, msg);
        return -1;
    }
    strbuf url;
    sb_init(&url);
    faxes_url(b, &url);
    sb_puts(&url, "?PageSize=1");
    cloud_http_req rq = { .method = "GET", .url = url.data, .timeout_s = 20 };
    cloud_http_res rs;
    if (sw_call(b, &rq, &rs)) {
        cloud_diag_unreachable(o, b->space_url, rs.error);
    } else {
        char complaint[300];
        sw_error_text(rs.body.data, rs.body.len, complaint, sizeof complaint, NULL);
        if (cloud_diag_answer(o, &rs, "GET .../Faxes", complaint,
                              "check SIGNALWIRE_PROJECT_ID / SIGNALWIRE_API_TOKEN and the token's Fax scope",
                              "check SIGNALWIRE_SPACE_URL / SIGNALWIRE_PROJECT_ID"))
            ret = 0;
    }
    cloud_http_res_free(&rs);
    sb_free(&url);
    return ret;
}

/* ---- the StatusCallback webhook ---- */


static void sw_callback(backend *b, const webhook_request *req, webhook_response *res)
{
    const char *sig = req->header(req, "X-SignalWire-Signature");
    if (!sig || !*sig) sig = req->header(req, "X-Twilio-Signature");
    if (!sig || !*sig) {
        webhook_reply_detail(res, 401, "Missing X-SignalWire-Signature");
        return;
    }
    if (req->content_type && strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33)) {
        webhook_reply_detail(res, 400, "expected a form (application/x-www-form-urlencoded) StatusCallback");
        return;
    }
    form_params params;
    if (form_parse(req->body ? req->body : "", req->body_len, &params)) {
        webhook_reply_detail(res, 400, "malformed form body");
        return;
    }
    /* The URL SignalWire called: ours, or the configured public callback URL. */
    char *url = NULL;
    strbuf sb;
    sb_init(&sb);
    if (b->custom_callback)
        sb_appendf(&sb, "%s%s%s", b->callback_base, req->query[0] ? "?" : "", req->query);
    else
        sb_puts(&sb, req->public_url);
    url = sb_steal(&sb);
    const char *key = b->signing_key[0] ? b->signing_key : b->token;
    bool ok = url && twilio_signature_ok(key, url, &params, sig);
    free(url);
    if (!ok) {
        log_warn("signalwire: callback from %s refused: the signature does not match", req->client_ip ? req->client_ip : "?");
        webhook_reply_detail(res, 403, "Invalid signature");
        form_free(&params);
        return;
    }
    sw_fax f;
    sw_fax_from_form(&params, &f);
    form_free(&params);
    const char *job_id = req->query_param(req, "job_id");
    int attempt = cloud_query_attempt(req);
    res->status = 200;
    if (!cloud_is_job_id(job_id)) {
        str_copy(res->body, sizeof res->body, "{\"status\":\"no job_id provided\"}");
        return;
    }
    char id[33];
    str_copy(id, sizeof id, job_id);
    apply_fax(b, id, attempt, &f);
}

static const backend_webhook sw_webhooks[] = {
    { "POST", "/signalwire-callback", 65536, sw_callback, .inbound = false },
};

static const setting_def signalwire_settings[] = {
    SETTING_ROW_STR("signalwire", "SIGNALWIRE_SPACE_URL", "", "API host", "example.signalwire.com"),
    SETTING_ROW_STR("signalwire", "SIGNALWIRE_PROJECT_ID", "", "API basic auth", "project id"),
    SETTING_ROW_SECRET("signalwire", "SIGNALWIRE_API_TOKEN", "API basic auth", "API token"),
    SETTING_ROW_STR("signalwire", "SIGNALWIRE_FAX_FROM_E164", "", "From", "E.164 number"),
    SETTING_ROW_SECRET("signalwire", "SIGNALWIRE_WEBHOOK_SIGNING_KEY", "callback signature check", "signing key"),
    SETTING_ROW_STR("signalwire", "SIGNALWIRE_STATUS_CALLBACK_URL", "", "StatusCallback", "default PUBLIC_API_URL/signalwire-callback"),
    SETTING_ROW_STR("signalwire", "SIGNALWIRE_CALLBACK_URL", "", "StatusCallback", "alias of SIGNALWIRE_STATUS_CALLBACK_URL"),
    SETTING_ROW_INT("signalwire", "SIGNALWIRE_HTTP_TIMEOUT_SECONDS", "30", 5, 600, "HTTP client", "seconds"),
    SETTING_END,
};

const backend_ops backend_signalwire_ops = {
    .name = "signalwire",
    .needs_tiff = false,
    .create = sw_create,
    .submit = sw_submit,
    .check = sw_check,
    .destroy = sw_destroy,
    .async = true,
    .resume = sw_resume,
    .diagnose = sw_diagnose,
    .webhooks = sw_webhooks,
    .n_webhooks = 1,
    .settings = signalwire_settings,
};
