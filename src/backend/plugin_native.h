/* plugin_native.h — the `native` plugin kind: a shared object implementing
 * include/faxbot_plugin.h, loaded with dlopen when FAX_BACKEND names it
 * (backend_plugin_native.c, docs/plugins-native.md). */
#ifndef FAXBOT_PLUGIN_NATIVE_H
#define FAXBOT_PLUGIN_NATIVE_H

#include <jansson.h>
#include <stddef.h>

#include "backend/backend.h"
#include "plugins/plugin.h"

/* Checks the manifest's "native" section; -1 with err naming the field. */
int native_section_validate(const json_t *manifest, char *err, size_t errlen);

/* The hooks of the native kind (registered by backend_plugins.c). */
extern const plugin_kind_ops plugin_native_kind;

#endif
