/* apikey.h — API key tokens "fbk_live_<keyId>_<secret>": making them, parsing
 * them, hashing secrets for storage, and scope checks. Pure apart from the random
 * bytes used to make a new key. */
#ifndef FAXBOT_APIKEY_H
#define FAXBOT_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#define APIKEY_ID_LEN 12           /* hex chars */
#define APIKEY_SECRET_BYTES 32     /* random bytes → 43 chars of base64url */

typedef struct apikey_parts {
    char key_id[APIKEY_ID_LEN + 1];
    char secret[128];
} apikey_parts;

/* Parses a token: "fbk_live_" + 12 lowercase hex + "_" + base64url secret (>= 43 chars,
 * may itself contain '_' or '-'). Returns 0, or -1 if it is not such a token. */
int apikey_parse(const char *token, apikey_parts *out);

/* Makes a new token. token needs 128 bytes; key_id 13. If key_id_in is non-NULL the
 * new token keeps that id (rotation). Returns 0, or -1 if random bytes failed. */
int apikey_generate(const char *key_id_in, char *token, size_t token_len, char key_id[APIKEY_ID_LEN + 1],
                    char secret[128]);

/* HMAC-SHA256(pepper, secret) as hex (65 bytes). The secret has 256 bits of entropy,
 * so a fast keyed hash is right; the pepper keeps a stolen database useless alone. */
void apikey_hash(const char *pepper, const char *secret, char out[65]);

/* Scopes are a comma-separated list. Valid names: fax:send fax:read inbound:list
 * inbound:read keys:manage fax:all *. Returns 0 if every name is valid (normalizes spacing
 * into out), else -1 with the bad name in err. */
int apikey_scopes_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/* True if scope list grants `needed`. "*" grants every non-admin scope; only an
 * explicit "keys:manage" grants admin (as in Faxbot), and only an explicit
 * "fax:all" grants seeing and acting on other owners' jobs and inbound faxes. */
bool apikey_scopes_allow(const char *scopes, const char *needed);

#endif
