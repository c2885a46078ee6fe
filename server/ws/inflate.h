/*
 * inflate.h: a workaround for libwebsockets 4.1.6 on a libuv loop. When a permessage-deflate
 * message inflates to more than one buffer (1 KiB), lws needs "forced service" to deliver the
 * rest, but its libuv glue stops its idle handle after a single forced pass, so the message
 * stalls until unrelated network traffic arrives (seen: a 20 KB message waited ~1 s, or
 * forever on a quiet connection). We keep our own uv_idle running while such a connection
 * exists and lws says service is pending, and service those sockets ourselves through the
 * public lws_service_fd(). Event-loop thread only.
 */
#ifndef CD_WS_INFLATE_H
#define CD_WS_INFLATE_H

#include "ws/room.h"

/* Create the idle handle on the server's loop. Returns 0 or CD_ENOMEM. */
int cd_inflate_init(struct cd_server *srv);
/* Close the idle handle (before the loop is run down). */
void cd_inflate_cleanup(void);
/* Note after each received chunk whether c stopped mid-message with nothing left in the frame. */
void cd_inflate_note(struct cd_conn *c, int mid_message);
/* Forget c (it is closing). */
void cd_inflate_forget(struct cd_conn *c);

#endif
