/* test_multipart.c — unit tests of the incremental multipart/form-data parser
 * (src/http/multipart.c): real bodies as browsers and curl send them, fed whole,
 * one byte at a time and in random chunks, plus the error cases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"
#include "util/util.h"

/* Everything the parser reports, serialised into one transcript. */
typedef struct {
    strbuf log;
    int parts;
    int abort_at_begin;          /* 1-based part number whose part_begin aborts; 0 = never */
} collector;

static int on_begin(void *ctx, const multipart_part_info *info)
{
    collector *c = ctx;
    c->parts++;
    sb_appendf(&c->log, "[BEGIN name=%s filename=%s type=%s]", info->name,
               info->filename ? info->filename : "(null)",
               info->content_type ? info->content_type : "(null)");
    return c->abort_at_begin == c->parts ? 1 : 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    collector *c = ctx;
    assert_true(len > 0);
    sb_append(&c->log, data, len);
    return 0;
}

static int on_end(void *ctx)
{
    collector *c = ctx;
    sb_puts(&c->log, "[END]");
    return 0;
}

static const multipart_callbacks callbacks = {on_begin, on_data, on_end};
static size_t last_len;          /* length of the transcript parse() returned last */

/* Feeds body in chunks of `chunk` bytes (0 = all at once, <0 = random sizes);
 * returns the transcript (caller frees) and the feed/finish results. */
static char *parse(const char *boundary, const char *body, size_t len, int chunk,
                   int *feed_rc, int *finish_rc, char *err, size_t errlen)
{
    collector c = {0};
    sb_init(&c.log);
    multipart_parser *p = multipart_new(boundary, &callbacks, &c);
    assert_non_null(p);
    *feed_rc = 0;
    size_t off = 0;
    while (off < len && *feed_rc == 0) {
        size_t n = len - off;
        if (chunk > 0 && (size_t)chunk < n)
            n = (size_t)chunk;
        else if (chunk < 0)
            n = 1 + (size_t)rand() % (n < 97 ? n : 97);
        *feed_rc = multipart_feed(p, body + off, n);
        off += n;
    }
    *finish_rc = *feed_rc == 0 ? multipart_finish(p) : -1;
    if (err)
        str_copy(err, errlen, multipart_error(p));
    multipart_free(p);
    if (!c.log.data)
        sb_puts(&c.log, "");
    last_len = c.log.len;
    return sb_steal(&c.log);
}

static const char two_fields[] =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"to\"\r\n"
    "\r\n"
    "+15551234567\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"note\"\r\n"
    "\r\n"
    "line one\r\nline two\r\n"
    "--XyZ--\r\n";

static void test_two_fields(void **state)
{
    (void)state;
    int frc, xrc;
    char *log = parse("XyZ", two_fields, sizeof two_fields - 1, 0, &frc, &xrc, NULL, 0);
    assert_int_equal(frc, 0);
    assert_int_equal(xrc, 0);
    assert_string_equal(log,
        "[BEGIN name=to filename=(null) type=(null)]+15551234567[END]"
        "[BEGIN name=note filename=(null) type=(null)]line one\r\nline two[END]");
    free(log);
}

/* A file whose bytes contain every value and near-misses of the delimiter. */
static size_t build_binary_body(char *out, size_t cap, char *file, size_t *file_len)
{
    size_t fl = 0;
    for (int i = 0; i < 256; i++)
        file[fl++] = (char)i;
    const char *lookalikes[] = {"\r\n--bound", "\r\n--bounda", "\r\n-", "\r\r\n--", "\r\n--boundary12",
                                "--boundary123", "\r\n--boundary12\r\n", "\n--boundary123"};
    for (size_t k = 0; k < sizeof lookalikes / sizeof lookalikes[0]; k++) {
        memcpy(file + fl, lookalikes[k], strlen(lookalikes[k]));
        fl += strlen(lookalikes[k]);
        file[fl++] = 'x';
    }
    memcpy(file + fl, "\r\n--boundary12", 14);   /* ends with a partial delimiter */
    fl += 14;
    *file_len = fl;
    size_t n = 0;
    n += (size_t)snprintf(out + n, cap - n,
        "preamble text is ignored\r\n"
        "--boundary123\r\n"
        "content-disposition: form-data; name=\"file\"; filename=\"scan.tiff\"\r\n"
        "CONTENT-TYPE: image/tiff\r\n"
        "X-Other: ignored\r\n"
        "\r\n");
    memcpy(out + n, file, fl);
    n += fl;
    n += (size_t)snprintf(out + n, cap - n,
        "\r\n--boundary123  \t\r\n"       /* transport padding after the boundary */
        "Content-Disposition: form-data; name=empty\r\n"
        "\r\n"
        "\r\n--boundary123--\r\n"
        "epilogue, also ignored\r\n--boundary123\r\n");
    return n;
}

static void test_binary_file_with_lookalikes(void **state)
{
    (void)state;
    char body[4096], file[1024];
    size_t file_len;
    size_t len = build_binary_body(body, sizeof body, file, &file_len);
    int frc, xrc;
    char *log = parse("boundary123", body, len, 0, &frc, &xrc, NULL, 0);
    assert_int_equal(frc, 0);
    assert_int_equal(xrc, 0);

    strbuf want;
    sb_init(&want);
    sb_puts(&want, "[BEGIN name=file filename=scan.tiff type=image/tiff]");
    sb_append(&want, file, file_len);
    sb_puts(&want, "[END][BEGIN name=empty filename=(null) type=(null)][END]");
    assert_int_equal(last_len, want.len);
    assert_memory_equal(log, want.data, want.len);
    sb_free(&want);
    free(log);
}

static void test_chunking_does_not_matter(void **state)
{
    (void)state;
    char body[4096], file[1024];
    size_t file_len;
    size_t len = build_binary_body(body, sizeof body, file, &file_len);
    int frc, xrc;
    char *whole = parse("boundary123", body, len, 0, &frc, &xrc, NULL, 0);
    assert_int_equal(xrc, 0);
    /* the transcript holds NUL bytes: compare lengths and bytes */
    size_t whole_len = last_len;
    assert_true(whole_len > file_len);
    for (int chunk = 1; chunk <= 17; chunk++) {
        char *log = parse("boundary123", body, len, chunk, &frc, &xrc, NULL, 0);
        assert_int_equal(frc, 0);
        assert_int_equal(xrc, 0);
        assert_int_equal(last_len, whole_len);
        assert_memory_equal(log, whole, whole_len);
        free(log);
    }
    srand(12345);
    for (int round = 0; round < 200; round++) {
        char *log = parse("boundary123", body, len, -1, &frc, &xrc, NULL, 0);
        assert_int_equal(xrc, 0);
        assert_int_equal(last_len, whole_len);
        assert_memory_equal(log, whole, whole_len);
        free(log);
    }
    free(whole);

    char *a = parse("XyZ", two_fields, sizeof two_fields - 1, 0, &frc, &xrc, NULL, 0);
    char *b = parse("XyZ", two_fields, sizeof two_fields - 1, 1, &frc, &xrc, NULL, 0);
    assert_int_equal(xrc, 0);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_boundary_from_content_type(void **state)
{
    (void)state;
    char b[80];
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abc123", b, sizeof b), 0);
    assert_string_equal(b, "abc123");
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"a b:c=d\"", b, sizeof b), 0);
    assert_string_equal(b, "a b:c=d");
    assert_int_equal(multipart_boundary("Multipart/Form-Data;charset=utf-8;BOUNDARY=xyz ; foo=bar", b, sizeof b), 0);
    assert_string_equal(b, "xyz");
    assert_int_equal(multipart_boundary("  multipart/form-data ; boundary=\"------------------------d74496d66958873e\"",
                                        b, sizeof b), 0);
    assert_string_equal(b, "------------------------d74496d66958873e");

    char b70[71], ct[128];
    memset(b70, 'q', 70);
    b70[70] = '\0';
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
    assert_int_equal(multipart_boundary(ct, b, sizeof b), 0);
    assert_string_equal(b, b70);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%sq", b70);   /* 71 chars */
    assert_int_equal(multipart_boundary(ct, b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abc123", b, 4), -1);  /* out too small */

    assert_int_equal(multipart_boundary("multipart/form-data", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; charset=utf-8", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"\"", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"unterminated", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"ends with space \"", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=bad<char>", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/mixed; boundary=abc", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-dataX; boundary=abc", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("application/json", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("", b, sizeof b), -1);
    assert_int_equal(multipart_boundary(NULL, b, sizeof b), -1);
}

static void test_quoted_and_unquoted_boundary_parse_alike(void **state)
{
    (void)state;
    char b1[80], b2[80];
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=XyZ", b1, sizeof b1), 0);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"XyZ\"", b2, sizeof b2), 0);
    assert_string_equal(b1, b2);
    int frc, xrc;
    char *log = parse(b2, two_fields, sizeof two_fields - 1, 3, &frc, &xrc, NULL, 0);
    assert_int_equal(xrc, 0);
    assert_int_equal(strncmp(log, "[BEGIN name=to", 14), 0);
    free(log);
}

static void test_missing_closing_boundary(void **state)
{
    (void)state;
    const char body[] =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"to\"\r\n"
        "\r\n"
        "+15551234567\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
        "\r\n"
        "%PDF-1.4 truncated";
    int frc, xrc;
    char err[200];
    char *log = parse("XyZ", body, sizeof body - 1, 5, &frc, &xrc, err, sizeof err);
    assert_int_equal(frc, 0);
    assert_int_equal(xrc, -1);
    assert_non_null(strstr(err, "closing boundary"));
    /* the data before the cut was delivered, the open part was never ended */
    assert_non_null(strstr(log, "%PDF-1.4 truncated"));
    assert_null(strstr(log, "a.pdf][END]"));
    free(log);

    /* no boundary at all */
    log = parse("XyZ", "just text", 9, 0, &frc, &xrc, err, sizeof err);
    assert_int_equal(xrc, -1);
    assert_non_null(strstr(err, "no boundary"));
    assert_string_equal(log, "");
    free(log);

    /* cut inside the headers */
    const char cut[] = "--XyZ\r\nContent-Disposition: form-da";
    log = parse("XyZ", cut, sizeof cut - 1, 0, &frc, &xrc, err, sizeof err);
    assert_int_equal(xrc, -1);
    assert_non_null(strstr(err, "closing boundary"));
    free(log);
}

static void test_oversized_part_headers(void **state)
{
    (void)state;
    size_t cap = 20000;
    char *body = malloc(cap);
    assert_non_null(body);
    size_t n = (size_t)snprintf(body, cap, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ");
    memset(body + n, 'p', 9000);
    n += 9000;
    n += (size_t)snprintf(body + n, cap - n, "\r\n\r\nvalue\r\n--XyZ--\r\n");
    int frc, xrc;
    char err[200];
    char *log = parse("XyZ", body, n, 0, &frc, &xrc, err, sizeof err);
    assert_int_equal(frc, -1);
    assert_non_null(strstr(err, "headers are larger than"));
    assert_string_equal(log, "");
    free(log);
    log = parse("XyZ", body, n, 1, &frc, &xrc, err, sizeof err);
    assert_int_equal(frc, -1);
    free(log);
    free(body);
}

static void test_filename_reported_verbatim(void **state)
{
    (void)state;
    const char body[] =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"../../etc/pa\\\"ss wd;x=1\"\r\n"
        "Content-Type: application/pdf\r\n"
        "\r\n"
        "%PDF\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; filename=..\\evil.txt; name=unq\r\n"
        "Content-Type:   text/plain; charset=utf-8  \r\n"
        "\r\n"
        "t\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"f3\"; filename*=UTF-8''%e2%82%ac.pdf; filename=\"\"\r\n"
        "\r\n"
        "\r\n"
        "--XyZ--";
    int frc, xrc;
    char *log = parse("XyZ", body, sizeof body - 1, 0, &frc, &xrc, NULL, 0);
    assert_int_equal(xrc, 0);
    assert_string_equal(log,
        "[BEGIN name=file filename=../../etc/pa\"ss wd;x=1 type=application/pdf]%PDF[END]"
        "[BEGIN name=unq filename=..\\evil.txt type=text/plain; charset=utf-8]t[END]"
        "[BEGIN name=f3 filename= type=(null)][END]");
    free(log);
}

static void test_malformed_parts(void **state)
{
    (void)state;
    struct { const char *body; const char *err_part; } cases[] = {
        {"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--", "no Content-Disposition"},
        {"--XyZ\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--XyZ--", "no name"},
        {"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--", "Content-Disposition"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--", "Content-Disposition"},
        {"--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--", "Name: value"},
        {"--XyZ\r\n\r\nx\r\n--XyZ--", "no Content-Disposition"},
        {"--XyZjunk\r\n", "boundary line"},
        {"--XyZ\rX", "CR not followed by LF"},
        {"--XyZ-x", "closing boundary"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int frc, xrc;
        char err[200];
        char *log = parse("XyZ", cases[i].body, strlen(cases[i].body), 0, &frc, &xrc, err, sizeof err);
        assert_int_equal(frc, -1);
        if (!strstr(err, cases[i].err_part))
            fail_msg("case %zu: error '%s' lacks '%s'", i, err, cases[i].err_part);
        free(log);
    }
}

static void test_callback_abort_and_sticky_error(void **state)
{
    (void)state;
    collector c = {0};
    sb_init(&c.log);
    c.abort_at_begin = 2;
    multipart_parser *p = multipart_new("XyZ", &callbacks, &c);
    assert_non_null(p);
    assert_int_equal(multipart_feed(p, two_fields, sizeof two_fields - 1), -1);
    assert_non_null(strstr(multipart_error(p), "stopped by the receiver"));
    assert_int_equal(multipart_feed(p, "more", 4), -1);        /* stays failed */
    assert_int_equal(multipart_finish(p), -1);
    assert_int_equal(c.parts, 2);
    multipart_free(p);
    sb_free(&c.log);

    assert_null(multipart_new("", &callbacks, NULL));
    char b71[72];
    memset(b71, 'a', 71);
    b71[71] = '\0';
    assert_null(multipart_new(b71, &callbacks, NULL));

    /* NULL callbacks are allowed: the parser still validates */
    p = multipart_new("XyZ", NULL, NULL);
    assert_non_null(p);
    assert_int_equal(multipart_feed(p, two_fields, sizeof two_fields - 1), 0);
    assert_int_equal(multipart_finish(p), 0);
    assert_string_equal(multipart_error(p), "no error");
    multipart_free(p);
}

static void test_large_body_streams(void **state)
{
    (void)state;
    /* 2 MiB of data passes through in 4 KiB chunks; the parser holds none of it */
    size_t data_len = 2u << 20;
    strbuf body;
    sb_init(&body);
    sb_puts(&body, "--BigB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n");
    size_t start = body.len;
    for (size_t i = 0; i < data_len; i++) {
        char ch = (char)((i * 7919u) >> 3);
        sb_append(&body, &ch, 1);
    }
    sb_puts(&body, "\r\n--BigB--\r\n");
    int frc, xrc;
    char *log = parse("BigB", body.data, body.len, 4096, &frc, &xrc, NULL, 0);
    assert_int_equal(xrc, 0);
    const char *hdr = "[BEGIN name=file filename=big.bin type=(null)]";
    assert_memory_equal(log, hdr, strlen(hdr));
    assert_memory_equal(log + strlen(hdr), body.data + start, data_len);
    assert_memory_equal(log + strlen(hdr) + data_len, "[END]", 5);
    free(log);
    sb_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_fields),
        cmocka_unit_test(test_binary_file_with_lookalikes),
        cmocka_unit_test(test_chunking_does_not_matter),
        cmocka_unit_test(test_boundary_from_content_type),
        cmocka_unit_test(test_quoted_and_unquoted_boundary_parse_alike),
        cmocka_unit_test(test_missing_closing_boundary),
        cmocka_unit_test(test_oversized_part_headers),
        cmocka_unit_test(test_filename_reported_verbatim),
        cmocka_unit_test(test_malformed_parts),
        cmocka_unit_test(test_callback_abort_and_sticky_error),
        cmocka_unit_test(test_large_body_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
