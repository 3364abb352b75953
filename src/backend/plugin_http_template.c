/* plugin_http_template.c — templates, JSON paths and host checks of http_template.h. */
#include "backend/plugin_http_template.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The next "{{ name }}" at or after p: *start and *end span the whole marker, name is
 * the trimmed name. 1 found, 0 none, -1 unclosed or bad name. */
static int next_var(const char *p, const char **start, const char **end, char *name, size_t namelen)
{
    const char *s = strstr(p, "{{");
    if (!s) return 0;
    const char *e = strstr(s + 2, "}}");
    if (!e) return -1;
    const char *a = s + 2, *b = e;
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    size_t n = (size_t)(b - a);
    if (n == 0 || n >= namelen) return -1;
    for (const char *q = a; q < b; q++)
        if (!(isalnum((unsigned char)*q) || *q == '_' || *q == '.' || *q == '-')) return -1;
    memcpy(name, a, n);
    name[n] = 0;
    *start = s;
    *end = e + 2;
    return 1;
}

int tmpl_render(const char *tmpl, tmpl_lookup lookup, void *ctx, strbuf *out, char *err, size_t errlen)
{
    const char *p = tmpl ? tmpl : "";
    char name[128], buf[1024];
    for (;;) {
        const char *s, *e;
        int r = next_var(p, &s, &e, name, sizeof name);
        if (r < 0) {
            str_fmt(err, errlen, "bad template near \"%.40s\": use {{namespace.name}}", p);
            return -1;
        }
        if (r == 0) break;
        if (sb_append(out, p, (size_t)(s - p))) goto oom;
        buf[0] = 0;
        const char *v = lookup(ctx, name, buf, sizeof buf);
        if (!v) {
            str_fmt(err, errlen, "unknown template variable {{%s}}", name);
            return -1;
        }
        if (sb_puts(out, v)) goto oom;
        p = e;
    }
    if (sb_puts(out, p)) goto oom;
    return 0;
oom:
    str_fmt(err, errlen, "out of memory");
    return -1;
}

int tmpl_check(const char *tmpl, bool (*known)(const char *name), char *err, size_t errlen)
{
    const char *p = tmpl ? tmpl : "";
    char name[128];
    for (;;) {
        const char *s, *e;
        int r = next_var(p, &s, &e, name, sizeof name);
        if (r < 0) {
            str_fmt(err, errlen, "bad template near \"%.40s\": use {{namespace.name}}", p);
            return -1;
        }
        if (r == 0) return 0;
        if (!known(name)) {
            str_fmt(err, errlen, "unknown template variable {{%s}}", name);
            return -1;
        }
        p = e;
    }
}

/* One step of a path: a key (into key) and/or an index; advances *p. */
static int path_step(const char **p, char *key, size_t keylen, long *index)
{
    const char *s = *p;
    size_t n = 0;
    *index = -1;
    while (s[n] && s[n] != '.' && s[n] != '[') n++;
    if (n >= keylen) return -1;
    memcpy(key, s, n);
    key[n] = 0;
    s += n;
    if (*s == '[') {
        char *end = NULL;
        long i = strtol(s + 1, &end, 10);
        if (end == s + 1 || *end != ']' || i < 0) return -1;
        *index = i;
        s = end + 1;
    }
    if (*s == '.') {
        s++;
        if (!*s) return -1;
    } else if (*s) {
        return -1;
    }
    if (!key[0] && *index < 0) return -1;
    *p = s;
    return 0;
}

json_t *json_path(json_t *root, const char *path)
{
    if (!root || !path || !*path) return NULL;
    const char *p = path;
    json_t *cur = root;
    char key[128];
    while (*p && cur) {
        long idx;
        if (path_step(&p, key, sizeof key, &idx)) return NULL;
        if (key[0]) cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
        if (cur && idx >= 0) cur = json_is_array(cur) ? json_array_get(cur, (size_t)idx) : NULL;
    }
    return cur;
}

bool json_path_valid(const char *path)
{
    if (!path || !*path) return false;
    const char *p = path;
    char key[128];
    while (*p) {
        long idx;
        if (path_step(&p, key, sizeof key, &idx)) return false;
    }
    return true;
}

void json_path_text(json_t *root, const char *path, char *out, size_t outlen)
{
    json_t *v = json_path(root, path);
    if (outlen) out[0] = 0;
    if (json_is_string(v)) str_copy(out, outlen, json_string_value(v));
    else if (json_is_integer(v)) str_fmt(out, outlen, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) str_fmt(out, outlen, "%g", json_real_value(v));
    else if (json_is_boolean(v)) str_copy(out, outlen, json_is_true(v) ? "true" : "false");
}

int url_host(const char *url, char *host, size_t hostlen)
{
    if (!url) return -1;
    const char *p;
    if (!strncasecmp(url, "https://", 8)) p = url + 8;
    else if (!strncasecmp(url, "http://", 7)) p = url + 7;
    else return -1;
    size_t auth_end = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth_end);      /* userinfo */
    if (at) {
        auth_end -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *h = p, *e;
    if (*h == '[') {
        e = memchr(h, ']', auth_end);
        if (!e) return -1;
        h++;
    } else {
        e = h;
        while ((size_t)(e - p) < auth_end && *e != ':') e++;
    }
    size_t n = (size_t)(e - h);
    if (n == 0 || n >= hostlen) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == ':' || c == '_')) return -1;
        host[i] = (char)tolower(c);
    }
    host[n] = 0;
    return 0;
}

bool host_allowed(const char *host, const char *const *patterns, int n)
{
    if (!host || !*host) return false;
    size_t hl = strlen(host);
    for (int i = 0; i < n; i++) {
        const char *pat = patterns[i];
        if (!pat || !*pat) continue;
        if (!strncmp(pat, "*.", 2)) {
            size_t sl = strlen(pat + 1);          /* ".example.com" */
            if (hl > sl && !strcasecmp(host + hl - sl, pat + 1)) return true;
        } else if (!strcasecmp(host, pat)) {
            return true;
        }
    }
    return false;
}
