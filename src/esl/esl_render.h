/* esl_render.h — FreeSWITCH's configuration for FAX_BACKEND=freeswitch, rendered
 * from the gateway's settings (one reader: esl_settings.c): the sofia gateway, the
 * outbound and inbound dialplan extensions with their result hooks, the event-socket
 * settings and its ACL list. Values are XML-escaped; the secret and hook URL are
 * checked shell-safe. Used by `faxbot freeswitch-config` and by a settings apply
 * (FREESWITCH_CONFIG_DIR). */
#ifndef FAXBOT_ESL_RENDER_H
#define FAXBOT_ESL_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#define FS_RENDER_FILES 5
#define FS_GATEWAY_FILE 0          /* files[0]: the sofia gateway (a change needs a profile rescan) */
#define FS_EVENT_SOCKET_FILE 3     /* files[3]: mod_event_socket's settings */

typedef struct fs_rendered {
    const char *name;            /* relative path: "sip_profiles/external/faxbot_gateway.xml", ... */
    char *text;                  /* malloc'd; every file may hold secrets (mode 0600) */
} fs_rendered;

/* Renders every file from the current settings; the gateway's name into gateway and
 * whether result hooks were rendered (a secret is set) into *hooks. 0, or -1 with a
 * message naming the setting (nothing allocated). */
int fs_render(fs_rendered files[FS_RENDER_FILES], char *gateway, size_t gwlen, bool *hooks, char *err, size_t errlen);
void fs_render_free(fs_rendered files[FS_RENDER_FILES]);

#endif
