/* job_state.c — the pure state machine described in job_state.h. */
#include "jobs/job_state.h"
#include "util/util.h"

#include <string.h>

static const char *const status_names[] = {"", JOB_QUEUED, JOB_IN_PROGRESS, JOB_SUCCESS, JOB_FAILED, JOB_CANCELLED};

job_status job_status_of(const char *name)
{
    for (int i = 1; name && i <= JOB_STATUS_COUNT; i++)
        if (!strcmp(name, status_names[i])) return (job_status)i;
    return JOB_ST_UNKNOWN;
}

const char *job_status_name(job_status st)
{
    return st > JOB_ST_UNKNOWN && st <= JOB_ST_CANCELLED ? status_names[st] : "";
}

job_status job_status_get(const job_record *r) { return job_status_of(r->status); }

void job_status_set(job_record *r, job_status st)
{
    str_copy(r->status, sizeof r->status, job_status_name(st));
}

bool job_status_terminal(const char *s)
{
    job_status st = job_status_of(s);
    return st == JOB_ST_SUCCESS || st == JOB_ST_FAILED || st == JOB_ST_CANCELLED;
}

bool job_status_valid(const char *s)
{
    return job_status_of(s) != JOB_ST_UNKNOWN;
}

const char *job_event_name(job_event_kind k)
{
    switch (k) {
    case JEV_CLAIM: return "claim";
    case JEV_PREPARED: return "prepared";
    case JEV_ACCEPTED: return "accepted";
    case JEV_PROGRESS: return "progress";
    case JEV_SUCCEEDED: return "succeeded";
    case JEV_FAILED: return "failed";
    case JEV_INTERRUPTED: return "interrupted";
    case JEV_CANCEL: return "cancel";
    case JEV_SUBMITTING: return "submitting";
    case JEV_DEFERRED: return "deferred";
    case JEV_REQUEUE: return "requeue";
    }
    return "unknown";
}

int64_t job_retry_delay_ms(const retry_policy *pol, int attempts)
{
    int64_t d = (int64_t)pol->base_s * 1000;
    for (int i = 1; i < attempts && d < (int64_t)pol->max_s * 1000; i++) d *= 2;
    if (d > (int64_t)pol->max_s * 1000) d = (int64_t)pol->max_s * 1000;
    return d;
}

static void apply_results(job_record *n, const job_event *ev)
{
    if (ev->pages >= 0) n->pages = ev->pages;
    if (ev->duration_s >= 0) n->duration_s = ev->duration_s;
    if (ev->bit_rate >= 0) n->bit_rate = ev->bit_rate;
    if (ev->ecm >= 0) n->ecm = ev->ecm;
    if (ev->remote_station_id && *ev->remote_station_id)
        str_copy(n->remote_station_id, sizeof n->remote_station_id, ev->remote_station_id);
    if (ev->inbound_id && *ev->inbound_id) str_copy(n->inbound_id, sizeof n->inbound_id, ev->inbound_id);
}

static int refuse(const job_record *cur, const job_event *ev, char *why, size_t whylen)
{
    str_fmt(why, whylen, "event '%s' is not allowed for a job that is %s", job_event_name(ev->kind), cur->status);
    return -1;
}

job_event job_event_of(job_event_kind kind)
{
    job_event ev = {.kind = kind, .pages = -1, .duration_s = -1, .bit_rate = -1, .ecm = -1};
    return ev;
}

/* A backend's outcome that belongs to another attempt, or to another provider fax
 * than the one this attempt recorded, is stale or replayed: refused here, once for
 * every backend. */
static int refuse_stale(const job_record *cur, const job_event *ev, char *why, size_t whylen)
{
    if (ev->attempt > 0 && ev->attempt != cur->attempts) {
        str_fmt(why, whylen, "stale: the '%s' is for attempt %d, the job is on attempt %d", job_event_name(ev->kind),
                ev->attempt, cur->attempts);
        return -1;
    }
    /* A result must name the attempt's fax; an ACCEPTED may name a new one (submit or
     * resume found it) only when it says which attempt it is for. */
    if ((ev->kind != JEV_ACCEPTED || ev->attempt <= 0) && ev->provider_sid && ev->provider_sid[0] &&
        cur->provider_sid[0] && strcmp(ev->provider_sid, cur->provider_sid)) {
        str_fmt(why, whylen, "stale: the '%s' is for provider fax %s, this attempt's is %s", job_event_name(ev->kind),
                ev->provider_sid, cur->provider_sid);
        return -1;
    }
    return 0;
}

/* The provider's id, learnt from a result that arrived before its ACCEPTED. */
static void learn_sid(job_record *n, const job_event *ev)
{
    if (ev->provider_sid && ev->provider_sid[0] && !n->provider_sid[0])
        str_copy(n->provider_sid, sizeof n->provider_sid, ev->provider_sid);
}

/* The status a job must have for an event: queued for a claim or a cancel, FAILED
 * for an admin's requeue, in_progress for everything else. */
static job_status needs_status(job_event_kind k)
{
    if (k == JEV_CLAIM || k == JEV_CANCEL) return JOB_ST_QUEUED;
    return k == JEV_REQUEUE ? JOB_ST_FAILED : JOB_ST_IN_PROGRESS;
}

/* The events that are a backend's outcome: checked for staleness. */
static bool from_backend(job_event_kind k)
{
    return k == JEV_ACCEPTED || k == JEV_PROGRESS || k == JEV_SUCCEEDED || k == JEV_FAILED;
}

/* Back to the queue without using up an attempt (the worker died, or the backend
 * had no capacity). */
static void requeue_uncounted(const job_record *cur, job_record *next, int64_t due_at)
{
    job_status_set(next, JOB_ST_QUEUED);
    next->attempts = cur->attempts > 0 ? cur->attempts - 1 : 0;
    next->lease_until = 0;
    next->submitted_at = 0;
    next->next_attempt_at = due_at;
}

/* This attempt failed: another one later when the failure is transient and attempts
 * are left, else the job fails for good. */
static void apply_failure(const job_record *cur, const job_event *ev, const retry_policy *pol, int64_t now,
                          job_record *next)
{
    apply_results(next, ev);
    str_copy(next->failure_reason, sizeof next->failure_reason,
             ev->failure_reason && *ev->failure_reason ? ev->failure_reason : "unknown_error");
    str_copy(next->error, sizeof next->error, ev->message ? ev->message : "");
    next->lease_until = 0;
    if (ev->transient && cur->attempts < cur->max_attempts && !cur->cancel_requested) {
        job_status_set(next, JOB_ST_QUEUED);
        next->next_attempt_at = now + job_retry_delay_ms(pol, cur->attempts);
        next->submitted_at = 0;
    } else {
        job_status_set(next, JOB_ST_FAILED);
        next->next_attempt_at = 0;
    }
}

int job_state_apply(const job_record *cur, const job_event *ev, const retry_policy *pol, int64_t now,
                    job_record *next, char *why, size_t whylen)
{
    if (ev->kind < JEV_CLAIM || ev->kind > JEV_REQUEUE) {
        str_fmt(why, whylen, "unknown event");
        return -1;
    }
    job_status st = job_status_get(cur);
    if (st != needs_status(ev->kind)) return refuse(cur, ev, why, whylen);
    if (from_backend(ev->kind) && refuse_stale(cur, ev, why, whylen)) return -1;
    *next = *cur;
    next->updated_at = now > cur->updated_at ? now : cur->updated_at + 1; /* strictly increasing: it is the lock */
    if (from_backend(ev->kind) && ev->kind != JEV_ACCEPTED) learn_sid(next, ev);
    int64_t lease_end = now + (int64_t)pol->lease_s * 1000;

    switch (ev->kind) {
    case JEV_CLAIM:
        if (cur->next_attempt_at > now) {
            str_fmt(why, whylen, "job is not due yet");
            return -1;
        }
        job_status_set(next, JOB_ST_IN_PROGRESS);
        next->attempts = cur->attempts + 1;
        next->lease_until = lease_end;
        next->submitted_at = 0;
        next->pages_sent = 0;
        return 0;

    case JEV_PREPARED:
        apply_results(next, ev);
        if (ev->warning) str_copy(next->warning, sizeof next->warning, ev->warning);
        next->lease_until = lease_end;
        return 0;

    case JEV_PROGRESS: {
        /* ev->pages is the pages sent so far (pages_sent); the document's page count
         * stays. Pages sent never go backwards, nor beyond the document. */
        job_event forward = *ev;
        forward.pages = -1;
        apply_results(next, &forward);
        if (ev->pages > next->pages_sent) next->pages_sent = ev->pages;
        if (next->pages >= 0 && next->pages_sent > next->pages) next->pages_sent = next->pages;
        next->lease_until = lease_end;   /* progress renews the lease */
        return 0;
    }

    case JEV_SUBMITTING:
        next->submitted_at = now;
        next->provider_sid[0] = 0;
        if (ev->backend && *ev->backend) str_copy(next->backend, sizeof next->backend, ev->backend);
        if (ev->fetch_token_hash) {
            str_copy(next->fetch_token_hash, sizeof next->fetch_token_hash, ev->fetch_token_hash);
            next->fetch_token_expires_at = ev->fetch_token_expires_at;
        }
        return 0;

    case JEV_ACCEPTED:
        if (ev->provider_sid && *ev->provider_sid) str_copy(next->provider_sid, sizeof next->provider_sid, ev->provider_sid);
        if (!next->submitted_at) next->submitted_at = now;
        /* The result is expected by the end of a new lease; if it is late, the backend is asked. */
        next->lease_until = lease_end;
        return 0;

    case JEV_DEFERRED:
        requeue_uncounted(cur, next, now + (ev->delay_ms > 0 ? ev->delay_ms : 2000));
        if (ev->message) {       /* why it waits (e.g. the gateway's disk is full), shown while queued */
            str_copy(next->error, sizeof next->error, ev->message);
            if (ev->failure_reason) str_copy(next->failure_reason, sizeof next->failure_reason, ev->failure_reason);
        }
        return 0;

    case JEV_SUCCEEDED:
        job_status_set(next, JOB_ST_SUCCESS);
        apply_results(next, ev);
        if (next->pages >= 0) next->pages_sent = next->pages;
        next->failure_reason[0] = 0;
        next->error[0] = 0;
        next->lease_until = 0;
        next->next_attempt_at = 0;
        return 0;

    case JEV_FAILED:
        apply_failure(cur, ev, pol, now, next);
        return 0;

    case JEV_INTERRUPTED:
        /* The attempt died with its worker, not because of the line or the document:
         * it does not count against the job's attempts. */
        requeue_uncounted(cur, next, now);
        if (ev->message) str_copy(next->error, sizeof next->error, ev->message);
        return 0;

    case JEV_CANCEL:
        job_status_set(next, JOB_ST_CANCELLED);
        str_copy(next->failure_reason, sizeof next->failure_reason, "cancelled");
        str_copy(next->error, sizeof next->error, "cancelled by the client");
        next->cancel_requested = true;
        next->next_attempt_at = 0;
        return 0;

    case JEV_REQUEUE:
        /* an admin's retry of a FAILED job: one more attempt, due now */
        if (cur->artifacts_deleted_at) {
            str_fmt(why, whylen, "the job's document was deleted by retention (ARTIFACT_TTL_DAYS); send it again instead");
            return -1;
        }
        job_status_set(next, JOB_ST_QUEUED);
        if (next->max_attempts <= cur->attempts) next->max_attempts = cur->attempts + 1;
        next->next_attempt_at = now;
        next->lease_until = 0;
        next->submitted_at = 0;
        next->error[0] = 0;
        next->failure_reason[0] = 0;
        next->provider_sid[0] = 0;
        return 0;
    }
    str_fmt(why, whylen, "unknown event");
    return -1;
}
