/* log_feed.h — the live stream behind GET /admin/logs/stream: one thread hands the
 * gateway's log lines and audit events (util/log_tap.h) to every open stream as
 * Server-Sent Events ("id: <seq>", "event: log", "data: <json>"), a few times a
 * second, so the console's Logs page needs no polling. Each entry's JSON:
 * {seq, ts, source: "gateway" | "pbx" (Asterisk, FreeSWITCH, AMI, SIP lines) |
 * "audit", level, message, and for audit events event and fields}. */
#ifndef FAXBOT_LOG_FEED_H
#define FAXBOT_LOG_FEED_H

#include "http/http.h"
#include "util/log_tap.h"

#include <stdbool.h>
#include <stdint.h>

#define LOG_FEED_MAX_STREAMS 8

typedef struct log_feed log_feed;

/* heartbeat_s: a comment line on idle streams this often. NULL if no thread. */
log_feed *log_feed_start(int heartbeat_s);
void log_feed_stop(log_feed *f);
/* Hands a stream over (the feed takes the caller's reference): entries after
 * after_seq first (those still held), then live ones. -1 (stream closed) when
 * LOG_FEED_MAX_STREAMS are open. */
int log_feed_add(log_feed *f, http_stream *s, int64_t after_seq);
bool log_feed_has_room(log_feed *f);
/* One entry as the stream's JSON (malloc'd string), also for tests. */
char *log_feed_entry_json(const log_tap_entry *e);

#endif
