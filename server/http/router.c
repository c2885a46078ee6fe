/*
 * router.c: the lws "http" protocol callback and the route table.
 * Per request: LWS_CALLBACK_HTTP reads method, path and the headers that matter, refuses
 * early what can be refused before the body (405/404/411/413/415, answering
 * `Expect: 100-continue` otherwise), then either dispatches at once (no body) or after
 * LWS_CALLBACK_HTTP_BODY_COMPLETION with the body collected under cfg.max_body.
 * A route is {methods, pattern, handler}; "{id}" matches one path segment. A path that
 * matches a pattern but not the method gets 405 with an Allow header.
 */
#include "http.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/origin.h"
#include "request.h"
#include "routes.h"
#include "util/error.h"
#include "ws/ws.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef int (*route_fn)(struct cd_http_req *r);

struct route {
    int methods;
    const char *pattern;
    route_fn fn;
    int json_body; /* the handler takes a JSON body */
    int upload;    /* the body may be up to cfg.upload_max instead of cfg.max_body */
    int python;    /* server-side Python: refused (off, or no token) before the body is read */
};

static const struct route routes[] = {
    {CD_POST, "/sessions", cd_sessions_create, 1, 0, 0},
    {CD_GET | CD_HEAD, "/sessions", cd_sessions_list, 0, 0, 0},
    {CD_GET | CD_HEAD, "/sessions/{id}", cd_sessions_get, 0, 0, 0},
    {CD_DELETE, "/sessions/{id}", cd_sessions_delete, 0, 0, 0},
    {CD_GET | CD_HEAD, "/sessions/{id}/document", cd_sessions_document, 0, 0, 0},
    {CD_GET | CD_HEAD, "/health", cd_health_get, 0, 0, 0},
    {CD_GET | CD_HEAD, "/api/health", cd_health_get, 0, 0, 0},
    {CD_GET | CD_HEAD, "/api/status", cd_health_get, 0, 0, 0},
    {CD_POST, "/api/execute", cd_execute_post, 1, 0, 1},
    {CD_POST, "/api/execute-raw", cd_execute_raw_post, 0, 0, 1},
    {CD_POST, "/api/reset", cd_execute_reset_post, 1, 0, 1},
    {CD_GET | CD_HEAD, "/api/packages", cd_execute_packages_get, 0, 0, 0},
    {CD_POST, "/api/upload", cd_upload_post, 0, 1, 1},
    {CD_GET | CD_HEAD, "/api/uploaded-files", cd_upload_list, 0, 0, 0},
    {CD_DELETE, "/api/uploaded-files/{id}", cd_upload_delete, 0, 0, 0},
    {CD_GET | CD_HEAD, "/api/file-info/{id}", cd_upload_info, 0, 0, 0},
    {CD_GET | CD_HEAD, "/docs", cd_docs_get, 0, 0, 0},
    {CD_GET | CD_HEAD, "/openapi.json", cd_openapi_get, 0, 0, 0},
    {CD_GET | CD_HEAD, "/api/stats", cd_stats_get, 0, 0, 0},
    {CD_GET | CD_HEAD, "/api/dashboard/stats", cd_dashboard_stats_get, 0, 0, 0},
    {CD_POST, "/api/dashboard/stats/clear", cd_dashboard_stats_clear_post, 0, 0, 0},
    {CD_GET | CD_HEAD, "/api/dashboard/stats/dashboard", cd_dashboard_page_get, 0, 0, 0},
    {CD_GET | CD_HEAD, "/dashboard", cd_dashboard_page_get, 0, 0, 0},
    {CD_GET | CD_HEAD, "/metrics", cd_metrics_get, 0, 0, 0},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static const struct {
    int method;
    int token;
    const char *name;
} methods[] = {
    {CD_GET, WSI_TOKEN_GET_URI, "GET"},          {CD_POST, WSI_TOKEN_POST_URI, "POST"},
    {CD_PUT, WSI_TOKEN_PUT_URI, "PUT"},          {CD_PATCH, WSI_TOKEN_PATCH_URI, "PATCH"},
    {CD_DELETE, WSI_TOKEN_DELETE_URI, "DELETE"}, {CD_OPTIONS, WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    {CD_HEAD, WSI_TOKEN_HEAD_URI, "HEAD"},
};

/* Match path against pattern; copies a {id} segment into param. */
static int match(const char *pattern, const char *path, size_t plen, char *param, size_t psize)
{
    size_t i = 0;
    while (*pattern) {
        if (!strncmp(pattern, "{id}", 4)) {
            size_t start = i;
            while (i < plen && path[i] != '/')
                i++;
            size_t n = i - start;
            if (!n || n >= psize)
                return 0;
            memcpy(param, path + start, n);
            param[n] = '\0';
            pattern += 4;
            continue;
        }
        if (i >= plen || path[i] != *pattern)
            return 0;
        i++;
        pattern++;
    }
    /* tolerate one trailing slash */
    return i == plen || (i + 1 == plen && path[i] == '/');
}

static const char *method_name(int m)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (methods[i].method == m)
            return methods[i].name;
    return "?";
}

/* Is this path served by the static file handler (GET/HEAD anything outside the API)? */
static int is_api_path(const char *path)
{
    return !strncmp(path, "/api/", 5) || !strcmp(path, "/api") || !strncmp(path, "/sessions", 9) ||
           !strncmp(path, "/ws/", 4) || !strcmp(path, "/health");
}

static const struct route *find_route(struct cd_http_req *r, int *allowed)
{
    *allowed = 0;
    for (size_t i = 0; i < NROUTES; i++) {
        char param[sizeof(r->param)];
        if (!match(routes[i].pattern, r->path, r->path_len, param, sizeof(param)))
            continue;
        *allowed |= routes[i].methods;
        if (routes[i].methods & r->method) {
            memcpy(r->param, param, sizeof(param));
            return &routes[i];
        }
    }
    return NULL;
}

static void allow_header(int allowed, char *out, size_t size)
{
    size_t o = (size_t)snprintf(out, size, "allow: ");
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && o < size; i++)
        if (allowed & methods[i].method)
            o += (size_t)snprintf(out + o, size - o, "%s%s", o > 7 ? ", " : "", methods[i].name);
    if (o < size)
        snprintf(out + o, size - o, "\r\n");
}

static void request_reset(struct cd_http_req *r, struct cd_server *srv, struct lws *wsi)
{
    static uint64_t seq;
    cd_http_run_abandon(r);
    cd_http_store_abandon(r);
    cd_buf_cleanup(&r->body);
    cd_buf_cleanup(&r->out);
    memset(r, 0, sizeof(*r));
    r->srv = srv;
    r->wsi = wsi;
    r->active = 1;
    r->t0_us = cd_mono_us();
    cd_buf_init(&r->body, (size_t)srv->cfg.max_body);
    cd_buf_init(&r->out, 0);
    snprintf(r->req_id, sizeof(r->req_id), "%08llx", (unsigned long long)++seq);
}

static void access_log(struct cd_http_req *r)
{
    if (!cd_log_enabled(CD_LOG_INFO))
        return;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "method", method_name(r->method));
    cJSON_AddStringToObject(f, "path", r->path);
    cJSON_AddNumberToObject(f, "status", r->status);
    cJSON_AddNumberToObject(f, "us", (double)(cd_mono_us() - r->t0_us));
    cd_log_fields(CD_LOG_INFO, r->req_id, "http", f);
}

static int preflight(struct cd_http_req *r)
{
    static const char h[] = "access-control-allow-methods: GET, POST, DELETE, OPTIONS\r\n"
                            "access-control-allow-headers: content-type, authorization, "
                            "x-request-id, x-execution-token, x-admin-token\r\n"
                            "access-control-max-age: 600\r\n";
    if (!r->origin[0] || !cd_origin_allowed(r->origin, r->host, r->srv->cfg.cors_origins))
        return cd_http_error(r, 403, "origin_not_allowed",
                             "cross-origin requests from this origin are not allowed");
    return cd_http_send(r, 204, NULL, h, NULL, 0);
}

static int dispatch(struct cd_http_req *r, const struct route *rt)
{
    r->dispatched = 1;
    if (rt)
        return rt->fn(r);
    return cd_static_get(r);
}

static int on_http(struct cd_server *srv, struct cd_http_req *r, struct lws *wsi)
{
    request_reset(r, srv, wsi);
    srv->n.http_requests++;
    int n = -1;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (lws_hdr_total_length(wsi, (enum lws_token_indexes)methods[i].token) > 0) {
            r->method = methods[i].method;
            n = lws_hdr_copy(wsi, r->path, sizeof(r->path),
                             (enum lws_token_indexes)methods[i].token);
            break;
        }
    }
    if (lws_hdr_copy(wsi, r->origin, sizeof(r->origin), WSI_TOKEN_ORIGIN) < 0)
        r->origin[0] = '\0';
    if (lws_hdr_copy(wsi, r->host, sizeof(r->host), WSI_TOKEN_HOST) < 0)
        r->host[0] = '\0';
    if (n < 0) {
        snprintf(r->path, sizeof(r->path), "?");
        r->path_len = 1;
        r->close_after = 1;
        if (n == -1 && r->method)
            return cd_http_error(r, 414, "uri_too_long", "request path too long");
        return cd_http_error(r, 405, "method_not_allowed", "unsupported method");
    }
    r->path_len = (size_t)n;

    if (r->method == CD_OPTIONS)
        return preflight(r);
    if (r->origin[0] && !cd_origin_allowed(r->origin, r->host, srv->cfg.cors_origins) &&
        r->method != CD_GET && r->method != CD_HEAD)
        return cd_http_error(r, 403, "origin_not_allowed",
                             "cross-origin requests from this origin are not allowed");

    int allowed = 0, limited_rc = 0;
    const struct route *rt = find_route(r, &allowed);
    /* static files, and the probes a balancer or Prometheus make (health, metrics), are exempt
     * from the per-address rate limit: a probe must never be told 429 */
    int probe = rt && (rt->fn == cd_health_get || rt->fn == cd_metrics_get);
    if (!probe &&
        (rt || allowed || is_api_path(r->path) || (r->method != CD_GET && r->method != CD_HEAD)) &&
        cd_http_rate_limited(r, &limited_rc))
        return limited_rc;
    if (!rt && allowed) {
        char h[128];
        allow_header(allowed, h, sizeof(h));
        r->dispatched = 1;
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", "method_not_allowed");
        char msg[160];
        snprintf(msg, sizeof(msg), "%s is not allowed on this resource", method_name(r->method));
        cJSON_AddStringToObject(e, "message", msg);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        int rc = s ? cd_http_send(r, 405, "application/json", h, s, strlen(s)) : -1;
        free(s);
        return rc;
    }
    if (!rt && (is_api_path(r->path) || (r->method != CD_GET && r->method != CD_HEAD)))
        return cd_http_error(r, 404, "not_found", "no such resource");

    int has_body = r->method == CD_POST || r->method == CD_PUT || r->method == CD_PATCH;
    if (!has_body)
        return dispatch(r, rt);

    /* Refuse what can be refused before reading the body. */
    int refused = 0;
    if (rt && rt->python && !cd_http_py_allowed(r, &refused)) {
        r->close_after = 1; /* the body is not read */
        return refused;
    }
    char buf[256];
    int clen_n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    int chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    int expect = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_EXPECT) > 0;
    if (clen_n <= 0 && !chunked)
        return dispatch(r, rt); /* no Content-Length and no Transfer-Encoding: an empty body */
    if (clen_n <= 0 || chunked) {
        r->close_after = 1;
        return cd_http_error(
            r, 411, "length_required",
            "a request body needs a Content-Length (chunked bodies are not accepted)");
    }
    char *end = NULL;
    unsigned long long clen = strtoull(buf, &end, 10);
    if (*end || buf[0] == '-') {
        r->close_after = 1;
        return cd_http_error(r, 400, "bad_request", "invalid Content-Length");
    }
    long cap = rt && rt->upload ? srv->cfg.upload_max : srv->cfg.max_body;
    if (clen > (unsigned long long)cap) {
        /* Do not read a body we will not keep: answer and close. */
        r->close_after = 1;
        return cd_http_error(r, 413, "payload_too_large",
                             "request body of %llu bytes is over the limit of %ld bytes", clen,
                             cap);
    }
    r->body.cap = (size_t)cap;
    if (clen > 0 && rt && rt->json_body) {
        if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0 ||
            strncasecmp(buf, "application/json", 16) != 0 ||
            (buf[16] && buf[16] != ';' && buf[16] != ' ')) {
            r->close_after = expect;
            return cd_http_error(r, 415, "unsupported_media_type",
                                 "the body must be application/json");
        }
    }
    if (expect) {
        if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_EXPECT) < 0 ||
            strcasecmp(buf, "100-continue") != 0) {
            r->close_after = 1;
            return cd_http_error(r, 417, "expectation_failed", "only 100-continue is supported");
        }
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        unsigned char b[LWS_PRE + sizeof(cont)];
        memcpy(b + LWS_PRE, cont, sizeof(cont) - 1);
        if (lws_write(wsi, b + LWS_PRE, sizeof(cont) - 1, LWS_WRITE_HTTP) < 0)
            return -1;
    }
    /* handler runs at BODY_COMPLETION (lws calls it even for Content-Length: 0) */
    r->dispatched = 0;
    return 0;
}

static const struct route *route_of(struct cd_http_req *r)
{
    int allowed;
    return find_route(r, &allowed);
}

static int on_writable(struct cd_http_req *r)
{
    if (r->close_pending)
        return -1;
    if (!r->writing)
        return 0;
    size_t left = r->out.len - r->out_off;
    size_t n = left > CD_HTTP_CHUNK ? CD_HTTP_CHUNK : left;
    int final = n == left;
    if (final)
        access_log(r); /* before the last bytes leave: a client that got them finds the line */
    if (lws_write(r->wsi, (unsigned char *)r->out.data + r->out_off, n,
                  final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    r->out_off += n;
    if (!final) {
        lws_callback_on_writable(r->wsi);
        return 0;
    }
    r->writing = 0;
    cd_buf_cleanup(&r->out);
    if (r->close_after) {
        r->close_pending = 1; /* let lws flush what it buffered, then close */
        lws_callback_on_writable(r->wsi);
        return 0;
    }
    r->active = 0;
    if (lws_http_transaction_completed(r->wsi))
        return -1;
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct cd_http_req *r = user;
    struct cd_server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(srv, r, wsi) < 0 ? -1 : 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (!r->active || r->dispatched)
            return 0; /* an early answer was given: the rest of the body is discarded */
        if (cd_buf_append(&r->body, in, len)) {
            r->close_after = 1;
            return cd_http_error(r, 413, "payload_too_large", "request body over %ld bytes",
                                 srv->cfg.max_body) < 0
                       ? -1
                       : 0;
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!r->active || r->dispatched)
            return 0;
        return dispatch(r, route_of(r)) < 0 ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writable(r);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        r->active = 0;
        access_log(r);
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return cd_ws_confirm_upgrade(srv, wsi, in);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (r) {
            cd_http_run_abandon(r);
            cd_http_store_abandon(r);
            cd_buf_cleanup(&r->body);
            cd_buf_cleanup(&r->out);
            r->active = 0;
        }
        return 0;
    default:
        return 0;
    }
}

void cd_http_protocol(struct lws_protocols *p, struct cd_server *srv)
{
    memset(p, 0, sizeof(*p));
    p->name = "http";
    p->callback = callback;
    p->per_session_data_size = sizeof(struct cd_http_req);
    p->user = srv;
}

static const struct lws_protocol_vhost_options hdr_corp = {
    NULL, NULL, "cross-origin-resource-policy:", "same-origin"};
static const struct lws_protocol_vhost_options hdr_coep = {
    &hdr_corp, NULL, "cross-origin-embedder-policy:", "require-corp"};
static const struct lws_protocol_vhost_options hdr_coop = {
    &hdr_coep, NULL, "cross-origin-opener-policy:", "same-origin"};
static const struct lws_protocol_vhost_options hdr_csp = {
    &hdr_coop, NULL, "content-security-policy:",
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
    "connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"};
static const struct lws_protocol_vhost_options hdr_ref = {&hdr_csp, NULL,
                                                          "referrer-policy:", "no-referrer"};
static const struct lws_protocol_vhost_options hdr_xfo = {&hdr_ref, NULL,
                                                          "x-frame-options:", "DENY"};
static const struct lws_protocol_vhost_options hdr_nosniff = {&hdr_xfo, NULL,
                                                              "x-content-type-options:", "nosniff"};

const struct lws_protocol_vhost_options *cd_http_vhost_headers(void)
{
    return &hdr_nosniff;
}
