/* session.h — the Admin Console's sign-in sessions: an in-memory table from a
 * random session id (the cookie) to the API key it stands for (by id and the hash
 * of its secret, never the key itself), with a CSRF token per session, an idle
 * expiry and an absolute lifetime. Thread-safe and bounded (the oldest session
 * goes when it is full). */
#ifndef FAXBOT_SESSION_H
#define FAXBOT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#define SESSION_ID_LEN 43            /* base64url of 32 random bytes */

typedef struct session_table session_table;

typedef struct session_info {
    char key_id[16];             /* "env" for the bootstrap key */
    char key_hash[65];           /* the key's secret hash at sign-in: a rotated key ends the session */
    char csrf[SESSION_ID_LEN + 1];
    int64_t created_at, last_seen_at;
    int64_t stored_seen_at;      /* last_seen_at as the durable copy has it (see session_lookup) */
    bool touch_due;              /* set by session_lookup: tell the durable copy last_seen_at now */
} session_info;

/* How often a used session's durable copy hears of it (its idle expiry after a
 * restart is at most this much early). */
#define SESSION_TOUCH_MS 60000

session_table *session_table_new(int capacity, int64_t idle_ms, int64_t max_age_ms);
void session_table_free(session_table *t);
/* Makes a session for the key; fills sid (the cookie value) and, if info is given,
 * the session. Returns 0, or -1 if random bytes failed. */
int session_create(session_table *t, const char *key_id, const char *key_hash, int64_t now,
                   char sid[SESSION_ID_LEN + 1], session_info *info);
/* Finds a live session and marks it used at now. Returns 0, or -1 if there is no
 * such session or it expired (an expired one is dropped). */
int session_lookup(session_table *t, const char *sid, int64_t now, session_info *out);
/* Puts back a session kept elsewhere (after a restart) under its id, unless it has
 * expired by now. Returns 0, or -1 (expired, or a bad id). */
int session_restore(session_table *t, const char *sid, const session_info *info, int64_t now);
/* Ends one session; returns 0 if it existed. */
int session_delete(session_table *t, const char *sid);
/* Ends every session of a key (revoked, rotated); returns how many ended. */
int session_delete_key(session_table *t, const char *key_id);

#endif
