/* fuzz_multipart.c — libFuzzer harness for the multipart/form-data parser
 * (src/http/multipart.c). The input's first line is a Content-Type value (its
 * boundary is used if valid, else "fuzzbound"); the rest is the body. The body is
 * parsed twice, whole and in pseudo-random chunks (1 byte and up), and both runs
 * must report exactly the same events: chunking must never change the result.
 * Build: clang -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc \
 *          fuzz/fuzz_multipart.c src/http/multipart.c -o /tmp/fm
 *        (multipart.c needs nothing else; adding src/util/util.c -lcrypto is harmless)
 * Run:   /tmp/fm fuzz/corpus/multipart -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

typedef struct {
    uint64_t hash;               /* FNV-1a over every event and data byte */
    int in_part;
    int parts;
} trace;

static void mix(trace *t, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        t->hash ^= b[i];
        t->hash *= 1099511628211ULL;
    }
}

static void mix_str(trace *t, const char *s)
{
    mix(t, s ? s : "\x01(null)", s ? strlen(s) + 1 : 8);
}

static int on_begin(void *ctx, const multipart_part_info *info)
{
    trace *t = ctx;
    if (t->in_part || !info || !info->name)
        abort();                 /* begin inside a part, or a part without a name */
    t->in_part = 1;
    t->parts++;
    mix(t, "B", 1);
    mix_str(t, info->name);
    mix_str(t, info->filename);
    mix_str(t, info->content_type);
    return 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    trace *t = ctx;
    if (!t->in_part || len == 0)
        abort();
    mix(t, data, len);           /* call boundaries are not part of the trace */
    return 0;
}

static int on_end(void *ctx)
{
    trace *t = ctx;
    if (!t->in_part)
        abort();
    t->in_part = 0;
    mix(t, "E", 1);
    return 0;
}

static const multipart_callbacks cbs = {on_begin, on_data, on_end};

static int run(const char *boundary, const uint8_t *body, size_t len, uint32_t seed, trace *t,
               int *feed_rc)
{
    memset(t, 0, sizeof *t);
    t->hash = 1469598103934665603ULL;
    multipart_parser *p = multipart_new(boundary, &cbs, t);
    if (!p)
        abort();                 /* boundaries here are always valid */
    size_t off = 0;
    *feed_rc = 0;
    while (off < len && *feed_rc == 0) {
        size_t n = len - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t max = (seed >> 16) % 3 == 0 ? 1 : 1 + (seed >> 8) % 64;
            if (n > max)
                n = max;
        }
        *feed_rc = multipart_feed(p, (const char *)body + off, n);
        off += n;
    }
    int fin = *feed_rc == 0 ? multipart_finish(p) : -1;
    const char *err = multipart_error(p);
    if (!err || !*err)
        abort();
    multipart_free(p);
    return fin;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
    char ct[257];
    char boundary[80];
    const uint8_t *body = data;
    size_t len = size;
    if (nl) {
        size_t cl = (size_t)(nl - data);
        memcpy(ct, data, cl);
        ct[cl] = '\0';
        body = nl + 1;
        len = size - cl - 1;
    } else {
        ct[0] = '\0';
    }
    if (multipart_boundary(ct, boundary, sizeof boundary) != 0)
        strcpy(boundary, "fuzzbound");

    trace whole, chunked;
    int frc_whole, frc_chunked;
    uint32_t seed = 2166136261u ^ (uint32_t)size;
    if (size > 0)
        seed ^= (uint32_t)data[size - 1] << 8;
    seed |= 1;
    int fin_whole = run(boundary, body, len, 0, &whole, &frc_whole);
    int fin_chunked = run(boundary, body, len, seed, &chunked, &frc_chunked);
    if (fin_whole != fin_chunked || frc_whole != frc_chunked || whole.hash != chunked.hash ||
        whole.parts != chunked.parts)
        abort();                 /* chunking changed what the parser reported */
    if (fin_whole == 0 && whole.in_part)
        abort();                 /* finished cleanly with a part still open */
    return 0;
}
