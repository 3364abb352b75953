/* esl_fax.c — FreeSWITCH fax helpers (see esl_fax.h): originate builder with
 * escaping, BACKGROUND_JOB bodies, hangup causes and mod_spandsp results. */
#include "esl/esl_fax.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fax/fax_engine.h"
#include "util/util.h"

static bool forbidden_in_value(unsigned char c)
{
    if (c < 0x20 || c >= 0x7f) return true;
    return strchr(",'\"{}[]<>^$\\|`", c) != NULL;
}

bool esl_var_clean(const char *in, char *out, size_t outlen, size_t maxchars)
{
    if (!outlen) return true;
    bool changed = false;
    size_t o = 0;
    bool space = true;   /* drops leading spaces */
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p; p++) {
        unsigned char c = *p;
        if (forbidden_in_value(c)) { c = ' '; changed = true; }
        if (c == ' ') {
            if (space) { if (*p == ' ') changed = true; continue; }
            space = true;
        } else {
            space = false;
        }
        if (o + 1 >= outlen || o >= maxchars) { changed = true; break; }
        out[o++] = (char)c;
    }
    while (o && out[o - 1] == ' ') { o--; changed = true; }
    out[o] = 0;
    return changed;
}

bool esl_is_number(const char *s)
{
    if (!s) return false;
    if (*s == '+') s++;
    size_t n = 0;
    for (; *s; s++, n++)
        if (*s < '0' || *s > '9') return false;
    return n >= 2 && n <= 20;
}

bool esl_is_gateway_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s)) return false;
    return true;
}

bool esl_is_safe_path(const char *s)
{
    if (!s || s[0] != '/' || strlen(s) >= 1024 || strstr(s, "..")) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("/._+@%=:~-", *s)) return false;
    return true;
}

bool esl_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static bool is_hex32(const char *s)
{
    if (!s || strlen(s) != 32) return false;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s)) return false;
    return true;
}

static bool is_digits(const char *s, size_t max)
{
    if (*s == '+') s++;
    size_t n = 0;
    for (; *s; s++, n++)
        if (*s < '0' || *s > '9') return false;
    return n >= 1 && n <= max;
}

/* Appends ",name=value" (value cleaned; quoted when it holds a space). */
static void add_var(strbuf *sb, bool *first, const char *name, const char *value, size_t maxchars)
{
    char clean[128];
    esl_var_clean(value, clean, sizeof clean, maxchars);
    if (!clean[0]) return;
    bool quote = strchr(clean, ' ') != NULL;
    sb_appendf(sb, "%s%s=%s%s%s", *first ? "" : ",", name, quote ? "'" : "", clean, quote ? "'" : "");
    *first = false;
}

int esl_originate_build(const esl_originate *o, char *out, size_t outlen, char *err, size_t errlen)
{
    if (!is_hex32(o->job_id)) { str_fmt(err, errlen, "job id is not 32 hex digits"); return -1; }
    if (!esl_is_uuid(o->channel_uuid)) { str_fmt(err, errlen, "channel uuid is malformed"); return -1; }
    if (!esl_is_gateway_name(o->gateway)) {
        str_fmt(err, errlen, "FREESWITCH_GATEWAY_NAME may only hold letters, digits, '_', '.' and '-'");
        return -1;
    }
    if (!esl_is_number(o->number)) {
        str_fmt(err, errlen, "the destination is not a plain phone number (+ and 2 to 20 digits)");
        return -1;
    }
    if (!esl_is_safe_path(o->tiff_path)) {
        str_fmt(err, errlen, "the TIFF path has characters FreeSWITCH cannot take in a dial string "
                             "(use a FAX_DATA_DIR made of letters, digits and / . _ - only)");
        return -1;
    }
    if (o->caller_id && o->caller_id[0] && !is_digits(o->caller_id, 20)) {
        str_fmt(err, errlen, "the caller id number is not digits");
        return -1;
    }
    strbuf sb;
    sb_init(&sb);
    bool first = true;
    sb_puts(&sb, "originate {");
    add_var(&sb, &first, "faxbot_job_id", o->job_id, 32);
    add_var(&sb, &first, "origination_uuid", o->channel_uuid, 36);
    add_var(&sb, &first, "fax_ident", o->fax_ident, FAX_STATION_ID_MAX);
    add_var(&sb, &first, "fax_header", o->fax_header, FAX_HEADER_MAX);
    add_var(&sb, &first, "fax_use_ecm", o->ecm ? "true" : "false", 8);
    add_var(&sb, &first, "fax_enable_t38", o->t38 ? "true" : "false", 8);
    add_var(&sb, &first, "fax_enable_t38_request", o->t38 ? "true" : "false", 8);
    add_var(&sb, &first, "origination_caller_id_number", o->caller_id, 21);
    char t[16];
    str_fmt(t, sizeof t, "%d", o->timeout_s > 0 ? o->timeout_s : 60);
    add_var(&sb, &first, "originate_timeout", t, 8);
    add_var(&sb, &first, "ignore_early_media", "true", 8);
    sb_appendf(&sb, "}sofia/gateway/%s/%s &txfax(%s)", o->gateway, o->number, o->tiff_path);
    int rc = 0;
    if (!sb.data || strpbrk(sb.data, "\r\n") || str_copy(out, outlen, sb.data)) {
        str_fmt(err, errlen, "the originate command does not fit");
        rc = -1;
    }
    sb_free(&sb);
    return rc;
}

int esl_bgjob_result(const char *body, char *out, size_t outlen)
{
    if (outlen) out[0] = 0;
    if (!body) return -1;
    while (*body == ' ' || *body == '\n' || *body == '\r') body++;
    int kind;
    if (!strncmp(body, "+OK", 3)) kind = 1;
    else if (!strncmp(body, "-ERR", 4)) kind = 0;
    else return -1;
    const char *p = body + (kind ? 3 : 4);
    while (*p == ' ') p++;
    size_t n = strcspn(p, "\r\n");
    while (n && p[n - 1] == ' ') n--;
    if (n >= outlen) n = outlen ? outlen - 1 : 0;
    if (outlen) {
        memcpy(out, p, n);
        out[n] = 0;
    }
    return kind;
}

bool esl_is_cause_name(const char *s)
{
    if (!s || !*s) return false;
    for (; *s; s++)
        if (!(*s >= 'A' && *s <= 'Z') && *s != '_' && !(*s >= '0' && *s <= '9')) return false;
    return true;
}

typedef struct { const char *cause, *reason; bool transient; } cause_map;

static const cause_map causes[] = {
    { "USER_BUSY", "busy", true },
    { "NO_ANSWER", "no_answer", true },
    { "NO_USER_RESPONSE", "no_answer", true },
    { "SUBSCRIBER_ABSENT", "no_answer", true },
    { "ALLOTTED_TIMEOUT", "no_answer", true },
    { "PROGRESS_TIMEOUT", "no_answer", true },
    { "CALL_REJECTED", "rejected", false },
    { "NUMBER_CHANGED", "rejected", false },
    { "OUTGOING_CALL_BARRED", "rejected", false },
    { "INCOMING_CALL_BARRED", "rejected", false },
    { "FACILITY_REJECTED", "rejected", false },
    { "BEARERCAPABILITY_NOTAUTH", "rejected", false },
    { "UNALLOCATED_NUMBER", "invalid_number", false },
    { "NO_ROUTE_DESTINATION", "invalid_number", false },
    { "NO_ROUTE_TRANSIT_NET", "invalid_number", false },
    { "INVALID_NUMBER_FORMAT", "invalid_number", false },
    { "NORMAL_CIRCUIT_CONGESTION", "congestion", true },
    { "SWITCH_CONGESTION", "congestion", true },
    { "REQUESTED_CHAN_UNAVAIL", "congestion", true },
    { "NORMAL_TEMPORARY_FAILURE", "network_error", true },
    { "NETWORK_OUT_OF_ORDER", "network_error", true },
    { "DESTINATION_OUT_OF_ORDER", "network_error", true },
    { "RECOVERY_ON_TIMER_EXPIRE", "network_error", true },
    { "GATEWAY_DOWN", "network_error", true },
    { "MEDIA_TIMEOUT", "line_error", true },
    { "INCOMPATIBLE_DESTINATION", "line_error", false },
    { "BEARERCAPABILITY_NOTIMPL", "line_error", false },
    { "SERVICE_NOT_IMPLEMENTED", "line_error", false },
    { "CHAN_NOT_IMPLEMENTED", "provider_error", false },
    { "INVALID_GATEWAY", "provider_error", false },
    { "INVALID_PROFILE", "provider_error", false },
    { "ORIGINATOR_CANCEL", "cancelled", false },
    { "MANAGER_REQUEST", "cancelled", false },
    { "NORMAL_CLEARING", "line_error", true },
};

const char *esl_cause_reason(const char *cause, bool *transient)
{
    for (size_t i = 0; cause && i < sizeof causes / sizeof causes[0]; i++) {
        if (!strcasecmp(cause, causes[i].cause)) {
            if (transient) *transient = causes[i].transient;
            return causes[i].reason;
        }
    }
    if (transient) *transient = true;
    return "line_error";
}

/* The value of "fax-<key>" or "variable_fax_<key>" (dashes become underscores). */
static const char *fax_field(const esl_msg *ev, const char *key)
{
    char name[96];
    str_fmt(name, sizeof name, "fax-%s", key);
    const char *v = esl_msg_get(ev, name);
    if (v) return v;
    str_fmt(name, sizeof name, "variable_fax_%s", key);
    for (char *p = name; *p; p++)
        if (*p == '-') *p = '_';
    return esl_msg_get(ev, name);
}

static int int_or(const char *s, int dflt)
{
    if (!s || !*s) return dflt;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0 || v > 100000000) return dflt;
    return (int)v;
}

void esl_fax_result_from_event(const esl_msg *ev, esl_fax_result *r)
{
    memset(r, 0, sizeof *r);
    const char *succ = fax_field(ev, "success");
    r->success = !succ || !*succ ? -1 : !strcmp(succ, "1") ? 1 : 0;
    r->result_code = int_or(fax_field(ev, "result-code"), -1);
    str_copy(r->result_text, sizeof r->result_text, fax_field(ev, "result-text"));
    r->pages = int_or(fax_field(ev, "document-transferred-pages"), -1);
    r->total_pages = int_or(fax_field(ev, "document-total-pages"), -1);
    r->bit_rate = int_or(fax_field(ev, "transfer-rate"), -1);
    const char *ecm = fax_field(ev, "ecm-used");
    r->ecm = !ecm || !*ecm ? -1 : (!strcasecmp(ecm, "on") || !strcmp(ecm, "1") || !strcasecmp(ecm, "true")) ? 1 : 0;
    const char *t38 = fax_field(ev, "t38-status");
    /* mod_spandsp says "negotiated", or "off" / "refused" (asked for, the far end said no) */
    r->t38 = t38 && !strcasecmp(t38, "negotiated");
    char tmp[64];
    esl_var_clean(fax_field(ev, "remote-station-id"), tmp, sizeof tmp, 20);
    str_copy(r->remote_station_id, sizeof r->remote_station_id, tmp);
    const char *cause = esl_msg_get(ev, "Hangup-Cause");
    if (!cause) cause = esl_msg_get(ev, "variable_hangup_cause");
    if (cause && esl_is_cause_name(cause)) str_copy(r->hangup_cause, sizeof r->hangup_cause, cause);
    const char *sip = esl_msg_get(ev, "variable_sip_term_status");
    if (sip && strlen(sip) == 3 && strspn(sip, "0123456789") == 3 && atoi(sip) >= 300 && atoi(sip) <= 699)
        r->sip_code = atoi(sip);
}

int esl_hook_status(const char *fax_success, const char *fax_status, const char *result_text)
{
    const char *s = fax_success && *fax_success ? fax_success
                    : fax_status && *fax_status ? fax_status : result_text;
    if (!s || !*s) return -1;
    if (!strcmp(s, "1") || !strcasecmp(s, "SUCCESS") || !strcasecmp(s, "OK") || !strcasecmp(s, "true")) return 1;
    if (!strcmp(s, "0") || !strcasecmp(s, "false") || strcasestr(s, "FAIL") || !strcasecmp(s, "ERROR")) return 0;
    return -1;
}

const char *esl_fax_failure(const esl_fax_result *r, bool *transient)
{
    if (r->result_code > 0) return fax_failure_reason(r->result_code, transient);
    if (r->hangup_cause[0] && strcasecmp(r->hangup_cause, "NORMAL_CLEARING"))
        return esl_cause_reason(r->hangup_cause, transient);
    if (transient) *transient = true;
    return "line_error";
}
