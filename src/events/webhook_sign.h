/* webhook_sign.h — Standard Webhooks signatures (https://www.standardwebhooks.com/):
 * webhook-signature = "v1," + base64(HMAC-SHA256(key, id "." timestamp "." body)),
 * where the key is the base64 after "whsec_" in the secret. Pure functions. */
#ifndef FAXBOT_WEBHOOK_SIGN_H
#define FAXBOT_WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* A new secret: "whsec_" + base64 of 32 random bytes. 0 or -1 (no randomness). */
int webhook_secret_new(char out[80]);
/* The HMAC key of a secret: base64-decoded after "whsec_", else the secret's bytes
 * as they are. Returns the key length, or -1 if it does not fit in keymax. */
int webhook_secret_key(const char *secret, unsigned char *key, size_t keymax);
/* "v1,<base64>" for (id, timestamp, body) under secret. 0 or -1. */
int webhook_sign(const char *secret, const char *id, int64_t timestamp, const char *body, size_t body_len,
                 char out[64]);

#endif
