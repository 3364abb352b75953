/* server.c — the HTTP server of the transport layer, on libmicrohttpd. It owns the
 * request lifecycle: picks the route (404/405), runs the route's on_headers hook,
 * buffers small bodies or streams large ones to on_body, calls handle, queues the
 * response (memory body or file), and on completion frees everything and reports
 * (status, duration) to opts->on_complete. The api layer supplies the routes; this
 * file knows nothing about faxes. Query strings are never logged.
 *
 * The listening socket belongs to the connection guard (guard.c): it validates each
 * request head before libmicrohttpd parses it, answers malformed ones itself, and
 * keeps every connection's deadlines. Every response here carries "Connection:
 * close", so libmicrohttpd parses exactly one, already judged, request per
 * connection and never answers for us with its own (HTML) error pages.
 *
 * Event streams (SSE): the body comes from a queue that other threads fill
 * (http_stream_write); while it is empty the connection is suspended, so an open
 * stream holds no worker thread. */
#include "http/http.h"
#include "http/guard.h"
#include "util/util.h"

#include <microhttpd.h>
#include <jansson.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HTTP_MAX_PARAMS 8
/* After an early answer (413, 401...) arrives mid-body, the rest of the body is
 * read and dropped so the client gets the answer; past this many bytes the
 * connection is closed instead. */
#define HTTP_DISCARD_MAX ((uint64_t)16 * 1024 * 1024)

struct http_stream {
    pthread_mutex_t lock;
    int refs;                    /* the writer's and the server's */
    http_server *srv;
    struct MHD_Connection *conn;
    strbuf queue;                /* bytes not yet sent start at queue.data + sent */
    size_t sent;
    bool closed;                 /* the writer is done: end the body once drained */
    bool gone;                   /* the connection is finished with the stream */
    bool suspended;
    bool aborted;                /* cut off: end the connection without draining */
    size_t max;                  /* queue cap (http_stream_limit) */
    bool listed;                 /* in srv->streams */
    struct http_stream *prev, *next;
};

/* Bytes a stream may hold for a slow reader, beyond the one write in progress. */
#define HTTP_STREAM_QUEUE_MAX ((size_t)8 * 1024 * 1024)

struct http_server {
    struct MHD_Daemon *daemon;
    pthread_mutex_t stream_lock; /* the open event streams, to end them at stop */
    http_stream *streams;
    http_server_opts opts;
    size_t max_pattern_len;
    int port;
    http_guard *guard;
    cidr_list trusted;           /* TRUSTED_PROXIES */
};

/* What the URI log callback hands over before a request exists: the raw query
 * string, kept byte for byte (signatures of provider callbacks cover it). The tag
 * tells it apart from an http_request in *con_cls. */
typedef struct pending_uri {
    int tag;                     /* 0 */
    bool nul_in_path;            /* "%00" in the path: decoding would cut it short there */
    char query[];
} pending_uri;

struct http_request {
    int tag;                     /* 1 */
    char *raw_query;             /* as sent, without '?'; "" if none */
    http_server *srv;
    struct MHD_Connection *conn;
    const http_route *route;
    const char *method;          /* MHD's strings, valid for the whole request */
    const char *path;
    struct timespec started;
    int n_params;
    const char *param_names[HTTP_MAX_PARAMS];
    const char *param_values[HTTP_MAX_PARAMS];
    http_response res;
    strbuf body;                 /* HTTP_BODY_BUFFER */
    bool answered;               /* res holds the final answer; ignore further body */
    bool queued;                 /* a response was handed to MHD */
    uint64_t discarded;
    int status_sent;
    void *user;
    void (*user_free)(void *);
    char peer_ip[INET6_ADDRSTRLEN];
    char client_ip[INET6_ADDRSTRLEN];
    size_t scratch_len;
    char scratch[];              /* route params: names and values */
};

/* ---- request accessors ---- */

const char *http_req_method(const http_request *r) { return r ? r->method : NULL; }
const char *http_req_path(const http_request *r) { return r ? r->path : NULL; }
const char *http_req_raw_query(const http_request *r) { return r && r->raw_query ? r->raw_query : ""; }

const char *http_req_header(const http_request *r, const char *name)
{
    if (!r || !name)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_req_query(const http_request *r, const char *name)
{
    if (!r || !name)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_param(const http_request *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (int i = 0; i < r->n_params; i++)
        if (strcmp(r->param_names[i], name) == 0)
            return r->param_values[i];
    return NULL;
}

const char *http_req_peer_ip(const http_request *r)
{
    if (!r)
        return NULL;
    http_request *w = (http_request *)r;    /* formatted lazily, cached */
    if (w->peer_ip[0])
        return w->peer_ip;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const char *ok = NULL;
    if (sa && sa->sa_family == AF_INET)
        ok = inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                       w->peer_ip, sizeof w->peer_ip);
    else if (sa && sa->sa_family == AF_INET6)
        ok = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                       w->peer_ip, sizeof w->peer_ip);
    if (!ok)
        str_copy(w->peer_ip, sizeof w->peer_ip, "unknown");
    return w->peer_ip;
}

const char *http_req_client_ip(const http_request *r)
{
    if (!r)
        return NULL;
    http_request *w = (http_request *)r;
    if (!w->client_ip[0])
        http_forwarded_client(http_req_peer_ip(r), http_req_header(r, "Forwarded"),
                              http_req_header(r, "X-Forwarded-For"), &r->srv->trusted, w->client_ip,
                              sizeof w->client_ip);
    return w->client_ip;
}

const char *http_req_body(const http_request *r, size_t *len)
{
    if (len)
        *len = r && r->body.data ? r->body.len : 0;
    if (!r || !r->body.data)
        return "";
    return r->body.data;
}

void http_req_set_user(http_request *r, void *user, void (*free_fn)(void *))
{
    if (!r)
        return;
    if (r->user_free && r->user && r->user != user)
        r->user_free(r->user);
    r->user = user;
    r->user_free = free_fn;
}

void *http_req_user(const http_request *r) { return r ? r->user : NULL; }

/* ---- response helpers ---- */

static void stream_server_drop(http_stream *st);

static void res_clear_payload(http_response *res)
{
    if (res->event_stream) {
        stream_server_drop(res->event_stream);    /* never attached to the connection */
        res->event_stream = NULL;
    }
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    if (res->file_fd >= 0)
        close(res->file_fd);
    res->file_fd = -1;
    res->file_size = 0;
    if (res->stream_free && res->stream_ctx)
        res->stream_free(res->stream_ctx);
    res->stream_next = NULL;
    res->stream_ctx = NULL;
    res->stream_free = NULL;
}

/* A new payload for res: the old one released, this status and content type. */
static void res_begin(http_response *res, int status, const char *content_type)
{
    res_clear_payload(res);
    res->status = status;
    str_copy(res->content_type, sizeof res->content_type, content_type ? content_type : "");
}

void http_res_set(http_response *res, int status, const char *content_type, char *body, size_t len)
{
    if (!res) {
        free(body);
        return;
    }
    res_begin(res, status, content_type);
    res->body = body;
    res->body_len = body ? len : 0;
}

void http_res_text(http_response *res, int status, const char *content_type, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    char *copy = malloc(len + 1);
    if (copy) {
        if (len)
            memcpy(copy, text, len);
        copy[len] = '\0';
    }
    http_res_set(res, status, content_type, copy, copy ? len : 0);
}

/* {"detail": msg} as compact JSON; bytes that are not valid UTF-8 become '?'. */
static char *error_json(const char *msg)
{
    json_t *obj = json_pack("{s:s}", "detail", msg);
    if (!obj) {
        char *clean = strdup(msg);
        if (!clean)
            return NULL;
        for (char *c = clean; *c; c++)
            if ((unsigned char)*c >= 0x80)
                *c = '?';
        obj = json_pack("{s:s}", "detail", clean);
        free(clean);
        if (!obj)
            return NULL;
    }
    char *out = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return out;
}

void http_res_error(http_response *res, int status, const char *fmt, ...)
{
    if (!res)
        return;
    char stackbuf[256];
    char *msg = stackbuf;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stackbuf, sizeof stackbuf, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof stackbuf) {
        char *big = malloc((size_t)n + 1);
        if (big) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            msg = big;
        }
    } else if (n < 0) {
        str_copy(stackbuf, sizeof stackbuf, "error");
    }
    char *json = error_json(msg);
    if (msg != stackbuf)
        free(msg);
    if (json)
        http_res_set(res, status, "application/json", json, strlen(json));
    else
        http_res_text(res, status, "application/json", "{\"detail\":\"error\"}");
    /* 503 always means "try again shortly" here (a database restarting, a full
     * pool): say when; a handler that knows better sets its own after this. */
    if (status == 503)
        http_res_header(res, "Retry-After", "1");
}

void http_res_header(http_response *res, const char *name, const char *value)
{
    if (!res || !name || !value)
        return;
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
        log_warn("http: refusing response header with CR/LF or ':' in its name or value");
        return;
    }
    for (int i = 0; i < res->n_extra_headers; i++)
        if (!strcasecmp(res->extra_headers[i][0], name)) {      /* a second value replaces the first */
            if (str_copy(res->extra_headers[i][1], sizeof res->extra_headers[i][1], value) != 0)
                log_warn("http: response header '%.64s' is longer than 127 bytes, dropped", name);
            return;
        }
    if (res->n_extra_headers >= (int)(sizeof res->extra_headers / sizeof res->extra_headers[0])) {
        log_warn("http: too many response headers, dropping '%s'", name);
        return;
    }
    int i = res->n_extra_headers;
    if (str_copy(res->extra_headers[i][0], sizeof res->extra_headers[i][0], name) != 0 ||
        str_copy(res->extra_headers[i][1], sizeof res->extra_headers[i][1], value) != 0) {
        log_warn("http: response header '%.64s' is longer than 127 bytes, dropped", name);
        return;
    }
    res->n_extra_headers++;
}

void http_res_stream(http_response *res, int status, const char *content_type,
                     int (*next)(void *ctx, strbuf *out), void *ctx, void (*free_ctx)(void *ctx))
{
    if (!res || !next) {
        if (free_ctx && ctx)
            free_ctx(ctx);
        return;
    }
    res_begin(res, status, content_type);
    res->stream_next = next;
    res->stream_ctx = ctx;
    res->stream_free = free_ctx;
}

/* libmicrohttpd pulls a streamed body through this, a block at a time. */
typedef struct body_stream {
    int (*next)(void *ctx, strbuf *out);
    void *ctx;
    void (*free_ctx)(void *ctx);
    strbuf piece;
    size_t sent;                 /* of piece */
    bool last;                   /* piece is the final one */
} body_stream;

static ssize_t body_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    body_stream *bs = cls;
    while (bs->sent >= bs->piece.len) {
        if (bs->last)
            return MHD_CONTENT_READER_END_OF_STREAM;
        bs->piece.len = 0;
        bs->sent = 0;
        int rc = bs->next(bs->ctx, &bs->piece);
        if (rc < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        bs->last = rc == 0;
    }
    size_t n = bs->piece.len - bs->sent;
    if (n > max)
        n = max;
    memcpy(buf, bs->piece.data + bs->sent, n);
    bs->sent += n;
    return (ssize_t)n;
}

static void body_stream_free(void *cls)
{
    body_stream *bs = cls;
    if (bs->free_ctx && bs->ctx)
        bs->free_ctx(bs->ctx);
    sb_free(&bs->piece);
    free(bs);
}

void http_res_file(http_response *res, int status, const char *content_type, int fd, int64_t size)
{
    if (!res) {
        if (fd >= 0)
            close(fd);
        return;
    }
    res_begin(res, status, content_type);
    res->file_fd = fd;
    struct stat st;
    if (size < 0 && fd >= 0 && fstat(fd, &st) == 0)
        size = st.st_size;
    res->file_size = size < 0 ? 0 : size;
}

/* ---- event streams ---- */

static void stream_unref(http_stream *st)
{
    pthread_mutex_lock(&st->lock);
    int left = --st->refs;
    pthread_mutex_unlock(&st->lock);
    if (left > 0)
        return;
    sb_free(&st->queue);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static void stream_unlist(http_stream *st)
{
    http_server *srv = st->srv;
    pthread_mutex_lock(&srv->stream_lock);
    if (st->listed) {
        if (st->prev)
            st->prev->next = st->next;
        else
            srv->streams = st->next;
        if (st->next)
            st->next->prev = st->prev;
        st->listed = false;
    }
    pthread_mutex_unlock(&srv->stream_lock);
}

/* The connection is done with the stream (or never took it). */
static void stream_server_drop(http_stream *st)
{
    pthread_mutex_lock(&st->lock);
    st->gone = true;
    st->conn = NULL;
    pthread_mutex_unlock(&st->lock);
    stream_unlist(st);
    stream_unref(st);
}

static void stream_free_cb(void *cls)
{
    stream_server_drop(cls);
}

static ssize_t stream_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_stream *st = cls;
    pthread_mutex_lock(&st->lock);
    size_t avail = st->aborted ? 0 : st->queue.len - st->sent;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, st->queue.data + st->sent, n);
        st->sent += n;
        if (st->sent == st->queue.len)
            st->queue.len = st->sent = 0;
        pthread_mutex_unlock(&st->lock);
        return (ssize_t)n;
    }
    if (st->aborted) {
        pthread_mutex_unlock(&st->lock);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (st->closed || !st->conn) {
        pthread_mutex_unlock(&st->lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    /* nothing to send: park the connection until a write (or the end) wakes it */
    st->suspended = true;
    MHD_suspend_connection(st->conn);
    pthread_mutex_unlock(&st->lock);
    return 0;
}

/* With st->lock held. */
static void stream_wake_locked(http_stream *st)
{
    if (st->suspended && st->conn) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
}

http_stream *http_res_event_stream(http_request *req, http_response *res, int status, const char *content_type)
{
    if (!req || !res)
        return NULL;
    http_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    pthread_mutex_init(&st->lock, NULL);
    st->refs = 2;
    st->max = HTTP_STREAM_QUEUE_MAX;
    st->srv = req->srv;
    st->conn = req->conn;
    sb_init(&st->queue);
    res_begin(res, status, content_type);
    res->event_stream = st;
    pthread_mutex_lock(&req->srv->stream_lock);
    st->next = req->srv->streams;
    if (st->next)
        st->next->prev = st;
    req->srv->streams = st;
    st->listed = true;
    pthread_mutex_unlock(&req->srv->stream_lock);
    return st;
}

int http_stream_write(http_stream *st, const char *data, size_t len)
{
    if (!st)
        return -1;
    pthread_mutex_lock(&st->lock);
    int rc = -1;
    if (!st->gone && !st->closed && st->queue.len - st->sent + len > st->max) {
        st->aborted = st->closed = true;        /* too far behind: cut off, not buffered */
        stream_wake_locked(st);
    } else if (!st->gone && !st->closed) {
        if (st->sent && st->sent == st->queue.len)
            st->queue.len = st->sent = 0;
        rc = sb_append(&st->queue, data, len) == 0 ? 0 : -1;
        stream_wake_locked(st);
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

void http_stream_close(http_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->closed = true;
    stream_wake_locked(st);
    pthread_mutex_unlock(&st->lock);
}

void http_stream_limit(http_stream *st, size_t max)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->max = max ? max : HTTP_STREAM_QUEUE_MAX;
    const union MHD_ConnectionInfo *ci =
        st->conn ? MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
    if (ci) {
        int sndbuf = st->max < 16384 ? 16384 : st->max > (1 << 20) ? (1 << 20) : (int)st->max;
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    pthread_mutex_unlock(&st->lock);
}

size_t http_stream_pending(http_stream *st)
{
    if (!st)
        return 0;
    pthread_mutex_lock(&st->lock);
    size_t n = st->queue.len - st->sent;
    pthread_mutex_unlock(&st->lock);
    return n;
}

void http_stream_abort(http_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->aborted = st->closed = true;
    stream_wake_locked(st);
    pthread_mutex_unlock(&st->lock);
}

bool http_stream_closed(http_stream *st)
{
    if (!st)
        return true;
    pthread_mutex_lock(&st->lock);
    bool c = st->closed || st->gone;
    pthread_mutex_unlock(&st->lock);
    return c;
}

bool http_stream_gone(http_stream *st)
{
    if (!st)
        return true;
    pthread_mutex_lock(&st->lock);
    bool g = st->gone;
    pthread_mutex_unlock(&st->lock);
    return g;
}

void http_stream_release(http_stream *st)
{
    if (st)
        stream_unref(st);
}

/* At stop: end every stream and wake the parked ones, so no connection stays suspended. */
static void streams_end_all(http_server *srv)
{
    pthread_mutex_lock(&srv->stream_lock);
    for (http_stream *st = srv->streams; st; st = st->next)
        http_stream_close(st);
    pthread_mutex_unlock(&srv->stream_lock);
}

/* ---- request lifecycle ---- */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- the guard's view of libmicrohttpd's connections ---- */

static http_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* libmicrohttpd calls this when a connection opens and before it closes its socket. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? guard_attach(srv->guard, ci->connect_fd) : NULL;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        guard_detach(srv->guard, *socket_context);
        *socket_context = NULL;
    }
}

/* The guard's hand-off: a connection whose request head it has judged. */
static int add_connection(void *ctx, int fd, const struct sockaddr *sa, socklen_t len)
{
    http_server *srv = ctx;
    return MHD_add_connection(srv->daemon, fd, sa, len) == MHD_YES ? 0 : -1;
}

/* Allocates the request and picks its route; route stays NULL with a 404/405 answer. */
static http_request *request_new(http_server *srv, struct MHD_Connection *conn,
                                 const char *url, const char *method)
{
    size_t scratch_len = strlen(url) + srv->max_pattern_len + 2 * HTTP_MAX_PARAMS + 2;
    http_request *r = calloc(1, sizeof *r + scratch_len);
    if (!r)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &r->started);
    r->tag = 1;
    r->srv = srv;
    r->conn = conn;
    r->method = method;
    r->path = url;
    r->res.file_fd = -1;
    r->scratch_len = scratch_len;
    bool path_matched = false;
    for (int i = 0; i < srv->opts.n_routes; i++) {
        const http_route *rt = &srv->opts.routes[i];
        int n = 0;
        if (!http_route_match(rt->pattern, url, r->scratch, r->scratch_len,
                              r->param_names, r->param_values, HTTP_MAX_PARAMS, &n))
            continue;
        if (strcmp(rt->method, method) != 0) {
            path_matched = true;
            continue;
        }
        r->route = rt;
        r->n_params = n;
        return r;
    }
    r->n_params = 0;
    if (path_matched) {
        http_res_error(&r->res, 405, "Method not allowed");
        /* Allow: every method whose pattern matches this path */
        char allow[96] = "";
        size_t used = 0;
        for (int i = 0; i < srv->opts.n_routes; i++) {
            const http_route *rt = &srv->opts.routes[i];
            if (!http_route_match(rt->pattern, url, r->scratch, r->scratch_len,
                                  r->param_names, r->param_values, HTTP_MAX_PARAMS, NULL))
                continue;
            if (strstr(allow, rt->method))
                continue;
            int w = snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "", rt->method);
            if (w < 0 || (size_t)w >= sizeof allow - used)
                break;
            used += (size_t)w;
        }
        if (used)
            http_res_header(&r->res, "Allow", allow);
    } else {
        http_res_error(&r->res, 404, "Not Found");
    }
    r->answered = true;
    return r;
}

static enum MHD_Result queue_answer(http_request *r)
{
    http_response *res = &r->res;
    if (res->status < 100 || res->status > 599) {
        if (res->status != 0)
            log_error("http: %s %s: handler set invalid status %d", r->method, r->path, res->status);
        http_res_error(res, 500, "Internal error: handler produced no response");
    }
    struct MHD_Response *mr;
    if (res->event_stream && !(r->route && r->route->long_lived)) {
        log_error("http: %s %s: an event stream on a route not marked long_lived", r->method, r->path);
        http_res_error(res, 500, "Internal error: this route cannot stream");
    }
    if (res->event_stream) {
        http_stream *st = res->event_stream;
        mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read_cb, st, stream_free_cb);
        if (mr)
            res->event_stream = NULL;    /* the response owns the server's reference now */
    } else if (res->stream_next) {
        body_stream *bs = calloc(1, sizeof *bs);
        mr = bs ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, body_stream_read, bs,
                                                    body_stream_free)
                : NULL;
        if (mr) {                /* the stream's state is MHD's now */
            bs->next = res->stream_next;
            bs->ctx = res->stream_ctx;
            bs->free_ctx = res->stream_free;
            sb_init(&bs->piece);
            res->stream_next = NULL;
            res->stream_ctx = NULL;
            res->stream_free = NULL;
        } else {
            free(bs);
        }
    } else if (res->file_fd >= 0) {
        mr = MHD_create_response_from_fd64((uint64_t)res->file_size, res->file_fd);
        if (mr)
            res->file_fd = -1;   /* MHD closes it */
    } else {
        mr = MHD_create_response_from_buffer(res->body_len, res->body_len ? res->body : (void *)"",
                                             res->body_len ? MHD_RESPMEM_MUST_FREE
                                                           : MHD_RESPMEM_PERSISTENT);
        if (mr && res->body_len)
            res->body = NULL;    /* MHD frees it */
    }
    if (!mr) {
        log_error("http: out of memory building a response");
        return MHD_NO;
    }
    if (res->content_type[0])
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    /* one request per connection: every request is judged by the guard first */
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    for (int i = 0; i < res->n_extra_headers && i < 8; i++)
        MHD_add_response_header(mr, res->extra_headers[i][0], res->extra_headers[i][1]);
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned int)res->status, mr);
    MHD_destroy_response(mr);
    if (ok == MHD_YES) {
        r->queued = true;
        r->status_sent = res->status;
    } else {
        log_error("http: %s %s: could not queue the %d response", r->method, r->path, res->status);
    }
    return ok;
}

static bool parse_content_length(struct MHD_Connection *conn, uint64_t *out)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    char *end;
    unsigned long long v = strtoull(cl, &end, 10);
    if (end == cl)
        return false;
    *out = v;
    return true;
}

static bool request_has_body(struct MHD_Connection *conn)
{
    uint64_t cl = 0;
    if (parse_content_length(conn, &cl) && cl > 0)
        return true;
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The handler's work once the whole body is in. */
static void run_handler(http_request *r)
{
    if (r->route->handle)
        r->route->handle(r, &r->res);
    r->answered = true;
}

/* An answer decided before the body was read (first call). When a body follows it
 * is queued now, so the body is never read: libmicrohttpd closes the connection
 * after the answer. A request without a body is answered on the next call. */
static enum MHD_Result answer_early(http_request *r)
{
    r->answered = true;
    if (request_has_body(r->conn))
        return queue_answer(r);
    return MHD_YES;
}

struct header_sum {
    size_t bytes;
};

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct header_sum *sum = cls;
    sum->bytes += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* Approximate size of the request line and headers as sent. */
static size_t request_head_size(struct MHD_Connection *conn, const char *url, const char *method)
{
    struct header_sum sum = {strlen(method) + strlen(url) + 12};
    MHD_get_connection_values(conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, add_header_size, &sum);
    return sum.bytes;
}

static enum MHD_Result on_first_call(http_server *srv, struct MHD_Connection *conn,
                                     const char *url, const char *method, void **con_cls)
{
    pending_uri *pending = *con_cls;
    http_request *r = request_new(srv, conn, url, method);
    if (!r) {
        free(pending);
        *con_cls = NULL;
        return MHD_NO;
    }
    r->raw_query = pending ? strdup(pending->query) : NULL;
    bool nul_in_path = pending && pending->nul_in_path;
    free(pending);
    *con_cls = r;
    if (nul_in_path) {           /* the decoded path would be another, shorter one */
        r->route = NULL;
        r->n_params = 0;
        r->res.n_extra_headers = 0;
        http_res_error(&r->res, 400, "The request path contains an encoded NUL byte (%%00)");
        return answer_early(r);
    }
    if (srv->opts.max_header_bytes > 0 &&
        request_head_size(conn, url, method) > srv->opts.max_header_bytes) {
        r->route = NULL;
        r->n_params = 0;
        r->res.n_extra_headers = 0;
        http_res_error(&r->res, 431, "Request headers too large");
        return answer_early(r);
    }
    if (r->answered)
        return answer_early(r);
    const http_route *rt = r->route;
    if (rt->body_mode == HTTP_BODY_NONE && request_has_body(conn)) {
        http_res_error(&r->res, 413, "%s %s takes no request body", method, rt->pattern);
        return answer_early(r);
    }
    if (rt->on_headers) {
        rt->on_headers(r, &r->res);
        if (r->res.status)
            return answer_early(r);
    }
    uint64_t cl = 0;
    bool have_cl = parse_content_length(conn, &cl);
    if (rt->body_mode == HTTP_BODY_BUFFER && have_cl && cl > rt->max_body) {
        http_res_error(&r->res, 413, "Request body too large");
        return answer_early(r);
    }
    return MHD_YES;            /* the handler runs once the body (if any) is in */
}

static enum MHD_Result on_body_chunk(http_request *r, const char *data, size_t len)
{
    if (r->answered || r->route->body_mode == HTTP_BODY_NONE) {
        /* after an early answer, or a body this route does not take: read and drop */
        r->discarded += len;
        if (r->discarded > HTTP_DISCARD_MAX) {
            log_warn("http: %s %s: dropping the connection after discarding %llu body bytes",
                     r->method, r->path, (unsigned long long)r->discarded);
            return MHD_NO;
        }
        return MHD_YES;
    }
    const http_route *rt = r->route;
    switch (rt->body_mode) {
    case HTTP_BODY_BUFFER:
        if (r->body.len + len > rt->max_body) {
            sb_free(&r->body);
            http_res_error(&r->res, 413, "Request body too large");
            r->answered = true;
            r->discarded += len;
        } else if (sb_append(&r->body, data, len) != 0) {
            sb_free(&r->body);
            http_res_error(&r->res, 500, "Internal error: out of memory");
            r->answered = true;
        }
        break;
    case HTTP_BODY_STREAM:
        if (rt->on_body) {
            rt->on_body(r, data, len, &r->res);
            if (r->res.status)
                r->answered = true;
        }
        break;
    case HTTP_BODY_NONE:
    default:
        break;
    }
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    http_server *srv = cls;
    http_request *r = *con_cls;
    if (!r || r->tag == 0)
        return on_first_call(srv, conn, url, method, con_cls);
    if (*upload_data_size > 0) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        guard_body_bytes(conn_of(conn), len);
        if (r->queued)
            return MHD_YES;
        return on_body_chunk(r, upload_data, len);
    }
    if (r->queued)
        return MHD_YES;
    guard_body_done(srv->guard, conn_of(conn));
    if (!r->answered)
        run_handler(r);
    return queue_answer(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *srv = cls;
    http_request *r = *con_cls;
    (void)conn;
    if (!r)
        return;
    *con_cls = NULL;
    if (r->tag == 0) {           /* the request never got as far as our handler */
        free(r);
        return;
    }
    if (srv->opts.on_complete)
        srv->opts.on_complete(r, r->status_sent, seconds_since(&r->started), srv->opts.ctx);
    if (r->user_free && r->user)
        r->user_free(r->user);
    r->user = NULL;
    r->user_free = NULL;
    res_clear_payload(&r->res);
    sb_free(&r->body);
    free(r->raw_query);
    free(r);
}

/* Called by libmicrohttpd with the request URI exactly as sent, before it decodes it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    const char *q = uri ? strchr(uri, '?') : NULL;
    q = q ? q + 1 : "";
    size_t n = strlen(q);
    pending_uri *p = malloc(sizeof *p + n + 1);
    if (!p)
        return NULL;
    p->tag = 0;
    p->nul_in_path = false;
    for (const char *c = uri; c && *c && *c != '?'; c++)
        if (c[0] == '%' && c[1] == '0' && c[2] == '0')
            p->nul_in_path = true;
    memcpy(p->query, q, n + 1);
    return p;
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fm, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fm, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_debug("microhttpd: %s", buf);
}

/* ---- start / stop ---- */

unsigned int http_default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    long n = cores * 4;          /* handlers block on the database and disk, not only CPU */
    return (unsigned int)(n < 8 ? 8 : n > 64 ? 64 : n);
}

/* Every connection is a descriptor: make sure max_connections of them fit. */
static void raise_fd_limit(int max_connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)(max_connections > 0 ? max_connections : 4096) + 256;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        log_warn("http: the open-file limit (%llu) is below FAXBOT_MAX_CONNECTIONS + 256; "
                 "raise it (ulimit -n) or lower FAXBOT_MAX_CONNECTIONS", (unsigned long long)rl.rlim_cur);
}

/* Parses "127.0.0.1", "::1", "[::1]", "0.0.0.0", "::" or a host name into addr. */
static int resolve_host(const char *host, int port, struct sockaddr_storage *addr, socklen_t *alen,
                        char *err, size_t errlen)
{
    char h[256];
    if (!host || !*host)
        host = "0.0.0.0";
    size_t hl = strlen(host);
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        if (hl - 2 >= sizeof h) {
            str_fmt(err, errlen, "http host name is too long");
            return -1;
        }
        memcpy(h, host + 1, hl - 2);
        h[hl - 2] = '\0';
    } else if (str_copy(h, sizeof h, host) != 0) {
        str_fmt(err, errlen, "http host name is too long");
        return -1;
    }
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *alen = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *alen = sizeof *a6;
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(h, NULL, &hints, &ai);
    if (rc != 0 || !ai) {
        str_fmt(err, errlen, "cannot resolve http host '%s': %s", h, gai_strerror(rc));
        return -1;
    }
    memcpy(addr, ai->ai_addr, ai->ai_addrlen);
    *alen = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (addr->ss_family == AF_INET)
        a4->sin_port = htons((uint16_t)port);
    else
        a6->sin6_port = htons((uint16_t)port);
    return 0;
}

http_server *http_server_start(const http_server_opts *opts, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (errlen)
        err[0] = '\0';
    if (!opts || (opts->n_routes > 0 && !opts->routes) || opts->n_routes < 0) {
        str_fmt(err, errlen, "http server: no route table given");
        return NULL;
    }
    if (opts->port < 0 || opts->port > 65535) {
        str_fmt(err, errlen, "http port %d is out of range (0-65535)", opts->port);
        return NULL;
    }
    for (int i = 0; i < opts->n_routes; i++) {
        const http_route *rt = &opts->routes[i];
        if (!rt->method || !rt->pattern || rt->pattern[0] != '/') {
            str_fmt(err, errlen, "http route %d has no method or a pattern not starting with '/'", i);
            return NULL;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    s->opts = *opts;
    pthread_mutex_init(&s->stream_lock, NULL);
    if (opts->trusted_proxies)
        s->trusted = *opts->trusted_proxies;
    s->opts.trusted_proxies = NULL;
    for (int i = 0; i < opts->n_routes; i++) {
        size_t l = strlen(opts->routes[i].pattern);
        if (l > s->max_pattern_len)
            s->max_pattern_len = l;
    }
    struct sockaddr_storage addr;
    socklen_t alen = 0;
    if (resolve_host(opts->host, opts->port, &addr, &alen, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                         MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    unsigned int threads = opts->threads > 0 ? (unsigned int)opts->threads : http_default_threads();
    unsigned int timeout = opts->connection_timeout_s > 0 ? (unsigned int)opts->connection_timeout_s : 30;
    size_t max_head = opts->max_header_bytes > 0 ? opts->max_header_bytes : 32768;
    /* headers + working buffers; above what the guard lets through, so libmicrohttpd
     * never refuses a head itself */
    size_t mem_limit = max_head + 32 * 1024;
    /* The guard enforces the real limit; libmicrohttpd's must never be reached: it
     * splits it evenly between its threads, and in 0.9.75 a thread that reaches its
     * share while taking a connection handed over by MHD_add_connection leaves a
     * mutex locked and deadlocks. So every thread's share is above what can ever be
     * open (the guard's limit, plus connections it has cut that are still closing). */
    unsigned int per_thread = opts->max_connections > 0 ? 2 * (unsigned int)opts->max_connections + 256 : 65536;
    unsigned int mhd_limit = per_thread * threads;
    raise_fd_limit(opts->max_connections);

    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem_limit, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)mhd_limit, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                                 MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!s->daemon) {
        str_fmt(err, errlen, "cannot start the http server (libmicrohttpd refused its options)");
        pthread_mutex_destroy(&s->stream_lock);
        free(s);
        return NULL;
    }
    http_guard_opts gopts = {
        .addr = (const struct sockaddr *)&addr, .addr_len = alen,
        .head_timeout_s = (int)timeout, .request_timeout_s = opts->request_timeout_s,
        .min_body_rate = opts->min_body_rate, .max_connections = opts->max_connections,
        .max_per_ip = opts->max_connections_per_ip, .max_head = max_head,
        .hand_off = add_connection, .ctx = s, .publish = &s->guard,
    };
    char gerr[256];
    if (!guard_start(&gopts, gerr, sizeof gerr)) {      /* s->guard is set (published) before its thread runs */
        str_fmt(err, errlen, "cannot start the http server on %s port %d: %s", opts->host && *opts->host ? opts->host : "0.0.0.0",
                opts->port, gerr);
        MHD_stop_daemon(s->daemon);
        pthread_mutex_destroy(&s->stream_lock);
        free(s);
        return NULL;
    }
    s->port = guard_port(s->guard);
    log_debug("http: %u threads, %d connections at most (%d per address)", threads, opts->max_connections,
              opts->max_connections_per_ip);
    return s;
}

int http_server_port(const http_server *s)
{
    return s ? s->port : -1;
}

void http_server_stop(http_server *s)
{
    if (!s)
        return;
    guard_stop(s->guard);        /* no new connections */
    if (s->daemon) {
        streams_end_all(s);
        /* give the woken event streams a moment to end before the connections are cut */
        for (int i = 0; i < 50; i++) {
            pthread_mutex_lock(&s->stream_lock);
            bool any = s->streams != NULL;
            pthread_mutex_unlock(&s->stream_lock);
            if (!any)
                break;
            sleep_ms(10);
        }
        MHD_stop_daemon(s->daemon);
    }
    guard_free(s->guard);
    pthread_mutex_destroy(&s->stream_lock);
    free(s);
}
