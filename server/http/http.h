/*
 * http.h: the HTTP side of collabd as seen by main.c: the lws protocol that answers every
 * HTTP request (REST, static files, docs) and the WebSocket upgrade check. Event-loop thread.
 */
#ifndef CD_HTTP_HTTP_H
#define CD_HTTP_HTTP_H

#include "core/server.h"

struct lws_protocols;
struct lws_protocol_vhost_options;

/* Fill *p with the "http" protocol. */
void cd_http_protocol(struct lws_protocols *p, struct cd_server *srv);
/* The headers lws adds to every response (security headers, COOP/COEP); static storage. */
const struct lws_protocol_vhost_options *cd_http_vhost_headers(void);

#endif
