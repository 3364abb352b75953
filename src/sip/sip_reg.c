/* sip_reg.c — REGISTER, Digest answer, refresh, backoff (see sip_reg.h). */
#include "sip/sip_reg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_digest.h"

struct sip_reg {
    sip_endpoint *ep;
    char host[64], domain[128], user[128], auth_user[128], password[128], contact_host[64];
    int port, expires, transport, contact_port;
    bool learn;
    char call_id[64], tag[32];
    uint32_t cseq;
    sip_digest_challenge ch;
    bool have_ch;
    uint32_t nc;
    int auth_tries;       /* answers to challenges in this attempt */
    bool in_flight;
    int64_t next_at;      /* when to send the next REGISTER */
    int backoff_s;
    bool stopping;
    pthread_mutex_t mu;   /* guards st */
    sip_reg_status st;
};

const char *sip_reg_state_name(sip_reg_state s)
{
    static const char *const n[] = {"idle", "registering", "registered", "failed"};
    return n[s];
}

static void set_status(sip_reg *r, sip_reg_state s, int status, const char *err, const char *advice)
{
    pthread_mutex_lock(&r->mu);
    r->st.state = s;
    if (status) r->st.last_status = status;
    snprintf(r->st.last_error, sizeof r->st.last_error, "%s", err ? err : "");
    snprintf(r->st.advice, sizeof r->st.advice, "%s", advice ? advice : "");
    if (s == SIP_REG_FAILED) r->st.failures++;
    pthread_mutex_unlock(&r->mu);
}

static void send_register(sip_reg *r, int64_t now);

static void fail(sip_reg *r, int status, const char *err, const char *advice, int64_t now)
{
    set_status(r, SIP_REG_FAILED, status, err, advice);
    r->next_at = now + (int64_t)r->backoff_s * 1000;
    r->backoff_s = r->backoff_s * 2 > 300 ? 300 : r->backoff_s * 2;
    r->have_ch = false;
}

static void on_response(void *user, const sip_msg *resp, int status)
{
    sip_reg *r = user;
    int64_t now = mono_ms();
    if (status == 0) { r->in_flight = false; return; }   /* the layer is going away */
    if (status < 200) return;
    r->in_flight = false;
    if (r->stopping) return;
    if (!resp) {
        fail(r, 408, "the registrar did not answer (timeout)",
             "Check the registrar address and port, that UDP to it is not blocked by a firewall, and that it is up.", now);
        return;
    }
    if (status == 401 || status == 407) {
        char why[160];
        sip_digest_challenge c;
        if (sip_digest_from_response(resp, &c, why, sizeof why)) {
            fail(r, status, why, "The registrar asks for an authentication scheme we do not speak; ask the provider for Digest (MD5 or SHA-256).", now);
            return;
        }
        bool new_nonce = !r->have_ch || strcmp(c.nonce, r->ch.nonce);
        if (r->auth_tries >= 1 && !c.stale) {
            fail(r, status, "the registrar refused the user name or password",
                 "Check the SIP user name, the authentication user name and the password in the trunk settings.", now);
            return;
        }
        r->ch = c;
        r->have_ch = true;
        if (new_nonce) r->nc = 0;
        r->auth_tries++;
        send_register(r, now);
        return;
    }
    if (status >= 200 && status < 300) {
        long granted = r->expires;
        char v[32];
        for (size_t i = 0; i < resp->n_contact; i++)
            if (sip_param_get(resp->contact[i].params, "expires", v, sizeof v) == 1) { granted = atol(v); break; }
        if (resp->expires >= 0 && !resp->n_contact) granted = resp->expires;
        if (granted <= 0) granted = r->expires;
        /* what the registrar saw of us (RFC 3581): our address after any NAT */
        const sip_via *top = resp->n_via ? &resp->via[0] : NULL;
        char seen[64] = "";
        int seen_port = 0;
        if (top && (top->received || top->rport > 0)) {
            snprintf(seen, sizeof seen, "%s", top->received ? top->received : r->contact_host);
            seen_port = top->rport > 0 ? top->rport : (top->port ? top->port : sip_endpoint_port(r->ep));
        }
        int our_port = r->contact_port ? r->contact_port : sip_endpoint_port(r->ep);
        bool moved = r->learn && seen[0] && (strcmp(seen, r->contact_host) || seen_port != our_port);
        pthread_mutex_lock(&r->mu);
        snprintf(r->st.public_addr, sizeof r->st.public_addr, "%s", seen);
        r->st.public_port = seen_port;
        r->st.state = SIP_REG_REGISTERED;
        r->st.last_status = status;
        r->st.last_error[0] = r->st.advice[0] = 0;
        r->st.granted_expires = (int)granted;
        r->st.registrations++;
        pthread_mutex_unlock(&r->mu);
        r->backoff_s = 5;
        r->auth_tries = 0;
        /* refresh at half the granted time (at least 1 s ahead) */
        r->next_at = now + (granted > 2 ? granted * 500 : 1000);
        if (moved) {   /* register the address the world sees, now */
            snprintf(r->contact_host, sizeof r->contact_host, "%s", seen);
            r->contact_port = seen_port;
            r->next_at = now;
        }
        return;
    }
    if (status == 403)
        fail(r, status, "the registrar forbids this registration (403)",
             "The account may be disabled, the user name wrong for this domain, or our address not allowed; check with the provider.", now);
    else if (status == 423)
        fail(r, status, "the registrar wants a longer expiry (423)", "Raise the registration expiry in the trunk settings.", now);
    else if (status == 404)
        fail(r, status, "the registrar does not know this user (404)", "Check the SIP user name and domain.", now);
    else {
        char e[80];
        snprintf(e, sizeof e, "the registrar answered %d %.40s", status, resp->reason);
        fail(r, status, e, "A server-side problem; it is retried with backoff. If it persists, contact the provider.", now);
    }
}

static void send_register(sip_reg *r, int64_t now)
{
    strbuf sb;
    sb_init(&sb);
    char branch[32], ruri[200], auth[1024] = "";
    sip_new_branch(branch);
    snprintf(ruri, sizeof ruri, "sip:%s", r->domain);
    r->cseq++;
    if (r->have_ch) {
        r->nc++;
        if (sip_digest_authorization(&r->ch, r->auth_user, r->password, "REGISTER", ruri, r->nc, NULL, auth, sizeof auth)) {
            sb_free(&sb);
            fail(r, 0, "cannot build the Authorization header", "A user name with a quote or line break cannot be sent; check the trunk settings.", now);
            return;
        }
    }
    int rc = sip_build_request_line(&sb, "REGISTER", ruri);
    const char *tp = r->transport == SIP_TP_TLS ? "TLS" : r->transport == SIP_TP_TCP ? "TCP" : "UDP";
    rc |= sip_build_headerf(&sb, "Via", "SIP/2.0/%s %s:%d;branch=%s;rport", tp, r->contact_host, sip_endpoint_port(r->ep), branch);
    rc |= sip_build_header(&sb, "Max-Forwards", "70");
    rc |= sip_build_headerf(&sb, "From", "<sip:%s@%s>;tag=%s", r->user, r->domain, r->tag);
    rc |= sip_build_headerf(&sb, "To", "<sip:%s@%s>", r->user, r->domain);
    rc |= sip_build_header(&sb, "Call-ID", r->call_id);
    rc |= sip_build_headerf(&sb, "CSeq", "%u REGISTER", (unsigned)r->cseq);
    rc |= sip_build_headerf(&sb, "Contact", "<sip:%s@%s:%d%s>", r->user, r->contact_host,
                            r->contact_port ? r->contact_port : sip_endpoint_port(r->ep),
                            r->transport == SIP_TP_TLS ? ";transport=tls" : r->transport == SIP_TP_TCP ? ";transport=tcp" : "");
    rc |= sip_build_headerf(&sb, "Expires", "%d", r->expires);
    if (auth[0]) rc |= sip_build_header(&sb, r->ch.proxy ? "Proxy-Authorization" : "Authorization", auth);
    rc |= sip_build_header(&sb, "User-Agent", "faxbot");
    rc |= sip_build_finish(&sb, NULL, NULL, 0);
    memset(auth, 0, sizeof auth);
    sip_addr_t to;
    if (!rc && !sip_addr_from(r->host, r->port, &to)) to.transport = r->transport;
    else rc = -1;
    if (rc ||
        sip_txn_request(sip_endpoint_txn(r->ep), sb.data, sb.len, &to, on_response, r, now)) {
        fail(r, 503, r->transport == SIP_TP_UDP ? "cannot send REGISTER" : "cannot connect to the registrar",
             r->transport == SIP_TP_TLS
                 ? "Check the registrar address and TLS port, and that its certificate is trusted (CA file) and issued for the name or address configured."
                 : r->transport == SIP_TP_TCP ? "Check the registrar address and TCP port, and that a firewall does not block it."
                                              : "The registrar address must be a numeric IP address; or too many SIP transactions are open.",
             now);
    } else {
        r->in_flight = true;
        pthread_mutex_lock(&r->mu);
        if (r->st.state != SIP_REG_REGISTERED) r->st.state = SIP_REG_REGISTERING;
        pthread_mutex_unlock(&r->mu);
    }
    sb_free(&sb);
}

static void tick(sip_endpoint *ep, void *arg, int64_t now)
{
    sip_reg *r = arg;
    if (r->stopping) {
        if (r->in_flight) return;   /* Timer F ends it at the latest */
        sip_endpoint_remove_tick(ep, tick, r);   /* runs before the next ticks */
        memset(r->password, 0, sizeof r->password);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return;
    }
    if (r->in_flight || now < r->next_at) return;
    r->auth_tries = 0;
    send_register(r, now);
}

sip_reg *sip_reg_start(sip_endpoint *ep, const sip_reg_config *cfg)
{
    sip_reg *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->ep = ep;
    snprintf(r->host, sizeof r->host, "%s", cfg->registrar_host);
    r->port = cfg->registrar_port ? cfg->registrar_port : 5060;
    snprintf(r->domain, sizeof r->domain, "%s", cfg->domain);
    snprintf(r->user, sizeof r->user, "%s", cfg->user);
    snprintf(r->auth_user, sizeof r->auth_user, "%s", cfg->auth_user ? cfg->auth_user : cfg->user);
    snprintf(r->password, sizeof r->password, "%s", cfg->password ? cfg->password : "");
    snprintf(r->contact_host, sizeof r->contact_host, "%s", cfg->contact_host);
    r->expires = cfg->expires > 0 ? cfg->expires : 3600;
    r->transport = cfg->transport;
    r->learn = cfg->learn_public_address;
    char id[33];
    new_id_hex32(id);
    snprintf(r->call_id, sizeof r->call_id, "reg-%s", id);
    new_id_hex32(id);
    snprintf(r->tag, sizeof r->tag, "%.16s", id);
    r->cseq = 0;
    r->backoff_s = 5;
    r->next_at = 0;
    pthread_mutex_init(&r->mu, NULL);
    if (sip_endpoint_add_tick(ep, tick, r)) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    return r;
}

void sip_reg_get(sip_reg *r, sip_reg_status *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    pthread_mutex_unlock(&r->mu);
}

static void begin_stop(sip_endpoint *ep, void *arg, int64_t now)
{
    (void)ep;
    (void)now;
    ((sip_reg *)arg)->stopping = true;   /* the tick frees r once no transaction points at it */
}

void sip_reg_stop(sip_reg *r)
{
    if (!r) return;
    sip_endpoint_call(r->ep, begin_stop, r);
}
