/* sinch_parse.c — pure parsers and mappings for the Sinch Fax API v3 (see
 * sinch_parse.h). Sources: Sinch's "Fax API 3.0" OpenAPI (webhooks incomingFax /
 * faxCompleted, schemas Fax, FaxStatus, ErrorType, CallError, FaxError,
 * DocumentConversionError, Error); docs/internals/protocols.md §2. Fuzzed by fuzz/fuzz_sinch.c. */
#include "backend/sinch_parse.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/multipart.h"
#include "util/json_get.h"
#include "util/util.h"

/* ---- the Fax object ---- */

static void fax_from_json(json_t *o, sinch_fax *f)
{
    memset(f, 0, sizeof *f);
    f->pages = -1;
    f->error_code = -1;
    json_get_str(o, "id", f->id, sizeof f->id);
    json_get_str(o, "status", f->status, sizeof f->status);
    json_get_str(o, "direction", f->direction, sizeof f->direction);
    json_get_str(o, "from", f->from, sizeof f->from);
    json_get_str(o, "to", f->to, sizeof f->to);
    f->pages = json_get_small_int(o, "numberOfPages", -1);
    f->error_code = json_get_small_int(o, "errorCode", -1);
    json_get_str(o, "errorType", f->error_type, sizeof f->error_type);
    json_get_str(o, "errorMessage", f->error_message, sizeof f->error_message);
    json_t *labels = json_object_get(o, "labels");
    if (json_is_object(labels)) {
        json_get_str(labels, SINCH_LABEL_JOB, f->label_job_id, sizeof f->label_job_id);
        int a = json_get_small_int(labels, SINCH_LABEL_ATTEMPT, 0);
        f->label_attempt = a > 0 ? a : 0;
    }
}

int sinch_parse_fax(const char *json, size_t len, sinch_fax *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->pages = out->error_code = -1;
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &je);
    if (!root) {
        str_fmt(err, errlen, "not JSON: %s", je.text);
        return -1;
    }
    json_t *o = json_is_array(root) ? json_array_get(root, 0) : root;
    int rc = -1;
    if (!json_is_object(o)) {
        str_fmt(err, errlen, "expected a Fax object");
    } else {
        fax_from_json(o, out);
        if (!out->id[0]) str_fmt(err, errlen, "the Fax object has no id");
        else rc = 0;
    }
    json_decref(root);
    return rc;
}

int sinch_parse_fax_list(const char *json, size_t len, sinch_fax *out, int max, int *total_pages, char *err,
                         size_t errlen)
{
    *total_pages = 0;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root) {
        str_fmt(err, errlen, "not JSON: %s", je.text);
        return -1;
    }
    json_t *faxes = json_object_get(root, "faxes");
    int n = 0;
    if (faxes && !json_is_array(faxes)) {
        str_fmt(err, errlen, "'faxes' is not a list");
        json_decref(root);
        return -1;
    }
    for (size_t i = 0; faxes && i < json_array_size(faxes) && n < max; i++) {
        json_t *o = json_array_get(faxes, i);
        if (!json_is_object(o)) continue;
        fax_from_json(o, &out[n]);
        if (out[n].id[0]) n++;
    }
    int tp = json_get_small_int(root, "totalPages", 0);
    *total_pages = tp > 0 ? tp : 0;
    json_decref(root);
    return n;
}

/* ---- webhook events ---- */

static int fax_from_text(const char *text, size_t len, sinch_fax *f)
{
    json_t *o = json_loadb(text, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    fax_from_json(o, f);
    json_decref(o);
    return 0;
}

/* A form value that the encoding says is application/json may be a quoted string. */
static void plain_value(const char *v, size_t len, char *dst, size_t dstlen)
{
    while (len && (*v == ' ' || *v == '\r' || *v == '\n')) { v++; len--; }
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\r' || v[len - 1] == '\n')) len--;
    if (len >= 2 && v[0] == '"' && v[len - 1] == '"') { v++; len -= 2; }
    size_t n = len < dstlen - 1 ? len : dstlen - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

typedef struct {
    sinch_event *ev;
    bool want_file;
    int part;                    /* 0 other, 1 event, 2 eventTime, 3 fax, 4 file */
    strbuf cur;
    strbuf file;
    bool seen_file;
} mp_ctx;

#define SINCH_FIELD_MAX (1024 * 1024)

static int mp_begin(void *c, const multipart_part_info *info)
{
    mp_ctx *m = c;
    m->cur.len = 0;
    m->part = 0;
    if (!info->name) return 0;
    if (!strcmp(info->name, "event")) m->part = 1;
    else if (!strcmp(info->name, "eventTime")) m->part = 2;
    else if (!strcmp(info->name, "fax")) m->part = 3;
    else if (!strcmp(info->name, "file") && !m->seen_file) {
        m->part = 4;
        m->seen_file = true;
        if (info->content_type) str_copy(m->ev->file_type, sizeof m->ev->file_type, info->content_type);
    }
    return 0;
}

static int mp_data(void *c, const char *data, size_t len)
{
    mp_ctx *m = c;
    if (m->part == 4) return m->want_file ? sb_append(&m->file, data, len) : 0;
    if (m->part == 0) return 0;
    if (m->cur.len + len > SINCH_FIELD_MAX) return -1;
    return sb_append(&m->cur, data, len);
}

static int mp_end(void *c)
{
    mp_ctx *m = c;
    sinch_event *ev = m->ev;
    const char *d = m->cur.data ? m->cur.data : "";
    switch (m->part) {
    case 1: plain_value(d, m->cur.len, ev->event, sizeof ev->event); break;
    case 2: plain_value(d, m->cur.len, ev->event_time, sizeof ev->event_time); break;
    case 3:
        if (fax_from_text(d, m->cur.len, &ev->fax) == 0) ev->has_fax = true;
        break;
    default: break;
    }
    m->part = 0;
    return 0;
}

static int parse_multipart(const char *content_type, const char *body, size_t len, bool want_file, sinch_event *ev,
                           char *err, size_t errlen)
{
    char boundary[128];
    if (multipart_boundary(content_type, boundary, sizeof boundary)) {
        str_fmt(err, errlen, "multipart body without a valid boundary");
        return -1;
    }
    mp_ctx m = { .ev = ev, .want_file = want_file };
    sb_init(&m.cur);
    sb_init(&m.file);
    multipart_callbacks cb = { mp_begin, mp_data, mp_end };
    multipart_parser *p = multipart_new(boundary, &cb, &m);
    int rc = -1;
    if (!p) {
        str_fmt(err, errlen, "out of memory");
    } else if (multipart_feed(p, body, len) || multipart_finish(p)) {
        str_fmt(err, errlen, "malformed multipart body: %s", multipart_error(p));
    } else {
        rc = 0;
        if (want_file && m.seen_file) {
            ev->file_len = m.file.len;
            ev->file = (unsigned char *)sb_steal(&m.file);
            if (!ev->file) ev->file = (unsigned char *)calloc(1, 1);   /* an empty part */
        }
    }
    multipart_free(p);
    sb_free(&m.cur);
    sb_free(&m.file);
    return rc;
}

static int parse_json_event(const char *body, size_t len, bool want_file, sinch_event *ev, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!json_is_object(root)) {
        str_fmt(err, errlen, "the webhook body is not a JSON object%s%s", root ? "" : ": ", root ? "" : je.text);
        json_decref(root);
        return -1;
    }
    json_get_str(root, "event", ev->event, sizeof ev->event);
    json_get_str(root, "eventTime", ev->event_time, sizeof ev->event_time);
    json_t *fax = json_object_get(root, "fax");
    if (json_is_object(fax)) {
        fax_from_json(fax, &ev->fax);
        ev->has_fax = true;
    } else if (json_is_string(fax)) {   /* tolerate a JSON-encoded string */
        const char *t = json_string_value(fax);
        if (fax_from_text(t, strlen(t), &ev->fax) == 0) ev->has_fax = true;
    }
    json_t *file = json_object_get(root, "file");
    json_t *type = json_object_get(root, "fileType");
    json_t *files = json_object_get(root, "files");
    if (!json_is_string(file) && json_is_array(files) && json_is_object(json_array_get(files, 0))) {
        file = json_object_get(json_array_get(files, 0), "file");
        type = json_object_get(json_array_get(files, 0), "fileType");
    }
    if (json_is_string(type)) str_copy(ev->file_type, sizeof ev->file_type, json_string_value(type));
    int rc = 0;
    if (want_file && json_is_string(file)) {
        ev->file = base64_decode(json_string_value(file), json_string_length(file), SIZE_MAX, false, &ev->file_len);
        if (!ev->file) {
            str_fmt(err, errlen, "the webhook's 'file' is not valid base64");
            rc = -1;
        }
    }
    json_decref(root);
    return rc;
}

int sinch_parse_event(const char *content_type, const char *body, size_t len, bool want_file, sinch_event *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->fax.pages = out->fax.error_code = -1;
    if (!body) body = "";
    if (content_type && !strncasecmp(content_type, "multipart/", 10))
        return parse_multipart(content_type, body, len, want_file, out, err, errlen);
    return parse_json_event(body, len, want_file, out, err, errlen);
}

void sinch_event_free(sinch_event *e)
{
    if (!e) return;
    free(e->file);
    e->file = NULL;
    e->file_len = 0;
}

/* ---- meaning ---- */

void sinch_map_error(const char *error_type, int code, const char **reason, bool *transient)
{
    const char *t = error_type ? error_type : "";
    *reason = "line_error";
    *transient = true;
    switch (code) {   /* CallError codes first: they say most */
    case 17: *reason = "busy"; return;
    case 16: case 30: case 48: *reason = "no_answer"; return;
    case 15: *reason = "congestion"; return;
    case 11: case 19: case 43: *reason = "line_error"; return;
    case 32: *reason = "rejected"; *transient = false; return;
    case 34: case 49: *reason = "invalid_number"; *transient = false; return;
    case 133:
        if (!strcmp(t, "DOCUMENT_CONVERSION_ERROR")) break;   /* 133 is reused: "Failed to normalize PDF" */
        *reason = "rejected"; *transient = false; return;     /* "Phone number is not permitted" */
    case 46: *reason = "provider_error"; *transient = false; return;   /* insufficient funds */
    case 75: *reason = "cancelled"; *transient = false; return;
    case 76: *reason = "provider_error"; return;                       /* cancelled on timeout */
    case 113: *reason = "provider_error"; *transient = false; return;  /* file deleted */
    default: break;
    }
    if (!strcmp(t, "DOCUMENT_CONVERSION_ERROR")) {
        *reason = "conversion_error";
        *transient = false;
    } else if (!strcmp(t, "FATAL_ERROR")) {
        *reason = "provider_error";
        *transient = false;
    } else if (!strcmp(t, "GENERAL_ERROR")) {
        *reason = "provider_error";
    }
    /* CALL_ERROR / FAX_ERROR with other codes: trouble on the line, worth another try */
}

void sinch_verdict(const sinch_fax *f, cloud_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (f->direction[0] && !strcasecmp(f->direction, "INBOUND")) {
        v->state = CLOUD_IGNORE;
        return;
    }
    const char *s = f->status;
    if (!strcasecmp(s, "COMPLETED")) {
        v->state = CLOUD_DELIVERED;
        str_copy(v->message, sizeof v->message, "delivered by Sinch");
        return;
    }
    if (!strcasecmp(s, "FAILURE")) {
        v->state = CLOUD_FAILED;
        sinch_map_error(f->error_type, f->error_code, &v->reason, &v->transient);
        char code[32] = "";
        if (f->error_code >= 0) str_fmt(code, sizeof code, " %d", f->error_code);
        str_fmt(v->message, sizeof v->message, "%s (Sinch %s%s)",
                f->error_message[0] ? f->error_message : "the fax failed", f->error_type[0] ? f->error_type : "error",
                code);
        return;
    }
    v->state = CLOUD_PENDING;   /* QUEUED, IN_PROGRESS, or a status we do not know yet */
}

void sinch_error_text(const char *body, size_t len, char *out, size_t outlen, bool *bad_to)
{
    if (bad_to) *bad_to = false;
    out[0] = 0;
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        if (body && len) {   /* not JSON: the first line of text, bounded */
            size_t n = cloud_line_len(body, len);
            if (n > 200) n = 200;
            str_fmt(out, outlen, "%.*s", (int)n, body);
        }
        json_decref(root);
        return;
    }
    strbuf sb;
    sb_init(&sb);
    json_t *msg = json_object_get(root, "message");
    json_t *errname = json_object_get(root, "error");
    json_t *status = json_object_get(root, "status");
    if (json_is_string(msg)) sb_puts(&sb, json_string_value(msg));
    else if (json_is_string(errname)) sb_puts(&sb, json_string_value(errname));
    if (json_is_string(status)) sb_appendf(&sb, " [%s]", json_string_value(status));
    /* details: an array of {type, fieldViolations:[{field, description}]} or an object */
    json_t *details = json_object_get(root, "details");
    json_t *list = json_is_array(details) ? details : NULL;
    json_t *single = json_is_object(details) ? details : NULL;
    size_t nd = list ? json_array_size(list) : (single ? 1 : 0);
    for (size_t i = 0; i < nd; i++) {
        json_t *d = list ? json_array_get(list, i) : single;
        json_t *fv = json_object_get(d, "fieldViolations");
        for (size_t k = 0; json_is_array(fv) && k < json_array_size(fv); k++) {
            json_t *one = json_array_get(fv, k);
            json_t *field = json_object_get(one, "field");
            json_t *desc = json_object_get(one, "description");
            if (json_is_string(field)) {
                sb_appendf(&sb, "; %s: %s", json_string_value(field), json_is_string(desc) ? json_string_value(desc) : "invalid");
                if (bad_to && !strcmp(json_string_value(field), "to")) *bad_to = true;
            }
        }
    }
    str_copy(out, outlen, sb.data ? sb.data : "");
    sb_free(&sb);
    json_decref(root);
}
