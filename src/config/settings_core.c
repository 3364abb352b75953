/* settings_core.c — the gateway's own rows of the settings table (backends add
 * theirs through backend_ops.settings). Faxbot's variable names are kept so a
 * Faxbot .env works as it is. The columns: name, type, default, range or choices,
 * secret, group, backend, apply, where it lands, help. */
#include "config/settings.h"

#define S(n, d, g, a, l, h) {.name = n, .type = SETTING_STR, .dflt = d, .group = g, .apply = a, .lands = l, .help = h}
#define SECRET(n, g, a, l, h) {.name = n, .type = SETTING_STR, .dflt = "", .secret = true, .group = g, .apply = a, .lands = l, .help = h}
#define I(n, d, lo_, hi_, g, a, l, h) {.name = n, .type = SETTING_INT, .dflt = d, .lo = lo_, .hi = hi_, .group = g, .apply = a, .lands = l, .help = h}
#define B(n, d, g, a, l, h) {.name = n, .type = SETTING_BOOL, .dflt = d, .group = g, .apply = a, .lands = l, .help = h}
#define E(n, d, c, g, a, l, h) {.name = n, .type = SETTING_ENUM, .dflt = d, .choices = c, .group = g, .apply = a, .lands = l, .help = h}
#define L SETTING_LIVE
#define R SETTING_RESTART
#define ENV SETTING_ENV_ONLY

const setting_def settings_core_rows[] = {
    /* bootstrap: where the settings live */
    S("FAXBOT_CONFIG", "", "server", ENV, "settings file path", "default $FAX_DATA_DIR/config/faxbot.config.json"),
    {.name = "FAXBOT_CONFIG_KEY", .type = SETTING_STR, .dflt = "", .secret = true, .group = "server", .apply = ENV,
     .lands = "settings file encryption", .help = "base64 of 32 bytes; secrets in the file are AES-256-GCM encrypted with it"},
    S("FAX_DATA_DIR", "./faxdata", "server", ENV, "database, documents, keys", "the gateway's data directory"),
    SECRET("FAXBOT_KEY_PEPPER", "server", ENV, "API key hashes", "16-64 characters; default: a random one kept in the data dir"),

    /* server */
    S("FAXBOT_LISTEN", "127.0.0.1:8080", "server", R, "HTTP listener", "HOST:PORT or [::1]:PORT"),
    /* secret: a PostgreSQL URL may carry the password */
    {.name = "DATABASE_URL", .type = SETTING_STR, .dflt = "", .secret = true, .group = "database", .apply = R,
     .lands = "store", .help = "sqlite:///path (default <FAX_DATA_DIR>/faxbot.db) or postgresql://user:password@host/db?sslmode=verify-full"},
    S("FAXBOT_NODE_ID", "", "database", R, "leases of several nodes",
      "this node's name in a shared PostgreSQL (default <hostname>:<port>); unique per node"),
    S("PUBLIC_API_URL", "", "security", L, "provider callbacks and PDF links", "http(s)://host the providers reach"),
    I("FAXBOT_HTTP_THREADS", "0", 0, 64, "server", R, "HTTP thread pool", "threads answering HTTP (0 = from the core count)"),
    I("FAXBOT_HTTP_TIMEOUT_SECONDS", "30", 1, 3600, "server", R, "HTTP connection timeout", "idle/slow connection timeout"),
    I("FAXBOT_HTTP_REQUEST_TIMEOUT_SECONDS", "300", 0, 86400, "server", R, "HTTP request deadline", "head + body in, 0 = none"),
    I("FAXBOT_HTTP_MIN_BODY_RATE", "1024", 0, 100000000, "server", R, "HTTP body rate floor", "bytes/s after the grace, 0 = none"),
    I("FAXBOT_MAX_CONNECTIONS", "1000", 0, 1000000, "server", R, "HTTP listener", "connections in all, 0 = no cap"),
    I("FAXBOT_MAX_CONNECTIONS_PER_IP", "64", 0, 100000, "server", R, "HTTP listener", "0 = no cap"),
    S("TRUSTED_PROXIES", "", "security", R, "client address from X-Forwarded-For/Forwarded", "addresses/CIDRs of trusted proxies"),
    B("METRICS_REQUIRE_KEY", "false", "security", L, "GET /metrics", "/metrics needs an API key"),
    E("FAXBOT_LOG_LEVEL", "info", "debug|info|warn|warning|error", "server", L, "log filter", "debug, info, warn or error"),
    S("FAXBOT_RENDER", "", "server", ENV, "document renderer", "path of faxbot-render (default: next to faxbot)"),
    I("FAXBOT_APPLY_STEP_DELAY_MS", "0", 0, 60000, "server", ENV, "PBX config apply",
      "tests only: a pause between the steps of writing a PBX's configuration"),
    S("FAXBOT_URL", "http://127.0.0.1:8080", "cli", ENV, "CLI", "the gateway the CLI talks to"),
    SECRET("FAXBOT_API_KEY", "cli", ENV, "CLI", "the key the CLI sends (else API_KEY)"),
    B("ADMIN_ALLOW_RESTART", "false", "security", L, "POST /admin/restart", "allow an admin to restart the gateway"),

    /* auth */
    SECRET("API_KEY", "security", L, "bootstrap admin key", "a key with every scope"),
    B("REQUIRE_API_KEY", "false", "security", L, "auth on fax and inbound routes", "require a key even without API_KEY"),
    B("ENFORCE_PUBLIC_HTTPS", "true", "security", L, "cloud backends", "refuse an http PUBLIC_API_URL for providers"),
    I("MAX_REQUESTS_PER_MINUTE", "0", 0, 1000000, "limits", L, "per-key rate limit", "0 = off"),
    I("AUTH_FAILURES_PER_MINUTE", "30", 0, 1000000, "limits", L, "per-IP lockout", "0 = off"),
    I("INBOUND_LIST_RPM", "30", 0, 1000000, "limits", L, "GET /inbound rate limit", "per key"),
    I("INBOUND_GET_RPM", "60", 0, 1000000, "limits", L, "GET /inbound/{id} rate limit", "per key"),
    B("AUDIT_LOG_ENABLED", "false", "security", R, "audit log", "write audit events"),
    S("AUDIT_LOG_FILE", "", "security", R, "audit log", "file for audit events (\"\" = stderr)"),
    E("AUDIT_LOG_FORMAT", "json", "json|text", "security", R, "audit log", "json lines or text lines"),
    B("AUDIT_LOG_SYSLOG", "false", "security", R, "audit log", "also send audit events to syslog (RFC 5424)"),
    S("AUDIT_LOG_SYSLOG_ADDRESS", "/dev/log", "security", R, "audit log",
      "syslog: a local socket path, udp://host:port or tcp://host:port"),

    /* documents */
    I("MAX_FILE_SIZE_MB", "10", 1, 1024, "limits", L, "POST /fax upload cap", "MiB"),
    S("FAX_DEFAULT_COUNTRY_CODE", "1", "documents", L, "number normalization", "1-3 digits"),
    S("GHOSTSCRIPT_PATH", "gs", "documents", L, "PDF rasterizer", "gs on PATH or a path"),
    I("CONVERT_TIMEOUT_SECONDS", "120", 1, 3600, "documents", L, "conversion limits", "seconds"),
    I("CONVERT_MEMORY_MB", "1024", 64, 65536, "documents", L, "conversion limits", "RLIMIT_AS of gs"),
    I("CONVERT_MAX_PAGES", "200", 1, 10000, "documents", L, "conversion limits", "pages per document"),
    I("CONVERT_PARALLEL", "", 1, 16, "documents", L, "conversion limits", "gs processes per document (default: cores, at most 4)"),
    S("CONVERT_ON_PAGE_ERROR", "fail", "documents", L, "conversion", "fail or warn: a page Ghostscript cannot draw fails the job or only warns"),
    I("CONVERT_PER_OWNER", "2", 1, 64, "documents", L, "conversion share", "conversions one owner may run at once under contention"),
    E("FAX_DEFAULT_RESOLUTION", "fine", "fine|standard", "documents", L, "fax image", "fine or standard"),
    E("FAX_PAPER_SIZE", "letter", "letter|a4", "documents", L, "fax image", "letter or a4"),

    /* jobs */
    S("FAX_BACKEND", "loopback", "backend", L, "the backend (swapped live)", "loopback, sip, phaxio, freeswitch, sinch, signalwire, or an outbound plugin's id"),
    S("PLUGIN_REGISTRY_PATH", "", "plugins", L, "faxbot plugins install, POST /plugins/install", "the local plugin registry (default $FAX_DATA_DIR/plugins/registry.json)"),
    I("FAX_WORKERS", "4", 1, 256, "jobs", R, "worker threads", "concurrent attempts"),
    I("FAX_MAX_ATTEMPTS", "3", 1, 100, "jobs", L, "retry policy", "attempts per job"),
    I("FAX_RETRY_BASE_SECONDS", "30", 0, 86400, "jobs", R, "retry policy", "first retry delay (doubles)"),
    I("FAX_RETRY_MAX_SECONDS", "900", 0, 7 * 86400, "jobs", R, "retry policy", "cap on the retry delay"),
    I("FAX_LEASE_SECONDS", "300", 2, 86400, "jobs", R, "retry policy", "how long an attempt holds a job"),
    I("PDF_TOKEN_TTL_MINUTES", "60", 0, 10080, "limits", L, "provider PDF links", "minutes"),
    B("FAX_DISABLED", "false", "backend", R, "scheduler", "accept and store, never transmit"),

    /* inbound and storage */
    B("INBOUND_ENABLED", "", "inbound", L, "inbound routes", "default: on for loopback, off otherwise"),
    I("INBOUND_RETENTION_DAYS", "30", 0, 36500, "inbound", L, "retention", "0 = keep"),
    I("INBOUND_RETENTION_MINUTES", "", 0, 36500L * 24 * 60, "inbound", L, "retention", "overrides the days"),
    I("INBOUND_TOKEN_TTL_MINUTES", "60", 1, 10080, "inbound", L, "inbound PDF links", "minutes"),
    S("INBOUND_OWNERS", "", "inbound", L, "owner of each inbound fax", "+NUMBER=OWNER pairs, comma separated"),
    I("ARTIFACT_TTL_DAYS", "0", 0, 36500, "storage", L, "retention", "0 = keep"),
    I("ARTIFACT_TTL_MINUTES", "", 0, 36500L * 24 * 60, "storage", L, "retention", "overrides the days"),
    I("RETENTION_SWEEP_SECONDS", "300", 1, 86400, "storage", R, "retention thread", "how often expiry runs"),
    E("STORAGE_BACKEND", "local", "local|s3", "storage", R, "artifact storage",
      "local files, or s3 (objects of record in S3; the local files are a cache)"),
    S("S3_BUCKET", "", "storage", R, "S3 storage", "the bucket (STORAGE_BACKEND=s3)"),
    S("S3_REGION", "us-east-1", "storage", R, "S3 storage", "the bucket's region"),
    S("S3_PREFIX", "", "storage", R, "S3 storage", "prepended to every object key, e.g. faxbot/"),
    S("S3_ENDPOINT_URL", "", "storage", R, "S3 storage", "http(s)://host[:port] of an S3-compatible store (path-style); empty = AWS"),
    S("S3_KMS_KEY_ID", "", "storage", R, "S3 storage", "objects written with SSE-KMS under this key"),
    S("AWS_ACCESS_KEY_ID", "", "storage", R, "S3 storage", "credentials for S3"),
    SECRET("AWS_SECRET_ACCESS_KEY", "storage", R, "S3 storage", "credentials for S3"),
    SECRET("AWS_SESSION_TOKEN", "storage", R, "S3 storage", "temporary credentials' session token"),
    S("AWS_PROFILE", "default", "storage", R, "S3 storage",
      "the profile read from the shared files when AWS_ACCESS_KEY_ID is not set"),
    S("AWS_SHARED_CREDENTIALS_FILE", "", "storage", R, "S3 storage", "default ~/.aws/credentials"),
    S("AWS_CONFIG_FILE", "", "storage", R, "S3 storage", "default ~/.aws/config (credentials of [profile NAME])"),
    I("S3_MULTIPART_THRESHOLD_MB", "8", 5, 5120, "storage", R, "S3 storage", "files of this size or more go up in parts (MiB)"),
    I("S3_MULTIPART_PART_SIZE_MB", "8", 5, 5120, "storage", R, "S3 storage", "size of one part of a multipart upload (MiB)"),
    B("S3_PRESIGNED_URLS", "false", "storage", L, "PDF links for providers",
      "providers that fetch the PDF get a presigned S3 GET URL instead of the tokenized one"),
    I("S3_PRESIGNED_URL_TTL_SECONDS", "300", 10, 604800, "storage", L, "PDF links for providers",
      "how long a presigned URL stays valid"),

    /* identity */
    S("FAX_LOCAL_STATION_ID", "", "identity", L, "T.30 station id, Asterisk LOCALSTATIONID", "at most 20 characters"),
    S("FAX_HEADER", "", "identity", L, "page header", "at most 50 characters"),

    /* MCP for AI assistants */
    B("ENABLE_MCP_HTTP", "false", "mcp", R, "MCP streamable HTTP route", "serve MCP over HTTP"),
    B("ENABLE_MCP_SSE", "false", "mcp", R, "MCP SSE routes", "serve MCP over SSE"),
    S("MCP_HTTP_PATH", "/mcp", "mcp", R, "MCP route", "path of the HTTP transport"),
    S("MCP_SSE_PATH", "/mcp/sse", "mcp", R, "MCP route", "path of the SSE stream"),
    S("MCP_SSE_MESSAGE_PATH", "/mcp/messages", "mcp", R, "MCP route", "path SSE clients post to"),
    S("MCP_ALLOWED_ORIGINS", "", "mcp", L, "MCP Origin check", "comma-separated origins allowed"),
    I("MCP_MAX_SESSIONS", "32", 1, 10000, "mcp", L, "MCP sessions", "open sessions at most"),
    I("MCP_IDLE_SECONDS", "300", 5, 86400, "mcp", L, "MCP sessions", "idle session lifetime"),
    I("MCP_SEND_WAIT_SECONDS", "120", 1, 3600, "mcp", L, "MCP send_fax", "how long a tool call waits for a result"),
    B("REQUIRE_MCP_OAUTH", "false", "mcp", L, "MCP auth", "require an OAuth bearer token"),
    S("OAUTH_ISSUER", "", "mcp", L, "MCP auth", "expected JWT issuer"),
    S("OAUTH_AUDIENCE", "", "mcp", L, "MCP auth", "expected JWT audience"),
    S("OAUTH_JWKS_URL", "", "mcp", R, "MCP auth", "where the signing keys are fetched"),

    /* events: client webhooks and GET /events (docs/events.md) */
    B("WEBHOOK_ALLOW_PRIVATE", "false", "events", R, "webhook destinations", "allow http:// and private/loopback addresses"),
    I("WEBHOOK_TIMEOUT_SECONDS", "10", 1, 300, "events", R, "webhook deliveries", "seconds per attempt"),
    I("WEBHOOK_RETRY_BASE_SECONDS", "30", 0, 86400, "events", R, "webhook retries", "first retry delay (doubles, jittered)"),
    I("WEBHOOK_RETRY_MAX_SECONDS", "3600", 0, 86400, "events", R, "webhook retries", "cap of one retry delay"),
    I("WEBHOOK_RETRY_HOURS", "25", 0, 720, "events", R, "webhook retries", "how long a delivery is retried"),
    I("WEBHOOK_WORKERS", "4", 1, 64, "events", R, "webhook deliveries", "deliveries in flight at once"),
    SECRET("WEBHOOK_SECRET", "events", R, "callback_url signatures", "whsec_ secret (default: one kept in the data dir)"),
    I("SSE_HEARTBEAT_SECONDS", "15", 1, 3600, "events", R, "GET /events", "seconds between heartbeats"),
    I("SSE_MAX_STREAMS", "", 0, 100000, "events", R, "GET /events", "open streams at most (default: half of FAXBOT_MAX_CONNECTIONS)"),
    I("SSE_MAX_BUFFER_KB", "256", 4, 65536, "events", R, "GET /events", "a reader further behind is cut off"),
    I("EVENTS_RETENTION_DAYS", "7", 1, 3650, "events", R, "event outbox", "days events are kept"),

    /* SIP trunk and network: shared by the sip (Asterisk) and freeswitch renderers */
    S("SIP_SERVER", "", "trunk", L, "pjsip.conf / FreeSWITCH gateway", "trunk host (a preset may give one)"),
    I("SIP_PORT", "5060", 1, 65535, "trunk", L, "pjsip.conf", "trunk port"),
    S("SIP_CALLER_ID_NAME", "", "trunk", L, "AMI Originate CallerID / gateway origination_caller_id_name",
      "caller ID display name (twilio preset: \"Asterisk PBX\" unless set)"),
    S("SIP_USERNAME", "", "trunk", L, "pjsip.conf / gateway XML", "trunk user"),
    SECRET("SIP_PASSWORD", "trunk", L, "pjsip.conf / gateway XML", "trunk password"),
    S("SIP_FROM_USER", "", "trunk", L, "pjsip.conf / gateway XML", "From user"),
    S("SIP_FROM_DOMAIN", "", "trunk", L, "pjsip.conf / gateway XML", "From domain"),
    E("SIP_TRANSPORT", "udp", "udp|tcp|tls", "network", L, "pjsip.conf transport / gateway register-transport", "udp, tcp or tls"),
    S("SIP_BIND", "0.0.0.0:5060", "network", L, "pjsip.conf transport bind", "address:port Asterisk listens on"),
    S("SIP_EXTERNAL_MEDIA_ADDRESS", "", "network", L, "pjsip.conf external_media_address", "public IP for RTP/UDPTL behind NAT"),
    S("SIP_EXTERNAL_SIGNALING_ADDRESS", "", "network", L, "pjsip.conf external_signaling_address", "public IP for SIP behind NAT"),
    S("SIP_LOCAL_NET", "", "network", L, "pjsip.conf local_net", "comma-separated CIDRs inside the NAT"),
    S("SIP_TLS_CERT_FILE", "", "network", L, "pjsip.conf cert_file", "PEM certificate (SIP_TRANSPORT=tls)"),
    S("SIP_TLS_KEY_FILE", "", "network", L, "pjsip.conf priv_key_file", "PEM private key (SIP_TRANSPORT=tls)"),
    S("SIP_TLS_CA_FILE", "", "network", L, "pjsip.conf ca_list_file", "CA bundle (optional)"),
    I("UDPTL_PORT_START", "4000", 1024, 65535, "network", L, "udptl.conf udptlstart", "T.38 UDPTL port range start"),
    I("UDPTL_PORT_END", "4999", 1024, 65535, "network", L, "udptl.conf udptlend", "T.38 UDPTL port range end"),
    I("RTP_PORT_START", "10000", 1024, 65535, "network", L, "rtp.conf rtpstart", "RTP port range start"),
    I("RTP_PORT_END", "20000", 1024, 65535, "network", L, "rtp.conf rtpend", "RTP port range end"),
};

const int settings_core_n = (int)(sizeof settings_core_rows / sizeof settings_core_rows[0]);
