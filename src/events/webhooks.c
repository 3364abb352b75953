/* webhooks.c — the webhook dispatcher (see webhooks.h). One thread asks the store
 * for due deliveries (at most one per destination and job: the oldest pending)
 * and queues them; workers send them and record the outcome. The store is the
 * truth: a delivery in flight when the process dies is still pending after a
 * restart and goes out again with the same webhook-id. */
#include "events/webhooks.h"
#include "events/dest_guard.h"
#include "events/webhook_sign.h"
#include "util/util.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64
#define QUEUE_MAX 256

struct webhooks {
    const config *cfg;
    store *st;
    char callback_secret[128];
    pthread_mutex_t lock;
    pthread_cond_t work, wake;       /* workers wait on work; the dispatcher on wake */
    delivery_row *queue[QUEUE_MAX];
    int qhead, qlen;
    char (*inflight)[40];            /* ids queued or being sent */
    int n_inflight;
    bool stop;
    pthread_t dispatcher;
    pthread_t *workers;
    int n_workers;
    uint64_t delivered, failed, retried;
};

int64_t webhook_retry_delay_ms(int base_s, int max_s, int attempts, double r)
{
    int64_t d = (int64_t)base_s * 1000, cap = (int64_t)max_s * 1000;
    for (int i = 1; i < attempts && d < cap; i++) d *= 2;
    if (d > cap) d = cap;
    return d / 2 + (int64_t)((double)(d - d / 2) * r);
}

static double jitter(void)
{
    uint32_t v = 0;
    if (random_bytes(&v, sizeof v)) return 0.5;
    return (double)v / 4294967296.0;
}

static bool inflight_has(webhooks *w, const char *id)
{
    for (int i = 0; i < w->n_inflight; i++)
        if (!strcmp(w->inflight[i], id)) return true;
    return false;
}

static void inflight_drop(webhooks *w, const char *id)
{
    for (int i = 0; i < w->n_inflight; i++)
        if (!strcmp(w->inflight[i], id)) {
            memcpy(w->inflight[i], w->inflight[--w->n_inflight], sizeof w->inflight[i]);
            return;
        }
}

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    size_t *seen = ud;
    *seen += size * n;
    return *seen > 1024 * 1024 ? 0 : size * n;    /* a receiver's answer is not read beyond 1 MiB */
}

typedef enum { SENT_OK, SENT_RETRY, SENT_FINAL } send_result;

/* One attempt. Fills d->last_status / last_error and says what follows. */
static send_result send_once(webhooks *w, delivery_row *d)
{
    d->last_status = 0;
    d->last_error[0] = 0;
    dest_target t;
    char why[256];
    int dc = dest_check(d->url, w->cfg->webhook_allow_private, &t, why, sizeof why);
    if (dc) {
        str_fmt(d->last_error, sizeof d->last_error, "the URL %s", why);
        /* a name that does not resolve now may resolve later; a refused address will not change */
        return dc == DEST_UNRESOLVED ? SENT_RETRY : SENT_FINAL;
    }
    const char *secret = d->endpoint_id[0] ? d->secret : w->callback_secret;
    int64_t ts = now_ms() / 1000;
    char sig[64], tsbuf[32];
    size_t blen = strlen(d->body);
    if (webhook_sign(secret, d->id, ts, d->body, blen, sig)) {
        str_copy(d->last_error, sizeof d->last_error, "could not sign the delivery (bad secret)");
        return SENT_FINAL;
    }
    str_fmt(tsbuf, sizeof tsbuf, "%lld", (long long)ts);
    CURL *c = curl_easy_init();
    if (!c) { str_copy(d->last_error, sizeof d->last_error, "out of memory"); return SENT_RETRY; }
    struct curl_slist *h = NULL, *res = NULL;
    char line[256];
    h = curl_slist_append(h, "Content-Type: application/json");
    str_fmt(line, sizeof line, "webhook-id: %s", d->id);
    h = curl_slist_append(h, line);
    str_fmt(line, sizeof line, "webhook-timestamp: %s", tsbuf);
    h = curl_slist_append(h, line);
    str_fmt(line, sizeof line, "webhook-signature: %s", sig);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Expect:");
    struct in6_addr tmp;
    bool literal = inet_pton(AF_INET, t.host, &tmp) == 1 || inet_pton(AF_INET6, t.host, &tmp) == 1;
    if (!literal) {
        res = curl_slist_append(res, t.resolve);   /* connect to the address that was checked */
        curl_easy_setopt(c, CURLOPT_RESOLVE, res);
    }
    size_t seen = 0;
    curl_easy_setopt(c, CURLOPT_URL, d->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)w->cfg->webhook_timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)w->cfg->webhook_timeout_s);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "faxbot-webhooks/1");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    curl_slist_free_all(res);
    d->last_status = (int)code;
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && code >= 200)) {
        str_fmt(d->last_error, sizeof d->last_error, "%s", curl_easy_strerror(cc));
        return SENT_RETRY;
    }
    if (code >= 200 && code < 300) return SENT_OK;
    str_fmt(d->last_error, sizeof d->last_error, "the receiver answered %ld", code);
    if (code >= 500 || code == 429 || code == 408) return SENT_RETRY;
    return SENT_FINAL;   /* other 4xx, and 3xx: redirects are not followed */
}

static void deliver(webhooks *w, delivery_row *d)
{
    send_result r;
    if (d->endpoint_id[0] && d->endpoint_deleted) {
        r = SENT_FINAL;
        str_copy(d->last_error, sizeof d->last_error, "the endpoint was deleted");
    } else {
        r = send_once(w, d);
    }
    int64_t now = now_ms();
    d->attempts++;
    d->updated_at = now;
    const char *outcome;
    if (r == SENT_OK) {
        str_copy(d->status, sizeof d->status, "delivered");
        outcome = "delivered";
    } else if (r == SENT_RETRY && now - d->created_at < (int64_t)w->cfg->webhook_retry_hours * 3600 * 1000) {
        d->next_attempt_at = now + webhook_retry_delay_ms(w->cfg->webhook_retry_base_s, w->cfg->webhook_retry_max_s,
                                                          d->attempts, jitter());
        outcome = "retry";
    } else {
        str_copy(d->status, sizeof d->status, "failed");
        outcome = "failed";
    }
    for (int i = 0; i < 20 && store_delivery_update(w->st, d) != STORE_OK; i++) sleep_ms(250);
    pthread_mutex_lock(&w->lock);
    if (r == SENT_OK) w->delivered++;
    else if (!strcmp(outcome, "retry")) w->retried++;
    else w->failed++;
    pthread_mutex_unlock(&w->lock);
    log_info("webhook %s (%s, attempt %d): %s%s%s", d->id, d->event_type, d->attempts, outcome,
             d->last_error[0] ? ": " : "", d->last_error);
}

static void *worker_main(void *arg)
{
    webhooks *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && w->qlen == 0) pthread_cond_wait(&w->work, &w->lock);
        if (w->stop) break;
        delivery_row *d = w->queue[w->qhead];
        w->qhead = (w->qhead + 1) % QUEUE_MAX;
        w->qlen--;
        pthread_mutex_unlock(&w->lock);
        deliver(w, d);
        pthread_mutex_lock(&w->lock);
        inflight_drop(w, d->id);
        pthread_cond_signal(&w->wake);
        delivery_rows_free(d, 1);
        free(d);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void *dispatcher_main(void *arg)
{
    webhooks *w = arg;
    delivery_row *rows = calloc(BATCH, sizeof *rows);
    if (!rows) return NULL;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        pthread_mutex_unlock(&w->lock);
        int n = store_delivery_due(w->st, now_ms(), BATCH, rows);
        pthread_mutex_lock(&w->lock);
        for (int i = 0; i < n; i++) {
            delivery_row *d = NULL;
            if (!inflight_has(w, rows[i].id) && w->qlen < QUEUE_MAX && w->n_inflight < QUEUE_MAX &&
                (d = malloc(sizeof *d))) {
                *d = rows[i];
                rows[i].body = NULL;     /* moved */
                w->queue[(w->qhead + w->qlen) % QUEUE_MAX] = d;
                w->qlen++;
                memcpy(w->inflight[w->n_inflight++], d->id, sizeof d->id);
                pthread_cond_signal(&w->work);
            }
        }
        if (n > 0) delivery_rows_free(rows, n);
        if (w->stop) break;
        /* Poll the outbox a few times a second: a new event or a due retry goes
         * out within this much; a finished delivery wakes us at once. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&w->wake, &w->lock, &until);
    }
    pthread_mutex_unlock(&w->lock);
    free(rows);
    return NULL;
}

webhooks *webhooks_start(const config *cfg, store *st, const char *callback_secret, char *err, size_t errlen)
{
    webhooks *w = calloc(1, sizeof *w);
    if (!w) { str_fmt(err, errlen, "out of memory"); return NULL; }
    w->cfg = cfg;
    w->st = st;
    str_copy(w->callback_secret, sizeof w->callback_secret, callback_secret);
    w->inflight = calloc(QUEUE_MAX, sizeof *w->inflight);
    w->workers = calloc((size_t)cfg->webhook_workers, sizeof *w->workers);
    if (!w->inflight || !w->workers) {
        free(w->inflight);
        free(w->workers);
        free(w);
        str_fmt(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->wake, NULL);
    for (int i = 0; i < cfg->webhook_workers; i++) {
        if (pthread_create(&w->workers[i], NULL, worker_main, w)) break;
        w->n_workers++;
    }
    if (w->n_workers == 0 || pthread_create(&w->dispatcher, NULL, dispatcher_main, w)) {
        str_fmt(err, errlen, "could not start the webhook threads");
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_broadcast(&w->work);
        pthread_mutex_unlock(&w->lock);
        for (int i = 0; i < w->n_workers; i++) pthread_join(w->workers[i], NULL);
        free(w->inflight);
        free(w->workers);
        free(w);
        return NULL;
    }
    return w;
}

void webhooks_stop(webhooks *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->dispatcher, NULL);
    for (int i = 0; i < w->n_workers; i++) pthread_join(w->workers[i], NULL);
    while (w->qlen > 0) {            /* queued, never sent: still pending in the store */
        delivery_row *d = w->queue[w->qhead];
        w->qhead = (w->qhead + 1) % QUEUE_MAX;
        w->qlen--;
        delivery_rows_free(d, 1);
        free(d);
    }
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w->inflight);
    free(w->workers);
    free(w);
}

void webhooks_counts(webhooks *w, uint64_t *delivered, uint64_t *failed, uint64_t *retried)
{
    pthread_mutex_lock(&w->lock);
    *delivered = w->delivered;
    *failed = w->failed;
    *retried = w->retried;
    pthread_mutex_unlock(&w->lock);
}
