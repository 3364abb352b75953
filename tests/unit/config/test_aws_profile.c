/* test_aws_profile.c — AWS credentials from the shared files as the AWS CLI reads
 * them: [name] sections of the credentials file, [default] / [profile name] of the
 * config file (the credentials file first), comments, case and spaces, the session
 * token, a profile without its secret, missing files, and no values in messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/aws_profile.h"
#include "util/util.h"

static char g_dir[64], g_cred[128], g_conf[128];

static void write_text(const char *path, const char *text)
{
    assert_int_equal(write_file_atomic(path, text, strlen(text)), 0);
}

static void profiles_of_the_credentials_file(void **state)
{
    (void)state;
    write_text(g_cred, "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key=sDefault\n\n"
                       "  [ Work ]  \n; another comment\n  AWS_Access_Key_Id   =   AKIDWORK  \n"
                       "aws_secret_access_key = s/Work+1=\naws_session_token = tok==\nregion = eu-west-1\n");
    aws_keys k;
    char err[512] = "";
    assert_int_equal(aws_profile_keys(g_cred, NULL, NULL, &k, err, sizeof err), 0);
    assert_string_equal(k.access_key_id, "AKIDDEFAULT");
    assert_string_equal(k.secret_access_key, "sDefault");
    assert_string_equal(k.session_token, "");
    assert_non_null(strstr(k.source, "profile 'default' of "));
    assert_int_equal(aws_profile_keys(g_cred, NULL, "work", &k, err, sizeof err), 0);
    assert_string_equal(k.access_key_id, "AKIDWORK");
    assert_string_equal(k.secret_access_key, "s/Work+1=");              /* '=' inside a value kept */
    assert_string_equal(k.session_token, "tok==");
    assert_null(strstr(k.source, "s/Work"));
}

static void the_config_file_after_the_credentials_file(void **state)
{
    (void)state;
    write_text(g_cred, "[default]\naws_access_key_id = AKIDCRED\naws_secret_access_key = sCred\n");
    write_text(g_conf, "[default]\naws_access_key_id = AKIDCONFDEFAULT\naws_secret_access_key = x\n"
                       "[ops]\naws_access_key_id = AKIDNOTAPROFILE\naws_secret_access_key = x\n"
                       "[profile ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = sOps\n");
    aws_keys k;
    char err[512] = "";
    assert_int_equal(aws_profile_keys(g_cred, g_conf, "default", &k, err, sizeof err), 0);
    assert_string_equal(k.access_key_id, "AKIDCRED");                  /* the credentials file wins */
    assert_int_equal(aws_profile_keys(g_cred, g_conf, "ops", &k, err, sizeof err), 0);
    assert_string_equal(k.access_key_id, "AKIDOPS");                   /* "[profile ops]", not "[ops]" */
    assert_non_null(strstr(k.source, "profile 'ops' of "));
    assert_non_null(strstr(k.source, g_conf));
    assert_int_equal(aws_profile_keys(NULL, g_conf, NULL, &k, err, sizeof err), 0);
    assert_string_equal(k.access_key_id, "AKIDCONFDEFAULT");
}

static void missing_and_half_profiles(void **state)
{
    (void)state;
    write_text(g_cred, "[half]\naws_access_key_id = AKIDHALF\n[empty]\n");
    aws_keys k;
    char err[512] = "";
    assert_int_equal(aws_profile_keys(g_cred, g_conf, "nobody", &k, err, sizeof err), 1);
    assert_non_null(strstr(err, "no credentials for profile 'nobody'"));
    assert_non_null(strstr(err, g_cred));
    assert_int_equal(aws_profile_keys(g_cred, NULL, "empty", &k, err, sizeof err), 1);
    err[0] = 0;
    assert_int_equal(aws_profile_keys(g_cred, NULL, "half", &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "no aws_secret_access_key"));
    char nofile[160];
    snprintf(nofile, sizeof nofile, "%s/none", g_dir);
    assert_int_equal(aws_profile_keys(nofile, nofile, NULL, &k, err, sizeof err), 1);
    assert_int_equal(aws_profile_keys(NULL, NULL, NULL, &k, err, sizeof err), 1);
    /* a directory where the file should be is an error, not "none" */
    assert_int_equal(aws_profile_keys(g_dir, NULL, NULL, &k, err, sizeof err) != 0, 1);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/faxbot-aws-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    snprintf(g_cred, sizeof g_cred, "%s/credentials", g_dir);
    snprintf(g_conf, sizeof g_conf, "%s/config", g_dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profiles_of_the_credentials_file),
        cmocka_unit_test(the_config_file_after_the_credentials_file),
        cmocka_unit_test(missing_and_half_profiles),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove_tree(g_dir);
    return rc;
}
