/* ami_parse.h — a pure, incremental parser for the Asterisk Manager Interface wire
 * format (docs/internals/protocols.md §4.2). Bytes go in as they arrive from the socket, in chunks
 * of any size; complete messages come out through a callback. It knows:
 *   - the banner line "Asterisk Call Manager/<version>" sent once on connect;
 *   - "Key: Value" lines (CRLF, bare LF tolerated) ended by an empty line;
 *   - the first key naming the kind: Response, Event (or Action, for a peer);
 *   - multi-line command output: "Response: Follows" ... "--END COMMAND--" (old
 *     Asterisk; blank lines inside belong to the output) and "Output:" headers (new).
 * Nothing here does I/O or allocates after ami_parser_new; oversized input is cut
 * (the message is flagged truncated), never a crash. Used by ami_client.c, the
 * unit tests and fuzz/fuzz_ami.c. */
#ifndef FAXBOT_AMI_PARSE_H
#define FAXBOT_AMI_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define AMI_MAX_LINE 8192        /* longer lines are cut */
#define AMI_MAX_FIELDS 256       /* further fields of one message are dropped */
#define AMI_MAX_MESSAGE 65536    /* bytes of keys + values of one message */
#define AMI_MAX_OUTPUT 65536     /* bytes of command output kept per message */

typedef enum {
    AMI_MSG_BANNER = 1,          /* the greeting line; banner holds it */
    AMI_MSG_RESPONSE,            /* first key Response */
    AMI_MSG_EVENT,               /* first key Event */
    AMI_MSG_ACTION,              /* first key Action (what a client sends) */
    AMI_MSG_OTHER,               /* anything else */
} ami_msg_kind;

typedef struct ami_field {
    const char *key;
    const char *value;
} ami_field;

typedef struct ami_message {
    ami_msg_kind kind;
    const ami_field *fields;     /* in wire order; keys may repeat (Variable, Output) */
    size_t n_fields;
    const char *output;          /* raw command output ("Response: Follows"), "" if none */
    size_t output_len;
    const char *banner;          /* AMI_MSG_BANNER: the whole line */
    bool truncated;              /* something was cut to fit the limits above */
} ami_message;

typedef void (*ami_msg_cb)(void *user, const ami_message *m);

typedef struct ami_parser ami_parser;

/* expect_banner: the first non-empty line is the greeting (a client's view). */
ami_parser *ami_parser_new(bool expect_banner);
void ami_parser_free(ami_parser *p);
/* Back to the state of a fresh parser (a new connection). */
void ami_parser_reset(ami_parser *p, bool expect_banner);
/* Consumes len bytes; calls cb for every message completed by them (pointers in the
 * message are valid only during the call). Returns the number of messages. */
int ami_parser_feed(ami_parser *p, const void *data, size_t len, ami_msg_cb cb, void *user);

/* The first value of key (case-insensitive), or NULL. */
const char *ami_msg_get(const ami_message *m, const char *key);
/* The value of the n-th (0-based) field named key, or NULL. */
const char *ami_msg_get_nth(const ami_message *m, const char *key, size_t n);

#endif
