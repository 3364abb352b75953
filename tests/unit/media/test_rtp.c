/* test_rtp.c — RTP header parsing and building (src/media/rtp.c), G.711 conversion,
 * and the fixed-delay jitter buffer (src/media/jitter.c): in-order, reordered, lost,
 * late and duplicated packets, timestamp wrap, SSRC changes and jumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/jitter.h"
#include "media/rtp.h"

static void test_build_parse(void **st)
{
    (void)st;
    rtp_header h = { .marker = true, .payload_type = 8, .seq = 0xfffe, .timestamp = 0x01020304,
                     .ssrc = 0xdeadbeef };
    uint8_t pl[160], out[RTP_MAX_PACKET];
    for (int i = 0; i < 160; i++)
        pl[i] = (uint8_t)i;
    int n = rtp_build(&h, pl, sizeof pl, out, sizeof out);
    assert_int_equal(n, 172);
    const uint8_t want[12] = { 0x80, 0x88, 0xff, 0xfe, 1, 2, 3, 4, 0xde, 0xad, 0xbe, 0xef };
    assert_memory_equal(out, want, 12);
    rtp_header p;
    char err[128];
    assert_int_equal(rtp_parse(out, (size_t)n, &p, err, sizeof err), 0);
    assert_true(p.marker);
    assert_int_equal(p.payload_type, 8);
    assert_int_equal(p.seq, 0xfffe);
    assert_int_equal(p.timestamp, 0x01020304);
    assert_int_equal(p.ssrc, 0xdeadbeef);
    assert_int_equal(p.payload_len, 160);
    assert_memory_equal(p.payload, pl, 160);
    assert_int_equal(rtp_build(&h, pl, sizeof pl, out, 100), -1);
}

static void test_csrc_extension_padding(void **st)
{
    (void)st;
    /* V=2 P=1 X=1 CC=2, PT 0, then 2 CSRCs, extension of 1 word, payload 3, padding 4 */
    const uint8_t pkt[] = {
        0xB2, 0x00, 0x00, 0x07, 0, 0, 0, 160, 0, 0, 0, 9,
        0, 0, 0, 1, 0, 0, 0, 2,
        0xBE, 0xDE, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd,
        0x11, 0x22, 0x33,
        0, 0, 0, 4,
    };
    rtp_header h;
    char err[128];
    assert_int_equal(rtp_parse(pkt, sizeof pkt, &h, err, sizeof err), 0);
    assert_int_equal(h.csrc_count, 2);
    assert_int_equal(h.csrc[1], 2);
    assert_true(h.extension);
    assert_int_equal(h.ext_profile, 0xBEDE);
    assert_int_equal(h.ext_len, 4);
    assert_int_equal(h.payload_len, 3);
    assert_int_equal(h.payload[0], 0x11);
    assert_int_equal(h.seq, 7);
    assert_int_equal(h.timestamp, 160);
}

static void test_malformed(void **st)
{
    (void)st;
    struct {
        const char *what;
        uint8_t b[24];
        size_t n;
    } cases[] = {
        { "short", { 0x80, 0 }, 2 },
        { "version 1", { 0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 }, 12 },
        { "csrc truncated", { 0x83, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1 }, 16 },
        { "extension header truncated", { 0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe }, 13 },
        { "extension past end", { 0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2, 1, 2, 3, 4 }, 20 },
        { "padding zero", { 0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0 }, 14 },
        { "padding too long", { 0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 9 }, 14 },
        { "rtcp sender report", { 0x80, 0xC8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1 }, 12 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rtp_header h;
        char err[128] = "";
        if (rtp_parse(cases[i].b, cases[i].n, &h, err, sizeof err) != -1)
            fail_msg("%s: accepted", cases[i].what);
        assert_true(err[0] != '\0');
    }
    /* padding that eats the whole payload is fine (a keep-alive) */
    const uint8_t pad_only[] = { 0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2 };
    rtp_header h;
    char err[128];
    assert_int_equal(rtp_parse(pad_only, sizeof pad_only, &h, err, sizeof err), 0);
    assert_int_equal(h.payload_len, 0);
}

static void test_g711(void **st)
{
    (void)st;
    for (int law = 0; law < 2; law++) {
        /* every code decodes to a value that encodes back to a code with the same value */
        for (int c = 0; c < 256; c++) {
            uint8_t code = (uint8_t)c, again;
            int16_t v, v2;
            media_g711_decode((media_law)law, &code, 1, &v);
            media_g711_encode((media_law)law, &v, 1, &again);
            media_g711_decode((media_law)law, &again, 1, &v2);
            assert_int_equal(v, v2);
        }
        /* a tone survives within G.711's quantisation (under 1/16 of the amplitude) */
        int16_t pcm[160], back[160];
        uint8_t enc[160];
        for (int i = 0; i < 160; i++)
            pcm[i] = (int16_t)((i % 40 - 20) * 800);
        media_g711_encode((media_law)law, pcm, 160, enc);
        media_g711_decode((media_law)law, enc, 160, back);
        for (int i = 0; i < 160; i++)
            assert_true(abs(back[i] - pcm[i]) <= abs(pcm[i]) / 16 + 16);
    }
    assert_int_equal(media_g711_payload_type(MEDIA_ULAW), 0);
    assert_int_equal(media_g711_payload_type(MEDIA_ALAW), 8);
}

static void test_seq_accounting(void **st)
{
    (void)st;
    rtp_seq_state s = { 0 };
    /* 65534, 65535, (0 lost), 1, 3, 2 (late: fills the gap), 3 again, then a new SSRC */
    uint16_t seqs[] = { 65534, 65535, 1, 3, 2, 3 };
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
        rtp_seq_update(&s, 7, seqs[i]);
    assert_int_equal(s.received, 6);
    assert_int_equal(s.lost, 1);            /* 0 never came; 2 came late */
    assert_int_equal(s.reordered, 1);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(s.max_seq, 3);
    rtp_seq_update(&s, 8, 500);
    assert_int_equal(s.ssrc_changes, 1);
    assert_int_equal(s.max_seq, 500);
    rtp_seq_update(&s, 8, 20000);           /* a wild jump starts over, no loss counted */
    assert_int_equal(s.lost, 1);
    assert_int_equal(s.max_seq, 20000);
}

/* ---- jitter buffer ---- */

static void frame(int16_t *pcm, uint32_t ts)
{
    for (int i = 0; i < 160; i++)
        pcm[i] = (int16_t)(((ts + (uint32_t)i) % 997) + 1);    /* never 0: silence is visible */
}

static void expect_frame(const int16_t *got, uint32_t ts)
{
    int16_t want[160];
    frame(want, ts);
    assert_memory_equal(got, want, sizeof want);
}

static void expect_silence(const int16_t *got)
{
    for (int i = 0; i < 160; i++)
        assert_int_equal(got[i], 0);
}

static void test_jitter_in_order_with_delay(void **st)
{
    (void)st;
    jitter_buf *j = malloc(sizeof *j);
    jitter_init(j, 480);
    int16_t pcm[160], out[160];
    uint32_t ts0 = 0xfffffe00u;     /* crosses the 32-bit wrap */
    jitter_get(j, out, 160);        /* nothing yet: silence, no time passes */
    expect_silence(out);
    for (int t = 0; t < 50; t++) {
        frame(pcm, ts0 + 160u * (uint32_t)t);
        assert_int_equal(jitter_put(j, 7, ts0 + 160u * (uint32_t)t, pcm, 160), JITTER_STORED);
        jitter_get(j, out, 160);
        if (t < 3)
            expect_silence(out);    /* the 60 ms playout delay */
        else
            expect_frame(out, ts0 + 160u * (uint32_t)(t - 3));
    }
    assert_int_equal(j->stats.samples_concealed, 0);
    assert_int_equal(j->stats.late, 0);
    free(j);
}

static void test_jitter_reorder_loss_late(void **st)
{
    (void)st;
    jitter_buf *j = malloc(sizeof *j);
    jitter_init(j, 480);
    int16_t pcm[160], out[160];
    /* frames 0,2,1,3 (swap within the delay), 4 lost, 5.., then frame 4 arrives too late */
    uint32_t order[] = { 0, 2, 1, 3, 5, 6, 7, 8, 9, 4 };
    for (int k = 0; k < 10; k++) {
        frame(pcm, 160u * order[k]);
        jitter_put_result r = jitter_put(j, 1, 160u * order[k], pcm, 160);
        assert_int_equal(r, k == 9 ? JITTER_LATE : JITTER_STORED);
        if (k < 9) {
            size_t gap = jitter_get(j, out, 160);
            assert_int_equal(gap, k >= 3 && k - 3 == 4 ? 160 : 0);   /* the delay is not a gap */
            if (k >= 3) {
                uint32_t playing = (uint32_t)(k - 3);
                if (playing == 4)
                    expect_silence(out);
                else
                    expect_frame(out, 160u * playing);
            }
        }
    }
    assert_int_equal(j->stats.late, 1);
    assert_int_equal(j->stats.samples_concealed, 160);
    /* a duplicate of something still waiting is harmless */
    frame(pcm, 160u * 6);
    assert_int_equal(jitter_put(j, 1, 160u * 6, pcm, 160), JITTER_STORED);
    jitter_get(j, out, 160);
    expect_frame(out, 160u * 6);
    free(j);
}

static void test_jitter_restarts(void **st)
{
    (void)st;
    jitter_buf *j = malloc(sizeof *j);
    jitter_init(j, 0);
    assert_int_equal(j->delay, JITTER_DEFAULT_DELAY);
    int16_t pcm[160], out[160];
    frame(pcm, 1000);
    jitter_put(j, 1, 1000, pcm, 160);
    for (int i = 0; i < 5; i++)
        jitter_get(j, out, 160);
    /* a new SSRC starts over at the same delay */
    frame(pcm, 50000);
    assert_int_equal(jitter_put(j, 2, 50000, pcm, 160), JITTER_RESTARTED);
    for (int i = 0; i < 3; i++) {
        jitter_get(j, out, 160);
        expect_silence(out);
    }
    jitter_get(j, out, 160);
    expect_frame(out, 50000);
    /* a jump far ahead of the ring, same SSRC */
    frame(pcm, 9000000);
    assert_int_equal(jitter_put(j, 2, 9000000, pcm, 160), JITTER_RESTARTED);
    assert_int_equal(j->stats.too_far, 1);
    /* and far back */
    frame(pcm, 100);
    assert_int_equal(jitter_put(j, 2, 100, pcm, 160), JITTER_RESTARTED);
    assert_int_equal(j->stats.resyncs, 3);
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_parse),
        cmocka_unit_test(test_csrc_extension_padding),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_g711),
        cmocka_unit_test(test_seq_accounting),
        cmocka_unit_test(test_jitter_in_order_with_delay),
        cmocka_unit_test(test_jitter_reorder_loss_late),
        cmocka_unit_test(test_jitter_restarts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
