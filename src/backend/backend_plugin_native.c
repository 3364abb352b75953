/* backend_plugin_native.c — the runtime of `native` plugins: a shared object in the
 * plugin's folder implementing the public C ABI of include/faxbot_plugin.h. When
 * FAX_BACKEND names such a plugin, its library is dlopen()ed (only then: loading the
 * plugin set never runs code), its faxbot_plugin_entry() called, and the table refused
 * unless its abi_version is this gateway's and its id the manifest's. The plugin reports
 * through the host callbacks, which forward to the job layer's sink.
 *
 * Manifest section: "native": {"library": "<file>.so", "abi_version": 1}.
 * Settings: the plugin's config_schema fields (rows PLUGIN_<ID>_<KEY>). */
#include "backend/plugin_native.h"

#include <dlfcn.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/settings.h"
#include "faxbot_plugin.h"
#include "util/util.h"

typedef struct native_slot {
    bool used;
    char id[PLUGIN_ID_MAX];
    void *dl;
    const faxbot_plugin *table;
    backend_ops ops;
} native_slot;

#define NATIVE_SLOTS 16
static native_slot g_slots[NATIVE_SLOTS];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

struct backend {
    backend_sink sink;
    const native_slot *slot;
    json_t *config;
    faxbot_host host;
    void *inst;
    char data_dir[1024];
    char plugin_dir[1024];
};

/* ---- the manifest section ---- */

int native_section_validate(const json_t *manifest, char *err, size_t errlen)
{
    json_t *n = json_object_get(manifest, "native");
    if (!json_is_object(n)) return str_fmt(err, errlen, "native: must be an object {\"library\", \"abi_version\"}"), -1;
    const char *k;
    json_t *v;
    json_object_foreach(n, k, v) if (strcmp(k, "library") && strcmp(k, "abi_version"))
        return str_fmt(err, errlen, "native.%s: not a native section field (library, abi_version)", k), -1;
    const char *lib = json_string_value(json_object_get(n, "library"));
    if (!lib) return str_fmt(err, errlen, "native.library: required (the shared object's file name, e.g. \"echo.so\")"), -1;
    size_t len = strlen(lib);
    if (len < 4 || len > 120 || strcmp(lib + len - 3, ".so") || strchr(lib, '/') || lib[0] == '.')
        return str_fmt(err, errlen, "native.library: \"%s\" must be a plain file name ending in .so, inside the "
                                    "plugin's folder", lib), -1;
    json_t *abi = json_object_get(n, "abi_version");
    if (!json_is_integer(abi))
        return str_fmt(err, errlen, "native.abi_version: required (the faxbot_plugin.h ABI version it was built for)"), -1;
    if (json_integer_value(abi) != FAXBOT_PLUGIN_ABI_VERSION)
        return str_fmt(err, errlen, "native.abi_version: %lld is not supported: this gateway speaks plugin ABI "
                                    "version %d", (long long)json_integer_value(abi), FAXBOT_PLUGIN_ABI_VERSION), -1;
    return 0;
}

/* ---- host callbacks ---- */

static const char *host_config(void *ctx, const char *key)
{
    backend *b = ctx;
    const char *v = json_string_value(json_object_get(b->config, key ? key : ""));
    return v ? v : "";
}

static void host_log(void *ctx, int level, const char *message)
{
    backend *b = ctx;
    log_level lv = level <= 0 ? LOG_DEBUG : level == 1 ? LOG_INFO : level == 2 ? LOG_WARN : LOG_ERROR;
    log_msg(lv, "plugin %s: %s", b->slot->id, message ? message : "");
}

static int host_report(void *ctx, const char *job_id, const faxbot_outcome *o)
{
    backend *b = ctx;
    if (!o || !job_id) return 1;
    backend_outcome out;
    switch (o->kind) {
    case FAXBOT_OUTCOME_ACCEPTED: out = outcome_accepted(o->attempt, o->provider_sid); break;
    case FAXBOT_OUTCOME_PROGRESS: out = outcome_progress(o->attempt, o->provider_sid, o->pages); break;
    case FAXBOT_OUTCOME_SUCCESS: out = outcome_success(o->attempt, o->provider_sid, o->pages); break;
    case FAXBOT_OUTCOME_FAILURE:
        out = outcome_failure(o->attempt, o->provider_sid, o->failure_reason ? o->failure_reason : "provider_error",
                              o->transient != 0, o->message);
        break;
    default:
        return 1;
    }
    out.message = o->message;
    report_verdict v = b->sink.report(b->sink.ctx, job_id, &out);
    return v == REPORT_APPLIED ? 0 : v == REPORT_REFUSED ? 1 : 2;
}

static int host_receive(void *ctx, const faxbot_inbound *f, char *inbound_id, char *err, size_t errlen)
{
    backend *b = ctx;
    if (!f || !f->file_path || !f->provider_sid) return str_fmt(err, errlen, "incomplete inbound fax"), -1;
    inbound_delivery d = {.provider_sid = f->provider_sid, .from_number = f->from_number, .to_number = f->to_number,
                          .file_path = f->file_path, .file_type = f->file_type ? f->file_type : "pdf", .move = false};
    return b->sink.receive(b->sink.ctx, &d, inbound_id, err, errlen);
}

/* ---- backend ops ---- */

static native_slot *slot_of(const char *id)
{
    for (int i = 0; i < NATIVE_SLOTS; i++)
        if (g_slots[i].used && !strcmp(g_slots[i].id, id)) return &g_slots[i];
    return NULL;
}

static void nb_destroy(backend *b)
{
    if (!b) return;
    if (b->inst && b->slot->table->destroy) b->slot->table->destroy(b->inst);
    json_decref(b->config);
    free(b);
}

static backend *nb_create(const struct config *cfg, backend_sink sink, char *err, size_t errlen)
{
    const plugin *p = cfg ? plugin_find(cfg->backend) : NULL;
    pthread_mutex_lock(&g_lock);
    native_slot *s = p ? slot_of(p->id) : NULL;
    pthread_mutex_unlock(&g_lock);
    if (!s) return str_fmt(err, errlen, "FAX_BACKEND '%s' is not a loaded native plugin", cfg ? cfg->backend : "?"), NULL;
    backend *b = calloc(1, sizeof *b);
    if (!b) return str_fmt(err, errlen, "out of memory"), NULL;
    b->sink = sink;
    b->slot = s;
    b->config = json_object();
    for (int i = 0; i < p->n_fields; i++) {
        char v[2048] = "";
        if (p->fields[i].setting && setting_str(p->fields[i].setting, v, sizeof v, err, errlen)) {
            nb_destroy(b);
            return NULL;
        }
        json_object_set_new(b->config, p->fields[i].key, json_string(v));
    }
    str_copy(b->data_dir, sizeof b->data_dir, cfg->data_dir);
    str_copy(b->plugin_dir, sizeof b->plugin_dir, p->dir);
    b->host = (faxbot_host){.abi_version = FAXBOT_PLUGIN_ABI_VERSION, .size = sizeof(faxbot_host), .ctx = b,
                            .plugin_id = s->id, .plugin_dir = b->plugin_dir, .data_dir = b->data_dir,
                            .config = host_config, .log = host_log, .report = host_report, .receive = host_receive};
    char perr[400] = "";
    b->inst = s->table->create(&b->host, perr, sizeof perr);
    if (!b->inst) {
        str_fmt(err, errlen, "plugin %s: %s", s->id, perr[0] ? perr : "could not start");
        nb_destroy(b);
        return NULL;
    }
    return b;
}

static int nb_submit(backend *b, const backend_job *job)
{
    faxbot_job j = {.job_id = job->job_id, .to = job->to, .pdf_path = job->pdf_path, .tiff_path = job->tiff_path,
                    .header_text = job->header_text ? job->header_text : "",
                    .caller_id = job->caller_id ? job->caller_id : "",
                    .station_id = job->station_id ? job->station_id : "", .pdf_url = job->pdf_url ? job->pdf_url : "",
                    .pages = job->pages, .fine = job->fine, .attempt = job->attempt};
    return b->slot->table->submit(b->inst, &j);
}

static int nb_check(backend *b, char *msg, size_t msglen)
{
    if (b->slot->table->check && b->slot->table->check(b->inst, msg, msglen)) return -1;
    if (!b->slot->table->check || !msg[0])
        str_fmt(msg, msglen, "native plugin %s (ABI %d)", b->slot->id, FAXBOT_PLUGIN_ABI_VERSION);
    return 0;
}

/* Opens the plugin's library and checks its table. 0 or -1 with err. */
static int open_library(const plugin *p, native_slot *s, char *err, size_t errlen)
{
    const json_t *sec = json_object_get(p->manifest, "native");
    const char *lib = json_string_value(json_object_get(sec, "library"));
    if (!p->dir[0]) return str_fmt(err, errlen, "plugin %s: a native plugin must be installed in a folder", p->id), -1;
    char path[1200];
    if (!lib || str_fmt(path, sizeof path, "%s/%s", p->dir, lib))
        return str_fmt(err, errlen, "plugin %s: native.library is missing", p->id), -1;
    dlerror();
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) return str_fmt(err, errlen, "plugin %s: could not load %s: %s", p->id, path, dlerror()), -1;
    faxbot_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, FAXBOT_PLUGIN_ENTRY_SYMBOL);
    const faxbot_plugin *t = entry ? entry() : NULL;
    if (!t) {
        str_fmt(err, errlen, "plugin %s: %s has no %s() or it returned nothing", p->id, lib, FAXBOT_PLUGIN_ENTRY_SYMBOL);
    } else if (t->abi_version != FAXBOT_PLUGIN_ABI_VERSION) {
        str_fmt(err, errlen, "plugin %s: refused: %s was built for plugin ABI version %u, this gateway speaks version "
                             "%d; rebuild it against this gateway's faxbot_plugin.h", p->id, lib, t->abi_version,
                FAXBOT_PLUGIN_ABI_VERSION);
    } else if (!t->id || strcmp(t->id, p->id)) {
        str_fmt(err, errlen, "plugin %s: refused: %s says it is \"%s\"", p->id, lib, t->id ? t->id : "(no id)");
    } else if (!t->create || !t->submit || !t->destroy) {
        str_fmt(err, errlen, "plugin %s: refused: its table lacks create, submit or destroy", p->id);
    } else {
        s->dl = dl;
        s->table = t;
        return 0;
    }
    dlclose(dl);
    return -1;
}

static const backend_ops *nb_backend(const plugin *p, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_lock);
    native_slot *s = slot_of(p->id);
    if (!s) {
        for (int i = 0; i < NATIVE_SLOTS && !s; i++)
            if (!g_slots[i].used) s = &g_slots[i];
        if (!s) {
            pthread_mutex_unlock(&g_lock);
            return str_fmt(err, errlen, "too many native plugins in use (at most %d)", NATIVE_SLOTS), NULL;
        }
        native_slot fresh = {0};
        if (open_library(p, &fresh, err, errlen)) {
            pthread_mutex_unlock(&g_lock);
            log_error("%s", err);
            return NULL;
        }
        fresh.used = true;
        str_copy(fresh.id, sizeof fresh.id, p->id);
        fresh.ops = (backend_ops){.needs_tiff = fresh.table->needs_tiff != 0, .create = nb_create,
                                  .submit = nb_submit, .check = nb_check, .destroy = nb_destroy,
                                  .async = fresh.table->async != 0};
        *s = fresh;
        s->ops.name = s->id;
    }
    pthread_mutex_unlock(&g_lock);
    return &s->ops;
}

const plugin_kind_ops plugin_native_kind = {
    .kind = PLUGIN_KIND_NATIVE,
    .validate = native_section_validate,
    .backend = nb_backend,
};
