/* native_echo.c — the example native plugin (docs/plugins-native.md): a backend that
 * "sends" a fax by delivering its PDF into an outbox folder (one file per attempt,
 * written whole and renamed into place), and — with echo_inbound=true — hands the same
 * document back to the gateway as a received fax, so one send shows both directions of
 * the sink. Built against include/faxbot_plugin.h only; it never sees the gateway's
 * own headers.
 *
 * Settings (config_schema): outbox_dir (default <FAX_DATA_DIR>/native-echo-outbox),
 * echo_inbound (true|false), reject_prefix (numbers starting with it are refused as
 * invalid_number: a final failure, for tests and demonstrations). */
#include "faxbot_plugin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct echo {
    const faxbot_host *host;
    char outbox[1024];
    int echo_inbound;
    char reject_prefix[32];
} echo;

static void say(const echo *e, int level, const char *msg)
{
    e->host->log(e->host->ctx, level, msg);
}

static void *echo_create(const faxbot_host *host, char *err, size_t errlen)
{
    echo *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->host = host;
    const char *dir = host->config(host->ctx, "outbox_dir");
    if (dir[0]) snprintf(e->outbox, sizeof e->outbox, "%s", dir);
    else snprintf(e->outbox, sizeof e->outbox, "%s/native-echo-outbox", host->data_dir);
    e->echo_inbound = !strcmp(host->config(host->ctx, "echo_inbound"), "true");
    snprintf(e->reject_prefix, sizeof e->reject_prefix, "%s", host->config(host->ctx, "reject_prefix"));
    if (mkdir(e->outbox, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the outbox %s: %s", e->outbox, strerror(errno));
        free(e);
        return NULL;
    }
    return e;
}

/* Copies src to dst (via dst.tmp + rename). 0 or -1. */
static int copy_file(const char *src, const char *dst)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    FILE *in = fopen(src, "rb");
    if (!in) return -1;
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    char buf[65536];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) bad = 1;
    if (ferror(in)) bad = 1;
    fclose(in);
    if (fflush(out) != 0 || fsync(fileno(out)) != 0) bad = 1;
    if (fclose(out) != 0) bad = 1;
    if (bad || rename(tmp, dst) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int echo_submit(void *inst, const faxbot_job *job)
{
    echo *e = inst;
    char sid[96], path[1200], msg[1400];
    snprintf(sid, sizeof sid, "echo-%s-%d", job->job_id, job->attempt);
    if (e->reject_prefix[0] && !strncmp(job->to, e->reject_prefix, strlen(e->reject_prefix))) {
        faxbot_outcome o = {FAXBOT_OUTCOME_FAILURE, job->attempt, NULL, "invalid_number", 0,
                            "native-echo: numbers with this prefix are refused (reject_prefix)", -1};
        e->host->report(e->host->ctx, job->job_id, &o);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s-%d.pdf", e->outbox, job->job_id, job->attempt);
    if (copy_file(job->pdf_path, path) != 0) {
        snprintf(msg, sizeof msg, "native-echo: could not write %s: %s", path, strerror(errno));
        faxbot_outcome o = {FAXBOT_OUTCOME_FAILURE, job->attempt, NULL, "file_error", 0, msg, -1};
        e->host->report(e->host->ctx, job->job_id, &o);
        return -1;
    }
    snprintf(msg, sizeof msg, "delivered job %s attempt %d to %s", job->job_id, job->attempt, path);
    say(e, 1, msg);
    if (e->echo_inbound) {   /* first, so that the received fax is there when the job is final */
        char inbound_id[33] = "", err[300] = "";
        faxbot_inbound in = {sid, job->caller_id[0] ? job->caller_id : "+15550000000", job->to, path, "pdf"};
        if (e->host->receive(e->host->ctx, &in, inbound_id, err, sizeof err) != 0) {
            snprintf(msg, sizeof msg, "echo to the inbox failed: %s", err);
            say(e, 2, msg);
        }
    }
    faxbot_outcome ok = {FAXBOT_OUTCOME_SUCCESS, job->attempt, sid, NULL, 0, NULL, job->pages};
    e->host->report(e->host->ctx, job->job_id, &ok);
    return 0;
}

static int echo_check(void *inst, char *msg, size_t msglen)
{
    echo *e = inst;
    if (access(e->outbox, W_OK) != 0) {
        snprintf(msg, msglen, "native-echo: the outbox %s is not writable", e->outbox);
        return -1;
    }
    snprintf(msg, msglen, "native-echo: faxes are delivered into %s%s", e->outbox,
             e->echo_inbound ? " and echoed to the inbox" : "");
    return 0;
}

static void echo_destroy(void *inst)
{
    free(inst);
}

static const faxbot_plugin table = {
    .abi_version = FAXBOT_PLUGIN_ABI_VERSION,
    .id = "faxbot-native-echo",
    .needs_tiff = 0,
    .async = 0,
    .create = echo_create,
    .submit = echo_submit,
    .check = echo_check,
    .destroy = echo_destroy,
};

const faxbot_plugin *faxbot_plugin_entry(void)
{
    return &table;
}
