/* cidr.c — address lists for TRUSTED_PROXIES (see cidr.h). An IPv4-mapped IPv6
 * address (::ffff:10.0.0.1) is compared as the IPv4 address it carries. */
#include "util/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Text → family and 4/16 bytes; IPv4-mapped IPv6 becomes IPv4. */
static int parse_addr(const char *s, int *family, uint8_t out[16])
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) != 1)
        return -1;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out, mapped, 12) == 0) {
        memmove(out, out + 12, 4);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return 0;
}

int cidr_list_parse(const char *spec, cidr_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = spec ? spec : "";
    while (*p) {
        size_t skip = strspn(p, ", \t");
        p += skip;
        if (!*p)
            break;
        size_t n = strcspn(p, ", \t");
        char item[64];
        if (n >= sizeof item) {
            snprintf(err, errlen, "'%.40s...' is too long for an address", p);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        if (out->n >= CIDR_MAX) {
            snprintf(err, errlen, "more than %d entries", CIDR_MAX);
            return -1;
        }
        cidr_block *b = &out->blocks[out->n];
        char *slash = strchr(item, '/');
        if (slash)
            *slash = '\0';
        if (parse_addr(item, &b->family, b->addr) != 0) {
            snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", item);
            return -1;
        }
        int max = b->family == AF_INET ? 32 : 128;
        b->prefix = max;
        if (slash) {
            char *end;
            long v = strtol(slash + 1, &end, 10);
            if (!slash[1] || *end || v < 0 || v > max) {
                snprintf(err, errlen, "'%s/%s' has a prefix length outside 0-%d", item, slash + 1, max);
                return -1;
            }
            b->prefix = (int)v;
        }
        out->n++;
    }
    return 0;
}

static bool block_contains(const cidr_block *b, int family, const uint8_t a[16])
{
    if (b->family != family)
        return false;
    int full = b->prefix / 8, rest = b->prefix % 8;
    if (memcmp(b->addr, a, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (b->addr[full] & mask) == (a[full] & mask);
}

bool cidr_list_contains(const cidr_list *l, const char *ip)
{
    if (!l || !ip || l->n == 0)
        return false;
    int family;
    uint8_t a[16];
    if (parse_addr(ip, &family, a) != 0)
        return false;
    for (int i = 0; i < l->n; i++)
        if (block_contains(&l->blocks[i], family, a))
            return true;
    return false;
}
