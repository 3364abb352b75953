/* phaxio_proto.h — the pure parts of the Phaxio v2.1 backend: webhook form parsing
 * (multipart/form-data or x-www-form-urlencoded), the X-Phaxio-Signature algorithm,
 * the fax object, API reply envelopes, and the mapping of Phaxio statuses and
 * errors to the gateway's outcomes. Functions over bytes only: no I/O, no clock,
 * no globals, so they are unit-tested and fuzzed directly (backend_phaxio.c does
 * the HTTP and the job reporting). Wire facts: docs/internals/protocols.md §1. */
#ifndef FAXBOT_PHAXIO_PROTO_H
#define FAXBOT_PHAXIO_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"

/* ---- webhook forms ---- */

typedef struct phaxio_part {
    char *name;                  /* decoded field name */
    char *filename;              /* NULL for a plain field; set (maybe "") for a file part */
    char *content_type;          /* NULL if the part had none */
    char *data;                  /* the value / file bytes, NUL-terminated copy */
    size_t len;
} phaxio_part;

typedef struct phaxio_form {
    phaxio_part *parts;          /* in the order received */
    size_t n, cap;
} phaxio_form;

/* Parses a webhook body by its Content-Type: multipart/form-data (file parts are
 * those with a filename) or application/x-www-form-urlencoded (names and values
 * URL-decoded, '+' = space). At most 256 parts. Returns 0, or -1 with err (the
 * form is then empty). Always call phaxio_form_free. */
int phaxio_form_parse(const char *content_type, const char *body, size_t len, phaxio_form *out,
                      char *err, size_t errlen);
void phaxio_form_free(phaxio_form *f);
/* The first plain field / file part with this name, or NULL. */
const phaxio_part *phaxio_form_field(const phaxio_form *f, const char *name);
const phaxio_part *phaxio_form_file(const phaxio_form *f, const char *name);

/* ---- X-Phaxio-Signature (https://www.phaxio.com/docs/security/callbacks) ----
 * HMAC-SHA1, keyed with the webhook token, over: the callback URL exactly as
 * registered, then for each plain field sorted by name (bytewise, stable) name +
 * value, then for each file part sorted by name, name + lowercase hex SHA-1 of its
 * contents; lowercase hex (40 chars). Returns 0, -1 on bad arguments. */
int phaxio_signature_hex(const char *url, const phaxio_form *f, const char *token, char out[41]);
/* Constant-time check of a header value (surrounding blanks and hex case ignored).
 * False for an empty token or header. */
bool phaxio_signature_valid(const char *url, const phaxio_form *f, const char *token, const char *header);

/* ---- the fax object (v2.1) ---- */

typedef struct phaxio_fax {
    char id[32];                 /* decimal id as text ("" if absent or not an id) */
    char direction[16];          /* "sent" | "received" */
    char status[24];             /* lowercased: queued, pendingbatch, inprogress, success, failure, partialsuccess */
    int num_pages;               /* -1 unknown */
    char error_type[40];         /* lineError, faxError, documentConversionError, ... */
    long error_id;               /* -1 unknown */
    char error_code[64];         /* v1-style error_code text, if present */
    char error_message[200];
    char from_number[40];
    char to_number[40];
    char caller_id[40];
    char tag_job[40];            /* tags.faxbot_job */
    int tag_attempt;             /* tags.faxbot_attempt, 0 if absent */
    char recipient_status[24];   /* recipients[0].status, lowercased */
    int bitrate;                 /* recipients[0].bitrate, -1 unknown */
} phaxio_fax;

/* Parses a fax object given as JSON text (the webhook's `fax` field). 0 or -1 with err. */
int phaxio_fax_parse(const char *json, size_t len, phaxio_fax *out, char *err, size_t errlen);

/* ---- mapping to the gateway's outcomes ---- */

typedef struct phaxio_mapped {
    outcome_kind kind;           /* 0: nothing to report (unknown status) */
    const char *failure_reason;  /* FAILURE: busy, no_answer, congestion, invalid_number, rejected,
                                    line_error, conversion_error, cancelled, provider_error */
    bool transient;
    int pages;                   /* -1 unknown */
    int bit_rate;                /* -1 unknown */
    char message[256];
} phaxio_mapped;

/* Reason for a Phaxio error (type, numeric id, message text; any may be empty/-1),
 * and whether another attempt may succeed. Never NULL. */
const char *phaxio_failure_reason(const char *error_type, long error_id, const char *text, bool *transient);
/* Maps a fax object plus the webhook's event_type (NULL/"" for a status poll) and
 * the inflight `page` (-1 if absent): fax_completed / success → SUCCESS,
 * failure → FAILURE, transmitting_page / inprogress → PROGRESS, retry_scheduled →
 * PROGRESS, queued / pendingbatch → ACCEPTED. */
void phaxio_map(const phaxio_fax *fax, const char *event_type, int page, phaxio_mapped *out);

/* ---- API replies ---- */

typedef struct phaxio_reply {
    bool json;                   /* the body was a JSON object */
    bool success;                /* "success": true */
    char message[256];           /* "message" */
    char id[32];                 /* data.id (create) */
} phaxio_reply;

/* Parses a {"success":..,"message":..,"data":..} envelope; never fails (fields empty). */
void phaxio_reply_parse(const char *body, size_t len, phaxio_reply *out);
/* GET /faxes/{id}: the data object. 0, or -1 with err. */
int phaxio_get_parse(const char *body, size_t len, phaxio_fax *out, char *err, size_t errlen);
/* GET /faxes?tag[faxbot_job]=…: the sent fax for this job and attempt (a fax with no
 * attempt tag counts as a match; the newest match wins). 1 found, 0 none, -1 bad reply. */
int phaxio_list_find(const char *body, size_t len, const char *job_id, int attempt, phaxio_fax *out,
                     char *err, size_t errlen);
/* GET /account/status: data.balance (cents) into *balance. 0, or -1. */
int phaxio_account_parse(const char *body, size_t len, long long *balance);

#endif
