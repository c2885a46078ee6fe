/*
 * run.h: server-side Python runs started from the room (client messages run, run_input,
 * run_stop, run_reset; server messages run_accepted, run_queued, run_started, run_output,
 * run_input_request, run_done). Event-loop thread only.
 */
#ifndef CD_WS_RUN_H
#define CD_WS_RUN_H

#include "ws/room.h"

#include <cjson/cJSON.h>

/* Message handlers (see handlers.c); each answers errors itself. */
int cd_run_on_run(struct cd_conn *c, const cJSON *msg, const cJSON *ref);
int cd_run_on_input(struct cd_conn *c, const cJSON *msg, const cJSON *ref);
int cd_run_on_stop(struct cd_conn *c, const cJSON *msg, const cJSON *ref);
int cd_run_on_reset(struct cd_conn *c, const cJSON *msg, const cJSON *ref);
/* The session is gone: its runs end silently and its Python context is dropped. */
void cd_run_session_deleted(struct cd_server *srv, const char *session);
/* Shutdown: forget every run (no more messages) before the pool stops. */
void cd_run_shutdown(void);

#endif
