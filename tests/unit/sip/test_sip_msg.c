/* test_sip_msg.c — the SIP message parser and builder (src/sip/sip_msg.c, sip_fields.c,
 * sip_build.c): every RFC 4475 torture message accepted or refused as the RFC says
 * (with the status the RFC names where it names one), field values of the tortuous
 * valid ones, stream framing, limits, and header injection refused by the builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_msg.h"

static char *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.sip", TORTURE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(70000);
    *len = fread(buf, 1, 70000, f);
    fclose(f);
    return buf;
}

static sip_msg *parse_file(const char *name, sip_parse_error *err)
{
    size_t len, used;
    char *buf = load(name, &len);
    sip_msg *m = NULL;
    int rc = sip_msg_parse(buf, len, true, &m, &used, err);
    free(buf);
    if (rc != SIP_PARSE_OK) assert_null(m);
    return m;
}

/* RFC 4475 §3: name, 0 = a parser accepts it, else the status to refuse it with. */
static const struct { const char *name; int status; } torture[] = {
    /* 3.1.1 valid messages */
    {"wsinv", 0}, {"intmeth", 0}, {"esc01", 0}, {"escnull", 0}, {"esc02", 0},
    {"lwsdisp", 0}, {"longreq", 0}, {"dblreq", 0}, {"semiuri", 0}, {"transports", 0},
    {"mpart01", 0}, {"unreason", 0}, {"noreason", 0},
    /* 3.1.2 invalid messages */
    {"badinv01", 400}, {"clerr", 400}, {"ncl", 400}, {"scalar02", 400}, {"scalarlg", 400},
    {"quotbal", 400}, {"ltgtruri", 400}, {"lwsruri", 400}, {"lwsstart", 400}, {"trws", 400},
    {"escruri", 400}, {"baddate", 400}, {"regbadct", 400}, {"badaspec", 400}, {"baddn", 400},
    {"badvers", 505}, {"mismatch01", 400}, {"mismatch02", 501}, {"bigcode", 400},
    /* 3.2 transaction layer: syntactically valid */
    {"badbranch", 0},
    /* 3.3 application layer: parse, the application decides (insuf, multi01, mcl01 are invalid) */
    {"insuf", 400}, {"unkscm", 0}, {"novelsc", 0}, {"unksm2", 0}, {"bext01", 0},
    {"invut", 0}, {"regaut01", 0}, {"multi01", 400}, {"mcl01", 400}, {"bcast", 0},
    {"zeromf", 0}, {"cparam01", 0}, {"cparam02", 0}, {"regescrt", 0}, {"sdp01", 0},
    /* 3.4 backward compatibility */
    {"inv2543", 0},
};

static void test_rfc4475_torture(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof torture / sizeof *torture; i++) {
        sip_parse_error err;
        sip_msg *m = parse_file(torture[i].name, &err);
        if (torture[i].status == 0) {
            if (!m) fail_msg("%s refused: %d %s", torture[i].name, err.status, err.reason);
        } else {
            if (m) fail_msg("%s accepted", torture[i].name);
            if (err.status != torture[i].status)
                fail_msg("%s refused with %d %s, expected %d", torture[i].name, err.status, err.reason, torture[i].status);
            assert_true(err.reason[0]);
        }
        sip_msg_free(m);
    }
}

static void test_refusal_reasons(void **state)
{
    (void)state;
    static const struct { const char *name, *reason; } want[] = {
        {"scalar02", "Bad CSeq: sequence number above 2^32-1"},
        {"clerr", "Content-Length 9999 is larger than the body"},
        {"ncl", "Bad Content-Length"},
        {"quotbal", "Unterminated quoted string in To"},
        {"badaspec", "Spaces inside <> in To"},
        {"baddn", "Display name in From must be quoted"},
        {"regbadct", "inside <> in Contact"},
        {"escruri", "URI headers are not allowed in the Request-URI"},
        {"mcl01", "More than one Content-Length header"},
        {"multi01", "More than one"},
        {"insuf", "Missing From header"},
        {"mismatch01", "CSeq method INVITE does not match"},
        {"badinv01", "Empty parameter in Via"},
        {"baddate", "Bad Date"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        sip_parse_error err;
        sip_msg *m = parse_file(want[i].name, &err);
        assert_null(m);
        if (!strstr(err.reason, want[i].reason))
            fail_msg("%s: reason \"%s\" lacks \"%s\"", want[i].name, err.reason, want[i].reason);
    }
}

static void test_wsinv_fields(void **state)
{
    (void)state;
    sip_parse_error err;
    sip_msg *m = parse_file("wsinv", &err);
    assert_non_null(m);
    assert_true(m->is_request);
    assert_string_equal(m->method, "INVITE");
    assert_string_equal(m->ruri, "sip:vivekg@chair-dnrc.example.com;unknownparam");
    assert_string_equal(m->to.uri, "sip:vivekg@chair-dnrc.example.com");
    assert_string_equal(m->to.tag, "1918181833n");
    assert_string_equal(m->from.display, "J Rosenberg \\\"");
    assert_string_equal(m->from.tag, "98asjd8");
    assert_int_equal(m->max_forwards, 68);
    assert_int_equal(m->cseq, 9);
    assert_string_equal(m->cseq_method, "INVITE");
    assert_string_equal(m->call_id, "wsinv.ndaksdj@192.0.2.1");
    assert_int_equal(m->n_via, 3);
    assert_string_equal(m->via[0].transport, "UDP");
    assert_string_equal(m->via[0].host, "192.0.2.2");
    assert_string_equal(m->via[0].branch, "390skdjuw");
    assert_string_equal(m->via[1].transport, "TCP");
    assert_string_equal(m->via[1].host, "spindle.example.com");
    assert_string_equal(m->via[1].branch, "z9hG4bK9ikj8");
    assert_string_equal(m->via[2].host, "192.168.255.111");
    assert_string_equal(m->via[2].branch, "z9hG4bK30239");
    assert_string_equal(sip_msg_header(m, SIP_H_SUBJECT), "");
    assert_string_equal(sip_msg_header_named(m, "newfangledheader"), "newfangled value continued newfangled value");
    assert_string_equal(sip_msg_header_named(m, "UnknownHeaderWithUnusualValue"), ";;,,;;,;");
    assert_int_equal(m->n_contact, 1);
    assert_string_equal(m->contact[0].display, "Quoted string \"\"");
    char v[32];
    assert_int_equal(sip_param_get(m->contact[0].params, "newparam", v, sizeof v), 1);
    assert_string_equal(v, "newvalue");
    assert_int_equal(sip_param_get(m->contact[0].params, "secondparam", v, sizeof v), 1);
    assert_string_equal(v, "");
    assert_int_equal(sip_param_get(m->contact[0].params, "Q", v, sizeof v), 1);
    assert_string_equal(v, "0.33");
    assert_int_equal(m->body_len, 150);
    assert_string_equal(m->content_type, "application/sdp");
    sip_msg_free(m);
}

static void test_intmeth_and_escapes(void **state)
{
    (void)state;
    sip_parse_error err;
    sip_msg *m = parse_file("intmeth", &err);
    assert_non_null(m);
    assert_string_equal(m->method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert_string_equal(m->to.display, "BEL:? NUL:? DEL:?");   /* quoted controls shown as '?' */
    assert_string_equal(m->from.display, "token1~` token2'+_ token3*%!.-");
    assert_string_equal(m->from.tag, "_token~1'+`*%!-.");
    assert_string_equal(m->call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_string_equal(m->via[0].branch, "z9hG4bK-.!%66*_+`'~");
    sip_msg_free(m);

    m = parse_file("esc02", &err);
    assert_non_null(m);
    assert_string_equal(m->method, "RE%47IST%45R");
    assert_int_equal(m->n_contact, 2);   /* C%6Fntact is another header */
    assert_string_equal(sip_msg_header_named(m, "C%6Fntact"), "<sip:alias2@host2.example.com>");
    assert_string_equal(m->to.display, "%Z%45");
    sip_msg_free(m);

    m = parse_file("escnull", &err);
    assert_non_null(m);
    assert_int_equal(m->n_contact, 2);
    assert_string_equal(m->contact[1].uri, "sip:%00%00@host5.example.com");
    sip_msg_free(m);

    sip_uri u;
    char why[64];
    assert_int_equal(sip_uri_parse("sip:user;par=u%40example.net@example.com", &u, why, sizeof why), 0);
    assert_string_equal(u.user, "user;par=u%40example.net");
    assert_string_equal(u.host, "example.com");
    assert_int_equal(sip_uri_parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com", &u, why, sizeof why), 0);
    assert_string_equal(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert_int_equal(sip_uri_parse("sips:[2001:db8::1]:5061;transport=tls?Route=%3Csip:x%3E", &u, why, sizeof why), 0);
    assert_true(u.sips);
    assert_string_equal(u.host, "[2001:db8::1]");
    assert_int_equal(u.port, 5061);
    assert_string_equal(u.params, ";transport=tls");
    assert_string_equal(u.headers, "Route=%3Csip:x%3E");
    assert_int_equal(sip_uri_parse("sip:a@b:70000", &u, why, sizeof why), -1);
    assert_int_equal(sip_uri_parse("sip:a%4@b", &u, why, sizeof why), -1);
    assert_int_equal(sip_uri_parse("sip:@b", &u, why, sizeof why), -1);
    assert_int_equal(sip_uri_parse("sip:b c", &u, why, sizeof why), -1);
}

static void test_longreq_dblreq_responses(void **state)
{
    (void)state;
    sip_parse_error err;
    sip_msg *m = parse_file("longreq", &err);
    assert_non_null(m);
    assert_int_equal(m->n_via, 34);
    assert_string_equal(m->via[0].host, "sip33.example.com");
    assert_string_equal(m->via[33].received, "192.0.2.5");
    assert_int_equal(strlen(m->from.tag), 2 + 150 + 3);
    sip_msg_free(m);

    /* dblreq: the INVITE after Content-Length 0 is noise in a datagram */
    size_t len, used;
    char *buf = load("dblreq", &len);
    assert_int_equal(sip_msg_parse(buf, len, true, &m, &used, &err), SIP_PARSE_OK);
    assert_string_equal(m->method, "REGISTER");
    assert_int_equal(m->body_len, 0);
    sip_msg_free(m);
    /* on a stream the second message follows the first */
    assert_int_equal(sip_msg_parse(buf, len, false, &m, &used, &err), SIP_PARSE_OK);
    sip_msg_free(m);
    assert_int_equal(sip_msg_parse(buf + used, len - used, false, &m, &used, &err), SIP_PARSE_OK);
    assert_string_equal(m->method, "INVITE");
    assert_int_equal(m->body_len, 150);
    sip_msg_free(m);
    free(buf);

    m = parse_file("noreason", &err);
    assert_non_null(m);
    assert_false(m->is_request);
    assert_int_equal(m->status, 100);
    assert_string_equal(m->reason, "");
    sip_msg_free(m);
    m = parse_file("unreason", &err);
    assert_non_null(m);
    assert_int_equal(m->status, 200);
    assert_true(strncmp(m->reason, "= 2**3 * 5**2 ", 14) == 0);
    sip_msg_free(m);

    m = parse_file("mpart01", &err);
    assert_non_null(m);
    assert_int_equal(m->body_len, m->content_length);
    assert_non_null(memchr(m->body, 0, m->body_len));
    assert_int_equal(m->via[0].rport, 0);
    sip_msg_free(m);

    m = parse_file("inv2543", &err);   /* no Content-Length on UDP: the rest is the body */
    assert_non_null(m);
    assert_int_equal(m->content_length, -1);
    assert_int_equal(m->body_len, 105);
    assert_null(m->via[0].branch);
    sip_msg_free(m);
}

static const char reg[] =
    "SIP/2.0 401 Unauthorized\r\n"
    "v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=40000;received=10.0.0.7\r\n"
    "f: <sip:fax@example.com>;tag=a1\r\n"
    "t: <sip:fax@example.com>;tag=b2\r\n"
    "i: reg-1@127.0.0.1\r\n"
    "CSeq: 1 REGISTER\r\n"
    "WWW-Authenticate: Digest realm=\"example.com\",\r\n"
    "\tnonce=\"abc\", qop=\"auth\"\r\n"
    "l: 0\r\n\r\n";

static void test_compact_folding_rport(void **state)
{
    (void)state;
    sip_msg *m;
    size_t used;
    sip_parse_error err;
    assert_int_equal(sip_msg_parse(reg, strlen(reg), true, &m, &used, &err), SIP_PARSE_OK);
    assert_int_equal(used, strlen(reg));
    assert_int_equal(m->status, 401);
    assert_int_equal(m->via[0].rport, 40000);
    assert_string_equal(m->via[0].received, "10.0.0.7");
    assert_int_equal(m->via[0].port, 5070);
    assert_string_equal(sip_msg_header(m, SIP_H_WWW_AUTHENTICATE), "Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth\"");
    assert_string_equal(sip_msg_header_named(m, "www-authenticate"), sip_msg_header(m, SIP_H_WWW_AUTHENTICATE));
    assert_string_equal(m->hdr[0].name, "Via");
    assert_string_equal(m->to.tag, "b2");
    sip_msg_free(m);

    /* a stream: every prefix is incomplete, the whole is one message */
    for (size_t n = 0; n < strlen(reg); n++) {
        int rc = sip_msg_parse(reg, n, false, &m, &used, &err);
        assert_int_equal(rc, SIP_PARSE_INCOMPLETE);
        assert_null(m);
    }
    /* a stream needs Content-Length */
    char nocl[sizeof reg];
    strcpy(nocl, reg);
    char *l = strstr(nocl, "l: 0\r\n");
    memmove(l, l + 6, strlen(l + 6) + 1);
    assert_int_equal(sip_msg_parse(nocl, strlen(nocl), false, &m, &used, &err), SIP_PARSE_ERROR);
    assert_non_null(strstr(err.reason, "Content-Length is required"));
}

static void test_limits(void **state)
{
    (void)state;
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                 "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n");
    for (int i = 0; i < SIP_MAX_HEADERS; i++) sb_appendf(&sb, "X-%d: y\r\n", i);
    sb_puts(&sb, "Content-Length: 0\r\n\r\n");
    sip_msg *m;
    size_t used;
    sip_parse_error err;
    assert_int_equal(sip_msg_parse(sb.data, sb.len, true, &m, &used, &err), SIP_PARSE_ERROR);
    assert_int_equal(err.status, 513);
    sb_free(&sb);

    /* one header over SIP_MAX_FIELD */
    sb_init(&sb);
    sb_puts(&sb, "OPTIONS sip:a@b SIP/2.0\r\nSubject: ");
    for (int i = 0; i < SIP_MAX_FIELD + 10; i++) sb_append(&sb, "x", 1);
    sb_puts(&sb, "\r\n\r\n");
    assert_int_equal(sip_msg_parse(sb.data, sb.len, true, &m, &used, &err), SIP_PARSE_ERROR);
    assert_int_equal(err.status, 400);
    sb_free(&sb);

    /* a datagram larger than SIP_MAX_MSG without an end of headers */
    char *big = malloc(SIP_MAX_MSG + 10);
    memset(big, 'a', SIP_MAX_MSG + 10);
    assert_int_equal(sip_msg_parse(big, SIP_MAX_MSG + 10, false, &m, &used, &err), SIP_PARSE_ERROR);
    assert_int_equal(err.status, 513);
    free(big);

    /* a bare control character outside a quoted-pair */
    const char *ctl = "OPTIONS sip:a@b SIP/2.0\r\nSubject: a\001b\r\n\r\n";
    assert_int_equal(sip_msg_parse(ctl, strlen(ctl), true, &m, &used, &err), SIP_PARSE_ERROR);
    assert_non_null(strstr(err.reason, "Control character"));
}

static void test_builder(void **state)
{
    (void)state;
    sip_msg *req;
    size_t used;
    sip_parse_error err;
    size_t len;
    char *buf = load("esc01", &len);
    assert_int_equal(sip_msg_parse(buf, len, true, &req, &used, &err), SIP_PARSE_OK);
    free(buf);
    strbuf sb;
    sb_init(&sb);
    assert_int_equal(sip_build_response_head(&sb, req, 486, NULL, "tt1"), 0);
    assert_int_equal(sip_build_header(&sb, "Server", "faxbot"), 0);
    assert_int_equal(sip_build_finish(&sb, NULL, NULL, 0), 0);
    sip_msg *resp;
    assert_int_equal(sip_msg_parse(sb.data, sb.len, false, &resp, &used, &err), SIP_PARSE_OK);
    assert_int_equal(resp->status, 486);
    assert_string_equal(resp->reason, "Busy Here");
    assert_string_equal(resp->to.tag, "tt1");
    assert_string_equal(resp->from.tag, "938");
    assert_int_equal(resp->cseq, 234234);
    assert_string_equal(resp->via[0].branch, "z9hG4bKkdjuw");
    assert_string_equal(resp->call_id, req->call_id);
    sip_msg_free(resp);
    sb_free(&sb);
    sip_msg_free(req);

    /* header injection is refused */
    sb_init(&sb);
    assert_int_equal(sip_build_request_line(&sb, "INVITE", "sip:1@x SIP/2.0\r\nX: y"), -1);
    assert_int_equal(sip_build_header(&sb, "From", "\"a\r\nVia: evil\" <sip:a@b>"), -1);
    assert_int_equal(sip_build_header(&sb, "Bad:Name", "v"), -1);
    assert_int_equal(sip_build_status_line(&sb, 99, NULL), -1);
    sb_free(&sb);

    /* a request built and parsed back */
    sb_init(&sb);
    assert_int_equal(sip_build_request_line(&sb, "INVITE", "sip:+15551234567@trunk.example.com"), 0);
    sip_build_header(&sb, "Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKx1;rport");
    sip_build_header(&sb, "Max-Forwards", "70");
    sip_build_header(&sb, "From", "\"Faxbot\" <sip:fax@example.com>;tag=f1");
    sip_build_header(&sb, "To", "<sip:+15551234567@trunk.example.com>");
    sip_build_header(&sb, "Call-ID", "c1@127.0.0.1");
    sip_build_header(&sb, "CSeq", "1 INVITE");
    sip_build_header(&sb, "Contact", "<sip:fax@127.0.0.1:5062>");
    assert_int_equal(sip_build_finish(&sb, "application/sdp", "v=0\r\n", 5), 0);
    assert_int_equal(sip_msg_parse(sb.data, sb.len, false, &req, &used, &err), SIP_PARSE_OK);
    assert_int_equal(req->via[0].rport, 0);
    assert_string_equal(req->from.display, "Faxbot");
    assert_int_equal(req->body_len, 5);
    assert_string_equal(req->content_type, "application/sdp");
    sip_msg_free(req);
    sb_free(&sb);
}

static void test_refused_requests_answered(void **state)
{
    (void)state;
    static const struct { const char *name; int status; const char *reason; } want[] = {
        {"mismatch01", 400, "CSeq method INVITE does not match"},
        {"mismatch02", 501, "Not Implemented"},
        {"escruri", 400, "URI headers"},
        {"baddate", 400, "Bad Date"},
        {"ncl", 400, "Content-Length"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        size_t len, used;
        char *buf = load(want[i].name, &len);
        sip_msg *m;
        sip_parse_error err;
        assert_int_equal(sip_msg_parse(buf, len, true, &m, &used, &err), SIP_PARSE_ERROR);
        strbuf sb;
        sb_init(&sb);
        if (sip_build_error_response(&sb, buf, len, err.status, err.reason)) fail_msg("%s: no answer", want[i].name);
        sip_msg *r;
        assert_int_equal(sip_msg_parse(sb.data, sb.len, false, &r, &used, &err), SIP_PARSE_OK);
        assert_int_equal(r->status, want[i].status);
        if (!strstr(r->reason, want[i].reason)) fail_msg("%s: reason %s", want[i].name, r->reason);
        assert_non_null(r->to.tag);
        sip_msg_free(r);
        sb_free(&sb);
        free(buf);
    }
    /* no answer: to a response, to an ACK, or when the copied fields are themselves
     * broken (badvers: its Via says SIP/7.0, so a 505 carrying it would not be SIP/2.0;
     * scalar02: a CSeq above 2^32-1 cannot be copied into a valid response) */
    static const char *const none[] = {"scalarlg", "bigcode", "quotbal", "insuf", "badvers", "scalar02"};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
        size_t len;
        char *buf = load(none[i], &len);
        strbuf sb;
        sb_init(&sb);
        if (sip_build_error_response(&sb, buf, len, 400, "Bad Request") == 0) fail_msg("%s answered", none[i]);
        sb_free(&sb);
        free(buf);
    }
    strbuf sb;
    sb_init(&sb);
    const char *ack = "ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n";
    assert_int_equal(sip_build_error_response(&sb, ack, strlen(ack), 400, "x"), -1);
    sb_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4475_torture),
        cmocka_unit_test(test_refusal_reasons),
        cmocka_unit_test(test_wsinv_fields),
        cmocka_unit_test(test_intmeth_and_escapes),
        cmocka_unit_test(test_longreq_dblreq_responses),
        cmocka_unit_test(test_compact_folding_rport),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_refused_requests_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
