/* events.h — what the gateway tells its clients about jobs and inbound faxes.
 * Every event is a row in the store's outbox, written in the transaction of the
 * change it describes (see job_transition and inbound_store_file). This module
 * carries those rows out:
 *   webhooks: signed deliveries to callback_url and to admin-registered endpoints,
 *             retried with backoff, in order per job and destination;
 *   the hub:  Server-Sent Events for GET /events, one shared reader of the outbox
 *             fanning out to every open stream.
 * It sits beside jobs/ (DESIGN.md): it reads the store, never writes a job. */
#ifndef FAXBOT_EVENTS_H
#define FAXBOT_EVENTS_H

#include "config/config.h"
#include "http/http.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct events events;

/* The event types a client may ask for, NULL-terminated. */
extern const char *const events_types[];
bool events_type_known(const char *type);

/* Starts the webhook dispatcher and the stream hub. callback_secret signs
 * deliveries to jobs' callback_url. NULL with err on failure. */
events *events_start(const config *cfg, store *st, const char *callback_secret, char *err, size_t errlen);
void events_stop(events *e);

/* Which events a stream gets: bit per family. */
enum { EVENTS_FAX = 1, EVENTS_INBOUND = 2 };

/* Hands a new stream to the hub. after_seq: send every event after this one
 * first (Last-Event-ID), or -1 for live events only. owner: only that owner's
 * jobs and inbound faxes (and inbound faxes routed to nobody); NULL = every
 * owner's. Takes the caller's reference of s. -1 (and the stream closed) if the
 * hub is full. */
int events_stream_add(events *e, http_stream *s, int64_t after_seq, unsigned families, const char *owner);
/* False when SSE_MAX_STREAMS streams are open (answer 503 instead of streaming). */
bool events_stream_has_room(events *e);
int events_stream_count(events *e);

/* The live log stream (GET /admin/logs/stream, events/log_feed.h): room for one
 * more, and handing a stream over (entries after after_seq first). */
bool events_log_has_room(events *e);
int events_log_stream_add(events *e, http_stream *s, int64_t after_seq);

typedef struct events_stats {
    uint64_t delivered, failed, retried;   /* webhook attempts' outcomes since start */
    int streams;
} events_stats;
void events_get_stats(events *e, events_stats *out);

/* The secret that signs callback_url deliveries: WEBHOOK_SECRET, else one made at
 * first start and kept in <data_dir>/webhook-secret (0600). 0 or -1 with err. */
int events_callback_secret(const config *cfg, char out[128], char *err, size_t errlen);

#endif
