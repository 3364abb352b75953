/* ami_client.h — a connection to the Asterisk Manager Interface kept alive by one
 * thread: TCP connect, the banner, Login (its answer is read and checked: a wrong
 * secret is AMI_LOGIN_REJECTED with Asterisk's message, never "connected"), all
 * events on, a keepalive Ping, and reconnection with backoff (1 s doubling to 30 s).
 * Actions can be sent from any thread; each gets an ActionID and its response (and,
 * for list actions, the events of the list up to "EventList: Complete") is matched
 * to it. Events and connection changes are delivered on the client's thread, in
 * wire order. */
#ifndef FAXBOT_AMI_CLIENT_H
#define FAXBOT_AMI_CLIENT_H

#include "ami/ami_parse.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    AMI_CONNECTING = 0,          /* not yet connected since start */
    AMI_UP,                      /* logged in, events flowing */
    AMI_DOWN,                    /* connection lost or refused; reconnecting */
    AMI_LOGIN_REJECTED,          /* Asterisk answered Login with an error; retrying slowly */
} ami_state;

typedef struct ami_client ami_client;

typedef struct ami_client_opts {
    const char *host;
    int port;
    const char *username;
    const char *secret;
    int ping_interval_ms;        /* keepalive when idle (default 15000) */
    int connect_timeout_ms;      /* TCP connect + banner + login (default 5000) */
    int max_backoff_ms;          /* default 30000 */
    /* On the client thread. on_state runs before the first event of a new session. */
    void (*on_event)(void *user, const ami_message *m);
    void (*on_state)(void *user, ami_state st, const char *detail);
    void *user;
    bool start_held;             /* start off the line (ami_client_hold(c, true, held_why)) */
    const char *held_why;
} ami_client_opts;

/* Starts the thread (returns at once; connecting happens in the background). */
ami_client *ami_client_start(const ami_client_opts *o, char *err, size_t errlen);
/* hold: logs off (if logged in) and stays off the line, the state AMI_DOWN with
 * why as its detail, until called again with hold false (then it connects at once).
 * Several nodes: only the node holding the connection's lease is on the line. */
void ami_client_hold(ami_client *c, bool hold, const char *why);
/* Sends Logoff if connected, stops the thread, frees. */
void ami_client_stop(ami_client *c);

/* The state and a sentence about it ("logged in as faxbot", "connection refused",
 * "Authentication failed"). */
ami_state ami_client_state(ami_client *c, char *detail, size_t len);
/* Sessions established since start (grows by one per successful login). */
unsigned ami_client_session(ami_client *c);

/* A copy of a message that outlives the parser's callback. */
ami_message *ami_message_dup(const ami_message *m);
void ami_message_free(ami_message *m);

typedef struct ami_reply {
    ami_message *response;       /* Response: Success / Error / Follows ... */
    ami_message **events;        /* list actions: the events with our ActionID */
    size_t n_events;
} ami_reply;
void ami_reply_free(ami_reply *r);

/* Runs on the client thread the moment the response arrives, before any later
 * message is handled (so e.g. "Originate queued" is recorded before the call's
 * events). action_id is the one the action was sent with. */
typedef void (*ami_response_hook)(void *user, const char *action_id, const ami_message *response);

#define AMI_ERR_NOT_SENT -1      /* not connected or the write failed: Asterisk never saw it */
#define AMI_ERR_LOST -2          /* sent, but the connection dropped before the response */
#define AMI_ERR_TIMEOUT -3       /* sent, no response in time */

/* Sends "Action: <action>" with params (each "Key: Value"; values must not hold CR
 * or LF — such an action is refused with AMI_ERR_NOT_SENT) and ActionID action_id
 * (or a fresh one if NULL). Waits up to timeout_ms for the response (and a list's
 * events). 0 with *out filled (out may be NULL), or one of AMI_ERR_*. */
int ami_client_action(ami_client *c, const char *action, const ami_field *params, size_t n_params,
                      const char *action_id, ami_response_hook hook, void *hook_user, int timeout_ms,
                      ami_reply *out, char *err, size_t errlen);

/* true if the response says Success (or Follows/Goodbye). */
bool ami_response_ok(const ami_message *response);

#endif
