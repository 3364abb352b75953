/* sip_txn.h — the SIP transaction layer (RFC 3261 §17, with RFC 6026's Accepted
 * state) over an unreliable transport: client INVITE (Timers A, B, D; the ACK for a
 * non-2xx final), client non-INVITE (E, F, K), server INVITE (G, H, I; 2xx
 * retransmitted until the ACK), server non-INVITE (J). Retransmitted requests are
 * absorbed by answering with the last response; retransmitted finals are absorbed
 * (and re-ACKed). The table has a fixed size: when it is full a new request is
 * dropped and counted, so a flood never grows memory.
 *
 * The layer does no I/O and reads no clock: it sends through a callback and is
 * driven with the current monotonic time (sip_txn_receive, sip_txn_tick), so the
 * endpoint's one event-loop thread runs it and tests drive it step by step. Not
 * thread-safe: one thread owns it. */
#ifndef FAXBOT_SIP_TXN_H
#define FAXBOT_SIP_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip/sip_msg.h"

typedef struct sip_txn_layer sip_txn_layer;
typedef struct sip_txn sip_txn;   /* a server transaction, handed to the TU to answer */

enum { SIP_TP_UDP = 0, SIP_TP_TCP = 1, SIP_TP_TLS = 2 };

/* A peer: its address and the transport to reach it by. Over TCP (reliable) the
 * layer does not retransmit and the Completed-state timers are zero (RFC 3261 §17). */
typedef struct {
    struct sockaddr_storage addr;
    socklen_t len;
    int transport;   /* SIP_TP_UDP, SIP_TP_TCP or SIP_TP_TLS */
} sip_addr_t;

/* Sends bytes to a peer (the endpoint's sockets): 0 sent (or handed to UDP), -1 when
 * a connection could not be made or broke (a transport error, RFC 3261 §8.1.3.1). */
typedef int (*sip_send_fn)(void *ctx, const sip_addr_t *to, const char *buf, size_t len);
/* A response for a client transaction: resp is NULL on a timeout (status 408), or
 * with status 0 when the layer is freed while the transaction waits. The final
 * response (>= 200), the timeout or the 0 is the last call for that transaction. */
typedef void (*sip_resp_fn)(void *user, const sip_msg *resp, int status);
/* A new request: st is the server transaction to answer (sip_txn_respond); for an
 * ACK to a 2xx, which is no transaction (RFC 3261 §17.1.1.3), st is NULL. */
typedef void (*sip_req_fn)(void *ctx, sip_txn *st, const sip_msg *req, const sip_addr_t *from);

typedef struct {
    int t1_ms;        /* RTT estimate, 500 by default (RFC 3261 §17.1.1.1) */
    int t2_ms;        /* 4000 */
    int t4_ms;        /* 5000 */
    size_t max_txns;  /* the table's size */
} sip_txn_config;

typedef struct {
    uint64_t requests_in, responses_in, retransmissions_absorbed, timeouts;
    uint64_t dropped_unparsable, dropped_table_full, dropped_stray;
    uint64_t refused_answered;   /* unparsable requests answered with 400/505/501/513 */
    size_t active;
} sip_txn_stats;

sip_txn_layer *sip_txn_layer_new(const sip_txn_config *cfg, sip_send_fn send, sip_req_fn on_request, void *ctx);
void sip_txn_layer_free(sip_txn_layer *l);

/* Starts a client transaction for a request built by the caller (its top Via must
 * carry a z9hG4bK branch). The layer keeps a copy and retransmits it. 0 ok, -1 if
 * the table is full, the request does not parse, or it could not be sent at all
 * over a connection (TCP/TLS refused, TLS certificate not trusted). */
int sip_txn_request(sip_txn_layer *l, const char *msg, size_t len, const sip_addr_t *to,
                    sip_resp_fn cb, void *user, int64_t now_ms);

/* Answers a server transaction with a built response (the layer keeps and
 * retransmits it as the state machine says). 0 ok, -1 if st is no longer live. */
int sip_txn_respond(sip_txn_layer *l, sip_txn *st, const char *msg, size_t len, int status, int64_t now_ms);
/* The request a server transaction answers (valid while the transaction lives). */
const sip_msg *sip_txn_request_of(const sip_txn *st);

/* One datagram from the network. */
void sip_txn_receive(sip_txn_layer *l, const char *data, size_t len, const sip_addr_t *from, int64_t now_ms);
/* Fires due timers. */
void sip_txn_tick(sip_txn_layer *l, int64_t now_ms);
/* When sip_txn_tick next has work (absolute ms), or -1 if never. */
int64_t sip_txn_next_due(const sip_txn_layer *l);
void sip_txn_get_stats(const sip_txn_layer *l, sip_txn_stats *out);

/* A response that matches no transaction (e.g. a retransmitted 2xx to an INVITE,
 * which the TU must ACK again). Without a handler such responses are dropped. */
typedef void (*sip_stray_fn)(void *ctx, const sip_msg *resp, const sip_addr_t *from);
void sip_txn_set_stray_handler(sip_txn_layer *l, sip_stray_fn fn, void *ctx);

/* A stable id for a server transaction (a slot index and its generation): the TU
 * keeps the id, not the pointer, across calls; sip_txn_by_id gives NULL once the
 * transaction has ended. */
uint64_t sip_txn_id(const sip_txn_layer *l, const sip_txn *st);
sip_txn *sip_txn_by_id(sip_txn_layer *l, uint64_t id);

/* Sends bytes outside any transaction (the ACK for a 2xx, RFC 3261 §13.2.2.4). */
int sip_txn_send_raw(sip_txn_layer *l, const sip_addr_t *to, const char *buf, size_t len);

/* Writes a new branch ("z9hG4bK" + 24 hex) into out[32]. */
void sip_new_branch(char out[32]);

#endif
