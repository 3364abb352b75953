/* plugin_http_dryrun.c — the dry run behind POST /admin/plugins/http/validate: a
 * manifest checked, its send request rendered with the given credentials and settings
 * (render_only), or really sent through the runtime with the outcome answered
 * normalized instead of reported to a job. */
#include "backend/plugin_http_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* ---- the dry run: POST /admin/plugins/http/validate ---- */

static report_verdict dry_report(void *ctx, const char *job_id, const backend_outcome *o)
{
    json_t *norm = ctx;
    static const char *const kinds[] = {"", "in_progress", "in_progress", "SUCCESS", "FAILED"};
    json_object_set_new(norm, "job_id", json_string(job_id));
    if (o->provider_sid) json_object_set_new(norm, "provider_id", json_string(o->provider_sid));
    json_object_set_new(norm, "status", json_string(kinds[o->kind]));
    if (o->kind == OUTCOME_FAILURE) {
        json_object_set_new(norm, "failure_reason", json_string(o->failure_reason ? o->failure_reason : ""));
        json_object_set_new(norm, "transient", json_boolean(o->transient));
        if (o->message) json_object_set_new(norm, "error", json_string(o->message));
    }
    return REPORT_APPLIED;
}


json_t *http_plugin_dry_run(json_t *body, int *status)
{
    char err[400];
    json_t *manifest = json_object_get(body, "manifest");
    http_def def;
    if (http_def_parse(manifest, &def, err, sizeof err)) {
        *status = 400;
        json_t *o = json_object();
        json_object_set_new(o, "detail", json_string(err));
        return o;
    }
    json_t *out = json_object();
    json_object_set_new(out, "id", json_string(def.id));
    json_object_set_new(out, "name", json_string(def.name));
    json_t *actions = json_array();
    json_array_append_new(actions, json_string("send_fax"));
    if (def.status.present) json_array_append_new(actions, json_string("get_status"));
    if (def.cancel.present) json_array_append_new(actions, json_string("cancel_fax"));
    json_object_set_new(out, "actions", actions);
    json_t *hosts = json_array();
    for (int i = 0; i < def.n_hosts; i++) json_array_append_new(hosts, json_string(def.hosts[i]));
    json_object_set_new(out, "allowed_domains", hosts);
    json_t *warnings = json_array();
    if (!strncmp(def.base_url, "http://", 7))
        json_array_append_new(warnings, json_string("http.base_url is plain http: credentials and faxes travel unencrypted"));
    json_t *norm = json_object();
    backend_sink sink = {.report = dry_report, .ctx = norm};
    backend *b = http_instance_new(&def, sink, NULL);
    b->config = json_object();
    json_object_update(b->config, json_object_get(body, "settings"));
    json_object_update(b->config, json_object_get(body, "credentials"));
    b->record = json_array();
    const char *to = json_string_value(json_object_get(body, "to"));
    const char *file_url = json_string_value(json_object_get(body, "file_url"));
    const char *from = json_string_value(json_object_get(body, "from_number"));
    json_t *ro = json_object_get(body, "render_only");
    bool render_only = !json_is_false(ro);
    char job_id[33];
    new_id_hex32(job_id);
    backend_job job = {.job_id = job_id, .to = to ? to : "+15551234567", .caller_id = from ? from : "",
                       .pdf_url = file_url ? file_url : "", .attempt = 1, .pages = 1, .provider_sid = ""};
    if (render_only) {
        built_req r;
        if (http_build(b, &job, NULL, &def.send, &r, err, sizeof err)) {
            json_object_set_new(out, "error", json_string(err));
        } else {
            json_t *o = json_object();
            json_object_set_new(o, "method", json_string(def.send.method));
            json_object_set_new(o, "url", json_string(r.url));
            json_object_set_new(o, "body_kind", json_string(def.send.body));
            if (r.body) json_object_set_new(o, "body", json_string(r.body));
            json_array_append_new(b->record, o);
        }
        http_built_free(&r);
    } else if (def.send.file_field) {
        json_object_set_new(out, "error", json_string("this provider takes an upload: a dry run sends no document "
                                                      "(use render_only)"));
    } else {
        http_plugin_submit(b, &job);
        json_object_set_new(out, "normalized", json_incref(norm));
    }
    json_object_set_new(out, "requests", json_incref(b->record));
    if (json_array_size(warnings)) json_object_set_new(out, "warnings", warnings);
    else json_decref(warnings);
    json_decref(norm);
    http_instance_free(b);
    http_def_free(&def);
    *status = 200;
    return out;
}
