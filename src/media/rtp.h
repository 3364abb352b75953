/* rtp.h — RTP (RFC 3550) packets and the G.711 payload the audio fax path uses:
 * the fixed header with CSRCs, header extension and padding parsed strictly from
 * outside bytes (the fuzzed parser), a builder for what we send, and µ-law / A-law
 * (G.711, RFC 3551 payload types 0 and 8) to and from 16-bit linear samples.
 * Pure functions: no sockets, no clock. */
#ifndef FAXBOT_MEDIA_RTP_H
#define FAXBOT_MEDIA_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HEADER_MIN 12
#define RTP_MAX_PACKET 1500
#define RTP_PT_PCMU 0
#define RTP_PT_PCMA 8

typedef struct rtp_header {
    bool padding, extension, marker;
    int csrc_count;                 /* 0..15 */
    uint8_t payload_type;           /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint32_t csrc[15];
    uint16_t ext_profile;           /* when extension: the profile word and its length */
    size_t ext_len;                 /* extension data in octets (a multiple of 4) */
    const uint8_t *payload;         /* points into the parsed packet */
    size_t payload_len;             /* without padding */
} rtp_header;

/* Parses one packet. 0 on success; -1 with a reason in err if it is not RTP version 2,
 * is truncated (CSRCs, extension), or its padding count is 0 or longer than the
 * payload. RTCP (payload types 72..76 with the marker, RFC 5761) is refused too. */
int rtp_parse(const uint8_t *buf, size_t len, rtp_header *h, char *err, size_t errlen);

/* Writes a version-2 header without CSRCs or extension (the marker and payload type
 * from h) followed by the payload; returns the packet length, -1 if out is too small. */
int rtp_build(const rtp_header *h, const uint8_t *payload, size_t payload_len, uint8_t *out, size_t outlen);

/* ---- receive sequence accounting (RFC 3550 §6.4.1 / A.3, simplified) ---- */

typedef struct rtp_seq_state {
    bool started;
    uint32_t ssrc;
    uint16_t max_seq;               /* highest sequence number seen */
    unsigned long received, lost, duplicates, reordered, ssrc_changes;
} rtp_seq_state;

/* Accounts one received packet: a jump forward counts the skipped numbers as lost, a
 * packet behind the highest is reordered (and no longer lost) or, if it is the
 * highest again, a duplicate. A new SSRC or a jump of more than 3000 starts over. */
void rtp_seq_update(rtp_seq_state *s, uint32_t ssrc, uint16_t seq);

/* ---- G.711 ---- */

typedef enum { MEDIA_ULAW = 0, MEDIA_ALAW = 1 } media_law;

/* The static payload type of a law (0 or 8). */
int media_g711_payload_type(media_law law);
void media_g711_encode(media_law law, const int16_t *pcm, size_t n, uint8_t *out);
void media_g711_decode(media_law law, const uint8_t *in, size_t n, int16_t *pcm);

#endif
