/* main.c — the `faxbot` command: `serve` runs the gateway; `convert` runs the
 * document pipeline locally; `send`, `status` and `keys` are clients of a running
 * gateway's REST API (cli/cli.c). */
#include "api/api.h"
#include "events/events.h"
#include "backend/backend.h"
#include "backend/backend_plugins.h"
#include "auth/audit.h"
#include "blob/blob.h"
#include "cli/cli.h"
#include "cli/asterisk_config.h"
#include "cli/selftest.h"
#include "cli/doctor.h"
#include "cli/migrate.h"
#include "cli/fsck.h"
#include "cli/freeswitch_config.h"
#include "config/config.h"
#include "document/document.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "mcp/mcp_rest.h"
#include "mcp/mcp_stdio.h"
#include "store/store.h"
#include "config/settings.h"
#include "util/util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "faxbot — a self-hosted fax gateway\n\n"
            "usage:\n"
            "  faxbot serve [--listen HOST:PORT]        run the gateway (config from the environment)\n"
            "  faxbot send --to NUMBER [--wait] FILE    send a fax through a running gateway\n"
            "  faxbot status JOB_ID                     show a job\n"
            "  faxbot events [--last-event-id N] [--json] [--count N]\n"
            "                                           follow the gateway's events (GET /events)\n"
            "  faxbot mcp                               MCP server on stdio for AI assistants (FAXBOT_URL or local)\n"
            "  faxbot keys create --name N --scopes S   make an API key (needs an admin key)\n"
            "  faxbot keys list | revoke ID | rotate ID manage API keys\n"
            "  faxbot convert IN OUT.tif [--standard] [--a4]\n"
            "                                           turn a PDF, text or image into a fax TIFF\n"
            "  faxbot selftest [--transport audio|t38|both] [--ecm on|off|both] [--keep]\n"
            "                                           fax a generated document to itself and check every pixel\n"
            "  faxbot tiff-compare SENT.tif RECEIVED.tif  prove a received fax equals the sent one\n"
            "  faxbot doctor [--wait SECONDS]           check this machine's set-up for the configured backend\n"
            "  faxbot doctor --from-faxbot .env         what of a Faxbot .env carries over, is renamed, needs action\n"
            "  faxbot migrate --to postgresql://… [--storage s3] [--verify-only]\n"
            "                                           copy this SQLite + files installation to PostgreSQL (and S3), verified\n"
            "  faxbot fsck [--json]                     check the database against the stored files (exit 1 on problems)\n"
            "  faxbot asterisk-config --out DIR         render Asterisk pjsip/extensions/manager/udptl configs (SIP_TRUNK_PRESET)\n"
            "  faxbot freeswitch-config --out DIR       render FreeSWITCH gateway, dialplan and event-socket XML\n"
            "  faxbot plugins list|show ID|validate PATH|install PATH|remove ID|enable ID|disable ID\n"
            "                                           plugins: SIP trunk profiles, HTTP providers, native backends\n"
            "  faxbot config show|get NAME|set NAME VALUE|validate|export\n"
            "                                           the settings, on the settings file or (--server) a running gateway\n\n"
            "The client commands reach FAXBOT_URL (default http://127.0.0.1:8080) with the key in\n"
            "FAXBOT_API_KEY (or API_KEY). See README.md for every setting.\n");
}

/* The server secret mixed into API key hashes: FAXBOT_KEY_PEPPER, or a random one
 * kept in the data directory (made on first start). */
static int load_pepper(const config *cfg, char out[65], char *err, size_t errlen)
{
    const char *env = setting_raw("FAXBOT_KEY_PEPPER");
    if (env) {
        if (strlen(env) < 16 || str_copy(out, 65, env)) {
            str_fmt(err, errlen, "FAXBOT_KEY_PEPPER must be 16 to 64 characters");
            return -1;
        }
        return 0;
    }
    char path[2048];
    str_fmt(path, sizeof path, "%s/key-pepper", cfg->data_dir);
    char *data = NULL;
    size_t len = 0;
    if (read_file_all(path, &data, &len, 1024) == 0) {
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r')) data[--len] = 0;
        int bad = len < 16 || str_copy(out, 65, data);
        free(data);
        if (bad) { str_fmt(err, errlen, "%s is damaged; restore it from a backup (API keys depend on it)", path); return -1; }
        return 0;
    }
    unsigned char raw[32];
    if (random_bytes(raw, sizeof raw)) { str_fmt(err, errlen, "random number generator failed"); return -1; }
    hex_encode(raw, sizeof raw, out);
    char line[80];
    str_fmt(line, sizeof line, "%s\n", out);
    if (write_file_atomic(path, line, strlen(line))) {
        str_fmt(err, errlen, "cannot write %s", path);
        return -1;
    }
    chmod(path, 0600);
    return 0;
}

/* True when path was last changed more than an hour ago. */
static bool old_entry(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && sb.st_mtime < time(NULL) - 3600;
}

/* True when the row an artifact directory of area belongs to does not exist. */
static bool no_row(store *st, const char *area, const char *id)
{
    if (!strcmp(area, "outbound")) {
        job_record *rec = malloc(sizeof *rec);
        bool none = rec && store_job_get(st, id, rec) == STORE_NOT_FOUND;
        free(rec);
        return none;
    }
    inbound_record *rec = malloc(sizeof *rec);
    bool none = rec && store_inbound_get(st, id, rec) == STORE_NOT_FOUND;
    free(rec);
    return none;
}

/* Artifact directories of area with no row: a crash between storing the files (in S3
 * too) and writing the row left them. Removed with their S3 objects; with `shared`
 * only those more than an hour old. Returns how many. */
static int sweep_area(const config *cfg, store *st, blob_store *blobs, const char *area, bool shared)
{
    char dir[2048], path[4096];
    str_fmt(dir, sizeof dir, "%s/%s", cfg->data_dir, area);
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 32) continue;
        str_fmt(path, sizeof path, "%s/%s", dir, e->d_name);
        if (shared && !old_entry(path)) continue;
        if (no_row(st, area, e->d_name) && blob_remove_all(blobs, area, e->d_name) == 0) removed++;
    }
    closedir(d);
    return removed;
}

/* Removes what a stop left half-done: uploads and received faxes that never got
 * their row (their S3 objects too), and scratch files. Several nodes on PostgreSQL
 * sharing one FAX_DATA_DIR (local storage) may be in the middle of an upload or a
 * conversion right now: there only what is more than an hour old is left over. With
 * S3 each node's FAX_DATA_DIR is its own cache, so what is in it was this node's. */
static void sweep_orphan_uploads(const config *cfg, store *st, blob_store *blobs)
{
    bool shared = strcmp(store_kind(st), "sqlite") != 0 && strcmp(blob_kind(blobs), "s3") != 0;
    int removed = sweep_area(cfg, st, blobs, "outbound", shared) + sweep_area(cfg, st, blobs, "inbound", shared);
    char tmp[2048], path[4096];
    str_fmt(tmp, sizeof tmp, "%s/tmp", cfg->data_dir);
    DIR *d;
    struct dirent *e;
    if (!shared) {
        remove_tree(tmp);
    } else if ((d = opendir(tmp))) {
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                str_fmt(path, sizeof path, "%s/%s", tmp, e->d_name);
                if (old_entry(path)) remove_tree(path);
            }
        closedir(d);
    }
    if (removed) log_info("removed %d incomplete upload(s) or received fax(es) left by the last stop", removed);
}

/* The parts a process serving faxes holds: store, blobs, jobs and the API. */
typedef struct gateway_core {
    store *st;
    blob_store *blobs;
    jobs *jb;
    events *ev;                  /* client webhooks and GET /events */
    bool api_up;
} gateway_core;

static char g_pepper[65];

/* This node's name in a shared store: FAXBOT_NODE_ID, else <hostname>:<port>. */
static const char *node_name(const config *cfg)
{
    static char name[64];
    if (cfg->node_id[0]) return cfg->node_id;
    char host[48] = "";
    if (gethostname(host, sizeof host - 1) || !host[0]) str_copy(host, sizeof host, "localhost");
    str_fmt(name, sizeof name, "%s:%d", host, cfg->listen_port);
    return name;
}

/* Opens everything below the HTTP server for cfg. 0, or 1 after printing why. */
static int core_open(const config *cfg, gateway_core *core)
{
    char err[512];
    memset(core, 0, sizeof *core);
    if (mkdir_p(cfg->data_dir, 0700)) { fprintf(stderr, "faxbot: cannot create FAX_DATA_DIR %s\n", cfg->data_dir); return 1; }
    if (load_pepper(cfg, g_pepper, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    if (audit_open(cfg->audit_log_enabled, cfg->audit_log_syslog ? NULL : cfg->audit_log_file)) {
        fprintf(stderr, "faxbot: cannot open AUDIT_LOG_FILE %s\n", cfg->audit_log_file);
        return 1;
    }
    audit_sinks sinks = {.text = cfg->audit_log_text, .syslog = cfg->audit_log_syslog,
                         .syslog_address = cfg->audit_log_syslog_address};
    if (audit_configure(&sinks, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    if (cfg->audit_log_syslog && cfg->audit_log_enabled)
        log_info("audit events go to syslog at %s (RFC 5424)", cfg->audit_log_syslog_address);
    core->st = store_open(cfg->database_path, err, sizeof err);
    if (!core->st) { fprintf(stderr, "faxbot: database: %s\n", err); return 1; }
    store_set_node(core->st, node_name(cfg), 0);
    if (store_url_is_pg(cfg->database_path)) {
        char shown[1024];
        store_url_redact(cfg->database_path, shown, sizeof shown);
        log_info("database: PostgreSQL %s, this node is '%s'", shown, store_node_id(core->st));
    }
    core->blobs = cli_open_blobs(cfg, err, sizeof err);
    if (core->blobs && !strcmp(blob_kind(core->blobs), "s3"))
        log_info("storage: S3 bucket %s%s%s, credentials from %s (the files under %s are a cache)", cfg->s3_bucket,
                 cfg->s3_endpoint_url[0] ? " at " : "", cfg->s3_endpoint_url, cfg->aws_credentials_source,
                 cfg->data_dir);
    if (!core->blobs) { fprintf(stderr, "faxbot: storage: %s\n", err); return 1; }
    sweep_orphan_uploads(cfg, core->st, core->blobs);
    core->jb = jobs_start(cfg, core->st, core->blobs, true, err, sizeof err);
    if (!core->jb) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    static char callback_secret[128];
    if (events_callback_secret(cfg, callback_secret, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    core->ev = events_start(cfg, core->st, callback_secret, err, sizeof err);
    if (!core->ev) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    api_deps deps = {.cfg = cfg, .st = core->st, .blobs = core->blobs, .jobs = core->jb, .pepper = g_pepper,
                     .events = core->ev};
    if (api_init(&deps, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    core->api_up = true;
    return 0;
}

static void core_close(gateway_core *core)
{
    if (core->ev) events_stop(core->ev);
    if (core->jb) jobs_stop(core->jb);
    if (core->api_up) api_shutdown();
    store_close(core->st);
    blob_close(core->blobs);
    audit_close();
}

static int cmd_serve(int argc, char **argv)
{
    static config cfg;
    char err[512];
    if (config_load(&cfg, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 2; }
    static const struct option opts[] = {{"listen", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
        if (o == 'l') {
            if (config_set_listen(&cfg, optarg, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 2; }
        } else {
            usage(o == 'h' ? stdout : stderr);
            return o == 'h' ? 0 : 2;
        }
    }
    log_set_level((log_level)cfg.log_level);
    if (cfg.backend_defaulted || !strcmp(cfg.backend, "loopback"))
        log_warn("%s", cfg.backend_defaulted ? cfg.backend_origin
                                             : "FAX_BACKEND=loopback: faxes are delivered to the built-in test "
                                               "receiver and NEVER leave this machine");
    else
        log_info("%s", cfg.backend_origin);
    if (settings_plain_secrets()) {
        char path[4096];
        settings_file_path(environ, path, sizeof path);
        log_warn("the settings file %s holds %d secret(s) as plain text: set FAXBOT_CONFIG_KEY (openssl rand -base64 32) "
                 "and save the settings again to keep them encrypted", path, settings_plain_secrets());
    }

    /* Signals are taken by sigwait in this thread; every thread made later inherits the block. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);   /* a file size limit is an error to report (EFBIG), not a reason to die */
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int rc = 1;
    http_server *srv = NULL;
    gateway_core core;
    if (core_open(&cfg, &core)) goto out;
    int n_routes;
    const http_route *routes = api_routes(&n_routes);
    static cidr_list proxies;
    if (cidr_list_parse(cfg.trusted_proxies, &proxies, err, sizeof err)) { fprintf(stderr, "faxbot: TRUSTED_PROXIES: %s\n", err); goto out; }
    http_server_opts hopts = {.host = cfg.listen_host, .port = cfg.listen_port, .threads = cfg.http_threads,
                              .connection_timeout_s = cfg.http_timeout_s, .max_connections_per_ip = cfg.max_connections_per_ip,
                              .request_timeout_s = cfg.http_request_timeout_s, .min_body_rate = cfg.http_min_body_rate,
                              .max_connections = cfg.max_connections, .trusted_proxies = &proxies,
                              .max_header_bytes = 32768, .routes = routes,
                              .n_routes = n_routes, .on_complete = api_on_request_complete};
    srv = http_server_start(&hopts, err, sizeof err);
    if (!srv) { fprintf(stderr, "faxbot: cannot listen on %s:%d: %s\n", cfg.listen_host, cfg.listen_port, err); goto out; }
    log_info("faxbot listening on http://%s%s%s:%d (backend %s, data in %s)", strchr(cfg.listen_host, ':') ? "[" : "",
             cfg.listen_host, strchr(cfg.listen_host, ':') ? "]" : "", http_server_port(srv), cfg.backend, cfg.data_dir);
    int sig = 0;
    sigwait(&stop, &sig);
    log_info("stopping (signal %d)", sig);
    rc = 0;
out:
    if (srv) http_server_stop(srv);
    core_close(&core);
    curl_global_cleanup();
    return rc;
}

/* `faxbot mcp`: MCP on stdin/stdout for an assistant that starts us as a subprocess.
 * With FAXBOT_URL the tools call that gateway with FAXBOT_API_KEY; without it they
 * run in this process on the local data dir (and this process sends the faxes). */
static int cmd_mcp(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: faxbot mcp   (MCP over stdio; FAXBOT_URL + FAXBOT_API_KEY, or the local FAX_DATA_DIR)\n");
        return 0;
    }
    static config cfg;
    char err[512];
    if (config_load(&cfg, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 2; }
    log_set_level((log_level)cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setting_source url_src;       /* the gateway is used only when FAXBOT_URL is set, not by its default */
    const char *url = settings_value(settings_current(), "FAXBOT_URL", &url_src);
    if (url_src != SOURCE_ENV) url = NULL;
    static mcp_rest rest;
    mcp_ops ops;
    gateway_core core = {0};
    const char *tmpbase = settings_os_env("TMPDIR");
    static char tmp[2048];
    str_copy(tmp, sizeof tmp, tmpbase && *tmpbase ? tmpbase : "/tmp");
    int rc = 1;
    if (url && *url) {
        const char *key = setting_raw("FAXBOT_API_KEY");
        if (!key) key = setting_raw("API_KEY");
        if (str_copy(rest.base_url, sizeof rest.base_url, url) || str_copy(rest.api_key, sizeof rest.api_key, key ? key : "")) {
            fprintf(stderr, "faxbot: FAXBOT_URL or FAXBOT_API_KEY is too long\n");
            goto out;
        }
        mcp_rest_ops(&rest, &ops);
        log_info("faxbot mcp: tools call the gateway at %s", rest.base_url);
    } else {
        if (core_open(&cfg, &core)) goto out;
        api_mcp_local_ops(&ops);
        str_fmt(tmp, sizeof tmp, "%s/tmp", cfg.data_dir);
        mkdir_p(tmp, 0700);
        log_info("faxbot mcp: tools run in this process on %s (backend %s)", cfg.data_dir, cfg.backend);
    }
    mcp_limits limits = {.max_file_bytes = cfg.max_file_size_bytes, .send_wait_s = cfg.mcp_send_wait_s, .tmp_dir = tmp,
                         .allow_file_path = true};
    rc = mcp_stdio_run(&ops, &limits, stdin, stdout, (size_t)(cfg.max_file_size_bytes / 3 * 4) + 1024 * 1024);
out:
    core_close(&core);
    curl_global_cleanup();
    return rc;
}

static int cmd_convert(int argc, char **argv)
{
    fax_resolution res = RES_FINE;
    paper_size paper = PAPER_LETTER;
    static const struct option opts[] = {{"standard", no_argument, 0, 's'}, {"fine", no_argument, 0, 'f'},
                                         {"a4", no_argument, 0, 'a'}, {"letter", no_argument, 0, 'L'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 's') res = RES_STANDARD;
        else if (o == 'f') res = RES_FINE;
        else if (o == 'a') paper = PAPER_A4;
        else if (o == 'L') paper = PAPER_LETTER;
        else return 2;
    }
    if (optind != argc - 2) { fprintf(stderr, "usage: faxbot convert IN OUT.tif [--standard] [--a4]\n"); return 2; }
    const char *in = argv[optind], *out = argv[optind + 1];
    config cfg;
    char err[1024];
    if (config_load(&cfg, err, sizeof err)) { fprintf(stderr, "faxbot: %s\n", err); return 2; }
    FILE *f = fopen(in, "rb");
    if (!f) { fprintf(stderr, "faxbot: cannot read %s\n", in); return 1; }
    unsigned char head[4096], buf[65536];
    size_t head_len = fread(head, 1, sizeof head, f);
    utf8_validator v;
    utf8_validator_init(&v);
    utf8_validator_feed(&v, head, head_len);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) utf8_validator_feed(&v, buf, n);
    fclose(f);
    doc_type type = doc_sniff(head, head_len);
    if (type == DOC_TEXT && !utf8_validator_ok(&v)) type = DOC_UNKNOWN;
    if (type == DOC_UNKNOWN) { fprintf(stderr, "faxbot: %s is not a PDF, UTF-8 text, PNG, JPEG or TIFF\n", in); return 1; }
    const char *tmpbase = settings_os_env("TMPDIR");
    char tmp[4096];
    str_fmt(tmp, sizeof tmp, "%s/faxbot-convert-XXXXXX", tmpbase && *tmpbase ? tmpbase : "/tmp");
    if (!mkdtemp(tmp)) { fprintf(stderr, "faxbot: cannot make a temporary directory\n"); return 1; }
    convert_limits lim = {.gs_path = cfg.gs_path, .timeout_s = cfg.convert_timeout_s, .cpu_s = cfg.convert_timeout_s,
                          .memory_mb = cfg.convert_memory_mb, .max_pages = cfg.convert_max_pages,
                          .parallel = cfg.convert_parallel, .tmp_dir = tmp,
                          .page_errors_warn = cfg.convert_page_errors_warn};
    char warning[512] = "";
    lim.warning = warning;
    lim.warning_len = sizeof warning;
    int pages = 0;
    int rc = doc_convert(in, type, NULL, out, res, paper, &lim, &pages, err, sizeof err);
    tiff_info info = {0};
    if (rc == 0) rc = doc_tiff_check_faxable(out, &info, err, sizeof err);
    remove_tree(tmp);
    if (rc) { fprintf(stderr, "faxbot: %s\n", err); return 1; }
    if (warning[0]) fprintf(stderr, "faxbot: warning: %s\n", warning);
    printf("%s: %d page%s, %d px, %s\n", out, info.pages, info.pages == 1 ? "" : "s", info.width, info.fine ? "fine" : "standard");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) { usage(stdout); return 0; }
    if (!strcmp(cmd, "--version")) { printf("faxbot 0.1.0\n"); return 0; }
    /* The settings table (core rows + every backend's), then default < file < env. */
    backend_plugins_init();
    backend_register_settings();
    bool client = !strcmp(cmd, "send") || !strcmp(cmd, "status") || !strcmp(cmd, "keys");
    char serr[1024];
    /* The plugins (bundled + $FAX_DATA_DIR/plugins) and their settings rows, before the
     * settings file is read (it may hold their values). */
    if (!client && backend_plugins_start(environ, serr, sizeof serr)) fprintf(stderr, "faxbot: plugins: %s\n", serr);
    if (settings_load(environ, serr, sizeof serr) && client) {
        /* A client only needs FAXBOT_URL and its key: the environment is enough. The
         * others stop in config_load with this message and their own exit code, so
         * that nothing runs on half the settings. */
        settings_set_load_error(NULL);
        settings_snapshot *env_only = settings_build(NULL, environ, serr, sizeof serr);
        if (env_only) settings_set_current(env_only);
    }
    if (!strcmp(cmd, "serve")) return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "plugins")) return cli_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "mcp")) return cmd_mcp(argc - 1, argv + 1);
    if (!strcmp(cmd, "selftest")) return cli_selftest(argc - 1, argv + 1);
    if (!strcmp(cmd, "doctor")) return cli_doctor(argc - 1, argv + 1);
    if (!strcmp(cmd, "migrate")) return cli_migrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "fsck")) return cli_fsck(argc - 1, argv + 1);
    if (!strcmp(cmd, "tiff-compare")) return cli_tiff_compare(argc - 1, argv + 1);
    if (!strcmp(cmd, "asterisk-config")) return cli_asterisk_config(argc - 1, argv + 1);
    if (!strcmp(cmd, "freeswitch-config")) return cli_freeswitch_config(argc - 1, argv + 1);
    if (!strcmp(cmd, "config")) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = cli_config(argc - 1, argv + 1);
        curl_global_cleanup();
        return rc;
    }
    if (!strcmp(cmd, "send") || !strcmp(cmd, "status") || !strcmp(cmd, "keys") || !strcmp(cmd, "events")) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = !strcmp(cmd, "send") ? cli_send(argc - 1, argv + 1)
               : !strcmp(cmd, "status") ? cli_status(argc - 1, argv + 1)
               : !strcmp(cmd, "events") ? cli_events(argc - 1, argv + 1) : cli_keys(argc - 1, argv + 1);
        curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, "faxbot: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
