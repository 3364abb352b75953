/* backend.c — the registry of backends. Adding a backend is adding its ops here
 * and its file to the build; nothing else in the gateway changes. */
#include "backend/backend.h"

#include <string.h>

extern const backend_ops backend_loopback_ops;
extern const backend_ops backend_sip_ops;
extern const backend_ops backend_sinch_ops;
extern const backend_ops backend_signalwire_ops;
extern const backend_ops backend_freeswitch_ops;
extern const backend_ops backend_phaxio_ops;

static const backend_ops *const registry[] = {
    &backend_loopback_ops,
    &backend_sip_ops,
    &backend_sinch_ops,
    &backend_signalwire_ops,
    &backend_freeswitch_ops,
    &backend_phaxio_ops,
};

const backend_ops *backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

const char *backend_names(void)
{
    return "loopback, sip, phaxio, freeswitch, sinch, signalwire";
}
