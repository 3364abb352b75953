/* ami_trunk.c — see ami_trunk.h. The presets are sip-trunk plugins (plugins/bundled/faxbot-sip-*,
 * carrying what docs/internals/protocols.md §9 says about each provider and marking what is
 * unverified); every rendered value comes from the
 * settings, each checked for characters that would break the Asterisk config
 * syntax (';' starts a comment, ',' splits application arguments, newlines end
 * options), so nothing unfilled or injected can reach a file. */
#include "ami/ami_trunk.h"

#include "config/config.h"
#include "util/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>


/* The sip backend's rows of the settings table (the trunk and network rows are
 * the core's, shared with FreeSWITCH). */
const setting_def ami_trunk_settings[] = {
    SETTING_ROW_STR("sip", "ASTERISK_AMI_HOST", "127.0.0.1", "AMI connection", "Asterisk host"),
    SETTING_ROW_INT("sip", "ASTERISK_AMI_PORT", "5038", 1, 65535, "AMI connection, manager.conf", "AMI port"),
    SETTING_ROW_STR("sip", "ASTERISK_AMI_USERNAME", "faxbot", "AMI login, manager.conf", "AMI user"),
    SETTING_ROW_SECRET("sip", "ASTERISK_AMI_PASSWORD", "AMI login, manager.conf", "AMI secret"),
    SETTING_ROW_STR("sip", "ASTERISK_AMI_BIND", "127.0.0.1", "manager.conf bindaddr", "address AMI listens on"),
    SETTING_ROW_STR("sip", "ASTERISK_AMI_PERMIT", "127.0.0.1/255.255.255.255", "manager.conf permit", "where the gateway connects from"),
    SETTING_ROW_INT("sip", "ASTERISK_AMI_PING_MS", "", 0, 600000, "AMI keepalive", "ms between pings (default the client's)"),
    SETTING_ROW_SECRET("sip", "ASTERISK_INBOUND_SECRET", "X-Internal-Secret, extensions.conf", "secret of /_internal/asterisk/inbound"),
    SETTING_ROW_STR("sip", "ASTERISK_SPOOL_DIR", "/var/spool/asterisk/fax", "extensions.conf, inbound hand-off", "shared spool"),
    SETTING_ROW_INT("sip", "ASTERISK_MAX_CHANNELS", "4", 1, 256, "backend capacity", "concurrent fax calls"),
    SETTING_ROW_INT("sip", "ASTERISK_RING_TIMEOUT", "60", 5, 600, "Originate Timeout", "seconds"),
    SETTING_ROW_STR("sip", "ASTERISK_GATEWAY_URL", "", "extensions.conf CURL", "default PUBLIC_API_URL"),
    SETTING_ROW_STR("sip", "SIP_TRUNK_PRESET", "generic", "pjsip.conf", "trunk preset: a sip-trunk plugin's short name or id (faxbot plugins list)"),
    SETTING_ROW_STR("sip", "SIP_TECH_PREFIX", "", "dial string", "Flowroute tech prefix"),
    SETTING_ROW_STR("sip", "SIP_IDENTIFY_MATCH", "", "pjsip.conf identify", "extra trunk source IPs"),
    SETTING_ROW_STR("sip", "ASTERISK_CONFIG_DIR", "", "apply", "where apply writes Asterisk's files (unset: not written)"),
    SETTING_END,
};

const ami_preset *ami_preset_find(const char *name)
{
    return sip_trunk_find(name);
}

int ami_sip_server_split(const char *in, char *host, size_t hostlen, int *port)
{
    *port = 0;
    const char *colon = strrchr(in, ':');
    if (!colon || strchr(in, ':') != colon) return str_copy(host, hostlen, in) ? -1 : 0;
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 1 || p > 65535) return -1;
    if ((size_t)(colon - in) >= hostlen) return -1;
    memcpy(host, in, (size_t)(colon - in));
    host[colon - in] = 0;
    *port = (int)p;
    return 0;
}

const char *ami_caller_id_name(const ami_preset *p, const char *configured)
{
    if (configured && *configured) return configured;
    return p ? p->caller_id_default_name : "";
}

const char *ami_preset_names(void)
{
    static __thread char names[1024];
    sip_trunk_names(names, sizeof names);
    return names;
}

/* ---- value checks ---- */

static bool chars_ok(const char *s, const char *extra)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!isalnum(*p) && !strchr(extra, *p)) return false;
    return true;
}

static int want(const char *name, const char *value, const char *extra, const char *what, char *err, size_t errlen)
{
    if (!*value || chars_ok(value, extra)) return 0;
    str_fmt(err, errlen, "%s may only contain %s", name, what);
    return -1;
}

/* Passwords: printable ASCII without space, ';' (a comment in Asterisk configs) or '\'. */
static int want_secret(const char *name, const char *value, char *err, size_t errlen)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == ';' || *p == '\\') {
            str_fmt(err, errlen, "%s may only contain printable ASCII characters without spaces, ';' or '\\'", name);
            return -1;
        }
    }
    return 0;
}

/* A number setting into an int field (the rows' ranges fit an int). */
static int int_setting(const char *name, int *out, char *err, size_t errlen)
{
    long v;
    if (setting_int(name, &v, err, errlen)) return -1;
    *out = (int)v;
    return 0;
}

static bool is_e164(const char *s)
{
    if (!s || s[0] != '+') return false;
    size_t n = strlen(s + 1);
    return n >= 6 && n <= 20 && strspn(s + 1, "0123456789") == n;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

#define HOST_CHARS ".-"
#define HOST_WHAT "letters, digits, '.' and '-' (a host name or IPv4 address)"

static int load_ami(ami_trunk *t, char *err, size_t errlen)
{
    if (setting_str("ASTERISK_AMI_HOST", t->ami_host, sizeof t->ami_host, err, errlen) ||
        want("ASTERISK_AMI_HOST", t->ami_host, HOST_CHARS ":", HOST_WHAT, err, errlen))
        return -1;
    if (int_setting("ASTERISK_AMI_PORT", &t->ami_port, err, errlen)) return -1;
    if (setting_str("ASTERISK_AMI_USERNAME", t->ami_user, sizeof t->ami_user, err, errlen) ||
        want("ASTERISK_AMI_USERNAME", t->ami_user, "._-", "letters, digits, '.', '_' and '-'", err, errlen))
        return -1;
    if (setting_str("ASTERISK_AMI_PASSWORD", t->ami_password, sizeof t->ami_password, err, errlen) ||
        want_secret("ASTERISK_AMI_PASSWORD", t->ami_password, err, errlen))
        return -1;
    if (!t->ami_password[0]) {
        str_fmt(err, errlen, "ASTERISK_AMI_PASSWORD is not set: it is the secret of the AMI user "
                             "ASTERISK_AMI_USERNAME in Asterisk's manager.conf (faxbot asterisk-config writes both)");
        return -1;
    }
    if (setting_str("ASTERISK_AMI_BIND", t->ami_bind, sizeof t->ami_bind, err, errlen) ||
        want("ASTERISK_AMI_BIND", t->ami_bind, HOST_CHARS ":", "an IP address", err, errlen))
        return -1;
    if (setting_str("ASTERISK_AMI_PERMIT", t->ami_permit, sizeof t->ami_permit, err, errlen) ||
        want("ASTERISK_AMI_PERMIT", t->ami_permit, ".:/,", "IP addresses with masks, comma separated", err, errlen))
        return -1;
    return 0;
}

static int load_gateway(ami_trunk *t, const config *cfg, bool for_render, char *err, size_t errlen)
{
    if (setting_str("ASTERISK_INBOUND_SECRET", t->inbound_secret, sizeof t->inbound_secret, err, errlen) ||
        want("ASTERISK_INBOUND_SECRET", t->inbound_secret, "._~+/=-",
             "letters, digits and . _ ~ + / = - (e.g. the output of `openssl rand -hex 32`)", err, errlen))
        return -1;
    if (t->inbound_secret[0] && strlen(t->inbound_secret) < 16) {
        str_fmt(err, errlen, "ASTERISK_INBOUND_SECRET must be at least 16 characters");
        return -1;
    }
    if (for_render && !t->inbound_secret[0]) {
        str_fmt(err, errlen, "ASTERISK_INBOUND_SECRET is not set: the fax-inbound dialplan sends it to the gateway "
                             "(make one with `openssl rand -hex 32`)");
        return -1;
    }
    if (setting_str("ASTERISK_SPOOL_DIR", t->spool_dir, sizeof t->spool_dir, err, errlen) ||
        want("ASTERISK_SPOOL_DIR", t->spool_dir, "/._-", "letters, digits and / . _ -", err, errlen))
        return -1;
    if (t->spool_dir[0] != '/') {
        str_fmt(err, errlen, "ASTERISK_SPOOL_DIR must be an absolute path (Asterisk and the gateway both use it)");
        return -1;
    }
    size_t sl = strlen(t->spool_dir);
    while (sl > 1 && t->spool_dir[sl - 1] == '/') t->spool_dir[--sl] = 0;
    if (int_setting("ASTERISK_MAX_CHANNELS", &t->max_channels, err, errlen)) return -1;
    if (int_setting("ASTERISK_RING_TIMEOUT", &t->ring_timeout_s, err, errlen)) return -1;
    char dflt[512];
    if (cfg && cfg->public_api_url[0]) str_copy(dflt, sizeof dflt, cfg->public_api_url);
    else str_fmt(dflt, sizeof dflt, "http://127.0.0.1:%d", cfg ? cfg->listen_port : 8080);
    if (setting_str_or("ASTERISK_GATEWAY_URL", dflt, t->gateway_url, sizeof t->gateway_url, err, errlen) ||
        want("ASTERISK_GATEWAY_URL", t->gateway_url, ":/._-[]", "a plain http(s) URL", err, errlen))
        return -1;
    if (strncmp(t->gateway_url, "http://", 7) && strncmp(t->gateway_url, "https://", 8)) {
        str_fmt(err, errlen, "ASTERISK_GATEWAY_URL must start with http:// or https://");
        return -1;
    }
    size_t ul = strlen(t->gateway_url);
    while (ul > 8 && t->gateway_url[ul - 1] == '/') t->gateway_url[--ul] = 0;
    if (cfg) {
        str_copy(t->station_id, sizeof t->station_id, cfg->station_id);
        str_copy(t->header, sizeof t->header, cfg->header_text);
    }
    if (for_render && want("FAX_LOCAL_STATION_ID", t->station_id, " +.-", "digits, letters, spaces and + . -",
                           err, errlen))
        return -1;
    return 0;
}

/* Paths go into pjsip.conf as they are: absolute, of plain characters. */
static int want_path(const char *name, const char *v, char *err, size_t errlen)
{
    if (!*v) return 0;
    if (v[0] != '/' || !chars_ok(v, "/._-")) {
        str_fmt(err, errlen, "%s must be an absolute path of letters, digits and / . _ -", name);
        return -1;
    }
    return 0;
}

static int port_range(const char *lo_name, const char *hi_name, int *lo, int *hi, char *err, size_t errlen)
{
    if (int_setting(lo_name, lo, err, errlen) || int_setting(hi_name, hi, err, errlen)) return -1;
    if (*lo > *hi) {
        str_fmt(err, errlen, "%s (%d) must not be above %s (%d)", lo_name, *lo, hi_name, *hi);
        return -1;
    }
    return 0;
}

static int load_network(ami_trunk *t, char *err, size_t errlen)
{
    if (setting_str("SIP_TRANSPORT", t->transport, sizeof t->transport, err, errlen) ||
        setting_str("SIP_EXTERNAL_MEDIA_ADDRESS", t->external_media, sizeof t->external_media, err, errlen) ||
        want("SIP_EXTERNAL_MEDIA_ADDRESS", t->external_media, HOST_CHARS ":", HOST_WHAT, err, errlen) ||
        setting_str("SIP_EXTERNAL_SIGNALING_ADDRESS", t->external_signaling, sizeof t->external_signaling, err, errlen) ||
        want("SIP_EXTERNAL_SIGNALING_ADDRESS", t->external_signaling, HOST_CHARS ":", HOST_WHAT, err, errlen) ||
        setting_str("SIP_LOCAL_NET", t->local_net, sizeof t->local_net, err, errlen) ||
        want("SIP_LOCAL_NET", t->local_net, ".:/,", "CIDRs separated by commas, like 192.168.0.0/16,10.0.0.0/8", err, errlen) ||
        setting_str("SIP_TLS_CERT_FILE", t->tls_cert, sizeof t->tls_cert, err, errlen) ||
        want_path("SIP_TLS_CERT_FILE", t->tls_cert, err, errlen) ||
        setting_str("SIP_TLS_KEY_FILE", t->tls_key, sizeof t->tls_key, err, errlen) ||
        want_path("SIP_TLS_KEY_FILE", t->tls_key, err, errlen) ||
        setting_str("SIP_TLS_CA_FILE", t->tls_ca, sizeof t->tls_ca, err, errlen) ||
        want_path("SIP_TLS_CA_FILE", t->tls_ca, err, errlen) ||
        port_range("UDPTL_PORT_START", "UDPTL_PORT_END", &t->udptl_start, &t->udptl_end, err, errlen) ||
        port_range("RTP_PORT_START", "RTP_PORT_END", &t->rtp_start, &t->rtp_end, err, errlen) ||
        setting_str("ASTERISK_CONFIG_DIR", t->config_dir, sizeof t->config_dir, err, errlen) ||
        want_path("ASTERISK_CONFIG_DIR", t->config_dir, err, errlen))
        return -1;
    if (!strcmp(t->transport, "tls") && (!t->tls_cert[0] || !t->tls_key[0])) {
        str_fmt(err, errlen, "SIP_TRANSPORT=tls needs SIP_TLS_CERT_FILE and SIP_TLS_KEY_FILE (PEM files Asterisk can read)");
        return -1;
    }
    return 0;
}

static int load_sip(ami_trunk *t, bool for_render, char *err, size_t errlen)
{
    const ami_preset *p = t->preset;
    char server[256];
    int server_port = 0;
    if (setting_str_or("SIP_SERVER", p->default_server, server, sizeof server, err, errlen)) return -1;
    if (ami_sip_server_split(server, t->server, sizeof t->server, &server_port)) {
        str_fmt(err, errlen, "SIP_SERVER must be a host or host:port with a port from 1 to 65535 (got '%s')", server);
        return -1;
    }
    if (want("SIP_SERVER", t->server, HOST_CHARS, HOST_WHAT, err, errlen)) return -1;
    if (int_setting("SIP_PORT", &t->port, err, errlen)) return -1;
    if (server_port) {
        setting_source port_src = SOURCE_DEFAULT;
        if (settings_current()) settings_value(settings_current(), "SIP_PORT", &port_src);
        if (port_src == SOURCE_DEFAULT) t->port = server_port;
        else if (t->port != server_port) {
            str_fmt(err, errlen, "SIP_SERVER says port %d but SIP_PORT says %d: give the port once", server_port, t->port);
            return -1;
        }
    }
    char cid_name[64];
    if (setting_str("SIP_CALLER_ID_NAME", cid_name, sizeof cid_name, err, errlen)) return -1;
    for (const char *c = cid_name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\' || *c == 0x7f) {
            str_fmt(err, errlen, "SIP_CALLER_ID_NAME may not contain quotes, backslashes or control characters");
            return -1;
        }
    str_copy(t->caller_id_name, sizeof t->caller_id_name, ami_caller_id_name(p, cid_name));
    if (setting_str("SIP_USERNAME", t->username, sizeof t->username, err, errlen) ||
        want("SIP_USERNAME", t->username, "._+@-", "letters, digits and . _ + @ -", err, errlen))
        return -1;
    if (setting_str("SIP_PASSWORD", t->password, sizeof t->password, err, errlen) ||
        want_secret("SIP_PASSWORD", t->password, err, errlen))
        return -1;
    if (setting_str("SIP_FROM_USER", t->from_user, sizeof t->from_user, err, errlen) ||
        want("SIP_FROM_USER", t->from_user, "+._-", "letters, digits and + . _ -", err, errlen))
        return -1;
    if (setting_str("SIP_FROM_DOMAIN", t->from_domain, sizeof t->from_domain, err, errlen) ||
        want("SIP_FROM_DOMAIN", t->from_domain, HOST_CHARS, HOST_WHAT, err, errlen))
        return -1;
    if (setting_str("SIP_TECH_PREFIX", t->tech_prefix, sizeof t->tech_prefix, err, errlen) ||
        want("SIP_TECH_PREFIX", t->tech_prefix, "", "digits", err, errlen))
        return -1;
    if (t->tech_prefix[0] && strspn(t->tech_prefix, "0123456789") != strlen(t->tech_prefix)) {
        str_fmt(err, errlen, "SIP_TECH_PREFIX may only contain digits");
        return -1;
    }
    if (setting_str("SIP_IDENTIFY_MATCH", t->identify_match, sizeof t->identify_match, err, errlen) ||
        want("SIP_IDENTIFY_MATCH", t->identify_match, ".:/,-", "IP addresses, CIDRs or host names separated by commas",
             err, errlen))
        return -1;
    if (setting_str("SIP_BIND", t->sip_bind, sizeof t->sip_bind, err, errlen) ||
        want("SIP_BIND", t->sip_bind, ".:[]", "an address and port such as 0.0.0.0:5060", err, errlen))
        return -1;
    if (load_network(t, err, errlen)) return -1;
    if (!for_render) return 0;

    if (!t->server[0]) {
        str_fmt(err, errlen, "SIP_SERVER is not set: give the trunk's host name (preset %s)", p->name);
        return -1;
    }
    if ((p->host_contains[0] && !strcasestr(t->server, p->host_contains)) ||
        (p->host_suffix[0] && !ends_with(t->server, p->host_suffix))) {
        str_fmt(err, errlen, "%s", p->host_message);
        return -1;
    }
    if (p->caller_id_e164 && !is_e164(t->from_user)) {
        if (p->caller_id_message[0]) str_fmt(err, errlen, "%s", p->caller_id_message);
        else str_fmt(err, errlen, "SIP_FROM_USER must be the caller ID in E.164 (+15551234567) for %s", p->title);
        return -1;
    }
    if (!sip_trunk_has_transport(p, t->transport)) {
        str_fmt(err, errlen, "SIP_TRANSPORT=%s is not offered by %s", t->transport, p->title);
        return -1;
    }
    if (!t->username[0] && !p->ip_auth) {
        str_fmt(err, errlen, "SIP_USERNAME and SIP_PASSWORD are needed: %s takes digest authentication only", p->title);
        return -1;
    }
    if (t->username[0] && !p->digest) {
        str_fmt(err, errlen, "SIP_USERNAME must be empty: %s authenticates by IP address only", p->title);
        return -1;
    }
    if ((t->username[0] != 0) != (t->password[0] != 0)) {
        str_fmt(err, errlen, "SIP_USERNAME and SIP_PASSWORD go together: set both (digest auth) or neither "
                             "(IP authentication)");
        return -1;
    }
    if (p->tech_prefix && !t->username[0] &&
        (p->tech_prefix_digits ? strlen(t->tech_prefix) != (size_t)p->tech_prefix_digits : !t->tech_prefix[0])) {
        str_fmt(err, errlen, "SIP_TECH_PREFIX must be your %d-digit %s tech prefix when the trunk uses IP "
                             "authentication (no SIP_USERNAME)", p->tech_prefix_digits, p->title);
        return -1;
    }
    return 0;
}

int ami_trunk_load_inbound(ami_trunk *t, const config *cfg, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    return load_gateway(t, cfg, false, err, errlen);
}

int ami_trunk_load(ami_trunk *t, const config *cfg, bool for_render, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    char name[64];
    if (setting_str("SIP_TRUNK_PRESET", name, sizeof name, err, errlen)) return -1;
    for (char *c = name; *c; c++) *c = (char)tolower((unsigned char)*c);
    t->preset = sip_trunk_lookup(name, err, errlen);
    if (!t->preset) return -1;
    if (load_ami(t, err, errlen) || load_gateway(t, cfg, for_render, err, errlen) || load_sip(t, for_render, err, errlen))
        return -1;
    return 0;
}

int ami_trunk_dial(const ami_trunk *t, const char *e164, char *out, size_t outlen)
{
    if (!is_e164(e164)) return -1;
    const char *digits = t->preset->plus ? e164 : e164 + 1;
    if (t->preset->tech_prefix && t->tech_prefix[0])
        return str_fmt(out, outlen, "%s%s%s", t->tech_prefix, t->preset->tech_prefix_sep, digits);
    return str_copy(out, outlen, digits);
}

/* 'z' (we re-INVITE to T.38 when the far end does not) only without audio fallback: with
 * 'z', res_fax plays CNG for about 10 s waiting for the far end's re-INVITE before it sends
 * its own, and an audio-only receiver that answered with DIS meanwhile has given up by the
 * time the 488 brings the call back to audio. Against a real Asterisk 22 receiving without
 * T.38, `fz` failed every fax ("Disconnected after permitted retries") and `f` delivered it;
 * T.38 receivers re-INVITE themselves, so `f` still gets T.38 from them
 * (tests/interop/test_asterisk_real.py). */
const char *ami_trunk_sendfax_options(const ami_trunk *t)
{
    if (!t->preset->t38) return "F";                 /* audio only */
    if (!t->preset->audio_fallback) return t->preset->t38_reinvite ? "z" : "";
    return "f";
}

/* ---- rendering ---- */

static bool has_auth(const ami_trunk *t)
{
    return t->username[0] != 0;
}

static void render_pjsip(const ami_trunk *t, strbuf *sb)
{
    const ami_preset *p = t->preset;
    const char *from_domain = t->from_domain[0] ? t->from_domain : t->server;
    sb_appendf(sb, "; pjsip.conf for the faxbot gateway, rendered by `faxbot asterisk-config` (preset %s).\n"
                   "; %s\n; Render again instead of editing: every value comes from the gateway's settings.\n\n",
               p->name, p->notes);
    sb_appendf(sb, "[transport-%s]\ntype = transport\nprotocol = %s\nbind = %s\n", t->transport, t->transport, t->sip_bind);
    if (t->external_media[0]) sb_appendf(sb, "external_media_address = %s\n", t->external_media);
    if (t->external_signaling[0]) sb_appendf(sb, "external_signaling_address = %s\n", t->external_signaling);
    for (const char *n = t->local_net; *n;) {
        size_t k = strcspn(n, ",");
        if (k) sb_appendf(sb, "local_net = %.*s\n", (int)k, n);
        n += k;
        if (*n) n++;
    }
    if (!strcmp(t->transport, "tls")) {
        sb_appendf(sb, "cert_file = %s\npriv_key_file = %s\nmethod = tlsv1_2\n", t->tls_cert, t->tls_key);
        if (t->tls_ca[0]) sb_appendf(sb, "ca_list_file = %s\n", t->tls_ca);
    }
    sb_puts(sb, "\n");
    if (has_auth(t))
        sb_appendf(sb, "[%s-auth]\ntype = auth\nauth_type = userpass\nusername = %s\npassword = %s\n\n",
                   AMI_TRUNK_ENDPOINT, t->username, t->password);
    const char *uri_tp = !strcmp(t->transport, "udp") ? "" : !strcmp(t->transport, "tcp") ? ";transport=tcp" : ";transport=tls";
    sb_appendf(sb, "[%s]\ntype = aor\ncontact = sip:%s:%d%s\nqualify_frequency = 60\n\n", AMI_TRUNK_ENDPOINT,
               t->server, t->port, uri_tp);
    sb_appendf(sb, "[%s]\ntype = endpoint\ntransport = transport-%s\ncontext = %s\ndisallow = all\n"
                   "allow = %s\naors = %s\n",
               AMI_TRUNK_ENDPOINT, t->transport, AMI_IN_CONTEXT, p->codecs, AMI_TRUNK_ENDPOINT);
    if (has_auth(t)) sb_appendf(sb, "outbound_auth = %s-auth\n", AMI_TRUNK_ENDPOINT);
    /* No `callerid` on the endpoint: res_pjsip gives an endpoint's callerid to every call
     * that comes in from it, so inbound faxes would all seem to come from our own number
     * (seen on a real Asterisk 22). The outgoing caller ID travels in each Originate. */
    if (t->from_user[0]) sb_appendf(sb, "from_user = %s\n", t->from_user);
    sb_appendf(sb, "from_domain = %s\n", from_domain);
    if (p->send_pai) sb_appendf(sb, "send_pai = yes\n");
    sb_appendf(sb, "direct_media = no\nrtp_symmetric = %s\nforce_rport = %s\nrewrite_contact = %s\n"
                   "dtmf_mode = rfc4733\nfax_detect = no\n",
               p->rtp_symmetric ? "yes" : "no", p->force_rport ? "yes" : "no", p->rewrite_contact ? "yes" : "no");
    if (p->t38)
        sb_appendf(sb, "t38_udptl = yes\nt38_udptl_ec = %s\nt38_udptl_maxdatagram = %d\n\n", p->t38_ec,
                   p->t38_max_datagram);
    else
        sb_appendf(sb, "t38_udptl = no\n\n");
    if (has_auth(t) && p->registers) {
        sb_appendf(sb, "[%s-registration]\ntype = registration\ntransport = transport-%s\noutbound_auth = %s-auth\n"
                       "server_uri = sip:%s:%d%s\nclient_uri = sip:%s@%s:%d%s\ncontact_user = %s\n"
                       "retry_interval = 60\nforbidden_retry_interval = 600\nexpiration = 3600\n"
                       "line = yes\nendpoint = %s\n\n",
                   AMI_TRUNK_ENDPOINT, t->transport, AMI_TRUNK_ENDPOINT, t->server, t->port, uri_tp, t->username,
                   t->server, t->port, uri_tp, t->from_user[0] ? t->from_user : t->username, AMI_TRUNK_ENDPOINT);
    }
    sb_appendf(sb, "[%s-identify]\ntype = identify\nendpoint = %s\nmatch = %s\n", AMI_TRUNK_ENDPOINT,
               AMI_TRUNK_ENDPOINT, t->server);
    if (t->identify_match[0]) sb_appendf(sb, "match = %s\n", t->identify_match);
}

/* The result event: untrusted text (the far end's station id, SIP reason) first and
 * filtered to harmless characters; our own fields after it, so that even a key the
 * far end managed to inject is overwritten (UserEvent keeps the last value of a key). */
static void render_result_event(strbuf *sb)
{
    sb_appendf(sb,
               "exten => s,1,GotoIf($[\"${CHANNEL(name):0:19}\" = \"OutgoingSpoolFailed\"]?done)\n"
               " same => n,UserEvent(%s,RemoteStationID: ${FILTER(A-Za-z0-9 +.,${REMOTESTATIONID})}"
               ",SipCause: ${FILTER(A-Za-z0-9 .,${HANGUPCAUSE(${CHANNEL(name)},tech)})}"
               ",FaxStatusString: ${FILTER(A-Za-z0-9 .,${FAXSTATUSSTRING})}"
               ",FaxError: ${FILTER(A-Za-z0-9 _.,${FAXERROR})}"
               ",FaxStatus: ${FILTER(A-Z,${FAXSTATUS})}"
               ",FaxPages: ${FILTER(0-9,${FAXPAGES})}"
               ",FaxBitrate: ${FILTER(0-9,${FAXBITRATE})}"
               ",FaxResolution: ${FILTER(0-9x,${FAXRESOLUTION})}"
               ",FaxMode: ${FILTER(A-Za-z0-9.,${FAXMODE})}"
               ",Ecm: ${FILTER(a-z,${FAXOPT(ecm)})}"
               ",HangupCause: ${FILTER(0-9,${HANGUPCAUSE})}"
               ",Answered: ${FILTER(0-9,${FAXBOT_ANSWERED})}"
               ",Attempt: ${FILTER(0-9,${FAXBOT_ATTEMPT})}"
               ",JobID: ${FILTER(0-9a-f,${FAXBOT_JOBID})})\n"
               " same => n(done),Return()\n\n",
               AMI_RESULT_EVENT);
}

static void render_inbound_exten(const ami_trunk *t, strbuf *sb, const char *pattern)
{
    sb_appendf(sb, "exten => %s,1,NoOp(faxbot: inbound fax)\n", pattern);
    sb_appendf(sb, " same => n,Set(FAXBOT_RXFILE=%s/rx-${FILTER(0-9A-Za-z.,${UNIQUEID})}.tif)\n", t->spool_dir);
    sb_appendf(sb, " same => n,Set(FAXOPT(ecm)=%s)\n", t->preset->ecm ? "yes" : "no");
    if (t->station_id[0]) sb_appendf(sb, " same => n,Set(FAXOPT(localstationid)=%s)\n", t->station_id);
    sb_appendf(sb, " same => n,Answer()\n same => n,ReceiveFAX(${FAXBOT_RXFILE},f)\n"
                   " same => n,GotoIf($[\"${FAXSTATUS}\" != \"SUCCESS\"]?failed)\n"
                   " same => n,Set(CURLOPT(httpheader)=Content-Type: application/x-www-form-urlencoded)\n"
                   " same => n,Set(CURLOPT(httpheader)=X-Internal-Secret: %s)\n"
                   " same => n,Set(CURLOPT(conntimeout)=5)\n same => n,Set(CURLOPT(httptimeout)=120)\n"
                   " same => n,Set(FAXBOT_POST=${CURL(%s/_internal/asterisk/inbound,"
                   "tiff_path=${URIENCODE(${FAXBOT_RXFILE})}"
                   "&from=${URIENCODE(${FILTER(0-9+,${CALLERID(num)})})}"
                   "&to=${URIENCODE(${FILTER(0-9+,${EXTEN})})}"
                   "&station_id=${URIENCODE(${FILTER(A-Za-z0-9 +.,${REMOTESTATIONID})})}"
                   "&uniqueid=${URIENCODE(${FILTER(0-9A-Za-z.,${UNIQUEID})})})})\n"
                   " same => n,NoOp(faxbot: the gateway answered ${FAXBOT_POST})\n same => n,Hangup()\n"
                   " same => n(failed),NoOp(faxbot: inbound fax failed: ${FAXERROR})\n same => n,Hangup()\n\n",
               t->inbound_secret, t->gateway_url);
}

static void render_extensions(const ami_trunk *t, strbuf *sb)
{
    sb_appendf(sb, "; extensions.conf for the faxbot gateway, rendered by `faxbot asterisk-config` (preset %s).\n"
                   "; Render again instead of editing. Include it from your own dialplan or use it as is.\n\n"
                   "[general]\nstatic = yes\nwriteprotect = yes\nclearglobalvars = no\n\n",
               t->preset->name);
    sb_appendf(sb, "; Outgoing faxes. The gateway sends AMI Originate with Channel PJSIP/<number>@%s,\n"
                   "; Context %s, Exten %s, Priority 1, ChannelId faxbot-<job>-<attempt>, and the channel\n"
                   "; variables FAXBOT_JOBID, FAXBOT_ATTEMPT, FAXBOT_FILE, FAXOPT(headerinfo),\n"
                   "; FAXOPT(localstationid) and CHANNEL(hangup_handler_push)=%s,s,1. This runs on the\n"
                   "; called channel once the far end answers.\n[%s]\n",
               AMI_TRUNK_ENDPOINT, AMI_OUT_CONTEXT, AMI_OUT_EXTEN, AMI_RESULT_CONTEXT, AMI_OUT_CONTEXT);
    sb_appendf(sb, "exten => %s,1,NoOp(faxbot job ${FAXBOT_JOBID} attempt ${FAXBOT_ATTEMPT})\n"
                   " same => n,Set(FAXBOT_ANSWERED=1)\n same => n,Set(FAXOPT(ecm)=%s)\n"
                   " same => n,SendFAX(${FAXBOT_FILE},%s)\n same => n,Hangup()\n\n",
               AMI_OUT_EXTEN, t->preset->ecm ? "yes" : "no", ami_trunk_sendfax_options(t));
    sb_appendf(sb, "; Unanswered calls (busy, no answer, congestion, rejected) land here on a placeholder\n"
                   "; channel; the result event comes from the hangup handler of the real channel.\n"
                   "exten => failed,1,NoOp(faxbot job ${FAXBOT_JOBID}: not answered, reason ${REASON})\n"
                   " same => n,Hangup()\n\n");
    sb_appendf(sb, "; Hangup handler of every outgoing fax call, answered or not: exactly one %s\n"
                   "; UserEvent per call, which the gateway reads over AMI.\n[%s]\n",
               AMI_RESULT_EVENT, AMI_RESULT_CONTEXT);
    render_result_event(sb);
    sb_appendf(sb, "; Incoming faxes (the trunk endpoint's context): ReceiveFAX into ASTERISK_SPOOL_DIR,\n"
                   "; then a hand-off to the gateway (POST /_internal/asterisk/inbound, needs func_curl).\n[%s]\n",
               AMI_IN_CONTEXT);
    render_inbound_exten(t, sb, "_X.");
    render_inbound_exten(t, sb, "_+X.");
    render_inbound_exten(t, sb, "s");
}

static void render_manager(const ami_trunk *t, strbuf *sb)
{
    sb_appendf(sb, "; manager.conf for the faxbot gateway, rendered by `faxbot asterisk-config`.\n"
                   "; One AMI user with only what the gateway needs: read call (OriginateResponse, Hangup,\n"
                   "; SendFAX) and user (the FaxResult UserEvent); write originate (Originate), reporting\n"
                   "; (CoreShowChannels, to reconcile calls after a reconnect) and system (ModuleCheck and\n"
                   "; PJSIPShowRegistrationsOutbound for diagnostics).\n\n");
    sb_appendf(sb, "[general]\nenabled = yes\nport = %d\nbindaddr = %s\nwebenabled = no\ndisplayconnects = no\n"
                   "authtimeout = 10\nauthlimit = 10\n\n",
               t->ami_port, t->ami_bind);
    sb_appendf(sb, "[%s]\nsecret = %s\ndeny = 0.0.0.0/0.0.0.0\n", t->ami_user, t->ami_password);
    /* one permit line per address: where the gateway connects from */
    const char *p = t->ami_permit;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n) sb_appendf(sb, "permit = %.*s\n", (int)n, p);
        p += n;
        if (*p == ',') p++;
    }
    sb_appendf(sb, "read = call,user\nwrite = originate,reporting,system\nwritetimeout = 5000\n");
}

static void render_udptl(const ami_trunk *t, strbuf *sb)
{
    sb_appendf(sb, "; udptl.conf for the faxbot gateway (T.38 transport), rendered by `faxbot asterisk-config`.\n"
                   "[general]\nudptlstart = %d\nudptlend = %d\nudptlchecksums = no\nudptlfecentries = 3\n"
                   "udptlfecspan = 3\nuse_even_ports = no\n", t->udptl_start, t->udptl_end);
}

static void render_res_fax(strbuf *sb)
{
    sb_appendf(sb, "; res_fax.conf for the faxbot gateway, rendered by `faxbot asterisk-config`.\n"
                   "[general]\nmaxrate = 14400\nminrate = 2400\nstatusevents = yes\nmodems = v17,v27,v29\n"
                   "ecm = yes\nt38timeout = 5000\n");
}

static void render_rtp(const ami_trunk *t, strbuf *sb)
{
    sb_appendf(sb, "; rtp.conf for the faxbot gateway (G.711 audio before T.38), rendered by `faxbot asterisk-config`.\n"
                   "[general]\nrtpstart = %d\nrtpend = %d\n", t->rtp_start, t->rtp_end);
}

static void render_modules(strbuf *sb)
{
    sb_appendf(sb, "; modules.conf for the faxbot gateway, rendered by `faxbot asterisk-config`.\n"
                   "; Faxing needs res_fax + res_fax_spandsp, chan_pjsip + res_pjsip_t38 for T.38 over PJSIP,\n"
                   "; and func_curl (res_curl) for the inbound hand-off.\n"
                   "[modules]\nautoload = yes\nload = res_fax.so\nload = res_fax_spandsp.so\nload = chan_pjsip.so\n"
                   "load = res_pjsip_t38.so\nload = res_pjsip_outbound_registration.so\nload = res_curl.so\n"
                   "load = func_curl.so\n");
}

int ami_render(const ami_trunk *t, ami_rendered files[AMI_RENDER_FILES], char *err, size_t errlen)
{
    static const char *const names[AMI_RENDER_FILES] = {"pjsip.conf", "extensions.conf", "manager.conf",
                                                          "udptl.conf", "res_fax.conf", "modules.conf", "rtp.conf"};
    static const bool secret[AMI_RENDER_FILES] = {true, true, true, false, false, false, false};
    strbuf sb[AMI_RENDER_FILES];
    for (int i = 0; i < AMI_RENDER_FILES; i++) sb_init(&sb[i]);
    render_pjsip(t, &sb[0]);
    render_extensions(t, &sb[1]);
    render_manager(t, &sb[2]);
    render_udptl(t, &sb[3]);
    render_res_fax(&sb[4]);
    render_modules(&sb[5]);
    render_rtp(t, &sb[6]);
    bool oom = false;
    for (int i = 0; i < AMI_RENDER_FILES; i++) {
        files[i].name = names[i];
        files[i].secret = secret[i];
        files[i].text = sb_steal(&sb[i]);
        if (!files[i].text) oom = true;
    }
    if (oom) {
        ami_render_free(files);
        str_fmt(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void ami_render_free(ami_rendered files[AMI_RENDER_FILES])
{
    for (int i = 0; i < AMI_RENDER_FILES; i++) {
        free(files[i].text);
        files[i].text = NULL;
    }
}
