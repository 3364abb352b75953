/* ratelimit.c — Faxbot's rate limit: a fixed window per (key, route label) per
 * wall-clock minute (window = now_ms / 60000), counted in memory.
 *
 * The table is split into shards, each a chained hash table under its own mutex, so
 * concurrent requests of different keys rarely contend. Memory stays bounded: when a
 * shard first sees a new minute it drops every entry of other minutes, and a shard
 * that has grown past its share of RL_MAX_ENTRIES stops tracking new (key, label)
 * pairs (they are allowed) until the next minute prunes it. */
#include "auth/ratelimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define RL_SHARDS 16
#define RL_MAX_ENTRIES (1u << 20)              /* whole table; about 100 MB worst case */
#define RL_SHARD_MAX (RL_MAX_ENTRIES / RL_SHARDS)
#define RL_INITIAL_BUCKETS 64

typedef struct rl_entry {
    struct rl_entry *next;
    uint64_t hash;
    int64_t window;
    int count;
    size_t key_len;                            /* bytes of "key\0label" */
    char key[];
} rl_entry;

typedef struct rl_shard {
    pthread_mutex_t lock;
    rl_entry **buckets;
    size_t nbuckets;                           /* power of two */
    size_t count;
    int64_t window;                            /* the minute this shard last pruned for */
    bool full_warned;
} rl_shard;

struct ratelimit {
    rl_shard shards[RL_SHARDS];
};

/* FNV-1a over "key\0label". */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The shard comes from the low bits of the hash, the bucket from higher ones. */
static size_t bucket_of(uint64_t h, size_t nbuckets)
{
    return (size_t)((h >> 8) & (nbuckets - 1));
}

ratelimit *ratelimit_new(void)
{
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    for (int i = 0; i < RL_SHARDS; i++) {
        rl_shard *sh = &rl->shards[i];
        pthread_mutex_init(&sh->lock, NULL);
        sh->nbuckets = RL_INITIAL_BUCKETS;
        sh->buckets = calloc(sh->nbuckets, sizeof *sh->buckets);
        sh->window = INT64_MIN;
        if (!sh->buckets) {
            for (int j = 0; j <= i; j++) {
                free(rl->shards[j].buckets);
                pthread_mutex_destroy(&rl->shards[j].lock);
            }
            free(rl);
            return NULL;
        }
    }
    return rl;
}

static void shard_clear(rl_shard *sh)
{
    for (size_t b = 0; b < sh->nbuckets; b++) {
        rl_entry *e = sh->buckets[b];
        while (e) {
            rl_entry *next = e->next;
            free(e);
            e = next;
        }
        sh->buckets[b] = NULL;
    }
    sh->count = 0;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl) return;
    for (int i = 0; i < RL_SHARDS; i++) {
        shard_clear(&rl->shards[i]);
        free(rl->shards[i].buckets);
        pthread_mutex_destroy(&rl->shards[i].lock);
    }
    free(rl);
}

/* Moves every entry into a new array of `want` buckets; leaves the shard as it is
 * when out of memory. */
static void shard_rehash(rl_shard *sh, size_t want)
{
    rl_entry **nb = calloc(want, sizeof *nb);
    if (!nb) return;
    for (size_t b = 0; b < sh->nbuckets; b++) {
        rl_entry *e = sh->buckets[b];
        while (e) {
            rl_entry *next = e->next;
            size_t i = bucket_of(e->hash, want);
            e->next = nb[i];
            nb[i] = e;
            e = next;
        }
    }
    free(sh->buckets);
    sh->buckets = nb;
    sh->nbuckets = want;
}

/* Drops every entry that is not of `window`; shrinks the bucket array if it is now
 * mostly empty so a past flood does not keep its memory. */
static void shard_prune(rl_shard *sh, int64_t window)
{
    for (size_t b = 0; b < sh->nbuckets; b++) {
        rl_entry **pp = &sh->buckets[b];
        while (*pp) {
            rl_entry *e = *pp;
            if (e->window != window) {
                *pp = e->next;
                free(e);
                sh->count--;
            } else {
                pp = &e->next;
            }
        }
    }
    size_t want = sh->nbuckets;
    while (want > RL_INITIAL_BUCKETS && sh->count < want / 4) want /= 2;
    if (want == sh->nbuckets) return;
    shard_rehash(sh, want);                    /* on no memory: keeps the bigger array, still correct */
}

static void shard_grow(rl_shard *sh)
{
    shard_rehash(sh, sh->nbuckets * 2);        /* on no memory: longer chains, still correct */
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* "key\0label" in stackbuf (or malloc'd when longer); NULL when out of memory. */
static char *join_key(const char *key, const char *label, char *stackbuf, size_t stacklen, size_t *len)
{
    if (!key) key = "";
    if (!label) label = "";
    size_t klen = strlen(key), llen = strlen(label);
    *len = klen + 1 + llen;
    char *joined = *len + 1 <= stacklen ? stackbuf : malloc(*len + 1);
    if (!joined) return NULL;
    memcpy(joined, key, klen);
    joined[klen] = 0;
    memcpy(joined + klen + 1, label, llen + 1);
    return joined;
}

/* The minute window of now; returns the seconds until it ends (>= 1). */
static int window_of(int64_t now, int64_t *window)
{
    *window = floor_div(now, 60000);
    int64_t left_ms = (*window + 1) * 60000 - now;
    int retry = (int)((left_ms + 999) / 1000);
    return retry < 1 ? 1 : retry;
}

/* The entry of key (hash h, len bytes) in bucket bi of sh; NULL if there is none. */
static rl_entry *shard_find(rl_shard *sh, size_t bi, uint64_t h, const char *key, size_t len)
{
    rl_entry *e = sh->buckets[bi];
    while (e && !(e->hash == h && e->key_len == len && !memcmp(e->key, key, len))) e = e->next;
    return e;
}

/* Counts one request of key in sh (locked) for this window; its Retry-After when
 * over the limit, else 0. */
static int shard_hit(rl_shard *sh, uint64_t h, const char *joined, size_t len, int64_t window, int limit, int retry)
{
    if (sh->window != window) {
        shard_prune(sh, window);
        sh->window = window;
        sh->full_warned = false;
    }
    size_t bi = bucket_of(h, sh->nbuckets);
    rl_entry *e = shard_find(sh, bi, h, joined, len);
    if (!e) {
        if (sh->count >= RL_SHARD_MAX) {
            if (!sh->full_warned) log_warn("rate limit table full for this minute; new keys are not limited");
            sh->full_warned = true;
            return 0;
        }
        e = malloc(sizeof *e + len + 1);
        if (!e) return 0;
        e->hash = h;
        e->key_len = len;
        memcpy(e->key, joined, len + 1);
        e->window = window;
        e->count = 0;
        e->next = sh->buckets[bi];
        sh->buckets[bi] = e;
        sh->count++;
        if (sh->count > sh->nbuckets) {
            shard_grow(sh);
        }
    } else if (e->window != window) {
        e->window = window;
        e->count = 0;
    }
    if (e->count >= limit) return retry;
    e->count++;
    return 0;
}

/* The Retry-After key would get in sh (locked) without counting; 0 when under. */
static int shard_peek(rl_shard *sh, uint64_t h, const char *joined, size_t len, int64_t window, int limit, int retry)
{
    rl_entry *e = shard_find(sh, bucket_of(h, sh->nbuckets), h, joined, len);
    return e && e->window == window && e->count >= limit ? retry : 0;
}

/* ratelimit_hit (count) and ratelimit_peek (!count): the shard of key, locked. */
static int ratelimit_check(ratelimit *rl, const char *key, const char *label, int limit, int64_t now, bool count)
{
    if (!rl || limit <= 0) return 0;
    char stackbuf[256];
    size_t len;
    char *joined = join_key(key, label, stackbuf, sizeof stackbuf, &len);
    if (!joined) return 0;                     /* out of memory: fail open, like an untracked key */
    int64_t window;
    int retry = window_of(now, &window);

    uint64_t h = hash_bytes(joined, len);
    rl_shard *sh = &rl->shards[h % RL_SHARDS];
    pthread_mutex_lock(&sh->lock);
    int result = count ? shard_hit(sh, h, joined, len, window, limit, retry)
                       : shard_peek(sh, h, joined, len, window, limit, retry);
    pthread_mutex_unlock(&sh->lock);
    if (joined != stackbuf) free(joined);
    return result;
}

int ratelimit_hit(ratelimit *rl, const char *key, const char *label, int limit, int64_t now)
{
    return ratelimit_check(rl, key, label, limit, now, true);
}

int ratelimit_peek(ratelimit *rl, const char *key, const char *label, int limit, int64_t now)
{
    return ratelimit_check(rl, key, label, limit, now, false);
}

#ifdef RATELIMIT_TESTING
/* For unit tests only: how many (key, label) entries are held. */
size_t ratelimit_size(ratelimit *rl);
size_t ratelimit_size(ratelimit *rl)
{
    size_t n = 0;
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_lock(&rl->shards[i].lock);
        n += rl->shards[i].count;
        pthread_mutex_unlock(&rl->shards[i].lock);
    }
    return n;
}
#endif
