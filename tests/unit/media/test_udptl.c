/* test_udptl.c — the UDPTL codec (src/media/udptl.c): exact bytes on the wire for
 * each error-recovery mode, round trips, recovery of lost IFPs from redundancy and
 * from FEC (every delivered IFP identical to the one sent with that number, in order,
 * once), duplicates and reordering, sequence wrap and restarts, T38FaxMaxDatagram
 * limits, malformed datagrams refused without touching the state, and the IFP length
 * rule FEC recovery relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/udptl.h"

/* ---- realistic IFPs (spandsp's encodings), so FEC trimming sees real packets ---- */

typedef struct {
    uint8_t buf[UDPTL_MAX_IFP];
    size_t len;
} ifp_t;

static uint32_t rnd(uint32_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 17;
    *st ^= *st << 5;
    return *st;
}

/* Indicator, or t30-data with one or two fields (version 0: a field without data
 * takes half an octet). */
static void make_ifp(ifp_t *p, uint32_t *st, size_t max_data)
{
    uint32_t kind = rnd(st) % 4;
    size_t n = 0;
    if (kind == 0) {
        p->buf[n++] = (uint8_t)((rnd(st) % 9) << 1);           /* indicator, no data */
    } else {
        p->buf[n++] = (uint8_t)(0xC0 | ((rnd(st) % 8) << 1));   /* t30-data, data field */
        size_t dlen = 1 + rnd(st) % max_data;
        if (kind == 3) {
            p->buf[n++] = 2;
            /* field 1 (no data, type 0) in the high half octet, field 2 (data present,
             * type 6) in the low half */
            p->buf[n++] = 0x0E;
        } else {
            p->buf[n++] = 1;
            p->buf[n++] = (uint8_t)(0x80 | (6 << 4));           /* data present, t4-non-ecm-data */
        }
        p->buf[n++] = (uint8_t)((dlen - 1) >> 8);
        p->buf[n++] = (uint8_t)(dlen - 1);
        for (size_t i = 0; i < dlen; i++)
            p->buf[n++] = (uint8_t)rnd(st);
    }
    p->len = n;
}

/* ---- a receiver that records what it was given ---- */

#define N_MAX 400

typedef struct {
    int count;
    uint16_t seq[N_MAX * 2];
    size_t len[N_MAX * 2];
    uint8_t data[N_MAX * 2][UDPTL_MAX_IFP];
} sink_t;

static void on_ifp(void *user, const uint8_t *ifp, size_t len, uint16_t seq)
{
    sink_t *s = user;
    assert_true(s->count < N_MAX * 2);
    s->seq[s->count] = seq;
    s->len[s->count] = len;
    memcpy(s->data[s->count], ifp, len);
    s->count++;
}

/* Every delivery is the IFP sent under that number, strictly in order. */
static void check_sink(const sink_t *s, const ifp_t *sent, uint16_t first_seq)
{
    for (int i = 0; i < s->count; i++) {
        uint16_t idx = (uint16_t)(s->seq[i] - first_seq);
        assert_true(idx < N_MAX);
        if (i > 0)
            assert_true((int16_t)(s->seq[i] - s->seq[i - 1]) > 0);
        assert_int_equal(s->len[i], sent[idx].len);
        assert_memory_equal(s->data[i], sent[idx].buf, sent[idx].len);
    }
}

typedef struct {
    uint8_t buf[UDPTL_MAX_DATAGRAM];
    int len;
} dgram_t;

static sink_t g_sink;
static ifp_t g_sent[N_MAX];
static dgram_t g_wire[N_MAX];

static void send_all(const udptl_config *c, int n, uint32_t seed, size_t max_data, uint32_t first_seq)
{
    udptl_tx tx;
    udptl_tx_init(&tx, c);
    tx.next_seq = first_seq;
    uint32_t st = seed;
    char err[160];
    for (int i = 0; i < n; i++) {
        make_ifp(&g_sent[i], &st, max_data);
        assert_int_equal(udptl_ifp_length(g_sent[i].buf, g_sent[i].len, 0), (int)g_sent[i].len);
        g_wire[i].len = udptl_tx_build(&tx, g_sent[i].buf, g_sent[i].len, g_wire[i].buf, sizeof g_wire[i].buf,
                                       err, sizeof err);
        if (g_wire[i].len < 0)
            fail_msg("build %d: %s", i, err);
        assert_true(g_wire[i].len <= c->far_max_datagram);
    }
}

/* ---- wire format ---- */

static void test_bytes_no_recovery(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_NONE);
    udptl_tx tx;
    udptl_tx_init(&tx, &c);
    tx.next_seq = 0x1234;
    uint8_t out[64];
    char err[128];
    const uint8_t ced[] = { 0x04 };
    assert_int_equal(udptl_tx_build(&tx, ced, 1, out, sizeof out, err, sizeof err), 6);
    const uint8_t want[] = { 0x12, 0x34, 0x01, 0x04, 0x00, 0x00 };
    assert_memory_equal(out, want, sizeof want);

    udptl_packet p;
    assert_int_equal(udptl_parse(out, 6, &p, err, sizeof err), 0);
    assert_int_equal(p.seq, 0x1234);
    assert_int_equal(p.primary.len, 1);
    assert_int_equal(p.primary.data[0], 0x04);
    assert_false(p.fec);
    assert_int_equal(p.n_secondary, 0);
}

static void test_bytes_redundancy(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_REDUNDANCY);
    udptl_tx tx;
    udptl_tx_init(&tx, &c);
    uint8_t out[64];
    char err[128];
    const uint8_t a[] = { 0x02 }, b[] = { 0x04 }, d[] = { 0x06 };
    assert_int_equal(udptl_tx_build(&tx, a, 1, out, sizeof out, err, sizeof err), 6);
    assert_int_equal(udptl_tx_build(&tx, b, 1, out, sizeof out, err, sizeof err), 8);
    const uint8_t want_b[] = { 0x00, 0x01, 0x01, 0x04, 0x00, 0x01, 0x01, 0x02 };
    assert_memory_equal(out, want_b, sizeof want_b);
    int n = udptl_tx_build(&tx, d, 1, out, sizeof out, err, sizeof err);
    const uint8_t want_d[] = { 0x00, 0x02, 0x01, 0x06, 0x00, 0x02, 0x01, 0x04, 0x01, 0x02 };
    assert_int_equal(n, sizeof want_d);
    assert_memory_equal(out, want_d, sizeof want_d);
    udptl_packet p;
    assert_int_equal(udptl_parse(out, (size_t)n, &p, err, sizeof err), 0);
    assert_int_equal(p.n_secondary, 2);
    assert_int_equal(p.secondary[0].data[0], 0x04);   /* newest first */
    assert_int_equal(p.secondary[1].data[0], 0x02);
}

static void test_bytes_fec(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_FEC);
    c.fec_span = 2;
    c.fec_entries = 1;
    udptl_tx tx;
    udptl_tx_init(&tx, &c);
    uint8_t out[64];
    char err[128];
    const uint8_t a[] = { 0x0f, 0xf0 }, b[] = { 0x33 }, d[] = { 0x06 };
    /* seq 0: nothing to protect yet: span 0, no entries */
    assert_int_equal(udptl_tx_build(&tx, a, 2, out, sizeof out, err, sizeof err), 9);
    const uint8_t want_a[] = { 0x00, 0x00, 0x02, 0x0f, 0xf0, 0x80, 0x01, 0x00, 0x00 };
    assert_memory_equal(out, want_a, sizeof want_a);
    /* seq 1: span 2 is more than has been sent: still wound down (1/2 = 0 entries) */
    assert_int_equal(udptl_tx_build(&tx, b, 1, out, sizeof out, err, sizeof err), 8);
    /* seq 2: one entry over seqs 0 and 1, padded to the longer: 0f^33, f0 */
    int n = udptl_tx_build(&tx, d, 1, out, sizeof out, err, sizeof err);
    const uint8_t want_d[] = { 0x00, 0x02, 0x01, 0x06, 0x80, 0x01, 0x02, 0x01, 0x02, 0x3c, 0xf0 };
    assert_int_equal(n, sizeof want_d);
    assert_memory_equal(out, want_d, sizeof want_d);
    udptl_packet p;
    assert_int_equal(udptl_parse(out, (size_t)n, &p, err, sizeof err), 0);
    assert_true(p.fec);
    assert_int_equal(p.fec_span, 2);
    assert_int_equal(p.fec_entries, 1);
    assert_int_equal(p.fec_data[0].len, 2);
}

static void test_ifp_length(void **st)
{
    (void)st;
    const uint8_t ind[] = { 0x06 }, ind_ext[] = { 0x20, 0x40 };
    assert_int_equal(udptl_ifp_length(ind, 1, 0), 1);
    assert_int_equal(udptl_ifp_length(ind_ext, 2, 1), 2);
    assert_int_equal(udptl_ifp_length(ind_ext, 1, 1), -1);
    const uint8_t with_data_ind[] = { 0x86 };
    assert_int_equal(udptl_ifp_length(with_data_ind, 1, 0), -1);
    /* t30-data V.21, 1 field hdlc-data (present) 2 bytes, padded with zeros */
    const uint8_t hdlc[] = { 0xC0, 0x01, 0x80, 0x00, 0x01, 0xff, 0x13, 0x00, 0x00 };
    assert_int_equal(udptl_ifp_length(hdlc, sizeof hdlc, 0), 7);
    assert_int_equal(udptl_ifp_length(hdlc, 6, 0), -1);
    /* version 0: two fields without data share one octet */
    const uint8_t halves[] = { 0xC0, 0x02, 0x23, 0x00 };
    assert_int_equal(udptl_ifp_length(halves, sizeof halves, 0), 3);
    /* version 1+: each field header is its own octet */
    const uint8_t v1[] = { 0xC0, 0x02, 0x10, 0x18, 0x00 };
    assert_int_equal(udptl_ifp_length(v1, sizeof v1, 1), 4);
}

/* ---- round trips and recovery ---- */

static void test_roundtrip_clean(void **st)
{
    (void)st;
    udptl_ec modes[] = { UDPTL_EC_NONE, UDPTL_EC_REDUNDANCY, UDPTL_EC_FEC };
    for (int m = 0; m < 3; m++) {
        udptl_config c;
        udptl_config_default(&c, modes[m]);
        c.far_max_datagram = 1400;
        send_all(&c, 200, 7u + (uint32_t)m, 150, 0);
        udptl_rx rx;
        udptl_rx_init(&rx, 0);
        memset(&g_sink, 0, sizeof g_sink);
        for (int i = 0; i < 200; i++)
            assert_int_equal(udptl_rx_datagram(&rx, g_wire[i].buf, (size_t)g_wire[i].len, on_ifp, &g_sink), 1);
        assert_int_equal(g_sink.count, 200);
        check_sink(&g_sink, g_sent, 0);
        assert_int_equal(rx.stats.lost, 0);
    }
}

/* Loses the datagrams for which lose(i) says so; returns how many were lost. */
static int receive_with_loss(udptl_rx *rx, int n, bool (*lose)(int i, uint32_t *st), uint32_t seed)
{
    memset(&g_sink, 0, sizeof g_sink);
    uint32_t st = seed;
    int lost = 0;
    for (int i = 0; i < n; i++) {
        if (lose(i, &st)) {
            lost++;
            continue;
        }
        assert_true(udptl_rx_datagram(rx, g_wire[i].buf, (size_t)g_wire[i].len, on_ifp, &g_sink) >= 1);
    }
    return lost;
}

/* bursts of up to 3 in a row, about 15% overall, never the last datagram */
static bool lose_bursts(int i, uint32_t *st)
{
    (void)st;
    return i % 20 >= 5 && i % 20 < 8 && i < 390;
}

static bool lose_isolated(int i, uint32_t *st)
{
    (void)st;
    return i % 10 == 4 && i < 390;
}

static bool lose_random_8pct(int i, uint32_t *st)
{
    return i > 0 && i < 390 && rnd(st) % 100 < 8;
}

static void test_redundancy_recovers_bursts(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_REDUNDANCY);
    c.far_max_datagram = 1400;
    send_all(&c, N_MAX, 99, 120, 0);
    udptl_rx rx;
    udptl_rx_init(&rx, 0);
    int lost = receive_with_loss(&rx, N_MAX, lose_bursts, 1);
    assert_true(lost >= 50);
    assert_int_equal(g_sink.count, N_MAX);            /* every IFP, none twice */
    check_sink(&g_sink, g_sent, 0);
    assert_int_equal(rx.stats.recovered_redundancy, (unsigned long)lost);
    assert_int_equal(rx.stats.lost, 0);
}

static void test_redundancy_depth_limits_recovery(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_REDUNDANCY);
    c.redundancy = 1;
    c.far_max_datagram = 1400;
    send_all(&c, N_MAX, 5, 80, 0);
    udptl_rx rx;
    udptl_rx_init(&rx, 0);
    receive_with_loss(&rx, N_MAX, lose_bursts, 1);
    /* bursts of 3 with depth 1: 2 of every 3 stay lost, the rest is exact */
    assert_int_equal(rx.stats.lost, 40);
    assert_int_equal(g_sink.count, N_MAX - (int)rx.stats.lost);
    check_sink(&g_sink, g_sent, 0);
}

static void test_fec_recovers_isolated_losses(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_FEC);
    c.far_max_datagram = 1400;
    send_all(&c, N_MAX, 1234, 200, 0);
    udptl_rx rx;
    udptl_rx_init(&rx, 0);
    int lost = receive_with_loss(&rx, N_MAX, lose_isolated, 1);
    assert_int_equal(lost, 39);
    assert_int_equal(g_sink.count, N_MAX);
    check_sink(&g_sink, g_sent, 0);
    assert_int_equal(rx.stats.recovered_fec, 39);
}

static void test_fec_random_loss_exact(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_FEC);
    c.far_max_datagram = 1400;
    c.fec_span = 3;
    c.fec_entries = 2;
    send_all(&c, N_MAX, 4321, 60, 0);
    udptl_rx rx;
    udptl_rx_init(&rx, 0);
    int lost = receive_with_loss(&rx, N_MAX, lose_random_8pct, 77);
    assert_true(lost > 15);
    /* whatever arrives or is repaired is exact; most losses are repaired */
    check_sink(&g_sink, g_sent, 0);
    assert_true(rx.stats.recovered_fec * 2 > (unsigned long)lost);
    assert_int_equal(g_sink.count, N_MAX - (int)rx.stats.lost);
    printf("# FEC 3x2, 8%% random loss: %d lost, %lu repaired\n", lost, rx.stats.recovered_fec);
}

static void test_duplicates_and_reordering(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_REDUNDANCY);
    c.far_max_datagram = 1400;
    send_all(&c, 100, 3, 50, 0);
    udptl_rx rx;
    udptl_rx_init(&rx, 0);
    memset(&g_sink, 0, sizeof g_sink);
    /* pairs swapped (1,0,3,2,...), and every datagram twice */
    for (int i = 0; i < 100; i += 2) {
        int order[2] = { i + 1, i };
        for (int k = 0; k < 2; k++)
            for (int dup = 0; dup < 2; dup++)
                udptl_rx_datagram(&rx, g_wire[order[k]].buf, (size_t)g_wire[order[k]].len, on_ifp, &g_sink);
    }
    assert_int_equal(g_sink.count, 100);
    check_sink(&g_sink, g_sent, 0);
    assert_int_equal(rx.stats.duplicates, 150);     /* per pair: the 2nd copy of the later one, both of the earlier */
    assert_int_equal(rx.stats.lost, 0);
}

static void test_sequence_wrap(void **st)
{
    (void)st;
    udptl_ec modes[] = { UDPTL_EC_REDUNDANCY, UDPTL_EC_FEC };
    for (int m = 0; m < 2; m++) {
        udptl_config c;
        udptl_config_default(&c, modes[m]);
        c.far_max_datagram = 1400;
        send_all(&c, 100, 11, 40, 65500);
        udptl_rx rx;
        udptl_rx_init(&rx, 0);
        receive_with_loss(&rx, 100, lose_isolated, 1);
        assert_int_equal(g_sink.count, 100);
        check_sink(&g_sink, g_sent, 65500);
        assert_int_equal(g_sink.seq[99], (uint16_t)(65500 + 99));
        assert_int_equal(rx.stats.resyncs, 0);
    }
}

static void test_restart_resyncs(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_REDUNDANCY);
    c.far_max_datagram = 1400;
    send_all(&c, 20, 8, 30, 0);
    udptl_rx rx;
    udptl_rx_init(&rx, 0);
    memset(&g_sink, 0, sizeof g_sink);
    for (int i = 0; i < 10; i++)
        udptl_rx_datagram(&rx, g_wire[i].buf, (size_t)g_wire[i].len, on_ifp, &g_sink);
    /* a far end that restarts its numbering at 30000 */
    dgram_t d = g_wire[10];
    d.buf[0] = 30000 >> 8;
    d.buf[1] = 30000 & 0xff;
    assert_int_equal(udptl_rx_datagram(&rx, d.buf, (size_t)d.len, on_ifp, &g_sink), 1);
    assert_int_equal(rx.stats.resyncs, 1);
    assert_int_equal(g_sink.count, 11);
    assert_int_equal(g_sink.seq[10], 30000);
    /* and the old numbering is now far in the past: late, not delivered */
    assert_int_equal(udptl_rx_datagram(&rx, g_wire[11].buf, (size_t)g_wire[11].len, on_ifp, &g_sink), 1);
    assert_int_equal(rx.stats.resyncs, 2);
}

/* ---- limits and malformed input ---- */

static void test_max_datagram(void **st)
{
    (void)st;
    udptl_config c;
    udptl_config_default(&c, UDPTL_EC_REDUNDANCY);
    c.far_max_datagram = 100;
    udptl_tx tx;
    udptl_tx_init(&tx, &c);
    assert_int_equal(udptl_tx_max_ifp(&tx), 95);
    uint8_t ifp[200], out[UDPTL_MAX_DATAGRAM];
    char err[160];
    memset(ifp, 0x11, sizeof ifp);
    for (int i = 0; i < 10; i++) {
        int n = udptl_tx_build(&tx, ifp, 40, out, sizeof out, err, sizeof err);
        assert_true(n > 0 && n <= 100);
        udptl_packet p;
        assert_int_equal(udptl_parse(out, (size_t)n, &p, err, sizeof err), 0);
        assert_true(p.n_secondary <= 1);    /* 2 x 41 + headers would not fit */
    }
    assert_true(tx.trimmed >= 8);
    assert_int_equal(udptl_tx_build(&tx, ifp, 95, out, sizeof out, err, sizeof err), 100);
    assert_int_equal(udptl_tx_build(&tx, ifp, 96, out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not fit"));
    assert_int_equal(tx.next_seq, 11);          /* the refused IFP used no number */
    assert_int_equal(udptl_tx_build(&tx, ifp, 0, out, sizeof out, err, sizeof err), -1);

    udptl_config bad = c;
    bad.redundancy = 99;
    assert_int_equal(udptl_config_check(&bad, err, sizeof err), -1);
    bad = c;
    bad.ec = UDPTL_EC_FEC;
    bad.fec_span = 9;
    assert_int_equal(udptl_config_check(&bad, err, sizeof err), -1);
    bad = c;
    bad.far_max_datagram = 10;
    assert_int_equal(udptl_config_check(&bad, err, sizeof err), -1);
    assert_int_equal(udptl_config_check(&c, err, sizeof err), 0);
}

static void test_malformed(void **st)
{
    (void)st;
    struct {
        const char *what;
        uint8_t b[16];
        size_t n;
    } cases[] = {
        { "short", { 0x00 }, 1 },
        { "no primary", { 0x00, 0x01 }, 2 },
        { "empty primary", { 0x00, 0x01, 0x00, 0x00, 0x00 }, 5 },
        { "primary past end", { 0x00, 0x01, 0x05, 0x01, 0x02 }, 5 },
        { "no recovery", { 0x00, 0x01, 0x01, 0x06 }, 4 },
        { "fragmented length", { 0x00, 0x01, 0xC1, 0x06 }, 4 },
        { "too many secondaries", { 0x00, 0x01, 0x01, 0x06, 0x00, 0x11 }, 6 },
        { "secondary truncated", { 0x00, 0x01, 0x01, 0x06, 0x00, 0x01, 0x03, 0x01 }, 8 },
        { "trailing bytes", { 0x00, 0x01, 0x01, 0x06, 0x00, 0x00, 0xff }, 7 },
        { "fec span too big", { 0x00, 0x01, 0x01, 0x06, 0x80, 0x01, 0x09, 0x00 }, 8 },
        { "fec npackets length 0", { 0x00, 0x01, 0x01, 0x06, 0x80, 0x00, 0x00 }, 7 },
        { "too many fec entries", { 0x00, 0x01, 0x01, 0x06, 0x80, 0x01, 0x01, 0x06 }, 8 },
        { "fec entry truncated", { 0x00, 0x01, 0x01, 0x06, 0x80, 0x01, 0x01, 0x01, 0x04, 0x00 }, 10 },
    };
    udptl_rx rx;
    udptl_rx_init(&rx, 0);
    const uint8_t good[] = { 0x00, 0x05, 0x01, 0x06, 0x00, 0x00 };
    assert_int_equal(udptl_rx_datagram(&rx, good, sizeof good, on_ifp, &g_sink), 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        udptl_packet p;
        char err[160] = "";
        if (udptl_parse(cases[i].b, cases[i].n, &p, err, sizeof err) != -1)
            fail_msg("%s: accepted", cases[i].what);
        assert_true(err[0] != '\0');
        assert_int_equal(udptl_rx_datagram(&rx, cases[i].b, cases[i].n, on_ifp, &g_sink), -1);
    }
    assert_int_equal(rx.stats.malformed, sizeof cases / sizeof cases[0]);
    assert_int_equal(rx.next_seq, 6);           /* untouched by the bad ones */
    uint8_t big[UDPTL_MAX_DATAGRAM + 1] = { 0 };
    udptl_packet p;
    char err[160];
    assert_int_equal(udptl_parse(big, sizeof big, &p, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_no_recovery),
        cmocka_unit_test(test_bytes_redundancy),
        cmocka_unit_test(test_bytes_fec),
        cmocka_unit_test(test_ifp_length),
        cmocka_unit_test(test_roundtrip_clean),
        cmocka_unit_test(test_redundancy_recovers_bursts),
        cmocka_unit_test(test_redundancy_depth_limits_recovery),
        cmocka_unit_test(test_fec_recovers_isolated_losses),
        cmocka_unit_test(test_fec_random_loss_exact),
        cmocka_unit_test(test_duplicates_and_reordering),
        cmocka_unit_test(test_sequence_wrap),
        cmocka_unit_test(test_restart_resyncs),
        cmocka_unit_test(test_max_datagram),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
