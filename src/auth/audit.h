/* audit.h — the audit log: security-relevant events as JSON lines
 * {"event":..., "ts":..., fields...} to AUDIT_LOG_FILE (or stderr), with phone
 * numbers masked. Also keeps the last 1000 events in memory for /admin/logs. */
#ifndef FAXBOT_AUDIT_H
#define FAXBOT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

/* path NULL or "" = stderr. enabled=false still fills the ring. Returns 0 or -1. */
int audit_open(bool enabled, const char *path);

/* Where else events go and how they look (AUDIT_LOG_FORMAT, AUDIT_LOG_SYSLOG,
 * AUDIT_LOG_SYSLOG_ADDRESS). Call after audit_open; 0, or -1 with err. */
typedef struct audit_sinks {
    bool text;                   /* AUDIT_LOG_FORMAT=text: "event=… ts=… key=value" instead of JSON */
    bool syslog;                 /* AUDIT_LOG_SYSLOG: RFC 5424 messages instead of the file/stderr */
    const char *syslog_address;  /* "/dev/log" (a local socket path), "udp://host:port", "tcp://host:port",
                                    or "host:port" (UDP) */
} audit_sinks;
int audit_configure(const audit_sinks *s, char *err, size_t errlen);
/* Checks an AUDIT_LOG_SYSLOG_ADDRESS without connecting: 0, or -1 with err. */
int audit_syslog_address_check(const char *address, char *err, size_t errlen);
void audit_close(void);
/* Fields come as name/value string pairs, NULL-terminated:
 *   audit_event("job_created", "job_id", id, "to", number, NULL);
 * Values of to, to_number, from, from_number and fr are masked to the last 4 digits. */
void audit_event(const char *event, ...) __attribute__((sentinel));
/* The last n events, newest first, as a JSON array string (malloc'd). */
char *audit_recent_json(int n);

#endif
