/* route.c — pure helpers of the HTTP transport: matching a request path against a
 * route pattern such as "/fax/{id}" and URL-decoding. server.c uses them to pick
 * a route for each request; the api layer may use http_url_decode for form bodies. */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static const char *segment_end(const char *s)
{
    const char *e = strchr(s, '/');
    return e ? e : s + strlen(s);
}

int http_route_match(const char *pattern, const char *path, char *scratch, size_t scratch_len,
                     const char *names[], const char *values[], int max, int *n)
{
    if (n)
        *n = 0;
    if (!pattern || !path)
        return 0;
    const char *pp = pattern, *sp = path;
    size_t used = 0;
    int count = 0;
    for (;;) {
        if (*pp == '\0' || *sp == '\0') {
            if (*pp != *sp)
                return 0;        /* one has more segments (or a trailing slash) */
            break;
        }
        if (*pp != '/' || *sp != '/')
            return 0;
        pp++;
        sp++;
        const char *pe = segment_end(pp), *se = segment_end(sp);
        size_t plen = (size_t)(pe - pp), slen = (size_t)(se - sp);
        if (plen >= 3 && pp[0] == '{' && pp[plen - 1] == '}') {
            if (slen == 0 || count >= max || !scratch || !names || !values)
                return 0;
            size_t nlen = plen - 2;
            if (used + nlen + 1 + slen + 1 > scratch_len)
                return 0;
            char *name = scratch + used;
            memcpy(name, pp + 1, nlen);
            name[nlen] = '\0';
            used += nlen + 1;
            char *value = scratch + used;
            memcpy(value, sp, slen);
            value[slen] = '\0';
            used += slen + 1;
            names[count] = name;
            values[count] = value;
            count++;
        } else if (plen != slen || memcmp(pp, sp, plen) != 0) {
            return 0;
        }
        pp = pe;
        sp = se;
    }
    if (n)
        *n = count;
    return 1;
}

/* Returns -1 on a bad escape: '%' not followed by two hex digits, or "%00" (which
 * would silently cut the string short). On error s is left unchanged. */
int http_url_decode(char *s, bool plus_is_space)
{
    if (!s)
        return -1;
    size_t len = strlen(s);
    char *d = url_decode_dup(s, len, NULL, URL_STRICT | (plus_is_space ? URL_PLUS_SPACE : 0));
    if (!d)
        return -1;
    memcpy(s, d, strlen(d) + 1);
    free(d);
    return 0;
}
