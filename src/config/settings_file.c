/* settings_file.c — the settings file (FAXBOT_CONFIG, default
 * $FAX_DATA_DIR/config/faxbot.config.json):
 *     {"version": 1, "settings": {"FAX_BACKEND": "phaxio", "PHAXIO_API_SECRET": "aes256gcm:…"}}
 * Written atomically (temp file, fsync, rename, directory fsync; mode 0600) with
 * the previous version kept as <file>.bak. Secret rows are encrypted with
 * AES-256-GCM under FAXBOT_CONFIG_KEY (base64 of 32 bytes; a fresh 12-byte nonce
 * per value, the setting's name as associated data so a value cannot be moved to
 * another name); without a key they are stored as plain text and the start warns.
 * A file that does not parse stops the start with its line and column. */
#include "config/settings.h"
#include "util/util.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENC_PREFIX "aes256gcm:"
#define FILE_VERSION 1

static const char *envp_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return (*e)[n + 1] ? *e + n + 1 : NULL;
    return NULL;
}

int settings_file_path(char *const *envp, char *out, size_t outlen)
{
    const char *p = envp_get(envp, "FAXBOT_CONFIG");
    if (p) return str_copy(out, outlen, p);
    const char *dir = envp_get(envp, "FAX_DATA_DIR");
    return str_fmt(out, outlen, "%s/config/faxbot.config.json", dir ? dir : "./faxdata");
}

int settings_file_key(char *const *envp, unsigned char key[32], bool *have, char *err, size_t errlen)
{
    *have = false;
    const char *k = envp_get(envp, "FAXBOT_CONFIG_KEY");
    if (!k) return 0;
    unsigned char buf[64];
    size_t n = strlen(k);
    if (n != 44) goto bad;     /* base64 of 32 bytes: 43 characters and one '=' */
    int got = EVP_DecodeBlock(buf, (const unsigned char *)k, (int)n);
    if (got != 33 || k[43] != '=' || k[42] == '=') goto bad;   /* 33 = 32 + the padding byte */
    memcpy(key, buf, 32);
    explicit_bzero(buf, sizeof buf);
    *have = true;
    return 0;
bad:
    str_fmt(err, errlen, "FAXBOT_CONFIG_KEY must be the base64 of 32 random bytes (make one with `openssl rand -base64 32`)");
    return -1;
}

static int gcm(bool enc, const unsigned char key[32], const unsigned char iv[12], const char *aad,
               const unsigned char *in, int inlen, unsigned char *out, unsigned char tag[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, total = -1, ok;
    if (!c) return -1;
    ok = (enc ? EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) : EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv)) == 1;
    if (ok) ok = (enc ? EVP_EncryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad))
                      : EVP_DecryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad))) == 1;
    if (ok) ok = (enc ? EVP_EncryptUpdate(c, out, &len, in, inlen) : EVP_DecryptUpdate(c, out, &len, in, inlen)) == 1;
    total = len;
    if (ok && !enc) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
    if (ok) ok = (enc ? EVP_EncryptFinal_ex(c, out + total, &len) : EVP_DecryptFinal_ex(c, out + total, &len)) == 1;
    if (ok) total += len;
    if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? total : -1;
}

/* "aes256gcm:" + base64(nonce 12 | ciphertext | tag 16); malloc'd or NULL. */
static char *encrypt_value(const unsigned char key[32], const char *name, const char *plain)
{
    int n = (int)strlen(plain);
    unsigned char *buf = malloc((size_t)n + 28);
    char *out = malloc(strlen(ENC_PREFIX) + 4 * (((size_t)n + 28 + 2) / 3) + 1);
    if (!buf || !out || random_bytes(buf, 12)) goto fail;
    int ct = gcm(true, key, buf, name, (const unsigned char *)plain, n, buf + 12, buf + 12 + n);
    if (ct != n) goto fail;
    strcpy(out, ENC_PREFIX);
    base64_encode(buf, (size_t)n + 28, out + strlen(ENC_PREFIX));
    free(buf);
    return out;
fail:
    free(buf);
    free(out);
    return NULL;
}

static char *decrypt_value(const unsigned char key[32], const char *name, const char *text, char *err, size_t errlen)
{
    const char *b64 = text + strlen(ENC_PREFIX);
    size_t bl = strlen(b64);
    unsigned char *raw = malloc(bl + 4);
    char *plain = NULL;
    if (!raw) goto fail;
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)bl);
    if (bl >= 2 && b64[bl - 1] == '=') n--;
    if (bl >= 2 && b64[bl - 2] == '=') n--;
    if (n < 28) goto fail;
    int ctlen = n - 28;
    plain = malloc((size_t)ctlen + 16);
    if (!plain) goto fail;
    if (gcm(false, key, raw, name, raw + 12, ctlen, (unsigned char *)plain, raw + 12 + ctlen) != ctlen) goto fail;
    plain[ctlen] = 0;
    free(raw);
    return plain;
fail:
    free(raw);
    free(plain);
    str_fmt(err, errlen, "%s in the settings file cannot be decrypted: FAXBOT_CONFIG_KEY is not the key it was "
                         "written with (or the value was changed by hand)", name);
    return NULL;
}

json_t *settings_file_read(const char *path, const unsigned char *key, int *n_plain_secrets, char *err, size_t errlen)
{
    *n_plain_secrets = 0;
    if (access(path, F_OK) != 0) return json_object();    /* no file yet: defaults and environment */
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        str_fmt(err, errlen, "the settings file %s is damaged at line %d, column %d: %s (fix it, or restore %s.bak)",
                path, je.line, je.column, je.text, path);
        return NULL;
    }
    json_t *ver = json_object_get(doc, "version"), *set = json_object_get(doc, "settings");
    if (!json_is_object(doc) || !json_is_integer(ver)) {
        str_fmt(err, errlen, "the settings file %s has no \"version\": it must look like {\"version\": 1, \"settings\": {...}}", path);
        json_decref(doc);
        return NULL;
    }
    if (json_integer_value(ver) != FILE_VERSION) {   /* newer: written by a later faxbot (a downgrade) */
        str_fmt(err, errlen, json_integer_value(ver) > FILE_VERSION
                ? "the settings file %s has version %lld, written by a newer faxbot; this faxbot reads only version %d: run a newer faxbot or restore a backup"
                : "the settings file %s has version %lld; this faxbot reads version %d", path,
                (long long)json_integer_value(ver), FILE_VERSION);
        json_decref(doc);
        return NULL;
    }
    if (set && !json_is_object(set)) {
        str_fmt(err, errlen, "the settings file %s: \"settings\" must be an object of NAME: value", path);
        json_decref(doc);
        return NULL;
    }
    json_t *out = json_object();
    const char *name;
    json_t *v;
    json_object_foreach(set, name, v) {
        const setting_def *row = settings_find(name);
        if (row && json_is_string(v) && !strncmp(json_string_value(v), ENC_PREFIX, strlen(ENC_PREFIX))) {
            if (!key) {
                str_fmt(err, errlen, "%s in the settings file %s is encrypted, but FAXBOT_CONFIG_KEY is not set", row->name, path);
                goto fail;
            }
            char *plain = decrypt_value(key, row->name, json_string_value(v), err, errlen);
            if (!plain) goto fail;
            json_object_set_new(out, row->name, json_string(plain));
            explicit_bzero(plain, strlen(plain));
            free(plain);
            continue;
        }
        if (row && row->secret && json_is_string(v) && json_string_length(v)) (*n_plain_secrets)++;
        json_object_set(out, row ? row->name : name, v);
    }
    json_decref(doc);
    return out;
fail:
    json_decref(out);
    json_decref(doc);
    return NULL;
}

int settings_file_write(const char *path, const json_t *values, const unsigned char *key, char *err, size_t errlen)
{
    json_t *set = json_object();
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)values, name, v) {
        const setting_def *row = settings_find(name);
        if (row && row->secret && key && json_is_string(v) && json_string_length(v)) {
            char *enc = encrypt_value(key, row->name, json_string_value(v));
            if (!enc) { json_decref(set); str_fmt(err, errlen, "could not encrypt %s", row->name); return -1; }
            json_object_set_new(set, row->name, json_string(enc));
            free(enc);
        } else {
            json_object_set(set, row ? row->name : name, v);
        }
    }
    json_t *doc = json_pack("{s:i,s:o}", "version", FILE_VERSION, "settings", set);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) { str_fmt(err, errlen, "out of memory"); return -1; }
    char dir[4096];
    str_copy(dir, sizeof dir, path);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; if (dir[0] && mkdir_p(dir, 0700)) { free(text); str_fmt(err, errlen, "cannot create %s", dir); return -1; } }
    /* The previous version stays as .bak: a hard link made before the rename, so the
     * file itself is never missing. */
    char bak[4200];
    str_fmt(bak, sizeof bak, "%s.bak", path);
    if (access(path, F_OK) == 0) {
        unlink(bak);
        if (link(path, bak) != 0) log_warn("could not keep %s", bak);
    }
    size_t len = strlen(text);
    text = realloc(text, len + 2);
    text[len++] = '\n';
    int rc = write_file_atomic(path, text, len);
    explicit_bzero(text, len);
    free(text);
    if (rc) { str_fmt(err, errlen, "cannot write the settings file %s", path); return -1; }
    chmod(path, 0600);
    chmod(bak, 0600);
    return 0;
}

static int g_plain_secrets;

int settings_plain_secrets(void) { return g_plain_secrets; }

int settings_load(char *const *envp, char *err, size_t errlen)
{
    char path[4096];
    if (settings_file_path(envp, path, sizeof path)) { str_fmt(err, errlen, "FAXBOT_CONFIG is too long"); return -1; }
    unsigned char key[32];
    bool have_key;
    if (settings_file_key(envp, key, &have_key, err, errlen)) return -1;
    int plain = 0;
    json_t *file = settings_file_read(path, have_key ? key : NULL, &plain, err, errlen);
    explicit_bzero(key, sizeof key);
    settings_snapshot *s = file ? settings_build(file, envp, err, errlen) : NULL;
    json_decref(file);
    if (!s) {
        settings_set_load_error(err);
        return -1;
    }
    settings_set_load_error(NULL);
    g_plain_secrets = plain;
    settings_set_current(s);
    return 0;
}
