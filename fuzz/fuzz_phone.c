/* fuzz_phone.c — libFuzzer target for the fax number normalizer (src/api/phone.c),
 * which reads the 'to' field of every send request. The input is "<cc>\n<number>"
 * when a line of at most 3 bytes comes first (the default country code, used only if
 * it is what config accepts: 1-3 digits, no leading 0; else "1"), otherwise the
 * whole input is the number. Besides crashes it checks:
 *   - a result is "+" and 6-20 digits, not starting with 0;
 *   - normalizing a result again gives the same result;
 *   - no digit is invented or lost in the middle: the result's digits end with the
 *     typed digits (leading zeros dropped);
 *   - an error message never repeats the typed number;
 *   - mask_phone of a result keeps at most its last 4 digits.
 * Build: make fuzz (or clang -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc
 *          fuzz/fuzz_phone.c src/api/phone.c src/util/util.c -lcrypto -o /tmp/fph)
 * Run:   /tmp/fph fuzz/corpus/phone -max_total_time=30 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/phone.h"
#include "util/util.h"

static int config_accepts_cc(const char *cc)
{
    size_t n = strlen(cc);
    if (n < 1 || n > 3 || cc[0] == '0') return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)cc[i])) return 0;
    return 1;
}

/* The digits of s, in order (at most cap - 1). */
static size_t digits_of(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        if (isdigit((unsigned char)*s)) out[n++] = *s;
    out[n] = 0;
    return n;
}

static void check_result(const char *in, const char *cc, const char *out)
{
    size_t len = strlen(out);
    if (len < 7 || len > 21 || out[0] != '+' || out[1] == '0') abort();
    for (size_t i = 1; i < len; i++)
        if (!isdigit((unsigned char)out[i])) abort();

    char again[24], err[256];
    if (phone_normalize(out, cc, again, err, sizeof err) != 0 || strcmp(again, out) != 0) abort();

    char typed[128];
    size_t tn = digits_of(in, typed, sizeof typed);
    const char *t = typed;
    while (*t == '0') t++;
    size_t tl = tn - (size_t)(t - typed);
    if (tl > len - 1 || strcmp(out + len - tl, t) != 0) abort();

    char masked[32];
    mask_phone(out, masked, sizeof masked);
    if (strlen(masked) != len) abort();
    for (size_t i = 0; i + 4 < len; i++)
        if (masked[i] != '*') abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char cc[4] = "1";
    const uint8_t *nl = memchr(data, '\n', size < 4 ? size : 4);
    if (nl) {
        size_t cl = (size_t)(nl - data);
        char given[4];
        memcpy(given, data, cl);
        given[cl] = 0;
        if (config_accepts_cc(given)) memcpy(cc, given, cl + 1);
        size -= cl + 1;
        data = nl + 1;
    }
    char *in = malloc(size + 1);
    if (!in) return 0;
    memcpy(in, data, size);
    in[size] = 0;

    char out[24], err[256];
    err[0] = 0;
    if (phone_normalize(in, cc, out, err, sizeof err) == 0) {
        check_result(in, cc, out);
    } else {
        if (!err[0]) abort();
        char typed[128];
        /* (the message's own example number aside) */
        if (digits_of(in, typed, sizeof typed) >= 6 && strstr(err, typed) && !strstr("+15551234567", typed))
            abort();
    }
    free(in);
    return 0;
}
