/* fuzz_esl.c — libFuzzer harness for the FreeSWITCH Event Socket parser and the
 * fax helpers that read what FreeSWITCH sends (src/esl/esl_parse.c, esl_fax.c).
 * The input is an ESL byte stream. It is parsed twice, whole and in pseudo-random
 * chunks, and both runs must yield the same messages (chunking never changes the
 * result); every text/event-plain body goes through the event parser, the fax
 * result reader and the BACKGROUND_JOB reader; each value is also fed through
 * esl_var_clean, whose output must never contain a character that could split a
 * variable list or an ESL command.
 * Build: clang -g -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_esl.c \
 *          src/esl/esl_parse.c src/esl/esl_fax.c src/fax/fax_result.c src/util/util.c \
 *          -lspandsp -ltiff -lcrypto -lm -o /tmp/fuzz_esl
 * Run:   /tmp/fuzz_esl fuzz/corpus/esl -max_total_time=30 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esl/esl_fax.h"
#include "esl/esl_parse.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void check_clean(const char *v)
{
    char out[64];
    esl_var_clean(v, out, sizeof out, 50);
    for (const char *p = out; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x7f || strchr(",'\"{}[]<>^$\\|`", c)) abort();
    }
}

static uint64_t digest(const esl_msg *m)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < m->n_headers; i++) {
        h = fnv(h, m->headers[i].name, strlen(m->headers[i].name) + 1);
        h = fnv(h, m->headers[i].value, strlen(m->headers[i].value) + 1);
    }
    if (m->body) h = fnv(h, m->body, m->body_len);
    return h;
}

static void use_message(const esl_msg *m)
{
    const char *t = esl_msg_get(m, "Content-Type");
    if (!t || strcmp(t, "text/event-plain") || !m->body) return;
    esl_msg ev;
    char err[128];
    if (esl_event_parse(m->body, m->body_len, &ev, err, sizeof err) != ESL_FRAME) return;
    esl_fax_result r;
    esl_fax_result_from_event(&ev, &r);
    bool tr;
    (void)esl_fax_failure(&r, &tr);
    char out[128];
    (void)esl_bgjob_result(ev.body, out, sizeof out);
    for (size_t i = 0; i < ev.n_headers; i++) check_clean(ev.headers[i].value);
    esl_msg_free(&ev);
}

/* Returns how many messages were parsed; fills digests (up to 64). */
static int run(const uint8_t *data, size_t size, size_t seed, uint64_t *dig)
{
    esl_parser *p = esl_parser_new();
    if (!p) return -1;
    int n = 0;
    size_t off = 0;
    uint32_t x = (uint32_t)seed * 2654435761u + 1;
    char err[128];
    bool broken = false;
    while (off < size && !broken) {
        size_t chunk = size - off;
        if (seed) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            chunk = 1 + x % 97;
            if (chunk > size - off) chunk = size - off;
        }
        if (esl_parser_feed(p, (const char *)data + off, chunk)) break;
        off += chunk;
        esl_msg m;
        int rc;
        while ((rc = esl_parser_next(p, &m, err, sizeof err)) == ESL_FRAME) {
            if (n < 64) dig[n] = digest(&m);
            n++;
            if (!seed) use_message(&m);
            esl_msg_free(&m);
        }
        if (rc == ESL_ERROR) { broken = true; n = -2 - n; }
    }
    esl_parser_free(p);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    uint64_t a[64], b[64];
    int na = run(data, size, 0, a);
    int nb = run(data, size, size ? data[0] + 1u : 1u, b);
    /* a stream that errors in one run errors in the other after the same messages */
    if (na != nb) abort();
    int k = na < 0 ? -2 - na : na;
    if (k > 64) k = 64;
    for (int i = 0; i < k; i++)
        if (a[i] != b[i]) abort();
    return 0;
}
