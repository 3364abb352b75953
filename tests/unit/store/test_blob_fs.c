/* test_blob_fs.c — artifact paths on the file system: validation of areas, ids
 * and names, absolute paths under the resolved root, private directories,
 * removal, scratch dirs and the readiness check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "util/util.h"

#define ID "0123456789abcdef0123456789abcdef"

typedef struct fixture {
    char dir[256];
    blob_store *b;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/faxbot-blob-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    char root[300], err[256];
    /* A relative-looking, not yet existing root with a ".." in it: resolved at open. */
    snprintf(root, sizeof root, "%s/x/../data", f->dir);
    if (mkdir_p(root, 0700)) return -1;      /* "x" must exist for ".." to resolve */
    rmdir(root);
    f->b = blob_fs_open(root, err, sizeof err);
    if (!f->b) { fprintf(stderr, "%s\n", err); return -1; }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    blob_close(f->b);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static void test_path_is_absolute_and_private(void **state)
{
    fixture *f = *state;
    char out[PATH_MAX], expect[PATH_MAX + 128], real[PATH_MAX];
    assert_int_equal(blob_path(f->b, "outbound", ID, "document.pdf", out, sizeof out), 0);
    assert_non_null(realpath(f->dir, real));
    snprintf(expect, sizeof expect, "%s/data/outbound/" ID "/document.pdf", real);
    assert_string_equal(out, expect);
    assert_int_equal(out[0], '/');
    assert_null(strstr(out, ".."));

    struct stat st;
    char dir[PATH_MAX + 128];
    snprintf(dir, sizeof dir, "%s/data", real);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(dir, sizeof dir, "%s/data/outbound/" ID, real);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);

    assert_int_equal(blob_path(f->b, "inbound", ID, "original", out, sizeof out), 0);
    assert_int_equal(blob_path(f->b, "tmp", ID, "a-b_c.1.tiff", out, sizeof out), 0);
    char name64[65];
    memset(name64, 'n', 64);
    name64[64] = 0;
    assert_int_equal(blob_path(f->b, "tmp", ID, name64, out, sizeof out), 0);
    /* Too small an output buffer. */
    char tiny[16];
    assert_int_equal(blob_path(f->b, "outbound", ID, "document.pdf", tiny, sizeof tiny), -1);
}

static void test_path_rejects_unsafe_arguments(void **state)
{
    fixture *f = *state;
    char out[PATH_MAX];
    const char *bad_areas[] = {"", "Outbound", "../outbound", "outbound/..", "other", "tmp/", NULL};
    for (size_t i = 0; i < sizeof bad_areas / sizeof *bad_areas; i++)
        assert_int_equal(blob_path(f->b, bad_areas[i], ID, "x", out, sizeof out), -1);
    const char *bad_ids[] = {"0123456789ABCDEF0123456789abcdef", "0123456789abcdef", "0123456789abcdef0123456789abcdef0",
                             "0123456789abcdef0123456789abcdeg", "../456789abcdef0123456789abcdef0", "", NULL};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++)
        assert_int_equal(blob_path(f->b, "outbound", bad_ids[i], "x", out, sizeof out), -1);
    char name65[66];
    memset(name65, 'n', 65);
    name65[65] = 0;
    const char *bad_names[] = {"../x", "a/b", ".hidden", ".", "..", "", "sp ace", "x\n", "é", "a\\b", name65, NULL};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
        assert_int_equal(blob_path(f->b, "outbound", ID, bad_names[i], out, sizeof out), -1);
    /* Nothing was created by the refused calls. */
    char root_out[PATH_MAX];
    assert_int_equal(blob_path(f->b, "outbound", ID, "ok", root_out, sizeof root_out), 0);
    char *slash = strrchr(root_out, '/');
    *slash = 0;
    slash = strrchr(root_out, '/');
    *slash = 0;   /* <root>/outbound */
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/0123456789abcdef", root_out);
    assert_int_equal(file_size(probe), -1);
}

static void test_remove_all(void **state)
{
    fixture *f = *state;
    char a[PATH_MAX], b[PATH_MAX];
    assert_int_equal(blob_path(f->b, "outbound", ID, "original", a, sizeof a), 0);
    assert_int_equal(blob_path(f->b, "outbound", ID, "document.pdf", b, sizeof b), 0);
    assert_int_equal(write_file_atomic(a, "hello", 5), 0);
    assert_int_equal(write_file_atomic(b, "world!", 6), 0);
    assert_int_equal(file_size(a), 5);
    assert_int_equal(blob_remove_all(f->b, "outbound", ID), 0);
    assert_int_equal(file_size(a), -1);
    char *slash = strrchr(a, '/');
    *slash = 0;
    assert_int_equal(file_size(a), -1);     /* the id directory is gone too */
    /* Removing again is fine; bad arguments are refused. */
    assert_int_equal(blob_remove_all(f->b, "outbound", ID), 0);
    assert_int_equal(blob_remove_all(f->b, "outbound", ".."), -1);
    assert_int_equal(blob_remove_all(f->b, "..", ID), -1);
}

static void test_tmpdir_unique(void **state)
{
    fixture *f = *state;
    char a[PATH_MAX], b[PATH_MAX];
    assert_int_equal(blob_tmpdir(f->b, a, sizeof a), 0);
    assert_int_equal(blob_tmpdir(f->b, b, sizeof b), 0);
    assert_string_not_equal(a, b);
    assert_non_null(strstr(a, "/data/tmp/"));
    struct stat st;
    assert_int_equal(stat(a, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(remove_tree(a), 0);
    assert_int_equal(remove_tree(b), 0);
}

static void test_check(void **state)
{
    fixture *f = *state;
    int64_t free_bytes = -1;
    char err[256];
    assert_int_equal(blob_check(f->b, &free_bytes, err, sizeof err), 0);
    assert_true(free_bytes > 0);
    /* A root that became read-only fails with a message (root bypasses modes). */
    if (geteuid() != 0) {
        char real[PATH_MAX], root[PATH_MAX + 16];
        assert_non_null(realpath(f->dir, real));
        snprintf(root, sizeof root, "%s/data", real);
        chmod(root, 0500);
        err[0] = 0;
        assert_int_equal(blob_check(f->b, &free_bytes, err, sizeof err), -1);
        assert_non_null(strstr(err, "not writable"));
        chmod(root, 0700);
    }
}

static void test_open_failures(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(blob_fs_open("", err, sizeof err));
    assert_true(strlen(err) > 0);
    err[0] = 0;
    assert_null(blob_fs_open("/proc/self/not-a-dir-we-can-make", err, sizeof err));
    assert_true(strlen(err) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_path_is_absolute_and_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_rejects_unsafe_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmpdir_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test(test_open_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
