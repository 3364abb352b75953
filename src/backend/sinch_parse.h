/* sinch_parse.h — pure parsers for the Sinch Fax API v3: the Fax object (send
 * response, GET /faxes/{id}, list items), webhook events (FAX_COMPLETED and
 * INCOMING_FAX, as multipart/form-data or application/json), error envelopes, and
 * the mapping of a fax's status and error code to our outcome vocabulary. */
#ifndef FAXBOT_SINCH_PARSE_H
#define FAXBOT_SINCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/cloud_util.h"

/* The labels we attach to every fax we send (labels[<key>] in the multipart form). */
#define SINCH_LABEL_JOB "faxbotJobId"
#define SINCH_LABEL_ATTEMPT "faxbotAttempt"

typedef struct sinch_fax {
    char id[64];
    char status[24];             /* QUEUED, IN_PROGRESS, COMPLETED, FAILURE ("" if absent) */
    char direction[16];          /* OUTBOUND, INBOUND */
    char from[40], to[40];
    int pages;                   /* numberOfPages, -1 unknown */
    int error_code;              /* errorCode, -1 none */
    char error_type[40];         /* errorType */
    char error_message[256];     /* errorMessage */
    char label_job_id[40];       /* labels.faxbotJobId */
    int label_attempt;           /* labels.faxbotAttempt, 0 unknown */
} sinch_fax;

typedef struct sinch_event {
    char event[32];              /* INCOMING_FAX, FAX_COMPLETED, … */
    char event_time[40];
    bool has_fax;
    sinch_fax fax;
    unsigned char *file;         /* the document (decoded), malloc'd, or NULL */
    size_t file_len;
    char file_type[40];          /* declared: fileType (JSON) or the part's Content-Type */
} sinch_event;

/* A Fax object (or the first element of an array of them). 0, or -1 with err. */
int sinch_parse_fax(const char *json, size_t len, sinch_fax *out, char *err, size_t errlen);

/* {"faxes":[…], "totalPages":…}: fills up to max faxes; returns how many (>= 0), or
 * -1 with err. *total_pages = totalPages (0 if absent). */
int sinch_parse_fax_list(const char *json, size_t len, sinch_fax *out, int max, int *total_pages, char *err,
                         size_t errlen);

/* A webhook body. content_type picks the form (multipart/form-data or JSON). With
 * want_file the document is decoded into out->file (base64 in JSON: "file", or
 * "files"[0].file; the part named "file" in multipart). 0, or -1 with err.
 * Free with sinch_event_free either way. */
int sinch_parse_event(const char *content_type, const char *body, size_t len, bool want_file, sinch_event *out,
                      char *err, size_t errlen);
void sinch_event_free(sinch_event *e);

/* What a fax's status means for an outbound attempt. */
void sinch_verdict(const sinch_fax *f, cloud_verdict *v);
/* The failure_reason and transience of a Sinch error type + code. */
void sinch_map_error(const char *error_type, int code, const char **reason, bool *transient);

/* Sinch's error body ({"code","status","message","details":[{fieldViolations}]} or
 * {"error","message"}) as one readable line; *bad_to = a field violation names "to". */
void sinch_error_text(const char *body, size_t len, char *out, size_t outlen, bool *bad_to);

#endif
