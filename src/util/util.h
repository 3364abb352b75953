/* util.h — small helpers shared by every module: time, ids, hashing, secrets,
 * logging, masking and file-system chores. Nothing here knows about faxes. */
#ifndef FAXBOT_UTIL_H
#define FAXBOT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>

/* ---- time ---- */
int64_t now_ms(void);                         /* wall clock, ms since the epoch */
int64_t mono_ms(void);                        /* monotonic clock, ms */
void sleep_ms(int64_t ms);                    /* sleeps, resuming after signals */
/* ISO-8601 UTC with milliseconds: "2026-11-25T10:00:00.123+00:00" (needs 32 bytes) */
void iso8601_from_ms(int64_t ms, char out[32]);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff][Z|+00:00]" (or a date alone); -1 on error */
int64_t ms_from_iso8601(const char *s);

/* ---- random and ids ---- */
int random_bytes(void *buf, size_t len);      /* 0 ok, -1 if the CSPRNG failed */
void new_id_hex32(char out[33]);              /* 32 lowercase hex chars: job/inbound ids */
void hex_encode(const unsigned char *in, size_t len, char *out); /* out: 2*len+1 */
/* URL-safe base64 without padding; out needs 4*ceil(len/3)+1 bytes */
size_t base64url_encode(const unsigned char *in, size_t len, char *out);
/* Standard base64 with padding; out needs 4*ceil(len/3)+1 bytes */
size_t base64_encode(const unsigned char *in, size_t len, char *out);
/* Base64, standard or URL-safe alphabet ('=' padding optional, whitespace ignored),
 * into a malloc'd NUL-terminated buffer of at most max bytes (*outlen: its length).
 * NULL on a bad character, data after the padding, more than max bytes or out of
 * memory; when strict, also on more than two '=' or 6 dangling bits. */
unsigned char *base64_decode(const char *in, size_t len, size_t max, bool strict, size_t *outlen);

/* ---- hashing and secrets ---- */
void sha256_hex(const void *data, size_t len, char out[65]);
int sha256_file_hex(const char *path, char out[65]);           /* 0 ok */
void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len, char out[65]);
/* Constant-time equality of two strings (time depends only on the longer length). */
bool secure_streq(const char *a, const char *b);

/* ---- logging (to stderr, one line each, with level and time) ---- */
typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;
void log_set_level(log_level lvl);
void log_msg(log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* ---- masking for logs and audit ---- */
/* "+15551234567" -> "********4567"; out needs strlen(in)+1 bytes (at least 8) */
void mask_phone(const char *in, char *out, size_t outlen);

/* ---- strings ---- */
/* snprintf that always terminates and reports truncation (returns -1) */
int str_copy(char *dst, size_t dstlen, const char *src);
int str_fmt(char *dst, size_t dstlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Length in bytes (1-4) of the valid UTF-8 sequence at s (n bytes available), or 0
 * when it is not one (overlong forms, surrogates and code points past U+10FFFF
 * included). */
int utf8_seq_len(const unsigned char *s, size_t n);
/* Copies in (len bytes) into out as valid UTF-8 text of one line: every byte that
 * does not start a valid sequence, and every control character (C0, DEL), becomes
 * '_', and a sequence is never cut by the end of out. Always terminates out. */
void utf8_clean(const char *in, size_t len, char *out, size_t outlen);
/* Growable byte buffer. */
typedef struct strbuf { char *data; size_t len, cap; } strbuf;
void sb_init(strbuf *sb);
int sb_append(strbuf *sb, const void *data, size_t len);
int sb_appendf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_puts(strbuf *sb, const char *s);
void sb_free(strbuf *sb);
/* Takes the buffer (NUL-terminated); sb is left empty. */
char *sb_steal(strbuf *sb);

/* ---- percent-decoding (the one decoder for query strings, form bodies, ESL and
 * PBX hand-off values) ---- */
enum {
    URL_PLUS_SPACE = 1,     /* '+' means ' ' (application/x-www-form-urlencoded) */
    URL_STRICT = 2,         /* a '%' without two hex digits fails; else it is kept as is */
    URL_NUL_OK = 4,         /* a decoded NUL byte is kept (binary values); else it fails */
    URL_NUL_QMARK = 8,      /* a decoded NUL byte becomes '?' */
};
/* Decodes s[0..len) into out (outlen must be at least len + 1; out may be s) and
 * NUL-terminates it. Returns the decoded length, or -1 on a refused byte or room. */
long url_decode(const char *s, size_t len, char *out, size_t outlen, unsigned flags);
/* The same into a new malloc'd buffer (NULL on failure); *outlen gets the length. */
char *url_decode_dup(const char *s, size_t len, size_t *outlen, unsigned flags);

/* ---- files ---- */
int mkdir_p(const char *path, int mode);                  /* 0 ok or exists */
int read_file_all(const char *path, char **data, size_t *len, size_t max);  /* 0 ok */
int write_file_atomic(const char *path, const void *data, size_t len);      /* tmp + fsync + rename */
int remove_tree(const char *path);                        /* rm -r, no symlink following */
int64_t file_size(const char *path);                      /* -1 if missing */
int fsync_dir(const char *dir);
/* Copies everything readable from in to out (both open descriptors); 0 or -1. */
int fd_copy(int in, int out);

#endif
