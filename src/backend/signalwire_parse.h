/* signalwire_parse.h — pure parsers for SignalWire's Compatibility ("LaML") fax API:
 * the StatusCallback form, the Fax resource JSON (send response, GET /Faxes/{Sid},
 * list pages), error bodies, and the mapping of every documented fax status
 * (queued, processing, sending, delivered, receiving, received, no-answer, busy,
 * failed, canceled) to our outcome vocabulary. */
#ifndef FAXBOT_SIGNALWIRE_PARSE_H
#define FAXBOT_SIGNALWIRE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/cloud_util.h"
#include "backend/twilio_sig.h"

typedef struct sw_fax {
    char sid[64];
    char status[24];
    char direction[16];          /* "outbound" / "inbound" ("" unknown) */
    char from[40], to[40];
    char media_url[1024];        /* the resource's media_url, or the callback's OriginalMediaUrl/MediaUrl */
    char remote_station_id[64];
    int pages;                   /* -1 unknown */
    int error_code;              /* -1 none */
    char error_message[256];
} sw_fax;

/* A StatusCallback request (already form-decoded). */
void sw_fax_from_form(const form_params *p, sw_fax *out);

/* A Fax resource. 0, or -1 with err. */
int sw_parse_fax(const char *json, size_t len, sw_fax *out, char *err, size_t errlen);

/* A list page {"faxes":[…], "next_page_uri":…}: fills up to max; returns the count
 * (>= 0) or -1 with err; next_page_uri ("" at the end). */
int sw_parse_fax_list(const char *json, size_t len, sw_fax *out, int max, char *next_page_uri, size_t nlen, char *err,
                      size_t errlen);

/* Twilio-style error body {"code","message","more_info","status"} as one line;
 * *code = the error code (-1 if none). */
void sw_error_text(const char *body, size_t len, char *out, size_t outlen, int *code);

/* What a status means for an outbound attempt. */
void sw_verdict(const sw_fax *f, cloud_verdict *v);
/* failure_reason and transience of a "failed" fax with this error code (-1 none). */
void sw_map_error(int code, const char **reason, bool *transient);
/* true for error codes that say the number is not one we can fax (invalid To etc.). */
bool sw_code_is_bad_number(int code);

#endif
