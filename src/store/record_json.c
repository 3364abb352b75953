/* record_json.c — the API's JSON view of jobs and inbound faxes (see record_json.h). */
#include "store/record_json.h"
#include "util/util.h"

#include <string.h>

json_t *record_time_json(int64_t ms)
{
    if (ms <= 0) return json_null();
    char t[32];
    iso8601_from_ms(ms, t);
    return json_string(t);
}

static json_t *str_or_null(const char *s) { return (s && *s) ? json_string(s) : json_null(); }

json_t *record_job_json(const job_record *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "to", json_string(r->to_number));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "error", str_or_null(r->error));
    json_object_set_new(o, "pages", r->pages >= 0 ? json_integer(r->pages) : json_null());
    json_object_set_new(o, "pages_sent", json_integer(r->pages_sent));
    json_object_set_new(o, "backend", json_string(r->backend));
    json_object_set_new(o, "provider_sid", str_or_null(r->provider_sid));
    json_object_set_new(o, "created_at", record_time_json(r->created_at));
    json_object_set_new(o, "updated_at", record_time_json(r->updated_at));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "max_attempts", json_integer(r->max_attempts));
    json_object_set_new(o, "failure_reason", str_or_null(r->failure_reason));
    json_object_set_new(o, "duration_s", r->duration_s >= 0 ? json_real(r->duration_s) : json_null());
    json_object_set_new(o, "bit_rate", r->bit_rate >= 0 ? json_integer(r->bit_rate) : json_null());
    json_object_set_new(o, "ecm", r->ecm >= 0 ? json_boolean(r->ecm) : json_null());
    json_object_set_new(o, "remote_station_id", str_or_null(r->remote_station_id));
    json_object_set_new(o, "inbound_id", str_or_null(r->inbound_id));
    json_object_set_new(o, "resolution", json_string(r->resolution));
    json_object_set_new(o, "file_name", str_or_null(r->file_name));
    json_object_set_new(o, "warning", str_or_null(r->warning));
    json_object_set_new(o, "owner", str_or_null(r->owner));
    json_object_set_new(o, "artifacts_deleted_at", record_time_json(r->artifacts_deleted_at));
    json_object_set_new(o, "next_attempt_at",
                        !strcmp(r->status, "queued") ? record_time_json(r->next_attempt_at) : json_null());
    return o;
}

json_t *record_inbound_json(const inbound_record *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "fr", r->from_number[0] ? json_string(r->from_number) : json_null());
    json_object_set_new(o, "to", r->to_number[0] ? json_string(r->to_number) : json_null());
    json_object_set_new(o, "status", json_string(r->artifacts_deleted_at ? "deleted" : r->status));
    json_object_set_new(o, "backend", json_string(r->backend));
    json_object_set_new(o, "pages", r->pages >= 0 ? json_integer(r->pages) : json_null());
    json_object_set_new(o, "size_bytes", json_integer(r->size_bytes));
    json_object_set_new(o, "created_at", record_time_json(r->created_at));
    json_object_set_new(o, "received_at", record_time_json(r->received_at));
    json_object_set_new(o, "updated_at", record_time_json(r->updated_at));
    json_object_set_new(o, "mailbox", r->mailbox[0] ? json_string(r->mailbox) : json_null());
    json_object_set_new(o, "owner", r->owner[0] ? json_string(r->owner) : json_null());
    json_object_set_new(o, "sha256", json_string(r->sha256));
    json_object_set_new(o, "remote_station_id", r->remote_station_id[0] ? json_string(r->remote_station_id) : json_null());
    json_object_set_new(o, "source_job_id", r->source_job_id[0] ? json_string(r->source_job_id) : json_null());
    json_object_set_new(o, "retention_until", record_time_json(r->retention_until));
    json_object_set_new(o, "artifacts_deleted_at", record_time_json(r->artifacts_deleted_at));
    json_object_set_new(o, "read_at", record_time_json(r->read_at));
    return o;
}

int record_event_make(store_event *ev, char id[40], char **body, const char *type, json_t *data, json_t *extra,
                      int64_t now)
{
    char hex[33];
    new_id_hex32(hex);
    str_fmt(id, 40, "evt_%s", hex);
    json_t *env = json_object();
    json_object_set_new(env, "id", json_string(id));
    json_object_set_new(env, "type", json_string(type));
    json_object_set_new(env, "timestamp", record_time_json(now));
    json_object_set_new(env, "data", data ? data : json_null());
    if (extra) {
        json_object_update(env, extra);
        json_decref(extra);
    }
    *body = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    if (!*body) return -1;
    ev->id = id;
    ev->type = type;
    ev->created_at = now;
    ev->body = *body;
    return 0;
}
