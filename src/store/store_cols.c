/* store_cols.c — the column tables of store_cols.h, and the SQL lists built from them. */
#include "store/store_cols.h"

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define FIELD_SIZE(T, f) sizeof(((T *)0)->f)
#define JTEXT(f) {#f, COL_TEXT, offsetof(job_record, f), FIELD_SIZE(job_record, f)}
#define JCOL(f, t) {#f, t, offsetof(job_record, f), 0}
#define ITEXT(f) {#f, COL_TEXT, offsetof(inbound_record, f), FIELD_SIZE(inbound_record, f)}
#define ICOL(f, t) {#f, t, offsetof(inbound_record, f), 0}
#define KTEXT(f) {#f, COL_TEXT, offsetof(key_record, f), FIELD_SIZE(key_record, f)}
#define KCOL(f, t) {#f, t, offsetof(key_record, f), 0}

const col_desc job_cols[] = {
    JTEXT(id), JTEXT(to_number), JTEXT(status), JTEXT(error), JTEXT(failure_reason),
    JCOL(pages, COL_INT), JTEXT(backend), JTEXT(provider_sid), JCOL(created_at, COL_I64),
    JCOL(updated_at, COL_I64), JCOL(attempts, COL_INT), JCOL(max_attempts, COL_INT),
    JCOL(next_attempt_at, COL_I64), JCOL(lease_until, COL_I64), JCOL(submitted_at, COL_I64),
    JTEXT(doc_type), JCOL(doc_size, COL_I64), JTEXT(file_name), JTEXT(resolution), JTEXT(header_text),
    JTEXT(caller_id), JTEXT(callback_url), JTEXT(api_key_id), JTEXT(idempotency_key), JTEXT(pdf_token_hash),
    JCOL(pdf_token_expires_at, COL_I64), JCOL(cancel_requested, COL_BOOL), JCOL(duration_s, COL_REAL),
    JCOL(bit_rate, COL_INT), JCOL(ecm, COL_INT), JTEXT(remote_station_id), JTEXT(inbound_id),
    JCOL(artifacts_deleted_at, COL_I64), JTEXT(fetch_token_hash), JCOL(fetch_token_expires_at, COL_I64),
    JTEXT(owner), JTEXT(request_hash), JTEXT(warning),
    JCOL(pages_sent, COL_INT), JTEXT(lease_node),
};
const int n_job_cols = (int)(sizeof job_cols / sizeof job_cols[0]);

const col_desc inbound_cols[] = {
    ITEXT(id), ITEXT(from_number), ITEXT(to_number), ITEXT(status), ITEXT(backend), ITEXT(provider_sid),
    ICOL(pages, COL_INT), ICOL(size_bytes, COL_I64), ITEXT(sha256), ITEXT(remote_station_id), ITEXT(mailbox),
    ITEXT(source_job_id), ITEXT(error), ICOL(created_at, COL_I64), ICOL(received_at, COL_I64),
    ICOL(updated_at, COL_I64), ICOL(retention_until, COL_I64), ICOL(artifacts_deleted_at, COL_I64),
    ITEXT(owner), ICOL(read_at, COL_I64),
};
const int n_inbound_cols = (int)(sizeof inbound_cols / sizeof inbound_cols[0]);

const col_desc key_cols[] = {
    KTEXT(key_id), KTEXT(key_hash), KTEXT(name), KTEXT(owner), KTEXT(scopes), KTEXT(note),
    KCOL(created_at, COL_I64), KCOL(last_used_at, COL_I64), KCOL(expires_at, COL_I64), KCOL(revoked_at, COL_I64),
};
const int n_key_cols = (int)(sizeof key_cols / sizeof key_cols[0]);

char *cols_list(const col_desc *cols, int n)
{
    strbuf sb;
    sb_init(&sb);
    for (int i = 0; i < n; i++)
        if (sb_appendf(&sb, "%s%s", i ? "," : "", cols[i].name)) { sb_free(&sb); return NULL; }
    return sb_steal(&sb);
}

char *params_list(char mark, int first, int n)
{
    strbuf sb;
    sb_init(&sb);
    for (int i = 0; i < n; i++)
        if (sb_appendf(&sb, "%s%c%d", i ? "," : "", mark, first + i)) { sb_free(&sb); return NULL; }
    return sb_steal(&sb);
}
