/* reporter.c — the job layer's reporter thread: backend outcomes that could not be
 * recorded at once because the database was busy or full for a moment wait here
 * and are retried (a busy one about 30 s in all, a full disk every 500 ms for as
 * long as a lease lasts: the job would otherwise stay in_progress until it ends),
 * so that the backend's thread that reported them (an AMI or ESL reader, an HTTP
 * handler, a worker) never sleeps on our behalf. Outcomes of one job stay in order: while one waits here, later ones of
 * the same job queue behind it. */
#include "jobs/jobs_internal.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORTER_MAX 10000           /* outcomes waiting at most; more are dropped with a warning */
#define REPORTER_TRIES 10

typedef struct pending {
    struct pending *next;
    char job_id[33];
    job_event ev;
    char *strings[5];            /* the event's own copies of its strings */
    int tries;
    int64_t due;                 /* mono ms */
    int64_t give_up;             /* mono ms: a full store is retried until then */
} pending;

struct reporter {
    jobs *j;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pending *head, *tail;
    int n;
    bool stopping;
};

static void pending_free(pending *p)
{
    for (int i = 0; i < 5; i++) free(p->strings[i]);
    free(p);
}

static const char *keep(pending *p, int slot, const char *s)
{
    if (!s) return NULL;
    p->strings[slot] = strdup(s);
    return p->strings[slot];
}

static int64_t backoff_ms(int tries) { return 500 + 500 * (int64_t)tries; }

bool reporter_holds(reporter *r, const char *job_id)
{
    if (!r) return false;
    pthread_mutex_lock(&r->lock);
    bool found = false;
    for (pending *p = r->head; p && !found; p = p->next) found = !strcmp(p->job_id, job_id);
    pthread_mutex_unlock(&r->lock);
    return found;
}

int reporter_add(reporter *r, const char *job_id, const job_event *ev)
{
    pending *p = r ? calloc(1, sizeof *p) : NULL;
    if (!p) return -1;
    str_copy(p->job_id, sizeof p->job_id, job_id);
    p->ev = *ev;
    p->ev.failure_reason = keep(p, 0, ev->failure_reason);
    p->ev.message = keep(p, 1, ev->message);
    p->ev.provider_sid = keep(p, 2, ev->provider_sid);
    p->ev.remote_station_id = keep(p, 3, ev->remote_station_id);
    p->ev.inbound_id = keep(p, 4, ev->inbound_id);
    p->ev.fetch_token_hash = NULL;
    p->due = mono_ms() + backoff_ms(0);
    p->give_up = mono_ms() + (int64_t)jobs_cfg(r->j)->lease_s * 1000;
    pthread_mutex_lock(&r->lock);
    if (r->n >= REPORTER_MAX || r->stopping) {
        pthread_mutex_unlock(&r->lock);
        pending_free(p);
        return -1;
    }
    if (r->tail) r->tail->next = p; else r->head = p;
    r->tail = p;
    r->n++;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* The first waiting outcome of each job whose time has come is tried; the head of
 * a job blocks the ones behind it. Called with the lock held; drops it to write. */
static void run_due(reporter *r)
{
    int64_t now = mono_ms();
    for (pending *p = r->head, *prev = NULL; p;) {
        bool first_of_job = true;
        for (pending *q = r->head; q != p; q = q->next)
            if (!strcmp(q->job_id, p->job_id)) { first_of_job = false; break; }
        if (!first_of_job || p->due > now) { prev = p; p = p->next; continue; }
        pthread_mutex_unlock(&r->lock);
        char why[256];
        int rc = job_transition(r->j, p->job_id, &p->ev, NULL, why, sizeof why);
        bool full = rc == STORE_FULL;
        bool done = (rc != STORE_ERROR && !full) || r->stopping || (full && mono_ms() >= p->give_up) ||
                    (!full && ++p->tries >= REPORTER_TRIES);
        if (rc != STORE_OK && done)
            log_warn("job %s: backend outcome '%s' not applied: %s", p->job_id, job_event_name(p->ev.kind), why);
        pthread_mutex_lock(&r->lock);
        if (!done) {
            p->due = mono_ms() + (full ? backoff_ms(0) : backoff_ms(p->tries));
            prev = p;
            p = p->next;
            continue;
        }
        pending *next = p->next;      /* only this thread removes entries: prev and p are still linked */
        if (prev) prev->next = next; else r->head = next;
        if (r->tail == p) r->tail = prev;
        r->n--;
        pending_free(p);
        p = next;
    }
}

static void *reporter_main(void *arg)
{
    reporter *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping || r->head) {
        run_due(r);
        if (r->stopping) continue;
        int64_t wait_ms = 1000;
        for (pending *p = r->head; p; p = p->next) {
            int64_t d = p->due - mono_ms();
            if (d < wait_ms) wait_ms = d < 1 ? 1 : d;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&r->wake, &r->lock, &ts);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

reporter *reporter_start(jobs *j)
{
    reporter *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->j = j;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, reporter_main, r)) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    return r;
}

void reporter_stop(reporter *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;          /* what still waits is tried once more, now */
    for (pending *p = r->head; p; p = p->next) p->due = 0;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
