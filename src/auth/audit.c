/* audit.c — the audit log. Each event becomes one compact JSON object
 * {"event":..., "ts":"<iso8601 utc>", fields...} built with jansson (so values are
 * escaped properly), with phone-number fields masked. The line goes to the audit
 * file (opened O_APPEND, 0600) or stderr in a single write() so concurrent events
 * never interleave, and into a ring of the last AUDIT_RING events that feeds
 * /admin/logs even when writing is disabled. All state sits behind one mutex. */
#include "auth/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/util.h"
#include "util/log_tap.h"

#define AUDIT_RING 1000
#define AUDIT_MAX_VALUE 4096            /* longer field values are cut */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_enabled;
static int g_fd = -1;                   /* -1 = not writing */
static bool g_fd_owned;                 /* we opened it (not stderr) */
static char *g_ring[AUDIT_RING];        /* JSON lines without the newline */
static size_t g_ring_next;              /* slot of the next event */
static size_t g_ring_count;
static bool g_text;                     /* AUDIT_LOG_FORMAT=text */
static int g_syslog_kind;               /* 0 none, 1 local (unix dgram), 2 udp, 3 tcp */
static int g_syslog_fd = -1;
static char g_syslog_path[108];
static char g_syslog_host[256], g_syslog_port[8];
static char g_hostname[256];

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
    if (g_syslog_fd >= 0) close(g_syslog_fd);
    g_syslog_fd = -1;
    g_syslog_kind = 0;
    g_text = false;
    g_enabled = false;
    for (size_t i = 0; i < AUDIT_RING; i++) {
        free(g_ring[i]);
        g_ring[i] = NULL;
    }
    g_ring_next = g_ring_count = 0;
    pthread_mutex_unlock(&g_lock);
}

/* ---- syslog (RFC 5424) ---- */

static int parse_address(const char *a, int *kind, char *path, size_t pathlen, char *host, size_t hostlen,
                         char *port, size_t portlen, char *err, size_t errlen)
{
    const char *hp = NULL;
    if (!a || !*a) a = "/dev/log";
    if (a[0] == '/') {
        *kind = 1;
        if (str_copy(path, pathlen, a)) { str_fmt(err, errlen, "AUDIT_LOG_SYSLOG_ADDRESS: the socket path is too long"); return -1; }
        return 0;
    }
    if (!strncmp(a, "udp://", 6)) { *kind = 2; hp = a + 6; }
    else if (!strncmp(a, "tcp://", 6)) { *kind = 3; hp = a + 6; }
    else { *kind = 2; hp = a; }
    const char *colon = strrchr(hp, ':');
    const char *h = hp;
    size_t hl = colon ? (size_t)(colon - hp) : 0;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { h++; hl -= 2; }
    char *end = NULL;
    long p = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || !hl || hl >= hostlen || !colon[1] || *end || p < 1 || p > 65535) {
        str_fmt(err, errlen, "AUDIT_LOG_SYSLOG_ADDRESS must be a socket path (/dev/log), udp://host:port, "
                "tcp://host:port or host:port (got '%s')", a);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    snprintf(port, portlen, "%ld", p);
    return 0;
}

int audit_syslog_address_check(const char *address, char *err, size_t errlen)
{
    int kind;
    char path[108], host[256], port[8];
    return parse_address(address, &kind, path, sizeof path, host, sizeof host, port, sizeof port, err, errlen);
}

/* Under g_lock: a connected socket to the syslog receiver, or -1. */
static int syslog_connect_locked(void)
{
    if (g_syslog_fd >= 0) return g_syslog_fd;
    if (g_syslog_kind == 1) {
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        str_copy(sa.sun_path, sizeof sa.sun_path, g_syslog_path);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return g_syslog_fd = fd;
        if (fd >= 0) close(fd);
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = g_syslog_kind == 3 ? SOCK_STREAM : SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(g_syslog_host, g_syslog_port, &hints, &res) || !res) return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) { close(fd); fd = -1; }
    }
    freeaddrinfo(res);
    return g_syslog_fd = fd;
}

/* One RFC 5424 message: <110>1 TS HOST faxbot PID EVENT - MSG (facility 13 "log audit",
 * severity 6 informational). TCP uses octet-counting framing (RFC 6587). */
static void syslog_send_locked(const char *event, const char *ts, const char *msg)
{
    char msgid[33];
    size_t k = 0;
    for (const char *p = event; *p && k < 32; p++)
        if (*p > 32 && *p < 127) msgid[k++] = *p;
    msgid[k] = 0;
    strbuf sb;
    sb_init(&sb);
    sb_appendf(&sb, "<110>1 %s %s faxbot %d %s - %s", ts, g_hostname[0] ? g_hostname : "-", (int)getpid(),
               k ? msgid : "-", msg);
    if (!sb.data) return;
    for (int tries = 0; tries < 2; tries++) {
        int fd = syslog_connect_locked();
        if (fd < 0) break;
        bool ok;
        if (g_syslog_kind == 3) {
            char head[24];
            int hl = snprintf(head, sizeof head, "%zu ", sb.len);
            ok = send(fd, head, (size_t)hl, MSG_NOSIGNAL) == hl &&
                 send(fd, sb.data, sb.len, MSG_NOSIGNAL) == (ssize_t)sb.len;
        } else {
            ok = send(fd, sb.data, sb.len, MSG_NOSIGNAL) == (ssize_t)sb.len;
        }
        if (ok) break;
        close(fd);                      /* the receiver went away: reconnect once */
        g_syslog_fd = -1;
    }
    sb_free(&sb);
}

int audit_configure(const audit_sinks *s, char *err, size_t errlen)
{
    int kind = 0;
    char path[108] = "", host[256] = "", port[8] = "";
    if (s->syslog && parse_address(s->syslog_address, &kind, path, sizeof path, host, sizeof host, port,
                                   sizeof port, err, errlen))
        return -1;
    pthread_mutex_lock(&g_lock);
    g_text = s->text;
    if (g_syslog_fd >= 0) close(g_syslog_fd);
    g_syslog_fd = -1;
    g_syslog_kind = kind;
    str_copy(g_syslog_path, sizeof g_syslog_path, path);
    str_copy(g_syslog_host, sizeof g_syslog_host, host);
    str_copy(g_syslog_port, sizeof g_syslog_port, port);
    if (gethostname(g_hostname, sizeof g_hostname)) str_copy(g_hostname, sizeof g_hostname, "-");
    g_hostname[sizeof g_hostname - 1] = 0;
    for (char *p = g_hostname; *p; p++)
        if (*p <= 32 || *p >= 127) *p = '-';
    pthread_mutex_unlock(&g_lock);
    return 0;
}

/* AUDIT_LOG_FORMAT=text: event=… ts=… then key=value, values with spaces or quotes quoted. */
static char *text_line(json_t *obj)
{
    strbuf sb;
    sb_init(&sb);
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach(obj, key, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        sb_appendf(&sb, "%s%s=", first ? "" : " ", key);
        first = false;
        if (!*s || strpbrk(s, " \"=\\")) {
            sb_puts(&sb, "\"");
            for (const char *p = s; *p; p++) {
                if (*p == '"' || *p == '\\') sb_puts(&sb, "\\");
                sb_append(&sb, p, 1);
            }
            sb_puts(&sb, "\"");
        } else {
            sb_puts(&sb, s);
        }
    }
    return sb_steal(&sb);
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
    pthread_mutex_lock(&g_lock);
    char *out = g_text ? text_line(obj) : NULL;
    pthread_mutex_unlock(&g_lock);
    json_decref(obj);
    if (!line) { free(out); return; }
    const char *shown = out ? out : line;       /* the ring (/admin/logs) keeps JSON */
    size_t len = strlen(shown);
    char *with_nl = malloc(len + 2);
    if (!with_nl) { free(line); free(out); return; }
    memcpy(with_nl, shown, len);
    with_nl[len] = '\n';
    with_nl[len + 1] = 0;

    log_tap_push("audit", "info", line);        /* the console's live Logs page */
    pthread_mutex_lock(&g_lock);
    if (g_enabled && g_syslog_kind) syslog_send_locked(event, ts, shown);
    else if (g_enabled && g_fd >= 0) write_all(g_fd, with_nl, len + 1);
    free(g_ring[g_ring_next]);
    g_ring[g_ring_next] = line;
    g_ring_next = (g_ring_next + 1) % AUDIT_RING;
    if (g_ring_count < AUDIT_RING) g_ring_count++;
    pthread_mutex_unlock(&g_lock);
    free(with_nl);
    free(out);
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
