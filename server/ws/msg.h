/*
 * msg.h: an outgoing WebSocket message, serialised once and shared by every recipient.
 * The bytes sit after LWS_PRE bytes of headroom so lws_write() can frame them in place.
 * Reference-counted: the creator holds one reference; each send queue holding the message
 * holds one more. Event-loop thread only.
 */
#ifndef CD_WS_MSG_H
#define CD_WS_MSG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct cd_buf;

struct cd_msg {
    unsigned refs;
    uint64_t presence_of; /* a cursor of this connection (its seq), or 0: see cd_conn_send */
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len + 1 bytes; payload at buf + LWS_PRE */
};

/* New message with a copy of data[0..len); one reference, owned by the caller. */
struct cd_msg *cd_msg_new(const char *data, size_t len);
/* A message built in place, for large ones (a sync of a big document): cd_msg_buf_init()
 * starts b (cap as cd_buf_init) with room for the message header and headroom, and reserves
 * expect more bytes; append the payload; cd_msg_take_buf() turns b's storage into the message
 * without copying it (b is empty afterwards; NULL on ENOMEM, and b is cleaned up). */
int cd_msg_buf_init(struct cd_buf *b, size_t cap, size_t expect);
struct cd_msg *cd_msg_take_buf(struct cd_buf *b);
/* Serialise o (not consumed) into a new message. NULL on ENOMEM. */
struct cd_msg *cd_msg_from_json(const cJSON *o);
/* Payload pointer (after the headroom). */
unsigned char *cd_msg_payload(struct cd_msg *m);
struct cd_msg *cd_msg_ref(struct cd_msg *m);
/* Drop one reference; frees on the last. NULL is a no-op. */
void cd_msg_unref(struct cd_msg *m);

#endif
