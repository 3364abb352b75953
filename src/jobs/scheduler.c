/* scheduler.c — the pool of scheduler.h: one scheduler thread moves due job ids
 * (claimed by the owner, a compare-and-set in the store, so a job is never claimed
 * twice) into a queue that a fixed pool of worker threads drains. */
#include "jobs/scheduler.h"
#include "util/util.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_CAP 1024

struct scheduler {
    scheduler_callbacks cb;
    pthread_t thread;
    pthread_t *workers;
    int n_workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;         /* the scheduler: something may be due */
    pthread_cond_t work;         /* the workers: a job id is in the queue */
    char (*queue)[33];
    int q_head, q_len;
    char (*running)[33];         /* ids our workers hold right now (one slot per worker) */
    int busy;
    bool woken;
    bool stopping;
};

void scheduler_wake(scheduler *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->woken = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

int scheduler_busy_workers(scheduler *s)
{
    pthread_mutex_lock(&s->lock);
    int b = s->busy;
    pthread_mutex_unlock(&s->lock);
    return b;
}

static bool held_by_us(scheduler *s, const char *id)
{
    for (int i = 0; i < s->n_workers; i++)
        if (!strcmp(s->running[i], id)) return true;
    for (int i = 0; i < s->q_len; i++)
        if (!strcmp(s->queue[(s->q_head + i) % QUEUE_CAP], id)) return true;
    return false;
}

static void *worker_main(void *arg)
{
    scheduler *s = arg;
    int slot;
    pthread_mutex_lock(&s->lock);
    for (slot = 0; slot < s->n_workers && s->running[slot][0] != 1; slot++) {}
    s->running[slot][0] = 0;     /* slot taken (marker 1 = free at start) */
    for (;;) {
        while (!s->stopping && s->q_len == 0) pthread_cond_wait(&s->work, &s->lock);
        if (s->stopping) break;
        char id[33];
        memcpy(id, s->queue[s->q_head], 33);
        s->q_head = (s->q_head + 1) % QUEUE_CAP;
        s->q_len--;
        memcpy(s->running[slot], id, 33);
        s->busy++;
        pthread_mutex_unlock(&s->lock);

        s->cb.run(s->cb.ctx, id);
        /* An attempt allocates and frees large image buffers (spandsp, libtiff); give
         * them back to the system so a busy gateway's memory stays flat. */
        malloc_trim(0);

        pthread_mutex_lock(&s->lock);
        s->running[slot][0] = 0;
        s->busy--;
        s->woken = true;         /* a worker is free: look for more due jobs */
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void claim_due(scheduler *s, int free_slots)
{
    job_id_buf *ids = malloc(sizeof(*ids) * (size_t)free_slots);
    if (!ids) return;
    int n = s->cb.claim_due(s->cb.ctx, ids, free_slots);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&s->lock);
        memcpy(s->queue[(s->q_head + s->q_len) % QUEUE_CAP], ids[i], 33);
        s->q_len++;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->lock);
    }
    free(ids);
}

/* A job in_progress whose lease ran out and that none of our workers holds was
 * abandoned (its worker died): put it back in the queue. */
static void reclaim_expired(scheduler *s)
{
    job_id_buf ids[64];
    int n = s->cb.lease_expired(s->cb.ctx, ids, 64);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&s->lock);
        bool ours = held_by_us(s, ids[i]);
        pthread_mutex_unlock(&s->lock);
        if (ours) continue;
        s->cb.abandoned(s->cb.ctx, ids[i]);
    }
}

static void *scheduler_main(void *arg)
{
    scheduler *s = arg;
    int64_t last_reclaim = 0;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        int free_slots = s->n_workers - s->busy - s->q_len;
        pthread_mutex_unlock(&s->lock);

        if (free_slots > 0) claim_due(s, free_slots);
        if (mono_ms() - last_reclaim > 1000) {
            reclaim_expired(s);
            last_reclaim = mono_ms();
        }
        /* Sleep until woken, or until the next job is due (at most 1 s). */
        int64_t wait_ms = 1000;
        int64_t next = s->cb.next_due_at(s->cb.ctx);
        if (next > 0) {
            int64_t d = next - now_ms();
            if (d < wait_ms) wait_ms = d < 5 ? 5 : d;
        }
        pthread_mutex_lock(&s->lock);
        if (!s->woken && !s->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        }
        s->woken = false;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

scheduler *scheduler_start(int workers, const scheduler_callbacks *cb, char *err, size_t errlen)
{
    scheduler *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->cb = *cb;
    s->n_workers = workers > 0 ? workers : 1;
    s->queue = calloc(QUEUE_CAP, sizeof *s->queue);
    s->running = calloc((size_t)s->n_workers, sizeof *s->running);
    s->workers = calloc((size_t)s->n_workers, sizeof *s->workers);
    if (!s->queue || !s->running || !s->workers) goto oom;
    for (int i = 0; i < s->n_workers; i++) s->running[i][0] = 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->work, NULL);
    for (int i = 0; i < s->n_workers; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s)) {
            str_fmt(err, errlen, "could not start worker threads: %s", strerror(errno));
            s->n_workers = i;
            scheduler_stop(s);
            scheduler_free(s);
            return NULL;
        }
    }
    if (pthread_create(&s->thread, NULL, scheduler_main, s)) {
        str_fmt(err, errlen, "could not start the scheduler thread");
        scheduler_stop(s);
        scheduler_free(s);
        return NULL;
    }
    return s;
oom:
    if (s) { free(s->queue); free(s->running); free(s->workers); free(s); }
    str_fmt(err, errlen, "out of memory");
    return NULL;
}

void scheduler_stop(scheduler *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    if (s->stopping) { pthread_mutex_unlock(&s->lock); return; }
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    if (s->thread) pthread_join(s->thread, NULL);
    for (int i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
    /* Jobs claimed but never started go back to their owner. */
    for (int i = 0; i < s->q_len; i++) s->cb.unstarted(s->cb.ctx, s->queue[(s->q_head + i) % QUEUE_CAP]);
    s->q_len = 0;
}

void scheduler_free(scheduler *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->work);
    free(s->queue);
    free(s->running);
    free(s->workers);
    free(s);
}
