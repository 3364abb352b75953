/* settings_apply.c — see settings_apply.h. One change at a time (a mutex): the
 * order is check everything, write the file, swap the backend, publish. */
#include "api/settings_apply.h"
#include "api/api_internal.h"
#include "auth/audit.h"
#include "backend/backend.h"
#include "util/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

static pthread_mutex_t g_apply_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *g_pending_restart;    /* names; guarded by g_apply_lock */

void settings_apply_file_path(char *out, size_t outlen)
{
    if (settings_file_path(environ, out, outlen)) str_copy(out, outlen, "");
}

bool settings_apply_has_key(void)
{
    unsigned char key[32];
    bool have = false;
    char err[256];
    settings_file_key(environ, key, &have, err, sizeof err);
    explicit_bzero(key, sizeof key);
    return have;
}

json_t *settings_apply_pending_restart(void)
{
    pthread_mutex_lock(&g_apply_lock);
    json_t *a = g_pending_restart ? json_deep_copy(g_pending_restart) : json_array();
    pthread_mutex_unlock(&g_apply_lock);
    return a;
}

/* A value as the file keeps it: numbers and booleans typed, so a person can edit it. */
static json_t *file_value(const setting_def *row, const char *text)
{
    if (row->type == SETTING_INT) return json_integer(strtoll(text, NULL, 10));
    if (row->type == SETTING_BOOL) return json_boolean(!strcmp(text, "true"));
    return json_string(text);
}

/* The rows whose values differ between two snapshots, as a JSON array of names. */
static json_t *diff(const settings_snapshot *a, const settings_snapshot *b)
{
    json_t *names = json_array();
    const setting_def *const *rows;
    int n = settings_rows(&rows);
    for (int i = 0; i < n; i++) {
        const char *x = settings_value(a, rows[i]->name, NULL), *y = settings_value(b, rows[i]->name, NULL);
        if (strcmp(x ? x : "", y ? y : "")) json_array_append_new(names, json_string(rows[i]->name));
    }
    return names;
}

/* Settings the backends read when they are created, besides their own rows. */
static bool backend_reads(const setting_def *row, const char *be_name)
{
    static const char *const shared[] = {"PUBLIC_API_URL", "ENFORCE_PUBLIC_HTTPS", "FAX_LOCAL_STATION_ID", "FAX_HEADER",
                                         "INBOUND_ENABLED", "FAX_BACKEND"};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
        if (!strcmp(row->name, shared[i])) return true;
    if (row->backend && !strcmp(row->backend, be_name)) return true;
    if (row->backend && !strcmp(be_name, "freeswitch") && !strcmp(row->name, "ASTERISK_INBOUND_SECRET")) return true;
    if (!strcmp(be_name, "sinch") && !strncmp(row->name, "PHAXIO_API_", 11)) return true;    /* Sinch's fallback */
    bool pbx = !strcmp(be_name, "sip") || !strcmp(be_name, "freeswitch");
    return pbx && row->group && (!strcmp(row->group, "trunk") || !strcmp(row->group, "network"));
}

static bool contains(const json_t *names, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) if (!strcmp(json_string_value(v), name)) return true;
    return false;
}

/* Makes snap current (taking it) after checking it; file, when given, is written
 * first. Called with g_apply_lock held. */
static json_t *commit(settings_snapshot *snap, const json_t *file, const char *who, const char *event, int *status,
                      char *err, size_t errlen)
{
    config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) { settings_snapshot_free(snap); *status = 503; str_fmt(err, errlen, "out of memory"); return NULL; }
    if (config_load_snapshot(cfg, snap, err, errlen)) {
        free(cfg);
        settings_snapshot_free(snap);
        *status = 400;
        return NULL;
    }
    const settings_snapshot *old = settings_current();
    json_t *changed = diff(old, snap);
    bool backend_changed = strcmp(cfg->backend, jobs_backend_name(g_api.jobs)) != 0;
    bool swap = backend_changed;
    size_t i;
    json_t *v;
    json_array_foreach(changed, i, v) {
        const setting_def *row = settings_find(json_string_value(v));
        if (row && row->apply == SETTING_LIVE && backend_reads(row, cfg->backend)) swap = true;
    }

    char path[4096];
    settings_apply_file_path(path, sizeof path);
    unsigned char key[32];
    bool have_key = false;
    json_t *old_file = settings_file_values(old);
    if (file) {
        if (settings_file_key(environ, key, &have_key, err, errlen) ||
            settings_file_write(path, file, have_key ? key : NULL, err, errlen)) {
            *status = 503;
            goto fail;
        }
    }
    if (swap) {
        settings_override_thread(snap);
        int rc = jobs_swap_backend(g_api.jobs, cfg, err, errlen);
        settings_override_thread(NULL);
        if (rc) {
            char ignore[256];
            if (file) settings_file_write(path, old_file, have_key ? key : NULL, ignore, sizeof ignore);   /* as it was */
            *status = 400;
            goto fail;
        }
    }
    explicit_bzero(key, sizeof key);
    settings_set_current(snap);
    __atomic_store_n(&g_api.cfg, cfg, __ATOMIC_RELEASE);     /* the old struct stays valid: readers may hold it */
    jobs_apply_config(g_api.jobs, cfg);
    log_set_level((log_level)cfg->log_level);

    if (!g_pending_restart) g_pending_restart = json_array();
    json_t *restart_now = json_array();
    json_array_foreach(changed, i, v) {
        const setting_def *row = settings_find(json_string_value(v));
        if (row && row->apply == SETTING_RESTART) {
            json_array_append(restart_now, v);
            if (!contains(g_pending_restart, json_string_value(v))) json_array_append(g_pending_restart, v);
        }
    }
    /* The PBX's own configuration follows: rendered into its directory, reloaded where it changed. */
    json_t *pbx = NULL;
    char *report = calloc(1, 16384);
    if (report) {
        int prc = jobs_backend_apply_pbx(g_api.jobs, report, 16384);
        pbx = prc == 1 ? json_null() : json_loads(report, 0, NULL);
        if (!pbx) pbx = json_pack("{s:b,s:s}", "ok", 0, "detail", report);
        free(report);
    }

    strbuf names;
    sb_init(&names);
    json_array_foreach(changed, i, v) sb_appendf(&names, "%s%s", i ? "," : "", json_string_value(v));
    audit_event(event, "by", who, "changed", names.data ? names.data : "", "backend", cfg->backend,
                "backend_swapped", swap ? "true" : "false", NULL);
    log_info("settings %s by %s: %s%s", !strcmp(event, "settings_reloaded") ? "reloaded" : "changed", who,
             names.data ? names.data : "(nothing)", swap ? " (backend swapped live)" : "");
    sb_free(&names);
    json_decref(old_file);

    json_t *out = json_object();
    json_object_set_new(out, "applied", changed);
    json_object_set_new(out, "backend_changed", json_boolean(backend_changed));
    json_object_set_new(out, "backend_swapped", json_boolean(swap));
    json_object_set_new(out, "storage_changed", json_false());
    json_object_set_new(out, "restart_recommended", json_boolean(json_array_size(restart_now) > 0));
    json_object_set_new(out, "restart_required", json_deep_copy(g_pending_restart));
    json_object_set_new(out, "restart_required_by_this_change", restart_now);
    json_object_set_new(out, "pbx", pbx);
    return out;
fail:
    explicit_bzero(key, sizeof key);
    json_decref(old_file);
    json_decref(changed);
    settings_snapshot_free(snap);
    free(cfg);
    return NULL;
}

/* The settings file's values with changes merged in; NULL (400) on a bad value. */
static json_t *merged_file(const json_t *changes, char *err, size_t errlen)
{
    json_t *file = settings_file_values(settings_current());
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)changes, name, v) {
        const setting_def *row = settings_find(name);
        char norm[4096];
        if (!row || settings_check_value(row, json_string_value(v), norm, sizeof norm, err, errlen)) {
            json_decref(file);
            return NULL;
        }
        if (!norm[0]) json_object_del(file, row->name);
        else json_object_set_new(file, row->name, file_value(row, norm));
    }
    return file;
}

json_t *settings_apply_changes(const json_t *changes, const char *who, int *status, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_apply_lock);
    json_t *out = NULL;
    json_t *file = merged_file(changes, err, errlen);
    if (!file) { *status = 400; goto done; }
    settings_snapshot *snap = settings_build(file, environ, err, errlen);
    if (!snap) { *status = 400; goto done; }
    out = commit(snap, file, who, "settings_changed", status, err, errlen);
done:
    json_decref(file);
    pthread_mutex_unlock(&g_apply_lock);
    return out;
}

json_t *settings_apply_reload(const char *who, int *status, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_apply_lock);
    json_t *out = NULL;
    char path[4096];
    settings_apply_file_path(path, sizeof path);
    unsigned char key[32];
    bool have = false;
    int plain = 0;
    json_t *file = NULL;
    if (settings_file_key(environ, key, &have, err, errlen) == 0)
        file = settings_file_read(path, have ? key : NULL, &plain, err, errlen);
    explicit_bzero(key, sizeof key);
    if (!file) { *status = 400; goto done; }
    settings_snapshot *snap = settings_build(file, environ, err, errlen);
    if (!snap) { *status = 400; goto done; }
    out = commit(snap, NULL, who, "settings_reloaded", status, err, errlen);
done:
    json_decref(file);
    pthread_mutex_unlock(&g_apply_lock);
    return out;
}

/* ---- validate ---- */

static void ignore_report(void *ctx, const char *job_id, const backend_outcome *o) { (void)ctx; (void)job_id; (void)o; }
static int refuse_receive(void *ctx, const inbound_delivery *d, char *id, char *err, size_t errlen)
{
    (void)ctx; (void)d; (void)id;
    str_fmt(err, errlen, "a validation instance does not take faxes");
    return -1;
}

static void field(json_t *fields, const char *name, bool ok, const char *detail)
{
    json_object_set_new(fields, name, json_pack("{s:b,s:s}", "ok", ok, "detail", detail ? detail : ""));
}

/* The first setting named in a message (backends' errors name the variable). */
static const char *named_setting(const char *msg)
{
    const setting_def *const *rows;
    int n = settings_rows(&rows);
    const char *best = NULL;
    const char *best_at = NULL;
    for (int i = 0; i < n; i++) {
        const char *at = strstr(msg, rows[i]->name);
        if (at && (!best_at || at < best_at || (at == best_at && strlen(rows[i]->name) > strlen(best)))) {
            best = rows[i]->name;
            best_at = at;
        }
    }
    return best;
}

/* Turns a backend's diagnose report into per-field verdicts. */
static void fields_from_report(const char *be_name, json_t *rep, int rc, json_t *fields)
{
    const char *cred = json_string_value(json_object_get(rep, "credentials"));
    const char *detail = json_string_value(json_object_get(rep, "detail"));
    static const struct { const char *name, *a, *b, *host, *port, *what; } f[] = {
        {"phaxio", "PHAXIO_API_KEY", "PHAXIO_API_SECRET", "PHAXIO_API_URL", NULL, "Phaxio"},
        {"sinch", "SINCH_API_KEY", "SINCH_API_SECRET", "SINCH_BASE_URL", NULL, "Sinch"},
        {"signalwire", "SIGNALWIRE_PROJECT_ID", "SIGNALWIRE_API_TOKEN", "SIGNALWIRE_SPACE_URL", NULL, "SignalWire"},
        {"sip", "ASTERISK_AMI_USERNAME", "ASTERISK_AMI_PASSWORD", "ASTERISK_AMI_HOST", "ASTERISK_AMI_PORT", "Asterisk (AMI login)"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (strcmp(be_name, f[i].name)) continue;
        char msg[512];
        if (cred && !strcmp(cred, "ok")) {
            str_fmt(msg, sizeof msg, "accepted by %s", f[i].what);
            field(fields, f[i].a, true, msg);
            field(fields, f[i].b, true, msg);
        } else if (cred && !strcmp(cred, "rejected")) {
            str_fmt(msg, sizeof msg, "rejected by %s: check %s and %s", f[i].what, f[i].a, f[i].b);
            field(fields, f[i].a, false, msg);
            field(fields, f[i].b, false, msg);
        } else if (cred && !strcmp(cred, "missing")) {
            field(fields, f[i].a, false, detail ? detail : "not set");
            field(fields, f[i].b, false, detail ? detail : "not set");
        } else {
            str_fmt(msg, sizeof msg, "%s is not reachable%s%s", f[i].what, detail ? ": " : "", detail ? detail : "");
            field(fields, f[i].host, false, msg);
            if (f[i].port) field(fields, f[i].port, false, msg);
        }
        if (!strcmp(be_name, "sip")) {
            json_t *trunk = json_object_get(rep, "trunk");
            if (trunk) {
                char *t = json_dumps(trunk, JSON_COMPACT);
                json_t *ok = json_object_get(trunk, "ok");
                field(fields, "SIP_SERVER", !ok || json_is_true(ok), t);
                free(t);
            }
        }
        return;
    }
    if (!strcmp(be_name, "freeswitch")) {
        const char *esl = json_string_value(json_object_get(rep, "esl"));
        if (esl && !strcmp(esl, "ok")) field(fields, "FREESWITCH_ESL_PASSWORD", true, "accepted by FreeSWITCH (ESL auth)");
        else if (esl && !strcmp(esl, "auth_rejected"))
            field(fields, "FREESWITCH_ESL_PASSWORD", false, "rejected by FreeSWITCH: the ESL password is wrong");
        else {
            field(fields, "FREESWITCH_ESL_HOST", false, detail ? detail : "FreeSWITCH's event socket is not reachable");
            field(fields, "FREESWITCH_ESL_PORT", false, detail ? detail : "FreeSWITCH's event socket is not reachable");
        }
        json_t *gw = json_object_get(rep, "gateway");
        if (gw && json_is_object(gw)) {
            json_t *ok = json_object_get(gw, "ok");
            char *t = json_dumps(gw, JSON_COMPACT);
            field(fields, "FREESWITCH_GATEWAY_NAME", !ok || json_is_true(ok), t);
            free(t);
        }
        return;
    }
    if (rc) field(fields, "FAX_BACKEND", false, detail ? detail : "the backend's checks failed");
}

/* Connection-based backends log in in the background: wait (a few seconds at most)
 * until the report says something definite. */
static bool definite(json_t *rep)
{
    const char *cred = json_string_value(json_object_get(rep, "credentials"));
    const char *esl = json_string_value(json_object_get(rep, "esl"));
    if (esl) return strcmp(esl, "unreachable") != 0;
    return !cred || strcmp(cred, "unknown") != 0;
}

json_t *settings_apply_validate(const json_t *changes, const char *who, int *status, char *err, size_t errlen)
{
    json_t *file = merged_file(changes, err, errlen);
    if (!file) { *status = 400; return NULL; }
    settings_snapshot *snap = settings_build(file, environ, err, errlen);
    json_decref(file);
    if (!snap) { *status = 400; return NULL; }
    json_t *fields = json_object(), *checks = json_object();
    config cfg;
    bool ok = true;
    if (config_load_snapshot(&cfg, snap, err, errlen)) {
        const char *name = named_setting(err);
        field(fields, name ? name : "settings", false, err);
        settings_snapshot_free(snap);
        return json_pack("{s:n,s:b,s:o,s:o,s:n}", "backend", "ok", 0, "checks", checks, "fields", fields, "test_fax");
    }
    const backend_ops *ops = backend_find(cfg.backend);
    char data_ok[8] = "false";
    if (access(cfg.data_dir, W_OK) == 0) str_copy(data_ok, sizeof data_ok, "true");
    json_object_set_new(checks, "fax_data_dir_writable", json_boolean(!strcmp(data_ok, "true")));
    if (!ops) {
        char m[256];
        str_fmt(m, sizeof m, "not a backend; choose one of %s", backend_names());
        field(fields, "FAX_BACKEND", false, m);
        ok = false;
    } else {
        backend_sink sink = {.report = ignore_report, .receive = refuse_receive, .ctx = NULL};
        char cerr[512] = "";
        settings_override_thread(snap);
        backend *b = ops->create(&cfg, sink, cerr, sizeof cerr);
        settings_override_thread(NULL);
        if (!b) {
            const char *name = named_setting(cerr);
            field(fields, name ? name : "FAX_BACKEND", false, cerr);
            json_object_set_new(checks, "backend_config", json_false());
            ok = false;
        } else {
            char msg[512] = "";
            bool ready = ops->check(b, msg, sizeof msg) == 0;
            json_object_set_new(checks, "backend_config", json_boolean(ready));
            if (msg[0]) json_object_set_new(checks, "backend_message", json_string(msg));
            /* a readiness problem that names a setting is that setting's verdict */
            const char *named = ready ? NULL : named_setting(msg);
            if (named) field(fields, named, false, msg);
            if (ops->diagnose) {
                char *report = calloc(1, 8192);
                json_t *rep = NULL;
                int rc = 0;
                int64_t deadline = mono_ms() + 5000;
                for (;;) {
                    json_decref(rep);
                    rc = report ? ops->diagnose(b, report, 8192) : -1;
                    rep = report ? json_loads(report, JSON_DECODE_ANY, NULL) : NULL;
                    if (!json_is_object(rep) || definite(rep) || mono_ms() > deadline) break;
                    sleep_ms(150);
                }
                free(report);
                if (json_is_object(rep)) {
                    fields_from_report(ops->name, rep, rc, fields);
                    json_object_set(checks, "backend", rep);
                    const char *cred = json_string_value(json_object_get(rep, "credentials"));
                    json_t *esl_auth = json_object_get(rep, "auth");
                    json_object_set_new(checks, "auth", json_boolean(cred ? !strcmp(cred, "ok") : esl_auth ? json_is_true(esl_auth) : rc == 0));
                }
                json_decref(rep);
                if (rc) ok = false;
            }
            ops->destroy(b);
        }
    }
    settings_snapshot_free(snap);
    size_t i;
    const char *k;
    json_t *f;
    (void)i;
    json_object_foreach(fields, k, f) if (!json_is_true(json_object_get(f, "ok"))) ok = false;
    audit_event("settings_validated", "by", who, "backend", cfg.backend, "ok", ok ? "true" : "false", NULL);
    return json_pack("{s:s,s:b,s:o,s:o,s:n}", "backend", cfg.backend, "ok", ok, "checks", checks, "fields", fields, "test_fax");
}
