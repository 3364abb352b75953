/* test_ami.c — unit tests of the pure AMI parts (src/ami/): the incremental parser
 * (a realistic transcript gives the same messages whole, split at every byte, and
 * byte by byte), its limits, value quoting checked against Asterisk's own argument
 * splitting (re-implemented here from Asterisk's main/app.c __ast_app_separate_args), the
 * outcome mapping (Reason codes, Q.850 causes, FAXSTATUS/FAXERROR), number
 * formatting per trunk preset, and the rendered configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ami/ami_fax.h"
#include "ami/ami_parse.h"
#include "ami/ami_trunk.h"
#include "config/config.h"
#include "util/util.h"
#include "config/settings.h"

/* The settings seam reads a snapshot: every change of the environment here makes
 * a new one (settings_use_environment), as a restart of the gateway would. */
static void test_setenv(const char *name, const char *value, int overwrite)
{
    settings_register(ami_trunk_settings, -1);
    setenv(name, value, overwrite);
    settings_use_environment();
}

static void test_unsetenv(const char *name)
{
    settings_register(ami_trunk_settings, -1);
    unsetenv(name);
    settings_use_environment();
}

/* ---- parser ---- */

static const char TRANSCRIPT[] =
    "Asterisk Call Manager/11.0.0\r\n"
    "Response: Success\r\nActionID: faxbot-login-1\r\nMessage: Authentication accepted\r\n\r\n"
    "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
    "Response: Success\r\nActionID: o1\r\nMessage: Originate successfully queued\r\n\r\n"
    "Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: o1\r\nResponse: Failure\r\n"
    "Channel: PJSIP/+15551234567@faxbot-trunk\r\nReason: 5\r\nUniqueid: faxbot-abc-1\r\n\r\n"
    "Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n"
    "Channel              Location\r\n\r\nPJSIP/x-0001        s@faxout:1\r\nName: not a header\r\n"
    "--END COMMAND--\r\n\r\n"
    "Response: Success\r\nActionID: c2\r\nMessage: Command output follows\r\nOutput: line one\r\n"
    "Output: line two\r\n\r\n"
    "Event: UserEvent\r\nUserEvent: FaxResult\r\nJobID: 0123\r\nFaxStatus: SUCCESS\r\nEmpty:\r\n\n"
    "\r\n\r\n";

/* Serializes every message to one string, so two runs can be compared exactly. */
static void collect(void *user, const ami_message *m)
{
    strbuf *sb = user;
    sb_appendf(sb, "<%d%s>", (int)m->kind, m->truncated ? "T" : "");
    if (m->banner) sb_appendf(sb, "banner=%s|", m->banner);
    for (size_t i = 0; i < m->n_fields; i++) sb_appendf(sb, "%s=%s|", m->fields[i].key, m->fields[i].value);
    if (m->output_len) sb_appendf(sb, "out=%s|", m->output);
}

static char *parse_chunks(const char *data, size_t len, size_t split_a, size_t split_b)
{
    ami_parser *p = ami_parser_new(true);
    strbuf sb;
    sb_init(&sb);
    ami_parser_feed(p, data, split_a, collect, &sb);
    ami_parser_feed(p, data + split_a, split_b - split_a, collect, &sb);
    ami_parser_feed(p, data + split_b, len - split_b, collect, &sb);
    ami_parser_free(p);
    sb_puts(&sb, "");
    return sb_steal(&sb);
}

typedef struct {
    int n;
    ami_message copy_kind[16];
    char orig_reason[8];
    char follows_out[256];
    char output2[32];
    char jobid[16];
    char empty[8];
    bool empty_present;
} seen;

static void inspect(void *user, const ami_message *m)
{
    seen *s = user;
    s->copy_kind[s->n++].kind = m->kind;
    const char *ev = ami_msg_get(m, "event");
    if (ev && !strcmp(ev, "OriginateResponse")) str_copy(s->orig_reason, sizeof s->orig_reason, ami_msg_get(m, "REASON"));
    if (m->output_len) str_copy(s->follows_out, sizeof s->follows_out, m->output);
    const char *o2 = ami_msg_get_nth(m, "Output", 1);
    if (o2) str_copy(s->output2, sizeof s->output2, o2);
    if (ev && !strcmp(ev, "UserEvent")) {
        str_copy(s->jobid, sizeof s->jobid, ami_msg_get(m, "JobID"));
        const char *e = ami_msg_get(m, "Empty");
        s->empty_present = e != NULL;
        if (e) str_copy(s->empty, sizeof s->empty, e);
    }
}

static void test_parser_transcript(void **state)
{
    (void)state;
    seen s;
    memset(&s, 0, sizeof s);
    ami_parser *p = ami_parser_new(true);
    int n = ami_parser_feed(p, TRANSCRIPT, sizeof TRANSCRIPT - 1, inspect, &s);
    ami_parser_free(p);
    assert_int_equal(n, 8);
    assert_int_equal(s.n, 8);
    assert_int_equal(s.copy_kind[0].kind, AMI_MSG_BANNER);
    assert_int_equal(s.copy_kind[1].kind, AMI_MSG_RESPONSE);
    assert_int_equal(s.copy_kind[2].kind, AMI_MSG_EVENT);
    assert_string_equal(s.orig_reason, "5");
    /* the old-style command output keeps its blank line and its "Key: value"-looking line */
    assert_string_equal(s.follows_out, "Channel              Location\n\nPJSIP/x-0001        s@faxout:1\n"
                                       "Name: not a header\n");
    assert_string_equal(s.output2, "line two");
    assert_string_equal(s.jobid, "0123");
    assert_true(s.empty_present);
    assert_string_equal(s.empty, "");
}

static void test_parser_split_at_every_byte(void **state)
{
    (void)state;
    size_t len = sizeof TRANSCRIPT - 1;
    char *whole = parse_chunks(TRANSCRIPT, len, len, len);
    assert_non_null(strstr(whole, "banner=Asterisk Call Manager/11.0.0|"));
    for (size_t a = 0; a <= len; a++) {
        char *two = parse_chunks(TRANSCRIPT, len, a, a);
        assert_string_equal(two, whole);
        free(two);
        if (a % 7 == 0) {
            for (size_t b = a; b <= len; b += 13) {
                char *three = parse_chunks(TRANSCRIPT, len, a, b);
                assert_string_equal(three, whole);
                free(three);
            }
        }
    }
    /* byte by byte */
    ami_parser *p = ami_parser_new(true);
    strbuf sb;
    sb_init(&sb);
    for (size_t i = 0; i < len; i++) ami_parser_feed(p, TRANSCRIPT + i, 1, collect, &sb);
    ami_parser_free(p);
    sb_puts(&sb, "");
    assert_string_equal(sb.data, whole);
    sb_free(&sb);
    free(whole);
}

static void count(void *user, const ami_message *m)
{
    int *n = user;
    (*n)++;
    if (m->kind == AMI_MSG_EVENT) {
        const char *v = ami_msg_get(m, "Long");
        if (v) {
            assert_true(m->truncated);
            assert_true(strlen(v) < AMI_MAX_LINE);
        }
    }
}

static void test_parser_limits_and_odd_input(void **state)
{
    (void)state;
    ami_parser *p = ami_parser_new(true);
    int n = 0;
    /* no banner: the first line is already a message; NUL bytes vanish; bare LF works */
    const char a[] = "Event: X\nKey: a\0b\n\n";
    ami_parser_feed(p, a, sizeof a - 1, count, &n);
    assert_int_equal(n, 1);
    /* a line longer than the limit is cut, the message flagged, and parsing goes on */
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "Event: Y\r\nLong: ");
    for (int i = 0; i < AMI_MAX_LINE * 2; i++) sb_puts(&sb, "x");
    sb_puts(&sb, "\r\n\r\nEvent: Z\r\n\r\n");
    n = 0;
    ami_parser_feed(p, sb.data, sb.len, count, &n);
    assert_int_equal(n, 2);
    sb_free(&sb);
    /* too many fields: kept to the limit, flagged */
    sb_init(&sb);
    sb_puts(&sb, "Event: Many\r\n");
    for (int i = 0; i < AMI_MAX_FIELDS + 50; i++) sb_appendf(&sb, "K%d: v\r\n", i);
    sb_puts(&sb, "\r\n");
    n = 0;
    ami_parser_feed(p, sb.data, sb.len, count, &n);
    assert_int_equal(n, 1);
    sb_free(&sb);
    ami_parser_free(p);
}

/* ---- quoting, checked with Asterisk's splitter ---- */

/* __ast_app_separate_args(buf, ',', remove_chars = 1, ...) from Asterisk's main/app.c. */
static int ast_separate_args(char *buf, char **argv, int max)
{
    int argc = 0, paren = 0, bracket = 0;
    bool quote = false;
    while (*buf && argc < max - 1) {
        argv[argc++] = buf;
        for (; *buf; buf++) {
            if (*buf == '[') bracket++;
            else if (*buf == ']') { if (bracket) bracket--; }
            else if (*buf == '(') paren++;
            else if (*buf == ')') { if (paren) paren--; }
            else if (*buf == '"') {
                quote = !quote;
                memmove(buf, buf + 1, strlen(buf));
                buf--;
            } else if (*buf == '\\') {
                memmove(buf, buf + 1, strlen(buf));
            } else if (*buf == ',' && !paren && !quote && !bracket) {
                *buf++ = 0;
                break;
            }
        }
    }
    if (*buf) argv[argc++] = buf;
    return argc;
}

static void roundtrip(const char *value, const char *expect)
{
    char q[256], header[300];
    assert_int_equal(ami_quote_value(value, 50, q, sizeof q), 0);
    assert_null(strpbrk(q, "\r\n"));
    str_fmt(header, sizeof header, "FAXOPT(headerinfo)=%s", q);
    char *argv[8];
    int argc = ast_separate_args(header, argv, 8);
    assert_int_equal(argc, 1);
    char *eq = strchr(argv[0], '=');
    assert_non_null(eq);
    *eq = 0;
    assert_string_equal(argv[0], "FAXOPT(headerinfo)");
    assert_string_equal(eq + 1, expect);
}

static void test_quote_value(void **state)
{
    (void)state;
    roundtrip("ACME, Inc.", "ACME, Inc.");
    roundtrip("a,b,c,FAXBOT_FILE=/etc/passwd", "a,b,c,FAXBOT_FILE=/etc/passwd");
    roundtrip("say \"hi\", \\ok\\ ${SHELL} $[1+1] |pipe (x [y", "say \"hi\", \\ok\\ ${SHELL} $[1+1] |pipe (x [y");
    roundtrip("line\r\nAction: Hangup", "line  Action: Hangup");
    roundtrip("tab\there\x01\x7f", "tab here  ");
    roundtrip("caf\xc3\xa9", "caf??");
    roundtrip("", "");
    char q[128];
    char long_in[80];
    memset(long_in, 'x', sizeof long_in - 1);
    long_in[79] = 0;
    assert_int_equal(ami_quote_value(long_in, 20, q, sizeof q), 0);
    assert_int_equal(strlen(q), 22);          /* 20 characters and two quotes */
    assert_int_equal(ami_quote_value("\"\"\"\"", 50, q, 8), -1);   /* does not fit: refused, not cut */
    assert_true(ami_token_ok("0123abcdef", NULL));
    assert_false(ami_token_ok("01,23", NULL));
    assert_false(ami_token_ok("", "+"));
    assert_true(ami_token_ok("/var/faxdata/outbound/x/fax.tiff", "/._+-"));
    assert_false(ami_token_ok("/var/fax data/x", "/._+-"));
}

/* ---- outcome mapping ---- */

static ami_verdict judge(const char *status, const char *error, int cause, int reason, bool answered, const char *sip)
{
    ami_call_facts f = {.fax_status = status, .fax_error = error, .status_string = "", .sip_cause = sip,
                        .hangup_cause = cause, .reason = reason, .answered = answered};
    ami_verdict v;
    ami_judge(&f, &v);
    return v;
}

static void test_judge(void **state)
{
    (void)state;
    ami_verdict v = judge("SUCCESS", "HANGUP", 16, 4, true, "");
    assert_true(v.success);
    v = judge("FAILED", "T38_NEG_ERROR", 16, 4, true, "");
    assert_false(v.success);
    assert_string_equal(v.failure_reason, "line_error");
    assert_true(v.transient);
    v = judge("FAILED", "FILE_ERROR", 16, 4, true, "");
    assert_string_equal(v.failure_reason, "file_error");
    assert_false(v.transient);
    v = judge("FAILURE", "The call dropped prematurely", 16, 4, true, "");
    assert_string_equal(v.failure_reason, "line_error");
    assert_true(v.transient);
    v = judge("", "", -1, 4, true, "");              /* answered, SendFAX never reported */
    assert_string_equal(v.failure_reason, "line_error");
    /* before an answer: cause first, then reason */
    v = judge("", "", 17, 0, false, "SIP 486 Busy Here");
    assert_string_equal(v.failure_reason, "busy");
    assert_true(v.transient);
    assert_non_null(strstr(v.message, "SIP 486"));
    v = judge("", "", -1, 5, false, "");
    assert_string_equal(v.failure_reason, "busy");
    v = judge("", "", 19, 3, false, "");
    assert_string_equal(v.failure_reason, "no_answer");
    v = judge("", "", -1, 3, false, "");
    assert_string_equal(v.failure_reason, "no_answer");
    v = judge("", "", 16, 8, false, "");              /* normal clearing says nothing: the reason decides */
    assert_string_equal(v.failure_reason, "congestion");
    v = judge("", "", 34, 0, false, "SIP 503 Service Unavailable");
    assert_string_equal(v.failure_reason, "congestion");
    v = judge("", "", 21, 0, false, "SIP 403 Forbidden");
    assert_string_equal(v.failure_reason, "rejected");
    assert_false(v.transient);
    assert_non_null(strstr(v.message, "caller ID"));
    v = judge("", "", 1, 0, false, "SIP 404 Not Found");
    assert_string_equal(v.failure_reason, "invalid_number");
    assert_false(v.transient);
    assert_non_null(strstr(v.message, "termination URI"));
    v = judge("", "", 58, 0, false, "SIP 488 Not Acceptable Here");
    assert_string_equal(v.failure_reason, "rejected");
    assert_non_null(strstr(v.message, "T.38"));
    v = judge("", "", -1, 0, false, "");
    assert_string_equal(v.failure_reason, "line_error");
    assert_true(v.transient);
    v = judge("", "", -1, -1, false, "");
    assert_string_equal(v.failure_reason, "line_error");

    bool tr;
    const char *text;
    assert_null(ami_reason_failure(4, &tr, &text));
    assert_string_equal(ami_reason_failure(1, &tr, &text), "line_error");
    assert_null(ami_cause_failure(16, &tr, &text));
    assert_string_equal(ami_cause_failure(102, &tr, &text), "no_answer");
    assert_int_equal(ami_sip_code("SIP 486 Busy Here"), 486);
    assert_int_equal(ami_sip_code("488 Not Acceptable"), 488);
    assert_int_equal(ami_sip_code("SIP 4860"), 0);
    assert_int_equal(ami_sip_code(""), 0);
    assert_int_equal(ami_sip_code(NULL), 0);
}

/* ---- presets, dialling, rendering ---- */

static void clear_env(void)
{
    static const char *const names[] = {"SIP_TRUNK_PRESET", "SIP_SERVER", "SIP_PORT", "SIP_USERNAME", "SIP_PASSWORD",
                                        "SIP_FROM_USER", "SIP_FROM_DOMAIN", "SIP_TECH_PREFIX", "SIP_IDENTIFY_MATCH",
                                        "SIP_BIND", "ASTERISK_AMI_HOST", "ASTERISK_AMI_PORT", "ASTERISK_AMI_USERNAME",
                                        "ASTERISK_AMI_PASSWORD", "ASTERISK_AMI_BIND", "ASTERISK_INBOUND_SECRET",
                                        "ASTERISK_SPOOL_DIR", "ASTERISK_MAX_CHANNELS", "ASTERISK_RING_TIMEOUT",
                                        "ASTERISK_GATEWAY_URL"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) test_unsetenv(names[i]);
}

static void test_dial_strings(void **state)
{
    (void)state;
    ami_trunk t;
    memset(&t, 0, sizeof t);
    char out[64];
    t.preset = ami_preset_find("generic");
    assert_int_equal(ami_trunk_dial(&t, "+15551234567", out, sizeof out), 0);
    assert_string_equal(out, "+15551234567");
    assert_int_equal(ami_trunk_dial(&t, "15551234567", out, sizeof out), -1);
    assert_int_equal(ami_trunk_dial(&t, "+1555,1234567", out, sizeof out), -1);
    assert_int_equal(ami_trunk_dial(&t, "+1555123\r\n4567", out, sizeof out), -1);
    assert_int_equal(ami_trunk_dial(&t, "+12345", out, sizeof out), -1);
    t.preset = ami_preset_find("flowroute");
    assert_int_equal(ami_trunk_dial(&t, "+15551234567", out, sizeof out), 0);
    assert_string_equal(out, "15551234567");
    str_copy(t.tech_prefix, sizeof t.tech_prefix, "12345678");
    assert_int_equal(ami_trunk_dial(&t, "+12066418000", out, sizeof out), 0);
    assert_string_equal(out, "12345678*12066418000");
    assert_string_equal(ami_trunk_sendfax_options(&t), "f");   /* fallback wins over re-INVITE */
    t.preset = ami_preset_find("twilio");
    assert_string_equal(ami_trunk_sendfax_options(&t), "F");
    t.preset = ami_preset_find("telnyx");
    assert_string_equal(ami_trunk_sendfax_options(&t), "f");
    assert_null(ami_preset_find("nope"));
}

static void test_render(void **state)
{
    (void)state;
    clear_env();
    config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen_port = 8080;
    str_copy(cfg.station_id, sizeof cfg.station_id, "+1 555 0100");
    char err[512];
    ami_trunk t;
    test_setenv("SIP_TRUNK_PRESET", "twilio", 1);
    test_setenv("ASTERISK_AMI_PASSWORD", "pw-1234", 1);
    test_setenv("ASTERISK_INBOUND_SECRET", "0123456789abcdef0123", 1);
    assert_int_equal(ami_trunk_load(&t, &cfg, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "SIP_SERVER"));
    test_setenv("SIP_SERVER", "acme.pstn.twilio.com", 1);
    assert_int_equal(ami_trunk_load(&t, &cfg, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "SIP_FROM_USER"));
    test_setenv("SIP_FROM_USER", "+15550001111", 1);
    assert_int_equal(ami_trunk_load(&t, &cfg, true, err, sizeof err), 0);
    assert_string_equal(t.gateway_url, "http://127.0.0.1:8080");
    ami_rendered f[AMI_RENDER_FILES];
    assert_int_equal(ami_render(&t, f, err, sizeof err), 0);
    assert_string_equal(f[0].name, "pjsip.conf");
    assert_null(strstr(f[0].text, "${"));
    assert_non_null(strstr(f[0].text, "contact = sip:acme.pstn.twilio.com:5060"));
    assert_non_null(strstr(f[0].text, "t38_udptl = no"));
    assert_null(strstr(f[0].text, "type = registration"));
    assert_null(strstr(f[0].text, "type = auth"));        /* no SIP_USERNAME: IP ACL only */
    assert_non_null(strstr(f[1].text, "SendFAX(${FAXBOT_FILE},F)"));
    assert_non_null(strstr(f[1].text, "Set(FAXOPT(localstationid)=+1 555 0100)"));
    assert_non_null(strstr(f[2].text, "[faxbot]\nsecret = pw-1234\n"));
    assert_non_null(strstr(f[2].text, "bindaddr = 127.0.0.1"));
    ami_render_free(f);

    test_setenv("SIP_PASSWORD", "with;semicolon", 1);
    assert_int_equal(ami_trunk_load(&t, &cfg, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "SIP_PASSWORD"));
    test_setenv("SIP_PASSWORD", "fine-pass", 1);
    test_setenv("SIP_USERNAME", "user", 1);
    test_setenv("SIP_TRUNK_PRESET", "generic", 1);
    test_setenv("SIP_SERVER", "sip.example.org", 1);
    assert_int_equal(ami_trunk_load(&t, &cfg, true, err, sizeof err), 0);
    assert_int_equal(ami_render(&t, f, err, sizeof err), 0);
    assert_non_null(strstr(f[0].text, "type = registration"));
    assert_non_null(strstr(f[0].text, "client_uri = sip:user@sip.example.org:5060"));
    assert_non_null(strstr(f[0].text, "password = fine-pass"));
    assert_non_null(strstr(f[1].text, "SendFAX(${FAXBOT_FILE},f)"));
    ami_render_free(f);

    test_setenv("ASTERISK_SPOOL_DIR", "relative/dir", 1);
    assert_int_equal(ami_trunk_load(&t, &cfg, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "ASTERISK_SPOOL_DIR"));
    test_setenv("ASTERISK_SPOOL_DIR", "/var/spool/a,b", 1);
    assert_int_equal(ami_trunk_load(&t, &cfg, true, err, sizeof err), -1);
    test_unsetenv("ASTERISK_SPOOL_DIR");
    test_unsetenv("ASTERISK_AMI_PASSWORD");
    assert_int_equal(ami_trunk_load(&t, &cfg, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "ASTERISK_AMI_PASSWORD"));
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_transcript),
        cmocka_unit_test(test_parser_split_at_every_byte),
        cmocka_unit_test(test_parser_limits_and_odd_input),
        cmocka_unit_test(test_quote_value),
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_dial_strings),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
