/* esl_fax.h — pure FreeSWITCH fax helpers for the freeswitch backend: building the
 * `originate` command with a channel-variable list nothing can break out of,
 * reading BACKGROUND_JOB bodies, and mapping hangup causes and mod_spandsp
 * results (CUSTOM spandsp::txfaxresult headers "fax-*" or channel variables
 * "variable_fax_*" on CHANNEL_HANGUP_COMPLETE, or the hook's JSON fields) to the
 * gateway's failure vocabulary. No I/O; unit-tested and fuzzed. */
#ifndef FAXBOT_ESL_FAX_H
#define FAXBOT_ESL_FAX_H

#include <stdbool.h>
#include <stddef.h>

#include "esl/esl_parse.h"

/* Makes free text safe as a value in a FreeSWITCH `{a=b,c=d}` variable list and as
 * part of one ESL command line: control bytes (CR, LF, TAB, NUL …), non-ASCII and
 * the characters , ' " { } [ ] < > ^ $ \ | ` become spaces; runs of spaces collapse;
 * the result is trimmed and cut to maxchars. Returns true if anything changed. */
bool esl_var_clean(const char *in, char *out, size_t outlen, size_t maxchars);

/* Strict tokens (no cleaning, just yes/no):
 *   number:    "+"? followed by 2..20 digits
 *   gateway:   [A-Za-z0-9_.-]{1,64}
 *   path:      absolute, [A-Za-z0-9/._+@%=:~-] only, no "..", < 1024 bytes */
bool esl_is_number(const char *s);
bool esl_is_gateway_name(const char *s);
bool esl_is_safe_path(const char *s);
/* 8-4-4-4-12 lowercase/uppercase hex */
bool esl_is_uuid(const char *s);

typedef struct esl_originate {
    const char *job_id;          /* 32 hex */
    const char *channel_uuid;    /* becomes origination_uuid */
    const char *gateway;
    const char *number;
    const char *tiff_path;
    const char *fax_ident;       /* cleaned, max 20 */
    const char *fax_header;      /* cleaned, max 50; "" = none */
    const char *caller_id;       /* digits; "" = none */
    bool ecm;
    bool t38;
    int timeout_s;
} esl_originate;

/* "originate {faxbot_job_id=…,origination_uuid=…,fax_ident=…,fax_header='…',
 *  fax_use_ecm=…,fax_enable_t38=…,fax_enable_t38_request=…,
 *  origination_caller_id_number=…,originate_timeout=…,ignore_early_media=true}
 *  sofia/gateway/<gw>/<number> &txfax(<tiff>)" (one line, no LF).
 * Returns 0, or -1 with err when the number, gateway, path or ids are not safe
 * (those are refused, never rewritten); free text is cleaned with esl_var_clean. */
int esl_originate_build(const esl_originate *o, char *out, size_t outlen, char *err, size_t errlen);

/* A BACKGROUND_JOB body: "+OK <uuid>" → 1 with the uuid in out; "-ERR <text>" →
 * 0 with the text (e.g. "USER_BUSY") in out; anything else → -1. */
int esl_bgjob_result(const char *body, char *out, size_t outlen);

/* Failure reason for a FreeSWITCH hangup cause ("USER_BUSY", "NO_ANSWER", …);
 * *transient says whether another attempt may succeed. Unknown causes are a
 * transient line_error. */
const char *esl_cause_reason(const char *cause, bool *transient);
/* true if s looks like a hangup cause name (A-Z and _ only). */
bool esl_is_cause_name(const char *s);

/* A fax result read from an event or a hook. */
typedef struct esl_fax_result {
    int success;                 /* 1, 0, or -1 when the event carries no result */
    int result_code;             /* spandsp T30_ERR_*, -1 unknown */
    char result_text[128];
    int pages;                   /* transferred; -1 unknown */
    int total_pages;             /* -1 unknown */
    int bit_rate;                /* -1 unknown */
    int ecm;                     /* 1 on, 0 off, -1 unknown */
    bool t38;                    /* fax-t38-status is "negotiated" ("refused" when declined) */
    char remote_station_id[24];
    char hangup_cause[48];       /* CHANNEL_HANGUP_COMPLETE's Hangup-Cause, or "" */
    int sip_code;                /* variable_sip_term_status: the trunk's final SIP response (403), 0 unknown */
} esl_fax_result;

/* Reads "fax-success", "fax-result-code", … (spandsp CUSTOM events) or
 * "variable_fax_success", … (channel events), plus Hangup-Cause. */
void esl_fax_result_from_event(const esl_msg *ev, esl_fax_result *r);

/* The hook's fields (strings as sent; NULL when absent): Faxbot's documented hook
 * sends fax_status = ${fax_success} ("1"/"0"); "SUCCESS"/"OK" and
 * "FAILED"/"ERROR"/anything with "FAIL" are accepted too. Returns 1 delivered,
 * 0 failed, -1 not final (nothing to apply). */
int esl_hook_status(const char *fax_success, const char *fax_status, const char *result_text);

/* Failure reason for a failed fax result: from the spandsp code when known,
 * else from the hangup cause, else a transient line_error. */
const char *esl_fax_failure(const esl_fax_result *r, bool *transient);

#endif
