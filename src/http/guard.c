/* guard.c — the connection guard (see guard.h). One thread runs an epoll loop over
 * the listening socket and the connections whose request head has not arrived yet;
 * the same loop, twice a second, enforces the deadlines of all connections.
 *
 * Why it exists: libmicrohttpd answers some malformed requests itself (with HTML
 * bodies, sometimes twice), accepts bare LF, NUL bytes and both Content-Length and
 * Transfer-Encoding, leaves new clients in the kernel backlog when its connection
 * limit is reached, and closes only idle connections. Peeking lets the guard judge
 * the head while leaving the bytes for libmicrohttpd to parse; since every response
 * carries "Connection: close" (server.c), every request that libmicrohttpd parses
 * has been judged here first.
 *
 * Full house: when max_connections are open, a newcomer is still let in if some
 * connection is still sending its request (head or body): the oldest of those from
 * the address holding the most of them is closed. Only when every connection is
 * busy being answered does the newcomer get a 503. So a flood of slow clients from
 * a few addresses cannot keep a fresh address out. */
#include "http/guard.h"
#include "http/head_check.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define GUARD_TICK_MS 200
#define GUARD_LINGER_MS 1000       /* after our own answer: drain what the client still sends */

typedef enum { CONN_HEAD, CONN_LINGER, CONN_BODY, CONN_WORK } conn_phase;

#define IP_BUCKETS 256

typedef struct ip_count {
    struct ip_count *next;
    int n;
    char ip[INET6_ADDRSTRLEN];
} ip_count;

struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    bool counted;                /* in the open-connection counts (not lingering, not cut) */
    bool cut;                    /* shut down by a deadline (once) */
    bool attached;               /* libmicrohttpd announced it */
    conn_phase phase;
    int64_t accepted_ms;         /* monotonic */
    int64_t phase_ms;            /* when the current phase began */
    _Atomic uint64_t body_bytes;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char ip[INET6_ADDRSTRLEN];
};

struct http_guard {
    http_guard_opts opts;
    int listen_fd;
    int epoll_fd;
    int reserve_fd;              /* spare descriptor for answering when out of fds */
    int port;
    pthread_t thread;
    bool running;
    _Atomic bool stop;
    pthread_mutex_t lock;        /* the list and each conn's phase/fd/attached */
    http_conn *conns;
    /* Kept with the list so that accepting and attaching a connection cost the same
     * with thousands of long-lived ones (event streams) open: the counts of counted
     * connections, in all and per address, and the connection of each socket. */
    int n_counted;
    struct ip_count *ip_buckets[IP_BUCKETS];
    http_conn **by_fd;
    int by_fd_cap;
    char *peek;                  /* max_head + 1 bytes, guard thread only */
    int evicted;                 /* since the last sweep, guard thread only */
    char evicted_ip[INET6_ADDRSTRLEN];
    int evicted_ip_count;
    int refused_per_ip;          /* 429s since the last sweep */
    char refused_ip[INET6_ADDRSTRLEN];
};

static const char *reason(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

size_t guard_format_error(char *out, size_t outlen, int status, const char *msg)
{
    char body[256];
    size_t bl = 0;
    bl += (size_t)snprintf(body, sizeof body, "{\"detail\":\"");
    for (const char *p = msg; *p && bl + 8 < sizeof body; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            body[bl++] = '\\';
        body[bl++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    bl += (size_t)snprintf(body + bl, sizeof body - bl, "\"}");
    int n = snprintf(out, outlen,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n%s",
                     status, reason(status), bl, status == 503 || status == 429 ? "Retry-After: 1\r\n" : "", body);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

/* ---- the list (callers hold g->lock) ---- */

static ip_count **ip_count_find(http_guard *g, const char *ip)
{
    uint32_t h = 2166136261u;                      /* FNV-1a */
    for (const char *p = ip; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    ip_count **pp = &g->ip_buckets[h % IP_BUCKETS];
    while (*pp && strcmp((*pp)->ip, ip)) pp = &(*pp)->next;
    return pp;
}

/* Counted connections of this address. */
static int ip_connections(http_guard *g, const char *ip)
{
    ip_count *e = *ip_count_find(g, ip);
    return e ? e->n : 0;
}

static void ip_add(http_guard *g, const char *ip, int delta)
{
    ip_count **pp = ip_count_find(g, ip);
    if (!*pp) {
        if (delta <= 0 || !(*pp = calloc(1, sizeof **pp))) return;
        str_copy((*pp)->ip, sizeof (*pp)->ip, ip);
    }
    (*pp)->n += delta;
    if ((*pp)->n <= 0) {
        ip_count *dead = *pp;
        *pp = dead->next;
        free(dead);
    }
}

/* Takes c out of the counts (it lingers after our answer, or was cut). */
static void conn_uncount(http_guard *g, http_conn *c)
{
    if (!c->counted) return;
    c->counted = false;
    g->n_counted--;
    ip_add(g, c->ip, -1);
}

/* The socket -> connection index (guard_attach). */
static void by_fd_put(http_guard *g, http_conn *c)
{
    if (c->fd >= g->by_fd_cap) {
        int cap = g->by_fd_cap ? g->by_fd_cap : 1024;
        while (cap <= c->fd) cap *= 2;
        http_conn **grown = realloc(g->by_fd, sizeof *grown * (size_t)cap);
        if (grown) {
            memset(grown + g->by_fd_cap, 0, sizeof *grown * (size_t)(cap - g->by_fd_cap));
            g->by_fd = grown;
            g->by_fd_cap = cap;
        }
    }
    if (c->fd >= 0 && c->fd < g->by_fd_cap) g->by_fd[c->fd] = c;
}

static void by_fd_drop(http_guard *g, http_conn *c)
{
    if (c->fd >= 0 && c->fd < g->by_fd_cap && g->by_fd[c->fd] == c) g->by_fd[c->fd] = NULL;
}

static void conn_link(http_guard *g, http_conn *c)
{
    c->prev = NULL;
    c->next = g->conns;
    if (c->next)
        c->next->prev = c;
    g->conns = c;
    c->counted = true;
    g->n_counted++;
    ip_add(g, c->ip, 1);
    by_fd_put(g, c);
}

static void conn_unlink(http_guard *g, http_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    conn_uncount(g, c);
    by_fd_drop(g, c);
}

static bool receiving(const http_conn *c)
{
    return !c->cut && (c->phase == CONN_HEAD || c->phase == CONN_BODY);
}

/* ---- connections the guard still owns ---- */

static void conn_close(http_guard *g, http_conn *c)
{
    epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    conn_unlink(g, c);
    close(c->fd);
    free(c);
}

/* Writes our answer, then lets the client finish sending (so closing does not reset
 * the connection before it has read the answer). */
static void conn_answer(http_guard *g, http_conn *c, int status, const char *msg)
{
    char buf[512];
    size_t n = guard_format_error(buf, sizeof buf, status, msg);
    if (n) {
        ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
        (void)w;                 /* best effort: a fresh socket's buffer takes it */
    }
    shutdown(c->fd, SHUT_WR);
    c->phase = CONN_LINGER;
    conn_uncount(g, c);
    c->phase_ms = mono_ms();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(g->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        conn_close(g, c);
}

/* A shut-down request of ours or a closed client: drop what arrived. */
static void conn_drain(http_guard *g, http_conn *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(g, c);
        return;
    }
}

/* Called with the lock held; the lock is released during the hand-off. A chunked
 * request goes through a relay (relay.c) so its body's framing is checked too. */
static void conn_hand_off(http_guard *g, http_conn *c, const http_head_info *info)
{
    epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    if (info->chunked) {
        int mhd_fd;
        if (guard_relay_start(c->fd, info->head_len, g->opts.head_timeout_s, &mhd_fd) != 0) {
            log_warn("http: cannot start a relay for a chunked request from %s", c->ip);
            char answer[512];
            size_t n = guard_format_error(answer, sizeof answer, 503,
                                          "The server cannot take a chunked body right now; try again shortly");
            ssize_t w = send(c->fd, answer, n, MSG_NOSIGNAL);
            (void)w;
            conn_close(g, c);
            return;
        }
        by_fd_drop(g, c);
        c->fd = mhd_fd;          /* the relay owns the client's socket now */
        by_fd_put(g, c);
    }
    c->phase = (info->chunked || info->content_length > 0) ? CONN_BODY : CONN_WORK;
    c->phase_ms = mono_ms();
    int fd = c->fd;
    struct sockaddr_storage sa = c->addr;
    socklen_t sl = c->addr_len;
    pthread_mutex_unlock(&g->lock);
    int rc = g->opts.hand_off(g->opts.ctx, fd, (const struct sockaddr *)&sa, sl);
    pthread_mutex_lock(&g->lock);
    if (rc == 0)
        return;                  /* c may be gone already: libmicrohttpd owns it now */
    for (http_conn *d = g->conns; d; d = d->next)
        if (d == c && !c->attached) {   /* refused and closed by libmicrohttpd */
            conn_unlink(g, c);
            free(c);
            break;
        }
}

static void conn_readable(http_guard *g, http_conn *c, bool peer_closed)
{
    if (c->phase == CONN_LINGER) {
        conn_drain(g, c);
        return;
    }
    size_t cap = g->opts.max_head + 1;
    ssize_t n = recv(c->fd, g->peek, cap, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {                /* the client went away before sending a head */
        conn_close(g, c);
        return;
    }
    http_head_info info;
    char detail[128];
    int rc = http_head_check(g->peek, (size_t)n, g->opts.max_head, &info, detail, sizeof detail);
    if (rc == HTTP_HEAD_INCOMPLETE) {
        if (peer_closed) {       /* the client stopped sending: the head never completes */
            char sink[4096];
            while (recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {}
            conn_close(g, c);
        }
        return;                  /* edge-triggered: the next segment wakes us */
    }
    if (rc == HTTP_HEAD_OK) {
        conn_hand_off(g, c, &info);
        return;
    }
    log_info("http: refused a request from %s: %d %s", c->ip, rc, detail);
    conn_answer(g, c, rc, detail);
}

/* Full house: closes the oldest still-receiving connection of the address that
 * holds the most of them. Returns false when there is none. One pass with a small
 * hash table of addresses, so a burst of newcomers at the limit stays cheap. */
typedef struct ip_slot {
    const char *ip;
    int count;
    http_conn *oldest;
} ip_slot;

static bool evict_one(http_guard *g)
{
    size_t n = 0;
    for (http_conn *c = g->conns; c; c = c->next)
        n += receiving(c);
    if (n == 0)
        return false;
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    ip_slot *t = calloc(cap, sizeof *t);
    http_conn *victim = NULL;
    int victim_count = 0;
    for (http_conn *c = g->conns; c; c = c->next) {
        if (!receiving(c))
            continue;
        if (!t) {                /* out of memory: the oldest unfinished request at all */
            if (!victim || c->accepted_ms < victim->accepted_ms)
                victim = c;
            victim_count = 1;
            continue;
        }
        uint64_t h = 1469598103934665603ull;
        for (const char *p = c->ip; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        size_t i = (size_t)h & (cap - 1);
        while (t[i].ip && strcmp(t[i].ip, c->ip) != 0)
            i = (i + 1) & (cap - 1);
        t[i].ip = c->ip;
        t[i].count++;
        if (!t[i].oldest || c->accepted_ms < t[i].oldest->accepted_ms)
            t[i].oldest = c;
    }
    for (size_t i = 0; t && i < cap; i++)
        if (t[i].ip && (t[i].count > victim_count ||
                        (t[i].count == victim_count && t[i].oldest->accepted_ms < victim->accepted_ms))) {
            victim = t[i].oldest;
            victim_count = t[i].count;
        }
    free(t);
    g->evicted++;                /* logged by sweep, at most twice a second */
    str_copy(g->evicted_ip, sizeof g->evicted_ip, victim->ip);
    g->evicted_ip_count = victim_count;
    if (victim->phase == CONN_HEAD) {
        conn_close(g, victim);
    } else {                     /* libmicrohttpd's: it notices and closes */
        shutdown(victim->fd, SHUT_RDWR);
        victim->cut = true;
        conn_uncount(g, victim);
    }
    return true;
}

static void accept_one(http_guard *g, int fd, const struct sockaddr_storage *sa, socklen_t sl)
{
    http_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->addr = *sa;
    c->addr_len = sl;
    c->accepted_ms = c->phase_ms = mono_ms();
    c->phase = CONN_HEAD;
    const void *in = sa->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                               : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->ss_family, in, c->ip, sizeof c->ip))
        str_copy(c->ip, sizeof c->ip, "unknown");

    pthread_mutex_lock(&g->lock);
    int total = g->n_counted, same = ip_connections(g, c->ip);   /* open, neither lingering nor cut */
    /* decided before the newcomer is on the list, so it is never its own victim */
    bool per_ip_full = g->opts.max_per_ip > 0 && same >= g->opts.max_per_ip;
    bool all_busy = !per_ip_full && g->opts.max_connections > 0 && total >= g->opts.max_connections &&
                    !evict_one(g);
    conn_link(g, c);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        conn_unlink(g, c);
        close(fd);
        free(c);
    } else if (per_ip_full) {
        g->refused_per_ip++;     /* logged by sweep */
        str_copy(g->refused_ip, sizeof g->refused_ip, c->ip);
        conn_answer(g, c, 429, "Too many connections from your address");
    } else if (all_busy) {
        log_warn("http: %d connections open, all busy; answered 503 to %s", total, c->ip);
        conn_answer(g, c, 503, "The server is at its connection limit; try again shortly");
    } else {
        conn_readable(g, c, false); /* the head may be here already */
    }
    pthread_mutex_unlock(&g->lock);
}

static void accept_all(http_guard *g)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(g->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(g, fd, &sa, sl);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if ((errno == EMFILE || errno == ENFILE) && g->reserve_fd >= 0) {
            /* out of descriptors: answer one client with the spare so it is not left hanging */
            close(g->reserve_fd);
            g->reserve_fd = -1;
            fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                char buf[512];
                size_t n = guard_format_error(buf, sizeof buf, 503, "The server is out of file descriptors; try again shortly");
                ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w;
                close(fd);
            }
            g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            log_warn("http: out of file descriptors; raise the open-file limit or lower FAXBOT_MAX_CONNECTIONS");
        }
        return;                  /* EAGAIN, or an error to retry on the next wakeup */
    }
}

/* Twice a second: the deadlines. */
static void sweep(http_guard *g)
{
    int64_t now = mono_ms();
    int64_t head_ms = (int64_t)g->opts.head_timeout_s * 1000;
    int64_t req_ms = (int64_t)g->opts.request_timeout_s * 1000;
    int heads = 0, slow = 0, late = 0;
    pthread_mutex_lock(&g->lock);
    http_conn *next;
    for (http_conn *c = g->conns; c; c = next) {
        next = c->next;
        if (c->phase == CONN_LINGER) {
            if (now - c->phase_ms > GUARD_LINGER_MS)
                conn_close(g, c);
            continue;
        }
        if (c->phase == CONN_HEAD) {
            if (now - c->accepted_ms >= head_ms) {
                /* read what was peeked so closing ends the connection with a FIN,
                 * not a reset */
                char sink[4096];
                while (recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {}
                conn_close(g, c);
                heads++;
            }
            continue;
        }
        if (c->phase != CONN_BODY || c->cut)
            continue;
        bool cut = false;
        if (req_ms > 0 && now - c->accepted_ms >= req_ms) {
            cut = true;
            late++;
        } else if (g->opts.min_body_rate > 0) {
            int64_t over = now - c->phase_ms - head_ms;      /* the grace is the head timeout */
            uint64_t want = over > 0 ? (uint64_t)over * (uint64_t)g->opts.min_body_rate / 1000 : 0;
            if (over > 0 && atomic_load(&c->body_bytes) < want) {
                cut = true;
                slow++;
            }
        }
        if (cut) {
            shutdown(c->fd, SHUT_RDWR);
            c->cut = true;
            conn_uncount(g, c);
        }
    }
    pthread_mutex_unlock(&g->lock);
    if (g->evicted)
        log_info("http: connection limit reached; closed the oldest unfinished request of %d connection%s "
                 "(the last from %s, which had %d unfinished)", g->evicted, g->evicted == 1 ? "" : "s",
                 g->evicted_ip, g->evicted_ip_count);
    g->evicted = 0;
    if (g->refused_per_ip)
        log_info("http: refused %d connection%s from addresses already holding %d (the last from %s)",
                 g->refused_per_ip, g->refused_per_ip == 1 ? "" : "s", g->opts.max_per_ip, g->refused_ip);
    g->refused_per_ip = 0;
    if (heads)
        log_info("http: closed %d connection%s that sent no complete request head within %d s", heads,
                 heads == 1 ? "" : "s", g->opts.head_timeout_s);
    if (slow)
        log_info("http: closed %d connection%s sending a body slower than %d bytes/s", slow,
                 slow == 1 ? "" : "s", g->opts.min_body_rate);
    if (late)
        log_info("http: closed %d connection%s whose request was not complete within %d s", late,
                 late == 1 ? "" : "s", g->opts.request_timeout_s);
}

static void *guard_main(void *arg)
{
    http_guard *g = arg;
    struct epoll_event evs[64];
    int64_t next_sweep = mono_ms() + GUARD_TICK_MS;
    while (!atomic_load(&g->stop)) {
        int n = epoll_wait(g->epoll_fd, evs, 64, GUARD_TICK_MS);
        bool listener = false;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                listener = true;
                continue;
            }
            pthread_mutex_lock(&g->lock);
            conn_readable(g, evs[i].data.ptr, (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
            pthread_mutex_unlock(&g->lock);
        }
        /* accepting may close (evict) connections: only after this batch's events */
        if (listener)
            accept_all(g);
        if (mono_ms() >= next_sweep) {
            sweep(g);
            next_sweep = mono_ms() + GUARD_TICK_MS;
        }
    }
    return NULL;
}

/* ---- libmicrohttpd's side ---- */

http_conn *guard_attach(http_guard *g, int fd)
{
    pthread_mutex_lock(&g->lock);
    http_conn *c = fd >= 0 && fd < g->by_fd_cap ? g->by_fd[fd] : NULL;
    if (c && !(c->fd == fd && !c->attached && (c->phase == CONN_BODY || c->phase == CONN_WORK)))
        c = NULL;
    if (c)
        c->attached = true;
    pthread_mutex_unlock(&g->lock);
    return c;
}

void guard_detach(http_guard *g, http_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    conn_unlink(g, c);
    pthread_mutex_unlock(&g->lock);
    free(c);
}

void guard_body_done(http_guard *g, http_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->phase == CONN_BODY)
        c->phase = CONN_WORK;
    pthread_mutex_unlock(&g->lock);
}

void guard_body_bytes(http_conn *c, size_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->body_bytes, n, memory_order_relaxed);
}

/* ---- start / stop ---- */

http_guard *guard_start(const http_guard_opts *opts, char *err, size_t errlen)
{
    http_guard *g = calloc(1, sizeof *g);
    if (!g || !(g->peek = malloc(opts->max_head + 1))) {
        free(g);
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    g->opts = *opts;
    if (g->opts.head_timeout_s <= 0)
        g->opts.head_timeout_s = 30;
    g->epoll_fd = -1;
    g->reserve_fd = -1;
    pthread_mutex_init(&g->lock, NULL);
    g->listen_fd = socket(opts->addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (g->listen_fd < 0 || setsockopt(g->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (opts->addr->sa_family == AF_INET6 &&
         setsockopt(g->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(g->listen_fd, opts->addr, opts->addr_len) != 0 || listen(g->listen_fd, 1024) != 0) {
        str_fmt(err, errlen, "%s", strerror(errno));
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (getsockname(g->listen_fd, (struct sockaddr *)&bound, &bl) == 0)
        g->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    g->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (g->epoll_fd < 0 || epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, g->listen_fd, &ev) != 0) {
        str_fmt(err, errlen, "epoll: %s", strerror(errno));
        goto fail;
    }
    g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (opts->publish) *opts->publish = g;
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        str_fmt(err, errlen, "cannot start the connection guard thread");
        goto fail;
    }
    g->running = true;
    return g;
fail:
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    guard_free(g);
    return NULL;
}

int guard_port(const http_guard *g)
{
    return g ? g->port : -1;
}

void guard_stop(http_guard *g)
{
    if (!g)
        return;
    if (g->running) {
        atomic_store(&g->stop, true);
        pthread_join(g->thread, NULL);
        g->running = false;
    }
    close(g->listen_fd);
    g->listen_fd = -1;
    pthread_mutex_lock(&g->lock);
    http_conn *next;
    for (http_conn *c = g->conns; c; c = next) {
        next = c->next;
        if (c->phase == CONN_HEAD || c->phase == CONN_LINGER)
            conn_close(g, c);
    }
    pthread_mutex_unlock(&g->lock);
}

void guard_free(http_guard *g)
{
    if (!g)
        return;
    if (g->epoll_fd >= 0)
        close(g->epoll_fd);
    if (g->reserve_fd >= 0)
        close(g->reserve_fd);
    pthread_mutex_destroy(&g->lock);
    for (int i = 0; i < IP_BUCKETS; i++) {
        while (g->ip_buckets[i]) {
            ip_count *next = g->ip_buckets[i]->next;
            free(g->ip_buckets[i]);
            g->ip_buckets[i] = next;
        }
    }
    free(g->by_fd);
    free(g->peek);
    free(g);
}
