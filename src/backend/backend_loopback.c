/* backend_loopback.c — the "loopback" backend: sends each job's TIFF-F through the
 * built-in spandsp fax engine to a second, in-process receiving fax machine (audio or
 * T.38, optional line impairment), synchronously on the calling worker thread. The
 * receiver's TIFF is reported back so the job layer can file it as an inbound fax.
 * Settings come from the environment (read once in create):
 *   LOOPBACK_TRANSPORT   audio|t38              (default audio)
 *   LOOPBACK_ECM         true|false             (default true)
 *   LOOPBACK_IMPAIRMENT  audio: white noise in dBm0, -120..0, 0 = clean line (spandsp
 *                        detects signals by energy: -55 is harmless, about -48 starts
 *                        to fail, -46 or louder fails the call, e.g. -20 = hopeless);
 *                        t38: packet loss percent 0..100           (default 0)
 *   LOOPBACK_SPANDSP_LOG true|false: spandsp protocol trace to the debug log (default false) */
#include "backend/backend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config/config.h"
#include "fax/fax_engine.h"
#include "util/util.h"

#define LOOPBACK_RX_NAME "received.tiff"
#define LOOPBACK_RX_FALLBACK_ID "Faxbot Loopback"

struct backend {
    backend_sink sink;
    fax_transport transport;
    bool ecm;
    double impairment;
    bool spandsp_log;
    char station_id[FAX_STATION_ID_MAX + 1];   /* FAX_LOCAL_STATION_ID */
    char header[FAX_HEADER_MAX + 1];           /* FAX_HEADER ("" = engine default) */
};

/* ---- settings ---- */

static int read_settings(backend *b, char *err, size_t errlen)
{
    const char *t = setting_raw("LOOPBACK_TRANSPORT");
    if (!t || !t[0] || strcasecmp(t, "audio") == 0) {
        b->transport = FAX_TRANSPORT_AUDIO;
    } else if (strcasecmp(t, "t38") == 0 || strcasecmp(t, "t.38") == 0) {
        b->transport = FAX_TRANSPORT_T38;
    } else {
        str_fmt(err, errlen, "LOOPBACK_TRANSPORT must be audio or t38");
        return -1;
    }
    if (setting_bool("LOOPBACK_ECM", &b->ecm, err, errlen) != 0
        || setting_bool("LOOPBACK_SPANDSP_LOG", &b->spandsp_log, err, errlen) != 0)
        return -1;

    b->impairment = 0;
    const char *imp = setting_raw("LOOPBACK_IMPAIRMENT");
    if (imp && imp[0]) {
        char *end = NULL;
        errno = 0;
        double v = strtod(imp, &end);
        bool number = errno == 0 && end != imp && *end == '\0' && isfinite(v);
        if (b->transport == FAX_TRANSPORT_AUDIO && (!number || v > 0 || v < -120)) {
            str_fmt(err, errlen, "LOOPBACK_IMPAIRMENT must be a noise level in dBm0 from -120 to 0 "
                                 "for the audio transport (0 = clean line, -20 = heavy noise)");
            return -1;
        }
        if (b->transport == FAX_TRANSPORT_T38 && (!number || v < 0 || v > 100)) {
            str_fmt(err, errlen, "LOOPBACK_IMPAIRMENT must be a packet loss percentage from 0 to 100 "
                                 "for the t38 transport");
            return -1;
        }
        b->impairment = v;
    }
    return 0;
}

static backend *lb_create(const struct config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof(*b));
    if (!b) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    b->sink = sink;
    if (read_settings(b, err, errlen) != 0) {
        free(b);
        return NULL;
    }
    if (cfg) {
        fax_clean_text(cfg->station_id, b->station_id, FAX_STATION_ID_MAX);
        fax_clean_text(cfg->header_text, b->header, FAX_HEADER_MAX);
    }
    return b;
}

static void describe(const backend *b, char *out, size_t outlen)
{
    char line[64];
    if (b->transport == FAX_TRANSPORT_AUDIO) {
        if (b->impairment < 0)
            str_fmt(line, sizeof(line), "noise at %g dBm0", b->impairment);
        else
            str_fmt(line, sizeof(line), "clean line");
    } else {
        str_fmt(line, sizeof(line), "%g%% packet loss", b->impairment);
    }
    str_fmt(out, outlen, "loopback fax engine ready (spandsp, %s, ECM %s, %s)",
            b->transport == FAX_TRANSPORT_AUDIO ? "audio" : "T.38", b->ecm ? "on" : "off", line);
}

static int lb_check(backend *b, char *msg, size_t msglen)
{
    describe(b, msg, msglen);
    return 0;
}

static void lb_destroy(backend *b)
{
    free(b);
}

/* ---- sending ---- */

typedef struct {
    backend *b;
    const backend_job *job;
    const char *provider_sid;
} page_ctx;

static void on_page(void *user_data, int pages_sent)
{
    page_ctx *pc = user_data;
    backend_outcome o = outcome_progress(pc->job->attempt, pc->provider_sid, pages_sent);
    pc->b->sink.report(pc->b->sink.ctx, pc->job->job_id, &o);
}

static void report_failure(backend *b, const backend_job *job, const char *sid, const char *reason,
                           bool transient, const char *message)
{
    backend_outcome o = outcome_failure(job->attempt, sid, reason, transient, message);
    b->sink.report(b->sink.ctx, job->job_id, &o);
}

/* The receiver writes its copy next to the job's files, and the job layer then
 * keeps it as an inbound fax (a TIFF and a PDF): room for about three times the
 * sent image plus a margin. Without it the call is not made, and a call that went
 * wrong while the disk filled is not the line's fault: both are reported as
 * `storage_full`, which the job layer treats as the gateway's condition (the job
 * waits, no attempt spent) rather than the fax's. */
#define RX_SPACE_MARGIN (256LL << 10)

static bool rx_space_ok(const char *tx_tiff, const char *rx_path)
{
    struct stat st;
    struct statvfs vfs;
    char dir[1200];
    const char *slash = strrchr(rx_path, '/');
    str_fmt(dir, sizeof dir, "%.*s", slash ? (int)(slash - rx_path) : 1, slash ? rx_path : ".");
    if (statvfs(dir, &vfs) != 0) return true;       /* cannot tell: let the call show it */
    long long need = RX_SPACE_MARGIN + (stat(tx_tiff, &st) == 0 ? 3LL * st.st_size : 0);
    return (long long)vfs.f_bavail * (long long)vfs.f_frsize >= need;
}

static void report_storage_full(backend *b, const backend_job *job, const char *sid, const char *what)
{
    char msg[200];
    str_fmt(msg, sizeof msg, "the gateway's disk has no room for the received copy (%s)", what);
    report_failure(b, job, sid, "storage_full", true, msg);
}

/* Reproducible per job and attempt, so a failing run can be replayed exactly. */
static uint32_t job_seed(const backend_job *job)
{
    uint32_t h = 2166136261u;
    for (const char *p = job->job_id ? job->job_id : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h ^ ((uint32_t)job->attempt * 0x9e3779b9u);
}

/* <directory of the job's TIFF>/received.tiff */
static int received_path(const char *tiff_path, char *out, size_t outlen)
{
    const char *slash = strrchr(tiff_path, '/');
    if (!slash)
        return str_copy(out, outlen, LOOPBACK_RX_NAME);
    return str_fmt(out, outlen, "%.*s/%s", (int)(slash - tiff_path), tiff_path, LOOPBACK_RX_NAME);
}

static int lb_submit(backend *b, const backend_job *job)
{
    char sid[80], rx_path[1200];
    str_fmt(sid, sizeof(sid), "loopback-%s", job->job_id ? job->job_id : "");
    if (!job->tiff_path || !job->tiff_path[0]) {
        report_failure(b, job, sid, "file_error", false, "the loopback backend needs a TIFF-F of the document");
        return -1;
    }
    if (received_path(job->tiff_path, rx_path, sizeof(rx_path)) != 0) {
        report_failure(b, job, sid, "file_error", false, "the job's directory path is too long");
        return -1;
    }

    if (!rx_space_ok(job->tiff_path, rx_path)) {
        report_storage_full(b, job, sid, "before the call");
        return -1;
    }

    backend_outcome acc = outcome_accepted(job->attempt, sid);
    b->sink.report(b->sink.ctx, job->job_id, &acc);

    /* The far end answers with the dialled number as its CSI, like a real fax machine. */
    char rx_id[FAX_STATION_ID_MAX + 1];
    fax_clean_text(job->to, rx_id, FAX_STATION_ID_MAX);
    if (!rx_id[0])
        str_copy(rx_id, sizeof(rx_id), LOOPBACK_RX_FALLBACK_ID);
    const char *tx_id = job->station_id && job->station_id[0] ? job->station_id : b->station_id;
    const char *header = job->header_text && job->header_text[0] ? job->header_text
                         : b->header[0] ? b->header : NULL;

    page_ctx pc = { b, job, sid };
    fax_loopback_opts o = {
        .tx_tiff = job->tiff_path, .rx_tiff = rx_path, .transport = b->transport, .ecm = b->ecm,
        .impairment = b->impairment, .seed = job_seed(job), .tx_station_id = tx_id,
        .rx_station_id = rx_id, .header_text = header,
        .max_line_seconds = FAX_DEFAULT_MAX_LINE_S, .on_page = on_page, .on_page_user_data = &pc,
        .debug_log = b->spandsp_log,
    };
    fax_result r;
    char err[256];
    int64_t t0 = mono_ms();
    if (fax_loopback_run(&o, &r, err, sizeof(err)) != 0) {
        unlink(rx_path);
        if (!rx_space_ok(job->tiff_path, rx_path)) report_storage_full(b, job, sid, err);
        else report_failure(b, job, sid, "provider_error", true, err);
        return -1;
    }
    if (!rx_space_ok(job->tiff_path, rx_path)) {        /* the disk filled during the call */
        unlink(rx_path);
        report_storage_full(b, job, sid, r.success ? "the copy may be cut short" : r.completion_text);
        return 0;
    }
    log_debug("loopback job %s: %s, %.1f s line time in %lld ms", job->job_id ? job->job_id : "?",
              r.success ? "delivered" : r.failure_reason, r.line_seconds, (long long)(mono_ms() - t0));

    if (r.success) {
        log_warn("loopback job %s: delivered to the built-in test receiver (FAX_BACKEND=loopback): this fax did NOT "
                 "leave the machine", job->job_id ? job->job_id : "?");
        backend_outcome o_ok = outcome_success(job->attempt, sid, r.pages_sent);
        o_ok.message = r.completion_text;
        o_ok.duration_s = r.line_seconds;
        o_ok.bit_rate = r.bit_rate;
        o_ok.ecm = r.ecm_used ? 1 : 0;
        o_ok.remote_station_id = r.remote_station_id;
        o_ok.received_tiff = rx_path;
        b->sink.report(b->sink.ctx, job->job_id, &o_ok);
        return 0;
    }
    unlink(rx_path);   /* a half-received fax is not an inbound fax */
    char msg[200];
    str_fmt(msg, sizeof(msg), "%s (T.30 code %d)", r.completion_text, r.completion_code);
    backend_outcome o_fail = outcome_failure(job->attempt, sid, r.failure_reason, r.transient, msg);
    o_fail.pages = r.pages_sent;
    o_fail.duration_s = r.line_seconds;
    /* spandsp keeps its initial rate when nothing was sent */
    o_fail.bit_rate = r.pages_sent > 0 ? r.bit_rate : -1;
    o_fail.ecm = r.pages_sent > 0 ? (r.ecm_used ? 1 : 0) : -1;
    o_fail.remote_station_id = r.remote_station_id[0] ? r.remote_station_id : NULL;
    b->sink.report(b->sink.ctx, job->job_id, &o_fail);
    return 0;
}

static const setting_def loopback_settings[] = {
    SETTING_ROW_ENUM("loopback", "LOOPBACK_TRANSPORT", "audio", "audio|t38|t.38", "engine", "audio or t38"),
    SETTING_ROW_BOOL("loopback", "LOOPBACK_ECM", "true", "engine", "error correction mode"),
    SETTING_ROW_BOOL("loopback", "LOOPBACK_SPANDSP_LOG", "false", "engine", "spandsp's log on stderr"),
    SETTING_ROW_STR("loopback", "LOOPBACK_IMPAIRMENT", "", "simulated line", "noise dBm0 (audio) or loss % (t38)"),
    SETTING_END,
};

const backend_ops backend_loopback_ops = {
    .name = "loopback",
    .needs_tiff = true,
    .create = lb_create,
    .submit = lb_submit,
    .check = lb_check,
    .destroy = lb_destroy,
    .settings = loopback_settings,
};
