/*
 * request.h: one HTTP request/response on the lws "http" protocol (internal to http/).
 * struct cd_http_req is the lws per-session data of an HTTP connection, reset at the start
 * of every request on a keep-alive connection. The request body is read into a buffer capped
 * at cfg.max_body; the response (status line, headers, body) is built into `out` and written
 * from HTTP_WRITEABLE in chunks. Event-loop thread only.
 */
#ifndef CD_HTTP_REQUEST_H
#define CD_HTTP_REQUEST_H

#include "core/server.h"
#include "util/buf.h"

#include <cjson/cJSON.h>
#include <stdint.h>

struct lws;
struct cd_http_run;
struct cd_http_store_op;

#define CD_HTTP_CHUNK (64 * 1024) /* bytes written per writable callback */

enum cd_method {
    CD_GET = 1 << 0,
    CD_POST = 1 << 1,
    CD_PUT = 1 << 2,
    CD_PATCH = 1 << 3,
    CD_DELETE = 1 << 4,
    CD_OPTIONS = 1 << 5,
    CD_HEAD = 1 << 6,
};

struct cd_http_req {
    struct cd_server *srv;
    struct lws *wsi;
    int method;
    char path[1024];
    size_t path_len;
    char param[192]; /* the {id} of the matched route */
    char req_id[20];
    char origin[256];
    char host[256];
    uint64_t t0_us;
    struct cd_buf body;
    int active;        /* a request is in progress */
    int dispatched;    /* the handler ran (or an early error was set) */
    int close_after;   /* close the connection once the response is written */
    struct cd_buf out; /* LWS_PRE headroom + the whole response */
    size_t out_off;    /* bytes of out already written (from LWS_PRE) */
    int status;
    int writing;       /* out holds a response to write */
    int close_pending; /* response written; close at the next writable callback */
    int serving_file;
    struct cd_http_run *run; /* a server-side Python run answering this request (execute.c) */
    struct cd_http_store_op *store_op; /* a store write answering this request (sessions.c) */
};

/* Respond with status and a JSON body (o is consumed; may be NULL for no body). */
int cd_http_json(struct cd_http_req *r, int status, cJSON *o);
/* Respond {error:{code, message}} with status. */
int cd_http_error(struct cd_http_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Respond with raw bytes and a content type; extra_headers: "name: value\r\n"... or NULL. */
int cd_http_send(struct cd_http_req *r, int status, const char *ctype, const char *extra_headers,
                 const void *body, size_t len);
/* Serve a file from disk (static files, docs); path must already be validated. */
int cd_http_file(struct cd_http_req *r, const char *fs_path, const char *ctype,
                 const char *extra_headers);
/* The client's address as text into out (size bytes): the peer, or X-Forwarded-For's when the
 * peer is a trusted proxy; "unknown" if lws cannot tell. */
void cd_http_peer(struct cd_http_req *r, char *out, size_t size);
/* The User-Agent header (truncated) into out; "" when absent. */
void cd_http_user_agent(struct cd_http_req *r, char *out, size_t size);
/* The request is going away (connection closed): let go of what it waits for. */
void cd_http_run_abandon(struct cd_http_req *r);
/* The per-address REST rate limit (ratelimit.c): 0 if the request may go on; 1 if it was
 * refused, answered (429, Retry-After) and *rc holds what the answer returned. */
int cd_http_rate_limited(struct cd_http_req *r, int *rc);
/* Same for a store write in flight (sessions.c): its answer is dropped. */
void cd_http_store_abandon(struct cd_http_req *r);
/* Value of a query argument (borrowed from buf) or NULL. */
const char *cd_http_arg(struct cd_http_req *r, const char *name_eq, char *buf, int size);

#endif
