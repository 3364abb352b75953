/* backend.c — the registry of backends. Adding a backend is adding its ops here and
 * its file to the build; nothing else in the gateway changes
 * (docs/internals/adding-a-backend.md). */
#include "backend/backend.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

extern const backend_ops backend_loopback_ops;
extern const backend_ops backend_sip_ops;
extern const backend_ops backend_sinch_ops;
extern const backend_ops backend_signalwire_ops;
extern const backend_ops backend_freeswitch_ops;
extern const backend_ops backend_phaxio_ops;

/* in the order error messages list them */
static const backend_ops *const registry[] = {
    &backend_loopback_ops,
    &backend_sip_ops,
    &backend_phaxio_ops,
    &backend_freeswitch_ops,
    &backend_sinch_ops,
    &backend_signalwire_ops,
};
#define N_BACKENDS (sizeof registry / sizeof registry[0])

const backend_ops *backend_find(const char *name)
{
    for (size_t i = 0; i < N_BACKENDS; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
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

const char *backend_names(void)
{
    pthread_once(&names_once, names_build);
    return names_text;
}
