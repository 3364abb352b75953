/* media_call.c — one media call, stepped by the engine thread: its fax session and the
 * codec in front of it. Audio: each 20 ms the jitter buffer plays 160 samples into
 * spandsp and spandsp's 160 samples go out as G.711 RTP (in packets of ptime).
 * T.38: each 20 ms spandsp's timers advance and the IFPs it emits go out as UDPTL
 * datagrams (as many identical copies as spandsp asks for; the receiver drops the
 * duplicates); received datagrams are recovered, ordered and fed in. Runs under the
 * engine's lock; nothing here blocks. */
#include <errno.h>
#include <spandsp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "media/media_internal.h"
#include "util/util.h"

#define DEFAULT_RX_TIMEOUT_S 60

void media_params_default(media_params *p, media_kind kind)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->law = MEDIA_ULAW;
    p->payload_type = -1;
    p->ptime_ms = 20;
    p->jitter_ms = 60;
    udptl_config_default(&p->udptl, UDPTL_EC_REDUNDANCY);
    p->t38_max_bitrate = 14400;
    p->t38_rate_management = 2;
}

int media_params_check(const media_params *p, char *err, size_t errlen)
{
    if (p->kind != MEDIA_KIND_AUDIO && p->kind != MEDIA_KIND_T38) {
        str_fmt(err, errlen, "unknown media kind %d", (int)p->kind);
        return -1;
    }
    if (p->remote_port < 0 || p->remote_port > 65535) {
        str_fmt(err, errlen, "remote media port %d is out of range", p->remote_port);
        return -1;
    }
    if (p->kind == MEDIA_KIND_AUDIO) {
        if (p->law != MEDIA_ULAW && p->law != MEDIA_ALAW) {
            str_fmt(err, errlen, "audio fax needs G.711 (PCMU or PCMA)");
            return -1;
        }
        if (p->payload_type > 127) {
            str_fmt(err, errlen, "RTP payload type %d is out of range", p->payload_type);
            return -1;
        }
        if (p->ptime_ms < 0 || p->ptime_ms > MEDIA_MAX_PTIME || p->ptime_ms % 10 != 0) {
            str_fmt(err, errlen, "ptime %d ms is not 10..%d in steps of 10", p->ptime_ms, MEDIA_MAX_PTIME);
            return -1;
        }
        if (p->jitter_ms < 0 || p->jitter_ms > JITTER_CAPACITY / 16) {
            str_fmt(err, errlen, "jitter delay %d ms is out of range 0..%d", p->jitter_ms, JITTER_CAPACITY / 16);
            return -1;
        }
        return 0;
    }
    if (udptl_config_check(&p->udptl, err, errlen) != 0)
        return -1;
    if (p->t38_max_bitrate != 0 && (p->t38_max_bitrate < 2400 || p->t38_max_bitrate > 33600)) {
        str_fmt(err, errlen, "T38MaxBitRate %d is out of range", p->t38_max_bitrate);
        return -1;
    }
    if (p->t38_rate_management < 0 || p->t38_rate_management > 2) {
        str_fmt(err, errlen, "T38FaxRateManagement must be localTCF (1) or transferredTCF (2)");
        return -1;
    }
    return 0;
}

/* ---- sending ---- */

static uint32_t xorshift32(uint32_t *st)
{
    uint32_t x = *st;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *st = x;
}

static void send_datagram(media_call *c, const uint8_t *buf, size_t len)
{
    if (!c->remote_len)
        return;
    if (c->opts.test_tx_loss_pct > 0
        && (double)(xorshift32(&c->loss_rng) % 1000000u) < c->opts.test_tx_loss_pct * 10000.0) {
        c->st.tx_dropped_test++;
        return;
    }
    if (sendto(c->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&c->remote, c->remote_len) < 0)
        c->st.tx_errors++;
    else
        c->st.tx_datagrams++;
}

/* spandsp's T.38 terminal hands over each IFP with the number of copies it wants. */
static void on_ifp_out(void *user, const uint8_t *ifp, int len, int count)
{
    media_call *c = user;
    uint8_t out[UDPTL_MAX_DATAGRAM];
    char err[160];
    if (len <= 0 || !c->utx)
        return;
    int n = udptl_tx_build(c->utx, ifp, (size_t)len, out, sizeof out, err, sizeof err);
    if (n < 0) {
        log_warn("media call %d: %s", c->local_port, err);
        c->st.tx_errors++;
        return;
    }
    for (int i = 0; i < (count > 0 ? count : 1); i++)
        send_datagram(c, out, (size_t)n);
}

static int ptime_samples(const media_call *c)
{
    return (c->params.ptime_ms ? c->params.ptime_ms : 20) * 8;
}

static void send_audio(media_call *c, const int16_t *pcm, int n)
{
    memcpy(c->tx_acc + c->tx_acc_n, pcm, (size_t)n * sizeof(*pcm));
    c->tx_acc_n += n;
    int frame = ptime_samples(c);
    int pt = c->params.payload_type >= 0 ? c->params.payload_type : media_g711_payload_type(c->params.law);
    while (c->tx_acc_n >= frame) {
        uint8_t payload[MEDIA_MAX_PTIME * 8], pkt[RTP_MAX_PACKET];
        media_g711_encode(c->params.law, c->tx_acc, (size_t)frame, payload);
        rtp_header h = { .marker = !c->rtp_marker_sent, .payload_type = (uint8_t)pt, .seq = c->rtp_seq++,
                         .timestamp = c->rtp_ts, .ssrc = c->rtp_ssrc };
        c->rtp_marker_sent = true;
        c->rtp_ts += (uint32_t)frame;
        int len = rtp_build(&h, payload, (size_t)frame, pkt, sizeof pkt);
        if (len > 0)
            send_datagram(c, pkt, (size_t)len);
        c->tx_acc_n -= frame;
        memmove(c->tx_acc, c->tx_acc + frame, (size_t)c->tx_acc_n * sizeof(*c->tx_acc));
    }
}

/* ---- starting and switching ---- */

static int new_session(media_call *c, fax_transport tr, char *err, size_t errlen)
{
    fax_session_opts so = {
        .transport = tr, .calling = c->opts.calling, .sending = c->opts.sending, .tiff_path = c->tiff_path,
        .ecm = c->opts.ecm, .station_id = c->station_id,
        .header_text = c->has_header_text ? c->header_text : NULL,
        .t38_tx = on_ifp_out, .t38_tx_user_data = c,
        .on_page = c->opts.on_page, .on_page_user_data = c->opts.user_data, .debug_log = c->opts.debug_log,
    };
    fax_session *s = fax_session_new(&so, err, errlen);
    if (!s)
        return -1;
    if (tr == FAX_TRANSPORT_T38) {
        fax_t38_params tp = {
            .version = c->params.udptl.t38_version, .max_ifp = udptl_tx_max_ifp(c->utx),
            .rate_management = c->params.t38_rate_management ? c->params.t38_rate_management : 2,
            .max_bitrate = c->params.t38_max_bitrate ? c->params.t38_max_bitrate : 14400,
            .fill_bit_removal = c->params.t38_fill_bit_removal,
        };
        if (fax_session_set_t38_params(s, &tp) != 0) {
            str_fmt(err, errlen, "spandsp refused the T.38 parameters");
            fax_session_free(s);
            return -1;
        }
    }
    fax_session_free(c->fax);
    c->fax = s;
    return 0;
}

static int set_remote(media_call *c, const char *addr, int port, char *err, size_t errlen)
{
    if (port == 0 || !addr || !addr[0]) {
        c->remote_len = 0;
        return 0;
    }
    return media_resolve(addr, port, &c->remote, &c->remote_len, err, errlen);
}

static int set_codec(media_call *c, const media_params *p, char *err, size_t errlen)
{
    if (p->kind == MEDIA_KIND_AUDIO) {
        if (!c->jb && !(c->jb = malloc(sizeof(*c->jb))))
            goto oom;
        jitter_init(c->jb, (p->jitter_ms ? p->jitter_ms : 60) * 8);
        memset(c->last_frame, 0, sizeof c->last_frame);
        c->lost_run = 0;
        return 0;
    }
    if ((!c->utx && !(c->utx = malloc(sizeof(*c->utx)))) || (!c->urx && !(c->urx = malloc(sizeof(*c->urx)))))
        goto oom;
    udptl_tx_init(c->utx, &p->udptl);
    udptl_rx_init(c->urx, p->udptl.t38_version);
    return 0;
oom:
    str_fmt(err, errlen, "out of memory for the media codec");
    return -1;
}

int media_call_begin(media_call *c, const media_params *p, char *err, size_t errlen)
{
    if (media_params_check(p, err, errlen) != 0)
        return -1;
    media_params saved = c->params;
    c->params = *p;
    if (set_remote(c, p->remote_addr, p->remote_port, err, errlen) != 0 || set_codec(c, p, err, errlen) != 0
        || new_session(c, p->kind == MEDIA_KIND_T38 ? FAX_TRANSPORT_T38 : FAX_TRANSPORT_AUDIO, err, errlen) != 0) {
        c->params = saved;
        return -1;
    }
    c->tx_acc_n = 0;
    c->last_rx_tick = c->ticks;
    c->st.kind = p->kind;
    c->state = CALL_RUNNING;
    return 0;
}

void media_call_release(media_call *c)
{
    fax_session_free(c->fax);
    c->fax = NULL;
    free(c->jb);
    free(c->utx);
    free(c->urx);
    c->jb = NULL;
    c->utx = NULL;
    c->urx = NULL;
}

/* ---- receiving ---- */

static void on_ifp_in(void *user, const uint8_t *ifp, size_t len, uint16_t seq)
{
    media_call *c = user;
    fax_session_rx_ifp(c->fax, ifp, (int)len, seq);
}

static bool accept_source(media_call *c, const struct sockaddr_storage *from, socklen_t fromlen)
{
    if (c->params.symmetric) {
        memcpy(&c->remote, from, fromlen);      /* latch onto where the far end really is */
        c->remote_len = fromlen;
        return true;
    }
    return c->remote_len && media_same_host(&c->remote, from);
}

static void handle_datagram(media_call *c, const uint8_t *buf, size_t len, const struct sockaddr_storage *from,
                            socklen_t fromlen)
{
    c->st.rx_datagrams++;
    if (c->state != CALL_RUNNING) {
        c->st.rx_rejected++;
        return;
    }
    if (c->params.kind == MEDIA_KIND_T38) {
        udptl_packet p;
        char err[160];
        if (udptl_parse(buf, len, &p, err, sizeof err) != 0 || !accept_source(c, from, fromlen)) {
            c->st.rx_rejected++;
            return;
        }
        udptl_rx_datagram(c->urx, buf, len, on_ifp_in, c);
    } else {
        rtp_header h;
        char err[128];
        int pt = c->params.payload_type >= 0 ? c->params.payload_type : media_g711_payload_type(c->params.law);
        if (rtp_parse(buf, len, &h, err, sizeof err) != 0 || h.payload_type != pt || !accept_source(c, from, fromlen)) {
            c->st.rx_rejected++;    /* also telephone-event, comfort noise, stray T.38 */
            return;
        }
        rtp_seq_update(&c->rtp_rx, h.ssrc, h.seq);
        int16_t pcm[RTP_MAX_PACKET];
        media_g711_decode(c->params.law, h.payload, h.payload_len, pcm);
        jitter_put(c->jb, h.ssrc, h.timestamp, pcm, h.payload_len);
    }
    c->last_rx_tick = c->ticks;
}

void media_call_readable(media_call *c)
{
    uint8_t buf[RTP_MAX_PACKET + 1];
    for (int i = 0; i < 256; i++) {     /* bounded: one flooded call cannot starve the rest */
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(c->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno != EINTR)
                return;
            continue;
        }
        if ((size_t)n > RTP_MAX_PACKET) {
            c->st.rx_datagrams++;
            c->st.rx_rejected++;
            continue;
        }
        handle_datagram(c, buf, (size_t)n, &from, fromlen);
    }
}

/* ---- the tick ---- */

/* A whole frame lost is played as the last frame that arrived, for up to 3 in a row:
 * silence would look like the carrier dropping to the modem (one lost packet then
 * failed the whole call), while a repeated frame only damages data, which ECM repairs.
 * A longer outage is a real loss of signal and stays silent. (spandsp's speech PLC
 * did the same job but copies overlapping memory inside plc_fillin.) */
static void conceal(media_call *c, size_t gap, int16_t *pcm)
{
    if (gap < FAX_TICK_SAMPLES) {
        memcpy(c->last_frame, pcm, sizeof c->last_frame);
        c->lost_run = 0;
        return;
    }
    if (++c->lost_run <= 3)
        memcpy(pcm, c->last_frame, sizeof c->last_frame);
}

static void finish(media_call *c, const char *why)
{
    memset(&c->result, 0, sizeof(c->result));
    fax_session_result(c->fax, &c->result);
    c->result.line_seconds = (double)c->ticks * MEDIA_TICK_MS / 1000.0;
    if (why) {
        c->result.success = false;
        c->result.timed_out = true;
        c->result.completion_code = T30_ERR_CALLDROPPED;
        str_copy(c->result.completion_text, sizeof(c->result.completion_text), why);
        c->result.failure_reason = fax_failure_reason(T30_ERR_CALLDROPPED, &c->result.transient);
    }
    c->state = CALL_DONE;
}

bool media_call_tick(media_call *c)
{
    if (c->state != CALL_RUNNING)
        return false;
    c->ticks++;
    int16_t pcm[FAX_TICK_SAMPLES];
    if (c->params.kind == MEDIA_KIND_AUDIO) {
        conceal(c, jitter_get(c->jb, pcm, FAX_TICK_SAMPLES), pcm);
        fax_session_rx_audio(c->fax, pcm, FAX_TICK_SAMPLES);
        fax_session_tx_audio(c->fax, pcm, FAX_TICK_SAMPLES);
        send_audio(c, pcm, FAX_TICK_SAMPLES);
    } else {
        fax_session_t38_tick(c->fax, FAX_TICK_SAMPLES);
    }
    if (fax_session_done(c->fax)) {
        finish(c, NULL);
        return true;
    }
    long limit = (long)(c->opts.max_seconds > 0 ? c->opts.max_seconds : FAX_DEFAULT_MAX_LINE_S) * 1000 / MEDIA_TICK_MS;
    long rx_limit = (long)(c->opts.rx_timeout_s > 0 ? c->opts.rx_timeout_s : DEFAULT_RX_TIMEOUT_S) * 1000
                    / MEDIA_TICK_MS;
    if (c->ticks >= limit) {
        char why[96];
        str_fmt(why, sizeof why, "call did not finish within %d s", (int)(limit * MEDIA_TICK_MS / 1000));
        finish(c, why);
        return true;
    }
    if (c->ticks - c->last_rx_tick >= rx_limit) {
        char why[96];
        str_fmt(why, sizeof why, "no media from the far end for %ld s", rx_limit * MEDIA_TICK_MS / 1000);
        finish(c, why);
        return true;
    }
    return false;
}
