/* udptl.h — UDPTL, the UDP transport of T.38 (ITU-T T.38 clause 9, ASN.1 UDPTLPacket):
 * each datagram carries a 16-bit sequence number, one primary IFP packet (a PER open
 * type) and error recovery, either the previous IFPs again ("secondary" packets,
 * redundancy) or XOR parity over interleaved earlier IFPs (FEC: fec-npackets = span,
 * fec-data = one parity block per entry).
 *
 * Three parts, all pure (no sockets, no clock):
 *   udptl_parse      one datagram → a view of its parts (pointers into the datagram),
 *                    strictly bounds-checked; the fuzzed parser of outside input;
 *   udptl_tx_*       the sending side: keeps the last IFPs and builds datagrams with
 *                    the negotiated error recovery, cut down to T38FaxMaxDatagram;
 *   udptl_rx_*       the receiving side: duplicate and late datagrams dropped, lost
 *                    IFPs recovered from redundancy or FEC, every IFP delivered once,
 *                    in sequence order, with its own sequence number.
 * spandsp 0.0.6 only speaks IFP (PROTOCOLS.md §6.1), so this is the layer between its
 * T.38 terminal and the network. */
#ifndef FAXBOT_MEDIA_UDPTL_H
#define FAXBOT_MEDIA_UDPTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UDPTL_MAX_DATAGRAM 1500     /* largest datagram we build or accept */
#define UDPTL_MAX_IFP 1400          /* largest IFP we keep (Asterisk's local limit) */
#define UDPTL_MAX_REDUNDANCY 16     /* secondary IFPs per datagram, sending and parsing */
#define UDPTL_MAX_FEC_ENTRIES 5
#define UDPTL_MAX_FEC_SPAN 5
#define UDPTL_DEFAULT_FAR_MAX_DATAGRAM 400   /* when the SDP names none (as Asterisk) */

typedef enum { UDPTL_EC_NONE = 0, UDPTL_EC_REDUNDANCY = 1, UDPTL_EC_FEC = 2 } udptl_ec;

/* ---- parsing one datagram ---- */

typedef struct udptl_chunk {
    const uint8_t *data;            /* points into the parsed datagram */
    size_t len;
} udptl_chunk;

typedef struct udptl_packet {
    uint16_t seq;
    udptl_chunk primary;
    bool fec;                       /* error recovery is fec-info (else secondary IFPs) */
    /* secondary-ifp-packets, newest first (secondary[0] is seq - 1); zero-length
     * entries are kept (they mean "nothing to repeat") */
    udptl_chunk secondary[UDPTL_MAX_REDUNDANCY];
    int n_secondary;
    /* fec-info: parity block m covers the IFPs seq + m - span*entries + k*entries,
     * k = 0 .. span-1 (every one before seq) */
    int fec_span;
    udptl_chunk fec_data[UDPTL_MAX_FEC_ENTRIES];
    int fec_entries;
} udptl_packet;

/* Parses a datagram. 0 on success; -1 with a reason in err when it is malformed,
 * truncated, has trailing bytes, uses PER fragmentation (>16K lengths), or carries more
 * secondary IFPs / FEC entries / a larger span than the limits above. */
int udptl_parse(const uint8_t *buf, size_t len, udptl_packet *p, char *err, size_t errlen);

/* The length the PER encoding of an IFP packet really occupies (T.38 clause 7 as
 * spandsp encodes it; version 0 packs field types without data in half octets), or -1
 * if buf does not hold a whole IFP. FEC recovers an IFP padded to its parity block's
 * length; this trims it back (spandsp rejects IFPs with trailing bytes). */
int udptl_ifp_length(const uint8_t *buf, size_t len, int t38_version);

/* ---- configuration (from the negotiated SDP) ---- */

typedef struct udptl_config {
    udptl_ec ec;                    /* T38FaxUdpEC as negotiated */
    int redundancy;                 /* secondary IFPs per datagram (0..UDPTL_MAX_REDUNDANCY) */
    int fec_span;                   /* 1..UDPTL_MAX_FEC_SPAN */
    int fec_entries;                /* 1..UDPTL_MAX_FEC_ENTRIES */
    int far_max_datagram;           /* T38FaxMaxDatagram of the far end; <= 0 = default */
    int t38_version;                /* T38FaxVersion, for trimming FEC-recovered IFPs */
} udptl_config;

/* Fills c with our defaults: redundancy depth 3, FEC 3 x 3, datagram 400, version 0. */
void udptl_config_default(udptl_config *c, udptl_ec ec);
/* 0 if c is usable, else -1 with the reason in err. */
int udptl_config_check(const udptl_config *c, char *err, size_t errlen);

/* ---- sending ---- */

#define UDPTL_RING 32               /* IFPs remembered on each side (> span*entries) */

typedef struct udptl_slot {
    uint8_t buf[UDPTL_MAX_IFP];
    int len;                        /* -1 = empty / lost */
    uint32_t seq;                   /* extended (32-bit) sequence number of the entry */
} udptl_slot;

typedef struct udptl_tx {
    udptl_config cfg;
    uint32_t next_seq;              /* extended; the wire carries the low 16 bits */
    udptl_slot ring[UDPTL_RING];
    unsigned long packets, trimmed;  /* datagrams built; built with less recovery than asked */
} udptl_tx;

void udptl_tx_init(udptl_tx *t, const udptl_config *c);
/* The largest IFP that fits a datagram of the far end's size with no recovery at all
 * (what spandsp's T.38 max datagram should be set to). */
int udptl_tx_max_ifp(const udptl_tx *t);
/* Builds the datagram for the next IFP into out. Error recovery is reduced (fewer
 * secondary IFPs / FEC entries) until the datagram fits far_max_datagram and outlen.
 * Returns the datagram length, or -1 with err if the IFP alone does not fit or is
 * larger than UDPTL_MAX_IFP (the sequence number is not used up then). */
int udptl_tx_build(udptl_tx *t, const uint8_t *ifp, size_t ifp_len, uint8_t *out, size_t outlen, char *err,
                   size_t errlen);

/* ---- receiving ---- */

/* Called with each IFP in order; seq is its 16-bit UDPTL sequence number. */
typedef void (*udptl_ifp_fn)(void *user, const uint8_t *ifp, size_t len, uint16_t seq);

typedef struct udptl_rx_stats {
    unsigned long datagrams, malformed, duplicates, late, resyncs;
    unsigned long delivered, recovered_redundancy, recovered_fec, lost;
} udptl_rx_stats;

typedef struct udptl_rx {
    int t38_version;
    bool started;
    uint32_t next_seq;              /* extended sequence number of the next IFP to deliver */
    udptl_slot ring[UDPTL_RING];    /* FEC: received / repaired IFPs and their parity */
    struct {
        uint32_t seq;
        int span, entries;
        int len[UDPTL_MAX_FEC_ENTRIES];
        uint8_t data[UDPTL_MAX_FEC_ENTRIES][UDPTL_MAX_IFP];
        bool valid;
    } fec[UDPTL_RING];
    udptl_rx_stats stats;
} udptl_rx;

void udptl_rx_init(udptl_rx *r, int t38_version);
/* Takes one received datagram: delivers every IFP it makes available (recovered ones
 * first, oldest first, then the primary) through fn. Returns how many IFPs were
 * delivered (0 for a duplicate or late datagram), -1 if it was malformed (counted,
 * nothing delivered, state unchanged). */
int udptl_rx_datagram(udptl_rx *r, const uint8_t *buf, size_t len, udptl_ifp_fn fn, void *user);

#endif
