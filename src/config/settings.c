/* settings.c — the settings table (registry of rows), snapshots of effective
 * values with their source (default < file < environment), value checks, masking,
 * and the reading seam every module uses instead of getenv. */
#include "config/settings.h"
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;
extern const setting_def settings_core_rows[];
extern const int settings_core_n;

#define MAX_ROWS 512

/* Append-only: a row, once in, stays at its index. Rows may be added while the gateway
 * runs (a plugin installed through the API): the slot is written before the count is
 * published (release), and readers take the count once (acquire) and index below it. */
static const setting_def *g_rows[MAX_ROWS];
static int g_n_rows;
static bool g_core_done;
static pthread_mutex_t g_register_lock = PTHREAD_MUTEX_INITIALIZER;

static int n_rows(void)
{
    return __atomic_load_n(&g_n_rows, __ATOMIC_ACQUIRE);
}

struct settings_snapshot {
    int n;
    char **values;               /* per row index; never NULL */
    setting_source *sources;
    json_t *file;                /* what the settings file holds (decrypted), NAME -> value */
    settings_snapshot *older;    /* snapshots replaced earlier, freed at shutdown */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static settings_snapshot *g_current;
static __thread const settings_snapshot *t_override;   /* a candidate being tried on this thread */

static void register_core(void)
{
    if (g_core_done) return;
    g_core_done = true;
    settings_register(settings_core_rows, settings_core_n);
}

static int row_index(const char *name)
{
    register_core();
    int n = n_rows();
    for (int i = 0; i < n; i++)
        if (!strcasecmp(g_rows[i]->name, name)) return i;
    return -1;
}

void settings_register(const setting_def *rows, int n)
{
    if (!g_core_done && rows != settings_core_rows) register_core();
    pthread_mutex_lock(&g_register_lock);
    g_core_done = true;
    int count = g_n_rows;
    for (int i = 0; (n < 0 ? rows[i].name != NULL : i < n) && count < MAX_ROWS; i++) {
        bool dup = false;
        for (int k = 0; k < count && !dup; k++) dup = !strcasecmp(g_rows[k]->name, rows[i].name);
        if (dup) continue;
        g_rows[count++] = &rows[i];
        __atomic_store_n(&g_n_rows, count, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g_register_lock);
}

const setting_def *settings_find(const char *name)
{
    if (!name) return NULL;
    int i = row_index(name);
    return i >= 0 ? g_rows[i] : NULL;
}

int settings_rows(const setting_def *const **rows)
{
    register_core();
    *rows = g_rows;
    return n_rows();
}

const char *settings_source_name(setting_source src)
{
    return src == SOURCE_ENV ? "env" : src == SOURCE_FILE ? "file" : "default";
}

void settings_mask(const char *value, char *out, size_t outlen)
{
    size_t n = value ? strlen(value) : 0;
    if (!n) { str_copy(out, outlen, ""); return; }
    if (n <= 4) { str_copy(out, outlen, "***"); return; }
    size_t stars = n - 4;
    if (stars > 16) stars = 16;      /* the length of a secret is not shown beyond this */
    char buf[64];
    memset(buf, '*', stars);
    memcpy(buf + stars, value + n - 4, 4);
    buf[stars + 4] = 0;
    str_copy(out, outlen, buf);
}

static bool choice_ok(const char *choices, const char *v, char *out, size_t outlen)
{
    const char *p = choices;
    while (*p) {
        size_t n = strcspn(p, "|");
        if (strlen(v) == n && !strncasecmp(p, v, n)) {
            str_fmt(out, outlen, "%.*s", (int)n, p);
            return true;
        }
        p += n;
        if (*p == '|') p++;
    }
    return false;
}

/* allow_ctl: the environment's values keep their control characters (the modules
 * that use them clean or refuse them, as they always did); values that come
 * through the API or the file may not carry any. */
static int check_value(const setting_def *row, const char *value, char *out, size_t outlen, char *err, size_t errlen,
                       bool allow_ctl)
{
    const char *v = value ? value : "";
    for (const unsigned char *p = (const unsigned char *)v; *p && !allow_ctl; p++)
        if (*p < 0x20 || *p == 0x7f) {
            str_fmt(err, errlen, "%s must not contain control characters", row->name);
            return -1;
        }
    if (!*v) return str_copy(out, outlen, "");
    switch (row->type) {
    case SETTING_INT: {
        char *end = NULL;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < row->lo || x > row->hi) {
            str_fmt(err, errlen, "%s must be a whole number from %ld to %ld (got '%s')", row->name, row->lo, row->hi,
                    row->secret ? "***" : v);
            return -1;
        }
        return str_fmt(out, outlen, "%ld", x);
    }
    case SETTING_BOOL:
        if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
            return str_copy(out, outlen, "true");
        if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
            return str_copy(out, outlen, "false");
        str_fmt(err, errlen, "%s must be true or false (got '%s')", row->name, v);
        return -1;
    case SETTING_ENUM:
        if (choice_ok(row->choices, v, out, outlen)) return 0;
        str_fmt(err, errlen, "%s must be one of %s (got '%s')", row->name, row->choices, v);
        return -1;
    case SETTING_STR:
        if (str_copy(out, outlen, v)) {
            str_fmt(err, errlen, "%s is too long (at most %zu characters)", row->name, outlen - 1);
            return -1;
        }
        return 0;
    }
    return -1;
}

int settings_check_value(const setting_def *row, const char *value, char *out, size_t outlen, char *err, size_t errlen)
{
    return check_value(row, value, out, outlen, err, errlen, false);
}

static const char *env_lookup(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return (*e)[n + 1] ? *e + n + 1 : NULL;
    return NULL;
}

/* A file value as text: strings as they are, numbers and booleans written out. */
static int json_text(const json_t *v, char *out, size_t outlen)
{
    if (json_is_string(v)) return str_copy(out, outlen, json_string_value(v));
    if (json_is_integer(v)) return str_fmt(out, outlen, "%lld", (long long)json_integer_value(v));
    if (json_is_boolean(v)) return str_copy(out, outlen, json_is_true(v) ? "true" : "false");
    if (json_is_null(v)) return str_copy(out, outlen, "");
    return -1;
}

void settings_snapshot_free(settings_snapshot *s)
{
    while (s) {
        settings_snapshot *next = s->older;
        for (int i = 0; i < s->n; i++) {
            if (s->values[i]) {
                explicit_bzero(s->values[i], strlen(s->values[i]));
                free(s->values[i]);
            }
        }
        free(s->values);
        free(s->sources);
        json_decref(s->file);
        free(s);
        s = next;
    }
}

settings_snapshot *settings_build(const json_t *file_values, char *const *envp, char *err, size_t errlen)
{
    register_core();
    if (file_values && !json_is_object(file_values)) {
        str_fmt(err, errlen, "the settings file's \"settings\" must be an object");
        return NULL;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)file_values, key, val) {
        const setting_def *row = settings_find(key);
        /* a plugin's setting (PLUGIN_<ID>_<KEY>) stays in the file while the plugin is
         * removed or broken: kept, unused, for when it comes back */
        if (!row && !strncmp(key, "PLUGIN_", 7)) continue;
        if (!row) { str_fmt(err, errlen, "unknown setting '%s' in the settings file", key); return NULL; }
        if (row->apply == SETTING_ENV_ONLY) {
            str_fmt(err, errlen, "%s can only be set in the environment, not in the settings file", row->name);
            return NULL;
        }
        char tmp[8];
        if (!json_is_string(val) && json_text(val, tmp, sizeof tmp) < 0) {
            str_fmt(err, errlen, "setting '%s' in the settings file must be a string, number or boolean", key);
            return NULL;
        }
    }
    settings_snapshot *s = calloc(1, sizeof *s);
    if (!s) { str_fmt(err, errlen, "out of memory"); return NULL; }
    s->n = n_rows();
    s->file = file_values ? json_deep_copy(file_values) : json_object();
    s->values = calloc((size_t)s->n + 1, sizeof *s->values);
    s->sources = calloc((size_t)s->n + 1, sizeof *s->sources);
    if (!s->values || !s->sources) { str_fmt(err, errlen, "out of memory"); goto fail; }
    size_t cap = 8192;
    char *raw = malloc(cap), *norm = malloc(cap);
    if (!raw || !norm) { free(raw); free(norm); str_fmt(err, errlen, "out of memory"); goto fail; }
    for (int i = 0; i < s->n; i++) {
        const setting_def *row = g_rows[i];
        const char *v = env_lookup(envp, row->name);
        setting_source src = SOURCE_ENV;
        if (!v && file_values) {
            json_t *fv = NULL;
            json_object_foreach((json_t *)file_values, key, val)
                if (!strcasecmp(key, row->name)) fv = val;
            if (fv && json_text(fv, raw, cap) == 0 && raw[0]) { v = raw; src = SOURCE_FILE; }
        }
        if (!v) { v = row->dflt ? row->dflt : ""; src = SOURCE_DEFAULT; }
        if (check_value(row, v, norm, cap, err, errlen, src == SOURCE_ENV)) {
            if (src == SOURCE_FILE) {
                char m[512];
                str_fmt(m, sizeof m, "in the settings file: %s", err);
                str_copy(err, errlen, m);
            }
            free(raw); free(norm);
            goto fail;
        }
        s->values[i] = strdup(norm);
        s->sources[i] = src;
        if (!s->values[i]) { free(raw); free(norm); str_fmt(err, errlen, "out of memory"); goto fail; }
    }
    explicit_bzero(raw, cap);
    free(raw);
    free(norm);
    return s;
fail:
    settings_snapshot_free(s);
    return NULL;
}

static const settings_snapshot *current_locked(void)
{
    if (!g_current) {
        char err[256];
        g_current = settings_build(NULL, environ, err, sizeof err);   /* no file loaded: defaults and environment */
    }
    return g_current;
}

void settings_override_thread(const settings_snapshot *s)
{
    t_override = s;
}

const settings_snapshot *settings_current(void)
{
    if (t_override) return t_override;
    pthread_mutex_lock(&g_lock);
    const settings_snapshot *s = current_locked();
    pthread_mutex_unlock(&g_lock);
    return s;
}

void settings_set_current(settings_snapshot *s)
{
    pthread_mutex_lock(&g_lock);
    s->older = g_current;
    g_current = s;
    pthread_mutex_unlock(&g_lock);
}

void settings_shutdown(void)
{
    pthread_mutex_lock(&g_lock);
    settings_snapshot_free(g_current);
    g_current = NULL;
    pthread_mutex_unlock(&g_lock);
}

static char g_load_error[1024];

const char *settings_load_error(void) { return g_load_error; }

void settings_set_load_error(const char *msg)
{
    pthread_mutex_lock(&g_lock);
    str_copy(g_load_error, sizeof g_load_error, msg ? msg : "");
    pthread_mutex_unlock(&g_lock);
}

int settings_use_environment(void)
{
    char err[512];
    settings_snapshot *s = settings_build(NULL, environ, err, sizeof err);
    if (!s) return -1;
    settings_set_current(s);
    return 0;
}

const char *settings_value(const settings_snapshot *s, const char *name, setting_source *src)
{
    int i = row_index(name);
    if (i < 0) return NULL;
    if (!s || i >= s->n) {
        if (src) *src = SOURCE_DEFAULT;
        return g_rows[i]->dflt ? g_rows[i]->dflt : "";
    }
    if (src) *src = s->sources[i];
    return s->values[i];
}

json_t *settings_file_values(const settings_snapshot *s)
{
    return s && s->file ? json_deep_copy(s->file) : json_object();
}

char *settings_export_env(const settings_snapshot *s, bool include_secrets, int *omitted)
{
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "# Faxbot settings that differ from the defaults (from the settings file and the environment)\n");
    *omitted = 0;
    int rows_n = n_rows();
    for (int i = 0; i < rows_n; i++) {
        setting_source src;
        const char *v = settings_value(s, g_rows[i]->name, &src);
        if (src == SOURCE_DEFAULT || !v || !*v || g_rows[i]->apply == SETTING_ENV_ONLY) continue;
        if (g_rows[i]->secret && !include_secrets) {
            sb_appendf(&sb, "# %s= (secret, omitted; ask with include_secrets to export it)\n", g_rows[i]->name);
            (*omitted)++;
            continue;
        }
        bool quote = strpbrk(v, " #\"'$\\") != NULL;
        sb_appendf(&sb, "%s=%s", g_rows[i]->name, quote ? "\"" : "");
        for (const char *p = v; *p; p++) {
            if (quote && (*p == '"' || *p == '\\' || *p == '$')) sb_puts(&sb, "\\");
            sb_append(&sb, p, 1);
        }
        sb_appendf(&sb, "%s\n", quote ? "\"" : "");
    }
    return sb_steal(&sb);
}

/* ---- the reading seam ---- */

static const char *seam_value(const char *name, const setting_def **row, char *err, size_t errlen)
{
    *row = settings_find(name);
    if (!*row) {
        str_fmt(err, errlen, "%s is not in the settings table (a bug: every setting must be a row)", name);
        return NULL;
    }
    return settings_value(settings_current(), name, NULL);
}

int setting_str(const char *name, char *dst, size_t dstlen, char *err, size_t errlen)
{
    return setting_str_or(name, "", dst, dstlen, err, errlen);
}

int setting_str_or(const char *name, const char *fallback, char *dst, size_t dstlen, char *err, size_t errlen)
{
    const setting_def *row;
    const char *v = seam_value(name, &row, err, errlen);
    if (!v) return -1;
    if (!*v) v = fallback ? fallback : "";
    if (str_copy(dst, dstlen, v)) {
        str_fmt(err, errlen, "%s is too long (at most %zu characters)", name, dstlen - 1);
        return -1;
    }
    return 0;
}

int setting_int(const char *name, long *out, char *err, size_t errlen)
{
    const setting_def *row;
    const char *v = seam_value(name, &row, err, errlen);
    if (!v) return -1;
    if (row->type != SETTING_INT) { str_fmt(err, errlen, "%s is not a number setting", name); return -1; }
    *out = *v ? strtol(v, NULL, 10) : 0;
    return 0;
}

int setting_bool(const char *name, bool *out, char *err, size_t errlen)
{
    const setting_def *row;
    const char *v = seam_value(name, &row, err, errlen);
    if (!v) return -1;
    if (row->type != SETTING_BOOL) { str_fmt(err, errlen, "%s is not a true/false setting", name); return -1; }
    *out = !strcmp(v, "true");
    return 0;
}

const char *setting_raw(const char *name)
{
    const char *v = settings_value(settings_current(), name, NULL);
    return v && *v ? v : NULL;
}

const char *settings_os_env(const char *name)
{
    const char *v = env_lookup(environ, name);
    return v;
}
