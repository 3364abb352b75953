/* test_head_check.c — unit tests of the guard's pure parts: the strict request-head
 * check (src/http/head_check.c), TRUSTED_PROXIES address lists (src/util/cidr.c)
 * and the forwarded client address (src/http/forwarded.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/head_check.h"
#include "http/http.h"
#include "util/cidr.h"

static int check(const char *head, size_t len, http_head_info *info, char *detail)
{
    return http_head_check(head, len, 1024, info, detail, 128);
}

#define CHECK(s, info, detail) check((s), sizeof(s) - 1, (info), (detail))

static void test_good_heads(void **state)
{
    (void)state;
    http_head_info info;
    char detail[128];
    assert_int_equal(CHECK("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", &info, detail), HTTP_HEAD_OK);
    assert_int_equal(info.minor_version, 1);
    assert_false(info.chunked);
    assert_false(info.has_length);
    assert_int_equal(info.head_len, 33);
    assert_int_equal(CHECK("GET / HTTP/1.0\r\n\r\n", &info, detail), HTTP_HEAD_OK);   /* 1.0 needs no Host */
    assert_int_equal(CHECK("POST /fax HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nContent-Length:12 \r\n\r\nbody",
                           &info, detail), HTTP_HEAD_OK);                         /* the same value twice */
    assert_true(info.has_length);
    assert_int_equal(info.content_length, 12);
    assert_int_equal(CHECK("POST /fax HTTP/1.1\r\nhost: x\r\ntransfer-encoding:  Chunked\t\r\n\r\n", &info, detail),
                     HTTP_HEAD_OK);
    assert_true(info.chunked);
    assert_int_equal(CHECK("GET /x?a=%C3%A9 HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Utf8: \xc3\xa9\r\n\r\n", &info,
                           detail), HTTP_HEAD_OK);
}

static void test_incomplete_heads(void **state)
{
    (void)state;
    http_head_info info;
    char detail[128];
    assert_int_equal(CHECK("", &info, detail), HTTP_HEAD_INCOMPLETE);
    assert_int_equal(CHECK("GET /hea", &info, detail), HTTP_HEAD_INCOMPLETE);
    assert_int_equal(CHECK("GET /health HTTP/1.1\r\nHost: x\r\n", &info, detail), HTTP_HEAD_INCOMPLETE);
    assert_int_equal(CHECK("GET /health HTTP/1.1\r\nHost: x\r\n\r", &info, detail), HTTP_HEAD_INCOMPLETE);
    /* what is wrong is refused before the head ends */
    assert_int_equal(CHECK("GET /a\0b HTTP/1.1\r\n", &info, detail), 400);
    assert_int_equal(CHECK("GET /health HTTP/2.0\r\nHost:", &info, detail), 505);
}

static void test_refused_heads(void **state)
{
    (void)state;
    static const struct {
        const char *head;
        size_t len;
        int status;
        const char *detail;
    } cases[] = {
#define C(s, st, d) {s, sizeof(s) - 1, st, d}
        C("GET /health\0x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "NUL"),
        C("GET /fax HTTP/1.1\r\nHost: x\r\nX-API-Key: k\0junk\r\n\r\n", 400, "NUL"),
        C("GET /health HTTP/1.1\nHost: x\n\n", 400, "bare LF"),
        C("GET /health HTTP/1.1\r\nHost: x\n\r\n", 400, "bare LF"),
        C("GET /health HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400, "CR"),
        C("GET /health HTTP/1.1\r\n\r\n", 400, "Host"),
        C("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host"),
        C("POST /fax HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
          "together"),
        C("POST /fax HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n", 400, "different"),
        C("POST /fax HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "Content-Length"),
        C("POST /fax HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"),
        C("POST /fax HTTP/1.1\r\nHost: x\r\nContent-Length: 1,1\r\n\r\n", 400, "Content-Length"),
        C("POST /fax HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "Content-Length"),
        C("POST /fax HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "chunked"),
        C("POST /fax HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
          "chunked"),
        C("POST /fax HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"),
        C("GET /health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "obs-fold"),
        C("GET /health HTTP/1.1\r\nHost : x\r\n\r\n", 400, "header line"),
        C("GET /health HTTP/1.1\r\nNoColon\r\n\r\n", 400, "header line"),
        C("GET /health HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400, "control"),
        C("GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505, "version"),
        C("GET /health HTTP/1.2\r\nHost: x\r\n\r\n", 505, "version"),
        C("GET /health HTTP/1.10\r\nHost: x\r\n\r\n", 400, "version"),
        C("GET /health http/1.1\r\nHost: x\r\n\r\n", 400, "version"),
        C("GET /health\r\n\r\n", 400, "HTTP/0.9"),
        C("GET  /health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request line"),
        C("\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request line"),
        C("G(T /health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request line"),
        C("GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400, "control"),
#undef C
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_head_info info;
        char detail[128] = "";
        int rc = check(cases[i].head, cases[i].len, &info, detail);
        if (rc != cases[i].status || !strstr(detail, cases[i].detail))
            fail_msg("case %zu: got %d '%s', want %d '...%s...'", i, rc, detail, cases[i].status, cases[i].detail);
    }
}

static void test_size_limits(void **state)
{
    (void)state;
    char buf[2048];
    http_head_info info;
    char detail[128];
    memset(buf, 'a', sizeof buf);
    memcpy(buf, "GET /", 5);
    assert_int_equal(http_head_check(buf, sizeof buf, 1024, &info, detail, sizeof detail), 414);
    int n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(buf + n, 'b', sizeof buf - (size_t)n);
    assert_int_equal(http_head_check(buf, sizeof buf, 1024, &info, detail, sizeof detail), 431);
    /* within the limit: still waiting */
    assert_int_equal(http_head_check(buf, 1000, 1024, &info, detail, sizeof detail), HTTP_HEAD_INCOMPLETE);
}

static void test_cidr_lists(void **state)
{
    (void)state;
    cidr_list l;
    char err[128];
    assert_int_equal(cidr_list_parse("", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_false(cidr_list_contains(&l, "127.0.0.1"));
    assert_int_equal(cidr_list_parse("10.0.0.0/8, 192.168.1.7 ,2001:db8::/32,::1", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 4);
    assert_true(cidr_list_contains(&l, "10.200.3.4"));
    assert_false(cidr_list_contains(&l, "11.0.0.1"));
    assert_true(cidr_list_contains(&l, "192.168.1.7"));
    assert_false(cidr_list_contains(&l, "192.168.1.8"));
    assert_true(cidr_list_contains(&l, "2001:db8:ffff::1"));
    assert_false(cidr_list_contains(&l, "2001:db9::1"));
    assert_true(cidr_list_contains(&l, "::1"));
    assert_true(cidr_list_contains(&l, "::ffff:10.1.2.3"));     /* IPv4-mapped */
    assert_false(cidr_list_contains(&l, "not-an-address"));
    assert_int_equal(cidr_list_parse("172.16.0.0/12", &l, err, sizeof err), 0);
    assert_true(cidr_list_contains(&l, "172.31.255.255"));
    assert_false(cidr_list_contains(&l, "172.32.0.0"));
    assert_int_equal(cidr_list_parse("10.0.0.0/33", &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "prefix"));
    assert_int_equal(cidr_list_parse("proxy.example", &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "proxy.example"));
    assert_int_equal(cidr_list_parse("::1/", &l, err, sizeof err), -1);
}

static void test_forwarded_client(void **state)
{
    (void)state;
    cidr_list t;
    char err[128], out[64];
    assert_int_equal(cidr_list_parse("10.0.0.0/8,fd00::/8", &t, err, sizeof err), 0);
    /* an untrusted peer: its headers are ignored */
    http_forwarded_client("198.51.100.9", NULL, "203.0.113.7", &t, out, sizeof out);
    assert_string_equal(out, "198.51.100.9");
    /* a trusted peer: the rightmost untrusted hop */
    http_forwarded_client("10.0.0.2", NULL, "203.0.113.7", &t, out, sizeof out);
    assert_string_equal(out, "203.0.113.7");
    http_forwarded_client("10.0.0.2", NULL, "1.1.1.1, 203.0.113.7, 10.0.0.5", &t, out, sizeof out);
    assert_string_equal(out, "203.0.113.7");   /* what the client wrote itself (1.1.1.1) is ignored */
    http_forwarded_client("10.0.0.2", NULL, "10.0.0.8, 10.0.0.5", &t, out, sizeof out);
    assert_string_equal(out, "10.0.0.8");      /* all trusted: the first */
    http_forwarded_client("10.0.0.2", NULL, "garbage, 203.0.113.7:5060", &t, out, sizeof out);
    assert_string_equal(out, "203.0.113.7");
    http_forwarded_client("10.0.0.2", NULL, "203.0.113.7, unknown", &t, out, sizeof out);
    assert_string_equal(out, "10.0.0.2");      /* an unknown hop: the proxy is all we know */
    http_forwarded_client("10.0.0.2", NULL, NULL, &t, out, sizeof out);
    assert_string_equal(out, "10.0.0.2");
    /* Forwarded wins over X-Forwarded-For; IPv6 in brackets with a port */
    http_forwarded_client("fd00::1", "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"",
                          "203.0.113.7", &t, out, sizeof out);
    assert_string_equal(out, "2001:db8:cafe::17");
    http_forwarded_client("10.0.0.2", "proto=https;For=192.0.2.43", NULL, &t, out, sizeof out);
    assert_string_equal(out, "192.0.2.43");
    http_forwarded_client("10.0.0.2", "for=_hidden", "203.0.113.7", &t, out, sizeof out);
    assert_string_equal(out, "10.0.0.2");
    /* no trusted proxies configured */
    cidr_list none = {0};
    http_forwarded_client("10.0.0.2", NULL, "203.0.113.7", &none, out, sizeof out);
    assert_string_equal(out, "10.0.0.2");
}

static int feed_all(const char *body, size_t len, size_t step, size_t *end, char *detail)
{
    http_chunk_parser p;
    memset(&p, 0, sizeof p);
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, used = 0;
        int rc = http_chunk_feed(&p, body + off, n, &used, detail, 128);
        if (rc != HTTP_CHUNK_MORE) {
            *end = off + used;
            return rc;
        }
        off += n;
    }
    *end = len;
    return HTTP_CHUNK_MORE;
}

#define FEED(s, step, end, detail) feed_all((s), sizeof(s) - 1, (step), (end), (detail))

static void test_chunked_bodies(void **state)
{
    (void)state;
    char detail[128];
    size_t end;
    /* whole, byte by byte, with an extension and a trailer; what follows is not body */
    static const char good[] = "5;x=y\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: v\r\n\r\nGET / HTTP/1.1";
    for (size_t step = 1; step <= sizeof good; step += 7) {
        assert_int_equal(FEED(good, step, &end, detail), HTTP_CHUNK_DONE);
        assert_int_equal(end, sizeof good - 1 - strlen("GET / HTTP/1.1"));
    }
    assert_int_equal(FEED("0\r\n\r\n", 1, &end, detail), HTTP_CHUNK_DONE);
    assert_int_equal(end, 5);
    assert_int_equal(FEED("5\r\nhel", 2, &end, detail), HTTP_CHUNK_MORE);
    static const struct {
        const char *body;
        const char *detail;
    } bad[] = {
        {"zz\r\nabc\r\n0\r\n\r\n", "bad chunk size"},
        {"\r\n", "bad chunk size"},
        {"-1\r\n", "bad chunk size"},
        {"ffffffffffffffffffff\r\nabc", "too large"},
        {"3\r\nabcXX\r\n0\r\n\r\n", "longer than its size"},
        {"3\r\nabc\rX", "not ended by CRLF"},
        {"3\nabc\r\n", "CRLF"},
        {"3;a\x01\r\nabc\r\n", "extension"},
        {"0\r\nX-T: v\x01\r\n\r\n", "trailer"},
        {"0\r\n:x\r\n\r\n", "trailer"},
        {"0\r\n\rX", "CRLF"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        detail[0] = '\0';
        int rc = feed_all(bad[i].body, strlen(bad[i].body), 3, &end, detail);
        if (rc != HTTP_CHUNK_BAD || !strstr(detail, bad[i].detail))
            fail_msg("bad chunk case %zu: rc %d '%s', want '...%s...'", i, rc, detail, bad[i].detail);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_heads),
        cmocka_unit_test(test_incomplete_heads),
        cmocka_unit_test(test_refused_heads),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_cidr_lists),
        cmocka_unit_test(test_forwarded_client),
        cmocka_unit_test(test_chunked_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
