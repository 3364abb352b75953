/* aws_profile.c — see aws_profile.h. An INI reader small enough to check by eye:
 * "[section]" lines, "key = value" lines, '#' and ';' comment lines; section and
 * key names compared without case, values trimmed. */
#include "config/aws_profile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* Reads section `want` of path into out. 0 found (with a key id), 1 not there, -1 error. */
static int read_section(const char *path, const char *want, aws_keys *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 1;
        str_fmt(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    bool in = false, seen = false;
    int rc = 0;
    aws_keys k = {0};
    while (!rc && fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end) *end = 0;
            in = !strcasecmp(trim(s + 1), want);
            seen = seen || in;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in || !eq) continue;
        *eq = 0;
        const char *name = trim(s), *value = trim(eq + 1);
        char *dst = NULL;
        size_t cap = 0;
        if (!strcasecmp(name, "aws_access_key_id")) dst = k.access_key_id, cap = sizeof k.access_key_id;
        else if (!strcasecmp(name, "aws_secret_access_key")) dst = k.secret_access_key, cap = sizeof k.secret_access_key;
        else if (!strcasecmp(name, "aws_session_token")) dst = k.session_token, cap = sizeof k.session_token;
        if (dst && str_copy(dst, cap, value)) {
            str_fmt(err, errlen, "%s in [%s] of %s is too long", name, want, path);
            rc = -1;
        }
    }
    fclose(f);
    if (rc) return rc;
    if (!seen || !k.access_key_id[0]) return 1;
    if (!k.secret_access_key[0]) {
        str_fmt(err, errlen, "[%s] of %s has aws_access_key_id but no aws_secret_access_key", want, path);
        return -1;
    }
    str_fmt(k.source, sizeof k.source, "profile '%s' of %s", want[0] == 'p' && !strncmp(want, "profile ", 8) ? want + 8 : want,
            path);
    *out = k;
    return 0;
}

int aws_profile_keys(const char *credentials_file, const char *config_file, const char *profile, aws_keys *out,
                     char *err, size_t errlen)
{
    const char *p = profile && *profile ? profile : "default";
    int rc = 1;
    if (credentials_file && *credentials_file) rc = read_section(credentials_file, p, out, err, errlen);
    if (rc != 1) return rc;
    if (config_file && *config_file) {
        /* the config file names profiles "[profile x]", but the default one "[default]" */
        char section[300];
        if (strcmp(p, "default")) str_fmt(section, sizeof section, "profile %s", p);
        else str_copy(section, sizeof section, "default");
        rc = read_section(config_file, section, out, err, errlen);
        if (rc != 1) return rc;
    }
    str_fmt(err, errlen, "no credentials for profile '%s' in %s or %s", p,
            credentials_file && *credentials_file ? credentials_file : "(no credentials file)",
            config_file && *config_file ? config_file : "(no config file)");
    return 1;
}
