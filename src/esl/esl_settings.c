/* esl_settings.c — see esl_settings.h. */
#include "esl/esl_settings.h"
#include "config/settings.h"
#include "esl/esl_fax.h"
#include "util/util.h"

#include <string.h>

const setting_def esl_settings_rows[] = {
    SETTING_ROW_STR("freeswitch", "FREESWITCH_ESL_HOST", "127.0.0.1", "ESL connection", "FreeSWITCH host"),
    SETTING_ROW_INT("freeswitch", "FREESWITCH_ESL_PORT", "8021", 1, 65535, "ESL connection, event_socket.conf", "ESL port"),
    SETTING_ROW_SECRET("freeswitch", "FREESWITCH_ESL_PASSWORD", "ESL auth, event_socket.conf", "ESL password (FreeSWITCH's default is ClueCon)"),
    SETTING_ROW_STR("freeswitch", "FREESWITCH_ESL_LISTEN_IP", "127.0.0.1", "event_socket.conf listen-ip", "where ESL listens"),
    SETTING_ROW_STR("freeswitch", "FREESWITCH_ESL_ACL", "127.0.0.1/32", "event_socket.conf apply-inbound-acl", "who may connect"),
    SETTING_ROW_STR("freeswitch", "FREESWITCH_GATEWAY_NAME", "gw_signalwire", "originate sofia/gateway/<name>, gateway XML", "sofia gateway"),
    SETTING_ROW_STR("freeswitch", "FREESWITCH_CALLER_ID_NUMBER", "", "origination_caller_id_number", "caller id"),
    SETTING_ROW_BOOL("freeswitch", "FREESWITCH_T38_ENABLE", "true", "originate variables", "T.38"),
    SETTING_ROW_BOOL("freeswitch", "FREESWITCH_FAX_ECM", "true", "originate variables", "error correction mode"),
    SETTING_ROW_INT("freeswitch", "FREESWITCH_ORIGINATE_TIMEOUT", "60", 5, 600, "originate_timeout", "seconds"),
    SETTING_ROW_INT("freeswitch", "FREESWITCH_MAX_CHANNELS", "0", 0, 10000, "backend capacity", "0 = no cap"),
    SETTING_ROW_STR("freeswitch", "FREESWITCH_SPOOL_DIR", "/var/spool/freeswitch/fax", "txfax/rxfax files", "spool shared with FreeSWITCH"),
    SETTING_ROW_SECRET("freeswitch", "FREESWITCH_INBOUND_SECRET", "X-Internal-Secret of the hooks", "default ASTERISK_INBOUND_SECRET"),
    SETTING_ROW_STR("freeswitch", "FREESWITCH_HOOK_URL", "", "dialplan curl hooks", "default PUBLIC_API_URL"),
    SETTING_ROW_STR("freeswitch", "FREESWITCH_INBOUND_NUMBER", "", "dialplan inbound extension", "the DID that receives faxes"),
    SETTING_ROW_STR("freeswitch", "FREESWITCH_CONFIG_DIR", "", "apply", "where apply writes FreeSWITCH's XML (unset: not written)"),
    SETTING_END,
};

static void hook_cmd(strbuf *sb, const char *hook_url, const char *secret, const char *path, const char *json_fields)
{
    sb_appendf(sb, "system curl -s -m 10 -X POST -H 'Content-Type: application/json' -H 'X-Internal-Secret: %s' "
                   "-d '{%s}' %s%s", secret, json_fields, hook_url, path);
}

/* FreeSWITCH refuses a gateway variable holding "${" (switch_channel.c: "Invalid data
 * (${api_hangup_hook} contains a variable)"), so each reference is written $\'{name}:
 * at hangup the hook's own expansion drops the \' (leaving ${name}) and `expand`
 * then fills in the call's values. */
void esl_hook_outbound(strbuf *sb, const char *hook_url, const char *secret)
{
    sb_puts(sb, "expand ");
    hook_cmd(sb, hook_url, secret, "/_internal/freeswitch/outbound_result",
             "\"job_id\":\"$\\'{faxbot_job_id}\",\"fax_success\":\"$\\'{fax_success}\","
             "\"fax_result_code\":\"$\\'{fax_result_code}\","
             "\"fax_document_transferred_pages\":\"$\\'{fax_document_transferred_pages}\","
             "\"hangup_cause\":\"$\\'{hangup_cause}\",\"uuid\":\"$\\'{uuid}\"");
}

/* `set` expands its data twice (the core, then mod_dptools) before storing it, so
 * each reference is written \\\${name}: the first pass leaves \${name}, the second
 * ${name}, and the hook fills it in at hangup, after rxfax. With one backslash the
 * values would be taken when `set` runs, before the fax (all empty). */
void esl_hook_inbound(strbuf *sb, const char *hook_url, const char *spool_dir, const char *secret)
{
    char fields[1400];
    str_fmt(fields, sizeof fields,
            "\"uuid\":\"\\\\\\${uuid}\",\"tiff_path\":\"%s/\\\\\\${uuid}.tif\",\"from_number\":\"\\\\\\${faxbot_from}\","
            "\"to_number\":\"\\\\\\${faxbot_to}\",\"fax_success\":\"\\\\\\${fax_success}\","
            "\"pages\":\"\\\\\\${fax_document_transferred_pages}\"", spool_dir);
    hook_cmd(sb, hook_url, secret, "/_internal/freeswitch/inbound", fields);
}

const char *esl_settings_secret(const esl_settings *s)
{
    return s->secret_fs[0] ? s->secret_fs : s->secret_ast;
}

int esl_settings_load(esl_settings *s, const char *public_api_url, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    bool ok = setting_str("FREESWITCH_ESL_HOST", s->host, sizeof s->host, err, errlen) == 0
              && setting_int("FREESWITCH_ESL_PORT", &s->port, err, errlen) == 0
              && setting_str_or("FREESWITCH_ESL_PASSWORD", "ClueCon", s->password, sizeof s->password, err, errlen) == 0
              && setting_str("FREESWITCH_ESL_LISTEN_IP", s->listen_ip, sizeof s->listen_ip, err, errlen) == 0
              && setting_str("FREESWITCH_ESL_ACL", s->acl, sizeof s->acl, err, errlen) == 0
              && setting_str("FREESWITCH_GATEWAY_NAME", s->gateway, sizeof s->gateway, err, errlen) == 0
              && setting_str("FREESWITCH_CALLER_ID_NUMBER", s->caller_id, sizeof s->caller_id, err, errlen) == 0
              && setting_bool("FREESWITCH_T38_ENABLE", &s->t38, err, errlen) == 0
              && setting_bool("FREESWITCH_FAX_ECM", &s->ecm, err, errlen) == 0
              && setting_int("FREESWITCH_ORIGINATE_TIMEOUT", &s->originate_timeout, err, errlen) == 0
              && setting_int("FREESWITCH_MAX_CHANNELS", &s->max_channels, err, errlen) == 0
              && setting_str("FREESWITCH_SPOOL_DIR", s->spool_dir, sizeof s->spool_dir, err, errlen) == 0
              && setting_str("FREESWITCH_INBOUND_SECRET", s->secret_fs, sizeof s->secret_fs, err, errlen) == 0
              && setting_str("ASTERISK_INBOUND_SECRET", s->secret_ast, sizeof s->secret_ast, err, errlen) == 0
              && setting_str_or("FREESWITCH_HOOK_URL", public_api_url ? public_api_url : "", s->hook_url,
                                sizeof s->hook_url, err, errlen) == 0
              && setting_str("FREESWITCH_INBOUND_NUMBER", s->inbound_number, sizeof s->inbound_number, err, errlen) == 0
              && setting_str("FREESWITCH_CONFIG_DIR", s->config_dir, sizeof s->config_dir, err, errlen) == 0;
    if (!ok) return -1;
    if (strpbrk(s->password, "\r\n")) {
        str_fmt(err, errlen, "FREESWITCH_ESL_PASSWORD must be one line");
        return -1;
    }
    if (!esl_is_gateway_name(s->gateway)) {
        str_fmt(err, errlen, "FREESWITCH_GATEWAY_NAME may only hold letters, digits, '_', '.' and '-' (1 to 64)");
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
    if (!esl_is_safe_path(s->spool_dir)) {
        str_fmt(err, errlen, "FREESWITCH_SPOOL_DIR must be an absolute path of letters, digits and / . _ - only");
        return -1;
    }
    if (s->config_dir[0] && s->config_dir[0] != '/') {
        str_fmt(err, errlen, "FREESWITCH_CONFIG_DIR must be an absolute path");
        return -1;
    }
    size_t ul = strlen(s->hook_url);
    while (ul && s->hook_url[ul - 1] == '/') s->hook_url[--ul] = 0;
    return 0;
}
