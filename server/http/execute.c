/*
 * execute.c: the server-side Python REST API, compatible with the older Pyodide server:
 *   POST /api/execute      {code, context?, timeout?, session?}
 *   POST /api/execute-raw  the body is the program (text/plain); ?timeout=&session=
 *   POST /api/reset        {session?}: clear the variables of a context
 *   GET  /api/packages     what the server's Python can import
 * A run answers later than its request: the handler queues a job in the pool and returns;
 * the pool's done callback writes the response. struct cd_http_run ties the two and is owned
 * by the request: if the connection closes first, cd_http_run_abandon() detaches the job.
 * Contexts: a run without `session` belongs to the client's address ("ip:..."), so one
 * user's variables never meet another's; with `session` (an existing session id) it shares
 * the room's context. When py_token is configured every run must present it.
 */
#include "audit/events.h"
#include "audit/hash.h"
#include "audit/stats.h"
#include "core/log.h"
#include "pyexec/pool.h"
#include "routes.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cd_http_run {
    struct cd_http_req *r;
    struct cd_pyjob *job;
    struct cd_buf out[2]; /* stdout, stderr (the pool caps the total) */
    int kind;
    /* for the security log: the program's hash, never the program */
    char sha[65];
    size_t code_len;
    char key[CD_PY_KEY_MAX];
    char ip[64];
    char ua[160];
};

static void run_free(struct cd_http_run *run)
{
    if (!run)
        return;
    cd_buf_cleanup(&run->out[0]);
    cd_buf_cleanup(&run->out[1]);
    free(run);
}

void cd_http_run_abandon(struct cd_http_req *r)
{
    struct cd_http_run *run = r->run;
    if (!run)
        return;
    r->run = NULL;
    cd_pyjob_detach(run->job);
    run_free(run);
}

static void on_output(void *ud, int stream, const char *data, size_t len)
{
    struct cd_http_run *run = ud;
    cd_buf_append(&run->out[stream == 2], data, len); /* past the cap: the pool stops the run */
}

static void add_text(cJSON *o, const char *name, struct cd_buf *b)
{
    cJSON_AddStringToObject(o, name, b->data ? b->data : "");
}

static void on_done(void *ud, cJSON *res)
{
    struct cd_http_run *run = ud;
    struct cd_http_req *r = run->r;
    r->run = NULL;
    if (run->kind == CD_PY_EXEC) {
        add_text(res, "stdout", &run->out[0]);
        add_text(res, "stderr", &run->out[1]);
        if (!cJSON_GetObjectItemCaseSensitive(res, "error"))
            cJSON_AddNullToObject(res, "error");
        cJSON *f = cJSON_CreateObject();
        cJSON *ok = cJSON_GetObjectItemCaseSensitive(res, "success");
        cJSON *et = cJSON_GetObjectItemCaseSensitive(res, "errorType");
        cJSON *ms = cJSON_GetObjectItemCaseSensitive(res, "executionTime");
        cJSON_AddBoolToObject(f, "success", cJSON_IsTrue(ok));
        if (cJSON_IsString(et))
            cJSON_AddStringToObject(f, "errorType", et->valuestring);
        if (cJSON_IsNumber(ms))
            cJSON_AddNumberToObject(f, "ms", ms->valuedouble);
        cd_log_fields(CD_LOG_INFO, r->req_id, "python run", f);
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "source", "rest");
        cJSON_AddStringToObject(ev, "context", run->key);
        cJSON_AddStringToObject(ev, "requestId", r->req_id);
        cd_audit_run(r->srv->seclog, res, run->sha, run->code_len, run->ip, run->ua, ev);
        cd_stats_run_result(r->srv->stats, res, "rest", run->ip, run->ua, run->sha);
    } else if (run->kind == CD_PY_RESET) {
        cJSON_AddStringToObject(res, "message", "the context's variables were cleared");
    }
    run_free(run);
    /* a failed run is still a served request: 200 with success:false, as the older server */
    int status = 200;
    cJSON *et = cJSON_GetObjectItemCaseSensitive(res, "errorType");
    if (cJSON_IsString(et) &&
        (!strcmp(et->valuestring, "unavailable") || !strcmp(et->valuestring, "shutting_down")))
        status = 503;
    cd_http_json(r, status, res);
}

/* The execution token, when one is configured, was presented (Bearer or X-Execution-Token). */
static int token_ok(struct cd_http_req *r)
{
    const char *want = r->srv->cfg.py_token;
    if (!want[0])
        return 1;
    char got[300] = "";
    char auth[300];
    int n = lws_hdr_copy(r->wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && !strncasecmp(auth, "Bearer ", 7))
        snprintf(got, sizeof(got), "%s", auth + 7);
    else if (lws_hdr_custom_copy(r->wsi, got, sizeof(got), "x-execution-token:", 18) < 0)
        got[0] = '\0';
    return cd_secret_equal(got, want);
}

/* Common checks; on refusal the response is sent and 1 is returned. */
static int refuse(struct cd_http_req *r, int *rc)
{
    if (!r->srv->py) {
        *rc = cd_http_error(r, 503, "python_disabled",
                            "server-side Python is switched off on this server");
        return 1;
    }
    if (!token_ok(r)) {
        char ip[64];
        cd_http_peer(r, ip, sizeof(ip));
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "ip", ip);
        cJSON_AddStringToObject(f, "path", r->path);
        cd_log_fields(CD_LOG_WARN, r->req_id, "security: execution token refused", f);
        char ua[160];
        cd_http_user_agent(r, ua, sizeof(ua));
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "source", "rest");
        cJSON_AddStringToObject(ev, "path", r->path);
        cd_audit(r->srv->seclog, "execution_token_refused", ip, ua, ev);
        *rc = cd_http_error(r, 401, "execution_token_required",
                            "server-side runs need the execution token (Authorization: Bearer)");
        return 1;
    }
    return 0;
}

int cd_http_py_allowed(struct cd_http_req *r, int *rc)
{
    return !refuse(r, rc);
}

/* The context key of a request: its session's, or its client address's. */
static int context_key(struct cd_http_req *r, const char *session, size_t slen, char *key,
                       size_t size, int *rc)
{
    if (session) {
        if (!r->srv->store->ops->get(r->srv->store, session, slen)) {
            *rc = cd_http_error(r, 404, "session_not_found", "no session with that id");
            return 1;
        }
        snprintf(key, size, "s:%.*s", (int)slen, session);
        return 0;
    }
    char ip[64];
    cd_http_peer(r, ip, sizeof(ip));
    snprintf(key, size, "ip:%s", ip);
    return 0;
}

static int submit(struct cd_http_req *r, struct cd_py_request *req)
{
    struct cd_http_run *run = calloc(1, sizeof(*run));
    if (!run)
        return cd_http_error(r, 500, "out_of_memory", "out of memory");
    run->r = r;
    run->kind = (int)req->kind;
    run->code_len = req->code_len;
    snprintf(run->key, sizeof(run->key), "%s", req->key);
    if (req->kind == CD_PY_EXEC)
        cd_sha256_hex(req->code, req->code_len, run->sha);
    cd_http_peer(r, run->ip, sizeof(run->ip));
    cd_http_user_agent(r, run->ua, sizeof(run->ua));
    cd_buf_init(&run->out[0], (size_t)r->srv->cfg.py_output_max + 64);
    cd_buf_init(&run->out[1], (size_t)r->srv->cfg.py_output_max + 64);
    static const struct cd_py_callbacks cb = {.output = on_output, .done = on_done};
    int err = cd_pyexec_submit(r->srv->py, req, &cb, run, &run->job);
    if (err) {
        run_free(run);
        if (err == CD_ELIMIT)
            return cd_http_error(r, 503, "python_busy",
                                 "every Python worker is busy and the queue is full; retry");
        if (err == CD_EUNAVAIL)
            return cd_http_error(r, 503, "python_unavailable", "server-side Python is down");
        if (err == CD_EINVAL)
            return cd_http_error(r, 400, "bad_request", "%s", cd_strerror(err));
        return cd_http_error(r, 500, "internal", "%s", cd_strerror(err));
    }
    r->run = run;
    r->dispatched = 1;
    /* the answer comes when the run ends, which may be after lws's idle timeout */
    lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
    return 0;
}

static int parse_timeout(struct cd_http_req *r, const cJSON *t, long *out, int *rc)
{
    *out = 0;
    if (!t || cJSON_IsNull(t))
        return 0;
    if (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > 86400000.0) {
        *rc = cd_http_error(r, 400, "bad_request", "timeout must be a number of milliseconds");
        return 1;
    }
    *out = (long)t->valuedouble;
    return 0;
}

static int session_field(struct cd_http_req *r, const cJSON *s, const char **out, int *rc)
{
    *out = NULL;
    if (!s || cJSON_IsNull(s))
        return 0;
    if (!cJSON_IsString(s)) {
        *rc = cd_http_error(r, 400, "bad_request", "session must be a session id");
        return 1;
    }
    *out = s->valuestring;
    return 0;
}

/* Parse the body as a JSON object, answering 400 when it is not one. */
static cJSON *json_body(struct cd_http_req *r, int *rc)
{
    cJSON *body = r->body.len ? cJSON_ParseWithLength(r->body.data, r->body.len) : NULL;
    if (!r->body.len)
        body = cJSON_CreateObject();
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        *rc = cd_http_error(r, 400, "bad_json", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

int cd_execute_post(struct cd_http_req *r)
{
    int rc = 0;
    if (refuse(r, &rc))
        return rc;
    cJSON *body = json_body(r, &rc);
    if (!body)
        return rc;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(body, "code");
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(body, "context");
    const char *session = NULL;
    long timeout = 0;
    char key[CD_PY_KEY_MAX];
    if (!cJSON_IsString(code) || !code->valuestring[0]) {
        rc = cd_http_error(r, 400, "bad_request", "code must be a non-empty string");
        goto out;
    }
    if (ctx && !cJSON_IsNull(ctx) && !cJSON_IsObject(ctx)) {
        rc = cd_http_error(r, 400, "bad_request", "context must be an object of variables");
        goto out;
    }
    if (parse_timeout(r, cJSON_GetObjectItemCaseSensitive(body, "timeout"), &timeout, &rc) ||
        session_field(r, cJSON_GetObjectItemCaseSensitive(body, "session"), &session, &rc) ||
        context_key(r, session, session ? strlen(session) : 0, key, sizeof(key), &rc))
        goto out;
    struct cd_py_request req = {.kind = CD_PY_EXEC,
                                .key = key,
                                .code = code->valuestring,
                                .code_len = strlen(code->valuestring),
                                .context = cJSON_IsObject(ctx) ? ctx : NULL,
                                .timeout_ms = timeout};
    rc = submit(r, &req);
out:
    cJSON_Delete(body);
    return rc;
}

int cd_execute_raw_post(struct cd_http_req *r)
{
    int rc = 0;
    if (refuse(r, &rc))
        return rc;
    if (!r->body.len)
        return cd_http_error(r, 400, "bad_request", "the body must be the program to run");
    if (memchr(r->body.data, '\0', r->body.len))
        return cd_http_error(r, 400, "bad_request", "the program contains a NUL byte");
    char tbuf[32], sbuf[64];
    const char *t = cd_http_arg(r, "timeout=", tbuf, sizeof(tbuf));
    const char *s = cd_http_arg(r, "session=", sbuf, sizeof(sbuf));
    long timeout = 0;
    if (t) {
        char *end = NULL;
        timeout = strtol(t, &end, 10);
        if (!*t || *end || timeout < 1)
            return cd_http_error(r, 400, "bad_request", "timeout must be milliseconds");
    }
    char key[CD_PY_KEY_MAX];
    if (context_key(r, s, s ? strlen(s) : 0, key, sizeof(key), &rc))
        return rc;
    struct cd_py_request req = {.kind = CD_PY_EXEC,
                                .key = key,
                                .code = r->body.data,
                                .code_len = r->body.len,
                                .timeout_ms = timeout};
    return submit(r, &req);
}

int cd_execute_reset_post(struct cd_http_req *r)
{
    int rc = 0;
    if (refuse(r, &rc))
        return rc;
    cJSON *body = json_body(r, &rc);
    if (!body)
        return rc;
    const char *session = NULL;
    char key[CD_PY_KEY_MAX];
    if (!session_field(r, cJSON_GetObjectItemCaseSensitive(body, "session"), &session, &rc) &&
        !context_key(r, session, session ? strlen(session) : 0, key, sizeof(key), &rc)) {
        struct cd_py_request req = {.kind = CD_PY_RESET, .key = key};
        rc = submit(r, &req);
    }
    cJSON_Delete(body);
    return rc;
}

int cd_execute_packages_get(struct cd_http_req *r)
{
    int rc = 0;
    if (refuse(r, &rc))
        return rc;
    char key[CD_PY_KEY_MAX];
    if (context_key(r, NULL, 0, key, sizeof(key), &rc))
        return rc;
    struct cd_py_request req = {.kind = CD_PY_LIST, .key = key};
    return submit(r, &req);
}
