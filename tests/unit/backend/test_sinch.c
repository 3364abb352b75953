/* test_sinch.c — unit tests for the pure parts of the Sinch backend and the shared
 * cloud helpers: Fax objects, FAX_COMPLETED / INCOMING_FAX webhooks in both forms,
 * error envelopes, status and error-code mapping, base64 and HTTP Basic checks. (Stale or
 * replayed events are refused by the job layer: tests/unit/jobs/test_job_state.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/cloud_util.h"
#include "backend/sinch_parse.h"
#include "util/util.h"

static const char completed_json[] =
    "{\"event\":\"FAX_COMPLETED\",\"eventTime\":\"2021-11-01T23:25:57Z\",\"fax\":{\"id\":\"01HDFHACK1YN7CCDYRA6ZRMA8Z\","
    "\"direction\":\"OUTBOUND\",\"from\":\"+14155552222\",\"to\":\"+14155553333\",\"numberOfPages\":2,"
    "\"status\":\"COMPLETED\",\"labels\":{\"faxbotJobId\":\"0123456789abcdef0123456789abcdef\",\"faxbotAttempt\":\"3\"},"
    "\"callbackUrlContentType\":\"application/json\"},\"files\":[{\"file\":\"JVBERi0xLjQK\",\"fileType\":\"PDF\"}]}";

static void test_completed_json(void **state)
{
    (void)state;
    sinch_event ev;
    char err[200];
    assert_int_equal(sinch_parse_event("application/json", completed_json, strlen(completed_json), true, &ev, err,
                                       sizeof err), 0);
    assert_string_equal(ev.event, "FAX_COMPLETED");
    assert_true(ev.has_fax);
    assert_string_equal(ev.fax.id, "01HDFHACK1YN7CCDYRA6ZRMA8Z");
    assert_int_equal(ev.fax.pages, 2);
    assert_string_equal(ev.fax.label_job_id, "0123456789abcdef0123456789abcdef");
    assert_int_equal(ev.fax.label_attempt, 3);
    assert_non_null(ev.file);
    assert_int_equal(ev.file_len, 9);
    assert_memory_equal(ev.file, "%PDF-1.4\n", 9);
    assert_string_equal(ev.file_type, "PDF");
    cloud_verdict v;
    sinch_verdict(&ev.fax, &v);
    assert_int_equal(v.state, CLOUD_DELIVERED);
    sinch_event_free(&ev);
    /* without want_file the document is not decoded */
    assert_int_equal(sinch_parse_event("application/json", completed_json, strlen(completed_json), false, &ev, err,
                                       sizeof err), 0);
    assert_null(ev.file);
    sinch_event_free(&ev);
}

static const char multipart_body[] =
    "--XyZ\r\nContent-Disposition: form-data; name=\"event\"\r\nContent-Type: application/json\r\n\r\n"
    "\"INCOMING_FAX\"\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"eventTime\"\r\n\r\n2021-11-01T23:25:57Z\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"fax\"\r\nContent-Type: application/json\r\n\r\n"
    "{\"id\":\"01HDFHACK1YN7CCDYRA6ZRMA8Z\",\"direction\":\"INBOUND\",\"from\":\"+14155552222\","
    "\"to\":\"+14155553333\",\"numberOfPages\":1,\"status\":\"COMPLETED\"}\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fax.pdf\"\r\n"
    "Content-Type: application/pdf\r\n\r\n%PDF-1.7 binary\x00\x01\r\n"
    "--XyZ--\r\n";

static void test_incoming_multipart(void **state)
{
    (void)state;
    sinch_event ev;
    char err[200];
    assert_int_equal(sinch_parse_event("multipart/form-data; boundary=XyZ", multipart_body, sizeof multipart_body - 1,
                                       true, &ev, err, sizeof err), 0);
    assert_string_equal(ev.event, "INCOMING_FAX");   /* a JSON-quoted value is unquoted */
    assert_string_equal(ev.event_time, "2021-11-01T23:25:57Z");
    assert_string_equal(ev.fax.from, "+14155552222");
    assert_string_equal(ev.fax.direction, "INBOUND");
    assert_int_equal(ev.file_len, 17);
    assert_memory_equal(ev.file, "%PDF-1.7 binary\x00\x01", 17);
    assert_string_equal(ev.file_type, "application/pdf");
    assert_string_equal(cloud_doc_kind(ev.file, ev.file_len), "pdf");
    cloud_verdict v;
    sinch_verdict(&ev.fax, &v);
    assert_int_equal(v.state, CLOUD_IGNORE);   /* an inbound fax is never an outbound result */
    sinch_event_free(&ev);
    /* truncated: no closing boundary */
    assert_int_equal(sinch_parse_event("multipart/form-data; boundary=XyZ", multipart_body, 120, true, &ev, err,
                                       sizeof err), -1);
    sinch_event_free(&ev);
    assert_int_equal(sinch_parse_event("multipart/form-data", multipart_body, sizeof multipart_body - 1, true, &ev,
                                       err, sizeof err), -1);
    sinch_event_free(&ev);
}

static void test_incoming_json_and_bad_input(void **state)
{
    (void)state;
    sinch_event ev;
    char err[200];
    const char *j = "{\"event\":\"INCOMING_FAX\",\"fax\":{\"id\":\"X1\",\"from\":\"+1\"},\"file\":\"SUkqAA==\","
                    "\"fileType\":\"TIF\"}";
    assert_int_equal(sinch_parse_event("application/json; charset=utf-8", j, strlen(j), true, &ev, err, sizeof err), 0);
    assert_int_equal(ev.file_len, 4);
    assert_string_equal(cloud_doc_kind(ev.file, ev.file_len), "tiff");
    assert_string_equal(ev.file_type, "TIF");
    sinch_event_free(&ev);
    const char *bad = "{\"event\":\"INCOMING_FAX\",\"fax\":{\"id\":\"X1\"},\"file\":\"not*base64\"}";
    assert_int_equal(sinch_parse_event("application/json", bad, strlen(bad), true, &ev, err, sizeof err), -1);
    sinch_event_free(&ev);
    assert_int_equal(sinch_parse_event("application/json", "[1,2]", 5, true, &ev, err, sizeof err), -1);
    sinch_event_free(&ev);
    assert_int_equal(sinch_parse_event(NULL, "", 0, true, &ev, err, sizeof err), -1);
    sinch_event_free(&ev);
}

static void test_fax_object_and_list(void **state)
{
    (void)state;
    sinch_fax f;
    char err[200];
    const char *o = "{\"id\":\"01HDF5S9P29WC29J578J8EKC1C\",\"direction\":\"OUTBOUND\",\"to\":\"+1234567890\","
                    "\"status\":\"IN_PROGRESS\"}";
    assert_int_equal(sinch_parse_fax(o, strlen(o), &f, err, sizeof err), 0);
    assert_string_equal(f.status, "IN_PROGRESS");
    assert_int_equal(f.pages, -1);
    assert_int_equal(f.error_code, -1);
    cloud_verdict v;
    sinch_verdict(&f, &v);
    assert_int_equal(v.state, CLOUD_PENDING);
    const char *arr = "[{\"id\":\"A\",\"status\":\"QUEUED\"},{\"id\":\"B\"}]";   /* several "to": an array */
    assert_int_equal(sinch_parse_fax(arr, strlen(arr), &f, err, sizeof err), 0);
    assert_string_equal(f.id, "A");
    assert_int_equal(sinch_parse_fax("{\"status\":\"QUEUED\"}", 19, &f, err, sizeof err), -1);
    assert_int_equal(sinch_parse_fax("nope", 4, &f, err, sizeof err), -1);

    const char *list = "{\"faxes\":[{\"id\":\"A\",\"labels\":{\"faxbotJobId\":\"j\",\"faxbotAttempt\":2}},\"x\",{}],"
                       "\"page\":1,\"totalPages\":3,\"pageSize\":100,\"totalItems\":1}";
    sinch_fax out[4];
    int pages = 0;
    assert_int_equal(sinch_parse_fax_list(list, strlen(list), out, 4, &pages, err, sizeof err), 1);
    assert_int_equal(pages, 3);
    assert_string_equal(out[0].label_job_id, "j");
    assert_int_equal(out[0].label_attempt, 2);
    assert_int_equal(sinch_parse_fax_list("{\"faxes\":5}", 11, out, 4, &pages, err, sizeof err), -1);
}

static void failure(const char *type, int code, cloud_verdict *v)
{
    sinch_fax f;
    memset(&f, 0, sizeof f);
    strcpy(f.status, "FAILURE");
    strcpy(f.error_type, type);
    strcpy(f.error_message, "msg");
    f.error_code = code;
    f.pages = -1;
    sinch_verdict(&f, v);
    assert_int_equal(v->state, CLOUD_FAILED);
}

static void test_error_mapping(void **state)
{
    (void)state;
    struct { const char *type; int code; const char *reason; bool transient; } cases[] = {
        { "CALL_ERROR", 17, "busy", true },
        { "CALL_ERROR", 16, "no_answer", true },
        { "CALL_ERROR", 30, "no_answer", true },
        { "FAX_ERROR", 48, "no_answer", true },
        { "CALL_ERROR", 15, "congestion", true },
        { "CALL_ERROR", 11, "line_error", true },
        { "CALL_ERROR", 34, "invalid_number", false },
        { "CALL_ERROR", 49, "invalid_number", false },
        { "CALL_ERROR", 32, "rejected", false },
        { "FAX_ERROR", 133, "rejected", false },
        { "DOCUMENT_CONVERSION_ERROR", 133, "conversion_error", false },
        { "DOCUMENT_CONVERSION_ERROR", 4, "conversion_error", false },
        { "FAX_ERROR", 46, "provider_error", false },
        { "FAX_ERROR", 75, "cancelled", false },
        { "FAX_ERROR", 25, "line_error", true },
        { "FATAL_ERROR", 999, "provider_error", false },
        { "GENERAL_ERROR", 999, "provider_error", true },
        { "", -1, "line_error", true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cloud_verdict v;
        failure(cases[i].type, cases[i].code, &v);
        assert_string_equal(v.reason, cases[i].reason);
        assert_int_equal(v.transient, cases[i].transient);
        assert_non_null(strstr(v.message, "msg"));
    }
}

static void test_error_text(void **state)
{
    (void)state;
    char out[300];
    bool bad_to;
    const char *e = "{\"code\":422,\"status\":\"INVALID_ARGUMENT\",\"message\":\"Invalid parameters\",\"details\":"
                    "[{\"type\":\"BadRequest\",\"fieldViolations\":[{\"field\":\"to\",\"description\":\"bad number\"}]}]}";
    sinch_error_text(e, strlen(e), out, sizeof out, &bad_to);
    assert_true(bad_to);
    assert_string_equal(out, "Invalid parameters [INVALID_ARGUMENT]; to: bad number");
    const char *e2 = "{\"code\":\"402\",\"error\":\"Payment required\"}";
    sinch_error_text(e2, strlen(e2), out, sizeof out, &bad_to);
    assert_false(bad_to);
    assert_string_equal(out, "Payment required");
    sinch_error_text("", 0, out, sizeof out, &bad_to);   /* 401 has an empty body */
    assert_string_equal(out, "");
}

static void test_base64_and_basic_auth(void **state)
{
    (void)state;
    size_t n;
    unsigned char *d = base64_decode("aGVs\nbG8=", 9, SIZE_MAX, false, &n);
    assert_non_null(d);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    free(d);
    assert_null(base64_decode("aGVsbG8=x", 9, SIZE_MAX, false, &n));   /* data after padding */
    assert_null(base64_decode("a$==", 4, SIZE_MAX, false, &n));
    /* "user:pa:ss" */
    assert_true(cloud_basic_auth_ok("Basic dXNlcjpwYTpzcw==", "user", "pa:ss"));
    assert_true(cloud_basic_auth_ok("basic   dXNlcjpwYTpzcw==", "user", "pa:ss"));
    assert_false(cloud_basic_auth_ok("Basic dXNlcjpwYTpzcw==", "user", "pa:sx"));
    assert_false(cloud_basic_auth_ok("Basic dXNlcjpwYTpzcw==", "usex", "pa:ss"));
    assert_false(cloud_basic_auth_ok("Bearer dXNlcjpwYTpzcw==", "user", "pa:ss"));
    assert_false(cloud_basic_auth_ok(NULL, "user", "pa:ss"));
    assert_false(cloud_basic_auth_ok("Basic dXNlcjpwYTpzcw==", "", "pa:ss"));
    assert_false(cloud_basic_auth_ok("Basic dXNlcg==", "user", ""));          /* no colon at all */
    assert_false(cloud_basic_auth_ok("Basic dXNlcgA6cA==", "user", "p"));      /* "user\0:p" */
    strbuf sb;
    sb_init(&sb);
    cloud_url_encode(&sb, "a b/c:d@e~f");
    assert_string_equal(sb.data, "a%20b%2Fc%3Ad%40e~f");
    sb_free(&sb);
    assert_true(cloud_is_job_id("0123456789abcdef0123456789abcdef"));
    assert_false(cloud_is_job_id("0123456789ABCDEF0123456789abcdef"));
    assert_false(cloud_is_job_id("0123456789abcdef"));
    assert_false(cloud_is_job_id(NULL));
    assert_null(cloud_doc_kind((const unsigned char *)"GIF89a", 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completed_json),
        cmocka_unit_test(test_incoming_multipart),
        cmocka_unit_test(test_incoming_json_and_bad_input),
        cmocka_unit_test(test_fax_object_and_list),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_base64_and_basic_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
