/* direct_map.h — the direct backend's translation between SIP and media: what we
 * offer or accept in SDP (sdp_local) from a media call's local port, the SDP's
 * negotiated result (sdp_negotiated) as the media engine's media_params, and SIP
 * end reasons as the job layer's failure words. Pure functions, no I/O. */
#ifndef FAXBOT_DIRECT_MAP_H
#define FAXBOT_DIRECT_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "media/media_engine.h"
#include "sip/sdp.h"
#include "sip/sip_call.h"

/* Our side for an offer or answer: one socket carries audio and T.38, so both ports
 * are the same; t38 false leaves T.38 out (t38_port 0). */
void direct_local_sdp(sdp_local *l, const char *addr, int port, bool t38);

/* The negotiated SDP as media parameters (symmetric: send where packets come from). */
void direct_media_params(const sdp_negotiated *n, bool symmetric, media_params *p);

/* A call that ended before (or without) the fax result: the failure word of
 * docs/backends.md and whether another attempt may help. */
const char *direct_failure_reason(sip_end_reason r, bool *transient);

/* "+15551234567" as the trunk wants it in the Request-URI: with or without the '+',
 * behind a tech prefix and its separator. -1 if it does not fit. */
int direct_dial_number(const char *e164, bool plus, const char *tech_prefix, const char *sep, char *out,
                       size_t outlen);

#endif
