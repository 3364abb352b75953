/* sip_trunk.h — the `sip-trunk` plugin kind: a SIP trunk profile read from a
 * manifest's "sip_trunk" section. The Asterisk renderer (ami/ami_trunk.c), the
 * FreeSWITCH renderer (esl/esl_render.c) and the sip backend's diagnostics read these
 * profiles; SIP_TRUNK_PRESET names one by its short name ("twilio") or id
 * ("faxbot-sip-twilio"). The section (docs/plugins.md):
 *   title, notes                      text (notes go into pjsip.conf as a comment)
 *   auth {registration, ip_auth, digest}  whether we REGISTER when credentials are given,
 *                                     and which auth styles the provider accepts
 *   termination {default_host, host_rule {contains, suffix, message}}
 *   numbers {format "e164", plus, tech_prefix {digits, separator}}
 *   caller_id {require_e164, message, default_name, send_pai}
 *   codecs ["ulaw","alaw"]
 *   t38 {enabled, reinvite, error_correction "redundancy"|"fec"|"none", max_datagram,
 *        audio_fallback, ecm}
 *   transports ["udp","tcp","tls"]
 *   nat {rtp_symmetric, force_rport, rewrite_contact}
 *   sip_errors [{code, meaning}]       what the provider's documents say a SIP code means */
#ifndef FAXBOT_SIP_TRUNK_H
#define FAXBOT_SIP_TRUNK_H

#include <stdbool.h>
#include <stddef.h>

struct json_t;
struct plugin;

#define SIP_TRANSPORT_UDP (1u << 0)
#define SIP_TRANSPORT_TCP (1u << 1)
#define SIP_TRANSPORT_TLS (1u << 2)

typedef struct sip_trunk_error {
    int code;
    const char *meaning;
} sip_trunk_error;

/* Strings are borrowed from the plugin's manifest. */
typedef struct sip_trunk_profile {
    const char *name;            /* the short name (SIP_TRUNK_PRESET) */
    const char *id;              /* the plugin id */
    const char *title;
    const char *notes;
    const char *default_server;  /* "" = SIP_SERVER must be given */
    bool registers;              /* REGISTER to the trunk when credentials are given */
    bool ip_auth, digest;        /* the auth styles the provider accepts */
    bool plus;                   /* dial "+<E.164>" (else the digits only) */
    bool tech_prefix;            /* "<prefix><separator><number>" under IP auth */
    int tech_prefix_digits;      /* the prefix's length (0 = any) */
    char tech_prefix_sep[4];
    const char *host_contains;   /* termination host rule ("" = none) */
    const char *host_suffix;
    const char *host_message;    /* why, when SIP_SERVER breaks the rule */
    bool caller_id_e164;         /* SIP_FROM_USER must be an E.164 number */
    const char *caller_id_message;
    const char *caller_id_default_name; /* SIP_CALLER_ID_NAME when unset ("" = none) */
    bool send_pai;               /* P-Asserted-Identity with the caller ID */
    char codecs[64];             /* "ulaw,alaw" */
    bool t38;                    /* t38_udptl on the endpoint */
    bool t38_reinvite;           /* we re-INVITE to T.38 if the far end does not */
    const char *t38_ec;          /* "redundancy", "fec", "none" */
    int t38_max_datagram;
    bool audio_fallback;         /* G.711 when T.38 is not negotiated */
    bool ecm;
    unsigned transports;         /* SIP_TRANSPORT_* */
    bool rtp_symmetric, force_rport, rewrite_contact;
    sip_trunk_error *errors;
    int n_errors;
} sip_trunk_profile;

/* Checks manifest["sip_trunk"]; 0, or -1 with err naming the field ("sip_trunk.t38.max_datagram: …"). */
int sip_trunk_validate(const struct json_t *manifest, char *err, size_t errlen);
/* Parses a validated section into a new profile (strings borrowed from manifest); NULL on OOM. */
sip_trunk_profile *sip_trunk_parse(const struct json_t *manifest, const char *id, const char *short_name);
void sip_trunk_free(sip_trunk_profile *t);

/* The enabled sip-trunk plugin with this short name or id (case-insensitive), or NULL. */
const sip_trunk_profile *sip_trunk_find(const char *name);
/* The same, or NULL with a message naming SIP_TRUNK_PRESET: unknown (with the names to
 * choose from), disabled, or a plugin of another kind. */
const sip_trunk_profile *sip_trunk_lookup(const char *name, char *err, size_t errlen);
/* "generic, twilio, telnyx, …": the short names of the loaded sip-trunk plugins. */
void sip_trunk_names(char *out, size_t outlen);
/* What the provider documents for a SIP response code, or NULL. */
const char *sip_trunk_error_meaning(const sip_trunk_profile *t, int code);
/* "udp", "tcp", "tls" is one of the profile's transports */
bool sip_trunk_has_transport(const sip_trunk_profile *t, const char *transport);

#endif
