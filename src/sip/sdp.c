/* sdp.c — SDP parse, offer, answer for G.711 audio and T.38/UDPTL (see sdp.h).
 * Parsing keeps only what a fax call uses (o=, c=, m=, rtpmap, ptime, direction and
 * the T38* attributes, whose names are matched case-insensitively with the aliases
 * seen in the wild: T38FaxMaxRate, T38MaxBitrate, T38MaxDatagram, T38FaxUdpEc). */
#include "sip/sdp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SDP_MAX_LINE 1024

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

void sdp_t38_defaults(sdp_t38_params *p)
{
    memset(p, 0, sizeof *p);
    p->version = 0;
    p->max_bit_rate = 14400;
    p->rate_management = T38_RATE_TRANSFERRED_TCF;
    p->max_buffer = 1800;
    p->max_datagram = 400;
    p->ec = T38_EC_REDUNDANCY;
}

void sdp_local_init(sdp_local *l, const char *addr, int audio_port, int t38_port)
{
    memset(l, 0, sizeof *l);
    l->addr = addr;
    l->audio_port = audio_port;
    l->t38_port = t38_port;
    l->pcmu = l->pcma = true;
    sdp_t38_defaults(&l->t38);
    l->sess_id = l->sess_version = 1;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!*s || !((*s >= '0' && *s <= '9'))) return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* "IN IP4 1.2.3.4[/ttl]" → addr, family; numeric addresses only. */
static int parse_conn(const char *v, char *addr, size_t cap, int *family)
{
    char nt[8], at[8], a[80];
    if (sscanf(v, "%7s %7s %79s", nt, at, a) != 3 || strcmp(nt, "IN")) return -1;
    char *slash = strchr(a, '/');
    if (slash) *slash = 0;
    unsigned char buf[16];
    if (!strcmp(at, "IP4") && inet_pton(AF_INET, a, buf) == 1) *family = 4;
    else if (!strcmp(at, "IP6") && inet_pton(AF_INET6, a, buf) == 1) *family = 6;
    else return -1;
    if (strlen(a) >= cap) return -1;
    strcpy(addr, a);
    return 0;
}

static int t38_attr(sdp_media *m, const char *name, const char *val, char *err, size_t errlen)
{
    sdp_t38_params *p = &m->t38p;
    long v;
    bool flag_on = !val || !*val || !strcmp(val, "1");
    if (!strcasecmp(name, "T38FaxVersion")) {
        if (!val || parse_int(val, 0, 3, &v)) FAIL("bad T38FaxVersion");
        p->version = (int)v;
    } else if (!strcasecmp(name, "T38MaxBitRate") || !strcasecmp(name, "T38FaxMaxRate")) {
        if (!val || parse_int(val, 300, 33600, &v)) FAIL("bad T38MaxBitRate");
        p->max_bit_rate = (int)v;
    } else if (!strcasecmp(name, "T38FaxRateManagement")) {
        if (val && !strcasecmp(val, "transferredTCF")) p->rate_management = T38_RATE_TRANSFERRED_TCF;
        else if (val && !strcasecmp(val, "localTCF")) p->rate_management = T38_RATE_LOCAL_TCF;
        else FAIL("bad T38FaxRateManagement (localTCF or transferredTCF)");
    } else if (!strcasecmp(name, "T38FaxMaxBuffer")) {
        if (!val || parse_int(val, 0, 1 << 20, &v)) FAIL("bad T38FaxMaxBuffer");
        p->max_buffer = (int)v;
    } else if (!strcasecmp(name, "T38FaxMaxDatagram") || !strcasecmp(name, "T38MaxDatagram")) {
        if (!val || parse_int(val, 0, 65535, &v)) FAIL("bad T38FaxMaxDatagram");
        p->max_datagram = (int)v;
    } else if (!strcasecmp(name, "T38FaxUdpEC")) {
        if (val && !strcasecmp(val, "t38UDPRedundancy")) p->ec = T38_EC_REDUNDANCY;
        else if (val && !strcasecmp(val, "t38UDPFEC")) p->ec = T38_EC_FEC;
        else if (val && !strcasecmp(val, "t38UDPNoEC")) p->ec = T38_EC_NONE;
        else FAIL("bad T38FaxUdpEC");
    } else if (!strcasecmp(name, "T38FaxFillBitRemoval")) {
        p->fill_bit_removal = flag_on;
    } else if (!strcasecmp(name, "T38FaxTranscodingMMR")) {
        p->transcoding_mmr = flag_on;
    } else if (!strcasecmp(name, "T38FaxTranscodingJBIG")) {
        p->transcoding_jbig = flag_on;
    }
    return 0;
}

static int media_line(sdp_session *s, const char *v, char *err, size_t errlen)
{
    if (s->n_media >= SDP_MAX_MEDIA) FAIL("more than %d m= lines", SDP_MAX_MEDIA);
    sdp_media *m = &s->m[s->n_media];
    memset(m, 0, sizeof *m);
    m->pcmu_pt = m->pcma_pt = -1;
    char port[16];
    int off = 0;
    if (sscanf(v, "%15s %15s %31s %n", m->media, port, m->proto, &off) != 3) FAIL("bad m= line");
    char *slash = strchr(port, '/');
    if (slash) *slash = 0;
    long p;
    if (parse_int(port, 0, 65535, &p)) FAIL("bad port in m= line");
    m->port = (int)p;
    const char *f = v + off;
    bool rtp = !strncasecmp(m->proto, "RTP/", 4);
    while (*f) {
        char tok[32];
        int n = 0;
        if (sscanf(f, "%31s%n", tok, &n) != 1) break;
        f += n;
        while (*f == ' ') f++;
        if (rtp) {
            long pt;
            if (parse_int(tok, 0, 127, &pt)) FAIL("bad payload type in m= line");
            if (m->n_fmt < SDP_MAX_FMT) m->fmt[m->n_fmt++] = (int)pt;
            if (pt == 0) m->pcmu_pt = 0;
            if (pt == 8 && m->pcma_pt < 0) m->pcma_pt = 8;
        } else if (!strcasecmp(m->media, "image") && !strcasecmp(m->proto, "udptl") && !strcasecmp(tok, "t38")) {
            m->t38 = true;
        }
    }
    s->n_media++;
    return 0;
}

static int attribute(sdp_media *m, const char *v, char *err, size_t errlen)
{
    char name[64];
    const char *colon = strchr(v, ':');
    size_t nl = colon ? (size_t)(colon - v) : strlen(v);
    if (nl >= sizeof name) return 0;
    memcpy(name, v, nl);
    name[nl] = 0;
    const char *val = colon ? colon + 1 : NULL;
    if (!strcasecmp(name, "sendrecv")) m->dir = SDP_SENDRECV;
    else if (!strcasecmp(name, "sendonly")) m->dir = SDP_SENDONLY;
    else if (!strcasecmp(name, "recvonly")) m->dir = SDP_RECVONLY;
    else if (!strcasecmp(name, "inactive")) m->dir = SDP_INACTIVE;
    else if (!strcasecmp(name, "ptime") && val) {
        long p;
        if (parse_int(val, 1, 1000, &p)) FAIL("bad ptime");
        m->ptime = (int)p;
    } else if (!strcasecmp(name, "rtpmap") && val) {
        long pt;
        char enc[32];
        int n = 0;
        char ptbuf[8];
        if (sscanf(val, "%7s %31s%n", ptbuf, enc, &n) != 2 || parse_int(ptbuf, 0, 127, &pt)) FAIL("bad rtpmap");
        if (!strcasecmp(enc, "PCMU/8000") || !strncasecmp(enc, "PCMU/8000/", 10)) m->pcmu_pt = (int)pt;
        if (!strcasecmp(enc, "PCMA/8000") || !strncasecmp(enc, "PCMA/8000/", 10)) m->pcma_pt = (int)pt;
    } else if (!strncasecmp(name, "T38", 3)) {
        return t38_attr(m, name, val, err, errlen);
    }
    return 0;
}

int sdp_parse(const char *body, size_t len, sdp_session *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > SDP_MAX_BODY) FAIL("SDP larger than %d bytes", SDP_MAX_BODY);
    char sess_addr[64] = "";
    int sess_family = 0;
    char media_addr[SDP_MAX_MEDIA][64];
    int media_family[SDP_MAX_MEDIA];
    memset(media_addr, 0, sizeof media_addr);
    memset(media_family, 0, sizeof media_family);
    sdp_media sess_attrs;   /* session-level attributes apply to every m= line */
    memset(&sess_attrs, 0, sizeof sess_attrs);
    size_t i = 0;
    int line_no = 0;
    bool seen_v = false, seen_o = false;
    while (i < len) {
        size_t e = i;
        while (e < len && body[e] != '\n') e++;
        size_t le = e;
        if (le > i && body[le - 1] == '\r') le--;
        if (le - i >= SDP_MAX_LINE) FAIL("SDP line longer than %d bytes", SDP_MAX_LINE);
        char line[SDP_MAX_LINE];
        size_t i0 = i;
        memcpy(line, body + i, le - i);
        line[le - i] = 0;
        i = e + 1;
        if (!line[0]) continue;   /* tolerate a trailing empty line */
        line_no++;
        for (size_t c = 0; c < le - i0; c++)
            if ((unsigned char)line[c] < 0x20 && line[c] != '\t') FAIL("control character in SDP line %d", line_no);
        if (strlen(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') FAIL("bad SDP line %d", line_no);
        const char *v = line + 2;
        if (line_no == 1) {
            if (line[0] != 'v' || strcmp(v, "0")) FAIL("SDP must start with v=0");
            seen_v = true;
            continue;
        }
        sdp_media *cur = out->n_media ? &out->m[out->n_media - 1] : NULL;
        switch (line[0]) {
        case 'o': {
            char nt[8], at[8];
            unsigned long long id, ver;
            if (sscanf(v, "%63s %llu %llu %7s %7s %63s", out->origin_user, &id, &ver, nt, at, out->origin_addr) != 6)
                FAIL("bad o= line");
            out->sess_id = id;
            out->sess_version = ver;
            seen_o = true;
            break;
        }
        case 'c':
            if (cur) {
                size_t k = out->n_media - 1;
                if (parse_conn(v, media_addr[k], sizeof media_addr[k], &media_family[k])) FAIL("bad c= line (a numeric IPv4 or IPv6 address)");
            } else if (parse_conn(v, sess_addr, sizeof sess_addr, &sess_family)) {
                FAIL("bad c= line (a numeric IPv4 or IPv6 address)");
            }
            break;
        case 'm':
            if (media_line(out, v, err, errlen)) return -1;
            out->m[out->n_media - 1].dir = sess_attrs.dir;
            break;
        case 'a':
            if (attribute(cur ? cur : &sess_attrs, v, err, errlen)) return -1;
            break;
        default:
            break;   /* s= i= u= e= p= b= t= r= z= k=: nothing a fax call uses */
        }
    }
    if (!seen_v || !seen_o) FAIL("SDP without v= and o= lines");
    for (size_t k = 0; k < out->n_media; k++) {
        sdp_media *m = &out->m[k];
        if (media_addr[k][0]) { strcpy(m->addr, media_addr[k]); m->addr_family = media_family[k]; }
        else if (sess_addr[0]) { strcpy(m->addr, sess_addr); m->addr_family = sess_family; }
        else if (m->port) FAIL("m=%s line without a connection address", m->media);
    }
    return 0;
}

static const char *dir_name(sdp_dir d)
{
    static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
    return names[d];
}

static sdp_dir mirror(sdp_dir d)
{
    return d == SDP_SENDONLY ? SDP_RECVONLY : d == SDP_RECVONLY ? SDP_SENDONLY : d;
}

static int session_head(const sdp_local *l, strbuf *out)
{
    const char *ipv = strchr(l->addr, ':') ? "IP6" : "IP4";
    return sb_appendf(out, "v=0\r\no=faxbot %llu %llu IN %s %s\r\ns=faxbot\r\nc=IN %s %s\r\nt=0 0\r\n",
                      (unsigned long long)l->sess_id, (unsigned long long)l->sess_version, ipv, l->addr, ipv, l->addr);
}

static int t38_lines(const sdp_t38_params *p, strbuf *out)
{
    int rc = sb_appendf(out, "a=T38FaxVersion:%d\r\na=T38MaxBitRate:%d\r\n", p->version, p->max_bit_rate);
    if (p->fill_bit_removal) rc |= sb_puts(out, "a=T38FaxFillBitRemoval\r\n");
    rc |= sb_appendf(out, "a=T38FaxRateManagement:%s\r\n",
                     p->rate_management == T38_RATE_LOCAL_TCF ? "localTCF" : "transferredTCF");
    if (p->max_buffer) rc |= sb_appendf(out, "a=T38FaxMaxBuffer:%d\r\n", p->max_buffer);
    if (p->max_datagram) rc |= sb_appendf(out, "a=T38FaxMaxDatagram:%d\r\n", p->max_datagram);
    if (p->ec != T38_EC_NONE)
        rc |= sb_appendf(out, "a=T38FaxUdpEC:%s\r\n", p->ec == T38_EC_FEC ? "t38UDPFEC" : "t38UDPRedundancy");
    return rc;
}

int sdp_build_offer(const sdp_local *l, sdp_kind kind, strbuf *out)
{
    if (!l->addr || session_head(l, out)) return -1;
    if (kind == SDP_KIND_T38) {
        if (!l->t38_port) return -1;
        if (sb_appendf(out, "m=image %d udptl t38\r\n", l->t38_port) || t38_lines(&l->t38, out)) return -1;
        return sb_puts(out, "a=sendrecv\r\n");
    }
    if (!l->audio_port || (!l->pcmu && !l->pcma)) return -1;
    int rc = sb_appendf(out, "m=audio %d RTP/AVP%s%s\r\n", l->audio_port, l->pcmu ? " 0" : "", l->pcma ? " 8" : "");
    if (l->pcmu) rc |= sb_puts(out, "a=rtpmap:0 PCMU/8000\r\n");
    if (l->pcma) rc |= sb_puts(out, "a=rtpmap:8 PCMA/8000\r\n");
    return rc | sb_puts(out, "a=ptime:20\r\na=sendrecv\r\n");
}

/* The T.38 parameters an answerer agrees to, from the offer and ours (T.38 D.2.3). */
static void t38_agree(const sdp_t38_params *off, const sdp_t38_params *ours, sdp_t38_params *out)
{
    *out = *ours;
    out->version = off->version < ours->version ? off->version : ours->version;
    int offered_rate = off->max_bit_rate ? off->max_bit_rate : 14400;
    out->max_bit_rate = offered_rate < ours->max_bit_rate ? offered_rate : ours->max_bit_rate;
    out->rate_management = off->rate_management ? off->rate_management : T38_RATE_TRANSFERRED_TCF;
    if (off->ec == T38_EC_FEC && ours->ec == T38_EC_FEC) out->ec = T38_EC_FEC;
    else if (off->ec != T38_EC_NONE && ours->ec != T38_EC_NONE) out->ec = T38_EC_REDUNDANCY;
    else out->ec = T38_EC_NONE;
    out->fill_bit_removal = off->fill_bit_removal && ours->fill_bit_removal;
    out->transcoding_mmr = off->transcoding_mmr && ours->transcoding_mmr;
    out->transcoding_jbig = off->transcoding_jbig && ours->transcoding_jbig;
}

static int pick_audio_pt(const sdp_media *m, const sdp_local *l)
{
    for (size_t i = 0; i < m->n_fmt; i++) {
        if (l->pcmu && m->fmt[i] == m->pcmu_pt) return m->pcmu_pt;
        if (l->pcma && m->fmt[i] == m->pcma_pt) return m->pcma_pt;
    }
    return -1;
}

static void fill_remote(sdp_negotiated *res, const sdp_media *m)
{
    snprintf(res->remote_addr, sizeof res->remote_addr, "%s", m->addr);
    res->remote_family = m->addr_family;
    res->remote_port = m->port;
    res->dir = mirror(m->dir);
}

int sdp_answer(const sdp_session *offer, const sdp_local *l, strbuf *out,
               sdp_negotiated *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->payload_type = -1;
    if (!offer->n_media) FAIL("the offer has no m= line");
    /* which line to accept: T.38 first (a fax call that offers it wants it) */
    int chosen = -1;
    for (size_t k = 0; k < offer->n_media && chosen < 0; k++)
        if (offer->m[k].t38 && offer->m[k].port && l->t38_port) chosen = (int)k;
    for (size_t k = 0; k < offer->n_media && chosen < 0; k++) {
        const sdp_media *m = &offer->m[k];
        if (!strcasecmp(m->media, "audio") && m->port && l->audio_port && !strcasecmp(m->proto, "RTP/AVP") &&
            pick_audio_pt(m, l) >= 0)
            chosen = (int)k;
    }
    if (chosen < 0) FAIL("no acceptable stream in the offer (G.711 PCMU/PCMA over RTP/AVP or T.38 over UDPTL)");
    if (session_head(l, out)) FAIL("out of memory");
    int rc = 0;
    for (size_t k = 0; k < offer->n_media; k++) {
        const sdp_media *m = &offer->m[k];
        if ((int)k != chosen) {
            /* refused: same media and proto, port 0, the offered formats (RFC 3264 §6) */
            rc |= sb_appendf(out, "m=%s 0 %s", m->media, m->proto);
            if (m->n_fmt) for (size_t f = 0; f < m->n_fmt; f++) rc |= sb_appendf(out, " %d", m->fmt[f]);
            else rc |= sb_puts(out, m->t38 ? " t38" : " 0");
            rc |= sb_puts(out, "\r\n");
            continue;
        }
        fill_remote(res, m);
        if (m->t38) {
            res->kind = SDP_KIND_T38;
            t38_agree(&m->t38p, &l->t38, &res->t38);
            sdp_t38_params ans = res->t38;   /* our buffer/datagram go in our SDP */
            res->t38.max_buffer = m->t38p.max_buffer;
            res->t38.max_datagram = m->t38p.max_datagram;
            rc |= sb_appendf(out, "m=image %d udptl t38\r\n", l->t38_port);
            rc |= t38_lines(&ans, out);
        } else {
            res->kind = SDP_KIND_AUDIO;
            res->payload_type = pick_audio_pt(m, l);
            res->pcma = res->payload_type == m->pcma_pt && res->payload_type != m->pcmu_pt;
            res->ptime = m->ptime ? m->ptime : 20;
            rc |= sb_appendf(out, "m=audio %d RTP/AVP %d\r\na=rtpmap:%d %s/8000\r\na=ptime:%d\r\n", l->audio_port,
                             res->payload_type, res->payload_type, res->payload_type == m->pcma_pt ? "PCMA" : "PCMU",
                             res->ptime);
        }
        rc |= sb_appendf(out, "a=%s\r\n", dir_name(res->dir));
    }
    if (rc) FAIL("out of memory");
    return 0;
}

int sdp_read_answer(const sdp_session *answer, sdp_kind offered, const sdp_local *l,
                    sdp_negotiated *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->payload_type = -1;
    bool refused = false;
    for (size_t k = 0; k < answer->n_media; k++) {
        const sdp_media *m = &answer->m[k];
        bool audio = !strcasecmp(m->media, "audio") && !strncasecmp(m->proto, "RTP/", 4);
        if (offered == SDP_KIND_T38 ? !m->t38 : !audio) continue;
        if (!m->port) { refused = true; continue; }
        fill_remote(res, m);
        if (offered == SDP_KIND_T38) {
            res->kind = SDP_KIND_T38;
            res->t38 = m->t38p;
            if (!res->t38.max_bit_rate) res->t38.max_bit_rate = 14400;
            if (!res->t38.rate_management) res->t38.rate_management = T38_RATE_TRANSFERRED_TCF;
            if (res->t38.ec == T38_EC_FEC && l->t38.ec != T38_EC_FEC) FAIL("the far end chose FEC, which we did not offer");
            return 0;
        }
        int pt = pick_audio_pt(m, l);
        if (pt < 0) FAIL("the far end answered without PCMU or PCMA");
        res->kind = SDP_KIND_AUDIO;
        res->payload_type = pt;
        res->pcma = pt == m->pcma_pt && pt != m->pcmu_pt;
        res->ptime = m->ptime ? m->ptime : 20;
        return 0;
    }
    if (refused) FAIL("the far end refused %s (port 0)", offered == SDP_KIND_T38 ? "T.38" : "audio");
    FAIL("the answer has no %s stream", offered == SDP_KIND_T38 ? "T.38" : "audio");
}
