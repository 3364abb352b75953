/* backend_plugins.h — plugins at start and as backends (see backend_plugins.c). */
#ifndef FAXBOT_BACKEND_PLUGINS_H
#define FAXBOT_BACKEND_PLUGINS_H

#include <stddef.h>

struct backend_ops;

/* Registers the plugin kinds' hooks (http, native). Call first thing at start. */
void backend_plugins_init(void);
/* Before settings_load: loads the plugins (bundled + $FAX_DATA_DIR/plugins, the data dir
 * from envp) and adds their fields' settings rows. 0 or -1 with err. */
int backend_plugins_start(char *const *envp, char *err, size_t errlen);
/* Adds settings rows for the loaded plugins' fields that have none yet (a plugin
 * installed while serving); how many, or -1 out of memory. The caller then builds a
 * new settings snapshot (settings_apply_reload) so that their values are read. */
int backend_plugins_register_rows(void);
/* The backend of an enabled outbound plugin named by its id; NULL (with why, when the
 * name is a plugin that cannot be used that way) otherwise. */
const struct backend_ops *backend_plugin_find(const char *name, char *why, size_t whylen);

#endif
