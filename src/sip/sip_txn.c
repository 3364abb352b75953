/* sip_txn.c — RFC 3261 §17 transaction state machines over UDP (see sip_txn.h).
 * One fixed array of transactions; a slot holds the message it retransmits (the
 * request for a client, the last response for a server) and two absolute deadlines:
 * the next retransmission and the end of the current state. */
#include "sip/sip_txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { TX_CLIENT_INVITE, TX_CLIENT_NONINV, TX_SERVER_INVITE, TX_SERVER_NONINV } tx_kind;
typedef enum { ST_FREE = 0, ST_TRYING, ST_PROCEEDING, ST_COMPLETED, ST_CONFIRMED, ST_ACCEPTED } tx_state;

struct sip_txn {
    tx_state state;
    uint32_t gen;             /* bumped when the slot is reused: stale ids never match */
    tx_kind kind;
    char branch[128];
    char method[32];
    char sent_by[300];      /* server: top Via host:port, part of the match key */
    sip_addr_t peer;
    char *msg;              /* client: the request; server: the last response */
    size_t msg_len;
    int last_status;
    char *ack;              /* client INVITE: the ACK for a non-2xx final */
    size_t ack_len;
    sip_msg *req;           /* server: the parsed request */
    int64_t retx_at, end_at;  /* 0 = not armed */
    int interval;
    sip_resp_fn cb;
    void *user;
};

struct sip_txn_layer {
    sip_txn_config cfg;
    sip_send_fn send;
    sip_req_fn on_request;
    void *ctx;
    sip_txn *tx;
    sip_txn_stats stats;
    sip_stray_fn on_stray;
    void *stray_ctx;
};

sip_txn_layer *sip_txn_layer_new(const sip_txn_config *cfg, sip_send_fn send, sip_req_fn on_request, void *ctx)
{
    sip_txn_layer *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->cfg = *cfg;
    if (l->cfg.t1_ms <= 0) l->cfg.t1_ms = 500;
    if (l->cfg.t2_ms <= 0) l->cfg.t2_ms = 4000;
    if (l->cfg.t4_ms <= 0) l->cfg.t4_ms = 5000;
    if (!l->cfg.max_txns) l->cfg.max_txns = 256;
    l->tx = calloc(l->cfg.max_txns, sizeof *l->tx);
    if (!l->tx) { free(l); return NULL; }
    l->send = send;
    l->on_request = on_request;
    l->ctx = ctx;
    return l;
}

static void tx_free(sip_txn *t)
{
    free(t->msg);
    free(t->ack);
    sip_msg_free(t->req);
    uint32_t gen = t->gen;
    memset(t, 0, sizeof *t);
    t->gen = gen + 1;
}

void sip_txn_layer_free(sip_txn_layer *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->cfg.max_txns; i++) {
        sip_txn *t = &l->tx[i];
        /* a client transaction still waiting hears status 0: the layer is going away */
        if (t->state && t->cb) t->cb(t->user, NULL, 0);
        tx_free(t);
    }
    free(l->tx);
    free(l);
}

void sip_new_branch(char out[32])
{
    unsigned char r[12];
    if (random_bytes(r, sizeof r)) memset(r, 0, sizeof r);
    memcpy(out, "z9hG4bK", 7);
    hex_encode(r, sizeof r, out + 7);
}

static sip_txn *tx_alloc(sip_txn_layer *l)
{
    for (size_t i = 0; i < l->cfg.max_txns; i++)
        if (l->tx[i].state == ST_FREE) return &l->tx[i];
    return NULL;
}

static int tx_send(sip_txn_layer *l, sip_txn *t, const char *buf, size_t len)
{
    return l->send(l->ctx, &t->peer, buf, len);
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) { memcpy(p, s, n); p[n] = 0; }
    return p;
}

static void sent_by_of(const sip_via *v, char *out, size_t cap)
{
    snprintf(out, cap, "%s:%d", v->host, v->port ? v->port : 5060);
}

int sip_txn_request(sip_txn_layer *l, const char *msg, size_t len, const sip_addr_t *to,
                    sip_resp_fn cb, void *user, int64_t now)
{
    sip_msg *m;
    size_t used;
    sip_parse_error err;
    if (sip_msg_parse(msg, len, false, &m, &used, &err) != SIP_PARSE_OK) return -1;
    int rc = -1;
    sip_txn *t = NULL;
    if (!m->is_request || !m->via[0].branch || strncmp(m->via[0].branch, "z9hG4bK", 7) ||
        !strcmp(m->method, "ACK") || strlen(m->via[0].branch) >= sizeof t->branch || strlen(m->method) >= sizeof t->method)
        goto out;
    t = tx_alloc(l);
    if (!t) { l->stats.dropped_table_full++; goto out; }
    t->msg = dup_bytes(msg, len);
    if (!t->msg) goto out;
    t->msg_len = len;
    t->kind = !strcmp(m->method, "INVITE") ? TX_CLIENT_INVITE : TX_CLIENT_NONINV;
    t->state = ST_TRYING;
    strcpy(t->branch, m->via[0].branch);
    strcpy(t->method, m->method);
    t->peer = *to;
    t->cb = cb;
    t->user = user;
    t->interval = l->cfg.t1_ms;
    t->retx_at = to->transport == SIP_TP_UDP ? now + t->interval : 0;   /* Timer A / E (unreliable only) */
    t->end_at = now + 64 * (int64_t)l->cfg.t1_ms;  /* Timer B / F */
    if (tx_send(l, t, t->msg, t->msg_len) && to->transport != SIP_TP_UDP) {
        tx_free(t);   /* no connection: the caller hears it now, not after Timer B/F */
        goto out;
    }
    rc = 0;
out:
    sip_msg_free(m);
    return rc;
}

/* The ACK for a non-2xx final (RFC 3261 §17.1.1.3): the request's R-URI, top Via,
 * From, Call-ID and CSeq number; the response's To. */
static void build_ack(sip_txn *t, const sip_msg *resp)
{
    sip_msg *req;
    size_t used;
    sip_parse_error err;
    if (sip_msg_parse(t->msg, t->msg_len, false, &req, &used, &err) != SIP_PARSE_OK) return;
    strbuf sb;
    sb_init(&sb);
    int rc = sip_build_request_line(&sb, "ACK", req->ruri);
    for (size_t i = 0; i < req->n_hdr && !rc; i++)
        if (req->hdr[i].id == SIP_H_VIA) { rc = sip_build_header(&sb, "Via", req->hdr[i].value); break; }
    rc |= sip_build_header(&sb, "Max-Forwards", "70");
    rc |= sip_build_header(&sb, "From", sip_msg_header(req, SIP_H_FROM));
    rc |= sip_build_header(&sb, "To", sip_msg_header(resp, SIP_H_TO));
    rc |= sip_build_header(&sb, "Call-ID", req->call_id);
    rc |= sip_build_headerf(&sb, "CSeq", "%u ACK", (unsigned)req->cseq);
    for (size_t i = 0; i < req->n_hdr && !rc; i++)
        if (req->hdr[i].id == SIP_H_ROUTE) rc |= sip_build_header(&sb, "Route", req->hdr[i].value);
    rc |= sip_build_finish(&sb, NULL, NULL, 0);
    if (!rc) {
        t->ack_len = sb.len;
        t->ack = sb_steal(&sb);
    }
    sb_free(&sb);
    sip_msg_free(req);
}

static void client_response(sip_txn_layer *l, sip_txn *t, const sip_msg *r, int64_t now)
{
    int s = r->status;
    if (t->state == ST_COMPLETED) {   /* a retransmitted final: absorb (and re-ACK) */
        l->stats.retransmissions_absorbed++;
        if (t->kind == TX_CLIENT_INVITE && t->ack) tx_send(l, t, t->ack, t->ack_len);
        return;
    }
    if (s < 200) {
        if (t->state == ST_TRYING) {
            t->state = ST_PROCEEDING;
            if (t->kind == TX_CLIENT_INVITE || t->peer.transport != SIP_TP_UDP) t->retx_at = 0;   /* Timer A stops */
            /* Timer B only runs in Calling; the TU limits ringing (CANCEL). A far end that
             * never sends a final still ends the transaction after 3 minutes (as Timer C). */
            if (t->kind == TX_CLIENT_INVITE) t->end_at = now + 180000;
            else { t->interval = l->cfg.t2_ms; t->retx_at = now + t->interval; }
        }
        if (t->cb) t->cb(t->user, r, s);
        return;
    }
    sip_resp_fn cb = t->cb;
    void *user = t->user;
    if (t->kind == TX_CLIENT_INVITE && s < 300) {
        tx_free(t);                 /* 2xx: the TU ACKs (it is a dialog matter) */
    } else {
        t->state = ST_COMPLETED;
        t->retx_at = 0;
        if (t->kind == TX_CLIENT_INVITE) {
            build_ack(t, r);
            if (t->ack) tx_send(l, t, t->ack, t->ack_len);
            t->end_at = now + 32000;                       /* Timer D (UDP) */
        } else {
            t->end_at = now + l->cfg.t4_ms;               /* Timer K */
        }
        if (t->peer.transport != SIP_TP_UDP) t->end_at = now;   /* D, K = 0 on reliable transports */
        t->cb = NULL;
    }
    if (cb) cb(user, r, s);
}

static sip_txn *match_client(sip_txn_layer *l, const sip_msg *r)
{
    if (!r->n_via || !r->via[0].branch) return NULL;
    for (size_t i = 0; i < l->cfg.max_txns; i++) {
        sip_txn *t = &l->tx[i];
        if (t->state && (t->kind == TX_CLIENT_INVITE || t->kind == TX_CLIENT_NONINV) &&
            !strcmp(t->branch, r->via[0].branch) && !strcmp(t->method, r->cseq_method))
            return t;
    }
    return NULL;
}

static sip_txn *match_server(sip_txn_layer *l, const sip_msg *r)
{
    if (!r->n_via || !r->via[0].branch) return NULL;
    char sb[300];
    sent_by_of(&r->via[0], sb, sizeof sb);
    const char *method = !strcmp(r->method, "ACK") ? "INVITE" : r->method;
    for (size_t i = 0; i < l->cfg.max_txns; i++) {
        sip_txn *t = &l->tx[i];
        if (t->state && (t->kind == TX_SERVER_INVITE || t->kind == TX_SERVER_NONINV) &&
            !strcmp(t->branch, r->via[0].branch) && !strcmp(t->method, method) && !strcasecmp(t->sent_by, sb))
            return t;
    }
    return NULL;
}

static void server_request(sip_txn_layer *l, sip_msg *r, const sip_addr_t *from, int64_t now)
{
    sip_txn *t = match_server(l, r);
    if (t) {
        if (!strcmp(r->method, "ACK")) {
            if (t->state == ST_COMPLETED) {                 /* ACK for our non-2xx */
                t->state = ST_CONFIRMED;
                t->retx_at = 0;
                t->end_at = now + (t->peer.transport == SIP_TP_UDP ? l->cfg.t4_ms : 0);   /* Timer I */
                sip_msg_free(r);
                return;
            }
            if (t->state == ST_ACCEPTED) {                  /* ACK for our 2xx: to the TU */
                t->retx_at = 0;
                l->on_request(l->ctx, NULL, r, from);
                sip_msg_free(r);
                return;
            }
        }
        /* a retransmitted request: send the last response again */
        l->stats.retransmissions_absorbed++;
        if (t->msg) tx_send(l, t, t->msg, t->msg_len);
        sip_msg_free(r);
        return;
    }
    if (!strcmp(r->method, "ACK")) {   /* ACK for a 2xx whose transaction ended */
        l->on_request(l->ctx, NULL, r, from);
        sip_msg_free(r);
        return;
    }
    if (!r->via[0].branch || strlen(r->via[0].branch) >= sizeof t->branch || strlen(r->method) >= sizeof t->method) {
        l->stats.dropped_unparsable++;
        sip_msg_free(r);
        return;
    }
    t = tx_alloc(l);
    if (!t) {
        l->stats.dropped_table_full++;
        sip_msg_free(r);
        return;
    }
    t->kind = !strcmp(r->method, "INVITE") ? TX_SERVER_INVITE : TX_SERVER_NONINV;
    t->state = ST_PROCEEDING;
    strcpy(t->branch, r->via[0].branch);
    strcpy(t->method, r->method);
    sent_by_of(&r->via[0], t->sent_by, sizeof t->sent_by);
    t->peer = *from;   /* symmetric response routing (RFC 3581): back to the source */
    t->req = r;
    t->end_at = now + 64 * (int64_t)l->cfg.t1_ms * 4;   /* the TU must answer within this */
    l->on_request(l->ctx, t, r, from);
}

int sip_txn_respond(sip_txn_layer *l, sip_txn *t, const char *msg, size_t len, int status, int64_t now)
{
    if (!t || !t->state || (t->kind != TX_SERVER_INVITE && t->kind != TX_SERVER_NONINV) || t->state != ST_PROCEEDING)
        return -1;
    char *copy = dup_bytes(msg, len);
    if (!copy) return -1;
    free(t->msg);
    t->msg = copy;
    t->msg_len = len;
    t->last_status = status;
    tx_send(l, t, msg, len);
    if (status < 200) return 0;
    t->state = t->kind == TX_SERVER_INVITE && status < 300 ? ST_ACCEPTED : ST_COMPLETED;
    bool unreliable = t->peer.transport == SIP_TP_UDP;
    if (t->kind == TX_SERVER_INVITE) {
        t->interval = l->cfg.t1_ms;
        /* Timer G (unreliable only); a 2xx is retransmitted until the ACK either way (§13.3.1.4) */
        t->retx_at = unreliable || t->state == ST_ACCEPTED ? now + t->interval : 0;
        t->end_at = now + 64 * (int64_t)l->cfg.t1_ms;     /* Timer H / L */
    } else {
        t->retx_at = 0;
        t->end_at = now + (unreliable ? 64 * (int64_t)l->cfg.t1_ms : 0);   /* Timer J */
    }
    return 0;
}

const sip_msg *sip_txn_request_of(const sip_txn *st)
{
    return st ? st->req : NULL;
}

void sip_txn_receive(sip_txn_layer *l, const char *data, size_t len, const sip_addr_t *from, int64_t now)
{
    sip_msg *m;
    size_t used;
    sip_parse_error err;
    if (sip_msg_parse(data, len, true, &m, &used, &err) != SIP_PARSE_OK) {
        l->stats.dropped_unparsable++;
        /* a refused request is answered statelessly when its key fields can be copied */
        strbuf sb;
        sb_init(&sb);
        if (sip_build_error_response(&sb, data, len, err.status, err.reason) == 0) {
            (void)l->send(l->ctx, from, sb.data, sb.len);
            l->stats.refused_answered++;
        }
        sb_free(&sb);
        return;
    }
    if (m->is_request) {
        l->stats.requests_in++;
        server_request(l, m, from, now);   /* takes m */
        return;
    }
    l->stats.responses_in++;
    sip_txn *t = match_client(l, m);
    if (t) client_response(l, t, m, now);
    else if (l->on_stray) l->on_stray(l->stray_ctx, m, from);
    else l->stats.dropped_stray++;
    sip_msg_free(m);
}

void sip_txn_tick(sip_txn_layer *l, int64_t now)
{
    for (size_t i = 0; i < l->cfg.max_txns; i++) {
        sip_txn *t = &l->tx[i];
        if (!t->state) continue;
        if (t->end_at && now >= t->end_at) {
            bool timeout = t->state == ST_TRYING || (t->state == ST_PROCEEDING && (t->kind == TX_CLIENT_INVITE || t->kind == TX_CLIENT_NONINV));
            sip_resp_fn cb = t->cb;
            void *user = t->user;
            if (timeout) l->stats.timeouts++;
            tx_free(t);
            if (timeout && cb) cb(user, NULL, 408);
            continue;
        }
        if (t->retx_at && now >= t->retx_at) {
            tx_send(l, t, t->msg, t->msg_len);
            bool capped = t->kind == TX_CLIENT_NONINV || t->kind == TX_SERVER_INVITE;
            t->interval *= 2;
            if (capped && t->interval > l->cfg.t2_ms) t->interval = l->cfg.t2_ms;
            if (t->kind == TX_CLIENT_NONINV && t->state == ST_PROCEEDING) t->interval = l->cfg.t2_ms;
            t->retx_at = now + t->interval;
        }
    }
}

int64_t sip_txn_next_due(const sip_txn_layer *l)
{
    int64_t due = -1;
    for (size_t i = 0; i < l->cfg.max_txns; i++) {
        const sip_txn *t = &l->tx[i];
        if (!t->state) continue;
        if (t->retx_at && (due < 0 || t->retx_at < due)) due = t->retx_at;
        if (t->end_at && (due < 0 || t->end_at < due)) due = t->end_at;
    }
    return due;
}

void sip_txn_get_stats(const sip_txn_layer *l, sip_txn_stats *out)
{
    *out = l->stats;
    out->active = 0;
    for (size_t i = 0; i < l->cfg.max_txns; i++) out->active += l->tx[i].state != ST_FREE;
}

void sip_txn_set_stray_handler(sip_txn_layer *l, sip_stray_fn fn, void *ctx)
{
    l->on_stray = fn;
    l->stray_ctx = ctx;
}

uint64_t sip_txn_id(const sip_txn_layer *l, const sip_txn *st)
{
    return ((uint64_t)(size_t)(st - l->tx) << 32) | st->gen;
}

sip_txn *sip_txn_by_id(sip_txn_layer *l, uint64_t id)
{
    size_t i = (size_t)(id >> 32);
    if (i >= l->cfg.max_txns) return NULL;
    sip_txn *t = &l->tx[i];
    return t->state != ST_FREE && t->gen == (uint32_t)id ? t : NULL;
}

int sip_txn_send_raw(sip_txn_layer *l, const sip_addr_t *to, const char *buf, size_t len)
{
    return l->send(l->ctx, to, buf, len);
}
