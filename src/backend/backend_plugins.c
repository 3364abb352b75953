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

#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
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

/* The settings rows made for plugins' fields: blocks kept for the process's life (the
 * settings table points into them). */
static pthread_mutex_t rows_lock = PTHREAD_MUTEX_INITIALIZER;
static setting_def **blocks;
static int n_blocks;

int backend_plugins_register_rows(void)
{
    pthread_mutex_lock(&rows_lock);
    int want = 0;
    for (int i = 0; i < plugin_count(); i++) want += plugin_at(i) ? plugin_at(i)->n_fields : 0;
    setting_def *r = want ? calloc((size_t)want + 1, sizeof *r) : NULL;
    setting_def **grown = r ? realloc(blocks, (size_t)(n_blocks + 1) * sizeof *blocks) : NULL;
    if (!r || !grown) {
        free(r);
        pthread_mutex_unlock(&rows_lock);
        return want ? -1 : 0;
    }
    blocks = grown;
    int n = 0;
    for (int i = 0; i < plugin_count(); i++) {
        const plugin *p = plugin_at(i);
        for (int k = 0; p && k < p->n_fields && n < want; k++) {
            const plugin_field *f = &p->fields[k];
            if (settings_find(f->setting)) continue;   /* a row the gateway has already (SIP_SERVER, …) */
            bool twice = false;                        /* two plugins naming one row: the first wins */
            for (int j = 0; j < n && !twice; j++) twice = !strcasecmp(r[j].name, f->setting);
            if (twice) continue;
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
    if (n) {
        settings_register(r, n);
        blocks[n_blocks++] = r;
    } else {
        free(r);
    }
    pthread_mutex_unlock(&rows_lock);
    return n;
}

int backend_plugins_start(char *const *envp, char *err, size_t errlen)
{
    /* Before the settings are loaded: the settings file may hold plugin settings, whose
     * rows must exist by then. FAX_DATA_DIR is environment-only, so the environment
     * alone says where the plugins are. */
    char dir[1024] = "";
    settings_snapshot *env = settings_build(NULL, envp, err, errlen);
    if (env) {
        const char *d = settings_value(env, "FAX_DATA_DIR", NULL);
        str_copy(dir, sizeof dir, d ? d : "");
        settings_snapshot_free(env);
    }
    if (plugins_load(dir, err, errlen)) return -1;
    if (backend_plugins_register_rows() < 0) return str_fmt(err, errlen, "out of memory"), -1;
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
