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
/* The store replaced session s's document with the one it holds (struct cd_store reset_cb;
 * arg unused): every client of the room is closed with 1001 so that it reconnects and syncs. */
void cd_collab_store_reset(void *arg, struct cd_session *s);

#endif
