/* api_callbacks.c — the routes through which providers and PBXs reach the active
 * backend (status callbacks, inbound webhooks, internal hand-offs), and the admin
 * diagnostics. The api layer only carries the request: each backend verifies its
 * own signatures and parses its own formats, and the job layer applies the result. */
#include "api/api_internal.h"
#include "plugins/plugin.h"
#include "backend/backend.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static const char *wh_header(const webhook_request *r, const char *name)
{
    return http_req_header(r->ctx, name);
}

static const char *wh_query(const webhook_request *r, const char *name)
{
    return http_req_query(r->ctx, name);
}

static void webhook(http_request *req, http_response *res)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    const char *query = http_req_raw_query(req);
    char url[2048];
    const char *base = api_cfg()->public_api_url;
    str_fmt(url, sizeof url, "%s%s%s%s", base, http_req_path(req), query && *query ? "?" : "", query ? query : "");
    webhook_request wr = {.method = http_req_method(req), .path = http_req_path(req), .query = query ? query : "",
                          .public_url = url, .content_type = http_req_header(req, "Content-Type"),
                          .body = body, .body_len = len, .client_ip = http_req_client_ip(req),
                          .header = wh_header, .query_param = wh_query, .ctx = req};
    webhook_response *wres = calloc(1, sizeof *wres);
    if (!wres) { http_res_error(res, 503, "out of memory"); return; }
    wres->status = 200;
    str_copy(wres->content_type, sizeof wres->content_type, "application/json");
    str_copy(wres->body, sizeof wres->body, "{\"status\":\"ok\"}");
    if (jobs_webhook_dispatch(g_api.jobs, &wr, wres) != 0) http_res_error(res, 404, "Not Found");
    else http_res_text(res, wres->status ? wres->status : 200, wres->content_type, wres->body);
    free(wres);
}

/* The plugins as diagnostics show them (Faxbot's plugins{installed, manifests, errors}):
 * how many are bundled and installed, which are switched off, which manifests were skipped. */
static json_t *plugins_summary(void)
{
    int bundled = 0, installed = 0;
    json_t *disabled = json_array();
    for (int i = 0; i < plugin_count(); i++) {
        const plugin *p = plugin_at(i);
        if (p->source == PLUGIN_BUNDLED) bundled++;
        else installed++;
        if (!p->enabled) json_array_append_new(disabled, json_string(p->id));
    }
    return json_pack("{s:i,s:i,s:o,s:o}", "bundled", bundled, "installed", installed, "disabled", disabled, "errors",
                     plugins_errors());
}

/* The UDPTL (T.38) and RTP port ranges a PBX backend renders: each a real range,
 * the two apart, and RTP wide enough for the calls at once (two ports a call). */
static json_t *port_range(const char *what, const char *start_name, const char *end_name, int64_t *lo, int64_t *hi)
{
    const char *a = settings_value(settings_current(), start_name, NULL), *b = settings_value(settings_current(), end_name, NULL);
    *lo = a && *a ? strtoll(a, NULL, 10) : 0;
    *hi = b && *b ? strtoll(b, NULL, 10) : 0;
    bool ok = *lo > 0 && *hi > *lo;
    char detail[256];
    if (ok) str_fmt(detail, sizeof detail, "%s ports %lld-%lld (%lld ports)", what, (long long)*lo, (long long)*hi, (long long)(*hi - *lo + 1));
    else str_fmt(detail, sizeof detail, "%s range %lld-%lld is empty: %s must be below %s", what, (long long)*lo, (long long)*hi, start_name, end_name);
    return json_pack("{s:I,s:I,s:b,s:s}", "start", (json_int_t)*lo, "end", (json_int_t)*hi, "ok", ok, "detail", detail);
}

static json_t *port_ranges(void)
{
    int64_t ulo, uhi, rlo, rhi;
    json_t *o = json_object();
    json_t *udptl = port_range("UDPTL (T.38)", "UDPTL_PORT_START", "UDPTL_PORT_END", &ulo, &uhi);
    json_t *rtp = port_range("RTP", "RTP_PORT_START", "RTP_PORT_END", &rlo, &rhi);
    bool ok = json_is_true(json_object_get(udptl, "ok")) && json_is_true(json_object_get(rtp, "ok"));
    json_t *advice = json_array();
    if (ok && ulo <= rhi && rlo <= uhi) {
        ok = false;
        json_array_append_new(advice, json_string("the UDPTL and RTP port ranges overlap: move one of them "
                                                  "(UDPTL_PORT_START/END or RTP_PORT_START/END)"));
    }
    const char *ch = settings_value(settings_current(), "ASTERISK_MAX_CHANNELS", NULL);
    int64_t calls = ch && *ch ? strtoll(ch, NULL, 10) : 0;
    if (ok && calls > 0 && (rhi - rlo + 1) < 2 * calls) {
        ok = false;
        json_array_append_new(advice, json_sprintf("the RTP range holds %lld ports, fewer than two for each of "
                                                   "ASTERISK_MAX_CHANNELS=%lld calls: widen RTP_PORT_START/END",
                                                   (long long)(rhi - rlo + 1), (long long)calls));
    }
    json_object_set_new(o, "udptl", udptl);
    json_object_set_new(o, "rtp", rtp);
    json_object_set_new(o, "ok", json_boolean(ok));
    json_object_set_new(o, "advice", advice);
    return o;
}

/* POST /admin/diagnostics/run: every check, with real round trips where the backend has them. */
static void diagnostics(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    char msg[512] = "";
    json_t *checks = json_object();
    json_object_set_new(checks, "db", json_boolean(store_ping(g_api.st, msg, sizeof msg) == 0));
    int64_t free_bytes = 0;
    json_object_set_new(checks, "storage", json_boolean(blob_check(g_api.blobs, &free_bytes, msg, sizeof msg) == 0));
    json_object_set_new(checks, "storage_free_bytes", json_integer(free_bytes));
    bool s3_ok = true;
    if (!strcmp(blob_kind(g_api.blobs), "s3")) {
        char s3err[1100] = "", s3code[64];
        s3_ok = blob_check_remote(g_api.blobs, 0, s3code, sizeof s3code, s3err, sizeof s3err) == 0;
        json_object_set_new(checks, "s3", json_pack("{s:b,s:s,s:s}", "ok", s3_ok, "error", s3code, "message", s3err));
    }
    msg[0] = 0;
    bool ready = jobs_backend_check(g_api.jobs, msg, sizeof msg) == 0;
    json_object_set_new(checks, "backend_config", json_boolean(ready));
    json_object_set_new(checks, "backend_message", json_string(msg));
    json_t *report = json_object();
    bool deep_ok = jobs_backend_diagnose(g_api.jobs, report) == 0;
    json_object_set_new(checks, "backend", report);
    json_object_set_new(checks, "plugins", plugins_summary());
    bool gs = api_ghostscript_present();
    json_object_set_new(checks, "ghostscript", json_boolean(gs));
    json_object_set_new(checks, "ghostscript_path", json_string(api_cfg()->gs_path));
    const char *be = jobs_backend_name(g_api.jobs);
    bool pbx = !strcmp(be, "sip") || !strcmp(be, "freeswitch");
    bool ports_ok = true;
    if (pbx) {
        json_t *ports = port_ranges();
        ports_ok = json_is_true(json_object_get(ports, "ok"));
        json_object_set_new(checks, "port_ranges", ports);
    }
    json_t *o = json_object();
    json_object_set_new(o, "backend", json_string(jobs_backend_name(g_api.jobs)));
    json_object_set_new(o, "ok", json_boolean(ready && deep_ok && gs && ports_ok && s3_ok && json_is_true(json_object_get(checks, "db")) &&
                                             json_is_true(json_object_get(checks, "storage"))));
    char at[32];
    iso8601_from_ms(now_ms(), at);
    json_object_set_new(o, "checked_at", json_string(at));
    json_object_set_new(o, "checks", checks);
    api_json(res, 200, o);
}

static http_route g_cb_routes[48];

/* Every backend's webhook routes are mounted, whichever backend runs: a live
 * settings change may swap the backend, and a replaced backend keeps answering its
 * routes until its last attempt ends. A request for a backend that is not running
 * is a 404 (jobs_webhook_dispatch). */
void api_callback_routes(const http_route **routes, int *n)
{
    int k = 0;
    const int cap = (int)(sizeof g_cb_routes / sizeof g_cb_routes[0]);
    g_cb_routes[k++] = (http_route){.method = "POST", .pattern = "/admin/diagnostics/run", .handle = diagnostics};
    for (int b = 0; b < backend_count(); b++) {
        const backend_ops *ops = backend_at(b);
        for (int i = 0; i < ops->n_webhooks && k < cap; i++) {
            const backend_webhook *w = &ops->webhooks[i];
            bool dup = false;
            for (int r = 1; r < k && !dup; r++) {
                dup = !strcmp(g_cb_routes[r].method, w->method) && !strcmp(g_cb_routes[r].pattern, w->path);
                /* a shared path takes the largest body any owner accepts; each handler checks its own */
                if (dup && (w->max_body ? w->max_body : 65536) > g_cb_routes[r].max_body) g_cb_routes[r].max_body = w->max_body;
            }
            if (!dup)
                g_cb_routes[k++] = (http_route){.method = w->method, .pattern = w->path, .body_mode = HTTP_BODY_BUFFER,
                                                .max_body = w->max_body ? w->max_body : 65536, .handle = webhook};
        }
    }
    /* http plugins' webhooks (/plugin-hooks/<plugin id>/<webhook name>): one pattern for all
     * of them, whichever plugin runs; the running plugin's instance answers its own paths */
    if (k < cap)
        g_cb_routes[k++] = (http_route){.method = "POST", .pattern = "/plugin-hooks/{plugin}/{hook}",
                                        .body_mode = HTTP_BODY_BUFFER, .max_body = 32u * 1024 * 1024,
                                        .handle = webhook};
    *routes = g_cb_routes;
    *n = k;
}
