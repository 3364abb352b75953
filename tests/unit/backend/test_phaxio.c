/* test_phaxio.c — unit tests for src/backend/phaxio_proto.c: the X-Phaxio-Signature
 * algorithm against the official client's published vectors
 * (phaxio/phaxio-ruby spec/resources/webhook_spec.rb) and hand-built strings,
 * webhook form parsing (multipart and urlencoded), fax objects, the status and
 * error mapping, and the API reply envelopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "backend/phaxio_proto.h"
#include "util/util.h"

/* ---- helpers ---- */

static void add_part(phaxio_form *f, const char *name, const char *filename, const char *data, size_t len)
{
    f->parts = realloc(f->parts, (f->n + 1) * sizeof *f->parts);
    assert_non_null(f->parts);
    phaxio_part *p = &f->parts[f->n++];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->filename = filename ? strdup(filename) : NULL;
    p->data = malloc(len + 1);
    memcpy(p->data, data, len);
    p->data[len] = 0;
    p->len = len;
    f->cap = f->n;
}

/* An independent reference: HMAC-SHA1 hex over exactly the given string. */
static void ref_hmac(const char *key, const char *msg, char out[41])
{
    unsigned char mac[20];
    unsigned int n = 0;
    HMAC(EVP_sha1(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), mac, &n);
    assert_int_equal(n, 20);
    for (int i = 0; i < 20; i++) sprintf(out + 2 * i, "%02x", mac[i]);
}

#define SHA1_EMPTY "da39a3ee5e6b4b0d3255bfef95601890afd80709"
#define SHA1_ABC "a9993e364706816aba3e25717850c26c9cd0d89d"

/* ---- signature ---- */

/* phaxio-ruby: valid_signature?('64a7…', 'example.com', {test: true}, []) with
 * webhook token 'test-webhook-token'. */
static void test_signature_official_vector(void **state)
{
    (void)state;
    phaxio_form f = {0};
    add_part(&f, "test", NULL, "true", 4);
    char sig[41];
    assert_int_equal(phaxio_signature_hex("example.com", &f, "test-webhook-token", sig), 0);
    assert_string_equal(sig, "64a735ef0c47a0ae671e381c046648f0966deb29");
    assert_true(phaxio_signature_valid("example.com", &f, "test-webhook-token", "64a735ef0c47a0ae671e381c046648f0966deb29"));
    assert_true(phaxio_signature_valid("example.com", &f, "test-webhook-token", " 64A735EF0C47A0AE671E381C046648F0966DEB29 "));
    assert_false(phaxio_signature_valid("example.com", &f, "test-webhook-token", "wrong"));
    assert_false(phaxio_signature_valid("example.com", &f, "other-token", "64a735ef0c47a0ae671e381c046648f0966deb29"));
    assert_false(phaxio_signature_valid("example.com/", &f, "test-webhook-token", "64a735ef0c47a0ae671e381c046648f0966deb29"));
    assert_false(phaxio_signature_valid("example.com", &f, "", "64a735ef0c47a0ae671e381c046648f0966deb29"));
    assert_false(phaxio_signature_valid("example.com", &f, "test-webhook-token", ""));
    assert_false(phaxio_signature_valid("example.com", &f, "test-webhook-token", NULL));
    phaxio_form_free(&f);
}

/* phaxio-ruby's "with files" case: two file parts named "file". (The spec writes
 * "foo"/"bar" into Tempfiles without rewinding, so what it hashes is empty
 * contents; its expected signature 1d24… is reproduced exactly that way.) */
static void test_signature_official_vector_files(void **state)
{
    (void)state;
    phaxio_form f = {0};
    add_part(&f, "file", "a.pdf", "", 0);
    add_part(&f, "test", NULL, "true", 4);
    add_part(&f, "file", "b.pdf", "", 0);
    char sig[41];
    assert_int_equal(phaxio_signature_hex("example.com", &f, "test-webhook-token", sig), 0);
    assert_string_equal(sig, "1d2426c242a8c5de7eb1d9b662b7fda1d0b6edab");
    phaxio_form_free(&f);
}

static void test_signature_sorting_and_files(void **state)
{
    (void)state;
    const char *url = "https://fax.example.com/phaxio-callback?job_id=0123456789abcdef0123456789abcdef&attempt=2";
    phaxio_form f = {0};
    add_part(&f, "fax", NULL, "{\"id\":1}", 8);
    add_part(&f, "zeta", "z.pdf", "abc", 3);
    add_part(&f, "event_type", NULL, "fax_completed", 13);
    add_part(&f, "alpha", "a.bin", "", 0);
    add_part(&f, "direction", NULL, "sent", 4);
    char want[41], got[41], msg[512];
    snprintf(msg, sizeof msg, "%sdirectionsentevent_typefax_completedfax{\"id\":1}alpha" SHA1_EMPTY "zeta" SHA1_ABC, url);
    ref_hmac("tok", msg, want);
    assert_int_equal(phaxio_signature_hex(url, &f, "tok", got), 0);
    assert_string_equal(got, want);
    assert_true(phaxio_signature_valid(url, &f, "tok", want));

    /* a changed file content, value, or URL breaks it */
    f.parts[1].data[0] = 'x';
    assert_false(phaxio_signature_valid(url, &f, "tok", want));
    f.parts[1].data[0] = 'a';
    f.parts[4].data[0] = 'S';
    assert_false(phaxio_signature_valid(url, &f, "tok", want));
    f.parts[4].data[0] = 's';
    assert_true(phaxio_signature_valid(url, &f, "tok", want));

    /* equal names keep their received order (stable sort) */
    phaxio_form g = {0};
    add_part(&g, "b", NULL, "2", 1);
    add_part(&g, "a", NULL, "x", 1);
    add_part(&g, "a", NULL, "y", 1);
    ref_hmac("k", "uaxayb2", want);
    assert_int_equal(phaxio_signature_hex("u", &g, "k", got), 0);
    assert_string_equal(got, want);
    phaxio_form_free(&g);
    phaxio_form_free(&f);
}

/* ---- forms ---- */

static const char MP_CT[] = "multipart/form-data; boundary=XyZ";
static const char MP_BODY[] =
    "--XyZ\r\nContent-Disposition: form-data; name=\"event_type\"\r\n\r\nfax_completed\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"fax\"\r\n\r\n"
    "{\"id\":323034811,\"direction\":\"sent\",\"status\":\"success\",\"num_pages\":2,"
    "\"tags\":{\"faxbot_job\":\"0123456789abcdef0123456789abcdef\",\"faxbot_attempt\":\"3\"}}\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fax.pdf\"\r\n"
    "Content-Type: application/pdf\r\n\r\n%PDF-1.4 abc\r\n"
    "--XyZ--\r\n";

static void test_form_multipart(void **state)
{
    (void)state;
    phaxio_form f;
    char err[200];
    assert_int_equal(phaxio_form_parse(MP_CT, MP_BODY, sizeof MP_BODY - 1, &f, err, sizeof err), 0);
    assert_int_equal(f.n, 3);
    const phaxio_part *ev = phaxio_form_field(&f, "event_type");
    assert_non_null(ev);
    assert_string_equal(ev->data, "fax_completed");
    assert_null(phaxio_form_field(&f, "file"));
    const phaxio_part *file = phaxio_form_file(&f, "file");
    assert_non_null(file);
    assert_string_equal(file->filename, "fax.pdf");
    assert_int_equal(file->len, 12);
    assert_memory_equal(file->data, "%PDF-1.4 abc", 12);

    /* the signature covers what the parser produced */
    char want[41], msg[600];
    const phaxio_part *fax = phaxio_form_field(&f, "fax");
    unsigned char md[20];
    char hex[41];
    EVP_Digest("%PDF-1.4 abc", 12, md, NULL, EVP_sha1(), NULL);
    for (int i = 0; i < 20; i++) sprintf(hex + 2 * i, "%02x", md[i]);
    snprintf(msg, sizeof msg, "https://h/cb?job_id=1event_typefax_completedfax%sfile%s", fax->data, hex);
    ref_hmac("secret-token", msg, want);
    assert_true(phaxio_signature_valid("https://h/cb?job_id=1", &f, "secret-token", want));
    phaxio_form_free(&f);

    /* malformed bodies and types */
    assert_int_equal(phaxio_form_parse(MP_CT, MP_BODY, 40, &f, err, sizeof err), -1);
    assert_int_equal(f.n, 0);
    assert_int_equal(phaxio_form_parse("multipart/form-data", MP_BODY, sizeof MP_BODY - 1, &f, err, sizeof err), -1);
    assert_int_equal(phaxio_form_parse("application/json", "{}", 2, &f, err, sizeof err), -1);
    assert_int_equal(phaxio_form_parse(NULL, "", 0, &f, err, sizeof err), -1);
}

static void test_form_urlencoded(void **state)
{
    (void)state;
    phaxio_form f;
    char err[200];
    const char *body = "a=1&b=x%20y+z&fax=%7B%22id%22%3A5%7D&empty=&flag&bad=%zz%4";
    assert_int_equal(phaxio_form_parse("application/x-www-form-urlencoded; charset=utf-8", body, strlen(body), &f, err,
                                       sizeof err), 0);
    assert_int_equal(f.n, 6);
    assert_string_equal(phaxio_form_field(&f, "b")->data, "x y z");
    assert_string_equal(phaxio_form_field(&f, "fax")->data, "{\"id\":5}");
    assert_string_equal(phaxio_form_field(&f, "empty")->data, "");
    assert_string_equal(phaxio_form_field(&f, "flag")->data, "");
    assert_string_equal(phaxio_form_field(&f, "bad")->data, "%zz%4");
    /* decoded values are what gets signed */
    char want[41];
    ref_hmac("t", "Ua1bx y zbad%zz%4emptyfax{\"id\":5}flag", want);
    assert_true(phaxio_signature_valid("U", &f, "t", want));
    phaxio_form_free(&f);
}

/* ---- fax objects and mapping ---- */

static void test_fax_parse(void **state)
{
    (void)state;
    const char *j = "{\"id\":55405187,\"direction\":\"sent\",\"num_pages\":1,\"status\":\"FAILURE\","
                    "\"tags\":{\"faxbot_job\":\"abc\",\"faxbot_attempt\":2},"
                    "\"recipients\":[{\"phone_number\":\"+15558675309\",\"status\":\"failure\",\"bitrate\":9600,"
                    "\"error_type\":\"lineError\",\"error_id\":17,\"error_message\":\"Busy\"}],"
                    "\"to_number\":null,\"error_id\":null,\"error_type\":null,\"error_message\":null}";
    phaxio_fax f;
    char err[100];
    assert_int_equal(phaxio_fax_parse(j, strlen(j), &f, err, sizeof err), 0);
    assert_string_equal(f.id, "55405187");
    assert_string_equal(f.status, "failure");
    assert_string_equal(f.tag_job, "abc");
    assert_int_equal(f.tag_attempt, 2);
    assert_string_equal(f.error_type, "lineError");       /* from the recipient */
    assert_int_equal(f.error_id, 17);
    assert_string_equal(f.to_number, "+15558675309");
    assert_int_equal(f.bitrate, 9600);
    phaxio_mapped m;
    phaxio_map(&f, "fax_completed", -1, &m);
    assert_int_equal(m.kind, OUTCOME_FAILURE);
    assert_string_equal(m.failure_reason, "busy");
    assert_true(m.transient);
    assert_non_null(strstr(m.message, "Busy"));

    assert_int_equal(phaxio_fax_parse("[1]", 3, &f, err, sizeof err), -1);
    assert_int_equal(phaxio_fax_parse("{\"id\":", 6, &f, err, sizeof err), -1);
}

static void map_status(const char *status, const char *event, int page, phaxio_mapped *m)
{
    phaxio_fax f;
    memset(&f, 0, sizeof f);
    f.num_pages = 4;
    f.error_id = -1;
    f.bitrate = -1;
    str_copy(f.status, sizeof f.status, status);
    phaxio_map(&f, event, page, m);
}

static void test_map_statuses(void **state)
{
    (void)state;
    phaxio_mapped m;
    map_status("success", "fax_completed", -1, &m);
    assert_int_equal(m.kind, OUTCOME_SUCCESS);
    assert_int_equal(m.pages, 4);
    map_status("partialsuccess", NULL, -1, &m);
    assert_int_equal(m.kind, OUTCOME_SUCCESS);
    map_status("inprogress", "transmitting_page", 2, &m);
    assert_int_equal(m.kind, OUTCOME_PROGRESS);
    assert_int_equal(m.pages, 2);
    map_status("inprogress", "retry_scheduled", -1, &m);
    assert_int_equal(m.kind, OUTCOME_PROGRESS);
    assert_int_equal(m.pages, -1);
    map_status("queued", NULL, -1, &m);
    assert_int_equal(m.kind, OUTCOME_ACCEPTED);
    map_status("pendingbatch", NULL, -1, &m);
    assert_int_equal(m.kind, OUTCOME_ACCEPTED);
    map_status("inprogress", NULL, -1, &m);
    assert_int_equal(m.kind, OUTCOME_PROGRESS);
    map_status("weird", "fax_completed", -1, &m);
    assert_int_equal(m.kind, 0);
    map_status("failure", "fax_completed", -1, &m);
    assert_int_equal(m.kind, OUTCOME_FAILURE);
    assert_string_equal(m.failure_reason, "provider_error");
    assert_true(m.transient);
}

static void test_failure_reasons(void **state)
{
    (void)state;
    bool tr;
    assert_string_equal(phaxio_failure_reason("lineError", 17, "Busy", &tr), "busy");
    assert_true(tr);
    assert_string_equal(phaxio_failure_reason("lineError", 16, "Ring Timeout", &tr), "no_answer");
    assert_true(tr);
    assert_string_equal(phaxio_failure_reason("lineError", 15, "", &tr), "congestion");
    assert_true(tr);
    assert_string_equal(phaxio_failure_reason("lineError", 34, "Phone number not operational", &tr), "invalid_number");
    assert_false(tr);
    assert_string_equal(phaxio_failure_reason("lineError", 50, "Call rejected", &tr), "rejected");
    assert_false(tr);
    assert_string_equal(phaxio_failure_reason("lineError", 11, "The call dropped prematurely", &tr), "line_error");
    assert_true(tr);
    assert_string_equal(phaxio_failure_reason("lineError", -1, "Busy", &tr), "busy");     /* by text */
    assert_string_equal(phaxio_failure_reason("faxError", 12, "no response to DCS", &tr), "line_error");
    assert_true(tr);
    assert_string_equal(phaxio_failure_reason("faxError", 7, "Far end cannot receive at the size of image", &tr), "rejected");
    assert_false(tr);
    assert_string_equal(phaxio_failure_reason("faxError", 75, "Manually canceled by user", &tr), "cancelled");
    assert_false(tr);
    assert_string_equal(phaxio_failure_reason("documentConversionError", 54, "Could not access the url", &tr),
                        "conversion_error");
    assert_false(tr);
    assert_string_equal(phaxio_failure_reason("fatalError", -1, "", &tr), "provider_error");
    assert_false(tr);
    assert_string_equal(phaxio_failure_reason("", -1, "Busy", &tr), "busy");
    assert_string_equal(phaxio_failure_reason(NULL, -1, NULL, &tr), "provider_error");
    assert_true(tr);
}

/* ---- replies ---- */

static void test_replies(void **state)
{
    (void)state;
    phaxio_reply r;
    const char *ok = "{\"success\":true,\"message\":\"Fax queued for sending\",\"data\":{\"id\":323034811}}";
    phaxio_reply_parse(ok, strlen(ok), &r);
    assert_true(r.json && r.success);
    assert_string_equal(r.id, "323034811");
    const char *bad = "{\"success\":false,\"message\":\"Invalid API credentials\"}";
    phaxio_reply_parse(bad, strlen(bad), &r);
    assert_true(r.json);
    assert_false(r.success);
    assert_string_equal(r.message, "Invalid API credentials");
    phaxio_reply_parse("<html>", 6, &r);
    assert_false(r.json);
    phaxio_reply_parse(NULL, 0, &r);
    assert_false(r.json);

    long long bal;
    const char *acc = "{\"success\":true,\"message\":\"Account status retrieved successfully\",\"data\":{\"balance\":8325,"
                      "\"faxes_today\":{\"sent\":6,\"received\":8}}}";
    assert_int_equal(phaxio_account_parse(acc, strlen(acc), &bal), 0);
    assert_int_equal(bal, 8325);
    assert_int_equal(phaxio_account_parse("{}", 2, &bal), -1);

    phaxio_fax f;
    char err[100];
    const char *got = "{\"success\":true,\"data\":{\"id\":9,\"status\":\"inprogress\",\"direction\":\"sent\"}}";
    assert_int_equal(phaxio_get_parse(got, strlen(got), &f, err, sizeof err), 0);
    assert_string_equal(f.id, "9");
    assert_string_equal(f.status, "inprogress");
    assert_int_equal(phaxio_get_parse("{\"success\":false}", 17, &f, err, sizeof err), -1);
}

static void test_list_find(void **state)
{
    (void)state;
    const char *job = "0123456789abcdef0123456789abcdef";
    char body[2048];
    snprintf(body, sizeof body,
             "{\"success\":true,\"data\":["
             "{\"id\":12,\"direction\":\"sent\",\"status\":\"success\",\"tags\":{\"faxbot_job\":\"%s\",\"faxbot_attempt\":\"2\"}},"
             "{\"id\":11,\"direction\":\"sent\",\"status\":\"failure\",\"tags\":{\"faxbot_job\":\"%s\",\"faxbot_attempt\":\"1\"}},"
             "{\"id\":13,\"direction\":\"received\",\"status\":\"success\",\"tags\":{\"faxbot_job\":\"%s\"}},"
             "{\"id\":14,\"direction\":\"sent\",\"status\":\"queued\",\"tags\":{\"faxbot_job\":\"other\"}}"
             "],\"paging\":{\"total\":4}}",
             job, job, job);
    phaxio_fax f;
    char err[100];
    assert_int_equal(phaxio_list_find(body, strlen(body), job, 2, &f, err, sizeof err), 1);
    assert_string_equal(f.id, "12");
    assert_int_equal(phaxio_list_find(body, strlen(body), job, 1, &f, err, sizeof err), 1);
    assert_string_equal(f.id, "11");
    assert_int_equal(phaxio_list_find(body, strlen(body), job, 3, &f, err, sizeof err), 0);
    assert_int_equal(phaxio_list_find(body, strlen(body), "ffffffffffffffffffffffffffffffff", 1, &f, err, sizeof err), 0);
    /* a fax without an attempt tag counts (the newest wins) */
    const char *untagged = "{\"data\":[{\"id\":5,\"direction\":\"sent\",\"tags\":{\"faxbot_job\":\"j\"}},"
                           "{\"id\":7,\"direction\":\"sent\",\"tags\":{\"faxbot_job\":\"j\"}}]}";
    assert_int_equal(phaxio_list_find(untagged, strlen(untagged), "j", 4, &f, err, sizeof err), 1);
    assert_string_equal(f.id, "7");
    assert_int_equal(phaxio_list_find("{\"data\":[]}", 11, "j", 1, &f, err, sizeof err), 0);
    assert_int_equal(phaxio_list_find("{\"success\":false}", 17, "j", 1, &f, err, sizeof err), -1);
    assert_int_equal(phaxio_list_find("nope", 4, "j", 1, &f, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_official_vector),
        cmocka_unit_test(test_signature_official_vector_files),
        cmocka_unit_test(test_signature_sorting_and_files),
        cmocka_unit_test(test_form_multipart),
        cmocka_unit_test(test_form_urlencoded),
        cmocka_unit_test(test_fax_parse),
        cmocka_unit_test(test_map_statuses),
        cmocka_unit_test(test_failure_reasons),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_list_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
