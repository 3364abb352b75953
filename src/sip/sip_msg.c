/* sip_msg.c — framing and the header section of a SIP message: start line, header
 * lines (folding, compact names, case-insensitive names), Content-Length framing for
 * datagrams and streams, the message-level rules (required and single-valued
 * fields, CSeq method = request method), and the limits. The values of the fields
 * the stack reads are parsed in sip_fields.c. */
#include "sip/sip_msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "sip/sip_lex.h"

static const struct { sip_hid id; const char *name; char compact; } header_table[] = {
    {SIP_H_VIA, "Via", 'v'}, {SIP_H_FROM, "From", 'f'}, {SIP_H_TO, "To", 't'},
    {SIP_H_CALL_ID, "Call-ID", 'i'}, {SIP_H_CSEQ, "CSeq", 0}, {SIP_H_CONTACT, "Contact", 'm'},
    {SIP_H_CONTENT_LENGTH, "Content-Length", 'l'}, {SIP_H_CONTENT_TYPE, "Content-Type", 'c'},
    {SIP_H_MAX_FORWARDS, "Max-Forwards", 0}, {SIP_H_EXPIRES, "Expires", 0},
    {SIP_H_WWW_AUTHENTICATE, "WWW-Authenticate", 0}, {SIP_H_PROXY_AUTHENTICATE, "Proxy-Authenticate", 0},
    {SIP_H_AUTHORIZATION, "Authorization", 0}, {SIP_H_PROXY_AUTHORIZATION, "Proxy-Authorization", 0},
    {SIP_H_ROUTE, "Route", 0}, {SIP_H_RECORD_ROUTE, "Record-Route", 0}, {SIP_H_DATE, "Date", 0},
    {SIP_H_SUBJECT, "Subject", 's'}, {SIP_H_SUPPORTED, "Supported", 'k'}, {SIP_H_REQUIRE, "Require", 0},
    {SIP_H_CONTENT_ENCODING, "Content-Encoding", 'e'}, {SIP_H_EVENT, "Event", 'o'},
    {SIP_H_REFER_TO, "Refer-To", 'r'}, {SIP_H_REFERRED_BY, "Referred-By", 'b'},
    {SIP_H_ALLOW_EVENTS, "Allow-Events", 'u'}, {SIP_H_SESSION_EXPIRES, "Session-Expires", 'x'},
    {SIP_H_IDENTITY, "Identity", 'y'}, {SIP_H_ACCEPT_CONTACT, "Accept-Contact", 'a'},
    {SIP_H_REJECT_CONTACT, "Reject-Contact", 'j'}, {SIP_H_REQUEST_DISPOSITION, "Request-Disposition", 'd'},
    {SIP_H_IDENTITY_INFO, "Identity-Info", 'n'}, {SIP_H_ALLOW, "Allow", 0},
    {SIP_H_USER_AGENT, "User-Agent", 0}, {SIP_H_SERVER, "Server", 0},
    {SIP_H_P_ASSERTED_IDENTITY, "P-Asserted-Identity", 0}, {SIP_H_MIN_EXPIRES, "Min-Expires", 0},
    {SIP_H_RETRY_AFTER, "Retry-After", 0}, {SIP_H_REASON, "Reason", 0},
};

sip_hid sip_header_id(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof header_table / sizeof *header_table; i++) {
        if (len == 1 && header_table[i].compact && (name[0] | 0x20) == header_table[i].compact)
            return header_table[i].id;
        if (strlen(header_table[i].name) == len && !strncasecmp(header_table[i].name, name, len))
            return header_table[i].id;
    }
    return SIP_H_OTHER;
}

const char *sip_header_name(sip_hid id)
{
    for (size_t i = 0; i < sizeof header_table / sizeof *header_table; i++)
        if (header_table[i].id == id) return header_table[i].name;
    return NULL;
}

void sip_err(sip_parse_error *err, int status, const char *fmt, ...)
{
    if (!err) return;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
}

char *sip_arena_dup(sip_msg *m, const char *s, size_t n)
{
    if (m->arena_len_ + n + 1 > m->arena_cap_) return NULL;
    char *p = m->arena_ + m->arena_len_;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    m->arena_len_ += n + 1;
    return p;
}

void sip_msg_free(sip_msg *m)
{
    if (!m) return;
    free(m->arena_);
    free(m);
}

const char *sip_msg_header(const sip_msg *m, sip_hid id)
{
    for (size_t i = 0; i < m->n_hdr; i++)
        if (m->hdr[i].id == id) return m->hdr[i].value;
    return NULL;
}

const char *sip_msg_header_named(const sip_msg *m, const char *name)
{
    sip_hid id = sip_header_id(name, strlen(name));
    if (id != SIP_H_OTHER) return sip_msg_header(m, id);
    for (size_t i = 0; i < m->n_hdr; i++)
        if (m->hdr[i].id == SIP_H_OTHER && !strcasecmp(m->hdr[i].name, name)) return m->hdr[i].value;
    return NULL;
}

static const char *const known_methods[] = {
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
    "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE", NULL,
};

static bool method_known(const char *m)
{
    for (int i = 0; known_methods[i]; i++)
        if (!strcmp(m, known_methods[i])) return true;
    return false;
}

/* Finds "\r\n" in [p, end); NULL if none. */
static const char *find_crlf(const char *p, const char *end)
{
    while (p + 1 < end) {
        const char *cr = memchr(p, '\r', (size_t)(end - p - 1));
        if (!cr) return NULL;
        if (cr[1] == '\n') return cr;
        p = cr + 1;
    }
    return NULL;
}

/* Request-Line = Method SP Request-URI SP SIP-Version; exactly one SP each
 * (RFC 4475 lwsstart, trws, lwsruri are refused). */
static int parse_start_line(sip_msg *m, const char *p, size_t n, sip_parse_error *err)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 && c != '\t') { sip_err(err, 400, "Control character in the start line"); return -1; }
    }
    if (n >= 8 && !memcmp(p, "SIP/", 4)) {
        /* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
        if (n < 12 || memcmp(p, "SIP/2.0 ", 8)) {
            sip_err(err, 505, "Version Not Supported (only SIP/2.0)");
            return -1;
        }
        size_t i = 8, d = 0;
        while (i < n && sip_is_digit((unsigned char)p[i]) && d < 4) { i++; d++; }
        if (d != 3 || i >= n || p[i] != ' ') { sip_err(err, 400, "Bad status code (three digits and a space)"); return -1; }
        int code = (p[8] - '0') * 100 + (p[9] - '0') * 10 + (p[10] - '0');
        if (code < 100 || code > 699) { sip_err(err, 400, "Status code %d out of range 100-699", code); return -1; }
        m->is_request = false;
        m->status = code;
        m->reason = sip_arena_dup(m, p + 12, n - 12);
        return m->reason ? 0 : -1;
    }
    const char *sp1 = memchr(p, ' ', n);
    if (!sp1 || sp1 == p) { sip_err(err, 400, "Bad request line"); return -1; }
    for (const char *q = p; q < sp1; q++)
        if (!sip_is_token((unsigned char)*q)) { sip_err(err, 400, "Bad method name"); return -1; }
    const char *rest = sp1 + 1, *end = p + n;
    const char *sp2 = memchr(rest, ' ', (size_t)(end - rest));
    if (!sp2 || sp2 == rest) { sip_err(err, 400, "Bad request line (extra or missing spaces)"); return -1; }
    const char *ver = sp2 + 1;
    if (memchr(ver, ' ', (size_t)(end - ver)) || memchr(rest, '\t', (size_t)(end - rest))) {
        sip_err(err, 400, "Bad request line (whitespace inside the Request-URI or after the version)");
        return -1;
    }
    size_t vlen = (size_t)(end - ver);
    if (vlen < 4 || strncasecmp(ver, "SIP/", 4)) { sip_err(err, 400, "Bad request line (no SIP version)"); return -1; }
    if (vlen != 7 || memcmp(ver, "SIP/2.0", 7)) { sip_err(err, 505, "Version Not Supported (only SIP/2.0)"); return -1; }
    m->is_request = true;
    m->method = sip_arena_dup(m, p, (size_t)(sp1 - p));
    m->ruri = sip_arena_dup(m, rest, (size_t)(sp2 - rest));
    if (!m->method || !m->ruri) { sip_err(err, 513, "Message Too Large"); return -1; }
    return sip_check_ruri(m->ruri, err);
}

/* Unfolds one header field's value: [p, end) spans the text after the colon up to
 * the CRLF ending its last continuation line. CRLF + WS → one SP; outer LWS is cut.
 * A control character is allowed only as a quoted-pair inside a quoted string, and
 * is then stored as '?'. */
static char *unfold_value(sip_msg *m, const char *p, const char *end, const char *name,
                          sip_parse_error *err)
{
    size_t cap = (size_t)(end - p);
    if (cap > SIP_MAX_FIELD) { sip_err(err, 400, "Header %.40s is longer than %d bytes", name, SIP_MAX_FIELD); return NULL; }
    char tmp[SIP_MAX_FIELD + 1];
    size_t o = 0;
    bool quoted = false, escaped = false;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' && p + 1 < end && p[1] == '\n') {
            p += 2;
            while (p < end && sip_is_ws((unsigned char)*p)) p++;
            if (o && tmp[o - 1] != ' ') tmp[o++] = ' ';
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            if (!(quoted && escaped)) {
                sip_err(err, 400, "Control character in header %.40s", name);
                return NULL;
            }
            c = '?';
        }
        if (escaped) escaped = false;
        else if (quoted && c == '\\') escaped = true;
        else if (c == '"') quoted = !quoted;
        tmp[o++] = (char)c;
        p++;
    }
    size_t s = 0;
    while (s < o && sip_is_ws((unsigned char)tmp[s])) s++;
    while (o > s && sip_is_ws((unsigned char)tmp[o - 1])) o--;
    char *v = sip_arena_dup(m, tmp + s, o - s);
    if (!v) sip_err(err, 513, "Message Too Large");
    return v;
}

/* The header section [p, e): lines that each end with CRLF. */
static int parse_headers(sip_msg *m, const char *p, const char *e, sip_parse_error *err)
{
    while (p < e) {
        const char *eol = find_crlf(p, e);
        if (!eol) { sip_err(err, 400, "Header line without CRLF"); return -1; }
        /* the field runs on over lines that start with SP/HTAB (folding) */
        while (eol + 2 < e && sip_is_ws((unsigned char)eol[2])) {
            const char *next = find_crlf(eol + 2, e);
            if (!next) break;
            eol = next;
        }
        if (sip_is_ws((unsigned char)*p)) { sip_err(err, 400, "Header section starts with a continuation line"); return -1; }
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon) { sip_err(err, 400, "Header line without a colon"); return -1; }
        const char *ne = colon;
        while (ne > p && sip_is_ws((unsigned char)ne[-1])) ne--;
        if (ne == p) { sip_err(err, 400, "Header line without a name"); return -1; }
        for (const char *q = p; q < ne; q++)
            if (!sip_is_token((unsigned char)*q)) { sip_err(err, 400, "Bad header name"); return -1; }
        if (m->n_hdr >= SIP_MAX_HEADERS) { sip_err(err, 513, "Message Too Large (over %d header fields)", SIP_MAX_HEADERS); return -1; }
        sip_header *h = &m->hdr[m->n_hdr];
        h->id = sip_header_id(p, (size_t)(ne - p));
        h->name = h->id != SIP_H_OTHER ? sip_header_name(h->id) : sip_arena_dup(m, p, (size_t)(ne - p));
        if (!h->name) { sip_err(err, 513, "Message Too Large"); return -1; }
        h->value = unfold_value(m, colon + 1, eol, h->name, err);
        if (!h->value) return -1;
        m->n_hdr++;
        p = eol + 2;
    }
    return 0;
}

static int single(const sip_msg *m, sip_hid id, sip_parse_error *err)
{
    int n = 0;
    for (size_t i = 0; i < m->n_hdr; i++) n += m->hdr[i].id == id;
    if (n > 1) { sip_err(err, 400, "More than one %s header", sip_header_name(id)); return -1; }
    return n;
}

/* The fields the stack reads, with the message-level rules. */
static int parse_fields(sip_msg *m, sip_parse_error *err)
{
    static const sip_hid singles[] = {SIP_H_FROM, SIP_H_TO, SIP_H_CALL_ID, SIP_H_CSEQ,
        SIP_H_CONTENT_LENGTH, SIP_H_MAX_FORWARDS, SIP_H_CONTENT_TYPE, SIP_H_EXPIRES, SIP_H_DATE};
    for (size_t i = 0; i < sizeof singles / sizeof *singles; i++)
        if (single(m, singles[i], err) < 0) return -1;
    static const sip_hid required[] = {SIP_H_VIA, SIP_H_FROM, SIP_H_TO, SIP_H_CALL_ID, SIP_H_CSEQ};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!sip_msg_header(m, required[i])) {
            sip_err(err, 400, "Missing %s header", sip_header_name(required[i]));
            return -1;
        }
    for (size_t i = 0; i < m->n_hdr; i++) {
        const sip_header *h = &m->hdr[i];
        if (h->id == SIP_H_VIA && sip_parse_vias(m, h->value, err)) return -1;
        if (h->id == SIP_H_CONTACT && sip_parse_contacts(m, h->value, err)) return -1;
    }
    const char *v = sip_msg_header(m, SIP_H_FROM);
    if (sip_parse_addr(m, v, strlen(v), &m->from, "From", err)) return -1;
    v = sip_msg_header(m, SIP_H_TO);
    if (sip_parse_addr(m, v, strlen(v), &m->to, "To", err)) return -1;
    m->call_id = sip_msg_header(m, SIP_H_CALL_ID);
    /* Call-ID = word [ "@" word ] */
    size_t at = 0, cl = strlen(m->call_id);
    for (size_t i = 0; i < cl; i++) {
        unsigned char c = (unsigned char)m->call_id[i];
        if (c == '@' && ++at == 1 && i > 0 && i + 1 < cl) continue;
        if (!sip_is_word(c)) { sip_err(err, 400, "Bad Call-ID"); return -1; }
    }
    if (!cl || at > 1) { sip_err(err, 400, "Bad Call-ID"); return -1; }
    if (sip_parse_cseq(m, sip_msg_header(m, SIP_H_CSEQ), err)) return -1;
    if (m->is_request && strcmp(m->cseq_method, m->method)) {
        if (method_known(m->method)) sip_err(err, 400, "CSeq method %.20s does not match the request method", m->cseq_method);
        else sip_err(err, 501, "Not Implemented (method %.20s)", m->method);
        return -1;
    }
    unsigned long long u;
    m->max_forwards = -1;
    if ((v = sip_msg_header(m, SIP_H_MAX_FORWARDS))) {
        if (sip_parse_uint(v, 255, &u)) { sip_err(err, 400, "Bad Max-Forwards (0-255)"); return -1; }
        m->max_forwards = (int)u;
    }
    m->expires = -1;
    if ((v = sip_msg_header(m, SIP_H_EXPIRES))) {
        if (sip_parse_uint(v, 4294967295ULL, &u)) { sip_err(err, 400, "Bad Expires (0-4294967295 seconds)"); return -1; }
        m->expires = (long)u;
    }
    m->content_type = sip_msg_header(m, SIP_H_CONTENT_TYPE);
    if ((v = sip_msg_header(m, SIP_H_DATE)) && sip_check_date(v)) {
        sip_err(err, 400, "Bad Date (RFC 1123 form in GMT)");
        return -1;
    }
    return 0;
}

int sip_msg_parse(const char *data, size_t len, bool datagram, sip_msg **out,
                  size_t *consumed, sip_parse_error *err)
{
    *out = NULL;
    if (consumed) *consumed = 0;
    if (err) { err->status = 0; err->reason[0] = 0; }
    /* a stream may carry CRLF keep-alives between messages (RFC 5626 §3.5.1) */
    size_t skip = 0;
    if (!datagram)
        while (skip + 1 < len && data[skip] == '\r' && data[skip + 1] == '\n') skip += 2;
    data += skip;
    len -= skip;
    size_t scan = len < SIP_MAX_MSG ? len : SIP_MAX_MSG;
    const char *hend = memmem(data, scan, "\r\n\r\n", 4);
    if (!hend) {
        if (!datagram && len < SIP_MAX_MSG) return SIP_PARSE_INCOMPLETE;
        sip_err(err, datagram && len <= SIP_MAX_MSG ? 400 : 513,
                datagram && len <= SIP_MAX_MSG ? "No end of the header section (CRLF CRLF)" : "Message Too Large");
        return SIP_PARSE_ERROR;
    }
    size_t head_len = (size_t)(hend - data) + 4;
    sip_msg *m = calloc(1, sizeof *m);
    if (!m) { sip_err(err, 500, "Out of memory"); return SIP_PARSE_ERROR; }
    m->arena_cap_ = 4 * head_len + 1024;
    m->arena_ = malloc(m->arena_cap_ + SIP_MAX_MSG + 1);
    if (!m->arena_) { free(m); sip_err(err, 500, "Out of memory"); return SIP_PARSE_ERROR; }
    m->arena_cap_ += SIP_MAX_MSG + 1;
    m->content_length = -1;

    const char *sl_end = find_crlf(data, hend + 2);
    if (parse_start_line(m, data, (size_t)(sl_end - data), err)) goto bad;
    if (sl_end < hend && parse_headers(m, sl_end + 2, hend + 2, err)) goto bad;
    if (single(m, SIP_H_CONTENT_LENGTH, err) < 0) goto bad;
    const char *cl = sip_msg_header(m, SIP_H_CONTENT_LENGTH);
    unsigned long long clv = 0;
    if (cl && sip_parse_uint(cl, SIP_MAX_MSG, &clv)) {
        sip_err(err, 400, "Bad Content-Length (a number up to %d)", SIP_MAX_MSG);
        goto bad;
    }
    size_t avail = len - head_len;
    if (!cl) {
        if (!datagram) { sip_err(err, 400, "Content-Length is required on a stream transport"); goto bad; }
        clv = avail;
    } else if (clv > avail) {
        if (!datagram && head_len + clv <= SIP_MAX_MSG) { sip_msg_free(m); return SIP_PARSE_INCOMPLETE; }
        sip_err(err, 400, "Content-Length %llu is larger than the body (%zu bytes)", clv, avail);
        goto bad;
    }
    if (head_len + clv > SIP_MAX_MSG) { sip_err(err, 513, "Message Too Large"); goto bad; }
    m->content_length = cl ? (long)clv : -1;
    m->body_len = (size_t)clv;
    m->body = sip_arena_dup(m, data + head_len, m->body_len);
    if (!m->body) { sip_err(err, 513, "Message Too Large"); goto bad; }
    if (parse_fields(m, err)) goto bad;
    *out = m;
    if (consumed) *consumed = skip + head_len + (size_t)clv;
    return SIP_PARSE_OK;
bad:
    if (err && !err->status) sip_err(err, 513, "Message Too Large");
    sip_msg_free(m);
    return SIP_PARSE_ERROR;
}
