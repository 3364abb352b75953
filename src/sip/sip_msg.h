/* sip_msg.h — SIP messages (RFC 3261 §7, §20, §25) for the direct backend's own small
 * SIP stack: a strict parser of outside bytes into a sip_msg, and a builder that
 * writes requests and responses. Only what a fax user agent for one trunk needs;
 * everything else in a message is kept as raw header text.
 *
 * Parsing is a pure function over bytes (fuzzed by fuzz/fuzz_sip.c): it never reads
 * past len, has hard limits (size, header count, Via and Contact count), and a
 * message it refuses comes back with the status to answer (400, 505, 501, 513) and
 * a reason phrase that says what is wrong ("Bad CSeq: sequence number above
 * 2^32-1"). RFC 4475's torture messages are accepted or refused as that RFC says
 * (tests/unit/sip/test_sip_msg.c). Strings of a parsed message live in one arena
 * owned by the message: freeing the message frees them all. */
#ifndef FAXBOT_SIP_MSG_H
#define FAXBOT_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define SIP_MAX_MSG      65535  /* bytes of one message (UDP's limit; TCP the same) */
#define SIP_MAX_HEADERS  128    /* header fields (lines after unfolding) */
#define SIP_MAX_VIA      40     /* Via values */
#define SIP_MAX_CONTACTS 16     /* Contact values */
#define SIP_MAX_FIELD    8192   /* bytes of one unfolded header field */

/* Header ids: the fields the stack reads; any other is SIP_H_OTHER (kept raw). */
typedef enum {
    SIP_H_OTHER = 0,
    SIP_H_VIA, SIP_H_FROM, SIP_H_TO, SIP_H_CALL_ID, SIP_H_CSEQ, SIP_H_CONTACT,
    SIP_H_CONTENT_LENGTH, SIP_H_CONTENT_TYPE, SIP_H_MAX_FORWARDS, SIP_H_EXPIRES,
    SIP_H_WWW_AUTHENTICATE, SIP_H_PROXY_AUTHENTICATE, SIP_H_AUTHORIZATION,
    SIP_H_PROXY_AUTHORIZATION, SIP_H_ROUTE, SIP_H_RECORD_ROUTE, SIP_H_DATE,
    SIP_H_SUBJECT, SIP_H_SUPPORTED, SIP_H_REQUIRE, SIP_H_CONTENT_ENCODING,
    SIP_H_EVENT, SIP_H_REFER_TO, SIP_H_REFERRED_BY, SIP_H_ALLOW_EVENTS,
    SIP_H_SESSION_EXPIRES, SIP_H_IDENTITY, SIP_H_ACCEPT_CONTACT,
    SIP_H_REJECT_CONTACT, SIP_H_REQUEST_DISPOSITION, SIP_H_IDENTITY_INFO,
    SIP_H_ALLOW, SIP_H_USER_AGENT, SIP_H_SERVER, SIP_H_P_ASSERTED_IDENTITY,
    SIP_H_MIN_EXPIRES, SIP_H_RETRY_AFTER, SIP_H_REASON,
    SIP_H_COUNT_
} sip_hid;

typedef struct {
    sip_hid id;
    const char *name;   /* canonical long name for known fields ("Call-ID" for "i"), else as written */
    const char *value;  /* unfolded (CRLF+WS → one SP), trimmed */
} sip_header;

/* A From / To / Contact value (name-addr or addr-spec). */
typedef struct {
    const char *display; /* decoded display name ("" if none); control chars shown as '?' */
    const char *uri;     /* the URI, without < > */
    const char *params;  /* header parameters, normalized: ";name=value;flag" ("" if none) */
    const char *tag;     /* the tag parameter, or NULL */
} sip_addr;

typedef struct {
    const char *transport; /* upper case: UDP, TCP, TLS, SCTP, … */
    const char *host;      /* sent-by host (IPv6 with its brackets) */
    int port;              /* sent-by port, 0 if absent */
    const char *branch;    /* NULL if absent */
    const char *received;  /* NULL if absent */
    int rport;             /* -1 absent, 0 present without a value, else its value */
    const char *params;    /* all parameters, normalized */
} sip_via;

/* A parsed SIP URI (sip: / sips:). Strings point into the caller's buffer. */
typedef struct {
    bool sips;
    char user[256];
    char password[64];
    char host[256];      /* IPv6 kept with brackets */
    int port;            /* 0 if absent */
    char params[512];    /* ";transport=tcp;lr" as written ("" if none) */
    char headers[512];   /* "Route=…&…" without the '?' ("" if none) */
} sip_uri;

typedef struct sip_msg {
    bool is_request;
    const char *method;      /* requests: as written (methods are case-sensitive) */
    const char *ruri;        /* requests: the Request-URI */
    int status;              /* responses: 100..699 */
    const char *reason;      /* responses: the reason phrase (may be "") */

    sip_header hdr[SIP_MAX_HEADERS];
    size_t n_hdr;

    sip_via via[SIP_MAX_VIA];
    size_t n_via;
    sip_addr from, to;
    sip_addr contact[SIP_MAX_CONTACTS];
    size_t n_contact;
    bool contact_star;       /* "Contact: *" */
    const char *call_id;
    uint32_t cseq;
    const char *cseq_method;
    int max_forwards;        /* -1 if absent */
    long content_length;     /* -1 if absent */
    long expires;            /* -1 if absent */
    const char *content_type;/* NULL if absent */

    const char *body;        /* NUL-terminated after body_len bytes (the body may hold NULs) */
    size_t body_len;

    char *arena_;            /* private: every string above lives here */
    size_t arena_len_, arena_cap_;
} sip_msg;

/* What the parser says about a refused message: the status a server answers a
 * request with (responses are dropped) and a reason phrase for it. */
typedef struct {
    int status;          /* 400, 413, 501, 505, 513 */
    char reason[160];
} sip_parse_error;

enum { SIP_PARSE_OK = 0, SIP_PARSE_INCOMPLETE = 1, SIP_PARSE_ERROR = -1 };

/* Parses one message from data. datagram: the bytes are one UDP datagram (a body
 * runs to the end without Content-Length; bytes after Content-Length are ignored,
 * RFC 3261 §18.3); else a stream, where Content-Length is required and
 * SIP_PARSE_INCOMPLETE asks for more bytes. On SIP_PARSE_OK *out is a new message
 * (sip_msg_free) and *consumed the bytes it took. */
int sip_msg_parse(const char *data, size_t len, bool datagram, sip_msg **out,
                  size_t *consumed, sip_parse_error *err);
void sip_msg_free(sip_msg *m);

/* First header with this id / name (case-insensitive, compact forms understood), or NULL. */
const char *sip_msg_header(const sip_msg *m, sip_hid id);
const char *sip_msg_header_named(const sip_msg *m, const char *name);
/* The id of a header name ("v", "VIA", "Via" → SIP_H_VIA). */
sip_hid sip_header_id(const char *name, size_t len);
const char *sip_header_name(sip_hid id);

/* Copies the value of parameter name (case-insensitive) from a normalized
 * parameter string (";a=b;c") into out: 1 found (a flag gives ""), 0 absent, -1 too long. */
int sip_param_get(const char *params, const char *name, char *out, size_t outlen);

/* Parses a sip:/sips: URI strictly (RFC 3261 §25.1). 0 ok, -1 with a reason in err. */
int sip_uri_parse(const char *s, sip_uri *u, char *err, size_t errlen);

/* ---- building (sip_build.c) ---- */
/* Every function returns 0, or -1 when a value would break the framing (CR, LF,
 * NUL in a header value) or memory ran out; the buffer is then unusable. */
int sip_build_request_line(strbuf *sb, const char *method, const char *uri);
int sip_build_status_line(strbuf *sb, int status, const char *reason);
int sip_build_header(strbuf *sb, const char *name, const char *value);
int sip_build_headerf(strbuf *sb, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Ends the header section with Content-Type (if body_len > 0) and Content-Length. */
int sip_build_finish(strbuf *sb, const char *content_type, const char *body, size_t body_len);
/* A response to req: copies every Via, From, To (adds ;tag=to_tag if To has none and
 * to_tag is given), Call-ID and CSeq (RFC 3261 §8.2.6.2). The caller may add headers,
 * then calls sip_build_finish. */
int sip_build_response_head(strbuf *sb, const sip_msg *req, int status, const char *reason,
                            const char *to_tag);
/* A stateless answer to a request the parser refused (RFC 4475: "respond with 400"):
 * copies the Via, From, To (adding a tag), Call-ID and CSeq lines as they were,
 * with the parser's status and reason. -1 when that is not safely possible (a
 * response, an ACK, a field missing, folded or holding control characters). */
int sip_build_error_response(strbuf *sb, const char *raw, size_t len, int status, const char *reason);
/* The standard reason phrase of a status code ("Busy Here" for 486). */
const char *sip_reason_phrase(int status);

#endif
