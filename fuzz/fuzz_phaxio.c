/* fuzz_phaxio.c — libFuzzer harness for the Phaxio webhook and API-reply parsers
 * (src/backend/phaxio_proto.c). The input's first line is a Content-Type value
 * (multipart/form-data with a boundary, or x-www-form-urlencoded); the rest is the
 * body. The body is parsed as a webhook form, signed and verified, its `fax` field
 * parsed and mapped; the whole input is also fed to the API reply parsers.
 * Invariant: a signature the code computed must verify for the same form.
 * Build: clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc \
 *          fuzz/fuzz_phaxio.c src/backend/phaxio_proto.c src/http/multipart.c src/util/util.c \
 *          $(pkg-config --cflags --libs jansson libcrypto) -lm -o /tmp/fphx
 * Run:   /tmp/fphx -max_total_time=30 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/phaxio_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - in) : size;
    char *ct = malloc(ctlen + 1);
    if (!ct) return 0;
    memcpy(ct, in, ctlen);
    ct[ctlen] = 0;
    const char *body = nl ? nl + 1 : in + size;
    size_t blen = nl ? size - ctlen - 1 : 0;

    phaxio_form f;
    char err[256];
    if (phaxio_form_parse(ct, body, blen, &f, err, sizeof err) == 0) {
        char sig[41];
        if (phaxio_signature_hex("https://example.com/phaxio-callback?job_id=x", &f, "token", sig) == 0
            && !phaxio_signature_valid("https://example.com/phaxio-callback?job_id=x", &f, "token", sig))
            abort();
        const phaxio_part *fax = phaxio_form_field(&f, "fax");
        const phaxio_part *ev = phaxio_form_field(&f, "event_type");
        if (fax) {
            phaxio_fax px;
            if (phaxio_fax_parse(fax->data, fax->len, &px, err, sizeof err) == 0) {
                phaxio_mapped m;
                phaxio_map(&px, ev ? ev->data : NULL, 1, &m);
                if (m.kind == OUTCOME_FAILURE && !m.failure_reason) abort();
            }
        }
        (void)phaxio_form_file(&f, "file");
        phaxio_form_free(&f);
    }
    free(ct);

    phaxio_reply r;
    phaxio_reply_parse(in, size, &r);
    phaxio_fax px;
    (void)phaxio_get_parse(in, size, &px, err, sizeof err);
    (void)phaxio_list_find(in, size, "0123456789abcdef0123456789abcdef", 1, &px, err, sizeof err);
    long long bal;
    (void)phaxio_account_parse(in, size, &bal);
    return 0;
}
