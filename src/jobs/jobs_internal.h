/* jobs_internal.h — what jobs.c and scheduler.c share inside the job layer. */
#ifndef FAXBOT_JOBS_INTERNAL_H
#define FAXBOT_JOBS_INTERNAL_H

#include "backend/backend.h"
#include "jobs/jobs.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct scheduler scheduler;
typedef struct retention retention;

struct jobs {
    const config *cfg;
    store *st;
    blob_store *blobs;
    const backend_ops *ops;
    backend *be;
    retry_policy policy;
    scheduler *sched;
    retention *retention;
    pthread_mutex_t stats_lock;
    jobs_stats stats;
    /* the last look at storage (jobs_storage_ok), under stats_lock */
    int64_t storage_checked_at;
    bool storage_ok;
    char storage_why[256];
};

/* scheduler.c */
scheduler *scheduler_start(jobs *j, char *err, size_t errlen);
void scheduler_wake(scheduler *s);
void scheduler_stop(scheduler *s);
int scheduler_busy_workers(scheduler *s);
bool scheduler_stopping(scheduler *s);

/* retention.c */
retention *retention_start(jobs *j);
void retention_stop(retention *r);
/* One pass; returns how many faxes had their files deleted. */
int retention_sweep(jobs *j);

/* jobs.c */
void jobs_backend_job(jobs *j, const job_record *rec, const char *tiff, const char *pdf, const char *pdf_url,
                      backend_job *bj);
void jobs_resume_or_requeue(jobs *j, const char *job_id, const char *why_msg);
/* True when storage can take work: the data directory is writable and has more
 * than a small reserve free (looked at no more than every 250 ms); else why says. */
bool jobs_storage_ok(jobs *j, char *why, size_t whylen);
/* the sink backends report into */
void jobs_on_outcome(void *ctx, const char *job_id, const backend_outcome *o);

#endif
