/* rtp.c — RTP header parsing and building (RFC 3550 §5.1) and G.711 conversion
 * through spandsp's table-free inline coders (spandsp/g711.h). */
#include "media/rtp.h"

#include <spandsp.h>
#include <string.h>

#include "util/util.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int rtp_parse(const uint8_t *buf, size_t len, rtp_header *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    if (len < RTP_HEADER_MIN) {
        str_fmt(err, errlen, "RTP packet of %zu bytes is shorter than the fixed header", len);
        return -1;
    }
    if ((buf[0] >> 6) != 2) {
        str_fmt(err, errlen, "RTP version %d, expected 2", buf[0] >> 6);
        return -1;
    }
    h->padding = buf[0] & 0x20;
    h->extension = buf[0] & 0x10;
    h->csrc_count = buf[0] & 0x0f;
    h->marker = buf[1] & 0x80;
    h->payload_type = buf[1] & 0x7f;
    if (h->payload_type >= 72 && h->payload_type <= 76) {
        str_fmt(err, errlen, "RTCP packet (type %d) on the RTP port", 128 + h->payload_type);
        return -1;
    }
    h->seq = (uint16_t)(buf[2] << 8 | buf[3]);
    h->timestamp = be32(buf + 4);
    h->ssrc = be32(buf + 8);
    size_t pos = RTP_HEADER_MIN;
    if ((size_t)h->csrc_count * 4 > len - pos) {
        str_fmt(err, errlen, "RTP packet truncated in its %d CSRCs", h->csrc_count);
        return -1;
    }
    for (int i = 0; i < h->csrc_count; i++, pos += 4)
        h->csrc[i] = be32(buf + pos);
    if (h->extension) {
        if (len - pos < 4) {
            str_fmt(err, errlen, "RTP packet truncated in its extension header");
            return -1;
        }
        h->ext_profile = (uint16_t)(buf[pos] << 8 | buf[pos + 1]);
        h->ext_len = (size_t)(buf[pos + 2] << 8 | buf[pos + 3]) * 4;
        pos += 4;
        if (h->ext_len > len - pos) {
            str_fmt(err, errlen, "RTP extension of %zu bytes runs past the packet", h->ext_len);
            return -1;
        }
        pos += h->ext_len;
    }
    size_t end = len;
    if (h->padding) {
        size_t pad = buf[len - 1];
        if (pad == 0 || pad > len - pos) {
            str_fmt(err, errlen, "RTP padding count %zu does not fit the payload", pad);
            return -1;
        }
        end -= pad;
    }
    h->payload = buf + pos;
    h->payload_len = end - pos;
    return 0;
}

int rtp_build(const rtp_header *h, const uint8_t *payload, size_t payload_len, uint8_t *out, size_t outlen)
{
    if (outlen < RTP_HEADER_MIN || payload_len > outlen - RTP_HEADER_MIN)
        return -1;
    out[0] = 0x80;
    out[1] = (uint8_t)((h->marker ? 0x80 : 0) | (h->payload_type & 0x7f));
    out[2] = (uint8_t)(h->seq >> 8);
    out[3] = (uint8_t)h->seq;
    put32(out + 4, h->timestamp);
    put32(out + 8, h->ssrc);
    if (payload_len)
        memcpy(out + RTP_HEADER_MIN, payload, payload_len);
    return (int)(RTP_HEADER_MIN + payload_len);
}

void rtp_seq_update(rtp_seq_state *s, uint32_t ssrc, uint16_t seq)
{
    s->received++;
    if (s->started && ssrc != s->ssrc)
        s->ssrc_changes++;
    int16_t d = (int16_t)(uint16_t)(seq - s->max_seq);
    if (!s->started || ssrc != s->ssrc || d > 3000 || d < -3000) {
        s->started = true;
        s->ssrc = ssrc;
        s->max_seq = seq;
        return;
    }
    if (d > 0) {
        s->lost += (unsigned long)(d - 1);
        s->max_seq = seq;
    } else if (d == 0) {
        s->duplicates++;
    } else {
        s->reordered++;
        if (s->lost > 0)
            s->lost--;
    }
}

int media_g711_payload_type(media_law law)
{
    return law == MEDIA_ALAW ? RTP_PT_PCMA : RTP_PT_PCMU;
}

void media_g711_encode(media_law law, const int16_t *pcm, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = law == MEDIA_ALAW ? linear_to_alaw(pcm[i]) : linear_to_ulaw(pcm[i]);
}

void media_g711_decode(media_law law, const uint8_t *in, size_t n, int16_t *pcm)
{
    for (size_t i = 0; i < n; i++)
        pcm[i] = law == MEDIA_ALAW ? alaw_to_linear(in[i]) : ulaw_to_linear(in[i]);
}
