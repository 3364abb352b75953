/* jobs_fixture.h — the job layer on a real SQLite store and blob directory in a
 * fresh temporary folder, for the job-layer unit tests (include after cmocka.h).
 * `tune` adjusts the configuration before the job layer starts. */
#ifndef FAXBOT_TEST_JOBS_FIXTURE_H
#define FAXBOT_TEST_JOBS_FIXTURE_H

#include "jobs/jobs_internal.h"
#include "util/util.h"

typedef struct fixture {
    char dir[256];
    config cfg;
    store *st;
    blob_store *blobs;
    jobs *j;
} fixture;

static inline fixture *jobs_fixture_open(const char *name, void (*tune)(config *cfg))
{
    fixture *f = calloc(1, sizeof *f);
    str_fmt(f->dir, sizeof f->dir, "/tmp/faxbot-%s-XXXXXX", name);
    assert_non_null(mkdtemp(f->dir));
    char *env[] = {NULL};
    char err[256];
    assert_int_equal(config_load_from(&f->cfg, env, err, sizeof err), 0);
    str_copy(f->cfg.data_dir, sizeof f->cfg.data_dir, f->dir);
    if (tune) tune(&f->cfg);
    char db[512];
    str_fmt(db, sizeof db, "%s/faxbot.db", f->dir);
    f->st = store_sqlite_open(db, err, sizeof err);
    assert_non_null(f->st);
    f->blobs = blob_fs_open(f->dir, err, sizeof err);
    assert_non_null(f->blobs);
    f->j = jobs_start(&f->cfg, f->st, f->blobs, false, err, sizeof err);
    assert_non_null(f->j);
    return f;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    jobs_stop(f->j);
    store_close(f->st);
    blob_close(f->blobs);
    remove_tree(f->dir);
    free(f);
    return 0;
}

#endif
