/* twilio_sig.c — urlencoded form parsing and the Twilio-style webhook signature
 * (see twilio_sig.h). Checked against Twilio's published examples in
 * tests/unit/backend/test_signalwire.c. */
#include "backend/twilio_sig.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* Decodes s[0..len) into a new NUL-terminated string; NULL if malformed. */
static char *form_decode(const char *s, size_t len)
{
    return url_decode_dup(s, len, NULL, URL_PLUS_SPACE | URL_STRICT);
}

void form_free(form_params *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].value);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

int form_parse(const char *body, size_t len, form_params *out)
{
    out->items = NULL;
    out->n = 0;
    size_t cap = 0;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&') end++;
        if (end > i) {
            size_t eq = i;
            while (eq < end && body[eq] != '=') eq++;
            char *name = form_decode(body + i, eq - i);
            char *value = eq < end ? form_decode(body + eq + 1, end - eq - 1) : form_decode("", 0);
            if (!name || !value) goto fail_pair;
            if (out->n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                form_param *grown = realloc(out->items, ncap * sizeof *grown);
                if (!grown) goto fail_pair;
                out->items = grown;
                cap = ncap;
            }
            out->items[out->n].name = name;
            out->items[out->n].value = value;
            out->n++;
            goto next;
        fail_pair:
            free(name);
            free(value);
            form_free(out);
            return -1;
        }
    next:
        i = end + 1;
    }
    return 0;
}

const char *form_get(const form_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->items[i].name, name)) return p->items[i].value;
    return NULL;
}

/* Twilio sorts by name; equal names keep their values in sorted order too. */
static int cmp_param(const void *a, const void *b)
{
    const form_param *x = *(const form_param *const *)a, *y = *(const form_param *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

int url_params_message(const char *url, const form_params *params, strbuf *msg)
{
    size_t n = params ? params->n : 0;
    const form_param **sorted = calloc(n ? n : 1, sizeof *sorted);
    if (!sorted) return -1;
    for (size_t i = 0; i < n; i++) sorted[i] = &params->items[i];
    qsort(sorted, n, sizeof *sorted, cmp_param);
    bool ok = sb_puts(msg, url) == 0;
    for (size_t i = 0; i < n && ok; i++)
        ok = sb_puts(msg, sorted[i]->name) == 0 && sb_puts(msg, sorted[i]->value) == 0;
    free(sorted);
    return ok ? 0 : -1;
}

int twilio_signature(const char *key, const char *url, const form_params *params, char out[29])
{
    out[0] = 0;
    if (!key || !url) return -1;
    int rc = -1;
    strbuf msg;
    sb_init(&msg);
    bool ok = url_params_message(url, params, &msg) == 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (ok && HMAC(EVP_sha1(), key, (int)strlen(key), (const unsigned char *)(msg.data ? msg.data : ""), msg.len, md,
                   &mdlen)
        && mdlen == 20) {
        base64_encode(md, mdlen, out);
        rc = 0;
    }
    sb_free(&msg);
    return rc;
}

/* url with the scheme's default port added (when it has none) or removed (when it
 * has the default one); -1 when neither applies. */
static int port_variant(const char *url, char *out, size_t outlen)
{
    const char *dflt;
    size_t skip;
    if (!strncmp(url, "https://", 8)) {
        dflt = ":443";
        skip = 8;
    } else if (!strncmp(url, "http://", 7)) {
        dflt = ":80";
        skip = 7;
    } else {
        return -1;
    }
    const char *host = url + skip;
    size_t alen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', alen);
    const char *hp = at ? at + 1 : host;              /* host[:port] */
    size_t hlen = alen - (size_t)(hp - host);
    const char *bracket = memchr(hp, ']', hlen);
    const char *colon = NULL;
    for (const char *c = bracket ? bracket : hp; c < hp + hlen; c++)
        if (*c == ':') colon = c;
    size_t dl = strlen(dflt);
    if (!colon) {
        return str_fmt(out, outlen, "%.*s%s%s", (int)(hp + hlen - url), url, dflt, hp + hlen);
    }
    if ((size_t)(hp + hlen - colon) == dl && !strncmp(colon, dflt, dl))
        return str_fmt(out, outlen, "%.*s%s", (int)(colon - url), url, hp + hlen);
    return -1;
}

bool twilio_signature_ok(const char *key, const char *url, const form_params *params, const char *header)
{
    if (!key || !key[0] || !url || !header || !header[0]) return false;
    char sig[29];
    bool ok = twilio_signature(key, url, params, sig) == 0 && secure_streq(sig, header);
    size_t vlen = strlen(url) + 8;
    char *variant = malloc(vlen);
    if (variant) {
        if (port_variant(url, variant, vlen) == 0) {
            bool ok2 = twilio_signature(key, variant, params, sig) == 0 && secure_streq(sig, header);
            ok = ok || ok2;
        }
        free(variant);
    }
    return ok;
}
