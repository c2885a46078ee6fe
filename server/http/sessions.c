/*
 * sessions.c: the /sessions resource (create, list, get, delete).
 * Session ids are UUID v4; anything else in the path is a 404 without touching the store.
 * The list is paginated by an opaque cursor (the creation sequence of the last item).
 */
#include "audit/events.h"
#include "core/clock.h"
#include "core/log.h"
#include "routes.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf16.h"
#include "ws/room.h"
#include "ws/run.h"
#include "ws/ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *languages[] = {"python", "javascript", "typescript",
                                  "json",   "markdown",   "plaintext"};

static cJSON *session_json(const struct cd_session *s, int detailed)
{
    char ts[32];
    cd_iso8601(s->created_ms, ts);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "language", s->language);
    cJSON_AddStringToObject(o, "createdAt", ts);
    cJSON_AddNumberToObject(o, "version", (double)cd_auth_version(s->auth));
    const struct cd_room *room = s->room;
    cJSON_AddNumberToObject(o, "clients", room ? (double)room->nconns : 0);
    if (detailed) {
        cJSON_AddItemToObject(o, "users", cd_room_users_json(room));
        const struct cd_doc *d = cd_auth_doc(s->auth);
        cJSON_AddNumberToObject(o, "size", (double)cd_doc_len(d));
        cJSON_AddNumberToObject(o, "lines", (double)cd_doc_lines(d));
        cJSON *mem = cJSON_AddObjectToObject(o, "memory");
        cJSON_AddNumberToObject(mem, "bytes", (double)cd_auth_mem(s->auth));
        cJSON_AddNumberToObject(mem, "documentBytes", (double)cd_doc_mem(d));
        cJSON_AddNumberToObject(mem, "historyEntries", (double)cd_auth_history_len(s->auth));
        cJSON_AddNumberToObject(mem, "oldestVersion", (double)cd_auth_oldest(s->auth));
    }
    return o;
}

static void session_event(struct cd_http_req *r, const char *event, const char *id)
{
    char ip[64], ua[160];
    cd_http_peer(r, ip, sizeof(ip));
    cd_http_user_agent(r, ua, sizeof(ua));
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "session", id);
    cJSON_AddStringToObject(f, "requestId", r->req_id);
    cd_audit(r->srv->seclog, event, ip, ua, f);
}

static struct cd_session *find(struct cd_http_req *r)
{
    size_t n = strlen(r->param);
    if (!cd_uuid_valid(r->param, n))
        return NULL;
    return r->srv->store->ops->get(r->srv->store, r->param, n);
}

/* An HTTP request waiting for the store. The request may go away first (its connection
 * closed): then r is NULL and only what must happen anyway is done. */
struct cd_http_store_op {
    struct cd_http_req *r;
    struct cd_server *srv;
    char ip[64], ua[160], req_id[20];
};

void cd_http_store_abandon(struct cd_http_req *r)
{
    if (r->store_op)
        r->store_op->r = NULL;
    r->store_op = NULL;
}

/* 503 store_unavailable (retry), 429 too_many_sessions, or another 503. */
static int store_error(struct cd_http_req *r, int err, const char *what)
{
    if (err == CD_ELIMIT)
        return cd_http_error(r, 429, "too_many_sessions",
                             "the server holds its maximum of %ld sessions; delete some first",
                             r->srv->cfg.max_sessions);
    if (err == CD_EUNAVAIL)
        return cd_http_error(r, 503, "store_unavailable",
                             "%s: the session store is unreachable; retry shortly", what);
    if (err == CD_ENOTFOUND)
        return cd_http_error(r, 404, "session_not_found", "no session with this id");
    return cd_http_error(r, 503, "unavailable", "%s: %s", what, cd_strerror(err));
}

static void on_created(void *arg, int err, struct cd_session *s)
{
    struct cd_http_store_op *op = arg;
    struct cd_http_req *r = op->r;
    free(op);
    if (!r)
        return; /* the client left; the session exists (it may still be listed and joined) */
    r->store_op = NULL;
    if (err) {
        store_error(r, err, "could not create a session");
        return;
    }
    r->srv->n.sessions_created++;
    session_event(r, "session_created", s->id);
    cJSON *o = session_json(s, 1);
    cJSON_AddStringToObject(o, "viewToken", s->view_token);
    cJSON *links = cJSON_AddObjectToObject(o, "links");
    char buf[160];
    snprintf(buf, sizeof(buf), "/sessions/%s", s->id);
    cJSON_AddStringToObject(links, "self", buf);
    snprintf(buf, sizeof(buf), "/ws/%s", s->id);
    cJSON_AddStringToObject(links, "ws", buf);
    snprintf(buf, sizeof(buf), "/ws/%s?view=%s", s->id, s->view_token);
    cJSON_AddStringToObject(links, "wsReadOnly", buf);
    snprintf(buf, sizeof(buf), "/s/%s", s->id);
    cJSON_AddStringToObject(links, "editor", buf);
    cd_logf(CD_LOG_INFO, r->req_id, "session created %s (%s)", s->id, s->language);
    char loc[128];
    snprintf(loc, sizeof(loc), "location: /sessions/%s\r\n", s->id);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (json)
        cd_http_send(r, 201, "application/json", loc, json, strlen(json));
    else
        cd_http_error(r, 503, "unavailable", "out of memory");
    free(json);
}

int cd_sessions_create(struct cd_http_req *r)
{
    const char *language = "python";
    cJSON *body = NULL;
    const cJSON *content = NULL;
    uint16_t *text = NULL;
    size_t text_len = 0;
    int rc;
    if (r->body.len) {
        /* lone surrogates in "content" are legal JavaScript text: keep them */
        size_t len = r->body.len;
        if (cd_json_wtf8_prepass(r->body.data, &len)) {
            rc = cd_http_error(r, 400, "bad_json", "the body is not valid JSON");
            goto out;
        }
        body = cJSON_ParseWithLength(r->body.data, len);
        if (!body) {
            rc = cd_http_error(r, 400, "bad_json", "the body is not valid JSON");
            goto out;
        }
        if (!cJSON_IsObject(body)) {
            rc = cd_http_error(r, 400, "bad_request", "the body must be a JSON object");
            goto out;
        }
        const cJSON *lang = cJSON_GetObjectItemCaseSensitive(body, "language");
        if (lang && !cJSON_IsNull(lang)) {
            if (!cJSON_IsString(lang)) {
                rc = cd_http_error(r, 400, "invalid_field", "\"language\" must be a string");
                goto out;
            }
            language = NULL;
            for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++)
                if (!strcmp(lang->valuestring, languages[i]))
                    language = languages[i];
            if (!language) {
                rc = cd_http_error(r, 400, "invalid_field",
                                   "\"language\" must be one of python, javascript, typescript, "
                                   "json, markdown, plaintext");
                goto out;
            }
        }
        content = cJSON_GetObjectItemCaseSensitive(body, "content");
        if (content && !cJSON_IsNull(content) && !cJSON_IsString(content)) {
            rc = cd_http_error(r, 400, "invalid_field", "\"content\" must be a string");
            goto out;
        }
        if (content && cJSON_IsString(content)) {
            const char *t = content->valuestring;
            if (cd_utf16_from_wtf8(t, strlen(t), &text, &text_len)) {
                rc = cd_http_error(r, 400, "invalid_field", "\"content\" is not valid text");
                goto out;
            }
            if (text_len > (size_t)r->srv->cfg.max_doc) {
                rc = cd_http_error(r, 413, "doc_too_large",
                                   "\"content\" has %zu UTF-16 units, over the limit of %ld",
                                   text_len, r->srv->cfg.max_doc);
                goto out;
            }
        }
    }
    struct cd_http_store_op *op = calloc(1, sizeof(*op));
    if (!op) {
        rc = cd_http_error(r, 503, "unavailable", "out of memory");
        goto out;
    }
    op->r = r;
    op->srv = r->srv;
    r->store_op = op;
    int err = cd_store_create(r->srv->store, language, text, text_len, on_created, op);
    if (err) { /* on_created is not called */
        r->store_op = NULL;
        free(op);
        rc = store_error(r, err, "could not create a session");
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(body);
    free(text);
    return rc;
}

int cd_sessions_list(struct cd_http_req *r)
{
    char buf[64];
    long limit = 20;
    uint64_t after = 0;
    const char *v = cd_http_arg(r, "limit=", buf, sizeof(buf));
    if (v) {
        char *end = NULL;
        limit = strtol(v, &end, 10);
        if (!*v || *end || limit < 1 || limit > 100)
            return cd_http_error(r, 400, "invalid_query", "limit must be an integer from 1 to 100");
    }
    v = cd_http_arg(r, "cursor=", buf, sizeof(buf));
    if (v) {
        char *end = NULL;
        unsigned long long c = strtoull(v, &end, 16);
        if (!*v || *end || v[0] == '-' || strlen(v) > 16)
            return cd_http_error(r, 400, "invalid_query", "cursor is not one this server gave");
        after = c;
    }
    struct cd_session *page[100];
    int more = 0;
    size_t n = r->srv->store->ops->list(r->srv->store, after, page, (size_t)limit, &more);
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "sessions");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, session_json(page[i], 0));
    if (more && n) {
        snprintf(buf, sizeof(buf), "%llx", (unsigned long long)page[n - 1]->seq);
        cJSON_AddStringToObject(o, "nextCursor", buf);
    } else {
        cJSON_AddNullToObject(o, "nextCursor");
    }
    cJSON_AddNumberToObject(o, "total", (double)r->srv->store->ops->count(r->srv->store));
    return cd_http_json(r, 200, o);
}

int cd_sessions_get(struct cd_http_req *r)
{
    struct cd_session *s = find(r);
    if (!s)
        return cd_http_error(r, 404, "session_not_found", "no session with this id");
    return cd_http_json(r, 200, session_json(s, 1));
}

static void on_removed(void *arg, int err, struct cd_session *s)
{
    struct cd_http_store_op *op = arg;
    struct cd_http_req *r = op->r;
    if (r)
        r->store_op = NULL;
    if (!err) {
        size_t clients = s->room ? ((struct cd_room *)s->room)->nconns : 0;
        cd_room_session_deleted(s);
        cd_run_session_deleted(op->srv, s->id); /* its runs end, its Python context goes */
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "session", s->id);
        cJSON_AddStringToObject(f, "requestId", op->req_id);
        cd_audit(op->srv->seclog, "session_deleted", op->ip, op->ua, f);
        op->srv->n.sessions_deleted++;
        cd_logf(CD_LOG_INFO, op->req_id, "session deleted %s (%zu clients told)", s->id, clients);
    }
    free(op);
    if (!r)
        return;
    if (err)
        store_error(r, err, "could not delete the session");
    else
        cd_http_send(r, 204, NULL, NULL, NULL, 0);
}

int cd_sessions_delete(struct cd_http_req *r)
{
    struct cd_session *s = find(r);
    if (!s)
        return cd_http_error(r, 404, "session_not_found", "no session with this id");
    struct cd_http_store_op *op = calloc(1, sizeof(*op));
    if (!op)
        return cd_http_error(r, 503, "unavailable", "out of memory");
    op->r = r;
    op->srv = r->srv;
    cd_http_peer(r, op->ip, sizeof(op->ip));
    cd_http_user_agent(r, op->ua, sizeof(op->ua));
    snprintf(op->req_id, sizeof(op->req_id), "%s", r->req_id);
    r->store_op = op;
    int err = cd_store_remove(r->srv->store, s->id, 36, on_removed, op);
    if (err) { /* on_removed is not called */
        r->store_op = NULL;
        free(op);
        return store_error(r, err, "could not delete the session");
    }
    return 0;
}

int cd_sessions_document(struct cd_http_req *r)
{
    struct cd_session *s = find(r);
    if (!s)
        return cd_http_error(r, 404, "session_not_found", "no session with this id");
    const struct cd_doc *d = cd_auth_doc(s->auth);
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 32);
    /* Rope chunks may split a surrogate pair, so convert the whole text at once (only truly
     * lone surrogates become U+FFFD). */
    uint16_t *u = NULL;
    size_t n = 0;
    int rc = cd_doc_slice(d, 0, cd_doc_len(d), &u, &n);
    if (!rc)
        rc = cd_utf16_utf8_append(&b, u, n);
    free(u);
    if (rc) {
        cd_buf_cleanup(&b);
        return cd_http_error(r, 503, "unavailable", "out of memory");
    }
    char h[96];
    snprintf(h, sizeof(h), "x-collabd-version: %llu\r\n",
             (unsigned long long)cd_auth_version(s->auth));
    rc = cd_http_send(r, 200, "text/plain; charset=utf-8", h, b.data ? b.data : "", b.len);
    cd_buf_cleanup(&b);
    return rc;
}
