/* direct_map.c — see direct_map.h. */
#include "backend/direct_map.h"

#include <stdio.h>
#include <string.h>

void direct_local_sdp(sdp_local *l, const char *addr, int port, bool t38)
{
    sdp_local_init(l, addr, port, t38 ? port : 0);
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
