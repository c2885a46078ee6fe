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
/* Tell every client of the session (about to be removed) and close them with 4000. */
void cd_ws_session_deleted(struct cd_server *srv, const char *id);
/* Tell every client the server is going away and close them with 1001. */
void cd_ws_shutdown(struct cd_server *srv);
/* Clients connected to a session on this instance. */
size_t cd_ws_session_clients(struct cd_server *srv, const char *id);

#endif
