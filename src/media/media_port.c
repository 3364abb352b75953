/* media_port.c — the sockets of media calls: numeric address parsing and binding a
 * UDP socket on a free even port of the configured range (RTP convention, RFC 3550
 * §11), moving a cursor so consecutive calls do not reuse a port at once. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "media/media_internal.h"
#include "util/util.h"

int media_resolve(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len, char *err,
                  size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
    struct addrinfo *res = NULL;
    char ports[16];
    if (port < 0 || port > 65535) {
        str_fmt(err, errlen, "media port %d is out of range", port);
        return -1;
    }
    snprintf(ports, sizeof ports, "%d", port);
    int rc = getaddrinfo(addr && addr[0] ? addr : NULL, ports, &hints, &res);
    if (rc != 0 || !res) {
        str_fmt(err, errlen, "media address \"%s\" is not a numeric IP address", addr ? addr : "");
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

int media_socket_open(const char *bind_addr, int port_min, int port_max, int *cursor, int *port, char *err,
                      size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (media_resolve(bind_addr ? bind_addr : "0.0.0.0", 0, &ss, &sl, err, errlen) != 0)
        return -1;
    int first = port_min + (port_min & 1);
    int n_even = first > port_max ? 0 : (port_max - first) / 2 + 1;
    if (n_even == 0) {
        str_fmt(err, errlen, "media port range %d-%d holds no even port", port_min, port_max);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        str_fmt(err, errlen, "cannot create a media socket: %s", strerror(errno));
        return -1;
    }
    int start = *cursor < first || *cursor > port_max ? 0 : (*cursor - first) / 2;
    for (int i = 0; i < n_even; i++) {
        int p = first + 2 * ((start + i) % n_even);
        set_port(&ss, p);
        if (bind(fd, (struct sockaddr *)&ss, sl) == 0) {
            *port = p;
            *cursor = p + 2;
            return fd;
        }
        if (errno != EADDRINUSE && errno != EACCES) {
            str_fmt(err, errlen, "cannot bind media port %d on %s: %s", p, bind_addr ? bind_addr : "0.0.0.0",
                    strerror(errno));
            close(fd);
            return -1;
        }
    }
    close(fd);
    str_fmt(err, errlen, "no free media port: all %d even ports of %d-%d are in use", n_even, port_min, port_max);
    return -1;
}

bool media_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}
