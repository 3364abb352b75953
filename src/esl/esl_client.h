/* esl_client.h — an inbound-mode FreeSWITCH Event Socket client: one thread that
 * connects to host:port, answers auth/request with `auth <password>` and checks the
 * reply, subscribes to events (`event plain …`), hands every event to a callback,
 * matches command replies (command/reply, api/response) to the callers waiting for
 * them in order, and reconnects with backoff (250 ms doubling to 10 s) after any
 * failure. Callers never block startup: esl_client_start returns at once. */
#ifndef FAXBOT_ESL_CLIENT_H
#define FAXBOT_ESL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "esl/esl_parse.h"

typedef enum {
    ESL_DISCONNECTED = 0,   /* not connected (yet, or lost): reconnecting */
    ESL_CONNECTED,          /* authenticated and subscribed */
    ESL_AUTH_FAILED,        /* FreeSWITCH refused the password (retrying slowly) */
    ESL_REFUSED,            /* text/rude-rejection: the event-socket ACL refused us */
} esl_state;

typedef struct esl_client_opts {
    const char *host;
    int port;
    const char *password;       /* must not contain CR or LF */
    const char *events;         /* e.g. "BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE CUSTOM spandsp::txfaxresult" */
    /* On the client thread, for every text/event-plain message (values decoded).
     * Must not call esl_client_command (it would wait for itself). */
    void (*on_event)(void *ud, const esl_msg *event);
    /* On the client thread after each state change. `generation` counts successful
     * logins: a new value means events may have been missed in between. */
    void (*on_state)(void *ud, esl_state st, unsigned generation, const char *detail);
    void *ud;
    int connect_timeout_ms;     /* default 3000 */
    int backoff_max_ms;         /* default 10000 */
    bool start_held;            /* start off the socket (esl_client_hold(c, true, held_why)) */
    const char *held_why;
} esl_client_opts;

typedef struct esl_client esl_client;

/* Starts the client thread (copies the options). NULL with err on bad options. */
esl_client *esl_client_start(const esl_client_opts *o, char *err, size_t errlen);
/* hold: leaves the event socket (if connected) and stays off it, the state
 * ESL_DISCONNECTED with why as its detail, until called with hold false. Several
 * nodes: only the node holding the connection's lease is on it. */
void esl_client_hold(esl_client *c, bool hold, const char *why);
/* Stops the thread, fails waiting commands, frees everything. */
void esl_client_stop(esl_client *c);

/* The current state and a sentence describing it (never contains the password). */
esl_state esl_client_state(esl_client *c, char *detail, size_t len, unsigned *generation);

/* Sends one command line (no CR/LF allowed; extra_header optional, e.g.
 * "Job-UUID: …") and waits up to timeout_ms for its reply. On 0, *reply is a heap
 * string: the Reply-Text of a command/reply, or the body of an api/response.
 * Returns -1 with err when not connected, on timeout or when the connection
 * dropped; *sent then says whether the command had been written to the socket. */
int esl_client_command(esl_client *c, const char *cmd, const char *extra_header, int timeout_ms, char **reply,
                       bool *sent, char *err, size_t errlen);

#endif
