/* backend.c — the registry of backends, and the webhook reply helpers every backend
 * shares. Adding a backend is adding its ops here and its file to the build;
 * nothing else in the gateway changes (docs/internals/adding-a-backend.md). */
#include "backend/backend.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

extern const backend_ops backend_loopback_ops;
extern const backend_ops backend_sip_ops;
extern const backend_ops backend_sinch_ops;
extern const backend_ops backend_signalwire_ops;
extern const backend_ops backend_freeswitch_ops;
extern const backend_ops backend_phaxio_ops;

/* in the order error messages list them */
static const backend_ops *const registry[] = {
    &backend_loopback_ops,
    &backend_sip_ops,
    &backend_phaxio_ops,
    &backend_freeswitch_ops,
    &backend_sinch_ops,
    &backend_signalwire_ops,
};
#define N_BACKENDS (sizeof registry / sizeof registry[0])

const backend_ops *backend_find(const char *name)
{
    for (size_t i = 0; i < N_BACKENDS; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

static char names_text[256];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_build(void)
{
    size_t used = 0;
    for (size_t i = 0; i < N_BACKENDS && used < sizeof names_text; i++) {
        int n = snprintf(names_text + used, sizeof names_text - used, "%s%s", i ? ", " : "", registry[i]->name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

const char *backend_names(void)
{
    pthread_once(&names_once, names_build);
    return names_text;
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
