/* backend_freeswitch.c — FAX_BACKEND=freeswitch: faxes go out through the user's
 * FreeSWITCH (mod_spandsp) over the Event Socket (src/esl/).
 *
 * Outbound: submit sends `bgapi originate {…}sofia/gateway/<gw>/<number>
 * &txfax(<tiff>)` with our own Job-UUID and origination_uuid, so every event of the
 * call can be matched before FreeSWITCH even answers. The result comes from
 * whichever arrives first of: BACKGROUND_JOB "-ERR <cause>" (call never
 * answered), CUSTOM spandsp::txfaxresult, CHANNEL_HANGUP_COMPLETE (variable_fax_*
 * or Hangup-Cause), or Faxbot's documented api_hangup_hook posting to
 * /_internal/freeswitch/outbound_result. The first one finishes the call; the
 * others find it finished and change nothing.
 * After the event socket comes back, every call still open is checked with
 * `api uuid_exists`: alive calls keep going; calls that ended meanwhile (their
 * result lost) are failed as result_unknown (not retried: the fax may have gone).
 *
 * Several nodes (one shared store): only the node holding the lease
 * "pbx:esl:<host>:<port>" (pbx_lease.h) is on that event socket, originates and
 * follows the calls; the others stay off it (standby: backend_ops.standby) until the
 * holder dies, then one takes the in-flight calls over through resume(), as after a
 * restart.
 *
 * Inbound: the rendered dialplan (faxbot freeswitch-config) answers, runs rxfax
 * into FREESWITCH_SPOOL_DIR and posts to /_internal/freeswitch/inbound; the file
 * must lie inside that directory.
 *
 * Settings (read in create):
 *   FREESWITCH_ESL_HOST / _PORT / _PASSWORD   127.0.0.1 / 8021 / ClueCon
 *   FREESWITCH_GATEWAY_NAME                   gw_signalwire (sofia gateway)
 *   FREESWITCH_CALLER_ID_NUMBER               origination_caller_id_number ("" = none)
 *   FREESWITCH_T38_ENABLE                     true: fax_enable_t38 + fax_enable_t38_request
 *   FREESWITCH_FAX_ECM                        true: fax_use_ecm
 *   FREESWITCH_ORIGINATE_TIMEOUT              60 s ring time
 *   FREESWITCH_MAX_CHANNELS                   0 = no limit; else calls at once
 *   FREESWITCH_SPOOL_DIR                      /var/spool/freeswitch/fax (inbound TIFFs)
 *   FREESWITCH_INBOUND_SECRET or ASTERISK_INBOUND_SECRET (Faxbot's name): X-Internal-Secret
 */
#include "backend/backend.h"
#include "backend/pbx_intake.h"
#include "backend/pbx_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/settings.h"
#include "esl/esl_client.h"
#include "esl/esl_fax.h"
#include "esl/esl_settings.h"
#include "esl/esl_render.h"
#include "fax/fax_engine.h"
#include "plugins/sip_trunk.h"
#include "util/json_get.h"
#include "util/util.h"

#define FS_EVENTS "BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE CUSTOM spandsp::txfaxresult spandsp::rxfaxresult" \
    " spandsp::txfaxpageresult"
#define FS_FINISHED_RING 512
#define FS_CMD_TIMEOUT_MS 10000

typedef struct call {
    struct call *next;
    char job_id[33];
    char chan_uuid[37];
    char job_uuid[37];
    int64_t answered_ms;        /* mono ms when BACKGROUND_JOB said +OK; 0 = not yet */
    bool checking;              /* a reconciliation is looking at it */
} call;

typedef struct finished {
    char job_id[33];
    char chan_uuid[37];
} finished;

struct backend {
    backend_sink sink;
    char data_dir[1024];
    char public_url[512];        /* PUBLIC_API_URL: the hooks' default URL (apply renders them) */
    bool inbound_enabled;
    char station_id[FAX_STATION_ID_MAX + 1];
    char header[FAX_HEADER_MAX + 1];

    char host[256];
    long port;
    char password[256];
    char gateway[80];
    char caller_id[32];
    bool t38, ecm;
    long originate_timeout, max_channels;
    char spool_dir[1024];
    char secret_fs[256], secret_ast[256];
    const sip_trunk_profile *trunk;  /* SIP_TRUNK_PRESET: the provider's SIP error meanings (may be NULL) */
    pbx_intake intake;           /* the spool-file hand-off, shared with the sip backend */

    esl_client *esl;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    call *calls;
    int n_calls;
    finished ring[FS_FINISHED_RING];
    int ring_next;
    bool reconcile, stop;
    pthread_t maint;
    bool maint_started;
    pbx_lease lease;             /* several nodes: the event socket's */
    bool leased;                 /* pbx_lease_start ran (fs_create) */
};

/* ---- the call table ---- */

static call *find_call(backend *b, const char *job_id, const char *chan_uuid, const char *job_uuid)
{
    for (call *c = b->calls; c; c = c->next) {
        if (job_id && *job_id && !strcmp(c->job_id, job_id)) return c;
        if (chan_uuid && *chan_uuid && !strcasecmp(c->chan_uuid, chan_uuid)) return c;
        if (job_uuid && *job_uuid && !strcasecmp(c->job_uuid, job_uuid)) return c;
    }
    return NULL;
}

static bool in_ring(backend *b, const char *job_id, const char *chan_uuid)
{
    for (int i = 0; i < FS_FINISHED_RING; i++) {
        const finished *f = &b->ring[i];
        if (!f->job_id[0]) continue;
        if (job_id && *job_id && !strcmp(f->job_id, job_id)
            && (!chan_uuid || !*chan_uuid || !strcasecmp(f->chan_uuid, chan_uuid)))
            return true;
        if ((!job_id || !*job_id) && chan_uuid && *chan_uuid && !strcasecmp(f->chan_uuid, chan_uuid)) return true;
    }
    return false;
}

/* Removes c from the table (lock held) and remembers it as finished. */
static void retire(backend *b, call *c)
{
    for (call **pp = &b->calls; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            b->n_calls--;
            break;
        }
    }
    finished *f = &b->ring[b->ring_next];
    b->ring_next = (b->ring_next + 1) % FS_FINISHED_RING;
    str_copy(f->job_id, sizeof f->job_id, c->job_id);
    str_copy(f->chan_uuid, sizeof f->chan_uuid, c->chan_uuid);
    free(c);
}

static call *add_call(backend *b, const char *job_id, const char *chan_uuid, const char *job_uuid)
{
    call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    str_copy(c->job_id, sizeof c->job_id, job_id);
    str_copy(c->chan_uuid, sizeof c->chan_uuid, chan_uuid);
    str_copy(c->job_uuid, sizeof c->job_uuid, job_uuid ? job_uuid : "");
    c->next = b->calls;
    b->calls = c;
    b->n_calls++;
    return c;
}

static void new_uuid(char out[37])
{
    unsigned char r[16];
    if (random_bytes(r, sizeof r)) {
        /* never reused: time and address make it unique enough for correlation */
        int64_t t = now_ms();
        memcpy(r, &t, sizeof t);
        uintptr_t a = (uintptr_t)out;
        memcpy(r + 8, &a, sizeof a < 8 ? sizeof a : 8);
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    char hex[33];
    hex_encode(r, sizeof r, hex);
    str_fmt(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* ---- outcomes ---- */

static backend_outcome blank_outcome(outcome_kind k, const char *sid)
{
    backend_outcome o = outcome_accepted(0, sid);
    o.kind = k;
    o.provider_sid = sid;
    return o;
}

/* A failure with this reason and message, under the provider id sid. */
static backend_outcome failure_outcome(const char *sid, const char *reason, bool transient, const char *msg)
{
    backend_outcome o = blank_outcome(OUTCOME_FAILURE, sid);
    o.failure_reason = reason;
    o.transient = transient;
    o.message = msg;
    return o;
}

/* Finishes the open call matching (job_id | chan_uuid | job_uuid) with o, once.
 * Returns true if this report was the one applied to the call. When the call is
 * not in the table and allow_unknown is set (a hook after a restart), the outcome
 * is reported anyway unless the call is known to be finished. */
static bool finish(backend *b, const char *job_id, const char *chan_uuid, const char *job_uuid, backend_outcome *o,
                   bool allow_unknown)
{
    char jid[33] = "", sid[37] = "";
    pthread_mutex_lock(&b->mu);
    call *c = find_call(b, job_id, chan_uuid, job_uuid);
    /* a result for the right job but another attempt's channel is stale */
    if (c && chan_uuid && *chan_uuid && strcasecmp(c->chan_uuid, chan_uuid)) {
        pthread_mutex_unlock(&b->mu);
        return false;
    }
    if (c) {
        str_copy(jid, sizeof jid, c->job_id);
        str_copy(sid, sizeof sid, c->chan_uuid);
        int64_t answered = c->answered_ms;
        retire(b, c);
        if (o->duration_s < 0 && answered > 0) o->duration_s = (double)(mono_ms() - answered) / 1000.0;
    } else if (allow_unknown && job_id && *job_id && !in_ring(b, job_id, chan_uuid)) {
        str_copy(jid, sizeof jid, job_id);
        str_copy(sid, sizeof sid, chan_uuid ? chan_uuid : "");
        finished *f = &b->ring[b->ring_next];
        b->ring_next = (b->ring_next + 1) % FS_FINISHED_RING;
        str_copy(f->job_id, sizeof f->job_id, jid);
        str_copy(f->chan_uuid, sizeof f->chan_uuid, sid);
    }
    pthread_mutex_unlock(&b->mu);
    if (!jid[0]) return false;
    if (!o->provider_sid || !*o->provider_sid) o->provider_sid = sid[0] ? sid : NULL;
    return b->sink.report(b->sink.ctx, jid, o) != REPORT_REFUSED;
}

/* A result hook for a job that is not in flight (never submitted, already finished):
 * 409 naming the job's state instead of a silent 200. 0 if the job is in flight. */
static int refuse_not_in_flight(backend *b, const char *job_id, webhook_response *res)
{
    char state[32];
    if (!b->sink.job_status) return 0;
    if (b->sink.job_status(b->sink.ctx, job_id, state, sizeof state)) {
        webhook_reply_detail(res, 404, "Job not found");
        return -1;
    }
    if (!strcmp(state, "in_progress")) return 0;
    json_t *o = json_object();
    char d[160];
    str_fmt(d, sizeof d, "job %s is not in flight (its status is %s): the result was not applied", job_id, state);
    json_object_set_new(o, "detail", json_string(d));
    json_object_set_new(o, "status", json_string(state));
    json_object_set_new(o, "applied", json_false());
    webhook_reply_json(res, 409, o);
    return -1;
}

/* Finishes the open call (job_id, chan_uuid) as a failure with this reason and message. */
static void fail_call(backend *b, const char *job_id, const char *chan_uuid, const char *reason, bool transient,
                      const char *msg)
{
    backend_outcome o = failure_outcome(chan_uuid, reason, transient, msg);
    finish(b, job_id, chan_uuid, NULL, &o, false);
}

static void outcome_from_fax(const esl_fax_result *r, backend_outcome *o, char *msg, size_t msglen)
{
    if (r->success == 1) {
        *o = blank_outcome(OUTCOME_SUCCESS, NULL);
        str_fmt(msg, msglen, "%s%s", r->result_text[0] ? r->result_text : "OK", r->t38 ? " (T.38)" : "");
    } else {
        *o = blank_outcome(OUTCOME_FAILURE, NULL);
        o->failure_reason = esl_fax_failure(r, &o->transient);
        if (r->result_code > 0)
            str_fmt(msg, msglen, "%s (spandsp code %d)%s", r->result_text[0] ? r->result_text
                    : fax_completion_text(r->result_code), r->result_code, r->t38 ? " (T.38)" : "");
        else if (r->hangup_cause[0])
            str_fmt(msg, msglen, "%s%scall ended: %s", r->result_text, r->result_text[0] ? "; " : "", r->hangup_cause);
        else
            str_fmt(msg, msglen, "%s", r->result_text[0] ? r->result_text : "fax failed");
    }
    o->message = msg;
    o->pages = r->pages;
    o->bit_rate = r->bit_rate > 0 ? r->bit_rate : -1;
    o->ecm = r->ecm;
    o->remote_station_id = r->remote_station_id[0] ? r->remote_station_id : NULL;
}

static void cause_outcome(const char *cause, backend_outcome *o, char *msg, size_t msglen)
{
    *o = blank_outcome(OUTCOME_FAILURE, NULL);
    if (esl_is_cause_name(cause)) {
        o->failure_reason = esl_cause_reason(cause, &o->transient);
        str_fmt(msg, msglen, "call ended: %s", cause);
    } else {
        o->failure_reason = "provider_error";
        o->transient = false;
        char clean[160];
        esl_var_clean(cause, clean, sizeof clean, 150);
        str_fmt(msg, msglen, "FreeSWITCH refused the call: %s", clean[0] ? clean : "-ERR");
    }
    o->message = msg;
}

/* ---- events (client thread) ---- */

/* mod_spandsp's page event: a page went out on a call of ours → progress. */
static void report_page(backend *b, const char *uuid, const esl_msg *ev)
{
    if (!uuid) return;
    esl_fax_result r;
    esl_fax_result_from_event(ev, &r);
    if (r.pages <= 0) return;
    char jid[33] = "", sid[37] = "";
    pthread_mutex_lock(&b->mu);
    call *c = find_call(b, NULL, uuid, NULL);
    if (c) {
        str_copy(jid, sizeof jid, c->job_id);
        str_copy(sid, sizeof sid, c->chan_uuid);
    }
    pthread_mutex_unlock(&b->mu);
    if (!jid[0]) return;
    backend_outcome o = blank_outcome(OUTCOME_PROGRESS, sid);
    o.pages = r.pages;
    b->sink.report(b->sink.ctx, jid, &o);
}

static void on_event(void *ud, const esl_msg *ev)
{
    backend *b = ud;
    const char *name = esl_msg_get(ev, "Event-Name");
    if (!name) return;
    char msg[700];
    backend_outcome o;
    if (!strcmp(name, "BACKGROUND_JOB")) {
        const char *job_uuid = esl_msg_get(ev, "Job-UUID");
        char text[160];
        int kind = esl_bgjob_result(ev->body, text, sizeof text);
        if (!job_uuid) return;
        if (kind == 1) {
            pthread_mutex_lock(&b->mu);
            call *c = find_call(b, NULL, NULL, job_uuid);
            if (c && !c->answered_ms) c->answered_ms = mono_ms();
            pthread_mutex_unlock(&b->mu);
        } else if (kind == 0) {
            cause_outcome(text, &o, msg, sizeof msg);
            finish(b, NULL, NULL, job_uuid, &o, false);
        }
        return;
    }
    const char *uuid = esl_msg_get(ev, "Unique-ID");
    const char *job_id = esl_msg_get(ev, "variable_faxbot_job_id");
    if (!strcmp(name, "CUSTOM")) {
        const char *sub = esl_msg_get(ev, "Event-Subclass");
        if (sub && !strcmp(sub, "spandsp::txfaxpageresult")) {
            report_page(b, uuid, ev);
            return;
        }
        if (!sub || strcmp(sub, "spandsp::txfaxresult")) return;
        esl_fax_result r;
        esl_fax_result_from_event(ev, &r);
        if (r.success < 0) return;
        outcome_from_fax(&r, &o, msg, sizeof msg);
        finish(b, uuid ? NULL : job_id, uuid, NULL, &o, false);
    } else if (!strcmp(name, "CHANNEL_HANGUP_COMPLETE")) {
        esl_fax_result r;
        esl_fax_result_from_event(ev, &r);
        if (r.success >= 0) {
            outcome_from_fax(&r, &o, msg, sizeof msg);
        } else {
            cause_outcome(r.hangup_cause[0] ? r.hangup_cause : "NORMAL_CLEARING", &o, msg, sizeof msg);
            if (!r.hangup_cause[0] || !strcmp(r.hangup_cause, "NORMAL_CLEARING"))
                str_fmt(msg, sizeof msg, "the call ended before the fax result (%s)",
                        r.hangup_cause[0] ? r.hangup_cause : "no hangup cause");
        }
        const char *meaning = o.kind == OUTCOME_FAILURE && r.sip_code ? sip_trunk_error_meaning(b->trunk, r.sip_code)
                                                                      : NULL;
        if (meaning) {   /* what the trunk's provider documents for the SIP code */
            size_t l = strlen(msg);
            str_fmt(msg + l, sizeof msg - l, " (SIP %d: %s says: %s)", r.sip_code, b->trunk->title, meaning);
        }
        finish(b, uuid ? NULL : job_id, uuid, NULL, &o, false);
    }
}

/* ---- reconciliation after the event socket came back ---- */

static void on_state(void *ud, esl_state st, unsigned generation, const char *detail)
{
    backend *b = ud;
    if (st != ESL_CONNECTED) return;
    pthread_mutex_lock(&b->mu);
    if (b->calls || generation > 1) {
        b->reconcile = true;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
}

/* Asks FreeSWITCH whether the channel still exists: 1 yes, 0 no, -1 cannot tell. */
static int channel_exists(backend *b, const char *uuid)
{
    if (!esl_is_uuid(uuid)) return 0;
    char cmd[96], err[200];
    str_fmt(cmd, sizeof cmd, "api uuid_exists %s", uuid);
    char *reply = NULL;
    if (esl_client_command(b->esl, cmd, NULL, FS_CMD_TIMEOUT_MS, &reply, NULL, err, sizeof err)) return -1;
    int rc = !strncmp(reply, "true", 4) ? 1 : !strncmp(reply, "false", 5) ? 0 : -1;
    free(reply);
    return rc;
}

static void fail_lost(backend *b, const char *job_id, const char *uuid)
{
    char msg[256];
    str_fmt(msg, sizeof msg, "the call (%s) ended while the event socket was down and its fax result was lost; "
                             "not sent again because it may have been delivered", uuid);
    fail_call(b, job_id, uuid, "result_unknown", false, msg);
}

static void reconcile_once(backend *b)
{
    enum { MAXC = 256 };
    char (*jobs)[33] = calloc(MAXC, 33), (*uuids)[37] = calloc(MAXC, 37);
    if (!jobs || !uuids) { free(jobs); free(uuids); return; }
    int n = 0;
    pthread_mutex_lock(&b->mu);
    for (call *c = b->calls; c && n < MAXC; c = c->next) {
        if (c->checking) continue;
        c->checking = true;
        str_copy(jobs[n], 33, c->job_id);
        str_copy(uuids[n], 37, c->chan_uuid);
        n++;
    }
    pthread_mutex_unlock(&b->mu);
    int alive = 0, lost = 0;
    for (int i = 0; i < n; i++) {
        int ex = channel_exists(b, uuids[i]);
        if (ex == 0) {
            fail_lost(b, jobs[i], uuids[i]);
            lost++;
        } else {
            alive += ex == 1;
            pthread_mutex_lock(&b->mu);
            call *c = find_call(b, jobs[i], NULL, NULL);
            if (c) c->checking = false;
            if (ex < 0) b->reconcile = true;   /* try again on the next round */
            pthread_mutex_unlock(&b->mu);
        }
    }
    if (n) log_info("freeswitch: reconciled %d open call(s) after reconnect: %d still up, %d ended unseen", n, alive, lost);
    free(jobs);
    free(uuids);
}

/* Renews or asks for the event socket's lease when due; on or off it when that changes. */
static void lease_tick(backend *b)
{
    bool standby;
    char why[400];
    if (!pbx_lease_tick(&b->lease, &standby, why, sizeof why)) return;
    if (standby) {               /* the calls are the holder's to follow now */
        pthread_mutex_lock(&b->mu);
        while (b->calls) {
            call *c = b->calls;
            b->calls = c->next;
            free(c);
        }
        b->n_calls = 0;
        pthread_mutex_unlock(&b->mu);
    }
    esl_client_hold(b->esl, standby, why);
}

static bool fs_standby(backend *b) { return b->leased && pbx_lease_standby(&b->lease); }

static void *maint_main(void *arg)
{
    backend *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        pthread_mutex_unlock(&b->mu);
        lease_tick(b);
        pthread_mutex_lock(&b->mu);
        if (b->stop) break;
        if (!b->reconcile) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            continue;
        }
        b->reconcile = false;
        pthread_mutex_unlock(&b->mu);
        if (esl_client_state(b->esl, NULL, 0, NULL) == ESL_CONNECTED) {
            reconcile_once(b);
        } else {
            pthread_mutex_lock(&b->mu);
            b->reconcile = true;
            pthread_mutex_unlock(&b->mu);
            usleep(200 * 1000);
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- settings ---- */

static int read_settings(backend *b, const config *cfg, char *err, size_t errlen)
{
    esl_settings e;
    int rc = esl_settings_load(&e, cfg ? cfg->public_api_url : "", err, errlen);
    if (rc == 0) {
        str_copy(b->host, sizeof b->host, e.host);
        b->port = e.port;
        str_copy(b->password, sizeof b->password, e.password);
        str_copy(b->gateway, sizeof b->gateway, e.gateway);
        str_copy(b->caller_id, sizeof b->caller_id, e.caller_id);
        b->t38 = e.t38;
        b->ecm = e.ecm;
        b->originate_timeout = e.originate_timeout;
        b->max_channels = e.max_channels;
        str_copy(b->spool_dir, sizeof b->spool_dir, e.spool_dir);
        str_copy(b->secret_fs, sizeof b->secret_fs, e.secret_fs);
        str_copy(b->secret_ast, sizeof b->secret_ast, e.secret_ast);
    }
    explicit_bzero(&e, sizeof e);
    if (rc) return -1;
    str_copy(b->data_dir, sizeof b->data_dir, cfg ? cfg->data_dir : ".");
    str_copy(b->public_url, sizeof b->public_url, cfg ? cfg->public_api_url : "");
    b->inbound_enabled = cfg ? cfg->inbound_enabled : false;
    if (cfg) {
        esl_var_clean(cfg->station_id, b->station_id, sizeof b->station_id, FAX_STATION_ID_MAX);
        esl_var_clean(cfg->header_text, b->header, sizeof b->header, FAX_HEADER_MAX);
    }
    return 0;
}

static void fs_destroy(backend *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (b->maint_started) pthread_join(b->maint, NULL);
    esl_client_stop(b->esl);
    if (b->leased) pbx_lease_end(&b->lease);      /* off the socket: another node may take over at once */
    while (b->calls) {
        call *c = b->calls;
        b->calls = c->next;
        free(c);
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    pbx_intake_destroy(&b->intake);
    memset(b->password, 0, sizeof b->password);
    memset(b->secret_fs, 0, sizeof b->secret_fs);
    memset(b->secret_ast, 0, sizeof b->secret_ast);
    free(b);
}

/* The parts every instance has: settings and the hand-off intake. NULL with err. */
static backend *fs_alloc(const config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) { str_fmt(err, errlen, "out of memory"); return NULL; }
    b->sink = sink;
    const char *preset = setting_raw("SIP_TRUNK_PRESET");
    b->trunk = sip_trunk_find(preset ? preset : "generic");
    pthread_mutex_init(&b->mu, NULL);
    b->intake = (pbx_intake){.spool_setting = "FREESWITCH_SPOOL_DIR", .spool_dir = b->spool_dir,
                             .data_dir = b->data_dir, .tmp_prefix = "fs-inbound", .id_key = "id",
                             .log_name = "freeswitch"};
    pbx_intake_init(&b->intake);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (read_settings(b, cfg, err, errlen)) {
        fs_destroy(b);
        return NULL;
    }
    return b;
}

static backend *fs_create(const config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = fs_alloc(cfg, sink, err, errlen);
    if (!b) return NULL;
    esl_client_opts eo = {.host = b->host, .port = (int)b->port, .password = b->password, .events = FS_EVENTS,
                          .on_event = on_event, .on_state = on_state, .ud = b};
    /* several nodes: on the event socket only with its lease */
    char why[400];
    eo.start_held = pbx_lease_start(&b->lease, &sink, "esl", "the FreeSWITCH event socket", b->host, (int)b->port,
                                    why, sizeof why);
    eo.held_why = why;
    b->leased = true;
    b->esl = esl_client_start(&eo, err, errlen);
    if (!b->esl) { fs_destroy(b); return NULL; }
    if (pthread_create(&b->maint, NULL, maint_main, b)) {
        str_fmt(err, errlen, "could not start the FreeSWITCH reconciliation thread");
        fs_destroy(b);
        return NULL;
    }
    b->maint_started = true;
    return b;
}

/* ---- submit / resume ---- */

static void report_fail(backend *b, const char *job_id, const char *sid, const char *reason, bool transient,
                        const char *msg)
{
    backend_outcome o = failure_outcome(sid, reason, transient, msg);
    b->sink.report(b->sink.ctx, job_id, &o);
}

static int fs_submit(backend *b, const backend_job *job)
{
    if (fs_standby(b)) return BACKEND_BUSY;      /* claimed just before the lease moved: back to the queue */
    char err[512], msg[600];
    char state_detail[256];
    if (esl_client_state(b->esl, state_detail, sizeof state_detail, NULL) != ESL_CONNECTED) {
        str_fmt(msg, sizeof msg, "FreeSWITCH is not reachable: %s", state_detail);
        report_fail(b, job->job_id, NULL, "network_error", true, msg);
        return -1;
    }
    char chan_uuid[37], job_uuid[37];
    new_uuid(chan_uuid);
    new_uuid(job_uuid);
    char caller[32] = "";
    if (job->caller_id && job->caller_id[0] && esl_is_number(job->caller_id))
        str_copy(caller, sizeof caller, job->caller_id);
    else
        str_copy(caller, sizeof caller, b->caller_id);
    const char *ident = job->station_id && job->station_id[0] ? job->station_id : b->station_id;
    const char *header = job->header_text && job->header_text[0] ? job->header_text : b->header;
    esl_originate eo = {.job_id = job->job_id, .channel_uuid = chan_uuid, .gateway = b->gateway, .number = job->to,
                        .tiff_path = job->tiff_path, .fax_ident = ident, .fax_header = header, .caller_id = caller,
                        .ecm = b->ecm, .t38 = b->t38, .timeout_s = (int)b->originate_timeout};
    char cmd[4096];
    if (esl_originate_build(&eo, cmd + 6, sizeof cmd - 6, err, sizeof err)) {
        bool bad_number = !esl_is_number(job->to);
        report_fail(b, job->job_id, NULL, bad_number ? "invalid_number" : "file_error", false, err);
        return -1;
    }
    memcpy(cmd, "bgapi ", 6);

    pthread_mutex_lock(&b->mu);
    if (b->max_channels > 0 && b->n_calls >= b->max_channels) {
        pthread_mutex_unlock(&b->mu);
        return BACKEND_BUSY;
    }
    call *c = add_call(b, job->job_id, chan_uuid, job_uuid);
    pthread_mutex_unlock(&b->mu);
    if (!c) {
        report_fail(b, job->job_id, NULL, "provider_error", true, "out of memory");
        return -1;
    }
    /* Recorded before the command goes out: after a crash, resume finds the channel. */
    backend_outcome acc = blank_outcome(OUTCOME_ACCEPTED, chan_uuid);
    acc.attempt = job->attempt;
    b->sink.report(b->sink.ctx, job->job_id, &acc);

    char masked[40];
    mask_phone(job->to, masked, sizeof masked);
    char hdr[64];
    str_fmt(hdr, sizeof hdr, "Job-UUID: %s", job_uuid);
    char *reply = NULL;
    bool sent = false;
    if (esl_client_command(b->esl, cmd, hdr, FS_CMD_TIMEOUT_MS, &reply, &sent, err, sizeof err)) {
        if (sent) {
            /* It may be running: the reconciliation after the reconnect will tell. */
            log_warn("freeswitch: job %s to %s: no reply to bgapi (%s); checking after reconnect", job->job_id, masked, err);
            pthread_mutex_lock(&b->mu);
            b->reconcile = true;
            pthread_cond_signal(&b->cv);
            pthread_mutex_unlock(&b->mu);
            return 0;
        }
        str_fmt(msg, sizeof msg, "could not hand the call to FreeSWITCH: %s", err);
        fail_call(b, job->job_id, chan_uuid, "network_error", true, msg);
        return -1;
    }
    if (strncmp(reply, "+OK", 3)) {
        char clean[200];
        esl_var_clean(reply, clean, sizeof clean, 190);
        str_fmt(msg, sizeof msg, "FreeSWITCH refused bgapi originate: %s", clean);
        free(reply);
        fail_call(b, job->job_id, chan_uuid, "provider_error", false, msg);
        return -1;
    }
    free(reply);
    log_info("freeswitch: job %s: originate to %s via gateway %s (channel %s)", job->job_id, masked, b->gateway, chan_uuid);
    return 0;
}

static int fs_resume(backend *b, const backend_job *job)
{
    /* another node follows this socket's calls: the job layer hands the attempt over
     * when its lease runs out */
    if (fs_standby(b)) return 0;
    const char *uuid = job->provider_sid;
    if (!uuid || !*uuid) return -1;          /* ACCEPTED precedes the originate: it never went out */
    if (!esl_is_uuid(uuid)) return -1;
    pthread_mutex_lock(&b->mu);
    call *c = find_call(b, job->job_id, NULL, NULL);
    if (!c) c = add_call(b, job->job_id, uuid, NULL);
    bool busy = c && c->checking;
    if (c) c->checking = true;
    pthread_mutex_unlock(&b->mu);
    if (!c) return -1;
    if (busy) {
        backend_outcome acc = blank_outcome(OUTCOME_ACCEPTED, uuid);
        acc.attempt = job->attempt;
        b->sink.report(b->sink.ctx, job->job_id, &acc);
        return 0;
    }
    int ex = esl_client_state(b->esl, NULL, 0, NULL) == ESL_CONNECTED ? channel_exists(b, uuid) : -1;
    if (ex == 0) {
        fail_lost(b, job->job_id, uuid);
        return 0;
    }
    pthread_mutex_lock(&b->mu);
    c = find_call(b, job->job_id, NULL, NULL);
    if (c) c->checking = false;
    if (ex < 0) b->reconcile = true;
    pthread_mutex_unlock(&b->mu);
    backend_outcome acc = blank_outcome(OUTCOME_ACCEPTED, uuid);
    acc.attempt = job->attempt;
    b->sink.report(b->sink.ctx, job->job_id, &acc);
    return 0;
}

/* ---- check / diagnose ---- */

static int fs_check(backend *b, char *msg, size_t msglen)
{
    if (fs_standby(b)) {         /* ready: it serves the API; the holder sends */
        pbx_lease_why(&b->lease, msg, msglen);
        return 0;
    }
    char detail[256];
    esl_state st = esl_client_state(b->esl, detail, sizeof detail, NULL);
    if (st == ESL_CONNECTED) {
        str_fmt(msg, msglen, "FreeSWITCH %s (gateway %s)", detail, b->gateway);
        return 0;
    }
    str_fmt(msg, msglen, "FreeSWITCH: %s", detail);
    return -1;
}

/* "Key<tabs/spaces>Value" line of `sofia status gateway` output. */
static void status_field(const char *text, const char *key, char *out, size_t outlen)
{
    out[0] = 0;
    size_t kl = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strncmp(line, key, kl) && (line[kl] == ' ' || line[kl] == '\t')) {
            const char *v = line + kl;
            while (*v == ' ' || *v == '\t') v++;
            size_t n = strcspn(v, "\r\n \t");
            if (n >= outlen) n = outlen - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return;
        }
    }
}

/* `sofia status gateway <name>` into gw {name, state, status, ok | detail}; 0 if it is up. */
static int gateway_status(backend *b, json_t *gw)
{
    char cmd[160], err[256];
    char *reply = NULL;
    int rc = 0;
    str_fmt(cmd, sizeof cmd, "api sofia status gateway %s", b->gateway);
    json_object_set_new(gw, "name", json_string(b->gateway));
    if (esl_client_command(b->esl, cmd, NULL, FS_CMD_TIMEOUT_MS, &reply, NULL, err, sizeof err) == 0) {
        char state[64], status[64];
        status_field(reply, "State", state, sizeof state);
        status_field(reply, "Status", status, sizeof status);
        if (!state[0]) {
            json_object_set_new(gw, "state", json_null());
            json_object_set_new(gw, "detail", json_string(strstr(reply, "Invalid Gateway")
                                                          ? "FreeSWITCH has no gateway of this name (FREESWITCH_GATEWAY_NAME)"
                                                          : "unexpected answer to sofia status gateway"));
            rc = -1;
        } else {
            json_object_set_new(gw, "state", json_string(state));
            if (status[0]) json_object_set_new(gw, "status", json_string(status));
            bool good = (!strcmp(state, "REGED") || !strcmp(state, "NOREG")) && strcmp(status, "DOWN");
            json_object_set_new(gw, "ok", json_boolean(good));
            if (!good) rc = -1;
        }
        free(reply);
    } else {
        json_object_set_new(gw, "state", json_null());
        json_object_set_new(gw, "detail", json_string(err));
        rc = -1;
    }
    return rc;
}

/* One `api` command for apply: {command, ok, reply} appended to list. */
static bool apply_command(backend *b, const char *cmd, json_t *list)
{
    char err[256], *reply = NULL;
    bool sent = esl_client_command(b->esl, cmd, NULL, FS_CMD_TIMEOUT_MS, &reply, NULL, err, sizeof err) == 0;
    bool ok = sent && reply && strncmp(reply, "-ERR", 4);
    size_t n = reply ? strcspn(reply, "\n") : 0;
    json_array_append_new(list, json_pack("{s:s,s:b,s:s%}", "command", cmd + 4, "ok", ok, "reply",
                                          sent ? (reply ? reply : "") : err, sent ? n : strlen(err)));
    free(reply);
    return ok;
}

/* A settings change: FreeSWITCH's XML into FREESWITCH_CONFIG_DIR (a journaled set),
 * `reloadxml` when anything changed, the gateway restarted (killgw + profile rescan)
 * when its file changed, and the gateway's state in the report. */
static int fs_apply_pbx(backend *b, json_t *o)
{
    char err[512], gateway[128];
    esl_settings e;
    if (esl_settings_load(&e, b->public_url, err, sizeof err) || !e.config_dir[0]) {
        explicit_bzero(&e, sizeof e);
        return 1;
    }
    json_object_set_new(o, "pbx", json_string("freeswitch"));
    json_object_set_new(o, "config_dir", json_string(e.config_dir));
    fs_rendered files[FS_RENDER_FILES];
    bool hooks = false, ok = true;
    int rc = 0;
    if (fs_render(files, gateway, sizeof gateway, &hooks, err, sizeof err)) {
        rc = backend_pbx_fail(o, err);
        goto out;
    }
    const char *names[FS_RENDER_FILES], *texts[FS_RENDER_FILES];
    bool changed[FS_RENDER_FILES];
    for (int i = 0; i < FS_RENDER_FILES; i++) { names[i] = files[i].name; texts[i] = files[i].text; }
    int wrc = backend_pbx_write(e.config_dir, names, texts, FS_RENDER_FILES, changed, o);
    fs_render_free(files);
    if (wrc) { rc = -1; goto out; }
    json_t *commands = json_array();
    bool any = json_array_size(json_object_get(o, "files_written")) > 0;
    /* a new instance (the swap) may still be connecting */
    int64_t deadline = mono_ms() + 5000;
    while (any && esl_client_state(b->esl, NULL, 0, NULL) != ESL_CONNECTED && mono_ms() < deadline) sleep_ms(50);
    if (any) ok &= apply_command(b, "api reloadxml", commands);
    if (changed[FS_GATEWAY_FILE]) {
        char cmd[200];
        str_fmt(cmd, sizeof cmd, "api sofia profile external killgw %s", gateway);
        apply_command(b, cmd, commands);          /* a gateway that did not exist yet is fine */
        ok &= apply_command(b, "api sofia profile external rescan", commands);
    }
    json_object_set_new(o, "commands", commands);
    json_object_set_new(o, "event_socket_reload_needed", json_boolean(changed[FS_EVENT_SOCKET_FILE]));
    json_object_set_new(o, "hooks", json_boolean(hooks));
    if (any) {
        json_t *gw = json_object();
        gateway_status(b, gw);
        json_object_set_new(o, "gateway", gw);
    }
    json_object_set_new(o, "ok", json_boolean(ok));
    rc = ok ? 0 : -1;
out:
    explicit_bzero(&e, sizeof e);
    return rc;
}

static int fs_diagnose(backend *b, json_t *o)
{
    char detail[256], err[256];
    esl_state st = esl_client_state(b->esl, detail, sizeof detail, NULL);
    json_object_set_new(o, "esl_address", json_sprintf("%s:%ld", b->host, b->port));
    int rc = 0;
    if (st != ESL_CONNECTED) {
        json_object_set_new(o, "esl", json_string(st == ESL_AUTH_FAILED ? "auth_rejected"
                                                  : st == ESL_REFUSED ? "acl_refused" : "unreachable"));
        json_object_set_new(o, "auth", json_boolean(false));
        json_object_set_new(o, "detail", json_string(detail));
        rc = -1;
    } else {
        json_object_set_new(o, "esl", json_string("ok"));
        json_object_set_new(o, "auth", json_boolean(true));
        char *reply = NULL;
        if (esl_client_command(b->esl, "api module_exists mod_spandsp", NULL, FS_CMD_TIMEOUT_MS, &reply, NULL, err,
                               sizeof err) == 0) {
            bool yes = !strncmp(reply, "true", 4);
            json_object_set_new(o, "mod_spandsp", json_boolean(yes));
            if (!yes) {
                json_object_set_new(o, "mod_spandsp_detail",
                                    json_string("mod_spandsp is not loaded: add it to modules.conf.xml and `load mod_spandsp`"));
                rc = -1;
            }
            free(reply);
        } else {
            json_object_set_new(o, "mod_spandsp", json_null());
            json_object_set_new(o, "mod_spandsp_detail", json_string(err));
            rc = -1;
        }
        json_t *gw = json_object();
        if (gateway_status(b, gw)) rc = -1;
        json_object_set_new(o, "gateway", gw);
    }
    pthread_mutex_lock(&b->mu);
    json_object_set_new(o, "calls_open", json_integer(b->n_calls));
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* ---- webhooks ---- */

/* X-Internal-Secret must equal FREESWITCH_INBOUND_SECRET or ASTERISK_INBOUND_SECRET. */
static bool authorized(backend *b, const webhook_request *req, webhook_response *res)
{
    if (!b->secret_fs[0] && !b->secret_ast[0]) {
        webhook_reply_detail(res, 403, "Internal secret not configured: set FREESWITCH_INBOUND_SECRET (or "
                                       "ASTERISK_INBOUND_SECRET), and send it as X-Internal-Secret from the hooks");
        return false;
    }
    const char *got = req->header(req, "X-Internal-Secret");
    bool ok = false;
    if (got) {
        if (b->secret_fs[0] && secure_streq(got, b->secret_fs)) ok = true;
        if (b->secret_ast[0] && secure_streq(got, b->secret_ast)) ok = true;
    }
    if (!ok) webhook_reply_detail(res, 401, "Invalid internal secret");
    return ok;
}

static json_t *parse_body(const webhook_request *req, webhook_response *res)
{
    json_error_t je;
    json_t *o = req->body ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    if (!o || !json_is_object(o)) {
        json_decref(o);
        webhook_reply_detail(res, 400, "Invalid payload: expected a JSON object");
        return NULL;
    }
    return o;
}

static bool is_hex32(const char *s)
{
    if (!s || strlen(s) != 32) return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
    return true;
}

/* POST /_internal/freeswitch/outbound_result — Faxbot's api_hangup_hook. */
static void wh_outbound(backend *b, const webhook_request *req, webhook_response *res)
{
    if (!authorized(b, req, res)) return;
    json_t *o = parse_body(req, res);
    if (!o) return;
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    const char *job_id = json_get_text(o, "job_id", b1, sizeof b1);
    const char *fax_success = json_get_text(o, "fax_success", b2, sizeof b2);
    const char *fax_status = json_get_text(o, "fax_status", b3, sizeof b3);
    const char *text = json_get_string(o, "fax_result_text", NULL);
    const char *code = json_get_text(o, "fax_result_code", b4, sizeof b4);
    const char *pages = json_get_text(o, "fax_document_transferred_pages", b5, sizeof b5);
    const char *uuid = json_get_string(o, "uuid", NULL);
    const char *cause = json_get_string(o, "hangup_cause", NULL);
    if (!job_id || !*job_id) {
        webhook_reply_detail(res, 400, "Missing job_id");
        json_decref(o);
        return;
    }
    if (!is_hex32(job_id)) {
        webhook_reply_detail(res, 404, "Job not found");
        json_decref(o);
        return;
    }
    if (refuse_not_in_flight(b, job_id, res)) {
        char succ_c[8], pages_c[8], cause_c[40];
        esl_var_clean(fax_success ? fax_success : fax_status, succ_c, sizeof succ_c, 6);
        esl_var_clean(pages, pages_c, sizeof pages_c, 6);
        esl_var_clean(cause, cause_c, sizeof cause_c, 32);
        log_info("freeswitch: result hook for job %s (call -): fax_success=%s pages=%s hangup_cause=%s: already finished",
                 job_id, succ_c, pages_c, cause_c);
        json_decref(o);
        return;
    }
    if (uuid && *uuid && !esl_is_uuid(uuid)) uuid = NULL;
    int st = esl_hook_status(fax_success, fax_status, text);
    esl_fax_result r;
    memset(&r, 0, sizeof r);
    r.success = st;
    r.result_code = code && *code ? atoi(code) : -1;
    esl_var_clean(text, r.result_text, sizeof r.result_text, 120);
    r.pages = pages && *pages ? atoi(pages) : -1;
    r.total_pages = r.bit_rate = r.ecm = -1;
    if (cause && esl_is_cause_name(cause)) str_copy(r.hangup_cause, sizeof r.hangup_cause, cause);
    char msg[300];
    backend_outcome out;
    if (st < 0) {
        /* ${fax_success} is empty when txfax never ran: the hangup cause decides, if sent */
        if (!r.hangup_cause[0] || !strcmp(r.hangup_cause, "NORMAL_CLEARING")) {
            log_info("freeswitch: result hook for job %s: no fax result and hangup cause \"%s\": nothing applied",
                     job_id, r.hangup_cause);
            webhook_reply_text(res, 200, "{\"ok\":true,\"applied\":false,\"detail\":\"no final fax result in the hook\"}");
            json_decref(o);
            return;
        }
        cause_outcome(r.hangup_cause, &out, msg, sizeof msg);
    } else {
        outcome_from_fax(&r, &out, msg, sizeof msg);
    }
    bool applied = finish(b, job_id, uuid, NULL, &out, true);
    char succ_c[8], pages_c[8];
    esl_var_clean(fax_success ? fax_success : fax_status, succ_c, sizeof succ_c, 6);
    esl_var_clean(pages, pages_c, sizeof pages_c, 6);
    log_info("freeswitch: result hook for job %s (call %s): fax_success=%s pages=%s hangup_cause=%s: %s", job_id,
             uuid ? uuid : "-", succ_c, pages_c, r.hangup_cause, applied ? "applied" : "already finished");
    if (applied || refuse_not_in_flight(b, job_id, res) == 0)
        webhook_reply_text(res, 200, applied ? "{\"ok\":true,\"applied\":true}"
                                             : "{\"ok\":true,\"applied\":false,\"stale\":true}");
    json_decref(o);
}

static bool safe_sid(const char *s)
{
    if (!s || !*s || strlen(s) > 64) return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '-' || *s == '_'))
            return false;
    return true;
}

/* POST /_internal/freeswitch/inbound — the rendered dialplan's hook after rxfax. */
static void wh_inbound(backend *b, const webhook_request *req, webhook_response *res)
{
    if (!b->inbound_enabled) {
        webhook_reply_detail(res, 404, "Inbound not enabled");
        return;
    }
    if (!authorized(b, req, res)) return;
    json_t *o = parse_body(req, res);
    if (!o) return;
    char b1[32], b2[32], b3[32];
    const char *path = json_get_string(o, "tiff_path", NULL);
    const char *uuid = json_get_text(o, "uuid", b1, sizeof b1);
    const char *succ = json_get_text(o, "fax_success", b2, sizeof b2);
    const char *pages = json_get_text(o, "pages", b3, sizeof b3);
    const char *from = json_get_string(o, "from_number", "");
    const char *to = json_get_string(o, "to_number", "");
    const char *rsi = json_get_string(o, "remote_station_id", "");
    if (!path || !*path || !safe_sid(uuid)) {
        webhook_reply_detail(res, 400, "Invalid payload: tiff_path and uuid are required");
        json_decref(o);
        return;
    }
    if (succ && !strcmp(succ, "0") && (!pages || atoi(pages) <= 0)) {
        log_info("freeswitch: inbound call %s brought no pages (hook fax_success=0): nothing stored", uuid);
        webhook_reply_text(res, 200, "{\"status\":\"ignored\",\"detail\":\"the call brought no pages\"}");
        json_decref(o);
        return;
    }
    char from_c[32], to_c[32], rsi_c[24];
    esl_var_clean(from, from_c, sizeof from_c, 30);
    esl_var_clean(to, to_c, sizeof to_c, 30);
    esl_var_clean(rsi, rsi_c, sizeof rsi_c, FAX_STATION_ID_MAX);
    char succ_c[8], pages_c[8];
    esl_var_clean(succ, succ_c, sizeof succ_c, 6);
    esl_var_clean(pages, pages_c, sizeof pages_c, 6);
    log_info("freeswitch: inbound hand-off of call %s (hook fax_success=%s pages=%s)", uuid, succ_c, pages_c);
    pbx_handoff h = {.call_id = uuid, .provider_sid = uuid, .tiff_path = path, .from = from_c, .to = to_c,
                     .station_id = rsi_c};
    pbx_intake_take(&b->intake, &b->sink, &h, res);
    json_decref(o);
}

/* Receiving on FreeSWITCH while another backend sends: with FREESWITCH_INBOUND_SECRET set,
 * an instance without the Event Socket serves the inbound hand-off. */
static bool fs_inbound_configured(char *why, size_t whylen)
{
    const char *s = setting_raw("FREESWITCH_INBOUND_SECRET");
    if (!s || !*s) return false;
    str_copy(why, whylen, "FREESWITCH_INBOUND_SECRET is set");
    return true;
}

static backend *fs_create_inbound(const config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = fs_alloc(cfg, sink, err, errlen);
    if (b) log_info("FreeSWITCH inbound hand-off /_internal/freeswitch/inbound is on (FREESWITCH_INBOUND_SECRET is set)");
    return b;
}

static const backend_webhook fs_webhooks[] = {
    {.method = "POST", .path = "/_internal/freeswitch/outbound_result", .max_body = 16384, .handle = wh_outbound},
    {.method = "POST", .path = "/_internal/freeswitch/inbound", .max_body = 16384, .handle = wh_inbound,
     .inbound = true},
};

const backend_ops backend_freeswitch_ops = {
    .name = "freeswitch",
    .needs_tiff = true,
    .create = fs_create,
    .submit = fs_submit,
    .check = fs_check,
    .destroy = fs_destroy,
    .async = true,
    .resume = fs_resume,
    .standby = fs_standby,
    .diagnose = fs_diagnose,
    .webhooks = fs_webhooks,
    .n_webhooks = 2,
    .settings = esl_settings_rows,
    .apply_pbx = fs_apply_pbx,
    .inbound_configured = fs_inbound_configured,
    .create_inbound = fs_create_inbound,
};
