/* test_server.c — tests of src/http/server.c over real TCP: a server on
 * 127.0.0.1 (and ::1) with port 0, a few routes, and libcurl as the client.
 * Checks statuses, bodies, headers, 404/405, 413 by Content-Length and while
 * streaming a chunked upload, early 401 from on_headers, the 500 for a handler
 * that answers nothing, and that every request's user data is freed exactly once
 * (also when the client hangs up in the middle of an upload). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "util/util.h"

#define STREAM_LIMIT (64 * 1024)

static atomic_int users_made, users_freed, completed;
static atomic_int last_status;
static atomic_int server_side_errors;   /* cmocka asserts only work on the test thread */
static char file_path[64];

/* ---- route handlers ---- */

static void free_user(void *u)
{
    atomic_fetch_add(&users_freed, 1);
    free(u);
}

/* Every route's on_headers attaches user data, so the test can count the frees. */
static void attach_user(http_request *req, http_response *res)
{
    (void)res;
    size_t *counter = calloc(1, sizeof *counter);
    if (!counter) {
        atomic_fetch_add(&server_side_errors, 1);
        return;
    }
    atomic_fetch_add(&users_made, 1);
    http_req_set_user(req, counter, free_user);
}

static void get_item(http_request *req, http_response *res)
{
    const char *q = http_req_query(req, "q");
    char body[256];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"q\":\"%s\",\"method\":\"%s\",\"path\":\"%s\"}",
             http_req_param(req, "id"), q ? q : "-", http_req_method(req), http_req_path(req));
    http_res_text(res, 200, "application/json", body);
    http_res_header(res, "X-Test", "yes");
    http_res_header(res, "Bad-Header", "x\r\nInjected: 1");   /* refused */
    const char *ip = http_req_client_ip(req);
    http_res_header(res, "X-Client", ip ? ip : "none");
}

static void echo_body(http_request *req, http_response *res)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    char *copy = malloc(len + 1);
    if (!copy || body[len] != '\0') {
        atomic_fetch_add(&server_side_errors, 1);
        free(copy);
        return;
    }
    memcpy(copy, body, len + 1);
    const char *ct = http_req_header(req, "content-TYPE");
    http_res_set(res, 200, ct ? ct : "application/octet-stream", copy, len);
}

static void count_chunk(http_request *req, const char *data, size_t len, http_response *res)
{
    (void)data;
    size_t *n = http_req_user(req);
    *n += len;
    if (*n > STREAM_LIMIT)
        http_res_error(res, 413, "Upload larger than %d bytes", STREAM_LIMIT);
}

static void upload_done(http_request *req, http_response *res)
{
    size_t *n = http_req_user(req);
    char body[64];
    snprintf(body, sizeof body, "{\"bytes\":%zu}", *n);
    http_res_text(res, 201, "application/json", body);
}

static void require_token(http_request *req, http_response *res)
{
    attach_user(req, res);
    const char *auth = http_req_header(req, "authorization");
    if (!auth || strcmp(auth, "Bearer ok") != 0)
        http_res_error(res, 401, "Missing or invalid API key");
}

static void secret(http_request *req, http_response *res)
{
    (void)req;
    http_res_text(res, 200, "text/plain", "the secret");
}

static void no_answer(http_request *req, http_response *res)
{
    (void)req;
    (void)res;
}

static void json_error(http_request *req, http_response *res)
{
    (void)req;
    http_res_error(res, 400, "bad \"%s\" \\ and\nnewline %d", "quote", 7);
}

static void send_file(http_request *req, http_response *res)
{
    (void)req;
    int fd = open(file_path, O_RDONLY);
    if (fd < 0)
        return;                  /* no answer: the server sends a 500 */
    http_res_file(res, 200, "application/pdf", fd, file_size(file_path));
}

/* ---- streamed bodies: written from another thread, with pauses that park the connection ---- */
#include <pthread.h>

static atomic_int stream_writer_saw_gone;

static void *stream_writer(void *arg)
{
    http_stream *st = arg;
    char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    http_stream_write(st, "one\n", 4);
    usleep(30000);               /* nothing queued: the connection is suspended meanwhile */
    http_stream_write(st, "two\n", 4);
    usleep(30000);
    http_stream_write(st, big, sizeof big);
    http_stream_close(st);
    if (http_stream_write(st, "late", 4) != -1)  /* nothing after the end */
        atomic_fetch_add(&server_side_errors, 1);
    http_stream_release(st);
    return NULL;
}

static void *endless_writer(void *arg)
{
    http_stream *st = arg;
    for (int i = 0; i < 1000; i++) {         /* 20 s at most */
        if (http_stream_write(st, "tick\n", 5)) {
            atomic_store(&stream_writer_saw_gone, 1);
            break;
        }
        usleep(20000);
    }
    http_stream_release(st);
    return NULL;
}

static void start_stream(http_request *req, http_response *res, void *(*writer)(void *))
{
    http_stream *st = http_res_event_stream(req, res, 200, "text/event-stream");
    if (!st)
        return;
    http_res_header(res, "Cache-Control", "no-cache");
    pthread_t t;
    if (pthread_create(&t, NULL, writer, st) == 0)
        pthread_detach(t);
}

static void stream_route(http_request *req, http_response *res) { start_stream(req, res, stream_writer); }
static void endless_route(http_request *req, http_response *res) { start_stream(req, res, endless_writer); }

static const http_route routes[] = {
    {"GET", "/items/{id}", HTTP_BODY_NONE, 0, attach_user, NULL, get_item, false},
    {"DELETE", "/items/{id}", HTTP_BODY_NONE, 0, attach_user, NULL, secret, false},
    {"POST", "/echo", HTTP_BODY_BUFFER, 1024, attach_user, NULL, echo_body, false},
    {"POST", "/upload", HTTP_BODY_STREAM, 0, attach_user, count_chunk, upload_done, false},
    {"POST", "/secret", HTTP_BODY_BUFFER, 1 << 20, require_token, NULL, secret, false},
    {"GET", "/noanswer", HTTP_BODY_NONE, 0, NULL, NULL, no_answer, false},
    {"GET", "/error", HTTP_BODY_NONE, 0, NULL, NULL, json_error, false},
    {"GET", "/file", HTTP_BODY_NONE, 0, NULL, NULL, send_file, false},
    {"GET", "/stream", HTTP_BODY_NONE, 0, NULL, NULL, stream_route, true},
    {"GET", "/endless", HTTP_BODY_NONE, 0, NULL, NULL, endless_route, true},
};

static void on_complete(const http_request *req, int status, double seconds, void *ctx)
{
    if (ctx != (void *)&completed || !http_req_path(req) || !http_req_method(req) ||
        !(seconds >= 0 && seconds < 60))
        atomic_fetch_add(&server_side_errors, 1);
    atomic_store(&last_status, status);
    atomic_fetch_add(&completed, 1);
}

/* ---- client side ---- */

typedef struct {
    long status;
    long new_connections;        /* 0 when curl reused a kept-alive connection */
    strbuf body;
    strbuf headers;
} reply;

typedef struct {
    size_t left;
} upload_src;

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sb_append(ud, ptr, size * nmemb);
    return size * nmemb;
}

static size_t produce(char *buf, size_t size, size_t nitems, void *ud)
{
    upload_src *src = ud;
    size_t n = size * nitems;
    if (n > src->left)
        n = src->left;
    memset(buf, 'u', n);
    src->left -= n;
    return n;
}

static int port;
static http_server *server;
static CURL *keepalive_handle;   /* when set, requests reuse it (and its connection) */

/* method, path (with query), body (NULL = none), or a chunked upload of
 * chunked_len bytes when chunked_len > 0. Returns the curl result. */
static CURLcode request(const char *host, const char *method, const char *path, const char *body,
                        size_t body_len, size_t chunked_len, const char *header, reply *out)
{
    char url[256];
    snprintf(url, sizeof url, "http://%s:%d%s", host, port, path);
    sb_init(&out->body);
    sb_init(&out->headers);
    out->status = 0;
    CURL *c = keepalive_handle ? keepalive_handle : curl_easy_init();
    assert_non_null(c);
    curl_easy_reset(c);
    struct curl_slist *hl = NULL;
    upload_src src = {chunked_len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (chunked_len > 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, produce);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    }
    if (header)
        hl = curl_slist_append(hl, header);
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->new_connections);
    curl_slist_free_all(hl);
    if (c != keepalive_handle)
        curl_easy_cleanup(c);
    if (!out->body.data)
        sb_puts(&out->body, "");
    if (!out->headers.data)
        sb_puts(&out->headers, "");
    return rc;
}

static void reply_free(reply *r)
{
    sb_free(&r->body);
    sb_free(&r->headers);
}

/* The completion callback runs after the reply is sent: wait for it. */
/* The completion of a request is reported after its answer went out, so the client
 * can be a step ahead: wait until no completion has arrived for 100 ms. */
static int settled_completed(void)
{
    int last = atomic_load(&completed);
    for (int i = 0; i < 100; i++) {
        usleep(100000);
        int now = atomic_load(&completed);
        if (now == last)
            break;
        last = now;
    }
    return last;
}

static void wait_completed(int want)
{
    for (int i = 0; i < 400 && atomic_load(&completed) < want; i++)
        usleep(5000);
    assert_int_equal(atomic_load(&completed), want);
}

static void wait_users_freed(void)
{
    for (int i = 0; i < 400 && atomic_load(&users_freed) < atomic_load(&users_made); i++)
        usleep(5000);
    assert_int_equal(atomic_load(&users_freed), atomic_load(&users_made));
}

/* ---- tests ---- */

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    snprintf(file_path, sizeof file_path, "/tmp/faxbot-http-test-%d.pdf", (int)getpid());
    FILE *f = fopen(file_path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 100000; i++)
        fputc('A' + i % 26, f);
    fclose(f);
    http_server_opts o = {
        .host = "127.0.0.1", .port = 0, .threads = 2, .connection_timeout_s = 10,
        .max_header_bytes = 8192, .routes = routes, .n_routes = (int)(sizeof routes / sizeof routes[0]),
        .on_complete = on_complete, .ctx = &completed,
    };
    char err[256];
    server = http_server_start(&o, err, sizeof err);
    if (!server)
        fail_msg("server did not start: %s", err);
    port = http_server_port(server);
    assert_true(port > 0 && port < 65536);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    unlink(file_path);
    curl_global_cleanup();
    return 0;
}

static void test_get_with_param_and_query(void **state)
{
    (void)state;
    int before = settled_completed();
    reply r;
    assert_int_equal(request("127.0.0.1", "GET", "/items/abc42?q=a%20b+c&token=secret", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"id\":\"abc42\",\"q\":\"a b c\",\"method\":\"GET\",\"path\":\"/items/abc42\"}");
    assert_non_null(strcasestr(r.headers.data, "content-type: application/json"));
    assert_non_null(strcasestr(r.headers.data, "x-test: yes"));
    assert_non_null(strcasestr(r.headers.data, "x-client: 127.0.0.1"));
    assert_null(strcasestr(r.headers.data, "injected"));
    reply_free(&r);
    wait_completed(before + 1);
    assert_int_equal(atomic_load(&last_status), 200);
    wait_users_freed();
}

static void test_not_found_and_method_not_allowed(void **state)
{
    (void)state;
    reply r;
    assert_int_equal(request("127.0.0.1", "GET", "/nothing/here", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body.data, "{\"detail\":\"Not Found\"}");
    reply_free(&r);

    assert_int_equal(request("127.0.0.1", "GET", "/items/abc/", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 404);
    reply_free(&r);

    assert_int_equal(request("127.0.0.1", "POST", "/items/abc", "x", 1, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.body.data, "{\"detail\":\"Method not allowed\"}");
    assert_non_null(strcasestr(r.headers.data, "allow: GET, DELETE"));
    reply_free(&r);

    assert_int_equal(request("127.0.0.1", "PUT", "/echo", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 405);
    reply_free(&r);

    assert_int_equal(request("127.0.0.1", "DELETE", "/items/zz", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "the secret");
    reply_free(&r);
    wait_users_freed();
}

static void test_buffered_body(void **state)
{
    (void)state;
    reply r;
    const char *json = "{\"to\":\"+15551234567\",\"note\":\"h\\u00e9\"}";
    assert_int_equal(request("127.0.0.1", "POST", "/echo", json, strlen(json), 0,
                             "Content-Type: application/json; charset=utf-8", &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, json);
    assert_non_null(strcasestr(r.headers.data, "content-type: application/json; charset=utf-8"));
    reply_free(&r);

    /* exactly max_body is fine, binary bytes survive */
    char buf[1024];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 31 + 1);
    assert_int_equal(request("127.0.0.1", "POST", "/echo", buf, sizeof buf, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, sizeof buf);
    assert_memory_equal(r.body.data, buf, sizeof buf);
    reply_free(&r);

    /* a chunked body is buffered too */
    assert_int_equal(request("127.0.0.1", "POST", "/echo", NULL, 0, 1000, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 1000);
    assert_int_equal(r.body.data[999], 'u');
    reply_free(&r);
    wait_users_freed();
}

static void test_413_by_content_length(void **state)
{
    (void)state;
    reply r;
    size_t n = 2000;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'b', n);
    int before = settled_completed();
    assert_int_equal(request("127.0.0.1", "POST", "/echo", big, n, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body.data, "{\"detail\":\"Request body too large\"}");
    reply_free(&r);
    wait_completed(before + 1);
    assert_int_equal(atomic_load(&last_status), 413);
    free(big);

    /* a large body (curl asks "Expect: 100-continue"): refused before it is sent */
    n = 3u << 20;
    big = malloc(n);
    assert_non_null(big);
    memset(big, 'B', n);
    assert_int_equal(request("127.0.0.1", "POST", "/echo", big, n, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    free(big);

    /* a chunked body over the limit: no Content-Length, refused while reading */
    assert_int_equal(request("127.0.0.1", "POST", "/echo", NULL, 0, 5000, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body.data, "{\"detail\":\"Request body too large\"}");
    reply_free(&r);
    wait_users_freed();
}

static void test_streamed_upload(void **state)
{
    (void)state;
    reply r;
    assert_int_equal(request("127.0.0.1", "POST", "/upload", NULL, 0, 50000, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body.data, "{\"bytes\":50000}");
    reply_free(&r);

    char *body = malloc(60000);
    assert_non_null(body);
    memset(body, 'z', 60000);
    assert_int_equal(request("127.0.0.1", "POST", "/upload", body, 60000, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body.data, "{\"bytes\":60000}");
    reply_free(&r);
    free(body);

    /* over the route's limit while streaming, chunked: 413 from on_body */
    int before = settled_completed();
    assert_int_equal(request("127.0.0.1", "POST", "/upload", NULL, 0, 300000, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body.data, "{\"detail\":\"Upload larger than 65536 bytes\"}");
    reply_free(&r);
    wait_completed(before + 1);
    assert_int_equal(atomic_load(&last_status), 413);

    /* the answer says "Connection: close" and the connection ends with it: the
     * rest of the refused body is never parsed as another request */
    keepalive_handle = curl_easy_init();
    assert_non_null(keepalive_handle);
    assert_int_equal(request("127.0.0.1", "POST", "/upload", NULL, 0, 200000, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_non_null(strcasestr(r.headers.data, "connection: close"));
    reply_free(&r);
    assert_int_equal(request("127.0.0.1", "GET", "/items/again", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 1);
    reply_free(&r);
    curl_easy_cleanup(keepalive_handle);
    keepalive_handle = NULL;
    wait_users_freed();
}

static void test_on_headers_answers_early(void **state)
{
    (void)state;
    reply r;
    const char *body = "{\"to\":\"x\"}";
    assert_int_equal(request("127.0.0.1", "POST", "/secret", body, strlen(body), 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body.data, "{\"detail\":\"Missing or invalid API key\"}");
    reply_free(&r);

    assert_int_equal(request("127.0.0.1", "POST", "/secret", body, strlen(body), 0, "Authorization: Bearer ok", &r),
                     CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "the secret");
    reply_free(&r);

    /* a big unauthorised upload is refused without reading it */
    size_t n = 2u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    assert_int_equal(request("127.0.0.1", "POST", "/secret", big, n, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    reply_free(&r);
    free(big);
    wait_users_freed();
}

static void test_handler_without_answer_and_errors(void **state)
{
    (void)state;
    reply r;
    assert_int_equal(request("127.0.0.1", "GET", "/noanswer", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body.data, "{\"detail\":\"Internal error: handler produced no response\"}");
    reply_free(&r);

    assert_int_equal(request("127.0.0.1", "GET", "/error", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body.data, "{\"detail\":\"bad \\\"quote\\\" \\\\ and\\nnewline 7\"}");
    reply_free(&r);
}

static void test_file_response(void **state)
{
    (void)state;
    reply r;
    assert_int_equal(request("127.0.0.1", "GET", "/file", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 100000);
    assert_int_equal(r.body.data[0], 'A');
    assert_int_equal(r.body.data[99999], 'A' + 99999 % 26);
    assert_non_null(strcasestr(r.headers.data, "content-type: application/pdf"));
    reply_free(&r);
}

static void test_streamed_body(void **state)
{
    (void)state;
    int before = atomic_load(&completed);
    reply r;
    assert_int_equal(request("127.0.0.1", "GET", "/stream", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 8 + 100000);
    assert_memory_equal(r.body.data, "one\ntwo\n", 8);
    assert_int_equal(r.body.data[8 + 99999], 'a' + 99999 % 26);
    assert_non_null(strcasestr(r.headers.data, "content-type: text/event-stream"));
    reply_free(&r);
    wait_completed(before + 1);
}

static void test_streamed_body_client_gone(void **state)
{
    (void)state;
    int before = atomic_load(&completed);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/endless", port);
    CURL *c = curl_easy_init();
    strbuf body;
    sb_init(&body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L);
    assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(c);
    assert_non_null(body.data);
    assert_memory_equal(body.data, "tick\n", 5);
    sb_free(&body);
    /* the writer learns the client left (its next write fails) and the request completes */
    for (int i = 0; i < 400 && !atomic_load(&stream_writer_saw_gone); i++)
        usleep(5000);
    assert_int_equal(atomic_load(&stream_writer_saw_gone), 1);
    wait_completed(before + 1);
}

static void test_oversized_headers_refused(void **state)
{
    (void)state;
    size_t n = 40000;
    char *hdr = malloc(n + 16);
    assert_non_null(hdr);
    strcpy(hdr, "X-Big: ");
    memset(hdr + 7, 'h', n);
    hdr[7 + n] = '\0';
    reply r;
    /* over max_header_bytes (8192) but within libmicrohttpd's buffer: our 431 */
    hdr[7 + 10000] = '\0';
    assert_int_equal(request("127.0.0.1", "GET", "/items/1", NULL, 0, 0, hdr, &r), CURLE_OK);
    assert_int_equal(r.status, 431);
    assert_string_equal(r.body.data, "{\"detail\":\"Request headers too large\"}");
    reply_free(&r);
    /* far over: libmicrohttpd itself refuses it, the server survives */
    hdr[7 + 10000] = 'h';
    request("127.0.0.1", "GET", "/items/1", NULL, 0, 0, hdr, &r);
    assert_true(r.status == 431 || r.status == 413 || r.status == 414);
    reply_free(&r);
    free(hdr);
    /* just under the limit is fine */
    char ok_hdr[7000];
    strcpy(ok_hdr, "X-Ok: ");
    memset(ok_hdr + 6, 'k', 6500);
    ok_hdr[6506] = '\0';
    assert_int_equal(request("127.0.0.1", "GET", "/items/2", NULL, 0, 0, ok_hdr, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    wait_users_freed();
}

/* One request per connection: every answer carries "Connection: close", so each
 * request head is judged by the guard before libmicrohttpd parses it. A client
 * that wants keep-alive simply opens a new connection each time. */
static void test_one_request_per_connection(void **state)
{
    (void)state;
    keepalive_handle = curl_easy_init();
    assert_non_null(keepalive_handle);
    reply r;
    const char *paths[] = {"/items/a", "/items/b", "/nothing", "/error", "/items/c"};
    const long want[] = {200, 200, 404, 400, 200};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(request("127.0.0.1", "GET", paths[i], NULL, 0, 0, NULL, &r), CURLE_OK);
        assert_int_equal(r.status, want[i]);
        assert_int_equal(r.new_connections, 1);
        assert_non_null(strcasestr(r.headers.data, "connection: close"));
        reply_free(&r);
    }
    assert_int_equal(request("127.0.0.1", "POST", "/echo", "abc", 3, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 1);
    assert_string_equal(r.body.data, "abc");
    reply_free(&r);
    curl_easy_cleanup(keepalive_handle);
    keepalive_handle = NULL;
    wait_users_freed();
}

/* The client hangs up in the middle of an upload: the request's user data is
 * still freed (uploads delete their temp files that way). */
static void test_client_disconnect_mid_upload(void **state)
{
    (void)state;
    int made = atomic_load(&users_made);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    assert_true(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    char chunk[4000];
    memset(chunk, 'p', sizeof chunk);
    assert_true(write(fd, chunk, sizeof chunk) == (ssize_t)sizeof chunk);
    for (int i = 0; i < 400 && atomic_load(&users_made) == made; i++)
        usleep(5000);
    assert_int_equal(atomic_load(&users_made), made + 1);
    usleep(50000);
    close(fd);
    wait_users_freed();
}

static void test_ipv6_listener(void **state)
{
    (void)state;
    http_server_opts o = {
        .host = "[::1]", .port = 0, .threads = 1, .connection_timeout_s = 5,
        .max_header_bytes = 8192, .routes = routes, .n_routes = (int)(sizeof routes / sizeof routes[0]),
    };
    char err[256];
    http_server *s6 = http_server_start(&o, err, sizeof err);
    if (!s6) {
        fprintf(stderr, "no IPv6 loopback here (%s): skipped\n", err);
        skip();
    }
    int saved = port;
    port = http_server_port(s6);
    reply r;
    assert_int_equal(request("[::1]", "GET", "/items/v6", NULL, 0, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"id\":\"v6\""));
    assert_non_null(strcasestr(r.headers.data, "x-client: ::1"));
    reply_free(&r);
    port = saved;
    http_server_stop(s6);
    wait_users_freed();
}

static void test_bad_options(void **state)
{
    (void)state;
    char err[256];
    http_server_opts o = {.host = "127.0.0.1", .port = 70000, .routes = routes, .n_routes = 1};
    assert_null(http_server_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "out of range"));
    o.port = port;                      /* already taken by the main server */
    assert_null(http_server_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "cannot start"));
    o.port = 0;
    o.host = "no-such-host.invalid";
    assert_null(http_server_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "resolve"));
}

static void test_no_server_side_errors(void **state)
{
    (void)state;
    assert_int_equal(atomic_load(&server_side_errors), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_param_and_query),
        cmocka_unit_test(test_not_found_and_method_not_allowed),
        cmocka_unit_test(test_buffered_body),
        cmocka_unit_test(test_413_by_content_length),
        cmocka_unit_test(test_streamed_upload),
        cmocka_unit_test(test_on_headers_answers_early),
        cmocka_unit_test(test_handler_without_answer_and_errors),
        cmocka_unit_test(test_file_response),
        cmocka_unit_test(test_streamed_body),
        cmocka_unit_test(test_streamed_body_client_gone),
        cmocka_unit_test(test_oversized_headers_refused),
        cmocka_unit_test(test_one_request_per_connection),
        cmocka_unit_test(test_client_disconnect_mid_upload),
        cmocka_unit_test(test_ipv6_listener),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_no_server_side_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
