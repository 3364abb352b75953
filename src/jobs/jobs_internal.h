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

/* One running backend instance. The current one takes new attempts; one that a
 * live settings change replaced is "retired": it keeps its webhook routes and its
 * event threads until every attempt it holds has ended, then it is destroyed. */
typedef struct backend_slot {
    jobs *j;
    const backend_ops *ops;
    backend *be;
    bool retired;
    int users;                   /* webhook handlers and resumes running on it now */
    char (*inflight)[33];        /* job ids with an attempt on this instance */
    int n_inflight, cap_inflight;
    int64_t retired_at;          /* mono_ms */
    /* An inbound source (hooks: ASTERISK_INBOUND_SECRET, …) of a backend that does not
     * send: serves only its .inbound webhooks, sends nothing, and lives as long as the
     * gateway (the reaper never destroys it). */
    bool inbound_only;
    char enabled_by[128];        /* inbound-only: the setting that turned it on */
    struct backend_slot *next;
} backend_slot;

struct jobs {
    const config *cfg;           /* replaced (never freed) by jobs_apply_config */
    store *st;
    blob_store *blobs;
    pthread_mutex_t slot_lock;   /* guards cur, slots and every slot's fields */
    backend_slot *cur;           /* NULL until started, or with dispatch off */
    backend_slot *slots;         /* cur first, then retired ones */
    const backend_ops *ops;      /* the current backend's ops (name for new jobs) */
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


/* jobs_backend.c: starts an inbound-only slot for every backend other than the
 * sending one whose inbound settings are present; 0, or -1 with err (a source whose
 * settings are wrong stops the start). */
int jobs_inbound_sources_start(jobs *j, const config *cfg, char *err, size_t errlen);

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

/* The configuration in force: a live settings change replaces it (jobs_apply_config). */
static inline const config *jobs_cfg(const jobs *j) { return __atomic_load_n(&j->cfg, __ATOMIC_ACQUIRE); }

/* jobs_backend.c: the backend instances */
/* The current slot with an attempt on job_id recorded in it (users unchanged); NULL if none. */
backend_slot *jobs_slot_begin_attempt(jobs *j, const char *job_id);
/* Records that job_id's attempt is held by s (a resume). */
void jobs_slot_track(backend_slot *s, const char *job_id);
/* The attempt ended or did not start (BACKEND_BUSY): forget it. */
void jobs_slot_end_attempt(backend_slot *s, const char *job_id);
/* A live slot named `name` (current first; NULL = the current one) with users+1, or
 * NULL; release with jobs_slot_put. */
backend_slot *jobs_slot_get(jobs *j, const char *name);
void jobs_slot_put(backend_slot *s);
/* Destroys retired slots whose attempts have all ended (called about once a second). */
void jobs_slots_reap(jobs *j);
backend_slot *jobs_slot_new(jobs *j, const backend_ops *ops, backend *be);
void jobs_slots_destroy_all(jobs *j);

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
/* An outcome applied as if the current backend reported it (tests; no instance bookkeeping). */
report_verdict jobs_report_outcome(jobs *j, const char *job_id, const backend_outcome *o);
/* the sink backends report into (ctx: the backend_slot of the instance) */
report_verdict jobs_on_outcome(void *ctx, const char *job_id, const backend_outcome *o);
int jobs_on_receive(void *ctx, const inbound_delivery *d, char *inbound_id, char *err, size_t errlen);
int jobs_on_job_status(void *ctx, const char *job_id, char *status, size_t statuslen);
/* The sink a backend instance on this slot reports through. */
backend_sink jobs_sink(backend_slot *slot);

#endif
