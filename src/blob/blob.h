/* blob.h — where artifacts (uploads, PDFs, TIFFs) live. blob_fs.c keeps them
 * under FAX_DATA_DIR/<area>/<id>/<name>; an S3 implementation can come later.
 * Names and ids are ours (hex ids, fixed names) — never a client's file name. */
#ifndef FAXBOT_BLOB_H
#define FAXBOT_BLOB_H

#include <stddef.h>
#include <stdint.h>

typedef struct blob_store blob_store;

blob_store *blob_fs_open(const char *root, char *err, size_t errlen);
void blob_close(blob_store *b);
/* The local path of an artifact, creating its directory. area: "outbound", "inbound", "tmp".
 * id must be 32 hex chars; name a fixed name such as "original", "document.pdf".
 * Returns 0, or -1 if the arguments are not safe. */
int blob_path(blob_store *b, const char *area, const char *id, const char *name, char *out, size_t outlen);
/* Removes every artifact of one id. */
int blob_remove_all(blob_store *b, const char *area, const char *id);
/* A scratch directory unique to this call (caller removes it with remove_tree). */
int blob_tmpdir(blob_store *b, char *out, size_t outlen);
/* Readiness: the root exists and is writable, with free space reported. */
int blob_check(blob_store *b, int64_t *free_bytes, char *err, size_t errlen);

#endif
