/* mcp_jwt.h — OAuth 2.1 bearer tokens for the remote MCP transports: JWTs signed
 * RS256 or ES256, checked for signature (key by kid from a JWKS), exp, nbf, iss
 * and aud. The JWKS is fetched from a URL, cached, and fetched again when a token
 * names a kid the cache does not know (at most every few seconds). */
#ifndef FAXBOT_MCP_JWT_H
#define FAXBOT_MCP_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mcp_jwks mcp_jwks;

typedef struct mcp_jwt_claims {
    char sub[128];
    char scope[512];             /* "scope" (space separated) or "scp" (array), joined by ',' */
    char kid[128];
} mcp_jwt_claims;

mcp_jwks *mcp_jwks_new(const char *url, int ttl_s);
void mcp_jwks_free(mcp_jwks *ks);
/* Replaces the cached keys with those of a JWKS document (JSON). Returns how many
 * usable keys it held, or -1 if it is not a JWKS. Used by the fetch; exposed for tests. */
int mcp_jwks_load(mcp_jwks *ks, const char *json, size_t len);

/* 0 when the token is valid now (now_s: seconds since the epoch); else -1 with why. */
int mcp_jwt_verify(mcp_jwks *ks, const char *token, const char *issuer, const char *audience, int64_t now_s,
                   mcp_jwt_claims *out, char *why, size_t whylen);

#endif
