/* sse_hub.c — the SSE fan-out (see sse_hub.h). Subscribers live in a list only
 * the hub thread walks; new ones wait in a short list under a lock until the
 * hub takes them in, so no store read ever happens under that lock. */
#include "events/sse_hub.h"
#include "events/events.h"
#include "util/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 100
#define BATCH 256
#define CATCHUP_BATCH 200

typedef struct sub {
    struct sub *next;
    http_stream *s;
    int64_t cursor;              /* the last event this stream has been given (or skipped) */
    unsigned families;
    bool all_owners;
    char owner[128];             /* else: only this owner's work (and inbound faxes of nobody) */
    int64_t last_write_ms;       /* monotonic */
    int64_t stalled_since_ms;    /* catching up but its reader takes nothing (0 = not) */
} sub;

struct sse_hub {
    const config *cfg;
    store *st;
    pthread_mutex_t lock;
    sub *joining;                /* under lock */
    int count;                   /* streams held, under lock */
    bool stop;
    pthread_t thread;
    sub *subs;                   /* hub thread only */
    int64_t cursor;              /* the last event read from the outbox */
    event_row *rows;
    char **msgs;
    size_t *msg_len;
};

static unsigned family_of(const char *type)
{
    if (!strncmp(type, "fax.", 4)) return EVENTS_FAX;
    if (!strncmp(type, "inbound.", 8)) return EVENTS_INBOUND;
    return 0;
}

/* Whether a stream takes an event: its family, and its owner (as GET /fax/{id} and
 * GET /inbound/{id} decide who may see a job or an inbound fax). */
static bool takes(const sub *u, const event_row *e)
{
    unsigned fam = family_of(e->type);
    if (!(fam & u->families)) return false;
    if (u->all_owners) return true;
    if (fam == EVENTS_INBOUND && !e->owner[0]) return true;
    return e->owner[0] && !strcmp(e->owner, u->owner);
}

/* "id: 7\nevent: fax.queued\ndata: {...}\n\n"; the body is one line of compact JSON. */
static char *format_event(const event_row *e, size_t *len)
{
    char *out = NULL;
    int n = asprintf(&out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)e->seq, e->type, e->body);
    if (n < 0) return NULL;
    *len = (size_t)n;
    return out;
}

static int put(sse_hub *h, sub *u, const char *data, size_t len)
{
    bool was_open = !http_stream_closed(u->s);
    int rc = http_stream_write(u->s, data, len);
    u->last_write_ms = mono_ms();
    if (rc && was_open)
        log_info("events: closed a stream that fell more than %d KB behind", h->cfg->sse_max_buffer_kb);
    return rc;
}

/* Feeds a resuming stream from the outbox; true once it has caught up with the hub. */
static bool catch_up(sse_hub *h, sub *u)
{
    size_t limit = (size_t)h->cfg->sse_max_buffer_kb * 1024;
    while (u->cursor < h->cursor) {
        if (http_stream_pending(u->s) > limit / 2) {
            /* let the reader drain it first; one that takes nothing for three
             * heartbeats is as stuck as a live reader that fell behind */
            int64_t now = mono_ms(), stall = (int64_t)h->cfg->sse_heartbeat_s * 3000;
            if (!u->stalled_since_ms) u->stalled_since_ms = now;
            else if (now - u->stalled_since_ms > (stall < 3000 ? 3000 : stall)) {
                http_stream_abort(u->s);
                log_info("events: closed a stream that fell more than %d KB behind (it stopped reading)",
                         h->cfg->sse_max_buffer_kb / 2);
            }
            return false;
        }
        u->stalled_since_ms = 0;
        int n = store_event_list_after(h->st, u->cursor, CATCHUP_BATCH, h->rows);
        if (n <= 0) return n == 0;
        for (int i = 0; i < n && h->rows[i].seq <= h->cursor; i++) {
            if (http_stream_pending(u->s) > limit / 2) break;     /* the rest on a later tick */
            if (takes(u, &h->rows[i])) {
                size_t len;
                char *m = format_event(&h->rows[i], &len);
                if (!m || put(h, u, m, len)) { free(m); event_rows_free(h->rows, n); return false; }
                free(m);
            }
            u->cursor = h->rows[i].seq;
        }
        event_rows_free(h->rows, n);
        if (n < CATCHUP_BATCH || http_stream_pending(u->s) > limit / 2) break;
    }
    if (u->cursor > h->cursor) u->cursor = h->cursor;
    return u->cursor >= h->cursor;
}

static void tick(sse_hub *h)
{
    /* take in new streams */
    pthread_mutex_lock(&h->lock);
    sub *j = h->joining;
    h->joining = NULL;
    pthread_mutex_unlock(&h->lock);
    while (j) {
        sub *next = j->next;
        if (j->cursor < 0) j->cursor = h->cursor;       /* live only */
        j->next = h->subs;
        h->subs = j;
        j = next;
    }
    /* resuming streams first, up to the hub's cursor */
    for (sub *u = h->subs; u; u = u->next)
        if (u->cursor < h->cursor && !http_stream_closed(u->s)) catch_up(h, u);
    /* new events, formatted once */
    int64_t before = h->cursor;
    int n = store_event_list_after(h->st, h->cursor, BATCH, h->rows);
    for (int i = 0; i < n; i++) h->msgs[i] = format_event(&h->rows[i], &h->msg_len[i]);
    if (n > 0) h->cursor = h->rows[n - 1].seq;
    int64_t now = mono_ms(), hb = (int64_t)h->cfg->sse_heartbeat_s * 1000;
    sub **pp = &h->subs;
    while (*pp) {
        sub *u = *pp;
        if (!http_stream_closed(u->s) && u->cursor == before) {
            for (int i = 0; i < n; i++) {
                if (takes(u, &h->rows[i]) && h->msgs[i] &&
                    put(h, u, h->msgs[i], h->msg_len[i]))
                    break;
            }
            u->cursor = h->cursor;
        }
        if (!http_stream_closed(u->s) && now - u->last_write_ms >= hb) put(h, u, ": keep-alive\n\n", 14);
        if (http_stream_closed(u->s)) {
            *pp = u->next;
            http_stream_close(u->s);
            http_stream_release(u->s);
            free(u);
            pthread_mutex_lock(&h->lock);
            h->count--;
            pthread_mutex_unlock(&h->lock);
            continue;
        }
        pp = &u->next;
    }
    for (int i = 0; i < n; i++) free(h->msgs[i]);
    if (n > 0) event_rows_free(h->rows, n);
}

static void *hub_main(void *arg)
{
    sse_hub *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        bool stop = h->stop;
        pthread_mutex_unlock(&h->lock);
        if (stop) break;
        tick(h);
        sleep_ms(TICK_MS);
    }
    return NULL;
}

sse_hub *sse_hub_start(const config *cfg, store *st, char *err, size_t errlen)
{
    sse_hub *h = calloc(1, sizeof *h);
    if (h) {
        h->rows = calloc(BATCH > CATCHUP_BATCH ? BATCH : CATCHUP_BATCH, sizeof *h->rows);
        h->msgs = calloc(BATCH, sizeof *h->msgs);
        h->msg_len = calloc(BATCH, sizeof *h->msg_len);
    }
    if (!h || !h->rows || !h->msgs || !h->msg_len) goto fail;
    h->cfg = cfg;
    h->st = st;
    int64_t last = store_event_last_seq(st);
    h->cursor = last > 0 ? last : 0;
    pthread_mutex_init(&h->lock, NULL);
    if (pthread_create(&h->thread, NULL, hub_main, h)) {
        pthread_mutex_destroy(&h->lock);
        goto fail;
    }
    return h;
fail:
    if (h) { free(h->rows); free(h->msgs); free(h->msg_len); }
    free(h);
    str_fmt(err, errlen, "could not start the event stream hub");
    return NULL;
}

static void free_list(sub *u)
{
    while (u) {
        sub *next = u->next;
        http_stream_close(u->s);
        http_stream_release(u->s);
        free(u);
        u = next;
    }
}

void sse_hub_stop(sse_hub *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    free_list(h->subs);
    free_list(h->joining);
    pthread_mutex_destroy(&h->lock);
    free(h->rows);
    free(h->msgs);
    free(h->msg_len);
    free(h);
}

int sse_hub_add(sse_hub *h, http_stream *s, int64_t after_seq, unsigned families, const char *owner)
{
    sub *u = calloc(1, sizeof *u);
    pthread_mutex_lock(&h->lock);
    bool full = h->cfg->sse_max_streams > 0 && h->count >= h->cfg->sse_max_streams;
    if (!u || full || h->stop) {
        pthread_mutex_unlock(&h->lock);
        free(u);
        http_stream_close(s);
        http_stream_release(s);
        return -1;
    }
    u->s = s;
    u->cursor = after_seq;
    u->families = families;
    u->all_owners = owner == NULL;
    if (owner) str_copy(u->owner, sizeof u->owner, owner);
    u->last_write_ms = mono_ms();
    u->next = h->joining;
    h->joining = u;
    h->count++;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

int sse_hub_count(sse_hub *h)
{
    pthread_mutex_lock(&h->lock);
    int n = h->count;
    pthread_mutex_unlock(&h->lock);
    return n;
}
