/* test_apikey.c — API key tokens (generate, parse, hash, rotate) and scope lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/apikey.h"
#include "util/util.h"

static const char *good_secret = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ_-01234"; /* 43 chars */

static void test_generate_parse_hash_roundtrip(void **state)
{
    (void)state;
    char token[128], id[APIKEY_ID_LEN + 1], secret[128];
    assert_int_equal(apikey_generate(NULL, token, sizeof token, id, secret), 0);
    assert_int_equal(strlen(id), 12);
    assert_int_equal(strlen(secret), 43);
    assert_int_equal(strncmp(token, "fbk_live_", 9), 0);

    apikey_parts p;
    assert_int_equal(apikey_parse(token, &p), 0);
    assert_string_equal(p.key_id, id);
    assert_string_equal(p.secret, secret);

    char h1[65], h2[65], h3[65], expect[65];
    apikey_hash("pepper", p.secret, h1);
    apikey_hash("pepper", secret, h2);
    apikey_hash("other-pepper", secret, h3);
    hmac_sha256_hex("pepper", 6, secret, strlen(secret), expect);
    assert_string_equal(h1, h2);
    assert_string_equal(h1, expect);
    assert_string_not_equal(h1, h3);
    assert_int_equal(strlen(h1), 64);

    /* Two keys differ in id and secret. */
    char token2[128], id2[13], secret2[128];
    assert_int_equal(apikey_generate(NULL, token2, sizeof token2, id2, secret2), 0);
    assert_string_not_equal(id, id2);
    assert_string_not_equal(secret, secret2);
}

static void test_many_generated_tokens_parse(void **state)
{
    (void)state;
    /* Secrets often contain '_' and '-'; the parser must keep them whole. */
    for (int i = 0; i < 500; i++) {
        char token[128], id[13], secret[128];
        assert_int_equal(apikey_generate(NULL, token, sizeof token, id, secret), 0);
        apikey_parts p;
        assert_int_equal(apikey_parse(token, &p), 0);
        assert_string_equal(p.secret, secret);
        assert_string_equal(p.key_id, id);
    }
}

static void test_rotation_keeps_key_id(void **state)
{
    (void)state;
    char token[128], id[13], secret[128];
    assert_int_equal(apikey_generate(NULL, token, sizeof token, id, secret), 0);
    char token2[128], id2[13], secret2[128];
    assert_int_equal(apikey_generate(id, token2, sizeof token2, id2, secret2), 0);
    assert_string_equal(id2, id);
    assert_string_not_equal(secret2, secret);
    apikey_parts p;
    assert_int_equal(apikey_parse(token2, &p), 0);
    assert_string_equal(p.key_id, id);
    /* A malformed id to keep is refused. */
    assert_int_equal(apikey_generate("ABCDEF012345", token2, sizeof token2, id2, secret2), -1);
    assert_int_equal(apikey_generate("abc", token2, sizeof token2, id2, secret2), -1);
    /* Too small a token buffer is refused. */
    assert_int_equal(apikey_generate(NULL, token2, 40, id2, secret2), -1);
}

static void test_parse_accepts_valid_forms(void **state)
{
    (void)state;
    char tok[256];
    apikey_parts p;
    snprintf(tok, sizeof tok, "fbk_live_0123456789ab_%s", good_secret);
    assert_int_equal(apikey_parse(tok, &p), 0);
    assert_string_equal(p.key_id, "0123456789ab");
    assert_string_equal(p.secret, good_secret);
    /* 100 chars is the longest secret accepted. */
    char longsec[101];
    memset(longsec, 'A', 100);
    longsec[100] = 0;
    snprintf(tok, sizeof tok, "fbk_live_0123456789ab_%s", longsec);
    assert_int_equal(apikey_parse(tok, &p), 0);
    assert_int_equal(strlen(p.secret), 100);
    assert_int_equal(apikey_parse(tok, NULL), 0);
}

static void test_parse_rejects_malformed(void **state)
{
    (void)state;
    char tok[256];
    const char *bad_prefixes[] = {"fbk_test_", "fbk__", "FBK_live_", "fbk_live", "xfbk_live_", "fbk_anything_", ""};
    for (size_t i = 0; i < sizeof bad_prefixes / sizeof *bad_prefixes; i++) {
        snprintf(tok, sizeof tok, "%s0123456789ab_%s", bad_prefixes[i], good_secret);
        assert_int_equal(apikey_parse(tok, NULL), -1);
    }
    /* key id: uppercase, short, long, non-hex */
    const char *bad_ids[] = {"0123456789AB", "0123456789a", "0123456789abc", "0123456789ag", "", "0123456789a_"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        snprintf(tok, sizeof tok, "fbk_live_%s_%s", bad_ids[i], good_secret);
        assert_int_equal(apikey_parse(tok, NULL), -1);
    }
    /* secret: short, too long, bad characters */
    snprintf(tok, sizeof tok, "fbk_live_0123456789ab_%.42s", good_secret);
    assert_int_equal(apikey_parse(tok, NULL), -1);
    char longsec[102];
    memset(longsec, 'A', 101);
    longsec[101] = 0;
    snprintf(tok, sizeof tok, "fbk_live_0123456789ab_%s", longsec);
    assert_int_equal(apikey_parse(tok, NULL), -1);
    const char *bad_chars[] = {"+", "/", "=", " ", "\n", "\xc3\xa9", "."};
    for (size_t i = 0; i < sizeof bad_chars / sizeof *bad_chars; i++) {
        snprintf(tok, sizeof tok, "fbk_live_0123456789ab_%s%s", good_secret, bad_chars[i]);
        assert_int_equal(apikey_parse(tok, NULL), -1);
    }
    /* missing separator, empty, NULL */
    snprintf(tok, sizeof tok, "fbk_live_0123456789ab%s", good_secret);
    assert_int_equal(apikey_parse(tok, NULL), -1);
    assert_int_equal(apikey_parse("", NULL), -1);
    assert_int_equal(apikey_parse(NULL, NULL), -1);
    assert_int_equal(apikey_parse("fbk_live_0123456789ab_", NULL), -1);
}

static void test_scopes_normalize(void **state)
{
    (void)state;
    char out[256], err[256];
    assert_int_equal(apikey_scopes_normalize("fax:send, fax:read", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "fax:send,fax:read");
    assert_int_equal(apikey_scopes_normalize(" fax:read ,fax:read,  * ,fax:read", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "fax:read,*");
    assert_int_equal(
        apikey_scopes_normalize("inbound:list,inbound:read,keys:manage", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "inbound:list,inbound:read,keys:manage");
    assert_int_equal(apikey_scopes_normalize("fax:send,,fax:read,", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "fax:send,fax:read");

    err[0] = 0;
    assert_int_equal(apikey_scopes_normalize("fax:send, fax:write", out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown scope 'fax:write'"));
    assert_non_null(strstr(err, "valid scopes are: fax:send"));
    assert_non_null(strstr(err, "keys:manage"));
    assert_int_equal(apikey_scopes_normalize("FAX:SEND", out, sizeof out, err, sizeof err), -1);
    assert_int_equal(apikey_scopes_normalize("", out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "no scopes"));
    assert_int_equal(apikey_scopes_normalize(" , ", out, sizeof out, err, sizeof err), -1);
    assert_int_equal(apikey_scopes_normalize(NULL, out, sizeof out, err, sizeof err), -1);
    /* output too small */
    char tiny[8];
    assert_int_equal(apikey_scopes_normalize("fax:send,fax:read", tiny, sizeof tiny, err, sizeof err), -1);
    /* err may be omitted */
    assert_int_equal(apikey_scopes_normalize("bogus", out, sizeof out, NULL, 0), -1);
}

static void test_scopes_allow(void **state)
{
    (void)state;
    assert_true(apikey_scopes_allow("fax:send,fax:read", "fax:read"));
    assert_true(apikey_scopes_allow("fax:send", "fax:send"));
    assert_false(apikey_scopes_allow("fax:send", "fax:read"));
    assert_false(apikey_scopes_allow("fax:sendx", "fax:send"));
    assert_false(apikey_scopes_allow("fax:send", "fax:sen"));
    assert_true(apikey_scopes_allow("*", "fax:send"));
    assert_true(apikey_scopes_allow("*", "inbound:read"));
    assert_false(apikey_scopes_allow("*", "keys:manage"));
    assert_true(apikey_scopes_allow("*,keys:manage", "keys:manage"));
    assert_true(apikey_scopes_allow("keys:manage", "keys:manage"));
    assert_false(apikey_scopes_allow("keys:manage", "fax:send"));
    assert_true(apikey_scopes_allow("fax:send, fax:read", "fax:read"));
    assert_false(apikey_scopes_allow("", "fax:send"));
    assert_false(apikey_scopes_allow(NULL, "fax:send"));
    assert_false(apikey_scopes_allow("*", ""));
    assert_false(apikey_scopes_allow("*", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_parse_hash_roundtrip),
        cmocka_unit_test(test_many_generated_tokens_parse),
        cmocka_unit_test(test_rotation_keeps_key_id),
        cmocka_unit_test(test_parse_accepts_valid_forms),
        cmocka_unit_test(test_parse_rejects_malformed),
        cmocka_unit_test(test_scopes_normalize),
        cmocka_unit_test(test_scopes_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
