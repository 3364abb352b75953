/* fuzz_sinch.c — libFuzzer harness for the Sinch webhook and API parsers
 * (src/backend/sinch_parse.c) and the shared helpers they rely on
 * (src/backend/cloud_util.c: base64, HTTP Basic checks). The first byte picks the
 * parser; for webhooks the first line is the Content-Type (multipart or JSON) and the
 * rest the body. Every parsed fax also goes through the status/error mapping.
 * Build: clang -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_sinch.c \
 *          src/backend/sinch_parse.c src/backend/cloud_util.c src/http/multipart.c src/util/util.c \
 *          -ljansson -lcrypto -o /tmp/fuzz_sinch
 * Run:   /tmp/fuzz_sinch fuzz/corpus/sinch -max_total_time=30 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cloud_util.h"
#include "backend/sinch_parse.h"
#include "util/util.h"

static void check_verdict(const sinch_fax *f)
{
    cloud_verdict v;
    sinch_verdict(f, &v);
    if (v.state == CLOUD_FAILED && (!v.reason || !v.reason[0])) abort();
    if (strlen(v.message) >= sizeof v.message) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 6;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    char err[256];
    switch (mode) {
    case 0: {   /* webhook: "<content-type>\n<body>" */
        const char *nl = memchr(in, '\n', len);
        size_t clen = nl ? (size_t)(nl - in) : 0;
        char ctype[256];
        if (clen >= sizeof ctype) clen = sizeof ctype - 1;
        memcpy(ctype, in, clen);
        ctype[clen] = 0;
        const char *body = nl ? nl + 1 : in;
        size_t blen = len - (size_t)(body - in);
        sinch_event ev;
        if (sinch_parse_event(ctype[0] ? ctype : NULL, body, blen, true, &ev, err, sizeof err) == 0) {
            if (ev.has_fax) check_verdict(&ev.fax);
            if (ev.file) cloud_doc_kind(ev.file, ev.file_len);
        }
        sinch_event_free(&ev);
        break;
    }
    case 1: {
        sinch_fax f;
        if (sinch_parse_fax(in, len, &f, err, sizeof err) == 0) check_verdict(&f);
        break;
    }
    case 2: {
        sinch_fax list[8];
        int pages;
        int n = sinch_parse_fax_list(in, len, list, 8, &pages, err, sizeof err);
        if (n > 8) abort();
        for (int i = 0; i < n; i++) check_verdict(&list[i]);
        break;
    }
    case 3: {
        char out[300];
        bool bad_to;
        sinch_error_text(in, len, out, sizeof out, &bad_to);
        if (strlen(out) >= sizeof out) abort();
        break;
    }
    case 4: {   /* an Authorization header */
        char *hdr = malloc(len + 1);
        if (!hdr) return 0;
        memcpy(hdr, in, len);
        hdr[len] = 0;
        cloud_basic_auth_ok(hdr, "user", "pass");
        free(hdr);
        break;
    }
    default: {
        size_t n = 0;
        unsigned char *d = base64_decode(in, len, SIZE_MAX, false, &n);
        if (d && n > len) abort();
        free(d);
        break;
    }
    }
    return 0;
}
