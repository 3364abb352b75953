/* test_store.c — the store against a real database: SQLite in a scratch directory,
 * or (with --pg, run by tests/peers/pg.py with FAXBOT_TEST_PG_URL) a real
 * PostgreSQL 15, each test on an empty schema. Both: every job field round-trips,
 * idempotency, optimistic updates, keyset pagination, scheduler queries, counts,
 * API keys, concurrent writers, reopening, inbound faxes, artifact expiry, a killed
 * writer's acknowledged jobs. SQLite: file permissions, WAL, a newer schema, named
 * leases always this node's. PostgreSQL: a newer schema, migrations applied once by
 * three processes starting together, two nodes never handed the same due job, a dead
 * node's lease taken over (and a live one's not), named leases one holder at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/store.h"
#include "util/util.h"

typedef struct fixture {
    char dir[256];
    char path[1024];             /* the SQLite file, or the PostgreSQL URL */
    store *st;
} fixture;

static bool g_pg;                /* --pg: every test on PostgreSQL */

/* Runs SQL on the test database (PostgreSQL); 0 or -1. */
static int pg_exec(const char *url, const char *sql)
{
    PGconn *db = PQconnectdb(url);
    int rc = -1;
    if (PQstatus(db) == CONNECTION_OK) {
        PQclear(PQexec(db, "SET client_min_messages = warning"));
        PGresult *r = PQexec(db, sql);
        ExecStatusType s = PQresultStatus(r);
        rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
        if (rc) fprintf(stderr, "pg_exec: %s", PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stderr, "pg_exec: %s", PQerrorMessage(db));
    }
    PQfinish(db);
    return rc;
}

/* The first column of the first row of a query, as a number (-1 on failure). */
static long long pg_value(const char *url, const char *sql)
{
    PGconn *db = PQconnectdb(url);
    long long v = -1;
    if (PQstatus(db) == CONNECTION_OK) {
        PGresult *r = PQexec(db, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(db);
    return v;
}

static store *open_store(const char *path, char *err, size_t errlen)
{
    return g_pg ? store_pg_open(path, err, errlen) : store_sqlite_open(path, err, errlen);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/faxbot-store-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    if (g_pg) {
        snprintf(f->path, sizeof f->path, "%s", getenv("FAXBOT_TEST_PG_URL"));
        /* every test starts from an empty database */
        if (pg_exec(f->path, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")) return -1;
    } else {
        /* A nested, not yet existing directory: the store creates it 0700. */
        snprintf(f->path, sizeof f->path, "%s/db/faxbot.db", f->dir);
    }
    char err[256] = "";
    f->st = open_store(f->path, err, sizeof err);
    if (!f->st) {
        fprintf(stderr, "open failed: %s\n", err);
        return -1;
    }
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

/* A job with every field set to something distinct and non-default. */
static void make_job(job_record *j, int i, int64_t created_at)
{
    memset(j, 0, sizeof *j);
    new_id_hex32(j->id);
    snprintf(j->to_number, sizeof j->to_number, "+1555000%04d", i % 10000);
    strcpy(j->status, "queued");
    snprintf(j->error, sizeof j->error, "error text %d with 'quotes' and \"dq\" and ünïcödé", i);
    strcpy(j->failure_reason, "busy");
    j->pages = 3 + i;
    strcpy(j->backend, "phaxio");
    snprintf(j->provider_sid, sizeof j->provider_sid, "sid-%d", i);
    j->created_at = created_at;
    j->updated_at = created_at + 7;
    j->attempts = 2;
    j->max_attempts = 5;
    j->next_attempt_at = created_at + 1000;
    j->lease_until = created_at + 2000;
    j->submitted_at = created_at + 3000;
    strcpy(j->doc_type, "pdf");
    j->doc_size = 123456789012LL;
    snprintf(j->file_name, sizeof j->file_name, "file %d.pdf", i);
    strcpy(j->resolution, "standard");
    strcpy(j->header_text, "ACME Header");
    strcpy(j->caller_id, "+15559990000");
    strcpy(j->callback_url, "https://example.test/cb?x=1&y=2");
    strcpy(j->api_key_id, "0123456789ab");
    j->idempotency_key[0] = 0;
    sha256_hex("tok", 3, j->pdf_token_hash);
    j->pdf_token_expires_at = created_at + 99999;
    j->cancel_requested = true;
    j->duration_s = 12.375 + i;
    j->bit_rate = 14400;
    j->ecm = 1;
    strcpy(j->remote_station_id, "REMOTE 1");
    new_id_hex32(j->inbound_id);
}

static void assert_job_equal(const job_record *a, const job_record *b)
{
#define S(f) assert_string_equal(a->f, b->f)
#define I(f) assert_true(a->f == b->f)
    S(id); S(to_number); S(status); S(error); S(failure_reason); I(pages); S(backend); S(provider_sid);
    I(created_at); I(updated_at); I(attempts); I(max_attempts); I(next_attempt_at); I(lease_until);
    I(submitted_at); S(doc_type); I(doc_size); S(file_name); S(resolution); S(header_text); S(caller_id);
    S(callback_url); S(api_key_id); S(idempotency_key); S(pdf_token_hash); I(pdf_token_expires_at);
    I(cancel_requested); I(duration_s); I(bit_rate); I(ecm); S(remote_station_id); S(inbound_id);
#undef S
#undef I
}

static void test_open_creates_private_files_and_wal(void **state)
{
    fixture *f = *state;
    struct stat st;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/db", f->dir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char err[128];
    assert_int_equal(store_ping(f->st, err, sizeof err), STORE_OK);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 9);
    sqlite3_finalize(s);
    sqlite3_close(db);

    /* Bad paths are refused with a message. */
    err[0] = 0;
    assert_null(store_sqlite_open(":memory:", err, sizeof err));
    assert_true(strlen(err) > 0);
    err[0] = 0;
    assert_null(store_sqlite_open("/proc/definitely/not/here.db", err, sizeof err));
    assert_true(strlen(err) > 0);
}

static void test_job_roundtrip_every_field(void **state)
{
    fixture *f = *state;
    job_record j, got;
    make_job(&j, 1, 1700000000123LL);
    char err[256];
    assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    assert_int_equal(store_job_get(f->st, j.id, &got), STORE_OK);
    assert_job_equal(&j, &got);

    /* Defaults and negatives survive too: unknown pages/results, no flags. */
    job_record k;
    make_job(&k, 2, 1700000000124LL);
    k.pages = -1; k.duration_s = -1; k.bit_rate = -1; k.ecm = -1; k.cancel_requested = false;
    k.lease_until = 0; k.error[0] = 0;
    /* Maximum-length strings are kept whole. */
    memset(k.callback_url, 'u', sizeof k.callback_url - 1);
    k.callback_url[sizeof k.callback_url - 1] = 0;
    memset(k.idempotency_key, 'k', sizeof k.idempotency_key - 1);
    k.idempotency_key[sizeof k.idempotency_key - 1] = 0;
    assert_int_equal(store_job_insert(f->st, &k, NULL, err, sizeof err), STORE_OK);
    assert_int_equal(store_job_get(f->st, k.id, &got), STORE_OK);
    assert_job_equal(&k, &got);

    assert_int_equal(store_job_get(f->st, "00000000000000000000000000000000", &got), STORE_NOT_FOUND);
    /* The same id twice is an error, not an idempotent replay. */
    assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_ERROR);
    assert_non_null(strstr(err, "already exists"));
}

static void test_idempotency_conflict_returns_original(void **state)
{
    fixture *f = *state;
    job_record a, b, existing;
    char err[256];
    make_job(&a, 1, 1000);
    strcpy(a.idempotency_key, "idem-1");
    assert_int_equal(store_job_insert(f->st, &a, NULL, err, sizeof err), STORE_OK);

    make_job(&b, 2, 2000);
    strcpy(b.idempotency_key, "idem-1");
    memset(&existing, 0, sizeof existing);
    assert_int_equal(store_job_insert(f->st, &b, &existing, err, sizeof err), STORE_CONFLICT);
    assert_job_equal(&a, &existing);
    job_record got;
    assert_int_equal(store_job_get(f->st, b.id, &got), STORE_NOT_FOUND);

    /* Same idempotency key under another API key is a different job. */
    strcpy(b.api_key_id, "ffffffffffff");
    assert_int_equal(store_job_insert(f->st, &b, &existing, err, sizeof err), STORE_OK);
    /* Jobs without an idempotency key never conflict with each other. */
    job_record c, d;
    make_job(&c, 3, 3000);
    make_job(&d, 4, 3000);
    assert_int_equal(store_job_insert(f->st, &c, NULL, err, sizeof err), STORE_OK);
    assert_int_equal(store_job_insert(f->st, &d, NULL, err, sizeof err), STORE_OK);
    /* existing may be NULL. */
    make_job(&c, 5, 4000);
    strcpy(c.idempotency_key, "idem-1");
    assert_int_equal(store_job_insert(f->st, &c, NULL, err, sizeof err), STORE_CONFLICT);
}

static void test_update_if_optimistic_lock(void **state)
{
    fixture *f = *state;
    job_record j, got;
    char err[256];
    make_job(&j, 1, 5000);
    assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);

    job_record upd = j;
    strcpy(upd.status, "in_progress");
    upd.updated_at = j.updated_at + 100;
    upd.attempts = 3;
    upd.lease_until = 99999;
    strcpy(upd.error, "");
    upd.cancel_requested = false;
    upd.duration_s = 1.5;
    assert_int_equal(store_job_update_if(f->st, &upd, "queued", j.updated_at, err, sizeof err), STORE_OK);
    assert_int_equal(store_job_get(f->st, j.id, &got), STORE_OK);
    assert_job_equal(&upd, &got);

    /* Stale status: conflict, nothing changes. */
    job_record stale = upd;
    strcpy(stale.status, "SUCCESS");
    stale.updated_at += 1;
    assert_int_equal(store_job_update_if(f->st, &stale, "queued", upd.updated_at, err, sizeof err), STORE_CONFLICT);
    /* Stale updated_at: conflict. */
    assert_int_equal(store_job_update_if(f->st, &stale, "in_progress", j.updated_at, err, sizeof err),
                     STORE_CONFLICT);
    assert_int_equal(store_job_get(f->st, j.id, &got), STORE_OK);
    assert_job_equal(&upd, &got);
    /* Correct expectations win. */
    assert_int_equal(store_job_update_if(f->st, &stale, "in_progress", upd.updated_at, err, sizeof err), STORE_OK);
    assert_int_equal(store_job_get(f->st, j.id, &got), STORE_OK);
    assert_string_equal(got.status, "SUCCESS");

    /* Unknown id: not found. */
    job_record ghost = upd;
    new_id_hex32(ghost.id);
    assert_int_equal(store_job_update_if(f->st, &ghost, "queued", 0, err, sizeof err), STORE_NOT_FOUND);
}

static void test_list_pagination_with_filter(void **state)
{
    fixture *f = *state;
    char err[256];
    /* 25 jobs to +1555 0000001, 10 to another number; created_at has ties (5 per ms). */
    job_record j;
    int failed = 0, failed_to2 = 0;
    for (int i = 0; i < 35; i++) {
        make_job(&j, i < 25 ? 1 : 2, 10000 + i / 5);
        if (i % 3 == 0) {
            strcpy(j.status, "FAILED");
            failed++;
            if (i >= 25) failed_to2++;
        }
        assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    }
    job_record page[10];
    job_filter flt = {0};
    flt.to_number = "+15550000001";
    flt.limit = 10;
    char seen[25][33];
    int total = 0;
    for (int p = 0; p < 4; p++) {
        int n = store_job_list(f->st, &flt, page);
        assert_true(n >= 0);
        if (p < 2) assert_int_equal(n, 10);
        if (p == 2) assert_int_equal(n, 5);
        if (p == 3) assert_int_equal(n, 0);
        for (int i = 0; i < n; i++) {
            assert_string_equal(page[i].to_number, "+15550000001");
            /* newest first, ties by id descending */
            if (i > 0) {
                assert_true(page[i - 1].created_at > page[i].created_at ||
                            (page[i - 1].created_at == page[i].created_at && strcmp(page[i - 1].id, page[i].id) > 0));
            }
            for (int k = 0; k < total; k++) assert_string_not_equal(seen[k], page[i].id);
            strcpy(seen[total++], page[i].id);
        }
        if (n) {
            flt.before_created_at = page[n - 1].created_at;
            strcpy(flt.before_id, page[n - 1].id);
        }
    }
    assert_int_equal(total, 25);

    /* Status filter, combined with number filter. */
    job_filter sf = {0};
    sf.status = "FAILED";
    sf.limit = 500;
    job_record *all = calloc(500, sizeof *all);
    int nf = store_job_list(f->st, &sf, all);
    assert_int_equal(nf, failed);
    for (int i = 0; i < nf; i++) assert_string_equal(all[i].status, "FAILED");
    sf.to_number = "+15550000002";
    nf = store_job_list(f->st, &sf, all);
    assert_int_equal(nf, failed_to2);
    for (int i = 0; i < nf; i++) assert_string_equal(all[i].to_number, "+15550000002");
    free(all);
}

static void test_limit_is_clamped(void **state)
{
    fixture *f = *state;
    char err[256];
    job_record j;
    for (int i = 0; i < 3; i++) {
        make_job(&j, i, 100 + i);
        assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    }
    job_record out[3];
    job_filter flt = {0};
    flt.limit = 0;
    assert_int_equal(store_job_list(f->st, &flt, out), 1);
    assert_int_equal(out[0].created_at, 102);
    flt.limit = -7;
    assert_int_equal(store_job_list(f->st, &flt, out), 1);
}

static void test_due_lease_next_due_counts(void **state)
{
    fixture *f = *state;
    char err[256];
    assert_int_equal(store_job_next_due(f->st), 0);
    job_record j;
    /* queued, due at 500, 300, 900; in_progress with leases 100, 700, 0 (none); a SUCCESS. */
    const int64_t due[] = {500, 300, 900};
    char due_ids[3][33];
    for (int i = 0; i < 3; i++) {
        make_job(&j, i, 10);
        j.next_attempt_at = due[i];
        strcpy(due_ids[i], j.id);
        assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    }
    const int64_t lease[] = {100, 700, 0};
    char lease_ids[3][33];
    for (int i = 0; i < 3; i++) {
        make_job(&j, i, 10);
        strcpy(j.status, "in_progress");
        j.next_attempt_at = 1;   /* must not matter for in_progress */
        j.lease_until = lease[i];
        strcpy(lease_ids[i], j.id);
        assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    }
    make_job(&j, 9, 10);
    strcpy(j.status, "SUCCESS");
    j.next_attempt_at = 1;
    assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);

    char ids[10][33];
    assert_int_equal(store_job_due(f->st, 200, ids, 10), 0);
    assert_int_equal(store_job_due(f->st, 500, ids, 10), 2);
    assert_string_equal(ids[0], due_ids[1]);   /* oldest due first */
    assert_string_equal(ids[1], due_ids[0]);
    assert_int_equal(store_job_due(f->st, 10000, ids, 10), 3);
    assert_int_equal(store_job_due(f->st, 10000, ids, 1), 1);
    assert_string_equal(ids[0], due_ids[1]);
    assert_int_equal(store_job_due(f->st, 10000, ids, 0), 0);

    assert_int_equal(store_job_lease_expired(f->st, 100, ids, 10), 0);  /* strictly before now */
    assert_int_equal(store_job_lease_expired(f->st, 101, ids, 10), 1);
    assert_string_equal(ids[0], lease_ids[0]);
    assert_int_equal(store_job_lease_expired(f->st, 100000, ids, 10), 2); /* lease 0 = not held, skipped */
    assert_string_equal(ids[1], lease_ids[1]);

    assert_int_equal(store_job_next_due(f->st), 300);

    const char *const statuses[] = {"queued", "in_progress", "SUCCESS", "FAILED", "cancelled"};
    int64_t counts[5] = {-1, -1, -1, -1, -1};
    assert_int_equal(store_job_count_by_status(f->st, statuses, 5, counts), STORE_OK);
    assert_int_equal(counts[0], 3);
    assert_int_equal(counts[1], 3);
    assert_int_equal(counts[2], 1);
    assert_int_equal(counts[3], 0);
    assert_int_equal(counts[4], 0);
}

static void make_key(key_record *k, const char *id, int64_t created)
{
    memset(k, 0, sizeof *k);
    strcpy(k->key_id, id);
    sha256_hex(id, strlen(id), k->key_hash);
    snprintf(k->name, sizeof k->name, "name of %s", id);
    strcpy(k->owner, "ops@example.test");
    strcpy(k->scopes, "fax:send,fax:read");
    strcpy(k->note, "a note");
    k->created_at = created;
    k->expires_at = created + 86400000;
}

static void test_keys(void **state)
{
    fixture *f = *state;
    char err[256];
    key_record a, b, got;
    key_record *list = NULL;
    assert_int_equal(store_key_list(f->st, &list), 0);
    free(list);
    make_key(&a, "aaaaaaaaaaaa", 1000);
    make_key(&b, "bbbbbbbbbbbb", 2000);
    assert_int_equal(store_key_insert(f->st, &a, err, sizeof err), STORE_OK);
    assert_int_equal(store_key_insert(f->st, &b, err, sizeof err), STORE_OK);
    assert_int_equal(store_key_insert(f->st, &a, err, sizeof err), STORE_CONFLICT);

    assert_int_equal(store_key_get(f->st, "aaaaaaaaaaaa", &got), STORE_OK);
    assert_string_equal(got.key_id, a.key_id);
    assert_string_equal(got.key_hash, a.key_hash);
    assert_string_equal(got.name, a.name);
    assert_string_equal(got.owner, a.owner);
    assert_string_equal(got.scopes, a.scopes);
    assert_string_equal(got.note, a.note);
    assert_true(got.created_at == 1000 && got.expires_at == a.expires_at);
    assert_true(got.last_used_at == 0 && got.revoked_at == 0);
    assert_int_equal(store_key_get(f->st, "cccccccccccc", &got), STORE_NOT_FOUND);

    assert_int_equal(store_key_list(f->st, &list), 2);
    assert_string_equal(list[0].key_id, "bbbbbbbbbbbb");   /* newest first */
    assert_string_equal(list[1].key_id, "aaaaaaaaaaaa");
    free(list);

    /* revoke: sets once, idempotent, unknown key is not found */
    assert_int_equal(store_key_revoke(f->st, "aaaaaaaaaaaa", 5000), STORE_OK);
    assert_int_equal(store_key_revoke(f->st, "aaaaaaaaaaaa", 6000), STORE_OK);
    assert_int_equal(store_key_get(f->st, "aaaaaaaaaaaa", &got), STORE_OK);
    assert_true(got.revoked_at == 5000);
    assert_int_equal(store_key_revoke(f->st, "cccccccccccc", 5000), STORE_NOT_FOUND);

    /* set_hash */
    char nh[65];
    sha256_hex("new", 3, nh);
    assert_int_equal(store_key_set_hash(f->st, "bbbbbbbbbbbb", nh), STORE_OK);
    assert_int_equal(store_key_get(f->st, "bbbbbbbbbbbb", &got), STORE_OK);
    assert_string_equal(got.key_hash, nh);
    assert_int_equal(store_key_set_hash(f->st, "cccccccccccc", nh), STORE_NOT_FOUND);

    /* touch: records use, coalesces within a minute, 0 clears */
    assert_int_equal(store_key_touch(f->st, "bbbbbbbbbbbb", 100000), STORE_OK);
    assert_int_equal(store_key_get(f->st, "bbbbbbbbbbbb", &got), STORE_OK);
    assert_true(got.last_used_at == 100000);
    assert_int_equal(store_key_touch(f->st, "bbbbbbbbbbbb", 130000), STORE_OK);
    assert_int_equal(store_key_get(f->st, "bbbbbbbbbbbb", &got), STORE_OK);
    assert_true(got.last_used_at == 100000);
    assert_int_equal(store_key_touch(f->st, "bbbbbbbbbbbb", 160000), STORE_OK);
    assert_int_equal(store_key_get(f->st, "bbbbbbbbbbbb", &got), STORE_OK);
    assert_true(got.last_used_at == 160000);
    assert_int_equal(store_key_touch(f->st, "bbbbbbbbbbbb", 0), STORE_OK);
    assert_int_equal(store_key_get(f->st, "bbbbbbbbbbbb", &got), STORE_OK);
    assert_true(got.last_used_at == 0);
    assert_int_equal(store_key_touch(f->st, "cccccccccccc", 1), STORE_NOT_FOUND);
}

#define THREADS 4
#define PER_THREAD 250

typedef struct {
    store *st;
    int errors;
    char ids[PER_THREAD][33];
} ins_arg;

static void *inserter(void *p)
{
    ins_arg *a = p;
    char err[256];
    for (int i = 0; i < PER_THREAD; i++) {
        job_record j;
        make_job(&j, i, now_ms());
        if (i % 2) snprintf(j.idempotency_key, sizeof j.idempotency_key, "t%p-%d", p, i);
        strcpy(a->ids[i], j.id);
        if (store_job_insert(a->st, &j, NULL, err, sizeof err) != STORE_OK) a->errors++;
        job_record got;
        if (store_job_get(a->st, j.id, &got) != STORE_OK) a->errors++;
    }
    return NULL;
}

static void test_concurrent_inserts(void **state)
{
    fixture *f = *state;
    pthread_t th[THREADS];
    ins_arg *args = calloc(THREADS, sizeof *args);
    for (int i = 0; i < THREADS; i++) {
        args[i].st = f->st;
        pthread_create(&th[i], NULL, inserter, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(args[i].errors, 0);
        for (int k = 0; k < PER_THREAD; k++) assert_int_equal(store_job_get(f->st, args[i].ids[k], NULL), STORE_OK);
    }
    const char *const statuses[] = {"queued"};
    int64_t n = 0;
    assert_int_equal(store_job_count_by_status(f->st, statuses, 1, &n), STORE_OK);
    assert_int_equal(n, THREADS * PER_THREAD);
    free(args);
}

static void test_reopen_keeps_data(void **state)
{
    fixture *f = *state;
    char err[256];
    job_record j, got;
    make_job(&j, 7, 424242);
    assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    key_record k;
    make_key(&k, "abcdefabcdef", 1);
    assert_int_equal(store_key_insert(f->st, &k, err, sizeof err), STORE_OK);
    store_close(f->st);
    f->st = open_store(f->path, err, sizeof err);
    assert_non_null(f->st);
    assert_int_equal(store_job_get(f->st, j.id, &got), STORE_OK);
    assert_job_equal(&j, &got);
    key_record kg;
    assert_int_equal(store_key_get(f->st, "abcdefabcdef", &kg), STORE_OK);
    assert_string_equal(kg.key_hash, k.key_hash);
}

static void test_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    char restore[64];
    snprintf(restore, sizeof restore, "PRAGMA user_version = %d", sqlite3_column_int(q, 0));
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char err[256] = "";
    assert_null(store_sqlite_open(f->path, err, sizeof err));
    assert_non_null(strstr(err, "version 99"));
    /* Put it back so teardown has a store to close. */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, restore, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    f->st = store_sqlite_open(f->path, err, sizeof err);
    assert_non_null(f->st);
}

/* A child process inserts jobs and reports each acknowledged id through a pipe;
 * after 200 acknowledgements it is killed with SIGKILL mid-stream. Every
 * acknowledged job must be in the database when it is opened again. */
static void test_acknowledged_jobs_survive_kill9(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char err[256];
        store *st = open_store(f->path, err, sizeof err);
        if (!st) _exit(2);
        for (int i = 0;; i++) {
            job_record j;
            make_job(&j, i, 1000 + i);
            if (store_job_insert(st, &j, NULL, err, sizeof err) != STORE_OK) _exit(3);
            if (write(fds[1], j.id, 32) != 32) _exit(4);
        }
    }
    close(fds[1]);
    static char acked[200][33];
    int n = 0;
    while (n < 200) {
        size_t got = 0;
        while (got < 32) {
            ssize_t r = read(fds[0], acked[n] + got, 32 - got);
            assert_true(r > 0);
            got += (size_t)r;
        }
        acked[n][32] = 0;
        n++;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    assert_true(WIFSIGNALED(status));

    char err[256];
    f->st = open_store(f->path, err, sizeof err);
    assert_non_null(f->st);
    for (int i = 0; i < n; i++) assert_int_equal(store_job_get(f->st, acked[i], NULL), STORE_OK);
}


static void make_inbound(inbound_record *r, int i, int64_t received_at)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%032x", 0xb0000 + i);
    snprintf(r->to_number, sizeof r->to_number, "+1555000%04d", i % 2);
    str_copy(r->from_number, sizeof r->from_number, "+15557654321");
    str_copy(r->status, sizeof r->status, "received");
    str_copy(r->backend, sizeof r->backend, "loopback");
    snprintf(r->provider_sid, sizeof r->provider_sid, "loopback-%d", i);
    r->pages = 2;
    r->size_bytes = 1234 + i;
    str_copy(r->sha256, sizeof r->sha256, "ab");
    str_copy(r->remote_station_id, sizeof r->remote_station_id, "REMOTE");
    r->created_at = r->received_at = r->updated_at = received_at;
    r->retention_until = received_at + 1000;
}

static void test_inbound_insert_dedup_list_expire(void **state)
{
    fixture *f = *state;
    inbound_record r, got, existing;
    char err[256];
    for (int i = 0; i < 5; i++) {
        make_inbound(&r, i, 1000 + i);
        assert_int_equal(store_inbound_insert(f->st, &r, &existing, err, sizeof err), STORE_OK);
    }
    assert_int_equal(store_inbound_get(f->st, r.id, &got), STORE_OK);
    assert_string_equal(got.provider_sid, "loopback-4");
    assert_int_equal(got.pages, 2);
    assert_int_equal(got.size_bytes, 1238);
    assert_string_equal(got.remote_station_id, "REMOTE");

    /* The same delivery again (same backend + provider id, new row id): no second fax. */
    make_inbound(&r, 2, 5000);
    snprintf(r.id, sizeof r.id, "%032x", 0xcccc);
    assert_int_equal(store_inbound_insert(f->st, &r, &existing, err, sizeof err), STORE_CONFLICT);
    assert_string_equal(existing.provider_sid, "loopback-2");
    assert_int_equal(store_inbound_get(f->st, r.id, &got), STORE_NOT_FOUND);

    inbound_record page[10];
    inbound_filter flt = {.limit = 2};
    assert_int_equal(store_inbound_list(f->st, &flt, page), 2);
    assert_int_equal(page[0].received_at, 1004);
    flt.before_received_at = page[1].received_at;
    str_copy(flt.before_id, sizeof flt.before_id, page[1].id);
    flt.limit = 10;
    assert_int_equal(store_inbound_list(f->st, &flt, page), 3);
    inbound_filter by_to = {.limit = 10, .to_number = "+15550000001"};
    assert_int_equal(store_inbound_list(f->st, &by_to, page), 2);
    inbound_filter by_box = {.limit = 10, .mailbox = "nobody"};
    assert_int_equal(store_inbound_list(f->st, &by_box, page), 0);

    char ids[10][33];
    assert_int_equal(store_inbound_expired(f->st, 2002, ids, 10), 2);   /* retention_until 2000, 2001 */
    assert_int_equal(store_inbound_mark_artifacts_deleted(f->st, ids[0], 3000), STORE_OK);
    assert_int_equal(store_inbound_expired(f->st, 2002, ids, 10), 1);
    assert_int_equal(store_inbound_mark_artifacts_deleted(f->st, "nope", 3000), STORE_NOT_FOUND);
}

static void test_job_artifact_expiry(void **state)
{
    fixture *f = *state;
    job_record j;
    char err[256];
    for (int i = 0; i < 3; i++) {
        make_job(&j, i, 1000 + i);
        str_copy(j.idempotency_key, sizeof j.idempotency_key, "");
        str_copy(j.status, sizeof j.status, i == 2 ? "queued" : "SUCCESS");
        j.updated_at = 1000 + i;
        assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    }
    char ids[10][33];
    assert_int_equal(store_job_artifacts_expired(f->st, 5000, ids, 10), 2);   /* the queued one is never expired */
    char marked[33];
    str_copy(marked, sizeof marked, ids[0]);
    assert_int_equal(store_job_mark_artifacts_deleted(f->st, marked, 6000), STORE_OK);
    assert_int_equal(store_job_artifacts_expired(f->st, 5000, ids, 10), 1);
    job_record got;
    assert_int_equal(store_job_get(f->st, marked, &got), STORE_OK);
    assert_int_equal(got.artifacts_deleted_at, 6000);
    assert_string_equal(got.status, "SUCCESS");
}

/* The Inbox's read marks: set, kept, cleared; counted per owner; the unread filter. */
static void test_inbound_read_marks(void **state)
{
    fixture *f = *state;
    inbound_record r, got, existing;
    char err[256], ids[3][33];
    for (int i = 0; i < 3; i++) {
        make_inbound(&r, i, 1000 + i);
        if (i == 2) str_copy(r.owner, sizeof r.owner, "other");
        assert_int_equal(store_inbound_insert(f->st, &r, &existing, err, sizeof err), STORE_OK);
        str_copy(ids[i], sizeof ids[i], r.id);
    }
    assert_int_equal(store_inbound_unread_count(f->st, NULL), 3);
    assert_int_equal(store_inbound_unread_count(f->st, "mine"), 2);      /* nobody's two, not other's */
    assert_int_equal(store_inbound_set_read(f->st, ids[0], 7000), STORE_OK);
    assert_int_equal(store_inbound_get(f->st, ids[0], &got), STORE_OK);
    assert_int_equal(got.read_at, 7000);
    assert_int_equal(store_inbound_unread_count(f->st, NULL), 2);
    inbound_record page[5];
    inbound_filter unread = {.limit = 5, .unread_only = true};
    assert_int_equal(store_inbound_list(f->st, &unread, page), 2);
    for (int i = 0; i < 2; i++) assert_string_not_equal(page[i].id, ids[0]);
    assert_int_equal(store_inbound_set_read(f->st, ids[0], 0), STORE_OK);
    assert_int_equal(store_inbound_unread_count(f->st, NULL), 3);
    assert_int_equal(store_inbound_set_read(f->st, "nope", 1), STORE_NOT_FOUND);
    /* a fax whose files were deleted is not waiting to be read */
    assert_int_equal(store_inbound_mark_artifacts_deleted(f->st, ids[1], 8000), STORE_OK);
    assert_int_equal(store_inbound_unread_count(f->st, NULL), 2);
}

/* GET /fax's backend and date filters, with paging inside the range. */
static void test_job_list_backend_and_dates(void **state)
{
    fixture *f = *state;
    char err[256];
    job_record j;
    for (int i = 0; i < 6; i++) {
        make_job(&j, i, 1000 + i * 100);                 /* 1000, 1100, … 1500 */
        if (i % 2) strcpy(j.backend, "sip");
        assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    }
    job_record out[10];
    job_filter flt = {.limit = 10, .backend = "sip"};
    assert_int_equal(store_job_list(f->st, &flt, out), 3);
    for (int i = 0; i < 3; i++) assert_string_equal(out[i].backend, "sip");
    job_filter range = {.limit = 10, .created_from = 1100, .created_to = 1400};   /* 1100, 1200, 1300 */
    assert_int_equal(store_job_list(f->st, &range, out), 3);
    assert_int_equal(out[0].created_at, 1300);
    assert_int_equal(out[2].created_at, 1100);
    range.limit = 2;
    assert_int_equal(store_job_list(f->st, &range, out), 2);
    range.before_created_at = out[1].created_at;
    str_copy(range.before_id, sizeof range.before_id, out[1].id);
    assert_int_equal(store_job_list(f->st, &range, out), 1);
    assert_int_equal(out[0].created_at, 1100);
    job_filter both = {.limit = 10, .backend = "phaxio", .created_from = 1100};
    assert_int_equal(store_job_list(f->st, &both, out), 2);                    /* 1200, 1400 */
}

/* ---- PostgreSQL only ---- */

static void test_pg_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(pg_exec(f->path, "INSERT INTO faxbot_schema (version, applied_at) VALUES (99, 0)"), 0);
    char err[256] = "";
    assert_null(store_pg_open(f->path, err, sizeof err));
    assert_non_null(strstr(err, "version 99"));
    assert_int_equal(pg_exec(f->path, "DELETE FROM faxbot_schema WHERE version = 99"), 0);
    f->st = store_pg_open(f->path, err, sizeof err);
    assert_non_null(f->st);
}

/* Three processes open an empty database at the same moment: every one starts, and
 * each migration was applied exactly once, all by the one that took the lock first. */
static void test_pg_migrations_applied_once_by_three_starting_together(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(pg_exec(f->path, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"), 0);
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            close(gate[1]);
            char b;
            if (read(gate[0], &b, 1) != 0) _exit(5);     /* released when the parent closes the gate */
            char err[256];
            store *st = store_pg_open(f->path, err, sizeof err);
            if (!st) { fprintf(stderr, "child %d: %s\n", i, err); _exit(2); }
            store_close(st);
            _exit(0);
        }
    }
    close(gate[0]);
    usleep(100000);
    close(gate[1]);
    for (int i = 0; i < 3; i++) {
        int status;
        assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    long long versions = pg_value(f->path, "SELECT max(version) FROM faxbot_schema");
    assert_true(versions >= 8);
    assert_int_equal(pg_value(f->path, "SELECT count(*) FROM faxbot_schema"), versions);
    assert_int_equal(pg_value(f->path, "SELECT count(DISTINCT version) FROM faxbot_schema"), versions);
    assert_int_equal(pg_value(f->path, "SELECT count(DISTINCT applied_by) FROM faxbot_schema"), 1);
    char err[256];
    f->st = store_pg_open(f->path, err, sizeof err);
    assert_non_null(f->st);
}

#define DUE_JOBS 200

typedef struct claimer {
    store *st;
    char (*got)[33];             /* ids this node was handed */
    int n_got;
    int claimed, conflicts;
} claimer;

/* A node's scheduler, cut down: ask for due jobs, claim each with the
 * compare-and-set job_transition uses, until nothing is due. */
static void *claim_loop(void *arg)
{
    claimer *c = arg;
    for (int idle = 0; idle < 3;) {
        char ids[10][33];
        int n = store_job_due(c->st, 5000, ids, 10);
        if (n <= 0) { idle++; usleep(20000); continue; }
        idle = 0;
        for (int i = 0; i < n; i++) {
            memcpy(c->got[c->n_got++], ids[i], 33);
            job_record cur, next;
            char err[256];
            if (store_job_get(c->st, ids[i], &cur) != STORE_OK) continue;
            next = cur;
            strcpy(next.status, "in_progress");
            next.updated_at = cur.updated_at + 1;
            int rc = store_job_update_if(c->st, &next, cur.status, cur.updated_at, err, sizeof err);
            if (rc == STORE_OK) c->claimed++;
            else if (rc == STORE_CONFLICT) c->conflicts++;
        }
    }
    return NULL;
}

/* Two nodes asking for due jobs at once are handed disjoint sets (FOR UPDATE SKIP
 * LOCKED and a reservation), so every job is claimed once and no claim races. */
static void test_pg_two_nodes_are_handed_disjoint_due_jobs(void **state)
{
    fixture *f = *state;
    char err[256];
    for (int i = 0; i < DUE_JOBS; i++) {
        job_record j;
        make_job(&j, i, 1000);
        strcpy(j.status, "queued");
        j.next_attempt_at = 1000 + i;
        assert_int_equal(store_job_insert(f->st, &j, NULL, err, sizeof err), STORE_OK);
    }
    store *b = store_pg_open(f->path, err, sizeof err);
    assert_non_null(b);
    store_set_node(f->st, "node-a", 0);
    store_set_node(b, "node-b", 0);
    claimer ca = {.st = f->st, .got = calloc(DUE_JOBS * 2, 33)}, cb = {.st = b, .got = calloc(DUE_JOBS * 2, 33)};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, claim_loop, &ca);
    pthread_create(&tb, NULL, claim_loop, &cb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(ca.claimed + cb.claimed, DUE_JOBS);
    assert_int_equal(ca.conflicts + cb.conflicts, 0);
    for (int i = 0; i < ca.n_got; i++)
        for (int k = 0; k < cb.n_got; k++) assert_string_not_equal(ca.got[i], cb.got[k]);
    const char *const statuses[] = {"queued", "in_progress"};
    int64_t counts[2];
    assert_int_equal(store_job_count_by_status(f->st, statuses, 2, counts), STORE_OK);
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[1], DUE_JOBS);
    free(ca.got);
    free(cb.got);
    store_close(b);
}

/* An expired lease of a live node is that node's own business; once the node stops
 * its heartbeat, another node takes it over. A lease naming no node is anyone's. */
static void test_pg_dead_nodes_lease_is_taken_over(void **state)
{
    fixture *f = *state;
    char err[256];
    store *b = store_pg_open(f->path, err, sizeof err);
    assert_non_null(b);
    store_set_node(f->st, "node-a", 300);
    store_set_node(b, "node-b", 300);
    int64_t now = now_ms();
    job_record held, orphan;
    make_job(&held, 1, now - 10000);
    strcpy(held.status, "in_progress");
    held.lease_until = now - 1;
    strcpy(held.lease_node, "node-a");
    assert_int_equal(store_job_insert(f->st, &held, NULL, err, sizeof err), STORE_OK);
    make_job(&orphan, 2, now - 10000);
    strcpy(orphan.status, "in_progress");
    orphan.lease_until = now - 1;
    orphan.lease_node[0] = 0;
    assert_int_equal(store_job_insert(f->st, &orphan, NULL, err, sizeof err), STORE_OK);
    job_record got;
    assert_int_equal(store_job_get(f->st, held.id, &got), STORE_OK);
    assert_string_equal(got.lease_node, "node-a");

    assert_int_equal(store_node_heartbeat(f->st, now_ms()), STORE_OK);
    assert_int_equal(store_node_heartbeat(b, now_ms()), STORE_OK);
    char ids[10][33];
    /* node-a is alive: node-b sees only the lease naming nobody */
    assert_int_equal(store_job_lease_expired(b, now_ms(), ids, 10), 1);
    assert_string_equal(ids[0], orphan.id);
    /* node-a sees its own and the orphan */
    assert_int_equal(store_job_lease_expired(f->st, now_ms(), ids, 10), 2);
    store_node nodes[4];
    int n = store_node_list(b, now_ms(), nodes, 4);
    assert_int_equal(n, 2);
    assert_string_equal(nodes[0].node_id, "node-b");     /* this node first */
    assert_string_equal(nodes[1].node_id, "node-a");
    assert_true(nodes[1].alive);
    assert_int_equal(nodes[1].jobs_held, 1);

    /* node-a goes silent (killed): after the staleness window node-b takes over */
    usleep(450000);
    assert_int_equal(store_node_heartbeat(b, now_ms()), STORE_OK);
    assert_int_equal(store_job_lease_expired(b, now_ms(), ids, 10), 2);
    n = store_node_list(b, now_ms(), nodes, 4);
    assert_int_equal(n, 2);
    assert_false(nodes[1].alive);
    store_close(b);
}

/* Named leases (PostgreSQL): one holder at a time; renewals keep acquired_at; another
 * node gets it only when it ran out or was given up; the list names the holder. Two
 * handles on one database stand for two nodes. */
static void test_pg_named_leases_one_holder_at_a_time(void **state)
{
    fixture *f = *state;
    char err[256];
    store *b = open_store(f->path, err, sizeof err);
    assert_non_null(b);
    store_set_node(f->st, "node-a", 0);
    store_set_node(b, "node-b", 0);
    int64_t now = now_ms();
    store_lease l;
    assert_int_equal(store_lease_take(f->st, "pbx:ami:127.0.0.1:5038", now, 1000, &l), STORE_OK);
    assert_string_equal(l.node_id, "node-a");
    assert_int_equal(l.acquired_at, now);
    assert_int_equal(l.until, now + 1000);
    /* node-b is refused while it runs, and told who holds it */
    assert_int_equal(store_lease_take(b, "pbx:ami:127.0.0.1:5038", now + 500, 1000, &l), STORE_CONFLICT);
    assert_string_equal(l.node_id, "node-a");
    assert_int_equal(l.until, now + 1000);
    /* a renewal moves until, not acquired_at */
    assert_int_equal(store_lease_take(f->st, "pbx:ami:127.0.0.1:5038", now + 800, 1000, &l), STORE_OK);
    assert_int_equal(l.acquired_at, now);
    assert_int_equal(l.until, now + 1800);
    /* another name is another lease */
    assert_int_equal(store_lease_take(b, "retention", now, 1000, &l), STORE_OK);
    assert_string_equal(l.node_id, "node-b");
    /* run out: node-b takes it over (a new acquired_at) */
    assert_int_equal(store_lease_take(b, "pbx:ami:127.0.0.1:5038", now + 1801, 1000, &l), STORE_OK);
    assert_string_equal(l.node_id, "node-b");
    assert_int_equal(l.acquired_at, now + 1801);
    assert_int_equal(store_lease_take(f->st, "pbx:ami:127.0.0.1:5038", now + 1900, 1000, &l), STORE_CONFLICT);
    assert_string_equal(l.node_id, "node-b");
    /* releasing one not held changes nothing; given up by its holder, node-a gets it at once */
    assert_int_equal(store_lease_release(f->st, "pbx:ami:127.0.0.1:5038"), STORE_OK);
    assert_int_equal(store_lease_take(f->st, "pbx:ami:127.0.0.1:5038", now + 1950, 1000, &l), STORE_CONFLICT);
    assert_int_equal(store_lease_release(b, "pbx:ami:127.0.0.1:5038"), STORE_OK);
    assert_int_equal(store_lease_take(f->st, "pbx:ami:127.0.0.1:5038", now + 2802, 1000, &l), STORE_OK);
    store_lease all[4];
    int n = store_lease_list(b, all, 4);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "pbx:ami:127.0.0.1:5038");
    assert_string_equal(all[0].node_id, "node-a");
    assert_int_equal(all[0].until, now + 3802);
    assert_string_equal(all[1].name, "retention");
    assert_string_equal(all[1].node_id, "node-b");
    store_close(b);
}

/* Two nodes asking for the same free lease at the same moment: exactly one gets it. */
typedef struct lease_race {
    store *st;
    int64_t now;
    int got;
} lease_race;

static void *race_lease(void *arg)
{
    lease_race *r = arg;
    store_lease l;
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof name, "race-%d", i);
        if (store_lease_take(r->st, name, r->now, 60000, &l) == STORE_OK) r->got++;
    }
    return NULL;
}

static void test_pg_named_lease_race_has_one_winner(void **state)
{
    fixture *f = *state;
    char err[256];
    store *b = open_store(f->path, err, sizeof err);
    assert_non_null(b);
    store_set_node(f->st, "node-a", 0);
    store_set_node(b, "node-b", 0);
    int64_t now = now_ms();
    lease_race ra = {.st = f->st, .now = now}, rb = {.st = b, .now = now};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race_lease, &ra);
    pthread_create(&tb, NULL, race_lease, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(ra.got + rb.got, 50);
    store_close(b);
}

/* SQLite: one process uses the file, so every lease is this node's, even one an
 * earlier run under another name held (a restart on another port); renewals keep
 * acquired_at; the list shows the holder. */
static void test_sqlite_leases_are_always_this_nodes(void **state)
{
    fixture *f = *state;
    int64_t now = now_ms();
    store_lease l;
    store_set_node(f->st, "host:8080", 0);
    assert_int_equal(store_lease_take(f->st, "pbx:ami:127.0.0.1:5038", now, 10000, &l), STORE_OK);
    assert_int_equal(store_lease_take(f->st, "pbx:ami:127.0.0.1:5038", now + 2000, 10000, &l), STORE_OK);
    assert_int_equal(l.acquired_at, now);
    assert_int_equal(l.until, now + 12000);
    store_set_node(f->st, "host:8081", 0);
    assert_int_equal(store_lease_take(f->st, "pbx:ami:127.0.0.1:5038", now + 3000, 10000, &l), STORE_OK);
    assert_string_equal(l.node_id, "host:8081");
    assert_int_equal(l.acquired_at, now + 3000);
    assert_int_equal(store_lease_release(f->st, "pbx:ami:127.0.0.1:5038"), STORE_OK);
    store_lease all[2];
    assert_int_equal(store_lease_list(f->st, all, 2), 1);
    assert_string_equal(all[0].node_id, "host:8081");
    assert_int_equal(all[0].until, 0);
}

/* The URL shown in logs and settings never carries the password. */
/* Whole tables (faxbot migrate): a cursor reads every row in key order in the form
 * both databases agree on; putting rows back adds only what is missing; a copied
 * row reads back field for field; the events' numbering moves past copied rows. */
static void test_table_cursor_and_put(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    job_record j[3], got;
    for (int i = 0; i < 3; i++) {
        make_job(&j[i], i, 1700000000000LL + i);
        assert_int_equal(store_job_insert(f->st, &j[i], NULL, err, sizeof err), STORE_OK);
    }
    assert_int_equal(store_table_count(f->st, "fax_jobs"), 3);
    assert_null(store_table_open(f->st, "sqlite_master", NULL, 0, err, sizeof err));
    const char *bad[] = {"id; DROP TABLE fax_jobs"};
    assert_null(store_table_open(f->st, "fax_jobs", bad, 1, err, sizeof err));

    store_cursor *c = store_table_open(f->st, "fax_jobs", NULL, 0, err, sizeof err);
    assert_non_null(c);
    store_row row;
    char prev[33] = "", copy_of[33] = "";
    int n = 0, idpos = -1, durpos = -1;
    /* the rows kept for a put (the cursor's strings live only until its next row) */
    static char vals[STORE_ROW_COLS][1100], names[STORE_ROW_COLS][64];
    store_row keep = {0};
    while (store_cursor_next(c, &row, err, sizeof err) == 1) {
        for (int i = 0; i < row.n; i++) {
            if (!strcmp(row.name[i], "id")) idpos = i;
            if (!strcmp(row.name[i], "duration_s")) durpos = i;
        }
        assert_true(idpos >= 0 && durpos >= 0);
        assert_true(strcmp(prev, row.value[idpos]) < 0);          /* key order */
        str_copy(prev, sizeof prev, row.value[idpos]);
        if (n++ == 0) {
            for (int i = 0; i < row.n; i++) {
                str_copy(names[i], sizeof names[i], row.name[i]);
                str_copy(vals[i], sizeof vals[i], row.value[i] ? row.value[i] : "");
                keep.name[i] = names[i];
                keep.value[i] = vals[i];
            }
            keep.n = row.n;
            str_copy(copy_of, sizeof copy_of, row.value[idpos]);
        }
    }
    store_cursor_close(c);
    assert_int_equal(n, 3);

    int added = -1;
    assert_int_equal(store_table_put(f->st, "fax_jobs", &keep, 1, &added, err, sizeof err), STORE_OK);
    assert_int_equal(added, 0);                  /* there already: left as it is */
    char fresh[33];
    new_id_hex32(fresh);
    str_copy(vals[idpos], sizeof vals[idpos], fresh);
    assert_int_equal(store_table_put(f->st, "fax_jobs", &keep, 1, &added, err, sizeof err), STORE_OK);
    assert_int_equal(added, 1);
    job_record orig;
    assert_int_equal(store_job_get(f->st, copy_of, &orig), STORE_OK);
    assert_int_equal(store_job_get(f->st, fresh, &got), STORE_OK);
    str_copy(orig.id, sizeof orig.id, fresh);
    assert_job_equal(&orig, &got);
    assert_true(got.duration_s == orig.duration_s);

    /* an event copied with its number: the next one written is numbered after it */
    store_row ev = {.n = 7, .name = {"seq", "id", "type", "job_id", "inbound_id", "created_at", "body"},
                    .value = {"1000", "evt_copied", "fax.queued", j[0].id, "", "1700000000000", "{}"}};
    assert_int_equal(store_table_put(f->st, "events", &ev, 1, &added, err, sizeof err), STORE_OK);
    assert_int_equal(added, 1);
    store_event e = {.id = "evt_after", .type = "fax.queued", .job_id = j[1].id, .inbound_id = "", .owner = "",
                     .callback_url = "", .body = "{}", .created_at = 1700000000001LL};
    job_record later;
    make_job(&later, 7, 1700000000009LL);
    assert_int_equal(store_job_insert_ev(f->st, &later, NULL, &e, err, sizeof err), STORE_OK);
    assert_true(store_event_last_seq(f->st) > 1000);
}

static void test_url_redaction(void **state)
{
    (void)state;
    char out[256];
    store_url_redact("postgresql://fax:s3cret@db.example.test:5432/fax?sslmode=verify-full", out, sizeof out);
    assert_string_equal(out, "postgresql://fax:***@db.example.test:5432/fax?sslmode=verify-full");
    store_url_redact("postgres://fax@db/fax", out, sizeof out);
    assert_string_equal(out, "postgres://fax@db/fax");
    store_url_redact("postgresql:///fax?host=/run/pg&user=fax", out, sizeof out);
    assert_string_equal(out, "postgresql:///fax?host=/run/pg&user=fax");
    assert_true(store_url_is_pg("postgres://h/d"));
    assert_false(store_url_is_pg("/var/lib/faxbot.db"));
}

#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(int argc, char **argv)
{
    g_pg = argc > 1 && !strcmp(argv[1], "--pg");
    const struct CMUnitTest both[] = {
        BOTH(test_inbound_insert_dedup_list_expire),
        BOTH(test_job_artifact_expiry),
        BOTH(test_job_roundtrip_every_field),
        BOTH(test_idempotency_conflict_returns_original),
        BOTH(test_update_if_optimistic_lock),
        BOTH(test_list_pagination_with_filter),
        BOTH(test_limit_is_clamped),
        BOTH(test_due_lease_next_due_counts),
        BOTH(test_keys),
        BOTH(test_inbound_read_marks),
        BOTH(test_job_list_backend_and_dates),
        BOTH(test_concurrent_inserts),
        BOTH(test_reopen_keeps_data),
        BOTH(test_acknowledged_jobs_survive_kill9),
        BOTH(test_table_cursor_and_put),
    };
    const struct CMUnitTest sqlite_only[] = {
        BOTH(test_open_creates_private_files_and_wal),
        BOTH(test_newer_schema_is_refused),
        cmocka_unit_test(test_url_redaction),
        BOTH(test_sqlite_leases_are_always_this_nodes),
    };
    const struct CMUnitTest pg_only[] = {
        BOTH(test_pg_newer_schema_is_refused),
        BOTH(test_pg_migrations_applied_once_by_three_starting_together),
        BOTH(test_pg_two_nodes_are_handed_disjoint_due_jobs),
        BOTH(test_pg_dead_nodes_lease_is_taken_over),
        BOTH(test_pg_named_leases_one_holder_at_a_time),
        BOTH(test_pg_named_lease_race_has_one_winner),
    };
    if (g_pg && !getenv("FAXBOT_TEST_PG_URL")) {
        fprintf(stderr, "--pg needs FAXBOT_TEST_PG_URL: run it through tests/peers/pg.py run -- …\n");
        return 1;
    }
    int failed = cmocka_run_group_tests_name(g_pg ? "store on PostgreSQL" : "store on SQLite", both, NULL, NULL);
    failed += g_pg ? cmocka_run_group_tests_name("PostgreSQL only", pg_only, NULL, NULL)
                   : cmocka_run_group_tests_name("SQLite only", sqlite_only, NULL, NULL);
    return failed ? 1 : 0;
}
