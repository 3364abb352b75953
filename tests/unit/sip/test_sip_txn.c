/* test_sip_txn.c — the transaction layer (src/sip/sip_txn.c) on a simulated network
 * with a simulated clock: the RFC 3261 retransmission schedules (Timers A/B and E/F,
 * counted), timeouts reported once as 408, a lost INVITE and lost ACKs recovered,
 * retransmitted requests absorbed with the last response, the ACK for a non-2xx,
 * 2xx retransmitted until ACKed, and the table's cap under a flood. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_txn.h"

#define MAXQ 256
typedef struct { char data[2048]; size_t len; int to; } packet;
static packet q[MAXQ];
static int nq;
static int sent_by[2], drop_next[2];
static sip_txn_layer *side[2];
/* the server's TU */
static int srv_status;            /* what the server TU answers (0: nothing) */
static int srv_requests, srv_acks;
static int64_t now;
/* the client's TU */
static int cli_finals, cli_provisional, cli_last_status;

static int send_fn(void *ctx, const sip_addr_t *to, const char *buf, size_t len)
{
    (void)to;
    int from = (int)(intptr_t)ctx;
    sent_by[from]++;
    if (drop_next[from] > 0) { drop_next[from]--; return 0; }
    assert_true(nq < MAXQ && len < sizeof q[0].data);
    memcpy(q[nq].data, buf, len);
    q[nq].len = len;
    q[nq].to = 1 - from;
    nq++;
    return 0;
}

static void answer(sip_txn *st, const sip_msg *req, int status)
{
    strbuf sb;
    sb_init(&sb);
    assert_int_equal(sip_build_response_head(&sb, req, status, NULL, "srv"), 0);
    assert_int_equal(sip_build_finish(&sb, NULL, NULL, 0), 0);
    assert_int_equal(sip_txn_respond(side[1], st, sb.data, sb.len, status, now), 0);
    sb_free(&sb);
}

static void on_request(void *ctx, sip_txn *st, const sip_msg *req, const sip_addr_t *from)
{
    (void)ctx;
    (void)from;
    if (!st) { srv_acks++; return; }
    srv_requests++;
    if (!strcmp(req->method, "INVITE")) answer(st, req, 100);
    if (srv_status) answer(st, req, srv_status);
}

static void on_response(void *user, const sip_msg *resp, int status)
{
    (void)user;
    if (status < 200) { cli_provisional++; return; }
    cli_finals++;
    cli_last_status = status;
    if (resp) assert_int_equal(resp->status, status);
    else assert_int_equal(status, 408);
}

static void setup_pair(size_t max_txns)
{
    nq = 0;
    memset(sent_by, 0, sizeof sent_by);
    memset(drop_next, 0, sizeof drop_next);
    srv_status = srv_requests = srv_acks = 0;
    cli_finals = cli_provisional = cli_last_status = 0;
    now = 1000000;
    sip_txn_config cfg = {.t1_ms = 500, .t2_ms = 4000, .t4_ms = 5000, .max_txns = max_txns};
    side[0] = sip_txn_layer_new(&cfg, send_fn, on_request, (void *)(intptr_t)0);
    side[1] = sip_txn_layer_new(&cfg, send_fn, on_request, (void *)(intptr_t)1);
}

static void teardown_pair(void)
{
    sip_txn_layer_free(side[0]);
    sip_txn_layer_free(side[1]);
}

/* runs the network and the clock for ms milliseconds in 10 ms steps */
static void run(int64_t ms)
{
    sip_addr_t a = {0};
    for (int64_t end = now + ms; now <= end; now += 10) {
        while (nq) {
            packet p = q[0];
            memmove(q, q + 1, (size_t)(nq - 1) * sizeof *q);
            nq--;
            sip_txn_receive(side[p.to], p.data, p.len, &a, now);
        }
        sip_txn_tick(side[0], now);
        sip_txn_tick(side[1], now);
    }
}

static void request(const char *method, const char *branch)
{
    strbuf sb;
    sb_init(&sb);
    assert_int_equal(sip_build_request_line(&sb, method, "sip:fax@127.0.0.1"), 0);
    sip_build_headerf(&sb, "Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=%s;rport", branch);
    sip_build_header(&sb, "Max-Forwards", "70");
    sip_build_header(&sb, "From", "<sip:a@127.0.0.1>;tag=c1");
    sip_build_header(&sb, "To", "<sip:fax@127.0.0.1>");
    sip_build_headerf(&sb, "Call-ID", "%s@test", branch);
    sip_build_headerf(&sb, "CSeq", "1 %s", method);
    sip_build_finish(&sb, NULL, NULL, 0);
    sip_addr_t to = {0};
    assert_int_equal(sip_txn_request(side[0], sb.data, sb.len, &to, on_response, NULL, now), 0);
    sb_free(&sb);
}

static void test_timer_e_f_schedule(void **state)
{
    (void)state;
    setup_pair(8);
    drop_next[0] = 1000;   /* nothing arrives */
    request("OPTIONS", "z9hG4bKe1");
    run(31900);
    /* 0, .5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5 s */
    assert_int_equal(sent_by[0], 11);
    assert_int_equal(cli_finals, 0);
    run(200);
    assert_int_equal(cli_finals, 1);
    assert_int_equal(cli_last_status, 408);
    run(10000);
    assert_int_equal(cli_finals, 1);     /* reported once */
    sip_txn_stats st;
    sip_txn_get_stats(side[0], &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.active, 0);
    teardown_pair();
}

static void test_timer_a_b_schedule(void **state)
{
    (void)state;
    setup_pair(8);
    drop_next[0] = 1000;
    request("INVITE", "z9hG4bKa1");
    run(32100);
    /* 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5 s, then Timer B at 32 s */
    assert_int_equal(sent_by[0], 7);
    assert_int_equal(cli_finals, 1);
    assert_int_equal(cli_last_status, 408);
    teardown_pair();
}

static void test_invite_rejected_with_loss(void **state)
{
    (void)state;
    setup_pair(8);
    srv_status = 486;
    drop_next[0] = 2;            /* the first two INVITEs are lost */
    request("INVITE", "z9hG4bKi1");
    run(1000);
    assert_int_equal(srv_requests, 0);
    run(3000);
    assert_int_equal(srv_requests, 1);
    assert_int_equal(cli_finals, 1);
    assert_int_equal(cli_last_status, 486);
    assert_true(cli_provisional >= 1);
    /* the ACK went back and the server is quiet now */
    int before = sent_by[1];
    run(20000);
    assert_int_equal(sent_by[1], before);
    teardown_pair();

    /* the ACKs are lost: the server retransmits the 486 (Timer G), the client
     * absorbs each and ACKs again, the TU hears one final */
    setup_pair(8);
    srv_status = 486;
    request("INVITE", "z9hG4bKi2");
    drop_next[0] = 2;            /* the INVITE is on its way; the next two sends (ACKs) are lost */
    run(3000);
    assert_int_equal(cli_finals, 1);
    sip_txn_stats st;
    sip_txn_get_stats(side[0], &st);
    assert_true(st.retransmissions_absorbed >= 1);
    run(40000);
    sip_txn_get_stats(side[1], &st);
    assert_int_equal(st.active, 0);
    teardown_pair();
}

static void test_2xx_retransmitted_until_ack(void **state)
{
    (void)state;
    setup_pair(8);
    srv_status = 200;
    request("INVITE", "z9hG4bK2x");
    run(2000);
    assert_int_equal(cli_last_status, 200);
    /* our client TU never ACKs: the server keeps sending the 200 (Timer G pace) */
    int n = sent_by[1];
    run(3000);
    assert_true(sent_by[1] > n);
    /* an ACK (a new branch, as for a 2xx) stops it and reaches the server TU */
    strbuf sb;
    sb_init(&sb);
    sip_build_request_line(&sb, "ACK", "sip:fax@127.0.0.1");
    sip_build_header(&sb, "Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK2x");
    sip_build_header(&sb, "From", "<sip:a@127.0.0.1>;tag=c1");
    sip_build_header(&sb, "To", "<sip:fax@127.0.0.1>;tag=srv");
    sip_build_header(&sb, "Call-ID", "z9hG4bK2x@test");
    sip_build_header(&sb, "CSeq", "1 ACK");
    sip_build_finish(&sb, NULL, NULL, 0);
    sip_addr_t a = {0};
    sip_txn_receive(side[1], sb.data, sb.len, &a, now);
    sb_free(&sb);
    assert_int_equal(srv_acks, 1);
    n = sent_by[1];
    run(10000);
    assert_int_equal(sent_by[1], n);
    teardown_pair();
}

static void test_non_invite_retransmission_absorbed(void **state)
{
    (void)state;
    setup_pair(8);
    srv_status = 200;
    drop_next[1] = 1;      /* the first 200 is lost: the client's retransmission gets it */
    request("REGISTER", "z9hG4bKr1");
    run(3000);
    assert_int_equal(srv_requests, 1);   /* one transaction at the server */
    assert_int_equal(cli_finals, 1);
    sip_txn_stats st;
    sip_txn_get_stats(side[1], &st);
    assert_int_equal(st.retransmissions_absorbed, 1);
    teardown_pair();
}

static void test_flood_capped(void **state)
{
    (void)state;
    setup_pair(4);
    for (int i = 0; i < 20; i++) {
        char br[32];
        snprintf(br, sizeof br, "z9hG4bKf%d", i);
        strbuf sb;
        sb_init(&sb);
        sip_build_request_line(&sb, "INVITE", "sip:fax@127.0.0.1");
        sip_build_headerf(&sb, "Via", "SIP/2.0/UDP 10.0.0.9:5060;branch=%s", br);
        sip_build_header(&sb, "From", "<sip:x@10.0.0.9>;tag=x");
        sip_build_header(&sb, "To", "<sip:fax@127.0.0.1>");
        sip_build_headerf(&sb, "Call-ID", "%s", br);
        sip_build_header(&sb, "CSeq", "1 INVITE");
        sip_build_finish(&sb, NULL, NULL, 0);
        sip_addr_t a = {0};
        sip_txn_receive(side[1], sb.data, sb.len, &a, now);
        sb_free(&sb);
    }
    sip_txn_receive(side[1], "garbage", 7, &(sip_addr_t){0}, now);
    sip_txn_stats st;
    sip_txn_get_stats(side[1], &st);
    assert_int_equal(srv_requests, 4);
    assert_int_equal(st.active, 4);
    assert_int_equal(st.dropped_table_full, 16);
    assert_int_equal(st.dropped_unparsable, 1);
    /* unanswered server transactions end and free their slots */
    run(200000);
    sip_txn_get_stats(side[1], &st);
    assert_int_equal(st.active, 0);
    teardown_pair();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_e_f_schedule),
        cmocka_unit_test(test_timer_a_b_schedule),
        cmocka_unit_test(test_invite_rejected_with_loss),
        cmocka_unit_test(test_2xx_retransmitted_until_ack),
        cmocka_unit_test(test_non_invite_retransmission_absorbed),
        cmocka_unit_test(test_flood_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
