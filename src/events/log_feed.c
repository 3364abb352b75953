/* log_feed.c — the live log stream's fan-out (see log_feed.h). New streams wait in
 * a short list under a lock; only the feed thread walks the open ones. */
#include "events/log_feed.h"
#include "util/util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TICK_MS 200
#define BATCH 64

typedef struct feed_sub {
    struct feed_sub *next;
    http_stream *s;
    int64_t cursor;
    int64_t last_write_ms;
} feed_sub;

struct log_feed {
    pthread_mutex_t lock;
    feed_sub *joining;           /* under lock */
    int count;                   /* under lock */
    bool stop;                   /* under lock */
    int heartbeat_ms;
    pthread_t thread;
    feed_sub *subs;              /* feed thread only */
    log_tap_entry batch[BATCH];
};

/* Log lines of the PBX side: what the SIP (Asterisk) and FreeSWITCH backends and
 * their AMI/ESL clients say. */
static bool is_pbx_line(const char *t)
{
    static const char *const prefixes[] = {"sip", "ami", "asterisk", "freeswitch", "esl", NULL};
    for (int i = 0; prefixes[i]; i++)
        if (!strncasecmp(t, prefixes[i], strlen(prefixes[i]))) return true;
    return false;
}

static bool is_warning_event(const char *ev)
{
    static const char *const words[] = {"failed", "denied", "rejected", "refused", "limited", NULL};
    for (int i = 0; words[i]; i++)
        if (strstr(ev, words[i])) return true;
    return false;
}

char *log_feed_entry_json(const log_tap_entry *e)
{
    char ts[32];
    iso8601_from_ms(e->ts_ms, ts);
    json_t *o = json_pack("{s:I,s:s}", "seq", (json_int_t)e->seq, "ts", ts);
    if (!o) return NULL;
    json_t *audit = !strcmp(e->source, "audit") ? json_loads(e->text, 0, NULL) : NULL;
    if (json_is_object(audit)) {
        char ev[64];
        str_copy(ev, sizeof ev, json_string_value(json_object_get(audit, "event")) ?: "audit");
        json_object_del(audit, "ts");
        json_object_del(audit, "event");
        strbuf msg;
        sb_init(&msg);
        sb_puts(&msg, ev);
        const char *k;
        json_t *v;
        json_object_foreach(audit, k, v) {
            if (json_is_string(v)) sb_appendf(&msg, " %s=%s", k, json_string_value(v));
        }
        json_object_set_new(o, "source", json_string("audit"));
        json_object_set_new(o, "level", json_string(is_warning_event(ev) ? "warn" : "info"));
        json_object_set_new(o, "event", json_string(ev));
        json_t *m = json_string(msg.data ? msg.data : ev);
        json_object_set_new(o, "message", m ? m : json_string(ev));
        json_object_set_new(o, "fields", audit);
        audit = NULL;
        sb_free(&msg);
    } else {
        json_object_set_new(o, "source", json_string(!strcmp(e->source, "audit") ? "audit"
                                                     : is_pbx_line(e->text) ? "pbx" : "gateway"));
        json_object_set_new(o, "level", json_string(e->level));
        /* a line cut inside a UTF-8 character is still shown */
        json_t *m = json_string(e->text);
        json_object_set_new(o, "message", m ? m : json_string("(a line that is not valid UTF-8)"));
    }
    json_decref(audit);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int put(feed_sub *u, const char *data, size_t len)
{
    u->last_write_ms = mono_ms();
    return http_stream_write(u->s, data, len);
}

static void feed_one(log_feed *f, feed_sub *u)
{
    for (;;) {
        int n = log_tap_read(u->cursor, f->batch, BATCH);
        for (int i = 0; i < n; i++) {
            char *json = log_feed_entry_json(&f->batch[i]);
            char *msg = NULL;
            int len = json ? asprintf(&msg, "id: %lld\nevent: log\ndata: %s\n\n", (long long)f->batch[i].seq, json) : -1;
            free(json);
            int rc = len < 0 ? -1 : put(u, msg, (size_t)len);
            if (len >= 0) free(msg);
            u->cursor = f->batch[i].seq;
            if (rc) return;
        }
        if (n < BATCH) return;
    }
}

static void tick(log_feed *f)
{
    pthread_mutex_lock(&f->lock);
    feed_sub *j = f->joining;
    f->joining = NULL;
    pthread_mutex_unlock(&f->lock);
    while (j) {
        feed_sub *next = j->next;
        j->next = f->subs;
        f->subs = j;
        j = next;
    }
    int64_t now = mono_ms();
    feed_sub **pp = &f->subs;
    while (*pp) {
        feed_sub *u = *pp;
        if (!http_stream_closed(u->s)) feed_one(f, u);
        if (!http_stream_closed(u->s) && now - u->last_write_ms >= f->heartbeat_ms) put(u, ": keep-alive\n\n", 14);
        if (http_stream_closed(u->s)) {
            *pp = u->next;
            http_stream_close(u->s);
            http_stream_release(u->s);
            free(u);
            pthread_mutex_lock(&f->lock);
            f->count--;
            pthread_mutex_unlock(&f->lock);
            continue;
        }
        pp = &u->next;
    }
}

static void *feed_main(void *arg)
{
    log_feed *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        bool stop = f->stop;
        pthread_mutex_unlock(&f->lock);
        if (stop) break;
        tick(f);
        sleep_ms(TICK_MS);
    }
    return NULL;
}

log_feed *log_feed_start(int heartbeat_s)
{
    log_feed *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->heartbeat_ms = (heartbeat_s > 0 ? heartbeat_s : 15) * 1000;
    pthread_mutex_init(&f->lock, NULL);
    if (pthread_create(&f->thread, NULL, feed_main, f)) {
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
    }
    return f;
}

static void free_list(feed_sub *u)
{
    while (u) {
        feed_sub *next = u->next;
        http_stream_close(u->s);
        http_stream_release(u->s);
        free(u);
        u = next;
    }
}

void log_feed_stop(log_feed *f)
{
    if (!f) return;
    pthread_mutex_lock(&f->lock);
    f->stop = true;
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    free_list(f->subs);
    free_list(f->joining);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

bool log_feed_has_room(log_feed *f)
{
    pthread_mutex_lock(&f->lock);
    bool room = f->count < LOG_FEED_MAX_STREAMS && !f->stop;
    pthread_mutex_unlock(&f->lock);
    return room;
}

int log_feed_add(log_feed *f, http_stream *s, int64_t after_seq)
{
    feed_sub *u = calloc(1, sizeof *u);
    pthread_mutex_lock(&f->lock);
    if (!u || f->count >= LOG_FEED_MAX_STREAMS || f->stop) {
        pthread_mutex_unlock(&f->lock);
        free(u);
        http_stream_close(s);
        http_stream_release(s);
        return -1;
    }
    u->s = s;
    u->cursor = after_seq;
    u->last_write_ms = mono_ms();
    u->next = f->joining;
    f->joining = u;
    f->count++;
    pthread_mutex_unlock(&f->lock);
    return 0;
}
