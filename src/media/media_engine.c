/* media_engine.c — the engine thread and the table of calls (media_engine.h). One
 * thread waits in epoll on a 20 ms timerfd, an eventfd (to stop) and every call's
 * socket; epoll carries a call's id (table slot + generation), never a pointer, so a
 * call stopped from another thread while its event is in flight is simply not found.
 * One mutex guards the table and every call's state; the API takes it, the thread
 * holds it while it ticks calls or reads their sockets. Completion callbacks run on
 * the thread without that lock but under a second one, which media_call_stop takes
 * from other threads: once stop returns, no callback for that call can still run. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "media/media_internal.h"
#include "util/util.h"

#define MAX_CALLS_LIMIT 4096
#define MAX_CATCH_UP_TICKS 10           /* after a stall (up to 200 ms), run the missed ticks at once */
#define ID_TIMER UINT64_MAX
#define ID_WAKE (UINT64_MAX - 1)

typedef struct {
    uint64_t id;
    media_done_fn fn;
    void *user;
    fax_result result;
} done_item;

struct media_engine {
    pthread_mutex_t mu;                 /* the table and every call */
    pthread_mutex_t cb_mu;              /* held while completion callbacks run */
    pthread_t thread;
    bool thread_started, stopping;
    int epfd, timerfd, wakefd;
    char bind_addr[MEDIA_ADDR_MAX];
    int port_min, port_max, port_cursor, max_calls, n_calls;
    media_call **slots;
    uint32_t *gen;
    done_item *done;                    /* max_calls entries, filled per tick */
    unsigned long late_ticks, lost_ticks, ticks;
    double thread_cpu_s;                /* the engine thread's CPU time, as of the last tick */
};

static double thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Which engine's thread this is (NULL elsewhere): tells media_call_stop whether it
 * runs inside a completion callback. */
static __thread media_engine *tls_engine;

static uint64_t make_id(uint32_t gen, int slot)
{
    return (uint64_t)gen << 32 | (uint32_t)slot;
}

static media_call *lookup(media_engine *e, uint64_t id)
{
    uint32_t slot = (uint32_t)id;
    if (slot >= (uint32_t)e->max_calls)
        return NULL;
    media_call *c = e->slots[slot];
    return c && c->id == id ? c : NULL;
}

/* ---- the thread ---- */

static void run_ticks(media_engine *e, uint64_t expirations)
{
    int ticks = expirations > MAX_CATCH_UP_TICKS ? MAX_CATCH_UP_TICKS : (int)expirations;
    int n_done = 0;
    pthread_mutex_lock(&e->mu);
    if (expirations > 1)
        e->late_ticks += (unsigned long)(expirations - 1);
    e->lost_ticks += (unsigned long)(expirations - (uint64_t)ticks);
    e->ticks += (unsigned long)expirations;
    for (int t = 0; t < ticks; t++) {
        /* catching up after a stall: take in what arrived meanwhile before each extra
         * step, or every jitter buffer would play the whole stall as a gap */
        for (int i = 0; t > 0 && i < e->max_calls; i++)
            if (e->slots[i])
                media_call_readable(e->slots[i]);
        for (int i = 0; i < e->max_calls; i++) {
            media_call *c = e->slots[i];
            if (c && media_call_tick(c) && n_done < e->max_calls) {
                done_item *d = &e->done[n_done++];
                d->id = c->id;
                d->fn = c->opts.on_done;
                d->user = c->opts.user_data;
                d->result = c->result;
            }
        }
    }
    e->thread_cpu_s = thread_cpu_now();
    pthread_mutex_unlock(&e->mu);
    if (n_done == 0)
        return;
    pthread_mutex_lock(&e->cb_mu);
    for (int i = 0; i < n_done; i++) {
        pthread_mutex_lock(&e->mu);
        bool alive = lookup(e, e->done[i].id) != NULL;
        pthread_mutex_unlock(&e->mu);
        if (alive && e->done[i].fn)
            e->done[i].fn(e->done[i].user, &e->done[i].result);
    }
    pthread_mutex_unlock(&e->cb_mu);
}

static void *engine_main(void *arg)
{
    media_engine *e = arg;
    tls_engine = e;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(e->epfd, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("media engine: epoll_wait failed: %s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            uint64_t id = evs[i].data.u64, v;
            if (id == ID_WAKE) {
                if (read(e->wakefd, &v, sizeof v) < 0) { /* nothing to do: we only look at stopping */ }
                pthread_mutex_lock(&e->mu);
                bool stop = e->stopping;
                pthread_mutex_unlock(&e->mu);
                if (stop)
                    return NULL;
            } else if (id == ID_TIMER) {
                if (read(e->timerfd, &v, sizeof v) == (ssize_t)sizeof v && v > 0)
                    run_ticks(e, v);
            } else {
                pthread_mutex_lock(&e->mu);
                media_call *c = lookup(e, id);
                if (c)
                    media_call_readable(c);
                pthread_mutex_unlock(&e->mu);
            }
        }
    }
}

/* ---- the engine ---- */

static int add_fd(media_engine *e, int fd, uint64_t id)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = id };
    return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
}

media_engine *media_engine_new(const media_engine_opts *o, char *err, size_t errlen)
{
    if (o->port_min < 1 || o->port_max > 65535 || o->port_min > o->port_max) {
        str_fmt(err, errlen, "media port range %d-%d is not within 1-65535", o->port_min, o->port_max);
        return NULL;
    }
    if (o->max_calls < 1 || o->max_calls > MAX_CALLS_LIMIT) {
        str_fmt(err, errlen, "media call cap %d must be 1..%d", o->max_calls, MAX_CALLS_LIMIT);
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    if (media_resolve(o->bind_addr ? o->bind_addr : "0.0.0.0", 0, &ss, &sl, err, errlen) != 0)
        return NULL;
    media_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    e->epfd = e->timerfd = e->wakefd = -1;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->cb_mu, NULL);
    str_copy(e->bind_addr, sizeof e->bind_addr, o->bind_addr ? o->bind_addr : "0.0.0.0");
    e->port_min = o->port_min;
    e->port_max = o->port_max;
    e->port_cursor = o->port_min;
    e->max_calls = o->max_calls;
    e->slots = calloc((size_t)o->max_calls, sizeof(*e->slots));
    e->gen = calloc((size_t)o->max_calls, sizeof(*e->gen));
    e->done = calloc((size_t)o->max_calls, sizeof(*e->done));
    if (!e->slots || !e->gen || !e->done) {
        str_fmt(err, errlen, "out of memory");
        goto fail;
    }
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct itimerspec its = { .it_interval = { 0, MEDIA_TICK_MS * 1000000L }, .it_value = { 0, MEDIA_TICK_MS * 1000000L } };
    if (e->epfd < 0 || e->timerfd < 0 || e->wakefd < 0 || timerfd_settime(e->timerfd, 0, &its, NULL) != 0
        || add_fd(e, e->timerfd, ID_TIMER) != 0 || add_fd(e, e->wakefd, ID_WAKE) != 0) {
        str_fmt(err, errlen, "media engine: cannot set up epoll and its timer: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        str_fmt(err, errlen, "media engine: cannot start its thread");
        goto fail;
    }
    e->thread_started = true;
    return e;
fail:
    media_engine_free(e);
    return NULL;
}

static void close_call(media_engine *e, media_call *c)
{
    uint32_t slot = (uint32_t)c->id;
    e->slots[slot] = NULL;
    e->gen[slot]++;
    e->n_calls--;
    epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    media_call_release(c);
}

void media_engine_free(media_engine *e)
{
    if (!e)
        return;
    if (e->thread_started) {
        pthread_mutex_lock(&e->mu);
        e->stopping = true;
        pthread_mutex_unlock(&e->mu);
        uint64_t one = 1;
        if (write(e->wakefd, &one, sizeof one) < 0)
            log_warn("media engine: cannot wake its thread: %s", strerror(errno));
        pthread_join(e->thread, NULL);
    }
    for (int i = 0; e->slots && i < e->max_calls; i++) {
        media_call *c = e->slots[i];
        if (c) {
            close_call(e, c);
            free(c);
        }
    }
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->timerfd >= 0)
        close(e->timerfd);
    if (e->wakefd >= 0)
        close(e->wakefd);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->cb_mu);
    free(e->slots);
    free(e->gen);
    free(e->done);
    free(e);
}

int media_engine_calls(media_engine *e, int *ports, int max)
{
    pthread_mutex_lock(&e->mu);
    int n = 0;
    for (int i = 0; i < e->max_calls; i++) {
        if (!e->slots[i])
            continue;
        if (ports && n < max)
            ports[n] = e->slots[i]->local_port;
        n++;
    }
    pthread_mutex_unlock(&e->mu);
    return n;
}

void media_engine_timing(media_engine *e, media_engine_timing_stats *t)
{
    pthread_mutex_lock(&e->mu);
    t->ticks = e->ticks;
    t->late_ticks = e->late_ticks;
    t->lost_ticks = e->lost_ticks;
    t->thread_cpu_s = e->thread_cpu_s;
    pthread_mutex_unlock(&e->mu);
}

/* ---- calls ---- */

static int copy_opts(media_call *c, const media_call_opts *o, char *err, size_t errlen)
{
    if (!o->tiff_path || !o->tiff_path[0] || strlen(o->tiff_path) >= sizeof c->tiff_path) {
        str_fmt(err, errlen, "media call needs a TIFF path (shorter than %zu)", sizeof c->tiff_path);
        return -1;
    }
    if (o->test_tx_loss_pct < 0 || o->test_tx_loss_pct > 100) {
        str_fmt(err, errlen, "test loss must be 0..100 %%");
        return -1;
    }
    c->opts = *o;
    str_copy(c->tiff_path, sizeof c->tiff_path, o->tiff_path);
    fax_clean_text(o->station_id, c->station_id, FAX_STATION_ID_MAX);
    c->has_header_text = o->header_text != NULL;
    if (o->header_text)
        fax_clean_text(o->header_text, c->header_text, FAX_HEADER_MAX);
    c->opts.tiff_path = c->tiff_path;
    c->opts.station_id = c->station_id;
    c->opts.header_text = c->has_header_text ? c->header_text : NULL;
    return 0;
}

media_call *media_call_open(media_engine *e, const media_call_opts *o, char *err, size_t errlen)
{
    media_call *c = calloc(1, sizeof(*c));
    if (!c) {
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    if (copy_opts(c, o, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    uint32_t rnd[3];
    if (random_bytes(rnd, sizeof rnd) != 0)
        memset(rnd, 0x5a, sizeof rnd);
    c->rtp_ssrc = rnd[0];
    c->rtp_seq = (uint16_t)rnd[1];
    c->rtp_ts = rnd[2];
    c->loss_rng = o->test_loss_seed ? o->test_loss_seed : 0x5eed1u;
    c->engine = e;
    c->fd = -1;

    pthread_mutex_lock(&e->mu);
    int slot = -1;
    if (e->n_calls >= e->max_calls) {
        str_fmt(err, errlen, "media call limit reached: %d calls are open", e->n_calls);
        goto fail;
    }
    for (int i = 0; i < e->max_calls && slot < 0; i++)
        if (!e->slots[i])
            slot = i;
    c->fd = media_socket_open(e->bind_addr, e->port_min, e->port_max, &e->port_cursor, &c->local_port, err, errlen);
    if (c->fd < 0)
        goto fail;
    c->id = make_id(e->gen[slot], slot);
    if (add_fd(e, c->fd, c->id) != 0) {
        str_fmt(err, errlen, "media engine: cannot watch the call's socket: %s", strerror(errno));
        goto fail;
    }
    e->slots[slot] = c;
    e->n_calls++;
    c->st.local_port = c->local_port;
    pthread_mutex_unlock(&e->mu);
    return c;
fail:
    pthread_mutex_unlock(&e->mu);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return NULL;
}

int media_call_local_port(const media_call *c)
{
    return c->local_port;
}

int media_call_start(media_call *c, const media_params *p, char *err, size_t errlen)
{
    media_engine *e = c->engine;
    pthread_mutex_lock(&e->mu);
    int rc = -1;
    if (c->state != CALL_OPEN)
        str_fmt(err, errlen, "media call on port %d was already started", c->local_port);
    else
        rc = media_call_begin(c, p, err, errlen);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int media_call_update_remote(media_call *c, const char *addr, int port, char *err, size_t errlen)
{
    media_engine *e = c->engine;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (media_resolve(addr, port, &ss, &sl, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&e->mu);
    c->remote = ss;
    c->remote_len = port ? sl : 0;
    str_copy(c->params.remote_addr, sizeof c->params.remote_addr, addr);
    c->params.remote_port = port;
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int media_call_switch_to_t38(media_call *c, const media_params *p, char *err, size_t errlen)
{
    media_engine *e = c->engine;
    pthread_mutex_lock(&e->mu);
    int rc = -1;
    if (p->kind != MEDIA_KIND_T38)
        str_fmt(err, errlen, "a switch to T.38 needs T.38 media parameters");
    else if (c->state != CALL_RUNNING || c->params.kind != MEDIA_KIND_AUDIO)
        str_fmt(err, errlen, "only a running audio call can switch to T.38");
    else
        rc = media_call_begin(c, p, err, errlen);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

void media_call_get_stats(media_call *c, media_call_stats *st)
{
    media_engine *e = c->engine;
    pthread_mutex_lock(&e->mu);
    *st = c->st;
    if (c->urx)
        st->udptl = c->urx->stats;
    st->rtp = c->rtp_rx;
    if (c->jb) {
        st->jitter_late = c->jb->stats.late;
        st->jitter_concealed_samples = c->jb->stats.samples_concealed;
    }
    st->running = c->state == CALL_RUNNING;
    st->done = c->state == CALL_DONE;
    pthread_mutex_unlock(&e->mu);
}

void media_call_stop(media_call *c)
{
    if (!c)
        return;
    media_engine *e = c->engine;
    bool on_thread = tls_engine == e;
    if (!on_thread)
        pthread_mutex_lock(&e->cb_mu);
    pthread_mutex_lock(&e->mu);
    close_call(e, c);
    pthread_mutex_unlock(&e->mu);
    if (!on_thread)
        pthread_mutex_unlock(&e->cb_mu);
    free(c);
}
