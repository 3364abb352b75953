/* log_tap.h — the last LOG_TAP_SIZE log lines and audit events kept in memory,
 * numbered in order, with phone-number-like digit runs masked, for the Admin
 * Console's live Logs page (GET /admin/logs/stream reads it; see
 * events/log_feed.h). Writers copy one line under a short lock and never wait for
 * readers; a reader that falls LOG_TAP_SIZE lines behind misses the oldest. */
#ifndef FAXBOT_LOG_TAP_H
#define FAXBOT_LOG_TAP_H

#include <stddef.h>
#include <stdint.h>

#define LOG_TAP_SIZE 400
#define LOG_TAP_TEXT 1536

typedef struct log_tap_entry {
    int64_t seq;                 /* 1, 2, … since the process started */
    int64_t ts_ms;
    char source[8];              /* "log" (a log line) or "audit" (a JSON audit event) */
    char level[8];               /* debug, info, warn, error */
    char text[LOG_TAP_TEXT];     /* cut at LOG_TAP_TEXT - 1 bytes */
} log_tap_entry;

void log_tap_push(const char *source, const char *level, const char *text);
/* Copies up to max entries with seq > after, oldest first; returns how many. */
int log_tap_read(int64_t after, log_tap_entry *out, int max);
/* The newest entry's seq (0 = none yet). */
int64_t log_tap_last_seq(void);
/* Copies in to out with every run of 7 or more digits that is not part of a word
 * (an id, a hash) masked but its last 4: "+15551234567" -> "+*******4567". */
void log_tap_mask_numbers(const char *in, char *out, size_t outlen);

#endif
