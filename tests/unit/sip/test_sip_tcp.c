/* test_sip_tcp.c — SIP over TCP and TLS through the endpoint (src/sip/sip_endpoint.c)
 * on 127.0.0.1: one endpoint's client transaction to another's TCP listener (no
 * retransmissions on a reliable transport), a raw TCP client whose request arrives
 * in pieces and two requests in one write (stream framing), a request without
 * Content-Length answered 400 with the connection closed; over TLS (a throwaway
 * certificate made with the openssl tool): verified by address and by name, refused
 * at once for a wrong name or an untrusted certificate, and a plain-TCP client on
 * the TLS port dropped without disturbing the loop; a UDP flood from one address cut
 * down by the per-source rate limit while another address still gets answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sip/sip_endpoint.h"

static atomic_int server_requests, client_status, server_transport;
static _Atomic(sip_endpoint *) server;   /* read by the server's loop thread */

static void server_tu(void *ctx, sip_txn *st, const sip_msg *req, const sip_addr_t *from)
{
    (void)ctx;
    if (!st) return;
    atomic_store(&server_transport, from->transport);
    atomic_fetch_add(&server_requests, 1);
    strbuf sb;
    sb_init(&sb);
    sip_build_response_head(&sb, req, 200, NULL, "s1");
    sip_build_finish(&sb, NULL, NULL, 0);
    sip_txn_respond(sip_endpoint_txn(atomic_load(&server)), st, sb.data, sb.len, 200, mono_ms());
    sb_free(&sb);
}

static void client_cb(void *user, const sip_msg *resp, int status)
{
    (void)user;
    (void)resp;
    if (status >= 200) atomic_store(&client_status, status);
}

static char options[1024];
static size_t options_len;

static void build_options(const char *branch, const char *transport)
{
    strbuf sb;
    sb_init(&sb);
    sip_build_request_line(&sb, "OPTIONS", "sip:fax@127.0.0.1");
    sip_build_headerf(&sb, "Via", "SIP/2.0/%s 127.0.0.1:5999;branch=%s", transport, branch);
    sip_build_header(&sb, "Max-Forwards", "70");
    sip_build_header(&sb, "From", "<sip:t@127.0.0.1>;tag=t1");
    sip_build_header(&sb, "To", "<sip:fax@127.0.0.1>");
    sip_build_headerf(&sb, "Call-ID", "%s", branch);
    sip_build_header(&sb, "CSeq", "1 OPTIONS");
    sip_build_finish(&sb, NULL, NULL, 0);
    assert_true(sb.len < sizeof options);
    memcpy(options, sb.data, sb.len);
    options_len = sb.len;
    sb_free(&sb);
}

static atomic_int send_rc = 1;

static void send_options(sip_endpoint *ep, void *arg, int64_t now)
{
    sip_addr_t *to = arg;
    atomic_store(&send_rc, sip_txn_request(sip_endpoint_txn(ep), options, options_len, to, client_cb, NULL, now));
}

static sip_endpoint *start_cfg(sip_endpoint_config c, sip_req_fn fn)
{
    char err[160];
    sip_endpoint *ep = sip_endpoint_start(&c, fn, NULL, err, sizeof err);
    if (!ep) fail_msg("%s", err);
    return ep;
}

static sip_endpoint *start(bool tcp, sip_req_fn fn)
{
    char err[160];
    sip_endpoint_config c = {.bind_addr = "127.0.0.1", .t1_ms = 50, .tcp = tcp};
    sip_endpoint *ep = sip_endpoint_start(&c, fn, NULL, err, sizeof err);
    if (!ep) fail_msg("%s", err);
    return ep;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* reads until n "SIP/2.0 " status lines arrived or the peer closed */
static int read_responses(int fd, int n, char *out, size_t cap, bool *closed)
{
    size_t len = 0;
    *closed = false;
    for (int waited = 0; waited < 3000; waited += 20) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20) == 1) {
            ssize_t r = recv(fd, out + len, cap - 1 - len, 0);
            if (r <= 0) { *closed = true; break; }
            len += (size_t)r;
        }
        out[len] = 0;
        int got = 0;
        for (char *s = out; (s = strstr(s, "SIP/2.0 ")); s++) got++;
        if (got >= n) return got;
    }
    out[len] = 0;
    int got = 0;
    for (char *s = out; (s = strstr(s, "SIP/2.0 ")); s++) got++;
    return got;
}

static void test_transaction_over_tcp(void **state)
{
    (void)state;
    atomic_store(&server, start(true, server_tu));
    sip_endpoint *client = start(false, NULL);
    sip_addr_t to;
    assert_int_equal(sip_addr_from("127.0.0.1", sip_endpoint_port(atomic_load(&server)), &to), 0);
    to.transport = SIP_TP_TCP;
    build_options("z9hG4bKtcp1", "TCP");
    atomic_store(&client_status, 0);
    atomic_store(&server_requests, 0);
    assert_int_equal(sip_endpoint_call(client, send_options, &to), 0);
    for (int i = 0; i < 100 && !atomic_load(&client_status); i++) sleep_ms(20);
    assert_int_equal(atomic_load(&client_status), 200);
    sleep_ms(300);   /* several T1s: nothing is retransmitted over TCP */
    assert_int_equal(atomic_load(&server_requests), 1);
    assert_int_equal(atomic_load(&server_transport), SIP_TP_TCP);
    sip_endpoint_stop(client);
    sip_endpoint_stop(atomic_load(&server));
}

static void test_stream_framing(void **state)
{
    (void)state;
    atomic_store(&server, start(true, server_tu));
    int fd = connect_to(sip_endpoint_port(atomic_load(&server)));
    build_options("z9hG4bKpieces", "TCP");
    /* one request in three pieces */
    size_t a = options_len / 3, b = 2 * options_len / 3;
    assert_int_equal(send(fd, options, a, 0), (ssize_t)a);
    sleep_ms(60);
    assert_int_equal(send(fd, options + a, b - a, 0), (ssize_t)(b - a));
    sleep_ms(60);
    assert_int_equal(send(fd, options + b, options_len - b, 0), (ssize_t)(options_len - b));
    char buf[8192];
    bool closed;
    assert_int_equal(read_responses(fd, 1, buf, sizeof buf, &closed), 1);
    assert_non_null(strstr(buf, "SIP/2.0 200 OK"));
    assert_non_null(strstr(buf, "branch=z9hG4bKpieces"));
    /* two requests in one write */
    char two[2048];
    build_options("z9hG4bKtwo1", "TCP");
    memcpy(two, options, options_len);
    size_t l1 = options_len;
    build_options("z9hG4bKtwo2", "TCP");
    memcpy(two + l1, options, options_len);
    assert_int_equal(send(fd, two, l1 + options_len, 0), (ssize_t)(l1 + options_len));
    assert_int_equal(read_responses(fd, 2, buf, sizeof buf, &closed), 2);
    assert_non_null(strstr(buf, "z9hG4bKtwo1"));
    assert_non_null(strstr(buf, "z9hG4bKtwo2"));
    close(fd);

    /* no Content-Length on a stream: 400 with the reason, then the connection closes */
    fd = connect_to(sip_endpoint_port(atomic_load(&server)));
    const char *nocl = "OPTIONS sip:fax@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKnocl\r\n"
                       "From: <sip:t@127.0.0.1>;tag=t1\r\nTo: <sip:fax@127.0.0.1>\r\nCall-ID: nocl\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert_int_equal(send(fd, nocl, strlen(nocl), 0), (ssize_t)strlen(nocl));
    assert_int_equal(read_responses(fd, 1, buf, sizeof buf, &closed), 1);
    assert_non_null(strstr(buf, "SIP/2.0 400 Content-Length is required"));
    read_responses(fd, 2, buf, sizeof buf, &closed);
    assert_true(closed);
    close(fd);
    sip_endpoint_stop(atomic_load(&server));
}

static char tmpdir[64], cert[128], key[128];

static void make_cert(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/faxbot-sip-tls-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(cert, sizeof cert, "%s/cert.pem", tmpdir);
    snprintf(key, sizeof key, "%s/key.pem", tmpdir);
    char cmd[768];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=trunk.test "
             "-addext subjectAltName=IP:127.0.0.1,DNS:trunk.test -keyout %s -out %s >/dev/null 2>&1", key, cert);
    assert_int_equal(system(cmd), 0);
}

/* one OPTIONS from a fresh client endpoint over TLS; returns the final status, or -1
 * when the request could not even be sent */
static int options_over_tls(int port, const char *ca, const char *name)
{
    sip_endpoint_config cc = {.bind_addr = "127.0.0.1", .t1_ms = 50, .tls_ca_file = ca, .tls_server_name = name};
    sip_endpoint *client = start_cfg(cc, NULL);
    sip_addr_t to;
    assert_int_equal(sip_addr_from("127.0.0.1", port, &to), 0);
    to.transport = SIP_TP_TLS;
    build_options("z9hG4bKtls", "TLS");
    atomic_store(&client_status, 0);
    atomic_store(&send_rc, 1);
    assert_int_equal(sip_endpoint_call(client, send_options, &to), 0);
    for (int i = 0; i < 300 && atomic_load(&send_rc) == 1; i++) sleep_ms(10);
    int rc = atomic_load(&send_rc);
    if (rc == 0)
        for (int i = 0; i < 300 && !atomic_load(&client_status); i++) sleep_ms(10);
    sip_endpoint_stop(client);
    return rc ? -1 : atomic_load(&client_status);
}

static void test_tls(void **state)
{
    (void)state;
    make_cert();
    sip_endpoint_config sc = {.bind_addr = "127.0.0.1", .t1_ms = 50, .tls_cert_file = cert, .tls_key_file = key};
    atomic_store(&server, start_cfg(sc, server_tu));
    int port = sip_endpoint_tls_port(atomic_load(&server));
    assert_true(port > 0);
    atomic_store(&server_requests, 0);
    assert_int_equal(options_over_tls(port, cert, NULL), 200);          /* checked against 127.0.0.1 */
    assert_int_equal(atomic_load(&server_transport), SIP_TP_TLS);
    assert_int_equal(options_over_tls(port, cert, "trunk.test"), 200);  /* SNI + name check */
    assert_int_equal(atomic_load(&server_requests), 2);
    assert_int_equal(options_over_tls(port, cert, "wrong.test"), -1);   /* name mismatch: refused at once */
    assert_int_equal(options_over_tls(port, NULL, NULL), -1);           /* not in the system store */
    assert_int_equal(atomic_load(&server_requests), 2);
    /* a plain TCP client on the TLS port is dropped; the loop goes on */
    int fd = connect_to(port);
    build_options("z9hG4bKplain", "TCP");
    assert_int_equal(send(fd, options, options_len, 0), (ssize_t)options_len);
    char buf[512];
    bool closed;
    read_responses(fd, 1, buf, sizeof buf, &closed);
    assert_true(closed);
    close(fd);
    assert_int_equal(options_over_tls(port, cert, NULL), 200);
    sip_endpoint_stop(atomic_load(&server));
    unlink(cert);
    unlink(key);
    rmdir(tmpdir);
}

static int udp_from(const char *ip)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void test_flood_rate_limited(void **state)
{
    (void)state;
    sip_endpoint_config sc = {.bind_addr = "127.0.0.1", .t1_ms = 50, .new_requests_per_sec = 10, .max_txns = 512};
    atomic_store(&server, start_cfg(sc, server_tu));
    atomic_store(&server_requests, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sip_endpoint_port(atomic_load(&server)))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int flood = udp_from("127.0.0.1");
    for (int i = 0; i < 300; i++) {
        char br[32];
        snprintf(br, sizeof br, "z9hG4bKfl%d", i);
        build_options(br, "UDP");
        sendto(flood, options, options_len, 0, (struct sockaddr *)&to, sizeof to);
        if (i % 5 == 4) sleep_ms(2);   /* paced so the kernel's buffer does not do the dropping */
    }
    sleep_ms(300);
    int got = atomic_load(&server_requests);
    uint64_t dropped = sip_endpoint_rate_limited(atomic_load(&server));
    /* a burst of 2 s worth (20) plus what refills meanwhile gets through */
    if (got > 40 || got < 10 || dropped < 150) fail_msg("got %d, dropped %llu", got, (unsigned long long)dropped);
    /* another address is not starved by the flood */
    int other = udp_from("127.0.0.2");
    build_options("z9hG4bKother", "UDP");
    sendto(other, options, options_len, 0, (struct sockaddr *)&to, sizeof to);
    char buf[2048];
    struct pollfd p = {other, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 2000), 1);
    ssize_t n = recv(other, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = 0;
    assert_non_null(strstr(buf, "SIP/2.0 200 OK"));
    close(flood);
    close(other);
    sip_endpoint_stop(atomic_load(&server));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transaction_over_tcp),
        cmocka_unit_test(test_stream_framing),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_flood_rate_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
