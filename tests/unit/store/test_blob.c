/* test_blob.c — the blob.h suite, run twice: on local files (blob_fs) and, with
 * --s3, on S3 storage against tests/peers/s3_peer.py (blob_s3; the stand-in verifies
 * every request's Signature V4 and checksums). The same tests on both: validation of
 * areas, ids and names, absolute paths under the resolved root, private directories,
 * removal, scratch dirs, the readiness checks, and what a second store of the same
 * data (another node: the same root, or the same bucket with a cache of its own)
 * sees of an artifact committed, large, missing or removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
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
    blob_store *other;           /* another node's view of the same artifacts */
} fixture;

static bool g_s3;                /* --s3: S3 storage against the stand-in */
static char g_prefix[64];        /* this run's objects, under S3_PREFIX */

static blob_store *open_store(const char *root, char *err, size_t errlen)
{
    if (!g_s3) return blob_fs_open(root, err, errlen);
    s3_settings s = {.endpoint_url = getenv("FAXBOT_TEST_S3_URL"), .bucket = "faxbot-test", .region = "us-east-1",
                     .prefix = g_prefix, .access_key_id = getenv("FAXBOT_TEST_S3_KEY"),
                     .secret_access_key = getenv("FAXBOT_TEST_S3_SECRET"),
                     .multipart_threshold = S3_MIN_PART_SIZE, .part_size = S3_MIN_PART_SIZE};
    return blob_s3_open(root, &s, err, errlen);
}

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
    f->b = open_store(root, err, sizeof err);
    if (!f->b) { fprintf(stderr, "%s\n", err); return -1; }
    /* the other node: on local storage the same root, on S3 a cache of its own */
    char other[300];
    snprintf(other, sizeof other, "%s/%s", f->dir, g_s3 ? "other-node" : "data");
    f->other = open_store(other, err, sizeof err);
    if (!f->other) { fprintf(stderr, "%s\n", err); return -1; }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    blob_close(f->b);
    blob_close(f->other);
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

static void put(fixture *f, const char *area, const char *name, const char *text, char *path, size_t pathlen)
{
    char err[512] = "";
    assert_int_equal(blob_path(f->b, area, ID, name, path, pathlen), 0);
    assert_int_equal(write_file_atomic(path, text, strlen(text)), 0);
    if (blob_commit(f->b, area, ID, name, err, sizeof err)) fail_msg("commit: %s", err);
}

static void test_another_node_reads_what_was_committed(void **state)
{
    fixture *f = *state;
    char a[PATH_MAX], b[PATH_MAX];
    put(f, "outbound", "document.pdf", "%PDF-1.4 committed", a, sizeof a);
    assert_int_equal(blob_fetch(f->b, "outbound", ID, "document.pdf"), 0);
    assert_int_equal(blob_fetch(f->other, "outbound", ID, "document.pdf"), 0);
    assert_int_equal(blob_path(f->other, "outbound", ID, "document.pdf", b, sizeof b), 0);
    size_t n = 0;
    char *got = NULL;
    assert_int_equal(read_file_all(b, &got, &n, 1 << 20), 0);
    assert_int_equal(n, strlen("%PDF-1.4 committed"));
    assert_memory_equal(got, "%PDF-1.4 committed", n);
    free(got);
    /* a file never committed is nobody else's */
    assert_int_equal(blob_fetch(f->other, "inbound", ID, "fax.pdf"), 1);
    assert_int_equal(blob_fetch(f->b, "inbound", ID, "fax.pdf"), 1);
    assert_int_equal(blob_fetch(f->b, "inbound", "..", "fax.pdf"), -1);
}

static void test_a_removed_artifact_is_gone_for_every_node(void **state)
{
    fixture *f = *state;
    char a[PATH_MAX];
    put(f, "inbound", "fax.tiff", "II*\0 tiff", a, sizeof a);
    put(f, "inbound", "fax.pdf", "%PDF inbound", a, sizeof a);
    assert_int_equal(blob_fetch(f->other, "inbound", ID, "fax.pdf"), 0);
    assert_int_equal(blob_remove_all(f->b, "inbound", ID), 0);
    assert_int_equal(blob_remove_all(f->other, "inbound", ID), 0);   /* its cache too */
    assert_int_equal(blob_fetch(f->b, "inbound", ID, "fax.pdf"), 1);
    assert_int_equal(blob_fetch(f->other, "inbound", ID, "fax.tiff"), 1);
}

static void test_a_large_artifact_comes_back_whole(void **state)
{
    fixture *f = *state;
    char a[PATH_MAX], b[PATH_MAX], err[512] = "", sa[65], sb[65];
    assert_int_equal(blob_path(f->b, "outbound", ID, "fax.tiff", a, sizeof a), 0);
    FILE *w = fopen(a, "wb");
    assert_non_null(w);
    size_t size = (size_t)S3_MIN_PART_SIZE + 4321;                   /* two parts on S3 */
    for (size_t i = 0; i < size; i++) fputc((int)((i * 2654435761u) >> 11) & 0xff, w);
    fclose(w);
    if (blob_commit(f->b, "outbound", ID, "fax.tiff", err, sizeof err)) fail_msg("commit: %s", err);
    assert_int_equal(blob_fetch(f->other, "outbound", ID, "fax.tiff"), 0);
    assert_int_equal(blob_path(f->other, "outbound", ID, "fax.tiff", b, sizeof b), 0);
    assert_int_equal(sha256_file_hex(a, sa), 0);
    assert_int_equal(sha256_file_hex(b, sb), 0);
    assert_string_equal(sa, sb);
    assert_int_equal(file_size(b), (long long)size);
    assert_int_equal(blob_remove_all(f->b, "outbound", ID), 0);
}

static void test_remote_check_and_presign(void **state)
{
    fixture *f = *state;
    char code[64] = "x", err[1024] = "", url[2048];
    assert_int_equal(blob_check_remote(f->b, 0, code, sizeof code, err, sizeof err), 0);
    assert_string_equal(code, "");
    assert_string_equal(blob_kind(f->b), g_s3 ? "s3" : "local");
    int rc = blob_presign(f->b, "outbound", ID, "document.pdf", "attempt", "1", 60, url, sizeof url);
    if (!g_s3) {
        assert_int_equal(rc, -1);                                     /* nothing to presign */
        return;
    }
    assert_int_equal(rc, 0);
    char want[512];
    snprintf(want, sizeof want, "%s/faxbot-test/%soutbound/" ID "/document.pdf?", getenv("FAXBOT_TEST_S3_URL"), g_prefix);
    if (strncmp(url, want, strlen(want))) fail_msg("url: %s", url);
    assert_non_null(strstr(url, "X-Amz-Signature="));
    assert_non_null(strstr(url, "attempt=1"));
    assert_null(strstr(url, getenv("FAXBOT_TEST_S3_SECRET")));
    assert_int_equal(blob_presign(f->b, "outbound", "nope", "document.pdf", NULL, NULL, 60, url, sizeof url), -1);
}

int main(int argc, char **argv)
{
    g_s3 = argc > 1 && !strcmp(argv[1], "--s3");
    if (g_s3 && !getenv("FAXBOT_TEST_S3_URL")) {
        fprintf(stderr, "--s3 needs the S3 stand-in: tests/peers/s3_peer.py run -- test_blob --s3\n");
        return 1;
    }
    char rnd[33];
    new_id_hex32(rnd);
    snprintf(g_prefix, sizeof g_prefix, "blob-%.8s/", rnd);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_path_is_absolute_and_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_rejects_unsafe_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmpdir_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_node_reads_what_was_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_removed_artifact_is_gone_for_every_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_large_artifact_comes_back_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_check_and_presign, setup, teardown),
        cmocka_unit_test(test_open_failures),
    };
    return cmocka_run_group_tests_name(g_s3 ? "blob_s3" : "blob_fs", tests, NULL, NULL);
}
