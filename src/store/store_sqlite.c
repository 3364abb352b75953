/* store_sqlite.c — the store.h interface on SQLite, the embedded default.
 *
 * Durability: WAL journal, synchronous=FULL (a fax gateway must not forget an
 * accepted job, not even on power loss), busy_timeout 5 s, foreign keys on.
 * Concurrency: a small pool of connections, each opened NOMUTEX and used by one
 * thread at a time; a thread takes one from the free list (waiting if all are busy)
 * and gives it back after the call. Every connection prepares its statements once,
 * lazily, and reuses them with sqlite3_reset, so a job read by id is a few
 * microseconds. Writers serialize on SQLite's own write lock.
 * Schema: versioned with PRAGMA user_version; `migrations` is append-only.
 * Records map field by field onto columns through the descriptor tables below, so
 * SELECT, INSERT and UPDATE can never disagree about the column order. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store_cols.h"
#include "store/store_impl.h"
#include "util/util.h"

#define POOL_MAX 16
#define BUSY_TIMEOUT_MS 5000
#define LIST_MAX 501     /* the API asks one more than a page to know if more exist */
#define TOUCH_COALESCE_MS 60000

/* ---- schema ---- */

/* store_pg.c keeps the same versions in PostgreSQL's dialect: a migration appended
 * here is appended there too, under the same number. */
static const char *const migrations[] = {
    /* v1 */
    "CREATE TABLE fax_jobs ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " to_number TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL,"
    " error TEXT NOT NULL DEFAULT '',"
    " failure_reason TEXT NOT NULL DEFAULT '',"
    " pages INTEGER NOT NULL DEFAULT -1,"
    " backend TEXT NOT NULL DEFAULT '',"
    " provider_sid TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at INTEGER NOT NULL DEFAULT 0,"
    " lease_until INTEGER NOT NULL DEFAULT 0,"
    " submitted_at INTEGER NOT NULL DEFAULT 0,"
    " doc_type TEXT NOT NULL DEFAULT '',"
    " doc_size INTEGER NOT NULL DEFAULT 0,"
    " file_name TEXT NOT NULL DEFAULT '',"
    " resolution TEXT NOT NULL DEFAULT '',"
    " header_text TEXT NOT NULL DEFAULT '',"
    " caller_id TEXT NOT NULL DEFAULT '',"
    " callback_url TEXT NOT NULL DEFAULT '',"
    " api_key_id TEXT NOT NULL DEFAULT '',"
    " idempotency_key TEXT NOT NULL DEFAULT '',"
    " pdf_token_hash TEXT NOT NULL DEFAULT '',"
    " pdf_token_expires_at INTEGER NOT NULL DEFAULT 0,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0,"
    " duration_s REAL NOT NULL DEFAULT -1,"
    " bit_rate INTEGER NOT NULL DEFAULT -1,"
    " ecm INTEGER NOT NULL DEFAULT -1,"
    " remote_station_id TEXT NOT NULL DEFAULT '',"
    " inbound_id TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX fax_jobs_status_due ON fax_jobs(status, next_attempt_at);"
    "CREATE INDEX fax_jobs_created ON fax_jobs(created_at, id);"
    "CREATE INDEX fax_jobs_to_created ON fax_jobs(to_number, created_at, id);"
    "CREATE INDEX fax_jobs_status_created ON fax_jobs(status, created_at, id);"
    "CREATE INDEX fax_jobs_lease ON fax_jobs(lease_until) WHERE status = 'in_progress';"
    "CREATE INDEX fax_jobs_provider_sid ON fax_jobs(provider_sid) WHERE provider_sid <> '';"
    "CREATE UNIQUE INDEX fax_jobs_idempotency ON fax_jobs(api_key_id, idempotency_key)"
    " WHERE idempotency_key <> '';"
    "CREATE TABLE api_keys ("
    " id INTEGER PRIMARY KEY,"
    " key_id TEXT NOT NULL UNIQUE,"
    " key_hash TEXT NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " owner TEXT NOT NULL DEFAULT '',"
    " scopes TEXT NOT NULL DEFAULT '',"
    " note TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " last_used_at INTEGER NOT NULL DEFAULT 0,"
    " expires_at INTEGER NOT NULL DEFAULT 0,"
    " revoked_at INTEGER NOT NULL DEFAULT 0"
    ");",
    /* v2: inbound faxes, and artifact expiry on jobs */
    "ALTER TABLE fax_jobs ADD COLUMN artifacts_deleted_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE fax_jobs ADD COLUMN fetch_token_hash TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE fax_jobs ADD COLUMN fetch_token_expires_at INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX fax_jobs_finished ON fax_jobs(updated_at) WHERE status IN ('SUCCESS','FAILED','cancelled')"
    " AND artifacts_deleted_at = 0;"
    "CREATE TABLE inbound_faxes ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " from_number TEXT NOT NULL DEFAULT '',"
    " to_number TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'received',"
    " backend TEXT NOT NULL DEFAULT '',"
    " provider_sid TEXT NOT NULL DEFAULT '',"
    " pages INTEGER NOT NULL DEFAULT -1,"
    " size_bytes INTEGER NOT NULL DEFAULT 0,"
    " sha256 TEXT NOT NULL DEFAULT '',"
    " remote_station_id TEXT NOT NULL DEFAULT '',"
    " mailbox TEXT NOT NULL DEFAULT '',"
    " source_job_id TEXT NOT NULL DEFAULT '',"
    " error TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " received_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " retention_until INTEGER NOT NULL DEFAULT 0,"
    " artifacts_deleted_at INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE UNIQUE INDEX inbound_provider ON inbound_faxes(backend, provider_sid) WHERE provider_sid <> '';"
    "CREATE INDEX inbound_received ON inbound_faxes(received_at, id);"
    "CREATE INDEX inbound_to ON inbound_faxes(to_number, received_at, id);"
    "CREATE INDEX inbound_retention ON inbound_faxes(retention_until) WHERE retention_until > 0"
    " AND artifacts_deleted_at = 0;",
    /* v3: owners of jobs and inbound faxes (keys that share a gateway), the hash of
     * what an Idempotency-Key was first used for, and a job's conversion warning.
     * Jobs made before this belong to the key that made them. */
    "ALTER TABLE fax_jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE fax_jobs ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE fax_jobs ADD COLUMN warning TEXT NOT NULL DEFAULT '';"
    "UPDATE fax_jobs SET owner = api_key_id;"
    "CREATE INDEX fax_jobs_owner_created ON fax_jobs(owner, created_at, id);"
    "ALTER TABLE inbound_faxes ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX inbound_owner_received ON inbound_faxes(owner, received_at, id);",
    /* v4: every attempt of a job (GET /admin/fax-jobs/{id}); the admin job search */
    "CREATE TABLE job_attempts ("
    " job_id TEXT NOT NULL,"
    " attempt INTEGER NOT NULL,"
    " backend TEXT NOT NULL DEFAULT '',"
    " started_at INTEGER NOT NULL DEFAULT 0,"
    " ended_at INTEGER NOT NULL DEFAULT 0,"
    " outcome TEXT NOT NULL DEFAULT '',"
    " reason TEXT NOT NULL DEFAULT '',"
    " message TEXT NOT NULL DEFAULT '',"
    " provider_sid TEXT NOT NULL DEFAULT '',"
    " pages INTEGER NOT NULL DEFAULT -1,"
    " PRIMARY KEY (job_id, attempt)"
    ");"
    "CREATE INDEX fax_jobs_backend ON fax_jobs(backend, created_at);",
    /* v5: the event outbox (written in the transaction of the change it describes),
     * client webhook endpoints and their deliveries, and pages sent so far */
    "ALTER TABLE fax_jobs ADD COLUMN pages_sent INTEGER NOT NULL DEFAULT 0;"
    /* one b-tree only (every job change writes a row): seq is the rowid, kept strictly
     * increasing because pruning never deletes the newest row */
    "CREATE TABLE events ("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " job_id TEXT NOT NULL DEFAULT '',"
    " inbound_id TEXT NOT NULL DEFAULT '',"
    " owner TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " body TEXT NOT NULL"
    ");"
    "CREATE TABLE webhook_endpoints ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " url TEXT NOT NULL,"
    " secret TEXT NOT NULL,"
    " event_types TEXT NOT NULL DEFAULT '*',"
    " description TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " deleted_at INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE webhook_deliveries ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " event_seq INTEGER NOT NULL,"
    " endpoint_id TEXT NOT NULL DEFAULT '',"
    " job_id TEXT NOT NULL DEFAULT '',"
    " url TEXT NOT NULL,"
    " order_key TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'pending',"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at INTEGER NOT NULL,"
    " last_status INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';"
    "CREATE INDEX deliveries_order ON webhook_deliveries(order_key, event_seq) WHERE status = 'pending';"
    "CREATE INDEX deliveries_endpoint ON webhook_deliveries(endpoint_id, event_seq);"
    "CREATE INDEX deliveries_job ON webhook_deliveries(job_id, event_seq) WHERE job_id <> '';"
    "CREATE INDEX deliveries_event ON webhook_deliveries(event_seq);",
    /* v6: the Admin Console's Inbox marks faxes read (0 = unread) */
    "ALTER TABLE inbound_faxes ADD COLUMN read_at INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX inbound_unread ON inbound_faxes(owner) WHERE read_at = 0;",
    /* v7: the Admin Console's sign-in sessions outlive a restart (by the hash of the
       cookie's id: the database never holds a usable session id) */
    "CREATE TABLE console_sessions ("
    " id_hash TEXT PRIMARY KEY NOT NULL,"
    " key_id TEXT NOT NULL,"
    " key_hash TEXT NOT NULL,"
    " csrf TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " last_seen_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX console_sessions_key ON console_sessions(key_id);",
    /* v8: the node whose worker holds a job's lease (several nodes share PostgreSQL;
     * on SQLite it is this one) */
    "ALTER TABLE fax_jobs ADD COLUMN lease_node TEXT NOT NULL DEFAULT '';",
    /* v9: named leases (one node at a time talks to a PBX connection, sweeps
     * retention); on SQLite this node always gets them, kept for the same view */
    "CREATE TABLE faxbot_leases ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " node_id TEXT NOT NULL DEFAULT '',"
    " acquired_at INTEGER NOT NULL DEFAULT 0,"
    " until INTEGER NOT NULL DEFAULT 0"
    ");",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- record <-> column mapping: store_cols.h ---- */

static int bind_cols(sqlite3_stmt *s, const col_desc *cols, int n, const void *rec, int first)
{
    const char *base = rec;
    int rc = SQLITE_OK;
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        const void *p = base + cols[i].off;
        int idx = first + i;
        switch (cols[i].type) {
        case COL_TEXT:
            rc = sqlite3_bind_text(s, idx, p, (int)strnlen(p, cols[i].size - 1), SQLITE_STATIC);
            break;
        case COL_INT: rc = sqlite3_bind_int(s, idx, *(const int *)p); break;
        case COL_I64: rc = sqlite3_bind_int64(s, idx, *(const int64_t *)p); break;
        case COL_BOOL: rc = sqlite3_bind_int(s, idx, *(const bool *)p ? 1 : 0); break;
        case COL_REAL: rc = sqlite3_bind_double(s, idx, *(const double *)p); break;
        }
    }
    return rc;
}

static void read_cols(sqlite3_stmt *s, const col_desc *cols, int n, void *rec)
{
    char *base = rec;
    for (int i = 0; i < n; i++) {
        void *p = base + cols[i].off;
        switch (cols[i].type) {
        case COL_TEXT: {
            const unsigned char *t = sqlite3_column_text(s, i);
            size_t len = t ? (size_t)sqlite3_column_bytes(s, i) : 0;
            if (len > cols[i].size - 1) len = cols[i].size - 1;
            if (len) memcpy(p, t, len);
            ((char *)p)[len] = 0;
            break;
        }
        case COL_INT: *(int *)p = sqlite3_column_int(s, i); break;
        case COL_I64: *(int64_t *)p = sqlite3_column_int64(s, i); break;
        case COL_BOOL: *(bool *)p = sqlite3_column_int(s, i) != 0; break;
        case COL_REAL: *(double *)p = sqlite3_column_double(s, i); break;
        }
    }
}

/* ---- statements ---- */

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_PING,
    S_JOB_INSERT, S_JOB_GET, S_JOB_BY_IDEM, S_JOB_UPDATE_IF, S_JOB_EXISTS,
    S_JOB_LIST, S_JOB_LIST_STATUS, S_JOB_LIST_TO, S_JOB_LIST_STATUS_TO,
    S_JOB_DUE, S_JOB_LEASE_EXPIRED, S_JOB_NEXT_DUE, S_JOB_COUNT_STATUS, S_JOB_OTHER_OWNER_DUE,
    S_JOB_MARK_ARTIFACTS, S_JOB_ARTIFACTS_EXPIRED,
    S_IN_INSERT, S_IN_GET, S_IN_BY_SID, S_IN_MARK_ARTIFACTS, S_IN_EXPIRED, S_IN_SET_READ, S_IN_UNREAD,
    S_IN_LIST0, S_IN_LIST7 = S_IN_LIST0 + 7,   /* one per combination of the three filters */
    S_KEY_INSERT, S_KEY_GET, S_KEY_LIST, S_KEY_REVOKE, S_KEY_SET_HASH, S_KEY_TOUCH, S_KEY_EXISTS,
    S_ATTEMPT_INSERT, S_ATTEMPT_LIST, S_JOB_SEARCH, S_JOB_SEARCH_COUNT,
    S_EV_INSERT, S_EV_DELIVER_CB, S_EV_DELIVER_EP, S_EV_AFTER, S_EV_LAST, S_EV_PRUNE_DL, S_EV_PRUNE,
    S_EP_INSERT, S_EP_GET, S_EP_LIST, S_EP_DELETE, S_EP_FAIL_PENDING,
    S_DL_DUE, S_DL_UPDATE, S_DL_BY_ENDPOINT, S_DL_BY_JOB, S_DL_NEXT_DUE,
    S_SES_PUT, S_SES_GET, S_SES_TOUCH, S_SES_DELETE, S_SES_DELETE_KEY, S_SES_PRUNE,
    S_LEASE_TAKE, S_LEASE_GET, S_LEASE_RELEASE, S_LEASE_LIST,
    S_COUNT
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    struct conn *next_free;
    struct conn *next_all;
} conn;

typedef struct sq_store {
    store base;                  /* first: the interface's part */
    char path[PATH_MAX];
    char *sql[S_COUNT];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    conn *free_list;
    conn *all;
    int nconn;
} sq_store;

static char *fmt_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

/* Builds the SQL of every statement from the column tables. 0 or -1 (out of memory). */
static int build_sql(sq_store *st)
{
    char *jc = cols_list(job_cols, N_JOB_COLS), *jp = params_list('?', 1, N_JOB_COLS);
    char *kc = cols_list(key_cols, N_KEY_COLS), *kp = params_list('?', 1, N_KEY_COLS);
    char *ic = cols_list(inbound_cols, N_INBOUND_COLS), *ip = params_list('?', 1, N_INBOUND_COLS);
    strbuf set;
    sb_init(&set);
    int rc = (jc && jp && kc && kp && ic && ip) ? 0 : -1;
    for (int i = 1; i < N_JOB_COLS && !rc; i++)
        rc = sb_appendf(&set, "%s%s=?%d", i > 1 ? "," : "", job_cols[i].name, i + 1);
    if (!rc && !set.data) rc = -1;
    if (!rc) {
        const char *list = "SELECT %s FROM fax_jobs WHERE (created_at, id) < (?1, ?2)%s%s"
                           " AND (?6 = '' OR owner = ?6) AND (?7 = '' OR backend = ?7) AND created_at >= ?8"
                           " ORDER BY created_at DESC, id DESC LIMIT ?5";
        st->sql[S_BEGIN] = strdup("BEGIN IMMEDIATE");
        st->sql[S_COMMIT] = strdup("COMMIT");
        st->sql[S_ROLLBACK] = strdup("ROLLBACK");
        st->sql[S_PING] = strdup("SELECT 1");
        st->sql[S_JOB_INSERT] = fmt_alloc("INSERT INTO fax_jobs (%s) VALUES (%s)", jc, jp);
        st->sql[S_JOB_GET] = fmt_alloc("SELECT %s FROM fax_jobs WHERE id = ?1", jc);
        st->sql[S_JOB_BY_IDEM] =
            fmt_alloc("SELECT %s FROM fax_jobs WHERE api_key_id = ?1 AND idempotency_key = ?2"
                      " AND idempotency_key <> ''", jc);
        st->sql[S_JOB_UPDATE_IF] = fmt_alloc("UPDATE fax_jobs SET %s WHERE id = ?1 AND status = ?%d AND updated_at = ?%d",
                                             set.data, N_JOB_COLS + 1, N_JOB_COLS + 2);
        st->sql[S_JOB_EXISTS] = strdup("SELECT 1 FROM fax_jobs WHERE id = ?1");
        st->sql[S_JOB_LIST] = fmt_alloc(list, jc, "", "");
        st->sql[S_JOB_LIST_STATUS] = fmt_alloc(list, jc, " AND status = ?3", "");
        st->sql[S_JOB_LIST_TO] = fmt_alloc(list, jc, "", " AND to_number = ?4");
        st->sql[S_JOB_LIST_STATUS_TO] = fmt_alloc(list, jc, " AND status = ?3", " AND to_number = ?4");
        st->sql[S_JOB_DUE] = strdup("SELECT id FROM fax_jobs WHERE status = 'queued' AND next_attempt_at <= ?1"
                                    " ORDER BY next_attempt_at LIMIT ?2");
        st->sql[S_JOB_LEASE_EXPIRED] =
            strdup("SELECT id FROM fax_jobs INDEXED BY fax_jobs_lease WHERE status = 'in_progress' AND lease_until > 0 AND lease_until < ?1"
                   " ORDER BY lease_until LIMIT ?2");
        st->sql[S_JOB_NEXT_DUE] = strdup("SELECT MIN(next_attempt_at) FROM fax_jobs WHERE status = 'queued'");
        st->sql[S_JOB_COUNT_STATUS] = strdup("SELECT COUNT(*) FROM fax_jobs WHERE status = ?1");
        st->sql[S_JOB_OTHER_OWNER_DUE] = strdup("SELECT 1 FROM fax_jobs WHERE status = 'queued' AND next_attempt_at <= ?1"
                                                " AND owner <> ?2 LIMIT 1");
        st->sql[S_JOB_MARK_ARTIFACTS] = strdup("UPDATE fax_jobs SET artifacts_deleted_at = ?2 WHERE id = ?1");
        st->sql[S_JOB_ARTIFACTS_EXPIRED] =
            strdup("SELECT id FROM fax_jobs WHERE status IN ('SUCCESS','FAILED','cancelled') AND artifacts_deleted_at = 0"
                   " AND updated_at < ?1 ORDER BY updated_at LIMIT ?2");
        st->sql[S_IN_INSERT] = fmt_alloc("INSERT INTO inbound_faxes (%s) VALUES (%s)", ic, ip);
        st->sql[S_IN_GET] = fmt_alloc("SELECT %s FROM inbound_faxes WHERE id = ?1", ic);
        st->sql[S_IN_BY_SID] = fmt_alloc("SELECT %s FROM inbound_faxes WHERE backend = ?1 AND provider_sid = ?2"
                                         " AND provider_sid <> ''", ic);
        st->sql[S_IN_MARK_ARTIFACTS] =
            strdup("UPDATE inbound_faxes SET artifacts_deleted_at = ?2, updated_at = ?2 WHERE id = ?1");
        st->sql[S_SES_PUT] = strdup("INSERT OR REPLACE INTO console_sessions (id_hash, key_id, key_hash, csrf, created_at,"
                                    " last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        st->sql[S_SES_GET] = strdup("SELECT key_id, key_hash, csrf, created_at, last_seen_at FROM console_sessions"
                                    " WHERE id_hash = ?1");
        st->sql[S_SES_TOUCH] = strdup("UPDATE console_sessions SET last_seen_at = ?2 WHERE id_hash = ?1");
        st->sql[S_SES_DELETE] = strdup("DELETE FROM console_sessions WHERE id_hash = ?1");
        st->sql[S_SES_DELETE_KEY] = strdup("DELETE FROM console_sessions WHERE key_id = ?1");
        st->sql[S_SES_PRUNE] = strdup("DELETE FROM console_sessions WHERE last_seen_at < ?1 OR created_at < ?2");
        st->sql[S_IN_SET_READ] = strdup("UPDATE inbound_faxes SET read_at = ?2 WHERE id = ?1");
        st->sql[S_IN_UNREAD] = strdup("SELECT COUNT(*) FROM inbound_faxes WHERE read_at = 0 AND artifacts_deleted_at = 0"
                                      " AND (?1 = '' OR owner = ?1 OR owner = '')");
        st->sql[S_IN_EXPIRED] = strdup("SELECT id FROM inbound_faxes WHERE retention_until > 0 AND artifacts_deleted_at = 0"
                                       " AND retention_until < ?1 ORDER BY retention_until LIMIT ?2");
        for (int m = 0; m < 8; m++)
            st->sql[S_IN_LIST0 + m] =
                fmt_alloc("SELECT %s FROM inbound_faxes WHERE (received_at, id) < (?1, ?2)%s%s%s"
                          " AND (?7 = '' OR owner = ?7 OR owner = '') AND (?8 = 0 OR read_at = 0)"
                          " ORDER BY received_at DESC, id DESC LIMIT ?6", ic,
                          m & 1 ? " AND to_number = ?3" : "", m & 2 ? " AND status = ?4" : "",
                          m & 4 ? " AND mailbox = ?5" : "");
        st->sql[S_KEY_INSERT] = fmt_alloc("INSERT INTO api_keys (%s) VALUES (%s)", kc, kp);
        st->sql[S_KEY_GET] = fmt_alloc("SELECT %s FROM api_keys WHERE key_id = ?1", kc);
        st->sql[S_KEY_LIST] = fmt_alloc("SELECT %s FROM api_keys ORDER BY created_at DESC, id DESC", kc);
        st->sql[S_KEY_REVOKE] = strdup("UPDATE api_keys SET revoked_at = ?2 WHERE key_id = ?1 AND revoked_at = 0");
        st->sql[S_KEY_SET_HASH] = strdup("UPDATE api_keys SET key_hash = ?2 WHERE key_id = ?1");
        st->sql[S_KEY_TOUCH] = fmt_alloc("UPDATE api_keys SET last_used_at = ?2 WHERE key_id = ?1 AND"
                                         " (?2 = 0 OR last_used_at <= ?2 - %d OR last_used_at > ?2)",
                                         TOUCH_COALESCE_MS);
        st->sql[S_KEY_EXISTS] = strdup("SELECT 1 FROM api_keys WHERE key_id = ?1");
        /* An attempt row grows: started by the claim, given a provider id when accepted,
         * closed with its outcome. Empty/zero values never overwrite known ones. */
        st->sql[S_ATTEMPT_INSERT] = strdup(
            "INSERT INTO job_attempts (job_id, attempt, backend, started_at, ended_at, outcome, reason, message,"
            " provider_sid, pages) VALUES (?1, (SELECT coalesce(max(attempt), 0) + 1 FROM job_attempts WHERE job_id = ?1),"
            " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
        st->sql[S_ATTEMPT_LIST] = strdup("SELECT attempt, backend, started_at, ended_at, outcome, reason, message, provider_sid,"
                                         " pages FROM job_attempts WHERE job_id = ?1 ORDER BY attempt LIMIT ?2");
        const char *where = " WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR backend = ?2) AND (?3 = '' OR to_number = ?3)"
                            " AND created_at >= ?4 AND created_at < ?5";
        st->sql[S_JOB_SEARCH] = fmt_alloc("SELECT %s FROM fax_jobs%s ORDER BY created_at DESC, id DESC LIMIT ?6 OFFSET ?7", jc, where);
        st->sql[S_JOB_SEARCH_COUNT] = fmt_alloc("SELECT count(*) FROM fax_jobs%s", where);
        st->sql[S_EV_INSERT] = strdup("INSERT INTO events (id, type, job_id, inbound_id, owner, created_at, body)"
                                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        /* ?1 seq, ?2 job id (or "inbound:<id>"), ?3 now, ?4 url or type, ?5 job_id */
        st->sql[S_EV_DELIVER_CB] =
            strdup("INSERT INTO webhook_deliveries (id, event_seq, endpoint_id, job_id, url, order_key, next_attempt_at,"
                   " created_at, updated_at) VALUES ('msg_' || lower(hex(randomblob(16))), ?1, '', ?5, ?4,"
                   " 'callback|' || ?2, ?3, ?3, ?3)");
        st->sql[S_EV_DELIVER_EP] =
            strdup("INSERT INTO webhook_deliveries (id, event_seq, endpoint_id, job_id, url, order_key, next_attempt_at,"
                   " created_at, updated_at) SELECT 'msg_' || lower(hex(randomblob(16))), ?1, id, ?5, url,"
                   " id || '|' || ?2, ?3, ?3, ?3 FROM webhook_endpoints WHERE deleted_at = 0 AND"
                   " (event_types = '*' OR instr(',' || event_types || ',', ',' || ?4 || ',') > 0)");
        st->sql[S_EV_AFTER] = strdup("SELECT seq, id, type, job_id, inbound_id, owner, created_at, body FROM events"
                                     " WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        st->sql[S_EV_LAST] = strdup("SELECT COALESCE(MAX(seq), 0) FROM events");
        st->sql[S_EV_PRUNE_DL] = strdup("DELETE FROM webhook_deliveries WHERE created_at < ?1 AND status <> 'pending'");
        /* up to the newest event older than ?1 (times follow seq), never the newest of
         * all (its seq must not be handed out again), nothing a delivery still needs */
        st->sql[S_EV_PRUNE] = strdup("DELETE FROM events WHERE seq <= COALESCE((SELECT seq FROM events WHERE"
                                     " created_at < ?1 ORDER BY seq DESC LIMIT 1), 0)"
                                     " AND seq < (SELECT MAX(seq) FROM events)"
                                     " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = events.seq)");
        st->sql[S_EP_INSERT] = strdup("INSERT INTO webhook_endpoints (id, url, secret, event_types, description,"
                                      " created_at, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)");
        st->sql[S_EP_GET] = strdup("SELECT id, url, secret, event_types, description, created_at, deleted_at"
                                   " FROM webhook_endpoints WHERE id = ?1");
        st->sql[S_EP_LIST] = strdup("SELECT id, url, secret, event_types, description, created_at, deleted_at"
                                    " FROM webhook_endpoints WHERE deleted_at = 0 ORDER BY created_at, id");
        st->sql[S_EP_DELETE] = strdup("UPDATE webhook_endpoints SET deleted_at = ?2 WHERE id = ?1 AND deleted_at = 0");
        st->sql[S_EP_FAIL_PENDING] =
            strdup("UPDATE webhook_deliveries SET status = 'failed', last_error = 'the endpoint was deleted',"
                   " updated_at = ?2 WHERE endpoint_id = ?1 AND status = 'pending'");
#define DL_COLS "d.id, d.event_seq, COALESCE(e.type, ''), d.endpoint_id, d.job_id, d.url, d.status, d.attempts, d.next_attempt_at," \
                " d.last_status, d.last_error, d.created_at, d.updated_at"
        st->sql[S_DL_DUE] =
            strdup("SELECT " DL_COLS ", COALESCE(w.secret, ''), COALESCE(w.deleted_at, 0), e.body"
                   " FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq"
                   " LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id AND d.endpoint_id <> ''"
                   " WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 AND NOT EXISTS (SELECT 1 FROM"
                   " webhook_deliveries p WHERE p.status = 'pending' AND p.order_key = d.order_key"
                   " AND p.event_seq < d.event_seq) ORDER BY d.event_seq LIMIT ?2");
        st->sql[S_DL_UPDATE] = strdup("UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4,"
                                      " last_status = ?5, last_error = ?6, updated_at = ?7 WHERE id = ?1");
        st->sql[S_DL_BY_ENDPOINT] = strdup("SELECT " DL_COLS " FROM webhook_deliveries d LEFT JOIN events e ON"
                                           " e.seq = d.event_seq WHERE d.endpoint_id = ?1 ORDER BY d.event_seq DESC LIMIT ?2");
        st->sql[S_DL_BY_JOB] = strdup("SELECT " DL_COLS " FROM webhook_deliveries d LEFT JOIN events e ON"
                                      " e.seq = d.event_seq WHERE d.job_id = ?1 ORDER BY d.event_seq DESC LIMIT ?2");
        st->sql[S_DL_NEXT_DUE] = strdup("SELECT COALESCE(MIN(next_attempt_at), 0) FROM webhook_deliveries"
                                        " WHERE status = 'pending'");
#undef DL_COLS
        /* ?1 name, ?2 this node, ?3 now, ?4 ttl. One process uses a SQLite file: every
         * lease is its own, even one an earlier run under another name (port) held. */
        st->sql[S_LEASE_TAKE] = strdup(
            "INSERT INTO faxbot_leases AS l (name, node_id, acquired_at, until) VALUES (?1, ?2, ?3, ?3 + ?4)"
            " ON CONFLICT (name) DO UPDATE SET node_id = excluded.node_id, until = excluded.until,"
            " acquired_at = CASE WHEN l.node_id = excluded.node_id AND l.until >= ?3 THEN l.acquired_at"
            " ELSE excluded.acquired_at END RETURNING node_id, acquired_at, until");
        st->sql[S_LEASE_GET] = strdup("SELECT node_id, acquired_at, until FROM faxbot_leases WHERE name = ?1");
        st->sql[S_LEASE_RELEASE] = strdup("UPDATE faxbot_leases SET until = 0 WHERE name = ?1 AND node_id = ?2");
        st->sql[S_LEASE_LIST] = strdup("SELECT name, node_id, acquired_at, until FROM faxbot_leases ORDER BY name"
                                       " LIMIT ?1");
        for (int i = 0; i < S_COUNT; i++)
            if (!st->sql[i]) rc = -1;
    }
    free(jc); free(jp); free(kc); free(kp); free(ic); free(ip);
    sb_free(&set);
    return rc;
}

/* ---- errors ---- */

static int code_of(int rc)
{
    return (rc & 0xff) == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
}

/* Fills err (or logs, when the caller gave no err) and returns the STORE_* code. */
static int db_fail(sqlite3 *db, int rc, const char *what, char *err, size_t errlen)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int code = code_of(rc);
    if (code == STORE_FULL) msg = "the disk is full; free some space";
    if (err && errlen) snprintf(err, errlen, "database error while %s: %s", what, msg);
    else log_error("database error while %s: %s", what, msg);
    return code;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) str_copy(err, errlen, msg);
}

/* ---- connections and the pool ---- */

static void conn_close(conn *c)
{
    for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(c->stmt[i]);
    sqlite3_close(c->db);
    free(c);
}

static conn *conn_open(const char *path, char *err, size_t errlen)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) { set_err(err, errlen, "out of memory"); return NULL; }
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        db_fail(c->db, rc, "opening the database", err, errlen);
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(c->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_fail(c->db, rc, "configuring the connection", err, errlen);
        conn_close(c);
        return NULL;
    }
    return c;
}

static sqlite3_stmt *conn_stmt(sq_store *st, conn *c, int which)
{
    if (!c->stmt[which]) {
        int rc = sqlite3_prepare_v3(c->db, st->sql[which], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[which], NULL);
        if (rc != SQLITE_OK) {
            log_error("database error while preparing a statement: %s", sqlite3_errmsg(c->db));
            c->stmt[which] = NULL;
        }
    }
    return c->stmt[which];
}

static void stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static conn *pool_get(sq_store *st, char *err, size_t errlen)
{
    pthread_mutex_lock(&st->lock);
    while (!st->free_list && st->nconn >= POOL_MAX) pthread_cond_wait(&st->cond, &st->lock);
    conn *c = st->free_list;
    if (c) {
        st->free_list = c->next_free;
        pthread_mutex_unlock(&st->lock);
        return c;
    }
    st->nconn++;
    pthread_mutex_unlock(&st->lock);
    c = conn_open(st->path, err, errlen);
    pthread_mutex_lock(&st->lock);
    if (c) {
        c->next_all = st->all;
        st->all = c;
    } else {
        st->nconn--;
        pthread_cond_signal(&st->cond);
    }
    pthread_mutex_unlock(&st->lock);
    return c;
}

static void pool_put(sq_store *st, conn *c)
{
    /* A failed call must not leave a transaction open on a pooled connection. */
    if (!sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&st->lock);
    c->next_free = st->free_list;
    st->free_list = c;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

/* Runs a statement that returns no rows; SQLITE_DONE on success. */
static int step_once(sq_store *st, conn *c, int which)
{
    sqlite3_stmt *s = conn_stmt(st, c, which);
    if (!s) return SQLITE_ERROR;
    int rc = sqlite3_step(s);
    stmt_done(s);
    return rc;
}

/* ---- open / close / migrate ---- */

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return db_fail(db, rc, "starting the schema migration", err, errlen);
    sqlite3_stmt *s = NULL;
    int version = -1;
    rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version < 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return db_fail(db, rc == SQLITE_OK ? SQLITE_ERROR : rc, "reading the schema version", err, errlen);
    }
    if (version > SCHEMA_VERSION) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        if (err && errlen)
            snprintf(err, errlen, "the database schema is version %d but this faxbot knows only up to %d; "
                     "run a newer faxbot or restore a backup", version, SCHEMA_VERSION);
        return STORE_ERROR;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            int code = db_fail(db, rc, "migrating the schema", err, errlen);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return code;
        }
    }
    if (version < SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            int code = db_fail(db, rc, "recording the schema version", err, errlen);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return code;
        }
    }
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int code = db_fail(db, rc, "committing the schema migration", err, errlen);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return code;
    }
    return STORE_OK;
}

/* Creates the parent directory (0700) and the file (0600) if missing, so SQLite's
 * -wal and -shm files, which copy the database's mode, are private too. */
static int prepare_file(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    if (str_copy(dir, sizeof dir, path)) { set_err(err, errlen, "database path too long"); return -1; }
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir_p(dir, 0700)) {
            if (err && errlen) snprintf(err, errlen, "cannot create the database directory %s: %s", dir, strerror(errno));
            return -1;
        }
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (err && errlen) snprintf(err, errlen, "cannot open the database file %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

static void sq_close(store *base);
static const store_ops sqlite_ops;

store *store_sqlite_open(const char *path, char *err, size_t errlen)
{
    if (!path || !*path || !strcmp(path, ":memory:") || !strncmp(path, "file:", 5)) {
        set_err(err, errlen, "the database needs a file path (in-memory and URI databases are not supported)");
        return NULL;
    }
    sq_store *st = calloc(1, sizeof *st);
    if (!st) { set_err(err, errlen, "out of memory"); return NULL; }
    if (str_copy(st->path, sizeof st->path, path)) {
        set_err(err, errlen, "database path too long");
        free(st);
        return NULL;
    }
    st->base.ops = &sqlite_ops;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    if (build_sql(st)) {
        set_err(err, errlen, "out of memory");
        sq_close(&st->base);
        return NULL;
    }
    if (prepare_file(path, err, errlen)) { sq_close(&st->base); return NULL; }
    conn *c = conn_open(path, err, errlen);
    if (!c) { sq_close(&st->base); return NULL; }
    char *mode = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        mode = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (!mode || strcmp(mode, "wal")) {
        if (err && errlen)
            snprintf(err, errlen, "cannot switch %s to WAL mode (%s); is the file on a local file system?", path,
                     mode ? mode : sqlite3_errmsg(c->db));
        free(mode);
        conn_close(c);
        sq_close(&st->base);
        return NULL;
    }
    free(mode);
    if (migrate(c->db, err, errlen) != STORE_OK) {
        conn_close(c);
        sq_close(&st->base);
        return NULL;
    }
    c->next_all = st->all;
    st->all = c;
    c->next_free = NULL;
    st->free_list = c;
    st->nconn = 1;
    return &st->base;
}

static void sq_close(store *base)
{
    sq_store *st = (sq_store *)base;
    if (!st) return;
    conn *c = st->all;
    while (c) {
        conn *next = c->next_all;
        conn_close(c);
        c = next;
    }
    for (int i = 0; i < S_COUNT; i++) free(st->sql[i]);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st);
}

static int sq_ping(store *base, char *err, size_t errlen)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, err, errlen);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_PING);
    int rc = s ? sqlite3_step(s) : SQLITE_ERROR;
    int out = rc == SQLITE_ROW ? STORE_OK : db_fail(c->db, rc, "checking the database", err, errlen);
    if (s) stmt_done(s);
    pool_put(st, c);
    return out;
}

/* ---- the event outbox (inside the caller's transaction) ---- */

static void bind_str(sqlite3_stmt *s, int idx, const char *v)
{
    sqlite3_bind_text(s, idx, v ? v : "", -1, SQLITE_STATIC);
}

/* Inserts ev and its webhook deliveries on c, whose transaction is open. */
static int write_event(sq_store *st, conn *c, const store_event *ev, char *err, size_t errlen)
{
    sqlite3_stmt *s = conn_stmt(st, c, S_EV_INSERT);
    if (!s) return db_fail(c->db, SQLITE_ERROR, "preparing the event insert", err, errlen);
    bind_str(s, 1, ev->id);
    bind_str(s, 2, ev->type);
    bind_str(s, 3, ev->job_id);
    bind_str(s, 4, ev->inbound_id);
    bind_str(s, 5, ev->owner);
    sqlite3_bind_int64(s, 6, ev->created_at);
    bind_str(s, 7, ev->body);
    int rc = sqlite3_step(s);
    stmt_done(s);
    if (rc != SQLITE_DONE) return db_fail(c->db, rc, "writing the event", err, errlen);
    int64_t seq = sqlite3_last_insert_rowid(c->db);
    char key[48];
    if (ev->job_id && *ev->job_id) str_copy(key, sizeof key, ev->job_id);
    else str_fmt(key, sizeof key, "inbound:%s", ev->inbound_id ? ev->inbound_id : "");
    for (int which = S_EV_DELIVER_CB; which <= S_EV_DELIVER_EP; which++) {
        if (which == S_EV_DELIVER_CB && !(ev->callback_url && *ev->callback_url)) continue;
        s = conn_stmt(st, c, which);
        if (!s) return db_fail(c->db, SQLITE_ERROR, "preparing the delivery insert", err, errlen);
        sqlite3_bind_int64(s, 1, seq);
        bind_str(s, 2, key);
        sqlite3_bind_int64(s, 3, ev->created_at);
        bind_str(s, 4, which == S_EV_DELIVER_CB ? ev->callback_url : ev->type);
        bind_str(s, 5, ev->job_id);
        rc = sqlite3_step(s);
        stmt_done(s);
        if (rc != SQLITE_DONE) return db_fail(c->db, rc, "writing the event's deliveries", err, errlen);
    }
    return STORE_OK;
}

/* ---- jobs ---- */

/* Reads one row by a statement whose parameters are already bound into out, a
 * record of `size` bytes described by cols. */
static int fetch_row(conn *c, sqlite3_stmt *s, const col_desc *cols, int ncols, void *out, size_t size,
                     const char *what, char *err, size_t errlen)
{
    int rc = sqlite3_step(s);
    int code;
    if (rc == SQLITE_ROW) {
        if (out) {
            memset(out, 0, size);
            read_cols(s, cols, ncols, out);
        }
        code = STORE_OK;
    } else if (rc == SQLITE_DONE) {
        code = STORE_NOT_FOUND;
    } else {
        code = db_fail(c->db, rc, what, err, errlen);
    }
    stmt_done(s);
    return code;
}

static int fetch_job(conn *c, sqlite3_stmt *s, job_record *out, const char *what, char *err, size_t errlen)
{
    return fetch_row(c, s, job_cols, N_JOB_COLS, out, sizeof *out, what, err, errlen);
}


static int sq_job_insert_ev(store *base, const job_record *rec, job_record *existing, const store_event *ev,
                        char *err, size_t errlen)
{
    sq_store *st = (sq_store *)base;
    if (!rec || !rec->id[0] || !rec->status[0]) {
        set_err(err, errlen, "a job needs an id and a status");
        return STORE_ERROR;
    }
    conn *c = pool_get(st, err, errlen);
    if (!c) return STORE_ERROR;
    bool idem = rec->idempotency_key[0] != 0;
    int code = STORE_OK, rc;
    if (idem || ev) {
        rc = step_once(st, c, S_BEGIN);
        if (rc != SQLITE_DONE) { code = db_fail(c->db, rc, "starting a transaction", err, errlen); goto out; }
    }
    if (idem) {
        sqlite3_stmt *q = conn_stmt(st, c, S_JOB_BY_IDEM);
        if (!q) { code = db_fail(c->db, SQLITE_ERROR, "looking up the idempotency key", err, errlen); goto out; }
        sqlite3_bind_text(q, 1, rec->api_key_id, (int)strnlen(rec->api_key_id, sizeof rec->api_key_id - 1), SQLITE_STATIC);
        sqlite3_bind_text(q, 2, rec->idempotency_key,
                          (int)strnlen(rec->idempotency_key, sizeof rec->idempotency_key - 1), SQLITE_STATIC);
        job_record found;
        int f = fetch_job(c, q, &found, "looking up the idempotency key", err, errlen);
        if (f == STORE_OK) {
            if (existing) *existing = found;
            step_once(st, c, S_COMMIT);
            set_err(err, errlen, "a job with this idempotency key already exists");
            code = STORE_CONFLICT;
            goto out;
        }
        if (f != STORE_NOT_FOUND) { code = f; goto out; }
    }
    sqlite3_stmt *s = conn_stmt(st, c, S_JOB_INSERT);
    if (!s) { code = db_fail(c->db, SQLITE_ERROR, "preparing the job insert", err, errlen); goto out; }
    rc = bind_cols(s, job_cols, N_JOB_COLS, rec, 1);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    stmt_done(s);
    if (rc != SQLITE_DONE) {
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            set_err(err, errlen, "a job with this id already exists");
            code = STORE_ERROR;
        } else {
            code = db_fail(c->db, rc, "inserting the job", err, errlen);
        }
        goto out;
    }
    if (ev && (code = write_event(st, c, ev, err, errlen)) != STORE_OK) goto out;
    if (idem || ev) {
        rc = step_once(st, c, S_COMMIT);
        if (rc != SQLITE_DONE) code = db_fail(c->db, rc, "committing the job", err, errlen);
    }
out:
    pool_put(st, c);   /* rolls back whatever is still open */
    return code;
}

static int sq_job_get(store *base, const char *id, job_record *out)
{
    sq_store *st = (sq_store *)base;
    if (!id) return STORE_NOT_FOUND;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_JOB_GET);
    int code = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        code = fetch_job(c, s, out, "reading a job", NULL, 0);
    }
    pool_put(st, c);
    return code;
}

/* 1 if a row with this id exists, 0 if not, negative STORE_* on error. */
static int row_exists(sq_store *st, conn *c, int which, const char *id)
{
    sqlite3_stmt *s = conn_stmt(st, c, which);
    if (!s) return STORE_ERROR;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    stmt_done(s);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return db_fail(c->db, rc, "checking that a row exists", NULL, 0);
}


static int sq_job_update_if_ev(store *base, const job_record *rec, const char *expected_status,
                           int64_t expected_updated_at, const store_event *ev, char *err, size_t errlen)
{
    sq_store *st = (sq_store *)base;
    if (!rec || !expected_status) {
        set_err(err, errlen, "no job or no expected status given");
        return STORE_ERROR;
    }
    conn *c = pool_get(st, err, errlen);
    if (!c) return STORE_ERROR;
    int code;
    if (ev) {
        int b = step_once(st, c, S_BEGIN);
        if (b != SQLITE_DONE) { code = db_fail(c->db, b, "starting a transaction", err, errlen); goto out; }
    }
    sqlite3_stmt *s = conn_stmt(st, c, S_JOB_UPDATE_IF);
    if (!s) {
        code = db_fail(c->db, SQLITE_ERROR, "preparing the job update", err, errlen);
        goto out;
    }
    int rc = bind_cols(s, job_cols, N_JOB_COLS, rec, 1);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(s, N_JOB_COLS + 1, expected_status, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, N_JOB_COLS + 2, expected_updated_at);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    stmt_done(s);
    if (rc != SQLITE_DONE) {
        code = db_fail(c->db, rc, "updating the job", err, errlen);
        goto out;
    }
    if (sqlite3_changes(c->db) == 1) {
        code = ev ? write_event(st, c, ev, err, errlen) : STORE_OK;
        if (code == STORE_OK && ev) {
            rc = step_once(st, c, S_COMMIT);
            if (rc != SQLITE_DONE) code = db_fail(c->db, rc, "committing the job", err, errlen);
        }
        goto out;
    }
    int ex = row_exists(st, c, S_JOB_EXISTS, rec->id);
    if (ex == 1) {
        code = STORE_CONFLICT;
        set_err(err, errlen, "the job changed meanwhile (status or updated_at differ)");
    } else if (ex == 0) {
        code = STORE_NOT_FOUND;
        set_err(err, errlen, "no such job");
    } else {
        code = ex;
        set_err(err, errlen, "database error while checking the job");
    }
out:
    pool_put(st, c);
    return code;
}

static int sq_job_list(store *base, const job_filter *filter, job_record *out)
{
    sq_store *st = (sq_store *)base;
    if (!filter || !out) return STORE_ERROR;
    int limit = filter->limit < 1 ? 1 : filter->limit > LIST_MAX ? LIST_MAX : filter->limit;
    bool by_status = filter->status && filter->status[0];
    bool by_to = filter->to_number && filter->to_number[0];
    int which = by_status ? (by_to ? S_JOB_LIST_STATUS_TO : S_JOB_LIST_STATUS) : (by_to ? S_JOB_LIST_TO : S_JOB_LIST);
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, which);
    int n = STORE_ERROR;
    if (s) {
        /* until: everything created before it, as if the cursor stood there */
        bool cursor = filter->before_created_at != 0 &&
                      (filter->created_to == 0 || filter->before_created_at < filter->created_to);
        if (!cursor) {
            sqlite3_bind_int64(s, 1, filter->created_to ? filter->created_to : INT64_MAX);
            sqlite3_bind_text(s, 2, "", 0, SQLITE_STATIC);
        } else {
            sqlite3_bind_int64(s, 1, filter->before_created_at);
            sqlite3_bind_text(s, 2, filter->before_id, (int)strnlen(filter->before_id, sizeof filter->before_id - 1),
                              SQLITE_STATIC);
        }
        if (by_status) sqlite3_bind_text(s, 3, filter->status, -1, SQLITE_STATIC);
        if (by_to) sqlite3_bind_text(s, 4, filter->to_number, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 5, limit);
        sqlite3_bind_text(s, 6, filter->owner ? filter->owner : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, filter->backend ? filter->backend : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 8, filter->created_from);
        int rc = SQLITE_DONE;
        n = 0;
        while (n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            memset(&out[n], 0, sizeof out[n]);
            read_cols(s, job_cols, N_JOB_COLS, &out[n]);
            n++;
        }
        if (n < limit && rc != SQLITE_DONE) n = db_fail(c->db, rc, "listing jobs", NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

/* Runs a "SELECT id ... ?1=now LIMIT ?2" statement into ids. */
static int select_ids(sq_store *st, int which, int64_t now, char (*ids)[33], int max, const char *what)
{
    if (max <= 0) return 0;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, which);
    int n = STORE_ERROR;
    if (s) {
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_int(s, 2, max);
        int rc = SQLITE_DONE;
        n = 0;
        while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(s, 0);
            str_copy(ids[n], sizeof ids[n], t ? t : "");
            n++;
        }
        if (n < max && rc != SQLITE_DONE) n = db_fail(c->db, rc, what, NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

static int sq_job_due(store *base, int64_t now, char (*ids)[33], int max)
{
    sq_store *st = (sq_store *)base;
    return select_ids(st, S_JOB_DUE, now, ids, max, "finding due jobs");
}

static int sq_job_lease_expired(store *base, int64_t now, char (*ids)[33], int max)
{
    sq_store *st = (sq_store *)base;
    return select_ids(st, S_JOB_LEASE_EXPIRED, now, ids, max, "finding expired leases");
}

static int64_t sq_job_next_due(store *base)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return 0;
    sqlite3_stmt *s = conn_stmt(st, c, S_JOB_NEXT_DUE);
    int64_t when = 0;
    if (s) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) when = sqlite3_column_int64(s, 0);   /* NULL (no queued job) reads as 0 */
        else db_fail(c->db, rc, "finding the next due job", NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return when;
}

static bool sq_job_other_owner_due(store *base, int64_t by, const char *owner)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return true;
    sqlite3_stmt *s = conn_stmt(st, c, S_JOB_OTHER_OWNER_DUE);
    bool found = true;               /* when in doubt, be fair */
    if (s) {
        sqlite3_bind_int64(s, 1, by);
        sqlite3_bind_text(s, 2, owner ? owner : "", -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) found = rc == SQLITE_ROW;
        else db_fail(c->db, rc, "looking for other owners' jobs", NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return found;
}

static int sq_job_count_by_status(store *base, const char *const *statuses, int n, int64_t *counts)
{
    sq_store *st = (sq_store *)base;
    if (n <= 0) return STORE_OK;
    if (!statuses || !counts) return STORE_ERROR;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    int code = STORE_OK;
    sqlite3_stmt *s = conn_stmt(st, c, S_JOB_COUNT_STATUS);
    if (!s) code = STORE_ERROR;
    for (int i = 0; i < n && code == STORE_OK; i++) {
        sqlite3_bind_text(s, 1, statuses[i] ? statuses[i] : "", -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) counts[i] = sqlite3_column_int64(s, 0);
        else code = db_fail(c->db, rc, "counting jobs", NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return code;
}

/* ---- API keys ---- */

static int sq_key_insert(store *base, const key_record *rec, char *err, size_t errlen)
{
    sq_store *st = (sq_store *)base;
    if (!rec || !rec->key_id[0]) {
        set_err(err, errlen, "a key needs a key id");
        return STORE_ERROR;
    }
    conn *c = pool_get(st, err, errlen);
    if (!c) return STORE_ERROR;
    int code = STORE_OK;
    sqlite3_stmt *s = conn_stmt(st, c, S_KEY_INSERT);
    int rc = s ? bind_cols(s, key_cols, N_KEY_COLS, rec, 1) : SQLITE_ERROR;
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (s) stmt_done(s);
    if (rc != SQLITE_DONE) {
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            set_err(err, errlen, "a key with this key id already exists");
            code = STORE_CONFLICT;
        } else {
            code = db_fail(c->db, rc, "inserting the key", err, errlen);
        }
    }
    pool_put(st, c);
    return code;
}

static int sq_key_get(store *base, const char *key_id, key_record *out)
{
    sq_store *st = (sq_store *)base;
    if (!key_id) return STORE_NOT_FOUND;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_KEY_GET);
    int code = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, key_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            if (out) {
                memset(out, 0, sizeof *out);
                read_cols(s, key_cols, N_KEY_COLS, out);
            }
            code = STORE_OK;
        } else if (rc == SQLITE_DONE) {
            code = STORE_NOT_FOUND;
        } else {
            code = db_fail(c->db, rc, "reading a key", NULL, 0);
        }
        stmt_done(s);
    }
    pool_put(st, c);
    return code;
}

static int sq_key_list(store *base, key_record **out)
{
    sq_store *st = (sq_store *)base;
    if (!out) return STORE_ERROR;
    *out = NULL;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_KEY_LIST);
    int n = STORE_ERROR;
    if (s) {
        key_record *arr = NULL;
        size_t cap = 0;
        int rc;
        n = 0;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if ((size_t)n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                key_record *na = realloc(arr, ncap * sizeof *na);
                if (!na) { rc = SQLITE_NOMEM; break; }
                arr = na;
                cap = ncap;
            }
            memset(&arr[n], 0, sizeof arr[n]);
            read_cols(s, key_cols, N_KEY_COLS, &arr[n]);
            n++;
        }
        if (rc != SQLITE_DONE) {
            n = db_fail(c->db, rc, "listing keys", NULL, 0);
            free(arr);
        } else {
            *out = arr;
        }
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

/* Runs an UPDATE keyed by key_id (?1) with one more parameter (?2); NOT_FOUND if
 * no such key. A key that exists but was not changed (already revoked, touched
 * recently) is STORE_OK. */
static int key_update(sq_store *st, int which, const char *key_id, const char *text, int64_t num, const char *what)
{
    if (!key_id) return STORE_NOT_FOUND;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    int code = STORE_OK;
    sqlite3_stmt *s = conn_stmt(st, c, which);
    int rc = SQLITE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, key_id, -1, SQLITE_STATIC);
        if (text) sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
        else sqlite3_bind_int64(s, 2, num);
        rc = sqlite3_step(s);
        stmt_done(s);
    }
    if (rc != SQLITE_DONE) {
        code = db_fail(c->db, rc, what, NULL, 0);
    } else if (sqlite3_changes(c->db) == 0) {
        int ex = row_exists(st, c, S_KEY_EXISTS, key_id);
        code = ex == 1 ? STORE_OK : ex == 0 ? STORE_NOT_FOUND : ex;
    }
    pool_put(st, c);
    return code;
}

static int sq_key_revoke(store *base, const char *key_id, int64_t when)
{
    sq_store *st = (sq_store *)base;
    return key_update(st, S_KEY_REVOKE, key_id, NULL, when, "revoking a key");
}

static int sq_key_set_hash(store *base, const char *key_id, const char *new_hash)
{
    sq_store *st = (sq_store *)base;
    if (!new_hash || !*new_hash) return STORE_ERROR;
    return key_update(st, S_KEY_SET_HASH, key_id, new_hash, 0, "replacing a key's hash");
}

static int sq_key_touch(store *base, const char *key_id, int64_t when)
{
    sq_store *st = (sq_store *)base;
    return key_update(st, S_KEY_TOUCH, key_id, NULL, when, "recording a key's use");
}

/* ---- job artifacts ---- */

/* Sets one timestamp column of one row by id (statement: ?1 = id, ?2 = when). */
static int mark_row(sq_store *st, int which, const char *id, int64_t when, const char *what)
{
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, which);
    int code = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, when);
        int rc = sqlite3_step(s);
        stmt_done(s);
        code = rc != SQLITE_DONE ? db_fail(c->db, rc, what, NULL, 0)
             : sqlite3_changes(c->db) ? STORE_OK : STORE_NOT_FOUND;
    }
    pool_put(st, c);
    return code;
}

static int sq_job_mark_artifacts_deleted(store *base, const char *id, int64_t when)
{
    sq_store *st = (sq_store *)base;
    return mark_row(st, S_JOB_MARK_ARTIFACTS, id, when, "marking job artifacts deleted");
}

static int sq_job_artifacts_expired(store *base, int64_t before, char (*ids)[33], int max)
{
    sq_store *st = (sq_store *)base;
    return select_ids(st, S_JOB_ARTIFACTS_EXPIRED, before, ids, max, "finding expired job artifacts");
}

/* ---- inbound faxes ---- */

static int fetch_inbound(conn *c, sqlite3_stmt *s, inbound_record *out, const char *what, char *err, size_t errlen)
{
    return fetch_row(c, s, inbound_cols, N_INBOUND_COLS, out, sizeof *out, what, err, errlen);
}


static int sq_inbound_insert_ev(store *base, const inbound_record *rec, inbound_record *existing, const store_event *ev,
                            char *err, size_t errlen)
{
    sq_store *st = (sq_store *)base;
    if (!rec || !rec->id[0]) {
        set_err(err, errlen, "an inbound fax needs an id");
        return STORE_ERROR;
    }
    conn *c = pool_get(st, err, errlen);
    if (!c) return STORE_ERROR;
    int code = STORE_OK;
    int rc = step_once(st, c, S_BEGIN);
    if (rc != SQLITE_DONE) { code = db_fail(c->db, rc, "starting a transaction", err, errlen); goto out; }
    if (rec->provider_sid[0]) {
        sqlite3_stmt *q = conn_stmt(st, c, S_IN_BY_SID);
        if (!q) { code = db_fail(c->db, SQLITE_ERROR, "looking up the provider id", err, errlen); goto out; }
        sqlite3_bind_text(q, 1, rec->backend, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, rec->provider_sid, -1, SQLITE_STATIC);
        inbound_record found;
        int f = fetch_inbound(c, q, &found, "looking up the provider id", err, errlen);
        if (f == STORE_OK) {
            if (existing) *existing = found;
            step_once(st, c, S_COMMIT);
            set_err(err, errlen, "this inbound fax was stored before");
            code = STORE_CONFLICT;
            goto out;
        }
        if (f != STORE_NOT_FOUND) { code = f; goto out; }
    }
    sqlite3_stmt *s = conn_stmt(st, c, S_IN_INSERT);
    rc = s ? bind_cols(s, inbound_cols, N_INBOUND_COLS, rec, 1) : SQLITE_ERROR;
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (s) stmt_done(s);
    if (rc != SQLITE_DONE) { code = db_fail(c->db, rc, "inserting the inbound fax", err, errlen); goto out; }
    if (ev && (code = write_event(st, c, ev, err, errlen)) != STORE_OK) goto out;
    rc = step_once(st, c, S_COMMIT);
    if (rc != SQLITE_DONE) code = db_fail(c->db, rc, "committing the inbound fax", err, errlen);
out:
    pool_put(st, c);
    return code;
}

static int sq_inbound_get(store *base, const char *id, inbound_record *out)
{
    sq_store *st = (sq_store *)base;
    if (!id) return STORE_NOT_FOUND;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_IN_GET);
    int code = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        code = fetch_inbound(c, s, out, "reading an inbound fax", NULL, 0);
    }
    pool_put(st, c);
    return code;
}

static int sq_inbound_list(store *base, const inbound_filter *f, inbound_record *out)
{
    sq_store *st = (sq_store *)base;
    if (!f || !out) return STORE_ERROR;
    int limit = f->limit < 1 ? 1 : f->limit > LIST_MAX ? LIST_MAX : f->limit;
    int m = (f->to_number && *f->to_number ? 1 : 0) | (f->status && *f->status ? 2 : 0) | (f->mailbox && *f->mailbox ? 4 : 0);
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_IN_LIST0 + m);
    int n = STORE_ERROR;
    if (s) {
        if (f->before_received_at == 0) {
            sqlite3_bind_int64(s, 1, INT64_MAX);
            sqlite3_bind_text(s, 2, "", 0, SQLITE_STATIC);
        } else {
            sqlite3_bind_int64(s, 1, f->before_received_at);
            sqlite3_bind_text(s, 2, f->before_id, (int)strnlen(f->before_id, sizeof f->before_id - 1), SQLITE_STATIC);
        }
        if (m & 1) sqlite3_bind_text(s, 3, f->to_number, -1, SQLITE_STATIC);
        if (m & 2) sqlite3_bind_text(s, 4, f->status, -1, SQLITE_STATIC);
        if (m & 4) sqlite3_bind_text(s, 5, f->mailbox, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 6, limit);
        sqlite3_bind_text(s, 7, f->owner ? f->owner : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 8, f->unread_only ? 1 : 0);
        int rc = SQLITE_DONE;
        n = 0;
        while (n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            memset(&out[n], 0, sizeof out[n]);
            read_cols(s, inbound_cols, N_INBOUND_COLS, &out[n]);
            n++;
        }
        if (n < limit && rc != SQLITE_DONE) n = db_fail(c->db, rc, "listing inbound faxes", NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

static int sq_inbound_mark_artifacts_deleted(store *base, const char *id, int64_t when)
{
    sq_store *st = (sq_store *)base;
    return mark_row(st, S_IN_MARK_ARTIFACTS, id, when, "marking inbound artifacts deleted");
}

/* ---- console sessions ---- */

static void copy_col(sqlite3_stmt *s, int i, char *dst, size_t len);

/* Runs a statement whose ?1 is text and ?2 (when two) a number; the rows it changed, or < 0. */
static int exec_text_num(sq_store *st, int which, const char *text, int params, int64_t num, const char *what)
{
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, which);
    int n = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, text ? text : "", -1, SQLITE_STATIC);
        if (params > 1) sqlite3_bind_int64(s, 2, num);
        int rc = sqlite3_step(s);
        stmt_done(s);
        n = rc == SQLITE_DONE ? sqlite3_changes(c->db) : db_fail(c->db, rc, what, NULL, 0);
    }
    pool_put(st, c);
    return n;
}

static int sq_session_put(store *base, const session_row *r)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_SES_PUT);
    int code = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, r->id_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, r->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, r->key_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, r->csrf, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, r->created_at);
        sqlite3_bind_int64(s, 6, r->last_seen_at);
        int rc = sqlite3_step(s);
        stmt_done(s);
        code = rc == SQLITE_DONE ? STORE_OK : db_fail(c->db, rc, "saving a console session", NULL, 0);
    }
    pool_put(st, c);
    return code;
}

static int sq_session_get(store *base, const char *id_hash, session_row *out)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_SES_GET);
    int code = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, id_hash, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            memset(out, 0, sizeof *out);
            str_copy(out->id_hash, sizeof out->id_hash, id_hash);
            copy_col(s, 0, out->key_id, sizeof out->key_id);
            copy_col(s, 1, out->key_hash, sizeof out->key_hash);
            copy_col(s, 2, out->csrf, sizeof out->csrf);
            out->created_at = sqlite3_column_int64(s, 3);
            out->last_seen_at = sqlite3_column_int64(s, 4);
            code = STORE_OK;
        } else {
            code = rc == SQLITE_DONE ? STORE_NOT_FOUND : db_fail(c->db, rc, "reading a console session", NULL, 0);
        }
        stmt_done(s);
    }
    pool_put(st, c);
    return code;
}

static int sq_session_touch(store *base, const char *id_hash, int64_t when)
{
    sq_store *st = (sq_store *)base;
    return mark_row(st, S_SES_TOUCH, id_hash, when, "recording a console session's use");
}

static int sq_session_delete(store *base, const char *id_hash)
{
    sq_store *st = (sq_store *)base;
    int n = exec_text_num(st, S_SES_DELETE, id_hash, 1, 0, "ending a console session");
    return n < 0 ? n : n ? STORE_OK : STORE_NOT_FOUND;
}

static int sq_session_delete_key(store *base, const char *key_id)
{
    sq_store *st = (sq_store *)base;
    return exec_text_num(st, S_SES_DELETE_KEY, key_id, 1, 0, "ending a key's console sessions");
}

static int sq_session_prune(store *base, int64_t seen_before, int64_t created_before)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_SES_PRUNE);
    int n = STORE_ERROR;
    if (s) {
        sqlite3_bind_int64(s, 1, seen_before);
        sqlite3_bind_int64(s, 2, created_before);
        int rc = sqlite3_step(s);
        stmt_done(s);
        n = rc == SQLITE_DONE ? sqlite3_changes(c->db) : db_fail(c->db, rc, "pruning console sessions", NULL, 0);
    }
    pool_put(st, c);
    return n;
}

static int sq_inbound_set_read(store *base, const char *id, int64_t when)
{
    sq_store *st = (sq_store *)base;
    return mark_row(st, S_IN_SET_READ, id, when, "marking an inbound fax read");
}

static int64_t sq_inbound_unread_count(store *base, const char *owner)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return -1;
    sqlite3_stmt *s = conn_stmt(st, c, S_IN_UNREAD);
    int64_t n = -1;
    if (s) {
        sqlite3_bind_text(s, 1, owner ? owner : "", -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
        else db_fail(c->db, rc, "counting unread inbound faxes", NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

static int sq_inbound_expired(store *base, int64_t now, char (*ids)[33], int max)
{
    sq_store *st = (sq_store *)base;
    return select_ids(st, S_IN_EXPIRED, now, ids, max, "finding expired inbound faxes");
}

/* ---- events and webhooks ---- */

static void copy_col(sqlite3_stmt *s, int i, char *dst, size_t len)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    str_copy(dst, len, t ? (const char *)t : "");
    if (t && strlen((const char *)t) >= len) dst[len - 1] = 0;
}

static char *dup_col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return strdup(t ? (const char *)t : "");
}

static int sq_event_list_after(store *base, int64_t after, int max, event_row *out)
{
    sq_store *st = (sq_store *)base;
    if (max < 1 || !out) return 0;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_EV_AFTER);
    int n = STORE_ERROR;
    if (s) {
        sqlite3_bind_int64(s, 1, after);
        sqlite3_bind_int(s, 2, max);
        int rc = SQLITE_DONE;
        n = 0;
        while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            event_row *e = &out[n];
            memset(e, 0, sizeof *e);
            e->seq = sqlite3_column_int64(s, 0);
            copy_col(s, 1, e->id, sizeof e->id);
            copy_col(s, 2, e->type, sizeof e->type);
            copy_col(s, 3, e->job_id, sizeof e->job_id);
            copy_col(s, 4, e->inbound_id, sizeof e->inbound_id);
            copy_col(s, 5, e->owner, sizeof e->owner);
            e->created_at = sqlite3_column_int64(s, 6);
            e->body = dup_col(s, 7);
            if (!e->body) { rc = SQLITE_NOMEM; break; }
            n++;
        }
        if (n < max && rc != SQLITE_DONE) {
            event_rows_free(out, n);
            n = db_fail(c->db, rc, "reading events", NULL, 0);
        }
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}


/* Runs a one-value SELECT bound with nothing; the value or < 0. */
static int64_t select_i64(sq_store *st, int which, const char *what)
{
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, which);
    int64_t v = STORE_ERROR;
    if (s) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
        else v = db_fail(c->db, rc, what, NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return v;
}

static int64_t sq_event_last_seq(store *base) { sq_store *st = (sq_store *)base; return select_i64(st, S_EV_LAST, "reading the last event"); }

static int64_t sq_delivery_next_due(store *base)
{
    sq_store *st = (sq_store *)base;
    int64_t v = select_i64(st, S_DL_NEXT_DUE, "finding the next webhook delivery");
    return v < 0 ? 0 : v;
}

static int sq_event_prune(store *base, int64_t before)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    int n = 0;
    for (int which = S_EV_PRUNE_DL; which <= S_EV_PRUNE && n >= 0; which++) {
        sqlite3_stmt *s = conn_stmt(st, c, which);
        if (!s) { n = STORE_ERROR; break; }
        sqlite3_bind_int64(s, 1, before);
        int rc = sqlite3_step(s);
        stmt_done(s);
        if (rc != SQLITE_DONE) n = db_fail(c->db, rc, "pruning old events", NULL, 0);
        else if (which == S_EV_PRUNE) n = sqlite3_changes(c->db);
    }
    pool_put(st, c);
    return n;
}

static void read_endpoint(sqlite3_stmt *s, webhook_endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    copy_col(s, 0, ep->id, sizeof ep->id);
    copy_col(s, 1, ep->url, sizeof ep->url);
    copy_col(s, 2, ep->secret, sizeof ep->secret);
    copy_col(s, 3, ep->event_types, sizeof ep->event_types);
    copy_col(s, 4, ep->description, sizeof ep->description);
    ep->created_at = sqlite3_column_int64(s, 5);
    ep->deleted_at = sqlite3_column_int64(s, 6);
}

static int sq_endpoint_insert(store *base, const webhook_endpoint *ep, char *err, size_t errlen)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, err, errlen);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_EP_INSERT);
    int code = STORE_OK;
    if (!s) code = db_fail(c->db, SQLITE_ERROR, "preparing the endpoint insert", err, errlen);
    else {
        bind_str(s, 1, ep->id);
        bind_str(s, 2, ep->url);
        bind_str(s, 3, ep->secret);
        bind_str(s, 4, ep->event_types);
        bind_str(s, 5, ep->description);
        sqlite3_bind_int64(s, 6, ep->created_at);
        int rc = sqlite3_step(s);
        stmt_done(s);
        if (rc != SQLITE_DONE) code = db_fail(c->db, rc, "saving the webhook endpoint", err, errlen);
    }
    pool_put(st, c);
    return code;
}

static int sq_endpoint_get(store *base, const char *id, webhook_endpoint *out)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_EP_GET);
    int code = STORE_ERROR;
    if (s) {
        bind_str(s, 1, id);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) { read_endpoint(s, out); code = STORE_OK; }
        else if (rc == SQLITE_DONE) code = STORE_NOT_FOUND;
        else code = db_fail(c->db, rc, "reading a webhook endpoint", NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return code;
}

static int sq_endpoint_list(store *base, webhook_endpoint **out)
{
    sq_store *st = (sq_store *)base;
    *out = NULL;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_EP_LIST);
    int n = STORE_ERROR, cap = 0;
    if (s) {
        int rc;
        n = 0;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                webhook_endpoint *grown = realloc(*out, sizeof **out * (size_t)cap);
                if (!grown) { rc = SQLITE_NOMEM; break; }
                *out = grown;
            }
            read_endpoint(s, &(*out)[n++]);
        }
        if (rc != SQLITE_DONE) {
            free(*out);
            *out = NULL;
            n = db_fail(c->db, rc, "listing webhook endpoints", NULL, 0);
        }
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

static int sq_endpoint_delete(store *base, const char *id, int64_t when)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    int code = STORE_OK, rc = step_once(st, c, S_BEGIN);
    if (rc != SQLITE_DONE) { code = db_fail(c->db, rc, "starting a transaction", NULL, 0); goto out; }
    for (int which = S_EP_DELETE; which <= S_EP_FAIL_PENDING; which++) {
        sqlite3_stmt *s = conn_stmt(st, c, which);
        if (!s) { code = STORE_ERROR; goto out; }
        bind_str(s, 1, id);
        sqlite3_bind_int64(s, 2, when);
        rc = sqlite3_step(s);
        stmt_done(s);
        if (rc != SQLITE_DONE) { code = db_fail(c->db, rc, "deleting the webhook endpoint", NULL, 0); goto out; }
        if (which == S_EP_DELETE && sqlite3_changes(c->db) == 0) { code = STORE_NOT_FOUND; goto out; }
    }
    rc = step_once(st, c, S_COMMIT);
    if (rc != SQLITE_DONE) code = db_fail(c->db, rc, "committing", NULL, 0);
out:
    pool_put(st, c);
    return code;
}

static void read_delivery(sqlite3_stmt *s, delivery_row *d)
{
    memset(d, 0, sizeof *d);
    copy_col(s, 0, d->id, sizeof d->id);
    d->event_seq = sqlite3_column_int64(s, 1);
    copy_col(s, 2, d->event_type, sizeof d->event_type);
    copy_col(s, 3, d->endpoint_id, sizeof d->endpoint_id);
    copy_col(s, 4, d->job_id, sizeof d->job_id);
    copy_col(s, 5, d->url, sizeof d->url);
    copy_col(s, 6, d->status, sizeof d->status);
    d->attempts = sqlite3_column_int(s, 7);
    d->next_attempt_at = sqlite3_column_int64(s, 8);
    d->last_status = sqlite3_column_int(s, 9);
    copy_col(s, 10, d->last_error, sizeof d->last_error);
    d->created_at = sqlite3_column_int64(s, 11);
    d->updated_at = sqlite3_column_int64(s, 12);
}

/* Runs a delivery SELECT whose parameters are bound; with_body for the due list. */
static int read_deliveries(conn *c, sqlite3_stmt *s, int max, delivery_row *out, bool with_body)
{
    int rc = SQLITE_DONE, n = 0;
    while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        delivery_row *d = &out[n];
        read_delivery(s, d);
        if (with_body) {
            copy_col(s, 13, d->secret, sizeof d->secret);
            d->endpoint_deleted = sqlite3_column_int64(s, 14) != 0;
            d->body = dup_col(s, 15);
            if (!d->body) { rc = SQLITE_NOMEM; break; }
        }
        n++;
    }
    if (n < max && rc != SQLITE_DONE) {
        delivery_rows_free(out, n);
        n = db_fail(c->db, rc, "reading webhook deliveries", NULL, 0);
    }
    stmt_done(s);
    return n;
}

static int sq_delivery_due(store *base, int64_t now, int max, delivery_row *out)
{
    sq_store *st = (sq_store *)base;
    if (max < 1) return 0;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_DL_DUE);
    int n = STORE_ERROR;
    if (s) {
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_int(s, 2, max);
        n = read_deliveries(c, s, max, out, true);
    }
    pool_put(st, c);
    return n;
}


static int sq_delivery_update(store *base, const delivery_row *d)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_DL_UPDATE);
    int code = STORE_ERROR;
    if (s) {
        bind_str(s, 1, d->id);
        bind_str(s, 2, d->status);
        sqlite3_bind_int(s, 3, d->attempts);
        sqlite3_bind_int64(s, 4, d->next_attempt_at);
        sqlite3_bind_int(s, 5, d->last_status);
        bind_str(s, 6, d->last_error);
        sqlite3_bind_int64(s, 7, d->updated_at);
        int rc = sqlite3_step(s);
        stmt_done(s);
        code = rc == SQLITE_DONE ? STORE_OK : db_fail(c->db, rc, "recording a webhook delivery", NULL, 0);
    }
    pool_put(st, c);
    return code;
}

static int sq_delivery_list(store *base, const char *endpoint_id, const char *job_id, int max, delivery_row *out)
{
    sq_store *st = (sq_store *)base;
    if (max < 1) return 0;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, endpoint_id ? S_DL_BY_ENDPOINT : S_DL_BY_JOB);
    int n = STORE_ERROR;
    if (s) {
        bind_str(s, 1, endpoint_id ? endpoint_id : job_id);
        sqlite3_bind_int(s, 2, max);
        n = read_deliveries(c, s, max, out, false);
    }
    pool_put(st, c);
    return n;
}

/* ---- attempts and the admin search ---- */

static int sq_attempt_record(store *base, const char *job_id, const attempt_record *a)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_ATTEMPT_INSERT);
    int code = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, a->backend, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, a->started_at);
        sqlite3_bind_int64(s, 4, a->ended_at);
        sqlite3_bind_text(s, 5, a->outcome, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, a->reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, a->message, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 8, a->provider_sid, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 9, a->pages);
        int rc = sqlite3_step(s);
        stmt_done(s);
        code = rc == SQLITE_DONE ? STORE_OK : db_fail(c->db, rc, "recording an attempt", NULL, 0);
    }
    pool_put(st, c);
    return code;
}

static int sq_attempt_list(store *base, const char *job_id, attempt_record *out, int max)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_ATTEMPT_LIST);
    int n = STORE_ERROR;
    if (s) {
        sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, max);
        int rc;
        n = 0;
        while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            attempt_record *a = &out[n++];
            memset(a, 0, sizeof *a);
            a->attempt = sqlite3_column_int(s, 0);
            str_copy(a->backend, sizeof a->backend, (const char *)sqlite3_column_text(s, 1));
            a->started_at = sqlite3_column_int64(s, 2);
            a->ended_at = sqlite3_column_int64(s, 3);
            str_copy(a->outcome, sizeof a->outcome, (const char *)sqlite3_column_text(s, 4));
            str_copy(a->reason, sizeof a->reason, (const char *)sqlite3_column_text(s, 5));
            str_copy(a->message, sizeof a->message, (const char *)sqlite3_column_text(s, 6));
            str_copy(a->provider_sid, sizeof a->provider_sid, (const char *)sqlite3_column_text(s, 7));
            a->pages = sqlite3_column_int(s, 8);
        }
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

static void bind_search(sqlite3_stmt *s, const job_search *q)
{
    sqlite3_bind_text(s, 1, q->status ? q->status : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, q->backend ? q->backend : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, q->to_number ? q->to_number : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, q->created_from);
    sqlite3_bind_int64(s, 5, q->created_to > 0 ? q->created_to : INT64_MAX);
}

static int sq_job_search(store *base, const job_search *q, job_record *out, int64_t *total)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    int n = STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_JOB_SEARCH_COUNT);
    if (s) {
        bind_search(s, q);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && total) *total = sqlite3_column_int64(s, 0);
        stmt_done(s);
        s = rc == SQLITE_ROW ? conn_stmt(st, c, S_JOB_SEARCH) : NULL;
    }
    if (s) {
        bind_search(s, q);
        sqlite3_bind_int(s, 6, q->limit);
        sqlite3_bind_int(s, 7, q->offset);
        int rc = SQLITE_DONE;
        n = 0;
        while (n < q->limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            memset(&out[n], 0, sizeof out[n]);
            read_cols(s, job_cols, N_JOB_COLS, &out[n]);
            n++;
        }
        if (n < q->limit && rc != SQLITE_DONE) n = db_fail(c->db, rc, "searching jobs", NULL, 0);
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

/* ---- whole tables (faxbot migrate) ---- */

typedef struct sq_cursor {
    store_cursor base;           /* first */
    conn *c;                     /* held until close */
    sqlite3_stmt *s;
    row_buf buf;
} sq_cursor;

static void sq_cursor_close(store_cursor *base)
{
    sq_cursor *k = (sq_cursor *)base;
    if (!k) return;
    sqlite3_finalize(k->s);
    if (k->c) pool_put((sq_store *)k->base.st, k->c);
    sb_free(&k->buf.sb);
    free(k);
}

static store_cursor *sq_table_open(store *base, const store_table *t, const char *const *cols, int ncols, char *err,
                                   size_t errlen)
{
    sq_store *st = (sq_store *)base;
    sq_cursor *k = calloc(1, sizeof *k);
    char *sql = table_select_sql(t, cols, ncols);
    if (!k || !sql) { free(k); free(sql); set_err(err, errlen, "out of memory"); return NULL; }
    k->base.st = base;
    sb_init(&k->buf.sb);
    k->c = pool_get(st, err, errlen);
    int rc = k->c ? sqlite3_prepare_v2(k->c->db, sql, -1, &k->s, NULL) : SQLITE_ERROR;
    free(sql);
    if (rc != SQLITE_OK) {
        if (k->c) db_fail(k->c->db, rc, "reading a table", err, errlen);
        sq_cursor_close(&k->base);
        return NULL;
    }
    return &k->base;
}

static int sq_cursor_next(store_cursor *base, store_row *row, char *err, size_t errlen)
{
    sq_cursor *k = (sq_cursor *)base;
    int rc = sqlite3_step(k->s);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return db_fail(k->c->db, rc, "reading a table", err, errlen);
    int n = sqlite3_column_count(k->s);
    if (n > STORE_ROW_COLS) { set_err(err, errlen, "too many columns"); return STORE_ERROR; }
    row_buf_reset(&k->buf);
    int bad = 0;
    for (int i = 0; i < n && !bad; i++) {
        row->name[i] = sqlite3_column_name(k->s, i);
        switch (sqlite3_column_type(k->s, i)) {
        case SQLITE_NULL: bad = row_buf_add(&k->buf, NULL, 0); break;
        case SQLITE_INTEGER: bad = row_buf_add_i64(&k->buf, sqlite3_column_int64(k->s, i)); break;
        case SQLITE_FLOAT: bad = row_buf_add_real(&k->buf, sqlite3_column_double(k->s, i)); break;
        default: {
            const char *t = (const char *)sqlite3_column_text(k->s, i);
            bad = row_buf_add(&k->buf, t ? t : "", t ? (size_t)sqlite3_column_bytes(k->s, i) : 0);
        }
        }
    }
    if (bad) { set_err(err, errlen, "out of memory"); return STORE_ERROR; }
    row_buf_fill(&k->buf, row);
    return 1;
}

static int64_t sq_table_count(store *base, const store_table *t)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t->name);
    sqlite3_stmt *s = NULL;
    int64_t n = STORE_ERROR;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
    else db_fail(c->db, rc, "counting rows", NULL, 0);
    sqlite3_finalize(s);
    pool_put(st, c);
    return n;
}

static int sq_table_put(store *base, const store_table *t, const store_row *rows, int n, int *added, char *err,
                        size_t errlen)
{
    sq_store *st = (sq_store *)base;
    if (rows_same_columns(rows, n)) { set_err(err, errlen, "the rows of one batch must have the same columns"); return STORE_ERROR; }
    char *sql = table_insert_sql(t, &rows[0], "INSERT OR IGNORE INTO", '?', "");
    if (!sql) { set_err(err, errlen, "out of memory"); return STORE_ERROR; }
    conn *c = pool_get(st, err, errlen);
    if (!c) { free(sql); return STORE_ERROR; }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    free(sql);
    if (rc == SQLITE_OK) rc = step_once(st, c, S_BEGIN) == SQLITE_DONE ? SQLITE_OK : SQLITE_BUSY;
    for (int r = 0; r < n && rc == SQLITE_OK; r++) {
        for (int i = 0; i < rows[r].n && rc == SQLITE_OK; i++)
            rc = rows[r].value[i] ? sqlite3_bind_text(s, i + 1, rows[r].value[i], -1, SQLITE_STATIC)
                                  : sqlite3_bind_null(s, i + 1);
        if (rc == SQLITE_OK) rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) {
            if (added) *added += sqlite3_changes(c->db);
            rc = SQLITE_OK;
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    if (rc == SQLITE_OK) rc = step_once(st, c, S_COMMIT) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    int code = rc == SQLITE_OK ? STORE_OK : db_fail(c->db, rc, "copying rows", err, errlen);
    if (code != STORE_OK && added) *added = 0;
    sqlite3_finalize(s);
    pool_put(st, c);
    return code;
}

/* ---- named leases ---- */

static void lease_cols(sqlite3_stmt *s, int first, store_lease *out)
{
    copy_col(s, first, out->node_id, sizeof out->node_id);
    out->acquired_at = sqlite3_column_int64(s, first + 1);
    out->until = sqlite3_column_int64(s, first + 2);
}

static int sq_lease_take(store *base, const char *name, int64_t now, int64_t ttl_ms, store_lease *out)
{
    sq_store *st = (sq_store *)base;
    memset(out, 0, sizeof *out);
    str_copy(out->name, sizeof out->name, name);
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    int code = STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_LEASE_TAKE);
    if (s) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, base->node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now);
        sqlite3_bind_int64(s, 4, ttl_ms);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            lease_cols(s, 0, out);
            code = STORE_OK;
            rc = sqlite3_step(s);        /* finishes the statement */
        } else if (rc != SQLITE_DONE) {
            code = db_fail(c->db, rc, "taking a lease", NULL, 0);
        } else {
            code = STORE_CONFLICT;
        }
        stmt_done(s);
        if (code == STORE_CONFLICT && (s = conn_stmt(st, c, S_LEASE_GET))) {
            sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
            if (sqlite3_step(s) == SQLITE_ROW) lease_cols(s, 0, out);
            stmt_done(s);
        }
    }
    pool_put(st, c);
    return code;
}

static int sq_lease_release(store *base, const char *name)
{
    sq_store *st = (sq_store *)base;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    int code = STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_LEASE_RELEASE);
    if (s) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, base->node_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        stmt_done(s);
        code = rc == SQLITE_DONE ? STORE_OK : db_fail(c->db, rc, "giving a lease up", NULL, 0);
    }
    pool_put(st, c);
    return code;
}

static int sq_lease_list(store *base, store_lease *out, int max)
{
    sq_store *st = (sq_store *)base;
    if (max < 1) return 0;
    conn *c = pool_get(st, NULL, 0);
    if (!c) return STORE_ERROR;
    int n = STORE_ERROR;
    sqlite3_stmt *s = conn_stmt(st, c, S_LEASE_LIST);
    if (s) {
        sqlite3_bind_int(s, 1, max);
        n = 0;
        while (n < max && sqlite3_step(s) == SQLITE_ROW) {
            memset(&out[n], 0, sizeof out[n]);
            copy_col(s, 0, out[n].name, sizeof out[n].name);
            lease_cols(s, 1, &out[n]);
            n++;
        }
        stmt_done(s);
    }
    pool_put(st, c);
    return n;
}

static const store_ops sqlite_ops = {
    .lease_take = sq_lease_take,
    .lease_release = sq_lease_release,
    .lease_list = sq_lease_list,
    .kind = "sqlite",
    .close = sq_close,
    .ping = sq_ping,
    .job_insert_ev = sq_job_insert_ev,
    .job_get = sq_job_get,
    .job_update_if_ev = sq_job_update_if_ev,
    .job_list = sq_job_list,
    .job_search = sq_job_search,
    .attempt_record = sq_attempt_record,
    .attempt_list = sq_attempt_list,
    .job_due = sq_job_due,
    .job_lease_expired = sq_job_lease_expired,
    .job_next_due = sq_job_next_due,
    .job_other_owner_due = sq_job_other_owner_due,
    .job_count_by_status = sq_job_count_by_status,
    .job_mark_artifacts_deleted = sq_job_mark_artifacts_deleted,
    .job_artifacts_expired = sq_job_artifacts_expired,
    .inbound_insert_ev = sq_inbound_insert_ev,
    .inbound_get = sq_inbound_get,
    .inbound_list = sq_inbound_list,
    .inbound_mark_artifacts_deleted = sq_inbound_mark_artifacts_deleted,
    .inbound_set_read = sq_inbound_set_read,
    .inbound_unread_count = sq_inbound_unread_count,
    .inbound_expired = sq_inbound_expired,
    .session_put = sq_session_put,
    .session_get = sq_session_get,
    .session_touch = sq_session_touch,
    .session_delete = sq_session_delete,
    .session_delete_key = sq_session_delete_key,
    .session_prune = sq_session_prune,
    .key_insert = sq_key_insert,
    .key_get = sq_key_get,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .key_set_hash = sq_key_set_hash,
    .key_touch = sq_key_touch,
    .event_list_after = sq_event_list_after,
    .event_last_seq = sq_event_last_seq,
    .event_prune = sq_event_prune,
    .endpoint_insert = sq_endpoint_insert,
    .endpoint_get = sq_endpoint_get,
    .endpoint_list = sq_endpoint_list,
    .endpoint_delete = sq_endpoint_delete,
    .delivery_due = sq_delivery_due,
    .delivery_update = sq_delivery_update,
    .delivery_list = sq_delivery_list,
    .delivery_next_due = sq_delivery_next_due,
    .table_open = sq_table_open,
    .cursor_next = sq_cursor_next,
    .cursor_close = sq_cursor_close,
    .table_count = sq_table_count,
    .table_put = sq_table_put,
};
