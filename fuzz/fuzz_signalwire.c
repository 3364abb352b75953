/* fuzz_signalwire.c — libFuzzer harness for the SignalWire parsers: urlencoded forms
 * and the Twilio-style signature check (src/backend/twilio_sig.c), the StatusCallback,
 * Fax resource, list and error parsers and the status mapping
 * (src/backend/signalwire_parse.c). The first byte picks the parser; for callbacks
 * the first line is the URL that was called and the rest the form body.
 * Build: clang -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_signalwire.c \
 *          src/backend/signalwire_parse.c src/backend/twilio_sig.c src/backend/cloud_util.c \
 *          src/util/util.c -ljansson -lcrypto -o /tmp/fuzz_signalwire
 * Run:   /tmp/fuzz_signalwire fuzz/corpus/signalwire -max_total_time=30 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/signalwire_parse.h"
#include "backend/twilio_sig.h"

static void check_verdict(const sw_fax *f)
{
    cloud_verdict v;
    sw_verdict(f, &v);
    if (v.state == CLOUD_FAILED && (!v.reason || !v.reason[0])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 4;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    char err[256];
    switch (mode) {
    case 0: {   /* "<url>\n<form body>" */
        const char *nl = memchr(in, '\n', len);
        size_t ulen = nl ? (size_t)(nl - in) : 0;
        char *url = malloc(ulen + 1);
        if (!url) return 0;
        memcpy(url, in, ulen);
        url[ulen] = 0;
        const char *body = nl ? nl + 1 : in;
        form_params p;
        if (form_parse(body, len - (size_t)(body - in), &p) == 0) {
            sw_fax f;
            sw_fax_from_form(&p, &f);
            check_verdict(&f);
            char sig[29];
            if (twilio_signature("key", url, &p, sig) == 0) {
                if (strlen(sig) != 28) abort();
                if (!twilio_signature_ok("key", url, &p, sig)) abort();   /* its own signature verifies */
            }
            form_free(&p);
        }
        free(url);
        break;
    }
    case 1: {
        sw_fax f;
        if (sw_parse_fax(in, len, &f, err, sizeof err) == 0) check_verdict(&f);
        break;
    }
    case 2: {
        sw_fax list[8];
        char next[256];
        int n = sw_parse_fax_list(in, len, list, 8, next, sizeof next, err, sizeof err);
        if (n > 8) abort();
        for (int i = 0; i < n; i++) check_verdict(&list[i]);
        break;
    }
    default: {
        char out[300];
        int code;
        sw_error_text(in, len, out, sizeof out, &code);
        break;
    }
    }
    return 0;
}
