/* esl_parse.c — FreeSWITCH Event Socket framing and event bodies (see esl_parse.h).
 * Pure functions over bytes; the incremental parser only buffers. */
#include "esl/esl_parse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

struct esl_parser {
    char *buf;
    size_t len, cap;
    size_t need;        /* do not try again before this many bytes are buffered */
};

void esl_msg_free(esl_msg *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_headers; i++) {
        free(m->headers[i].name);
        free(m->headers[i].value);
    }
    free(m->headers);
    free(m->body);
    memset(m, 0, sizeof *m);
}

const char *esl_msg_get(const esl_msg *m, const char *name)
{
    if (!m || !name) return NULL;
    for (size_t i = 0; i < m->n_headers; i++)
        if (!strcasecmp(m->headers[i].name, name)) return m->headers[i].value;
    return NULL;
}

/* FreeSWITCH's plain percent-encoding ('+' stays '+'); a NUL becomes '?'. */
size_t esl_url_decode(const char *in, size_t len, char *out)
{
    long n = url_decode(in, len, out, len + 1, URL_NUL_QMARK);
    return n < 0 ? 0 : (size_t)n;
}

/* Finds the end of a header block starting at buf: the offset just past the
 * blank line, or 0 if it is not complete yet. */
static size_t block_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n') continue;
        if (buf[i + 1] == '\n') return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') return i + 3;
    }
    return 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* Parses header lines in buf[0..len) (no blank line inside) into m. */
static int parse_headers(const char *buf, size_t len, bool urlencoded, esl_msg *m, char *err, size_t errlen)
{
    size_t pos = 0;
    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll && line[ll - 1] == '\r') ll--;
        if (!ll) continue;
        const char *colon = memchr(line, ':', ll);
        if (!colon || colon == line) {
            str_fmt(err, errlen, "malformed header line (no name or no ':')");
            return -1;
        }
        if (m->n_headers >= ESL_MAX_HEADERS) {
            str_fmt(err, errlen, "more than %d headers", ESL_MAX_HEADERS);
            return -1;
        }
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vlen = ll - nlen - 1;
        while (vlen && (*v == ' ' || *v == '\t')) { v++; vlen--; }
        esl_header *nh = realloc(m->headers, (m->n_headers + 1) * sizeof *nh);
        if (!nh) { str_fmt(err, errlen, "out of memory"); return -1; }
        m->headers = nh;
        char *name = dup_n(line, nlen);
        char *value = malloc(vlen + 1);
        if (!name || !value) {
            free(name);
            free(value);
            str_fmt(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < nlen; i++)
            if (!name[i]) name[i] = '?';
        if (urlencoded) {
            esl_url_decode(v, vlen, value);
        } else {
            memcpy(value, v, vlen);
            value[vlen] = 0;
            for (size_t i = 0; i < vlen; i++)
                if (!value[i]) value[i] = '?';
        }
        m->headers[m->n_headers].name = name;
        m->headers[m->n_headers].value = value;
        m->n_headers++;
    }
    return 0;
}

/* Content-Length as a number: -1 absent, -2 invalid. */
static long content_length(const esl_msg *m)
{
    const char *cl = esl_msg_get(m, "Content-Length");
    if (!cl) return -1;
    if (!*cl) return -2;
    long n = 0;
    for (const char *p = cl; *p; p++) {
        if (*p < '0' || *p > '9') return -2;
        n = n * 10 + (*p - '0');
        if (n > ESL_MAX_BODY) return -2;
    }
    return n;
}

int esl_frame_parse(const char *buf, size_t len, esl_msg *out, size_t *consumed, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t start = 0;
    while (start < len && (buf[start] == '\n' || buf[start] == '\r')) start++;
    if (start == len) return ESL_NEED_MORE;
    size_t end = block_end(buf + start, len - start);
    if (!end) {
        if (len - start > ESL_MAX_HEADER_BLOCK) {
            str_fmt(err, errlen, "header block longer than %d bytes", ESL_MAX_HEADER_BLOCK);
            return ESL_ERROR;
        }
        return ESL_NEED_MORE;
    }
    if (end > ESL_MAX_HEADER_BLOCK) {
        str_fmt(err, errlen, "header block longer than %d bytes", ESL_MAX_HEADER_BLOCK);
        return ESL_ERROR;
    }
    if (parse_headers(buf + start, end, false, out, err, errlen)) {
        esl_msg_free(out);
        return ESL_ERROR;
    }
    long cl = content_length(out);
    if (cl == -2) {
        esl_msg_free(out);
        str_fmt(err, errlen, "invalid Content-Length");
        return ESL_ERROR;
    }
    size_t total = start + end + (cl > 0 ? (size_t)cl : 0);
    if (total > len) {
        esl_msg_free(out);
        return ESL_NEED_MORE;
    }
    if (cl >= 0) {
        out->body = dup_n(buf + start + end, (size_t)cl);
        if (!out->body) {
            esl_msg_free(out);
            str_fmt(err, errlen, "out of memory");
            return ESL_ERROR;
        }
        out->body_len = (size_t)cl;
    }
    *consumed = total;
    return ESL_FRAME;
}

int esl_event_parse(const char *body, size_t len, esl_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t start = 0;
    while (start < len && (body[start] == '\n' || body[start] == '\r')) start++;
    size_t end = block_end(body + start, len - start);
    size_t hlen = end ? end : len - start;
    if (parse_headers(body + start, hlen, true, out, err, errlen)) {
        esl_msg_free(out);
        return ESL_ERROR;
    }
    long cl = content_length(out);
    if (cl == -2) {
        esl_msg_free(out);
        str_fmt(err, errlen, "invalid Content-Length in event");
        return ESL_ERROR;
    }
    if (cl >= 0) {
        size_t avail = end ? len - start - end : 0;
        size_t take = (size_t)cl < avail ? (size_t)cl : avail;   /* a short body is kept as sent */
        out->body = dup_n(end ? body + start + end : body + len, take);
        if (!out->body) {
            esl_msg_free(out);
            str_fmt(err, errlen, "out of memory");
            return ESL_ERROR;
        }
        out->body_len = take;
    }
    return ESL_FRAME;
}

/* ---- incremental ---- */

esl_parser *esl_parser_new(void)
{
    return calloc(1, sizeof(esl_parser));
}

void esl_parser_free(esl_parser *p)
{
    if (!p) return;
    free(p->buf);
    free(p);
}

void esl_parser_reset(esl_parser *p)
{
    p->len = 0;
    p->need = 0;
}

int esl_parser_feed(esl_parser *p, const char *data, size_t len)
{
    if (!len) return 0;
    if (p->len + len > (size_t)ESL_MAX_HEADER_BLOCK + ESL_MAX_BODY + 64) return -1;
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + len) cap *= 2;
        char *nb = realloc(p->buf, cap);
        if (!nb) return -1;
        p->buf = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    return 0;
}

int esl_parser_next(esl_parser *p, esl_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!p->len || p->len < p->need) return ESL_NEED_MORE;
    size_t used = 0;
    int rc = esl_frame_parse(p->buf, p->len, out, &used, err, errlen);
    if (rc == ESL_NEED_MORE) {
        /* Headers complete but body short: wait for the whole body. */
        size_t start = 0;
        while (start < p->len && (p->buf[start] == '\n' || p->buf[start] == '\r')) start++;
        size_t end = block_end(p->buf + start, p->len - start);
        p->need = p->len + 1;
        if (end) {
            esl_msg tmp = {0};
            char e2[64];
            if (parse_headers(p->buf + start, end, false, &tmp, e2, sizeof e2) == 0) {
                long cl = content_length(&tmp);
                if (cl > 0) p->need = start + end + (size_t)cl;
            }
            esl_msg_free(&tmp);
        }
        return ESL_NEED_MORE;
    }
    if (rc == ESL_ERROR) return ESL_ERROR;
    memmove(p->buf, p->buf + used, p->len - used);
    p->len -= used;
    p->need = 0;
    return ESL_FRAME;
}
