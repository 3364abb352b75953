/* relay.c — chunked request bodies pass through the guard. libmicrohttpd would
 * check a chunked body's framing itself and answer a malformed one with its own
 * HTML page; so for a chunked request the guard hands libmicrohttpd one end of a
 * socket pair instead of the client's socket, and this thread copies the request
 * across, checking every chunk (http_chunk_feed) before libmicrohttpd sees it, and
 * copies the answer back. A malformed body ends the request with our JSON 400
 * (when no answer has started yet). Bytes after the body are never passed on: one
 * request per connection. The guard's deadlines act on libmicrohttpd's end; when it
 * closes, so does the client's. */
#include "http/guard.h"
#include "http/head_check.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct relay {
    int client;                  /* the client's socket */
    int up;                      /* our end of the pair; libmicrohttpd has the other */
    size_t head_left;            /* bytes of the request head still to pass on as they are */
    int io_timeout_s;
} relay;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Passes len bytes from the client on, checking the body's framing. Returns 1 while
 * the body goes on, 0 once it is complete, -1 when it was malformed (detail set) or
 * libmicrohttpd's end is gone. */
static int client_bytes(relay *r, http_chunk_parser *cp, const char *buf, size_t len, char *detail,
                        size_t detail_len)
{
    size_t head = len < r->head_left ? len : r->head_left;
    r->head_left -= head;
    size_t used = 0;
    int rc = HTTP_CHUNK_MORE;
    if (len > head)
        rc = http_chunk_feed(cp, buf + head, len - head, &used, detail, detail_len);
    if (rc == HTTP_CHUNK_BAD)
        used = 0;                /* nothing of a malformed piece goes on */
    if (write_all(r->up, buf, head + used) != 0) {
        detail[0] = '\0';
        return -1;
    }
    return rc == HTTP_CHUNK_BAD ? -1 : rc == HTTP_CHUNK_DONE ? 0 : 1;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    int fl = fcntl(r->client, F_GETFL);
    if (fl >= 0)
        fcntl(r->client, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = r->io_timeout_s};
    setsockopt(r->client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    http_chunk_parser cp;
    memset(&cp, 0, sizeof cp);
    bool body_done = false, client_eof = false, answering = false;
    char buf[16384], detail[128] = "";
    for (;;) {
        struct pollfd pf[2] = {{.fd = r->up, .events = POLLIN},
                               {.fd = r->client, .events = (body_done || client_eof) ? 0 : POLLIN}};
        int n = poll(pf, 2, 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (pf[0].revents) {     /* libmicrohttpd's answer, or its end closing */
            ssize_t got = recv(r->up, buf, sizeof buf, 0);
            if (got <= 0)
                break;
            answering = true;
            if (write_all(r->client, buf, (size_t)got) != 0)
                break;
        }
        if (pf[1].revents) {
            ssize_t got = recv(r->client, buf, sizeof buf, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {      /* the client is done sending (or gone): so is the request */
                client_eof = true;
                shutdown(r->up, SHUT_WR);
                continue;
            }
            int rc = client_bytes(r, &cp, buf, (size_t)got, detail, sizeof detail);
            if (rc < 0) {
                if (detail[0] && !answering) {
                    char answer[512];
                    size_t an = guard_format_error(answer, sizeof answer, 400, detail);
                    if (an)
                        write_all(r->client, answer, an);
                    log_info("http: refused a chunked request body: %s", detail);
                }
                break;
            }
            if (rc == 0)
                body_done = true;
        }
    }
    shutdown(r->client, SHUT_WR);
    /* let the client finish sending so closing does not reset the answer away */
    struct timeval drain = {.tv_sec = 1};
    setsockopt(r->client, SOL_SOCKET, SO_RCVTIMEO, &drain, sizeof drain);
    while (recv(r->client, buf, sizeof buf, 0) > 0) {}
    close(r->client);
    close(r->up);
    free(r);
    return NULL;
}

int guard_relay_start(int client_fd, size_t head_len, int io_timeout_s, int *mhd_fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    relay *r = calloc(1, sizeof *r);
    pthread_attr_t attr;
    pthread_t t;
    if (!r || pthread_attr_init(&attr) != 0) {
        free(r);
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    r->client = client_fd;
    r->up = sv[0];
    r->head_left = head_len;
    r->io_timeout_s = io_timeout_s > 0 ? io_timeout_s : 30;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    int rc = pthread_create(&t, &attr, relay_main, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(r);
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    *mhd_fd = sv[1];
    return 0;
}
