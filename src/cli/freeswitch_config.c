/* freeswitch_config.c — `faxbot freeswitch-config --out DIR` (see freeswitch_config.h).
 *
 * Files written under DIR (include each from the matching FreeSWITCH folder):
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
#include "cli/freeswitch_config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "esl/esl_fax.h"
#include "util/util.h"

typedef struct fs_settings {
    char gateway[80];
    char sip_server[256], sip_user[128], sip_pass[256], from_user[128], from_domain[256], transport[8];
    char caller_id[32];
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
    char secret_ast[256];
    bool ok = config_env_str("FREESWITCH_GATEWAY_NAME", "gw_signalwire", s->gateway, sizeof s->gateway, err, errlen) == 0
              && config_env_str("SIP_SERVER", "", s->sip_server, sizeof s->sip_server, err, errlen) == 0
              && config_env_str("SIP_USERNAME", "", s->sip_user, sizeof s->sip_user, err, errlen) == 0
              && config_env_str("SIP_PASSWORD", "", s->sip_pass, sizeof s->sip_pass, err, errlen) == 0
              && config_env_str("SIP_FROM_USER", "", s->from_user, sizeof s->from_user, err, errlen) == 0
              && config_env_str("SIP_FROM_DOMAIN", "", s->from_domain, sizeof s->from_domain, err, errlen) == 0
              && config_env_str("SIP_TRANSPORT", "udp", s->transport, sizeof s->transport, err, errlen) == 0
              && config_env_str("FREESWITCH_CALLER_ID_NUMBER", "", s->caller_id, sizeof s->caller_id, err, errlen) == 0
              && config_env_bool("FREESWITCH_T38_ENABLE", true, &s->t38, err, errlen) == 0
              && config_env_bool("FREESWITCH_FAX_ECM", true, &s->ecm, err, errlen) == 0
              && config_env_str("FREESWITCH_SPOOL_DIR", "/var/spool/freeswitch/fax", s->spool, sizeof s->spool, err, errlen) == 0
              && config_env_str("FREESWITCH_ESL_LISTEN_IP", "127.0.0.1", s->esl_listen, sizeof s->esl_listen, err, errlen) == 0
              && config_env_int("FREESWITCH_ESL_PORT", 8021, 1, 65535, &s->esl_port, err, errlen) == 0
              && config_env_str("FREESWITCH_ESL_PASSWORD", "ClueCon", s->esl_pass, sizeof s->esl_pass, err, errlen) == 0
              && config_env_str("FREESWITCH_ESL_ACL", "127.0.0.1/32", s->esl_acl, sizeof s->esl_acl, err, errlen) == 0
              && config_env_str("FREESWITCH_INBOUND_SECRET", "", s->secret, sizeof s->secret, err, errlen) == 0
              && config_env_str("ASTERISK_INBOUND_SECRET", "", secret_ast, sizeof secret_ast, err, errlen) == 0
              && config_env_str("FREESWITCH_HOOK_URL", cfg.public_api_url, s->hook_url, sizeof s->hook_url, err, errlen) == 0
              && config_env_str("FREESWITCH_INBOUND_NUMBER", "", s->inbound_number, sizeof s->inbound_number, err, errlen) == 0;
    if (!ok) return -1;
    if (!s->secret[0]) str_copy(s->secret, sizeof s->secret, secret_ast);
    str_copy(s->station_id, sizeof s->station_id, cfg.station_id);
    str_copy(s->header, sizeof s->header, cfg.header_text);

    if (!esl_is_gateway_name(s->gateway)) {
        str_fmt(err, errlen, "FREESWITCH_GATEWAY_NAME may only hold letters, digits, '_', '.' and '-'");
        return -1;
    }
    if (!s->sip_server[0]) {
        str_fmt(err, errlen, "SIP_SERVER is not set: the host (and :port) of your SIP trunk provider");
        return -1;
    }
    const struct { const char *name, *val; } texts[] = {
        {"SIP_SERVER", s->sip_server}, {"SIP_USERNAME", s->sip_user}, {"SIP_PASSWORD", s->sip_pass},
        {"SIP_FROM_USER", s->from_user}, {"SIP_FROM_DOMAIN", s->from_domain}, {"FREESWITCH_ESL_PASSWORD", s->esl_pass},
        {"FREESWITCH_ESL_LISTEN_IP", s->esl_listen}, {"FREESWITCH_ESL_ACL", s->esl_acl},
        {"FAX_LOCAL_STATION_ID", s->station_id}, {"FAX_HEADER", s->header},
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
    if (s->caller_id[0] && !esl_is_number(s->caller_id)) {
        str_fmt(err, errlen, "FREESWITCH_CALLER_ID_NUMBER must be a phone number: optional + and 2 to 20 digits");
        return -1;
    }
    if (s->inbound_number[0] && !esl_is_number(s->inbound_number)) {
        str_fmt(err, errlen, "FREESWITCH_INBOUND_NUMBER must be a phone number: optional + and 2 to 20 digits");
        return -1;
    }
    if (!esl_is_safe_path(s->spool)) {
        str_fmt(err, errlen, "FREESWITCH_SPOOL_DIR must be an absolute path of letters, digits and / . _ - only");
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

/* The curl command a hook runs; json_fields holds the FreeSWITCH variable references,
 * written in the form each place needs (see render_gateway and render_inbound). */
static void hook_cmd(strbuf *sb, const fs_settings *s, const char *path, const char *json_fields)
{
    sb_appendf(sb, "system curl -s -m 10 -X POST -H 'Content-Type: application/json' -H 'X-Internal-Secret: %s' "
                   "-d '{%s}' %s%s", s->secret, json_fields, s->hook_url, path);
}

static char *render_gateway(const fs_settings *s)
{
    strbuf sb;
    sb_init(&sb);
    const char *kv[] = {"gw", s->gateway, "server", s->sip_server, "user", s->sip_user, "pass", s->sip_pass,
                        "from_user", s->from_user[0] ? s->from_user : s->sip_user, "from_domain",
                        s->from_domain[0] ? s->from_domain : s->sip_server, "transport", s->transport,
                        "register", s->sip_user[0] ? "true" : "false", NULL};
    emit(&sb, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<!-- Faxbot: the SIP trunk for faxes. Put in conf/sip_profiles/external/ (the profile needs\n"
              "     t38-passthru=true for T.38). Generated by `faxbot freeswitch-config`; holds the SIP password. -->\n"
              "<include>\n"
              "  <gateway name=\"{=gw}\">\n"
              "    <param name=\"realm\" value=\"{=server}\"/>\n"
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
    const char *kv2[] = {"t38", t38, "ecm", s->ecm ? "true" : "false", "cid", s->caller_id, NULL};
    emit(&sb, "      <variable name=\"fax_enable_t38\" value=\"{=t38}\" direction=\"outbound\"/>\n"
              "      <variable name=\"fax_use_ecm\" value=\"{=ecm}\" direction=\"outbound\"/>\n", kv2);
    if (s->caller_id[0])
        emit(&sb, "      <variable name=\"origination_caller_id_number\" value=\"{=cid}\" direction=\"outbound\"/>\n", kv2);
    if (s->secret[0]) {
        /* FreeSWITCH refuses a gateway variable holding "${" (switch_channel.c: "Invalid data
         * (${api_hangup_hook} contains a variable)"), so each reference is written $\'{name}:
         * at hangup the hook's own expansion drops the \' (leaving ${name}) and `expand`
         * then fills in the call's values. */
        strbuf hook;
        sb_init(&hook);
        sb_puts(&hook, "expand ");
        hook_cmd(&hook, s, "/_internal/freeswitch/outbound_result",
                 "\"job_id\":\"$\\'{faxbot_job_id}\",\"fax_success\":\"$\\'{fax_success}\","
                 "\"fax_result_code\":\"$\\'{fax_result_code}\","
                 "\"fax_document_transferred_pages\":\"$\\'{fax_document_transferred_pages}\","
                 "\"hangup_cause\":\"$\\'{hangup_cause}\",\"uuid\":\"$\\'{uuid}\"");
        const char *kv3[] = {"hook", hook.data ? hook.data : "", NULL};
        emit(&sb, "      <!-- reports every call's result to Faxbot, also while the event socket is down -->\n"
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
        /* `set` expands its data twice (the core, then mod_dptools) before storing it, so
         * each reference is written \\\${name}: the first pass leaves \${name}, the second
         * ${name}, and the hook fills it in at hangup, after rxfax. With one backslash the
         * values would be taken when `set` runs, before the fax (all empty). */
        char fields[600];
        str_fmt(fields, sizeof fields,
                "\"uuid\":\"\\\\\\${uuid}\",\"tiff_path\":\"%s/\\\\\\${uuid}.tif\",\"from_number\":\"\\\\\\${faxbot_from}\","
                "\"to_number\":\"\\\\\\${faxbot_to}\",\"fax_success\":\"\\\\\\${fax_success}\","
                "\"pages\":\"\\\\\\${fax_document_transferred_pages}\"", s->spool);
        sb_puts(&hook, "api_hangup_hook=");
        hook_cmd(&hook, s, "/_internal/freeswitch/inbound", fields);
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

static int write_out(const char *dir, const char *rel, char *text, char *err, size_t errlen)
{
    char path[2048], parent[2048];
    str_fmt(path, sizeof path, "%s/%s", dir, rel);
    str_copy(parent, sizeof parent, path);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = 0;
    int rc = 0;
    if (!text) {
        str_fmt(err, errlen, "out of memory");
        rc = -1;
    } else if (mkdir_p(parent, 0700) || write_file_atomic(path, text, strlen(text)) || chmod(path, 0600)) {
        str_fmt(err, errlen, "cannot write %s", path);
        rc = -1;
    } else {
        printf("  %s\n", path);
    }
    if (text) {
        memset(text, 0, strlen(text));
        free(text);
    }
    return rc;
}

int cli_freeswitch_config(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (o == 'o') out = optarg;
        else {
            fprintf(o == 'h' ? stdout : stderr, "usage: faxbot freeswitch-config --out DIR\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (!out || optind != argc) {
        fprintf(stderr, "usage: faxbot freeswitch-config --out DIR\n");
        return 2;
    }
    fs_settings *s = calloc(1, sizeof *s);
    char err[512];
    if (!s) return 1;
    int rc = 1;
    if (load(s, err, sizeof err)) {
        fprintf(stderr, "faxbot: %s\n", err);
        goto done;
    }
    if (mkdir_p(out, 0700)) {
        fprintf(stderr, "faxbot: cannot create %s\n", out);
        goto done;
    }
    printf("FreeSWITCH configuration for gateway %s written (mode 0600; some files hold secrets):\n", s->gateway);
    if (write_out(out, "sip_profiles/external/faxbot_gateway.xml", render_gateway(s), err, sizeof err)
        || write_out(out, "dialplan/faxbot_outbound.xml", render_outbound(s), err, sizeof err)
        || write_out(out, "dialplan/public/faxbot_inbound.xml", render_inbound(s), err, sizeof err)
        || write_out(out, "autoload_configs/faxbot_event_socket.conf.xml", render_event_socket(s), err, sizeof err)
        || write_out(out, "autoload_configs/faxbot_acl.xml", render_acl(s), err, sizeof err)) {
        fprintf(stderr, "faxbot: %s\n", err);
        goto done;
    }
    if (!s->secret[0])
        printf("note: FREESWITCH_INBOUND_SECRET (or ASTERISK_INBOUND_SECRET) is not set, so no result hooks were\n"
               "      rendered: results come over the event socket only and inbound faxes are not reported.\n");
    printf("Copy each file into the same folder under FreeSWITCH's conf/ directory, merge the ACL list\n"
           "into acl.conf.xml, load mod_spandsp, and run `reloadxml` and `sofia profile external rescan`.\n");
    rc = 0;
done:
    memset(s, 0, sizeof *s);
    free(s);
    return rc;
}
