/* direct_map.h — the direct backend's translation between SIP and media: what we
 * offer or accept in SDP (sdp_local) from a media call's local port, SIP end reasons
 * as the job layer's failure words, the dialled number's format. (The SDP result as
 * media_params is direct_media.c.) Pure functions, no I/O. */
#ifndef FAXBOT_DIRECT_MAP_H
#define FAXBOT_DIRECT_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "sip/sdp.h"
#include "sip/sip_call.h"

/* Our side for an offer or answer: one socket carries audio and T.38, so both ports
 * are the same; t38 false leaves T.38 out (t38_port 0). */
void direct_local_sdp(sdp_local *l, const char *addr, int port, bool t38);

/* A call that ended before (or without) the fax result: the failure word of
 * docs/backends.md and whether another attempt may help. */
const char *direct_failure_reason(sip_end_reason r, bool *transient);

/* "+15551234567" as the trunk wants it in the Request-URI: with or without the '+',
 * behind a tech prefix and its separator. -1 if it does not fit. */
int direct_dial_number(const char *e164, bool plus, const char *tech_prefix, const char *sep, char *out,
                       size_t outlen);

#endif
