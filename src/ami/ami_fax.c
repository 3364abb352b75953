/* ami_fax.c — see ami_fax.h. Tables from docs/internals/protocols.md §4.3–4.7 (AST_CONTROL codes
 * in OriginateResponse, Q.850 causes on Hangup, FAXSTATUS/FAXERROR of res_fax). */
#include "ami/ami_fax.h"
#include "plugins/sip_trunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int ami_quote_value(const char *in, size_t max_chars, char *out, size_t outlen)
{
    size_t o = 0, kept = 0;
    if (outlen < 3) return -1;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p && kept < max_chars; p++, kept++) {
        unsigned char c = *p;
        char esc = 0;
        if (c < 0x20 || c == 0x7f) c = ' ';
        else if (c >= 0x80) c = '?';
        else if (c == '"' || c == '\\') esc = '\\';
        if (o + (esc ? 2 : 1) + 2 > outlen) return -1;   /* room for the closing quote and NUL */
        if (esc) out[o++] = esc;
        out[o++] = (char)c;
    }
    out[o++] = '"';
    out[o] = 0;
    return 0;
}

bool ami_token_ok(const char *s, const char *extra)
{
    if (!s || !*s) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  (extra && strchr(extra, *p));
        if (!ok) return false;
    }
    return true;
}

const char *ami_reason_failure(int reason, bool *transient, const char **text)
{
    switch (reason) {
    case 4:                       /* AST_CONTROL_ANSWER */
        *transient = false;
        *text = "answered";
        return NULL;
    case 5:                       /* AST_CONTROL_BUSY */
        *transient = true;
        *text = "the line was busy";
        return "busy";
    case 2:                       /* AST_CONTROL_RING */
    case 3:                       /* AST_CONTROL_RINGING: rang until the Originate timeout */
        *transient = true;
        *text = "no answer (it rang until the timeout)";
        return "no_answer";
    case 8:                       /* AST_CONTROL_CONGESTION */
        *transient = true;
        *text = "the network was congested (no circuit available)";
        return "congestion";
    case 1:                       /* AST_CONTROL_HANGUP */
        *transient = true;
        *text = "the far end hung up before answering";
        return "line_error";
    default:                      /* 0: no channel, or failure without a cause */
        *transient = true;
        *text = "the call failed before it was answered (Asterisk gave no reason)";
        return "line_error";
    }
}

const char *ami_cause_failure(int cause, bool *transient, const char **text)
{
    *transient = true;
    switch (cause) {
    case 1: *transient = false; *text = "unallocated number (Q.850 cause 1)"; return "invalid_number";
    case 2:
    case 3: *transient = false; *text = "no route to the destination"; return "invalid_number";
    case 17: *text = "the line was busy (Q.850 cause 17)"; return "busy";
    case 18:
    case 19: *text = "no answer (Q.850 cause 19)"; return "no_answer";
    case 20: *text = "the subscriber is absent"; return "no_answer";
    case 102: *text = "no answer: the far end did not respond in time (SIP 408)"; return "no_answer";
    case 21: *transient = false; *text = "the call was rejected (Q.850 cause 21)"; return "rejected";
    case 22: *transient = false; *text = "the number has changed"; return "invalid_number";
    case 28: *transient = false; *text = "invalid number format (Q.850 cause 28)"; return "invalid_number";
    case 29: *transient = false; *text = "facility rejected"; return "rejected";
    case 27: *text = "the destination is out of order"; return "line_error";
    case 34:
    case 38:
    case 41:
    case 42:
    case 44:
    case 47: *text = "network congestion or temporary failure"; return "congestion";
    case 50:
    case 55:
    case 57: *transient = false; *text = "the call is not authorised by the trunk"; return "rejected";
    case 58:
    case 65:
    case 79:
    case 88: *transient = false; *text = "the far end refused the media offered (e.g. SIP 488)"; return "rejected";
    case 0:
    case 16:
    case 31:
    case -1: return NULL;
    default: *text = "the call failed"; return "line_error";
    }
}

int ami_sip_code(const char *sip_cause)
{
    if (!sip_cause) return 0;
    const char *p = sip_cause;
    while (*p == ' ') p++;
    if (!strncasecmp(p, "SIP", 3)) p += 3;
    while (*p == ' ' || *p == '/') p++;
    if (p[0] < '1' || p[0] > '6' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9') return 0;
    if (p[3] >= '0' && p[3] <= '9') return 0;
    return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

const char *ami_sip_advice(int sip_code)
{
    switch (sip_code) {
    case 401:
    case 407: return "the trunk wants credentials: check SIP_USERNAME and SIP_PASSWORD";
    case 403: return "forbidden: check the trunk's IP access list, the credentials, and that the caller ID "
                     "(SIP_FROM_USER) is a number the provider owns or has verified";
    case 404: return "not found: the request URI must be the trunk's termination URI (SIP_SERVER) and the "
                     "number must be in the format the provider wants (see SIP_TRUNK_PRESET)";
    case 408: return "the trunk did not answer in time: check that SIP_SERVER is reachable";
    case 484: return "the number is incomplete: check the number format for this trunk";
    case 486: return "";
    case 488: return "the far end refused the offered media (usually T.38): try audio, a preset without T.38";
    case 503: return "the provider is unavailable or out of capacity: try again later";
    default: return "";
    }
}

static bool fax_error_is(const char *e, const char *name)
{
    return e && !strcasecmp(e, name);
}

static void describe(ami_verdict *v, const char *what, const ami_call_facts *f)
{
    int code = ami_sip_code(f->sip_cause);
    const char *advice = ami_sip_advice(code);
    const char *meaning = code ? sip_trunk_error_meaning(f->trunk, code) : NULL;
    if (meaning)   /* what the trunk's provider documents for the code comes first */
        snprintf(v->message, sizeof v->message, "%s (%.60s): %s says: %s%s%s", what, f->sip_cause, f->trunk->title,
                 meaning, *advice ? "; " : "", advice);
    else if (code)
        snprintf(v->message, sizeof v->message, "%s (%.60s)%s%s", what, f->sip_cause, *advice ? ": " : "", advice);
    else
        snprintf(v->message, sizeof v->message, "%s", what);
}

void ami_judge(const ami_call_facts *f, ami_verdict *v)
{
    memset(v, 0, sizeof *v);
    const char *status = f->fax_status ? f->fax_status : "";
    const char *err = f->fax_error ? f->fax_error : "";
    if (!strcasecmp(status, "SUCCESS")) {
        v->success = true;
        snprintf(v->message, sizeof v->message, "delivered");
        return;
    }
    if (*status || f->answered) {
        /* SendFAX ran (or the call was answered): the fax itself failed. */
        const char *detail = f->status_string && *f->status_string ? f->status_string : *err ? err : "no fax result";
        if (fax_error_is(err, "FILE_ERROR")) {
            v->failure_reason = "file_error";
            v->transient = false;
            snprintf(v->message, sizeof v->message,
                     "Asterisk could not read the fax file (FILE_ERROR): the TIFF must be readable by Asterisk "
                     "at the same absolute path (share FAX_DATA_DIR with the Asterisk host)");
        } else if (fax_error_is(err, "T38_NEG_ERROR")) {
            v->failure_reason = "line_error";
            v->transient = true;
            snprintf(v->message, sizeof v->message,
                     "T.38 negotiation failed (T38_NEG_ERROR): the far end or trunk did not switch to T.38; "
                     "if the trunk cannot carry T.38, use a preset without it");
        } else if (fax_error_is(err, "INIT_ERROR") || fax_error_is(err, "ALLOCATE_ERROR") ||
                   fax_error_is(err, "MEMORY_ERROR") || fax_error_is(err, "UNSUPPORTED") ||
                   fax_error_is(err, "INVALID_ARGUMENTS")) {
            v->failure_reason = "provider_error";
            v->transient = false;
            snprintf(v->message, sizeof v->message,
                     "Asterisk could not start the fax (%s): check that res_fax and res_fax_spandsp are loaded",
                     err);
        } else if (!*status) {
            v->failure_reason = "line_error";
            v->transient = true;
            snprintf(v->message, sizeof v->message, "the call was answered but ended without a fax result");
        } else {
            v->failure_reason = "line_error";
            v->transient = true;
            snprintf(v->message, sizeof v->message, "the fax failed after the call was answered: %.200s", detail);
        }
        return;
    }
    bool transient = true;
    const char *text = NULL;
    const char *reason = ami_cause_failure(f->hangup_cause, &transient, &text);
    if (!reason) reason = ami_reason_failure(f->reason, &transient, &text);
    if (!reason) {                /* "answered" but no fax status: treat as a dropped call */
        reason = "line_error";
        transient = true;
        text = "the call ended without a fax result";
    }
    v->failure_reason = reason;
    v->transient = transient;
    describe(v, text, f);
}
