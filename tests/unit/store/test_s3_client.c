/* test_s3_client.c — the S3 client (src/blob/s3_client.c) against tests/peers/s3_peer.py,
 * a stand-in that verifies every request's Signature V4 and body checksum as S3 does
 * (run through `s3_peer.py run --`, which passes its URL and credentials): a 1 MiB
 * file and an awkward key go up and come back byte for byte, a missing object is
 * NOT_FOUND, a delete removes, a wrong secret or key is refused by the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/s3_client.h"
#include "util/util.h"

static char g_dir[64];

static s3_settings settings(const char *secret)
{
    s3_settings s = {.endpoint_url = getenv("FAXBOT_TEST_S3_URL"), .bucket = "faxbot-test", .region = "us-east-1",
                     .prefix = "unit/", .access_key_id = getenv("FAXBOT_TEST_S3_KEY"),
                     .secret_access_key = secret ? secret : getenv("FAXBOT_TEST_S3_SECRET"), .kms_key_id = "alias/fax"};
    return s;
}

static void write_file(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) fputc((int)((i * 2654435761u + seed) >> 13) & 0xff, f);
    fclose(f);
}

/* Temp files (*.part-*) left in dir. */
static int count_parts(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".part-")) n++;
    if (d) closedir(d);
    return n;
}

static void put_get_delete_round_trip(void **state)
{
    (void)state;
    char err[512] = "";
    s3_settings s = settings(NULL);
    s3_client *c = s3_open(&s, err, sizeof err);
    assert_non_null(c);
    char src[128], back[128], sa[65], sb[65];
    snprintf(src, sizeof src, "%s/src.bin", g_dir);
    snprintf(back, sizeof back, "%s/back.bin", g_dir);
    write_file(src, 1 << 20, 7);
    const char *keys[] = {"outbound/0123456789abcdef0123456789abcdef/fax.tiff", "odd key/with spaces+$&=.pdf"};
    for (int i = 0; i < 2; i++) {
        if (s3_put_file(c, keys[i], src, err, sizeof err) != S3_OK) fail_msg("put: %s", err);
        unlink(back);
        assert_int_equal(s3_get_file(c, keys[i], back, err, sizeof err), S3_OK);
        assert_int_equal(sha256_file_hex(src, sa), 0);
        assert_int_equal(sha256_file_hex(back, sb), 0);
        assert_string_equal(sa, sb);
        assert_int_equal(s3_delete(c, keys[i], err, sizeof err), S3_OK);
        unlink(back);
        assert_int_equal(s3_get_file(c, keys[i], back, err, sizeof err), S3_NOT_FOUND);
        assert_int_equal(access(back, F_OK), -1);                 /* nothing half-written left */
        assert_int_equal(count_parts(g_dir), 0);
    }
    assert_int_equal(s3_delete(c, "never/was", err, sizeof err), S3_OK);
    s3_close(c);
}

static void wrong_credentials_are_refused(void **state)
{
    (void)state;
    char err[512] = "", src[128];
    snprintf(src, sizeof src, "%s/small.bin", g_dir);
    write_file(src, 100, 3);
    s3_settings s = settings("not-the-secret");
    s3_client *c = s3_open(&s, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(s3_put_file(c, "x", src, err, sizeof err), S3_ERROR);
    if (!strstr(err, "403")) fail_msg("err: %s", err);
    assert_non_null(strstr(err, "SignatureDoesNotMatch"));
    assert_null(strstr(err, "not-the-secret"));                    /* never in an error text */
    s3_close(c);
    s = settings(NULL);
    s.access_key_id = "AKIDNOBODY";
    c = s3_open(&s, err, sizeof err);
    assert_int_equal(s3_put_file(c, "x", src, err, sizeof err), S3_ERROR);
    assert_non_null(strstr(err, "InvalidAccessKeyId"));
    s3_close(c);
    s = settings(NULL);
    s.secret_access_key = "";
    assert_null(s3_open(&s, err, sizeof err));
    assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
}

int main(void)
{
    if (!getenv("FAXBOT_TEST_S3_URL")) {
        fprintf(stderr, "needs the S3 stand-in: tests/peers/s3_peer.py run -- %s\n", "test_s3_client");
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/faxbot-s3-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_delete_round_trip),
        cmocka_unit_test(wrong_credentials_are_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove_tree(g_dir);
    return rc;
}
