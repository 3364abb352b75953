/* test_direct_media.c — the direct backend's glue (src/backend/direct_media.c): real SDP
 * offers (T.38 as Asterisk sends it; PCMA with ptime 30; a dynamic PCMU type) answered by
 * src/sip/sdp.c, and the result turned into media_params with the far end's address, port, law, payload type, packet time, EC, datagram size,
 * version and rate management carried over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "backend/direct_media.h"

static sdp_negotiated answer(const char *offer_txt)
{
    sdp_session off;
    char err[160];
    assert_int_equal(sdp_parse(offer_txt, strlen(offer_txt), &off, err, sizeof err), 0);
    sdp_local l;
    sdp_local_init(&l, "127.0.0.1", 40000, 40002);
    strbuf sb;
    sb_init(&sb);
    sdp_negotiated n;
    assert_int_equal(sdp_answer(&off, &l, &sb, &n, err, sizeof err), 0);
    sb_free(&sb);
    return n;
}

static void test_t38(void **state)
{
    (void)state;
    sdp_negotiated n = answer("v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
                              "m=image 4012 udptl t38\r\na=T38FaxVersion:1\r\na=T38MaxBitRate:9600\r\n"
                              "a=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxDatagram:272\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n");
    media_params p;
    char err[160];
    assert_int_equal(direct_media_params(&n, true, &p, err, sizeof err), 0);
    assert_int_equal(p.kind, MEDIA_KIND_T38);
    assert_string_equal(p.remote_addr, "198.51.100.7");
    assert_int_equal(p.remote_port, 4012);
    assert_true(p.symmetric);
    assert_int_equal(p.udptl.ec, UDPTL_EC_REDUNDANCY);
    assert_int_equal(p.udptl.far_max_datagram, 272);
    assert_int_equal(p.udptl.t38_version, 0);       /* min(1, ours 0) */
    assert_int_equal(p.t38_max_bitrate, 9600);
    assert_int_equal(p.t38_rate_management, 2);
}

static void test_audio(void **state)
{
    (void)state;
    sdp_negotiated n = answer("v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
                              "m=audio 10000 RTP/AVP 8 0\r\na=ptime:30\r\n");
    media_params p;
    char err[160];
    assert_int_equal(direct_media_params(&n, false, &p, err, sizeof err), 0);
    assert_int_equal(p.kind, MEDIA_KIND_AUDIO);
    assert_int_equal(p.law, MEDIA_ALAW);
    assert_int_equal(p.payload_type, -1);
    assert_int_equal(p.ptime_ms, 30);
    assert_int_equal(p.remote_port, 10000);

    n = answer("v=0\r\no=- 1 1 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\n"
               "m=audio 10002 RTP/AVP 96\r\na=rtpmap:96 PCMU/8000\r\na=ptime:25\r\n");
    assert_int_equal(direct_media_params(&n, false, &p, err, sizeof err), 0);
    assert_int_equal(p.law, MEDIA_ULAW);
    assert_int_equal(p.payload_type, 96);
    assert_int_equal(p.ptime_ms, 20);                /* 25 ms is not a 10 ms step: ours */
    assert_string_equal(p.remote_addr, "2001:db8::5");

    sdp_negotiated none;
    memset(&none, 0, sizeof none);
    assert_int_equal(direct_media_params(&none, false, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "no media"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t38),
        cmocka_unit_test(test_audio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
