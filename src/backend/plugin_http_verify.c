/* plugin_http_verify.c — webhook authenticity checks of http_verify.h (OpenSSL). */
#include "backend/plugin_http_verify.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "backend/cloud_util.h"
#include "backend/twilio_sig.h"
#include "util/util.h"

static const EVP_MD *md_of(const char *alg)
{
    if (!strcasecmp(alg, "sha1")) return EVP_sha1();
    if (!strcasecmp(alg, "sha256") || !alg[0]) return EVP_sha256();
    if (!strcasecmp(alg, "sha512")) return EVP_sha512();
    return NULL;
}

int verify_spec_check(const verify_spec *s, char *err, size_t errlen)
{
    if (s->scheme == VERIFY_HMAC && !md_of(s->algorithm)) {
        str_fmt(err, errlen, "algorithm: must be sha1, sha256 or sha512");
        return -1;
    }
    if ((s->scheme == VERIFY_HMAC || s->scheme == VERIFY_ED25519) && s->encoding[0]
        && strcasecmp(s->encoding, "hex") && strcasecmp(s->encoding, "base64")) {
        str_fmt(err, errlen, "encoding: must be hex or base64");
        return -1;
    }
    if (s->scheme == VERIFY_HMAC && s->over[0] && strcasecmp(s->over, "body") && strcasecmp(s->over, "url_params")) {
        str_fmt(err, errlen, "over: must be body or url_params");
        return -1;
    }
    if ((s->scheme == VERIFY_HMAC || s->scheme == VERIFY_ED25519) && !s->header[0]) {
        str_fmt(err, errlen, "header: the signature header is required");
        return -1;
    }
    if (s->message[0] && !strstr(s->message, "{body}")) {
        str_fmt(err, errlen, "message: must contain {body}");
        return -1;
    }
    if (s->message[0] && strstr(s->message, "{timestamp}") && !s->timestamp_header[0]) {
        str_fmt(err, errlen, "timestamp_header: required when message uses {timestamp}");
        return -1;
    }
    return 0;
}

/* The signed text: message with {timestamp} and {body} filled, or the body, or
 * URL + sorted parameters. 0 or -1 (why). */
static int signed_text(const verify_spec *s, const verify_input *in, strbuf *out, char *why, size_t whylen)
{
    if (s->scheme == VERIFY_HMAC && !strcasecmp(s->over, "url_params")) {
        form_params fp = {0};
        if (in->body_len && form_parse(in->body ? in->body : "", in->body_len, &fp)) {
            str_fmt(why, whylen, "the body is not a form");
            return -1;
        }
        int rc = url_params_message(in->url ? in->url : "", &fp, out);
        form_free(&fp);
        return rc;
    }
    const char *m = s->message[0] ? s->message : "{body}";
    while (*m) {
        if (!strncmp(m, "{body}", 6)) {
            if (in->body_len && sb_append(out, in->body, in->body_len)) return -1;
            m += 6;
        } else if (!strncmp(m, "{timestamp}", 11)) {
            if (sb_puts(out, in->timestamp ? in->timestamp : "")) return -1;
            m += 11;
        } else {
            if (sb_append(out, m, 1)) return -1;
            m++;
        }
    }
    return 0;
}

static bool timestamp_ok(const verify_spec *s, const verify_input *in, char *why, size_t whylen)
{
    if (!s->timestamp_header[0]) return true;
    if (!in->timestamp || !*in->timestamp) {
        str_fmt(why, whylen, "missing %s header", s->timestamp_header);
        return false;
    }
    char *end = NULL;
    long long t = strtoll(in->timestamp, &end, 10);
    if (end == in->timestamp || *end) {
        str_fmt(why, whylen, "%s is not a Unix time", s->timestamp_header);
        return false;
    }
    long long skew = in->now_s - t;
    if (s->tolerance_s > 0 && (skew > s->tolerance_s || -skew > s->tolerance_s)) {
        str_fmt(why, whylen, "%s is %lld s away from now (tolerance %ld s): stale or replayed", s->timestamp_header, skew,
                s->tolerance_s);
        return false;
    }
    return true;
}

static void encode(const verify_spec *s, const unsigned char *mac, size_t n, char *out)
{
    if (!strcasecmp(s->encoding, "base64")) base64_encode(mac, n, out);
    else hex_encode(mac, n, out);
}

static int hmac_of(const verify_spec *s, const char *key, const verify_input *in, char *out, size_t outlen, char *why,
                   size_t whylen)
{
    const EVP_MD *md = md_of(s->algorithm);
    if (!md || outlen < 2 * EVP_MAX_MD_SIZE + 1) return -1;
    strbuf text;
    sb_init(&text);
    if (signed_text(s, in, &text, why, whylen)) {
        sb_free(&text);
        return -1;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    bool ok = HMAC(md, key, (int)strlen(key), (const unsigned char *)(text.data ? text.data : ""), text.len, mac, &n)
              != NULL;
    sb_free(&text);
    if (!ok) return -1;
    encode(s, mac, n, out);
    return 0;
}

int verify_hmac_sign(const verify_spec *s, const char *key, const verify_input *in, char *out, size_t outlen)
{
    char why[128];
    return s->scheme == VERIFY_HMAC ? hmac_of(s, key, in, out, outlen, why, sizeof why) : -1;
}

int ed25519_public_key(const char *text, unsigned char raw[32])
{
    if (!text) return -1;
    while (isspace((unsigned char)*text)) text++;
    if (!strncmp(text, "-----BEGIN", 10)) {
        BIO *bio = BIO_new_mem_buf(text, -1);
        EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        size_t n = 32;
        int rc = k && EVP_PKEY_id(k) == EVP_PKEY_ED25519 && EVP_PKEY_get_raw_public_key(k, raw, &n) == 1 && n == 32
                     ? 0 : -1;
        EVP_PKEY_free(k);
        BIO_free(bio);
        return rc;
    }
    size_t len = strlen(text);
    while (len && isspace((unsigned char)text[len - 1])) len--;
    if (len == 64) {                       /* hex */
        for (size_t i = 0; i < 32; i++) {
            char b[3] = { text[2 * i], text[2 * i + 1], 0 };
            if (!isxdigit((unsigned char)b[0]) || !isxdigit((unsigned char)b[1])) return -1;
            raw[i] = (unsigned char)strtol(b, NULL, 16);
        }
        return 0;
    }
    size_t n = 0;
    unsigned char *d = base64_decode(text, len, 64, false, &n);
    int rc = d && n == 32 ? 0 : -1;
    if (rc == 0) memcpy(raw, d, 32);
    free(d);
    return rc;
}

static bool ed25519_ok(const verify_spec *s, const char *key, const verify_input *in, const char *sig, char *why,
                       size_t whylen)
{
    unsigned char pub[32], sigraw[64];
    if (ed25519_public_key(key, pub)) {
        str_fmt(why, whylen, "the configured Ed25519 public key is not 32 bytes (base64, hex or PEM)");
        return false;
    }
    size_t n = 0;
    unsigned char *d = NULL;
    if (!strcasecmp(s->encoding, "hex")) {
        if (strlen(sig) == 128) {
            d = malloc(64);
            for (size_t i = 0; d && i < 64; i++) {
                char b[3] = { sig[2 * i], sig[2 * i + 1], 0 };
                d[i] = (unsigned char)strtol(b, NULL, 16);
            }
            n = 64;
        }
    } else {
        d = base64_decode(sig, strlen(sig), 128, false, &n);
    }
    if (!d || n != 64) {
        free(d);
        str_fmt(why, whylen, "%s is not a 64-byte Ed25519 signature", s->header);
        return false;
    }
    memcpy(sigraw, d, 64);
    free(d);
    strbuf text;
    sb_init(&text);
    bool ok = false;
    if (signed_text(s, in, &text, why, whylen) == 0) {
        EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        ok = k && c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1
             && EVP_DigestVerify(c, sigraw, 64, (const unsigned char *)(text.data ? text.data : ""), text.len) == 1;
        EVP_MD_CTX_free(c);
        EVP_PKEY_free(k);
        if (!ok) str_fmt(why, whylen, "the Ed25519 signature in %s does not match", s->header);
    }
    sb_free(&text);
    return ok;
}

bool verify_request(const verify_spec *s, const char *key, const verify_input *in, char *why, size_t whylen)
{
    if (whylen) why[0] = 0;
    switch (s->scheme) {
    case VERIFY_NONE:
        return true;
    case VERIFY_BASIC: {
        const char *colon = key ? strchr(key, ':') : NULL;
        if (!colon || colon == key) {
            str_fmt(why, whylen, "no webhook credentials are configured");
            return false;
        }
        char user[256];
        str_fmt(user, sizeof user, "%.*s", (int)(colon - key), key);
        if (!cloud_basic_auth_ok(in->authorization, user, colon + 1)) {
            str_fmt(why, whylen, "missing or wrong HTTP Basic credentials");
            return false;
        }
        return true;
    }
    case VERIFY_HMAC:
    case VERIFY_ED25519:
        break;
    }
    if (!key || !*key) {
        str_fmt(why, whylen, "no verification key is configured");
        return false;
    }
    const char *sig = in->signature;
    if (!sig || !*sig) {
        str_fmt(why, whylen, "missing %s header", s->header);
        return false;
    }
    while (*sig == ' ') sig++;
    size_t pl = strlen(s->prefix);
    if (pl && !strncasecmp(sig, s->prefix, pl)) sig += pl;
    if (!timestamp_ok(s, in, why, whylen)) return false;
    if (s->scheme == VERIFY_ED25519) return ed25519_ok(s, key, in, sig, why, whylen);
    char want[2 * EVP_MAX_MD_SIZE + 1];
    if (hmac_of(s, key, in, want, sizeof want, why, whylen)) {
        if (!why[0]) str_fmt(why, whylen, "could not compute the HMAC");
        return false;
    }
    bool ok;
    if (!strcasecmp(s->encoding, "base64")) {
        ok = secure_streq(want, sig);
    } else {
        char got[2 * EVP_MAX_MD_SIZE + 1];
        size_t i = 0;
        for (; sig[i] && i < sizeof got - 1; i++) got[i] = (char)tolower((unsigned char)sig[i]);
        got[i] = 0;
        ok = secure_streq(want, got);
    }
    if (!ok) str_fmt(why, whylen, "the HMAC in %s does not match", s->header);
    return ok;
}
