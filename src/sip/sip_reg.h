/* sip_reg.h — the registration client (RFC 3261 §10) for the one trunk: REGISTER
 * with Digest auth (401/407), refresh at half the granted expiry, and on failure
 * (403, a refused password, a timeout) a retry with backoff (5 s doubling to 5 min)
 * and a status that says in plain words what went wrong and what to check. Runs on
 * the endpoint's loop thread; sip_reg_get may be called from any thread. */
#ifndef FAXBOT_SIP_REG_H
#define FAXBOT_SIP_REG_H

#include <stdbool.h>
#include <stdint.h>

#include "sip/sip_endpoint.h"

typedef struct {
    const char *registrar_host;   /* numeric address of the registrar */
    int registrar_port;
    const char *domain;           /* the AOR's domain (To/From host, Request-URI) */
    const char *user;             /* the AOR's user part */
    const char *auth_user;        /* Digest user name (NULL: user) */
    const char *password;
    const char *contact_host;     /* our address as the registrar must reach it */
    int expires;                  /* asked for, seconds (0: 3600) */
    int transport;                /* SIP_TP_UDP (default), SIP_TP_TCP or SIP_TP_TLS */
    bool learn_public_address;    /* behind NAT without a configured public address: use the
                                     address the registrar saw (Via received/rport, RFC 3581)
                                     in Contact and register again with it */
} sip_reg_config;

typedef enum { SIP_REG_IDLE = 0, SIP_REG_REGISTERING, SIP_REG_REGISTERED, SIP_REG_FAILED } sip_reg_state;

typedef struct {
    sip_reg_state state;
    int last_status;              /* the last final status (408 for a timeout) */
    char last_error[160];         /* "" when registered */
    char advice[240];             /* plain-language hint for the last error */
    int granted_expires;          /* seconds the registrar granted */
    unsigned registrations;       /* successful REGISTERs (1 + refreshes) */
    char public_addr[64];         /* where the registrar saw us come from ("" until told) */
    int public_port;
    unsigned failures;
} sip_reg_status;

typedef struct sip_reg sip_reg;

sip_reg *sip_reg_start(sip_endpoint *ep, const sip_reg_config *cfg);
void sip_reg_get(sip_reg *r, sip_reg_status *out);
/* Stops refreshing (no un-REGISTER is sent); r is freed on the loop thread as soon as
 * no transaction points at it. Call before sip_endpoint_stop. */
void sip_reg_stop(sip_reg *r);
const char *sip_reg_state_name(sip_reg_state s);

#endif
