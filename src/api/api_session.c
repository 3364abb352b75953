/* api_session.c — the Admin Console's sessions as the routes use them: the
 * in-memory table (auth/session.c) is the fast path, and every session is also
 * kept in the store (console_sessions, by the SHA-256 of its id, never the id), so
 * a restart of the gateway signs nobody out. A cookie the table does not know is
 * looked up there and put back while it has not expired; use is written back at
 * most once a minute (SESSION_TOUCH_MS); ending a session, or every session of a
 * key, ends both copies. */
#include "api/api_internal.h"
#include "util/util.h"

#include <string.h>

static void sid_hash(const char *sid, char out[65]) { sha256_hex(sid, strlen(sid), out); }

int api_session_create(const principal *who, const char *key_hash, char sid[SESSION_ID_LEN + 1], session_info *s)
{
    int64_t now = now_ms();
    if (session_create(g_console_sessions, who->key_id, key_hash, now, sid, s)) return -1;
    store_session_prune(g_api.st, now - API_SESSION_IDLE_MS, now - API_SESSION_MAX_AGE_MS);
    session_row r;
    memset(&r, 0, sizeof r);
    sid_hash(sid, r.id_hash);
    str_copy(r.key_id, sizeof r.key_id, who->key_id);
    str_copy(r.key_hash, sizeof r.key_hash, key_hash);
    str_copy(r.csrf, sizeof r.csrf, s->csrf);
    r.created_at = r.last_seen_at = now;
    if (store_session_put(g_api.st, &r) != STORE_OK)
        log_warn("console: a sign-in session could not be saved in the database; it lasts until the gateway restarts");
    explicit_bzero(&r, sizeof r);
    return 0;
}

int api_session_lookup(const char *sid, session_info *s)
{
    int64_t now = now_ms();
    char h[65];
    if (session_lookup(g_console_sessions, sid, now, s) != 0) {
        /* not in memory: a session from before a restart (or one the full table let go) */
        if (!sid || strlen(sid) != SESSION_ID_LEN) return -1;
        sid_hash(sid, h);
        session_row r;
        if (store_session_get(g_api.st, h, &r) != STORE_OK) return -1;
        session_info in;
        memset(&in, 0, sizeof in);
        str_copy(in.key_id, sizeof in.key_id, r.key_id);
        str_copy(in.key_hash, sizeof in.key_hash, r.key_hash);
        str_copy(in.csrf, sizeof in.csrf, r.csrf);
        in.created_at = r.created_at;
        in.last_seen_at = r.last_seen_at;
        explicit_bzero(&r, sizeof r);
        int restored = session_restore(g_console_sessions, sid, &in, now);
        explicit_bzero(&in, sizeof in);
        if (restored) { store_session_delete(g_api.st, h); return -1; }
        if (session_lookup(g_console_sessions, sid, now, s) != 0) return -1;
    }
    if (s->touch_due) {
        sid_hash(sid, h);
        store_session_touch(g_api.st, h, now);
    }
    return 0;
}

void api_session_end(const char *sid)
{
    session_delete(g_console_sessions, sid);
    if (!sid || !*sid) return;
    char h[65];
    sid_hash(sid, h);
    store_session_delete(g_api.st, h);
}

void api_sessions_end_key(const char *key_id)
{
    session_delete_key(g_console_sessions, key_id);
    store_session_delete_key(g_api.st, key_id);
}
