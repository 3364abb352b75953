/* test_util.c — the shared helpers: ISO-8601 round trips, base64url, constant-time
 * string equality, phone masking, string buffers and a few file chores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "util/util.h"
#include "util/log_tap.h"

static void test_iso8601_roundtrip(void **state)
{
    (void)state;
    char buf[32];
    iso8601_from_ms(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000+00:00");
    iso8601_from_ms(1764064800123LL, buf);
    assert_string_equal(buf, "2025-11-25T10:00:00.123+00:00");
    assert_true(ms_from_iso8601(buf) == 1764064800123LL);

    /* Many values, including leap days and end of year, round-trip exactly. */
    int64_t samples[] = {1, 999, 1000, 951782400000LL /* 2000-02-29 */, 1609459199999LL, 4102444800000LL};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        iso8601_from_ms(samples[i], buf);
        assert_true(ms_from_iso8601(buf) == samples[i]);
    }
    int64_t now = now_ms();
    for (int i = 0; i < 1000; i++) {
        int64_t t = now - (int64_t)i * 7919 * 1000 - i;
        iso8601_from_ms(t, buf);
        assert_true(ms_from_iso8601(buf) == t);
    }
}

static void test_iso8601_parse_forms(void **state)
{
    (void)state;
    assert_true(ms_from_iso8601("2025-11-25T10:00:00Z") == 1764064800000LL);
    assert_true(ms_from_iso8601("2025-11-25T10:00:00") == 1764064800000LL);
    assert_true(ms_from_iso8601("2025-11-25 10:00:00.5") == 1764064800500LL);
    assert_true(ms_from_iso8601("2025-11-25T10:00:00.123456Z") == 1764064800123LL);
    assert_true(ms_from_iso8601("2025-11-25") == 1764028800000LL);
    assert_true(ms_from_iso8601("2025-13-01") == -1);
    assert_true(ms_from_iso8601("2025-11-25T25:00:00") == -1);
    assert_true(ms_from_iso8601("2025-11-25T10:00:00+02:00") == -1);
    assert_true(ms_from_iso8601("2025-11-25T10:00:00.") == -1);
    assert_true(ms_from_iso8601("yesterday") == -1);
    assert_true(ms_from_iso8601("") == -1);
    assert_true(ms_from_iso8601(NULL) == -1);
}

static void test_base64url(void **state)
{
    (void)state;
    char out[64];
    /* RFC 4648 test vectors, URL alphabet, no padding. */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *expect[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        size_t n = base64url_encode((const unsigned char *)in[i], strlen(in[i]), out);
        assert_string_equal(out, expect[i]);
        assert_int_equal(n, strlen(expect[i]));
    }
    /* Bytes that need '-' and '_' instead of '+' and '/'. */
    const unsigned char special[] = {0xfb, 0xff, 0xbf};
    base64url_encode(special, 3, out);
    assert_string_equal(out, "-_-_");
    /* 32 random bytes → 43 chars of the URL alphabet; matches OpenSSL's base64
     * after translating the alphabet and dropping padding. */
    unsigned char raw[32];
    assert_int_equal(random_bytes(raw, sizeof raw), 0);
    assert_int_equal(base64url_encode(raw, sizeof raw, out), 43);
    unsigned char std[64];
    EVP_EncodeBlock(std, raw, sizeof raw);
    for (int i = 0; i < 43; i++) {
        char c = (char)std[i] == '+' ? '-' : (char)std[i] == '/' ? '_' : (char)std[i];
        assert_int_equal(out[i], c);
    }
    char padded[64];
    base64_encode((const unsigned char *)"fo", 2, padded);
    assert_string_equal(padded, "Zm8=");
}

static void test_secure_streq(void **state)
{
    (void)state;
    assert_true(secure_streq("abc", "abc"));
    assert_true(secure_streq("", ""));
    assert_false(secure_streq("abc", "abd"));
    assert_false(secure_streq("abc", "ab"));
    assert_false(secure_streq("ab", "abc"));
    assert_false(secure_streq("", "a"));
    assert_false(secure_streq(NULL, "a"));
    assert_false(secure_streq("a", NULL));
    assert_false(secure_streq(NULL, NULL));
}

static void test_mask_phone(void **state)
{
    (void)state;
    char out[32];
    mask_phone("+15551234567", out, sizeof out);
    assert_string_equal(out, "********4567");
    mask_phone("12345", out, sizeof out);
    assert_string_equal(out, "*2345");
    mask_phone("1234", out, sizeof out);
    assert_string_equal(out, "****");
    mask_phone("", out, sizeof out);
    assert_string_equal(out, "****");
    mask_phone(NULL, out, sizeof out);
    assert_string_equal(out, "****");
    /* A short buffer truncates and still terminates. */
    char small[5];
    mask_phone("+15551234567", small, sizeof small);
    assert_int_equal(strlen(small), 4);
    assert_null(strstr(small, "1234567"));
}

static void test_strbuf(void **state)
{
    (void)state;
    strbuf sb;
    sb_init(&sb);
    assert_int_equal(sb_puts(&sb, "hello"), 0);
    assert_int_equal(sb_append(&sb, ", ", 2), 0);
    assert_int_equal(sb_appendf(&sb, "%s #%d", "world", 42), 0);
    assert_int_equal(sb.len, strlen("hello, world #42"));
    assert_string_equal(sb.data, "hello, world #42");
    /* Grow well past the first allocation. */
    for (int i = 0; i < 1000; i++) assert_int_equal(sb_appendf(&sb, "%04d", i), 0);
    assert_int_equal(sb.len, strlen("hello, world #42") + 4000);
    assert_memory_equal(sb.data + sb.len - 4, "0999", 4);
    assert_int_equal(sb.data[sb.len], 0);
    /* Binary data with NULs is kept byte for byte. */
    assert_int_equal(sb_append(&sb, "\0x", 2), 0);
    assert_int_equal(sb.data[sb.len - 2], 0);
    char *p = sb_steal(&sb);
    assert_non_null(p);
    assert_null(sb.data);
    assert_int_equal(sb.len, 0);
    free(p);
    sb_free(&sb);
}

static void test_sb_steal_empty(void **state)
{
    (void)state;
    /* util.h: "Takes the buffer (NUL-terminated)" — also when nothing was appended. */
    strbuf sb;
    sb_init(&sb);
    char *p = sb_steal(&sb);
    assert_non_null(p);
    assert_int_equal(p[0], 0);
    free(p);
}

static void test_str_copy_and_fmt(void **state)
{
    (void)state;
    char buf[6];
    assert_int_equal(str_copy(buf, sizeof buf, "hello"), 0);
    assert_string_equal(buf, "hello");
    assert_int_equal(str_copy(buf, sizeof buf, "hello!"), -1);
    assert_string_equal(buf, "hello");
    assert_int_equal(str_fmt(buf, sizeof buf, "%d", 12345), 0);
    assert_int_equal(str_fmt(buf, sizeof buf, "%d", 123456), -1);
    assert_int_equal(strlen(buf), 5);
}

static void test_hashes_and_ids(void **state)
{
    (void)state;
    char hex[65];
    sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2 */
    hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    char a[33], b[33];
    new_id_hex32(a);
    new_id_hex32(b);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
    for (int i = 0; i < 32; i++) assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/faxbot-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char deep[256], file[300];
    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    assert_int_equal(mkdir_p(deep, 0700), 0);
    assert_int_equal(mkdir_p(deep, 0700), 0);
    snprintf(file, sizeof file, "%s/data.bin", deep);
    assert_int_equal(write_file_atomic(file, "0123456789", 10), 0);
    assert_int_equal(file_size(file), 10);
    char *data;
    size_t len;
    assert_int_equal(read_file_all(file, &data, &len, 100), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(data, "0123456789", 10);
    free(data);
    assert_int_equal(read_file_all(file, &data, &len, 5), -1);   /* over the limit */
    char hex[65], expect[65];
    assert_int_equal(sha256_file_hex(file, hex), 0);
    sha256_hex("0123456789", 10, expect);
    assert_string_equal(hex, expect);
    assert_int_equal(remove_tree(dir), 0);
    assert_int_equal(file_size(file), -1);
    assert_int_equal(remove_tree(dir), 0);   /* already gone is fine */
}

static void test_utf8_clean(void **state)
{
    (void)state;
    char out[16];
    utf8_clean("r\xc3\xa9sum\xc3\xa9.txt", 12, out, sizeof out);
    assert_string_equal(out, "r\xc3\xa9sum\xc3\xa9.txt");                /* valid: kept */
    utf8_clean("r\xe9sum\xe9 \xff", 8, out, sizeof out);
    assert_string_equal(out, "r_sum_ _");                                /* Latin-1 and 0xFF */
    utf8_clean("a\tb\x7f\xed\xa0\x80", 7, out, sizeof out);
    assert_string_equal(out, "a_b____");                                 /* controls, a surrogate */
    utf8_clean("\xe2\x82\xac\xe2\x82\xac", 6, out, 5);
    assert_string_equal(out, "\xe2\x82\xac");                             /* never cut in a sequence */
    assert_int_equal(utf8_seq_len((const unsigned char *)"\xc0\x80", 2), 0);     /* overlong */
    assert_int_equal(utf8_seq_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);   /* > U+10FFFF */
    assert_int_equal(utf8_seq_len((const unsigned char *)"\xf0\x9f\x93\xa0", 4), 4);
    assert_int_equal(utf8_seq_len((const unsigned char *)"\xe2\x82", 2), 0);     /* truncated */
}

/* The Logs page's masking: phone-like digit runs keep their last 4; ids, hashes and
 * short numbers stay whole. */
static void test_log_tap_masks_numbers_not_ids(void **state)
{
    (void)state;
    char out[256];
    log_tap_mask_numbers("originating to +15550104477 for job 3f81234567ab (attempt 2, 1234567)", out, sizeof out);
    assert_string_equal(out, "originating to +*******4477 for job 3f81234567ab (attempt 2, ***4567)");
    log_tap_mask_numbers("{\"to\":\"********4477\",\"ts\":\"2026-12-06T18:40:09\"}", out, sizeof out);
    assert_string_equal(out, "{\"to\":\"********4477\",\"ts\":\"2026-12-06T18:40:09\"}");
    log_tap_mask_numbers("tel 5550104477", out, 8);
    assert_string_equal(out, "tel ***");
}

static void test_log_tap_keeps_order_and_the_newest(void **state)
{
    (void)state;
    int64_t start = log_tap_last_seq();
    char line[32];
    for (int i = 0; i < LOG_TAP_SIZE + 10; i++) {
        snprintf(line, sizeof line, "line %d", i);
        log_tap_push("log", "info", line);
    }
    assert_int_equal(log_tap_last_seq(), start + LOG_TAP_SIZE + 10);
    static log_tap_entry got[LOG_TAP_SIZE];
    /* from the start: only the newest LOG_TAP_SIZE are still there, oldest first */
    int n = log_tap_read(start, got, LOG_TAP_SIZE);
    assert_int_equal(n, LOG_TAP_SIZE);
    assert_string_equal(got[0].text, "line 10");
    assert_int_equal(got[0].seq, start + 11);
    assert_string_equal(got[n - 1].source, "log");
    snprintf(line, sizeof line, "line %d", LOG_TAP_SIZE + 9);
    assert_string_equal(got[n - 1].text, line);
    /* after the newest: nothing; a small batch after some seq: the next ones */
    assert_int_equal(log_tap_read(log_tap_last_seq(), got, 5), 0);
    assert_int_equal(log_tap_read(log_tap_last_seq() - 3, got, 5), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_tap_masks_numbers_not_ids),
        cmocka_unit_test(test_log_tap_keeps_order_and_the_newest),
        cmocka_unit_test(test_iso8601_roundtrip),
        cmocka_unit_test(test_iso8601_parse_forms),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_secure_streq),
        cmocka_unit_test(test_mask_phone),
        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_sb_steal_empty),
        cmocka_unit_test(test_str_copy_and_fmt),
        cmocka_unit_test(test_hashes_and_ids),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_utf8_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
