/* sip_digest.h — HTTP Digest authentication for SIP (RFC 2617, RFC 7616, RFC 3261
 * §22): reads a 401 WWW-Authenticate or 407 Proxy-Authenticate challenge and writes
 * the Authorization / Proxy-Authorization answer, with MD5 or SHA-256 (and their
 * -sess forms), qop=auth with nc and cnonce, or the RFC 2069 form without qop.
 * The password never leaves this module except hashed. */
#ifndef FAXBOT_SIP_DIGEST_H
#define FAXBOT_SIP_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/sip_msg.h"

typedef enum { SIP_DIGEST_MD5 = 0, SIP_DIGEST_SHA256 } sip_digest_alg;

typedef struct {
    sip_digest_alg alg;
    bool sess;            /* MD5-sess / SHA-256-sess */
    bool qop_auth;        /* the server offered qop=auth (we never use auth-int) */
    bool stale;           /* stale=true: the nonce expired, the password was right */
    bool proxy;           /* from a 407 (answer with Proxy-Authorization) */
    char realm[128];
    char nonce[256];
    char opaque[256];
} sip_digest_challenge;

/* Parses one challenge header value ("Digest realm=…, nonce=…"). 0 ok, -1 with a
 * reason (not Digest, unknown algorithm, qop without auth, missing nonce). */
int sip_digest_parse(const char *value, sip_digest_challenge *c, char *err, size_t errlen);

/* Picks the best challenge of a 401/407 response (SHA-256 before MD5). */
int sip_digest_from_response(const sip_msg *resp, sip_digest_challenge *c, char *err, size_t errlen);

/* The response hash (lowercase hex) for a challenge; qop=auth when c->qop_auth. */
int sip_digest_response(const sip_digest_challenge *c, const char *user, const char *password,
                        const char *method, const char *uri, uint32_t nc, const char *cnonce,
                        char *out, size_t outlen);

/* The whole Authorization (or Proxy-Authorization) header value. cnonce may be NULL
 * (a random one is made). 0 ok, -1 if a value would not fit or holds a quote/CRLF. */
int sip_digest_authorization(const sip_digest_challenge *c, const char *user, const char *password,
                             const char *method, const char *uri, uint32_t nc, const char *cnonce,
                             char *out, size_t outlen);

#endif
