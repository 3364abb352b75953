/* backend_plugins.c — where plugins meet the backend registry. At start the kinds'
 * runtimes (http, native) register their hooks with plugins/ (which sits below
 * backend/ and cannot know them), the plugins are loaded from FAX_DATA_DIR, and each
 * plugin's config_schema fields become rows of the settings table. backend_find()
 * asks here for a name that is no built-in backend: an enabled outbound plugin's id
 * gives the backend its kind's factory builds. */
#include "backend/backend.h"
#include "backend/backend_plugins.h"
#include "backend/plugin_http.h"
#include "backend/plugin_native.h"
#include "config/settings.h"
#include "plugins/plugin.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

/* The kinds' hooks; the sip-trunk kind is plugins/' own (trunk profiles, not a
 * backend: FAX_BACKEND=sip or freeswitch with SIP_TRUNK_PRESET=<its name>). */
static const plugin_kind_ops *const kinds[] = {
    &plugin_http_kind,
    &plugin_native_kind,
};

void backend_plugins_init(void)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i]) plugin_kind_register(kinds[i]);
}

/* The settings rows of every loaded plugin's fields; kept for the process's life
 * (the settings table points at them). */
static setting_def *rows;
static int n_rows;

static int register_rows(void)
{
    int want = 0;
    for (int i = 0; i < plugin_count(); i++) want += plugin_at(i)->n_fields;
    if (!want) return 0;
    setting_def *r = calloc((size_t)want + 1, sizeof *r);
    if (!r) return -1;
    int n = 0;
    for (int i = 0; i < plugin_count(); i++) {
        const plugin *p = plugin_at(i);
        for (int k = 0; k < p->n_fields; k++) {
            const plugin_field *f = &p->fields[k];
            if (settings_find(f->setting)) continue;   /* a row the gateway has already (SIP_SERVER, …) */
            setting_def *d = &r[n++];
            d->name = f->setting;
            d->type = !strcmp(f->type, "integer") ? SETTING_INT : !strcmp(f->type, "boolean") ? SETTING_BOOL
                                                                                               : SETTING_STR;
            d->dflt = f->dflt;
            d->lo = -2147483647L;
            d->hi = 2147483647L;
            d->secret = f->secret;
            d->group = p->id;
            d->backend = p->id;
            d->apply = SETTING_LIVE;
            d->lands = "plugin settings";
            d->help = f->label;
        }
    }
    if (!n) {
        free(r);
        return 0;
    }
    settings_register(r, n);
    rows = r;
    n_rows = n;
    return n;
}

int backend_plugins_start(char *const *envp, char *err, size_t errlen)
{
    char dir[1024];
    if (setting_str("FAX_DATA_DIR", dir, sizeof dir, err, errlen)) return -1;
    if (plugins_load(dir, err, errlen)) return -1;
    int added = register_rows();
    if (added < 0) return str_fmt(err, errlen, "out of memory"), -1;
    /* new rows: read the file and the environment again so that their values are there */
    if (added > 0 && settings_load(envp, err, errlen)) return -1;
    return 0;
}

const backend_ops *backend_plugin_find(const char *name, char *why, size_t whylen)
{
    const plugin *p = plugin_find(name);
    if (!p || strcmp(p->id, name)) return NULL;
    if (!p->enabled) return str_fmt(why, whylen, "plugin %s is disabled (faxbot plugins enable %s)", p->id, p->id),
                            NULL;
    if (p->kind == PLUGIN_KIND_SIP_TRUNK)
        return str_fmt(why, whylen, "%s is a SIP trunk profile: use FAX_BACKEND=sip (Asterisk) or freeswitch with "
                       "SIP_TRUNK_PRESET=%s", p->id, p->short_name), NULL;
    if (!(p->categories & PLUGIN_CAT_OUTBOUND))
        return str_fmt(why, whylen, "plugin %s does not send faxes (its categories lack \"outbound\")", p->id), NULL;
    const plugin_kind_ops *k = plugin_kind_hooks(p->kind);
    if (!k || !k->backend)
        return str_fmt(why, whylen, "plugins of kind %s cannot send in this build", plugin_kind_name(p->kind)), NULL;
    return k->backend(p, why, whylen);
}
