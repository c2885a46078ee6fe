/*
 * store.h: the session store interface. A store keeps session records (id, language,
 * creation time, view token) and, through them, the collaboration state of each session.
 * Implementations sit behind struct cd_store_ops: "memory" (store/memory.c) now; a Redis
 * store later. Runs on the event-loop thread. Records are owned by the store: pointers
 * returned by get/list stay valid until the record is removed or the store destroyed.
 */
#ifndef CD_STORE_STORE_H
#define CD_STORE_STORE_H

#include "collab/authority.h"

#include <stddef.h>
#include <stdint.h>

#define CD_LANGUAGE_MAX 24

struct cd_session {
    char id[37];
    char view_token[37]; /* read-only link secret (given once, at creation) */
    char language[CD_LANGUAGE_MAX];
    uint64_t created_ms;  /* wall clock */
    uint64_t seq;         /* creation order, the pagination cursor */
    struct cd_auth *auth; /* the document, its version and history (owned) */
    void *room;           /* live room on this instance (ws/ owns it), or NULL */
};

struct cd_store;

struct cd_store_ops {
    const char *name;
    /* Create a session; *out borrowed. CD_ELIMIT when max_sessions are held. */
    int (*create)(struct cd_store *s, const char *language, struct cd_session **out);
    /* Borrowed record or NULL. */
    struct cd_session *(*get)(struct cd_store *s, const char *id, size_t idlen);
    /* Up to limit records with seq > after, in creation order; *more set when others follow. */
    size_t (*list)(struct cd_store *s, uint64_t after, struct cd_session **out, size_t limit,
                   int *more);
    /* Remove and free a record. CD_ENOTFOUND if absent. */
    int (*remove)(struct cd_store *s, const char *id, size_t idlen);
    size_t (*count)(struct cd_store *s);
    void (*destroy)(struct cd_store *s);
};

struct cd_store {
    const struct cd_store_ops *ops;
    size_t max_sessions;
    struct cd_auth_limits limits; /* for the authority of each new session */
};

/* A new memory store holding at most max_sessions sessions, whose documents and histories
 * are bounded by lim; NULL on ENOMEM. */
struct cd_store *cd_store_memory_new(size_t max_sessions, const struct cd_auth_limits *lim);
/* Destroy any store; NULL is a no-op. */
void cd_store_free(struct cd_store *s);

#endif
