/* plugin_store.c — see plugin_store.h. An install is staged in a scratch folder
 * under $FAX_DATA_DIR/plugins/ (same file system), validated there, and renamed into
 * place, so a failed install leaves nothing behind and a reader never sees half a
 * plugin. */
#include "plugins/plugin_store.h"
#include "plugins/plugin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/settings.h"
#include "util/sandbox.h"
#include "util/util.h"

#define MANIFEST_MAX (256 * 1024)
#define PACKAGE_MAX_FILES 64
#define PACKAGE_MAX_BYTES (64L * 1024 * 1024)

char *plugin_store_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    char *data = NULL;
    *len = 0;
    struct stat st;
    if (stat(path, &st)) return str_fmt(err, errlen, "%s: %s", path, strerror(errno)), NULL;
    if (!S_ISREG(st.st_mode)) return str_fmt(err, errlen, "%s: not a regular file", path), NULL;
    if ((size_t)st.st_size > max) return str_fmt(err, errlen, "%s: larger than %zu bytes", path, max), NULL;
    if (read_file_all(path, &data, len, max)) return str_fmt(err, errlen, "%s: cannot be read", path), NULL;
    return data;
}

static void plugins_root(const char *data_dir, char *out, size_t outlen)
{
    str_fmt(out, outlen, "%s/plugins", data_dir);
}

/* ---- enabled / disabled ---- */

json_t *plugin_store_disabled(const char *data_dir)
{
    char path[1200];
    str_fmt(path, sizeof path, "%s/plugins/state.json", data_dir);
    json_t *st = json_load_file(path, 0, NULL);
    json_t *d = json_object_get(st, "disabled");
    json_t *out = json_is_array(d) ? json_deep_copy(d) : json_array();
    json_decref(st);
    return out;
}

int plugin_store_set_enabled(const char *data_dir, const char *id, bool enabled, char *err, size_t errlen)
{
    char root[1100], path[1200];
    plugins_root(data_dir, root, sizeof root);
    if (mkdir_p(root, 0750)) return str_fmt(err, errlen, "%s: cannot be created", root), -1;
    str_fmt(path, sizeof path, "%s/state.json", root);
    json_t *list = plugin_store_disabled(data_dir), *kept = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), id)) json_array_append(kept, v);
    if (!enabled) json_array_append_new(kept, json_string(id));
    json_decref(list);
    json_t *st = json_pack("{s:o}", "disabled", kept);
    char *text = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(st);
    int rc = text && write_file_atomic(path, text, strlen(text)) == 0 ? 0 : -1;
    free(text);
    if (rc) str_fmt(err, errlen, "%s: cannot be written", path);
    return rc;
}

/* ---- staging ---- */

static int fail(int *status, int code, char *err, size_t errlen, const char *fmt, const char *arg)
{
    *status = code;
    str_fmt(err, errlen, fmt, arg);
    return -1;
}

/* Only plain folders and regular files, at most PACKAGE_MAX_FILES and PACKAGE_MAX_BYTES. */
static int check_tree(const char *dir, int depth, int *files, long *bytes, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) return str_fmt(err, errlen, "package: cannot read %s", dir), -1;
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[2048];
        str_fmt(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st)) rc = (str_fmt(err, errlen, "package: cannot read %s", de->d_name), -1);
        else if (S_ISDIR(st.st_mode)) {
            if (depth >= 4) rc = (str_fmt(err, errlen, "package: folders nested too deep"), -1);
            else rc = check_tree(p, depth + 1, files, bytes, err, errlen);
        } else if (S_ISREG(st.st_mode)) {
            *bytes += st.st_size;
            if (++*files > PACKAGE_MAX_FILES || *bytes > PACKAGE_MAX_BYTES)
                rc = (str_fmt(err, errlen, "package: more than %d files or %ld bytes", PACKAGE_MAX_FILES,
                              PACKAGE_MAX_BYTES), -1);
        } else {
            rc = (str_fmt(err, errlen, "package: \"%s\" is a link or special file (only plain files are installed)",
                          de->d_name), -1);
        }
    }
    closedir(d);
    return rc;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (out < 0) { close(in); return -1; }
    int rc = fd_copy(in, out);
    if (fsync(out)) rc = -1;
    close(in);
    if (close(out)) rc = -1;
    return rc;
}

/* Copies a checked tree (plain files and folders only). */
static int copy_tree(const char *from, const char *to)
{
    if (mkdir(to, 0750) && errno != EEXIST) return -1;
    DIR *d = opendir(from);
    if (!d) return -1;
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char a[2048], b[2048];
        str_fmt(a, sizeof a, "%s/%s", from, de->d_name);
        str_fmt(b, sizeof b, "%s/%s", to, de->d_name);
        struct stat st;
        if (lstat(a, &st)) rc = -1;
        else if (S_ISDIR(st.st_mode)) rc = copy_tree(a, b);
        else if (S_ISREG(st.st_mode)) rc = copy_file(a, b);
        else rc = -1;
    }
    closedir(d);
    return rc;
}

static int make_stage(const char *data_dir, char *stage, size_t len, char *err, size_t errlen)
{
    char root[1100];
    plugins_root(data_dir, root, sizeof root);
    if (mkdir_p(root, 0750)) return str_fmt(err, errlen, "%s: cannot be created", root), -1;
    str_fmt(stage, len, "%s/.stage-XXXXXX", root);
    if (!mkdtemp(stage)) return str_fmt(err, errlen, "%s: cannot make a scratch folder", root), -1;
    return 0;
}

static int untar(const char *archive, const char *into, char *err, size_t errlen)
{
    char tar[512];
    if (sandbox_resolve("tar", tar, sizeof tar)) return str_fmt(err, errlen, "tar is not installed"), -1;
    size_t n = strlen(archive);
    bool gz = (n > 7 && !strcmp(archive + n - 7, ".tar.gz")) || (n > 4 && !strcmp(archive + n - 4, ".tgz"));
    char *argv[] = {"tar", gz ? "-xzf" : "-xf", (char *)archive, "--no-same-owner", "--no-same-permissions",
                    "--no-overwrite-dir", "-C", (char *)into, NULL};
    sandbox_spec spec = {.exe = tar, .argv = argv, .workdir = into, .stdin_fd = -1, .stdout_fd = -1,
                         .stderr_fd = -1, .cpu_s = 20, .fsize_bytes = PACKAGE_MAX_BYTES};
    sandbox_proc p;
    if (sandbox_start(&p, &spec, err, errlen)) return -1;
    sandbox_wait(&p, mono_ms() + 30000);
    bool ok = sandbox_succeeded(&p);
    sandbox_close(&p);
    if (!ok) return str_fmt(err, errlen, "package: the archive could not be unpacked (not a tar or tar.gz file?)"), -1;
    return 0;
}

/* The folder of an unpacked package that holds manifest.json: the top, or its only folder. */
static int package_root(const char *top, char *out, size_t outlen)
{
    char m[2100];
    str_fmt(m, sizeof m, "%s/manifest.json", top);
    if (access(m, F_OK) == 0) return str_copy(out, outlen, top);
    DIR *d = opendir(top);
    if (!d) return -1;
    struct dirent *de;
    int dirs = 0;
    char only[1024] = "";
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        dirs++;
        str_copy(only, sizeof only, de->d_name);
    }
    closedir(d);
    if (dirs != 1) return -1;
    str_fmt(out, outlen, "%s/%s", top, only);
    str_fmt(m, sizeof m, "%s/manifest.json", out);
    return access(m, F_OK) == 0 ? 0 : -1;
}

/* Moves a validated package folder into plugins/<id>/. */
static int commit_package(const char *data_dir, const char *pkg, const plugin *p, bool replace, char *err,
                          size_t errlen, int *status)
{
    const plugin *existing = plugin_find(p->id);
    if (existing && existing->source == PLUGIN_BUNDLED)
        return fail(status, 409, err, errlen, "id: \"%s\" is a bundled plugin's id", p->id);
    if (!existing) {
        existing = plugin_find(p->short_name);
        if (existing && existing->source == PLUGIN_BUNDLED)
            return fail(status, 409, err, errlen, "short_name: \"%s\" is a bundled plugin's name", p->short_name);
    }
    char dest[1200], old[1300];
    str_fmt(dest, sizeof dest, "%s/plugins/%s", data_dir, p->id);
    struct stat st;
    bool present = lstat(dest, &st) == 0;
    if (present && !replace)
        return fail(status, 409, err, errlen, "plugin \"%s\" is already installed (remove it first)", p->id);
    str_fmt(old, sizeof old, "%s/plugins/.old-%s", data_dir, p->id);
    remove_tree(old);
    if (present && rename(dest, old)) return fail(status, 500, err, errlen, "%s: cannot be replaced", dest);
    if (rename(pkg, dest)) {
        if (present) rename(old, dest);
        return fail(status, 500, err, errlen, "%s: cannot be written", dest);
    }
    remove_tree(old);
    char root[1100];
    plugins_root(data_dir, root, sizeof root);
    fsync_dir(root);
    return 0;
}

/* Validates stage_pkg/manifest.json and commits it. */
static int install_staged(const char *data_dir, const char *pkg, const char *expect_id, bool replace, char *id,
                          char *err, size_t errlen, int *status)
{
    int files = 0;
    long bytes = 0;
    if (check_tree(pkg, 0, &files, &bytes, err, errlen)) return (*status = 400), -1;
    char mpath[2100];
    str_fmt(mpath, sizeof mpath, "%s/manifest.json", pkg);
    size_t len;
    char *text = plugin_store_read_file(mpath, MANIFEST_MAX, &len, err, errlen);
    if (!text) return (*status = 400), -1;
    char e[512];
    plugin *p = plugin_parse(text, len, pkg, e, sizeof e);
    free(text);
    if (!p) return fail(status, 400, err, errlen, "manifest.json: %s", e);
    int rc = 0;
    if (expect_id && strcmp(expect_id, p->id)) {
        str_fmt(err, errlen, "id: the package's manifest says \"%s\", the registry says \"%s\"", p->id, expect_id);
        *status = 400;
        rc = -1;
    }
    if (!rc) rc = commit_package(data_dir, pkg, p, replace, err, errlen, status);
    if (!rc) str_copy(id, PLUGIN_ID_MAX, p->id);
    plugin_free(p);
    return rc;
}

int plugin_store_install(const char *data_dir, const char *path, const char *expect_id, bool replace, char *id,
                         char *err, size_t errlen, int *status)
{
    *status = 500;
    struct stat st;
    if (stat(path, &st)) return fail(status, 400, err, errlen, "%s: no such file or folder", path);
    char stage[1200], pkg[1300];
    if (make_stage(data_dir, stage, sizeof stage, err, errlen)) return -1;
    str_fmt(pkg, sizeof pkg, "%s/pkg", stage);
    int rc = 0;
    size_t n = strlen(path);
    if (S_ISDIR(st.st_mode)) {
        int files = 0;
        long bytes = 0;
        if (check_tree(path, 0, &files, &bytes, err, errlen)) rc = (*status = 400, -1);
        else if (copy_tree(path, pkg)) rc = fail(status, 500, err, errlen, "%s: cannot be copied", path);
    } else if (n >= 13 && !strcmp(path + n - 13, "manifest.json")) {
        char to[1400];
        str_fmt(to, sizeof to, "%s/manifest.json", pkg);
        if (mkdir(pkg, 0750) || copy_file(path, to)) rc = fail(status, 500, err, errlen, "%s: cannot be copied", path);
    } else if ((n > 4 && !strcmp(path + n - 4, ".tar")) || (n > 4 && !strcmp(path + n - 4, ".tgz")) ||
               (n > 7 && !strcmp(path + n - 7, ".tar.gz"))) {
        char top[1300], root[1300];
        str_fmt(top, sizeof top, "%s/unpacked", stage);
        if (mkdir(top, 0750) || untar(path, top, err, errlen)) rc = (*status = 400, -1);
        else {
            int files = 0;
            long bytes = 0;
            if (check_tree(top, 0, &files, &bytes, err, errlen)) rc = (*status = 400, -1);
            else if (package_root(top, root, sizeof root))
                rc = fail(status, 400, err, errlen, "%s: no manifest.json at the top of the archive or its one folder",
                          path);
            else if (rename(root, pkg)) rc = fail(status, 500, err, errlen, "%s: cannot be staged", path);
        }
    } else {
        rc = fail(status, 400, err, errlen, "%s: give a plugin folder, a manifest.json or a .tar.gz archive", path);
    }
    if (!rc) rc = install_staged(data_dir, pkg, expect_id, replace, id, err, errlen, status);
    remove_tree(stage);
    return rc;
}

int plugin_store_install_manifest(const char *data_dir, const json_t *manifest, bool replace, char *id, char *err,
                                  size_t errlen, int *status)
{
    *status = 500;
    char stage[1200], pkg[1300], to[1400];
    if (make_stage(data_dir, stage, sizeof stage, err, errlen)) return -1;
    str_fmt(pkg, sizeof pkg, "%s/pkg", stage);
    str_fmt(to, sizeof to, "%s/manifest.json", pkg);
    char *text = json_dumps(manifest, JSON_INDENT(2));
    int rc = 0;
    if (!text || mkdir(pkg, 0750) || write_file_atomic(to, text, strlen(text)))
        rc = fail(status, 500, err, errlen, "%s: cannot be written", to);
    free(text);
    if (!rc) rc = install_staged(data_dir, pkg, NULL, replace, id, err, errlen, status);
    remove_tree(stage);
    return rc;
}

int plugin_store_remove(const char *data_dir, const char *id, char *err, size_t errlen, int *status)
{
    const plugin *p = plugin_find(id);
    if (p && p->source == PLUGIN_BUNDLED)
        return fail(status, 409, err, errlen, "\"%s\" is bundled with the gateway and cannot be removed; disable it "
                    "instead", p->id);
    char dest[1200];
    str_fmt(dest, sizeof dest, "%s/plugins/%s", data_dir, p ? p->id : id);
    struct stat st;
    bool safe = strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(id) && *id;
    if (!safe || lstat(dest, &st) || !S_ISDIR(st.st_mode))
        return fail(status, 404, err, errlen, "plugin \"%s\" is not installed", id);
    if (remove_tree(dest)) return fail(status, 500, err, errlen, "%s: cannot be removed", dest);
    plugin_store_set_enabled(data_dir, p ? p->id : id, true, err, errlen);   /* forget its state */
    return 0;
}

/* ---- the local registry ---- */

void plugin_store_registry_path(const char *data_dir, char *out, size_t outlen)
{
    const char *set = setting_raw("PLUGIN_REGISTRY_PATH");
    if (set && *set) str_copy(out, outlen, set);
    else str_fmt(out, outlen, "%s/plugins/registry.json", data_dir);
}

static bool is_hex64(const char *s)
{
    return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

json_t *plugin_store_registry(const char *data_dir, char *err, size_t errlen)
{
    char path[1200];
    plugin_store_registry_path(data_dir, path, sizeof path);
    if (access(path, F_OK)) return json_pack("{s:[]}", "items");
    json_error_t je;
    json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!r) return str_fmt(err, errlen, "%s: not valid JSON (line %d: %s)", path, je.line, je.text), NULL;
    json_t *items = json_object_get(r, "items");
    if (!json_is_array(items)) {
        json_decref(r);
        return str_fmt(err, errlen, "%s: must be an object {\"items\": [...]}", path), NULL;
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *archive = json_string_value(json_object_get(it, "archive"));
        const char *sha = json_string_value(json_object_get(it, "sha256"));
        const char *what = !id ? "id" : !archive ? "archive" : !is_hex64(sha) ? "sha256 (64 lowercase hex digits)" : NULL;
        if (what) {
            str_fmt(err, errlen, "%s: items[%zu].%s is missing or not valid", path, i, what);
            json_decref(r);
            return NULL;
        }
    }
    return r;
}

int plugin_store_install_from_registry(const char *data_dir, const char *id, char *err, size_t errlen, int *status)
{
    *status = 500;
    json_t *r = plugin_store_registry(data_dir, err, errlen);
    if (!r) return -1;
    json_t *item = NULL, *it;
    size_t i;
    json_array_foreach(json_object_get(r, "items"), i, it)
        if (!strcmp(json_string_value(json_object_get(it, "id")), id)) item = it;
    if (!item) {
        json_decref(r);
        return fail(status, 404, err, errlen, "plugin \"%s\" is not in the local plugin registry", id);
    }
    char reg[1200], archive[2400];
    plugin_store_registry_path(data_dir, reg, sizeof reg);
    const char *a = json_string_value(json_object_get(item, "archive"));
    if (a[0] == '/') str_copy(archive, sizeof archive, a);
    else {
        char *slash = strrchr(reg, '/');
        str_fmt(archive, sizeof archive, "%.*s/%s", slash ? (int)(slash - reg) : 1, slash ? reg : ".", a);
    }
    char got[65];
    int rc = 0;
    if (sha256_file_hex(archive, got)) rc = fail(status, 400, err, errlen, "%s: the registry's archive is missing", archive);
    else if (strcmp(got, json_string_value(json_object_get(item, "sha256")))) {
        str_fmt(err, errlen, "%s: sha256 %s does not match the registry's %s; not installed", archive, got,
                json_string_value(json_object_get(item, "sha256")));
        *status = 400;
        rc = -1;
    }
    char got_id[PLUGIN_ID_MAX];
    if (!rc) rc = plugin_store_install(data_dir, archive, id, false, got_id, err, errlen, status);
    json_decref(r);
    return rc;
}
