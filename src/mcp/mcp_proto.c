/* mcp_proto.c — JSON-RPC 2.0 framing for MCP (see mcp_proto.h). Everything here is a
 * pure function over bytes or JSON values, so it is unit-tested and fuzzed alone. */
#include "mcp/mcp_proto.h"
#include "util/util.h"

#include <string.h>

const char *const mcp_versions[] = {"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL};

bool mcp_version_known(const char *v)
{
    if (!v) return false;
    for (int i = 0; mcp_versions[i]; i++)
        if (!strcmp(v, mcp_versions[i])) return true;
    return false;
}

bool mcp_version_stateless(const char *v)
{
    return v && mcp_version_known(v) && strcmp(v, "2026-07-28") >= 0;
}

const char *mcp_negotiate(const char *requested)
{
    if (mcp_version_known(requested) && !mcp_version_stateless(requested)) {
        for (int i = 0; mcp_versions[i]; i++)
            if (!strcmp(requested, mcp_versions[i])) return mcp_versions[i];
    }
    return MCP_VERSION_LATEST_LEGACY;
}

json_t *mcp_versions_json(void)
{
    json_t *a = json_array();
    for (int i = 0; mcp_versions[i]; i++) json_array_append_new(a, json_string(mcp_versions[i]));
    return a;
}

static bool id_ok(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

int mcp_parse(const char *text, size_t len, mcp_message *out, int *code, char *msg, size_t msglen, json_t **err_id)
{
    memset(out, 0, sizeof *out);
    *err_id = NULL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) {
        *code = MCP_ERR_PARSE;
        str_fmt(msg, msglen, "Parse error: %s", je.text);
        return -1;
    }
    if (json_is_array(root)) {
        json_decref(root);
        *code = MCP_ERR_INVALID_REQUEST;
        str_fmt(msg, msglen, "Invalid Request: JSON-RPC batches are not supported; send one message at a time");
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *code = MCP_ERR_INVALID_REQUEST;
        str_fmt(msg, msglen, "Invalid Request: a message must be a JSON object");
        return -1;
    }
    json_t *id = json_object_get(root, "id");
    if (id && id_ok(id)) *err_id = json_deep_copy(id);
    const char *why = NULL;
    json_t *ver = json_object_get(root, "jsonrpc");
    json_t *method = json_object_get(root, "method");
    json_t *params = json_object_get(root, "params");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0")) why = "\"jsonrpc\" must be \"2.0\"";
    else if (id && !id_ok(id)) why = "\"id\" must be a string or an integer";
    else if (method) {
        if (!json_is_string(method) || !json_string_length(method)) why = "\"method\" must be a non-empty string";
        else if (params && !json_is_object(params)) why = "\"params\" must be an object";
    } else if (!id) {
        why = "a message needs a \"method\" (request, notification) or an \"id\" (response)";
    } else if (!json_object_get(root, "result") && !json_object_get(root, "error")) {
        why = "a response needs \"result\" or \"error\"";
    }
    if (why) {
        json_decref(root);
        *code = MCP_ERR_INVALID_REQUEST;
        str_fmt(msg, msglen, "Invalid Request: %s", why);
        return -1;
    }
    json_decref(*err_id);        /* only an error answer needs its own copy */
    *err_id = NULL;
    out->root = root;
    out->id = id;
    if (method) {
        out->kind = id ? MCP_MSG_REQUEST : MCP_MSG_NOTIFICATION;
        out->method = json_string_value(method);
        out->params = params;
    } else {
        out->kind = MCP_MSG_RESPONSE;
    }
    return 0;
}

void mcp_message_free(mcp_message *m)
{
    if (!m) return;
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

void mcp_meta_read(const json_t *params, mcp_meta *out)
{
    memset(out, 0, sizeof *out);
    json_t *meta = json_object_get(params, "_meta");
    if (!json_is_object(meta)) return;
    json_t *v = json_object_get(meta, MCP_META_VERSION);
    if (v) {
        out->has_version = true;
        out->version = json_is_string(v) ? json_string_value(v) : NULL;
    }
    json_t *caps = json_object_get(meta, MCP_META_CLIENT_CAPS);
    if (json_is_object(caps)) out->client_caps = caps;
    json_t *pt = json_object_get(meta, "progressToken");
    if (id_ok(pt)) out->progress_token = pt;
}

static json_t *envelope(const json_t *id)
{
    json_t *o = json_object();
    json_object_set_new(o, "jsonrpc", json_string("2.0"));
    json_object_set_new(o, "id", id ? json_deep_copy(id) : json_null());
    return o;
}

json_t *mcp_result(const json_t *id, json_t *result)
{
    json_t *o = envelope(id);
    json_object_set_new(o, "result", result ? result : json_object());
    return o;
}

json_t *mcp_error(const json_t *id, int code, const char *msg, json_t *data)
{
    json_t *o = envelope(id);
    json_t *e = json_object();
    json_object_set_new(e, "code", json_integer(code));
    json_t *m = msg ? json_string(msg) : NULL;     /* NULL too when msg is not UTF-8 */
    json_object_set_new(e, "message", m ? m : json_string("error"));
    if (data) json_object_set_new(e, "data", data);
    json_object_set_new(o, "error", e);
    return o;
}

json_t *mcp_notification(const char *method, json_t *params)
{
    json_t *o = json_object();
    json_object_set_new(o, "jsonrpc", json_string("2.0"));
    json_object_set_new(o, "method", json_string(method));
    if (params) json_object_set_new(o, "params", params);
    return o;
}

json_t *mcp_error_unsupported_version(const json_t *id, const char *requested)
{
    json_t *data = json_object();
    json_object_set_new(data, "supported", mcp_versions_json());
    json_t *req = requested ? json_string(requested) : NULL;
    json_object_set_new(data, "requested", req ? req : json_null());
    return mcp_error(id, MCP_ERR_UNSUPPORTED_VERSION, "Unsupported protocol version", data);
}

char *mcp_dump(const json_t *msg)
{
    /* jansson escapes control characters inside strings, so compact output is one line */
    return json_dumps(msg, JSON_COMPACT);
}

int mcp_base64_decode(const char *in, size_t inlen, size_t max, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    /* a data: URL prefix ("data:application/pdf;base64,") is common from assistants */
    if (inlen > 5 && !strncmp(in, "data:", 5)) {
        const char *comma = memchr(in, ',', inlen);
        if (!comma) return -1;
        inlen -= (size_t)(comma + 1 - in);
        in = comma + 1;
    }
    *out = base64_decode(in, inlen, max, true, outlen);
    return *out ? 0 : -1;
}
