/* sdp.h — SDP (RFC 4566) for a fax call: G.711 audio over RTP and T.38 over UDPTL
 * (ITU-T T.38 Annex D), with the offer/answer rules of RFC 3264 (one answer m= line
 * per offered line, in order; port 0 = a refused stream; the answer picks a subset).
 *
 * The one thing the media side (src/media/) needs is sdp_negotiated: where to send,
 * which kind (audio or T.38), the payload type and the agreed T.38 parameters. It
 * comes out of sdp_answer (we answer an offer) and sdp_read_answer (the far end
 * answered our offer). sdp_parse is a pure function over outside bytes (fuzzed by
 * fuzz/fuzz_sdp.c). */
#ifndef FAXBOT_SDP_H
#define FAXBOT_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define SDP_MAX_MEDIA 8
#define SDP_MAX_FMT   32
#define SDP_MAX_BODY  16384

typedef enum { SDP_KIND_NONE = 0, SDP_KIND_AUDIO, SDP_KIND_T38 } sdp_kind;
typedef enum { T38_EC_NONE = 0, T38_EC_REDUNDANCY, T38_EC_FEC } t38_ec;
/* the numbering of spandsp's t38_set_data_rate_management_method */
enum { T38_RATE_LOCAL_TCF = 1, T38_RATE_TRANSFERRED_TCF = 2 };
typedef enum { SDP_SENDRECV = 0, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE } sdp_dir;

/* T.38 session parameters (T.38 Annex D.2.3). 0 in max_buffer / max_datagram means
 * "not given" (the media side then uses its default; Asterisk assumes 400 for a far
 * end that gives no T38FaxMaxDatagram). */
typedef struct {
    int version;              /* T38FaxVersion 0..3 (0 when absent) */
    int max_bit_rate;         /* T38MaxBitRate: 2400..33600, e.g. 14400 */
    int rate_management;      /* T38_RATE_TRANSFERRED_TCF (UDP) or T38_RATE_LOCAL_TCF */
    int max_buffer;           /* T38FaxMaxBuffer (bytes) */
    int max_datagram;         /* T38FaxMaxDatagram (bytes of one UDPTL datagram the sender of this SDP accepts) */
    t38_ec ec;                /* T38FaxUdpEC */
    bool fill_bit_removal;    /* T38FaxFillBitRemoval */
    bool transcoding_mmr;     /* T38FaxTranscodingMMR */
    bool transcoding_jbig;    /* T38FaxTranscodingJBIG */
} sdp_t38_params;

/* One m= line of a parsed SDP. */
typedef struct {
    char media[16];           /* "audio", "image", "video", … */
    int port;                 /* 0: refused or disabled */
    char proto[32];           /* "RTP/AVP", "udptl", … */
    int fmt[SDP_MAX_FMT];     /* RTP payload types (audio); empty for image */
    size_t n_fmt;
    bool t38;                 /* image + udptl + t38 */
    char addr[64];            /* connection address (media c= or the session's) */
    int addr_family;          /* 4 or 6 */
    int ptime;                /* a=ptime, 0 if absent */
    sdp_dir dir;
    int pcmu_pt, pcma_pt;     /* payload types carrying PCMU/PCMA (static or by rtpmap), -1 if none */
    sdp_t38_params t38p;
} sdp_media;

typedef struct {
    char origin_user[64];
    uint64_t sess_id, sess_version;
    char origin_addr[64];
    sdp_media m[SDP_MAX_MEDIA];
    size_t n_media;
} sdp_session;

/* What was agreed, for the media side: send to remote_addr:remote_port. */
typedef struct {
    sdp_kind kind;            /* SDP_KIND_AUDIO or SDP_KIND_T38 */
    char remote_addr[64];     /* numeric IPv4 or IPv6 */
    int remote_family;        /* 4 or 6 */
    int remote_port;
    int payload_type;         /* audio: 0 (PCMU) or 8 (PCMA) or the dynamic pt; T.38: -1 */
    bool pcma;                /* audio: the law is A-law (PCMA), else µ-law (PCMU) */
    int ptime;                /* audio packet time in ms (20 unless the far end asked otherwise) */
    sdp_dir dir;              /* as seen from our side */
    sdp_t38_params t38;       /* kind == T.38: the agreed parameters; max_datagram is the far end's */
} sdp_negotiated;

/* What we can do, for offers and answers. */
typedef struct {
    const char *addr;         /* our media address as others must see it (public address if set) */
    int audio_port;           /* our RTP port (0: we do not offer/accept audio) */
    int t38_port;             /* our UDPTL port (0: we do not offer/accept T.38) */
    bool pcmu, pcma;          /* G.711 laws we accept (offers list PCMU first) */
    sdp_t38_params t38;       /* our T.38 capabilities (version, rate, buffer, datagram, ec) */
    uint64_t sess_id, sess_version;
} sdp_local;

/* Parses an SDP body. 0 ok, -1 with a reason in err. */
int sdp_parse(const char *body, size_t len, sdp_session *out, char *err, size_t errlen);

/* An offer: an m=image line when t38_port is set, else an m=audio line (a fax call
 * offers one kind at a time: audio first then a T.38 re-INVITE, or T.38 at once). */
int sdp_build_offer(const sdp_local *l, sdp_kind kind, strbuf *out);

/* Answers an offer (RFC 3264 §6): the first acceptable stream is accepted (T.38 is
 * preferred when offered with a non-zero port and we have a t38_port), every other
 * m= line answered with port 0. 0 with *res filled, -1 when nothing is acceptable
 * (answer 488 Not Acceptable Here) with the reason in err. */
int sdp_answer(const sdp_session *offer, const sdp_local *l, strbuf *out,
               sdp_negotiated *res, char *err, size_t errlen);

/* Reads the far end's answer to our offer of kind: 0 with *res, -1 when it refused
 * (port 0) or answered with something we did not offer. */
int sdp_read_answer(const sdp_session *answer, sdp_kind offered, const sdp_local *l,
                    sdp_negotiated *res, char *err, size_t errlen);

/* Our usual capabilities: addr, the two ports (0 = not offered/accepted), both G.711
 * laws, sdp_t38_defaults, session id/version 1. */
void sdp_local_init(sdp_local *l, const char *addr, int audio_port, int t38_port);

/* Defaults for our T.38 side: version 0, 14400, transferredTCF, buffer 1800,
 * datagram 400, redundancy (what Asterisk and most trunks do). */
void sdp_t38_defaults(sdp_t38_params *p);

#endif
