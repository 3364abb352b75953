/* mcp_stdio.h — MCP over stdio: newline-delimited JSON-RPC on stdin/stdout,
 * nothing but MCP messages on stdout (logs go to stderr); ends when stdin closes. */
#ifndef FAXBOT_MCP_STDIO_H
#define FAXBOT_MCP_STDIO_H

#include "mcp/mcp_server.h"

#include <stdio.h>

/* Serves one client until in reaches EOF. max_line caps one message. Returns 0. */
int mcp_stdio_run(const mcp_ops *ops, const mcp_limits *limits, FILE *in, FILE *out, size_t max_line);

#endif
