/* multipart.c — incremental multipart/form-data parser (RFC 7578 / RFC 2046).
 * The upload handlers feed it the raw request body chunk by chunk as it arrives;
 * it calls back with each part's headers (name, filename, content type) and body
 * bytes. Memory is bounded (one fixed header buffer per parser); the delimiter is
 * found with a KMP matcher so it may be split across any chunk boundary, including
 * one byte at a time. Pure: no I/O, no logging. */
#include "http/multipart.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MP_BOUNDARY_MAX 70                 /* RFC 2046 */
#define MP_DELIM_MAX (MP_BOUNDARY_MAX + 4)  /* "\r\n--" + boundary */
#define MP_HEADER_MAX 8192                 /* one part's header block */

typedef enum {
    ST_PREAMBLE = 0,   /* before the first boundary: discarded */
    ST_AFTER_DELIM,    /* just after "--boundary": "--", padding, CRLF */
    ST_AFTER_DELIM_LF, /* saw CR after the boundary, need LF */
    ST_AFTER_DELIM_DASH, /* saw one '-' after the boundary, need another */
    ST_HEADERS,        /* collecting a part's header block */
    ST_BODY,           /* part body, scanning for the delimiter */
    ST_DONE,           /* closing boundary seen: epilogue is ignored */
    ST_ERROR
} mp_state;

struct multipart_parser {
    multipart_callbacks cb;
    void *ctx;
    mp_state state;
    char delim[MP_DELIM_MAX + 1];     /* "\r\n--" + boundary */
    size_t dlen;
    size_t fail[MP_DELIM_MAX + 1];    /* KMP: fail[m] = longest border of delim[0..m) */
    size_t match;                     /* delimiter bytes matched so far */
    char hbuf[MP_HEADER_MAX];
    size_t hlen;
    char vbuf[MP_HEADER_MAX + 8];     /* decoded name / filename / content type */
    char error[160];
};

/* ---- helpers ---- */

static int fail_with(multipart_parser *p, const char *msg)
{
    snprintf(p->error, sizeof p->error, "%s", msg);
    p->state = ST_ERROR;
    return -1;
}

static bool is_bchar(unsigned char c)
{
    /* RFC 2046 bchars: DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," / "-" / "." / "/" / ":" / "=" / "?" / " " */
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

static const char *skip_ws(const char *s)
{
    while (is_ws(*s))
        s++;
    return s;
}

/* A parameter's name at s (*name, *namelen) and its '=': where its value begins,
 * or NULL when no '=' follows the name. */
static const char *read_param_name(const char *s, const char **name, size_t *namelen)
{
    *name = s;
    while (*s && *s != '=' && *s != ';' && !is_ws(*s))
        s++;
    *namelen = (size_t)(s - *name);
    s = skip_ws(s);
    if (*s != '=')
        return NULL;
    return skip_ws(s + 1);
}

/* Reads one header parameter value at *s (quoted-string with backslash escapes, or
 * a token up to ';'), writes it NUL-terminated to *out (advancing it) and returns
 * the position after the value, or NULL if a quoted string is unterminated. */
static const char *read_param_value(const char *s, char **out, const char *out_end)
{
    char *o = *out;
    if (*s == '"') {
        s++;
        while (*s && *s != '"') {
            if (*s == '\\' && s[1])
                s++;
            if (o < out_end)
                *o++ = *s;
            s++;
        }
        if (*s != '"')
            return NULL;
        s++;
    } else {
        const char *start = s;
        while (*s && *s != ';')
            s++;
        const char *end = s;
        while (end > start && is_ws(end[-1]))
            end--;
        size_t n = (size_t)(end - start);
        if (n > (size_t)(out_end - o))
            n = (size_t)(out_end - o);
        memcpy(o, start, n);
        o += n;
    }
    if (o < out_end)
        *o++ = '\0';
    else if (o > *out)
        o[-1] = '\0';
    else
        return NULL;
    *out = o;
    return s;
}

/* Parses "form-data; name=...; filename=..." into info, storing values at *vb. */
static int parse_disposition(const char *v, multipart_part_info *info, char **vb, const char *vb_end)
{
    const char *s = skip_ws(v);
    const char *type = s;
    while (*s && *s != ';' && !is_ws(*s))
        s++;
    if (!((size_t)(s - type) == 9 && strncasecmp(type, "form-data", 9) == 0))
        return -1;
    for (;;) {
        s = skip_ws(s);
        if (*s == '\0')
            break;
        if (*s != ';')
            return -1;
        s = skip_ws(s + 1);
        if (*s == '\0')
            break;               /* tolerate a trailing ';' */
        const char *pname;
        size_t plen;
        s = read_param_name(s, &pname, &plen);
        if (!s)
            return -1;
        char *val = *vb;
        const char *next = read_param_value(s, vb, vb_end);
        if (!next)
            return -1;
        s = next;
        if (plen == 4 && strncasecmp(pname, "name", 4) == 0)
            info->name = val;
        else if (plen == 8 && strncasecmp(pname, "filename", 8) == 0)
            info->filename = val;
        /* filename* (RFC 5987) and unknown parameters are ignored */
    }
    return 0;
}

/* Parses the collected header block (without the final blank line) of one part. */
static int parse_part_headers(multipart_parser *p, multipart_part_info *info)
{
    memset(info, 0, sizeof *info);
    char *h = p->hbuf;
    size_t n = p->hlen;          /* ends with "\r\n\r\n" or is exactly "\r\n" */
    n = (n >= 4) ? n - 2 : 0;    /* keep the last header line's CRLF */
    /* unfold obsolete continuation lines: CRLF followed by SP/HT becomes spaces */
    for (size_t i = 0; i + 2 < n; i++)
        if (h[i] == '\r' && h[i + 1] == '\n' && is_ws(h[i + 2]))
            h[i] = h[i + 1] = ' ';
    char *vb = p->vbuf, *vb_end = p->vbuf + sizeof p->vbuf;
    bool have_disposition = false;
    size_t pos = 0;
    while (pos < n) {
        char *line = h + pos;
        char *eol = memchr(line, '\r', n - pos);
        if (!eol || eol + 1 >= h + n || eol[1] != '\n')
            return fail_with(p, "malformed multipart part header (lines must end with CRLF)");
        *eol = '\0';
        pos = (size_t)(eol - h) + 2;
        if (memchr(line, '\0', (size_t)(eol - line)) != NULL)
            return fail_with(p, "multipart part header contains a NUL byte");
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            return fail_with(p, "malformed multipart part header (expected 'Name: value')");
        *colon = '\0';
        const char *value = skip_ws(colon + 1);
        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (parse_disposition(value, info, &vb, vb_end) != 0)
                return fail_with(p, "malformed Content-Disposition in multipart part "
                                    "(expected form-data; name=\"...\")");
            have_disposition = true;
        } else if (strcasecmp(line, "Content-Type") == 0) {
            char *ct = vb;
            const char *vend = value + strlen(value);
            while (vend > value && is_ws(vend[-1]))
                vend--;
            size_t len = (size_t)(vend - value);
            if (len + 1 > (size_t)(vb_end - vb))
                return fail_with(p, "multipart part headers are too large");
            memcpy(vb, value, len);
            vb[len] = '\0';
            vb += len + 1;
            info->content_type = ct;
        }
    }
    if (!have_disposition)
        return fail_with(p, "multipart part has no Content-Disposition header");
    if (!info->name)
        return fail_with(p, "multipart part has no name in its Content-Disposition header");
    return 0;
}

static int emit_data(multipart_parser *p, const char *data, size_t len)
{
    if (len == 0 || p->state != ST_BODY || !p->cb.part_data)
        return 0;
    if (p->cb.part_data(p->ctx, data, len) != 0)
        return fail_with(p, "multipart parsing was stopped by the receiver of a part's data");
    return 0;
}

/* Scans for the delimiter in PREAMBLE or BODY state. Bytes known not to belong to a
 * delimiter are emitted as part data (BODY) or dropped (PREAMBLE). Returns the bytes
 * consumed (stopping right after a complete delimiter, then *found is set), or -1. */
static long scan_for_delim(multipart_parser *p, const char *data, size_t len, bool *found)
{
    size_t i = 0;
    size_t run = SIZE_MAX;       /* start of plain data not yet emitted */
    while (i < len) {
        if (p->match == 0) {
            const char *q = memchr(data + i, p->delim[0], len - i);
            size_t j = q ? (size_t)(q - data) : len;
            if (run == SIZE_MAX && j > i)
                run = i;
            i = j;
            if (i == len)
                break;
            if (run != SIZE_MAX) {
                if (emit_data(p, data + run, i - run) != 0)
                    return -1;
                run = SIZE_MAX;
            }
            p->match = 1;
            i++;
            continue;
        }
        if (p->delim[p->match] == data[i]) {
            p->match++;
            i++;
            if (p->match == p->dlen) {
                p->match = 0;
                *found = true;
                return (long)i;
            }
            continue;
        }
        /* mismatch: release the bytes that can no longer start a delimiter */
        size_t keep = p->fail[p->match];
        if (emit_data(p, p->delim, p->match - keep) != 0)
            return -1;
        p->match = keep;
    }
    if (run != SIZE_MAX && emit_data(p, data + run, len - run) != 0)
        return -1;
    return (long)len;
}

static int begin_part(multipart_parser *p)
{
    multipart_part_info info;
    if (parse_part_headers(p, &info) != 0)
        return -1;
    p->state = ST_BODY;
    if (p->cb.part_begin && p->cb.part_begin(p->ctx, &info) != 0)
        return fail_with(p, "multipart parsing was stopped by the receiver at the start of a part");
    return 0;
}

/* Collects header bytes; returns bytes consumed or -1. */
static long collect_headers(multipart_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (p->hlen == sizeof p->hbuf)
            return fail_with(p, "multipart part headers are larger than 8192 bytes");
        p->hbuf[p->hlen++] = data[i++];
        bool done = (p->hlen == 2 && p->hbuf[0] == '\r' && p->hbuf[1] == '\n') ||
                    (p->hlen >= 4 && memcmp(p->hbuf + p->hlen - 4, "\r\n\r\n", 4) == 0);
        if (done) {
            if (begin_part(p) != 0)
                return -1;
            return (long)i;
        }
    }
    return (long)len;
}

/* ---- public API ---- */

int multipart_boundary(const char *content_type, char *out, size_t outlen)
{
    if (!content_type || !out || outlen == 0)
        return -1;
    const char *s = skip_ws(content_type);
    if (strncasecmp(s, "multipart/form-data", 19) != 0)
        return -1;
    s += 19;
    if (*s && *s != ';' && !is_ws(*s))
        return -1;
    for (;;) {
        s = skip_ws(s);
        if (*s == '\0')
            return -1;
        if (*s != ';')
            return -1;
        s = skip_ws(s + 1);
        const char *pname;
        size_t plen;
        s = read_param_name(s, &pname, &plen);
        if (!s)
            return -1;
        char val[MP_BOUNDARY_MAX + 2];
        size_t vlen = 0;
        bool too_long = false;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1])
                    s++;
                if (vlen < sizeof val - 1)
                    val[vlen++] = *s;
                else
                    too_long = true;
                s++;
            }
            if (*s != '"')
                return -1;
            s++;
        } else {
            while (*s && *s != ';' && !is_ws(*s)) {
                if (vlen < sizeof val - 1)
                    val[vlen++] = *s;
                else
                    too_long = true;
                s++;
            }
        }
        val[vlen] = '\0';
        if (plen == 8 && strncasecmp(pname, "boundary", 8) == 0) {
            if (too_long || vlen == 0 || vlen > MP_BOUNDARY_MAX || val[vlen - 1] == ' ')
                return -1;
            for (size_t i = 0; i < vlen; i++)
                if (!is_bchar((unsigned char)val[i]))
                    return -1;
            if (vlen + 1 > outlen)
                return -1;
            memcpy(out, val, vlen + 1);
            return 0;
        }
    }
}

multipart_parser *multipart_new(const char *boundary, const multipart_callbacks *cb, void *ctx)
{
    if (!boundary)
        return NULL;
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > MP_BOUNDARY_MAX)
        return NULL;
    multipart_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (cb)
        p->cb = *cb;
    p->ctx = ctx;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen);
    p->dlen = blen + 4;
    /* KMP failure table over the delimiter */
    p->fail[0] = 0;
    if (p->dlen >= 1)
        p->fail[1] = 0;
    size_t k = 0;
    for (size_t i = 1; i < p->dlen; i++) {
        while (k > 0 && p->delim[i] != p->delim[k])
            k = p->fail[k];
        if (p->delim[i] == p->delim[k])
            k++;
        p->fail[i + 1] = k;
    }
    /* The body may start with "--boundary" directly: act as if a CRLF preceded it. */
    p->state = ST_PREAMBLE;
    p->match = 2;
    return p;
}

int multipart_feed(multipart_parser *p, const char *data, size_t len)
{
    if (!p)
        return -1;
    if (p->state == ST_ERROR)
        return -1;
    if (len > 0 && !data)
        return fail_with(p, "multipart_feed called with no data");
    size_t i = 0;
    while (i < len) {
        long used;
        char c;
        switch (p->state) {
        case ST_PREAMBLE:
        case ST_BODY: {
            bool found = false;
            used = scan_for_delim(p, data + i, len - i, &found);
            if (used < 0)
                return -1;
            i += (size_t)used;
            if (found) {
                if (p->state == ST_BODY) {
                    p->state = ST_AFTER_DELIM;
                    if (p->cb.part_end && p->cb.part_end(p->ctx) != 0)
                        return fail_with(p, "multipart parsing was stopped by the receiver at the end of a part");
                }
                p->state = ST_AFTER_DELIM;
            }
            break;
        }
        case ST_AFTER_DELIM:
            c = data[i++];
            if (c == '-')
                p->state = ST_AFTER_DELIM_DASH;
            else if (c == '\r')
                p->state = ST_AFTER_DELIM_LF;
            else if (!is_ws(c))
                return fail_with(p, "malformed multipart boundary line (boundary text followed by other characters)");
            break;
        case ST_AFTER_DELIM_LF:
            c = data[i++];
            if (c != '\n')
                return fail_with(p, "malformed multipart boundary line (CR not followed by LF)");
            p->state = ST_HEADERS;
            p->hlen = 0;
            break;
        case ST_AFTER_DELIM_DASH:
            c = data[i++];
            if (c != '-')
                return fail_with(p, "malformed multipart closing boundary (expected \"--\")");
            p->state = ST_DONE;
            break;
        case ST_HEADERS:
            used = collect_headers(p, data + i, len - i);
            if (used < 0)
                return -1;
            i += (size_t)used;
            break;
        case ST_DONE:
            return 0;            /* epilogue: ignored */
        case ST_ERROR:
        default:
            return -1;
        }
    }
    return 0;
}

int multipart_finish(multipart_parser *p)
{
    if (!p)
        return -1;
    if (p->state == ST_ERROR)
        return -1;
    if (p->state == ST_DONE)
        return 0;
    if (p->state == ST_PREAMBLE)
        return fail_with(p, "multipart body contains no boundary line (is the boundary in Content-Type right?)");
    return fail_with(p, "multipart body ended before the closing boundary");
}

const char *multipart_error(const multipart_parser *p)
{
    if (!p)
        return "out of memory or invalid multipart boundary";
    return p->error[0] ? p->error : "no error";
}

void multipart_free(multipart_parser *p)
{
    free(p);
}
