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

/* Every configuration a change published: a thread may still read an older one, so
 * none is freed before the gateway stops (one small struct per change). */
typedef struct published_config {
    config cfg;
    struct published_config *next;
} published_config;
static published_config *g_published;

void settings_apply_shutdown(void)
{
    pthread_mutex_lock(&g_apply_lock);
    while (g_published) {
        published_config *next = g_published->next;
        free(g_published);
        g_published = next;
    }
    json_decref(g_pending_restart);
    g_pending_restart = NULL;
    pthread_mutex_unlock(&g_apply_lock);
}

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
    published_config *node = calloc(1, sizeof *node);
    if (!node) { settings_snapshot_free(snap); *status = 503; str_fmt(err, errlen, "out of memory"); return NULL; }
    config *cfg = &node->cfg;
    if (config_load_snapshot(cfg, snap, err, errlen)) {
        free(node);
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
    node->next = g_published;
    g_published = node;
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
    json_t *pbx = json_object();
    if (jobs_backend_apply_pbx(g_api.jobs, pbx) == 1) {
        json_decref(pbx);
        pbx = json_null();
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
    free(node);
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

json_t *settings_apply_validate(const json_t *changes, const char *who, int *status, char *err, size_t errlen)
{
    json_t *file = merged_file(changes, err, errlen);
    if (!file) { *status = 400; return NULL; }
    settings_snapshot *snap = settings_build(file, environ, err, errlen);
    json_decref(file);
    if (!snap) { *status = 400; return NULL; }
    json_t *out = backend_validate(snap);
    settings_snapshot_free(snap);
    const char *be = json_string_value(json_object_get(out, "backend"));
    audit_event("settings_validated", "by", who, "backend", be ? be : "", "ok",
                json_is_true(json_object_get(out, "ok")) ? "true" : "false", NULL);
    return out;
}
