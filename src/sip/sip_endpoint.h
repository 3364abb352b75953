/* sip_endpoint.h — the SIP endpoint's one event-loop thread: a UDP socket and TCP connections, the
 * transaction layer (sip_txn.h) and a tick hook for the layers above (registration;
 * calls later). No thread per packet: the loop polls the socket, feeds datagrams to
 * the transaction layer and fires timers. New requests are rate limited per source
 * address (a token bucket per address, a bounded table), so a flood is dropped
 * before it costs a transaction slot. Everything that touches the transaction layer
 * runs on the loop thread; other threads hand work over with sip_endpoint_call. */
#ifndef FAXBOT_SIP_ENDPOINT_H
#define FAXBOT_SIP_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/sip_txn.h"

typedef struct sip_endpoint sip_endpoint;

typedef struct {
    const char *bind_addr;    /* numeric IPv4/IPv6, e.g. "127.0.0.1" */
    int port;                 /* 0: any free port */
    int t1_ms;                /* 0: 500 */
    size_t max_txns;          /* 0: 256 */
    int new_requests_per_sec; /* per source address; 0: 20 */
    bool tcp;                 /* also listen on TCP (same port number); outbound TCP always works */
    /* TLS (OpenSSL, TLS 1.2+): outbound TLS always verifies the peer against
     * tls_ca_file (NULL: the system store) and tls_server_name (NULL: the address);
     * with tls_cert_file (PEM chain; key in tls_key_file or the same file) the
     * endpoint also listens for TLS on tls_port (0: any free port). */
    const char *tls_ca_file, *tls_server_name, *tls_cert_file, *tls_key_file;
    int tls_port;
} sip_endpoint_config;

typedef void (*sip_loop_fn)(sip_endpoint *ep, void *arg, int64_t now_ms);

sip_endpoint *sip_endpoint_start(const sip_endpoint_config *cfg, sip_req_fn on_request, void *ctx,
                                 char *err, size_t errlen);
void sip_endpoint_stop(sip_endpoint *ep);
int sip_endpoint_port(const sip_endpoint *ep);
int sip_endpoint_tls_port(const sip_endpoint *ep);   /* 0 without a TLS listener */
/* Runs fn(ep, arg) on the loop thread soon; 0 ok, -1 if the queue is full. */
int sip_endpoint_call(sip_endpoint *ep, sip_loop_fn fn, void *arg);
/* Adds a hook the loop calls at least every 50 ms (from the loop thread); up to 8. */
int sip_endpoint_add_tick(sip_endpoint *ep, sip_loop_fn fn, void *arg);
/* Removes a hook: at once when called on the loop thread (also from inside a hook),
 * else soon. */
void sip_endpoint_remove_tick(sip_endpoint *ep, sip_loop_fn fn, void *arg);
/* Loop thread only. */
sip_txn_layer *sip_endpoint_txn(sip_endpoint *ep);
/* Replaces the handler of new requests (loop thread only, e.g. from sip_endpoint_call). */
void sip_endpoint_set_request_handler(sip_endpoint *ep, sip_req_fn fn, void *ctx);
/* Requests dropped by the per-source rate limit. */
uint64_t sip_endpoint_rate_limited(const sip_endpoint *ep);

/* Resolves a numeric host and port into a sip_addr_t. 0 ok. */
int sip_addr_from(const char *host, int port, sip_addr_t *out);

#endif
