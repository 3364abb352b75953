/* stream_internal.h — what server.c needs of stream.c: turning a stream into a
 * libmicrohttpd response, and closing every open stream before the daemon stops
 * (libmicrohttpd must not be stopped with suspended connections). */
#ifndef FAXBOT_HTTP_STREAM_INTERNAL_H
#define FAXBOT_HTTP_STREAM_INTERNAL_H

#include "http/http.h"

#include <pthread.h>

struct MHD_Response;
struct MHD_Connection;

typedef struct http_stream_registry {
    pthread_mutex_t lock;
    http_stream *head;
} http_stream_registry;

struct MHD_Response *http_stream_response(http_stream *s, struct MHD_Connection *conn, http_stream_registry *reg);
/* The response never got queued: drop its reference. */
void http_stream_discard(http_stream *s);
/* Closes (and wakes) every open stream; returns how many. */
int http_streams_close_all(http_stream_registry *reg);

#endif
