/* fax_loopback.c — a whole fax call inside one process: a sending session (caller) and
 * a receiving session (answerer) wired back to back, either over 8 kHz audio with
 * optional white noise on both directions, or over T.38 with IFP packets handed across
 * directly and an optional, reproducible packet loss. Both ends are stepped in 20 ms
 * blocks as fast as the CPU allows; a simulated-time limit bounds every run.
 * Used by the loopback backend and the fax tests. */
#include "fax/fax_engine.h"

#include <spandsp.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* After one end has hung up, how long the other may still run (its own T.30 timers
 * end it well before this; the cap only guards against a stuck state machine). */
#define FAX_HANGUP_GRACE_S 60

/* ---- T.38 packet hand-off with deterministic loss ---- */

typedef struct {
    uint8_t *data;
    int len;
    uint16_t seq;
} ifp_packet;

typedef struct {
    ifp_packet *items;
    size_t n, cap;
    uint16_t next_seq;
    uint32_t rng;           /* xorshift32 state, never 0 */
    double loss_pct;
    bool oom;
} ifp_link;

static uint32_t xorshift32(uint32_t *st)
{
    uint32_t x = *st;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *st = x;
}

static bool packet_lost(ifp_link *l)
{
    if (l->loss_pct <= 0)
        return false;
    if (l->loss_pct >= 100)
        return true;
    return (double)(xorshift32(&l->rng) % 1000000u) < l->loss_pct * 10000.0;
}

/* spandsp asks for `count` copies of each IFP (UDPTL-style redundancy); the packet
 * arrives if any copy survives, and the far end sees one delivery per sequence number. */
static void link_send(void *user_data, const uint8_t *ifp, int len, int count)
{
    ifp_link *l = user_data;
    uint16_t seq = l->next_seq++;
    bool arrives = false;
    for (int i = 0; i < (count > 0 ? count : 1); i++)
        if (!packet_lost(l))
            arrives = true;
    if (!arrives || len <= 0 || l->oom)
        return;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 32;
        ifp_packet *ni = realloc(l->items, ncap * sizeof(*ni));
        if (!ni) {
            l->oom = true;
            return;
        }
        l->items = ni;
        l->cap = ncap;
    }
    uint8_t *copy = malloc((size_t)len);
    if (!copy) {
        l->oom = true;
        return;
    }
    memcpy(copy, ifp, (size_t)len);
    l->items[l->n++] = (ifp_packet){ copy, len, seq };
}

/* Delivers everything queued so far. The receiver's replies go to the other link, so
 * this link is never appended to while it is being drained. */
static void link_deliver(ifp_link *l, fax_session *to)
{
    size_t n = l->n;
    for (size_t i = 0; i < n; i++) {
        fax_session_rx_ifp(to, l->items[i].data, l->items[i].len, l->items[i].seq);
        free(l->items[i].data);
    }
    l->n = 0;
}

static void link_free(ifp_link *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].data);
    free(l->items);
}

/* ---- audio line with noise ---- */

static void add_noise(int16_t *amp, int len, awgn_state_t *noise)
{
    if (!noise)
        return;
    for (int i = 0; i < len; i++) {
        int v = amp[i] + awgn(noise);
        amp[i] = (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
    }
}

/* ---- the run ---- */

static int validate(const fax_loopback_opts *o, char *err, size_t errlen)
{
    if (!o->tx_tiff || !o->tx_tiff[0] || !o->rx_tiff || !o->rx_tiff[0]) {
        str_fmt(err, errlen, "loopback fax needs both a TIFF to send and a path to receive into");
        return -1;
    }
    if (o->transport == FAX_TRANSPORT_AUDIO && (o->impairment > 0 || o->impairment < -120)) {
        str_fmt(err, errlen, "audio impairment is a noise level in dBm0 from -120 to 0 (0 = clean line), got %g",
                o->impairment);
        return -1;
    }
    if (o->transport == FAX_TRANSPORT_T38 && (o->impairment < 0 || o->impairment > 100)) {
        str_fmt(err, errlen, "T.38 impairment is a packet loss percentage from 0 to 100, got %g", o->impairment);
        return -1;
    }
    return 0;
}

/* Picks the code that decides the call and fills the outcome fields of res. */
static void decide(fax_result *res, const fax_result *txr, const fax_result *rxr, int limit_s)
{
    res->pages_sent = txr->pages_sent;
    res->pages_received = rxr->pages_received;
    res->pages_in_file = txr->pages_in_file;
    res->bit_rate = txr->bit_rate;
    res->ecm_used = txr->ecm_used;
    memcpy(res->remote_station_id, txr->remote_station_id, sizeof(res->remote_station_id));
    memcpy(res->sender_station_id, rxr->remote_station_id, sizeof(res->sender_station_id));

    const fax_result *by = txr->completion_code != T30_ERR_OK ? txr : rxr;
    if (by->completion_code < 0) {
        /* an end never reached phase E: we hung up on it */
        res->completion_code = T30_ERR_CALLDROPPED;
        str_fmt(res->completion_text, sizeof(res->completion_text),
                "call did not finish within %d s of line time", limit_s);
        res->failure_reason = fax_failure_reason(T30_ERR_CALLDROPPED, &res->transient);
        res->success = false;
        return;
    }
    res->completion_code = by->completion_code;
    memcpy(res->completion_text, by->completion_text, sizeof(res->completion_text));
    res->failure_reason = by->failure_reason;
    res->transient = by->transient;
    res->success = by->completion_code == T30_ERR_OK;
    if (res->success && (res->pages_received != res->pages_sent || res->pages_sent <= 0)) {
        res->success = false;
        res->failure_reason = "line_error";
        res->transient = true;
        str_fmt(res->completion_text, sizeof(res->completion_text),
                "receiver got %d of %d pages", res->pages_received, res->pages_sent);
    }
}

int fax_loopback_run(const fax_loopback_opts *o, fax_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    res->completion_code = -1;
    if (validate(o, err, errlen) != 0)
        return -1;

    int limit_s = o->max_line_seconds > 0 ? o->max_line_seconds : FAX_DEFAULT_MAX_LINE_S;
    bool t38 = o->transport == FAX_TRANSPORT_T38;
    uint32_t seed = o->seed ? o->seed : 0x5eed1u;
    ifp_link to_rx = { .rng = seed ^ 0x9e3779b9u, .loss_pct = t38 ? o->impairment : 0 };
    ifp_link to_tx = { .rng = (seed * 2654435761u) | 1u, .loss_pct = t38 ? o->impairment : 0 };
    if (!to_rx.rng)
        to_rx.rng = 1;
    awgn_state_t *noise_fwd = NULL, *noise_back = NULL;
    fax_session *tx = NULL, *rx = NULL;
    int rc = -1;

    fax_session_opts so = {
        .transport = o->transport, .calling = true, .sending = true, .tiff_path = o->tx_tiff,
        .ecm = o->ecm, .station_id = o->tx_station_id, .header_text = o->header_text,
        .t38_tx = link_send, .t38_tx_user_data = &to_rx,
        .on_page = o->on_page, .on_page_user_data = o->on_page_user_data, .debug_log = o->debug_log,
    };
    fax_session_opts ro = {
        .transport = o->transport, .calling = false, .sending = false, .tiff_path = o->rx_tiff,
        .ecm = o->ecm, .station_id = o->rx_station_id,
        .t38_tx = link_send, .t38_tx_user_data = &to_tx, .debug_log = o->debug_log,
    };
    if (!(tx = fax_session_new(&so, err, errlen)) || !(rx = fax_session_new(&ro, err, errlen)))
        goto out;
    if (!t38 && o->impairment < 0) {
        noise_fwd = awgn_init_dbm0(NULL, (int)(seed & 0x7fffffff), (float)o->impairment);
        noise_back = awgn_init_dbm0(NULL, (int)((seed * 2654435761u) & 0x7fffffff), (float)o->impairment);
        if (!noise_fwd || !noise_back) {
            str_fmt(err, errlen, "spandsp could not create the noise generator");
            goto out;
        }
    }

    const long limit_ticks = (long)limit_s * (FAX_SAMPLE_RATE / FAX_TICK_SAMPLES);
    const long grace_ticks = (long)FAX_HANGUP_GRACE_S * (FAX_SAMPLE_RATE / FAX_TICK_SAMPLES);
    long ticks = 0, first_done_at = -1;
    int16_t fwd[FAX_TICK_SAMPLES], back[FAX_TICK_SAMPLES];
    for (; ticks < limit_ticks; ) {
        if (t38) {
            fax_session_t38_tick(tx, FAX_TICK_SAMPLES);
            fax_session_t38_tick(rx, FAX_TICK_SAMPLES);
            link_deliver(&to_rx, rx);
            link_deliver(&to_tx, tx);
            if (to_rx.oom || to_tx.oom) {
                str_fmt(err, errlen, "out of memory queueing T.38 packets");
                goto out;
            }
        } else {
            fax_session_tx_audio(tx, fwd, FAX_TICK_SAMPLES);
            fax_session_tx_audio(rx, back, FAX_TICK_SAMPLES);
            add_noise(fwd, FAX_TICK_SAMPLES, noise_fwd);
            add_noise(back, FAX_TICK_SAMPLES, noise_back);
            fax_session_rx_audio(rx, fwd, FAX_TICK_SAMPLES);
            fax_session_rx_audio(tx, back, FAX_TICK_SAMPLES);
        }
        ticks++;
        bool tx_done = fax_session_done(tx), rx_done = fax_session_done(rx);
        if (tx_done && rx_done)
            break;
        if ((tx_done || rx_done) && first_done_at < 0)
            first_done_at = ticks;
        if (first_done_at >= 0 && ticks - first_done_at >= grace_ticks)
            break;
    }

    fax_result txr, rxr;
    memset(&txr, 0, sizeof(txr));
    memset(&rxr, 0, sizeof(rxr));
    fax_session_result(tx, &txr);
    fax_session_result(rx, &rxr);
    res->line_seconds = (double)ticks * FAX_TICK_SAMPLES / FAX_SAMPLE_RATE;
    res->timed_out = !(fax_session_done(tx) && fax_session_done(rx));
    decide(res, &txr, &rxr, limit_s);
    rc = 0;

out:
    /* freeing the receiver closes (finishes) its TIFF */
    fax_session_free(tx);
    fax_session_free(rx);
    if (noise_fwd)
        awgn_free(noise_fwd);
    if (noise_back)
        awgn_free(noise_back);
    link_free(&to_rx);
    link_free(&to_tx);
    return rc;
}
