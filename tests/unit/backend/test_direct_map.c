/* test_direct_map.c — the direct backend's pure translations: an SDP answer Asterisk
 * gives (T.38 with redundancy, FEC as agreed, no EC; G.711 µ-law/A-law, a dynamic payload type,
 * ptime) as media parameters; our SDP side with and without T.38; SIP end reasons as
 * the job layer's failure words (and which are retried); the dialled number's format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend/direct_map.h"

static void test_t38_answer_to_media_params(void **state)
{
    (void)state;
    const char *body = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n"
                       "m=image 4002 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:9600\r\n"
                       "a=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxDatagram:272\r\n"
                       "a=T38FaxUdpEC:t38UDPRedundancy\r\n";
    sdp_session s;
    char err[160];
    if (sdp_parse(body, strlen(body), &s, err, sizeof err) != 0) fail_msg("%s", err);
    sdp_local l;
    direct_local_sdp(&l, "127.0.0.1", 40000, true);
    assert_int_equal(l.audio_port, 40000);
    assert_int_equal(l.t38_port, 40000);
    sdp_negotiated n;
    if (sdp_read_answer(&s, SDP_KIND_T38, &l, &n, err, sizeof err) != 0) fail_msg("%s", err);
    media_params p;
    direct_media_params(&n, true, &p);
    assert_int_equal(p.kind, MEDIA_KIND_T38);
    assert_string_equal(p.remote_addr, "127.0.0.9");
    assert_int_equal(p.remote_port, 4002);
    assert_true(p.symmetric);
    assert_int_equal(p.udptl.ec, UDPTL_EC_REDUNDANCY);
    assert_int_equal(p.udptl.far_max_datagram, 272);
    assert_int_equal(p.t38_max_bitrate, 9600);
    assert_int_equal(p.t38_rate_management, 2);
    char cerr[120];
    assert_int_equal(udptl_config_check(&p.udptl, cerr, sizeof cerr), 0);

    n.t38.ec = T38_EC_FEC;               /* as agreed when the far end offered FEC */
    direct_media_params(&n, true, &p);
    assert_int_equal(p.udptl.ec, UDPTL_EC_FEC);
    assert_int_equal(udptl_config_check(&p.udptl, cerr, sizeof cerr), 0);

    /* no EC, local TCF */
    n.t38.ec = T38_EC_NONE;
    n.t38.rate_management = T38_RATE_LOCAL_TCF;
    n.t38.max_bit_rate = 0;
    direct_media_params(&n, false, &p);
    assert_int_equal(p.udptl.ec, UDPTL_EC_NONE);
    assert_int_equal(p.t38_rate_management, 1);
    assert_int_equal(p.t38_max_bitrate, 14400);
    assert_false(p.symmetric);
}

static void test_audio_to_media_params(void **state)
{
    (void)state;
    sdp_negotiated n = {.kind = SDP_KIND_AUDIO, .remote_addr = "::1", .remote_family = 6, .remote_port = 10000,
                        .payload_type = 8, .ptime = 30};
    media_params p;
    direct_media_params(&n, true, &p);
    assert_int_equal(p.kind, MEDIA_KIND_AUDIO);
    assert_int_equal(p.law, MEDIA_ALAW);
    assert_int_equal(p.payload_type, 8);
    assert_int_equal(p.ptime_ms, 30);
    n.payload_type = 0;
    n.ptime = 25;                       /* not a multiple of 10: we keep our own */
    direct_media_params(&n, true, &p);
    assert_int_equal(p.law, MEDIA_ULAW);
    assert_int_equal(p.ptime_ms, 20);
    sdp_local l;
    direct_local_sdp(&l, "10.0.0.1", 40002, false);
    assert_int_equal(l.t38_port, 0);
    assert_true(l.pcmu && l.pcma);
}

static void test_failure_words(void **state)
{
    (void)state;
    struct { sip_end_reason r; const char *word; bool transient; } cases[] = {
        {SIP_END_BUSY, "busy", true}, {SIP_END_NO_ANSWER, "no_answer", true},
        {SIP_END_UNAVAILABLE, "congestion", true}, {SIP_END_TIMEOUT, "network_error", true},
        {SIP_END_DECLINED, "rejected", false}, {SIP_END_NOT_ACCEPTABLE, "rejected", false},
        {SIP_END_INVALID_NUMBER, "invalid_number", false}, {SIP_END_AUTH_FAILED, "provider_error", false},
        {SIP_END_HANGUP_REMOTE, "line_error", true}, {SIP_END_FAILED, "provider_error", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool t = !cases[i].transient;
        assert_string_equal(direct_failure_reason(cases[i].r, &t), cases[i].word);
        assert_int_equal(t, cases[i].transient);
    }
    assert_int_equal(sip_end_reason_for_status(486), SIP_END_BUSY);
}

static void test_dial_number(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(direct_dial_number("+15551234567", true, "", "#", out, sizeof out), 0);
    assert_string_equal(out, "+15551234567");
    assert_int_equal(direct_dial_number("+15551234567", false, NULL, NULL, out, sizeof out), 0);
    assert_string_equal(out, "15551234567");
    assert_int_equal(direct_dial_number("+15551234567", false, "1234", "#", out, sizeof out), 0);
    assert_string_equal(out, "1234#15551234567");
    assert_int_equal(direct_dial_number("+15551234567", true, "", "", out, 8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t38_answer_to_media_params),
        cmocka_unit_test(test_audio_to_media_params),
        cmocka_unit_test(test_failure_words),
        cmocka_unit_test(test_dial_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
