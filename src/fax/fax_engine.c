/* fax_engine.c — one fax call endpoint on spandsp 0.0.6: wraps either an audio
 * terminal (fax_state_t, 8 kHz linear samples in/out) or a T.38 terminal
 * (t38_terminal_state_t, IFP packets out through a callback, in through
 * fax_session_rx_ifp), applies our settings to its T.30 engine and collects the
 * phase E result. No globals: each session owns all of its spandsp state. */
#include "fax/fax_engine.h"

#include <spandsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/settings.h"
#include "util/util.h"

struct fax_session {
    fax_transport transport;
    bool sending;
    fax_state_t *audio;
    t38_terminal_state_t *t38;
    t30_state_t *t30;
    fax_t38_tx_fn t38_tx;
    void *t38_tx_user_data;
    fax_page_fn on_page;
    void *on_page_user_data;
    int phase_e_code;               /* -1 until phase E */
    char station_id[FAX_STATION_ID_MAX + 1];
    char header[FAX_HEADER_MAX + 1];
};

bool fax_clean_text(const char *in, char *out, size_t max)
{
    size_t n = 0;
    bool changed = false;
    for (const char *p = in ? in : ""; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7e || n >= max) {
            changed = true;
            continue;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return changed;
}

/* The current UTC offset as a POSIX TZ string ("LOC-01:00" is one hour east). */
static void fixed_offset_tz(char *out, size_t outlen)
{
    time_t now = time(NULL);
    struct tm tm;
    long east = localtime_r(&now, &tm) ? tm.tm_gmtoff : 0;
    long a = east < 0 ? -east : east;
    str_fmt(out, outlen, "LOC%c%02ld:%02ld", east >= 0 ? '-' : '+', a / 3600, (a % 3600) / 60);
}

void fax_default_header(const char *station_id, char *out, size_t outlen)
{
    char id[FAX_STATION_ID_MAX + 1];
    fax_clean_text(station_id, id, FAX_STATION_ID_MAX);
    /* spandsp adds date, time, our station id and "p.<n>" around this text itself */
    snprintf(out, outlen, "From %s", id[0] ? id : "Faxbot");
}

/* spandsp 0.0.6 message handlers get no user data: one shared, stateless sink. */
static void spandsp_log_to_ours(int level, const char *text)
{
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    log_debug("spandsp[%d]: %.*s", level, (int)n, text);
}

static void setup_logging(logging_state_t *ls, bool debug)
{
    if (!ls)
        return;
    span_log_set_message_handler(ls, spandsp_log_to_ours);
    span_log_set_level(ls, debug ? (SPAN_LOG_SHOW_SEVERITY | SPAN_LOG_SHOW_PROTOCOL | SPAN_LOG_FLOW)
                                 : SPAN_LOG_NONE);
}

static void on_phase_e(t30_state_t *t30, void *user_data, int completion_code)
{
    (void)t30;
    fax_session *s = user_data;
    if (s->phase_e_code < 0)
        s->phase_e_code = completion_code;
}

static int on_phase_d(t30_state_t *t30, void *user_data, int result)
{
    fax_session *s = user_data;
    if (s->sending && s->on_page) {
        t30_stats_t st;
        t30_get_transfer_statistics(t30, &st);
        s->on_page(s->on_page_user_data, st.pages_tx);
    }
    (void)result;
    return T30_ERR_OK;
}

static int on_t38_tx(t38_core_state_t *core, void *user_data, const uint8_t *buf, int len, int count)
{
    (void)core;
    fax_session *s = user_data;
    s->t38_tx(s->t38_tx_user_data, buf, len, count);
    return 0;
}

static int configure_t30(fax_session *s, const fax_session_opts *o, char *err, size_t errlen)
{
    t30_state_t *t = s->t30;
    fax_clean_text(o->station_id, s->station_id, FAX_STATION_ID_MAX);
    if (s->station_id[0] && t30_set_tx_ident(t, s->station_id) != 0) {
        str_fmt(err, errlen, "spandsp refused station id \"%s\"", s->station_id);
        return -1;
    }
    t30_set_supported_modems(t, T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
    t30_set_ecm_capability(t, o->ecm);
    t30_set_supported_compressions(t, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION
                                       | (o->ecm ? T30_SUPPORT_T6_COMPRESSION : 0));
    t30_set_supported_resolutions(t, T30_SUPPORT_STANDARD_RESOLUTION | T30_SUPPORT_FINE_RESOLUTION
                                     | T30_SUPPORT_SUPERFINE_RESOLUTION | T30_SUPPORT_R8_RESOLUTION);
    t30_set_supported_image_sizes(t, T30_SUPPORT_215MM_WIDTH | T30_SUPPORT_UNLIMITED_LENGTH
                                     | T30_SUPPORT_A4_LENGTH | T30_SUPPORT_B4_LENGTH
                                     | T30_SUPPORT_US_LETTER_LENGTH | T30_SUPPORT_US_LEGAL_LENGTH);
    t30_set_phase_e_handler(t, on_phase_e, s);
    t30_set_phase_d_handler(t, on_phase_d, s);

    if (s->sending) {
        if (o->header_text)
            fax_clean_text(o->header_text, s->header, FAX_HEADER_MAX);
        else
            fax_default_header(s->station_id, s->header, sizeof(s->header));
        if (s->header[0]) {
            if (t30_set_tx_page_header_info(t, s->header) != 0) {
                str_fmt(err, errlen, "spandsp refused the page header text");
                return -1;
            }
            t30_set_tx_page_header_overlays_image(t, o->header_overlays);
            /* spandsp's own time zone for the header's clock: without one it calls
             * localtime(), which is not thread-safe with several calls at once */
            char tz[64];
            const char *env_tz = settings_os_env("TZ");
            if (!env_tz || !env_tz[0] || t30_set_tx_page_header_tz(t, env_tz) != 0) {
                fixed_offset_tz(tz, sizeof tz);
                t30_set_tx_page_header_tz(t, tz);
            }
        }
        t30_set_tx_file(t, o->tiff_path, -1, -1);
    } else {
        t30_set_rx_file(t, o->tiff_path, -1);
    }
    return 0;
}

fax_session *fax_session_new(const fax_session_opts *o, char *err, size_t errlen)
{
    if (!o || !o->tiff_path || !o->tiff_path[0]) {
        str_fmt(err, errlen, "fax session needs a TIFF path");
        return NULL;
    }
    if (o->transport == FAX_TRANSPORT_T38 && !o->t38_tx) {
        str_fmt(err, errlen, "T.38 fax session needs a packet sender");
        return NULL;
    }
    fax_session *s = calloc(1, sizeof(*s));
    if (!s) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    s->transport = o->transport;
    s->sending = o->sending;
    s->t38_tx = o->t38_tx;
    s->t38_tx_user_data = o->t38_tx_user_data;
    s->on_page = o->on_page;
    s->on_page_user_data = o->on_page_user_data;
    s->phase_e_code = -1;

    if (o->transport == FAX_TRANSPORT_AUDIO) {
        s->audio = fax_init(NULL, o->calling);
        if (!s->audio)
            goto fail_init;
        s->t30 = fax_get_t30_state(s->audio);
        fax_set_transmit_on_idle(s->audio, 1);
        fax_set_tep_mode(s->audio, 0);
        setup_logging(fax_get_logging_state(s->audio), o->debug_log);
    } else {
        s->t38 = t38_terminal_init(NULL, o->calling, on_t38_tx, s);
        if (!s->t38)
            goto fail_init;
        s->t30 = t38_terminal_get_t30_state(s->t38);
        setup_logging(t38_terminal_get_logging_state(s->t38), o->debug_log);
        setup_logging(t38_core_get_logging_state(t38_terminal_get_t38_core_state(s->t38)), o->debug_log);
    }
    setup_logging(t30_get_logging_state(s->t30), o->debug_log);
    if (configure_t30(s, o, err, errlen) != 0) {
        fax_session_free(s);
        return NULL;
    }
    return s;

fail_init:
    str_fmt(err, errlen, "spandsp could not create a %s fax terminal",
            o->transport == FAX_TRANSPORT_AUDIO ? "audio" : "T.38");
    free(s);
    return NULL;
}

void fax_session_free(fax_session *s)
{
    if (!s)
        return;
    if (s->audio)
        fax_free(s->audio);
    if (s->t38)
        t38_terminal_free(s->t38);
    free(s);
}

int fax_session_rx_audio(fax_session *s, int16_t *amp, int len)
{
    if (!s->audio)
        return -1;
    fax_rx(s->audio, amp, len);
    return len;
}

int fax_session_tx_audio(fax_session *s, int16_t *amp, int max_len)
{
    if (!s->audio)
        return -1;
    int n = fax_tx(s->audio, amp, max_len);
    if (n < 0)
        n = 0;
    if (n < max_len)
        memset(amp + n, 0, (size_t)(max_len - n) * sizeof(*amp));
    return max_len;
}

int fax_session_rx_ifp(fax_session *s, const uint8_t *ifp, int len, uint16_t seq_no)
{
    if (!s->t38)
        return -1;
    return t38_core_rx_ifp_packet(t38_terminal_get_t38_core_state(s->t38), ifp, len, seq_no);
}

int fax_session_t38_tick(fax_session *s, int samples)
{
    if (!s->t38)
        return -1;
    return t38_terminal_send_timeout(s->t38, samples);
}

int fax_session_set_t38_params(fax_session *s, const fax_t38_params *p)
{
    if (!s->t38 || p->version < 0 || p->version > 3 || p->max_ifp < 16
        || (p->rate_management != 1 && p->rate_management != 2) || p->max_bitrate < 2400)
        return -1;
    t38_core_state_t *core = t38_terminal_get_t38_core_state(s->t38);
    t38_set_t38_version(core, p->version);
    t38_set_max_datagram_size(core, p->max_ifp);
    t38_set_data_rate_management_method(core, p->rate_management);
    t38_set_fastest_image_data_rate(core, p->max_bitrate > 14400 ? 14400 : p->max_bitrate);
    t38_terminal_set_fill_bit_removal(s->t38, p->fill_bit_removal);
    return 0;
}

bool fax_session_done(const fax_session *s)
{
    return s->phase_e_code >= 0;
}

int fax_session_completion_code(const fax_session *s)
{
    return s->phase_e_code;
}

void fax_session_result(fax_session *s, fax_result *r)
{
    t30_stats_t st;
    memset(&st, 0, sizeof(st));
    t30_get_transfer_statistics(s->t30, &st);

    r->completion_code = s->phase_e_code;
    if (s->phase_e_code >= 0) {
        str_copy(r->completion_text, sizeof(r->completion_text), fax_completion_text(s->phase_e_code));
        r->failure_reason = fax_failure_reason(s->phase_e_code, &r->transient);
    } else {
        str_copy(r->completion_text, sizeof(r->completion_text), "call still in progress");
        r->failure_reason = "line_error";
        r->transient = true;
    }
    r->success = s->phase_e_code == T30_ERR_OK;
    r->pages_sent = st.pages_tx;
    r->pages_received = st.pages_rx;
    r->pages_in_file = st.pages_in_file;
    r->bit_rate = st.bit_rate;
    r->ecm_used = st.error_correcting_mode != 0;
    fax_clean_text(t30_get_rx_ident(s->t30), r->remote_station_id, FAX_STATION_ID_MAX);
}
