/*
 * internal.h: what the stores share inside store/. The Redis store keeps its mirror of the
 * sessions in a memory store and inserts records that Redis numbered. Event-loop thread only.
 */
#ifndef CD_STORE_INTERNAL_H
#define CD_STORE_INTERNAL_H

#include "store.h"

/* Insert a record copied from tmpl (id, view_token, language, created_ms, seq) that owns auth
 * from now on (also on error). Kept in seq order. CD_EEXIST if the id is held, CD_ENOMEM. */
int cd_store_memory_insert(struct cd_store *s, const struct cd_session *tmpl, struct cd_auth *auth,
                           struct cd_session **out);

#endif
