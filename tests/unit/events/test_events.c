/* test_events.c — the pure parts of src/events and the outbox in a real SQLite
 * store: Standard Webhooks signatures (the spec's published vector), the SSRF
 * address classifier and URL form check, retry delays, events and deliveries
 * written with the job change, per-destination ordering, endpoint deletion,
 * pruning, and the CLI's SSE parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cli/sse_parse.h"
#include "events/dest_guard.h"
#include "events/log_feed.h"
#include "events/webhook_sign.h"
#include "events/webhooks.h"
#include "store/store.h"
#include "util/util.h"

/* ---- signatures ---- */

static void test_sign_matches_the_spec_vector(void **state)
{
    (void)state;
    /* from the Standard Webhooks reference libraries' tests */
    const char *body = "{\"test\": 2432232314}";
    char sig[64];
    assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                  1614265330, body, strlen(body), sig), 0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* any change of id, time or body changes it */
    char other[64];
    webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
                 strlen(body), other);
    assert_string_not_equal(sig, other);
}

static void test_secrets(void **state)
{
    (void)state;
    char a[80], b[80];
    assert_int_equal(webhook_secret_new(a), 0);
    assert_int_equal(webhook_secret_new(b), 0);
    assert_true(!strncmp(a, "whsec_", 6));
    assert_int_equal(strlen(a), 6 + 44);
    assert_string_not_equal(a, b);
    unsigned char key[64];
    assert_int_equal(webhook_secret_key(a, key, sizeof key), 32);
    assert_int_equal(webhook_secret_key("whsec_", key, sizeof key), -1);
    assert_int_equal(webhook_secret_key("whsec_abc", key, sizeof key), -1);      /* not base64 */
    assert_int_equal(webhook_secret_key("plain-secret-bytes", key, sizeof key), 18);
}

/* ---- the SSRF guard ---- */

static bool private4(const char *ip)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return dest_addr_is_private((struct sockaddr *)&a);
}

static bool private6(const char *ip)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    return dest_addr_is_private((struct sockaddr *)&a);
}

static void test_private_addresses(void **state)
{
    (void)state;
    const char *priv4[] = {"127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1",
                           "169.254.169.254", "0.0.0.0", "100.64.0.1", "224.0.0.1", "255.255.255.255", "198.18.0.1"};
    for (size_t i = 0; i < sizeof priv4 / sizeof *priv4; i++) assert_true(private4(priv4[i]));
    const char *pub4[] = {"8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1", "100.128.0.1", "203.0.113.9"};
    for (size_t i = 0; i < sizeof pub4 / sizeof *pub4; i++) assert_false(private4(pub4[i]));
    const char *priv6[] = {"::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
                           "::ffff:10.1.2.3", "64:ff9b::a00:1", "2002:c0a8:0101::1"};
    for (size_t i = 0; i < sizeof priv6 / sizeof *priv6; i++) assert_true(private6(priv6[i]));
    const char *pub6[] = {"2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8", "2002:0808:0808::1"};
    for (size_t i = 0; i < sizeof pub6 / sizeof *pub6; i++) assert_false(private6(pub6[i]));
}

static void test_url_form(void **state)
{
    (void)state;
    dest_target t;
    char why[256];
    assert_int_equal(dest_check_form("https://example.com/hook", false, &t, why, sizeof why), 0);
    assert_string_equal(t.host, "example.com");
    assert_int_equal(t.port, 443);
    assert_int_equal(dest_check_form("https://[2001:db8::1]:8443/x", false, &t, why, sizeof why), 0);
    assert_string_equal(t.host, "2001:db8::1");
    assert_int_equal(t.port, 8443);
    assert_int_equal(dest_check_form("http://example.com/", false, &t, why, sizeof why), -1);
    assert_non_null(strstr(why, "https"));
    assert_int_equal(dest_check_form("http://example.com/", true, &t, why, sizeof why), 0);
    assert_int_equal(t.port, 80);
    assert_int_equal(dest_check_form("ftp://example.com/", true, &t, why, sizeof why), -1);
    assert_int_equal(dest_check_form("https://user:pw@example.com/", false, &t, why, sizeof why), -1);
    assert_int_equal(dest_check_form("not a url", false, &t, why, sizeof why), -1);
    /* literal private addresses need no DNS to be refused */
    assert_int_equal(dest_check("https://127.0.0.1:9/x", false, &t, why, sizeof why), -1);
    assert_non_null(strstr(why, "private"));
    assert_int_equal(dest_check("https://[::ffff:169.254.169.254]/x", false, &t, why, sizeof why), -1);
    assert_int_equal(dest_check("http://127.0.0.1:9/x", true, &t, why, sizeof why), 0);
    assert_string_equal(t.address, "127.0.0.1");
    assert_string_equal(t.resolve, "127.0.0.1:9:127.0.0.1");
}

static void test_retry_delay(void **state)
{
    (void)state;
    assert_int_equal(webhook_retry_delay_ms(30, 3600, 1, 0.0), 15000);
    assert_int_equal(webhook_retry_delay_ms(30, 3600, 1, 0.999999), 29999);
    assert_int_equal(webhook_retry_delay_ms(30, 3600, 3, 0.0), 60000);          /* 120 s halved */
    assert_int_equal(webhook_retry_delay_ms(30, 3600, 30, 0.0), 1800000);       /* capped at 3600 s */
    assert_int_equal(webhook_retry_delay_ms(0, 3600, 5, 0.5), 0);
    for (int a = 1; a < 40; a++) {
        int64_t d = webhook_retry_delay_ms(30, 3600, a, 0.5);
        assert_true(d > 0 && d <= 3600000);
    }
}

/* ---- the outbox in a real store ---- */

typedef struct fixture {
    char dir[256];
    store *st;
} fixture;

static const char *g_pg_url;      /* --pg: the outbox test on PostgreSQL (tests/peers/pg.py) */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/faxbot-events-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/faxbot.db", f->dir);
    if (g_pg_url) {
        PGconn *db = PQconnectdb(g_pg_url);          /* an empty schema for each test */
        PQclear(PQexec(db, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;"));
        PQfinish(db);
    }
    f->st = g_pg_url ? store_pg_open(g_pg_url, err, sizeof err) : store_sqlite_open(path, err, sizeof err);
    if (!f->st) { fprintf(stderr, "open failed: %s\n", err); return -1; }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static void new_job(job_record *j, const char *cb)
{
    memset(j, 0, sizeof *j);
    new_id_hex32(j->id);
    strcpy(j->to_number, "+15551234567");
    strcpy(j->status, "queued");
    j->pages = -1;
    j->created_at = j->updated_at = now_ms();
    strcpy(j->callback_url, cb);
}

static store_event ev_of(const job_record *j, const char *type, const char *body)
{
    static char id[40];
    char hex[33];
    new_id_hex32(hex);
    snprintf(id, sizeof id, "evt_%s", hex);
    store_event e = {.id = id, .type = type, .job_id = j->id, .inbound_id = "", .owner = "",
                     .callback_url = j->callback_url, .body = body, .created_at = now_ms()};
    return e;
}

static void test_events_and_deliveries_are_written_with_the_change(void **state)
{
    fixture *f = *state;
    char err[256];
    webhook_endpoint all = {.url = "https://a.example/hook", .secret = "whsec_x", .event_types = "*"};
    webhook_endpoint only_done = {.url = "https://b.example/hook", .secret = "whsec_y",
                                  .event_types = "fax.succeeded,fax.failed"};
    strcpy(all.id, "whep_a");
    strcpy(only_done.id, "whep_b");
    all.created_at = only_done.created_at = now_ms();
    assert_int_equal(store_endpoint_insert(f->st, &all, err, sizeof err), STORE_OK);
    assert_int_equal(store_endpoint_insert(f->st, &only_done, err, sizeof err), STORE_OK);

    job_record j;
    new_job(&j, "https://client.example/cb");
    store_event e = ev_of(&j, "fax.queued", "{\"n\":1}");
    assert_int_equal(store_job_insert_ev(f->st, &j, NULL, &e, err, sizeof err), STORE_OK);
    /* a lost optimistic update writes no event */
    job_record next = j;
    strcpy(next.status, "in_progress");
    next.updated_at = j.updated_at + 1;
    store_event e2 = ev_of(&j, "fax.progress", "{\"n\":2}");
    assert_int_equal(store_job_update_if_ev(f->st, &next, "queued", j.updated_at - 5, &e2, err, sizeof err),
                     STORE_CONFLICT);
    assert_int_equal(store_event_last_seq(f->st), 1);
    assert_int_equal(store_job_update_if_ev(f->st, &next, "queued", j.updated_at, &e2, err, sizeof err), STORE_OK);
    job_record done = next;
    strcpy(done.status, "SUCCESS");
    done.updated_at++;
    store_event e3 = ev_of(&j, "fax.succeeded", "{\"n\":3}");
    assert_int_equal(store_job_update_if_ev(f->st, &done, "in_progress", next.updated_at, &e3, err, sizeof err),
                     STORE_OK);

    event_row rows[8];
    int n = store_event_list_after(f->st, 0, 8, rows);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].type, "fax.queued");
    assert_string_equal(rows[2].body, "{\"n\":3}");
    assert_true(rows[0].seq < rows[1].seq && rows[1].seq < rows[2].seq);
    event_rows_free(rows, n);
    assert_int_equal(store_event_list_after(f->st, 2, 8, rows), 1);
    event_rows_free(rows, 1);

    /* callback: 3, endpoint "*": 3, endpoint for finished jobs: 1 */
    delivery_row d[16];
    n = store_delivery_list(f->st, NULL, j.id, 16, d);
    assert_int_equal(n, 7);
    /* due now: the first pending of each destination only (order per job) */
    n = store_delivery_due(f->st, now_ms() + 1, 16, d);
    assert_int_equal(n, 3);
    int cb = -1;
    for (int i = 0; i < n; i++) {
        if (!d[i].endpoint_id[0]) cb = i;
        if (!strcmp(d[i].endpoint_id, "whep_b")) assert_string_equal(d[i].event_type, "fax.succeeded");
        if (!strcmp(d[i].endpoint_id, "whep_a")) assert_string_equal(d[i].secret, "whsec_x");
    }
    assert_true(cb >= 0);
    assert_string_equal(d[cb].event_type, "fax.queued");
    assert_string_equal(d[cb].body, "{\"n\":1}");
    assert_true(!strncmp(d[cb].id, "msg_", 4));
    /* a retry later keeps the queue of that destination waiting */
    delivery_row first = d[cb];
    first.body = NULL;
    delivery_rows_free(d, n);
    first.attempts = 1;
    first.next_attempt_at = now_ms() + 60000;
    first.last_status = 500;
    first.updated_at = now_ms();
    assert_int_equal(store_delivery_update(f->st, &first), STORE_OK);
    n = store_delivery_due(f->st, now_ms() + 1, 16, d);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++) assert_true(d[i].endpoint_id[0] != 0);
    delivery_rows_free(d, n);
    assert_true(store_delivery_next_due(f->st) > 0);
    /* delivered: the next event of that destination is due */
    strcpy(first.status, "delivered");
    assert_int_equal(store_delivery_update(f->st, &first), STORE_OK);
    n = store_delivery_due(f->st, now_ms() + 1, 16, d);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++)
        if (!d[i].endpoint_id[0]) assert_string_equal(d[i].event_type, "fax.progress");
    delivery_rows_free(d, n);

    /* deleting an endpoint fails its pending deliveries and hides it */
    assert_int_equal(store_endpoint_delete(f->st, "whep_a", now_ms()), STORE_OK);
    assert_int_equal(store_endpoint_delete(f->st, "whep_a", now_ms()), STORE_NOT_FOUND);
    webhook_endpoint *eps = NULL;
    assert_int_equal(store_endpoint_list(f->st, &eps), 1);
    assert_string_equal(eps[0].id, "whep_b");
    free(eps);
    n = store_delivery_list(f->st, "whep_a", NULL, 16, d);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++) assert_string_equal(d[i].status, "failed");

    /* pruning keeps what a pending delivery still needs */
    int pruned = store_event_prune(f->st, now_ms() + 1000);
    assert_true(pruned >= 0);
    n = store_event_list_after(f->st, 0, 8, rows);
    assert_true(n >= 1);          /* the callback's progress and succeeded deliveries are pending */
    event_rows_free(rows, n);
    /* once nothing needs them, old events go, but never the newest: seq never repeats */
    int64_t last = store_event_last_seq(f->st);
    n = store_delivery_list(f->st, NULL, j.id, 16, d);
    for (int i = 0; i < n; i++) {
        strcpy(d[i].status, "delivered");
        assert_int_equal(store_delivery_update(f->st, &d[i]), STORE_OK);
    }
    assert_true(store_event_prune(f->st, now_ms() + 1000) >= 1);
    assert_int_equal(store_event_last_seq(f->st), last);
    job_record again;
    new_job(&again, "");
    store_event e4 = ev_of(&again, "fax.queued", "{\"n\":4}");
    assert_int_equal(store_job_insert_ev(f->st, &again, NULL, &e4, err, sizeof err), STORE_OK);
    assert_int_equal(store_event_last_seq(f->st), last + 1);
}

/* ---- the CLI's SSE parser ---- */

typedef struct seen {
    char log[1024];
} seen;

static void on_ev(void *ctx, const char *id, const char *event, const char *data)
{
    seen *s = ctx;
    size_t l = strlen(s->log);
    snprintf(s->log + l, sizeof s->log - l, "[%s|%s|%s]", id, event, data);
}

static void test_sse_parser(void **state)
{
    (void)state;
    seen s = {""};
    sse_parser p;
    sse_parser_init(&p, on_ev, &s);
    const char *stream = "retry: 3000\n: comment\n\nid: 1\nevent: fax.queued\ndata: {\"a\":1}\n\n"
                         "id: 2\r\nevent: fax.progress\r\ndata: x\r\ndata: y\r\n\r\n"
                         "data:no-space\r\rid: 3\ndata: z\n";
    /* byte by byte: any split of the input gives the same events */
    for (const char *c = stream; *c; c++) sse_parser_feed(&p, c, 1);
    assert_string_equal(s.log, "[1|fax.queued|{\"a\":1}][2|fax.progress|x\ny][2|message|no-space]");
    sse_parser_feed(&p, "\n", 1);
    assert_string_equal(s.log, "[1|fax.queued|{\"a\":1}][2|fax.progress|x\ny][2|message|no-space][3|message|z]");
    sse_parser_free(&p);
}

/* The live log's JSON: log lines are gateway or pbx by what they are about; audit
 * events keep their name and fields, warnings by their name. */
static void test_log_feed_entries(void **state)
{
    (void)state;
    log_tap_entry e = {.seq = 7, .ts_ms = 1765046400000LL, .source = "log", .level = "info"};
    str_copy(e.text, sizeof e.text, "sip job 1f attempt 1: delivered");
    char *j = log_feed_entry_json(&e);
    assert_non_null(strstr(j, "\"source\":\"pbx\""));
    assert_non_null(strstr(j, "\"seq\":7"));
    free(j);
    str_copy(e.text, sizeof e.text, "freeswitch: reconciled 2 open call(s)");
    j = log_feed_entry_json(&e);
    assert_non_null(strstr(j, "\"source\":\"pbx\""));
    free(j);
    str_copy(e.text, sizeof e.text, "job 1f: queued -> in_progress (claim)");
    j = log_feed_entry_json(&e);
    assert_non_null(strstr(j, "\"source\":\"gateway\""));
    free(j);
    str_copy(e.source, sizeof e.source, "audit");
    str_copy(e.text, sizeof e.text, "{\"event\":\"auth_failed\",\"ts\":\"x\",\"path\":\"/fax\",\"reason\":\"unknown key\"}");
    j = log_feed_entry_json(&e);
    assert_non_null(strstr(j, "\"source\":\"audit\""));
    assert_non_null(strstr(j, "\"level\":\"warn\""));
    assert_non_null(strstr(j, "\"event\":\"auth_failed\""));
    assert_non_null(strstr(j, "\"message\":\"auth_failed path=/fax reason=unknown key\""));
    assert_non_null(strstr(j, "\"fields\":{\"path\":\"/fax\",\"reason\":\"unknown key\"}"));
    free(j);
    /* a line cut inside a UTF-8 character is still an entry */
    str_copy(e.source, sizeof e.source, "log");
    str_copy(e.text, sizeof e.text, "cut \xc3");
    j = log_feed_entry_json(&e);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"message\":"));
    free(j);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--pg")) {
        g_pg_url = getenv("FAXBOT_TEST_PG_URL");
        if (!g_pg_url) {
            fprintf(stderr, "--pg needs FAXBOT_TEST_PG_URL: run it through tests/peers/pg.py run -- …\n");
            return 1;
        }
        const struct CMUnitTest on_pg[] = {
            cmocka_unit_test_setup_teardown(test_events_and_deliveries_are_written_with_the_change, setup, teardown),
        };
        return cmocka_run_group_tests_name("the outbox on PostgreSQL", on_pg, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_matches_the_spec_vector),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_private_addresses),
        cmocka_unit_test(test_url_form),
        cmocka_unit_test(test_retry_delay),
        cmocka_unit_test_setup_teardown(test_events_and_deliveries_are_written_with_the_change, setup, teardown),
        cmocka_unit_test(test_sse_parser),
        cmocka_unit_test(test_log_feed_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
