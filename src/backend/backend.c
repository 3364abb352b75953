/* backend.c — the registry of backends. Adding a backend is adding its ops here and
 * its file to the build; nothing else in the gateway changes
 * (docs/internals/adding-a-backend.md). */
#include "backend/backend.h"
#include "backend/backend_plugins.h"
#include "config/settings.h"
#include "util/fileset.h"
#include "util/util.h"

#include <jansson.h>
#include <stdlib.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

extern const backend_ops backend_loopback_ops;
extern const backend_ops backend_sip_ops;
extern const backend_ops backend_sinch_ops;
extern const backend_ops backend_signalwire_ops;
extern const backend_ops backend_freeswitch_ops;
extern const backend_ops backend_phaxio_ops;
extern const backend_ops backend_direct_ops;

/* in the order error messages list them */
static const backend_ops *const registry[] = {
    &backend_loopback_ops,
    &backend_sip_ops,
    &backend_phaxio_ops,
    &backend_freeswitch_ops,
    &backend_sinch_ops,
    &backend_signalwire_ops,
    &backend_direct_ops,
};
#define N_BACKENDS (sizeof registry / sizeof registry[0])

const backend_ops *backend_find(const char *name)
{
    for (size_t i = 0; i < N_BACKENDS; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    char why[256];
    return backend_plugin_find(name, why, sizeof why);   /* FAX_BACKEND=<an outbound plugin's id> */
}

static char names_text[256];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_build(void)
{
    size_t used = 0;
    for (size_t i = 0; i < N_BACKENDS && used < sizeof names_text; i++) {
        int n = snprintf(names_text + used, sizeof names_text - used, "%s%s", i ? ", " : "", registry[i]->name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

int backend_count(void)
{
    return (int)(sizeof registry / sizeof registry[0]);
}

const backend_ops *backend_at(int i)
{
    return i >= 0 && i < backend_count() ? registry[i] : NULL;
}

int backend_pbx_fail(json_t *report, const char *detail)
{
    json_object_set_new(report, "ok", json_false());
    json_object_set_new(report, "detail", json_string(detail));
    return -1;
}

int backend_pbx_write(const char *dir, const char *const *names, const char *const *texts, int n, bool *changed,
                      json_t *report)
{
    char err[512];
    long delay = 0;    /* tests: a pause between the steps, to kill the gateway in the middle */
    setting_int("FAXBOT_APPLY_STEP_DELAY_MS", &delay, err, sizeof err);
    if (fileset_write(dir, names, texts, n, changed, (int)delay, err, sizeof err)) return backend_pbx_fail(report, err);
    json_t *written = json_array();
    for (int i = 0; i < n; i++)
        if (changed[i]) json_array_append_new(written, json_string(names[i]));
    json_object_set_new(report, "files_written", written);
    return 0;
}

void backend_register_settings(void)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (registry[i]->settings) settings_register(registry[i]->settings, -1);
}

void backend_unknown(const char *name, char *out, size_t outlen)
{
    char why[256] = "";
    if (!backend_plugin_find(name, why, sizeof why) && why[0]) {
        str_fmt(out, outlen, "FAX_BACKEND '%s': %s", name, why);
        return;
    }
    str_fmt(out, outlen, "FAX_BACKEND '%s' is not a known backend; choose one of: %s, or an enabled outbound "
                         "plugin's id (faxbot plugins list)", name, backend_names());
}

const char *backend_names(void)
{
    pthread_once(&names_once, names_build);
    return names_text;
}
