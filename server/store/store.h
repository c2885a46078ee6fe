/*
 * store.h: the session store interface. A store keeps session records (id, language,
 * creation time, view token) and, through them, the collaboration state of each session.
 * Implementations sit behind struct cd_store_ops: "memory" (store/memory.c) and "redis"
 * (store/redis.c, which keeps every session mirrored in memory and makes each write durable in
 * Redis before it completes). Runs on the event-loop thread. Records are owned by the store:
 * pointers returned by get/list stay valid until the record is removed or the store destroyed.
 *
 * Writes go through the asynchronous cd_store_create / cd_store_remove / ops->commit: the
 * memory store completes them at once (the callback runs before the call returns), the Redis
 * store once Redis has answered. If one of them returns an error, its callback is never called.
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
    void *commits;        /* this instance's pushes waiting to commit (ws/collab.c), or NULL */
    uint64_t expiry_renewed_ms; /* store-owned: when this instance last renewed its expiry */
};

struct cd_store;
struct uv_loop_s;

/* Completion of a create or remove: rc 0 and the record (borrowed; for a remove, the record
 * about to go: it is freed when cb returns), or
 * CD_EUNAVAIL (the store cannot make it durable now; retry later), CD_ELIMIT, CD_ENOTFOUND. */
typedef void (*cd_store_cb)(void *arg, int rc, struct cd_session *s);
/* Completion of a commit: rc 0 when the updates were appended at base (version is then the new
 * version; a store shared by several instances may have applied them to the authority already,
 * through hooks.applied, if it heard its own publication before the answer: the authority's
 * version then tells); CD_ECONFLICT when the stored version moved to `version` first (the
 * store applies the missed updates it was sent back before calling: rebase over them and commit
 * again); CD_ENOTFOUND (session gone); CD_EUNAVAIL. */
typedef void (*cd_store_commit_cb)(void *arg, int rc, uint64_t version);

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
    /* Optional (NULL in the memory store). Durable create of a session holding text[0..n). */
    int (*create_async)(struct cd_store *s, const char *language, const uint16_t *text, size_t n,
                        cd_store_cb cb, void *arg);
    /* Durable remove; the record stays in place until cb runs (the caller removes it then). */
    int (*remove_async)(struct cd_store *s, const char *id, size_t idlen, cd_store_cb cb,
                        void *arg);
    /* Append entries[0..n) (each {"clientID":..,"changes":..} JSON, copied) at version base.
     * NULL: the caller applies pushes to the authority directly (nothing to make durable). */
    int (*commit)(struct cd_store *s, struct cd_session *sess, uint64_t base,
                  const char *const *entries, const size_t *lens, size_t n, cd_store_commit_cb cb,
                  void *arg);
    int (*status)(struct cd_store *s); /* CD_OK, or CD_EUNAVAIL while writes cannot be durable */
    const char *(*status_detail)(struct cd_store *s); /* a sentence for /health, or NULL */
    void (*shutdown)(struct cd_store *s); /* close connections and handles, inside the loop */
};

/* What a store shared by several instances (Redis) tells the rooms of this one. Each hook
 * may be NULL; all run on the event-loop thread, never inside a store call. */
struct cd_store_hooks {
    /* The store replaced s's authority with the one it holds (after a reconnect, when the
     * stored history is not a continuation of the mirror's): the room must re-sync. */
    void (*reset)(void *arg, struct cd_session *s);
    /* Updates first .. first + n - 1 (versions first + 1 .. first + n), committed by another
     * instance or by this one, were applied to s's authority: broadcast them. */
    void (*applied)(void *arg, struct cd_session *s, uint64_t first, size_t n);
    /* Another instance deleted s; the record is freed when this returns. */
    void (*removed)(void *arg, struct cd_session *s);
    void *arg;
};

struct cd_store {
    const struct cd_store_ops *ops;
    size_t max_sessions;
    struct cd_auth_limits limits; /* for the authority of each new session */
    struct cd_store_hooks hooks;
};

/* A new memory store holding at most max_sessions sessions, whose documents and histories
 * are bounded by lim; NULL on ENOMEM. */
struct cd_store *cd_store_memory_new(size_t max_sessions, const struct cd_auth_limits *lim);
/* A new Redis store (see redis.c for the URL forms and the key layout). It connects in the
 * background on loop and reconnects with backoff; until then writes fail with CD_EUNAVAIL.
 * ttl_s: idle seconds before Redis expires a session (0: never). NULL and a sentence in err
 * (errlen bytes) when the URL is invalid or memory runs out. */
struct cd_store *cd_store_redis_new(struct uv_loop_s *loop, const char *url, long ttl_s,
                                    size_t max_sessions, const struct cd_auth_limits *lim,
                                    char *err, size_t errlen);

/* Create a session holding text[0..n) (text may be NULL); cb on completion. */
int cd_store_create(struct cd_store *s, const char *language, const uint16_t *text, size_t n,
                    cd_store_cb cb, void *arg);
/* Remove a session; cb on completion, after which the record is gone. CD_ENOTFOUND if absent. */
int cd_store_remove(struct cd_store *s, const char *id, size_t idlen, cd_store_cb cb, void *arg);
/* CD_OK, or CD_EUNAVAIL while writes cannot be made durable. */
int cd_store_status(struct cd_store *s);
/* Close the store's connections and handles (inside the loop, before uv_loop_close). */
void cd_store_shutdown(struct cd_store *s);
/* Destroy any store; NULL is a no-op. */
void cd_store_free(struct cd_store *s);

#endif
