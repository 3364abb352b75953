/* test_job_state.c — the job state machine: every allowed move, every refused
 * one, retry and backoff arithmetic, and that terminal states never change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "jobs/job_state.h"
#include "util/util.h"

static const retry_policy pol = {.base_s = 30, .max_s = 900, .lease_s = 300};

static job_record make_job(const char *status, int attempts, int max_attempts)
{
    job_record r;
    memset(&r, 0, sizeof r);
    str_copy(r.id, sizeof r.id, "0123456789abcdef0123456789abcdef");
    str_copy(r.status, sizeof r.status, status);
    r.attempts = attempts;
    r.max_attempts = max_attempts;
    r.created_at = r.updated_at = 1000;
    r.pages = -1;
    r.duration_s = -1;
    r.bit_rate = -1;
    r.ecm = -1;
    return r;
}

static job_event ev_of(job_event_kind k)
{
    job_event e = {.kind = k, .pages = -1, .duration_s = -1, .bit_rate = -1, .ecm = -1};
    return e;
}

static void claim_starts_an_attempt(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_QUEUED, 0, 3), next;
    job_event e = ev_of(JEV_CLAIM);
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_IN_PROGRESS);
    assert_int_equal(next.attempts, 1);
    assert_int_equal(next.lease_until, 5000 + 300 * 1000);
    assert_int_equal(next.updated_at, 5000);
}

static void claim_refused_before_due_and_when_running(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_QUEUED, 1, 3), next;
    cur.next_attempt_at = 10000;
    job_event e = ev_of(JEV_CLAIM);
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 9999, &next, why, sizeof why), -1);
    cur = make_job(JOB_IN_PROGRESS, 1, 3);
    assert_int_equal(job_state_apply(&cur, &e, &pol, 20000, &next, why, sizeof why), -1);
    assert_non_null(strstr(why, "in_progress"));
}

static void success_fills_results(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_IN_PROGRESS, 1, 3), next;
    str_copy(cur.failure_reason, sizeof cur.failure_reason, "busy");
    job_event e = ev_of(JEV_SUCCEEDED);
    e.pages = 3;
    e.bit_rate = 14400;
    e.ecm = 1;
    e.duration_s = 42.5;
    e.remote_station_id = "REMOTE";
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_SUCCESS);
    assert_int_equal(next.pages, 3);
    assert_int_equal(next.bit_rate, 14400);
    assert_int_equal(next.ecm, 1);
    assert_true(next.duration_s > 42.4 && next.duration_s < 42.6);
    assert_string_equal(next.remote_station_id, "REMOTE");
    assert_string_equal(next.failure_reason, "");
}

static void transient_failure_retries_with_backoff(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_IN_PROGRESS, 1, 3), next;
    job_event e = ev_of(JEV_FAILED);
    e.failure_reason = "busy";
    e.transient = true;
    e.message = "the line was busy";
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 100000, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_QUEUED);
    assert_string_equal(next.failure_reason, "busy");
    assert_string_equal(next.error, "the line was busy");
    assert_int_equal(next.next_attempt_at, 100000 + 30000);
    assert_int_equal(next.attempts, 1);

    cur = make_job(JOB_IN_PROGRESS, 2, 3);
    assert_int_equal(job_state_apply(&cur, &e, &pol, 100000, &next, why, sizeof why), 0);
    assert_int_equal(next.next_attempt_at, 100000 + 60000);
}

static void last_attempt_or_permanent_failure_is_final(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_IN_PROGRESS, 3, 3), next;
    job_event e = ev_of(JEV_FAILED);
    e.failure_reason = "no_answer";
    e.transient = true;
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 1, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_FAILED);

    cur = make_job(JOB_IN_PROGRESS, 1, 3);
    e.failure_reason = "conversion_error";
    e.transient = false;
    assert_int_equal(job_state_apply(&cur, &e, &pol, 1, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_FAILED);
    assert_string_equal(next.failure_reason, "conversion_error");

    e.failure_reason = NULL;     /* a failure always has a reason */
    assert_int_equal(job_state_apply(&cur, &e, &pol, 1, &next, why, sizeof why), 0);
    assert_string_equal(next.failure_reason, "unknown_error");
}

static void admin_requeue_only_of_failed_jobs(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_FAILED, 3, 3), next;
    str_copy(cur.failure_reason, sizeof cur.failure_reason, "busy");
    str_copy(cur.error, sizeof cur.error, "Busy");
    job_event e = ev_of(JEV_REQUEUE);
    char why[160];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_QUEUED);
    assert_int_equal(next.max_attempts, 4);          /* room for one more attempt */
    assert_int_equal(next.next_attempt_at, 5000);
    assert_string_equal(next.failure_reason, "");
    assert_string_equal(next.error, "");
    static const char *const others[] = {JOB_QUEUED, JOB_IN_PROGRESS, JOB_SUCCESS, JOB_CANCELLED};
    for (size_t i = 0; i < 4; i++) {
        cur = make_job(others[i], 1, 3);
        assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), -1);
    }
    cur = make_job(JOB_FAILED, 1, 3);
    cur.artifacts_deleted_at = 10;                   /* nothing left to send */
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), -1);
    assert_non_null(strstr(why, "retention"));
}

static void interrupted_attempt_is_not_counted(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_IN_PROGRESS, 2, 3), next;
    cur.submitted_at = 77;
    job_event e = ev_of(JEV_INTERRUPTED);
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_QUEUED);
    assert_int_equal(next.attempts, 1);
    assert_int_equal(next.next_attempt_at, 5000);
    assert_int_equal(next.submitted_at, 0);
}

static void cancel_only_when_queued(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_QUEUED, 0, 3), next;
    job_event e = ev_of(JEV_CANCEL);
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_CANCELLED);
    cur = make_job(JOB_IN_PROGRESS, 1, 3);
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5, &next, why, sizeof why), -1);
}

static void terminal_states_never_change(void **state)
{
    (void)state;
    const char *terminal[] = {JOB_SUCCESS, JOB_FAILED, JOB_CANCELLED};
    job_event_kind kinds[] = {JEV_CLAIM, JEV_PREPARED, JEV_ACCEPTED, JEV_PROGRESS, JEV_SUCCEEDED,
                              JEV_FAILED, JEV_INTERRUPTED, JEV_CANCEL, JEV_SUBMITTING, JEV_DEFERRED};
    for (size_t t = 0; t < 3; t++) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            job_record cur = make_job(terminal[t], 1, 3), next;
            job_event e = ev_of(kinds[k]);
            e.transient = true;
            char why[128];
            assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), -1);
        }
    }
}

static void updated_at_strictly_increases(void **state)
{
    (void)state;
    /* updated_at is the optimistic lock: two writes in the same millisecond must differ. */
    job_record cur = make_job(JOB_IN_PROGRESS, 1, 3), next;
    cur.updated_at = 5000;
    job_event e = ev_of(JEV_PROGRESS);
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_true(next.updated_at > cur.updated_at);
    assert_int_equal(job_state_apply(&cur, &e, &pol, 10, &next, why, sizeof why), 0);
    assert_true(next.updated_at > cur.updated_at);
}

static void progress_counts_pages_sent_not_pages(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_IN_PROGRESS, 1, 3), next, later;
    cur.pages = 5;
    job_event e = ev_of(JEV_PROGRESS);
    e.pages = 2;
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_int_equal(next.pages, 5);
    assert_int_equal(next.pages_sent, 2);
    e.pages = 1;                 /* never backwards */
    assert_int_equal(job_state_apply(&next, &e, &pol, 6000, &later, why, sizeof why), 0);
    assert_int_equal(later.pages_sent, 2);
    e.pages = 9;                 /* never more than the document has */
    assert_int_equal(job_state_apply(&next, &e, &pol, 6000, &later, why, sizeof why), 0);
    assert_int_equal(later.pages_sent, 5);
    /* a new attempt starts from 0; success means every page */
    job_record queued = make_job(JOB_QUEUED, 1, 3), claimed, done;
    queued.pages_sent = 4;
    queued.next_attempt_at = 0;
    job_event claim = ev_of(JEV_CLAIM);
    assert_int_equal(job_state_apply(&queued, &claim, &pol, 7000, &claimed, why, sizeof why), 0);
    assert_int_equal(claimed.pages_sent, 0);
    claimed.pages = 3;
    job_event ok = ev_of(JEV_SUCCEEDED);
    assert_int_equal(job_state_apply(&claimed, &ok, &pol, 8000, &done, why, sizeof why), 0);
    assert_int_equal(done.pages_sent, 3);
}

static void submission_is_recorded_then_accepted(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_IN_PROGRESS, 1, 3), next, after;
    job_event e = ev_of(JEV_SUBMITTING);
    e.fetch_token_hash = "abc";
    e.fetch_token_expires_at = 9999;
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_int_equal(next.submitted_at, 5000);
    assert_string_equal(next.fetch_token_hash, "abc");
    assert_string_equal(next.status, JOB_IN_PROGRESS);
    job_event acc = ev_of(JEV_ACCEPTED);
    acc.provider_sid = "PX-1";
    assert_int_equal(job_state_apply(&next, &acc, &pol, 7000, &after, why, sizeof why), 0);
    assert_string_equal(after.provider_sid, "PX-1");
    assert_int_equal(after.submitted_at, 5000);          /* when it started, not when it was confirmed */
    assert_int_equal(after.lease_until, 7000 + 300 * 1000);  /* the result is expected within a lease */
}

static void deferred_does_not_use_an_attempt(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_IN_PROGRESS, 2, 3), next;
    job_event e = ev_of(JEV_DEFERRED);
    e.delay_ms = 1500;
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_string_equal(next.status, JOB_QUEUED);
    assert_int_equal(next.attempts, 1);
    assert_int_equal(next.next_attempt_at, 6500);
    assert_string_equal(next.error, "");

    /* waiting for the gateway's disk: the reason shows while queued, and goes with success */
    e.message = "waiting for disk space";
    e.failure_reason = "storage_full";
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_int_equal(next.attempts, 1);
    assert_string_equal(next.error, "waiting for disk space");
    assert_string_equal(next.failure_reason, "storage_full");
}

static void prepared_keeps_the_conversion_warning(void **state)
{
    (void)state;
    job_record cur = make_job(JOB_IN_PROGRESS, 1, 3), next;
    job_event e = ev_of(JEV_PREPARED);
    e.pages = 2;
    e.warning = "a page of the PDF was drawn only in part";
    char why[128];
    assert_int_equal(job_state_apply(&cur, &e, &pol, 5000, &next, why, sizeof why), 0);
    assert_string_equal(next.warning, "a page of the PDF was drawn only in part");
    assert_int_equal(next.pages, 2);
    job_event ok = ev_of(JEV_SUCCEEDED);
    job_record done;
    assert_int_equal(job_state_apply(&next, &ok, &pol, 6000, &done, why, sizeof why), 0);
    assert_string_equal(done.warning, "a page of the PDF was drawn only in part");   /* it went out so */
}

static void backoff_doubles_and_caps(void **state)
{
    (void)state;
    assert_int_equal(job_retry_delay_ms(&pol, 1), 30000);
    assert_int_equal(job_retry_delay_ms(&pol, 2), 60000);
    assert_int_equal(job_retry_delay_ms(&pol, 3), 120000);
    assert_int_equal(job_retry_delay_ms(&pol, 10), 900000);
    assert_int_equal(job_retry_delay_ms(&pol, 60), 900000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claim_starts_an_attempt),
        cmocka_unit_test(prepared_keeps_the_conversion_warning),
        cmocka_unit_test(claim_refused_before_due_and_when_running),
        cmocka_unit_test(success_fills_results),
        cmocka_unit_test(transient_failure_retries_with_backoff),
        cmocka_unit_test(last_attempt_or_permanent_failure_is_final),
        cmocka_unit_test(interrupted_attempt_is_not_counted),
        cmocka_unit_test(cancel_only_when_queued),
        cmocka_unit_test(terminal_states_never_change),
        cmocka_unit_test(updated_at_strictly_increases),
        cmocka_unit_test(progress_counts_pages_sent_not_pages),
        cmocka_unit_test(submission_is_recorded_then_accepted),
        cmocka_unit_test(deferred_does_not_use_an_attempt),
        cmocka_unit_test(backoff_doubles_and_caps),
        cmocka_unit_test(admin_requeue_only_of_failed_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
