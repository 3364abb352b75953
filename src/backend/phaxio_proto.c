/* phaxio_proto.c — pure Phaxio v2.1 parsing, signing and status mapping; see
 * phaxio_proto.h. Outside input (webhook bodies, API replies) only ever reaches
 * the gateway through these functions, which are fuzzed (fuzz/fuzz_phaxio.c). */
#include "backend/phaxio_proto.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "http/multipart.h"
#include "util/json_get.h"
#include "util/util.h"

#define PHAXIO_MAX_PARTS 256

/* ---- forms ---- */

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static phaxio_part *form_add(phaxio_form *f)
{
    if (f->n >= PHAXIO_MAX_PARTS) return NULL;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        phaxio_part *p = realloc(f->parts, cap * sizeof *p);
        if (!p) return NULL;
        f->parts = p;
        f->cap = cap;
    }
    phaxio_part *p = &f->parts[f->n++];
    memset(p, 0, sizeof *p);
    return p;
}

void phaxio_form_free(phaxio_form *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->parts[i].name);
        free(f->parts[i].filename);
        free(f->parts[i].content_type);
        free(f->parts[i].data);
    }
    free(f->parts);
    memset(f, 0, sizeof *f);
}

typedef struct {
    phaxio_form *f;
    strbuf data;
    bool open;
} mp_ctx;

static int mp_begin(void *ctx, const multipart_part_info *info)
{
    mp_ctx *c = ctx;
    phaxio_part *p = form_add(c->f);
    if (!p) return -1;
    const char *name = info->name ? info->name : "";
    p->name = dup_bytes(name, strlen(name));
    if (info->filename) p->filename = dup_bytes(info->filename, strlen(info->filename));
    if (info->content_type) p->content_type = dup_bytes(info->content_type, strlen(info->content_type));
    if (!p->name || (info->filename && !p->filename) || (info->content_type && !p->content_type)) return -1;
    sb_free(&c->data);
    sb_init(&c->data);
    c->open = true;
    return 0;
}

static int mp_data(void *ctx, const char *data, size_t len)
{
    mp_ctx *c = ctx;
    return sb_append(&c->data, data, len) == 0 ? 0 : -1;
}

static int mp_end(void *ctx)
{
    mp_ctx *c = ctx;
    phaxio_part *p = &c->f->parts[c->f->n - 1];
    p->len = c->data.len;
    p->data = dup_bytes(c->data.data ? c->data.data : "", c->data.len);
    sb_free(&c->data);
    sb_init(&c->data);
    c->open = false;
    return p->data ? 0 : -1;
}

static int parse_multipart(const char *boundary, const char *body, size_t len, phaxio_form *f, char *err, size_t errlen)
{
    mp_ctx c = {.f = f};
    sb_init(&c.data);
    multipart_callbacks cb = {.part_begin = mp_begin, .part_data = mp_data, .part_end = mp_end};
    multipart_parser *p = multipart_new(boundary, &cb, &c);
    if (!p) {
        str_fmt(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    if (multipart_feed(p, body, len) != 0) {
        str_fmt(err, errlen, "malformed multipart body: %s", multipart_error(p));
        rc = -1;
    } else if (multipart_finish(p) != 0) {
        str_fmt(err, errlen, "malformed multipart body: no closing boundary");
        rc = -1;
    }
    multipart_free(p);
    sb_free(&c.data);
    /* a part whose end was never seen has no data: drop it */
    if (rc == 0 && f->n && !f->parts[f->n - 1].data) rc = -1;
    return rc;
}

/* URL-decodes s[0..n) ('+' = space; a bad %-escape is kept as it is; NUL bytes kept). */
static char *form_value(const char *s, size_t n, size_t *outlen)
{
    return url_decode_dup(s, n, outlen, URL_PLUS_SPACE | URL_NUL_OK);
}

static int parse_urlencoded(const char *body, size_t len, phaxio_form *f, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&') j++;
        if (j > i) {
            const char *eq = memchr(body + i, '=', j - i);
            size_t nlen = eq ? (size_t)(eq - (body + i)) : j - i;
            phaxio_part *p = form_add(f);
            if (!p) {
                str_fmt(err, errlen, "too many form fields");
                return -1;
            }
            size_t dn = 0;
            p->name = form_value(body + i, nlen, &dn);
            p->data = eq ? form_value(eq + 1, (size_t)(body + j - (eq + 1)), &p->len) : dup_bytes("", 0);
            if (!p->name || !p->data) {
                str_fmt(err, errlen, "out of memory");
                return -1;
            }
        }
        i = j + 1;
    }
    return 0;
}

int phaxio_form_parse(const char *content_type, const char *body, size_t len, phaxio_form *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!body) len = 0;
    const char *ct = content_type ? content_type : "";
    while (*ct == ' ' || *ct == '\t') ct++;
    int rc;
    char boundary[128];
    if (strncasecmp(ct, "multipart/form-data", 19) == 0) {
        if (multipart_boundary(ct, boundary, sizeof boundary) != 0) {
            str_fmt(err, errlen, "multipart/form-data without a valid boundary");
            return -1;
        }
        rc = parse_multipart(boundary, body ? body : "", len, out, err, errlen);
        if (rc && out->n >= PHAXIO_MAX_PARTS) str_fmt(err, errlen, "too many form fields");
    } else if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        rc = parse_urlencoded(body ? body : "", len, out, err, errlen);
    } else {
        str_fmt(err, errlen, "expected a multipart/form-data or x-www-form-urlencoded body");
        return -1;
    }
    if (rc) phaxio_form_free(out);
    return rc;
}

static const phaxio_part *form_find(const phaxio_form *f, const char *name, bool file)
{
    for (size_t i = 0; f && i < f->n; i++)
        if ((f->parts[i].filename != NULL) == file && !strcmp(f->parts[i].name, name)) return &f->parts[i];
    return NULL;
}

const phaxio_part *phaxio_form_field(const phaxio_form *f, const char *name) { return form_find(f, name, false); }
const phaxio_part *phaxio_form_file(const phaxio_form *f, const char *name) { return form_find(f, name, true); }

/* ---- signature ---- */

/* Stable order of part indexes by name (insertion sort: forms are small). */
static void sort_by_name(const phaxio_form *f, size_t *idx, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && strcmp(f->parts[idx[j - 1]].name, f->parts[v].name) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

int phaxio_signature_hex(const char *url, const phaxio_form *f, const char *token, char out[41])
{
    out[0] = 0;
    if (!url || !token) return -1;
    size_t n = f ? f->n : 0;
    size_t *fields = calloc(n + 1, sizeof *fields), *files = calloc(n + 1, sizeof *files);
    strbuf s;
    sb_init(&s);
    int rc = -1;
    if (!fields || !files) goto done;
    size_t nf = 0, nfile = 0;
    for (size_t i = 0; i < n; i++) {
        if (f->parts[i].filename) files[nfile++] = i;
        else fields[nf++] = i;
    }
    sort_by_name(f, fields, nf);
    sort_by_name(f, files, nfile);
    if (sb_puts(&s, url)) goto done;
    for (size_t i = 0; i < nf; i++) {
        const phaxio_part *p = &f->parts[fields[i]];
        if (sb_puts(&s, p->name) || sb_append(&s, p->data, p->len)) goto done;
    }
    for (size_t i = 0; i < nfile; i++) {
        const phaxio_part *p = &f->parts[files[i]];
        unsigned char md[SHA_DIGEST_LENGTH];
        char hex[2 * SHA_DIGEST_LENGTH + 1];
        if (!EVP_Digest(p->data, p->len, md, NULL, EVP_sha1(), NULL)) goto done;
        hex_encode(md, sizeof md, hex);
        if (sb_puts(&s, p->name) || sb_puts(&s, hex)) goto done;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)(s.data ? s.data : ""), s.len, mac,
              &maclen) || maclen != SHA_DIGEST_LENGTH)
        goto done;
    hex_encode(mac, maclen, out);
    rc = 0;
done:
    sb_free(&s);
    free(fields);
    free(files);
    return rc;
}

bool phaxio_signature_valid(const char *url, const phaxio_form *f, const char *token, const char *header)
{
    if (!token || !*token || !header) return false;
    while (*header == ' ' || *header == '\t') header++;
    char given[64];
    size_t k = 0;
    for (; header[k] && header[k] != ' ' && header[k] != '\t' && header[k] != '\r' && k < sizeof given - 1; k++)
        given[k] = (char)tolower((unsigned char)header[k]);
    given[k] = 0;
    if (!k) return false;
    char want[41];
    if (phaxio_signature_hex(url, f, token, want) != 0) return false;
    bool ok = secure_streq(want, given);
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

/* ---- fax objects ---- */

static void lower(char *s)
{
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

static void fax_from_object(json_t *o, phaxio_fax *out)
{
    memset(out, 0, sizeof *out);
    out->num_pages = -1;
    out->error_id = -1;
    out->bitrate = -1;
    json_text(json_object_get(o, "id"), out->id, sizeof out->id);
    for (const char *p = out->id; *p; p++)   /* ids are numbers: anything else is not an id */
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
            out->id[0] = 0;
            break;
        }
    json_text(json_object_get(o, "direction"), out->direction, sizeof out->direction);
    lower(out->direction);
    json_text(json_object_get(o, "status"), out->status, sizeof out->status);
    lower(out->status);
    out->num_pages = (int)json_get_int(o, "num_pages", -1, 0, 1000000000L);
    json_text(json_object_get(o, "error_type"), out->error_type, sizeof out->error_type);
    out->error_id = json_get_int(o, "error_id", -1, 0, 1000000000L);
    json_text(json_object_get(o, "error_code"), out->error_code, sizeof out->error_code);
    json_text(json_object_get(o, "error_message"), out->error_message, sizeof out->error_message);
    json_text(json_object_get(o, "from_number"), out->from_number, sizeof out->from_number);
    json_text(json_object_get(o, "to_number"), out->to_number, sizeof out->to_number);
    json_text(json_object_get(o, "caller_id"), out->caller_id, sizeof out->caller_id);
    json_t *tags = json_object_get(o, "tags");
    if (json_is_object(tags)) {
        json_text(json_object_get(tags, "faxbot_job"), out->tag_job, sizeof out->tag_job);
        out->tag_attempt = (int)json_get_int(tags, "faxbot_attempt", 0, 0, 1000000000L);
    }
    json_t *rcp = json_object_get(o, "recipients");
    json_t *r0 = json_is_array(rcp) ? json_array_get(rcp, 0) : NULL;
    if (json_is_object(r0)) {
        json_text(json_object_get(r0, "status"), out->recipient_status, sizeof out->recipient_status);
        lower(out->recipient_status);
        out->bitrate = (int)json_get_int(r0, "bitrate", -1, 0, 1000000000L);
        /* the fax-level error fields may be empty while the recipient's are set */
        if (!out->error_type[0])
            json_text(json_object_get(r0, "error_type"), out->error_type, sizeof out->error_type);
        if (out->error_id < 0) out->error_id = json_get_int(r0, "error_id", -1, 0, 1000000000L);
        if (!out->error_code[0])
            json_text(json_object_get(r0, "error_code"), out->error_code, sizeof out->error_code);
        if (!out->error_message[0])
            json_text(json_object_get(r0, "error_message"), out->error_message, sizeof out->error_message);
        if (!out->to_number[0])
            json_text(json_object_get(r0, "phone_number"), out->to_number, sizeof out->to_number);
    }
}

int phaxio_fax_parse(const char *json, size_t len, phaxio_fax *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json ? json_loadb(json, len, 0, &je) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        str_fmt(err, errlen, "the 'fax' field is not a JSON object");
        return -1;
    }
    fax_from_object(o, out);
    json_decref(o);
    return 0;
}

/* ---- mapping ---- */

typedef struct {
    long id;
    const char *reason;
    bool transient;
} error_row;

/* https://www.phaxio.com/docs/errorMessages (lineError ids) */
static const error_row line_errors[] = {
    {17, "busy", true},            {16, "no_answer", true},       {30, "no_answer", true},
    {87, "no_answer", true},       {112, "no_answer", true},      {15, "congestion", true},
    {34, "invalid_number", false}, {49, "invalid_number", false}, {73, "invalid_number", false},
    {115, "invalid_number", false}, {32, "rejected", false},      {50, "rejected", false},
};

static bool has_word(const char *text, const char *w)
{
    return text && *text && strcasestr(text, w) != NULL;
}

static const char *reason_from_text(const char *t, bool *transient)
{
    *transient = true;
    if (has_word(t, "busy")) return "busy";
    if (has_word(t, "no answer") || has_word(t, "ring timeout") || has_word(t, "no_answer")) return "no_answer";
    if (has_word(t, "congestion")) return "congestion";
    *transient = false;
    if (has_word(t, "not operational") || has_word(t, "number changed") || has_word(t, "has been changed")
        || has_word(t, "invalid number"))
        return "invalid_number";
    if (has_word(t, "cancel")) return "cancelled";
    if (has_word(t, "rejected") || has_word(t, "incompatible")) return "rejected";
    return NULL;
}

const char *phaxio_failure_reason(const char *error_type, long error_id, const char *text, bool *transient)
{
    bool tr = true;
    const char *type = error_type ? error_type : "";
    const char *r = NULL;
    if (!strcasecmp(type, "lineError")) {
        for (size_t i = 0; i < sizeof line_errors / sizeof line_errors[0] && !r; i++)
            if (line_errors[i].id == error_id) {
                r = line_errors[i].reason;
                tr = line_errors[i].transient;
            }
        if (!r) r = reason_from_text(text, &tr);
        if (!r) {
            r = "line_error";
            tr = true;
        }
    } else if (!strcasecmp(type, "faxError")) {
        if (error_id == 75 || has_word(text, "cancel")) {
            r = "cancelled";
            tr = false;
        } else if (error_id == 7 || error_id == 25 || has_word(text, "cannot receive")) {
            r = "rejected";   /* the far end cannot take this size / resolution: the same again fails again */
            tr = false;
        } else {
            r = "line_error";
            tr = true;
        }
    } else if (!strcasecmp(type, "documentConversionError")) {
        r = "conversion_error";
        tr = false;
    } else if (!strcasecmp(type, "fatalError")) {
        r = "provider_error";
        tr = false;
    } else {
        r = reason_from_text(text, &tr);
        if (!r) {
            r = "provider_error";
            tr = true;
        }
    }
    if (transient) *transient = tr;
    return r;
}

void phaxio_map(const phaxio_fax *fax, const char *event_type, int page, phaxio_mapped *out)
{
    memset(out, 0, sizeof *out);
    out->pages = -1;
    out->bit_rate = fax->bitrate > 0 ? fax->bitrate : -1;
    const char *ev = event_type ? event_type : "";
    const char *st = fax->status;

    if (!strcmp(ev, "transmitting_page")) {
        out->kind = OUTCOME_PROGRESS;
        out->pages = page >= 0 ? page : -1;
        return;
    }
    if (!strcmp(ev, "retry_scheduled")) {
        out->kind = OUTCOME_PROGRESS;
        str_fmt(out->message, sizeof out->message, "Phaxio scheduled a retry");
        return;
    }
    if (!strcmp(st, "success") || (!strcmp(st, "partialsuccess") && strcmp(fax->recipient_status, "failure"))) {
        /* We send to one recipient, so "partialsuccess" only happens if it got the fax. */
        out->kind = OUTCOME_SUCCESS;
        out->pages = fax->num_pages;
        return;
    }
    if (!strcmp(st, "failure") || !strcmp(st, "partialsuccess")) {
        out->kind = OUTCOME_FAILURE;
        const char *text = fax->error_message[0] ? fax->error_message : fax->error_code;
        char both[300];
        str_fmt(both, sizeof both, "%s %s", fax->error_code, fax->error_message);
        out->failure_reason = phaxio_failure_reason(fax->error_type, fax->error_id, both, &out->transient);
        char id[32] = "";
        if (fax->error_id >= 0) str_fmt(id, sizeof id, " %ld", fax->error_id);
        str_fmt(out->message, sizeof out->message, "Phaxio %s%s: %s", fax->error_type[0] ? fax->error_type : "failure",
                id, text[0] ? text : "no error message");
        return;
    }
    if (!strcmp(st, "inprogress") || !strcmp(st, "in_progress") || !strcmp(st, "ringing")
        || !strcmp(st, "callactive") || !strcmp(st, "willretry")) {
        out->kind = OUTCOME_PROGRESS;
        if (page >= 0) out->pages = page;
        return;
    }
    if (!strcmp(st, "queued") || !strcmp(st, "pendingbatch")) {
        out->kind = OUTCOME_ACCEPTED;
        return;
    }
    out->kind = 0;   /* unknown: nothing to say */
}

/* ---- API replies ---- */

void phaxio_reply_parse(const char *body, size_t len, phaxio_reply *out)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = body ? json_loadb(body, len, 0, &je) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    out->json = true;
    out->success = json_is_true(json_object_get(o, "success"));
    json_text(json_object_get(o, "message"), out->message, sizeof out->message);
    json_t *data = json_object_get(o, "data");
    if (json_is_object(data)) json_text(json_object_get(data, "id"), out->id, sizeof out->id);
    json_decref(o);
}

int phaxio_get_parse(const char *body, size_t len, phaxio_fax *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = body ? json_loadb(body, len, 0, &je) : NULL;
    json_t *data = json_is_object(o) ? json_object_get(o, "data") : NULL;
    if (!json_is_object(data)) {
        json_decref(o);
        str_fmt(err, errlen, "Phaxio's reply has no fax object");
        return -1;
    }
    fax_from_object(data, out);
    json_decref(o);
    return 0;
}

int phaxio_list_find(const char *body, size_t len, const char *job_id, int attempt, phaxio_fax *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = body ? json_loadb(body, len, 0, &je) : NULL;
    json_t *data = json_is_object(o) ? json_object_get(o, "data") : NULL;
    if (!json_is_array(data)) {
        json_decref(o);
        str_fmt(err, errlen, "Phaxio's list reply has no data array");
        return -1;
    }
    int found = 0;
    long long best = -1;
    size_t i;
    json_t *item;
    json_array_foreach(data, i, item) {
        if (!json_is_object(item)) continue;
        phaxio_fax f;
        fax_from_object(item, &f);
        if (f.direction[0] && strcmp(f.direction, "sent")) continue;
        if (!job_id || strcmp(f.tag_job, job_id)) continue;
        if (attempt > 0 && f.tag_attempt > 0 && f.tag_attempt != attempt) continue;
        long long idn = strtoll(f.id, NULL, 10);
        if (!found || idn > best) {
            *out = f;
            best = idn;
            found = 1;
        }
    }
    json_decref(o);
    return found;
}

int phaxio_account_parse(const char *body, size_t len, long long *balance)
{
    *balance = -1;
    json_error_t je;
    json_t *o = body ? json_loadb(body, len, 0, &je) : NULL;
    json_t *data = json_is_object(o) ? json_object_get(o, "data") : NULL;
    json_t *b = json_is_object(data) ? json_object_get(data, "balance") : NULL;
    int rc = -1;
    if (json_is_integer(b)) {
        *balance = (long long)json_integer_value(b);
        rc = 0;
    } else if (json_is_real(b)) {
        *balance = (long long)json_real_value(b);
        rc = 0;
    }
    json_decref(o);
    return rc;
}
