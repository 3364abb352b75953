/* pbx_lease.c — one node at a time on a PBX connection: see pbx_lease.h. */
#include "backend/pbx_lease.h"

#include <string.h>

#include "util/util.h"

static void why_locked(pbx_lease *l, char *out, size_t len)
{
    str_fmt(out, len, "standby: node %s holds %s (this node sends nothing through it)",
            l->holder[0] ? l->holder : "(unknown: the database cannot be reached)", l->what);
}

/* One question to the store; lock not held. 1 held, 0 another node's, -1 unknown. */
static int ask(pbx_lease *l, char *holder, size_t len)
{
    return l->sink.lease(l->sink.ctx, l->name, PBX_LEASE_MS, holder, len);
}

bool pbx_lease_start(pbx_lease *l, const backend_sink *sink, const char *kind, const char *what_name,
                     const char *host, int port, char *why, size_t whylen)
{
    memset(l, 0, sizeof *l);
    l->sink = *sink;
    pthread_mutex_init(&l->lock, NULL);
    str_fmt(l->name, sizeof l->name, "pbx:%s:%s:%d", kind, host, port);
    str_fmt(l->what, sizeof l->what, "%s at %s:%d", what_name, host, port);
    if (why && whylen) why[0] = 0;
    if (!sink->lease) return false;
    int r = ask(l, l->holder, sizeof l->holder);
    int64_t now = mono_ms();
    l->standby = r != 1;
    if (r < 0) l->holder[0] = 0;
    l->held_until = r == 1 ? now + PBX_LEASE_MS : 0;
    l->next = now + (r == 1 ? PBX_LEASE_RENEW_MS : PBX_LEASE_RETRY_MS);
    if (l->standby && why) {
        why_locked(l, why, whylen);
        log_warn("%s", why);
    }
    return l->standby;
}

bool pbx_lease_tick(pbx_lease *l, bool *standby, char *why, size_t whylen)
{
    if (!l->sink.lease) return false;
    int64_t now = mono_ms();
    pthread_mutex_lock(&l->lock);
    bool due = now >= l->next;
    pthread_mutex_unlock(&l->lock);
    if (!due) return false;
    char holder[64] = "";
    int r = ask(l, holder, sizeof holder);
    pthread_mutex_lock(&l->lock);
    bool was = l->standby;
    if (r == 1) {
        l->standby = false;
        l->held_until = now + PBX_LEASE_MS;
    } else if (r == 0) {
        l->standby = true;
        str_copy(l->holder, sizeof l->holder, holder);
    } else if (!l->standby && now >= l->held_until) {
        l->standby = true;       /* could not renew it in time: another node may have it now */
        l->holder[0] = 0;
    }
    l->next = now + (l->standby ? PBX_LEASE_RETRY_MS : PBX_LEASE_RENEW_MS);
    bool changed = l->standby != was;
    *standby = l->standby;
    if (l->standby) why_locked(l, why, whylen);
    else str_fmt(why, whylen, "this node holds %s now", l->what);
    pthread_mutex_unlock(&l->lock);
    if (changed) {
        if (*standby) log_warn("%s", why);
        else log_info("%s", why);
    }
    return changed;
}

bool pbx_lease_standby(pbx_lease *l)
{
    pthread_mutex_lock(&l->lock);
    bool s = l->standby;
    pthread_mutex_unlock(&l->lock);
    return s;
}

void pbx_lease_why(pbx_lease *l, char *out, size_t len)
{
    pthread_mutex_lock(&l->lock);
    why_locked(l, out, len);
    pthread_mutex_unlock(&l->lock);
}

void pbx_lease_end(pbx_lease *l)
{
    if (l->sink.lease_release && !pbx_lease_standby(l)) l->sink.lease_release(l->sink.ctx, l->name);
    pthread_mutex_destroy(&l->lock);
}
