/*
 * fuzz_doc.c: libFuzzer target for collab/doc. The input is a program of edits applied both
 * to a cd_doc and to a flat array; after every step the two must agree (length, lines) and
 * cd_doc_check must pass; queries compare slices and line lookups; at the end the whole text
 * is compared. An op can arm an allocation failure for the next edit: it must then fail with
 * CD_ENOMEM and leave the document as it was, and the allocator's live bytes must always match
 * cd_doc_mem. Owns its document and model for one input; depends on collab/doc and util/error.
 *
 * Input, byte by byte (missing bytes read as 0):
 *   op % 8 == 0..2  replace: from:u16 del:u8 n:u8 then n units
 *   op % 8 == 3     bulk insert: at:u16 count:u16 plen:u8 then a pattern of plen%8+1 units
 *   op % 8 == 4     delete an arbitrary range: from:u16 to:u16 (scaled to the length)
 *   op % 8 == 5     arm a failure: the k-th allocation (k:u8 + 1) of the next edit fails
 *   op % 8 == 6     queries: pos:u16 line:u16 from:u16 to:u16
 *   op % 8 == 7     replace the whole document by n:u8 units
 * A unit is one byte: the low nibble picks from an alphabet of letters, '\n', CR, NUL, U+2028,
 * U+FFFF and lone/paired surrogates; a byte >= 0xF0 takes the next two bytes as a raw unit.
 */
#include "collab/doc.h"
#include "util/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UNITS (1u << 18)

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned byte(struct input *in)
{
    unsigned b = 0;
    if (in->n) {
        b = *in->p++;
        in->n--;
    }
    return b;
}

static unsigned u16(struct input *in)
{
    unsigned hi = byte(in);
    return hi << 8 | byte(in);
}

static const uint16_t alphabet[16] = {'a',    'b',    'c',    '\n',   '\n',   0x000D,
                                      0x0000, 0x2028, 0xD800, 0xDBFF, 0xDC00, 0xDFFF,
                                      0xD83D, 0xDE00, 0xFFFF, 'z'};

static uint16_t unit(struct input *in)
{
    unsigned b = byte(in);
    return b >= 0xF0 ? (uint16_t)u16(in) : alphabet[b & 0x0F];
}

struct failing {
    long calls, fail_at; /* 0 = never */
    size_t live;
};

static void *fail_alloc(void *ctx, size_t size)
{
    struct failing *f = ctx;
    void *p;
    if (++f->calls == f->fail_at)
        return NULL;
    p = malloc(size);
    if (p)
        f->live += size;
    return p;
}

static void fail_free(void *ctx, void *p, size_t size)
{
    struct failing *f = ctx;
    f->live -= size;
    free(p);
}

struct state {
    struct cd_doc *d;
    struct failing f;
    size_t base_mem; /* cd_doc_mem of the empty document */
    uint16_t *m;     /* the model */
    size_t n;
    uint16_t *ins;
};

/* Static, so that runs do not pay for allocating (and poisoning) a megabyte each. */
static uint16_t model_buf[MAX_UNITS], ins_buf[MAX_UNITS];

static size_t model_lines(const struct state *s)
{
    size_t c = 1;
    for (size_t i = 0; i < s->n; i++)
        c += s->m[i] == '\n';
    return c;
}

static void same_text(const struct state *s, size_t from, size_t to)
{
    uint16_t *out = NULL;
    size_t n = 0;
    FUZZ_CHECK(cd_doc_slice(s->d, from, to, &out, &n) == 0);
    FUZZ_CHECK(out && n == to - from);
    FUZZ_CHECK(n == 0 || memcmp(out, s->m + from, n * sizeof *out) == 0);
    free(out);
}

static void verify(struct state *s)
{
    FUZZ_CHECK(cd_doc_check(s->d) == 0);
    FUZZ_CHECK(cd_doc_len(s->d) == s->n);
    FUZZ_CHECK(cd_doc_lines(s->d) == model_lines(s));
    FUZZ_CHECK(s->f.live == cd_doc_mem(s->d) - s->base_mem);
}

/* Replace on both sides; an armed failure must leave the document untouched. */
static void edit(struct state *s, size_t from, size_t to, size_t n)
{
    int armed = s->f.fail_at != 0, rc;
    s->f.calls = 0;
    rc = cd_doc_replace(s->d, from, to, s->ins, n);
    s->f.fail_at = 0;
    if (rc == CD_ENOMEM && armed) {
        verify(s);
        same_text(s, 0, s->n);
        return;
    }
    FUZZ_CHECK(rc == 0);
    memmove(s->m + from + n, s->m + to, (s->n - to) * sizeof *s->m);
    memcpy(s->m + from, s->ins, n * sizeof *s->m);
    s->n = s->n - (to - from) + n;
}

static void queries(struct state *s, struct input *in)
{
    size_t pos = u16(in) % (s->n + 1), no = 0, f = 0, t = 0, wno = 1, wf = 0, wt;
    size_t lines = model_lines(s), line = u16(in) % (lines + 1) + 1;
    size_t a = u16(in) % (s->n + 1), b = a + u16(in) % (s->n - a + 1);
    /* line_at(pos) against a scan of the model */
    for (size_t i = 0; i < pos; i++)
        if (s->m[i] == '\n') {
            wno++;
            wf = i + 1;
        }
    for (wt = pos; wt < s->n && s->m[wt] != '\n';)
        wt++;
    FUZZ_CHECK(cd_doc_line_at(s->d, pos, &no, &f, &t) == 0);
    FUZZ_CHECK(no == wno && f == wf && t == wt);
    /* line(line): consistent with line_at of its bounds; line lines+1 is out of range */
    if (line > lines) {
        FUZZ_CHECK(cd_doc_line(s->d, line, &f, &t) == CD_ERANGE);
    } else {
        FUZZ_CHECK(cd_doc_line(s->d, line, &f, &t) == 0);
        FUZZ_CHECK(f <= t && t <= s->n && (f == 0 || s->m[f - 1] == '\n'));
        FUZZ_CHECK(t == s->n || s->m[t] == '\n');
        FUZZ_CHECK(cd_doc_line_at(s->d, t, &no, NULL, NULL) == 0 && no == line);
    }
    FUZZ_CHECK(cd_doc_line_at(s->d, s->n + 1, &no, &f, &t) == CD_ERANGE);
    FUZZ_CHECK(cd_doc_replace(s->d, a + 1, a, s->ins, 0) == CD_ERANGE);
    same_text(s, a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cd_doc_allocator a = {fail_alloc, fail_free, NULL};
    struct input in = {data, size};
    struct state s;

    memset(&s, 0, sizeof s);
    a.ctx = &s.f;
    s.d = cd_doc_new();
    s.m = model_buf;
    s.ins = ins_buf;
    if (!s.d)
        goto out;
    FUZZ_CHECK(cd_doc_set_allocator(s.d, &a) == 0);
    s.base_mem = cd_doc_mem(s.d);
    while (in.n) {
        unsigned op = byte(&in) % 8;
        size_t from, to, n;
        switch (op) {
        case 0:
        case 1:
        case 2:
            from = u16(&in) % (s.n + 1);
            to = from + byte(&in) % (s.n - from + 1);
            n = byte(&in);
            for (size_t i = 0; i < n; i++)
                s.ins[i] = unit(&in);
            if (s.n - (to - from) + n <= MAX_UNITS)
                edit(&s, from, to, n);
            break;
        case 3: {
            uint16_t pat[8];
            size_t plen;
            from = u16(&in) % (s.n + 1);
            n = u16(&in) % 20000;
            plen = byte(&in) % 8 + 1;
            for (size_t i = 0; i < plen; i++)
                pat[i] = unit(&in);
            for (size_t i = 0; i < n; i++)
                s.ins[i] = pat[i % plen];
            if (s.n + n <= MAX_UNITS)
                edit(&s, from, from, n);
            break;
        }
        case 4:
            from = (size_t)((uint64_t)u16(&in) * s.n / 65536);
            to = from + (size_t)((uint64_t)u16(&in) * (s.n - from) / 65535);
            edit(&s, from, to, 0);
            break;
        case 5:
            s.f.fail_at = (long)byte(&in) + 1;
            break;
        case 6:
            queries(&s, &in);
            break;
        default:
            n = byte(&in);
            for (size_t i = 0; i < n; i++)
                s.ins[i] = unit(&in);
            edit(&s, 0, s.n, n);
            break;
        }
        verify(&s);
    }
    same_text(&s, 0, s.n);
out:
    cd_doc_free(s.d);
    FUZZ_CHECK(s.f.live == 0);
    return 0;
}
