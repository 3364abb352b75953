/* api_fax.c — the outbound fax routes: POST /fax (a streamed multipart upload,
 * sniffed and size-checked while it arrives, stored durably before the job row
 * exists), GET /fax, GET /fax/{id}, POST /fax/{id}/cancel, and the artifact
 * downloads /fax/{id}/pdf?token= (for providers) and /fax/{id}/tiff. */
#include "api/api_internal.h"
#include "api/phone.h"
#include "auth/audit.h"
#include "document/document.h"
#include "http/multipart.h"
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELD_MAX 2048
#define SNIFF_BYTES 4096
#define MAX_FILES 10             /* 'file' parts of one fax, sent in order as one document */

/* ---- POST /fax: the upload in flight ---- */
typedef struct upload {
    principal who;
    char id[33];
    char dir_path[4096];
    char file_path[4096];        /* the current file: original, original.2, … */
    int fd;
    bool committed;              /* the job row exists: keep the files */
    bool stored;                 /* the upload went to S3 (blob_commit): a refusal removes the object too */
    multipart_parser *mp;
    /* current part */
    enum { PART_SKIP, PART_FILE, PART_FIELD } part;
    strbuf *field;               /* the field being read */
    int64_t file_bytes;          /* all files together */
    int64_t cur_bytes;           /* the current file */
    bool file_seen;
    int n_files;
    char file_name[256];         /* the first file's, "(+N more)" added for several */
    char bad_file[128];          /* the first empty or unsupported file, for the error */
    int bad_status;
    doc_type first_type;
    unsigned char head[SNIFF_BYTES];
    size_t head_len;
    utf8_validator utf8;
    /* fields */
    strbuf to, header_text, caller_id, resolution, callback_url;
    bool has_to;
    unsigned fields_seen;        /* bit i: the i-th form field has been sent */
    /* an error found while streaming: answered at the end (or at once for 413) */
    int err_status;
    char err_msg[512];
} upload;

static void upload_free(void *p)
{
    upload *u = p;
    if (!u) return;
    if (u->fd >= 0) close(u->fd);
    /* no job came of it (refused, failed, or an Idempotency-Key replay answered with the
     * first job): its files go, and with S3 its object (else an orphan no row names) */
    if (!u->committed && u->stored) blob_remove_all(g_api.blobs, "outbound", u->id);
    if (!u->committed && u->dir_path[0]) remove_tree(u->dir_path);
    multipart_free(u->mp);
    sb_free(&u->to);
    sb_free(&u->header_text);
    sb_free(&u->caller_id);
    sb_free(&u->resolution);
    sb_free(&u->callback_url);
    free(u);
}

/* A write refused for lack of space is the client's 507, not our 500: a full disk
 * (ENOSPC), a used-up quota (EDQUOT) or a file size limit (EFBIG, RLIMIT_FSIZE). */
static const char *storage_full_msg(int err)
{
    if (err == ENOSPC || err == EDQUOT) return "the gateway's disk is full; the fax was not accepted";
    if (err == EFBIG) return "the gateway's storage refused a file this large (file size limit); the fax was not accepted";
    return NULL;
}

static void upload_fail(upload *u, int status, const char *msg)
{
    if (u->err_status) return;   /* the first problem is the one to report */
    u->err_status = status;
    str_copy(u->err_msg, sizeof u->err_msg, msg);
}

/* The next file of several goes to original.<n>: the previous one is made durable first. */
static int next_file(upload *u)
{
    int sync_rc = fsync(u->fd), close_rc = close(u->fd), err = errno;
    u->fd = -1;
    if (sync_rc || close_rc) {
        const char *full = storage_full_msg(err);
        upload_fail(u, full ? 507 : 500, full ? full : "could not store the upload");
        return -1;
    }
    char name[32];
    str_fmt(name, sizeof name, "original.%d", u->n_files + 1);
    if (blob_path(g_api.blobs, "outbound", u->id, name, u->file_path, sizeof u->file_path)) {
        upload_fail(u, 500, "could not prepare storage for the upload");
        return -1;
    }
    u->fd = open(u->file_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        const char *full = storage_full_msg(errno);
        upload_fail(u, full ? 507 : 500, full ? full : "could not store the upload");
        return -1;
    }
    return 0;
}

static int on_part_begin(void *ctx, const multipart_part_info *info)
{
    upload *u = ctx;
    u->part = PART_SKIP;
    u->field = NULL;
    const char *name = info->name ? info->name : "";
    if (!strcmp(name, "file")) {
        if (u->err_status) return 0;
        if (u->n_files == MAX_FILES) {
            upload_fail(u, 400, "send at most 10 'file' fields (they become one fax, in the order sent)");
            return 0;
        }
        if (u->n_files > 0 && next_file(u)) return 0;
        u->n_files++;
        u->file_seen = true;
        u->part = PART_FILE;
        u->cur_bytes = 0;
        u->head_len = 0;
        utf8_validator_init(&u->utf8);
        /* The client's name is kept for display only; the path is ours. Keep it printable. */
        const char *fn = info->filename ? info->filename : "";
        if (u->n_files == 1) utf8_clean(fn, strlen(fn), u->file_name, sizeof u->file_name);  /* JSON needs valid UTF-8 */
        char shown[96];
        utf8_clean(fn, strlen(fn), shown, sizeof shown);
        str_fmt(u->bad_file, sizeof u->bad_file, "file %d (%s)", u->n_files, shown[0] ? shown : "no name");
        return 0;
    }
    strbuf *fields[] = {&u->to, &u->header_text, &u->caller_id, &u->resolution, &u->callback_url};
    const char *names[] = {"to", "header_text", "caller_id", "resolution", "callback_url"};
    for (size_t i = 0; i < 5; i++) {
        if (!strcmp(name, names[i])) {
            /* a second value would silently replace (or be dropped for) the first */
            if (u->fields_seen & (1u << i)) {
                char msg[96];
                str_fmt(msg, sizeof msg, "send exactly one '%s' field", names[i]);
                upload_fail(u, 400, msg);
                return 0;
            }
            u->fields_seen |= 1u << i;
            u->part = PART_FIELD;
            u->field = fields[i];
            u->field->len = 0;
            sb_append(u->field, "", 0);
            if (i == 0) u->has_to = true;
        }
    }
    return 0;
}

static int on_part_data(void *ctx, const char *data, size_t len)
{
    upload *u = ctx;
    if (u->err_status) return 0;
    if (u->part == PART_FIELD) {
        if (u->field->len + len > FIELD_MAX) { upload_fail(u, 400, "a form field is longer than 2048 bytes"); return 0; }
        sb_append(u->field, data, len);
    } else if (u->part == PART_FILE) {
        u->file_bytes += (int64_t)len;
        u->cur_bytes += (int64_t)len;
        if (u->file_bytes > api_cfg()->max_file_size_bytes) {
            char msg[128];
            str_fmt(msg, sizeof msg, "File exceeds %lld MB limit",
                    (long long)(api_cfg()->max_file_size_bytes / (1024 * 1024)));
            upload_fail(u, 413, msg);
            return 1;    /* stop parsing: nothing more of this upload is wanted */
        }
        if (u->head_len < SNIFF_BYTES) {
            size_t take = SNIFF_BYTES - u->head_len < len ? SNIFF_BYTES - u->head_len : len;
            memcpy(u->head + u->head_len, data, take);
            u->head_len += take;
        }
        utf8_validator_feed(&u->utf8, (const unsigned char *)data, len);
        while (len) {
            ssize_t n = write(u->fd, data, len);
            if (n < 0) {
                if (errno == EINTR) continue;
                const char *full = storage_full_msg(errno);
                upload_fail(u, full ? 507 : 500, full ? full : "could not store the upload");
                return 1;
            }
            data += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

/* Each file is checked on its own: not empty, and a type we convert. */
static int on_part_end(void *ctx)
{
    upload *u = ctx;
    if (u->part == PART_FILE && !u->err_status && !u->bad_status) {
        doc_type type = doc_sniff(u->head, u->head_len);
        if (type == DOC_TEXT && !utf8_validator_ok(&u->utf8)) type = DOC_UNKNOWN;
        if (u->n_files == 1) u->first_type = type;
        if (u->cur_bytes == 0) u->bad_status = 400;
        else if (type == DOC_UNKNOWN) u->bad_status = 415;
        else u->bad_file[0] = 0;
    }
    u->part = PART_SKIP;
    return 0;
}

/* True when a form field that may reach a backend (AMI headers, dial strings, HTTP
 * requests) has no control bytes: no CR/LF that would start another line and no NUL
 * that would silently cut the value short. */
static bool field_is_one_line(const strbuf *f)
{
    for (size_t i = 0; i < f->len; i++)
        if ((unsigned char)f->data[i] < 0x20 || f->data[i] == 0x7f) return false;
    return true;
}

/* header_text: one line of valid UTF-8 without control characters (DEL included),
 * at most 50 characters (not bytes: "Müller" is 6). 0, or -1 after a 400. */
#define HEADER_TEXT_MAX_CHARS 50
static int header_text_check(const strbuf *f, http_response *res)
{
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)f->data;
    for (size_t i = 0; i < f->len; chars++) {
        int n = utf8_seq_len(p + i, f->len - i);
        if (n == 0) { http_res_error(res, 400, "'header_text' must be valid UTF-8 text"); return -1; }
        if (n == 1 && (p[i] < 0x20 || p[i] == 0x7F)) {
            http_res_error(res, 400, "'header_text' must be one line of text without control characters");
            return -1;
        }
        if (n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0) {      /* C1 controls U+0080..U+009F */
            http_res_error(res, 400, "'header_text' must be one line of text without control characters");
            return -1;
        }
        i += (size_t)n;
    }
    if (chars > HEADER_TEXT_MAX_CHARS) {
        http_res_error(res, 400, "'header_text' is at most %d characters (got %zu)", HEADER_TEXT_MAX_CHARS, chars);
        return -1;
    }
    return 0;
}

/* What an Idempotency-Key stands for: the number, the document's bytes and every
 * option, hashed. A key reused for anything else is refused, not answered with
 * the first job. */
static int request_hash(const upload *u, const char *to, const char *resolution, char out[65])
{
    char file_hash[65], path[4096], name[32];
    if (blob_path(g_api.blobs, "outbound", u->id, "original", path, sizeof path) || sha256_file_hex(path, file_hash))
        return -1;
    strbuf sb;
    sb_init(&sb);
    int rc = sb_appendf(&sb, "v1\n%s\n%s\n%s\n", to, file_hash, resolution);
    for (int i = 2; i <= u->n_files && !rc; i++) {      /* the other files, in order */
        str_fmt(name, sizeof name, "original.%d", i);
        if (blob_path(g_api.blobs, "outbound", u->id, name, path, sizeof path) || sha256_file_hex(path, file_hash))
            rc = -1;
        else
            rc = sb_appendf(&sb, "%s\n", file_hash);
    }
    const strbuf *opts[] = {&u->header_text, &u->caller_id, &u->callback_url};
    for (size_t i = 0; i < 3 && !rc; i++) {
        rc = sb_appendf(&sb, "%zu:", opts[i]->len);
        if (!rc && opts[i]->len) rc = sb_append(&sb, opts[i]->data, opts[i]->len);
    }
    if (!rc) sha256_hex(sb.data, sb.len, out);
    sb_free(&sb);
    return rc ? -1 : 0;
}

static const multipart_callbacks upload_callbacks = {on_part_begin, on_part_data, on_part_end};

static void fax_send_headers(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "fax:send", "/fax", api_cfg()->max_requests_per_minute, &who)) return;
    const char *ct = http_req_header(req, "Content-Type");
    char boundary[128];
    if (!ct || multipart_boundary(ct, boundary, sizeof boundary)) {
        http_res_error(res, 415, "send the fax as multipart/form-data with the fields 'to' and 'file'");
        return;
    }
    const char *cl = http_req_header(req, "Content-Length");
    if (cl && strtoll(cl, NULL, 10) > api_cfg()->max_file_size_bytes + 65536) {
        http_res_error(res, 413, "File exceeds %lld MB limit", (long long)(api_cfg()->max_file_size_bytes / (1024 * 1024)));
        return;
    }
    upload *u = calloc(1, sizeof *u);
    if (!u) { http_res_error(res, 503, "out of memory; try again"); return; }
    u->fd = -1;
    u->who = who;
    sb_init(&u->to); sb_init(&u->header_text); sb_init(&u->caller_id); sb_init(&u->resolution); sb_init(&u->callback_url);
    utf8_validator_init(&u->utf8);
    http_req_set_user(req, u, upload_free);
    new_id_hex32(u->id);
    if (blob_path(g_api.blobs, "outbound", u->id, "original", u->file_path, sizeof u->file_path)) {
        http_res_error(res, 500, "could not prepare storage for the upload");
        return;
    }
    str_copy(u->dir_path, sizeof u->dir_path, u->file_path);
    char *slash = strrchr(u->dir_path, '/');
    if (slash) *slash = 0;
    u->fd = open(u->file_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        const char *full = storage_full_msg(errno);
        if (full) http_res_error(res, 507, "%s", full);
        else http_res_error(res, 500, "could not store the upload");
        return;
    }
    u->mp = multipart_new(boundary, &upload_callbacks, u);
    if (!u->mp) http_res_error(res, 503, "out of memory; try again");
}

static void fax_send_body(http_request *req, const char *data, size_t len, http_response *res)
{
    upload *u = http_req_user(req);
    if (!u || !u->mp) return;
    if (multipart_feed(u->mp, data, len) && !u->err_status)
        upload_fail(u, 400, multipart_error(u->mp));
    if (u->err_status == 413 || u->err_status == 507) http_res_error(res, u->err_status, "%s", u->err_msg);
}

static json_t *job_json_with_url(const job_record *r, const char *token)
{
    json_t *o = api_job_json(r);
    if (token) {
        char url[1024];
        if (api_cfg()->public_api_url[0]) str_fmt(url, sizeof url, "%s/fax/%s/pdf?token=%s", api_cfg()->public_api_url, r->id, token);
        else str_fmt(url, sizeof url, "http://%s%s%s:%d/fax/%s/pdf?token=%s", strchr(api_cfg()->listen_host, ':') ? "[" : "",
                     api_cfg()->listen_host, strchr(api_cfg()->listen_host, ':') ? "]" : "", api_cfg()->listen_port, r->id, token);
        json_object_set_new(o, "pdf_url", json_string(url));
    }
    return o;
}

static void fax_send(http_request *req, http_response *res)
{
    upload *u = http_req_user(req);
    if (!u || !u->mp) { http_res_error(res, 500, "upload state lost"); return; }
    if (!u->err_status && multipart_finish(u->mp)) upload_fail(u, 400, multipart_error(u->mp));
    if (u->err_status) { http_res_error(res, u->err_status, "%s", u->err_msg); return; }
    if (!u->has_to || !u->to.len) { http_res_error(res, 422, "Field 'to' is required"); return; }
    if (!u->file_seen) { http_res_error(res, 422, "Field 'file' is required"); return; }

    char to[24], err[256];
    if (!field_is_one_line(&u->to)) { http_res_error(res, 400, "'to' must be E.164 or digits only (like +15551234567)"); return; }
    if (phone_normalize(u->to.data, api_cfg()->default_country_code, to, err, sizeof err)) {
        http_res_error(res, 400, "%s", err);
        return;
    }
    const char *resolution = u->resolution.len ? u->resolution.data : api_cfg()->default_resolution;
    if ((u->resolution.len && strlen(u->resolution.data) != u->resolution.len) ||
        (strcmp(resolution, "fine") && strcmp(resolution, "standard"))) {
        http_res_error(res, 400, "'resolution' must be fine or standard");
        return;
    }
    if (header_text_check(&u->header_text, res)) return;
    if (u->caller_id.len > 24) { http_res_error(res, 400, "'caller_id' is at most 24 characters"); return; }
    if (u->caller_id.len) {
        char tmp[24];
        if (!field_is_one_line(&u->caller_id)) { http_res_error(res, 400, "'caller_id' must be a phone number"); return; }
        if (phone_normalize(u->caller_id.data, api_cfg()->default_country_code, tmp, err, sizeof err)) {
            http_res_error(res, 400, "'caller_id' must be a phone number");
            return;
        }
    }
    if (u->callback_url.len && strncmp(u->callback_url.data, "https://", 8) && strncmp(u->callback_url.data, "http://", 7)) {
        http_res_error(res, 400, "'callback_url' must be an http:// or https:// URL");
        return;
    }
    if (u->callback_url.len >= sizeof ((job_record *)0)->callback_url) {
        http_res_error(res, 400, "'callback_url' is at most %zu characters", sizeof ((job_record *)0)->callback_url - 1);
        return;
    }
    if (u->callback_url.len &&
        (!field_is_one_line(&u->callback_url) || memchr(u->callback_url.data, ' ', u->callback_url.len))) {
        http_res_error(res, 400, "'callback_url' must be a URL without spaces or control characters");
        return;
    }
    if (u->callback_url.len && api_check_webhook_url(res, "callback_url", u->callback_url.data)) return;
    const char *which = u->n_files > 1 ? u->bad_file : "";
    if (u->bad_status == 400) { http_res_error(res, 400, "the file is empty%s%s", *which ? ": " : "", which); return; }
    if (u->bad_status == 415) {
        http_res_error(res, 415, "Unsupported file type%s%s: send a PDF, UTF-8 text, PNG, JPEG or TIFF", *which ? " in " : "",
                       which);
        return;
    }
    doc_type type = u->first_type;
    /* Durable before it is acknowledged: the bytes, then the directory entry. */
    int sync_rc = fsync(u->fd), sync_errno = errno;
    int close_rc = close(u->fd), close_errno = errno;     /* closed either way: no fd leak */
    u->fd = -1;
    if (sync_rc || close_rc) {
        const char *full = storage_full_msg(sync_rc ? sync_errno : close_errno);
        http_res_error(res, full ? 507 : 500, "%s", full ? full : "could not store the upload");
        return;
    }
    fsync_dir(u->dir_path);

    job_record *rec = calloc(1, sizeof *rec), *existing = calloc(1, sizeof *existing);
    if (!rec || !existing) { free(rec); free(existing); http_res_error(res, 503, "out of memory"); return; }
    str_copy(rec->id, sizeof rec->id, u->id);
    str_copy(rec->to_number, sizeof rec->to_number, to);
    str_copy(rec->doc_type, sizeof rec->doc_type, doc_type_name(type));
    rec->doc_size = u->file_bytes;
    str_copy(rec->file_name, sizeof rec->file_name, u->file_name);
    if (u->n_files > 1) {           /* shown as "a.pdf (+2 more)"; the files stay apart until converted */
        char more[24];
        str_fmt(more, sizeof more, " (+%d more)", u->n_files - 1);
        size_t room = sizeof rec->file_name - strlen(more) - 1;
        if (strlen(rec->file_name) > room) {
            while (room > 0 && ((unsigned char)rec->file_name[room] & 0xC0) == 0x80) room--;   /* whole characters */
            rec->file_name[room] = 0;
        }
        strncat(rec->file_name, more, sizeof rec->file_name - strlen(rec->file_name) - 1);
    }
    str_copy(rec->resolution, sizeof rec->resolution, resolution);
    if (u->header_text.len) str_copy(rec->header_text, sizeof rec->header_text, u->header_text.data);
    if (u->caller_id.len) str_copy(rec->caller_id, sizeof rec->caller_id, u->caller_id.data);
    if (u->callback_url.len) str_copy(rec->callback_url, sizeof rec->callback_url, u->callback_url.data);
    str_copy(rec->api_key_id, sizeof rec->api_key_id, u->who.key_id);
    str_copy(rec->owner, sizeof rec->owner, u->who.owner);
    const char *idem = http_req_header(req, "Idempotency-Key");
    if (idem && *idem) {
        if (strlen(idem) >= sizeof rec->idempotency_key) {
            http_res_error(res, 400, "Idempotency-Key is at most 255 characters");
            goto out;
        }
        str_copy(rec->idempotency_key, sizeof rec->idempotency_key, idem);
        if (request_hash(u, to, resolution, rec->request_hash)) {
            http_res_error(res, 500, "could not read back the upload");
            goto out;
        }
    }
    rec->pages = -1;
    rec->duration_s = -1;
    rec->bit_rate = -1;
    rec->ecm = -1;
    /* The fetch token for providers: shown once here, stored only as a hash. */
    unsigned char raw[24];
    char token[40];
    random_bytes(raw, sizeof raw);
    base64url_encode(raw, sizeof raw, token);
    sha256_hex(token, strlen(token), rec->pdf_token_hash);
    rec->pdf_token_expires_at = now_ms() + (int64_t)api_cfg()->pdf_token_ttl_minutes * 60000;

    char serr[256] = "", berr[512] = "";
    /* with S3 the upload is acknowledged only once the object is stored */
    if (blob_commit(g_api.blobs, "outbound", rec->id, "original", berr, sizeof berr)) {
        log_warn("upload %s: %s", rec->id, berr);
        http_res_error(res, 503, "could not store the document; try again");
        goto out;
    }
    u->stored = true;
    int rc = jobs_create(g_api.jobs, rec, existing, serr, sizeof serr);
    if (rc == STORE_CONFLICT) {
        if (existing->request_hash[0] && strcmp(existing->request_hash, rec->request_hash)) {
            http_res_error(res, 422, "this Idempotency-Key was already used for a different fax (another number, "
                           "document or option) in job %s; send a new fax with a new key", existing->id);
            goto out;
        }
        api_json(res, 202, api_job_json(existing));      /* the same job again; our copy of the file goes */
        goto out;
    }
    if (rc == STORE_FULL) { http_res_error(res, 507, "the gateway's disk is full; the fax was not accepted"); goto out; }
    if (rc != STORE_OK) { http_res_error(res, 503, "could not save the job: %s", serr); goto out; }
    u->committed = true;
    api_json(res, 202, job_json_with_url(rec, token));
out:
    free(rec);
    free(existing);
}

/* ---- reads ---- */
/* The job, if it exists and belongs to who's owner (or who sees every owner's);
 * another owner's job is "not found" as if it did not exist. who may be NULL for
 * the token download, whose token is the permission. */
static int load_job(http_response *res, const principal *who, const char *id, job_record *rec)
{
    if (!api_valid_id(id) || store_job_get(g_api.st, id, rec) != STORE_OK ||
        (who && !api_may_see(who, rec->owner, false))) {
        http_res_error(res, 404, "Job not found");
        return -1;
    }
    return 0;
}

static void fax_get(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "fax:read", "/fax/{id}", api_cfg()->max_requests_per_minute, &who)) return;
    job_record rec;
    if (load_job(res, &who, http_req_param(req, "id"), &rec)) return;
    json_t *o = api_job_json(&rec);
    json_object_set_new(o, "webhook_deliveries", api_deliveries_json(NULL, rec.id, 20));
    api_json(res, 200, o);
}

static void fax_list(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "fax:read", "/fax/{id}", api_cfg()->max_requests_per_minute, &who)) return;
    job_filter f = {.limit = 50, .owner = who.all_owners ? NULL : who.owner};
    if (api_query_limit(req, res, 50, &f.limit)) return;
    const char *status = http_req_query(req, "status");
    if (status) {
        if (!job_status_valid(status)) {
            http_res_error(res, 400, "'status' must be one of queued, in_progress, SUCCESS, FAILED, cancelled");
            return;
        }
        f.status = status;
    }
    char to[24];
    bool by_to;
    if (api_query_number(req, res, "to", to, &by_to)) return;
    if (by_to) f.to_number = to;
    const char *backend = http_req_query(req, "backend");
    if (backend && *backend) {
        if (strlen(backend) >= 32 || strspn(backend, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(backend)) {
            http_res_error(res, 400, "'backend' must be a backend name such as loopback, phaxio, sip or freeswitch");
            return;
        }
        f.backend = backend;
    }
    if (api_query_time(req, res, "since", &f.created_from) || api_query_time(req, res, "until", &f.created_to)) return;
    if (f.created_from && f.created_to && f.created_to <= f.created_from) {
        http_res_error(res, 400, "'until' must be later than 'since'");
        return;
    }
    if (api_query_cursor(req, res, &f.before_created_at, f.before_id)) return;
    api_stream_jobs(res, &f, f.limit);
}

static void fax_cancel(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "fax:send", "/fax", api_cfg()->max_requests_per_minute, &who)) return;
    job_record rec;
    char why[256];
    int status = api_cancel_job(&who, http_req_param(req, "id"), &rec, why, sizeof why);
    if (status) { http_res_error(res, status, "%s", why); return; }
    api_json(res, 200, api_job_json(&rec));
}

int api_cancel_job(const principal *who, const char *id, job_record *rec, char *why, size_t whylen)
{
    if (!api_valid_id(id) || store_job_get(g_api.st, id, rec) != STORE_OK || !api_may_see(who, rec->owner, false)) {
        str_fmt(why, whylen, "Job not found");
        return 404;
    }
    job_event ev = job_event_of(JEV_CANCEL);
    int rc = job_transition(g_api.jobs, rec->id, &ev, rec, why, whylen);
    if (rc == STORE_CONFLICT) {
        store_job_get(g_api.st, rec->id, rec);
        str_fmt(why, whylen, "Job is %s and can no longer be cancelled", rec->status);
        return 409;
    }
    if (rc != STORE_OK) return rc == STORE_NOT_FOUND ? 404 : 503;
    audit_event("job_cancelled", "job_id", rec->id, "key_id", who->key_id, NULL);
    return 0;
}

static void fax_pdf(http_request *req, http_response *res)
{
    job_record rec;
    if (load_job(res, NULL, http_req_param(req, "id"), &rec)) return;
    const char *token = http_req_query(req, "token");
    if (!token || !*token) { http_res_error(res, 422, "the 'token' query parameter is required"); return; }
    char hash[65];
    sha256_hex(token, strlen(token), hash);
    /* Either the client's link (from POST /fax) or the provider's (minted per submission). */
    int64_t expires;
    if (rec.pdf_token_hash[0] && secure_streq(hash, rec.pdf_token_hash)) {
        expires = rec.pdf_token_expires_at;
    } else if (rec.fetch_token_hash[0] && secure_streq(hash, rec.fetch_token_hash)) {
        expires = rec.fetch_token_expires_at;
    } else {
        audit_event("pdf_token_rejected", "job_id", rec.id, "ip", http_req_client_ip(req), NULL);
        http_res_error(res, 403, "Invalid token");
        return;
    }
    if (now_ms() >= expires) { http_res_error(res, 403, "Token expired"); return; }
    char path[4096], name[64];
    blob_fetch(g_api.blobs, "outbound", rec.id, "document.pdf");
    blob_path(g_api.blobs, "outbound", rec.id, "document.pdf", path, sizeof path);
    if (file_size(path) < 0 && !strcmp(rec.doc_type, "pdf")) {
        blob_fetch(g_api.blobs, "outbound", rec.id, "original");
        blob_path(g_api.blobs, "outbound", rec.id, "original", path, sizeof path);
    }
    str_fmt(name, sizeof name, "fax_%s.pdf", rec.id);
    audit_event("pdf_served", "job_id", rec.id, "method", "token", "key_id", "-", "ip", http_req_client_ip(req), NULL);
    api_send_file(res, path, "application/pdf", name, "the PDF is not available (not converted yet, or deleted)");
}

static void fax_tiff(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "fax:read", "/fax/{id}", api_cfg()->max_requests_per_minute, &who)) return;
    job_record rec;
    if (load_job(res, &who, http_req_param(req, "id"), &rec)) return;
    char path[4096], name[64];
    blob_fetch(g_api.blobs, "outbound", rec.id, "fax.tiff");
    blob_path(g_api.blobs, "outbound", rec.id, "fax.tiff", path, sizeof path);
    str_fmt(name, sizeof name, "fax_%s.tiff", rec.id);
    api_send_file(res, path, "image/tiff", name, "the TIFF is not available (not converted yet, or deleted)");
}

/* GET /fax/{id}/thumbnail?page=N: what the recipient sees of page N (the fax image, once converted). */
static void fax_thumbnail(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "fax:read", "/fax/{id}", api_cfg()->max_requests_per_minute, &who)) return;
    job_record rec;
    if (load_job(res, &who, http_req_param(req, "id"), &rec)) return;
    char path[4096];
    blob_path(g_api.blobs, "outbound", rec.id, "fax.tiff", path, sizeof path);
    api_send_page_thumbnail(req, res, path, rec.artifacts_deleted_at ? "the fax image was deleted by the retention policy"
                                                                     : "the fax image is not there (not converted yet)");
}

static const http_route fax_routes[] = {
    {.method = "POST", .pattern = "/fax", .body_mode = HTTP_BODY_STREAM, .on_headers = fax_send_headers,
     .on_body = fax_send_body, .handle = fax_send},
    {.method = "GET", .pattern = "/fax", .handle = fax_list},
    {.method = "GET", .pattern = "/fax/{id}", .handle = fax_get},
    {.method = "POST", .pattern = "/fax/{id}/cancel", .handle = fax_cancel},
    {.method = "GET", .pattern = "/fax/{id}/pdf", .handle = fax_pdf},
    {.method = "GET", .pattern = "/fax/{id}/tiff", .handle = fax_tiff},
    {.method = "GET", .pattern = "/fax/{id}/thumbnail", .handle = fax_thumbnail},
};

void api_fax_routes(const http_route **routes, int *n)
{
    *routes = fax_routes;
    *n = (int)(sizeof fax_routes / sizeof fax_routes[0]);
}
