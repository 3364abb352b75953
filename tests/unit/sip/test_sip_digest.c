/* test_sip_digest.c — Digest answers (src/sip/sip_digest.c) against the published
 * vectors of RFC 2617 §3.5 (MD5, qop=auth) and RFC 7616 §3.9.1 (MD5 and SHA-256),
 * challenge parsing from a real 401/407, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sip/sip_digest.h"

static void test_rfc2617_vector(void **state)
{
    (void)state;
    sip_digest_challenge c;
    char err[160], out[65];
    assert_int_equal(sip_digest_parse("Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                                      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
                                      &c, err, sizeof err), 0);
    assert_true(c.qop_auth);
    assert_int_equal(c.alg, SIP_DIGEST_MD5);
    assert_int_equal(sip_digest_response(&c, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", 1, "0a4f113b",
                                         out, sizeof out), 0);
    assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
}

static void test_rfc7616_vectors(void **state)
{
    (void)state;
    sip_digest_challenge c;
    char err[160], out[65];
    const char *cn = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    assert_int_equal(sip_digest_parse("Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, "
                                      "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
                                      "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"", &c, err, sizeof err), 0);
    assert_int_equal(sip_digest_response(&c, "Mufasa", "Circle of Life", "GET", "/dir/index.html", 1, cn, out, sizeof out), 0);
    assert_string_equal(out, "8ca523f5e9506fed4657c9700eebdbec");
    assert_int_equal(sip_digest_parse("Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, "
                                      "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
                                      "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"", &c, err, sizeof err), 0);
    assert_int_equal(c.alg, SIP_DIGEST_SHA256);
    assert_int_equal(sip_digest_response(&c, "Mufasa", "Circle of Life", "GET", "/dir/index.html", 1, cn, out, sizeof out), 0);
    assert_string_equal(out, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");

    char hdr[1024];
    assert_int_equal(sip_digest_authorization(&c, "Mufasa", "Circle of Life", "GET", "/dir/index.html", 1, cn, hdr, sizeof hdr), 0);
    assert_non_null(strstr(hdr, "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""));
    assert_non_null(strstr(hdr, "algorithm=SHA-256"));
    assert_non_null(strstr(hdr, "qop=auth, nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\""));
    assert_non_null(strstr(hdr, "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
    assert_null(strstr(hdr, "Circle"));
}

static void test_from_sip_response(void **state)
{
    (void)state;
    static const char r407[] =
        "SIP/2.0 407 Proxy Authentication Required\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKq\r\nFrom: <sip:fax@example.com>;tag=1\r\n"
        "To: <sip:+15551234567@example.com>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
        "Proxy-Authenticate: Digest realm=\"example.com\", nonce=\"n1\", algorithm=MD5\r\n"
        "Proxy-Authenticate: Digest realm=\"example.com\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\", stale=TRUE\r\n"
        "Content-Length: 0\r\n\r\n";
    sip_msg *m;
    size_t used;
    sip_parse_error perr;
    assert_int_equal(sip_msg_parse(r407, strlen(r407), true, &m, &used, &perr), SIP_PARSE_OK);
    sip_digest_challenge c;
    char err[160];
    assert_int_equal(sip_digest_from_response(m, &c, err, sizeof err), 0);
    assert_true(c.proxy);
    assert_int_equal(c.alg, SIP_DIGEST_SHA256);
    assert_string_equal(c.nonce, "n2");
    assert_true(c.stale);
    /* without qop: the RFC 2069 form H(HA1:nonce:HA2) */
    sip_digest_challenge old;
    assert_int_equal(sip_digest_parse("Digest realm=\"r\", nonce=\"n\"", &old, err, sizeof err), 0);
    char out[65], hdr[512];
    assert_int_equal(sip_digest_response(&old, "u", "p", "REGISTER", "sip:r", 1, "x", out, sizeof out), 0);
    assert_int_equal(strlen(out), 32);
    assert_int_equal(sip_digest_authorization(&old, "u", "p", "REGISTER", "sip:r", 1, NULL, hdr, sizeof hdr), 0);
    assert_null(strstr(hdr, "qop"));
    sip_msg_free(m);
}

static void test_refusals(void **state)
{
    (void)state;
    sip_digest_challenge c;
    char err[160], hdr[512];
    assert_int_equal(sip_digest_parse("Basic realm=\"x\"", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "not Digest"));
    assert_int_equal(sip_digest_parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "unsupported"));
    assert_int_equal(sip_digest_parse("Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"", &c, err, sizeof err), -1);
    assert_int_equal(sip_digest_parse("Digest realm=\"x\"", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "no nonce"));
    assert_int_equal(sip_digest_parse("Digest realm=\"x, nonce=n", &c, err, sizeof err), -1);
    assert_int_equal(sip_digest_parse("Digest realm=\"x\", nonce=\"n\"", &c, err, sizeof err), 0);
    /* a user name that would break the quoted string is refused */
    assert_int_equal(sip_digest_authorization(&c, "a\"b", "p", "REGISTER", "sip:x", 1, "c", hdr, sizeof hdr), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2617_vector),
        cmocka_unit_test(test_rfc7616_vectors),
        cmocka_unit_test(test_from_sip_response),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
