/* jobs_backend.c — the backend instances the job layer runs, and the live swap.
 *
 * A settings change that touches the backend makes a new instance and swaps it in
 * (jobs_swap_backend). Attempts are never moved between instances: a queued job is
 * claimed later and goes to whatever is current then; an attempt already handed to
 * the old instance (a call in progress, a provider submission waiting for its
 * callback) stays recorded in that instance's in-flight list, and its outcomes,
 * webhook routes and event threads keep working until the list is empty. Then the
 * reaper (the scheduler thread, about once a second) destroys it. An in-flight job
 * that ends some other way (cancel, lease expiry) is dropped from the list when the
 * store says it is no longer in_progress on that backend.
 *
 * Inbound sources: a backend other than the sending one whose own inbound settings
 * are present (ASTERISK_INBOUND_SECRET, SINCH_INBOUND_BASIC_USER, …) runs as an
 * inbound-only slot, made at start with its create_inbound: it answers only its
 * .inbound webhooks, stores what it receives under its own name, sends nothing, and
 * is never reaped. So a user can send through Phaxio and receive on their own
 * Asterisk, as with Faxbot; INBOUND_ENABLED still gates what is stored. */
#include "jobs/jobs_internal.h"
#include "auth/audit.h"
#include "util/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

backend_slot *jobs_slot_new(jobs *j, const backend_ops *ops, backend *be)
{
    backend_slot *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->j = j;
    s->ops = ops;
    s->be = be;
    return s;
}

static void inflight_add(backend_slot *s, const char *id)
{
    for (int i = 0; i < s->n_inflight; i++)
        if (!strcmp(s->inflight[i], id)) return;
    if (s->n_inflight == s->cap_inflight) {
        int cap = s->cap_inflight ? s->cap_inflight * 2 : 16;
        void *n = realloc(s->inflight, sizeof *s->inflight * (size_t)cap);
        if (!n) return;
        s->inflight = n;
        s->cap_inflight = cap;
    }
    memcpy(s->inflight[s->n_inflight++], id, 33);
}

static void inflight_remove(backend_slot *s, const char *id)
{
    for (int i = 0; i < s->n_inflight; i++)
        if (!strcmp(s->inflight[i], id)) {
            memmove(s->inflight[i], s->inflight[s->n_inflight - 1], 33);
            s->n_inflight--;
            return;
        }
}

backend_slot *jobs_slot_begin_attempt(jobs *j, const char *job_id)
{
    pthread_mutex_lock(&j->slot_lock);
    backend_slot *s = j->cur;
    if (s && strlen(job_id) == 32) inflight_add(s, job_id);
    pthread_mutex_unlock(&j->slot_lock);
    return s;
}

void jobs_slot_end_attempt(backend_slot *s, const char *job_id)
{
    pthread_mutex_lock(&s->j->slot_lock);
    inflight_remove(s, job_id);
    pthread_mutex_unlock(&s->j->slot_lock);
}

void jobs_slot_track(backend_slot *s, const char *job_id)
{
    pthread_mutex_lock(&s->j->slot_lock);
    inflight_add(s, job_id);
    pthread_mutex_unlock(&s->j->slot_lock);
}

backend_slot *jobs_slot_get(jobs *j, const char *name)
{
    pthread_mutex_lock(&j->slot_lock);
    backend_slot *found = NULL;
    for (backend_slot *s = j->slots; s && !found; s = s->next)
        if (!s->inbound_only && (!name || !strcmp(s->ops->name, name))) found = s;
    if (found) found->users++;
    pthread_mutex_unlock(&j->slot_lock);
    return found;
}

void jobs_slot_put(backend_slot *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->j->slot_lock);
    s->users--;
    pthread_mutex_unlock(&s->j->slot_lock);
}

static void slot_free(backend_slot *s)
{
    if (s->be) s->ops->destroy(s->be);
    free(s->inflight);
    free(s);
}

void jobs_slots_reap(jobs *j)
{
    /* Which ids of retired slots are still in progress on them? Read the store
     * outside the lock, then drop the rest. */
    pthread_mutex_lock(&j->slot_lock);
    bool any = false;
    for (backend_slot *s = j->slots; s; s = s->next) any |= s->retired;
    pthread_mutex_unlock(&j->slot_lock);
    if (!any) return;

    job_record *rec = malloc(sizeof *rec);
    if (!rec) return;
    for (;;) {
        char id[33] = "", name[32] = "";
        pthread_mutex_lock(&j->slot_lock);
        /* one candidate per round: the first id of a retired slot not yet checked in this pass */
        backend_slot *victim = NULL;
        for (backend_slot *s = j->slots; s && !victim; s = s->next)
            if (s->retired && s->n_inflight) victim = s;
        int n = victim ? victim->n_inflight : 0;
        pthread_mutex_unlock(&j->slot_lock);
        if (!victim) break;
        int dropped = 0;
        for (int i = 0; i < n; i++) {
            pthread_mutex_lock(&j->slot_lock);
            if (i < victim->n_inflight) { memcpy(id, victim->inflight[i], 33); str_copy(name, sizeof name, victim->ops->name); }
            else id[0] = 0;
            pthread_mutex_unlock(&j->slot_lock);
            if (!id[0]) break;
            int rc = store_job_get(j->st, id, rec);
            bool still = rc == STORE_ERROR ||
                         (rc == STORE_OK && job_status_get(rec) == JOB_ST_IN_PROGRESS && !strcmp(rec->backend, name));
            if (!still) {
                pthread_mutex_lock(&j->slot_lock);
                inflight_remove(victim, id);
                pthread_mutex_unlock(&j->slot_lock);
                dropped++;
                i--;
                n--;
            }
        }
        if (!dropped) break;      /* everything left is really in flight */
    }
    free(rec);

    for (;;) {
        backend_slot *dead = NULL;
        pthread_mutex_lock(&j->slot_lock);
        for (backend_slot **pp = &j->slots; *pp; pp = &(*pp)->next) {
            backend_slot *s = *pp;
            if (s->retired && s->n_inflight == 0 && s->users == 0) {
                *pp = s->next;
                dead = s;
                break;
            }
        }
        pthread_mutex_unlock(&j->slot_lock);
        if (!dead) break;
        log_info("backend %s: the replaced instance finished its last attempt after %.1f s; stopped",
                 dead->ops->name, (double)(mono_ms() - dead->retired_at) / 1000.0);
        audit_event("backend_retired", "backend", dead->ops->name, NULL);
        slot_free(dead);
    }
}

void jobs_slots_destroy_all(jobs *j)
{
    pthread_mutex_lock(&j->slot_lock);
    backend_slot *s = j->slots;
    j->slots = j->cur = NULL;
    pthread_mutex_unlock(&j->slot_lock);
    while (s) {
        backend_slot *next = s->next;
        slot_free(s);
        s = next;
    }
}

int jobs_swap_backend(jobs *j, const config *cfg, char *err, size_t errlen)
{
    const backend_ops *ops = backend_find(cfg->backend);
    if (!ops) {
        backend_unknown(cfg->backend, err, errlen);
        return -1;
    }
    if (!j->cur) {                 /* dispatch off (a tool): only the name matters */
        j->ops = ops;
        return 0;
    }
    backend_slot *s = jobs_slot_new(j, ops, NULL);
    if (!s) { str_fmt(err, errlen, "out of memory"); return -1; }
    s->be = ops->create(cfg, jobs_sink(s), err, errlen);
    if (!s->be) { free(s); return -1; }
    pthread_mutex_lock(&j->slot_lock);
    backend_slot *old = j->cur;
    old->retired = true;
    old->retired_at = mono_ms();
    int held = old->n_inflight;
    s->next = j->slots;
    j->slots = s;
    j->cur = s;
    __atomic_store_n(&j->ops, ops, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&j->slot_lock);
    log_info("backend swapped live: %s -> %s (%d attempt(s) stay with the old instance until they end)", old->ops->name,
             ops->name, held);
    /* the backend that stopped sending may still be an inbound source by its own settings */
    char why[512];
    if (jobs_inbound_sources_start(j, cfg, why, sizeof why)) log_warn("after the swap: %s", why);
    scheduler_wake(j->sched);
    return 0;
}

int jobs_backend_apply_pbx(jobs *j, json_t *report)
{
    backend_slot *s = jobs_slot_get(j, NULL);
    if (!s) return 1;
    int rc = s->ops->apply_pbx ? s->ops->apply_pbx(s->be, report) : 1;
    jobs_slot_put(s);
    return rc;
}

void jobs_apply_config(jobs *j, const config *cfg)
{
    __atomic_store_n(&j->cfg, cfg, __ATOMIC_RELEASE);
}

int jobs_backend_slots_json(jobs *j, char *out, size_t outlen)
{
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "[");
    pthread_mutex_lock(&j->slot_lock);
    for (backend_slot *s = j->slots; s; s = s->next)
        sb_appendf(&sb, "%s{\"name\":\"%s\",\"state\":\"%s\",\"in_flight\":%d}", s == j->slots ? "" : ",", s->ops->name,
                   s->retired ? "draining" : s->inbound_only ? "inbound" : "active", s->n_inflight);
    pthread_mutex_unlock(&j->slot_lock);
    sb_puts(&sb, "]");
    int rc = str_copy(out, outlen, sb.data ? sb.data : "[]");
    sb_free(&sb);
    return rc;
}

int jobs_inbound_sources_start(jobs *j, const config *cfg, char *err, size_t errlen)
{
    const backend_ops *ops;
    for (int k = 0; (ops = backend_at(k)) != NULL; k++) {
        if (ops == j->ops || !ops->inbound_configured || !ops->create_inbound) continue;
        bool running = false;      /* already a source (a swap starts the missing ones) */
        pthread_mutex_lock(&j->slot_lock);
        for (backend_slot *t = j->slots; t && !running; t = t->next)
            running = t->inbound_only && !t->retired && t->ops == ops;
        pthread_mutex_unlock(&j->slot_lock);
        if (running) continue;
        char why[128];
        if (!ops->inbound_configured(why, sizeof why)) continue;
        backend_slot *s = jobs_slot_new(j, ops, NULL);
        if (!s) { str_fmt(err, errlen, "out of memory"); return -1; }
        s->inbound_only = true;
        str_copy(s->enabled_by, sizeof s->enabled_by, why);
        char msg[512];
        s->be = ops->create_inbound(cfg, jobs_sink(s), msg, sizeof msg);
        if (!s->be) {
            str_fmt(err, errlen, "inbound through %s (%s): %s", ops->name, why, msg);
            free(s);
            return -1;
        }
        pthread_mutex_lock(&j->slot_lock);        /* after the sending slots: never "current" */
        backend_slot **pp = &j->slots;
        while (*pp) pp = &(*pp)->next;
        *pp = s;
        pthread_mutex_unlock(&j->slot_lock);
        for (int i = 0; i < ops->n_webhooks; i++)
            if (ops->webhooks[i].inbound)
                log_info("inbound: %s %s served by %s although FAX_BACKEND=%s (%s)%s", ops->webhooks[i].method,
                         ops->webhooks[i].path, ops->name, j->ops->name, why,
                         cfg->inbound_enabled ? "" : "; INBOUND_ENABLED is false, so it answers 404");
    }
    return 0;
}

int jobs_hooks_list(jobs *j, jobs_hook_info *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&j->slot_lock);
    for (backend_slot *s = j->slots; s; s = s->next)
        for (int i = 0; i < s->ops->n_webhooks && n < max && !(s->inbound_only && s->retired); i++) {
            const backend_webhook *w = &s->ops->webhooks[i];
            if (s->inbound_only && !w->inbound) continue;
            jobs_hook_info *h = &out[n++];
            *h = (jobs_hook_info){.method = w->method, .path = w->path, .inbound = w->inbound,
                                  .sending = !s->inbound_only && !s->retired, .draining = s->retired};
            str_copy(h->backend, sizeof h->backend, s->ops->name);
            if (s->inbound_only) str_copy(h->enabled_by, sizeof h->enabled_by, s->enabled_by);
            else str_fmt(h->enabled_by, sizeof h->enabled_by, "FAX_BACKEND=%s", s->ops->name);
        }
    pthread_mutex_unlock(&j->slot_lock);
    return n;
}

int jobs_inbound_sources_refresh(jobs *j, const config *cfg, bool (*changed)(const char *backend_name),
                                 char *err, size_t errlen)
{
    /* a source whose settings changed, or that is no longer configured, is replaced
     * (retired: the reaper ends it once no request runs on it) */
    pthread_mutex_lock(&j->slot_lock);
    for (backend_slot *s = j->slots; s; s = s->next) {
        if (!s->inbound_only || s->retired) continue;
        char why[128];
        if (changed(s->ops->name) || !s->ops->inbound_configured(why, sizeof why)) {
            s->retired = true;
            s->retired_at = mono_ms();
            log_info("inbound source %s: its settings changed; %s", s->ops->name,
                     s->ops->inbound_configured(why, sizeof why) ? "restarted" : "stopped");
        }
    }
    pthread_mutex_unlock(&j->slot_lock);
    return jobs_inbound_sources_start(j, cfg, err, errlen);
}
