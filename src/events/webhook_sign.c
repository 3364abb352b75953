/* webhook_sign.c — Standard Webhooks signing (see webhook_sign.h). */
#include "events/webhook_sign.h"
#include "util/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int webhook_secret_new(char out[80])
{
    unsigned char raw[32];
    if (random_bytes(raw, sizeof raw)) return -1;
    memcpy(out, "whsec_", 6);
    base64_encode(raw, sizeof raw, out + 6);
    return 0;
}

int webhook_secret_key(const char *secret, unsigned char *key, size_t keymax)
{
    size_t len = strlen(secret);
    if (!strncmp(secret, "whsec_", 6)) {
        const char *b64 = secret + 6;
        size_t blen = len - 6;
        if (blen == 0 || blen % 4 || (blen / 4) * 3 > keymax) return -1;
        int n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)blen);
        if (n < 0) return -1;
        if (blen >= 1 && b64[blen - 1] == '=') n--;    /* EVP_DecodeBlock counts the padding */
        if (blen >= 2 && b64[blen - 2] == '=') n--;
        return n;
    }
    if (len > keymax) return -1;
    memcpy(key, secret, len);
    return (int)len;
}

int webhook_sign(const char *secret, const char *id, int64_t timestamp, const char *body, size_t body_len,
                 char out[64])
{
    unsigned char key[128], mac[EVP_MAX_MD_SIZE];
    int klen = webhook_secret_key(secret, key, sizeof key);
    if (klen < 0) return -1;
    char head[96];
    int hl = snprintf(head, sizeof head, "%s.%lld.", id, (long long)timestamp);
    if (hl < 0 || hl >= (int)sizeof head) return -1;
    char *msg = malloc((size_t)hl + body_len + 1);
    if (!msg) return -1;
    memcpy(msg, head, (size_t)hl);
    if (body_len) memcpy(msg + hl, body, body_len);
    unsigned int mlen = 0;
    unsigned char *ok = HMAC(EVP_sha256(), key, klen, (const unsigned char *)msg, (size_t)hl + body_len, mac, &mlen);
    free(msg);
    if (!ok) return -1;
    memcpy(out, "v1,", 3);
    base64_encode(mac, mlen, out + 3);
    return 0;
}
