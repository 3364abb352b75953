/* blob_fs.c — blob.h on the local file system: artifacts live at
 * <root>/<area>/<id>/<name>, directories 0700. The root is resolved with realpath
 * once at open, so every path handed out is absolute. Areas, ids and names are
 * checked against strict patterns before they touch a path, so nothing a client
 * sends can climb out of the root.
 * With S3 (blob_s3_open) the same files are a cache of this node, and S3 holds the
 * artifacts: blob_commit uploads one, blob_fetch downloads one this node lacks,
 * blob_remove_all deletes both. */
#include "blob/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/util.h"

#define BLOB_NAME_MAX 64

struct blob_store {
    char root[PATH_MAX];
    s3_client *s3;               /* NULL: local files only */
    pthread_mutex_t probe_lock;  /* the last S3 probe's answer, reused while fresh */
    int64_t probed_at_ms;
    int probe_rc;
    char probe_code[64], probe_err[1024];
};

/* Every name an artifact may have (what blob_remove_all deletes from S3). */
static const char *const ARTIFACT_NAMES[] = {"original", "document.pdf", "fax.tiff", "fax.pdf", NULL};

static bool valid_area(const char *area)
{
    return area && (!strcmp(area, "outbound") || !strcmp(area, "inbound") || !strcmp(area, "tmp"));
}

static bool valid_id(const char *id)
{
    if (!id) return false;
    for (int i = 0; i < 32; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
    return id[32] == 0;
}

static bool valid_name(const char *name)
{
    if (!name || !name[0] || name[0] == '.') return false;
    size_t n = 0;
    for (; name[n]; n++) {
        char c = name[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok || n >= BLOB_NAME_MAX) return false;
    }
    return true;
}

blob_store *blob_fs_open(const char *root, char *err, size_t errlen)
{
    if (!root || !*root) {
        if (err && errlen) str_copy(err, errlen, "no data directory given");
        return NULL;
    }
    if (mkdir_p(root, 0700)) {
        if (err && errlen) snprintf(err, errlen, "cannot create the data directory %s: %s", root, strerror(errno));
        return NULL;
    }
    blob_store *b = calloc(1, sizeof *b);
    if (!b) {
        if (err && errlen) str_copy(err, errlen, "out of memory");
        return NULL;
    }
    if (!realpath(root, b->root)) {
        if (err && errlen) snprintf(err, errlen, "cannot resolve the data directory %s: %s", root, strerror(errno));
        free(b);
        return NULL;
    }
    struct stat st;
    if (stat(b->root, &st) || !S_ISDIR(st.st_mode)) {
        if (err && errlen) snprintf(err, errlen, "the data directory %s is not a directory", b->root);
        free(b);
        return NULL;
    }
    return b;
}

blob_store *blob_s3_open(const char *cache_root, const s3_settings *s3, char *err, size_t errlen)
{
    blob_store *b = blob_fs_open(cache_root, err, errlen);
    if (!b) return NULL;
    b->s3 = s3_open(s3, err, errlen);
    if (!b->s3) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->probe_lock, NULL);
    return b;
}

void blob_close(blob_store *b)
{
    if (b && b->s3) {
        s3_close(b->s3);
        pthread_mutex_destroy(&b->probe_lock);
    }
    free(b);
}

int blob_check_remote(blob_store *b, int max_age_ms, char *code, size_t codelen, char *err, size_t errlen)
{
    if (code && codelen) code[0] = 0;
    if (!b || !b->s3) return 0;
    pthread_mutex_lock(&b->probe_lock);
    int64_t now = now_ms();
    if (!b->probed_at_ms || now - b->probed_at_ms > max_age_ms) {
        b->probe_err[0] = 0;
        b->probe_rc = s3_probe(b->s3, b->probe_code, sizeof b->probe_code, b->probe_err, sizeof b->probe_err);
        b->probed_at_ms = now_ms();
    }
    int rc = b->probe_rc;
    if (code && codelen) str_copy(code, codelen, b->probe_code);
    if (rc && err && errlen) str_copy(err, errlen, b->probe_err);
    pthread_mutex_unlock(&b->probe_lock);
    return rc;
}

int blob_presign(blob_store *b, const char *area, const char *id, const char *name, const char *qname,
                 const char *qvalue, int expires_s, char *out, size_t outlen)
{
    char key[160];
    if (!b || !b->s3 || !valid_area(area) || !valid_id(id) || !valid_name(name)) return -1;
    str_fmt(key, sizeof key, "%s/%s/%s", area, id, name);
    return s3_presign_get(b->s3, key, qname, qvalue, expires_s, out, outlen);
}

const char *blob_kind(const blob_store *b) { return b && b->s3 ? "s3" : "local"; }

int blob_commit(blob_store *b, const char *area, const char *id, const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX], key[160];
    if (blob_path(b, area, id, name, path, sizeof path)) {
        str_fmt(err, errlen, "bad storage path");
        return -1;
    }
    if (!b->s3) return 0;
    str_fmt(key, sizeof key, "%s/%s/%s", area, id, name);
    return s3_put_file(b->s3, key, path, err, errlen) == S3_OK ? 0 : -1;
}

int blob_fetch(blob_store *b, const char *area, const char *id, const char *name)
{
    char path[PATH_MAX], key[160], err[512] = "";
    if (blob_path(b, area, id, name, path, sizeof path)) return -1;
    if (access(path, F_OK) == 0) return 0;
    if (!b->s3) return 1;
    str_fmt(key, sizeof key, "%s/%s/%s", area, id, name);
    int rc = s3_get_file(b->s3, key, path, err, sizeof err);
    if (rc == S3_ERROR) log_warn("storage: %s", err);
    return rc == S3_OK ? 0 : rc == S3_NOT_FOUND ? 1 : -1;
}

int blob_path(blob_store *b, const char *area, const char *id, const char *name, char *out, size_t outlen)
{
    if (!b || !out || !valid_area(area) || !valid_id(id) || !valid_name(name)) return -1;
    char dir[PATH_MAX];
    if (str_fmt(dir, sizeof dir, "%s/%s/%s", b->root, area, id)) return -1;
    if (str_fmt(out, outlen, "%s/%s", dir, name)) return -1;
    if (mkdir_p(dir, 0700)) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int blob_remove_all(blob_store *b, const char *area, const char *id)
{
    if (!b || !valid_area(area) || !valid_id(id)) return -1;
    for (int i = 0; b->s3 && ARTIFACT_NAMES[i]; i++) {
        char key[160], err[512];
        str_fmt(key, sizeof key, "%s/%s/%s", area, id, ARTIFACT_NAMES[i]);
        if (s3_delete(b->s3, key, err, sizeof err) != S3_OK) {
            log_warn("storage: %s", err);
            return -1;           /* the row keeps saying the files exist: tried again later */
        }
    }
    char dir[PATH_MAX];
    if (str_fmt(dir, sizeof dir, "%s/%s/%s", b->root, area, id)) return -1;
    return remove_tree(dir);
}

typedef struct list_ctx {
    const char *area;
    int (*each)(void *ctx, const char *id, const char *name);
    void *ctx;
} list_ctx;

/* An S3 key "<area>/<id>/<name>" of the area being listed: its id and name. */
static int each_key(void *arg, const char *key)
{
    list_ctx *l = arg;
    size_t al = strlen(l->area);
    if (strncmp(key, l->area, al) || key[al] != '/') return 0;
    const char *id = key + al + 1, *slash = strchr(id, '/');
    char idbuf[128];
    if (!slash || (size_t)(slash - id) >= sizeof idbuf) return l->each(l->ctx, id, "");
    str_fmt(idbuf, sizeof idbuf, "%.*s", (int)(slash - id), id);
    return l->each(l->ctx, idbuf, slash + 1);
}

int blob_list(blob_store *b, const char *area, int (*each)(void *ctx, const char *id, const char *name), void *ctx,
              char *err, size_t errlen)
{
    if (!b || !valid_area(area)) { str_fmt(err, errlen, "bad storage area"); return -1; }
    if (b->s3) {
        char prefix[32];
        str_fmt(prefix, sizeof prefix, "%s/", area);
        list_ctx l = {.area = area, .each = each, .ctx = ctx};
        int rc = s3_list(b->s3, prefix, each_key, &l, err, errlen);
        return rc == S3_ERROR ? -1 : rc;
    }
    char dir[PATH_MAX];
    str_fmt(dir, sizeof dir, "%s/%s", b->root, area);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        str_fmt(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[PATH_MAX];
        if (str_fmt(sub, sizeof sub, "%s/%s", dir, e->d_name)) continue;
        DIR *f = opendir(sub);
        if (!f) {                /* a stray file directly under the area */
            rc = each(ctx, e->d_name, "");
            continue;
        }
        struct dirent *g;
        bool any = false;
        while (!rc && (g = readdir(f))) {
            if (g->d_name[0] == '.') continue;
            any = true;
            rc = each(ctx, e->d_name, g->d_name);
        }
        closedir(f);
        if (!any && !rc) rc = each(ctx, e->d_name, "");
    }
    closedir(d);
    return rc;
}

int blob_tmpdir(blob_store *b, char *out, size_t outlen)
{
    if (!b || !out) return -1;
    char dir[PATH_MAX];
    if (str_fmt(dir, sizeof dir, "%s/tmp", b->root) || mkdir_p(dir, 0700)) return -1;
    /* "s-" keeps scratch dirs apart from the 32-hex ids of the tmp area. */
    char tmpl[PATH_MAX];
    if (str_fmt(tmpl, sizeof tmpl, "%s/s-XXXXXX", dir)) return -1;
    if (!mkdtemp(tmpl)) {
        log_error("cannot create a scratch directory in %s: %s", dir, strerror(errno));
        return -1;
    }
    if (str_copy(out, outlen, tmpl)) {
        rmdir(tmpl);
        return -1;
    }
    return 0;
}

int blob_check(blob_store *b, int64_t *free_bytes, char *err, size_t errlen)
{
    if (!b) return -1;
    char probe[PATH_MAX];
    char rnd[33];
    new_id_hex32(rnd);
    if (str_fmt(probe, sizeof probe, "%s/.probe-%s", b->root, rnd)) return -1;
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (err && errlen) snprintf(err, errlen, "the data directory %s is not writable: %s", b->root, strerror(errno));
        return -1;
    }
    ssize_t w = write(fd, "x", 1);
    int saved = errno;
    close(fd);
    unlink(probe);
    if (w != 1) {
        if (err && errlen) snprintf(err, errlen, "cannot write to the data directory %s: %s", b->root, strerror(saved));
        return -1;
    }
    struct statvfs vfs;
    if (statvfs(b->root, &vfs)) {
        if (err && errlen) snprintf(err, errlen, "cannot read free space of %s: %s", b->root, strerror(errno));
        return -1;
    }
    if (free_bytes) *free_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    return 0;
}
