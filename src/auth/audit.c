/* audit.c — the audit log. Each event becomes one compact JSON object
 * {"event":..., "ts":"<iso8601 utc>", fields...} built with jansson (so values are
 * escaped properly), with phone-number fields masked. The line goes to the audit
 * file (opened O_APPEND, 0600) or stderr in a single write() so concurrent events
 * never interleave, and into a ring of the last AUDIT_RING events that feeds
 * /admin/logs even when writing is disabled. All state sits behind one mutex. */
#include "auth/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/util.h"

#define AUDIT_RING 1000
#define AUDIT_MAX_VALUE 4096            /* longer field values are cut */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_enabled;
static int g_fd = -1;                   /* -1 = not writing */
static bool g_fd_owned;                 /* we opened it (not stderr) */
static char *g_ring[AUDIT_RING];        /* JSON lines without the newline */
static size_t g_ring_next;              /* slot of the next event */
static size_t g_ring_count;

static void close_output_locked(void)
{
    if (g_fd_owned && g_fd >= 0) close(g_fd);
    g_fd = -1;
    g_fd_owned = false;
}

int audit_open(bool enabled, const char *path)
{
    int fd = -1;
    bool owned = false;
    if (enabled) {
        if (path && *path) {
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            if (fd < 0) {
                log_error("cannot open audit log %s: %s", path, strerror(errno));
                return -1;
            }
            owned = true;
        } else {
            fd = STDERR_FILENO;
        }
    }
    pthread_mutex_lock(&g_lock);
    close_output_locked();
    g_enabled = enabled;
    g_fd = fd;
    g_fd_owned = owned;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

void audit_close(void)
{
    pthread_mutex_lock(&g_lock);
    close_output_locked();
    g_enabled = false;
    for (size_t i = 0; i < AUDIT_RING; i++) {
        free(g_ring[i]);
        g_ring[i] = NULL;
    }
    g_ring_next = g_ring_count = 0;
    pthread_mutex_unlock(&g_lock);
}

static bool is_phone_field(const char *name)
{
    return !strcmp(name, "to") || !strcmp(name, "to_number") || !strcmp(name, "from") ||
           !strcmp(name, "from_number") || !strcmp(name, "fr");
}

/* A JSON string of value: cut to AUDIT_MAX_VALUE bytes, invalid UTF-8 replaced by '?'. */
static json_t *safe_json_string(const char *value)
{
    size_t n = strlen(value);
    if (n > AUDIT_MAX_VALUE) n = AUDIT_MAX_VALUE;
    char *buf = malloc(n + 1);
    if (!buf) return NULL;
    size_t o = 0, i = 0;
    while (i < n) {
        size_t l = (size_t)utf8_seq_len((const unsigned char *)value + i, n - i);
        if (!l) { buf[o++] = '?'; i++; continue; }
        memcpy(buf + o, value + i, l);
        o += l;
        i += l;
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j;
}

static json_t *field_value(const char *name, const char *value)
{
    if (!value) return json_null();
    if (!is_phone_field(name)) return safe_json_string(value);
    size_t cap = strlen(value) + 8;
    char *masked = malloc(cap);
    if (!masked) return NULL;
    mask_phone(value, masked, cap);
    json_t *j = safe_json_string(masked);
    free(masked);
    return j;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;                     /* nowhere sensible to report; the ring still has it */
        }
        p += w;
        n -= (size_t)w;
    }
}

void audit_event(const char *event, ...)
{
    if (!event) return;
    json_t *obj = json_object();
    if (!obj) return;
    char ts[32];
    iso8601_from_ms(now_ms(), ts);
    json_object_set_new(obj, "event", safe_json_string(event));
    json_object_set_new(obj, "ts", json_string(ts));

    va_list ap;
    va_start(ap, event);
    for (;;) {
        const char *name = va_arg(ap, const char *);
        if (!name) break;
        const char *value = va_arg(ap, const char *);
        /* event and ts are ours; a field must not spoof them. */
        if (strcmp(name, "event") && strcmp(name, "ts")) {
            json_t *v = field_value(name, value);
            if (v) json_object_set_new(obj, name, v);
        }
        if (!value) break;              /* a NULL value is also the end of the list */
    }
    va_end(ap);

    char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!line) return;
    size_t len = strlen(line);
    char *with_nl = malloc(len + 2);
    if (!with_nl) { free(line); return; }
    memcpy(with_nl, line, len);
    with_nl[len] = '\n';
    with_nl[len + 1] = 0;

    pthread_mutex_lock(&g_lock);
    if (g_enabled && g_fd >= 0) write_all(g_fd, with_nl, len + 1);
    free(g_ring[g_ring_next]);
    g_ring[g_ring_next] = line;
    g_ring_next = (g_ring_next + 1) % AUDIT_RING;
    if (g_ring_count < AUDIT_RING) g_ring_count++;
    pthread_mutex_unlock(&g_lock);
    free(with_nl);
}

char *audit_recent_json(int n)
{
    strbuf sb;
    sb_init(&sb);
    int rc = sb_puts(&sb, "[");
    pthread_mutex_lock(&g_lock);
    size_t want = n > 0 ? (size_t)n : 0;
    if (want > g_ring_count) want = g_ring_count;
    for (size_t k = 0; k < want && rc == 0; k++) {
        size_t slot = (g_ring_next + AUDIT_RING - 1 - k) % AUDIT_RING;
        if (k) rc = sb_puts(&sb, ",");
        if (!rc) rc = sb_puts(&sb, g_ring[slot]);
    }
    pthread_mutex_unlock(&g_lock);
    if (!rc) rc = sb_puts(&sb, "]");
    if (rc) { sb_free(&sb); return NULL; }
    return sb_steal(&sb);
}
