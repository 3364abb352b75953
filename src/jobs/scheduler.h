/* scheduler.h — a pool that knows only job ids. One scheduler thread asks its owner
 * (callbacks) for due ids, which the owner claims, and hands them to a fixed pool
 * of worker threads, which run them through the owner's run callback. It also
 * asks, once a second, for ids whose lease ran out and passes on those none of its
 * workers holds. What an attempt is — converting, submitting, recording — is the
 * job layer's business (attempt.c); the pool never sees a job record. */
#ifndef FAXBOT_SCHEDULER_H
#define FAXBOT_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

typedef char job_id_buf[33];

typedef struct scheduler_callbacks {
    /* Claims up to max due jobs for us (they are ours afterwards); returns how many. */
    int (*claim_due)(void *ctx, job_id_buf *ids, int max);
    /* Runs one attempt of a claimed job; called on a worker thread. */
    void (*run)(void *ctx, const char *id);
    /* Jobs whose lease ran out (up to max); returns how many. */
    int (*lease_expired)(void *ctx, job_id_buf *ids, int max);
    /* A job from lease_expired that none of our workers holds: its worker is gone. */
    void (*abandoned)(void *ctx, const char *id);
    /* ms since the epoch when the next queued job is due, or <= 0 if none. */
    int64_t (*next_due_at)(void *ctx);
    /* A claimed job that never reached a worker because the pool stops. */
    void (*unstarted)(void *ctx, const char *id);
    void *ctx;
} scheduler_callbacks;

typedef struct scheduler scheduler;

scheduler *scheduler_start(int workers, const scheduler_callbacks *cb, char *err, size_t errlen);
/* Something may be due now: look without waiting for the timer. NULL is ignored. */
void scheduler_wake(scheduler *s);
int scheduler_busy_workers(scheduler *s);
/* Stops the threads (running attempts finish first) and hands back unstarted ids. */
void scheduler_stop(scheduler *s);
void scheduler_free(scheduler *s);

#endif
