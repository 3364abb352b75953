/* udptl.c — the UDPTL codec of udptl.h: PER length determinants and open types,
 * datagram parsing, building with redundancy or FEC (as T.38 clause 9 and Asterisk's
 * and spandsp's udptl.c lay the bits out: seq(16) | open type primary | choice bit
 * (0 = secondary IFPs, 1 = fec-info) | …), and the receiving side's ordering and
 * recovery. Sequence numbers are extended to 32 bits internally so wrap-around at
 * 65535 is invisible to the logic. */
#include "media/udptl.h"

#include <string.h>

#include "util/util.h"

/* A jump further than this (either way) is a restart of the far end's numbering. */
#define UDPTL_RESYNC_GAP 2000

/* ---- PER primitives ---- */

/* Length determinant (X.691 10.9, the forms Asterisk/spandsp produce): 0..127 in one
 * octet, 128..16383 in two; the fragmented form (>= 16K) is refused. */
static int get_length(const uint8_t *buf, size_t len, size_t *pos, size_t *value)
{
    if (*pos >= len)
        return -1;
    uint8_t b = buf[*pos];
    if (!(b & 0x80)) {
        *value = b;
        (*pos)++;
        return 0;
    }
    if (b & 0x40)
        return -1;                  /* fragmentation: never needed for one datagram */
    if (*pos + 2 > len)
        return -1;
    *value = ((size_t)(b & 0x3f) << 8) | buf[*pos + 1];
    *pos += 2;
    return 0;
}

static int get_open_type(const uint8_t *buf, size_t len, size_t *pos, udptl_chunk *c)
{
    size_t n;
    if (get_length(buf, len, pos, &n) != 0 || n > len - *pos)
        return -1;
    c->data = buf + *pos;
    c->len = n;
    *pos += n;
    return 0;
}

static int put_length(uint8_t *out, size_t outlen, size_t *pos, size_t value)
{
    if (value < 0x80) {
        if (*pos + 1 > outlen)
            return -1;
        out[(*pos)++] = (uint8_t)value;
        return 0;
    }
    if (value >= 0x4000 || *pos + 2 > outlen)
        return -1;
    out[(*pos)++] = (uint8_t)(0x80 | (value >> 8));
    out[(*pos)++] = (uint8_t)(value & 0xff);
    return 0;
}

/* An empty open type is sent as one zero octet (X.691 10.1 as Asterisk does). */
static int put_open_type(uint8_t *out, size_t outlen, size_t *pos, const uint8_t *data, size_t n)
{
    static const uint8_t zero = 0;
    if (n == 0) {
        data = &zero;
        n = 1;
    }
    if (put_length(out, outlen, pos, n) != 0 || n > outlen - *pos)
        return -1;
    memcpy(out + *pos, data, n);
    *pos += n;
    return 0;
}

/* ---- parsing ---- */

int udptl_parse(const uint8_t *buf, size_t len, udptl_packet *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (len < 2) {
        str_fmt(err, errlen, "UDPTL datagram of %zu bytes is shorter than a sequence number", len);
        return -1;
    }
    if (len > UDPTL_MAX_DATAGRAM) {
        str_fmt(err, errlen, "UDPTL datagram of %zu bytes exceeds %d", len, UDPTL_MAX_DATAGRAM);
        return -1;
    }
    p->seq = (uint16_t)((buf[0] << 8) | buf[1]);
    size_t pos = 2;
    if (get_open_type(buf, len, &pos, &p->primary) != 0 || p->primary.len == 0) {
        str_fmt(err, errlen, "UDPTL %u: bad primary IFP length", p->seq);
        return -1;
    }
    if (p->primary.len > UDPTL_MAX_IFP) {
        str_fmt(err, errlen, "UDPTL %u: primary IFP of %zu bytes exceeds %d", p->seq, p->primary.len, UDPTL_MAX_IFP);
        return -1;
    }
    if (pos >= len) {
        str_fmt(err, errlen, "UDPTL %u: error recovery missing", p->seq);
        return -1;
    }
    p->fec = (buf[pos++] & 0x80) != 0;      /* the CHOICE bit; the rest is padding */
    size_t count;
    if (!p->fec) {
        if (get_length(buf, len, &pos, &count) != 0 || count > UDPTL_MAX_REDUNDANCY) {
            str_fmt(err, errlen, "UDPTL %u: bad or too many secondary IFPs", p->seq);
            return -1;
        }
        for (size_t i = 0; i < count; i++) {
            if (get_open_type(buf, len, &pos, &p->secondary[i]) != 0 || p->secondary[i].len > UDPTL_MAX_IFP) {
                str_fmt(err, errlen, "UDPTL %u: secondary IFP %zu truncated or too long", p->seq, i + 1);
                return -1;
            }
        }
        p->n_secondary = (int)count;
    } else {
        /* fec-npackets: an unconstrained INTEGER, i.e. a length octet and the value */
        size_t ilen;
        if (get_length(buf, len, &pos, &ilen) != 0 || ilen < 1 || ilen > 2 || ilen > len - pos) {
            str_fmt(err, errlen, "UDPTL %u: bad fec-npackets", p->seq);
            return -1;
        }
        unsigned span = buf[pos];
        if (ilen == 2)
            span = (span << 8) | buf[pos + 1];
        pos += ilen;
        if (span > UDPTL_MAX_FEC_SPAN) {
            str_fmt(err, errlen, "UDPTL %u: FEC span %u exceeds %d", p->seq, span, UDPTL_MAX_FEC_SPAN);
            return -1;
        }
        p->fec_span = (int)span;
        if (get_length(buf, len, &pos, &count) != 0 || count > UDPTL_MAX_FEC_ENTRIES) {
            str_fmt(err, errlen, "UDPTL %u: bad or too many FEC entries", p->seq);
            return -1;
        }
        for (size_t i = 0; i < count; i++) {
            if (get_open_type(buf, len, &pos, &p->fec_data[i]) != 0 || p->fec_data[i].len > UDPTL_MAX_IFP) {
                str_fmt(err, errlen, "UDPTL %u: FEC entry %zu truncated or too long", p->seq, i + 1);
                return -1;
            }
        }
        p->fec_entries = (int)count;
    }
    if (pos != len) {
        str_fmt(err, errlen, "UDPTL %u: %zu trailing bytes", p->seq, len - pos);
        return -1;
    }
    return 0;
}

int udptl_ifp_length(const uint8_t *buf, size_t len, int t38_version)
{
    if (len < 1)
        return -1;
    bool data_field = buf[0] & 0x80;
    bool is_data = (buf[0] >> 6) & 1;
    size_t pos = (buf[0] & 0x20) ? 2 : 1;   /* extension: the type spills into octet 2 */
    if (pos > len)
        return -1;
    if (!is_data)
        return data_field ? -1 : (int)pos;  /* an indicator never has data */
    if (!data_field)
        return (int)pos;
    if (pos >= len)
        return -1;
    int count = buf[pos++];
    bool half = false;                      /* version 0: inside a half-used octet */
    for (int i = 0; i < count; i++) {
        if (pos >= len)
            return -1;
        bool present;
        if (t38_version == 0) {
            if (half) {
                present = (buf[pos] >> 3) & 1;
                pos++;
                half = false;
            } else {
                present = (buf[pos] >> 7) & 1;
                if (present)
                    pos++;
                else
                    half = true;
            }
        } else {
            present = (buf[pos] >> 7) & 1;
            pos += (buf[pos] & 0x40) ? 2 : 1;
        }
        if (present) {
            if (pos + 2 > len)
                return -1;
            pos += 2 + (((size_t)buf[pos] << 8) | buf[pos + 1]) + 1;
        }
        if (pos > len)
            return -1;
    }
    if (half)
        pos++;
    return pos > len ? -1 : (int)pos;
}

/* ---- configuration ---- */

void udptl_config_default(udptl_config *c, udptl_ec ec)
{
    memset(c, 0, sizeof(*c));
    c->ec = ec;
    c->redundancy = 3;
    c->fec_span = 3;
    c->fec_entries = 3;
    c->far_max_datagram = UDPTL_DEFAULT_FAR_MAX_DATAGRAM;
}

int udptl_config_check(const udptl_config *c, char *err, size_t errlen)
{
    if (c->ec != UDPTL_EC_NONE && c->ec != UDPTL_EC_REDUNDANCY && c->ec != UDPTL_EC_FEC) {
        str_fmt(err, errlen, "unknown UDPTL error correction %d", (int)c->ec);
        return -1;
    }
    if (c->ec == UDPTL_EC_REDUNDANCY && (c->redundancy < 0 || c->redundancy > UDPTL_MAX_REDUNDANCY)) {
        str_fmt(err, errlen, "UDPTL redundancy depth must be 0..%d, got %d", UDPTL_MAX_REDUNDANCY, c->redundancy);
        return -1;
    }
    if (c->ec == UDPTL_EC_FEC && (c->fec_span < 1 || c->fec_span > UDPTL_MAX_FEC_SPAN || c->fec_entries < 1
                                  || c->fec_entries > UDPTL_MAX_FEC_ENTRIES)) {
        str_fmt(err, errlen, "UDPTL FEC span must be 1..%d and entries 1..%d, got %d and %d", UDPTL_MAX_FEC_SPAN,
                UDPTL_MAX_FEC_ENTRIES, c->fec_span, c->fec_entries);
        return -1;
    }
    if (c->far_max_datagram > 0 && c->far_max_datagram < 16) {
        str_fmt(err, errlen, "T38FaxMaxDatagram %d is too small to carry any IFP", c->far_max_datagram);
        return -1;
    }
    if (c->t38_version < 0 || c->t38_version > 3) {
        str_fmt(err, errlen, "T38FaxVersion must be 0..3, got %d", c->t38_version);
        return -1;
    }
    return 0;
}

/* ---- sending ---- */

static void clear_ring(udptl_slot *ring)
{
    for (int i = 0; i < UDPTL_RING; i++) {
        ring[i].len = -1;
        ring[i].seq = 0;
    }
}

void udptl_tx_init(udptl_tx *t, const udptl_config *c)
{
    memset(t, 0, sizeof(*t));
    t->cfg = *c;
    if (t->cfg.far_max_datagram <= 0)
        t->cfg.far_max_datagram = UDPTL_DEFAULT_FAR_MAX_DATAGRAM;
    if (t->cfg.far_max_datagram > UDPTL_MAX_DATAGRAM)
        t->cfg.far_max_datagram = UDPTL_MAX_DATAGRAM;
    clear_ring(t->ring);
}

int udptl_tx_max_ifp(const udptl_tx *t)
{
    /* seq (2) + primary length (1-2) + the least error recovery: choice and an empty
     * count (2), or for FEC choice, npackets length and value, empty count (4) */
    int least = t->cfg.ec == UDPTL_EC_FEC ? 4 : 2;
    int n = t->cfg.far_max_datagram - 2 - least - 1;
    if (n >= 0x80)
        n = t->cfg.far_max_datagram - 2 - least - 2;
    return n > UDPTL_MAX_IFP ? UDPTL_MAX_IFP : n;
}

static const udptl_slot *tx_slot(const udptl_tx *t, uint32_t seq)
{
    const udptl_slot *s = &t->ring[seq % UDPTL_RING];
    return s->len >= 0 && s->seq == seq ? s : NULL;
}

/* XOR parity over the IFPs entry m of the datagram `seq` covers; returns its length. */
static size_t fec_parity(const udptl_tx *t, uint32_t seq, int span, int entries, int m, uint8_t *out)
{
    size_t high = 0;
    for (int k = 0; k < span; k++) {
        const udptl_slot *s = tx_slot(t, seq + (uint32_t)m - (uint32_t)(span * entries) + (uint32_t)(k * entries));
        if (!s)
            continue;
        for (size_t j = 0; j < (size_t)s->len; j++)
            out[j] = (uint8_t)((j < high ? out[j] : 0) ^ s->buf[j]);
        if ((size_t)s->len > high)
            high = (size_t)s->len;
    }
    return high;
}

/* One attempt at the datagram with `depth` recovery items (secondary IFPs or FEC
 * entries); -1 if it does not fit limit. */
static int tx_encode(const udptl_tx *t, uint32_t seq, int depth, int span, uint8_t *out, size_t limit)
{
    size_t pos = 0;
    const udptl_slot *cur = &t->ring[seq % UDPTL_RING];
    if (limit < 2)
        return -1;
    out[pos++] = (uint8_t)(seq >> 8);
    out[pos++] = (uint8_t)seq;
    if (put_open_type(out, limit, &pos, cur->buf, (size_t)cur->len) != 0 || pos >= limit)
        return -1;
    if (t->cfg.ec != UDPTL_EC_FEC) {
        out[pos++] = 0x00;
        if (put_length(out, limit, &pos, (size_t)depth) != 0)
            return -1;
        for (int i = 0; i < depth; i++) {
            const udptl_slot *s = tx_slot(t, seq - 1 - (uint32_t)i);
            if (put_open_type(out, limit, &pos, s ? s->buf : NULL, s ? (size_t)s->len : 0) != 0)
                return -1;
        }
        return (int)pos;
    }
    if (pos + 4 > limit)
        return -1;
    out[pos++] = 0x80;
    out[pos++] = 1;                 /* fec-npackets: one value octet */
    out[pos++] = (uint8_t)span;
    out[pos++] = (uint8_t)depth;
    uint8_t parity[UDPTL_MAX_IFP];
    for (int m = 0; m < depth; m++) {
        size_t n = fec_parity(t, seq, span, depth, m, parity);
        if (put_open_type(out, limit, &pos, parity, n) != 0)
            return -1;
    }
    return (int)pos;
}

int udptl_tx_build(udptl_tx *t, const uint8_t *ifp, size_t ifp_len, uint8_t *out, size_t outlen, char *err,
                   size_t errlen)
{
    if (ifp_len == 0 || ifp_len > UDPTL_MAX_IFP) {
        str_fmt(err, errlen, "IFP of %zu bytes cannot be sent (1..%d)", ifp_len, UDPTL_MAX_IFP);
        return -1;
    }
    uint32_t seq = t->next_seq;
    udptl_slot *cur = &t->ring[seq % UDPTL_RING];
    udptl_slot saved_len_seq = { .len = cur->len, .seq = cur->seq };
    memcpy(cur->buf, ifp, ifp_len);
    cur->len = (int)ifp_len;
    cur->seq = seq;

    size_t limit = outlen < (size_t)t->cfg.far_max_datagram ? outlen : (size_t)t->cfg.far_max_datagram;
    int depth = 0, span = 0;
    if (t->cfg.ec == UDPTL_EC_REDUNDANCY) {
        depth = t->cfg.redundancy;
        if ((unsigned long)depth > t->packets)
            depth = (int)t->packets;    /* nothing older to repeat yet */
    } else if (t->cfg.ec == UDPTL_EC_FEC) {
        span = t->cfg.fec_span;
        depth = t->cfg.fec_entries;
        if (t->packets < (unsigned long)(span * depth)) {
            depth = (int)(t->packets / (unsigned long)span);  /* wind up: cover only what was sent */
            if (depth == 0)
                span = 0;
        }
    }
    int asked = depth, n;
    while ((n = tx_encode(t, seq, depth, span, out, limit)) < 0 && depth > 0)
        depth--;
    if (n < 0) {
        cur->len = saved_len_seq.len;
        cur->seq = saved_len_seq.seq;
        str_fmt(err, errlen, "IFP of %zu bytes does not fit a UDPTL datagram of %zu bytes", ifp_len, limit);
        return -1;
    }
    if (depth < asked)
        t->trimmed++;
    t->packets++;
    t->next_seq++;
    return n;
}

/* ---- receiving ---- */

void udptl_rx_init(udptl_rx *r, int t38_version)
{
    memset(r, 0, sizeof(*r));
    r->t38_version = t38_version;
    clear_ring(r->ring);
}

/* The 32-bit sequence number nearest to next_seq with these low 16 bits. */
static uint32_t extend_seq(const udptl_rx *r, uint16_t seq)
{
    int16_t d = (int16_t)(uint16_t)(seq - (uint16_t)r->next_seq);
    return r->next_seq + (uint32_t)(int32_t)d;
}

static udptl_slot *rx_slot(udptl_rx *r, uint32_t seq)
{
    udptl_slot *s = &r->ring[seq % UDPTL_RING];
    return s->len >= 0 && s->seq == seq ? s : NULL;
}

static void rx_store(udptl_rx *r, uint32_t seq, const uint8_t *data, size_t len)
{
    udptl_slot *s = &r->ring[seq % UDPTL_RING];
    memcpy(s->buf, data, len);
    s->len = (int)len;
    s->seq = seq;
}

/* Tries every parity block still in the window once; returns how many IFPs it repaired. */
static int fec_repair_pass(udptl_rx *r, uint32_t newest)
{
    int repaired = 0;
    for (int i = 0; i < UDPTL_RING; i++) {
        if (!r->fec[i].valid || newest - r->fec[i].seq >= UDPTL_RING)
            continue;
        uint32_t fs = r->fec[i].seq;
        int span = r->fec[i].span, entries = r->fec[i].entries;
        for (int m = 0; m < entries; m++) {
            uint32_t first = fs + (uint32_t)m - (uint32_t)(span * entries);
            if ((int64_t)fs + m - span * entries < 0 || newest - first >= UDPTL_RING)
                continue;
            uint32_t missing = 0;
            int n_missing = 0;
            for (int k = 0; k < span; k++) {
                uint32_t q = first + (uint32_t)(k * entries);
                if (!rx_slot(r, q)) {
                    missing = q;
                    n_missing++;
                }
            }
            /* only one unknown, and one still worth delivering */
            if (n_missing != 1 || (int32_t)(missing - r->next_seq) < 0)
                continue;
            uint8_t buf[UDPTL_MAX_IFP];
            size_t n = (size_t)r->fec[i].len[m];
            memcpy(buf, r->fec[i].data[m], n);
            for (int k = 0; k < span; k++) {
                const udptl_slot *s = rx_slot(r, first + (uint32_t)(k * entries));
                for (size_t j = 0; s && j < (size_t)s->len && j < n; j++)
                    buf[j] ^= s->buf[j];
            }
            int real = udptl_ifp_length(buf, n, r->t38_version);
            if (real <= 0)
                continue;           /* parity does not decode to an IFP: leave it lost */
            rx_store(r, missing, buf, (size_t)real);
            r->stats.recovered_fec++;
            repaired++;
        }
    }
    return repaired;
}

static void deliver(udptl_rx *r, uint32_t seq, const uint8_t *ifp, size_t len, udptl_ifp_fn fn, void *user)
{
    if (len > 0) {
        fn(user, ifp, len, (uint16_t)seq);
        r->stats.delivered++;
    } else {
        r->stats.lost++;
    }
}

int udptl_rx_datagram(udptl_rx *r, const uint8_t *buf, size_t len, udptl_ifp_fn fn, void *user)
{
    udptl_packet p;
    char err[160];
    r->stats.datagrams++;
    if (udptl_parse(buf, len, &p, err, sizeof err) != 0) {
        r->stats.malformed++;
        return -1;
    }
    if (!r->started) {
        /* the first datagram's secondary IFPs may already carry earlier ones */
        uint16_t back = p.fec ? 0 : (uint16_t)p.n_secondary;
        r->started = true;
        r->next_seq = (uint32_t)(p.seq - (back > p.seq ? p.seq : back));
    }
    uint32_t seq = extend_seq(r, p.seq);
    int32_t ahead = (int32_t)(seq - r->next_seq);
    if (ahead < -UDPTL_RESYNC_GAP || ahead > UDPTL_RESYNC_GAP) {
        /* the far end restarted its numbering: start over from this datagram */
        r->stats.resyncs++;
        uint32_t base = r->next_seq + 0x10000u;   /* keep extended numbers increasing */
        clear_ring(r->ring);
        memset(r->fec, 0, sizeof(r->fec));
        r->next_seq = (base & ~0xffffu) | p.seq;
        seq = r->next_seq;
    } else if (ahead < 0) {
        /* already delivered, recovered or given up on */
        if (ahead >= -UDPTL_RING && rx_slot(r, seq))
            r->stats.duplicates++;
        else
            r->stats.late++;
        return 0;
    }

    int delivered = 0;
    if (!p.fec) {
        for (uint32_t q = r->next_seq; q != seq; q++) {
            uint32_t back = seq - q;        /* 1 = the newest secondary */
            if (back <= (uint32_t)p.n_secondary && p.secondary[back - 1].len > 0) {
                r->stats.recovered_redundancy++;
                rx_store(r, q, p.secondary[back - 1].data, p.secondary[back - 1].len);
                deliver(r, q, p.secondary[back - 1].data, p.secondary[back - 1].len, fn, user);
                delivered++;
            } else {
                r->stats.lost++;
            }
        }
        rx_store(r, seq, p.primary.data, p.primary.len);   /* for duplicate detection */
        deliver(r, seq, p.primary.data, p.primary.len, fn, user);
        r->next_seq = seq + 1;
        return delivered + 1;
    }

    /* FEC: keep the primary and the parity, repair what can be, then play forward */
    for (uint32_t q = r->next_seq; q != seq && seq - q <= UDPTL_RING; q++) {
        udptl_slot *s = &r->ring[q % UDPTL_RING];
        if (s->seq != q)
            s->len = -1;
    }
    if (seq - r->next_seq > UDPTL_RING)
        clear_ring(r->ring);
    rx_store(r, seq, p.primary.data, p.primary.len);
    int fi = (int)(seq % UDPTL_RING);
    r->fec[fi].valid = true;
    r->fec[fi].seq = seq;
    r->fec[fi].span = p.fec_span;
    r->fec[fi].entries = p.fec_entries;
    for (int m = 0; m < p.fec_entries; m++) {
        r->fec[fi].len[m] = (int)p.fec_data[m].len;
        memcpy(r->fec[fi].data[m], p.fec_data[m].data, p.fec_data[m].len);
    }
    while (fec_repair_pass(r, seq) > 0)
        ;
    for (uint32_t q = r->next_seq; q != seq + 1; q++) {
        const udptl_slot *s = seq - q < UDPTL_RING ? rx_slot(r, q) : NULL;
        if (s) {
            deliver(r, q, s->buf, (size_t)s->len, fn, user);
            delivered++;
        } else {
            r->stats.lost++;
        }
    }
    r->next_seq = seq + 1;
    return delivered;
}
