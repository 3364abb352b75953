/* sigv4.c — AWS Signature Version 4 (see sigv4.h). The steps are AWS's, named as in
 * its documentation: canonical request → string to sign → signing key (an HMAC chain
 * over date, region, service, "aws4_request") → signature. */
#include "blob/sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "util/util.h"

int sigv4_uri_encode(const char *s, int keep_slash, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        bool plain = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
        if (o + (plain ? 1 : 3) >= outlen) return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= outlen) return -1;
    out[o] = 0;
    return 0;
}

typedef struct enc_pair {
    char *name, *value;
} enc_pair;

static int cmp_pair(const void *a, const void *b)
{
    const enc_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Lower-case name, value with surrounding spaces trimmed and inner runs collapsed. */
static enc_pair header_pair(const sigv4_pair *h)
{
    enc_pair e = {strdup(h->name ? h->name : ""), malloc(strlen(h->value ? h->value : "") + 1)};
    if (!e.name || !e.value) return e;
    for (char *q = e.name; *q; q++) *q = (char)tolower((unsigned char)*q);
    const char *v = h->value ? h->value : "";
    while (*v == ' ' || *v == '\t') v++;
    size_t o = 0;
    for (; *v; v++) {
        bool space = *v == ' ' || *v == '\t';
        if (space && (o == 0 || e.value[o - 1] == ' ')) continue;
        e.value[o++] = space ? ' ' : *v;
    }
    while (o && e.value[o - 1] == ' ') o--;
    e.value[o] = 0;
    return e;
}

static enc_pair query_pair(const sigv4_pair *q)
{
    size_t nl = strlen(q->name ? q->name : "") * 3 + 1, vl = strlen(q->value ? q->value : "") * 3 + 1;
    enc_pair e = {malloc(nl), malloc(vl)};
    if (e.name && e.value) {
        sigv4_uri_encode(q->name, 0, e.name, nl);
        sigv4_uri_encode(q->value, 0, e.value, vl);
    }
    return e;
}

static void free_pairs(enc_pair *p, int n)
{
    for (int i = 0; p && i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

/* The sorted, encoded pairs (malloc'd), or NULL. */
static enc_pair *sorted_pairs(const sigv4_pair *in, int n, enc_pair (*make)(const sigv4_pair *))
{
    enc_pair *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    if (!p) return NULL;
    for (int i = 0; i < n; i++) {
        p[i] = make(&in[i]);
        if (!p[i].name || !p[i].value) { free_pairs(p, i + 1); return NULL; }
    }
    qsort(p, (size_t)n, sizeof *p, cmp_pair);
    return p;
}

/* "host;x-amz-date" of the request's headers into sb. */
static int signed_headers(const enc_pair *h, int n, strbuf *sb)
{
    for (int i = 0; i < n; i++)
        if (sb_appendf(sb, "%s%s", i ? ";" : "", h[i].name)) return -1;
    return 0;
}

char *sigv4_canonical_request(const sigv4_request *r)
{
    if (!r || !r->method || !r->path || !r->payload_sha256) return NULL;
    size_t pl = strlen(r->path) * 3 + 2;
    char *path = malloc(pl);
    enc_pair *q = sorted_pairs(r->query, r->n_query, query_pair);
    enc_pair *h = sorted_pairs(r->headers, r->n_headers, header_pair);
    strbuf sb;
    sb_init(&sb);
    int rc = path && q && h ? 0 : -1;
    if (!rc) rc = sigv4_uri_encode(r->path[0] ? r->path : "/", 1, path, pl);
    if (!rc) rc = sb_appendf(&sb, "%s\n%s\n", r->method, path);
    for (int i = 0; i < r->n_query && !rc; i++) rc = sb_appendf(&sb, "%s%s=%s", i ? "&" : "", q[i].name, q[i].value);
    if (!rc) rc = sb_appendf(&sb, "\n");
    for (int i = 0; i < r->n_headers && !rc; i++) rc = sb_appendf(&sb, "%s:%s\n", h[i].name, h[i].value);
    if (!rc) rc = sb_appendf(&sb, "\n");
    if (!rc) rc = signed_headers(h, r->n_headers, &sb);
    if (!rc) rc = sb_appendf(&sb, "\n%s", r->payload_sha256);
    free(path);
    free_pairs(q, r->n_query);
    free_pairs(h, r->n_headers);
    if (rc) { sb_free(&sb); return NULL; }
    return sb_steal(&sb);
}

static void hmac(const unsigned char *key, size_t keylen, const char *data, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out, &len);
}

int sigv4_signature(const sigv4_request *r, const sigv4_credentials *c, char sig[65])
{
    if (!r || !c || !c->secret_access_key || !r->amz_date || strlen(r->amz_date) != 16 || !r->region || !r->service)
        return -1;
    char *canon = sigv4_canonical_request(r);
    if (!canon) return -1;
    char canon_hash[65], date[9];
    sha256_hex(canon, strlen(canon), canon_hash);
    free(canon);
    memcpy(date, r->amz_date, 8);
    date[8] = 0;
    char to_sign[512];
    if (str_fmt(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, date,
                r->region, r->service, canon_hash))
        return -1;
    /* the signing key: HMAC("AWS4" + secret, date) → region → service → "aws4_request" */
    char first[256];
    if (str_fmt(first, sizeof first, "AWS4%s", c->secret_access_key)) return -1;
    unsigned char k[32], k2[32];
    hmac((const unsigned char *)first, strlen(first), date, k);
    OPENSSL_cleanse(first, sizeof first);
    hmac(k, 32, r->region, k2);
    hmac(k2, 32, r->service, k);
    hmac(k, 32, "aws4_request", k2);
    hmac_sha256_hex(k2, 32, to_sign, strlen(to_sign), sig);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(k2, sizeof k2);
    return 0;
}

int sigv4_authorization(const sigv4_request *r, const sigv4_credentials *c, char *out, size_t outlen)
{
    char sig[65];
    if (!c || !c->access_key_id || sigv4_signature(r, c, sig)) return -1;
    enc_pair *h = sorted_pairs(r->headers, r->n_headers, header_pair);
    if (!h) return -1;
    strbuf names;
    sb_init(&names);
    int rc = signed_headers(h, r->n_headers, &names);
    free_pairs(h, r->n_headers);
    if (!rc)
        rc = str_fmt(out, outlen, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                     c->access_key_id, r->amz_date, r->region, r->service, names.data ? names.data : "", sig);
    sb_free(&names);
    return rc ? -1 : 0;
}

int sigv4_presign(const sigv4_request *r, const sigv4_credentials *c, int expires_s, const char *base_url, char *out,
                  size_t outlen)
{
    if (!r || !c || !c->access_key_id || !r->amz_date || !r->region || !r->service || r->n_query > 16) return -1;
    char credential[256], expires[16];
    if (str_fmt(credential, sizeof credential, "%s/%.8s/%s/%s/aws4_request", c->access_key_id, r->amz_date, r->region,
                r->service))
        return -1;
    str_fmt(expires, sizeof expires, "%d", expires_s);
    sigv4_pair q[24];
    int n = 0;
    for (int i = 0; i < r->n_query; i++) q[n++] = r->query[i];
    q[n++] = (sigv4_pair){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
    q[n++] = (sigv4_pair){"X-Amz-Credential", credential};
    q[n++] = (sigv4_pair){"X-Amz-Date", r->amz_date};
    q[n++] = (sigv4_pair){"X-Amz-Expires", expires};
    if (c->session_token && *c->session_token) q[n++] = (sigv4_pair){"X-Amz-Security-Token", c->session_token};
    q[n++] = (sigv4_pair){"X-Amz-SignedHeaders", "host"};
    sigv4_request pr = *r;
    pr.query = q;
    pr.n_query = n;
    pr.payload_sha256 = "UNSIGNED-PAYLOAD";
    char sig[65];
    if (sigv4_signature(&pr, c, sig)) return -1;
    enc_pair *e = sorted_pairs(q, n, query_pair);
    size_t pl = strlen(r->path) * 3 + 2;
    char *path = malloc(pl);
    strbuf sb;
    sb_init(&sb);
    int rc = e && path ? sigv4_uri_encode(r->path[0] ? r->path : "/", 1, path, pl) : -1;
    if (!rc) rc = sb_appendf(&sb, "%s%s?", base_url ? base_url : "", path);
    for (int i = 0; i < n && !rc; i++) rc = sb_appendf(&sb, "%s=%s&", e[i].name, e[i].value);
    if (!rc) rc = sb_appendf(&sb, "X-Amz-Signature=%s", sig);
    if (!rc) rc = str_copy(out, outlen, sb.data);
    free_pairs(e, n);
    free(path);
    sb_free(&sb);
    return rc ? -1 : 0;
}
