/* fsck.h — `faxbot fsck`: the store checked against the artifact storage (fsck.c). */
#ifndef FAXBOT_FSCK_H
#define FAXBOT_FSCK_H

#include <stddef.h>

#include "blob/blob.h"

struct config;

/* The artifact storage the configuration names: local files under FAX_DATA_DIR, or
 * S3 (STORAGE_BACKEND=s3) with them as its cache. NULL with err. */
blob_store *cli_open_blobs(const struct config *cfg, char *err, size_t errlen);
/* Returns the exit code: 0 clean, 1 problems found, 2 could not check. */
int cli_fsck(int argc, char **argv);

#endif
