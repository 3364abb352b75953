/* audit.h — the audit log: security-relevant events as JSON lines
 * {"event":..., "ts":..., fields...} to AUDIT_LOG_FILE (or stderr), with phone
 * numbers masked. Also keeps the last 1000 events in memory for /admin/logs. */
#ifndef FAXBOT_AUDIT_H
#define FAXBOT_AUDIT_H

#include <stdbool.h>

/* path NULL or "" = stderr. enabled=false still fills the ring. Returns 0 or -1. */
int audit_open(bool enabled, const char *path);
void audit_close(void);
/* Fields come as name/value string pairs, NULL-terminated:
 *   audit_event("job_created", "job_id", id, "to", number, NULL);
 * Values of to, to_number, from, from_number and fr are masked to the last 4 digits. */
void audit_event(const char *event, ...) __attribute__((sentinel));
/* The last n events, newest first, as a JSON array string (malloc'd). */
char *audit_recent_json(int n);

#endif
