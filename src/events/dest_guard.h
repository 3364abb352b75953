/* dest_guard.h — where the gateway may send a client webhook. A URL must be http(s)
 * (https only, unless private destinations are allowed), and every address its
 * host resolves to must be public: loopback, link-local, private, CGNAT, multicast
 * and unspecified ranges are refused unless WEBHOOK_ALLOW_PRIVATE=true. The check
 * runs on the resolved addresses, and the delivery connects to the address that
 * was checked (curl's CURLOPT_RESOLVE), so DNS cannot change the answer between
 * the check and the connection. */
#ifndef FAXBOT_DEST_GUARD_H
#define FAXBOT_DEST_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct dest_target {
    char host[256];              /* as in the URL, without brackets */
    int port;
    bool https;
    char address[64];            /* the checked address to connect to (numeric) */
    char resolve[340];           /* "host:port:address" for CURLOPT_RESOLVE */
} dest_target;

/* True if the address is in a range webhooks must not reach by default. Pure. */
bool dest_addr_is_private(const struct sockaddr *sa);
/* Checks the URL's form only (scheme, host, no credentials), no DNS. 0, or -1 with why. */
int dest_check_form(const char *url, bool allow_private, dest_target *out, char *why, size_t whylen);
/* The form check, then resolves the host and checks every address. 0 with out
 * filled, DEST_UNRESOLVED when the name does not resolve (now: DNS may be down),
 * or -1 with why (a sentence a client can act on). */
#define DEST_UNRESOLVED (-2)
int dest_check(const char *url, bool allow_private, dest_target *out, char *why, size_t whylen);

#endif
