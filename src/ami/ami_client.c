/* ami_client.c — see ami_client.h. One thread owns the socket's reading side and
 * the connection's life; senders share the writing side under wlock (the thread
 * closes the socket only while holding it, so a sender never writes to a reused
 * descriptor). Pending actions are a list under lock, matched by ActionID. */
#include "ami/ami_client.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PING_TIMEOUT_MS 10000

typedef struct pending {
    struct pending *next;
    char action_id[96];
    ami_reply reply;
    bool is_list;                /* the response said "EventList: start" */
    bool done;
    int status;                  /* 0, or AMI_ERR_LOST */
    ami_response_hook hook;
    void *hook_user;
} pending;

struct ami_client {
    ami_client_opts o;
    char host[256], user[64], secret[128];
    pthread_t thread;
    pthread_mutex_t lock;        /* state, fd, pending list */
    pthread_cond_t cond;
    pthread_mutex_t wlock;       /* writes to the socket; held while it is closed */
    int fd;                      /* -1 unless logged in */
    ami_state state;
    char detail[320];
    unsigned session;
    bool stopping;
    bool held;                   /* ami_client_hold: stay (or get) off the line */
    char held_why[200];
    int wake[2];
    pending *pend;
    unsigned long next_id;
    ami_parser *parser;
    /* session-local, client thread only */
    int sfd;
    bool banner_seen, login_sent, login_done, login_ok;
    char login_id[48], login_msg[200];
    char ping_id[48];
    int64_t ping_sent, last_rx;
};

/* ---- message copies ---- */

ami_message *ami_message_dup(const ami_message *m)
{
    size_t strings = m->output_len + 1 + (m->banner ? strlen(m->banner) + 1 : 0);
    for (size_t i = 0; i < m->n_fields; i++) strings += strlen(m->fields[i].key) + strlen(m->fields[i].value) + 2;
    size_t head = sizeof(ami_message) + m->n_fields * sizeof(ami_field);
    char *mem = malloc(head + strings);
    if (!mem) return NULL;
    ami_message *d = (ami_message *)(void *)mem;
    ami_field *f = (ami_field *)(void *)(mem + sizeof(ami_message));
    char *s = mem + head;
    *d = *m;
    d->fields = f;
    for (size_t i = 0; i < m->n_fields; i++) {
        size_t kl = strlen(m->fields[i].key) + 1, vl = strlen(m->fields[i].value) + 1;
        memcpy(s, m->fields[i].key, kl);
        f[i].key = s;
        s += kl;
        memcpy(s, m->fields[i].value, vl);
        f[i].value = s;
        s += vl;
    }
    memcpy(s, m->output ? m->output : "", m->output_len);
    s[m->output_len] = 0;
    d->output = s;
    s += m->output_len + 1;
    if (m->banner) {
        strcpy(s, m->banner);
        d->banner = s;
    }
    return d;
}

void ami_message_free(ami_message *m)
{
    free(m);
}

void ami_reply_free(ami_reply *r)
{
    if (!r) return;
    ami_message_free(r->response);
    for (size_t i = 0; i < r->n_events; i++) ami_message_free(r->events[i]);
    free(r->events);
    memset(r, 0, sizeof *r);
}

bool ami_response_ok(const ami_message *response)
{
    const char *r = response ? ami_msg_get(response, "Response") : NULL;
    return r && (!strcasecmp(r, "Success") || !strcasecmp(r, "Follows") || !strcasecmp(r, "Goodbye"));
}

/* ---- small helpers ---- */

static void set_state(ami_client *c, ami_state st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_state(ami_client *c, ami_state st, const char *fmt, ...)
{
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&c->lock);
    bool changed = c->state != st || strcmp(c->detail, detail);
    c->state = st;
    str_copy(c->detail, sizeof c->detail, detail);
    pthread_mutex_unlock(&c->lock);
    if (changed) {
        if (st == AMI_UP) log_info("AMI: %s", detail);
        else log_warn("AMI: %s", detail);
    }
    if (c->o.on_state) c->o.on_state(c->o.user, st, detail);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static bool value_ok(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

/* "Action: X\r\nActionID: id\r\nK: V\r\n...\r\n" */
static int build_action(strbuf *sb, const char *action, const char *id, const ami_field *params, size_t n)
{
    if (!value_ok(action) || !value_ok(id)) return -1;
    sb_appendf(sb, "Action: %s\r\nActionID: %s\r\n", action, id);
    for (size_t i = 0; i < n; i++) {
        if (!value_ok(params[i].key) || !value_ok(params[i].value) || !*params[i].key || strchr(params[i].key, ':'))
            return -1;
        sb_appendf(sb, "%s: %s\r\n", params[i].key, params[i].value);
    }
    return sb_puts(sb, "\r\n");
}

static int session_write(ami_client *c, const char *text, size_t len)
{
    pthread_mutex_lock(&c->wlock);
    int rc = c->sfd >= 0 ? write_all(c->sfd, text, len) : -1;
    pthread_mutex_unlock(&c->wlock);
    return rc;
}

static int connect_tcp(const char *host, int port, int timeout_ms, char *err, size_t errlen)
{
    char portstr[16];
    str_fmt(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(host, portstr, &hints, &res);
    if (g) {
        str_fmt(err, errlen, "cannot resolve %s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1, last = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) { last = errno; continue; }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int so = 0;
            socklen_t sl = sizeof so;
            if (poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0) break;
            last = so ? so : ETIMEDOUT;
        } else {
            last = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        str_fmt(err, errlen, "cannot connect to %s:%d: %s", host, port, strerror(last ? last : ECONNREFUSED));
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* ---- the client thread ---- */

static pending *find_pending(ami_client *c, const char *id)
{
    for (pending *p = c->pend; p; p = p->next)
        if (!strcmp(p->action_id, id)) return p;
    return NULL;
}

static void send_login(ami_client *c)
{
    str_fmt(c->login_id, sizeof c->login_id, "faxbot-login-%u", c->session + 1);
    ami_field f[] = {{"Username", c->user}, {"Secret", c->secret}, {"Events", "on"}};
    strbuf sb;
    sb_init(&sb);
    if (build_action(&sb, "Login", c->login_id, f, 3) == 0 && sb.data) session_write(c, sb.data, sb.len);
    c->login_sent = true;
    /* the secret was in this buffer: wipe it */
    if (sb.data) memset(sb.data, 0, sb.len);
    sb_free(&sb);
}

static void on_response(ami_client *c, const ami_message *m, const char *id)
{
    if (c->ping_id[0] && !strcmp(id, c->ping_id)) {
        c->ping_id[0] = 0;
        return;
    }
    ami_response_hook hook = NULL;
    void *hook_user = NULL;
    pthread_mutex_lock(&c->lock);
    pending *p = find_pending(c, id);
    if (p && !p->done && !p->reply.response) {
        hook = p->hook;
        hook_user = p->hook_user;
    }
    pthread_mutex_unlock(&c->lock);
    if (hook) hook(hook_user, id, m);   /* before any later message is looked at */
    pthread_mutex_lock(&c->lock);
    p = find_pending(c, id);            /* the waiter may have given up meanwhile */
    if (p && !p->done && !p->reply.response) {
        p->reply.response = ami_message_dup(m);
        const char *el = ami_msg_get(m, "EventList");
        if (el && !strcasecmp(el, "start") && ami_response_ok(m)) {
            p->is_list = true;
        } else {
            p->done = true;
            pthread_cond_broadcast(&c->cond);
        }
    }
    pthread_mutex_unlock(&c->lock);
}

static void dispatch(void *user, const ami_message *m)
{
    ami_client *c = user;
    c->last_rx = mono_ms();
    if (m->kind == AMI_MSG_BANNER) {
        c->banner_seen = true;
        if (!c->login_sent) send_login(c);
        return;
    }
    const char *id = ami_msg_get(m, "ActionID");
    if (!c->login_done) {
        if (m->kind == AMI_MSG_RESPONSE && id && !strcmp(id, c->login_id)) {
            c->login_done = true;
            c->login_ok = ami_response_ok(m);
            const char *msg = ami_msg_get(m, "Message");
            str_copy(c->login_msg, sizeof c->login_msg, msg ? msg : "no message");
        }
        return;
    }
    if (m->kind == AMI_MSG_RESPONSE && id) {
        on_response(c, m, id);
        return;
    }
    if (m->kind == AMI_MSG_EVENT && id) {
        pthread_mutex_lock(&c->lock);
        pending *p = find_pending(c, id);
        if (p && p->is_list && !p->done) {
            ami_message **ev = realloc(p->reply.events, (p->reply.n_events + 1) * sizeof *ev);
            if (ev) {
                p->reply.events = ev;
                ami_message *d = ami_message_dup(m);
                if (d) ev[p->reply.n_events++] = d;
            }
            const char *el = ami_msg_get(m, "EventList");
            if (el && !strcasecmp(el, "Complete")) {
                p->done = true;
                pthread_cond_broadcast(&c->cond);
            }
            pthread_mutex_unlock(&c->lock);
            return;
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (m->kind == AMI_MSG_EVENT && c->o.on_event) c->o.on_event(c->o.user, m);
}

/* Waits for input on the session socket or the wake pipe; 1 readable, 0 timeout,
 * -1 stop requested. */
static int wait_input(ami_client *c, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = c->sfd, .events = POLLIN}, {.fd = c->wake[0], .events = POLLIN}};
    int n = poll(p, 2, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    if (p[1].revents) {
        char buf[64];
        while (read(c->wake[0], buf, sizeof buf) > 0) {}
        pthread_mutex_lock(&c->lock);
        bool stop = c->stopping;
        pthread_mutex_unlock(&c->lock);
        if (stop) return -1;
    }
    return p[0].revents ? 1 : 0;
}

/* Reads what is there and feeds the parser; 0, or -1 at EOF / error (detail set). */
static int read_some(ami_client *c, char *detail, size_t dlen)
{
    char buf[16384];
    ssize_t n = recv(c->sfd, buf, sizeof buf, 0);
    if (n == 0) {
        str_fmt(detail, dlen, "Asterisk closed the AMI connection to %s:%d", c->host, c->o.port);
        return -1;
    }
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) return 0;
        str_fmt(detail, dlen, "AMI connection to %s:%d failed: %s", c->host, c->o.port, strerror(errno));
        return -1;
    }
    ami_parser_feed(c->parser, buf, (size_t)n, dispatch, c);
    return 0;
}

static void close_session(ami_client *c)
{
    pthread_mutex_lock(&c->wlock);
    pthread_mutex_lock(&c->lock);
    c->fd = -1;
    for (pending *p = c->pend; p; p = p->next) {
        if (!p->done) {
            p->done = true;
            p->status = AMI_ERR_LOST;
        }
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (c->sfd >= 0) close(c->sfd);
    c->sfd = -1;
    pthread_mutex_unlock(&c->wlock);
}

/* Banner and Login. 0 logged in; -1 failed (state set); -2 stop requested. */
static int login(ami_client *c)
{
    c->banner_seen = c->login_sent = c->login_done = c->login_ok = false;
    c->ping_id[0] = 0;
    ami_parser_reset(c->parser, true);
    int64_t deadline = mono_ms() + c->o.connect_timeout_ms;
    char detail[320] = "";
    while (!c->login_done) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            set_state(c, AMI_DOWN, "no %s from %s:%d within %d ms (is it Asterisk's AMI port?)",
                      c->banner_seen ? "answer to Login" : "AMI banner", c->host, c->o.port, c->o.connect_timeout_ms);
            return -1;
        }
        int w = wait_input(c, (int)left);
        if (w < 0) return -2;
        if (w == 0) continue;
        if (read_some(c, detail, sizeof detail)) {
            if (c->login_sent)
                set_state(c, AMI_DOWN, "%s before answering Login", detail);
            else
                set_state(c, AMI_DOWN, "%s", detail);
            return -1;
        }
    }
    if (!c->login_ok) {
        set_state(c, AMI_LOGIN_REJECTED,
                  "AMI login rejected for user '%s' at %s:%d: %s (check ASTERISK_AMI_USERNAME and "
                  "ASTERISK_AMI_PASSWORD against the user in Asterisk's manager.conf)",
                  c->user, c->host, c->o.port, c->login_msg);
        return -1;
    }
    return 0;
}

static void keepalive(ami_client *c, bool *dead, char *detail, size_t dlen)
{
    int64_t now = mono_ms();
    if (c->ping_id[0]) {
        if (now - c->ping_sent > PING_TIMEOUT_MS) {
            str_fmt(detail, dlen, "no answer to Ping from %s:%d in %d s; reconnecting", c->host, c->o.port,
                    PING_TIMEOUT_MS / 1000);
            *dead = true;
        }
        return;
    }
    if (now - c->last_rx < c->o.ping_interval_ms) return;
    pthread_mutex_lock(&c->lock);
    unsigned long n = ++c->next_id;
    pthread_mutex_unlock(&c->lock);
    str_fmt(c->ping_id, sizeof c->ping_id, "faxbot-ping-%lu", n);
    strbuf sb;
    sb_init(&sb);
    build_action(&sb, "Ping", c->ping_id, NULL, 0);
    c->ping_sent = now;
    if (!sb.data || session_write(c, sb.data, sb.len)) {
        str_fmt(detail, dlen, "cannot write to the AMI connection to %s:%d", c->host, c->o.port);
        *dead = true;
    }
    sb_free(&sb);
}

static bool is_held(ami_client *c)
{
    pthread_mutex_lock(&c->lock);
    bool h = c->held;
    pthread_mutex_unlock(&c->lock);
    return h;
}

/* One connection from connect to close. Returns true if it logged in. */
static bool run_session(ami_client *c)
{
    char detail[320];
    int fd = connect_tcp(c->host, c->o.port, c->o.connect_timeout_ms, detail, sizeof detail);
    if (fd < 0) {
        set_state(c, AMI_DOWN, "%s", detail);
        return false;
    }
    c->sfd = fd;
    int rc = login(c);
    if (rc) {
        close_session(c);
        return false;
    }
    pthread_mutex_lock(&c->lock);
    c->fd = fd;
    c->session++;
    pthread_mutex_unlock(&c->lock);
    c->last_rx = mono_ms();
    set_state(c, AMI_UP, "logged in as '%s' at %s:%d", c->user, c->host, c->o.port);
    bool dead = false, stop = false;
    detail[0] = 0;
    while (!dead) {
        int w = wait_input(c, 500);
        if (w < 0) { stop = true; break; }
        if (is_held(c)) { stop = true; break; }       /* logs off; client_main says why */
        if (w > 0 && read_some(c, detail, sizeof detail)) dead = true;
        if (!dead) keepalive(c, &dead, detail, sizeof detail);
    }
    if (stop) {
        strbuf sb;
        sb_init(&sb);
        if (build_action(&sb, "Logoff", "faxbot-logoff", NULL, 0) == 0 && sb.data) session_write(c, sb.data, sb.len);
        sb_free(&sb);
    }
    close_session(c);
    if (!stop) set_state(c, AMI_DOWN, "%s", detail[0] ? detail : "AMI connection lost");
    return true;
}

static bool stopping(ami_client *c)
{
    pthread_mutex_lock(&c->lock);
    bool s = c->stopping;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void *client_main(void *arg)
{
    ami_client *c = arg;
    int backoff = 1000;
    while (!stopping(c)) {
        if (is_held(c)) {
            pthread_mutex_lock(&c->lock);
            char why[200];
            str_copy(why, sizeof why, c->held_why);
            pthread_mutex_unlock(&c->lock);
            set_state(c, AMI_DOWN, "%s", why);
            struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
            poll(&p, 1, 1000);
            char buf[64];
            while (read(c->wake[0], buf, sizeof buf) > 0) {}
            backoff = 1000;
            continue;
        }
        if (run_session(c)) backoff = 1000;
        if (stopping(c)) break;
        struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
        poll(&p, 1, backoff);
        backoff = backoff * 2 > c->o.max_backoff_ms ? c->o.max_backoff_ms : backoff * 2;
    }
    return NULL;
}

ami_client *ami_client_start(const ami_client_opts *o, char *err, size_t errlen)
{
    ami_client *c = calloc(1, sizeof *c);
    if (!c) { str_fmt(err, errlen, "out of memory"); return NULL; }
    c->o = *o;
    if (str_copy(c->host, sizeof c->host, o->host) || str_copy(c->user, sizeof c->user, o->username) ||
        str_copy(c->secret, sizeof c->secret, o->secret) || !value_ok(o->username) || !value_ok(o->secret)) {
        str_fmt(err, errlen, "AMI host, user name or secret is too long or holds a line break");
        free(c);
        return NULL;
    }
    c->o.host = c->host;
    c->o.username = c->user;
    c->o.secret = NULL;
    if (c->o.ping_interval_ms <= 0) c->o.ping_interval_ms = 15000;
    if (c->o.connect_timeout_ms <= 0) c->o.connect_timeout_ms = 5000;
    if (c->o.max_backoff_ms <= 0) c->o.max_backoff_ms = 30000;
    c->fd = c->sfd = -1;
    c->state = AMI_CONNECTING;
    c->held = o->start_held;
    str_copy(c->held_why, sizeof c->held_why, o->held_why ? o->held_why : "on hold");
    c->o.held_why = NULL;
    str_fmt(c->detail, sizeof c->detail, "connecting to Asterisk AMI at %s:%d", c->host, c->o.port);
    c->parser = ami_parser_new(true);
    if (!c->parser || pipe2(c->wake, O_CLOEXEC | O_NONBLOCK)) {
        str_fmt(err, errlen, "cannot set up the AMI client");
        ami_parser_free(c->parser);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->wlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&c->thread, NULL, client_main, c)) {
        str_fmt(err, errlen, "cannot start the AMI thread");
        close(c->wake[0]);
        close(c->wake[1]);
        ami_parser_free(c->parser);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->wlock);
        pthread_cond_destroy(&c->cond);
        free(c);
        return NULL;
    }
    return c;
}

void ami_client_hold(ami_client *c, bool hold, const char *why)
{
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    bool changed = c->held != hold;
    c->held = hold;
    str_copy(c->held_why, sizeof c->held_why, why ? why : "on hold");
    pthread_mutex_unlock(&c->lock);
    if (changed && write(c->wake[1], "x", 1) < 0) { /* non-blocking: a full pipe wakes it too */ }
}

void ami_client_stop(ami_client *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_mutex_unlock(&c->lock);
    if (write(c->wake[1], "x", 1) < 0) { /* the pipe is non-blocking; a full pipe wakes it too */ }
    pthread_join(c->thread, NULL);
    /* Every waiter has been released by close_session; nobody may call in any more. */
    pending *p = c->pend;
    while (p) {
        pending *n = p->next;
        ami_reply_free(&p->reply);
        free(p);
        p = n;
    }
    close(c->wake[0]);
    close(c->wake[1]);
    ami_parser_free(c->parser);
    memset(c->secret, 0, sizeof c->secret);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->wlock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

ami_state ami_client_state(ami_client *c, char *detail, size_t len)
{
    pthread_mutex_lock(&c->lock);
    ami_state st = c->state;
    if (detail && len) str_copy(detail, len, c->detail);
    pthread_mutex_unlock(&c->lock);
    return st;
}

unsigned ami_client_session(ami_client *c)
{
    pthread_mutex_lock(&c->lock);
    unsigned s = c->session;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void unlink_pending(ami_client *c, pending *p)
{
    for (pending **pp = &c->pend; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

int ami_client_action(ami_client *c, const char *action, const ami_field *params, size_t n_params,
                      const char *action_id, ami_response_hook hook, void *hook_user, int timeout_ms,
                      ami_reply *out, char *err, size_t errlen)
{
    if (out) memset(out, 0, sizeof *out);
    pending *p = calloc(1, sizeof *p);
    if (!p) { str_fmt(err, errlen, "out of memory"); return AMI_ERR_NOT_SENT; }
    pthread_mutex_lock(&c->lock);
    unsigned long n = ++c->next_id;
    pthread_mutex_unlock(&c->lock);
    if (action_id) str_copy(p->action_id, sizeof p->action_id, action_id);
    else str_fmt(p->action_id, sizeof p->action_id, "faxbot-%lu", n);
    p->hook = hook;
    p->hook_user = hook_user;
    strbuf sb;
    sb_init(&sb);
    if (build_action(&sb, action, p->action_id, params, n_params) || !sb.data) {
        sb_free(&sb);
        free(p);
        str_fmt(err, errlen, "refused to send AMI action %s: a value holds a line break", action);
        return AMI_ERR_NOT_SENT;
    }
    pthread_mutex_lock(&c->wlock);
    pthread_mutex_lock(&c->lock);
    int fd = c->fd;
    if (fd >= 0) {
        p->next = c->pend;
        c->pend = p;
    }
    pthread_mutex_unlock(&c->lock);
    int wrc = fd >= 0 ? write_all(fd, sb.data, sb.len) : -1;
    pthread_mutex_unlock(&c->wlock);
    sb_free(&sb);
    if (fd < 0) {
        free(p);
        char detail[320];
        ami_client_state(c, detail, sizeof detail);
        str_fmt(err, errlen, "Asterisk AMI is not connected: %s", detail);
        return AMI_ERR_NOT_SENT;
    }
    pthread_mutex_lock(&c->lock);
    if (wrc) {
        unlink_pending(c, p);
        pthread_mutex_unlock(&c->lock);
        free(p);
        str_fmt(err, errlen, "could not write the %s action to AMI", action);
        return AMI_ERR_LOST;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    while (!p->done) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT) break;
    }
    unlink_pending(c, p);
    pthread_mutex_unlock(&c->lock);
    int rc = 0;
    if (!p->done) {
        str_fmt(err, errlen, "no answer to the AMI %s action within %d ms", action, timeout_ms);
        rc = AMI_ERR_TIMEOUT;
    } else if (p->status) {
        str_fmt(err, errlen, "the AMI connection dropped before Asterisk answered %s", action);
        rc = p->status;
    }
    if (rc == 0 && out) *out = p->reply;
    else ami_reply_free(&p->reply);
    free(p);
    return rc;
}
