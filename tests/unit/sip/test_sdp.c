/* test_sdp.c — SDP for fax calls (src/sip/sdp.c): T.38 and G.711 offers as Asterisk
 * and trunks send them, answers that follow RFC 3264 (one line per offered line, port
 * 0 for the refused ones), the T.38 parameter agreement (version, rate, EC, rate
 * management, datagram), attribute aliases and case, and refused inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sip/sdp.h"

static sdp_local local_caps(void)
{
    sdp_local l;
    sdp_local_init(&l, "192.0.2.10", 40000, 40002);
    l.sess_id = 42;
    return l;
}

/* what res_pjsip_t38 sends in a re-INVITE (PROTOCOLS.md §4.6) */
static const char asterisk_t38[] =
    "v=0\r\no=- 1234 5678 IN IP4 198.51.100.7\r\ns=Asterisk\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
    "m=image 4012 udptl t38\r\n"
    "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n"
    "a=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n";

static void test_t38_offer_answered(void **state)
{
    (void)state;
    sdp_session off;
    char err[160];
    assert_int_equal(sdp_parse(asterisk_t38, strlen(asterisk_t38), &off, err, sizeof err), 0);
    assert_int_equal(off.n_media, 1);
    assert_true(off.m[0].t38);
    assert_int_equal(off.m[0].port, 4012);
    assert_int_equal(off.m[0].t38p.max_datagram, 400);
    assert_int_equal(off.m[0].t38p.ec, T38_EC_REDUNDANCY);
    assert_int_equal(off.m[0].t38p.rate_management, T38_RATE_TRANSFERRED_TCF);

    sdp_local l = local_caps();
    l.t38.max_datagram = 1400;
    strbuf sb;
    sb_init(&sb);
    sdp_negotiated res;
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.kind, SDP_KIND_T38);
    assert_string_equal(res.remote_addr, "198.51.100.7");
    assert_int_equal(res.remote_family, 4);
    assert_int_equal(res.remote_port, 4012);
    assert_int_equal(res.t38.version, 0);
    assert_int_equal(res.t38.max_bit_rate, 14400);
    assert_int_equal(res.t38.ec, T38_EC_REDUNDANCY);
    assert_int_equal(res.t38.max_datagram, 400);   /* the far end's limit, for our sending */
    assert_int_equal(res.payload_type, -1);
    /* the answer carries our datagram size and parses back */
    assert_non_null(strstr(sb.data, "m=image 40002 udptl t38\r\n"));
    assert_non_null(strstr(sb.data, "a=T38FaxMaxDatagram:1400\r\n"));
    sdp_session ans;
    assert_int_equal(sdp_parse(sb.data, sb.len, &ans, err, sizeof err), 0);
    assert_int_equal(ans.m[0].t38p.rate_management, T38_RATE_TRANSFERRED_TCF);
    /* and the offerer reads it */
    sdp_negotiated back;
    assert_int_equal(sdp_read_answer(&ans, SDP_KIND_T38, &l, &back, err, sizeof err), 0);
    assert_int_equal(back.remote_port, 40002);
    assert_int_equal(back.t38.max_datagram, 1400);
    sb_free(&sb);
}

static void test_t38_agreement_rules(void **state)
{
    (void)state;
    static const char off_txt[] =
        "v=0\r\no=x 1 1 IN IP4 203.0.113.5\r\ns=-\r\nt=0 0\r\n"
        "m=image 5000 UDPTL t38\r\nc=IN IP4 203.0.113.9\r\n"
        "a=t38faxversion:3\r\na=T38FaxMaxRate:33600\r\na=T38FaxRateManagement:localTCF\r\n"
        "a=T38MaxDatagram:272\r\na=T38FaxUdpEc:t38UDPFEC\r\na=T38FaxFillBitRemoval\r\na=T38FaxTranscodingMMR:1\r\n";
    sdp_session off;
    char err[160];
    assert_int_equal(sdp_parse(off_txt, strlen(off_txt), &off, err, sizeof err), 0);
    assert_string_equal(off.m[0].addr, "203.0.113.9");   /* media c= wins */
    assert_int_equal(off.m[0].t38p.version, 3);
    assert_int_equal(off.m[0].t38p.max_bit_rate, 33600);
    assert_true(off.m[0].t38p.fill_bit_removal);
    assert_true(off.m[0].t38p.transcoding_mmr);
    sdp_local l = local_caps();
    strbuf sb;
    sb_init(&sb);
    sdp_negotiated res;
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.t38.version, 0);                         /* min(3, ours 0) */
    assert_int_equal(res.t38.max_bit_rate, 14400);                /* min(33600, 14400) */
    assert_int_equal(res.t38.rate_management, T38_RATE_LOCAL_TCF); /* echoes the offer */
    assert_int_equal(res.t38.ec, T38_EC_REDUNDANCY);              /* FEC offered, we do redundancy */
    assert_false(res.t38.fill_bit_removal);
    assert_false(res.t38.transcoding_mmr);
    assert_int_equal(res.t38.max_datagram, 272);
    assert_non_null(strstr(sb.data, "a=T38FaxRateManagement:localTCF\r\n"));
    assert_non_null(strstr(sb.data, "a=T38FaxUdpEC:t38UDPRedundancy\r\n"));
    assert_null(strstr(sb.data, "FillBitRemoval"));
    sb_free(&sb);

    /* with FEC on our side FEC is kept; with none, none */
    l.t38.ec = T38_EC_FEC;
    sb_init(&sb);
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.t38.ec, T38_EC_FEC);
    sb_free(&sb);
    l.t38.ec = T38_EC_NONE;
    sb_init(&sb);
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.t38.ec, T38_EC_NONE);
    assert_null(strstr(sb.data, "T38FaxUdpEC"));
    sb_free(&sb);
}

static void test_audio_offer_answered(void **state)
{
    (void)state;
    static const char off_txt[] =
        "v=0\r\no=- 1 2 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
        "m=audio 10000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:30\r\na=sendrecv\r\n";
    sdp_session off;
    char err[160];
    assert_int_equal(sdp_parse(off_txt, strlen(off_txt), &off, err, sizeof err), 0);
    sdp_local l = local_caps();
    strbuf sb;
    sb_init(&sb);
    sdp_negotiated res;
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.kind, SDP_KIND_AUDIO);
    assert_int_equal(res.payload_type, 8);       /* the offerer's first choice */
    assert_true(res.pcma);
    assert_int_equal(res.ptime, 30);
    assert_int_equal(res.remote_port, 10000);
    assert_non_null(strstr(sb.data, "m=audio 40000 RTP/AVP 8\r\n"));
    assert_null(strstr(sb.data, "telephone-event"));
    sb_free(&sb);

    /* PCMA not allowed locally → PCMU; neither → refused */
    l.pcma = false;
    sb_init(&sb);
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.payload_type, 0);
    assert_false(res.pcma);
    sb_free(&sb);
    l.pcmu = false;
    sb_init(&sb);
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), -1);
    assert_non_null(strstr(err, "no acceptable stream"));
    sb_free(&sb);

    /* a dynamic payload type mapped to PCMU by rtpmap */
    static const char dyn[] = "v=0\r\no=- 1 2 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n"
                              "m=audio 10002 RTP/AVP 96\r\na=rtpmap:96 PCMU/8000\r\na=sendonly\r\n";
    assert_int_equal(sdp_parse(dyn, strlen(dyn), &off, err, sizeof err), 0);
    l = local_caps();
    sb_init(&sb);
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.payload_type, 96);
    assert_false(res.pcma);   /* 96 carries PCMU */
    assert_int_equal(res.remote_family, 6);
    assert_int_equal(res.dir, SDP_RECVONLY);
    assert_non_null(strstr(sb.data, "a=recvonly\r\n"));
    sb_free(&sb);
}

static void test_answer_keeps_lines_and_refuses(void **state)
{
    (void)state;
    /* audio + T.38 + video offered together: T.38 taken, the others port 0, in order */
    static const char off_txt[] =
        "v=0\r\no=- 1 2 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
        "m=audio 10000 RTP/AVP 0\r\nm=image 10002 udptl t38\r\na=T38FaxVersion:0\r\nm=video 10004 RTP/AVP 31\r\n";
    sdp_session off, ans;
    char err[160];
    assert_int_equal(sdp_parse(off_txt, strlen(off_txt), &off, err, sizeof err), 0);
    assert_int_equal(off.n_media, 3);
    sdp_local l = local_caps();
    strbuf sb;
    sb_init(&sb);
    sdp_negotiated res;
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.kind, SDP_KIND_T38);
    assert_int_equal(sdp_parse(sb.data, sb.len, &ans, err, sizeof err), 0);
    assert_int_equal(ans.n_media, 3);
    assert_string_equal(ans.m[0].media, "audio");
    assert_int_equal(ans.m[0].port, 0);
    assert_int_equal(ans.m[1].port, 40002);
    assert_string_equal(ans.m[2].media, "video");
    assert_int_equal(ans.m[2].port, 0);
    sb_free(&sb);

    /* without a T.38 port we take the audio */
    l.t38_port = 0;
    sb_init(&sb);
    assert_int_equal(sdp_answer(&off, &l, &sb, &res, err, sizeof err), 0);
    assert_int_equal(res.kind, SDP_KIND_AUDIO);
    sb_free(&sb);

    /* the far end refusing our T.38 re-INVITE offer with port 0 */
    static const char refused[] = "v=0\r\no=- 1 3 IN IP4 198.51.100.1\r\ns=-\r\nt=0 0\r\nm=image 0 udptl t38\r\n";
    assert_int_equal(sdp_parse(refused, strlen(refused), &ans, err, sizeof err), 0);
    assert_int_equal(sdp_read_answer(&ans, SDP_KIND_T38, &l, &res, err, sizeof err), -1);
    assert_non_null(strstr(err, "refused T.38"));
}

static void test_offers_round_trip(void **state)
{
    (void)state;
    sdp_local l = local_caps();
    char err[160];
    strbuf sb;
    sb_init(&sb);
    assert_int_equal(sdp_build_offer(&l, SDP_KIND_AUDIO, &sb), 0);
    sdp_session s;
    assert_int_equal(sdp_parse(sb.data, sb.len, &s, err, sizeof err), 0);
    assert_int_equal(s.n_media, 1);
    assert_int_equal(s.m[0].port, 40000);
    assert_int_equal(s.m[0].n_fmt, 2);
    assert_int_equal(s.m[0].pcmu_pt, 0);
    assert_int_equal(s.m[0].pcma_pt, 8);
    assert_int_equal(s.sess_id, 42);
    sb_free(&sb);
    sb_init(&sb);
    assert_int_equal(sdp_build_offer(&l, SDP_KIND_T38, &sb), 0);
    assert_int_equal(sdp_parse(sb.data, sb.len, &s, err, sizeof err), 0);
    assert_true(s.m[0].t38);
    assert_int_equal(s.m[0].t38p.max_buffer, 1800);
    assert_int_equal(s.m[0].t38p.max_datagram, 400);
    assert_int_equal(s.m[0].t38p.ec, T38_EC_REDUNDANCY);
    sb_free(&sb);
    l.t38_port = 0;
    sb_init(&sb);
    assert_int_equal(sdp_build_offer(&l, SDP_KIND_T38, &sb), -1);
    sb_free(&sb);
}

static void test_bad_sdp(void **state)
{
    (void)state;
    static const struct { const char *txt, *why; } bad[] = {
        {"o=- 1 1 IN IP4 1.2.3.4\r\n", "v=0"},
        {"v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\n", "v=0"},
        {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 fax.example.com\r\n", "numeric"},
        {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 10000 RTP/AVP 0\r\n", "without a connection address"},
        {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n", "bad port"},
        {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 300\r\n", "payload type"},
        {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=image 1 udptl t38\r\na=T38FaxVersion:9\r\n", "T38FaxVersion"},
        {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=image 1 udptl t38\r\na=T38FaxRateManagement:maybe\r\n", "RateManagement"},
        {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nx\r\n", "bad SDP line"},
        {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=a\001b\r\n", "control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sdp_session s;
        char err[160] = "";
        if (sdp_parse(bad[i].txt, strlen(bad[i].txt), &s, err, sizeof err) != -1) fail_msg("accepted: %s", bad[i].txt);
        if (!strstr(err, bad[i].why)) fail_msg("reason \"%s\" lacks \"%s\"", err, bad[i].why);
    }
    /* more m= lines than the limit */
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n");
    for (int i = 0; i <= SDP_MAX_MEDIA; i++) sb_puts(&sb, "m=audio 0 RTP/AVP 0\r\n");
    sdp_session s;
    char err[160];
    assert_int_equal(sdp_parse(sb.data, sb.len, &s, err, sizeof err), -1);
    sb_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t38_offer_answered),
        cmocka_unit_test(test_t38_agreement_rules),
        cmocka_unit_test(test_audio_offer_answered),
        cmocka_unit_test(test_answer_keeps_lines_and_refuses),
        cmocka_unit_test(test_offers_round_trip),
        cmocka_unit_test(test_bad_sdp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
