/* test_media_call.c — real faxes through the media engine (src/media/media_engine.c):
 * two calls of one engine on 127.0.0.1, a sender and a receiver, exchange a fax over
 * UDP in real time — T.38 over UDPTL (redundancy, FEC) or G.711 over RTP, ECM on or
 * off, with datagrams dropped by the engine's test loss option, and audio first then
 * both sides switching to T.38 as after a re-INVITE. Every received page must equal
 * the sent one below the header band (doc_tiff_compare).
 * `--faxes [name]`: every scenario at once on one engine (its one thread carries all
 * the calls), or only the one named; a fax takes 10-40 s of real time, so the whole
 * run takes as long as the slowest. Without an argument: the quick engine checks
 * (port exhaustion, the call cap, bad parameters, stopping from the callback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <tiffio.h>
#include <time.h>
#include <unistd.h>

#include "document/document.h"
#include "media/media_engine.h"
#include "fax_page.h"


static char g_dir[256];
static const char *g_scenario;

static void make_tiff(const char *path, int pages)
{
    char err[160];
    if (fax_page_write(path, pages, FAX_PAGE_ROWS, err, sizeof err) != 0)
        fail_msg("%s", err);
}

/* ---- waiting for both ends ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    fax_result res[2];
    bool got[2];
} waiter;

typedef struct {
    waiter *w;
    int side;
} side_ref;

static void on_done(void *user, const fax_result *r)
{
    side_ref *s = user;
    pthread_mutex_lock(&s->w->mu);
    s->w->res[s->side] = *r;
    s->w->got[s->side] = true;
    s->w->done++;
    pthread_cond_broadcast(&s->w->cv);
    pthread_mutex_unlock(&s->w->mu);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- one fax between two calls ---- */

typedef struct {
    const char *name;
    media_kind kind;             /* media at the start */
    bool switch_to_t38;          /* both sides move to T.38 after switch_after_s */
    double switch_after_s;
    udptl_ec ec;
    int fec_span, fec_entries;
    media_law law;
    bool ecm;
    double loss_pct;             /* each side drops this much of what it sends */
    bool rx_symmetric;           /* the receiver learns where to send from what arrives */
    int pages;
} scenario;

static const scenario scenarios[] = {
    { "t38-redundancy-ecm-loss", MEDIA_KIND_T38, false, 0, UDPTL_EC_REDUNDANCY, 0, 0, MEDIA_ULAW, true, 5, true, 2 },
    { "t38-fec-noecm-loss", MEDIA_KIND_T38, false, 0, UDPTL_EC_FEC, 3, 3, MEDIA_ULAW, false, 1, false, 1 },
    { "audio-ulaw-ecm-loss", MEDIA_KIND_AUDIO, false, 0, UDPTL_EC_NONE, 0, 0, MEDIA_ULAW, true, 0.5, false, 1 },
    { "audio-alaw-noecm", MEDIA_KIND_AUDIO, false, 0, UDPTL_EC_NONE, 0, 0, MEDIA_ALAW, false, 0, true, 1 },
    { "audio-then-t38-ecm-loss", MEDIA_KIND_AUDIO, true, 1.5, UDPTL_EC_REDUNDANCY, 0, 0, MEDIA_ULAW, true, 3, false, 1 },
};

static void params_for(const scenario *sc, media_kind kind, int remote_port, bool symmetric, media_params *p)
{
    media_params_default(p, kind);
    snprintf(p->remote_addr, sizeof p->remote_addr, "127.0.0.1");
    p->remote_port = remote_port;
    p->symmetric = symmetric;
    p->law = sc->law;
    if (kind == MEDIA_KIND_T38) {
        udptl_config_default(&p->udptl, sc->ec == UDPTL_EC_NONE ? UDPTL_EC_REDUNDANCY : sc->ec);
        if (sc->fec_span)
            p->udptl.fec_span = sc->fec_span;
        if (sc->fec_entries)
            p->udptl.fec_entries = sc->fec_entries;
        p->udptl.far_max_datagram = 400;
    }
}

typedef struct {
    const scenario *sc;
    char tx[512], rx[512];
    media_call *a, *b;
    int pa, pb;
    waiter w;
    side_ref refs[2];
    bool switched;
    double started, took;
} run;

static void start_run(media_engine *e, run *r, const scenario *sc)
{
    char err[256];
    r->sc = sc;
    snprintf(r->tx, sizeof r->tx, "%s/%s-tx.tiff", g_dir, sc->name);
    snprintf(r->rx, sizeof r->rx, "%s/%s-rx.tiff", g_dir, sc->name);
    make_tiff(r->tx, sc->pages);
    pthread_mutex_init(&r->w.mu, NULL);
    pthread_cond_init(&r->w.cv, NULL);
    r->refs[0] = (side_ref){ &r->w, 0 };
    r->refs[1] = (side_ref){ &r->w, 1 };
    media_call_opts so = {
        .calling = true, .sending = true, .tiff_path = r->tx, .ecm = sc->ecm, .station_id = "+1 555 0100",
        .header_text = "", .max_seconds = 240, .rx_timeout_s = 40, .on_done = on_done, .user_data = &r->refs[0],
        .test_tx_loss_pct = sc->loss_pct, .test_loss_seed = 1234,
    };
    media_call_opts ro = {
        .calling = false, .sending = false, .tiff_path = r->rx, .ecm = sc->ecm, .station_id = "+1 555 0199",
        .max_seconds = 240, .rx_timeout_s = 40, .on_done = on_done, .user_data = &r->refs[1],
        .test_tx_loss_pct = sc->loss_pct, .test_loss_seed = 4321,
    };
    r->a = media_call_open(e, &so, err, sizeof err);
    if (!r->a)
        fail_msg("open sender: %s", err);
    r->b = media_call_open(e, &ro, err, sizeof err);
    if (!r->b)
        fail_msg("open receiver: %s", err);
    r->pa = media_call_local_port(r->a);
    r->pb = media_call_local_port(r->b);
    assert_true(r->pa % 2 == 0 && r->pb % 2 == 0 && r->pa != r->pb);

    media_params ap, bp;
    params_for(sc, sc->kind, r->pb, false, &ap);
    /* a symmetric receiver is told nothing about the far end: it answers where packets come from */
    params_for(sc, sc->kind, sc->rx_symmetric ? 0 : r->pa, sc->rx_symmetric, &bp);
    r->started = now_s();
    if (media_call_start(r->b, &bp, err, sizeof err) != 0 || media_call_start(r->a, &ap, err, sizeof err) != 0)
        fail_msg("start: %s", err);
    assert_int_equal(media_call_start(r->a, &ap, err, sizeof err), -1);     /* only once */
}

/* Both sides move to T.38, as after a re-INVITE, once the time has come. */
static void maybe_switch(run *r)
{
    if (!r->sc->switch_to_t38 || r->switched || now_s() - r->started < r->sc->switch_after_s)
        return;
    char err[256];
    media_params at, bt;
    params_for(r->sc, MEDIA_KIND_T38, r->pb, false, &at);
    params_for(r->sc, MEDIA_KIND_T38, r->pa, false, &bt);
    if (media_call_switch_to_t38(r->b, &bt, err, sizeof err) != 0 || media_call_switch_to_t38(r->a, &at, err, sizeof err) != 0)
        fail_msg("switch: %s", err);
    assert_int_equal(media_call_switch_to_t38(r->a, &at, err, sizeof err), -1);   /* already T.38 */
    r->switched = true;
}

static bool run_done(run *r)
{
    pthread_mutex_lock(&r->w.mu);
    bool done = r->w.done >= 2;
    pthread_mutex_unlock(&r->w.mu);
    if (done && r->took == 0)
        r->took = now_s() - r->started;
    return done;
}

/* Checks one finished run; returns false (after printing why) if it failed. */
static bool check_run(media_engine *e, run *r)
{
    const scenario *sc = r->sc;
    media_call_stats sa, sb;
    media_engine_timing_stats timing;
    media_engine_timing(e, &timing);
    media_call_get_stats(r->a, &sa);
    media_call_get_stats(r->b, &sb);
    const fax_result *tx = &r->w.res[0], *rx = &r->w.res[1];
    printf("# %s: %.1f s; sender: %s, %d bps, ECM %d, %d pages, %lu sent, %lu+%lu dropped by test; "
           "receiver: %s, %d pages, %lu rx, %lu rejected, UDPTL recovered %lu+%lu lost %lu, "
           "RTP lost %lu, jitter late %lu concealed %lu; engine late ticks %lu\n",
           sc->name, r->took, tx->completion_text, tx->bit_rate, tx->ecm_used, tx->pages_sent, sa.tx_datagrams,
           sa.tx_dropped_test, sb.tx_dropped_test, rx->completion_text, rx->pages_received, sb.rx_datagrams, sb.rx_rejected,
           sb.udptl.recovered_redundancy, sb.udptl.recovered_fec, sb.udptl.lost, sb.rtp.lost, sb.jitter_late,
           sb.jitter_concealed_samples, timing.late_ticks);
    media_call_stop(r->a);
    media_call_stop(r->b);
    char err[256];
    int compared = 0;
#define CHECK(cond, ...)                                 \
    do {                                                 \
        if (!(cond)) {                                   \
            printf("# %s FAILED: ", sc->name);           \
            printf(__VA_ARGS__);                         \
            printf("\n");                                \
            return false;                                \
        }                                                \
    } while (0)
    CHECK(r->w.done >= 2, "the fax did not finish");
    CHECK(tx->success && rx->success, "sender %d (%s), receiver %d (%s)", tx->completion_code, tx->completion_text,
          rx->completion_code, rx->completion_text);
    CHECK(tx->pages_sent == sc->pages && rx->pages_received == sc->pages, "pages %d sent, %d received",
          tx->pages_sent, rx->pages_received);
    CHECK(tx->ecm_used == sc->ecm, "ECM %d", tx->ecm_used);
    CHECK(strcmp(tx->remote_station_id, "+1 555 0199") == 0 && strcmp(rx->remote_station_id, "+1 555 0100") == 0,
          "station ids \"%s\" / \"%s\"", tx->remote_station_id, rx->remote_station_id);
    CHECK(doc_tiff_compare(r->tx, r->rx, &compared, NULL, err, sizeof err) == 0, "pages differ: %s", err);
    CHECK(compared == sc->pages, "%d pages compared", compared);
    CHECK(sc->loss_pct == 0 || sa.tx_dropped_test > 0, "no datagram was dropped");
    CHECK(sc->kind != MEDIA_KIND_T38 || sc->loss_pct == 0 || sb.udptl.recovered_redundancy + sb.udptl.recovered_fec > 0,
          "nothing was recovered");
    CHECK(!sc->switch_to_t38 || sb.udptl.delivered > 0, "no T.38 after the switch");
    return true;
}

/* All scenarios (or the one named) at once on ONE engine: the engine's thread carries
 * every call, and the run takes as long as the slowest fax. */
static void test_faxes(void **st)
{
    (void)st;
    size_t n_sc = sizeof scenarios / sizeof scenarios[0];
    run runs[sizeof scenarios / sizeof scenarios[0]];
    memset(runs, 0, sizeof runs);
    char err[256];
    media_engine_opts eo = { .bind_addr = "127.0.0.1", .port_min = 31000, .port_max = 31999, .max_calls = 16 };
    media_engine *e = media_engine_new(&eo, err, sizeof err);
    if (!e)
        fail_msg("engine: %s", err);
    size_t n = 0;
    for (size_t i = 0; i < n_sc; i++)
        if (!g_scenario || strcmp(scenarios[i].name, g_scenario) == 0)
            start_run(e, &runs[n++], &scenarios[i]);
    if (n == 0)
        fail_msg("unknown scenario %s", g_scenario);
    double t0 = now_s();
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++) {
            maybe_switch(&runs[i]);
            done += run_done(&runs[i]);
        }
        if (done == n || now_s() - t0 > 300)
            break;
        usleep(50000);
    }
    int ports[32];
    assert_int_equal(media_engine_calls(e, ports, 32), (int)(2 * n));
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += !check_run(e, &runs[i]);
    assert_int_equal(media_engine_calls(e, ports, 32), 0);
    media_engine_free(e);
    if (failed)
        fail_msg("%d of %zu faxes failed (see above)", failed, n);
}

/* ---- quick engine checks ---- */

static void test_ports_and_cap(void **st)
{
    (void)st;
    char err[256];
    media_engine_opts bad = { .bind_addr = "127.0.0.1", .port_min = 40000, .port_max = 30000, .max_calls = 4 };
    assert_null(media_engine_new(&bad, err, sizeof err));
    bad = (media_engine_opts){ .bind_addr = "not-an-ip", .port_min = 30000, .port_max = 30010, .max_calls = 4 };
    assert_null(media_engine_new(&bad, err, sizeof err));
    assert_non_null(strstr(err, "numeric"));
    bad = (media_engine_opts){ .bind_addr = "127.0.0.1", .port_min = 30000, .port_max = 30010, .max_calls = 0 };
    assert_null(media_engine_new(&bad, err, sizeof err));

    /* find three free even ports in a row (other tests and PBXes use ports too), hold the
     * first from outside, and let the other two go just before the engine looks */
    int base = 0, blocker = -1;
    for (int p = 32000; p < 40000 && blocker < 0; p += 6) {
        int s3[3] = {-1, -1, -1};
        bool ok = true;
        for (int i = 0; i < 3 && ok; i++) {
            s3[i] = socket(AF_INET, SOCK_DGRAM, 0);
            struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(p + 2 * i)) };
            inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
            ok = bind(s3[i], (struct sockaddr *)&sin, sizeof sin) == 0;
        }
        for (int i = ok ? 1 : 0; i < 3; i++)
            if (s3[i] >= 0) close(s3[i]);
        if (ok) {
            blocker = s3[0];
            base = p;
        }
    }
    assert_true(blocker >= 0);
    /* range base..base+5: even ports base (taken), base+2, base+4 */
    media_engine_opts o = { .bind_addr = "127.0.0.1", .port_min = base, .port_max = base + 5, .max_calls = 3 };
    media_engine *e = media_engine_new(&o, err, sizeof err);
    assert_non_null(e);
    media_call_opts co = { .tiff_path = "/nonexistent/x.tiff" };
    media_call *c1 = media_call_open(e, &co, err, sizeof err);
    media_call *c2 = media_call_open(e, &co, err, sizeof err);
    assert_non_null(c1);
    assert_non_null(c2);
    assert_int_equal(media_call_local_port(c1), base + 2);
    assert_int_equal(media_call_local_port(c2), base + 4);
    assert_null(media_call_open(e, &co, err, sizeof err));
    assert_non_null(strstr(err, "no free media port"));
    int ports[4];
    assert_int_equal(media_engine_calls(e, ports, 4), 2);
    media_call_stop(c1);
    close(blocker);
    media_call *c3 = media_call_open(e, &co, err, sizeof err);
    media_call *c4 = media_call_open(e, &co, err, sizeof err);
    assert_non_null(c3);
    assert_non_null(c4);
    assert_null(media_call_open(e, &co, err, sizeof err));    /* the cap of 3 */
    assert_non_null(strstr(err, "limit"));
    assert_int_equal(media_engine_calls(e, ports, 4), 3);

    /* bad parameters are refused before anything starts */
    media_params p;
    media_params_default(&p, MEDIA_KIND_AUDIO);
    p.ptime_ms = 25;
    assert_int_equal(media_call_start(c3, &p, err, sizeof err), -1);
    media_params_default(&p, MEDIA_KIND_T38);
    p.udptl.ec = UDPTL_EC_FEC;
    p.udptl.fec_span = 0;
    assert_int_equal(media_call_start(c3, &p, err, sizeof err), -1);
    media_params_default(&p, MEDIA_KIND_T38);
    assert_int_equal(media_call_switch_to_t38(c3, &p, err, sizeof err), -1);   /* not running */
    media_call_stop(c2);
    media_call_stop(c3);
    media_engine_free(e);   /* closes c4 too */
}

/* A call with no far end ends on the rx timeout; its callback stops it. */
typedef struct {
    media_call *call;
    int calls;
    fax_result res;
} self_stop;

static void stop_from_callback(void *user, const fax_result *r)
{
    self_stop *s = user;
    s->res = *r;
    s->calls++;
    media_call_stop(s->call);
    s->call = NULL;
}

static void test_timeout_and_stop_in_callback(void **st)
{
    (void)st;
    char err[256], tx[512];
    snprintf(tx, sizeof tx, "%s/lonely.tiff", g_dir);
    make_tiff(tx, 1);
    media_engine_opts o = { .bind_addr = "127.0.0.1", .port_min = 33000, .port_max = 33999, .max_calls = 2 };
    media_engine *e = media_engine_new(&o, err, sizeof err);
    assert_non_null(e);
    self_stop s = { 0 };
    media_call_opts co = { .calling = true, .sending = true, .tiff_path = tx, .rx_timeout_s = 1,
                           .on_done = stop_from_callback, .user_data = &s };
    s.call = media_call_open(e, &co, err, sizeof err);
    assert_non_null(s.call);
    media_params p;
    media_params_default(&p, MEDIA_KIND_T38);
    snprintf(p.remote_addr, sizeof p.remote_addr, "127.0.0.1");
    p.remote_port = 9;      /* discard: nobody answers */
    assert_int_equal(media_call_start(s.call, &p, err, sizeof err), 0);
    for (int i = 0; i < 100 && media_engine_calls(e, NULL, 0) > 0; i++)
        usleep(50000);
    assert_int_equal(media_engine_calls(e, NULL, 0), 0);
    assert_int_equal(s.calls, 1);
    assert_false(s.res.success);
    assert_true(s.res.timed_out);
    assert_non_null(strstr(s.res.completion_text, "no media"));
    assert_string_equal(s.res.failure_reason, "line_error");
    media_engine_free(e);
}

int main(int argc, char **argv)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/faxbot-media-XXXXXX");
    if (!mkdtemp(g_dir))
        return 1;
    int rc;
    if (argc > 1 && strcmp(argv[1], "--faxes") == 0) {
        g_scenario = argc > 2 ? argv[2] : NULL;
        const struct CMUnitTest tests[] = { cmocka_unit_test(test_faxes) };
        rc = cmocka_run_group_tests_name("faxes", tests, NULL, NULL);
    } else {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ports_and_cap),
            cmocka_unit_test(test_timeout_and_stop_in_callback),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (rc == 0 && system(cmd) != 0)
        return 1;
    return rc;
}
