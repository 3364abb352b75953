/* pbx_lease.h — the lease of one PBX connection (an AMI or event socket host:port)
 * when several nodes share a store: only the node holding "pbx:<kind>:<host>:<port>"
 * is on that connection, originates through it and follows its calls; the others
 * are standby (backend_ops.standby). The holder renews every PBX_LEASE_RENEW_MS (the
 * lease runs PBX_LEASE_MS); a standby node asks every PBX_LEASE_RETRY_MS and gets it
 * once the holder stopped renewing (killed) or gave it up (stopped). A holder that
 * cannot renew goes standby when its lease has run out by its own clock. With a sink
 * that has no lease operation (one node), the node always holds it. Shared by the
 * sip (Asterisk) and freeswitch backends; thread-safe. */
#ifndef FAXBOT_PBX_LEASE_H
#define FAXBOT_PBX_LEASE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

#define PBX_LEASE_MS 10000
#define PBX_LEASE_RENEW_MS 2000
#define PBX_LEASE_RETRY_MS 1000

typedef struct pbx_lease {
    backend_sink sink;
    char name[300];              /* "pbx:ami:127.0.0.1:5038" */
    char what[300];              /* "the AMI connection to 127.0.0.1:5038" */
    pthread_mutex_t lock;
    bool standby;                /* another node holds it (or it cannot be told) */
    char holder[64];             /* that node, "" when unknown */
    int64_t next;                /* mono ms: renew / ask again */
    int64_t held_until;          /* mono ms: as far as this node knows it holds it */
} pbx_lease;

/* Asks for the lease once (at create); true when this node is standby. why gets the
 * sentence for the connection's state when standby. */
bool pbx_lease_start(pbx_lease *l, const backend_sink *sink, const char *kind, const char *what_name,
                     const char *host, int port, char *why, size_t whylen);
/* Renews or asks when due. true when standby changed (then *standby and why say how). */
bool pbx_lease_tick(pbx_lease *l, bool *standby, char *why, size_t whylen);
bool pbx_lease_standby(pbx_lease *l);
/* "standby: node X holds <what> (this node sends nothing through it)". */
void pbx_lease_why(pbx_lease *l, char *out, size_t len);
/* Gives it up if held (the connection is closed): another node may take it at once. */
void pbx_lease_end(pbx_lease *l);

#endif
