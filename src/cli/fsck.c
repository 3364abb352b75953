/* fsck.c — `faxbot fsck [--json]`: checks the store against the artifact storage
 * (local files, or the S3 objects of record) as configured, and reports:
 *   missing_artifact  a job or inbound fax whose row says its files exist, but one is not there
 *   orphan_artifact   a file/object whose id has no row
 *   leftover_artifact a file/object of a row whose artifacts were recorded as deleted
 *   stray_object      something under outbound/ or inbound/ that is not <id>/<name>
 *   impossible_state  a job no worker can ever finish as it stands (unknown status, in
 *                     progress without a lease or with one that ran out long ago, more
 *                     attempts than allowed, a lease naming a node on a job not in progress)
 *   duplicate_inbound more than one inbound fax recorded for one outbound job (loopback)
 * Exit 0 when clean, 1 with problems, 2 when it could not check. Read-only (but for
 * pending schema migrations, applied on open as `serve` would). An upload
 * in flight on a running gateway has its file before its row, so on a busy gateway a
 * fresh orphan may be one; run it again (or on a quiet system) before acting. */
#include "cli/fsck.h"

#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

#define STUCK_MS (10 * 60 * 1000LL)    /* an in_progress lease this long gone: nobody looks after it */
#define PAGE 500

blob_store *cli_open_blobs(const config *cfg, char *err, size_t errlen)
{
    if (strcmp(cfg->storage_backend, "s3")) return blob_fs_open(cfg->data_dir, err, errlen);
    s3_settings s3;
    config_s3_settings(cfg, &s3);
    return blob_s3_open(cfg->data_dir, &s3, err, errlen);
}

/* What a row says about its files. */
typedef struct row {
    char id[33];
    bool deleted;                /* artifacts_deleted_at set */
    const char *const *needs;    /* names that must exist while not deleted */
} row;

/* One file/object found. */
typedef struct object {
    char id[64];
    char name[72];
} object;

typedef struct checker {
    json_t *problems;
    row *rows;
    size_t n_rows, cap_rows;
    object *objs;
    size_t n_objs, cap_objs;
    size_t n_checked_objects;
} checker;

static void problem(checker *c, const char *kind, const char *area, const char *id, const char *name,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void problem(checker *c, const char *kind, const char *area, const char *id, const char *name,
                    const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_array_append_new(c->problems, json_pack("{s:s,s:s,s:s,s:s,s:s}", "kind", kind, "area", area, "id", id,
                                                 "name", name ? name : "", "detail", detail));
}

static int add_row(checker *c, const char *id, bool deleted, const char *const *needs)
{
    if (c->n_rows == c->cap_rows) {
        size_t cap = c->cap_rows ? c->cap_rows * 2 : 1024;
        row *r = realloc(c->rows, cap * sizeof *r);
        if (!r) return -1;
        c->rows = r;
        c->cap_rows = cap;
    }
    row *r = &c->rows[c->n_rows++];
    str_copy(r->id, sizeof r->id, id);
    r->deleted = deleted;
    r->needs = needs;
    return 0;
}

static int on_object(void *ctx, const char *id, const char *name)
{
    checker *c = ctx;
    if (c->n_objs == c->cap_objs) {
        size_t cap = c->cap_objs ? c->cap_objs * 2 : 4096;
        object *o = realloc(c->objs, cap * sizeof *o);
        if (!o) return -1;
        c->objs = o;
        c->cap_objs = cap;
    }
    object *o = &c->objs[c->n_objs++];
    str_copy(o->id, sizeof o->id, id);
    str_copy(o->name, sizeof o->name, name);
    return 0;
}

static int cmp_row(const void *a, const void *b) { return strcmp(((const row *)a)->id, ((const row *)b)->id); }

static int cmp_obj(const void *a, const void *b)
{
    const object *x = a, *y = b;
    int d = strcmp(x->id, y->id);
    return d ? d : strcmp(x->name, y->name);
}

/* Rows (gathered for one area) against that area's files/objects. */
static int check_area(checker *c, blob_store *blobs, const char *area, char *err, size_t errlen)
{
    c->n_objs = 0;
    if (blob_list(blobs, area, on_object, c, err, errlen)) return -1;
    c->n_checked_objects += c->n_objs;
    if (c->n_rows) qsort(c->rows, c->n_rows, sizeof *c->rows, cmp_row);
    if (c->n_objs) qsort(c->objs, c->n_objs, sizeof *c->objs, cmp_obj);
    for (size_t i = 0; i < c->n_rows; i++) {
        const row *r = &c->rows[i];
        for (int k = 0; !r->deleted && r->needs && r->needs[k]; k++) {
            object key;
            str_copy(key.id, sizeof key.id, r->id);
            str_copy(key.name, sizeof key.name, r->needs[k]);
            if (!c->n_objs || !bsearch(&key, c->objs, c->n_objs, sizeof *c->objs, cmp_obj))
                problem(c, "missing_artifact", area, r->id, r->needs[k], "the row says its files exist, but %s is not in %s storage",
                        r->needs[k], blob_kind(blobs));
        }
    }
    for (size_t i = 0; i < c->n_objs; i++) {
        const object *o = &c->objs[i];
        if (strlen(o->id) != 32 || !o->name[0]) {
            problem(c, "stray_object", area, o->id, o->name, "not an artifact of the form %s/<id>/<name>", area);
            continue;
        }
        row key;
        str_copy(key.id, sizeof key.id, o->id);
        const row *r = c->n_rows ? bsearch(&key, c->rows, c->n_rows, sizeof *c->rows, cmp_row) : NULL;
        if (!r)
            problem(c, "orphan_artifact", area, o->id, o->name, "no %s row has this id",
                    !strcmp(area, "outbound") ? "job" : "inbound fax");
        else if (r->deleted)
            problem(c, "leftover_artifact", area, o->id, o->name, "the row says its artifacts were deleted");
    }
    return 0;
}

static const char *const NEEDS_UPLOAD[] = {"original", NULL};
static const char *const NEEDS_SENT[] = {"original", "document.pdf", "fax.tiff", NULL};
static const char *const NEEDS_INBOUND[] = {"fax.tiff", "fax.pdf", NULL};

static void check_job_state(checker *c, const job_record *j, int64_t now)
{
    const char *s = j->status;
    bool known = !strcmp(s, "queued") || !strcmp(s, "in_progress") || !strcmp(s, "SUCCESS") || !strcmp(s, "FAILED") ||
                 !strcmp(s, "cancelled");
    if (!known) problem(c, "impossible_state", "outbound", j->id, NULL, "unknown status '%s'", s);
    bool running = !strcmp(s, "in_progress");
    if (running && j->lease_until <= 0)
        problem(c, "impossible_state", "outbound", j->id, NULL, "in progress without a lease: no worker will finish it");
    else if (running && j->lease_until < now - STUCK_MS)
        problem(c, "impossible_state", "outbound", j->id, NULL,
                "in progress, but its lease (node '%s') ran out %lld minutes ago: nobody looks after it", j->lease_node,
                (long long)((now - j->lease_until) / 60000));
    if (!running && j->lease_node[0])
        problem(c, "impossible_state", "outbound", j->id, NULL, "%s, but a lease still names node '%s'", s, j->lease_node);
    if (j->max_attempts > 0 && j->attempts > j->max_attempts)
        problem(c, "impossible_state", "outbound", j->id, NULL, "%d attempts, more than its %d allowed", j->attempts,
                j->max_attempts);
}

static int gather_jobs(checker *c, store *st, int64_t *n_jobs, char *err, size_t errlen)
{
    job_record *buf = calloc(PAGE, sizeof *buf);
    if (!buf) { str_fmt(err, errlen, "out of memory"); return -1; }
    job_filter f = {.limit = PAGE};
    int64_t now = now_ms();
    int n;
    while ((n = store_job_list(st, &f, buf)) > 0) {
        for (int i = 0; i < n; i++) {
            const job_record *j = &buf[i];
            check_job_state(c, j, now);
            /* a sent fax was converted: its PDF and TIFF are kept with the upload */
            if (add_row(c, j->id, j->artifacts_deleted_at > 0, !strcmp(j->status, "SUCCESS") ? NEEDS_SENT : NEEDS_UPLOAD)) {
                free(buf);
                str_fmt(err, errlen, "out of memory");
                return -1;
            }
        }
        *n_jobs += n;
        f.before_created_at = buf[n - 1].created_at;
        str_copy(f.before_id, sizeof f.before_id, buf[n - 1].id);
        if (n < PAGE) break;
    }
    free(buf);
    if (n < 0) { str_fmt(err, errlen, "cannot list the jobs (database error)"); return -1; }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int gather_inbound(checker *c, store *st, int64_t *n_inbound, char *err, size_t errlen)
{
    inbound_record *buf = calloc(PAGE, sizeof *buf);
    size_t n_src = 0, cap_src = 0;
    char **src = NULL;
    if (!buf) { str_fmt(err, errlen, "out of memory"); return -1; }
    inbound_filter f = {.limit = PAGE};
    int n, rc = 0;
    while (!rc && (n = store_inbound_list(st, &f, buf)) > 0) {
        for (int i = 0; i < n && !rc; i++) {
            const inbound_record *r = &buf[i];
            rc = add_row(c, r->id, r->artifacts_deleted_at > 0, !strcmp(r->status, "received") ? NEEDS_INBOUND : NULL);
            if (!rc && r->source_job_id[0]) {
                if (n_src == cap_src) {
                    cap_src = cap_src ? cap_src * 2 : 1024;
                    char **g = realloc(src, cap_src * sizeof *g);
                    if (!g) { rc = -1; break; }
                    src = g;
                }
                src[n_src] = malloc(33 + 33 + 1);
                if (!src[n_src]) { rc = -1; break; }
                str_fmt(src[n_src], 67, "%s %s", r->source_job_id, r->id);
                n_src++;
            }
        }
        *n_inbound += n;
        f.before_received_at = buf[n - 1].received_at;
        str_copy(f.before_id, sizeof f.before_id, buf[n - 1].id);
        if (n < PAGE) break;
    }
    if (!rc && n < 0) { str_fmt(err, errlen, "cannot list the inbound faxes (database error)"); rc = -1; }
    else if (rc) str_fmt(err, errlen, "out of memory");
    /* "<job> <inbound>" sorted: a job named twice in a row has two inbound faxes */
    if (n_src) qsort(src, n_src, sizeof *src, cmp_str);
    for (size_t i = 1; !rc && i < n_src; i++)
        if (!strncmp(src[i], src[i - 1], 32))
            problem(c, "duplicate_inbound", "inbound", src[i] + 33, NULL, "a second inbound fax for outbound job %.32s "
                    "(the first is %s)", src[i], src[i - 1] + 33);
    for (size_t i = 0; i < n_src; i++) free(src[i]);
    free(src);
    free(buf);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: faxbot fsck [--json]\n"
               "  checks the database (DATABASE_URL) against the stored files (FAX_DATA_DIR or S3):\n"
               "  rows whose files are missing, files without a row, jobs in impossible states,\n"
               "  duplicate inbound faxes of one job. Exit 0 clean, 1 problems found, 2 could not check.\n");
}

int cli_fsck(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool as_json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (o == 'j') as_json = true;
        else if (o == 'h') { usage(stdout); return 0; }
        else { usage(stderr); return 2; }
    }
    static config cfg;
    char err[512] = "";
    if (config_load(&cfg, err, sizeof err)) { fprintf(stderr, "faxbot fsck: %s\n", err); return 2; }
    store *st = store_open(cfg.database_path, err, sizeof err);
    if (!st) { fprintf(stderr, "faxbot fsck: database: %s\n", err); return 2; }
    blob_store *blobs = cli_open_blobs(&cfg, err, sizeof err);
    if (!blobs) { fprintf(stderr, "faxbot fsck: storage: %s\n", err); store_close(st); return 2; }
    checker c = {.problems = json_array()};
    int64_t n_jobs = 0, n_inbound = 0;
    int rc = gather_jobs(&c, st, &n_jobs, err, sizeof err);
    if (!rc) rc = check_area(&c, blobs, "outbound", err, sizeof err);
    c.n_rows = 0;
    if (!rc) rc = gather_inbound(&c, st, &n_inbound, err, sizeof err);
    if (!rc) rc = check_area(&c, blobs, "inbound", err, sizeof err);
    int exit_code = 2;
    if (rc) {
        fprintf(stderr, "faxbot fsck: %s\n", err);
    } else {
        size_t n = json_array_size(c.problems);
        exit_code = n ? 1 : 0;
        if (as_json) {
            json_t *out = json_pack("{s:b,s:s,s:s,s:{s:I,s:I,s:I},s:O}", "ok", n == 0, "database", store_kind(st),
                                    "storage", blob_kind(blobs), "checked", "jobs", (json_int_t)n_jobs, "inbound",
                                    (json_int_t)n_inbound, "objects", (json_int_t)c.n_checked_objects, "problems",
                                    c.problems);
            json_dumpf(out, stdout, JSON_INDENT(2));
            putchar('\n');
            json_decref(out);
        } else {
            size_t i;
            json_t *p;
            json_array_foreach(c.problems, i, p) {
                const char *name = json_string_value(json_object_get(p, "name"));
                printf("%-18s %s/%s%s%s: %s\n", json_string_value(json_object_get(p, "kind")),
                       json_string_value(json_object_get(p, "area")), json_string_value(json_object_get(p, "id")),
                       *name ? "/" : "", name, json_string_value(json_object_get(p, "detail")));
            }
            char verdict[64];
            str_fmt(verdict, sizeof verdict, n ? "%zu problem(s)" : "clean", n);
            printf("fsck: %lld job(s), %lld inbound fax(es), %zu stored file(s) checked (%s database, %s storage): %s\n",
                   (long long)n_jobs, (long long)n_inbound, c.n_checked_objects, store_kind(st), blob_kind(blobs),
                   verdict);
        }
    }
    json_decref(c.problems);
    free(c.rows);
    free(c.objs);
    blob_close(blobs);
    store_close(st);
    return exit_code;
}
