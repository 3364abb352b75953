/* faxbot_plugin.h — the C ABI of Faxbot-in-C `native` plugins (docs/plugins-native.md).
 *
 * A native plugin is a shared object in its plugin folder ($FAX_DATA_DIR/plugins/<id>/),
 * named by the manifest's "native": {"library": "<file>.so", "abi_version": N}. When
 * FAX_BACKEND names the plugin, the gateway dlopen()s the library, calls its
 * faxbot_plugin_entry() and refuses it — with a message naming both versions — unless
 * the returned table's abi_version equals FAXBOT_PLUGIN_ABI_VERSION of the gateway.
 * The plugin then sends faxes through the table's operations and tells the gateway
 * what happened through the host's callbacks (the sink).
 *
 * Rules: a plugin never includes the gateway's own headers, only this one. Strings
 * given to the plugin are valid for the duration of the call. The callbacks are
 * thread-safe and never block on the network. Version 1 is the first; a change
 * that moves or changes any member below raises FAXBOT_PLUGIN_ABI_VERSION. */
#ifndef FAXBOT_PLUGIN_ABI_H
#define FAXBOT_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef FAXBOT_PLUGIN_ABI_VERSION
#define FAXBOT_PLUGIN_ABI_VERSION 1
#endif

/* The symbol the gateway looks up. */
#define FAXBOT_PLUGIN_ENTRY_SYMBOL "faxbot_plugin_entry"

/* What happened to a fax (one attempt of a job). */
typedef enum {
    FAXBOT_OUTCOME_ACCEPTED = 1,   /* handed over; the result comes later */
    FAXBOT_OUTCOME_PROGRESS = 2,   /* e.g. pages went out */
    FAXBOT_OUTCOME_SUCCESS = 3,    /* delivered */
    FAXBOT_OUTCOME_FAILURE = 4,    /* not delivered: failure_reason, transient */
} faxbot_outcome_kind;

typedef struct faxbot_outcome {
    faxbot_outcome_kind kind;
    int attempt;                   /* the job's attempt this is about (faxbot_job.attempt) */
    const char *provider_sid;      /* the plugin's own id of the fax, or NULL */
    const char *failure_reason;    /* busy, no_answer, congestion, invalid_number, rejected, line_error,
                                      network_error, provider_error, conversion_error, file_error, cancelled */
    int transient;                 /* 1: another attempt may succeed (the retry policy decides) */
    const char *message;           /* human-readable detail, or NULL */
    int pages;                     /* pages sent; -1 unknown */
} faxbot_outcome;

/* A fax the plugin received, handed to the gateway's inbox. */
typedef struct faxbot_inbound {
    const char *provider_sid;      /* unique per delivery: a replay is stored once */
    const char *from_number;
    const char *to_number;
    const char *file_path;         /* a PDF or TIFF file the plugin wrote (the gateway copies it) */
    const char *file_type;         /* "pdf" or "tiff" */
} faxbot_inbound;

/* One attempt of a job to send. */
typedef struct faxbot_job {
    const char *job_id;            /* 32 hex characters */
    const char *to;                /* E.164 */
    const char *pdf_path;          /* the normalized PDF */
    const char *tiff_path;         /* TIFF-F when the plugin asked for one (needs_tiff), else NULL */
    const char *header_text;
    const char *caller_id;
    const char *station_id;
    const char *pdf_url;           /* tokenized public URL of the PDF ("" without PUBLIC_API_URL) */
    int pages;
    int fine;                      /* 1 = fine resolution */
    int attempt;                   /* 1-based */
} faxbot_job;

/* What the gateway gives a plugin instance: its settings and the sink. */
typedef struct faxbot_host {
    uint32_t abi_version;          /* FAXBOT_PLUGIN_ABI_VERSION of the gateway */
    uint32_t size;                 /* sizeof(faxbot_host) of the gateway */
    void *ctx;                     /* pass back to the callbacks */
    const char *plugin_id;
    const char *plugin_dir;        /* the plugin's folder */
    const char *data_dir;          /* FAX_DATA_DIR */
    /* The value of one of the plugin's config_schema fields ("" when unset). */
    const char *(*config)(void *ctx, const char *key);
    /* level: 0 debug, 1 info, 2 warning, 3 error */
    void (*log)(void *ctx, int level, const char *message);
    /* Reports an outcome of job_id; exactly one SUCCESS or FAILURE per submit, now or
     * later. 0 recorded, 1 refused (stale, replayed, already final), 2 kept for later. */
    int (*report)(void *ctx, const char *job_id, const faxbot_outcome *outcome);
    /* Stores a received fax; fills inbound_id (33 bytes). 0, or -1 with err. */
    int (*receive)(void *ctx, const faxbot_inbound *fax, char *inbound_id, char *err, size_t errlen);
} faxbot_host;

/* The plugin's table. */
typedef struct faxbot_plugin {
    uint32_t abi_version;          /* FAXBOT_PLUGIN_ABI_VERSION the plugin was built with */
    const char *id;                /* must equal the manifest's id */
    int needs_tiff;                /* 1: the gateway makes a TIFF-F before submit */
    int async;                     /* 1: submit returns after ACCEPTED, the result comes later */
    /* An instance; NULL with err (e.g. a setting is missing). */
    void *(*create)(const faxbot_host *host, char *err, size_t errlen);
    /* Sends one attempt. 0 started (an outcome was or will be reported), -1 could not
     * (a FAILURE was reported). */
    int (*submit)(void *instance, const faxbot_job *job);
    /* Readiness, cheap: 0 usable, -1 with msg saying what to fix. May be NULL. */
    int (*check)(void *instance, char *msg, size_t msglen);
    void (*destroy)(void *instance);
} faxbot_plugin;

typedef const faxbot_plugin *(*faxbot_plugin_entry_fn)(void);

/* Every native plugin defines this function. */
const faxbot_plugin *faxbot_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif
