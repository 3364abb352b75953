/* log_tap.c — the in-memory tail of log lines and audit events (see log_tap.h). */
#include "util/log_tap.h"
#include "util/util.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>

static log_tap_entry g_ring[LOG_TAP_SIZE];
static int64_t g_last;                     /* seq of the newest entry */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void log_tap_mask_numbers(const char *in, char *out, size_t outlen)
{
    if (!outlen) return;
    size_t o = 0, n = strlen(in);
    for (size_t i = 0; i < n && o + 1 < outlen;) {
        size_t run = 0;
        bool word_before = i > 0 && isalnum((unsigned char)in[i - 1]);
        while (i + run < n && isdigit((unsigned char)in[i + run])) run++;
        bool word_after = i + run < n && isalnum((unsigned char)in[i + run]);
        if (run >= 7 && !word_before && !word_after) {
            for (size_t k = 0; k < run && o + 1 < outlen; k++) out[o++] = k + 4 < run ? '*' : in[i + k];
            i += run;
        } else if (run) {
            for (size_t k = 0; k < run && o + 1 < outlen; k++) out[o++] = in[i + k];
            i += run;
        } else {
            out[o++] = in[i++];
        }
    }
    out[o] = 0;
}

void log_tap_push(const char *source, const char *level, const char *text)
{
    int64_t ts = now_ms();
    pthread_mutex_lock(&g_lock);
    log_tap_entry *e = &g_ring[g_last % LOG_TAP_SIZE];
    e->seq = ++g_last;
    e->ts_ms = ts;
    str_copy(e->source, sizeof e->source, source);
    str_copy(e->level, sizeof e->level, level);
    log_tap_mask_numbers(text ? text : "", e->text, sizeof e->text);
    pthread_mutex_unlock(&g_lock);
}

int log_tap_read(int64_t after, log_tap_entry *out, int max)
{
    pthread_mutex_lock(&g_lock);
    int64_t first = g_last - LOG_TAP_SIZE + 1;
    if (first < 1) first = 1;
    int64_t from = after + 1 > first ? after + 1 : first;
    int n = 0;
    for (int64_t s = from; s <= g_last && n < max; s++) out[n++] = g_ring[(s - 1) % LOG_TAP_SIZE];
    pthread_mutex_unlock(&g_lock);
    return n;
}

int64_t log_tap_last_seq(void)
{
    pthread_mutex_lock(&g_lock);
    int64_t s = g_last;
    pthread_mutex_unlock(&g_lock);
    return s;
}
