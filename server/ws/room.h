/*
 * room.h: live rooms and WebSocket connections on this instance.
 * A room exists while at least one client is connected to its session; it hangs off the
 * session record (cd_session.room) and is freed when the last client leaves or the session
 * is deleted. A connection (struct cd_conn) is the lws per-session data of a WebSocket: lws
 * allocates and zeroes it, room.c fills and empties it. Each connection has a send queue of
 * shared messages bounded by cfg.send_queue_max bytes; a client whose queue would pass that
 * is dropped (close 4002) so a slow reader can never grow the server's memory.
 * Event-loop thread only.
 */
#ifndef CD_WS_ROOM_H
#define CD_WS_ROOM_H

#include "core/server.h"
#include "store/store.h"
#include "util/buf.h"
#include "ws/msg.h"

#include <stdint.h>

struct lws;

/* WebSocket close codes collabd sends (documented in protocol/README.md). */
#define CD_CLOSE_NORMAL          1000
#define CD_CLOSE_GOING_AWAY      1001 /* server shutting down: reconnect later */
#define CD_CLOSE_UNSUPPORTED     1003
#define CD_CLOSE_INVALID_UTF8    1007
#define CD_CLOSE_TOO_BIG         1009
#define CD_CLOSE_SESSION_DELETED 4000
#define CD_CLOSE_SLOW_CONSUMER   4002
#define CD_CLOSE_RATE_LIMITED    4003
#define CD_CLOSE_PROTOCOL        4004

#define CD_USER_ID_MAX     64
#define CD_USER_NAME_BYTES 256

#define CD_CURSOR_RANGES_MAX 32

struct cd_range {
    size_t anchor, head;
};

struct cd_room;

struct cd_conn {
    struct lws *wsi;
    struct cd_server *srv;
    struct cd_room *room;
    struct cd_conn *prev, *next;         /* in the room */
    struct cd_conn *all_prev, *all_next; /* in every connection of the server */
    uint64_t seq;                        /* unique on this server (conn_id is "c" and it in hex) */
    char conn_id[16];
    char user_id[CD_USER_ID_MAX + 1];
    char user_name[CD_USER_NAME_BYTES];
    char color[8];
    char ip[48];
    char ua[160]; /* user agent, copied at the upgrade (for the security log) */
    int read_only;
    int joined; /* fully set up (sync queued) */
    /* send queue: ring of shared messages */
    struct cd_msg **q;
    size_t qhead, qlen, qalloc, qbytes;
    /* receive: fragments of the message being reassembled (capped at max_message) */
    struct cd_buf rx;
    int rx_discard;  /* message over the cap: drop its remaining fragments */
    int rx_noted;    /* in inflate.c's list of connections to service again */
    int write_noted; /* in writer.c's list of connections with output to flush */
    /* the last message written through lws_write() (a reference): permessage-deflate keeps
     * compressing from its payload in later writable events, so it lives until lws calls our
     * writable callback again (writer.c) */
    struct cd_msg *tx_held;
    int write_failed; /* a write outside lws callbacks failed: lws is closing the connection */
    int peer_closed;  /* the client sent a close frame: lws answers it; we write nothing more */
    /* close after the queue drains */
    int close_code;
    char close_reason[96];
    int close_sent;   /* our close frame is written */
    int close_linger; /* and the write side shut: waiting for the client to hang up */
    uint64_t errors;  /* protocol errors so far */
    /* presence: the last cursor, kept at the room's current version */
    struct cd_range cursor[CD_CURSOR_RANGES_MAX];
    size_t ncursor, cursor_main;
    /* rate limit: token bucket */
    double tokens;
    uint64_t tokens_us;
    uint64_t limited;          /* messages dropped in the current window */
    uint64_t limited_since_us; /* start of that five-second window */
    uint64_t limited_told_ms;
};

struct cd_room {
    struct cd_session *session;
    struct cd_conn *head;
    size_t nconns;
    unsigned next_color;
};

/* Connections of the whole server (for shutdown and counts). */
struct cd_rooms {
    struct cd_conn *all;
    size_t n;
};

/* Add c to the room of session s (creating the room). CD_ELIMIT if the room is full. */
int cd_room_join(struct cd_server *srv, struct cd_session *s, struct cd_conn *c);
/* Remove c from its room (freeing an empty room) and drop its queue. Safe to call twice. */
void cd_room_leave(struct cd_conn *c);
/* Queue m for c (takes a new reference). Drops c (close 4002) if its queue would pass the cap.
 * Presence is coalesced: a cursor (m->presence_of set) replaces the same participant's cursor
 * still waiting in c's queue, and takes its place at the tail, so a reader that fell behind
 * gets each participant's latest cursor once instead of every step of it.
 * Returns 0 or CD_ELIMIT (c is being dropped) or CD_ENOMEM. */
int cd_conn_send(struct cd_conn *c, struct cd_msg *m);
/* Serialise o once and queue it for c. */
int cd_conn_send_json(struct cd_conn *c, const cJSON *o);
/* Queue {type:"error", code, message, ref?} for c. */
void cd_conn_send_error(struct cd_conn *c, const char *code, const char *message, const cJSON *ref);
/* Queue m for every joined connection of room r except skip (may be NULL). */
void cd_room_broadcast(struct cd_room *r, struct cd_msg *m, const struct cd_conn *skip);
/* The message at the head of c's queue (c->q[c->qhead], qlen > 0) is on the wire: drop it
 * from the queue and count it (writer.c). */
void cd_conn_pop_written(struct cd_conn *c);
/* The client started the closing handshake: drop what c has queued and send nothing more. */
void cd_conn_peer_closed(struct cd_conn *c);
/* Ask c to close with code/reason once its queue has drained. */
void cd_conn_close_after_flush(struct cd_conn *c, int code, const char *reason);
/* The user object {connId, userId, userName, color, readOnly} of c (new cJSON). */
cJSON *cd_conn_user_json(const struct cd_conn *c);
/* Array of the users of room r (new cJSON). */
cJSON *cd_room_users_json(const struct cd_room *r);
/* Tell every client of session s that it is gone (message + close 4000); detaches the room. */
void cd_room_session_deleted(struct cd_session *s);

#endif
