/*
 * doc.c: a room's document as a B+ tree rope of UTF-16 units.
 *
 * Owns: every node of the tree (through the document's allocator) and nothing else; pure
 * computation, no I/O, no locks. Depends only on util/error.h and libc.
 *
 * Shape: leaves hold up to LEAF_MAX units; inner nodes hold up to FAN_MAX children and cache
 * each child's unit and newline count (clen/cnl), so a descent reads one node per level. Every
 * node's header also carries its subtree's len and nl. Invariants (all checked by cd_doc_check):
 *   - root == NULL iff the document is empty; no node is ever empty;
 *   - all leaves are at the same depth; an inner node of height h has children of height h-1;
 *   - a non-root leaf has LEAF_MIN..LEAF_MAX units, a root leaf 1..LEAF_MAX;
 *   - a non-root inner node has FAN_MIN..FAN_MAX children, an inner root 2..FAN_MAX;
 *     hence height H satisfies len >= 2 * FAN_MIN^(H-1) * LEAF_MIN (H <= 28 at the default sizes);
 *   - clen/cnl and every len/nl equal what they summarise;
 *   - between calls every node has reference count 1 (the tree is a tree, not a DAG);
 *   - node_bytes is the size of all live nodes.
 *
 * Editing: an edit inside one leaf that keeps it within its fill bounds is done in place and
 * updates the counts on the path to the root (no allocation, cannot fail). Anything else is done
 * persistently, after xi-rope: split the tree at from and at to, build the inserted text, and
 * concatenate the three pieces; the new tree shares every untouched subtree with the old one
 * (reference counts), and only once it is complete is the old root released. A failed allocation
 * therefore releases the partial new pieces and leaves the document exactly as it was.
 * Recursion (split, concat, release, check) never goes deeper than the tree height.
 */
#include "doc.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* Node sizes; a build may shrink them (-DCD_DOC_LEAF_MAX=16 -DCD_DOC_FAN_MAX=8) so that tests
 * and fuzzing reach deep trees with little text. */
#ifndef CD_DOC_LEAF_MAX
#define CD_DOC_LEAF_MAX 1024
#endif
#ifndef CD_DOC_FAN_MAX
#define CD_DOC_FAN_MAX 16
#endif
#define LEAF_MAX   CD_DOC_LEAF_MAX
#define LEAF_MIN   (LEAF_MAX / 4)     /* slack against split/merge thrash at a leaf edge */
#define LEAF_FILL  (LEAF_MAX * 3 / 4) /* bulk-built leaves leave room for typing */
#define FAN_MAX    CD_DOC_FAN_MAX
#define FAN_MIN    (FAN_MAX / 4)
#define FAN_FILL   (FAN_MAX * 3 / 4)
#define HEIGHT_MAX 64 /* path stacks; len >= 2 * FAN_MIN^(H-1) * LEAF_MIN < 2^63 keeps H < 62 */

/* What concat and build rely on: halves of an overfull node are within bounds, and evenly
 * spread bulk-built nodes (more than FILL / 2 each) are too. */
_Static_assert(FAN_MIN >= 2 && LEAF_MIN >= 1, "fan-out must make the depth logarithmic");
_Static_assert(FAN_MAX >= 2 * FAN_MIN && FAN_FILL / 2 >= FAN_MIN && FAN_FILL <= FAN_MAX,
               "inner node bounds");
_Static_assert(LEAF_MAX >= 2 * LEAF_MIN && LEAF_FILL / 2 >= LEAF_MIN && LEAF_MAX <= UINT16_MAX,
               "leaf bounds");

struct node {
    uint32_t rc;     /* references held by parents, the document and pieces in construction */
    uint16_t height; /* 0 for a leaf */
    uint16_t n;      /* leaf: units used; inner: children */
    size_t len;      /* units in the subtree */
    size_t nl;       /* '\n' units in the subtree */
};

struct leaf {
    struct node h;
    uint16_t u[LEAF_MAX];
};

struct inner {
    struct node h;
    size_t clen[FAN_MAX]; /* clen[i] == c[i]->len */
    size_t cnl[FAN_MAX];  /* cnl[i] == c[i]->nl */
    struct node *c[FAN_MAX];
};

struct cd_doc {
    struct node *root; /* NULL iff empty */
    size_t node_bytes; /* sizes of all live nodes */
    struct cd_doc_allocator a;
};

static struct inner *in_of(struct node *x)
{
    return (struct inner *)x;
}

static const struct inner *cin_of(const struct node *x)
{
    return (const struct inner *)x;
}

static struct leaf *lf_of(struct node *x)
{
    return (struct leaf *)x;
}

static const struct leaf *clf_of(const struct node *x)
{
    return (const struct leaf *)x;
}

static void *sys_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void sys_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)size;
    free(p);
}

static void *mem_get(struct cd_doc *d, size_t size)
{
    return d->a.alloc(d->a.ctx, size);
}

static void mem_put(struct cd_doc *d, void *p, size_t size)
{
    if (p)
        d->a.free(d->a.ctx, p, size);
}

static size_t count_nl(const uint16_t *u, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += u[i] == '\n';
    return c;
}

static size_t node_size(const struct node *x)
{
    return x->height ? sizeof(struct inner) : sizeof(struct leaf);
}

static int is_ok(const struct node *x)
{
    return x->n >= (x->height ? FAN_MIN : LEAF_MIN);
}

static struct node *retain(struct node *x)
{
    if (x)
        x->rc++;
    return x;
}

/* Drop one reference; the last one frees the subtree. Recursion depth <= height. */
static void node_release(struct cd_doc *d, struct node *x)
{
    if (!x || --x->rc > 0)
        return;
    if (x->height) {
        struct inner *in = in_of(x);
        for (unsigned i = 0; i < in->h.n; i++)
            node_release(d, in->c[i]);
    }
    d->node_bytes -= node_size(x);
    mem_put(d, x, node_size(x));
}

/* A new leaf holding a[0..na) ++ b[0..nb), na + nb in 1..LEAF_MAX. NULL on ENOMEM. */
static struct node *leaf_new(struct cd_doc *d, const uint16_t *a, size_t na, const uint16_t *b,
                             size_t nb)
{
    struct leaf *l = mem_get(d, sizeof *l);
    if (!l)
        return NULL;
    if (na)
        memcpy(l->u, a, na * sizeof *a);
    if (nb)
        memcpy(l->u + na, b, nb * sizeof *b);
    l->h.rc = 1;
    l->h.height = 0;
    l->h.n = (uint16_t)(na + nb);
    l->h.len = na + nb;
    l->h.nl = count_nl(l->u, na + nb);
    d->node_bytes += sizeof *l;
    return &l->h;
}

/* Units [s, e) of a ++ b as a new leaf. */
static struct node *leaf_cut(struct cd_doc *d, const struct leaf *a, const struct leaf *b, size_t s,
                             size_t e)
{
    size_t na = a->h.n, n1 = 0, n2 = 0, bs = 0;
    if (s < na)
        n1 = (e < na ? e : na) - s;
    if (e > na) {
        bs = s > na ? s - na : 0;
        n2 = e - na - bs;
    }
    return leaf_new(d, n1 ? a->u + s : NULL, n1, n2 ? b->u + bs : NULL, n2);
}

/* A new inner node over c[0..k), k in 1..FAN_MAX, all of one height; it takes a new reference
 * to each child (the caller keeps its own). NULL on ENOMEM. */
static struct node *inner_new(struct cd_doc *d, struct node *const *c, size_t k)
{
    struct inner *x = mem_get(d, sizeof *x);
    if (!x)
        return NULL;
    x->h.rc = 1;
    x->h.height = (uint16_t)(c[0]->height + 1);
    x->h.n = (uint16_t)k;
    x->h.len = 0;
    x->h.nl = 0;
    for (size_t i = 0; i < k; i++) {
        x->c[i] = retain(c[i]);
        x->clen[i] = c[i]->len;
        x->cnl[i] = c[i]->nl;
        x->h.len += c[i]->len;
        x->h.nl += c[i]->nl;
    }
    d->node_bytes += sizeof *x;
    return &x->h;
}

/* A tree over the children c1 ++ c2 (n1 + n2 in 2..2*FAN_MAX, one height): one node when they
 * fit, else two halves (each >= FAN_MIN since FAN_MAX >= 2 * FAN_MIN) under a new parent.
 * Takes its own references; *out is set only on success. */
static int merge_nodes(struct cd_doc *d, struct node *const *c1, size_t n1, struct node *const *c2,
                       size_t n2, struct node **out)
{
    struct node *all[2 * FAN_MAX];
    struct node *half[2] = {NULL, NULL};
    struct node *x = NULL;
    size_t n = n1 + n2;
    int rc = CD_ENOMEM;

    memcpy(all, c1, n1 * sizeof *all);
    if (n2)
        memcpy(all + n1, c2, n2 * sizeof *all);
    if (n <= FAN_MAX) {
        x = inner_new(d, all, n);
    } else {
        half[0] = inner_new(d, all, n / 2);
        half[1] = half[0] ? inner_new(d, all + n / 2, n - n / 2) : NULL;
        x = half[1] ? inner_new(d, half, 2) : NULL;
    }
    if (!x)
        goto out;
    *out = x;
    rc = CD_OK;
out:
    node_release(d, half[0]);
    node_release(d, half[1]);
    return rc;
}

/* Two leaves as one tree: one leaf when they fit, else two even halves under a new parent. */
static int merge_leaves(struct cd_doc *d, const struct leaf *a, const struct leaf *b,
                        struct node **out)
{
    size_t total = (size_t)a->h.n + b->h.n;
    struct node *half[2] = {NULL, NULL};
    struct node *x = NULL;
    int rc = CD_ENOMEM;

    if (total <= LEAF_MAX) {
        x = leaf_cut(d, a, b, 0, total);
    } else {
        half[0] = leaf_cut(d, a, b, 0, total / 2);
        half[1] = half[0] ? leaf_cut(d, a, b, total / 2, total) : NULL;
        x = half[1] ? inner_new(d, half, 2) : NULL;
    }
    if (!x)
        goto out;
    *out = x;
    rc = CD_OK;
out:
    node_release(d, half[0]);
    node_release(d, half[1]);
    return rc;
}

/*
 * The rope a ++ b. Consumes one reference to each of a and b (either may be NULL = empty),
 * also on failure. Both must be valid trees (non-root nodes within their fill bounds, an inner
 * root with >= 2 children); so is the result, whose height is max(ha, hb) or one more. In the
 * recursive calls the taller operand is a non-root node, hence within bounds, which is what keeps
 * every node the result hangs below its root within bounds too. Recursion depth <= |ha - hb|.
 */
static int concat(struct cd_doc *d, struct node *a, struct node *b, struct node **out)
{
    struct node *t = NULL;
    int rc = CD_OK;

    if (!a || !b) {
        *out = a ? a : b;
        a = b = NULL;
    } else if (a->height < b->height) {
        struct inner *bi = in_of(b);
        if (a->height + 1 == b->height && is_ok(a)) {
            rc = merge_nodes(d, &a, 1, bi->c, bi->h.n, out);
            goto out;
        }
        rc = concat(d, a, retain(bi->c[0]), &t);
        a = NULL;
        if (rc)
            goto out;
        if (t->height < b->height)
            rc = merge_nodes(d, &t, 1, bi->c + 1, bi->h.n - 1u, out);
        else
            rc = merge_nodes(d, in_of(t)->c, t->n, bi->c + 1, bi->h.n - 1u, out);
    } else if (a->height > b->height) {
        struct inner *ai = in_of(a);
        if (b->height + 1 == a->height && is_ok(b)) {
            rc = merge_nodes(d, ai->c, ai->h.n, &b, 1, out);
            goto out;
        }
        rc = concat(d, retain(ai->c[ai->h.n - 1]), b, &t);
        b = NULL;
        if (rc)
            goto out;
        if (t->height < a->height)
            rc = merge_nodes(d, ai->c, ai->h.n - 1u, &t, 1, out);
        else
            rc = merge_nodes(d, ai->c, ai->h.n - 1u, in_of(t)->c, t->n, out);
    } else if (is_ok(a) && is_ok(b)) {
        struct node *pair[2] = {a, b};
        rc = merge_nodes(d, pair, 2, NULL, 0, out);
    } else if (a->height == 0) {
        rc = merge_leaves(d, lf_of(a), lf_of(b), out);
    } else {
        rc = merge_nodes(d, in_of(a)->c, a->n, in_of(b)->c, b->n, out);
    }
out:
    node_release(d, a);
    node_release(d, b);
    node_release(d, t);
    return rc;
}

/* Children c[0..k) as one rope: NULL, the child itself, or a (possibly underfull) root. */
static int group(struct cd_doc *d, struct node *const *c, size_t k, struct node **out)
{
    int rc = CD_OK;
    if (k == 0)
        *out = NULL;
    else if (k == 1)
        *out = retain(c[0]);
    else if (!(*out = inner_new(d, c, k)))
        rc = CD_ENOMEM;
    return rc;
}

/* A new reference to a rope holding x[0, pos). x is not consumed. Recursion depth <= height. */
static int split_left(struct cd_doc *d, struct node *x, size_t pos, struct node **out)
{
    struct node *left = NULL, *part = NULL;
    struct inner *in;
    size_t i = 0;
    int rc = CD_OK;

    if (pos == 0) {
        *out = NULL;
        goto out;
    }
    if (pos >= x->len) {
        *out = retain(x);
        goto out;
    }
    if (x->height == 0) {
        *out = leaf_new(d, lf_of(x)->u, pos, NULL, 0);
        rc = *out ? CD_OK : CD_ENOMEM;
        goto out;
    }
    in = in_of(x);
    while (pos >= in->clen[i]) /* pos < len, so this stops inside the node */
        pos -= in->clen[i++];
    rc = group(d, in->c, i, &left);
    if (rc)
        goto out;
    rc = split_left(d, in->c[i], pos, &part);
    if (rc)
        goto out;
    rc = concat(d, left, part, out);
    left = part = NULL;
out:
    node_release(d, left);
    node_release(d, part);
    return rc;
}

/* A new reference to a rope holding x[pos, len). x is not consumed. Recursion depth <= height. */
static int split_right(struct cd_doc *d, struct node *x, size_t pos, struct node **out)
{
    struct node *right = NULL, *part = NULL;
    struct inner *in;
    size_t i = 0;
    int rc = CD_OK;

    if (pos == 0) {
        *out = retain(x);
        goto out;
    }
    if (pos >= x->len) {
        *out = NULL;
        goto out;
    }
    if (x->height == 0) {
        *out = leaf_new(d, lf_of(x)->u + pos, x->n - pos, NULL, 0);
        rc = *out ? CD_OK : CD_ENOMEM;
        goto out;
    }
    in = in_of(x);
    while (pos >= in->clen[i])
        pos -= in->clen[i++];
    rc = split_right(d, in->c[i], pos, &part);
    if (rc)
        goto out;
    rc = group(d, in->c + i + 1, in->h.n - i - 1, &right);
    if (rc)
        goto out;
    rc = concat(d, part, right, out);
    part = right = NULL;
out:
    node_release(d, part);
    node_release(d, right);
    return rc;
}

/* A new tree holding u[0..n), bottom-up, level by level: leaves of ~LEAF_FILL units, parents
 * of ~FAN_FILL children, spread evenly so that every non-root node is within its bounds. */
static int build(struct cd_doc *d, const uint16_t *u, size_t n, struct node **out)
{
    struct node **lv = NULL;
    size_t k = 0, m = 0, i, base, extra, s = 0;
    int rc = CD_OK;

    if (n <= LEAF_MAX) {
        *out = n ? leaf_new(d, u, n, NULL, 0) : NULL;
        rc = n && !*out ? CD_ENOMEM : CD_OK;
        goto out;
    }
    k = n / LEAF_FILL + (n % LEAF_FILL != 0);
    lv = mem_get(d, k * sizeof *lv);
    if (!lv) {
        rc = CD_ENOMEM;
        goto out;
    }
    base = n / k;
    extra = n % k;
    for (m = 0; m < k; m++) {
        size_t len = base + (m < extra);
        if (!(lv[m] = leaf_new(d, u + s, len, NULL, 0))) {
            rc = CD_ENOMEM;
            goto out;
        }
        s += len;
    }
    while (m > 1) {
        size_t p = m <= FAN_MAX ? 1 : m / FAN_FILL + (m % FAN_FILL != 0);
        base = m / p;
        extra = m % p;
        s = 0;
        for (i = 0; i < p; i++) {
            size_t cnt = base + (i < extra);
            struct node *x = inner_new(d, lv + s, cnt);
            if (!x) {
                /* references held: new parents lv[0..i) and unadopted children lv[s..m) */
                for (size_t j = 0; j < i; j++)
                    node_release(d, lv[j]);
                for (size_t j = s; j < m; j++)
                    node_release(d, lv[j]);
                m = 0;
                rc = CD_ENOMEM;
                goto out;
            }
            for (size_t j = s; j < s + cnt; j++)
                lv[j]->rc--; /* the parent now holds the only reference */
            lv[i] = x;       /* i <= s: every parent has at least one child */
            s += cnt;
        }
        m = p;
    }
    *out = lv[0];
    m = 0;
out:
    if (lv) {
        for (i = 0; i < m; i++) /* leaves built before a failure */
            node_release(d, lv[i]);
        mem_put(d, lv, k * sizeof *lv);
    }
    return rc;
}

struct cd_doc *cd_doc_new(void)
{
    struct cd_doc *d = calloc(1, sizeof *d);
    if (d) {
        d->a.alloc = sys_alloc;
        d->a.free = sys_free;
    }
    return d;
}

int cd_doc_new_from(const uint16_t *u, size_t n, struct cd_doc **out)
{
    struct cd_doc *d = NULL;
    int rc = CD_OK;

    if (!out || (!u && n)) {
        rc = CD_EINVAL;
        goto out;
    }
    d = cd_doc_new();
    if (!d) {
        rc = CD_ENOMEM;
        goto out;
    }
    rc = build(d, u, n, &d->root);
    if (rc)
        goto out;
    *out = d;
    d = NULL;
out:
    cd_doc_free(d);
    return rc;
}

void cd_doc_free(struct cd_doc *d)
{
    if (!d)
        return;
    node_release(d, d->root);
    free(d);
}

int cd_doc_set_allocator(struct cd_doc *d, const struct cd_doc_allocator *a)
{
    int rc = CD_OK;
    if (!d || d->root || (a && (!a->alloc || !a->free))) {
        rc = CD_EINVAL;
        goto out;
    }
    if (a) {
        d->a = *a;
    } else {
        d->a.alloc = sys_alloc;
        d->a.free = sys_free;
        d->a.ctx = NULL;
    }
out:
    return rc;
}

size_t cd_doc_len(const struct cd_doc *d)
{
    return d && d->root ? d->root->len : 0;
}

size_t cd_doc_lines(const struct cd_doc *d)
{
    return (d && d->root ? d->root->nl : 0) + 1;
}

size_t cd_doc_mem(const struct cd_doc *d)
{
    return d ? sizeof *d + d->node_bytes : 0;
}

size_t cd_doc_height(const struct cd_doc *d)
{
    return d && d->root ? d->root->height : 0;
}

/*
 * The in-place edit: when [from, to] lies in one leaf and the edited leaf stays within its
 * bounds, rewrite the leaf and adjust the cached counts on the path. Returns 1 if done, 0 if
 * the edit needs the general path (nothing touched then). Cannot fail.
 */
static int replace_in_leaf(struct cd_doc *d, size_t from, size_t to, const uint16_t *ins, size_t n)
{
    struct inner *path[HEIGHT_MAX];
    unsigned idx[HEIGHT_MAX];
    size_t depth = 0, newlen, nl_del, nl_ins;
    struct node *x = d->root;
    struct leaf *l;

    if (!x)
        return 0;
    while (x->height) {
        struct inner *in = in_of(x);
        unsigned i = 0;
        /* the first child whose end is >= to; the range must start inside it too */
        while (i + 1u < in->h.n && to > in->clen[i]) {
            if (from < in->clen[i])
                return 0;
            from -= in->clen[i];
            to -= in->clen[i];
            i++;
        }
        path[depth] = in;
        idx[depth++] = i;
        x = in->c[i];
    }
    l = lf_of(x);
    newlen = l->h.n - (to - from) + n;
    if (newlen > LEAF_MAX || newlen < (depth ? LEAF_MIN : 1))
        return 0;
    nl_del = count_nl(l->u + from, to - from);
    nl_ins = count_nl(ins, n);
    memmove(l->u + from + n, l->u + to, (l->h.n - to) * sizeof *l->u);
    if (n)
        memcpy(l->u + from, ins, n * sizeof *ins);
    l->h.n = (uint16_t)newlen;
    l->h.len = newlen;
    l->h.nl = l->h.nl - nl_del + nl_ins;
    /* size_t arithmetic is modular, so "- removed + added" is exact whenever the result is */
    while (depth--) {
        struct inner *in = path[depth];
        unsigned i = idx[depth];
        in->clen[i] = in->clen[i] - (to - from) + n;
        in->cnl[i] = in->cnl[i] - nl_del + nl_ins;
        in->h.len = in->h.len - (to - from) + n;
        in->h.nl = in->h.nl - nl_del + nl_ins;
    }
    return 1;
}

/* The general edit: split, build, concatenate; the old tree is released only on success. */
static int replace_general(struct cd_doc *d, size_t from, size_t to, const uint16_t *ins, size_t n)
{
    struct node *l = NULL, *m = NULL, *r = NULL, *lm = NULL, *t = NULL;
    int rc;

    rc = split_left(d, d->root, from, &l);
    if (rc)
        goto out;
    rc = split_right(d, d->root, to, &r);
    if (rc)
        goto out;
    rc = build(d, ins, n, &m);
    if (rc)
        goto out;
    rc = concat(d, l, m, &lm);
    l = m = NULL;
    if (rc)
        goto out;
    rc = concat(d, lm, r, &t);
    lm = r = NULL;
    if (rc)
        goto out;
    node_release(d, d->root);
    d->root = t;
out: /* m and lm are consumed by concat as soon as they exist */
    node_release(d, l);
    node_release(d, r);
    return rc;
}

int cd_doc_replace(struct cd_doc *d, size_t from, size_t to, const uint16_t *ins, size_t n)
{
    int rc = CD_OK;

    if (!d || (!ins && n)) {
        rc = CD_EINVAL;
        goto out;
    }
    if (from > to || to > cd_doc_len(d)) {
        rc = CD_ERANGE;
        goto out;
    }
    if ((from == to && n == 0) || replace_in_leaf(d, from, to, ins, n))
        goto out;
    rc = replace_general(d, from, to, ins, n);
out:
    return rc;
}

int cd_doc_foreach(const struct cd_doc *d, size_t from, size_t to, cd_doc_chunk_fn fn, void *ctx)
{
    const struct inner *path[HEIGHT_MAX];
    unsigned idx[HEIGHT_MAX];
    size_t depth = 0, skip = from;
    const struct node *x;
    int rc = CD_OK;

    if (!d || !fn) {
        rc = CD_EINVAL;
        goto out;
    }
    if (from > to || to > cd_doc_len(d)) {
        rc = CD_ERANGE;
        goto out;
    }
    if (from == to)
        goto out;
    x = d->root;
    for (;;) {
        const struct leaf *l;
        size_t take;
        while (x->height) { /* down to the leaf holding unit `skip` of x */
            const struct inner *in = cin_of(x);
            unsigned i = 0;
            while (skip >= in->clen[i])
                skip -= in->clen[i++];
            path[depth] = in;
            idx[depth++] = i;
            x = in->c[i];
        }
        l = clf_of(x);
        take = l->h.n - skip;
        if (take > to - from)
            take = to - from;
        rc = fn(ctx, l->u + skip, take);
        from += take;
        if (rc || from == to)
            goto out;
        skip = 0;
        /* up to the first ancestor with a next child (from < to <= len: there is one) */
        while (depth > 0 && idx[depth - 1] + 1u == path[depth - 1]->h.n)
            depth--;
        if (depth == 0)
            goto out;
        x = path[depth - 1]->c[++idx[depth - 1]];
    }
out:
    return rc;
}

struct copy_ctx {
    uint16_t *p;
};

static int copy_chunk(void *ctx, const uint16_t *u, size_t n)
{
    struct copy_ctx *c = ctx;
    memcpy(c->p, u, n * sizeof *u);
    c->p += n;
    return 0;
}

int cd_doc_slice(const struct cd_doc *d, size_t from, size_t to, uint16_t **out, size_t *out_len)
{
    struct copy_ctx c = {NULL};
    uint16_t *buf = NULL;
    int rc = CD_OK;

    if (!d || !out) {
        rc = CD_EINVAL;
        goto out;
    }
    if (from > to || to > cd_doc_len(d)) {
        rc = CD_ERANGE;
        goto out;
    }
    buf = malloc(to > from ? (to - from) * sizeof *buf : 1);
    if (!buf) {
        rc = CD_ENOMEM;
        goto out;
    }
    c.p = buf;
    rc = cd_doc_foreach(d, from, to, copy_chunk, &c);
    if (rc)
        goto out;
    *out = buf;
    if (out_len)
        *out_len = to - from;
    buf = NULL;
out:
    free(buf);
    return rc;
}

/* Newlines in [0, pos) of the tree at x; pos <= x->len. */
static size_t nl_before(const struct node *x, size_t pos)
{
    size_t acc = 0;
    if (!x)
        return 0;
    while (x->height) {
        const struct inner *in = cin_of(x);
        unsigned i = 0;
        while (i + 1u < in->h.n && pos > in->clen[i]) {
            pos -= in->clen[i];
            acc += in->cnl[i++];
        }
        x = in->c[i];
    }
    return acc + count_nl(clf_of(x)->u, pos);
}

/* Offset of the k-th newline of the tree at x, 1 <= k <= x->nl. */
static size_t nl_offset(const struct node *x, size_t k)
{
    const struct leaf *l;
    size_t off = 0, i;
    while (x->height) {
        const struct inner *in = cin_of(x);
        unsigned c = 0;
        while (c + 1u < in->h.n && k > in->cnl[c]) {
            k -= in->cnl[c];
            off += in->clen[c++];
        }
        x = in->c[c];
    }
    l = clf_of(x);
    for (i = 0; i < l->h.n; i++)
        if (l->u[i] == '\n' && --k == 0)
            break;
    return off + i;
}

int cd_doc_line(const struct cd_doc *d, size_t line_no, size_t *line_from, size_t *line_to)
{
    size_t lines = cd_doc_lines(d);
    int rc = CD_OK;

    if (!d) {
        rc = CD_EINVAL;
        goto out;
    }
    if (line_no < 1 || line_no > lines) {
        rc = CD_ERANGE;
        goto out;
    }
    if (line_from)
        *line_from = line_no == 1 ? 0 : nl_offset(d->root, line_no - 1) + 1;
    if (line_to)
        *line_to = line_no == lines ? cd_doc_len(d) : nl_offset(d->root, line_no);
out:
    return rc;
}

int cd_doc_line_at(const struct cd_doc *d, size_t pos, size_t *line_no, size_t *line_from,
                   size_t *line_to)
{
    size_t n;
    int rc = CD_OK;

    if (!d) {
        rc = CD_EINVAL;
        goto out;
    }
    if (pos > cd_doc_len(d)) {
        rc = CD_ERANGE;
        goto out;
    }
    n = nl_before(d->root, pos) + 1;
    if (line_no)
        *line_no = n;
    rc = cd_doc_line(d, n, line_from, line_to);
out:
    return rc;
}

/* Checks the subtree at x; adds its node counts. Recursion depth <= the (checked) root height. */
static int check_node(const struct node *x, int root, size_t *leaves, size_t *inners)
{
    if (x->rc != 1 || x->n < 1)
        return CD_EINVAL;
    if (x->height == 0) {
        const struct leaf *l = clf_of(x);
        (*leaves)++;
        if (l->h.n > LEAF_MAX || (!root && l->h.n < LEAF_MIN) || l->h.len != l->h.n ||
            l->h.nl != count_nl(l->u, l->h.n))
            return CD_EINVAL;
    } else {
        const struct inner *in = cin_of(x);
        size_t len = 0, nl = 0;
        (*inners)++;
        if (in->h.n > FAN_MAX || in->h.n < (root ? 2 : FAN_MIN))
            return CD_EINVAL;
        for (unsigned i = 0; i < in->h.n; i++) {
            const struct node *c = in->c[i];
            if (!c || c->height + 1 != x->height || in->clen[i] != c->len || in->cnl[i] != c->nl ||
                check_node(c, 0, leaves, inners))
                return CD_EINVAL;
            len += c->len;
            nl += c->nl;
        }
        if (len != x->len || nl != x->nl)
            return CD_EINVAL;
    }
    return CD_OK;
}

int cd_doc_check(const struct cd_doc *d)
{
    size_t leaves = 0, inners = 0, need = 2 * LEAF_MIN;
    int rc = CD_EINVAL;

    if (!d)
        goto out;
    if (!d->root) {
        if (d->node_bytes == 0)
            rc = CD_OK;
        goto out;
    }
    if (d->root->height > HEIGHT_MAX - 1 || check_node(d->root, 1, &leaves, &inners))
        goto out;
    /* the balance bound: height H needs at least 2 * FAN_MIN^(H-1) * LEAF_MIN units */
    for (unsigned h = 1; h < d->root->height; h++) {
        if (need > d->root->len / FAN_MIN)
            goto out;
        need *= FAN_MIN;
    }
    if (d->root->height && d->root->len < need)
        goto out;
    if (d->node_bytes != leaves * sizeof(struct leaf) + inners * sizeof(struct inner))
        goto out;
    rc = CD_OK;
out:
    return rc;
}
