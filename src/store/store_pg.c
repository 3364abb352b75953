/* store_pg.c — the store.h interface on PostgreSQL (libpq), for several gateway
 * nodes sharing one database.
 *
 * Connections: a small pool (POOL_MAX), opened lazily from the DATABASE_URL exactly
 * as given (sslmode, sslrootcert, … are libpq's to honour), each with a
 * statement_timeout unless the URL sets its own. A connection that broke (the
 * server restarted) is reset on its next use; a call that fails meanwhile returns
 * STORE_ERROR and the API answers 503 with Retry-After — nothing is written half.
 * A read (or the BEGIN of a write) that finds its pooled connection dead is tried
 * once more on a fresh one, so the first request after a restart does not fail.
 * Statements are prepared once per connection, lazily, and run with text parameters.
 *
 * Schema: the same versioned migrations as store_sqlite.c, in PostgreSQL's dialect
 * (BIGINT times, COLLATE "C" text so ordering matches SQLite's byte order), applied
 * under a session advisory lock, so several nodes that start together apply each
 * exactly once; faxbot_schema records who applied which.
 *
 * Several nodes: due jobs are handed out FOR UPDATE SKIP LOCKED and reserved for
 * the asking node for a few seconds, so nodes do not race for the same rows; the
 * claim itself stays job_transition's compare-and-set on (status, updated_at), the
 * one writer of a job's status. A node's in_progress leases name it (lease_node);
 * every node heartbeats into faxbot_nodes, and the expired leases of a node that
 * stopped its heartbeat are taken over by the others. Events get their seq under a
 * transaction advisory lock, so seq order is commit order and an SSE reader that
 * asks for "after seq" never misses one committed late. */
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/store_cols.h"
#include "store/store_impl.h"
#include "util/util.h"

#define POOL_MAX 8
#define STATEMENT_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_S "5"
#define LIST_MAX 501
#define TOUCH_COALESCE_MS 60000
#define RESERVE_MS 5000              /* a due job handed to one node is not offered to others this long */
#define PARAMS_MAX 48
#define LOCK_MIGRATE 7262890511LL    /* advisory lock keys: "faxbot" + a digit */
#define LOCK_EVENTS 7262890512LL

#define T "TEXT COLLATE \"C\" NOT NULL DEFAULT ''"
#define I "BIGINT NOT NULL DEFAULT 0"

/* The same versions as store_sqlite.c's migrations, in PostgreSQL's dialect. */
static const char *const migrations[] = {
    /* v1 */
    "CREATE TABLE fax_jobs ("
    " id TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, to_number " T ", status TEXT COLLATE \"C\" NOT NULL, error " T ","
    " failure_reason " T ", pages BIGINT NOT NULL DEFAULT -1, backend " T ", provider_sid " T ","
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, attempts " I ", max_attempts " I ","
    " next_attempt_at " I ", lease_until " I ", submitted_at " I ", doc_type " T ", doc_size " I ","
    " file_name " T ", resolution " T ", header_text " T ", caller_id " T ", callback_url " T ","
    " api_key_id " T ", idempotency_key " T ", pdf_token_hash " T ", pdf_token_expires_at " I ","
    " cancel_requested " I ", duration_s DOUBLE PRECISION NOT NULL DEFAULT -1, bit_rate BIGINT NOT NULL DEFAULT -1,"
    " ecm BIGINT NOT NULL DEFAULT -1, remote_station_id " T ", inbound_id " T ");"
    "CREATE INDEX fax_jobs_status_due ON fax_jobs(status, next_attempt_at);"
    "CREATE INDEX fax_jobs_created ON fax_jobs(created_at, id);"
    "CREATE INDEX fax_jobs_to_created ON fax_jobs(to_number, created_at, id);"
    "CREATE INDEX fax_jobs_status_created ON fax_jobs(status, created_at, id);"
    "CREATE INDEX fax_jobs_lease ON fax_jobs(lease_until) WHERE status = 'in_progress';"
    "CREATE INDEX fax_jobs_provider_sid ON fax_jobs(provider_sid) WHERE provider_sid <> '';"
    "CREATE UNIQUE INDEX fax_jobs_idempotency ON fax_jobs(api_key_id, idempotency_key) WHERE idempotency_key <> '';"
    "CREATE TABLE api_keys (id BIGSERIAL PRIMARY KEY, key_id TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    " key_hash TEXT NOT NULL, name " T ", owner " T ", scopes " T ", note " T ", created_at BIGINT NOT NULL,"
    " last_used_at " I ", expires_at " I ", revoked_at " I ");",
    /* v2: inbound faxes, and artifact expiry on jobs */
    "ALTER TABLE fax_jobs ADD COLUMN artifacts_deleted_at " I ";"
    "ALTER TABLE fax_jobs ADD COLUMN fetch_token_hash " T ";"
    "ALTER TABLE fax_jobs ADD COLUMN fetch_token_expires_at " I ";"
    "CREATE INDEX fax_jobs_finished ON fax_jobs(updated_at) WHERE status IN ('SUCCESS','FAILED','cancelled')"
    " AND artifacts_deleted_at = 0;"
    "CREATE TABLE inbound_faxes (id TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, from_number " T ", to_number " T ","
    " status TEXT COLLATE \"C\" NOT NULL DEFAULT 'received', backend " T ", provider_sid " T ","
    " pages BIGINT NOT NULL DEFAULT -1, size_bytes " I ", sha256 " T ", remote_station_id " T ", mailbox " T ","
    " source_job_id " T ", error " T ", created_at BIGINT NOT NULL, received_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL, retention_until " I ", artifacts_deleted_at " I ");"
    "CREATE UNIQUE INDEX inbound_provider ON inbound_faxes(backend, provider_sid) WHERE provider_sid <> '';"
    "CREATE INDEX inbound_received ON inbound_faxes(received_at, id);"
    "CREATE INDEX inbound_to ON inbound_faxes(to_number, received_at, id);"
    "CREATE INDEX inbound_retention ON inbound_faxes(retention_until) WHERE retention_until > 0"
    " AND artifacts_deleted_at = 0;",
    /* v3: owners, the request an Idempotency-Key was first used for, conversion warnings */
    "ALTER TABLE fax_jobs ADD COLUMN owner " T ";"
    "ALTER TABLE fax_jobs ADD COLUMN request_hash " T ";"
    "ALTER TABLE fax_jobs ADD COLUMN warning " T ";"
    "UPDATE fax_jobs SET owner = api_key_id;"
    "CREATE INDEX fax_jobs_owner_created ON fax_jobs(owner, created_at, id);"
    "ALTER TABLE inbound_faxes ADD COLUMN owner " T ";"
    "CREATE INDEX inbound_owner_received ON inbound_faxes(owner, received_at, id);",
    /* v4: every attempt of a job; the admin job search */
    "CREATE TABLE job_attempts (job_id TEXT COLLATE \"C\" NOT NULL, attempt BIGINT NOT NULL, backend " T ","
    " started_at " I ", ended_at " I ", outcome " T ", reason " T ", message " T ", provider_sid " T ","
    " pages BIGINT NOT NULL DEFAULT -1, PRIMARY KEY (job_id, attempt));"
    "CREATE INDEX fax_jobs_backend ON fax_jobs(backend, created_at);",
    /* v5: the event outbox, client webhook endpoints and their deliveries, pages sent */
    "ALTER TABLE fax_jobs ADD COLUMN pages_sent " I ";"
    "CREATE TABLE events (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, job_id " T ","
    " inbound_id " T ", owner " T ", created_at BIGINT NOT NULL, body TEXT NOT NULL);"
    "CREATE TABLE webhook_endpoints (id TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, url TEXT NOT NULL,"
    " secret TEXT NOT NULL, event_types TEXT NOT NULL DEFAULT '*', description " T ", created_at BIGINT NOT NULL,"
    " deleted_at " I ");"
    "CREATE TABLE webhook_deliveries (id TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, event_seq BIGINT NOT NULL,"
    " endpoint_id " T ", job_id " T ", url TEXT NOT NULL, order_key TEXT COLLATE \"C\" NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'pending', attempts " I ", next_attempt_at BIGINT NOT NULL, last_status " I ","
    " last_error " T ", created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
    "CREATE INDEX deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';"
    "CREATE INDEX deliveries_order ON webhook_deliveries(order_key, event_seq) WHERE status = 'pending';"
    "CREATE INDEX deliveries_endpoint ON webhook_deliveries(endpoint_id, event_seq);"
    "CREATE INDEX deliveries_job ON webhook_deliveries(job_id, event_seq) WHERE job_id <> '';"
    "CREATE INDEX deliveries_event ON webhook_deliveries(event_seq);",
    /* v6: the Admin Console's Inbox marks faxes read (0 = unread) */
    "ALTER TABLE inbound_faxes ADD COLUMN read_at " I ";"
    "CREATE INDEX inbound_unread ON inbound_faxes(owner) WHERE read_at = 0;",
    /* v7: the Admin Console's sign-in sessions outlive a restart (by the hash of the id) */
    "CREATE TABLE console_sessions (id_hash TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, key_id TEXT NOT NULL,"
    " key_hash TEXT NOT NULL, csrf TEXT NOT NULL, created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL);"
    "CREATE INDEX console_sessions_key ON console_sessions(key_id);",
    /* v8: the node holding a job's lease; (PostgreSQL only) the node a due job is
     * reserved for, and the nodes' heartbeats */
    "ALTER TABLE fax_jobs ADD COLUMN lease_node " T ";"
    "ALTER TABLE fax_jobs ADD COLUMN claim_node " T ";"
    "ALTER TABLE fax_jobs ADD COLUMN claim_until " I ";"
    "CREATE TABLE faxbot_nodes (node_id TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, started_at " I ","
    " heartbeat_at " I ");",
    /* v9: named leases (one node at a time talks to a PBX connection, sweeps retention) */
    "CREATE TABLE faxbot_leases (name TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, node_id " T ","
    " acquired_at " I ", until " I ");",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- statements ---- */

enum {
    P_PING,
    P_JOB_INSERT, P_JOB_GET, P_JOB_BY_IDEM, P_JOB_UPDATE_IF, P_JOB_EXISTS,
    P_JOB_LIST, P_JOB_LIST_STATUS, P_JOB_LIST_TO, P_JOB_LIST_STATUS_TO,
    P_JOB_DUE, P_JOB_LEASE_EXPIRED, P_JOB_NEXT_DUE, P_JOB_COUNT_STATUS, P_JOB_OTHER_OWNER_DUE,
    P_JOB_MARK_ARTIFACTS, P_JOB_ARTIFACTS_EXPIRED,
    P_IN_INSERT, P_IN_GET, P_IN_BY_SID, P_IN_MARK_ARTIFACTS, P_IN_EXPIRED, P_IN_SET_READ, P_IN_UNREAD,
    P_SES_PUT, P_SES_GET, P_SES_TOUCH, P_SES_DELETE, P_SES_DELETE_KEY, P_SES_PRUNE,
    P_IN_LIST0, P_IN_LIST7 = P_IN_LIST0 + 7,
    P_KEY_INSERT, P_KEY_GET, P_KEY_LIST, P_KEY_REVOKE, P_KEY_SET_HASH, P_KEY_TOUCH, P_KEY_EXISTS,
    P_ATTEMPT_INSERT, P_ATTEMPT_LIST, P_JOB_SEARCH, P_JOB_SEARCH_COUNT,
    P_EV_LOCK, P_EV_INSERT, P_EV_DELIVER_CB, P_EV_DELIVER_EP, P_EV_AFTER, P_EV_LAST, P_EV_PRUNE_DL, P_EV_PRUNE,
    P_EP_INSERT, P_EP_GET, P_EP_LIST, P_EP_DELETE, P_EP_FAIL_PENDING,
    P_DL_DUE, P_DL_UPDATE, P_DL_BY_ENDPOINT, P_DL_BY_JOB, P_DL_NEXT_DUE,
    P_NODE_BEAT, P_NODE_LIST,
    P_LEASE_TAKE, P_LEASE_GET, P_LEASE_RELEASE, P_LEASE_LIST,
    P_COUNT
};

/* Statements that only read: tried once more on a fresh connection if the pooled
 * one turns out to be dead. */
static bool read_only(int which)
{
    switch (which) {
    case P_PING: case P_JOB_GET: case P_JOB_BY_IDEM: case P_JOB_EXISTS: case P_JOB_LIST: case P_JOB_LIST_STATUS:
    case P_JOB_LIST_TO: case P_JOB_LIST_STATUS_TO: case P_JOB_LEASE_EXPIRED: case P_JOB_NEXT_DUE:
    case P_JOB_COUNT_STATUS: case P_JOB_OTHER_OWNER_DUE: case P_JOB_ARTIFACTS_EXPIRED: case P_IN_GET: case P_IN_BY_SID:
    case P_IN_EXPIRED: case P_KEY_GET: case P_KEY_LIST: case P_KEY_EXISTS: case P_ATTEMPT_LIST: case P_JOB_SEARCH:
    case P_JOB_SEARCH_COUNT: case P_EV_AFTER: case P_EV_LAST: case P_EP_GET: case P_EP_LIST: case P_DL_DUE:
    case P_DL_BY_ENDPOINT: case P_DL_BY_JOB: case P_DL_NEXT_DUE: case P_NODE_LIST: case P_LEASE_GET: case P_LEASE_LIST: case P_IN_UNREAD: case P_SES_GET:
        return true;
    default:
        return which >= P_IN_LIST0 && which <= P_IN_LIST7;
    }
}

typedef struct pgc {
    PGconn *db;
    bool prepared[P_COUNT];
    bool fresh;                  /* no statement run yet in this checkout */
    struct pgc *next_free;
    struct pgc *next_all;
} pgc;

typedef struct pg_store {
    store base;                  /* first: the interface's part */
    char *url;
    char *sql[P_COUNT];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pgc *free_list;
    pgc *all;
    int nconn;
    int64_t started_at;          /* for the node heartbeat */
    bool down;                   /* the last connection attempt failed (logged once, under lock) */
} pg_store;

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

static int build_sql(pg_store *st)
{
    char *jc = cols_list(job_cols, N_JOB_COLS), *jp = params_list('$', 1, N_JOB_COLS);
    char *kc = cols_list(key_cols, N_KEY_COLS), *kp = params_list('$', 1, N_KEY_COLS);
    char *ic = cols_list(inbound_cols, N_INBOUND_COLS), *ip = params_list('$', 1, N_INBOUND_COLS);
    strbuf set;
    sb_init(&set);
    int rc = (jc && jp && kc && kp && ic && ip) ? 0 : -1;
    for (int i = 1; i < N_JOB_COLS && !rc; i++)
        rc = sb_appendf(&set, "%s%s=$%d", i > 1 ? "," : "", job_cols[i].name, i + 1);
    if (!rc && !set.data) rc = -1;
    if (!rc) {
        const char *list = "SELECT %s FROM fax_jobs WHERE (created_at, id) < ($1::bigint, $2::text)%s%s"
                           " AND ($6::text = '' OR owner = $6) AND ($7::text = '' OR backend = $7)"
                           " AND created_at >= $8::bigint ORDER BY created_at DESC, id DESC LIMIT $5";
        char **q = st->sql;
        q[P_PING] = strdup("SELECT 1");
        q[P_JOB_INSERT] = fmt_alloc("INSERT INTO fax_jobs (%s) VALUES (%s)", jc, jp);
        q[P_JOB_GET] = fmt_alloc("SELECT %s FROM fax_jobs WHERE id = $1", jc);
        q[P_JOB_BY_IDEM] = fmt_alloc("SELECT %s FROM fax_jobs WHERE api_key_id = $1 AND idempotency_key = $2"
                                     " AND idempotency_key <> ''", jc);
        q[P_JOB_UPDATE_IF] = fmt_alloc("UPDATE fax_jobs SET %s WHERE id = $1 AND status = $%d AND updated_at = $%d",
                                       set.data, N_JOB_COLS + 1, N_JOB_COLS + 2);
        q[P_JOB_EXISTS] = strdup("SELECT 1 FROM fax_jobs WHERE id = $1");
        q[P_JOB_LIST] = fmt_alloc(list, jc, " AND $3::text IS NULL", " AND $4::text IS NULL");
        q[P_JOB_LIST_STATUS] = fmt_alloc(list, jc, " AND status = $3", " AND $4::text IS NULL");
        q[P_JOB_LIST_TO] = fmt_alloc(list, jc, " AND $3::text IS NULL", " AND to_number = $4");
        q[P_JOB_LIST_STATUS_TO] = fmt_alloc(list, jc, " AND status = $3", " AND to_number = $4");
        /* $1 now, $2 max, $3 this node: rows another node is not holding right now,
         * locked so two nodes asking at once get different ones, reserved for us */
        q[P_JOB_DUE] = fmt_alloc(
            "WITH due AS (SELECT id FROM fax_jobs WHERE status = 'queued' AND next_attempt_at <= $1::bigint"
            " AND (claim_until < $1::bigint OR claim_node = $3::text) ORDER BY next_attempt_at LIMIT $2"
            " FOR UPDATE SKIP LOCKED)"
            " UPDATE fax_jobs f SET claim_node = $3::text, claim_until = $1::bigint + %d FROM due WHERE f.id = due.id"
            " RETURNING f.id, f.next_attempt_at", RESERVE_MS);
        /* $1 now (or a horizon), $2 max, $3 this node, $4 heard-from-since */
        q[P_JOB_LEASE_EXPIRED] = strdup(
            "SELECT id FROM fax_jobs j WHERE status = 'in_progress' AND lease_until > 0 AND lease_until < $1"
            " AND (lease_node = '' OR lease_node = $3::text OR NOT EXISTS (SELECT 1 FROM faxbot_nodes n"
            " WHERE n.node_id = j.lease_node AND n.heartbeat_at > $4::bigint)) ORDER BY lease_until LIMIT $2");
        q[P_JOB_NEXT_DUE] = strdup("SELECT COALESCE(MIN(next_attempt_at), 0) FROM fax_jobs WHERE status = 'queued'");
        q[P_JOB_COUNT_STATUS] = strdup("SELECT COUNT(*) FROM fax_jobs WHERE status = $1");
        q[P_JOB_OTHER_OWNER_DUE] = strdup("SELECT 1 FROM fax_jobs WHERE status = 'queued' AND next_attempt_at <= $1"
                                          " AND owner <> $2 LIMIT 1");
        q[P_JOB_MARK_ARTIFACTS] = strdup("UPDATE fax_jobs SET artifacts_deleted_at = $2 WHERE id = $1");
        q[P_JOB_ARTIFACTS_EXPIRED] =
            strdup("SELECT id FROM fax_jobs WHERE status IN ('SUCCESS','FAILED','cancelled') AND artifacts_deleted_at = 0"
                   " AND updated_at < $1 ORDER BY updated_at LIMIT $2");
        q[P_IN_INSERT] = fmt_alloc("INSERT INTO inbound_faxes (%s) VALUES (%s)", ic, ip);
        q[P_IN_GET] = fmt_alloc("SELECT %s FROM inbound_faxes WHERE id = $1", ic);
        q[P_IN_BY_SID] = fmt_alloc("SELECT %s FROM inbound_faxes WHERE backend = $1 AND provider_sid = $2"
                                   " AND provider_sid <> ''", ic);
        q[P_IN_MARK_ARTIFACTS] = strdup("UPDATE inbound_faxes SET artifacts_deleted_at = $2, updated_at = $2 WHERE id = $1");
        q[P_IN_EXPIRED] = strdup("SELECT id FROM inbound_faxes WHERE retention_until > 0 AND artifacts_deleted_at = 0"
                                 " AND retention_until < $1 ORDER BY retention_until LIMIT $2");
        for (int m = 0; m < 8; m++)
            q[P_IN_LIST0 + m] =
                fmt_alloc("SELECT %s FROM inbound_faxes WHERE (received_at, id) < ($1::bigint, $2::text)%s%s%s"
                          " AND ($7::text = '' OR owner = $7 OR owner = '') AND ($8::int = 0 OR read_at = 0)"
                          " ORDER BY received_at DESC, id DESC LIMIT $6",
                          ic, m & 1 ? " AND to_number = $3" : " AND $3::text IS NULL",
                          m & 2 ? " AND status = $4" : " AND $4::text IS NULL",
                          m & 4 ? " AND mailbox = $5" : " AND $5::text IS NULL");
        q[P_IN_SET_READ] = strdup("UPDATE inbound_faxes SET read_at = $2 WHERE id = $1");
        q[P_IN_UNREAD] = strdup("SELECT COUNT(*) FROM inbound_faxes WHERE read_at = 0 AND artifacts_deleted_at = 0"
                                " AND ($1::text = '' OR owner = $1 OR owner = '')");
        q[P_SES_PUT] = strdup("INSERT INTO console_sessions (id_hash, key_id, key_hash, csrf, created_at, last_seen_at)"
                              " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id_hash) DO UPDATE SET key_id = $2,"
                              " key_hash = $3, csrf = $4, created_at = $5, last_seen_at = $6");
        q[P_SES_GET] = strdup("SELECT key_id, key_hash, csrf, created_at, last_seen_at FROM console_sessions"
                              " WHERE id_hash = $1");
        q[P_SES_TOUCH] = strdup("UPDATE console_sessions SET last_seen_at = $2 WHERE id_hash = $1");
        q[P_SES_DELETE] = strdup("DELETE FROM console_sessions WHERE id_hash = $1");
        q[P_SES_DELETE_KEY] = strdup("DELETE FROM console_sessions WHERE key_id = $1");
        q[P_SES_PRUNE] = strdup("DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2");
        q[P_KEY_INSERT] = fmt_alloc("INSERT INTO api_keys (%s) VALUES (%s)", kc, kp);
        q[P_KEY_GET] = fmt_alloc("SELECT %s FROM api_keys WHERE key_id = $1", kc);
        q[P_KEY_LIST] = fmt_alloc("SELECT %s FROM api_keys ORDER BY created_at DESC, id DESC", kc);
        q[P_KEY_REVOKE] = strdup("UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at = 0");
        q[P_KEY_SET_HASH] = strdup("UPDATE api_keys SET key_hash = $2 WHERE key_id = $1");
        q[P_KEY_TOUCH] = fmt_alloc("UPDATE api_keys SET last_used_at = $2::bigint WHERE key_id = $1 AND"
                                   " ($2::bigint = 0 OR last_used_at <= $2::bigint - %d OR last_used_at > $2::bigint)",
                                   TOUCH_COALESCE_MS);
        q[P_KEY_EXISTS] = strdup("SELECT 1 FROM api_keys WHERE key_id = $1");
        q[P_ATTEMPT_INSERT] = strdup(
            "INSERT INTO job_attempts (job_id, attempt, backend, started_at, ended_at, outcome, reason, message,"
            " provider_sid, pages) VALUES ($1, (SELECT coalesce(max(attempt), 0) + 1 FROM job_attempts WHERE job_id = $1),"
            " $2, $3, $4, $5, $6, $7, $8, $9)");
        q[P_ATTEMPT_LIST] = strdup("SELECT attempt, backend, started_at, ended_at, outcome, reason, message, provider_sid,"
                                   " pages FROM job_attempts WHERE job_id = $1 ORDER BY attempt LIMIT $2");
        const char *where = " WHERE ($1::text = '' OR status = $1) AND ($2::text = '' OR backend = $2)"
                            " AND ($3::text = '' OR to_number = $3) AND created_at >= $4::bigint AND created_at < $5::bigint";
        q[P_JOB_SEARCH] = fmt_alloc("SELECT %s FROM fax_jobs%s ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7", jc, where);
        q[P_JOB_SEARCH_COUNT] = fmt_alloc("SELECT count(*) FROM fax_jobs%s", where);
        q[P_EV_LOCK] = fmt_alloc("SELECT pg_advisory_xact_lock(%lld)", LOCK_EVENTS);
        q[P_EV_INSERT] = strdup("INSERT INTO events (id, type, job_id, inbound_id, owner, created_at, body)"
                                " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq");
        /* $1 seq, $2 job id (or "inbound:<id>"), $3 now, $4 url or type, $5 job_id */
        q[P_EV_DELIVER_CB] =
            strdup("INSERT INTO webhook_deliveries (id, event_seq, endpoint_id, job_id, url, order_key, next_attempt_at,"
                   " created_at, updated_at) VALUES ('msg_' || replace(gen_random_uuid()::text, '-', ''), $1, '', $5, $4,"
                   " 'callback|' || $2::text, $3, $3, $3)");
        q[P_EV_DELIVER_EP] =
            strdup("INSERT INTO webhook_deliveries (id, event_seq, endpoint_id, job_id, url, order_key, next_attempt_at,"
                   " created_at, updated_at) SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), $1, id, $5, url,"
                   " id || '|' || $2::text, $3, $3, $3 FROM webhook_endpoints WHERE deleted_at = 0 AND"
                   " (event_types = '*' OR strpos(',' || event_types || ',', ',' || $4::text || ',') > 0)");
        q[P_EV_AFTER] = strdup("SELECT seq, id, type, job_id, inbound_id, owner, created_at, body FROM events"
                               " WHERE seq > $1 ORDER BY seq LIMIT $2");
        q[P_EV_LAST] = strdup("SELECT COALESCE(MAX(seq), 0) FROM events");
        q[P_EV_PRUNE_DL] = strdup("DELETE FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending'");
        q[P_EV_PRUNE] = strdup("DELETE FROM events WHERE seq <= COALESCE((SELECT seq FROM events WHERE"
                               " created_at < $1 ORDER BY seq DESC LIMIT 1), 0)"
                               " AND seq < (SELECT MAX(seq) FROM events)"
                               " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = events.seq)");
        q[P_EP_INSERT] = strdup("INSERT INTO webhook_endpoints (id, url, secret, event_types, description,"
                                " created_at, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, 0)");
        q[P_EP_GET] = strdup("SELECT id, url, secret, event_types, description, created_at, deleted_at"
                             " FROM webhook_endpoints WHERE id = $1");
        q[P_EP_LIST] = strdup("SELECT id, url, secret, event_types, description, created_at, deleted_at"
                              " FROM webhook_endpoints WHERE deleted_at = 0 ORDER BY created_at, id");
        q[P_EP_DELETE] = strdup("UPDATE webhook_endpoints SET deleted_at = $2 WHERE id = $1 AND deleted_at = 0");
        q[P_EP_FAIL_PENDING] = strdup("UPDATE webhook_deliveries SET status = 'failed', last_error = 'the endpoint was deleted',"
                                      " updated_at = $2 WHERE endpoint_id = $1 AND status = 'pending'");
#define DL_COLS "d.id, d.event_seq, COALESCE(e.type, ''), d.endpoint_id, d.job_id, d.url, d.status, d.attempts, d.next_attempt_at," \
                " d.last_status, d.last_error, d.created_at, d.updated_at"
        q[P_DL_DUE] = strdup("SELECT " DL_COLS ", COALESCE(w.secret, ''), COALESCE(w.deleted_at, 0), e.body"
                             " FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq"
                             " LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id AND d.endpoint_id <> ''"
                             " WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND NOT EXISTS (SELECT 1 FROM"
                             " webhook_deliveries p WHERE p.status = 'pending' AND p.order_key = d.order_key"
                             " AND p.event_seq < d.event_seq) ORDER BY d.event_seq LIMIT $2");
        q[P_DL_UPDATE] = strdup("UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4,"
                                " last_status = $5, last_error = $6, updated_at = $7 WHERE id = $1");
        q[P_DL_BY_ENDPOINT] = strdup("SELECT " DL_COLS " FROM webhook_deliveries d LEFT JOIN events e ON"
                                     " e.seq = d.event_seq WHERE d.endpoint_id = $1 ORDER BY d.event_seq DESC LIMIT $2");
        q[P_DL_BY_JOB] = strdup("SELECT " DL_COLS " FROM webhook_deliveries d LEFT JOIN events e ON"
                                " e.seq = d.event_seq WHERE d.job_id = $1 ORDER BY d.event_seq DESC LIMIT $2");
        q[P_DL_NEXT_DUE] = strdup("SELECT COALESCE(MIN(next_attempt_at), 0) FROM webhook_deliveries WHERE status = 'pending'");
#undef DL_COLS
        q[P_NODE_BEAT] = strdup("INSERT INTO faxbot_nodes (node_id, started_at, heartbeat_at) VALUES ($1, $2, $3)"
                                " ON CONFLICT (node_id) DO UPDATE SET started_at = $2, heartbeat_at = $3");
        /* $1 heard-from-since (alive), $2 this node, $3 max; nodes heard from in the last hour */
        q[P_NODE_LIST] = strdup("SELECT n.node_id, n.started_at, n.heartbeat_at, n.heartbeat_at > $1::bigint,"
                                " (SELECT count(*) FROM fax_jobs j WHERE j.status = 'in_progress' AND j.lease_node = n.node_id)"
                                " FROM faxbot_nodes n WHERE n.heartbeat_at > $1::bigint - 3600000 OR n.node_id = $2"
                                " ORDER BY n.node_id = $2 DESC, n.node_id LIMIT $3");
        /* $1 name, $2 this node, $3 now, $4 ttl: taken when free, run out or ours already */
        q[P_LEASE_TAKE] = strdup(
            "INSERT INTO faxbot_leases AS l (name, node_id, acquired_at, until) VALUES ($1, $2, $3, $3::bigint + $4::bigint)"
            " ON CONFLICT (name) DO UPDATE SET node_id = excluded.node_id, until = excluded.until,"
            " acquired_at = CASE WHEN l.node_id = excluded.node_id AND l.until >= $3::bigint THEN l.acquired_at"
            " ELSE excluded.acquired_at END WHERE l.node_id = excluded.node_id OR l.until < $3::bigint"
            " RETURNING node_id, acquired_at, until");
        q[P_LEASE_GET] = strdup("SELECT node_id, acquired_at, until FROM faxbot_leases WHERE name = $1");
        q[P_LEASE_RELEASE] = strdup("UPDATE faxbot_leases SET until = 0 WHERE name = $1 AND node_id = $2");
        q[P_LEASE_LIST] = strdup("SELECT name, node_id, acquired_at, until FROM faxbot_leases ORDER BY name LIMIT $1");
        for (int i = 0; i < P_COUNT; i++)
            if (!st->sql[i]) rc = -1;
    }
    free(jc); free(jp); free(kc); free(kp); free(ic); free(ip);
    sb_free(&set);
    return rc;
}

/* ---- parameters (text format) ---- */

typedef struct params {
    int n;
    const char *v[PARAMS_MAX];
    char num[PARAMS_MAX][32];
} params;

static void p_text(params *p, const char *s) { p->v[p->n++] = s ? s : ""; }

static void p_i64(params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)x);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static void p_real(params *p, double x)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%.17g", x);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static void p_null(params *p) { p->v[p->n++] = NULL; }

static void p_cols(params *p, const col_desc *cols, int n, const void *rec)
{
    const char *base = rec;
    for (int i = 0; i < n; i++) {
        const void *f = base + cols[i].off;
        switch (cols[i].type) {
        case COL_TEXT: p_text(p, memchr(f, 0, cols[i].size) ? f : ""); break;
        case COL_INT: p_i64(p, *(const int *)f); break;
        case COL_I64: p_i64(p, *(const int64_t *)f); break;
        case COL_BOOL: p_i64(p, *(const bool *)f ? 1 : 0); break;
        case COL_REAL: p_real(p, *(const double *)f); break;
        }
    }
}

/* ---- reading results ---- */

static int64_t v_i64(const PGresult *r, int row, int col)
{
    const char *s = PQgetvalue(r, row, col);
    return s && *s ? strtoll(s, NULL, 10) : 0;
}

static void v_text(const PGresult *r, int row, int col, char *dst, size_t len)
{
    const char *s = PQgetvalue(r, row, col);
    str_copy(dst, len, s ? s : "");
    if (s && strlen(s) >= len) dst[len - 1] = 0;
}

static void read_cols(const PGresult *r, int row, const col_desc *cols, int n, void *rec)
{
    char *base = rec;
    for (int i = 0; i < n; i++) {
        void *f = base + cols[i].off;
        switch (cols[i].type) {
        case COL_TEXT: {
            /* copied whole up to the buffer (a cut may split a UTF-8 sequence, as in SQLite's store) */
            const char *s = PQgetvalue(r, row, i);
            size_t l = s ? strlen(s) : 0;
            if (l > cols[i].size - 1) l = cols[i].size - 1;
            if (l) memcpy(f, s, l);
            ((char *)f)[l] = 0;
            break;
        }
        case COL_INT: *(int *)f = (int)v_i64(r, row, i); break;
        case COL_I64: *(int64_t *)f = v_i64(r, row, i); break;
        case COL_BOOL: *(bool *)f = v_i64(r, row, i) != 0; break;
        case COL_REAL: { const char *s = PQgetvalue(r, row, i); *(double *)f = s && *s ? strtod(s, NULL) : 0; break; }
        }
    }
}

/* ---- errors ---- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) str_copy(err, errlen, msg);
}

/* The first line of libpq's message (never the connection string). */
static void first_line(const char *msg, char *out, size_t outlen)
{
    str_copy(out, outlen, msg && *msg ? msg : "unknown error");
    out[strcspn(out, "\r\n")] = 0;
}

static int fail(pgc *c, const PGresult *r, const char *what, char *err, size_t errlen)
{
    char line[256];
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int code = state && !strcmp(state, "53100") ? STORE_FULL : STORE_ERROR;
    bool gone = !c || !c->db || PQstatus(c->db) != CONNECTION_OK;
    first_line(r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : c && c->db ? PQerrorMessage(c->db) : "",
               line, sizeof line);
    if (code == STORE_FULL) str_copy(line, sizeof line, "the database server's disk is full");
    if (err && errlen)
        snprintf(err, errlen, "database error while %s: %s%s", what, gone ? "the database is unreachable: " : "", line);
    else if (gone)
        log_warn("database error while %s: the database is unreachable: %s", what, line);
    else
        log_error("database error while %s: %s", what, line);
    return code;
}

static bool is_unique_violation(const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state && !strcmp(state, "23505");
}

/* ---- connections and the pool ---- */

/* NOTICEs ("relation already exists, skipping") are not news for an operator. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *connect_db(const char *url, char *err, size_t errlen)
{
    /* ours first, so the URL's own connect_timeout or options win */
    const char *keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    char opts[64];
    snprintf(opts, sizeof opts, "-c statement_timeout=%d", STATEMENT_TIMEOUT_MS);
    const char *vals[] = {CONNECT_TIMEOUT_S, "faxbot", opts, url, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    if (!db || PQstatus(db) != CONNECTION_OK) {
        char line[200];
        first_line(db ? PQerrorMessage(db) : "out of memory", line, sizeof line);
        if (err && errlen) snprintf(err, errlen, "cannot connect to PostgreSQL: %s", line);
        PQfinish(db);
        return NULL;
    }
    PQsetNoticeProcessor(db, quiet_notice, NULL);
    return db;
}

static pgc *conn_open(pg_store *st, char *err, size_t errlen)
{
    pgc *c = calloc(1, sizeof *c);
    if (!c) { set_err(err, errlen, "out of memory"); return NULL; }
    c->db = connect_db(st->url, err, errlen);
    if (!c->db) { free(c); return NULL; }
    return c;
}

static void conn_close(pgc *c)
{
    PQfinish(c->db);
    free(c);
}

/* A broken connection (the server restarted) is opened again; false if it cannot be. */
/* Notes a connection attempt's outcome: an outage is logged when it starts and
 * when it ends, not once per request in between. */
static void note_reachable(pg_store *st, bool ok, const char *why)
{
    pthread_mutex_lock(&st->lock);
    bool was_down = st->down;
    st->down = !ok;
    pthread_mutex_unlock(&st->lock);
    if (!ok && !was_down)
        log_error("database: %s; requests get 503 with Retry-After until it is back", why);
    else if (ok && was_down)
        log_info("database: PostgreSQL is reachable again");
}

static bool conn_revive(pg_store *st, pgc *c, char *err, size_t errlen)
{
    if (c->db && PQstatus(c->db) == CONNECTION_OK) return true;
    PQfinish(c->db);
    memset(c->prepared, 0, sizeof c->prepared);
    char why[256] = "";
    c->db = connect_db(st->url, why, sizeof why);
    note_reachable(st, c->db != NULL, why);
    if (!c->db && err && errlen) str_copy(err, errlen, why);
    return c->db != NULL;
}

static pgc *pool_get(pg_store *st, char *err, size_t errlen)
{
    pthread_mutex_lock(&st->lock);
    while (!st->free_list && st->nconn >= POOL_MAX) pthread_cond_wait(&st->cond, &st->lock);
    pgc *c = st->free_list;
    if (c) {
        st->free_list = c->next_free;
        pthread_mutex_unlock(&st->lock);
        if (!conn_revive(st, c, err, errlen)) {
            pthread_mutex_lock(&st->lock);
            c->next_free = st->free_list;
            st->free_list = c;
            pthread_cond_signal(&st->cond);
            pthread_mutex_unlock(&st->lock);
            return NULL;
        }
        c->fresh = true;
        return c;
    }
    st->nconn++;
    pthread_mutex_unlock(&st->lock);
    char why[256] = "";
    c = conn_open(st, why, sizeof why);
    note_reachable(st, c != NULL, why);
    pthread_mutex_lock(&st->lock);
    if (c) {
        c->next_all = st->all;
        st->all = c;
        c->fresh = true;
    } else {
        st->nconn--;
        pthread_cond_signal(&st->cond);
    }
    pthread_mutex_unlock(&st->lock);
    if (!c && err && errlen) str_copy(err, errlen, why);
    return c;
}

static void pool_put(pg_store *st, pgc *c)
{
    /* A failed call must not leave a transaction open on a pooled connection. */
    if (c->db && PQstatus(c->db) == CONNECTION_OK && PQtransactionStatus(c->db) != PQTRANS_IDLE)
        PQclear(PQexec(c->db, "ROLLBACK"));
    pthread_mutex_lock(&st->lock);
    c->next_free = st->free_list;
    st->free_list = c;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

/* Runs statement `which` with p; the result (caller PQclears) when it succeeded,
 * else NULL with *code set and err filled (or logged). */
static PGresult *run(pg_store *st, pgc *c, int which, const params *p, const char *what, char *err, size_t errlen,
                     int *code)
{
    bool retry_ok = c->fresh && read_only(which);
    c->fresh = false;
    for (int round = 0; round < 2; round++) {
        PGresult *r = NULL;
        if (!c->prepared[which]) {
            char name[16];
            snprintf(name, sizeof name, "f%d", which);
            r = PQprepare(c->db, name, st->sql[which], 0, NULL);
            if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
                c->prepared[which] = true;
                PQclear(r);
                r = NULL;
            }
        }
        if (c->prepared[which]) {
            char name[16];
            snprintf(name, sizeof name, "f%d", which);
            r = PQexecPrepared(c->db, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
        }
        ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return r;
        if (round == 0 && retry_ok && PQstatus(c->db) != CONNECTION_OK && conn_revive(st, c, NULL, 0)) {
            PQclear(r);
            continue;
        }
        if (is_unique_violation(r)) {
            *code = STORE_CONFLICT;
            if (err && errlen) set_err(err, errlen, "a row with this key already exists");
        } else {
            *code = fail(c, r, what, err, errlen);
        }
        PQclear(r);
        return NULL;
    }
    return NULL;
}

/* Runs a statement whose result is not needed; STORE_OK or a code. *changed gets
 * the rows it changed (when not NULL). */
static int exec_cmd(pg_store *st, pgc *c, int which, const params *p, int64_t *changed, const char *what, char *err,
                    size_t errlen)
{
    int code = STORE_ERROR;
    PGresult *r = run(st, c, which, p, what, err, errlen, &code);
    if (!r) return code;
    if (changed) *changed = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return STORE_OK;
}

/* BEGIN / COMMIT: a BEGIN on a pooled connection found dead is tried once more. */
static int tx(pg_store *st, pgc *c, const char *cmd, char *err, size_t errlen)
{
    bool retry_ok = c->fresh && !strcmp(cmd, "BEGIN");
    c->fresh = false;
    for (int round = 0; round < 2; round++) {
        PGresult *r = PQexec(c->db, cmd);
        if (r && PQresultStatus(r) == PGRES_COMMAND_OK) { PQclear(r); return STORE_OK; }
        if (round == 0 && retry_ok && PQstatus(c->db) != CONNECTION_OK && conn_revive(st, c, NULL, 0)) {
            PQclear(r);
            continue;
        }
        int code = fail(c, r, !strcmp(cmd, "BEGIN") ? "starting a transaction" : "committing", err, errlen);
        PQclear(r);
        return code;
    }
    return STORE_ERROR;
}

/* ---- open / close / migrate ---- */

static int migrate(PGconn *db, char *err, size_t errlen)
{
    char line[256], sql[256];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", LOCK_MIGRATE);
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        first_line(PQresultErrorMessage(r), line, sizeof line);
        snprintf(err, errlen, "cannot take the migration lock: %s", line);
        PQclear(r);
        return STORE_ERROR;
    }
    PQclear(r);
    int code = STORE_OK, version = -1;
    r = PQexec(db, "CREATE TABLE IF NOT EXISTS faxbot_schema (version INTEGER PRIMARY KEY,"
                   " applied_at BIGINT NOT NULL, applied_by TEXT NOT NULL DEFAULT '')");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) first_line(PQresultErrorMessage(r), line, sizeof line);
    PQclear(r);
    if (ok) {
        r = PQexec(db, "SELECT COALESCE(MAX(version), 0) FROM faxbot_schema");
        if (PQresultStatus(r) == PGRES_TUPLES_OK) version = (int)v_i64(r, 0, 0);
        else first_line(PQresultErrorMessage(r), line, sizeof line);
        PQclear(r);
    }
    if (version < 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", line);
        code = STORE_ERROR;
    } else if (version > SCHEMA_VERSION) {
        snprintf(err, errlen, "the database schema is version %d but this faxbot knows only up to %d; "
                 "run a newer faxbot or restore a backup", version, SCHEMA_VERSION);
        code = STORE_ERROR;
    }
    char host[128] = "";
    if (gethostname(host, sizeof host - 1)) host[0] = 0;
    for (int v = version; code == STORE_OK && v < SCHEMA_VERSION; v++) {
        r = PQexec(db, "BEGIN");
        PQclear(r);
        r = PQexec(db, migrations[v]);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) first_line(PQresultErrorMessage(r), line, sizeof line);
        PQclear(r);
        if (ok) {
            char vs[16], at[32], by[160];
            snprintf(vs, sizeof vs, "%d", v + 1);
            snprintf(at, sizeof at, "%lld", (long long)now_ms());
            snprintf(by, sizeof by, "%s pid %d", host, (int)getpid());
            const char *vals[] = {vs, at, by};
            r = PQexecParams(db, "INSERT INTO faxbot_schema (version, applied_at, applied_by) VALUES ($1, $2, $3)",
                             3, NULL, vals, NULL, NULL, 0);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok) first_line(PQresultErrorMessage(r), line, sizeof line);
            PQclear(r);
        }
        if (ok) {
            r = PQexec(db, "COMMIT");
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok) first_line(PQresultErrorMessage(r), line, sizeof line);
            PQclear(r);
        }
        if (!ok) {
            PQclear(PQexec(db, "ROLLBACK"));
            snprintf(err, errlen, "migrating the schema to version %d failed: %s", v + 1, line);
            code = STORE_ERROR;
        } else {
            log_info("database: applied schema migration %d", v + 1);
        }
    }
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", LOCK_MIGRATE);
    PQclear(PQexec(db, sql));
    return code;
}

static void pg_close(store *base);
static const store_ops pg_ops;

store *store_pg_open(const char *url, char *err, size_t errlen)
{
    if (!store_url_is_pg(url)) {
        set_err(err, errlen, "not a PostgreSQL URL (postgresql://user:password@host/dbname?sslmode=…)");
        return NULL;
    }
    pg_store *st = calloc(1, sizeof *st);
    if (!st) { set_err(err, errlen, "out of memory"); return NULL; }
    st->base.ops = &pg_ops;
    st->base.node_stale_ms = 10000;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    st->url = strdup(url);
    st->started_at = now_ms();
    if (!st->url || build_sql(st)) {
        set_err(err, errlen, "out of memory");
        pg_close(&st->base);
        return NULL;
    }
    char why[256] = "";
    pgc *c = conn_open(st, why, sizeof why);
    if (!c) {
        set_err(err, errlen, why);
        pg_close(&st->base);
        return NULL;
    }
    if (migrate(c->db, err, errlen) != STORE_OK) {
        conn_close(c);
        pg_close(&st->base);
        return NULL;
    }
    c->next_all = st->all;
    st->all = c;
    st->free_list = c;
    st->nconn = 1;
    return &st->base;
}

static void pg_close(store *base)
{
    pg_store *st = (pg_store *)base;
    if (!st) return;
    pgc *c = st->all;
    while (c) {
        pgc *next = c->next_all;
        conn_close(c);
        c = next;
    }
    for (int i = 0; i < P_COUNT; i++) free(st->sql[i]);
    free(st->url);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st);
}

/* ---- the call pattern: check out a connection, run, give it back ---- */

#define CHECKOUT(err, errlen, fail_value)       \
    pg_store *st = (pg_store *)base;            \
    pgc *c = pool_get(st, err, errlen);         \
    if (!c) return fail_value

static int pg_ping(store *base, char *err, size_t errlen)
{
    CHECKOUT(err, errlen, STORE_ERROR);
    int code = exec_cmd(st, c, P_PING, NULL, NULL, "checking the database", err, errlen);
    pool_put(st, c);
    return code;
}

/* One row of a bound statement into out (cols); STORE_OK, STORE_NOT_FOUND or an error. */
static int fetch_row(pg_store *st, pgc *c, int which, const params *p, const col_desc *cols, int ncols, void *out,
                     size_t size, const char *what, char *err, size_t errlen)
{
    int code = STORE_ERROR;
    PGresult *r = run(st, c, which, p, what, err, errlen, &code);
    if (!r) return code;
    if (PQntuples(r) == 0) code = STORE_NOT_FOUND;
    else {
        if (out) {
            memset(out, 0, size);
            read_cols(r, 0, cols, ncols, out);
        }
        code = STORE_OK;
    }
    PQclear(r);
    return code;
}

/* Inserts ev and its webhook deliveries on c, whose transaction is open. */
static int write_event(pg_store *st, pgc *c, const store_event *ev, char *err, size_t errlen)
{
    int code = exec_cmd(st, c, P_EV_LOCK, NULL, NULL, "ordering the event", err, errlen);
    if (code != STORE_OK) return code;
    params p = {0};
    p_text(&p, ev->id); p_text(&p, ev->type); p_text(&p, ev->job_id); p_text(&p, ev->inbound_id);
    p_text(&p, ev->owner); p_i64(&p, ev->created_at); p_text(&p, ev->body);
    PGresult *r = run(st, c, P_EV_INSERT, &p, "writing the event", err, errlen, &code);
    if (!r) return code;
    int64_t seq = v_i64(r, 0, 0);
    PQclear(r);
    char key[48];
    if (ev->job_id && *ev->job_id) str_copy(key, sizeof key, ev->job_id);
    else str_fmt(key, sizeof key, "inbound:%s", ev->inbound_id ? ev->inbound_id : "");
    for (int which = P_EV_DELIVER_CB; which <= P_EV_DELIVER_EP; which++) {
        if (which == P_EV_DELIVER_CB && !(ev->callback_url && *ev->callback_url)) continue;
        params d = {0};
        p_i64(&d, seq); p_text(&d, key); p_i64(&d, ev->created_at);
        p_text(&d, which == P_EV_DELIVER_CB ? ev->callback_url : ev->type); p_text(&d, ev->job_id);
        code = exec_cmd(st, c, which, &d, NULL, "writing the event's deliveries", err, errlen);
        if (code != STORE_OK) return code;
    }
    return STORE_OK;
}

/* ---- jobs ---- */

/* What a unique row is looked up by before it is inserted: the idempotency key of a
 * job, the (backend, provider id) of an inbound fax. */
typedef struct unique_insert {
    int lookup, insert;          /* statements */
    const params *key;           /* NULL: nothing to look up */
    const col_desc *cols;
    int ncols;
    const void *rec;
    void *existing;              /* filled on STORE_CONFLICT (may be NULL) */
    size_t size;
    const char *seen_msg;        /* err on STORE_CONFLICT */
    const char *what;
} unique_insert;

/* Inserts u->rec with ev in one transaction, unless a row with the same key exists:
 * then STORE_CONFLICT with it in u->existing. Two nodes inserting the same key at
 * once: the unique index stops the second, which looks again and finds the first. */
static int insert_unique(pg_store *st, pgc *c, const unique_insert *u, const store_event *ev, char *err, size_t errlen)
{
    int code = STORE_OK;
    for (int round = 0; round < 2; round++) {
        if ((code = tx(st, c, "BEGIN", err, errlen)) != STORE_OK) return code;
        if (u->key) {
            void *found = malloc(u->size);
            if (!found) { set_err(err, errlen, "out of memory"); return STORE_ERROR; }
            code = fetch_row(st, c, u->lookup, u->key, u->cols, u->ncols, found, u->size, u->what, err, errlen);
            if (code == STORE_OK) {
                if (u->existing) memcpy(u->existing, found, u->size);
                set_err(err, errlen, u->seen_msg);
                code = STORE_CONFLICT;
            }
            free(found);
            if (code != STORE_NOT_FOUND) return code;
        }
        params p = {0};
        p_cols(&p, u->cols, u->ncols, u->rec);
        code = exec_cmd(st, c, u->insert, &p, NULL, u->what, err, errlen);
        if (code == STORE_CONFLICT && u->key && round == 0) {
            PQclear(PQexec(c->db, "ROLLBACK"));
            continue;
        }
        break;
    }
    if (code == STORE_CONFLICT) {
        set_err(err, errlen, "a row with this id already exists");
        return STORE_ERROR;
    }
    if (code == STORE_OK && ev) code = write_event(st, c, ev, err, errlen);
    if (code == STORE_OK) code = tx(st, c, "COMMIT", err, errlen);
    return code;
}

static int pg_job_insert_ev(store *base, const job_record *rec, job_record *existing, const store_event *ev,
                            char *err, size_t errlen)
{
    if (!rec || !rec->id[0] || !rec->status[0]) {
        set_err(err, errlen, "a job needs an id and a status");
        return STORE_ERROR;
    }
    CHECKOUT(err, errlen, STORE_ERROR);
    params key = {0};
    p_text(&key, rec->api_key_id);
    p_text(&key, rec->idempotency_key);
    unique_insert u = {.lookup = P_JOB_BY_IDEM, .insert = P_JOB_INSERT, .key = rec->idempotency_key[0] ? &key : NULL,
                       .cols = job_cols, .ncols = N_JOB_COLS, .rec = rec, .existing = existing, .size = sizeof *rec,
                       .seen_msg = "a job with this idempotency key already exists", .what = "inserting the job"};
    int code = insert_unique(st, c, &u, ev, err, errlen);
    pool_put(st, c);
    return code;
}

static int pg_job_get(store *base, const char *id, job_record *out)
{
    if (!id) return STORE_NOT_FOUND;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, id);
    int code = fetch_row(st, c, P_JOB_GET, &p, job_cols, N_JOB_COLS, out, sizeof *out, "reading a job", NULL, 0);
    pool_put(st, c);
    return code;
}

/* 1 if a row exists, 0 if not, < 0 on error. */
static int row_exists(pg_store *st, pgc *c, int which, const char *id)
{
    params p = {0};
    p_text(&p, id);
    int code = STORE_ERROR;
    PGresult *r = run(st, c, which, &p, "checking that a row exists", NULL, 0, &code);
    if (!r) return code;
    int n = PQntuples(r) > 0;
    PQclear(r);
    return n;
}

static int pg_job_update_if_ev(store *base, const job_record *rec, const char *expected_status,
                               int64_t expected_updated_at, const store_event *ev, char *err, size_t errlen)
{
    if (!rec || !expected_status) {
        set_err(err, errlen, "no job or no expected status given");
        return STORE_ERROR;
    }
    CHECKOUT(err, errlen, STORE_ERROR);
    int code = STORE_OK;
    if (ev && (code = tx(st, c, "BEGIN", err, errlen)) != STORE_OK) goto out;
    params p = {0};
    p_cols(&p, job_cols, N_JOB_COLS, rec);
    p_text(&p, expected_status);
    p_i64(&p, expected_updated_at);
    int64_t changed = 0;
    code = exec_cmd(st, c, P_JOB_UPDATE_IF, &p, &changed, "updating the job", err, errlen);
    if (code != STORE_OK) goto out;
    if (changed == 1) {
        if (ev) {
            code = write_event(st, c, ev, err, errlen);
            if (code == STORE_OK) code = tx(st, c, "COMMIT", err, errlen);
        }
        goto out;
    }
    int ex = row_exists(st, c, P_JOB_EXISTS, rec->id);
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

/* Rows of a bound statement into out (cols), at most max; the count or < 0. */
static int fetch_rows(pg_store *st, pgc *c, int which, const params *p, const col_desc *cols, int ncols, void *out,
                      size_t size, int max, const char *what)
{
    int code = STORE_ERROR;
    PGresult *r = run(st, c, which, p, what, NULL, 0, &code);
    if (!r) return code;
    int n = PQntuples(r);
    if (n > max) n = max;
    for (int i = 0; i < n; i++) {
        void *rec = (char *)out + (size_t)i * size;
        memset(rec, 0, size);
        read_cols(r, i, cols, ncols, rec);
    }
    PQclear(r);
    return n;
}

static int pg_job_list(store *base, const job_filter *filter, job_record *out)
{
    if (!filter || !out) return STORE_ERROR;
    int limit = filter->limit < 1 ? 1 : filter->limit > LIST_MAX ? LIST_MAX : filter->limit;
    bool by_status = filter->status && filter->status[0];
    bool by_to = filter->to_number && filter->to_number[0];
    int which = by_status ? (by_to ? P_JOB_LIST_STATUS_TO : P_JOB_LIST_STATUS) : (by_to ? P_JOB_LIST_TO : P_JOB_LIST);
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    /* until: everything created before it, as if the cursor stood there */
    bool cursor = filter->before_created_at != 0 &&
                  (filter->created_to == 0 || filter->before_created_at < filter->created_to);
    if (!cursor) { p_i64(&p, filter->created_to ? filter->created_to : INT64_MAX); p_text(&p, ""); }
    else { p_i64(&p, filter->before_created_at); p_text(&p, memchr(filter->before_id, 0, sizeof filter->before_id) ? filter->before_id : ""); }
    if (by_status) p_text(&p, filter->status); else p_null(&p);
    if (by_to) p_text(&p, filter->to_number); else p_null(&p);
    p_i64(&p, limit);
    p_text(&p, filter->owner);
    p_text(&p, filter->backend);
    p_i64(&p, filter->created_from);
    int n = fetch_rows(st, c, which, &p, job_cols, N_JOB_COLS, out, sizeof *out, limit, "listing jobs");
    pool_put(st, c);
    return n;
}

/* Ids from the first column of a statement bound with (now, max [, extra…]). */
static int select_ids(pg_store *st, pgc *c, int which, const params *p, char (*ids)[33], int max, const char *what)
{
    int code = STORE_ERROR;
    PGresult *r = run(st, c, which, p, what, NULL, 0, &code);
    if (!r) return code;
    int n = PQntuples(r);
    if (n > max) n = max;
    for (int i = 0; i < n; i++) v_text(r, i, 0, ids[i], sizeof ids[i]);
    PQclear(r);
    return n;
}

static int ids_now_max(store *base, int which, int64_t now, char (*ids)[33], int max, const char *what)
{
    if (max <= 0) return 0;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, now);
    p_i64(&p, max);
    int n = select_ids(st, c, which, &p, ids, max, what);
    pool_put(st, c);
    return n;
}

typedef struct due_row {
    int64_t at;
    char id[33];
} due_row;

static int due_cmp(const void *a, const void *b)
{
    const due_row *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at ? 1 : strcmp(x->id, y->id);
}

static int pg_job_due(store *base, int64_t now, char (*ids)[33], int max)
{
    if (max <= 0) return 0;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, now);
    p_i64(&p, max);
    p_text(&p, st->base.node_id);
    int code = STORE_ERROR, n = 0;
    PGresult *r = run(st, c, P_JOB_DUE, &p, "finding due jobs", NULL, 0, &code);
    if (r) {
        n = PQntuples(r);
        if (n > max) n = max;
        due_row *rows = calloc((size_t)(n ? n : 1), sizeof *rows);
        if (!rows) n = STORE_ERROR;
        for (int i = 0; rows && i < n; i++) {
            v_text(r, i, 0, rows[i].id, sizeof rows[i].id);
            rows[i].at = v_i64(r, i, 1);
        }
        if (rows) {
            qsort(rows, (size_t)n, sizeof *rows, due_cmp);   /* RETURNING keeps no order: oldest due first */
            for (int i = 0; i < n; i++) memcpy(ids[i], rows[i].id, sizeof ids[i]);
        }
        free(rows);
        PQclear(r);
    } else {
        n = code;
    }
    pool_put(st, c);
    return n;
}

static int pg_job_lease_expired(store *base, int64_t now, char (*ids)[33], int max)
{
    if (max <= 0) return 0;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, now);
    p_i64(&p, max);
    p_text(&p, st->base.node_id);
    p_i64(&p, now_ms() - st->base.node_stale_ms);
    int n = select_ids(st, c, P_JOB_LEASE_EXPIRED, &p, ids, max, "finding expired leases");
    pool_put(st, c);
    return n;
}

/* A one-value SELECT; the value, or fallback on failure. */
static int64_t select_i64(pg_store *st, pgc *c, int which, const params *p, int64_t fallback, const char *what)
{
    int code = STORE_ERROR;
    PGresult *r = run(st, c, which, p, what, NULL, 0, &code);
    if (!r) return fallback;
    int64_t v = PQntuples(r) > 0 ? v_i64(r, 0, 0) : fallback;
    PQclear(r);
    return v;
}

static int64_t pg_job_next_due(store *base)
{
    CHECKOUT(NULL, 0, 0);
    int64_t v = select_i64(st, c, P_JOB_NEXT_DUE, NULL, 0, "finding the next due job");
    pool_put(st, c);
    return v;
}

static bool pg_job_other_owner_due(store *base, int64_t by, const char *owner)
{
    CHECKOUT(NULL, 0, true);
    params p = {0};
    p_i64(&p, by);
    p_text(&p, owner);
    int code = STORE_ERROR;
    bool found = true;               /* when in doubt, be fair */
    PGresult *r = run(st, c, P_JOB_OTHER_OWNER_DUE, &p, "looking for other owners' jobs", NULL, 0, &code);
    if (r) {
        found = PQntuples(r) > 0;
        PQclear(r);
    }
    pool_put(st, c);
    return found;
}

static int pg_job_count_by_status(store *base, const char *const *statuses, int n, int64_t *counts)
{
    if (n <= 0) return STORE_OK;
    if (!statuses || !counts) return STORE_ERROR;
    CHECKOUT(NULL, 0, STORE_ERROR);
    int code = STORE_OK;
    for (int i = 0; i < n && code == STORE_OK; i++) {
        params p = {0};
        p_text(&p, statuses[i]);
        PGresult *r = run(st, c, P_JOB_COUNT_STATUS, &p, "counting jobs", NULL, 0, &code);
        if (!r) break;
        counts[i] = v_i64(r, 0, 0);
        PQclear(r);
    }
    pool_put(st, c);
    return code;
}

/* Sets one timestamp column of one row by id ($1 id, $2 when). */
static int mark_row(store *base, int which, const char *id, int64_t when, const char *what)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, id);
    p_i64(&p, when);
    int64_t changed = 0;
    int code = exec_cmd(st, c, which, &p, &changed, what, NULL, 0);
    if (code == STORE_OK && !changed) code = STORE_NOT_FOUND;
    pool_put(st, c);
    return code;
}

static int pg_job_mark_artifacts_deleted(store *base, const char *id, int64_t when)
{
    return mark_row(base, P_JOB_MARK_ARTIFACTS, id, when, "marking job artifacts deleted");
}

static int pg_job_artifacts_expired(store *base, int64_t before, char (*ids)[33], int max)
{
    return ids_now_max(base, P_JOB_ARTIFACTS_EXPIRED, before, ids, max, "finding expired job artifacts");
}

/* ---- API keys ---- */

static int pg_key_insert(store *base, const key_record *rec, char *err, size_t errlen)
{
    if (!rec || !rec->key_id[0]) {
        set_err(err, errlen, "a key needs a key id");
        return STORE_ERROR;
    }
    CHECKOUT(err, errlen, STORE_ERROR);
    params p = {0};
    p_cols(&p, key_cols, N_KEY_COLS, rec);
    int code = exec_cmd(st, c, P_KEY_INSERT, &p, NULL, "inserting the key", err, errlen);
    if (code == STORE_CONFLICT) set_err(err, errlen, "a key with this key id already exists");
    pool_put(st, c);
    return code;
}

static int pg_key_get(store *base, const char *key_id, key_record *out)
{
    if (!key_id) return STORE_NOT_FOUND;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, key_id);
    int code = fetch_row(st, c, P_KEY_GET, &p, key_cols, N_KEY_COLS, out, out ? sizeof *out : 0, "reading a key", NULL, 0);
    pool_put(st, c);
    return code;
}

static int pg_key_list(store *base, key_record **out)
{
    if (!out) return STORE_ERROR;
    *out = NULL;
    CHECKOUT(NULL, 0, STORE_ERROR);
    int code = STORE_ERROR, n;
    PGresult *r = run(st, c, P_KEY_LIST, NULL, "listing keys", NULL, 0, &code);
    if (!r) n = code;
    else {
        n = PQntuples(r);
        *out = calloc((size_t)(n ? n : 1), sizeof **out);
        if (!*out) n = STORE_ERROR;
        for (int i = 0; *out && i < n; i++) read_cols(r, i, key_cols, N_KEY_COLS, &(*out)[i]);
        PQclear(r);
    }
    pool_put(st, c);
    return n;
}

/* An UPDATE keyed by key_id ($1) with one more parameter ($2); NOT_FOUND if no
 * such key; a key that exists but did not change is STORE_OK. */
static int key_update(store *base, int which, const char *key_id, const char *text, int64_t num, const char *what)
{
    if (!key_id) return STORE_NOT_FOUND;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, key_id);
    if (text) p_text(&p, text); else p_i64(&p, num);
    int64_t changed = 0;
    int code = exec_cmd(st, c, which, &p, &changed, what, NULL, 0);
    if (code == STORE_OK && !changed) {
        int ex = row_exists(st, c, P_KEY_EXISTS, key_id);
        code = ex == 1 ? STORE_OK : ex == 0 ? STORE_NOT_FOUND : ex;
    }
    pool_put(st, c);
    return code;
}

static int pg_key_revoke(store *base, const char *key_id, int64_t when)
{
    return key_update(base, P_KEY_REVOKE, key_id, NULL, when, "revoking a key");
}

static int pg_key_set_hash(store *base, const char *key_id, const char *new_hash)
{
    if (!new_hash || !*new_hash) return STORE_ERROR;
    return key_update(base, P_KEY_SET_HASH, key_id, new_hash, 0, "replacing a key's hash");
}

static int pg_key_touch(store *base, const char *key_id, int64_t when)
{
    return key_update(base, P_KEY_TOUCH, key_id, NULL, when, "recording a key's use");
}

/* ---- inbound faxes ---- */

static int pg_inbound_insert_ev(store *base, const inbound_record *rec, inbound_record *existing,
                                const store_event *ev, char *err, size_t errlen)
{
    if (!rec || !rec->id[0]) {
        set_err(err, errlen, "an inbound fax needs an id");
        return STORE_ERROR;
    }
    CHECKOUT(err, errlen, STORE_ERROR);
    params key = {0};
    p_text(&key, rec->backend);
    p_text(&key, rec->provider_sid);
    unique_insert u = {.lookup = P_IN_BY_SID, .insert = P_IN_INSERT, .key = rec->provider_sid[0] ? &key : NULL,
                       .cols = inbound_cols, .ncols = N_INBOUND_COLS, .rec = rec, .existing = existing,
                       .size = sizeof *rec, .seen_msg = "this inbound fax was stored before",
                       .what = "inserting the inbound fax"};
    int code = insert_unique(st, c, &u, ev, err, errlen);
    pool_put(st, c);
    return code;
}

static int pg_inbound_get(store *base, const char *id, inbound_record *out)
{
    if (!id) return STORE_NOT_FOUND;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, id);
    int code = fetch_row(st, c, P_IN_GET, &p, inbound_cols, N_INBOUND_COLS, out, sizeof *out,
                         "reading an inbound fax", NULL, 0);
    pool_put(st, c);
    return code;
}

static int pg_inbound_list(store *base, const inbound_filter *f, inbound_record *out)
{
    if (!f || !out) return STORE_ERROR;
    int limit = f->limit < 1 ? 1 : f->limit > LIST_MAX ? LIST_MAX : f->limit;
    int m = (f->to_number && *f->to_number ? 1 : 0) | (f->status && *f->status ? 2 : 0) | (f->mailbox && *f->mailbox ? 4 : 0);
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    if (f->before_received_at == 0) { p_i64(&p, INT64_MAX); p_text(&p, ""); }
    else { p_i64(&p, f->before_received_at); p_text(&p, memchr(f->before_id, 0, sizeof f->before_id) ? f->before_id : ""); }
    if (m & 1) p_text(&p, f->to_number); else p_null(&p);
    if (m & 2) p_text(&p, f->status); else p_null(&p);
    if (m & 4) p_text(&p, f->mailbox); else p_null(&p);
    p_i64(&p, limit);
    p_text(&p, f->owner);
    p_i64(&p, f->unread_only ? 1 : 0);
    int n = fetch_rows(st, c, P_IN_LIST0 + m, &p, inbound_cols, N_INBOUND_COLS, out, sizeof *out, limit,
                       "listing inbound faxes");
    pool_put(st, c);
    return n;
}

static int pg_inbound_mark_artifacts_deleted(store *base, const char *id, int64_t when)
{
    return mark_row(base, P_IN_MARK_ARTIFACTS, id, when, "marking inbound artifacts deleted");
}

static int pg_inbound_expired(store *base, int64_t now, char (*ids)[33], int max)
{
    return ids_now_max(base, P_IN_EXPIRED, now, ids, max, "finding expired inbound faxes");
}

static int pg_inbound_set_read(store *base, const char *id, int64_t when)
{
    return mark_row(base, P_IN_SET_READ, id, when, "marking an inbound fax read");
}

static int64_t pg_inbound_unread_count(store *base, const char *owner)
{
    CHECKOUT(NULL, 0, -1);
    params p = {0};
    p_text(&p, owner);
    int64_t v = select_i64(st, c, P_IN_UNREAD, &p, -1, "counting unread inbound faxes");
    pool_put(st, c);
    return v;
}

/* ---- console sessions ---- */

static int pg_session_put(store *base, const session_row *r)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, r->id_hash); p_text(&p, r->key_id); p_text(&p, r->key_hash); p_text(&p, r->csrf);
    p_i64(&p, r->created_at); p_i64(&p, r->last_seen_at);
    int code = exec_cmd(st, c, P_SES_PUT, &p, NULL, "saving a console session", NULL, 0);
    pool_put(st, c);
    return code;
}

static int pg_session_get(store *base, const char *id_hash, session_row *out)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, id_hash);
    int code = STORE_ERROR;
    PGresult *r = run(st, c, P_SES_GET, &p, "reading a console session", NULL, 0, &code);
    if (r) {
        if (PQntuples(r) == 0) code = STORE_NOT_FOUND;
        else {
            memset(out, 0, sizeof *out);
            str_copy(out->id_hash, sizeof out->id_hash, id_hash);
            v_text(r, 0, 0, out->key_id, sizeof out->key_id);
            v_text(r, 0, 1, out->key_hash, sizeof out->key_hash);
            v_text(r, 0, 2, out->csrf, sizeof out->csrf);
            out->created_at = v_i64(r, 0, 3);
            out->last_seen_at = v_i64(r, 0, 4);
            code = STORE_OK;
        }
        PQclear(r);
    }
    pool_put(st, c);
    return code;
}

static int pg_session_touch(store *base, const char *id_hash, int64_t when)
{
    return mark_row(base, P_SES_TOUCH, id_hash, when, "recording a console session's use");
}

/* A DELETE by one text parameter; the rows it removed, or < 0. */
static int delete_by(store *base, int which, const char *text, const char *what)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, text);
    int64_t changed = 0;
    int code = exec_cmd(st, c, which, &p, &changed, what, NULL, 0);
    pool_put(st, c);
    return code == STORE_OK ? (int)changed : code;
}

static int pg_session_delete(store *base, const char *id_hash)
{
    int n = delete_by(base, P_SES_DELETE, id_hash, "ending a console session");
    return n < 0 ? n : n ? STORE_OK : STORE_NOT_FOUND;
}

static int pg_session_delete_key(store *base, const char *key_id)
{
    return delete_by(base, P_SES_DELETE_KEY, key_id, "ending a key's console sessions");
}

static int pg_session_prune(store *base, int64_t seen_before, int64_t created_before)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, seen_before);
    p_i64(&p, created_before);
    int64_t changed = 0;
    int code = exec_cmd(st, c, P_SES_PRUNE, &p, &changed, "pruning console sessions", NULL, 0);
    pool_put(st, c);
    return code == STORE_OK ? (int)changed : code;
}

/* ---- events and webhooks ---- */

static int pg_event_list_after(store *base, int64_t after, int max, event_row *out)
{
    if (max < 1 || !out) return 0;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, after);
    p_i64(&p, max);
    int code = STORE_ERROR, n;
    PGresult *r = run(st, c, P_EV_AFTER, &p, "reading events", NULL, 0, &code);
    if (!r) n = code;
    else {
        n = PQntuples(r);
        if (n > max) n = max;
        for (int i = 0; i < n; i++) {
            event_row *e = &out[i];
            memset(e, 0, sizeof *e);
            e->seq = v_i64(r, i, 0);
            v_text(r, i, 1, e->id, sizeof e->id);
            v_text(r, i, 2, e->type, sizeof e->type);
            v_text(r, i, 3, e->job_id, sizeof e->job_id);
            v_text(r, i, 4, e->inbound_id, sizeof e->inbound_id);
            v_text(r, i, 5, e->owner, sizeof e->owner);
            e->created_at = v_i64(r, i, 6);
            e->body = strdup(PQgetvalue(r, i, 7));
            if (!e->body) { event_rows_free(out, i); n = STORE_ERROR; break; }
        }
        PQclear(r);
    }
    pool_put(st, c);
    return n;
}

static int64_t pg_event_last_seq(store *base)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    int64_t v = select_i64(st, c, P_EV_LAST, NULL, STORE_ERROR, "reading the last event");
    pool_put(st, c);
    return v;
}

static int64_t pg_delivery_next_due(store *base)
{
    CHECKOUT(NULL, 0, 0);
    int64_t v = select_i64(st, c, P_DL_NEXT_DUE, NULL, 0, "finding the next webhook delivery");
    pool_put(st, c);
    return v;
}

static int pg_event_prune(store *base, int64_t before)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, before);
    int64_t changed = 0;
    int code = exec_cmd(st, c, P_EV_PRUNE_DL, &p, NULL, "pruning old events", NULL, 0);
    if (code == STORE_OK) code = exec_cmd(st, c, P_EV_PRUNE, &p, &changed, "pruning old events", NULL, 0);
    pool_put(st, c);
    return code == STORE_OK ? (int)changed : code;
}

static void read_endpoint(const PGresult *r, int i, webhook_endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    v_text(r, i, 0, ep->id, sizeof ep->id);
    v_text(r, i, 1, ep->url, sizeof ep->url);
    v_text(r, i, 2, ep->secret, sizeof ep->secret);
    v_text(r, i, 3, ep->event_types, sizeof ep->event_types);
    v_text(r, i, 4, ep->description, sizeof ep->description);
    ep->created_at = v_i64(r, i, 5);
    ep->deleted_at = v_i64(r, i, 6);
}

static int pg_endpoint_insert(store *base, const webhook_endpoint *ep, char *err, size_t errlen)
{
    CHECKOUT(err, errlen, STORE_ERROR);
    params p = {0};
    p_text(&p, ep->id); p_text(&p, ep->url); p_text(&p, ep->secret); p_text(&p, ep->event_types);
    p_text(&p, ep->description); p_i64(&p, ep->created_at);
    int code = exec_cmd(st, c, P_EP_INSERT, &p, NULL, "saving the webhook endpoint", err, errlen);
    if (code == STORE_CONFLICT) code = STORE_ERROR;
    pool_put(st, c);
    return code;
}

static int pg_endpoint_get(store *base, const char *id, webhook_endpoint *out)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, id);
    int code = STORE_ERROR;
    PGresult *r = run(st, c, P_EP_GET, &p, "reading a webhook endpoint", NULL, 0, &code);
    if (r) {
        if (PQntuples(r) > 0) { read_endpoint(r, 0, out); code = STORE_OK; }
        else code = STORE_NOT_FOUND;
        PQclear(r);
    }
    pool_put(st, c);
    return code;
}

static int pg_endpoint_list(store *base, webhook_endpoint **out)
{
    *out = NULL;
    CHECKOUT(NULL, 0, STORE_ERROR);
    int code = STORE_ERROR, n;
    PGresult *r = run(st, c, P_EP_LIST, NULL, "listing webhook endpoints", NULL, 0, &code);
    if (!r) n = code;
    else {
        n = PQntuples(r);
        if (n > 0) {
            *out = calloc((size_t)n, sizeof **out);
            if (!*out) n = STORE_ERROR;
        }
        for (int i = 0; *out && i < n; i++) read_endpoint(r, i, &(*out)[i]);
        PQclear(r);
    }
    pool_put(st, c);
    return n;
}

static int pg_endpoint_delete(store *base, const char *id, int64_t when)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, id);
    p_i64(&p, when);
    int64_t changed = 0;
    int code = tx(st, c, "BEGIN", NULL, 0);
    if (code == STORE_OK) code = exec_cmd(st, c, P_EP_DELETE, &p, &changed, "deleting the webhook endpoint", NULL, 0);
    if (code == STORE_OK && !changed) code = STORE_NOT_FOUND;
    if (code == STORE_OK) code = exec_cmd(st, c, P_EP_FAIL_PENDING, &p, NULL, "deleting the webhook endpoint", NULL, 0);
    if (code == STORE_OK) code = tx(st, c, "COMMIT", NULL, 0);
    pool_put(st, c);
    return code;
}

static int read_deliveries(const PGresult *r, int max, delivery_row *out, bool with_body)
{
    int n = PQntuples(r);
    if (n > max) n = max;
    for (int i = 0; i < n; i++) {
        delivery_row *d = &out[i];
        memset(d, 0, sizeof *d);
        v_text(r, i, 0, d->id, sizeof d->id);
        d->event_seq = v_i64(r, i, 1);
        v_text(r, i, 2, d->event_type, sizeof d->event_type);
        v_text(r, i, 3, d->endpoint_id, sizeof d->endpoint_id);
        v_text(r, i, 4, d->job_id, sizeof d->job_id);
        v_text(r, i, 5, d->url, sizeof d->url);
        v_text(r, i, 6, d->status, sizeof d->status);
        d->attempts = (int)v_i64(r, i, 7);
        d->next_attempt_at = v_i64(r, i, 8);
        d->last_status = (int)v_i64(r, i, 9);
        v_text(r, i, 10, d->last_error, sizeof d->last_error);
        d->created_at = v_i64(r, i, 11);
        d->updated_at = v_i64(r, i, 12);
        if (with_body) {
            v_text(r, i, 13, d->secret, sizeof d->secret);
            d->endpoint_deleted = v_i64(r, i, 14) != 0;
            d->body = strdup(PQgetvalue(r, i, 15));
            if (!d->body) { delivery_rows_free(out, i); return STORE_ERROR; }
        }
    }
    return n;
}

static int pg_delivery_due(store *base, int64_t now, int max, delivery_row *out)
{
    if (max < 1) return 0;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, now);
    p_i64(&p, max);
    int code = STORE_ERROR, n;
    PGresult *r = run(st, c, P_DL_DUE, &p, "reading webhook deliveries", NULL, 0, &code);
    n = r ? read_deliveries(r, max, out, true) : code;
    PQclear(r);
    pool_put(st, c);
    return n;
}

static int pg_delivery_update(store *base, const delivery_row *d)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, d->id); p_text(&p, d->status); p_i64(&p, d->attempts); p_i64(&p, d->next_attempt_at);
    p_i64(&p, d->last_status); p_text(&p, d->last_error); p_i64(&p, d->updated_at);
    int code = exec_cmd(st, c, P_DL_UPDATE, &p, NULL, "recording a webhook delivery", NULL, 0);
    pool_put(st, c);
    return code;
}

static int pg_delivery_list(store *base, const char *endpoint_id, const char *job_id, int max, delivery_row *out)
{
    if (max < 1) return 0;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, endpoint_id ? endpoint_id : job_id);
    p_i64(&p, max);
    int code = STORE_ERROR, n;
    PGresult *r = run(st, c, endpoint_id ? P_DL_BY_ENDPOINT : P_DL_BY_JOB, &p, "reading webhook deliveries", NULL, 0, &code);
    n = r ? read_deliveries(r, max, out, false) : code;
    PQclear(r);
    pool_put(st, c);
    return n;
}

/* ---- attempts and the admin search ---- */

static int pg_attempt_record(store *base, const char *job_id, const attempt_record *a)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, job_id); p_text(&p, a->backend); p_i64(&p, a->started_at); p_i64(&p, a->ended_at);
    p_text(&p, a->outcome); p_text(&p, a->reason); p_text(&p, a->message); p_text(&p, a->provider_sid);
    p_i64(&p, a->pages);
    int code = exec_cmd(st, c, P_ATTEMPT_INSERT, &p, NULL, "recording an attempt", NULL, 0);
    pool_put(st, c);
    return code;
}

static int pg_attempt_list(store *base, const char *job_id, attempt_record *out, int max)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, job_id);
    p_i64(&p, max);
    int code = STORE_ERROR, n;
    PGresult *r = run(st, c, P_ATTEMPT_LIST, &p, "reading attempts", NULL, 0, &code);
    if (!r) n = code;
    else {
        n = PQntuples(r);
        if (n > max) n = max;
        for (int i = 0; i < n; i++) {
            attempt_record *a = &out[i];
            memset(a, 0, sizeof *a);
            a->attempt = (int)v_i64(r, i, 0);
            v_text(r, i, 1, a->backend, sizeof a->backend);
            a->started_at = v_i64(r, i, 2);
            a->ended_at = v_i64(r, i, 3);
            v_text(r, i, 4, a->outcome, sizeof a->outcome);
            v_text(r, i, 5, a->reason, sizeof a->reason);
            v_text(r, i, 6, a->message, sizeof a->message);
            v_text(r, i, 7, a->provider_sid, sizeof a->provider_sid);
            a->pages = (int)v_i64(r, i, 8);
        }
        PQclear(r);
    }
    pool_put(st, c);
    return n;
}

static void bind_search(params *p, const job_search *q)
{
    p_text(p, q->status);
    p_text(p, q->backend);
    p_text(p, q->to_number);
    p_i64(p, q->created_from);
    p_i64(p, q->created_to > 0 ? q->created_to : INT64_MAX);
}

static int pg_job_search(store *base, const job_search *q, job_record *out, int64_t *total)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    bind_search(&p, q);
    int code = STORE_ERROR, n = STORE_ERROR;
    PGresult *r = run(st, c, P_JOB_SEARCH_COUNT, &p, "searching jobs", NULL, 0, &code);
    if (r) {
        if (total) *total = v_i64(r, 0, 0);
        PQclear(r);
        p_i64(&p, q->limit);
        p_i64(&p, q->offset);
        n = fetch_rows(st, c, P_JOB_SEARCH, &p, job_cols, N_JOB_COLS, out, sizeof *out, q->limit, "searching jobs");
    }
    pool_put(st, c);
    return n;
}

/* ---- nodes ---- */

static int pg_node_heartbeat(store *base, int64_t now)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, st->base.node_id);
    p_i64(&p, st->started_at);
    p_i64(&p, now);
    int code = exec_cmd(st, c, P_NODE_BEAT, &p, NULL, "recording this node's heartbeat", NULL, 0);
    pool_put(st, c);
    return code;
}

static int pg_node_list(store *base, int64_t now, store_node *out, int max)
{
    if (max < 1) return 0;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, now - st->base.node_stale_ms);
    p_text(&p, st->base.node_id);
    p_i64(&p, max);
    int code = STORE_ERROR, n;
    PGresult *r = run(st, c, P_NODE_LIST, &p, "listing nodes", NULL, 0, &code);
    if (!r) n = code;
    else {
        n = PQntuples(r);
        if (n > max) n = max;
        for (int i = 0; i < n; i++) {
            memset(&out[i], 0, sizeof out[i]);
            v_text(r, i, 0, out[i].node_id, sizeof out[i].node_id);
            out[i].started_at = v_i64(r, i, 1);
            out[i].heartbeat_at = v_i64(r, i, 2);
            out[i].alive = PQgetvalue(r, i, 3)[0] == 't';
            out[i].jobs_held = v_i64(r, i, 4);
        }
        PQclear(r);
    }
    pool_put(st, c);
    return n;
}

/* ---- whole tables (faxbot migrate) ---- */

#define CURSOR_FETCH 500             /* rows per FETCH (the literal in pg_cursor_next) */
#define OID_FLOAT4 700
#define OID_FLOAT8 701

typedef struct pg_cursor {
    store_cursor base;           /* first */
    pgc *c;                      /* held, in a read-only transaction, until close */
    PGresult *page;
    int row, rows;
    bool done;
    row_buf buf;
} pg_cursor;

/* Runs an SQL command that needs no parameters; STORE_OK or a code (err filled). */
static int simple_cmd(pgc *c, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(c->db, sql);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int code = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? STORE_OK : fail(c, r, what, err, errlen);
    PQclear(r);
    return code;
}

static void pg_cursor_close(store_cursor *base)
{
    pg_cursor *k = (pg_cursor *)base;
    if (!k) return;
    PQclear(k->page);
    if (k->c) pool_put((pg_store *)k->base.st, k->c);      /* rolls the read transaction back */
    sb_free(&k->buf.sb);
    free(k);
}

static store_cursor *pg_table_open(store *base, const store_table *t, const char *const *cols, int ncols, char *err,
                                   size_t errlen)
{
    pg_cursor *k = calloc(1, sizeof *k);
    char *sel = table_select_sql(t, cols, ncols);
    char *sql = sel ? fmt_alloc("DECLARE faxbot_copy NO SCROLL CURSOR FOR %s", sel) : NULL;
    free(sel);
    if (!k || !sql) { free(k); free(sql); set_err(err, errlen, "out of memory"); return NULL; }
    k->base.st = base;
    sb_init(&k->buf.sb);
    CHECKOUT(err, errlen, (free(sql), pg_cursor_close(&k->base), NULL));
    k->c = c;
    int code = simple_cmd(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "reading a table", err, errlen);
    if (code == STORE_OK) code = simple_cmd(c, sql, "reading a table", err, errlen);
    free(sql);
    (void)st;
    if (code != STORE_OK) { pg_cursor_close(&k->base); return NULL; }
    return &k->base;
}

static int pg_cursor_next(store_cursor *base, store_row *row, char *err, size_t errlen)
{
    pg_cursor *k = (pg_cursor *)base;
    if (k->row >= k->rows) {
        if (k->done) return 0;
        PQclear(k->page);
        k->page = PQexec(k->c->db, "FETCH 500 FROM faxbot_copy");
        if (!k->page || PQresultStatus(k->page) != PGRES_TUPLES_OK) {
            int code = fail(k->c, k->page, "reading a table", err, errlen);
            PQclear(k->page);
            k->page = NULL;
            return code;
        }
        k->row = 0;
        k->rows = PQntuples(k->page);
        k->done = k->rows < CURSOR_FETCH;
        if (!k->rows) return 0;
    }
    int n = PQnfields(k->page);
    if (n > STORE_ROW_COLS) { set_err(err, errlen, "too many columns"); return STORE_ERROR; }
    row_buf_reset(&k->buf);
    int bad = 0;
    for (int i = 0; i < n && !bad; i++) {
        row->name[i] = PQfname(k->page, i);
        const char *v = PQgetvalue(k->page, k->row, i);
        Oid type = PQftype(k->page, i);
        if (PQgetisnull(k->page, k->row, i)) bad = row_buf_add(&k->buf, NULL, 0);
        else if (type == OID_FLOAT4 || type == OID_FLOAT8) bad = row_buf_add_real(&k->buf, strtod(v, NULL));
        else bad = row_buf_add(&k->buf, v, (size_t)PQgetlength(k->page, k->row, i));
    }
    if (bad) { set_err(err, errlen, "out of memory"); return STORE_ERROR; }
    row_buf_fill(&k->buf, row);
    k->row++;
    return 1;
}

static int64_t pg_table_count(store *base, const store_table *t)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t->name);
    PGresult *r = PQexec(c->db, sql);
    int64_t n = r && PQresultStatus(r) == PGRES_TUPLES_OK ? v_i64(r, 0, 0) : fail(c, r, "counting rows", NULL, 0);
    PQclear(r);
    pool_put(st, c);
    return n;
}

static int pg_table_put(store *base, const store_table *t, const store_row *rows, int n, int *added, char *err,
                        size_t errlen)
{
    if (rows_same_columns(rows, n)) { set_err(err, errlen, "the rows of one batch must have the same columns"); return STORE_ERROR; }
    char *sql = table_insert_sql(t, &rows[0], "INSERT INTO", '$', " ON CONFLICT DO NOTHING");
    char *serial = t->serial ? fmt_alloc("SELECT setval(s::regclass, GREATEST((SELECT COALESCE(MAX(%s), 0) FROM %s),"
                                         " COALESCE(pg_sequence_last_value(s::regclass), 0), 1))"
                                         " FROM pg_get_serial_sequence('%s', '%s') AS s WHERE s IS NOT NULL",
                                         t->serial, t->name, t->name, t->serial)
                             : NULL;
    if (!sql || (t->serial && !serial)) { free(sql); free(serial); set_err(err, errlen, "out of memory"); return STORE_ERROR; }
    CHECKOUT(err, errlen, (free(sql), free(serial), STORE_ERROR));
    int code = tx(st, c, "BEGIN", err, errlen);
    if (code == STORE_OK) {
        PGresult *r = PQprepare(c->db, "", sql, 0, NULL);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) code = fail(c, r, "copying rows", err, errlen);
        PQclear(r);
    }
    int count = 0;
    for (int i = 0; i < n && code == STORE_OK; i++) {
        PGresult *r = PQexecPrepared(c->db, "", rows[i].n, rows[i].value, NULL, NULL, 0);
        if (r && PQresultStatus(r) == PGRES_COMMAND_OK) count += (int)strtol(PQcmdTuples(r), NULL, 10);
        else code = fail(c, r, "copying rows", err, errlen);
        PQclear(r);
    }
    if (code == STORE_OK && serial) code = simple_cmd(c, serial, "moving the table's serial on", err, errlen);
    if (code == STORE_OK) code = tx(st, c, "COMMIT", err, errlen);
    pool_put(st, c);         /* rolls back what failed */
    free(sql);
    free(serial);
    if (added) *added = code == STORE_OK ? count : 0;
    return code;
}

/* ---- named leases ---- */

static void lease_row(const PGresult *r, int row, int first, store_lease *out)
{
    v_text(r, row, first, out->node_id, sizeof out->node_id);
    out->acquired_at = v_i64(r, row, first + 1);
    out->until = v_i64(r, row, first + 2);
}

static int pg_lease_take(store *base, const char *name, int64_t now, int64_t ttl_ms, store_lease *out)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    memset(out, 0, sizeof *out);
    str_copy(out->name, sizeof out->name, name);
    params p = {0};
    p_text(&p, name);
    p_text(&p, st->base.node_id);
    p_i64(&p, now);
    p_i64(&p, ttl_ms);
    int code = STORE_ERROR;
    PGresult *r = run(st, c, P_LEASE_TAKE, &p, "taking a lease", NULL, 0, &code);
    if (r && PQntuples(r) == 1) {
        lease_row(r, 0, 0, out);
        code = STORE_OK;
    } else if (r) {
        PQclear(r);
        params g = {0};
        p_text(&g, name);
        r = run(st, c, P_LEASE_GET, &g, "reading a lease", NULL, 0, &code);
        if (r && PQntuples(r) == 1) lease_row(r, 0, 0, out);
        if (r) code = STORE_CONFLICT;
    }
    if (r) PQclear(r);
    pool_put(st, c);
    return code;
}

static int pg_lease_release(store *base, const char *name)
{
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_text(&p, name);
    p_text(&p, st->base.node_id);
    int code = exec_cmd(st, c, P_LEASE_RELEASE, &p, NULL, "giving a lease up", NULL, 0);
    pool_put(st, c);
    return code;
}

static int pg_lease_list(store *base, store_lease *out, int max)
{
    if (max < 1) return 0;
    CHECKOUT(NULL, 0, STORE_ERROR);
    params p = {0};
    p_i64(&p, max);
    int code = STORE_ERROR, n;
    PGresult *r = run(st, c, P_LEASE_LIST, &p, "listing leases", NULL, 0, &code);
    if (!r) n = code;
    else {
        n = PQntuples(r);
        if (n > max) n = max;
        for (int i = 0; i < n; i++) {
            memset(&out[i], 0, sizeof out[i]);
            v_text(r, i, 0, out[i].name, sizeof out[i].name);
            lease_row(r, i, 1, &out[i]);
        }
        PQclear(r);
    }
    pool_put(st, c);
    return n;
}

static const store_ops pg_ops = {
    .kind = "postgresql",
    .close = pg_close,
    .ping = pg_ping,
    .job_insert_ev = pg_job_insert_ev,
    .job_get = pg_job_get,
    .job_update_if_ev = pg_job_update_if_ev,
    .job_list = pg_job_list,
    .job_search = pg_job_search,
    .attempt_record = pg_attempt_record,
    .attempt_list = pg_attempt_list,
    .job_due = pg_job_due,
    .job_lease_expired = pg_job_lease_expired,
    .job_next_due = pg_job_next_due,
    .job_other_owner_due = pg_job_other_owner_due,
    .job_count_by_status = pg_job_count_by_status,
    .job_mark_artifacts_deleted = pg_job_mark_artifacts_deleted,
    .job_artifacts_expired = pg_job_artifacts_expired,
    .inbound_insert_ev = pg_inbound_insert_ev,
    .inbound_get = pg_inbound_get,
    .inbound_list = pg_inbound_list,
    .inbound_mark_artifacts_deleted = pg_inbound_mark_artifacts_deleted,
    .inbound_expired = pg_inbound_expired,
    .inbound_set_read = pg_inbound_set_read,
    .inbound_unread_count = pg_inbound_unread_count,
    .session_put = pg_session_put,
    .session_get = pg_session_get,
    .session_touch = pg_session_touch,
    .session_delete = pg_session_delete,
    .session_delete_key = pg_session_delete_key,
    .session_prune = pg_session_prune,
    .key_insert = pg_key_insert,
    .key_get = pg_key_get,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .key_set_hash = pg_key_set_hash,
    .key_touch = pg_key_touch,
    .event_list_after = pg_event_list_after,
    .event_last_seq = pg_event_last_seq,
    .event_prune = pg_event_prune,
    .endpoint_insert = pg_endpoint_insert,
    .endpoint_get = pg_endpoint_get,
    .endpoint_list = pg_endpoint_list,
    .endpoint_delete = pg_endpoint_delete,
    .delivery_due = pg_delivery_due,
    .delivery_update = pg_delivery_update,
    .delivery_list = pg_delivery_list,
    .delivery_next_due = pg_delivery_next_due,
    .node_heartbeat = pg_node_heartbeat,
    .node_list = pg_node_list,
    .table_open = pg_table_open,
    .cursor_next = pg_cursor_next,
    .cursor_close = pg_cursor_close,
    .table_count = pg_table_count,
    .table_put = pg_table_put,
    .lease_take = pg_lease_take,
    .lease_release = pg_lease_release,
    .lease_list = pg_lease_list,
};
