/* phone.c — fax number normalization to E.164 (rules in phone.h). */
#include "api/phone.h"
#include "util/util.h"

#include <ctype.h>
#include <string.h>

int phone_normalize(const char *in, const char *default_cc, char out[24], char *err, size_t errlen)
{
    char digits[64];
    size_t n = 0;
    int plus = 0;
    if (!in || !*in) { str_fmt(err, errlen, "'to' is required"); return -1; }
    for (const char *p = in; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')' || ch == '\t') continue;
        if (ch == '+' && n == 0 && !plus) { plus = 1; continue; }
        if (!isdigit(ch) || n + 1 >= sizeof digits) {
            str_fmt(err, errlen, "'to' must be E.164 or digits only (like +15551234567)");
            return -1;
        }
        digits[n++] = (char)ch;
    }
    digits[n] = 0;
    if (n < 6 || n > 20) {
        str_fmt(err, errlen, "'to' must be E.164 or digits only, 6 to 20 digits (got %zu digits)", n);
        return -1;
    }
    const char *cc = (default_cc && *default_cc) ? default_cc : "1";
    size_t ccl = strlen(cc);
    char e164[64];
    if (plus) {
        str_fmt(e164, sizeof e164, "+%s", digits);
    } else if (n > 2 && digits[0] == '0' && digits[1] == '0') {
        str_fmt(e164, sizeof e164, "+%s", digits + 2);
    } else if (!strcmp(cc, "1") && n == 10) {
        str_fmt(e164, sizeof e164, "+1%s", digits);
    } else if (n > 10 && !strncmp(digits, cc, ccl)) {
        str_fmt(e164, sizeof e164, "+%s", digits);
    } else {
        const char *d = digits;
        while (*d == '0') d++;
        str_fmt(e164, sizeof e164, "+%s%s", cc, d);
    }
    size_t total = strlen(e164) - 1;
    if (total < 6 || e164[1] == '0') {
        str_fmt(err, errlen, "'to' is not a valid fax number after normalization (%zu digits)", total);
        return -1;
    }
    if (total > 15) {        /* E.164: country code and number together are at most 15 digits */
        str_fmt(err, errlen, "'to' has %zu digits with its country code; an international (E.164) number has at "
                "most 15", total);
        return -1;
    }
    str_copy(out, 24, e164);
    return 0;
}
