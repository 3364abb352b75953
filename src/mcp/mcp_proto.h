/* mcp_proto.h — the pure part of the Model Context Protocol: JSON-RPC 2.0 message
 * parsing and building, the protocol revisions we speak and how one is chosen.
 * No I/O and no state: every transport (stdio, Streamable HTTP, legacy SSE) and
 * the fuzz target go through these functions. */
#ifndef FAXBOT_MCP_PROTO_H
#define FAXBOT_MCP_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* JSON-RPC error codes, and MCP's own */
#define MCP_ERR_PARSE -32700
#define MCP_ERR_INVALID_REQUEST -32600
#define MCP_ERR_METHOD_NOT_FOUND -32601
#define MCP_ERR_INVALID_PARAMS -32602
#define MCP_ERR_INTERNAL -32603
#define MCP_ERR_RESOURCE_NOT_FOUND -32002
#define MCP_ERR_UNSUPPORTED_VERSION -32022

/* The newest revision (stateless: no initialize, every request carries _meta)
 * and the newest one of the initialize/session era. */
#define MCP_VERSION_LATEST "2026-07-28"
#define MCP_VERSION_LATEST_LEGACY "2025-11-25"
/* What a Streamable HTTP server assumes when a request has no MCP-Protocol-Version. */
#define MCP_VERSION_HTTP_DEFAULT "2025-03-26"

/* _meta keys of the stateless revision */
#define MCP_META_VERSION "io.modelcontextprotocol/protocolVersion"
#define MCP_META_CLIENT_CAPS "io.modelcontextprotocol/clientCapabilities"
#define MCP_META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define MCP_META_SERVER_INFO "io.modelcontextprotocol/serverInfo"

typedef enum { MCP_MSG_REQUEST, MCP_MSG_NOTIFICATION, MCP_MSG_RESPONSE } mcp_msg_kind;

typedef struct mcp_message {
    mcp_msg_kind kind;
    json_t *root;                /* owned */
    json_t *id;                  /* borrowed: string or integer; NULL for notifications */
    const char *method;          /* borrowed; NULL for responses */
    json_t *params;              /* borrowed: an object, or NULL */
} mcp_message;

/* Parses one JSON-RPC message of len bytes. Returns 0, or -1 with *code and msg
 * set for the error answer; *err_id then holds the request's id if one could be
 * read (a new reference, else NULL: the answer's id is null). */
int mcp_parse(const char *text, size_t len, mcp_message *out, int *code, char *msg, size_t msglen, json_t **err_id);
void mcp_message_free(mcp_message *m);

/* Protocol revisions, newest first, NULL-terminated. */
extern const char *const mcp_versions[];
bool mcp_version_known(const char *v);
/* True for revisions without initialize and sessions (2026-07-28 and later). */
bool mcp_version_stateless(const char *v);
/* The answer to initialize's protocolVersion: the same revision when we speak it
 * and it has an initialize, else our newest one that has. */
const char *mcp_negotiate(const char *requested);
/* A JSON array of every revision (for errors and server/discover). */
json_t *mcp_versions_json(void);

/* The stateless revision's request _meta. has_version is false when the request
 * carries no protocol version there (then it is a legacy-era request). */
typedef struct mcp_meta {
    bool has_version;
    const char *version;         /* borrowed */
    json_t *client_caps;         /* borrowed, NULL if absent */
    json_t *progress_token;      /* borrowed: string or integer, NULL if absent */
} mcp_meta;
void mcp_meta_read(const json_t *params, mcp_meta *out);

/* Message builders; each steals the json_t arguments it is given (id is copied). */
json_t *mcp_result(const json_t *id, json_t *result);
json_t *mcp_error(const json_t *id, int code, const char *msg, json_t *data);
json_t *mcp_notification(const char *method, json_t *params);
/* The -32022 error for an unsupported revision. */
json_t *mcp_error_unsupported_version(const json_t *id, const char *requested);
/* Compact JSON on one line (no raw newlines: stdio frames by line). malloc'd. */
char *mcp_dump(const json_t *msg);

/* Base64 (standard alphabet, padding optional, whitespace ignored) into a malloc'd
 * buffer; -1 on bad input or when the result would exceed max bytes. */
int mcp_base64_decode(const char *in, size_t inlen, size_t max, unsigned char **out, size_t *outlen);

#endif
