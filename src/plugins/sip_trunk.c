/* sip_trunk.c — the sip-trunk kind (see sip_trunk.h): its section checked field by
 * field, parsed into a profile the renderers read. Values that end up in PBX
 * configuration files (codecs, the error-correction mode, host rules) are checked
 * against short lists of plain words here, so a manifest cannot inject config syntax;
 * free text (notes, messages) is one line, only ever written after a comment mark. */
#include "plugins/sip_trunk.h"
#include "plugins/plugin.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

static const char *const section_keys[] = {"title", "notes", "auth", "termination", "numbers", "caller_id", "codecs",
                                           "t38", "transports", "nat", "sip_errors", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s)) return true;
    return false;
}

/* obj's keys are all in allowed */
static int only_keys(const json_t *obj, const char *at, const char *const *allowed, char *err, size_t errlen)
{
    if (!json_is_object(obj)) return str_fmt(err, errlen, "%s: must be an object", at), -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
        if (!in_list(allowed, k)) return str_fmt(err, errlen, "%s.%s: not a known attribute", at, k), -1;
    return 0;
}

static int want_bool(const json_t *obj, const char *at, const char *key, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (v && !json_is_boolean(v)) return str_fmt(err, errlen, "%s.%s: must be true or false", at, key), -1;
    return 0;
}

/* Text that goes into a config comment or an error message: one line. */
static int want_text(const json_t *obj, const char *at, const char *key, bool required, size_t max, char *err,
                     size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? (str_fmt(err, errlen, "%s.%s: missing", at, key), -1) : 0;
    if (!json_is_string(v) || json_string_length(v) > max)
        return str_fmt(err, errlen, "%s.%s: must be a string of at most %zu characters", at, key, max), -1;
    for (const char *c = json_string_value(v); *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return str_fmt(err, errlen, "%s.%s: may not contain control characters (one line)", at, key), -1;
    return 0;
}

/* A host name or a part of one: letters, digits, '.', '-'. */
static int want_host(const json_t *obj, const char *at, const char *key, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    const char *s = json_string_value(v);
    if (!s || strlen(s) > 200 ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != strlen(s))
        return str_fmt(err, errlen, "%s.%s: must be a host name (letters, digits, '.' and '-')", at, key), -1;
    return 0;
}

static int check_auth(const json_t *s, char *err, size_t errlen)
{
    const json_t *a = json_object_get(s, "auth");
    static const char *const keys[] = {"registration", "ip_auth", "digest", NULL};
    if (!a) return str_fmt(err, errlen, "sip_trunk.auth: missing ({registration, ip_auth, digest})"), -1;
    if (only_keys(a, "sip_trunk.auth", keys, err, errlen)) return -1;
    for (int i = 0; keys[i]; i++)
        if (want_bool(a, "sip_trunk.auth", keys[i], err, errlen)) return -1;
    if (!json_is_true(json_object_get(a, "ip_auth")) && !json_is_true(json_object_get(a, "digest")))
        return str_fmt(err, errlen, "sip_trunk.auth: the trunk must accept ip_auth or digest (or both)"), -1;
    if (json_is_true(json_object_get(a, "registration")) && !json_is_true(json_object_get(a, "digest")))
        return str_fmt(err, errlen, "sip_trunk.auth.registration: registering needs digest credentials"), -1;
    return 0;
}

static int check_termination(const json_t *s, char *err, size_t errlen)
{
    const json_t *t = json_object_get(s, "termination");
    if (!t) return 0;
    static const char *const keys[] = {"default_host", "host_rule", NULL};
    static const char *const rule_keys[] = {"contains", "suffix", "message", NULL};
    if (only_keys(t, "sip_trunk.termination", keys, err, errlen) ||
        want_host(t, "sip_trunk.termination", "default_host", err, errlen))
        return -1;
    const json_t *r = json_object_get(t, "host_rule");
    if (!r) return 0;
    if (only_keys(r, "sip_trunk.termination.host_rule", rule_keys, err, errlen) ||
        want_host(r, "sip_trunk.termination.host_rule", "contains", err, errlen) ||
        want_host(r, "sip_trunk.termination.host_rule", "suffix", err, errlen) ||
        want_text(r, "sip_trunk.termination.host_rule", "message", true, 300, err, errlen))
        return -1;
    if (!json_object_get(r, "contains") && !json_object_get(r, "suffix"))
        return str_fmt(err, errlen, "sip_trunk.termination.host_rule: give contains, suffix or both"), -1;
    return 0;
}

static int check_numbers(const json_t *s, char *err, size_t errlen)
{
    const json_t *n = json_object_get(s, "numbers");
    static const char *const keys[] = {"format", "plus", "tech_prefix", NULL};
    if (!n) return str_fmt(err, errlen, "sip_trunk.numbers: missing ({format: \"e164\", plus})"), -1;
    if (only_keys(n, "sip_trunk.numbers", keys, err, errlen) || want_bool(n, "sip_trunk.numbers", "plus", err, errlen))
        return -1;
    const char *f = json_string_value(json_object_get(n, "format"));
    if (!f || strcmp(f, "e164"))
        return str_fmt(err, errlen, "sip_trunk.numbers.format: must be \"e164\" (the only format the gateway dials)"), -1;
    const json_t *tp = json_object_get(n, "tech_prefix");
    if (tp && !json_is_false(tp)) {
        static const char *const tkeys[] = {"digits", "separator", NULL};
        if (only_keys(tp, "sip_trunk.numbers.tech_prefix", tkeys, err, errlen)) return -1;
        json_t *d = json_object_get(tp, "digits");
        if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > 12)
            return str_fmt(err, errlen, "sip_trunk.numbers.tech_prefix.digits: must be 0 (any) to 12"), -1;
        const char *sep = json_string_value(json_object_get(tp, "separator"));
        if (sep && (strlen(sep) > 1 || (*sep && !strchr("*#", *sep))))
            return str_fmt(err, errlen, "sip_trunk.numbers.tech_prefix.separator: must be \"*\", \"#\" or \"\""), -1;
    }
    return 0;
}

static int check_caller_id(const json_t *s, char *err, size_t errlen)
{
    const json_t *c = json_object_get(s, "caller_id");
    if (!c) return 0;
    static const char *const keys[] = {"require_e164", "message", "default_name", "send_pai", NULL};
    if (only_keys(c, "sip_trunk.caller_id", keys, err, errlen) ||
        want_bool(c, "sip_trunk.caller_id", "require_e164", err, errlen) ||
        want_bool(c, "sip_trunk.caller_id", "send_pai", err, errlen) ||
        want_text(c, "sip_trunk.caller_id", "message", false, 300, err, errlen) ||
        want_text(c, "sip_trunk.caller_id", "default_name", false, 40, err, errlen))
        return -1;
    const char *dn = json_string_value(json_object_get(c, "default_name"));
    if (dn && (strchr(dn, '"') || strchr(dn, '\\') || strchr(dn, '<') || strchr(dn, '>') || strchr(dn, '&')))
        return str_fmt(err, errlen, "sip_trunk.caller_id.default_name: may not contain quotes, backslashes, <, > or &"),
               -1;
    return 0;
}

static int check_codecs(const json_t *s, char *err, size_t errlen)
{
    const json_t *c = json_object_get(s, "codecs");
    if (!c) return str_fmt(err, errlen, "sip_trunk.codecs: missing (e.g. [\"ulaw\", \"alaw\"])"), -1;
    if (!json_is_array(c) || !json_array_size(c) || json_array_size(c) > 2)
        return str_fmt(err, errlen, "sip_trunk.codecs: must list \"ulaw\" and/or \"alaw\" (G.711 carries fax)"), -1;
    size_t i;
    json_t *v;
    json_array_foreach(c, i, v) {
        const char *n = json_string_value(v);
        if (!n || (strcmp(n, "ulaw") && strcmp(n, "alaw")))
            return str_fmt(err, errlen, "sip_trunk.codecs[%zu]: must be \"ulaw\" or \"alaw\" (G.711 carries fax; "
                           "compressed codecs break it)", i), -1;
        if (i == 1 && !strcmp(n, json_string_value(json_array_get(c, 0))))
            return str_fmt(err, errlen, "sip_trunk.codecs[1]: listed twice"), -1;
    }
    return 0;
}

static int check_t38(const json_t *s, char *err, size_t errlen)
{
    const json_t *t = json_object_get(s, "t38");
    static const char *const keys[] = {"enabled", "reinvite", "error_correction", "max_datagram", "audio_fallback",
                                       "ecm", NULL};
    if (!t) return str_fmt(err, errlen, "sip_trunk.t38: missing ({enabled, reinvite, error_correction, ...})"), -1;
    if (only_keys(t, "sip_trunk.t38", keys, err, errlen)) return -1;
    const char *bools[] = {"enabled", "reinvite", "audio_fallback", "ecm"};
    for (int i = 0; i < 4; i++)
        if (want_bool(t, "sip_trunk.t38", bools[i], err, errlen)) return -1;
    if (!json_is_boolean(json_object_get(t, "enabled")))
        return str_fmt(err, errlen, "sip_trunk.t38.enabled: missing (true or false)"), -1;
    const char *ec = json_string_value(json_object_get(t, "error_correction"));
    if (json_object_get(t, "error_correction") &&
        (!ec || (strcmp(ec, "redundancy") && strcmp(ec, "fec") && strcmp(ec, "none"))))
        return str_fmt(err, errlen, "sip_trunk.t38.error_correction: must be \"redundancy\", \"fec\" or \"none\""), -1;
    json_t *md = json_object_get(t, "max_datagram");
    if (md && (!json_is_integer(md) || json_integer_value(md) < 100 || json_integer_value(md) > 1500))
        return str_fmt(err, errlen, "sip_trunk.t38.max_datagram: must be a number of bytes from 100 to 1500"), -1;
    if (json_is_false(json_object_get(t, "enabled")) && json_is_false(json_object_get(t, "audio_fallback")))
        return str_fmt(err, errlen, "sip_trunk.t38.audio_fallback: without T.38 the fax must go as audio"), -1;
    return 0;
}

static int check_transports(const json_t *s, char *err, size_t errlen)
{
    const json_t *t = json_object_get(s, "transports");
    if (!t) return 0;
    if (!json_is_array(t) || !json_array_size(t))
        return str_fmt(err, errlen, "sip_trunk.transports: must be a non-empty array of \"udp\", \"tcp\", \"tls\""), -1;
    size_t i;
    json_t *v;
    json_array_foreach(t, i, v) {
        const char *n = json_string_value(v);
        if (!n || (strcmp(n, "udp") && strcmp(n, "tcp") && strcmp(n, "tls")))
            return str_fmt(err, errlen, "sip_trunk.transports[%zu]: must be \"udp\", \"tcp\" or \"tls\"", i), -1;
    }
    return 0;
}

static int check_nat(const json_t *s, char *err, size_t errlen)
{
    const json_t *n = json_object_get(s, "nat");
    if (!n) return 0;
    static const char *const keys[] = {"rtp_symmetric", "force_rport", "rewrite_contact", NULL};
    if (only_keys(n, "sip_trunk.nat", keys, err, errlen)) return -1;
    for (int i = 0; keys[i]; i++)
        if (want_bool(n, "sip_trunk.nat", keys[i], err, errlen)) return -1;
    return 0;
}

static int check_errors(const json_t *s, char *err, size_t errlen)
{
    const json_t *e = json_object_get(s, "sip_errors");
    if (!e) return 0;
    if (!json_is_array(e)) return str_fmt(err, errlen, "sip_trunk.sip_errors: must be an array of {code, meaning}"), -1;
    size_t i;
    json_t *v;
    static const char *const keys[] = {"code", "meaning", NULL};
    json_array_foreach(e, i, v) {
        char at[48];
        str_fmt(at, sizeof at, "sip_trunk.sip_errors[%zu]", i);
        if (only_keys(v, at, keys, err, errlen)) return -1;
        json_t *c = json_object_get(v, "code");
        if (!json_is_integer(c) || json_integer_value(c) < 300 || json_integer_value(c) > 699)
            return str_fmt(err, errlen, "%s.code: must be a SIP response code from 300 to 699", at), -1;
        if (want_text(v, at, "meaning", true, 400, err, errlen)) return -1;
    }
    return 0;
}

int sip_trunk_validate(const json_t *manifest, char *err, size_t errlen)
{
    const json_t *s = json_object_get(manifest, "sip_trunk");
    if (only_keys(s, "sip_trunk", section_keys, err, errlen) ||
        want_text(s, "sip_trunk", "title", true, 120, err, errlen) ||
        want_text(s, "sip_trunk", "notes", false, 1000, err, errlen) || check_auth(s, err, errlen) ||
        check_termination(s, err, errlen) || check_numbers(s, err, errlen) || check_caller_id(s, err, errlen) ||
        check_codecs(s, err, errlen) || check_t38(s, err, errlen) || check_transports(s, err, errlen) ||
        check_nat(s, err, errlen) || check_errors(s, err, errlen))
        return -1;
    return 0;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static bool bool_or(const json_t *o, const char *key, bool dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

sip_trunk_profile *sip_trunk_parse(const json_t *manifest, const char *id, const char *short_name)
{
    const json_t *s = json_object_get(manifest, "sip_trunk");
    sip_trunk_profile *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->name = short_name;
    t->id = id;
    t->title = str_or(s, "title", "");
    t->notes = str_or(s, "notes", "");
    const json_t *auth = json_object_get(s, "auth");
    t->registers = bool_or(auth, "registration", false);
    t->ip_auth = bool_or(auth, "ip_auth", false);
    t->digest = bool_or(auth, "digest", false);
    const json_t *term = json_object_get(s, "termination");
    t->default_server = str_or(term, "default_host", "");
    const json_t *rule = json_object_get(term, "host_rule");
    t->host_contains = str_or(rule, "contains", "");
    t->host_suffix = str_or(rule, "suffix", "");
    t->host_message = str_or(rule, "message", "");
    const json_t *num = json_object_get(s, "numbers");
    t->plus = bool_or(num, "plus", true);
    const json_t *tp = json_object_get(num, "tech_prefix");
    t->tech_prefix = json_is_object(tp);
    t->tech_prefix_digits = (int)json_integer_value(json_object_get(tp, "digits"));
    str_copy(t->tech_prefix_sep, sizeof t->tech_prefix_sep, str_or(tp, "separator", "*"));
    const json_t *cid = json_object_get(s, "caller_id");
    t->caller_id_e164 = bool_or(cid, "require_e164", false);
    t->caller_id_message = str_or(cid, "message", "");
    t->caller_id_default_name = str_or(cid, "default_name", "");
    t->send_pai = bool_or(cid, "send_pai", false);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s, "codecs"), i, v) {
        size_t l = strlen(t->codecs);
        str_fmt(t->codecs + l, sizeof t->codecs - l, "%s%s", i ? "," : "", json_string_value(v));
    }
    const json_t *t38 = json_object_get(s, "t38");
    t->t38 = bool_or(t38, "enabled", false);
    t->t38_reinvite = bool_or(t38, "reinvite", false);
    t->t38_ec = str_or(t38, "error_correction", "redundancy");
    t->t38_max_datagram = json_is_integer(json_object_get(t38, "max_datagram"))
                              ? (int)json_integer_value(json_object_get(t38, "max_datagram")) : 400;
    t->audio_fallback = bool_or(t38, "audio_fallback", true);
    t->ecm = bool_or(t38, "ecm", true);
    const json_t *tr = json_object_get(s, "transports");
    if (!tr) t->transports = SIP_TRANSPORT_UDP | SIP_TRANSPORT_TCP | SIP_TRANSPORT_TLS;
    json_array_foreach(tr, i, v) {
        const char *n = json_string_value(v);
        t->transports |= !strcmp(n, "udp") ? SIP_TRANSPORT_UDP : !strcmp(n, "tcp") ? SIP_TRANSPORT_TCP : SIP_TRANSPORT_TLS;
    }
    const json_t *nat = json_object_get(s, "nat");
    t->rtp_symmetric = bool_or(nat, "rtp_symmetric", true);
    t->force_rport = bool_or(nat, "force_rport", true);
    t->rewrite_contact = bool_or(nat, "rewrite_contact", true);
    const json_t *errs = json_object_get(s, "sip_errors");
    size_t n = json_array_size(errs);
    if (n) {
        t->errors = calloc(n, sizeof *t->errors);
        if (!t->errors) {
            free(t);
            return NULL;
        }
        json_array_foreach(errs, i, v) {
            t->errors[i].code = (int)json_integer_value(json_object_get(v, "code"));
            t->errors[i].meaning = json_string_value(json_object_get(v, "meaning"));
        }
        t->n_errors = (int)n;
    }
    return t;
}

void sip_trunk_free(sip_trunk_profile *t)
{
    if (!t) return;
    free(t->errors);
    free(t);
}

const sip_trunk_profile *sip_trunk_find(const char *name)
{
    const plugin *p = plugin_find(name);
    return p && p->kind == PLUGIN_KIND_SIP_TRUNK && p->enabled ? p->trunk : NULL;
}

const sip_trunk_profile *sip_trunk_lookup(const char *name, char *err, size_t errlen)
{
    const plugin *p = plugin_find(name);
    if (p && p->kind == PLUGIN_KIND_SIP_TRUNK && p->enabled) return p->trunk;
    if (p && p->kind == PLUGIN_KIND_SIP_TRUNK)
        str_fmt(err, errlen, "SIP_TRUNK_PRESET '%s' is the plugin %s, which is disabled (faxbot plugins enable %s)",
                name, p->id, p->id);
    else if (p)
        str_fmt(err, errlen, "SIP_TRUNK_PRESET '%s' is the plugin %s of kind %s, not a SIP trunk profile", name, p->id,
                plugin_kind_name(p->kind));
    else {
        char names[1024];
        sip_trunk_names(names, sizeof names);
        str_fmt(err, errlen, "SIP_TRUNK_PRESET '%s' is not known; choose one of: %s", name, names);
    }
    return NULL;
}

void sip_trunk_names(char *out, size_t outlen)
{
    out[0] = 0;
    for (int i = 0; i < plugin_count(); i++) {
        const plugin *p = plugin_at(i);
        if (!p || p->kind != PLUGIN_KIND_SIP_TRUNK || !p->enabled) continue;
        size_t l = strlen(out);
        str_fmt(out + l, outlen - l, "%s%s", l ? ", " : "", p->short_name);
    }
}

const char *sip_trunk_error_meaning(const sip_trunk_profile *t, int code)
{
    for (int i = 0; t && i < t->n_errors; i++)
        if (t->errors[i].code == code) return t->errors[i].meaning;
    return NULL;
}

bool sip_trunk_has_transport(const sip_trunk_profile *t, const char *transport)
{
    unsigned bit = !strcmp(transport, "udp") ? SIP_TRANSPORT_UDP : !strcmp(transport, "tcp") ? SIP_TRANSPORT_TCP
                 : !strcmp(transport, "tls") ? SIP_TRANSPORT_TLS : 0;
    return (t->transports & bit) != 0;
}
