/* doctor.c — `faxbot doctor [--wait SECONDS]`: reads the configuration exactly as
 * `faxbot serve` would, then checks what the gateway needs on this machine: the
 * data directory, the S3 bucket (STORAGE_BACKEND=s3), the database, Ghostscript, the document renderer, and the backend
 * (created on its own, given a few seconds to connect, then asked for its readiness
 * and its deep diagnostics: AMI login and modules, ESL auth and mod_spandsp, the
 * provider accepting the credentials, …). Prints one line per check and exits 0
 * only if everything is usable. Safe to run beside a running server. */
#include "cli/doctor.h"
#include "cli/faxbot_env.h"
#include "backend/backend.h"
#include "blob/blob.h"
#include "config/config.h"
#include "store/store.h"
#include "util/sandbox.h"
#include "util/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void line(bool ok, const char *what, const char *detail)
{
    printf("%-5s %-14s %s\n", ok ? "ok" : "FAIL", what, detail);
    if (!ok) failures++;
}

/* Runs a program with one argument (in the sandbox, 10 s at most) and returns the
 * first line it prints; its whole answer is read so it never blocks on a full pipe. */
static int first_line_of(const char *prog, const char *arg, char *out, size_t outlen)
{
    char exe[PATH_MAX], err[256];
    int fd[2];
    out[0] = 0;
    if (sandbox_resolve(prog, exe, sizeof exe) != 0 || pipe2(fd, O_CLOEXEC)) return -1;
    char *argv[] = {(char *)prog, (char *)arg, NULL};
    sandbox_spec spec = {.exe = exe, .argv = argv, .stdin_fd = -1, .stdout_fd = fd[1], .stderr_fd = fd[1], .cpu_s = 10};
    sandbox_proc p;
    int rc = sandbox_start(&p, &spec, err, sizeof err);
    close(fd[1]);
    if (rc) { close(fd[0]); return -1; }
    int64_t deadline = mono_ms() + 10000;
    size_t got = 0;
    for (;;) {
        int64_t left = deadline - mono_ms();
        struct pollfd pfd = {fd[0], POLLIN, 0};
        if (left <= 0 || poll(&pfd, 1, (int)left) == 0) break;
        char buf[256];
        ssize_t n = read(fd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n && got + 1 < outlen; i++) out[got++] = buf[i];
    }
    close(fd[0]);
    bool ended = sandbox_wait(&p, deadline);
    sandbox_close(&p);
    out[got] = 0;
    out[strcspn(out, "\r\n")] = 0;
    return ended && sandbox_succeeded(&p) ? 0 : -1;
}

static report_verdict ignore_outcome(void *ctx, const char *job_id, const backend_outcome *o)
{
    (void)ctx; (void)job_id; (void)o;
    return REPORT_REFUSED;
}

static int refuse_inbound(void *ctx, const inbound_delivery *d, char *id, char *err, size_t errlen)
{
    (void)ctx; (void)d; (void)id;
    str_fmt(err, errlen, "doctor does not store faxes");
    return -1;
}

int cli_doctor(int argc, char **argv)
{
    int wait_s = 5;
    static const struct option opts[] = {{"wait", required_argument, 0, 'w'}, {"from-faxbot", required_argument, 0, 'f'},
                                         {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "w:f:", opts, NULL)) != -1) {
        if (o == 'w') wait_s = atoi(optarg);
        else if (o == 'f') return faxbot_env_report(optarg);
        else { fprintf(stderr, "usage: faxbot doctor [--wait SECONDS] | faxbot doctor --from-faxbot .env\n"); return 2; }
    }
    static config cfg;
    char err[1024];
    if (config_load(&cfg, err, sizeof err)) {
        line(false, "config", err);
        return 1;
    }
    char buf[2400];
    str_fmt(buf, sizeof buf, "backend %s, data in %s", cfg.backend, cfg.data_dir);
    line(true, "config", buf);
    if (cfg.backend_defaulted || !strcmp(cfg.backend, "loopback"))
        printf("%-5s %-14s %s\n", "WARN", "backend", cfg.backend_defaulted ? cfg.backend_origin
               : "FAX_BACKEND=loopback: faxes go to the built-in test receiver and never leave this machine");
    else
        printf("%-5s %-14s %s\n", "ok", "backend", cfg.backend_origin);

    if (mkdir_p(cfg.data_dir, 0700) == 0) {
        s3_settings s3;
        config_s3_settings(&cfg, &s3);
        bool on_s3 = !strcmp(cfg.storage_backend, "s3");
        blob_store *b = on_s3 ? blob_s3_open(cfg.data_dir, &s3, err, sizeof err) : blob_fs_open(cfg.data_dir, err, sizeof err);
        if (b && on_s3) {
            /* the bucket, with these credentials: written, read back, deleted */
            char code[64];
            if (blob_check_remote(b, 0, code, sizeof code, err, sizeof err) == 0) {
                str_fmt(buf, sizeof buf, "bucket '%s' at %s: a probe object written, read back and deleted "
                        "(credentials from %s)", cfg.s3_bucket, cfg.s3_endpoint_url[0] ? cfg.s3_endpoint_url : "AWS",
                        cfg.aws_credentials_source);
                line(true, "s3", buf);
            } else {
                line(false, "s3", err);
            }
        } else if (on_s3) {
            line(false, "s3", err);
        }
        int64_t free_bytes = 0;
        if (b && blob_check(b, &free_bytes, err, sizeof err) == 0) {
            str_fmt(buf, sizeof buf, "%s is writable, %lld MB free", cfg.data_dir, (long long)(free_bytes >> 20));
            line(free_bytes > 100LL * 1024 * 1024, "storage", buf);
        } else {
            line(false, "storage", err);
        }
        blob_close(b);
    } else {
        str_fmt(buf, sizeof buf, "cannot create FAX_DATA_DIR %s", cfg.data_dir);
        line(false, "storage", buf);
    }

    store *st = store_open(cfg.database_path, err, sizeof err);
    char shown[1024];
    store_url_redact(cfg.database_path, shown, sizeof shown);
    if (st && store_ping(st, err, sizeof err) == 0) line(true, "database", shown);
    else line(false, "database", err);
    store_close(st);

    char ver[256];
    if (first_line_of(cfg.gs_path, "--version", ver, sizeof ver) == 0) {
        str_fmt(buf, sizeof buf, "%s %s", cfg.gs_path, ver);
        line(true, "ghostscript", buf);
    } else {
        str_fmt(buf, sizeof buf, "'%s' does not run: install the ghostscript package or set GHOSTSCRIPT_PATH", cfg.gs_path);
        line(false, "ghostscript", buf);
    }

    const backend_ops *ops = backend_find(cfg.backend);
    if (!ops) {
        backend_unknown(cfg.backend, buf, sizeof buf);
        line(false, "backend", buf);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    backend_sink sink = {.report = ignore_outcome, .receive = refuse_inbound, .ctx = NULL};
    backend *be = ops->create(&cfg, sink, err, sizeof err);
    if (!be) {
        line(false, "backend", err);
        curl_global_cleanup();
        return 1;
    }
    /* Connection-based backends log in in the background: give them a moment. */
    char msg[2048] = "";
    int64_t deadline = mono_ms() + (int64_t)wait_s * 1000;
    int ready;
    while ((ready = ops->check(be, msg, sizeof msg)) != 0 && mono_ms() < deadline) usleep(200 * 1000);
    str_fmt(buf, sizeof buf, "%s: %s", ops->name, msg[0] ? msg : (ready == 0 ? "ready" : "not ready"));
    line(ready == 0, "backend", buf);
    if (ops->warning && ops->warning(be, msg, sizeof msg)) printf("%-5s %-14s %s\n", "WARN", "backend", msg);
    if (ops->diagnose) {
        json_t *report = json_object();
        int d = ops->diagnose(be, report);
        char *text = json_dumps(report, JSON_COMPACT);
        line(d == 0, "diagnostics", text ? text : "{}");
        free(text);
        json_decref(report);
    }
    ops->destroy(be);
    curl_global_cleanup();
    printf("%s\n", failures ? "doctor: problems found (see FAIL lines)" : "doctor: everything needed is in place");
    return failures ? 1 : 0;
}
