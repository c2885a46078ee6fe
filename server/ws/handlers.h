/*
 * handlers.h: the table of client message types (one handler per "type").
 * A handler receives the parsed message (borrowed) and answers through the connection's
 * send queue; it returns 0, or a negative CD_E* code after having sent an error message.
 * Event-loop thread only.
 */
#ifndef CD_WS_HANDLERS_H
#define CD_WS_HANDLERS_H

#include "ws/room.h"

#include <cjson/cJSON.h>

/* Dispatch one complete text message of c: parse, check, route by "type". */
void cd_ws_handle_message(struct cd_conn *c, char *data, size_t len);

#endif
