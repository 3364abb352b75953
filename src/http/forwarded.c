/* forwarded.c — the client address behind trusted reverse proxies: the last
 * address in Forwarded (RFC 7239 "for=") or, without it, X-Forwarded-For that is
 * not itself a trusted proxy. Only a peer in TRUSTED_PROXIES is believed; anything
 * a client writes into these headers itself is ignored because it sits left of the
 * first untrusted hop. Pure; used by server.c for http_req_client_ip. */
#include "http/http.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One hop's text ("1.2.3.4", "[::1]:80", "\"[2001:db8::1]:4711\"", "1.2.3.4:5")
 * → a plain address in out; -1 if it is not an address (e.g. "unknown"). */
static int hop_address(const char *s, size_t n, char *out, size_t outlen)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '"')) { s++; n--; }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '"')) n--;
    if (n && *s == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        n = (size_t)(close - s - 1);
        s++;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
            n = (size_t)(colon - s);          /* IPv4 with a port */
    }
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char tmp[16];
    if (n == 0 || n >= sizeof buf || n >= outlen)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, tmp) != 1 && inet_pton(AF_INET6, buf, tmp) != 1)
        return -1;
    memcpy(out, buf, n + 1);
    return 0;
}

#define MAX_HOPS 32

/* Splits the header into hop strings (pointers into it). For Forwarded, the "for="
 * parameter of each comma-separated element; a missing one counts as unknown. */
static int hops_of(const char *h, bool forwarded, const char *start[], size_t len[])
{
    int n = 0;
    while (*h && n < MAX_HOPS) {
        size_t elen = strcspn(h, ",");
        start[n] = h;
        len[n] = elen;
        if (forwarded) {
            len[n] = 0;
            const char *p = h, *end = h + elen;
            while (p < end) {
                while (p < end && (*p == ' ' || *p == ';')) p++;
                size_t plen = 0;
                while (p + plen < end && p[plen] != ';') plen++;
                if (plen > 4 && strncasecmp(p, "for=", 4) == 0) {
                    start[n] = p + 4;
                    len[n] = plen - 4;
                }
                p += plen;
            }
        }
        n++;
        h += elen;
        if (*h == ',')
            h++;
    }
    return n;
}

void http_forwarded_client(const char *peer, const char *forwarded, const char *xff, const cidr_list *trusted,
                           char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", peer);
    if (!trusted || !cidr_list_contains(trusted, peer))
        return;
    const char *h = forwarded && *forwarded ? forwarded : xff;
    if (!h || !*h)
        return;
    const char *start[MAX_HOPS];
    size_t len[MAX_HOPS];
    int n = hops_of(h, h == forwarded, start, len);
    for (int i = n - 1; i >= 0; i--) {
        char addr[INET6_ADDRSTRLEN + 1];
        if (hop_address(start[i], len[i], addr, sizeof addr) != 0)
            return;              /* an unknown hop: the last trusted one is all we know */
        snprintf(out, outlen, "%s", addr);
        if (!cidr_list_contains(trusted, addr))
            return;
    }
}
