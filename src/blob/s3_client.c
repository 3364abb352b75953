/* s3_client.c — see s3_client.h. One curl easy handle per call (calls come from any
 * thread); the signed headers are host, x-amz-content-sha256 (the file's SHA-256 for
 * a PUT, so S3 rejects a body that changed on the way), x-amz-date, and when set the
 * session token and the KMS encryption headers. */
#include "blob/s3_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "blob/sigv4.h"
#include "util/util.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ERR_BODY_MAX 4096

struct s3_client {
    char base[512];              /* scheme://host[:port] requests go to */
    char host[300];              /* the Host header (signed) */
    char bucket[256];
    bool path_style;             /* /bucket/key (an endpoint) rather than bucket.host/key (AWS) */
    char region[64];
    char prefix[256];
    char kms_key_id[256];
    char access_key_id[128];
    char secret[256];
    char *session_token;
};

s3_client *s3_open(const s3_settings *s, char *err, size_t errlen)
{
    if (!s || !s->bucket || !*s->bucket) { str_fmt(err, errlen, "S3_BUCKET is not set"); return NULL; }
    if (!s->access_key_id || !*s->access_key_id || !s->secret_access_key || !*s->secret_access_key) {
        str_fmt(err, errlen, "S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        return NULL;
    }
    s3_client *c = calloc(1, sizeof *c);
    if (!c) { str_fmt(err, errlen, "out of memory"); return NULL; }
    const char *region = s->region && *s->region ? s->region : "us-east-1";
    bool ok = !str_copy(c->bucket, sizeof c->bucket, s->bucket) && !str_copy(c->region, sizeof c->region, region) &&
              !str_copy(c->prefix, sizeof c->prefix, s->prefix ? s->prefix : "") &&
              !str_copy(c->kms_key_id, sizeof c->kms_key_id, s->kms_key_id ? s->kms_key_id : "") &&
              !str_copy(c->access_key_id, sizeof c->access_key_id, s->access_key_id) &&
              !str_copy(c->secret, sizeof c->secret, s->secret_access_key);
    if (s->endpoint_url && *s->endpoint_url) {
        c->path_style = true;
        ok = ok && !str_copy(c->base, sizeof c->base, s->endpoint_url);
        size_t l = strlen(c->base);
        while (l && c->base[l - 1] == '/') c->base[--l] = 0;
    } else {
        ok = ok && !str_fmt(c->base, sizeof c->base, "https://%s.s3.%s.amazonaws.com", c->bucket, c->region);
    }
    const char *h = strstr(c->base, "://");
    if (ok && (!h || (strncmp(c->base, "http://", 7) && strncmp(c->base, "https://", 8)))) {
        str_fmt(err, errlen, "S3_ENDPOINT_URL must be http(s)://host[:port]");
        ok = false;
    } else if (ok) {
        ok = !str_copy(c->host, sizeof c->host, h + 3);
        c->host[strcspn(c->host, "/")] = 0;
    }
    if (ok && s->session_token && *s->session_token) ok = (c->session_token = strdup(s->session_token)) != NULL;
    if (!ok) {
        if (err && errlen && !*err) str_fmt(err, errlen, "S3 settings too long");
        s3_close(c);
        return NULL;
    }
    return c;
}

void s3_close(s3_client *c)
{
    if (!c) return;
    free(c->session_token);
    memset(c->secret, 0, sizeof c->secret);
    free(c);
}

typedef struct call {
    FILE *in, *out;
    strbuf err_body;             /* the answer of a failed request (S3's error XML) */
    long status;
} call;

/* Bodies of 2xx answers go to k->out (a GET), of others into err_body (capped). */
static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    call *k = arg;
    size_t len = size * n;
    if (k->out && k->status >= 200 && k->status < 300) return fwrite(data, 1, len, k->out);
    if (k->err_body.len < ERR_BODY_MAX) sb_appendf(&k->err_body, "%.*s", (int)len, data);
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    call *k = arg;
    size_t len = size * n;
    int code;
    if (len > 9 && !strncmp(data, "HTTP/", 5) && sscanf(data, "HTTP/%*s %d", &code) == 1) k->status = code;
    return len;
}

/* "<Code>X</Code>" of S3's error answer, or "". */
static void error_code(const char *xml, char *out, size_t outlen)
{
    out[0] = 0;
    const char *a = xml ? strstr(xml, "<Code>") : NULL;
    const char *b = a ? strstr(a, "</Code>") : NULL;
    if (a && b && b - a - 6 < (long)outlen) str_fmt(out, outlen, "%.*s", (int)(b - a - 6), a + 6);
}

/* One signed request: method on key (NULL: the bucket itself) with the query
 * pairs q; a PUT streams `in` (size bytes, payload_sha its SHA-256); a GET's body
 * goes to `out`. The HTTP status, or -1. */
static long request_q(s3_client *c, const char *method, const char *key, const sigv4_pair *q, int nq, FILE *in,
                      long long size, const char *payload_sha, FILE *out, char *err, size_t errlen)
{
    char objpath[1100], encoded[3400], url[4200], amz_date[17];
    /* path-style /bucket/<prefix><key>, virtual-hosted /<prefix><key> */
    if (str_fmt(objpath, sizeof objpath, "%s%s/%s%s", c->path_style ? "/" : "", c->path_style ? c->bucket : "",
                key ? c->prefix : "", key ? key : "") ||
        sigv4_uri_encode(objpath, 1, encoded, sizeof encoded) || str_fmt(url, sizeof url, "%s%s", c->base, encoded)) {
        str_fmt(err, errlen, "S3 key too long");
        return -1;
    }
    for (int i = 0; i < nq; i++) {        /* encoded as the signer encodes them */
        char name[256], value[1200];
        size_t l = strlen(url);
        if (sigv4_uri_encode(q[i].name, 0, name, sizeof name) || sigv4_uri_encode(q[i].value, 0, value, sizeof value) ||
            str_fmt(url + l, sizeof url - l, "%c%s=%s", i ? '&' : '?', name, value)) {
            str_fmt(err, errlen, "S3 query too long");
            return -1;
        }
    }
    if (!key) key = "(bucket)";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    bool put = !strcmp(method, "PUT");
    sigv4_pair h[8];
    int nh = 0;
    h[nh++] = (sigv4_pair){"host", c->host};
    h[nh++] = (sigv4_pair){"x-amz-content-sha256", payload_sha};
    h[nh++] = (sigv4_pair){"x-amz-date", amz_date};
    if (c->session_token) h[nh++] = (sigv4_pair){"x-amz-security-token", c->session_token};
    if (put && c->kms_key_id[0]) {
        h[nh++] = (sigv4_pair){"x-amz-server-side-encryption", "aws:kms"};
        h[nh++] = (sigv4_pair){"x-amz-server-side-encryption-aws-kms-key-id", c->kms_key_id};
    }
    sigv4_request r = {.method = method, .path = objpath, .query = q, .n_query = nq, .headers = h, .n_headers = nh,
                       .payload_sha256 = payload_sha, .region = c->region, .service = "s3", .amz_date = amz_date};
    sigv4_credentials cred = {c->access_key_id, c->secret, c->session_token};
    char auth[700];
    if (sigv4_authorization(&r, &cred, auth, sizeof auth)) { str_fmt(err, errlen, "could not sign the S3 request"); return -1; }
    struct curl_slist *hl = NULL;
    char line[1200];
    for (int i = 0; i < nh; i++) {
        str_fmt(line, sizeof line, "%s: %s", h[i].name, h[i].value);
        hl = curl_slist_append(hl, line);
    }
    str_fmt(line, sizeof line, "Authorization: %s", auth);
    hl = curl_slist_append(hl, line);
    hl = curl_slist_append(hl, "Expect:");
    CURL *e = curl_easy_init();
    call k = {.in = in, .out = out};
    sb_init(&k.err_body);
    long status = -1;
    if (e && hl) {
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &k);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &k);
        if (put) {
            curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(e, CURLOPT_READDATA, in);
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
        } else if (!strcmp(method, "HEAD")) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        }
        CURLcode rc = curl_easy_perform(e);
        if (rc != CURLE_OK) {
            str_fmt(err, errlen, "S3 %s %s: %s", method, key, curl_easy_strerror(rc));
        } else {
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            if (status < 200 || status >= 300) {
                char code[64];
                error_code(k.err_body.data, code, sizeof code);
                str_fmt(err, errlen, "S3 %s %s: HTTP %ld%s%s", method, key, status, code[0] ? " " : "", code);
            }
        }
    } else {
        str_fmt(err, errlen, "out of memory");
    }
    curl_slist_free_all(hl);
    if (e) curl_easy_cleanup(e);
    sb_free(&k.err_body);
    return status;
}

static long request(s3_client *c, const char *method, const char *key, FILE *in, long long size, const char *payload_sha,
                    FILE *out, char *err, size_t errlen)
{
    return request_q(c, method, key, NULL, 0, in, size, payload_sha, out, err, errlen);
}

int s3_put_file(s3_client *c, const char *key, const char *path, char *err, size_t errlen)
{
    char sha[65];
    struct stat sb;
    if (stat(path, &sb) || sha256_file_hex(path, sha)) {
        str_fmt(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return S3_ERROR;
    }
    FILE *in = fopen(path, "rb");
    if (!in) { str_fmt(err, errlen, "cannot open %s: %s", path, strerror(errno)); return S3_ERROR; }
    long st = request(c, "PUT", key, in, (long long)sb.st_size, sha, NULL, err, errlen);
    fclose(in);
    return st >= 200 && st < 300 ? S3_OK : S3_ERROR;
}

int s3_get_file(s3_client *c, const char *key, const char *path, char *err, size_t errlen)
{
    char part[4200], rnd[33];
    new_id_hex32(rnd);           /* two readers fetching the same object never share a temp file */
    if (str_fmt(part, sizeof part, "%s.part-%.8s", path, rnd)) { str_fmt(err, errlen, "path too long"); return S3_ERROR; }
    FILE *out = fopen(part, "wb");
    if (!out) { str_fmt(err, errlen, "cannot create %s: %s", part, strerror(errno)); return S3_ERROR; }
    long st = request(c, "GET", key, NULL, 0, EMPTY_SHA256, out, err, errlen);
    bool ok = st >= 200 && st < 300;
    if (fclose(out) != 0 && ok) { str_fmt(err, errlen, "cannot write %s: %s", part, strerror(errno)); ok = false; }
    if (ok && rename(part, path)) { str_fmt(err, errlen, "cannot rename %s: %s", part, strerror(errno)); ok = false; }
    if (!ok) unlink(part);
    return ok ? S3_OK : st == 404 ? S3_NOT_FOUND : S3_ERROR;
}

int s3_delete(s3_client *c, const char *key, char *err, size_t errlen)
{
    long st = request(c, "DELETE", key, NULL, 0, EMPTY_SHA256, NULL, err, errlen);
    return (st >= 200 && st < 300) || st == 404 ? S3_OK : S3_ERROR;
}

/* The text between <tag> and </tag> at or after *at (advancing *at past it); NULL if none. */
static char *xml_next(const char **at, const char *tag)
{
    char open[64], close[64];
    str_fmt(open, sizeof open, "<%s>", tag);
    str_fmt(close, sizeof close, "</%s>", tag);
    const char *a = strstr(*at, open);
    const char *b = a ? strstr(a, close) : NULL;
    if (!b) return NULL;
    a += strlen(open);
    *at = b + strlen(close);
    return strndup(a, (size_t)(b - a));
}

int s3_list(s3_client *c, const char *prefix, int (*each)(void *ctx, const char *key), void *ctx, char *err,
            size_t errlen)
{
    char full[600], token[1100] = "";
    if (str_fmt(full, sizeof full, "%s%s", c->prefix, prefix ? prefix : "")) {
        str_fmt(err, errlen, "S3 prefix too long");
        return S3_ERROR;
    }
    size_t strip = strlen(c->prefix);
    for (int page = 0; page < 100000; page++) {
        sigv4_pair q[3] = {{"list-type", "2"}, {"prefix", full}, {"continuation-token", token}};
        char *body = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&body, &len);
        if (!out) { str_fmt(err, errlen, "out of memory"); return S3_ERROR; }
        long st = request_q(c, "GET", NULL, q, token[0] ? 3 : 2, NULL, 0, EMPTY_SHA256, out, err, errlen);
        fclose(out);
        if (st < 200 || st >= 300) { free(body); return S3_ERROR; }
        const char *at = body;
        char *key;
        int rc = 0;
        while (!rc && (key = xml_next(&at, "Key"))) {
            if (!strncmp(key, c->prefix, strip)) rc = each(ctx, key + strip);
            free(key);
        }
        at = body;
        char *more = xml_next(&at, "IsTruncated");
        at = body;
        char *next = xml_next(&at, "NextContinuationToken");
        bool go_on = !rc && more && !strcmp(more, "true") && next && next[0] && !str_copy(token, sizeof token, next);
        free(more);
        free(next);
        free(body);
        if (rc) return rc;
        if (!go_on) return S3_OK;
    }
    return S3_OK;
}
