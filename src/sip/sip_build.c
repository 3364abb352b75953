/* sip_build.c — writes SIP requests and responses into a strbuf. Every value is
 * checked for CR, LF and NUL so that nothing the stack copies from outside (a
 * display name, a number) can split a header or start a new one. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_msg.h"

static bool framing_safe(const char *s)
{
    return !strpbrk(s, "\r\n");
}

int sip_build_request_line(strbuf *sb, const char *method, const char *uri)
{
    if (!framing_safe(method) || !framing_safe(uri) || strchr(method, ' ') || strchr(uri, ' ')) return -1;
    return sb_appendf(sb, "%s %s SIP/2.0\r\n", method, uri);
}

int sip_build_status_line(strbuf *sb, int status, const char *reason)
{
    if (status < 100 || status > 699) return -1;
    if (!reason) reason = sip_reason_phrase(status);
    if (!framing_safe(reason)) return -1;
    return sb_appendf(sb, "SIP/2.0 %d %s\r\n", status, reason);
}

int sip_build_header(strbuf *sb, const char *name, const char *value)
{
    if (!framing_safe(name) || !framing_safe(value) || strchr(name, ':')) return -1;
    return sb_appendf(sb, "%s: %s\r\n", name, value);
}

int sip_build_headerf(strbuf *sb, const char *name, const char *fmt, ...)
{
    char v[SIP_MAX_FIELD];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof v) return -1;
    return sip_build_header(sb, name, v);
}

int sip_build_finish(strbuf *sb, const char *content_type, const char *body, size_t body_len)
{
    if (body_len && content_type && sip_build_header(sb, "Content-Type", content_type)) return -1;
    if (sb_appendf(sb, "Content-Length: %zu\r\n\r\n", body_len)) return -1;
    return body_len ? sb_append(sb, body, body_len) : 0;
}

int sip_build_response_head(strbuf *sb, const sip_msg *req, int status, const char *reason,
                            const char *to_tag)
{
    if (sip_build_status_line(sb, status, reason)) return -1;
    for (size_t i = 0; i < req->n_hdr; i++)
        if (req->hdr[i].id == SIP_H_VIA && sip_build_header(sb, "Via", req->hdr[i].value)) return -1;
    if (sip_build_header(sb, "From", sip_msg_header(req, SIP_H_FROM))) return -1;
    const char *to = sip_msg_header(req, SIP_H_TO);
    if (!req->to.tag && to_tag && status > 100) {
        if (sip_build_headerf(sb, "To", "%s;tag=%s", to, to_tag)) return -1;
    } else if (sip_build_header(sb, "To", to)) {
        return -1;
    }
    if (sip_build_header(sb, "Call-ID", req->call_id)) return -1;
    return sip_build_headerf(sb, "CSeq", "%u %s", (unsigned)req->cseq, req->cseq_method);
}

const char *sip_reason_phrase(int status)
{
    switch (status) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 415: return "Unsupported Media Type";
    case 416: return "Unsupported URI Scheme";
    case 420: return "Bad Extension";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 483: return "Too Many Hops";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 491: return "Request Pending";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    case 604: return "Does Not Exist Anywhere";
    case 606: return "Not Acceptable";
    default: return status < 200 ? "Progress" : status < 300 ? "OK" : "Error";
    }
}

/* Is line [p, p+n) "Name: value" with Name one of the fields an error answer copies? */
static bool copied_field(const char *p, size_t n)
{
    static const char *const names[] = {"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"};
    const char *colon = memchr(p, ':', n);
    if (!colon) return false;
    size_t nl = (size_t)(colon - p);
    while (nl && (p[nl - 1] == ' ' || p[nl - 1] == '\t')) nl--;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == nl && !strncasecmp(p, names[i], nl)) return true;
    return false;
}

int sip_build_error_response(strbuf *sb, const char *raw, size_t len, int status, const char *reason)
{
    if (len < 4 || !memcmp(raw, "SIP/", 4) || (len >= 4 && !memcmp(raw, "ACK ", 4))) return -1;
    const char *end = memmem(raw, len, "\r\n\r\n", 4);
    end = end ? end + 2 : raw + len;
    const char *p = memmem(raw, (size_t)(end - raw), "\r\n", 2);
    if (!p) return -1;
    p += 2;
    char safe_reason[160];
    size_t o = 0;
    for (const char *r = reason; *r && o + 1 < sizeof safe_reason; r++)
        safe_reason[o++] = ((unsigned char)*r < 0x20 || *r == 0x7f) ? ' ' : *r;
    safe_reason[o] = 0;
    if (sip_build_status_line(sb, status, safe_reason)) return -1;
    int seen = 0;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) eol = end;
        size_t n = (size_t)(eol - p);
        if (n && copied_field(p, n)) {
            for (size_t i = 0; i < n; i++)
                if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) return -1;
            if (eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t')) return -1;   /* folded: give up */
            bool is_to = (n > 2 && !strncasecmp(p, "to", 2) && (p[2] == ':' || p[2] == ' ' || p[2] == '\t')) ||
                         (n > 1 && (p[0] | 0x20) == 't' && (p[1] == ':' || p[1] == ' ' || p[1] == '\t'));
            if (sb_append(sb, p, n)) return -1;
            if (is_to && !memmem(p, n, ";tag=", 5) && sb_puts(sb, ";tag=err")) return -1;
            if (sb_puts(sb, "\r\n")) return -1;
            seen++;
        }
        p = eol + 2;
    }
    if (seen < 5 || sip_build_finish(sb, NULL, NULL, 0)) return -1;
    /* send only what is itself a well-formed response */
    sip_msg *m = NULL;
    size_t used;
    sip_parse_error err;
    int rc = sip_msg_parse(sb->data, sb->len, false, &m, &used, &err) == SIP_PARSE_OK ? 0 : -1;
    sip_msg_free(m);
    return rc;
}
