/* sip_fields.c — the values of the SIP header fields the stack reads (RFC 3261 §25.1):
 * name-addr / addr-spec (From, To, Contact) with display names and header
 * parameters, Via (sent-protocol, sent-by, branch/received/rport), CSeq, numbers,
 * Date, URIs (sip/sips strictly; other schemes as opaque text) and the Request-URI.
 * LWS is allowed where the grammar allows it (around ; = / , and HCOLON); anything
 * else is refused with a reason that names the field. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "sip/sip_lex.h"

int sip_parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
    unsigned long long x = 0;
    size_t i = 0;
    for (; sip_is_digit((unsigned char)v[i]); i++) {
        x = x * 10 + (unsigned)(v[i] - '0');
        if (x > max) return -1;
    }
    if (!i || v[i]) return -1;
    *out = x;
    return 0;
}

static bool is_hex(unsigned char c)
{
    return sip_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool is_unreserved(unsigned char c) { return sip_is_alnum(c) || (c && strchr("-_.!~*'()", c)); }

/* Walks a run of chars that are unreserved, an escape %HH, or in extra; returns
 * its length, or -1 on a bad escape. */
static long uri_run(const char *s, const char *extra)
{
    long i = 0;
    for (;;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (!is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2])) return -1;
            i += 3;
        } else if (c && (is_unreserved(c) || strchr(extra, c))) {
            i++;
        } else {
            return i;
        }
    }
}

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) return -1;
    memcpy(dst, s, n);
    dst[n] = 0;
    return 0;
}

int sip_uri_parse(const char *s, sip_uri *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
#define FAIL(msg) do { snprintf(err, errlen, "%s", msg); return -1; } while (0)
    const char *r;
    if (!strncasecmp(s, "sip:", 4)) r = s + 4;
    else if (!strncasecmp(s, "sips:", 5)) { r = s + 5; u->sips = true; }
    else FAIL("not a sip: or sips: URI");
    const char *at = strchr(r, '@');
    if (at) {
        long n = uri_run(r, "&=+$,;?/");
        if (n <= 0) FAIL("bad user part");
        if (copy_part(u->user, sizeof u->user, r, (size_t)n)) FAIL("user part too long");
        r += n;
        if (*r == ':') {
            long pn = uri_run(r + 1, "&=+$,");
            if (pn < 0) FAIL("bad password part");
            if (copy_part(u->password, sizeof u->password, r + 1, (size_t)pn)) FAIL("password too long");
            r += 1 + pn;
        }
        if (*r != '@') FAIL("bad user part");
        r++;
    }
    size_t hn = 0;
    if (*r == '[') {
        while (r[hn + 1] && (is_hex((unsigned char)r[hn + 1]) || r[hn + 1] == ':' || r[hn + 1] == '.')) hn++;
        if (r[hn + 1] != ']' || hn < 2) FAIL("bad IPv6 reference");
        hn += 2;
    } else {
        while (sip_is_alnum((unsigned char)r[hn]) || r[hn] == '-' || r[hn] == '.') hn++;
    }
    if (!hn) FAIL("missing host");
    if (copy_part(u->host, sizeof u->host, r, hn)) FAIL("host too long");
    r += hn;
    if (*r == ':') {
        r++;
        size_t d = 0;
        long port = 0;
        while (sip_is_digit((unsigned char)r[d]) && d < 6) port = port * 10 + (r[d++] - '0');
        if (!d || d > 5 || port > 65535 || port == 0) FAIL("bad port");
        u->port = (int)port;
        r += d;
    }
    const char *ps = r;
    while (*r == ';') {
        long n = uri_run(r + 1, "[]/:&+$");
        if (n <= 0) FAIL("bad URI parameter");
        r += 1 + n;
        if (*r == '=') {
            n = uri_run(r + 1, "[]/:&+$");
            if (n <= 0) FAIL("bad URI parameter value");
            r += 1 + n;
        }
    }
    if (copy_part(u->params, sizeof u->params, ps, (size_t)(r - ps))) FAIL("URI parameters too long");
    if (*r == '?') {
        const char *hs = ++r;
        for (;;) {
            long n = uri_run(r, "[]/?:+$");
            if (n <= 0 || r[n] != '=') FAIL("bad URI header");
            r += n + 1;
            n = uri_run(r, "[]/?:+$");
            if (n < 0) FAIL("bad URI header value");
            r += n;
            if (*r != '&') break;
            r++;
        }
        if (copy_part(u->headers, sizeof u->headers, hs, (size_t)(r - hs))) FAIL("URI headers too long");
    }
    if (*r) FAIL("unexpected character in URI");
    return 0;
#undef FAIL
}

/* scheme ":" then at least one char; the scheme is ALPHA *(ALPHA / DIGIT / + - .) */
static bool has_scheme(const char *s, size_t n)
{
    if (!n || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')) return false;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == ':') return i + 1 < n;
        if (!sip_is_alnum((unsigned char)s[i]) && !strchr("+-.", s[i])) return false;
    }
    return false;
}

static bool is_sip_scheme(const char *s)
{
    return !strncasecmp(s, "sip:", 4) || !strncasecmp(s, "sips:", 5);
}

/* A URI of any scheme: sip/sips strictly, others as opaque printable text. */
static int check_uri(const char *uri, size_t n, bool headers_ok, const char *what, sip_parse_error *err)
{
    if (!has_scheme(uri, n)) { sip_err(err, 400, "Bad URI in %s", what); return -1; }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"') {
            sip_err(err, 400, "Bad character in the URI of %s", what);
            return -1;
        }
    }
    if (!is_sip_scheme(uri)) return 0;
    char tmp[SIP_MAX_FIELD + 1], why[64];
    memcpy(tmp, uri, n);
    tmp[n] = 0;
    sip_uri u;
    if (sip_uri_parse(tmp, &u, why, sizeof why)) { sip_err(err, 400, "Bad URI in %s: %s", what, why); return -1; }
    if (u.headers[0] && !headers_ok) { sip_err(err, 400, "URI headers are not allowed in %s", what); return -1; }
    return 0;
}

int sip_check_ruri(const char *uri, sip_parse_error *err)
{
    return check_uri(uri, strlen(uri), false, "the Request-URI", err);
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && sip_is_ws((unsigned char)s[i])) i++;
    return i;
}

/* A quoted string starting at s[i] == '"'; returns the index after the closing
 * quote, or 0 if it is not terminated. */
static size_t quoted_end(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') { if (++i >= n) return 0; continue; }
        if (s[i] == '"') return i + 1;
    }
    return 0;
}

/* *( LWS ";" LWS name [ LWS "=" LWS value ] ) from s[*pi]; stops at the end or at a
 * ',' (for lists). Appends ";name[=value]" to out. */
static int parse_params(const char *s, size_t n, size_t *pi, char *out, size_t cap,
                        const char *what, sip_parse_error *err)
{
    size_t i = *pi, o = strlen(out);
    for (;;) {
        i = skip_ws(s, i, n);
        if (i >= n || s[i] == ',') break;
        if (s[i] != ';') { sip_err(err, 400, "Unexpected text after the value of %s", what); return -1; }
        i = skip_ws(s, i + 1, n);
        size_t ns = i;
        while (i < n && sip_is_token((unsigned char)s[i])) i++;
        if (i == ns) { sip_err(err, 400, "Empty parameter in %s", what); return -1; }
        size_t ne = i, vs = 0, ve = 0;
        size_t j = skip_ws(s, i, n);
        if (j < n && s[j] == '=') {
            j = skip_ws(s, j + 1, n);
            vs = j;
            if (j < n && s[j] == '"') {
                ve = quoted_end(s, j, n);
                if (!ve) { sip_err(err, 400, "Unterminated quoted string in %s", what); return -1; }
            } else {
                ve = j;
                while (ve < n && (sip_is_token((unsigned char)s[ve]) || s[ve] == ':' || s[ve] == '[' || s[ve] == ']')) ve++;
                if (ve == vs) { sip_err(err, 400, "Empty parameter value in %s", what); return -1; }
            }
            i = ve;
        }
        size_t need = 1 + (ne - ns) + (vs ? 1 + (ve - vs) : 0);
        if (o + need + 1 > cap) { sip_err(err, 400, "Parameters of %s too long", what); return -1; }
        out[o++] = ';';
        memcpy(out + o, s + ns, ne - ns);
        o += ne - ns;
        if (vs) {
            out[o++] = '=';
            memcpy(out + o, s + vs, ve - vs);
            o += ve - vs;
        }
        out[o] = 0;
    }
    *pi = i;
    return 0;
}

int sip_param_get(const char *params, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = params;
    while (p && *p == ';') {
        const char *ns = ++p;
        while (*p && *p != '=' && *p != ';') p++;
        size_t len = (size_t)(p - ns);
        const char *vs = NULL, *ve = NULL;
        if (*p == '=') {
            vs = ++p;
            if (*p == '"') {
                for (p++; *p && *p != '"'; p++)
                    if (*p == '\\' && p[1]) p++;
                if (*p == '"') p++;
            } else {
                while (*p && *p != ';') p++;
            }
            ve = p;
        }
        if (len == nl && !strncasecmp(ns, name, nl)) {
            size_t vl = vs ? (size_t)(ve - vs) : 0;
            if (vl >= outlen) return -1;
            if (vl) memcpy(out, vs, vl);
            out[vl] = 0;
            return 1;
        }
    }
    return 0;
}

/* Decodes a quoted string s[i..e) (with its quotes) into out. */
static void unquote(const char *s, size_t i, size_t e, char *out)
{
    size_t o = 0;
    for (i++; i + 1 < e; i++) {
        if (s[i] == '\\' && i + 2 < e) i++;
        out[o++] = s[i];
    }
    out[o] = 0;
}

int sip_parse_addr(sip_msg *m, const char *v, size_t n, sip_addr *a, const char *what,
                   sip_parse_error *err)
{
    char params[SIP_MAX_FIELD + 1] = "", disp[SIP_MAX_FIELD + 1] = "";
    size_t i = skip_ws(v, 0, n);
    /* a '<' outside quotes means name-addr */
    size_t lt = n;
    for (size_t j = i; j < n; j++) {
        if (v[j] == '"') {
            size_t qe = quoted_end(v, j, n);
            if (!qe) { sip_err(err, 400, "Unterminated quoted string in %s", what); return -1; }
            j = qe - 1;
            continue;
        }
        if (v[j] == '<') { lt = j; break; }
        if (v[j] == ';') break;
    }
    size_t us, ue;
    if (lt < n) {
        if (v[i] == '"') {
            size_t qe = quoted_end(v, i, n);
            if (!qe || skip_ws(v, qe, n) != lt) { sip_err(err, 400, "Bad display name in %s", what); return -1; }
            unquote(v, i, qe, disp);
        } else {
            size_t de = lt;
            while (de > i && sip_is_ws((unsigned char)v[de - 1])) de--;
            for (size_t j = i; j < de; j++)
                if (!sip_is_token((unsigned char)v[j]) && !sip_is_ws((unsigned char)v[j])) {
                    sip_err(err, 400, "Display name in %s must be quoted", what);
                    return -1;
                }
            memcpy(disp, v + i, de - i);
            disp[de - i] = 0;
        }
        const char *gt = memchr(v + lt, '>', n - lt);
        if (!gt) { sip_err(err, 400, "Missing '>' in %s", what); return -1; }
        us = lt + 1;
        ue = (size_t)(gt - v);
        i = ue + 1;
        for (size_t j = us; j < ue; j++)
            if (sip_is_ws((unsigned char)v[j])) { sip_err(err, 400, "Spaces inside <> in %s", what); return -1; }
        if (check_uri(v + us, ue - us, true, what, err)) return -1;
    } else {
        us = i;
        while (i < n && v[i] != ';' && !sip_is_ws((unsigned char)v[i])) i++;
        ue = i;
        if (is_sip_scheme(v + us) && (memchr(v + us, '?', ue - us) || memchr(v + us, ',', ue - us))) {
            sip_err(err, 400, "A URI with '?' or ',' must be inside <> in %s", what);
            return -1;
        }
        if (check_uri(v + us, ue - us, false, what, err)) return -1;
    }
    if (parse_params(v, n, &i, params, sizeof params, what, err)) return -1;
    if (i != n) { sip_err(err, 400, "Unexpected text in %s", what); return -1; }
    a->display = sip_arena_dup(m, disp, strlen(disp));
    a->uri = sip_arena_dup(m, v + us, ue - us);
    a->params = sip_arena_dup(m, params, strlen(params));
    if (!a->display || !a->uri || !a->params) { sip_err(err, 513, "Message Too Large"); return -1; }
    char tag[256];
    int t = sip_param_get(a->params, "tag", tag, sizeof tag);
    if (t < 0 || (t == 1 && !tag[0])) { sip_err(err, 400, "Bad tag in %s", what); return -1; }
    a->tag = t == 1 ? sip_arena_dup(m, tag, strlen(tag)) : NULL;
    return 0;
}

/* Splits a list value at commas outside quotes and <>; calls fn for each element. */
static int split_list(sip_msg *m, const char *v, sip_parse_error *err, const char *what,
                      int (*fn)(sip_msg *, const char *, size_t, sip_parse_error *))
{
    size_t n = strlen(v), s = 0;
    bool angle = false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] == '"') {
            size_t qe = quoted_end(v, i, n);
            if (!qe) { sip_err(err, 400, "Unterminated quoted string in %s", what); return -1; }
            i = qe - 1;
            continue;
        }
        if (i < n && v[i] == '<') angle = true;
        if (i < n && v[i] == '>') angle = false;
        if (i == n || (v[i] == ',' && !angle)) {
            size_t a = skip_ws(v, s, i), b = i;
            while (b > a && sip_is_ws((unsigned char)v[b - 1])) b--;
            if (a == b) { sip_err(err, 400, "Empty value in %s", what); return -1; }
            if (fn(m, v + a, b - a, err)) return -1;
            s = i + 1;
        }
    }
    return 0;
}

static int one_contact(sip_msg *m, const char *v, size_t n, sip_parse_error *err)
{
    if (n == 1 && v[0] == '*') {
        if (m->contact_star || m->n_contact) { sip_err(err, 400, "Contact * must stand alone"); return -1; }
        m->contact_star = true;
        return 0;
    }
    if (m->contact_star) { sip_err(err, 400, "Contact * must stand alone"); return -1; }
    if (m->n_contact >= SIP_MAX_CONTACTS) { sip_err(err, 400, "More than %d Contact values", SIP_MAX_CONTACTS); return -1; }
    if (sip_parse_addr(m, v, n, &m->contact[m->n_contact], "Contact", err)) return -1;
    m->n_contact++;
    return 0;
}

int sip_parse_contacts(sip_msg *m, const char *v, sip_parse_error *err)
{
    return split_list(m, v, err, "Contact", one_contact);
}

static size_t token_at(const char *s, size_t i, size_t n)
{
    while (i < n && sip_is_token((unsigned char)s[i])) i++;
    return i;
}

static int one_via(sip_msg *m, const char *v, size_t n, sip_parse_error *err)
{
    if (m->n_via >= SIP_MAX_VIA) { sip_err(err, 400, "More than %d Via values", SIP_MAX_VIA); return -1; }
    sip_via *via = &m->via[m->n_via];
    size_t i = 0, e;
    /* sent-protocol = protocol-name SLASH protocol-version SLASH transport */
    e = token_at(v, i, n);
    if (e - i != 3 || strncasecmp(v + i, "SIP", 3)) goto bad;
    i = skip_ws(v, e, n);
    if (i >= n || v[i] != '/') goto bad;
    i = skip_ws(v, i + 1, n);
    e = token_at(v, i, n);
    if (e - i != 3 || strncmp(v + i, "2.0", 3)) { sip_err(err, 400, "Via is not SIP/2.0"); return -1; }
    i = skip_ws(v, e, n);
    if (i >= n || v[i] != '/') goto bad;
    i = skip_ws(v, i + 1, n);
    e = token_at(v, i, n);
    if (e == i || e - i > 15) goto bad;
    char tr[16];
    for (size_t k = i; k < e; k++) tr[k - i] = (char)((v[k] >= 'a' && v[k] <= 'z') ? v[k] - 32 : v[k]);
    tr[e - i] = 0;
    if (e >= n || !sip_is_ws((unsigned char)v[e])) goto bad;
    i = skip_ws(v, e, n);
    /* sent-by = host [ COLON port ] */
    size_t hs = i;
    if (i < n && v[i] == '[') {
        while (i < n && v[i] != ']') i++;
        if (i >= n) goto bad;
        i++;
    } else {
        while (i < n && (sip_is_alnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '.')) i++;
    }
    size_t he = i;
    if (he == hs) goto bad;
    int port = 0;
    size_t j = skip_ws(v, i, n);
    if (j < n && v[j] == ':') {
        j = skip_ws(v, j + 1, n);
        size_t d = 0;
        long p = 0;
        while (j + d < n && sip_is_digit((unsigned char)v[j + d]) && d < 6) p = p * 10 + (v[j + d++] - '0');
        if (!d || d > 5 || p < 1 || p > 65535) { sip_err(err, 400, "Bad port in Via"); return -1; }
        port = (int)p;
        i = j + d;
    }
    char params[SIP_MAX_FIELD + 1] = "";
    if (parse_params(v, n, &i, params, sizeof params, "Via", err)) return -1;
    if (i != n) goto bad;
    via->transport = sip_arena_dup(m, tr, strlen(tr));
    via->host = sip_arena_dup(m, v + hs, he - hs);
    via->port = port;
    via->params = sip_arena_dup(m, params, strlen(params));
    if (!via->transport || !via->host || !via->params) { sip_err(err, 513, "Message Too Large"); return -1; }
    char val[256];
    int r = sip_param_get(params, "branch", val, sizeof val);
    if (r < 0 || (r == 1 && !val[0])) { sip_err(err, 400, "Bad branch in Via"); return -1; }
    via->branch = r == 1 ? sip_arena_dup(m, val, strlen(val)) : NULL;
    r = sip_param_get(params, "received", val, sizeof val);
    if (r < 0 || (r == 1 && !val[0])) { sip_err(err, 400, "Bad received in Via"); return -1; }
    via->received = r == 1 ? sip_arena_dup(m, val, strlen(val)) : NULL;
    via->rport = -1;
    r = sip_param_get(params, "rport", val, sizeof val);
    if (r < 0) { sip_err(err, 400, "Bad rport in Via"); return -1; }
    if (r == 1) {
        unsigned long long p = 0;
        if (val[0] && (sip_parse_uint(val, 65535, &p) || !p)) { sip_err(err, 400, "Bad rport in Via"); return -1; }
        via->rport = (int)p;
    }
    m->n_via++;
    return 0;
bad:
    sip_err(err, 400, "Bad Via header");
    return -1;
}

int sip_parse_vias(sip_msg *m, const char *v, sip_parse_error *err)
{
    return split_list(m, v, err, "Via", one_via);
}

int sip_parse_cseq(sip_msg *m, const char *v, sip_parse_error *err)
{
    size_t n = strlen(v), i = 0;
    while (i < n && sip_is_digit((unsigned char)v[i])) i++;
    char num[32];
    if (!i || i >= sizeof num) { sip_err(err, 400, "Bad CSeq: sequence number above 2^32-1 or missing"); return -1; }
    memcpy(num, v, i);
    num[i] = 0;
    unsigned long long x;
    if (sip_parse_uint(num, 4294967295ULL, &x)) { sip_err(err, 400, "Bad CSeq: sequence number above 2^32-1"); return -1; }
    size_t ms = skip_ws(v, i, n);
    if (ms == i) { sip_err(err, 400, "Bad CSeq"); return -1; }
    size_t me = token_at(v, ms, n);
    if (me == ms || me != n) { sip_err(err, 400, "Bad CSeq method"); return -1; }
    m->cseq = (uint32_t)x;
    m->cseq_method = sip_arena_dup(m, v + ms, me - ms);
    if (!m->cseq_method) { sip_err(err, 513, "Message Too Large"); return -1; }
    return 0;
}

/* rfc1123-date = wkday "," SP date1 SP time SP "GMT" (RFC 3261 §20.17) */
int sip_check_date(const char *v)
{
    static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char wd[4], mon[4], zone[4];
    int d, y, hh, mm, ss, end = 0;
    if (strlen(v) != 29) return -1;
    if (sscanf(v, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%n", wd, &d, mon, &y, &hh, &mm, &ss, zone, &end) != 8 || end != 29)
        return -1;
    bool okd = false, okm = false;
    for (int i = 0; i < 7; i++) okd |= !strcmp(wd, days[i]);
    for (int i = 0; i < 12; i++) okm |= !strcmp(mon, months[i]);
    if (!okd || !okm || strcmp(zone, "GMT") || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return -1;
    return 0;
}
