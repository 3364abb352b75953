/* test_phone.c — fax number normalization: the documented rules, one by one, and
 * the inputs that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/phone.h"

static void ok(const char *in, const char *cc, const char *want)
{
    char out[24], err[128];
    int rc = phone_normalize(in, cc, out, err, sizeof err);
    if (rc) fail_msg("'%s' refused: %s", in, err);
    if (strcmp(out, want)) fail_msg("'%s' -> '%s', want '%s'", in, out, want);
}

static void refused(const char *in)
{
    char out[24], err[128] = "";
    assert_int_equal(phone_normalize(in, "1", out, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
}

static void normalizes(void **state)
{
    (void)state;
    ok("+15551234567", "1", "+15551234567");
    ok("+1 (555) 123-4567", "1", "+15551234567");
    ok("(555) 123-4567", "1", "+15551234567");
    ok("555.123.4567", "1", "+15551234567");
    ok("15551234567", "1", "+15551234567");
    ok("0044 20 7946 0018", "1", "+442079460018");
    ok("020 7946 0018", "44", "+442079460018");
    ok("442079460018", "44", "+442079460018");
    ok("123456", "1", "+1123456");
    ok("+123456", "1", "+123456");
}

static void refuses(void **state)
{
    (void)state;
    refused("");
    refused("12345");
    refused("+12345");
    refused("123456789012345678901");
    /* E.164 allows 15 digits in all: 16 are refused, whichever way they are written */
    ok("+123456789012345", "1", "+123456789012345");
    refused("+1234567890123456");
    refused("001234567890123456");
    refused("4412345678901234");
    refused("++15551234567");
    refused("1555CALLNOW");
    refused("+1555123456;7");
    refused("5551234567\r\nAction: Originate");
    refused("555-123-4567,1");
    refused("1+5551234567");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(normalizes), cmocka_unit_test(refuses)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
