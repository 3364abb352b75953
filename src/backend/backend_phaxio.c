/* backend_phaxio.c — FAX_BACKEND=phaxio: faxes go out through the Phaxio v2.1 REST
 * API (POST /faxes, HTTP Basic); results come back through signed status webhooks
 * (POST /phaxio-callback?job_id=…&attempt=…) and received faxes through
 * POST /phaxio-inbound. The parsing, signing and status mapping live in
 * phaxio_proto.c (pure); this file does the HTTP (through cloud_http), the settings,
 * and the correlation of a webhook to its job and attempt (callback URL, else the
 * fax's tags). Replayed, stale and out-of-order webhooks are refused by the job
 * layer, which knows each job's current attempt and provider fax id.
 *
 * No duplicate faxes: every fax carries tag[faxbot_job]=<job id> and
 * tag[faxbot_attempt]=<n>. A 4xx from Phaxio is final; only transport errors and
 * 5xx are transient — and whenever the request may have reached Phaxio (timeout
 * after sending, 5xx, unreadable 2xx) the faxes are first looked up by tag, so a
 * fax Phaxio did create is followed instead of sent again. resume() does the same
 * lookup after a restart or a late result and returns -1 only for an empty list.
 *
 * Settings (environment, read once in create):
 *   PHAXIO_API_KEY, PHAXIO_API_SECRET   Basic credentials (check() names what is missing)
 *   PHAXIO_API_URL                      default https://api.phaxio.com/v2.1
 *   PHAXIO_CALLBACK_TOKEN               the webhook token that signs X-Phaxio-Signature
 *   PHAXIO_STATUS_CALLBACK_URL (alias PHAXIO_CALLBACK_URL)
 *                                       status callback base; default PUBLIC_API_URL/phaxio-callback
 *   PHAXIO_VERIFY_SIGNATURE             default true (/phaxio-callback)
 *   PHAXIO_INBOUND_VERIFY_SIGNATURE     default true (/phaxio-inbound)
 *   PHAXIO_UPLOAD                       true: upload the PDF as `file` instead of content_url
 *   ENFORCE_PUBLIC_HTTPS                default true: PUBLIC_API_URL must be https (localhost exempt) */
#include "backend/backend.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "backend/cloud_util.h"
#include "backend/phaxio_proto.h"
#include "config/config.h"
#include "util/util.h"

#define PHX_DEFAULT_API_URL "https://api.phaxio.com/v2.1"
#define PHX_HEADER_MAX 50                 /* Phaxio's header_text limit */
#define PHX_SEND_TIMEOUT_S 60
#define PHX_POLL_TIMEOUT_S 20
#define PHX_CONNECT_TIMEOUT_S 10

struct backend {
    backend_sink sink;
    char api_key[256];
    char api_secret[256];
    char api_url[512];
    char callback_token[256];
    char callback_base[1024];    /* where status callbacks go, without job_id */
    bool callback_custom;        /* from PHAXIO_(STATUS_)CALLBACK_URL */
    bool verify;
    bool inbound_verify;
    bool upload;
    bool enforce_https;
    bool inbound_enabled;
    char public_url[512];
    char data_dir[1024];
};

/* ---- small helpers ---- */

static bool url_is_local(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n = strcspn(h, ":/?#");
    return (n == 9 && !strncasecmp(h, "localhost", 9)) || (n == 9 && !strncmp(h, "127.0.0.1", 9))
           || (n == 5 && !strncmp(h, "[::1]", 5));
}

/* Copies at most max bytes of s without cutting a UTF-8 sequence. */
static void utf8_prefix(const char *s, size_t max, char *out, size_t outlen)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    if (n >= outlen) n = outlen - 1;
    memcpy(out, s, n);
    out[n] = 0;
}

/* ---- settings ---- */

static int read_settings(backend *b, const config *cfg, char *err, size_t errlen)
{
    char status_cb[1024], cb[1024];
    if (setting_str("PHAXIO_API_KEY", b->api_key, sizeof b->api_key, err, errlen)
        || setting_str("PHAXIO_API_SECRET", b->api_secret, sizeof b->api_secret, err, errlen)
        || setting_str("PHAXIO_API_URL", b->api_url, sizeof b->api_url, err, errlen)
        || setting_str("PHAXIO_CALLBACK_TOKEN", b->callback_token, sizeof b->callback_token, err, errlen)
        || setting_str("PHAXIO_STATUS_CALLBACK_URL", status_cb, sizeof status_cb, err, errlen)
        || setting_str("PHAXIO_CALLBACK_URL", cb, sizeof cb, err, errlen)
        || setting_bool("PHAXIO_VERIFY_SIGNATURE", &b->verify, err, errlen)
        || setting_bool("PHAXIO_INBOUND_VERIFY_SIGNATURE", &b->inbound_verify, err, errlen)
        || setting_bool("PHAXIO_UPLOAD", &b->upload, err, errlen)
        || setting_bool("ENFORCE_PUBLIC_HTTPS", &b->enforce_https, err, errlen))
        return -1;
    size_t n = strlen(b->api_url);
    while (n && b->api_url[n - 1] == '/') b->api_url[--n] = 0;
    if (strncmp(b->api_url, "https://", 8) && strncmp(b->api_url, "http://", 7)) {
        str_fmt(err, errlen, "PHAXIO_API_URL must start with https:// (default %s)", PHX_DEFAULT_API_URL);
        return -1;
    }
    const char *custom = status_cb[0] ? status_cb : cb;
    const char *custom_name = status_cb[0] ? "PHAXIO_STATUS_CALLBACK_URL" : "PHAXIO_CALLBACK_URL";
    if (custom[0]) {
        if (strncmp(custom, "https://", 8) && strncmp(custom, "http://", 7)) {
            str_fmt(err, errlen, "%s must be an http:// or https:// URL", custom_name);
            return -1;
        }
        str_copy(b->callback_base, sizeof b->callback_base, custom);
        b->callback_custom = true;
    } else if (cfg && cfg->public_api_url[0]) {
        str_fmt(b->callback_base, sizeof b->callback_base, "%s/phaxio-callback", cfg->public_api_url);
    }
    if (cfg) {
        str_copy(b->public_url, sizeof b->public_url, cfg->public_api_url);
        str_copy(b->data_dir, sizeof b->data_dir, cfg->data_dir);
        b->inbound_enabled = cfg->inbound_enabled;
    }
    return 0;
}

static backend *phx_create(const config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    b->sink = sink;
    if (read_settings(b, cfg, err, errlen) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

static void phx_destroy(backend *b)
{
    if (!b) return;
    explicit_bzero(b->api_secret, sizeof b->api_secret);
    explicit_bzero(b->callback_token, sizeof b->callback_token);
    free(b);
}

/* ---- HTTP (the shared cloud client) ---- */

typedef cloud_http_res http_result;

static curl_mime *send_form(const backend *b, CURL *c, const backend_job *job);

typedef struct form_ctx {
    const backend *b;
    const backend_job *job;
} form_ctx;

static void *build_form(void *curl_handle, void *ctx)
{
    const form_ctx *f = ctx;
    return send_form(f->b, curl_handle, f->job);
}

/* One authenticated request to Phaxio: a GET, or (send_job) the multipart POST
 * that sends that job. */
static void phx_http(backend *b, const char *url, const backend_job *send_job, long timeout_s, http_result *r)
{
    form_ctx fc = { b, send_job };
    cloud_http_req rq = {
        .method = send_job ? "POST" : "GET", .url = url, .user = b->api_key, .password = b->api_secret,
        .mime_build = send_job ? build_form : NULL, .mime_ctx = &fc,
        .connect_timeout_s = PHX_CONNECT_TIMEOUT_S, .timeout_s = timeout_s,
    };
    cloud_http(&rq, r);
}

static void http_done(http_result *r) { cloud_http_res_free(r); }

/* Phaxio's "message" from an error reply, or a short description. */
static void reply_message(const http_result *r, char *out, size_t outlen)
{
    phaxio_reply rep;
    phaxio_reply_parse(r->body.data, r->body.len, &rep);
    if (rep.message[0]) str_copy(out, outlen, rep.message);
    else if (r->status) str_fmt(out, outlen, "HTTP %ld without a Phaxio message", r->status);
    else str_copy(out, outlen, r->error);
}

/* ---- reporting ---- */

static report_verdict report(backend *b, const char *job_id, int attempt, outcome_kind kind, const char *sid,
                             const char *reason, bool transient, const char *message, int pages, int bit_rate)
{
    backend_outcome o = outcome_failure(attempt, sid, reason, transient, message);
    o.kind = kind;
    o.pages = pages;
    o.bit_rate = bit_rate;
    return b->sink.report(b->sink.ctx, job_id, &o);
}

/* Reports what a fax object says (a lookup during submit or resume). */
static void report_fax_state(backend *b, const backend_job *job, const phaxio_fax *fax)
{
    const char *job_id = job->job_id;
    phaxio_mapped m;
    phaxio_map(fax, NULL, -1, &m);
    switch (m.kind) {
    case OUTCOME_SUCCESS:
    case OUTCOME_FAILURE:
        report(b, job_id, job->attempt, OUTCOME_ACCEPTED, fax->id, NULL, false, NULL, -1, -1);
        report(b, job_id, job->attempt, m.kind, fax->id, m.failure_reason, m.transient,
               m.message[0] ? m.message : NULL, m.pages, m.bit_rate);
        return;
    default:
        /* queued / in progress / unknown: still going; its webhook (or the next lease) tells */
        report(b, job_id, job->attempt, OUTCOME_ACCEPTED, fax->id, NULL, false, NULL, -1, -1);
        return;
    }
}

/* ---- lookups ---- */

/* GET /faxes?tag[faxbot_job]=<id>&direction=sent: 1 found (*fax), 0 none, -1 unknown. */
static int lookup_by_tag(backend *b, const backend_job *job, phaxio_fax *fax, char *err, size_t errlen)
{
    char url[1024];
    str_fmt(url, sizeof url, "%s/faxes?direction=sent&tag%%5Bfaxbot_job%%5D=%s&per_page=100", b->api_url, job->job_id);
    http_result r;
    phx_http(b, url, NULL, PHX_POLL_TIMEOUT_S, &r);
    int rc = -1;
    if (r.status == 200) {
        rc = phaxio_list_find(r.body.data, r.body.len, job->job_id, job->attempt, fax, err, errlen);
    } else {
        char msg[256];
        reply_message(&r, msg, sizeof msg);
        str_fmt(err, errlen, "listing faxes by tag failed: %s", msg);
    }
    http_done(&r);
    return rc;
}

/* GET /faxes/{id}: 1 found, 0 Phaxio says no such fax, -1 unknown. */
static int lookup_by_id(backend *b, const char *fax_id, phaxio_fax *fax, char *err, size_t errlen)
{
    char url[1024];
    for (const char *p = fax_id; *p; p++)
        if (!isdigit((unsigned char)*p)) {
            str_fmt(err, errlen, "the stored Phaxio fax id is not a number");
            return 0;
        }
    str_fmt(url, sizeof url, "%s/faxes/%s", b->api_url, fax_id);
    http_result r;
    phx_http(b, url, NULL, PHX_POLL_TIMEOUT_S, &r);
    int rc = -1;
    if (r.status == 200) {
        rc = phaxio_get_parse(r.body.data, r.body.len, fax, err, errlen) == 0 ? 1 : -1;
    } else {
        char msg[256];
        reply_message(&r, msg, sizeof msg);
        str_fmt(err, errlen, "getting fax %s failed: %s", fax_id, msg);
        if (r.status == 404) rc = 0;
    }
    http_done(&r);
    return rc;
}

/* ---- submit ---- */

static int build_callback_url(const backend *b, const backend_job *job, char *out, size_t outlen)
{
    if (!b->callback_base[0]) return -1;
    return str_fmt(out, outlen, "%s%sjob_id=%s&attempt=%d", b->callback_base,
                   strchr(b->callback_base, '?') ? "&" : "?", job->job_id, job->attempt);
}

static int mime_field(curl_mime *m, const char *name, const char *value)
{
    curl_mimepart *p = curl_mime_addpart(m);
    if (!p || curl_mime_name(p, name) != CURLE_OK || curl_mime_data(p, value, CURL_ZERO_TERMINATED) != CURLE_OK)
        return -1;
    return 0;
}

/* POST /faxes fields (docs/internals/protocols.md §1.2): to, content_url or file, callback_url,
 * header_text (≤ 50 chars), caller_id, and the tags that let us find the fax again. */
static curl_mime *send_form(const backend *b, CURL *c, const backend_job *job)
{
    curl_mime *m = curl_mime_init(c);
    if (!m) return NULL;
    char attempt[16], header[PHX_HEADER_MAX + 1], cb[1200];
    int bad = mime_field(m, "to", job->to);
    if (b->upload) {
        curl_mimepart *p = curl_mime_addpart(m);
        bad |= !p || curl_mime_name(p, "file") != CURLE_OK || curl_mime_filedata(p, job->pdf_path) != CURLE_OK
               || curl_mime_filename(p, "document.pdf") != CURLE_OK || curl_mime_type(p, "application/pdf") != CURLE_OK;
    } else {
        bad |= mime_field(m, "content_url", job->pdf_url);
    }
    if (build_callback_url(b, job, cb, sizeof cb) == 0) bad |= mime_field(m, "callback_url", cb);
    if (job->header_text && job->header_text[0]) {
        utf8_prefix(job->header_text, PHX_HEADER_MAX, header, sizeof header);
        bad |= mime_field(m, "header_text", header);
    }
    if (job->caller_id && job->caller_id[0]) bad |= mime_field(m, "caller_id", job->caller_id);
    bad |= mime_field(m, "tag[faxbot_job]", job->job_id);
    str_fmt(attempt, sizeof attempt, "%d", job->attempt);
    bad |= mime_field(m, "tag[faxbot_attempt]", attempt);
    if (bad) {
        curl_mime_free(m);
        return NULL;
    }
    return m;
}

/* The request may have reached Phaxio but we do not know what it did: look. */
static int settle_unknown(backend *b, const backend_job *job, const char *what, bool provider_said_error)
{
    phaxio_fax fax;
    char err[256] = "";
    int found = lookup_by_tag(b, job, &fax, err, sizeof err);
    if (found == 1) {
        log_warn("phaxio job %s: %s, but Phaxio has fax %s for it: following that one", job->job_id, what, fax.id);
        report_fax_state(b, job, &fax);
        return 0;
    }
    char msg[512];
    if (found == 0 || provider_said_error) {
        /* Phaxio has no fax for this attempt: safe to try again later */
        str_fmt(msg, sizeof msg, "%s", what);
        report(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, provider_said_error ? "provider_error" : "network_error", true,
               msg, -1, -1);
        return -1;
    }
    /* Neither the send nor the lookup gave an answer: keep the job in progress;
     * when its lease runs out resume() looks again (and only then sends anew). */
    log_warn("phaxio job %s: %s; the lookup failed too (%s): the result is unknown for now", job->job_id, what, err);
    report(b, job->job_id, job->attempt, OUTCOME_ACCEPTED, NULL, NULL, false, NULL, -1, -1);
    return 0;
}

static int phx_submit(backend *b, const backend_job *job)
{
    char fax_id[32] = "", msg[512], pm[256];
    int rc = -1;

    if (!b->api_key[0] || !b->api_secret[0]) {
        report(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, "provider_error", false,
               "PHAXIO_API_KEY and PHAXIO_API_SECRET must be set to send through Phaxio", -1, -1);
        return -1;
    }
    bool upload = b->upload;
    if (!upload && !(job->pdf_url && job->pdf_url[0])) {
        report(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, "provider_error", false,
               "PUBLIC_API_URL is not set, so Phaxio cannot fetch the PDF (set PUBLIC_API_URL, or PHAXIO_UPLOAD=true)",
               -1, -1);
        return -1;
    }
    if (upload && (!job->pdf_path || file_size(job->pdf_path) <= 0)) {
        report(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, "file_error", false, "the job's PDF is missing", -1, -1);
        return -1;
    }

    char url[600], masked[48];
    str_fmt(url, sizeof url, "%s/faxes", b->api_url);
    mask_phone(job->to, masked, sizeof masked);
    http_result r;
    phx_http(b, url, job, PHX_SEND_TIMEOUT_S, &r);

    phaxio_reply rep;
    phaxio_reply_parse(r.body.data, r.body.len, &rep);
    if (r.status >= 200 && r.status < 300 && rep.success && rep.id[0]) {
        str_copy(fax_id, sizeof fax_id, rep.id);
        log_info("phaxio job %s (attempt %d) to %s: accepted as fax %s", job->job_id, job->attempt, masked, fax_id);
        report(b, job->job_id, job->attempt, OUTCOME_ACCEPTED, fax_id, NULL, false, NULL, -1, -1);
        rc = 0;
    } else if (r.status >= 200 && r.status < 300 && rep.json && !rep.success) {
        str_fmt(msg, sizeof msg, "Phaxio refused the fax: %s", rep.message[0] ? rep.message : "success=false");
        report(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, "provider_error", false, msg, -1, -1);
    } else if (r.status == 429) {
        reply_message(&r, pm, sizeof pm);
        str_fmt(msg, sizeof msg, "Phaxio rate limit (HTTP 429): %s", pm);
        report(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, "provider_error", true, msg, -1, -1);
    } else if (r.status >= 400 && r.status < 500) {
        reply_message(&r, pm, sizeof pm);
        const char *reason = "provider_error";
        if (r.status == 401 || r.status == 403)
            str_fmt(msg, sizeof msg, "Phaxio rejected the API credentials (HTTP %ld): %s — check PHAXIO_API_KEY and "
                                     "PHAXIO_API_SECRET", r.status, pm);
        else
            str_fmt(msg, sizeof msg, "Phaxio refused the fax (HTTP %ld): %s", r.status, pm);
        if (r.status == 422 && (strcasestr(pm, "number") || strcasestr(pm, "phone") || strcasestr(pm, "'to'")))
            reason = "invalid_number";
        log_warn("phaxio job %s to %s: %s", job->job_id, masked, msg);
        report(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, reason, false, msg, -1, -1);
    } else if (r.status >= 500 || (r.status >= 200 && r.status < 300)) {
        reply_message(&r, pm, sizeof pm);
        str_fmt(msg, sizeof msg, r.status >= 500 ? "Phaxio server error (HTTP %ld): %s"
                                                 : "Phaxio's reply (HTTP %ld) has no fax id: %s", r.status, pm);
        rc = settle_unknown(b, job, msg, r.status >= 500);
    } else if (r.status == 0 && !r.maybe_sent) {
        str_fmt(msg, sizeof msg, "could not reach Phaxio at %s: %s", b->api_url, r.error);
        report(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, "network_error", true, msg, -1, -1);
    } else {
        if (r.status) str_fmt(msg, sizeof msg, "unexpected HTTP %ld from Phaxio", r.status);
        else str_fmt(msg, sizeof msg, "no answer from Phaxio: %s", r.error);
        rc = settle_unknown(b, job, msg, false);
    }
    http_done(&r);
    return rc;
}

/* ---- resume ---- */

static int phx_resume(backend *b, const backend_job *job)
{
    phaxio_fax fax;
    char err[256] = "";
    const char *sid = job->provider_sid ? job->provider_sid : "";
    int found = -1;
    if (sid[0]) found = lookup_by_id(b, sid, &fax, err, sizeof err);
    if (found != 1) {
        if (sid[0]) log_warn("phaxio job %s: %s; looking the fax up by its tag", job->job_id, err);
        found = lookup_by_tag(b, job, &fax, err, sizeof err);
    }
    if (found == 1) {
        report_fax_state(b, job, &fax);
        log_info("phaxio job %s (attempt %d): Phaxio has fax %s (%s)", job->job_id, job->attempt, fax.id,
                 fax.status[0] ? fax.status : "no status");
        return 0;
    }
    if (found == 0) {
        log_info("phaxio job %s (attempt %d): Phaxio has no fax for it; it will be sent again", job->job_id,
                 job->attempt);
        return -1;
    }
    /* Phaxio could not be asked: still unknown, ask again when the new lease runs out. */
    log_warn("phaxio job %s: cannot learn its state now (%s); asking again later", job->job_id, err);
    report(b, job->job_id, job->attempt, OUTCOME_ACCEPTED, sid, NULL, false, NULL, -1, -1);
    return 0;
}

/* ---- check / diagnose ---- */

static void add_problem(strbuf *sb, const char *text)
{
    if (sb->len) sb_puts(sb, "; ");
    sb_puts(sb, text);
}

static int phx_check(backend *b, char *msg, size_t msglen)
{
    strbuf p;
    sb_init(&p);
    if (!b->api_key[0] && !b->api_secret[0])
        add_problem(&p, "PHAXIO_API_KEY and PHAXIO_API_SECRET are not set (the API credentials from the Phaxio console)");
    else if (!b->api_key[0])
        add_problem(&p, "PHAXIO_API_KEY is not set (the API key from the Phaxio console)");
    else if (!b->api_secret[0])
        add_problem(&p, "PHAXIO_API_SECRET is not set (the API secret from the Phaxio console)");
    bool need_public = !b->upload || !b->callback_custom;
    if (need_public && !b->public_url[0]) {
        add_problem(&p, "PUBLIC_API_URL is not set: Phaxio must reach this server to fetch the PDF and to post status "
                        "callbacks (or set PHAXIO_UPLOAD=true and PHAXIO_CALLBACK_URL)");
    } else if (b->public_url[0] && b->enforce_https && strncmp(b->public_url, "https://", 8)
               && !url_is_local(b->public_url)) {
        add_problem(&p, "PUBLIC_API_URL must start with https:// (Phaxio fetches the fax PDF and its token from it); "
                        "set ENFORCE_PUBLIC_HTTPS=false to allow plain http");
    }
    if (b->verify && !b->callback_token[0])
        add_problem(&p, "PHAXIO_CALLBACK_TOKEN is not set while PHAXIO_VERIFY_SIGNATURE=true, so every status "
                        "callback is refused with 401: copy the webhook token from Phaxio's webhook settings "
                        "(or set PHAXIO_VERIFY_SIGNATURE=false)");
    if (b->inbound_enabled && b->inbound_verify && !b->callback_token[0])
        add_problem(&p, "PHAXIO_CALLBACK_TOKEN is not set while PHAXIO_INBOUND_VERIFY_SIGNATURE=true, so inbound "
                        "faxes are refused with 401");
    int rc = p.len ? -1 : 0;
    if (rc) {
        str_copy(msg, msglen, p.data);
    } else {
        str_fmt(msg, msglen, "Phaxio v2.1 at %s; the PDF goes %s; status callbacks to %s; signatures %s", b->api_url,
                b->upload ? "as an upload" : "by content_url", b->callback_base,
                b->verify ? "verified" : "NOT verified (PHAXIO_VERIFY_SIGNATURE=false)");
    }
    sb_free(&p);
    return rc;
}

static int phx_diagnose(backend *b, json_t *o)
{
    int rc = -1;
    json_object_set_new(o, "api_url", json_string(b->api_url));
    if (!b->api_key[0] || !b->api_secret[0]) {
        json_object_set_new(o, "credentials", json_string("missing"));
        json_object_set_new(o, "detail", json_string("PHAXIO_API_KEY and PHAXIO_API_SECRET must both be set"));
    } else {
        char url[600], pm[256];
        str_fmt(url, sizeof url, "%s/account/status", b->api_url);
        http_result r;
        phx_http(b, url, NULL, PHX_POLL_TIMEOUT_S, &r);
        reply_message(&r, pm, sizeof pm);
        json_object_set_new(o, "api_reachable", json_boolean(r.status > 0));
        if (r.status > 0) json_object_set_new(o, "http_status", json_integer(r.status));
        phaxio_reply rep;
        phaxio_reply_parse(r.body.data, r.body.len, &rep);
        long long balance = -1;
        if (r.status == 200 && rep.success) {
            json_object_set_new(o, "credentials", json_string("ok"));
            if (phaxio_account_parse(r.body.data, r.body.len, &balance) == 0)
                json_object_set_new(o, "balance", json_integer(balance));
            rc = 0;
        } else if (r.status == 401 || r.status == 403) {
            json_object_set_new(o, "credentials", json_string("rejected"));
            json_object_set_new(o, "detail", json_string(pm));
        } else {
            json_object_set_new(o, "credentials", json_string("unknown"));
            json_object_set_new(o, "detail", json_string(pm));
        }
        http_done(&r);
    }
    char msg[1024];
    bool ready = phx_check(b, msg, sizeof msg) == 0;
    json_object_set_new(o, "config_ok", json_boolean(ready));
    if (!ready) {
        json_object_set_new(o, "config", json_string(msg));
        rc = -1;
    }
    return rc;
}

/* ---- webhooks ---- */

/* The URL Phaxio signed: the callback URL as we registered it, i.e. our configured
 * base (without its own query) plus the query string exactly as it arrived. */
static void signed_url(const backend *b, const webhook_request *req, bool custom, char *out, size_t outlen)
{
    if (!custom) {
        str_copy(out, outlen, req->public_url);
        return;
    }
    size_t n = strcspn(b->callback_base, "?");
    str_fmt(out, outlen, "%.*s%s%s", (int)n, b->callback_base, req->query[0] ? "?" : "", req->query);
}

/* Parses and verifies a webhook body. Returns 0, or -1 after filling res. */
static int open_webhook(backend *b, const webhook_request *req, bool verify, bool custom_url, const char *setting,
                        phaxio_form *form, phaxio_fax *fax, webhook_response *res)
{
    char err[256];
    if (verify && !b->callback_token[0]) {
        char d[300];
        str_fmt(d, sizeof d, "PHAXIO_CALLBACK_TOKEN is not configured, so Phaxio's signature cannot be verified; set it "
                             "to the webhook token from Phaxio's webhook settings (or %s=false)", setting);
        webhook_reply_detail(res, 401, d);
        return -1;
    }
    const char *sig = req->header(req, "X-Phaxio-Signature");
    if (verify && (!sig || !*sig)) {
        webhook_reply_detail(res, 401, "Missing X-Phaxio-Signature header");
        return -1;
    }
    if (phaxio_form_parse(req->content_type, req->body, req->body_len, form, err, sizeof err) != 0) {
        webhook_reply_detail(res, 400, err);
        return -1;
    }
    if (verify) {
        char url[2400];
        signed_url(b, req, custom_url, url, sizeof url);
        if (!phaxio_signature_valid(url, form, b->callback_token, sig)) {
            log_warn("phaxio webhook %s from %s: invalid X-Phaxio-Signature", req->path, req->client_ip);
            webhook_reply_detail(res, 401, "Invalid Phaxio signature");
            return -1;
        }
    }
    const phaxio_part *fp = phaxio_form_field(form, "fax");
    if (!fp) {
        webhook_reply_detail(res, 400, "the webhook has no 'fax' field (expected Phaxio v2.1 webhooks)");
        return -1;
    }
    if (phaxio_fax_parse(fp->data, fp->len, fax, err, sizeof err) != 0) {
        webhook_reply_detail(res, 400, err);
        return -1;
    }
    return 0;
}

static int int_or(const char *s, int dflt)
{
    if (!s || !*s) return dflt;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 100000) return dflt;
    return (int)v;
}

static void on_status_callback(backend *b, const webhook_request *req, webhook_response *res)
{
    phaxio_form form;
    phaxio_fax fax;
    memset(&form, 0, sizeof form);
    if (open_webhook(b, req, b->verify, b->callback_custom, "PHAXIO_VERIFY_SIGNATURE", &form, &fax, res) != 0) {
        phaxio_form_free(&form);
        return;
    }
    const char *job_id = req->query_param(req, "job_id");
    if (!job_id || !*job_id) job_id = fax.tag_job;
    int attempt = int_or(req->query_param(req, "attempt"), fax.tag_attempt);
    const phaxio_part *ev = phaxio_form_field(&form, "event_type");
    const phaxio_part *pg = phaxio_form_field(&form, "page");
    const char *event_type = ev ? ev->data : "";

    if (!cloud_is_job_id(job_id)) {
        webhook_reply(res, 200, "status", "ignored: no faxbot job id in the callback URL or the fax's tags");
    } else if (!strcmp(fax.direction, "received")) {
        webhook_reply(res, 200, "status", "ignored: a received fax belongs to /phaxio-inbound");
    } else {
        phaxio_mapped m;
        phaxio_map(&fax, event_type, int_or(pg ? pg->data : NULL, -1), &m);
        report_verdict v = REPORT_REFUSED;
        if (m.kind) {
            log_info("phaxio job %s: %s (fax %s, status %s)", job_id, event_type[0] ? event_type : "callback",
                     fax.id[0] ? fax.id : "?", fax.status[0] ? fax.status : "?");
            v = report(b, job_id, attempt, m.kind, fax.id, m.failure_reason, m.transient,
                       m.message[0] ? m.message : NULL, m.pages, m.bit_rate);
        }
        /* the job layer refuses stale, replayed and out-of-order outcomes */
        webhook_reply(res, 200, "status", v == REPORT_REFUSED ? "ignored: nothing new for the job's current attempt"
                                                              : "ok");
    }
    phaxio_form_free(&form);
}

static void on_inbound(backend *b, const webhook_request *req, webhook_response *res)
{
    phaxio_form form;
    phaxio_fax fax;
    memset(&form, 0, sizeof form);
    if (open_webhook(b, req, b->inbound_verify, false, "PHAXIO_INBOUND_VERIFY_SIGNATURE", &form, &fax, res) != 0) {
        phaxio_form_free(&form);
        return;
    }
    const phaxio_part *file = phaxio_form_file(&form, "file");
    if (!file) file = phaxio_form_file(&form, "filename");   /* v1 named the part so */
    char path[1200], err[512], inbound_id[33] = "";
    if (fax.direction[0] && strcmp(fax.direction, "received")) {
        webhook_reply(res, 200, "status", "ignored: not a received fax");
    } else if (!fax.id[0]) {
        webhook_reply_detail(res, 400, "the 'fax' object has no id");
    } else if (!file || file->len < 5 || memcmp(file->data, "%PDF-", 5)) {
        webhook_reply_detail(res, 400, "the webhook has no PDF in its 'file' part");
    } else if (!b->inbound_enabled) {
        webhook_reply_detail(res, 404, "Inbound not enabled (set INBOUND_ENABLED=true)");
    } else if (cloud_write_temp(b->data_dir[0] ? b->data_dir : ".", file->data, file->len, path, sizeof path, err, sizeof err) != 0) {
        log_error("phaxio inbound fax %s: %s", fax.id, err);
        webhook_reply_detail(res, 500, "could not store the received fax");
    } else {
        inbound_delivery d = {.provider_sid = fax.id, .from_number = fax.from_number, .to_number = fax.to_number,
                              .remote_station_id = NULL, .file_path = path, .file_type = "pdf", .move = true};
        if (b->sink.receive(b->sink.ctx, &d, inbound_id, err, sizeof err) != 0) {
            unlink(path);
            log_error("phaxio inbound fax %s: %s", fax.id, err);
            webhook_reply_detail(res, strcasestr(err, "not enabled") ? 404 : 500, err);
        } else {
            unlink(path);   /* normally moved already; a replay leaves our copy behind */
            char masked[48];
            mask_phone(fax.from_number, masked, sizeof masked);
            log_info("phaxio inbound fax %s from %s stored as %s", fax.id, masked, inbound_id);
            json_t *o = json_pack("{s:s,s:s}", "status", "ok", "inbound_id", inbound_id);
            char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
            res->status = 200;
            str_copy(res->body, sizeof res->body, s ? s : "{\"status\":\"ok\"}");
            free(s);
            json_decref(o);
        }
    }
    phaxio_form_free(&form);
}

static const backend_webhook phx_webhooks[] = {
    {.method = "POST", .path = "/phaxio-callback", .max_body = 4u << 20, .handle = on_status_callback},
    {.method = "POST", .path = "/phaxio-inbound", .max_body = 64u << 20, .handle = on_inbound},
};

static const setting_def phaxio_settings[] = {
    SETTING_ROW_SECRET("phaxio", "PHAXIO_API_KEY", "Phaxio API basic auth", "API key from the Phaxio console"),
    SETTING_ROW_SECRET("phaxio", "PHAXIO_API_SECRET", "Phaxio API basic auth", "API secret from the Phaxio console"),
    SETTING_ROW_STR("phaxio", "PHAXIO_API_URL", PHX_DEFAULT_API_URL, "Phaxio API base", "the API's base URL"),
    SETTING_ROW_SECRET("phaxio", "PHAXIO_CALLBACK_TOKEN", "callback signature check", "the callback token from the Phaxio console"),
    SETTING_ROW_STR("phaxio", "PHAXIO_STATUS_CALLBACK_URL", "", "callback_url of each fax", "default PUBLIC_API_URL/phaxio-callback"),
    SETTING_ROW_STR("phaxio", "PHAXIO_CALLBACK_URL", "", "callback_url of each fax", "alias of PHAXIO_STATUS_CALLBACK_URL"),
    SETTING_ROW_BOOL("phaxio", "PHAXIO_VERIFY_SIGNATURE", "true", "/phaxio-callback", "verify X-Phaxio-Signature"),
    SETTING_ROW_BOOL("phaxio", "PHAXIO_INBOUND_VERIFY_SIGNATURE", "true", "/phaxio-inbound", "verify X-Phaxio-Signature"),
    SETTING_ROW_BOOL("phaxio", "PHAXIO_UPLOAD", "false", "submit", "upload the PDF instead of a fetch URL"),
    SETTING_END,
};

const backend_ops backend_phaxio_ops = {
    .name = "phaxio",
    .needs_tiff = false,
    .create = phx_create,
    .submit = phx_submit,
    .check = phx_check,
    .destroy = phx_destroy,
    .async = true,
    .resume = phx_resume,
    .diagnose = phx_diagnose,
    .webhooks = phx_webhooks,
    .n_webhooks = 2,
    .settings = phaxio_settings,
};
