/*
 * inflate.h: a workaround for libwebsockets 4.1.6 on a libuv loop. When a permessage-deflate
 * message inflates to more than one buffer (1 KiB), lws needs "forced service" to deliver the
 * rest, but its libuv glue stops its idle handle after a single forced pass, so the message
 * stalls until unrelated network traffic arrives (seen: a 20 KB message waited ~1 s, or
 * forever on a quiet connection). The same happens to plain frames left over in lws's
 * buffer after a read (seen: one client's pings read at ~2,300/s instead of at line rate).
 * Every connection that just received data is noted; while lws says forced service is
 * pending, our own uv_idle services those sockets through the public lws_service_fd().
 * Event-loop thread only.
 */
#ifndef CD_WS_INFLATE_H
#define CD_WS_INFLATE_H

#include "ws/room.h"

/* Create the idle handle on the server's loop. Returns 0 or CD_ENOMEM. */
int cd_inflate_init(struct cd_server *srv);
/* Close the idle handle (before the loop is run down). */
void cd_inflate_cleanup(void);
/* Note that c just received data (lws may hold more of it than it delivered). */
void cd_inflate_note(struct cd_conn *c);
/* Forget c (it is closing). */
void cd_inflate_forget(struct cd_conn *c);

#endif
