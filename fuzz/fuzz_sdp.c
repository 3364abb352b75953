/* fuzz_sdp.c — libFuzzer harness for the SDP parser and offer/answer (src/sip/sdp.c).
 * The input is an SDP body. When it parses, it is answered with our capabilities;
 * an answer we write must parse back and its accepted stream must be the one
 * sdp_answer reported (what we copy from an offer can never make our own SDP
 * unreadable). The parsed offer is also read as if it were an answer to our audio
 * and T.38 offers. Seeds: fuzz/corpus/sdp. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdp_session s;
    char err[160];
    if (sdp_parse((const char *)data, size, &s, err, sizeof err)) {
        if (!err[0]) abort();
        return 0;
    }
    if (s.n_media > SDP_MAX_MEDIA) abort();
    sdp_local l;
    sdp_local_init(&l, "192.0.2.10", 40000, 40002);
    strbuf sb;
    sb_init(&sb);
    sdp_negotiated res;
    if (sdp_answer(&s, &l, &sb, &res, err, sizeof err) == 0) {
        sdp_session ans;
        if (sdp_parse(sb.data, sb.len, &ans, err, sizeof err)) abort();
        if (ans.n_media != s.n_media) abort();
        sdp_negotiated back;
        if (sdp_read_answer(&ans, res.kind, &l, &back, err, sizeof err)) abort();
        if (back.remote_port != (res.kind == SDP_KIND_T38 ? l.t38_port : l.audio_port)) abort();
        if (res.remote_port <= 0 || res.remote_port > 65535) abort();
    }
    sb_free(&sb);
    (void)sdp_read_answer(&s, SDP_KIND_AUDIO, &l, &res, err, sizeof err);
    (void)sdp_read_answer(&s, SDP_KIND_T38, &l, &res, err, sizeof err);
    return 0;
}
