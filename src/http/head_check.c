/* head_check.c — strict request-head validation (RFC 9112 §2-§7) run by the
 * connection guard on the bytes it peeks from a new connection. Anything a lenient
 * parser might read two ways is refused here: bare LF or CR, NUL and other control
 * bytes, obs-fold, a missing or repeated Host on HTTP/1.1, Content-Length that is
 * not digits or repeated with another value, Content-Length together with
 * Transfer-Encoding, codings other than chunked, and request lines of other HTTP
 * versions (0.9, 2.0). See head_check.h. */
#include "http/head_check.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value bytes: HTAB, SP, VCHAR, obs-text. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int refuse(int status, char *detail, size_t detail_len, const char *msg)
{
    if (detail && detail_len)
        snprintf(detail, detail_len, "%s", msg);
    return status;
}

/* Bytes that may never appear in a head, wherever they are: NUL, a CR not followed
 * by LF, a LF not preceded by CR. Returns 0 or the status to refuse with. */
static int check_line_bytes(const char *buf, size_t len, char *detail, size_t detail_len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == 0)
            return refuse(400, detail, detail_len, "The request head contains a NUL byte");
        if (c == '\r' && i + 1 < len && buf[i + 1] != '\n')
            return refuse(400, detail, detail_len, "The request head contains a CR that does not end a line");
        if (c == '\n' && (i == 0 || buf[i - 1] != '\r'))
            return refuse(400, detail, detail_len, "Request lines must end with CRLF, not a bare LF");
    }
    return 0;
}

/* The request line "METHOD SP target SP HTTP/1.x" (without its CRLF). */
static int check_request_line(const char *line, size_t n, int *minor, char *detail, size_t detail_len)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= n || line[i] != ' ')
        return refuse(400, detail, detail_len, "Malformed request line");
    size_t target = ++i;
    while (i < n && line[i] != ' ') {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x21 || c == 0x7f)
            return refuse(400, detail, detail_len, "The request target contains a control byte");
        i++;
    }
    if (i == target)
        return refuse(400, detail, detail_len, "Malformed request line");
    if (i >= n)
        return refuse(400, detail, detail_len, "HTTP/0.9 requests are not supported; send HTTP/1.1");
    const char *ver = line + i + 1;
    size_t vlen = n - i - 1;
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[5] < '0' || ver[5] > '9' || ver[6] != '.' ||
        ver[7] < '0' || ver[7] > '9')
        return refuse(400, detail, detail_len, "Malformed HTTP version in the request line");
    if (ver[5] != '1' || (ver[7] != '0' && ver[7] != '1'))
        return refuse(505, detail, detail_len, "HTTP version not supported; send HTTP/1.1");
    *minor = ver[7] - '0';
    return 0;
}

static void trim(const char **v, size_t *n)
{
    while (*n && ((*v)[0] == ' ' || (*v)[0] == '\t')) {
        (*v)++;
        (*n)--;
    }
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

struct head_state {
    int hosts;
    int te_headers;
    bool te_other;
    bool have_length;
    uint64_t length;
};

static int check_field(const char *line, size_t n, struct head_state *st, char *detail, size_t detail_len)
{
    if (line[0] == ' ' || line[0] == '\t')
        return refuse(400, detail, detail_len, "Folded header lines (obs-fold) are not accepted");
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= n || line[i] != ':')
        return refuse(400, detail, detail_len, "Malformed header line");
    size_t name_len = i;
    const char *v = line + i + 1;
    size_t vn = n - i - 1;
    for (size_t k = 0; k < vn; k++)
        if (!is_value_char((unsigned char)v[k]))
            return refuse(400, detail, detail_len, "A header value contains a control byte");
    trim(&v, &vn);
    if (name_len == 4 && strncasecmp(line, "Host", 4) == 0) {
        st->hosts++;
    } else if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
        if (vn == 0 || vn > 18)
            return refuse(400, detail, detail_len, "Invalid Content-Length");
        uint64_t x = 0;
        for (size_t k = 0; k < vn; k++) {
            if (v[k] < '0' || v[k] > '9')
                return refuse(400, detail, detail_len, "Invalid Content-Length");
            x = x * 10 + (uint64_t)(v[k] - '0');
        }
        if (st->have_length && st->length != x)
            return refuse(400, detail, detail_len, "Two different Content-Length headers");
        st->have_length = true;
        st->length = x;
    } else if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
        st->te_headers++;
        if (!(vn == 7 && strncasecmp(v, "chunked", 7) == 0))
            st->te_other = true;
    }
    return 0;
}

int http_head_check(const char *buf, size_t len, size_t max_head, http_head_info *info,
                    char *detail, size_t detail_len)
{
    memset(info, 0, sizeof *info);
    if (detail && detail_len)
        detail[0] = '\0';
    size_t scan = len < max_head ? len : max_head;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < scan; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i + 4;
            break;
        }
    size_t head_len = end ? (size_t)(end - buf) : scan;
    int bad = check_line_bytes(buf, head_len, detail, detail_len);
    if (bad)
        return bad;
    const char *eol = memchr(buf, '\n', head_len);
    if (!eol) {
        if (len >= max_head)
            return refuse(414, detail, detail_len, "Request line too long");
        return HTTP_HEAD_INCOMPLETE;
    }
    if (eol == buf + 1)
        return refuse(400, detail, detail_len, "Malformed request line");
    int rc = check_request_line(buf, (size_t)(eol - 1 - buf), &info->minor_version, detail, detail_len);
    if (rc)
        return rc;
    if (!end)
        return len >= max_head ? refuse(431, detail, detail_len, "Request headers too large") : HTTP_HEAD_INCOMPLETE;
    struct head_state st = {0};
    const char *line = eol + 1;
    while (line < end - 2) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)(nl - 1 - line);
        if (n == 0)
            break;
        rc = check_field(line, n, &st, detail, detail_len);
        if (rc)
            return rc;
        line = nl + 1;
    }
    if (info->minor_version == 1 && st.hosts != 1)
        return refuse(400, detail, detail_len,
                      st.hosts ? "More than one Host header" : "HTTP/1.1 requests must have a Host header");
    if (st.hosts > 1)
        return refuse(400, detail, detail_len, "More than one Host header");
    if (st.te_headers) {
        if (info->minor_version == 0)
            return refuse(400, detail, detail_len, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
        if (st.have_length)
            return refuse(400, detail, detail_len, "Content-Length and Transfer-Encoding together are not accepted");
        if (st.te_headers > 1 || st.te_other)
            return refuse(501, detail, detail_len, "Only 'Transfer-Encoding: chunked' is supported");
        info->chunked = true;
    }
    info->has_length = st.have_length;
    info->content_length = st.length;
    info->head_len = head_len;
    return HTTP_HEAD_OK;
}

/* ---- chunked bodies ---- */

enum {
    CH_SIZE,                     /* hex digits of the chunk size */
    CH_EXT,                      /* ";name=value" after the size */
    CH_SIZE_LF,                  /* the LF after the size line's CR */
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,                  /* start of a trailer line (or the final CRLF) */
    CH_TRAILER_FIELD,
    CH_TRAILER_LF,               /* LF ending a trailer field */
    CH_END_LF,                   /* LF of the final empty line */
    CH_DONE
};

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_chunk_feed(http_chunk_parser *p, const char *buf, size_t len, size_t *used, char *detail,
                    size_t detail_len)
{
    size_t i = 0;
    *used = 0;
    while (i < len) {
        unsigned char c = (unsigned char)buf[i];
        switch (p->state) {
        case CH_SIZE: {
            int h = hex_digit(c);
            if (h >= 0) {
                if (++p->digits > 15)
                    return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Chunk size too large");
                p->left = p->left * 16 + (uint64_t)h;
            } else if (c == '\n') {
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: chunk size line not ended by CRLF");
            } else if (p->digits == 0) {
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: bad chunk size");
            } else if (c == ';' || c == ' ' || c == '\t') {
                p->state = CH_EXT;
            } else if (c == '\r') {
                p->state = CH_SIZE_LF;
            } else {
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: bad chunk size");
            }
            break;
        }
        case CH_EXT:
            if (c == '\r')
                p->state = CH_SIZE_LF;
            else if (c == '\n')
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: chunk size line not ended by CRLF");
            else if (!is_value_char(c))
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: bad chunk extension");
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: chunk size line not ended by CRLF");
            p->digits = 0;
            p->state = p->left ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t take = len - i;
            if ((uint64_t)take > p->left)
                take = (size_t)p->left;
            p->left -= take;
            i += take;
            if (!p->left)
                p->state = CH_DATA_CR;
            continue;
        }
        case CH_DATA_CR:
            if (c != '\r')
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: chunk data longer than its size");
            p->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: chunk data not ended by CRLF");
            p->state = CH_SIZE;
            break;
        case CH_TRAILER:
            if (c == '\r')
                p->state = CH_END_LF;
            else if (is_tchar(c))
                p->state = CH_TRAILER_FIELD;
            else
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: bad trailer");
            break;
        case CH_TRAILER_FIELD:
            if (c == '\r')
                p->state = CH_TRAILER_LF;
            else if (!is_value_char(c))
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: bad trailer");
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: bad trailer");
            p->state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (c != '\n')
                return refuse(HTTP_CHUNK_BAD, detail, detail_len, "Malformed chunked body: not ended by CRLF");
            p->state = CH_DONE;
            *used = i + 1;
            return HTTP_CHUNK_DONE;
        default:
            *used = i;
            return HTTP_CHUNK_DONE;
        }
        i++;
    }
    *used = len;
    return HTTP_CHUNK_MORE;
}
