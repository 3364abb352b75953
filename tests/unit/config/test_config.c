/* test_config.c — configuration from the environment: defaults, Faxbot's names,
 * and a clear error naming the variable for every bad value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static void defaults(void **state)
{
    (void)state;
    char *env[] = {NULL};
    config c;
    char err[256];
    assert_int_equal(config_load_from(&c, env, err, sizeof err), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.data_dir, "./faxdata");
    assert_string_equal(c.database_path, "./faxdata/faxbot.db");
    assert_string_equal(c.backend, "loopback");
    assert_true(c.inbound_enabled);
    assert_int_equal(c.max_file_size_bytes, 10 * 1024 * 1024);
    assert_int_equal(c.pdf_token_ttl_minutes, 60);
    assert_int_equal(c.max_requests_per_minute, 0);
    assert_false(c.require_api_key);
    assert_int_equal(c.inbound_retention_minutes, 30 * 24 * 60);
    assert_int_equal(c.artifact_ttl_minutes, 0);
    assert_false(c.convert_page_errors_warn);
    assert_int_equal(c.convert_per_owner, 2);
    assert_string_equal(c.inbound_owners, "");
}

static void conversion_and_owner_settings(void **state)
{
    (void)state;
    char *env[] = {"CONVERT_ON_PAGE_ERROR=warn", "CONVERT_PER_OWNER=1",
                   "INBOUND_OWNERS=+15551230001=acme,+442079460958=billing.uk", NULL};
    config c;
    char err[256];
    assert_int_equal(config_load_from(&c, env, err, sizeof err), 0);
    assert_true(c.convert_page_errors_warn);
    assert_int_equal(c.convert_per_owner, 1);
    assert_string_equal(c.inbound_owners, "+15551230001=acme,+442079460958=billing.uk");
}

static void faxbot_env_file_values(void **state)
{
    (void)state;
    char *env[] = {"FAX_DATA_DIR=/srv/fax", "API_KEY=abc", "REQUIRE_API_KEY=true", "MAX_FILE_SIZE_MB=2",
                   "DATABASE_URL=sqlite:////var/lib/fax.db", "FAXBOT_LISTEN=[::1]:9000", "FAX_BACKEND=LOOPBACK",
                   "PUBLIC_API_URL=https://fax.example.test/", "SINCH_API_KEY=", "INBOUND_ENABLED=false", NULL};
    config c;
    char err[256];
    assert_int_equal(config_load_from(&c, env, err, sizeof err), 0);
    assert_string_equal(c.data_dir, "/srv/fax");
    assert_string_equal(c.database_path, "/var/lib/fax.db");
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.backend, "loopback");
    assert_string_equal(c.public_api_url, "https://fax.example.test");
    assert_int_equal(c.max_file_size_bytes, 2 * 1024 * 1024);
    assert_true(c.require_api_key);
    assert_false(c.inbound_enabled);
}

/* A PostgreSQL URL is kept whole: sslmode and the rest are libpq's to honour. */
static void postgresql_url_kept_whole(void **state)
{
    (void)state;
    const char *urls[] = {"postgresql://fax:s3cret@db.example.test:5433/fax?sslmode=verify-full&sslrootcert=/etc/ca.pem",
                          "postgres://fax@db/fax?sslmode=require", NULL};
    for (int i = 0; urls[i]; i++) {
        char var[256];
        snprintf(var, sizeof var, "DATABASE_URL=%s", urls[i]);
        char *env[] = {var, "FAXBOT_NODE_ID=node-a", NULL};
        config c;
        char err[256];
        assert_int_equal(config_load_from(&c, env, err, sizeof err), 0);
        assert_string_equal(c.database_path, urls[i]);
        assert_string_equal(c.node_id, "node-a");
    }
}

static void bad(const char *var, const char *expect_in_msg)
{
    char *env[] = {(char *)var, NULL};
    config c;
    char err[256] = "";
    assert_int_equal(config_load_from(&c, env, err, sizeof err), -1);
    if (!strstr(err, expect_in_msg)) fail_msg("'%s': message '%s' lacks '%s'", var, err, expect_in_msg);
}

static void bad_values_are_named(void **state)
{
    (void)state;
    bad("MAX_FILE_SIZE_MB=ten", "MAX_FILE_SIZE_MB");
    bad("MAX_FILE_SIZE_MB=0", "MAX_FILE_SIZE_MB");
    bad("REQUIRE_API_KEY=maybe", "REQUIRE_API_KEY");
    bad("FAXBOT_LISTEN=8080", "listen address");
    bad("FAXBOT_LISTEN=host:99999", "listen address");
    bad("DATABASE_URL=mysql://u@h/db", "DATABASE_URL");
    bad("PUBLIC_API_URL=ftp://x", "PUBLIC_API_URL");
    bad("FAX_DEFAULT_RESOLUTION=ultra", "FAX_DEFAULT_RESOLUTION");
    bad("FAX_PAPER_SIZE=legal", "FAX_PAPER_SIZE");
    bad("FAX_BACKEND=../x", "FAX_BACKEND");
    bad("FAX_DEFAULT_COUNTRY_CODE=+1", "FAX_DEFAULT_COUNTRY_CODE");
    bad("FAX_LOCAL_STATION_ID=123456789012345678901", "FAX_LOCAL_STATION_ID");
    bad("STORAGE_BACKEND=s3", "STORAGE_BACKEND");
    bad("PDF_TOKEN_TTL_MINUTES=-5", "PDF_TOKEN_TTL_MINUTES");
    bad("CONVERT_ON_PAGE_ERROR=ignore", "CONVERT_ON_PAGE_ERROR");
    bad("CONVERT_PER_OWNER=0", "CONVERT_PER_OWNER");
    bad("INBOUND_OWNERS=15551230001=acme", "INBOUND_OWNERS");            /* no + */
    bad("INBOUND_OWNERS=+15551230001=", "INBOUND_OWNERS");               /* no owner */
    bad("INBOUND_OWNERS=+15551230001=a b", "INBOUND_OWNERS");            /* a space in the owner */
    bad("INBOUND_OWNERS=+1234567890123456=x", "INBOUND_OWNERS");         /* 16 digits */
    bad("INBOUND_OWNERS=+15551230001=acme,,", "INBOUND_OWNERS");         /* an empty entry */
    bad("WEBHOOK_ALLOW_PRIVATE=yesplease", "WEBHOOK_ALLOW_PRIVATE");
    bad("WEBHOOK_TIMEOUT_SECONDS=0", "WEBHOOK_TIMEOUT_SECONDS");
    bad("WEBHOOK_SECRET=short", "WEBHOOK_SECRET");
    bad("SSE_MAX_STREAMS=1000", "FAXBOT_MAX_CONNECTIONS");     /* the default connection cap is 1000 */
    bad("SSE_HEARTBEAT_SECONDS=0", "SSE_HEARTBEAT_SECONDS");
}

static void event_settings(void **state)
{
    (void)state;
    char *none[] = {NULL};
    config c;
    char err[256];
    assert_int_equal(config_load_from(&c, none, err, sizeof err), 0);
    assert_false(c.webhook_allow_private);
    assert_int_equal(c.webhook_timeout_s, 10);
    assert_int_equal(c.webhook_retry_hours, 25);
    assert_int_equal(c.sse_max_streams, c.max_connections / 2);
    char *env[] = {"FAXBOT_MAX_CONNECTIONS=3000", "SSE_MAX_STREAMS=2000", "WEBHOOK_ALLOW_PRIVATE=true",
                   "WEBHOOK_RETRY_BASE_SECONDS=1", NULL};
    assert_int_equal(config_load_from(&c, env, err, sizeof err), 0);
    assert_int_equal(c.sse_max_streams, 2000);
    assert_true(c.webhook_allow_private);
    assert_int_equal(c.webhook_retry_base_s, 1);
}

static void minute_overrides(void **state)
{
    (void)state;
    char *env[] = {"INBOUND_RETENTION_DAYS=2", "ARTIFACT_TTL_DAYS=1", "ARTIFACT_TTL_MINUTES=5", NULL};
    config c;
    char err[256];
    assert_int_equal(config_load_from(&c, env, err, sizeof err), 0);
    assert_int_equal(c.inbound_retention_minutes, 2 * 24 * 60);
    assert_int_equal(c.artifact_ttl_minutes, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(faxbot_env_file_values),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(postgresql_url_kept_whole),
        cmocka_unit_test(minute_overrides),
        cmocka_unit_test(event_settings),
        cmocka_unit_test(conversion_and_owner_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
