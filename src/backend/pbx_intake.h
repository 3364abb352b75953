/* pbx_intake.h — the one intake of a fax a PBX (Asterisk, FreeSWITCH) received and
 * left in its spool directory, shared by both backends so they take it the same,
 * strict way: the file must resolve (no symlink, no ..) inside the spool directory,
 * be a regular file of at most PBX_INBOUND_MAX_BYTES, is copied into
 * FAX_DATA_DIR/tmp, stored through the sink, and then removed from the spool; a
 * replay of the same call (same call id) gets the first answer again from a small
 * memory, even after the spool file is gone. Each backend keeps its own protocol:
 * how the hand-off request is authenticated and parsed, and what the reply calls
 * the id. */
#ifndef FAXBOT_PBX_INTAKE_H
#define FAXBOT_PBX_INTAKE_H

#include <pthread.h>
#include <stddef.h>

#include "backend/backend.h"

#define PBX_INBOUND_MAX_BYTES (64LL * 1024 * 1024)
#define PBX_RECENT_INBOUND 128

typedef struct pbx_intake {
    const char *spool_setting;   /* "ASTERISK_SPOOL_DIR": named in error messages */
    const char *spool_dir;       /* as configured (may be relative or a symlink) */
    const char *data_dir;        /* FAX_DATA_DIR: temp copies go to its tmp/ */
    const char *tmp_prefix;      /* "asterisk-in" */
    const char *id_key;          /* the reply's key for the inbound id: "inbound_id" or "id" */
    const char *log_name;        /* "sip inbound" */
    pthread_mutex_t lock;
    struct { char call_id[80]; char inbound_id[33]; } recent[PBX_RECENT_INBOUND];
    int recent_pos;
} pbx_intake;

/* One hand-off, already authenticated and parsed by the backend. */
typedef struct pbx_handoff {
    const char *call_id;         /* Asterisk's UNIQUEID, FreeSWITCH's call uuid: the replay key */
    const char *provider_sid;    /* what the inbound fax is recorded under */
    const char *tiff_path;       /* as the PBX sent it */
    const char *from, *to, *station_id;   /* already cleaned by the backend */
} pbx_handoff;

void pbx_intake_init(pbx_intake *in);
void pbx_intake_destroy(pbx_intake *in);

/* Takes the fax in and answers in res: 200 {"<id_key>": id, "status": "ok"}, or a
 * 4xx/5xx {"detail": …}. */
void pbx_intake_take(pbx_intake *in, const backend_sink *sink, const pbx_handoff *h, webhook_response *res);

#endif
