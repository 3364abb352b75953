/* retention.c — deletes artifacts when the retention policy says so, and records
 * it on the row (the row itself stays, so the history remains):
 *   - outbound: the upload, PDF and TIFF of finished jobs older than ARTIFACT_TTL_DAYS;
 *   - inbound: the TIFF and PDF of faxes past their retention_until
 *     (INBOUND_RETENTION_DAYS from receipt), or older than ARTIFACT_TTL_DAYS.
 * Runs once at start and then every RETENTION_SWEEP_SECONDS on its own thread, which
 * also records this node's heartbeat every second (store_node_heartbeat). Several
 * nodes sharing a store sweep one at a time: a sweep needs the "retention" lease,
 * taken for one interval, so sweeps anywhere are at least an interval apart and a
 * dead node's turn passes to another. */
#include "jobs/jobs_internal.h"
#include "auth/audit.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct retention {
    jobs *j;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
};

int retention_sweep(jobs *j)
{
    int64_t now = now_ms();
    int removed = 0, n;
    char ids[64][33];
    if (jobs_cfg(j)->artifact_ttl_minutes > 0) {
        int64_t before = now - jobs_cfg(j)->artifact_ttl_minutes * 60000;
        while ((n = store_job_artifacts_expired(j->st, before, ids, 64)) > 0) {
            int done = 0;
            for (int i = 0; i < n; i++) {
                if (blob_remove_all(j->blobs, "outbound", ids[i]) == 0 &&
                    store_job_mark_artifacts_deleted(j->st, ids[i], now) == STORE_OK) {
                    audit_event("job_artifacts_deleted", "job_id", ids[i], NULL);
                    done++;
                }
            }
            removed += done;
            if (done < n) break;     /* do not spin on rows we cannot clear */
        }
    }
    /* Inbound: retention_until is set at receipt; ARTIFACT_TTL applies on top. */
    while ((n = store_inbound_expired(j->st, now, ids, 64)) > 0) {
        int done = 0;
        for (int i = 0; i < n; i++) {
            if (blob_remove_all(j->blobs, "inbound", ids[i]) == 0 &&
                store_inbound_mark_artifacts_deleted(j->st, ids[i], now) == STORE_OK) {
                audit_event("inbound_deleted", "inbound_id", ids[i], "reason", "retention", NULL);
                done++;
            }
        }
        removed += done;
        if (done < n) break;
    }
    if (removed) log_info("retention: deleted the files of %d fax(es)", removed);
    return removed;
}

/* This node's turn to sweep: it got the "retention" lease for one interval. */
static bool my_turn(jobs *j)
{
    store_lease l;
    int64_t interval = (int64_t)jobs_cfg(j)->retention_sweep_s * 1000;
    int rc = store_lease_take(j->st, "retention", now_ms(), interval, &l);
    if (rc == STORE_OK) {
        log_info("retention: sweeping (node %s holds the retention lease)", store_node_id(j->st));
        return true;
    }
    if (rc == STORE_CONFLICT) log_debug("retention: node %s sweeps this interval", l.node_id);
    return false;
}

static void *retention_main(void *arg)
{
    retention *r = arg;
    int64_t next_sweep = 0;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        pthread_mutex_unlock(&r->lock);
        /* every second: this node is alive (several nodes on PostgreSQL read it to
         * know whose leases they may take over); a no-op on SQLite */
        store_node_heartbeat(r->j->st, now_ms());
        if (mono_ms() >= next_sweep) {
            if (my_turn(r->j)) retention_sweep(r->j);
            next_sweep = mono_ms() + (int64_t)jobs_cfg(r->j)->retention_sweep_s * 1000;
        }
        pthread_mutex_lock(&r->lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        while (!r->stopping && pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0) {}
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

retention *retention_start(jobs *j)
{
    retention *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->j = j;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->thread, NULL, retention_main, r)) {
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r);
        return NULL;
    }
    return r;
}

void retention_stop(retention *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}
