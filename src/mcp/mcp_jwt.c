/* mcp_jwt.c — JWT checks on OpenSSL (see mcp_jwt.h). The algorithm comes from the
 * token but must match the key's type (RS256 ↔ RSA, ES256 ↔ EC P-256), so a token
 * cannot pick a weaker check ("none", HS256 with a public key as secret). */
#include "mcp/mcp_jwt.h"
#include "mcp/mcp_proto.h"
#include "util/util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define JWKS_MAX_BYTES (256 * 1024)
#define JWKS_MAX_KEYS 32
#define JWKS_REFETCH_MIN_MS 5000
#define CLOCK_SKEW_S 30

typedef struct jwk {
    char kid[128];
    bool ec;                     /* else RSA */
    EVP_PKEY *key;
} jwk;

struct mcp_jwks {
    pthread_mutex_t lock;
    char url[1024];
    int ttl_s;
    jwk keys[JWKS_MAX_KEYS];
    int n;
    int64_t fetched_at;          /* mono ms of the last fetch attempt; 0 = never */
};

mcp_jwks *mcp_jwks_new(const char *url, int ttl_s)
{
    mcp_jwks *ks = calloc(1, sizeof *ks);
    if (!ks) return NULL;
    pthread_mutex_init(&ks->lock, NULL);
    str_copy(ks->url, sizeof ks->url, url ? url : "");
    ks->ttl_s = ttl_s > 0 ? ttl_s : 300;
    return ks;
}

static void keys_clear(mcp_jwks *ks)
{
    for (int i = 0; i < ks->n; i++) EVP_PKEY_free(ks->keys[i].key);
    ks->n = 0;
}

void mcp_jwks_free(mcp_jwks *ks)
{
    if (!ks) return;
    keys_clear(ks);
    pthread_mutex_destroy(&ks->lock);
    free(ks);
}

/* base64url text → bytes (malloc'd). */
static unsigned char *b64url(const char *s, size_t len, size_t max, size_t *outlen)
{
    unsigned char *out;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '+' || s[i] == '/' || s[i] == '=') return NULL;   /* base64url only, unpadded */
    if (mcp_base64_decode(s, len, max, &out, outlen)) return NULL;
    return out;
}

static BIGNUM *jwk_bn(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    size_t n;
    unsigned char *b = s ? b64url(s, strlen(s), 1024, &n) : NULL;
    if (!b) return NULL;
    BIGNUM *bn = BN_bin2bn(b, (int)n, NULL);
    free(b);
    return bn;
}

static EVP_PKEY *rsa_from_jwk(const json_t *o)
{
    BIGNUM *n = jwk_bn(o, "n"), *e = jwk_bn(o, "e");
    EVP_PKEY *pk = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!n || !e || !bld || BN_num_bits(n) < 2048) goto out;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0) goto out;
    if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0) pk = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pk;
}

static EVP_PKEY *ec_from_jwk(const json_t *o)
{
    const char *crv = json_string_value(json_object_get(o, "crv"));
    const char *xs = json_string_value(json_object_get(o, "x")), *ys = json_string_value(json_object_get(o, "y"));
    if (!crv || strcmp(crv, "P-256") || !xs || !ys) return NULL;
    size_t xl, yl;
    unsigned char *x = b64url(xs, strlen(xs), 64, &xl), *y = b64url(ys, strlen(ys), 64, &yl);
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!x || !y || xl != 32 || yl != 32) goto out;
    unsigned char pub[65];
    pub[0] = 0x04;
    memcpy(pub + 1, x, 32);
    memcpy(pub + 33, y, 32);
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub),
        OSSL_PARAM_construct_end(),
    };
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0) goto out;
    if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0) pk = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    free(x);
    free(y);
    return pk;
}

/* With ks->lock held. */
static int load_locked(mcp_jwks *ks, const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) { json_decref(root); return -1; }
    keys_clear(ks);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (ks->n >= JWKS_MAX_KEYS) break;
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *kid = json_string_value(json_object_get(k, "kid"));
        const char *use = json_string_value(json_object_get(k, "use"));
        if (!kty || !kid || (use && strcmp(use, "sig"))) continue;
        jwk *slot = &ks->keys[ks->n];
        slot->ec = !strcmp(kty, "EC");
        slot->key = slot->ec ? ec_from_jwk(k) : !strcmp(kty, "RSA") ? rsa_from_jwk(k) : NULL;
        if (!slot->key || str_copy(slot->kid, sizeof slot->kid, kid)) { EVP_PKEY_free(slot->key); continue; }
        ks->n++;
    }
    json_decref(root);
    return ks->n;
}

int mcp_jwks_load(mcp_jwks *ks, const char *json, size_t len)
{
    pthread_mutex_lock(&ks->lock);
    int n = load_locked(ks, json, len);
    pthread_mutex_unlock(&ks->lock);
    return n;
}

static size_t collect(char *p, size_t sz, size_t n, void *cls)
{
    strbuf *sb = cls;
    if (sb->len + sz * n > JWKS_MAX_BYTES) return 0;
    return sb_append(sb, p, sz * n) ? 0 : sz * n;
}

/* With ks->lock held: fetches the JWKS (the lock keeps concurrent fetches to one). */
static void fetch_locked(mcp_jwks *ks)
{
    ks->fetched_at = mono_ms();
    if (!ks->url[0]) return;
    strbuf sb;
    sb_init(&sb);
    CURL *c = curl_easy_init();
    if (!c) return;
    curl_easy_setopt(c, CURLOPT_URL, ks->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sb);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK || code != 200) {
        log_warn("mcp: could not fetch the JWKS at %s (%s, HTTP %ld); keeping the cached keys", ks->url,
                 curl_easy_strerror(rc), code);
    } else if (load_locked(ks, sb.data ? sb.data : "", sb.len) < 0) {
        log_warn("mcp: %s is not a JWKS document", ks->url);
    }
    sb_free(&sb);
}

/* A reference to the key for kid (fetching when stale or unknown), or NULL. */
static EVP_PKEY *key_for(mcp_jwks *ks, const char *kid, bool *ec)
{
    pthread_mutex_lock(&ks->lock);
    int64_t now = mono_ms();
    if (!ks->fetched_at || now - ks->fetched_at > (int64_t)ks->ttl_s * 1000) fetch_locked(ks);
    EVP_PKEY *found = NULL;
    for (int pass = 0; pass < 2 && !found; pass++) {
        for (int i = 0; i < ks->n; i++)
            if (!strcmp(ks->keys[i].kid, kid)) {
                found = ks->keys[i].key;
                *ec = ks->keys[i].ec;
                EVP_PKEY_up_ref(found);
                break;
            }
        /* unknown kid: the issuer may have rotated its keys; look again, not too often */
        if (!found && pass == 0 && mono_ms() - ks->fetched_at >= JWKS_REFETCH_MIN_MS) fetch_locked(ks);
        else if (!found) break;
    }
    pthread_mutex_unlock(&ks->lock);
    return found;
}

static bool verify_sig(EVP_PKEY *key, bool ec, const char *signed_part, size_t signed_len, const unsigned char *sig,
                       size_t siglen)
{
    unsigned char *der = NULL;
    int derlen = 0;
    if (ec) {
        if (siglen != 64) return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return false;
        }
        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (derlen <= 0) return false;
        sig = der;
        siglen = (size_t)derlen;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestVerify(md, sig, siglen, (const unsigned char *)signed_part, signed_len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

static bool aud_matches(const json_t *aud, const char *want)
{
    if (json_is_string(aud)) return !strcmp(json_string_value(aud), want);
    size_t i;
    json_t *a;
    json_array_foreach(aud, i, a)
        if (json_is_string(a) && !strcmp(json_string_value(a), want)) return true;
    return false;
}

static json_t *decode_part(const char *s, size_t len)
{
    size_t n;
    unsigned char *b = b64url(s, len, 16384, &n);
    if (!b) return NULL;
    json_t *j = json_loadb((const char *)b, n, 0, NULL);
    free(b);
    return json_is_object(j) ? j : (json_decref(j), NULL);
}

int mcp_jwt_verify(mcp_jwks *ks, const char *token, const char *issuer, const char *audience, int64_t now_s,
                   mcp_jwt_claims *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    const char *d1 = token ? strchr(token, '.') : NULL;
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.') || strlen(token) > 16384) { str_fmt(why, whylen, "not a JWT"); return -1; }
    json_t *hdr = decode_part(token, (size_t)(d1 - token));
    json_t *body = decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
    size_t siglen = 0;
    unsigned char *sig = b64url(d2 + 1, strlen(d2 + 1), 1024, &siglen);
    EVP_PKEY *key = NULL;
    int rc = -1;
    if (!hdr || !body || !sig) { str_fmt(why, whylen, "malformed JWT"); goto out; }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    if (!alg || (strcmp(alg, "RS256") && strcmp(alg, "ES256"))) { str_fmt(why, whylen, "alg must be RS256 or ES256"); goto out; }
    if (!kid || !*kid) { str_fmt(why, whylen, "the token has no kid"); goto out; }
    bool ec = false;
    key = key_for(ks, kid, &ec);
    if (!key) { str_fmt(why, whylen, "unknown kid"); goto out; }
    if (ec != !strcmp(alg, "ES256")) { str_fmt(why, whylen, "alg does not match the key"); goto out; }
    if (!verify_sig(key, ec, token, (size_t)(d2 - token), sig, siglen)) { str_fmt(why, whylen, "bad signature"); goto out; }
    json_t *exp = json_object_get(body, "exp"), *nbf = json_object_get(body, "nbf");
    if (!json_is_number(exp)) { str_fmt(why, whylen, "the token has no exp"); goto out; }
    if ((int64_t)json_number_value(exp) + CLOCK_SKEW_S <= now_s) { str_fmt(why, whylen, "expired"); goto out; }
    if (nbf && (!json_is_number(nbf) || (int64_t)json_number_value(nbf) - CLOCK_SKEW_S > now_s)) {
        str_fmt(why, whylen, "not valid yet (nbf)");
        goto out;
    }
    const char *iss = json_string_value(json_object_get(body, "iss"));
    if (issuer && *issuer && (!iss || strcmp(iss, issuer))) { str_fmt(why, whylen, "wrong issuer"); goto out; }
    if (audience && *audience && !aud_matches(json_object_get(body, "aud"), audience)) {
        str_fmt(why, whylen, "wrong audience");
        goto out;
    }
    const char *sub = json_string_value(json_object_get(body, "sub"));
    str_copy(out->sub, sizeof out->sub, sub ? sub : "");
    str_copy(out->kid, sizeof out->kid, kid);
    const char *scope = json_string_value(json_object_get(body, "scope"));
    json_t *scp = json_object_get(body, "scp");
    size_t o = 0;
    if (scope) {
        for (const char *p = scope; *p && o + 1 < sizeof out->scope; p++) out->scope[o++] = *p == ' ' ? ',' : *p;
        out->scope[o] = 0;
    } else if (json_is_array(scp)) {
        size_t i;
        json_t *s;
        json_array_foreach(scp, i, s) {
            const char *v = json_string_value(s);
            if (!v || o + strlen(v) + 2 >= sizeof out->scope) continue;
            o += (size_t)snprintf(out->scope + o, sizeof out->scope - o, "%s%s", o ? "," : "", v);
        }
    }
    rc = 0;
out:
    EVP_PKEY_free(key);
    free(sig);
    json_decref(hdr);
    json_decref(body);
    return rc;
}
