/* test_mcp_proto.c — the pure parts of src/mcp: JSON-RPC message parsing and the
 * errors it answers with, protocol revision negotiation, base64 documents, the
 * private-address check of fileUrl, and JWT checks with keys made here (RS256 and
 * ES256 signed with OpenSSL, the JWKS loaded directly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_fetch.h"
#include "mcp/mcp_jwt.h"
#include "mcp/mcp_proto.h"
#include "util/util.h"

static int parse(const char *s, mcp_message *m, int *code)
{
    char msg[256];
    json_t *id = NULL;
    int rc = mcp_parse(s, strlen(s), m, code, msg, sizeof msg, &id);
    json_decref(id);
    return rc;
}

static void test_parse_kinds(void **state)
{
    (void)state;
    mcp_message m;
    int code = 0;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", &m, &code), 0);
    assert_int_equal(m.kind, MCP_MSG_REQUEST);
    assert_string_equal(m.method, "ping");
    mcp_message_free(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m, &code), 0);
    assert_int_equal(m.kind, MCP_MSG_NOTIFICATION);
    mcp_message_free(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}", &m, &code), 0);
    assert_int_equal(m.kind, MCP_MSG_RESPONSE);
    mcp_message_free(&m);
}

static void test_parse_errors(void **state)
{
    (void)state;
    mcp_message m;
    int code = 0;
    static const struct { const char *in; int code; } cases[] = {
        {"{", MCP_ERR_PARSE},
        {"", MCP_ERR_PARSE},
        {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", MCP_ERR_INVALID_REQUEST},
        {"\"text\"", MCP_ERR_INVALID_REQUEST},
        {"{\"id\":1,\"method\":\"ping\"}", MCP_ERR_INVALID_REQUEST},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", MCP_ERR_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", MCP_ERR_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", MCP_ERR_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", MCP_ERR_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}", MCP_ERR_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", MCP_ERR_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}", MCP_ERR_PARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse(cases[i].in, &m, &code), -1);
        assert_int_equal(code, cases[i].code);
    }
    /* the error keeps the request's id when it could be read */
    char msg[256];
    json_t *id = NULL;
    const char *bad = "{\"jsonrpc\":\"2.0\",\"id\":\"x9\",\"method\":3}";
    assert_int_equal(mcp_parse(bad, strlen(bad), &m, &code, msg, sizeof msg, &id), -1);
    assert_string_equal(json_string_value(id), "x9");
    json_t *e = mcp_error(id, code, msg, NULL);
    char *s = mcp_dump(e);
    assert_non_null(strstr(s, "\"id\":\"x9\""));
    assert_null(strchr(s, '\n'));
    free(s);
    json_decref(e);
    json_decref(id);
}

static void test_versions(void **state)
{
    (void)state;
    assert_string_equal(mcp_negotiate("2024-11-05"), "2024-11-05");
    assert_string_equal(mcp_negotiate("2025-06-18"), "2025-06-18");
    assert_string_equal(mcp_negotiate("2025-11-25"), "2025-11-25");
    assert_string_equal(mcp_negotiate("2026-07-28"), MCP_VERSION_LATEST_LEGACY);   /* it has no initialize */
    assert_string_equal(mcp_negotiate("1999-01-01"), MCP_VERSION_LATEST_LEGACY);
    assert_string_equal(mcp_negotiate(NULL), MCP_VERSION_LATEST_LEGACY);
    assert_true(mcp_version_stateless("2026-07-28"));
    assert_false(mcp_version_stateless("2025-11-25"));
    assert_false(mcp_version_known("2026-07-29"));
    json_t *e = mcp_error_unsupported_version(NULL, "2030-01-01");
    json_t *err = json_object_get(e, "error");
    assert_int_equal(json_integer_value(json_object_get(err, "code")), MCP_ERR_UNSUPPORTED_VERSION);
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "data"), "requested")), "2030-01-01");
    assert_int_equal(json_array_size(json_object_get(json_object_get(err, "data"), "supported")), 5);
    json_decref(e);

    json_t *p = json_loads("{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                           "\"io.modelcontextprotocol/clientCapabilities\":{},\"progressToken\":5}}", 0, NULL);
    mcp_meta meta;
    mcp_meta_read(p, &meta);
    assert_true(meta.has_version);
    assert_string_equal(meta.version, "2026-07-28");
    assert_non_null(meta.client_caps);
    assert_int_equal(json_integer_value(meta.progress_token), 5);
    json_decref(p);
}

static void test_base64(void **state)
{
    (void)state;
    unsigned char *out;
    size_t n;
    assert_int_equal(mcp_base64_decode("aGVsbG8=", 8, 100, &out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    assert_int_equal(mcp_base64_decode("aGVs\nbG8", 8, 100, &out, &n), 0);   /* no padding, a line break */
    assert_int_equal(n, 5);
    free(out);
    const char *data_url = "data:application/pdf;base64,JVBERg==";
    assert_int_equal(mcp_base64_decode(data_url, strlen(data_url), 100, &out, &n), 0);
    assert_memory_equal(out, "%PDF", 4);
    free(out);
    assert_int_equal(mcp_base64_decode("aGVsbG8=", 8, 4, &out, &n), -1);       /* over the cap */
    assert_int_equal(mcp_base64_decode("a$==", 4, 100, &out, &n), -1);
    assert_int_equal(mcp_base64_decode("aGk=aGk=", 8, 100, &out, &n), -1);     /* data after padding */
    assert_int_equal(mcp_base64_decode("a", 1, 100, &out, &n), -1);            /* 6 stray bits */
}

static void test_private_addresses(void **state)
{
    (void)state;
    const char *priv[] = {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                          "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1", "fc00::1",
                          "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "ff02::1", "not an ip", ""};
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++) {
        if (!mcp_addr_is_private(priv[i])) fail_msg("%s counted as public", priv[i]);
    }
    const char *pub[] = {"8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:1.1.1.1"};
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
        if (mcp_addr_is_private(pub[i])) fail_msg("%s counted as private", pub[i]);
    }
    char ct[64], err[256];
    assert_int_equal(mcp_fetch_url("http://example.com/a.pdf", 1000, false, "/nonexistent/x", ct, sizeof ct, err, sizeof err), -1);
    assert_non_null(strstr(err, "https://"));
}

/* ---- JWT ---- */

static void b64url(const unsigned char *in, size_t len, char *out)
{
    base64url_encode(in, len, out);
}

static char *make_jwt(EVP_PKEY *key, bool ec, const char *kid, const char *claims)
{
    char header[256], h64[512], c64[2048], signing[2600];
    str_fmt(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", ec ? "ES256" : "RS256", kid);
    b64url((const unsigned char *)header, strlen(header), h64);
    b64url((const unsigned char *)claims, strlen(claims), c64);
    str_fmt(signing, sizeof signing, "%s.%s", h64, c64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = 0;
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key);
    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)signing, strlen(signing));
    unsigned char *sig = malloc(siglen);
    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)signing, strlen(signing));
    EVP_MD_CTX_free(md);
    unsigned char raw[64];
    const unsigned char *use = sig;
    size_t use_len = siglen;
    if (ec) {   /* DER → the JWS form r||s */
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
        ECDSA_SIG_free(es);
        use = raw;
        use_len = 64;
    }
    char s64[1024];
    b64url(use, use_len, s64);
    free(sig);
    char *out = malloc(strlen(signing) + strlen(s64) + 2);
    sprintf(out, "%s.%s", signing, s64);
    return out;
}

static void bn_b64url(EVP_PKEY *k, const char *name, char *out)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(k, name, &bn);
    unsigned char buf[512];
    int n = BN_bn2bin(bn, buf);
    b64url(buf, (size_t)n, out);
    BN_free(bn);
}

static void test_jwt(void **state)
{
    (void)state;
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(rsa);
    assert_non_null(ec);
    char n64[700], e64[16], x64[64], y64[64];
    bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_N, n64);
    bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_E, e64);
    unsigned char pub[65];
    size_t publen = 0;
    EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &publen);
    assert_int_equal(publen, 65);
    b64url(pub + 1, 32, x64);
    b64url(pub + 33, 32, y64);
    char jwks[2048];
    str_fmt(jwks, sizeof jwks,
            "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},"
            "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},{\"kty\":\"oct\",\"kid\":\"h\"}]}",
            n64, e64, x64, y64);
    mcp_jwks *ks = mcp_jwks_new("", 300);
    assert_int_equal(mcp_jwks_load(ks, jwks, strlen(jwks)), 2);

    const int64_t now = 1800000000;
    char claims[512], why[128];
    mcp_jwt_claims cl;
    str_fmt(claims, sizeof claims, "{\"iss\":\"https://i\",\"aud\":[\"x\",\"faxbot\"],\"sub\":\"u\",\"exp\":%lld,\"scope\":\"fax:send fax:read\"}",
            (long long)now + 60);
    char *t = make_jwt(rsa, false, "r1", claims);
    assert_int_equal(mcp_jwt_verify(ks, t, "https://i", "faxbot", now, &cl, why, sizeof why), 0);
    assert_string_equal(cl.scope, "fax:send,fax:read");
    assert_string_equal(cl.sub, "u");
    assert_int_equal(mcp_jwt_verify(ks, t, "https://i", "other", now, &cl, why, sizeof why), -1);
    assert_string_equal(why, "wrong audience");
    assert_int_equal(mcp_jwt_verify(ks, t, "https://j", "faxbot", now, &cl, why, sizeof why), -1);
    assert_string_equal(why, "wrong issuer");
    assert_int_equal(mcp_jwt_verify(ks, t, "https://i", "faxbot", now + 3600, &cl, why, sizeof why), -1);
    assert_string_equal(why, "expired");
    t[strlen(t) - 2] ^= 1;   /* a flipped signature bit */
    assert_int_equal(mcp_jwt_verify(ks, t, "https://i", "faxbot", now, &cl, why, sizeof why), -1);
    free(t);

    char *te = make_jwt(ec, true, "e1", claims);
    assert_int_equal(mcp_jwt_verify(ks, te, "https://i", "faxbot", now, &cl, why, sizeof why), 0);
    free(te);
    te = make_jwt(ec, true, "r1", claims);    /* ES256 naming the RSA key */
    assert_int_equal(mcp_jwt_verify(ks, te, "https://i", "faxbot", now, &cl, why, sizeof why), -1);
    assert_string_equal(why, "alg does not match the key");
    free(te);
    te = make_jwt(ec, true, "nope", claims);
    assert_int_equal(mcp_jwt_verify(ks, te, "https://i", "faxbot", now, &cl, why, sizeof why), -1);
    assert_string_equal(why, "unknown kid");
    free(te);
    str_fmt(claims, sizeof claims, "{\"iss\":\"https://i\",\"aud\":\"faxbot\",\"exp\":%lld,\"nbf\":%lld}", (long long)now + 600,
            (long long)now + 300);
    te = make_jwt(ec, true, "e1", claims);
    assert_int_equal(mcp_jwt_verify(ks, te, "https://i", "faxbot", now, &cl, why, sizeof why), -1);
    assert_string_equal(why, "not valid yet (nbf)");
    free(te);
    /* "none" and HS256 are refused whatever the key */
    const char *none = "eyJhbGciOiJub25lIiwia2lkIjoicjEifQ.eyJleHAiOjE5MDAwMDAwMDB9.";
    assert_int_equal(mcp_jwt_verify(ks, none, NULL, NULL, now, &cl, why, sizeof why), -1);
    mcp_jwks_free(ks);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_kinds), cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_versions),
        cmocka_unit_test(test_base64),      cmocka_unit_test(test_private_addresses), cmocka_unit_test(test_jwt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
