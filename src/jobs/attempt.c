/* attempt.c — one attempt of a job, run on a worker of the pool (scheduler.c):
 * convert the upload into a checked TIFF-F (first attempt only), record that the
 * submission starts (with a fresh fetch token for providers that download the
 * PDF), then give it to the backend, which reports the outcome through the sink.
 *
 * Two things are the gateway's condition, not the fax's, and never cost a job an
 * attempt (JEV_DEFERRED): storage that is full (the pool claims nothing while it
 * lasts, jobs.c; a conversion that fails on a nearly full disk waits for space) and
 * an owner's share of conversions (CONVERT_PER_OWNER: while another owner has work
 * due, one owner's documents convert at most that many at once, so one client's
 * heavy documents cannot take every worker from the others). */
#include "jobs/jobs_internal.h"
#include "document/document.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define LOW_DISK_BYTES (64LL * 1024 * 1024)    /* below this, a failed conversion is blamed on the disk */
#define STORAGE_WAIT_MS 2000                    /* a job deferred for storage is looked at again after this */
#define DATABASE_WAIT_MS 1000                   /* … and one deferred for an unreachable database */
#define OWNER_WAIT_MS 500                       /* ... and one deferred for its owner's conversion share */
#define PREPARE_OWNER_BUSY 1                    /* prepare_document: the owner's share is taken */
#define PREPARE_STORAGE 2                       /* … the document store (S3) could not be reached */

static void fail_attempt(jobs *j, const char *id, const char *reason, bool transient, const char *msg)
{
    job_event ev = job_event_of(JEV_FAILED);
    ev.failure_reason = reason;
    ev.transient = transient;
    ev.message = msg;
    jobs_record(j, id, &ev);
}

static void defer_attempt(jobs *j, const char *id, int64_t delay_ms, const char *reason, const char *msg)
{
    job_event ev = job_event_of(JEV_DEFERRED);
    ev.delay_ms = delay_ms;
    ev.failure_reason = reason;
    ev.message = msg;
    jobs_record(j, id, &ev);
}

/* Takes a conversion slot for owner unless the owner already holds its share
 * (CONVERT_PER_OWNER). Beyond its share an owner still converts while nobody else
 * has a job due and one worker stays out of its conversions for whoever comes
 * next: a gateway with one client converts as before, one with several shares. */
static bool conversion_begin(jobs *j, const char *owner, int *slot)
{
    int limit = jobs_cfg(j)->convert_per_owner, mine = 0, free_slot = -1;
    const char *name = owner[0] ? owner : "-";
    pthread_mutex_lock(&j->convert_lock);
    for (int i = 0; i < j->n_converting; i++) {
        if (!j->converting[i][0]) { if (free_slot < 0) free_slot = i; continue; }
        if (!strcmp(j->converting[i], name)) mine++;
    }
    pthread_mutex_unlock(&j->convert_lock);
    bool ok = free_slot >= 0 &&
              (mine < limit || (mine + 1 < j->n_converting &&
                                !store_job_other_owner_due(j->st, now_ms() + OWNER_WAIT_MS, owner)));
    pthread_mutex_lock(&j->convert_lock);
    if (ok && j->converting[free_slot][0]) {         /* taken meanwhile: another free one */
        ok = false;
        for (int i = 0; i < j->n_converting && !ok; i++)
            if (!j->converting[i][0]) { free_slot = i; ok = true; }
    }
    if (ok) {
        str_copy(j->converting[free_slot], sizeof j->converting[free_slot], name);
        *slot = free_slot;
    }
    pthread_mutex_unlock(&j->convert_lock);
    return ok;
}

static void conversion_end(jobs *j, int slot)
{
    pthread_mutex_lock(&j->convert_lock);
    j->converting[slot][0] = 0;
    pthread_mutex_unlock(&j->convert_lock);
}

/* Makes outbound/<id>/document.pdf and fax.tiff from the upload, once. */
static int prepare_document(jobs *j, const job_record *rec, char *pdf, size_t pdflen, char *tiff, size_t tifflen,
                            int *pages, char *warning, size_t warninglen, char *err, size_t errlen)
{
    char original[4096];
    /* on S3 another node may have taken the upload (or converted it: pages known) */
    if (rec->pages > 0) {
        blob_fetch(j->blobs, "outbound", rec->id, "document.pdf");
        blob_fetch(j->blobs, "outbound", rec->id, "fax.tiff");
    }
    if (blob_fetch(j->blobs, "outbound", rec->id, "original") < 0) {
        str_fmt(err, errlen, "the uploaded document could not be fetched from storage");
        return PREPARE_STORAGE;
    }
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
    str_fmt(tmp, sizeof tmp, "%s/tmp", jobs_cfg(j)->data_dir);
    mkdir_p(tmp, 0700);
    convert_limits lim = {.gs_path = jobs_cfg(j)->gs_path, .timeout_s = jobs_cfg(j)->convert_timeout_s,
                          .cpu_s = jobs_cfg(j)->convert_timeout_s, .memory_mb = jobs_cfg(j)->convert_memory_mb,
                          .max_pages = jobs_cfg(j)->convert_max_pages, .parallel = jobs_cfg(j)->convert_parallel,
                          .tmp_dir = tmp, .page_errors_warn = jobs_cfg(j)->convert_page_errors_warn,
                          .warning = warning, .warning_len = warninglen};
    fax_resolution res = strcmp(rec->resolution, "standard") ? RES_FINE : RES_STANDARD;
    paper_size paper = strcmp(jobs_cfg(j)->paper_size, "a4") ? PAPER_LETTER : PAPER_A4;
    int slot = -1;
    if (!conversion_begin(j, rec->owner, &slot)) return PREPARE_OWNER_BUSY;
    int64_t t0 = mono_ms();
    /* several files of one POST /fax (original, original.2, …) become one fax, in order */
    char more[9][4096];
    const char *files[10] = {original};
    int n_files = 1;
    for (int i = 2; i <= 10; i++) {
        char name[32];
        str_fmt(name, sizeof name, "original.%d", i);
        if (blob_path(j->blobs, "outbound", rec->id, name, more[i - 2], sizeof more[i - 2]) || file_size(more[i - 2]) < 0)
            break;
        files[n_files++] = more[i - 2];
    }
    int rc = n_files > 1 ? doc_convert_many(files, n_files, pdf, tiff, res, paper, &lim, pages, err, errlen)
                         : doc_convert(original, doc_type_from_name(rec->doc_type), pdf, tiff, res, paper, &lim, pages,
                                       err, errlen);
    conversion_end(j, slot);
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
    /* on S3 the converted files are kept for other nodes and later attempts */
    if (blob_commit(j->blobs, "outbound", rec->id, "document.pdf", err, errlen) ||
        blob_commit(j->blobs, "outbound", rec->id, "fax.tiff", err, errlen))
        return PREPARE_STORAGE;
    return 0;
}

void jobs_run_attempt(jobs *j, const char *id)
{
    job_record *rec = malloc(sizeof *rec);
    if (!rec) return;
    int grc = store_job_get(j->st, id, rec);
    if (store_rc_retriable(grc)) {
        /* claimed, then the database went away (a PostgreSQL restart): give the claim
         * back, unspent, once the store answers, rather than hold it for a lease */
        defer_attempt(j, id, DATABASE_WAIT_MS, NULL, "waiting for the database");
        goto done;
    }
    if (grc != STORE_OK || job_status_get(rec) != JOB_ST_IN_PROGRESS) goto done;

    char pdf[4096], tiff[4096], err[1024] = "", warning[512] = "";
    int pages = 0;
    int prc = prepare_document(j, rec, pdf, sizeof pdf, tiff, sizeof tiff, &pages, warning, sizeof warning, err,
                               sizeof err);
    if (prc == PREPARE_OWNER_BUSY) {         /* its owner's other documents go first; not an attempt */
        defer_attempt(j, id, OWNER_WAIT_MS, NULL, NULL);
        goto done;
    }
    if (prc == PREPARE_STORAGE) {            /* the document store is away: wait, no attempt spent */
        log_warn("job %s: %s", id, err);
        defer_attempt(j, id, STORAGE_WAIT_MS, NULL, "waiting for the document store");
        goto done;
    }
    if (prc) {
        /* A conversion that failed because our own disk is (nearly) full says nothing
         * about the document: it waits for space, without spending an attempt. */
        int64_t free_bytes = 0;
        char serr[256];
        if (blob_check(j->blobs, &free_bytes, serr, sizeof serr) != 0 || free_bytes < LOW_DISK_BYTES) {
            char msg[1400];
            str_fmt(msg, sizeof msg, "waiting for disk space: the gateway's disk is (nearly) full, so the document "
                    "could not be converted: %s", err);
            log_warn("job %s: %s", id, msg);
            defer_attempt(j, id, STORAGE_WAIT_MS, "storage_full", msg);
            goto done;
        }
        log_warn("job %s: conversion failed: %s", id, err);
        fail_attempt(j, id, "conversion_error", false, err);
        goto done;
    }
    if (warning[0]) log_warn("job %s: %s", id, warning);
    job_event prepared = job_event_of(JEV_PREPARED);
    prepared.pages = pages;
    prepared.warning = warning[0] ? warning : NULL;
    char why[256];
    int trc = job_transition(j, id, &prepared, rec, why, sizeof why);
    if (trc != STORE_OK) {
        log_warn("job %s: %s", id, why);
        /* not recorded for lack of storage, or the database could not be reached (a
         * PostgreSQL restart): the job waits, its attempt unspent, instead of holding
         * its lease (the reporter records the deferral once the store answers) */
        if (trc == STORE_FULL) defer_attempt(j, id, STORAGE_WAIT_MS, "storage_full", "waiting for disk space");
        else if (trc == STORE_ERROR) defer_attempt(j, id, DATABASE_WAIT_MS, NULL, "waiting for the database");
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
    if (jobs_cfg(j)->public_api_url[0])
        str_fmt(pdf_url, sizeof pdf_url, "%s/fax/%s/pdf?token=%s", jobs_cfg(j)->public_api_url, rec->id, token);
    job_event submitting = job_event_of(JEV_SUBMITTING);
    submitting.fetch_token_hash = token_hash;
    submitting.fetch_token_expires_at = now_ms() + (int64_t)jobs_cfg(j)->pdf_token_ttl_minutes * 60000;
    /* The instance current now takes the attempt (a live swap later leaves it there). */
    backend_slot *slot = jobs_slot_begin_attempt(j, id);
    if (!slot) goto done;
    submitting.backend = slot->ops->name;
    trc = job_transition(j, id, &submitting, rec, why, sizeof why);
    if (trc != STORE_OK) {
        log_warn("job %s: %s", id, why);
        jobs_slot_end_attempt(slot, id);
        if (trc == STORE_FULL) defer_attempt(j, id, STORAGE_WAIT_MS, "storage_full", "waiting for disk space");
        else if (trc == STORE_ERROR) defer_attempt(j, id, DATABASE_WAIT_MS, NULL, "waiting for the database");
        goto done;
    }
    /* S3_PRESIGNED_URLS: providers fetch the PDF from S3 itself, through a presigned
     * GET marked (and signed) with the attempt, instead of our tokenized link */
    if (jobs_cfg(j)->s3_presigned_urls && !strcmp(blob_kind(j->blobs), "s3")) {
        char attempt_no[16], presigned[sizeof pdf_url];
        str_fmt(attempt_no, sizeof attempt_no, "%d", rec->attempts);
        if (blob_presign(j->blobs, "outbound", id, "document.pdf", "attempt", attempt_no,
                         jobs_cfg(j)->s3_presigned_ttl_s, presigned, sizeof presigned) == 0)
            str_copy(pdf_url, sizeof pdf_url, presigned);
        else
            log_warn("job %s: could not presign the PDF's S3 URL; the provider gets the tokenized link", id);
    }
    backend_job bj;
    jobs_backend_job(j, rec, tiff, pdf, pdf_url[0] ? pdf_url : NULL, &bj);
    int rc = slot->ops->submit(slot->be, &bj);
    if (rc == BACKEND_BUSY) {
        jobs_slot_end_attempt(slot, id);
        job_event deferred = job_event_of(JEV_DEFERRED);
        deferred.delay_ms = 2000;
        job_transition(j, id, &deferred, NULL, why, sizeof why);
    }
done:
    free(rec);
}
