/* sip_call.h — the user agent's calls (RFC 3261 §12-15, RFC 3264) over one trunk:
 * outbound INVITE with an SDP offer (Digest on 401/407), provisional and final
 * responses mapped to plain failure reasons (busy, no_answer, declined, …), the ACK
 * for a 2xx (re-sent on a retransmitted 2xx), CANCEL while ringing, BYE both ways,
 * re-INVITE sent and received with the media change surfaced to a callback (the
 * switch to T.38, or its refusal), inbound INVITE from the trunk's address only
 * (anyone else gets 403 and never rings), a cap on simultaneous calls (486 beyond
 * it), an INVITE without SDP answered with our offer in the 2xx (the answer comes
 * in the ACK), OPTIONS answered, and a per-call ladder (time, direction, method/status) for
 * the job's attempt record.
 *
 * All of it runs on the endpoint's loop thread: the functions here are called from
 * there (other threads go through sip_endpoint_call), and the callbacks come from
 * there. The trunk is the outbound proxy: every request goes to trunk_host:port. */
#ifndef FAXBOT_SIP_CALL_H
#define FAXBOT_SIP_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include "sip/sdp.h"
#include "sip/sip_endpoint.h"

typedef struct sip_ua sip_ua;
typedef struct sip_call sip_call;

typedef enum {
    SIP_END_NONE = 0,
    SIP_END_HANGUP_LOCAL,     /* we sent BYE (or CANCEL at our request) */
    SIP_END_HANGUP_REMOTE,    /* they sent BYE, or CANCEL before we answered */
    SIP_END_BUSY,             /* 486, 600 */
    SIP_END_NO_ANSWER,        /* 480, 408, our ring timeout */
    SIP_END_DECLINED,         /* 603, 403 */
    SIP_END_INVALID_NUMBER,   /* 404, 484, 604 */
    SIP_END_NOT_ACCEPTABLE,   /* 488, 606, 415: no common media */
    SIP_END_AUTH_FAILED,      /* 401/407 again after our Digest answer */
    SIP_END_TIMEOUT,          /* no response at all (Timer B) */
    SIP_END_UNAVAILABLE,      /* 500, 502, 503, 504 */
    SIP_END_FAILED,           /* anything else */
} sip_end_reason;

const char *sip_end_reason_name(sip_end_reason r);   /* "busy", "no_answer", … */
sip_end_reason sip_end_reason_for_status(int status);

typedef struct {
    /* 180/183 for an outbound call */
    void (*on_progress)(void *user, sip_call *c, int status);
    /* the call is up: outbound after the 2xx (ACK sent), inbound when the ACK came */
    void (*on_answered)(void *user, sip_call *c, const sdp_negotiated *media);
    /* a re-INVITE (theirs or ours) changed the media */
    void (*on_media_change)(void *user, sip_call *c, const sdp_negotiated *media);
    /* our re-INVITE was refused (488 …): the call stays on its media */
    void (*on_reinvite_failed)(void *user, sip_call *c, int status);
    /* the last callback of a call; the call is freed after it returns */
    void (*on_ended)(void *user, sip_call *c, sip_end_reason reason, int status);
    /* an INVITE from the trunk. Fill *local (our media address and ports) and return
     * 200 to answer now, 180 to ring (answer later with sip_call_answer), or a
     * status >= 300 to refuse. */
    int (*on_incoming)(void *user, sip_call *c, const char *from_user, const char *to_user,
                       sdp_local *local);
} sip_call_events;

typedef struct {
    const char *trunk_host;   /* numeric address: requests go there; inbound INVITEs only from there */
    int trunk_port;           /* 0: 5060 */
    int transport;            /* SIP_TP_UDP, SIP_TP_TCP or SIP_TP_TLS */
    const char *domain;       /* host of Request-URI/To/From (NULL: trunk_host) */
    const char *from_user;    /* caller id */
    const char *from_display; /* may be NULL */
    const char *auth_user;    /* Digest user for INVITE challenges (NULL: from_user) */
    const char *password;     /* NULL: challenges end the call as auth_failed */
    const char *local_host;   /* our address in Via/Contact (the public address if set) */
    size_t max_calls;         /* 0: 16 */
    int ring_timeout_s;       /* 0: 60; then CANCEL and no_answer */
} sip_ua_config;

/* Creates the UA; it attaches to the endpoint on the loop thread (any thread may call this). */
sip_ua *sip_ua_new(sip_endpoint *ep, const sip_ua_config *cfg, const sip_call_events *ev, void *user);
/* Frees the UA and its calls without signalling: call it after sip_endpoint_stop. */
void sip_ua_free(sip_ua *ua);

/* Places a call to number (the user part, e.g. "+15551234567"), offering kind. NULL
 * if the cap is reached or the request cannot be built. */
sip_call *sip_ua_invite(sip_ua *ua, const char *number, const sdp_local *local, sdp_kind offer);
/* Answers a ringing inbound call (after on_incoming returned 180). 0 ok. */
int sip_call_answer(sip_call *c);
/* Offers a new media kind in a re-INVITE (e.g. T.38 after audio). 0 if sent. */
int sip_call_reinvite(sip_call *c, sdp_kind kind);
/* Hangs up: CANCEL while ringing, BYE when up, 603 for an unanswered inbound call. */
int sip_call_hangup(sip_call *c);

void *sip_call_user(const sip_call *c);
void sip_call_set_user(sip_call *c, void *user);
bool sip_call_inbound(const sip_call *c);
const char *sip_call_id(const sip_call *c);
/* "0.000 > INVITE\n0.012 < 100\n…" (seconds since the call began). */
void sip_call_ladder(const sip_call *c, char *out, size_t cap);
size_t sip_ua_active_calls(const sip_ua *ua);

#endif
