/* test_plugin_http.c — unit tests for the pure parts of the http plugin kind:
 * templates, JSON paths and the host allow-list; webhook verification (HMAC-SHA256/SHA1
 * against RFC 4231/2202 values, the URL + sorted parameters scheme against Twilio's
 * published example, Ed25519 with a fresh OpenSSL key over "<timestamp>|<body>", HTTP
 * Basic, stale timestamps); and the manifest section validator — every bundled http
 * manifest valid, and each kind of bad section refused with the field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "backend/plugin_http.h"
#include "backend/plugin_http_template.h"
#include "backend/plugin_http_verify.h"
#include "util/util.h"

/* ---- templates, paths, hosts ---- */

static const char *vars(void *ctx, const char *name, char *buf, size_t buflen)
{
    (void)ctx;
    if (!strcmp(name, "fax.to")) return "+15551234567";
    if (!strcmp(name, "config.key")) return "s3cr3t";
    if (!strcmp(name, "config.empty")) return "";
    (void)buf;
    (void)buflen;
    return NULL;
}

static void test_templates(void **state)
{
    (void)state;
    char err[200];
    strbuf sb;
    sb_init(&sb);
    assert_int_equal(tmpl_render("to={{fax.to}}&k={{ config.key }}{{config.empty}}!", vars, NULL, &sb, err, sizeof err), 0);
    assert_string_equal(sb.data, "to=+15551234567&k=s3cr3t!");
    sb_free(&sb);
    sb_init(&sb);
    assert_int_equal(tmpl_render("{{fax.nope}}", vars, NULL, &sb, err, sizeof err), -1);
    assert_non_null(strstr(err, "{{fax.nope}}"));
    sb_free(&sb);
    sb_init(&sb);
    assert_int_equal(tmpl_render("a {{fax.to", vars, NULL, &sb, err, sizeof err), -1);
    sb_free(&sb);
}

static void test_json_paths(void **state)
{
    (void)state;
    json_t *o = json_loads("{\"data\":{\"id\":\"f1\",\"n\":3,\"items\":[{\"x\":true}]},\"errors\":[{\"detail\":\"bad\"}]}", 0, NULL);
    char out[64];
    json_path_text(o, "data.id", out, sizeof out);
    assert_string_equal(out, "f1");
    json_path_text(o, "data.n", out, sizeof out);
    assert_string_equal(out, "3");
    json_path_text(o, "data.items[0].x", out, sizeof out);
    assert_string_equal(out, "true");
    json_path_text(o, "errors[0].detail", out, sizeof out);
    assert_string_equal(out, "bad");
    json_path_text(o, "errors[5].detail", out, sizeof out);
    assert_string_equal(out, "");
    json_path_text(o, "data.id.deeper", out, sizeof out);
    assert_string_equal(out, "");
    assert_true(json_path_valid("a.b[2].c"));
    assert_false(json_path_valid("a..b"));
    assert_false(json_path_valid("a[x]"));
    assert_false(json_path_valid(""));
    json_decref(o);
}

static void test_hosts(void **state)
{
    (void)state;
    char host[256];
    assert_int_equal(url_host("https://user:pw@API.Telnyx.com:443/v2/faxes?x=1", host, sizeof host), 0);
    assert_string_equal(host, "api.telnyx.com");
    assert_int_equal(url_host("http://[::1]:8080/x", host, sizeof host), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(url_host("ftp://example.com/", host, sizeof host), -1);
    assert_int_equal(url_host("https:///nohost", host, sizeof host), -1);
    const char *pats[] = {"api.telnyx.com", "*.s3.amazonaws.com"};
    assert_true(host_allowed("api.telnyx.com", pats, 2));
    assert_true(host_allowed("bucket.s3.amazonaws.com", pats, 2));
    assert_false(host_allowed("s3.amazonaws.com", pats, 2));          /* *.x is subdomains only */
    assert_false(host_allowed("api.telnyx.com.evil.example", pats, 2));
    assert_false(host_allowed("evilapi.telnyx.com", pats, 2));
    assert_false(host_allowed("xs3.amazonaws.com", pats, 2));
}

/* ---- verification ---- */

static verify_spec hmac_spec(const char *alg, const char *enc, const char *over)
{
    verify_spec s;
    memset(&s, 0, sizeof s);
    s.scheme = VERIFY_HMAC;
    str_copy(s.algorithm, sizeof s.algorithm, alg);
    str_copy(s.encoding, sizeof s.encoding, enc);
    str_copy(s.over, sizeof s.over, over);
    str_copy(s.header, sizeof s.header, "X-Sig");
    return s;
}

static void test_hmac_known_answers(void **state)
{
    (void)state;
    const char *body = "what do ya want for nothing?";
    verify_input in = {.body = body, .body_len = strlen(body)};
    char why[200];
    verify_spec s = hmac_spec("sha256", "hex", "body");
    /* RFC 4231 test case 2 */
    in.signature = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    assert_true(verify_request(&s, "Jefe", &in, why, sizeof why));
    in.signature = "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843";   /* any hex case */
    assert_true(verify_request(&s, "Jefe", &in, why, sizeof why));
    in.signature = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3844";
    assert_false(verify_request(&s, "Jefe", &in, why, sizeof why));
    assert_non_null(strstr(why, "X-Sig"));
    in.signature = NULL;
    assert_false(verify_request(&s, "Jefe", &in, why, sizeof why));
    assert_non_null(strstr(why, "missing"));
    /* with a prefix, as "sha256=<hex>" headers carry it */
    str_copy(s.prefix, sizeof s.prefix, "sha256=");
    in.signature = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    assert_true(verify_request(&s, "Jefe", &in, why, sizeof why));
    /* RFC 2202 test case 2 (SHA-1) */
    verify_spec s1 = hmac_spec("sha1", "hex", "body");
    in.signature = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
    assert_true(verify_request(&s1, "Jefe", &in, why, sizeof why));
    /* no key configured: refused, never "no check" */
    assert_false(verify_request(&s1, "", &in, why, sizeof why));
}

static void test_hmac_url_params_twilio_example(void **state)
{
    (void)state;
    /* Twilio's published example: token 12345, this URL, these parameters (unsorted,
     * urlencoded) -> base64(HMAC-SHA1(URL + sorted name+value)) */
    const char *body = "To=%2B18005551212&Digits=1234&From=%2B14158675310&CallSid=CA1234567890ABCDE&Caller=%2B14158675310";
    verify_spec s = hmac_spec("sha1", "base64", "url_params");
    verify_input in = {.body = body, .body_len = strlen(body), .url = "https://mycompany.com/myapp.php?foo=1&bar=2",
                       .signature = "GvWf1cFY/Q7PnoempGyD5oXAezc="};
    char why[200], sig[200];
    assert_true(verify_request(&s, "12345", &in, why, sizeof why));
    assert_int_equal(verify_hmac_sign(&s, "12345", &in, sig, sizeof sig), 0);
    assert_string_equal(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
    in.url = "https://mycompany.com/myapp.php?foo=1&bar=3";
    assert_false(verify_request(&s, "12345", &in, why, sizeof why));
}

static void test_ed25519(void **state)
{
    (void)state;
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    assert_non_null(kc);
    assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
    assert_int_equal(EVP_PKEY_keygen(kc, &k), 1);
    unsigned char pub[32], sig[64];
    size_t n = 32, sl = 64;
    assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &n), 1);
    const char *body = "{\"data\":{\"event_type\":\"fax.delivered\"}}";
    char ts[32], msg[256], pub64[64], sig64[100];
    long long now = 1700000000;
    snprintf(ts, sizeof ts, "%lld", now);
    snprintf(msg, sizeof msg, "%s|%s", ts, body);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(c, NULL, NULL, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(c, sig, &sl, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(c);
    base64_encode(pub, 32, pub64);
    base64_encode(sig, 64, sig64);

    verify_spec s;
    memset(&s, 0, sizeof s);
    s.scheme = VERIFY_ED25519;
    str_copy(s.encoding, sizeof s.encoding, "base64");
    str_copy(s.header, sizeof s.header, "telnyx-signature-ed25519");
    str_copy(s.timestamp_header, sizeof s.timestamp_header, "telnyx-timestamp");
    str_copy(s.message, sizeof s.message, "{timestamp}|{body}");
    s.tolerance_s = 300;
    verify_input in = {.body = body, .body_len = strlen(body), .signature = sig64, .timestamp = ts, .now_s = now + 10};
    char why[200];
    assert_true(verify_request(&s, pub64, &in, why, sizeof why));
    /* the same key as hex */
    char pubhex[65];
    hex_encode(pub, 32, pubhex);
    assert_true(verify_request(&s, pubhex, &in, why, sizeof why));
    /* another timestamp (the signature covers it), a changed body, stale, missing */
    char ts2[32];
    snprintf(ts2, sizeof ts2, "%lld", now + 1);
    in.timestamp = ts2;
    assert_false(verify_request(&s, pub64, &in, why, sizeof why));
    in.timestamp = ts;
    in.body_len -= 1;
    assert_false(verify_request(&s, pub64, &in, why, sizeof why));
    in.body_len += 1;
    in.now_s = now + 301;
    assert_false(verify_request(&s, pub64, &in, why, sizeof why));
    assert_non_null(strstr(why, "stale"));
    in.now_s = now;
    in.timestamp = NULL;
    assert_false(verify_request(&s, pub64, &in, why, sizeof why));
    in.timestamp = ts;
    assert_false(verify_request(&s, "not-a-key", &in, why, sizeof why));
    assert_non_null(strstr(why, "public key"));
    in.signature = "AAAA";
    assert_false(verify_request(&s, pub64, &in, why, sizeof why));
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(kc);
}

static void test_basic(void **state)
{
    (void)state;
    verify_spec s;
    memset(&s, 0, sizeof s);
    s.scheme = VERIFY_BASIC;
    char why[200];
    verify_input in = {.authorization = "Basic aG9va3VzZXI6aG9va3Bhc3M="};   /* hookuser:hookpass */
    assert_true(verify_request(&s, "hookuser:hookpass", &in, why, sizeof why));
    assert_false(verify_request(&s, "hookuser:other", &in, why, sizeof why));
    assert_false(verify_request(&s, ":", &in, why, sizeof why));
    in.authorization = NULL;
    assert_false(verify_request(&s, "hookuser:hookpass", &in, why, sizeof why));
}

/* ---- manifests ---- */

static json_t *load_bundled(const char *id)
{
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/bundled/%s/manifest.json", SOURCE_ROOT, id);
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    if (!m) fail_msg("%s: %s", path, je.text);
    return m;
}

static void test_bundled_manifests_valid(void **state)
{
    (void)state;
    const char *ids[] = {"faxbot-http-telnyx", "faxbot-http-documo"};
    for (size_t i = 0; i < 2; i++) {
        json_t *m = load_bundled(ids[i]);
        char err[300] = "";
        http_def d;
        if (http_def_parse(m, &d, err, sizeof err)) fail_msg("%s: %s", ids[i], err);
        assert_true(d.n_webhooks >= 1);
        http_def_free(&d);
        json_decref(m);
    }
}

static void test_telnyx_mappings(void **state)
{
    (void)state;
    json_t *m = load_bundled("faxbot-http-telnyx");
    char err[300];
    http_def d;
    assert_int_equal(http_def_parse(m, &d, err, sizeof err), 0);
    assert_int_equal(http_map_status(&d, "delivered"), HSTATE_DELIVERED);
    assert_int_equal(http_map_status(&d, "sending"), HSTATE_PENDING);
    assert_int_equal(http_map_status(&d, "failed"), HSTATE_FAILED);
    assert_int_equal(http_map_status(&d, "something-new"), HSTATE_PENDING);
    const http_failure_rule *r = http_map_failure(&d, "user_busy");
    assert_string_equal(r->reason, "busy");
    assert_true(r->transient);
    r = http_map_failure(&d, "destination_invalid");
    assert_string_equal(r->reason, "invalid_number");
    assert_false(r->transient);
    r = http_map_failure(&d, "never_heard_of_it");
    assert_string_equal(r->reason, "provider_error");
    assert_true(http_def_host_ok(&d, "https://api.telnyx.com/v2/faxes"));
    assert_false(http_def_host_ok(&d, "https://api.telnyx.com.evil.example/v2/faxes"));
    http_def_free(&d);
    json_decref(m);
}

/* Applies an edit (a JSON merge of `patch` at the dotted path) to Telnyx's manifest
 * and expects the validator to name `field`. */
static void expect_refused(const char *path, const char *patch_json, const char *field)
{
    json_t *m = load_bundled("faxbot-http-telnyx");
    json_t *at = m;
    char buf[200];
    str_copy(buf, sizeof buf, path);
    char *save = NULL;
    char *last = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (last) at = json_object_get(at, last);
        last = tok;
    }
    json_t *v = json_loads(patch_json, JSON_DECODE_ANY, NULL);
    if (!strcmp(patch_json, "DELETE")) json_object_del(at, last);
    else json_object_set_new(at, last, v);
    char err[300] = "";
    assert_int_equal(http_section_validate(m, err, sizeof err), -1);
    if (!strstr(err, field)) fail_msg("editing %s: expected the error to name %s, got: %s", path, field, err);
    json_decref(m);
}

static void test_bad_sections_name_the_field(void **state)
{
    (void)state;
    expect_refused("http.auth.scheme", "\"kerberos\"", "http.auth.scheme");
    expect_refused("http.allowed_hosts", "[]", "http.allowed_hosts");
    expect_refused("http.base_url", "\"https://elsewhere.example/v2\"", "http.base_url");
    expect_refused("http.send.path", "\"https://evil.example/faxes\"", "http.send.path");
    expect_refused("http.send.fields.to", "\"{{fax.nope}}\"", "http.send.fields.to");
    expect_refused("http.send.fields.from", "\"{{config.not_a_field}}\"", "http.send.fields.from");
    expect_refused("http.send.response", "{}", "http.send.response.id_path");
    expect_refused("http.status_map.delivered", "\"done\"", "http.status_map.delivered");
    expect_refused("http.failure_map.user_busy", "{\"reason\":\"sleepy\"}", "http.failure_map.user_busy");
    expect_refused("http.send", "DELETE", "http.send");
    expect_refused("http.auth", "{\"scheme\":\"oauth2_client_credentials\",\"token_url\":\"https://auth.other.example/t\",\"client_id\":\"a\",\"client_secret\":\"b\"}",
                   "http.auth.token_url");
    expect_refused("http.webhooks", "[{\"name\":\"events\",\"verify\":{\"scheme\":\"hmac\",\"algorithm\":\"md5\",\"header\":\"X\",\"key\":\"k\"},\"id_path\":\"id\",\"status_path\":\"s\"}]",
                   "http.webhooks[0].verify.algorithm");
    expect_refused("http.webhooks", "[{\"name\":\"events\",\"id_path\":\"id\",\"status_path\":\"s\"}]",
                   "http.webhooks[0].verify");
    expect_refused("http.webhooks", "[{\"name\":\"events\",\"verify\":{\"scheme\":\"none\"}}]",
                   "http.webhooks[0].id_path");
    expect_refused("http.webhooks", "[{\"name\":\"in\",\"carries\":\"inbound\",\"verify\":{\"scheme\":\"none\"}}]",
                   "http.webhooks[0].media_url_path");
    expect_refused("http.timeout_seconds", "0", "http.timeout_seconds");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_json_paths),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_hmac_known_answers),
        cmocka_unit_test(test_hmac_url_params_twilio_example),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_bundled_manifests_valid),
        cmocka_unit_test(test_telnyx_mappings),
        cmocka_unit_test(test_bad_sections_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
