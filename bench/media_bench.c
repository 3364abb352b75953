/* media_bench.c — how many simultaneous fax calls the media engine (src/media) carries
 * on this machine, T.38 over UDPTL and G.711 over RTP, with every received page
 * pixel-exact; and its CPU per call-second as a ratio to the loopback engine
 * (fax_loopback_run: the same spandsp sessions wired back to back in memory, no
 * sockets, no clock) measured in the same run.
 *
 * For each kind it ramps the number of simultaneous faxes (each fax = a sending and
 * a receiving call of ONE engine on 127.0.0.1, so one engine thread carries 2 x N
 * calls) through the list given, and stops at the first step where a fax fails or
 * differs, or where the engine's thread needs 80 % or more of a core ("engine": its
 * CPU over one call's line time). "RT" says whether this machine let it keep real
 * time (under 1 % of its 20 ms periods lost to the scheduler; on a shared, loaded box
 * it may not, and both ends then slow down together). Real time: every step takes as
 * long as one fax (~35 s).
 * Usage: media-bench [--kinds t38,audio] [--steps 4,16,32,64] [--out FILE]
 * (run by bench/media.sh) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "document/document.h"
#include "fax/fax_engine.h"
#include "fax_page.h"
#include "media/media_engine.h"

#define MAX_STEP 512

typedef struct {
    pthread_mutex_t *mu;
    int *done;
    fax_result res;
    bool got;
} end_t;

static void on_done(void *user, const fax_result *r)
{
    end_t *e = user;
    pthread_mutex_lock(e->mu);
    e->res = *r;
    e->got = true;
    (*e->done)++;
    pthread_mutex_unlock(e->mu);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec
           + ru.ru_stime.tv_usec / 1e6;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds per call-second of the loopback engine (both ends counted as calls). */
static double loopback_cost(const char *tx, const char *dir, fax_transport tr)
{
    double cpu = 0, call_s = 0;
    for (int i = 0; i < 3; i++) {
        char rx[512], err[256];
        snprintf(rx, sizeof rx, "%s/loop-%d.tiff", dir, i);
        fax_loopback_opts o = { .tx_tiff = tx, .rx_tiff = rx, .transport = tr, .ecm = true, .seed = 7,
                                .tx_station_id = "1", .rx_station_id = "2", .header_text = "" };
        fax_result r;
        double c0 = cpu_s();
        if (fax_loopback_run(&o, &r, err, sizeof err) != 0 || !r.success) {
            fprintf(stderr, "media-bench: loopback baseline failed: %s %s\n", err, r.completion_text);
            exit(1);
        }
        cpu += cpu_s() - c0;
        call_s += 2 * r.line_seconds;
    }
    return cpu / call_s;
}

typedef struct {
    int faxes, exact;
    double wall, cpu, call_s;
    media_engine_timing_stats timing;
    char first_failure[600];
} step_result;

static void run_step(media_kind kind, int n, const char *tx, const char *dir, step_result *out)
{
    memset(out, 0, sizeof(*out));
    out->faxes = n;
    char err[256];
    media_engine_opts eo = { .bind_addr = "127.0.0.1", .port_min = 34000, .port_max = 39999,
                             .max_calls = 2 * n };
    media_engine *e = media_engine_new(&eo, err, sizeof err);
    if (!e) {
        fprintf(stderr, "media-bench: %s\n", err);
        exit(1);
    }
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int done = 0;
    end_t *ends = calloc((size_t)(2 * n), sizeof(*ends));
    media_call **calls = calloc((size_t)(2 * n), sizeof(*calls));
    char (*rx)[512] = calloc((size_t)n, sizeof(*rx));
    for (int i = 0; i < 2 * n; i++) {
        ends[i].mu = &mu;
        ends[i].done = &done;
    }
    for (int i = 0; i < n; i++) {
        snprintf(rx[i], sizeof rx[i], "%s/rx-%d.tiff", dir, i);
        media_call_opts so = { .calling = true, .sending = true, .tiff_path = tx, .ecm = true, .station_id = "1",
                               .header_text = "", .max_seconds = 300, .on_done = on_done, .user_data = &ends[2 * i] };
        media_call_opts ro = { .calling = false, .sending = false, .tiff_path = rx[i], .ecm = true, .station_id = "2",
                               .max_seconds = 300, .on_done = on_done, .user_data = &ends[2 * i + 1] };
        calls[2 * i] = media_call_open(e, &so, err, sizeof err);
        calls[2 * i + 1] = calls[2 * i] ? media_call_open(e, &ro, err, sizeof err) : NULL;
        if (!calls[2 * i] || !calls[2 * i + 1]) {
            fprintf(stderr, "media-bench: %s\n", err);
            exit(1);
        }
    }
    double w0 = wall_s(), c0 = cpu_s();
    for (int i = 0; i < n; i++) {
        media_params a, b;
        media_params_default(&a, kind);
        media_params_default(&b, kind);
        snprintf(a.remote_addr, sizeof a.remote_addr, "127.0.0.1");
        snprintf(b.remote_addr, sizeof b.remote_addr, "127.0.0.1");
        a.remote_port = media_call_local_port(calls[2 * i + 1]);
        b.remote_port = media_call_local_port(calls[2 * i]);
        if (media_call_start(calls[2 * i + 1], &b, err, sizeof err) != 0
            || media_call_start(calls[2 * i], &a, err, sizeof err) != 0) {
            fprintf(stderr, "media-bench: %s\n", err);
            exit(1);
        }
    }
    for (;;) {
        pthread_mutex_lock(&mu);
        int d = done;
        pthread_mutex_unlock(&mu);
        if (d >= 2 * n || wall_s() - w0 > 400)
            break;
        usleep(100000);
    }
    out->wall = wall_s() - w0;
    out->cpu = cpu_s() - c0;
    media_engine_timing(e, &out->timing);
    for (int i = 0; i < 2 * n; i++)
        media_call_stop(calls[i]);
    media_engine_free(e);
    for (int i = 0; i < n; i++) {
        const end_t *s = &ends[2 * i], *r = &ends[2 * i + 1];
        out->call_s += s->res.line_seconds + r->res.line_seconds;
        int pages = 0;
        bool ok = s->got && r->got && s->res.success && r->res.success
                  && doc_tiff_compare(tx, rx[i], &pages, NULL, err, sizeof err) == 0;
        if (ok)
            out->exact++;
        else if (!out->first_failure[0])
            snprintf(out->first_failure, sizeof out->first_failure, "fax %d: %s / %s%s%s", i,
                     s->got ? s->res.completion_text : "no result", r->got ? r->res.completion_text : "no result",
                     s->res.success && r->res.success ? ": " : "", s->res.success && r->res.success ? err : "");
        unlink(rx[i]);
    }
    free(ends);
    free(calls);
    free(rx);
}

int main(int argc, char **argv)
{
    const char *kinds = "t38,audio", *steps = "4,16,32,64", *out_path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kinds") == 0)
            kinds = argv[i + 1];
        else if (strcmp(argv[i], "--steps") == 0)
            steps = argv[i + 1];
        else if (strcmp(argv[i], "--out") == 0)
            out_path = argv[i + 1];
        else {
            fprintf(stderr, "usage: media-bench [--kinds t38,audio] [--steps 4,16,32] [--out FILE]\n");
            return 2;
        }
    }
    char dir[] = "/tmp/faxbot-media-bench-XXXXXX", tx[512], err[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(tx, sizeof tx, "%s/page.tiff", dir);
    if (fax_page_write(tx, 1, FAX_PAGE_ROWS, err, sizeof err) != 0) {
        fprintf(stderr, "media-bench: %s\n", err);
        return 1;
    }
    FILE *out = out_path ? fopen(out_path, "w") : NULL;
    char line[1024];
    snprintf(line, sizeof line,
             "media engine: simultaneous faxes (1 page each, ECM, 127.0.0.1, one engine carries both ends)\n"
             "%-6s %6s %6s %8s %9s %9s %12s %12s %11s %4s  %s\n",
             "kind", "faxes", "exact", "wall s", "CPU s", "engine", "CPU/call-s", "vs loopback", "late/lost", "RT",
             "first failure");
    fputs(line, stdout);
    if (out)
        fputs(line, out);
    int rc = 0;
    char kinds_copy[64];
    snprintf(kinds_copy, sizeof kinds_copy, "%s", kinds);
    for (char *k = strtok(kinds_copy, ","); k; k = strtok(NULL, ",")) {
        media_kind kind = strcmp(k, "audio") == 0 ? MEDIA_KIND_AUDIO : MEDIA_KIND_T38;
        double base = loopback_cost(tx, dir, kind == MEDIA_KIND_AUDIO ? FAX_TRANSPORT_AUDIO : FAX_TRANSPORT_T38);
        int sustained = 0, kept = 0;
        const char *p = steps;
        while (*p) {
            int n = atoi(p);
            if (n < 1 || n > MAX_STEP)
                break;
            step_result r;
            run_step(kind, n, tx, dir, &r);
            double per = r.call_s > 0 ? r.cpu / r.call_s : 0;
            /* The engine's demand: its thread's CPU over one call's line time (20 ms per
             * tick it ran), i.e. the share of a core it needs to run these calls in
             * real time. Whether this shared machine gave it that share shows in the
             * periods it lost (late/lost) and the wall time. */
            double line_s = r.call_s / (2.0 * n);
            double load = line_s > 0 ? r.timing.thread_cpu_s / line_s : 0;
            bool fits = load < 0.8, real_time = r.timing.lost_ticks * 100 < r.timing.ticks;
            char late[32];
            snprintf(late, sizeof late, "%lu/%lu", r.timing.late_ticks, r.timing.lost_ticks);
            snprintf(line, sizeof line, "%-6s %6d %6d %8.1f %9.2f %7.1f %% %12.5f %11.1fx %11s %4s  %s%s\n", k, n,
                     r.exact, r.wall, r.cpu, 100 * load, per, base > 0 ? per / base : 0, late,
                     real_time ? "yes" : "no", fits ? "" : "engine thread saturated; ", r.first_failure);
            if (r.exact == n && real_time)
                kept = n;
            fputs(line, stdout);
            fflush(stdout);
            if (out)
                fputs(line, out);
            if (r.exact < n || !fits)
                break;
            sustained = n;
            p = strchr(p, ',');
            if (!p)
                break;
            p++;
        }
        snprintf(line, sizeof line, "%s: %d simultaneous faxes with every page exact and the engine thread under "
                 "80 %% of a core; real time kept (< 1 %% periods lost) up to %d on this machine; loopback engine "
                 "%.5f CPU s per call-second\n", k, sustained, kept, base);
        fputs(line, stdout);
        if (out)
            fputs(line, out);
        if (sustained == 0)
            rc = 1;
    }
    if (out)
        fclose(out);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
