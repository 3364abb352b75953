/* backend_plugins.h — plugins at start and as backends (see backend_plugins.c). */
#ifndef FAXBOT_BACKEND_PLUGINS_H
#define FAXBOT_BACKEND_PLUGINS_H

#include <stddef.h>

struct backend_ops;

/* Registers the plugin kinds' hooks (http, native). Call first thing at start. */
void backend_plugins_init(void);
/* After settings_load: loads the plugins (bundled + $FAX_DATA_DIR/plugins), adds their
 * fields' settings rows and loads the settings again when it added any. 0 or -1 with err. */
int backend_plugins_start(char *const *envp, char *err, size_t errlen);
/* The backend of an enabled outbound plugin named by its id; NULL (with why, when the
 * name is a plugin that cannot be used that way) otherwise. */
const struct backend_ops *backend_plugin_find(const char *name, char *why, size_t whylen);

#endif
