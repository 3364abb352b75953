/* direct_media.h — the direct backend's glue between signalling and media (issue 20):
 * what SDP offer/answer agreed (src/sip/sdp.h, sdp_negotiated) becomes the parameters
 * the media engine runs a call with (src/media/media_engine.h, media_params). The
 * backend calls it from the SIP callbacks on_answered / on_media_change. */
#ifndef FAXBOT_DIRECT_MEDIA_H
#define FAXBOT_DIRECT_MEDIA_H

#include <stdbool.h>
#include <stddef.h>

#include "media/media_engine.h"
#include "sip/sdp.h"

/* Fills *out from *n (symmetric: follow the far end's source address, for NAT).
 * 0 ok; -1 with a reason in err when the result is no media we can run (no kind, a
 * port of 0). The media engine checks the parameters again when it uses them. */
int direct_media_params(const sdp_negotiated *n, bool symmetric, media_params *out, char *err, size_t errlen);

#endif
