/* plugin_http_internal.h — what the three files of the http plugin runtime share:
 * the instance (struct backend), the request builder and performer with their
 * authentication (plugin_http_request.c), and the pieces the dry run
 * (plugin_http_dryrun.c) borrows from the backend (backend_plugin_http.c).
 * Not for use outside these files. */
#ifndef FAXBOT_PLUGIN_HTTP_INTERNAL_H
#define FAXBOT_PLUGIN_HTTP_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/cloud_util.h"
#include "backend/plugin_http.h"

#define SID_MEMORY 512

typedef struct sid_entry {
    char sid[128];
    char job_id[33];
    int attempt;
} sid_entry;

struct backend {
    backend_sink sink;
    const http_def *def;
    char data_dir[1024];
    char public_url[512];
    bool inbound_enabled;
    json_t *config;               /* field key -> value text */
    pthread_mutex_t lock;         /* sid memory */
    pthread_mutex_t token_lock;   /* held while a token is fetched: one refresh at a time */
    char token[4096];
    int64_t token_valid_until;
    sid_entry sids[SID_MEMORY];   /* provider fax id -> attempt, for providers whose webhooks carry only their id */
    int sid_next;
    /* dry run: the requests it would make instead of making them */
    json_t *record;
};

typedef struct built_req {
    cloud_http_req rq;
    char *url;
    char *body;
    char *headers[HTTP_PLUGIN_MAX_FIELDS + 2];
    int n_headers;
    char *user, *password, *bearer;
    /* multipart */
    char *names[HTTP_PLUGIN_MAX_FIELDS], *values[HTTP_PLUGIN_MAX_FIELDS];
    int n_values;
    const char *file_field, *file_path, *file_name;
} built_req;

/* ---- plugin_http_request.c ---- */

/* A rendered template (malloc'd) or NULL with err: the fax.*, config.* and webhook.*
 * variables of docs/plugins-http.md, for job (may be NULL) and the provider fax id sid. */
char *http_render(backend *b, const backend_job *job, const char *sid, const char *tmpl, char *err, size_t errlen);

/* Builds an action's request (URL on a declared host, headers, auth, body); 0 or -1
 * with err. Free r with http_built_free either way. */
int http_build(backend *b, const backend_job *job, const char *sid, const http_action *a, built_req *r, char *err,
               size_t errlen);
void http_built_free(built_req *r);

/* The OAuth2 access token: the cached one, or a fresh one (force). 0 or -1 with err. */
int http_get_token(backend *b, bool force, char *out, size_t outlen, char *err, size_t errlen);

/* Builds and performs an action: 0 = an answer (rs), -1 = none (rs->error,
 * rs->maybe_sent) or not built (err; rs->error empty). A 401 under OAuth2 fetches a
 * new token and tries once more. Free rs with cloud_http_res_free. */
int http_perform(backend *b, const backend_job *job, const char *sid, const http_action *a, cloud_http_res *rs,
                 char *err, size_t errlen);

/* ---- backend_plugin_http.c ---- */

/* An instance for def (config empty; cfg may be NULL: no public URL, inbound off). */
backend *http_instance_new(const http_def *def, backend_sink sink, const struct config *cfg);
void http_instance_free(backend *b);
/* The backend's submit (the dry run sends through it). */
int http_plugin_submit(backend *b, const backend_job *job);

#endif
