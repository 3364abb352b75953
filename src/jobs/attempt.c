/* attempt.c — one attempt of a job, run on a worker of the pool (scheduler.c):
 * convert the upload into a checked TIFF-F (first attempt only), record that the
 * submission starts (with a fresh fetch token for providers that download the
 * PDF), then give it to the backend, which reports the outcome through the sink. */
#include "jobs/jobs_internal.h"
#include "document/document.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define LOW_DISK_BYTES (64LL * 1024 * 1024)    /* below this, a failed conversion is blamed on the disk */

static void fail_attempt(jobs *j, const char *id, const char *reason, bool transient, const char *msg)
{
    job_event ev = job_event_of(JEV_FAILED);
    ev.failure_reason = reason;
    ev.transient = transient;
    ev.message = msg;
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

void jobs_run_attempt(jobs *j, const char *id)
{
    job_record *rec = malloc(sizeof *rec);
    if (!rec) return;
    if (store_job_get(j->st, id, rec) != STORE_OK || job_status_get(rec) != JOB_ST_IN_PROGRESS) goto done;

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
    job_event prepared = job_event_of(JEV_PREPARED);
    prepared.pages = pages;
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
    job_event submitting = job_event_of(JEV_SUBMITTING);
    submitting.fetch_token_hash = token_hash;
    submitting.fetch_token_expires_at = now_ms() + (int64_t)j->cfg->pdf_token_ttl_minutes * 60000;
    if (job_transition(j, id, &submitting, rec, why, sizeof why) != STORE_OK) {
        log_warn("job %s: %s", id, why);
        goto done;
    }
    backend_job bj;
    jobs_backend_job(j, rec, tiff, pdf, pdf_url[0] ? pdf_url : NULL, &bj);
    int rc = j->ops->submit(j->be, &bj);
    if (rc == BACKEND_BUSY) {
        job_event deferred = job_event_of(JEV_DEFERRED);
        deferred.delay_ms = 2000;
        job_transition(j, id, &deferred, NULL, why, sizeof why);
    }
done:
    free(rec);
}
