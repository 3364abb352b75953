/* apikey.c — API key tokens "fbk_live_<12 hex key id>_<base64url secret>".
 * Parsing is strict (unlike Faxbot, the "live" part is required and the secret must
 * be base64url of a sane length); the secret is stored only as HMAC-SHA256 keyed by
 * the server's pepper. Scope lists are validated against the fixed vocabulary and
 * normalized to "a,b,c" before they reach the store. Everything here is pure except
 * apikey_generate, which reads the CSPRNG. */
#include "auth/apikey.h"

#include <stdio.h>
#include <string.h>

#include "util/util.h"

#define TOKEN_PREFIX "fbk_live_"
#define TOKEN_PREFIX_LEN (sizeof TOKEN_PREFIX - 1)
#define SECRET_MIN_LEN 43
#define SECRET_MAX_LEN 100

static const char *const valid_scopes[] = {"fax:send", "fax:read", "inbound:list", "inbound:read", "keys:manage",
                                           "fax:all", "*"};
#define N_VALID_SCOPES (sizeof valid_scopes / sizeof valid_scopes[0])
#define VALID_SCOPES_TEXT "fax:send, fax:read, inbound:list, inbound:read, keys:manage, fax:all, *"

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_base64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static bool is_key_id(const char *s)
{
    for (int i = 0; i < APIKEY_ID_LEN; i++)
        if (!is_lower_hex(s[i])) return false;
    return s[APIKEY_ID_LEN] == 0;
}

int apikey_parse(const char *token, apikey_parts *out)
{
    if (!token || strncmp(token, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0) return -1;
    const char *id = token + TOKEN_PREFIX_LEN;
    for (int i = 0; i < APIKEY_ID_LEN; i++)
        if (!is_lower_hex(id[i])) return -1;
    if (id[APIKEY_ID_LEN] != '_') return -1;
    const char *secret = id + APIKEY_ID_LEN + 1;
    size_t n = 0;
    while (secret[n]) {
        if (!is_base64url(secret[n]) || n >= SECRET_MAX_LEN) return -1;
        n++;
    }
    if (n < SECRET_MIN_LEN) return -1;
    if (out) {
        memcpy(out->key_id, id, APIKEY_ID_LEN);
        out->key_id[APIKEY_ID_LEN] = 0;
        memcpy(out->secret, secret, n + 1);
    }
    return 0;
}

int apikey_generate(const char *key_id_in, char *token, size_t token_len, char key_id[APIKEY_ID_LEN + 1],
                    char secret[128])
{
    char id[APIKEY_ID_LEN + 1];
    if (key_id_in) {
        if (!is_key_id(key_id_in)) return -1;
        memcpy(id, key_id_in, sizeof id);
    } else {
        unsigned char idb[APIKEY_ID_LEN / 2];
        if (random_bytes(idb, sizeof idb)) return -1;
        hex_encode(idb, sizeof idb, id);
    }
    unsigned char raw[APIKEY_SECRET_BYTES];
    char sec[4 * ((APIKEY_SECRET_BYTES + 2) / 3) + 1];
    if (random_bytes(raw, sizeof raw)) return -1;
    base64url_encode(raw, sizeof raw, sec);
    if (str_fmt(token, token_len, TOKEN_PREFIX "%s_%s", id, sec)) return -1;
    memcpy(key_id, id, sizeof id);
    str_copy(secret, 128, sec);
    return 0;
}

void apikey_hash(const char *pepper, const char *secret, char out[65])
{
    if (!pepper) pepper = "";
    if (!secret) secret = "";
    hmac_sha256_hex(pepper, strlen(pepper), secret, strlen(secret), out);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Next comma-separated item of *p, trimmed; returns false at the end. */
static bool next_item(const char **p, const char **start, size_t *len)
{
    const char *s = *p;
    if (!*s) return false;
    const char *comma = strchr(s, ',');
    const char *end = comma ? comma : s + strlen(s);
    *p = comma ? comma + 1 : end;
    while (s < end && is_space(*s)) s++;
    while (end > s && is_space(end[-1])) end--;
    *start = s;
    *len = (size_t)(end - s);
    return true;
}

static int valid_scope_index(const char *s, size_t len)
{
    for (size_t i = 0; i < N_VALID_SCOPES; i++)
        if (strlen(valid_scopes[i]) == len && !memcmp(valid_scopes[i], s, len)) return (int)i;
    return -1;
}

static int scope_error(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) str_copy(err, errlen, msg);
    return -1;
}

int apikey_scopes_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
    if (!out || !outlen) return scope_error(err, errlen, "no room for the scope list");
    out[0] = 0;
    bool seen[N_VALID_SCOPES] = {false};
    size_t used = 0;
    const char *p = in ? in : "", *item;
    size_t len;
    while (next_item(&p, &item, &len)) {
        if (!len) continue;
        int idx = valid_scope_index(item, len);
        if (idx < 0) {
            if (err && errlen) {
                /* Show the bad name, shortened and with control bytes replaced. */
                char shown[65];
                size_t n = len < sizeof shown - 1 ? len : sizeof shown - 1;
                for (size_t i = 0; i < n; i++)
                    shown[i] = (unsigned char)item[i] < 0x20 || item[i] == 0x7f ? '?' : item[i];
                shown[n] = 0;
                snprintf(err, errlen, "unknown scope '%s'; valid scopes are: " VALID_SCOPES_TEXT, shown);
            }
            out[0] = 0;
            return -1;
        }
        if (seen[idx]) continue;
        seen[idx] = true;
        size_t need = len + (used ? 1 : 0);
        if (used + need + 1 > outlen) {
            out[0] = 0;
            return scope_error(err, errlen, "scope list too long");
        }
        if (used) out[used++] = ',';
        memcpy(out + used, item, len);
        used += len;
        out[used] = 0;
    }
    if (!used) return scope_error(err, errlen, "no scopes given; valid scopes are: " VALID_SCOPES_TEXT);
    return 0;
}

bool apikey_scopes_allow(const char *scopes, const char *needed)
{
    if (!scopes || !needed || !*needed) return false;
    size_t nlen = strlen(needed);
    /* "*" is every scope of one owner's work: admin and every owner's work are named */
    bool admin = !strcmp(needed, "keys:manage") || !strcmp(needed, "fax:all");
    const char *p = scopes, *item;
    size_t len;
    while (next_item(&p, &item, &len)) {
        if (len == nlen && !memcmp(item, needed, len)) return true;
        if (len == 1 && item[0] == '*' && !admin) return true;
    }
    return false;
}
