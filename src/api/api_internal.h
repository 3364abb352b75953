/* api_internal.h — shared by the handler files in api/: the dependencies, the
 * authenticated principal of a request, auth checks, and JSON helpers. */
#ifndef FAXBOT_API_INTERNAL_H
#define FAXBOT_API_INTERNAL_H

#include "api/api.h"
#include "auth/ratelimit.h"
#include "auth/session.h"

#include <jansson.h>
#include <stdbool.h>

extern api_deps g_api;
/* The configuration in force: a live settings change replaces it (settings_apply.c). */
static inline const config *api_cfg(void) { return __atomic_load_n(&g_api.cfg, __ATOMIC_ACQUIRE); }
extern ratelimit *g_ratelimit;

typedef struct principal {
    bool authenticated;          /* false only in open dev mode without a key */
    bool bootstrap;              /* the env API_KEY */
    char key_id[16];             /* "env" for the bootstrap key */
    char scopes[256];
    char owner[128];             /* whose work it makes and sees: the key's owner, else its id */
    bool all_owners;             /* sees and acts on every owner's work: the bootstrap key, open dev
                                    mode, keys with keys:manage or the explicit fax:all scope */
} principal;

/* Checks the X-API-Key for a fax/inbound route needing `scope`, then the rate
 * limit for `label` (limit rpm). On refusal fills res (401/403/429) and returns -1. */
int api_require(http_request *req, http_response *res, const char *scope, const char *label, int rpm, principal *who);
/* The same, passing if the key has any of scopes (NULL-terminated). */
int api_require_any(http_request *req, http_response *res, const char *const *scopes, const char *label, int rpm,
                    principal *who);
/* Authenticates an API key given by other means than X-API-Key (MCP's bearer
 * token): the same lookup, failure audit and flood lock-out as api_require, no
 * scope or rate check. 0 (who filled; unauthenticated in open dev mode) or -1 with
 * res filled (401/429). */
int api_authenticate_token(http_request *req, http_response *res, const char *token, principal *who);
/* -1 with res filled (429) while the client's address is locked out after too many
 * failed authentications (AUTH_FAILURES_PER_MINUTE). */
int api_auth_lockout(http_request *req, http_response *res);
/* Audits a failed authentication and counts it against the client's address. */
void api_auth_failed(http_request *req, const char *why);
/* Any valid key, whatever its scopes, even when fax routes are open (METRICS_REQUIRE_KEY). */
int api_require_key(http_request *req, http_response *res, principal *who);
/* Admin routes: the bootstrap key or a key with keys:manage. */
int api_require_admin(http_request *req, http_response *res, principal *who);
/* True when who may see and act on work that belongs to owner. An inbound fax
 * routed to nobody (owner "") is seen by every key with the inbound scopes. */
bool api_may_see(const principal *who, const char *owner, bool unowned_is_shared);
/* True when fax routes need a key (API_KEY set or REQUIRE_API_KEY). */
bool api_auth_enforced(void);
/* Ghostscript is found where the conversion sandbox will look for it (GHOSTSCRIPT_PATH). */
bool api_ghostscript_present(void);

/* Sends a JSON value (takes the reference) with status. */
void api_json(http_response *res, int status, json_t *v);
/* The request body as a JSON object ({} when empty), or NULL with res filled (400). */
json_t *api_json_object_body(http_request *req, http_response *res);
/* A comma-separated scope list → JSON array of names (api_admin.c). */
json_t *api_scopes_json(const char *csv);
/* Job → JSON as the API shows it. */
json_t *api_job_json(const job_record *r);
/* ISO time or JSON null for 0. */
json_t *api_time_json(int64_t ms);
/* List query parameters shared by GET /fax and GET /inbound. Each returns 0 (the
 * value, or dflt when absent) or -1 after filling res with a 400. */
int api_query_limit(http_request *req, http_response *res, int dflt, int *out);
/* cursor = "<ms>.<id>" of the last item of the previous page; *ms = 0 when absent. */
int api_query_cursor(http_request *req, http_response *res, int64_t *ms, char id[33]);
/* The same, from a string: -1 if it is not a cursor this server gave out. */
int api_parse_cursor(const char *cursor, int64_t *ms, char id[33]);
/* A phone-number filter normalized like 'to'; *set false when absent. */
int api_query_number(http_request *req, http_response *res, const char *name, char out[24], bool *set);
/* An ISO-8601 time (since, until); *out = 0 when absent. */
int api_query_time(http_request *req, http_response *res, const char *name, int64_t *out);

/* Answers a GET /fax page of `page` rows matching f (its strings are copied) as a
 * stream read from the store in batches; 503 if the first batch cannot be read. */
void api_stream_jobs(http_response *res, const job_filter *f, int page);

/* True for our ids: 32 lowercase hex characters. */
bool api_valid_id(const char *id);
/* Sends the file at path as a no-cache attachment named filename; 404 with
 * missing_detail if it is not there. */
void api_send_file(http_response *res, const char *path, const char *ctype, const char *filename,
                   const char *missing_detail);
/* Security headers for admin responses. */
void api_admin_headers(http_response *res);
/* GET …/thumbnail?page=N&width=W: page N (default 1) of the fax TIFF at path as a
 * PNG W pixels wide (64..864, default 240), X-Page-Count says how many pages there
 * are; 404 with missing_detail if the TIFF is not there, 400 for a bad page. */
void api_send_page_thumbnail(http_request *req, http_response *res, const char *path, const char *missing_detail);

/* An inbound fax as the API shows it (with a short-lived pdf_url when asked). */
json_t *api_inbound_json(const inbound_record *r, bool with_url);
/* Cancels a job who may see: 0 with *out, or the HTTP status to answer (404, 409,
 * 503) with detail. */
int api_cancel_job(const principal *who, const char *id, job_record *out, char *detail, size_t detail_len);

/* Appends the HTTP request metrics in Prometheus text format. */
struct strbuf;
void api_metrics_http(struct strbuf *sb);

/* ---- the Admin Console's sessions (api_console.c, api_session.c) ---- */
#define API_SESSION_COOKIE "faxbot_session"
#define API_SESSION_CAPACITY 1024
#define API_SESSION_IDLE_MS (30LL * 60 * 1000)          /* signed out after 30 idle minutes */
#define API_SESSION_MAX_AGE_MS (12LL * 3600 * 1000)     /* and after 12 hours whatever happens */
extern session_table *g_console_sessions;
/* Sessions in memory and in the store (api_session.c): create (0, or -1 without
 * random bytes), look up (0, or -1 when there is no live session), end one, end
 * every session of a key. */
int api_session_create(const principal *who, const char *key_hash, char sid[SESSION_ID_LEN + 1], session_info *s);
int api_session_lookup(const char *sid, session_info *s);
void api_session_end(const char *sid);
void api_sessions_end_key(const char *key_id);
/* The session cookie's value copied into buf, or NULL when there is none. */
const char *api_session_cookie(http_request *req, char *buf, size_t buflen);
/* Sign-in: checks token like X-API-Key (rate limited and audited like every
 * authentication failure). 0 with who and the key's hash, or -1 with res filled. */
int api_signin_check(http_request *req, http_response *res, const char *token, principal *who, char key_hash[65]);

/* handlers, by file */
void api_fax_routes(const http_route **routes, int *n);
void api_admin_routes(const http_route **routes, int *n);
void api_health_routes(const http_route **routes, int *n);
void api_openapi_routes(const http_route **routes, int *n);
void api_inbound_routes(const http_route **routes, int *n);
void api_callback_routes(const http_route **routes, int *n);
void api_events_routes(const http_route **routes, int *n);
/* callback_url / webhook URL check for POST time: 0, or -1 with a 400 in res. */
int api_check_webhook_url(http_response *res, const char *field, const char *url);
/* Webhook deliveries (newest first) as JSON, of an endpoint or of a job. */
json_t *api_deliveries_json(const char *endpoint_id, const char *job_id, int max);
void api_settings_routes(const http_route **routes, int *n);
void api_admin_ops_routes(const http_route **routes, int *n);
void api_console_routes(const http_route **routes, int *n);
void api_mcp_routes(const http_route **routes, int *n);
void api_plugins_routes(const http_route **routes, int *n);

/* What every loopback job and /health say, so that nobody takes a test for a real fax. */
#define LOOPBACK_NOTICE "built-in test receiver (FAX_BACKEND=loopback): nothing was sent to a real fax machine"

#endif
