/* hooks.c — the webhook routes the gateway serves, and who answers each: the sending
 * backend's own (status callbacks, its inbound), plus the inbound routes of every other
 * backend whose inbound settings are present (ASTERISK_INBOUND_SECRET, …), answered by
 * an inbound-only instance. So a user can send through Phaxio and receive on their own
 * Asterisk, as with Faxbot; INBOUND_ENABLED still gates what is stored. */
#include "jobs/jobs_internal.h"
#include "util/util.h"

#include <string.h>

/* An inbound-only instance sends nothing, so it has no outcome to report. */
static report_verdict source_report(void *ctx, const char *job_id, const backend_outcome *o)
{
    (void)ctx; (void)o;
    log_warn("an inbound-only source reported an outcome for job %s: ignored", job_id ? job_id : "?");
    return REPORT_REFUSED;
}

static int source_receive(void *ctx, const inbound_delivery *d, char *inbound_id, char *err, size_t errlen)
{
    inbound_only *s = ctx;
    return jobs_receive_as(s->j, s->ops->name, d, inbound_id, err, errlen);
}

static int mount(jobs *j, const backend_ops *ops, backend *be, const backend_webhook *wh, const char *enabled_by,
                 char *err, size_t errlen)
{
    for (int i = 0; i < j->n_hooks; i++)
        if (!strcmp(j->hooks[i].path, wh->path) && !strcmp(j->hooks[i].method, wh->method)) {
            str_fmt(err, errlen, "%s %s is claimed by both %s and %s", wh->method, wh->path, j->mounted[i].ops->name,
                    ops->name);
            return -1;
        }
    if (j->n_hooks >= JOBS_MAX_HOOKS) {
        str_fmt(err, errlen, "too many webhook routes");
        return -1;
    }
    j->hooks[j->n_hooks] = *wh;
    j->mounted[j->n_hooks] = (mounted_hook){.ops = ops, .be = be, .wh = wh, .enabled_by = enabled_by};
    j->n_hooks++;
    return 0;
}

int jobs_hooks_start(jobs *j, char *err, size_t errlen)
{
    j->n_hooks = 0;
    str_fmt(j->sending_label, sizeof j->sending_label, "FAX_BACKEND=%s", j->ops->name);
    for (int i = 0; i < j->ops->n_webhooks; i++)
        if (mount(j, j->ops, j->be, &j->ops->webhooks[i], NULL, err, errlen)) return -1;
    const backend_ops *ops;
    for (int k = 0; (ops = backend_at(k)) != NULL; k++) {
        if (ops == j->ops || !ops->inbound_configured || !ops->create_inbound) continue;
        if (j->n_sources >= JOBS_MAX_SOURCES) break;
        inbound_only *s = &j->sources[j->n_sources];
        memset(s, 0, sizeof *s);
        if (!ops->inbound_configured(s->why, sizeof s->why)) continue;
        s->j = j;
        s->ops = ops;
        backend_sink sink = {.report = source_report, .receive = source_receive, .job_status = NULL, .ctx = s};
        char why[512];
        s->be = ops->create_inbound(j->cfg, sink, why, sizeof why);
        if (!s->be) {
            str_fmt(err, errlen, "inbound through %s (%s): %s", ops->name, s->why, why);
            return -1;
        }
        j->n_sources++;
        for (int i = 0; i < ops->n_webhooks; i++) {
            if (!ops->webhooks[i].inbound) continue;
            if (mount(j, ops, s->be, &ops->webhooks[i], s->why, err, errlen)) return -1;
            log_info("inbound: %s %s served by %s although FAX_BACKEND=%s (%s)%s", ops->webhooks[i].method,
                     ops->webhooks[i].path, ops->name, j->ops->name, s->why,
                     j->cfg->inbound_enabled ? "" : "; INBOUND_ENABLED is false, so it answers 404");
        }
    }
    return 0;
}

void jobs_hooks_stop(jobs *j)
{
    for (int i = 0; i < j->n_sources; i++)
        if (j->sources[i].be) j->sources[i].ops->destroy(j->sources[i].be);
    j->n_sources = 0;
    j->n_hooks = 0;
}

void jobs_webhooks(const jobs *j, const backend_webhook **list, int *n)
{
    *list = j->hooks;
    *n = j->n_hooks;
}

void jobs_webhook_handle(jobs *j, int index, const webhook_request *req, webhook_response *res)
{
    if (index < 0 || index >= j->n_hooks || !j->mounted[index].be) {
        webhook_reply_detail(res, 404, "Not Found");
        return;
    }
    j->mounted[index].wh->handle(j->mounted[index].be, req, res);
}

int jobs_hooks_list(const jobs *j, jobs_hook_info *out, int max)
{
    int n = 0;
    for (int i = 0; i < j->n_hooks && n < max; i++, n++) {
        const mounted_hook *m = &j->mounted[i];
        out[n] = (jobs_hook_info){.method = m->wh->method, .path = m->wh->path, .backend = m->ops->name,
                                  .inbound = m->wh->inbound, .sending = m->enabled_by == NULL,
                                  .enabled_by = m->enabled_by ? m->enabled_by : j->sending_label};
    }
    return n;
}
