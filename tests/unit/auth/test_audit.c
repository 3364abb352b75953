/* test_audit.c — the audit log writes valid, masked JSON lines (parsed back with
 * jansson), never interleaves concurrent events, keeps a ring of the last 1000
 * events, and writes nothing when disabled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/audit.h"
#include "util/util.h"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/faxbot-audit-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    audit_close();
    return remove_tree(g_dir);
}

/* Reads every line of path, parsing each as a JSON object. Returns the count. */
static int read_lines(const char *path, json_t **lines, int max)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(read_file_all(path, &data, &len, 64 << 20), 0);
    int n = 0;
    char *save = NULL;
    assert_true(len == 0 || data[len - 1] == '\n');
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!j) fail_msg("not JSON: %s (%s)", line, jerr.text);
        assert_true(json_is_object(j));
        if (n < max) lines[n] = j;
        else json_decref(j);
        n++;
    }
    free(data);
    return n;
}

static void test_writes_masked_json_lines(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    assert_int_equal(audit_open(true, path), 0);
    int64_t before = now_ms();
    audit_event("job_created", "job_id", "abc123", "to", "+15551234567", "backend", "phaxio", NULL);
    audit_event("inbound_received", "from_number", "+4930123456", "to_number", "+15550001111", "fr", "+1555999",
                "from", "12", "note", "quote \" backslash \\ newline \n tab \t ctl \x01 é", NULL);
    audit_event("spoof", "event", "other", "ts", "yesterday", "x", "1", NULL);
    audit_event("bad_utf8", "v", "ok\xff\xfe end", NULL);
    int64_t after = now_ms();

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    json_t *lines[8];
    assert_int_equal(read_lines(path, lines, 8), 4);
    assert_string_equal(json_string_value(json_object_get(lines[0], "event")), "job_created");
    assert_string_equal(json_string_value(json_object_get(lines[0], "job_id")), "abc123");
    assert_string_equal(json_string_value(json_object_get(lines[0], "to")), "********4567");
    assert_string_equal(json_string_value(json_object_get(lines[0], "backend")), "phaxio");
    int64_t ts = ms_from_iso8601(json_string_value(json_object_get(lines[0], "ts")));
    assert_true(ts >= before - 1 && ts <= after + 1);

    assert_string_equal(json_string_value(json_object_get(lines[1], "from_number")), "*******3456");
    assert_string_equal(json_string_value(json_object_get(lines[1], "to_number")), "********1111");
    assert_string_equal(json_string_value(json_object_get(lines[1], "fr")), "****5999");
    assert_string_equal(json_string_value(json_object_get(lines[1], "from")), "**");
    assert_string_equal(json_string_value(json_object_get(lines[1], "note")),
                        "quote \" backslash \\ newline \n tab \t ctl \x01 é");

    /* Fields cannot overwrite event and ts. */
    assert_string_equal(json_string_value(json_object_get(lines[2], "event")), "spoof");
    assert_true(ms_from_iso8601(json_string_value(json_object_get(lines[2], "ts"))) > 0);
    assert_string_equal(json_string_value(json_object_get(lines[2], "x")), "1");

    /* Invalid UTF-8 is replaced, the line is still JSON. */
    assert_string_equal(json_string_value(json_object_get(lines[3], "v")), "ok?? end");
    for (int i = 0; i < 4; i++) json_decref(lines[i]);

    /* No whole number anywhere in the file. */
    char *data = NULL;
    size_t len;
    assert_int_equal(read_file_all(path, &data, &len, 1 << 20), 0);
    assert_null(strstr(data, "5551234567"));
    assert_null(strstr(data, "4930123456"));
    free(data);
}

static void test_ring_newest_first_and_bounded(void **state)
{
    (void)state;
    assert_int_equal(audit_open(false, NULL), 0);
    char n[16];
    for (int i = 0; i < 1500; i++) {
        snprintf(n, sizeof n, "%d", i);
        audit_event("tick", "i", n, "to", "+15551234567", NULL);
    }
    char *js = audit_recent_json(3);
    assert_non_null(js);
    json_t *arr = json_loads(js, 0, NULL);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "i")), "1499");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 2), "i")), "1497");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "to")), "********4567");
    json_decref(arr);
    free(js);

    js = audit_recent_json(5000);
    arr = json_loads(js, 0, NULL);
    assert_int_equal(json_array_size(arr), 1000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 999), "i")), "500");
    json_decref(arr);
    free(js);

    js = audit_recent_json(0);
    assert_string_equal(js, "[]");
    free(js);
}

static void test_disabled_writes_nothing(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/never.log", g_dir);
    assert_int_equal(audit_open(false, path), 0);
    audit_event("job_created", "job_id", "x1", NULL);
    assert_int_equal(file_size(path), -1);
    char *js = audit_recent_json(1);
    json_t *arr = json_loads(js, 0, NULL);
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "job_id")), "x1");
    json_decref(arr);
    free(js);
    /* An unwritable path is an error. */
    assert_int_equal(audit_open(true, "/nonexistent-dir/x/audit.log"), -1);
}

#define THREADS 4
#define PER_THREAD 2000

static void *writer(void *p)
{
    int t = (int)(intptr_t)p;
    char big[3000];
    memset(big, 'a' + t, sizeof big - 1);
    big[sizeof big - 1] = 0;
    char n[16];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(n, sizeof n, "%d", i);
        audit_event("load", "thread", (char[]){(char)('0' + t), 0}, "i", n, "payload", big, NULL);
    }
    return NULL;
}

static void test_concurrent_lines_never_interleave(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/concurrent.log", g_dir);
    assert_int_equal(audit_open(true, path), 0);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    audit_close();

    static json_t *lines[THREADS * PER_THREAD];
    int n = read_lines(path, lines, THREADS * PER_THREAD);
    assert_int_equal(n, THREADS * PER_THREAD);
    int per[THREADS] = {0};
    for (int i = 0; i < n; i++) {
        const char *t = json_string_value(json_object_get(lines[i], "thread"));
        const char *payload = json_string_value(json_object_get(lines[i], "payload"));
        assert_non_null(t);
        int ti = t[0] - '0';
        assert_true(ti >= 0 && ti < THREADS);
        assert_int_equal(strlen(payload), 2999);
        assert_int_equal(payload[0], 'a' + ti);
        assert_int_equal(payload[2998], 'a' + ti);
        per[ti]++;
        json_decref(lines[i]);
    }
    for (int i = 0; i < THREADS; i++) assert_int_equal(per[i], PER_THREAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_masked_json_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_newest_first_and_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_lines_never_interleave, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
