/* api_mcp.h — the MCP server inside the gateway (api layer side): the caller of an
 * MCP request and the in-process tool operations bound to it (api_mcp_ops.c), and
 * the HTTP transports with their auth (api_mcp.c). */
#ifndef FAXBOT_API_MCP_H
#define FAXBOT_API_MCP_H

#include "api/api_internal.h"
#include "mcp/mcp_ops.h"

typedef struct api_mcp_caller {
    principal who;
} api_mcp_caller;

/* The tool operations for one caller (ops->ctx = caller, which must outlive ops). */
void api_mcp_ops_for(api_mcp_caller *caller, mcp_ops *ops);

/* Sets up the HTTP transports (JWKS cache, SSE sessions and their housekeeping). */
int api_mcp_init(char *err, size_t errlen);
void api_mcp_stop(void);

#endif
