/* jobs.c — job creation, job_transition (the only writer of a job's status), the
 * sink through which backends report outcomes, and recovery of jobs that an
 * earlier process left in_progress. */
#include "jobs/jobs_internal.h"
#include "auth/audit.h"
#include "inbound/inbound.h"
#include "store/record_json.h"
#include "util/util.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void stats_add(jobs *j, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&j->stats_lock);
    *field += n;
    pthread_mutex_unlock(&j->stats_lock);
}

/* The event a transition from cur to next by ev stands for (NULL = none), and for
 * fax.progress the stage of the attempt. */
static const char *event_type_of(const job_record *cur, const job_record *next, const job_event *ev,
                                 const char **stage)
{
    *stage = NULL;
    /* A deferral (no capacity, a full disk) is the gateway's own condition, not news
     * about the fax; it must also go through when the disk has no room for an event. */
    if (ev->kind == JEV_DEFERRED) return NULL;
    if (strcmp(cur->status, next->status)) {
        if (!strcmp(next->status, JOB_SUCCESS)) return "fax.succeeded";
        if (!strcmp(next->status, JOB_FAILED)) return "fax.failed";
        if (!strcmp(next->status, JOB_CANCELLED)) return "fax.cancelled";
        if (!strcmp(next->status, JOB_QUEUED)) return "fax.retry_scheduled";
    }
    switch (ev->kind) {
    case JEV_CLAIM: *stage = "converting"; break;
    case JEV_PREPARED: *stage = "converted"; break;
    case JEV_SUBMITTING: *stage = "dialing"; break;
    case JEV_ACCEPTED: *stage = "submitted"; break;
    case JEV_PROGRESS:
        if (next->pages_sent == cur->pages_sent) return NULL;    /* nothing new to tell */
        *stage = "sending";
        break;
    default: return NULL;
    }
    return "fax.progress";
}

/* The event for a job (as the API shows it) in ev; *body to free. -1 if none. */
static int job_event_make(const job_record *cur, const job_record *next, const job_event *jev, store_event *ev,
                          char id[40], char **body)
{
    const char *stage = NULL;
    const char *type = cur ? event_type_of(cur, next, jev, &stage) : "fax.queued";
    if (!type) return -1;
    memset(ev, 0, sizeof *ev);
    json_t *extra = NULL;
    if (stage) {
        extra = json_pack("{s:{s:s,s:i,s:o}}", "progress", "stage", stage, "pages_sent", next->pages_sent,
                          "pages", next->pages >= 0 ? json_integer(next->pages) : json_null());
    } else if (!strcmp(type, "fax.retry_scheduled")) {
        extra = json_pack("{s:{s:o,s:s,s:s}}", "retry", "next_attempt_at", record_time_json(next->next_attempt_at),
                          "reason", next->failure_reason[0] ? next->failure_reason : "interrupted",
                          "message", next->error);
    }
    if (record_event_make(ev, id, body, type, record_job_json(next), extra, next->updated_at)) return -1;
    ev->job_id = next->id;
    ev->inbound_id = "";
    ev->owner = next->owner;
    ev->callback_url = next->callback_url;
    return 0;
}

/* The attempt history (GET /admin/fax-jobs/{id}): one row per attempt, written when
 * the attempt ends (the job leaves in_progress) — one small write per attempt, none
 * on the way. started_at is when the fax was handed to the backend (0 if it never
 * was). Best effort: the job row is the truth. */
static void record_attempt(jobs *j, const job_record *cur, const job_record *next, const job_event *ev)
{
    if (job_status_get(cur) != JOB_ST_IN_PROGRESS || job_status_get(next) == JOB_ST_IN_PROGRESS) return;
    attempt_record a;
    memset(&a, 0, sizeof a);
    a.started_at = cur->submitted_at;
    a.ended_at = next->updated_at;
    const char *outcome = ev->kind == JEV_DEFERRED ? "deferred" : ev->kind == JEV_INTERRUPTED ? "interrupted"
                        : job_status_get(next) == JOB_ST_QUEUED ? "retry" : next->status;
    str_copy(a.outcome, sizeof a.outcome, outcome);
    str_copy(a.reason, sizeof a.reason, ev->failure_reason ? ev->failure_reason : "");
    str_copy(a.message, sizeof a.message, ev->message ? ev->message : "");
    str_copy(a.backend, sizeof a.backend, cur->backend);
    str_copy(a.provider_sid, sizeof a.provider_sid, next->provider_sid[0] ? next->provider_sid : cur->provider_sid);
    a.pages = next->pages;
    if (store_attempt_record(j->st, next->id, &a) != STORE_OK)
        log_warn("job %s: the attempt history could not be written", next->id);
}

int job_transition(jobs *j, const char *job_id, const job_event *ev, job_record *out, char *why, size_t whylen)
{
    job_record *cur = malloc(sizeof *cur), *next = malloc(sizeof *next);
    int rc = STORE_ERROR;
    if (!cur || !next) { str_fmt(why, whylen, "out of memory"); goto done; }
    for (int tries = 0; tries < 20; tries++) {
        rc = store_job_get(j->st, job_id, cur);
        if (rc != STORE_OK) { str_fmt(why, whylen, rc == STORE_NOT_FOUND ? "Job not found" : "store error"); goto done; }
        if (job_state_apply(cur, ev, &j->policy, now_ms(), next, why, whylen)) { rc = STORE_CONFLICT; goto done; }
        /* The lease names the node that took or renewed it: on a shared store the
         * others leave a live node's attempts alone (store_job_lease_expired). */
        if (job_status_get(next) != JOB_ST_IN_PROGRESS) next->lease_node[0] = 0;
        else if (next->lease_until != cur->lease_until || job_status_get(cur) != JOB_ST_IN_PROGRESS)
            str_copy(next->lease_node, sizeof next->lease_node, store_node_id(j->st));
        char err[256] = "", evid[40];
        char *body = NULL;
        store_event sev;
        bool has_event = job_event_make(cur, next, ev, &sev, evid, &body) == 0;
        rc = store_job_update_if_ev(j->st, next, cur->status, cur->updated_at, has_event ? &sev : NULL, err, sizeof err);
        free(body);
        if (rc == STORE_CONFLICT) continue;   /* someone changed it first: look again */
        if (rc != STORE_OK) { str_fmt(why, whylen, "could not save the job: %s", err); goto done; }

        job_status was = job_status_get(cur), now_st = job_status_get(next);
        pthread_mutex_lock(&j->stats_lock);
        j->stats.transitions++;
        if (was != now_st) {
            if (now_st == JOB_ST_SUCCESS) j->stats.succeeded++;
            else if (now_st == JOB_ST_FAILED) j->stats.failed++;
            else if (now_st == JOB_ST_CANCELLED) j->stats.cancelled++;
            else if (now_st == JOB_ST_QUEUED && ev->kind == JEV_FAILED) j->stats.retried++;
            else if (now_st == JOB_ST_QUEUED && ev->kind == JEV_INTERRUPTED) j->stats.interrupted++;
        }
        pthread_mutex_unlock(&j->stats_lock);

        if (was != now_st) {
            char attempts[16];
            str_fmt(attempts, sizeof attempts, "%d", next->attempts);
            audit_event("job_updated", "job_id", next->id, "status", next->status, "event", job_event_name(ev->kind),
                        "attempts", attempts, "failure_reason", next->failure_reason, NULL);
            log_info("job %s: %s -> %s (%s)%s%s", next->id, cur->status, next->status, job_event_name(ev->kind),
                     next->failure_reason[0] ? " reason=" : "", next->failure_reason);
            if (now_st == JOB_ST_QUEUED && ev->kind != JEV_CANCEL) scheduler_wake(j->sched);
        }
        record_attempt(j, cur, next, ev);
        if (out) *out = *next;
        rc = STORE_OK;
        goto done;
    }
    str_fmt(why, whylen, "the job kept changing under us; try again");
    rc = STORE_ERROR;
done:
    free(cur);
    free(next);
    return rc;
}

int jobs_record(jobs *j, const char *job_id, const job_event *ev)
{
    char why[256] = "";
    int rc = reporter_holds(j->reporter, job_id) ? STORE_ERROR : job_transition(j, job_id, ev, NULL, why, sizeof why);
    if (rc == STORE_ERROR || rc == STORE_FULL) {
        if (reporter_add(j->reporter, job_id, ev) == 0) return STORE_OK;
        log_warn("job %s: '%s' not recorded: %s", job_id, job_event_name(ev->kind),
                 why[0] ? why : "the retry queue is full");
    } else if (rc != STORE_OK) {
        log_info("job %s: '%s' ignored: %s", job_id, job_event_name(ev->kind), why);
    }
    return rc;
}

#define STORAGE_RESERVE_BYTES (1024LL * 1024)
#define STORAGE_CHECK_EVERY_MS 250

bool jobs_storage_ok(jobs *j, char *why, size_t whylen)
{
    pthread_mutex_lock(&j->stats_lock);
    int64_t now = mono_ms();
    bool stale = !j->storage_checked_at || now - j->storage_checked_at >= STORAGE_CHECK_EVERY_MS;
    pthread_mutex_unlock(&j->stats_lock);
    if (stale) {                 /* looked at outside the lock: the probe is a file write */
        int64_t free_bytes = 0;
        char w[256] = "";
        bool ok = blob_check(j->blobs, &free_bytes, w, sizeof w) == 0;
        if (ok && free_bytes < STORAGE_RESERVE_BYTES) {
            str_fmt(w, sizeof w, "only %lld KB free on the data directory's disk", (long long)(free_bytes / 1024));
            ok = false;
        }
        pthread_mutex_lock(&j->stats_lock);
        if (j->storage_checked_at ? ok != j->storage_ok : !ok)
            log_warn(ok ? "storage is available: queued jobs are sent" : "storage unavailable (%s): queued jobs "
                     "wait until it is back", w);
        j->storage_checked_at = mono_ms();
        j->storage_ok = ok;
        str_copy(j->storage_why, sizeof j->storage_why, w);
        pthread_mutex_unlock(&j->stats_lock);
    }
    pthread_mutex_lock(&j->stats_lock);
    bool ok = j->storage_ok;
    str_copy(why, whylen, j->storage_why);
    pthread_mutex_unlock(&j->stats_lock);
    return ok;
}

/* The loopback engine's receiver produced a fax: it becomes an inbound fax. The
 * provider id is derived from the job, so a job sent again after a crash finds
 * the fax stored the first time instead of making a second one. The received
 * file is copied in (kept where it is until the inbound fax is recorded) and
 * removed afterwards either way: no received.tiff is ever left behind. Returns 0,
 * -1 when the copy was not kept, or -2 when it could not be kept for lack of
 * storage or because the database was busy (the delivery is then refused: the job
 * is sent again once it can be kept, and the copy is made then). */
static int keep_received_fax(jobs *j, const backend_ops *ops, const char *job_id, const backend_outcome *o,
                             inbound_record *out)
{
    if (!jobs_cfg(j)->inbound_enabled) {
        unlink(o->received_tiff);
        return -1;
    }
    job_record *rec = malloc(sizeof *rec);
    if (!rec) { unlink(o->received_tiff); return -1; }
    int rc = -1;
    if (store_job_get(j->st, job_id, rec) == STORE_OK) {
        char sid[64], err[512], why[256];
        str_fmt(sid, sizeof sid, "%s-%s", ops->name, job_id);
        inbound_source src = {.backend = ops->name, .provider_sid = sid, .from_number = rec->caller_id,
                              .to_number = rec->to_number, .remote_station_id = jobs_cfg(j)->station_id,
                              .source_job_id = job_id, .mailbox = ""};
        rc = inbound_store_file(j->st, j->blobs, jobs_cfg(j), o->received_tiff, "tiff", false, &src, out, err, sizeof err);
        if (rc && !jobs_storage_ok(j, why, sizeof why)) {
            log_warn("job %s: the received copy cannot be kept while storage is unavailable (%s); the fax will be "
                     "sent again when there is space: %s", job_id, why, err);
            rc = -2;
        } else if (rc == -2) {
            log_warn("job %s: the received copy could not be recorded for the moment; the fax will be sent again: %s",
                     job_id, err);
        } else if (rc) {
            log_warn("job %s: delivered, but the received copy could not be kept: %s", job_id, err);
        }
    }
    unlink(o->received_tiff);
    free(rec);
    return rc;
}

static report_verdict apply_outcome(jobs *j, const backend_ops *ops, const char *job_id, const backend_outcome *o)
{
    job_event ev = {.attempt = o->attempt, .pages = o->pages, .duration_s = o->duration_s, .bit_rate = o->bit_rate,
                    .ecm = o->ecm, .remote_station_id = o->remote_station_id, .provider_sid = o->provider_sid,
                    .failure_reason = o->failure_reason, .message = o->message, .transient = o->transient};
    switch (o->kind) {
    case OUTCOME_ACCEPTED: ev.kind = JEV_ACCEPTED; break;
    case OUTCOME_PROGRESS: ev.kind = JEV_PROGRESS; break;
    case OUTCOME_SUCCESS: ev.kind = JEV_SUCCEEDED; break;
    case OUTCOME_FAILURE: ev.kind = JEV_FAILED; break;
    default: return REPORT_REFUSED;
    }
    if (o->kind == OUTCOME_FAILURE && o->failure_reason && !strcmp(o->failure_reason, "storage_full")) {
        /* the gateway's own disk, not the fax: the job waits, the attempt is not counted */
        ev = job_event_of(JEV_DEFERRED);
        ev.attempt = o->attempt;
        ev.delay_ms = 2000;
        ev.failure_reason = "storage_full";
        ev.message = o->message ? o->message : "waiting for storage";
    }
    inbound_record *in = NULL;
    if (o->kind == OUTCOME_SUCCESS && o->received_tiff) {
        in = calloc(1, sizeof *in);
        int kept = in ? keep_received_fax(j, ops, job_id, o, in) : -1;
        if (kept == 0) ev.inbound_id = in->id;
        if (kept == -2) {            /* refused for lack of storage: waits, attempt not counted */
            ev = job_event_of(JEV_DEFERRED);
            ev.attempt = o->attempt;
            ev.delay_ms = 2000;
            ev.failure_reason = "storage_full";
            ev.message = "waiting for storage: the received copy of the fax could not be stored";
        }
    }
    char why[256] = "";
    /* A database that is locked or full for a moment must not lose an outcome (a
     * lost SUCCESS would let the lease run out and the fax be sent again), nor make
     * the reporting thread sleep: the reporter thread retries it. */
    int rc = reporter_holds(j->reporter, job_id) ? STORE_ERROR : job_transition(j, job_id, &ev, NULL, why, sizeof why);
    report_verdict v = rc == STORE_OK ? REPORT_APPLIED : REPORT_REFUSED;
    if (store_rc_retriable(rc)) {        /* full: kept until the disk has room again */
        if (reporter_add(j->reporter, job_id, &ev) == 0) v = REPORT_LATER;
        else log_warn("job %s: backend outcome '%s' not applied: %s", job_id, job_event_name(ev.kind),
                      why[0] ? why : "the retry queue is full");
    } else if (rc != STORE_OK) {
        log_info("job %s: backend outcome '%s' ignored: %s", job_id, job_event_name(ev.kind), why);
    }
    free(in);
    return v;
}

report_verdict jobs_report_outcome(jobs *j, const char *job_id, const backend_outcome *o)
{
    return apply_outcome(j, j->ops, job_id, o);
}

report_verdict jobs_on_outcome(void *ctx, const char *job_id, const backend_outcome *o)
{
    backend_slot *slot = ctx;
    if (slot->inbound_only) {      /* it sends nothing, so it has no outcome to report */
        log_warn("the inbound-only %s source reported an outcome for job %s: ignored", slot->ops->name,
                 job_id ? job_id : "?");
        return REPORT_REFUSED;
    }
    report_verdict v = apply_outcome(slot->j, slot->ops, job_id, o);
    /* the instance no longer holds an attempt that ended (the reaper also checks the store) */
    if (v != REPORT_REFUSED && (o->kind == OUTCOME_SUCCESS || o->kind == OUTCOME_FAILURE))
        jobs_slot_end_attempt(slot, job_id);
    return v;
}

/* Sink: a job's status, for hooks that must say why a result was not applied. */
int jobs_on_job_status(void *ctx, const char *job_id, char *status, size_t statuslen)
{
    backend_slot *slot = ctx;
    job_record *rec = malloc(sizeof *rec);
    if (!rec) return -1;
    int rc = store_job_get(slot->j->st, job_id, rec) == STORE_OK ? 0 : -1;
    if (rc == 0) str_copy(status, statuslen, rec->status);
    free(rec);
    return rc;
}

/* Sink: a named lease of this node in the shared store (store_lease_take). */
static int jobs_on_lease(void *ctx, const char *name, int ttl_ms, char *holder, size_t holderlen)
{
    backend_slot *slot = ctx;
    store_lease l;
    int rc = store_lease_take(slot->j->st, name, now_ms(), ttl_ms, &l);
    if (holder && holderlen) str_copy(holder, holderlen, l.node_id);
    return rc == STORE_OK ? 1 : rc == STORE_CONFLICT ? 0 : -1;
}

static void jobs_on_lease_release(void *ctx, const char *name)
{
    backend_slot *slot = ctx;
    store_lease_release(slot->j->st, name);
}

backend_sink jobs_sink(backend_slot *slot)
{
    return (backend_sink){.report = jobs_on_outcome, .receive = jobs_on_receive, .job_status = jobs_on_job_status,
                          .lease = jobs_on_lease, .lease_release = jobs_on_lease_release, .ctx = slot};
}

/* Sink: a fax arrived through the backend (webhook, PBX hand-off); stored as
 * coming from that backend (an inbound-only source's own name). */
int jobs_on_receive(void *ctx, const inbound_delivery *d, char *inbound_id, char *err, size_t errlen)
{
    backend_slot *slot = ctx;
    jobs *j = slot->j;
    if (!jobs_cfg(j)->inbound_enabled) {
        str_fmt(err, errlen, "inbound faxes are not enabled (INBOUND_ENABLED=false)");
        return -1;
    }
    inbound_record *rec = malloc(sizeof *rec);
    if (!rec) { str_fmt(err, errlen, "out of memory"); return -1; }
    inbound_source src = {.backend = slot->ops->name, .provider_sid = d->provider_sid, .from_number = d->from_number,
                          .to_number = d->to_number, .remote_station_id = d->remote_station_id,
                          .source_job_id = "", .mailbox = ""};
    int rc = inbound_store_file(j->st, j->blobs, jobs_cfg(j), d->file_path, d->file_type, d->move, &src, rec, err, errlen);
    if (rc == 0 && inbound_id) str_copy(inbound_id, 33, rec->id);
    free(rec);
    return rc;
}

/* The backend job for a stored job: what submit and resume are given. */
void jobs_backend_job(jobs *j, const job_record *rec, const char *tiff, const char *pdf, const char *pdf_url,
                      backend_job *bj)
{
    memset(bj, 0, sizeof *bj);
    bj->job_id = rec->id;
    bj->to = rec->to_number;
    bj->tiff_path = tiff;
    bj->pdf_path = pdf;
    bj->pages = rec->pages;
    bj->fine = strcmp(rec->resolution, "standard") != 0;
    bj->header_text = rec->header_text[0] ? rec->header_text : jobs_cfg(j)->header_text;
    bj->caller_id = rec->caller_id;
    bj->station_id = jobs_cfg(j)->station_id;
    bj->attempt = rec->attempts;
    bj->pdf_url = pdf_url;
    bj->callback_url = rec->callback_url;
    bj->provider_sid = rec->provider_sid;
    bj->submitted_at = rec->submitted_at;
}

/* Asks the backend instance the attempt went to what became of the job's fax (its
 * ops->resume), with the job's files; the slot tracks the job meanwhile. */
static int resume_on_slot(jobs *j, backend_slot *slot, const job_record *rec)
{
    char tiff[4096] = "", pdf[4096] = "";
    blob_fetch(j->blobs, "outbound", rec->id, "fax.tiff");      /* another node may have converted it */
    blob_fetch(j->blobs, "outbound", rec->id, "document.pdf");
    blob_path(j->blobs, "outbound", rec->id, "fax.tiff", tiff, sizeof tiff);
    blob_path(j->blobs, "outbound", rec->id, "document.pdf", pdf, sizeof pdf);
    backend_job bj;
    jobs_backend_job(j, rec, tiff, pdf, NULL, &bj);
    jobs_slot_track(slot, rec->id);
    return slot->ops->resume(slot->be, &bj);
}

/* For an in_progress job whose worker is gone: an asynchronous backend that had the
 * fax in hand is asked what became of it; otherwise the attempt is interrupted and
 * the job goes back to the queue to be sent again. */
void jobs_resume_or_requeue(jobs *j, const char *job_id, const char *why_msg)
{
    job_record *rec = malloc(sizeof *rec);
    if (!rec) return;
    if (store_job_get(j->st, job_id, rec) == STORE_OK && job_status_get(rec) == JOB_ST_IN_PROGRESS) {
        /* the instance the attempt went to (a replaced one while it drains), else none */
        backend_slot *slot = rec->backend[0] ? jobs_slot_get(j, rec->backend) : NULL;
        if (slot && slot->ops->async && slot->ops->resume && rec->submitted_at > 0) {
            int rc = resume_on_slot(j, slot, rec);
            jobs_slot_put(slot);
            if (rc == 0) { free(rec); return; }
            jobs_slot_end_attempt(slot, rec->id);
        } else if (slot) {
            jobs_slot_put(slot);
        }
        job_event ev = job_event_of(JEV_INTERRUPTED);
        ev.message = why_msg;
        char why[256];
        job_transition(j, job_id, &ev, NULL, why, sizeof why);
    }
    free(rec);
}

/* The live instances that own method+path, current first, each with users+1; an
 * inbound-only source owns only its .inbound routes. */
static int webhook_owners(jobs *j, const webhook_request *req, backend_slot **owners, int *index, int max)
{
    int n = 0;
    pthread_mutex_lock(&j->slot_lock);
    for (int pass = 0; pass < 2; pass++)          /* live instances first, then replaced ones */
        for (backend_slot *s = j->slots; s && n < max; s = s->next) {
            if (s->retired != (pass == 1) || (s->retired && s->inbound_only)) continue;   /* a replaced source holds nothing */
            for (int i = 0; i < s->ops->n_webhooks; i++)
                if (!strcmp(s->ops->webhooks[i].method, req->method) && !strcmp(s->ops->webhooks[i].path, req->path)
                    && (!s->inbound_only || s->ops->webhooks[i].inbound)) {
                    s->users++;
                    owners[n] = s;
                    index[n++] = i;
                    break;
                }
        }
    pthread_mutex_unlock(&j->slot_lock);
    return n;
}

int jobs_webhook_dispatch(jobs *j, const webhook_request *req, webhook_response *res)
{
    /* After a swap between two instances of the same backend (new credentials), both
     * own the same routes: the current one answers first; a request it refuses as not
     * its own (401/403: signed with the old secret) goes to the replaced one, which
     * still holds the attempts that request is about. Handlers verify before they act,
     * so asking a second one has no effect of its own. */
    backend_slot *owners[8];
    int index[8];
    int n = webhook_owners(j, req, owners, index, 8);
    if (!n) {
        res->status = 404;
        str_copy(res->body, sizeof res->body, "{\"detail\":\"Not Found\"}");
        return -1;
    }
    webhook_response first = *res;
    for (int k = 0; k < n; k++) {
        webhook_response attempt = first;
        owners[k]->ops->webhooks[index[k]].handle(owners[k]->be, req, &attempt);
        bool refused = attempt.status == 401 || attempt.status == 403;
        if (k == 0 || !refused) *res = attempt;
        if (!refused) break;
    }
    for (int k = 0; k < n; k++) jobs_slot_put(owners[k]);
    return 0;
}

int jobs_backend_diagnose(jobs *j, json_t *report)
{
    backend_slot *s = jobs_slot_get(j, NULL);
    if (!s) {
        json_object_set_new(report, "detail", json_string("backend not started"));
        return -1;
    }
    int rc = s->ops->diagnose ? s->ops->diagnose(s->be, report) : 0;
    jobs_slot_put(s);
    return rc;
}

int jobs_refresh(jobs *j, const char *job_id, char *why, size_t whylen)
{
    job_record *rec = malloc(sizeof *rec);
    if (!rec) { str_fmt(why, whylen, "out of memory"); return STORE_ERROR; }
    int rc = store_job_get(j->st, job_id, rec);
    if (rc != STORE_OK) {
        str_fmt(why, whylen, "Job not found");
    } else if (job_status_get(rec) != JOB_ST_IN_PROGRESS) {
        str_fmt(why, whylen, "the job is %s: only a job in progress can be refreshed", rec->status);
        rc = STORE_CONFLICT;
    } else {
        backend_slot *slot = jobs_slot_get(j, rec->backend);
        if (!slot || !slot->ops->async || !slot->ops->resume || rec->submitted_at <= 0) {
            str_fmt(why, whylen, "Refresh not supported for this backend: %s reports its results itself",
                    slot ? slot->ops->name : rec->backend);
            rc = STORE_ERROR;
        } else {
            if (resume_on_slot(j, slot, rec) != 0) {
                str_fmt(why, whylen, "the backend says this fax never reached the provider");
                rc = STORE_ERROR;
            }
        }
        jobs_slot_put(slot);
    }
    free(rec);
    return rc;
}

int jobs_create(jobs *j, job_record *rec, job_record *existing, char *err, size_t errlen)
{
    int64_t now = now_ms();
    job_status_set(rec, JOB_ST_QUEUED);
    rec->created_at = rec->updated_at = now;
    rec->next_attempt_at = now;
    rec->attempts = 0;
    if (rec->max_attempts <= 0) rec->max_attempts = jobs_cfg(j)->max_attempts;
    str_copy(rec->backend, sizeof rec->backend, jobs_backend_name(j));
    char evid[40];
    char *body = NULL;
    store_event sev;
    bool has_event = job_event_make(NULL, rec, NULL, &sev, evid, &body) == 0;
    int rc = store_job_insert_ev(j->st, rec, existing, has_event ? &sev : NULL, err, errlen);
    free(body);
    if (rc == STORE_OK) {
        stats_add(j, &j->stats.created, 1);
        audit_event("job_created", "job_id", rec->id, "backend", rec->backend, "to", rec->to_number,
                    "doc_type", rec->doc_type, "key_id", rec->api_key_id, NULL);
        scheduler_wake(j->sched);
    }
    return rc;
}

/* The current backend's PBX connection is another node's now (backend_ops.standby). */
static bool backend_standby(jobs *j)
{
    backend_slot *s = jobs_slot_get(j, NULL);
    if (!s) return false;
    bool standby = s->ops->standby && s->ops->standby(s->be);
    jobs_slot_put(s);
    return standby;
}

/* In standby this node cannot follow calls: the attempts whose lease (expired by
 * `by`) names it are made nobody's, so that the node holding the PBX connection
 * takes them over (store_job_lease_expired hands a lease naming no node to any). */
static void hand_over_attempts(jobs *j, int64_t by)
{
    char ids[64][33];
    int n = store_job_lease_expired(j->st, by, ids, 64);
    job_record *rec = malloc(sizeof *rec);
    for (int i = 0; rec && i < n; i++) {
        if (store_job_get(j->st, ids[i], rec) != STORE_OK || strcmp(rec->lease_node, store_node_id(j->st))) continue;
        rec->lease_node[0] = 0;
        char err[256];
        if (store_job_update_if(j->st, rec, rec->status, rec->updated_at, err, sizeof err) == STORE_OK)
            log_info("job %s: its attempt is left to the node holding the PBX connection", rec->id);
    }
    free(rec);
}

static void recover_interrupted(jobs *j)
{
    char (*ids)[33] = malloc(sizeof(*ids) * 256);
    if (!ids) return;
    int total = 0, n;
    int64_t before = now_ms() + 1;
    /* At start no worker of ours holds anything: every in_progress job that names
     * this node (or no node, or a node that stopped its heartbeat) was left by a
     * process that died; on SQLite that is every one. A live node's jobs are its own
     * (store_job_lease_expired leaves them out). Leases are at most lease_s ahead,
     * so one pass over "expired before the far future" sees each such job once. */
    int64_t horizon = before + (int64_t)jobs_cfg(j)->lease_s * 1000 + 1;
    if (backend_standby(j)) {
        hand_over_attempts(j, horizon);
        free(ids);
        return;
    }
    while ((n = store_job_lease_expired(j->st, horizon, ids, 256)) > 0) {
        for (int i = 0; i < n; i++)
            jobs_resume_or_requeue(j, ids[i], "the previous attempt was interrupted by a restart; sending again");
        total += n;
        if (n < 256 || total > 100000) break;
    }
    free(ids);
    if (total) log_info("looked again at %d job(s) left in progress by the last stop", total);
}

/* ---- the pool's callbacks: it knows ids, the job layer knows jobs ---- */

static int pool_claim_due(void *ctx, job_id_buf *ids, int max)
{
    jobs *j = ctx;
    if (backend_standby(j)) return 0;      /* the node holding the PBX connection sends */
    /* nothing is claimed while storage cannot take it: jobs wait, attempts unspent,
     * and the pool looks again within a second */
    char down[256];
    if (!jobs_storage_ok(j, down, sizeof down)) return 0;
    int n = store_job_due(j->st, now_ms(), ids, max), kept = 0;
    for (int i = 0; i < n; i++) {
        job_event ev = job_event_of(JEV_CLAIM);
        char why[256];
        if (job_transition(j, ids[i], &ev, NULL, why, sizeof why) != STORE_OK) continue;  /* lost a race: fine */
        if (kept != i) memcpy(ids[kept], ids[i], sizeof ids[kept]);
        kept++;
    }
    return kept;
}

static void pool_run(void *ctx, const char *id) { jobs_run_attempt(ctx, id); }

static int pool_lease_expired(void *ctx, job_id_buf *ids, int max)
{
    jobs *j = ctx;
    jobs_slots_reap(j);        /* once a second: replaced backend instances that have finished */
    if (backend_standby(j)) {              /* the node holding the PBX connection follows the calls */
        hand_over_attempts(j, now_ms());
        return 0;
    }
    return store_job_lease_expired(j->st, now_ms(), ids, max);
}

/* Asynchronous backends: the result is late, so ask; others: the worker died. */
static void pool_abandoned(void *ctx, const char *id)
{
    jobs_resume_or_requeue(ctx, id, "the previous attempt's lease expired; sending again");
}

static int64_t pool_next_due_at(void *ctx)
{
    jobs *j = ctx;
    /* while storage is down, due jobs are not claimed: look again in a moment
     * instead of every few ms */
    char down[256];
    if (!jobs_storage_ok(j, down, sizeof down)) return now_ms() + STORAGE_CHECK_EVERY_MS * 2;
    if (backend_standby(j)) return now_ms() + 1000;   /* not ours to send: look again in a second */
    return store_job_next_due(j->st);
}

static void pool_unstarted(void *ctx, const char *id)
{
    job_event ev = job_event_of(JEV_INTERRUPTED);
    ev.message = "the gateway stopped before this attempt started";
    char why[256];
    job_transition(ctx, id, &ev, NULL, why, sizeof why);
}

jobs *jobs_start(const config *cfg, store *st, blob_store *blobs, bool dispatch, char *err, size_t errlen)
{
    jobs *j = calloc(1, sizeof *j);
    if (!j) { str_fmt(err, errlen, "out of memory"); return NULL; }
    j->cfg = cfg;
    j->st = st;
    j->blobs = blobs;
    j->policy.base_s = cfg->retry_base_s;
    j->policy.max_s = cfg->retry_max_s;
    j->policy.lease_s = cfg->lease_s;
    pthread_mutex_init(&j->stats_lock, NULL);
    pthread_mutex_init(&j->slot_lock, NULL);
    pthread_mutex_init(&j->convert_lock, NULL);
    j->stats.workers = cfg->workers;
    j->n_converting = cfg->workers > 0 ? cfg->workers : 1;
    j->converting = calloc((size_t)j->n_converting, sizeof *j->converting);
    if (!j->converting) { str_fmt(err, errlen, "out of memory"); goto fail; }
    j->ops = backend_find(cfg->backend);
    if (!j->ops) {
        backend_unknown(cfg->backend, err, errlen);
        goto fail;
    }
    if (!dispatch) return j;
    j->reporter = reporter_start(j);
    if (!j->reporter) { str_fmt(err, errlen, "could not start the reporter thread"); goto fail; }
    backend_slot *slot = jobs_slot_new(j, j->ops, NULL);
    if (!slot) { str_fmt(err, errlen, "out of memory"); goto fail; }
    slot->be = j->ops->create(cfg, jobs_sink(slot), err, errlen);
    if (!slot->be) { free(slot); goto fail; }
    j->cur = j->slots = slot;
    if (jobs_inbound_sources_start(j, cfg, err, errlen)) goto fail;
    store_node_heartbeat(j->st, now_ms());
    recover_interrupted(j);
    j->retention = retention_start(j);
    if (!j->retention) { str_fmt(err, errlen, "could not start the retention thread"); goto fail; }
    if (!cfg->fax_disabled) {
        scheduler_callbacks cb = {.claim_due = pool_claim_due, .run = pool_run, .lease_expired = pool_lease_expired,
                                  .abandoned = pool_abandoned, .next_due_at = pool_next_due_at,
                                  .unstarted = pool_unstarted, .ctx = j};
        j->sched = scheduler_start(cfg->workers, &cb, err, errlen);
        if (!j->sched) goto fail;
    } else {
        log_warn("FAX_DISABLED=true: jobs are accepted and kept queued; nothing is transmitted");
    }
    return j;
fail:
    jobs_stop(j);               /* stops and frees whatever was started */
    return NULL;
}

void jobs_stop(jobs *j)
{
    if (!j) return;
    if (j->sched) {
        scheduler *s = j->sched;
        scheduler_stop(s);
        j->sched = NULL;
        scheduler_free(s);
    }
    retention_stop(j->retention);
    jobs_slots_destroy_all(j);
    reporter_stop(j->reporter);
    pthread_mutex_destroy(&j->stats_lock);
    pthread_mutex_destroy(&j->slot_lock);
    pthread_mutex_destroy(&j->convert_lock);
    free(j->converting);
    free(j);
}

int jobs_backend_check(jobs *j, char *msg, size_t msglen)
{
    backend_slot *s = jobs_slot_get(j, NULL);
    if (!s) { str_fmt(msg, msglen, "backend not started"); return -1; }
    int rc = s->ops->check(s->be, msg, msglen);
    jobs_slot_put(s);
    return rc;
}

int jobs_backend_warning(jobs *j, char *msg, size_t msglen)
{
    backend_slot *s = jobs_slot_get(j, NULL);
    if (!s) return 0;
    int rc = s->ops->warning ? s->ops->warning(s->be, msg, msglen) : 0;
    jobs_slot_put(s);
    return rc;
}

const char *jobs_backend_name(const jobs *j) { return __atomic_load_n(&j->ops, __ATOMIC_ACQUIRE)->name; }

const retry_policy *jobs_policy(const jobs *j) { return &j->policy; }

void jobs_get_stats(jobs *j, jobs_stats *out)
{
    pthread_mutex_lock(&j->stats_lock);
    *out = j->stats;
    pthread_mutex_unlock(&j->stats_lock);
    out->busy_workers = j->sched ? scheduler_busy_workers(j->sched) : 0;
}
