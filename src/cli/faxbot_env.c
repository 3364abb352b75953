/* faxbot_env.c — `faxbot doctor --from-faxbot FILE`: reads a Faxbot .env and says,
 * variable by variable, what carries over unchanged, what is renamed (the old name
 * still works) and what needs action, then checks the whole file the way `serve`
 * would read it. Faxbot's variables and their meaning: FAXBOT.md §4. */
#include "cli/faxbot_env.h"
#include "config/config.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { CARRY, RENAMED, ACTION, IGNORED } verdict;

typedef struct env_var { char *name, *value; } env_var;

/* What becomes of one Faxbot variable; note is filled for anything but CARRY. */
typedef struct rule {
    const char *name;            /* exact, or a prefix ending in '*' */
    verdict v;
    const char *note;
} rule;

static const rule rules[] = {
    {"PHAXIO_CALLBACK_URL", RENAMED, "PHAXIO_STATUS_CALLBACK_URL (the old name is still read)"},
    {"SIGNALWIRE_CALLBACK_URL", RENAMED, "SIGNALWIRE_STATUS_CALLBACK_URL (the old name is still read)"},
    {"SINCH_INBOUND_BASIC_USER", RENAMED, "SINCH_WEBHOOK_USER (the old name is still read)"},
    {"SINCH_INBOUND_BASIC_PASS", RENAMED, "SINCH_WEBHOOK_PASSWORD (the old name is still read)"},
    {"SINCH_INBOUND_VERIFY_SIGNATURE", IGNORED, "Faxbot never read it; /sinch-inbound is authenticated by "
                                                "SINCH_INBOUND_BASIC_USER/PASS and/or SINCH_INBOUND_HMAC_SECRET"},
    {"SINCH_INBOUND_HMAC_SECRET", ACTION, "Sinch does not sign fax webhooks: keep it only if a relay adds "
                                          "X-Sinch-Signature; use SINCH_INBOUND_BASIC_USER/PASS in the "
                                          "incomingWebhookUrl instead"},
    {"SIGNALWIRE_SMS_FROM_E164", IGNORED, "unused (Faxbot did not use it either)"},
    {"SIGNALWIRE_STATUS_POLL_SECONDS", IGNORED, "unused; late results are polled on their own"},
    {"DOCUMO_*", ACTION, "Documo is not supported (Faxbot had no sender for it either): choose another backend"},
    {"ENABLE_S3_DIAGNOSTICS", IGNORED, "S3 is checked by faxbot doctor and /health/ready"},
    {"S3_*", CARRY, NULL},
    {"AWS_*", CARRY, NULL},
    {"ENABLE_LOCAL_ADMIN", IGNORED, "there is no admin web UI; the admin API needs an admin key"},
    {"ADMIN_ALLOW_RESTART", IGNORED, "no restart over the API; restart the service"},
    {"ENABLE_PERSISTED_SETTINGS", IGNORED, "settings come from the environment only"},
    {"PERSISTED_ENV_PATH", IGNORED, "settings come from the environment only"},
    {"DOCS_BASE_URL", IGNORED, "branding is not configurable"},
    {"FEATURE_*", IGNORED, "no plugin system"},
    {"ENABLE_MCP_*", IGNORED, "the MCP server is configured separately"},
    {"REQUIRE_MCP_OAUTH", IGNORED, "the MCP server is configured separately"},
    {"OAUTH_*", IGNORED, "the MCP server is configured separately"},
    {"TZ", IGNORED, "Asterisk container setting; the gateway logs UTC"},
    {"FREESWITCH_*", CARRY, NULL},
    {"ASTERISK_*", CARRY, NULL},
    {"SIP_*", CARRY, NULL},
    {"PHAXIO_*", CARRY, NULL},
    {"SINCH_*", CARRY, NULL},
    {"SIGNALWIRE_*", CARRY, NULL},
    {"INBOUND_*", CARRY, NULL},
    {"AUDIT_LOG_*", CARRY, NULL},
    {"FAX_*", CARRY, NULL},
    {"API_KEY", CARRY, NULL},
    {"REQUIRE_API_KEY", CARRY, NULL},
    {"PUBLIC_API_URL", CARRY, NULL},
    {"ENFORCE_PUBLIC_HTTPS", CARRY, NULL},
    {"DATABASE_URL", CARRY, NULL},
    {"MAX_FILE_SIZE_MB", CARRY, NULL},
    {"MAX_REQUESTS_PER_MINUTE", CARRY, NULL},
    {"PDF_TOKEN_TTL_MINUTES", CARRY, NULL},
    {"ARTIFACT_TTL_DAYS", CARRY, NULL},
    {"STORAGE_BACKEND", CARRY, NULL},
};

static const rule *rule_for(const char *name)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        size_t n = strlen(rules[i].name);
        if (rules[i].name[n - 1] == '*' ? !strncmp(name, rules[i].name, n - 1) : !strcmp(name, rules[i].name))
            return &rules[i];
    }
    return NULL;
}

static const char *get(env_var *vars, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(vars[i].name, name)) return vars[i].value;
    return NULL;
}

/* Value-dependent advice for variables that carry over by name: NULL if none. */
static const char *value_advice(env_var *vars, int n, const char *name, const char *value, char *buf, size_t len)
{
    const char *backend = get(vars, n, "FAX_BACKEND");
    if (!strcmp(name, "FAX_BACKEND") && !strcasecmp(value, "documo"))
        return "documo is not supported: choose phaxio, sinch, signalwire, sip or freeswitch";
    if (!strcmp(name, "ASTERISK_AMI_PASSWORD") && !strcmp(value, "changeme"))
        return "Faxbot's default AMI password (changeme): set a real one (faxbot asterisk-config writes manager.conf with it)";
    if (!strcmp(name, "STORAGE_BACKEND") && strncasecmp(value, "local", 5) && strncasecmp(value, "s3", 2))
        return "STORAGE_BACKEND is local or s3";
    if (!strcmp(name, "DATABASE_URL") && strncmp(value, "sqlite:///", 10) && strncmp(value, "postgresql://", 13) &&
        strncmp(value, "postgres://", 11))
        return "SQLite (sqlite:///path/to/faxbot.db) or PostgreSQL (postgresql://user:password@host/db) only";
    if (!strcmp(name, "PHAXIO_VERIFY_SIGNATURE") && !strcasecmp(value, "false"))
        return "status callbacks are accepted unsigned: set PHAXIO_CALLBACK_TOKEN (Phaxio console, Settings > "
               "Webhooks, \"Webhook Token\") and remove this line";
    if (!strcmp(name, "ASTERISK_INBOUND_SECRET") && backend && !strcasecmp(backend, "freeswitch")) {
        str_fmt(buf, len, "renamed for FreeSWITCH to FREESWITCH_INBOUND_SECRET (this one is still accepted)");
        return buf;
    }
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = 0;
    return s;
}

/* KEY=VALUE lines; "export " prefixes, quotes and trailing " # comments" removed. */
static int parse_env(char *text, env_var *vars, int max)
{
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        line = trim(line);
        if (!*line || *line == '#') continue;
        if (!strncmp(line, "export ", 7)) line = trim(line + 7);
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        char *value = trim(eq + 1);
        if ((*value == '"' || *value == '\'') && strrchr(value + 1, *value)) {
            *strrchr(value + 1, *value) = 0;
            value++;
        } else {
            char *hash = strstr(value, " #");
            if (hash) *hash = 0;
            value = trim(value);
        }
        vars[n].name = trim(line);
        vars[n].value = value;
        n++;
    }
    return n;
}

int faxbot_env_report(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (read_file_all(path, &text, &len, 1 << 20)) {
        fprintf(stderr, "faxbot: cannot read %s\n", path);
        return 2;
    }
    env_var vars[256];
    int n = parse_env(text, vars, 256);
    int actions = 0;
    char buf[256];
    printf("Faxbot .env %s: %d variables\n", path, n);
    for (int i = 0; i < n; i++) {
        const rule *r = rule_for(vars[i].name);
        const char *advice = value_advice(vars, n, vars[i].name, vars[i].value, buf, sizeof buf);
        if (advice && !strncmp(advice, "renamed", 7)) {
            printf("%-13s %-34s %s\n", "renamed", vars[i].name, advice);
        } else if (advice) {
            printf("%-13s %-34s %s\n", "needs action", vars[i].name, advice);
            actions++;
        } else if (!r) {
            printf("%-13s %-34s unknown to this gateway: ignored\n", "ignored", vars[i].name);
        } else {
            static const char *const label[] = {"carries over", "renamed", "needs action", "ignored"};
            printf("%-13s %-34s %s\n", label[r->v], vars[i].name, r->note ? r->note : "same name, same meaning");
            if (r->v == ACTION) actions++;
        }
    }
    /* What the file lacks that Faxbot did not need. */
    const char *backend = get(vars, n, "FAX_BACKEND");
    if (!backend || !*backend) {
        printf("%-13s %-34s Faxbot defaulted to phaxio; here the one provider whose credentials are set is used "
               "(several: refused), none means the loopback test engine: set FAX_BACKEND\n", "needs action",
               "FAX_BACKEND (missing)");
        actions++;
    }
    if (backend && !strcasecmp(backend, "sip")) {
        printf("%-13s %-34s Faxbot's extensions.conf ([faxout] s, [faxsend]) is not what the gateway originates into "
               "(faxout,send with a faxbot-result hangup handler): render ours with `faxbot asterisk-config --out DIR` "
               "and install it (an old FaxResult UserEvent's Status/Error/Pages are still understood)\n",
               "needs action", "(Asterisk dialplan)");
        actions++;
    }
    bool phaxio = backend ? !strcasecmp(backend, "phaxio") : get(vars, n, "PHAXIO_API_KEY") != NULL;
    const char *verify = get(vars, n, "PHAXIO_VERIFY_SIGNATURE");
    if (phaxio && !get(vars, n, "PHAXIO_CALLBACK_TOKEN") && !(verify && !strcasecmp(verify, "false"))) {
        printf("%-13s %-34s Phaxio signs callbacks with the webhook token, not the API secret: copy it from the "
               "Phaxio console, Settings > Webhooks (\"Webhook Token\")\n", "needs action",
               "PHAXIO_CALLBACK_TOKEN (missing)");
        actions++;
    }
    /* The whole file as `faxbot serve` would read it. */
    char **envp = calloc((size_t)n + 1, sizeof *envp);
    for (int i = 0; envp && i < n; i++) {
        size_t l = strlen(vars[i].name) + strlen(vars[i].value) + 2;
        envp[i] = malloc(l);
        if (envp[i]) snprintf(envp[i], l, "%s=%s", vars[i].name, vars[i].value);
    }
    static config cfg;
    char err[1024];
    if (envp && config_load_from(&cfg, envp, err, sizeof err)) {
        printf("%-13s %-34s %s\n", "needs action", "(the whole file)", err);
        actions++;
    } else if (envp) {
        printf("%-13s %-34s %s\n", "ok", "(the whole file)", cfg.backend_origin);
    }
    for (int i = 0; envp && i < n; i++) free(envp[i]);
    free(envp);
    free(text);
    printf("%d variable%s need%s action\n", actions, actions == 1 ? "" : "s", actions == 1 ? "s" : "");
    return actions ? 1 : 0;
}
