/* settings.h — the one table of every setting the gateway reads, and the one seam
 * through which it is read. Each setting is a row (name, type, range, default,
 * secret or not, the backend it belongs to, whether it applies live or needs a
 * restart, where it lands). The core rows live in settings_core.c; each backend
 * declares its own rows in its backend_ops (registered at start). The effective
 * value of a row is resolved with the precedence
 *     built-in default  <  settings file (FAXBOT_CONFIG)  <  environment
 * and every value remembers where it came from. Nothing outside this module reads
 * the process environment for a setting.
 *
 * A snapshot is immutable: a change (PUT /admin/settings, reload) builds a new one
 * and makes it current; readers that hold an older one keep a valid pointer. */
#ifndef FAXBOT_SETTINGS_H
#define FAXBOT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { SETTING_STR, SETTING_INT, SETTING_BOOL, SETTING_ENUM } setting_type;

typedef enum {
    SETTING_LIVE,       /* applied by POST/PUT without a restart (config reload or backend swap) */
    SETTING_RESTART,    /* read once at start (listen address, data dir, thread counts): restart needed */
    SETTING_ENV_ONLY,   /* bootstrap: where the file is and its key; never in the file */
} setting_apply;

typedef enum { SOURCE_DEFAULT, SOURCE_FILE, SOURCE_ENV } setting_source;

typedef struct setting_def {
    const char *name;        /* the environment variable (Faxbot's name) and the file key */
    setting_type type;
    const char *dflt;        /* text of the default; "" = empty / computed (see help) */
    long lo, hi;             /* SETTING_INT: the accepted range */
    const char *choices;     /* SETTING_ENUM: "audio|t38" */
    bool secret;             /* masked everywhere, encrypted in the file */
    const char *group;       /* section in GET /admin/settings: "server", "phaxio", ... */
    const char *backend;     /* the backend it belongs to, NULL for the core */
    setting_apply apply;
    const char *lands;       /* where the value goes */
    const char *help;
} setting_def;

/* Rows a backend declares (group = backend = the backend's name; applied live by a
 * backend swap). Arrays of rows end with SETTING_END. */
#define SETTING_ROW_STR(b, n, d, l, h) {.name = n, .type = SETTING_STR, .dflt = d, .group = b, .backend = b, .apply = SETTING_LIVE, .lands = l, .help = h}
#define SETTING_ROW_SECRET(b, n, l, h) {.name = n, .type = SETTING_STR, .dflt = "", .secret = true, .group = b, .backend = b, .apply = SETTING_LIVE, .lands = l, .help = h}
#define SETTING_ROW_INT(b, n, d, lo_, hi_, l, h) {.name = n, .type = SETTING_INT, .dflt = d, .lo = lo_, .hi = hi_, .group = b, .backend = b, .apply = SETTING_LIVE, .lands = l, .help = h}
#define SETTING_ROW_BOOL(b, n, d, l, h) {.name = n, .type = SETTING_BOOL, .dflt = d, .group = b, .backend = b, .apply = SETTING_LIVE, .lands = l, .help = h}
#define SETTING_ROW_ENUM(b, n, d, c, l, h) {.name = n, .type = SETTING_ENUM, .dflt = d, .choices = c, .group = b, .backend = b, .apply = SETTING_LIVE, .lands = l, .help = h}
#define SETTING_END {.name = NULL}

/* Adds rows to the table (a backend's at start; a plugin's, also while serving). Rows
 * whose name is already in the table are skipped (shared trunk rows). n < 0: up to
 * SETTING_END. The rows must live as long as the process. Thread-safe: a row added
 * while serving has its value in the snapshots built after it (settings_load, reload);
 * older snapshots answer its default. */
void settings_register(const setting_def *rows, int n);
/* The row named `name` (env name, case-insensitive, or its lowercase API key), or NULL. */
const setting_def *settings_find(const char *name);
/* Every registered row, in registration order. */
int settings_rows(const setting_def *const **rows);

typedef struct settings_snapshot settings_snapshot;

/* Builds a snapshot from the file values (a jansson object NAME -> value, may be
 * NULL) and an environment array (NULL-terminated "K=V"). Each value is checked
 * against its row; -1 with a message naming the setting on the first bad one. */
struct json_t;
settings_snapshot *settings_build(const struct json_t *file_values, char *const *envp, char *err, size_t errlen);
void settings_snapshot_free(settings_snapshot *s);

/* The current snapshot (never NULL once settings_load ran; a defaults-only one before). */
const settings_snapshot *settings_current(void);
/* While set (non-NULL), settings_current() on this thread returns s: a candidate
 * change is tried (a backend created from it) without anyone else seeing it. */
void settings_override_thread(const settings_snapshot *s);
/* Makes s current (takes ownership; the old one stays valid until settings_shutdown). */
void settings_set_current(settings_snapshot *s);
void settings_shutdown(void);

/* The value of a row in s ("" when empty) and where it came from; NULL if unknown. */
const char *settings_value(const settings_snapshot *s, const char *name, setting_source *src);
/* The file's own values (what the settings file holds), as a new JSON object. */
struct json_t *settings_file_values(const settings_snapshot *s);
const char *settings_source_name(setting_source src);
/* A .env text (malloc'd) of the values of s that are not defaults, secrets left out
 * (counted in *omitted) unless include_secrets; env-only rows are never in it. */
char *settings_export_env(const settings_snapshot *s, bool include_secrets, int *omitted);
/* Masks a secret for display: all but the last 4 characters become '*'; "***" if
 * 4 or fewer characters; "" stays "". */
void settings_mask(const char *value, char *out, size_t outlen);
/* Checks one textual value against its row; 0 or -1 with err. Normalizes bools
 * ("yes" -> "true") and enums (lowercase) into out. */
int settings_check_value(const setting_def *row, const char *value, char *out, size_t outlen, char *err, size_t errlen);

/* ---- the reading seam for modules (backends, renderers, the CLI) ----
 * From the current snapshot; unset and empty mean the row's default. A name that
 * is not in the table is a programming error: it is refused with a message. */
int setting_str(const char *name, char *dst, size_t dstlen, char *err, size_t errlen);
/* Like setting_str, but an empty value becomes `fallback` (a default computed at run time). */
int setting_str_or(const char *name, const char *fallback, char *dst, size_t dstlen, char *err, size_t errlen);
int setting_int(const char *name, long *out, char *err, size_t errlen);
int setting_bool(const char *name, bool *out, char *err, size_t errlen);
/* The raw value or NULL when empty (for optional settings and fallbacks between names). */
const char *setting_raw(const char *name);

/* Makes a snapshot of defaults and the process environment (no file) current:
 * for tools and tests that change the environment while running. */
int settings_use_environment(void);

/* ---- the settings file (settings_file.c) ---- */
/* FAXBOT_CONFIG, else $FAX_DATA_DIR/config/faxbot.config.json (from envp). */
int settings_file_path(char *const *envp, char *out, size_t outlen);
/* FAXBOT_CONFIG_KEY decoded; *have false when unset. -1 with err when malformed. */
int settings_file_key(char *const *envp, unsigned char key[32], bool *have, char *err, size_t errlen);
/* The file's NAME -> value object, secrets decrypted (an empty object when there is
 * no file); NULL with err (line and column when it does not parse). Counts the
 * secrets stored as plain text in *n_plain_secrets. */
struct json_t *settings_file_read(const char *path, const unsigned char *key, int *n_plain_secrets, char *err, size_t errlen);
/* Writes NAME -> value atomically (0600, previous version as .bak), secrets
 * encrypted when key is given. */
int settings_file_write(const char *path, const struct json_t *values, const unsigned char *key, char *err, size_t errlen);
/* Reads the file and the environment into a new current snapshot; -1 with err
 * (nothing changes then). */
int settings_load(char *const *envp, char *err, size_t errlen);
/* How many secrets the file loaded last holds as plain text (no FAXBOT_CONFIG_KEY). */
int settings_plain_secrets(void);
/* The message of the last failed settings_load ("" if it succeeded); config_load
 * fails with it, so that nobody runs on half the settings. */
const char *settings_load_error(void);
void settings_set_load_error(const char *msg);

/* ---- environment-only variables outside the table (operating system) ---- */
/* TMPDIR and PATH belong to the operating system, not to the gateway's settings. */
const char *settings_os_env(const char *name);

#endif
