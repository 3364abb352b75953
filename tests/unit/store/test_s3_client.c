/* test_s3_client.c — the S3 client (src/blob/s3_client.c) against tests/peers/s3_peer.py,
 * a stand-in that verifies every request's Signature V4 and body checksum as S3 does
 * (run through `s3_peer.py run --`, which passes its URL and credentials): a 1 MiB
 * file and an awkward key go up and come back byte for byte, a missing object is
 * NOT_FOUND, a delete removes, a wrong secret or key is refused by the server; a
 * file over the multipart threshold goes up in parts (its ETag "<md5 of MD5s>-N"),
 * one under it in one PUT; the bucket probe passes with good credentials and names
 * S3's error code (SignatureDoesNotMatch, AccessDenied, NoSuchBucket) otherwise. */
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

#include <openssl/evp.h>

#include "blob/s3_client.h"
#include "util/util.h"

static char g_dir[64];

static s3_settings settings(const char *secret)
{
    s3_settings s = {.multipart_threshold = 64LL << 20,.endpoint_url = getenv("FAXBOT_TEST_S3_URL"), .bucket = "faxbot-test", .region = "us-east-1",
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

/* The multipart ETag of a file cut into parts of part bytes: md5(md5(p1)..md5(pN))-N. */
static void multipart_etag(const char *path, long long part, char *out, size_t outlen)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    EVP_MD_CTX *all = EVP_MD_CTX_new();
    EVP_DigestInit_ex(all, EVP_md5(), NULL);
    static unsigned char buf[8 << 20];
    int n = 0;
    size_t got;
    while ((got = fread(buf, 1, (size_t)part, f)) > 0) {
        unsigned char d[16];
        unsigned int l;
        EVP_Digest(buf, got, d, &l, EVP_md5(), NULL);
        EVP_DigestUpdate(all, d, 16);
        n++;
    }
    fclose(f);
    unsigned char d[16];
    unsigned int l;
    EVP_DigestFinal_ex(all, d, &l);
    EVP_MD_CTX_free(all);
    char hex[33];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    snprintf(out, outlen, "\"%s-%d\"", hex, n);
}

static void large_files_go_up_in_parts(void **state)
{
    (void)state;
    char err[512] = "", src[128], back[128], sa[65], sb[65], etag[96], want[96];
    s3_settings s = settings(NULL);
    s.kms_key_id = "";                               /* ETags are MD5s only without SSE-KMS */
    s.multipart_threshold = S3_MIN_PART_SIZE;
    s.part_size = S3_MIN_PART_SIZE;
    s3_client *c = s3_open(&s, err, sizeof err);
    assert_non_null(c);
    snprintf(src, sizeof src, "%s/big.bin", g_dir);
    snprintf(back, sizeof back, "%s/big.back", g_dir);
    long long size = 2 * S3_MIN_PART_SIZE + 12345;   /* three parts, the last a short one */
    write_file(src, (size_t)size, 11);
    if (s3_put_file(c, "big/object", src, err, sizeof err) != S3_OK) fail_msg("put: %s", err);
    long long got = 0;
    assert_int_equal(s3_stat(c, "big/object", &got, etag, sizeof etag, err, sizeof err), S3_OK);
    assert_int_equal(got, size);
    multipart_etag(src, S3_MIN_PART_SIZE, want, sizeof want);
    assert_string_equal(etag, want);                 /* "<md5 of the three MD5s>-3": went up in 3 parts */
    assert_int_equal(s3_get_file(c, "big/object", back, err, sizeof err), S3_OK);
    assert_int_equal(sha256_file_hex(src, sa), 0);
    assert_int_equal(sha256_file_hex(back, sb), 0);
    assert_string_equal(sa, sb);
    /* under the threshold: one PUT, the ETag a plain MD5 */
    write_file(src, (size_t)(S3_MIN_PART_SIZE - 1), 12);
    if (s3_put_file(c, "small/object", src, err, sizeof err) != S3_OK) fail_msg("put: %s", err);
    assert_int_equal(s3_stat(c, "small/object", &got, etag, sizeof etag, err, sizeof err), S3_OK);
    assert_int_equal(got, S3_MIN_PART_SIZE - 1);
    assert_null(strchr(etag, '-'));
    assert_int_equal(strlen(etag), 34);
    assert_int_equal(s3_stat(c, "never/was", &got, etag, sizeof etag, err, sizeof err), S3_NOT_FOUND);
    /* with SSE-KMS too (the ETags are then opaque: S3's own checks apply) */
    s3_close(c);
    s = settings(NULL);
    s.multipart_threshold = S3_MIN_PART_SIZE;
    c = s3_open(&s, err, sizeof err);
    write_file(src, (size_t)size, 13);
    if (s3_put_file(c, "big/kms", src, err, sizeof err) != S3_OK) fail_msg("put kms: %s", err);
    unlink(back);
    assert_int_equal(s3_get_file(c, "big/kms", back, err, sizeof err), S3_OK);
    assert_int_equal(sha256_file_hex(src, sa), 0);
    assert_int_equal(sha256_file_hex(back, sb), 0);
    assert_string_equal(sa, sb);
    s3_delete(c, "big/object", err, sizeof err);
    s3_delete(c, "big/kms", err, sizeof err);
    s3_delete(c, "small/object", err, sizeof err);
    s3_close(c);
    unlink(src);
    unlink(back);
}

static void the_probe_names_s3s_error(void **state)
{
    (void)state;
    char err[1024] = "", code[64];
    s3_settings s = settings(NULL);
    s3_client *c = s3_open(&s, err, sizeof err);
    if (s3_probe(c, code, sizeof code, err, sizeof err)) fail_msg("probe: %s", err);
    s3_close(c);
    struct { const char *bucket, *key, *secret, *code, *step, *advice; } bad[] = {
        {"faxbot-test", NULL, "not-the-secret", "SignatureDoesNotMatch", "write to", "AWS_SECRET_ACCESS_KEY"},
        {"no-such-bucket", NULL, NULL, "NoSuchBucket", "write to", "S3_BUCKET"},
        {"faxbot-test", getenv("FAXBOT_TEST_S3_RO_KEY"), getenv("FAXBOT_TEST_S3_RO_SECRET"), "AccessDenied", "write to",
         "s3:PutObject"},
        {"faxbot-test", "AKIDNOBODY", NULL, "InvalidAccessKeyId", "write to", "AWS_ACCESS_KEY_ID"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s = settings(bad[i].secret);
        s.bucket = bad[i].bucket;
        if (bad[i].key) s.access_key_id = bad[i].key;
        c = s3_open(&s, err, sizeof err);
        assert_non_null(c);
        err[0] = 0;
        assert_int_equal(s3_probe(c, code, sizeof code, err, sizeof err), -1);
        assert_string_equal(code, bad[i].code);
        if (!strstr(err, bad[i].code) || !strstr(err, bad[i].bucket) || !strstr(err, getenv("FAXBOT_TEST_S3_URL")) ||
            !strstr(err, bad[i].step) || !strstr(err, bad[i].advice))
            fail_msg("probe message: %s", err);
        assert_null(strstr(err, "not-the-secret"));
        s3_close(c);
    }
    /* nothing listens: no S3 code, the endpoint named */
    s = settings(NULL);
    s.endpoint_url = "http://127.0.0.1:9";
    c = s3_open(&s, err, sizeof err);
    assert_int_equal(s3_probe(c, code, sizeof code, err, sizeof err), -1);
    assert_string_equal(code, "");
    if (!strstr(err, "127.0.0.1:9") || !strstr(err, "S3_ENDPOINT_URL")) fail_msg("probe message: %s", err);
    s3_close(c);
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
        cmocka_unit_test(large_files_go_up_in_parts),
        cmocka_unit_test(the_probe_names_s3s_error),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove_tree(g_dir);
    return rc;
}
