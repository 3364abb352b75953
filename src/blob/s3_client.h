/* s3_client.h — a small S3 client over libcurl, every request signed with AWS
 * Signature V4 (sigv4.h): put a file (streamed from disk, its SHA-256 signed so the
 * server checks the body), get an object into a file (streamed, renamed into place
 * only when complete), delete. Path-style against S3_ENDPOINT_URL (MinIO, Ceph, …),
 * virtual-hosted against AWS. The S3 storage behind blob.h (to come) is built on it.
 * Secrets are never logged or put in error texts. */
#ifndef FAXBOT_S3_CLIENT_H
#define FAXBOT_S3_CLIENT_H

#include <stddef.h>

enum { S3_OK = 0, S3_NOT_FOUND = 1, S3_ERROR = -1 };

typedef struct s3_settings {
    const char *endpoint_url;    /* "" or NULL = AWS (https://<bucket>.s3.<region>.amazonaws.com) */
    const char *bucket;
    const char *region;          /* default us-east-1 */
    const char *prefix;          /* prepended to every key ("" = none) */
    const char *kms_key_id;      /* "" = none; else x-amz-server-side-encryption: aws:kms with this key */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;   /* "" = none */
} s3_settings;

typedef struct s3_client s3_client;

s3_client *s3_open(const s3_settings *s, char *err, size_t errlen);
void s3_close(s3_client *c);
/* Stores the file at path as key; S3_OK only once S3 said it is stored. */
int s3_put_file(s3_client *c, const char *key, const char *path, char *err, size_t errlen);
/* Fetches key into path (a temp file renamed into place when whole); S3_NOT_FOUND if none. */
int s3_get_file(s3_client *c, const char *key, const char *path, char *err, size_t errlen);
/* S3_OK also when there was no such object (S3's DELETE is idempotent). */
int s3_delete(s3_client *c, const char *key, char *err, size_t errlen);
/* Calls each(ctx, key) for every object whose key starts with prefix (keys without
 * S3_PREFIX, in S3's order), following ListObjectsV2 pages; a non-zero answer from
 * each stops it and is returned. S3_OK, or S3_ERROR with err. */
int s3_list(s3_client *c, const char *prefix, int (*each)(void *ctx, const char *key), void *ctx, char *err,
            size_t errlen);

#endif
