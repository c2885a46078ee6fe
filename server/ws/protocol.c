/*
 * protocol.c: the lws callback of the "collabd" WebSocket protocol and the upgrade check.
 * Owns the life cycle of a connection: ESTABLISHED (join, sync to the joiner, user_joined to
 * the others), RECEIVE (reassembly under the message cap, then handlers.c), WRITEABLE
 * (room.c drains the queue), CLOSED (user_left, leave). lws drops the request headers after
 * ESTABLISHED, so everything needed later is copied into struct cd_conn there.
 */
#include "ws.h"
#include "core/clock.h"
#include "audit/events.h"
#include "audit/stats.h"
#include "core/clientip.h"
#include "core/log.h"
#include "core/origin.h"
#include "collab.h"
#include "handlers.h"
#include "inflate.h"
#include "room.h"
#include "writer.h"
#include "util/error.h"
#include "util/text.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uint64_t conn_seq;

/* Copy the request path; returns its length or -1. */
static int copy_path(struct lws *wsi, char *out, int size)
{
    int n = lws_hdr_copy(wsi, out, size, WSI_TOKEN_GET_URI);
    return n < 0 ? -1 : n;
}

/* The session id of a /ws/{id} path, or NULL. */
static const char *path_session(const char *path, int n, size_t *idlen)
{
    if (n < 4 || strncmp(path, "/ws/", 4) != 0)
        return NULL;
    const char *id = path + 4;
    size_t k = (size_t)n - 4;
    while (k && id[k - 1] == '/')
        k--;
    *idlen = k;
    return id;
}

static void refuse(struct cd_ws_refusal *why, int status, const char *code, const char *msg)
{
    why->status = status;
    why->code = code;
    snprintf(why->message, sizeof(why->message), "%s", msg);
}

int cd_ws_check_upgrade(struct cd_server *srv, struct lws *wsi, struct cd_ws_refusal *why)
{
    char path[256], buf[512], host[256];
    int n = copy_path(wsi, path, sizeof(path));
    size_t idlen = 0;
    const char *id = n > 0 ? path_session(path, n, &idlen) : NULL;
    if (!id) {
        refuse(why, 404, "not_found", "WebSocket endpoint is /ws/{sessionId}");
        return CD_ENOTFOUND;
    }
    if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_VERSION) <= 0 || strcmp(buf, "13") != 0) {
        refuse(why, 426, "unsupported_version", "only WebSocket version 13 is supported");
        return CD_EINVAL;
    }
    if (srv->draining) {
        refuse(why, 503, "shutting_down", "server is shutting down; reconnect shortly");
        return CD_ESHUTDOWN;
    }
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) < 0)
        host[0] = '\0';
    if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_ORIGIN) < 0)
        buf[0] = '\0';
    if (!cd_origin_allowed(buf, host, srv->cfg.cors_origins)) {
        refuse(why, 403, "origin_not_allowed", "this Origin may not open a WebSocket here");
        return CD_EPERM;
    }
    if (!cd_uuid_valid(id, idlen)) {
        refuse(why, 404, "session_not_found", "no session with this id");
        return CD_ENOTFOUND;
    }
    struct cd_session *s = srv->store->ops->get(srv->store, id, idlen);
    if (!s) {
        refuse(why, 404, "session_not_found", "no session with this id");
        return CD_ENOTFOUND;
    }
    const char *v = lws_get_urlarg_by_name(wsi, "userId=", buf, sizeof(buf));
    if (v && !cd_token_valid(v, strlen(v), CD_USER_ID_MAX)) {
        refuse(why, 400, "invalid_user_id", "userId must be 1-64 characters of [A-Za-z0-9_.-]");
        return CD_EINVAL;
    }
    v = lws_get_urlarg_by_name(wsi, "userName=", buf, sizeof(buf));
    if (v && !cd_utf8_valid(v, strlen(v))) {
        refuse(why, 400, "invalid_user_name", "userName must be UTF-8");
        return CD_EINVAL;
    }
    v = lws_get_urlarg_by_name(wsi, "view=", buf, sizeof(buf));
    if (v && strcmp(v, s->view_token) != 0) {
        refuse(why, 403, "invalid_view_token", "the view token does not match this session");
        return CD_EPERM;
    }
    struct cd_room *r = s->room;
    if (r && r->nconns >= (size_t)srv->cfg.max_clients_per_room) {
        refuse(why, 429, "room_full", "this session has reached its client limit");
        return CD_ELIMIT;
    }
    return CD_OK;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

int cd_ws_http_answer(struct lws *wsi, int status, const char *extra_headers, const char *json)
{
    unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    char num[32];
    size_t blen = strlen(json);
    snprintf(num, sizeof(num), "%zu", blen);
    if (lws_add_http_header_status(wsi, (unsigned)status, &p, end) ||
        add_header(wsi, "content-type:", "application/json", &p, end) ||
        add_header(wsi, "content-length:", num, &p, end) ||
        add_header(wsi, "cache-control:", "no-store", &p, end))
        return -1;
    size_t extra = extra_headers ? strlen(extra_headers) : 0;
    if ((size_t)(end - p) < extra + blen + 8)
        return -1;
    if (extra) {
        memcpy(p, extra_headers, extra);
        p += extra;
    }
    if (lws_finalize_http_header(wsi, &p, end))
        return -1;
    memcpy(p, json, blen);
    p += blen;
    return lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 0;
}

void cd_ws_client_ip(struct cd_server *srv, struct lws *wsi, char *out, size_t size)
{
    char peer[64] = "", xff[1024];
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    int n = lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR);
    cd_client_ip(peer[0] ? peer : "unknown", n > 0 ? xff : NULL, n > 0 ? (size_t)n : 0,
                 srv->cfg.trusted_proxies, out, size);
}

int cd_ws_confirm_upgrade(struct cd_server *srv, struct lws *wsi, const void *in)
{
    struct cd_ws_refusal why;
    if (!in || strcmp((const char *)in, "websocket") != 0) {
        cd_ws_http_answer(wsi, 400, NULL,
                          "{\"error\":{\"code\":\"bad_upgrade\",\"message\":\"only WebSocket "
                          "upgrades are supported\"}}");
        return 1;
    }
    if (!cd_ws_check_upgrade(srv, wsi, &why))
        return 0;
    srv->n.ws_rejected++;
    srv->n.http_errors++;
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", why.code);
    cJSON_AddStringToObject(e, "message", why.message);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    cd_logf(CD_LOG_INFO, NULL, "ws upgrade refused: %d %s", why.status, why.code);
    char ip[48] = "", ua[160] = "", path[256] = "";
    cd_ws_client_ip(srv, wsi, ip, sizeof(ip));
    if (lws_hdr_copy(wsi, ua, sizeof(ua), WSI_TOKEN_HTTP_USER_AGENT) < 0)
        ua[0] = '\0';
    if (copy_path(wsi, path, sizeof(path)) < 0)
        path[0] = '\0';
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "status", why.status);
    cJSON_AddStringToObject(ev, "reason", why.code);
    cJSON_AddStringToObject(ev, "path", path);
    cd_audit(srv->seclog, "ws_refused", ip, ua, ev);
    int rc = s ? cd_ws_http_answer(wsi, why.status,
                                   why.status == 426 ? "sec-websocket-version: 13\r\n" : NULL, s)
               : -1;
    free(s);
    return rc < 0 ? -1 : 1;
}

static int close_now(struct lws *wsi, int code, const char *reason)
{
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    return -1;
}

static int on_established(struct cd_server *srv, struct cd_conn *c, struct lws *wsi)
{
    char path[256], buf[512];
    int n = copy_path(wsi, path, sizeof(path));
    size_t idlen = 0;
    const char *id = n > 0 ? path_session(path, n, &idlen) : NULL;
    struct cd_session *s = id ? srv->store->ops->get(srv->store, id, idlen) : NULL;
    if (!s)
        return close_now(wsi, CD_CLOSE_SESSION_DELETED, "session not found");

    c->wsi = wsi;
    c->srv = srv;
    cd_buf_init(&c->rx, (size_t)srv->cfg.max_message);
    c->seq = ++conn_seq;
    snprintf(c->conn_id, sizeof(c->conn_id), "c%llx", (unsigned long long)c->seq);
    cd_ws_client_ip(srv, wsi, c->ip, sizeof(c->ip));
    if (lws_hdr_copy(wsi, c->ua, sizeof(c->ua), WSI_TOKEN_HTTP_USER_AGENT) < 0)
        c->ua[0] = '\0';

    const char *v = lws_get_urlarg_by_name(wsi, "userId=", buf, sizeof(buf));
    if (v && cd_token_valid(v, strlen(v), CD_USER_ID_MAX))
        snprintf(c->user_id, sizeof(c->user_id), "%s", v);
    else
        snprintf(c->user_id, sizeof(c->user_id), "anon-%s", c->conn_id + 1);
    v = lws_get_urlarg_by_name(wsi, "userName=", buf, sizeof(buf));
    if (!v || !cd_sanitize_name(v, strlen(v), (size_t)srv->cfg.name_max, c->user_name,
                                sizeof(c->user_name)))
        snprintf(c->user_name, sizeof(c->user_name), "Anonymous");
    v = lws_get_urlarg_by_name(wsi, "view=", buf, sizeof(buf));
    c->read_only = v && !strcmp(v, s->view_token);

    if (cd_room_join(srv, s, c))
        return close_now(wsi, CD_CLOSE_PROTOCOL, "room is full");
    srv->n.ws_opened++;
    srv->n.ws_current++;

    int64_t from = -1;
    v = lws_get_urlarg_by_name(wsi, "version=", buf, sizeof(buf));
    if (v && *v) {
        char *end = NULL;
        unsigned long long x = strtoull(v, &end, 10);
        if (!*end && v[0] != '-')
            from = (int64_t)(x > INT64_MAX ? -1 : (long long)x);
    }
    c->joined = 1; /* the joiner is one of the users its sync lists */
    if (cd_collab_send_sync(c, s, from))
        return close_now(wsi, CD_CLOSE_GOING_AWAY, "out of memory");

    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "user_joined");
    cJSON_AddItemToObject(j, "user", cd_conn_user_json(c));
    struct cd_msg *m = cd_msg_from_json(j);
    cJSON_Delete(j);
    if (m)
        cd_room_broadcast(c->room, m, c);
    cd_msg_unref(m);

    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "session", s->id);
    cJSON_AddStringToObject(f, "conn", c->conn_id);
    cJSON_AddStringToObject(f, "user", c->user_id);
    cJSON_AddStringToObject(f, "ip", c->ip);
    cJSON_AddBoolToObject(f, "readOnly", c->read_only);
    cJSON *ev = cJSON_Duplicate(f, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(ev, "ip");
    cd_log_fields(CD_LOG_INFO, NULL, "ws join", f);
    cd_audit(srv->seclog, "ws_join", c->ip, c->ua, ev);
    return 0;
}

/* Refuse the message being received: drop the rest of it and close with code once what is
 * queued has gone. Returning -1 from RECEIVE is ignored by lws 4.1.6 on the
 * permessage-deflate path (it keeps delivering inflated chunks), so we close ourselves. */
static int refuse_message(struct cd_conn *c, int code, const char *reason)
{
    if (!c->rx_discard)
        cd_logf(CD_LOG_WARN, NULL, "closing %s (%s): %s", c->conn_id, c->ip, reason);
    c->rx_discard = 1;
    cd_buf_cleanup(&c->rx);
    cd_buf_init(&c->rx, (size_t)c->srv->cfg.max_message);
    cd_conn_close_after_flush(c, code, reason);
    return 0;
}

static int on_receive(struct cd_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (!c->srv)
        return -1;
    if (c->rx_discard || c->close_code)
        return 0; /* closing: the rest of what the client sends is dropped */
    if (lws_frame_is_binary(wsi))
        return refuse_message(c, CD_CLOSE_UNSUPPORTED, "binary messages are not supported");
    if (lws_is_first_fragment(wsi))
        cd_buf_reset(&c->rx);
    /* A frame that announces more than the cap is refused as it starts, not after. */
    size_t remaining = lws_remaining_packet_payload(wsi);
    if (remaining > (size_t)c->srv->cfg.max_message ||
        cd_buf_append(&c->rx, in, len) == CD_ETOOBIG ||
        c->rx.len + remaining > (size_t)c->srv->cfg.max_message)
        return refuse_message(c, CD_CLOSE_TOO_BIG, "message too big");
    cd_inflate_note(c);
    if (!lws_is_final_fragment(wsi) || remaining)
        return 0;
    c->srv->n.ws_msgs_in++;
    cd_stats_ws_message(c->srv->stats, uv_now(c->srv->loop)); /* the loop's cached time */
    cd_ws_handle_message(c, c->rx.data, c->rx.len);
    cd_buf_reset(&c->rx);
    return 0;
}

static void on_closed(struct cd_conn *c)
{
    if (!c->srv)
        return; /* never established */
    struct cd_room *r = c->room;
    if (c->joined && r) {
        c->joined = 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "user_left");
        cJSON_AddStringToObject(o, "connId", c->conn_id);
        cJSON_AddStringToObject(o, "userId", c->user_id);
        struct cd_msg *m = cd_msg_from_json(o);
        cJSON_Delete(o);
        if (m)
            cd_room_broadcast(r, m, c);
        cd_msg_unref(m);
    }
    if (c->room)
        c->srv->n.ws_current--;
    cd_inflate_forget(c);
    cd_writer_forget(c);
    cd_logf(CD_LOG_INFO, NULL, "ws close %s", c->conn_id);
    cd_room_leave(c);
    c->srv = NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct cd_conn *c = user;
    struct cd_server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* lws asks the vhost's default protocol (this one), not "http" */
        return cd_ws_confirm_upgrade(srv, wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(srv, c, wsi);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* lws answers the close from its POLLOUT handler; anything we wrote after it would break
         * the closing handshake, and lws 4.1.6 on libuv may drop the POLLOUT request it makes
         * here, so drop our queue and ask again from outside the callback (writer.c). */
        if (c->srv)
            cd_conn_peer_closed(c);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c->srv ? cd_writer_on_writable(c) : -1;
    case LWS_CALLBACK_CLOSED:
        on_closed(c);
        return 0;
    default:
        return 0;
    }
}

void cd_ws_protocol(struct lws_protocols *p, struct cd_server *srv)
{
    memset(p, 0, sizeof(*p));
    p->name = CD_WS_PROTOCOL_NAME;
    p->callback = callback;
    p->per_session_data_size = sizeof(struct cd_conn);
    p->rx_buffer_size = 1024;
    p->tx_packet_size = 256 * 1024;
    p->user = srv;
}

void cd_ws_session_deleted(struct cd_server *srv, const char *id)
{
    struct cd_session *s = srv->store->ops->get(srv->store, id, strlen(id));
    if (s)
        cd_room_session_deleted(s);
}

void cd_ws_shutdown(struct cd_server *srv)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "server_shutdown");
    cJSON_AddStringToObject(o, "message", "server is shutting down; reconnect shortly");
    struct cd_msg *m = cd_msg_from_json(o);
    cJSON_Delete(o);
    for (struct cd_conn *c = srv->rooms->all; c; c = c->all_next) {
        if (m)
            cd_conn_send(c, m);
        cd_conn_close_after_flush(c, CD_CLOSE_GOING_AWAY, "server shutting down");
    }
    cd_msg_unref(m);
}

size_t cd_ws_session_clients(struct cd_server *srv, const char *id)
{
    struct cd_session *s = srv->store->ops->get(srv->store, id, strlen(id));
    return s && s->room ? ((struct cd_room *)s->room)->nconns : 0;
}
