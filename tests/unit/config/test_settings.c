/* test_settings.c — the settings table and its seam: precedence default < file <
 * environment with the source of each value, checks against the rows, masking,
 * the settings file (atomic write with .bak, AES-256-GCM secrets, the name bound to
 * its ciphertext, line and column of a damaged file), and the .env export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/settings.h"
#include "util/util.h"

static const setting_def test_rows[] = {
    SETTING_ROW_SECRET("testbe", "TESTBE_SECRET", "nowhere", "a secret"),
    SETTING_ROW_INT("testbe", "TESTBE_PORT", "5038", 1, 65535, "nowhere", "a port"),
    SETTING_ROW_ENUM("testbe", "TESTBE_MODE", "audio", "audio|t38", "nowhere", "a choice"),
    SETTING_END,
};

static int setup(void **state)
{
    (void)state;
    settings_register(test_rows, -1);
    return 0;
}

static void precedence_and_source(void **state)
{
    (void)state;
    json_t *file = json_pack("{s:i,s:i,s:s}", "FAX_MAX_ATTEMPTS", 7, "MAX_FILE_SIZE_MB", 20, "FAX_HEADER", "file header");
    char *env[] = {"MAX_FILE_SIZE_MB=5", "FAX_HEADER=", NULL};
    char err[256];
    settings_snapshot *s = settings_build(file, env, err, sizeof err);
    assert_non_null(s);
    setting_source src;
    assert_string_equal(settings_value(s, "FAX_MAX_ATTEMPTS", &src), "7");
    assert_int_equal(src, SOURCE_FILE);
    assert_string_equal(settings_value(s, "MAX_FILE_SIZE_MB", &src), "5");
    assert_int_equal(src, SOURCE_ENV);
    /* an empty environment value is unset (Faxbot's .env files carry "NAME=" lines) */
    assert_string_equal(settings_value(s, "FAX_HEADER", &src), "file header");
    assert_int_equal(src, SOURCE_FILE);
    assert_string_equal(settings_value(s, "FAX_WORKERS", &src), "4");
    assert_int_equal(src, SOURCE_DEFAULT);
    assert_string_equal(settings_value(s, "TESTBE_PORT", &src), "5038");
    config c;
    assert_int_equal(config_load_snapshot(&c, s, err, sizeof err), 0);
    assert_int_equal(c.max_attempts, 7);
    assert_int_equal(c.max_file_size_bytes, 5 * 1024 * 1024);
    settings_snapshot_free(s);
    json_decref(file);
}

static void values_are_checked_against_their_rows(void **state)
{
    (void)state;
    char out[64], err[256];
    const setting_def *port = settings_find("testbe_port");   /* the API's lowercase key finds the row */
    assert_non_null(port);
    assert_int_equal(settings_check_value(port, "70000", out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "TESTBE_PORT"));
    assert_non_null(strstr(err, "1 to 65535"));
    assert_int_equal(settings_check_value(settings_find("TESTBE_MODE"), "T38", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "t38");
    assert_int_equal(settings_check_value(settings_find("TESTBE_MODE"), "fax", out, sizeof out, err, sizeof err), -1);
    assert_int_equal(settings_check_value(settings_find("REQUIRE_API_KEY"), "yes", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "true");
    assert_int_equal(settings_check_value(settings_find("FAX_HEADER"), "a\nb", out, sizeof out, err, sizeof err), -1);
    /* a secret's bad value is not echoed */
    assert_int_equal(settings_check_value(settings_find("TESTBE_SECRET"), "x\ny", out, sizeof out, err, sizeof err), -1);
    assert_null(strstr(err, "x\ny"));
    json_t *file = json_pack("{s:s}", "NO_SUCH_SETTING", "1");
    assert_null(settings_build(file, NULL, err, sizeof err));
    assert_non_null(strstr(err, "NO_SUCH_SETTING"));
    json_decref(file);
    file = json_pack("{s:s}", "FAXBOT_CONFIG_KEY", "x");
    assert_null(settings_build(file, NULL, err, sizeof err));
    assert_non_null(strstr(err, "only be set in the environment"));
    json_decref(file);
}

static void masking(void **state)
{
    (void)state;
    char m[64];
    settings_mask("abcdefgh1234", m, sizeof m);
    assert_string_equal(m, "********1234");
    settings_mask("abcd", m, sizeof m);
    assert_string_equal(m, "***");
    settings_mask("", m, sizeof m);
    assert_string_equal(m, "");
    settings_mask("a-very-long-secret-value-that-goes-on-WXYZ", m, sizeof m);
    assert_int_equal(strlen(m), 20);            /* the length is not shown beyond 16 stars */
    assert_string_equal(m + 16, "WXYZ");
}

static char *tmpdir_path(char *buf, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, len, "%s/settings-test-XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(buf));
    return buf;
}

static void file_encrypted_atomic_with_bak(void **state)
{
    (void)state;
    char dir[512], path[600], bak[640], err[512];
    tmpdir_path(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/config/faxbot.config.json", dir);
    snprintf(bak, sizeof bak, "%s.bak", path);
    unsigned char key[32];
    for (int i = 0; i < 32; i++) key[i] = (unsigned char)(i * 7 + 1);
    json_t *v1 = json_pack("{s:s,s:i}", "TESTBE_SECRET", "hunter2-secret-value", "TESTBE_PORT", 6000);
    assert_int_equal(settings_file_write(path, v1, key, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(read_file_all(path, &raw, &len, 1 << 20), 0);
    assert_null(strstr(raw, "hunter2"));
    assert_non_null(strstr(raw, "aes256gcm:"));
    assert_non_null(strstr(raw, "\"version\": 1"));
    free(raw);
    int plain = -1;
    json_t *back = settings_file_read(path, key, &plain, err, sizeof err);
    assert_non_null(back);
    assert_int_equal(plain, 0);
    assert_string_equal(json_string_value(json_object_get(back, "TESTBE_SECRET")), "hunter2-secret-value");
    assert_int_equal(json_integer_value(json_object_get(back, "TESTBE_PORT")), 6000);
    json_decref(back);
    /* the wrong key: refused, naming the setting */
    unsigned char other[32] = {0};
    assert_null(settings_file_read(path, other, &plain, err, sizeof err));
    assert_non_null(strstr(err, "TESTBE_SECRET"));
    /* no key for an encrypted value */
    assert_null(settings_file_read(path, NULL, &plain, err, sizeof err));
    assert_non_null(strstr(err, "FAXBOT_CONFIG_KEY"));
    /* the second write keeps the first as .bak; without a key the secret is plain */
    json_t *v2 = json_pack("{s:s}", "TESTBE_SECRET", "second-secret");
    assert_int_equal(settings_file_write(path, v2, NULL, err, sizeof err), 0);
    back = settings_file_read(path, NULL, &plain, err, sizeof err);
    assert_int_equal(plain, 1);
    assert_string_equal(json_string_value(json_object_get(back, "TESTBE_SECRET")), "second-secret");
    json_decref(back);
    back = settings_file_read(bak, key, &plain, err, sizeof err);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "TESTBE_SECRET")), "hunter2-secret-value");
    json_decref(back);
    json_decref(v1);
    json_decref(v2);
    remove_tree(dir);
}

static void ciphertext_is_bound_to_its_name(void **state)
{
    (void)state;
    char dir[512], path[600], err[512];
    tmpdir_path(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/f.json", dir);
    unsigned char key[32];
    memset(key, 3, sizeof key);
    json_t *v = json_pack("{s:s}", "TESTBE_SECRET", "moved-secret");
    assert_int_equal(settings_file_write(path, v, key, err, sizeof err), 0);
    json_t *doc = json_load_file(path, 0, NULL);
    const char *enc = json_string_value(json_object_get(json_object_get(doc, "settings"), "TESTBE_SECRET"));
    /* the same ciphertext under another secret's name does not decrypt */
    json_t *moved = json_pack("{s:i,s:{s:s}}", "version", 1, "settings", "SIP_PASSWORD", enc);
    assert_int_equal(json_dump_file(moved, path, 0), 0);
    int plain;
    assert_null(settings_file_read(path, key, &plain, err, sizeof err));
    assert_non_null(strstr(err, "SIP_PASSWORD"));
    json_decref(moved);
    json_decref(doc);
    json_decref(v);
    remove_tree(dir);
}

static void damaged_file_gives_line_and_column(void **state)
{
    (void)state;
    char dir[512], path[600], err[512];
    tmpdir_path(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/f.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"version\": 1,\n \"settings\": {\n  \"FAX_HEADER\": \"x\",,\n }\n}\n", f);
    fclose(f);
    int plain;
    assert_null(settings_file_read(path, NULL, &plain, err, sizeof err));
    assert_non_null(strstr(err, "line 3"));
    assert_non_null(strstr(err, "column"));
    f = fopen(path, "w");
    fputs("{\"settings\": {}}", f);
    fclose(f);
    assert_null(settings_file_read(path, NULL, &plain, err, sizeof err));
    assert_non_null(strstr(err, "version"));
    /* a missing file is an empty one */
    snprintf(path, sizeof path, "%s/none.json", dir);
    json_t *none = settings_file_read(path, NULL, &plain, err, sizeof err);
    assert_non_null(none);
    assert_int_equal(json_object_size(none), 0);
    json_decref(none);
    remove_tree(dir);
}

static void export_leaves_secrets_out(void **state)
{
    (void)state;
    json_t *file = json_pack("{s:s,s:s}", "TESTBE_SECRET", "exported-secret", "FAX_HEADER", "Acme Fax $1");
    char err[256];
    settings_snapshot *s = settings_build(file, NULL, err, sizeof err);
    assert_non_null(s);
    int omitted = 0;
    char *text = settings_export_env(s, false, &omitted);
    assert_int_equal(omitted, 1);
    assert_null(strstr(text, "exported-secret"));
    assert_non_null(strstr(text, "# TESTBE_SECRET="));
    assert_non_null(strstr(text, "FAX_HEADER=\"Acme Fax \\$1\"\n"));
    free(text);
    text = settings_export_env(s, true, &omitted);
    assert_non_null(strstr(text, "TESTBE_SECRET=exported-secret\n"));
    free(text);
    settings_snapshot_free(s);
    json_decref(file);
}

static void the_seam_reads_the_current_snapshot(void **state)
{
    (void)state;
    json_t *file = json_pack("{s:i}", "TESTBE_PORT", 7000);
    char err[256];
    settings_snapshot *s = settings_build(file, NULL, err, sizeof err);
    settings_set_current(s);
    long port = 0;
    assert_int_equal(setting_int("TESTBE_PORT", &port, err, sizeof err), 0);
    assert_int_equal(port, 7000);
    /* a candidate tried on this thread only */
    json_t *cand = json_pack("{s:i}", "TESTBE_PORT", 7001);
    settings_snapshot *c = settings_build(cand, NULL, err, sizeof err);
    settings_override_thread(c);
    assert_int_equal(setting_int("TESTBE_PORT", &port, err, sizeof err), 0);
    assert_int_equal(port, 7001);
    settings_override_thread(NULL);
    assert_int_equal(setting_int("TESTBE_PORT", &port, err, sizeof err), 0);
    assert_int_equal(port, 7000);
    settings_snapshot_free(c);
    /* a name that is not a row is a bug, said as such */
    char buf[16];
    assert_int_equal(setting_str("NOT_A_ROW", buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "not in the settings table"));
    json_decref(cand);
    json_decref(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precedence_and_source),
        cmocka_unit_test(values_are_checked_against_their_rows),
        cmocka_unit_test(masking),
        cmocka_unit_test(file_encrypted_atomic_with_bak),
        cmocka_unit_test(ciphertext_is_bound_to_its_name),
        cmocka_unit_test(damaged_file_gives_line_and_column),
        cmocka_unit_test(export_leaves_secrets_out),
        cmocka_unit_test(the_seam_reads_the_current_snapshot),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    settings_shutdown();
    return rc;
}
