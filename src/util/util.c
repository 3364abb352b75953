/* util.c — implementation of the shared helpers in util.h. OpenSSL provides the
 * hashing, HMAC and random bytes; everything else is plain POSIX. */
#include "util.h"
#include "log_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

void iso8601_from_ms(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    unsigned millis = (unsigned)(((ms % 1000) + 1000) % 1000);
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03u+00:00", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, millis % 1000u);
}

int64_t ms_from_iso8601(const char *s)
{
    if (!s) return -1;
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return -1;
    const char *p = s + n;
    int frac_ms = 0;
    if (*p == 'T' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m) != 3 || m != 8) return -1;
        p += 1 + m;
        if (*p == '.') {
            p++;
            int digits = 0;
            while (*p >= '0' && *p <= '9') {
                if (digits < 3) frac_ms = frac_ms * 10 + (*p - '0');
                digits++;
                p++;
            }
            if (digits == 0) return -1;
            for (int i = digits; i < 3; i++) frac_ms *= 10;
        }
    }
    if (*p == 'Z') p++;
    else if (!strcmp(p, "+00:00")) p += 6;
    if (*p) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d;
    tm.tm_hour = h; tm.tm_min = mi; tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    return (int64_t)t * 1000 + frac_ms;
}

int random_bytes(void *buf, size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * len] = 0;
}

void new_id_hex32(char out[33])
{
    unsigned char b[16];
    if (random_bytes(b, sizeof b) != 0) {
        /* The CSPRNG failing is not something we can continue past safely. */
        log_error("random number generator failed");
        abort();
    }
    hex_encode(b, 16, out);
}

static size_t b64_any(const unsigned char *in, size_t len, char *out, const char *alpha, bool pad)
{
    size_t o = 0, i = 0;
    while (i + 2 < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63]; out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];  out[o++] = alpha[v & 63];
        i += 3;
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = alpha[v >> 18 & 63]; out[o++] = alpha[v >> 12 & 63];
        if (i + 1 < len) out[o++] = alpha[v >> 6 & 63];
        else if (pad) out[o++] = '=';
        if (pad) out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

size_t base64url_encode(const unsigned char *in, size_t len, char *out)
{
    return b64_any(in, len, out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false);
}

size_t base64_encode(const unsigned char *in, size_t len, char *out)
{
    return b64_any(in, len, out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true);
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

unsigned char *base64_decode(const char *in, size_t len, size_t max, bool strict, size_t *outlen)
{
    size_t cap = len / 4 * 3 + 3;
    if (cap > max) cap = max;
    unsigned char *out = malloc(cap + 1);
    if (!out) return NULL;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '=') { pad++; continue; }
        int v = b64_value(c);
        if (v < 0 || pad) { free(out); return NULL; }   /* bad byte, or data after padding */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap) { free(out); return NULL; }
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (strict && (pad > 2 || bits >= 6)) { free(out); return NULL; }
    out[n] = 0;
    if (outlen) *outlen = n;
    return out;
}

void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    hex_encode(md, sizeof md, out);
}

int sha256_file_hex(const char *path, char out[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) { close(fd); return -1; }
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) { if (errno == EINTR) continue; rc = -1; break; }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    close(fd);
    if (rc == 0) hex_encode(md, 32, out);
    return rc;
}

void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen);
    hex_encode(md, 32, out);
}

bool secure_streq(const char *a, const char *b)
{
    if (!a || !b) return false;
    size_t la = strlen(a), lb = strlen(b);
    size_t n = la > lb ? la : lb;
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        unsigned char cb = i < lb ? (unsigned char)b[i] : 0;
        diff |= ca ^ cb;
    }
    return diff == 0;
}

/* ---- logging ---- */
static log_level g_level = LOG_INFO;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;

/* The level can change while serving (a live settings change): atomic, no lock. */
void log_set_level(log_level lvl) { __atomic_store_n(&g_level, lvl, __ATOMIC_RELAXED); }

void log_msg(log_level lvl, const char *fmt, ...)
{
    if (lvl < __atomic_load_n(&g_level, __ATOMIC_RELAXED)) return;
    static const char *names[] = {"debug", "info", "warn", "error"};
    char ts[32];
    iso8601_from_ms(now_ms(), ts);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_log_lock);
    fprintf(stderr, "%s %-5s %s\n", ts, names[lvl], line);
    pthread_mutex_unlock(&g_log_lock);
    log_tap_push("log", names[lvl], line);       /* the console's live Logs page */
}

void mask_phone(const char *in, char *out, size_t outlen)
{
    if (!outlen) return;
    size_t n = in ? strlen(in) : 0;
    size_t keep = n > 4 ? 4 : 0;     /* too short to show anything safely */
    size_t stars = n > 4 ? n - keep : (n ? n : 4);
    size_t o = 0;
    for (size_t i = 0; i < stars && o + 1 < outlen; i++) out[o++] = '*';
    for (size_t i = n - keep; i < n && o + 1 < outlen; i++) out[o++] = in[i];
    out[o] = 0;
}

int str_copy(char *dst, size_t dstlen, const char *src)
{
    if (!dstlen) return -1;
    if (!src) src = "";
    size_t n = strlen(src);
    if (n >= dstlen) {
        memcpy(dst, src, dstlen - 1);
        dst[dstlen - 1] = 0;
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

int str_fmt(char *dst, size_t dstlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, dstlen, fmt, ap);
    va_end(ap);
    return (n < 0 || (size_t)n >= dstlen) ? -1 : 0;
}

void sb_init(strbuf *sb) { sb->data = NULL; sb->len = sb->cap = 0; }

static int sb_reserve(strbuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap) return 0;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1) cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) return -1;
    sb->data = p;
    sb->cap = cap;
    return 0;
}

int sb_append(strbuf *sb, const void *data, size_t len)
{
    if (sb_reserve(sb, len)) return -1;
    if (len) memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = 0;
    return 0;
}

int sb_puts(strbuf *sb, const char *s) { return sb_append(sb, s, strlen(s)); }

int sb_appendf(strbuf *sb, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_reserve(sb, (size_t)n)) { va_end(ap2); return -1; }
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    sb->len += (size_t)n;
    return 0;
}

void sb_free(strbuf *sb) { free(sb->data); sb_init(sb); }

char *sb_steal(strbuf *sb)
{
    if (!sb->data) {
        if (sb_reserve(sb, 0)) return NULL;
        sb->data[0] = 0;
    }
    char *p = sb->data;
    sb_init(sb);
    return p;
}

int mkdir_p(const char *path, int mode)
{
    char tmp[4096];
    if (str_copy(tmp, sizeof tmp, path)) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, (mode_t)mode) && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, (mode_t)mode) && errno != EEXIST) return -1;
    return 0;
}

int read_file_all(const char *path, char **data, size_t *len, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    strbuf sb;
    sb_init(&sb);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) { if (errno == EINTR) continue; goto fail; }
        if (sb.len + (size_t)n > max) goto fail;
        if (sb_append(&sb, buf, (size_t)n)) goto fail;
    }
    close(fd);
    *len = sb.len;
    *data = sb_steal(&sb);
    return *data ? 0 : -1;
fail:
    close(fd);
    sb_free(&sb);
    return -1;
}

int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[4096];
    if (str_fmt(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid())) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0) { if (errno == EINTR) continue; close(fd); unlink(tmp); return -1; }
        p += n; left -= (size_t)n;
    }
    if (fsync(fd) || close(fd)) { unlink(tmp); return -1; }
    if (rename(tmp, path)) { unlink(tmp); return -1; }
    char dir[4096];
    str_copy(dir, sizeof dir, path);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; fsync_dir(dir[0] ? dir : "/"); }
    return 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int64_t file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return (int64_t)st.st_size;
}

int fd_copy(int in, int out)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR) continue;
                return -1;
            }
            off += w;
        }
    }
    return 0;
}

/* ---- percent-decoding ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long url_decode(const char *s, size_t len, char *out, size_t outlen, unsigned flags)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+' && (flags & URL_PLUS_SPACE)) {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1, lo = hi < 0 ? -1 : hex_digit(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (char)(hi * 16 + lo);
                i += 2;
            } else if (flags & URL_STRICT) {
                return -1;
            }
        }
        if (c == 0 && !(flags & URL_NUL_OK)) {
            if (!(flags & URL_NUL_QMARK)) return -1;
            c = '?';
        }
        if (o + 1 >= outlen) return -1;
        out[o++] = c;
    }
    if (o >= outlen) return -1;
    out[o] = 0;
    return (long)o;
}

char *url_decode_dup(const char *s, size_t len, size_t *outlen, unsigned flags)
{
    char *d = malloc(len + 1);
    if (!d) return NULL;
    long n = url_decode(s, len, d, len + 1, flags);
    if (n < 0) { free(d); return NULL; }
    if (outlen) *outlen = (size_t)n;
    return d;
}

int utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (n < (size_t)len) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void utf8_clean(const char *in, size_t len, char *out, size_t outlen)
{
    if (!out || !outlen) return;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < len;) {
        int n = utf8_seq_len(p + i, len - i);
        if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7F))) {
            if (o + 1 >= outlen) break;
            out[o++] = '_';
            i++;
            continue;
        }
        if (o + (size_t)n >= outlen) break;
        memcpy(out + o, p + i, (size_t)n);
        o += (size_t)n;
        i += (size_t)n;
    }
    out[o] = 0;
}
