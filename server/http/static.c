/*
 * static.c: files from disk: the frontend (cfg.static_dir) at /, the API docs page and the
 * protocol files (cfg.protocol_dir) at /docs, /openapi.json and /protocol/.
 * Paths are checked segment by segment before touching the file system: no "..", no dot
 * files, no backslashes or control bytes, so nothing outside the roots can be named.
 * Precompressed siblings (.br, .gz) are served when the client accepts them; hashed build
 * assets get a one-year immutable cache, everything else revalidates.
 */
#include "core/log.h"
#include "routes.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const struct {
    const char *ext;
    const char *type;
} mime[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".wasm", "application/wasm"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
    {".zip", "application/zip"},
    {".woff2", "font/woff2"},
    {".md", "text/markdown; charset=utf-8"},
};

static const char *mime_of(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof(mime) / sizeof(mime[0]); i++) {
        size_t e = strlen(mime[i].ext);
        if (n > e && !strcasecmp(path + n - e, mime[i].ext))
            return mime[i].type;
    }
    return "application/octet-stream";
}

/* 1 if every segment of the URL path is a plain name. */
static int safe_path(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return 0;
        if (c == '/' && i + 1 < n && p[i + 1] == '.')
            return 0; /* "..", ".", dot files */
        if (c == '/' && i + 1 < n && p[i + 1] == '/')
            return 0;
    }
    return n > 0 && p[0] == '/';
}

static int is_file(const char *path)
{
    struct stat st;
    return !stat(path, &st) && S_ISREG(st.st_mode);
}

static int serve(struct cd_http_req *r, const char *root, const char *rel, const char *cache)
{
    char fs[2048], alt[2100], hdrs[512], enc[256];
    if (snprintf(fs, sizeof(fs), "%s%s", root, rel) >= (int)sizeof(fs))
        return cd_http_error(r, 414, "uri_too_long", "path too long");
    if (!is_file(fs))
        return cd_http_error(r, 404, "not_found", "no such file");
    const char *type = mime_of(fs);
    if (lws_hdr_copy(r->wsi, enc, sizeof(enc), WSI_TOKEN_HTTP_ACCEPT_ENCODING) < 0)
        enc[0] = '\0';
    const char *encoding = NULL;
    if (strstr(enc, "br")) {
        snprintf(alt, sizeof(alt), "%s.br", fs);
        if (is_file(alt))
            encoding = "br";
    }
    if (!encoding && strstr(enc, "gzip")) {
        snprintf(alt, sizeof(alt), "%s.gz", fs);
        if (is_file(alt))
            encoding = "gzip";
    }
    snprintf(hdrs, sizeof(hdrs), "cache-control: %s\r\n%s%s%s", cache,
             encoding ? "content-encoding: " : "", encoding ? encoding : "",
             encoding ? "\r\nvary: Accept-Encoding\r\n" : "");
    return cd_http_file(r, encoding ? alt : fs, type, hdrs);
}

int cd_static_get(struct cd_http_req *r)
{
    const char *p = r->path;
    if (!safe_path(p, r->path_len))
        return cd_http_error(r, 404, "not_found", "no such file");
    if (!strncmp(p, "/docs/", 6) || !strncmp(p, "/protocol/", 10)) {
        char root[600];
        snprintf(root, sizeof(root), "%s", r->srv->cfg.protocol_dir);
        const char *rel = p[1] == 'd' ? p + 5 : p + 9;
        if (p[1] == 'd') {
            snprintf(root, sizeof(root), "%s/docs", r->srv->cfg.protocol_dir);
        }
        return serve(r, root, rel, "no-cache");
    }
    /* the single-page app answers its own routes */
    if (!strcmp(p, "/") || !strncmp(p, "/s/", 3))
        return serve(r, r->srv->cfg.static_dir, "/index.html", "no-cache");
    const char *cache = !strncmp(p, "/assets/", 8)    ? "public, max-age=31536000, immutable"
                        : !strncmp(p, "/pyodide/", 9) ? "public, max-age=604800"
                                                      : "no-cache";
    return serve(r, r->srv->cfg.static_dir, p, cache);
}

int cd_docs_get(struct cd_http_req *r)
{
    char root[600];
    snprintf(root, sizeof(root), "%s/docs", r->srv->cfg.protocol_dir);
    return serve(r, root, "/index.html", "no-cache");
}

int cd_openapi_get(struct cd_http_req *r)
{
    return serve(r, r->srv->cfg.protocol_dir, "/openapi.json", "no-cache");
}
