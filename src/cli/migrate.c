/* migrate.c — `faxbot migrate --to postgresql://… [--storage s3] [--verify-only] [--force]`:
 * copies the single-node installation this configuration points at (the SQLite
 * database of DATABASE_URL / FAX_DATA_DIR, and the artifacts under FAX_DATA_DIR) to
 * PostgreSQL, and with --storage s3 the artifacts to S3 (S3_* and AWS_* as the
 * server reads them); otherwise the artifacts stay where they are. Then it verifies:
 * every source row is in the target with the same value in every column, every
 * artifact is an object of the same size and SHA-256.
 *
 * Copying only adds what is missing (rows by key, objects by name) and never
 * overwrites: running it again is harmless, copies nothing new and verifies again.
 * A target row or object that differs is reported, not repaired (delete it in the
 * target and run again to copy it afresh). It refuses a source that is already
 * PostgreSQL, a target with a newer schema, and (unless --force) a source database
 * another process has open — a gateway still running on it. */
#include "cli/migrate.h"
#include "blob/s3_client.h"
#include "config/config.h"
#include "config/settings.h"
#include "store/store.h"
#include "util/util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define BATCH_ROWS 250
#define SHOW_PROBLEMS 10             /* per table: the first few differences are named */

typedef struct migration {
    const config *cfg;
    store *src, *dst;
    s3_client *s3;                   /* NULL: the artifacts stay in FAX_DATA_DIR */
    int problems;
} migration;

/* ---- is a gateway running on the source? ---- */

/* SQLite in WAL mode: every connection holds a shared lock on byte 128 of the
 * -shm file (its "dead man switch") while it has the database open. */
static bool database_in_use(const char *db_path)
{
    char shm[PATH_MAX];
    if (str_fmt(shm, sizeof shm, "%s-shm", db_path)) return false;
    int fd = open(shm, O_RDONLY | O_CLOEXEC);       /* F_GETLK asks; it needs no write access */
    if (fd < 0) return false;
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1};
    bool used = fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;
    close(fd);
    return used;
}

/* ---- rows ---- */

/* Rows copied out of a cursor (whose strings live only until its next row). */
typedef struct batch {
    int n, ncols;
    char names[STORE_ROW_COLS][64];
    strbuf arena;
    size_t off[BATCH_ROWS][STORE_ROW_COLS];
    bool null[BATCH_ROWS][STORE_ROW_COLS];
    store_row rows[BATCH_ROWS];
} batch;

static int batch_add(batch *b, const store_row *r)
{
    if (b->n == 0 && b->ncols == 0) {
        b->ncols = r->n;
        for (int i = 0; i < r->n; i++)
            if (str_copy(b->names[i], sizeof b->names[i], r->name[i])) return -1;
    }
    if (r->n != b->ncols) return -1;
    for (int i = 0; i < r->n; i++) {
        b->null[b->n][i] = r->value[i] == NULL;
        b->off[b->n][i] = b->arena.len;
        const char *v = r->value[i] ? r->value[i] : "";
        if (sb_append(&b->arena, v, strlen(v) + 1)) return -1;
    }
    b->n++;
    return 0;
}

/* Points the rows at the arena (which no longer grows). */
static void batch_seal(batch *b)
{
    for (int r = 0; r < b->n; r++) {
        b->rows[r].n = b->ncols;
        for (int i = 0; i < b->ncols; i++) {
            b->rows[r].name[i] = b->names[i];
            b->rows[r].value[i] = b->null[r][i] ? NULL : b->arena.data + b->off[r][i];
        }
    }
}

static int flush(migration *m, const char *table, batch *b, int64_t *added, char *err, size_t errlen)
{
    if (!b->n) return 0;
    batch_seal(b);
    int n = 0;
    int rc = store_table_put(m->dst, table, b->rows, b->n, &n, err, errlen);
    *added += n;
    b->n = 0;
    b->arena.len = 0;
    return rc == STORE_OK ? 0 : -1;
}

static int copy_table(migration *m, const store_table *t, batch *b)
{
    char err[512] = "";
    int64_t total = store_table_count(m->src, t->name), read = 0, added = 0;
    store_cursor *cur = store_table_open(m->src, t->name, NULL, 0, err, sizeof err);
    if (!cur || total < 0) {
        fprintf(stderr, "faxbot migrate: reading %s: %s\n", t->name, err[0] ? err : "cannot count its rows");
        store_cursor_close(cur);
        return -1;
    }
    b->n = b->ncols = 0;
    b->arena.len = 0;
    store_row row;
    int rc, failed = 0;
    while (!failed && (rc = store_cursor_next(cur, &row, err, sizeof err)) == 1) {
        read++;
        if (batch_add(b, &row)) { str_copy(err, sizeof err, "out of memory"); failed = 1; break; }
        if (b->n == BATCH_ROWS && flush(m, t->name, b, &added, err, sizeof err)) failed = 1;
    }
    if (!failed && rc < 0) failed = 1;
    if (!failed && flush(m, t->name, b, &added, err, sizeof err)) failed = 1;
    store_cursor_close(cur);
    printf("  %-20s %8lld rows: %lld copied, %lld already there\n", t->name, (long long)read, (long long)added,
           (long long)(read - added));
    if (failed) fprintf(stderr, "faxbot migrate: copying %s: %s\n", t->name, err);
    fflush(stdout);
    return failed ? -1 : 0;
}

/* The key columns' positions in a row of t; -1 if a key column is missing. */
static int key_positions(const store_table *t, const store_row *r, int pos[3])
{
    for (int k = 0; k < 3 && t->key[k]; k++) {
        pos[k] = -1;
        for (int i = 0; i < r->n; i++)
            if (!strcmp(r->name[i], t->key[k])) pos[k] = i;
        if (pos[k] < 0) return -1;
    }
    return 0;
}

/* Orders two rows by key as both databases do (integers by value, text by bytes). */
static int key_cmp(const store_table *t, const int pos[3], const store_row *a, const store_row *b)
{
    for (int k = 0; k < 3 && t->key[k]; k++) {
        const char *x = a->value[pos[k]] ? a->value[pos[k]] : "", *y = b->value[pos[k]] ? b->value[pos[k]] : "";
        int c;
        if (t->int_keys & (1u << k)) {
            long long p = strtoll(x, NULL, 10), q = strtoll(y, NULL, 10);
            c = p < q ? -1 : p > q;
        } else {
            c = strcmp(x, y);
        }
        if (c) return c;
    }
    return 0;
}

static void key_text(const store_table *t, const int pos[3], const store_row *r, char *out, size_t outlen)
{
    out[0] = 0;
    for (int k = 0; k < 3 && t->key[k]; k++) {
        size_t l = strlen(out);
        snprintf(out + l, outlen - l, "%s%s=%s", k ? " " : "", t->key[k], r->value[pos[k]] ? r->value[pos[k]] : "");
    }
}

static bool same_value(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

typedef struct side {
    store_cursor *cur;
    store_row row;
    int state;                   /* 1 a row, 0 the end, < 0 an error */
} side;

static void side_next(side *s, char *err, size_t errlen)
{
    s->state = s->cur ? store_cursor_next(s->cur, &s->row, err, errlen) : 0;
}

/* Walks source and target in key order side by side. */
static int verify_table(migration *m, const store_table *t, batch *b)
{
    char err[512] = "";
    int64_t rows = 0, missing = 0, differ = 0, extra = 0;
    int shown = 0;
    side s = {0}, d = {0};
    s.cur = store_table_open(m->src, t->name, NULL, 0, err, sizeof err);
    if (!s.cur) goto fail;
    side_next(&s, err, sizeof err);
    if (s.state < 0) goto fail;
    int pos[3] = {0};
    if (s.state == 1) {
        /* the target is read by the source's column names (it may have more columns) */
        b->ncols = s.row.n;
        const char *cols[STORE_ROW_COLS];
        for (int i = 0; i < s.row.n; i++) {
            str_copy(b->names[i], sizeof b->names[i], s.row.name[i]);
            cols[i] = b->names[i];
        }
        if (key_positions(t, &s.row, pos)) { str_copy(err, sizeof err, "the key columns are missing"); goto fail; }
        d.cur = store_table_open(m->dst, t->name, cols, s.row.n, err, sizeof err);
        if (!d.cur) goto fail;
        side_next(&d, err, sizeof err);
        if (d.state < 0) goto fail;
    } else {
        int64_t n = store_table_count(m->dst, t->name);
        extra = n > 0 ? n : 0;
    }
    char key[200];
    while (s.state == 1) {
        int c = d.state == 1 ? key_cmp(t, pos, &s.row, &d.row) : -1;
        if (c > 0) {             /* a row only the target has */
            extra++;
            side_next(&d, err, sizeof err);
            if (d.state < 0) goto fail;
            continue;
        }
        rows++;
        if (c < 0) {
            missing++;
            key_text(t, pos, &s.row, key, sizeof key);
            if (shown++ < SHOW_PROBLEMS) printf("  %-20s %s: missing in the target\n", t->name, key);
        } else {
            for (int i = 0; i < s.row.n; i++) {
                if (same_value(s.row.value[i], d.row.value[i])) continue;
                differ++;
                key_text(t, pos, &s.row, key, sizeof key);
                if (shown++ < SHOW_PROBLEMS)
                    printf("  %-20s %s: %s differs (source '%.60s', target '%.60s')\n", t->name, key, s.row.name[i],
                           s.row.value[i] ? s.row.value[i] : "NULL", d.row.value[i] ? d.row.value[i] : "NULL");
                break;
            }
            side_next(&d, err, sizeof err);
            if (d.state < 0) goto fail;
        }
        side_next(&s, err, sizeof err);
        if (s.state < 0) goto fail;
    }
    while (d.state == 1) {
        extra++;
        side_next(&d, err, sizeof err);
        if (d.state < 0) goto fail;
    }
    store_cursor_close(s.cur);
    store_cursor_close(d.cur);
    m->problems += (int)(missing + differ);
    printf("  %-20s %8lld rows: %s", t->name, (long long)rows, missing + differ ? "" : "all equal");
    if (missing) printf("%lld missing", (long long)missing);
    if (differ) printf("%s%lld differ", missing ? ", " : "", (long long)differ);
    if (extra) printf("; %lld only in the target", (long long)extra);
    printf("\n");
    fflush(stdout);
    return 0;
fail:
    fprintf(stderr, "faxbot migrate: verifying %s: %s\n", t->name, err[0] ? err : "failed");
    store_cursor_close(s.cur);
    store_cursor_close(d.cur);
    m->problems++;
    return -1;
}

/* ---- artifacts ---- */

typedef struct artifact_totals {
    int64_t files, bytes, copied, copied_bytes, present, orphans, problems;
} artifact_totals;

typedef int (*artifact_fn)(migration *m, const char *key, const char *path, int64_t size, artifact_totals *tot);

static bool hex32(const char *s)
{
    if (strlen(s) != 32) return false;
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* A file an artifact may be (not a half-written download or a dot file). */
static bool artifact_name(const char *n)
{
    return n[0] && n[0] != '.' && !strstr(n, ".part") && strlen(n) < 64;
}

/* Calls fn for every artifact under FAX_DATA_DIR/<area>/<id>/ whose id has a row. */
static int each_artifact(migration *m, const char *area, artifact_fn fn, artifact_totals *tot)
{
    char dir[PATH_MAX], sub[PATH_MAX], path[PATH_MAX], key[200];
    if (str_fmt(dir, sizeof dir, "%s/%s", m->cfg->data_dir, area)) return -1;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    job_record *job = malloc(sizeof *job);
    inbound_record *in = malloc(sizeof *in);
    struct dirent *e;
    int rc = job && in ? 0 : -1;
    while (!rc && (e = readdir(d))) {
        if (!hex32(e->d_name) || str_fmt(sub, sizeof sub, "%s/%s", dir, e->d_name)) continue;
        bool known = !strcmp(area, "outbound") ? store_job_get(m->src, e->d_name, job) == STORE_OK
                                               : store_inbound_get(m->src, e->d_name, in) == STORE_OK;
        DIR *f = opendir(sub);
        struct dirent *fe;
        while (f && !rc && (fe = readdir(f))) {
            struct stat sb;
            if (!artifact_name(fe->d_name) || str_fmt(path, sizeof path, "%s/%s", sub, fe->d_name) ||
                lstat(path, &sb) || !S_ISREG(sb.st_mode))
                continue;
            if (!known) { tot->orphans++; continue; }
            tot->files++;
            tot->bytes += sb.st_size;
            str_fmt(key, sizeof key, "%s/%s/%s", area, e->d_name, fe->d_name);
            rc = fn(m, key, path, sb.st_size, tot);
        }
        if (f) closedir(f);
    }
    closedir(d);
    free(job);
    free(in);
    return rc;
}

static int copy_artifact(migration *m, const char *key, const char *path, int64_t size, artifact_totals *tot)
{
    char err[512] = "";
    if (!m->s3) return 0;
    long long have = 0;
    char etag[128];
    int rc = s3_stat(m->s3, key, &have, etag, sizeof etag, err, sizeof err);
    if (rc == S3_OK) { tot->present++; return 0; }
    if (rc == S3_NOT_FOUND) rc = s3_put_file(m->s3, key, path, err, sizeof err);
    if (rc != S3_OK) {
        fprintf(stderr, "faxbot migrate: %s\n", err);
        return -1;
    }
    tot->copied++;
    tot->copied_bytes += size;
    if (tot->copied % 100 == 0) {
        printf("  artifacts: %lld uploaded so far (%lld bytes)\n", (long long)tot->copied, (long long)tot->copied_bytes);
        fflush(stdout);
    }
    return 0;
}

static int verify_artifact(migration *m, const char *key, const char *path, int64_t size, artifact_totals *tot)
{
    char err[512] = "", tmp[PATH_MAX], want[65], got[65];
    if (!m->s3) return 0;
    if (sha256_file_hex(path, want)) {
        printf("  artifact %s: cannot read %s\n", key, path);
        tot->problems++;
        return 0;
    }
    char rnd[33];
    new_id_hex32(rnd);
    if (str_fmt(tmp, sizeof tmp, "%s/tmp/migrate-verify-%s", m->cfg->data_dir, rnd)) return -1;
    int rc = s3_get_file(m->s3, key, tmp, err, sizeof err);
    if (rc == S3_ERROR) {
        fprintf(stderr, "faxbot migrate: %s\n", err);
        return -1;
    }
    int64_t got_size = rc == S3_OK ? file_size(tmp) : -1;
    if (rc == S3_NOT_FOUND) {
        if (tot->problems++ < SHOW_PROBLEMS) printf("  artifact %s: missing in S3\n", key);
    } else if (got_size != size || sha256_file_hex(tmp, got) || strcmp(got, want)) {
        if (tot->problems++ < SHOW_PROBLEMS)
            printf("  artifact %s: differs in S3 (%lld bytes, not %lld%s)\n", key, (long long)got_size, (long long)size,
                   got_size == size ? " with the same SHA-256" : "");
    }
    unlink(tmp);
    return 0;
}

static int walk_artifacts(migration *m, artifact_fn fn, artifact_totals *tot)
{
    memset(tot, 0, sizeof *tot);
    char tmp[PATH_MAX];
    if (str_fmt(tmp, sizeof tmp, "%s/tmp", m->cfg->data_dir) || mkdir_p(tmp, 0700)) return -1;
    if (each_artifact(m, "outbound", fn, tot) || each_artifact(m, "inbound", fn, tot)) return -1;
    return 0;
}

/* ---- the command ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: faxbot migrate --to postgresql://USER:PASSWORD@HOST/DB [--storage local|s3] [--verify-only] [--force]\n"
               "  copies this installation (DATABASE_URL / FAX_DATA_DIR: SQLite and files) to PostgreSQL,\n"
               "  with --storage s3 its artifacts to S3 (S3_BUCKET, S3_PREFIX, S3_ENDPOINT_URL, AWS_* credentials),\n"
               "  then verifies every row and object. Running it again copies only what is missing.\n"
               "  --verify-only  compare, copy nothing     --force  even if a gateway has the database open\n");
}

/* What lives outside the database and every node needs too. */
static void print_notes(const config *cfg, const char *storage)
{
    char path[PATH_MAX];
    printf("notes for the new nodes:\n");
    printf("  DATABASE_URL=<the --to URL>%s\n", strcmp(storage, "s3") ? "" : " and STORAGE_BACKEND=s3 with the same S3_* settings");
    if (!setting_raw("FAXBOT_KEY_PEPPER")) {
        str_fmt(path, sizeof path, "%s/key-pepper", cfg->data_dir);
        if (file_size(path) > 0)
            printf("  API keys are checked with the pepper in %s: give every node that file, or set\n"
                   "  FAXBOT_KEY_PEPPER to its contents (otherwise no migrated key works)\n", path);
    }
    if (!cfg->webhook_secret[0]) {
        str_fmt(path, sizeof path, "%s/webhook-secret", cfg->data_dir);
        if (file_size(path) > 0)
            printf("  callback_url deliveries are signed with %s: copy it, or set WEBHOOK_SECRET to its contents\n", path);
    }
    if (!strcmp(storage, "local"))
        printf("  the artifacts stay in %s: every node needs that directory (or run again with --storage s3)\n",
               cfg->data_dir);
    if (settings_file_path(environ, path, sizeof path) == 0 && file_size(path) >= 0)
        printf("  the settings file %s is not in the database: give the nodes their settings\n", path);
}

int cli_migrate(int argc, char **argv)
{
    const char *to = NULL, *storage = "local";
    bool verify_only = false, force = false;
    static const struct option opts[] = {{"to", required_argument, 0, 't'}, {"storage", required_argument, 0, 's'},
                                         {"verify-only", no_argument, 0, 'v'}, {"force", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 't': to = optarg; break;
        case 's': storage = optarg; break;
        case 'v': verify_only = true; break;
        case 'f': force = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !to) { usage(stderr); return 2; }
    if (strcmp(storage, "local") && strcmp(storage, "s3")) {
        fprintf(stderr, "faxbot migrate: --storage is local or s3 (got '%s')\n", storage);
        return 2;
    }
    if (!store_url_is_pg(to)) {
        fprintf(stderr, "faxbot migrate: --to must be a PostgreSQL URL (postgresql://user:password@host/dbname?sslmode=…)\n");
        return 2;
    }
    static config cfg;
    char err[1024] = "";
    if (config_load(&cfg, err, sizeof err)) { fprintf(stderr, "faxbot migrate: %s\n", err); return 2; }
    if (store_url_is_pg(cfg.database_path)) {
        fprintf(stderr, "faxbot migrate: refusing: this installation is already on PostgreSQL (DATABASE_URL); "
                        "migrate copies a SQLite installation\n");
        return 2;
    }
    struct stat sb;
    if (stat(cfg.database_path, &sb) || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "faxbot migrate: refusing: there is no SQLite database at %s (check FAX_DATA_DIR / DATABASE_URL)\n",
                cfg.database_path);
        return 2;
    }
    if (database_in_use(cfg.database_path)) {
        if (!force) {
            fprintf(stderr, "faxbot migrate: refusing: another process has %s open — is the gateway still running? "
                            "Stop it first so nothing changes while it is copied (or pass --force)\n",
                    cfg.database_path);
            return 2;
        }
        printf("warning: another process has %s open (--force): what changes meanwhile shows up in the verification\n",
               cfg.database_path);
    }
    char shown[1024];
    store_url_redact(to, shown, sizeof shown);
    migration m = {.cfg = &cfg};
    int rc = 1;
    batch *b = calloc(1, sizeof *b);
    if (!b) { fprintf(stderr, "faxbot migrate: out of memory\n"); return 1; }
    sb_init(&b->arena);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    m.src = store_sqlite_open(cfg.database_path, err, sizeof err);
    if (!m.src) { fprintf(stderr, "faxbot migrate: the source database %s: %s\n", cfg.database_path, err); rc = 2; goto out; }
    m.dst = store_pg_open(to, err, sizeof err);
    if (!m.dst) { fprintf(stderr, "faxbot migrate: refusing: the target database %s: %s\n", shown, err); rc = 2; goto out; }
    if (!strcmp(storage, "s3")) {
        s3_settings s3;
        config_s3_settings(&cfg, &s3);       /* as the server reads them: credentials files, part sizes */
        m.s3 = s3_open(&s3, err, sizeof err);
        if (!m.s3) { fprintf(stderr, "faxbot migrate: S3: %s\n", err); rc = 2; goto out; }
    }
    printf("faxbot migrate: %s -> %s\n", cfg.database_path, shown);
    if (m.s3) printf("  artifacts -> S3 bucket %s, prefix '%s'\n", cfg.s3_bucket, cfg.s3_prefix);
    artifact_totals tot;
    if (!verify_only) {
        printf("copying rows:\n");
        for (int i = 0; i < store_n_tables; i++)
            if (copy_table(&m, &store_tables[i], b)) goto out;
        if (walk_artifacts(&m, copy_artifact, &tot)) {
            fprintf(stderr, "faxbot migrate: copying the artifacts failed\n");
            goto out;
        }
        if (m.s3)
            printf("artifacts: %lld files, %lld bytes: %lld uploaded (%lld bytes), %lld already in S3\n",
                   (long long)tot.files, (long long)tot.bytes, (long long)tot.copied, (long long)tot.copied_bytes,
                   (long long)tot.present);
        else
            printf("artifacts: %lld files, %lld bytes, left in place under %s\n", (long long)tot.files,
                   (long long)tot.bytes, cfg.data_dir);
        if (tot.orphans) printf("  (%lld files of uploads that never became a job or fax were left out)\n", (long long)tot.orphans);
    }
    printf("verifying:\n");
    for (int i = 0; i < store_n_tables; i++) verify_table(&m, &store_tables[i], b);
    if (walk_artifacts(&m, verify_artifact, &tot)) {
        fprintf(stderr, "faxbot migrate: verifying the artifacts failed\n");
        m.problems++;
    } else if (m.s3) {
        printf("  artifacts: %lld objects, %lld bytes: %s", (long long)tot.files, (long long)tot.bytes,
               tot.problems ? "" : "all present with the same size and SHA-256\n");
        if (tot.problems) printf("%lld missing or different\n", (long long)tot.problems);
        m.problems += (int)tot.problems;
    }
    if (m.problems) {
        printf("verification FAILED: %d problem(s); the target does not match the source\n", m.problems);
    } else {
        printf("verification OK\n");
        print_notes(&cfg, storage);
        rc = 0;
    }
out:
    s3_close(m.s3);
    store_close(m.dst);
    store_close(m.src);
    sb_free(&b->arena);
    free(b);
    curl_global_cleanup();
    return rc;
}
