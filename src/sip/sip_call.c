/* sip_call.c — INVITE dialogs for the trunk (see sip_call.h). A fixed table of calls;
 * every client transaction carries a small context (call slot + generation + what
 * the request was), so a response that arrives after its call ended is ignored. */
#include "sip/sip_call.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_digest.h"

#define LADDER_MAX 48
#define MAX_ROUTES 4

typedef enum { C_FREE = 0, C_CALLING, C_EARLY, C_WAIT_ACK, C_UP } cstate;
typedef enum { RQ_INVITE, RQ_REINVITE, RQ_BYE, RQ_CANCEL } rq_kind;

struct sip_call {
    sip_ua *ua;
    uint32_t gen;
    cstate st;
    bool inbound;
    void *user;
    char call_id[128], local_tag[24];
    char local_party[512];     /* our From (outbound) / To (inbound) value, with our tag */
    char remote_party[512];    /* their To (outbound, tag from the 2xx) / From (inbound) value */
    char remote_target[512];   /* their Contact URI */
    char routes[MAX_ROUTES][512];
    int n_routes;
    uint32_t local_cseq;
    /* outbound INVITE, for CANCEL and the auth retry */
    char invite_ruri[512], invite_branch[32], invite_to[512];
    uint32_t invite_cseq;
    bool got_provisional, cancel_wanted, cancel_sent, ring_timed_out, auth_tried, hangup_wanted;
    sip_end_reason bye_reason;  /* how the call ends when our BYE is answered */
    char *ack;                 /* the ACK for the last 2xx we got (re-sent on retransmissions) */
    size_t ack_len;
    /* media */
    sdp_local local;
    char local_addr[64];
    sdp_kind offered;
    sdp_negotiated media, pending;
    bool reinvite_out, reinvite_in;
    bool late;                 /* the INVITE being answered had no SDP: our 2xx offers, the ACK answers */
    /* inbound: the INVITE being answered */
    uint64_t inv_st;
    char inv_branch[128];
    sdp_session offer;
    int64_t started, ring_deadline, ack_deadline;
    struct { int64_t ms; char dir; char what[20]; } ladder[LADDER_MAX];
    int n_ladder;
};

struct sip_ua {
    sip_endpoint *ep;
    sip_call_events ev;
    void *user;
    sip_addr_t trunk;
    char trunk_host[64], domain[128], from_user[128], from_display[128], auth_user[128], password[128], local_host[64];
    int transport, ring_timeout_s;
    size_t max_calls;
    sip_call *calls;
};

typedef struct { sip_call *c; uint32_t gen; rq_kind kind; } rq_ctx;

static const char *const reason_names[] = {
    "none", "hangup_local", "hangup_remote", "busy", "no_answer", "declined", "invalid_number",
    "not_acceptable", "auth_failed", "timeout", "unavailable", "failed",
};

const char *sip_end_reason_name(sip_end_reason r)
{
    return (size_t)r < sizeof reason_names / sizeof *reason_names ? reason_names[r] : "failed";
}

sip_end_reason sip_end_reason_for_status(int s)
{
    switch (s) {
    case 486: case 600: return SIP_END_BUSY;
    case 480: case 408: return SIP_END_NO_ANSWER;
    case 603: case 403: return SIP_END_DECLINED;
    case 404: case 484: case 604: return SIP_END_INVALID_NUMBER;
    case 488: case 606: case 415: return SIP_END_NOT_ACCEPTABLE;
    case 401: case 407: return SIP_END_AUTH_FAILED;
    case 500: case 502: case 503: case 504: return SIP_END_UNAVAILABLE;
    default: return s >= 200 && s < 300 ? SIP_END_NONE : SIP_END_FAILED;
    }
}

static void ladder(sip_call *c, char dir, const char *what)
{
    if (c->n_ladder >= LADDER_MAX) return;
    c->ladder[c->n_ladder].ms = mono_ms() - c->started;
    c->ladder[c->n_ladder].dir = dir;
    snprintf(c->ladder[c->n_ladder].what, sizeof c->ladder[0].what, "%s", what);
    c->n_ladder++;
}

static void ladder_status(sip_call *c, char dir, int status)
{
    char s[8];
    snprintf(s, sizeof s, "%d", status);
    ladder(c, dir, s);
}

void sip_call_ladder(const sip_call *c, char *out, size_t cap)
{
    size_t o = 0;
    if (cap) out[0] = 0;
    for (int i = 0; i < c->n_ladder && o < cap; i++) {
        int n = snprintf(out + o, cap - o, "%lld.%03lld %c %s\n", (long long)(c->ladder[i].ms / 1000),
                         (long long)(c->ladder[i].ms % 1000), c->ladder[i].dir, c->ladder[i].what);
        if (n < 0) break;
        o += (size_t)n;
    }
}

void *sip_call_user(const sip_call *c) { return c->user; }
void sip_call_set_user(sip_call *c, void *user) { c->user = user; }
bool sip_call_inbound(const sip_call *c) { return c->inbound; }
const char *sip_call_id(const sip_call *c) { return c->call_id; }

size_t sip_ua_active_calls(const sip_ua *ua)
{
    size_t n = 0;
    for (size_t i = 0; i < ua->max_calls; i++) n += ua->calls[i].st != C_FREE;
    return n;
}

static sip_txn_layer *txl(sip_ua *ua) { return sip_endpoint_txn(ua->ep); }

static sip_call *call_alloc(sip_ua *ua)
{
    for (size_t i = 0; i < ua->max_calls; i++) {
        sip_call *c = &ua->calls[i];
        if (c->st != C_FREE) continue;
        uint32_t gen = c->gen;
        memset(c, 0, sizeof *c);
        c->gen = gen;
        c->ua = ua;
        c->started = mono_ms();
        char id[33];
        new_id_hex32(id);
        snprintf(c->local_tag, sizeof c->local_tag, "%.16s", id);
        return c;
    }
    return NULL;
}

static void call_end(sip_call *c, sip_end_reason r, int status)
{
    if (c->st == C_FREE) return;
    sip_ua *ua = c->ua;
    c->st = C_FREE;
    c->gen++;
    free(c->ack);
    c->ack = NULL;
    if (ua->ev.on_ended) ua->ev.on_ended(ua->user, c, r, status);
}

static const char *tp_name(const sip_ua *ua)
{
    return ua->transport == SIP_TP_TLS ? "TLS" : ua->transport == SIP_TP_TCP ? "TCP" : "UDP";
}

static int contact_header(sip_ua *ua, strbuf *sb)
{
    return sip_build_headerf(sb, "Contact", "<sip:%s@%s:%d%s>", ua->from_user, ua->local_host,
                             ua->transport == SIP_TP_TLS && sip_endpoint_tls_port(ua->ep) ? sip_endpoint_tls_port(ua->ep) : sip_endpoint_port(ua->ep),
                             ua->transport == SIP_TP_TLS ? ";transport=tls" : ua->transport == SIP_TP_TCP ? ";transport=tcp" : "");
}

/* The head of a request inside the dialog (RFC 3261 §12.2.1.1). */
static int dialog_request(sip_call *c, strbuf *sb, const char *method, uint32_t cseq, const char *branch)
{
    sip_ua *ua = c->ua;
    int rc = sip_build_request_line(sb, method, c->remote_target);
    rc |= sip_build_headerf(sb, "Via", "SIP/2.0/%s %s:%d;branch=%s;rport", tp_name(ua), ua->local_host,
                            sip_endpoint_port(ua->ep), branch);
    rc |= sip_build_header(sb, "Max-Forwards", "70");
    rc |= sip_build_header(sb, "From", c->local_party);
    rc |= sip_build_header(sb, "To", c->remote_party);
    rc |= sip_build_header(sb, "Call-ID", c->call_id);
    rc |= sip_build_headerf(sb, "CSeq", "%u %s", (unsigned)cseq, method);
    for (int i = 0; i < c->n_routes; i++) rc |= sip_build_header(sb, "Route", c->routes[i]);
    return rc;
}

static void resp_cb(void *user, const sip_msg *resp, int status);

static int send_request(sip_call *c, const char *buf, size_t len, rq_kind kind)
{
    rq_ctx *x = malloc(sizeof *x);
    if (!x) return -1;
    *x = (rq_ctx){c, c->gen, kind};
    if (sip_txn_request(txl(c->ua), buf, len, &c->ua->trunk, resp_cb, x, mono_ms())) {
        free(x);
        return -1;
    }
    return 0;
}

static int send_bye_for(sip_call *c, sip_end_reason why);
static int send_bye(sip_call *c) { return send_bye_for(c, SIP_END_HANGUP_LOCAL); }

static int send_bye_for(sip_call *c, sip_end_reason why)
{
    c->bye_reason = why;
    c->hangup_wanted = true;
    char branch[32];
    sip_new_branch(branch);
    strbuf sb;
    sb_init(&sb);
    int rc = dialog_request(c, &sb, "BYE", ++c->local_cseq, branch) | sip_build_finish(&sb, NULL, NULL, 0);
    if (!rc) rc = send_request(c, sb.data, sb.len, RQ_BYE);
    sb_free(&sb);
    if (!rc) ladder(c, '>', "BYE");
    return rc;
}

static int send_cancel(sip_call *c)
{
    sip_ua *ua = c->ua;
    strbuf sb;
    sb_init(&sb);
    int rc = sip_build_request_line(&sb, "CANCEL", c->invite_ruri);
    rc |= sip_build_headerf(&sb, "Via", "SIP/2.0/%s %s:%d;branch=%s;rport", tp_name(ua), ua->local_host,
                            sip_endpoint_port(ua->ep), c->invite_branch);
    rc |= sip_build_header(&sb, "Max-Forwards", "70");
    rc |= sip_build_header(&sb, "From", c->local_party);
    rc |= sip_build_header(&sb, "To", c->invite_to);
    rc |= sip_build_header(&sb, "Call-ID", c->call_id);
    rc |= sip_build_headerf(&sb, "CSeq", "%u CANCEL", (unsigned)c->invite_cseq);
    rc |= sip_build_finish(&sb, NULL, NULL, 0);
    if (!rc) rc = send_request(c, sb.data, sb.len, RQ_CANCEL);
    sb_free(&sb);
    if (!rc) { c->cancel_sent = true; ladder(c, '>', "CANCEL"); }
    return rc;
}

/* The (re-)INVITE that starts the call, with Authorization when answering a challenge. */
static int send_invite(sip_call *c, const sip_digest_challenge *ch)
{
    sip_ua *ua = c->ua;
    strbuf body, sb;
    sb_init(&body);
    sb_init(&sb);
    int rc = sdp_build_offer(&c->local, c->offered, &body);
    sip_new_branch(c->invite_branch);
    c->invite_cseq = ++c->local_cseq;
    rc |= sip_build_request_line(&sb, "INVITE", c->invite_ruri);
    rc |= sip_build_headerf(&sb, "Via", "SIP/2.0/%s %s:%d;branch=%s;rport", tp_name(ua), ua->local_host,
                            sip_endpoint_port(ua->ep), c->invite_branch);
    rc |= sip_build_header(&sb, "Max-Forwards", "70");
    rc |= sip_build_header(&sb, "From", c->local_party);
    rc |= sip_build_header(&sb, "To", c->invite_to);
    rc |= sip_build_header(&sb, "Call-ID", c->call_id);
    rc |= sip_build_headerf(&sb, "CSeq", "%u INVITE", (unsigned)c->invite_cseq);
    rc |= contact_header(ua, &sb);
    rc |= sip_build_header(&sb, "Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
    if (ch) {
        char auth[1024];
        if (sip_digest_authorization(ch, ua->auth_user, ua->password, "INVITE", c->invite_ruri, 1, NULL, auth, sizeof auth)) rc = -1;
        else rc |= sip_build_header(&sb, ch->proxy ? "Proxy-Authorization" : "Authorization", auth);
        memset(auth, 0, sizeof auth);
    }
    rc |= sip_build_header(&sb, "User-Agent", "faxbot");
    rc |= sip_build_finish(&sb, "application/sdp", body.data, body.len);
    if (!rc) rc = send_request(c, sb.data, sb.len, RQ_INVITE);
    sb_free(&sb);
    sb_free(&body);
    if (!rc) ladder(c, '>', "INVITE");
    return rc;
}

/* Takes the dialog's remote side from a 2xx (outbound): To tag, Contact, Record-Route reversed. */
static void learn_dialog(sip_call *c, const sip_msg *r, bool reverse_routes)
{
    snprintf(c->remote_party, sizeof c->remote_party, "%s", sip_msg_header(r, SIP_H_TO));
    if (r->n_contact) snprintf(c->remote_target, sizeof c->remote_target, "%s", r->contact[0].uri);
    c->n_routes = 0;
    const char *rr[MAX_ROUTES];
    int n = 0;
    for (size_t i = 0; i < r->n_hdr && n < MAX_ROUTES; i++)
        if (r->hdr[i].id == SIP_H_RECORD_ROUTE) rr[n++] = r->hdr[i].value;
    for (int i = 0; i < n; i++)
        snprintf(c->routes[i], sizeof c->routes[i], "%s", rr[reverse_routes ? n - 1 - i : i]);
    c->n_routes = n;
}

static void send_ack(sip_call *c, uint32_t cseq)
{
    char branch[32];
    sip_new_branch(branch);
    strbuf sb;
    sb_init(&sb);
    if (dialog_request(c, &sb, "ACK", cseq, branch) | sip_build_finish(&sb, NULL, NULL, 0)) { sb_free(&sb); return; }
    free(c->ack);
    c->ack_len = sb.len;
    c->ack = sb_steal(&sb);
    sb_free(&sb);
    sip_txn_send_raw(txl(c->ua), &c->ua->trunk, c->ack, c->ack_len);
    ladder(c, '>', "ACK");
}

static bool read_answer(sip_call *c, const sip_msg *r, sdp_negotiated *out)
{
    sdp_session ans;
    char err[160];
    if (!r->body_len || sdp_parse(r->body, r->body_len, &ans, err, sizeof err)) return false;
    return sdp_read_answer(&ans, c->offered, &c->local, out, err, sizeof err) == 0;
}

static void invite_response(sip_call *c, const sip_msg *r, int status)
{
    sip_ua *ua = c->ua;
    if (status < 200) {
        c->got_provisional = true;
        if (c->st == C_CALLING) c->st = C_EARLY;
        if ((status == 180 || status == 183) && ua->ev.on_progress) ua->ev.on_progress(ua->user, c, status);
        if (c->cancel_wanted && !c->cancel_sent) send_cancel(c);
        return;
    }
    if (status < 300) {
        learn_dialog(c, r, true);
        send_ack(c, r->cseq);
        if (c->hangup_wanted || c->cancel_wanted) {
            send_bye(c);
            c->st = C_UP;
            return;
        }
        if (!read_answer(c, r, &c->media)) {
            c->st = C_UP;
            send_bye_for(c, SIP_END_NOT_ACCEPTABLE);
            return;
        }
        c->st = C_UP;
        if (ua->ev.on_answered) ua->ev.on_answered(ua->user, c, &c->media);
        return;
    }
    if ((status == 401 || status == 407) && r && !c->auth_tried && ua->password[0]) {
        sip_digest_challenge ch;
        char err[160];
        if (!sip_digest_from_response(r, &ch, err, sizeof err)) {
            c->auth_tried = true;
            if (!send_invite(c, &ch)) return;
        }
    }
    sip_end_reason why = sip_end_reason_for_status(status);
    if (status == 487) why = c->ring_timed_out ? SIP_END_NO_ANSWER : SIP_END_HANGUP_LOCAL;
    if (!r) why = c->ring_timed_out ? SIP_END_NO_ANSWER : SIP_END_TIMEOUT;
    call_end(c, why, status);
}

static void resp_cb(void *user, const sip_msg *resp, int status)
{
    rq_ctx *x = user;
    sip_call *c = x->c;
    bool live = c->st != C_FREE && c->gen == x->gen;
    rq_kind kind = x->kind;
    if (status >= 200 || status == 0) free(x);   /* 0: the layer is shutting down */
    if (!live || status == 0) return;
    ladder_status(c, '<', status);
    sip_ua *ua = c->ua;
    switch (kind) {
    case RQ_INVITE:
        invite_response(c, resp, status);
        break;
    case RQ_REINVITE:
        if (status < 200) break;
        c->reinvite_out = false;
        if (status < 300) {
            send_ack(c, resp->cseq);
            sdp_kind old = c->offered;
            sdp_negotiated m;
            if (read_answer(c, resp, &m)) {
                c->media = m;
                if (ua->ev.on_media_change) ua->ev.on_media_change(ua->user, c, &c->media);
            } else {
                c->offered = old;
                if (ua->ev.on_reinvite_failed) ua->ev.on_reinvite_failed(ua->user, c, 488);
            }
        } else if (status == 481 || status == 408) {
            send_bye_for(c, SIP_END_FAILED);
        } else {
            c->offered = c->media.kind;
            if (ua->ev.on_reinvite_failed) ua->ev.on_reinvite_failed(ua->user, c, status);
        }
        break;
    case RQ_BYE:
        if (status >= 200) call_end(c, c->bye_reason, status);
        break;
    case RQ_CANCEL:
        break;   /* the INVITE's 487 ends the call */
    }
}

static void on_stray(void *ctx, const sip_msg *resp, const sip_addr_t *from)
{
    (void)from;
    sip_ua *ua = ctx;
    if (resp->status < 200 || resp->status >= 300 || strcmp(resp->cseq_method, "INVITE")) return;
    for (size_t i = 0; i < ua->max_calls; i++) {
        sip_call *c = &ua->calls[i];
        if (c->st != C_FREE && c->ack && !strcmp(c->call_id, resp->call_id))
            sip_txn_send_raw(txl(ua), &ua->trunk, c->ack, c->ack_len);   /* the 2xx was retransmitted: ACK again */
    }
}

/* ---- requests from the far end ---- */

static void respond(sip_call *c, sip_txn *st, const sip_msg *req, int status, const char *ctype, const char *body, size_t blen)
{
    sip_ua *ua = c->ua;
    strbuf sb;
    sb_init(&sb);
    int rc = sip_build_response_head(&sb, req, status, NULL, c->local_tag);
    if (!strcmp(req->method, "INVITE") && status < 300 && status > 100) rc |= contact_header(ua, &sb);
    rc |= sip_build_finish(&sb, ctype, body, blen);
    if (!rc) sip_txn_respond(txl(ua), st, sb.data, sb.len, status, mono_ms());
    sb_free(&sb);
    ladder_status(c, '>', status);
}

static void respond_ua(sip_ua *ua, sip_txn *st, const sip_msg *req, int status, const char *reason)
{
    strbuf sb;
    sb_init(&sb);
    int rc = sip_build_response_head(&sb, req, status, reason, "x");
    if (status == 200 && !strcmp(req->method, "OPTIONS")) rc |= sip_build_header(&sb, "Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
    rc |= sip_build_finish(&sb, NULL, NULL, 0);
    if (!rc) sip_txn_respond(txl(ua), st, sb.data, sb.len, status, mono_ms());
    sb_free(&sb);
}

static sip_call *find_dialog(sip_ua *ua, const sip_msg *req)
{
    for (size_t i = 0; i < ua->max_calls; i++) {
        sip_call *c = &ua->calls[i];
        if (c->st == C_FREE || strcmp(c->call_id, req->call_id)) continue;
        if (req->to.tag && !strcmp(req->to.tag, c->local_tag)) return c;
        if (!req->to.tag && c->inbound) return c;   /* CANCEL / ACK before a tag */
    }
    return NULL;
}

static bool from_trunk(const sip_ua *ua, const sip_addr_t *from)
{
    const struct sockaddr_storage *a = &from->addr, *b = &ua->trunk.addr;
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static void user_of(const char *uri, char *out, size_t cap)
{
    sip_uri u;
    char why[64];
    if (sip_uri_parse(uri, &u, why, sizeof why)) { snprintf(out, cap, "%s", ""); return; }
    if (str_copy(out, cap, u.user)) out[0] = 0;
}

static int answer_invite(sip_call *c, const sip_msg *req, sip_txn *st)
{
    strbuf body;
    sb_init(&body);
    char err[160];
    c->local.sess_version++;
    if (c->late) {   /* RFC 3261 §13.2.1: the offer goes in our 2xx, the answer comes in the ACK */
        c->offered = c->media.kind ? c->media.kind : c->local.audio_port ? SDP_KIND_AUDIO : SDP_KIND_T38;
        if (sdp_build_offer(&c->local, c->offered, &body)) {
            sb_free(&body);
            respond(c, st, req, 488, NULL, NULL, 0);
            return -1;
        }
        respond(c, st, req, 200, "application/sdp", body.data, body.len);
        sb_free(&body);
        c->ack_deadline = mono_ms() + 32000;
        return 0;
    }
    sdp_negotiated res;
    if (sdp_answer(&c->offer, &c->local, &body, &res, err, sizeof err)) {
        sb_free(&body);
        respond(c, st, req, 488, NULL, NULL, 0);
        return -1;
    }
    c->pending = res;
    respond(c, st, req, 200, "application/sdp", body.data, body.len);
    sb_free(&body);
    c->ack_deadline = mono_ms() + 32000;
    return 0;
}

static void new_inbound(sip_ua *ua, sip_txn *st, const sip_msg *req, const sip_addr_t *from)
{
    if (!from_trunk(ua, from)) { respond_ua(ua, st, req, 403, "Forbidden (only the trunk may call)"); return; }
    if (strlen(req->call_id) >= sizeof ((sip_call *)0)->call_id || strlen(sip_msg_header(req, SIP_H_TO)) > 480 ||
        strlen(sip_msg_header(req, SIP_H_FROM)) > 500 || (req->n_contact && strlen(req->contact[0].uri) > 500)) {
        respond_ua(ua, st, req, 400, "Bad Request (a dialog field is too long)");
        return;
    }
    sip_call *c = call_alloc(ua);
    if (!c) { respond_ua(ua, st, req, 486, "Busy Here (call limit reached)"); return; }
    c->inbound = true;
    c->st = C_EARLY;
    snprintf(c->call_id, sizeof c->call_id, "%s", req->call_id);
    snprintf(c->local_party, sizeof c->local_party, "%s;tag=%s", sip_msg_header(req, SIP_H_TO), c->local_tag);
    snprintf(c->remote_party, sizeof c->remote_party, "%s", sip_msg_header(req, SIP_H_FROM));
    snprintf(c->remote_target, sizeof c->remote_target, "%s", req->n_contact ? req->contact[0].uri : req->from.uri);
    learn_dialog(c, req, false);
    snprintf(c->remote_target, sizeof c->remote_target, "%s", req->n_contact ? req->contact[0].uri : req->from.uri);
    snprintf(c->remote_party, sizeof c->remote_party, "%s", sip_msg_header(req, SIP_H_FROM));
    snprintf(c->inv_branch, sizeof c->inv_branch, "%s", req->via[0].branch ? req->via[0].branch : "");
    c->inv_st = sip_txn_id(txl(ua), st);
    ladder(c, '<', "INVITE");
    char err[160];
    c->late = !req->body_len;
    if (!c->late && sdp_parse(req->body, req->body_len, &c->offer, err, sizeof err)) {
        respond(c, st, req, 488, NULL, NULL, 0);
        call_end(c, SIP_END_NOT_ACCEPTABLE, 488);
        return;
    }
    respond(c, st, req, 100, NULL, NULL, 0);
    char fu[128], tu[128];
    user_of(req->from.uri, fu, sizeof fu);
    user_of(req->to.uri, tu, sizeof tu);
    memset(&c->local, 0, sizeof c->local);
    int verdict = ua->ev.on_incoming ? ua->ev.on_incoming(ua->user, c, fu, tu, &c->local) : 603;
    if (c->local.addr) {
        snprintf(c->local_addr, sizeof c->local_addr, "%s", c->local.addr);
        c->local.addr = c->local_addr;
    }
    if (verdict == 200) {
        if (answer_invite(c, req, st)) call_end(c, SIP_END_NOT_ACCEPTABLE, 488);
        else c->st = C_WAIT_ACK;
    } else if (verdict == 180) {
        respond(c, st, req, 180, NULL, NULL, 0);
    } else {
        int s = verdict >= 300 && verdict <= 699 ? verdict : 603;
        respond(c, st, req, s, NULL, NULL, 0);
        call_end(c, sip_end_reason_for_status(s), s);
    }
}

static void on_request(void *ctx, sip_txn *st, const sip_msg *req, const sip_addr_t *from)
{
    sip_ua *ua = ctx;
    const char *m = req->method;
    sip_call *c = find_dialog(ua, req);
    if (!strcmp(m, "ACK")) {
        if (!c || c->st != C_WAIT_ACK) return;
        ladder(c, '<', "ACK");
        c->ack_deadline = 0;
        bool first = !c->media.kind;
        if (c->late) {
            sdp_negotiated got;
            if (!read_answer(c, req, &got)) {
                c->st = C_UP;
                if (first) send_bye_for(c, SIP_END_NOT_ACCEPTABLE);
                else if (ua->ev.on_reinvite_failed) ua->ev.on_reinvite_failed(ua->user, c, 488);
                return;
            }
            c->pending = got;
            c->late = false;
        }
        c->media = c->pending;
        c->st = C_UP;
        c->reinvite_in = false;
        if (first) { if (ua->ev.on_answered) ua->ev.on_answered(ua->user, c, &c->media); }
        else if (ua->ev.on_media_change) ua->ev.on_media_change(ua->user, c, &c->media);
        return;
    }
    if (!st) return;
    if (!strcmp(m, "INVITE")) {
        if (!req->to.tag) { new_inbound(ua, st, req, from); return; }
        if (!c) { respond_ua(ua, st, req, 481, NULL); return; }
        ladder(c, '<', "INVITE");
        if (c->reinvite_out || c->st != C_UP) { respond(c, st, req, 491, NULL, NULL, 0); return; }
        char err[160];
        c->late = !req->body_len;
        if (!c->late && sdp_parse(req->body, req->body_len, &c->offer, err, sizeof err)) {
            respond(c, st, req, 488, NULL, NULL, 0);
            return;
        }
        if (req->n_contact) snprintf(c->remote_target, sizeof c->remote_target, "%s", req->contact[0].uri);
        if (answer_invite(c, req, st) == 0) { c->st = C_WAIT_ACK; c->reinvite_in = true; }
        return;
    }
    if (!strcmp(m, "BYE")) {
        if (!c) { respond_ua(ua, st, req, 481, NULL); return; }
        ladder(c, '<', "BYE");
        respond(c, st, req, 200, NULL, NULL, 0);
        call_end(c, SIP_END_HANGUP_REMOTE, 0);
        return;
    }
    if (!strcmp(m, "CANCEL")) {
        sip_call *ic = NULL;
        for (size_t i = 0; i < ua->max_calls && !ic; i++)
            if (ua->calls[i].st != C_FREE && ua->calls[i].inbound && req->via[0].branch &&
                !strcmp(ua->calls[i].inv_branch, req->via[0].branch) && !strcmp(ua->calls[i].call_id, req->call_id))
                ic = &ua->calls[i];
        if (!ic) { respond_ua(ua, st, req, 481, NULL); return; }
        ladder(ic, '<', "CANCEL");
        respond(ic, st, req, 200, NULL, NULL, 0);
        sip_txn *inv = sip_txn_by_id(txl(ua), ic->inv_st);
        if (ic->st == C_EARLY && inv) {
            respond(ic, inv, sip_txn_request_of(inv), 487, NULL, NULL, 0);
            call_end(ic, SIP_END_HANGUP_REMOTE, 487);
        }
        return;
    }
    if (!strcmp(m, "OPTIONS")) { respond_ua(ua, st, req, 200, NULL); return; }
    respond_ua(ua, st, req, 501, NULL);
}

static void tick(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep;
    sip_ua *ua = arg;
    for (size_t i = 0; i < ua->max_calls; i++) {
        sip_call *c = &ua->calls[i];
        if (c->st == C_FREE) continue;
        if (!c->inbound && (c->st == C_CALLING || c->st == C_EARLY) && c->ring_deadline && now >= c->ring_deadline) {
            c->ring_deadline = 0;
            c->ring_timed_out = true;
            sip_call_hangup(c);
        }
        /* a ringing inbound call whose INVITE transaction ran out (never answered) */
        if (c->inbound && c->st == C_EARLY && !sip_txn_by_id(txl(ua), c->inv_st)) {
            call_end(c, SIP_END_NO_ANSWER, 0);
            continue;
        }
        if (c->st == C_WAIT_ACK && c->ack_deadline && now >= c->ack_deadline) {
            c->ack_deadline = 0;
            if (c->media.kind) { c->st = C_UP; continue; }   /* a re-INVITE's ACK lost: keep the old media */
            c->st = C_UP;
            send_bye_for(c, SIP_END_FAILED);
        }
    }
}

/* On the loop thread: the UA takes the endpoint's requests, stray responses and ticks. */
static void attach(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)now;
    sip_ua *ua = arg;
    sip_endpoint_set_request_handler(ep, on_request, ua);
    sip_txn_set_stray_handler(sip_endpoint_txn(ep), on_stray, ua);
    sip_endpoint_add_tick(ep, tick, ua);
}

sip_ua *sip_ua_new(sip_endpoint *ep, const sip_ua_config *cfg, const sip_call_events *ev, void *user)
{
    sip_ua *ua = calloc(1, sizeof *ua);
    if (!ua) return NULL;
    ua->ep = ep;
    ua->ev = *ev;
    ua->user = user;
    snprintf(ua->trunk_host, sizeof ua->trunk_host, "%s", cfg->trunk_host);
    snprintf(ua->domain, sizeof ua->domain, "%s", cfg->domain ? cfg->domain : cfg->trunk_host);
    snprintf(ua->from_user, sizeof ua->from_user, "%s", cfg->from_user ? cfg->from_user : "faxbot");
    snprintf(ua->from_display, sizeof ua->from_display, "%s", cfg->from_display ? cfg->from_display : "");
    snprintf(ua->auth_user, sizeof ua->auth_user, "%s", cfg->auth_user ? cfg->auth_user : ua->from_user);
    snprintf(ua->password, sizeof ua->password, "%s", cfg->password ? cfg->password : "");
    snprintf(ua->local_host, sizeof ua->local_host, "%s", cfg->local_host);
    ua->transport = cfg->transport;
    ua->ring_timeout_s = cfg->ring_timeout_s > 0 ? cfg->ring_timeout_s : 60;
    ua->max_calls = cfg->max_calls ? cfg->max_calls : 16;
    ua->calls = calloc(ua->max_calls, sizeof *ua->calls);
    if (!ua->calls || sip_addr_from(ua->trunk_host, cfg->trunk_port ? cfg->trunk_port : 5060, &ua->trunk)) {
        free(ua->calls);
        free(ua);
        return NULL;
    }
    ua->trunk.transport = cfg->transport;
    if (sip_endpoint_call(ep, attach, ua)) {
        free(ua->calls);
        free(ua);
        return NULL;
    }
    return ua;
}

void sip_ua_free(sip_ua *ua)
{
    if (!ua) return;
    for (size_t i = 0; i < ua->max_calls; i++) free(ua->calls[i].ack);
    free(ua->calls);
    memset(ua->password, 0, sizeof ua->password);
    free(ua);
}

/* The number goes into a URI's user part: letters, digits and a few marks only. */
static bool safe_user(const char *s)
{
    if (!*s || strlen(s) > 64) return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || strchr("+-_.!~*'()", ch)))
            return false;
    }
    return true;
}

sip_call *sip_ua_invite(sip_ua *ua, const char *number, const sdp_local *local, sdp_kind offer)
{
    if (!safe_user(number) || !local || !local->addr) return NULL;
    sip_call *c = call_alloc(ua);
    if (!c) return NULL;
    c->st = C_CALLING;
    c->local = *local;
    snprintf(c->local_addr, sizeof c->local_addr, "%s", local->addr);
    c->local.addr = c->local_addr;
    c->offered = offer;
    char id[33];
    new_id_hex32(id);
    if (str_fmt(c->call_id, sizeof c->call_id, "%s@%s", id, ua->local_host)) str_copy(c->call_id, sizeof c->call_id, id);
    snprintf(c->invite_ruri, sizeof c->invite_ruri, "sip:%s@%s", number, ua->domain);
    snprintf(c->invite_to, sizeof c->invite_to, "<sip:%s@%s>", number, ua->domain);
    snprintf(c->remote_party, sizeof c->remote_party, "%s", c->invite_to);
    snprintf(c->remote_target, sizeof c->remote_target, "%s", c->invite_ruri);
    if (ua->from_display[0] && !strpbrk(ua->from_display, "\"\\\r\n"))
        snprintf(c->local_party, sizeof c->local_party, "\"%s\" <sip:%s@%s>;tag=%s", ua->from_display, ua->from_user, ua->domain, c->local_tag);
    else
        snprintf(c->local_party, sizeof c->local_party, "<sip:%s@%s>;tag=%s", ua->from_user, ua->domain, c->local_tag);
    c->ring_deadline = mono_ms() + (int64_t)ua->ring_timeout_s * 1000;
    if (send_invite(c, NULL)) {
        c->st = C_FREE;
        c->gen++;
        return NULL;
    }
    return c;
}

int sip_call_answer(sip_call *c)
{
    if (!c->inbound || c->st != C_EARLY) return -1;
    sip_txn *st = sip_txn_by_id(txl(c->ua), c->inv_st);
    if (!st) return -1;
    if (answer_invite(c, sip_txn_request_of(st), st)) {
        call_end(c, SIP_END_NOT_ACCEPTABLE, 488);
        return -1;
    }
    c->st = C_WAIT_ACK;
    return 0;
}

int sip_call_reinvite(sip_call *c, sdp_kind kind)
{
    if (c->st != C_UP || c->reinvite_out || c->reinvite_in) return -1;
    strbuf body, sb;
    sb_init(&body);
    sb_init(&sb);
    c->local.sess_version++;
    char branch[32];
    sip_new_branch(branch);
    int rc = sdp_build_offer(&c->local, kind, &body);
    rc |= dialog_request(c, &sb, "INVITE", ++c->local_cseq, branch);
    rc |= contact_header(c->ua, &sb);
    rc |= sip_build_finish(&sb, "application/sdp", body.data, body.len);
    if (!rc) {
        sdp_kind old = c->offered;
        c->offered = kind;
        rc = send_request(c, sb.data, sb.len, RQ_REINVITE);
        if (rc) c->offered = old;
    }
    sb_free(&sb);
    sb_free(&body);
    if (!rc) { c->reinvite_out = true; ladder(c, '>', "INVITE"); }
    return rc;
}

int sip_call_hangup(sip_call *c)
{
    if (c->st == C_FREE) return -1;
    if (c->inbound && c->st == C_EARLY) {
        sip_txn *st = sip_txn_by_id(txl(c->ua), c->inv_st);
        if (st) respond(c, st, sip_txn_request_of(st), c->ring_timed_out ? 480 : 603, NULL, NULL, 0);
        call_end(c, SIP_END_HANGUP_LOCAL, 0);
        return 0;
    }
    if (!c->inbound && (c->st == C_CALLING || c->st == C_EARLY)) {
        c->cancel_wanted = true;
        return c->got_provisional && !c->cancel_sent ? send_cancel(c) : 0;
    }
    if (c->hangup_wanted) return 0;
    c->hangup_wanted = true;
    return send_bye(c);
}
