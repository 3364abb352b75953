/* test_fax.c — tests of the spandsp fax engine and the loopback backend: real faxes
 * between two in-process spandsp endpoints (audio and T.38, with and without ECM),
 * pixel-exact comparison of sent and received TIFFs, impaired lines that must fail
 * with the right reason in bounded time, and the backend's outcome sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tiffio.h>
#include <unistd.h>

#include "backend/backend.h"
#include "config/config.h"
#include "fax/fax_engine.h"
#include "util/util.h"
#include "config/settings.h"

extern const backend_ops backend_loopback_ops;
extern char **environ;

/* The settings seam reads a snapshot: every change of the environment here makes
 * a new one (settings_use_environment), as a restart of the gateway would. */
static void test_setenv(const char *name, const char *value, int overwrite)
{
    settings_register(backend_loopback_ops.settings, -1);
    setenv(name, value, overwrite);
    settings_use_environment();
}

static void test_unsetenv(const char *name)
{
    settings_register(backend_loopback_ops.settings, -1);
    unsetenv(name);
    settings_use_environment();
}


#define WIDTH 1728
#define ROW_BYTES (WIDTH / 8)
#define PAGE_ROWS 2200          /* about an A4 page at fine resolution */
#define TX_ID "+1 555 0100"
#define RX_ID "+1 555 0199"

static char g_dir[256];

/* ---- test image ---- */

static uint32_t lcg(uint32_t *st)
{
    *st = *st * 1103515245u + 12345u;
    return *st >> 8;
}

static void set_bits(uint8_t *row, int from, int to)
{
    for (int x = from; x < to && x < WIDTH; x++)
        row[x >> 3] |= (uint8_t)(0x80 >> (x & 7));
}

/* Text-like page: lines of black "words" whose layout depends on the page number,
 * plus a solid block whose width encodes the page (so pages cannot be confused). */
static void render_row(int page, int y, uint8_t *row)
{
    memset(row, 0, ROW_BYTES);
    if (y >= 100 && y < 160)
        set_bits(row, 100, 100 + 200 * (page + 1));
    int line = (y - 200) / 40, in_line = (y - 200) % 40;
    if (y < 200 || in_line >= 24 || line > 45)
        return;
    uint32_t st = (uint32_t)(page * 7919 + line * 104729 + 1);
    int x = 80 + (int)(lcg(&st) % 60);
    while (x < WIDTH - 120) {
        int w = 20 + (int)(lcg(&st) % 140);
        set_bits(row, x, x + w);
        x += w + 14 + (int)(lcg(&st) % 30);
    }
}

static void make_tiff(const char *path, int pages, int rows)
{
    TIFF *t = TIFFOpen(path, "w");
    assert_non_null(t);
    uint8_t row[ROW_BYTES];
    for (int p = 0; p < pages; p++) {
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, WIDTH);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, rows);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
        TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, 0);  /* 1-D MH */
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, 196.0f);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rows);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, p, pages);
        for (int y = 0; y < rows; y++) {
            render_row(p, y, row);
            assert_int_equal(TIFFWriteScanline(t, row, (uint32_t)y, 0), 1);
        }
        assert_int_equal(TIFFWriteDirectory(t), 1);
    }
    TIFFClose(t);
}

/* ---- comparing TIFFs ---- */

static int count_pages(const char *path)
{
    TIFF *t = TIFFOpen(path, "r");
    if (!t)
        return -1;
    int n = 0;
    do
        n++;
    while (TIFFReadDirectory(t));
    TIFFClose(t);
    return n;
}

static void read_row(TIFF *t, uint32_t y, uint8_t *row)
{
    assert_int_equal(TIFFReadScanline(t, row, y, 0), 1);
    uint16_t photometric = PHOTOMETRIC_MINISWHITE;
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photometric);
    if (photometric == PHOTOMETRIC_MINISBLACK)
        for (int i = 0; i < ROW_BYTES; i++)
            row[i] = (uint8_t)~row[i];
}

/* Every page of rx equals tx row by row, after `skip` extra rows at the top of each rx
 * page (a page header in "extend" mode). Returns the rx page length seen. */
static uint32_t assert_same_images(const char *tx_path, const char *rx_path, uint32_t skip)
{
    TIFF *a = TIFFOpen(tx_path, "r"), *b = TIFFOpen(rx_path, "r");
    assert_non_null(a);
    assert_non_null(b);
    uint8_t ra[ROW_BYTES], rb[ROW_BYTES];
    uint32_t last_len = 0;
    int page = 0;
    for (;;) {
        uint32_t wa = 0, wb = 0, la = 0, lb = 0;
        float ya = 0, yb = 0;
        TIFFGetField(a, TIFFTAG_IMAGEWIDTH, &wa);
        TIFFGetField(b, TIFFTAG_IMAGEWIDTH, &wb);
        TIFFGetField(a, TIFFTAG_IMAGELENGTH, &la);
        TIFFGetField(b, TIFFTAG_IMAGELENGTH, &lb);
        TIFFGetField(a, TIFFTAG_YRESOLUTION, &ya);
        TIFFGetField(b, TIFFTAG_YRESOLUTION, &yb);
        assert_int_equal(wa, WIDTH);
        assert_int_equal(wb, WIDTH);
        assert_true(yb > ya - 2 && yb < ya + 2);       /* same vertical resolution */
        if (lb != la + skip)
            fail_msg("page %d: sent %u rows, received %u (expected %u)", page + 1, la, lb, la + skip);
        for (uint32_t y = 0; y < skip; y++)   /* G3 strips only decode in order */
            read_row(b, y, rb);
        for (uint32_t y = 0; y < la; y++) {
            read_row(a, y, ra);
            read_row(b, y + skip, rb);
            if (memcmp(ra, rb, ROW_BYTES) != 0)
                fail_msg("page %d row %u differs", page + 1, y);
        }
        last_len = lb;
        page++;
        int more_a = TIFFReadDirectory(a), more_b = TIFFReadDirectory(b);
        assert_int_equal(more_a, more_b);
        if (!more_a)
            break;
    }
    TIFFClose(a);
    TIFFClose(b);
    return last_len;
}

/* Rows a page header added on top of the first received page (0 if none); checks
 * that those rows really carry rendered text. */
static uint32_t header_rows(const char *rx_path, uint32_t tx_rows)
{
    TIFF *t = TIFFOpen(rx_path, "r");
    assert_non_null(t);
    uint32_t len = 0;
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &len);
    assert_true(len >= tx_rows && len < tx_rows + 100);
    uint32_t skip = len - tx_rows;
    int black = 0;
    uint8_t row[ROW_BYTES];
    for (uint32_t y = 0; y < skip; y++) {
        read_row(t, y, row);
        for (int i = 0; i < ROW_BYTES; i++)
            black += row[i] != 0;
    }
    TIFFClose(t);
    if (skip > 0)
        assert_true(black > 50);      /* the header text was rendered */
    return skip;
}

/* ---- helpers ---- */

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void paths(const char *name, char *tx, char *rx, size_t len)
{
    snprintf(tx, len, "%s/%s-tx.tiff", g_dir, name);
    snprintf(rx, len, "%s/%s-rx.tiff", g_dir, name);
}

static fax_loopback_opts base_opts(const char *tx, const char *rx, fax_transport tr, bool ecm)
{
    fax_loopback_opts o = {
        .tx_tiff = tx, .rx_tiff = rx, .transport = tr, .ecm = ecm, .seed = 42,
        .tx_station_id = TX_ID, .rx_station_id = RX_ID, .header_text = "",
        .max_line_seconds = 600,
    };
    return o;
}

static void run_clean(const char *name, fax_transport tr, bool ecm, int pages)
{
    char tx[512], rx[512], err[256];
    paths(name, tx, rx, sizeof(tx));
    make_tiff(tx, pages, PAGE_ROWS);
    fax_loopback_opts o = base_opts(tx, rx, tr, ecm);
    fax_result r;
    double t0 = wall_s();
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), 0);
    double wall = wall_s() - t0;
    printf("# %s: %d pages, %s, ECM %s: %.1f s line time, %.3f s wall clock, %d bps, code %d (%s)\n",
           name, pages, tr == FAX_TRANSPORT_AUDIO ? "audio" : "T.38", ecm ? "on" : "off", r.line_seconds,
           wall, r.bit_rate, r.completion_code, r.completion_text);
    if (!r.success)
        fail_msg("%s failed: %s (%d) %s", name, r.failure_reason, r.completion_code, r.completion_text);
    assert_null(r.failure_reason);
    assert_int_equal(r.completion_code, 0);
    assert_int_equal(r.pages_sent, pages);
    assert_int_equal(r.pages_received, pages);
    assert_int_equal(r.pages_in_file, pages);
    assert_int_equal(count_pages(rx), pages);
    assert_int_equal(r.bit_rate, 14400);
    assert_int_equal(r.ecm_used, ecm);
    assert_string_equal(r.remote_station_id, RX_ID);
    assert_string_equal(r.sender_station_id, TX_ID);
    assert_false(r.timed_out);
    assert_true(r.line_seconds > 5 && r.line_seconds < 300);
    assert_same_images(tx, rx, 0);
}

/* ---- engine tests ---- */

static void test_audio_ecm(void **st) { (void)st; run_clean("audio-ecm", FAX_TRANSPORT_AUDIO, true, 3); }
static void test_audio_no_ecm(void **st) { (void)st; run_clean("audio-noecm", FAX_TRANSPORT_AUDIO, false, 3); }
static void test_t38_ecm(void **st) { (void)st; run_clean("t38-ecm", FAX_TRANSPORT_T38, true, 3); }
static void test_t38_no_ecm(void **st) { (void)st; run_clean("t38-noecm", FAX_TRANSPORT_T38, false, 2); }

static void test_header_extends_page(void **st)
{
    (void)st;
    char tx[512], rx[512], err[256];
    paths("header", tx, rx, sizeof(tx));
    make_tiff(tx, 2, PAGE_ROWS);
    fax_loopback_opts o = base_opts(tx, rx, FAX_TRANSPORT_T38, true);
    o.header_text = "Faxbot unit test";
    fax_result r;
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), 0);
    assert_true(r.success);
    uint32_t skip = header_rows(rx, PAGE_ROWS);
    assert_true(skip > 0);
    assert_same_images(tx, rx, skip);
}

/* spandsp 0.0.6 detects signals by energy, so noise above about -48 dBm0 already
 * breaks the half-duplex turn-arounds: around -46 the call fails in T.30 phase B with a
 * protocol error; at -20 both ends stay "in carrier" until the line-time limit. */
static void noisy_call(double level, int limit_s, fax_result *r, double *wall)
{
    char tx[512], rx[512], err[256], name[32];
    snprintf(name, sizeof(name), "noise%d", (int)-level);
    paths(name, tx, rx, sizeof(tx));
    make_tiff(tx, 1, 400);
    fax_loopback_opts o = base_opts(tx, rx, FAX_TRANSPORT_AUDIO, true);
    o.impairment = level;
    o.max_line_seconds = limit_s;
    double t0 = wall_s();
    assert_int_equal(fax_loopback_run(&o, r, err, sizeof(err)), 0);
    *wall = wall_s() - t0;
    printf("# noise %g dBm0: %s (%d %s) after %.1f s line time, %.2f s wall\n", level, r->failure_reason,
           r->completion_code, r->completion_text, r->line_seconds, *wall);
    assert_false(r->success);
    assert_non_null(r->failure_reason);
    assert_string_equal(r->failure_reason, "line_error");
    assert_true(r->transient);
    assert_int_equal(r->pages_received, 0);
    assert_true(r->line_seconds <= limit_s);
}

static void test_audio_noise_breaks_training(void **st)
{
    (void)st;
    fax_result r;
    double wall;
    noisy_call(-46, 600, &r, &wall);
    assert_false(r.timed_out);                 /* T.30 itself gave up */
    assert_true(r.completion_code > 0 && r.completion_code < 41);
    assert_true(r.line_seconds < 120);
}

static void test_audio_heavy_noise_bounded(void **st)
{
    (void)st;
    fax_result r;
    double wall;
    noisy_call(-20, 600, &r, &wall);
    if (r.timed_out)
        assert_int_equal(r.completion_code, 49);   /* we hung up: T30_ERR_CALLDROPPED */
    assert_true(wall < 30);
}

static void test_t38_total_loss_fails(void **st)
{
    (void)st;
    char tx[512], rx[512], err[256];
    paths("loss", tx, rx, sizeof(tx));
    make_tiff(tx, 1, 400);
    fax_loopback_opts o = base_opts(tx, rx, FAX_TRANSPORT_T38, true);
    o.impairment = 100;
    fax_result r;
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), 0);
    printf("# total loss: %s (%d %s) after %.1f s line time\n", r.failure_reason, r.completion_code,
           r.completion_text, r.line_seconds);
    assert_false(r.success);
    assert_string_equal(r.failure_reason, "no_answer");
    assert_true(r.transient);
    assert_int_equal(r.pages_sent, 0);
    assert_false(r.timed_out);
    assert_true(r.line_seconds < 120);
    assert_string_equal(r.remote_station_id, "");
}

static void test_line_time_limit(void **st)
{
    (void)st;
    char tx[512], rx[512], err[256];
    paths("limit", tx, rx, sizeof(tx));
    make_tiff(tx, 1, 400);
    fax_loopback_opts o = base_opts(tx, rx, FAX_TRANSPORT_T38, true);
    o.impairment = 100;
    o.max_line_seconds = 5;   /* far shorter than any T.30 timer */
    fax_result r;
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), 0);
    assert_false(r.success);
    assert_true(r.timed_out);
    assert_true(r.line_seconds <= 5.0 + 1e-9);
    assert_string_equal(r.failure_reason, "line_error");
    assert_true(r.transient);
    assert_non_null(strstr(r.completion_text, "5 s"));
}

static void test_missing_file_is_permanent(void **st)
{
    (void)st;
    char rx[512], err[256];
    snprintf(rx, sizeof(rx), "%s/missing-rx.tiff", g_dir);
    fax_loopback_opts o = base_opts("/nonexistent/nothing.tiff", rx, FAX_TRANSPORT_T38, true);
    fax_result r;
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), 0);
    assert_false(r.success);
    assert_string_equal(r.failure_reason, "file_error");
    assert_false(r.transient);
}

static void test_bad_options(void **st)
{
    (void)st;
    char err[256] = "";
    fax_result r;
    fax_loopback_opts o = base_opts("a.tiff", "b.tiff", FAX_TRANSPORT_T38, true);
    o.impairment = 101;
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "0 to 100"));
    o = base_opts("a.tiff", "b.tiff", FAX_TRANSPORT_AUDIO, true);
    o.impairment = 5;
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "dBm0"));
    o = base_opts(NULL, "b.tiff", FAX_TRANSPORT_AUDIO, true);
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), -1);
}

static void test_failure_mapping(void **st)
{
    (void)st;
    bool tr = true;
    assert_null(fax_failure_reason(0, &tr));          /* T30_ERR_OK */
    assert_false(tr);
    struct { int code; const char *reason; bool transient; } cases[] = {
        { 2, "no_answer", true },    /* T0_EXPIRED */
        { 3, "no_answer", true },    /* T1_EXPIRED */
        { 6, "line_error", true },   /* CANNOT_TRAIN */
        { 8, "rejected", false },    /* INCOMPATIBLE */
        { 11, "rejected", false },   /* NORESSUPPORT */
        { 12, "rejected", false },   /* NOSIZESUPPORT */
        { 20, "line_error", true },  /* TX_PHBDEAD */
        { 35, "line_error", true },  /* RX_DCNWHY */
        { 41, "file_error", false }, /* FILEERROR */
        { 47, "file_error", false }, /* NOMEM */
        { 48, "line_error", true },  /* RETRYDCN */
        { 49, "line_error", true },  /* CALLDROPPED */
        { 56, "rejected", false },   /* PWD_UNACCEPTABLE */
        { 999, "line_error", true }, /* unknown */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *r = fax_failure_reason(cases[i].code, &tr);
        assert_non_null(r);
        if (strcmp(r, cases[i].reason) != 0 || tr != cases[i].transient)
            fail_msg("code %d -> %s/%d, want %s/%d", cases[i].code, r, tr, cases[i].reason, cases[i].transient);
    }
    assert_non_null(strstr(fax_completion_text(6), "train"));
}

static void test_clean_text(void **st)
{
    (void)st;
    char out[FAX_STATION_ID_MAX + 1];
    assert_true(fax_clean_text("+1 555 0100 extra long station id", out, FAX_STATION_ID_MAX));
    assert_int_equal(strlen(out), 20);
    assert_string_equal(out, "+1 555 0100 extra lo");
    assert_true(fax_clean_text("a\tb\nc\x01", out, FAX_STATION_ID_MAX));
    assert_string_equal(out, "abc");
    assert_false(fax_clean_text("+15550100", out, FAX_STATION_ID_MAX));
    assert_string_equal(out, "+15550100");
    char hdr[FAX_HEADER_MAX + 1];
    fax_default_header("+1 555 0100", hdr, sizeof(hdr));
    assert_string_equal(hdr, "From +1 555 0100");
    fax_default_header(NULL, hdr, sizeof(hdr));
    assert_string_equal(hdr, "From Faxbot");
}

/* Long station ids are cut to 20 chars and still reach the far end. */
static void test_long_station_id(void **st)
{
    (void)st;
    char tx[512], rx[512], err[256];
    paths("longid", tx, rx, sizeof(tx));
    make_tiff(tx, 1, 300);
    fax_loopback_opts o = base_opts(tx, rx, FAX_TRANSPORT_T38, false);
    o.rx_station_id = "+44 20 7946 0000 ext 1234";
    fax_result r;
    assert_int_equal(fax_loopback_run(&o, &r, err, sizeof(err)), 0);
    assert_true(r.success);
    assert_string_equal(r.remote_station_id, "+44 20 7946 0000 ext");
}

/* ---- many sessions at once ---- */

typedef struct {
    int idx;
    fax_transport tr;
    fax_result r;
    int rc;
    char tx[512], rx[512];
} thread_job;

static void *thread_run(void *arg)
{
    thread_job *j = arg;
    char err[256];
    fax_loopback_opts o = base_opts(j->tx, j->rx, j->tr, j->idx % 2 == 0);
    o.seed = (uint32_t)j->idx + 1;
    j->rc = fax_loopback_run(&o, &j->r, err, sizeof(err));
    return NULL;
}

static void test_parallel_sessions(void **st)
{
    (void)st;
    enum { N = 4 };
    thread_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].idx = i;
        jobs[i].tr = i < 2 ? FAX_TRANSPORT_AUDIO : FAX_TRANSPORT_T38;
        char name[32];
        snprintf(name, sizeof(name), "par%d", i);
        paths(name, jobs[i].tx, jobs[i].rx, sizeof(jobs[i].tx));
        make_tiff(jobs[i].tx, 2, 800 + 100 * i);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_run, &jobs[i]), 0);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i].rc, 0);
        if (!jobs[i].r.success)
            fail_msg("parallel job %d: %s", i, jobs[i].r.completion_text);
        assert_int_equal(jobs[i].r.pages_received, 2);
        assert_same_images(jobs[i].tx, jobs[i].rx, 0);
    }
}

/* ---- the backend ---- */

#define MAX_EVENTS 16
typedef struct {
    pthread_mutex_t mu;
    int n;
    struct {
        outcome_kind kind;
        char reason[32];
        bool transient;
        char sid[80];
        char message[200];
        int pages, bit_rate, ecm;
        double duration;
        char remote[32];
        char received[600];
    } ev[MAX_EVENTS];
} recorder;

static report_verdict record(void *ctx, const char *job_id, const backend_outcome *o)
{
    recorder *rec = ctx;
    assert_string_equal(job_id, "0123456789abcdef0123456789abcdef");
    pthread_mutex_lock(&rec->mu);
    if (rec->n < MAX_EVENTS) {
        __typeof__(rec->ev[0]) *e = &rec->ev[rec->n++];
        e->kind = o->kind;
        snprintf(e->reason, sizeof(e->reason), "%s", o->failure_reason ? o->failure_reason : "");
        e->transient = o->transient;
        snprintf(e->sid, sizeof(e->sid), "%s", o->provider_sid ? o->provider_sid : "");
        snprintf(e->message, sizeof(e->message), "%s", o->message ? o->message : "");
        e->pages = o->pages;
        e->bit_rate = o->bit_rate;
        e->ecm = o->ecm;
        e->duration = o->duration_s;
        snprintf(e->remote, sizeof(e->remote), "%s", o->remote_station_id ? o->remote_station_id : "");
        snprintf(e->received, sizeof(e->received), "%s", o->received_tiff ? o->received_tiff : "");
    }
    pthread_mutex_unlock(&rec->mu);
    return REPORT_APPLIED;
}

static void clear_env(void)
{
    test_unsetenv("LOOPBACK_TRANSPORT");
    test_unsetenv("LOOPBACK_ECM");
    test_unsetenv("LOOPBACK_IMPAIRMENT");
    test_unsetenv("LOOPBACK_SPANDSP_LOG");
}

static backend *make_backend(recorder *rec, const config *cfg, char *err, size_t errlen)
{
    memset(rec, 0, sizeof(*rec));
    pthread_mutex_init(&rec->mu, NULL);
    backend_sink sink = { .report = record, .ctx = rec };
    return backend_loopback_ops.create(cfg, sink, err, errlen);
}

static void test_backend_env_errors(void **st)
{
    (void)st;
    recorder rec;
    char err[256];
    config cfg;
    memset(&cfg, 0, sizeof(cfg));
    const struct { const char *var, *val, *transport; } bad[] = {
        { "LOOPBACK_TRANSPORT", "pigeon", NULL },
        { "LOOPBACK_ECM", "maybe", NULL },
        { "LOOPBACK_IMPAIRMENT", "loud", NULL },
        { "LOOPBACK_IMPAIRMENT", "-20x", NULL },
        { "LOOPBACK_IMPAIRMENT", "10", NULL },      /* audio wants dBm0 <= 0 */
        { "LOOPBACK_IMPAIRMENT", "150", "t38" },    /* loss > 100% */
        { "LOOPBACK_IMPAIRMENT", "-1", "t38" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clear_env();
        if (bad[i].transport)
            test_setenv("LOOPBACK_TRANSPORT", bad[i].transport, 1);
        setenv(bad[i].var, bad[i].val, 1);
        err[0] = '\0';
        /* A value its row refuses (type, choices) stops the settings snapshot; one
         * only the backend can judge stops the backend. Either names the variable. */
        settings_snapshot *snap = settings_build(NULL, environ, err, sizeof(err));
        if (snap) {
            settings_set_current(snap);
            assert_null(make_backend(&rec, &cfg, err, sizeof(err)));
        }
        if (!strstr(err, bad[i].var))
            fail_msg("%s=%s: error does not name the variable: %s", bad[i].var, bad[i].val, err);
    }
    clear_env();
    test_setenv("LOOPBACK_TRANSPORT", "T38", 1);
    test_setenv("LOOPBACK_ECM", "false", 1);
    test_setenv("LOOPBACK_IMPAIRMENT", "2.5", 1);
    backend *b = make_backend(&rec, &cfg, err, sizeof(err));
    assert_non_null(b);
    char msg[256];
    assert_int_equal(backend_loopback_ops.check(b, msg, sizeof(msg)), 0);
    assert_non_null(strstr(msg, "T.38"));
    assert_non_null(strstr(msg, "ECM off"));
    assert_non_null(strstr(msg, "2.5% packet loss"));
    backend_loopback_ops.destroy(b);
    clear_env();
}

static void test_backend_delivers(void **st)
{
    (void)st;
    assert_string_equal(backend_loopback_ops.name, "loopback");
    assert_true(backend_loopback_ops.needs_tiff);
    clear_env();
    test_setenv("LOOPBACK_TRANSPORT", "audio", 1);
    config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.station_id, sizeof(cfg.station_id), "%s", TX_ID);
    recorder rec;
    char err[256], jobdir[300], tiff[400];
    backend *b = make_backend(&rec, &cfg, err, sizeof(err));
    assert_non_null(b);
    char msg[256];
    assert_int_equal(backend_loopback_ops.check(b, msg, sizeof(msg)), 0);
    assert_non_null(strstr(msg, "audio"));
    assert_non_null(strstr(msg, "ECM on"));

    snprintf(jobdir, sizeof(jobdir), "%s/job1", g_dir);
    assert_int_equal(mkdir_p(jobdir, 0700), 0);
    snprintf(tiff, sizeof(tiff), "%s/fax.tiff", jobdir);
    make_tiff(tiff, 2, 1200);
    backend_job job = { .job_id = "0123456789abcdef0123456789abcdef", .to = "+15550199", .tiff_path = tiff,
                        .pages = 2, .fine = true, .attempt = 1 };
    assert_int_equal(backend_loopback_ops.submit(b, &job), 0);

    assert_true(rec.n >= 2);
    assert_int_equal(rec.ev[0].kind, OUTCOME_ACCEPTED);
    assert_string_equal(rec.ev[0].sid, "loopback-0123456789abcdef0123456789abcdef");
    int progress = 0;
    for (int i = 1; i < rec.n - 1; i++) {
        assert_int_equal(rec.ev[i].kind, OUTCOME_PROGRESS);
        assert_int_equal(rec.ev[i].pages, ++progress);
    }
    assert_int_equal(progress, 2);
    __typeof__(rec.ev[0]) *last = &rec.ev[rec.n - 1];
    if (last->kind != OUTCOME_SUCCESS)
        fail_msg("loopback failed: %s %s", last->reason, last->message);
    assert_int_equal(last->pages, 2);
    assert_int_equal(last->bit_rate, 14400);
    assert_int_equal(last->ecm, 1);
    assert_true(last->duration > 5);
    assert_string_equal(last->remote, "+15550199");
    char want[600];
    snprintf(want, sizeof(want), "%s/received.tiff", jobdir);
    assert_string_equal(last->received, want);
    /* the default header "From <station id>" is stamped on top of each page */
    uint32_t skip = header_rows(want, 1200);
    assert_true(skip > 0);
    assert_same_images(tiff, want, skip);
    backend_loopback_ops.destroy(b);
}

static void test_backend_failure(void **st)
{
    (void)st;
    clear_env();
    test_setenv("LOOPBACK_TRANSPORT", "t38", 1);
    test_setenv("LOOPBACK_IMPAIRMENT", "100", 1);
    config cfg;
    memset(&cfg, 0, sizeof(cfg));
    recorder rec;
    char err[256], jobdir[300], tiff[400], rxp[400];
    backend *b = make_backend(&rec, &cfg, err, sizeof(err));
    assert_non_null(b);
    snprintf(jobdir, sizeof(jobdir), "%s/job2", g_dir);
    assert_int_equal(mkdir_p(jobdir, 0700), 0);
    snprintf(tiff, sizeof(tiff), "%s/fax.tiff", jobdir);
    make_tiff(tiff, 1, 300);
    backend_job job = { .job_id = "0123456789abcdef0123456789abcdef", .to = "+15550199", .tiff_path = tiff,
                        .pages = 1, .attempt = 2 };
    assert_int_equal(backend_loopback_ops.submit(b, &job), 0);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.ev[0].kind, OUTCOME_ACCEPTED);
    assert_int_equal(rec.ev[1].kind, OUTCOME_FAILURE);
    assert_string_equal(rec.ev[1].reason, "no_answer");
    assert_true(rec.ev[1].transient);
    assert_non_null(strstr(rec.ev[1].message, "T.30 code 2"));
    assert_int_equal(rec.ev[1].pages, 0);
    assert_int_equal(rec.ev[1].bit_rate, -1);      /* never trained: unknown, not 14400 */
    assert_true(rec.ev[1].duration >= 30);
    snprintf(rxp, sizeof(rxp), "%s/received.tiff", jobdir);
    assert_int_equal(access(rxp, F_OK), -1);       /* no half-received fax left behind */

    /* no TIFF at all: a permanent file error, reported, and -1 */
    rec.n = 0;
    backend_job nojob = { .job_id = "0123456789abcdef0123456789abcdef", .to = "+15550199", .attempt = 1 };
    assert_int_equal(backend_loopback_ops.submit(b, &nojob), -1);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.ev[0].kind, OUTCOME_FAILURE);
    assert_string_equal(rec.ev[0].reason, "file_error");
    assert_false(rec.ev[0].transient);
    backend_loopback_ops.destroy(b);
    clear_env();
}

static int setup(void **st)
{
    (void)st;
    snprintf(g_dir, sizeof(g_dir), "/tmp/faxbot-fax-test-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    if (!getenv("FAX_TEST_KEEP"))
        remove_tree(g_dir);
    return 0;
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_mapping),
        cmocka_unit_test(test_clean_text),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_audio_ecm),
        cmocka_unit_test(test_audio_no_ecm),
        cmocka_unit_test(test_t38_ecm),
        cmocka_unit_test(test_t38_no_ecm),
        cmocka_unit_test(test_header_extends_page),
        cmocka_unit_test(test_long_station_id),
        cmocka_unit_test(test_audio_noise_breaks_training),
        cmocka_unit_test(test_audio_heavy_noise_bounded),
        cmocka_unit_test(test_t38_total_loss_fails),
        cmocka_unit_test(test_line_time_limit),
        cmocka_unit_test(test_missing_file_is_permanent),
        cmocka_unit_test(test_parallel_sessions),
        cmocka_unit_test(test_backend_env_errors),
        cmocka_unit_test(test_backend_delivers),
        cmocka_unit_test(test_backend_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
