/* live.c — live responses (see http.h, "live responses"). A live response is a byte
 * queue shared by its writer (any thread) and libmicrohttpd's content reader.
 * When the queue is empty the reader suspends the connection and returns 0;
 * a write resumes it. References: one for the response (dropped when
 * libmicrohttpd frees it), one for the writer. */
#include "http/http.h"
#include "http/live_internal.h"
#include "util/util.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct http_live {
    pthread_mutex_t lock;
    int refs;
    struct MHD_Connection *conn;     /* NULL until the response is queued, and after it is freed */
    bool suspended;
    bool closed;
    char *buf;                       /* queued bytes are buf[off, len) */
    size_t off, len, cap, max;
    http_live_registry *reg;
    http_live *reg_prev, *reg_next;
};

static void live_unref(http_live *s)
{
    pthread_mutex_lock(&s->lock);
    int left = --s->refs;
    pthread_mutex_unlock(&s->lock);
    if (left) return;
    pthread_mutex_destroy(&s->lock);
    free(s->buf);
    free(s);
}

http_live *http_res_live(http_response *res, int status, const char *content_type, size_t max_buffer)
{
    http_live *s = calloc(1, sizeof *s);
    if (!s) {
        http_res_error(res, 500, "Internal error: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->refs = 2;                     /* the caller's and the response's */
    s->max = max_buffer ? max_buffer : 256 * 1024;
    http_res_set(res, status, content_type, NULL, 0);
    res->live = s;
    return s;
}

/* Resumes a suspended connection; s->lock held. */
static void wake_locked(http_live *s)
{
    if (s->suspended && s->conn) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

int http_live_write(http_live *s, const char *data, size_t len)
{
    pthread_mutex_lock(&s->lock);
    int rc = -1;
    if (s->closed) goto out;
    if (s->off > 0 && s->off == s->len) s->off = s->len = 0;
    if (s->len - s->off + len > s->max) {
        s->closed = true;            /* too far behind: cut off */
        wake_locked(s);
        goto out;
    }
    if (s->len + len > s->cap) {
        if (s->off) {                /* compact first */
            memmove(s->buf, s->buf + s->off, s->len - s->off);
            s->len -= s->off;
            s->off = 0;
        }
        if (s->len + len > s->cap) {
            size_t cap = s->cap ? s->cap : 1024;
            while (cap < s->len + len) cap *= 2;
            char *grown = realloc(s->buf, cap);
            if (!grown) { s->closed = true; wake_locked(s); goto out; }
            s->buf = grown;
            s->cap = cap;
        }
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    wake_locked(s);
    rc = 0;
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

size_t http_live_pending(http_live *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->len - s->off;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void http_live_close(http_live *s)
{
    pthread_mutex_lock(&s->lock);
    s->closed = true;
    wake_locked(s);
    pthread_mutex_unlock(&s->lock);
}

bool http_live_closed(http_live *s)
{
    pthread_mutex_lock(&s->lock);
    bool c = s->closed;
    pthread_mutex_unlock(&s->lock);
    return c;
}

void http_live_release(http_live *s)
{
    if (s) live_unref(s);
}

/* ---- the libmicrohttpd side ---- */

static ssize_t live_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_live *s = cls;
    pthread_mutex_lock(&s->lock);
    ssize_t n;
    if (s->len > s->off) {
        size_t take = s->len - s->off < max ? s->len - s->off : max;
        memcpy(buf, s->buf + s->off, take);
        s->off += take;
        n = (ssize_t)take;
    } else if (s->closed || !s->conn) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        s->suspended = true;         /* nothing to send: out of the event loop until a write */
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void live_free(void *cls)
{
    http_live *s = cls;
    pthread_mutex_lock(&s->lock);
    s->closed = true;
    s->conn = NULL;
    s->suspended = false;
    http_live_registry *reg = s->reg;
    pthread_mutex_unlock(&s->lock);
    if (reg) {
        pthread_mutex_lock(&reg->lock);
        if (s->reg_prev) s->reg_prev->reg_next = s->reg_next;
        else if (reg->head == s) reg->head = s->reg_next;
        if (s->reg_next) s->reg_next->reg_prev = s->reg_prev;
        s->reg = NULL;
        pthread_mutex_unlock(&reg->lock);
    }
    live_unref(s);
}

struct MHD_Response *http_live_response(http_live *s, struct MHD_Connection *conn, http_live_registry *reg)
{
    struct MHD_Response *mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, live_read, s, live_free);
    if (!mr) return NULL;
    /* The kernel's send buffer would otherwise grow (autotuning, up to megabytes) and
     * hide a reader that stopped reading: keep it about the size of our own queue. */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        int sndbuf = s->max < 16384 ? 16384 : s->max > (1 << 20) ? (1 << 20) : (int)s->max;
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    pthread_mutex_lock(&s->lock);
    s->conn = conn;
    s->reg = reg;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&reg->lock);
    s->reg_prev = NULL;
    s->reg_next = reg->head;
    if (reg->head) reg->head->reg_prev = s;
    reg->head = s;
    pthread_mutex_unlock(&reg->lock);
    return mr;
}

void http_live_discard(http_live *s)
{
    http_live_close(s);              /* its writer sees it closed */
    live_unref(s);                   /* the response's reference: it never became one */
}

int http_lives_close_all(http_live_registry *reg)
{
    int n = 0;
    pthread_mutex_lock(&reg->lock);
    for (http_live *s = reg->head; s; s = s->reg_next, n++) http_live_close(s);
    pthread_mutex_unlock(&reg->lock);
    return n;
}
