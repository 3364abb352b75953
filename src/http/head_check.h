/* head_check.h — the strict reading of an HTTP/1.x request head (RFC 9112) that
 * the connection guard applies before libmicrohttpd sees a byte: one request
 * line, CRLF line endings, no NUL or other control bytes, no obs-fold, exactly one
 * Host on HTTP/1.1, at most one Content-Length value and never one together with
 * Transfer-Encoding. Pure: a function over the bytes received so far. */
#ifndef FAXBOT_HTTP_HEAD_CHECK_H
#define FAXBOT_HTTP_HEAD_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_head_info {
    size_t head_len;             /* bytes of request line + headers + the empty line */
    int minor_version;           /* HTTP/1.<minor> */
    bool chunked;                /* Transfer-Encoding: chunked */
    bool has_length;             /* a Content-Length header */
    uint64_t content_length;
} http_head_info;

enum { HTTP_HEAD_INCOMPLETE = 0, HTTP_HEAD_OK = 1 };

/* Looks at the first len bytes a client sent. Returns HTTP_HEAD_INCOMPLETE when
 * the head has not ended yet and nothing seen so far is wrong, HTTP_HEAD_OK with
 * *info filled, or the HTTP status to refuse the request with (400, 414, 431, 501,
 * 505) and a sentence for the client in detail. max_head bounds the whole head
 * (431 past it; 414 when the request line alone is longer). */
int http_head_check(const char *buf, size_t len, size_t max_head, http_head_info *info,
                    char *detail, size_t detail_len);

/* The framing of a chunked body (RFC 9112 §7.1), checked as it streams by, so a
 * malformed one is refused by us, in JSON, rather than by libmicrohttpd. */
typedef struct http_chunk_parser {
    int state;
    int digits;                  /* of the chunk size so far */
    uint64_t left;               /* data bytes of the current chunk still to come */
} http_chunk_parser;

enum { HTTP_CHUNK_MORE = 0, HTTP_CHUNK_DONE = 1, HTTP_CHUNK_BAD = -1 };

/* Feeds len bytes. Returns HTTP_CHUNK_MORE (all used), HTTP_CHUNK_DONE (*used =
 * bytes up to the end of the body; the rest is not part of it) or HTTP_CHUNK_BAD
 * with a sentence in detail. Start from a zeroed parser. */
int http_chunk_feed(http_chunk_parser *p, const char *buf, size_t len, size_t *used, char *detail,
                    size_t detail_len);

#endif
