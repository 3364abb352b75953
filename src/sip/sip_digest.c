/* sip_digest.c — Digest challenge parsing and answers (see sip_digest.h). Hashes come
 * from OpenSSL's EVP (MD5, SHA-256); the cnonce from the CSPRNG. */
#include "sip/sip_digest.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* Next auth-param of a challenge: name=token or name="quoted". Returns 1, 0 at the
 * end, -1 on bad syntax. */
static int next_param(const char **pp, char *name, size_t nlen, char *val, size_t vlen)
{
    const char *p = *pp;
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) return 0;
    size_t n = 0;
    while (*p && *p != '=' && *p != ' ' && *p != '\t' && *p != ',') {
        if (n + 1 >= nlen) return -1;
        name[n++] = *p++;
    }
    name[n] = 0;
    while (*p == ' ' || *p == '\t') p++;
    if (*p != '=' || !n) return -1;
    p++;
    while (*p == ' ' || *p == '\t') p++;
    size_t v = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1]) p++;
            if (v + 1 >= vlen) return -1;
            val[v++] = *p;
        }
        if (*p != '"') return -1;
        p++;
    } else {
        while (*p && *p != ',' && *p != ' ' && *p != '\t') {
            if (v + 1 >= vlen) return -1;
            val[v++] = *p++;
        }
    }
    val[v] = 0;
    *pp = p;
    return 1;
}

int sip_digest_parse(const char *value, sip_digest_challenge *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (strncasecmp(value, "Digest", 6) || (value[6] != ' ' && value[6] != '\t'))
        FAIL("the challenge is not Digest");
    const char *p = value + 6;
    char name[32], val[512];
    bool have_alg = false;
    int r;
    while ((r = next_param(&p, name, sizeof name, val, sizeof val)) == 1) {
        if (!strcasecmp(name, "realm")) {
            if (strlen(val) >= sizeof c->realm) FAIL("realm too long");
            strcpy(c->realm, val);
        } else if (!strcasecmp(name, "nonce")) {
            if (strlen(val) >= sizeof c->nonce) FAIL("nonce too long");
            strcpy(c->nonce, val);
        } else if (!strcasecmp(name, "opaque")) {
            if (strlen(val) >= sizeof c->opaque) FAIL("opaque too long");
            strcpy(c->opaque, val);
        } else if (!strcasecmp(name, "algorithm")) {
            have_alg = true;
            if (!strcasecmp(val, "MD5")) c->alg = SIP_DIGEST_MD5;
            else if (!strcasecmp(val, "MD5-sess")) { c->alg = SIP_DIGEST_MD5; c->sess = true; }
            else if (!strcasecmp(val, "SHA-256")) c->alg = SIP_DIGEST_SHA256;
            else if (!strcasecmp(val, "SHA-256-sess")) { c->alg = SIP_DIGEST_SHA256; c->sess = true; }
            else FAIL("unsupported digest algorithm %.32s", val);
        } else if (!strcasecmp(name, "qop")) {
            /* a list: "auth,auth-int" */
            for (char *t = strtok(val, ", \t"); t; t = strtok(NULL, ", \t"))
                if (!strcasecmp(t, "auth")) c->qop_auth = true;
            if (!c->qop_auth) FAIL("the server wants qop=auth-int only");
        } else if (!strcasecmp(name, "stale")) {
            c->stale = !strcasecmp(val, "true");
        }
    }
    (void)have_alg;
    if (r < 0) FAIL("bad syntax in the Digest challenge");
    if (!c->nonce[0]) FAIL("the Digest challenge has no nonce");
    return 0;
}

int sip_digest_from_response(const sip_msg *resp, sip_digest_challenge *c, char *err, size_t errlen)
{
    sip_hid want = resp->status == 407 ? SIP_H_PROXY_AUTHENTICATE : SIP_H_WWW_AUTHENTICATE;
    bool found = false;
    char last[160] = "no Digest challenge in the response";
    for (size_t i = 0; i < resp->n_hdr; i++) {
        if (resp->hdr[i].id != want) continue;
        sip_digest_challenge t;
        char why[160];
        if (sip_digest_parse(resp->hdr[i].value, &t, why, sizeof why)) {
            snprintf(last, sizeof last, "%s", why);
            continue;
        }
        if (!found || (t.alg == SIP_DIGEST_SHA256 && c->alg != SIP_DIGEST_SHA256)) *c = t;
        found = true;
    }
    if (!found) FAIL("%s", last);
    c->proxy = resp->status == 407;
    return 0;
}

static int hash_hex(sip_digest_alg alg, const char *s, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(s, strlen(s), md, &n, alg == SIP_DIGEST_SHA256 ? EVP_sha256() : EVP_md5(), NULL)) return -1;
    for (unsigned i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", md[i]);
    return 0;
}

int sip_digest_response(const sip_digest_challenge *c, const char *user, const char *password,
                        const char *method, const char *uri, uint32_t nc, const char *cnonce,
                        char *out, size_t outlen)
{
    char buf[2048], ha1[65], ha2[65], resp[65];
    if (outlen < 65) return -1;
    if (snprintf(buf, sizeof buf, "%s:%s:%s", user, c->realm, password) >= (int)sizeof buf) return -1;
    if (hash_hex(c->alg, buf, ha1)) return -1;
    OPENSSL_cleanse(buf, sizeof buf);
    if (c->sess) {
        if (snprintf(buf, sizeof buf, "%s:%s:%s", ha1, c->nonce, cnonce) >= (int)sizeof buf) return -1;
        if (hash_hex(c->alg, buf, ha1)) return -1;
    }
    if (snprintf(buf, sizeof buf, "%s:%s", method, uri) >= (int)sizeof buf) return -1;
    if (hash_hex(c->alg, buf, ha2)) return -1;
    int n = c->qop_auth ? snprintf(buf, sizeof buf, "%s:%s:%08x:%s:auth:%s", ha1, c->nonce, (unsigned)nc, cnonce, ha2)
                        : snprintf(buf, sizeof buf, "%s:%s:%s", ha1, c->nonce, ha2);
    if (n >= (int)sizeof buf || hash_hex(c->alg, buf, resp)) return -1;
    strcpy(out, resp);
    OPENSSL_cleanse(ha1, sizeof ha1);
    return 0;
}

static bool quotable(const char *s)
{
    return !strpbrk(s, "\"\\\r\n");
}

int sip_digest_authorization(const sip_digest_challenge *c, const char *user, const char *password,
                             const char *method, const char *uri, uint32_t nc, const char *cnonce,
                             char *out, size_t outlen)
{
    char cn[33], resp[65];
    if (!cnonce) {
        unsigned char r[16];
        if (random_bytes(r, sizeof r)) return -1;
        hex_encode(r, sizeof r, cn);
        cnonce = cn;
    }
    if (!quotable(user) || !quotable(uri) || !quotable(c->realm) || !quotable(c->nonce) ||
        !quotable(c->opaque) || !quotable(cnonce))
        return -1;
    if (sip_digest_response(c, user, password, method, uri, nc, cnonce, resp, sizeof resp)) return -1;
    const char *alg = c->alg == SIP_DIGEST_SHA256 ? (c->sess ? "SHA-256-sess" : "SHA-256") : (c->sess ? "MD5-sess" : "MD5");
    int n = snprintf(out, outlen, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=%s",
                     user, c->realm, c->nonce, uri, resp, alg);
    if (n < 0 || (size_t)n >= outlen) return -1;
    if (c->qop_auth) n += snprintf(out + n, outlen - (size_t)n, ", qop=auth, nc=%08x, cnonce=\"%s\"", (unsigned)nc, cnonce);
    if ((size_t)n >= outlen) return -1;
    if (c->opaque[0]) n += snprintf(out + n, outlen - (size_t)n, ", opaque=\"%s\"", c->opaque);
    return (size_t)n >= outlen ? -1 : 0;
}
