/* jitter.h — the playout buffer of the audio fax path: samples are placed by their
 * RTP timestamp and played out at a fixed delay (fax modems need a steady clock, so
 * there is no time-stretching and no adaptive delay). A gap (lost or late packet) is
 * played as silence, and counted; a packet arriving after its time is dropped. A
 * timestamp jump (far end restarted, or a new SSRC) starts the buffer over at the
 * same fixed delay. Pure: the caller owns the clock (one jitter_get per tick). */
#ifndef FAXBOT_MEDIA_JITTER_H
#define FAXBOT_MEDIA_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JITTER_CAPACITY 4096        /* samples held (512 ms at 8 kHz), a power of two */
#define JITTER_DEFAULT_DELAY 480    /* 60 ms */

typedef struct jitter_stats {
    unsigned long packets, late, resyncs, too_far;
    unsigned long samples_played, samples_concealed;   /* concealed = gaps played as silence */
} jitter_stats;

typedef struct jitter_buf {
    int16_t pcm[JITTER_CAPACITY];
    uint8_t have[JITTER_CAPACITY];
    int delay;                      /* samples between a packet's arrival time and its play-out */
    bool started;
    uint32_t ssrc;
    uint32_t read_ts;               /* RTP timestamp of the next sample to play */
    uint32_t first_ts;              /* first sample of the stream (the delay before is not a gap) */
    jitter_stats stats;
} jitter_buf;

/* delay_samples: 0 = JITTER_DEFAULT_DELAY; at most JITTER_CAPACITY / 2. */
void jitter_init(jitter_buf *j, int delay_samples);

typedef enum { JITTER_STORED = 0, JITTER_LATE = 1, JITTER_RESTARTED = 2 } jitter_put_result;

/* Places n samples that start at RTP timestamp ts from source ssrc. */
jitter_put_result jitter_put(jitter_buf *j, uint32_t ssrc, uint32_t ts, const int16_t *pcm, size_t n);
/* Plays n samples (silence where nothing arrived, and before the first packet);
 * returns how many of them were such a gap after the stream began (0 = all real). */
size_t jitter_get(jitter_buf *j, int16_t *out, size_t n);

#endif
