/* web_assets.c — looking up the embedded console files by name. */
#include "web/web_assets.h"

#include <string.h>

const web_asset *web_asset_find(const char *name)
{
    if (!name) return NULL;
    for (const web_asset *a = web_assets; a->name; a++)
        if (!strcmp(a->name, name)) return a;
    return NULL;
}
