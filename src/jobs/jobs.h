/* jobs.h — the job layer: creating jobs, the one place that changes a job's
 * state (job_transition), and the scheduler + worker pool that carry queued jobs
 * through conversion and a backend. The api layer uses this; backends report
 * into it through the sink it hands them. */
#ifndef FAXBOT_JOBS_H
#define FAXBOT_JOBS_H

#include "blob/blob.h"
#include "config/config.h"
#include "jobs/job_state.h"
#include "store/store.h"

#include <stdint.h>

typedef struct jobs jobs;

typedef struct jobs_stats {
    uint64_t created;            /* jobs created since start */
    uint64_t transitions;        /* state changes applied */
    uint64_t succeeded, failed, retried, interrupted, cancelled;
    uint64_t conversions, conversion_failures;
    uint64_t conversion_pages;
    double conversion_seconds;   /* total wall time spent converting */
    int busy_workers, workers;
} jobs_stats;

/* Creates the backend named in cfg, recovers jobs an earlier process left
 * in_progress, and starts the scheduler and workers (unless dispatch is false,
 * which is used by tools that only need job creation). NULL with err on failure. */
jobs *jobs_start(const config *cfg, store *st, blob_store *blobs, bool dispatch, char *err, size_t errlen);
void jobs_stop(jobs *j);

/* Inserts a new queued job (rec filled by the caller: id, to, document fields)
 * and wakes the scheduler. STORE_CONFLICT with *existing filled when the
 * idempotency key was used before. */
int jobs_create(jobs *j, job_record *rec, job_record *existing, char *err, size_t errlen);

/* The one function that changes a job's state: loads the job, applies ev through
 * the state machine, and writes it with an optimistic lock (retrying on a lost
 * race). Audits every status change. Returns STORE_OK (and *out if non-NULL),
 * STORE_NOT_FOUND, STORE_CONFLICT if the event is not allowed in the job's
 * current state (why says so), or STORE_ERROR. */
int job_transition(jobs *j, const char *job_id, const job_event *ev, job_record *out, char *why, size_t whylen);

/* A provider/PBX request on a backend webhook route: handled by the live backend
 * instance that owns method+path (the current one, or a replaced one still
 * finishing its attempts); -1 and a 404 in res when none does. */
struct webhook_request;
struct webhook_response;
int jobs_webhook_dispatch(jobs *j, const struct webhook_request *req, struct webhook_response *res);
/* Live settings change: the backend named in cfg becomes current (a new instance,
 * checked by its create before anything changes; -1 with err and nothing changed
 * when it refuses). Attempts held by the old instance finish there. */
int jobs_swap_backend(jobs *j, const config *cfg, char *err, size_t errlen);
/* Live settings change: later work reads cfg (kept by the caller for the process's life). */
void jobs_apply_config(jobs *j, const config *cfg);
/* The current backend's apply_pbx (backend.h): 1 when it has none or nothing to do. */
struct json_t;
int jobs_backend_apply_pbx(jobs *j, struct json_t *report);
/* POST /admin/fax-jobs/{id}/refresh: asks the backend that holds an in-progress
 * job what became of it (its resume). STORE_OK, STORE_CONFLICT (not in progress),
 * or STORE_ERROR when its backend cannot be asked; why says which. */
int jobs_refresh(jobs *j, const char *job_id, char *why, size_t whylen);
/* [{"name","state":"active|draining","in_flight"}] of the running instances. */
int jobs_backend_slots_json(jobs *j, char *out, size_t outlen);
/* Deep diagnostics of the backend (real round trips): findings set in the JSON
 * object report. 0 if all good. */
struct json_t;
int jobs_backend_diagnose(jobs *j, struct json_t *report);

/* Readiness of the backend. */
int jobs_backend_check(jobs *j, char *msg, size_t msglen);
const char *jobs_backend_name(const jobs *j);
void jobs_get_stats(jobs *j, jobs_stats *out);
const retry_policy *jobs_policy(const jobs *j);

#endif
