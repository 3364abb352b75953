/* api_inbound.c — received faxes: GET /inbound (list, newest first, cursor in the
 * X-Next-Cursor header so Faxbot clients still get a plain array), GET
 * /inbound/{id} (with a short-lived pdf_url for whoever may read it), and the
 * downloads /inbound/{id}/pdf (scope inbound:read, or a valid ?token= even when
 * auth is enforced) and /inbound/{id}/tiff; POST /inbound/{id}/read and
 * /inbound/{id}/unread (the Inbox's mark read: one flag per fax, shared by every
 * reader; GET /inbound?unread=true lists the unread ones and every list carries the
 * unread count in X-Unread-Count). */
#include "api/api_internal.h"
#include "store/record_json.h"
#include "api/phone.h"
#include "auth/audit.h"
#include "inbound/inbound.h"
#include "util/util.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool inbound_on(http_response *res)
{
    if (api_cfg()->inbound_enabled) return true;
    http_res_error(res, 404, "Inbound not enabled");
    return false;
}

json_t *api_inbound_json(const inbound_record *r, bool with_url)
{
    json_t *o = record_inbound_json(r);
    if (with_url && !r->artifacts_deleted_at) {
        int64_t exp = now_ms() + (int64_t)api_cfg()->inbound_token_ttl_minutes * 60000;
        char token[96], url[1024];
        inbound_token_make(g_api.pepper, r->id, exp, token);
        if (api_cfg()->public_api_url[0]) str_fmt(url, sizeof url, "%s/inbound/%s/pdf?token=%s", api_cfg()->public_api_url, r->id, token);
        else str_fmt(url, sizeof url, "/inbound/%s/pdf?token=%s", r->id, token);
        json_object_set_new(o, "pdf_url", json_string(url));
        json_object_set_new(o, "pdf_url_expires_at", api_time_json(exp));
    }
    return o;
}

static void inbound_list(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "inbound:list", "/inbound", api_cfg()->inbound_list_rpm, &who)) return;
    if (!inbound_on(res)) return;
    inbound_filter f = {.limit = 100, .owner = who.all_owners ? NULL : who.owner};
    if (api_query_limit(req, res, 100, &f.limit)) return;
    char to[24];
    bool by_to;
    if (api_query_number(req, res, "to_number", to, &by_to)) return;
    if (by_to) f.to_number = to;
    f.status = http_req_query(req, "status");
    f.mailbox = http_req_query(req, "mailbox");
    const char *unread = http_req_query(req, "unread");
    if (unread && *unread) {
        if (strcmp(unread, "true") && strcmp(unread, "false")) {
            http_res_error(res, 400, "'unread' must be true or false");
            return;
        }
        f.unread_only = !strcmp(unread, "true");
    }
    if (api_query_cursor(req, res, &f.before_received_at, f.before_id)) return;
    int page = f.limit;
    f.limit = page + 1;          /* one more than a page: is there a next page? */
    inbound_record *recs = calloc((size_t)f.limit, sizeof *recs);
    if (!recs) { http_res_error(res, 503, "out of memory"); return; }
    int n = store_inbound_list(g_api.st, &f, recs);
    if (n < 0) { free(recs); http_res_error(res, 503, "could not read inbound faxes"); return; }
    bool more = n > page;
    if (more) n = page;
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, api_inbound_json(&recs[i], false));
    if (more) {
        char next[64];
        str_fmt(next, sizeof next, "%lld.%s", (long long)recs[n - 1].received_at, recs[n - 1].id);
        http_res_header(res, "X-Next-Cursor", next);
    }
    free(recs);
    int64_t n_unread = store_inbound_unread_count(g_api.st, f.owner);
    if (n_unread >= 0) {
        char count[24];
        str_fmt(count, sizeof count, "%lld", (long long)n_unread);
        http_res_header(res, "X-Unread-Count", count);
    }
    api_json(res, 200, a);
}

/* The fax, if it exists and who may see it (who NULL: a download token, which is
 * the permission itself); another owner's fax is "not found". */
static int load(http_response *res, const principal *who, const char *id, inbound_record *r)
{
    if (!api_valid_id(id) || store_inbound_get(g_api.st, id, r) != STORE_OK ||
        (who && !api_may_see(who, r->owner, true))) {
        http_res_error(res, 404, "Inbound fax not found");
        return -1;
    }
    return 0;
}

static void inbound_get(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "inbound:read", "/inbound/{id}", api_cfg()->inbound_get_rpm, &who)) return;
    if (!inbound_on(res)) return;
    inbound_record r;
    if (load(res, &who, http_req_param(req, "id"), &r)) return;
    api_json(res, 200, api_inbound_json(&r, true));
}

static void send_file(http_response *res, const inbound_record *r, const char *name, const char *ctype, const char *ext)
{
    if (r->artifacts_deleted_at) {
        char when[32];
        iso8601_from_ms(r->artifacts_deleted_at, when);
        http_res_error(res, 410, "the fax's files were deleted by the retention policy at %s", when);
        return;
    }
    char path[4096], filename[64];
    blob_fetch(g_api.blobs, "inbound", r->id, name);
    if (blob_path(g_api.blobs, "inbound", r->id, name, path, sizeof path)) { http_res_error(res, 500, "bad storage path"); return; }
    str_fmt(filename, sizeof filename, "inbound_%s.%s", r->id, ext);
    api_send_file(res, path, ctype, filename, "the file of this fax is missing from storage");
}

static void inbound_pdf(http_request *req, http_response *res)
{
    if (!inbound_on(res)) return;
    inbound_record r;
    const char *token = http_req_query(req, "token");
    if (token && *token) {
        /* The token alone is enough, even where auth is enforced: that is its purpose. */
        if (load(res, NULL, http_req_param(req, "id"), &r)) return;
        int t = inbound_token_check(g_api.pepper, r.id, token, now_ms());
        if (t) { http_res_error(res, 403, t == -2 ? "Token expired" : "Invalid token"); return; }
        audit_event("inbound_pdf_served", "inbound_id", r.id, "method", "token", "key_id", "-", "ip",
                    http_req_client_ip(req), NULL);
        send_file(res, &r, "fax.pdf", "application/pdf", "pdf");
        return;
    }
    principal who;
    if (api_require(req, res, "inbound:read", "/inbound/{id}/pdf", api_cfg()->inbound_get_rpm, &who)) return;
    if (load(res, &who, http_req_param(req, "id"), &r)) return;
    audit_event("inbound_pdf_served", "inbound_id", r.id, "method", "api_key", "key_id", who.key_id[0] ? who.key_id : "-",
                "ip", http_req_client_ip(req), NULL);
    send_file(res, &r, "fax.pdf", "application/pdf", "pdf");
}

static void inbound_tiff(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "inbound:read", "/inbound/{id}/pdf", api_cfg()->inbound_get_rpm, &who)) return;
    if (!inbound_on(res)) return;
    inbound_record r;
    if (load(res, &who, http_req_param(req, "id"), &r)) return;
    audit_event("inbound_tiff_served", "inbound_id", r.id, "method", "api_key", "key_id", who.key_id[0] ? who.key_id : "-",
                "ip", http_req_client_ip(req), NULL);
    send_file(res, &r, "fax.tiff", "image/tiff", "tiff");
}

/* GET /inbound/{id}/thumbnail?page=N: page N of the received fax image as a PNG. */
static void inbound_thumbnail(http_request *req, http_response *res)
{
    principal who;
    if (api_require(req, res, "inbound:read", "/inbound/{id}/pdf", api_cfg()->inbound_get_rpm, &who)) return;
    if (!inbound_on(res)) return;
    inbound_record r;
    if (load(res, &who, http_req_param(req, "id"), &r)) return;
    if (r.artifacts_deleted_at) { http_res_error(res, 410, "the fax's files were deleted by the retention policy"); return; }
    char path[4096];
    if (blob_path(g_api.blobs, "inbound", r.id, "fax.tiff", path, sizeof path)) { http_res_error(res, 500, "bad storage path"); return; }
    api_send_page_thumbnail(req, res, path, "the image of this fax is missing from storage");
}

/* POST /inbound/{id}/read and /unread: the answer is the fax as GET /inbound/{id} shows it. */
static void set_read(http_request *req, http_response *res, bool read)
{
    principal who;
    if (api_require(req, res, "inbound:read", "/inbound/{id}/read", api_cfg()->inbound_get_rpm, &who)) return;
    if (!inbound_on(res)) return;
    inbound_record r;
    if (load(res, &who, http_req_param(req, "id"), &r)) return;
    int64_t when = read ? (r.read_at ? r.read_at : now_ms()) : 0;    /* read twice keeps the first time */
    int rc = store_inbound_set_read(g_api.st, r.id, when);
    if (rc != STORE_OK) { http_res_error(res, 503, "could not save the read mark"); return; }
    r.read_at = when;
    api_json(res, 200, api_inbound_json(&r, false));
}

static void inbound_read(http_request *req, http_response *res) { set_read(req, res, true); }
static void inbound_unread(http_request *req, http_response *res) { set_read(req, res, false); }

static const http_route inbound_routes[] = {
    {.method = "POST", .pattern = "/inbound/{id}/read", .handle = inbound_read},
    {.method = "POST", .pattern = "/inbound/{id}/unread", .handle = inbound_unread},
    {.method = "GET", .pattern = "/inbound", .handle = inbound_list},
    {.method = "GET", .pattern = "/inbound/{id}", .handle = inbound_get},
    {.method = "GET", .pattern = "/inbound/{id}/pdf", .handle = inbound_pdf},
    {.method = "GET", .pattern = "/inbound/{id}/tiff", .handle = inbound_tiff},
    {.method = "GET", .pattern = "/inbound/{id}/thumbnail", .handle = inbound_thumbnail},
};

void api_inbound_routes(const http_route **routes, int *n)
{
    *routes = inbound_routes;
    *n = (int)(sizeof inbound_routes / sizeof inbound_routes[0]);
}
