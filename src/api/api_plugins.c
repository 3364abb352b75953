/* api_plugins.c — Faxbot's plugin routes in their shapes (FAXBOT.md §1.6, §1.7, §9),
 * always on (Faxbot hid them behind FEATURE_V3_PLUGINS), plus the install route its
 * SDKs call but it never built:
 *   GET  /plugins                          {items:[{id,name,version,categories,capabilities,enabled,configurable}]}
 *   GET  /plugins/{id}/config              {enabled, settings{key: value, secrets masked}, fields}
 *   PUT  /plugins/{id}/config              {enabled?, settings?} through the settings model (applied live)
 *   GET  /plugin-registry                  the local registry (any valid key)
 *   POST /plugins/install                  {"plugin_id"} from the local registry, sha256 checked
 *   POST /admin/plugins/http/validate      a manifest checked (and dry-run through the http kind's hook)
 *   POST /admin/plugins/http/install       {manifest} installed into $FAX_DATA_DIR/plugins/<id>/
 *   POST /admin/plugins/http/import-manifests  {items?, markdown?}: each manifest found installed
 * Every route but /plugin-registry needs the admin key. The list holds the built-in
 * backends (enabled = it is FAX_BACKEND, as in Faxbot) and the local storage, then
 * every plugin (enabled = switched on; "active" says which one is in use). */
#include "api/api_internal.h"
#include "api/settings_apply.h"
#include "auth/audit.h"
#include "backend/backend.h"
#include "backend/backend_plugins.h"
#include "config/settings.h"
#include "plugins/plugin.h"
#include "plugins/plugin_store.h"
#include "util/util.h"

#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* installs, removals and switches one at a time */
static pthread_mutex_t change_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *data_dir(void)
{
    return api_cfg()->data_dir;
}

static void reload_plugins(void)
{
    char err[512];
    if (plugins_load(data_dir(), err, sizeof err)) log_error("plugins: %s", err);
}

/* A plugin installed while serving: its fields become settings rows now, and a new
 * snapshot reads their values (from the settings file and the environment). */
static void settings_for_new_plugins(const char *who)
{
    if (backend_plugins_register_rows() <= 0) return;
    char err[512];
    int status = 200;
    json_t *r = settings_apply_reload(who, &status, err, sizeof err);
    if (!r) log_warn("plugins: the new plugin's settings are read at the next start: %s", err);
    json_decref(r);
}

/* SIP_TRUNK_PRESET in force names this plugin */
static bool trunk_in_use(const plugin *p)
{
    const char *preset = setting_raw("SIP_TRUNK_PRESET");
    if (!preset) preset = "generic";
    const plugin *q = plugin_find(preset);
    return q == p && (!strcmp(api_cfg()->backend, "sip") || !strcmp(api_cfg()->backend, "freeswitch"));
}

static bool plugin_active(const plugin *p)
{
    if (p->kind == PLUGIN_KIND_SIP_TRUNK) return trunk_in_use(p);
    return !strcmp(api_cfg()->backend, p->id);
}

/* Every field has its settings row (a plugin installed while the gateway runs gets them at the next start). */
static bool rows_ready(const plugin *p)
{
    for (int i = 0; i < p->n_fields; i++)
        if (!settings_find(p->fields[i].setting)) return false;
    return true;
}

static json_t *builtin_caps(const backend_ops *ops)
{
    unsigned caps = PLUGIN_CAP_SEND_FAX | PLUGIN_CAP_GET_STATUS;
    bool inbound = false;
    for (int i = 0; i < ops->n_webhooks; i++) {
        caps |= PLUGIN_CAP_WEBHOOK;
        if (ops->webhooks[i].inbound) inbound = true;
    }
    if (inbound || ops->create_inbound) caps |= PLUGIN_CAP_RECEIVE_FAX;
    return plugin_capabilities_json(caps);
}

/* What the Setup Wizard shows a person choosing a plugin: the manifest's description and,
 * for a trunk profile, its rules (termination host, caller ID, number format, auth). */
static void add_console_hints(json_t *o, const plugin *p)
{
    json_t *d = json_object_get(p->manifest, "description");
    if (json_is_string(d)) json_object_set(o, "description", d);
    json_t *t = json_object_get(p->manifest, "sip_trunk");
    if (p->kind != PLUGIN_KIND_SIP_TRUNK || !json_is_object(t)) return;
    json_t *hints = json_object();
    static const char *const parts[] = {"auth", "termination", "caller_id", "numbers"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        json_t *v = json_object_get(t, parts[i]);
        if (v) json_object_set_new(hints, parts[i], json_deep_copy(v));
    }
    json_object_set_new(o, "sip_trunk", hints);
}

static void list_plugins(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    json_t *items = json_array();
    for (int i = 0; i < backend_count(); i++) {
        const backend_ops *ops = backend_at(i);
        bool active = !strcmp(api_cfg()->backend, ops->name);
        json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:[s],s:o,s:b,s:b,s:s,s:b}", "id", ops->name, "name",
                                               ops->name, "version", "builtin", "categories", "outbound",
                                               "capabilities", builtin_caps(ops), "enabled", active, "configurable",
                                               ops->settings != NULL, "kind", "builtin", "active", active));
    }
    bool local = !strcmp(api_cfg()->storage_backend, "local");
    json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:[s],s:[sss],s:b,s:b,s:s,s:b}", "id", "local", "name",
                                           "local storage", "version", "builtin", "categories", "storage",
                                           "capabilities", "store", "retrieve", "delete", "enabled", local,
                                           "configurable", false, "kind", "builtin", "active", local));
    for (int i = 0; i < plugin_count(); i++) {
        const plugin *p = plugin_at(i);
        json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:b,s:b,s:s,s:s,s:b,s:s}", "id", p->id, "name", p->name, "version",
                              p->version, "categories", plugin_categories_json(p->categories), "capabilities",
                              plugin_capabilities_json(p->capabilities), "enabled", p->enabled, "configurable",
                              p->n_fields > 0, "kind", plugin_kind_name(p->kind), "short_name", p->short_name,
                              "active", plugin_active(p), "source",
                              p->source == PLUGIN_BUNDLED ? "bundled" : "installed");
        add_console_hints(o, p);
        json_array_append_new(items, o);
    }
    json_t *out = json_pack("{s:o}", "items", items);
    json_t *errs = plugins_errors();
    if (json_array_size(errs)) json_object_set_new(out, "errors", errs);
    else json_decref(errs);
    api_json(res, 200, out);
}

static json_t *value_json(const setting_def *row, const char *name)
{
    setting_source src = SOURCE_DEFAULT;
    const char *v = settings_value(settings_current(), name, &src);
    if (!v) return json_null();
    if (row && row->secret) {
        char masked[256];
        settings_mask(v, masked, sizeof masked);
        return json_string(masked);
    }
    return json_string(v);
}

static json_t *fields_json(const plugin *p)
{
    json_t *a = json_array();
    for (int i = 0; i < p->n_fields; i++) {
        const plugin_field *f = &p->fields[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:s,s:s,s:s}", "key", f->key, "type", f->type,
                                           "label", f->label, "help", f->help, "secret", f->secret, "required",
                                           f->required, "pattern", f->pattern, "default", f->dflt, "setting",
                                           f->setting));
    }
    return a;
}

static void get_config(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    api_admin_headers(res);
    const char *id = http_req_param(req, "id");
    const backend_ops *ops = NULL;
    for (int i = 0; i < backend_count() && !ops; i++)
        if (!strcmp(backend_at(i)->name, id)) ops = backend_at(i);
    if (ops) {
        json_t *settings = json_object();
        for (const setting_def *r = ops->settings; r && r->name; r++) {
            char key[80];
            str_copy(key, sizeof key, r->name);
            for (char *c = key; *c; c++) *c = (char)tolower((unsigned char)*c);
            json_object_set_new(settings, key, value_json(r, r->name));
        }
        api_json(res, 200, json_pack("{s:b,s:o}", "enabled", !strcmp(api_cfg()->backend, ops->name), "settings",
                                     settings));
        return;
    }
    const plugin *p = plugin_find(id);
    if (!p || strcmp(p->id, id)) {
        http_res_error(res, 404, "Plugin not found");
        return;
    }
    json_t *settings = json_object();
    for (int i = 0; i < p->n_fields; i++)
        json_object_set_new(settings, p->fields[i].key, value_json(settings_find(p->fields[i].setting),
                                                                   p->fields[i].setting));
    api_json(res, 200, json_pack("{s:b,s:o,s:o,s:b,s:b}", "enabled", p->enabled, "settings", settings, "fields",
                                 fields_json(p), "active", plugin_active(p), "restart_required", !rows_ready(p)));
}

/* A plugin's field may stand for a trunk setting (SIP_SERVER, …) or its own PLUGIN_<ID>_ row,
 * never for another setting of the gateway (API_KEY, FAX_DATA_DIR, …). */
static bool field_row_allowed(const plugin *p, const setting_def *row)
{
    if (row->apply == SETTING_ENV_ONLY) return false;
    if (!strncmp(row->name, "SIP_", 4)) return true;
    return row->backend && !strcmp(row->backend, p->id);
}

/* A masked secret sent back unchanged (the console shows "****abcd") means "keep it". */
static bool looks_masked(const char *v)
{
    return v[0] == '*' && strspn(v, "*") >= 3;
}

static int value_text(json_t *v, char *text, size_t len)
{
    if (json_is_string(v)) return str_copy(text, len, json_string_value(v));
    if (json_is_integer(v)) return str_fmt(text, len, "%lld", (long long)json_integer_value(v));
    if (json_is_boolean(v)) return str_copy(text, len, json_is_true(v) ? "true" : "false");
    if (json_is_null(v)) return text[0] = 0, 0;
    return -1;
}

static int add_change(json_t *changes, const char *name, const char *text, http_response *res)
{
    setting_source src = SOURCE_DEFAULT;
    settings_value(settings_current(), name, &src);
    if (src == SOURCE_ENV) {
        http_res_error(res, 409, "%s is set by the environment variable %s, which wins over the settings file; "
                                 "change or unset it where the gateway is started", name, name);
        return -1;
    }
    json_object_set_new(changes, name, json_string(text));
    return 0;
}

/* settings{key: value} of a plugin → {NAME: text}; the field's pattern and required checked. */
static json_t *plugin_changes(const plugin *p, json_t *settings, http_response *res)
{
    json_t *changes = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(settings, key, v) {
        const plugin_field *f = NULL;
        for (int i = 0; i < p->n_fields && !f; i++)
            if (!strcmp(p->fields[i].key, key) || !strcasecmp(p->fields[i].setting, key)) f = &p->fields[i];
        char text[4096];
        if (!f) {
            http_res_error(res, 400, "settings.%s: not a field of %s (GET /plugins/%s/config lists them)", key, p->id,
                           p->id);
            goto fail;
        }
        if (value_text(v, text, sizeof text)) {
            http_res_error(res, 400, "settings.%s: must be a string, number, boolean or null", key);
            goto fail;
        }
        if (f->secret && looks_masked(text)) continue;
        const setting_def *row = settings_find(f->setting);
        if (!row) {
            http_res_error(res, 409, "%s has no settings rows yet (its install could not add them): restart the "
                                     "gateway to configure it", p->id);
            goto fail;
        }
        if (!field_row_allowed(p, row)) {
            http_res_error(res, 403, "settings.%s: maps to %s, which a plugin's settings may not change (only SIP_* "
                                     "trunk settings and its own PLUGIN_ settings)", f->key, row->name);
            goto fail;
        }
        if (f->required && !text[0]) {
            http_res_error(res, 400, "settings.%s: required (%s)", f->key, f->label);
            goto fail;
        }
        if (text[0] && f->pattern[0]) {
            regex_t re;
            bool ok = regcomp(&re, f->pattern, REG_EXTENDED | REG_NOSUB) == 0;
            if (ok) {
                ok = regexec(&re, text, 0, NULL, 0) == 0;
                regfree(&re);
            }
            if (!ok) {
                http_res_error(res, 400, "settings.%s: does not match the pattern %s", f->key, f->pattern);
                goto fail;
            }
        }
        if (add_change(changes, f->setting, text, res)) goto fail;
    }
    return changes;
fail:
    json_decref(changes);
    return NULL;
}

static json_t *builtin_changes(const backend_ops *ops, json_t *settings, http_response *res)
{
    json_t *changes = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(settings, key, v) {
        const setting_def *row = NULL;
        for (const setting_def *r = ops->settings; r && r->name && !row; r++)
            if (!strcasecmp(r->name, key)) row = r;
        char text[4096];
        if (!row) {
            http_res_error(res, 400, "settings.%s: not a setting of the %s backend", key, ops->name);
            goto fail;
        }
        if (value_text(v, text, sizeof text)) {
            http_res_error(res, 400, "settings.%s: must be a string, number, boolean or null", key);
            goto fail;
        }
        if (row->secret && looks_masked(text)) continue;
        if (add_change(changes, row->name, text, res)) goto fail;
    }
    return changes;
fail:
    json_decref(changes);
    return NULL;
}

static void put_config(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    api_admin_headers(res);
    const char *id = http_req_param(req, "id");
    json_t *body = api_json_object_body(req, res);
    if (!body) return;
    json_t *enabled = json_object_get(body, "enabled"), *settings = json_object_get(body, "settings");
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
        if (strcmp(k, "enabled") && strcmp(k, "settings")) {
            http_res_error(res, 400, "%s: not a field of this request (enabled, settings)", k);
            json_decref(body);
            return;
        }
    if ((enabled && !json_is_boolean(enabled)) || (settings && !json_is_object(settings))) {
        http_res_error(res, 400, enabled && !json_is_boolean(enabled) ? "enabled: must be true or false"
                                                                       : "settings: must be an object");
        json_decref(body);
        return;
    }
    const backend_ops *ops = NULL;
    for (int i = 0; i < backend_count() && !ops; i++)
        if (!strcmp(backend_at(i)->name, id)) ops = backend_at(i);
    const plugin *p = ops ? NULL : plugin_find(id);
    if (!ops && (!p || strcmp(p->id, id))) {
        http_res_error(res, 404, "Plugin not found");
        json_decref(body);
        return;
    }
    json_t *changes = settings ? (ops ? builtin_changes(ops, settings, res) : plugin_changes(p, settings, res))
                               : json_object();
    if (!changes) {
        json_decref(body);
        return;
    }
    bool on = json_is_true(enabled);
    pthread_mutex_lock(&change_mu);
    int status = 200;
    char err[1024] = "";
    if (ops && enabled) {
        /* a built-in backend: enabled means "it is FAX_BACKEND" (Faxbot's meaning) */
        bool active = !strcmp(api_cfg()->backend, ops->name);
        if (on && !active && add_change(changes, "FAX_BACKEND", ops->name, res)) goto out;
        if (!on && active) {
            http_res_error(res, 409, "%s is FAX_BACKEND: enable another backend instead", ops->name);
            goto out;
        }
    }
    if (p && enabled && !on && plugin_active(p)) {
        http_res_error(res, 409, "%s is in use (%s): choose another one before disabling it", p->id,
                       p->kind == PLUGIN_KIND_SIP_TRUNK ? "SIP_TRUNK_PRESET" : "FAX_BACKEND");
        goto out;
    }
    if (p && enabled && on != p->enabled) {
        if (plugin_store_set_enabled(data_dir(), p->id, on, err, sizeof err)) {
            http_res_error(res, 500, "%s", err);
            goto out;
        }
        reload_plugins();
        audit_event(on ? "plugin_enabled" : "plugin_disabled", "plugin_id", p->id, "key_id", who.key_id, NULL);
    }
    json_t *applied = NULL;
    if (json_object_size(changes)) {
        applied = settings_apply_changes(changes, who.key_id, &status, err, sizeof err);
        if (!applied) {
            http_res_error(res, status, "%s", err);
            goto out;
        }
    }
    char path[1024];
    settings_apply_file_path(path, sizeof path);
    json_t *o = json_pack("{s:b,s:s}", "ok", 1, "path", path);
    if (applied) json_object_set_new(o, "applied", applied);
    const plugin *now = p ? plugin_find(p->id) : NULL;
    json_object_set_new(o, "enabled", json_boolean(ops ? !strcmp(api_cfg()->backend, ops->name) || on
                                                       : now && now->enabled));
    api_json(res, 200, o);
out:
    pthread_mutex_unlock(&change_mu);
    json_decref(changes);
    json_decref(body);
}

static void get_registry(http_request *req, http_response *res)
{
    principal who;
    if (api_require_key(req, res, &who)) return;
    char err[512], path[1200];
    json_t *r = plugin_store_registry(data_dir(), err, sizeof err);
    if (!r) {
        http_res_error(res, 500, "the local plugin registry is not valid: %s", err);
        return;
    }
    plugin_store_registry_path(data_dir(), path, sizeof path);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r, "items"), i, it) {
        const plugin *p = plugin_find(json_string_value(json_object_get(it, "id")));
        json_object_set_new(it, "installed", json_boolean(p && !strcmp(p->id, json_string_value(json_object_get(it, "id")))));
    }
    json_object_set_new(r, "path", json_string(path));
    api_json(res, 200, r);
}

static void installed_reply(http_response *res, int status, const char *id)
{
    const plugin *p = plugin_find(id);
    json_t *o = json_pack("{s:b,s:s,s:s}", "ok", 1, "id", id, "path", p ? p->dir : "");
    if (p) {
        json_object_set_new(o, "name", json_string(p->name));
        json_object_set_new(o, "kind", json_string(plugin_kind_name(p->kind)));
        json_object_set_new(o, "restart_required", json_boolean(!rows_ready(p)));
    }
    api_json(res, status, o);
}

static void install_plugin(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    json_t *body = api_json_object_body(req, res);
    if (!body) return;
    const char *id = json_string_value(json_object_get(body, "plugin_id"));
    if (!id || !*id) {
        http_res_error(res, 400, "plugin_id: missing (the id of a plugin in GET /plugin-registry)");
        json_decref(body);
        return;
    }
    char err[1024], pid[PLUGIN_ID_MAX];
    int status = 500;
    str_copy(pid, sizeof pid, id);
    json_decref(body);
    pthread_mutex_lock(&change_mu);
    int rc = plugin_store_install_from_registry(data_dir(), pid, err, sizeof err, &status);
    if (!rc) {
        reload_plugins();
        settings_for_new_plugins(who.key_id);
    }
    pthread_mutex_unlock(&change_mu);
    audit_event(rc ? "plugin_install_refused" : "plugin_installed", "plugin_id", pid, "key_id", who.key_id, NULL);
    if (rc) {
        http_res_error(res, status, "%s", err);
        return;
    }
    installed_reply(res, 200, pid);
}

/* ---- the HTTP-manifest admin routes ---- */

/* body.manifest as an http plugin: the plugin, or NULL with res filled (400 naming the field). */
static plugin *http_manifest(json_t *m, http_response *res)
{
    if (!json_is_object(m)) {
        http_res_error(res, 400, "manifest: missing (a JSON object)");
        return NULL;
    }
    char err[512];
    plugin *p = plugin_from_json(m, "", err, sizeof err);
    if (!p) {
        http_res_error(res, 400, "manifest: %s", err);
        return NULL;
    }
    if (p->kind != PLUGIN_KIND_HTTP) {
        http_res_error(res, 400, "manifest: kind: \"%s\" is not \"http\" (install other kinds with POST "
                                 "/plugins/install or faxbot plugins install)", plugin_kind_name(p->kind));
        plugin_free(p);
        return NULL;
    }
    return p;
}

/* The common start of the http-manifest admin routes: an admin key, a JSON object
 * body and a valid http manifest in it; NULL after answering the error. */
static plugin *admin_http_manifest(http_request *req, http_response *res, principal *who, json_t **body)
{
    if (api_require_admin(req, res, who)) return NULL;
    api_admin_headers(res);
    *body = api_json_object_body(req, res);
    if (!*body) return NULL;
    plugin *p = http_manifest(json_object_get(*body, "manifest"), res);
    if (!p) json_decref(*body);
    return p;
}

static void http_validate(http_request *req, http_response *res)
{
    principal who;
    json_t *body;
    plugin *p = admin_http_manifest(req, res, &who, &body);
    if (!p) return;
    json_t *ro = json_object_get(body, "render_only");
    bool render_only = !ro || json_is_true(ro);
    const plugin_kind_ops *k = plugin_kind_hooks(PLUGIN_KIND_HTTP);
    if (k && k->dry_run) {
        int status = 200;
        json_t *out = k->dry_run(p->manifest, body, &status);
        api_json(res, status, out ? out : json_pack("{s:s}", "detail", "the dry run failed"));
    } else if (!render_only) {
        http_res_error(res, 501, "this build has no runtime for http plugins: only render_only=true is available");
    } else {
        api_json(res, 200, json_pack("{s:s,s:s,s:s,s:o,s:o,s:b}", "id", p->id, "name", p->name, "kind", "http",
                                     "categories", plugin_categories_json(p->categories), "capabilities",
                                     plugin_capabilities_json(p->capabilities), "valid", 1));
    }
    plugin_free(p);
    json_decref(body);
}

static int install_one(json_t *m, char *id, char *err, size_t errlen, int *status)
{
    char e[512];
    plugin *p = plugin_from_json(m, "", e, sizeof e);
    if (!p) return (*status = 400, str_fmt(err, errlen, "manifest: %s", e), -1);
    bool http = p->kind == PLUGIN_KIND_HTTP;
    plugin_free(p);
    if (!http) return (*status = 400, str_fmt(err, errlen, "manifest: kind: only \"http\" manifests go here"), -1);
    return plugin_store_install_manifest(data_dir(), m, false, id, err, errlen, status);
}

static void http_install(http_request *req, http_response *res)
{
    principal who;
    json_t *body;
    plugin *p = admin_http_manifest(req, res, &who, &body);
    if (!p) return;
    plugin_free(p);
    char err[1024], id[PLUGIN_ID_MAX] = "";
    int status = 500;
    pthread_mutex_lock(&change_mu);
    int rc = plugin_store_install_manifest(data_dir(), json_object_get(body, "manifest"), false, id, err, sizeof err,
                                           &status);
    if (!rc) {
        reload_plugins();
        settings_for_new_plugins(who.key_id);
    }
    pthread_mutex_unlock(&change_mu);
    json_decref(body);
    if (rc) {
        http_res_error(res, status, "%s", err);
        return;
    }
    audit_event("plugin_installed", "plugin_id", id, "key_id", who.key_id, NULL);
    installed_reply(res, 200, id);
}

/* JSON objects or arrays of objects in ``` fenced blocks of a markdown text. */
static void markdown_candidates(const char *md, json_t *out)
{
    const char *p = md;
    while ((p = strstr(p, "```"))) {
        const char *start = strchr(p + 3, '\n');
        if (!start) break;
        const char *end = strstr(start, "```");
        if (!end) break;
        json_t *v = json_loadb(start, (size_t)(end - start), 0, NULL);
        if (json_is_object(v)) json_array_append(out, v);
        else if (json_is_array(v)) {
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it) json_array_append(out, it);
        }
        json_decref(v);
        p = end + 3;
    }
}

static void http_import(http_request *req, http_response *res)
{
    principal who;
    if (api_require_admin(req, res, &who)) return;
    api_admin_headers(res);
    json_t *body = api_json_object_body(req, res);
    if (!body) return;
    const char *source = json_string_value(json_object_get(body, "source"));
    if (source) {
        http_res_error(res, 404, "source \"%s\": no scraped manifest list ships with this gateway; send items or "
                                 "markdown", source);
        json_decref(body);
        return;
    }
    json_t *cands = json_array();
    json_t *items = json_object_get(body, "items");
    if (json_is_array(items)) json_array_extend(cands, items);
    const char *md = json_string_value(json_object_get(body, "markdown"));
    if (md) markdown_candidates(md, cands);
    json_decref(body);
    if (!json_array_size(cands)) {
        json_decref(cands);
        http_res_error(res, 400, "No manifest candidates provided");
        return;
    }
    json_t *imported = json_array(), *errors = json_array();
    size_t i;
    json_t *m;
    pthread_mutex_lock(&change_mu);
    json_array_foreach(cands, i, m) {
        char err[1024], id[PLUGIN_ID_MAX] = "";
        int status;
        if (!json_is_object(m)) {
            json_array_append_new(errors, json_pack("{s:s,s:[]}", "error", "not a JSON object", "data_keys"));
            continue;
        }
        if (install_one(m, id, err, sizeof err, &status)) {
            json_t *keys = json_array();
            const char *k;
            json_t *v;
            json_object_foreach(m, k, v) json_array_append_new(keys, json_string(k));
            json_array_append_new(errors, json_pack("{s:s,s:o}", "error", err, "data_keys", keys));
            continue;
        }
        char path[1200];
        str_fmt(path, sizeof path, "%s/plugins/%s", data_dir(), id);
        json_array_append_new(imported, json_pack("{s:s,s:s,s:s}", "id", id, "name",
                                                  json_string_value(json_object_get(m, "name")), "path", path));
        audit_event("plugin_installed", "plugin_id", id, "key_id", who.key_id, NULL);
    }
    if (json_array_size(imported)) {
        reload_plugins();
        settings_for_new_plugins(who.key_id);
    }
    pthread_mutex_unlock(&change_mu);
    json_decref(cands);
    api_json(res, 200, json_pack("{s:b,s:o,s:o}", "ok", 1, "imported", imported, "errors", errors));
}

#define PLUGIN_BODY_MAX (512 * 1024)

static const http_route plugin_routes[] = {
    {.method = "GET", .pattern = "/plugins", .handle = list_plugins},
    {.method = "GET", .pattern = "/plugins/{id}/config", .handle = get_config},
    {.method = "PUT", .pattern = "/plugins/{id}/config", .body_mode = HTTP_BODY_BUFFER, .max_body = 65536,
     .handle = put_config},
    {.method = "GET", .pattern = "/plugin-registry", .handle = get_registry},
    {.method = "POST", .pattern = "/plugins/install", .body_mode = HTTP_BODY_BUFFER, .max_body = 4096,
     .handle = install_plugin},
    {.method = "POST", .pattern = "/admin/plugins/http/validate", .body_mode = HTTP_BODY_BUFFER,
     .max_body = PLUGIN_BODY_MAX, .handle = http_validate},
    {.method = "POST", .pattern = "/admin/plugins/http/install", .body_mode = HTTP_BODY_BUFFER,
     .max_body = PLUGIN_BODY_MAX, .handle = http_install},
    {.method = "POST", .pattern = "/admin/plugins/http/import-manifests", .body_mode = HTTP_BODY_BUFFER,
     .max_body = 4 * PLUGIN_BODY_MAX, .handle = http_import},
};

void api_plugins_routes(const http_route **routes, int *n)
{
    *routes = plugin_routes;
    *n = (int)(sizeof plugin_routes / sizeof plugin_routes[0]);
}
