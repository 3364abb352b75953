/* s3_client.c — see s3_client.h. One curl easy handle per call (calls come from any
 * thread); the signed headers are host, x-amz-content-sha256 (the body's SHA-256,
 * so S3 rejects a body that changed on the way), x-amz-date, and when set
 * content-md5, the session token and the KMS encryption headers.
 * Multipart (files of at least the threshold): CreateMultipartUpload, then each part
 * hashed (SHA-256 + MD5) in one pass over its range of the file and sent in a second
 * pass (never more than a buffer in memory), its ETag compared with the part's MD5;
 * CompleteMultipartUpload with the parts' ETags, its answer checked for an <Error>
 * and for the ETag "<md5 of the parts' MD5s>-<N>"; AbortMultipartUpload on failure.
 * (Objects under SSE-KMS have ETags that are not MD5s: only the server's checks
 * apply to them.) */
#include "blob/s3_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "blob/sigv4.h"
#include "util/util.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ERR_BODY_MAX 4096
#define ANSWER_MAX (1 << 20)
#define MAX_PARTS 10000

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
    long long threshold, part_size;
    char where[800];             /* "bucket 'b' at http://…" for messages */
};

s3_client *s3_open(const s3_settings *s, char *err, size_t errlen)
{
    if (!s || !s->bucket || !*s->bucket) { str_fmt(err, errlen, "S3_BUCKET is not set"); return NULL; }
    if (!s->access_key_id || !*s->access_key_id || !s->secret_access_key || !*s->secret_access_key) {
        str_fmt(err, errlen, "S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                             "(or a profile in AWS_SHARED_CREDENTIALS_FILE)");
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
    c->part_size = s->part_size > 0 ? s->part_size : S3_DEFAULT_PART_SIZE;
    if (c->part_size < S3_MIN_PART_SIZE) c->part_size = S3_MIN_PART_SIZE;
    c->threshold = s->multipart_threshold > 0 ? s->multipart_threshold : S3_DEFAULT_PART_SIZE;
    str_fmt(c->where, sizeof c->where, "bucket '%s' at %s", c->bucket, c->base);
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

const char *s3_where(const s3_client *c) { return c ? c->where : ""; }

/* One request: what goes out and what came back. */
typedef struct s3_req {
    const char *method;
    const char *key;             /* under the prefix; "" = the bucket itself */
    const sigv4_pair *query;     /* raw names and values */
    int n_query;
    FILE *in;                    /* a body streamed from the file's current offset … */
    long long in_left;           /* … this many bytes of it */
    const char *mem;             /* or a body from memory */
    size_t mem_len, mem_off;
    const char *payload_sha;     /* hex SHA-256 of the body */
    const char *content_md5;     /* base64 MD5 of the body, or NULL */
    bool kms;                    /* the SSE-KMS headers (PutObject, CreateMultipartUpload) */
    FILE *out;                   /* a 2xx body goes to this file … */
    strbuf answer;               /* … or here (XML answers); a failed answer's body always here */
    long status;
    char etag[96];               /* the ETag header of the answer */
    long long length;            /* its Content-Length header (-1: none) */
    char code[64];               /* S3's error code of a failed answer */
} s3_req;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    s3_req *k = arg;
    size_t len = size * n;
    bool ok = k->status >= 200 && k->status < 300;
    if (k->out && ok) return fwrite(data, 1, len, k->out);
    size_t cap = ok ? ANSWER_MAX : ERR_BODY_MAX;
    if (k->answer.len < cap) sb_appendf(&k->answer, "%.*s", (int)len, data);
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    s3_req *k = arg;
    size_t len = size * n;
    int code;
    if (len > 9 && !strncmp(data, "HTTP/", 5) && sscanf(data, "HTTP/%*s %d", &code) == 1) {
        k->status = code;
        k->etag[0] = 0;
        k->length = -1;
    } else if (len > 15 && !strncasecmp(data, "Content-Length:", 15)) {
        k->length = strtoll(data + 15, NULL, 10);
    } else if (len > 5 && !strncasecmp(data, "ETag:", 5)) {
        const char *v = data + 5;
        while (*v == ' ' || *v == '\t') v++;
        size_t vl = len - (size_t)(v - data);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
        if (vl < sizeof k->etag) str_fmt(k->etag, sizeof k->etag, "%.*s", (int)vl, v);
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    s3_req *k = arg;
    size_t want = size * n;
    if (k->in) {
        if ((long long)want > k->in_left) want = (size_t)k->in_left;
        size_t got = want ? fread(buf, 1, want, k->in) : 0;
        if (got < want && ferror(k->in)) return CURL_READFUNC_ABORT;
        k->in_left -= (long long)got;
        return got;
    }
    size_t left = k->mem_len - k->mem_off;
    if (want > left) want = left;
    memcpy(buf, k->mem + k->mem_off, want);
    k->mem_off += want;
    return want;
}

/* The text of <tag>…</tag> in xml, or "". */
static void xml_tag(const char *xml, const char *tag, char *out, size_t outlen)
{
    char open[64], close[64];
    out[0] = 0;
    str_fmt(open, sizeof open, "<%s>", tag);
    str_fmt(close, sizeof close, "</%s>", tag);
    const char *a = xml ? strstr(xml, open) : NULL;
    const char *b = a ? strstr(a, close) : NULL;
    size_t ol = strlen(open);
    if (a && b && (size_t)(b - a) - ol < outlen) str_fmt(out, outlen, "%.*s", (int)((size_t)(b - a) - ol), a + ol);
}

/* Sends one signed request; the HTTP status (k->status), or -1 when it never got an answer. */
static long request(s3_client *c, s3_req *k, char *err, size_t errlen)
{
    char objpath[1100], encoded[3400], amz_date[17];
    strbuf url;
    sb_init(&url);
    /* path-style /bucket/<prefix><key>, virtual-hosted /<prefix><key>; the bucket itself: "/bucket" or "/" */
    bool bucket_only = !k->key[0];
    int bad = bucket_only ? str_fmt(objpath, sizeof objpath, "/%s", c->path_style ? c->bucket : "")
                          : str_fmt(objpath, sizeof objpath, "%s%s/%s%s", c->path_style ? "/" : "",
                                    c->path_style ? c->bucket : "", c->prefix, k->key);
    if (bad || sigv4_uri_encode(objpath, 1, encoded, sizeof encoded) || sb_appendf(&url, "%s%s", c->base, encoded)) {
        str_fmt(err, errlen, "S3 key too long");
        sb_free(&url);
        return -1;
    }
    for (int i = 0; i < k->n_query; i++) {
        char name[128], value[512];
        if (sigv4_uri_encode(k->query[i].name, 0, name, sizeof name) ||
            sigv4_uri_encode(k->query[i].value, 0, value, sizeof value) ||
            sb_appendf(&url, "%c%s=%s", i ? '&' : '?', name, value)) {
            str_fmt(err, errlen, "S3 query too long");
            sb_free(&url);
            return -1;
        }
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    sigv4_pair h[9];
    int nh = 0;
    h[nh++] = (sigv4_pair){"host", c->host};
    h[nh++] = (sigv4_pair){"x-amz-content-sha256", k->payload_sha};
    h[nh++] = (sigv4_pair){"x-amz-date", amz_date};
    if (k->content_md5) h[nh++] = (sigv4_pair){"content-md5", k->content_md5};
    if (c->session_token) h[nh++] = (sigv4_pair){"x-amz-security-token", c->session_token};
    if (k->kms && c->kms_key_id[0]) {
        h[nh++] = (sigv4_pair){"x-amz-server-side-encryption", "aws:kms"};
        h[nh++] = (sigv4_pair){"x-amz-server-side-encryption-aws-kms-key-id", c->kms_key_id};
    }
    sigv4_request r = {.method = k->method, .path = bucket_only ? (c->path_style ? objpath : "/") : objpath,
                       .query = k->query, .n_query = k->n_query, .headers = h, .n_headers = nh,
                       .payload_sha256 = k->payload_sha, .region = c->region, .service = "s3", .amz_date = amz_date};
    sigv4_credentials cred = {c->access_key_id, c->secret, c->session_token};
    char auth[700];
    if (sigv4_authorization(&r, &cred, auth, sizeof auth)) {
        str_fmt(err, errlen, "could not sign the S3 request");
        sb_free(&url);
        return -1;
    }
    struct curl_slist *hl = NULL;
    char line[1200];
    for (int i = 0; i < nh; i++) {
        str_fmt(line, sizeof line, "%s: %s", h[i].name, h[i].value);
        hl = curl_slist_append(hl, line);
    }
    str_fmt(line, sizeof line, "Authorization: %s", auth);
    hl = curl_slist_append(hl, line);
    hl = curl_slist_append(hl, "Expect:");
    if (k->mem) hl = curl_slist_append(hl, "Content-Type: application/xml");
    CURL *e = curl_easy_init();
    sb_init(&k->answer);
    k->status = -1;
    long status = -1;
    const char *what = k->key[0] ? k->key : c->bucket;
    if (e && hl) {
        curl_easy_setopt(e, CURLOPT_URL, url.data);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, k->method);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, k);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
        if (k->in || k->mem) {
            curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, k);
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(k->in ? k->in_left : (long long)k->mem_len));
        } else if (!strcmp(k->method, "HEAD")) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        } else if (!strcmp(k->method, "POST")) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        }
        CURLcode rc = curl_easy_perform(e);
        if (rc != CURLE_OK) {
            str_fmt(err, errlen, "S3 %s %s (%s): %s", k->method, what, c->where, curl_easy_strerror(rc));
        } else {
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            k->status = status;
            if (status < 200 || status >= 300) {
                xml_tag(k->answer.data, "Code", k->code, sizeof k->code);
                str_fmt(err, errlen, "S3 %s %s: HTTP %ld%s%s", k->method, what, status, k->code[0] ? " " : "", k->code);
            }
        }
    } else {
        str_fmt(err, errlen, "out of memory");
    }
    curl_slist_free_all(hl);
    if (e) curl_easy_cleanup(e);
    sb_free(&url);
    return status;
}

static bool ok_status(long st) { return st >= 200 && st < 300; }

/* SHA-256 (hex) and MD5 (raw) of len bytes of f from offset; 0 or -1. */
static int hash_range(FILE *f, long long offset, long long len, char sha_hex[65], unsigned char md5[16])
{
    if (fseeko(f, (off_t)offset, SEEK_SET)) return -1;
    EVP_MD_CTX *s = EVP_MD_CTX_new(), *m = EVP_MD_CTX_new();
    int rc = s && m && EVP_DigestInit_ex(s, EVP_sha256(), NULL) && EVP_DigestInit_ex(m, EVP_md5(), NULL) ? 0 : -1;
    unsigned char buf[65536];
    while (!rc && len > 0) {
        size_t want = len < (long long)sizeof buf ? (size_t)len : sizeof buf;
        size_t got = fread(buf, 1, want, f);
        if (got != want) rc = -1;
        EVP_DigestUpdate(s, buf, got);
        EVP_DigestUpdate(m, buf, got);
        len -= (long long)got;
    }
    unsigned char sd[32];
    unsigned int l;
    if (!rc) {
        EVP_DigestFinal_ex(s, sd, &l);
        EVP_DigestFinal_ex(m, md5, &l);
        for (int i = 0; i < 32; i++) snprintf(sha_hex + i * 2, 3, "%02x", sd[i]);
    }
    EVP_MD_CTX_free(s);
    EVP_MD_CTX_free(m);
    return rc;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) snprintf(out + i * 2, 3, "%02x", d[i]);
}

static void abort_upload(s3_client *c, const char *key, const char *upload_id)
{
    sigv4_pair q[] = {{"uploadId", upload_id}};
    s3_req k = {.method = "DELETE", .key = key, .query = q, .n_query = 1, .payload_sha = EMPTY_SHA256};
    char err[512];
    if (!ok_status(request(c, &k, err, sizeof err))) log_warn("storage: could not abort the upload of %s: %s", key, err);
    sb_free(&k.answer);
}

/* Sends part n (offset, len) of f; its quoted ETag into etag, its MD5 into md5. */
static int upload_part(s3_client *c, const char *key, const char *upload_id, FILE *f, int n, long long offset,
                       long long len, char *etag, size_t etaglen, unsigned char md5[16], char *err, size_t errlen)
{
    char sha[65], md5_b64[32], md5_hex[33], num[16];
    if (hash_range(f, offset, len, sha, md5) || fseeko(f, (off_t)offset, SEEK_SET)) {
        str_fmt(err, errlen, "cannot read part %d of the file: %s", n, strerror(errno));
        return -1;
    }
    base64_encode(md5, 16, md5_b64);
    hex(md5, 16, md5_hex);
    str_fmt(num, sizeof num, "%d", n);
    sigv4_pair q[] = {{"partNumber", num}, {"uploadId", upload_id}};
    s3_req k = {.method = "PUT", .key = key, .query = q, .n_query = 2, .in = f, .in_left = len,
                .payload_sha = sha, .content_md5 = md5_b64};
    long st = request(c, &k, err, errlen);
    sb_free(&k.answer);
    if (!ok_status(st)) return -1;
    /* the part's ETag is its MD5 (not under SSE-KMS): what S3 stored is what was sent */
    char want[40];
    str_fmt(want, sizeof want, "\"%s\"", md5_hex);
    if (!k.etag[0] || (!c->kms_key_id[0] && strcmp(k.etag, want))) {
        str_fmt(err, errlen, "S3 part %d of %s: the ETag answered (%s) is not the part's MD5", n, key,
                k.etag[0] ? k.etag : "none");
        return -1;
    }
    return str_copy(etag, etaglen, k.etag) ? -1 : 0;
}

static int put_multipart(s3_client *c, const char *key, FILE *f, long long size, char *err, size_t errlen)
{
    long long part = c->part_size;
    while ((size + part - 1) / part > MAX_PARTS) part += 1LL << 20;
    int n_parts = (int)((size + part - 1) / part);
    sigv4_pair q_create[] = {{"uploads", ""}};
    s3_req k = {.method = "POST", .key = key, .query = q_create, .n_query = 1, .payload_sha = EMPTY_SHA256, .kms = true};
    long st = request(c, &k, err, errlen);
    char upload_id[512];
    xml_tag(k.answer.data, "UploadId", upload_id, sizeof upload_id);
    sb_free(&k.answer);
    if (!ok_status(st)) return -1;
    if (!upload_id[0]) {
        str_fmt(err, errlen, "S3 CreateMultipartUpload of %s: no UploadId in the answer", key);
        return -1;
    }
    strbuf xml;
    sb_init(&xml);
    sb_appendf(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    EVP_MD_CTX *all = EVP_MD_CTX_new();
    int rc = all && EVP_DigestInit_ex(all, EVP_md5(), NULL) ? 0 : -1;
    for (int i = 1; !rc && i <= n_parts; i++) {
        long long off = (long long)(i - 1) * part, len = size - off < part ? size - off : part;
        char etag[96];
        unsigned char md5[16];
        rc = upload_part(c, key, upload_id, f, i, off, len, etag, sizeof etag, md5, err, errlen);
        if (!rc) {
            EVP_DigestUpdate(all, md5, 16);
            rc = sb_appendf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i, etag);
        }
    }
    if (!rc) rc = sb_appendf(&xml, "</CompleteMultipartUpload>");
    char want_etag[48] = "";
    if (!rc) {
        unsigned char d[16];
        unsigned int l;
        char h[33];
        EVP_DigestFinal_ex(all, d, &l);
        hex(d, 16, h);
        str_fmt(want_etag, sizeof want_etag, "%s-%d", h, n_parts);
    }
    EVP_MD_CTX_free(all);
    if (!rc) {
        char sha[65];
        unsigned char d[32];
        unsigned int l;
        EVP_Digest(xml.data, xml.len, d, &l, EVP_sha256(), NULL);
        hex(d, 32, sha);
        sigv4_pair q[] = {{"uploadId", upload_id}};
        s3_req done = {.method = "POST", .key = key, .query = q, .n_query = 1, .mem = xml.data, .mem_len = xml.len,
                       .payload_sha = sha};
        st = request(c, &done, err, errlen);
        /* S3 may answer 200 and still fail the completion: the body is then an <Error> */
        char code[64], etag[128];
        xml_tag(done.answer.data, "Code", code, sizeof code);
        xml_tag(done.answer.data, "ETag", etag, sizeof etag);
        sb_free(&done.answer);
        if (!ok_status(st)) {
            rc = -1;
        } else if (code[0] || !etag[0]) {
            str_fmt(err, errlen, "S3 CompleteMultipartUpload of %s: %s", key, code[0] ? code : "no ETag in the answer");
            rc = -1;
        } else if (!c->kms_key_id[0] && !strstr(etag, want_etag)) {
            str_fmt(err, errlen, "S3 CompleteMultipartUpload of %s: ETag %s, expected \"%s\"", key, etag, want_etag);
            rc = -1;
        }
    }
    sb_free(&xml);
    if (rc) abort_upload(c, key, upload_id);
    return rc;
}

int s3_put_file(s3_client *c, const char *key, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    FILE *in = fopen(path, "rb");
    if (!in || fstat(fileno(in), &sb)) {
        str_fmt(err, errlen, "cannot open %s: %s", path, strerror(errno));
        if (in) fclose(in);
        return S3_ERROR;
    }
    long long size = (long long)sb.st_size;
    int rc;
    if (size >= c->threshold && size > 0) {
        rc = put_multipart(c, key, in, size, err, errlen);
    } else {
        char sha[65];
        unsigned char md5[16];
        char md5_b64[32];
        if (hash_range(in, 0, size, sha, md5) || fseeko(in, 0, SEEK_SET)) {
            str_fmt(err, errlen, "cannot read %s: %s", path, strerror(errno));
            fclose(in);
            return S3_ERROR;
        }
        base64_encode(md5, 16, md5_b64);
        s3_req k = {.method = "PUT", .key = key, .in = in, .in_left = size, .payload_sha = sha,
                    .content_md5 = md5_b64, .kms = true};
        rc = ok_status(request(c, &k, err, errlen)) ? 0 : -1;
        sb_free(&k.answer);
    }
    fclose(in);
    return rc ? S3_ERROR : S3_OK;
}

int s3_get_file(s3_client *c, const char *key, const char *path, char *err, size_t errlen)
{
    char part[4200], rnd[33];
    new_id_hex32(rnd);           /* two readers fetching the same object never share a temp file */
    if (str_fmt(part, sizeof part, "%s.part-%.8s", path, rnd)) { str_fmt(err, errlen, "path too long"); return S3_ERROR; }
    FILE *out = fopen(part, "wb");
    if (!out) { str_fmt(err, errlen, "cannot create %s: %s", part, strerror(errno)); return S3_ERROR; }
    s3_req k = {.method = "GET", .key = key, .payload_sha = EMPTY_SHA256, .out = out};
    long st = request(c, &k, err, errlen);
    sb_free(&k.answer);
    bool ok = ok_status(st);
    if (fclose(out) != 0 && ok) { str_fmt(err, errlen, "cannot write %s: %s", part, strerror(errno)); ok = false; }
    if (ok && rename(part, path)) { str_fmt(err, errlen, "cannot rename %s: %s", part, strerror(errno)); ok = false; }
    if (!ok) unlink(part);
    return ok ? S3_OK : st == 404 ? S3_NOT_FOUND : S3_ERROR;
}

int s3_delete(s3_client *c, const char *key, char *err, size_t errlen)
{
    s3_req k = {.method = "DELETE", .key = key, .payload_sha = EMPTY_SHA256};
    long st = request(c, &k, err, errlen);
    sb_free(&k.answer);
    return ok_status(st) || st == 404 ? S3_OK : S3_ERROR;
}

int s3_stat(s3_client *c, const char *key, long long *size, char *etag, size_t etaglen, char *err, size_t errlen)
{
    s3_req k = {.method = "HEAD", .key = key, .payload_sha = EMPTY_SHA256};
    long st = request(c, &k, err, errlen);
    sb_free(&k.answer);
    if (st == 404) return S3_NOT_FOUND;
    if (!ok_status(st)) return S3_ERROR;
    if (size) *size = k.length;
    if (etag && etaglen) str_copy(etag, etaglen, k.etag);
    return S3_OK;
}

int s3_presign_get(s3_client *c, const char *key, const char *qname, const char *qvalue, int expires_s, char *out,
                   size_t outlen)
{
    char objpath[1100], amz_date[17];
    if (str_fmt(objpath, sizeof objpath, "%s%s/%s%s", c->path_style ? "/" : "", c->path_style ? c->bucket : "",
                c->prefix, key))
        return -1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    sigv4_pair h[] = {{"host", c->host}};
    sigv4_pair q[] = {{qname, qvalue}};
    sigv4_request r = {.method = "GET", .path = objpath, .query = q, .n_query = qname ? 1 : 0, .headers = h, .n_headers = 1,
                       .payload_sha256 = "UNSIGNED-PAYLOAD", .region = c->region, .service = "s3", .amz_date = amz_date};
    sigv4_credentials cred = {c->access_key_id, c->secret, c->session_token};
    return sigv4_presign(&r, &cred, expires_s, c->base, out, outlen);
}

/* Plain advice for S3's error codes. */
static const char *advice(const char *code, long status)
{
    static const struct { const char *code, *advice; } tips[] = {
        {"SignatureDoesNotMatch", "the secret key does not belong to the access key id: check AWS_SECRET_ACCESS_KEY"},
        {"InvalidAccessKeyId", "the store does not know this access key id: check AWS_ACCESS_KEY_ID (and AWS_PROFILE)"},
        {"AccessDenied", "the credentials may not read and write this bucket: grant s3:PutObject, s3:GetObject and "
                         "s3:DeleteObject on it (and kms:GenerateDataKey/kms:Decrypt with S3_KMS_KEY_ID)"},
        {"NoSuchBucket", "the bucket does not exist: create it or fix S3_BUCKET (and S3_REGION / S3_ENDPOINT_URL)"},
        {"ExpiredToken", "the session token has expired: renew AWS_SESSION_TOKEN"},
        {"InvalidToken", "the session token is not valid: check AWS_SESSION_TOKEN"},
        {"RequestTimeTooSkewed", "this machine's clock is off by more than 15 minutes: fix its time (NTP)"},
        {"AuthorizationHeaderMalformed", "the region is wrong: set S3_REGION to the bucket's region"},
        {"PermanentRedirect", "the bucket lives in another region: set S3_REGION to the bucket's region"},
        {"KMS.NotFoundException", "the KMS key was not found: check S3_KMS_KEY_ID"},
    };
    for (size_t i = 0; code && i < sizeof tips / sizeof *tips; i++)
        if (!strcmp(code, tips[i].code)) return tips[i].advice;
    if (status < 0) return "the store cannot be reached: check S3_ENDPOINT_URL and the network";
    return "see the S3 error code in the store's documentation";
}

/* One probe request; 0 when it succeeded, else -1 with its status and S3 error code kept. */
static int probe_step(s3_client *c, s3_req *k, long *status, char *code, size_t codelen, char *e, size_t elen)
{
    *status = request(c, k, e, elen);
    if (ok_status(*status)) return 0;
    str_copy(code, codelen, k->code);
    return -1;
}

int s3_probe(s3_client *c, char *code, size_t codelen, char *err, size_t errlen)
{
    char key[96], id[33], tmpl[] = "/tmp/faxbot-s3probe-XXXXXX", e[512] = "", ec[64] = "";
    new_id_hex32(id);
    str_fmt(key, sizeof key, ".faxbot-probe/%s", id);
    if (code && codelen) code[0] = 0;
    int fd = mkstemp(tmpl);
    if (fd < 0) { str_fmt(err, errlen, "S3 check: cannot create a temp file: %s", strerror(errno)); return -1; }
    bool wrote = write(fd, id, 32) == 32;
    close(fd);
    FILE *in = wrote ? fopen(tmpl, "rb") : NULL;
    unsigned char md5[16];
    char sha[65], md5_b64[32];
    if (!in || hash_range(in, 0, 32, sha, md5) || fseeko(in, 0, SEEK_SET)) {
        str_fmt(err, errlen, "S3 check: cannot read the probe file");
        if (in) fclose(in);
        unlink(tmpl);
        return -1;
    }
    base64_encode(md5, 16, md5_b64);
    long st = -1;
    const char *step = "write to";
    s3_req put = {.method = "PUT", .key = key, .in = in, .in_left = 32, .payload_sha = sha, .content_md5 = md5_b64,
                  .kms = true};
    int rc = probe_step(c, &put, &st, ec, sizeof ec, e, sizeof e);
    sb_free(&put.answer);
    fclose(in);
    unlink(tmpl);
    if (!rc) {
        step = "read from";
        s3_req get = {.method = "GET", .key = key, .payload_sha = EMPTY_SHA256};
        rc = probe_step(c, &get, &st, ec, sizeof ec, e, sizeof e);
        if (!rc && (get.answer.len != 32 || memcmp(get.answer.data, id, 32))) {
            str_fmt(e, sizeof e, "the probe object read back differs from what was written");
            rc = -1;
        }
        sb_free(&get.answer);
    }
    if (!rc) {
        step = "delete from";
        s3_req del = {.method = "DELETE", .key = key, .payload_sha = EMPTY_SHA256};
        rc = probe_step(c, &del, &st, ec, sizeof ec, e, sizeof e);
        sb_free(&del.answer);
    }
    if (!rc) return 0;
    if (code && codelen) str_copy(code, codelen, ec);
    if (ec[0])
        str_fmt(err, errlen, "cannot %s S3 %s: HTTP %ld %s: %s", step, c->where, st, ec, advice(ec, st));
    else
        str_fmt(err, errlen, "cannot %s S3 %s: %s: %s", step, c->where, e, advice(NULL, st));
    return -1;
}

/* The text between the next <tag> and </tag> at or after *at (advancing *at past it),
 * malloc'd; NULL when there is none. */
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
    for (;;) {
        sigv4_pair q[3] = {{"list-type", "2"}, {"prefix", full}, {"continuation-token", token}};
        char *body = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&body, &len);       /* a page of 1,000 keys is more than an answer's cap */
        if (!out) { str_fmt(err, errlen, "out of memory"); return S3_ERROR; }
        s3_req k = {.method = "GET", .key = "", .query = q, .n_query = token[0] ? 3 : 2, .payload_sha = EMPTY_SHA256,
                    .out = out};
        long st = request(c, &k, err, errlen);
        sb_free(&k.answer);
        fclose(out);
        if (!ok_status(st)) { free(body); return S3_ERROR; }
        const char *at = body;
        char *key, more[16], next[sizeof token];
        int rc = 0;
        while (!rc && (key = xml_next(&at, "Key"))) {
            if (!strncmp(key, c->prefix, strip)) rc = each(ctx, key + strip);
            free(key);
        }
        xml_tag(body, "IsTruncated", more, sizeof more);
        xml_tag(body, "NextContinuationToken", next, sizeof next);
        free(body);
        if (rc) return rc;
        if (strcmp(more, "true") || !next[0]) return S3_OK;
        str_copy(token, sizeof token, next);
    }
}
