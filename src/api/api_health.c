/* api_health.c — GET /health (always cheap), GET /health/ready (is every part
 * this gateway needs usable right now: database, backend, storage, Ghostscript),
 * and GET /metrics in Prometheus text format. */
#include "api/api_internal.h"
#include "mcp/mcp_server.h"
#include "util/sandbox.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

static void health(http_request *req, http_response *res)
{
    (void)req;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "backend", json_string(jobs_backend_name(g_api.jobs)));
    if (!strcmp(jobs_backend_name(g_api.jobs), "loopback")) {
        json_object_set_new(o, "test_mode", json_true());
        json_object_set_new(o, "delivery", json_string(LOOPBACK_NOTICE));
    }
    api_json(res, 200, o);
}

/* Ghostscript is found the way the sandbox will find it. */
bool api_ghostscript_present(void)
{
    char path[PATH_MAX];
    return sandbox_resolve(api_cfg()->gs_path, path, sizeof path) == 0;
}

static void ready(http_request *req, http_response *res)
{
    (void)req;
    json_t *checks = json_object(), *warnings = json_array();
    char msg[512];
    bool db = store_ping(g_api.st, msg, sizeof msg) == 0;
    if (!db) json_array_append_new(warnings, json_sprintf("database: %s", msg));
    char bmsg[2048] = "";
    bool backend = jobs_backend_check(g_api.jobs, bmsg, sizeof bmsg) == 0;
    if (!backend) json_array_append_new(warnings, json_sprintf("backend %s: %s", jobs_backend_name(g_api.jobs), bmsg));
    bmsg[0] = 0;
    if (jobs_backend_warning(g_api.jobs, bmsg, sizeof bmsg))
        json_array_append_new(warnings, json_sprintf("backend %s: %s", jobs_backend_name(g_api.jobs), bmsg));
    if (!strcmp(jobs_backend_name(g_api.jobs), "loopback"))
        json_array_append_new(warnings, json_string("FAX_BACKEND is loopback: faxes go to the " LOOPBACK_NOTICE));
    int64_t free_bytes = 0;
    bool storage = blob_check(g_api.blobs, &free_bytes, msg, sizeof msg) == 0;
    if (!storage) json_array_append_new(warnings, json_sprintf("storage: %s", msg));
    else if (free_bytes < 100LL * 1024 * 1024) json_array_append_new(warnings, json_sprintf("storage: only %lld MB free", (long long)(free_bytes >> 20)));
    char s3err[1100] = "", s3code[64];
    bool s3 = blob_check_remote(g_api.blobs, 5000, s3code, sizeof s3code, s3err, sizeof s3err) == 0;
    if (!s3) json_array_append_new(warnings, json_sprintf("storage: %s", s3err));
    bool gs = api_ghostscript_present();
    if (!gs) json_array_append_new(warnings, json_sprintf("ghostscript: '%s' not found; install the ghostscript package", api_cfg()->gs_path));
    if (!api_auth_enforced()) json_array_append_new(warnings, json_string("no API key is required: set API_KEY for anything but local development"));
    json_object_set_new(checks, "db", json_boolean(db));
    json_object_set_new(checks, "backend_config", json_boolean(backend));
    json_object_set_new(checks, "storage", json_boolean(storage));
    if (!strcmp(blob_kind(g_api.blobs), "s3")) {
        json_object_set_new(checks, "s3", json_boolean(s3));
    }
    json_object_set_new(checks, "ghostscript", json_boolean(gs));
    bool ok = db && backend && storage && s3 && gs;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(ok ? "ready" : "not_ready"));
    json_object_set_new(o, "backend", json_string(jobs_backend_name(g_api.jobs)));
    json_object_set_new(o, "checks", checks);
    json_object_set_new(o, "warnings", warnings);
    if (!s3 && s3code[0]) json_object_set_new(o, "s3_error", json_string(s3code));   /* S3's error code */
    api_json(res, ok ? 200 : 503, o);
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total = 0, pages_rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages_total, &pages_rss) != 2) pages_rss = 0;
        fclose(f);
    }
    return pages_rss * sysconf(_SC_PAGESIZE);
}

static void metrics(http_request *req, http_response *res)
{
    principal who;
    if (api_cfg()->metrics_require_key && api_require_key(req, res, &who)) return;
    strbuf sb;
    sb_init(&sb);
    api_metrics_http(&sb);
    mcp_metrics(&sb);
    const char *statuses[JOB_STATUS_COUNT];
    for (int i = 0; i < JOB_STATUS_COUNT; i++) statuses[i] = job_status_name((job_status)(JOB_ST_QUEUED + i));
    int64_t counts[JOB_STATUS_COUNT] = {0};
    store_job_count_by_status(g_api.st, statuses, JOB_STATUS_COUNT, counts);
    sb_puts(&sb, "# HELP faxbot_jobs Jobs in the store, by status.\n# TYPE faxbot_jobs gauge\n");
    for (int i = 0; i < JOB_STATUS_COUNT; i++) sb_appendf(&sb, "faxbot_jobs{status=\"%s\"} %lld\n", statuses[i], (long long)counts[i]);
    jobs_stats js;
    jobs_get_stats(g_api.jobs, &js);
    sb_appendf(&sb,
               "# HELP faxbot_jobs_created_total Jobs accepted since start.\n# TYPE faxbot_jobs_created_total counter\n"
               "faxbot_jobs_created_total %llu\n"
               "# HELP faxbot_job_transitions_total Job state changes since start.\n# TYPE faxbot_job_transitions_total counter\n"
               "faxbot_job_transitions_total %llu\n"
               "# HELP faxbot_job_outcomes_total Job outcomes since start.\n# TYPE faxbot_job_outcomes_total counter\n"
               "faxbot_job_outcomes_total{outcome=\"succeeded\"} %llu\n"
               "faxbot_job_outcomes_total{outcome=\"failed\"} %llu\n"
               "faxbot_job_outcomes_total{outcome=\"retried\"} %llu\n"
               "faxbot_job_outcomes_total{outcome=\"interrupted\"} %llu\n"
               "faxbot_job_outcomes_total{outcome=\"cancelled\"} %llu\n"
               "# HELP faxbot_conversions_total Documents converted to fax images.\n# TYPE faxbot_conversions_total counter\n"
               "faxbot_conversions_total %llu\n"
               "faxbot_conversion_failures_total %llu\n"
               "faxbot_conversion_pages_total %llu\n"
               "faxbot_conversion_seconds_total %.3f\n"
               "# HELP faxbot_workers_busy Workers running an attempt.\n# TYPE faxbot_workers_busy gauge\n"
               "faxbot_workers_busy %d\nfaxbot_workers %d\n"
               "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n"
               "process_resident_memory_bytes %ld\n",
               (unsigned long long)js.created, (unsigned long long)js.transitions, (unsigned long long)js.succeeded,
               (unsigned long long)js.failed, (unsigned long long)js.retried, (unsigned long long)js.interrupted,
               (unsigned long long)js.cancelled, (unsigned long long)js.conversions,
               (unsigned long long)js.conversion_failures, (unsigned long long)js.conversion_pages, js.conversion_seconds,
               js.busy_workers, js.workers, rss_bytes());
    if (g_api.events) {
        events_stats es;
        events_get_stats(g_api.events, &es);
        sb_appendf(&sb,
                   "# HELP faxbot_webhook_attempts_total Webhook delivery attempts since start, by outcome.\n"
                   "# TYPE faxbot_webhook_attempts_total counter\n"
                   "faxbot_webhook_attempts_total{outcome=\"delivered\"} %llu\n"
                   "faxbot_webhook_attempts_total{outcome=\"retry\"} %llu\n"
                   "faxbot_webhook_attempts_total{outcome=\"failed\"} %llu\n"
                   "# HELP faxbot_event_streams Open GET /events streams.\n# TYPE faxbot_event_streams gauge\n"
                   "faxbot_event_streams %d\n",
                   (unsigned long long)es.delivered, (unsigned long long)es.retried, (unsigned long long)es.failed,
                   es.streams);
    }
    size_t len = sb.len;
    http_res_set(res, 200, "text/plain; version=0.0.4", sb_steal(&sb), len);
}

static const http_route health_routes[] = {
    {.method = "GET", .pattern = "/health", .handle = health},
    {.method = "GET", .pattern = "/health/ready", .handle = ready},
    {.method = "GET", .pattern = "/metrics", .handle = metrics},
};

void api_health_routes(const http_route **routes, int *n)
{
    *routes = health_routes;
    *n = (int)(sizeof health_routes / sizeof health_routes[0]);
}
