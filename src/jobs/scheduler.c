/* scheduler.c — moves due jobs to workers. One scheduler thread claims queued
 * jobs whose time has come (job_transition CLAIM, a compare-and-set in the store,
 * so a job is never claimed twice) and hands their ids to a fixed pool of worker
 * threads. A worker runs one attempt: convert the upload into a checked TIFF-F
 * (first attempt only), then give it to the backend, which reports the outcome. */
#include "jobs/jobs_internal.h"
#include "document/document.h"
#include "util/util.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_CAP 1024
#define LOW_DISK_BYTES (64LL * 1024 * 1024)    /* below this, a failed conversion is blamed on the disk */

struct scheduler {
    jobs *j;
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

static void fail_attempt(jobs *j, const char *id, const char *reason, bool transient, const char *msg)
{
    job_event ev = {.kind = JEV_FAILED, .failure_reason = reason, .transient = transient, .message = msg,
                    .pages = -1, .duration_s = -1, .bit_rate = -1, .ecm = -1};
    char why[256];
    if (job_transition(j, id, &ev, NULL, why, sizeof why) != STORE_OK)
        log_warn("job %s: could not record the failure: %s", id, why);
}

/* Makes outbound/<id>/document.pdf and fax.tiff from the upload, once. */
static int prepare_document(jobs *j, const job_record *rec, char *pdf, size_t pdflen, char *tiff, size_t tifflen,
                            int *pages, char *err, size_t errlen)
{
    char original[4096];
    if (blob_path(j->blobs, "outbound", rec->id, "original", original, sizeof original) ||
        blob_path(j->blobs, "outbound", rec->id, "document.pdf", pdf, pdflen) ||
        blob_path(j->blobs, "outbound", rec->id, "fax.tiff", tiff, tifflen)) {
        str_fmt(err, errlen, "the job's storage path is not valid");
        return -1;
    }
    tiff_info info;
    char cerr[512];
    if (rec->pages > 0 && file_size(pdf) > 0 && doc_tiff_check_faxable(tiff, &info, cerr, sizeof cerr) == 0) {
        *pages = info.pages;     /* converted in an earlier attempt */
        return 0;
    }
    if (file_size(original) < 0) {
        str_fmt(err, errlen, "the uploaded document is missing from storage");
        return -1;
    }
    char tmp[4096];
    str_fmt(tmp, sizeof tmp, "%s/tmp", j->cfg->data_dir);
    mkdir_p(tmp, 0700);
    convert_limits lim = {.gs_path = j->cfg->gs_path, .timeout_s = j->cfg->convert_timeout_s,
                          .cpu_s = j->cfg->convert_timeout_s, .memory_mb = j->cfg->convert_memory_mb,
                          .max_pages = j->cfg->convert_max_pages, .parallel = j->cfg->convert_parallel,
                          .tmp_dir = tmp};
    fax_resolution res = strcmp(rec->resolution, "standard") ? RES_FINE : RES_STANDARD;
    paper_size paper = strcmp(j->cfg->paper_size, "a4") ? PAPER_LETTER : PAPER_A4;
    int64_t t0 = mono_ms();
    int rc = doc_convert(original, doc_type_from_name(rec->doc_type), pdf, tiff, res, paper, &lim, pages, err, errlen);
    double secs = (double)(mono_ms() - t0) / 1000.0;
    pthread_mutex_lock(&j->stats_lock);
    j->stats.conversions++;
    j->stats.conversion_seconds += secs;
    if (rc) j->stats.conversion_failures++;
    else j->stats.conversion_pages += (uint64_t)*pages;
    pthread_mutex_unlock(&j->stats_lock);
    if (rc) return -1;
    /* The guard: whatever the converter did, only a valid TIFF-F goes on the line. */
    if (doc_tiff_check_faxable(tiff, &info, err, errlen)) return -1;
    *pages = info.pages;
    return 0;
}

static void run_attempt(jobs *j, const char *id)
{
    backend_slot *slot = NULL;
    job_record *rec = malloc(sizeof *rec);
    if (!rec) return;
    if (store_job_get(j->st, id, rec) != STORE_OK || strcmp(rec->status, JOB_IN_PROGRESS)) goto done;

    char pdf[4096], tiff[4096], err[1024] = "";
    int pages = 0;
    if (prepare_document(j, rec, pdf, sizeof pdf, tiff, sizeof tiff, &pages, err, sizeof err)) {
        /* A conversion that failed because our own disk is (nearly) full says nothing
         * about the document: try again later instead of failing the fax for good. */
        int64_t free_bytes = 0;
        char serr[256];
        if (blob_check(j->blobs, &free_bytes, serr, sizeof serr) != 0 || free_bytes < LOW_DISK_BYTES) {
            char msg[1400];
            str_fmt(msg, sizeof msg, "the gateway's disk is (nearly) full, so the document could not be converted: %s", err);
            log_warn("job %s: %s", id, msg);
            fail_attempt(j, id, "storage_full", true, msg);
            goto done;
        }
        log_warn("job %s: conversion failed: %s", id, err);
        fail_attempt(j, id, "conversion_error", false, err);
        goto done;
    }
    job_event prepared = {.kind = JEV_PREPARED, .pages = pages, .duration_s = -1, .bit_rate = -1, .ecm = -1};
    char why[256];
    if (job_transition(j, id, &prepared, rec, why, sizeof why) != STORE_OK) {
        log_warn("job %s: %s", id, why);
        goto done;
    }
    /* A fresh fetch token for providers that download the PDF themselves, recorded
     * (hashed) together with the fact that the submission starts — before the
     * backend is called, so that a crash in between is resolved by asking the
     * provider rather than by sending a second fax. */
    unsigned char raw[24];
    char token[40], token_hash[65], pdf_url[1024] = "";
    random_bytes(raw, sizeof raw);
    base64url_encode(raw, sizeof raw, token);
    sha256_hex(token, strlen(token), token_hash);
    if (j->cfg->public_api_url[0])
        str_fmt(pdf_url, sizeof pdf_url, "%s/fax/%s/pdf?token=%s", j->cfg->public_api_url, rec->id, token);
    job_event submitting = {.kind = JEV_SUBMITTING, .pages = -1, .duration_s = -1, .bit_rate = -1, .ecm = -1,
                            .fetch_token_hash = token_hash,
                            .fetch_token_expires_at = now_ms() + (int64_t)j->cfg->pdf_token_ttl_minutes * 60000};
    /* The instance current now takes the attempt (a live swap later leaves it there). */
    slot = jobs_slot_begin_attempt(j, id);
    if (!slot) goto done;
    submitting.backend = slot->ops->name;
    if (job_transition(j, id, &submitting, rec, why, sizeof why) != STORE_OK) {
        log_warn("job %s: %s", id, why);
        jobs_slot_end_attempt(slot, id);
        goto done;
    }
    backend_job bj;
    jobs_backend_job(j, rec, tiff, pdf, pdf_url[0] ? pdf_url : NULL, &bj);
    int rc = slot->ops->submit(slot->be, &bj);
    if (rc == BACKEND_BUSY) {
        jobs_slot_end_attempt(slot, id);
        slot = NULL;
        job_event deferred = {.kind = JEV_DEFERRED, .pages = -1, .duration_s = -1, .bit_rate = -1, .ecm = -1,
                              .delay_ms = 2000};
        job_transition(j, id, &deferred, NULL, why, sizeof why);
    }
done:
    free(rec);
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

        run_attempt(s->j, id);
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
    jobs *j = s->j;
    char (*ids)[33] = malloc(sizeof(*ids) * (size_t)free_slots);
    if (!ids) return;
    int n = store_job_due(j->st, now_ms(), ids, free_slots);
    for (int i = 0; i < n; i++) {
        job_event ev = {.kind = JEV_CLAIM, .pages = -1, .duration_s = -1, .bit_rate = -1, .ecm = -1};
        char why[256];
        if (job_transition(j, ids[i], &ev, NULL, why, sizeof why) != STORE_OK) continue;  /* lost a race: fine */
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
    char ids[64][33];
    int n = store_job_lease_expired(s->j->st, now_ms(), ids, 64);
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&s->lock);
        bool ours = held_by_us(s, ids[i]);
        pthread_mutex_unlock(&s->lock);
        if (ours) continue;
        /* Asynchronous backends: the result is late, so ask; others: the worker died. */
        jobs_resume_or_requeue(s->j, ids[i], "the previous attempt's lease expired; sending again");
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
            jobs_slots_reap(s->j);
            last_reclaim = mono_ms();
        }
        /* Sleep until woken, or until the next job is due (at most 1 s). */
        int64_t wait_ms = 1000;
        int64_t next = store_job_next_due(s->j->st);
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

scheduler *scheduler_start(jobs *j, char *err, size_t errlen)
{
    scheduler *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->j = j;
    s->n_workers = j->cfg->workers;
    s->queue = calloc(QUEUE_CAP, sizeof *s->queue);
    s->running = calloc((size_t)s->n_workers, sizeof *s->running);
    s->workers = calloc((size_t)s->n_workers, sizeof *s->workers);
    if (!s->queue || !s->running || !s->workers) goto oom;
    for (int i = 0; i < s->n_workers; i++) s->running[i][0] = 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->work, NULL);
    j->sched = s;
    for (int i = 0; i < s->n_workers; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s)) {
            str_fmt(err, errlen, "could not start worker threads: %s", strerror(errno));
            s->n_workers = i;
            scheduler_stop(s);
            return NULL;
        }
    }
    if (pthread_create(&s->thread, NULL, scheduler_main, s)) {
        str_fmt(err, errlen, "could not start the scheduler thread");
        scheduler_stop(s);
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
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    if (s->thread) pthread_join(s->thread, NULL);
    for (int i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
    /* Jobs claimed but never started go back to the queue right away. */
    for (int i = 0; i < s->q_len; i++) {
        job_event ev = {.kind = JEV_INTERRUPTED, .pages = -1, .duration_s = -1, .bit_rate = -1, .ecm = -1,
                        .message = "the gateway stopped before this attempt started"};
        char why[256];
        job_transition(s->j, s->queue[(s->q_head + i) % QUEUE_CAP], &ev, NULL, why, sizeof why);
    }
    s->j->sched = NULL;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->work);
    free(s->queue);
    free(s->running);
    free(s->workers);
    free(s);
}
