/* store_impl.h — what an implementation of store.h provides: a table of
 * operations, and the common head of its handle. store.c dispatches every public
 * call through it, so callers never know whether they run on SQLite
 * (store_sqlite.c) or PostgreSQL (store_pg.c); a new store is a new file. */
#ifndef FAXBOT_STORE_IMPL_H
#define FAXBOT_STORE_IMPL_H

#include "store/store.h"
#include "util/util.h"

typedef struct store_ops {
    const char *kind;            /* "sqlite", "postgresql" */
    void (*close)(store *st);
    int (*ping)(store *st, char *err, size_t errlen);
    int (*job_insert_ev)(store *st, const job_record *rec, job_record *existing, const store_event *ev, char *err,
                         size_t errlen);
    int (*job_get)(store *st, const char *id, job_record *out);
    int (*job_update_if_ev)(store *st, const job_record *rec, const char *expected_status, int64_t expected_updated_at,
                            const store_event *ev, char *err, size_t errlen);
    int (*job_list)(store *st, const job_filter *filter, job_record *out);
    int (*job_search)(store *st, const job_search *q, job_record *out, int64_t *total);
    int (*attempt_record)(store *st, const char *job_id, const attempt_record *a);
    int (*attempt_list)(store *st, const char *job_id, attempt_record *out, int max);
    int (*job_due)(store *st, int64_t now, char (*ids)[33], int max);
    int (*job_lease_expired)(store *st, int64_t now, char (*ids)[33], int max);
    int64_t (*job_next_due)(store *st);
    bool (*job_other_owner_due)(store *st, int64_t by, const char *owner);
    int (*job_count_by_status)(store *st, const char *const *statuses, int n, int64_t *counts);
    int (*job_mark_artifacts_deleted)(store *st, const char *id, int64_t when);
    int (*job_artifacts_expired)(store *st, int64_t before, char (*ids)[33], int max);
    int (*inbound_insert_ev)(store *st, const inbound_record *rec, inbound_record *existing, const store_event *ev,
                             char *err, size_t errlen);
    int (*inbound_get)(store *st, const char *id, inbound_record *out);
    int (*inbound_list)(store *st, const inbound_filter *f, inbound_record *out);
    int (*inbound_mark_artifacts_deleted)(store *st, const char *id, int64_t when);
    int (*inbound_expired)(store *st, int64_t now, char (*ids)[33], int max);
    int (*inbound_set_read)(store *st, const char *id, int64_t when);
    int64_t (*inbound_unread_count)(store *st, const char *owner);
    int (*session_put)(store *st, const session_row *r);
    int (*session_get)(store *st, const char *id_hash, session_row *out);
    int (*session_touch)(store *st, const char *id_hash, int64_t when);
    int (*session_delete)(store *st, const char *id_hash);
    int (*session_delete_key)(store *st, const char *key_id);
    int (*session_prune)(store *st, int64_t seen_before, int64_t created_before);
    int (*key_insert)(store *st, const key_record *rec, char *err, size_t errlen);
    int (*key_get)(store *st, const char *key_id, key_record *out);
    int (*key_list)(store *st, key_record **out);
    int (*key_revoke)(store *st, const char *key_id, int64_t when);
    int (*key_set_hash)(store *st, const char *key_id, const char *new_hash);
    int (*key_touch)(store *st, const char *key_id, int64_t when);
    int (*event_list_after)(store *st, int64_t after, int max, event_row *out);
    int64_t (*event_last_seq)(store *st);
    int (*event_prune)(store *st, int64_t before);
    int (*endpoint_insert)(store *st, const webhook_endpoint *ep, char *err, size_t errlen);
    int (*endpoint_get)(store *st, const char *id, webhook_endpoint *out);
    int (*endpoint_list)(store *st, webhook_endpoint **out);
    int (*endpoint_delete)(store *st, const char *id, int64_t when);
    int (*delivery_due)(store *st, int64_t now, int max, delivery_row *out);
    int (*delivery_update)(store *st, const delivery_row *d);
    int (*delivery_list)(store *st, const char *endpoint_id, const char *job_id, int max, delivery_row *out);
    int64_t (*delivery_next_due)(store *st);
    /* several nodes (NULL on a single-node store) */
    int (*node_heartbeat)(store *st, int64_t now);
    int (*node_list)(store *st, int64_t now, store_node *out, int max);
    /* whole tables (store_table_*): the table is one of store_tables, the column names checked */
    store_cursor *(*table_open)(store *st, const store_table *t, const char *const *cols, int ncols, char *err,
                                size_t errlen);
    int (*cursor_next)(store_cursor *c, store_row *row, char *err, size_t errlen);
    void (*cursor_close)(store_cursor *c);
    int64_t (*table_count)(store *st, const store_table *t);
    int (*table_put)(store *st, const store_table *t, const store_row *rows, int n, int *added, char *err,
                     size_t errlen);
    /* named leases */
    int (*lease_take)(store *st, const char *name, int64_t now, int64_t ttl_ms, store_lease *out);
    int (*lease_release)(store *st, const char *name);
    int (*lease_list)(store *st, store_lease *out, int max);
} store_ops;

/* The head of every implementation's handle (its first member). */
struct store {
    const store_ops *ops;
    char node_id[64];            /* this process, as leases name it (store_set_node) */
    int64_t node_stale_ms;       /* a node silent this long is dead: its leases may be taken over */
};

/* The head of every implementation's table cursor. */
struct store_cursor {
    store *st;
};

/* True when name is a plain column name (lower-case letters, digits, '_'). */
bool store_col_name_ok(const char *name);

/* The values of one row being read, kept in one buffer (both stores' cursors). */
typedef struct row_buf {
    strbuf sb;
    int n;
    size_t off[STORE_ROW_COLS];
    bool null[STORE_ROW_COLS];
} row_buf;
void row_buf_reset(row_buf *b);
/* Appends a value: text of len bytes, or SQL NULL (s NULL). 0 or -1 (out of memory, too many). */
int row_buf_add(row_buf *b, const char *s, size_t len);
int row_buf_add_i64(row_buf *b, int64_t v);
int row_buf_add_real(row_buf *b, double v);
/* Points row->value[] at the buffer (row->name[] is the caller's). */
void row_buf_fill(row_buf *b, store_row *row);

/* "SELECT <cols or *> FROM t ORDER BY <key>" (malloc'd). */
char *table_select_sql(const store_table *t, const char *const *cols, int ncols);
/* "INSERT … (<the row's columns>) VALUES (?1…|$1…)" with a prefix/suffix for the
 * dialect's skip-existing clause (malloc'd). */
char *table_insert_sql(const store_table *t, const store_row *row, const char *verb, char mark, const char *suffix);
/* 0 when every row has row 0's columns. */
int rows_same_columns(const store_row *rows, int n);

#endif
