/* sse_parse.h — a Server-Sent Events parser (the text/event-stream format), fed
 * bytes as they arrive; calls on_event for each complete event. Pure; used by
 * `faxbot events`. Lines end in LF, CRLF or CR; "id", "event" and "data" fields
 * are kept (several data lines join with LF), comments (":") are ignored. */
#ifndef FAXBOT_SSE_PARSE_H
#define FAXBOT_SSE_PARSE_H

#include "util/util.h"

#include <stddef.h>

typedef void (*sse_event_fn)(void *ctx, const char *id, const char *event, const char *data);

typedef struct sse_parser {
    strbuf line, data;
    char id[64], event[64], last_id[64];
    int has_data;
    int last_cr;                 /* the previous byte was CR: a following LF ends nothing */
    size_t max_event;            /* an event larger than this is dropped */
    sse_event_fn on_event;
    void *ctx;
} sse_parser;

void sse_parser_init(sse_parser *p, sse_event_fn fn, void *ctx);
void sse_parser_feed(sse_parser *p, const char *data, size_t len);
void sse_parser_free(sse_parser *p);

#endif
