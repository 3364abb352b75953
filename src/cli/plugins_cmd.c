/* plugins_cmd.c — `faxbot plugins list|show ID|validate PATH|install PATH|remove ID|
 * enable ID|disable ID|registry`: plugins on this machine's data directory
 * ($FAX_DATA_DIR/plugins). Nothing here runs code a plugin ships: validate and install
 * read manifests and copy files. A running gateway picks changes up on restart (the
 * admin API's POST /plugins/install and PUT /plugins/{id}/config apply at once). */
#include "cli/cli.h"
#include "config/settings.h"
#include "plugins/plugin.h"
#include "plugins/plugin_store.h"
#include "util/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: faxbot plugins list [--json]          bundled and installed plugins\n"
               "       faxbot plugins show ID                  a plugin's manifest and its settings\n"
               "       faxbot plugins validate PATH            check a manifest.json (or a plugin folder)\n"
               "       faxbot plugins install PATH|ID [--replace]\n"
               "                                               install a plugin folder, manifest.json or .tar.gz;\n"
               "                                               an ID installs from the local registry (sha256 checked)\n"
               "       faxbot plugins remove ID                remove an installed plugin\n"
               "       faxbot plugins enable ID | disable ID   switch a plugin on or off\n"
               "       faxbot plugins registry                 the local registry's plugins\n"
               "Plugins live in $FAX_DATA_DIR/plugins/<id>/; installing never runs code from a plugin.\n");
}

static int data_dir(char *out, size_t outlen)
{
    char err[256];
    if (setting_str("FAX_DATA_DIR", out, outlen, err, sizeof err)) {
        fprintf(stderr, "faxbot: %s\n", err);
        return -1;
    }
    return 0;
}

static char *join(json_t *a)
{
    strbuf sb;
    sb_init(&sb);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) sb_appendf(&sb, "%s%s", i ? "," : "", json_string_value(v));
    json_decref(a);
    char *s = sb_steal(&sb);
    return s ? s : strdup("");
}

static int cmd_list(bool as_json)
{
    json_t *items = json_array();
    if (!as_json) printf("%-28s %-10s %-8s %-9s %-9s %-24s %s\n", "ID", "KIND", "VERSION", "ENABLED", "SOURCE",
                         "CATEGORIES", "NAME");
    for (int i = 0; i < plugin_count(); i++) {
        const plugin *p = plugin_at(i);
        if (as_json) {
            json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:b,s:s}", "id", p->id, "short_name",
                                                   p->short_name, "name", p->name, "version", p->version,
                                                   "categories", plugin_categories_json(p->categories),
                                                   "capabilities", plugin_capabilities_json(p->capabilities),
                                                   "enabled", p->enabled, "source",
                                                   p->source == PLUGIN_BUNDLED ? "bundled" : "installed"));
            json_object_set_new(json_array_get(items, json_array_size(items) - 1), "kind",
                                json_string(plugin_kind_name(p->kind)));
            continue;
        }
        char *cats = join(plugin_categories_json(p->categories));
        printf("%-28s %-10s %-8s %-9s %-9s %-24s %s\n", p->id, plugin_kind_name(p->kind), p->version,
               p->enabled ? "yes" : "no", p->source == PLUGIN_BUNDLED ? "bundled" : "installed", cats, p->name);
        free(cats);
    }
    json_t *errs = plugins_errors();
    size_t i;
    json_t *e;
    if (as_json) {
        json_t *out = json_pack("{s:o,s:o}", "items", items, "errors", errs);
        char *text = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(out);
        return 0;
    }
    json_decref(items);
    json_array_foreach(errs, i, e)
        fprintf(stderr, "faxbot: skipped %s: %s\n", json_string_value(json_object_get(e, "path")),
                json_string_value(json_object_get(e, "detail")));
    json_decref(errs);
    return 0;
}

static int cmd_show(const char *id)
{
    const plugin *p = plugin_find(id);
    if (!p) {
        fprintf(stderr, "faxbot: no plugin \"%s\" (faxbot plugins list)\n", id);
        return 1;
    }
    printf("%s (%s) %s, kind %s, %s, %s%s%s\n", p->id, p->short_name, p->version, plugin_kind_name(p->kind),
           p->enabled ? "enabled" : "disabled", p->source == PLUGIN_BUNDLED ? "bundled" : "installed in ",
           p->dir, "");
    if (p->n_fields) printf("\nsettings:\n");
    for (int i = 0; i < p->n_fields; i++) {
        const plugin_field *f = &p->fields[i];
        setting_source src = SOURCE_DEFAULT;
        const char *v = settings_current() ? settings_value(settings_current(), f->setting, &src) : NULL;
        char shown[256];
        if (f->secret) settings_mask(v ? v : "", shown, sizeof shown);
        else str_copy(shown, sizeof shown, v ? v : "");
        printf("  %-16s %-32s %s%s = %s\n", f->key, f->setting, f->required ? "(required) " : "",
               f->secret ? "(secret)" : "", shown[0] ? shown : "(unset)");
    }
    char *text = json_dumps(p->manifest, JSON_INDENT(2));
    printf("\nmanifest:\n%s\n", text ? text : "");
    free(text);
    return 0;
}

static int cmd_validate(const char *path)
{
    char file[1200];
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) str_fmt(file, sizeof file, "%s/manifest.json", path);
    else str_copy(file, sizeof file, path);
    char err[512];
    size_t len;
    char *text = plugin_store_read_file(file, 256 * 1024, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "faxbot: %s\n", err);
        return 1;
    }
    plugin *p = plugin_parse(text, len, "", err, sizeof err);
    free(text);
    if (!p) {
        fprintf(stderr, "faxbot: %s: %s\n", file, err);
        return 1;
    }
    char *cats = join(plugin_categories_json(p->categories)), *caps = join(plugin_capabilities_json(p->capabilities));
    printf("%s: valid %s plugin %s %s (categories %s; capabilities %s)\n", file, plugin_kind_name(p->kind), p->id,
           p->version, cats, caps);
    free(cats);
    free(caps);
    plugin_free(p);
    return 0;
}

static int reload(const char *dir)
{
    char err[512];
    if (plugins_load(dir, err, sizeof err)) fprintf(stderr, "faxbot: %s\n", err);
    return 0;
}

static int cmd_install(const char *dir, const char *what, bool replace)
{
    char err[1024], id[PLUGIN_ID_MAX] = "";
    int status = 0, rc;
    struct stat st;
    bool is_path = strchr(what, '/') || !stat(what, &st);
    if (is_path) rc = plugin_store_install(dir, what, NULL, replace, id, err, sizeof err, &status);
    else {
        rc = plugin_store_install_from_registry(dir, what, err, sizeof err, &status);
        str_copy(id, sizeof id, what);
    }
    if (rc) {
        fprintf(stderr, "faxbot: not installed: %s\n", err);
        return 1;
    }
    reload(dir);
    printf("installed %s into %s/plugins/%s (restart a running gateway to use it)\n", id, dir, id);
    return 0;
}

static int cmd_remove(const char *dir, const char *id)
{
    char err[512];
    int status;
    if (plugin_store_remove(dir, id, err, sizeof err, &status)) {
        fprintf(stderr, "faxbot: %s\n", err);
        return 1;
    }
    printf("removed %s\n", id);
    return 0;
}

static int cmd_enable(const char *dir, const char *id, bool on)
{
    const plugin *p = plugin_find(id);
    if (!p) {
        fprintf(stderr, "faxbot: no plugin \"%s\" (faxbot plugins list)\n", id);
        return 1;
    }
    char err[512];
    if (plugin_store_set_enabled(dir, p->id, on, err, sizeof err)) {
        fprintf(stderr, "faxbot: %s\n", err);
        return 1;
    }
    printf("%s %s\n", p->id, on ? "enabled" : "disabled");
    return 0;
}

static int cmd_registry(const char *dir)
{
    char err[512];
    json_t *r = plugin_store_registry(dir, err, sizeof err);
    if (!r) {
        fprintf(stderr, "faxbot: %s\n", err);
        return 1;
    }
    char path[1200];
    plugin_store_registry_path(dir, path, sizeof path);
    printf("registry %s\n", path);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r, "items"), i, it)
        printf("  %-28s %-8s %s\n", json_string_value(json_object_get(it, "id")),
               json_string_value(json_object_get(it, "version")) ? json_string_value(json_object_get(it, "version"))
                                                                   : "",
               json_string_value(json_object_get(it, "name")) ? json_string_value(json_object_get(it, "name")) : "");
    json_decref(r);
    return 0;
}

int cli_plugins(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    char dir[1024];
    if (data_dir(dir, sizeof dir)) return 1;
    if (!strcmp(sub, "list")) return cmd_list(argc > 2 && !strcmp(argv[2], "--json"));
    if (!strcmp(sub, "registry")) return cmd_registry(dir);
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(sub, "show")) return cmd_show(argv[2]);
    if (!strcmp(sub, "validate")) return cmd_validate(argv[2]);
    if (!strcmp(sub, "install")) return cmd_install(dir, argv[2], argc > 3 && !strcmp(argv[3], "--replace"));
    if (!strcmp(sub, "remove")) return cmd_remove(dir, argv[2]);
    if (!strcmp(sub, "enable")) return cmd_enable(dir, argv[2], true);
    if (!strcmp(sub, "disable")) return cmd_enable(dir, argv[2], false);
    usage(stderr);
    return 2;
}
