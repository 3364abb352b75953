/* api_events.c — what clients see of the event path: GET /events (Server-Sent
 * Events, resumable with Last-Event-ID), the admin routes for webhook endpoints
 * (POST/GET/DELETE /admin/webhooks, deliveries per endpoint), and the URL check
 * that callback_url and endpoint URLs pass at POST time. The sending itself is
 * events/ (webhooks.c, sse_hub.c). */
#include "api/api_internal.h"
#include "auth/apikey.h"
#include "auth/audit.h"
#include "events/dest_guard.h"
#include "events/webhook_sign.h"
#include "store/record_json.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define DELIVERIES_MAX 100

int api_check_webhook_url(http_response *res, const char *field, const char *url)
{
    dest_target t;
    char why[300];
    /* A name that does not resolve now is taken (DNS may be down); every delivery
     * checks again, after resolving. */
    int rc = dest_check(url, g_api.cfg->webhook_allow_private, &t, why, sizeof why);
    if (rc && rc != DEST_UNRESOLVED) {
        http_res_error(res, 400, "'%s' %s", field, why);
        return -1;
    }
    return 0;
}

/* ---- GET /events ---- */

static void events_get(http_request *req, http_response *res)
{
    static const char *const any[] = {"fax:read", "inbound:read", "inbound:list", NULL};
    principal who;
    if (api_require_any(req, res, any, "/events", g_api.cfg->max_requests_per_minute, &who)) return;
    if (!g_api.events) { http_res_error(res, 503, "The event stream is not running"); return; }
    unsigned families = 0;
    if (!who.authenticated || apikey_scopes_allow(who.scopes, "fax:read")) families |= EVENTS_FAX;
    if (!who.authenticated || apikey_scopes_allow(who.scopes, "inbound:read") ||
        apikey_scopes_allow(who.scopes, "inbound:list"))
        families |= EVENTS_INBOUND;
    const char *last = http_req_header(req, "Last-Event-ID");
    if (!last) last = http_req_query(req, "last_event_id");
    int64_t after = -1;
    if (last && *last) {
        char *end;
        long long v = strtoll(last, &end, 10);
        if (*end || v < 0) {
            http_res_error(res, 400, "Last-Event-ID must be the id of an event this stream sent (a number)");
            return;
        }
        after = v;
    }
    if (!events_stream_has_room(g_api.events)) {
        http_res_error(res, 503, "Too many event streams are open (SSE_MAX_STREAMS); try again later");
        http_res_header(res, "Retry-After", "5");
        return;
    }
    http_stream *s = http_res_event_stream(req, res, 200, "text/event-stream");
    if (!s) { http_res_error(res, 500, "Internal error: out of memory"); return; }
    http_stream_limit(s, (size_t)g_api.cfg->sse_max_buffer_kb * 1024);
    http_res_header(res, "Cache-Control", "no-cache");
    http_res_header(res, "X-Accel-Buffering", "no");
    /* the first bytes go out at once, so clients see the stream open */
    static const char hello[] = "retry: 3000\n: faxbot events\n\n";
    http_stream_write(s, hello, sizeof hello - 1);
    events_stream_add(g_api.events, s, after, families, who.all_owners ? NULL : who.owner);
}

/* ---- deliveries ---- */

json_t *api_deliveries_json(const char *endpoint_id, const char *job_id, int max)
{
    json_t *a = json_array();
    delivery_row *rows = calloc((size_t)max, sizeof *rows);
    int n = rows ? store_delivery_list(g_api.st, endpoint_id, job_id, max, rows) : -1;
    for (int i = 0; i < n; i++) {
        const delivery_row *d = &rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(d->id));
        json_object_set_new(o, "event_type", json_string(d->event_type));
        json_object_set_new(o, "event_seq", json_integer(d->event_seq));
        json_object_set_new(o, "endpoint_id", d->endpoint_id[0] ? json_string(d->endpoint_id) : json_null());
        json_object_set_new(o, "target", json_string(d->endpoint_id[0] ? "endpoint" : "callback_url"));
        json_object_set_new(o, "job_id", d->job_id[0] ? json_string(d->job_id) : json_null());
        json_object_set_new(o, "status", json_string(d->status));
        json_object_set_new(o, "attempts", json_integer(d->attempts));
        json_object_set_new(o, "last_status", d->last_status ? json_integer(d->last_status) : json_null());
        json_object_set_new(o, "last_error", d->last_error[0] ? json_string(d->last_error) : json_null());
        json_object_set_new(o, "next_attempt_at",
                            !strcmp(d->status, "pending") ? record_time_json(d->next_attempt_at) : json_null());
        json_object_set_new(o, "created_at", record_time_json(d->created_at));
        json_object_set_new(o, "updated_at", record_time_json(d->updated_at));
        json_array_append_new(a, o);
    }
    free(rows);
    return a;
}

/* ---- /admin/webhooks ---- */

static json_t *endpoint_json(const webhook_endpoint *ep, bool with_secret)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(ep->id));
    json_object_set_new(o, "url", json_string(ep->url));
    json_t *types = json_array();
    char buf[sizeof ep->event_types];
    str_copy(buf, sizeof buf, ep->event_types);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) json_array_append_new(types, json_string(t));
    json_object_set_new(o, "event_types", types);
    json_object_set_new(o, "description", json_string(ep->description));
    json_object_set_new(o, "created_at", record_time_json(ep->created_at));
    if (with_secret) json_object_set_new(o, "secret", json_string(ep->secret));
    return o;
}

/* event_types: a list of known types, or absent / ["*"] for all. */
static int parse_types(json_t *v, char *out, size_t outlen, http_response *res)
{
    if (!v || json_is_null(v)) return str_copy(out, outlen, "*");
    if (!json_is_array(v) || json_array_size(v) == 0) {
        http_res_error(res, 400, "'event_types' must be a non-empty list such as [\"fax.succeeded\", \"fax.failed\"] or [\"*\"]");
        return -1;
    }
    strbuf sb;
    sb_init(&sb);
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t) {
        const char *name = json_is_string(t) ? json_string_value(t) : NULL;
        if (!name || (strcmp(name, "*") && !events_type_known(name))) {
            sb_free(&sb);
            http_res_error(res, 400, "'event_types' has an unknown type; known: fax.queued, fax.progress, "
                           "fax.retry_scheduled, fax.succeeded, fax.failed, fax.cancelled, inbound.received, or *");
            return -1;
        }
        if (!strcmp(name, "*")) { sb_free(&sb); return str_copy(out, outlen, "*"); }
        if (sb.len) sb_puts(&sb, ",");
        sb_puts(&sb, name);
    }
    int rc = str_copy(out, outlen, sb.data ? sb.data : "*");
    sb_free(&sb);
    if (rc) http_res_error(res, 400, "'event_types' is too long");
    return rc;
}

static void webhooks_create(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    size_t len;
    const char *text = http_req_body(req, &len);
    json_error_t je;
    json_t *body = len ? json_loadb(text, len, 0, &je) : NULL;
    if (!body || !json_is_object(body)) {
        json_decref(body);
        http_res_error(res, 400, "the body must be a JSON object like {\"url\": \"https://…\", \"event_types\": [\"*\"]}");
        return;
    }
    webhook_endpoint ep;
    memset(&ep, 0, sizeof ep);
    json_t *url = json_object_get(body, "url"), *desc = json_object_get(body, "description");
    if (!json_is_string(url) || !*json_string_value(url)) {
        http_res_error(res, 400, "'url' is required: the https:// address to POST events to");
        goto out;
    }
    if (str_copy(ep.url, sizeof ep.url, json_string_value(url))) {
        http_res_error(res, 400, "'url' is at most %zu characters", sizeof ep.url - 1);
        goto out;
    }
    if (desc && !json_is_null(desc) &&
        (!json_is_string(desc) || str_copy(ep.description, sizeof ep.description, json_string_value(desc)))) {
        http_res_error(res, 400, "'description' must be a string of at most %zu characters", sizeof ep.description - 1);
        goto out;
    }
    if (parse_types(json_object_get(body, "event_types"), ep.event_types, sizeof ep.event_types, res)) goto out;
    if (api_check_webhook_url(res, "url", ep.url)) goto out;
    char hex[33];
    new_id_hex32(hex);
    str_fmt(ep.id, sizeof ep.id, "whep_%.24s", hex);
    if (webhook_secret_new(ep.secret)) { http_res_error(res, 500, "Internal error: no random bytes"); goto out; }
    ep.created_at = now_ms();
    char err[256];
    int rc = store_endpoint_insert(g_api.st, &ep, err, sizeof err);
    if (rc != STORE_OK) {
        http_res_error(res, rc == STORE_FULL ? 507 : 500, "could not save the endpoint: %s", err);
        goto out;
    }
    audit_event("webhook_created", "endpoint_id", ep.id, "key_id", who.key_id, "event_types", ep.event_types, NULL);
    api_json(res, 201, endpoint_json(&ep, true));   /* the secret is shown this once */
out:
    json_decref(body);
}

static void webhooks_list(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    webhook_endpoint *eps = NULL;
    int n = store_endpoint_list(g_api.st, &eps);
    if (n < 0) { http_res_error(res, 503, "Database unavailable"); return; }
    json_t *items = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(items, endpoint_json(&eps[i], false));
    free(eps);
    api_json(res, 200, json_pack("{s:o}", "items", items));
}

static int load_endpoint(http_request *req, http_response *res, webhook_endpoint *ep)
{
    const char *id = http_req_param(req, "id");
    int rc = id && strlen(id) < sizeof ep->id ? store_endpoint_get(g_api.st, id, ep) : STORE_NOT_FOUND;
    if (rc == STORE_OK && ep->deleted_at) rc = STORE_NOT_FOUND;
    if (rc == STORE_NOT_FOUND) http_res_error(res, 404, "Webhook endpoint not found");
    else if (rc != STORE_OK) http_res_error(res, 503, "Database unavailable");
    return rc == STORE_OK ? 0 : -1;
}

static void webhooks_get(http_request *req, http_response *res)
{
    principal who;
    webhook_endpoint ep;
    if (api_require_admin(req, res, &who) || load_endpoint(req, res, &ep)) return;
    api_json(res, 200, endpoint_json(&ep, false));
}

static void webhooks_delete(http_request *req, http_response *res)
{
    principal who;
    webhook_endpoint ep;
    if (api_require_admin(req, res, &who) || load_endpoint(req, res, &ep)) return;
    if (store_endpoint_delete(g_api.st, ep.id, now_ms()) != STORE_OK) {
        http_res_error(res, 503, "Database unavailable");
        return;
    }
    audit_event("webhook_deleted", "endpoint_id", ep.id, "key_id", who.key_id, NULL);
    api_json(res, 200, json_pack("{s:s,s:b}", "id", ep.id, "deleted", 1));
}

static void webhooks_deliveries(http_request *req, http_response *res)
{
    principal who;
    webhook_endpoint ep;
    if (api_require_admin(req, res, &who) || load_endpoint(req, res, &ep)) return;
    int limit;
    if (api_query_limit(req, res, 50, &limit)) return;
    if (limit > DELIVERIES_MAX) limit = DELIVERIES_MAX;
    api_json(res, 200, json_pack("{s:o}", "items", api_deliveries_json(ep.id, NULL, limit)));
}

static const http_route events_routes[] = {
    {.method = "GET", .pattern = "/events", .handle = events_get, .long_lived = true},
    {.method = "POST", .pattern = "/admin/webhooks", .body_mode = HTTP_BODY_BUFFER, .max_body = 16384,
     .handle = webhooks_create},
    {.method = "GET", .pattern = "/admin/webhooks", .handle = webhooks_list},
    {.method = "GET", .pattern = "/admin/webhooks/{id}", .handle = webhooks_get},
    {.method = "DELETE", .pattern = "/admin/webhooks/{id}", .handle = webhooks_delete},
    {.method = "GET", .pattern = "/admin/webhooks/{id}/deliveries", .handle = webhooks_deliveries},
};

void api_events_routes(const http_route **routes, int *n)
{
    *routes = events_routes;
    *n = (int)(sizeof events_routes / sizeof events_routes[0]);
}
