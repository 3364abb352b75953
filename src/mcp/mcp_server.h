/* mcp_server.h — one MCP conversation: answers JSON-RPC requests (initialize or
 * the stateless _meta form, tools, resources, ping, server/discover) over a
 * mcp_ops table. The transports own the bytes; this owns the meaning. */
#ifndef FAXBOT_MCP_SERVER_H
#define FAXBOT_MCP_SERVER_H

#include "mcp/mcp_ops.h"
#include "mcp/mcp_proto.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct mcp_limits {
    int64_t max_file_bytes;      /* the API's upload limit (MAX_FILE_SIZE_MB) */
    int send_wait_s;             /* send_fax with a progress token waits this long for the outcome */
    const char *tmp_dir;         /* where decoded or fetched documents wait to be sent */
    bool allow_file_path;        /* send_fax's filePath: stdio only */
    bool allow_private_urls;     /* fileUrl to private addresses (only for tests of the fetch) */
    const _Atomic bool *stopping; /* set when the server stops: waits end early */
} mcp_limits;

/* A legacy-era conversation's state (initialize → notifications/initialized). */
typedef struct mcp_session {
    char version[16];            /* negotiated; "" before initialize */
    bool initialized;
    char client_name[64];
} mcp_session;

/* Sends a notification (progress) to the client; takes the reference. -1 when
 * the client is gone (a waiting tool then stops). */
typedef int (*mcp_emit_fn)(void *emit_ctx, json_t *notification);

typedef struct mcp_call_ctx {
    const mcp_ops *ops;
    const mcp_limits *limits;
    mcp_emit_fn emit;            /* NULL: the transport cannot send notifications now */
    void *emit_ctx;
    const char *transport;       /* "stdio", "http", "sse": for metrics and the audit log */
    const char *principal;       /* who is calling (key id), for the audit log */
    const char *header_version;  /* HTTP: MCP-Protocol-Version as sent, else NULL */
} mcp_call_ctx;

/* Answers one message: the response to send (NULL for notifications and responses). */
json_t *mcp_handle(mcp_session *s, const mcp_message *m, const mcp_call_ctx *cx);
/* True when answering m may take long (a send_fax whose client asked for progress),
 * so a transport should answer it from its own thread with a stream. */
bool mcp_is_long_call(const mcp_message *m);
/* Parses and answers raw bytes (stdio lines, HTTP bodies): the response to send
 * or NULL. *parsed tells whether the bytes were a valid message. */
json_t *mcp_handle_text(mcp_session *s, const char *text, size_t len, const mcp_call_ctx *cx);

/* Counters for /metrics: requests by method class, tool calls by outcome. */
typedef struct mcp_stats {
    _Atomic uint64_t requests, notifications, errors;
    _Atomic uint64_t tool_calls, tool_errors;
    _Atomic uint64_t by_transport[3];   /* stdio, http, sse */
} mcp_stats;
extern mcp_stats g_mcp_stats;
struct strbuf;
void mcp_metrics(struct strbuf *sb);

#endif
