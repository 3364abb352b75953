/* record_json.h — stored records as the API shows them (JSON). One view per
 * record, shared by the REST handlers and the events written to the outbox, so a
 * webhook or an SSE event carries exactly what GET /fax/{id} would. */
#ifndef FAXBOT_RECORD_JSON_H
#define FAXBOT_RECORD_JSON_H

#include "store/store.h"

#include <jansson.h>

/* ISO-8601 UTC text, or JSON null for 0. */
json_t *record_time_json(int64_t ms);
/* A job as GET /fax/{id} shows it (new reference). */
json_t *record_job_json(const job_record *r);
/* An inbound fax as GET /inbound/{id} shows it, without the tokenized PDF URL. */
json_t *record_inbound_json(const inbound_record *r);

/* An event for the outbox: the envelope {id, type, timestamp, data, ...extra}
 * (Standard Webhooks' payload shape) of data (stolen); extra's keys (stolen, may be
 * NULL) are added to the envelope. Fills ev's id, type, created_at and body
 * (*body malloc'd, the caller frees it; ev->body points to it). 0 or -1. */
int record_event_make(store_event *ev, char id[40], char **body, const char *type, json_t *data, json_t *extra,
                      int64_t now);

#endif
