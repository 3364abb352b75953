/* backend_validate.c — the dry run behind POST /admin/settings/validate and
 * `faxbot config validate`: a candidate settings snapshot is checked as the gateway
 * would use it (the core config, then a temporary instance of the backend created
 * from it, then the backend's deep diagnostics with real round trips: provider
 * credentials, AMI login, ESL auth, the trunk), and every finding is reported
 * against the setting it is about. The temporary instance reports into a sink that
 * drops everything; nothing of the running gateway changes. */
#include "backend/backend.h"
#include "config/config.h"
#include "util/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static report_verdict ignore_report(void *ctx, const char *job_id, const backend_outcome *o)
{
    (void)ctx; (void)job_id; (void)o;
    return REPORT_REFUSED;
}
static int refuse_receive(void *ctx, const inbound_delivery *d, char *id, char *err, size_t errlen)
{
    (void)ctx; (void)d; (void)id;
    str_fmt(err, errlen, "a validation instance does not take faxes");
    return -1;
}

static void field(json_t *fields, const char *name, bool ok, const char *detail)
{
    json_object_set_new(fields, name, json_pack("{s:b,s:s}", "ok", ok, "detail", detail ? detail : ""));
}

/* The first setting named in a message (backends' errors name the variable). */
static const char *named_setting(const char *msg)
{
    const setting_def *const *rows;
    int n = settings_rows(&rows);
    const char *best = NULL;
    const char *best_at = NULL;
    for (int i = 0; i < n; i++) {
        const char *at = strstr(msg, rows[i]->name);
        if (at && (!best_at || at < best_at || (at == best_at && strlen(rows[i]->name) > strlen(best)))) {
            best = rows[i]->name;
            best_at = at;
        }
    }
    return best;
}

/* Turns a backend's diagnose report into per-field verdicts. */
static void fields_from_report(const char *be_name, json_t *rep, int rc, json_t *fields)
{
    const char *cred = json_string_value(json_object_get(rep, "credentials"));
    const char *detail = json_string_value(json_object_get(rep, "detail"));
    static const struct { const char *name, *a, *b, *host, *port, *what; } f[] = {
        {"phaxio", "PHAXIO_API_KEY", "PHAXIO_API_SECRET", "PHAXIO_API_URL", NULL, "Phaxio"},
        {"sinch", "SINCH_API_KEY", "SINCH_API_SECRET", "SINCH_BASE_URL", NULL, "Sinch"},
        {"signalwire", "SIGNALWIRE_PROJECT_ID", "SIGNALWIRE_API_TOKEN", "SIGNALWIRE_SPACE_URL", NULL, "SignalWire"},
        {"sip", "ASTERISK_AMI_USERNAME", "ASTERISK_AMI_PASSWORD", "ASTERISK_AMI_HOST", "ASTERISK_AMI_PORT", "Asterisk (AMI login)"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (strcmp(be_name, f[i].name)) continue;
        char msg[512];
        if (cred && !strcmp(cred, "ok")) {
            str_fmt(msg, sizeof msg, "accepted by %s", f[i].what);
            field(fields, f[i].a, true, msg);
            field(fields, f[i].b, true, msg);
        } else if (cred && !strcmp(cred, "rejected")) {
            str_fmt(msg, sizeof msg, "rejected by %s: check %s and %s", f[i].what, f[i].a, f[i].b);
            field(fields, f[i].a, false, msg);
            field(fields, f[i].b, false, msg);
        } else if (cred && !strcmp(cred, "missing")) {
            field(fields, f[i].a, false, detail ? detail : "not set");
            field(fields, f[i].b, false, detail ? detail : "not set");
        } else {
            str_fmt(msg, sizeof msg, "%s is not reachable%s%s", f[i].what, detail ? ": " : "", detail ? detail : "");
            field(fields, f[i].host, false, msg);
            if (f[i].port) field(fields, f[i].port, false, msg);
        }
        if (!strcmp(be_name, "sip")) {
            json_t *trunk = json_object_get(rep, "trunk");
            if (trunk) {
                char *t = json_dumps(trunk, JSON_COMPACT);
                json_t *ok = json_object_get(trunk, "ok");
                field(fields, "SIP_SERVER", !ok || json_is_true(ok), t);
                free(t);
            }
        }
        return;
    }
    if (!strcmp(be_name, "freeswitch")) {
        const char *esl = json_string_value(json_object_get(rep, "esl"));
        if (esl && !strcmp(esl, "ok")) field(fields, "FREESWITCH_ESL_PASSWORD", true, "accepted by FreeSWITCH (ESL auth)");
        else if (esl && !strcmp(esl, "auth_rejected"))
            field(fields, "FREESWITCH_ESL_PASSWORD", false, "rejected by FreeSWITCH: the ESL password is wrong");
        else {
            field(fields, "FREESWITCH_ESL_HOST", false, detail ? detail : "FreeSWITCH's event socket is not reachable");
            field(fields, "FREESWITCH_ESL_PORT", false, detail ? detail : "FreeSWITCH's event socket is not reachable");
        }
        json_t *gw = json_object_get(rep, "gateway");
        if (gw && json_is_object(gw)) {
            json_t *ok = json_object_get(gw, "ok");
            char *t = json_dumps(gw, JSON_COMPACT);
            field(fields, "FREESWITCH_GATEWAY_NAME", !ok || json_is_true(ok), t);
            free(t);
        }
        return;
    }
    if (rc) field(fields, "FAX_BACKEND", false, detail ? detail : "the backend's checks failed");
}

/* Connection-based backends log in in the background: wait (a few seconds at most)
 * until the report says something definite. */
static bool definite(json_t *rep)
{
    const char *cred = json_string_value(json_object_get(rep, "credentials"));
    const char *esl = json_string_value(json_object_get(rep, "esl"));
    if (esl) return strcmp(esl, "unreachable") != 0;
    return !cred || strcmp(cred, "unknown") != 0;
}

json_t *backend_validate(const settings_snapshot *snap)
{
    char err[1024];
    const size_t errlen = sizeof err;
    json_t *fields = json_object(), *checks = json_object();
    config cfg;
    bool ok = true;
    if (config_load_snapshot(&cfg, snap, err, errlen)) {
        const char *name = named_setting(err);
        field(fields, name ? name : "settings", false, err);
        return json_pack("{s:n,s:b,s:o,s:o,s:n}", "backend", "ok", 0, "checks", checks, "fields", fields, "test_fax");
    }
    const backend_ops *ops = backend_find(cfg.backend);
    char data_ok[8] = "false";
    if (access(cfg.data_dir, W_OK) == 0) str_copy(data_ok, sizeof data_ok, "true");
    json_object_set_new(checks, "fax_data_dir_writable", json_boolean(!strcmp(data_ok, "true")));
    if (!ops) {
        char m[512];
        backend_unknown(cfg.backend, m, sizeof m);
        field(fields, "FAX_BACKEND", false, m);
        ok = false;
    } else {
        backend_sink sink = {.report = ignore_report, .receive = refuse_receive, .ctx = NULL};
        char cerr[512] = "";
        settings_override_thread(snap);
        backend *b = ops->create(&cfg, sink, cerr, sizeof cerr);
        settings_override_thread(NULL);
        if (!b) {
            const char *name = named_setting(cerr);
            field(fields, name ? name : "FAX_BACKEND", false, cerr);
            json_object_set_new(checks, "backend_config", json_false());
            ok = false;
        } else {
            char msg[512] = "";
            bool ready = ops->check(b, msg, sizeof msg) == 0;
            json_object_set_new(checks, "backend_config", json_boolean(ready));
            if (msg[0]) json_object_set_new(checks, "backend_message", json_string(msg));
            /* a readiness problem that names a setting is that setting's verdict */
            const char *named = ready ? NULL : named_setting(msg);
            if (named) field(fields, named, false, msg);
            if (ops->diagnose) {
                json_t *rep = NULL;
                int rc = 0;
                int64_t deadline = mono_ms() + 5000;
                for (;;) {
                    json_decref(rep);
                    rep = json_object();
                    rc = ops->diagnose(b, rep);
                    if (definite(rep) || mono_ms() > deadline) break;
                    sleep_ms(150);
                }
                if (json_object_size(rep)) {
                    fields_from_report(ops->name, rep, rc, fields);
                    json_object_set(checks, "backend", rep);
                    const char *cred = json_string_value(json_object_get(rep, "credentials"));
                    json_t *esl_auth = json_object_get(rep, "auth");
                    json_object_set_new(checks, "auth", json_boolean(cred ? !strcmp(cred, "ok") : esl_auth ? json_is_true(esl_auth) : rc == 0));
                }
                json_decref(rep);
                if (rc) ok = false;
            }
            ops->destroy(b);
        }
    }
    const char *k;
    json_t *f;
    json_object_foreach(fields, k, f) if (!json_is_true(json_object_get(f, "ok"))) ok = false;
    return json_pack("{s:s,s:b,s:o,s:o,s:n}", "backend", cfg.backend, "ok", ok, "checks", checks, "fields", fields, "test_fax");
}
