/* api_openapi.c — GET /openapi.json (the OpenAPI 3.1 document in src/api/openapi.json,
 * embedded at build time) and GET /docs (a page that renders it with its own inline
 * script: no CDN, nothing fetched but /openapi.json). tests/api/test_openapi.py keeps the
 * document and the route table in agreement. */
#include "api/api_internal.h"

extern const char api_openapi_json[];      /* NUL-terminated (tools/embed.py) */
extern const char api_docs_html[];

static void openapi(http_request *req, http_response *res)
{
    (void)req;
    http_res_text(res, 200, "application/json", api_openapi_json);
}

static void docs(http_request *req, http_response *res)
{
    (void)req;
    http_res_header(res, "Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; "
                                                    "style-src 'unsafe-inline'; connect-src 'self'");
    http_res_text(res, 200, "text/html; charset=utf-8", api_docs_html);
}

static const http_route openapi_routes[] = {
    {.method = "GET", .pattern = "/openapi.json", .handle = openapi},
    {.method = "GET", .pattern = "/docs", .handle = docs},
};

void api_openapi_routes(const http_route **routes, int *n)
{
    *routes = openapi_routes;
    *n = (int)(sizeof openapi_routes / sizeof openapi_routes[0]);
}
