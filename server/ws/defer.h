/*
 * defer.h: a list of items to be handled once at the end of the loop's poll phase (a libuv
 * check handle: what the lws callbacks of this turn queued), or before the loop next sleeps
 * (a prepare handle: what timers and idle handlers queued). The writer lists connections
 * with output to flush; collab lists sessions whose pushes wait to be committed. Items are
 * handled in the order they were listed; whether an item is listed is the caller's flag.
 * Event-loop thread only.
 */
#ifndef CD_WS_DEFER_H
#define CD_WS_DEFER_H

#include <uv.h>

struct cd_defer;

/* A list whose items are handed to run(item) (which must not add or remove items); NULL on
 * ENOMEM. */
struct cd_defer *cd_defer_new(uv_loop_t *loop, void (*run)(void *item));
/* List item. CD_ENOMEM: it is not listed (the caller handles it now). */
int cd_defer_add(struct cd_defer *d, void *item);
/* Unlist item (listed), keeping the order of the others. */
void cd_defer_remove(struct cd_defer *d, void *item);
/* The last item listed, unlisted, or NULL when none is. */
void *cd_defer_pop(struct cd_defer *d);
/* Close the handles (inside the loop) and free the list; NULL ok. */
void cd_defer_free(struct cd_defer *d);

#endif
