/* media_engine.h — the real-time media of the direct SIP backend: ONE thread (epoll on
 * every call's UDP socket plus a 20 ms timerfd) drives many fax calls at once. Each
 * call owns a UDP socket from a configured port range (even ports, as RTP wants), a
 * spandsp fax session (src/fax) and the codec of its media: G.711 over RTP with a
 * fixed-delay jitter buffer (rtp.h, jitter.h), or T.38 IFPs over UDPTL (udptl.h).
 * Every tick the engine steps each session 20 ms and sends what it produced;
 * received datagrams are decoded and fed in as they arrive.
 *
 * The SIP side (src/sip) negotiates media with SDP; the glue maps the negotiated SDP
 * to a media_params and hands it here: first media_call_open (a local port for the
 * offer/answer), then media_call_start once the far end's address is known, and
 * media_call_switch_to_t38 when a re-INVITE moves the call to T.38. spandsp 0.0.6 has
 * no way to move a T.30 state from its audio terminal to its T.38 terminal, so a
 * switch starts a new T.38 session, as Asterisk's res_fax does: the switch normally
 * happens on the CNG/CED tones before any page data. */
#ifndef FAXBOT_MEDIA_ENGINE_H
#define FAXBOT_MEDIA_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fax/fax_engine.h"
#include "media/rtp.h"
#include "media/udptl.h"

#define MEDIA_ADDR_MAX 64

typedef enum { MEDIA_KIND_AUDIO = 0, MEDIA_KIND_T38 = 1 } media_kind;

/* What the SDP offer/answer decided for one call's media (filled by the SIP glue). */
typedef struct media_params {
    media_kind kind;
    char remote_addr[MEDIA_ADDR_MAX];   /* numeric IPv4/IPv6 address from c= */
    int remote_port;                    /* from m=; 0 = not known yet (nothing is sent) */
    /* NAT: send to wherever the far end's packets come from (symmetric RTP/UDPTL,
     * "comedia"); otherwise only packets from remote_addr are accepted */
    bool symmetric;
    /* audio */
    media_law law;                      /* PCMU or PCMA */
    int payload_type;                   /* RTP payload type of that codec; -1 = the static one */
    int ptime_ms;                       /* packetization we send: 10..60 in steps of 10; 0 = 20 */
    int jitter_ms;                      /* fixed playout delay; 0 = 60 */
    /* T.38 */
    udptl_config udptl;                 /* T38FaxUdpEC, depth/span/entries, T38FaxMaxDatagram, version */
    int t38_max_bitrate;                /* T38MaxBitRate; 0 = 14400 */
    int t38_rate_management;            /* 1 = localTCF, 2 = transferredTCF (0 = 2) */
    bool t38_fill_bit_removal;
} media_params;

/* Defaults for a kind: PCMU/20 ms/60 ms jitter, or UDPTL redundancy 3 at 400 bytes,
 * version 0, 14400, transferredTCF. The remote address is left empty. */
void media_params_default(media_params *p, media_kind kind);

typedef struct media_engine_opts {
    const char *bind_addr;              /* local address for media sockets; NULL = "0.0.0.0" */
    int port_min, port_max;             /* inclusive range; even ports are used */
    int max_calls;                      /* cap on calls open at once (<= 4096) */
} media_engine_opts;

typedef struct media_engine media_engine;
typedef struct media_call media_call;

/* Called once per call from the engine thread when its fax is over (done, failed or
 * timed out). Runs without the engine's lock: it may call media_call_stop on this
 * call. Never called after media_call_stop has returned. */
typedef void (*media_done_fn)(void *user_data, const fax_result *result);

typedef struct media_call_opts {
    bool calling;                       /* we originate (CNG) or answer (CED) */
    bool sending;                       /* send tiff_path, or receive into it */
    const char *tiff_path;
    bool ecm;
    const char *station_id;
    const char *header_text;            /* as fax_session_opts.header_text */
    int max_seconds;                    /* whole-call limit; <= 0 = FAX_DEFAULT_MAX_LINE_S */
    int rx_timeout_s;                   /* no packet from the far end this long once media
                                           started = call dropped; <= 0 = 60 */
    media_done_fn on_done;
    void *user_data;
    fax_page_fn on_page;                /* optional, engine thread, under the engine lock */
    /* Tests only: drop this percentage of the datagrams we send (each copy
     * independently), reproducibly from loss_seed. */
    double test_tx_loss_pct;
    uint32_t test_loss_seed;
    bool debug_log;
} media_call_opts;

typedef struct media_call_stats {
    unsigned long tx_datagrams, tx_dropped_test, tx_errors;
    unsigned long rx_datagrams, rx_rejected;    /* rejected: wrong source, type or malformed */
    udptl_rx_stats udptl;
    unsigned long jitter_late, jitter_concealed_samples;
    rtp_seq_state rtp;                          /* received RTP: lost, duplicates, reordered */
    int local_port;
    media_kind kind;
    bool running, done;
} media_call_stats;

/* Creates the engine and starts its thread; NULL with err on bad options or when the
 * thread, epoll or timer cannot be created. */
media_engine *media_engine_new(const media_engine_opts *o, char *err, size_t errlen);
/* Stops the thread and closes every call still open (no callbacks). */
void media_engine_free(media_engine *e);
/* Calls open now, and the local ports they hold (ports may be NULL; fills up to max). */
int media_engine_calls(media_engine *e, int *ports, int max);
/* How well the thread kept time: timer periods elapsed; periods it noticed late
 * (run as catch-up steps, up to 10 at once); periods dropped because it stalled longer
 * than that (the calls' line time then falls behind real time). */
typedef struct media_engine_timing_stats {
    unsigned long ticks, late_ticks, lost_ticks;
    double thread_cpu_s;            /* CPU the engine thread has used (its load: / wall time) */
} media_engine_timing_stats;
void media_engine_timing(media_engine *e, media_engine_timing_stats *t);

/* Opens a call: binds a socket on a free even port of the range (for the SDP offer or
 * answer). NULL with err when the cap is reached or no port is free. */
media_call *media_call_open(media_engine *e, const media_call_opts *o, char *err, size_t errlen);
int media_call_local_port(const media_call *c);
/* Starts the fax with the negotiated media. -1 with err on bad parameters or if the
 * call was already started. */
int media_call_start(media_call *c, const media_params *p, char *err, size_t errlen);
/* Changes where media goes (a re-INVITE that moves the far end) without a new session. */
int media_call_update_remote(media_call *c, const char *addr, int port, char *err, size_t errlen);
/* Moves a running audio call to T.38 with these parameters (a new T.38 fax session). */
int media_call_switch_to_t38(media_call *c, const media_params *p, char *err, size_t errlen);
void media_call_get_stats(media_call *c, media_call_stats *st);
/* Ends the call (if running: no result is reported), closes its socket and frees it. */
void media_call_stop(media_call *c);

#endif
