/* mcp_fetch.c — send_fax's fileUrl download (see mcp_fetch.h). The address check
 * runs in curl's open-socket callback, on the address curl is about to connect to,
 * so a name that resolves differently a second time (DNS rebinding) cannot slip
 * past it. */
#include "mcp/mcp_fetch.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool v4_private(uint32_t a)
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
    return b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 169 && b1 == 254) || (b0 == 172 && (b1 & 0xf0) == 16) ||
           (b0 == 192 && b1 == 168) || (b0 == 100 && (b1 & 0xc0) == 64) || b0 >= 224 ||
           (b0 == 192 && b1 == 0 && (uint8_t)(a >> 8) == 0) || (b0 == 198 && (b1 & 0xfe) == 18);
}

bool mcp_addr_is_private(const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!ip) return true;
    if (inet_pton(AF_INET, ip, &a4) == 1) return v4_private(ntohl(a4.s_addr));
    if (inet_pton(AF_INET6, ip, &a6) != 1) return true;
    const uint8_t *b = a6.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(b, mapped, 12) || IN6_IS_ADDR_V4COMPAT(&a6)) {
        uint32_t v = ((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15];
        return v4_private(v);
    }
    if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {       /* NAT64 64:ff9b::/96 */
        uint32_t v = ((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15];
        return v4_private(v);
    }
    return IN6_IS_ADDR_UNSPECIFIED(&a6) || IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_LINKLOCAL(&a6) ||
           IN6_IS_ADDR_SITELOCAL(&a6) || IN6_IS_ADDR_MULTICAST(&a6) || (b[0] & 0xfe) == 0xfc ||
           (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8);   /* documentation */
}

typedef struct fetch_state {
    FILE *out;
    int64_t got, max;
    bool too_big;
    bool allow_private;
    bool refused_addr;
    char refused_ip[64];
} fetch_state;

static curl_socket_t open_socket(void *cls, curlsocktype purpose, struct curl_sockaddr *addr)
{
    fetch_state *st = cls;
    char ip[64] = "";
    if (addr->family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&addr->addr)->sin_addr, ip, sizeof ip);
    else if (addr->family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&addr->addr)->sin6_addr, ip, sizeof ip);
    if (purpose != CURLSOCKTYPE_IPCXN || (!st->allow_private && mcp_addr_is_private(ip))) {
        st->refused_addr = true;
        str_copy(st->refused_ip, sizeof st->refused_ip, ip);
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static size_t on_data(char *ptr, size_t size, size_t n, void *cls)
{
    fetch_state *st = cls;
    size_t len = size * n;
    st->got += (int64_t)len;
    if (st->got > st->max) { st->too_big = true; return 0; }
    return fwrite(ptr, 1, len, st->out) == len ? len : 0;
}

int mcp_fetch_url(const char *url, int64_t max_bytes, bool allow_private, const char *dest_path,
                  char *ctype, size_t ctypelen, char *err, size_t errlen)
{
    ctype[0] = 0;
    if (strncasecmp(url, "https://", 8)) {
        str_fmt(err, errlen, "fileUrl must be an https:// URL");
        return -1;
    }
    if (strlen(url) > 2048 || strpbrk(url, " \r\n\t")) {
        str_fmt(err, errlen, "fileUrl must be a URL of at most 2048 characters without spaces");
        return -1;
    }
    fetch_state st = {.max = max_bytes, .allow_private = allow_private};
    st.out = fopen(dest_path, "wb");
    if (!st.out) { str_fmt(err, errlen, "could not store the download"); return -1; }
    CURL *c = curl_easy_init();
    if (!c) { fclose(st.out); str_fmt(err, errlen, "out of memory"); return -1; }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &st);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "faxbot-mcp/0.1");
    curl_easy_setopt(c, CURLOPT_PROXY, "");      /* no proxy from the environment: the check is on the real peer */
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) str_copy(ctype, ctypelen, ct);
    curl_easy_cleanup(c);
    int werr = fclose(st.out);
    int out = -1;
    if (st.refused_addr)
        str_fmt(err, errlen, "fileUrl resolves to a private or local address (%s); only public https URLs are fetched", st.refused_ip);
    else if (st.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        str_fmt(err, errlen, "the file at fileUrl exceeds %lld MB limit", (long long)(max_bytes / (1024 * 1024)));
    else if (rc == CURLE_UNSUPPORTED_PROTOCOL)
        str_fmt(err, errlen, "fileUrl redirected to a URL that is not https://");
    else if (rc != CURLE_OK)
        str_fmt(err, errlen, "could not fetch fileUrl: %s", curl_easy_strerror(rc));
    else if (code != 200)
        str_fmt(err, errlen, "fetching fileUrl answered HTTP %ld", code);
    else if (werr)
        str_fmt(err, errlen, "could not store the download");
    else
        out = 0;
    if (out) unlink(dest_path);
    return out;
}
