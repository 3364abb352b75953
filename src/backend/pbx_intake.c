/* pbx_intake.c — taking a PBX's received fax out of its spool directory (see
 * pbx_intake.h). */
#include "backend/pbx_intake.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

void pbx_intake_init(pbx_intake *in)
{
    pthread_mutex_init(&in->lock, NULL);
    memset(in->recent, 0, sizeof in->recent);
    in->recent_pos = 0;
}

void pbx_intake_destroy(pbx_intake *in)
{
    pthread_mutex_destroy(&in->lock);
}

static void reply_id(const pbx_intake *in, webhook_response *res, const char *id)
{
    webhook_reply_json(res, 200, json_pack("{s:s,s:s}", in->id_key, id, "status", "ok"));
}

/* The inbound id of an earlier hand-off of this call, if remembered. */
static bool recall(pbx_intake *in, const char *call_id, char id[33])
{
    bool found = false;
    pthread_mutex_lock(&in->lock);
    for (int i = 0; i < PBX_RECENT_INBOUND && !found; i++) {
        if (in->recent[i].call_id[0] && !strcmp(in->recent[i].call_id, call_id)) {
            str_copy(id, 33, in->recent[i].inbound_id);
            found = true;
        }
    }
    pthread_mutex_unlock(&in->lock);
    return found;
}

static void remember(pbx_intake *in, const char *call_id, const char *id)
{
    pthread_mutex_lock(&in->lock);
    int at = in->recent_pos;
    in->recent_pos = (in->recent_pos + 1) % PBX_RECENT_INBOUND;
    str_copy(in->recent[at].call_id, sizeof in->recent[at].call_id, call_id);
    str_copy(in->recent[at].inbound_id, sizeof in->recent[at].inbound_id, id);
    pthread_mutex_unlock(&in->lock);
}

static bool inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && path[n] == '/' && path[n + 1] != 0;
}

/* Copies the spool file (opened without following a symlink) to a temp file of
 * ours; 0, or the HTTP status with the reason in why. */
static int copy_in(const pbx_intake *in, const char *real, char *tmp, size_t tmplen, char *why, size_t whylen)
{
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        str_fmt(why, whylen, "tiff_path is not a readable regular file");
        return 400;
    }
    if (st.st_size <= 0 || st.st_size > PBX_INBOUND_MAX_BYTES) {
        close(fd);
        str_fmt(why, whylen, "tiff_path is empty or larger than 64 MB");
        return 400;
    }
    char dir[PATH_MAX];
    int out = -1;
    if (str_fmt(dir, sizeof dir, "%s/tmp", in->data_dir) == 0 && mkdir_p(dir, 0700) == 0 &&
        str_fmt(tmp, tmplen, "%s/%s-XXXXXX", dir, in->tmp_prefix) == 0)
        out = mkstemp(tmp);
    if (out < 0) {
        close(fd);
        str_fmt(why, whylen, "cannot make a temporary file in FAX_DATA_DIR/tmp");
        return 500;
    }
    int rc = fd_copy(fd, out);
    close(fd);
    if (close(out)) rc = -1;
    if (rc) {
        unlink(tmp);
        str_fmt(why, whylen, "cannot copy the received fax");
        return 500;
    }
    return 0;
}

/* The spool file's real path, or the HTTP status with the reason. */
static int resolve_in_spool(const pbx_intake *in, const char *path, char real[PATH_MAX], char *why, size_t whylen)
{
    char spool[PATH_MAX];
    if (path[0] != '/') {
        str_fmt(why, whylen, "tiff_path must be an absolute path inside %s", in->spool_setting);
        return 400;
    }
    if (!in->spool_dir || !in->spool_dir[0] || !realpath(in->spool_dir, spool)) {
        str_fmt(why, whylen, "%s does not exist on the gateway host", in->spool_setting);
        return 500;
    }
    if (!realpath(path, real)) {
        bool claimed_inside = (inside(path, in->spool_dir) || inside(path, spool)) && !strstr(path, "/../") &&
                              !strstr(path, "/./");
        if (claimed_inside) str_fmt(why, whylen, "tiff_path does not exist");
        else str_fmt(why, whylen, "tiff_path is not inside %s", in->spool_setting);
        return claimed_inside ? 400 : 403;
    }
    if (!inside(real, spool)) {
        log_warn("%s: refused a hand-off of a file outside %s", in->log_name, in->spool_setting);
        str_fmt(why, whylen, "tiff_path is not inside %s", in->spool_setting);
        return 403;
    }
    return 0;
}

void pbx_intake_take(pbx_intake *in, const backend_sink *sink, const pbx_handoff *h, webhook_response *res)
{
    char id[33] = "", real[PATH_MAX], tmp[PATH_MAX], why[512] = "";
    if (recall(in, h->call_id, id)) {
        reply_id(in, res, id);
        return;
    }
    int status = resolve_in_spool(in, h->tiff_path, real, why, sizeof why);
    if (status == 0) status = copy_in(in, real, tmp, sizeof tmp, why, sizeof why);
    if (status) {
        webhook_reply_detail(res, status, why);
        return;
    }
    inbound_delivery d = {.provider_sid = h->provider_sid, .from_number = h->from, .to_number = h->to,
                          .remote_station_id = h->station_id, .file_path = tmp, .file_type = "tiff", .move = true};
    if (sink->receive(sink->ctx, &d, id, why, sizeof why)) {
        unlink(tmp);
        int code = strstr(why, "not usable") ? 400 : strstr(why, "not enabled") ? 403 : 500;
        webhook_reply_detail(res, code, why);
        return;
    }
    unlink(tmp);                /* harmless if it was moved */
    if (unlink(real)) log_debug("%s: could not remove the spool file: %s", in->log_name, strerror(errno));
    remember(in, h->call_id, id);
    char masked[80];
    mask_phone(h->from, masked, sizeof masked);
    log_info("%s: inbound fax %s from %s stored (call %s)", in->log_name, id, masked, h->call_id);
    reply_id(in, res, id);
}
