/*
 * run.c: server-side Python in the room (P8, P9). A participant asks to run the room's
 * document (or a snippet) on the server; the run goes to the room's context in the Python
 * pool (key "s:<session id>", the same context REST runs naming the session use), so its
 * variables persist between runs like a notebook kernel. Everyone in the room sees the run
 * queued, started, its output as it is produced and its end; input() asks the participant who
 * started the run. One run at a time per room (the pool serialises a context's jobs); at most
 * CD_RUNS_PER_ROOM wait.
 *
 * A run outlives its room and its starter: its messages go to whoever is in the session's
 * room when they are produced (looked up by session id each time), and an input() whose
 * starter has left gets end of input. Owns the run records (a list, event-loop thread only).
 */
#include "run.h"
#include "audit/events.h"
#include "audit/hash.h"
#include "audit/stats.h"
#include "core/clock.h"
#include "core/log.h"
#include "pyexec/pool.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CD_RUNS_PER_ROOM 8
#define CD_RUN_LINE_MAX  (64 * 1024)

struct run {
    struct run *next;
    struct cd_server *srv;
    struct cd_pyjob *job;
    char id[24];
    char session[37];
    uint64_t starter; /* connection seq */
    cJSON *by;        /* {connId, userId, userName} of the starter */
    int waiting_input;
    int exec;     /* a program (not a reset): logged when it ends */
    char sha[65]; /* SHA-256 of the program, for the security log */
    size_t code_len;
    char ip[48];
    char ua[160];
};

static struct run *runs;
static uint64_t run_seq;

static struct cd_room *room_of(struct run *r)
{
    struct cd_session *s = r->srv->store->ops->get(r->srv->store, r->session, strlen(r->session));
    return s ? s->room : NULL;
}

static struct cd_conn *starter_of(struct run *r)
{
    struct cd_room *room = room_of(r);
    for (struct cd_conn *c = room ? room->head : NULL; c; c = c->next)
        if (c->seq == r->starter)
            return c;
    return NULL;
}

/* Send o to the session's room (consumes o). */
static void broadcast(struct run *r, cJSON *o)
{
    struct cd_room *room = room_of(r);
    if (room) {
        struct cd_msg *m = cd_msg_from_json(o);
        if (m) {
            cd_room_broadcast(room, m, NULL);
            cd_msg_unref(m);
        }
    }
    cJSON_Delete(o);
}

static cJSON *run_msg(struct run *r, const char *type)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "runId", r->id);
    return o;
}

static void run_free(struct run *r)
{
    struct run **pp = &runs;
    while (*pp && *pp != r)
        pp = &(*pp)->next;
    if (*pp)
        *pp = r->next;
    cJSON_Delete(r->by);
    free(r);
}

static void on_started(void *ud)
{
    struct run *r = ud;
    cJSON *o = run_msg(r, "run_started");
    cJSON_AddItemToObject(o, "by", cJSON_Duplicate(r->by, 1));
    broadcast(r, o);
}

static void on_output(void *ud, int stream, const char *data, size_t len)
{
    struct run *r = ud;
    cJSON *o = run_msg(r, "run_output");
    cJSON_AddStringToObject(o, "stream", stream == 2 ? "stderr" : "stdout");
    char *text = malloc(len + 1);
    if (!text) {
        cJSON_Delete(o);
        return;
    }
    memcpy(text, data, len); /* the pool hands over well-formed UTF-8 */
    text[len] = '\0';
    cJSON_AddItemToObject(o, "text", cJSON_CreateString(text));
    free(text);
    broadcast(r, o);
}

static void on_input(void *ud, struct cd_pyjob *job, const char *prompt)
{
    struct run *r = ud;
    struct cd_conn *c = starter_of(r);
    if (!c) { /* the person who could answer has left */
        cd_pyjob_input(job, NULL, 0, 1);
        return;
    }
    r->waiting_input = 1;
    cJSON *o = run_msg(r, "run_input_request");
    cJSON_AddStringToObject(o, "prompt", prompt);
    cJSON_AddNumberToObject(o, "timeoutMs", (double)r->srv->cfg.py_input_timeout_ms);
    cd_conn_send_json(c, o);
    cJSON_Delete(o);
}

static void audit_run(struct run *r, const cJSON *res)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "source", "room");
    cJSON_AddStringToObject(ev, "session", r->session);
    cJSON_AddStringToObject(ev, "runId", r->id);
    cJSON_AddItemToObject(ev, "by", cJSON_Duplicate(r->by, 1));
    cd_audit_run(r->srv->seclog, res, r->sha, r->code_len, r->ip, r->ua, ev);
    cd_stats_run_result(r->srv->stats, res, "room", r->ip, r->ua, r->sha);
}

static void on_done(void *ud, cJSON *res)
{
    struct run *r = ud;
    if (r->exec)
        audit_run(r, res);
    cJSON *o = run_msg(r, "run_done");
    cJSON_AddItemToObject(o, "by", cJSON_Duplicate(r->by, 1));
    cJSON *it = res ? res->child : NULL;
    while (it) { /* success, result, error, errorType, traceback, executionTime, ... */
        cJSON *next = it->next;
        cJSON_AddItemToObject(o, it->string, cJSON_DetachItemViaPointer(res, it));
        it = next;
    }
    cJSON_Delete(res);
    broadcast(r, o);
    r->job = NULL;
    run_free(r);
}

static struct run *find_run(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "runId");
    if (!cJSON_IsString(id)) {
        cd_conn_send_error(c, "bad_message", "runId must be the id of a run", ref);
        return NULL;
    }
    for (struct run *r = runs; r; r = r->next)
        if (!strcmp(r->id, id->valuestring) && c->room && !strcmp(r->session, c->room->session->id))
            return r;
    cd_conn_send_error(c, "run_not_found", "no such run in this session (it may have ended)", ref);
    return NULL;
}

/* The execution token, when one is configured, came with the message ("token"). */
static int token_ok(struct cd_conn *c, const cJSON *msg)
{
    const char *want = c->srv->cfg.py_token;
    if (!want[0])
        return 1;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "token");
    const char *got = cJSON_IsString(t) ? t->valuestring : "";
    return cd_secret_equal(got, want);
}

/* Checks common to run and run_reset; sends the error and returns 1 when refused. */
static int refused(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    if (!c->room || !c->room->session) {
        cd_conn_send_error(c, "session_not_found", "this session was deleted", ref);
        return 1;
    }
    if (c->read_only) {
        cd_conn_send_error(c, "read_only", "a view-only participant cannot run code", ref);
        return 1;
    }
    if (!c->srv->py) {
        cd_conn_send_error(c, "python_disabled", "server-side Python is off on this server", ref);
        return 1;
    }
    if (!token_ok(c, msg)) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "ip", c->ip);
        cJSON_AddStringToObject(f, "conn", c->conn_id);
        cd_log_fields(CD_LOG_WARN, NULL, "security: execution token refused (room run)", f);
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "source", "room");
        cJSON_AddStringToObject(ev, "conn", c->conn_id);
        cd_audit(c->srv->seclog, "execution_token_refused", c->ip, c->ua, ev);
        cd_conn_send_error(c, "execution_token_required",
                           "server-side runs need the execution token (\"token\")", ref);
        return 1;
    }
    return 0;
}

/* The room's document as UTF-8 into b. */
static int document_text(struct cd_session *s, struct cd_buf *b)
{
    const struct cd_doc *d = cd_auth_doc(s->auth);
    uint16_t *u = NULL;
    size_t n = 0;
    int rc = cd_doc_slice(d, 0, cd_doc_len(d), &u, &n);
    if (!rc)
        rc = cd_utf16_utf8_append(b, u, n);
    free(u);
    return rc;
}

static int submit(struct cd_conn *c, enum cd_py_kind kind, const char *code, size_t len,
                  long timeout, const cJSON *ref)
{
    struct cd_session *s = c->room->session;
    size_t waiting = 0;
    for (struct run *r = runs; r; r = r->next)
        waiting += !strcmp(r->session, s->id);
    if (waiting >= CD_RUNS_PER_ROOM) {
        cd_conn_send_error(c, "run_queue_full", "this room already has runs waiting; retry later",
                           ref);
        return CD_ELIMIT;
    }
    struct run *r = calloc(1, sizeof(*r));
    if (!r) {
        cd_conn_send_error(c, "internal", "out of memory", ref);
        return CD_ENOMEM;
    }
    r->srv = c->srv;
    snprintf(r->id, sizeof(r->id), "r%llx", (unsigned long long)++run_seq);
    snprintf(r->session, sizeof(r->session), "%s", s->id);
    r->starter = c->seq;
    r->exec = kind == CD_PY_EXEC;
    r->code_len = len;
    if (r->exec)
        cd_sha256_hex(code, len, r->sha);
    snprintf(r->ip, sizeof(r->ip), "%s", c->ip);
    snprintf(r->ua, sizeof(r->ua), "%s", c->ua);
    r->by = cJSON_CreateObject();
    cJSON_AddStringToObject(r->by, "connId", c->conn_id);
    cJSON_AddStringToObject(r->by, "userId", c->user_id);
    cJSON_AddStringToObject(r->by, "userName", c->user_name);
    char key[CD_PY_KEY_MAX];
    snprintf(key, sizeof(key), "s:%s", s->id);
    struct cd_py_request req = {
        .kind = kind, .key = key, .code = code, .code_len = len, .timeout_ms = timeout};
    static const struct cd_py_callbacks cb = {on_started, on_output, on_input, on_done};
    r->next = runs;
    runs = r;
    int rc = cd_pyexec_submit(c->srv->py, &req, &cb, r, &r->job);
    if (rc) {
        run_free(r);
        cd_conn_send_error(c, rc == CD_ELIMIT ? "python_busy" : "python_unavailable",
                           rc == CD_ELIMIT ? "every Python worker is busy; retry later"
                                           : "server-side Python is down",
                           ref);
        return rc;
    }
    /* the requester learns the run's id at once; the room learns of it when it is queued
     * behind another run, or when it starts */
    cJSON *o = run_msg(r, kind == CD_PY_RESET ? "run_reset_accepted" : "run_accepted");
    if (ref)
        cJSON_AddItemToObject(o, "ref", cJSON_Duplicate(ref, 1));
    cd_conn_send_json(c, o);
    cJSON_Delete(o);
    size_t pos = cd_pyjob_ahead(r->job);
    if (pos) {
        o = run_msg(r, "run_queued");
        cJSON_AddNumberToObject(o, "position", (double)pos);
        cJSON_AddItemToObject(o, "by", cJSON_Duplicate(r->by, 1));
        broadcast(r, o);
    }
    return CD_OK;
}

int cd_run_on_run(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    if (refused(c, msg, ref))
        return CD_EPERM;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(msg, "code");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "timeout");
    long timeout = 0;
    if (code && (!cJSON_IsString(code) || !code->valuestring[0])) {
        cd_conn_send_error(c, "bad_message",
                           "code must be a non-empty string (omit it to run the document)", ref);
        return CD_EINVAL;
    }
    if (t && (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > 86400000.0)) {
        cd_conn_send_error(c, "bad_message", "timeout must be a number of milliseconds", ref);
        return CD_EINVAL;
    }
    if (t)
        timeout = (long)t->valuedouble;
    if (code)
        return submit(c, CD_PY_EXEC, code->valuestring, strlen(code->valuestring), timeout, ref);
    struct cd_buf b;
    cd_buf_init(&b, (size_t)c->srv->cfg.max_body);
    if (document_text(c->room->session, &b)) {
        cd_buf_cleanup(&b);
        cd_conn_send_error(c, "too_large", "the document is too large to run on the server", ref);
        return CD_ETOOBIG;
    }
    int rc = submit(c, CD_PY_EXEC, b.data ? b.data : "", b.len, timeout, ref);
    cd_buf_cleanup(&b);
    return rc;
}

int cd_run_on_reset(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    if (refused(c, msg, ref))
        return CD_EPERM;
    return submit(c, CD_PY_RESET, NULL, 0, 0, ref);
}

int cd_run_on_input(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    struct run *r = find_run(c, msg, ref);
    if (!r)
        return CD_ENOTFOUND;
    if (r->starter != c->seq) {
        cd_conn_send_error(c, "forbidden", "only the participant who started the run answers it",
                           ref);
        return CD_EPERM;
    }
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(msg, "line");
    const cJSON *eof = cJSON_GetObjectItemCaseSensitive(msg, "eof");
    if (!cJSON_IsTrue(eof) &&
        (!cJSON_IsString(line) || strlen(line->valuestring) > CD_RUN_LINE_MAX)) {
        cd_conn_send_error(c, "bad_message", "run_input needs \"line\" (text) or \"eof\": true",
                           ref);
        return CD_EINVAL;
    }
    if (!r->waiting_input ||
        cd_pyjob_input(r->job, cJSON_IsTrue(eof) ? NULL : line->valuestring,
                       cJSON_IsTrue(eof) ? 0 : strlen(line->valuestring), cJSON_IsTrue(eof))) {
        cd_conn_send_error(c, "not_waiting", "the run is not waiting for input", ref);
        return CD_EINVAL;
    }
    r->waiting_input = 0;
    return CD_OK;
}

int cd_run_on_stop(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    if (c->read_only) {
        cd_conn_send_error(c, "read_only", "a view-only participant cannot stop runs", ref);
        return CD_EPERM;
    }
    struct run *r = find_run(c, msg, ref);
    if (!r)
        return CD_ENOTFOUND;
    if (cd_pyjob_queued(r->job)) { /* still queued: it never runs */
        cd_pyjob_detach(r->job);
        r->job = NULL;
        cJSON *o = run_msg(r, "run_done");
        cJSON_AddItemToObject(o, "by", cJSON_Duplicate(r->by, 1));
        cJSON_AddBoolToObject(o, "success", 0);
        cJSON_AddNullToObject(o, "result");
        cJSON_AddStringToObject(o, "error", "the run was cancelled before it started");
        cJSON_AddStringToObject(o, "errorType", "cancelled");
        broadcast(r, o);
        run_free(r);
        return CD_OK;
    }
    return cd_pyjob_interrupt(r->job);
}

void cd_run_session_deleted(struct cd_server *srv, const char *session)
{
    for (struct run *r = runs, *next; r; r = next) {
        next = r->next;
        if (strcmp(r->session, session))
            continue;
        cd_pyjob_detach(r->job); /* no more callbacks */
        run_free(r);
    }
    char key[CD_PY_KEY_MAX];
    snprintf(key, sizeof(key), "s:%s", session);
    cd_pyexec_drop(srv->py, key);
}

void cd_run_shutdown(void)
{
    while (runs) {
        struct run *r = runs;
        cd_pyjob_detach(r->job);
        run_free(r);
    }
}
