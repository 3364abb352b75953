/* s3_client.h — a small S3 client over libcurl, every request signed with AWS
 * Signature V4 (sigv4.h): put a file (streamed from disk, its SHA-256 signed so the
 * server checks the body; a large file goes up as a multipart upload, part by part,
 * each part's SHA-256 and MD5 checked by the server and its ETag by us), get an
 * object into a file (streamed, renamed into place only when complete), delete,
 * presign a GET, and probe the bucket (write, read back, delete). Path-style
 * against S3_ENDPOINT_URL (MinIO, Ceph, …), virtual-hosted against AWS.
 * Secrets are never logged or put in error texts. */
#ifndef FAXBOT_S3_CLIENT_H
#define FAXBOT_S3_CLIENT_H

#include <stddef.h>

enum { S3_OK = 0, S3_NOT_FOUND = 1, S3_ERROR = -1 };

/* S3 refuses parts under 5 MiB (but the last); at most 10,000 parts. */
#define S3_MIN_PART_SIZE (5LL << 20)
#define S3_DEFAULT_PART_SIZE (8LL << 20)

typedef struct s3_settings {
    const char *endpoint_url;    /* "" or NULL = AWS (https://<bucket>.s3.<region>.amazonaws.com) */
    const char *bucket;
    const char *region;          /* default us-east-1 */
    const char *prefix;          /* prepended to every key ("" = none) */
    const char *kms_key_id;      /* "" = none; else x-amz-server-side-encryption: aws:kms with this key */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;   /* "" = none */
    long long multipart_threshold; /* files of at least this many bytes go up in parts (0 = S3_DEFAULT_PART_SIZE) */
    long long part_size;         /* bytes per part (0 = S3_DEFAULT_PART_SIZE; at least S3_MIN_PART_SIZE) */
} s3_settings;

typedef struct s3_client s3_client;

s3_client *s3_open(const s3_settings *s, char *err, size_t errlen);
void s3_close(s3_client *c);
/* Stores the file at path as key; S3_OK only once S3 said it is stored (and, for a
 * multipart upload, the parts' ETags matched what was sent). A failed multipart
 * upload is aborted. */
int s3_put_file(s3_client *c, const char *key, const char *path, char *err, size_t errlen);
/* Fetches key into path (a temp file renamed into place when whole); S3_NOT_FOUND if none. */
int s3_get_file(s3_client *c, const char *key, const char *path, char *err, size_t errlen);
/* S3_OK also when there was no such object (S3's DELETE is idempotent). */
int s3_delete(s3_client *c, const char *key, char *err, size_t errlen);
/* HEAD: the object's size and ETag (quoted, as S3 gives it); S3_NOT_FOUND if none. */
int s3_stat(s3_client *c, const char *key, long long *size, char *etag, size_t etaglen, char *err, size_t errlen);
/* A presigned GET URL of key valid for expires_s seconds; an extra query parameter
 * (qname=qvalue, signed with the rest; NULL = none) may mark it. 0, or -1. */
int s3_presign_get(s3_client *c, const char *key, const char *qname, const char *qvalue, int expires_s, char *out,
                   size_t outlen);
/* Writes a small probe object under <prefix>.faxbot-probe/, reads it back and deletes
 * it. 0, or -1 with err naming bucket, endpoint, S3's error code and what to do;
 * code gets S3's error code alone ("" when the failure was not S3's answer). */
int s3_probe(s3_client *c, char *code, size_t codelen, char *err, size_t errlen);
/* Calls each(ctx, key) for every object whose key starts with prefix (keys without
 * S3_PREFIX, in S3's order), following ListObjectsV2 pages; a non-zero answer from
 * each stops it and is returned. S3_OK, or S3_ERROR with err. */
int s3_list(s3_client *c, const char *prefix, int (*each)(void *ctx, const char *key), void *ctx, char *err,
            size_t errlen);
/* "bucket" or "bucket at endpoint": for messages. */
const char *s3_where(const s3_client *c);

#endif
