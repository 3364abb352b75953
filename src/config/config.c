/* config.c — reads the environment (Faxbot's variable names) into struct config.
 * Every value is checked here so that the rest of the gateway can trust it; a bad
 * value stops the start with a message naming the variable and what is valid. */
#include "config/config.h"
#include "blob/s3_client.h"
#include "config/aws_profile.h"
#include "config/settings.h"
#include "util/cidr.h"
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The settings snapshot the struct is filled from: values already checked
 * against their rows (type, range, choices) and defaulted; the checks below are
 * the ones a row cannot express. */
typedef struct env_view { const settings_snapshot *snap; } env_view;

/* The effective value, or NULL when it is empty (the row's default is "" too). */
static const char *env_str(const env_view *ev, const char *name)
{
    const char *v = settings_value(ev->snap, name, NULL);
    return (v && *v) ? v : NULL;
}

static int env_bool(const env_view *ev, const char *name, bool *out, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    const char *v = env_str(ev, name);
    *out = v && !strcmp(v, "true");
    return 0;
}

static int env_int(const env_view *ev, const char *name, long *out, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    const char *v = env_str(ev, name);
    *out = v ? strtol(v, NULL, 10) : 0;
    return 0;
}

/* INBOUND_OWNERS: comma-separated "+<E.164 digits>=<owner>" pairs; an owner is
 * what a key's `owner` is set to (letters, digits and . _ : @ -). */
static int check_inbound_owners(const char *v, char *err, size_t errlen)
{
    const char *p = v;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t digits = 0, owner_len = eq ? len - (size_t)(eq - p) - 1 : 0;
        bool ok = eq && p[0] == '+' && owner_len > 0 && owner_len < 128;
        for (const char *d = p + 1; ok && d < eq; d++, digits++) ok = isdigit((unsigned char)*d);
        ok = ok && digits >= 6 && digits <= 15;
        for (const char *o = eq ? eq + 1 : p; ok && o < p + len; o++)
            ok = isalnum((unsigned char)*o) || strchr("._:@-", *o);
        if (!ok) {
            str_fmt(err, errlen, "INBOUND_OWNERS must be comma-separated +NUMBER=OWNER pairs like "
                    "+15551230001=acme (bad entry '%.*s')", (int)(len > 80 ? 80 : len), p);
            return -1;
        }
        p += len + (end ? 1 : 0);
    }
    return 0;
}

static int env_copy(const env_view *ev, const char *name, char *dst, size_t dstlen, char *err, size_t errlen)
{
    const char *v = env_str(ev, name);
    if (str_copy(dst, dstlen, v ? v : "")) {
        str_fmt(err, errlen, "%s is too long (at most %zu characters)", name, dstlen - 1);
        return -1;
    }
    return 0;
}

/* S3's keys: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) when set;
 * else profile AWS_PROFILE of AWS_SHARED_CREDENTIALS_FILE, then of AWS_CONFIG_FILE
 * (defaults ~/.aws/credentials and ~/.aws/config). */
static int s3_credentials(const env_view *ev, config *c, char *err, size_t errlen)
{
    if (c->aws_access_key_id[0]) {
        if (!c->aws_secret_access_key[0]) {
            str_fmt(err, errlen, "STORAGE_BACKEND=s3: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
            return -1;
        }
        str_copy(c->aws_credentials_source, sizeof c->aws_credentials_source, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
        return 0;
    }
    const char *home = settings_os_env("HOME");
    char cred_file[512] = "", conf_file[512] = "";
    const char *cf = env_str(ev, "AWS_SHARED_CREDENTIALS_FILE"), *kf = env_str(ev, "AWS_CONFIG_FILE");
    if (cf) str_copy(cred_file, sizeof cred_file, cf);
    else if (home && *home) str_fmt(cred_file, sizeof cred_file, "%s/.aws/credentials", home);
    if (kf) str_copy(conf_file, sizeof conf_file, kf);
    else if (home && *home) str_fmt(conf_file, sizeof conf_file, "%s/.aws/config", home);
    aws_keys k;
    char why[1200] = "";
    int rc = aws_profile_keys(cred_file, conf_file, env_str(ev, "AWS_PROFILE"), &k, why, sizeof why);
    if (rc) {
        str_fmt(err, errlen, "STORAGE_BACKEND=s3 needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                             "or a profile in the shared files (%s)", why);
        memset(&k, 0, sizeof k);
        return -1;
    }
    str_copy(c->aws_access_key_id, sizeof c->aws_access_key_id, k.access_key_id);
    str_copy(c->aws_secret_access_key, sizeof c->aws_secret_access_key, k.secret_access_key);
    str_copy(c->aws_session_token, sizeof c->aws_session_token, k.session_token);
    str_copy(c->aws_credentials_source, sizeof c->aws_credentials_source, k.source);
    memset(&k, 0, sizeof k);
    return 0;
}

int config_set_listen(config *cfg, const char *hostport, char *err, size_t errlen)
{
    char host[256];
    const char *port_s;
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (!close || close[1] != ':') goto bad;
        size_t n = (size_t)(close - hostport - 1);
        if (n == 0 || n >= sizeof host) goto bad;
        memcpy(host, hostport + 1, n);
        host[n] = 0;
        port_s = close + 2;
    } else {
        const char *colon = strrchr(hostport, ':');
        if (!colon) goto bad;
        size_t n = (size_t)(colon - hostport);
        if (n == 0 || n >= sizeof host || memchr(hostport, ':', n)) goto bad;
        memcpy(host, hostport, n);
        host[n] = 0;
        port_s = colon + 1;
    }
    char *end = NULL;
    long port = strtol(port_s, &end, 10);
    if (!*port_s || *end || port < 0 || port > 65535) goto bad;
    str_copy(cfg->listen_host, sizeof cfg->listen_host, host);
    cfg->listen_port = (int)port;
    return 0;
bad:
    str_fmt(err, errlen, "listen address must look like 127.0.0.1:8080 or [::1]:8080 (got '%s')", hostport);
    return -1;
}

static bool valid_backend_name(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-')) return false;
    return *s != 0;
}

/* FAX_BACKEND unset: Faxbot defaulted to phaxio, so a migrated .env may rely on a
 * default. The credentials that are set in the environment (a .env: values saved in
 * the settings file by the console or `faxbot config` never choose a backend on their
 * own) say which provider the operator means; more than one is ambiguous and refused,
 * none means the loopback test engine. */
static const struct { const char *backend; const char *vars[2]; } provider_signals[] = {
    {"phaxio", {"PHAXIO_API_KEY", "PHAXIO_API_SECRET"}},
    {"sinch", {"SINCH_PROJECT_ID", NULL}},
    {"signalwire", {"SIGNALWIRE_PROJECT_ID", "SIGNALWIRE_API_TOKEN"}},
    {"sip", {"ASTERISK_AMI_PASSWORD", NULL}},
    {"freeswitch", {"FREESWITCH_ESL_PASSWORD", NULL}},
};

static bool from_environment(const env_view *ev, const char *name)
{
    setting_source src = SOURCE_DEFAULT;
    const char *v = settings_value(ev->snap, name, &src);
    return v && *v && src == SOURCE_ENV;
}

static int infer_backend(const env_view *ev, config *c, char *err, size_t errlen)
{
    char found[512] = "";
    int n = 0;
    for (size_t i = 0; i < sizeof provider_signals / sizeof provider_signals[0]; i++) {
        const char *const *v = provider_signals[i].vars;
        if (!from_environment(ev, v[0]) || (v[1] && !from_environment(ev, v[1]))) continue;
        size_t used = strlen(found);
        str_fmt(found + used, sizeof found - used, "%s%s (%s%s%s)", n ? ", " : "", provider_signals[i].backend, v[0],
                v[1] ? " and " : "", v[1] ? v[1] : "");
        if (n++ == 0) str_copy(c->backend, sizeof c->backend, provider_signals[i].backend);
    }
    if (n > 1) {
        str_fmt(err, errlen, "FAX_BACKEND is not set and the credentials of several providers are: %s. Set "
                "FAX_BACKEND to the one that should send faxes", found);
        return -1;
    }
    if (n == 1) {
        str_fmt(c->backend_origin, sizeof c->backend_origin, "FAX_BACKEND is not set; using %s because only its "
                "credentials are configured: %s", c->backend, found);
        return 0;
    }
    str_copy(c->backend, sizeof c->backend, "loopback");
    c->backend_defaulted = true;
    str_copy(c->backend_origin, sizeof c->backend_origin,
             "FAX_BACKEND is not set and no provider credentials are: using the built-in loopback test engine. "
             "Faxes are delivered to the built-in test receiver and NEVER leave this machine; set FAX_BACKEND "
             "(phaxio, sinch, signalwire, sip, freeswitch) to send real faxes");
    return 0;
}

static int load_view(config *c, const env_view *evp, char *err, size_t errlen)
{
    const env_view ev = *evp;
    long x;
    memset(c, 0, sizeof *c);

    /* server */
    str_copy(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->listen_port = 8080;
    const char *listen = env_str(&ev, "FAXBOT_LISTEN");
    if (listen && config_set_listen(c, listen, err, errlen)) return -1;
    if (env_copy(&ev, "FAX_DATA_DIR", c->data_dir, sizeof c->data_dir, err, errlen)) return -1;

    const char *db = env_str(&ev, "DATABASE_URL");
    if (db) {
        /* Faxbot's forms: sqlite:///relative.db, sqlite:////absolute.db, or a
         * PostgreSQL URL, kept whole (sslmode and the rest are libpq's to read) */
        bool pg = !strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11);
        if (!pg && (strncmp(db, "sqlite:///", 10) != 0 || !db[10])) {
            str_fmt(err, errlen, "DATABASE_URL must be sqlite:///path/to/faxbot.db or postgresql://user:password@host/dbname"
                    " (got a %.*s URL)", (int)strcspn(db, ":"), db);
            return -1;
        }
        if (str_copy(c->database_path, sizeof c->database_path, pg ? db : db + 10)) {
            str_fmt(err, errlen, "DATABASE_URL path is too long");
            return -1;
        }
    } else if (str_fmt(c->database_path, sizeof c->database_path, "%s/faxbot.db", c->data_dir)) {
        str_fmt(err, errlen, "FAX_DATA_DIR is too long");
        return -1;
    }
    if (env_copy(&ev, "FAXBOT_NODE_ID", c->node_id, sizeof c->node_id, err, errlen)) return -1;
    if (env_copy(&ev, "PUBLIC_API_URL", c->public_api_url, sizeof c->public_api_url, err, errlen)) return -1;
    size_t pl = strlen(c->public_api_url);
    while (pl && c->public_api_url[pl - 1] == '/') c->public_api_url[--pl] = 0;
    if (pl && strncmp(c->public_api_url, "http://", 7) && strncmp(c->public_api_url, "https://", 8)) {
        str_fmt(err, errlen, "PUBLIC_API_URL must start with http:// or https:// (got '%s')", c->public_api_url);
        return -1;
    }
    if (env_int(&ev, "FAXBOT_HTTP_THREADS", &x, err, errlen)) return -1;
    c->http_threads = (int)x;
    if (env_int(&ev, "FAXBOT_HTTP_TIMEOUT_SECONDS", &x, err, errlen)) return -1;
    c->http_timeout_s = (int)x;
    if (env_int(&ev, "FAXBOT_HTTP_REQUEST_TIMEOUT_SECONDS", &x, err, errlen)) return -1;
    c->http_request_timeout_s = (int)x;
    if (env_int(&ev, "FAXBOT_HTTP_MIN_BODY_RATE", &x, err, errlen)) return -1;
    c->http_min_body_rate = (int)x;
    if (env_int(&ev, "FAXBOT_MAX_CONNECTIONS", &x, err, errlen)) return -1;
    c->max_connections = (int)x;
    if (env_int(&ev, "FAXBOT_MAX_CONNECTIONS_PER_IP", &x, err, errlen)) return -1;
    c->max_connections_per_ip = (int)x;
    if (env_copy(&ev, "TRUSTED_PROXIES", c->trusted_proxies, sizeof c->trusted_proxies, err, errlen)) return -1;
    {
        cidr_list proxies;
        char why[256];
        if (cidr_list_parse(c->trusted_proxies, &proxies, why, sizeof why)) {
            str_fmt(err, errlen, "TRUSTED_PROXIES: %s (give addresses or CIDRs separated by commas, "
                    "e.g. 10.0.0.0/8,::1)", why);
            return -1;
        }
    }
    if (env_bool(&ev, "METRICS_REQUIRE_KEY", &c->metrics_require_key, err, errlen)) return -1;
    const char *lvl = env_str(&ev, "FAXBOT_LOG_LEVEL");
    c->log_level = LOG_INFO;
    if (lvl) {
        if (!strcasecmp(lvl, "debug")) c->log_level = LOG_DEBUG;
        else if (!strcasecmp(lvl, "info")) c->log_level = LOG_INFO;
        else if (!strcasecmp(lvl, "warn") || !strcasecmp(lvl, "warning")) c->log_level = LOG_WARN;
        else if (!strcasecmp(lvl, "error")) c->log_level = LOG_ERROR;
        else { str_fmt(err, errlen, "FAXBOT_LOG_LEVEL must be debug, info, warn or error (got '%s')", lvl); return -1; }
    }

    /* auth */
    if (env_copy(&ev, "API_KEY", c->api_key, sizeof c->api_key, err, errlen)) return -1;
    if (env_bool(&ev, "REQUIRE_API_KEY", &c->require_api_key, err, errlen)) return -1;
    if (env_int(&ev, "MAX_REQUESTS_PER_MINUTE", &x, err, errlen)) return -1;
    c->max_requests_per_minute = (int)x;
    if (env_int(&ev, "AUTH_FAILURES_PER_MINUTE", &x, err, errlen)) return -1;
    c->auth_failures_per_minute = (int)x;
    if (env_int(&ev, "INBOUND_LIST_RPM", &x, err, errlen)) return -1;
    c->inbound_list_rpm = (int)x;
    if (env_int(&ev, "INBOUND_GET_RPM", &x, err, errlen)) return -1;
    c->inbound_get_rpm = (int)x;
    if (env_bool(&ev, "AUDIT_LOG_ENABLED", &c->audit_log_enabled, err, errlen)) return -1;
    if (env_copy(&ev, "AUDIT_LOG_FILE", c->audit_log_file, sizeof c->audit_log_file, err, errlen)) return -1;
    {
        const char *fmt = env_str(&ev, "AUDIT_LOG_FORMAT");
        if (fmt && strcasecmp(fmt, "json") && strcasecmp(fmt, "text")) {
            str_fmt(err, errlen, "AUDIT_LOG_FORMAT must be json or text (got '%s')", fmt);
            return -1;
        }
        c->audit_log_text = fmt && !strcasecmp(fmt, "text");
    }
    if (env_bool(&ev, "AUDIT_LOG_SYSLOG", &c->audit_log_syslog, err, errlen)) return -1;
    if (env_copy(&ev, "AUDIT_LOG_SYSLOG_ADDRESS", c->audit_log_syslog_address,
                 sizeof c->audit_log_syslog_address, err, errlen)) return -1;
    if (!c->audit_log_syslog_address[0])
        str_copy(c->audit_log_syslog_address, sizeof c->audit_log_syslog_address, "/dev/log");

    /* documents */
    if (env_int(&ev, "MAX_FILE_SIZE_MB", &x, err, errlen)) return -1;
    c->max_file_size_bytes = (int64_t)x * 1024 * 1024;
    if (env_copy(&ev, "FAX_DEFAULT_COUNTRY_CODE", c->default_country_code, sizeof c->default_country_code, err, errlen)) return -1;
    for (const char *p = c->default_country_code; *p; p++)
        if (!isdigit((unsigned char)*p) || strlen(c->default_country_code) > 3 || c->default_country_code[0] == '0') {
            str_fmt(err, errlen, "FAX_DEFAULT_COUNTRY_CODE must be 1-3 digits without a leading 0, like 1 or 44 (got '%s')",
                    c->default_country_code);
            return -1;
        }
    if (env_copy(&ev, "GHOSTSCRIPT_PATH", c->gs_path, sizeof c->gs_path, err, errlen)) return -1;
    if (env_int(&ev, "CONVERT_TIMEOUT_SECONDS", &x, err, errlen)) return -1;
    c->convert_timeout_s = (int)x;
    if (env_int(&ev, "CONVERT_MEMORY_MB", &x, err, errlen)) return -1;
    c->convert_memory_mb = (int)x;
    if (env_int(&ev, "CONVERT_MAX_PAGES", &x, err, errlen)) return -1;
    c->convert_max_pages = (int)x;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (cores > 4) cores = 4;
    if (env_int(&ev, "CONVERT_PARALLEL", &x, err, errlen)) return -1;
    if (!env_str(&ev, "CONVERT_PARALLEL")) x = cores;
    c->convert_parallel = (int)x;
    char on_page_error[16];
    if (env_copy(&ev, "CONVERT_ON_PAGE_ERROR", on_page_error, sizeof on_page_error, err, errlen)) return -1;
    if (strcmp(on_page_error, "fail") && strcmp(on_page_error, "warn")) {
        str_fmt(err, errlen, "CONVERT_ON_PAGE_ERROR must be fail or warn (got '%s')", on_page_error);
        return -1;
    }
    c->convert_page_errors_warn = !strcmp(on_page_error, "warn");
    if (env_int(&ev, "CONVERT_PER_OWNER", &x, err, errlen)) return -1;
    c->convert_per_owner = (int)x;
    if (env_copy(&ev, "FAX_DEFAULT_RESOLUTION", c->default_resolution, sizeof c->default_resolution, err, errlen)) return -1;
    if (strcmp(c->default_resolution, "fine") && strcmp(c->default_resolution, "standard")) {
        str_fmt(err, errlen, "FAX_DEFAULT_RESOLUTION must be fine or standard (got '%s')", c->default_resolution);
        return -1;
    }
    if (env_copy(&ev, "FAX_PAPER_SIZE", c->paper_size, sizeof c->paper_size, err, errlen)) return -1;
    for (char *p = c->paper_size; *p; p++) *p = (char)tolower((unsigned char)*p);
    if (strcmp(c->paper_size, "letter") && strcmp(c->paper_size, "a4")) {
        str_fmt(err, errlen, "FAX_PAPER_SIZE must be letter or a4 (got '%s')", c->paper_size);
        return -1;
    }

    /* jobs */
    setting_source backend_src = SOURCE_DEFAULT;
    settings_value(ev.snap, "FAX_BACKEND", &backend_src);
    if (backend_src != SOURCE_DEFAULT && env_str(&ev, "FAX_BACKEND")) {
        if (env_copy(&ev, "FAX_BACKEND", c->backend, sizeof c->backend, err, errlen)) return -1;
        str_fmt(c->backend_origin, sizeof c->backend_origin, "FAX_BACKEND=%s", env_str(&ev, "FAX_BACKEND"));
    } else if (infer_backend(&ev, c, err, errlen)) {
        return -1;
    }
    for (char *p = c->backend; *p; p++) *p = (char)tolower((unsigned char)*p);
    if (!valid_backend_name(c->backend)) {
        str_fmt(err, errlen, "FAX_BACKEND '%s' is not a backend name", c->backend);
        return -1;
    }
    if (env_int(&ev, "FAX_WORKERS", &x, err, errlen)) return -1;
    c->workers = (int)x;
    if (env_int(&ev, "FAX_MAX_ATTEMPTS", &x, err, errlen)) return -1;
    c->max_attempts = (int)x;
    if (env_int(&ev, "FAX_RETRY_BASE_SECONDS", &x, err, errlen)) return -1;
    c->retry_base_s = (int)x;
    if (env_int(&ev, "FAX_RETRY_MAX_SECONDS", &x, err, errlen)) return -1;
    c->retry_max_s = (int)x;
    if (env_int(&ev, "FAX_LEASE_SECONDS", &x, err, errlen)) return -1;
    c->lease_s = (int)x;
    if (env_int(&ev, "PDF_TOKEN_TTL_MINUTES", &x, err, errlen)) return -1;
    c->pdf_token_ttl_minutes = (int)x;
    if (env_bool(&ev, "FAX_DISABLED", &c->fax_disabled, err, errlen)) return -1;

    /* inbound and storage */
    if (env_bool(&ev, "INBOUND_ENABLED", &c->inbound_enabled, err, errlen)) return -1;
    if (!env_str(&ev, "INBOUND_ENABLED")) c->inbound_enabled = !strcmp(c->backend, "loopback");
    if (env_int(&ev, "INBOUND_RETENTION_DAYS", &x, err, errlen)) return -1;
    c->inbound_retention_days = (int)x;
    if (env_copy(&ev, "INBOUND_OWNERS", c->inbound_owners, sizeof c->inbound_owners, err, errlen)) return -1;
    if (check_inbound_owners(c->inbound_owners, err, errlen)) return -1;
    if (env_int(&ev, "INBOUND_TOKEN_TTL_MINUTES", &x, err, errlen)) return -1;
    c->inbound_token_ttl_minutes = (int)x;
    if (env_int(&ev, "ARTIFACT_TTL_DAYS", &x, err, errlen)) return -1;
    c->artifact_ttl_days = (int)x;
    c->inbound_retention_minutes = (int64_t)c->inbound_retention_days * 24 * 60;
    c->artifact_ttl_minutes = (int64_t)c->artifact_ttl_days * 24 * 60;
    /* Minute-granular forms, for short retention policies (and tests). */
    if (env_str(&ev, "INBOUND_RETENTION_MINUTES")) {
        if (env_int(&ev, "INBOUND_RETENTION_MINUTES", &x, err, errlen)) return -1;
        c->inbound_retention_minutes = x;
    }
    if (env_str(&ev, "ARTIFACT_TTL_MINUTES")) {
        if (env_int(&ev, "ARTIFACT_TTL_MINUTES", &x, err, errlen)) return -1;
        c->artifact_ttl_minutes = x;
    }
    if (env_int(&ev, "RETENTION_SWEEP_SECONDS", &x, err, errlen)) return -1;
    c->retention_sweep_s = (int)x;
    if (env_copy(&ev, "STORAGE_BACKEND", c->storage_backend, sizeof c->storage_backend, err, errlen)) return -1;
    if (!c->storage_backend[0]) str_copy(c->storage_backend, sizeof c->storage_backend, "local");
    if (strcmp(c->storage_backend, "local") && strcmp(c->storage_backend, "s3")) {
        str_fmt(err, errlen, "STORAGE_BACKEND '%s' is not known; use local or s3", c->storage_backend);
        return -1;
    }
    /* S3: the objects of record (the files under FAX_DATA_DIR become a cache) */
    if (env_copy(&ev, "S3_BUCKET", c->s3_bucket, sizeof c->s3_bucket, err, errlen) ||
        env_copy(&ev, "S3_REGION", c->s3_region, sizeof c->s3_region, err, errlen) ||
        env_copy(&ev, "S3_PREFIX", c->s3_prefix, sizeof c->s3_prefix, err, errlen) ||
        env_copy(&ev, "S3_ENDPOINT_URL", c->s3_endpoint_url, sizeof c->s3_endpoint_url, err, errlen) ||
        env_copy(&ev, "S3_KMS_KEY_ID", c->s3_kms_key_id, sizeof c->s3_kms_key_id, err, errlen) ||
        env_copy(&ev, "AWS_ACCESS_KEY_ID", c->aws_access_key_id, sizeof c->aws_access_key_id, err, errlen) ||
        env_copy(&ev, "AWS_SECRET_ACCESS_KEY", c->aws_secret_access_key, sizeof c->aws_secret_access_key, err, errlen) ||
        env_copy(&ev, "AWS_SESSION_TOKEN", c->aws_session_token, sizeof c->aws_session_token, err, errlen))
        return -1;
    if (!c->s3_region[0]) str_copy(c->s3_region, sizeof c->s3_region, "us-east-1");
    if (!strcmp(c->storage_backend, "s3")) {
        if (!c->s3_bucket[0]) {
            str_fmt(err, errlen, "STORAGE_BACKEND=s3 needs S3_BUCKET");
            return -1;
        }
        if (c->s3_endpoint_url[0] && strncmp(c->s3_endpoint_url, "http://", 7) && strncmp(c->s3_endpoint_url, "https://", 8)) {
            str_fmt(err, errlen, "S3_ENDPOINT_URL must be http(s)://host[:port]");
            return -1;
        }
        if (s3_credentials(&ev, c, err, errlen)) return -1;
    }
    if (env_int(&ev, "S3_MULTIPART_THRESHOLD_MB", &x, err, errlen)) return -1;
    c->s3_multipart_threshold_mb = (int)x;
    if (env_int(&ev, "S3_MULTIPART_PART_SIZE_MB", &x, err, errlen)) return -1;
    c->s3_part_size_mb = (int)x;
    if (env_bool(&ev, "S3_PRESIGNED_URLS", &c->s3_presigned_urls, err, errlen)) return -1;
    if (env_int(&ev, "S3_PRESIGNED_URL_TTL_SECONDS", &x, err, errlen)) return -1;
    c->s3_presigned_ttl_s = (int)x;

    /* events */
    if (env_bool(&ev, "WEBHOOK_ALLOW_PRIVATE", &c->webhook_allow_private, err, errlen)) return -1;
    if (env_int(&ev, "WEBHOOK_TIMEOUT_SECONDS", &x, err, errlen)) return -1;
    c->webhook_timeout_s = (int)x;
    if (env_int(&ev, "WEBHOOK_RETRY_BASE_SECONDS", &x, err, errlen)) return -1;
    c->webhook_retry_base_s = (int)x;
    if (env_int(&ev, "WEBHOOK_RETRY_MAX_SECONDS", &x, err, errlen)) return -1;
    c->webhook_retry_max_s = (int)x;
    if (env_int(&ev, "WEBHOOK_RETRY_HOURS", &x, err, errlen)) return -1;
    c->webhook_retry_hours = (int)x;
    if (env_int(&ev, "WEBHOOK_WORKERS", &x, err, errlen)) return -1;
    c->webhook_workers = (int)x;
    if (env_copy(&ev, "WEBHOOK_SECRET", c->webhook_secret, sizeof c->webhook_secret, err, errlen)) return -1;
    if (c->webhook_secret[0] && strlen(c->webhook_secret) < 24) {
        str_fmt(err, errlen, "WEBHOOK_SECRET must be at least 24 characters (a whsec_ secret or random text)");
        return -1;
    }
    if (env_int(&ev, "SSE_HEARTBEAT_SECONDS", &x, err, errlen)) return -1;
    c->sse_heartbeat_s = (int)x;
    /* Streams hold their connections: by default they may take half of them, so the
     * API always has room. */
    if (env_int(&ev, "SSE_MAX_STREAMS", &x, err, errlen)) return -1;
    if (!env_str(&ev, "SSE_MAX_STREAMS")) x = c->max_connections > 0 ? c->max_connections / 2 : 2000;
    c->sse_max_streams = (int)x;
    if (c->max_connections > 0 && c->sse_max_streams >= c->max_connections) {
        str_fmt(err, errlen, "SSE_MAX_STREAMS (%d) must be below FAXBOT_MAX_CONNECTIONS (%d): event streams would "
                "take every connection and leave none for the API", c->sse_max_streams, c->max_connections);
        return -1;
    }
    if (env_int(&ev, "SSE_MAX_BUFFER_KB", &x, err, errlen)) return -1;
    c->sse_max_buffer_kb = (int)x;
    if (env_int(&ev, "EVENTS_RETENTION_DAYS", &x, err, errlen)) return -1;
    c->events_retention_days = (int)x;
    /* MCP */
    if (env_bool(&ev, "ENABLE_MCP_HTTP", &c->enable_mcp_http, err, errlen)) return -1;
    if (env_bool(&ev, "ENABLE_MCP_SSE", &c->enable_mcp_sse, err, errlen)) return -1;
    if (env_copy(&ev, "MCP_HTTP_PATH", c->mcp_http_path, sizeof c->mcp_http_path, err, errlen)) return -1;
    if (env_copy(&ev, "MCP_SSE_PATH", c->mcp_sse_path, sizeof c->mcp_sse_path, err, errlen)) return -1;
    if (env_copy(&ev, "MCP_SSE_MESSAGE_PATH", c->mcp_message_path, sizeof c->mcp_message_path, err, errlen)) return -1;
    const char *mcp_paths[][2] = {{"MCP_HTTP_PATH", c->mcp_http_path}, {"MCP_SSE_PATH", c->mcp_sse_path},
                                  {"MCP_SSE_MESSAGE_PATH", c->mcp_message_path}};
    for (size_t i = 0; i < 3; i++) {
        const char *pth = mcp_paths[i][1];
        if (pth[0] != '/' || strpbrk(pth, "{}?# \t") || strstr(pth, "//")) {
            str_fmt(err, errlen, "%s must be a path like /mcp (got '%s')", mcp_paths[i][0], pth);
            return -1;
        }
    }
    if (env_copy(&ev, "MCP_ALLOWED_ORIGINS", c->mcp_allowed_origins, sizeof c->mcp_allowed_origins, err, errlen)) return -1;
    if (env_int(&ev, "MCP_MAX_SESSIONS", &x, err, errlen)) return -1;
    c->mcp_max_sessions = (int)x;
    if (env_int(&ev, "MCP_IDLE_SECONDS", &x, err, errlen)) return -1;
    c->mcp_idle_s = (int)x;
    if (env_int(&ev, "MCP_SEND_WAIT_SECONDS", &x, err, errlen)) return -1;
    c->mcp_send_wait_s = (int)x;
    if (env_bool(&ev, "REQUIRE_MCP_OAUTH", &c->require_mcp_oauth, err, errlen)) return -1;
    if (env_copy(&ev, "OAUTH_ISSUER", c->oauth_issuer, sizeof c->oauth_issuer, err, errlen)) return -1;
    if (env_copy(&ev, "OAUTH_AUDIENCE", c->oauth_audience, sizeof c->oauth_audience, err, errlen)) return -1;
    if (env_copy(&ev, "OAUTH_JWKS_URL", c->oauth_jwks_url, sizeof c->oauth_jwks_url, err, errlen)) return -1;
    if (!c->oauth_jwks_url[0] && c->oauth_issuer[0]) {
        size_t il = strlen(c->oauth_issuer);
        str_fmt(c->oauth_jwks_url, sizeof c->oauth_jwks_url, "%.*s/.well-known/jwks.json",
                (int)(il && c->oauth_issuer[il - 1] == '/' ? il - 1 : il), c->oauth_issuer);
    }
    if (c->require_mcp_oauth && (!c->oauth_issuer[0] || !c->oauth_audience[0])) {
        str_fmt(err, errlen, "REQUIRE_MCP_OAUTH=true needs OAUTH_ISSUER and OAUTH_AUDIENCE (and OAUTH_JWKS_URL unless the "
                             "keys are at <issuer>/.well-known/jwks.json)");
        return -1;
    }
    if (c->oauth_jwks_url[0] && strncmp(c->oauth_jwks_url, "https://", 8) && strncmp(c->oauth_jwks_url, "http://", 7)) {
        str_fmt(err, errlen, "OAUTH_JWKS_URL must be an http(s):// URL (got '%s')", c->oauth_jwks_url);
        return -1;
    }

    /* identity */
    if (env_copy(&ev, "FAX_LOCAL_STATION_ID", c->station_id, sizeof c->station_id, err, errlen)) return -1;
    if (strlen(c->station_id) > 20) {
        str_fmt(err, errlen, "FAX_LOCAL_STATION_ID is at most 20 characters (T.30 limit)");
        return -1;
    }
    if (env_copy(&ev, "FAX_HEADER", c->header_text, sizeof c->header_text, err, errlen)) return -1;
    if (strlen(c->header_text) > 50) {
        str_fmt(err, errlen, "FAX_HEADER is at most 50 characters");
        return -1;
    }
    return 0;
}

int config_load_snapshot(config *out, const settings_snapshot *snap, char *err, size_t errlen)
{
    env_view ev = {snap};
    return load_view(out, &ev, err, errlen);
}

int config_load_from(config *out, char *const *envp, char *err, size_t errlen)
{
    settings_snapshot *snap = settings_build(NULL, envp, err, errlen);
    if (!snap) return -1;
    int rc = config_load_snapshot(out, snap, err, errlen);
    settings_snapshot_free(snap);
    return rc;
}

int config_load(config *out, char *err, size_t errlen)
{
    if (settings_load_error()[0]) {
        str_copy(err, errlen, settings_load_error());
        return -1;
    }
    return config_load_snapshot(out, settings_current(), err, errlen);
}

void config_s3_settings(const config *cfg, s3_settings *out)
{
    *out = (s3_settings){.endpoint_url = cfg->s3_endpoint_url, .bucket = cfg->s3_bucket, .region = cfg->s3_region,
                         .prefix = cfg->s3_prefix, .kms_key_id = cfg->s3_kms_key_id,
                         .access_key_id = cfg->aws_access_key_id, .secret_access_key = cfg->aws_secret_access_key,
                         .session_token = cfg->aws_session_token,
                         .multipart_threshold = (long long)cfg->s3_multipart_threshold_mb << 20,
                         .part_size = (long long)cfg->s3_part_size_mb << 20};
}
