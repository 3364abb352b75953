/* media_internal.h — what the media engine's files share and nobody else sees: one
 * call's state (media_call.c steps it; media_engine.c owns the thread, the table and
 * the locking) and the socket helpers of media_port.c. */
#ifndef FAXBOT_MEDIA_INTERNAL_H
#define FAXBOT_MEDIA_INTERNAL_H

#include <limits.h>
#include <sys/socket.h>

#include "media/jitter.h"
#include "media/media_engine.h"

#define MEDIA_TICK_MS 20
#define MEDIA_MAX_PTIME 60

typedef enum { CALL_OPEN = 0, CALL_RUNNING, CALL_DONE } call_state;

struct media_call {
    media_engine *engine;
    uint64_t id;                    /* table slot + generation, what epoll carries */
    int fd, local_port;
    media_call_opts opts;           /* strings below are our own copies */
    char tiff_path[PATH_MAX];
    char station_id[FAX_STATION_ID_MAX + 1];
    char header_text[FAX_HEADER_MAX + 1];
    bool has_header_text;
    media_params params;
    struct sockaddr_storage remote;
    socklen_t remote_len;           /* 0 = nowhere to send yet */
    call_state state;
    fax_session *fax;
    long ticks, last_rx_tick;
    /* audio */
    jitter_buf *jb;
    int16_t last_frame[FAX_TICK_SAMPLES];   /* the last frame that arrived whole */
    int lost_run;                   /* whole frames lost in a row (concealed up to 3) */
    uint32_t rtp_ssrc, rtp_ts;
    uint16_t rtp_seq;
    bool rtp_marker_sent;
    rtp_seq_state rtp_rx;
    int16_t tx_acc[MEDIA_MAX_PTIME * 8 + 160];
    int tx_acc_n;
    /* T.38 */
    udptl_tx *utx;
    udptl_rx *urx;
    uint32_t loss_rng;
    media_call_stats st;
    fax_result result;
};

/* media_call.c */
int media_call_begin(media_call *c, const media_params *p, char *err, size_t errlen);
/* One 20 ms step; returns true when the call has just ended (c->result filled). */
bool media_call_tick(media_call *c);
/* Reads every datagram waiting on the socket and feeds it in. */
void media_call_readable(media_call *c);
/* Frees the fax session and codec state (not the socket). */
void media_call_release(media_call *c);
int media_params_check(const media_params *p, char *err, size_t errlen);

/* media_port.c */
int media_resolve(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len, char *err,
                  size_t errlen);
/* Binds a non-blocking UDP socket on the first free even port from *cursor on,
 * wrapping within [min, max]; returns the fd (and *port, *cursor moved past it), -1
 * with err when every even port of the range is taken. */
int media_socket_open(const char *bind_addr, int port_min, int port_max, int *cursor, int *port, char *err,
                      size_t errlen);
bool media_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

#endif
