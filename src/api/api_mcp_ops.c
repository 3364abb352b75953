/* api_mcp_ops.c — the MCP tools' operations in-process (mcp/mcp_ops.h), on the
 * store and jobs the REST API uses, for one caller: each operation checks the
 * caller's scopes like the REST route it mirrors and answers with the same JSON
 * and messages, so a tool's error reads like the API's. */
#include "api/api_internal.h"
#include "api/api_mcp.h"
#include "api/phone.h"
#include "auth/apikey.h"
#include "auth/audit.h"
#include "document/document.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool allowed(api_mcp_caller *c, const char *scope, mcp_reply *r)
{
    if (!c->who.authenticated || apikey_scopes_allow(c->who.scopes, scope)) return true;
    audit_event("api_key_denied_scope", "key_id", c->who.key_id, "required", scope, "via", "mcp", NULL);
    mcp_reply_fail(r, 403, "Insufficient scope: %s required", scope);
    return false;
}

static bool inbound_on(mcp_reply *r)
{
    if (api_cfg()->inbound_enabled) return true;
    mcp_reply_fail(r, 404, "Inbound not enabled");
    return false;
}

/* Copies the document into the job's storage, checking it as POST /fax does. */
static int intake(const char *src, const char *dst, int64_t *size, doc_type *type, mcp_reply *r)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) || !S_ISREG(st.st_mode)) {
        if (in >= 0) close(in);
        mcp_reply_fail(r, 400, "cannot read the document");
        return -1;
    }
    int64_t max = api_cfg()->max_file_size_bytes;
    if (st.st_size > max) {
        close(in);
        mcp_reply_fail(r, 413, "File exceeds %lld MB limit", (long long)(max / (1024 * 1024)));
        return -1;
    }
    if (st.st_size == 0) { close(in); mcp_reply_fail(r, 400, "the file is empty"); return -1; }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) { close(in); mcp_reply_fail(r, errno == ENOSPC ? 507 : 500, "could not store the document"); return -1; }
    unsigned char head[4096], buf[65536];
    size_t head_len = 0;
    utf8_validator v;
    utf8_validator_init(&v);
    int64_t total = 0;
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        if (head_len < sizeof head) {
            size_t take = sizeof head - head_len < (size_t)n ? sizeof head - head_len : (size_t)n;
            memcpy(head + head_len, buf, take);
            head_len += take;
        }
        utf8_validator_feed(&v, buf, (size_t)n);
        total += n;
        if (total > max) { mcp_reply_fail(r, 413, "File exceeds %lld MB limit", (long long)(max / (1024 * 1024))); rc = -1; break; }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { mcp_reply_fail(r, errno == ENOSPC ? 507 : 500, "could not store the document"); rc = -1; break; }
            off += w;
        }
        if (rc) break;
    }
    close(in);
    if (!rc && (fsync(out) || n < 0)) { mcp_reply_fail(r, 500, "could not store the document"); rc = -1; }
    close(out);
    if (rc) return -1;
    *type = doc_sniff(head, head_len);
    if (*type == DOC_TEXT && !utf8_validator_ok(&v)) *type = DOC_UNKNOWN;
    if (*type == DOC_UNKNOWN) {
        mcp_reply_fail(r, 415, "Unsupported file type: send a PDF, UTF-8 text, PNG, JPEG or TIFF");
        return -1;
    }
    *size = total;
    return 0;
}

static void op_send_fax(void *ctx, const char *to_in, const char *path, const char *file_name, mcp_reply *r)
{
    api_mcp_caller *c = ctx;
    if (!allowed(c, "fax:send", r)) return;
    char to[24], err[256];
    for (const char *p = to_in; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) { mcp_reply_fail(r, 400, "'to' must be E.164 or digits only (like +15551234567)"); return; }
    if (phone_normalize(to_in, api_cfg()->default_country_code, to, err, sizeof err)) { mcp_reply_fail(r, 400, "%s", err); return; }
    job_record *rec = calloc(1, sizeof *rec), *existing = calloc(1, sizeof *existing);
    if (!rec || !existing) { free(rec); free(existing); mcp_reply_fail(r, 503, "out of memory"); return; }
    new_id_hex32(rec->id);
    char dst[4096], dir[4096];
    if (blob_path(g_api.blobs, "outbound", rec->id, "original", dst, sizeof dst)) {
        mcp_reply_fail(r, 500, "could not prepare storage for the document");
        goto out;
    }
    doc_type type;
    if (intake(path, dst, &rec->doc_size, &type, r)) {
        blob_remove_all(g_api.blobs, "outbound", rec->id);
        goto out;
    }
    str_copy(dir, sizeof dir, dst);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    fsync_dir(dir);
    str_copy(rec->to_number, sizeof rec->to_number, to);
    str_copy(rec->doc_type, sizeof rec->doc_type, doc_type_name(type));
    size_t o = 0;
    for (const char *p = file_name ? file_name : ""; *p && o + 1 < sizeof rec->file_name; p++)
        rec->file_name[o++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? '_' : *p;
    rec->file_name[o] = 0;
    str_copy(rec->resolution, sizeof rec->resolution, api_cfg()->default_resolution);
    str_copy(rec->api_key_id, sizeof rec->api_key_id, c->who.key_id);
    str_copy(rec->owner, sizeof rec->owner, c->who.owner);
    rec->pages = -1;
    rec->duration_s = -1;
    rec->bit_rate = -1;
    rec->ecm = -1;
    char serr[512] = "";
    if (blob_commit(g_api.blobs, "outbound", rec->id, "original", serr, sizeof serr)) {   /* S3: stored first */
        log_warn("upload %s: %s", rec->id, serr);
        blob_remove_all(g_api.blobs, "outbound", rec->id);
        mcp_reply_fail(r, 503, "could not store the document; try again");
        goto out;
    }
    int rc = jobs_create(g_api.jobs, rec, existing, serr, sizeof serr);
    if (rc != STORE_OK) {
        blob_remove_all(g_api.blobs, "outbound", rec->id);
        if (rc == STORE_FULL) mcp_reply_fail(r, 507, "the gateway's disk is full; the fax was not accepted");
        else mcp_reply_fail(r, 503, "could not save the job: %s", serr);
        goto out;
    }
    r->status = 202;
    r->json = api_job_json(rec);
out:
    free(rec);
    free(existing);
}

static void op_get_fax(void *ctx, const char *id, mcp_reply *r)
{
    api_mcp_caller *c = ctx;
    if (!allowed(c, "fax:read", r)) return;
    job_record rec;
    if (!api_valid_id(id) || store_job_get(g_api.st, id, &rec) != STORE_OK || !api_may_see(&c->who, rec.owner, false)) {
        mcp_reply_fail(r, 404, "Job not found");
        return;
    }
    r->status = 200;
    r->json = api_job_json(&rec);
}

/* The inbound fax, if it exists and who may see it (another owner's is "not found"). */
static bool load_inbound(api_mcp_caller *c, const char *id, inbound_record *rec)
{
    return api_valid_id(id) && store_inbound_get(g_api.st, id, rec) == STORE_OK && api_may_see(&c->who, rec->owner, true);
}

static void op_get_inbound(void *ctx, const char *id, mcp_reply *r)
{
    if (!allowed(ctx, "inbound:read", r) || !inbound_on(r)) return;
    inbound_record rec;
    if (!load_inbound(ctx, id, &rec)) {
        mcp_reply_fail(r, 404, "Inbound fax not found");
        return;
    }
    r->status = 200;
    r->json = api_inbound_json(&rec, false);
}

static void op_list_faxes(void *ctx, int limit, const char *cursor, const char *status, mcp_reply *r)
{
    api_mcp_caller *c = ctx;
    if (!allowed(c, "fax:read", r)) return;
    job_filter f = {.limit = limit + 1, .owner = c->who.all_owners ? NULL : c->who.owner};
    if (status && *status) {
        if (!job_status_valid(status)) {
            mcp_reply_fail(r, 400, "'status' must be one of queued, in_progress, SUCCESS, FAILED, cancelled");
            return;
        }
        f.status = status;
    }
    if (api_parse_cursor(cursor, &f.before_created_at, f.before_id)) { mcp_reply_fail(r, 400, "'cursor' is not one this server gave out"); return; }
    job_record *recs = calloc((size_t)f.limit, sizeof *recs);
    if (!recs) { mcp_reply_fail(r, 503, "out of memory"); return; }
    int n = store_job_list(g_api.st, &f, recs);
    if (n < 0) { free(recs); mcp_reply_fail(r, 503, "could not read jobs"); return; }
    if (n > limit) {
        n = limit;
        str_fmt(r->next_cursor, sizeof r->next_cursor, "%lld.%s", (long long)recs[n - 1].created_at, recs[n - 1].id);
    }
    r->json = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(r->json, api_job_json(&recs[i]));
    free(recs);
    r->status = 200;
}

static void op_list_inbound(void *ctx, int limit, const char *cursor, mcp_reply *r)
{
    api_mcp_caller *c = ctx;
    if (!allowed(c, "inbound:list", r) || !inbound_on(r)) return;
    inbound_filter f = {.limit = limit + 1, .owner = c->who.all_owners ? NULL : c->who.owner};
    if (api_parse_cursor(cursor, &f.before_received_at, f.before_id)) { mcp_reply_fail(r, 400, "'cursor' is not one this server gave out"); return; }
    inbound_record *recs = calloc((size_t)f.limit, sizeof *recs);
    if (!recs) { mcp_reply_fail(r, 503, "out of memory"); return; }
    int n = store_inbound_list(g_api.st, &f, recs);
    if (n < 0) { free(recs); mcp_reply_fail(r, 503, "could not read inbound faxes"); return; }
    if (n > limit) {
        n = limit;
        str_fmt(r->next_cursor, sizeof r->next_cursor, "%lld.%s", (long long)recs[n - 1].received_at, recs[n - 1].id);
    }
    r->json = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(r->json, api_inbound_json(&recs[i], false));
    free(recs);
    r->status = 200;
}

static void op_inbound_pdf(void *ctx, const char *id, int64_t max_bytes, mcp_reply *r)
{
    api_mcp_caller *c = ctx;
    if (!allowed(c, "inbound:read", r) || !inbound_on(r)) return;
    inbound_record rec;
    if (!load_inbound(c, id, &rec)) {
        mcp_reply_fail(r, 404, "Inbound fax not found");
        return;
    }
    if (rec.artifacts_deleted_at) {
        char when[32];
        iso8601_from_ms(rec.artifacts_deleted_at, when);
        mcp_reply_fail(r, 410, "the fax's files were deleted by the retention policy at %s", when);
        return;
    }
    char path[4096];
    blob_fetch(g_api.blobs, "inbound", rec.id, "fax.pdf");
    if (blob_path(g_api.blobs, "inbound", rec.id, "fax.pdf", path, sizeof path) ||
        read_file_all(path, &r->data, &r->len, (size_t)max_bytes)) {
        mcp_reply_fail(r, 404, "the file of this fax is missing from storage (or larger than %lld MB)",
                       (long long)(max_bytes / (1024 * 1024)));
        return;
    }
    audit_event("inbound_pdf_served", "inbound_id", rec.id, "method", "mcp", "key_id", c->who.key_id, NULL);
    r->status = 200;
}

static void op_cancel_fax(void *ctx, const char *id, mcp_reply *r)
{
    api_mcp_caller *c = ctx;
    if (!allowed(c, "fax:send", r)) return;
    job_record rec;
    int status = api_cancel_job(&c->who, id, &rec, r->detail, sizeof r->detail);
    if (status) { r->status = status; return; }
    r->status = 200;
    r->json = api_job_json(&rec);
}

void api_mcp_ops_for(api_mcp_caller *caller, mcp_ops *ops)
{
    *ops = (mcp_ops){.ctx = caller, .send_fax = op_send_fax, .get_fax = op_get_fax, .get_inbound = op_get_inbound,
                     .list_faxes = op_list_faxes, .list_inbound = op_list_inbound, .inbound_pdf = op_inbound_pdf,
                     .cancel_fax = op_cancel_fax};
}

void api_mcp_local_ops(mcp_ops *ops)
{
    static api_mcp_caller local;
    memset(&local, 0, sizeof local);
    local.who.authenticated = true;
    str_copy(local.who.key_id, sizeof local.who.key_id, "local");
    str_copy(local.who.scopes, sizeof local.who.scopes, "*");
    str_copy(local.who.owner, sizeof local.who.owner, "local");
    local.who.all_owners = true;
    api_mcp_ops_for(&local, ops);
}
