/* api_settings.c — the settings routes of the admin API (Faxbot's shapes, FAXBOT.md
 * §1.6, without its mistakes: secrets never leave masked except an audited export
 * that asks for them, nothing is written but the one settings file, and reload
 * re-reads that file):
 *   GET  /admin/config              sanitized effective configuration
 *   GET  /admin/settings            grouped, masked, with the table and `source` per value
 *   PUT  /admin/settings            partial update: checked, written, applied live
 *   POST /admin/settings/validate   dry run with real round trips, per field
 *   POST /admin/settings/reload     re-reads the file and the environment and applies
 *   GET  /admin/settings/export     .env text of the non-default settings
 *   POST /admin/restart             only when a changed setting needs one
 * Applying is settings_apply.c's job; this file turns requests into changes and
 * results into Faxbot's JSON. */
#include "api/api_internal.h"
#include "api/settings_apply.h"
#include "auth/audit.h"
#include "backend/backend.h"
#include "store/store.h"
#include "util/util.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Faxbot's field names that are not simply the lowercase variable name. */
static const struct { const char *key, *name; } faxbot_keys[] = {
    {"backend", "FAX_BACKEND"},
    {"ami_host", "ASTERISK_AMI_HOST"},
    {"ami_port", "ASTERISK_AMI_PORT"},
    {"ami_username", "ASTERISK_AMI_USERNAME"},
    {"ami_password", "ASTERISK_AMI_PASSWORD"},
    {"fax_station_id", "FAX_LOCAL_STATION_ID"},
    {"station_id", "FAX_LOCAL_STATION_ID"},
    {"phaxio_callback_url", "PHAXIO_CALLBACK_URL"},
    {"fs_esl_host", "FREESWITCH_ESL_HOST"},
    {"fs_esl_port", "FREESWITCH_ESL_PORT"},
    {"fs_esl_password", "FREESWITCH_ESL_PASSWORD"},
    {"fs_gateway_name", "FREESWITCH_GATEWAY_NAME"},
    {"fs_caller_id_number", "FREESWITCH_CALLER_ID_NUMBER"},
    {"fs_t38_enable", "FREESWITCH_T38_ENABLE"},
};

static const setting_def *row_for_key(const char *key)
{
    for (size_t i = 0; i < sizeof faxbot_keys / sizeof faxbot_keys[0]; i++)
        if (!strcasecmp(faxbot_keys[i].key, key)) return settings_find(faxbot_keys[i].name);
    return settings_find(key);
}

/* ---- rendering values ---- */

static const char *cur(const char *name)
{
    const char *v = settings_value(settings_current(), name, NULL);
    return v ? v : "";
}

static json_t *typed(const setting_def *row, const char *v, bool mask)
{
    if (row->secret && mask) {
        char m[64];
        settings_mask(v, m, sizeof m);
        return json_string(m);
    }
    if (row->type == SETTING_BOOL) return *v ? json_boolean(!strcmp(v, "true")) : json_null();
    if (row->type == SETTING_INT) return *v ? json_integer(strtoll(v, NULL, 10)) : json_null();
    return json_string(v);
}

static json_t *val(const char *name)
{
    const setting_def *row = settings_find(name);
    return row ? typed(row, cur(name), true) : json_null();
}

static bool is_set(const char *name) { return cur(name)[0] != 0; }
static bool is_true(const char *name) { return !strcmp(cur(name), "true"); }

static json_t *row_json(const setting_def *row)
{
    setting_source src;
    const char *v = settings_value(settings_current(), row->name, &src);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(row->name));
    char key[96];
    str_copy(key, sizeof key, row->name);
    for (char *p = key; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    json_object_set_new(o, "key", json_string(key));
    json_object_set_new(o, "group", json_string(row->group ? row->group : "other"));
    json_object_set_new(o, "backend", row->backend ? json_string(row->backend) : json_null());
    static const char *const types[] = {"string", "integer", "boolean", "choice"};
    json_object_set_new(o, "type", json_string(types[row->type]));
    json_object_set_new(o, "value", typed(row, v ? v : "", true));
    json_object_set_new(o, "is_set", json_boolean(v && *v));
    json_object_set_new(o, "default", row->secret ? json_null() : typed(row, row->dflt ? row->dflt : "", false));
    json_object_set_new(o, "source", json_string(settings_source_name(src)));
    json_object_set_new(o, "secret", json_boolean(row->secret));
    json_object_set_new(o, "apply", json_string(row->apply == SETTING_LIVE ? "live" : row->apply == SETTING_RESTART ? "restart" : "env_only"));
    json_object_set_new(o, "editable", json_boolean(row->apply != SETTING_ENV_ONLY && src != SOURCE_ENV));
    if (src == SOURCE_ENV) json_object_set_new(o, "pinned_by", json_string(row->name));
    if (row->type == SETTING_INT) json_object_set_new(o, "range", json_pack("[I,I]", (json_int_t)row->lo, (json_int_t)row->hi));
    if (row->type == SETTING_ENUM) {
        json_t *c = json_array();
        const char *p = row->choices;
        while (*p) {
            size_t n = strcspn(p, "|");
            json_array_append_new(c, json_stringn(p, n));
            p += n;
            if (*p) p++;
        }
        json_object_set_new(o, "choices", c);
    }
    json_object_set_new(o, "lands", json_string(row->lands ? row->lands : ""));
    json_object_set_new(o, "help", json_string(row->help ? row->help : ""));
    return o;
}

/* GET /admin/settings in Faxbot's sections, plus the whole table in "items". */
static json_t *settings_view(void)
{
    json_t *o = json_object();
    json_object_set_new(o, "backend", json_pack("{s:s,s:b}", "type", jobs_backend_name(g_api.jobs), "disabled", is_true("FAX_DISABLED")));
    json_object_set_new(o, "phaxio", json_pack("{s:o,s:o,s:s,s:o,s:b}", "api_key", val("PHAXIO_API_KEY"), "api_secret",
                                               val("PHAXIO_API_SECRET"), "callback_url",
                                               is_set("PHAXIO_STATUS_CALLBACK_URL") ? cur("PHAXIO_STATUS_CALLBACK_URL") : cur("PHAXIO_CALLBACK_URL"),
                                               "verify_signature", val("PHAXIO_VERIFY_SIGNATURE"), "configured",
                                               is_set("PHAXIO_API_KEY") && is_set("PHAXIO_API_SECRET")));
    json_object_set_new(o, "sinch", json_pack("{s:o,s:o,s:o,s:b}", "project_id", val("SINCH_PROJECT_ID"), "api_key",
                                              val("SINCH_API_KEY"), "api_secret", val("SINCH_API_SECRET"), "configured",
                                              is_set("SINCH_PROJECT_ID") && (is_set("SINCH_API_KEY") || is_set("PHAXIO_API_KEY"))));
    json_object_set_new(o, "signalwire", json_pack("{s:o,s:o,s:o,s:o,s:s,s:b}", "space_url", val("SIGNALWIRE_SPACE_URL"),
                                                   "project_id", val("SIGNALWIRE_PROJECT_ID"), "api_token", val("SIGNALWIRE_API_TOKEN"),
                                                   "from_fax", val("SIGNALWIRE_FAX_FROM_E164"), "callback_url",
                                                   is_set("SIGNALWIRE_STATUS_CALLBACK_URL") ? cur("SIGNALWIRE_STATUS_CALLBACK_URL") : cur("SIGNALWIRE_CALLBACK_URL"),
                                                   "configured", is_set("SIGNALWIRE_SPACE_URL") && is_set("SIGNALWIRE_PROJECT_ID") && is_set("SIGNALWIRE_API_TOKEN")));
    json_object_set_new(o, "fs", json_pack("{s:o,s:o,s:o,s:o,s:o,s:b}", "esl_host", val("FREESWITCH_ESL_HOST"), "esl_port",
                                           val("FREESWITCH_ESL_PORT"), "gateway_name", val("FREESWITCH_GATEWAY_NAME"),
                                           "caller_id_number", val("FREESWITCH_CALLER_ID_NUMBER"), "t38_enable",
                                           val("FREESWITCH_T38_ENABLE"), "esl_password_is_default", !is_set("FREESWITCH_ESL_PASSWORD")));
    json_object_set_new(o, "sip", json_pack("{s:o,s:o,s:o,s:o,s:b,s:o,s:b}", "ami_host", val("ASTERISK_AMI_HOST"), "ami_port",
                                            val("ASTERISK_AMI_PORT"), "ami_username", val("ASTERISK_AMI_USERNAME"), "ami_password",
                                            val("ASTERISK_AMI_PASSWORD"), "ami_password_is_default",
                                            !is_set("ASTERISK_AMI_PASSWORD") || !strcmp(cur("ASTERISK_AMI_PASSWORD"), "changeme"),
                                            "station_id", val("FAX_LOCAL_STATION_ID"), "configured", is_set("ASTERISK_AMI_PASSWORD")));
    json_object_set_new(o, "security", json_pack("{s:b,s:b,s:b,s:s}", "require_api_key", is_true("REQUIRE_API_KEY"),
                                                 "enforce_https", is_true("ENFORCE_PUBLIC_HTTPS"), "audit_enabled",
                                                 is_true("AUDIT_LOG_ENABLED"), "public_api_url", api_cfg()->public_api_url));
    json_object_set_new(o, "storage", json_pack("{s:s,s:s,s:b}", "backend", cur("STORAGE_BACKEND"), "s3_bucket", cur("S3_BUCKET"),
                                                "s3_kms_enabled", is_set("S3_KMS_KEY_ID")));
    char db_shown[1024];         /* a PostgreSQL URL's password is never shown */
    store_url_redact(is_set("DATABASE_URL") ? cur("DATABASE_URL") : "sqlite (FAX_DATA_DIR/faxbot.db)", db_shown,
                     sizeof db_shown);
    json_object_set_new(o, "database", json_pack("{s:s,s:b}", "url", db_shown, "persistent", 1));
    json_object_set_new(o, "inbound", json_pack("{s:b,s:i,s:i,s:{s:o,s:b},s:{s:o},s:{s:b,s:b,s:b}}", "enabled",
                                                api_cfg()->inbound_enabled, "retention_days", api_cfg()->inbound_retention_days,
                                                "token_ttl_minutes", api_cfg()->inbound_token_ttl_minutes, "sip", "asterisk_secret",
                                                val("ASTERISK_INBOUND_SECRET"), "configured", is_set("ASTERISK_INBOUND_SECRET"),
                                                "phaxio", "verify_signature", val("PHAXIO_INBOUND_VERIFY_SIGNATURE"), "sinch",
                                                "verify_signature", 1, "basic_auth_configured",
                                                is_set("SINCH_WEBHOOK_USER") || is_set("SINCH_INBOUND_BASIC_USER"), "hmac_configured", 0));
    json_object_set_new(o, "limits", json_pack("{s:I,s:i,s:i,s:i,s:i}", "max_file_size_mb",
                                               (json_int_t)(api_cfg()->max_file_size_bytes >> 20), "pdf_token_ttl_minutes",
                                               api_cfg()->pdf_token_ttl_minutes, "rate_limit_rpm", api_cfg()->max_requests_per_minute,
                                               "inbound_list_rpm", api_cfg()->inbound_list_rpm, "inbound_get_rpm", api_cfg()->inbound_get_rpm));
    json_t *items = json_array();
    const setting_def *const *rows;
    int n = settings_rows(&rows);
    for (int i = 0; i < n; i++) json_array_append_new(items, row_json(rows[i]));
    json_object_set_new(o, "items", items);
    json_t *meta = json_object();
    char path[4096];
    settings_apply_file_path(path, sizeof path);
    json_object_set_new(meta, "config_file", json_string(path));
    json_object_set_new(meta, "secrets_encrypted", json_boolean(settings_apply_has_key()));
    json_object_set_new(meta, "restart_required", settings_apply_pending_restart());
    json_object_set_new(o, "_meta", meta);
    return o;
}

static void get_settings(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    api_json(res, 200, settings_view());
}

static void get_config(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    const config *c = api_cfg();
    json_t *o = json_object();
    json_object_set_new(o, "backend", json_string(jobs_backend_name(g_api.jobs)));
    json_object_set_new(o, "allow_restart", json_boolean(is_true("ADMIN_ALLOW_RESTART")));
    json_object_set_new(o, "require_api_key", json_boolean(c->require_api_key));
    json_object_set_new(o, "enforce_public_https", json_boolean(is_true("ENFORCE_PUBLIC_HTTPS")));
    json_object_set_new(o, "phaxio_verify_signature", json_boolean(is_true("PHAXIO_VERIFY_SIGNATURE")));
    json_object_set_new(o, "persisted_settings_enabled", json_true());
    json_object_set_new(o, "branding", json_pack("{s:s,s:n}", "docs_base", "docs/", "logo_path"));
    json_object_set_new(o, "mcp", json_pack("{s:b,s:s,s:b,s:{s:n,s:n,s:n},s:b,s:s}", "sse_enabled", 0, "sse_path", "/mcp/sse",
                                            "require_oauth", 0, "oauth", "issuer", "audience", "jwks_url", "http_enabled", 0,
                                            "http_path", "/mcp/http"));
    json_object_set_new(o, "audit_log_enabled", json_boolean(c->audit_log_enabled));
    json_object_set_new(o, "rate_limits", json_pack("{s:i,s:i,s:i}", "global_rpm", c->max_requests_per_minute, "inbound_list_rpm",
                                                    c->inbound_list_rpm, "inbound_get_rpm", c->inbound_get_rpm));
    json_object_set_new(o, "inbound", json_pack("{s:b,s:i,s:i}", "enabled", c->inbound_enabled, "retention_days",
                                                c->inbound_retention_days, "token_ttl_minutes", c->inbound_token_ttl_minutes));
    json_object_set_new(o, "storage", json_pack("{s:s,s:n,s:n,s:n,s:n,s:n}", "backend", c->storage_backend, "s3_bucket",
                                                "s3_region", "s3_prefix", "s3_endpoint_url", "s3_kms_key_id"));
    json_object_set_new(o, "backend_configured",
                        json_pack("{s:b,s:b,s:b,s:b,s:b,s:b,s:b}", "phaxio", is_set("PHAXIO_API_KEY") && is_set("PHAXIO_API_SECRET"),
                                  "sinch", is_set("SINCH_PROJECT_ID"), "signalwire", is_set("SIGNALWIRE_PROJECT_ID") && is_set("SIGNALWIRE_API_TOKEN"),
                                  "documo", 0, "sip_ami_configured", is_set("ASTERISK_AMI_PASSWORD"), "sip_ami_password_default",
                                  !is_set("ASTERISK_AMI_PASSWORD") || !strcmp(cur("ASTERISK_AMI_PASSWORD"), "changeme"),
                                  "freeswitch", 1));
    json_object_set_new(o, "public_api_url", json_string(c->public_api_url));
    char slots[1024];
    jobs_backend_slots_json(g_api.jobs, slots, sizeof slots);
    json_object_set_new(o, "backend_instances", json_loads(slots, 0, NULL));
    json_object_set_new(o, "restart_required", settings_apply_pending_restart());
    api_json(res, 200, o);
}

/* ---- changes ---- */


/* Body {key: value} -> {NAME: "text"} with every key known and every value a
 * scalar; 400 naming the unknown keys (all of them), 409 naming an env-pinned one. */
static json_t *body_to_changes(json_t *body, http_response *res, bool refuse_pinned)
{
    json_t *changes = json_object(), *unknown = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        const setting_def *row = row_for_key(key);
        if (!row) { json_array_append_new(unknown, json_string(key)); continue; }
        char text[4096];
        if (json_is_string(v)) str_copy(text, sizeof text, json_string_value(v));
        else if (json_is_integer(v)) str_fmt(text, sizeof text, "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v)) str_copy(text, sizeof text, json_is_true(v) ? "true" : "false");
        else if (json_is_null(v)) text[0] = 0;
        else {
            http_res_error(res, 400, "'%s' must be a string, number, boolean or null", key);
            goto fail;
        }
        if (row->apply == SETTING_ENV_ONLY) {
            http_res_error(res, 400, "%s can only be set in the environment (it says where the settings file is)", row->name);
            goto fail;
        }
        setting_source src;
        settings_value(settings_current(), row->name, &src);
        if (refuse_pinned && src == SOURCE_ENV) {
            http_res_error(res, 409, "%s is set by the environment variable %s, which wins over the settings file; "
                                     "change or unset %s where the gateway is started", row->name, row->name, row->name);
            goto fail;
        }
        json_object_set_new(changes, row->name, json_string(text));
    }
    if (json_array_size(unknown)) {
        strbuf sb;
        sb_init(&sb);
        size_t i;
        json_array_foreach(unknown, i, v) sb_appendf(&sb, "%s'%s'", i ? ", " : "", json_string_value(v));
        http_res_error(res, 400, "unknown setting%s: %s (GET /admin/settings lists every setting)",
                       json_array_size(unknown) > 1 ? "s" : "", sb.data);
        sb_free(&sb);
        goto fail;
    }
    json_decref(unknown);
    return changes;
fail:
    json_decref(unknown);
    json_decref(changes);
    return NULL;
}

static void reply_applied(http_response *res, json_t *result)
{
    json_t *view = settings_view();
    json_t *meta = json_object_get(view, "_meta");
    json_object_update(meta, result);
    json_decref(result);
    api_json(res, 200, view);
}

static void put_settings(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    json_t *body = api_json_object_body(req, res);
    if (!body) return;
    json_t *changes = body_to_changes(body, res, true);
    json_decref(body);
    if (!changes) return;
    char err[1024];
    int status = 200;
    json_t *result = settings_apply_changes(changes, who.key_id, &status, err, sizeof err);
    json_decref(changes);
    if (!result) { http_res_error(res, status, "%s", err); return; }
    reply_applied(res, result);
}

static void reload_settings(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    char err[1024];
    int status = 200;
    json_t *result = settings_apply_reload(who.key_id, &status, err, sizeof err);
    if (!result) { http_res_error(res, status, "%s", err); return; }
    reply_applied(res, result);
}

static void validate_settings(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    json_t *body = api_json_object_body(req, res);
    if (!body) return;
    /* validate is a dry run: values pinned by the environment are shown as they will be */
    json_t *changes = body_to_changes(body, res, false);
    json_decref(body);
    if (!changes) return;
    char err[1024];
    int status = 200;
    json_t *result = settings_apply_validate(changes, who.key_id, &status, err, sizeof err);
    json_decref(changes);
    if (!result) { http_res_error(res, status, "%s", err); return; }
    api_json(res, 200, result);
}

static void export_settings(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    const char *q = http_req_query(req, "include_secrets");
    bool secrets = q && (!strcasecmp(q, "true") || !strcmp(q, "1"));
    int omitted = 0;
    char *text = settings_export_env(settings_current(), secrets, &omitted);
    audit_event("settings_exported", "by", who.key_id, "include_secrets", secrets ? "true" : "false", NULL);
    json_t *o = json_pack("{s:s,s:b,s:i,s:s}", "env_content", text ? text : "", "requires_restart", 0,
                          "secrets_omitted", omitted, "note",
                          "Settings changed through the API are applied live and kept in the settings file; "
                          "this text is for a .env file or another gateway.");
    if (text) explicit_bzero(text, strlen(text));
    free(text);
    api_json(res, 200, o);
}

static void *restart_later(void *arg)
{
    (void)arg;
    sleep_ms(500);
    kill(getpid(), SIGTERM);      /* a graceful stop; the supervisor (systemd, Docker) starts it again */
    return NULL;
}

static void restart(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    if (!is_true("ADMIN_ALLOW_RESTART")) { http_res_error(res, 403, "Restart not allowed (ADMIN_ALLOW_RESTART is not true)"); return; }
    json_t *pending = settings_apply_pending_restart();
    if (!json_array_size(pending)) {
        json_decref(pending);
        http_res_error(res, 409, "Nothing needs a restart: every change so far was applied live");
        return;
    }
    audit_event("restart_requested", "by", who.key_id, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, restart_later, NULL) == 0) pthread_detach(t);
    api_json(res, 200, json_pack("{s:b,s:s,s:o}", "ok", 1, "note",
                                 "The gateway stops in 0.5 s; the service manager starts it again with the new settings",
                                 "restart_required", pending));
}

static const http_route settings_routes[] = {
    {.method = "GET", .pattern = "/admin/config", .handle = get_config},
    {.method = "GET", .pattern = "/admin/settings", .handle = get_settings},
    {.method = "PUT", .pattern = "/admin/settings", .body_mode = HTTP_BODY_BUFFER, .max_body = 65536, .handle = put_settings},
    {.method = "POST", .pattern = "/admin/settings/validate", .body_mode = HTTP_BODY_BUFFER, .max_body = 65536, .handle = validate_settings},
    {.method = "POST", .pattern = "/admin/settings/reload", .handle = reload_settings},
    {.method = "GET", .pattern = "/admin/settings/export", .handle = export_settings},
    {.method = "POST", .pattern = "/admin/restart", .handle = restart},
};

void api_settings_routes(const http_route **routes, int *n)
{
    *routes = settings_routes;
    *n = (int)(sizeof settings_routes / sizeof settings_routes[0]);
}
