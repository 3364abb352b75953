/* sse_hub.h — the fan-out behind GET /events. One thread reads new events from
 * the outbox a few times a second, formats each once as an SSE message
 * ("id: <seq>", "event: <type>", "data: <json>") and queues it on every stream
 * whose filter takes it. A stream that resumes (Last-Event-ID) is first fed from
 * the outbox, in order, until it has caught up; then it gets live events. Idle
 * streams get a comment line as a heartbeat; a stream whose reader falls more
 * than SSE_MAX_BUFFER_KB behind is closed. */
#ifndef FAXBOT_SSE_HUB_H
#define FAXBOT_SSE_HUB_H

#include "config/config.h"
#include "http/http.h"
#include "store/store.h"

typedef struct sse_hub sse_hub;

sse_hub *sse_hub_start(const config *cfg, store *st, char *err, size_t errlen);
void sse_hub_stop(sse_hub *h);
/* See events_stream_add. */
int sse_hub_add(sse_hub *h, http_stream *s, int64_t after_seq, unsigned families, const char *owner);
int sse_hub_count(sse_hub *h);

#endif
