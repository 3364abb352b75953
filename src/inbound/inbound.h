/* inbound.h — taking a received fax into the gateway: the TIFF is checked, kept,
 * turned into a PDF (Cairo + libtiff, never Ghostscript, which cannot read TIFF),
 * hashed, and recorded as an inbound fax. A delivery seen before (same backend and
 * provider id) never becomes a second inbound fax. Used by the loopback engine now
 * and by provider and PBX webhooks later. */
#ifndef FAXBOT_INBOUND_H
#define FAXBOT_INBOUND_H

#include "blob/blob.h"
#include "config/config.h"
#include "store/store.h"

#include <stdbool.h>

typedef struct inbound_source {
    const char *backend;             /* "loopback", "phaxio", ... */
    const char *provider_sid;        /* unique per delivery within the backend */
    const char *from_number;
    const char *to_number;
    const char *remote_station_id;
    const char *source_job_id;       /* loopback: the outbound job */
    const char *mailbox;
} inbound_source;

/* Stores the file at path — type "tiff" (a fax image: checked, kept, and made into
 * a PDF) or "pdf" (kept, pages counted) — moved if move is true, else copied, as a
 * new inbound fax, and fills *out. Returns 0 (also when the delivery was stored
 * before: *out is then the earlier fax), -1 with err, or -2 with err when the
 * record could not be written for the moment (database busy or locked, disk full):
 * nothing is kept, and the same delivery may be tried again later. */
int inbound_store_file(store *st, blob_store *blobs, const config *cfg, const char *path, const char *type, bool move,
                       const inbound_source *src, inbound_record *out, char *err, size_t errlen);

/* Whose a fax received on to_number is: the owner INBOUND_OWNERS names for that
 * number, else (loopback) the owner of the outbound job it came from, else "". */
void inbound_owner_of(store *st, const config *cfg, const char *to_number, const char *source_job_id, char *out,
                      size_t outlen);

/* The retention deadline for a fax received at received_at (0 = kept forever). */
int64_t inbound_retention_until(const config *cfg, int64_t received_at);

/* Short-lived download tokens that need no database row: "<expiry ms>.<hmac>"
 * with HMAC-SHA256 keyed by the server secret over the fax id and the expiry. */
void inbound_token_make(const char *secret, const char *id, int64_t expires_at, char out[96]);
/* 0 = valid; -1 = forged or for another fax; -2 = expired. */
int inbound_token_check(const char *secret, const char *id, const char *token, int64_t now);

#endif
