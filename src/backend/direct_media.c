/* direct_media.c — sdp_negotiated → media_params (see direct_media.h). The two enums
 * for T.38 error correction share their numbering (none 0, redundancy 1, FEC 2), and
 * spandsp's rate-management numbering (1 localTCF, 2 transferredTCF) is used on both
 * sides; the static asserts keep it so. */
#include "backend/direct_media.h"

#include "util/util.h"

_Static_assert((int)T38_EC_NONE == (int)UDPTL_EC_NONE && (int)T38_EC_REDUNDANCY == (int)UDPTL_EC_REDUNDANCY &&
               (int)T38_EC_FEC == (int)UDPTL_EC_FEC, "T.38 EC numbering differs between sdp.h and udptl.h");

int direct_media_params(const sdp_negotiated *n, bool symmetric, media_params *out, char *err, size_t errlen)
{
    if (n->kind != SDP_KIND_AUDIO && n->kind != SDP_KIND_T38) {
        str_fmt(err, errlen, "no media was agreed");
        return -1;
    }
    if (n->remote_port <= 0) {
        str_fmt(err, errlen, "the far end gave no media port");
        return -1;
    }
    media_params_default(out, n->kind == SDP_KIND_T38 ? MEDIA_KIND_T38 : MEDIA_KIND_AUDIO);
    if (str_copy(out->remote_addr, sizeof out->remote_addr, n->remote_addr)) {
        str_fmt(err, errlen, "the far end's media address is too long");
        return -1;
    }
    out->remote_port = n->remote_port;
    out->symmetric = symmetric;
    if (n->kind == SDP_KIND_AUDIO) {
        out->law = n->pcma ? MEDIA_ALAW : MEDIA_ULAW;
        /* the static types need no mapping; a dynamic one is sent as agreed */
        out->payload_type = (n->payload_type == 0 || n->payload_type == 8) ? -1 : n->payload_type;
        /* we send what the far end asked for when the engine can (10..60 ms in 10s), else 20 */
        out->ptime_ms = n->ptime >= 10 && n->ptime <= 60 && n->ptime % 10 == 0 ? n->ptime : 20;
    } else {
        out->udptl.ec = (udptl_ec)n->t38.ec;
        out->udptl.far_max_datagram = n->t38.max_datagram;   /* 0: the engine's default */
        out->udptl.t38_version = n->t38.version;
        out->t38_max_bitrate = n->t38.max_bit_rate ? n->t38.max_bit_rate : 14400;
        out->t38_rate_management = n->t38.rate_management ? n->t38.rate_management : T38_RATE_TRANSFERRED_TCF;
        out->t38_fill_bit_removal = n->t38.fill_bit_removal;
    }
    return 0;   /* the engine checks the whole set again when the call starts or switches */
}
