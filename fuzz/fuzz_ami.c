/* fuzz_ami.c — libFuzzer harness for the AMI parser (src/ami/ami_parse.c) and the
 * Originate value quoting (src/ami/ami_fax.c). The input is parsed twice, whole and
 * in pseudo-random chunks (1 byte and up), and both runs must report exactly the
 * same messages: chunking must never change the result. Each message's fields are
 * also run through ami_quote_value, whose output must stay one header line.
 * Build: clang -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc \
 *          fuzz/fuzz_ami.c src/ami/ami_parse.c src/ami/ami_fax.c -o /tmp/fa
 * Run:   /tmp/fa fuzz/corpus/ami -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ami/ami_fax.h"
#include "ami/ami_parse.h"

typedef struct {
    uint64_t hash;
    int messages;
} trace;

static void mix(trace *t, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        t->hash ^= b[i];
        t->hash *= 1099511628211ULL;
    }
    t->hash ^= 0xff;
}

static void on_msg(void *user, const ami_message *m)
{
    trace *t = user;
    t->messages++;
    int k = (int)m->kind;
    mix(t, &k, sizeof k);
    if (m->banner) mix(t, m->banner, strlen(m->banner));
    for (size_t i = 0; i < m->n_fields; i++) {
        mix(t, m->fields[i].key, strlen(m->fields[i].key));
        mix(t, m->fields[i].value, strlen(m->fields[i].value));
        char q[300];
        if (ami_quote_value(m->fields[i].value, 50, q, sizeof q) == 0) {
            size_t l = strlen(q);
            if (l < 2 || q[0] != '"' || q[l - 1] != '"' || strpbrk(q, "\r\n")) abort();
        }
    }
    mix(t, m->output, m->output_len);
    if (m->output_len != strlen(m->output)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ami_parser *p;
    if (!p) p = ami_parser_new(true);
    trace a = {1469598103934665603ULL, 0}, b = a;
    ami_parser_reset(p, true);
    ami_parser_feed(p, data, size, on_msg, &a);
    ami_parser_reset(p, true);
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size && i < 16; i++) seed = (seed ^ data[i]) * 16777619u;
    size_t off = 0;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 64;
        if (n > size - off) n = size - off;
        ami_parser_feed(p, data + off, n, on_msg, &b);
        off += n;
    }
    if (a.hash != b.hash || a.messages != b.messages) abort();
    return 0;
}
