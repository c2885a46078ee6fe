/*
 * ws.h: the WebSocket side of collabd, as seen by main.c and http/.
 * The protocol struct is registered with lws; the upgrade check runs in the HTTP callback
 * (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE) so that a refused upgrade gets a real HTTP status
 * and a JSON body instead of a dropped socket. Event-loop thread only.
 */
#ifndef CD_WS_WS_H
#define CD_WS_WS_H

#include "core/server.h"

#include <stddef.h>

struct lws;
struct lws_protocols;

#define CD_WS_PROTOCOL_NAME "collabd"

/* Fill *p with the collabd WebSocket protocol (callback, per-connection size, buffers). */
void cd_ws_protocol(struct lws_protocols *p, struct cd_server *srv);

struct cd_ws_refusal {
    int status;        /* HTTP status to answer */
    const char *code;  /* machine code for the JSON error body */
    char message[160]; /* human sentence */
};

/* Decide whether the upgrade on wsi may proceed: 0 if yes, else CD_E* with *why filled. */
int cd_ws_check_upgrade(struct cd_server *srv, struct lws *wsi, struct cd_ws_refusal *why);
/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 to let the upgrade proceed; otherwise the refusal
 * (status + JSON error) has been written and the callback's return value is returned. */
int cd_ws_confirm_upgrade(struct cd_server *srv, struct lws *wsi, const void *in);
/* Write a complete small JSON response now, from inside an lws callback (the upgrade refusal,
 * where lws expects the answer before the callback returns). Returns 0 or -1. */
int cd_ws_http_answer(struct lws *wsi, int status, const char *extra_headers, const char *json);
/* Tell every client of the session (about to be removed) and close them with 4000. */
void cd_ws_session_deleted(struct cd_server *srv, const char *id);
/* Tell every client the server is going away and close them with 1001. */
void cd_ws_shutdown(struct cd_server *srv);
/* The client's address of an HTTP request or upgrade on wsi: the peer, or what X-Forwarded-For
 * says when the peer is a trusted proxy (cfg.trusted_proxies; core/clientip.h). */
void cd_ws_client_ip(struct cd_server *srv, struct lws *wsi, char *out, size_t size);
/* Clients connected to a session on this instance. */
size_t cd_ws_session_clients(struct cd_server *srv, const char *id);

#endif
