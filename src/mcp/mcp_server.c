/* mcp_server.c — answers MCP requests (see mcp_server.h). Two eras meet here: a
 * legacy client starts with initialize and gets the revision it asked for when we
 * speak it (else our newest legacy one); a 2026-07-28 client sends no initialize
 * and puts its revision and capabilities in every request's _meta, which is
 * checked on each request (unknown revision: -32022 with the supported list). */
#include "mcp/mcp_server.h"
#include "mcp/mcp_tools.h"
#include "auth/audit.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mcp_stats g_mcp_stats;

#define SERVER_NAME "faxbot"
#define SERVER_VERSION "0.1.0"
#define INSTRUCTIONS                                                                                   \
    "Faxbot sends and receives faxes. send_fax takes a number and a document (fileContent base64 "     \
    "with fileName, or an https fileUrl); follow a job with get_fax_status until SUCCESS or FAILED. "  \
    "Received faxes: list_inbound, then get_inbound_pdf."

void mcp_reply_free(mcp_reply *r)
{
    if (!r) return;
    json_decref(r->json);
    free(r->data);
    r->json = NULL;
    r->data = NULL;
    r->len = 0;
}

void mcp_reply_fail(mcp_reply *r, int status, const char *fmt, ...)
{
    r->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

static json_t *capabilities(void)
{
    return json_pack("{s:{s:b},s:{s:b,s:b},s:{}}", "tools", "listChanged", 0, "resources", "subscribe", 0,
                     "listChanged", 0, "logging");
}

static json_t *server_info(void)
{
    return json_pack("{s:s,s:s,s:s}", "name", SERVER_NAME, "title", "Faxbot", "version", SERVER_VERSION);
}

static json_t *do_initialize(mcp_session *s, const mcp_message *m)
{
    json_t *pv = json_object_get(m->params, "protocolVersion");
    if (!json_is_string(pv)) return mcp_error(m->id, MCP_ERR_INVALID_PARAMS, "initialize needs params.protocolVersion", NULL);
    const char *v = mcp_negotiate(json_string_value(pv));
    str_copy(s->version, sizeof s->version, v);
    const char *cname = json_string_value(json_object_get(json_object_get(m->params, "clientInfo"), "name"));
    str_copy(s->client_name, sizeof s->client_name, cname ? cname : "");
    json_t *r = json_object();
    json_object_set_new(r, "protocolVersion", json_string(v));
    json_object_set_new(r, "capabilities", capabilities());
    json_object_set_new(r, "serverInfo", server_info());
    json_object_set_new(r, "instructions", json_string(INSTRUCTIONS));
    return mcp_result(m->id, r);
}

static json_t *do_discover(const mcp_message *m)
{
    json_t *r = json_object();
    json_object_set_new(r, "supportedVersions", mcp_versions_json());
    json_object_set_new(r, "capabilities", capabilities());
    json_object_set_new(r, "instructions", json_string(INSTRUCTIONS));
    json_t *meta = json_object();
    json_object_set_new(meta, MCP_META_SERVER_INFO, server_info());
    json_object_set_new(r, "_meta", meta);
    return r;
}

bool mcp_is_long_call(const mcp_message *m)
{
    if (!m || m->kind != MCP_MSG_REQUEST || strcmp(m->method, "tools/call")) return false;
    mcp_meta meta;
    mcp_meta_read(m->params, &meta);
    const char *name = json_string_value(json_object_get(m->params, "name"));
    return meta.progress_token && name && !strcmp(name, "send_fax");
}

static json_t *protocol_error(const mcp_message *m, int code, const char *msg)
{
    atomic_fetch_add(&g_mcp_stats.errors, 1);
    return mcp_error(m->id, code, msg, NULL);
}

static void count_transport(const mcp_call_ctx *cx)
{
    const char *t = cx->transport ? cx->transport : "";
    int i = !strcmp(t, "stdio") ? 0 : !strcmp(t, "sse") ? 2 : 1;
    atomic_fetch_add(&g_mcp_stats.by_transport[i], 1);
}

json_t *mcp_handle(mcp_session *s, const mcp_message *m, const mcp_call_ctx *cx)
{
    count_transport(cx);
    if (m->kind == MCP_MSG_RESPONSE) return NULL;       /* we send no requests; nothing to match */
    if (m->kind == MCP_MSG_NOTIFICATION) {
        atomic_fetch_add(&g_mcp_stats.notifications, 1);
        if (!strcmp(m->method, "notifications/initialized")) s->initialized = true;
        return NULL;                                     /* cancelled, roots changed…: nothing to do */
    }
    atomic_fetch_add(&g_mcp_stats.requests, 1);
    const char *method = m->method;
    if (!strcmp(method, "initialize")) return do_initialize(s, m);

    mcp_meta meta;
    mcp_meta_read(m->params, &meta);
    bool stateless = false;
    if (meta.has_version) {
        /* the 2026-07-28 form: the request names its revision itself */
        if (!meta.version || !mcp_version_known(meta.version) || !mcp_version_stateless(meta.version)) {
            atomic_fetch_add(&g_mcp_stats.errors, 1);
            return mcp_error_unsupported_version(m->id, meta.version);
        }
        if (!meta.client_caps)
            return protocol_error(m, MCP_ERR_INVALID_PARAMS, "params._meta needs \"" MCP_META_CLIENT_CAPS "\" (an object)");
        if (cx->header_version && strcmp(cx->header_version, meta.version))
            return protocol_error(m, MCP_ERR_INVALID_PARAMS, "MCP-Protocol-Version header and params._meta disagree");
        stateless = true;
    }
    json_t *result = NULL;
    if (!strcmp(method, "server/discover")) {
        result = do_discover(m);
    } else if (!strcmp(method, "ping")) {
        result = json_object();
    } else if (!strcmp(method, "logging/setLevel")) {
        result = json_object();
    } else if (!strcmp(method, "tools/list")) {
        result = json_object();
        json_object_set_new(result, "tools", mcp_tools_list());
    } else if (!strcmp(method, "tools/call")) {
        json_t *name = json_object_get(m->params, "name");
        if (!json_is_string(name)) return protocol_error(m, MCP_ERR_INVALID_PARAMS, "tools/call needs params.name");
        int code = 0;
        char msg[256];
        atomic_fetch_add(&g_mcp_stats.tool_calls, 1);
        result = mcp_tool_call(json_string_value(name), json_object_get(m->params, "arguments"), meta.progress_token, cx,
                               &code, msg, sizeof msg);
        if (!result) return protocol_error(m, code, msg);
        bool is_err = json_is_true(json_object_get(result, "isError"));
        if (is_err) atomic_fetch_add(&g_mcp_stats.tool_errors, 1);
        audit_event("mcp_tool_call", "tool", json_string_value(name), "key_id", cx->principal ? cx->principal : "",
                    "transport", cx->transport ? cx->transport : "", "outcome", is_err ? "error" : "ok", NULL);
    } else if (!strcmp(method, "resources/list")) {
        result = json_object();
        json_object_set_new(result, "resources", mcp_resources_list(cx));
    } else if (!strcmp(method, "resources/templates/list")) {
        result = json_object();
        json_object_set_new(result, "resourceTemplates", mcp_resource_templates());
    } else if (!strcmp(method, "resources/read")) {
        const char *uri = json_string_value(json_object_get(m->params, "uri"));
        if (!uri) return protocol_error(m, MCP_ERR_INVALID_PARAMS, "resources/read needs params.uri");
        int code = 0;
        char msg[600];
        result = mcp_resource_read(uri, cx, &code, msg, sizeof msg);
        if (!result) return protocol_error(m, code, msg);
    } else if (!strcmp(method, "prompts/list")) {
        result = json_pack("{s:[]}", "prompts");
    } else {
        char msg[160];
        str_fmt(msg, sizeof msg, "Method not found: %.100s", method);
        return protocol_error(m, MCP_ERR_METHOD_NOT_FOUND, msg);
    }
    if (stateless) {
        json_object_set_new(result, "resultType", json_string("complete"));
        if (!strcmp(method, "tools/list") || !strcmp(method, "resources/list") || !strcmp(method, "resources/templates/list")) {
            json_object_set_new(result, "ttlMs", json_integer(!strcmp(method, "resources/list") ? 0 : 3600000));
            json_object_set_new(result, "cacheScope", json_string(!strcmp(method, "resources/list") ? "user" : "global"));
        }
    }
    return mcp_result(m->id, result);
}

json_t *mcp_handle_text(mcp_session *s, const char *text, size_t len, const mcp_call_ctx *cx)
{
    mcp_message m;
    int code = 0;
    char msg[256];
    json_t *err_id = NULL;
    if (mcp_parse(text, len, &m, &code, msg, sizeof msg, &err_id)) {
        atomic_fetch_add(&g_mcp_stats.errors, 1);
        json_t *e = mcp_error(err_id, code, msg, NULL);
        json_decref(err_id);
        return e;
    }
    json_t *out = mcp_handle(s, &m, cx);
    mcp_message_free(&m);
    return out;
}

void mcp_metrics(strbuf *sb)
{
    sb_appendf(sb,
               "# HELP faxbot_mcp_requests_total MCP requests answered (all transports).\n"
               "# TYPE faxbot_mcp_requests_total counter\n"
               "faxbot_mcp_requests_total %llu\n"
               "# HELP faxbot_mcp_errors_total MCP requests answered with a JSON-RPC error.\n"
               "# TYPE faxbot_mcp_errors_total counter\n"
               "faxbot_mcp_errors_total %llu\n"
               "# HELP faxbot_mcp_tool_calls_total MCP tool calls, and those that ended with isError.\n"
               "# TYPE faxbot_mcp_tool_calls_total counter\n"
               "faxbot_mcp_tool_calls_total{outcome=\"ok\"} %llu\n"
               "faxbot_mcp_tool_calls_total{outcome=\"error\"} %llu\n"
               "# HELP faxbot_mcp_messages_total MCP messages received, by transport.\n"
               "# TYPE faxbot_mcp_messages_total counter\n"
               "faxbot_mcp_messages_total{transport=\"stdio\"} %llu\n"
               "faxbot_mcp_messages_total{transport=\"http\"} %llu\n"
               "faxbot_mcp_messages_total{transport=\"sse\"} %llu\n",
               (unsigned long long)atomic_load(&g_mcp_stats.requests), (unsigned long long)atomic_load(&g_mcp_stats.errors),
               (unsigned long long)(atomic_load(&g_mcp_stats.tool_calls) - atomic_load(&g_mcp_stats.tool_errors)),
               (unsigned long long)atomic_load(&g_mcp_stats.tool_errors),
               (unsigned long long)atomic_load(&g_mcp_stats.by_transport[0]),
               (unsigned long long)atomic_load(&g_mcp_stats.by_transport[1]),
               (unsigned long long)atomic_load(&g_mcp_stats.by_transport[2]));
}
