/* test_esl.c — unit tests for the FreeSWITCH Event Socket parser and fax helpers
 * (src/esl/esl_parse.c, esl_fax.c): framing split at every byte, nested event
 * bodies, url-decoding, the originate builder's escaping, BACKGROUND_JOB bodies,
 * hangup-cause and spandsp result mapping, and the hook's 1/0 status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "esl/esl_fax.h"
#include "esl/esl_parse.h"

/* A realistic stream: auth request, reply, api response, a BACKGROUND_JOB event
 * with its own body, a spandsp CUSTOM event, a disconnect notice. */
static const char *bgjob_body(void)
{
    return "Job-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621\n"
           "Job-Command: originate\n"
           "Job-Command-Arg: %7Bfax_header%3D%27ACME%20Corp%27%7Dsofia%2Fgateway%2Fgw%2F%2B1555\n"
           "Event-Name: BACKGROUND_JOB\n"
           "Content-Length: 41\n"
           "\n"
           "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621\n";
}

static char *build_stream(size_t *len)
{
    static char buf[8192];
    const char *body = bgjob_body();
    const char *custom = "Event-Name: CUSTOM\nEvent-Subclass: spandsp%3A%3Atxfaxresult\n"
                         "Unique-ID: 11111111-2222-4333-8444-555555555555\nfax-success: 1\n"
                         "fax-result-text: OK\nfax-remote-station-id: %2B1%20555%20REMOTE\n"
                         "fax-transfer-rate: 14400\nfax-ecm-used: on\nfax-document-transferred-pages: 3\n\n";
    int n = snprintf(buf, sizeof buf,
                     "Content-Type: auth/request\n\n"
                     "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
                     "Content-Type: api/response\nContent-Length: 4\n\ntrue"
                     "Content-Length: %zu\nContent-Type: text/event-plain\n\n%s"
                     "Content-Length: %zu\nContent-Type: text/event-plain\n\n%s"
                     "Content-Type: text/disconnect-notice\nContent-Length: 23\n\nDisconnected, goodbye.\n",
                     strlen(body), body, strlen(custom), custom);
    *len = (size_t)n;
    return buf;
}

/* Feeds the stream in two parts split at `cut` and checks every message. */
static void check_split(const char *s, size_t len, size_t cut)
{
    esl_parser *p = esl_parser_new();
    assert_non_null(p);
    esl_msg m[8];
    int got = 0;
    char err[128];
    for (int part = 0; part < 2; part++) {
        size_t off = part ? cut : 0, n = part ? len - cut : cut;
        assert_int_equal(esl_parser_feed(p, s + off, n), 0);
        int rc;
        while ((rc = esl_parser_next(p, &m[got], err, sizeof err)) == ESL_FRAME) got++;
        assert_int_equal(rc, ESL_NEED_MORE);
    }
    assert_int_equal(got, 6);
    assert_string_equal(esl_msg_get(&m[0], "Content-Type"), "auth/request");
    assert_null(m[0].body);
    assert_string_equal(esl_msg_get(&m[1], "reply-text"), "+OK accepted");
    assert_string_equal(m[2].body, "true");
    assert_int_equal(m[2].body_len, 4);
    esl_msg ev;
    assert_int_equal(esl_event_parse(m[3].body, m[3].body_len, &ev, err, sizeof err), ESL_FRAME);
    assert_string_equal(esl_msg_get(&ev, "Event-Name"), "BACKGROUND_JOB");
    assert_string_equal(esl_msg_get(&ev, "Job-Command-Arg"), "{fax_header='ACME Corp'}sofia/gateway/gw/+1555");
    assert_int_equal(ev.body_len, 41);
    assert_string_equal(ev.body, "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621\n");
    esl_msg_free(&ev);
    assert_int_equal(esl_event_parse(m[4].body, m[4].body_len, &ev, err, sizeof err), ESL_FRAME);
    assert_string_equal(esl_msg_get(&ev, "Event-Subclass"), "spandsp::txfaxresult");
    esl_fax_result r;
    esl_fax_result_from_event(&ev, &r);
    assert_int_equal(r.success, 1);
    assert_int_equal(r.pages, 3);
    assert_int_equal(r.bit_rate, 14400);
    assert_int_equal(r.ecm, 1);
    assert_string_equal(r.remote_station_id, "+1 555 REMOTE");
    esl_msg_free(&ev);
    assert_string_equal(esl_msg_get(&m[5], "Content-Type"), "text/disconnect-notice");
    assert_string_equal(m[5].body, "Disconnected, goodbye.\n");
    for (int i = 0; i < got; i++) esl_msg_free(&m[i]);
    esl_parser_free(p);
}

static void test_split_at_every_byte(void **state)
{
    (void)state;
    size_t len;
    char *s = build_stream(&len);
    for (size_t cut = 0; cut <= len; cut++) check_split(s, len, cut);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    size_t len;
    char *s = build_stream(&len);
    esl_parser *p = esl_parser_new();
    esl_msg m;
    char err[128];
    int got = 0;
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(esl_parser_feed(p, s + i, 1), 0);
        while (esl_parser_next(p, &m, err, sizeof err) == ESL_FRAME) {
            got++;
            esl_msg_free(&m);
        }
    }
    assert_int_equal(got, 6);
    esl_parser_free(p);
}

static void test_frame_errors(void **state)
{
    (void)state;
    esl_msg m;
    size_t used;
    char err[128];
    const char *bad_cl = "Content-Type: api/response\nContent-Length: 12x\n\nhello";
    assert_int_equal(esl_frame_parse(bad_cl, strlen(bad_cl), &m, &used, err, sizeof err), ESL_ERROR);
    const char *huge = "Content-Length: 999999999999\n\n";
    assert_int_equal(esl_frame_parse(huge, strlen(huge), &m, &used, err, sizeof err), ESL_ERROR);
    const char *noname = ": x\n\n";
    assert_int_equal(esl_frame_parse(noname, strlen(noname), &m, &used, err, sizeof err), ESL_ERROR);
    const char *nocolon = "garbage line\n\n";
    assert_int_equal(esl_frame_parse(nocolon, strlen(nocolon), &m, &used, err, sizeof err), ESL_ERROR);
    /* leading blank lines and CRLF are tolerated */
    const char *crlf = "\n\nContent-Type: command/reply\r\nReply-Text: -ERR invalid\r\n\r\n";
    assert_int_equal(esl_frame_parse(crlf, strlen(crlf), &m, &used, err, sizeof err), ESL_FRAME);
    assert_int_equal(used, strlen(crlf));
    assert_string_equal(esl_msg_get(&m, "Reply-Text"), "-ERR invalid");
    esl_msg_free(&m);
    /* NUL inside a value never shortens it silently */
    const char nul[] = "Reply-Text: a\0b\n\n";
    assert_int_equal(esl_frame_parse(nul, sizeof nul - 1, &m, &used, err, sizeof err), ESL_FRAME);
    assert_string_equal(esl_msg_get(&m, "Reply-Text"), "a?b");
    esl_msg_free(&m);
}

static void test_url_decode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(esl_url_decode("a%20b%2Cc", 9, out), 5);
    assert_string_equal(out, "a b,c");
    esl_url_decode("100%", 4, out);
    assert_string_equal(out, "100%");
    esl_url_decode("%zz%4", 5, out);
    assert_string_equal(out, "%zz%4");
    esl_url_decode("x%00y+z", 7, out);
    assert_string_equal(out, "x?y+z");
    esl_url_decode("%e2%82%ac", 9, out);
    assert_string_equal(out, "\xe2\x82\xac");
}

static void test_var_clean(void **state)
{
    (void)state;
    char out[64];
    assert_false(esl_var_clean("ACME Corp", out, sizeof out, 50));
    assert_string_equal(out, "ACME Corp");
    assert_true(esl_var_clean("a,b='c'}{x}[y]<z>^^:$ {v}\\|`\"", out, sizeof out, 50));
    assert_string_equal(out, "a b= c x y z : v");
    assert_true(esl_var_clean("line1\r\nbgapi evil\n\n", out, sizeof out, 50));
    assert_string_equal(out, "line1 bgapi evil");
    assert_true(esl_var_clean("  ${system(id)}  ", out, sizeof out, 50));
    assert_string_equal(out, "system(id)");
    assert_true(esl_var_clean("caf\xc3\xa9", out, sizeof out, 50));
    assert_string_equal(out, "caf");
    assert_true(esl_var_clean("abcdefghijklmnopqrstuvwxyz", out, sizeof out, 20));
    assert_int_equal(strlen(out), 20);
    esl_var_clean(NULL, out, sizeof out, 20);
    assert_string_equal(out, "");
}

static const char *JOB = "0123456789abcdef0123456789abcdef";
static const char *UUID = "11111111-2222-4333-8444-555555555555";

static void test_originate_build(void **state)
{
    (void)state;
    char out[2048], err[256];
    esl_originate o = {.job_id = JOB, .channel_uuid = UUID, .gateway = "gw_1", .number = "+15551234567",
                       .tiff_path = "/data/outbound/x/fax.tiff", .fax_ident = "+1 555 000",
                       .fax_header = "Smith, Jones & Co {x}", .caller_id = "+15550001111", .ecm = true, .t38 = false,
                       .timeout_s = 45};
    assert_int_equal(esl_originate_build(&o, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out,
                        "originate {faxbot_job_id=0123456789abcdef0123456789abcdef,"
                        "origination_uuid=11111111-2222-4333-8444-555555555555,fax_ident='+1 555 000',"
                        "fax_header='Smith Jones & Co x',fax_use_ecm=true,fax_enable_t38=false,"
                        "fax_enable_t38_request=false,origination_caller_id_number=+15550001111,"
                        "originate_timeout=45,ignore_early_media=true}sofia/gateway/gw_1/+15551234567 "
                        "&txfax(/data/outbound/x/fax.tiff)");
    /* empty header and caller id are left out */
    o.fax_header = "";
    o.caller_id = "";
    assert_int_equal(esl_originate_build(&o, out, sizeof out, err, sizeof err), 0);
    assert_null(strstr(out, "fax_header"));
    assert_null(strstr(out, "origination_caller_id_number"));
    /* refused, never rewritten */
    esl_originate bad = o;
    bad.number = "+1555 123";
    assert_int_equal(esl_originate_build(&bad, out, sizeof out, err, sizeof err), -1);
    bad.number = "+15551234567}&park";
    assert_int_equal(esl_originate_build(&bad, out, sizeof out, err, sizeof err), -1);
    bad = o;
    bad.gateway = "gw/../x";
    assert_int_equal(esl_originate_build(&bad, out, sizeof out, err, sizeof err), -1);
    bad = o;
    bad.tiff_path = "/data/my faxes/x.tif";
    assert_int_equal(esl_originate_build(&bad, out, sizeof out, err, sizeof err), -1);
    bad.tiff_path = "/data/x.tif)&park(";
    assert_int_equal(esl_originate_build(&bad, out, sizeof out, err, sizeof err), -1);
    bad.tiff_path = "/data/../etc/x.tif";
    assert_int_equal(esl_originate_build(&bad, out, sizeof out, err, sizeof err), -1);
    bad = o;
    bad.job_id = "0123456789abcdef0123456789abcde,";
    assert_int_equal(esl_originate_build(&bad, out, sizeof out, err, sizeof err), -1);
    bad = o;
    bad.caller_id = "123,x=y";
    assert_int_equal(esl_originate_build(&bad, out, sizeof out, err, sizeof err), -1);
    /* too small a buffer is an error, not a cut command */
    assert_int_equal(esl_originate_build(&o, out, 40, err, sizeof err), -1);
}

/* Whatever the header, the variable list splits into exactly the expected items. */
static void test_originate_never_splits(void **state)
{
    (void)state;
    const char *evil[] = {
        "a,b=c", "x}sofia/gateway/evil/1 &park()", "'quoted'", "\"dq\"", "${var}", "$${x}",
        "^^:a=b:c=d", "[leg=1]", "<ent=1>", "line\r\nbgapi x", "\\,", "tab\there",
        "multi   space", "'", "}", "{", ",,,,", "x\x01\x7f\xff",
    };
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        char out[2048], err[256];
        esl_originate o = {.job_id = JOB, .channel_uuid = UUID, .gateway = "gw", .number = "15551234567",
                           .tiff_path = "/d/fax.tiff", .fax_ident = evil[i], .fax_header = evil[i],
                           .caller_id = "", .ecm = true, .t38 = true, .timeout_s = 60};
        assert_int_equal(esl_originate_build(&o, out, sizeof out, err, sizeof err), 0);
        assert_null(strpbrk(out, "\r\n\t"));
        const char *open = strchr(out, '{');
        assert_non_null(open);
        /* the list ends at the first '}' outside quotes, right before the dial string */
        int quoted = 0, commas = 0;
        const char *p = open + 1;
        for (; *p; p++) {
            if (*p == '\'') quoted = !quoted;
            else if (*p == ',' && !quoted) commas++;
            else if (*p == '}' && !quoted) break;
        }
        assert_int_equal(quoted, 0);
        assert_non_null(strstr(p, "}sofia/gateway/gw/15551234567 &txfax(/d/fax.tiff)"));
        assert_string_equal(p, "}sofia/gateway/gw/15551234567 &txfax(/d/fax.tiff)");
        /* 10 items at most (fax_ident/fax_header may be dropped when empty) */
        assert_true(commas <= 8);
        assert_null(strstr(out, "${"));
    }
}

static void test_bgjob_result(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(esl_bgjob_result("+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621\n", out, sizeof out), 1);
    assert_string_equal(out, "7f4de4bc-17d7-11dd-b7a0-db4edd065621");
    assert_int_equal(esl_bgjob_result("-ERR USER_BUSY\n", out, sizeof out), 0);
    assert_string_equal(out, "USER_BUSY");
    assert_int_equal(esl_bgjob_result("-ERR NO_ANSWER\r\n", out, sizeof out), 0);
    assert_string_equal(out, "NO_ANSWER");
    assert_int_equal(esl_bgjob_result("-ERR\n", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(esl_bgjob_result("garbage", out, sizeof out), -1);
    assert_int_equal(esl_bgjob_result(NULL, out, sizeof out), -1);
    char tiny[4];
    assert_int_equal(esl_bgjob_result("-ERR USER_BUSY", tiny, sizeof tiny), 0);
    assert_string_equal(tiny, "USE");
}

static void test_cause_mapping(void **state)
{
    (void)state;
    bool t = false;
    assert_string_equal(esl_cause_reason("USER_BUSY", &t), "busy");
    assert_true(t);
    assert_string_equal(esl_cause_reason("NO_ANSWER", &t), "no_answer");
    assert_true(t);
    assert_string_equal(esl_cause_reason("NO_USER_RESPONSE", &t), "no_answer");
    assert_true(t);
    assert_string_equal(esl_cause_reason("CALL_REJECTED", &t), "rejected");
    assert_false(t);
    assert_string_equal(esl_cause_reason("UNALLOCATED_NUMBER", &t), "invalid_number");
    assert_false(t);
    assert_string_equal(esl_cause_reason("NORMAL_CIRCUIT_CONGESTION", &t), "congestion");
    assert_true(t);
    assert_string_equal(esl_cause_reason("GATEWAY_DOWN", &t), "network_error");
    assert_true(t);
    assert_string_equal(esl_cause_reason("INCOMPATIBLE_DESTINATION", &t), "line_error");
    assert_false(t);
    assert_string_equal(esl_cause_reason("SOMETHING_NEW", &t), "line_error");
    assert_true(t);
    assert_true(esl_is_cause_name("USER_BUSY"));
    assert_false(esl_is_cause_name("Invalid gateway"));
    assert_false(esl_is_cause_name(""));
}

static void event_from(const char *text, esl_msg *ev)
{
    char err[64];
    assert_int_equal(esl_event_parse(text, strlen(text), ev, err, sizeof err), ESL_FRAME);
}

static void test_fax_result_mapping(void **state)
{
    (void)state;
    esl_msg ev;
    esl_fax_result r;
    bool t = false;
    /* CHANNEL_HANGUP_COMPLETE with channel variables */
    event_from("Event-Name: CHANNEL_HANGUP_COMPLETE\nHangup-Cause: NORMAL_CLEARING\nvariable_fax_success: 0\n"
               "variable_fax_result_code: 49\nvariable_fax_result_text: Disconnected%20after%20permitted%20retries\n"
               "variable_fax_document_transferred_pages: 1\nvariable_fax_ecm_used: off\n"
               "variable_fax_t38_status: negotiated\n\n", &ev);
    esl_fax_result_from_event(&ev, &r);
    assert_int_equal(r.success, 0);
    assert_int_equal(r.result_code, 49);
    assert_string_equal(r.result_text, "Disconnected after permitted retries");
    assert_int_equal(r.pages, 1);
    assert_int_equal(r.ecm, 0);
    assert_true(r.t38);
    assert_string_equal(r.hangup_cause, "NORMAL_CLEARING");
    assert_string_equal(esl_fax_failure(&r, &t), "line_error");
    assert_true(t);
    esl_msg_free(&ev);
    /* a hangup without a fax result: the cause decides */
    event_from("Event-Name: CHANNEL_HANGUP_COMPLETE\nHangup-Cause: USER_BUSY\n\n", &ev);
    esl_fax_result_from_event(&ev, &r);
    assert_int_equal(r.success, -1);
    assert_int_equal(r.pages, -1);
    assert_int_equal(r.ecm, -1);
    assert_string_equal(esl_fax_failure(&r, &t), "busy");
    esl_msg_free(&ev);
    /* a real FreeSWITCH 1.10.12 whose T.38 re-INVITE was declined (answered, no fax): "refused"
     * is not T.38; empty headers (fax-remote-station-id) are left out */
    event_from("Event-Name: CUSTOM\nEvent-Subclass: spandsp%3A%3Atxfaxresult\nfax-success: 0\n"
               "fax-result-code: 49\nfax-result-text: The%20call%20dropped%20prematurely\n"
               "fax-document-transferred-pages: 0\nfax-document-total-pages: 0\nfax-image-resolution: 0x0\n"
               "fax-ecm-used: off\nfax-t38-status: refused\nfax-transfer-rate: 14400\n\n", &ev);
    esl_fax_result_from_event(&ev, &r);
    assert_int_equal(r.success, 0);
    assert_int_equal(r.result_code, 49);
    assert_false(r.t38);
    assert_int_equal(r.ecm, 0);
    assert_string_equal(r.remote_station_id, "");
    esl_msg_free(&ev);
    /* the remote station id is untrusted: cleaned */
    event_from("Event-Name: CUSTOM\nfax-success: 1\nfax-remote-station-id: %22%3E%0D%0Aevil%2C%7B%7D\n\n", &ev);
    esl_fax_result_from_event(&ev, &r);
    assert_int_equal(r.success, 1);
    assert_string_equal(r.remote_station_id, "evil");
    esl_msg_free(&ev);
    /* spandsp code buckets come from the fax engine's table */
    esl_fax_result rr = {.success = 0, .result_code = 2, .hangup_cause = ""};
    assert_string_equal(esl_fax_failure(&rr, &t), "no_answer");   /* T30_ERR_T0_EXPIRED */
    rr.result_code = -1;
    memcpy(rr.hangup_cause, "NO_ANSWER", 10);
    assert_string_equal(esl_fax_failure(&rr, &t), "no_answer");
}

static void test_hook_status(void **state)
{
    (void)state;
    /* Faxbot's documented hook sends fax_status=${fax_success} */
    assert_int_equal(esl_hook_status(NULL, "1", NULL), 1);
    assert_int_equal(esl_hook_status(NULL, "0", NULL), 0);
    assert_int_equal(esl_hook_status("1", NULL, NULL), 1);
    assert_int_equal(esl_hook_status("0", "SUCCESS", NULL), 0);   /* fax_success wins */
    assert_int_equal(esl_hook_status(NULL, "SUCCESS", NULL), 1);
    assert_int_equal(esl_hook_status(NULL, "ok", NULL), 1);
    assert_int_equal(esl_hook_status(NULL, "FAILED", NULL), 0);
    assert_int_equal(esl_hook_status(NULL, "error", NULL), 0);
    assert_int_equal(esl_hook_status(NULL, "", "FAX_FAILURE"), 0);
    assert_int_equal(esl_hook_status(NULL, "", ""), -1);
    assert_int_equal(esl_hook_status("", "", NULL), -1);
    assert_int_equal(esl_hook_status(NULL, "in progress", NULL), -1);
}

static void test_tokens(void **state)
{
    (void)state;
    assert_true(esl_is_number("+15551234567"));
    assert_true(esl_is_number("4930123"));
    assert_false(esl_is_number("+1"));
    assert_false(esl_is_number("+1555 1234"));
    assert_false(esl_is_number("123456789012345678901"));
    assert_true(esl_is_gateway_name("gw_signalwire"));
    assert_false(esl_is_gateway_name("gw/x"));
    assert_false(esl_is_gateway_name(""));
    assert_true(esl_is_safe_path("/var/lib/faxbot/outbound/ab/fax.tiff"));
    assert_false(esl_is_safe_path("relative/x.tif"));
    assert_false(esl_is_safe_path("/a b/x.tif"));
    assert_false(esl_is_safe_path("/a/../x.tif"));
    assert_true(esl_is_uuid(UUID));
    assert_false(esl_is_uuid("11111111-2222-4333-8444-55555555555"));
    assert_false(esl_is_uuid("11111111x2222-4333-8444-555555555555"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_frame_errors),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_var_clean),
        cmocka_unit_test(test_originate_build),
        cmocka_unit_test(test_originate_never_splits),
        cmocka_unit_test(test_bgjob_result),
        cmocka_unit_test(test_cause_mapping),
        cmocka_unit_test(test_fax_result_mapping),
        cmocka_unit_test(test_hook_status),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
