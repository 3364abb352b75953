/* ami_fax.h — pure helpers for faxing through Asterisk over AMI: making values safe
 * to travel in an Originate "Variable:" header, and turning what Asterisk tells us
 * about a call (OriginateResponse Reason, Hangup cause, the FaxResult UserEvent the
 * rendered dialplan emits: FAXSTATUS/FAXERROR/...) into the gateway's outcome
 * vocabulary. No I/O; used by backend_asterisk.c and the unit tests. */
#ifndef FAXBOT_AMI_FAX_H
#define FAXBOT_AMI_FAX_H

#include <stdbool.h>
#include <stddef.h>

/* Asterisk splits every Variable header value on commas (honouring "..." and
 * backslash escapes, which it removes; PROTOCOLS §4.3). Writes in as one quoted
 * argument: "…" with \ and " backslash-escaped; control characters (CR, LF, TAB,
 * NUL, DEL) become spaces and non-ASCII bytes '?', so the value can neither end the
 * header line nor split into a second variable. At most max_chars characters of in
 * are kept (T.30: header 50, station id 20). 0, or -1 if out is too small. */
int ami_quote_value(const char *in, size_t max_chars, char *out, size_t outlen);

/* true if s is non-empty and every byte is an ASCII letter, digit or one of extra. */
bool ami_token_ok(const char *s, const char *extra);

/* What we know about one outgoing call when deciding its outcome. */
typedef struct ami_call_facts {
    const char *fax_status;      /* FAXSTATUS: "SUCCESS", "FAILED", "" (SendFAX never ran) */
    const char *fax_error;       /* FAXERROR */
    const char *status_string;   /* FAXSTATUSSTRING */
    const char *sip_cause;       /* "SIP 486 Busy Here" (HANGUPCAUSE(...,tech)), "" */
    int hangup_cause;            /* Q.850 cause, -1 unknown */
    int reason;                  /* OriginateResponse Reason (AST_CONTROL_*), -1 unknown */
    bool answered;               /* the far end answered */
    const struct sip_trunk_profile *trunk; /* the trunk plugin: its documented SIP error meanings (may be NULL) */
} ami_call_facts;

typedef struct ami_verdict {
    bool success;
    const char *failure_reason;  /* busy, no_answer, congestion, rejected, invalid_number,
                                    line_error, file_error, provider_error */
    bool transient;              /* another attempt may succeed */
    char message[320];           /* for people: what happened and, where useful, what to do */
} ami_verdict;

/* Decides the outcome. Success only for FAXSTATUS SUCCESS (FAXERROR is "HANGUP" even
 * then, §4.7). After an answer the fax error decides; before one, a specific hangup
 * cause, else the Originate reason. */
void ami_judge(const ami_call_facts *f, ami_verdict *v);

/* OriginateResponse Reason code → (failure_reason, transient, text). Reason 4
 * (answered) gives NULL. */
const char *ami_reason_failure(int reason, bool *transient, const char **text);
/* Q.850 cause → (failure_reason, transient, text); NULL for causes that say nothing
 * about why (0, 16 normal clearing, 31 unspecified). */
const char *ami_cause_failure(int cause, bool *transient, const char **text);
/* Advice for a SIP status seen on the trunk ("" if none): 404, 403, 488, ... */
const char *ami_sip_advice(int sip_code);
/* The SIP status in "SIP 486 Busy Here" (or "486 ..."); 0 if none. */
int ami_sip_code(const char *sip_cause);

#endif
