/*
 * changeset.c: the change-set engine (see changeset.h), written after the semantics of
 * @codemirror/state 6.7.6 (ChangeDesc, ChangeSet, addSection, addInsert, mapSet, composeSets,
 * SectionIter) and @codemirror/collab 6.1.1 (rebaseUpdates). Results must match the real library
 * section for section, so the algorithms follow its control flow closely; the vectors in
 * shared/vectors pin that down.
 *
 * Owns: struct cd_cs values and their arrays. Representation:
 *   sec[2k], sec[2k+1]   section k: len >= 0 and ins >= -1 (ins == -1 keeps len units);
 *   text[0..text_len)    for a set, the inserted texts of all sections concatenated in section
 *                        order; section k's text is max(ins, 0) units long (CodeMirror keeps one
 *                        Text per section, this is the same content without per-section objects).
 * Invariants: len == sum of section lengths, new_len == sum of (ins < 0 ? len : ins);
 * for a set, text_len == sum of max(ins, 0) (checked whenever a result is built);
 * parsed or built sets never contain (0, -1) or (0, 0) sections.
 * Every loop moves forward through finite section arrays; nothing recurses. Allocation failure is
 * reported as CD_ENOMEM everywhere and leaves no partial result behind.
 * Depends on util/ (buf, error, utf16) and cJSON only.
 */
#include "changeset.h"

#include "util/buf.h"
#include "util/error.h"
#include "util/utf16.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cd_cs {
    int64_t *sec;   /* 2 * nsec values, NULL when nsec == 0 */
    size_t nsec;    /* number of sections */
    uint16_t *text; /* concatenated inserted texts; NULL for a desc or when there is none */
    size_t text_len;
    int64_t len, new_len;
    int is_set;
};

/* ---- building results ---------------------------------------------------------------------- */

struct bld {
    int64_t *sec;
    size_t nval, cap; /* values used / allocated (two per section) */
    uint16_t *text;
    size_t tlen, tcap;
    int mk_set;
};

static void bld_init(struct bld *b, int mk_set)
{
    memset(b, 0, sizeof(*b));
    b->mk_set = mk_set;
}

static void bld_cleanup(struct bld *b)
{
    free(b->sec);
    free(b->text);
    bld_init(b, b->mk_set);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 16;
    void *np;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            return CD_ENOMEM;
        c *= 2;
    }
    if (c > SIZE_MAX / elem)
        return CD_ENOMEM;
    np = realloc(*p, c * elem);
    if (!np)
        return CD_ENOMEM;
    *p = np;
    *cap = c;
    return CD_OK;
}

static int push_section(struct bld *b, int64_t len, int64_t ins)
{
    if (b->nval + 2 > b->cap) {
        int rc = grow((void **)&b->sec, &b->cap, b->nval + 2, sizeof(*b->sec));
        if (rc)
            return rc;
    }
    b->sec[b->nval++] = len;
    b->sec[b->nval++] = ins;
    return CD_OK;
}

/* addSection: merge with the previous section where CodeMirror does. */
static int add_section(struct bld *b, int64_t len, int64_t ins, int force_join)
{
    int64_t *last;

    if (len == 0 && ins <= 0)
        return CD_OK;
    if (b->nval == 0)
        return push_section(b, len, ins);
    last = b->sec + b->nval - 2;
    if (ins <= 0 && ins == last[1]) {
        last[0] += len;
    } else if (len == 0 && last[0] == 0) {
        last[1] += ins;
    } else if (force_join && ins >= 0 && last[1] >= 0) {
        /* composeSets only forces a join into an open change; the guard keeps a keep section
         * from ever absorbing a change should that assumption break. */
        last[0] += len;
        last[1] += ins;
    } else {
        return push_section(b, len, ins);
    }
    return CD_OK;
}

/* addInsert: the text always belongs to the last section, so it is simply appended. */
static int add_insert(struct bld *b, const uint16_t *t, size_t n)
{
    if (!b->mk_set || n == 0)
        return CD_OK;
    if (n > SIZE_MAX - b->tlen)
        return CD_ENOMEM;
    if (b->tlen + n > b->tcap) {
        int rc = grow((void **)&b->text, &b->tcap, b->tlen + n, sizeof(*b->text));
        if (rc)
            return rc;
    }
    memcpy(b->text + b->tlen, t, n * sizeof(*t));
    b->tlen += n;
    return CD_OK;
}

/* Hand the built sections over as a new cd_cs; the builder is left empty. */
static int bld_finish(struct bld *b, struct cd_cs **out)
{
    struct cd_cs *cs;
    int64_t len = 0, new_len = 0, tl = 0;
    int rc = CD_OK;

    *out = NULL;
    for (size_t i = 0; i < b->nval; i += 2) {
        len += b->sec[i];
        new_len += b->sec[i + 1] < 0 ? b->sec[i] : b->sec[i + 1];
        tl += b->sec[i + 1] > 0 ? b->sec[i + 1] : 0;
    }
    if (b->mk_set && (size_t)tl != b->tlen) {
        rc = CD_EINVAL; /* texts out of step with sections: a bug, never a silent corruption */
        goto out;
    }
    cs = calloc(1, sizeof(*cs));
    if (!cs) {
        rc = CD_ENOMEM;
        goto out;
    }
    cs->nsec = b->nval / 2;
    cs->sec = b->nval ? b->sec : NULL;
    if (!b->nval)
        free(b->sec);
    cs->is_set = b->mk_set;
    cs->text = b->tlen ? b->text : NULL;
    if (!b->tlen)
        free(b->text);
    cs->text_len = b->tlen;
    cs->len = len;
    cs->new_len = new_len;
    b->sec = NULL;
    b->text = NULL;
    bld_init(b, b->mk_set);
    *out = cs;
out:
    return rc;
}

/* ---- SectionIter ------------------------------------------------------------------------------
 */

struct it {
    const struct cd_cs *cs;
    size_t next; /* next section to load; doubles as the section identity (CodeMirror's i) */
    int64_t len, ins, off;
    int64_t ins0; /* the section's original ins: its text length when > 0 */
    size_t tpos;  /* offset of the current section's text in cs->text */
    size_t tnext; /* offset of the following section's text */
};

#define IT_DONE (-2)

static void it_next(struct it *it)
{
    if (it->next < it->cs->nsec) {
        it->len = it->cs->sec[2 * it->next];
        it->ins = it->cs->sec[2 * it->next + 1];
        it->next++;
        it->tpos = it->tnext;
        it->tnext += it->ins > 0 ? (size_t)it->ins : 0;
    } else {
        it->len = 0;
        it->ins = IT_DONE;
    }
    it->ins0 = it->ins;
    it->off = 0;
}

static void it_init(struct it *it, const struct cd_cs *cs)
{
    memset(it, 0, sizeof(*it));
    it->cs = cs;
    it_next(it);
}

static int it_done(const struct it *it)
{
    return it->ins == IT_DONE;
}

static int64_t it_len2(const struct it *it)
{
    return it->ins < 0 ? it->len : it->ins;
}

/* The whole text of the current section. */
static const uint16_t *it_text(const struct it *it, size_t *n)
{
    *n = it->ins0 > 0 && it->cs->text ? (size_t)it->ins0 : 0;
    return *n ? it->cs->text + it->tpos : NULL;
}

/* textBit(len): part of the current section's text from the current offset. */
static const uint16_t *it_text_bit(const struct it *it, int64_t len, size_t *n)
{
    *n = it->ins0 > 0 && it->cs->text ? (size_t)len : 0;
    return *n ? it->cs->text + it->tpos + it->off : NULL;
}

static void it_forward(struct it *it, int64_t len)
{
    if (len == it->len) {
        it_next(it);
    } else {
        it->len -= len;
        it->off += len;
    }
}

static void it_forward2(struct it *it, int64_t len)
{
    if (it->ins == -1) {
        it_forward(it, len);
    } else if (len == it->ins) {
        it_next(it);
    } else {
        it->ins -= len;
        it->off += len;
    }
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- mapSet / composeSets ----------------------------------------------------------------------
 */

/* Produce a copy of a that applies to the document after b (both start in the same document).
 * mk_set: build texts (a must then be a set). */
static int map_set(const struct cd_cs *A, const struct cd_cs *B, int before, int mk_set,
                   struct cd_cs **out)
{
    struct bld res;
    struct it a, b;
    long inserted = -1; /* identity of the A section whose insertion has been emitted */
    int rc = CD_OK;
    size_t tn;
    const uint16_t *t;

    *out = NULL;
    bld_init(&res, mk_set);
    if (A->len != B->len) {
        rc = CD_EMISMATCH;
        goto out;
    }
    it_init(&a, A);
    it_init(&b, B);
    for (;;) {
        if ((it_done(&a) && b.len) || (it_done(&b) && a.len)) {
            rc = CD_EMISMATCH;
            goto out;
        } else if (a.ins == -1 && b.ins == -1) {
            /* Move across ranges skipped by both sets. */
            int64_t len = min64(a.len, b.len);
            if ((rc = add_section(&res, len, -1, 0)))
                goto out;
            it_forward(&a, len);
            it_forward(&b, len);
        } else if (b.ins >= 0 && (a.ins < 0 || inserted == (long)a.next ||
                                  (a.off == 0 && (b.len < a.len || (b.len == a.len && !before))))) {
            /* A change in B comes first: skip it, and emit the insertions of A it covers. */
            int64_t len = b.len;
            if ((rc = add_section(&res, b.ins, -1, 0)))
                goto out;
            while (len) {
                int64_t piece = min64(a.len, len);
                if (it_done(&a)) {
                    rc = CD_EMISMATCH;
                    goto out;
                }
                if (a.ins >= 0 && inserted < (long)a.next && a.len <= piece) {
                    if ((rc = add_section(&res, 0, a.ins, 0)))
                        goto out;
                    t = it_text(&a, &tn);
                    if ((rc = add_insert(&res, t, tn)))
                        goto out;
                    inserted = (long)a.next;
                }
                it_forward(&a, piece);
                len -= piece;
            }
            it_next(&b);
        } else if (a.ins >= 0) {
            /* The part of A's change up to the next non-deletion change in B. */
            int64_t len = 0, left = a.len;
            while (left) {
                if (b.ins == -1) {
                    int64_t piece = min64(left, b.len);
                    len += piece;
                    left -= piece;
                    it_forward(&b, piece);
                } else if (b.ins == 0 && b.len < left) {
                    left -= b.len;
                    it_next(&b);
                } else {
                    break;
                }
            }
            if ((rc = add_section(&res, len, inserted < (long)a.next ? a.ins : 0, 0)))
                goto out;
            if (inserted < (long)a.next) {
                t = it_text(&a, &tn);
                if ((rc = add_insert(&res, t, tn)))
                    goto out;
            }
            inserted = (long)a.next;
            it_forward(&a, a.len - left);
        } else if (it_done(&a) && it_done(&b)) {
            rc = bld_finish(&res, out);
            goto out;
        } else {
            rc = CD_EMISMATCH;
            goto out;
        }
    }
out:
    bld_cleanup(&res);
    return rc;
}

/* The combined effect of A then B (A.newLen == B.len). mk_set: build texts (both sets). */
static int compose_sets(const struct cd_cs *A, const struct cd_cs *B, int mk_set,
                        struct cd_cs **out)
{
    struct bld res;
    struct it a, b;
    int open = 0, rc = CD_OK;
    size_t tn;
    const uint16_t *t;

    *out = NULL;
    bld_init(&res, mk_set);
    if (A->new_len != B->len) {
        rc = CD_EMISMATCH;
        goto out;
    }
    it_init(&a, A);
    it_init(&b, B);
    for (;;) {
        if (it_done(&a) && it_done(&b)) {
            rc = bld_finish(&res, out);
            goto out;
        } else if (a.ins == 0) { /* deletion in A */
            if ((rc = add_section(&res, a.len, 0, open)))
                goto out;
            it_next(&a);
        } else if (b.len == 0 && !it_done(&b)) { /* insertion in B */
            if ((rc = add_section(&res, 0, b.ins, open)))
                goto out;
            t = it_text(&b, &tn);
            if ((rc = add_insert(&res, t, tn)))
                goto out;
            it_next(&b);
        } else if (it_done(&a) || it_done(&b)) {
            rc = CD_EMISMATCH;
            goto out;
        } else {
            int64_t len = min64(it_len2(&a), b.len);
            size_t before_len = res.nval;
            if (a.ins == -1) {
                int64_t ins_b = b.ins == -1 ? -1 : b.off ? 0 : b.ins;
                if ((rc = add_section(&res, len, ins_b, open)))
                    goto out;
                if (ins_b) {
                    t = it_text(&b, &tn);
                    if ((rc = add_insert(&res, t, tn)))
                        goto out;
                }
            } else if (b.ins == -1) {
                if ((rc = add_section(&res, a.off ? 0 : a.len, len, open)))
                    goto out;
                t = it_text_bit(&a, len, &tn);
                if ((rc = add_insert(&res, t, tn)))
                    goto out;
            } else {
                if ((rc = add_section(&res, a.off ? 0 : a.len, b.off ? 0 : b.ins, open)))
                    goto out;
                if (!b.off) {
                    t = it_text(&b, &tn);
                    if ((rc = add_insert(&res, t, tn)))
                        goto out;
                }
            }
            open = (a.ins > len || (b.ins >= 0 && b.len > len)) && (open || res.nval > before_len);
            it_forward2(&a, len);
            it_forward(&b, len);
        }
    }
out:
    bld_cleanup(&res);
    return rc;
}

/* ---- small public pieces ------------------------------------------------------------------------
 */

void cd_cs_free(struct cd_cs *cs)
{
    if (!cs)
        return;
    free(cs->sec);
    free(cs->text);
    free(cs);
}

size_t cd_cs_len(const struct cd_cs *cs)
{
    return (size_t)cs->len;
}

size_t cd_cs_new_len(const struct cd_cs *cs)
{
    return (size_t)cs->new_len;
}

int cd_cs_empty(const struct cd_cs *cs)
{
    return cs->nsec == 0 || (cs->nsec == 1 && cs->sec[1] < 0);
}

int cd_cs_is_set(const struct cd_cs *cs)
{
    return cs->is_set;
}

size_t cd_cs_mem(const struct cd_cs *cs)
{
    return sizeof(*cs) + cs->nsec * 2 * sizeof(*cs->sec) + cs->text_len * sizeof(*cs->text);
}

/* Copy of cs; with_text == 0 makes a desc. */
static int copy_cs(const struct cd_cs *cs, int with_text, struct cd_cs **out)
{
    struct cd_cs *c = calloc(1, sizeof(*c));
    int rc = CD_OK;

    *out = NULL;
    if (!c) {
        rc = CD_ENOMEM;
        goto out;
    }
    c->nsec = cs->nsec;
    c->len = cs->len;
    c->new_len = cs->new_len;
    c->is_set = with_text && cs->is_set;
    if (cs->nsec) {
        c->sec = malloc(cs->nsec * 2 * sizeof(*c->sec));
        if (!c->sec) {
            rc = CD_ENOMEM;
            goto out;
        }
        memcpy(c->sec, cs->sec, cs->nsec * 2 * sizeof(*c->sec));
    }
    if (c->is_set && cs->text_len) {
        c->text = malloc(cs->text_len * sizeof(*c->text));
        if (!c->text) {
            rc = CD_ENOMEM;
            goto out;
        }
        memcpy(c->text, cs->text, cs->text_len * sizeof(*c->text));
        c->text_len = cs->text_len;
    }
    *out = c;
    c = NULL;
out:
    cd_cs_free(c);
    return rc;
}

int cd_cs_dup(const struct cd_cs *cs, struct cd_cs **out)
{
    return copy_cs(cs, 1, out);
}

int cd_cs_desc(const struct cd_cs *cs, struct cd_cs **out)
{
    return copy_cs(cs, 0, out);
}

int cd_cs_new_empty(size_t length, struct cd_cs **out)
{
    struct bld b;
    int rc;

    *out = NULL;
    bld_init(&b, 1);
    if (length > (size_t)CD_CS_MAX_LEN) {
        rc = CD_ERANGE;
        goto out;
    }
    if ((rc = add_section(&b, (int64_t)length, -1, 0)))
        goto out;
    rc = bld_finish(&b, out);
out:
    bld_cleanup(&b);
    return rc;
}

/* ---- JSON
 * ------------------------------------------------------------------------------------------ */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A JSON number that is an integer in [min, CD_CS_MAX_LEN]: 0 and *v, or -1 (bad) / -2 (big). */
static int json_length(const cJSON *item, int64_t min, int64_t *v)
{
    double d;
    if (!cJSON_IsNumber(item))
        return -1;
    d = item->valuedouble;
    if (!(d >= (double)min)) /* also refuses NaN */
        return -1;
    if (d > (double)CD_CS_MAX_LEN)
        return -2;
    if (d != (double)(int64_t)d)
        return -1;
    *v = (int64_t)d;
    return 0;
}

/* Validate one line of an inserted text; *units receives its UTF-16 length. */
static int check_line(const cJSON *line, size_t item, size_t el, size_t *units, char *err,
                      size_t errlen)
{
    long count;
    size_t n;

    if (!cJSON_IsString(line) || !line->valuestring) {
        seterr(err, errlen, "item %zu, element %zu: inserted line must be a string", item, el);
        return CD_EPARSE;
    }
    n = strlen(line->valuestring);
    if (memchr(line->valuestring, '\n', n)) {
        seterr(err, errlen,
               "item %zu, element %zu: inserted line contains a line break "
               "(lines are separate strings)",
               item, el);
        return CD_EPARSE;
    }
    count = cd_utf16_count_wtf8(line->valuestring, n);
    if (count < 0) {
        seterr(err, errlen, "item %zu, element %zu: inserted line is not valid UTF-8", item, el);
        return CD_EPARSE;
    }
    *units = (size_t)count;
    return CD_OK;
}

/* Check one item (first pass); its section goes to *len and *ins. */
static int check_item(const cJSON *part, size_t item, int64_t *len, int64_t *ins, char *err,
                      size_t errlen)
{
    const cJSON *el;
    size_t idx = 1, total = 0;
    int r, rc = CD_EPARSE;

    if (cJSON_IsNumber(part)) {
        r = json_length(part, 1, len);
        if (r == -2)
            seterr(err, errlen, "item %zu: keep length is too large (maximum %ld)", item,
                   CD_CS_MAX_LEN);
        else if (r)
            seterr(err, errlen, "item %zu: keep length must be a positive integer", item);
        else {
            *ins = -1;
            rc = CD_OK;
        }
        goto out;
    }
    if (!cJSON_IsArray(part)) {
        seterr(err, errlen, "item %zu: must be a number (keep) or an array (change)", item);
        goto out;
    }
    if (!part->child) {
        seterr(err, errlen, "item %zu: change must not be an empty array", item);
        goto out;
    }
    r = json_length(part->child, 0, len);
    if (r == -2) {
        seterr(err, errlen, "item %zu: deletion length is too large (maximum %ld)", item,
               CD_CS_MAX_LEN);
        goto out;
    } else if (r) {
        seterr(err, errlen, "item %zu: deletion length must be a non-negative integer", item);
        goto out;
    }
    for (el = part->child->next; el; el = el->next, idx++) {
        size_t units = 0;
        if ((rc = check_line(el, item, idx, &units, err, errlen)))
            goto out;
        rc = CD_EPARSE;
        total += units + (idx > 1); /* a "\n" joins consecutive lines */
        if (total > (size_t)CD_CS_MAX_LEN) {
            seterr(err, errlen, "item %zu: inserted text is too long (maximum %ld)", item,
                   CD_CS_MAX_LEN);
            goto out;
        }
    }
    if (*len == 0 && total == 0) {
        seterr(err, errlen, "item %zu: change neither deletes nor inserts anything", item);
        goto out;
    }
    *ins = (int64_t)total;
    rc = CD_OK;
out:
    return rc;
}

int cd_cs_from_json(const cJSON *json, struct cd_cs **out, char *err, size_t errlen)
{
    struct cd_cs *cs = NULL;
    const cJSON *part;
    size_t nitems = 0, k, tpos = 0;
    int64_t len = 0, new_len = 0, text_total = 0;
    int rc = CD_EPARSE;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!cJSON_IsArray(json)) {
        seterr(err, errlen, "change set must be a JSON array");
        goto out;
    }
    for (part = json->child; part; part = part->next)
        nitems++;
    cs = calloc(1, sizeof(*cs));
    if (!cs)
        goto nomem;
    cs->is_set = 1;
    if (nitems) {
        if (nitems > SIZE_MAX / (2 * sizeof(*cs->sec)))
            goto nomem;
        cs->sec = malloc(nitems * 2 * sizeof(*cs->sec));
        if (!cs->sec)
            goto nomem;
    }
    /* First pass: validate and size everything. */
    for (part = json->child, k = 0; part; part = part->next, k++) {
        int64_t l = 0, ins = 0;
        if ((rc = check_item(part, k, &l, &ins, err, errlen)))
            goto out;
        rc = CD_EPARSE;
        cs->sec[2 * k] = l;
        cs->sec[2 * k + 1] = ins;
        len += l;
        new_len += ins < 0 ? l : ins;
        text_total += ins > 0 ? ins : 0;
        if (len > CD_CS_MAX_LEN || new_len > CD_CS_MAX_LEN) {
            seterr(err, errlen, "item %zu: document length exceeds the maximum %ld", k,
                   CD_CS_MAX_LEN);
            goto out;
        }
    }
    cs->nsec = nitems;
    cs->len = len;
    cs->new_len = new_len;
    /* Second pass: decode the texts into one array. */
    if (text_total) {
        cs->text = malloc((size_t)text_total * sizeof(*cs->text));
        if (!cs->text)
            goto nomem;
        for (part = json->child; part; part = part->next) {
            const cJSON *el;
            if (!cJSON_IsArray(part))
                continue;
            for (el = part->child->next; el; el = el->next) {
                size_t w = 0;
                if (el != part->child->next)
                    cs->text[tpos++] = '\n';
                rc = cd_utf16_decode_wtf8(el->valuestring, strlen(el->valuestring), cs->text + tpos,
                                          (size_t)text_total - tpos, &w);
                if (rc) {
                    rc = CD_EINVAL; /* validated above: unreachable */
                    seterr(err, errlen, "internal error decoding inserted text");
                    goto out;
                }
                tpos += w;
            }
        }
        cs->text_len = tpos;
    }
    *out = cs;
    cs = NULL;
    rc = CD_OK;
    goto out;
nomem:
    rc = CD_ENOMEM;
    seterr(err, errlen, "out of memory");
out:
    cd_cs_free(cs);
    return rc;
}

static int append_int(struct cd_buf *b, int64_t v)
{
    char tmp[24];
    size_t p = sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--p] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--p] = '-';
    return cd_buf_append(b, tmp + p, sizeof(tmp) - p);
}

static int append_lines(struct cd_buf *b, const uint16_t *t, size_t n)
{
    size_t start = 0;
    int rc;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && t[i] != '\n')
            continue;
        if ((rc = cd_buf_append(b, ",", 1)))
            return rc;
        if ((rc = cd_utf16_json_append(b, t + start, i - start)))
            return rc;
        start = i + 1;
    }
    return CD_OK;
}

int cd_cs_to_json(const struct cd_cs *cs, struct cd_buf *out)
{
    size_t saved = out->len, tpos = 0;
    int rc;

    if (!cs->is_set) {
        rc = CD_EINVAL;
        goto out;
    }
    if ((rc = cd_buf_append(out, "[", 1)))
        goto out;
    for (size_t k = 0; k < cs->nsec; k++) {
        int64_t len = cs->sec[2 * k], ins = cs->sec[2 * k + 1];
        if (k && (rc = cd_buf_append(out, ",", 1)))
            goto out;
        if (ins < 0) {
            rc = append_int(out, len);
        } else {
            if ((rc = cd_buf_append(out, "[", 1)) || (rc = append_int(out, len)))
                goto out;
            if (ins > 0) {
                if ((rc = append_lines(out, cs->text + tpos, (size_t)ins)))
                    goto out;
                tpos += (size_t)ins;
            }
            rc = cd_buf_append(out, "]", 1);
        }
        if (rc)
            goto out;
    }
    rc = cd_buf_append(out, "]", 1);
out:
    if (rc && out->data) {
        out->len = saved;
        out->data[saved] = '\0';
    }
    return rc;
}

int cd_cs_desc_to_json(const struct cd_cs *cs, struct cd_buf *out)
{
    size_t saved = out->len;
    int rc;

    if ((rc = cd_buf_append(out, "[", 1)))
        goto out;
    for (size_t i = 0; i < cs->nsec * 2; i++) {
        if (i && (rc = cd_buf_append(out, ",", 1)))
            goto out;
        if ((rc = append_int(out, cs->sec[i])))
            goto out;
    }
    rc = cd_buf_append(out, "]", 1);
out:
    if (rc && out->data) {
        out->len = saved;
        out->data[saved] = '\0';
    }
    return rc;
}

/* ---- applying -----------------------------------------------------------------------------------
 */

int cd_cs_apply(const struct cd_cs *cs, const uint16_t *doc, size_t n, uint16_t **out,
                size_t *out_len)
{
    uint16_t *res = NULL;
    size_t posa = 0, w = 0, tpos = 0;
    int rc = CD_OK;

    *out = NULL;
    *out_len = 0;
    if (!cs->is_set) {
        rc = CD_EINVAL;
        goto out;
    }
    if (n != (size_t)cs->len) {
        rc = CD_EMISMATCH;
        goto out;
    }
    res = malloc(((size_t)cs->new_len + 1) * sizeof(*res));
    if (!res) {
        rc = CD_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < cs->nsec; k++) {
        size_t len = (size_t)cs->sec[2 * k];
        int64_t ins = cs->sec[2 * k + 1];
        if (ins < 0) {
            if (len)
                memcpy(res + w, doc + posa, len * sizeof(*res));
            w += len;
        } else if (ins > 0) {
            memcpy(res + w, cs->text + tpos, (size_t)ins * sizeof(*res));
            w += (size_t)ins;
            tpos += (size_t)ins;
        }
        posa += len;
    }
    *out = res;
    *out_len = w;
    res = NULL;
out:
    free(res);
    return rc;
}

int cd_cs_invert(const struct cd_cs *cs, const uint16_t *doc, size_t n, struct cd_cs **out)
{
    struct bld b;
    size_t pos = 0;
    int rc = CD_OK;

    *out = NULL;
    bld_init(&b, 1);
    if (n != (size_t)cs->len) {
        rc = CD_EMISMATCH;
        goto out;
    }
    /* Sections are swapped one for one, never merged (like CodeMirror's slice()). */
    for (size_t k = 0; k < cs->nsec; k++) {
        int64_t len = cs->sec[2 * k], ins = cs->sec[2 * k + 1];
        if ((rc = push_section(&b, ins < 0 ? len : ins, ins < 0 ? ins : len)))
            goto out;
        if (ins >= 0 && len && (rc = add_insert(&b, doc + pos, (size_t)len)))
            goto out;
        pos += (size_t)len;
    }
    rc = bld_finish(&b, out);
out:
    bld_cleanup(&b);
    return rc;
}

int cd_cs_iter_changes(const struct cd_cs *cs, cd_cs_change_fn fn, void *ctx)
{
    size_t posa = 0, posb = 0, tpos = 0, k = 0;

    while (k < cs->nsec) {
        int64_t len = cs->sec[2 * k], ins = cs->sec[2 * k + 1];
        size_t enda = posa, endb = posb, tstart = tpos;
        int r;
        k++;
        if (ins < 0) {
            posa += (size_t)len;
            posb += (size_t)len;
            continue;
        }
        for (;;) {
            enda += (size_t)len;
            endb += (size_t)ins;
            tpos += (size_t)ins;
            if (k == cs->nsec || cs->sec[2 * k + 1] < 0)
                break;
            len = cs->sec[2 * k];
            ins = cs->sec[2 * k + 1];
            k++;
        }
        r = fn(ctx, posa, enda, posb, endb, cs->is_set && tpos > tstart ? cs->text + tstart : NULL,
               cs->is_set ? tpos - tstart : 0);
        if (r)
            return r;
        posa = enda;
        posb = endb;
    }
    return 0;
}

int cd_cs_map_pos(const struct cd_cs *cs, size_t pos, int assoc, enum cd_map_mode mode, size_t *out)
{
    int64_t p = (int64_t)pos, posa = 0, posb = 0;

    if (pos > (size_t)cs->len)
        return CD_ERANGE;
    for (size_t k = 0; k < cs->nsec; k++) {
        int64_t len = cs->sec[2 * k], ins = cs->sec[2 * k + 1], enda = posa + len;
        if (ins < 0) {
            if (enda > p) {
                *out = (size_t)(posb + (p - posa));
                return CD_OK;
            }
            posb += len;
        } else {
            if (mode != CD_MAP_SIMPLE && enda >= p &&
                ((mode == CD_MAP_TRACK_DEL && posa < p && enda > p) ||
                 (mode == CD_MAP_TRACK_BEFORE && posa < p) ||
                 (mode == CD_MAP_TRACK_AFTER && enda > p)))
                return CD_ENOTFOUND;
            if (enda > p || (enda == p && assoc < 0 && !len)) {
                *out = (size_t)(p == posa || assoc < 0 ? posb : posb + ins);
                return CD_OK;
            }
            posb += ins;
        }
        posa = enda;
    }
    *out = (size_t)posb;
    return CD_OK;
}

/* ---- algebra
 * ------------------------------------------------------------------------------------- */

int cd_cs_compose(const struct cd_cs *a, const struct cd_cs *b, struct cd_cs **out)
{
    *out = NULL;
    if (!a->is_set || !b->is_set)
        return CD_EINVAL;
    if (a->new_len != b->len)
        return CD_EMISMATCH;
    if (cd_cs_empty(a))
        return copy_cs(b, 1, out);
    if (cd_cs_empty(b))
        return copy_cs(a, 1, out);
    return compose_sets(a, b, 1, out);
}

int cd_cs_compose_desc(const struct cd_cs *a, const struct cd_cs *b, struct cd_cs **out)
{
    *out = NULL;
    if (a->new_len != b->len)
        return CD_EMISMATCH;
    if (cd_cs_empty(a))
        return copy_cs(b, 1, out);
    if (cd_cs_empty(b))
        return copy_cs(a, 1, out);
    return compose_sets(a, b, 0, out);
}

int cd_cs_map(const struct cd_cs *a, const struct cd_cs *b, int before, struct cd_cs **out)
{
    *out = NULL;
    if (!a->is_set)
        return CD_EINVAL;
    if (a->len != b->len)
        return CD_EMISMATCH;
    if (cd_cs_empty(b))
        return copy_cs(a, 1, out);
    return map_set(a, b, before, 1, out);
}

int cd_cs_map_desc(const struct cd_cs *a, const struct cd_cs *b, int before, struct cd_cs **out)
{
    *out = NULL;
    if (a->len != b->len)
        return CD_EMISMATCH;
    if (!a->is_set && cd_cs_empty(b))
        return copy_cs(a, 0, out);
    return map_set(a, b, before, a->is_set, out);
}

/* ---- ChangeSet.of
 * -------------------------------------------------------------------------------- */

/* insert with "\r\n" and "\r" turned into "\n" (CodeMirror splits on /\r\n?|\n/ and joins lines
 * with "\n"); *out is malloc'd (NULL when n == 0). */
static int normalise_breaks(const uint16_t *in, size_t n, uint16_t **out, size_t *out_n)
{
    uint16_t *t;
    size_t w = 0;

    *out = NULL;
    *out_n = 0;
    if (!n)
        return CD_OK;
    t = malloc(n * sizeof(*t));
    if (!t)
        return CD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\r') {
            t[w++] = '\n';
            if (i + 1 < n && in[i + 1] == '\n')
                i++;
        } else {
            t[w++] = in[i];
        }
    }
    *out = t;
    *out_n = w;
    return CD_OK;
}

/* flush() of ChangeSet.of: close the pending sections into a set and fold it into *total. */
static int of_flush(struct bld *cur, int64_t *pos, int64_t length, struct cd_cs **total)
{
    struct cd_cs *set = NULL, *mapped = NULL, *next = NULL;
    int rc;

    if (*pos < length && (rc = add_section(cur, length - *pos, -1, 0)))
        goto out;
    if ((rc = bld_finish(cur, &set)))
        goto out;
    *pos = 0;
    if (!*total) {
        *total = set;
        set = NULL;
        goto out;
    }
    if ((rc = cd_cs_map(set, *total, 0, &mapped)))
        goto out;
    if ((rc = cd_cs_compose(*total, mapped, &next)))
        goto out;
    cd_cs_free(*total);
    *total = next;
out:
    cd_cs_free(set);
    cd_cs_free(mapped);
    return rc;
}

int cd_cs_of(const struct cd_cs_change *changes, size_t n, size_t length, struct cd_cs **out)
{
    struct bld cur;
    struct cd_cs *total = NULL;
    uint16_t *ins = NULL;
    size_t ins_len = 0;
    int64_t pos = 0;
    int rc = CD_OK;

    *out = NULL;
    bld_init(&cur, 1);
    if (length > (size_t)CD_CS_MAX_LEN) {
        rc = CD_ERANGE;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cd_cs_change *c = &changes[i];
        if (c->from > c->to || c->to > length) {
            rc = CD_ERANGE;
            goto out;
        }
        free(ins);
        if ((rc = normalise_breaks(c->insert, c->insert_len, &ins, &ins_len)))
            goto out;
        if (c->from == c->to && ins_len == 0)
            continue;
        /* pos > 0 implies pending sections, so this flush always has work to do */
        if ((int64_t)c->from < pos && (rc = of_flush(&cur, &pos, (int64_t)length, &total)))
            goto out;
        if ((int64_t)c->from > pos && (rc = add_section(&cur, (int64_t)c->from - pos, -1, 0)))
            goto out;
        if ((rc = add_section(&cur, (int64_t)(c->to - c->from), (int64_t)ins_len, 0)))
            goto out;
        if ((rc = add_insert(&cur, ins, ins_len)))
            goto out;
        pos = (int64_t)c->to;
    }
    if ((!total || cur.nval) && (rc = of_flush(&cur, &pos, (int64_t)length, &total)))
        goto out;
    *out = total;
    total = NULL;
out:
    free(ins);
    bld_cleanup(&cur);
    cd_cs_free(total);
    return rc;
}

/* ---- rebaseUpdates
 * ------------------------------------------------------------------------------- */

void cd_update_cleanup(struct cd_update *u)
{
    free(u->client_id);
    u->client_id = NULL;
    cd_cs_free(u->changes);
    u->changes = NULL;
}

/* The running `changes` value of rebaseUpdates: either borrowed from an input or owned.
 * as_set records whether CodeMirror would hold a ChangeSet there (its mapDesc then has no
 * empty-shortcut), which decides the exact sections of later results. */
struct run {
    const struct cd_cs *cur;
    struct cd_cs *owned;
    int as_set;
};

static void run_take(struct run *r, struct cd_cs *res, int as_set)
{
    cd_cs_free(r->owned);
    r->owned = res;
    r->cur = res;
    r->as_set = as_set;
}

/* changes = changes.mapDesc(other, true) */
static int run_map_desc(struct run *r, const struct cd_cs *other)
{
    struct cd_cs *res = NULL;
    int rc;

    if (r->cur->len != other->len)
        return CD_EMISMATCH;
    if (!r->as_set && cd_cs_empty(other))
        return CD_OK;
    /* The sections do not depend on whether texts are built, so build none. */
    if ((rc = map_set(r->cur, other, 1, 0, &res)))
        return rc;
    run_take(r, res, r->as_set);
    return CD_OK;
}

/* changes = changes ? changes.composeDesc(next) : next */
static int run_compose_desc(struct run *r, const struct cd_cs *next)
{
    struct cd_cs *res = NULL;
    int rc;

    if (r->cur && r->cur->new_len != next->len)
        return CD_EMISMATCH;
    if (!r->cur || cd_cs_empty(r->cur)) {
        run_take(r, NULL, next->is_set);
        r->cur = next;
        return CD_OK;
    }
    if (cd_cs_empty(next))
        return CD_OK;
    if ((rc = compose_sets(r->cur, next, 0, &res)))
        return rc;
    run_take(r, res, 0);
    return CD_OK;
}

int cd_cs_rebase_updates(struct cd_update *updates, size_t n, const struct cd_update *over,
                         size_t nover, size_t *n_out)
{
    struct run r = {NULL, NULL, 0};
    struct cd_cs **mapped = NULL; /* new change sets for updates[skip..n); NULL = unchanged */
    size_t skip = 0, k;
    int rc = CD_OK;

    *n_out = n;
    if (!nover || !n)
        goto out;
    for (k = 0; k < n; k++) {
        if (!updates[k].changes || !updates[k].changes->is_set || !updates[k].client_id) {
            rc = CD_EINVAL;
            goto out;
        }
    }
    for (k = 0; k < nover; k++) {
        const struct cd_update *u = &over[k];
        const struct cd_update *other = skip < n ? &updates[skip] : NULL;
        if (!u->changes || !u->client_id) {
            rc = CD_EINVAL;
            goto out;
        }
        if (other && strcmp(other->client_id, u->client_id) == 0) {
            if (r.cur && (rc = run_map_desc(&r, other->changes)))
                goto out;
            skip++;
        } else if ((rc = run_compose_desc(&r, u->changes))) {
            goto out;
        }
    }
    if (r.cur && n > skip) {
        mapped = calloc(n - skip, sizeof(*mapped));
        if (!mapped) {
            rc = CD_ENOMEM;
            goto out;
        }
        for (k = skip; k < n; k++) {
            const struct cd_cs *uc = updates[k].changes;
            /* update.changes.map(changes): ChangeSet.map, so an empty `changes` is a no-op. */
            if (uc->len != r.cur->len) {
                rc = CD_EMISMATCH;
                goto out;
            }
            if (!cd_cs_empty(r.cur) && (rc = map_set(uc, r.cur, 0, 1, &mapped[k - skip])))
                goto out;
            if ((rc = run_map_desc(&r, uc)))
                goto out;
        }
    }
    /* Commit: nothing below can fail. */
    for (k = 0; k < skip; k++)
        cd_update_cleanup(&updates[k]);
    for (k = skip; k < n; k++) {
        if (mapped && mapped[k - skip]) {
            cd_cs_free(updates[k].changes);
            updates[k].changes = mapped[k - skip];
            mapped[k - skip] = NULL;
        }
        updates[k - skip] = updates[k];
    }
    for (k = n - skip; k < n; k++) {
        updates[k].client_id = NULL;
        updates[k].changes = NULL;
    }
    *n_out = n - skip;
out:
    if (mapped) {
        for (k = 0; k < n - skip; k++)
            cd_cs_free(mapped[k]);
        free(mapped);
    }
    cd_cs_free(r.owned);
    return rc;
}
