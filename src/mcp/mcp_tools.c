/* mcp_tools.c — the tools and resources (see mcp_tools.h). A tool checks its
 * arguments, calls the gateway through mcp_ops, and answers with structured
 * content matching its output schema plus a one-line text summary; what the API
 * refuses (bad number, file, scope) comes back as isError with the API's message,
 * so the model can read it and correct itself. */
#include "mcp/mcp_tools.h"
#include "mcp/mcp_fetch.h"
#include "util/util.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define INBOUND_PDF_MAX ((int64_t)25 * 1024 * 1024)

/* ---- schemas ---- */

#define JOB_SCHEMA                                                                                     \
    "{\"type\":\"object\",\"required\":[\"id\",\"status\"],\"properties\":{"                           \
    "\"id\":{\"type\":\"string\"},\"to\":{\"type\":\"string\"},"                                       \
    "\"status\":{\"type\":\"string\",\"description\":\"queued, in_progress, SUCCESS, FAILED or cancelled\"}," \
    "\"error\":{\"type\":[\"string\",\"null\"]},\"pages\":{\"type\":[\"integer\",\"null\"]},"            \
    "\"backend\":{\"type\":\"string\"},\"created_at\":{\"type\":[\"string\",\"null\"]},"                 \
    "\"updated_at\":{\"type\":[\"string\",\"null\"]},\"attempts\":{\"type\":\"integer\"},"               \
    "\"inbound_id\":{\"type\":[\"string\",\"null\"]}}}"

#define INBOUND_SCHEMA                                                                                 \
    "{\"type\":\"object\",\"required\":[\"id\",\"status\"],\"properties\":{"                           \
    "\"id\":{\"type\":\"string\"},\"fr\":{\"type\":[\"string\",\"null\"]},\"to\":{\"type\":[\"string\",\"null\"]}," \
    "\"status\":{\"type\":\"string\"},\"pages\":{\"type\":[\"integer\",\"null\"]},"                      \
    "\"received_at\":{\"type\":[\"string\",\"null\"]},\"source_job_id\":{\"type\":[\"string\",\"null\"]}}}"

typedef struct tool_def {
    const char *name, *title, *description, *input, *output;
    bool read_only, destructive;
    json_t *(*run)(const json_t *args, const json_t *progress_token, const mcp_call_ctx *cx);
} tool_def;

/* ---- results ---- */

static json_t *text_item(const char *text)
{
    json_t *t = json_object();
    json_object_set_new(t, "type", json_string("text"));
    json_t *s = json_string(text);
    json_object_set_new(t, "text", s ? s : json_string("(text was not UTF-8)"));
    return t;
}

/* A tool result: one text item, the structured content when given, isError. */
static json_t *tool_result(json_t *structured, bool is_error, const char *text)
{
    json_t *r = json_object();
    json_t *content = json_array();
    json_array_append_new(content, text_item(text));
    json_object_set_new(r, "content", content);
    if (structured) json_object_set_new(r, "structuredContent", structured);
    json_object_set_new(r, "isError", json_boolean(is_error));
    return r;
}

__attribute__((format(printf, 2, 3)))
static json_t *tool_ok(json_t *structured, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return tool_result(structured, false, text);
}

__attribute__((format(printf, 1, 2)))
static json_t *tool_err(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return tool_result(NULL, true, text);
}

/* The API's refusal, as the model should read it. */
static json_t *reply_err(const mcp_reply *r)
{
    return tool_err("%s (HTTP %d)", r->detail[0] ? r->detail : "the gateway refused the request", r->status);
}

static bool ok_status(int s) { return s >= 200 && s < 300; }

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- argument helpers: NULL when absent; *bad set when present with the wrong type ---- */

static const char *arg_str(const json_t *args, const char *k, bool *bad)
{
    json_t *v = json_object_get(args, k);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) { *bad = true; return NULL; }
    return json_string_value(v);
}

static int arg_int(const json_t *args, const char *k, int dflt, int lo, int hi, bool *bad)
{
    json_t *v = json_object_get(args, k);
    if (!v || json_is_null(v)) return dflt;
    json_int_t x;
    if (json_is_integer(v)) x = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == (double)(json_int_t)json_real_value(v)) x = (json_int_t)json_real_value(v);
    else { *bad = true; return dflt; }
    if (x < lo || x > hi) { *bad = true; return dflt; }
    return (int)x;
}

/* ---- send_fax ---- */

static const char *ext_for_type(const char *t)
{
    if (!t) return "";
    if (!strcasecmp(t, "pdf") || !strcasecmp(t, "application/pdf")) return ".pdf";
    if (!strcasecmp(t, "txt") || !strcasecmp(t, "text") || !strncasecmp(t, "text/plain", 10)) return ".txt";
    if (!strcasecmp(t, "png") || !strcasecmp(t, "image/png")) return ".png";
    if (!strcasecmp(t, "jpg") || !strcasecmp(t, "jpeg") || !strcasecmp(t, "image/jpeg")) return ".jpg";
    if (!strcasecmp(t, "tif") || !strcasecmp(t, "tiff") || !strcasecmp(t, "image/tiff")) return ".tiff";
    return NULL;
}

/* A content type a fetched document may have (the gateway still sniffs the bytes). */
static bool fetch_type_ok(const char *ct)
{
    if (!*ct) return true;
    char base[64];
    size_t n = strcspn(ct, "; ");
    if (n >= sizeof base) return false;
    memcpy(base, ct, n);
    base[n] = 0;
    return ext_for_type(base) || !strcasecmp(base, "application/octet-stream") || !strcasecmp(base, "image/jpg");
}

static int temp_file(const mcp_call_ctx *cx, char *path, size_t len)
{
    const char *dir = cx->limits && cx->limits->tmp_dir && *cx->limits->tmp_dir ? cx->limits->tmp_dir : "/tmp";
    str_fmt(path, len, "%s/mcp-doc-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd >= 0) fchmod(fd, 0600);
    return fd;
}

static int progress_step(const char *status)
{
    if (!strcmp(status, "queued")) return 1;
    if (!strcmp(status, "in_progress")) return 2;
    return 3;
}

static bool terminal(const char *status)
{
    return !strcmp(status, "SUCCESS") || !strcmp(status, "FAILED") || !strcmp(status, "cancelled");
}

static int emit_progress(const mcp_call_ctx *cx, const json_t *token, int step, const char *message)
{
    json_t *p = json_object();
    json_object_set_new(p, "progressToken", json_deep_copy(token));
    json_object_set_new(p, "progress", json_integer(step));
    json_object_set_new(p, "total", json_integer(3));
    json_object_set_new(p, "message", json_string(message));
    return cx->emit(cx->emit_ctx, mcp_notification("notifications/progress", p));
}

static bool stopping(const mcp_call_ctx *cx)
{
    return cx->limits && cx->limits->stopping && atomic_load(cx->limits->stopping);
}

/* With a progress token: follows the job until it ends (or the wait is over),
 * telling the client each change. Returns the last state seen (owned). */
static json_t *follow_job(json_t *job, const json_t *token, const mcp_call_ctx *cx)
{
    char id[64], last[32], msg[160];
    str_copy(id, sizeof id, jstr(job, "id"));
    str_copy(last, sizeof last, jstr(job, "status"));
    str_fmt(msg, sizeof msg, "fax %s is %s", id, last);
    bool gone = emit_progress(cx, token, progress_step(last), msg) != 0;
    int wait_s = cx->limits && cx->limits->send_wait_s > 0 ? cx->limits->send_wait_s : 120;
    int64_t until = mono_ms() + (int64_t)wait_s * 1000;
    while (!gone && !terminal(last) && mono_ms() < until && !stopping(cx)) {
        sleep_ms(250);
        mcp_reply r = {0};
        cx->ops->get_fax(cx->ops->ctx, id, &r);
        if (ok_status(r.status) && r.json) {
            const char *st = jstr(r.json, "status");
            if (strcmp(st, last)) {
                str_copy(last, sizeof last, st);
                json_t *pages = json_object_get(r.json, "pages");
                if (json_is_integer(pages))
                    str_fmt(msg, sizeof msg, "fax %s is %s (%lld pages)", id, last, (long long)json_integer_value(pages));
                else
                    str_fmt(msg, sizeof msg, "fax %s is %s", id, last);
                gone = emit_progress(cx, token, progress_step(last), msg) != 0;
            }
            json_decref(job);
            job = json_incref(r.json);
        }
        mcp_reply_free(&r);
    }
    return job;
}

static json_t *run_send_fax(const json_t *args, const json_t *token, const mcp_call_ctx *cx)
{
    bool bad = false;
    const char *to = arg_str(args, "to", &bad);
    const char *file_path = arg_str(args, "filePath", &bad);
    const char *file_url = arg_str(args, "fileUrl", &bad);
    const char *content = arg_str(args, "fileContent", &bad);
    const char *file_name = arg_str(args, "fileName", &bad);
    const char *file_type = arg_str(args, "fileType", &bad);
    if (bad) return tool_err("send_fax: every argument is a string");
    if (!to || !*to) return tool_err("send_fax: 'to' (the fax number, like +15551234567) is required");
    if (file_type && !ext_for_type(file_type))
        return tool_err("send_fax: fileType must be pdf, txt, png, jpeg or tiff");
    int64_t max = cx->limits ? cx->limits->max_file_bytes : 10 * 1024 * 1024;
    char tmp[4096] = "", name[256];
    const char *path = NULL;
    str_copy(name, sizeof name, file_name ? file_name : "");
    if (file_path) {
        if (!cx->limits || !cx->limits->allow_file_path)
            return tool_err("send_fax: filePath works only with the local (stdio) server; send fileContent (base64) or fileUrl");
        if (access(file_path, R_OK)) return tool_err("send_fax: cannot read filePath '%s'", file_path);
        path = file_path;
        if (!name[0]) {
            const char *slash = strrchr(file_path, '/');
            str_copy(name, sizeof name, slash ? slash + 1 : file_path);
        }
    } else if (file_url) {
        int fd = temp_file(cx, tmp, sizeof tmp);
        if (fd < 0) return tool_err("send_fax: could not make a temporary file");
        close(fd);
        char ctype[128], err[512];
        if (mcp_fetch_url(file_url, max, cx->limits && cx->limits->allow_private_urls, tmp, ctype, sizeof ctype, err, sizeof err))
            return tool_err("send_fax: %s", err);
        if (!fetch_type_ok(ctype)) {
            unlink(tmp);
            return tool_err("send_fax: fileUrl answered Content-Type '%s'; send a PDF, text, PNG, JPEG or TIFF", ctype);
        }
        path = tmp;
        if (!name[0]) {
            const char *slash = strrchr(file_url, '/');
            str_copy(name, sizeof name, slash && slash[1] ? slash + 1 : "document");
            name[strcspn(name, "?#")] = 0;
        }
    } else if (content) {
        unsigned char *bytes;
        size_t n;
        size_t clen = strlen(content);
        if ((int64_t)(clen / 4 * 3) > max + 3)
            return tool_err("File exceeds %lld MB limit", (long long)(max / (1024 * 1024)));
        if (mcp_base64_decode(content, clen, (size_t)max, &bytes, &n))
            return tool_err("send_fax: fileContent is not valid base64 (or exceeds %lld MB limit)", (long long)(max / (1024 * 1024)));
        int fd = temp_file(cx, tmp, sizeof tmp);
        if (fd < 0) { free(bytes); return tool_err("send_fax: could not make a temporary file"); }
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(fd, bytes + off, n - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        close(fd);
        free(bytes);
        if (off != n) { unlink(tmp); return tool_err("send_fax: could not store the document"); }
        path = tmp;
        if (!name[0]) str_fmt(name, sizeof name, "document%s", file_type ? ext_for_type(file_type) : "");
    } else {
        return tool_err("send_fax: give the document as fileContent (base64, with fileName or fileType), fileUrl (https) or filePath (local only)");
    }
    mcp_reply r = {0};
    cx->ops->send_fax(cx->ops->ctx, to, path, name, &r);
    if (tmp[0]) unlink(tmp);
    if (!ok_status(r.status) || !json_is_object(r.json)) {
        json_t *e = reply_err(&r);
        mcp_reply_free(&r);
        return e;
    }
    json_t *job = json_incref(r.json);
    mcp_reply_free(&r);
    json_object_del(job, "pdf_url");     /* a bearer link: not something to hand to a model */
    if (token && cx->emit) job = follow_job(job, token, cx);
    json_t *res = tool_ok(json_incref(job), "Fax queued. Job ID: %s (status %s)", jstr(job, "id"), jstr(job, "status"));
    json_decref(job);
    return res;
}

/* ---- reads ---- */

static json_t *job_summary(json_t *job, const char *what)
{
    json_t *pages = json_object_get(job, "pages");
    const char *err = jstr(job, "error");
    char pg[32] = "";
    if (json_is_integer(pages)) str_fmt(pg, sizeof pg, ", %lld pages", (long long)json_integer_value(pages));
    return tool_ok(job, "%s %s to %s: %s%s%s%s", what, jstr(job, "id"), jstr(job, "to"), jstr(job, "status"), pg,
                   *err ? " — " : "", err);
}

/* args[key] when it is a non-empty string; NULL otherwise. */
static const char *required_str(const json_t *args, const char *key)
{
    bool bad = false;
    const char *s = arg_str(args, key, &bad);
    return bad || !s || !*s ? NULL : s;
}

/* The answer to a call about one job: its summary, or the call's error. Frees r. */
static json_t *job_result(mcp_reply *r, const char *what)
{
    json_t *out = ok_status(r->status) && r->json ? job_summary(json_incref(r->json), what) : reply_err(r);
    mcp_reply_free(r);
    return out;
}

static json_t *run_get_fax_status(const json_t *args, const json_t *token, const mcp_call_ctx *cx)
{
    const char *id = required_str(args, "jobId");
    if (!id) return tool_err("get_fax_status: 'jobId' (the id send_fax returned) is required");
    mcp_reply r = {0};
    cx->ops->get_fax(cx->ops->ctx, id, &r);
    return job_result(&r, "Fax");
}

static json_t *run_get_fax(const json_t *args, const json_t *token, const mcp_call_ctx *cx)
{
    const char *id = required_str(args, "id");
    if (!id) return tool_err("get_fax: 'id' (an outbound job id or an inbound fax id) is required");
    mcp_reply r = {0};
    cx->ops->get_fax(cx->ops->ctx, id, &r);
    if (ok_status(r.status) && r.json) {
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string("outbound"));
        json_object_set(o, "fax", r.json);
        json_t *res = tool_ok(o, "Outbound fax %s to %s: %s", jstr(r.json, "id"), jstr(r.json, "to"), jstr(r.json, "status"));
        mcp_reply_free(&r);
        return res;
    }
    mcp_reply first = r;
    mcp_reply r2 = {0};
    cx->ops->get_inbound(cx->ops->ctx, id, &r2);
    json_t *res;
    if (ok_status(r2.status) && r2.json) {
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string("inbound"));
        json_object_set(o, "fax", r2.json);
        json_object_del(json_object_get(o, "fax"), "pdf_url");
        json_object_del(json_object_get(o, "fax"), "pdf_url_expires_at");
        const char *fr = jstr(r2.json, "fr");
        res = tool_ok(o, "Inbound fax %s from %s: %s", jstr(r2.json, "id"), *fr ? fr : "unknown", jstr(r2.json, "status"));
    } else if (first.status == 404 && (r2.status == 404 || r2.status == 0)) {
        res = tool_err("No outbound or inbound fax has the id '%s'", id);
    } else {
        res = reply_err(first.status != 404 ? &first : &r2);
    }
    mcp_reply_free(&first);
    mcp_reply_free(&r2);
    return res;
}

static json_t *list_result(mcp_reply *r, const char *what)
{
    json_t *items = json_is_array(r->json) ? r->json : json_object_get(r->json, "items");
    json_t *o = json_object();
    json_object_set(o, "items", items ? items : json_array());
    json_object_set_new(o, "next_cursor", r->next_cursor[0] ? json_string(r->next_cursor) : json_null());
    size_t n = json_array_size(items);
    return tool_ok(o, "%zu %s fax%s%s", n, what, n == 1 ? "" : "es",
                   r->next_cursor[0] ? "; more with the cursor in next_cursor" : "");
}

/* The answer to a list call: the page, or the call's error. Frees r. */
static json_t *page_result(mcp_reply *r, const char *what)
{
    json_t *out = ok_status(r->status) && r->json ? list_result(r, what) : reply_err(r);
    mcp_reply_free(r);
    return out;
}

static json_t *run_list_inbound(const json_t *args, const json_t *token, const mcp_call_ctx *cx)
{
    bool bad = false;
    int limit = arg_int(args, "limit", 20, 1, 500, &bad);
    const char *cursor = arg_str(args, "cursor", &bad);
    if (bad) return tool_err("list_inbound: 'limit' is a number from 1 to 500 and 'cursor' the next_cursor of an earlier page");
    mcp_reply r = {0};
    cx->ops->list_inbound(cx->ops->ctx, limit, cursor, &r);
    return page_result(&r, "inbound");
}

static json_t *run_list_faxes(const json_t *args, const json_t *token, const mcp_call_ctx *cx)
{
    bool bad = false;
    int limit = arg_int(args, "limit", 20, 1, 500, &bad);
    const char *cursor = arg_str(args, "cursor", &bad);
    const char *status = arg_str(args, "status", &bad);
    if (bad) return tool_err("list_faxes: 'limit' is a number from 1 to 500, 'cursor' and 'status' are strings");
    mcp_reply r = {0};
    cx->ops->list_faxes(cx->ops->ctx, limit, cursor, status, &r);
    return page_result(&r, "outbound");
}

static json_t *run_cancel_fax(const json_t *args, const json_t *token, const mcp_call_ctx *cx)
{
    const char *id = required_str(args, "jobId");
    if (!id) return tool_err("cancel_fax: 'jobId' is required");
    mcp_reply r = {0};
    cx->ops->cancel_fax(cx->ops->ctx, id, &r);
    return job_result(&r, "Cancelled fax");
}

static json_t *embedded_pdf(const char *uri, const char *data, size_t len)
{
    char *b64 = malloc(len / 3 * 4 + 8);
    if (!b64) return NULL;
    base64_encode((const unsigned char *)data, len, b64);
    json_t *res = json_object();
    json_object_set_new(res, "uri", json_string(uri));
    json_object_set_new(res, "mimeType", json_string("application/pdf"));
    json_object_set_new(res, "blob", json_string(b64));
    free(b64);
    return res;
}

static json_t *run_get_inbound_pdf(const json_t *args, const json_t *token, const mcp_call_ctx *cx)
{
    const char *id = required_str(args, "inboundId");
    if (!id) return tool_err("get_inbound_pdf: 'inboundId' is required");
    mcp_reply r = {0};
    cx->ops->inbound_pdf(cx->ops->ctx, id, INBOUND_PDF_MAX, &r);
    if (!ok_status(r.status) || !r.data) {
        json_t *e = reply_err(&r);
        mcp_reply_free(&r);
        return e;
    }
    char uri[256];
    str_fmt(uri, sizeof uri, "faxbot://inbound/%s/pdf", id);
    json_t *resource = embedded_pdf(uri, r.data, r.len);
    json_t *structured = json_object();
    json_object_set_new(structured, "inboundId", json_string(id));
    json_object_set_new(structured, "uri", json_string(uri));
    json_object_set_new(structured, "mimeType", json_string("application/pdf"));
    json_object_set_new(structured, "size_bytes", json_integer((json_int_t)r.len));
    json_t *out = tool_ok(structured, "Inbound fax %s as PDF (%zu bytes), embedded as %s", id, r.len, uri);
    mcp_reply_free(&r);
    if (!resource) { json_decref(out); return tool_err("get_inbound_pdf: out of memory"); }
    json_t *item = json_object();
    json_object_set_new(item, "type", json_string("resource"));
    json_object_set_new(item, "resource", resource);
    json_array_append_new(json_object_get(out, "content"), item);
    return out;
}

static const tool_def tools[] = {
    {"send_fax", "Send a fax",
     "Send a document as a fax. Give the number in 'to' (E.164 like +15551234567) and the document as fileContent "
     "(base64, with fileName or fileType), fileUrl (a public https URL) or filePath (local server only). PDF, text, "
     "PNG, JPEG and TIFF are accepted. Returns the job; ask for progress to wait for the outcome.",
     "{\"type\":\"object\",\"required\":[\"to\"],\"properties\":{"
     "\"to\":{\"type\":\"string\",\"description\":\"fax number, E.164 (+15551234567) or digits\"},"
     "\"fileContent\":{\"type\":\"string\",\"description\":\"the document, base64\"},"
     "\"fileName\":{\"type\":\"string\",\"description\":\"name of the document (e.g. letter.pdf)\"},"
     "\"fileType\":{\"type\":\"string\",\"enum\":[\"pdf\",\"txt\",\"png\",\"jpeg\",\"tiff\"]},"
     "\"fileUrl\":{\"type\":\"string\",\"description\":\"a public https:// URL of the document\"},"
     "\"filePath\":{\"type\":\"string\",\"description\":\"a file on the server's machine (stdio server only)\"}}}",
     JOB_SCHEMA, false, false, run_send_fax},
    {"get_fax_status", "Status of a sent fax", "The status of an outbound fax job by its id.",
     "{\"type\":\"object\",\"required\":[\"jobId\"],\"properties\":{\"jobId\":{\"type\":\"string\"}}}",
     JOB_SCHEMA, true, false, run_get_fax_status},
    {"get_fax", "Look up a fax", "An outbound job or an inbound fax by its id (either kind; looked up, not guessed).",
     "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"}}}",
     "{\"type\":\"object\",\"required\":[\"kind\",\"fax\"],\"properties\":{"
     "\"kind\":{\"type\":\"string\",\"enum\":[\"outbound\",\"inbound\"]},\"fax\":{\"type\":\"object\"}}}",
     true, false, run_get_fax},
    {"list_inbound", "List received faxes", "Received faxes, newest first. Pass next_cursor as 'cursor' for the next page.",
     "{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500,\"default\":20},"
     "\"cursor\":{\"type\":\"string\"}}}",
     "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{\"items\":{\"type\":\"array\",\"items\":"
     INBOUND_SCHEMA "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
     true, false, run_list_inbound},
    {"get_inbound_pdf", "Read a received fax", "A received fax as a PDF, embedded as the resource faxbot://inbound/{id}/pdf.",
     "{\"type\":\"object\",\"required\":[\"inboundId\"],\"properties\":{\"inboundId\":{\"type\":\"string\"}}}",
     "{\"type\":\"object\",\"required\":[\"inboundId\",\"uri\",\"mimeType\",\"size_bytes\"],\"properties\":{"
     "\"inboundId\":{\"type\":\"string\"},\"uri\":{\"type\":\"string\"},\"mimeType\":{\"type\":\"string\"},"
     "\"size_bytes\":{\"type\":\"integer\"}}}",
     true, false, run_get_inbound_pdf},
    {"list_faxes", "List sent faxes", "Outbound fax jobs, newest first, optionally by status.",
     "{\"type\":\"object\",\"properties\":{\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500,\"default\":20},"
     "\"cursor\":{\"type\":\"string\"},\"status\":{\"type\":\"string\",\"enum\":[\"queued\",\"in_progress\",\"SUCCESS\",\"FAILED\",\"cancelled\"]}}}",
     "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{\"items\":{\"type\":\"array\",\"items\":"
     JOB_SCHEMA "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}",
     true, false, run_list_faxes},
    {"cancel_fax", "Cancel a fax", "Cancels an outbound fax that has not been sent yet.",
     "{\"type\":\"object\",\"required\":[\"jobId\"],\"properties\":{\"jobId\":{\"type\":\"string\"}}}",
     JOB_SCHEMA, false, true, run_cancel_fax},
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

json_t *mcp_tools_list(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < N_TOOLS; i++) {
        const tool_def *t = &tools[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(t->name));
        json_object_set_new(o, "title", json_string(t->title));
        json_object_set_new(o, "description", json_string(t->description));
        json_object_set_new(o, "inputSchema", json_loads(t->input, 0, NULL));
        json_object_set_new(o, "outputSchema", json_loads(t->output, 0, NULL));
        json_t *ann = json_object();
        json_object_set_new(ann, "title", json_string(t->title));
        json_object_set_new(ann, "readOnlyHint", json_boolean(t->read_only));
        json_object_set_new(ann, "destructiveHint", json_boolean(t->destructive));
        json_object_set_new(ann, "idempotentHint", json_boolean(t->read_only));
        json_object_set_new(ann, "openWorldHint", json_boolean(!t->read_only));
        json_object_set_new(o, "annotations", ann);
        json_array_append_new(a, o);
    }
    return a;
}

json_t *mcp_tool_call(const char *name, const json_t *args, const json_t *progress_token, const mcp_call_ctx *cx,
                      int *code, char *msg, size_t msglen)
{
    for (size_t i = 0; i < N_TOOLS; i++) {
        if (strcmp(tools[i].name, name)) continue;
        if (args && !json_is_object(args)) {
            *code = MCP_ERR_INVALID_PARAMS;
            str_fmt(msg, msglen, "'arguments' of %s must be an object", name);
            return NULL;
        }
        json_t *empty = args ? NULL : json_object();
        json_t *out = tools[i].run(args ? args : empty, progress_token, cx);
        json_decref(empty);
        return out;
    }
    *code = MCP_ERR_INVALID_PARAMS;
    str_fmt(msg, msglen, "Unknown tool: %.100s", name);
    return NULL;
}

/* ---- resources ---- */

json_t *mcp_resource_templates(void)
{
    json_t *a = json_array();
    json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "uriTemplate", "faxbot://inbound/{id}/pdf", "name", "inbound-pdf",
                                       "description", "A received fax as PDF", "mimeType", "application/pdf"));
    json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "uriTemplate", "faxbot://fax/{id}", "name", "fax",
                                       "description", "An outbound fax job (JSON)", "mimeType", "application/json"));
    return a;
}

json_t *mcp_resources_list(const mcp_call_ctx *cx)
{
    json_t *a = json_array();
    mcp_reply r = {0};
    cx->ops->list_inbound(cx->ops->ctx, 50, NULL, &r);
    json_t *items = json_is_array(r.json) ? r.json : json_object_get(r.json, "items");
    if (ok_status(r.status)) {
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            char uri[128], name[160];
            str_fmt(uri, sizeof uri, "faxbot://inbound/%s/pdf", jstr(it, "id"));
            str_fmt(name, sizeof name, "Inbound fax from %s at %s", *jstr(it, "fr") ? jstr(it, "fr") : "unknown",
                    jstr(it, "received_at"));
            json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "uri", uri, "name", name, "mimeType", "application/pdf"));
        }
    }
    mcp_reply_free(&r);
    return a;
}

static int reply_code(int status)
{
    return status == 404 || status == 410 ? MCP_ERR_RESOURCE_NOT_FOUND : MCP_ERR_INVALID_PARAMS;
}

json_t *mcp_resource_read(const char *uri, const mcp_call_ctx *cx, int *code, char *msg, size_t msglen)
{
    char id[64];
    const char *p;
    mcp_reply r = {0};
    json_t *contents = json_array();
    if (!strncmp(uri, "faxbot://inbound/", 17) && (p = strchr(uri + 17, '/')) && !strcmp(p, "/pdf") &&
        (size_t)(p - (uri + 17)) < sizeof id) {
        memcpy(id, uri + 17, (size_t)(p - (uri + 17)));
        id[p - (uri + 17)] = 0;
        cx->ops->inbound_pdf(cx->ops->ctx, id, INBOUND_PDF_MAX, &r);
        if (ok_status(r.status) && r.data) {
            json_t *c = embedded_pdf(uri, r.data, r.len);
            if (c) json_array_append_new(contents, c);
        }
    } else if (!strncmp(uri, "faxbot://fax/", 13) && !strchr(uri + 13, '/') && strlen(uri + 13) < sizeof id) {
        str_copy(id, sizeof id, uri + 13);
        cx->ops->get_fax(cx->ops->ctx, id, &r);
        if (ok_status(r.status) && r.json) {
            char *text = json_dumps(r.json, JSON_COMPACT);
            json_array_append_new(contents, json_pack("{s:s,s:s,s:s}", "uri", uri, "mimeType", "application/json",
                                                      "text", text ? text : "{}"));
            free(text);
        }
    } else {
        json_decref(contents);
        *code = MCP_ERR_RESOURCE_NOT_FOUND;
        str_fmt(msg, msglen, "Resource not found: %.200s (known: faxbot://inbound/{id}/pdf, faxbot://fax/{id})", uri);
        return NULL;
    }
    if (!json_array_size(contents)) {
        *code = reply_code(r.status);
        str_fmt(msg, msglen, "%s", r.detail[0] ? r.detail : "Resource not available");
        mcp_reply_free(&r);
        json_decref(contents);
        return NULL;
    }
    mcp_reply_free(&r);
    json_t *res = json_object();
    json_object_set_new(res, "contents", contents);
    return res;
}
