/* mcp_fetch.h — fetching send_fax's fileUrl: https only, every address the name
 * resolves to (and every redirect's) checked to be public before connecting, a size
 * cap, a time limit and a content-type check. */
#ifndef FAXBOT_MCP_FETCH_H
#define FAXBOT_MCP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True for addresses a fetch must never reach: loopback, private (RFC 1918, ULA),
 * link-local, CGNAT, multicast, unspecified, IPv4-mapped forms of these. ip is
 * a numeric IPv4 or IPv6 address; anything else counts as private. Pure. */
bool mcp_addr_is_private(const char *ip);

/* Downloads url into dest_path. 0, or -1 with a message a model can act on. */
int mcp_fetch_url(const char *url, int64_t max_bytes, bool allow_private, const char *dest_path,
                  char *ctype, size_t ctypelen, char *err, size_t errlen);

#endif
