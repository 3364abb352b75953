/* api_console.c — the Admin Console: its files (embedded, see src/web) at
 * /admin/ui/, "/" sending a browser there, and the sign-in session:
 * POST /admin/ui/session checks a pasted API key once and answers with an
 * HttpOnly, SameSite=Strict cookie naming a server-side session (the key never
 * goes back to the browser); GET tells the page who it is, its scopes and its
 * CSRF token; DELETE signs out. api.c turns the cookie back into the key on every
 * route. */
#include "api/api_internal.h"
#include "auth/audit.h"
#include "util/util.h"
#include "web/web_assets.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Scripts, styles and fetches only from this origin; PDFs and thumbnails are
 * shown from blob: URLs the page makes from what it fetched. (128 bytes max.) */
#define CONSOLE_CSP "default-src 'self'; img-src 'self' blob:; frame-src blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

static void console_headers(http_response *res)
{
    http_res_header(res, "Content-Security-Policy", CONSOLE_CSP);
    http_res_header(res, "X-Frame-Options", "DENY");
    http_res_header(res, "X-Content-Type-Options", "nosniff");
    http_res_header(res, "Referrer-Policy", "no-referrer");
}

static void send_asset(http_request *req, http_response *res, const web_asset *a)
{
    console_headers(res);
    http_res_header(res, "ETag", a->etag);
    /* revalidated every time: an upgraded gateway never runs an old page */
    http_res_header(res, "Cache-Control", "no-cache");
    const char *inm = http_req_header(req, "If-None-Match");
    if (inm && strstr(inm, a->etag)) {
        http_res_set(res, 304, a->content_type, NULL, 0);
        return;
    }
    char *body = malloc(a->len ? a->len : 1);
    if (!body) { http_res_error(res, 500, "out of memory"); return; }
    memcpy(body, a->data, a->len);
    http_res_set(res, 200, a->content_type, body, a->len);
}

static void ui_index(http_request *req, http_response *res)
{
    send_asset(req, res, web_asset_find("index.html"));
}

static void ui_asset(http_request *req, http_response *res)
{
    const web_asset *a = web_asset_find(http_req_param(req, "asset"));
    if (!a) { http_res_error(res, 404, "Not Found"); return; }
    send_asset(req, res, a);
}

static void redirect(http_response *res, int status, const char *to)
{
    http_res_header(res, "Location", to);
    http_res_text(res, status, "text/plain; charset=utf-8", "See /admin/ui/\n");
}

static void ui_bare(http_request *req, http_response *res)
{
    redirect(res, 301, "/admin/ui/");
}

/* "/" has nothing for API clients (404 as before); a browser asking for a page goes to the console. */
static void root(http_request *req, http_response *res)
{
    const char *accept = http_req_header(req, "Accept");
    if (accept && strstr(accept, "text/html")) redirect(res, 302, "/admin/ui/");
    else http_res_error(res, 404, "Not Found");
}

/* True when the browser reached us over https: a trusted proxy says so. */
static bool via_https(http_request *req)
{
    cidr_list trusted;
    char err[128];
    if (!api_cfg()->trusted_proxies[0] || cidr_list_parse(api_cfg()->trusted_proxies, &trusted, err, sizeof err)) return false;
    if (!cidr_list_contains(&trusted, http_req_peer_ip(req))) return false;
    const char *xfp = http_req_header(req, "X-Forwarded-Proto");
    if (xfp && !strncasecmp(xfp, "https", 5)) return true;
    const char *fwd = http_req_header(req, "Forwarded");
    return fwd && strcasestr(fwd, "proto=https");
}

static void set_cookie(http_request *req, http_response *res, const char *value, long max_age)
{
    char c[128];
    str_fmt(c, sizeof c, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s", API_SESSION_COOKIE, value, max_age,
            via_https(req) ? "; Secure" : "");
    http_res_header(res, "Set-Cookie", c);
}

static json_t *session_json(const principal *who, const session_info *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "key_id", json_string(who->key_id));
    json_object_set_new(o, "owner", json_string(who->owner));
    json_object_set_new(o, "bootstrap", json_boolean(who->bootstrap));
    json_object_set_new(o, "scopes", api_scopes_json(who->scopes));
    json_object_set_new(o, "csrf_token", json_string(s->csrf));
    json_object_set_new(o, "idle_timeout_s", json_integer(API_SESSION_IDLE_MS / 1000));
    json_object_set_new(o, "expires_at", api_time_json(s->created_at + API_SESSION_MAX_AGE_MS));
    return o;
}

static void session_signin(http_request *req, http_response *res)
{
    api_admin_headers(res);
    const char *ct = http_req_header(req, "Content-Type");
    /* JSON only: a cross-site form cannot send it without a CORS preflight */
    if (!ct || strncasecmp(ct, "application/json", 16)) { http_res_error(res, 415, "send {\"api_key\": \"…\"} as application/json"); return; }
    size_t len;
    const char *body = http_req_body(req, &len);
    json_error_t je;
    json_t *v = json_loadb(body, len, 0, &je);
    const char *token = json_is_object(v) ? json_string_value(json_object_get(v, "api_key")) : NULL;
    if (!token) {
        json_decref(v);
        http_res_error(res, 400, "send {\"api_key\": \"…\"}: the key to sign in with");
        return;
    }
    principal who;
    char hash[65];
    if (api_signin_check(req, res, token, &who, hash)) { json_decref(v); return; }
    json_decref(v);
    char sid[SESSION_ID_LEN + 1];
    session_info s;
    if (api_session_create(&who, hash, sid, &s)) { http_res_error(res, 503, "random number generator failed"); return; }
    audit_event("console_signin", "key_id", who.key_id, "ip", http_req_client_ip(req), NULL);
    set_cookie(req, res, sid, (long)(API_SESSION_MAX_AGE_MS / 1000));
    api_json(res, 200, session_json(&who, &s));
    explicit_bzero(sid, sizeof sid);
}

static void session_get(http_request *req, http_response *res)
{
    api_admin_headers(res);
    char sid[64];
    session_info s;
    principal who;
    if (!api_session_cookie(req, sid, sizeof sid) || api_session_lookup(sid, &s)) {
        http_res_error(res, 401, "Not signed in");
        return;
    }
    if (api_require_key(req, res, &who)) return;     /* the key is still valid */
    api_json(res, 200, session_json(&who, &s));
}

static void session_signout(http_request *req, http_response *res)
{
    api_admin_headers(res);
    principal who;
    char sid[64];
    if (!api_session_cookie(req, sid, sizeof sid)) { http_res_error(res, 401, "Not signed in"); return; }
    if (api_require_key(req, res, &who)) return;     /* CSRF token checked there */
    api_session_end(sid);
    audit_event("console_signout", "key_id", who.key_id, NULL);
    set_cookie(req, res, "", 0);
    api_json(res, 200, json_pack("{s:s}", "status", "signed out"));
}

static const http_route console_routes[] = {
    {.method = "GET", .pattern = "/", .handle = root},
    {.method = "GET", .pattern = "/admin/ui", .handle = ui_bare},
    {.method = "GET", .pattern = "/admin/ui/", .handle = ui_index},
    {.method = "POST", .pattern = "/admin/ui/session", .body_mode = HTTP_BODY_BUFFER, .max_body = 4096, .handle = session_signin},
    {.method = "GET", .pattern = "/admin/ui/session", .handle = session_get},
    {.method = "DELETE", .pattern = "/admin/ui/session", .handle = session_signout},
    {.method = "GET", .pattern = "/admin/ui/{asset}", .handle = ui_asset},
};

void api_console_routes(const http_route **routes, int *n)
{
    *routes = console_routes;
    *n = (int)(sizeof console_routes / sizeof console_routes[0]);
}
