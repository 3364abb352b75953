/* fuzz_sip.c — libFuzzer harness for the SIP message parser (src/sip/sip_msg.c,
 * sip_fields.c) and the builder that answers what it parsed (sip_build.c).
 * The input is parsed as a UDP datagram and as a TCP stream; a request that parses
 * is answered with sip_build_response_head + sip_build_finish, and that response
 * must parse back with the same Call-ID, CSeq and top branch (what the builder
 * copies from outside can never break framing). Every URI of a parsed message
 * goes through sip_uri_parse and every parameter list through sip_param_get; every
 * WWW-/Proxy-Authenticate value through the Digest parser, and an answer built from
 * what it accepted must hold no CR, LF or stray quote.
 * Build: make fuzz (the target is fuzz/fuzz_sip.c; seeds in fuzz/corpus/sip). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_digest.h"
#include "sip/sip_msg.h"

static void touch_addr(const sip_addr *a)
{
    sip_uri u;
    char why[64], v[128];
    (void)sip_uri_parse(a->uri, &u, why, sizeof why);
    (void)sip_param_get(a->params, "expires", v, sizeof v);
    if (a->tag && !a->tag[0]) abort();
}

static void digest(const sip_msg *m)
{
    for (size_t i = 0; i < m->n_hdr; i++) {
        if (m->hdr[i].id != SIP_H_WWW_AUTHENTICATE && m->hdr[i].id != SIP_H_PROXY_AUTHENTICATE) continue;
        sip_digest_challenge c;
        char err[160], out[2048];
        if (sip_digest_parse(m->hdr[i].value, &c, err, sizeof err)) continue;
        if (sip_digest_authorization(&c, "fax", "secret", "REGISTER", "sip:example.com", 1, "cn", out, sizeof out) == 0 &&
            strpbrk(out, "\r\n"))
            abort();
    }
    if (m->status == 401 || m->status == 407) {
        sip_digest_challenge c;
        char err[160];
        (void)sip_digest_from_response(m, &c, err, sizeof err);
    }
}

static void answer(const sip_msg *m)
{
    if (!m->is_request || !strcmp(m->method, "ACK")) return;
    strbuf sb;
    sb_init(&sb);
    if (sip_build_response_head(&sb, m, 400, "Bad Request", "t1") == 0 &&
        sip_build_finish(&sb, NULL, NULL, 0) == 0) {
        sip_msg *r = NULL;
        size_t used;
        sip_parse_error err;
        if (sip_msg_parse(sb.data, sb.len, false, &r, &used, &err) != SIP_PARSE_OK) abort();
        if (strcmp(r->call_id, m->call_id) || r->cseq != m->cseq || r->n_via != m->n_via) abort();
        if ((m->via[0].branch == NULL) != (r->via[0].branch == NULL)) abort();
        if (m->via[0].branch && strcmp(m->via[0].branch, r->via[0].branch)) abort();
        sip_msg_free(r);
    }
    sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SIP_MAX_MSG + 100) return 0;
    sip_msg *m = NULL;
    size_t used = 0;
    sip_parse_error err;
    if (sip_msg_parse((const char *)data, size, true, &m, &used, &err) == SIP_PARSE_OK) {
        if (used > size || m->body_len > size) abort();
        touch_addr(&m->from);
        touch_addr(&m->to);
        for (size_t i = 0; i < m->n_contact; i++) touch_addr(&m->contact[i]);
        if (m->is_request) {
            sip_uri u;
            char why[64];
            (void)sip_uri_parse(m->ruri, &u, why, sizeof why);
        }
        answer(m);
        digest(m);
        sip_msg_free(m);
    } else if (!err.status || !err.reason[0]) {
        abort();   /* a refusal always says why */
    }
    /* as a stream: messages one after another until incomplete or an error */
    size_t off = 0;
    for (int n = 0; n < 64 && off < size; n++) {
        int rc = sip_msg_parse((const char *)data + off, size - off, false, &m, &used, &err);
        if (rc != SIP_PARSE_OK) break;
        if (!used || used > size - off) abort();
        off += used;
        sip_msg_free(m);
    }
    return 0;
}
