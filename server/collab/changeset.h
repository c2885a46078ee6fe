/*
 * changeset.h: the change-set engine, a C port of the semantics of @codemirror/state 6.7.6
 * ChangeSet / ChangeDesc and of @codemirror/collab 6.1.1 rebaseUpdates.
 *
 * A change set describes an edit of a document of cd_cs_len() UTF-16 code units into one of
 * cd_cs_new_len() units, as a sequence of sections (len, ins): ins == -1 keeps len units,
 * otherwise len units are replaced by ins inserted units. Every position and length is in UTF-16
 * code units, exactly like JavaScript string indices. The wire form is ChangeSet.toJSON().
 *
 * Two kinds share one opaque type, as in CodeMirror: a *set* carries its inserted texts (it can
 * be applied, inverted, serialised); a *desc* (ChangeDesc) carries only the sections and is what
 * rebasing needs. Results reproduce CodeMirror's exactly, including its representation choices
 * (which sections get merged, which shortcut returns an input unchanged), so that cd_cs_to_json()
 * of a result is the text JSON.stringify(result.toJSON()) would produce. Where CodeMirror would
 * return one of its inputs, we return a copy of it, which therefore has that input's kind.
 *
 * Ownership: every struct cd_cs * handed out through an out parameter is new and owned by the
 * caller (cd_cs_free); inputs are never modified, except the updates array of
 * cd_cs_rebase_updates. On error, out parameters are set to NULL and nothing is leaked.
 * Lengths are capped at CD_CS_MAX_LEN when parsing, so all arithmetic stays far from overflow.
 * Nothing here recurses; memory is linear in the sizes of the inputs.
 * Pure computation, no I/O, no global state: safe on any thread for distinct objects, and
 * concurrent reads of one object are fine.
 */
#ifndef CD_COLLAB_CHANGESET_H
#define CD_COLLAB_CHANGESET_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct cd_buf;

/* Largest keep/deletion length, and largest document length a parsed change set may describe. */
#define CD_CS_MAX_LEN 2147483647L

struct cd_cs;

/* ---- construction, serialisation, accessors ------------------------------------------------ */

/* Parse ChangeSet.toJSON() output, strictly. The value must be an array whose items are
 *   N                      keep N units; N an integer, 0 < N <= CD_CS_MAX_LEN;
 *   [D]                    delete D units, D an integer, 0 < D <= CD_CS_MAX_LEN;
 *   [D, "line", ...]       replace D >= 0 units by the lines joined with "\n".
 * Refused (CD_EPARSE, with a precise message in err such as "item 3: deletion length must be a
 * non-negative integer"; items are numbered from 0 like JSON indices): other types, fractional,
 * negative, non-finite or too large numbers, zero-length keeps, changes that neither delete nor
 * insert ([0], [0, ""]), lines that are not strings, lines containing "\n", strings that are not
 * valid WTF-8 (run cd_json_wtf8_prepass() before cJSON), and totals above CD_CS_MAX_LEN.
 * "\r" inside lines is accepted, as CodeMirror's fromJSON does. CD_ENOMEM on allocation failure.
 * err may be NULL; otherwise it is always NUL-terminated (empty on success). */
int cd_cs_from_json(const cJSON *json, struct cd_cs **out, char *err, size_t errlen);
/* Append exactly JSON.stringify(set.toJSON()) to out. CD_EINVAL for a desc; CD_ETOOBIG/CD_ENOMEM
 * from the buffer. On error out is unchanged. */
int cd_cs_to_json(const struct cd_cs *cs, struct cd_buf *out);
/* Append JSON.stringify(x.desc.toJSON()): the flat section list [len, ins, len, ins, ...].
 * Works for both kinds. On error out is unchanged. */
int cd_cs_desc_to_json(const struct cd_cs *cs, struct cd_buf *out);

/* One change for cd_cs_of(): replace [from, to) by insert[0..insert_len) (insert may be NULL when
 * insert_len is 0). Line breaks "\r\n", "\r" and "\n" in insert become "\n", as CodeMirror does. */
struct cd_cs_change {
    size_t from, to;
    const uint16_t *insert;
    size_t insert_len;
};
/* ChangeSet.of(changes, length) for a flat list of changes (positions refer to the original
 * document even when the list is unsorted or overlapping). CD_ERANGE if a change is outside
 * [0, length] or has from > to. */
int cd_cs_of(const struct cd_cs_change *changes, size_t n, size_t length, struct cd_cs **out);
/* ChangeSet.empty(length). */
int cd_cs_new_empty(size_t length, struct cd_cs **out);
/* A copy of the same kind. */
int cd_cs_dup(const struct cd_cs *cs, struct cd_cs **out);
/* set.desc: a desc with the same sections. */
int cd_cs_desc(const struct cd_cs *cs, struct cd_cs **out);
void cd_cs_free(struct cd_cs *cs); /* NULL ok */

size_t cd_cs_len(const struct cd_cs *cs);     /* length of the document it applies to */
size_t cd_cs_new_len(const struct cd_cs *cs); /* length of the document it produces */
int cd_cs_empty(const struct cd_cs *cs);      /* CodeMirror's `empty`: 1 when nothing changes */
int cd_cs_is_set(const struct cd_cs *cs);     /* 1 for a set (has texts), 0 for a desc */
size_t cd_cs_mem(const struct cd_cs *cs);     /* heap bytes held, for memory reports */

/* ---- applying -------------------------------------------------------------------------------- */

/* Apply to doc[0..n): *out is a new malloc'd array (non-NULL even when empty) of *out_len units.
 * CD_EMISMATCH if n != cd_cs_len(cs); CD_EINVAL for a desc. */
int cd_cs_apply(const struct cd_cs *cs, const uint16_t *doc, size_t n, uint16_t **out,
                size_t *out_len);
/* set.invert(doc): doc is the document *before* cs. CD_EMISMATCH if n != cd_cs_len(cs).
 * The result is a set (its texts come from doc), whatever the kind of cs. */
int cd_cs_invert(const struct cd_cs *cs, const uint16_t *doc, size_t n, struct cd_cs **out);

/* Iterate changes in order like iterChanges(f, individual = 0): adjacent changed sections are
 * reported as one change; ins points into cs (valid while cs lives; NULL when ins_len is 0, and
 * always NULL for a desc). The callback returns nonzero to stop; that value is then returned. */
typedef int (*cd_cs_change_fn)(void *ctx, size_t from_a, size_t to_a, size_t from_b, size_t to_b,
                               const uint16_t *ins, size_t ins_len);
int cd_cs_iter_changes(const struct cd_cs *cs, cd_cs_change_fn fn, void *ctx);

/* ChangeDesc.mapPos(pos, assoc, mode). assoc < 0 sticks to the left, > 0 to the right.
 * Returns 0 with *out set; CD_ENOTFOUND when mode is not SIMPLE and the position was deleted
 * (CodeMirror's null); CD_ERANGE when pos > cd_cs_len(cs). On error *out is left unchanged, so
 * out may point at the variable holding pos. */
enum cd_map_mode {
    CD_MAP_SIMPLE = 0,
    CD_MAP_TRACK_DEL = 1,
    CD_MAP_TRACK_BEFORE = 2,
    CD_MAP_TRACK_AFTER = 3
};
int cd_cs_map_pos(const struct cd_cs *cs, size_t pos, int assoc, enum cd_map_mode mode,
                  size_t *out);

/* ---- algebra --------------------------------------------------------------------------------- */
/* All of these check lengths first and return CD_EMISMATCH where CodeMirror would throw (and
 * also where its shortcuts would silently accept mismatched lengths). */

/* a.compose(b): both must be sets (CD_EINVAL otherwise); CD_EMISMATCH if a.newLen != b.len. */
int cd_cs_compose(const struct cd_cs *a, const struct cd_cs *b, struct cd_cs **out);
/* a.map(b, before): a must be a set, b any kind; CD_EMISMATCH if a.len != b.len.
 * With before == 0, b is treated as having happened first. */
int cd_cs_map(const struct cd_cs *a, const struct cd_cs *b, int before, struct cd_cs **out);
/* a.composeDesc(b): any kinds; the result is a desc unless a shortcut returns an input. */
int cd_cs_compose_desc(const struct cd_cs *a, const struct cd_cs *b, struct cd_cs **out);
/* a.mapDesc(b, before): for a set this is ChangeSet.mapDesc (a set, no shortcut), for a desc
 * ChangeDesc.mapDesc (a desc, or a copy of a when b is empty). */
int cd_cs_map_desc(const struct cd_cs *a, const struct cd_cs *b, int before, struct cd_cs **out);

/* ---- collaboration --------------------------------------------------------------------------- */

/* An update as the collab protocol moves it: client_id is a malloc'd NUL-terminated string owned
 * by the update (compared bytewise, so both sides must come from the same decoding, e.g. cJSON
 * valuestrings after cd_json_wtf8_prepass), changes a set owned by the update. */
struct cd_update {
    char *client_id;
    struct cd_cs *changes;
};
/* Free the update's members (not the struct) and NULL them. */
void cd_update_cleanup(struct cd_update *u);

/* rebaseUpdates(updates, over) of @codemirror/collab, exactly: drops the leading updates that
 * `over` already contains (matched by client_id, in order) and maps the rest over the other
 * changes in `over` so that they apply after it. over[i].changes may be sets or descs.
 * On success updates[0..*n_out) holds the result (rewritten in place; dropped entries freed,
 * mapped entries' old change sets freed). On error (CD_ENOMEM, CD_EMISMATCH when lengths do not
 * line up, CD_EINVAL when an entry lacks client_id or changes, or an update's changes is a desc)
 * nothing is modified and *n_out == n.
 * Note DESIGN.md §3: collabd calls this with one `over` update at a time. */
int cd_cs_rebase_updates(struct cd_update *updates, size_t n, const struct cd_update *over,
                         size_t nover, size_t *n_out);

#endif
