/* api.h — the REST API: the route table and the handlers behind it. main.c builds
 * the parts (config, store, blobs, jobs), hands them here, and gives the routes
 * to the HTTP server. */
#ifndef FAXBOT_API_H
#define FAXBOT_API_H

#include "blob/blob.h"
#include "config/config.h"
#include "http/http.h"
#include "events/events.h"
#include "jobs/jobs.h"
#include "store/store.h"

typedef struct api_deps {
    const config *cfg;
    store *st;
    blob_store *blobs;
    jobs *jobs;
    const char *pepper;          /* server secret mixed into API key hashes */
    events *events;              /* webhooks and streams (NULL in tools without a server) */
} api_deps;

/* Sets up the API (rate limiter, metrics). Returns 0 or -1 with err. */
int api_init(const api_deps *deps, char *err, size_t errlen);
void api_shutdown(void);
/* The route table for http_server_start. */
const http_route *api_routes(int *n);
/* The MCP tools' operations in-process with every scope, for `faxbot mcp` on a
 * local data dir (api_init first). */
struct mcp_ops;
void api_mcp_local_ops(struct mcp_ops *ops);
/* Hook for http_server_opts.on_complete: request metrics. */
void api_on_request_complete(const http_request *req, int status, double seconds, void *ctx);

#endif
