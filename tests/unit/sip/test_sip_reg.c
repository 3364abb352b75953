/* test_sip_reg.c — registration (src/sip/sip_reg.c) through the real endpoint
 * (src/sip/sip_endpoint.c, a UDP socket and its loop thread) against the registrar
 * stand-in tests/peers/sip_registrar.py over UDP on 127.0.0.1: Digest with the good
 * password registers and refreshes before a 2 s expiry; a bad password, a 403 and a
 * registrar that never answers each end FAILED with a status and plain advice; the
 * same stand-in as a trunk that challenges INVITEs with 407: the call layer answers
 * the challenge (the call then ends busy, 486) or, with a wrong password, ends
 * auth_failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sip/sip_call.h"
#include "sip/sip_reg.h"

typedef struct { pid_t pid; FILE *out; int port; } registrar;

static registrar start_registrar(const char *password, const char *extra)
{
    registrar r = {0};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    r.pid = fork();
    assert_true(r.pid >= 0);
    if (r.pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl("/usr/bin/python3", "python3", REGISTRAR_PY, "--user", "fax", "--password", password,
              "--max-expires", "2", extra, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    r.out = fdopen(fds[0], "r");
    char line[128];
    assert_non_null(fgets(line, sizeof line, r.out));
    assert_int_equal(sscanf(line, "port %d", &r.port), 1);
    return r;
}

static void stop_registrar(registrar *r)
{
    kill(r->pid, SIGTERM);
    waitpid(r->pid, NULL, 0);
    fclose(r->out);
}

static sip_endpoint *endpoint(void)
{
    char err[160];
    sip_endpoint_config c = {.bind_addr = "127.0.0.1", .t1_ms = 50};
    sip_endpoint *ep = sip_endpoint_start(&c, NULL, NULL, err, sizeof err);
    if (!ep) fail_msg("%s", err);
    return ep;
}

static sip_reg_status wait_for(sip_reg *r, sip_reg_state want, unsigned min_regs, int ms)
{
    sip_reg_status st;
    for (int i = 0; i < ms / 20; i++) {
        sip_reg_get(r, &st);
        if (st.state == want && st.registrations >= min_regs) return st;
        sleep_ms(20);
    }
    sip_reg_get(r, &st);
    fail_msg("state %s (%d %s), registrations %u", sip_reg_state_name(st.state), st.last_status, st.last_error, st.registrations);
    return st;
}

static sip_reg_config conf(int port, const char *password)
{
    sip_reg_config c = {.registrar_host = "127.0.0.1", .registrar_port = port, .domain = "faxbot.test",
                        .user = "fax", .password = password, .contact_host = "127.0.0.1", .expires = 60};
    return c;
}

static void test_register_and_refresh(void **state)
{
    (void)state;
    registrar g = start_registrar("good-secret", "--realm=faxbot.test");
    sip_endpoint *ep = endpoint();
    sip_reg_config c = conf(g.port, "good-secret");
    sip_reg *r = sip_reg_start(ep, &c);
    sip_reg_status st = wait_for(r, SIP_REG_REGISTERED, 1, 5000);
    assert_int_equal(st.granted_expires, 2);      /* the registrar capped our 60 s */
    assert_int_equal(st.last_status, 200);
    st = wait_for(r, SIP_REG_REGISTERED, 3, 6000);   /* refreshed before expiry, twice */
    sip_reg_stop(r);
    sleep_ms(100);
    sip_endpoint_stop(ep);
    stop_registrar(&g);
}

static void test_public_address_learned(void **state)
{
    (void)state;
    registrar g = start_registrar("good-secret", "--realm=faxbot.test");
    sip_endpoint *ep = endpoint();
    sip_reg_config c = conf(g.port, "good-secret");
    c.contact_host = "192.0.2.1";          /* what we think we are (a NAT hides us) */
    c.learn_public_address = true;
    sip_reg *r = sip_reg_start(ep, &c);
    sip_reg_status st = wait_for(r, SIP_REG_REGISTERED, 2, 5000);
    assert_string_equal(st.public_addr, "127.0.0.1");
    assert_int_equal(st.public_port, sip_endpoint_port(ep));
    /* the registrar's log: 401, 200 with the old Contact, then 200 with the learned one */
    char line[256], want[96];
    snprintf(want, sizeof want, "REGISTER 200 <sip:fax@127.0.0.1:%d> expires=2", sip_endpoint_port(ep));
    bool seen_old = false, seen_new = false;
    while (!seen_new && fgets(line, sizeof line, g.out)) {
        if (strstr(line, "REGISTER 200 <sip:fax@192.0.2.1:")) seen_old = true;
        if (strstr(line, want)) seen_new = true;
    }
    assert_true(seen_old);
    assert_true(seen_new);
    sip_reg_stop(r);
    sleep_ms(100);
    sip_endpoint_stop(ep);
    stop_registrar(&g);
}

static void test_bad_password_forbidden_timeout(void **state)
{
    (void)state;
    registrar g = start_registrar("good-secret", "--realm=faxbot.test");
    sip_endpoint *ep = endpoint();
    sip_reg_config c = conf(g.port, "wrong");
    sip_reg *r = sip_reg_start(ep, &c);
    sip_reg_status st = wait_for(r, SIP_REG_FAILED, 0, 5000);
    assert_int_equal(st.last_status, 401);
    assert_non_null(strstr(st.last_error, "password"));
    assert_non_null(strstr(st.advice, "password"));
    sip_reg_stop(r);
    stop_registrar(&g);

    registrar f = start_registrar("x", "--forbid");
    c = conf(f.port, "x");
    r = sip_reg_start(ep, &c);
    st = wait_for(r, SIP_REG_FAILED, 0, 5000);
    assert_int_equal(st.last_status, 403);
    assert_non_null(strstr(st.advice, "provider"));
    sip_reg_stop(r);
    stop_registrar(&f);

    /* nobody listens: Timer F (64*T1 = 3.2 s here) ends it as a timeout */
    c = conf(9, "x");
    r = sip_reg_start(ep, &c);
    st = wait_for(r, SIP_REG_FAILED, 0, 8000);
    assert_int_equal(st.last_status, 408);
    assert_non_null(strstr(st.advice, "firewall"));
    sip_reg_stop(r);
    sleep_ms(100);
    sip_endpoint_stop(ep);
}

static void test_register_over_tcp(void **state)
{
    (void)state;
    registrar g = start_registrar("good-secret", "--tcp");
    sip_endpoint *ep = endpoint();
    sip_reg_config c = conf(g.port, "good-secret");
    c.transport = SIP_TP_TCP;
    sip_reg *r = sip_reg_start(ep, &c);
    sip_reg_status st = wait_for(r, SIP_REG_REGISTERED, 2, 6000);   /* registered and refreshed */
    assert_int_equal(st.granted_expires, 2);
    char line[256];
    assert_non_null(fgets(line, sizeof line, g.out));
    assert_non_null(strstr(line, "REGISTER 401 <sip:fax@127.0.0.1:"));
    assert_non_null(strstr(line, ";transport=tcp>"));
    sip_reg_stop(r);
    /* nothing listens on the TCP port: a connection error at once, not a timeout */
    c = conf(9, "x");
    c.transport = SIP_TP_TCP;
    r = sip_reg_start(ep, &c);
    st = wait_for(r, SIP_REG_FAILED, 0, 2000);
    assert_int_equal(st.last_status, 503);
    assert_non_null(strstr(st.last_error, "cannot connect"));
    assert_non_null(strstr(st.advice, "TCP port"));
    sip_reg_stop(r);
    sleep_ms(100);
    sip_endpoint_stop(ep);
    stop_registrar(&g);
}

static atomic_int ended_reason = -1, ended_status;
static char ended_ladder[1024];

static void on_ended(void *u, sip_call *c, sip_end_reason r, int status)
{
    (void)u;
    sip_call_ladder(c, ended_ladder, sizeof ended_ladder);
    atomic_store(&ended_status, status);
    atomic_store(&ended_reason, (int)r);
}

static void place_call(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep;
    (void)now;
    sdp_local l = {.addr = "127.0.0.1", .audio_port = 40000, .pcmu = true};
    if (!sip_ua_invite(arg, "+15551234567", &l, SDP_KIND_AUDIO)) atomic_store(&ended_reason, 99);
}

static void invite_with(int port, const char *password, sip_end_reason want, int want_status)
{
    sip_endpoint *ep = endpoint();
    sip_call_events ev = {.on_ended = on_ended};
    sip_ua_config cfg = {.trunk_host = "127.0.0.1", .trunk_port = port, .from_user = "fax",
                         .password = password, .local_host = "127.0.0.1"};
    sip_ua *ua = sip_ua_new(ep, &cfg, &ev, NULL);
    assert_non_null(ua);
    atomic_store(&ended_reason, -1);
    assert_int_equal(sip_endpoint_call(ep, place_call, ua), 0);
    for (int i = 0; i < 300 && atomic_load(&ended_reason) < 0; i++) sleep_ms(10);
    assert_int_equal(atomic_load(&ended_reason), (int)want);
    assert_int_equal(atomic_load(&ended_status), want_status);
    sip_endpoint_stop(ep);
    sip_ua_free(ua);
}

static void test_invite_digest(void **state)
{
    (void)state;
    registrar g = start_registrar("good-secret", "--realm=faxbot.test");
    invite_with(g.port, "good-secret", SIP_END_BUSY, 486);
    assert_non_null(strstr(ended_ladder, "< 407\n"));
    char line[128];
    assert_non_null(fgets(line, sizeof line, g.out));
    assert_string_equal(line, "INVITE 407\n");
    assert_non_null(fgets(line, sizeof line, g.out));
    assert_string_equal(line, "INVITE 486\n");
    invite_with(g.port, "wrong", SIP_END_AUTH_FAILED, 407);
    stop_registrar(&g);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_refresh),
        cmocka_unit_test(test_public_address_learned),
        cmocka_unit_test(test_bad_password_forbidden_timeout),
        cmocka_unit_test(test_register_over_tcp),
        cmocka_unit_test(test_invite_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
