/* sse_parse.c — the text/event-stream parser (see sse_parse.h). */
#include "cli/sse_parse.h"

#include <string.h>

void sse_parser_init(sse_parser *p, sse_event_fn fn, void *ctx)
{
    memset(p, 0, sizeof *p);
    sb_init(&p->line);
    sb_init(&p->data);
    p->max_event = 4 * 1024 * 1024;
    p->on_event = fn;
    p->ctx = ctx;
}

static void dispatch(sse_parser *p)
{
    if (p->id[0]) str_copy(p->last_id, sizeof p->last_id, p->id);
    if (p->has_data && p->on_event)
        p->on_event(p->ctx, p->id[0] ? p->id : p->last_id, p->event[0] ? p->event : "message",
                    p->data.data ? p->data.data : "");
    sb_free(&p->data);
    sb_init(&p->data);
    p->id[0] = p->event[0] = 0;
    p->has_data = 0;
}

static void field(sse_parser *p, const char *line, size_t len)
{
    if (len == 0) { dispatch(p); return; }
    if (line[0] == ':') return;
    const char *colon = memchr(line, ':', len);
    size_t nlen = colon ? (size_t)(colon - line) : len;
    const char *v = colon ? colon + 1 : line + len;
    size_t vlen = colon ? len - nlen - 1 : 0;
    if (vlen && *v == ' ') { v++; vlen--; }
    if (nlen == 4 && !memcmp(line, "data", 4)) {
        if (p->data.len + vlen + 1 > p->max_event) return;
        if (p->has_data) sb_append(&p->data, "\n", 1);
        sb_append(&p->data, v, vlen);
        if (!p->data.data) sb_append(&p->data, "", 0);
        p->has_data = 1;
    } else if (nlen == 5 && !memcmp(line, "event", 5)) {
        size_t n = vlen < sizeof p->event - 1 ? vlen : sizeof p->event - 1;
        memcpy(p->event, v, n);
        p->event[n] = 0;
    } else if (nlen == 2 && !memcmp(line, "id", 2) && !memchr(v, 0, vlen)) {
        size_t n = vlen < sizeof p->id - 1 ? vlen : sizeof p->id - 1;
        memcpy(p->id, v, n);
        p->id[n] = 0;
    }
}

void sse_parser_feed(sse_parser *p, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\n' && p->last_cr) { p->last_cr = 0; continue; }
        p->last_cr = c == '\r';
        if (c == '\n' || c == '\r') {
            field(p, p->line.data ? p->line.data : "", p->line.len);
            p->line.len = 0;
            continue;
        }
        if (p->line.len < p->max_event) sb_append(&p->line, &c, 1);
    }
}

void sse_parser_free(sse_parser *p)
{
    sb_free(&p->line);
    sb_free(&p->data);
}
