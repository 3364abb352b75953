/* signalwire_parse.c — pure parsers and status mapping for SignalWire's Compatibility
 * fax API (see signalwire_parse.h). Sources: docs/internals/protocols.md §3 (resource fields,
 * statuses, StatusCallback parameters); error codes are the Twilio-compatible ones
 * SignalWire returns (e.g. 11200 HTTP retrieval failure, 21211 invalid To).
 * Fuzzed by fuzz/fuzz_signalwire.c. */
#include "backend/signalwire_parse.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/json_get.h"

static int parse_int(const char *s, int dflt)
{
    if (!s || !*s) return dflt;
    char *end = NULL;
    long x = strtol(s, &end, 10);
    return end != s && *end == 0 && x > -1000000000 && x < 1000000000 ? (int)x : dflt;
}

static void copy_form(const form_params *p, const char *name, char *dst, size_t dstlen)
{
    const char *v = form_get(p, name);
    if (v) str_copy(dst, dstlen, v);
}

void sw_fax_from_form(const form_params *p, sw_fax *f)
{
    memset(f, 0, sizeof *f);
    copy_form(p, "FaxSid", f->sid, sizeof f->sid);
    copy_form(p, "FaxStatus", f->status, sizeof f->status);
    copy_form(p, "Direction", f->direction, sizeof f->direction);
    copy_form(p, "From", f->from, sizeof f->from);
    copy_form(p, "To", f->to, sizeof f->to);
    copy_form(p, "OriginalMediaUrl", f->media_url, sizeof f->media_url);
    if (!f->media_url[0]) copy_form(p, "MediaUrl", f->media_url, sizeof f->media_url);
    copy_form(p, "RemoteStationId", f->remote_station_id, sizeof f->remote_station_id);
    f->pages = parse_int(form_get(p, "NumPages"), -1);
    f->error_code = parse_int(form_get(p, "ErrorCode"), -1);
    copy_form(p, "ErrorMessage", f->error_message, sizeof f->error_message);
}

static void fax_from_json(json_t *o, sw_fax *f)
{
    memset(f, 0, sizeof *f);
    json_get_str(o, "sid", f->sid, sizeof f->sid);
    json_get_str(o, "status", f->status, sizeof f->status);
    json_get_str(o, "direction", f->direction, sizeof f->direction);
    json_get_str(o, "from", f->from, sizeof f->from);
    json_get_str(o, "to", f->to, sizeof f->to);
    json_get_str(o, "media_url", f->media_url, sizeof f->media_url);
    json_get_str(o, "remote_station_id", f->remote_station_id, sizeof f->remote_station_id);
    f->pages = json_get_small_int(o, "num_pages", -1);
    f->error_code = json_get_small_int(o, "error_code", -1);
    json_get_str(o, "error_message", f->error_message, sizeof f->error_message);
}

int sw_parse_fax(const char *json, size_t len, sw_fax *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->pages = out->error_code = -1;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!json_is_object(root)) {
        str_fmt(err, errlen, "expected a Fax resource (JSON object)%s%s", root ? "" : ": ", root ? "" : je.text);
        json_decref(root);
        return -1;
    }
    fax_from_json(root, out);
    json_decref(root);
    if (!out->sid[0]) {
        str_fmt(err, errlen, "the Fax resource has no sid");
        return -1;
    }
    return 0;
}

int sw_parse_fax_list(const char *json, size_t len, sw_fax *out, int max, char *next_page_uri, size_t nlen, char *err,
                      size_t errlen)
{
    if (nlen) next_page_uri[0] = 0;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!json_is_object(root)) {
        str_fmt(err, errlen, "expected a list page (JSON object)%s%s", root ? "" : ": ", root ? "" : je.text);
        json_decref(root);
        return -1;
    }
    json_t *faxes = json_object_get(root, "faxes");
    if (faxes && !json_is_array(faxes)) {
        str_fmt(err, errlen, "'faxes' is not a list");
        json_decref(root);
        return -1;
    }
    int n = 0;
    for (size_t i = 0; faxes && i < json_array_size(faxes) && n < max; i++) {
        json_t *o = json_array_get(faxes, i);
        if (!json_is_object(o)) continue;
        fax_from_json(o, &out[n]);
        if (out[n].sid[0]) n++;
    }
    if (nlen) json_get_str(root, "next_page_uri", next_page_uri, nlen);
    json_decref(root);
    return n;
}

void sw_error_text(const char *body, size_t len, char *out, size_t outlen, int *code)
{
    if (code) *code = -1;
    out[0] = 0;
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(root)) {
        json_t *msg = json_object_get(root, "message");
        int c = json_get_small_int(root, "code", -1);
        if (code) *code = c;
        if (json_is_string(msg) && c >= 0) str_fmt(out, outlen, "%s (SignalWire error %d)", json_string_value(msg), c);
        else if (json_is_string(msg)) str_copy(out, outlen, json_string_value(msg));
    } else if (body && len) {
        size_t n = cloud_line_len(body, len);
        if (n > 200) n = 200;
        str_fmt(out, outlen, "%.*s", (int)n, body);
    }
    json_decref(root);
}

bool sw_code_is_bad_number(int code)
{
    return code == 21211 || code == 21214 || code == 21217 || code == 21401 || code == 21421;
}

void sw_map_error(int code, const char **reason, bool *transient)
{
    *reason = "line_error";
    *transient = true;
    if (code < 0) return;   /* no code: the call itself went wrong */
    if (sw_code_is_bad_number(code)) {
        *reason = "invalid_number";
        *transient = false;
    } else if (code >= 11200 && code < 11300) {   /* could not fetch MediaUrl (our side may be down) */
        *reason = "provider_error";
    } else if (code >= 12300 && code < 12400) {   /* the document: bad content type / conversion */
        *reason = "conversion_error";
        *transient = false;
    } else if (code == 20429 || code == 20500 || code == 20503) {
        *reason = "provider_error";
    } else if (code >= 20000 && code < 30000) {   /* account, auth, parameters */
        *reason = "provider_error";
        *transient = false;
    }
}

void sw_verdict(const sw_fax *f, cloud_verdict *v)
{
    memset(v, 0, sizeof *v);
    const char *s = f->status;
    if (!strcasecmp(s, "queued") || !strcasecmp(s, "processing") || !strcasecmp(s, "sending") || !s[0]) {
        v->state = CLOUD_PENDING;
    } else if (!strcasecmp(s, "delivered")) {
        v->state = CLOUD_DELIVERED;
        str_copy(v->message, sizeof v->message, "delivered by SignalWire");
    } else if (!strcasecmp(s, "receiving") || !strcasecmp(s, "received")) {
        v->state = CLOUD_IGNORE;   /* an inbound fax's statuses, never an outbound attempt's */
    } else if (!strcasecmp(s, "no-answer")) {
        v->state = CLOUD_FAILED;
        v->reason = "no_answer";
        v->transient = true;
    } else if (!strcasecmp(s, "busy")) {
        v->state = CLOUD_FAILED;
        v->reason = "busy";
        v->transient = true;
    } else if (!strcasecmp(s, "canceled") || !strcasecmp(s, "cancelled")) {
        v->state = CLOUD_FAILED;
        v->reason = "cancelled";
        v->transient = false;
    } else if (!strcasecmp(s, "failed")) {
        v->state = CLOUD_FAILED;
        sw_map_error(f->error_code, &v->reason, &v->transient);
    } else {
        v->state = CLOUD_PENDING;   /* an unknown, newer status: keep waiting, poll later */
    }
    if (v->state == CLOUD_FAILED) {
        char code[40] = "";
        if (f->error_code >= 0) str_fmt(code, sizeof code, ", error %d", f->error_code);
        str_fmt(v->message, sizeof v->message, "%s (SignalWire status %s%s)",
                f->error_message[0] ? f->error_message : "the fax was not delivered", s, code);
    }
}
