/* cloud_util.c — the pure helpers of cloud_util.h: HTTP Basic
 * checks, percent-encoding, document sniffing, job id checks and the JSON error
 * reply of a webhook. No I/O, so the webhook parsers built on them can be fuzzed. */
#include "backend/cloud_util.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/backend.h"
#include "util/util.h"

bool cloud_basic_auth_ok(const char *header, const char *user, const char *pass)
{
    if (!header || !user || !user[0] || !pass) return false;
    while (*header == ' ') header++;
    if (strncasecmp(header, "Basic ", 6) != 0) return false;
    header += 6;
    while (*header == ' ') header++;
    size_t n = 0;
    char *creds = (char *)base64_decode(header, strlen(header), SIZE_MAX, false, &n);
    if (!creds) return false;
    bool ok = false;
    char *colon = memchr(creds, ':', n);
    if (colon && strlen(creds) == n) {   /* no NUL hidden inside */
        *colon = 0;
        bool u = secure_streq(creds, user);
        bool p = secure_streq(colon + 1, pass);
        ok = u && p;
    }
    memset(creds, 0, n);
    free(creds);
    return ok;
}

int cloud_url_encode(strbuf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
            || c == '_' || c == '~') {
            if (sb_append(out, p, 1)) return -1;
        } else {
            char enc[3] = { '%', hex[c >> 4], hex[c & 15] };
            if (sb_append(out, enc, 3)) return -1;
        }
    }
    return 0;
}

size_t cloud_line_len(const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && s[n] != '\r' && s[n] != '\n') n++;
    return n;
}

const char *cloud_doc_kind(const unsigned char *data, size_t len)
{
    if (!data) return NULL;
    if (len >= 5 && !memcmp(data, "%PDF-", 5)) return "pdf";
    if (len >= 4 && (!memcmp(data, "II*\0", 4) || !memcmp(data, "MM\0*", 4))) return "tiff";
    return NULL;
}

bool cloud_is_job_id(const char *s)
{
    if (!s) return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return false;
    return n == 32;
}

int cloud_query_attempt(const webhook_request *req)
{
    const char *v = req->query_param(req, "attempt");
    if (!v || !*v) return 0;
    char *end = NULL;
    long x = strtol(v, &end, 10);
    return end != v && *end == 0 && x > 0 && x < 1000000 ? (int)x : 0;
}
