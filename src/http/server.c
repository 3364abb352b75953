/* server.c — the HTTP server of the transport layer, on libmicrohttpd. It owns the
 * request lifecycle: picks the route (404/405), runs the route's on_headers hook,
 * buffers small bodies or streams large ones to on_body, calls handle, queues the
 * response (memory body or file), and on completion frees everything and reports
 * (status, duration) to opts->on_complete. The api layer supplies the routes; this
 * file knows nothing about faxes. Query strings are never logged.
 *
 * Slow clients: libmicrohttpd's timeout only closes connections that are idle, so a
 * client sending its headers a byte a second would hold its connection for ever. A
 * watchdog thread therefore closes (shutdown) every connection that has not sent a
 * complete request head within connection_timeout_s of connecting or of finishing
 * its previous request. */
#include "http/http.h"
#include "http/stream_internal.h"
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HTTP_MAX_PARAMS 8
/* After an early answer (413, 401...) arrives mid-body, the rest of the body is
 * read and dropped so the client gets the answer; past this many bytes the
 * connection is closed instead. */
#define HTTP_DISCARD_MAX ((uint64_t)16 * 1024 * 1024)

/* A connection waiting for (or past) its request head; see the header deadline. */
typedef struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    bool awaiting_head;          /* no complete request head yet */
    struct timespec since;       /* when it started waiting for one */
} conn_watch;

struct http_server {
    struct MHD_Daemon *daemon;
    http_server_opts opts;
    size_t max_pattern_len;
    int port;
    /* header deadline: every open connection, under watch_lock */
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_wake;
    conn_watch *watching;
    bool watch_stop;
    bool watch_running;
    pthread_t watch_thread;
    http_stream_registry streams;    /* open long-lived responses, closed before the daemon stops */
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

const char *http_req_client_ip(const http_request *r)
{
    if (!r)
        return NULL;
    http_request *w = (http_request *)r;    /* formatted lazily, cached */
    if (w->client_ip[0])
        return w->client_ip;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const char *ok = NULL;
    if (sa && sa->sa_family == AF_INET)
        ok = inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                       w->client_ip, sizeof w->client_ip);
    else if (sa && sa->sa_family == AF_INET6)
        ok = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                       w->client_ip, sizeof w->client_ip);
    if (!ok)
        str_copy(w->client_ip, sizeof w->client_ip, "unknown");
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

static void res_clear_payload(http_response *res)
{
    if (res->stream) {           /* made a stream but never answered with it */
        http_stream_discard(res->stream);
        res->stream = NULL;
    }
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    if (res->file_fd >= 0)
        close(res->file_fd);
    res->file_fd = -1;
    res->file_size = 0;
}

void http_res_set(http_response *res, int status, const char *content_type, char *body, size_t len)
{
    if (!res) {
        free(body);
        return;
    }
    res_clear_payload(res);
    res->status = status;
    str_copy(res->content_type, sizeof res->content_type, content_type ? content_type : "");
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
}

void http_res_header(http_response *res, const char *name, const char *value)
{
    if (!res || !name || !value)
        return;
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
        log_warn("http: refusing response header with CR/LF or ':' in its name or value");
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

void http_res_file(http_response *res, int status, const char *content_type, int fd, int64_t size)
{
    if (!res) {
        if (fd >= 0)
            close(fd);
        return;
    }
    res_clear_payload(res);
    res->status = status;
    str_copy(res->content_type, sizeof res->content_type, content_type ? content_type : "");
    res->file_fd = fd;
    struct stat st;
    if (size < 0 && fd >= 0 && fstat(fd, &st) == 0)
        size = st.st_size;
    res->file_size = size < 0 ? 0 : size;
}

/* ---- request lifecycle ---- */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- header deadline ---- */

static int64_t ms_since(const struct timespec *t0)
{
    return (int64_t)(seconds_since(t0) * 1000.0);
}

static conn_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The request head is in (awaiting = false) or a request has finished and the
 * connection waits for the next one (awaiting = true, the clock restarts). */
static void watch_mark(http_server *srv, struct MHD_Connection *conn, bool awaiting)
{
    conn_watch *w = watch_of(conn);
    if (!w)
        return;
    pthread_mutex_lock(&srv->watch_lock);
    w->awaiting_head = awaiting;
    if (awaiting)
        clock_gettime(CLOCK_MONOTONIC, &w->since);
    pthread_mutex_unlock(&srv->watch_lock);
}

/* libmicrohttpd calls this when a connection opens and before it closes its socket. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_watch *w = ci ? calloc(1, sizeof *w) : NULL;
        *socket_context = w;
        if (!w)
            return;              /* not watched; libmicrohttpd's idle timeout still applies */
        w->fd = ci->connect_fd;
        w->awaiting_head = true;
        clock_gettime(CLOCK_MONOTONIC, &w->since);
        pthread_mutex_lock(&srv->watch_lock);
        w->next = srv->watching;
        if (w->next)
            w->next->prev = w;
        srv->watching = w;
        pthread_mutex_unlock(&srv->watch_lock);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_watch *w = *socket_context;
        *socket_context = NULL;
        if (!w)
            return;
        pthread_mutex_lock(&srv->watch_lock);
        if (w->prev)
            w->prev->next = w->next;
        else
            srv->watching = w->next;
        if (w->next)
            w->next->prev = w->prev;
        pthread_mutex_unlock(&srv->watch_lock);
        free(w);
    }
}

/* Every half second: shut down the sockets of connections past the deadline. The
 * socket stays open until libmicrohttpd closes it after NOTIFY_CLOSED, which takes
 * watch_lock first, so the fd shut down here is always the connection's own. */
static void *watchdog_main(void *arg)
{
    http_server *srv = arg;
    int64_t limit_ms = (int64_t)(srv->opts.connection_timeout_s > 0 ? srv->opts.connection_timeout_s : 30) * 1000;
    pthread_mutex_lock(&srv->watch_lock);
    while (!srv->watch_stop) {
        int cut = 0;
        for (conn_watch *w = srv->watching; w; w = w->next) {
            if (!w->awaiting_head || w->fd < 0 || ms_since(&w->since) < limit_ms)
                continue;
            shutdown(w->fd, SHUT_RDWR);
            w->fd = -1;          /* once */
            cut++;
        }
        if (cut)
            log_info("http: closed %d connection%s that sent no complete request head within %d s",
                     cut, cut == 1 ? "" : "s", (int)(limit_ms / 1000));
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 500 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->watch_wake, &srv->watch_lock, &until);
    }
    pthread_mutex_unlock(&srv->watch_lock);
    return NULL;
}

static void watchdog_stop(http_server *s)
{
    if (!s->watch_running)
        return;
    pthread_mutex_lock(&s->watch_lock);
    s->watch_stop = true;
    pthread_cond_signal(&s->watch_wake);
    pthread_mutex_unlock(&s->watch_lock);
    pthread_join(s->watch_thread, NULL);
    s->watch_running = false;
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
    if (res->stream) {
        mr = http_stream_response(res->stream, r->conn, &r->srv->streams);
        if (mr)
            res->stream = NULL;  /* the response holds it now */
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

/* An answer decided before the body was read (first call). libmicrohttpd closes
 * the connection after an answer queued this early, so it is queued now only to
 * refuse a POST/PUT body; a request without a body is answered on the next call
 * (keeping the connection alive), and other methods' bodies are read and dropped. */
static enum MHD_Result answer_early(http_request *r)
{
    r->answered = true;
    if (request_has_body(r->conn) && (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0))
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
    watch_mark(srv, conn, false);
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
        if (r->queued)
            return MHD_YES;
        return on_body_chunk(r, upload_data, len);
    }
    if (r->queued)
        return MHD_YES;
    if (!r->answered)
        run_handler(r);
    return queue_answer(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *srv = cls;
    http_request *r = *con_cls;
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        watch_mark(srv, conn, true);   /* keep-alive: the next request head is due in time */
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
    pthread_mutex_init(&s->watch_lock, NULL);
    pthread_cond_init(&s->watch_wake, NULL);
    pthread_mutex_init(&s->streams.lock, NULL);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned int threads = opts->threads > 0 ? (unsigned int)opts->threads : 2;
    unsigned int timeout = opts->connection_timeout_s > 0 ? (unsigned int)opts->connection_timeout_s : 30;
    size_t mem_limit = opts->max_header_bytes + 16 * 1024;   /* headers + working buffers */
    if (mem_limit < 32 * 1024)
        mem_limit = 32 * 1024;

    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem_limit, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)(opts->max_connections > 0 ? opts->max_connections : 4096), NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)(opts->max_connections_per_ip > 0 ? opts->max_connections_per_ip : 0), NULL},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                                 MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!s->daemon) {
        str_fmt(err, errlen, "cannot start the http server on %s port %d "
                "(address in use, not available on this machine, or no permission)",
                opts->host && *opts->host ? opts->host : "0.0.0.0", opts->port);
        pthread_cond_destroy(&s->watch_wake);
        pthread_mutex_destroy(&s->watch_lock);
        pthread_mutex_destroy(&s->streams.lock);
        free(s);
        return NULL;
    }
    if (pthread_create(&s->watch_thread, NULL, watchdog_main, s) == 0)
        s->watch_running = true;
    else
        log_warn("http: no watchdog thread; slow clients are closed only when idle for %u s", timeout);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? (int)di->port : opts->port;
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
    watchdog_stop(s);
    /* libmicrohttpd must not stop with suspended connections: end every stream and
     * give the event loop a moment to take them out. */
    for (int i = 0; i < 100 && http_streams_close_all(&s->streams) > 0; i++)
        sleep_ms(20);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->streams.lock);
    pthread_cond_destroy(&s->watch_wake);
    pthread_mutex_destroy(&s->watch_lock);
    free(s);
}
