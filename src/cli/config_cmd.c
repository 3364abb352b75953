/* config_cmd.c — `faxbot config show|get NAME|set NAME VALUE|validate|export|table`:
 * the settings without the web console. On the settings file (FAXBOT_CONFIG, the
 * same checks, encryption and atomic write as the gateway's own), or — with
 * --server, or when FAXBOT_URL is set in the environment — against a running
 * gateway's admin API (key from FAXBOT_API_KEY or API_KEY), where a change is
 * applied live. Secrets are shown masked unless --reveal / --include-secrets.
 * `table` prints the settings table itself (every row, as JSON): what the man page
 * and the packaging checks are generated from, so they cannot drift from the code. */
#include "backend/backend.h"
#include "cli/cli.h"
#include "config/config.h"
#include "util/util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f, "usage: faxbot config show [--all]           every setting with its value and where it came from\n"
               "       faxbot config get NAME [--reveal]     one value (secrets masked unless --reveal)\n"
               "       faxbot config set NAME VALUE          change it (\"\" = back to the default)\n"
               "       faxbot config validate                check the settings with real round trips\n"
               "       faxbot config export [--include-secrets]  a .env text of the non-default settings\n"
               "       faxbot config table                   the settings table itself (every row, JSON)\n"
               "Works on the settings file (FAXBOT_CONFIG, default $FAX_DATA_DIR/config/faxbot.config.json);\n"
               "with --server (or FAXBOT_URL set) on a running gateway, where changes apply at once.\n");
}

static bool server_mode(bool flag)
{
    setting_source src;
    settings_value(settings_current(), "FAXBOT_URL", &src);
    return flag || src == SOURCE_ENV;
}

static const char *apply_name(setting_apply a)
{
    return a == SETTING_LIVE ? "live" : a == SETTING_RESTART ? "restart" : "env only";
}

/* ---- on the file ---- */

static void show_value(const setting_def *row, const char *v, bool reveal, char *out, size_t outlen)
{
    if (row->secret && !reveal) settings_mask(v, out, outlen);
    else str_copy(out, outlen, v);
}

static int file_show(bool all)
{
    const setting_def *const *rows;
    int n = settings_rows(&rows);
    for (int i = 0; i < n; i++) {
        setting_source src;
        const char *v = settings_value(settings_current(), rows[i]->name, &src);
        if (!all && src == SOURCE_DEFAULT) continue;
        char shown[600];
        show_value(rows[i], v ? v : "", false, shown, sizeof shown);
        printf("%-34s %-30s %-8s %s\n", rows[i]->name, shown, settings_source_name(src), apply_name(rows[i]->apply));
    }
    return 0;
}

static const char *type_name(setting_type t)
{
    return t == SETTING_INT ? "int" : t == SETTING_BOOL ? "bool" : t == SETTING_ENUM ? "enum" : "string";
}

/* Every row of the settings table (core and every backend's), as a JSON array. */
static int table_dump(void)
{
    const setting_def *const *rows;
    int n = settings_rows(&rows);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        const setting_def *r = rows[i];
        json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s}", "name", r->name, "type", type_name(r->type),
                              "default", r->dflt ? r->dflt : "", "secret", r->secret, "group", r->group ? r->group : "",
                              "apply", apply_name(r->apply), "help", r->help ? r->help : "");
        if (!o) continue;
        if (r->type == SETTING_INT) {
            json_object_set_new(o, "min", json_integer(r->lo));
            json_object_set_new(o, "max", json_integer(r->hi));
        }
        if (r->choices) json_object_set_new(o, "choices", json_string(r->choices));
        if (r->backend) json_object_set_new(o, "backend", json_string(r->backend));
        json_array_append_new(arr, o);
    }
    char *text = json_dumps(arr, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(arr);
    if (!text) return 1;
    puts(text);
    free(text);
    return 0;
}

static int file_get(const char *name, bool reveal)
{
    const setting_def *row = settings_find(name);
    if (!row) { fprintf(stderr, "faxbot: unknown setting %s (faxbot config show --all lists them)\n", name); return 1; }
    setting_source src;
    const char *v = settings_value(settings_current(), row->name, &src);
    char shown[4096];
    show_value(row, v ? v : "", reveal, shown, sizeof shown);
    printf("%s\n", shown);
    return 0;
}

static int file_set(const char *name, const char *value)
{
    char err[1024], path[4096], norm[4096];
    const setting_def *row = settings_find(name);
    if (!row) { fprintf(stderr, "faxbot: unknown setting %s (faxbot config show --all lists them)\n", name); return 1; }
    if (row->apply == SETTING_ENV_ONLY) { fprintf(stderr, "faxbot: %s can only be set in the environment\n", row->name); return 1; }
    if (settings_check_value(row, value, norm, sizeof norm, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    json_t *file = settings_file_values(settings_current());
    if (!norm[0]) json_object_del(file, row->name);
    else if (row->type == SETTING_INT) json_object_set_new(file, row->name, json_integer(strtoll(norm, NULL, 10)));
    else if (row->type == SETTING_BOOL) json_object_set_new(file, row->name, json_boolean(!strcmp(norm, "true")));
    else json_object_set_new(file, row->name, json_string(norm));
    /* the whole result must hold together, as the gateway will read it */
    settings_snapshot *snap = settings_build(file, environ, err, sizeof err);
    config cfg;
    int rc = 1;
    if (!snap || config_load_snapshot(&cfg, snap, err, sizeof err)) {
        fprintf(stderr, "faxbot: %s\n", err);
        goto out;
    }
    unsigned char key[32];
    bool have = false;
    if (settings_file_path(environ, path, sizeof path) || settings_file_key(environ, key, &have, err, sizeof err) ||
        settings_file_write(path, file, have ? key : NULL, err, sizeof err)) {
        fprintf(stderr, "faxbot: %s\n", err);
        explicit_bzero(key, sizeof key);
        goto out;
    }
    explicit_bzero(key, sizeof key);
    setting_source src;
    settings_value(settings_current(), row->name, &src);
    printf("%s %s in %s%s\n", row->name, norm[0] ? "set" : "back to its default", path,
           row->secret && !have ? " (as plain text: set FAXBOT_CONFIG_KEY to encrypt secrets)" : "");
    if (src == SOURCE_ENV)
        printf("note: the environment variable %s is set and wins over the file\n", row->name);
    printf("a running gateway reads it on POST /admin/settings/reload%s; `faxbot config set --server` changes it live\n",
           row->apply == SETTING_RESTART ? " (this setting needs a restart)" : "");
    rc = 0;
out:
    settings_snapshot_free(snap);
    json_decref(file);
    return rc;
}

static void print_validation(json_t *v)
{
    const char *name;
    json_t *f;
    printf("backend: %s\n", json_string_value(json_object_get(v, "backend")) ?: "?");
    json_object_foreach(json_object_get(v, "fields"), name, f)
        printf("%s %-32s %s\n", json_is_true(json_object_get(f, "ok")) ? "ok  " : "FAIL", name,
               json_string_value(json_object_get(f, "detail")) ?: "");
    printf("%s\n", json_is_true(json_object_get(v, "ok")) ? "all checks passed" : "some checks failed");
}

static int file_validate(void)
{
    json_t *v = backend_validate(settings_current());
    print_validation(v);
    int rc = json_is_true(json_object_get(v, "ok")) ? 0 : 1;
    json_decref(v);
    return rc;
}

static int file_export(bool secrets)
{
    int omitted = 0;
    char *text = settings_export_env(settings_current(), secrets, &omitted);
    fputs(text ? text : "", stdout);
    free(text);
    return 0;
}

/* ---- against a running gateway ---- */

static json_t *server_settings(void)
{
    long st;
    return cli_api_json("GET", "/admin/settings", NULL, &st);
}

static int server_show(bool all)
{
    json_t *v = server_settings();
    if (!v) return 1;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(v, "items"), i, it) {
        const char *src = json_string_value(json_object_get(it, "source"));
        if (!all && src && !strcmp(src, "default")) continue;
        json_t *val = json_object_get(it, "value");
        char *s = json_is_string(val) ? strdup(json_string_value(val)) : json_dumps(val, JSON_ENCODE_ANY);
        printf("%-34s %-30s %-8s %s\n", json_string_value(json_object_get(it, "name")), s ? s : "", src ? src : "",
               json_string_value(json_object_get(it, "apply")) ?: "");
        free(s);
    }
    json_decref(v);
    return 0;
}

static int server_get(const char *name)
{
    json_t *v = server_settings();
    if (!v) return 1;
    size_t i;
    json_t *it;
    int rc = 1;
    json_array_foreach(json_object_get(v, "items"), i, it) {
        if (strcasecmp(json_string_value(json_object_get(it, "name")), name)) continue;
        json_t *val = json_object_get(it, "value");
        char *s = json_is_string(val) ? strdup(json_string_value(val)) : json_dumps(val, JSON_ENCODE_ANY);
        printf("%s\n", s && strcmp(s, "null") ? s : "");
        free(s);
        rc = 0;
    }
    if (rc) fprintf(stderr, "faxbot: unknown setting %s\n", name);
    json_decref(v);
    return rc;
}

static int server_set(const char *name, const char *value)
{
    json_t *body = json_object();
    json_object_set_new(body, name, *value ? json_string(value) : json_null());
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    long st;
    json_t *v = cli_api_json("PUT", "/admin/settings", text, &st);
    explicit_bzero(text, strlen(text));
    free(text);
    if (!v) return 1;
    json_t *meta = json_object_get(v, "_meta");
    char *applied = json_dumps(json_object_get(meta, "applied"), JSON_COMPACT);
    char *restart = json_dumps(json_object_get(meta, "restart_required"), JSON_COMPACT);
    printf("applied: %s%s\nrestart required for: %s\n", applied ? applied : "[]",
           json_is_true(json_object_get(meta, "backend_swapped")) ? " (backend swapped live)" : "", restart ? restart : "[]");
    json_t *pbx = json_object_get(meta, "pbx");
    if (json_is_object(pbx)) {
        char *p = json_dumps(pbx, JSON_COMPACT);
        printf("pbx: %s\n", p ? p : "");
        free(p);
    }
    free(applied);
    free(restart);
    json_decref(v);
    return 0;
}

static int server_validate(void)
{
    long st;
    json_t *v = cli_api_json("POST", "/admin/settings/validate", "{}", &st);
    if (!v) return 1;
    print_validation(v);
    int rc = json_is_true(json_object_get(v, "ok")) ? 0 : 1;
    json_decref(v);
    return rc;
}

static int server_export(bool secrets)
{
    long st;
    json_t *v = cli_api_json("GET", secrets ? "/admin/settings/export?include_secrets=true" : "/admin/settings/export",
                             NULL, &st);
    if (!v) return 1;
    fputs(json_string_value(json_object_get(v, "env_content")) ?: "", stdout);
    json_decref(v);
    return 0;
}

int cli_config(int argc, char **argv)
{
    static const struct option opts[] = {{"server", no_argument, 0, 's'}, {"all", no_argument, 0, 'a'},
                                         {"reveal", no_argument, 0, 'r'}, {"include-secrets", no_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool server = false, all = false, reveal = false, secrets = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == 's') server = true;
        else if (o == 'a') all = true;
        else if (o == 'r') reveal = true;
        else if (o == 'i') secrets = true;
        else { usage(o == 'h' ? stdout : stderr); return o == 'h' ? 0 : 2; }
    }
    int nargs = argc - optind;
    const char *sub = nargs > 0 ? argv[optind] : NULL;
    if (!sub) { usage(stderr); return 2; }
    if (!strcmp(sub, "table") && nargs == 1) return table_dump();   /* the table itself: no file, no server */
    server = server_mode(server);
    if (!server && settings_load_error()[0]) { fprintf(stderr, "faxbot: %s\n", settings_load_error()); return 1; }
    if (!strcmp(sub, "show") && nargs == 1) return server ? server_show(all) : file_show(all);
    if (!strcmp(sub, "get") && nargs == 2) {
        if (server && reveal) { fprintf(stderr, "faxbot: the gateway never shows a secret; use export --include-secrets\n"); return 2; }
        return server ? server_get(argv[optind + 1]) : file_get(argv[optind + 1], reveal);
    }
    if (!strcmp(sub, "set") && nargs == 3)
        return server ? server_set(argv[optind + 1], argv[optind + 2]) : file_set(argv[optind + 1], argv[optind + 2]);
    if (!strcmp(sub, "validate") && nargs == 1) return server ? server_validate() : file_validate();
    if (!strcmp(sub, "export") && nargs == 1) return server ? server_export(secrets) : file_export(secrets);
    usage(stderr);
    return 2;
}
