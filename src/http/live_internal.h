/* live_internal.h — what server.c needs of live.c: turning a live response into a
 * libmicrohttpd response, and closing every open one before the daemon stops
 * (libmicrohttpd must not be stopped with suspended connections). */
#ifndef FAXBOT_HTTP_LIVE_INTERNAL_H
#define FAXBOT_HTTP_LIVE_INTERNAL_H

#include "http/http.h"

#include <pthread.h>

struct MHD_Response;
struct MHD_Connection;

typedef struct http_live_registry {
    pthread_mutex_t lock;
    http_live *head;
} http_live_registry;

struct MHD_Response *http_live_response(http_live *s, struct MHD_Connection *conn, http_live_registry *reg);
/* The response never got queued: drop its reference. */
void http_live_discard(http_live *s);
/* Closes (and wakes) every open live response; returns how many. */
int http_lives_close_all(http_live_registry *reg);

#endif
