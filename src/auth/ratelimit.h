/* ratelimit.h — per-key, per-route fixed one-minute windows (Faxbot's semantics),
 * in memory, thread-safe, bounded in size. */
#ifndef FAXBOT_RATELIMIT_H
#define FAXBOT_RATELIMIT_H

#include <stdint.h>

typedef struct ratelimit ratelimit;

ratelimit *ratelimit_new(void);
void ratelimit_free(ratelimit *rl);
/* Counts one request for (key, label) at time now_ms against limit per minute.
 * Returns 0 if allowed; otherwise the seconds until the window resets (>= 1).
 * limit <= 0 always allows. */
int ratelimit_hit(ratelimit *rl, const char *key, const char *label, int limit, int64_t now_ms);
/* Like ratelimit_hit but counts nothing: the seconds until the window resets if
 * (key, label) has already used its limit in the window of now_ms, else 0. */
int ratelimit_peek(ratelimit *rl, const char *key, const char *label, int limit, int64_t now_ms);

#endif
