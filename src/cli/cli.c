/* cli.c — `faxbot send`, `faxbot status`, `faxbot keys …`: small clients of the
 * REST API (libcurl), printing readable results and exiting non-zero when the
 * gateway refuses or cannot be reached. */
#include "cli/cli.h"
#include "cli/sse_parse.h"
#include "config/settings.h"
#include "util/util.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct reply { long status; strbuf body; char err[CURL_ERROR_SIZE]; } reply;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    return sb_append(&((reply *)ud)->body, p, sz * n) ? 0 : sz * n;
}

static const char *base_url(void)
{
    const char *u = setting_raw("FAXBOT_URL");
    return u ? u : "http://127.0.0.1:8080";
}

static const char *api_key(void)
{
    const char *k = setting_raw("FAXBOT_API_KEY");
    return k ? k : setting_raw("API_KEY");
}

/* method "GET"/"POST"/"DELETE"; json_body or form (multipart) or neither. */
static int request(const char *method, const char *path, const char *json_body, curl_mime *(*form)(CURL *, void *),
                   void *form_ctx, const char *idem, reply *r)
{
    memset(r, 0, sizeof *r);
    sb_init(&r->body);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    char url[2048], hdr[512];
    str_fmt(url, sizeof url, "%s%s", base_url(), path);
    struct curl_slist *h = NULL;
    if (api_key()) { str_fmt(hdr, sizeof hdr, "X-API-Key: %s", api_key()); h = curl_slist_append(h, hdr); }
    if (idem) { str_fmt(hdr, sizeof hdr, "Idempotency-Key: %s", idem); h = curl_slist_append(h, hdr); }
    curl_mime *mime = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (json_body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
    } else if (form) {
        mime = form(c, form_ctx);
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else if (!r->err[0]) str_copy(r->err, sizeof r->err, curl_easy_strerror(rc));
    curl_mime_free(mime);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

/* Prints the gateway's {"detail"} or the transport error; returns 1. */
static int report_failure(const reply *r, int transport_rc)
{
    if (transport_rc) {
        fprintf(stderr, "faxbot: cannot reach the gateway at %s: %s\n", base_url(), r->err);
        return 1;
    }
    json_t *v = r->body.data ? json_loads(r->body.data, 0, NULL) : NULL;
    json_t *d = v ? json_object_get(v, "detail") : NULL;
    if (json_is_string(d)) fprintf(stderr, "%s\n", json_string_value(d));
    else fprintf(stderr, "faxbot: the gateway answered HTTP %ld\n", r->status);
    json_decref(v);
    return 1;
}

/* The JSON object of a reply that must have HTTP status `want`; NULL after saying why
 * on stderr. Frees the reply's body. */
static json_t *json_answer(int transport_rc, reply *r, long want)
{
    if (transport_rc || r->status != want) { report_failure(r, transport_rc); sb_free(&r->body); return NULL; }
    json_t *v = json_loads(r->body.data, 0, NULL);
    sb_free(&r->body);
    if (!v) fprintf(stderr, "faxbot: the gateway's answer was not JSON\n");
    return v;
}

json_t *cli_api_json(const char *method, const char *path, const char *json_body, long *status)
{
    reply r;
    int rc = request(method, path, json_body, NULL, NULL, NULL, &r);
    json_t *v = NULL;
    if (rc == 0 && r.status >= 200 && r.status < 300) {
        v = r.body.data ? json_loads(r.body.data, 0, NULL) : json_object();
        if (!v) fprintf(stderr, "faxbot: the gateway's answer is not JSON\n");
    } else {
        report_failure(&r, rc);
    }
    *status = r.status;
    sb_free(&r.body);
    return v;
}

static void print_job(json_t *job)
{
    static const char *const order[] = {"id", "to", "status", "pages", "pages_sent", "attempts", "failure_reason", "error", "backend",
                                        "provider_sid", "bit_rate", "ecm", "duration_s", "remote_station_id", "inbound_id",
                                        "created_at", "updated_at", "next_attempt_at", NULL};
    for (int i = 0; order[i]; i++) {
        json_t *v = json_object_get(job, order[i]);
        if (!v || json_is_null(v)) continue;
        char *s = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        printf("%s: %s\n", order[i], s ? s : "");
        free(s);
    }
    json_t *delivery = json_object_get(job, "delivery");
    if (json_is_string(delivery)) printf("NOTE: delivered to the %s\n", json_string_value(delivery));
}

typedef struct send_args { const char *to, *file, *header, *resolution, *caller_id; } send_args;

static curl_mime *send_form(CURL *c, void *ctx)
{
    send_args *a = ctx;
    curl_mime *m = curl_mime_init(c);
    curl_mimepart *p = curl_mime_addpart(m);
    curl_mime_name(p, "to");
    curl_mime_data(p, a->to, CURL_ZERO_TERMINATED);
    p = curl_mime_addpart(m);
    curl_mime_name(p, "file");
    curl_mime_filedata(p, a->file);
    const char *names[] = {"header_text", "resolution", "caller_id"};
    const char *vals[] = {a->header, a->resolution, a->caller_id};
    for (int i = 0; i < 3; i++) {
        if (!vals[i]) continue;
        p = curl_mime_addpart(m);
        curl_mime_name(p, names[i]);
        curl_mime_data(p, vals[i], CURL_ZERO_TERMINATED);
    }
    return m;
}

/* What a job is doing, in words, from its JSON: "queued", "converting",
 * "dialing", "sent 2 of 5 pages", or the final status. */
static void job_stage(json_t *job, char *out, size_t len, int *done, int *total)
{
    const char *st = json_string_value(json_object_get(job, "status"));
    json_t *pages = json_object_get(job, "pages");
    *total = json_is_integer(pages) ? (int)json_integer_value(pages) : -1;
    *done = (int)json_integer_value(json_object_get(job, "pages_sent"));
    if (!st) st = "?";
    if (!strcmp(st, "in_progress")) {
        if (*total < 0) str_copy(out, len, "converting");
        else if (*done <= 0) str_copy(out, len, "dialing");
        else str_fmt(out, len, "sent %d of %d page%s", *done, *total, *total == 1 ? "" : "s");
    } else if (!strcmp(st, "queued") && json_integer_value(json_object_get(job, "attempts")) > 0) {
        const char *at = json_string_value(json_object_get(job, "next_attempt_at"));
        str_fmt(out, len, "retry scheduled%s%s", at ? " at " : "", at ? at : "");
    } else {
        str_copy(out, len, st);
    }
}

/* --wait: follows the job until it ends. On a terminal, one line redrawn in place
 * with a bar of pages sent; otherwise a plain line for every change. */
static int wait_for_job(const char *id)
{
    char path[128], last[160] = "";
    str_fmt(path, sizeof path, "/fax/%s", id);
    bool tty = isatty(STDOUT_FILENO);
    for (;;) {
        reply r;
        int rc = request("GET", path, NULL, NULL, NULL, NULL, &r);
        json_t *job = json_answer(rc, &r, 200);
        if (!job) return 1;
        char stage[160];
        int done, total;
        job_stage(job, stage, sizeof stage, &done, &total);
        if (strcmp(stage, last)) {
            if (tty) {
                char bar[24] = "";
                if (total > 0) {
                    int fill = done * 20 / total;
                    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '-';
                    bar[20] = 0;
                }
                printf("\r\033[K%s%s%s%s", total > 0 ? "[" : "", bar, total > 0 ? "] " : "", stage);
            } else {
                printf("%s\n", stage);
            }
            fflush(stdout);
            str_copy(last, sizeof last, stage);
        }
        const char *st = json_string_value(json_object_get(job, "status"));
        if (st && (!strcmp(st, "SUCCESS") || !strcmp(st, "FAILED") || !strcmp(st, "cancelled"))) {
            if (tty) printf("\n");
            print_job(job);
            int ok = !strcmp(st, "SUCCESS");
            json_decref(job);
            return ok ? 0 : 1;
        }
        json_decref(job);
        sleep_ms(300);
    }
}

int cli_send(int argc, char **argv)
{
    send_args a = {0};
    const char *idem = NULL;
    int wait = 0;
    static const struct option opts[] = {
        {"to", required_argument, 0, 't'}, {"header-text", required_argument, 0, 'H'},
        {"resolution", required_argument, 0, 'r'}, {"caller-id", required_argument, 0, 'c'},
        {"idempotency-key", required_argument, 0, 'i'}, {"wait", no_argument, 0, 'w'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "t:H:r:c:i:w", opts, NULL)) != -1) {
        switch (o) {
        case 't': a.to = optarg; break;
        case 'H': a.header = optarg; break;
        case 'r': a.resolution = optarg; break;
        case 'c': a.caller_id = optarg; break;
        case 'i': idem = optarg; break;
        case 'w': wait = 1; break;
        default: return 2;
        }
    }
    if (!a.to || optind != argc - 1) {
        fprintf(stderr, "usage: faxbot send --to NUMBER [--header-text T] [--resolution fine|standard] [--wait] FILE\n");
        return 2;
    }
    a.file = argv[optind];
    if (access(a.file, R_OK)) { fprintf(stderr, "faxbot: cannot read %s\n", a.file); return 1; }
    reply r;
    int rc = request("POST", "/fax", NULL, send_form, &a, idem, &r);
    json_t *job = json_answer(rc, &r, 202);
    if (!job) return 1;
    char id[64];
    str_copy(id, sizeof id, json_string_value(json_object_get(job, "id")));
    printf("job %s %s\n", id, json_string_value(json_object_get(job, "status")));
    if (json_is_string(json_object_get(job, "delivery")))
        printf("NOTE: this gateway runs FAX_BACKEND=loopback: the fax goes to the %s\n",
               json_string_value(json_object_get(job, "delivery")));
    json_decref(job);
    if (!wait) return 0;
    return wait_for_job(id);
}

int cli_status(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: faxbot status JOB_ID\n"); return 2; }
    char path[256];
    char *esc = curl_escape(argv[1], 0);
    str_fmt(path, sizeof path, "/fax/%s", esc ? esc : "");
    curl_free(esc);
    reply r;
    int rc = request("GET", path, NULL, NULL, NULL, NULL, &r);
    json_t *job = json_answer(rc, &r, 200);
    if (!job) return 1;
    print_job(job);
    json_decref(job);
    return 0;
}

static int keys_create(int argc, char **argv)
{
    const char *name = NULL, *owner = NULL, *scopes = NULL, *expires = NULL, *note = NULL;
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'}, {"owner", required_argument, 0, 'o'}, {"scopes", required_argument, 0, 's'},
        {"expires-at", required_argument, 0, 'e'}, {"note", required_argument, 0, 'N'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "n:o:s:e:N:", opts, NULL)) != -1) {
        switch (o) {
        case 'n': name = optarg; break;
        case 'o': owner = optarg; break;
        case 's': scopes = optarg; break;
        case 'e': expires = optarg; break;
        case 'N': note = optarg; break;
        default: return 2;
        }
    }
    if (!name || optind != argc) {
        fprintf(stderr, "usage: faxbot keys create --name NAME [--scopes fax:send,fax:read] [--owner O] [--expires-at ISO] [--note N]\n");
        return 2;
    }
    json_t *body = json_object();
    json_object_set_new(body, "name", json_string(name));
    if (owner) json_object_set_new(body, "owner", json_string(owner));
    if (scopes) json_object_set_new(body, "scopes", json_string(scopes));
    if (expires) json_object_set_new(body, "expires_at", json_string(expires));
    if (note) json_object_set_new(body, "note", json_string(note));
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    reply r;
    int rc = request("POST", "/admin/api-keys", s, NULL, NULL, NULL, &r);
    free(s);
    if (rc || r.status != 200) { int e = report_failure(&r, rc); sb_free(&r.body); return e; }
    json_t *v = json_loads(r.body.data, 0, NULL);
    sb_free(&r.body);
    const char *token = v ? json_string_value(json_object_get(v, "token")) : NULL;
    if (!token) { fprintf(stderr, "faxbot: no token in the gateway's answer\n"); json_decref(v); return 1; }
    printf("%s\n", token);
    fprintf(stderr, "key %s created; the token above is shown only once\n", json_string_value(json_object_get(v, "key_id")));
    json_decref(v);
    return 0;
}

static int keys_list(void)
{
    reply r;
    int rc = request("GET", "/admin/api-keys", NULL, NULL, NULL, NULL, &r);
    if (rc || r.status != 200) { int e = report_failure(&r, rc); sb_free(&r.body); return e; }
    json_t *v = json_loads(r.body.data, 0, NULL);
    sb_free(&r.body);
    size_t i;
    json_t *k;
    printf("%-14s %-20s %-36s %s\n", "KEY_ID", "NAME", "SCOPES", "STATE");
    json_array_foreach(v, i, k) {
        char *sc = json_dumps(json_object_get(k, "scopes"), JSON_COMPACT);
        printf("%-14s %-20s %-36s %s\n", json_string_value(json_object_get(k, "key_id")),
               json_string_value(json_object_get(k, "name")), sc ? sc : "",
               json_is_null(json_object_get(k, "revoked_at")) ? "active" : "revoked");
        free(sc);
    }
    json_decref(v);
    return 0;
}

static int keys_simple(const char *method, const char *fmt, const char *id, bool print_token)
{
    char path[256];
    char *esc = curl_escape(id, 0);
    str_fmt(path, sizeof path, fmt, esc ? esc : "");
    curl_free(esc);
    reply r;
    int rc = request(method, path, NULL, NULL, NULL, NULL, &r);
    if (rc || r.status != 200) { int e = report_failure(&r, rc); sb_free(&r.body); return e; }
    json_t *v = json_loads(r.body.data, 0, NULL);
    sb_free(&r.body);
    if (print_token) printf("%s\n", json_string_value(json_object_get(v, "token")));
    else printf("ok\n");
    json_decref(v);
    return 0;
}

int cli_keys(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create")) return keys_create(argc - 1, argv + 1);
    if (argc == 2 && !strcmp(argv[1], "list")) return keys_list();
    if (argc == 3 && !strcmp(argv[1], "revoke")) return keys_simple("DELETE", "/admin/api-keys/%s", argv[2], false);
    if (argc == 3 && !strcmp(argv[1], "rotate")) return keys_simple("POST", "/admin/api-keys/%s/rotate", argv[2], true);
    fprintf(stderr, "usage: faxbot keys create|list|revoke KEY_ID|rotate KEY_ID\n");
    return 2;
}

/* ---- faxbot events ---- */

typedef struct tail_ctx {
    sse_parser parser;
    bool json;
    long max_events;             /* 0 = for ever */
    long seen;
    char last_id[64];
} tail_ctx;

static void print_event(void *ud, const char *id, const char *event, const char *data)
{
    tail_ctx *t = ud;
    if (t->max_events && t->seen >= t->max_events) return;   /* the rest of this chunk */
    str_copy(t->last_id, sizeof t->last_id, id);
    t->seen++;
    if (t->json) {
        printf("%s\n", data);
    } else {
        json_t *env = json_loads(data, 0, NULL);
        json_t *d = env ? json_object_get(env, "data") : NULL;
        const char *ts = env ? json_string_value(json_object_get(env, "timestamp")) : NULL;
        const char *oid = d ? json_string_value(json_object_get(d, "id")) : NULL;
        const char *st = d ? json_string_value(json_object_get(d, "status")) : NULL;
        char stage[160] = "";
        if (d && !strncmp(event, "fax.", 4)) {
            int done, total;
            job_stage(d, stage, sizeof stage, &done, &total);
        }
        printf("%s %-20s %s %s\n", ts ? ts : "-", event, oid ? oid : "-", stage[0] ? stage : st ? st : "");
        json_decref(env);
    }
    fflush(stdout);
}

static size_t on_stream(char *p, size_t sz, size_t n, void *ud)
{
    tail_ctx *t = ud;
    sse_parser_feed(&t->parser, p, sz * n);
    if (t->max_events && t->seen >= t->max_events) return 0;   /* enough: end the transfer */
    return sz * n;
}

int cli_events(int argc, char **argv)
{
    tail_ctx t;
    memset(&t, 0, sizeof t);
    static const struct option opts[] = {{"last-event-id", required_argument, 0, 'l'}, {"json", no_argument, 0, 'j'},
                                         {"count", required_argument, 0, 'n'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "l:jn:", opts, NULL)) != -1) {
        if (o == 'l') str_copy(t.last_id, sizeof t.last_id, optarg);
        else if (o == 'j') t.json = true;
        else if (o == 'n') t.max_events = atol(optarg);
        else return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: faxbot events [--last-event-id N] [--json] [--count N]\n");
        return 2;
    }
    sse_parser_init(&t.parser, print_event, &t);
    int failures = 0, result = 0;
    /* Follows the stream; after a disconnect it reconnects from the last event seen. */
    for (;;) {
        CURL *c = curl_easy_init();
        if (!c) { result = 1; break; }
        char url[2048], hdr[512], err[CURL_ERROR_SIZE] = "";
        str_fmt(url, sizeof url, "%s/events", base_url());
        struct curl_slist *h = curl_slist_append(NULL, "Accept: text/event-stream");
        if (api_key()) { str_fmt(hdr, sizeof hdr, "X-API-Key: %s", api_key()); h = curl_slist_append(h, hdr); }
        if (t.last_id[0]) { str_fmt(hdr, sizeof hdr, "Last-Event-ID: %s", t.last_id); h = curl_slist_append(h, hdr); }
        reply r;
        memset(&r, 0, sizeof r);
        sb_init(&r.body);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);      /* heartbeats arrive every few seconds */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 90L);
        long before = t.seen;
        CURLcode rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (t.max_events && t.seen >= t.max_events) break;
        if (r.status && r.status != 200) {
            /* the body went to the parser; say what the status means */
            fprintf(stderr, "faxbot: GET /events answered HTTP %ld%s\n", r.status,
                    r.status == 401 ? " (set FAXBOT_API_KEY)" : r.status == 403 ? " (the key needs fax:read or inbound:read)" : "");
            result = 1;
            break;
        }
        failures = t.seen > before ? 0 : failures + 1;
        if (failures >= 5) {
            fprintf(stderr, "faxbot: lost the event stream at %s: %s\n", base_url(), err[0] ? err : curl_easy_strerror(rc));
            result = 1;
            break;
        }
        sleep_ms(1000);
    }
    sse_parser_free(&t.parser);
    return result;
}
