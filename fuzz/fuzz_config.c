/* fuzz_config.c — libFuzzer target for the configuration reader
 * (src/config/config.c, config_load_from), which turns the operator's environment
 * (often a .env file) into the struct the whole gateway trusts. The input is split
 * at newlines into a NULL-terminated "KEY=VALUE" array (NUL bytes end a line's
 * value, as they would in a real environment). Besides crashes it checks:
 *   - loading is deterministic (two loads give the same struct);
 *   - a failure always carries a message, and that message never echoes the
 *     API_KEY value (a secret);
 *   - a success only yields values in the documented ranges (port, threads,
 *     country code, resolution, paper, backend name, T.30 station id length, ...).
 * Build: make fuzz. Run: build-fuzz/fuzz_config fuzz/corpus/config -max_total_time=30 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define MAX_VARS 64

static void check_ranges(const config *c)
{
    if (c->listen_port < 0 || c->listen_port > 65535 || !c->listen_host[0]) abort();
    if (c->http_threads < 0 || c->http_threads > 64) abort();   /* 0 = sized from the cores at start */
    if (c->max_file_size_bytes < 1024 * 1024 || c->max_file_size_bytes > 1024LL * 1024 * 1024) abort();
    size_t ccl = strlen(c->default_country_code);
    if (ccl < 1 || ccl > 3 || c->default_country_code[0] == '0') abort();
    for (size_t i = 0; i < ccl; i++)
        if (!isdigit((unsigned char)c->default_country_code[i])) abort();
    if (strcmp(c->default_resolution, "fine") && strcmp(c->default_resolution, "standard")) abort();
    if (strcmp(c->paper_size, "letter") && strcmp(c->paper_size, "a4")) abort();
    if (!c->backend[0]) abort();
    for (const char *p = c->backend; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-')) abort();   /* '-': plugin ids */
    if (c->workers < 1 || c->max_attempts < 1 || c->lease_s < 2) abort();
    if (c->convert_timeout_s < 1 || c->convert_max_pages < 1 || c->convert_parallel < 1) abort();
    if (c->inbound_retention_minutes < 0 || c->artifact_ttl_minutes < 0) abort();
    if (strlen(c->station_id) > 20 || strlen(c->header_text) > 50) abort();
    if (strcmp(c->storage_backend, "local") && strcmp(c->storage_backend, "s3")) abort();
    size_t pl = strlen(c->public_api_url);
    if (pl && (c->public_api_url[pl - 1] == '/' ||
               (strncmp(c->public_api_url, "http://", 7) && strncmp(c->public_api_url, "https://", 8))))
        abort();
    if (!c->database_path[0] || !c->data_dir[0]) abort();
}

/* The API_KEY value if it is long enough to be recognised and appears only once
 * in the whole input (so an echo of it can only come from that variable). */
static const char *secret_in(char *const *envp, const char *all, size_t alllen)
{
    const char *v = NULL;
    for (char *const *e = envp; *e; e++)
        if (!strncmp(*e, "API_KEY=", 8)) v = *e + 8;   /* the reader takes the first; any is fine */
    if (!v || strlen(v) < 12) return NULL;
    const char *first = memmem(all, alllen, v, strlen(v));
    if (first && memmem(first + 1, alllen - (size_t)(first + 1 - all), v, strlen(v))) return NULL;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *envp[MAX_VARS + 1];
    int n = 0;
    char *line = buf;
    while (n < MAX_VARS && line <= buf + size) {
        char *nl = memchr(line, '\n', (size_t)(buf + size - line));
        if (nl) *nl = 0;
        envp[n++] = line;
        if (!nl) break;
        line = nl + 1;
    }
    envp[n] = NULL;

    config a, b;
    char err_a[512], err_b[512];
    err_a[0] = err_b[0] = 0;
    int ra = config_load_from(&a, envp, err_a, sizeof err_a);
    int rb = config_load_from(&b, envp, err_b, sizeof err_b);
    if (ra != rb || (ra != 0 && ra != -1)) abort();
    if (ra == 0) {
        if (memcmp(&a, &b, sizeof a) != 0) abort();
        check_ranges(&a);
    } else {
        if (!err_a[0] || strcmp(err_a, err_b) != 0) abort();
        const char *secret = secret_in(envp, (const char *)data, size);
        if (secret && strstr(err_a, secret)) abort();
    }
    free(buf);
    return 0;
}
