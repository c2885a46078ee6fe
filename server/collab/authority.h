/*
 * authority.h: the authority of one room: the current document, its version (the number of
 * accepted updates) and a bounded history of accepted updates. It accepts pushes at the
 * current version, rebases stale pushes over each newer update in turn (never over their
 * composition: ChangeSet.map is not compositional, see DESIGN.md section 3), drops updates it
 * already holds (same clientID sequence), and refuses pushes older than its history.
 * The history is bounded by count and bytes; what falls off is already in the document (the
 * snapshot), so only clients that are too far behind must resync.
 * Pure: no I/O. Owned by its room; single-threaded.
 */
#ifndef CD_COLLAB_AUTHORITY_H
#define CD_COLLAB_AUTHORITY_H

#include "collab/changeset.h"
#include "collab/doc.h"

#include <stddef.h>
#include <stdint.h>

struct cd_auth_limits {
    size_t max_doc;           /* UTF-16 units */
    size_t history_max;       /* updates kept (a push's own updates are always kept) */
    size_t history_bytes_max; /* serialised bytes kept */
};

/* One accepted update: the one that took the document from version v to v + 1. */
struct cd_hist {
    char *client_id;
    struct cd_cs *changes;
    char *json; /* cd_cs_to_json text of changes */
    size_t json_len;
};

struct cd_auth;

/* A new authority over an empty document (or over text[0..n) when text is not NULL). */
int cd_auth_new(const struct cd_auth_limits *lim, const uint16_t *text, size_t n,
                struct cd_auth **out);
void cd_auth_free(struct cd_auth *a); /* NULL ok */

uint64_t cd_auth_version(const struct cd_auth *a);
/* The oldest version a client may still push or pull from. */
uint64_t cd_auth_oldest(const struct cd_auth *a);
const struct cd_doc *cd_auth_doc(const struct cd_auth *a);
/* Heap bytes held (document + history). */
size_t cd_auth_mem(const struct cd_auth *a);
size_t cd_auth_history_len(const struct cd_auth *a);
/* The update from version v to v + 1 (borrowed), or NULL if v is outside [oldest, version). */
const struct cd_hist *cd_auth_entry(const struct cd_auth *a, uint64_t v);

struct cd_auth_result {
    uint64_t first;  /* the version before the first accepted update */
    size_t accepted; /* entries first .. first + accepted - 1 are new */
    size_t dropped;  /* pushed updates the history already held */
};

/* Push updates[0..n) made by a client whose document was at base. Takes ownership of the
 * updates' members in every case. reject_stale: refuse (CD_ECONFLICT) instead of rebasing.
 * Errors (nothing is changed): CD_ERANGE base is ahead of the server; CD_ESTALE base is older
 * than the history (the client must resync); CD_ECONFLICT; CD_EMISMATCH a change set does not
 * fit the document; CD_ETOOBIG the document would pass max_doc; CD_ENOMEM. err (may be NULL)
 * receives a sentence for the client. */
int cd_auth_push(struct cd_auth *a, uint64_t base, struct cd_update *updates, size_t n,
                 int reject_stale, struct cd_auth_result *res, char *err, size_t errlen);

/* The checks and rebasing of cd_auth_push without applying anything: updates[0..n) pushed at
 * base are rebased in place over each newer update in turn and validated; *m receives how many
 * remain (duplicates already held are freed, the rest stay the caller's). A prepared batch
 * applies with cd_auth_push(a, cd_auth_version(a), updates, *m, ...) while the version has not
 * moved. Same errors as cd_auth_push; on error the updates may be partly rebased. */
int cd_auth_prepare(const struct cd_auth *a, uint64_t base, struct cd_update *updates, size_t n,
                    int reject_stale, size_t *m, char *err, size_t errlen);

/* cd_auth_prepare for a push that will apply after after[0..nafter), a sequence of updates
 * prepared at the current version but not applied yet (a batch being made durable): the
 * updates are rebased over the newer history, then over each of after[] in turn (dropping
 * those after[] already holds), and validated against the document as after[] leaves it.
 * reject_stale refuses (CD_ECONFLICT) when nafter > 0 as well. */
int cd_auth_prepare_after(const struct cd_auth *a, uint64_t base, const struct cd_update *after,
                          size_t nafter, struct cd_update *updates, size_t n, int reject_stale,
                          size_t *m, char *err, size_t errlen);

/* Start the version count at v (for a document loaded from a store); only while the history
 * is empty, else CD_EINVAL. */
int cd_auth_set_version(struct cd_auth *a, uint64_t v);

/* Map a position at version v to the current version (assoc < 0 sticks left). CD_ESTALE if v
 * is older than the history, CD_ERANGE if pos is outside the document at v. */
int cd_auth_map_pos(const struct cd_auth *a, uint64_t v, size_t pos, int assoc, size_t *out);

#endif
