/* cidr.h — lists of IPv4/IPv6 addresses and CIDR blocks ("10.0.0.0/8, ::1"), as
 * TRUSTED_PROXIES gives them, and membership tests. Pure. */
#ifndef FAXBOT_CIDR_H
#define FAXBOT_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIDR_MAX 32

typedef struct cidr_block {
    int family;                  /* AF_INET or AF_INET6 */
    uint8_t addr[16];            /* network byte order; 4 bytes used for IPv4 */
    int prefix;                  /* bits */
} cidr_block;

typedef struct cidr_list {
    int n;
    cidr_block blocks[CIDR_MAX];
} cidr_list;

/* Parses a comma- or space-separated list; "" gives an empty list. Returns 0, or
 * -1 with the offending entry named in err. */
int cidr_list_parse(const char *spec, cidr_list *out, char *err, size_t errlen);
/* True if the textual address (IPv4, IPv6, or IPv4-mapped IPv6) is in the list. */
bool cidr_list_contains(const cidr_list *l, const char *ip);

#endif
