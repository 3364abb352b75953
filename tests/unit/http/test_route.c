/* test_route.c — unit tests of the pure routing helpers in src/http/route.c:
 * pattern matching with {params} and URL decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "http/http.h"

static int match(const char *pattern, const char *path, const char *names[], const char *values[], int *n)
{
    static char scratch[256];
    return http_route_match(pattern, path, scratch, sizeof scratch, names, values, 4, n);
}

static void test_literal_patterns(void **state)
{
    (void)state;
    const char *names[4], *values[4];
    int n = -1;
    assert_int_equal(match("/health", "/health", names, values, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(match("/", "/", names, values, &n), 1);
    assert_int_equal(match("/health", "/healthz", names, values, &n), 0);
    assert_int_equal(match("/health", "/health/", names, values, &n), 0);   /* trailing slash */
    assert_int_equal(match("/health/", "/health", names, values, &n), 0);
    assert_int_equal(match("/fax", "/fax/extra", names, values, &n), 0);     /* extra segment */
    assert_int_equal(match("/fax/send", "/fax", names, values, &n), 0);      /* missing segment */
    assert_int_equal(match("/Fax", "/fax", names, values, &n), 0);           /* case-sensitive */
    assert_int_equal(match("/fax", "", names, values, &n), 0);
}

static void test_params(void **state)
{
    (void)state;
    const char *names[4], *values[4];
    int n = 0;
    assert_int_equal(match("/fax/{id}", "/fax/abc123", names, values, &n), 1);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "id");
    assert_string_equal(values[0], "abc123");

    assert_int_equal(match("/fax/{id}/pdf/{page}", "/fax/42/pdf/7", names, values, &n), 1);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "id");
    assert_string_equal(values[0], "42");
    assert_string_equal(names[1], "page");
    assert_string_equal(values[1], "7");

    n = 99;
    assert_int_equal(match("/fax/{id}", "/fax/", names, values, &n), 0);       /* empty segment */
    assert_int_equal(n, 0);
    assert_int_equal(match("/fax/{id}", "/fax/a/b", names, values, &n), 0);    /* extra segment */
    assert_int_equal(match("/fax/{id}", "/fax/a/", names, values, &n), 0);     /* trailing slash */
    assert_int_equal(match("/fax/{id}/pdf", "/fax/a/tiff", names, values, &n), 0);
    assert_int_equal(match("/fax/{id}", "/inbound/a", names, values, &n), 0);
}

static void test_param_limits(void **state)
{
    (void)state;
    const char *names[1], *values[1];
    int n = 0;
    char scratch[8];
    /* more params than slots: no match */
    assert_int_equal(http_route_match("/{a}/{b}", "/x/y", scratch, sizeof scratch, names, values, 1, &n), 0);
    /* scratch too small for name + value: no match, never an overflow */
    assert_int_equal(http_route_match("/{id}", "/0123456789", scratch, sizeof scratch, names, values, 1, &n), 0);
    assert_int_equal(http_route_match("/{id}", "/0123", scratch, sizeof scratch, names, values, 1, &n), 1);
    assert_string_equal(values[0], "0123");
    /* "{}" is a literal segment, not a parameter */
    assert_int_equal(http_route_match("/{}", "/x", scratch, sizeof scratch, names, values, 1, &n), 0);
    assert_int_equal(http_route_match("/{}", "/{}", scratch, sizeof scratch, names, values, 1, &n), 1);
}

static void test_url_decode(void **state)
{
    (void)state;
    char s1[] = "a%20b%2Fc%2fd";
    assert_int_equal(http_url_decode(s1, false), 0);
    assert_string_equal(s1, "a b/c/d");

    char s2[] = "a+b%2B";
    assert_int_equal(http_url_decode(s2, true), 0);
    assert_string_equal(s2, "a b+");

    char s3[] = "a+b";
    assert_int_equal(http_url_decode(s3, false), 0);
    assert_string_equal(s3, "a+b");

    char s4[] = "%C3%A9t%C3%A9";
    assert_int_equal(http_url_decode(s4, false), 0);
    assert_string_equal(s4, "\xC3\xA9t\xC3\xA9");

    char empty[] = "";
    assert_int_equal(http_url_decode(empty, true), 0);
    assert_string_equal(empty, "");
}

static void test_url_decode_bad_escapes(void **state)
{
    (void)state;
    const char *bad[] = {"%zz", "%0", "abc%", "%g1", "a%2", "%00", "x%1z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[16];
        strcpy(buf, bad[i]);
        assert_int_equal(http_url_decode(buf, false), -1);
        assert_string_equal(buf, bad[i]);        /* left unchanged on error */
    }
    char plus[] = "a+%zz";
    assert_int_equal(http_url_decode(plus, true), -1);
    assert_string_equal(plus, "a+%zz");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_patterns),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_param_limits),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_url_decode_bad_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
