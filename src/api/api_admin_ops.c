/* api_admin_ops.c — the admin routes an operator (and the Admin Console) uses to
 * watch the gateway, in Faxbot's shapes (FAXBOT.md §1.6, §10):
 *   GET  /admin/health-status            job counts, backend state, queue depth, disk free
 *   GET  /admin/fax-jobs                 paged list, filters status/backend/to/since/until
 *   GET  /admin/fax-jobs/{id}            one job with every attempt
 *   GET  /admin/fax-jobs/{id}/pdf        the normalized PDF
 *   POST /admin/fax-jobs/{id}/refresh    asks the backend about an in-progress job now
 *   POST /admin/fax-jobs/{id}/retry      a FAILED job queued again for one more attempt
 *   GET  /admin/logs, /admin/logs/tail   the recent audit events, the audit file's tail
 *   GET  /admin/logs/stream              live log lines and audit events (Server-Sent Events)
 *   GET  /admin/inbound/callbacks        what a provider or PBX must be told for inbound
 * Phone numbers are masked in lists and errors; secrets never appear (the FreeSWITCH
 * hook text masks its secret unless an admin asks for it, which is audited). */
#include "api/api_internal.h"
#include "auth/audit.h"
#include "esl/esl_settings.h"
#include "util/util.h"
#include "util/log_tap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const STATUSES[] = {"queued", "in_progress", "SUCCESS", "FAILED", "cancelled"};

/* The nodes sharing the store (PostgreSQL; [] on SQLite), this one first: who is
 * alive and how many in_progress leases each holds. */
static json_t *nodes_json(void)
{
    store_node nodes[32];
    int n = store_node_list(g_api.st, now_ms(), nodes, 32);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        char started[32], beat[32];
        iso8601_from_ms(nodes[i].started_at, started);
        iso8601_from_ms(nodes[i].heartbeat_at, beat);
        json_array_append_new(arr, json_pack("{s:s,s:b,s:b,s:s,s:s,s:I}", "id", nodes[i].node_id, "this",
                                             !strcmp(nodes[i].node_id, store_node_id(g_api.st)), "alive",
                                             nodes[i].alive, "started_at", started, "heartbeat_at", beat,
                                             "leases_held", (json_int_t)nodes[i].jobs_held));
    }
    return arr;
}

/* The named leases (one node at a time talks to a PBX connection, sweeps
 * retention): who holds each and until when; "held" false once it ran out or was
 * given up. */
static json_t *leases_json(void)
{
    store_lease ls[32];
    int n = store_lease_list(g_api.st, ls, 32);
    int64_t now = now_ms();
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        char since[32], until[32];
        iso8601_from_ms(ls[i].acquired_at, since);
        iso8601_from_ms(ls[i].until, until);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:b,s:s,s:s}", "name", ls[i].name, "node", ls[i].node_id,
                                             "this", !strcmp(ls[i].node_id, store_node_id(g_api.st)), "held",
                                             ls[i].until >= now, "since", since, "until", until));
    }
    return arr;
}

static void health_status(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    int64_t counts[5] = {0};
    bool db = store_job_count_by_status(g_api.st, STATUSES, 5, counts) == STORE_OK;
    json_t *by = json_object();
    for (int i = 0; i < 5; i++) json_object_set_new(by, STATUSES[i], json_integer(counts[i]));
    job_search q = {.status = "FAILED", .created_from = now_ms() - 3600 * 1000LL, .limit = 0};
    int64_t recent = 0;
    job_record none;
    store_job_search(g_api.st, &q, &none, &recent);
    char msg[512] = "", slots[1024] = "[]";
    bool ready = jobs_backend_check(g_api.jobs, msg, sizeof msg) == 0;
    jobs_backend_slots_json(g_api.jobs, slots, sizeof slots);
    int64_t free_bytes = 0;
    char serr[256];
    bool storage = blob_check(g_api.blobs, &free_bytes, serr, sizeof serr) == 0;
    jobs_stats js;
    jobs_get_stats(g_api.jobs, &js);
    char ts[32];
    iso8601_from_ms(now_ms(), ts);
    json_t *o = json_object();
    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "backend", json_string(jobs_backend_name(g_api.jobs)));
    json_object_set_new(o, "backend_healthy", json_boolean(ready && db && storage));
    json_object_set_new(o, "backend_state", json_pack("{s:b,s:s,s:o}", "ready", ready, "message", msg,
                                                      "instances", json_loads(slots, 0, NULL)));
    json_object_set_new(o, "jobs", json_pack("{s:I,s:I,s:I,s:o}", "queued", (json_int_t)counts[0], "in_progress",
                                             (json_int_t)counts[1], "recent_failures", (json_int_t)recent, "by_status", by));
    json_object_set_new(o, "queue_depth", json_integer(counts[0]));
    json_object_set_new(o, "workers", json_pack("{s:i,s:i}", "busy", js.busy_workers, "total", js.workers));
    json_object_set_new(o, "disk_free_bytes", json_integer(free_bytes));
    json_object_set_new(o, "database_connected", json_boolean(db));
    json_object_set_new(o, "inbound_enabled", json_boolean(api_cfg()->inbound_enabled));
    json_object_set_new(o, "api_keys_configured", json_boolean(api_cfg()->api_key[0] != 0));
    json_object_set_new(o, "require_auth", json_boolean(api_auth_enforced()));
    json_object_set_new(o, "node", json_pack("{s:s,s:s}", "id", store_node_id(g_api.st), "database",
                                             store_kind(g_api.st)));
    json_object_set_new(o, "nodes", nodes_json());
    json_object_set_new(o, "leases", leases_json());
    api_json(res, 200, o);
}

/* Error texts may quote numbers: runs of 6 or more digits become "***". */
static json_t *sanitized(const char *s)
{
    if (!s || !*s) return json_null();
    char out[600];
    size_t o = 0;
    for (size_t i = 0; s[i] && o < sizeof out - 4;) {
        size_t j = i + (s[i] == '+');
        size_t k = j;
        while (isdigit((unsigned char)s[k])) k++;
        if (k - j >= 6) {
            memcpy(out + o, "***", 3);
            o += 3;
            i = k;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = 0;
    return json_string(out);
}

static json_t *masked_number(const char *n)
{
    char m[32];
    mask_phone(n, m, sizeof m);
    return json_string(m);
}

static json_t *admin_job_json(const job_record *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "to_number", masked_number(r->to_number));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "backend", json_string(r->backend));
    json_object_set_new(o, "pages", r->pages >= 0 ? json_integer(r->pages) : json_null());
    json_object_set_new(o, "error", sanitized(r->error));
    json_object_set_new(o, "failure_reason", r->failure_reason[0] ? json_string(r->failure_reason) : json_null());
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "created_at", api_time_json(r->created_at));
    json_object_set_new(o, "updated_at", api_time_json(r->updated_at));
    return o;
}

static void list_jobs(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    job_search q = {.limit = 50};
    const char *status = http_req_query(req, "status");
    if (status && *status) {
        if (!job_status_valid(status)) {
            http_res_error(res, 400, "'status' must be one of queued, in_progress, SUCCESS, FAILED, cancelled");
            return;
        }
        q.status = status;
    }
    const char *backend = http_req_query(req, "backend");
    if (backend && *backend) q.backend = backend;
    char to[24];
    bool by_to;
    if (api_query_number(req, res, "to", to, &by_to)) return;
    if (by_to) q.to_number = to;
    if (api_query_time(req, res, "since", &q.created_from) || api_query_time(req, res, "until", &q.created_to)) return;
    const char *limit = http_req_query(req, "limit"), *offset = http_req_query(req, "offset");
    char *end;
    if (limit) {
        long l = strtol(limit, &end, 10);
        if (!*limit || *end || l < 1 || l > 100) { http_res_error(res, 400, "'limit' must be a number from 1 to 100"); return; }
        q.limit = (int)l;
    }
    if (offset) {
        long l = strtol(offset, &end, 10);
        if (!*offset || *end || l < 0 || l > 1000000) { http_res_error(res, 400, "'offset' must be a number from 0"); return; }
        q.offset = (int)l;
    }
    job_record *recs = calloc((size_t)q.limit, sizeof *recs);
    if (!recs) { http_res_error(res, 503, "out of memory"); return; }
    int64_t total = 0;
    int n = store_job_search(g_api.st, &q, recs, &total);
    if (n < 0) { free(recs); http_res_error(res, 503, "could not read jobs"); return; }
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, admin_job_json(&recs[i]));
    free(recs);
    api_json(res, 200, json_pack("{s:I,s:o,s:i,s:i}", "total", (json_int_t)total, "jobs", a, "limit", q.limit, "offset", q.offset));
}

static int load_job(http_request *req, http_response *res, job_record *rec)
{
    const char *id = http_req_param(req, "id");
    if (!api_valid_id(id) || store_job_get(g_api.st, id, rec) != STORE_OK) {
        http_res_error(res, 404, "Job not found");
        return -1;
    }
    return 0;
}

static json_t *job_detail(const job_record *rec)
{
    json_t *o = admin_job_json(rec);
    json_object_set_new(o, "provider_sid", rec->provider_sid[0] ? json_string(rec->provider_sid) : json_null());
    json_object_set_new(o, "file_name", rec->file_name[0] ? json_string(rec->file_name) : json_null());
    json_object_set_new(o, "max_attempts", json_integer(rec->max_attempts));
    json_object_set_new(o, "next_attempt_at", job_status_get(rec) == JOB_ST_QUEUED ? api_time_json(rec->next_attempt_at) : json_null());
    json_object_set_new(o, "duration_s", rec->duration_s >= 0 ? json_real(rec->duration_s) : json_null());
    json_object_set_new(o, "remote_station_id", rec->remote_station_id[0] ? json_string(rec->remote_station_id) : json_null());
    /* the node whose lease holds an in_progress job (several nodes on PostgreSQL) */
    bool held = job_status_get(rec) == JOB_ST_IN_PROGRESS && rec->lease_node[0];
    json_object_set_new(o, "lease", held ? json_pack("{s:s,s:o}", "node", rec->lease_node, "until",
                                                     api_time_json(rec->lease_until)) : json_null());
    attempt_record at[64];
    int n = store_attempt_list(g_api.st, rec->id, at, 64);
    json_t *hist = json_array();
    for (int i = 0; i < n; i++) {
        json_t *a = json_object();
        json_object_set_new(a, "attempt", json_integer(at[i].attempt));
        json_object_set_new(a, "backend", json_string(at[i].backend));
        json_object_set_new(a, "started_at", api_time_json(at[i].started_at));
        json_object_set_new(a, "ended_at", api_time_json(at[i].ended_at));
        json_object_set_new(a, "outcome", at[i].outcome[0] ? json_string(at[i].outcome) : json_null());
        json_object_set_new(a, "reason", at[i].reason[0] ? json_string(at[i].reason) : json_null());
        json_object_set_new(a, "message", sanitized(at[i].message));
        json_object_set_new(a, "provider_sid", at[i].provider_sid[0] ? json_string(at[i].provider_sid) : json_null());
        json_object_set_new(a, "pages", at[i].pages >= 0 ? json_integer(at[i].pages) : json_null());
        json_array_append_new(hist, a);
    }
    json_object_set_new(o, "attempt_history", hist);
    return o;
}

static void get_job(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    job_record *rec = malloc(sizeof *rec);
    if (!rec) { http_res_error(res, 503, "out of memory"); return; }
    if (load_job(req, res, rec) == 0) api_json(res, 200, job_detail(rec));
    free(rec);
}

static void job_pdf(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    job_record *rec = malloc(sizeof *rec);
    if (!rec) { http_res_error(res, 503, "out of memory"); return; }
    if (load_job(req, res, rec) == 0) {
        char path[4096], name[64];
        str_fmt(name, sizeof name, "fax_%s.pdf", rec->id);
        blob_fetch(g_api.blobs, "outbound", rec->id, "document.pdf");
        if (blob_path(g_api.blobs, "outbound", rec->id, "document.pdf", path, sizeof path)) path[0] = 0;
        audit_event("admin_pdf_download", "job_id", rec->id, "by", who.key_id, NULL);
        api_send_file(res, path, "application/pdf", name, "PDF file not found");
    }
    free(rec);
}

static void job_refresh(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    job_record *rec = malloc(sizeof *rec);
    if (!rec) { http_res_error(res, 503, "out of memory"); return; }
    if (load_job(req, res, rec) == 0) {
        char why[256];
        int rc = jobs_refresh(g_api.jobs, rec->id, why, sizeof why);
        if (rc == STORE_OK && store_job_get(g_api.st, rec->id, rec) == STORE_OK) {
            audit_event("admin_job_refresh", "job_id", rec->id, "by", who.key_id, NULL);
            api_json(res, 200, api_job_json(rec));
        } else {
            http_res_error(res, rc == STORE_CONFLICT ? 409 : 400, "%s", why);
        }
    }
    free(rec);
}

static void job_retry(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    job_record *rec = malloc(sizeof *rec);
    if (!rec) { http_res_error(res, 503, "out of memory"); return; }
    if (load_job(req, res, rec) == 0) {
        job_event ev = {.kind = JEV_REQUEUE, .pages = -1, .duration_s = -1, .bit_rate = -1, .ecm = -1};
        char why[256];
        int rc = job_transition(g_api.jobs, rec->id, &ev, rec, why, sizeof why);
        if (rc == STORE_OK) {
            audit_event("admin_job_retry", "job_id", rec->id, "by", who.key_id, NULL);
            api_json(res, 202, api_job_json(rec));
        } else {
            http_res_error(res, rc == STORE_CONFLICT ? 409 : 503, "%s", why);
        }
    }
    free(rec);
}

/* ---- logs ---- */

static bool matches(json_t *item, const char *event, const char *q, int64_t since)
{
    if (event && *event && strcmp(json_string_value(json_object_get(item, "event")) ?: "", event)) return false;
    if (since > 0) {
        const char *ts = json_string_value(json_object_get(item, "ts"));
        if (!ts || ms_from_iso8601(ts) < since) return false;
    }
    if (q && *q) {
        char *text = json_dumps(item, JSON_COMPACT);
        bool hit = text && strcasestr(text, q);
        free(text);
        if (!hit) return false;
    }
    return true;
}

static void logs(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    const char *event = http_req_query(req, "event"), *q = http_req_query(req, "q"), *lim = http_req_query(req, "limit");
    int64_t since;
    if (api_query_time(req, res, "since", &since)) return;
    int limit = lim ? atoi(lim) : 200;
    if (limit < 1) limit = 1;
    if (limit > 1000) limit = 1000;
    char *text = audit_recent_json(1000);
    json_t *all = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    json_t *items = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(all, i, it) {
        if ((int)json_array_size(items) >= limit) break;
        if (matches(it, event, q, since)) json_array_append(items, it);
    }
    json_decref(all);
    size_t n = json_array_size(items);
    api_json(res, 200, json_pack("{s:o,s:I}", "items", items, "count", (json_int_t)n));
}

static void logs_tail(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    const char *path = api_cfg()->audit_log_file;
    if (!api_cfg()->audit_log_enabled || !path[0]) {
        http_res_error(res, 400, "No audit log file: set AUDIT_LOG_ENABLED=true and AUDIT_LOG_FILE");
        return;
    }
    const char *event = http_req_query(req, "event"), *q = http_req_query(req, "q"), *ln = http_req_query(req, "lines");
    int lines = ln ? atoi(ln) : 2000;
    if (lines < 1) lines = 1;
    if (lines > 20000) lines = 20000;
    FILE *f = fopen(path, "rb");
    if (!f) { http_res_error(res, 404, "The audit log file does not exist yet"); return; }
    /* the last `lines` lines: read the tail (at most 8 MB) and split */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long start = size > 8L * 1024 * 1024 ? size - 8L * 1024 * 1024 : 0;
    fseek(f, start, SEEK_SET);
    char *buf = malloc((size_t)(size - start) + 1);
    size_t got = buf ? fread(buf, 1, (size_t)(size - start), f) : 0;
    fclose(f);
    if (!buf) { http_res_error(res, 503, "out of memory"); return; }
    buf[got] = 0;
    int total = 0;
    for (size_t k = 0; k < got; k++) total += buf[k] == '\n';
    int skip = total > lines ? total - lines : 0;
    json_t *items = json_array();
    char *save = NULL;
    int idx = 0;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), idx++) {
        if (idx < skip || (start > 0 && idx == 0)) continue;    /* a partial first line */
        json_t *item = json_loads(line, 0, NULL);
        if (!json_is_object(item)) { json_decref(item); item = json_object(); }
        json_object_set_new(item, "raw", json_string(line));
        if (matches(item, event, q, 0)) json_array_append(items, item);
        json_decref(item);
    }
    free(buf);
    size_t n = json_array_size(items);
    api_json(res, 200, json_pack("{s:o,s:I,s:s}", "items", items, "count", (json_int_t)n, "source", path));
}

/* GET /admin/logs/stream: the gateway's log lines (gateway and PBX) and audit
 * events as they happen, numbers masked; the last ?history=N (default 100) first,
 * or everything after Last-Event-ID. For the console's Logs page. */
static void logs_stream(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    if (!g_api.events) { http_res_error(res, 503, "The event stream is not running"); return; }
    const char *last = http_req_header(req, "Last-Event-ID"), *hist = http_req_query(req, "history");
    int64_t after;
    char *end = NULL;
    if (last && *last) {
        long long v = strtoll(last, &end, 10);
        if (*end || v < 0) { http_res_error(res, 400, "Last-Event-ID must be the id of a line this stream sent"); return; }
        after = v;
    } else {
        long h = hist && *hist ? strtol(hist, &end, 10) : 100;
        if ((end && *end) || h < 0 || h > LOG_TAP_SIZE) {
            http_res_error(res, 400, "'history' must be 0..%d (lines to send first)", LOG_TAP_SIZE);
            return;
        }
        after = log_tap_last_seq() - h;
        if (after < 0) after = 0;
    }
    if (!events_log_has_room(g_api.events)) {
        http_res_error(res, 503, "Too many live log streams are open; close one (another console tab?) and try again");
        http_res_header(res, "Retry-After", "5");
        return;
    }
    http_stream *s = http_res_event_stream(req, res, 200, "text/event-stream");
    if (!s) { http_res_error(res, 500, "Internal error: out of memory"); return; }
    http_stream_limit(s, (size_t)api_cfg()->sse_max_buffer_kb * 1024);
    http_res_header(res, "Cache-Control", "no-cache");
    http_res_header(res, "X-Accel-Buffering", "no");
    static const char hello[] = "retry: 3000\n: faxbot logs\n\n";
    http_stream_write(s, hello, sizeof hello - 1);
    events_log_stream_add(g_api.events, s, after);
}

/* ---- inbound helpers ---- */

/* What a provider or PBX must be told about each route: name and where it is set. */
static const struct { const char *path, *name, *notes; } route_notes[] = {
    {"/phaxio-inbound", "Phaxio inbound", "Phaxio console > Phone numbers > the number's callback URL"},
    {"/phaxio-callback", "Phaxio status", "sent with each fax as callback_url; nothing to set"},
    {"/sinch-inbound", "Sinch inbound", "Sinch dashboard > Fax > the number's incoming webhook"},
    {"/sinch-callback", "Sinch status", "sent with each fax as callbackUrl; nothing to set"},
    {"/signalwire-callback", "SignalWire status", "sent with each fax as StatusCallback"},
    {"/_internal/asterisk/inbound", "Asterisk inbound",
     "the fax-inbound dialplan (faxbot asterisk-config) posts each received fax here"},
    {"/_internal/freeswitch/outbound_result", "FreeSWITCH outbound result",
     "api_hangup_hook of outbound calls (faxbot freeswitch-config writes it)"},
    {"/_internal/freeswitch/inbound", "FreeSWITCH inbound",
     "api_hangup_hook set by the inbound dialplan (faxbot freeswitch-config writes it)"},
};

static json_t *callback(const jobs_hook_info *h)
{
    const char *name = h->path, *notes = "";
    for (size_t i = 0; i < sizeof route_notes / sizeof route_notes[0]; i++)
        if (!strcmp(route_notes[i].path, h->path)) {
            name = route_notes[i].name;
            notes = route_notes[i].notes;
        }
    char url[1024];
    str_fmt(url, sizeof url, "%s%s", api_cfg()->public_api_url[0] ? api_cfg()->public_api_url : "", h->path);
    bool enabled = api_cfg()->inbound_enabled;
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:b}", "name", name, "url", url, "path", h->path,
                     "notes", notes, "method", h->method, "backend", h->backend, "kind", h->inbound ? "inbound" : "status",
                     "enabled_by", h->enabled_by, "sending_backend", h->sending, "draining", h->draining,
                     "active", !h->inbound || enabled);
}

/* GET /admin/inbound/callbacks: every provider/PBX route answered now (each live
 * backend instance's, and the inbound routes of sources enabled by their own
 * settings whatever FAX_BACKEND is), who answers it, why it is on, and what to
 * configure on the other side (FreeSWITCH: the exact hooks, secret masked unless
 * include_secrets=true). */
static void inbound_callbacks(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    const char *b = jobs_backend_name(g_api.jobs);
    const char *q = http_req_query(req, "include_secrets");
    bool reveal = q && (!strcasecmp(q, "true") || !strcmp(q, "1"));
    jobs_hook_info hooks[48];
    int n = jobs_hooks_list(g_api.jobs, hooks, 48);
    json_t *list = json_array();
    json_t *o = json_object();
    bool fs = false;
    for (int i = 0; i < n; i++) {
        bool seen = false;      /* a path answered by two instances (a swap in progress) is listed once */
        for (int k = 0; k < i && !seen; k++)
            seen = !strcmp(hooks[k].path, hooks[i].path) && !strcmp(hooks[k].method, hooks[i].method);
        if (seen) continue;
        json_t *c = callback(&hooks[i]);
        const char *p = hooks[i].path;
        if (!strcmp(p, "/phaxio-inbound"))
            json_object_set_new(c, "verify_signature",
                                json_boolean(!strcmp(setting_raw("PHAXIO_INBOUND_VERIFY_SIGNATURE") ?: "true", "true")));
        else if (!strcmp(p, "/sinch-inbound"))
            json_object_set_new(c, "auth", json_pack("{s:b,s:b,s:b}", "basic", setting_raw("SINCH_INBOUND_BASIC_USER") != NULL,
                                                     "hmac", setting_raw("SINCH_INBOUND_HMAC_SECRET") != NULL,
                                                     "unauthenticated_allowed",
                                                     !strcmp(setting_raw("SINCH_INBOUND_ALLOW_UNAUTHENTICATED") ?: "false", "true")));
        else if (!strcmp(p, "/_internal/asterisk/inbound")) {
            json_object_set_new(c, "header", json_string("X-Internal-Secret"));
            json_object_set_new(c, "secret_configured", json_boolean(setting_raw("ASTERISK_INBOUND_SECRET") != NULL));
        } else if (!strncmp(p, "/_internal/freeswitch/", 22)) {
            json_object_set_new(c, "header", json_string("X-Internal-Secret"));
            fs = true;
        }
        json_array_append_new(list, c);
    }
    if (fs) {
        esl_settings e;
        char err[256];
        if (esl_settings_load(&e, api_cfg()->public_api_url, err, sizeof err) == 0) {
            const char *secret = esl_settings_secret(&e);
            char masked[64];
            settings_mask(secret, masked, sizeof masked);
            const char *shown = reveal ? secret : masked;
            strbuf out, in;
            sb_init(&out);
            sb_init(&in);
            esl_hook_outbound(&out, e.hook_url, shown);
            esl_hook_inbound(&in, e.hook_url, e.spool_dir, shown);
            for (size_t i = 0; i < json_array_size(list); i++) {
                json_t *c = json_array_get(list, i);
                const char *p = json_string_value(json_object_get(c, "path"));
                if (!strcmp(p, "/_internal/freeswitch/outbound_result"))
                    json_object_set_new(c, "hook", json_string(out.data ? out.data : ""));
                else if (!strcmp(p, "/_internal/freeswitch/inbound"))
                    json_object_set_new(c, "hook", json_string(in.data ? in.data : ""));
            }
            json_object_set_new(o, "secret", json_string(shown));
            json_object_set_new(o, "secret_configured", json_boolean(secret[0] != 0));
            json_object_set_new(o, "secret_shown", json_boolean(reveal));
            if (out.data) explicit_bzero(out.data, out.len);
            if (in.data) explicit_bzero(in.data, in.len);
            sb_free(&out);
            sb_free(&in);
            if (reveal) audit_event("hook_secret_shown", "by", who.key_id, "backend", "freeswitch", NULL);
        }
        explicit_bzero(&e, sizeof e);
    }
    json_object_set_new(o, "backend", json_string(b));
    json_object_set_new(o, "inbound_enabled", json_boolean(api_cfg()->inbound_enabled));
    json_object_set_new(o, "callbacks", list);
    json_object_set_new(o, "public_api_url", json_string(api_cfg()->public_api_url));
    api_json(res, 200, o);
}

static const http_route ops_routes[] = {
    {.method = "GET", .pattern = "/admin/health-status", .handle = health_status},
    {.method = "GET", .pattern = "/admin/fax-jobs", .handle = list_jobs},
    {.method = "GET", .pattern = "/admin/fax-jobs/{id}", .handle = get_job},
    {.method = "GET", .pattern = "/admin/fax-jobs/{id}/pdf", .handle = job_pdf},
    {.method = "POST", .pattern = "/admin/fax-jobs/{id}/refresh", .handle = job_refresh},
    {.method = "POST", .pattern = "/admin/fax-jobs/{id}/retry", .handle = job_retry},
    {.method = "GET", .pattern = "/admin/logs", .handle = logs},
    {.method = "GET", .pattern = "/admin/logs/tail", .handle = logs_tail},
    {.method = "GET", .pattern = "/admin/logs/stream", .handle = logs_stream, .long_lived = true},
    {.method = "GET", .pattern = "/admin/inbound/callbacks", .handle = inbound_callbacks},
};

void api_admin_ops_routes(const http_route **routes, int *n)
{
    *routes = ops_routes;
    *n = (int)(sizeof ops_routes / sizeof ops_routes[0]);
}
