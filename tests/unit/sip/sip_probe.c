/* sip_probe.c — a test-only command-line front end to the SIP stack (src/sip), for the
 * interop tests against a real Asterisk (tests/interop/test_sip_stack_asterisk.py):
 * it registers or places one call and prints what happened, one "key=value" line per
 * event, so a Python test can drive the real stack over real UDP/TCP. Not installed.
 *
 *   sip_probe register HOST PORT DOMAIN USER PASSWORD udp|tcp|tls
 *   sip_probe call HOST PORT NUMBER USER PASSWORD audio|t38|audio+t38 HOLD_S [udp|tcp|tls]
 * TLS verifies the peer against the CA file in $SIP_PROBE_CA.
 * (call: hangs up HOLD_S seconds after the answer; audio+t38 re-INVITEs to T.38 half a
 * second after the answer; prints answered/media/refused/ended) */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_call.h"
#include "sip/sip_reg.h"

static atomic_int done;
static sip_ua *ua;
static const char *number;
static sdp_kind offer;
static int64_t hangup_at, reinvite_at;
static bool switch_to_t38;
static sip_call *the_call;

static void ev_progress(void *u, sip_call *c, int status) { (void)u; (void)c; printf("progress status=%d\n", status); fflush(stdout); }
static void ev_answered(void *u, sip_call *c, const sdp_negotiated *m)
{
    (void)u;
    (void)c;
    printf("answered kind=%s port=%d pt=%d\n", m->kind == SDP_KIND_T38 ? "t38" : "audio", m->remote_port, m->payload_type);
    fflush(stdout);
}
static void ev_media(void *u, sip_call *c, const sdp_negotiated *m)
{
    (void)u;
    (void)c;
    printf("media kind=%s port=%d maxdatagram=%d ec=%d rate=%d\n", m->kind == SDP_KIND_T38 ? "t38" : "audio",
           m->remote_port, m->t38.max_datagram, (int)m->t38.ec, m->t38.max_bit_rate);
    fflush(stdout);
}
static void ev_refused(void *u, sip_call *c, int status) { (void)u; (void)c; printf("refused status=%d\n", status); fflush(stdout); }
static void ev_ended(void *u, sip_call *c, sip_end_reason r, int status)
{
    (void)u;
    char ladder[2048];
    sip_call_ladder(c, ladder, sizeof ladder);
    for (char *p = ladder; (p = strchr(p, '\n')); ) *p = '|';
    printf("ended reason=%s status=%d ladder=%s\n", sip_end_reason_name(r), status, ladder);
    fflush(stdout);
    the_call = NULL;
    atomic_store(&done, 1);
}

static void place(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep;
    (void)arg;
    sdp_local l = {.addr = "127.0.0.1", .audio_port = 40000, .t38_port = 40002, .pcmu = true, .pcma = true,
                   .sess_id = 1, .sess_version = 1};
    sdp_t38_defaults(&l.t38);
    the_call = sip_ua_invite(ua, number, &l, offer);
    if (!the_call) { printf("ended reason=failed status=0 ladder=\n"); atomic_store(&done, 1); }
    hangup_at = 0;
    (void)now;
}

static void watch(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep;
    int hold = *(int *)arg;
    if (!the_call) return;
    if (!hangup_at) hangup_at = now + (int64_t)hold * 1000 + 60000;   /* armed at once; tightened on answer below */
    if (reinvite_at && now >= reinvite_at) {
        reinvite_at = 0;
        if (sip_call_reinvite(the_call, SDP_KIND_T38)) { printf("reinvite-not-sent\n"); fflush(stdout); }
    }
    if (now >= hangup_at) { sip_call_hangup(the_call); hangup_at = now + 60000; }
}

static int hold_s;

static int transport_of(const char *s)
{
    return !strcmp(s, "tls") ? SIP_TP_TLS : !strcmp(s, "tcp") ? SIP_TP_TCP : SIP_TP_UDP;
}
static void ev_answered_hold(void *u, sip_call *c, const sdp_negotiated *m)
{
    ev_answered(u, c, m);
    hangup_at = mono_ms() + (int64_t)hold_s * 1000;
    if (switch_to_t38) reinvite_at = mono_ms() + 500;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: sip_probe register HOST PORT DOMAIN USER PASSWORD udp|tcp|tls\n"
                        "       sip_probe call HOST PORT NUMBER USER PASSWORD audio|t38|audio+t38 HOLD_S [udp|tcp|tls]\n");
        return 2;
    }
    char err[160];
    sip_endpoint_config ec = {.bind_addr = "127.0.0.1", .tls_ca_file = getenv("SIP_PROBE_CA")};
    sip_endpoint *ep = sip_endpoint_start(&ec, NULL, NULL, err, sizeof err);
    if (!ep) { fprintf(stderr, "%s\n", err); return 1; }
    if (!strcmp(argv[1], "register")) {
        sip_reg_config rc = {.registrar_host = argv[2], .registrar_port = atoi(argv[3]), .domain = argv[4],
                             .user = argv[5], .password = argv[6], .contact_host = "127.0.0.1", .expires = 120,
                             .transport = transport_of(argv[7])};
        sip_reg *r = sip_reg_start(ep, &rc);
        sip_reg_status st;
        for (int i = 0; i < 500; i++) {
            sip_reg_get(r, &st);
            if (st.state == SIP_REG_REGISTERED || st.state == SIP_REG_FAILED) break;
            sleep_ms(20);
        }
        printf("state=%s status=%d expires=%d error=%s advice=%s\n", sip_reg_state_name(st.state), st.last_status,
               st.granted_expires, st.last_error, st.advice);
        sip_reg_stop(r);
        sleep_ms(100);
        sip_endpoint_stop(ep);
        return st.state == SIP_REG_REGISTERED ? 0 : 3;
    }
    if (argc < 9) return 2;
    number = argv[4];
    offer = !strcmp(argv[7], "t38") ? SDP_KIND_T38 : SDP_KIND_AUDIO;
    switch_to_t38 = !strcmp(argv[7], "audio+t38");
    hold_s = atoi(argv[8]);
    sip_call_events ev = {ev_progress, ev_answered_hold, ev_media, ev_refused, ev_ended, NULL};
    sip_ua_config uc = {.trunk_host = argv[2], .trunk_port = atoi(argv[3]), .from_user = argv[5], .password = argv[6],
                        .local_host = "127.0.0.1", .ring_timeout_s = 20,
                        .transport = argc > 9 ? transport_of(argv[9]) : SIP_TP_UDP};
    ua = sip_ua_new(ep, &uc, &ev, NULL);
    sip_endpoint_add_tick(ep, watch, &hold_s);
    sip_endpoint_call(ep, place, NULL);
    for (int i = 0; i < 6000 && !atomic_load(&done); i++) sleep_ms(10);
    sip_endpoint_stop(ep);
    sip_ua_free(ua);
    return atomic_load(&done) ? 0 : 4;
}
