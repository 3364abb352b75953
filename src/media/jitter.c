/* jitter.c — fixed-delay playout buffer (jitter.h): a ring of samples indexed by RTP
 * timestamp modulo its capacity, with a flag per sample saying it arrived. */
#include "media/jitter.h"

#include <string.h>

#define MASK (JITTER_CAPACITY - 1)

void jitter_init(jitter_buf *j, int delay_samples)
{
    memset(j, 0, sizeof(*j));
    if (delay_samples <= 0)
        delay_samples = JITTER_DEFAULT_DELAY;
    if (delay_samples > JITTER_CAPACITY / 2)
        delay_samples = JITTER_CAPACITY / 2;
    j->delay = delay_samples;
}

static void restart(jitter_buf *j, uint32_t ssrc, uint32_t ts)
{
    memset(j->have, 0, sizeof(j->have));
    j->ssrc = ssrc;
    j->read_ts = ts - (uint32_t)j->delay;
    j->first_ts = ts;
    j->started = true;
}

jitter_put_result jitter_put(jitter_buf *j, uint32_t ssrc, uint32_t ts, const int16_t *pcm, size_t n)
{
    jitter_put_result res = JITTER_STORED;
    if (n > JITTER_CAPACITY / 2)
        n = JITTER_CAPACITY / 2;
    j->stats.packets++;
    if (!j->started) {
        restart(j, ssrc, ts);
    } else if (ssrc != j->ssrc) {
        j->stats.resyncs++;
        restart(j, ssrc, ts);
        res = JITTER_RESTARTED;
    }
    int64_t off = (int32_t)(ts - j->read_ts);
    if (off + (int64_t)n <= 0) {
        if (off < -(int64_t)JITTER_CAPACITY * 4) {      /* a wild jump back: restart */
            j->stats.resyncs++;
            restart(j, ssrc, ts);
            off = j->delay;
            res = JITTER_RESTARTED;
        } else {
            j->stats.late++;
            return JITTER_LATE;
        }
    } else if (off + (int64_t)n > JITTER_CAPACITY) {
        /* further ahead than the ring holds: the far end jumped; play it at our delay */
        j->stats.too_far++;
        j->stats.resyncs++;
        restart(j, ssrc, ts);
        off = j->delay;
        res = JITTER_RESTARTED;
    }
    size_t skip = off < 0 ? (size_t)-off : 0;   /* the part already played is dropped */
    for (size_t i = skip; i < n; i++) {
        uint32_t idx = (j->read_ts + (uint32_t)off + (uint32_t)i) & MASK;
        j->pcm[idx] = pcm[i];
        j->have[idx] = 1;
    }
    return res;
}

size_t jitter_get(jitter_buf *j, int16_t *out, size_t n)
{
    if (!j->started) {
        memset(out, 0, n * sizeof(*out));
        return 0;
    }
    size_t gap = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t idx = (j->read_ts + (uint32_t)i) & MASK;
        if (j->have[idx]) {
            out[i] = j->pcm[idx];
            j->have[idx] = 0;
        } else {
            out[i] = 0;
            if ((int32_t)(j->read_ts + (uint32_t)i - j->first_ts) >= 0)
                gap++;
        }
    }
    j->stats.samples_played += n;
    j->stats.samples_concealed += gap;
    j->read_ts += (uint32_t)n;
    return gap;
}
