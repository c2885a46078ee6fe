/*
 * response.c: building and writing HTTP responses. Invariant: while r->writing, r->out
 * holds LWS_PRE bytes of headroom followed by the status line, headers and body, and
 * r->out_off counts what has been handed to lws. Bodies are written 64 KiB per writable
 * callback so one large response cannot monopolise the loop.
 * CORS: when the request carried an allowed cross-origin Origin, the response names it.
 */
#include "request.h"
#include "core/log.h"
#include "core/origin.h"
#include "util/error.h"
#include "ws/ws.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* CORS response headers for an allowed cross-origin request, as raw header lines. */
static void cors_lines(struct cd_http_req *r, char *out, size_t size)
{
    out[0] = '\0';
    if (r->origin[0] && cd_origin_allowed(r->origin, r->host, r->srv->cfg.cors_origins))
        snprintf(out, size,
                 "access-control-allow-origin: %s\r\nvary: Origin\r\n"
                 "access-control-expose-headers: x-request-id, retry-after\r\n",
                 r->origin);
}

int cd_http_send(struct cd_http_req *r, int status, const char *ctype, const char *extra_headers,
                 const void *body, size_t len)
{
    unsigned char hdr[4096], *p = hdr, *end = hdr + sizeof(hdr);
    char num[32], cors[512];
    struct lws *wsi = r->wsi;

    if (r->writing)
        return CD_EINVAL; /* one response per request */
    r->dispatched = 1;
    r->status = status;
    snprintf(num, sizeof(num), "%zu", len);
    cors_lines(r, cors, sizeof(cors));
    if (lws_add_http_header_status(wsi, (unsigned)status, &p, end) ||
        (ctype && add_header(wsi, "content-type:", ctype, &p, end)) ||
        add_header(wsi, "content-length:", num, &p, end) ||
        add_header(wsi, "x-request-id:", r->req_id, &p, end) ||
        add_header(wsi, "cache-control:", "no-store", &p, end) ||
        (r->close_after && add_header(wsi, "connection:", "close", &p, end)))
        return CD_ETOOBIG;
    size_t extra = (extra_headers ? strlen(extra_headers) : 0) + strlen(cors);
    if ((size_t)(end - p) < extra + 8)
        return CD_ETOOBIG;
    if (extra_headers) {
        memcpy(p, extra_headers, strlen(extra_headers));
        p += strlen(extra_headers);
    }
    memcpy(p, cors, strlen(cors));
    p += strlen(cors);
    if (lws_finalize_http_header(wsi, &p, end))
        return CD_ETOOBIG;

    cd_buf_reset(&r->out);
    r->out.cap = LWS_PRE + (size_t)(p - hdr) + len + 16;
    int rc = cd_buf_reserve(&r->out, LWS_PRE + (size_t)(p - hdr) + len);
    if (rc)
        return rc;
    r->out.len = LWS_PRE;
    cd_buf_append(&r->out, hdr, (size_t)(p - hdr));
    if (len && r->method != CD_HEAD)
        cd_buf_append(&r->out, body, len);
    r->out_off = LWS_PRE;
    r->writing = 1;
    if (status >= 400)
        r->srv->n.http_errors++;
    lws_callback_on_writable(wsi);
    return CD_OK;
}

int cd_http_json(struct cd_http_req *r, int status, cJSON *o)
{
    if (!o)
        return cd_http_send(r, status, NULL, NULL, NULL, 0);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return cd_http_send(
            r, 500, "application/json", NULL,
            "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}", 60);
    int rc = cd_http_send(r, status, "application/json", NULL, s, strlen(s));
    free(s);
    return rc;
}

static cJSON *error_body(const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    return o;
}

int cd_http_error(struct cd_http_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "status", status);
    cJSON_AddStringToObject(f, "code", code);
    cJSON_AddStringToObject(f, "path", r->path);
    cd_log_fields(status >= 500 ? CD_LOG_ERROR : CD_LOG_INFO, r->req_id, msg, f);
    return cd_http_json(r, status, error_body(code, msg));
}

int cd_http_file(struct cd_http_req *r, const char *fs_path, const char *ctype,
                 const char *extra_headers)
{
    char hdrs[2048], cors[512];
    cors_lines(r, cors, sizeof(cors));
    snprintf(hdrs, sizeof(hdrs), "x-request-id: %s\r\n%s%s", r->req_id,
             extra_headers ? extra_headers : "", cors);
    r->dispatched = 1;
    r->status = 200;
    r->serving_file = 1;
    int n = lws_serve_http_file(r->wsi, fs_path, ctype, hdrs, (int)strlen(hdrs));
    if (n < 0)
        return -1;
    if (n > 0) /* completed (or a 404 was sent) and the transaction is done */
        r->active = 0;
    return 0;
}

const char *cd_http_arg(struct cd_http_req *r, const char *name_eq, char *buf, int size)
{
    return lws_get_urlarg_by_name(r->wsi, name_eq, buf, size);
}

void cd_http_user_agent(struct cd_http_req *r, char *out, size_t size)
{
    if (lws_hdr_copy(r->wsi, out, (int)size, WSI_TOKEN_HTTP_USER_AGENT) < 0)
        out[0] = '\0';
}

void cd_http_peer(struct cd_http_req *r, char *out, size_t size)
{
    cd_ws_client_ip(r->srv, r->wsi, out, size);
}
