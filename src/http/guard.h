/* guard.h — the connection guard in front of libmicrohttpd (internal to http/).
 * It owns the listening socket: accepts every connection at once, enforces the
 * global and per-address connection limits with a prompt JSON answer, waits for
 * each request head without reading it (MSG_PEEK), validates it strictly
 * (head_check.h) and answers bad ones itself, and only then hands the socket to
 * libmicrohttpd. It also keeps the deadlines of every connection: the head within
 * head_timeout_s, the body at min_body_rate bytes/s after that grace, the whole
 * request within request_timeout_s. */
#ifndef FAXBOT_HTTP_GUARD_H
#define FAXBOT_HTTP_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct http_guard http_guard;
typedef struct http_conn http_conn;

typedef struct http_guard_opts {
    const struct sockaddr *addr;         /* where to listen */
    socklen_t addr_len;
    int head_timeout_s;                  /* request head complete within this */
    int request_timeout_s;               /* head + body complete within this; 0 = none */
    int min_body_rate;                   /* bytes/s a body must average after head_timeout_s; 0 = none */
    int max_connections;                 /* all open connections; 0 = no cap */
    int max_per_ip;                      /* per client address; 0 = no cap */
    size_t max_head;                     /* request line + headers */
    /* Hands a validated connection over (libmicrohttpd). Returns 0, or -1 when it
     * was refused (the callee has closed fd then). */
    int (*hand_off)(void *ctx, int fd, const struct sockaddr *sa, socklen_t len);
    void *ctx;
    /* Set to the guard before its thread starts, so that code reached through
     * hand_off already sees it (NULL = not needed). */
    struct http_guard **publish;
} http_guard_opts;

http_guard *guard_start(const http_guard_opts *opts, char *err, size_t errlen);
int guard_port(const http_guard *g);
/* Stops accepting and closes connections not yet handed over. */
void guard_stop(http_guard *g);
/* Frees it, once libmicrohttpd has stopped (every handed-over connection detached). */
void guard_free(http_guard *g);

/* From libmicrohttpd's connection notifications: the handed-over connection with
 * this socket (NULL if unknown), and its end. */
http_conn *guard_attach(http_guard *g, int fd);
void guard_detach(http_guard *g, http_conn *c);
/* The request's body has been read completely (the body-rate rules end here). */
void guard_body_done(http_guard *g, http_conn *c);
/* Counts received body bytes for the minimum body rate. */
void guard_body_bytes(http_conn *c, size_t n);

/* relay.c: a thread passes a chunked request from client_fd through a socket pair,
 * checking the body's framing; *mhd_fd is the end for libmicrohttpd. The thread
 * owns client_fd from then on. Returns 0, or -1 (nothing started, client_fd kept). */
int guard_relay_start(int client_fd, size_t head_len, int io_timeout_s, int *mhd_fd);

/* "HTTP/1.1 <status> ..." with {"detail": msg} and Connection: close, for answers
 * written straight to a socket. Returns its length (0 if it did not fit). */
size_t guard_format_error(char *out, size_t outlen, int status, const char *msg);

#endif
