/* esl_parse.h — a pure parser for FreeSWITCH's Event Socket (ESL) wire format:
 * LF-framed "Name: value" header blocks ended by a blank line, with a body of
 * exactly Content-Length bytes when that header is present. Messages are
 * command/reply, api/response, auth/request, text/event-plain (whose body is
 * itself a header block with url-encoded values, and may carry its own
 * Content-Length body, e.g. a BACKGROUND_JOB's API output), text/disconnect-notice
 * and text/rude-rejection. No I/O here: bytes in, messages out, so it can be
 * tested split at every byte and fuzzed. Used by esl_client.c. */
#ifndef FAXBOT_ESL_PARSE_H
#define FAXBOT_ESL_PARSE_H

#include <stddef.h>

#define ESL_MAX_HEADER_BLOCK (256 * 1024)     /* bytes before the blank line */
#define ESL_MAX_BODY (8 * 1024 * 1024)        /* largest Content-Length accepted */
#define ESL_MAX_HEADERS 1024

typedef struct esl_header {
    char *name;
    char *value;
} esl_header;

/* One message (or one event). All strings are NUL-terminated heap copies. */
typedef struct esl_msg {
    esl_header *headers;
    size_t n_headers;
    char *body;          /* NULL when there is no body; else body_len bytes + NUL */
    size_t body_len;
} esl_msg;

/* Results of the frame functions. */
enum { ESL_NEED_MORE = 0, ESL_FRAME = 1, ESL_ERROR = -1 };

/* Parses one message at the start of buf[0..len). Leading blank lines are
 * skipped. Header values are taken as they are (outer frames are not
 * url-encoded). Returns ESL_FRAME with *out filled and *consumed set,
 * ESL_NEED_MORE if buf holds only part of a message, or ESL_ERROR (a header
 * line without ':', an invalid Content-Length, limits exceeded) with err. */
int esl_frame_parse(const char *buf, size_t len, esl_msg *out, size_t *consumed, char *err, size_t errlen);

/* Parses a text/event-plain body: header lines with url-encoded values, a blank
 * line, and (when the event has Content-Length) the event's own body. A body
 * without the final blank line is accepted. ESL_FRAME or ESL_ERROR. */
int esl_event_parse(const char *body, size_t len, esl_msg *out, char *err, size_t errlen);

/* First header with this name (case-insensitive), or NULL. */
const char *esl_msg_get(const esl_msg *m, const char *name);
void esl_msg_free(esl_msg *m);

/* Percent-decoding as FreeSWITCH encodes event values (%XX; '+' stays '+').
 * Invalid escapes are kept literally. NUL bytes decode to '?' so a value stays
 * one C string. out needs len + 1 bytes; returns the decoded length. */
size_t esl_url_decode(const char *in, size_t len, char *out);

/* ---- incremental use over a byte stream ---- */
typedef struct esl_parser esl_parser;

esl_parser *esl_parser_new(void);
void esl_parser_free(esl_parser *p);
/* Appends bytes; -1 if out of memory or the buffered data exceeds the limits. */
int esl_parser_feed(esl_parser *p, const char *data, size_t len);
/* Takes the next complete message: ESL_FRAME, ESL_NEED_MORE, or ESL_ERROR
 * (the stream is then unusable: drop the connection). */
int esl_parser_next(esl_parser *p, esl_msg *out, char *err, size_t errlen);
/* Forgets buffered bytes (after a reconnect). */
void esl_parser_reset(esl_parser *p);

#endif
