/* events.c — starts and stops the webhook dispatcher and the stream hub, prunes
 * the outbox, and keeps the callback signing secret (see events.h). */
#include "events/events.h"
#include "events/sse_hub.h"
#include "events/log_feed.h"
#include "events/webhook_sign.h"
#include "events/webhooks.h"
#include "util/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const events_types[] = {"fax.queued", "fax.progress", "fax.retry_scheduled", "fax.succeeded",
                                    "fax.failed", "fax.cancelled", "inbound.received", NULL};

bool events_type_known(const char *type)
{
    for (int i = 0; events_types[i]; i++)
        if (!strcmp(events_types[i], type)) return true;
    return false;
}

struct events {
    const config *cfg;
    store *st;
    webhooks *wh;
    sse_hub *hub;
    log_feed *logs;
    pthread_t pruner;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, pruner_running;
};

/* Once an hour: events (and finished deliveries) older than EVENTS_RETENTION_DAYS go. */
static void *pruner_main(void *arg)
{
    events *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!e->stop) {
        pthread_mutex_unlock(&e->lock);
        int n = store_event_prune(e->st, now_ms() - (int64_t)e->cfg->events_retention_days * 86400 * 1000);
        if (n > 0) log_info("events: pruned %d event(s) older than %d days", n, e->cfg->events_retention_days);
        pthread_mutex_lock(&e->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 3600;
        while (!e->stop && pthread_cond_timedwait(&e->wake, &e->lock, &until) != ETIMEDOUT) {}
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

events *events_start(const config *cfg, store *st, const char *callback_secret, char *err, size_t errlen)
{
    events *e = calloc(1, sizeof *e);
    if (!e) { str_fmt(err, errlen, "out of memory"); return NULL; }
    e->cfg = cfg;
    e->st = st;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    e->wh = webhooks_start(cfg, st, callback_secret, err, errlen);
    if (!e->wh) goto fail;
    e->hub = sse_hub_start(cfg, st, err, errlen);
    if (!e->hub) goto fail;
    e->logs = log_feed_start(cfg->sse_heartbeat_s);
    if (!e->logs) log_warn("events: the live log stream could not start (no thread); GET /admin/logs/stream answers 503");
    e->pruner_running = pthread_create(&e->pruner, NULL, pruner_main, e) == 0;
    return e;
fail:
    webhooks_stop(e->wh);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->lock);
    free(e);
    return NULL;
}

void events_stop(events *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->lock);
    e->stop = true;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    if (e->pruner_running) pthread_join(e->pruner, NULL);
    log_feed_stop(e->logs);
    sse_hub_stop(e->hub);
    webhooks_stop(e->wh);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

bool events_log_has_room(events *e) { return e->logs && log_feed_has_room(e->logs); }

int events_log_stream_add(events *e, http_stream *s, int64_t after_seq)
{
    if (!e->logs) {
        http_stream_close(s);
        http_stream_release(s);
        return -1;
    }
    return log_feed_add(e->logs, s, after_seq);
}

bool events_stream_has_room(events *e)
{
    return e->cfg->sse_max_streams == 0 || sse_hub_count(e->hub) < e->cfg->sse_max_streams;
}

int events_stream_add(events *e, http_stream *s, int64_t after_seq, unsigned families, const char *owner)
{
    return sse_hub_add(e->hub, s, after_seq, families, owner);
}

int events_stream_count(events *e) { return sse_hub_count(e->hub); }

void events_get_stats(events *e, events_stats *out)
{
    memset(out, 0, sizeof *out);
    webhooks_counts(e->wh, &out->delivered, &out->failed, &out->retried);
    out->streams = sse_hub_count(e->hub);
}

int events_callback_secret(const config *cfg, char out[128], char *err, size_t errlen)
{
    if (cfg->webhook_secret[0]) return str_copy(out, 128, cfg->webhook_secret);
    char path[1200];
    str_fmt(path, sizeof path, "%s/webhook-secret", cfg->data_dir);
    char *data = NULL;
    size_t len = 0;
    if (read_file_all(path, &data, &len, 256) == 0) {
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) len--;
        data[len] = 0;
        int rc = len >= 24 ? str_copy(out, 128, data) : -1;
        free(data);
        if (rc) str_fmt(err, errlen, "%s does not hold a usable secret; delete it to make a new one", path);
        return rc;
    }
    char secret[80];
    if (webhook_secret_new(secret)) { str_fmt(err, errlen, "no random bytes for the webhook secret"); return -1; }
    mode_t old = umask(077);
    int rc = write_file_atomic(path, secret, strlen(secret));
    umask(old);
    if (rc) { str_fmt(err, errlen, "cannot write %s: %s", path, strerror(errno)); return -1; }
    chmod(path, 0600);
    return str_copy(out, 128, secret);
}
