/* test_outcomes.c — the job layer refuses stale and replayed backend outcomes, once
 * for every backend: against a real SQLite store, through the sink backends report
 * into (jobs_on_outcome). An outcome of another attempt, a result naming another
 * provider fax than the attempt's, a replay of a result already recorded and an
 * ACCEPTED after the result are refused and leave the job untouched; pages never
 * go backwards; a result that arrives before its ACCEPTED teaches the job its
 * provider id. And while the database is locked by another writer, reporting does
 * not sleep on the caller's thread: the outcome waits on the reporter thread, later
 * outcomes of the job queue behind it, and both are applied once the lock is gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "jobs_fixture.h"

static void tune(config *cfg)
{
    cfg->max_attempts = 3;
    cfg->retry_base_s = 0;
}

static int setup(void **state)
{
    *state = jobs_fixture_open("outcomes", tune);
    return 0;
}

static job_record get(fixture *f, const char *id)
{
    job_record r;
    assert_int_equal(store_job_get(f->st, id, &r), STORE_OK);
    return r;
}

static void event(fixture *f, const char *id, job_event_kind k)
{
    job_event ev = job_event_of(k);
    char why[256];
    assert_int_equal(job_transition(f->j, id, &ev, NULL, why, sizeof why), STORE_OK);
}

/* A new job, claimed and handed to the backend: attempt 1 is on its way. */
static void start_job(fixture *f, char id[33])
{
    job_record r;
    memset(&r, 0, sizeof r);
    new_id_hex32(r.id);
    str_copy(r.to_number, sizeof r.to_number, "+15551234567");
    str_copy(r.doc_type, sizeof r.doc_type, "pdf");
    str_copy(r.resolution, sizeof r.resolution, "fine");
    r.pages = -1;
    r.duration_s = -1;
    r.bit_rate = -1;
    r.ecm = -1;
    char err[256];
    assert_int_equal(jobs_create(f->j, &r, NULL, err, sizeof err), STORE_OK);
    memcpy(id, r.id, 33);
    event(f, id, JEV_CLAIM);
    event(f, id, JEV_SUBMITTING);
}

static report_verdict say(fixture *f, const char *id, backend_outcome o)
{
    return jobs_report_outcome(f->j, id, &o);
}

static void stale_attempts_and_other_faxes_are_refused(void **state)
{
    fixture *f = *state;
    char id[33];
    start_job(f, id);
    assert_int_equal(say(f, id, outcome_accepted(1, "fax-A")), REPORT_APPLIED);
    assert_int_equal(say(f, id, outcome_progress(1, "fax-A", 2)), REPORT_APPLIED);
    assert_int_equal(get(f, id).pages_sent, 2);      /* progress counts pages sent */
    /* an out-of-order progress report: the count of pages sent does not go back */
    assert_int_equal(say(f, id, outcome_progress(1, "fax-A", 1)), REPORT_APPLIED);
    assert_int_equal(get(f, id).pages_sent, 2);
    /* a result for another fax of the same attempt */
    assert_int_equal(say(f, id, outcome_failure(1, "fax-B", "busy", true, "busy")), REPORT_REFUSED);
    assert_string_equal(get(f, id).status, JOB_IN_PROGRESS);
    /* attempt 1 fails for real: the job waits for attempt 2 */
    assert_int_equal(say(f, id, outcome_failure(1, "fax-A", "busy", true, "line busy")), REPORT_APPLIED);
    job_record r = get(f, id);
    assert_string_equal(r.status, JOB_QUEUED);
    assert_int_equal(r.attempts, 1);
    event(f, id, JEV_CLAIM);
    event(f, id, JEV_SUBMITTING);
    assert_int_equal(say(f, id, outcome_accepted(2, "fax-C")), REPORT_APPLIED);
    /* attempt 1's busy again (a provider replay) while attempt 2 is on the line */
    int64_t before = get(f, id).updated_at;
    assert_int_equal(say(f, id, outcome_failure(1, "fax-A", "busy", true, "line busy")), REPORT_REFUSED);
    /* attempt 1's ACCEPTED, late: it must not take over attempt 2's fax id */
    assert_int_equal(say(f, id, outcome_accepted(1, "fax-A")), REPORT_REFUSED);
    /* a result that cannot say its attempt, naming attempt 1's fax */
    assert_int_equal(say(f, id, outcome_success(0, "fax-A", 3)), REPORT_REFUSED);
    /* an ACCEPTED that cannot say its attempt may not switch the fax either */
    assert_int_equal(say(f, id, outcome_accepted(0, "fax-Z")), REPORT_REFUSED);
    r = get(f, id);
    assert_string_equal(r.status, JOB_IN_PROGRESS);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.provider_sid, "fax-C");
    assert_true(r.updated_at == before);
    /* the real result, then its replay */
    assert_int_equal(say(f, id, outcome_success(2, "fax-C", 3)), REPORT_APPLIED);
    r = get(f, id);
    assert_string_equal(r.status, JOB_SUCCESS);
    assert_int_equal(r.pages, 3);
    assert_int_equal(say(f, id, outcome_success(2, "fax-C", 3)), REPORT_REFUSED);
    assert_int_equal(say(f, id, outcome_progress(2, "fax-C", 1)), REPORT_REFUSED);
    assert_true(get(f, id).updated_at == r.updated_at);
}

static void result_before_accepted_is_applied_once(void **state)
{
    fixture *f = *state;
    char id[33];
    start_job(f, id);
    /* the provider's webhook overtakes the reply to our submit */
    backend_outcome done = outcome_success(1, "fax-X", 1);
    done.bit_rate = 14400;
    assert_int_equal(say(f, id, done), REPORT_APPLIED);
    job_record r = get(f, id);
    assert_string_equal(r.status, JOB_SUCCESS);
    assert_string_equal(r.provider_sid, "fax-X");
    assert_int_equal(r.bit_rate, 14400);
    assert_int_equal(say(f, id, outcome_accepted(1, "fax-X")), REPORT_REFUSED);
    assert_true(get(f, id).updated_at == r.updated_at);
}

static void outcomes_for_unknown_jobs_are_refused(void **state)
{
    fixture *f = *state;
    assert_int_equal(say(f, "0123456789abcdef0123456789abcdef", outcome_success(1, "x", 1)), REPORT_REFUSED);
}

static void busy_database_is_retried_on_the_reporter_thread(void **state)
{
    fixture *f = *state;
    f->j->reporter = reporter_start(f->j);     /* jobs_start(dispatch = false) has none */
    assert_non_null(f->j->reporter);
    char id[33];
    start_job(f, id);
    char db[512];
    str_fmt(db, sizeof db, "%s/faxbot.db", f->dir);
    sqlite3 *blocker = NULL;
    assert_int_equal(sqlite3_open(db, &blocker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    int64_t t0 = mono_ms();
    assert_int_equal(say(f, id, outcome_progress(1, "fax-B", 1)), REPORT_LATER);   /* one write attempt */
    assert_true(mono_ms() - t0 < 8000);
    t0 = mono_ms();
    assert_int_equal(say(f, id, outcome_success(1, "fax-B", 2)), REPORT_LATER);    /* queued behind it */
    assert_true(mono_ms() - t0 < 1000);
    assert_string_equal(get(f, id).status, JOB_IN_PROGRESS);

    assert_int_equal(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    job_record r = get(f, id);
    for (int i = 0; i < 200 && job_status_get(&r) != JOB_ST_SUCCESS; i++) {
        sleep_ms(50);
        r = get(f, id);
    }
    assert_string_equal(r.status, JOB_SUCCESS);
    assert_int_equal(r.pages, 2);
    assert_string_equal(r.provider_sid, "fax-B");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stale_attempts_and_other_faxes_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(result_before_accepted_is_applied_once, setup, teardown),
        cmocka_unit_test_setup_teardown(outcomes_for_unknown_jobs_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(busy_database_is_retried_on_the_reporter_thread, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
