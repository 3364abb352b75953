/* settings_apply.h — changing settings while the gateway runs. A change is checked
 * whole (every value against its row, then the core config, then — when it touches
 * the backend — by creating the new backend instance) before anything is written;
 * then the settings file is written atomically, the new snapshot becomes current,
 * the backend is swapped live (jobs_swap_backend), the PBX configuration is
 * regenerated (pbx_apply.c) and the change is audited by name, never by value.
 * Settings marked restart-only are kept and listed as needing a restart. */
#ifndef FAXBOT_SETTINGS_APPLY_H
#define FAXBOT_SETTINGS_APPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* changes: {NAME: "text"} ("" = back to the default). On success a JSON object
 * {applied, backend_changed, backend_swapped, restart_required, restart_recommended,
 * storage_changed, pbx}; NULL with *status (400/409/503) and err otherwise. */
json_t *settings_apply_changes(const json_t *changes, const char *who, int *status, char *err, size_t errlen);
/* Re-reads the settings file and the environment and applies the difference. */
json_t *settings_apply_reload(const char *who, int *status, char *err, size_t errlen);
/* Dry run of changes with real round trips (credentials, AMI login, ESL auth,
 * trunk): {backend, ok, checks, fields: {NAME: {ok, detail}}, test_fax: null}. */
json_t *settings_apply_validate(const json_t *changes, const char *who, int *status, char *err, size_t errlen);
/* Names of changed settings that only a restart applies (a new array). */
json_t *settings_apply_pending_restart(void);
void settings_apply_file_path(char *out, size_t outlen);
/* Frees what the changes published (at the gateway's stop, after the threads ended). */
void settings_apply_shutdown(void);
bool settings_apply_has_key(void);

#endif
