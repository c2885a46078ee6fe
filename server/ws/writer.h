/*
 * writer.h: puts each connection's queued messages on the wire (room.h owns the queues).
 * Small messages leave as WebSocket frames that collabd builds itself, several per send():
 * a connection with N queued updates costs one system call, not N, and a broadcast to a room
 * of 1,000 costs 1,000 sends and no epoll_ctl. Queued output is flushed at the end of the loop
 * iteration that queued it (libuv prepare + check handles), straight from there while the
 * socket takes it, so the common case never waits for POLLOUT; what the socket refuses waits
 * for lws's writable callback. Large messages (a big sync) and close frames are written only
 * from the writable callback, through lws_write(), so permessage-deflate can compress them.
 * Event-loop thread only.
 */
#ifndef CD_WS_WRITER_H
#define CD_WS_WRITER_H

#include "ws/room.h"

/* Messages up to this size are framed by collabd and batched; larger ones go through lws. */
#define CD_WRITER_FRAME_MAX (16 * 1024)
/* Bytes of frames put into one send(). */
#define CD_WRITER_BATCH (64 * 1024)

/* Create the loop handles. Returns 0 or CD_ENOMEM. */
int cd_writer_init(struct cd_server *srv);
/* Close the loop handles (before the loop is run down). */
void cd_writer_cleanup(void);
/* c has output (queued messages or a close to send): flush it at the end of this iteration. */
void cd_writer_kick(struct cd_conn *c);
/* Forget c (it is closing). */
void cd_writer_forget(struct cd_conn *c);
/* LWS_CALLBACK_SERVER_WRITEABLE: write what c has queued, then its close frame once the queue
 * is empty. Returns -1 when the connection must close now. */
int cd_writer_on_writable(struct cd_conn *c);

#endif
