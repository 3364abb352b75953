/* plugin_bundled.h — the bundled plugins' manifests, compiled into the binary from
 * plugins/bundled/<id>/manifest.json by tools/embed_plugins.py (nothing to install
 * next to the binary, nothing to lose on upgrade). */
#ifndef FAXBOT_PLUGIN_BUNDLED_H
#define FAXBOT_PLUGIN_BUNDLED_H

#include <stddef.h>

typedef struct plugin_bundled {
    const char *id;              /* the folder name */
    const char *text;            /* the manifest (NUL-terminated) */
    size_t len;
} plugin_bundled;

/* Terminated by an entry with id NULL; in id order. */
extern const plugin_bundled plugin_bundled_manifests[];

#endif
