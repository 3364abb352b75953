/* fuzz_sip_txn.c — libFuzzer harness for the SIP transaction layer (src/sip/sip_txn.c)
 * fed with outside datagrams. The input is split at "\n%%\n" into datagrams that
 * arrive one by one with time passing between them; the layer has a client INVITE
 * and a client REGISTER of its own open, and its TU answers every new request with a
 * status chosen by the request's first byte (1xx, 2xx or an error). Everything the
 * layer sends must itself parse (it never turns outside bytes into a broken message),
 * and every client transaction ends exactly once. Seeds: fuzz/corpus/sip_txn. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_txn.h"

static sip_txn_layer *layer;
static int64_t now;
static int finals[2];

static int send_fn(void *ctx, const sip_addr_t *to, const char *buf, size_t len)
{
    (void)ctx;
    (void)to;
    sip_msg *m = NULL;
    size_t used;
    sip_parse_error err;
    if (sip_msg_parse(buf, len, false, &m, &used, &err) != SIP_PARSE_OK) abort();
    sip_msg_free(m);
    return 0;
}

static void on_response(void *user, const sip_msg *resp, int status)
{
    (void)resp;
    if (status >= 200 || status == 0) finals[(intptr_t)user]++;
}

static void on_request(void *ctx, sip_txn *st, const sip_msg *req, const sip_addr_t *from)
{
    (void)ctx;
    (void)from;
    if (!st) return;
    static const int statuses[] = {100, 180, 200, 486, 401, 500};
    int status = statuses[(unsigned char)req->method[0] % 6];
    strbuf sb;
    sb_init(&sb);
    if (sip_build_response_head(&sb, req, status, NULL, "t") == 0 && sip_build_finish(&sb, NULL, NULL, 0) == 0)
        (void)sip_txn_respond(layer, st, sb.data, sb.len, status, now);
    sb_free(&sb);
}

static void start_client(const char *method, const char *branch, intptr_t slot)
{
    strbuf sb;
    sb_init(&sb);
    sip_build_request_line(&sb, method, "sip:fax@127.0.0.1");
    sip_build_headerf(&sb, "Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=%s;rport", branch);
    sip_build_header(&sb, "From", "<sip:a@127.0.0.1>;tag=c1");
    sip_build_header(&sb, "To", "<sip:fax@127.0.0.1>");
    sip_build_header(&sb, "Call-ID", "fuzz@test");
    sip_build_headerf(&sb, "CSeq", "1 %s", method);
    sip_build_finish(&sb, NULL, NULL, 0);
    sip_addr_t to = {0};
    if (sip_txn_request(layer, sb.data, sb.len, &to, on_response, (void *)slot, now)) abort();
    sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    sip_txn_config cfg = {.t1_ms = 500, .max_txns = 16};
    layer = sip_txn_layer_new(&cfg, send_fn, on_request, NULL);
    if (!layer) return 0;
    now = 1000000;
    finals[0] = finals[1] = 0;
    start_client("INVITE", "z9hG4bKfuzzinv", 0);
    start_client("REGISTER", "z9hG4bKfuzzreg", 1);
    const char *p = (const char *)data, *end = p + size;
    sip_addr_t from = {0};
    while (p < end) {
        const char *sep = memmem(p, (size_t)(end - p), "\n%%\n", 4);
        const char *e = sep ? sep : end;
        sip_txn_receive(layer, p, (size_t)(e - p), &from, now);
        now += 137;
        sip_txn_tick(layer, now);
        p = sep ? sep + 4 : end;
    }
    for (int i = 0; i < 400; i++) { now += 500; sip_txn_tick(layer, now); }   /* every timer fires */
    sip_txn_layer_free(layer);
    if (finals[0] != 1 || finals[1] != 1) abort();   /* each client transaction ended exactly once */
    return 0;
}
