/* api_list_stream.c — GET /fax answered as a stream: the rows are read from the
 * store in batches of JOB_BATCH and rendered as they are sent, so a 500-row page
 * never sits whole in memory and the HTTP thread sending it serves its other
 * connections between batches (a heavy reader does not stall /health or a
 * provider's webhook). The body is byte for byte what the page would be as one
 * JSON object: {"items":[...],"next_cursor":"<ms>.<id>"|null}. */
#include "api/api_internal.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define JOB_BATCH 50

typedef struct job_stream {
    job_filter f;                /* its strings point into status/to/owner below */
    char status[16];
    char to[24];
    char owner[128];
    char backend[32];
    int left;                    /* rows of the page still to send */
    bool opened;                 /* '{"items":[' written */
    bool any;                    /* an item written (for the commas) */
    int n, pos;                  /* the batch in hand and how far it is rendered */
    bool more_after;             /* the store has a row beyond this batch */
    job_record batch[JOB_BATCH + 1];
} job_stream;

/* Reads the next batch after the cursor: up to min(JOB_BATCH, left) rows and one
 * more to learn whether anything follows. Returns -1 if the store fails. */
static int read_batch(job_stream *js)
{
    int want = js->left < JOB_BATCH ? js->left : JOB_BATCH;
    js->f.limit = want + 1;
    int n = store_job_list(g_api.st, &js->f, js->batch);
    if (n < 0) return -1;
    js->more_after = n > want;
    js->n = n > want ? want : n;
    js->pos = 0;
    return 0;
}

static int job_stream_next(void *ctx, strbuf *out)
{
    job_stream *js = ctx;
    if (!js->opened) {
        sb_puts(out, "{\"items\":[");
        js->opened = true;
    }
    for (; js->pos < js->n; js->pos++) {
        json_t *o = api_job_json(&js->batch[js->pos]);
        char *item = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!item) return -1;
        if (js->any) sb_puts(out, ",");
        sb_puts(out, item);
        free(item);
        js->any = true;
    }
    js->left -= js->n;
    if (js->n > 0) {
        const job_record *last = &js->batch[js->n - 1];
        js->f.before_created_at = last->created_at;
        str_copy(js->f.before_id, sizeof js->f.before_id, last->id);
    }
    if (js->left > 0 && js->more_after) {
        if (read_batch(js)) {
            log_warn("GET /fax: the store failed in the middle of a page; closing the connection");
            return -1;
        }
        return 1;
    }
    if (js->left == 0 && js->more_after && js->n > 0)
        sb_appendf(out, "],\"next_cursor\":\"%lld.%s\"}", (long long)js->f.before_created_at, js->f.before_id);
    else
        sb_puts(out, "],\"next_cursor\":null}");
    return 0;
}

void api_stream_jobs(http_response *res, const job_filter *f, int page)
{
    job_stream *js = calloc(1, sizeof *js);
    if (!js) { http_res_error(res, 503, "out of memory"); return; }
    js->f = *f;
    if (f->status) { str_copy(js->status, sizeof js->status, f->status); js->f.status = js->status; }
    if (f->to_number) { str_copy(js->to, sizeof js->to, f->to_number); js->f.to_number = js->to; }
    if (f->owner) { str_copy(js->owner, sizeof js->owner, f->owner); js->f.owner = js->owner; }
    if (f->backend) { str_copy(js->backend, sizeof js->backend, f->backend); js->f.backend = js->backend; }
    js->left = page;
    if (read_batch(js)) {        /* the first batch now: a store failure is still a clean 503 */
        free(js);
        http_res_error(res, 503, "could not read jobs");
        return;
    }
    http_res_stream(res, 200, "application/json", job_stream_next, js, free);
}
