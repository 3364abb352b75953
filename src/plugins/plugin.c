/* plugin.c — manifests: the common fields validated here (see plugin.h and
 * docs/plugins/manifest.schema.json, which says the same for other tools), the
 * kind's section handed to its hook. Every error names the field by its path,
 * `categories[1]: "messaging" is not served by this gateway (…)`, so that a person
 * writing a manifest knows what to fix. */
#include "plugins/plugin.h"
#include "plugins/sip_trunk.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* ---- kinds ---- */

static const char *const kind_names[PLUGIN_KIND_COUNT] = {"sip-trunk", "http", "native"};
static const char *const kind_sections[PLUGIN_KIND_COUNT] = {"sip_trunk", "http", "native"};
static const plugin_kind_ops *kind_hooks[PLUGIN_KIND_COUNT];
static pthread_mutex_t hooks_mu = PTHREAD_MUTEX_INITIALIZER;

const char *plugin_kind_name(plugin_kind kind)
{
    return (unsigned)kind < PLUGIN_KIND_COUNT ? kind_names[kind] : "?";
}

const char *plugin_kind_section(plugin_kind kind)
{
    return (unsigned)kind < PLUGIN_KIND_COUNT ? kind_sections[kind] : "?";
}

void plugin_kind_register(const plugin_kind_ops *ops)
{
    if (!ops || (unsigned)ops->kind >= PLUGIN_KIND_COUNT) return;
    pthread_mutex_lock(&hooks_mu);
    kind_hooks[ops->kind] = ops;
    pthread_mutex_unlock(&hooks_mu);
}

const plugin_kind_ops *plugin_kind_hooks(plugin_kind kind)
{
    if ((unsigned)kind >= PLUGIN_KIND_COUNT) return NULL;
    pthread_mutex_lock(&hooks_mu);
    const plugin_kind_ops *ops = kind_hooks[kind];
    pthread_mutex_unlock(&hooks_mu);
    return ops;
}

/* ---- categories and capabilities ---- */

typedef struct { const char *name; unsigned bit; } named_bit;

static const named_bit categories[] = {{"outbound", PLUGIN_CAT_OUTBOUND}, {"inbound", PLUGIN_CAT_INBOUND}};
/* known to Faxbot's plugin kit, but nothing in this gateway can run them */
static const char *const unserved_categories[] = {"storage", "messaging", "auth", "transform", "custom", NULL};

static const named_bit capabilities[] = {{"send_fax", PLUGIN_CAP_SEND_FAX},
                                         {"get_status", PLUGIN_CAP_GET_STATUS},
                                         {"cancel_fax", PLUGIN_CAP_CANCEL_FAX},
                                         {"receive_fax", PLUGIN_CAP_RECEIVE_FAX},
                                         {"webhook", PLUGIN_CAP_WEBHOOK}};
static const char *const unserved_capabilities[] = {"send_message", "receive_message", "store", "retrieve", "delete",
                                                    "authenticate", "transform", NULL};

static json_t *bits_json(const named_bit *t, size_t n, unsigned bits)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (bits & t[i].bit) json_array_append_new(a, json_string(t[i].name));
    return a;
}

json_t *plugin_categories_json(unsigned bits)
{
    return bits_json(categories, sizeof categories / sizeof categories[0], bits);
}

json_t *plugin_capabilities_json(unsigned bits)
{
    return bits_json(capabilities, sizeof capabilities / sizeof capabilities[0], bits);
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s)) return true;
    return false;
}

/* An array of names into bits; what the gateway cannot serve is refused saying so. */
static int parse_bits(const json_t *m, const char *key, const named_bit *t, size_t n, const char *const *unserved,
                      const char *served_text, unsigned *out, char *err, size_t errlen)
{
    *out = 0;
    json_t *a = json_object_get(m, key);
    if (!a) return str_fmt(err, errlen, "%s: missing (an array, e.g. [%s])", key, served_text), -1;
    if (!json_is_array(a) || json_array_size(a) == 0)
        return str_fmt(err, errlen, "%s: must be a non-empty array of names (%s)", key, served_text), -1;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) return str_fmt(err, errlen, "%s[%zu]: must be a string", key, i), -1;
        const char *s = json_string_value(v);
        size_t k;
        for (k = 0; k < n && strcmp(t[k].name, s); k++) {}
        if (k < n) {
            if (*out & t[k].bit) return str_fmt(err, errlen, "%s[%zu]: \"%s\" is listed twice", key, i, s), -1;
            *out |= t[k].bit;
            continue;
        }
        if (in_list(unserved, s))
            return str_fmt(err, errlen, "%s[%zu]: \"%s\" is not served by this gateway (it serves %s)", key, i, s,
                           served_text), -1;
        return str_fmt(err, errlen, "%s[%zu]: \"%s\" is not a known %s (%s)", key, i, s,
                       !strcmp(key, "categories") ? "category" : "capability", served_text), -1;
    }
    return 0;
}

/* ---- field checks ---- */

static bool matches(const char *s, const char *charset, size_t lo, size_t hi)
{
    size_t n = strlen(s);
    return n >= lo && n <= hi && strspn(s, charset) == n;
}

#define LOWER_ID "abcdefghijklmnopqrstuvwxyz0123456789-"

static bool valid_id(const char *s)
{
    return matches(s, LOWER_ID, 2, PLUGIN_ID_MAX - 2) && s[0] != '-' && s[strlen(s) - 1] != '-';
}

/* semver: MAJOR.MINOR.PATCH with an optional -prerelease */
static bool valid_version(const char *s)
{
    for (int part = 0; part < 3; part++) {
        if (!isdigit((unsigned char)*s)) return false;
        if (*s == '0' && isdigit((unsigned char)s[1])) return false;
        while (isdigit((unsigned char)*s)) s++;
        if (part < 2 && *s++ != '.') return false;
    }
    if (!*s) return true;
    return *s == '-' && matches(s + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", 1, 20);
}

static const char *str_field(const json_t *m, const char *key, bool required, size_t max, char *err, size_t errlen,
                             bool *bad)
{
    json_t *v = json_object_get(m, key);
    *bad = false;
    if (!v) {
        if (required) { str_fmt(err, errlen, "%s: missing", key); *bad = true; }
        return NULL;
    }
    if (!json_is_string(v) || (required && !json_string_length(v))) {
        str_fmt(err, errlen, "%s: must be a %sstring", key, required ? "non-empty " : "");
        *bad = true;
        return NULL;
    }
    if (json_string_length(v) > max) {
        str_fmt(err, errlen, "%s: longer than %zu characters", key, max);
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static const char *const top_keys[] = {"id", "short_name", "name", "version", "kind", "description", "author",
                                       "license", "homepage", "categories", "capabilities", "config_schema",
                                       "sip_trunk", "http", "native", NULL};
static const char *const field_keys[] = {"key", "type", "label", "help", "secret", "required", "pattern", "default",
                                         "setting", NULL};

/* glibc's regcomp builds `x+` and `x{n,m}` by copying x's tree, so stacked or nested
 * repetitions grow it exponentially: `(a|b)++++…` or `((a{99}){99}){99}` exhaust memory
 * (found by fuzz_manifest). This estimates the size of the tree regcomp would build —
 * every atom 1, a group the sum of its parts, `+` doubling what it repeats, `{n,m}`
 * multiplying it by max(n, m) + 1 — and gives up past `limit`. Returns the estimate,
 * or limit + 1; a malformed pattern (unclosed group, bracket or brace) returns 0 and is
 * left to regcomp, which refuses it as not a valid regular expression. */
#define PATTERN_MAX_COST 4096
static unsigned long pattern_cost(const char *p, unsigned long limit)
{
    unsigned long sum[32] = {0}, last[32] = {0};   /* per open group: its size so far, its last item */
    int depth = 0;
    for (; *p; p++) {
        unsigned long item = 1;
        if (*p == '(') {
            if (++depth >= 32) return limit + 1;
            sum[depth] = last[depth] = 0;
            continue;
        } else if (*p == ')' && depth > 0) {
            item = sum[depth] ? sum[depth] : 1;
            depth--;
        } else if (*p == '+' || *p == '{') {
            unsigned long times = 2;
            if (*p == '{') {
                char *end;
                unsigned long n = strtoul(p + 1, &end, 10), m = n;
                if (*end == ',') m = isdigit((unsigned char)end[1]) ? strtoul(end + 1, &end, 10) : n;
                while (*end && *end != '}') end++;
                if (!*end) return 0;
                p = end;
                times = (m > n ? m : n) + 1;
            }
            if (times > limit) return limit + 1;
            unsigned long grown = last[depth] * times;
            sum[depth] += grown - last[depth];
            last[depth] = grown;
            if (sum[depth] > limit) return limit + 1;
            continue;
        } else if (*p == '*' || *p == '?' || *p == '|' || *p == '^' || *p == '$') {
            continue;
        } else if (*p == '\\') {
            if (p[1]) p++;
        } else if (*p == '[') {
            const char *q = p + 1;
            if (*q == '^') q++;
            if (*q == ']') q++;
            while (*q && *q != ']') q++;
            if (!*q) return 0;
            p = q;
        }
        sum[depth] += item;
        last[depth] = item;
        if (sum[depth] > limit) return limit + 1;
    }
    return depth ? 0 : sum[0];
}

static int check_field(const json_t *f, size_t i, char *err, size_t errlen)
{
    char at[64];
    str_fmt(at, sizeof at, "config_schema.fields[%zu]", i);
    if (!json_is_object(f)) return str_fmt(err, errlen, "%s: must be an object", at), -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)f, k, v)
        if (!in_list(field_keys, k)) return str_fmt(err, errlen, "%s.%s: not a field attribute", at, k), -1;
    const char *key = json_string_value(json_object_get(f, "key"));
    if (!key || !matches(key, "abcdefghijklmnopqrstuvwxyz0123456789_", 1, 40) || !islower((unsigned char)key[0]))
        return str_fmt(err, errlen, "%s.key: must be a name of lowercase letters, digits and '_' (e.g. \"api_key\")",
                       at), -1;
    const char *type = json_string_value(json_object_get(f, "type"));
    if (!type || (strcmp(type, "string") && strcmp(type, "integer") && strcmp(type, "boolean")))
        return str_fmt(err, errlen, "%s.type: must be \"string\", \"integer\" or \"boolean\"", at), -1;
    json_t *label = json_object_get(f, "label");
    if (!json_is_string(label) || !json_string_length(label))
        return str_fmt(err, errlen, "%s.label: missing (the text shown next to the field)", at), -1;
    json_t *help = json_object_get(f, "help");
    if (help && !json_is_string(help)) return str_fmt(err, errlen, "%s.help: must be a string", at), -1;
    const char *flags[] = {"secret", "required"};
    for (int j = 0; j < 2; j++) {
        json_t *b = json_object_get(f, flags[j]);
        if (b && !json_is_boolean(b)) return str_fmt(err, errlen, "%s.%s: must be true or false", at, flags[j]), -1;
    }
    json_t *pat = json_object_get(f, "pattern");
    if (pat) {
        if (!json_is_string(pat) || strcmp(type, "string"))
            return str_fmt(err, errlen, "%s.pattern: must be a regular expression string, on a string field", at), -1;
        if (strlen(json_string_value(pat)) > 256 || pattern_cost(json_string_value(pat), PATTERN_MAX_COST) > PATTERN_MAX_COST)
            return str_fmt(err, errlen, "%s.pattern: too long or too many nested repetitions (at most 256 characters)",
                           at), -1;
        regex_t re;
        if (regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB))
            return str_fmt(err, errlen, "%s.pattern: not a valid regular expression", at), -1;
        regfree(&re);
    }
    json_t *d = json_object_get(f, "default");
    if (d && !((!strcmp(type, "string") && json_is_string(d)) || (!strcmp(type, "integer") && json_is_integer(d)) ||
               (!strcmp(type, "boolean") && json_is_boolean(d))))
        return str_fmt(err, errlen, "%s.default: must be a %s", at, type), -1;
    json_t *s = json_object_get(f, "setting");
    if (s && (!json_is_string(s) || !matches(json_string_value(s), "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", 2, 63)))
        return str_fmt(err, errlen, "%s.setting: must be a settings name in capitals (e.g. \"SIP_SERVER\")", at), -1;
    return 0;
}

static int check_config_schema(const json_t *m, char *err, size_t errlen)
{
    json_t *cs = json_object_get(m, "config_schema");
    if (!cs) return 0;
    if (!json_is_object(cs)) return str_fmt(err, errlen, "config_schema: must be an object {\"fields\": [...]}"), -1;
    const char *k;
    json_t *v;
    json_object_foreach(cs, k, v)
        if (strcmp(k, "fields")) return str_fmt(err, errlen, "config_schema.%s: not a config_schema attribute", k), -1;
    json_t *fields = json_object_get(cs, "fields");
    if (!json_is_array(fields)) return str_fmt(err, errlen, "config_schema.fields: must be an array"), -1;
    size_t i, j;
    json_t *f;
    json_array_foreach(fields, i, f) {
        if (check_field(f, i, err, errlen)) return -1;
        for (j = 0; j < i; j++)
            if (!strcmp(json_string_value(json_object_get(json_array_get(fields, j), "key")),
                        json_string_value(json_object_get(f, "key"))))
                return str_fmt(err, errlen, "config_schema.fields[%zu].key: \"%s\" is used twice", i,
                               json_string_value(json_object_get(f, "key"))), -1;
    }
    return 0;
}

/* The common fields; sets *kind. */
static int check_common(const json_t *m, plugin_kind *kind, unsigned *cats, unsigned *caps, char *err, size_t errlen)
{
    if (!json_is_object(m)) return str_fmt(err, errlen, "manifest: must be a JSON object"), -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
        if (!in_list(top_keys, k)) return str_fmt(err, errlen, "%s: not a manifest field", k), -1;
    bool bad;
    const char *id = str_field(m, "id", true, 64, err, errlen, &bad);
    if (bad) return -1;
    if (!valid_id(id))
        return str_fmt(err, errlen, "id: \"%s\" must be 2 to %d lowercase letters, digits and '-' (e.g. "
                       "\"faxbot-sip-flowroute\")", id, PLUGIN_ID_MAX - 2), -1;
    const char *sn = str_field(m, "short_name", false, 64, err, errlen, &bad);
    if (bad) return -1;
    if (sn && !valid_id(sn)) return str_fmt(err, errlen, "short_name: must be lowercase letters, digits and '-'"), -1;
    str_field(m, "name", true, 127, err, errlen, &bad);
    if (bad) return -1;
    const char *ver = str_field(m, "version", true, 31, err, errlen, &bad);
    if (bad) return -1;
    if (!valid_version(ver)) return str_fmt(err, errlen, "version: \"%s\" is not a semantic version (1.0.0)", ver), -1;
    const char *texts[] = {"description", "author", "license", "homepage"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        str_field(m, texts[i], false, 2000, err, errlen, &bad);
        if (bad) return -1;
    }
    const char *kn = str_field(m, "kind", true, 32, err, errlen, &bad);
    if (bad) return -1;
    int ki;
    for (ki = 0; ki < PLUGIN_KIND_COUNT && strcmp(kind_names[ki], kn); ki++) {}
    if (ki == PLUGIN_KIND_COUNT)
        return str_fmt(err, errlen, "kind: \"%s\" is not a plugin kind (sip-trunk, http or native)", kn), -1;
    *kind = (plugin_kind)ki;
    if (parse_bits(m, "categories", categories, sizeof categories / sizeof categories[0], unserved_categories,
                   "\"outbound\" and \"inbound\" fax", cats, err, errlen))
        return -1;
    if (parse_bits(m, "capabilities", capabilities, sizeof capabilities / sizeof capabilities[0],
                   unserved_capabilities, "send_fax, get_status, cancel_fax, receive_fax and webhook", caps, err,
                   errlen))
        return -1;
    if ((*cats & PLUGIN_CAT_OUTBOUND) && !(*caps & PLUGIN_CAP_SEND_FAX))
        return str_fmt(err, errlen, "capabilities: an \"outbound\" plugin must list \"send_fax\""), -1;
    if ((*caps & PLUGIN_CAP_SEND_FAX) && !(*cats & PLUGIN_CAT_OUTBOUND))
        return str_fmt(err, errlen, "categories: a plugin with \"send_fax\" must list \"outbound\""), -1;
    if ((*caps & PLUGIN_CAP_RECEIVE_FAX) && !(*cats & PLUGIN_CAT_INBOUND))
        return str_fmt(err, errlen, "categories: a plugin with \"receive_fax\" must list \"inbound\""), -1;
    if ((*cats & PLUGIN_CAT_INBOUND) && !(*caps & PLUGIN_CAP_RECEIVE_FAX))
        return str_fmt(err, errlen, "capabilities: an \"inbound\" plugin must list \"receive_fax\""), -1;
    if (check_config_schema(m, err, errlen)) return -1;
    for (int i = 0; i < PLUGIN_KIND_COUNT; i++) {
        json_t *sec = json_object_get(m, kind_sections[i]);
        if (i == ki && !json_is_object(sec))
            return str_fmt(err, errlen, "%s: missing (a %s plugin describes itself in its \"%s\" object)",
                           kind_sections[i], kind_names[i], kind_sections[i]), -1;
        if (i != ki && sec)
            return str_fmt(err, errlen, "%s: a %s plugin has no \"%s\" section", kind_sections[i], kind_names[ki],
                           kind_sections[i]), -1;
    }
    return 0;
}

/* Room after the fields array for the texts made here: each field's settings row
 * name (PLUGIN_<ID>_<KEY> when the manifest gives none) and its default as text. */
#define FIELD_SETTING_MAX 112
#define FIELD_DEFAULT_MAX 32

static void fill_fields(plugin *p)
{
    json_t *fields = json_object_get(json_object_get(p->manifest, "config_schema"), "fields");
    size_t n = json_array_size(fields);
    if (!n) return;
    p->fields = calloc(1, n * (sizeof *p->fields + FIELD_SETTING_MAX + FIELD_DEFAULT_MAX));
    if (!p->fields) return;
    char *pool = (char *)(p->fields + n);
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        plugin_field *pf = &p->fields[i];
        char *setting = pool + i * (FIELD_SETTING_MAX + FIELD_DEFAULT_MAX), *dtext = setting + FIELD_SETTING_MAX;
        pf->key = json_string_value(json_object_get(f, "key"));
        pf->type = json_string_value(json_object_get(f, "type"));
        pf->label = json_string_value(json_object_get(f, "label"));
        pf->help = json_string_value(json_object_get(f, "help"));
        if (!pf->help) pf->help = "";
        pf->pattern = json_string_value(json_object_get(f, "pattern"));
        if (!pf->pattern) pf->pattern = "";
        pf->secret = json_is_true(json_object_get(f, "secret"));
        pf->required = json_is_true(json_object_get(f, "required"));
        json_t *d = json_object_get(f, "default");
        if (json_is_string(d)) str_copy(dtext, FIELD_DEFAULT_MAX, json_string_value(d));
        else if (json_is_integer(d)) str_fmt(dtext, FIELD_DEFAULT_MAX, "%lld", (long long)json_integer_value(d));
        else if (d) str_copy(dtext, FIELD_DEFAULT_MAX, json_is_true(d) ? "true" : "false");
        pf->dflt = dtext;
        const char *given = json_string_value(json_object_get(f, "setting"));
        if (given) str_copy(setting, FIELD_SETTING_MAX, given);
        else {
            str_fmt(setting, FIELD_SETTING_MAX, "PLUGIN_%s_%s", p->id, pf->key);
            for (char *c = setting; *c; c++) *c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        }
        pf->setting = setting;
    }
    p->n_fields = (int)n;
}

plugin *plugin_from_json(const json_t *manifest, const char *dir, char *err, size_t errlen)
{
    plugin_kind kind;
    unsigned cats = 0, caps = 0;
    if (check_common(manifest, &kind, &cats, &caps, err, errlen)) return NULL;
    if (kind == PLUGIN_KIND_SIP_TRUNK) {
        if (sip_trunk_validate(manifest, err, errlen)) return NULL;
    } else {
        const plugin_kind_ops *ops = plugin_kind_hooks(kind);
        if (ops && ops->validate && ops->validate(manifest, err, errlen)) return NULL;
    }
    plugin *p = calloc(1, sizeof *p);
    if (!p) return str_fmt(err, errlen, "out of memory"), NULL;
    p->manifest = json_deep_copy(manifest);
    if (!p->manifest) {
        free(p);
        return str_fmt(err, errlen, "out of memory"), NULL;
    }
    str_copy(p->id, sizeof p->id, json_string_value(json_object_get(manifest, "id")));
    const char *sn = json_string_value(json_object_get(manifest, "short_name"));
    str_copy(p->short_name, sizeof p->short_name, sn ? sn : p->id);
    str_copy(p->name, sizeof p->name, json_string_value(json_object_get(manifest, "name")));
    str_copy(p->version, sizeof p->version, json_string_value(json_object_get(manifest, "version")));
    p->kind = kind;
    p->categories = cats;
    p->capabilities = caps;
    p->enabled = true;
    p->source = PLUGIN_INSTALLED;
    str_copy(p->dir, sizeof p->dir, dir ? dir : "");
    p->section = json_object_get(p->manifest, kind_sections[kind]);
    fill_fields(p);
    if (kind == PLUGIN_KIND_SIP_TRUNK) {
        p->trunk = sip_trunk_parse(p->manifest, p->id, p->short_name);
        if (!p->trunk) {
            plugin_free(p);
            return str_fmt(err, errlen, "out of memory"), NULL;
        }
    }
    return p;
}

plugin *plugin_parse(const char *text, size_t len, const char *dir, char *err, size_t errlen)
{
    json_error_t je;
    json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!m) {
        str_fmt(err, errlen, "manifest: not valid JSON (line %d, column %d: %s)", je.line, je.column, je.text);
        return NULL;
    }
    plugin *p = plugin_from_json(m, dir, err, errlen);
    json_decref(m);
    return p;
}

void plugin_free(plugin *p)
{
    if (!p) return;
    sip_trunk_free(p->trunk);
    free(p->fields);
    json_decref(p->manifest);
    free(p);
}
