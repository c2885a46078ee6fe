/*
 * collab.h: the collaboration messages of the WebSocket protocol on top of the room's
 * authority (collab/authority.h): push -> update (one message per accepted update, sent to
 * every participant including the sender, who recognises its own by clientID), pull ->
 * updates (applied by the client one element at a time), cursor (presence, mapped through
 * accepted changes, never stored in history), and the sync a joiner receives (full, or a
 * resume from a known version). Event-loop thread only.
 */
#ifndef CD_WS_COLLAB_H
#define CD_WS_COLLAB_H

#include "ws/room.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* Queue the joiner's sync: a resume (no document, then the missed updates) when from is a
 * version the history still holds, else the full document. */
int cd_collab_send_sync(struct cd_conn *c, struct cd_session *s, int64_t from);
int cd_collab_on_push(struct cd_conn *c, const cJSON *msg, const cJSON *ref);
int cd_collab_on_pull(struct cd_conn *c, const cJSON *msg, const cJSON *ref);
int cd_collab_on_cursor(struct cd_conn *c, const cJSON *msg, const cJSON *ref);
/* The store hooks of srv's rooms (store.h): a session whose document the store replaced has
 * every client closed with 1001 so that it reconnects and syncs; updates another instance
 * committed are broadcast like local ones (cursors mapped); a session deleted elsewhere is
 * closed as a local delete would (4000) and its runs end. */
void cd_collab_store_hooks(struct cd_server *srv, struct cd_store_hooks *h);
/* Session s is being deleted: the pushes waiting to commit are dropped (a commit in flight
 * frees itself when it finds no session). */
void cd_collab_session_gone(struct cd_session *s);
/* The loop handles that start each session's waiting pushes at the end of a poll phase, as one
 * commit (durable stores). cleanup: after the last connection closed, before the store shuts
 * down; pushes still waiting are dropped. */
int cd_collab_init(struct cd_server *srv);
void cd_collab_cleanup(void);

#endif
