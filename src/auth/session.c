/* session.c — the console's session table (see session.h): a fixed array under
 * one mutex; a few hundred sessions at most are expected, so a scan is enough. */
#include "auth/session.h"
#include "util/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    bool used;
    char sid[SESSION_ID_LEN + 1];
    session_info info;
} slot;

struct session_table {
    pthread_mutex_t mu;
    slot *slots;
    int capacity;
    int64_t idle_ms, max_age_ms;
};

session_table *session_table_new(int capacity, int64_t idle_ms, int64_t max_age_ms)
{
    session_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->slots = calloc((size_t)capacity, sizeof *t->slots);
    if (!t->slots) { free(t); return NULL; }
    pthread_mutex_init(&t->mu, NULL);
    t->capacity = capacity;
    t->idle_ms = idle_ms;
    t->max_age_ms = max_age_ms;
    return t;
}

void session_table_free(session_table *t)
{
    if (!t) return;
    explicit_bzero(t->slots, (size_t)t->capacity * sizeof *t->slots);
    free(t->slots);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static bool expired(const session_table *t, const slot *s, int64_t now)
{
    return now - s->info.last_seen_at > t->idle_ms || now - s->info.created_at > t->max_age_ms;
}

static int put(session_table *t, const slot *s, int64_t now);

static int random_token(char out[SESSION_ID_LEN + 1])
{
    unsigned char raw[32];
    if (random_bytes(raw, sizeof raw)) return -1;
    base64url_encode(raw, sizeof raw, out);
    explicit_bzero(raw, sizeof raw);
    return 0;
}

int session_create(session_table *t, const char *key_id, const char *key_hash, int64_t now,
                   char sid[SESSION_ID_LEN + 1], session_info *info)
{
    slot s;
    memset(&s, 0, sizeof s);
    if (random_token(s.sid) || random_token(s.info.csrf)) return -1;
    s.used = true;
    str_copy(s.info.key_id, sizeof s.info.key_id, key_id);
    str_copy(s.info.key_hash, sizeof s.info.key_hash, key_hash);
    s.info.created_at = s.info.last_seen_at = s.info.stored_seen_at = now;
    if (put(t, &s, now)) return -1;
    memcpy(sid, s.sid, sizeof s.sid);
    if (info) *info = s.info;
    explicit_bzero(&s, sizeof s);
    return 0;
}

int session_restore(session_table *t, const char *sid, const session_info *info, int64_t now)
{
    if (!sid || strlen(sid) != SESSION_ID_LEN) return -1;
    slot s;
    memset(&s, 0, sizeof s);
    s.used = true;
    str_copy(s.sid, sizeof s.sid, sid);
    s.info = *info;
    s.info.stored_seen_at = info->last_seen_at;
    s.info.touch_due = false;
    int rc = expired(t, &s, now) ? -1 : put(t, &s, now);
    explicit_bzero(&s, sizeof s);
    return rc;
}

/* Into a free (or expired) slot, else the least recently used one's; an old copy of
 * the same id goes. */
static int put(session_table *t, const slot *s, int64_t now)
{
    pthread_mutex_lock(&t->mu);
    int pick = -1, oldest = 0;
    for (int i = 0; i < t->capacity; i++) {
        if (!t->slots[i].used || expired(t, &t->slots[i], now)) { pick = i; break; }
        if (t->slots[i].info.last_seen_at < t->slots[oldest].info.last_seen_at) oldest = i;
    }
    if (pick < 0) pick = oldest;     /* full: the least recently used session ends */
    for (int i = 0; i < t->capacity; i++)
        if (i != pick && t->slots[i].used && !strcmp(t->slots[i].sid, s->sid)) memset(&t->slots[i], 0, sizeof t->slots[i]);
    t->slots[pick] = *s;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static int find(session_table *t, const char *sid)
{
    if (!sid || strlen(sid) != SESSION_ID_LEN) return -1;
    for (int i = 0; i < t->capacity; i++)
        if (t->slots[i].used && secure_streq(t->slots[i].sid, sid)) return i;
    return -1;
}

int session_lookup(session_table *t, const char *sid, int64_t now, session_info *out)
{
    pthread_mutex_lock(&t->mu);
    int i = find(t, sid);
    if (i >= 0 && expired(t, &t->slots[i], now)) {
        memset(&t->slots[i], 0, sizeof t->slots[i]);
        i = -1;
    }
    if (i >= 0) {
        session_info *in = &t->slots[i].info;
        in->last_seen_at = now;
        in->touch_due = now - in->stored_seen_at >= SESSION_TOUCH_MS;
        if (in->touch_due) in->stored_seen_at = now;
        if (out) *out = *in;
    }
    pthread_mutex_unlock(&t->mu);
    return i >= 0 ? 0 : -1;
}

int session_delete(session_table *t, const char *sid)
{
    pthread_mutex_lock(&t->mu);
    int i = find(t, sid);
    if (i >= 0) memset(&t->slots[i], 0, sizeof t->slots[i]);
    pthread_mutex_unlock(&t->mu);
    return i >= 0 ? 0 : -1;
}

int session_delete_key(session_table *t, const char *key_id)
{
    int n = 0;
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < t->capacity; i++)
        if (t->slots[i].used && !strcmp(t->slots[i].info.key_id, key_id)) {
            memset(&t->slots[i], 0, sizeof t->slots[i]);
            n++;
        }
    pthread_mutex_unlock(&t->mu);
    return n;
}
