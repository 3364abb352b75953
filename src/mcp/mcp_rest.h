/* mcp_rest.h — the MCP tools' operations as REST calls to a running gateway
 * (FAXBOT_URL with FAXBOT_API_KEY): what `faxbot mcp` uses when given a URL. The
 * gateway enforces the key's scopes; its {"detail"} messages become tool errors. */
#ifndef FAXBOT_MCP_REST_H
#define FAXBOT_MCP_REST_H

#include "mcp/mcp_ops.h"

typedef struct mcp_rest {
    char base_url[1024];         /* without a trailing slash */
    char api_key[512];           /* "" = none */
} mcp_rest;

/* Fills ops to call the gateway at rest->base_url (rest must outlive ops). */
void mcp_rest_ops(mcp_rest *rest, mcp_ops *ops);

#endif
