/* fuzz_sigcheck.c — libFuzzer target for every check of a secret that an outside
 * party controls the input of: the webhook signature verifiers with an attacker's
 * header (fuzz_phaxio and fuzz_signalwire only verify signatures the code computed
 * itself), the HTTP Basic check of Sinch webhooks with fuzzed credentials, and the
 * inbound PDF download token (src/inbound/inbound.c). The first byte picks the
 * check; the rest is split into lines:
 *   0 Phaxio      "<url>\n<X-Phaxio-Signature>\n<content-type>\n<body>"
 *   1 SignalWire  "<url>\n<X-SignalWire-Signature>\n<urlencoded body>"
 *   2 Basic       "<user>\n<password>\n<Authorization header>"
 *   3 token       "<fax id>\n<token>\n<now ms>"
 * Invariants: a header is accepted only if it is (up to the documented leniency)
 * the right signature/credentials; the right one is always accepted; one changed
 * character is refused; a token is valid only for its own fax, secret and expiry.
 * Build: make fuzz. Run: build-fuzz/fuzz_sigcheck fuzz/corpus/sigcheck -max_total_time=30 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cloud_util.h"
#include "backend/phaxio_proto.h"
#include "backend/twilio_sig.h"
#include "inbound/inbound.h"
#include "util/util.h"

#define MAX_LINES 4

/* Splits buf (NUL-terminated, size len) at the first want-1 newlines. */
static int split_lines(char *buf, size_t len, char *line[MAX_LINES], size_t linelen[MAX_LINES], int want)
{
    int n = 0;
    char *p = buf, *end = buf + len;
    while (n < want) {
        char *nl = n + 1 < want ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        line[n] = p;
        linelen[n] = nl ? (size_t)(nl - p) : (size_t)(end - p);
        n++;
        if (!nl) break;
        *nl = 0;
        p = nl + 1;
    }
    for (int i = n; i < want; i++) {
        line[i] = end;
        linelen[i] = 0;
    }
    return n;
}

/* The first character of s changed to another character of the same class. */
static void mutate_first(char *s)
{
    if (s[0]) s[0] = s[0] == 'a' ? 'b' : 'a';
}

static void check_phaxio(char **l, size_t *ll)
{
    phaxio_form f;
    char err[256];
    if (phaxio_form_parse(l[2], l[3], ll[3], &f, err, sizeof err) != 0) return;
    const char *token = "webhook-token";
    char want[41];
    if (phaxio_signature_hex(l[0], &f, token, want) != 0) abort();
    if (strlen(want) != 40) abort();
    bool given_ok = phaxio_signature_valid(l[0], &f, token, l[1]);
    if (given_ok) {
        /* accepted: the first blank-delimited word, lowercased, is the signature */
        const char *h = l[1];
        while (*h == ' ' || *h == '\t') h++;
        size_t k = strcspn(h, " \t\r");
        if (k != 40) abort();
        for (size_t i = 0; i < 40; i++)
            if (tolower((unsigned char)h[i]) != want[i]) abort();
    }
    if (phaxio_signature_valid(l[0], &f, "", l[1])) abort();          /* no token, no pass */
    if (!phaxio_signature_valid(l[0], &f, token, want)) abort();
    char upper[41];
    for (int i = 0; i < 41; i++) upper[i] = (char)toupper((unsigned char)want[i]);
    if (!phaxio_signature_valid(l[0], &f, token, upper)) abort();
    mutate_first(want);
    if (phaxio_signature_valid(l[0], &f, token, want)) abort();
    phaxio_form_free(&f);
}

static void check_twilio(char **l, size_t *ll)
{
    form_params p;
    if (form_parse(l[2], ll[2], &p) != 0) return;
    const char *key = "signing-key";
    bool given_ok = twilio_signature_ok(key, l[0], &p, l[1]);
    if (given_ok && strlen(l[1]) != 28) abort();
    if (twilio_signature_ok("", l[0], &p, l[1])) abort();
    char sig[29];
    if (twilio_signature(key, l[0], &p, sig) == 0) {
        if (strlen(sig) != 28) abort();
        if (!twilio_signature_ok(key, l[0], &p, sig)) abort();
        if (given_ok && strcmp(sig, l[1]) != 0) {
            /* accepted for the port variant of the URL: only http(s) URLs have one */
            if (strncmp(l[0], "http://", 7) && strncmp(l[0], "https://", 8)) abort();
        }
        sig[5] = sig[5] == 'A' ? 'B' : 'A';
        if (twilio_signature_ok(key, l[0], &p, sig)) abort();
    }
    form_free(&p);
}

static void check_basic(char **l)
{
    const char *user = l[0], *pass = l[1], *header = l[2];
    bool ok = cloud_basic_auth_ok(header, user, pass);
    if (ok) {
        if (!user[0]) abort();
        const char *h = header;
        while (*h == ' ') h++;
        if (strncasecmp(h, "Basic ", 6) != 0) abort();
        h += 6;
        while (*h == ' ') h++;
        size_t n = 0;
        char *creds = (char *)base64_decode(h, strlen(h), SIZE_MAX, false, &n);
        size_t ul = strlen(user), pl = strlen(pass);
        if (!creds || n != ul + 1 + pl || memcmp(creds, user, ul) || creds[ul] != ':' ||
            memcmp(creds + ul + 1, pass, pl))
            abort();
        free(creds);
    }
    /* the right header always passes when the user name is a valid one */
    if (user[0] && !strchr(user, ':')) {
        size_t ul = strlen(user), pl = strlen(pass);
        char *creds = malloc(ul + pl + 2);
        char *right = malloc(4 * ((ul + pl + 3) / 3) + 8);
        if (!creds || !right) abort();
        memcpy(creds, user, ul);
        creds[ul] = ':';
        memcpy(creds + ul + 1, pass, pl + 1);
        memcpy(right, "Basic ", 6);
        base64_encode((const unsigned char *)creds, ul + 1 + pl, right + 6);
        if (!cloud_basic_auth_ok(right, user, pass)) abort();
        creds[0] = creds[0] == 'a' ? 'b' : 'a';
        base64_encode((const unsigned char *)creds, ul + 1 + pl, right + 6);
        if (cloud_basic_auth_ok(right, user, pass)) abort();
        free(creds);
        free(right);
    }
}

static void check_token(char **l, size_t *ll)
{
    if (ll[0] > 64) return;                  /* fax ids are 32 hex characters */
    const char *secret = "server-secret";
    const char *id = l[0], *token = l[1];
    int64_t now = strtoll(l[2], NULL, 10);
    int r = inbound_token_check(secret, id, token, now);
    if (r != 0 && r != -1 && r != -2) abort();
    long long exp = strtoll(token, NULL, 10);
    if (r != -1) {
        char want[96];
        inbound_token_make(secret, id, exp, want);
        if (strcmp(want, token) != 0) abort();          /* only the exact token passes */
        if (r != (now >= exp ? -2 : 0)) abort();
    }
    if (exp <= 0) exp = 1;
    char made[96];
    inbound_token_make(secret, id, exp, made);
    if (inbound_token_check(secret, id, made, now) != (now >= exp ? -2 : 0)) abort();
    if (inbound_token_check("other-secret", id, made, now) != -1) abort();
    char other[80];
    str_fmt(other, sizeof other, "%sx", id);
    if (inbound_token_check(secret, other, made, now) != -1) abort();
    if (exp < INT64_MAX) {   /* a token made for one expiry does not pass with another */
        char later[96];
        inbound_token_make(secret, id, exp + 1, later);
        char *dot = strchr(made, '.');
        char *dot2 = strchr(later, '.');
        if (!dot || !dot2) abort();
        char forged[200];
        str_fmt(forged, sizeof forged, "%.*s%s", (int)(dot2 - later), later, dot);
        if (inbound_token_check(secret, id, forged, now) != -1) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) return 0;
    int mode = data[0] % 4;
    size_t len = size - 1;
    char *buf = malloc(len + 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, len);
    buf[len] = 0;
    char *l[MAX_LINES];
    size_t ll[MAX_LINES];
    switch (mode) {
    case 0:
        split_lines(buf, len, l, ll, 4);
        check_phaxio(l, ll);
        break;
    case 1:
        split_lines(buf, len, l, ll, 3);
        check_twilio(l, ll);
        break;
    case 2:
        split_lines(buf, len, l, ll, 3);
        check_basic(l);
        break;
    default:
        split_lines(buf, len, l, ll, 3);
        check_token(l, ll);
        break;
    }
    free(buf);
    return 0;
}
