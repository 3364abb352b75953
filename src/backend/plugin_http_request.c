/* plugin_http_request.c — the requests of an http plugin: its templates filled for a
 * job, an action built into one HTTP request (a URL on a declared host — any other is
 * refused here, before anything is sent — headers, Basic/Bearer/header/OAuth2
 * authentication, a JSON, form or multipart body with the job's PDF) and performed
 * through the shared cloud HTTP client (cloud_http.c). */
#include "backend/plugin_http_internal.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "backend/plugin_http_template.h"
#include "util/util.h"

/* ---- templates ---- */

typedef struct tctx {
    backend *b;
    const backend_job *job;
    const char *sid;
} tctx;

static void digits_of(const char *in, char *out, size_t outlen)
{
    size_t k = 0;
    for (const char *p = in ? in : ""; *p && k + 1 < outlen; p++)
        if (*p >= '0' && *p <= '9') out[k++] = *p;
    if (outlen) out[k] = 0;
}

static const char *lookup(void *ctx, const char *name, char *buf, size_t buflen)
{
    tctx *t = ctx;
    const backend_job *j = t->job;
    const http_def *d = t->b->def;
    if (!strncmp(name, "config.", 7)) {
        json_t *v = json_object_get(t->b->config, name + 7);
        if (v) return json_string_value(v) ? json_string_value(v) : "";
        for (int i = 0; i < d->n_config; i++)
            if (!strcmp(d->config[i].name, name + 7)) return "";
        return NULL;
    }
    if (!strncmp(name, "webhook.", 8)) {
        for (int i = 0; i < d->n_webhooks; i++) {
            if (strcmp(d->webhooks[i].name, name + 8)) continue;
            if (!t->b->public_url[0]) return "";
            if (j) str_fmt(buf, buflen, "%s/plugin-hooks/%s/%s?job_id=%s&attempt=%d", t->b->public_url, d->id,
                           d->webhooks[i].name, j->job_id, j->attempt);
            else str_fmt(buf, buflen, "%s/plugin-hooks/%s/%s", t->b->public_url, d->id, d->webhooks[i].name);
            return buf;
        }
        return NULL;
    }
    if (!strncmp(name, "fax.", 4)) {
        const char *f = name + 4;
        if (!strcmp(f, "provider_sid")) return t->sid ? t->sid : j && j->provider_sid ? j->provider_sid : "";
        if (!j) return "";
        if (!strcmp(f, "to")) return j->to ? j->to : "";
        if (!strcmp(f, "to_digits")) { digits_of(j->to, buf, buflen); return buf; }
        if (!strcmp(f, "from")) return j->caller_id ? j->caller_id : "";
        if (!strcmp(f, "from_digits")) { digits_of(j->caller_id, buf, buflen); return buf; }
        if (!strcmp(f, "header_text")) return j->header_text ? j->header_text : "";
        if (!strcmp(f, "pdf_url")) return j->pdf_url ? j->pdf_url : "";
        if (!strcmp(f, "job_id")) return j->job_id;
        if (!strcmp(f, "attempt")) { str_fmt(buf, buflen, "%d", j->attempt); return buf; }
        if (!strcmp(f, "correlation")) { str_fmt(buf, buflen, "%s:%d", j->job_id, j->attempt); return buf; }
        if (!strcmp(f, "pages")) { str_fmt(buf, buflen, "%d", j->pages); return buf; }
        if (!strcmp(f, "file_name")) { str_fmt(buf, buflen, "%s.pdf", j->job_id); return buf; }
    }
    return NULL;
}

/* A rendered template (malloc'd) or NULL with err. */
char *http_render(backend *b, const backend_job *job, const char *sid, const char *tmpl, char *err, size_t errlen)
{
    tctx t = {b, job, sid};
    strbuf sb;
    sb_init(&sb);
    if (tmpl_render(tmpl, lookup, &t, &sb, err, errlen)) {
        sb_free(&sb);
        return NULL;
    }
    char *s = sb_steal(&sb);
    return s ? s : strdup("");
}

/* ---- requests ---- */


void http_built_free(built_req *r)
{
    free(r->url);
    free(r->body);
    for (int i = 0; i < r->n_headers; i++) free(r->headers[i]);
    for (int i = 0; i < r->n_values; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->user);
    free(r->password);
    free(r->bearer);
    memset(r, 0, sizeof *r);
}

static void *mime_build(void *h, void *ctx)
{
    built_req *r = ctx;
    curl_mime *m = curl_mime_init(h);
    if (!m) return NULL;
    bool bad = false;
    for (int i = 0; i < r->n_values && !bad; i++) {
        curl_mimepart *p = curl_mime_addpart(m);
        bad = !p || curl_mime_name(p, r->names[i]) != CURLE_OK
              || curl_mime_data(p, r->values[i], CURL_ZERO_TERMINATED) != CURLE_OK;
    }
    if (!bad && r->file_field) {
        curl_mimepart *p = curl_mime_addpart(m);
        bad = !p || !r->file_path || curl_mime_name(p, r->file_field) != CURLE_OK
              || curl_mime_filedata(p, r->file_path) != CURLE_OK || curl_mime_filename(p, r->file_name) != CURLE_OK
              || curl_mime_type(p, "application/pdf") != CURLE_OK;
    }
    if (bad) {
        curl_mime_free(m);
        return NULL;
    }
    return m;
}

/* The URL of an action: base_url + path, or the path when absolute. */
static char *action_url(backend *b, const backend_job *job, const char *sid, const http_action *a, char *err,
                        size_t errlen)
{
    char *path = http_render(b, job, sid, a->path, err, errlen);
    if (!path) return NULL;
    strbuf sb;
    sb_init(&sb);
    if (strncmp(path, "http", 4)) {
        size_t n = strlen(b->def->base_url);
        while (n && b->def->base_url[n - 1] == '/') n--;
        sb_append(&sb, b->def->base_url, n);
    }
    sb_puts(&sb, path);
    free(path);
    return sb_steal(&sb);
}


/* Builds an action's request; 0 or -1 with err (a host outside allowed_hosts included). */
int http_build(backend *b, const backend_job *job, const char *sid, const http_action *a, built_req *r, char *err,
                 size_t errlen)
{
    memset(r, 0, sizeof *r);
    const http_def *d = b->def;
    r->url = action_url(b, job, sid, a, err, errlen);
    if (!r->url) return -1;
    if (!http_def_host_ok(d, r->url)) {
        char host[256] = "?";
        url_host(r->url, host, sizeof host);
        str_fmt(err, errlen, "refused: %s is not one of the plugin's http.allowed_hosts", host);
        return -1;
    }
    r->rq.method = a->method;
    r->rq.url = r->url;
    r->rq.timeout_s = d->timeout_s;
    for (int i = 0; i < a->n_headers; i++) {
        char *v = http_render(b, job, sid, a->headers[i].value, err, errlen);
        if (!v) return -1;
        strbuf h;
        sb_init(&h);
        sb_appendf(&h, "%s: %s", a->headers[i].name, v);
        free(v);
        r->headers[r->n_headers++] = sb_steal(&h);
    }
    switch (d->auth.scheme) {
    case HAUTH_NONE:
        break;
    case HAUTH_BASIC:
        r->user = http_render(b, job, sid, d->auth.username, err, errlen);
        r->password = http_render(b, job, sid, d->auth.password ? d->auth.password : "", err, errlen);
        if (!r->user || !r->password) return -1;
        r->rq.user = r->user;
        r->rq.password = r->password;
        break;
    case HAUTH_BEARER:
        if (!(r->bearer = http_render(b, job, sid, d->auth.token, err, errlen))) return -1;
        r->rq.bearer = r->bearer;
        break;
    case HAUTH_HEADER: {
        char *v = http_render(b, job, sid, d->auth.value, err, errlen);
        if (!v) return -1;
        strbuf h;
        sb_init(&h);
        sb_appendf(&h, "%s: %s", d->auth.header, v);
        free(v);
        r->headers[r->n_headers++] = sb_steal(&h);
        break;
    }
    case HAUTH_OAUTH2:
        r->bearer = malloc(sizeof b->token);
        if (!r->bearer || http_get_token(b, false, r->bearer, sizeof b->token, err, errlen)) return -1;
        r->rq.bearer = r->bearer;
        break;
    }
    r->rq.headers = (const char *const *)r->headers;
    r->rq.n_headers = r->n_headers;
    if (!strcmp(a->body, "json")) {
        json_t *o = json_object();
        for (int i = 0; i < a->n_fields; i++) {
            char *v = http_render(b, job, sid, a->fields[i].value, err, errlen);
            if (!v) {
                json_decref(o);
                return -1;
            }
            if (*v) json_object_set_new(o, a->fields[i].name, json_string(v));
            free(v);
        }
        r->body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        r->rq.content_type = "application/json";
    } else if (!strcmp(a->body, "form")) {
        strbuf sb;
        sb_init(&sb);
        for (int i = 0; i < a->n_fields; i++) {
            char *v = http_render(b, job, sid, a->fields[i].value, err, errlen);
            if (!v) {
                sb_free(&sb);
                return -1;
            }
            if (*v) {
                if (sb.len) sb_puts(&sb, "&");
                cloud_url_encode(&sb, a->fields[i].name);
                sb_puts(&sb, "=");
                cloud_url_encode(&sb, v);
            }
            free(v);
        }
        r->body = sb_steal(&sb);
        if (!r->body) r->body = strdup("");
        r->rq.content_type = "application/x-www-form-urlencoded";
    } else if (!strcmp(a->body, "multipart")) {
        for (int i = 0; i < a->n_fields; i++) {
            char *v = http_render(b, job, sid, a->fields[i].value, err, errlen);
            if (!v) return -1;
            if (!*v) {
                free(v);
                continue;
            }
            r->names[r->n_values] = strdup(a->fields[i].name);
            r->values[r->n_values++] = v;
        }
        r->file_field = a->file_field;
        r->file_path = job ? job->pdf_path : NULL;
        r->file_name = "fax.pdf";
        r->rq.mime_build = mime_build;
        r->rq.mime_ctx = r;
    }
    if (r->body) {
        r->rq.body = r->body;
        r->rq.body_len = strlen(r->body);
    }
    return 0;
}

/* ---- OAuth2 client credentials ---- */

int http_get_token(backend *b, bool force, char *out, size_t outlen, char *err, size_t errlen)
{
    const http_auth *a = &b->def->auth;
    pthread_mutex_lock(&b->token_lock);
    if (!force && b->token[0] && mono_ms() < b->token_valid_until) {
        str_copy(out, outlen, b->token);
        pthread_mutex_unlock(&b->token_lock);
        return 0;
    }
    int rc = -1;
    char *id = http_render(b, NULL, NULL, a->client_id, err, errlen);
    char *secret = http_render(b, NULL, NULL, a->client_secret, err, errlen);
    strbuf body;
    sb_init(&body);
    sb_puts(&body, "grant_type=client_credentials");
    if (a->scope && a->scope[0]) {
        sb_puts(&body, "&scope=");
        cloud_url_encode(&body, a->scope);
    }
    if (!id || !secret) goto out;
    if (!http_def_host_ok(b->def, a->token_url)) {
        str_fmt(err, errlen, "refused: the token URL's host is not one of the plugin's http.allowed_hosts");
        goto out;
    }
    cloud_http_req rq = {.method = "POST", .url = a->token_url, .user = id, .password = secret,
                         .content_type = "application/x-www-form-urlencoded", .body = body.data,
                         .body_len = body.len, .timeout_s = 30};
    cloud_http_res rs;
    if (cloud_http(&rq, &rs)) {
        str_fmt(err, errlen, "could not reach the token endpoint: %s", rs.error);
    } else if (rs.status != 200) {
        str_fmt(err, errlen, "the token endpoint answered HTTP %ld%s", rs.status,
                rs.status == 401 || rs.status == 403 ? " (client id/secret rejected)" : "");
    } else {
        json_t *o = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, NULL);
        const char *tok = json_string_value(json_object_get(o, "access_token"));
        json_t *exp = json_object_get(o, "expires_in");
        if (tok && *tok && strlen(tok) < sizeof b->token) {
            long long secs = json_is_integer(exp) ? json_integer_value(exp) : 3600;
            if (secs < 1) secs = 1;
            str_copy(b->token, sizeof b->token, tok);
            b->token_valid_until = mono_ms() + (secs - (secs > 120 ? 60 : secs / 2)) * 1000;
            str_copy(out, outlen, tok);
            rc = 0;
        } else {
            str_fmt(err, errlen, "the token endpoint's answer has no access_token");
        }
        json_decref(o);
    }
    cloud_http_res_free(&rs);
out:
    sb_free(&body);
    free(id);
    free(secret);
    pthread_mutex_unlock(&b->token_lock);
    return rc;
}

/* Performs an action: 0 = an answer (rs), -1 = none (rs->error, rs->maybe_sent) or
 * not built (err; rs->status 0, maybe_sent false). */
int http_perform(backend *b, const backend_job *job, const char *sid, const http_action *a, cloud_http_res *rs,
                   char *err, size_t errlen)
{
    built_req r;
    memset(rs, 0, sizeof *rs);
    sb_init(&rs->body);
    if (http_build(b, job, sid, a, &r, err, errlen)) {
        http_built_free(&r);
        return -1;
    }
    if (b->record) {             /* dry run: what would be sent, not sent */
        json_t *o = json_object();
        json_object_set_new(o, "method", json_string(a->method));
        json_object_set_new(o, "url", json_string(r.url));
        json_object_set_new(o, "body_kind", json_string(a->body));
        if (r.body) json_object_set_new(o, "body", json_string(r.body));
        json_array_append_new(b->record, o);
    }
    int rc = cloud_http(&r.rq, rs);
    if (rc == 0 && rs->status == 401 && b->def->auth.scheme == HAUTH_OAUTH2) {
        if (http_get_token(b, true, r.bearer, sizeof b->token, err, errlen) == 0) {
            cloud_http_res_free(rs);
            rc = cloud_http(&r.rq, rs);
        }
    }
    if (rc) str_copy(err, errlen, rs->error);
    http_built_free(&r);
    return rc;
}
