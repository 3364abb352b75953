/* esl_render.c — FreeSWITCH's side of FAX_BACKEND=freeswitch rendered from the
 * gateway's settings (see esl_render.h); `faxbot freeswitch-config` writes it to a
 * folder, a settings apply into FREESWITCH_CONFIG_DIR.
 *
 * Files (include each from the matching FreeSWITCH folder):
 *   sip_profiles/external/faxbot_gateway.xml   the sofia gateway (SIP_SERVER, SIP_USERNAME,
 *                                              SIP_PASSWORD, …) with the result hook
 *   dialplan/faxbot_outbound.xml               context faxbot_outbound: txfax of ${faxbot_tiff}
 *   dialplan/public/faxbot_inbound.xml         answers, rxfax into FREESWITCH_SPOOL_DIR, hook
 *   autoload_configs/faxbot_event_socket.conf.xml  event socket: listen address, password, ACL
 *   autoload_configs/faxbot_acl.xml            the <list> for acl.conf.xml
 * The hooks run `curl` through FreeSWITCH's `system` API (the outbound one through
 * `expand system`); every value expanded into
 * them at hangup is a uuid, digits or a cause name (caller numbers go through a
 * digits-only regex first), and the secret and URL are checked to be shell-safe. */
#include "esl/esl_render.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ami/ami_trunk.h"
#include "config/config.h"
#include "config/settings.h"
#include "esl/esl_settings.h"
#include "esl/esl_fax.h"
#include "util/util.h"

typedef struct fs_settings {
    char gateway[80];
    char sip_server[256], sip_user[128], sip_pass[256], from_user[128], from_domain[256], transport[8];
    char caller_id[32];
    char caller_id_name[64];     /* SIP_CALLER_ID_NAME (twilio preset: "Asterisk PBX" unless set) */
    char sip_host[256];          /* SIP_SERVER without its :port (realm, from-domain) */
    const ami_preset *preset;    /* SIP_TRUNK_PRESET: registration, T.38 stance */
    bool t38, ecm;
    char spool[1024];
    char esl_listen[64], esl_pass[256], esl_acl[64];
    long esl_port;
    char secret[256];
    char hook_url[512];
    char inbound_number[32];
    char station_id[24], header[64];
} fs_settings;

/* ---- XML ---- */

static void xml_esc(strbuf *sb, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': sb_puts(sb, "&amp;"); break;
        case '<': sb_puts(sb, "&lt;"); break;
        case '>': sb_puts(sb, "&gt;"); break;
        case '"': sb_puts(sb, "&quot;"); break;
        case '\'': sb_puts(sb, "&apos;"); break;
        default: sb_append(sb, s, 1);
        }
    }
}

/* Appends text with {name} placeholders replaced by XML-escaped values. */
static void emit(strbuf *sb, const char *tmpl, const char *const *kv)
{
    for (const char *p = tmpl; *p;) {
        if (*p == '{' && p[1] == '=') {
            const char *end = strchr(p, '}');
            size_t n = end ? (size_t)(end - p - 2) : 0;
            const char *val = NULL;
            for (int i = 0; end && kv[i]; i += 2)
                if (strlen(kv[i]) == n && !strncmp(kv[i], p + 2, n)) val = kv[i + 1];
            if (end && val) {
                xml_esc(sb, val);
                p = end + 1;
                continue;
            }
        }
        sb_append(sb, p, 1);
        p++;
    }
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
    return false;
}

static bool shell_safe(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || strchr(extra, *s)))
            return false;
    return true;
}

/* ---- settings ---- */

static int load(fs_settings *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    config cfg;
    if (config_load(&cfg, err, errlen)) return -1;
    esl_settings e;
    if (esl_settings_load(&e, cfg.public_api_url, err, errlen)) return -1;
    str_copy(s->gateway, sizeof s->gateway, e.gateway);
    str_copy(s->caller_id, sizeof s->caller_id, e.caller_id);
    s->t38 = e.t38;
    s->ecm = e.ecm;
    str_copy(s->spool, sizeof s->spool, e.spool_dir);
    str_copy(s->esl_listen, sizeof s->esl_listen, e.listen_ip);
    str_copy(s->esl_pass, sizeof s->esl_pass, e.password);
    str_copy(s->esl_acl, sizeof s->esl_acl, e.acl);
    s->esl_port = e.port;
    str_copy(s->secret, sizeof s->secret, esl_settings_secret(&e));
    str_copy(s->hook_url, sizeof s->hook_url, e.hook_url);
    str_copy(s->inbound_number, sizeof s->inbound_number, e.inbound_number);
    explicit_bzero(&e, sizeof e);
    char preset[64], cid_name[64];
    if (setting_str_or("SIP_TRUNK_PRESET", "generic", preset, sizeof preset, err, errlen)) return -1;
    s->preset = sip_trunk_lookup(preset, err, errlen);
    if (!s->preset) return -1;
    /* FREESWITCH_T38_ENABLE unset: the preset's T.38 stance */
    setting_source t38_src = SOURCE_DEFAULT;
    if (settings_current()) settings_value(settings_current(), "FREESWITCH_T38_ENABLE", &t38_src);
    if (t38_src == SOURCE_DEFAULT) s->t38 = s->preset->t38;
    if (setting_str("SIP_CALLER_ID_NAME", cid_name, sizeof cid_name, err, errlen)) return -1;
    bool ok = setting_str("SIP_SERVER", s->sip_server, sizeof s->sip_server, err, errlen) == 0
              && setting_str("SIP_USERNAME", s->sip_user, sizeof s->sip_user, err, errlen) == 0
              && setting_str("SIP_PASSWORD", s->sip_pass, sizeof s->sip_pass, err, errlen) == 0
              && setting_str("SIP_FROM_USER", s->from_user, sizeof s->from_user, err, errlen) == 0
              && setting_str("SIP_FROM_DOMAIN", s->from_domain, sizeof s->from_domain, err, errlen) == 0
              && setting_str("SIP_TRANSPORT", s->transport, sizeof s->transport, err, errlen) == 0;
    if (!ok) return -1;
    str_copy(s->station_id, sizeof s->station_id, cfg.station_id);
    str_copy(s->header, sizeof s->header, cfg.header_text);

    if (!esl_is_gateway_name(s->gateway)) {
        str_fmt(err, errlen, "FREESWITCH_GATEWAY_NAME may only hold letters, digits, '_', '.' and '-'");
        return -1;
    }
    if (!s->sip_server[0] && s->preset->default_server[0])
        str_copy(s->sip_server, sizeof s->sip_server, s->preset->default_server);
    if (!s->sip_server[0]) {
        str_fmt(err, errlen, "SIP_SERVER is not set: the host (and :port) of your SIP trunk provider");
        return -1;
    }
    int sip_port = 0;
    if (ami_sip_server_split(s->sip_server, s->sip_host, sizeof s->sip_host, &sip_port)) {
        str_fmt(err, errlen, "SIP_SERVER must be a host or host:port with a port from 1 to 65535");
        return -1;
    }
    if (!s->caller_id[0] && s->from_user[0] && esl_is_number(s->from_user))
        str_copy(s->caller_id, sizeof s->caller_id, s->from_user);
    str_copy(s->caller_id_name, sizeof s->caller_id_name, ami_caller_id_name(s->preset, cid_name));
    const struct { const char *name, *val; } texts[] = {
        {"SIP_SERVER", s->sip_server}, {"SIP_USERNAME", s->sip_user}, {"SIP_PASSWORD", s->sip_pass},
        {"SIP_FROM_USER", s->from_user}, {"SIP_FROM_DOMAIN", s->from_domain}, {"FREESWITCH_ESL_PASSWORD", s->esl_pass},
        {"FREESWITCH_ESL_LISTEN_IP", s->esl_listen}, {"FREESWITCH_ESL_ACL", s->esl_acl},
        {"FAX_LOCAL_STATION_ID", s->station_id}, {"FAX_HEADER", s->header}, {"SIP_CALLER_ID_NAME", s->caller_id_name},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (has_ctl(texts[i].val)) {
            str_fmt(err, errlen, "%s contains control characters", texts[i].name);
            return -1;
        }
    }
    if (strcmp(s->transport, "udp") && strcmp(s->transport, "tcp") && strcmp(s->transport, "tls")) {
        str_fmt(err, errlen, "SIP_TRANSPORT must be udp, tcp or tls");
        return -1;
    }
    if (!shell_safe(s->esl_acl, "./:") || !shell_safe(s->esl_listen, ".:")) {
        str_fmt(err, errlen, "FREESWITCH_ESL_ACL must be a CIDR (e.g. 10.0.0.5/32) and FREESWITCH_ESL_LISTEN_IP an address");
        return -1;
    }
    if (s->secret[0] && !shell_safe(s->secret, "._~+/=-")) {
        str_fmt(err, errlen, "FREESWITCH_INBOUND_SECRET (or ASTERISK_INBOUND_SECRET) may only hold letters, digits and "
                             "._~+/=- so that FreeSWITCH can pass it to curl safely");
        return -1;
    }
    size_t ul = strlen(s->hook_url);
    while (ul && s->hook_url[ul - 1] == '/') s->hook_url[--ul] = 0;
    if (s->secret[0] && ((strncmp(s->hook_url, "http://", 7) && strncmp(s->hook_url, "https://", 8))
                         || !shell_safe(s->hook_url, ":/._-[]%"))) {
        str_fmt(err, errlen, "FREESWITCH_HOOK_URL (default PUBLIC_API_URL) must be an http(s) URL of letters, digits and "
                             ": / . _ - that FreeSWITCH can reach the gateway at");
        return -1;
    }
    return 0;
}

/* ---- rendering ---- */


static char *render_gateway(const fs_settings *s)
{
    strbuf sb;
    sb_init(&sb);
    bool reg = s->sip_user[0] && s->preset->registers;
    const char *kv[] = {"gw", s->gateway, "server", s->sip_server, "realm", s->sip_host, "user", s->sip_user,
                        "pass", s->sip_pass, "from_user", s->from_user[0] ? s->from_user : s->sip_user, "from_domain",
                        s->from_domain[0] ? s->from_domain : s->sip_host, "transport", s->transport,
                        "register", reg ? "true" : "false", "preset", s->preset->name, NULL};
    emit(&sb, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<!-- Faxbot: the SIP trunk for faxes. Put in conf/sip_profiles/external/ (the profile needs\n"
              "     t38-passthru=true for T.38). Generated by `faxbot freeswitch-config` (SIP_TRUNK_PRESET={=preset});\n"
              "     holds the SIP password. -->\n"
              "<include>\n"
              "  <gateway name=\"{=gw}\">\n"
              "    <param name=\"realm\" value=\"{=realm}\"/>\n"
              "    <param name=\"proxy\" value=\"{=server}\"/>\n"
              "    <param name=\"register\" value=\"{=register}\"/>\n"
              "    <param name=\"register-transport\" value=\"{=transport}\"/>\n", kv);
    if (s->sip_user[0])
        emit(&sb, "    <param name=\"username\" value=\"{=user}\"/>\n"
                  "    <param name=\"password\" value=\"{=pass}\"/>\n"
                  "    <param name=\"from-user\" value=\"{=from_user}\"/>\n", kv);
    emit(&sb, "    <param name=\"from-domain\" value=\"{=from_domain}\"/>\n"
              "    <param name=\"caller-id-in-from\" value=\"true\"/>\n"
              "    <param name=\"expire-seconds\" value=\"600\"/>\n"
              "    <param name=\"retry-seconds\" value=\"30\"/>\n"
              "    <variables>\n", kv);
    const char *t38 = s->t38 ? "true" : "false";
    const char *kv2[] = {"t38", t38, "ecm", s->ecm ? "true" : "false", "cid", s->caller_id, "cname",
                         s->caller_id_name, NULL};
    emit(&sb, "      <variable name=\"fax_enable_t38\" value=\"{=t38}\" direction=\"outbound\"/>\n"
              "      <variable name=\"fax_use_ecm\" value=\"{=ecm}\" direction=\"outbound\"/>\n", kv2);
    if (s->caller_id[0])
        emit(&sb, "      <variable name=\"origination_caller_id_number\" value=\"{=cid}\" direction=\"outbound\"/>\n", kv2);
    if (s->caller_id_name[0])
        emit(&sb, "      <variable name=\"origination_caller_id_name\" value=\"{=cname}\" direction=\"outbound\"/>\n", kv2);
    if (s->secret[0]) {
        strbuf hook;
        sb_init(&hook);
        esl_hook_outbound(&hook, s->hook_url, s->secret);
        const char *kv3[] = {"hook", hook.data ? hook.data : "", NULL};
        emit(&sb, "      <!-- reports every call's result to Faxbot even while the event socket is down -->\n"
                  "      <variable name=\"api_hangup_hook\" value=\"{=hook}\" direction=\"outbound\"/>\n", kv3);
        sb_free(&hook);
    }
    sb_puts(&sb, "    </variables>\n  </gateway>\n</include>\n");
    return sb_steal(&sb);
}

static char *render_outbound(const fs_settings *s)
{
    strbuf sb;
    sb_init(&sb);
    char ident[24], header[64];
    esl_var_clean(s->station_id, ident, sizeof ident, 20);
    esl_var_clean(s->header, header, sizeof header, 50);
    const char *kv[] = {"gw", s->gateway, "t38", s->t38 ? "true" : "false", "ecm", s->ecm ? "true" : "false",
                        "ident", ident, "header", header, NULL};
    emit(&sb, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<!-- Faxbot: sending from the FreeSWITCH side (Faxbot itself originates with &txfax over the event\n"
              "     socket and does not need this). Test a trunk with:\n"
              "     originate {faxbot_tiff=/path/fax.tif}sofia/gateway/{=gw}/NUMBER faxbot_txfax XML faxbot_outbound -->\n"
              "<include>\n"
              "  <context name=\"faxbot_outbound\">\n"
              "    <extension name=\"faxbot_txfax\">\n"
              "      <condition field=\"destination_number\" expression=\"^faxbot_txfax$\">\n"
              "        <action application=\"set\" data=\"fax_enable_t38={=t38}\"/>\n"
              "        <action application=\"set\" data=\"fax_enable_t38_request={=t38}\"/>\n"
              "        <action application=\"set\" data=\"fax_use_ecm={=ecm}\"/>\n", kv);
    if (ident[0]) emit(&sb, "        <action application=\"set\" data=\"fax_ident={=ident}\"/>\n", kv);
    if (header[0]) emit(&sb, "        <action application=\"set\" data=\"fax_header={=header}\"/>\n", kv);
    sb_puts(&sb, "        <action application=\"txfax\" data=\"${faxbot_tiff}\"/>\n"
                 "        <action application=\"hangup\"/>\n"
                 "      </condition>\n    </extension>\n  </context>\n</include>\n");
    return sb_steal(&sb);
}

static char *render_inbound(const fs_settings *s)
{
    strbuf sb;
    sb_init(&sb);
    char expr[64], ident[24];
    if (s->inbound_number[0])
        str_fmt(expr, sizeof expr, "^\\+?(%s)$", s->inbound_number[0] == '+' ? s->inbound_number + 1 : s->inbound_number);
    else
        str_copy(expr, sizeof expr, "^\\+?(\\d{2,20})$");
    esl_var_clean(s->station_id, ident, sizeof ident, 20);
    const char *kv[] = {"expr", expr, "t38", s->t38 ? "true" : "false", "ecm", s->ecm ? "true" : "false",
                        "spool", s->spool, "ident", ident, NULL};
    emit(&sb, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<!-- Faxbot: receiving faxes. Put in conf/dialplan/public/. The fax is written to\n"
              "     {=spool}/<call uuid>.tif (FREESWITCH_SPOOL_DIR, shared with Faxbot) and reported to\n"
              "     Faxbot. Generated by `faxbot freeswitch-config`. -->\n"
              "<include>\n"
              "  <extension name=\"faxbot_inbound\">\n"
              "    <condition field=\"caller_id_number\" expression=\"^\\+?(\\d{1,20})$\" break=\"never\">\n"
              "      <action application=\"set\" data=\"faxbot_from=$1\"/>\n"
              "    </condition>\n"
              "    <condition field=\"destination_number\" expression=\"{=expr}\">\n"
              "      <action application=\"set\" data=\"faxbot_to=$1\"/>\n"
              "      <action application=\"answer\"/>\n"
              "      <action application=\"set\" data=\"fax_enable_t38={=t38}\"/>\n"
              "      <action application=\"set\" data=\"fax_enable_t38_request={=t38}\"/>\n"
              "      <action application=\"set\" data=\"fax_use_ecm={=ecm}\"/>\n", kv);
    if (ident[0]) emit(&sb, "      <action application=\"set\" data=\"fax_ident={=ident}\"/>\n", kv);
    emit(&sb, "      <action application=\"set\" data=\"faxbot_rx_file={=spool}/${uuid}.tif\"/>\n", kv);
    if (s->secret[0]) {
        strbuf hook;
        sb_init(&hook);
        sb_puts(&hook, "api_hangup_hook=");
        esl_hook_inbound(&hook, s->hook_url, s->spool, s->secret);
        const char *kv2[] = {"hook", hook.data ? hook.data : "", NULL};
        emit(&sb, "      <action application=\"set\" data=\"{=hook}\"/>\n", kv2);
        sb_free(&hook);
    }
    sb_puts(&sb, "      <action application=\"playback\" data=\"silence_stream://2000\"/>\n"
                 "      <action application=\"rxfax\" data=\"${faxbot_rx_file}\"/>\n"
                 "      <action application=\"hangup\"/>\n"
                 "    </condition>\n  </extension>\n</include>\n");
    return sb_steal(&sb);
}

static char *render_event_socket(const fs_settings *s)
{
    strbuf sb;
    sb_init(&sb);
    char port[16];
    str_fmt(port, sizeof port, "%ld", s->esl_port);
    const char *kv[] = {"ip", s->esl_listen, "port", port, "pass", s->esl_pass, NULL};
    emit(&sb, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<!-- Faxbot: replaces conf/autoload_configs/event_socket.conf.xml. Holds the event-socket password\n"
              "     (FREESWITCH_ESL_PASSWORD). Only hosts in the faxbot_esl ACL list may connect. -->\n"
              "<configuration name=\"event_socket.conf\" description=\"Socket Client\">\n"
              "  <settings>\n"
              "    <param name=\"nat-map\" value=\"false\"/>\n"
              "    <param name=\"listen-ip\" value=\"{=ip}\"/>\n"
              "    <param name=\"listen-port\" value=\"{=port}\"/>\n"
              "    <param name=\"password\" value=\"{=pass}\"/>\n"
              "    <param name=\"apply-inbound-acl\" value=\"faxbot_esl\"/>\n"
              "  </settings>\n"
              "</configuration>\n", kv);
    return sb_steal(&sb);
}

static char *render_acl(const fs_settings *s)
{
    strbuf sb;
    sb_init(&sb);
    const char *kv[] = {"cidr", s->esl_acl, NULL};
    emit(&sb, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<!-- Faxbot: paste this list into the <network-lists> of conf/autoload_configs/acl.conf.xml. -->\n"
              "<include>\n"
              "  <list name=\"faxbot_esl\" default=\"deny\">\n"
              "    <node type=\"allow\" cidr=\"{=cidr}\"/>\n"
              "  </list>\n"
              "</include>\n", kv);
    return sb_steal(&sb);
}

int fs_render(fs_rendered files[FS_RENDER_FILES], char *gateway, size_t gwlen, bool *hooks, char *err, size_t errlen)
{
    static const char *const names[FS_RENDER_FILES] = {
        "sip_profiles/external/faxbot_gateway.xml", "dialplan/faxbot_outbound.xml", "dialplan/public/faxbot_inbound.xml",
        "autoload_configs/faxbot_event_socket.conf.xml", "autoload_configs/faxbot_acl.xml"};
    memset(files, 0, sizeof(fs_rendered) * FS_RENDER_FILES);
    fs_settings *s = calloc(1, sizeof *s);
    if (!s) { str_fmt(err, errlen, "out of memory"); return -1; }
    int rc = -1;
    if (load(s, err, errlen)) goto done;
    char *(*const render[FS_RENDER_FILES])(const fs_settings *) = {render_gateway, render_outbound, render_inbound,
                                                                    render_event_socket, render_acl};
    rc = 0;
    for (int i = 0; i < FS_RENDER_FILES; i++) {
        files[i].name = names[i];
        files[i].text = render[i](s);
        if (!files[i].text) rc = -1;
    }
    if (rc) {
        fs_render_free(files);
        str_fmt(err, errlen, "out of memory");
        goto done;
    }
    if (gateway) str_copy(gateway, gwlen, s->gateway);
    if (hooks) *hooks = s->secret[0] != 0;
done:
    explicit_bzero(s, sizeof *s);
    free(s);
    return rc;
}

void fs_render_free(fs_rendered files[FS_RENDER_FILES])
{
    for (int i = 0; i < FS_RENDER_FILES; i++) {
        if (files[i].text) {
            explicit_bzero(files[i].text, strlen(files[i].text));
            free(files[i].text);
        }
        files[i].text = NULL;
    }
}
