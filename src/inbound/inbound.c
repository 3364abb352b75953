/* inbound.c — see inbound.h. */
#include "inbound/inbound.h"
#include "store/record_json.h"
#include "auth/audit.h"
#include "document/document.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int64_t inbound_retention_until(const config *cfg, int64_t received_at)
{
    int64_t minutes = cfg->inbound_retention_minutes;
    return minutes > 0 ? received_at + minutes * 60000 : 0;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) { close(in); return -1; }
    int rc = fd_copy(in, out);
    if (fsync(out)) rc = -1;
    close(in);
    if (close(out)) rc = -1;
    return rc;
}

static int place_file(const char *from, const char *to, bool move)
{
    if (move && rename(from, to) == 0) return 0;
    if (copy_file(from, to)) return -1;       /* rename fails across file systems: copy then */
    if (move) unlink(from);
    return 0;
}

void inbound_owner_of(store *st, const config *cfg, const char *to_number, const char *source_job_id, char *out,
                      size_t outlen)
{
    out[0] = 0;
    size_t nlen = to_number ? strlen(to_number) : 0;
    for (const char *p = cfg->inbound_owners; nlen && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && (size_t)(eq - p) == nlen && !memcmp(p, to_number, nlen)) {
            size_t olen = len - nlen - 1;
            if (olen >= outlen) olen = outlen - 1;
            memcpy(out, eq + 1, olen);
            out[olen] = 0;
            return;
        }
        p += len + (end ? 1 : 0);
    }
    if (source_job_id && source_job_id[0]) {      /* loopback: the sender's own fax comes back to it */
        job_record *job = malloc(sizeof *job);
        if (job && store_job_get(st, source_job_id, job) == STORE_OK) str_copy(out, outlen, job->owner);
        free(job);
    }
}

int inbound_store_file(store *st, blob_store *blobs, const config *cfg, const char *path, const char *type, bool move,
                       const inbound_source *src, inbound_record *out, char *err, size_t errlen)
{
    bool is_pdf = type && !strcmp(type, "pdf");
    if (!is_pdf && (!type || strcmp(type, "tiff"))) {
        str_fmt(err, errlen, "an inbound fax must be a PDF or a TIFF");
        return -1;
    }
    tiff_info info = {0};
    char cerr[512];
    if (!is_pdf && doc_tiff_check_faxable(path, &info, cerr, sizeof cerr)) {
        str_fmt(err, errlen, "the received fax image is not usable: %s", cerr);
        return -1;
    }
    inbound_record *rec = calloc(1, sizeof *rec), *existing = calloc(1, sizeof *existing);
    if (!rec || !existing) { free(rec); free(existing); str_fmt(err, errlen, "out of memory"); return -1; }
    int rc = -1;
    new_id_hex32(rec->id);
    char tiff[4096], pdf[4096];
    if (blob_path(blobs, "inbound", rec->id, "fax.tiff", tiff, sizeof tiff) ||
        blob_path(blobs, "inbound", rec->id, "fax.pdf", pdf, sizeof pdf)) {
        str_fmt(err, errlen, "could not prepare storage for the inbound fax");
        goto out;
    }
    if (place_file(path, is_pdf ? pdf : tiff, move)) {
        if (errno == ENOSPC || errno == EDQUOT) rc = -2;
        str_fmt(err, errlen, "could not store the received fax: %s", strerror(errno));
        goto out;
    }
    if (is_pdf) {
        char tmp[4096];
        str_fmt(tmp, sizeof tmp, "%s/tmp", cfg->data_dir);
        mkdir_p(tmp, 0700);
        convert_limits lim = {.gs_path = cfg->gs_path, .timeout_s = cfg->convert_timeout_s, .cpu_s = cfg->convert_timeout_s,
                              .memory_mb = cfg->convert_memory_mb, .max_pages = cfg->convert_max_pages, .parallel = 1,
                              .tmp_dir = tmp};
        if (doc_pdf_page_count(pdf, &lim, &info.pages, cerr, sizeof cerr)) {
            str_fmt(err, errlen, "the received PDF is not readable: %s", cerr);
            goto out;
        }
    } else if (doc_image_to_pdf(tiff, DOC_TIFF, pdf, strcmp(cfg->paper_size, "a4") ? PAPER_LETTER : PAPER_A4,
                                &(convert_limits){.max_pages = 1000}, cerr, sizeof cerr)) {
        str_fmt(err, errlen, "could not make a PDF of the received fax: %s", cerr);
        goto out;
    }
    if (sha256_file_hex(pdf, rec->sha256)) { str_fmt(err, errlen, "could not read back the received fax"); goto out; }
    /* stored (S3: uploaded) before the row says it exists */
    if ((!is_pdf && blob_commit(blobs, "inbound", rec->id, "fax.tiff", err, errlen)) ||   /* a PDF has no TIFF */
        blob_commit(blobs, "inbound", rec->id, "fax.pdf", err, errlen))
        goto out;
    int64_t now = now_ms();
    str_copy(rec->status, sizeof rec->status, "received");
    str_copy(rec->backend, sizeof rec->backend, src->backend);
    str_copy(rec->provider_sid, sizeof rec->provider_sid, src->provider_sid);
    str_copy(rec->from_number, sizeof rec->from_number, src->from_number);
    str_copy(rec->to_number, sizeof rec->to_number, src->to_number);
    str_copy(rec->remote_station_id, sizeof rec->remote_station_id, src->remote_station_id);
    str_copy(rec->source_job_id, sizeof rec->source_job_id, src->source_job_id);
    str_copy(rec->mailbox, sizeof rec->mailbox, src->mailbox);
    inbound_owner_of(st, cfg, src->to_number, src->source_job_id, rec->owner, sizeof rec->owner);
    rec->pages = info.pages;
    rec->size_bytes = file_size(pdf);
    rec->created_at = rec->received_at = rec->updated_at = now;
    rec->retention_until = inbound_retention_until(cfg, now);
    char serr[256] = "";
    char evid[40];
    char *body = NULL;
    store_event sev = {.job_id = "", .inbound_id = rec->id, .owner = rec->owner, .callback_url = ""};
    bool has_event = record_event_make(&sev, evid, &body, "inbound.received", record_inbound_json(rec), NULL, now) == 0;
    int s = store_inbound_insert_ev(st, rec, existing, has_event ? &sev : NULL, serr, sizeof serr);
    free(body);
    if (s == STORE_CONFLICT) {
        blob_remove_all(blobs, "inbound", rec->id);      /* delivered before: keep the first */
        *out = *existing;
        rc = 0;
        goto done;
    }
    if (s != STORE_OK) {
        str_fmt(err, errlen, "could not record the inbound fax: %s", serr);
        if (s == STORE_ERROR || s == STORE_FULL) rc = -2;      /* busy, locked or full: worth another try */
        goto out;
    }
    *out = *rec;
    char pages[16];
    str_fmt(pages, sizeof pages, "%d", rec->pages);
    audit_event("inbound_received", "inbound_id", rec->id, "backend", rec->backend, "from", rec->from_number,
                "to", rec->to_number, "pages", pages, NULL);
    log_info("inbound fax %s received (%d pages, %s)", rec->id, rec->pages, rec->backend);
    rc = 0;
    goto done;
out:
    blob_remove_all(blobs, "inbound", rec->id);
done:
    free(rec);
    free(existing);
    return rc;
}

void inbound_token_make(const char *secret, const char *id, int64_t expires_at, char out[96])
{
    char msg[256], mac[65];
    /* ids are 32 hex characters; anything that does not fit gets no valid token */
    if (str_fmt(msg, sizeof msg, "inbound-pdf:%s:%lld", id, (long long)expires_at)) {
        str_copy(out, 96, "");
        return;
    }
    hmac_sha256_hex(secret, strlen(secret), msg, strlen(msg), mac);
    snprintf(out, 96, "%lld.%.40s", (long long)expires_at, mac);
}

int inbound_token_check(const char *secret, const char *id, const char *token, int64_t now)
{
    if (!token) return -1;
    char *end = NULL;
    long long exp = strtoll(token, &end, 10);
    if (!end || *end != '.' || exp <= 0) return -1;
    char want[96];
    inbound_token_make(secret, id, exp, want);
    if (!want[0] || !secure_streq(want, token)) return -1;
    return now >= exp ? -2 : 0;
}
