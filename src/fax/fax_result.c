/* fax_result.c — how spandsp's T.30 phase E completion codes become the gateway's
 * failure vocabulary (failure_reason + transient). The whole policy is the one table
 * below; the job layer's retry policy only looks at `transient`. */
#include "fax/fax_engine.h"

#include <spandsp.h>

typedef struct {
    int first, last;          /* inclusive range of T30_ERR_* codes */
    const char *reason;
    bool transient;
} code_bucket;

/* Buckets follow spandsp's own grouping of the enum (t30.h) and Asterisk's
 * res_fax_spandsp.c:update_stats classification:
 *  - nobody talked to us at all (T0/T1 expiry: no fax tone, no DIS)   -> no_answer, retry
 *  - link/modem trouble: tones, carrier, training, protocol timeouts,
 *    unexpected frames, DCN mid-call, retries exhausted, call dropped  -> line_error, retry
 *  - the far end cannot or will not take this fax (capabilities,
 *    resolution, size, ident/password/sub-address negotiation)         -> rejected, final
 *  - our TIFF cannot be read or written                                -> file_error, final */
static const code_bucket buckets[] = {
    { T30_ERR_CEDTONE,          T30_ERR_CEDTONE,          "line_error", true  },
    { T30_ERR_T0_EXPIRED,       T30_ERR_T1_EXPIRED,       "no_answer",  true  },
    { T30_ERR_T3_EXPIRED,       T30_ERR_OPER_INT_FAIL,    "line_error", true  }, /* T3, HDLC carrier, CANNOT_TRAIN, operator */
    { T30_ERR_INCOMPATIBLE,     T30_ERR_NOSIZESUPPORT,    "rejected",   false }, /* incompatible, rx/tx incapable, resolution, size */
    { T30_ERR_UNEXPECTED,       T30_ERR_UNEXPECTED,       "line_error", true  },
    { T30_ERR_TX_BADDCS,        T30_ERR_TX_T5EXP,         "line_error", true  }, /* sender-side protocol failures */
    { T30_ERR_RX_ECMPHD,        T30_ERR_RX_DCNNORTN,      "line_error", true  }, /* receiver-side protocol failures */
    { T30_ERR_FILEERROR,        T30_ERR_NOMEM,            "file_error", false },
    { T30_ERR_RETRYDCN,         T30_ERR_CALLDROPPED,      "line_error", true  },
    { T30_ERR_NOPOLL,           T30_ERR_CSA_UNACCEPTABLE, "rejected",   false },
};

const char *fax_failure_reason(int completion_code, bool *transient)
{
    if (completion_code == T30_ERR_OK) {
        if (transient)
            *transient = false;
        return NULL;
    }
    for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        if (completion_code >= buckets[i].first && completion_code <= buckets[i].last) {
            if (transient)
                *transient = buckets[i].transient;
            return buckets[i].reason;
        }
    }
    if (transient)
        *transient = true;
    return "line_error";
}

const char *fax_completion_text(int completion_code)
{
    const char *t = t30_completion_code_to_str(completion_code);
    return t ? t : "unknown completion code";
}
