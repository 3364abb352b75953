/* store.c — the public face of store.h: picks the implementation from the
 * DATABASE_URL form, and passes every call through the implementation's table of
 * operations (store_impl.h). Helpers common to every store live here too. */
#include "store/store_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

bool store_url_is_pg(const char *database)
{
    return database && (!strncmp(database, "postgresql://", 13) || !strncmp(database, "postgres://", 11));
}

store *store_open(const char *database, char *err, size_t errlen)
{
    return store_url_is_pg(database) ? store_pg_open(database, err, errlen) : store_sqlite_open(database, err, errlen);
}

void store_close(store *st)
{
    if (st) st->ops->close(st);
}

const char *store_kind(const store *st) { return st->ops->kind; }

void store_set_node(store *st, const char *node_id, int64_t stale_ms)
{
    str_copy(st->node_id, sizeof st->node_id, node_id ? node_id : "");
    st->node_stale_ms = stale_ms > 0 ? stale_ms : 10000;
}

const char *store_node_id(const store *st) { return st->node_id; }

int store_node_heartbeat(store *st, int64_t now)
{
    return st->ops->node_heartbeat && st->node_id[0] ? st->ops->node_heartbeat(st, now) : STORE_OK;
}

int store_node_list(store *st, int64_t now, store_node *out, int max)
{
    return st->ops->node_list ? st->ops->node_list(st, now, out, max) : 0;
}

int store_lease_take(store *st, const char *name, int64_t now, int64_t ttl_ms, store_lease *out)
{
    return st->ops->lease_take(st, name, now, ttl_ms, out);
}

int store_lease_release(store *st, const char *name) { return st->ops->lease_release(st, name); }
int store_lease_list(store *st, store_lease *out, int max) { return st->ops->lease_list(st, out, max); }

void store_url_redact(const char *url, char *out, size_t outlen)
{
    if (!outlen) return;
    str_copy(out, outlen, url ? url : "");
    /* scheme://user:password@host… : the password is between the first ':' after
     * "//" and the last '@' before the path */
    const char *auth = url ? strstr(url, "://") : NULL;
    if (!auth) return;
    auth += 3;
    size_t hostpart = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + hostpart; p++)
        if (*p == '@') at = p;
    if (!at) return;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon) return;
    str_fmt(out, outlen, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

int store_ping(store *st, char *err, size_t errlen) { return st->ops->ping(st, err, errlen); }

int store_job_insert(store *st, const job_record *rec, job_record *existing, char *err, size_t errlen)
{
    return st->ops->job_insert_ev(st, rec, existing, NULL, err, errlen);
}

int store_job_insert_ev(store *st, const job_record *rec, job_record *existing, const store_event *ev, char *err,
                        size_t errlen)
{
    return st->ops->job_insert_ev(st, rec, existing, ev, err, errlen);
}

int store_job_get(store *st, const char *id, job_record *out) { return st->ops->job_get(st, id, out); }

int store_job_update_if(store *st, const job_record *rec, const char *expected_status, int64_t expected_updated_at,
                        char *err, size_t errlen)
{
    return st->ops->job_update_if_ev(st, rec, expected_status, expected_updated_at, NULL, err, errlen);
}

int store_job_update_if_ev(store *st, const job_record *rec, const char *expected_status, int64_t expected_updated_at,
                           const store_event *ev, char *err, size_t errlen)
{
    return st->ops->job_update_if_ev(st, rec, expected_status, expected_updated_at, ev, err, errlen);
}

int store_job_list(store *st, const job_filter *filter, job_record *out) { return st->ops->job_list(st, filter, out); }

int store_job_search(store *st, const job_search *q, job_record *out, int64_t *total)
{
    return st->ops->job_search(st, q, out, total);
}

int store_attempt_record(store *st, const char *job_id, const attempt_record *a)
{
    return st->ops->attempt_record(st, job_id, a);
}

int store_attempt_list(store *st, const char *job_id, attempt_record *out, int max)
{
    return st->ops->attempt_list(st, job_id, out, max);
}

int store_job_due(store *st, int64_t now, char (*ids)[33], int max) { return st->ops->job_due(st, now, ids, max); }

int store_job_lease_expired(store *st, int64_t now, char (*ids)[33], int max)
{
    return st->ops->job_lease_expired(st, now, ids, max);
}

int64_t store_job_next_due(store *st) { return st->ops->job_next_due(st); }

bool store_job_other_owner_due(store *st, int64_t by, const char *owner)
{
    return st->ops->job_other_owner_due(st, by, owner);
}

int store_job_count_by_status(store *st, const char *const *statuses, int n, int64_t *counts)
{
    return st->ops->job_count_by_status(st, statuses, n, counts);
}

int store_job_mark_artifacts_deleted(store *st, const char *id, int64_t when)
{
    return st->ops->job_mark_artifacts_deleted(st, id, when);
}

int store_job_artifacts_expired(store *st, int64_t before, char (*ids)[33], int max)
{
    return st->ops->job_artifacts_expired(st, before, ids, max);
}

int store_inbound_insert(store *st, const inbound_record *rec, inbound_record *existing, char *err, size_t errlen)
{
    return st->ops->inbound_insert_ev(st, rec, existing, NULL, err, errlen);
}

int store_inbound_insert_ev(store *st, const inbound_record *rec, inbound_record *existing, const store_event *ev,
                            char *err, size_t errlen)
{
    return st->ops->inbound_insert_ev(st, rec, existing, ev, err, errlen);
}

int store_inbound_get(store *st, const char *id, inbound_record *out) { return st->ops->inbound_get(st, id, out); }

int store_inbound_list(store *st, const inbound_filter *f, inbound_record *out)
{
    return st->ops->inbound_list(st, f, out);
}

int store_inbound_mark_artifacts_deleted(store *st, const char *id, int64_t when)
{
    return st->ops->inbound_mark_artifacts_deleted(st, id, when);
}

int store_inbound_expired(store *st, int64_t now, char (*ids)[33], int max)
{
    return st->ops->inbound_expired(st, now, ids, max);
}

int store_inbound_set_read(store *st, const char *id, int64_t when) { return st->ops->inbound_set_read(st, id, when); }
int64_t store_inbound_unread_count(store *st, const char *owner) { return st->ops->inbound_unread_count(st, owner); }

int store_session_put(store *st, const session_row *r) { return st->ops->session_put(st, r); }

int store_session_get(store *st, const char *id_hash, session_row *out)
{
    return st->ops->session_get(st, id_hash, out);
}

int store_session_touch(store *st, const char *id_hash, int64_t when)
{
    return st->ops->session_touch(st, id_hash, when);
}

int store_session_delete(store *st, const char *id_hash) { return st->ops->session_delete(st, id_hash); }
int store_session_delete_key(store *st, const char *key_id) { return st->ops->session_delete_key(st, key_id); }

int store_session_prune(store *st, int64_t seen_before, int64_t created_before)
{
    return st->ops->session_prune(st, seen_before, created_before);
}

int store_key_insert(store *st, const key_record *rec, char *err, size_t errlen)
{
    return st->ops->key_insert(st, rec, err, errlen);
}

int store_key_get(store *st, const char *key_id, key_record *out) { return st->ops->key_get(st, key_id, out); }
int store_key_list(store *st, key_record **out) { return st->ops->key_list(st, out); }
int store_key_revoke(store *st, const char *key_id, int64_t when) { return st->ops->key_revoke(st, key_id, when); }

int store_key_set_hash(store *st, const char *key_id, const char *new_hash)
{
    return st->ops->key_set_hash(st, key_id, new_hash);
}

int store_key_touch(store *st, const char *key_id, int64_t when) { return st->ops->key_touch(st, key_id, when); }

int store_event_list_after(store *st, int64_t after, int max, event_row *out)
{
    return st->ops->event_list_after(st, after, max, out);
}

int64_t store_event_last_seq(store *st) { return st->ops->event_last_seq(st); }
int store_event_prune(store *st, int64_t before) { return st->ops->event_prune(st, before); }

int store_endpoint_insert(store *st, const webhook_endpoint *ep, char *err, size_t errlen)
{
    return st->ops->endpoint_insert(st, ep, err, errlen);
}

int store_endpoint_get(store *st, const char *id, webhook_endpoint *out) { return st->ops->endpoint_get(st, id, out); }
int store_endpoint_list(store *st, webhook_endpoint **out) { return st->ops->endpoint_list(st, out); }
int store_endpoint_delete(store *st, const char *id, int64_t when) { return st->ops->endpoint_delete(st, id, when); }

int store_delivery_due(store *st, int64_t now, int max, delivery_row *out)
{
    return st->ops->delivery_due(st, now, max, out);
}

int store_delivery_update(store *st, const delivery_row *d) { return st->ops->delivery_update(st, d); }

int store_delivery_list(store *st, const char *endpoint_id, const char *job_id, int max, delivery_row *out)
{
    return st->ops->delivery_list(st, endpoint_id, job_id, max, out);
}

int64_t store_delivery_next_due(store *st) { return st->ops->delivery_next_due(st); }

void event_rows_free(event_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++) {
        free(rows[i].body);
        rows[i].body = NULL;
    }
}

void delivery_rows_free(delivery_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++) {
        free(rows[i].body);
        rows[i].body = NULL;
    }
}

/* ---- whole tables ---- */

const store_table store_tables[] = {
    {"api_keys", {"key_id", NULL}, 0, "id"},
    {"fax_jobs", {"id", NULL}, 0, NULL},
    {"job_attempts", {"job_id", "attempt", NULL}, 2, NULL},
    {"inbound_faxes", {"id", NULL}, 0, NULL},
    {"webhook_endpoints", {"id", NULL}, 0, NULL},
    {"events", {"seq", NULL}, 1, "seq"},
    {"webhook_deliveries", {"id", NULL}, 0, NULL},
    {"console_sessions", {"id_hash", NULL}, 0, NULL},
};
const int store_n_tables = (int)(sizeof store_tables / sizeof store_tables[0]);

const store_table *store_table_find(const char *name)
{
    for (int i = 0; name && i < store_n_tables; i++)
        if (!strcmp(store_tables[i].name, name)) return &store_tables[i];
    return NULL;
}

bool store_col_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 63) return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return false;
    return true;
}

store_cursor *store_table_open(store *st, const char *table, const char *const *cols, int ncols, char *err,
                               size_t errlen)
{
    const store_table *t = store_table_find(table);
    if (!t) { str_fmt(err, errlen, "no table %s", table ? table : "(null)"); return NULL; }
    if (ncols < 0 || ncols > STORE_ROW_COLS || (ncols && !cols)) { str_fmt(err, errlen, "bad column list"); return NULL; }
    for (int i = 0; i < ncols; i++)
        if (!store_col_name_ok(cols[i])) { str_fmt(err, errlen, "bad column name"); return NULL; }
    return st->ops->table_open(st, t, cols, ncols, err, errlen);
}

int store_cursor_next(store_cursor *c, store_row *row, char *err, size_t errlen)
{
    return c->st->ops->cursor_next(c, row, err, errlen);
}

void store_cursor_close(store_cursor *c)
{
    if (c) c->st->ops->cursor_close(c);
}

int64_t store_table_count(store *st, const char *table)
{
    const store_table *t = store_table_find(table);
    return t ? st->ops->table_count(st, t) : STORE_ERROR;
}

int store_table_put(store *st, const char *table, const store_row *rows, int n, int *added, char *err, size_t errlen)
{
    const store_table *t = store_table_find(table);
    if (added) *added = 0;
    if (!t) { str_fmt(err, errlen, "no table %s", table ? table : "(null)"); return STORE_ERROR; }
    for (int r = 0; r < n; r++) {
        if (rows[r].n < 1 || rows[r].n > STORE_ROW_COLS) { str_fmt(err, errlen, "bad row"); return STORE_ERROR; }
        for (int i = 0; i < rows[r].n; i++)
            if (!store_col_name_ok(rows[r].name[i])) { str_fmt(err, errlen, "bad column name"); return STORE_ERROR; }
    }
    return n > 0 ? st->ops->table_put(st, t, rows, n, added, err, errlen) : STORE_OK;
}

void row_buf_reset(row_buf *b)
{
    b->sb.len = 0;
    b->n = 0;
}

int row_buf_add(row_buf *b, const char *s, size_t len)
{
    if (b->n >= STORE_ROW_COLS) return -1;
    b->off[b->n] = b->sb.len;
    b->null[b->n] = s == NULL;
    if (sb_append(&b->sb, s ? s : "", s ? len : 0) || sb_append(&b->sb, "", 1)) return -1;
    b->n++;
    return 0;
}

int row_buf_add_i64(row_buf *b, int64_t v)
{
    char num[32];
    int len = snprintf(num, sizeof num, "%lld", (long long)v);
    return row_buf_add(b, num, (size_t)len);
}

int row_buf_add_real(row_buf *b, double v)
{
    char num[40];
    int len = snprintf(num, sizeof num, "%.17g", v);
    return row_buf_add(b, num, (size_t)len);
}

void row_buf_fill(row_buf *b, store_row *row)
{
    row->n = b->n;
    for (int i = 0; i < b->n; i++) row->value[i] = b->null[i] ? NULL : b->sb.data + b->off[i];
}

char *table_select_sql(const store_table *t, const char *const *cols, int ncols)
{
    strbuf sb;
    sb_init(&sb);
    int rc = sb_puts(&sb, "SELECT ");
    for (int i = 0; i < ncols && !rc; i++) rc = sb_appendf(&sb, "%s%s", i ? ", " : "", cols[i]);
    if (!rc && !ncols) rc = sb_puts(&sb, "*");
    if (!rc) rc = sb_appendf(&sb, " FROM %s ORDER BY ", t->name);
    for (int i = 0; t->key[i] && !rc; i++) rc = sb_appendf(&sb, "%s%s", i ? ", " : "", t->key[i]);
    if (rc) { sb_free(&sb); return NULL; }
    return sb_steal(&sb);
}

char *table_insert_sql(const store_table *t, const store_row *row, const char *verb, char mark, const char *suffix)
{
    strbuf sb;
    sb_init(&sb);
    int rc = sb_appendf(&sb, "%s %s (", verb, t->name);
    for (int i = 0; i < row->n && !rc; i++) rc = sb_appendf(&sb, "%s%s", i ? ", " : "", row->name[i]);
    if (!rc) rc = sb_puts(&sb, ") VALUES (");
    for (int i = 0; i < row->n && !rc; i++) rc = sb_appendf(&sb, "%s%c%d", i ? ", " : "", mark, i + 1);
    if (!rc) rc = sb_appendf(&sb, ")%s", suffix);
    if (rc) { sb_free(&sb); return NULL; }
    return sb_steal(&sb);
}

int rows_same_columns(const store_row *rows, int n)
{
    for (int r = 1; r < n; r++) {
        if (rows[r].n != rows[0].n) return -1;
        for (int i = 0; i < rows[0].n; i++)
            if (strcmp(rows[r].name[i], rows[0].name[i])) return -1;
    }
    return 0;
}
