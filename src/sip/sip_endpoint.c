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

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CALLQ 64
#define MAX_TICKS 8
#define RL_SLOTS 256
#define MAX_CONNS 64
#define CONN_BUF (SIP_MAX_MSG + 4)
#define CONN_IDLE_MS 300000

/* A TCP connection: its peer and the bytes of a message not yet complete. */
typedef struct {
    int fd;                          /* -1: free */
    SSL *ssl;                        /* TLS connections */
    bool handshaking;                /* an accepted TLS connection before its handshake ended */
    sip_addr_t peer;
    char *buf;
    size_t len;
    int64_t last;
} tcp_conn;

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
    int lfd;                       /* TCP listener, -1 if none */
    int tls_lfd;                   /* TLS listener, -1 if none */
    int tls_port;
    SSL_CTX *tls_client, *tls_server;
    char tls_server_name[256];
    tcp_conn conns[MAX_CONNS];     /* loop thread only */
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

static bool same_addr(const sip_addr_t *a, const sip_addr_t *b)
{
    return a->len == b->len && !memcmp(&a->addr, &b->addr, a->len);
}

static void conn_close(tcp_conn *c)
{
    if (c->ssl) SSL_free(c->ssl);
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static tcp_conn *conn_slot(sip_endpoint *ep)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (ep->conns[i].fd < 0) return &ep->conns[i];
    return NULL;
}

static tcp_conn *conn_add(sip_endpoint *ep, int fd, const sip_addr_t *peer, int transport)
{
    tcp_conn *c = conn_slot(ep);
    char *buf = c ? malloc(CONN_BUF) : NULL;
    if (!buf) { close(fd); return NULL; }
    c->fd = fd;
    c->peer = *peer;
    c->peer.transport = transport;
    c->buf = buf;
    c->len = 0;
    c->last = mono_ms();
    return c;
}

/* An outbound connection: a non-blocking connect given up to 2 s (this blocks the loop
 * only while a trunk is unreachable over TCP; UDP needs none of it). */
static tcp_conn *conn_open(sip_endpoint *ep, const sip_addr_t *to)
{
    if (!conn_slot(ep)) return NULL;
    int fd = socket(to->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return NULL;
    if (connect(fd, (const struct sockaddr *)&to->addr, to->len) && errno != EINPROGRESS) { close(fd); return NULL; }
    struct pollfd p = {fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (poll(&p, 1, 2000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) { close(fd); return NULL; }
    if (to->transport != SIP_TP_TLS) return conn_add(ep, fd, to, SIP_TP_TCP);
    /* TLS to the trunk: the certificate must be valid for the configured name, or for
     * the address we connect to */
    if (!ep->tls_client) { close(fd); return NULL; }
    SSL *ssl = SSL_new(ep->tls_client);
    if (!ssl) { close(fd); return NULL; }
    SSL_set_fd(ssl, fd);
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (ep->tls_server_name[0]) {
        SSL_set_tlsext_host_name(ssl, ep->tls_server_name);
        X509_VERIFY_PARAM_set1_host(vp, ep->tls_server_name, 0);
    } else {
        char ip[INET6_ADDRSTRLEN] = "";
        const void *src = to->addr.ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)&to->addr)->sin_addr
                                                        : (const void *)&((const struct sockaddr_in6 *)&to->addr)->sin6_addr;
        inet_ntop(to->addr.ss_family, src, ip, sizeof ip);
        X509_VERIFY_PARAM_set1_ip_asc(vp, ip);
    }
    int64_t give_up = mono_ms() + 3000;
    for (;;) {
        int r = SSL_connect(ssl);
        if (r == 1) break;
        int e = SSL_get_error(ssl, r);
        struct pollfd w = {fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 0};
        int left = (int)(give_up - mono_ms());
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || left <= 0 || poll(&w, 1, left) != 1) {
            ERR_clear_error();
            SSL_free(ssl);
            close(fd);
            return NULL;
        }
    }
    tcp_conn *c = conn_add(ep, fd, to, SIP_TP_TLS);
    if (c) c->ssl = ssl;
    else SSL_free(ssl);
    return c;
}

static int send_all(tcp_conn *c, const char *buf, size_t len)
{
    while (len) {
        ssize_t n;
        short want = POLLOUT;
        if (c->ssl) {
            int r = SSL_write(c->ssl, buf, (int)len);
            n = r;
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    errno = EAGAIN;
                    want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                } else {
                    ERR_clear_error();
                    errno = EPIPE;
                }
                n = -1;
            }
        } else {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {c->fd, want, 0};
            if (poll(&p, 1, 1000) == 1) continue;
        }
        if (n <= 0) { conn_close(c); return -1; }
        buf += n;
        len -= (size_t)n;
    }
    c->last = mono_ms();
    return 0;
}

static int ep_send(void *ctx, const sip_addr_t *to, const char *buf, size_t len)
{
    sip_endpoint *ep = ctx;
    if (!to->len) return -1;
    if (to->transport == SIP_TP_UDP) {
        (void)sendto(ep->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&to->addr, to->len);
        return 0;
    }
    tcp_conn *c = NULL;
    for (int i = 0; i < MAX_CONNS && !c; i++)
        if (ep->conns[i].fd >= 0 && !ep->conns[i].handshaking && ep->conns[i].peer.transport == to->transport &&
            same_addr(&ep->conns[i].peer, to))
            c = &ep->conns[i];
    if (!c) c = conn_open(ep, to);
    return c ? send_all(c, buf, len) : -1;
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

static bool over_rate(sip_endpoint *ep, const char *buf, size_t len, const sip_addr_t *from, int64_t now)
{
    /* a request (not "SIP/2.0 …") from a source over its rate is dropped unread */
    bool is_response = len >= 4 && !memcmp(buf, "SIP/", 4);
    if (is_response || rate_ok(ep, from, now)) return false;
    atomic_fetch_add(&ep->rate_limited, 1);
    return true;
}

/* Reads what a connection has and hands every complete message to the layer; a
 * framing error or a message over the limit closes the connection. */
static void conn_read(sip_endpoint *ep, tcp_conn *c, int64_t now)
{
    ssize_t n;
    if (c->ssl) {
        if (c->handshaking) {
            int r = SSL_accept(c->ssl);
            if (r != 1) {
                int e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) { ERR_clear_error(); conn_close(c); }
                return;
            }
            c->handshaking = false;
            c->last = now;
        }
        if (c->len >= CONN_BUF) { conn_close(c); return; }
        int r = SSL_read(c->ssl, c->buf + c->len, (int)(CONN_BUF - c->len));
        if (r <= 0) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
            ERR_clear_error();
            conn_close(c);
            return;
        }
        n = r;
    } else {
        n = recv(c->fd, c->buf + c->len, CONN_BUF - c->len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) { conn_close(c); return; }
        if (n < 0) return;
    }
    c->len += (size_t)n;
    c->last = now;
    for (;;) {
        sip_msg *m = NULL;
        size_t used = 0;
        sip_parse_error err;
        int rc = sip_msg_parse(c->buf, c->len, false, &m, &used, &err);
        sip_msg_free(m);
        if (rc == SIP_PARSE_INCOMPLETE) {
            if (c->len >= CONN_BUF) conn_close(c);
            return;
        }
        if (rc == SIP_PARSE_ERROR) {
            /* framing is lost: answer the refused request if we can, then close */
            strbuf sb;
            sb_init(&sb);
            if (sip_build_error_response(&sb, c->buf, c->len, err.status, err.reason) == 0) send_all(c, sb.data, sb.len);
            sb_free(&sb);
            if (c->fd >= 0) conn_close(c);
            return;
        }
        sip_addr_t from = c->peer;
        if (!over_rate(ep, c->buf, used, &from, now)) sip_txn_receive(ep->txn, c->buf, used, &from, now);
        if (c->fd < 0) return;   /* closed by a failed send while answering */
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (!c->len) return;
    }
}

static void *loop(void *arg)
{
    sip_endpoint *ep = arg;
    char buf[SIP_MAX_MSG + 1];
    struct pollfd p[3 + MAX_CONNS];
    tcp_conn *pc[3 + MAX_CONNS];
    while (!atomic_load(&ep->stop)) {
        int64_t now = mono_ms();
        int64_t due = sip_txn_next_due(ep->txn);
        int timeout = 50;
        if (due >= 0 && due - now < timeout) timeout = due > now ? (int)(due - now) : 0;
        int np = 0;
        p[np++] = (struct pollfd){ep->fd, POLLIN, 0};
        p[np++] = (struct pollfd){ep->wake[0], POLLIN, 0};
        int li = -1, ti = -1;
        if (ep->lfd >= 0) { li = np; p[np++] = (struct pollfd){ep->lfd, POLLIN, 0}; }
        if (ep->tls_lfd >= 0) { ti = np; p[np++] = (struct pollfd){ep->tls_lfd, POLLIN, 0}; }
        int first_conn = np;
        for (int i = 0; i < MAX_CONNS; i++)   /* bytes OpenSSL already holds: do not wait for the socket */
            if (ep->conns[i].fd >= 0 && ep->conns[i].ssl && SSL_pending(ep->conns[i].ssl) > 0) timeout = 0;
        for (int i = 0; i < MAX_CONNS; i++)
            if (ep->conns[i].fd >= 0) { pc[np] = &ep->conns[i]; p[np++] = (struct pollfd){ep->conns[i].fd, POLLIN, 0}; }
        int n = poll(p, (nfds_t)np, timeout);
        now = mono_ms();
        if (n > 0 && (p[1].revents & POLLIN)) {
            char drain[64];
            while (read(ep->wake[0], drain, sizeof drain) > 0) {}
        }
        for (int burst = 0; n > 0 && (p[0].revents & POLLIN) && burst < 64; burst++) {
            sip_addr_t from;
            memset(&from, 0, sizeof from);
            from.len = sizeof from.addr;
            ssize_t r = recvfrom(ep->fd, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&from.addr, &from.len);
            if (r <= 0) break;
            if (!over_rate(ep, buf, (size_t)r, &from, now)) sip_txn_receive(ep->txn, buf, (size_t)r, &from, now);
        }
        for (int k = 0; k < 2; k++) {
            int idx = k ? ti : li;
            if (n <= 0 || idx < 0 || !(p[idx].revents & POLLIN)) continue;
            sip_addr_t from;
            memset(&from, 0, sizeof from);
            from.len = sizeof from.addr;
            int fd = accept4(k ? ep->tls_lfd : ep->lfd, (struct sockaddr *)&from.addr, &from.len, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) continue;
            tcp_conn *c = conn_add(ep, fd, &from, k ? SIP_TP_TLS : SIP_TP_TCP);   /* closes fd when the table is full */
            if (c && k) {
                c->ssl = SSL_new(ep->tls_server);
                if (!c->ssl) { conn_close(c); continue; }
                SSL_set_fd(c->ssl, fd);
                c->handshaking = true;   /* finished by conn_read, never blocking the loop */
            }
        }
        for (int i = first_conn; i < np; i++)
            if ((n > 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) || (pc[i]->ssl && SSL_pending(pc[i]->ssl) > 0))
                if (pc[i]->fd >= 0) conn_read(ep, pc[i], now);
        for (int i = 0; i < MAX_CONNS; i++)
            if (ep->conns[i].fd >= 0 && now - ep->conns[i].last > CONN_IDLE_MS) conn_close(&ep->conns[i]);
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

/* The TLS client context (always: outbound TLS to a trunk) and, with a certificate,
 * the server context and a listener. */
static int tls_setup(sip_endpoint *ep, const sip_endpoint_config *cfg, const sip_addr_t *bind_addr,
                     char *err, size_t errlen)
{
    ep->tls_client = SSL_CTX_new(TLS_client_method());
    if (!ep->tls_client) { snprintf(err, errlen, "cannot create a TLS context"); return -1; }
    SSL_CTX_set_min_proto_version(ep->tls_client, TLS1_2_VERSION);
    if (cfg->tls_ca_file ? SSL_CTX_load_verify_locations(ep->tls_client, cfg->tls_ca_file, NULL) != 1
                         : SSL_CTX_set_default_verify_paths(ep->tls_client) != 1) {
        snprintf(err, errlen, "cannot load the TLS CA file %s", cfg->tls_ca_file ? cfg->tls_ca_file : "(system)");
        return -1;
    }
    SSL_CTX_set_verify(ep->tls_client, SSL_VERIFY_PEER, NULL);
    snprintf(ep->tls_server_name, sizeof ep->tls_server_name, "%s", cfg->tls_server_name ? cfg->tls_server_name : "");
    if (!cfg->tls_cert_file) return 0;
    ep->tls_server = SSL_CTX_new(TLS_server_method());
    if (!ep->tls_server) { snprintf(err, errlen, "cannot create a TLS context"); return -1; }
    SSL_CTX_set_min_proto_version(ep->tls_server, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ep->tls_server, cfg->tls_cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ep->tls_server, cfg->tls_key_file ? cfg->tls_key_file : cfg->tls_cert_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ep->tls_server) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "cannot load the TLS certificate/key (%s)", cfg->tls_cert_file);
        return -1;
    }
    sip_addr_t a = *bind_addr;
    if (a.addr.ss_family == AF_INET) ((struct sockaddr_in *)&a.addr)->sin_port = htons((uint16_t)cfg->tls_port);
    else ((struct sockaddr_in6 *)&a.addr)->sin6_port = htons((uint16_t)cfg->tls_port);
    int one = 1;
    ep->tls_lfd = socket(a.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ep->tls_lfd >= 0) setsockopt(ep->tls_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ep->tls_lfd < 0 || bind(ep->tls_lfd, (struct sockaddr *)&a.addr, a.len) || listen(ep->tls_lfd, 32)) {
        snprintf(err, errlen, "cannot listen on SIP TLS port %d: %s", cfg->tls_port, strerror(errno));
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    getsockname(ep->tls_lfd, (struct sockaddr *)&bound, &bl);
    ep->tls_port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                    : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return 0;
}

int sip_endpoint_tls_port(const sip_endpoint *ep) { return ep->tls_port; }

static void set_port(sip_addr_t *a, int port)
{
    if (a->addr.ss_family == AF_INET) ((struct sockaddr_in *)&a->addr)->sin_port = htons((uint16_t)port);
    else ((struct sockaddr_in6 *)&a->addr)->sin6_port = htons((uint16_t)port);
}

/* The UDP socket and, with cfg->tcp, a TCP listener on the same port number. With
 * port 0 the kernel picks the UDP port; if that number is taken for TCP, try again. */
static int bind_udp_tcp(sip_endpoint *ep, const sip_endpoint_config *cfg, sip_addr_t *a, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < (cfg->port || !cfg->tcp ? 1 : 20); attempt++) {
        set_port(a, cfg->port);
        ep->fd = socket(a->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (ep->fd < 0 || bind(ep->fd, (struct sockaddr *)&a->addr, a->len)) {
            snprintf(err, errlen, "cannot bind SIP UDP port %d: %s", cfg->port, strerror(errno));
            return -1;
        }
        struct sockaddr_storage bound;
        socklen_t bl = sizeof bound;
        getsockname(ep->fd, (struct sockaddr *)&bound, &bl);
        ep->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                    : ((struct sockaddr_in6 *)&bound)->sin6_port);
        if (!cfg->tcp) return 0;
        set_port(a, ep->port);
        int one = 1;
        ep->lfd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (ep->lfd >= 0) setsockopt(ep->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ep->lfd >= 0 && !bind(ep->lfd, (struct sockaddr *)&a->addr, a->len) && !listen(ep->lfd, 32)) return 0;
        snprintf(err, errlen, "cannot listen on SIP TCP port %d: %s", ep->port, strerror(errno));
        if (ep->lfd >= 0) close(ep->lfd);
        close(ep->fd);
        ep->lfd = ep->fd = -1;
    }
    return -1;
}

sip_endpoint *sip_endpoint_start(const sip_endpoint_config *cfg, sip_req_fn on_request, void *ctx,
                                 char *err, size_t errlen)
{
    sip_endpoint *ep = calloc(1, sizeof *ep);
    if (!ep) { snprintf(err, errlen, "out of memory"); return NULL; }
    ep->fd = ep->wake[0] = ep->wake[1] = ep->lfd = ep->tls_lfd = -1;
    for (int i = 0; i < MAX_CONNS; i++) ep->conns[i].fd = -1;
    sip_addr_t a;
    if (sip_addr_from(cfg->bind_addr ? cfg->bind_addr : "0.0.0.0", cfg->port, &a)) {
        snprintf(err, errlen, "SIP bind address must be a numeric IP address");
        goto fail;
    }
    if (bind_udp_tcp(ep, cfg, &a, err, errlen)) goto fail;
    if (tls_setup(ep, cfg, &a, err, errlen)) goto fail;
    if (pipe2(ep->wake, O_CLOEXEC | O_NONBLOCK)) { snprintf(err, errlen, "pipe: %s", strerror(errno)); goto fail; }
    sip_txn_config tc = {.t1_ms = cfg->t1_ms, .max_txns = cfg->max_txns};
    ep->on_request = on_request;
    ep->ctx = ctx;
    ep->rate = cfg->new_requests_per_sec > 0 ? cfg->new_requests_per_sec : 20;
    ep->txn = sip_txn_layer_new(&tc, ep_send, forward_request, ep);
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
    if (ep->lfd >= 0) close(ep->lfd);
    if (ep->tls_lfd >= 0) close(ep->tls_lfd);
    SSL_CTX_free(ep->tls_client);
    SSL_CTX_free(ep->tls_server);
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
    if (ep->lfd >= 0) close(ep->lfd);
    if (ep->tls_lfd >= 0) close(ep->tls_lfd);
    for (int i = 0; i < MAX_CONNS; i++) conn_close(&ep->conns[i]);
    SSL_CTX_free(ep->tls_client);
    SSL_CTX_free(ep->tls_server);
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
    if (pthread_equal(pthread_self(), ep->thread)) {   /* on the loop: at once (safe while ticking) */
        for (int i = 0; i < MAX_TICKS; i++)
            if (ep->ticks[i].fn == fn && ep->ticks[i].arg == arg) ep->ticks[i].fn = NULL;
        return;
    }
    loop_call *c = malloc(sizeof *c);
    if (!c) return;
    *c = (loop_call){fn, arg};
    if (sip_endpoint_call(ep, remove_tick, c)) free(c);
}

void sip_endpoint_set_request_handler(sip_endpoint *ep, sip_req_fn fn, void *ctx)
{
    ep->on_request = fn;
    ep->ctx = ctx;
}
