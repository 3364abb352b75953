/* api.c — the API's shared machinery: the route table assembled from the handler
 * files, API key authentication (bootstrap key and database keys), scopes, rate
 * limits, JSON rendering of jobs, and request metrics. */
#include "api/api_internal.h"
#include "store/record_json.h"
#include "api/settings_apply.h"
#include "api/api_mcp.h"
#include "api/phone.h"
#include "auth/apikey.h"
#include "document/document.h"
#include "auth/audit.h"
#include "util/util.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

api_deps g_api;
ratelimit *g_ratelimit;

/* ---- request metrics ---- */
#define N_BUCKETS 10
static const double bucket_le[N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5};
static const int code_list[] = {200, 202, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503, 507};
#define N_CODES (sizeof code_list / sizeof code_list[0])
static _Atomic uint64_t g_code_count[N_CODES + 1];   /* last = other */
static _Atomic uint64_t g_bucket[N_BUCKETS + 1];     /* last = +Inf */
static _Atomic uint64_t g_duration_us;

void api_on_request_complete(const http_request *req, int status, double seconds, void *ctx)
{
    (void)req; (void)ctx;
    size_t i;
    for (i = 0; i < N_CODES && code_list[i] != status; i++) {}
    atomic_fetch_add_explicit(&g_code_count[i], 1, memory_order_relaxed);
    int b;
    for (b = 0; b < N_BUCKETS && seconds > bucket_le[b]; b++) {}
    atomic_fetch_add_explicit(&g_bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_duration_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
}

void api_metrics_http(strbuf *sb)
{
    sb_puts(sb, "# HELP faxbot_http_requests_total HTTP requests answered, by status code.\n"
                "# TYPE faxbot_http_requests_total counter\n");
    for (size_t i = 0; i <= N_CODES; i++) {
        uint64_t v = atomic_load(&g_code_count[i]);
        if (i < N_CODES) sb_appendf(sb, "faxbot_http_requests_total{code=\"%d\"} %llu\n", code_list[i], (unsigned long long)v);
        else sb_appendf(sb, "faxbot_http_requests_total{code=\"other\"} %llu\n", (unsigned long long)v);
    }
    sb_puts(sb, "# HELP faxbot_http_request_duration_seconds Time to answer HTTP requests.\n"
                "# TYPE faxbot_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < N_BUCKETS; b++) {
        cum += atomic_load(&g_bucket[b]);
        sb_appendf(sb, "faxbot_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[b], (unsigned long long)cum);
    }
    cum += atomic_load(&g_bucket[N_BUCKETS]);
    sb_appendf(sb, "faxbot_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    sb_appendf(sb, "faxbot_http_request_duration_seconds_sum %.6f\n", (double)atomic_load(&g_duration_us) / 1e6);
    sb_appendf(sb, "faxbot_http_request_duration_seconds_count %llu\n", (unsigned long long)cum);
}

/* ---- auth ---- */
bool api_auth_enforced(void)
{
    return api_cfg()->require_api_key || api_cfg()->api_key[0];
}

/* KEY_UNAVAILABLE: the store could not be asked (a database restarting): 503, not 401. */
typedef enum { KEY_NONE, KEY_INVALID, KEY_OK, KEY_NO_CSRF, KEY_UNAVAILABLE } key_result;

session_table *g_console_sessions;

static void principal_from_record(const key_record *k, principal *who)
{
    who->authenticated = true;
    str_copy(who->key_id, sizeof who->key_id, k->key_id);
    str_copy(who->scopes, sizeof who->scopes, k->scopes);
    str_copy(who->owner, sizeof who->owner, k->owner[0] ? k->owner : k->key_id);
    who->all_owners = apikey_scopes_allow(k->scopes, "fax:all") || apikey_scopes_allow(k->scopes, "keys:manage");
}

static void principal_bootstrap(principal *who)
{
    who->authenticated = who->bootstrap = true;
    str_copy(who->key_id, sizeof who->key_id, "env");
    str_copy(who->scopes, sizeof who->scopes, "*,keys:manage");
    str_copy(who->owner, sizeof who->owner, "env");
    who->all_owners = true;
}

/* Checks the state of a stored key (revoked, expired) and notes its use. */
static key_result key_usable(const key_record *k, char *why, size_t whylen)
{
    int64_t now = now_ms();
    if (k->revoked_at) { str_fmt(why, whylen, "revoked"); return KEY_INVALID; }
    if (k->expires_at && k->expires_at <= now) { str_fmt(why, whylen, "expired"); return KEY_INVALID; }
    /* last_used_at at minute granularity: a write per request would cap throughput. */
    if (now - k->last_used_at > 60000) store_key_touch(g_api.st, k->key_id, now);
    return KEY_OK;
}

/* Resolves an API key token into a principal; key_hash (65 bytes, optional)
 * receives the hash that identifies this very secret (for a session). */
static key_result resolve_token(const char *token, principal *who, char *why, size_t whylen, char *key_hash)
{
    memset(who, 0, sizeof *who);
    if (!token || !*token) return KEY_NONE;
    if (api_cfg()->api_key[0] && secure_streq(token, api_cfg()->api_key)) {
        principal_bootstrap(who);
        if (key_hash) apikey_hash(g_api.pepper, token, key_hash);
        return KEY_OK;
    }
    apikey_parts parts;
    if (apikey_parse(token, &parts)) { str_fmt(why, whylen, "malformed"); return KEY_INVALID; }
    key_record k;
    int rc = store_key_get(g_api.st, parts.key_id, &k);
    if (rc == STORE_ERROR || rc == STORE_FULL) { str_fmt(why, whylen, "database unavailable"); return KEY_UNAVAILABLE; }
    if (rc != STORE_OK) { str_fmt(why, whylen, "unknown key"); return KEY_INVALID; }
    char hash[65];
    apikey_hash(g_api.pepper, parts.secret, hash);
    if (!secure_streq(hash, k.key_hash)) { str_fmt(why, whylen, "wrong secret"); return KEY_INVALID; }
    if (key_usable(&k, why, whylen) != KEY_OK) return KEY_INVALID;
    principal_from_record(&k, who);
    if (key_hash) str_copy(key_hash, 65, hash);
    return KEY_OK;
}

const char *api_session_cookie(http_request *req, char *buf, size_t buflen)
{
    const char *c = http_req_header(req, "Cookie");
    size_t nlen = strlen(API_SESSION_COOKIE);
    while (c && *c) {
        while (*c == ' ' || *c == ';') c++;
        const char *end = strchr(c, ';');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len > nlen && !strncmp(c, API_SESSION_COOKIE, nlen) && c[nlen] == '=') {
            size_t vlen = len - nlen - 1;
            if (vlen >= buflen) return NULL;
            memcpy(buf, c + nlen + 1, vlen);
            buf[vlen] = 0;
            return buf;
        }
        c = end;
    }
    return NULL;
}

static bool changes_state(http_request *req)
{
    const char *m = http_req_method(req);
    return strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
}

/* The console's session cookie stands for the key it signed in with: the key is
 * looked up again on every request (revoked, expired or rotated ends the
 * session), and a request that changes state must carry the session's CSRF token
 * in X-CSRF-Token. */
static key_result resolve_session(http_request *req, const char *sid, principal *who, char *why, size_t whylen)
{
    session_info s;
    if (!g_console_sessions || api_session_lookup(sid, &s)) { str_fmt(why, whylen, "session expired"); return KEY_INVALID; }
    if (changes_state(req)) {
        const char *csrf = http_req_header(req, "X-CSRF-Token");
        if (!csrf || !secure_streq(csrf, s.csrf)) { str_fmt(why, whylen, "missing or wrong CSRF token"); return KEY_NO_CSRF; }
    }
    if (!strcmp(s.key_id, "env")) {
        char hash[65] = "";
        if (api_cfg()->api_key[0]) apikey_hash(g_api.pepper, api_cfg()->api_key, hash);
        if (!hash[0] || !secure_streq(hash, s.key_hash)) goto ended;
        principal_bootstrap(who);
        return KEY_OK;
    }
    key_record k;
    int rc = store_key_get(g_api.st, s.key_id, &k);
    if (rc == STORE_ERROR || rc == STORE_FULL) { str_fmt(why, whylen, "database unavailable"); return KEY_UNAVAILABLE; }
    if (rc != STORE_OK || !secure_streq(k.key_hash, s.key_hash)) goto ended;
    if (key_usable(&k, why, whylen) != KEY_OK) goto ended;
    principal_from_record(&k, who);
    return KEY_OK;
ended:
    api_session_end(sid);
    str_fmt(why, whylen, "session's key is no longer valid");
    return KEY_INVALID;
}

/* Resolves the X-API-Key header, or else the console's session cookie, into a principal. */
static key_result resolve_key(http_request *req, principal *who, char *why, size_t whylen)
{
    memset(who, 0, sizeof *who);
    const char *token = http_req_header(req, "X-API-Key");
    if (token && *token) return resolve_token(token, who, why, whylen, NULL);
    char sid[64];
    if (api_session_cookie(req, sid, sizeof sid)) return resolve_session(req, sid, who, why, whylen);
    return KEY_NONE;
}

/* The key a request presents: X-API-Key, else an Authorization: Bearer token (MCP). */
static const char *presented_token(http_request *req)
{
    const char *t = http_req_header(req, "X-API-Key");
    if (t && *t) return t;
    const char *a = http_req_header(req, "Authorization");
    if (a && !strncasecmp(a, "Bearer ", 7)) {
        a += 7;
        while (*a == ' ') a++;
        return a;
    }
    return NULL;
}

/* Failed authentications are counted per (client address, key id) — "auth:<addr>
 * <key id>", label "auth_failed" — in the same per-minute windows as the request
 * rate limits; the key id is the one the token names ("-" for a missing or
 * malformed token). Once a pair has AUTH_FAILURES_PER_MINUTE failures in a window,
 * its requests get 429 until the window ends, before the key is even looked at, so
 * a key cannot be guessed (or confirmed) during the flood, while other keys used
 * from the same address (say, behind the same proxy) keep working. The client
 * address is the forwarded one when the peer is in TRUSTED_PROXIES. */
static void auth_fail_key(http_request *req, const char *token, char *out, size_t outlen)
{
    apikey_parts parts;
    const char *key_id = "-";
    if (token && *token && apikey_parse(token, &parts) == 0) key_id = parts.key_id;
    str_fmt(out, outlen, "auth:%s %s", http_req_client_ip(req), key_id);
}

/* Returns -1 (res filled with 429) while the client's (address, key id) is locked out. */
static int auth_flood_check_token(http_request *req, http_response *res, const char *token)
{
    int limit = api_cfg()->auth_failures_per_minute;
    if (limit <= 0) return 0;
    char lockkey[96];
    auth_fail_key(req, token, lockkey, sizeof lockkey);
    int64_t now = now_ms();
    int retry = ratelimit_peek(g_ratelimit, lockkey, "auth_failed", limit, now);
    if (!retry) return 0;
    /* audited once per window: the first refusal of the window takes the only slot */
    if (ratelimit_hit(g_ratelimit, lockkey, "auth_rate_limited", 1, now) == 0) {
        char lim[16];
        str_fmt(lim, sizeof lim, "%d", limit);
        audit_event("auth_rate_limited", "ip", http_req_client_ip(req), "path", http_req_path(req), "limit", lim, NULL);
    }
    char ra[16];
    str_fmt(ra, sizeof ra, "%d", retry);
    http_res_error(res, 429, "Too many failed authentications; try again later");
    http_res_header(res, "Retry-After", ra);
    return -1;
}

static int auth_flood_check(http_request *req, http_response *res)
{
    return auth_flood_check_token(req, res, presented_token(req));
}

static void audit_auth_failed_token(http_request *req, const char *why, const char *token)
{
    audit_event("auth_failed", "path", http_req_path(req), "reason", why, "ip", http_req_client_ip(req), NULL);
    char lockkey[96];
    auth_fail_key(req, token, lockkey, sizeof lockkey);
    ratelimit_hit(g_ratelimit, lockkey, "auth_failed", api_cfg()->auth_failures_per_minute, now_ms());
}

static void audit_auth_failed(http_request *req, const char *why)
{
    audit_auth_failed_token(req, why, presented_token(req));
}

/* The key could not be checked for want of the database: a 503 the client retries
 * (not an authentication failure: nothing is audited or counted against it). */
static bool key_unavailable(http_response *res, key_result kr)
{
    if (kr != KEY_UNAVAILABLE) return false;
    http_res_error(res, 503, "The database is unavailable; try again shortly");
    return true;
}

/* 401, or 403 when only the CSRF token is missing or wrong. */
static void refuse(http_response *res, key_result kr, const char *msg)
{
    if (kr == KEY_NO_CSRF) http_res_error(res, 403, "CSRF token missing or wrong: send the X-CSRF-Token from GET /admin/ui/session");
    else http_res_error(res, 401, "%s", msg);
}

int api_signin_check(http_request *req, http_response *res, const char *token, principal *who, char key_hash[65])
{
    memset(who, 0, sizeof *who);
    if (auth_flood_check_token(req, res, token)) return -1;
    char why[64] = "";
    key_result kr = resolve_token(token, who, why, sizeof why, key_hash);
    if (key_unavailable(res, kr)) return -1;
    if (kr != KEY_OK) {
        audit_auth_failed_token(req, kr == KEY_NONE ? "missing key" : why, token);
        http_res_error(res, 401, "That API key is not valid (%s)", kr == KEY_NONE ? "empty" : why);
        return -1;
    }
    return 0;
}

int api_require_key(http_request *req, http_response *res, principal *who)
{
    memset(who, 0, sizeof *who);
    if (auth_flood_check(req, res)) return -1;
    char why[64] = "";
    key_result kr = resolve_key(req, who, why, sizeof why);
    if (key_unavailable(res, kr)) return -1;
    if (kr != KEY_OK) {
        audit_auth_failed(req, kr == KEY_NONE ? "missing key" : why);
        refuse(res, kr, "Invalid or missing API key");
        return -1;
    }
    return 0;
}

int api_require(http_request *req, http_response *res, const char *scope, const char *label, int rpm, principal *who)
{
    const char *one[] = {scope, NULL};
    return api_require_any(req, res, one, label, rpm, who);
}

int api_require_any(http_request *req, http_response *res, const char *const *scopes, const char *label, int rpm,
                    principal *who)
{
    memset(who, 0, sizeof *who);
    if (auth_flood_check(req, res)) return -1;
    char why[64] = "";
    key_result kr = resolve_key(req, who, why, sizeof why);
    if (key_unavailable(res, kr)) return -1;
    if (kr == KEY_INVALID || kr == KEY_NO_CSRF || (kr == KEY_NONE && api_auth_enforced())) {
        audit_auth_failed(req, kr == KEY_NONE ? "missing key" : why);
        refuse(res, kr, "Invalid or missing API key");
        return -1;
    }
    if (kr == KEY_NONE) {            /* open dev mode: no key, no scope check, one owner */
        who->all_owners = true;
        return 0;
    }
    bool allowed = false;
    for (int i = 0; scopes[i] && !allowed; i++) allowed = apikey_scopes_allow(who->scopes, scopes[i]);
    if (!allowed) {
        char wanted[128] = "";
        for (int i = 0; scopes[i]; i++)
            str_fmt(wanted + strlen(wanted), sizeof wanted - strlen(wanted), "%s%s", i ? " or " : "", scopes[i]);
        audit_event("api_key_denied_scope", "key_id", who->key_id, "required", wanted, NULL);
        http_res_error(res, 403, "Insufficient scope: %s required", wanted);
        return -1;
    }
    int retry = ratelimit_hit(g_ratelimit, who->key_id, label, rpm, now_ms());
    if (retry > 0) {
        char lim[16], ra[16];
        str_fmt(lim, sizeof lim, "%d", rpm);
        str_fmt(ra, sizeof ra, "%d", retry);
        audit_event("rate_limited", "key_id", who->key_id, "path", label, "limit", lim, NULL);
        http_res_error(res, 429, "Rate limit exceeded");
        http_res_header(res, "Retry-After", ra);
        return -1;
    }
    return 0;
}

int api_authenticate_token(http_request *req, http_response *res, const char *token, principal *who)
{
    memset(who, 0, sizeof *who);
    if (auth_flood_check(req, res)) return -1;
    char why[64] = "";
    key_result kr = resolve_token(token, who, why, sizeof why, NULL);
    if (key_unavailable(res, kr)) return -1;
    if (kr == KEY_INVALID || (kr == KEY_NONE && api_auth_enforced())) {
        audit_auth_failed(req, kr == KEY_NONE ? "missing key" : why);
        http_res_error(res, 401, "Invalid or missing API key");
        return -1;
    }
    if (kr == KEY_NONE) who->all_owners = true;    /* open dev mode: one owner */
    return 0;
}

int api_auth_lockout(http_request *req, http_response *res)
{
    return auth_flood_check(req, res);
}

void api_auth_failed(http_request *req, const char *why)
{
    audit_auth_failed(req, why);
}

bool api_may_see(const principal *who, const char *owner, bool unowned_is_shared)
{
    if (who->all_owners) return true;
    if (!owner || !owner[0]) return unowned_is_shared;
    return !strcmp(owner, who->owner);
}

int api_require_admin(http_request *req, http_response *res, principal *who)
{
    memset(who, 0, sizeof *who);
    api_admin_headers(res);
    if (auth_flood_check(req, res)) return -1;
    char why[64] = "";
    key_result kr = resolve_key(req, who, why, sizeof why);
    if (key_unavailable(res, kr)) return -1;
    if (kr != KEY_OK) {
        audit_auth_failed(req, kr == KEY_NONE ? "missing admin key" : why);
        refuse(res, kr, "Admin authentication failed");
        return -1;
    }
    if (!who->bootstrap && !apikey_scopes_allow(who->scopes, "keys:manage")) {
        audit_event("api_key_denied_scope", "key_id", who->key_id, "required", "keys:manage", NULL);
        http_res_error(res, 403, "Insufficient scope: keys:manage required");
        return -1;
    }
    /* every admin action, with who and from where */
    audit_event("admin_action", "method", http_req_method(req), "path", http_req_path(req), "key_id", who->key_id,
                "ip", http_req_client_ip(req), NULL);
    return 0;
}

void api_admin_headers(http_response *res)
{
    http_res_header(res, "X-Frame-Options", "DENY");
    http_res_header(res, "X-Content-Type-Options", "nosniff");
    http_res_header(res, "Cache-Control", "no-store, no-cache, must-revalidate");
    http_res_header(res, "Pragma", "no-cache");
}

/* ---- JSON ---- */
void api_json(http_response *res, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) { http_res_error(res, 500, "could not render the response"); return; }
    http_res_set(res, status, "application/json", s, strlen(s));
}

json_t *api_time_json(int64_t ms) { return record_time_json(ms); }

json_t *api_job_json(const job_record *r)
{
    json_t *o = record_job_json(r);
    if (!strcmp(r->backend, "loopback"))
        json_object_set_new(o, "delivery", json_string(LOOPBACK_NOTICE));
    return o;
}

int api_query_time(http_request *req, http_response *res, const char *name, int64_t *out)
{
    const char *v = http_req_query(req, name);
    *out = 0;
    if (!v || !*v) return 0;
    *out = ms_from_iso8601(v);
    if (*out < 0) {
        http_res_error(res, 400, "'%s' must be an ISO-8601 time like 2027-01-31T00:00:00Z", name);
        return -1;
    }
    return 0;
}

int api_query_limit(http_request *req, http_response *res, int dflt, int *out)
{
    const char *limit = http_req_query(req, "limit");
    *out = dflt;
    if (!limit) return 0;
    char *end;
    long l = strtol(limit, &end, 10);
    if (!*limit || *end || l < 1 || l > 500) {
        http_res_error(res, 400, "'limit' must be a number from 1 to 500");
        return -1;
    }
    *out = (int)l;
    return 0;
}

int api_parse_cursor(const char *cursor, int64_t *ms, char id[33])
{
    *ms = 0;
    id[0] = 0;
    if (!cursor || !*cursor) return 0;
    char *end;
    long long t = strtoll(cursor, &end, 10);
    if (t <= 0 || *end != '.' || !api_valid_id(end + 1)) return -1;
    *ms = t;
    str_copy(id, 33, end + 1);
    return 0;
}

int api_query_cursor(http_request *req, http_response *res, int64_t *ms, char id[33])
{
    if (api_parse_cursor(http_req_query(req, "cursor"), ms, id)) {
        http_res_error(res, 400, "'cursor' is not one this server gave out");
        return -1;
    }
    return 0;
}

int api_query_number(http_request *req, http_response *res, const char *name, char out[24], bool *set)
{
    const char *q = http_req_query(req, name);
    *set = false;
    if (!q || !*q) return 0;
    char err[256];
    if (phone_normalize(q, api_cfg()->default_country_code, out, err, sizeof err)) {
        http_res_error(res, 400, "%s", err);
        return -1;
    }
    *set = true;
    return 0;
}

bool api_valid_id(const char *id)
{
    if (!id || strlen(id) != 32) return false;
    for (const char *p = id; *p; p++)
        if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'f')) return false;
    return true;
}

void api_send_file(http_response *res, const char *path, const char *ctype, const char *filename,
                   const char *missing_detail)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        if (fd >= 0) close(fd);
        http_res_error(res, 404, "%s", missing_detail);
        return;
    }
    char disp[128];
    str_fmt(disp, sizeof disp, "attachment; filename=%s", filename);
    http_res_header(res, "Content-Disposition", disp);
    http_res_header(res, "Cache-Control", "no-cache, no-store, must-revalidate");
    http_res_header(res, "Pragma", "no-cache");
    http_res_header(res, "Expires", "0");
    http_res_file(res, 200, ctype, fd, (int64_t)st.st_size);
}

void api_send_page_thumbnail(http_request *req, http_response *res, const char *path, const char *missing_detail)
{
    const char *pq = http_req_query(req, "page"), *wq = http_req_query(req, "width");
    char *end = NULL;
    long page = pq && *pq ? strtol(pq, &end, 10) : 1;
    if ((end && *end) || page < 1 || page > 100000) { http_res_error(res, 400, "'page' must be a page number (1, 2, …)"); return; }
    end = NULL;
    long width = wq && *wq ? strtol(wq, &end, 10) : 240;
    if ((end && *end) || width < 64 || width > 864) { http_res_error(res, 400, "'width' must be 64..864 pixels"); return; }
    if (access(path, R_OK)) { http_res_error(res, 404, "%s", missing_detail); return; }
    unsigned char *png = NULL;
    size_t len = 0;
    int pages = 0;
    char err[256];
    int rc = doc_tiff_page_png(path, (int)page, (int)width, &png, &len, &pages, err, sizeof err);
    if (pages > 0) {
        char n[16];
        str_fmt(n, sizeof n, "%d", pages);
        http_res_header(res, "X-Page-Count", n);
    }
    if (rc) { http_res_error(res, pages > 0 && page > pages ? 404 : 500, "%s", err); return; }
    http_res_header(res, "Cache-Control", "private, no-cache");
    http_res_set(res, 200, "image/png", (char *)png, len);
}

/* ---- setup ---- */
static http_route g_routes[192];
static int g_n_routes;

static void add_routes(void (*get)(const http_route **, int *))
{
    const http_route *r;
    int n;
    get(&r, &n);
    for (int i = 0; i < n && g_n_routes < (int)(sizeof g_routes / sizeof g_routes[0]); i++) g_routes[g_n_routes++] = r[i];
}

int api_init(const api_deps *deps, char *err, size_t errlen)
{
    g_api = *deps;
    g_ratelimit = ratelimit_new();
    g_console_sessions = session_table_new(API_SESSION_CAPACITY, API_SESSION_IDLE_MS, API_SESSION_MAX_AGE_MS);
    if (!g_ratelimit || !g_console_sessions) { str_fmt(err, errlen, "out of memory"); return -1; }
    g_n_routes = 0;
    add_routes(api_health_routes);
    add_routes(api_fax_routes);
    add_routes(api_inbound_routes);
    add_routes(api_admin_routes);
    add_routes(api_settings_routes);
    add_routes(api_admin_ops_routes);
    add_routes(api_plugins_routes);
    add_routes(api_callback_routes);
    add_routes(api_openapi_routes);
    add_routes(api_events_routes);
    if (api_mcp_init(err, errlen)) return -1;
    add_routes(api_mcp_routes);
    add_routes(api_console_routes);
    if (!api_auth_enforced())
        log_warn("no API_KEY and REQUIRE_API_KEY is not true: fax routes are open to anyone who can reach "
                 "this port (fine for local development only)");
    return 0;
}

void api_shutdown(void)
{
    api_mcp_stop();
    settings_apply_shutdown();
    ratelimit_free(g_ratelimit);
    g_ratelimit = NULL;
    session_table_free(g_console_sessions);
    g_console_sessions = NULL;
}

const http_route *api_routes(int *n)
{
    *n = g_n_routes;
    return g_routes;
}

/* The request body as a JSON object ({} when empty), or NULL with res filled with
 * a 400 that says where the JSON went wrong. */
json_t *api_json_object_body(http_request *req, http_response *res)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    if (!len) return json_object();
    json_error_t je;
    json_t *v = json_loadb(body, len, 0, &je);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        if (v) http_res_error(res, 400, "the body must be a JSON object");
        else http_res_error(res, 400, "the body must be a JSON object (line %d, column %d: %s)", je.line, je.column, je.text);
        return NULL;
    }
    return v;
}
