/* fuzz_rtp.c — libFuzzer harness for the RTP parser (src/media/rtp.c) and the jitter
 * buffer behind it (src/media/jitter.c). The whole input is parsed as one packet: the
 * payload must lie inside it, and a plain packet (no CSRC, extension or padding) must
 * build back to the same bytes. Then the input, cut into packets by a length octet
 * before each, drives a jitter buffer as the media engine does (G.711 decode, put,
 * one 20 ms get per packet) and the sequence accounting: never a crash, played
 * samples always add up.
 * Build: make fuzz (meson -Dfuzz=true). Run: build-fuzz/fuzz_rtp fuzz/corpus/rtp */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/jitter.h"
#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtp_header h;
    char err[128];
    if (rtp_parse(data, size, &h, err, sizeof err) == 0) {
        if (h.payload < data || h.payload + h.payload_len > data + size)
            abort();
        if (!h.padding && !h.extension && h.csrc_count == 0) {
            static uint8_t out[1 << 16];
            int n = rtp_build(&h, h.payload, h.payload_len, out, sizeof out);
            if (n != (int)size || memcmp(out, data, size) != 0)
                abort();
        }
    }

    static jitter_buf jb;
    rtp_seq_state seq = { 0 };
    jitter_init(&jb, size ? data[0] * 8 : 0);
    unsigned long gets = 0;
    size_t off = size ? 1 : 0;
    while (off < size) {
        size_t n = data[off++];
        if (n > size - off)
            n = size - off;
        if (rtp_parse(data + off, n, &h, err, sizeof err) == 0) {
            int16_t pcm[RTP_MAX_PACKET];
            size_t samples = h.payload_len < RTP_MAX_PACKET ? h.payload_len : RTP_MAX_PACKET;
            media_g711_decode(h.payload_type & 1 ? MEDIA_ALAW : MEDIA_ULAW, h.payload, samples, pcm);
            jitter_put(&jb, h.ssrc, h.timestamp, pcm, samples);
            rtp_seq_update(&seq, h.ssrc, h.seq);
        }
        int16_t frame[160];
        jitter_get(&jb, frame, 160);
        if (jb.started)
            gets++;
        off += n;
    }
    if (jb.stats.samples_played != gets * 160 || jb.stats.samples_concealed > jb.stats.samples_played)
        abort();
    if (seq.duplicates + seq.reordered >= seq.received + (seq.received == 0))
        abort();                                /* the first packet of a stream is neither */
    return 0;
}
