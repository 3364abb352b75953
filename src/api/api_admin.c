/* api_admin.c — the admin routes for API keys: create, list, revoke, rotate.
 * Tokens are shown once, at creation or rotation; the store keeps only a keyed
 * hash of the secret. Every change is audited. */
#include "api/api_internal.h"
#include "auth/apikey.h"
#include "auth/audit.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

json_t *api_scopes_json(const char *csv)
{
    json_t *a = json_array();
    char buf[256];
    str_copy(buf, sizeof buf, csv);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) json_array_append_new(a, json_string(t));
    return a;
}


static int get_opt_string(json_t *body, const char *name, char *out, size_t outlen, http_response *res)
{
    json_t *v = json_object_get(body, name);
    out[0] = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) >= outlen) {
        http_res_error(res, 400, "'%s' must be a string of at most %zu characters", name, outlen - 1);
        return -1;
    }
    str_copy(out, outlen, json_string_value(v));
    return 0;
}

/* The key is checked when the headers are in, so a body is never read (or waited
 * for) without one; keys_create checks again, which costs a lookup and keeps the
 * handler safe on its own. */
static void keys_create_headers(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who) == 0)
        res->n_extra_headers = 0;    /* the handler adds the admin headers itself */
}

static void keys_create(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    json_t *body = api_json_object_body(req, res);
    if (!body) return;
    key_record k;
    memset(&k, 0, sizeof k);
    char scopes_in[512] = "", expires[64] = "", err[256];
    if (get_opt_string(body, "name", k.name, sizeof k.name, res) || get_opt_string(body, "owner", k.owner, sizeof k.owner, res) ||
        get_opt_string(body, "note", k.note, sizeof k.note, res) || get_opt_string(body, "expires_at", expires, sizeof expires, res))
        goto out;
    json_t *sc = json_object_get(body, "scopes");
    if (json_is_array(sc)) {
        size_t i;
        json_t *s;
        strbuf sb;
        sb_init(&sb);
        json_array_foreach(sc, i, s) {
            if (!json_is_string(s)) { sb_free(&sb); http_res_error(res, 400, "'scopes' must be a list of strings"); goto out; }
            if (i) sb_puts(&sb, ",");
            sb_puts(&sb, json_string_value(s));
        }
        str_copy(scopes_in, sizeof scopes_in, sb.data ? sb.data : "");
        sb_free(&sb);
    } else if (json_is_string(sc)) {
        str_copy(scopes_in, sizeof scopes_in, json_string_value(sc));
    } else if (sc && !json_is_null(sc)) {
        http_res_error(res, 400, "'scopes' must be a list like [\"fax:send\", \"fax:read\"]");
        goto out;
    }
    if (sc && !json_is_null(sc) && !scopes_in[0]) {
        /* an empty list would quietly become the default scopes: say so instead */
        http_res_error(res, 400, "'scopes' must name at least one scope (leave it out for fax:send and fax:read)");
        goto out;
    }
    if (!scopes_in[0]) str_copy(scopes_in, sizeof scopes_in, "fax:send,fax:read");
    if (apikey_scopes_normalize(scopes_in, k.scopes, sizeof k.scopes, err, sizeof err)) {
        http_res_error(res, 400, "%s", err);
        goto out;
    }
    if (!k.scopes[0]) { http_res_error(res, 400, "'scopes' must name at least one scope"); goto out; }
    if (expires[0]) {
        k.expires_at = ms_from_iso8601(expires);
        if (k.expires_at < 0) { http_res_error(res, 400, "'expires_at' must be an ISO-8601 time like 2027-01-31T00:00:00Z"); goto out; }
        if (k.expires_at <= now_ms()) {
            http_res_error(res, 400, "'expires_at' is in the past: the key could never be used");
            goto out;
        }
    }
    char token[128], secret[128];
    if (apikey_generate(NULL, token, sizeof token, k.key_id, secret)) { http_res_error(res, 503, "random number generator failed"); goto out; }
    apikey_hash(g_api.pepper, secret, k.key_hash);
    k.created_at = now_ms();
    if (store_key_insert(g_api.st, &k, err, sizeof err) != STORE_OK) { http_res_error(res, 503, "could not save the key: %s", err); goto out; }
    audit_event("api_key_created", "key_id", k.key_id, "owner", k.owner, "scopes", k.scopes, "by", who.key_id, "ip", http_req_client_ip(req), NULL);
    json_t *o = json_object();
    json_object_set_new(o, "key_id", json_string(k.key_id));
    json_object_set_new(o, "token", json_string(token));
    json_object_set_new(o, "name", json_string(k.name));
    json_object_set_new(o, "owner", json_string(k.owner));
    json_object_set_new(o, "scopes", api_scopes_json(k.scopes));
    json_object_set_new(o, "expires_at", api_time_json(k.expires_at));
    api_json(res, 200, o);
    memset(secret, 0, sizeof secret);
    memset(token, 0, sizeof token);
out:
    json_decref(body);
}

static void keys_list(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    key_record *keys = NULL;
    int n = store_key_list(g_api.st, &keys);
    if (n < 0) { http_res_error(res, 503, "could not read keys"); return; }
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "key_id", json_string(keys[i].key_id));
        json_object_set_new(o, "name", json_string(keys[i].name));
        json_object_set_new(o, "owner", json_string(keys[i].owner));
        json_object_set_new(o, "scopes", api_scopes_json(keys[i].scopes));
        json_object_set_new(o, "created_at", api_time_json(keys[i].created_at));
        json_object_set_new(o, "last_used_at", api_time_json(keys[i].last_used_at));
        json_object_set_new(o, "expires_at", api_time_json(keys[i].expires_at));
        json_object_set_new(o, "revoked_at", api_time_json(keys[i].revoked_at));
        json_object_set_new(o, "note", keys[i].note[0] ? json_string(keys[i].note) : json_null());
        json_array_append_new(a, o);
    }
    free(keys);
    api_json(res, 200, a);
}

static int load_key(http_request *req, http_response *res, key_record *k)
{
    const char *id = http_req_param(req, "key_id");
    if (!id || strlen(id) > 32 || store_key_get(g_api.st, id, k) != STORE_OK) {
        http_res_error(res, 404, "Key not found");
        return -1;
    }
    return 0;
}

static void keys_revoke(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    key_record k;
    if (load_key(req, res, &k)) return;
    if (!k.revoked_at && store_key_revoke(g_api.st, k.key_id, now_ms()) != STORE_OK) {
        http_res_error(res, 503, "could not revoke the key");
        return;
    }
    api_sessions_end_key(k.key_id);     /* console sessions on it end now */
    audit_event("api_key_revoked", "key_id", k.key_id, "by", who.key_id, "ip", http_req_client_ip(req), NULL);
    api_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

static void keys_rotate(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    key_record k;
    if (load_key(req, res, &k)) return;
    if (k.revoked_at) { http_res_error(res, 409, "Key is revoked; create a new key instead"); return; }
    char token[128], secret[128], key_id[APIKEY_ID_LEN + 1], hash[65];
    if (apikey_generate(k.key_id, token, sizeof token, key_id, secret)) { http_res_error(res, 503, "random number generator failed"); return; }
    apikey_hash(g_api.pepper, secret, hash);
    if (store_key_set_hash(g_api.st, k.key_id, hash) != STORE_OK) { http_res_error(res, 503, "could not rotate the key"); return; }
    store_key_touch(g_api.st, k.key_id, 0);     /* the new token has not been used yet */
    api_sessions_end_key(k.key_id);
    audit_event("api_key_rotated", "key_id", k.key_id, "by", who.key_id, "ip", http_req_client_ip(req), NULL);
    api_json(res, 200, json_pack("{s:s,s:s}", "key_id", k.key_id, "token", token));
    memset(secret, 0, sizeof secret);
    memset(token, 0, sizeof token);
}

static const http_route admin_routes[] = {
    {.method = "POST", .pattern = "/admin/api-keys", .body_mode = HTTP_BODY_BUFFER, .max_body = 65536,
     .on_headers = keys_create_headers, .handle = keys_create},
    {.method = "GET", .pattern = "/admin/api-keys", .handle = keys_list},
    {.method = "DELETE", .pattern = "/admin/api-keys/{key_id}", .handle = keys_revoke},
    {.method = "POST", .pattern = "/admin/api-keys/{key_id}/rotate", .handle = keys_rotate},
};

void api_admin_routes(const http_route **routes, int *n)
{
    *routes = admin_routes;
    *n = (int)(sizeof admin_routes / sizeof admin_routes[0]);
}
