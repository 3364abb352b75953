/* store.h — the durable store: the one source of truth for jobs and API keys.
 * The core talks to this interface only; store_sqlite.c implements it on SQLite
 * in WAL mode (one node), store_pg.c on PostgreSQL (several nodes sharing one
 * database); store.c dispatches (store_impl.h). Every call is safe from any
 * thread. Records are plain structs with fixed-size fields so callers never
 * juggle ownership. */
#ifndef FAXBOT_STORE_H
#define FAXBOT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    STORE_OK = 0,
    STORE_NOT_FOUND = 1,
    STORE_CONFLICT = 2,      /* compare-and-set lost, or a unique key already exists */
    STORE_ERROR = -1,        /* I/O or database failure; err says what */
    STORE_FULL = -2,         /* disk full */
};

typedef struct job_record {
    char id[33];
    char to_number[24];          /* E.164 */
    char status[16];             /* queued | in_progress | SUCCESS | FAILED | cancelled */
    char error[512];             /* human-readable reason of the last failure */
    char failure_reason[32];     /* busy, no_answer, conversion_error, ... ("" = none) */
    int pages;                   /* -1 = not known yet */
    char backend[32];
    char provider_sid[128];
    int64_t created_at, updated_at;  /* ms since the epoch */
    int attempts;                /* transmission attempts started */
    int max_attempts;
    int64_t next_attempt_at;     /* ms: a queued job is due at this time */
    int64_t lease_until;         /* ms: an in_progress job's worker holds it until then (0 = none) */
    int64_t submitted_at;        /* ms: handed to the backend in the current attempt (0 = not yet) */
    char doc_type[8];            /* pdf | txt | png | jpeg | tiff */
    int64_t doc_size;
    char file_name[256];         /* client's file name: shown, never used as a path */
    char resolution[12];         /* fine | standard */
    char header_text[256];       /* up to 50 characters of UTF-8 */
    char caller_id[32];
    char callback_url[1024];
    char api_key_id[32];         /* creator: "env", a key id, or "" in open dev mode */
    char idempotency_key[256];
    char pdf_token_hash[65];     /* sha256 hex of the provider fetch token ("" = none) */
    int64_t pdf_token_expires_at;
    bool cancel_requested;
    /* results, where the backend knows them */
    double duration_s;           /* < 0 = unknown */
    int bit_rate;                /* < 0 = unknown */
    int ecm;                     /* -1 unknown, 0 off, 1 on */
    char remote_station_id[32];
    char inbound_id[33];
    int64_t artifacts_deleted_at;    /* ms: uploads and images removed by ARTIFACT_TTL_DAYS (0 = kept) */
    char fetch_token_hash[65];   /* sha256 of the token in the URL a provider fetches the PDF from */
    int64_t fetch_token_expires_at;
    char owner[128];             /* whose work it is: the creating key's owner, else its key id */
    char request_hash[65];       /* sha256 of the request an Idempotency-Key was first used for */
    char warning[512];           /* the fax went out, but: e.g. a page drawn only in part ("" = none) */
    int pages_sent;              /* pages the current attempt has sent so far */
    char lease_node[64];         /* the node whose worker holds the in_progress lease ("" = none known) */
} job_record;

typedef struct job_filter {
    const char *owner;           /* NULL or "" = every owner's */
    const char *status;          /* NULL = any */
    const char *to_number;       /* NULL = any */
    const char *backend;         /* NULL or "" = any */
    int64_t created_from;        /* ms, 0 = no lower bound (inclusive) */
    int64_t created_to;          /* ms, 0 = no upper bound (exclusive) */
    int limit;                   /* 1..500 */
    /* keyset cursor: rows strictly older than (created_at, id) */
    int64_t before_created_at;   /* 0 = from the newest */
    char before_id[33];
} job_filter;

/* One attempt of a job, as GET /admin/fax-jobs/{id} shows it. */
typedef struct attempt_record {
    int attempt;                 /* 1-based */
    char backend[32];
    int64_t started_at;          /* ms: handed to the backend (0 = never was) */
    int64_t ended_at;            /* ms */
    char outcome[16];            /* "" running, SUCCESS, failed, retry, interrupted, deferred */
    char reason[32];
    char message[256];
    char provider_sid[128];
    int pages;                   /* -1 unknown */
} attempt_record;

/* The admin search over jobs: every filter optional; offset paging with a total. */
typedef struct job_search {
    const char *status, *backend, *to_number;
    int64_t created_from, created_to;    /* ms, [from, to); 0 = open */
    int limit, offset;
} job_search;

typedef struct key_record {
    char key_id[16];             /* 12 hex chars */
    char key_hash[65];           /* HMAC-SHA256(pepper, secret) hex */
    char name[128];
    char owner[128];
    char scopes[256];            /* comma-separated */
    char note[512];
    int64_t created_at;
    int64_t last_used_at;        /* 0 = never */
    int64_t expires_at;          /* 0 = never */
    int64_t revoked_at;          /* 0 = active */
} key_record;

typedef struct inbound_record {
    char id[33];
    char from_number[24];
    char to_number[24];
    char status[16];             /* received */
    char backend[32];
    char provider_sid[128];      /* the provider's id; (backend, provider_sid) is unique */
    int pages;
    int64_t size_bytes;          /* of the stored PDF */
    char sha256[65];             /* of the stored PDF (as size_bytes) */
    char remote_station_id[32];  /* the sender's station id (TSI) */
    char mailbox[64];
    char source_job_id[33];      /* loopback: the outbound job it came from */
    char error[256];
    int64_t created_at, received_at, updated_at;
    int64_t retention_until;     /* ms: artifacts are deleted after this (0 = keep) */
    int64_t artifacts_deleted_at;/* ms: 0 while the TIFF and PDF exist */
    char owner[128];             /* whose it is ("" = nobody's in particular: only all-owner keys see it) */
    int64_t read_at;             /* ms: when someone marked it read (0 = unread); one flag per fax, not per reader */
} inbound_record;

typedef struct inbound_filter {
    const char *owner;           /* this owner's and nobody's in particular; NULL or "" = every owner's */
    const char *to_number;       /* NULL = any */
    const char *status;
    const char *mailbox;
    int limit;                   /* 1..500 */
    int64_t before_received_at;  /* keyset cursor, 0 = from the newest */
    char before_id[33];
    bool unread_only;            /* only those nobody marked read */
} inbound_filter;

typedef struct store store;

/* A gateway node that shares the store (PostgreSQL): its last heartbeat. */
typedef struct store_node {
    char node_id[64];
    int64_t started_at, heartbeat_at;    /* ms */
    bool alive;                          /* heard from within the store's staleness window */
    int64_t jobs_held;                   /* in_progress jobs whose lease names it */
} store_node;

/* A named lease: one node at a time does what it names ("pbx:ami:host:port",
 * "retention"), until `until` unless it renews it. */
typedef struct store_lease {
    char name[96];
    char node_id[64];                    /* the holder ("" = never held) */
    int64_t acquired_at, until;          /* ms; until 0 = given up */
} store_lease;

/* True when database is a PostgreSQL URL (postgresql://… or postgres://…). */
bool store_url_is_pg(const char *database);
/* Opens (creating and migrating) the store: a PostgreSQL URL (store_pg_open) or
 * else a SQLite file path. NULL with err on failure. */
store *store_open(const char *database, char *err, size_t errlen);
/* Opens (creating and migrating) the database at path. NULL with err on failure. */
store *store_sqlite_open(const char *path, char *err, size_t errlen);
/* Connects to PostgreSQL by a libpq URL (every parameter, sslmode too, as given)
 * and applies the migrations once, under an advisory lock, so several nodes may
 * start together. NULL with err (never the password) on failure. */
store *store_pg_open(const char *url, char *err, size_t errlen);
void store_close(store *st);
/* "sqlite" or "postgresql". */
const char *store_kind(const store *st);
/* Names this process for leases and job reservations (default: none; a single node
 * needs none). stale_ms: a node not heard from for this long is dead and its jobs'
 * expired leases may be taken over (0 = 10 s). */
void store_set_node(store *st, const char *node_id, int64_t stale_ms);
const char *store_node_id(const store *st);
/* Records that this node is alive (about once a second); STORE_OK on a single-node store. */
int store_node_heartbeat(store *st, int64_t now);
/* The nodes that shared the store lately, this one first; count or < 0 (0 on a single-node store). */
int store_node_list(store *st, int64_t now, store_node *out, int max);
/* Takes or renews the named lease for this node until now + ttl_ms. STORE_OK when
 * this node holds it now (acquired_at is when it got it, unchanged by renewals),
 * STORE_CONFLICT when another node holds it and it has not run out (*out names
 * that node), else < 0. Times are the nodes' clocks (keep them in NTP sync). On
 * SQLite (one process) this node always gets it. */
int store_lease_take(store *st, const char *name, int64_t now, int64_t ttl_ms, store_lease *out);
/* Gives the named lease up if this node holds it (another node may take it at once). */
int store_lease_release(store *st, const char *name);
/* Every named lease ever taken, by name; count or < 0. */
int store_lease_list(store *st, store_lease *out, int max);
/* A URL with its password replaced by "***", for logs and settings. */
void store_url_redact(const char *url, char *out, size_t outlen);

/* A cheap round trip for readiness checks. */
int store_ping(store *st, char *err, size_t errlen);

/* ---- jobs ---- */
/* Inserts a new job. If rec->idempotency_key is set and a job with the same
 * (api_key_id, idempotency_key) exists, nothing is inserted, *existing is filled
 * and STORE_CONFLICT is returned. */
int store_job_insert(store *st, const job_record *rec, job_record *existing, char *err, size_t errlen);
int store_job_get(store *st, const char *id, job_record *out);
/* Writes every field of rec if the row's status is still expected_status and its
 * updated_at is still expected_updated_at (optimistic lock). STORE_CONFLICT if not. */
int store_job_update_if(store *st, const job_record *rec, const char *expected_status,
                        int64_t expected_updated_at, char *err, size_t errlen);
/* Newest first. Fills up to filter->limit records into out (caller-allocated);
 * returns the count or a negative STORE_* code. */
int store_job_list(store *st, const job_filter *filter, job_record *out);
/* Newest first; up to q->limit rows into out and the number of all matches in *total. */
int store_job_search(store *st, const job_search *q, job_record *out, int64_t *total);
/* Adds the row of an attempt that ended, numbered after the job's last one. */
int store_attempt_record(store *st, const char *job_id, const attempt_record *a);
/* A job's attempts, oldest first; the count or a negative STORE_* code. */
int store_attempt_list(store *st, const char *job_id, attempt_record *out, int max);
/* Ids of queued jobs due at or before now (oldest due first), at most max. Several
 * nodes (PostgreSQL) get disjoint sets: the rows are locked FOR UPDATE SKIP LOCKED
 * and reserved for this node for a few seconds; the claim itself is still the
 * job_transition compare-and-set. */
int store_job_due(store *st, int64_t now, char (*ids)[33], int max);
/* Ids of in_progress jobs whose lease ended before now, at most max: on PostgreSQL
 * only those held by this node, by no node, or by a node that stopped its heartbeat
 * (a live node's attempts are its own to look after). */
int store_job_lease_expired(store *st, int64_t now, char (*ids)[33], int max);
/* Earliest next_attempt_at among queued jobs, or 0 if none. */
int64_t store_job_next_due(store *st);
/* True when a queued job of an owner other than `owner` is due by `by` (ms). */
bool store_job_other_owner_due(store *st, int64_t by, const char *owner);
/* Count of jobs per status, for /metrics: fills counts[i] for statuses[i]. */
int store_job_count_by_status(store *st, const char *const *statuses, int n, int64_t *counts);

/* Only the artifacts_deleted_at column (not a state change). */
int store_job_mark_artifacts_deleted(store *st, const char *id, int64_t when);
/* Ids of finished jobs (SUCCESS/FAILED/cancelled) last updated before `before`
 * whose artifacts still exist, at most max. */
int store_job_artifacts_expired(store *st, int64_t before, char (*ids)[33], int max);

/* ---- inbound faxes ---- */
/* STORE_CONFLICT with *existing filled if (backend, provider_sid) was stored before:
 * a replayed delivery never makes a second inbound fax. */
int store_inbound_insert(store *st, const inbound_record *rec, inbound_record *existing, char *err, size_t errlen);
int store_inbound_get(store *st, const char *id, inbound_record *out);
/* Newest received first; returns the count or < 0. */
int store_inbound_list(store *st, const inbound_filter *f, inbound_record *out);
int store_inbound_mark_artifacts_deleted(store *st, const char *id, int64_t when);
/* Marks a fax read (when > 0) or unread (when 0). STORE_NOT_FOUND if no such fax. */
int store_inbound_set_read(store *st, const char *id, int64_t when);
/* Unread faxes an owner sees (owner NULL or "" = every owner's); -1 on error. */
int64_t store_inbound_unread_count(store *st, const char *owner);
/* Ids whose retention_until passed and whose artifacts still exist. */
int store_inbound_expired(store *st, int64_t now, char (*ids)[33], int max);

/* ---- Admin Console sessions (kept across restarts) ---- */
typedef struct session_row {
    char id_hash[65];            /* sha256 hex of the cookie's session id */
    char key_id[16];
    char key_hash[65];
    char csrf[48];
    int64_t created_at, last_seen_at;
} session_row;
int store_session_put(store *st, const session_row *r);
int store_session_get(store *st, const char *id_hash, session_row *out);   /* STORE_NOT_FOUND if none */
int store_session_touch(store *st, const char *id_hash, int64_t when);
int store_session_delete(store *st, const char *id_hash);
/* Every session of a key; returns how many ended, or < 0. */
int store_session_delete_key(store *st, const char *key_id);
/* Sessions idle since before seen_before or created before created_before; how many went. */
int store_session_prune(store *st, int64_t seen_before, int64_t created_before);

/* ---- API keys ---- */
int store_key_insert(store *st, const key_record *rec, char *err, size_t errlen);
int store_key_get(store *st, const char *key_id, key_record *out);
/* All keys, newest first; *out is malloc'd, caller frees. Returns count or < 0. */
int store_key_list(store *st, key_record **out);
int store_key_revoke(store *st, const char *key_id, int64_t when);
int store_key_set_hash(store *st, const char *key_id, const char *new_hash);
int store_key_touch(store *st, const char *key_id, int64_t when);

/* ---- events (the outbox) and client webhooks ---- */

/* An event to write in the same transaction as the change it describes. The
 * store adds one webhook delivery for callback_url (if set) and one for every
 * endpoint whose event types include type. */
typedef struct store_event {
    const char *id;              /* "evt_" + 32 hex */
    const char *type;            /* fax.queued, fax.progress, ... inbound.received */
    const char *job_id;          /* "" for inbound events */
    const char *inbound_id;      /* "" for job events */
    const char *owner;           /* the job's or inbound fax's owner ("" = none): who may see it */
    const char *callback_url;    /* the job's callback_url ("" = none) */
    const char *body;            /* the JSON envelope delivered as it is */
    int64_t created_at;
} store_event;

typedef struct event_row {
    int64_t seq;                 /* strictly increasing; the SSE id */
    char id[40];
    char type[32];
    char job_id[33];
    char inbound_id[33];
    char owner[128];             /* the job's or inbound fax's owner ("" = none) */
    int64_t created_at;
    char *body;                  /* malloc'd; event_rows_free */
} event_row;

typedef struct webhook_endpoint {
    char id[40];                 /* "whep_" + 24 hex */
    char url[1024];
    char secret[80];             /* "whsec_" + base64 of 32 random bytes */
    char event_types[512];       /* comma-separated, or "*" */
    char description[256];
    int64_t created_at;
    int64_t deleted_at;          /* 0 = active */
} webhook_endpoint;

typedef struct delivery_row {
    char id[40];                 /* the webhook-id: the same on every attempt */
    int64_t event_seq;
    char event_type[32];
    char endpoint_id[40];        /* "" = the job's callback_url */
    char job_id[33];
    char url[1024];
    char status[16];             /* pending | delivered | failed */
    int attempts;
    int64_t next_attempt_at;
    int last_status;             /* HTTP status of the last attempt, 0 = no answer */
    char last_error[256];
    int64_t created_at, updated_at;
    /* filled by store_delivery_due only */
    char secret[80];             /* the endpoint's ("" for callback_url: the server's) */
    bool endpoint_deleted;
    char *body;                  /* malloc'd event body; delivery_rows_free */
} delivery_row;

/* Like store_job_insert / store_job_update_if / store_inbound_insert, writing ev
 * (and its deliveries) in the same transaction when the change is made. */
int store_job_insert_ev(store *st, const job_record *rec, job_record *existing, const store_event *ev,
                        char *err, size_t errlen);
int store_job_update_if_ev(store *st, const job_record *rec, const char *expected_status,
                           int64_t expected_updated_at, const store_event *ev, char *err, size_t errlen);
int store_inbound_insert_ev(store *st, const inbound_record *rec, inbound_record *existing, const store_event *ev,
                            char *err, size_t errlen);

/* Events with seq > after, oldest first, at most max; returns the count or < 0. */
int store_event_list_after(store *st, int64_t after, int max, event_row *out);
void event_rows_free(event_row *rows, int n);
/* Highest seq written so far (0 = none), or < 0. */
int64_t store_event_last_seq(store *st);
/* Deletes events older than before that no pending delivery needs; count or < 0. */
int store_event_prune(store *st, int64_t before);

int store_endpoint_insert(store *st, const webhook_endpoint *ep, char *err, size_t errlen);
int store_endpoint_get(store *st, const char *id, webhook_endpoint *out);
/* Active endpoints, oldest first; *out malloc'd; count or < 0. */
int store_endpoint_list(store *st, webhook_endpoint **out);
/* Marks deleted; its pending deliveries fail. STORE_NOT_FOUND if none active. */
int store_endpoint_delete(store *st, const char *id, int64_t when);

/* Pending deliveries due at now, each the oldest pending one of its destination
 * and job (so one destination sees a job's events in order); at most max. */
int store_delivery_due(store *st, int64_t now, int max, delivery_row *out);
void delivery_rows_free(delivery_row *rows, int n);
/* Records an attempt's outcome: status, attempts, next_attempt_at, last_status, last_error. */
int store_delivery_update(store *st, const delivery_row *d);
/* Newest first, of an endpoint (endpoint_id) or of a job (job_id); count or < 0. */
int store_delivery_list(store *st, const char *endpoint_id, const char *job_id, int max, delivery_row *out);
/* The earliest next_attempt_at of pending deliveries, 0 if none. */
int64_t store_delivery_next_due(store *st);

/* ---- whole tables, for copying an installation (`faxbot migrate`) ---- */

/* A table that holds an installation's data, and the columns of its key. */
typedef struct store_table {
    const char *name;
    const char *key[3];          /* NULL-terminated */
    unsigned int_keys;           /* bit i: key[i] is an integer (ordered by value, not as text) */
    const char *serial;          /* a column PostgreSQL numbers (BIGSERIAL), or NULL */
} store_table;
/* Every such table, in an order where a row comes after what it refers to. */
extern const store_table store_tables[];
extern const int store_n_tables;
/* The table named so, or NULL (only these tables may be read or written whole). */
const store_table *store_table_find(const char *name);

#define STORE_ROW_COLS 64
/* One row in a form both databases agree on: integers in decimal, reals as "%.17g",
 * text as it is; NULL for SQL NULL. */
typedef struct store_row {
    int n;
    const char *name[STORE_ROW_COLS];
    const char *value[STORE_ROW_COLS];
} store_row;

typedef struct store_cursor store_cursor;
/* Reads a table in key order: every column (cols NULL) or the ncols named ones.
 * NULL with err (an unknown table or column, or the database's error). */
store_cursor *store_table_open(store *st, const char *table, const char *const *cols, int ncols, char *err,
                               size_t errlen);
/* The next row into *row (its strings live until the next call): 1, 0 at the end, < 0 with err. */
int store_cursor_next(store_cursor *c, store_row *row, char *err, size_t errlen);
void store_cursor_close(store_cursor *c);
/* Rows in table, or < 0. */
int64_t store_table_count(store *st, const char *table);
/* Adds the rows that are not there yet, in one transaction: a row whose key (or
 * another unique value) exists is left as it is. *added = the rows that were new.
 * On PostgreSQL the table's serial moves past the values copied. */
int store_table_put(store *st, const char *table, const store_row *rows, int n, int *added, char *err, size_t errlen);

#endif
