/* plugin_set.c — the set of loaded plugins: the bundled ones (embedded in the binary
 * from plugins/bundled/<id>/manifest.json by tools/embed_plugins.py, so nothing has to
 * be installed next to it) and those installed under $FAX_DATA_DIR/plugins/<id>/.
 * Which installed plugins are disabled is kept in $FAX_DATA_DIR/plugins/state.json.
 * A plugin pointer handed out stays valid until plugins_shutdown(): a reload retires
 * the old set instead of freeing it, because a backend may still hold one. */
#include "plugins/plugin.h"
#include "plugins/plugin_bundled.h"
#include "plugins/plugin_store.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static plugin **set;            /* the current set */
static int n_set;
static plugin **retired;        /* earlier sets' plugins, freed at shutdown */
static int n_retired;
static json_t *errors;          /* [{path, detail}] */
static char data_dir[1024];
static bool loaded;

static int cmp_id(const void *a, const void *b)
{
    return strcmp((*(plugin *const *)a)->id, (*(plugin *const *)b)->id);
}

static int add(plugin ***arr, int *n, plugin *p)
{
    plugin **grown = realloc(*arr, (size_t)(*n + 1) * sizeof **arr);
    if (!grown) return -1;
    *arr = grown;
    grown[(*n)++] = p;
    return 0;
}

static void note_error(json_t *errs, const char *path, const char *detail)
{
    log_warn("plugins: %s skipped: %s", path, detail);
    json_array_append_new(errs, json_pack("{s:s,s:s}", "path", path, "detail", detail));
}

static int load_bundled(plugin ***arr, int *n, char *err, size_t errlen)
{
    for (const plugin_bundled *b = plugin_bundled_manifests; b->id; b++) {
        char e[512];
        plugin *p = plugin_parse(b->text, b->len, "", e, sizeof e);
        if (!p) return str_fmt(err, errlen, "bundled plugin %s: %s", b->id, e), -1;
        p->source = PLUGIN_BUNDLED;
        if (add(arr, n, p)) {
            plugin_free(p);
            return str_fmt(err, errlen, "out of memory"), -1;
        }
    }
    return 0;
}

static bool taken(plugin **arr, int n, const plugin *p)
{
    for (int i = 0; i < n; i++)
        if (!strcasecmp(arr[i]->id, p->id) || !strcasecmp(arr[i]->short_name, p->short_name) ||
            !strcasecmp(arr[i]->short_name, p->id) || !strcasecmp(arr[i]->id, p->short_name))
            return true;
    return false;
}

static void load_installed(const char *dir, plugin ***arr, int *n, json_t *errs)
{
    char root[1200];
    str_fmt(root, sizeof root, "%s/plugins", dir);
    DIR *d = opendir(root);
    if (!d) return;
    plugin **found = NULL;
    int n_found = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char pdir[1400], path[1500];
        str_fmt(pdir, sizeof pdir, "%s/%s", root, de->d_name);
        struct stat st;
        if (stat(pdir, &st) || !S_ISDIR(st.st_mode)) continue;
        str_fmt(path, sizeof path, "%s/manifest.json", pdir);
        /* a folder without a manifest is no plugin (e.g. the registry's archives/) */
        if (stat(path, &st) && errno == ENOENT) continue;
        char e[512];
        size_t len = 0;
        char *text = plugin_store_read_file(path, 256 * 1024, &len, e, sizeof e);
        if (!text) { note_error(errs, path, e); continue; }
        plugin *p = plugin_parse(text, len, pdir, e, sizeof e);
        free(text);
        if (!p) { note_error(errs, path, e); continue; }
        if (strcmp(p->id, de->d_name)) {
            str_fmt(e, sizeof e, "the folder is named \"%s\" but the manifest's id is \"%s\"", de->d_name, p->id);
            note_error(errs, path, e);
            plugin_free(p);
            continue;
        }
        if (add(&found, &n_found, p)) plugin_free(p);
    }
    closedir(d);
    if (found) qsort(found, (size_t)n_found, sizeof *found, cmp_id);
    for (int i = 0; i < n_found; i++) {
        if (taken(*arr, *n, found[i])) {
            char path[1500];
            str_fmt(path, sizeof path, "%s/manifest.json", found[i]->dir);
            note_error(errs, path, "its id or short_name is already taken by another plugin");
            plugin_free(found[i]);
        } else if (add(arr, n, found[i])) {
            plugin_free(found[i]);
        }
    }
    free(found);
}

int plugins_load(const char *dir, char *err, size_t errlen)
{
    plugin **arr = NULL;
    int n = 0;
    json_t *errs = json_array();
    if (load_bundled(&arr, &n, err, errlen)) {
        for (int i = 0; i < n; i++) plugin_free(arr[i]);
        free(arr);
        json_decref(errs);
        return -1;
    }
    if (dir && *dir) {
        load_installed(dir, &arr, &n, errs);
        json_t *disabled = plugin_store_disabled(dir);   /* bundled ones can be switched off too */
        size_t k;
        json_t *v;
        json_array_foreach(disabled, k, v)
            for (int i = 0; i < n; i++)
                if (json_is_string(v) && !strcmp(json_string_value(v), arr[i]->id)) arr[i]->enabled = false;
        json_decref(disabled);
    }
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_set; i++)
        if (add(&retired, &n_retired, set[i])) plugin_free(set[i]);   /* OOM: nobody should still hold it */
    free(set);
    set = arr;
    n_set = n;
    json_decref(errors);
    errors = errs;
    str_copy(data_dir, sizeof data_dir, dir ? dir : "");
    loaded = true;
    pthread_mutex_unlock(&mu);
    return 0;
}

/* Anyone asking before plugins_load (a unit test, a CLI path) gets the bundled set. */
static void ensure_loaded(void)
{
    pthread_mutex_lock(&mu);
    bool need = !loaded;
    pthread_mutex_unlock(&mu);
    if (need) {
        char err[512];
        if (plugins_load(NULL, err, sizeof err)) log_error("plugins: %s", err);
    }
}

const plugin *plugin_find(const char *name)
{
    if (!name || !*name) return NULL;
    ensure_loaded();
    const plugin *found = NULL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_set && !found; i++)
        if (!strcasecmp(set[i]->id, name)) found = set[i];
    for (int i = 0; i < n_set && !found; i++)
        if (!strcasecmp(set[i]->short_name, name)) found = set[i];
    pthread_mutex_unlock(&mu);
    return found;
}

int plugin_count(void)
{
    ensure_loaded();
    pthread_mutex_lock(&mu);
    int n = n_set;
    pthread_mutex_unlock(&mu);
    return n;
}

const plugin *plugin_at(int i)
{
    ensure_loaded();
    pthread_mutex_lock(&mu);
    const plugin *p = i >= 0 && i < n_set ? set[i] : NULL;
    pthread_mutex_unlock(&mu);
    return p;
}

json_t *plugins_errors(void)
{
    pthread_mutex_lock(&mu);
    json_t *e = errors ? json_deep_copy(errors) : json_array();
    pthread_mutex_unlock(&mu);
    return e;
}

const char *plugins_data_dir(void)
{
    return data_dir;
}

void plugins_shutdown(void)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_set; i++) plugin_free(set[i]);
    for (int i = 0; i < n_retired; i++) plugin_free(retired[i]);
    free(set);
    free(retired);
    set = retired = NULL;
    n_set = n_retired = 0;
    json_decref(errors);
    errors = NULL;
    loaded = false;
    pthread_mutex_unlock(&mu);
}
