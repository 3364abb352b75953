/* backend.c — the registry of backends. Adding a backend is adding its ops here
 * and its file to the build; nothing else in the gateway changes. */
#include "backend/backend.h"
#include "config/settings.h"

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

int backend_count(void)
{
    return (int)(sizeof registry / sizeof registry[0]);
}

const backend_ops *backend_at(int i)
{
    return i >= 0 && i < backend_count() ? registry[i] : NULL;
}

void backend_register_settings(void)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (registry[i]->settings) settings_register(registry[i]->settings, -1);
}

const char *backend_names(void)
{
    return "loopback, sip, phaxio, freeswitch, sinch, signalwire";
}
