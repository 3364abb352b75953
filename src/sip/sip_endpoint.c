/* sip_endpoint.c — UDP socket + poll loop thread + transaction layer + per-source
 * rate limit (see sip_endpoint.h). */
#include "sip/sip_endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CALLQ 64
#define MAX_TICKS 8
#define RL_SLOTS 256

typedef struct { sip_loop_fn fn; void *arg; } loop_call;
typedef struct { struct sockaddr_storage who; double tokens; int64_t at; bool used; } rl_slot;

struct sip_endpoint {
    int fd;
    int wake[2];
    int port;
    pthread_t thread;
    atomic_bool stop;
    sip_txn_layer *txn;
    sip_req_fn on_request;
    void *ctx;
    pthread_mutex_t mu;            /* guards callq */
    loop_call callq[CALLQ];
    int ncall;
    loop_call ticks[MAX_TICKS];    /* loop thread only */
    rl_slot rl[RL_SLOTS];
    double rate;
    atomic_ullong rate_limited;
};

int sip_addr_from(const char *host, int port, sip_addr_t *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        out->len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        out->len = sizeof *a6;
        return 0;
    }
    return -1;
}

static void udp_send(void *ctx, const sip_addr_t *to, const char *buf, size_t len)
{
    sip_endpoint *ep = ctx;
    if (to->len) (void)sendto(ep->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&to->addr, to->len);
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

/* A token bucket per source address for new requests (responses are never limited:
 * they only match transactions we started). The table is bounded; the stalest slot
 * is reused. */
static bool rate_ok(sip_endpoint *ep, const sip_addr_t *from, int64_t now)
{
    rl_slot *s = NULL, *oldest = &ep->rl[0];
    for (int i = 0; i < RL_SLOTS; i++) {
        rl_slot *r = &ep->rl[i];
        if (r->used && same_host(&r->who, &from->addr)) { s = r; break; }
        if (!r->used || r->at < oldest->at) oldest = r;
    }
    if (!s) {
        s = oldest;
        s->used = true;
        s->who = from->addr;
        s->tokens = 2 * ep->rate;
        s->at = now;
    }
    s->tokens += (double)(now - s->at) * ep->rate / 1000.0;
    if (s->tokens > 2 * ep->rate) s->tokens = 2 * ep->rate;
    s->at = now;
    if (s->tokens < 1) return false;
    s->tokens -= 1;
    return true;
}

static void *loop(void *arg)
{
    sip_endpoint *ep = arg;
    char buf[SIP_MAX_MSG + 1];
    while (!atomic_load(&ep->stop)) {
        int64_t now = mono_ms();
        int64_t due = sip_txn_next_due(ep->txn);
        int timeout = 50;
        if (due >= 0 && due - now < timeout) timeout = due > now ? (int)(due - now) : 0;
        struct pollfd p[2] = {{ep->fd, POLLIN, 0}, {ep->wake[0], POLLIN, 0}};
        int n = poll(p, 2, timeout);
        now = mono_ms();
        if (n > 0 && (p[1].revents & POLLIN)) {
            char drain[64];
            while (read(ep->wake[0], drain, sizeof drain) > 0) {}
        }
        for (int burst = 0; n > 0 && (p[0].revents & POLLIN) && burst < 64; burst++) {
            sip_addr_t from;
            from.len = sizeof from.addr;
            ssize_t r = recvfrom(ep->fd, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&from.addr, &from.len);
            if (r <= 0) break;
            /* a request (not "SIP/2.0 …") from a source over its rate is dropped unread */
            bool is_response = r >= 4 && !memcmp(buf, "SIP/", 4);
            if (!is_response && !rate_ok(ep, &from, now)) {
                atomic_fetch_add(&ep->rate_limited, 1);
                continue;
            }
            sip_txn_receive(ep->txn, buf, (size_t)r, &from, now);
        }
        pthread_mutex_lock(&ep->mu);
        loop_call calls[CALLQ];
        int nc = ep->ncall;
        memcpy(calls, ep->callq, (size_t)nc * sizeof *calls);
        ep->ncall = 0;
        pthread_mutex_unlock(&ep->mu);
        for (int i = 0; i < nc; i++) calls[i].fn(ep, calls[i].arg, now);
        sip_txn_tick(ep->txn, now);
        for (int i = 0; i < MAX_TICKS; i++)
            if (ep->ticks[i].fn) ep->ticks[i].fn(ep, ep->ticks[i].arg, now);
    }
    return NULL;
}

static void forward_request(void *ctx, sip_txn *st, const sip_msg *req, const sip_addr_t *from)
{
    sip_endpoint *ep = ctx;
    if (ep->on_request) ep->on_request(ep->ctx, st, req, from);
}

sip_endpoint *sip_endpoint_start(const sip_endpoint_config *cfg, sip_req_fn on_request, void *ctx,
                                 char *err, size_t errlen)
{
    sip_endpoint *ep = calloc(1, sizeof *ep);
    if (!ep) { snprintf(err, errlen, "out of memory"); return NULL; }
    ep->fd = ep->wake[0] = ep->wake[1] = -1;
    sip_addr_t a;
    if (sip_addr_from(cfg->bind_addr ? cfg->bind_addr : "0.0.0.0", cfg->port, &a)) {
        snprintf(err, errlen, "SIP bind address must be a numeric IP address");
        goto fail;
    }
    ep->fd = socket(a.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ep->fd < 0 || bind(ep->fd, (struct sockaddr *)&a.addr, a.len)) {
        snprintf(err, errlen, "cannot bind SIP UDP port %d: %s", cfg->port, strerror(errno));
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    getsockname(ep->fd, (struct sockaddr *)&bound, &bl);
    ep->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                : ((struct sockaddr_in6 *)&bound)->sin6_port);
    if (pipe2(ep->wake, O_CLOEXEC | O_NONBLOCK)) { snprintf(err, errlen, "pipe: %s", strerror(errno)); goto fail; }
    sip_txn_config tc = {.t1_ms = cfg->t1_ms, .max_txns = cfg->max_txns};
    ep->on_request = on_request;
    ep->ctx = ctx;
    ep->rate = cfg->new_requests_per_sec > 0 ? cfg->new_requests_per_sec : 20;
    ep->txn = sip_txn_layer_new(&tc, udp_send, forward_request, ep);
    if (!ep->txn) { snprintf(err, errlen, "out of memory"); goto fail; }
    pthread_mutex_init(&ep->mu, NULL);
    if (pthread_create(&ep->thread, NULL, loop, ep)) {
        snprintf(err, errlen, "cannot start the SIP thread");
        pthread_mutex_destroy(&ep->mu);
        goto fail;
    }
    return ep;
fail:
    if (ep->fd >= 0) close(ep->fd);
    if (ep->wake[0] >= 0) { close(ep->wake[0]); close(ep->wake[1]); }
    sip_txn_layer_free(ep->txn);
    free(ep);
    return NULL;
}

void sip_endpoint_stop(sip_endpoint *ep)
{
    if (!ep) return;
    atomic_store(&ep->stop, true);
    (void)!write(ep->wake[1], "x", 1);
    pthread_join(ep->thread, NULL);
    close(ep->fd);
    close(ep->wake[0]);
    close(ep->wake[1]);
    sip_txn_layer_free(ep->txn);
    pthread_mutex_destroy(&ep->mu);
    free(ep);
}

int sip_endpoint_port(const sip_endpoint *ep) { return ep->port; }
sip_txn_layer *sip_endpoint_txn(sip_endpoint *ep) { return ep->txn; }
uint64_t sip_endpoint_rate_limited(const sip_endpoint *ep) { return atomic_load(&((sip_endpoint *)ep)->rate_limited); }

int sip_endpoint_call(sip_endpoint *ep, sip_loop_fn fn, void *arg)
{
    pthread_mutex_lock(&ep->mu);
    int rc = -1;
    if (ep->ncall < CALLQ) {
        ep->callq[ep->ncall++] = (loop_call){fn, arg};
        rc = 0;
    }
    pthread_mutex_unlock(&ep->mu);
    if (!rc) (void)!write(ep->wake[1], "x", 1);
    return rc;
}

static void add_tick(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)now;
    loop_call *c = arg;
    for (int i = 0; i < MAX_TICKS; i++)
        if (!ep->ticks[i].fn) { ep->ticks[i] = *c; break; }
    free(c);
}

static void remove_tick(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)now;
    loop_call *c = arg;
    for (int i = 0; i < MAX_TICKS; i++)
        if (ep->ticks[i].fn == c->fn && ep->ticks[i].arg == c->arg) ep->ticks[i].fn = NULL;
    free(c);
}

int sip_endpoint_add_tick(sip_endpoint *ep, sip_loop_fn fn, void *arg)
{
    loop_call *c = malloc(sizeof *c);
    if (!c) return -1;
    *c = (loop_call){fn, arg};
    if (sip_endpoint_call(ep, add_tick, c)) { free(c); return -1; }
    return 0;
}

void sip_endpoint_remove_tick(sip_endpoint *ep, sip_loop_fn fn, void *arg)
{
    loop_call *c = malloc(sizeof *c);
    if (!c) return;
    *c = (loop_call){fn, arg};
    if (sip_endpoint_call(ep, remove_tick, c)) free(c);
}
