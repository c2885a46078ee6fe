/*
 * doc.h: the text of one room's document, as a balanced rope (a B+ tree of text leaves).
 *
 * Text is a JavaScript string: UTF-16 code units stored as uint16_t, positions are UTF-16
 * offsets, and lines are separated by '\n' (0x000A) only. Every unit is kept as given: lone
 * surrogates, '\r', U+2028 and NUL are ordinary units, never normalised or rejected.
 *
 * Cost: len/lines O(1); replace, line_at, line O(log n) for small edits (a one-unit edit touches
 * one leaf and its ancestors, no copy of the text), plus O(k) for k units inserted or removed;
 * new_from O(n); slice/foreach O(log n + k). cd_doc_check() verifies the balance invariant
 * (depth is O(log n)) and every cached count.
 *
 * Ownership: a struct cd_doc owns all its nodes; the caller owns the struct cd_doc (free it with
 * cd_doc_free) and keeps ownership of every buffer it passes in. Arrays handed out by
 * cd_doc_slice belong to the caller (free()). Chunks shown by cd_doc_foreach are borrowed and
 * valid only until the document is next modified or freed.
 *
 * Threads: a document is not thread-safe. It belongs to one room and is used on that room's
 * loop; distinct documents may be used on distinct threads.
 */
#ifndef CD_COLLAB_DOC_H
#define CD_COLLAB_DOC_H

#include <stddef.h>
#include <stdint.h>

struct cd_doc;

/* An empty document (length 0, one line). NULL on ENOMEM. */
struct cd_doc *cd_doc_new(void);
/* A document holding u[0..n), built bottom-up in O(n). u may be NULL when n == 0.
 * Returns 0 and sets *out, or CD_EINVAL / CD_ENOMEM (then *out is untouched). */
int cd_doc_new_from(const uint16_t *u, size_t n, struct cd_doc **out);
/* Release the document and everything it owns. cd_doc_free(NULL) does nothing. */
void cd_doc_free(struct cd_doc *d);

/* Length in UTF-16 units. */
size_t cd_doc_len(const struct cd_doc *d);
/* Number of lines: newlines + 1 (an empty document has one line). */
size_t cd_doc_lines(const struct cd_doc *d);

/* Replace [from, to) with ins[0..n). Returns 0; CD_ERANGE if from > to or to > len; CD_EINVAL if
 * ins is NULL with n > 0; CD_ENOMEM. On any error the document is unchanged.
 * ins must not point into this document's own storage (e.g. a cd_doc_foreach chunk). */
int cd_doc_replace(struct cd_doc *d, size_t from, size_t to, const uint16_t *ins, size_t n);

/* Copy [from, to) into a new malloc'd array the caller frees; *out is non-NULL even when the
 * range is empty. out_len may be NULL. Returns 0, CD_ERANGE, CD_EINVAL (d or out NULL) or
 * CD_ENOMEM; on error *out and *out_len are untouched. */
int cd_doc_slice(const struct cd_doc *d, size_t from, size_t to, uint16_t **out, size_t *out_len);

/* Called with consecutive chunks of text, in order; a nonzero return stops the walk. */
typedef int (*cd_doc_chunk_fn)(void *ctx, const uint16_t *u, size_t n);
/* Visit [from, to) as consecutive non-empty chunks without copying. Returns 0 when done, the
 * callback's nonzero value if it stopped the walk, or CD_ERANGE / CD_EINVAL (fn never called).
 * An empty range calls fn zero times. fn must not modify the document. */
int cd_doc_foreach(const struct cd_doc *d, size_t from, size_t to, cd_doc_chunk_fn fn, void *ctx);

/* Line containing pos (0 <= pos <= len), like CodeMirror's Text.lineAt(pos): its 1-based number
 * and its [from, to) offsets, to excluding the '\n'. Any output pointer may be NULL.
 * Returns 0 or CD_ERANGE. */
int cd_doc_line_at(const struct cd_doc *d, size_t pos, size_t *line_no, size_t *line_from,
                   size_t *line_to);
/* Line number line_no (1 <= line_no <= lines), like CodeMirror's Text.line(n).
 * Any output pointer may be NULL. Returns 0 or CD_ERANGE. */
int cd_doc_line(const struct cd_doc *d, size_t line_no, size_t *line_from, size_t *line_to);

/* Heap bytes the document holds (struct, nodes, text), for per-room memory reports. O(1). */
size_t cd_doc_mem(const struct cd_doc *d);
/* Levels of inner nodes above the leaves (0 while the text fits in one leaf). For tests/stats. */
size_t cd_doc_height(const struct cd_doc *d);
/* Check every structural invariant: cached unit and newline counts, leaf and node fill, equal
 * leaf depth, depth within the O(log n) bound, memory accounting. 0 if all hold, else CD_EINVAL.
 * O(n); for tests and fuzzing. */
int cd_doc_check(const struct cd_doc *d);

/* Where a document's nodes come from. Tests inject failures with it; a room may use it to
 * enforce a memory budget. alloc returns NULL to refuse: the operation in progress then fails
 * with CD_ENOMEM and changes nothing. free is never called with NULL. */
typedef void *(*cd_doc_alloc_fn)(void *ctx, size_t size);
typedef void (*cd_doc_free_fn)(void *ctx, void *p, size_t size);
struct cd_doc_allocator {
    cd_doc_alloc_fn alloc;
    cd_doc_free_fn free;
    void *ctx; /* passed back unchanged; owned by the caller, must outlive the document */
};
/* Use a (copied) for the nodes of d from now on; NULL restores malloc/free. Only while d is
 * empty, so that every node is freed by the allocator that made it: CD_EINVAL otherwise. */
int cd_doc_set_allocator(struct cd_doc *d, const struct cd_doc_allocator *a);

#endif
