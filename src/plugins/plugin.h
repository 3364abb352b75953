/* plugin.h — plugins: a provider described by a manifest.json instead of compiled in.
 * A manifest has common fields (id, name, version, categories, capabilities, kind,
 * config_schema) this module validates, and one section of its kind ("sip_trunk",
 * "http", "native") that the kind's runtime validates through the hook table below.
 * Plugins come from two places: bundled (embedded in the binary from plugins/bundled/)
 * and installed ($FAX_DATA_DIR/plugins/<id>/manifest.json). Loading a plugin never
 * runs code: a native plugin's shared object is only opened by its kind's backend
 * factory when FAX_BACKEND names it.
 *
 * Floor: plugins/ sits with ami/, esl/, fax/ (below backend/): it never includes
 * backend/ or anything above. Runtimes that live higher (backend/) register their
 * kind's hooks with plugin_kind_register() at start (backend/backend_plugins.c).
 *
 * Threads: plugins_load() runs at start before serving. plugin_find/plugin_at are
 * safe from any thread; a plugin pointer stays valid until plugins_shutdown()
 * (a removed or reloaded plugin is retired, not freed). */
#ifndef FAXBOT_PLUGIN_H
#define FAXBOT_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

struct json_t;
struct backend_ops;

#define PLUGIN_ID_MAX 48         /* ids: ^[a-z0-9][a-z0-9-]{1,46}$ */

typedef enum {
    PLUGIN_KIND_SIP_TRUNK = 0,   /* "sip-trunk": a trunk profile for the sip/freeswitch backends; section "sip_trunk" */
    PLUGIN_KIND_HTTP = 1,        /* "http": a declarative cloud fax provider; section "http" */
    PLUGIN_KIND_NATIVE = 2,      /* "native": a shared object (faxbot_plugin.h ABI); section "native" */
} plugin_kind;
#define PLUGIN_KIND_COUNT 3

/* categories: what the gateway can serve. "storage", "messaging", "auth", … are
 * refused by the validator with a message saying the gateway does not serve them. */
#define PLUGIN_CAT_OUTBOUND  (1u << 0)
#define PLUGIN_CAT_INBOUND   (1u << 1)

/* capabilities */
#define PLUGIN_CAP_SEND_FAX    (1u << 0)
#define PLUGIN_CAP_GET_STATUS  (1u << 1)
#define PLUGIN_CAP_CANCEL_FAX  (1u << 2)
#define PLUGIN_CAP_RECEIVE_FAX (1u << 3)
#define PLUGIN_CAP_WEBHOOK     (1u << 4)

typedef enum { PLUGIN_BUNDLED = 0, PLUGIN_INSTALLED = 1 } plugin_source;

/* One entry of config_schema.fields: what a person fills in (the console renders
 * its form from these). Every field is a row of the settings table (config/settings.h):
 * `setting` names it — given in the manifest for fields that reuse an existing row
 * (sip-trunk: "SIP_SERVER"), else PLUGIN_<ID>_<KEY> in upper case with '-' as '_'.
 * Secret fields are masked and encrypted like every other secret. */
typedef struct plugin_field {
    const char *key;             /* ^[a-z][a-z0-9_]*$ */
    const char *type;            /* "string", "integer", "boolean" */
    const char *label;
    const char *help;            /* "" when absent */
    const char *pattern;         /* POSIX extended regex a string value must match; "" = none */
    const char *dflt;            /* default as text; "" = none */
    const char *setting;         /* settings row name */
    bool secret;
    bool required;
} plugin_field;

typedef struct plugin {
    char id[PLUGIN_ID_MAX];      /* "faxbot-sip-twilio" */
    char short_name[PLUGIN_ID_MAX]; /* manifest "short_name" or the id ("twilio": SIP_TRUNK_PRESET=twilio) */
    char name[128];              /* "Twilio Elastic SIP Trunking" */
    char version[32];            /* semver "1.0.0" */
    plugin_kind kind;
    unsigned categories;         /* PLUGIN_CAT_* */
    unsigned capabilities;       /* PLUGIN_CAP_* */
    bool enabled;                /* installed plugins can be disabled; FAX_BACKEND refuses a disabled one */
    plugin_source source;
    char dir[1024];              /* the plugin's folder; "" for bundled ones */
    struct json_t *manifest;     /* the whole validated manifest (owned; read-only) */
    const struct json_t *section;/* manifest's kind section (borrowed from manifest) */
    plugin_field *fields;        /* config_schema.fields (strings borrowed from manifest) */
    int n_fields;
    struct sip_trunk_profile *trunk; /* sip-trunk kind: its parsed section (plugins/sip_trunk.h); else NULL */
} plugin;

/* ---- the kinds' hooks ---- */

typedef struct plugin_kind_ops {
    plugin_kind kind;
    /* Checks the kind's own section of a manifest whose common fields are already
     * valid. 0, or -1 with err naming the field by its path, e.g.
     * `http.actions.send_fax.url: host "x.example" is not in http.allowed_hosts`.
     * NULL: the section is only required to be an object. */
    int (*validate)(const struct json_t *manifest, char *err, size_t errlen);
    /* The backend that serves FAX_BACKEND=<p->id> (an outbound plugin of this kind);
     * its ops->name must be p->id. Its create() finds its plugin with
     * plugin_find(cfg->backend). NULL with err when this plugin cannot send.
     * NULL hook: the kind is not selectable as FAX_BACKEND. */
    const struct backend_ops *(*backend)(const plugin *p, char *err, size_t errlen);
    /* POST /admin/plugins/http/validate: a dry run of a manifest (already validated)
     * with the request body {manifest, credentials?, settings?, to?, file_url?,
     * from_number?, render_only}; returns the response object and sets *status
     * (200, or 4xx with {"detail"}). NULL hook: the route answers 501. */
    struct json_t *(*dry_run)(const struct json_t *manifest, const struct json_t *request, int *status);
} plugin_kind_ops;

/* Registers (or replaces) the hooks of ops->kind. Call at start, before plugins_load. */
void plugin_kind_register(const plugin_kind_ops *ops);
/* The registered hooks of a kind, or NULL. */
const plugin_kind_ops *plugin_kind_hooks(plugin_kind kind);

/* "sip-trunk", "http", "native" */
const char *plugin_kind_name(plugin_kind kind);
/* "sip_trunk", "http", "native": the manifest key of the kind's section */
const char *plugin_kind_section(plugin_kind kind);

/* ---- manifests ---- */

/* Parses and validates manifest text (common fields, then the kind's hook). Returns a
 * new plugin (source PLUGIN_INSTALLED, dir as given, enabled) or NULL with err naming
 * the field, e.g. `categories[1]: "messaging" is not served by this gateway`. */
plugin *plugin_parse(const char *text, size_t len, const char *dir, char *err, size_t errlen);
/* The same for a manifest already parsed (not stolen). */
plugin *plugin_from_json(const struct json_t *manifest, const char *dir, char *err, size_t errlen);
void plugin_free(plugin *p);

/* Names of the bits, for JSON output: a new array of strings. */
struct json_t *plugin_categories_json(unsigned categories);
struct json_t *plugin_capabilities_json(unsigned capabilities);

/* ---- the set of plugins ---- */

/* Loads the bundled plugins and those installed under <data_dir>/plugins/ (enabled
 * or not per <data_dir>/plugins/state.json), replacing the previous set. An installed
 * plugin that does not validate is skipped and remembered in plugins_errors().
 * data_dir NULL or "": only the bundled ones. 0, or -1 with err (bundled broken). */
int plugins_load(const char *data_dir, char *err, size_t errlen);
/* The plugin with this id, or whose short_name is this (case-insensitive), or NULL. */
const plugin *plugin_find(const char *id_or_short_name);
/* Iteration in load order (bundled first, then installed by id). */
int plugin_count(void);
const plugin *plugin_at(int i);
/* [{path, detail}] of installed manifests that were skipped (a new reference). */
struct json_t *plugins_errors(void);
/* The data dir plugins_load used ("" if none). */
const char *plugins_data_dir(void);
void plugins_shutdown(void);

#endif
