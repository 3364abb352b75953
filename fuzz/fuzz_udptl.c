/* fuzz_udptl.c — libFuzzer harness for the UDPTL codec (src/media/udptl.c).
 * Three checks on each input:
 *  1. udptl_parse on the whole input: every chunk it reports lies inside the input;
 *  2. the input cut into datagrams (a length octet before each) fed to a receiver in
 *     both T.38 versions: never a crash, every IFP delivered in increasing order and
 *     within UDPTL_MAX_IFP;
 *  3. the input as a script: IFPs (well-formed, with data taken from the input) sent
 *     with redundancy or FEC under the input's choice of depth and datagram size, some
 *     datagrams dropped, duplicated or swapped as the input says: whatever the
 *     receiver delivers must be exactly the IFP sent under that number.
 * Build: make fuzz (meson -Dfuzz=true). Run: build-fuzz/fuzz_udptl fuzz/corpus/udptl */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/udptl.h"

typedef struct {
    int32_t last;                   /* -1 before the first */
    const uint8_t (*sent)[64];
    const size_t *sent_len;
    int n_sent;
    uint16_t first;
} order_check;

static void on_ifp(void *user, const uint8_t *ifp, size_t len, uint16_t seq)
{
    order_check *c = user;
    if (len == 0 || len > UDPTL_MAX_IFP)
        abort();
    int idx = (uint16_t)(seq - c->first);
    if (c->last >= 0 && idx <= c->last && c->sent)
        abort();
    c->last = idx;
    if (c->sent) {
        if (idx >= c->n_sent || len != c->sent_len[idx] || memcmp(ifp, c->sent[idx], len) != 0)
            abort();
    }
}

static void check_parse(const uint8_t *data, size_t size)
{
    udptl_packet p;
    char err[160];
    if (udptl_parse(data, size, &p, err, sizeof err) != 0)
        return;
    const uint8_t *end = data + size;
#define INSIDE(c) ((c).len == 0 || ((c).data >= data && (c).data + (c).len <= end))
    if (!INSIDE(p.primary) || p.primary.len == 0)
        abort();
    for (int i = 0; i < p.n_secondary; i++)
        if (!INSIDE(p.secondary[i]))
            abort();
    for (int i = 0; i < p.fec_entries; i++)
        if (!INSIDE(p.fec_data[i]))
            abort();
    udptl_ifp_length(p.primary.data, p.primary.len, 0);
    udptl_ifp_length(p.primary.data, p.primary.len, 2);
}

static void check_receiver(const uint8_t *data, size_t size)
{
    static udptl_rx rx;
    for (int version = 0; version < 2; version++) {
        udptl_rx_init(&rx, version);
        order_check c = { .last = -1 };
        size_t off = 0;
        while (off < size) {
            size_t n = data[off++];
            if (n > size - off)
                n = size - off;
            udptl_rx_datagram(&rx, data + off, n, on_ifp, &c);
            off += n;
        }
    }
}

#define SCRIPT_MAX 96

static void check_script(const uint8_t *data, size_t size)
{
    if (size < 4)
        return;
    static uint8_t sent[SCRIPT_MAX][64];
    static size_t sent_len[SCRIPT_MAX];
    static uint8_t wire[SCRIPT_MAX][UDPTL_MAX_DATAGRAM];
    static int wire_len[SCRIPT_MAX];
    static udptl_tx tx;
    static udptl_rx rx;
    udptl_config cfg;
    udptl_config_default(&cfg, data[0] & 1 ? UDPTL_EC_FEC : UDPTL_EC_REDUNDANCY);
    cfg.redundancy = data[1] % (UDPTL_MAX_REDUNDANCY + 1);
    cfg.fec_span = 1 + data[1] % UDPTL_MAX_FEC_SPAN;
    cfg.fec_entries = 1 + (data[1] >> 4) % UDPTL_MAX_FEC_ENTRIES;
    cfg.far_max_datagram = 40 + data[2] * 4;
    cfg.t38_version = (data[0] >> 1) & 1;
    char err[160];
    if (udptl_config_check(&cfg, err, sizeof err) != 0)
        abort();
    udptl_tx_init(&tx, &cfg);
    tx.next_seq = (uint32_t)data[3] * 257u;
    uint16_t first = (uint16_t)tx.next_seq;

    /* one IFP per 2 input octets: kind/length, then a data byte pattern */
    int n = 0;
    for (size_t i = 4; i + 1 < size && n < SCRIPT_MAX; i += 2, n++) {
        uint8_t k = data[i], v = data[i + 1];
        size_t len = 0;
        if (k < 0x40) {
            sent[n][len++] = (uint8_t)((k % 9) << 1);          /* an indicator */
        } else {
            size_t dlen = 1 + k % 40;
            sent[n][len++] = (uint8_t)(0xC0 | ((k % 8) << 1));
            sent[n][len++] = 1;
            /* field: data present, t4-non-ecm-data; version 0 puts the type in bits
             * 6..4, later versions in bits 5..3 (bit 6 is their extension bit) */
            sent[n][len++] = (uint8_t)(cfg.t38_version == 0 ? 0x80 | (6 << 4) : 0x80 | (6 << 3));
            sent[n][len++] = 0;
            sent[n][len++] = (uint8_t)(dlen - 1);
            for (size_t j = 0; j < dlen; j++)
                sent[n][len++] = (uint8_t)(v + j * 37);
        }
        sent_len[n] = len;
        wire_len[n] = udptl_tx_build(&tx, sent[n], len, wire[n], sizeof wire[n], err, sizeof err);
        if (len > (size_t)udptl_tx_max_ifp(&tx)) {
            if (wire_len[n] != -1)      /* too big for the far end: refused, no number used */
                abort();
            n--;
            continue;
        }
        if (wire_len[n] < 0 || wire_len[n] > cfg.far_max_datagram)
            abort();
    }
    udptl_rx_init(&rx, cfg.t38_version);
    order_check c = { .last = -1, .sent = (const uint8_t (*)[64])sent, .sent_len = sent_len, .n_sent = n,
                      .first = first };
    /* the data byte's low bits decide each datagram's fate */
    for (int i = 0; i < n; i++) {
        uint8_t fate = data[4 + 2 * i + 1] & 7;
        if (fate == 0)
            continue;                                           /* lost */
        if (fate == 1 && i + 1 < n) {                           /* swapped with the next */
            if (udptl_rx_datagram(&rx, wire[i + 1], (size_t)wire_len[i + 1], on_ifp, &c) < 0)
                abort();
            if (udptl_rx_datagram(&rx, wire[i], (size_t)wire_len[i], on_ifp, &c) < 0)
                abort();
            i++;
            continue;
        }
        if (udptl_rx_datagram(&rx, wire[i], (size_t)wire_len[i], on_ifp, &c) < 0)
            abort();
        if (fate == 2 && udptl_rx_datagram(&rx, wire[i], (size_t)wire_len[i], on_ifp, &c) != 0)
            abort();                                            /* a duplicate delivers nothing */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size);
    check_receiver(data, size);
    check_script(data, size);
    return 0;
}
