/* esl_settings.h — the FreeSWITCH settings, read once for both users: the
 * freeswitch backend (ESL connection, originate options) and the renderer of
 * FreeSWITCH's XML (`faxbot freeswitch-config`, apply). One reader means one rule
 * for what a valid value is (FREESWITCH_SPOOL_DIR: an absolute path of safe
 * characters, for both). The rows are the freeswitch backend's. */
#ifndef FAXBOT_ESL_SETTINGS_H
#define FAXBOT_ESL_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct esl_settings {
    char host[256];              /* FREESWITCH_ESL_HOST */
    long port;                   /* FREESWITCH_ESL_PORT */
    char password[256];          /* FREESWITCH_ESL_PASSWORD */
    char gateway[80];            /* FREESWITCH_GATEWAY_NAME */
    char caller_id[32];          /* FREESWITCH_CALLER_ID_NUMBER */
    bool t38, ecm;
    long originate_timeout, max_channels;
    char spool_dir[1024];        /* FREESWITCH_SPOOL_DIR */
    char secret_fs[256];         /* FREESWITCH_INBOUND_SECRET */
    char secret_ast[256];        /* ASTERISK_INBOUND_SECRET (Faxbot's shared secret) */
    char listen_ip[64];          /* FREESWITCH_ESL_LISTEN_IP (rendered event_socket.conf) */
    char acl[64];                /* FREESWITCH_ESL_ACL */
    char hook_url[512];          /* FREESWITCH_HOOK_URL, default PUBLIC_API_URL */
    char inbound_number[32];     /* FREESWITCH_INBOUND_NUMBER */
    char config_dir[1024];       /* FREESWITCH_CONFIG_DIR: where apply writes the XML ("" = not written) */
} esl_settings;

#include "config/settings.h"
extern const setting_def esl_settings_rows[];

/* Reads and checks every FreeSWITCH setting; public_api_url is the hook URL's
 * default. 0, or -1 with a message naming the setting. */
int esl_settings_load(esl_settings *s, const char *public_api_url, char *err, size_t errlen);
/* The exact curl commands FreeSWITCH runs as api_hangup_hook (outbound results and
 * received faxes); the renderer writes them into the XML, the admin API shows them
 * (with the secret masked unless asked for). */
struct strbuf;
void esl_hook_outbound(struct strbuf *sb, const char *hook_url, const char *secret);
/* For the dialplan's `set` (FreeSWITCH variables escaped so they expand at hangup). */
void esl_hook_inbound(struct strbuf *sb, const char *hook_url, const char *spool_dir, const char *secret);

/* The hook secret in effect: FREESWITCH_INBOUND_SECRET, else ASTERISK_INBOUND_SECRET. */
const char *esl_settings_secret(const esl_settings *s);

#endif
