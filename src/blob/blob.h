/* blob.h — where artifacts (uploads, PDFs, TIFFs) live. blob_fs.c keeps them
 * under FAX_DATA_DIR/<area>/<id>/<name>. With S3 (blob_s3_open) those files are a
 * local cache and the objects <S3_PREFIX><area>/<id>/<name> are the record: a
 * writer calls blob_commit once a file is whole (acknowledged only when stored), a
 * reader blob_fetch before it opens one (fetched when this node lacks it).
 * Names and ids are ours (hex ids, fixed names) — never a client's file name. */
#ifndef FAXBOT_BLOB_H
#define FAXBOT_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "blob/s3_client.h"

typedef struct blob_store blob_store;

blob_store *blob_fs_open(const char *root, char *err, size_t errlen);
/* Local files under cache_root, objects of record in S3. NULL with err on failure. */
blob_store *blob_s3_open(const char *cache_root, const s3_settings *s3, char *err, size_t errlen);
/* "local" or "s3". */
const char *blob_kind(const blob_store *b);
/* The file at blob_path(area, id, name) is whole: store it (S3: upload; local: nothing
 * to do). 0, or -1 with err. */
int blob_commit(blob_store *b, const char *area, const char *id, const char *name, char *err, size_t errlen);
/* Makes the file at blob_path(area, id, name) present here (S3: fetched if missing).
 * 0 present, 1 no such artifact, -1 error. */
int blob_fetch(blob_store *b, const char *area, const char *id, const char *name);
void blob_close(blob_store *b);
/* The local path of an artifact, creating its directory. area: "outbound", "inbound", "tmp".
 * id must be 32 hex chars; name a fixed name such as "original", "document.pdf".
 * Returns 0, or -1 if the arguments are not safe. */
int blob_path(blob_store *b, const char *area, const char *id, const char *name, char *out, size_t outlen);
/* Removes every artifact of one id (the S3 objects too). */
int blob_remove_all(blob_store *b, const char *area, const char *id);
/* Calls each(ctx, id, name) for every artifact of area this store keeps (S3: the
 * objects of record; local: the files; name "" for an id holding nothing), until
 * each answers non-zero (returned). 0, or -1 with err. For `faxbot fsck`. */
int blob_list(blob_store *b, const char *area, int (*each)(void *ctx, const char *id, const char *name), void *ctx,
              char *err, size_t errlen);
/* A scratch directory unique to this call (caller removes it with remove_tree). */
int blob_tmpdir(blob_store *b, char *out, size_t outlen);
/* Readiness: the root exists and is writable, with free space reported. */
int blob_check(blob_store *b, int64_t *free_bytes, char *err, size_t errlen);
/* S3: the bucket with this node's credentials (a probe object written, read back,
 * deleted; the answer kept up to max_age_ms so probes stay cheap). 0 when usable,
 * and always on local storage; -1 with err naming bucket, endpoint, S3's error code
 * and what to do, code = the S3 error code alone ("" if the store never answered). */
int blob_check_remote(blob_store *b, int max_age_ms, char *code, size_t codelen, char *err, size_t errlen);
/* S3: a presigned GET URL of the artifact, valid expires_s seconds, with an extra
 * signed query parameter qname=qvalue when qname is not NULL. -1 on local storage
 * (there is nothing to presign) or when it cannot be made. */
int blob_presign(blob_store *b, const char *area, const char *id, const char *name, const char *qname,
                 const char *qvalue, int expires_s, char *out, size_t outlen);

#endif
