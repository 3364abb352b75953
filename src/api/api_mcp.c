/* api_mcp.c — MCP over HTTP on the gateway: Streamable HTTP at MCP_HTTP_PATH
 * (ENABLE_MCP_HTTP) and the legacy HTTP+SSE transport at MCP_SSE_PATH with its
 * message endpoint (ENABLE_MCP_SSE). Every request is authenticated with the
 * caller's own API key (Authorization: Bearer or X-API-Key) and its tools run with
 * that key's scopes; with REQUIRE_MCP_OAUTH a JWT from the configured issuer is
 * required instead, and the protected-resource metadata document is served.
 * Browser origins other than localhost and MCP_ALLOWED_ORIGINS are refused.
 *
 * Streamable HTTP here is stateless (no Mcp-Session-Id): a legacy client's
 * initialize negotiates its revision, later requests carry MCP-Protocol-Version;
 * a 2026-07-28 client sends _meta with every request. A send_fax whose client asked
 * for progress is answered as an SSE stream from its own thread; every other
 * request is answered with one JSON object. Legacy SSE sessions are capped
 * (MCP_MAX_SESSIONS), kept alive by comments every 15 s, and closed after
 * MCP_IDLE_SECONDS without a message. */
#include "api/api_mcp.h"
#include "auth/apikey.h"
#include "auth/audit.h"
#include "mcp/mcp_jwt.h"
#include "mcp/mcp_server.h"
#include "util/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEARTBEAT_MS 15000

static mcp_limits g_limits;
static _Atomic bool g_stopping;
static char g_tmp_dir[1100];
static mcp_jwks *g_jwks;
static char g_metadata_url[1200];
static char g_metadata_path[200];

/* ---- who may call ---- */

static bool origin_allowed(const char *origin)
{
    if (!origin || !*origin) return true;          /* not a browser */
    const char *list = api_cfg()->mcp_allowed_origins;
    size_t ol = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && p[m - 1] == ' ') m--;
        if (m && m == ol && !strncasecmp(p, origin, ol)) return true;
        p += n;
    }
    /* a page served from this machine (the console, a local tool) */
    const char *host = strstr(origin, "://");
    if (!host) return false;
    host += 3;
    static const char *const local[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        size_t hl = strlen(local[i]);
        if (!strncasecmp(host, local[i], hl) && (host[hl] == 0 || host[hl] == ':')) return true;
    }
    return false;
}

static void unauthorized(http_request *req, http_response *res, const char *why, const char *detail)
{
    api_auth_failed(req, why);
    http_res_error(res, 401, "%s", detail);
    char hdr[1400];
    if (api_cfg()->require_mcp_oauth)
        str_fmt(hdr, sizeof hdr, "Bearer error=\"invalid_token\", resource_metadata=\"%s\"", g_metadata_url);
    else
        str_fmt(hdr, sizeof hdr, "Bearer");
    http_res_header(res, "WWW-Authenticate", hdr);
}

static const char *bearer(http_request *req)
{
    const char *a = http_req_header(req, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7)) return NULL;
    a += 7;
    while (*a == ' ') a++;
    return *a ? a : NULL;
}

/* Origin, then the key or token, then the rate limit. 0 with *c filled, or -1 with res. */
static int mcp_auth(http_request *req, http_response *res, api_mcp_caller *c)
{
    memset(c, 0, sizeof *c);
    if (!origin_allowed(http_req_header(req, "Origin"))) {
        audit_event("mcp_origin_refused", "ip", http_req_client_ip(req), NULL);
        http_res_error(res, 403, "Origin not allowed");
        return -1;
    }
    if (api_cfg()->require_mcp_oauth) {
        if (api_auth_lockout(req, res)) return -1;
        const char *tok = bearer(req);
        if (!tok) { unauthorized(req, res, "missing bearer token", "A bearer token is required"); return -1; }
        mcp_jwt_claims cl;
        char why[128];
        if (mcp_jwt_verify(g_jwks, tok, api_cfg()->oauth_issuer, api_cfg()->oauth_audience, now_ms() / 1000, &cl, why,
                           sizeof why)) {
            unauthorized(req, res, why, "Invalid bearer token");
            return -1;
        }
        /* one identity per subject (rate limits, session ownership, audit): "o-" + a hash of iss and sub */
        char subject[700], h[65];
        str_fmt(subject, sizeof subject, "%s\n%s", api_cfg()->oauth_issuer, cl.sub);
        sha256_hex(subject, strlen(subject), h);
        c->who.authenticated = true;
        str_fmt(c->who.key_id, sizeof c->who.key_id, "o-%.12s", h);
        str_copy(c->who.scopes, sizeof c->who.scopes, cl.scope);
        str_copy(c->who.owner, sizeof c->who.owner, c->who.key_id);    /* a subject's work is its own */
        c->who.all_owners = apikey_scopes_allow(cl.scope, "fax:all");
        audit_event("mcp_oauth_ok", "sub", cl.sub, "kid", cl.kid, NULL);
    } else {
        const char *tok = http_req_header(req, "X-API-Key");
        if (!tok || !*tok) tok = bearer(req);
        if (api_authenticate_token(req, res, tok, &c->who)) {
            if (res->status == 401) http_res_header(res, "WWW-Authenticate", "Bearer");
            return -1;
        }
    }
    if (c->who.authenticated) {
        int retry = ratelimit_hit(g_ratelimit, c->who.key_id, "/mcp", api_cfg()->max_requests_per_minute, now_ms());
        if (retry > 0) {
            char ra[16];
            str_fmt(ra, sizeof ra, "%d", retry);
            http_res_error(res, 429, "Rate limit exceeded");
            http_res_header(res, "Retry-After", ra);
            return -1;
        }
    }
    return 0;
}

static void caller_free(void *p) { free(p); }

/* on_headers of the MCP routes: refuse before reading any body. */
static void mcp_on_headers(http_request *req, http_response *res)
{
    api_mcp_caller *c = calloc(1, sizeof *c);
    if (!c) { http_res_error(res, 503, "out of memory"); return; }
    http_req_set_user(req, c, caller_free);
    if (mcp_auth(req, res, c)) return;
    if (!strcmp(http_req_method(req), "POST")) {
        const char *ct = http_req_header(req, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16)) {
            http_res_error(res, 415, "send MCP messages as Content-Type: application/json");
            return;
        }
    }
}

/* ---- answering ---- */

static int answer_status(const json_t *resp)
{
    json_int_t code = json_integer_value(json_object_get(json_object_get(resp, "error"), "code"));
    return code == MCP_ERR_PARSE || code == MCP_ERR_INVALID_REQUEST || code == MCP_ERR_UNSUPPORTED_VERSION ? 400 : 200;
}

static void send_json(http_response *res, int status, json_t *msg)
{
    char *s = mcp_dump(msg);
    json_decref(msg);
    if (!s) { http_res_error(res, 500, "could not render the answer"); return; }
    http_res_set(res, status, "application/json", s, strlen(s));
}

static int sse_event(http_stream *st, const char *event, const json_t *msg)
{
    char *s = mcp_dump(msg);
    if (!s) return -1;
    strbuf sb;
    sb_init(&sb);
    sb_appendf(&sb, "event: %s\ndata: %s\n\n", event, s);
    free(s);
    int rc = sb.data ? http_stream_write(st, sb.data, sb.len) : -1;
    sb_free(&sb);
    return rc;
}

static int emit_to_stream(void *ctx, json_t *note)
{
    int rc = sse_event(ctx, "message", note);
    json_decref(note);
    return rc;
}

static void sse_headers(http_response *res)
{
    http_res_header(res, "Cache-Control", "no-cache, no-store");
    http_res_header(res, "X-Accel-Buffering", "no");
}

/* ---- legacy SSE sessions ---- */

typedef struct sse_session {
    int refs;                    /* under g_sess_lock */
    char id[33];
    api_mcp_caller caller;
    mcp_ops ops;
    mcp_session state;
    http_stream *stream;         /* the writer's reference */
    int64_t last_active, last_write;
    bool closed;
    struct sse_session *next;
} sse_session;

static pthread_mutex_t g_sess_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_sess_wake = PTHREAD_COND_INITIALIZER;
static sse_session *g_sessions;
static int g_n_sessions;
static bool g_keeper_stop, g_keeper_running;
static pthread_t g_keeper;
static int g_long_calls;         /* threads answering long calls, under g_sess_lock */

static void session_unref_locked(sse_session *s)
{
    if (--s->refs > 0) return;
    http_stream_close(s->stream);
    http_stream_release(s->stream);
    free(s);
}

static void session_unref(sse_session *s)
{
    pthread_mutex_lock(&g_sess_lock);
    session_unref_locked(s);
    pthread_mutex_unlock(&g_sess_lock);
}

/* Removes a session from the table (with g_sess_lock held). */
static void session_drop_locked(sse_session *s, const char *why)
{
    for (sse_session **pp = &g_sessions; *pp; pp = &(*pp)->next) {
        if (*pp != s) continue;
        *pp = s->next;
        g_n_sessions--;
        s->closed = true;
        log_info("mcp: SSE session %.8s… closed (%s)", s->id, why);
        session_unref_locked(s);
        return;
    }
}

static sse_session *session_find(const char *id)
{
    pthread_mutex_lock(&g_sess_lock);
    sse_session *s = g_sessions;
    while (s && (!id || strcmp(s->id, id))) s = s->next;
    if (s) s->refs++;
    pthread_mutex_unlock(&g_sess_lock);
    return s;
}

/* Heartbeats, idle limits, and sessions whose client went away. */
static void *keeper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_sess_lock);
    while (!g_keeper_stop) {
        int64_t now = mono_ms();
        for (sse_session *s = g_sessions, *next; s; s = next) {
            next = s->next;
            if (http_stream_gone(s->stream)) session_drop_locked(s, "client gone");
            else if (now - s->last_active > (int64_t)api_cfg()->mcp_idle_s * 1000) session_drop_locked(s, "idle");
            else if (now - s->last_write >= HEARTBEAT_MS) {
                s->last_write = now;
                if (http_stream_write(s->stream, ": keep-alive\n\n", 14)) session_drop_locked(s, "write failed");
            }
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&g_sess_wake, &g_sess_lock, &until);
    }
    while (g_sessions) session_drop_locked(g_sessions, "server stopping");
    pthread_mutex_unlock(&g_sess_lock);
    return NULL;
}

static void sse_open(http_request *req, http_response *res)
{
    api_mcp_caller *c = http_req_user(req);
    if (!c || res->status) return;
    pthread_mutex_lock(&g_sess_lock);
    bool full = g_n_sessions >= api_cfg()->mcp_max_sessions;
    pthread_mutex_unlock(&g_sess_lock);
    if (full) {
        http_res_error(res, 503, "Too many MCP sessions are open; try again later");
        http_res_header(res, "Retry-After", "30");
        return;
    }
    sse_session *s = calloc(1, sizeof *s);
    if (!s) { http_res_error(res, 503, "out of memory"); return; }
    s->refs = 1;
    new_id_hex32(s->id);
    s->caller = *c;
    api_mcp_ops_for(&s->caller, &s->ops);
    s->last_active = s->last_write = mono_ms();
    s->stream = http_res_event_stream(req, res, 200, "text/event-stream");
    if (!s->stream) { free(s); http_res_error(res, 503, "out of memory"); return; }
    sse_headers(res);
    char ev[512];
    str_fmt(ev, sizeof ev, "event: endpoint\ndata: %s?sessionId=%s\n\n", api_cfg()->mcp_message_path, s->id);
    http_stream_write(s->stream, ev, strlen(ev));
    pthread_mutex_lock(&g_sess_lock);
    s->next = g_sessions;
    g_sessions = s;
    g_n_sessions++;
    pthread_mutex_unlock(&g_sess_lock);
    audit_event("mcp_session_opened", "key_id", c->who.key_id, "transport", "sse", NULL);
}

/* ---- long calls (send_fax with progress): answered from their own thread ---- */

typedef struct long_call {
    mcp_message msg;             /* owns its JSON */
    api_mcp_caller caller;
    mcp_ops ops;
    mcp_session state;
    http_stream *stream;         /* Streamable HTTP: the request's own stream (closed at the end) */
    sse_session *sess;           /* legacy SSE: the session's stream (a reference) */
    char header_version[16];
} long_call;

static void *long_call_main(void *arg)
{
    long_call *lc = arg;
    http_stream *st = lc->sess ? lc->sess->stream : lc->stream;
    mcp_call_ctx cx = {.ops = &lc->ops, .limits = &g_limits, .emit = emit_to_stream, .emit_ctx = st,
                       .transport = lc->sess ? "sse" : "http", .principal = lc->caller.who.key_id,
                       .header_version = lc->header_version[0] ? lc->header_version : NULL};
    json_t *resp = mcp_handle(lc->sess ? &lc->sess->state : &lc->state, &lc->msg, &cx);
    if (resp) sse_event(st, "message", resp);
    json_decref(resp);
    mcp_message_free(&lc->msg);
    if (lc->sess) {
        session_unref(lc->sess);
    } else {
        http_stream_close(lc->stream);
        http_stream_release(lc->stream);
    }
    free(lc);
    pthread_mutex_lock(&g_sess_lock);
    g_long_calls--;
    pthread_cond_broadcast(&g_sess_wake);
    pthread_mutex_unlock(&g_sess_lock);
    return NULL;
}

static int start_long_call(long_call *lc)
{
    pthread_mutex_lock(&g_sess_lock);
    g_long_calls++;
    pthread_mutex_unlock(&g_sess_lock);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, long_call_main, lc);
    pthread_attr_destroy(&attr);
    if (rc) {
        pthread_mutex_lock(&g_sess_lock);
        g_long_calls--;
        pthread_mutex_unlock(&g_sess_lock);
        return -1;
    }
    return 0;
}

/* ---- the routes ---- */

static bool accepts(http_request *req, const char *type)
{
    const char *a = http_req_header(req, "Accept");
    return !a || strstr(a, type) || strstr(a, "*/*");
}

/* Parses the body; on failure answers 400 with the JSON-RPC error. */
static int parse_body(http_request *req, http_response *res, mcp_message *m)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    int code;
    char msg[256];
    json_t *err_id;
    if (!mcp_parse(body, len, m, &code, msg, sizeof msg, &err_id)) return 0;
    atomic_fetch_add(&g_mcp_stats.errors, 1);
    send_json(res, 400, mcp_error(err_id, code, msg, NULL));
    json_decref(err_id);
    return -1;
}

static void http_post(http_request *req, http_response *res)
{
    api_mcp_caller *c = http_req_user(req);
    if (!c) { http_res_error(res, 500, "request state lost"); return; }
    if (!accepts(req, "application/json") && !accepts(req, "text/event-stream")) {
        http_res_error(res, 406, "Accept application/json and text/event-stream");
        return;
    }
    const char *hv = http_req_header(req, "MCP-Protocol-Version");
    if (hv && !mcp_version_known(hv)) {
        atomic_fetch_add(&g_mcp_stats.errors, 1);
        send_json(res, 400, mcp_error_unsupported_version(NULL, hv));
        return;
    }
    mcp_message m;
    if (parse_body(req, res, &m)) return;
    /* 2026-07-28 repeats the method (and a tool's name) in headers for intermediaries:
     * when sent, they must say what the body says */
    const char *hm = http_req_header(req, "Mcp-Method"), *hn = http_req_header(req, "Mcp-Name");
    const char *body_name = json_string_value(json_object_get(m.params, "name"));
    if ((hm && (!m.method || strcmp(hm, m.method))) ||
        (hn && m.method && !strcmp(m.method, "tools/call") && (!body_name || strcmp(hn, body_name)))) {
        atomic_fetch_add(&g_mcp_stats.errors, 1);
        send_json(res, 400, mcp_error(m.id, MCP_ERR_INVALID_PARAMS, "Mcp-Method or Mcp-Name header disagrees with the message", NULL));
        mcp_message_free(&m);
        return;
    }
    mcp_ops ops;
    api_mcp_ops_for(c, &ops);
    if (m.kind != MCP_MSG_REQUEST) {
        mcp_session scratch = {0};
        mcp_call_ctx cx = {.ops = &ops, .limits = &g_limits, .transport = "http", .principal = c->who.key_id};
        json_decref(mcp_handle(&scratch, &m, &cx));
        mcp_message_free(&m);
        http_res_text(res, 202, "text/plain", "");
        return;
    }
    if (mcp_is_long_call(&m) && accepts(req, "text/event-stream")) {
        long_call *lc = calloc(1, sizeof *lc);
        if (!lc) { mcp_message_free(&m); http_res_error(res, 503, "out of memory"); return; }
        lc->msg = m;
        lc->caller = *c;
        api_mcp_ops_for(&lc->caller, &lc->ops);
        str_copy(lc->header_version, sizeof lc->header_version, hv ? hv : "");
        http_stream *st = http_res_event_stream(req, res, 200, "text/event-stream");
        if (!st) { mcp_message_free(&lc->msg); free(lc); http_res_error(res, 503, "out of memory"); return; }
        sse_headers(res);
        lc->stream = st;
        if (start_long_call(lc)) {
            http_stream_close(st);
            http_stream_release(st);
            mcp_message_free(&lc->msg);
            free(lc);
            http_res_error(res, 503, "could not start the call; try again");
        }
        return;
    }
    mcp_session state = {0};
    mcp_call_ctx cx = {.ops = &ops, .limits = &g_limits, .transport = "http", .principal = c->who.key_id,
                       .header_version = hv};
    json_t *resp = mcp_handle(&state, &m, &cx);
    mcp_message_free(&m);
    int status = answer_status(resp);
    send_json(res, status, resp);
}

static void http_not_allowed(http_request *req, http_response *res)
{
    if (res->status) return;
    http_res_error(res, 405, "This server has no standalone event stream or sessions: POST each message");
    http_res_header(res, "Allow", "POST");
}

static void sse_post(http_request *req, http_response *res)
{
    api_mcp_caller *c = http_req_user(req);
    if (!c) { http_res_error(res, 500, "request state lost"); return; }
    const char *sid = http_req_query(req, "sessionId");
    sse_session *s = sid && *sid ? session_find(sid) : NULL;
    if (!s || s->closed) {
        if (s) session_unref(s);
        http_res_error(res, 404, "Session not found (open a new one with GET %s)", api_cfg()->mcp_sse_path);
        return;
    }
    if (strcmp(s->caller.who.key_id, c->who.key_id)) {     /* a session belongs to the key that opened it */
        session_unref(s);
        http_res_error(res, 403, "This session belongs to another key");
        return;
    }
    mcp_message m;
    if (parse_body(req, res, &m)) { session_unref(s); return; }
    pthread_mutex_lock(&g_sess_lock);
    s->last_active = mono_ms();
    pthread_mutex_unlock(&g_sess_lock);
    if (mcp_is_long_call(&m)) {
        long_call *lc = calloc(1, sizeof *lc);
        if (lc) {
            lc->msg = m;
            lc->caller = s->caller;
            lc->ops = s->ops;
            lc->sess = s;        /* the session reference passes to the thread */
            if (!start_long_call(lc)) { http_res_text(res, 202, "text/plain", "Accepted"); return; }
            free(lc);
        }
        mcp_message_free(&m);
        session_unref(s);
        http_res_error(res, 503, "could not start the call; try again");
        return;
    }
    mcp_call_ctx cx = {.ops = &s->ops, .limits = &g_limits, .emit = emit_to_stream, .emit_ctx = s->stream,
                       .transport = "sse", .principal = s->caller.who.key_id};
    json_t *resp = mcp_handle(&s->state, &m, &cx);
    mcp_message_free(&m);
    if (resp) sse_event(s->stream, "message", resp);
    json_decref(resp);
    session_unref(s);
    http_res_text(res, 202, "text/plain", "Accepted");
}

static void metadata(http_request *req, http_response *res)
{
    const config *cfg = api_cfg();
    char base[600];
    if (cfg->public_api_url[0]) str_copy(base, sizeof base, cfg->public_api_url);
    else str_fmt(base, sizeof base, "http://%s%s%s:%d", strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
                 strchr(cfg->listen_host, ':') ? "]" : "", cfg->listen_port);
    size_t bl = strlen(base);
    if (bl && base[bl - 1] == '/') base[bl - 1] = 0;
    char resource[800];
    str_fmt(resource, sizeof resource, "%s%s", base, cfg->mcp_http_path);
    json_t *o = json_object();
    json_object_set_new(o, "resource", json_string(resource));
    json_object_set_new(o, "authorization_servers", json_pack("[s]", cfg->oauth_issuer));
    json_object_set_new(o, "bearer_methods_supported", json_pack("[s]", "header"));
    json_object_set_new(o, "scopes_supported", json_pack("[s,s,s,s]", "fax:send", "fax:read", "inbound:list", "inbound:read"));
    json_object_set_new(o, "resource_name", json_string("Faxbot MCP"));
    api_json(res, 200, o);
}

static http_route g_mcp_routes[8];
static int g_n_mcp_routes;

void api_mcp_routes(const http_route **routes, int *n)
{
    const config *cfg = api_cfg();
    /* a base64 document as large as the upload limit, plus the JSON around it */
    size_t max_body = (size_t)(cfg->max_file_size_bytes / 3 * 4) + 1024 * 1024;
    g_n_mcp_routes = 0;
    if (cfg->enable_mcp_http) {
        g_mcp_routes[g_n_mcp_routes++] = (http_route){.method = "POST", .pattern = cfg->mcp_http_path, .body_mode = HTTP_BODY_BUFFER,
                                                      .max_body = max_body, .on_headers = mcp_on_headers, .handle = http_post,
                                                      .long_lived = true};   /* may answer with progress events */
        g_mcp_routes[g_n_mcp_routes++] = (http_route){.method = "GET", .pattern = cfg->mcp_http_path, .handle = http_not_allowed};
        g_mcp_routes[g_n_mcp_routes++] = (http_route){.method = "DELETE", .pattern = cfg->mcp_http_path, .handle = http_not_allowed};
    }
    if (cfg->enable_mcp_sse) {
        g_mcp_routes[g_n_mcp_routes++] = (http_route){.method = "GET", .pattern = cfg->mcp_sse_path, .on_headers = mcp_on_headers,
                                                      .handle = sse_open, .long_lived = true};
        g_mcp_routes[g_n_mcp_routes++] = (http_route){.method = "POST", .pattern = cfg->mcp_message_path, .body_mode = HTTP_BODY_BUFFER,
                                                      .max_body = max_body, .on_headers = mcp_on_headers, .handle = sse_post};
    }
    if ((cfg->enable_mcp_http || cfg->enable_mcp_sse) && cfg->require_mcp_oauth) {
        g_mcp_routes[g_n_mcp_routes++] = (http_route){.method = "GET", .pattern = "/.well-known/oauth-protected-resource", .handle = metadata};
        g_mcp_routes[g_n_mcp_routes++] = (http_route){.method = "GET", .pattern = g_metadata_path, .handle = metadata};
    }
    *routes = g_mcp_routes;
    *n = g_n_mcp_routes;
}

int api_mcp_init(char *err, size_t errlen)
{
    const config *cfg = api_cfg();
    str_fmt(g_tmp_dir, sizeof g_tmp_dir, "%s/tmp", cfg->data_dir);
    mkdir_p(g_tmp_dir, 0700);
    g_limits = (mcp_limits){.max_file_bytes = cfg->max_file_size_bytes, .send_wait_s = cfg->mcp_send_wait_s,
                            .tmp_dir = g_tmp_dir, .allow_file_path = false, .stopping = &g_stopping};
    atomic_store(&g_stopping, false);
    str_fmt(g_metadata_path, sizeof g_metadata_path, "/.well-known/oauth-protected-resource%s", cfg->mcp_http_path);
    if (cfg->public_api_url[0]) str_fmt(g_metadata_url, sizeof g_metadata_url, "%s%s", cfg->public_api_url, g_metadata_path);
    else str_fmt(g_metadata_url, sizeof g_metadata_url, "http://%s%s%s:%d%s", strchr(cfg->listen_host, ':') ? "[" : "",
                 cfg->listen_host, strchr(cfg->listen_host, ':') ? "]" : "", cfg->listen_port, g_metadata_path);
    if (cfg->require_mcp_oauth) {
        g_jwks = mcp_jwks_new(cfg->oauth_jwks_url, 300);
        if (!g_jwks) { str_fmt(err, errlen, "out of memory"); return -1; }
    }
    if (cfg->enable_mcp_sse) {
        g_keeper_stop = false;
        if (pthread_create(&g_keeper, NULL, keeper_main, NULL)) { str_fmt(err, errlen, "cannot start the MCP session thread"); return -1; }
        g_keeper_running = true;
    }
    if ((cfg->enable_mcp_http || cfg->enable_mcp_sse) && !cfg->require_mcp_oauth && !api_auth_enforced())
        log_warn("MCP over HTTP is enabled without API_KEY or REQUIRE_API_KEY: anyone who can reach this port can send faxes");
    return 0;
}

void api_mcp_stop(void)
{
    atomic_store(&g_stopping, true);
    if (g_keeper_running) {
        pthread_mutex_lock(&g_sess_lock);
        g_keeper_stop = true;
        pthread_cond_broadcast(&g_sess_wake);
        pthread_mutex_unlock(&g_sess_lock);
        pthread_join(g_keeper, NULL);
        g_keeper_running = false;
    }
    /* long calls hold the store and jobs: wait for them (they end within MCP_SEND_WAIT_SECONDS) */
    pthread_mutex_lock(&g_sess_lock);
    while (g_long_calls > 0) pthread_cond_wait(&g_sess_wake, &g_sess_lock);
    pthread_mutex_unlock(&g_sess_lock);
    mcp_jwks_free(g_jwks);
    g_jwks = NULL;
}
