/* dest_guard.c — the SSRF guard for client webhooks (see dest_guard.h). */
#include "events/dest_guard.h"
#include "util/util.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool v4_private(uint32_t a)       /* host byte order */
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
    return b0 == 0 || b0 == 10 || b0 == 127 ||                 /* this network, private, loopback */
           (b0 == 100 && (b1 & 0xc0) == 64) ||                 /* 100.64/10 carrier-grade NAT */
           (b0 == 169 && b1 == 254) ||                         /* link-local (cloud metadata) */
           (b0 == 172 && (b1 & 0xf0) == 16) ||                 /* 172.16/12 */
           (b0 == 192 && b1 == 168) ||                         /* 192.168/16 */
           (b0 == 192 && b1 == 0 && (uint8_t)(a >> 8) == 0) || /* 192.0.0/24 protocol assignments */
           (b0 == 198 && (b1 & 0xfe) == 18) ||                 /* 198.18/15 benchmarking */
           b0 >= 224;                                          /* multicast, reserved, broadcast */
}

bool dest_addr_is_private(const struct sockaddr *sa)
{
    if (!sa) return true;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return v4_private(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family != AF_INET6) return true;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    const uint8_t *b = a->s6_addr;
    if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
        IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_MULTICAST(a))
        return true;
    if ((b[0] & 0xfe) == 0xfc) return true;                   /* fc00::/7 unique local */
    if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a) ||  /* an IPv4 address inside: judge that */
        (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)) {   /* 64:ff9b::/96 NAT64 */
        uint32_t v4 = ((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15];
        return v4_private(v4);
    }
    if (b[0] == 0x20 && b[1] == 0x02) {                        /* 2002::/16 6to4 carries an IPv4 address */
        uint32_t v4 = ((uint32_t)b[2] << 24) | ((uint32_t)b[3] << 16) | ((uint32_t)b[4] << 8) | b[5];
        return v4_private(v4);
    }
    return false;
}

int dest_check_form(const char *url, bool allow_private, dest_target *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
    int rc = -1;
    if (!u) { str_fmt(why, whylen, "out of memory"); return -1; }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        str_fmt(why, whylen, "is not a valid absolute URL");
        goto out;
    }
    if (strcasecmp(scheme, "https") && !(allow_private && !strcasecmp(scheme, "http"))) {
        str_fmt(why, whylen, "must be an https:// URL%s",
                !strcasecmp(scheme, "http") ? " (http:// is allowed only with WEBHOOK_ALLOW_PRIVATE=true)" : "");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user) {
        str_fmt(why, whylen, "must not carry a user name or password");
        goto out;
    }
    out->https = !strcasecmp(scheme, "https");
    out->port = out->https ? 443 : 80;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port) out->port = atoi(port);
    const char *h = host;
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2) { h++; hl -= 2; }
    if (hl == 0 || hl >= sizeof out->host) { str_fmt(why, whylen, "has no usable host name"); goto out; }
    memcpy(out->host, h, hl);
    out->host[hl] = 0;
    if (strchr(out->host, '%')) { str_fmt(why, whylen, "must not name an IPv6 zone"); goto out; }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

int dest_check(const char *url, bool allow_private, dest_target *out, char *why, size_t whylen)
{
    if (dest_check_form(url, allow_private, out, why, whylen)) return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(out->host, NULL, &hints, &ai);
    if (g != 0 || !ai) {
        str_fmt(why, whylen, "has a host name that does not resolve (%s)", gai_strerror(g));
        return DEST_UNRESOLVED;
    }
    int rc = 0;
    const struct addrinfo *chosen = NULL;
    for (const struct addrinfo *p = ai; p; p = p->ai_next) {
        if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
        if (!allow_private && dest_addr_is_private(p->ai_addr)) {
            char a[64] = "";
            getnameinfo(p->ai_addr, p->ai_addrlen, a, sizeof a, NULL, 0, NI_NUMERICHOST);
            str_fmt(why, whylen, "points at a private, loopback or link-local address (%s); "
                    "set WEBHOOK_ALLOW_PRIVATE=true to allow that", a);
            rc = -1;
            break;
        }
        if (!chosen) chosen = p;
    }
    if (!rc && !chosen) { str_fmt(why, whylen, "has a host without an IPv4 or IPv6 address"); rc = -1; }
    if (!rc) {
        getnameinfo(chosen->ai_addr, chosen->ai_addrlen, out->address, sizeof out->address, NULL, 0, NI_NUMERICHOST);
        bool v6 = chosen->ai_family == AF_INET6;
        str_fmt(out->resolve, sizeof out->resolve, "%s:%d:%s%s%s", out->host, out->port, v6 ? "[" : "",
                out->address, v6 ? "]" : "");
    }
    freeaddrinfo(ai);
    return rc;
}
