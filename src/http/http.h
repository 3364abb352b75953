/* http.h — the HTTP transport: a server on libmicrohttpd with a route table that
 * the api layer hands in. It knows nothing about faxes. Requests arrive at a
 * handler with their body either buffered (small JSON/form bodies) or streamed
 * chunk by chunk (uploads), so a large upload never sits in memory. */
#ifndef FAXBOT_HTTP_H
#define FAXBOT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cidr.h"

typedef struct http_request http_request;     /* opaque, valid during one request */
typedef struct http_stream http_stream;       /* an event stream (http_res_event_stream) */
struct strbuf;

typedef struct http_response {
    int status;                  /* 0 = not set yet */
    char *body;                  /* malloc'd, freed by the server */
    size_t body_len;
    char content_type[64];
    int file_fd;                 /* >= 0: send this file instead of body (server closes it) */
    int64_t file_size;
    char extra_headers[8][2][128]; /* name, value */
    int n_extra_headers;
    /* a streamed body (http_res_stream): produced piece by piece while it is sent */
    int (*stream_next)(void *ctx, struct strbuf *out);
    void *stream_ctx;
    void (*stream_free)(void *ctx);
    http_stream *event_stream;   /* set by http_res_event_stream */
} http_response;

/* ---- request accessors ---- */
const char *http_req_method(const http_request *r);
const char *http_req_path(const http_request *r);          /* decoded path, no query */
const char *http_req_raw_query(const http_request *r);     /* the query exactly as sent, without '?'; "" if none */
const char *http_req_header(const http_request *r, const char *name);  /* case-insensitive; NULL if absent */
const char *http_req_query(const http_request *r, const char *name);   /* decoded; NULL if absent */
const char *http_req_param(const http_request *r, const char *name);   /* "{id}" from the route pattern */
const char *http_req_client_ip(const http_request *r);     /* behind TRUSTED_PROXIES: the forwarded client */
const char *http_req_peer_ip(const http_request *r);       /* the socket's peer address */
/* Buffered body (routes with HTTP_BODY_BUFFER); NUL-terminated; len 0 if none. */
const char *http_req_body(const http_request *r, size_t *len);
/* Per-request slot for the handler's own state (e.g. the authenticated key). */
void http_req_set_user(http_request *r, void *user, void (*free_fn)(void *));
void *http_req_user(const http_request *r);

/* ---- response helpers ---- */
/* Takes ownership of body (malloc'd). */
void http_res_set(http_response *res, int status, const char *content_type, char *body, size_t len);
/* Copies text. */
void http_res_text(http_response *res, int status, const char *content_type, const char *text);
/* {"detail": "<msg>"} with proper JSON escaping. */
void http_res_error(http_response *res, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void http_res_header(http_response *res, const char *name, const char *value);
/* A body of unknown length, sent as it is produced so a large answer is never
 * built whole and the thread sending it serves other connections between pieces:
 * next appends the next piece to out and returns 1 (more follows), 0 (that was the
 * last) or -1 (abort the connection). free_ctx(ctx) runs once, whatever happens. */
void http_res_stream(http_response *res, int status, const char *content_type,
                     int (*next)(void *ctx, struct strbuf *out), void *ctx, void (*free_ctx)(void *ctx));
/* An event stream (Server-Sent Events): unlike http_res_stream, the body is pushed
 * by whatever thread has something to say, whenever it has it. The headers go out
 * when the handler returns; while nothing is queued the connection is suspended
 * (it holds no worker thread). The stream lives until both the server (the
 * connection closed) and the writer (http_stream_release) are done with it. */
http_stream *http_res_event_stream(http_request *req, http_response *res, int status, const char *content_type);
/* Queues bytes and wakes the connection. -1 once the client is gone or the stream
 * is closed, or when the bytes would pass the stream's limit (http_stream_limit,
 * 8 MiB by default): then the slow reader is cut off. */
int http_stream_write(http_stream *s, const char *data, size_t len);
/* Ends the body once the queue has drained. */
void http_stream_close(http_stream *s);
/* True when the client went away (the connection closed). */
bool http_stream_gone(http_stream *s);
/* The writer's reference; every stream from http_res_event_stream is released once. */
void http_stream_release(http_stream *s);
/* Caps what may wait for a slow reader at max bytes (default 8 MiB): a write past it
 * cuts the connection off at once instead of queueing more. The kernel's send
 * buffer of the connection is kept near that size too, so it cannot hide a reader
 * that stopped reading. */
void http_stream_limit(http_stream *s, size_t max);
/* Bytes queued and not yet taken by the connection. */
size_t http_stream_pending(http_stream *s);
/* Ends the connection now, whatever is queued (a reader that fell too far behind). */
void http_stream_abort(http_stream *s);
/* True once the stream was closed, aborted, or the client went away. */
bool http_stream_closed(http_stream *s);
/* Sends the file at fd (takes ownership of fd). */
void http_res_file(http_response *res, int status, const char *content_type, int fd, int64_t size);

/* ---- routes ---- */
typedef enum { HTTP_BODY_NONE = 0, HTTP_BODY_BUFFER, HTTP_BODY_STREAM } http_body_mode;

typedef struct http_route {
    const char *method;          /* "GET", "POST", "DELETE" */
    const char *pattern;         /* "/fax/{id}" — {name} matches one path segment */
    http_body_mode body_mode;
    size_t max_body;             /* HTTP_BODY_BUFFER: larger bodies get 413 */

    /* Called when the headers are in, before any body is read. Set res->status to
     * answer at once (e.g. 401) without reading the body. Optional. */
    void (*on_headers)(http_request *req, http_response *res);
    /* HTTP_BODY_STREAM: each chunk of the raw body. Set res->status to stop reading
     * and answer (e.g. 413). */
    void (*on_body)(http_request *req, const char *data, size_t len, http_response *res);
    /* The body is complete (or there is none): produce the response. */
    void (*handle)(http_request *req, http_response *res);
    /* The answer may be an event stream (GET /events, MCP): it may last for hours
     * and must be exempt from any limit on a whole request's duration.
     * http_res_event_stream on a route without this flag is refused (500). */
    bool long_lived;
} http_route;

typedef struct http_server http_server;

typedef struct http_server_opts {
    const char *host;            /* "127.0.0.1", "::1", "0.0.0.0" */
    int port;                    /* 0 = pick a free port (see http_server_port) */
    int threads;                 /* worker threads (thread pool); 0 = http_default_threads() */
    int connection_timeout_s;    /* idle timeout, the time each request head must arrive in,
                                  * and the grace before min_body_rate applies */
    int request_timeout_s;       /* head and body complete within this; 0 = no limit */
    int min_body_rate;           /* bytes/s a body must average after the grace; 0 = no minimum */
    int max_connections;         /* open connections in all; past it the oldest unfinished
                                  * request is closed, or a 503 when none is; 0 = no cap */
    int max_connections_per_ip;  /* connections one client address may hold (429 past it); 0 = no cap */
    const cidr_list *trusted_proxies; /* peers whose Forwarded / X-Forwarded-For name the client; NULL = none */
    size_t max_header_bytes;     /* request line + headers */
    const http_route *routes;
    int n_routes;
    /* Called for every finished request (metrics, access log without query strings). */
    void (*on_complete)(const http_request *req, int status, double seconds, void *ctx);
    void *ctx;
} http_server_opts;

/* The thread pool size used when opts->threads is 0: from the number of cores. */
unsigned int http_default_threads(void);

http_server *http_server_start(const http_server_opts *opts, char *err, size_t errlen);
int http_server_port(const http_server *s);
void http_server_stop(http_server *s);

/* Matches a path against a route pattern; fills up to max params (name, value)
 * as pointers into the scratch buffer. Pure; exposed for tests. Returns 1 on match. */
int http_route_match(const char *pattern, const char *path, char *scratch, size_t scratch_len,
                     const char *names[], const char *values[], int max, int *n);

/* The client address for a request from peer: when peer is a trusted proxy, the
 * rightmost address of Forwarded (for=) or else X-Forwarded-For that is not itself
 * trusted. Pure; exposed for tests. */
void http_forwarded_client(const char *peer, const char *forwarded, const char *xff, const cidr_list *trusted,
                           char *out, size_t outlen);

/* URL-decodes in place ("%2F" and "+" in queries); returns -1 on a bad escape. */
int http_url_decode(char *s, bool plus_is_space);

#endif
