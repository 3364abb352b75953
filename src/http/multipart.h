/* multipart.h — an incremental multipart/form-data parser (RFC 7578). Pure: bytes
 * in, callbacks out, no I/O, bounded memory, so a 10 MB upload streams through it
 * in small chunks and it can be fuzzed. */
#ifndef FAXBOT_MULTIPART_H
#define FAXBOT_MULTIPART_H

#include <stddef.h>

typedef struct multipart_part_info {
    const char *name;            /* form field name from Content-Disposition */
    const char *filename;        /* NULL if not a file part */
    const char *content_type;    /* NULL if absent */
} multipart_part_info;

typedef struct multipart_callbacks {
    /* A new part starts. Return non-zero to abort parsing. */
    int (*part_begin)(void *ctx, const multipart_part_info *info);
    /* Some bytes of the current part's body (may be called many times). */
    int (*part_data)(void *ctx, const char *data, size_t len);
    /* The current part ended. */
    int (*part_end)(void *ctx);
} multipart_callbacks;

typedef struct multipart_parser multipart_parser;

/* Extracts the boundary from a Content-Type header value; copies it into out.
 * Returns 0, or -1 if the type is not multipart/form-data or has no valid boundary. */
int multipart_boundary(const char *content_type, char *out, size_t outlen);

multipart_parser *multipart_new(const char *boundary, const multipart_callbacks *cb, void *ctx);
/* Feeds bytes. Returns 0, or -1 on malformed input or an aborting callback
 * (multipart_error tells which). */
int multipart_feed(multipart_parser *p, const char *data, size_t len);
/* Ends the input: returns 0 only if the closing boundary was seen. */
int multipart_finish(multipart_parser *p);
const char *multipart_error(const multipart_parser *p);
void multipart_free(multipart_parser *p);

#endif
