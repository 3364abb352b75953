/* web_assets.h — the Admin Console's files (src/web/assets), compiled into the
 * binary by tools/embed_assets.py so the console needs nothing next to it. */
#ifndef FAXBOT_WEB_ASSETS_H
#define FAXBOT_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *name;            /* file name, e.g. "app.js" */
    const char *content_type;
    const char *etag;            /* quoted strong ETag from the content's SHA-256 */
    const unsigned char *data;
    size_t len;
} web_asset;

/* Terminated by an entry with name NULL. */
extern const web_asset web_assets[];

/* The asset called name, or NULL. */
const web_asset *web_asset_find(const char *name);

#endif
