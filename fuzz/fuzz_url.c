/* fuzz_url.c — libFuzzer target for the URL handling every request goes through:
 * the route matcher and URL decoder of the HTTP transport (src/http/route.c), the
 * percent-decoding of FreeSWITCH event values (esl_url_decode) and the urlencoded
 * webhook forms of the cloud backends (form_parse, cloud_url_encode). The input's
 * first line is a route pattern, the rest a request path; the whole input is also
 * fed to each decoder. Besides crashes (buffers are sized exactly, so ASan sees any
 * overrun) it checks:
 *   - a match puts each value back into the pattern and gets exactly the path, and
 *     no value is empty or holds a '/';
 *   - a successful http_url_decode never grows the text or leaves a NUL inside,
 *     and encoding the result again (cloud_url_encode) decodes back to it, with
 *     http_url_decode and with esl_url_decode alike;
 *   - esl_url_decode's output is one C string of the length it reports;
 *   - a parsed form, encoded again pair by pair, parses to the same pairs.
 * Build: make fuzz. Run: build-fuzz/fuzz_url fuzz/corpus/url -max_total_time=30 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cloud_util.h"
#include "backend/twilio_sig.h"
#include "esl/esl_parse.h"
#include "http/http.h"

#define MAX_PARAMS 4

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static void check_route(const char *pattern, const char *path, size_t scratch_len)
{
    char *scratch = malloc(scratch_len ? scratch_len : 1);
    if (!scratch) abort();
    const char *names[MAX_PARAMS], *values[MAX_PARAMS];
    int n = -1;
    if (http_route_match(pattern, path, scratch, scratch_len, names, values, MAX_PARAMS, &n) == 1) {
        if (n < 0 || n > MAX_PARAMS) abort();
        /* rebuild the path from the pattern and the values */
        size_t cap = strlen(pattern) + strlen(path) + 2;
        char *rebuilt = malloc(cap);
        if (!rebuilt) abort();
        size_t o = 0;
        int k = 0;
        const char *p = pattern;
        while (*p) {
            const char *seg_end = strchr(p + 1, '/');
            size_t seg = seg_end ? (size_t)(seg_end - p) : strlen(p);   /* includes the leading '/' */
            if (seg >= 4 && p[1] == '{' && p[seg - 1] == '}') {
                if (k >= n) abort();
                if (strncmp(names[k], p + 2, seg - 3) || names[k][seg - 3]) abort();
                const char *v = values[k++];
                if (!v[0] || strchr(v, '/')) abort();
                size_t vl = strlen(v);
                if (o + 1 + vl >= cap) abort();
                rebuilt[o++] = '/';
                memcpy(rebuilt + o, v, vl);
                o += vl;
            } else {
                if (o + seg >= cap) abort();
                memcpy(rebuilt + o, p, seg);
                o += seg;
            }
            p += seg;
        }
        rebuilt[o] = 0;
        if (k != n || strcmp(rebuilt, path) != 0) abort();
        free(rebuilt);
    } else if (n != 0) {
        abort();                                  /* no match reports no params */
    }
    free(scratch);
}

static char *encode(const char *s)
{
    strbuf sb;
    sb_init(&sb);
    if (cloud_url_encode(&sb, s) || sb_append(&sb, "", 1)) abort();
    return sb_steal(&sb);
}

static void check_http_decode(const uint8_t *data, size_t size, bool plus)
{
    char *s = dup_bytes(data, size);
    size_t before = strlen(s);
    if (http_url_decode(s, plus) == 0) {
        size_t after = strlen(s);
        if (after > before) abort();
        if (plus && strchr(s, '+') && !memchr(data, '%', size)) abort();   /* '+' became ' ' */
        char *e = encode(s);
        char *again = dup_bytes(e, strlen(e));
        if (http_url_decode(again, false) != 0 || strcmp(again, s) != 0) abort();
        char *esl = malloc(strlen(e) + 1);
        if (!esl) abort();
        size_t el = esl_url_decode(e, strlen(e), esl);
        if (el != after || strcmp(esl, s) != 0) abort();
        free(esl);
        free(again);
        free(e);
    }
    free(s);
}

static void check_esl_decode(const uint8_t *data, size_t size)
{
    char *out = malloc(size + 1);
    if (!out) abort();
    size_t n = esl_url_decode((const char *)data, size, out);
    if (n > size || strlen(out) != n) abort();
    free(out);
}

static void check_form(const uint8_t *data, size_t size)
{
    form_params p;
    if (form_parse((const char *)data, size, &p) != 0) {
        if (p.n != 0 || p.items != NULL) abort();  /* a failure leaves the form empty */
        return;
    }
    strbuf body;
    sb_init(&body);
    for (size_t i = 0; i < p.n; i++) {
        if (i && sb_puts(&body, "&")) abort();
        if (cloud_url_encode(&body, p.items[i].name) || sb_puts(&body, "=") ||
            cloud_url_encode(&body, p.items[i].value))
            abort();
    }
    form_params q;
    if (form_parse(body.data ? body.data : "", body.len, &q) != 0) abort();
    /* every pair comes back, even "=" (empty name and value) */
    if (q.n != p.n) abort();
    for (size_t i = 0; i < p.n; i++)
        if (strcmp(p.items[i].name, q.items[i].name) || strcmp(p.items[i].value, q.items[i].value)) abort();
    if (p.n && strcmp(form_get(&q, p.items[0].name), p.items[0].value)) abort();
    form_free(&q);
    form_free(&p);
    sb_free(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 14) return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    char *pattern = dup_bytes(data, nl ? (size_t)(nl - data) : 0);
    char *path = nl ? dup_bytes(nl + 1, size - (size_t)(nl + 1 - data)) : dup_bytes(data, size);
    check_route(pattern, path, 256);
    check_route(pattern, path, size % 32);        /* a scratch buffer too small for the values */
    /* the server decodes the path before matching */
    if (http_url_decode(path, false) == 0) check_route(pattern, path, 256);
    free(pattern);
    free(path);

    check_http_decode(data, size, false);
    check_http_decode(data, size, true);
    check_esl_decode(data, size);
    check_form(data, size);
    return 0;
}
