/* backend_direct.c — FAX_BACKEND=direct: the gateway is its own fax machine on a SIP
 * trunk, with no PBX. It runs the SIP user agent (src/sip: endpoint, registration,
 * calls) and the real-time media engine (src/media: spandsp over RTP/G.711 or
 * UDPTL/T.38) and glues them: an outbound job is an INVITE; once answered the media
 * starts with what the SDP agreed (direct_map.c); T.38 per DIRECT_T38 (offered in the
 * INVITE, or audio then a re-INVITE, or only the far end's re-INVITE accepted, or
 * audio only), a refused re-INVITE (488) keeps audio when DIRECT_AUDIO_FALLBACK; the
 * fax's end hangs up (BYE) and the result — T.30's, or the SIP end reason when there
 * was no fax — is reported with the call's SIP ladder. Inbound INVITEs from the trunk
 * are answered, received into a temporary TIFF and stored as inbound faxes.
 *
 * Threads: SIP callbacks on the endpoint's loop thread, the fax's end on the media
 * engine's thread, and one waiting thread per call (the job's worker for outbound, a
 * thread of ours for inbound) that collects both ends and reports. Rule: b->mu is
 * never held while calling into media_* or sip_* (their callbacks take b->mu).
 *
 * Settings: the trunk rows shared with the PBX backends (SIP_SERVER, SIP_PORT,
 * SIP_USERNAME, SIP_PASSWORD, SIP_FROM_USER, SIP_FROM_DOMAIN, SIP_CALLER_ID_NAME,
 * SIP_TRANSPORT, SIP_TLS_*, SIP_TRUNK_PRESET, SIP_TECH_PREFIX) and DIRECT_* below. */
#include "backend/backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ami/ami_trunk.h"
#include "backend/direct_map.h"
#include "backend/direct_media.h"
#include "config/config.h"
#include "config/settings.h"
#include "media/media_engine.h"
#include "plugins/sip_trunk.h"
#include "sip/sip_call.h"
#include "sip/sip_endpoint.h"
#include "sip/sip_reg.h"
#include "util/util.h"

typedef enum { T38_OFFER = 0, T38_REINVITE, T38_ACCEPT, T38_OFF } t38_policy;
static const char *const t38_names[] = {"offer", "reinvite", "accept", "off"};

#define LADDER_MAX 2048
#define GRACE_AFTER_BYE_MS 5000   /* media may still finish its T.30 after the far end's BYE */

typedef struct dcall dcall;

struct backend {
    backend_sink sink;
    char data_dir[1024];
    bool inbound_enabled;
    char station_id[FAX_STATION_ID_MAX + 1];
    char header[FAX_HEADER_MAX + 1];
    /* settings */
    char trunk_host[64], bind[64], local_host[64], domain[128], from_user[64], display[64];
    char auth_user[64], password[128], tech_prefix[32], tls_ca[512], tls_cert[512], tls_key[512];
    int trunk_port, sip_port, transport, media_min, media_max, max_calls, ring_timeout;
    t38_policy t38;
    bool fallback, do_register, ecm, plus;
    double test_loss;
    const sip_trunk_profile *trunk;
    /* running parts */
    sip_endpoint *ep;
    sip_ua *ua;
    sip_reg *reg;
    media_engine *media;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dcall *calls;           /* every call not yet finished (under mu) */
    dcall *inviting;        /* loop thread: the call inside sip_ua_invite (its callbacks may come at once) */
    int threads;            /* inbound finishing threads running (under mu) */
    bool stopping;
    bool loop_closed;       /* destroy: nothing more is posted to the loop (under mu) */
    bool started;           /* atomic: ep, ua and reg are up (at create, or later by the starter) */
    bool stopping_starter, has_starter;
    pthread_t starter;
    char last_error[200], last_advice[300];   /* the last failed call (under mu) */
    int last_status;
};

struct dcall {
    backend *b;
    dcall *next;
    bool inbound;
    /* loop thread only */
    sip_call *sc;
    sdp_kind offered;
    bool retried_audio;
    int64_t reinvite_at;    /* glare (491): our T.38 re-INVITE again at this time (0 = none) */
    bool glare_retried;
    /* under b->mu */
    media_call *mc;
    bool media_started, media_t38, media_over, sip_over, answered;
    int posts;              /* functions posted to the loop thread, not yet run */
    fax_result fr;
    bool have_fr;
    sip_end_reason end;
    int end_status;
    int64_t sip_over_at;
    char note[200];         /* why we hung up, when it was our decision */
    const char *our_reason; /* and the failure word for it (NULL: from the SIP end) */
    char ladder[LADDER_MAX];
    /* outbound */
    const backend_job *job;
    char number[96], sid[96];
    /* inbound */
    char rx_path[1200], from[64], to[64], call_id[128];
};

static const char *advice_for(const backend *b, int status, sip_end_reason r)
{
    const char *meaning = status ? sip_trunk_error_meaning(b->trunk, status) : NULL;
    if (meaning && *meaning) return meaning;
    switch (r) {
    case SIP_END_AUTH_FAILED: return "the trunk refused our credentials: check SIP_USERNAME and SIP_PASSWORD";
    case SIP_END_TIMEOUT: return "no answer from the trunk: check SIP_SERVER, SIP_PORT, SIP_TRANSPORT and the firewall";
    case SIP_END_INVALID_NUMBER: return "the trunk does not know the number: check its format (SIP_TRUNK_PRESET, SIP_TECH_PREFIX)";
    case SIP_END_NOT_ACCEPTABLE: return "no common media: try DIRECT_T38=reinvite or accept, or DIRECT_AUDIO_FALLBACK=true";
    case SIP_END_UNAVAILABLE: return "the trunk is overloaded or down: the job layer retries";
    case SIP_END_DECLINED: return "the far end or the trunk refused the call (403/603): check the caller ID and the account";
    default: return "";
    }
}

/* ---- lifetime of a call record ---- */

/* 0 if posted; -1 if the loop's queue is full (nothing will run). */
static int post_locked(dcall *d, sip_loop_fn fn)
{
    backend *b = d->b;
    if (b->loop_closed) return -1;
    d->posts++;
    pthread_mutex_unlock(&b->mu);
    int rc = sip_endpoint_call(b->ep, fn, d);
    pthread_mutex_lock(&b->mu);
    if (rc != 0) d->posts--;
    return rc;
}

static void unlink_call(backend *b, dcall *d)
{
    for (dcall **p = &b->calls; *p; p = &(*p)->next)
        if (*p == d) { *p = d->next; break; }
}

/* Waits until SIP and media are both over and nothing posted is pending; stops the
 * media call. Called by the one thread that owns d; d stays valid for it. */
static void wait_call_over(dcall *d)
{
    backend *b = d->b;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        bool media_idle = !d->media_started || d->media_over;
        if (d->sip_over && d->posts == 0 && media_idle) break;
        if (d->sip_over && !media_idle && mono_ms() - d->sip_over_at > GRACE_AFTER_BYE_MS) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    media_call *mc = d->mc;
    d->mc = NULL;
    unlink_call(b, d);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    media_call_stop(mc);
}

/* ---- loop thread: SIP side ---- */

static void loop_hangup(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep; (void)now;
    dcall *d = arg;
    if (d->sc) sip_call_hangup(d->sc);
    pthread_mutex_lock(&d->b->mu);
    d->posts--;
    pthread_cond_broadcast(&d->b->cv);
    pthread_mutex_unlock(&d->b->mu);
}

static void sip_over_now(dcall *d, sip_end_reason r, int status, const char *note)
{
    backend *b = d->b;
    pthread_mutex_lock(&b->mu);
    d->sip_over = true;
    d->sip_over_at = mono_ms();
    d->end = r;
    d->end_status = status;
    if (note && !d->note[0]) str_copy(d->note, sizeof d->note, note);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void loop_invite(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep; (void)now;
    dcall *d = arg;
    backend *b = d->b;
    pthread_mutex_lock(&b->mu);
    media_call *mc = d->mc;
    pthread_mutex_unlock(&b->mu);
    int port = mc ? media_call_local_port(mc) : 0;
    sdp_local l;
    direct_local_sdp(&l, b->local_host, port, b->t38 != T38_OFF);
    b->inviting = d;
    bool ended = false;
    d->sc = sip_ua_invite(b->ua, d->number, &l, d->offered);
    pthread_mutex_lock(&b->mu);
    ended = d->sip_over;
    pthread_mutex_unlock(&b->mu);
    b->inviting = NULL;
    if (ended) d->sc = NULL;
    if (d->sc && !ended) sip_call_set_user(d->sc, d);
    else if (!d->sc && !ended) sip_over_now(d, SIP_END_FAILED, 0, "the INVITE could not be sent (call cap reached or a bad number)");
    pthread_mutex_lock(&b->mu);
    d->posts--;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void start_media(dcall *d, const sdp_negotiated *n)
{
    backend *b = d->b;
    media_params p;
    char err[200] = "";
    if (direct_media_params(n, true, &p, err, sizeof err)) {
        log_warn("direct: call %s: %s", d->sc ? sip_call_id(d->sc) : "?", err);
        pthread_mutex_lock(&b->mu);
        str_fmt(d->note, sizeof d->note, "%s", err);
        pthread_mutex_unlock(&b->mu);
        if (d->sc) sip_call_hangup(d->sc);
        return;
    }
    pthread_mutex_lock(&b->mu);
    media_call *mc = d->mc;
    bool started = d->media_started, t38 = d->media_t38;
    pthread_mutex_unlock(&b->mu);
    if (!mc) return;
    int rc;
    if (!started) rc = media_call_start(mc, &p, err, sizeof err);
    else if (!t38 && p.kind == MEDIA_KIND_T38) rc = media_call_switch_to_t38(mc, &p, err, sizeof err);
    else rc = media_call_update_remote(mc, p.remote_addr, p.remote_port, err, sizeof err);
    pthread_mutex_lock(&b->mu);
    if (rc == 0) {
        d->media_started = true;
        if (p.kind == MEDIA_KIND_T38) d->media_t38 = true;   /* a re-INVITE back to audio at the end keeps it */
    }
    pthread_mutex_unlock(&b->mu);
    if (rc != 0) {
        log_warn("direct: media of call %s: %s", d->sc ? sip_call_id(d->sc) : "?", err);
        pthread_mutex_lock(&b->mu);
        str_fmt(d->note, sizeof d->note, "media could not start: %s", err);
        pthread_mutex_unlock(&b->mu);
        if (d->sc) sip_call_hangup(d->sc);
    }
}

static void ev_answered(void *user, sip_call *c, const sdp_negotiated *n)
{
    (void)user;
    dcall *d = sip_call_user(c);
    if (!d) return;
    pthread_mutex_lock(&d->b->mu);
    d->answered = true;
    pthread_mutex_unlock(&d->b->mu);
    start_media(d, n);
    if (d->b->t38 == T38_REINVITE && n->kind == SDP_KIND_AUDIO && d->sc) sip_call_reinvite(c, SDP_KIND_T38);
}

static void ev_media_change(void *user, sip_call *c, const sdp_negotiated *n)
{
    (void)user;
    dcall *d = sip_call_user(c);
    if (d) start_media(d, n);
}

/* Loop tick: re-INVITEs due after glare. A call with sc set is alive (only this thread ends it). */
static void glare_tick(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep;
    (void)now;
    now = mono_ms();
    backend *b = arg;
    sip_call *due[16];
    int n = 0;
    pthread_mutex_lock(&b->mu);
    for (dcall *d = b->calls; d && n < 16; d = d->next) {
        if (!d->reinvite_at || now < d->reinvite_at || !d->sc) continue;
        d->reinvite_at = 0;
        if (!d->media_t38) due[n++] = d->sc;
    }
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < n; i++) sip_call_reinvite(due[i], SDP_KIND_T38);
}

static void ev_reinvite_failed(void *user, sip_call *c, int status)
{
    (void)user;
    dcall *d = sip_call_user(c);
    if (!d) return;
    if (status == 491 && !d->glare_retried) {
        /* both ends asked at once (RFC 3261 §14.1): the side that answered tries again
         * soon, the caller later — by then usually on T.38 already (then it does nothing) */
        d->glare_retried = true;
        d->reinvite_at = mono_ms() + (d->inbound ? 500 : 2500);
        return;
    }
    if (d->b->fallback) {
        log_info("direct: call %s: T.38 re-INVITE refused (%d): staying on audio", sip_call_id(c), status);
        return;
    }
    pthread_mutex_lock(&d->b->mu);
    str_fmt(d->note, sizeof d->note, "T.38 refused by the far end (%d) and DIRECT_AUDIO_FALLBACK is false", status);
    d->our_reason = "rejected";
    pthread_mutex_unlock(&d->b->mu);
    sip_call_hangup(c);
}

static void loop_retry_audio(sip_endpoint *ep, void *arg, int64_t now)
{
    dcall *d = arg;
    d->offered = SDP_KIND_AUDIO;
    loop_invite(ep, arg, now);   /* also takes back this post */
}

static void ev_ended(void *user, sip_call *c, sip_end_reason r, int status)
{
    backend *b = user;
    dcall *d = sip_call_user(c);
    if (!d) d = b->inviting;   /* ended inside sip_ua_invite (a transport error) */
    if (!d) return;
    char ladder[LADDER_MAX];
    sip_call_ladder(c, ladder, sizeof ladder);
    d->sc = NULL;
    pthread_mutex_lock(&b->mu);
    size_t used = strlen(d->ladder);
    str_copy(d->ladder + used, sizeof d->ladder - used, ladder);
    bool answered = d->answered, stopping = b->stopping;
    pthread_mutex_unlock(&b->mu);
    if (!d->inbound && !answered && !d->retried_audio && r == SIP_END_NOT_ACCEPTABLE && d->offered == SDP_KIND_T38
        && b->fallback && !stopping) {
        d->retried_audio = true;
        log_info("direct: T.38 refused in the INVITE (%d): calling again with audio", status);
        pthread_mutex_lock(&b->mu);
        bool posted = post_locked(d, loop_retry_audio) == 0;
        pthread_mutex_unlock(&b->mu);
        if (posted) return;
    }
    if (r != SIP_END_HANGUP_LOCAL && r != SIP_END_HANGUP_REMOTE) {
        pthread_mutex_lock(&b->mu);
        b->last_status = status;
        str_fmt(b->last_error, sizeof b->last_error, "%s %s (SIP %d)", d->inbound ? "inbound" : "outbound",
                sip_end_reason_name(r), status);
        str_copy(b->last_advice, sizeof b->last_advice, advice_for(b, status, r));
        pthread_mutex_unlock(&b->mu);
    }
    sip_over_now(d, r, status, NULL);
}

/* ---- engine thread: the fax is over ---- */

static void media_done(void *user, const fax_result *r)
{
    dcall *d = user;
    backend *b = d->b;
    pthread_mutex_lock(&b->mu);
    d->fr = *r;
    d->have_fr = true;
    d->media_over = true;
    if (!d->sip_over) post_locked(d, loop_hangup);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void media_page(void *user, int pages)
{
    dcall *d = user;
    if (d->inbound || !d->job) return;
    backend_outcome o = outcome_progress(d->job->attempt, d->sid, pages);
    d->b->sink.report(d->b->sink.ctx, d->job->job_id, &o);
}

/* ---- outbound ---- */

static int active_calls(backend *b)
{
    int n = 0;
    for (dcall *d = b->calls; d; d = d->next) n++;
    return n;
}

/* "0.000 > INVITE\n0.012 < 100\n" as "0.000>INVITE 0.012<100" (the attempt record keeps 255 bytes) */
static void ladder_oneline(const char *ladder, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = ladder; *p && o + 1 < cap; p++) {
        if (*p == ' ' && (p[1] == '>' || p[1] == '<' || p[-1] == '>' || p[-1] == '<')) continue;
        if (*p == '\n') { if (p[1]) out[o++] = ' '; continue; }
        out[o++] = *p;
    }
    out[o] = 0;
}

static void report_outbound(backend *b, dcall *d)
{
    const backend_job *job = d->job;
    char msg[1200], ladder[700];
    ladder_oneline(d->ladder, ladder, sizeof ladder);
    backend_outcome o;
    if (d->have_fr && d->fr.success) {
        o = outcome_success(job->attempt, d->sid, d->fr.pages_sent);
        str_fmt(msg, sizeof msg, "%s over %s; SIP: %s", d->fr.completion_text, d->media_t38 ? "T.38" : "G.711",
                ladder);
        o.duration_s = d->fr.line_seconds;
        o.bit_rate = d->fr.bit_rate;
        o.ecm = d->fr.ecm_used ? 1 : 0;
        o.remote_station_id = d->fr.remote_station_id[0] ? d->fr.remote_station_id : NULL;
    } else if (d->have_fr) {
        str_fmt(msg, sizeof msg, "%s (T.30 code %d)%s%s; SIP: %s", d->fr.completion_text, d->fr.completion_code,
                d->note[0] ? "; " : "", d->note, ladder);
        o = outcome_failure(job->attempt, d->sid, d->fr.failure_reason ? d->fr.failure_reason : "line_error",
                            d->fr.transient, msg);
        o.pages = d->fr.pages_sent;
        o.duration_s = d->fr.line_seconds;
        o.bit_rate = d->fr.pages_sent > 0 ? d->fr.bit_rate : -1;
        o.ecm = d->fr.pages_sent > 0 ? (d->fr.ecm_used ? 1 : 0) : -1;
        o.remote_station_id = d->fr.remote_station_id[0] ? d->fr.remote_station_id : NULL;
    } else {
        bool transient;
        const char *reason = direct_failure_reason(d->end, &transient);
        const char *adv = advice_for(b, d->end_status, d->end);
        if (d->media_started)
            str_fmt(msg, sizeof msg, "the call ended (%s) before the fax did%s%s; SIP: %s", sip_end_reason_name(d->end),
                    d->note[0] ? ": " : "", d->note, ladder);
        else
            str_fmt(msg, sizeof msg, "%s (SIP %d)%s%s%s%s; SIP: %s", sip_end_reason_name(d->end), d->end_status,
                    d->note[0] ? ": " : "", d->note, adv[0] ? "; " : "", adv, ladder);
        if (d->our_reason) { reason = d->our_reason; transient = false; }
        else if (d->media_started) { reason = "line_error"; transient = true; }
        o = outcome_failure(job->attempt, d->sid, reason, transient, msg);
    }
    o.message = msg;
    b->sink.report(b->sink.ctx, job->job_id, &o);
}

static int direct_submit(backend *b, const backend_job *job)
{
    char sid[96];
    str_fmt(sid, sizeof sid, "direct-%s-%d", job->job_id ? job->job_id : "", job->attempt);
    if (!job->tiff_path || !job->tiff_path[0]) {
        backend_outcome o = outcome_failure(job->attempt, sid, "file_error", false, "the direct backend needs a TIFF-F");
        b->sink.report(b->sink.ctx, job->job_id, &o);
        return -1;
    }
    pthread_mutex_lock(&b->mu);
    bool full = active_calls(b) >= b->max_calls || b->stopping || !__atomic_load_n(&b->started, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&b->mu);
    if (full) return BACKEND_BUSY;

    dcall *d = calloc(1, sizeof *d);
    if (!d) return BACKEND_BUSY;
    d->b = b;
    d->job = job;
    str_copy(d->sid, sizeof d->sid, sid);
    if (direct_dial_number(job->to, b->plus, b->tech_prefix, b->trunk ? b->trunk->tech_prefix_sep : "#", d->number,
                           sizeof d->number)) {
        free(d);
        backend_outcome o = outcome_failure(job->attempt, sid, "invalid_number", false, "the number is too long");
        b->sink.report(b->sink.ctx, job->job_id, &o);
        return -1;
    }
    d->offered = b->t38 == T38_OFFER ? SDP_KIND_T38 : SDP_KIND_AUDIO;
    const char *header = job->header_text && job->header_text[0] ? job->header_text : b->header[0] ? b->header : NULL;
    media_call_opts mo = {
        .calling = true, .sending = true, .tiff_path = job->tiff_path, .ecm = b->ecm,
        .station_id = job->station_id && job->station_id[0] ? job->station_id : b->station_id,
        .header_text = header, .on_done = media_done, .user_data = d, .on_page = media_page,
        .test_tx_loss_pct = b->test_loss, .test_loss_seed = (uint32_t)job->attempt * 2654435761u,
    };
    char err[200];
    d->mc = media_call_open(b->media, &mo, err, sizeof err);
    if (!d->mc) {
        free(d);
        log_warn("direct: no media port for job %s: %s", job->job_id, err);
        return BACKEND_BUSY;
    }
    backend_outcome acc = outcome_accepted(job->attempt, sid);
    b->sink.report(b->sink.ctx, job->job_id, &acc);

    pthread_mutex_lock(&b->mu);
    d->next = b->calls;
    b->calls = d;
    if (post_locked(d, loop_invite) != 0) {
        d->sip_over = true;
        str_copy(d->note, sizeof d->note, "the SIP loop is not taking work");
    }
    pthread_mutex_unlock(&b->mu);
    wait_call_over(d);
    report_outbound(b, d);
    free(d);
    return 0;
}

/* ---- inbound ---- */

static void *inbound_finish(void *arg)
{
    dcall *d = arg;
    backend *b = d->b;
    wait_call_over(d);
    char ladder[700];
    ladder_oneline(d->ladder, ladder, sizeof ladder);
    log_info("direct: inbound call %s from %s over %s; SIP: %s", d->call_id, d->from, d->media_t38 ? "T.38" : "G.711",
             ladder);
    if (d->have_fr && d->fr.success && d->fr.pages_received > 0) {
        char sid[160], id[40], err[256];
        str_fmt(sid, sizeof sid, "direct-%s", d->call_id);
        inbound_delivery dl = {.provider_sid = sid, .from_number = d->from, .to_number = d->to,
                               .remote_station_id = d->fr.sender_station_id, .file_path = d->rx_path,
                               .file_type = "tiff", .move = true};
        if (b->sink.receive(b->sink.ctx, &dl, id, err, sizeof err) != 0)
            log_warn("direct: inbound fax from %s not stored: %s", d->from, err);
        else
            log_info("direct: inbound fax %s from %s, %d page(s)", id, d->from, d->fr.pages_received);
    } else {
        log_warn("direct: inbound call from %s ended without a fax: %s", d->from,
                 d->have_fr ? d->fr.completion_text : sip_end_reason_name(d->end));
    }
    unlink(d->rx_path);
    free(d);
    pthread_mutex_lock(&b->mu);
    b->threads--;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static int ev_incoming(void *user, sip_call *c, const char *from_user, const char *to_user, sdp_local *local)
{
    backend *b = user;
    if (!b->inbound_enabled) {
        log_warn("direct: inbound call from %s refused: INBOUND_ENABLED is false", from_user ? from_user : "?");
        return 480;
    }
    pthread_mutex_lock(&b->mu);
    bool full = active_calls(b) >= b->max_calls || b->stopping;
    pthread_mutex_unlock(&b->mu);
    if (full) return 486;
    dcall *d = calloc(1, sizeof *d);
    if (!d) return 503;
    d->b = b;
    d->inbound = true;
    str_copy(d->from, sizeof d->from, from_user ? from_user : "");
    str_copy(d->to, sizeof d->to, to_user ? to_user : "");
    str_copy(d->call_id, sizeof d->call_id, sip_call_id(c));
    str_fmt(d->rx_path, sizeof d->rx_path, "%s/tmp/direct-rx-XXXXXX.tiff", b->data_dir);
    int fd = mkstemps(d->rx_path, 5);
    if (fd < 0) {
        log_error("direct: cannot make a file for an inbound fax under %s/tmp: %s", b->data_dir, strerror(errno));
        free(d);
        return 503;
    }
    close(fd);
    media_call_opts mo = {
        .calling = false, .sending = false, .tiff_path = d->rx_path, .ecm = b->ecm, .station_id = b->station_id,
        .on_done = media_done, .user_data = d, .test_tx_loss_pct = b->test_loss, .test_loss_seed = 7,
    };
    char err[200];
    d->mc = media_call_open(b->media, &mo, err, sizeof err);
    if (!d->mc) {
        log_warn("direct: inbound call refused: %s", err);
        unlink(d->rx_path);
        free(d);
        return 503;
    }
    direct_local_sdp(local, b->local_host, media_call_local_port(d->mc), b->t38 != T38_OFF);
    pthread_t t;
    pthread_mutex_lock(&b->mu);
    d->next = b->calls;
    b->calls = d;
    b->threads++;
    pthread_mutex_unlock(&b->mu);
    d->sc = c;
    sip_call_set_user(c, d);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, inbound_finish, d) != 0) {
        pthread_attr_destroy(&at);
        sip_call_set_user(c, NULL);
        pthread_mutex_lock(&b->mu);
        unlink_call(b, d);
        b->threads--;
        pthread_mutex_unlock(&b->mu);
        media_call_stop(d->mc);
        unlink(d->rx_path);
        free(d);
        return 503;
    }
    pthread_attr_destroy(&at);
    return 200;
}

/* ---- settings ---- */

static int numeric_host(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(in, NULL, &hints, &res);
    if (rc != 0 || !res) {
        str_fmt(err, errlen, "SIP_SERVER %s: %s", in, gai_strerror(rc));
        return -1;
    }
    rc = getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    if (rc != 0) str_fmt(err, errlen, "SIP_SERVER %s: %s", in, gai_strerror(rc));
    return rc ? -1 : 0;
}

/* Our address as the trunk sees it when none is configured: the source address the
 * kernel picks for the trunk (no packet is sent). */
static void route_address(const char *to, char *out, size_t outlen)
{
    sip_addr_t a;
    str_copy(out, outlen, "127.0.0.1");
    if (sip_addr_from(to, 5060, &a)) return;
    int fd = socket(((struct sockaddr *)&a.addr)->sa_family, SOCK_DGRAM, 0);
    if (fd < 0) return;
    struct sockaddr_storage me;
    socklen_t ml = sizeof me;
    if (connect(fd, (struct sockaddr *)&a.addr, a.len) == 0 && getsockname(fd, (struct sockaddr *)&me, &ml) == 0)
        getnameinfo((struct sockaddr *)&me, ml, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
    close(fd);
}

static int read_settings(backend *b, char *err, size_t errlen)
{
    char server[256], preset[64], tp[8], t38[16], loss[32], pub[64];
    long v;
    if (setting_str_or("SIP_TRUNK_PRESET", "generic", preset, sizeof preset, err, errlen)) return -1;
    b->trunk = sip_trunk_lookup(preset, err, errlen);
    if (!b->trunk) return -1;
    if (setting_str_or("SIP_SERVER", b->trunk->default_server, server, sizeof server, err, errlen)) return -1;
    if (!server[0]) return str_fmt(err, errlen, "SIP_SERVER is not set: the address (and :port) of your SIP trunk"), -1;
    char host[256];
    int port = 0;
    if (ami_sip_server_split(server, host, sizeof host, &port))
        return str_fmt(err, errlen, "SIP_SERVER must be a host or host:port with a port from 1 to 65535"), -1;
    if (numeric_host(host, b->trunk_host, sizeof b->trunk_host, err, errlen)) return -1;
    if (setting_int("SIP_PORT", &v, err, errlen)) return -1;
    b->trunk_port = port ? port : (int)v;
    if (setting_str("SIP_TRANSPORT", tp, sizeof tp, err, errlen)) return -1;
    b->transport = !strcasecmp(tp, "tcp") ? SIP_TP_TCP : !strcasecmp(tp, "tls") ? SIP_TP_TLS : SIP_TP_UDP;
    if (setting_str("SIP_USERNAME", b->auth_user, sizeof b->auth_user, err, errlen)
        || setting_str("SIP_PASSWORD", b->password, sizeof b->password, err, errlen)
        || setting_str_or("SIP_FROM_USER", b->auth_user[0] ? b->auth_user : "faxbot", b->from_user,
                          sizeof b->from_user, err, errlen)
        || setting_str("SIP_FROM_DOMAIN", b->domain, sizeof b->domain, err, errlen)
        || setting_str("SIP_CALLER_ID_NAME", b->display, sizeof b->display, err, errlen)
        || setting_str("SIP_TECH_PREFIX", b->tech_prefix, sizeof b->tech_prefix, err, errlen)
        || setting_str("SIP_TLS_CA_FILE", b->tls_ca, sizeof b->tls_ca, err, errlen)
        || setting_str("SIP_TLS_CERT_FILE", b->tls_cert, sizeof b->tls_cert, err, errlen)
        || setting_str("SIP_TLS_KEY_FILE", b->tls_key, sizeof b->tls_key, err, errlen))
        return -1;
    if (!b->display[0]) str_copy(b->display, sizeof b->display, ami_caller_id_name(b->trunk, ""));
    b->plus = b->trunk->plus;
    if (setting_str("DIRECT_SIP_BIND", b->bind, sizeof b->bind, err, errlen)) return -1;
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, b->bind, &a4) != 1 && inet_pton(AF_INET6, b->bind, &a6) != 1)
        return str_fmt(err, errlen, "DIRECT_SIP_BIND must be a numeric IPv4 or IPv6 address (0.0.0.0 = all)"), -1;
    if (setting_int("DIRECT_SIP_PORT", &v, err, errlen)) return -1;
    b->sip_port = (int)v;
    if (setting_str("DIRECT_PUBLIC_ADDRESS", pub, sizeof pub, err, errlen)) return -1;
    if (pub[0]) {
        if (inet_pton(AF_INET, pub, &a4) != 1 && inet_pton(AF_INET6, pub, &a6) != 1)
            return str_fmt(err, errlen, "DIRECT_PUBLIC_ADDRESS must be a numeric IP address"), -1;
        str_copy(b->local_host, sizeof b->local_host, pub);
    } else if (strcmp(b->bind, "0.0.0.0") && strcmp(b->bind, "::")) {
        str_copy(b->local_host, sizeof b->local_host, b->bind);
    } else {
        route_address(b->trunk_host, b->local_host, sizeof b->local_host);
    }
    long lo, hi, calls, ring;
    if (setting_int("DIRECT_MEDIA_PORT_START", &lo, err, errlen) || setting_int("DIRECT_MEDIA_PORT_END", &hi, err, errlen)
        || setting_int("DIRECT_MAX_CALLS", &calls, err, errlen) || setting_int("DIRECT_RING_TIMEOUT", &ring, err, errlen))
        return -1;
    if (hi - lo < 1) return str_fmt(err, errlen, "DIRECT_MEDIA_PORT_END must be above DIRECT_MEDIA_PORT_START"), -1;
    if ((hi - lo + 1) / 2 < calls)
        return str_fmt(err, errlen, "DIRECT_MEDIA_PORT_START..END holds %ld even ports: fewer than DIRECT_MAX_CALLS (%ld)",
                       (hi - lo + 1) / 2, calls), -1;
    b->media_min = (int)lo, b->media_max = (int)hi, b->max_calls = (int)calls, b->ring_timeout = (int)ring;
    if (setting_str("DIRECT_T38", t38, sizeof t38, err, errlen)) return -1;
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(t38, t38_names[i])) b->t38 = (t38_policy)i;
    if (setting_bool("DIRECT_AUDIO_FALLBACK", &b->fallback, err, errlen)
        || setting_bool("DIRECT_REGISTER", &b->do_register, err, errlen)
        || setting_bool("DIRECT_ECM", &b->ecm, err, errlen))
        return -1;
    if (setting_str("DIRECT_TEST_MEDIA_LOSS_PCT", loss, sizeof loss, err, errlen)) return -1;
    b->test_loss = 0;
    if (loss[0]) {
        char *end = NULL;
        b->test_loss = strtod(loss, &end);
        if (end == loss || *end || b->test_loss < 0 || b->test_loss > 50)
            return str_fmt(err, errlen, "DIRECT_TEST_MEDIA_LOSS_PCT must be a percentage from 0 to 50 (tests only)"), -1;
    }
    return 0;
}

/* ---- the SIP port: one instance holds it at a time ----
 * A settings change creates the new instance while the old one still finishes its
 * calls (and the settings check creates a candidate): an instance whose port another
 * live one holds waits for it in a starter thread instead of failing. */

static pthread_mutex_t g_live_mu = PTHREAD_MUTEX_INITIALIZER;
static backend *g_live[16];

static bool port_held(const backend *b)
{
    if (b->sip_port == 0) return false;
    for (size_t i = 0; i < sizeof g_live / sizeof g_live[0]; i++)
        if (g_live[i] && g_live[i] != b && g_live[i]->sip_port == b->sip_port) return true;
    return false;
}

static void live_set(backend *b, bool on)
{
    pthread_mutex_lock(&g_live_mu);
    for (size_t i = 0; i < sizeof g_live / sizeof g_live[0]; i++) {
        if (on && !g_live[i]) { g_live[i] = b; break; }
        if (!on && g_live[i] == b) g_live[i] = NULL;
    }
    pthread_mutex_unlock(&g_live_mu);
}

static int start_sip(backend *b, char *err, size_t errlen)
{
    bool tls = b->transport == SIP_TP_TLS;
    sip_endpoint_config ec = {.bind_addr = b->bind, .port = b->sip_port, .tcp = b->transport == SIP_TP_TCP,
                              .tls_ca_file = tls && b->tls_ca[0] ? b->tls_ca : NULL,
                              .tls_cert_file = tls && b->tls_cert[0] ? b->tls_cert : NULL,
                              .tls_key_file = tls && b->tls_key[0] ? b->tls_key : NULL};
    char e2[200];
    sip_endpoint *ep = sip_endpoint_start(&ec, NULL, NULL, e2, sizeof e2);
    if (!ep) {
        str_fmt(err, errlen, "DIRECT_SIP_BIND/DIRECT_SIP_PORT %s:%d: %s", b->bind, b->sip_port, e2);
        return -1;
    }
    b->ep = ep;
    sip_ua_config uc = {.trunk_host = b->trunk_host, .trunk_port = b->trunk_port, .transport = b->transport,
                        .domain = b->domain[0] ? b->domain : NULL, .from_user = b->from_user,
                        .from_display = b->display[0] ? b->display : NULL,
                        .auth_user = b->auth_user[0] ? b->auth_user : NULL,
                        .password = b->password[0] ? b->password : NULL, .local_host = b->local_host,
                        .max_calls = (size_t)b->max_calls, .ring_timeout_s = b->ring_timeout};
    sip_call_events ev = {.on_answered = ev_answered, .on_media_change = ev_media_change,
                          .on_reinvite_failed = ev_reinvite_failed, .on_ended = ev_ended, .on_incoming = ev_incoming};
    b->ua = sip_ua_new(ep, &uc, &ev, b);
    if (!b->ua) {
        str_fmt(err, errlen, "the SIP user agent could not start");
        return -1;
    }
    if (b->do_register && b->auth_user[0]) {
        sip_reg_config rc = {.registrar_host = b->trunk_host, .registrar_port = b->trunk_port,
                             .domain = b->domain[0] ? b->domain : b->trunk_host, .user = b->auth_user,
                             .password = b->password, .contact_host = b->local_host, .transport = b->transport,
                             .learn_public_address = false};
        b->reg = sip_reg_start(ep, &rc);
    }
    log_info("direct: SIP on %s:%d (%s), trunk %s:%d, media ports %d-%d, T.38 %s", b->bind,
             sip_endpoint_port(b->ep), b->transport == SIP_TP_TCP ? "tcp" : tls ? "tls" : "udp", b->trunk_host,
             b->trunk_port, b->media_min, b->media_max, t38_names[b->t38]);
    sip_endpoint_add_tick(ep, glare_tick, b);
    live_set(b, true);
    __atomic_store_n(&b->started, true, __ATOMIC_RELEASE);
    return 0;
}

static void *starter_main(void *arg)
{
    backend *b = arg;
    while (!__atomic_load_n(&b->stopping_starter, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&g_live_mu);
        bool held = port_held(b);
        pthread_mutex_unlock(&g_live_mu);
        char err[300];
        if (!held) {
            if (start_sip(b, err, sizeof err) == 0) break;
            log_warn("direct: %s (retrying)", err);
            if (b->ua) { sip_endpoint_stop(b->ep); sip_ua_free(b->ua); b->ua = NULL; b->ep = NULL; }
            else if (b->ep) { sip_endpoint_stop(b->ep); b->ep = NULL; }
            sleep_ms(1000);
        }
        sleep_ms(100);
    }
    return NULL;
}

/* ---- create / destroy ---- */

static void direct_destroy(backend *b);

static backend *direct_create(const struct config *cfg, backend_sink sink, char *err, size_t errlen)
{
    backend *b = calloc(1, sizeof *b);
    if (!b) return str_fmt(err, errlen, "out of memory"), NULL;
    b->sink = sink;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (cfg) {
        str_copy(b->data_dir, sizeof b->data_dir, cfg->data_dir);
        b->inbound_enabled = cfg->inbound_enabled;
        fax_clean_text(cfg->station_id, b->station_id, FAX_STATION_ID_MAX);
        fax_clean_text(cfg->header_text, b->header, FAX_HEADER_MAX);
    }
    char tmp[1100];
    if (read_settings(b, err, errlen)) {
        direct_destroy(b);
        return NULL;
    }
    str_fmt(tmp, sizeof tmp, "%s/tmp", b->data_dir[0] ? b->data_dir : ".");
    if (mkdir_p(tmp, 0700)) {
        str_fmt(err, errlen, "cannot create %s for received faxes: %s", tmp, strerror(errno));
        direct_destroy(b);
        return NULL;
    }
    media_engine_opts mo = {.bind_addr = b->bind, .port_min = b->media_min, .port_max = b->media_max,
                            .max_calls = b->max_calls};
    b->media = media_engine_new(&mo, err, errlen);
    if (!b->media) {
        direct_destroy(b);
        return NULL;
    }
    pthread_mutex_lock(&g_live_mu);
    bool held = port_held(b);
    pthread_mutex_unlock(&g_live_mu);
    if (!held) {
        if (start_sip(b, err, errlen)) {
            direct_destroy(b);
            return NULL;
        }
    } else if (pthread_create(&b->starter, NULL, starter_main, b) == 0) {
        b->has_starter = true;
        log_info("direct: SIP port %d is still the previous instance's: taking it over when its calls end",
                 b->sip_port);
    } else {
        str_fmt(err, errlen, "cannot start a thread");
        direct_destroy(b);
        return NULL;
    }
    return b;
}

static void loop_hangup_all(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep; (void)now;
    backend *b = arg;
    pthread_mutex_lock(&b->mu);
    for (dcall *d = b->calls; d; d = d->next) {
        sip_call *sc = d->sc;
        pthread_mutex_unlock(&b->mu);
        if (sc) sip_call_hangup(sc);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

static void direct_destroy(backend *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_mutex_unlock(&b->mu);
    if (b->has_starter) {
        __atomic_store_n(&b->stopping_starter, true, __ATOMIC_RELEASE);
        pthread_join(b->starter, NULL);
    }
    if (b->ep && b->started) {
        sip_endpoint_call(b->ep, loop_hangup_all, b);
        int64_t until = mono_ms() + 3000;
        pthread_mutex_lock(&b->mu);
        while (b->calls && mono_ms() < until) {
            pthread_mutex_unlock(&b->mu);
            sleep_ms(50);
            pthread_mutex_lock(&b->mu);
        }
        pthread_mutex_unlock(&b->mu);
        pthread_mutex_lock(&b->mu);
        b->loop_closed = true;
        pthread_mutex_unlock(&b->mu);
        if (b->reg) sip_reg_stop(b->reg);
        sip_endpoint_stop(b->ep);
        live_set(b, false);
    }
    /* the loop is gone: what it still owed the waiting threads will not come */
    pthread_mutex_lock(&b->mu);
    for (dcall *d = b->calls; d; d = d->next) {
        d->sip_over = true;
        d->posts = 0;
        d->sip_over_at = 0;
        d->sc = NULL;
    }
    pthread_cond_broadcast(&b->cv);
    while (b->calls || b->threads > 0) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    if (b->ua) sip_ua_free(b->ua);
    if (b->media) media_engine_free(b->media);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* ---- readiness and diagnostics ---- */

static int direct_check(backend *b, char *msg, size_t msglen)
{
    if (!__atomic_load_n(&b->started, __ATOMIC_ACQUIRE)) {
        str_fmt(msg, msglen, "direct SIP: taking over SIP port %d when the previous instance's calls end", b->sip_port);
        return 0;
    }
    int ports[64];
    int n = media_engine_calls(b->media, ports, 64);
    if (b->reg) {
        sip_reg_status st;
        sip_reg_get(b->reg, &st);
        if (st.state == SIP_REG_FAILED) {
            str_fmt(msg, msglen, "direct SIP: registration with %s failed: %s — %s", b->trunk_host, st.last_error,
                    st.advice);
            return -1;
        }
        if (st.state != SIP_REG_REGISTERED) {
            str_fmt(msg, msglen, "direct SIP: registering with %s:%d as %s", b->trunk_host, b->trunk_port, b->auth_user);
            return -1;
        }
        str_fmt(msg, msglen, "direct SIP on port %d: registration %s at %s:%d; %d call(s), media ports %d-%d",
                sip_endpoint_port(b->ep), sip_reg_state_name(st.state), b->trunk_host, b->trunk_port, n, b->media_min,
                b->media_max);
        return 0;
    }
    str_fmt(msg, msglen, "direct SIP on port %d: trunk %s:%d (no registration); %d call(s), media ports %d-%d",
            sip_endpoint_port(b->ep), b->trunk_host, b->trunk_port, n, b->media_min, b->media_max);
    return 0;
}

static int direct_warning(backend *b, char *msg, size_t msglen)
{
    if (__atomic_load_n(&b->started, __ATOMIC_ACQUIRE)) return 0;
    str_fmt(msg, msglen, "taking over SIP port %d when the previous instance's calls end", b->sip_port);
    return 1;
}

static int direct_diagnose(backend *b, json_t *report)
{
    int rc = 0;
    if (!__atomic_load_n(&b->started, __ATOMIC_ACQUIRE)) {
        json_object_set_new(report, "sip", json_string("starting: the previous instance still holds the SIP port"));
        return 0;
    }
    json_object_set_new(report, "sip_port", json_integer(sip_endpoint_port(b->ep)));
    json_object_set_new(report, "trunk", json_sprintf("%s:%d", b->trunk_host, b->trunk_port));
    json_object_set_new(report, "t38", json_string(t38_names[b->t38]));
    if (b->reg) {
        sip_reg_status st;
        sip_reg_get(b->reg, &st);
        json_t *r = json_pack("{s:s, s:i, s:s, s:s, s:i}", "state", sip_reg_state_name(st.state), "last_status",
                              st.last_status, "last_error", st.last_error, "advice", st.advice, "granted_expires",
                              st.granted_expires);
        if (st.public_addr[0]) json_object_set_new(r, "public_address", json_sprintf("%s:%d", st.public_addr, st.public_port));
        json_object_set_new(report, "registration", r);
        if (st.state == SIP_REG_FAILED) rc = -1;
    } else {
        json_object_set_new(report, "registration", json_string("off (IP authentication)"));
    }
    int ports[256];
    int n = media_engine_calls(b->media, ports, 256);
    json_t *pa = json_array();
    for (int i = 0; i < n && i < 256; i++) json_array_append_new(pa, json_integer(ports[i]));
    json_object_set_new(report, "media_ports_in_use", pa);
    json_object_set_new(report, "media_port_range", json_sprintf("%d-%d", b->media_min, b->media_max));
    json_object_set_new(report, "sip_rate_limited", json_integer((json_int_t)sip_endpoint_rate_limited(b->ep)));
    pthread_mutex_lock(&b->mu);
    json_object_set_new(report, "calls_active", json_integer(active_calls(b)));
    if (b->last_error[0])
        json_object_set_new(report, "last_sip_error", json_pack("{s:s, s:i, s:s}", "error", b->last_error, "status",
                                                                b->last_status, "advice", b->last_advice));
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static const setting_def direct_settings[] = {
    SETTING_ROW_STR("direct", "DIRECT_SIP_BIND", "0.0.0.0", "SIP and media sockets", "numeric address the gateway's SIP and media listen on"),
    SETTING_ROW_INT("direct", "DIRECT_SIP_PORT", "5060", 0, 65535, "SIP socket", "our SIP port (0 = any free port)"),
    SETTING_ROW_STR("direct", "DIRECT_PUBLIC_ADDRESS", "", "Via/Contact/SDP", "public IP behind NAT (default: the address towards the trunk)"),
    SETTING_ROW_INT("direct", "DIRECT_MEDIA_PORT_START", "40000", 1024, 65535, "media engine", "RTP/UDPTL port range start"),
    SETTING_ROW_INT("direct", "DIRECT_MEDIA_PORT_END", "40999", 1024, 65535, "media engine", "RTP/UDPTL port range end"),
    SETTING_ROW_INT("direct", "DIRECT_MAX_CALLS", "8", 1, 1024, "SIP UA and media engine", "simultaneous calls (both directions)"),
    SETTING_ROW_ENUM("direct", "DIRECT_T38", "reinvite", "offer|reinvite|accept|off", "SDP offers", "T.38: offer in the INVITE, audio then re-INVITE, accept the far end's, or audio only"),
    SETTING_ROW_BOOL("direct", "DIRECT_AUDIO_FALLBACK", "true", "SDP offers", "stay on (or call again with) G.711 when T.38 is refused (488)"),
    SETTING_ROW_BOOL("direct", "DIRECT_REGISTER", "true", "REGISTER", "register with the trunk when SIP_USERNAME is set"),
    SETTING_ROW_BOOL("direct", "DIRECT_ECM", "true", "T.30", "error correction mode"),
    SETTING_ROW_INT("direct", "DIRECT_RING_TIMEOUT", "60", 5, 600, "INVITE", "seconds of ringing before CANCEL"),
    SETTING_ROW_STR("direct", "DIRECT_TEST_MEDIA_LOSS_PCT", "", "media engine (tests only)", "drop this % of our own media datagrams on purpose: for tests, never in production"),
    SETTING_END,
};

const backend_ops backend_direct_ops = {
    .name = "direct",
    .needs_tiff = true,
    .create = direct_create,
    .submit = direct_submit,
    .check = direct_check,
    .destroy = direct_destroy,
    .diagnose = direct_diagnose,
    .warning = direct_warning,
    .settings = direct_settings,
};
