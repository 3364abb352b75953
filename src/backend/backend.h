/* backend.h — how a fax leaves the gateway. Each backend (loopback, phaxio, sip, …)
 * is one file implementing backend_ops; the job layer never knows which one runs.
 * Backends never touch jobs or the store: they report what happened through the
 * sink the job layer gives them at start, and the job layer applies it. */
#ifndef FAXBOT_BACKEND_H
#define FAXBOT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

struct config;

typedef enum {
    OUTCOME_ACCEPTED = 1,        /* handed over; provider_sid may be set; result comes later */
    OUTCOME_PROGRESS,            /* e.g. a page went out */
    OUTCOME_SUCCESS,             /* delivered */
    OUTCOME_FAILURE,             /* not delivered; see reason/transient */
} outcome_kind;

typedef struct backend_outcome {
    outcome_kind kind;
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

typedef struct backend_sink {
    /* Thread-safe; may be called from any thread, during or after submit. */
    void (*report)(void *ctx, const char *job_id, const backend_outcome *o);
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
} backend_job;

typedef struct backend backend;

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
    /* Readiness: 0 if usable, else -1 with a message that says what to fix. */
    int (*check)(backend *b, char *msg, size_t msglen);
    void (*destroy)(backend *b);
} backend_ops;

/* The registry: NULL for an unknown name. */
const backend_ops *backend_find(const char *name);
/* Comma-separated list of known names, for error messages. */
const char *backend_names(void);

#endif
