/* cloud_util.h — small pieces shared by the cloud fax backends (Sinch, SignalWire):
 * pure helpers over bytes (base64 decoding, HTTP Basic checks, percent-encoding,
 * document sniffing, the verdict a provider status maps to), plus the impure
 * parts kept apart in cloud_http.c (one libcurl call for every provider, temp
 * files, reporting a provider's verdict). */
#ifndef FAXBOT_CLOUD_UTIL_H
#define FAXBOT_CLOUD_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "util/util.h"

/* ---- what a provider's fax status means for our job ---- */
typedef enum {
    CLOUD_PENDING = 0,           /* still queued or sending at the provider */
    CLOUD_DELIVERED,             /* the fax went through */
    CLOUD_FAILED,                /* it did not; see reason/transient */
    CLOUD_IGNORE,                /* not about an outbound attempt (e.g. an inbound status) */
} cloud_state;

typedef struct cloud_verdict {
    cloud_state state;
    const char *reason;          /* failure_reason vocabulary (static string) */
    bool transient;              /* another attempt may succeed */
    char message[320];           /* human-readable detail for the job's error */
} cloud_verdict;

/* ---- pure helpers ---- */

/* true when header is "Basic <base64(user:pass)>" with exactly these credentials
 * (constant-time comparison of both parts). Empty user never matches. */
bool cloud_basic_auth_ok(const char *header, const char *user, const char *pass);

/* Appends s percent-encoded (everything but RFC 3986 unreserved characters). */
int cloud_url_encode(strbuf *out, const char *s);

/* Length of the first line of s[0..len) (up to CR, LF or len; never reads past len). */
size_t cloud_line_len(const char *s, size_t len);

/* "pdf" or "tiff" from the first bytes of a document, NULL if neither. */
const char *cloud_doc_kind(const unsigned char *data, size_t len);

/* 32 lowercase hex characters (our job ids). */
bool cloud_is_job_id(const char *s);

/* The attempt number our callback URLs carry (?attempt=N), or 0 if absent or bad. */
struct webhook_request;
int cloud_query_attempt(const struct webhook_request *req);


/* ---- HTTP client (cloud_http.c) ---- */
typedef struct cloud_http_req {
    const char *method;          /* "GET" or "POST" */
    const char *url;
    const char *user, *password; /* HTTP Basic, or NULL */
    const char *bearer;          /* "Authorization: Bearer …", or NULL */
    const char *const *headers;  /* extra "Name: value" lines (n_headers of them), or NULL */
    int n_headers;
    const char *content_type;    /* of body */
    const char *body;            /* raw body (POST), or NULL */
    size_t body_len;
    /* multipart body instead: builds a curl_mime on the handle (NULL = none) */
    void *(*mime_build)(void *curl_handle, void *ctx);
    void *mime_ctx;
    long connect_timeout_s;      /* default 10 */
    long timeout_s;              /* default 60 */
} cloud_http_req;

typedef struct cloud_http_res {
    long status;                 /* HTTP status; 0 = no response */
    bool maybe_sent;             /* no response, but the request may have reached the provider */
    strbuf body;
    char error[256];             /* transport error text when status is 0 */
} cloud_http_res;

/* 0 when an HTTP response came back (any status), -1 otherwise (error says why).
 * Free rs with cloud_http_res_free either way. */
int cloud_http(const cloud_http_req *rq, cloud_http_res *rs);
void cloud_http_res_free(cloud_http_res *rs);

/* Writes data to a new file under <data_dir>/tmp (mkstemp); 0 and path, or -1. */
int cloud_write_temp(const char *data_dir, const void *data, size_t len, char *path, size_t pathlen, char *err,
                     size_t errlen);

/* ---- diagnose() reports (cloud_http.c) ---- */
struct json_t;
/* credentials "missing" and why */
void cloud_diag_missing(struct json_t *o, const char *why);
/* no answer from where: credentials "unknown", api_reachable false, the error */
void cloud_diag_unreachable(struct json_t *o, const char *where, const char *error);
/* an answer to request ("GET .../Faxes"): http_status, credentials ok / rejected /
 * unknown and, unless 200, a detail with the provider's complaint and the hint for
 * 401/403 or 404. true on 200. */
bool cloud_diag_answer(struct json_t *o, const cloud_http_res *rs, const char *request, const char *complaint,
                       const char *hint_auth, const char *hint_404);

/* ---- reporting (cloud_http.c) ----
 * What a provider says about the fax of (job, attempt): ACCEPTED, then the result
 * when it is final. The job layer refuses it when it is stale or replayed. */
report_verdict cloud_report(const backend_sink *sink, const char *job_id, int attempt, const char *sid,
                            const cloud_verdict *v, int pages, const char *remote_id);
/* A FAILURE of the attempt before any provider fax is known. */
report_verdict cloud_fail(const backend_sink *sink, const char *job_id, int attempt, const char *reason,
                          bool transient, const char *message);

#endif
