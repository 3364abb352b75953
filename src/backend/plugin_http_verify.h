/* plugin_http_verify.h — how an http plugin checks that a webhook really comes from its
 * provider: HTTP Basic credentials, an HMAC (SHA-1/256/512, hex or base64) over the
 * raw body or over the URL + sorted form parameters, or an Ed25519 signature over
 * "<timestamp>|<body>"-style messages (Telnyx). Pure: bytes in, verdict out; the
 * keys arrive already rendered from the plugin's settings. */
#ifndef FAXBOT_HTTP_VERIFY_H
#define FAXBOT_HTTP_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { VERIFY_NONE = 0, VERIFY_BASIC, VERIFY_HMAC, VERIFY_ED25519 } verify_scheme;

typedef struct verify_spec {
    verify_scheme scheme;
    char algorithm[16];          /* hmac: sha1 | sha256 | sha512 */
    char encoding[16];           /* hmac, ed25519: hex | base64 */
    char over[16];               /* hmac: body | url_params */
    char header[64];             /* the signature header */
    char prefix[32];             /* stripped from the header value first ("sha256=") */
    char timestamp_header[64];   /* optional: its value becomes {timestamp} */
    char message[64];            /* ed25519/hmac with a timestamp: e.g. "{timestamp}|{body}" */
    long tolerance_s;            /* with a timestamp header: max age/skew in seconds (0 = unchecked) */
} verify_spec;

/* What one request offers to be checked. */
typedef struct verify_input {
    const char *body;
    size_t body_len;
    const char *url;             /* the URL the provider called (PUBLIC_API_URL + path + query) */
    const char *content_type;
    const char *signature;       /* the header value, or NULL */
    const char *timestamp;       /* the timestamp header value, or NULL */
    const char *authorization;   /* Authorization header, for basic */
    long long now_s;             /* wall clock, for the tolerance */
} verify_input;

/* key: the HMAC secret, the Ed25519 public key (base64 or hex of the 32 raw bytes,
 * or a PEM SubjectPublicKeyInfo), or "user:password" for basic.
 * true when the request is authentic; otherwise false with why (for the log and
 * the 401's detail: never the expected value). */
bool verify_request(const verify_spec *spec, const char *key, const verify_input *in, char *why, size_t whylen);

/* Signs like the provider would (tests, the dry run): for hmac the encoded MAC; not
 * available for ed25519 (needs the private key). 0 or -1. */
int verify_hmac_sign(const verify_spec *spec, const char *key, const verify_input *in, char *out, size_t outlen);

/* Checks a spec's fixed words; -1 with err naming the field (relative: "algorithm"). */
int verify_spec_check(const verify_spec *spec, char *err, size_t errlen);

/* Decodes an Ed25519 public key as verify_request accepts it; 0 or -1. */
int ed25519_public_key(const char *text, unsigned char raw[32]);

#endif
