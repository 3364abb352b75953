/* backend.h — how a fax leaves the gateway. Each backend (loopback, phaxio, sip, …)
 * is one file implementing backend_ops; the job layer never knows which one runs.
 * Backends never touch jobs or the store: they report what happened through the
 * sink the job layer gives them at start, and the job layer applies it. */
#ifndef FAXBOT_BACKEND_H
#define FAXBOT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct json_t;

typedef enum {
    OUTCOME_ACCEPTED = 1,        /* handed over; provider_sid may be set; result comes later */
    OUTCOME_PROGRESS,            /* e.g. a page went out */
    OUTCOME_SUCCESS,             /* delivered */
    OUTCOME_FAILURE,             /* not delivered; see reason/transient */
} outcome_kind;

typedef struct backend_outcome {
    outcome_kind kind;
    int attempt;                 /* the attempt (backend_job.attempt) this is about; 0 = cannot tell.
                                    The job layer refuses outcomes of another attempt, and results
                                    naming another provider_sid than the attempt's: backends keep
                                    only their protocol's correlation, not their own dedupe. */
    const char *failure_reason;  /* busy, no_answer, rejected, line_error, provider_error,
                                    network_error, conversion_error, cancelled, ... */
    bool transient;              /* worth another attempt under the retry policy */
    const char *message;         /* human-readable detail (e.g. spandsp's completion text) */
    const char *provider_sid;
    int pages;                   /* pages transmitted; < 0 unknown */
    double duration_s;           /* < 0 unknown */
    int bit_rate;                /* < 0 unknown */
    int ecm;                     /* -1 unknown */
    const char *remote_station_id;
    const char *received_tiff;   /* loopback: the receiver's TIFF, to become an inbound fax */
} backend_outcome;

/* Outcomes with every unknown field at -1 (set the others after):
 *   backend_outcome o = outcome_failure(job->attempt, sid, "busy", true, "line busy"); */
backend_outcome outcome_accepted(int attempt, const char *provider_sid);
backend_outcome outcome_progress(int attempt, const char *provider_sid, int pages);
backend_outcome outcome_success(int attempt, const char *provider_sid, int pages);
backend_outcome outcome_failure(int attempt, const char *provider_sid, const char *reason, bool transient,
                                const char *message);

/* A fax that arrived through the backend (provider webhook, PBX hand-off). */
typedef struct inbound_delivery {
    const char *provider_sid;    /* unique per delivery within this backend: replays are dropped */
    const char *from_number;
    const char *to_number;
    const char *remote_station_id;
    const char *file_path;       /* a file the backend wrote or was handed */
    const char *file_type;       /* "pdf" or "tiff" */
    bool move;                   /* the gateway may move (not copy) file_path */
} inbound_delivery;

/* What the job layer did with a reported outcome. */
typedef enum {
    REPORT_APPLIED = 0,          /* recorded */
    REPORT_REFUSED,              /* stale, replayed or not allowed now (e.g. the job is already final) */
    REPORT_LATER,                /* the database is busy: kept and retried on the job layer's own thread */
} report_verdict;

typedef struct backend_sink {
    /* Thread-safe; may be called from any thread, during or after submit. Never
     * sleeps: a database hiccup is retried on the job layer's reporter thread. */
    report_verdict (*report)(void *ctx, const char *job_id, const backend_outcome *o);
    /* Stores an inbound fax; fills inbound_id (33 bytes). 0, or -1 with err. */
    int (*receive)(void *ctx, const inbound_delivery *d, char *inbound_id, char *err, size_t errlen);
    /* Read-only: the job's current status name ("queued", "SUCCESS", …) into status;
     * 0, or -1 if there is no such job. For hooks that must say why a result was not
     * applied. May be NULL (then callers say less). */
    int (*job_status)(void *ctx, const char *job_id, char *status, size_t statuslen);
    /* Several nodes sharing one store: takes or renews the named lease for ttl_ms
     * (one node at a time talks to a PBX connection). 1 this node holds it, 0 another
     * node does (its name in holder), -1 the store cannot say now. lease_release
     * gives it up. Thread-safe; may be NULL (then this node is the only one). */
    int (*lease)(void *ctx, const char *name, int ttl_ms, char *holder, size_t holderlen);
    void (*lease_release)(void *ctx, const char *name);
    void *ctx;
} backend_sink;

typedef struct backend_job {
    const char *job_id;
    const char *to;              /* E.164 */
    const char *tiff_path;       /* TIFF-F, checked (NULL if the backend does not need one) */
    const char *pdf_path;        /* normalized PDF */
    int pages;
    bool fine;
    const char *header_text;
    const char *caller_id;
    const char *station_id;
    int attempt;                 /* 1-based */
    const char *pdf_url;         /* PUBLIC_API_URL/fax/<id>/pdf?token=… for providers that fetch the PDF */
    const char *callback_url;    /* the client's own callback_url (not the provider's) */
    const char *provider_sid;    /* resume: what the backend reported when it accepted ("" if nothing) */
    long long submitted_at;      /* resume: ms when the submission started (0 = never) */
} backend_job;

/* A request to one of a backend's webhook routes, as the API layer received it. */
typedef struct webhook_request {
    const char *method;
    const char *path;            /* without the query */
    const char *query;           /* the raw query string ("" if none) */
    const char *public_url;      /* PUBLIC_API_URL + path + ("?" + query): the URL the provider called */
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *client_ip;
    const char *(*header)(const struct webhook_request *r, const char *name);   /* NULL if absent */
    const char *(*query_param)(const struct webhook_request *r, const char *name);
    void *ctx;                   /* for the two functions above */
} webhook_request;

typedef struct webhook_response {
    int status;                  /* 200 unless set */
    char content_type[64];       /* "application/json" unless set */
    char body[1024];             /* JSON, or the text the provider expects */
} webhook_response;

typedef struct backend backend;

typedef struct backend_webhook {
    const char *method;          /* "POST" */
    const char *path;            /* "/phaxio-callback" */
    size_t max_body;             /* larger bodies are refused with 413 before the handler runs */
    /* Verifies, parses and reports through the sink (outcomes, inbound faxes);
     * answers in res. Replays of the same event must be harmless. */
    void (*handle)(backend *b, const webhook_request *req, webhook_response *res);
    /* true: delivers received faxes. Such routes are also served by an inbound-only
     * instance while another backend sends (backend_ops.inbound_configured). */
    bool inbound;
} backend_webhook;

typedef struct backend_ops {
    const char *name;
    bool needs_tiff;             /* the worker makes a TIFF-F before submit */
    /* Returns a backend instance or NULL with err. */
    backend *(*create)(const struct config *cfg, backend_sink sink, char *err, size_t errlen);
    /* Sends one job. May block the calling worker thread until the outcome is known
     * (loopback) or return after OUTCOME_ACCEPTED (providers). Must report exactly
     * one terminal outcome (SUCCESS or FAILURE) per call, now or later.
     * Returns 0 if the attempt started, -1 if it could not (then a FAILURE was reported). */
    int (*submit)(backend *b, const backend_job *job);
    /* Readiness: 0 if usable, else -1 with a message that says what to fix. Cheap:
     * no network round trip (GET /health/ready calls it). */
    int (*check)(backend *b, char *msg, size_t msglen);
    void (*destroy)(backend *b);
    /* Optional: usable, but set up in a way the operator must hear about (e.g. webhook
     * signatures switched off). Returns 1 with the text in msg, else 0. Cheap. */
    int (*warning)(backend *b, char *msg, size_t msglen);

    /* ---- optional: backends whose results arrive later ---- */
    /* true: submit returns after OUTCOME_ACCEPTED and the result comes through a
     * webhook or an event; the job stays in_progress meanwhile. */
    bool async;
    /* For an in_progress job whose submission started (job->submitted_at > 0) but whose
     * result is unknown — after a restart, or when it is late: find out (poll the
     * provider, look the job up by its tag) and report an outcome (ACCEPTED = still
     * going, SUCCESS or FAILURE). Return -1 only when it is certain the fax never
     * reached the provider, so that sending again cannot make a second fax. */
    int (*resume)(backend *b, const backend_job *job);
    /* Optional (PBX backends, several nodes): true while another node holds the
     * lease of this backend's PBX connection. The node then sends nothing through
     * it and does not follow its calls: it neither claims due jobs nor takes over
     * expired attempts (the holder does both); it still accepts API requests and
     * hand-offs. Cheap. */
    bool (*standby)(backend *b);
    /* Deep diagnostics for POST /admin/diagnostics/run: real round trips allowed
     * (credentials accepted? API reachable?). Sets its findings as members of the
     * JSON object report (e.g. "credentials": "ok"); 0 if all good. */
    int (*diagnose)(backend *b, struct json_t *report);
    const backend_webhook *webhooks;
    int n_webhooks;
    /* PBX backends whose configuration the gateway renders (sip, freeswitch): writes
     * it into the PBX's configuration directory when one is set (ASTERISK_CONFIG_DIR,
     * FREESWITCH_CONFIG_DIR) so that a crash leaves the old set or the new one, never
     * a mix; reloads only what changed; sets what it did and the trunk's state in the
     * JSON object report. 0 done, 1 nothing to do (no directory), -1 failed. */
    int (*apply_pbx)(backend *b, struct json_t *report);
    /* Its rows of the settings table (config/settings.h), ended by SETTING_END;
     * registered at start by backend_register_settings. */
    const struct setting_def *settings;

    /* ---- optional: receiving while another backend sends ---- */
    /* true when this backend's own inbound settings are present in the environment
     * (e.g. ASTERISK_INBOUND_SECRET); why names them. The gateway then creates an
     * instance with create_inbound and serves its .inbound webhooks whatever
     * FAX_BACKEND is (INBOUND_ENABLED still gates what is stored). */
    bool (*inbound_configured)(char *why, size_t whylen);
    /* An instance that only serves inbound webhooks: no outbound connection, never submits. */
    backend *(*create_inbound)(const struct config *cfg, backend_sink sink, char *err, size_t errlen);
} backend_ops;

/* What submit returns besides 0 and -1: the backend has no capacity right now
 * (e.g. every trunk channel is busy); the job waits a moment without using up an attempt. */
#define BACKEND_BUSY 1

/* The registry: NULL for an unknown name. */
const backend_ops *backend_find(const char *name);
/* The dry run of a settings snapshot (backend_validate.c):
 * {backend, ok, checks, fields: {NAME: {ok, detail}}, test_fax: null}. */
struct json_t;
struct settings_snapshot;
struct json_t *backend_validate(const struct settings_snapshot *snap);
/* The registry in order, for those that mount every backend's routes. */
int backend_count(void);
const backend_ops *backend_at(int i);
/* Adds every backend's rows to the settings table (before settings are loaded). */
void backend_register_settings(void);
/* Comma-separated list of the registry's names, for error messages. */
const char *backend_names(void);
/* Why FAX_BACKEND=name gives no backend: a plugin that cannot send (disabled, a trunk
 * profile, not outbound) says so; anything else lists the choices. */
void backend_unknown(const char *name, char *out, size_t outlen);

/* ---- PBX configuration on apply (backend.c) ---- */
/* Writes a rendered set of PBX files into dir as one journaled set (util/fileset.h),
 * only the files that changed (changed[i]); adds "files_written" to report, or
 * "ok": false and "detail" when it could not. 0 or -1. */
int backend_pbx_write(const char *dir, const char *const *names, const char *const *texts, int n, bool *changed,
                      struct json_t *report);

/* Marks an apply report failed ("ok": false, "detail"); returns -1. */
int backend_pbx_fail(struct json_t *report, const char *detail);
/* ---- webhook replies (backend_common.c), the one way every backend answers ---- */
/* status and a JSON text as the body ({"detail":"error"} if it does not fit) */
void webhook_reply_text(webhook_response *res, int status, const char *json_text);
/* status and o as compact JSON; o is released */
void webhook_reply_json(webhook_response *res, int status, struct json_t *o);
/* status and {"<key>": "<text>"} */
void webhook_reply(webhook_response *res, int status, const char *key, const char *text);
/* status and {"detail": "<detail>"} */
void webhook_reply_detail(webhook_response *res, int status, const char *detail);

#endif
