/* test_sip_call.c — calls between two real user agents (src/sip/sip_call.c), each on
 * its own endpoint and UDP socket on 127.0.0.1, each the other's trunk: an audio call
 * switched to T.38 by re-INVITE and hung up by the callee; busy, declined and
 * no-common-media failures with their reasons; a refused re-INVITE that leaves the
 * call up; a ring timeout that CANCELs (no_answer); an answer given later; and an
 * INVITE from an address that is not the trunk refused with 403 without ringing; and a
 * trunk (a raw UDP socket here) sending an INVITE without SDP: our offer goes in the
 * 200, its answer comes in the ACK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sip/sip_call.h"

typedef struct {
    pthread_mutex_t mu;
    int incoming, answered, media_changes, reinvite_failed, ended, progress;
    sip_end_reason end_reason;
    int end_status, reinvite_status;
    sdp_negotiated media;
    int verdict;             /* what on_incoming answers */
    int t38_port;            /* the callee's T.38 port (0: refuses T.38) */
    int audio_port;
    sip_call *call;
    char ladder[2048];
    char from_user[64], to_user[64];
} side;

static side A, B, C;

static void lock(side *s) { pthread_mutex_lock(&s->mu); }
static void unlock(side *s) { pthread_mutex_unlock(&s->mu); }

static void ev_progress(void *u, sip_call *c, int status) { side *s = u; (void)c; (void)status; lock(s); s->progress++; unlock(s); }
static void ev_answered(void *u, sip_call *c, const sdp_negotiated *m)
{
    side *s = u;
    lock(s);
    s->answered++;
    s->media = *m;
    s->call = c;
    unlock(s);
}
static void ev_media(void *u, sip_call *c, const sdp_negotiated *m)
{
    side *s = u;
    (void)c;
    lock(s);
    s->media_changes++;
    s->media = *m;
    unlock(s);
}
static void ev_refused(void *u, sip_call *c, int status)
{
    side *s = u;
    (void)c;
    lock(s);
    s->reinvite_failed++;
    s->reinvite_status = status;
    unlock(s);
}
static void ev_ended(void *u, sip_call *c, sip_end_reason r, int status)
{
    side *s = u;
    lock(s);
    s->ended++;
    s->end_reason = r;
    s->end_status = status;
    sip_call_ladder(c, s->ladder, sizeof s->ladder);
    s->call = NULL;
    unlock(s);
}
static int ev_incoming(void *u, sip_call *c, const char *from_user, const char *to_user, sdp_local *l)
{
    side *s = u;
    lock(s);
    s->incoming++;
    s->call = c;
    snprintf(s->from_user, sizeof s->from_user, "%s", from_user);   /* checked by the test thread */
    snprintf(s->to_user, sizeof s->to_user, "%s", to_user);
    l->addr = "127.0.0.1";
    l->audio_port = s->audio_port;
    l->t38_port = s->t38_port;
    l->pcmu = l->pcma = true;
    sdp_t38_defaults(&l->t38);
    int v = s->verdict;
    unlock(s);
    return v;
}

static const sip_call_events events = {ev_progress, ev_answered, ev_media, ev_refused, ev_ended, ev_incoming};

typedef struct { sip_endpoint *ep; sip_ua *ua; } node;

static node start_node(const char *addr, side *s)
{
    node n;
    char err[160];
    sip_endpoint_config c = {.bind_addr = addr, .t1_ms = 50};
    n.ep = sip_endpoint_start(&c, NULL, NULL, err, sizeof err);
    if (!n.ep) fail_msg("%s", err);
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->verdict = 200;
    return n;
}

static void attach_ua(node *n, side *s, const char *trunk, int trunk_port, int ring_s)
{
    sip_ua_config cfg = {.trunk_host = trunk, .trunk_port = trunk_port, .from_user = "faxbot", .from_display = "Fax Bot",
                         .local_host = "127.0.0.1", .max_calls = 4, .ring_timeout_s = ring_s};
    n->ua = sip_ua_new(n->ep, &cfg, &events, s);
    assert_non_null(n->ua);
}

static void stop_node(node *n)
{
    sip_endpoint_stop(n->ep);
    sip_ua_free(n->ua);
}

/* ---- running things on a loop thread ---- */
typedef struct { node *n; side *s; sdp_kind kind; int op; volatile int done; int rc; } job;

static void do_job(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep;
    (void)now;
    job *j = arg;
    if (j->op == 0) {
        sdp_local l = {.addr = "127.0.0.1", .audio_port = 40000, .t38_port = 40002, .pcmu = true, .pcma = true};
        sdp_t38_defaults(&l.t38);
        sip_call *c = sip_ua_invite(j->n->ua, "+15551234567", &l, j->kind);
        lock(j->s);
        j->s->call = c;
        unlock(j->s);
        j->rc = c ? 0 : -1;
    } else {
        lock(j->s);
        sip_call *c = j->s->call;
        unlock(j->s);
        j->rc = !c ? -1 : j->op == 1 ? sip_call_reinvite(c, j->kind) : j->op == 2 ? sip_call_hangup(c) : sip_call_answer(c);
    }
    __atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
}

static int run_job(node *n, side *s, int op, sdp_kind kind)
{
    job j = {n, s, kind, op, 0, 0};
    assert_int_equal(sip_endpoint_call(n->ep, do_job, &j), 0);
    while (!__atomic_load_n(&j.done, __ATOMIC_SEQ_CST)) sleep_ms(5);
    return j.rc;
}

/* reads of a side's fields from the test thread go through its lock */
#define CHECK_INT(s, f, v) do { lock(&s); long long got_ = (long long)(s.f); unlock(&s); assert_int_equal(got_, (v)); } while (0)
#define CHECK_STR_HAS(s, f, sub) do { lock(&s); bool h_ = strstr(s.f, sub) != NULL; unlock(&s); assert_true(h_); } while (0)
#define CHECK_STR(s, f, v) do { lock(&s); char t_[64]; snprintf(t_, sizeof t_, "%s", s.f); unlock(&s); assert_string_equal(t_, v); } while (0)

#define WAIT_FOR(s, cond) do { \
        bool ok_ = false; \
        for (int i_ = 0; i_ < 400 && !ok_; i_++) { lock(s); ok_ = (cond); unlock(s); if (!ok_) sleep_ms(10); } \
        if (!ok_) fail_msg("timed out waiting for %s", #cond); \
    } while (0)

static void pair(node *a, node *b, int ring_s)
{
    *a = start_node("127.0.0.1", &A);
    *b = start_node("127.0.0.1", &B);
    attach_ua(a, &A, "127.0.0.1", sip_endpoint_port(b->ep), ring_s);
    attach_ua(b, &B, "127.0.0.1", sip_endpoint_port(a->ep), ring_s);
    lock(&B);
    B.audio_port = 41000;
    B.t38_port = 41002;
    unlock(&B);
    sleep_ms(20);   /* the UAs attach on their loops */
}

static void test_audio_then_t38_then_bye(void **state)
{
    (void)state;
    node a, b;
    pair(&a, &b, 60);
    assert_int_equal(run_job(&a, &A, 0, SDP_KIND_AUDIO), 0);
    WAIT_FOR(&A, A.answered == 1);
    WAIT_FOR(&B, B.answered == 1);
    CHECK_INT(A, media.kind, SDP_KIND_AUDIO);
    CHECK_INT(A, media.remote_port, 41000);
    CHECK_INT(B, media.remote_port, 40000);
    CHECK_INT(A, media.payload_type, 0);
    CHECK_STR(B, to_user, "+15551234567");
    CHECK_STR(B, from_user, "faxbot");
    /* the caller switches to T.38 */
    assert_int_equal(run_job(&a, &A, 1, SDP_KIND_T38), 0);
    WAIT_FOR(&A, A.media_changes == 1);
    WAIT_FOR(&B, B.media_changes == 1);
    CHECK_INT(A, media.kind, SDP_KIND_T38);
    CHECK_INT(A, media.remote_port, 41002);
    CHECK_INT(B, media.kind, SDP_KIND_T38);
    CHECK_INT(B, media.remote_port, 40002);
    CHECK_INT(B, media.t38.max_datagram, 400);
    /* the callee hangs up */
    assert_int_equal(run_job(&b, &B, 2, 0), 0);
    WAIT_FOR(&A, A.ended == 1);
    WAIT_FOR(&B, B.ended == 1);
    CHECK_INT(A, end_reason, SIP_END_HANGUP_REMOTE);
    CHECK_INT(B, end_reason, SIP_END_HANGUP_LOCAL);
    CHECK_INT(B, end_status, 200);
    CHECK_STR_HAS(A, ladder, "> INVITE\n");
    CHECK_STR_HAS(A, ladder, "< 200\n");
    CHECK_STR_HAS(A, ladder, "> ACK\n");
    CHECK_STR_HAS(A, ladder, "< BYE\n");
    CHECK_STR_HAS(B, ladder, "< INVITE\n");
    assert_int_equal(sip_ua_active_calls(a.ua), 0);
    stop_node(&a);
    stop_node(&b);
}

static void test_failure_reasons(void **state)
{
    (void)state;
    static const struct { int verdict; int t38; sdp_kind offer; sip_end_reason why; int status; } cases[] = {
        {486, 41002, SDP_KIND_AUDIO, SIP_END_BUSY, 486},
        {603, 41002, SDP_KIND_AUDIO, SIP_END_DECLINED, 603},
        {404, 41002, SDP_KIND_AUDIO, SIP_END_INVALID_NUMBER, 404},
        {503, 41002, SDP_KIND_AUDIO, SIP_END_UNAVAILABLE, 503},
        {200, 0, SDP_KIND_T38, SIP_END_NOT_ACCEPTABLE, 488},   /* T.38 offered, callee has none */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        node a, b;
        pair(&a, &b, 60);
        lock(&B);
        B.verdict = cases[i].verdict;
        B.t38_port = cases[i].t38;
        unlock(&B);
        assert_int_equal(run_job(&a, &A, 0, cases[i].offer), 0);
        WAIT_FOR(&A, A.ended == 1);
        lock(&A);
        sip_end_reason why = A.end_reason;
        int st = A.end_status;
        unlock(&A);
        if (why != cases[i].why || st != cases[i].status) fail_msg("case %zu: %s %d", i, sip_end_reason_name(why), st);
        CHECK_INT(A, answered, 0);
        stop_node(&a);
        stop_node(&b);
    }
    assert_string_equal(sip_end_reason_name(SIP_END_NO_ANSWER), "no_answer");
}

static void test_reinvite_refused_keeps_call(void **state)
{
    (void)state;
    node a, b;
    pair(&a, &b, 60);
    lock(&B);
    B.t38_port = 0;
    unlock(&B);
    assert_int_equal(run_job(&a, &A, 0, SDP_KIND_AUDIO), 0);
    WAIT_FOR(&A, A.answered == 1);
    assert_int_equal(run_job(&a, &A, 1, SDP_KIND_T38), 0);
    WAIT_FOR(&A, A.reinvite_failed == 1);
    CHECK_INT(A, reinvite_status, 488);
    CHECK_INT(A, media.kind, SDP_KIND_AUDIO);
    CHECK_INT(A, ended, 0);
    /* the call is still up: the caller hangs up */
    assert_int_equal(run_job(&a, &A, 2, 0), 0);
    WAIT_FOR(&A, A.ended == 1);
    WAIT_FOR(&B, B.ended == 1);
    CHECK_INT(A, end_reason, SIP_END_HANGUP_LOCAL);
    CHECK_INT(B, end_reason, SIP_END_HANGUP_REMOTE);
    stop_node(&a);
    stop_node(&b);
}

static void test_ring_timeout_and_late_answer(void **state)
{
    (void)state;
    node a, b;
    pair(&a, &b, 1);
    lock(&B);
    B.verdict = 180;
    unlock(&B);
    assert_int_equal(run_job(&a, &A, 0, SDP_KIND_AUDIO), 0);
    WAIT_FOR(&A, A.progress >= 1);
    WAIT_FOR(&A, A.ended == 1);   /* after 1 s: CANCEL, 487 */
    CHECK_INT(A, end_reason, SIP_END_NO_ANSWER);
    CHECK_INT(A, end_status, 487);
    WAIT_FOR(&B, B.ended == 1);
    CHECK_INT(B, end_reason, SIP_END_HANGUP_REMOTE);
    CHECK_STR_HAS(A, ladder, "> CANCEL\n");
    stop_node(&a);
    stop_node(&b);

    /* ringing, then answered from outside the callback */
    pair(&a, &b, 60);
    lock(&B);
    B.verdict = 180;
    unlock(&B);
    assert_int_equal(run_job(&a, &A, 0, SDP_KIND_T38), 0);
    WAIT_FOR(&B, B.incoming == 1);
    WAIT_FOR(&A, A.progress >= 1);
    assert_int_equal(run_job(&b, &B, 3, 0), 0);
    WAIT_FOR(&A, A.answered == 1);
    WAIT_FOR(&B, B.answered == 1);
    CHECK_INT(A, media.kind, SDP_KIND_T38);
    stop_node(&a);
    stop_node(&b);
}

static void test_unknown_source_refused(void **state)
{
    (void)state;
    node a, b, c;
    pair(&a, &b, 60);
    /* C is on 127.0.0.2, not B's trunk (127.0.0.1 = A) */
    c = start_node("127.0.0.2", &C);
    sip_ua_config cfg = {.trunk_host = "127.0.0.1", .trunk_port = sip_endpoint_port(b.ep), .from_user = "faxbot",
                         .local_host = "127.0.0.2", .max_calls = 2};
    c.ua = sip_ua_new(c.ep, &cfg, &events, &C);
    sleep_ms(20);
    assert_int_equal(run_job(&c, &C, 0, SDP_KIND_AUDIO), 0);
    WAIT_FOR(&C, C.ended == 1);
    CHECK_INT(C, end_status, 403);
    CHECK_INT(C, end_reason, SIP_END_DECLINED);
    CHECK_INT(B, incoming, 0);   /* never rang */
    stop_node(&c);
    stop_node(&a);
    stop_node(&b);
}

/* the next SIP message on a raw socket, parsed (NULL on timeout) */
static sip_msg *recv_msg(int fd)
{
    char buf[4096];
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 3000) != 1) return NULL;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    sip_msg *m = NULL;
    size_t used;
    sip_parse_error err;
    if (n <= 0 || sip_msg_parse(buf, (size_t)n, true, &m, &used, &err) != SIP_PARSE_OK) return NULL;
    return m;
}

static void test_late_offer(void **state)
{
    (void)state;
    int raw = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
    assert_int_equal(bind(raw, (struct sockaddr *)&me, sizeof me), 0);
    socklen_t ml = sizeof me;
    getsockname(raw, (struct sockaddr *)&me, &ml);
    int rport = ntohs(me.sin_port);
    node b = start_node("127.0.0.1", &B);
    attach_ua(&b, &B, "127.0.0.1", rport, 60);
    lock(&B);
    B.audio_port = 41000;
    B.t38_port = 41002;
    unlock(&B);
    sleep_ms(20);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sip_endpoint_port(b.ep))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    char msg[2048];
    int n = snprintf(msg, sizeof msg,
        "INVITE sip:+15551234567@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKlate1;rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:faxbot@127.0.0.1>;tag=r1\r\nTo: <sip:+15551234567@127.0.0.1>\r\n"
        "Call-ID: late-1@test\r\nCSeq: 1 INVITE\r\nContact: <sip:faxbot@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n", rport, rport);
    sendto(raw, msg, (size_t)n, 0, (struct sockaddr *)&to, sizeof to);
    sip_msg *r = NULL;
    for (int i = 0; i < 4; i++) {
        r = recv_msg(raw);
        assert_non_null(r);
        if (r->status >= 200) break;
        sip_msg_free(r);
        r = NULL;
    }
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "m=audio 41000 RTP/AVP"));   /* our offer */
    char to_hdr[256], target[256];
    snprintf(to_hdr, sizeof to_hdr, "%s", sip_msg_header(r, SIP_H_TO));
    snprintf(target, sizeof target, "%s", r->contact[0].uri);
    sip_msg_free(r);
    static const char answer[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 45000 RTP/AVP 0\r\n";
    n = snprintf(msg, sizeof msg,
        "ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKlate2;rport\r\nMax-Forwards: 70\r\n"
        "From: <sip:faxbot@127.0.0.1>;tag=r1\r\nTo: %s\r\nCall-ID: late-1@test\r\nCSeq: 1 ACK\r\n"
        "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s", target, rport, to_hdr, strlen(answer), answer);
    sendto(raw, msg, (size_t)n, 0, (struct sockaddr *)&to, sizeof to);
    WAIT_FOR(&B, B.answered == 1);
    CHECK_INT(B, media.kind, SDP_KIND_AUDIO);
    CHECK_INT(B, media.remote_port, 45000);
    CHECK_INT(B, media.payload_type, 0);
    /* the trunk hangs up */
    n = snprintf(msg, sizeof msg,
        "BYE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKlate3;rport\r\nMax-Forwards: 70\r\n"
        "From: <sip:faxbot@127.0.0.1>;tag=r1\r\nTo: %s\r\nCall-ID: late-1@test\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        target, rport, to_hdr);
    sendto(raw, msg, (size_t)n, 0, (struct sockaddr *)&to, sizeof to);
    r = recv_msg(raw);
    assert_non_null(r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->cseq_method, "BYE");
    sip_msg_free(r);
    WAIT_FOR(&B, B.ended == 1);
    CHECK_INT(B, end_reason, SIP_END_HANGUP_REMOTE);
    close(raw);
    stop_node(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audio_then_t38_then_bye),
        cmocka_unit_test(test_failure_reasons),
        cmocka_unit_test(test_reinvite_refused_keeps_call),
        cmocka_unit_test(test_ring_timeout_and_late_answer),
        cmocka_unit_test(test_unknown_source_refused),
        cmocka_unit_test(test_late_offer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
