/* plugin_http.h — the `http` plugin kind: a cloud fax provider described by the
 * manifest's "http" section instead of C code (docs/plugins-http.md). This header
 * has the parsed form of that section (plugin_http_manifest.c: parse and validate, pure),
 * the backend built from it (backend_plugin_http.c, with plugin_http_request.c), and the dry run behind
 * POST /admin/plugins/http/validate. Every request goes only to the hosts the
 * manifest declares in http.allowed_hosts. */
#ifndef FAXBOT_HTTP_PLUGIN_H
#define FAXBOT_HTTP_PLUGIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "backend/plugin_http_verify.h"
#include "plugins/plugin.h"

#define HTTP_PLUGIN_MAX_HOSTS 16
#define HTTP_PLUGIN_MAX_FIELDS 24
#define HTTP_PLUGIN_MAX_RULES 48
#define HTTP_PLUGIN_MAX_WEBHOOKS 4

typedef enum { HAUTH_NONE = 0, HAUTH_BASIC, HAUTH_BEARER, HAUTH_HEADER, HAUTH_OAUTH2 } http_auth_scheme;

/* Every const char * below points into the manifest (kept alive by http_def). */
typedef struct http_auth {
    http_auth_scheme scheme;
    const char *username, *password;     /* basic (templates) */
    const char *token;                   /* bearer */
    const char *header, *value;          /* header: name and value template */
    const char *token_url, *client_id, *client_secret, *scope;   /* oauth2 client credentials */
} http_auth;

typedef struct http_kv {
    const char *name;
    const char *value;                   /* template */
} http_kv;

/* One request: send, status or cancel. */
typedef struct http_action {
    bool present;
    const char *method;                  /* GET POST PUT DELETE PATCH */
    const char *path;                    /* template; relative to base_url, or an absolute URL */
    const char *body;                    /* json | form | multipart | none */
    http_kv fields[HTTP_PLUGIN_MAX_FIELDS];
    int n_fields;
    const char *file_field;              /* multipart: the part that carries the PDF */
    http_kv headers[HTTP_PLUGIN_MAX_FIELDS];
    int n_headers;
    /* where the answer says things (dotted JSON paths; NULL = not said) */
    const char *id_path, *status_path, *failure_path, *message_path, *pages_path;
} http_action;

typedef enum { HSTATE_PENDING = 0, HSTATE_DELIVERED, HSTATE_FAILED, HSTATE_CANCELLED } http_state;

typedef struct http_status_rule {
    const char *provider;                /* the provider's word (case-insensitive) */
    http_state state;
} http_status_rule;

typedef struct http_failure_rule {
    const char *provider;                /* the provider's failure word; "*" = any other */
    const char *reason;                  /* our failure_reason */
    bool transient;
} http_failure_rule;

typedef struct http_webhook_def {
    const char *name;                    /* "status", "inbound" (template: {{webhook.<name>}}) */
    const char *path;                    /* our route: /plugins/<id>/<name> */
    bool status, inbound;                /* what it carries */
    const char *format;                  /* json | form | multipart */
    const char *data_field;              /* form/multipart: the field holding a JSON document */
    verify_spec verify;
    const char *verify_key;              /* template: secret, public key or "user:password" */
    const char *event_path;              /* the event's name */
    const char *inbound_event;           /* the event name that announces a received fax */
    const char *ignore_events[8];        /* events answered 200 and otherwise ignored */
    int n_ignore;
    const char *id_path, *status_path, *failure_path, *message_path, *pages_path;
    const char *job_path, *attempt_path; /* correlation echoed in the body (else ?job_id&attempt) */
    /* inbound */
    const char *from_path, *to_path, *media_url_path, *file_field;
} http_webhook_def;

typedef struct http_config_field {
    const char *name;
    bool secret, required;
} http_config_field;

typedef struct http_def {
    json_t *manifest;                    /* owned reference */
    const char *id, *name;
    const char *base_url;
    const char *hosts[HTTP_PLUGIN_MAX_HOSTS];
    int n_hosts;
    long timeout_s;
    http_auth auth;
    http_action send, status, cancel;
    http_status_rule status_map[HTTP_PLUGIN_MAX_RULES];
    int n_status;
    http_failure_rule failure_map[HTTP_PLUGIN_MAX_RULES];
    int n_failure;
    long retry_http[16];                 /* HTTP statuses of the send that are worth another attempt */
    int n_retry_http;
    http_webhook_def webhooks[HTTP_PLUGIN_MAX_WEBHOOKS];
    int n_webhooks;
    http_config_field config[HTTP_PLUGIN_MAX_FIELDS];
    int n_config;
} http_def;

/* ---- plugin_http_manifest.c (pure) ---- */

/* Checks the manifest's "http" section; -1 with err naming the field
 * ("http.auth.scheme: …"). The common fields are the plugin core's. */
int http_section_validate(const json_t *manifest, char *err, size_t errlen);

/* Parses it into def (which keeps a reference to manifest); 0 or -1 with err. */
int http_def_parse(json_t *manifest, http_def *def, char *err, size_t errlen);
void http_def_free(http_def *def);

/* The state a provider status maps to (unknown words: pending). */
http_state http_map_status(const http_def *def, const char *provider_status);
/* The failure rule for a provider failure word (the "*" rule, else provider_error). */
const http_failure_rule *http_map_failure(const http_def *def, const char *provider_failure);

/* true when url's host is one the manifest declares. */
bool http_def_host_ok(const http_def *def, const char *url);

/* ---- backend_plugin_http.c, plugin_http_dryrun.c ---- */

/* The backend operations of one http plugin (static storage, one slot per plugin;
 * NULL with err when the manifest is bad or every slot is taken). def is taken over. */
const backend_ops *http_plugin_ops(http_def *def, char *err, size_t errlen);

/* The dry run of POST /admin/plugins/http/validate. body: {manifest, credentials?,
 * settings?, to?, file_url?, from_number?, render_only=true}. Returns the answer
 * object ({id, name, actions, allowed_domains, warnings?, errors?, requests?,
 * normalized?}) and *status (200, or 400 for a manifest that does not validate). */
json_t *http_plugin_dry_run(json_t *body, int *status);

/* The hooks of the http kind (registered by backend_plugins.c). */
extern const plugin_kind_ops plugin_http_kind;

#endif
