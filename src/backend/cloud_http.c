/* cloud_http.c — the impure half of cloud_util.h: one HTTP request through libcurl
 * (timeouts, no signals, Basic or Bearer auth, raw or multipart bodies), temp files
 * for received documents, and reporting a provider's verdict through the sink (the
 * job layer refuses stale and replayed ones). */
#include "backend/cloud_util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- HTTP ---- */

static size_t collect(char *data, size_t size, size_t nmemb, void *user)
{
    strbuf *sb = user;
    size_t n = size * nmemb;
    if (sb->len + n > 16u * 1024 * 1024) return 0;   /* no provider answer is that large */
    return sb_append(sb, data, n) ? 0 : n;
}

/* Errors after which the provider may have received (and acted on) the request. */
static bool maybe_reached(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_READ_ERROR:
        return false;
    default:
        return true;
    }
}

int cloud_http(const cloud_http_req *rq, cloud_http_res *rs)
{
    memset(rs, 0, sizeof *rs);
    sb_init(&rs->body);
    CURL *h = curl_easy_init();
    if (!h) {
        str_copy(rs->error, sizeof rs->error, "could not start an HTTP client (libcurl)");
        return -1;
    }
    struct curl_slist *hdrs = NULL;
    curl_mime *mime = NULL;
    char line[4096];
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, rq->connect_timeout_s > 0 ? rq->connect_timeout_s : 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, rq->timeout_s > 0 ? rq->timeout_s : 60L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "faxbot-c/0.1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rs->body);
    if (rq->user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, rq->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password ? rq->password : "");
    }
    if (rq->bearer) {
        str_fmt(line, sizeof line, "Authorization: Bearer %s", rq->bearer);
        hdrs = curl_slist_append(hdrs, line);
    }
    for (int i = 0; i < rq->n_headers; i++) hdrs = curl_slist_append(hdrs, rq->headers[i]);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (rq->mime_build) {
        mime = rq->mime_build(h, rq->mime_ctx);
        if (!mime) {
            str_copy(rs->error, sizeof rs->error, "could not build the multipart request (is the document readable?)");
            curl_slist_free_all(hdrs);
            curl_easy_cleanup(h);
            return -1;
        }
        curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    } else if (rq->method && !strcmp(rq->method, "POST")) {
        if (rq->content_type) {
            str_fmt(line, sizeof line, "Content-Type: %s", rq->content_type);
            hdrs = curl_slist_append(hdrs, line);
        }
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, rq->body ? rq->body : "");
    } else if (rq->method && strcmp(rq->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    char detail[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    } else {
        long sent = 0;          /* bytes of the request that left: none means it never arrived */
        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
        rs->maybe_sent = maybe_reached(rc) && sent > 0;
        str_fmt(rs->error, sizeof rs->error, "%s", detail[0] ? detail : curl_easy_strerror(rc));
    }
    curl_mime_free(mime);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? 0 : -1;
}

void cloud_http_res_free(cloud_http_res *rs)
{
    sb_free(&rs->body);
}

int cloud_write_temp(const char *data_dir, const void *data, size_t len, char *path, size_t pathlen, char *err,
                     size_t errlen)
{
    char dir[1100];
    if (str_fmt(dir, sizeof dir, "%s/tmp", data_dir) || mkdir_p(dir, 0700)
        || str_fmt(path, pathlen, "%s/cloud-inbound-XXXXXX", dir)) {
        str_fmt(err, errlen, "could not create the temp folder under FAX_DATA_DIR");
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        str_fmt(err, errlen, "could not create a temp file: %s", strerror(errno));
        return -1;
    }
    const unsigned char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            str_fmt(err, errlen, "could not write the received fax: %s", strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    bool bad = fsync(fd) != 0;
    if (close(fd) != 0) bad = true;
    if (bad) {
        str_fmt(err, errlen, "could not write the received fax: %s", strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

/* ---- reporting what a provider says ---- */

report_verdict cloud_report(const backend_sink *sink, const char *job_id, int attempt, const char *sid,
                            const cloud_verdict *v, int pages, const char *remote_id)
{
    if (v->state == CLOUD_IGNORE) return REPORT_REFUSED;
    backend_outcome acc = outcome_accepted(attempt, sid);
    report_verdict got = sink->report(sink->ctx, job_id, &acc);
    if (v->state == CLOUD_PENDING) return got;
    backend_outcome o = v->state == CLOUD_DELIVERED ? outcome_success(attempt, sid, pages)
                                                    : outcome_failure(attempt, sid, v->reason, v->transient, NULL);
    o.message = v->message;
    o.remote_station_id = remote_id && remote_id[0] ? remote_id : NULL;
    return sink->report(sink->ctx, job_id, &o);
}

report_verdict cloud_fail(const backend_sink *sink, const char *job_id, int attempt, const char *reason,
                          bool transient, const char *message)
{
    backend_outcome o = outcome_failure(attempt, NULL, reason, transient, message);
    return sink->report(sink->ctx, job_id, &o);
}

/* ---- diagnostics ---- */

void cloud_diag_missing(json_t *o, const char *why)
{
    json_object_set_new(o, "credentials", json_string("missing"));
    json_object_set_new(o, "detail", json_string(why));
}

void cloud_diag_unreachable(json_t *o, const char *where, const char *error)
{
    char msg[600];
    json_object_set_new(o, "credentials", json_string("unknown"));
    json_object_set_new(o, "api_reachable", json_boolean(false));
    str_fmt(msg, sizeof msg, "could not reach %s: %s", where, error);
    json_object_set_new(o, "detail", json_string(msg));
}

bool cloud_diag_answer(json_t *o, const cloud_http_res *rs, const char *request, const char *complaint,
                       const char *hint_auth, const char *hint_404)
{
    json_object_set_new(o, "api_reachable", json_boolean(true));
    json_object_set_new(o, "http_status", json_integer(rs->status));
    if (rs->status == 200) {
        json_object_set_new(o, "credentials", json_string("ok"));
        return true;
    }
    bool rejected = rs->status == 401 || rs->status == 403;
    json_object_set_new(o, "credentials", json_string(rejected ? "rejected" : "unknown"));
    const char *hint = rejected ? hint_auth : rs->status == 404 ? hint_404 : "";
    char msg[600];
    str_fmt(msg, sizeof msg, "%s answered HTTP %ld%s%s%s%s%s", request, rs->status, complaint[0] ? ": " : "", complaint,
            hint[0] ? " (" : "", hint, hint[0] ? ")" : "");
    json_object_set_new(o, "detail", json_string(msg));
    return false;
}
