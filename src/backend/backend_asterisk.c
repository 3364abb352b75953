/* backend_asterisk.c — FAX_BACKEND=sip: faxes go out through the user's own Asterisk
 * and SIP trunk, driven over AMI (src/ami/). Settings: see src/ami/ami_trunk.h.
 *
 * Outbound: submit() sends an async Originate of PJSIP/<number>@faxbot-trunk into
 * faxout,send,1 with ChannelId faxbot-<job>-<attempt> (so every event of the call
 * carries an id we chose) and the job's values as channel variables, quoted so that
 * commas, quotes or ${...} can never split the Originate (ami_quote_value). The
 * rendered dialplan runs SendFAX and, from a hangup handler, emits exactly one
 * FaxResult UserEvent per call, answered or not. The call table below follows each
 * call: "Originate successfully queued" → ACCEPTED; FaxResult → SUCCESS/FAILURE
 * (ami_judge); an OriginateResponse failure or a Hangup with no FaxResult within a
 * short grace → FAILURE from the Reason/cause. ASTERISK_MAX_CHANNELS calls at most:
 * beyond it submit() answers BACKEND_BUSY.
 * Reconciliation: when the AMI connection drops, every call in flight is marked; after
 * the next login a supervisor thread asks Asterisk (CoreShowChannels) for each one:
 * still up → keep waiting; gone without a result → FAILURE line_error (transient, so
 * the retry policy sends it again). resume() (restart, late result) does the same.
 * Several nodes (one shared store): only the node holding the lease
 * "pbx:ami:<host>:<port>" (pbx_lease.h) is logged in to that AMI, originates and
 * follows the calls. The others stay logged off (standby: backend_ops.standby, so
 * their job layer leaves sending and expired attempts to the holder); the one that
 * gets the lease after the holder died logs in and takes the in-flight calls over
 * through resume(), as after a restart.
 * Inbound: the fax-inbound dialplan POSTs /_internal/asterisk/inbound with
 * X-Internal-Secret; only files inside ASTERISK_SPOOL_DIR (after realpath) are taken,
 * copied without following symlinks, validated and stored (provider_sid = Asterisk's
 * uniqueid, so a replay never makes a second inbound fax). */
#include "backend/backend.h"
#include "backend/pbx_intake.h"
#include "backend/pbx_lease.h"

#include "ami/ami_client.h"
#include "ami/ami_fax.h"
#include "ami/ami_trunk.h"
#include "config/config.h"
#include "util/fileset.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLS 512
#define RESULT_GRACE_MS 2000         /* wait this long for FaxResult after a failure/hangup event */
#define ORIGINATE_TIMEOUT_MS 10000
#define ACTION_TIMEOUT_MS 5000
#define MAX_CALL_MS (3600 * 1000LL)  /* an unreachable AMI this long after a submission: give up */
#define RECENT_RESULTS 64

typedef struct call {
    bool used;
    char job_id[33];
    int attempt;
    char chan_id[72];            /* ChannelId = provider_sid */
    char action_id[80];
    int64_t started;             /* mono ms, 0 unknown */
    int64_t failed_at;           /* OriginateResponse Failure seen (mono ms) */
    int64_t hangup_at;           /* Hangup event seen (mono ms) */
    int reason;                  /* OriginateResponse Reason, -1 */
    int hangup_cause;            /* Hangup Cause, -1 */
    bool answered;
    bool acked;                  /* "Originate successfully queued" */
    bool needs_check;            /* ask Asterisk whether the call still exists */
} call;

typedef struct recent_result {
    char job_id[33];
    int attempt;
    ami_message *msg;
} recent_result;

struct backend {
    backend_sink sink;
    const config *cfg;
    ami_trunk t;
    ami_client *ami;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t supervisor;
    bool stopping;
    bool reconcile;              /* a (re)login happened: check the marked calls */
    int64_t next_reconcile;      /* mono ms: after a failed check, not before this */
    call calls[MAX_CALLS];
    recent_result recent[RECENT_RESULTS];
    int recent_pos;
    pbx_intake intake;
    bool inbound_only;           /* create_inbound: the hand-off only (another backend sends) */
    pbx_lease lease;             /* several nodes: the AMI connection's */
};

/* ---- reporting ---- */

static void report_simple(backend *b, const char *job_id, int attempt, outcome_kind kind, const char *sid,
                          const char *reason, bool transient, const char *message)
{
    backend_outcome o = outcome_failure(attempt, sid, reason, transient, message);
    o.kind = kind;
    b->sink.report(b->sink.ctx, job_id, &o);
}

static int int_field(const ami_message *m, const char *key, int dflt)
{
    const char *v = m ? ami_msg_get(m, key) : NULL;
    if (!v || !*v) return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    return (*end || x < 0 || x > 1000000) ? dflt : (int)x;
}

static const char *str_field(const ami_message *m, const char *key)
{
    const char *v = m ? ami_msg_get(m, key) : NULL;
    return v ? v : "";
}

/* Our dialplan's field, else the one Faxbot's faxsend context emits
 * (UserEvent(FaxResult,JobID:…,Status:…,Error:…,Pages:…)), so an old dialplan still reports. */
static const char *field_or(const ami_message *m, const char *ours, const char *faxbots)
{
    const char *v = str_field(m, ours);
    return *v ? v : str_field(m, faxbots);
}

/* One terminal outcome for a call, from the FaxResult event (ev, may be NULL) and
 * what the call table saw (c: a copy). */
static void report_call(backend *b, const call *c, const ami_message *ev, const char *fallback_msg)
{
    ami_call_facts f = {.fax_status = field_or(ev, "FaxStatus", "Status"), .fax_error = field_or(ev, "FaxError", "Error"),
                        .status_string = str_field(ev, "FaxStatusString"), .sip_cause = str_field(ev, "SipCause"),
                        .hangup_cause = int_field(ev, "HangupCause", c->hangup_cause), .reason = c->reason,
                        .answered = c->answered || int_field(ev, "Answered", 0) == 1, .trunk = b->t.preset};
    ami_verdict v;
    ami_judge(&f, &v);
    if (!ev && fallback_msg && !v.success) str_copy(v.message, sizeof v.message, fallback_msg);
    int pages = int_field(ev, "FaxPages", int_field(ev, "Pages", -1));
    int rate = int_field(ev, "FaxBitrate", -1);
    const char *ecm = str_field(ev, "Ecm");
    const char *mode = str_field(ev, "FaxMode");
    const char *remote = str_field(ev, "RemoteStationID");
    char msg[400];
    if (v.success) {
        str_fmt(msg, sizeof msg, "delivered%s%s", *mode ? " over " : "",
                !strcasecmp(mode, "T38") ? "T.38" : !strcasecmp(mode, "audio") ? "G.711 audio" : mode);
        if (rate > 0) {
            size_t l = strlen(msg);
            str_fmt(msg + l, sizeof msg - l, " at %d bps", rate);
        }
    } else
        str_copy(msg, sizeof msg, v.message);
    backend_outcome o = v.success ? outcome_success(c->attempt, c->chan_id, pages)
                                  : outcome_failure(c->attempt, c->chan_id, v.failure_reason, v.transient, msg);
    o.message = msg;
    o.pages = pages;
    o.duration_s = c->started > 0 ? (double)(mono_ms() - c->started) / 1000.0 : -1;
    o.bit_rate = rate > 0 ? rate : -1;
    o.ecm = !strcasecmp(ecm, "yes") ? 1 : !strcasecmp(ecm, "no") ? 0 : -1;
    o.remote_station_id = *remote ? remote : NULL;
    log_info("sip job %s attempt %d: %s%s%s", c->job_id, c->attempt, v.success ? "delivered" : v.failure_reason,
             v.success ? "" : ": ", v.success ? "" : msg);
    b->sink.report(b->sink.ctx, c->job_id, &o);
}

/* ---- the call table (lock held) ---- */

static call *find_call(backend *b, const char *job_id, int attempt)
{
    for (int i = 0; i < MAX_CALLS; i++) {
        call *c = &b->calls[i];
        if (c->used && !strcmp(c->job_id, job_id) && (attempt <= 0 || c->attempt == attempt)) return c;
    }
    return NULL;
}

static call *find_call_by(backend *b, const char *action_id, const char *chan_id)
{
    for (int i = 0; i < MAX_CALLS; i++) {
        call *c = &b->calls[i];
        if (!c->used) continue;
        if (action_id && *action_id && !strcmp(c->action_id, action_id)) return c;
        if (chan_id && *chan_id && !strcmp(c->chan_id, chan_id)) return c;
    }
    return NULL;
}

static int active_calls(backend *b)
{
    int n = 0;
    for (int i = 0; i < MAX_CALLS; i++) n += b->calls[i].used;
    return n;
}

static call *new_call(backend *b, const char *job_id, int attempt)
{
    for (int i = 0; i < MAX_CALLS; i++) {
        call *c = &b->calls[i];
        if (c->used) continue;
        memset(c, 0, sizeof *c);
        c->used = true;
        str_copy(c->job_id, sizeof c->job_id, job_id);
        c->attempt = attempt;
        str_fmt(c->chan_id, sizeof c->chan_id, "faxbot-%s-%d", job_id, attempt);
        str_fmt(c->action_id, sizeof c->action_id, "faxbot-orig-%s-%d", job_id, attempt);
        c->reason = c->hangup_cause = -1;
        return c;
    }
    return NULL;
}

/* ---- AMI events (client thread) ---- */

static void remember_result(backend *b, const char *job_id, int attempt, const ami_message *m)
{
    recent_result *r = &b->recent[b->recent_pos];
    b->recent_pos = (b->recent_pos + 1) % RECENT_RESULTS;
    ami_message_free(r->msg);
    str_copy(r->job_id, sizeof r->job_id, job_id);
    r->attempt = attempt;
    r->msg = ami_message_dup(m);
}

/* The FaxResult of a call we do not track (yet): resume() may ask for it. */
static ami_message *take_recent(backend *b, const char *job_id, int attempt)
{
    for (int i = 0; i < RECENT_RESULTS; i++) {
        recent_result *r = &b->recent[i];
        if (r->msg && !strcmp(r->job_id, job_id) && r->attempt == attempt) {
            ami_message *m = r->msg;
            r->msg = NULL;
            r->job_id[0] = 0;
            return m;
        }
    }
    return NULL;
}

static void on_fax_result(backend *b, const ami_message *m)
{
    const char *job_id = str_field(m, "JobID");
    int attempt = int_field(m, "Attempt", 0);
    if (!ami_token_ok(job_id, NULL) || strlen(job_id) != 32) return;
    pthread_mutex_lock(&b->lock);
    call *c = find_call(b, job_id, attempt);
    if (!c) {
        remember_result(b, job_id, attempt, m);
        pthread_mutex_unlock(&b->lock);
        log_debug("sip: FaxResult for job %s attempt %d that no call is waiting for (kept for resume)", job_id,
                  attempt);
        return;
    }
    call copy = *c;
    c->used = false;
    pthread_mutex_unlock(&b->lock);
    report_call(b, &copy, m, NULL);
}

static void on_originate_response(backend *b, const ami_message *m)
{
    const char *resp = str_field(m, "Response");
    pthread_mutex_lock(&b->lock);
    call *c = find_call_by(b, str_field(m, "ActionID"), str_field(m, "Uniqueid"));
    if (c) {
        c->reason = int_field(m, "Reason", -1);
        if (!strcasecmp(resp, "Success")) c->answered = true;
        else c->failed_at = mono_ms();
    }
    pthread_mutex_unlock(&b->lock);
    pthread_cond_signal(&b->wake);
}

static void on_hangup(backend *b, const ami_message *m)
{
    pthread_mutex_lock(&b->lock);
    call *c = find_call_by(b, NULL, str_field(m, "Uniqueid"));
    if (c) {
        c->hangup_cause = int_field(m, "Cause", -1);
        c->hangup_at = mono_ms();
    }
    pthread_mutex_unlock(&b->lock);
}

static void on_event(void *user, const ami_message *m)
{
    backend *b = user;
    const char *ev = str_field(m, "Event");
    if (!strcasecmp(ev, "UserEvent")) {
        if (!strcasecmp(str_field(m, "UserEvent"), AMI_RESULT_EVENT)) on_fax_result(b, m);
    } else if (!strcasecmp(ev, "OriginateResponse")) {
        on_originate_response(b, m);
    } else if (!strcasecmp(ev, "Hangup")) {
        on_hangup(b, m);
    }
}

static void on_state(void *user, ami_state st, const char *detail)
{
    backend *b = user;
    (void)detail;
    pthread_mutex_lock(&b->lock);
    if (st == AMI_UP) {
        b->reconcile = true;
    } else {
        /* Events may be lost from now on: every call in flight must be asked about. */
        for (int i = 0; i < MAX_CALLS; i++)
            if (b->calls[i].used) b->calls[i].needs_check = true;
    }
    pthread_mutex_unlock(&b->lock);
    pthread_cond_signal(&b->wake);
}

/* ---- supervisor: grace timers and reconciliation ---- */

/* The Uniqueids of every channel Asterisk has now; NULL if it could not be asked. */
static char **list_channels(backend *b, size_t *n)
{
    ami_reply r;
    char err[256];
    *n = 0;
    if (ami_client_action(b->ami, "CoreShowChannels", NULL, 0, NULL, NULL, NULL, ACTION_TIMEOUT_MS, &r, err,
                          sizeof err)) {
        log_warn("sip: cannot list Asterisk's channels: %s", err);
        return NULL;
    }
    if (!ami_response_ok(r.response)) {
        log_warn("sip: CoreShowChannels refused: %s (the AMI user needs write=reporting)",
                 str_field(r.response, "Message"));
        ami_reply_free(&r);
        return NULL;
    }
    char **ids = calloc(r.n_events + 1, sizeof *ids);
    for (size_t i = 0; ids && i < r.n_events; i++) {
        const char *u = ami_msg_get(r.events[i], "Uniqueid");
        if (u && strcmp(str_field(r.events[i], "Event"), "CoreShowChannelsComplete")) ids[(*n)++] = strdup(u);
    }
    ami_reply_free(&r);
    return ids;
}

static void free_list(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
}

static bool in_list(char **ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] && !strcmp(ids[i], id)) return true;
    return false;
}

static void reconcile(backend *b)
{
    pthread_mutex_lock(&b->lock);
    b->reconcile = false;
    bool wait = mono_ms() < b->next_reconcile;
    pthread_mutex_unlock(&b->lock);
    if (wait) return;
    size_t n = 0;
    char **ids = list_channels(b, &n);
    if (!ids) {
        pthread_mutex_lock(&b->lock);
        b->next_reconcile = mono_ms() + 2000;      /* try again, not in a tight loop */
        pthread_mutex_unlock(&b->lock);
        return;
    }
    call gone[64];
    int n_gone = 0;
    pthread_mutex_lock(&b->lock);
    for (int i = 0; i < MAX_CALLS && n_gone < 64; i++) {
        call *c = &b->calls[i];
        if (!c->used || !c->needs_check) continue;
        c->needs_check = false;
        if (in_list(ids, n, c->chan_id)) continue;          /* still up: its events will come */
        gone[n_gone++] = *c;
        c->used = false;
    }
    pthread_mutex_unlock(&b->lock);
    free_list(ids, n);
    for (int i = 0; i < n_gone; i++) {
        log_warn("sip job %s attempt %d: the call is gone and its result was lost; it will be retried",
                 gone[i].job_id, gone[i].attempt);
        report_simple(b, gone[i].job_id, gone[i].attempt, OUTCOME_FAILURE, gone[i].chan_id, "line_error", true,
                      "the AMI connection was lost while the call was in progress and Asterisk no longer has "
                      "the call, so its result is unknown; sending again");
    }
}

static void expire_graces(backend *b)
{
    call due[64];
    int n = 0;
    int64_t now = mono_ms();
    pthread_mutex_lock(&b->lock);
    for (int i = 0; i < MAX_CALLS && n < 64; i++) {
        call *c = &b->calls[i];
        if (!c->used) continue;
        int64_t since = c->failed_at ? c->failed_at : c->hangup_at;
        if (since && now - since >= RESULT_GRACE_MS) {
            due[n++] = *c;
            c->used = false;
        }
    }
    pthread_mutex_unlock(&b->lock);
    for (int i = 0; i < n; i++)
        report_call(b, &due[i], NULL, due[i].answered ? "the call ended without a fax result (no FaxResult "
                                                        "event: is the faxbot-result hangup handler in the "
                                                        "dialplan?)" : NULL);
}

/* ---- the AMI connection's lease (several nodes) ---- */

/* Renews or asks for the lease when due; logs in or off when that changes. */
static void lease_tick(backend *b)
{
    bool standby;
    char why[400];
    if (!pbx_lease_tick(&b->lease, &standby, why, sizeof why)) return;
    if (standby) {               /* the calls are the holder's to follow now */
        pthread_mutex_lock(&b->lock);
        for (int i = 0; i < MAX_CALLS; i++) b->calls[i].used = false;
        pthread_mutex_unlock(&b->lock);
    }
    ami_client_hold(b->ami, standby, why);
}

static bool sip_standby(backend *b) { return pbx_lease_standby(&b->lease); }

static void *supervisor_main(void *arg)
{
    backend *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!b->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&b->wake, &b->lock, &ts);
        if (b->stopping) break;
        bool check = false;
        for (int i = 0; i < MAX_CALLS && !check; i++) check = b->calls[i].used && b->calls[i].needs_check;
        bool up_now = b->reconcile || check;
        pthread_mutex_unlock(&b->lock);

        lease_tick(b);
        expire_graces(b);
        if (up_now && ami_client_state(b->ami, NULL, 0) == AMI_UP) reconcile(b);

        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* ---- create / destroy / check ---- */

/* The shared hand-off intake, on ASTERISK_SPOOL_DIR. */
static void intake_init(backend *b, const config *cfg)
{
    b->intake = (pbx_intake){.spool_setting = "ASTERISK_SPOOL_DIR", .spool_dir = b->t.spool_dir,
                             .data_dir = cfg ? cfg->data_dir : ".", .tmp_prefix = "asterisk-in",
                             .id_key = "inbound_id", .log_name = "sip inbound"};
    pbx_intake_init(&b->intake);
}

static backend *sip_create(const config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) { str_fmt(err, errlen, "out of memory"); return NULL; }
    b->sink = sink;
    b->cfg = cfg;
    if (ami_trunk_load(&b->t, cfg, false, err, errlen)) { free(b); return NULL; }
    if (cfg && cfg->inbound_enabled && !b->t.inbound_secret[0]) {
        str_fmt(err, errlen, "ASTERISK_INBOUND_SECRET must be set when INBOUND_ENABLED=true: the fax-inbound "
                             "dialplan hands received faxes over with it (or set INBOUND_ENABLED=false)");
        free(b);
        return NULL;
    }
    /* A settings apply killed half-way leaves a journal: finish it (or drop it) first. */
    if (b->t.config_dir[0] && fileset_recover(b->t.config_dir) > 0)
        log_info("sip backend: finished writing the Asterisk configuration an interrupted apply left in %s",
                 b->t.config_dir);
    pthread_mutex_init(&b->lock, NULL);
    intake_init(b, cfg);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->wake, &ca);
    pthread_condattr_destroy(&ca);
    ami_client_opts o = {.host = b->t.ami_host, .port = b->t.ami_port, .username = b->t.ami_user,
                         .secret = b->t.ami_password, .on_event = on_event, .on_state = on_state, .user = b};
    /* several nodes: log in only with the connection's lease */
    char why[400];
    o.start_held = pbx_lease_start(&b->lease, &sink, "ami", "the AMI connection", b->t.ami_host, b->t.ami_port,
                                   why, sizeof why);
    o.held_why = why;
    long ping = 0;   /* tests: a faster keepalive */
    if (setting_int("ASTERISK_AMI_PING_MS", &ping, err, errlen) == 0 && ping > 0) o.ping_interval_ms = (int)ping;
    b->ami = ami_client_start(&o, err, errlen);
    if (!b->ami || pthread_create(&b->supervisor, NULL, supervisor_main, b)) {
        if (b->ami) { ami_client_stop(b->ami); str_fmt(err, errlen, "cannot start the sip supervisor thread"); }
        pbx_lease_end(&b->lease);
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->wake);
        pbx_intake_destroy(&b->intake);
        free(b);
        return NULL;
    }
    log_info("sip backend: Asterisk AMI at %s:%d as '%s', trunk preset %s, at most %d channels", b->t.ami_host,
             b->t.ami_port, b->t.ami_user, b->t.preset->name, b->t.max_channels);
    return b;
}

static void sip_destroy(backend *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_mutex_unlock(&b->lock);
    pthread_cond_signal(&b->wake);
    if (!b->inbound_only) {
        pthread_join(b->supervisor, NULL);
        ami_client_stop(b->ami);
        pbx_lease_end(&b->lease);        /* logged off: another node may take over at once */
    }
    for (int i = 0; i < RECENT_RESULTS; i++) ami_message_free(b->recent[i].msg);
    memset(b->t.ami_password, 0, sizeof b->t.ami_password);
    memset(b->t.inbound_secret, 0, sizeof b->t.inbound_secret);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->wake);
    pbx_intake_destroy(&b->intake);
    free(b);
}

static int sip_check(backend *b, char *msg, size_t msglen)
{
    char detail[320];
    if (sip_standby(b)) {        /* ready: it serves the API; the holder sends */
        pbx_lease_why(&b->lease, msg, msglen);
        return 0;
    }
    ami_state st = ami_client_state(b->ami, detail, sizeof detail);
    if (st == AMI_UP) {
        pthread_mutex_lock(&b->lock);
        int n = active_calls(b);
        pthread_mutex_unlock(&b->lock);
        str_fmt(msg, msglen, "Asterisk AMI %s; trunk preset %s; %d of %d channels in use", detail,
                b->t.preset->name, n, b->t.max_channels);
        return 0;
    }
    if (st == AMI_CONNECTING)
        str_fmt(msg, msglen, "not logged in to Asterisk AMI at %s:%d yet (connecting)", b->t.ami_host, b->t.ami_port);
    else
        str_copy(msg, msglen, detail);
    return -1;
}

/* ---- submit ---- */

static void originate_hook(void *user, const char *action_id, const ami_message *resp)
{
    backend *b = user;
    bool ok = ami_response_ok(resp);
    pthread_mutex_lock(&b->lock);
    call *c = find_call_by(b, action_id, NULL);
    call copy;
    bool found = c != NULL;
    if (c) {
        copy = *c;
        if (ok) c->acked = true;
        else c->used = false;
    }
    pthread_mutex_unlock(&b->lock);
    if (!found) return;
    if (ok) {
        report_simple(b, copy.job_id, copy.attempt, OUTCOME_ACCEPTED, copy.chan_id, NULL, false, NULL);
        return;
    }
    const char *m = str_field(resp, "Message");
    char msg[300];
    str_fmt(msg, sizeof msg, "Asterisk refused the Originate: %.120s%s", *m ? m : "no reason given",
            strcasestr(m, "permission") ? " (the AMI user needs write=originate in manager.conf)" : "");
    report_simple(b, copy.job_id, copy.attempt, OUTCOME_FAILURE, copy.chan_id, "provider_error", false, msg);
}

static void drop_call(backend *b, const char *job_id, int attempt)
{
    pthread_mutex_lock(&b->lock);
    call *c = find_call(b, job_id, attempt);
    if (c) c->used = false;
    pthread_mutex_unlock(&b->lock);
}

/* One job's Originate: the checked values and the fields that carry them. */
typedef struct originate_req {
    char sid[72], tiff[PATH_MAX], dial[64];
    const char *caller, *station, *header;
    char q_header[128], q_station[64], channel[160], timeout[16], attempt[16], caller_hdr[128];
    char v_job[64], v_attempt[32], v_file[PATH_MAX + 32], v_header[160], v_station[96];
    ami_field p[16];
    size_t n;
} originate_req;

/* Checks the job (reporting a FAILURE and returning -1 when it cannot be sent) and
 * fills the Originate fields, every value quoted or checked for AMI. */
static int originate_prepare(backend *b, const backend_job *job, originate_req *o)
{
    str_fmt(o->sid, sizeof o->sid, "faxbot-%s-%d", job->job_id, job->attempt);
    const char *reason = NULL, *why = NULL;
    if (!ami_token_ok(job->job_id, NULL) || strlen(job->job_id) != 32)
        reason = "provider_error", why = "malformed job id";
    else if (!job->tiff_path || !realpath(job->tiff_path, o->tiff))
        reason = "file_error", why = "the job's fax TIFF is missing";
    else if (!ami_token_ok(o->tiff, "/._+-"))
        reason = "file_error", why = "the fax TIFF's path holds characters SendFAX cannot take (only letters, "
                                     "digits and / . _ + - are safe): use a plain FAX_DATA_DIR";
    else if (ami_trunk_dial(&b->t, job->to, o->dial, sizeof o->dial))
        reason = "invalid_number", why = "the number is not in E.164 form (+ and 6 to 20 digits)";
    if (reason) {
        report_simple(b, job->job_id, job->attempt, OUTCOME_FAILURE, o->sid, reason, false, why);
        return -1;
    }
    o->caller = job->caller_id && ami_token_ok(job->caller_id, "+") && job->caller_id[0] == '+' ? job->caller_id
                                                                                                : b->t.from_user;
    if (o->caller[0] && !ami_token_ok(o->caller, "+")) o->caller = "";
    o->station = job->station_id && *job->station_id ? job->station_id : b->t.station_id;
    o->header = job->header_text ? job->header_text : "";
    ami_quote_value(o->header, 50, o->q_header, sizeof o->q_header);
    ami_quote_value(o->station, 20, o->q_station, sizeof o->q_station);
    str_fmt(o->channel, sizeof o->channel, "PJSIP/%s@%s", o->dial, AMI_TRUNK_ENDPOINT);
    str_fmt(o->timeout, sizeof o->timeout, "%d", b->t.ring_timeout_s * 1000);
    str_fmt(o->attempt, sizeof o->attempt, "%d", job->attempt);
    if (b->t.caller_id_name[0])      /* checked at load: no quotes, backslashes or controls */
        str_fmt(o->caller_hdr, sizeof o->caller_hdr, "\"%s\" <%s>", b->t.caller_id_name, o->caller);
    else
        str_fmt(o->caller_hdr, sizeof o->caller_hdr, "<%s>", o->caller);
    str_fmt(o->v_job, sizeof o->v_job, "FAXBOT_JOBID=%s", job->job_id);
    str_fmt(o->v_attempt, sizeof o->v_attempt, "FAXBOT_ATTEMPT=%s", o->attempt);
    str_fmt(o->v_file, sizeof o->v_file, "FAXBOT_FILE=%s", o->tiff);
    str_fmt(o->v_header, sizeof o->v_header, "FAXOPT(headerinfo)=%s", o->q_header);
    str_fmt(o->v_station, sizeof o->v_station, "FAXOPT(localstationid)=%s", o->q_station);
    ami_field *p = o->p;
    size_t n = 0;
    p[n++] = (ami_field){"Channel", o->channel};
    p[n++] = (ami_field){"Context", AMI_OUT_CONTEXT};
    p[n++] = (ami_field){"Exten", AMI_OUT_EXTEN};
    p[n++] = (ami_field){"Priority", "1"};
    p[n++] = (ami_field){"Timeout", o->timeout};
    if (o->caller[0]) p[n++] = (ami_field){"CallerID", o->caller_hdr};
    p[n++] = (ami_field){"Async", "true"};
    p[n++] = (ami_field){"ChannelId", o->sid};
    p[n++] = (ami_field){"Variable", o->v_job};
    p[n++] = (ami_field){"Variable", o->v_attempt};
    p[n++] = (ami_field){"Variable", o->v_file};
    if (o->header[0]) p[n++] = (ami_field){"Variable", o->v_header};
    if (o->station[0]) p[n++] = (ami_field){"Variable", o->v_station};
    p[n++] = (ami_field){"Variable", "CHANNEL(hangup_handler_push)=\"" AMI_RESULT_CONTEXT ",s,1\""};
    o->n = n;
    return 0;
}

/* A channel for this attempt in the call table, or BACKEND_BUSY; its ActionID in action_id. */
static int claim_channel(backend *b, const backend_job *job, char *action_id, size_t len)
{
    pthread_mutex_lock(&b->lock);
    if (active_calls(b) >= b->t.max_channels) {
        pthread_mutex_unlock(&b->lock);
        return BACKEND_BUSY;
    }
    call *c = find_call(b, job->job_id, job->attempt);
    if (c) c->used = false;       /* a stale entry of the same attempt */
    c = new_call(b, job->job_id, job->attempt);
    if (c) {
        c->started = mono_ms();
        str_copy(action_id, len, c->action_id);
    }
    pthread_mutex_unlock(&b->lock);
    return c ? 0 : BACKEND_BUSY;
}

static int sip_submit(backend *b, const backend_job *job)
{
    if (sip_standby(b)) return BACKEND_BUSY;     /* claimed just before the lease moved: back to the queue */
    originate_req *o = calloc(1, sizeof *o);
    if (!o) {
        report_simple(b, job->job_id, job->attempt, OUTCOME_FAILURE, NULL, "provider_error", true, "out of memory");
        return -1;
    }
    char action_id[80], masked[32], err[320];
    int rc = originate_prepare(b, job, o) ? -1 : claim_channel(b, job, action_id, sizeof action_id);
    if (rc) {
        free(o);
        return rc;
    }
    mask_phone(job->to, masked, sizeof masked);
    log_info("sip job %s attempt %d: originating to %s", job->job_id, job->attempt, masked);
    ami_reply r;
    rc = ami_client_action(b->ami, "Originate", o->p, o->n, action_id, originate_hook, b, ORIGINATE_TIMEOUT_MS, &r,
                           err, sizeof err);
    if (rc == 0) {
        bool ok = ami_response_ok(r.response);
        ami_reply_free(&r);
        rc = ok ? 0 : -1;        /* the hook reported ACCEPTED or the refusal */
    } else if (rc == AMI_ERR_NOT_SENT) {
        drop_call(b, job->job_id, job->attempt);
        report_simple(b, job->job_id, job->attempt, OUTCOME_FAILURE, o->sid, "network_error", true, err);
        rc = -1;
    } else {
        /* Sent, but the answer never came: Asterisk may have the call. Ask it later. */
        log_warn("sip job %s attempt %d: %s; will ask Asterisk about the call", job->job_id, job->attempt, err);
        pthread_mutex_lock(&b->lock);
        call *c = find_call(b, job->job_id, job->attempt);
        if (c) c->needs_check = true;
        pthread_mutex_unlock(&b->lock);
        report_simple(b, job->job_id, job->attempt, OUTCOME_ACCEPTED, o->sid, NULL, false, NULL);
        pthread_cond_signal(&b->wake);
        rc = 0;
    }
    free(o);
    return rc;
}

/* ---- resume ---- */

static int sip_resume(backend *b, const backend_job *job)
{
    /* another node follows this connection's calls: the job layer hands the attempt
     * over when its lease runs out */
    if (sip_standby(b)) return 0;
    char sid[72];
    str_fmt(sid, sizeof sid, "faxbot-%s-%d", job->job_id, job->attempt);
    pthread_mutex_lock(&b->lock);
    ami_message *m = take_recent(b, job->job_id, job->attempt);
    pthread_mutex_unlock(&b->lock);
    if (m) {
        call c = {.used = true, .attempt = job->attempt, .reason = -1, .hangup_cause = -1};
        str_copy(c.job_id, sizeof c.job_id, job->job_id);
        str_copy(c.chan_id, sizeof c.chan_id, sid);
        report_call(b, &c, m, NULL);
        ami_message_free(m);
        return 0;
    }
    if (job->submitted_at > 0 && now_ms() - job->submitted_at > MAX_CALL_MS) {
        /* No fax call lasts this long: whatever happened, its result is not coming. */
        bool up = ami_client_state(b->ami, NULL, 0) == AMI_UP;
        drop_call(b, job->job_id, job->attempt);
        report_simple(b, job->job_id, job->attempt, OUTCOME_FAILURE, sid, up ? "line_error" : "network_error", true,
                      up ? "no result from Asterisk an hour after the call started; sending again"
                         : "Asterisk AMI has been unreachable since this call started; its result is unknown");
        return 0;
    }
    /* Still going as far as we know: renew the lease first, then have it checked. */
    report_simple(b, job->job_id, job->attempt, OUTCOME_ACCEPTED, sid, NULL, false, NULL);
    pthread_mutex_lock(&b->lock);
    call *c = find_call(b, job->job_id, job->attempt);
    if (!c) {
        c = new_call(b, job->job_id, job->attempt);
        if (c) c->started = job->submitted_at > 0 ? mono_ms() - (now_ms() - job->submitted_at) : 0;
    }
    if (c) c->needs_check = true;
    pthread_mutex_unlock(&b->lock);
    if (!c) {
        report_simple(b, job->job_id, job->attempt, OUTCOME_FAILURE, sid, "line_error", true,
                      "too many calls in flight to follow this one; sending again");
        return 0;
    }
    pthread_cond_signal(&b->wake);
    return 0;
}

/* ---- diagnostics ---- */

static const char *state_name(ami_state st)
{
    switch (st) {
    case AMI_UP: return "logged_in";
    case AMI_LOGIN_REJECTED: return "login_rejected";
    case AMI_DOWN: return "unreachable";
    default: return "connecting";
    }
}

/* A list action's events named ev_name; NULL if the action failed. */
static ami_reply *list_action(backend *b, const char *action, const ami_field *p, size_t n)
{
    ami_reply *r = calloc(1, sizeof *r);
    char err[256];
    if (!r) return NULL;
    if (ami_client_action(b->ami, action, p, n, NULL, NULL, NULL, ACTION_TIMEOUT_MS, r, err, sizeof err)) {
        free(r);
        return NULL;
    }
    return r;
}

static void free_list_reply(ami_reply *r)
{
    if (r) ami_reply_free(r);
    free(r);
}

static void diag_trunk(backend *b, json_t *trunk, json_t *advice)
{
    ami_reply *r = list_action(b, "PJSIPShowRegistrationsOutbound", NULL, 0);
    if (r && ami_response_ok(r->response)) {
        const char *status = NULL;
        for (size_t i = 0; i < r->n_events; i++)
            if (!strcasecmp(str_field(r->events[i], "Event"), "OutboundRegistrationDetail") &&
                strstr(str_field(r->events[i], "ObjectName"), AMI_TRUNK_ENDPOINT))
                status = str_field(r->events[i], "Status");
        json_object_set_new(trunk, "registration", status ? json_string(status) : json_string("none configured"));
        if (status && strcasecmp(status, "Registered"))
            json_array_append_new(advice, json_string("the trunk registration is not Registered: a 401/403 means "
                                                      "wrong SIP_USERNAME/SIP_PASSWORD or an IP not on the "
                                                      "provider's access list"));
    } else {
        json_object_set_new(trunk, "registration", json_string("unknown (PJSIPShowRegistrationsOutbound failed)"));
    }
    free_list_reply(r);
    ami_field ep[] = {{"Endpoint", AMI_TRUNK_ENDPOINT}};
    r = list_action(b, "PJSIPShowEndpoint", ep, 1);
    if (r && ami_response_ok(r->response)) {
        const char *status = NULL, *rtt = NULL;
        for (size_t i = 0; i < r->n_events; i++)
            if (!strcasecmp(str_field(r->events[i], "Event"), "ContactStatusDetail")) {
                status = str_field(r->events[i], "Status");
                rtt = str_field(r->events[i], "RoundtripUsec");
            }
        json_object_set_new(trunk, "endpoint", json_true());
        json_object_set_new(trunk, "qualify", status ? json_string(status) : json_string("unknown"));
        if (rtt && *rtt >= '0' && *rtt <= '9')      /* the qualify time: OPTIONS round trip */
            json_object_set_new(trunk, "qualify_ms", json_real((double)strtoll(rtt, NULL, 10) / 1000.0));
        if (status && strcasecmp(status, "Reachable") && strcasecmp(status, "Created"))
            json_array_append_new(advice, json_string("the trunk does not answer OPTIONS (qualify): check SIP_SERVER, "
                                                      "SIP_PORT and the firewall"));
    } else {
        json_object_set_new(trunk, "endpoint", json_false());
        json_array_append_new(advice, json_string("Asterisk has no endpoint '" AMI_TRUNK_ENDPOINT "': install the "
                                                  "pjsip.conf from `faxbot asterisk-config` and reload"));
    }
    free_list_reply(r);
}

static int sip_diagnose(backend *b, json_t *o)
{
    char detail[320];
    ami_state st = ami_client_state(b->ami, detail, sizeof detail);
    json_t *ami = json_object(), *advice = json_array();
    json_object_set_new(ami, "host", json_string(b->t.ami_host));
    json_object_set_new(ami, "port", json_integer(b->t.ami_port));
    json_object_set_new(ami, "user", json_string(b->t.ami_user));
    json_object_set_new(ami, "login", json_string(state_name(st)));
    json_object_set_new(ami, "detail", json_string(detail));
    json_object_set_new(o, "ami", ami);
    json_object_set_new(o, "preset", json_string(b->t.preset->name));
    json_object_set_new(o, "trunk_plugin", json_string(b->t.preset->id));
    json_object_set_new(o, "credentials", json_string(st == AMI_UP ? "ok" : st == AMI_LOGIN_REJECTED ? "rejected"
                                                                                                   : "unknown"));
    bool ok = st == AMI_UP;
    if (st == AMI_LOGIN_REJECTED)
        json_array_append_new(advice, json_string("AMI login rejected: ASTERISK_AMI_USERNAME/ASTERISK_AMI_PASSWORD "
                                                  "must match the user in manager.conf (faxbot asterisk-config)"));
    else if (st != AMI_UP)
        json_array_append_new(advice, json_string("Asterisk's AMI is not reachable: check ASTERISK_AMI_HOST/PORT and "
                                                  "that manager.conf has enabled = yes"));
    if (st == AMI_UP) {
        char err[256];
        ami_reply r;
        int64_t t0 = mono_ms();
        if (ami_client_action(b->ami, "Ping", NULL, 0, NULL, NULL, NULL, ACTION_TIMEOUT_MS, &r, err, sizeof err) == 0) {
            json_object_set_new(ami, "ping_ms", json_integer(mono_ms() - t0));
            ami_reply_free(&r);
        } else {
            json_object_set_new(ami, "ping_error", json_string(err));
            ok = false;
        }
        static const char *const mods[] = {"res_fax", "res_fax_spandsp", "chan_pjsip", "res_pjsip_t38", "func_curl"};
        json_t *modules = json_object();
        for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
            ami_field f[] = {{"Module", mods[i]}};
            bool loaded = false;
            if (ami_client_action(b->ami, "ModuleCheck", f, 1, NULL, NULL, NULL, ACTION_TIMEOUT_MS, &r, err,
                                  sizeof err) == 0) {
                loaded = ami_response_ok(r.response);
                ami_reply_free(&r);
            }
            json_object_set_new(modules, mods[i], json_boolean(loaded));
            if (!loaded) {
                ok = false;
                json_array_append_new(advice, json_sprintf("module %s is not loaded: add `load = %s.so` to "
                                                           "modules.conf (and install it)", mods[i], mods[i]));
            }
        }
        json_object_set_new(o, "modules", modules);
        json_t *trunk = json_object();
        diag_trunk(b, trunk, advice);
        json_object_set_new(o, "trunk", trunk);
    }
    json_object_set_new(o, "advice", advice);
    return ok ? 0 : -1;
}

/* ---- applying a settings change to Asterisk ---- */

/* The module to reload for each rendered file ("" = only a restart loads it). */
static const char *reload_module(const char *file)
{
    static const char *const map[][2] = {
        {"pjsip.conf", "res_pjsip.so"}, {"extensions.conf", "pbx_config.so"}, {"manager.conf", "manager"},
        {"udptl.conf", "res_udptl.so"}, {"res_fax.conf", "res_fax.so"}, {"rtp.conf", "res_rtp_asterisk.so"},
        {"modules.conf", ""},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], file)) return map[i][1];
    return "";
}

static int sip_apply_pbx(backend *b, json_t *o)
{
    char err[512];
    ami_trunk t;
    int rc = 0;
    if (ami_trunk_load(&t, b->cfg, true, err, sizeof err)) {
        char dir[1024] = "";
        setting_str("ASTERISK_CONFIG_DIR", dir, sizeof dir, NULL, 0);
        if (!dir[0]) return 1;
        rc = backend_pbx_fail(o, err);
        goto out;
    }
    if (!t.config_dir[0]) { explicit_bzero(&t, sizeof t); return 1; }
    ami_rendered files[AMI_RENDER_FILES];
    if (ami_render(&t, files, err, sizeof err)) {
        rc = backend_pbx_fail(o, err);
        goto out;
    }
    const char *names[AMI_RENDER_FILES], *texts[AMI_RENDER_FILES];
    bool changed[AMI_RENDER_FILES];
    for (int i = 0; i < AMI_RENDER_FILES; i++) { names[i] = files[i].name; texts[i] = files[i].text; }
    json_object_set_new(o, "pbx", json_string("asterisk"));
    json_object_set_new(o, "config_dir", json_string(t.config_dir));
    int wrc = backend_pbx_write(t.config_dir, names, texts, AMI_RENDER_FILES, changed, o);
    for (int i = 0; i < AMI_RENDER_FILES; i++) explicit_bzero(files[i].text, strlen(files[i].text));
    ami_render_free(files);
    if (wrc) { rc = -1; goto out; }
    json_t *reloads = json_array();
    bool restart = false, any = false;
    for (int i = 0; i < AMI_RENDER_FILES; i++) {
        if (!changed[i]) continue;
        any = true;
        if (!reload_module(names[i])[0]) restart = true;
    }
    /* Reloads go over AMI: a new instance (the swap) may still be logging in. */
    int64_t deadline = mono_ms() + 5000;
    while (any && ami_client_state(b->ami, NULL, 0) != AMI_UP && mono_ms() < deadline) sleep_ms(50);
    bool ok = true;
    for (int i = 0; i < AMI_RENDER_FILES; i++) {
        const char *mod = reload_module(names[i]);
        if (!changed[i] || !mod[0]) continue;
        ami_field f[] = {{"Module", mod}};
        ami_reply r;
        char aerr[256] = "";
        bool done = ami_client_action(b->ami, "Reload", f, 1, NULL, NULL, NULL, ACTION_TIMEOUT_MS, &r, aerr, sizeof aerr) == 0;
        const char *msg = aerr;
        bool good = done && ami_response_ok(r.response);
        if (done) msg = str_field(r.response, "Message");
        json_array_append_new(reloads, json_pack("{s:s,s:s,s:b,s:s}", "file", names[i], "module", mod, "ok", good,
                                                 "message", msg ? msg : ""));
        if (done) ami_reply_free(&r);
        ok &= good;
    }
    json_object_set_new(o, "reloads", reloads);
    json_object_set_new(o, "asterisk_restart_needed", json_boolean(restart));
    if (any && ami_client_state(b->ami, NULL, 0) == AMI_UP) {
        json_t *trunk = json_object(), *advice = json_array();
        diag_trunk(b, trunk, advice);
        json_object_set_new(o, "trunk", trunk);
        json_object_set_new(o, "advice", advice);
    }
    json_object_set_new(o, "ok", json_boolean(ok));
    rc = ok ? 0 : -1;
out:
    explicit_bzero(&t, sizeof t);
    return rc;
}

/* ---- inbound hand-off ---- */

typedef struct inbound_req {
    char tiff_path[1024];
    char from[64];
    char to[64];
    char station_id[64];
    char uniqueid[80];
} inbound_req;

static char *req_slot(inbound_req *r, const char *key, size_t klen, size_t *cap)
{
#define SLOT(name, field) \
    if (klen == strlen(name) && !strncmp(key, name, klen)) { *cap = sizeof r->field; return r->field; }
    SLOT("tiff_path", tiff_path)
    SLOT("from", from)
    SLOT("from_number", from)
    SLOT("to", to)
    SLOT("to_number", to)
    SLOT("station_id", station_id)
    SLOT("uniqueid", uniqueid)
#undef SLOT
    return NULL;
}

static int parse_form(const char *body, size_t len, inbound_req *r)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&') end++;
        const char *eq = memchr(body + i, '=', end - i);
        if (eq) {
            size_t cap = 0;
            char *dst = req_slot(r, body + i, (size_t)(eq - (body + i)), &cap);
            if (dst && url_decode(eq + 1, (size_t)(body + end - eq - 1), dst, cap, URL_PLUS_SPACE) < 0) return -1;
        }
        i = end + 1;
    }
    return 0;
}

static int parse_json(const char *body, size_t len, inbound_req *r)
{
    json_t *o = json_loadb(body, len, 0, NULL);
    if (!json_is_object(o)) { json_decref(o); return -1; }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(o, key, v) {
        size_t cap = 0;
        char *dst = req_slot(r, key, strlen(key), &cap);
        if (!dst || json_is_null(v)) continue;
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
            str_copy(dst, cap, json_string_value(v))) { rc = -1; break; }
    }
    json_decref(o);
    return rc;
}

/* Keeps only the characters a number or a station id may have. */
static void keep_only(char *s, const char *allowed_extra, bool alnum)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= '0' && c <= '9') || (alnum && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) ||
            strchr(allowed_extra, c))
            *o++ = (char)c;
    }
    *o = 0;
}

static void handle_inbound(backend *b, const webhook_request *req, webhook_response *res)
{
    const char *secret = req->header(req, "X-Internal-Secret");
    if (!b->t.inbound_secret[0]) {
        webhook_reply_detail(res, 403, "the Asterisk hand-off is disabled: ASTERISK_INBOUND_SECRET is not set (set it, "
                                       "and send it as X-Internal-Secret from the fax-inbound dialplan)");
        return;
    }
    if (!secret || !secure_streq(secret, b->t.inbound_secret)) {
        webhook_reply_detail(res, 401, "missing or wrong X-Internal-Secret");
        return;
    }
    if (b->cfg && !b->cfg->inbound_enabled) {
        webhook_reply_detail(res, 404, "Inbound not enabled: set INBOUND_ENABLED=true to store received faxes");
        return;
    }
    inbound_req r;
    memset(&r, 0, sizeof r);
    const char *ct = req->content_type ? req->content_type : "";
    size_t skip = 0;
    while (skip < req->body_len && (req->body[skip] == ' ' || req->body[skip] == '\n' || req->body[skip] == '\r')) skip++;
    bool json = !strncasecmp(ct, "application/json", 16) || (skip < req->body_len && req->body[skip] == '{');
    if ((json ? parse_json(req->body, req->body_len, &r) : parse_form(req->body, req->body_len, &r))) {
        webhook_reply_detail(res, 400, "malformed body: send JSON {tiff_path, from, to, station_id, uniqueid}");
        return;
    }
    if (!ami_token_ok(r.uniqueid, "._-") || strlen(r.uniqueid) > 64) {
        webhook_reply_detail(res, 400, "uniqueid is required (Asterisk's ${UNIQUEID})");
        return;
    }
    keep_only(r.from, "+", false);
    keep_only(r.to, "+", false);
    keep_only(r.station_id, " +.-", true);
    char sid[96];
    str_fmt(sid, sizeof sid, "asterisk-%s", r.uniqueid);
    pbx_handoff h = {.call_id = r.uniqueid, .provider_sid = sid, .tiff_path = r.tiff_path, .from = r.from,
                     .to = r.to, .station_id = r.station_id};
    pbx_intake_take(&b->intake, &b->sink, &h, res);
}

/* ---- receiving while another backend sends ---- */

static bool sip_inbound_configured(char *why, size_t whylen)
{
    const char *s = setting_raw("ASTERISK_INBOUND_SECRET");
    if (!s || !*s) return false;
    str_copy(why, whylen, "ASTERISK_INBOUND_SECRET is set");
    return true;
}

/* Only the hand-off: the secret and the spool, no AMI connection, no supervisor. */
static backend *sip_create_inbound(const config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) { str_fmt(err, errlen, "out of memory"); return NULL; }
    b->sink = sink;
    b->cfg = cfg;
    b->inbound_only = true;
    if (ami_trunk_load_inbound(&b->t, cfg, err, errlen)) { free(b); return NULL; }
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->wake, NULL);
    intake_init(b, cfg);
    log_info("Asterisk inbound hand-off /_internal/asterisk/inbound is on (ASTERISK_INBOUND_SECRET is set; "
             "faxes are sent through FAX_BACKEND=%s)", cfg ? cfg->backend : "?");
    return b;
}

static const backend_webhook sip_webhooks[] = {
    {.method = "POST", .path = "/_internal/asterisk/inbound", .max_body = 16384, .handle = handle_inbound,
     .inbound = true},
};

const backend_ops backend_sip_ops = {
    .name = "sip",
    .needs_tiff = true,
    .create = sip_create,
    .submit = sip_submit,
    .check = sip_check,
    .destroy = sip_destroy,
    .async = true,
    .resume = sip_resume,
    .standby = sip_standby,
    .diagnose = sip_diagnose,
    .webhooks = sip_webhooks,
    .n_webhooks = 1,
    .settings = ami_trunk_settings,
    .apply_pbx = sip_apply_pbx,
    .inbound_configured = sip_inbound_configured,
    .create_inbound = sip_create_inbound,
};
