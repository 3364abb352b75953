/* direct_map.c — see direct_map.h. */
#include "backend/direct_map.h"

#include <stdio.h>
#include <string.h>

void direct_local_sdp(sdp_local *l, const char *addr, int port, bool t38)
{
    memset(l, 0, sizeof *l);
    l->addr = addr;
    l->audio_port = port;
    l->t38_port = t38 ? port : 0;
    l->pcmu = l->pcma = true;
    sdp_t38_defaults(&l->t38);
}

void direct_media_params(const sdp_negotiated *n, bool symmetric, media_params *p)
{
    bool t38 = n->kind == SDP_KIND_T38;
    media_params_default(p, t38 ? MEDIA_KIND_T38 : MEDIA_KIND_AUDIO);
    snprintf(p->remote_addr, sizeof p->remote_addr, "%s", n->remote_addr);
    p->remote_port = n->remote_port;
    p->symmetric = symmetric;
    if (!t38) {
        p->law = n->payload_type == 8 ? MEDIA_ALAW : MEDIA_ULAW;
        p->payload_type = n->payload_type >= 0 ? n->payload_type : -1;
        if (n->ptime >= 10 && n->ptime <= 60 && n->ptime % 10 == 0) p->ptime_ms = n->ptime;
        return;
    }
    const sdp_t38_params *t = &n->t38;
    udptl_ec ec = t->ec == T38_EC_FEC ? UDPTL_EC_FEC : t->ec == T38_EC_REDUNDANCY ? UDPTL_EC_REDUNDANCY : UDPTL_EC_NONE;
    udptl_config_default(&p->udptl, ec);
    p->udptl.far_max_datagram = t->max_datagram;
    p->udptl.t38_version = t->version;
    p->t38_max_bitrate = t->max_bit_rate > 0 ? t->max_bit_rate : 14400;
    p->t38_rate_management = t->rate_management == T38_RATE_LOCAL_TCF ? 1 : 2;
    p->t38_fill_bit_removal = t->fill_bit_removal;
}

const char *direct_failure_reason(sip_end_reason r, bool *transient)
{
    *transient = true;
    switch (r) {
    case SIP_END_BUSY: return "busy";
    case SIP_END_NO_ANSWER: return "no_answer";
    case SIP_END_UNAVAILABLE: return "congestion";
    case SIP_END_TIMEOUT: return "network_error";
    case SIP_END_HANGUP_REMOTE: return "line_error";     /* dropped before the fax was over */
    case SIP_END_HANGUP_LOCAL: return "line_error";
    case SIP_END_DECLINED: *transient = false; return "rejected";
    case SIP_END_NOT_ACCEPTABLE: *transient = false; return "rejected";
    case SIP_END_INVALID_NUMBER: *transient = false; return "invalid_number";
    case SIP_END_AUTH_FAILED: *transient = false; return "provider_error";
    case SIP_END_NONE:
    case SIP_END_FAILED: break;
    }
    return "provider_error";
}

int direct_dial_number(const char *e164, bool plus, const char *tech_prefix, const char *sep, char *out,
                       size_t outlen)
{
    const char *digits = e164[0] == '+' ? e164 + 1 : e164;
    int n = snprintf(out, outlen, "%s%s%s%s", tech_prefix && *tech_prefix ? tech_prefix : "",
                     tech_prefix && *tech_prefix && sep ? sep : "", plus ? "+" : "", digits);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
