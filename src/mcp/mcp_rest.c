/* mcp_rest.c — mcp_ops over the REST API with libcurl (see mcp_rest.h). */
#include "mcp/mcp_rest.h"
#include "util/util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct call {
    strbuf body;
    size_t max;
    bool too_big;
    char next_cursor[128];
} call;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    call *c = ud;
    if (c->body.len + sz * n > c->max) { c->too_big = true; return 0; }
    return sb_append(&c->body, p, sz * n) ? 0 : sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    call *c = ud;
    size_t len = sz * n;
    if (len > 15 && !strncasecmp(p, "X-Next-Cursor:", 14)) {
        const char *v = p + 14;
        while (*v == ' ') v++;
        size_t vl = (size_t)(p + len - v);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
        if (vl < sizeof c->next_cursor) {
            memcpy(c->next_cursor, v, vl);
            c->next_cursor[vl] = 0;
        }
    }
    return len;
}

/* One request; fills r->status, and r->json (JSON answers) or r->data (raw: want_bytes). */
static void perform(mcp_rest *rest, const char *method, const char *path, curl_mime *(*form)(CURL *, void *), void *form_ctx,
                    bool want_bytes, size_t max, mcp_reply *r)
{
    call c = {.max = max ? max : 64 * 1024 * 1024};
    sb_init(&c.body);
    CURL *h = curl_easy_init();
    if (!h) { mcp_reply_fail(r, 503, "out of memory"); return; }
    char url[2048], hdr[600];
    str_fmt(url, sizeof url, "%s%s", rest->base_url, path);
    struct curl_slist *hl = NULL;
    if (rest->api_key[0]) { str_fmt(hdr, sizeof hdr, "X-API-Key: %s", rest->api_key); hl = curl_slist_append(hl, hdr); }
    curl_mime *mime = NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (form) {
        mime = form(h, form_ctx);
        curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_mime_free(mime);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (c.too_big) {
        mcp_reply_fail(r, 413, "the gateway's answer is larger than %zu MB", c.max / (1024 * 1024));
    } else if (rc != CURLE_OK) {
        mcp_reply_fail(r, 502, "cannot reach the gateway at %s: %s", rest->base_url, curl_easy_strerror(rc));
    } else {
        r->status = (int)status;
        str_copy(r->next_cursor, sizeof r->next_cursor, c.next_cursor);
        if (status >= 200 && status < 300 && want_bytes) {
            r->len = c.body.len;
            r->data = sb_steal(&c.body);
            if (!r->data) r->data = calloc(1, 1);
        } else {
            json_t *j = json_loadb(c.body.data ? c.body.data : "", c.body.len, 0, NULL);
            if (status >= 200 && status < 300) {
                r->json = j;
                if (!j) mcp_reply_fail(r, 502, "the gateway answered something that is not JSON");
            } else {
                const char *d = json_string_value(json_object_get(j, "detail"));
                mcp_reply_fail(r, (int)status, "%s", d ? d : "the gateway refused the request");
                json_decref(j);
            }
        }
    }
    sb_free(&c.body);
}

static void id_path(char *out, size_t len, const char *fmt, const char *id)
{
    char *e = curl_easy_escape(NULL, id, 0);
    str_fmt(out, len, fmt, e ? e : "");
    curl_free(e);
}

typedef struct send_form { const char *to, *path, *name; } send_form;

static curl_mime *make_send_form(CURL *h, void *ctx)
{
    send_form *f = ctx;
    curl_mime *m = curl_mime_init(h);
    curl_mimepart *p = curl_mime_addpart(m);
    curl_mime_name(p, "to");
    curl_mime_data(p, f->to, CURL_ZERO_TERMINATED);
    p = curl_mime_addpart(m);
    curl_mime_name(p, "file");
    curl_mime_filedata(p, f->path);
    curl_mime_filename(p, f->name && *f->name ? f->name : "document");
    return m;
}

static void rest_send_fax(void *ctx, const char *to, const char *path, const char *file_name, mcp_reply *r)
{
    send_form f = {to, path, file_name};
    perform(ctx, "POST", "/fax", make_send_form, &f, false, 0, r);
}

static void rest_get_fax(void *ctx, const char *id, mcp_reply *r)
{
    char p[512];
    id_path(p, sizeof p, "/fax/%s", id);
    perform(ctx, "GET", p, NULL, NULL, false, 0, r);
}

static void rest_get_inbound(void *ctx, const char *id, mcp_reply *r)
{
    char p[512];
    id_path(p, sizeof p, "/inbound/%s", id);
    perform(ctx, "GET", p, NULL, NULL, false, 0, r);
}

static void list_query(char *out, size_t len, const char *base, int limit, const char *cursor, const char *status)
{
    size_t o = (size_t)snprintf(out, len, "%s?limit=%d", base, limit);
    const char *names[] = {"cursor", "status"}, *vals[] = {cursor, status};
    for (int i = 0; i < 2 && o < len; i++) {
        if (!vals[i] || !*vals[i]) continue;
        char *e = curl_easy_escape(NULL, vals[i], 0);
        o += (size_t)snprintf(out + o, len - o, "&%s=%s", names[i], e ? e : "");
        curl_free(e);
    }
}

static void rest_list_faxes(void *ctx, int limit, const char *cursor, const char *status, mcp_reply *r)
{
    char p[1024];
    list_query(p, sizeof p, "/fax", limit, cursor, status);
    perform(ctx, "GET", p, NULL, NULL, false, 0, r);
    const char *next = json_string_value(json_object_get(r->json, "next_cursor"));
    if (next) str_copy(r->next_cursor, sizeof r->next_cursor, next);
}

static void rest_list_inbound(void *ctx, int limit, const char *cursor, mcp_reply *r)
{
    char p[1024];
    list_query(p, sizeof p, "/inbound", limit, cursor, NULL);
    perform(ctx, "GET", p, NULL, NULL, false, 0, r);
}

static void rest_inbound_pdf(void *ctx, const char *id, int64_t max_bytes, mcp_reply *r)
{
    char p[512];
    id_path(p, sizeof p, "/inbound/%s/pdf", id);
    perform(ctx, "GET", p, NULL, NULL, true, (size_t)max_bytes, r);
}

static void rest_cancel_fax(void *ctx, const char *id, mcp_reply *r)
{
    char p[512];
    id_path(p, sizeof p, "/fax/%s/cancel", id);
    perform(ctx, "POST", p, NULL, NULL, false, 0, r);
}

void mcp_rest_ops(mcp_rest *rest, mcp_ops *ops)
{
    size_t n = strlen(rest->base_url);
    while (n && rest->base_url[n - 1] == '/') rest->base_url[--n] = 0;
    *ops = (mcp_ops){.ctx = rest, .send_fax = rest_send_fax, .get_fax = rest_get_fax, .get_inbound = rest_get_inbound,
                     .list_faxes = rest_list_faxes, .list_inbound = rest_list_inbound, .inbound_pdf = rest_inbound_pdf,
                     .cancel_fax = rest_cancel_fax};
}
