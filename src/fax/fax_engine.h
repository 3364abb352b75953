/* fax_engine.h — the built-in fax engine on spandsp 0.0.6: one fax session object (a
 * T.30 endpoint over 8 kHz linear audio or over T.38 IFP packets, sending or receiving
 * a TIFF-F), the mapping of spandsp completion codes to the gateway's failure
 * vocabulary, and a back-to-back runner that wires a sender and a receiver together
 * in one process (used by the loopback backend and by tests).
 *
 * Every session owns its own spandsp state, so any number of sessions may run at once
 * on different threads. Nothing here sleeps: time only advances when the caller feeds
 * samples (audio) or calls fax_session_tick (T.38). */
#ifndef FAXBOT_FAX_ENGINE_H
#define FAXBOT_FAX_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAX_STATION_ID_MAX 20      /* T.30 TSI/CSI limit (spandsp T30_MAX_IDENT_LEN) */
#define FAX_HEADER_MAX 50          /* spandsp T30_MAX_PAGE_HEADER_INFO */
#define FAX_SAMPLE_RATE 8000
#define FAX_TICK_SAMPLES 160       /* 20 ms, the step both ends are driven in */
#define FAX_DEFAULT_MAX_LINE_S 1800

typedef enum { FAX_TRANSPORT_AUDIO = 0, FAX_TRANSPORT_T38 = 1 } fax_transport;

/* Outcome of one fax call. Strings are copied in, so the struct is self-contained. */
typedef struct fax_result {
    bool success;
    int completion_code;            /* the deciding T30_ERR_* code (0 = OK) */
    char completion_text[128];      /* t30_completion_code_to_str(), or our own note */
    const char *failure_reason;     /* NULL on success, else a static string: line_error,
                                       no_answer, rejected, file_error */
    bool transient;                 /* worth retrying */
    int pages_sent;                 /* pages the sender had confirmed */
    int pages_received;             /* pages the receiver wrote */
    int pages_in_file;              /* pages in the sender's TIFF (-1 unknown) */
    int bit_rate;                   /* image bit rate negotiated, 0 if none */
    bool ecm_used;
    char remote_station_id[FAX_STATION_ID_MAX + 1];  /* what the sender saw (CSI) */
    char sender_station_id[FAX_STATION_ID_MAX + 1];  /* what the receiver saw (TSI) */
    double line_seconds;            /* simulated call length */
    bool timed_out;                 /* stopped at max_line_seconds */
} fax_result;

/* ---- completion code mapping (fax_result.c) ---- */

/* Failure bucket for a spandsp T30_ERR_* code: NULL for T30_ERR_OK, else one of
 * "line_error", "no_answer", "rejected", "file_error"; *transient says if a retry
 * may help. Unknown codes map to "line_error", transient. */
const char *fax_failure_reason(int completion_code, bool *transient);
/* spandsp's text for a completion code (never NULL). */
const char *fax_completion_text(int completion_code);

/* ---- one session ---- */

typedef struct fax_session fax_session;

/* For T.38 sessions: called with each IFP packet to send (count = how many copies
 * spandsp wants sent for redundancy). Must not call back into the session. */
typedef void (*fax_t38_tx_fn)(void *user_data, const uint8_t *ifp, int len, int count);
/* Called on the sending side after each page the receiver confirmed. */
typedef void (*fax_page_fn)(void *user_data, int pages_sent);

typedef struct fax_session_opts {
    fax_transport transport;
    bool calling;                   /* true = originates the call (CNG), false = answers (CED) */
    bool sending;                   /* true = transmits tiff_path, false = receives into it */
    const char *tiff_path;
    bool ecm;                       /* offer error correction mode (enables T.6 as well) */
    const char *station_id;         /* local TSI/CSI; printable ASCII kept, cut to 20 chars */
    /* Text of the page header the sender stamps on each page (cut to 50 chars). spandsp
     * itself renders "<date> <time>  <text>  <station id>  p.<n>", so the text should not
     * carry page numbers. NULL = default "From <station_id>"; "" = no header line at all. */
    const char *header_text;
    bool header_overlays;           /* header replaces the top rows instead of adding rows */
    fax_t38_tx_fn t38_tx;           /* required for T.38 */
    void *t38_tx_user_data;
    fax_page_fn on_page;            /* optional */
    void *on_page_user_data;
    bool debug_log;                 /* route spandsp's protocol log to log_debug */
} fax_session_opts;

/* Creates a session; NULL with a message in err on bad options or spandsp failure. */
fax_session *fax_session_new(const fax_session_opts *o, char *err, size_t errlen);
void fax_session_free(fax_session *s);

/* Audio: feed received samples / get samples to send (always fills max_len; silence
 * when idle). Return the number of samples consumed/produced, -1 on a T.38 session. */
int fax_session_rx_audio(fax_session *s, int16_t *amp, int len);
int fax_session_tx_audio(fax_session *s, int16_t *amp, int max_len);
/* T.38: deliver one received IFP packet / advance time by `samples` (8 kHz units).
 * Return -1 on an audio session. */
int fax_session_rx_ifp(fax_session *s, const uint8_t *ifp, int len, uint16_t seq_no);
int fax_session_t38_tick(fax_session *s, int samples);

/* T.38 parameters negotiated in SDP (the direct SIP backend): T38FaxVersion 0..3, the
 * largest IFP the transport carries (spandsp sizes its data packets to it),
 * T38FaxRateManagement (1 = localTCF, 2 = transferredTCF), T38MaxBitRate (2400..14400;
 * the fastest image rate offered) and T38FaxFillBitRemoval. -1 on an audio session or
 * an out-of-range value. */
typedef struct fax_t38_params {
    int version;
    int max_ifp;
    int rate_management;
    int max_bitrate;
    bool fill_bit_removal;
} fax_t38_params;
int fax_session_set_t38_params(fax_session *s, const fax_t38_params *p);

/* True once T.30 phase E has been reached (the call is over on this side). */
bool fax_session_done(const fax_session *s);
/* Phase E code (-1 while the call is still running). */
int fax_session_completion_code(const fax_session *s);
/* Fills the per-side fields of r: completion code/text, failure mapping, pages,
 * bit rate, ECM, remote ident. success = done with T30_ERR_OK. */
void fax_session_result(fax_session *s, fax_result *r);

/* Writes the default header text for a station id into out (FAX_HEADER_MAX + 1 bytes). */
void fax_default_header(const char *station_id, char *out, size_t outlen);
/* Copies printable ASCII of in into out, cut to max chars; returns true if anything was
 * dropped or cut. out needs max + 1 bytes. */
bool fax_clean_text(const char *in, char *out, size_t max);

/* ---- back-to-back (fax_loopback.c) ---- */

typedef struct fax_loopback_opts {
    const char *tx_tiff;            /* TIFF-F to send (1728 px wide, R8 std/fine/superfine) */
    const char *rx_tiff;            /* where the receiving end writes */
    fax_transport transport;
    bool ecm;
    /* Audio: white Gaussian noise level in dBm0 added to both directions, -120..0
     * (0 = clean). spandsp 0.0.6 detects signals by energy, so -55 is harmless, about
     * -48 starts to fail and -46 or louder (e.g. -20) breaks every call.
     * T.38: per-packet loss percentage 0..100 (each redundant copy lost independently;
     * 1% already fails some calls, 100% = nobody answers). */
    double impairment;
    uint32_t seed;                  /* makes noise and loss reproducible */
    const char *tx_station_id;      /* sender's TSI */
    const char *rx_station_id;      /* receiver's CSI */
    const char *header_text;        /* as fax_session_opts.header_text */
    int max_line_seconds;           /* simulated-time limit; <= 0 = FAX_DEFAULT_MAX_LINE_S */
    fax_page_fn on_page;            /* optional progress, from the calling thread */
    void *on_page_user_data;
    bool debug_log;
} fax_loopback_opts;

/* Runs a whole call between a sending and a receiving session on the calling thread,
 * as fast as the CPU allows. Returns 0 when the call ran (res says whether it
 * succeeded; success needs both ends at T30_ERR_OK and every page received), -1 with
 * err if it could not start (bad options, out of memory). On failure the decisive code
 * is the sender's, or the receiver's when the sender reported OK. */
int fax_loopback_run(const fax_loopback_opts *o, fax_result *res, char *err, size_t errlen);

#endif
