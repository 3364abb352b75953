/* jobs_internal.h — what the files of the job layer share (jobs.c, attempt.c,
 * reporter.c, retention.c). The pool (scheduler.h) sees none of it. */
#ifndef FAXBOT_JOBS_INTERNAL_H
#define FAXBOT_JOBS_INTERNAL_H

#include "backend/backend.h"
#include "jobs/jobs.h"
#include "jobs/scheduler.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct retention retention;
typedef struct reporter reporter;

struct jobs {
    const config *cfg;
    store *st;
    blob_store *blobs;
    const backend_ops *ops;
    backend *be;
    retry_policy policy;
    scheduler *sched;
    retention *retention;
    reporter *reporter;
    pthread_mutex_t stats_lock;
    jobs_stats stats;
    /* the last look at storage (jobs_storage_ok), under stats_lock */
    int64_t storage_checked_at;
    bool storage_ok;
    char storage_why[256];
    /* conversions running now, by owner (attempt.c's CONVERT_PER_OWNER share) */
    pthread_mutex_t convert_lock;
    char (*converting)[128];     /* one slot per worker; "" = free */
    int n_converting;
};

/* attempt.c: one attempt of a claimed job (the pool's run callback) */
void jobs_run_attempt(jobs *j, const char *id);

/* retention.c */
retention *retention_start(jobs *j);
void retention_stop(retention *r);
/* One pass; returns how many faxes had their files deleted. */
int retention_sweep(jobs *j);

/* reporter.c: outcomes waiting for a busy database, retried on its own thread */
reporter *reporter_start(jobs *j);
void reporter_stop(reporter *r);
/* Keeps a copy of ev for job_id; 0, or -1 when full or stopping. */
int reporter_add(reporter *r, const char *job_id, const job_event *ev);
/* true while an outcome of job_id waits (later ones must queue behind it). */
bool reporter_holds(reporter *r, const char *job_id);
/* A store answer worth trying again later: the database was busy, or the disk full. */
static inline bool store_rc_retriable(int rc) { return rc == STORE_ERROR || rc == STORE_FULL; }

/* jobs.c */
/* True when storage can take work: the data directory is writable and has more
 * than a small reserve free (looked at no more than every 250 ms); else why says. */
bool jobs_storage_ok(jobs *j, char *why, size_t whylen);
/* job_transition, and when the store cannot write now (busy or full) the event is
 * left to the reporter thread, which retries it: a job whose outcome is not recorded
 * would stay in_progress until its lease runs out. */
int jobs_record(jobs *j, const char *job_id, const job_event *ev);
void jobs_backend_job(jobs *j, const job_record *rec, const char *tiff, const char *pdf, const char *pdf_url,
                      backend_job *bj);
void jobs_resume_or_requeue(jobs *j, const char *job_id, const char *why_msg);
/* the sink backends report into */
report_verdict jobs_on_outcome(void *ctx, const char *job_id, const backend_outcome *o);

#endif
