/* mcp_ops.h — what the MCP tools need from a fax gateway, as a table of
 * operations. Two implementations: in-process against the store and jobs with the
 * caller's identity and scopes (api/api_mcp.c), and REST calls to a gateway with
 * FAXBOT_URL + FAXBOT_API_KEY (mcp_rest.c). Each answers like the REST API would:
 * an HTTP status, the API's JSON, and on failure the API's message in detail. */
#ifndef FAXBOT_MCP_OPS_H
#define FAXBOT_MCP_OPS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mcp_reply {
    int status;                  /* 200/202 = ok; 4xx/5xx = failed, detail says why */
    json_t *json;                /* the API's JSON for the thing asked (owned) */
    char *data;                  /* bytes (an inbound PDF), malloc'd */
    size_t len;
    char next_cursor[128];       /* list calls: "" when there is no next page */
    char detail[512];
} mcp_reply;

void mcp_reply_free(mcp_reply *r);
/* Sets status and a printf detail. */
void mcp_reply_fail(mcp_reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef struct mcp_ops {
    void *ctx;
    /* path: a file on this machine to fax (read, not moved); file_name for display */
    void (*send_fax)(void *ctx, const char *to, const char *path, const char *file_name, mcp_reply *r);
    void (*get_fax)(void *ctx, const char *id, mcp_reply *r);
    void (*get_inbound)(void *ctx, const char *id, mcp_reply *r);
    void (*list_faxes)(void *ctx, int limit, const char *cursor, const char *status, mcp_reply *r);
    void (*list_inbound)(void *ctx, int limit, const char *cursor, mcp_reply *r);
    void (*inbound_pdf)(void *ctx, const char *id, int64_t max_bytes, mcp_reply *r);
    void (*cancel_fax)(void *ctx, const char *id, mcp_reply *r);
} mcp_ops;

#endif
