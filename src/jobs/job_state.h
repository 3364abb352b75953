/* job_state.h — the job state machine as a pure function. Given a job as stored
 * and an event, it says whether the event is allowed and what the job becomes.
 * job_transition() in jobs.c is the only caller that writes the result, so every
 * status change in the gateway passes through here.
 *
 *   queued ──claim──► in_progress ──succeeded──► SUCCESS
 *     ▲                 │  │ └──failed (permanent, or attempts used up)──► FAILED
 *     └──failed (transient, attempts left; next_attempt_at = backoff)─┘
 *     └──interrupted (the worker died: restart or lease ran out)──────┘
 *   queued ──cancel──► cancelled
 *   FAILED ──requeue (an admin's retry)──► queued
 * Terminal states never change again, except that an admin may retry a FAILED job. */
#ifndef FAXBOT_JOB_STATE_H
#define FAXBOT_JOB_STATE_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

/* A job's status. The store keeps it as text (job_record.status, the names below,
 * which the API shows); every decision in the gateway uses the enum. */
typedef enum {
    JOB_ST_UNKNOWN = 0,          /* text that is none of the five */
    JOB_ST_QUEUED,
    JOB_ST_IN_PROGRESS,
    JOB_ST_SUCCESS,
    JOB_ST_FAILED,
    JOB_ST_CANCELLED,
} job_status;
#define JOB_STATUS_COUNT 5       /* the known ones, JOB_ST_QUEUED .. JOB_ST_CANCELLED */

#define JOB_QUEUED "queued"
#define JOB_IN_PROGRESS "in_progress"
#define JOB_SUCCESS "SUCCESS"
#define JOB_FAILED "FAILED"
#define JOB_CANCELLED "cancelled"

job_status job_status_of(const char *name);
const char *job_status_name(job_status st);     /* "" for JOB_ST_UNKNOWN */
/* The record's status as an enum, and setting it from one. */
job_status job_status_get(const job_record *r);
void job_status_set(job_record *r, job_status st);

typedef enum {
    JEV_CLAIM = 1,      /* a worker starts an attempt on a due queued job */
    JEV_PREPARED,       /* conversion finished: pages known */
    JEV_ACCEPTED,       /* the backend took the fax (provider_sid) */
    JEV_PROGRESS,       /* pages sent so far */
    JEV_SUCCEEDED,      /* delivered */
    JEV_FAILED,         /* this attempt failed; transient decides retry or FAILED */
    JEV_INTERRUPTED,    /* the attempt died with its worker (restart, lease expiry) */
    JEV_CANCEL,         /* the client cancels a queued job */
    JEV_SUBMITTING,     /* about to hand the fax to the backend (recorded first: a crash
                           after this point is resolved by asking the backend, not by resending) */
    JEV_DEFERRED,       /* the backend, the disk or the owner's conversion share has no room now:
                           back to the queue, attempt not counted */
    JEV_REQUEUE,        /* an admin retries a FAILED job: queued again for one more attempt */
} job_event_kind;

typedef struct job_event {
    job_event_kind kind;
    /* ACCEPTED / PROGRESS / SUCCEEDED / FAILED from a backend: the attempt the outcome
     * belongs to (0 = the backend cannot tell). An outcome for another attempt than
     * the job's current one is refused, and so is a PROGRESS / SUCCEEDED / FAILED
     * naming another provider fax than the one the attempt recorded. */
    int attempt;
    const char *failure_reason;  /* JEV_FAILED */
    const char *message;         /* JEV_FAILED / JEV_INTERRUPTED */
    bool transient;              /* JEV_FAILED */
    const char *provider_sid;    /* JEV_ACCEPTED (and the outcomes after it: checked) */
    int pages;                   /* JEV_PREPARED / PROGRESS / SUCCEEDED (< 0 = keep);
                                    PROGRESS never lowers the count */
    double duration_s;           /* JEV_SUCCEEDED / FAILED (< 0 = keep) */
    int bit_rate;                /* (< 0 = keep) */
    int ecm;                     /* (< 0 = keep) */
    const char *remote_station_id;
    const char *inbound_id;
    const char *fetch_token_hash;    /* JEV_SUBMITTING: the provider's PDF fetch token */
    int64_t fetch_token_expires_at;
    int64_t delay_ms;                /* JEV_DEFERRED (with message/failure_reason: why it waits) */
    const char *warning;             /* JEV_PREPARED: the conversion's warning (NULL = none) */
    const char *backend;             /* JEV_SUBMITTING: the backend this attempt goes to */
} job_event;

typedef struct retry_policy {
    int base_s;                  /* first retry delay; doubles each attempt */
    int max_s;                   /* cap on the delay */
    int lease_s;                 /* how long a claim holds a job */
} retry_policy;

/* An event of this kind with every "unknown / keep" field at -1 and the rest empty:
 * job_event ev = job_event_of(JEV_FAILED); ev.failure_reason = …; */
job_event job_event_of(job_event_kind kind);

/* Computes the job after ev. Returns 0 and fills *next (a copy of *cur with the
 * changes, updated_at = now), or -1 if the event is not allowed in cur's state,
 * with the reason in why. */
int job_state_apply(const job_record *cur, const job_event *ev, const retry_policy *pol, int64_t now,
                    job_record *next, char *why, size_t whylen);

bool job_status_terminal(const char *status);
bool job_status_valid(const char *status);
/* Delay in ms before attempt number `attempts + 1`, given `attempts` already made. */
int64_t job_retry_delay_ms(const retry_policy *pol, int attempts);
const char *job_event_name(job_event_kind k);

#endif
