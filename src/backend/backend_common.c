/* backend_common.c — what every backend shares besides the registry: constructors
 * for outcomes (every unknown field -1) and the one way a webhook answers. */
#include "backend/backend.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* ---- outcomes ---- */

static backend_outcome outcome_of(outcome_kind kind, int attempt, const char *provider_sid, int pages)
{
    backend_outcome o = {.kind = kind, .attempt = attempt, .provider_sid = provider_sid && provider_sid[0] ? provider_sid : NULL,
                         .pages = pages, .duration_s = -1, .bit_rate = -1, .ecm = -1};
    return o;
}

backend_outcome outcome_accepted(int attempt, const char *provider_sid)
{
    return outcome_of(OUTCOME_ACCEPTED, attempt, provider_sid, -1);
}

backend_outcome outcome_progress(int attempt, const char *provider_sid, int pages)
{
    return outcome_of(OUTCOME_PROGRESS, attempt, provider_sid, pages);
}

backend_outcome outcome_success(int attempt, const char *provider_sid, int pages)
{
    return outcome_of(OUTCOME_SUCCESS, attempt, provider_sid, pages);
}

backend_outcome outcome_failure(int attempt, const char *provider_sid, const char *reason, bool transient,
                                const char *message)
{
    backend_outcome o = outcome_of(OUTCOME_FAILURE, attempt, provider_sid, -1);
    o.failure_reason = reason;
    o.transient = transient;
    o.message = message;
    return o;
}

/* ---- webhook replies ---- */

void webhook_reply_text(webhook_response *res, int status, const char *json_text)
{
    res->status = status;
    str_copy(res->content_type, sizeof res->content_type, "application/json");
    if (!json_text || str_copy(res->body, sizeof res->body, json_text))
        str_copy(res->body, sizeof res->body, "{\"detail\":\"error\"}");
}

void webhook_reply_json(webhook_response *res, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    webhook_reply_text(res, status, text);
    free(text);
    json_decref(o);
}

void webhook_reply(webhook_response *res, int status, const char *key, const char *text)
{
    webhook_reply_json(res, status, json_pack("{s:s}", key, text ? text : ""));
}

void webhook_reply_detail(webhook_response *res, int status, const char *detail)
{
    webhook_reply(res, status, "detail", detail);
}
