/* esl_client.c — the Event Socket client thread (see esl_client.h). One reader
 * thread owns the socket's read side; callers write commands under the lock and
 * wait for their reply, which FreeSWITCH sends in command order. */
#include "esl/esl_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

#define ESL_HANDSHAKE_MS 5000
#define ESL_BACKOFF_MIN_MS 250

typedef struct waiter {
    struct waiter *next;
    bool done, abandoned;
    int rc;
    char *reply;
    char err[160];
} waiter;

struct esl_client {
    char *host, *password, *events;
    int port;
    int connect_timeout_ms, backoff_max_ms;
    void (*on_event)(void *, const esl_msg *);
    void (*on_state)(void *, esl_state, unsigned, const char *);
    void *ud;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* waiters and the stop flag */
    bool stop;
    bool held;                    /* esl_client_hold: stay (or get) off the socket */
    char held_why[200];
    int fd;                       /* -1 unless CONNECTED */
    esl_state state;
    unsigned generation;
    char detail[256];
    waiter *head, *tail;
    esl_parser *parser;
};

/* ---- small socket helpers ---- */

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int connect_to(const char *host, int port, int timeout_ms, char *err, size_t errlen)
{
    char portstr[16];
    str_fmt(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai) {
        str_fmt(err, errlen, "cannot resolve FREESWITCH_ESL_HOST %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, last = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) { last = errno; continue; }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            last = errno;
            close(fd);
            fd = -1;
            continue;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            last = pr == 0 ? ETIMEDOUT : soerr ? soerr : errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        str_fmt(err, errlen, "cannot connect to FreeSWITCH event socket at %s:%d: %s", host, port, strerror(last));
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* a FreeSWITCH that stops reading must not hold a sender (and the lock) forever */
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static bool stopping(esl_client *c)
{
    pthread_mutex_lock(&c->mu);
    bool s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

static bool is_held(esl_client *c)
{
    pthread_mutex_lock(&c->mu);
    bool h = c->held;
    pthread_mutex_unlock(&c->mu);
    return h;
}

/* Reads the next message. 1 ok; -1 protocol error; -2 stopping; -3 timeout; -4 closed;
 * -5 put on hold. */
static int read_msg(esl_client *c, int fd, esl_msg *out, int timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
    for (;;) {
        int rc = esl_parser_next(c->parser, out, err, errlen);
        if (rc == ESL_FRAME) return 1;
        if (rc == ESL_ERROR) return -1;
        if (stopping(c)) return -2;
        if (is_held(c)) { str_fmt(err, errlen, "put on hold"); return -5; }
        if (deadline && mono_ms() >= deadline) { str_fmt(err, errlen, "FreeSWITCH did not answer in time"); return -3; }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 200);
        if (pr < 0 && errno != EINTR) { str_fmt(err, errlen, "poll: %s", strerror(errno)); return -4; }
        if (pr <= 0) continue;
        char buf[8192];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { str_fmt(err, errlen, "FreeSWITCH closed the event socket"); return -4; }
        if (esl_parser_feed(c->parser, buf, (size_t)n)) { str_fmt(err, errlen, "message too large"); return -1; }
    }
}

static void set_state(esl_client *c, esl_state st, bool new_login, const char *detail)
{
    pthread_mutex_lock(&c->mu);
    bool changed = c->state != st || strcmp(c->detail, detail);
    c->state = st;
    if (new_login) c->generation++;
    unsigned gen = c->generation;
    str_copy(c->detail, sizeof c->detail, detail);
    pthread_mutex_unlock(&c->mu);
    if (changed || new_login) {
        if (st == ESL_CONNECTED) log_info("freeswitch: %s", detail);
        else log_warn("freeswitch: %s", detail);
        if (c->on_state) c->on_state(c->ud, st, gen, detail);
    }
}

/* Sleeps ms unless asked to stop. */
static void nap(esl_client *c, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&c->mu);
    while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &ts) != ETIMEDOUT) {}
    pthread_mutex_unlock(&c->mu);
}

static const char *ctype(const esl_msg *m)
{
    const char *t = esl_msg_get(m, "Content-Type");
    return t ? t : "";
}

/* auth/request → auth → +OK → event subscription → +OK. 0 ok, else sets *st and err. */
static int handshake(esl_client *c, int fd, esl_state *st, char *err, size_t errlen)
{
    esl_msg m;
    char e[160];
    *st = ESL_DISCONNECTED;
    int rc = read_msg(c, fd, &m, ESL_HANDSHAKE_MS, e, sizeof e);
    if (rc != 1) { str_fmt(err, errlen, "no auth/request from %s:%d (%s)", c->host, c->port, e); return -1; }
    if (!strcasecmp(ctype(&m), "text/rude-rejection")) {
        *st = ESL_REFUSED;
        str_fmt(err, errlen, "FreeSWITCH refused the event-socket connection from this host (its apply-inbound-acl "
                             "does not allow us; see event_socket.conf.xml)");
        esl_msg_free(&m);
        return -1;
    }
    if (strcasecmp(ctype(&m), "auth/request")) {
        str_fmt(err, errlen, "%s:%d does not speak the FreeSWITCH event socket (got '%.60s')", c->host, c->port, ctype(&m));
        esl_msg_free(&m);
        return -1;
    }
    esl_msg_free(&m);
    strbuf sb;
    sb_init(&sb);
    sb_appendf(&sb, "auth %s\n\n", c->password);
    rc = sb.data ? write_all(fd, sb.data, sb.len) : -1;
    if (sb.data) memset(sb.data, 0, sb.len);
    sb_free(&sb);
    if (rc) { str_fmt(err, errlen, "lost the event socket while logging in"); return -1; }
    rc = read_msg(c, fd, &m, ESL_HANDSHAKE_MS, e, sizeof e);
    if (rc != 1) {
        str_fmt(err, errlen, "no answer to auth from %s:%d (%s)", c->host, c->port, e);
        return -1;
    }
    const char *reply = esl_msg_get(&m, "Reply-Text");
    if (strcasecmp(ctype(&m), "command/reply") || !reply || strncmp(reply, "+OK", 3)) {
        *st = ESL_AUTH_FAILED;
        char shown[64];
        str_copy(shown, sizeof shown, reply ? reply : ctype(&m));
        for (char *p = shown; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
        str_fmt(err, errlen, "FreeSWITCH rejected the event-socket password: auth rejected (%s); set "
                             "FREESWITCH_ESL_PASSWORD to the password in event_socket.conf.xml", shown);
        esl_msg_free(&m);
        return -1;
    }
    esl_msg_free(&m);
    sb_init(&sb);
    sb_appendf(&sb, "event plain %s\n\n", c->events);
    rc = sb.data ? write_all(fd, sb.data, sb.len) : -1;
    sb_free(&sb);
    if (rc || read_msg(c, fd, &m, ESL_HANDSHAKE_MS, e, sizeof e) != 1) {
        str_fmt(err, errlen, "lost the event socket while subscribing to events");
        return -1;
    }
    reply = esl_msg_get(&m, "Reply-Text");
    if (!reply || strncmp(reply, "+OK", 3)) {
        str_fmt(err, errlen, "FreeSWITCH refused the event subscription: %.80s", reply ? reply : "(no reply)");
        esl_msg_free(&m);
        return -1;
    }
    esl_msg_free(&m);
    return 0;
}

/* Completes the oldest waiter with a reply (or with an error when reply is NULL). */
static void complete_head(esl_client *c, char *reply, const char *err)
{
    waiter *w = c->head;
    if (!w) { free(reply); return; }
    c->head = w->next;
    if (!c->head) c->tail = NULL;
    if (w->abandoned) {
        free(reply);
        free(w);
        return;
    }
    w->done = true;
    w->rc = reply ? 0 : -1;
    w->reply = reply;
    if (!reply) str_copy(w->err, sizeof w->err, err ? err : "connection lost");
    pthread_cond_broadcast(&c->cv);
}

static void dispatch(esl_client *c, esl_msg *m)
{
    const char *t = ctype(m);
    if (!strcasecmp(t, "command/reply") || !strcasecmp(t, "api/response")) {
        const char *rt = esl_msg_get(m, "Reply-Text");
        char *reply = NULL;
        if (!strcasecmp(t, "api/response")) {
            reply = m->body;
            m->body = NULL;
            if (!reply) reply = strdup("");
        } else {
            reply = strdup(rt ? rt : "");
        }
        pthread_mutex_lock(&c->mu);
        complete_head(c, reply, reply ? NULL : "out of memory");
        pthread_mutex_unlock(&c->mu);
    } else if (!strcasecmp(t, "text/event-plain")) {
        esl_msg ev;
        char e[160];
        if (m->body && esl_event_parse(m->body, m->body_len, &ev, e, sizeof e) == ESL_FRAME) {
            if (c->on_event) c->on_event(c->ud, &ev);
            esl_msg_free(&ev);
        } else {
            log_warn("freeswitch: dropped a malformed event (%s)", m->body ? e : "no body");
        }
    }
}

static void *client_main(void *arg)
{
    esl_client *c = arg;
    int backoff = ESL_BACKOFF_MIN_MS;
    while (!stopping(c)) {
        char err[256];
        if (is_held(c)) {
            pthread_mutex_lock(&c->mu);
            str_copy(err, sizeof err, c->held_why);
            pthread_mutex_unlock(&c->mu);
            set_state(c, ESL_DISCONNECTED, false, err);
            nap(c, 1000);
            backoff = ESL_BACKOFF_MIN_MS;
            continue;
        }
        esl_parser_reset(c->parser);
        int fd = connect_to(c->host, c->port, c->connect_timeout_ms, err, sizeof err);
        esl_state st = ESL_DISCONNECTED;
        if (fd >= 0 && handshake(c, fd, &st, err, sizeof err) != 0) {
            close(fd);
            fd = -1;
        }
        if (fd < 0) {
            set_state(c, st, false, err);
            nap(c, backoff);
            backoff = backoff * 2 > c->backoff_max_ms ? c->backoff_max_ms : backoff * 2;
            continue;
        }
        backoff = ESL_BACKOFF_MIN_MS;
        pthread_mutex_lock(&c->mu);
        c->fd = fd;
        pthread_mutex_unlock(&c->mu);
        char ok[160];
        str_fmt(ok, sizeof ok, "event socket connected and authenticated at %s:%d", c->host, c->port);
        set_state(c, ESL_CONNECTED, true, ok);
        const char *why = "FreeSWITCH closed the event socket";
        for (;;) {
            esl_msg m;
            int rc = read_msg(c, fd, &m, 0, err, sizeof err);
            if (rc != 1) {
                why = rc == -2 ? "stopping" : rc == -5 ? "on hold" : err;
                break;
            }
            bool bye = !strcasecmp(ctype(&m), "text/disconnect-notice");
            dispatch(c, &m);
            esl_msg_free(&m);
            if (bye) { why = "FreeSWITCH sent a disconnect notice"; break; }
        }
        pthread_mutex_lock(&c->mu);
        c->fd = -1;
        while (c->head) complete_head(c, NULL, why);
        pthread_mutex_unlock(&c->mu);
        close(fd);
        char lost[300];
        str_fmt(lost, sizeof lost, "event socket lost (%s); reconnecting", why);
        if (!stopping(c) && !is_held(c)) {
            set_state(c, ESL_DISCONNECTED, false, lost);
            nap(c, ESL_BACKOFF_MIN_MS);
        }
    }
    return NULL;
}

esl_client *esl_client_start(const esl_client_opts *o, char *err, size_t errlen)
{
    if (!o->host || !*o->host || o->port <= 0 || o->port > 65535) {
        str_fmt(err, errlen, "FREESWITCH_ESL_HOST/FREESWITCH_ESL_PORT are not a usable address");
        return NULL;
    }
    if (!o->password || strpbrk(o->password, "\r\n")) {
        str_fmt(err, errlen, "FREESWITCH_ESL_PASSWORD must be one line");
        return NULL;
    }
    if (!o->events || strpbrk(o->events, "\r\n")) {
        str_fmt(err, errlen, "event list must be one line");
        return NULL;
    }
    esl_client *c = calloc(1, sizeof *c);
    if (!c) { str_fmt(err, errlen, "out of memory"); return NULL; }
    c->host = strdup(o->host);
    c->password = strdup(o->password);
    c->events = strdup(o->events);
    c->parser = esl_parser_new();
    c->port = o->port;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 3000;
    c->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 10000;
    c->on_event = o->on_event;
    c->on_state = o->on_state;
    c->ud = o->ud;
    c->fd = -1;
    c->held = o->start_held;
    str_copy(c->held_why, sizeof c->held_why, o->held_why ? o->held_why : "on hold");
    str_fmt(c->detail, sizeof c->detail, "connecting to FreeSWITCH event socket at %s:%d", o->host, o->port);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!c->host || !c->password || !c->events || !c->parser || pthread_create(&c->thread, NULL, client_main, c)) {
        str_fmt(err, errlen, "could not start the event socket client");
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        esl_parser_free(c->parser);
        free(c->host);
        free(c->password);
        free(c->events);
        free(c);
        return NULL;
    }
    return c;
}

void esl_client_hold(esl_client *c, bool hold, const char *why)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->held = hold;
    str_copy(c->held_why, sizeof c->held_why, why ? why : "on hold");
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void esl_client_stop(esl_client *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_mutex_lock(&c->mu);
    while (c->head) complete_head(c, NULL, "stopping");
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    esl_parser_free(c->parser);
    if (c->password) memset(c->password, 0, strlen(c->password));
    free(c->host);
    free(c->password);
    free(c->events);
    free(c);
}

esl_state esl_client_state(esl_client *c, char *detail, size_t len, unsigned *generation)
{
    pthread_mutex_lock(&c->mu);
    esl_state st = c->state;
    if (detail) str_copy(detail, len, c->detail);
    if (generation) *generation = c->generation;
    pthread_mutex_unlock(&c->mu);
    return st;
}

int esl_client_command(esl_client *c, const char *cmd, const char *extra_header, int timeout_ms, char **reply,
                       bool *sent, char *err, size_t errlen)
{
    *reply = NULL;
    if (sent) *sent = false;
    if (!cmd || strpbrk(cmd, "\r\n") || (extra_header && strpbrk(extra_header, "\r\n"))) {
        str_fmt(err, errlen, "refusing a command with a line break");
        return -1;
    }
    waiter *w = calloc(1, sizeof *w);
    strbuf sb;
    sb_init(&sb);
    sb_appendf(&sb, "%s\n%s%s\n", cmd, extra_header ? extra_header : "", extra_header ? "\n" : "");
    if (!w || !sb.data) {
        free(w);
        sb_free(&sb);
        str_fmt(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&c->mu);
    if (c->state != ESL_CONNECTED || c->fd < 0) {
        str_fmt(err, errlen, "not connected: %s", c->detail);
        pthread_mutex_unlock(&c->mu);
        free(w);
        sb_free(&sb);
        return -1;
    }
    if (c->tail) c->tail->next = w;
    else c->head = w;
    c->tail = w;
    if (write_all(c->fd, sb.data, sb.len)) {
        /* not written (or partly): the reader will see the broken socket and fail us */
        shutdown(c->fd, SHUT_RDWR);
    } else if (sent) {
        *sent = true;
    }
    sb_free(&sb);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int ms = timeout_ms > 0 ? timeout_ms : 10000;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    while (!w->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT && !w->done) break;
    }
    int rc;
    if (w->done) {
        rc = w->rc;
        if (rc == 0) *reply = w->reply;
        else str_fmt(err, errlen, "%s", w->err);
        free(w);
    } else {
        w->abandoned = true;   /* the reader frees it when its reply (or the disconnect) comes */
        str_fmt(err, errlen, "FreeSWITCH did not answer within %d ms", ms);
        rc = -1;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}
