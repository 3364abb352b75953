/* ami_trunk.h — the Asterisk side of FAX_BACKEND=sip: settings (Faxbot's variable
 * names plus SIP_TRUNK_PRESET), the trunk presets of docs/internals/protocols.md §9 (number format,
 * auth style, T.38 stance: sip-trunk plugins), how a number is dialled on the trunk, and the rendering
 * of the Asterisk configuration files (`faxbot asterisk-config`). Shared by the
 * backend (backend_asterisk.c) and the CLI (cli/asterisk_config.c).
 *
 * Settings (environment):
 *   ASTERISK_AMI_HOST (127.0.0.1) ASTERISK_AMI_PORT (5038) ASTERISK_AMI_USERNAME (faxbot)
 *   ASTERISK_AMI_PASSWORD (required) ASTERISK_AMI_BIND (127.0.0.1: manager.conf bindaddr)
 *   ASTERISK_AMI_PERMIT (127.0.0.1/255.255.255.255: where the gateway connects from, for
 *                        manager.conf permit; comma separated)
 *   ASTERISK_INBOUND_SECRET  X-Internal-Secret of POST /_internal/asterisk/inbound
 *   ASTERISK_SPOOL_DIR (/var/spool/asterisk/fax) where ReceiveFAX writes, shared with us
 *   ASTERISK_MAX_CHANNELS (4) concurrent fax calls on the trunk
 *   ASTERISK_RING_TIMEOUT (60) seconds an outgoing call may ring (Originate Timeout)
 *   ASTERISK_GATEWAY_URL     how Asterisk reaches this gateway (default PUBLIC_API_URL,
 *                            else http://127.0.0.1:<listen port>)
 *   SIP_TRUNK_PRESET (generic) a sip-trunk plugin's short name or id: generic, twilio, telnyx,
 *                    bandwidth, flowroute, voxbone, signalwire (bundled) or an installed one
 *   SIP_SERVER (host or host:port) SIP_PORT (5060) SIP_USERNAME SIP_PASSWORD SIP_FROM_USER SIP_FROM_DOMAIN
 *   SIP_CALLER_ID_NAME (display name of the caller ID; twilio preset default "Asterisk PBX")
 *   SIP_TECH_PREFIX (Flowroute IP auth) SIP_IDENTIFY_MATCH (extra source IPs/CIDRs of the
 *   trunk, comma separated) SIP_BIND (0.0.0.0:5060)
 *   SIP_TRANSPORT (udp|tcp|tls; tls needs SIP_TLS_CERT_FILE and SIP_TLS_KEY_FILE, optional
 *   SIP_TLS_CA_FILE) SIP_EXTERNAL_MEDIA_ADDRESS SIP_EXTERNAL_SIGNALING_ADDRESS SIP_LOCAL_NET
 *   UDPTL_PORT_START/END (4000-4999) RTP_PORT_START/END (10000-20000)
 *   ASTERISK_CONFIG_DIR (where a settings change writes these files; unset = not written)
 *   FAX_LOCAL_STATION_ID FAX_HEADER (from the shared config) */
#ifndef FAXBOT_AMI_TRUNK_H
#define FAXBOT_AMI_TRUNK_H

#include <stdbool.h>
#include <stddef.h>

struct config;

#define AMI_TRUNK_ENDPOINT "faxbot-trunk"
#define AMI_OUT_CONTEXT "faxout"
#define AMI_OUT_EXTEN "send"
#define AMI_RESULT_CONTEXT "faxbot-result"
#define AMI_IN_CONTEXT "fax-inbound"
#define AMI_RESULT_EVENT "FaxResult"

/* A trunk preset is a sip-trunk plugin's profile (plugins/sip_trunk.h): the presets
 * that were compiled in here now ship as bundled plugins (plugins/bundled/faxbot-sip-*). */
#include "plugins/sip_trunk.h"
typedef sip_trunk_profile ami_preset;

typedef struct ami_trunk {
    const ami_preset *preset;
    /* AMI */
    char ami_host[256];
    int ami_port;
    char ami_user[64];
    char ami_password[128];
    char ami_bind[64];
    char ami_permit[256];
    /* gateway */
    char inbound_secret[128];
    char spool_dir[1024];
    int max_channels;
    int ring_timeout_s;
    char gateway_url[512];
    char station_id[24];
    char header[64];
    /* trunk */
    char server[256];
    int port;
    char username[128];
    char password[128];
    char from_user[64];
    char caller_id_name[64];     /* SIP_CALLER_ID_NAME (twilio: "Asterisk PBX" unless set) */
    char from_domain[256];
    char tech_prefix[16];
    char identify_match[512];
    char sip_bind[64];
    /* network (the SIP guide's NAT and port settings) */
    char transport[8];           /* SIP_TRANSPORT: udp, tcp or tls */
    char external_media[64];     /* SIP_EXTERNAL_MEDIA_ADDRESS */
    char external_signaling[64]; /* SIP_EXTERNAL_SIGNALING_ADDRESS */
    char local_net[256];         /* SIP_LOCAL_NET: comma-separated CIDRs */
    char tls_cert[512], tls_key[512], tls_ca[512];
    int udptl_start, udptl_end, rtp_start, rtp_end;
    char config_dir[1024];       /* ASTERISK_CONFIG_DIR: where apply writes ("" = not written) */
} ami_trunk;

/* The sip backend's rows of the settings table. */
#include "config/settings.h"
extern const setting_def ami_trunk_settings[];

const ami_preset *ami_preset_find(const char *name);
/* SIP_SERVER as Faxbot's template wrote it: "host" or "host:port". Fills host and
 * *port (0 when no port is given); -1 if the port part is not 1..65535. */
int ami_sip_server_split(const char *in, char *host, size_t hostlen, int *port);
/* The caller ID display name: SIP_CALLER_ID_NAME, or the preset's caller_id.default_name
 * (twilio: "Asterisk PBX", the form Twilio's Asterisk note shows); "" for none. */
const char *ami_caller_id_name(const ami_preset *p, const char *configured);
/* "generic, twilio, telnyx, …": the enabled sip-trunk plugins' short names */
const char *ami_preset_names(void);

/* Reads the settings from the environment (cfg gives station id, header, listen
 * port and PUBLIC_API_URL). for_render adds what the config files need (trunk
 * server, credentials per the preset's auth style, inbound secret). 0, or -1 with a
 * message naming the variable. */
int ami_trunk_load(ami_trunk *t, const struct config *cfg, bool for_render, char *err, size_t errlen);
/* Only what the inbound hand-off needs (ASTERISK_INBOUND_SECRET, ASTERISK_SPOOL_DIR, …):
 * for receiving on Asterisk while another backend sends. */
int ami_trunk_load_inbound(ami_trunk *t, const struct config *cfg, char *err, size_t errlen);

/* The dial string user part for an E.164 number ("+<6..20 digits>") on this trunk:
 * "+15551234567", "15551234567" or "<prefix>*15551234567". -1 if the number is not E.164. */
int ami_trunk_dial(const ami_trunk *t, const char *e164, char *out, size_t outlen);

/* The SendFAX options of the preset ("fz", "f", "F"). */
const char *ami_trunk_sendfax_options(const ami_trunk *t);

typedef struct ami_rendered {
    const char *name;            /* "pjsip.conf", ... */
    char *text;                  /* malloc'd */
    bool secret;                 /* holds a password or secret */
} ami_rendered;

#define AMI_RENDER_FILES 7
/* Renders pjsip.conf, extensions.conf, manager.conf, udptl.conf, res_fax.conf,
 * modules.conf and rtp.conf into files[AMI_RENDER_FILES]. 0, or -1 with err
 * (nothing allocated). */
int ami_render(const ami_trunk *t, ami_rendered files[AMI_RENDER_FILES], char *err, size_t errlen);
void ami_render_free(ami_rendered files[AMI_RENDER_FILES]);

#endif
