/* fuzz_apikey.c — libFuzzer target for the API key token parser and the scope-list
 * normalizer, both of which read bytes straight from clients (X-API-Key header,
 * admin request bodies). Besides crashes it checks invariants: a parsed token
 * rebuilds to exactly the input, and normalizing is idempotent and keeps every
 * listed scope allowed.
 *
 * Build and run (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     fuzz/fuzz_apikey.c src/auth/apikey.c src/util/util.c -lcrypto -o fuzz_apikey
 *   ./fuzz_apikey -max_total_time=30
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/apikey.h"

static void check_parse(const char *s)
{
    apikey_parts p;
    if (apikey_parse(s, &p) != 0) return;
    size_t sl = strlen(p.secret);
    if (strlen(p.key_id) != APIKEY_ID_LEN || sl < 43 || sl > 100) abort();
    char rebuilt[160];
    snprintf(rebuilt, sizeof rebuilt, "fbk_live_%s_%s", p.key_id, p.secret);
    if (strcmp(rebuilt, s) != 0) abort();
}

static void check_scopes(const char *s)
{
    char out[256], again[256], err[256], tiny[10];
    apikey_scopes_normalize(s, tiny, sizeof tiny, err, sizeof err);
    apikey_scopes_normalize(s, out, sizeof out, NULL, 0);
    if (apikey_scopes_normalize(s, out, sizeof out, err, sizeof err) != 0) return;
    if (apikey_scopes_normalize(out, again, sizeof again, err, sizeof err) != 0 || strcmp(out, again) != 0) abort();
    /* Every normalized item is granted by the list it came from. */
    char copy[256];
    memcpy(copy, out, sizeof copy);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (strcmp(item, "*") != 0 && !apikey_scopes_allow(out, item)) abort();
    /* Only an explicit keys:manage grants admin. */
    if (apikey_scopes_allow(out, "keys:manage") != (strstr(out, "keys:manage") != NULL)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    check_parse(s);
    check_scopes(s);
    apikey_scopes_allow(s, "fax:send");
    apikey_scopes_allow(s, "keys:manage");
    free(s);
    return 0;
}
