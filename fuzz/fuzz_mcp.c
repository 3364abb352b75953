/* fuzz_mcp.c — libFuzzer harness for the MCP protocol core (src/mcp): JSON-RPC
 * framing and message parsing, the _meta of the stateless revision, version
 * negotiation, the whole request dispatcher with every tool's argument checks (over
 * operations that answer without I/O), base64 documents, JWT parsing, and the
 * private-address check of fileUrl. The first byte picks the part.
 * Build: make fuzz (or meson -Dfuzz=true); Run: build-fuzz/fuzz_mcp fuzz/corpus/mcp */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_fetch.h"
#include "mcp/mcp_jwt.h"
#include "mcp/mcp_proto.h"
#include "mcp/mcp_server.h"

/* Operations that answer like a gateway that knows no fax (nothing touches disk or network). */
static void op_send(void *c, const char *to, const char *path, const char *name, mcp_reply *r) { mcp_reply_fail(r, 400, "no"); }
static void op_get(void *c, const char *id, mcp_reply *r)
{
    if (!strcmp(id, "x")) { r->status = 200; r->json = json_pack("{s:s,s:s,s:s}", "id", "x", "status", "SUCCESS", "to", "+1"); return; }
    mcp_reply_fail(r, 404, "Job not found");
}
static void op_list(void *c, int limit, const char *cursor, const char *status, mcp_reply *r) { r->status = 200; r->json = json_array(); }
static void op_list_in(void *c, int limit, const char *cursor, mcp_reply *r) { r->status = 200; r->json = json_pack("[{s:s,s:s}]", "id", "a", "status", "received"); }
static void op_pdf(void *c, const char *id, int64_t max, mcp_reply *r) { r->status = 200; r->data = strdup("%PDF-1.4"); r->len = 8; }

static const mcp_ops ops = {.send_fax = op_send, .get_fax = op_get, .get_inbound = op_get, .list_faxes = op_list,
                            .list_inbound = op_list_in, .inbound_pdf = op_pdf, .cancel_fax = op_get};
/* a temp dir that does not exist: documents are refused before any file or fetch */
static const mcp_limits limits = {.max_file_bytes = 4096, .send_wait_s = 1, .tmp_dir = "/nonexistent/faxbot-fuzz"};

static int emit(void *ctx, json_t *n) { json_decref(n); return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 5;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    switch (mode) {
    case 0: {
        mcp_message m;
        int code;
        char msg[256];
        json_t *id;
        if (mcp_parse(in, len, &m, &code, msg, sizeof msg, &id) == 0) {
            if (!m.root || (m.kind != MCP_MSG_RESPONSE && !m.method)) abort();
            mcp_meta meta;
            mcp_meta_read(m.params, &meta);
            if (meta.has_version && meta.version) (void)mcp_negotiate(meta.version);
            mcp_message_free(&m);
        } else {
            if (code != MCP_ERR_PARSE && code != MCP_ERR_INVALID_REQUEST) abort();
            json_t *e = mcp_error(id, code, msg, NULL);
            char *s = mcp_dump(e);
            if (!s || strchr(s, '\n')) abort();      /* stdio frames by line */
            free(s);
            json_decref(e);
            json_decref(id);
        }
        break;
    }
    case 1: {
        mcp_session s = {0};
        mcp_call_ctx cx = {.ops = &ops, .limits = &limits, .emit = emit, .transport = "stdio"};
        json_t *r = mcp_handle_text(&s, in, len, &cx);
        if (r) {
            char *out = mcp_dump(r);
            if (!out || strchr(out, '\n')) abort();
            free(out);
        }
        json_decref(r);
        break;
    }
    case 2: {
        unsigned char *out;
        size_t n;
        if (mcp_base64_decode(in, len, 1024, &out, &n) == 0) {
            if (n > 1024) abort();
            free(out);
        }
        break;
    }
    case 3: {
        char *tok = strndup(in, len);
        mcp_jwks *ks = mcp_jwks_new("", 300);
        mcp_jwt_claims cl;
        char why[128];
        if (tok && ks && mcp_jwt_verify(ks, tok, "iss", "aud", 1700000000, &cl, why, sizeof why) == 0) abort();  /* no keys: never valid */
        mcp_jwks_load(ks, in, len);
        mcp_jwks_free(ks);
        free(tok);
        break;
    }
    default: {
        char ip[64];
        size_t n = len < sizeof ip - 1 ? len : sizeof ip - 1;
        memcpy(ip, in, n);
        ip[n] = 0;
        (void)mcp_addr_is_private(ip);
        break;
    }
    }
    return 0;
}
