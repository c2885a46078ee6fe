/*
 * test_doc.c: unit tests for collab/doc (the rope document).
 * The core is a differential test: thousands of random replaces applied both to a cd_doc and to
 * a plain array, compared after every step (length, lines, slices, line lookups, cd_doc_check).
 * The seed comes from CD_DOC_SEED when set and is printed, so any failure can be replayed.
 * Owns nothing beyond its own test data; depends on collab/doc and util/error only.
 */
#include "collab/doc.h"
#include "util/error.h"
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n]; n may be 0. */
static size_t upto(size_t n)
{
    return (size_t)(rnd() % ((uint64_t)n + 1));
}

/* Units that must survive as they are: newline, CR, lone and paired surrogates, NUL, U+2028. */
static const uint16_t special[] = {0x000A, 0x000A, 0x000D, 0xD800, 0xDBFF, 0xDC00,
                                   0xDFFF, 0x0000, 0x2028, 0xFFFF, 0xFEFF};

static void fill_random(uint16_t *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)(rnd() % 32);
        if (r < 22) {
            u[i] = (uint16_t)('a' + rnd() % 26);
        } else if (r < 26) {
            u[i] = '\n';
        } else if (r < 28 && i + 1 < n) { /* a valid pair: U+1F600 */
            u[i++] = 0xD83D;
            u[i] = 0xDE00;
        } else {
            u[i] = special[rnd() % (sizeof special / sizeof special[0])];
        }
    }
}

static uint16_t *units(const char *s, size_t *n)
{
    size_t len = strlen(s);
    uint16_t *u = malloc(len ? len * sizeof *u : 1);
    for (size_t i = 0; u && i < len; i++)
        u[i] = (uint8_t)s[i];
    *n = len;
    return u;
}

/* The plain-array model. */
struct model {
    uint16_t *u;
    size_t n, cap;
};

static void model_replace(struct model *m, size_t from, size_t to, const uint16_t *ins, size_t n)
{
    size_t need = m->n - (to - from) + n;
    if (need > m->cap || !m->u) {
        m->cap = need * 2 + 16;
        m->u = realloc(m->u, m->cap * sizeof *m->u);
        if (!m->u) {
            fprintf(stderr, "model: out of memory\n");
            exit(2);
        }
    }
    memmove(m->u + from + n, m->u + to, (m->n - to) * sizeof *m->u);
    if (n)
        memcpy(m->u + from, ins, n * sizeof *ins);
    m->n = need;
}

static size_t model_lines(const struct model *m)
{
    size_t c = 1;
    for (size_t i = 0; i < m->n; i++)
        c += m->u[i] == '\n';
    return c;
}

static void model_line_at(const struct model *m, size_t pos, size_t *no, size_t *from, size_t *to)
{
    size_t n = 1, f = 0, t = pos;
    for (size_t i = 0; i < pos; i++)
        if (m->u[i] == '\n') {
            n++;
            f = i + 1;
        }
    while (t < m->n && m->u[t] != '\n')
        t++;
    *no = n;
    *from = f;
    *to = t;
}

/* Returns 0 and the bounds of line `no`, or -1 if there is no such line. */
static int model_line(const struct model *m, size_t no, size_t *from, size_t *to)
{
    size_t n = 1, f = 0, t;
    if (no < 1)
        return -1;
    for (size_t i = 0; i < m->n && n < no; i++)
        if (m->u[i] == '\n') {
            n++;
            f = i + 1;
        }
    if (n != no)
        return -1;
    for (t = f; t < m->n && m->u[t] != '\n';)
        t++;
    *from = f;
    *to = t;
    return 0;
}

/* 1 if the whole document equals u[0..n). */
static int doc_equals(const struct cd_doc *d, const uint16_t *u, size_t n)
{
    uint16_t *s = NULL;
    size_t sn = 0;
    int eq;
    if (cd_doc_len(d) != n || cd_doc_slice(d, 0, n, &s, &sn) != 0)
        return 0;
    eq = sn == n && (n == 0 || memcmp(s, u, n * sizeof *u) == 0);
    free(s);
    return eq;
}

/* foreach collects into a buffer and checks that chunks are non-empty. */
struct gather {
    uint16_t *u;
    size_t n, cap, chunks, empty_chunks;
};

static int gather_chunk(void *ctx, const uint16_t *u, size_t n)
{
    struct gather *g = ctx;
    g->chunks++;
    if (n == 0)
        g->empty_chunks++;
    if (g->n + n > g->cap)
        return 99; /* more text than the range holds */
    memcpy(g->u + g->n, u, n * sizeof *u);
    g->n += n;
    return 0;
}

/* The depth bound that holds whatever the node sizes (fan-out >= 2): len >= 2^height. */
static int height_ok(const struct cd_doc *d)
{
    size_t h = cd_doc_height(d), len = cd_doc_len(d);
    return h == 0 || (h < 64 && (len >> h) >= 1);
}

/* ---- edge cases ---- */

static void test_empty(void)
{
    struct cd_doc *d = cd_doc_new();
    uint16_t *s = NULL;
    size_t sn = 7, no = 0, f = 9, t = 9;
    CD_CHECK(d != NULL);
    if (!d)
        return;
    CD_CHECK_INT(cd_doc_len(d), 0);
    CD_CHECK_INT(cd_doc_lines(d), 1);
    CD_CHECK_INT(cd_doc_check(d), 0);
    CD_CHECK_INT(cd_doc_height(d), 0);
    CD_CHECK(cd_doc_mem(d) > 0);
    CD_CHECK_INT(cd_doc_slice(d, 0, 0, &s, &sn), 0);
    CD_CHECK(s != NULL);
    CD_CHECK_INT(sn, 0);
    free(s);
    CD_CHECK_INT(cd_doc_line_at(d, 0, &no, &f, &t), 0);
    CD_CHECK_INT(no, 1);
    CD_CHECK_INT(f, 0);
    CD_CHECK_INT(t, 0);
    CD_CHECK_INT(cd_doc_line(d, 1, &f, &t), 0);
    CD_CHECK_INT(f, 0);
    CD_CHECK_INT(t, 0);
    CD_CHECK_INT(cd_doc_line(d, 0, &f, &t), CD_ERANGE);
    CD_CHECK_INT(cd_doc_line(d, 2, &f, &t), CD_ERANGE);
    CD_CHECK_INT(cd_doc_line_at(d, 1, &no, &f, &t), CD_ERANGE);
    CD_CHECK_INT(cd_doc_replace(d, 0, 1, NULL, 0), CD_ERANGE);
    CD_CHECK_INT(cd_doc_replace(d, 1, 1, NULL, 0), CD_ERANGE);
    CD_CHECK_INT(cd_doc_replace(d, 0, 0, NULL, 0), 0); /* a no-op is fine */
    CD_CHECK_INT(cd_doc_replace(d, 0, 0, NULL, 3), CD_EINVAL);
    CD_CHECK_INT(cd_doc_len(d), 0);
    CD_CHECK_INT(cd_doc_check(d), 0);
    cd_doc_free(d);
    cd_doc_free(NULL);

    d = NULL;
    CD_CHECK_INT(cd_doc_new_from(NULL, 0, &d), 0);
    CD_CHECK(d != NULL);
    CD_CHECK_INT(cd_doc_len(d), 0);
    CD_CHECK_INT(cd_doc_check(d), 0);
    cd_doc_free(d);
    CD_CHECK_INT(cd_doc_new_from(NULL, 5, &d), CD_EINVAL);
}

static void test_small(void)
{
    size_t n = 0, xn = 0, no = 0, f = 0, t = 0, sn = 0;
    uint16_t *u = units("hello\nworld", &n), *x = units("big ", &xn), *s = NULL;
    struct cd_doc *d = NULL;
    CD_CHECK_INT(n, 11);
    CD_CHECK_INT(xn, 4);
    CD_CHECK_INT(cd_doc_new_from(u, n, &d), 0);
    if (!d)
        goto out;
    CD_CHECK_INT(cd_doc_len(d), 11);
    CD_CHECK_INT(cd_doc_lines(d), 2);
    CD_CHECK_INT(cd_doc_line_at(d, 5, &no, &f, &t), 0); /* on the '\n': still line 1 */
    CD_CHECK_INT(no, 1);
    CD_CHECK_INT(f, 0);
    CD_CHECK_INT(t, 5);
    CD_CHECK_INT(cd_doc_line_at(d, 6, &no, &f, &t), 0);
    CD_CHECK_INT(no, 2);
    CD_CHECK_INT(f, 6);
    CD_CHECK_INT(t, 11);
    CD_CHECK_INT(cd_doc_line_at(d, 11, &no, NULL, NULL), 0);
    CD_CHECK_INT(no, 2);
    /* insert "big " before "world" */
    CD_CHECK_INT(cd_doc_replace(d, 6, 6, x, 4), 0);
    CD_CHECK_INT(cd_doc_slice(d, 4, 12, &s, &sn), 0);
    CD_CHECK_INT(sn, 8);
    CD_CHECK(s && s[0] == 'o' && s[1] == '\n' && s[2] == 'b' && s[6] == 'w' && s[7] == 'o');
    free(s);
    s = NULL;
    /* errors leave the document unchanged */
    CD_CHECK_INT(cd_doc_replace(d, 5, 4, x, 1), CD_ERANGE);
    CD_CHECK_INT(cd_doc_replace(d, 0, 16, x, 1), CD_ERANGE);
    CD_CHECK_INT(cd_doc_replace(d, 16, 16, x, 1), CD_ERANGE);
    CD_CHECK_INT(cd_doc_slice(d, 3, 2, &s, &sn), CD_ERANGE);
    CD_CHECK_INT(cd_doc_slice(d, 0, 16, &s, &sn), CD_ERANGE);
    CD_CHECK(s == NULL);
    CD_CHECK_INT(cd_doc_len(d), 15);
    CD_CHECK_INT(cd_doc_lines(d), 2);
    /* replace the whole document, then delete everything */
    CD_CHECK_INT(cd_doc_replace(d, 0, 15, x, 4), 0);
    CD_CHECK(doc_equals(d, x, 4));
    CD_CHECK_INT(cd_doc_lines(d), 1);
    CD_CHECK_INT(cd_doc_replace(d, 0, 4, NULL, 0), 0);
    CD_CHECK_INT(cd_doc_len(d), 0);
    CD_CHECK_INT(cd_doc_lines(d), 1);
    CD_CHECK_INT(cd_doc_check(d), 0);
    CD_CHECK_INT(cd_doc_replace(d, 0, 0, u, 11), 0);
    CD_CHECK(doc_equals(d, u, 11));
out:
    cd_doc_free(d);
    free(u);
    free(x);
}

/* CodeMirror's line rules: "a\n\nb\n" has 4 lines, the 2nd and 4th empty. */
static void test_lines(void)
{
    const uint16_t u[] = {'a', '\n', '\n', 'b', '\n'};
    /* positions 0..5 -> line numbers */
    static const size_t want_no[] = {1, 1, 2, 3, 3, 4};
    static const size_t want_from[] = {0, 0, 2, 3, 3, 5};
    static const size_t want_to[] = {1, 1, 2, 4, 4, 5};
    struct cd_doc *d = NULL;
    size_t no, f, t;
    CD_CHECK_INT(cd_doc_new_from(u, 5, &d), 0);
    if (!d)
        return;
    CD_CHECK_INT(cd_doc_lines(d), 4);
    for (size_t p = 0; p <= 5; p++) {
        CD_CHECK_INT(cd_doc_line_at(d, p, &no, &f, &t), 0);
        CD_CHECK_INT(no, want_no[p]);
        CD_CHECK_INT(f, want_from[p]);
        CD_CHECK_INT(t, want_to[p]);
    }
    CD_CHECK_INT(cd_doc_line(d, 2, &f, &t), 0);
    CD_CHECK_INT(f, 2);
    CD_CHECK_INT(t, 2);
    CD_CHECK_INT(cd_doc_line(d, 4, &f, &t), 0);
    CD_CHECK_INT(f, 5);
    CD_CHECK_INT(t, 5);
    CD_CHECK_INT(cd_doc_line(d, 5, &f, &t), CD_ERANGE);
    CD_CHECK_INT(cd_doc_line_at(d, 6, &no, &f, &t), CD_ERANGE);
    cd_doc_free(d);
}

/* Lone surrogates, CR, NUL, U+2028, U+FFFF are kept verbatim and only 0x000A splits lines. */
static void test_surrogates(void)
{
    const uint16_t u[] = {0xD800, 'x',    0xDC00, 0x000D, 0x000A, 0xDBFF, 0x0000,
                          0x2028, 0xD83D, 0xDE00, 0xFFFF, 0xDFFF, 0x000D};
    const size_t n = sizeof u / sizeof u[0];
    struct cd_doc *d = NULL;
    size_t no, f, t;
    CD_CHECK_INT(cd_doc_new_from(u, n, &d), 0);
    if (!d)
        return;
    CD_CHECK(doc_equals(d, u, n));
    CD_CHECK_INT(cd_doc_lines(d), 2);
    CD_CHECK_INT(cd_doc_line_at(d, 4, &no, &f, &t), 0);
    CD_CHECK_INT(no, 1);
    CD_CHECK_INT(t, 4);
    /* cut a surrogate pair in half: positions are code units, nothing is repaired */
    CD_CHECK_INT(cd_doc_replace(d, 9, 9, u, 1), 0);
    CD_CHECK_INT(cd_doc_len(d), n + 1);
    {
        uint16_t *s = NULL;
        size_t sn = 0;
        CD_CHECK_INT(cd_doc_slice(d, 8, 11, &s, &sn), 0);
        CD_CHECK(s && sn == 3 && s[0] == 0xD83D && s[1] == 0xD800 && s[2] == 0xDE00);
        free(s);
    }
    cd_doc_free(d);
}

struct stop_ctx {
    int calls;
};

static int stop_after_two(void *ctx, const uint16_t *u, size_t n)
{
    struct stop_ctx *c = ctx;
    (void)u;
    (void)n;
    return ++c->calls == 2 ? 7 : 0;
}

static void test_foreach(void)
{
    size_t n = 50000;
    uint16_t *u = malloc(n * sizeof *u);
    struct cd_doc *d = NULL;
    struct gather g = {0};
    struct stop_ctx sc = {0};
    if (!u)
        return;
    fill_random(u, n);
    CD_CHECK_INT(cd_doc_new_from(u, n, &d), 0);
    g.cap = n;
    g.u = malloc(n * sizeof *g.u);
    CD_CHECK_INT(cd_doc_foreach(d, 123, 45678, gather_chunk, &g), 0);
    CD_CHECK_INT(g.n, 45678 - 123);
    CD_CHECK(g.chunks > 1);
    CD_CHECK_INT(g.empty_chunks, 0);
    CD_CHECK(g.u && memcmp(g.u, u + 123, g.n * sizeof *u) == 0);
    /* the callback's value stops the walk and is returned */
    CD_CHECK_INT(cd_doc_foreach(d, 0, n, stop_after_two, &sc), 7);
    CD_CHECK_INT(sc.calls, 2);
    sc.calls = 0;
    CD_CHECK_INT(cd_doc_foreach(d, 10, 10, stop_after_two, &sc), 0);
    CD_CHECK_INT(sc.calls, 0);
    CD_CHECK_INT(cd_doc_foreach(d, 10, n + 1, stop_after_two, &sc), CD_ERANGE);
    CD_CHECK_INT(cd_doc_foreach(d, 11, 10, stop_after_two, &sc), CD_ERANGE);
    CD_CHECK_INT(sc.calls, 0);
    free(g.u);
    free(u);
    cd_doc_free(d);
}

/* ---- the differential test ---- */

struct diff {
    struct cd_doc *d;
    struct model m;
    uint16_t *buf; /* scratch for inserted text */
    size_t buf_cap;
    size_t max_height;
    long step;
};

static uint16_t *scratch(struct diff *t, size_t n)
{
    if (n > t->buf_cap) {
        t->buf_cap = n;
        t->buf = realloc(t->buf, n * sizeof *t->buf);
        if (!t->buf) {
            fprintf(stderr, "scratch: out of memory\n");
            exit(2);
        }
    }
    return t->buf;
}

/* Compare everything cheap plus a few random probes; returns the number of new failures. */
static int verify(struct diff *t, int full)
{
    int before = cd_test_failures;
    const struct model *m = &t->m;
    size_t lines = model_lines(m);
    CD_CHECK_INT(cd_doc_len(t->d), m->n);
    CD_CHECK_INT(cd_doc_lines(t->d), lines);
    CD_CHECK_INT(cd_doc_check(t->d), 0);
    CD_CHECK(height_ok(t->d));
    if (cd_doc_height(t->d) > t->max_height)
        t->max_height = cd_doc_height(t->d);
    for (int k = 0; k < 3; k++) {
        size_t a = upto(m->n), b = a + upto(rnd() % 4 ? (m->n - a < 64 ? m->n - a : 64) : m->n - a);
        uint16_t *s = NULL;
        size_t sn = 0;
        CD_CHECK_INT(cd_doc_slice(t->d, a, b, &s, &sn), 0);
        CD_CHECK(s && sn == b - a && (sn == 0 || memcmp(s, m->u + a, sn * sizeof *s) == 0));
        free(s);
    }
    for (int k = 0; k < 3; k++) {
        size_t p = upto(m->n), no = 0, f = 0, to = 0, wno, wf, wt;
        model_line_at(m, p, &wno, &wf, &wt);
        CD_CHECK_INT(cd_doc_line_at(t->d, p, &no, &f, &to), 0);
        CD_CHECK_INT(no, wno);
        CD_CHECK_INT(f, wf);
        CD_CHECK_INT(to, wt);
    }
    {
        size_t no = 1 + upto(lines - 1), f = 0, to = 0, wf = 0, wt = 0;
        CD_CHECK_INT(model_line(m, no, &wf, &wt), 0);
        CD_CHECK_INT(cd_doc_line(t->d, no, &f, &to), 0);
        CD_CHECK_INT(f, wf);
        CD_CHECK_INT(to, wt);
        CD_CHECK_INT(cd_doc_line(t->d, lines + 1, &f, &to), CD_ERANGE);
    }
    if (full) {
        struct gather g = {0};
        size_t a = upto(m->n);
        CD_CHECK(doc_equals(t->d, m->u, m->n));
        g.cap = m->n - a;
        g.u = malloc(g.cap ? g.cap * sizeof *g.u : 1);
        CD_CHECK_INT(cd_doc_foreach(t->d, a, m->n, gather_chunk, &g), 0);
        CD_CHECK(g.n == m->n - a && g.empty_chunks == 0 &&
                 (g.n == 0 || memcmp(g.u, m->u + a, g.n * sizeof *g.u) == 0));
        free(g.u);
    }
    return cd_test_failures - before;
}

static int apply(struct diff *t, size_t from, size_t to, size_t n)
{
    uint16_t *ins = scratch(t, n ? n : 1);
    int rc;
    fill_random(ins, n);
    rc = cd_doc_replace(t->d, from, to, ins, n);
    CD_CHECK_INT(rc, 0);
    if (rc == 0)
        model_replace(&t->m, from, to, ins, n);
    return rc;
}

/* One random edit; the document size is kept roughly within [lo, hi]. */
static int random_edit(struct diff *t, size_t lo, size_t hi)
{
    size_t len = t->m.n, from, del, n;
    unsigned kind = (unsigned)(rnd() % 100);
    if (len < lo)
        kind = 65 + kind % 10; /* large insert */
    else if (len > hi)
        kind = 75 + kind % 10; /* large delete */
    if (kind < 40) {           /* small */
        from = upto(len);
        del = upto(len - from < 3 ? len - from : 3);
        n = upto(3);
    } else if (kind < 65) { /* medium */
        from = upto(len);
        del = upto(len - from < 300 ? len - from : 300);
        n = upto(300);
    } else if (kind < 75) { /* large insert, spans many leaves */
        from = upto(len);
        del = 0;
        n = 1000 + upto(19000);
    } else if (kind < 85) { /* large delete, spans many leaves */
        from = upto(len);
        del = upto(len - from < 20000 ? len - from : 20000);
        n = 0;
    } else if (kind < 90) { /* at the edges */
        from = rnd() % 2 ? 0 : len;
        del = from ? 0 : upto(len < 50 ? len : 50);
        n = upto(2000);
    } else if (kind < 95) { /* typing burst at a cursor, then backspaces */
        size_t at = upto(len);
        int bad = 0;
        for (int i = 0; i < 200 && !bad; i++)
            bad = apply(t, at + (size_t)i, at + (size_t)i, 1);
        for (int i = 0; i < 120 && !bad; i++)
            bad = apply(t, at + 199 - (size_t)i, at + 200 - (size_t)i, 0);
        return bad;
    } else { /* huge: any range, or the whole document */
        from = upto(len);
        del = len - from - upto(len - from);
        if (rnd() % 8 == 0) {
            from = 0;
            del = len;
        }
        n = upto(5000);
    }
    return apply(t, from, from + del, n);
}

static void run_diff(size_t initial, long steps, size_t lo, size_t hi)
{
    size_t len_sum = 0;
    struct diff t = {0};
    uint16_t *u = scratch(&t, initial ? initial : 1);
    fill_random(u, initial);
    struct cd_doc *d = NULL;
    CD_CHECK_INT(cd_doc_new_from(u, initial, &d), 0);
    if (!d) {
        free(t.buf);
        return;
    }
    t.d = d;
    model_replace(&t.m, 0, 0, u, initial);
    for (t.step = 0; t.step < steps; t.step++) {
        len_sum += t.m.n;
        if (random_edit(&t, lo, hi) || verify(&t, t.step % 64 == 0)) {
            fprintf(stderr, "  differential test failed at step %ld (len %zu)\n", t.step, t.m.n);
            break;
        }
    }
    verify(&t, 1);
    fprintf(stderr, "  %ld steps, mean len %zu, final len %zu, max height %zu, mem %zu bytes\n",
            t.step, t.step ? len_sum / (size_t)t.step : 0, t.m.n, t.max_height, cd_doc_mem(t.d));
    CD_CHECK(t.max_height >= 1);
    cd_doc_free(t.d);
    free(t.m.u);
    free(t.buf);
}

static void test_differential(void)
{
    run_diff(0, 4000, 20000, 150000);
}

/* A larger document, so that the tree is three or more levels deep. */
static void test_differential_deep(void)
{
    run_diff(1500000, 300, 1000000, 2000000);
}

/* Adversarial shapes: always at the front, always at the end, thrash at one spot. */
static void test_balance(void)
{
    struct diff t = {0};
    t.d = cd_doc_new();
    if (!t.d)
        return;
    for (t.step = 0; t.step < 3000 && !cd_test_failures; t.step++) {
        size_t len = t.m.n, big = rnd() % 4 == 0 ? 700 : 1;
        switch (t.step / 500) {
        case 0: /* prepend */
            apply(&t, 0, 0, big);
            break;
        case 1: /* append */
            apply(&t, len, len, big);
            break;
        case 2: /* delete from the front */
            apply(&t, 0, len < 300 ? len : 300, 0);
            break;
        case 3: /* insert/delete thrash in the middle */
            if (t.step % 2)
                apply(&t, len / 2, len / 2, 1);
            else
                apply(&t, len / 2, len / 2 + 1, 0);
            break;
        case 4: /* grow in the middle */
            apply(&t, len / 2, len / 2, big * 3);
            break;
        default: /* shrink from the middle */
            apply(&t, len / 3, len / 3 + (len / 3 < 500 ? len / 3 : 500), 0);
            break;
        }
        verify(&t, t.step % 100 == 0);
    }
    verify(&t, 1);
    cd_doc_free(t.d);
    free(t.m.u);
    free(t.buf);
}

/* ---- allocation failures ---- */

struct failing {
    long calls, fail_at; /* fail the fail_at-th call (1-based); 0 = never */
    size_t live_bytes;
    long live_blocks;
};

static void *fail_alloc(void *ctx, size_t size)
{
    struct failing *f = ctx;
    void *p;
    if (++f->calls == f->fail_at)
        return NULL;
    p = malloc(size);
    if (p) {
        f->live_bytes += size;
        f->live_blocks++;
    }
    return p;
}

static void fail_free(void *ctx, void *p, size_t size)
{
    struct failing *f = ctx;
    f->live_bytes -= size;
    f->live_blocks--;
    free(p);
}

/* Apply one replace with the k-th allocation failing, for k = 1, 2, ... until it succeeds;
 * after every failure the document must be exactly as before, with no memory kept.
 * Returns how many failures were injected. */
static long replace_under_failures(struct diff *t, struct failing *f, size_t from, size_t to,
                                   size_t n)
{
    uint16_t *ins = scratch(t, n ? n : 1);
    size_t mem0 = cd_doc_mem(t->d), bytes0 = f->live_bytes;
    long blocks0 = f->live_blocks, k;
    fill_random(ins, n);
    for (k = 1; k < 100000; k++) {
        int rc;
        f->calls = 0;
        f->fail_at = k;
        rc = cd_doc_replace(t->d, from, to, ins, n);
        f->fail_at = 0;
        if (rc == 0)
            break;
        CD_CHECK_INT(rc, CD_ENOMEM);
        CD_CHECK_INT(cd_doc_check(t->d), 0);
        CD_CHECK_INT(cd_doc_mem(t->d), mem0);
        CD_CHECK_INT(f->live_bytes, bytes0);
        CD_CHECK_INT(f->live_blocks, blocks0);
        CD_CHECK(doc_equals(t->d, t->m.u, t->m.n));
        if (cd_test_failures)
            break;
    }
    model_replace(&t->m, from, to, ins, n);
    CD_CHECK(doc_equals(t->d, t->m.u, t->m.n));
    CD_CHECK_INT(cd_doc_check(t->d), 0);
    return k - 1;
}

static void test_alloc_failure(void)
{
    struct failing f = {0};
    struct cd_doc_allocator a = {fail_alloc, fail_free, &f};
    struct diff t = {0};
    long injected = 0;
    size_t len;

    t.d = cd_doc_new();
    if (!t.d)
        return;
    CD_CHECK_INT(cd_doc_set_allocator(t.d, &a), 0);
    /* bulk load through the allocator */
    injected += replace_under_failures(&t, &f, 0, 0, 60000);
    CD_CHECK(injected > 10);
    CD_CHECK_INT(cd_doc_set_allocator(t.d, NULL), CD_EINVAL); /* not while non-empty */
    len = t.m.n;
    injected += replace_under_failures(&t, &f, 0, 0, 1);            /* front */
    injected += replace_under_failures(&t, &f, 1000, 9000, 0);      /* multi-leaf delete */
    injected += replace_under_failures(&t, &f, 500, 30000, 7000);   /* multi-leaf replace */
    injected += replace_under_failures(&t, &f, t.m.n, t.m.n, 3000); /* append */
    injected += replace_under_failures(&t, &f, 20000, 20000, 2500); /* big insert */
    injected += replace_under_failures(&t, &f, 10, t.m.n - 10, 0);  /* nearly all */
    injected += replace_under_failures(&t, &f, 0, t.m.n, 0);        /* all */
    CD_CHECK_INT(cd_doc_len(t.d), 0);
    injected += replace_under_failures(&t, &f, 0, 0, len); /* reload */
    for (int i = 0; i < 200 && !cd_test_failures; i++) {   /* random */
        size_t from = upto(t.m.n), to = from + upto(t.m.n - from < 4000 ? t.m.n - from : 4000);
        injected += replace_under_failures(&t, &f, from, to, upto(3000));
    }
    fprintf(stderr, "  %ld allocation failures injected\n", injected);
    cd_doc_free(t.d);
    CD_CHECK_INT(f.live_bytes, 0);
    CD_CHECK_INT(f.live_blocks, 0);
    free(t.m.u);
    free(t.buf);
}

/* ---- a 10 MB document ---- */

static void test_10mb(void)
{
    const size_t n = 10u * 1024 * 1024;
    uint16_t *u = malloc(n * sizeof *u);
    struct cd_doc *d = NULL;
    size_t lines = 1, f, t, no;
    if (!u)
        return;
    for (size_t i = 0; i < n; i++) { /* lines of 80 units: 79 letters and a newline */
        u[i] = i % 80 == 79 ? '\n' : (uint16_t)('a' + i % 26);
        lines += u[i] == '\n';
    }
    CD_CHECK_INT(cd_doc_new_from(u, n, &d), 0);
    if (!d)
        goto out;
    CD_CHECK_INT(cd_doc_len(d), n);
    CD_CHECK_INT(cd_doc_lines(d), lines);
    CD_CHECK_INT(cd_doc_check(d), 0);
    CD_CHECK(height_ok(d));
#ifndef CD_DOC_LEAF_MAX
    /* default sizes: ~13.6k leaves of 768 units under fan-out 12: four levels */
    CD_CHECK(cd_doc_height(d) <= 5);
    /* UTF-16 text is 2 bytes a unit; leaves are 3/4 full after a bulk build */
    CD_CHECK(cd_doc_mem(d) > n * 2 && cd_doc_mem(d) < n * 2 * 3 / 2);
#endif
    CD_CHECK(doc_equals(d, u, n));
    CD_CHECK_INT(cd_doc_line(d, 100000, &f, &t), 0);
    CD_CHECK_INT(f, 99999u * 80);
    CD_CHECK_INT(t, 99999u * 80 + 79);
    CD_CHECK_INT(cd_doc_line_at(d, 5000000, &no, &f, &t), 0);
    CD_CHECK_INT(no, 5000000 / 80 + 1);
    CD_CHECK_INT(f, 5000000 / 80 * 80);
    /* edits at the start, middle and end, then a whole-document replace */
    CD_CHECK_INT(cd_doc_replace(d, 0, 0, u, 1), 0);
    CD_CHECK_INT(cd_doc_replace(d, n / 2, n / 2 + 100000, NULL, 0), 0);
    CD_CHECK_INT(cd_doc_replace(d, cd_doc_len(d), cd_doc_len(d), u + 79, 1), 0);
    CD_CHECK_INT(cd_doc_len(d), n + 1 - 100000 + 1);
    CD_CHECK_INT(cd_doc_lines(d), lines - 100000 / 80 + 1);
    CD_CHECK_INT(cd_doc_check(d), 0);
    CD_CHECK_INT(cd_doc_replace(d, 0, cd_doc_len(d), u, n / 2), 0);
    CD_CHECK(doc_equals(d, u, n / 2));
    CD_CHECK_INT(cd_doc_check(d), 0);
out:
    cd_doc_free(d);
    free(u);
}

int main(void)
{
    const char *seed = getenv("CD_DOC_SEED");
    rng_state = seed ? strtoull(seed, NULL, 0) : 0x5EEDC0DEull;
    fprintf(stderr, "seed %llu (set CD_DOC_SEED to replay)\n", (unsigned long long)rng_state);
    CD_RUN(test_empty);
    CD_RUN(test_small);
    CD_RUN(test_lines);
    CD_RUN(test_surrogates);
    CD_RUN(test_foreach);
    CD_RUN(test_differential);
    CD_RUN(test_differential_deep);
    CD_RUN(test_balance);
    CD_RUN(test_alloc_failure);
    CD_RUN(test_10mb);
    CD_TEST_END();
}
