/* config.h — the gateway's core configuration as one struct, filled from a
 * settings snapshot (settings.h: default < settings file < environment, Faxbot's
 * variable names). A struct is never changed once filled; a live change builds a
 * new one. Every bad value is a clear error, never a silent fallback. */
#ifndef FAXBOT_CONFIG_H
#define FAXBOT_CONFIG_H

#include "config/settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct config {
    /* server */
    char listen_host[256];           /* FAXBOT_LISTEN host part, default 127.0.0.1 */
    int listen_port;                 /* default 8080 */
    char data_dir[1024];             /* FAX_DATA_DIR, default ./faxdata */
    char database_path[1024];        /* from DATABASE_URL: the path of sqlite:///path (default <data_dir>/faxbot.db),
                                        or a postgresql:// URL as given */
    char node_id[64];                /* FAXBOT_NODE_ID; "" = <hostname>:<port> (several nodes sharing PostgreSQL) */
    char public_api_url[512];        /* PUBLIC_API_URL, default http://<listen> */
    int http_threads;                /* FAXBOT_HTTP_THREADS, default 0 = from the core count */
    int http_timeout_s;              /* FAXBOT_HTTP_TIMEOUT_SECONDS: idle/slow connection timeout, default 30 */
    int http_request_timeout_s;      /* FAXBOT_HTTP_REQUEST_TIMEOUT_SECONDS: head + body in, default 300, 0 = none */
    int http_min_body_rate;          /* FAXBOT_HTTP_MIN_BODY_RATE bytes/s after the grace, default 1024, 0 = none */
    int max_connections;             /* FAXBOT_MAX_CONNECTIONS, default 1000, 0 = no cap */
    int max_connections_per_ip;      /* FAXBOT_MAX_CONNECTIONS_PER_IP, default 64, 0 = no cap */
    char trusted_proxies[1024];      /* TRUSTED_PROXIES: addresses/CIDRs whose X-Forwarded-For/Forwarded count */
    bool metrics_require_key;        /* METRICS_REQUIRE_KEY: /metrics needs an API key */
    int log_level;                   /* FAXBOT_LOG_LEVEL debug|info|warn|error */

    /* auth */
    char api_key[256];               /* API_KEY bootstrap key (all scopes) */
    bool require_api_key;            /* REQUIRE_API_KEY */
    int max_requests_per_minute;     /* MAX_REQUESTS_PER_MINUTE, 0 = off */
    int auth_failures_per_minute;    /* AUTH_FAILURES_PER_MINUTE per client IP, default 30, 0 = off */
    int inbound_list_rpm;            /* INBOUND_LIST_RPM, default 30 */
    int inbound_get_rpm;             /* INBOUND_GET_RPM, default 60 */
    bool audit_log_enabled;          /* AUDIT_LOG_ENABLED */
    char audit_log_file[1024];       /* AUDIT_LOG_FILE ("" = stderr) */
    bool audit_log_text;             /* AUDIT_LOG_FORMAT json (default) | text */
    bool audit_log_syslog;           /* AUDIT_LOG_SYSLOG: RFC 5424 to AUDIT_LOG_SYSLOG_ADDRESS */
    char audit_log_syslog_address[512]; /* /dev/log (default), udp://host:port, tcp://host:port, host:port */

    /* documents */
    int64_t max_file_size_bytes;     /* MAX_FILE_SIZE_MB * 1 MiB, default 10 MiB */
    char default_country_code[8];    /* FAX_DEFAULT_COUNTRY_CODE, default "1" */
    char gs_path[512];               /* GHOSTSCRIPT_PATH, default "gs" looked up on PATH */
    int convert_timeout_s;           /* CONVERT_TIMEOUT_SECONDS, default 120 */
    int convert_memory_mb;           /* CONVERT_MEMORY_MB, default 1024 (RLIMIT_AS of gs) */
    int convert_max_pages;           /* CONVERT_MAX_PAGES, default 200 */
    int convert_parallel;            /* CONVERT_PARALLEL, gs processes per document, default = cores (max 4) */
    bool convert_page_errors_warn;   /* CONVERT_ON_PAGE_ERROR fail|warn, default fail */
    int convert_per_owner;           /* CONVERT_PER_OWNER, conversions one owner may run at once, default 2 */
    char default_resolution[16];     /* FAX_DEFAULT_RESOLUTION fine|standard, default fine */
    char paper_size[16];             /* FAX_PAPER_SIZE letter|a4, default letter */

    /* jobs */
    char backend[64];                /* FAX_BACKEND (a built-in backend or an outbound plugin's id); unset: the one provider whose credentials are set
                                        (Faxbot's users relied on a default), else loopback */
    char backend_origin[256];        /* how backend was chosen, for the start log */
    bool backend_defaulted;          /* loopback because nothing chose anything else */
    int workers;                     /* FAX_WORKERS, default 4 */
    int max_attempts;                /* FAX_MAX_ATTEMPTS, default 3 */
    int retry_base_s;                /* FAX_RETRY_BASE_SECONDS, default 30 (doubling) */
    int retry_max_s;                 /* FAX_RETRY_MAX_SECONDS, default 900 */
    int lease_s;                     /* FAX_LEASE_SECONDS, default 300 */
    int pdf_token_ttl_minutes;       /* PDF_TOKEN_TTL_MINUTES, default 60 */
    bool fax_disabled;               /* FAX_DISABLED: accept and store, never transmit */

    /* inbound and storage */
    bool inbound_enabled;            /* INBOUND_ENABLED (default on for loopback) */
    int inbound_retention_days;      /* INBOUND_RETENTION_DAYS, default 30 (0 = keep) */
    int64_t inbound_retention_minutes; /* the same in minutes; INBOUND_RETENTION_MINUTES overrides */
    int inbound_token_ttl_minutes;   /* INBOUND_TOKEN_TTL_MINUTES, default 60 */
    char inbound_owners[4096];       /* INBOUND_OWNERS "+15551230001=acme,+15551230002=billing": the owner of
                                        faxes received on a number ("" = none routed) */
    int artifact_ttl_days;           /* ARTIFACT_TTL_DAYS, 0 = keep */
    int64_t artifact_ttl_minutes;    /* the same in minutes; ARTIFACT_TTL_MINUTES overrides */
    int retention_sweep_s;           /* RETENTION_SWEEP_SECONDS: how often expiry runs, default 300 */
    char storage_backend[16];        /* STORAGE_BACKEND: local or s3 */
    char s3_bucket[256], s3_region[64], s3_prefix[256], s3_endpoint_url[512], s3_kms_key_id[256];
    char aws_access_key_id[128], aws_secret_access_key[256], aws_session_token[2048];
    char aws_credentials_source[640]; /* where the keys came from: "the environment" or a profile of a file */
    int s3_multipart_threshold_mb;   /* S3_MULTIPART_THRESHOLD_MB, default 8 */
    int s3_part_size_mb;             /* S3_MULTIPART_PART_SIZE_MB, default 8 */
    bool s3_presigned_urls;          /* S3_PRESIGNED_URLS: providers fetch the PDF from S3 directly */
    int s3_presigned_ttl_s;          /* S3_PRESIGNED_URL_TTL_SECONDS, default 300 */

    /* events: client webhooks and the live stream */
    bool webhook_allow_private;      /* WEBHOOK_ALLOW_PRIVATE: http:// and private/loopback destinations allowed */
    int webhook_timeout_s;           /* WEBHOOK_TIMEOUT_SECONDS, default 10 */
    int webhook_retry_base_s;        /* WEBHOOK_RETRY_BASE_SECONDS: first retry delay, doubling, default 30 */
    int webhook_retry_max_s;         /* WEBHOOK_RETRY_MAX_SECONDS: cap of one delay, default 3600 */
    int webhook_retry_hours;         /* WEBHOOK_RETRY_HOURS: keep retrying this long, default 25 */
    int webhook_workers;             /* WEBHOOK_WORKERS: deliveries in flight, default 4 */
    char webhook_secret[128];        /* WEBHOOK_SECRET: signs callback_url deliveries ("" = generated, kept in the data dir) */
    int sse_heartbeat_s;             /* SSE_HEARTBEAT_SECONDS, default 15 */
    int sse_max_streams;             /* SSE_MAX_STREAMS, default half of FAXBOT_MAX_CONNECTIONS */
    int sse_max_buffer_kb;           /* SSE_MAX_BUFFER_KB: a stream further behind is cut off, default 256 */
    int events_retention_days;       /* EVENTS_RETENTION_DAYS: outbox rows kept this long, default 7 */
    /* MCP (AI assistants) */
    bool enable_mcp_http;            /* ENABLE_MCP_HTTP: Streamable HTTP at mcp_http_path, default false */
    char mcp_http_path[128];         /* MCP_HTTP_PATH, default /mcp */
    bool enable_mcp_sse;             /* ENABLE_MCP_SSE: legacy HTTP+SSE transport, default false */
    char mcp_sse_path[128];          /* MCP_SSE_PATH: its event stream, default /mcp/sse */
    char mcp_message_path[128];      /* MCP_SSE_MESSAGE_PATH: where its clients POST, default /mcp/messages */
    char mcp_allowed_origins[1024];  /* MCP_ALLOWED_ORIGINS: comma list of browser origins besides localhost */
    int mcp_max_sessions;            /* MCP_MAX_SESSIONS: open SSE streams at once, default 32 */
    int mcp_idle_s;                  /* MCP_IDLE_SECONDS: an SSE session with no message this long is closed, default 300 */
    int mcp_send_wait_s;             /* MCP_SEND_WAIT_SECONDS: send_fax with progress waits this long, default 120 */
    bool require_mcp_oauth;          /* REQUIRE_MCP_OAUTH: JWT bearer tokens instead of API keys */
    char oauth_issuer[512];          /* OAUTH_ISSUER (iss, and the authorization server we name) */
    char oauth_audience[512];        /* OAUTH_AUDIENCE (aud) */
    char oauth_jwks_url[1024];       /* OAUTH_JWKS_URL, default <issuer>/.well-known/jwks.json */

    /* fax identity */
    char station_id[24];             /* FAX_LOCAL_STATION_ID */
    char header_text[64];            /* FAX_HEADER */
} config;

/* Fills *out from the current settings snapshot (default < file < environment).
 * Returns 0, or -1 with a message in err that names the setting and says what a
 * valid value looks like. */
int config_load(config *out, char *err, size_t errlen);
/* The same from a given snapshot (a candidate change is checked this way). */
int config_load_snapshot(config *out, const settings_snapshot *snap, char *err, size_t errlen);
/* From a NULL-terminated "KEY=VALUE" array only, no file (used by tests). */
int config_load_from(config *out, char *const *envp, char *err, size_t errlen);

/* Overrides FAXBOT_LISTEN-style "HOST:PORT" (also "[::1]:8080"); -1 on a bad value. */
int config_set_listen(config *cfg, const char *hostport, char *err, size_t errlen);

/* The S3 client's settings from cfg (STORAGE_BACKEND=s3); the strings stay cfg's. */
struct s3_settings;
void config_s3_settings(const config *cfg, struct s3_settings *out);

#endif
