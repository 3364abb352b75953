/* test_direct_map.c — the direct backend's pure translations (direct_map.c): our SDP
 * side with and without T.38; SIP end reasons as the job layer's failure words (and
 * which are retried); the dialled number's format. (SDP → media_params is
 * test_direct_media.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend/direct_map.h"

static void test_local_sdp(void **state)
{
    (void)state;
    sdp_local l;
    direct_local_sdp(&l, "10.0.0.1", 40002, true);
    assert_int_equal(l.audio_port, 40002);
    assert_int_equal(l.t38_port, 40002);          /* one socket carries audio, then T.38 */
    assert_true(l.pcmu && l.pcma);
    assert_int_equal(l.t38.max_datagram, 400);
    direct_local_sdp(&l, "10.0.0.1", 40002, false);
    assert_int_equal(l.t38_port, 0);              /* DIRECT_T38=off: a T.38 offer gets 488 */
    strbuf sb;
    sb_init(&sb);
    assert_int_equal(sdp_build_offer(&l, SDP_KIND_AUDIO, &sb), 0);
    assert_non_null(strstr(sb.data, "m=audio 40002 RTP/AVP 0 8"));
    sb_free(&sb);
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
        cmocka_unit_test(test_local_sdp),
        cmocka_unit_test(test_failure_words),
        cmocka_unit_test(test_dial_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
