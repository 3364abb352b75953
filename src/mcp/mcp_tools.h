/* mcp_tools.h — the fax tools and resources an assistant sees (Faxbot's names and
 * arguments: send_fax, get_fax_status, get_fax, list_inbound, get_inbound_pdf, plus
 * list_faxes and cancel_fax), each with input and output schemas. */
#ifndef FAXBOT_MCP_TOOLS_H
#define FAXBOT_MCP_TOOLS_H

#include "mcp/mcp_server.h"

/* The tools/list "tools" array. */
json_t *mcp_tools_list(void);
/* Runs a tool. The CallToolResult (failures of the call itself carry isError), or
 * NULL with *code and msg for a protocol error (unknown tool, arguments not an object). */
json_t *mcp_tool_call(const char *name, const json_t *args, const json_t *progress_token, const mcp_call_ctx *cx,
                      int *code, char *msg, size_t msglen);
/* resources/list, resources/templates/list, resources/read */
json_t *mcp_resources_list(const mcp_call_ctx *cx);
json_t *mcp_resource_templates(void);
json_t *mcp_resource_read(const char *uri, const mcp_call_ctx *cx, int *code, char *msg, size_t msglen);

#endif
