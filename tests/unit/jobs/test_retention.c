/* test_retention.c — artifact expiry against a real SQLite store and real files:
 * finished jobs past ARTIFACT_TTL lose their files, queued ones never do, and
 * inbound faxes past retention_until lose theirs; every row stays and says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs_fixture.h"

static void tune(config *cfg)
{
    cfg->artifact_ttl_minutes = 60;
}

static int setup(void **state)
{
    *state = jobs_fixture_open("retention", tune);
    return 0;
}

static void put_file(fixture *f, const char *area, const char *id, const char *name)
{
    char path[1024];
    assert_int_equal(blob_path(f->blobs, area, id, name, path, sizeof path), 0);
    assert_int_equal(write_file_atomic(path, "x", 1), 0);
}

static bool has_file(fixture *f, const char *area, const char *id, const char *name)
{
    char path[1024];
    str_fmt(path, sizeof path, "%s/%s/%s/%s", f->dir, area, id, name);
    return file_size(path) >= 0;
}

static void add_job(fixture *f, const char *status, int64_t updated_at, char id[33])
{
    job_record r;
    memset(&r, 0, sizeof r);
    new_id_hex32(r.id);
    str_copy(r.status, sizeof r.status, status);
    str_copy(r.to_number, sizeof r.to_number, "+15551234567");
    r.created_at = r.updated_at = updated_at;
    r.pages = -1;
    char err[256];
    assert_int_equal(store_job_insert(f->st, &r, NULL, err, sizeof err), STORE_OK);
    put_file(f, "outbound", r.id, "original");
    put_file(f, "outbound", r.id, "fax.tiff");
    memcpy(id, r.id, 33);
}

static void old_finished_jobs_lose_their_files(void **state)
{
    fixture *f = *state;
    int64_t now = now_ms(), hour = 3600 * 1000;
    char old_done[33], old_failed[33], new_done[33], old_queued[33];
    add_job(f, "SUCCESS", now - 2 * hour, old_done);
    add_job(f, "FAILED", now - 2 * hour, old_failed);
    add_job(f, "SUCCESS", now - 10 * 60 * 1000, new_done);
    add_job(f, "queued", now - 5 * hour, old_queued);

    assert_int_equal(retention_sweep(f->j), 2);
    assert_false(has_file(f, "outbound", old_done, "original"));
    assert_false(has_file(f, "outbound", old_failed, "fax.tiff"));
    assert_true(has_file(f, "outbound", new_done, "original"));
    assert_true(has_file(f, "outbound", old_queued, "original"));   /* never while it may still be sent */

    job_record r;
    assert_int_equal(store_job_get(f->st, old_done, &r), STORE_OK);
    assert_true(r.artifacts_deleted_at >= now);
    assert_string_equal(r.status, "SUCCESS");                       /* the row and its history stay */
    assert_int_equal(retention_sweep(f->j), 0);                     /* nothing twice */
}

static void inbound_past_retention_loses_its_files(void **state)
{
    fixture *f = *state;
    int64_t now = now_ms();
    inbound_record in, existing;
    char err[256];
    const char *ids[2];
    char id_old[33], id_new[33];
    for (int i = 0; i < 2; i++) {
        memset(&in, 0, sizeof in);
        new_id_hex32(in.id);
        str_copy(in.status, sizeof in.status, "received");
        str_copy(in.backend, sizeof in.backend, "loopback");
        in.created_at = in.received_at = in.updated_at = now - 1000;
        in.retention_until = i == 0 ? now - 1 : now + 3600 * 1000;
        assert_int_equal(store_inbound_insert(f->st, &in, &existing, err, sizeof err), STORE_OK);
        put_file(f, "inbound", in.id, "fax.pdf");
        memcpy(i == 0 ? id_old : id_new, in.id, 33);
    }
    ids[0] = id_old;
    ids[1] = id_new;
    assert_int_equal(retention_sweep(f->j), 1);
    assert_false(has_file(f, "inbound", ids[0], "fax.pdf"));
    assert_true(has_file(f, "inbound", ids[1], "fax.pdf"));
    assert_int_equal(store_inbound_get(f->st, ids[0], &in), STORE_OK);
    assert_true(in.artifacts_deleted_at > 0);
}

static void ttl_zero_keeps_everything(void **state)
{
    fixture *f = *state;
    f->cfg.artifact_ttl_minutes = 0;
    char id[33];
    add_job(f, "SUCCESS", 1000, id);
    assert_int_equal(retention_sweep(f->j), 0);
    assert_true(has_file(f, "outbound", id, "original"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(old_finished_jobs_lose_their_files, setup, teardown),
        cmocka_unit_test_setup_teardown(inbound_past_retention_loses_its_files, setup, teardown),
        cmocka_unit_test_setup_teardown(ttl_zero_keeps_everything, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
