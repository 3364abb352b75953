/* mcp_stdio.c — the stdio transport (see mcp_stdio.h). A line longer than the cap
 * is skipped to its end and answered with a parse error, so one oversized message
 * cannot make the process hold it in memory. Requests are answered in order; a
 * send_fax with a progress token streams its notifications before its answer. */
#include "mcp/mcp_stdio.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

typedef struct stdio_out {
    FILE *f;
} stdio_out;

static int write_msg(stdio_out *o, const json_t *msg)
{
    char *s = mcp_dump(msg);
    if (!s) return -1;
    int rc = (fputs(s, o->f) < 0 || fputc('\n', o->f) < 0 || fflush(o->f)) ? -1 : 0;
    free(s);
    return rc;
}

static int emit(void *ctx, json_t *note)
{
    int rc = write_msg(ctx, note);
    json_decref(note);
    return rc;
}

int mcp_stdio_run(const mcp_ops *ops, const mcp_limits *limits, FILE *in, FILE *out, size_t max_line)
{
    stdio_out o = {out};
    mcp_session state = {0};
    mcp_call_ctx cx = {.ops = ops, .limits = limits, .emit = emit, .emit_ctx = &o, .transport = "stdio", .principal = "stdio"};
    strbuf line;
    sb_init(&line);
    bool overlong = false;
    int c;
    for (;;) {
        c = fgetc(in);
        if (c != EOF && c != '\n') {
            if (line.len < max_line) {
                char ch = (char)c;
                sb_append(&line, &ch, 1);
            } else {
                overlong = true;
            }
            continue;
        }
        json_t *resp = NULL;
        if (overlong) {
            char msg[96];
            str_fmt(msg, sizeof msg, "Parse error: message longer than %zu bytes", max_line);
            resp = mcp_error(NULL, MCP_ERR_PARSE, msg, NULL);
        } else {
            size_t len = line.len;
            while (len && (line.data[len - 1] == '\r' || line.data[len - 1] == ' ')) len--;
            if (len) resp = mcp_handle_text(&state, line.data, len, &cx);
        }
        if (resp && write_msg(&o, resp)) {
            json_decref(resp);
            break;                       /* the client closed stdout: nobody to answer */
        }
        json_decref(resp);
        line.len = 0;
        overlong = false;
        if (c == EOF) break;
    }
    sb_free(&line);
    return 0;
}
