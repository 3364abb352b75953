/* sigv4.h — AWS Signature Version 4, as pure functions over a request's parts: the
 * canonical request, the string to sign, the signing key, the Authorization header
 * and presigned URLs. The S3 client (s3_client.c) signs every request with it;
 * it is tested against AWS's published examples (tests/unit/store/test_sigv4.c).
 * Nothing here does I/O or logs: secrets never leave through it. */
#ifndef FAXBOT_SIGV4_H
#define FAXBOT_SIGV4_H

#include <stddef.h>

typedef struct sigv4_pair {
    const char *name;
    const char *value;
} sigv4_pair;

typedef struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;   /* NULL or "" = none (else sent as X-Amz-Security-Token) */
} sigv4_credentials;

typedef struct sigv4_request {
    const char *method;          /* GET, PUT, … */
    const char *path;            /* the object path, not yet encoded ("/photos/a b.jpg"); encoded once, '/' kept */
    const sigv4_pair *query;     /* raw names and values (encoded and sorted by the signer) */
    int n_query;
    const sigv4_pair *headers;   /* every header to sign, host included (names any case) */
    int n_headers;
    const char *payload_sha256;  /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *region;          /* us-east-1 */
    const char *service;         /* s3 */
    const char *amz_date;        /* 20130524T000000Z (the x-amz-date header, if signed, must agree) */
} sigv4_request;

/* The canonical request (malloc'd; NULL when out of memory). */
char *sigv4_canonical_request(const sigv4_request *r);
/* Fills sig (64 hex + NUL) with the request's signature; 0, or -1 on bad input. */
int sigv4_signature(const sigv4_request *r, const sigv4_credentials *c, char sig[65]);
/* The Authorization header's value: "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
 * Signature=…". 0, or -1 (bad input or out too small). */
int sigv4_authorization(const sigv4_request *r, const sigv4_credentials *c, char *out, size_t outlen);
/* A presigned URL base_url + path + "?" + query with X-Amz-Algorithm, -Credential,
 * -Date, -Expires, -SignedHeaders (host) and -Signature; r->headers must hold host
 * only, r->payload_sha256 is taken as UNSIGNED-PAYLOAD. 0, or -1. */
int sigv4_presign(const sigv4_request *r, const sigv4_credentials *c, int expires_s, const char *base_url, char *out,
                  size_t outlen);
/* URI-encodes s as SigV4 wants (unreserved kept; '/' kept when keep_slash) into out. */
int sigv4_uri_encode(const char *s, int keep_slash, char *out, size_t outlen);

#endif
