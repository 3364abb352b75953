/* fuzz_plugin_http.c — libFuzzer harness for the pure parts of the http plugin kind:
 * the manifest section parser (src/backend/plugin_http_manifest.c), templates and JSON
 * paths (plugin_http_template.c) and webhook verification (plugin_http_verify.c). The
 * first byte picks the target; the rest is a manifest, a template + JSON document, or a
 * webhook (signature line, timestamp line, body) checked under each scheme.
 * Build: clang -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_plugin_http.c \
 *          src/backend/plugin_http_*.c src/backend/cloud_util.c src/backend/twilio_sig.c \
 *          src/util/util.c -ljansson -lcrypto -o /tmp/fuzz_plugin_http
 * Run:   /tmp/fuzz_plugin_http -max_total_time=30 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/plugin_http.h"
#include "backend/plugin_http_template.h"
#include "backend/plugin_http_verify.h"
#include "util/util.h"

static const char *echo(void *ctx, const char *name, char *buf, size_t buflen)
{
    (void)ctx;
    str_copy(buf, buflen, name);
    return strncmp(name, "fax.", 4) ? NULL : buf;
}

/* The next line of in (advances). */
static char *line(const char **in, size_t *len)
{
    const char *nl = memchr(*in, '\n', *len);
    size_t n = nl ? (size_t)(nl - *in) : *len;
    char *s = strndup(*in, n);
    *in += nl ? n + 1 : n;
    *len -= nl ? n + 1 : n;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 3;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    char err[300];
    if (mode == 0) {
        json_t *m = json_loadb(in, len, 0, NULL);
        http_def d;
        if (m && http_def_parse(m, &d, err, sizeof err) == 0) {
            for (int i = 0; i < d.n_status; i++) http_map_status(&d, d.status_map[i].provider);
            http_map_failure(&d, "x");
            http_def_host_ok(&d, "https://example.com/");
            http_def_free(&d);
        }
        json_decref(m);
    } else if (mode == 1) {
        char *tmpl = line(&in, &len);
        strbuf sb;
        sb_init(&sb);
        tmpl_render(tmpl, echo, NULL, &sb, err, sizeof err);
        sb_free(&sb);
        json_t *doc = json_loadb(in, len, 0, NULL);
        char out[256], host[256];
        json_path_text(doc, tmpl, out, sizeof out);
        url_host(tmpl, host, sizeof host);
        json_decref(doc);
        free(tmpl);
    } else {
        char *sig = line(&in, &len), *ts = line(&in, &len);
        static const verify_scheme schemes[] = {VERIFY_BASIC, VERIFY_HMAC, VERIFY_ED25519};
        for (size_t i = 0; i < 3; i++) {
            verify_spec s;
            memset(&s, 0, sizeof s);
            s.scheme = schemes[i];
            str_copy(s.algorithm, sizeof s.algorithm, "sha256");
            str_copy(s.encoding, sizeof s.encoding, i == 2 ? "base64" : "hex");
            str_copy(s.over, sizeof s.over, data[0] & 8 ? "url_params" : "body");
            str_copy(s.header, sizeof s.header, "X-Sig");
            str_copy(s.timestamp_header, sizeof s.timestamp_header, "X-Ts");
            str_copy(s.message, sizeof s.message, "{timestamp}|{body}");
            s.tolerance_s = 300;
            verify_input vi = {.body = in, .body_len = len, .url = "https://example.com/hook?a=1", .signature = sig,
                               .timestamp = ts, .authorization = sig, .now_s = 1700000000};
            char why[200];
            verify_request(&s, i == 2 ? "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" : "user:key", &vi, why, sizeof why);
        }
        free(sig);
        free(ts);
    }
    return 0;
}
