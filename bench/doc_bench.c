/*
 * doc_bench.c: how much a room's document costs at 10 MB, with a flat array as same-run peer.
 *
 * Builds a document of 10 Mi UTF-16 units (lines of 60..100 units, mean 80), then applies the
 * same sequence of one-unit inserts and deletes at random positions to the cd_doc rope and to a
 * flat uint16_t array edited with memmove, timing every operation; prints median, p99 and mean
 * ns/op for both and their ratio. Also times the bulk build, serialising through cd_doc_foreach,
 * typing at one cursor, and pasting 4 Ki units over 4 Ki units, and checks that the rope and the
 * array end up identical. Deterministic (fixed seed); single-threaded; owns all it allocates.
 *
 * usage: doc_bench [ops [flat_ops]]   (defaults 100000 and ops; flat_ops <= ops runs the flat
 * peer on the first flat_ops operations only, for quick runs)
 */
#include "collab/doc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DOC_UNITS (10u * 1024 * 1024)

struct op {
    size_t pos;
    uint16_t ch;
    uint8_t del; /* 1: delete [pos, pos + 1); 0: insert ch at pos */
};

static uint64_t rng = 0xC0FFEEull;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double median, p99, max, mean;
};

/* Sorts ns[0..n). */
static struct stats summarise(uint64_t *ns, size_t n)
{
    struct stats s = {0, 0, 0, 0};
    uint64_t sum = 0;
    if (n == 0)
        return s;
    for (size_t i = 0; i < n; i++)
        sum += ns[i];
    qsort(ns, n, sizeof *ns, cmp_u64);
    s.median = (double)ns[n / 2];
    s.p99 = (double)ns[n * 99 / 100];
    s.max = (double)ns[n - 1];
    s.mean = (double)sum / (double)n;
    return s;
}

static void print_stats(const char *what, struct stats s, size_t n)
{
    printf("%-34s median %9.0f  p99 %9.0f  mean %9.0f  max %9.0f ns/op  (%zu ops)\n", what,
           s.median, s.p99, s.mean, s.max, n);
}

static uint16_t random_unit(void)
{
    return rnd() % 40 == 0 ? '\n' : (uint16_t)('a' + rnd() % 26);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "doc_bench: %s failed (%d)\n", what, rc);
    exit(1);
}

int main(int argc, char **argv)
{
    size_t ops = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    size_t flat_ops = argc > 2 ? strtoul(argv[2], NULL, 10) : ops;
    size_t cap = DOC_UNITS + ops + 8192, len = DOC_UNITS, line_left = 0;
    uint16_t *text = malloc(cap * sizeof *text), *flat = malloc(cap * sizeof *flat);
    uint16_t *paste = malloc(4096 * sizeof *paste);
    struct op *seq = malloc((ops ? ops : 1) * sizeof *seq);
    uint64_t *ns = malloc((ops ? ops : 1) * sizeof *ns), t0, build_ns = UINT64_MAX, ser_ns;
    struct cd_doc *d = NULL;
    uint16_t *copy = NULL;
    size_t copy_len = 0;
    struct stats rope, arr;
    int rc;

    if (flat_ops > ops)
        flat_ops = ops;
    if (!text || !flat || !paste || !seq || !ns)
        die("malloc", -1);
    for (size_t i = 0; i < DOC_UNITS; i++) {
        if (line_left == 0)
            line_left = 60 + (size_t)(rnd() % 41);
        text[i] = --line_left == 0 ? '\n' : (uint16_t)('a' + rnd() % 26);
    }
    for (size_t i = 0; i < 4096; i++)
        paste[i] = random_unit();
    for (size_t i = 0; i < ops; i++) { /* the same sequence for both structures */
        seq[i].del = len > 0 && rnd() % 2;
        seq[i].pos = (size_t)(rnd() % (seq[i].del ? len : len + 1));
        seq[i].ch = random_unit();
        len += seq[i].del ? (size_t)-1 : 1;
    }

    /* bulk build (best of 3) */
    for (int rep = 0; rep < 3; rep++) {
        cd_doc_free(d);
        d = NULL;
        t0 = now_ns();
        rc = cd_doc_new_from(text, DOC_UNITS, &d);
        t0 = now_ns() - t0;
        if (rc)
            die("cd_doc_new_from", rc);
        if (t0 < build_ns)
            build_ns = t0;
    }
    printf("document: %u UTF-16 units, %zu lines, height %zu, %zu bytes of heap (%.2f B/unit)\n",
           DOC_UNITS, cd_doc_lines(d), cd_doc_height(d), cd_doc_mem(d),
           (double)cd_doc_mem(d) / DOC_UNITS);
    t0 = now_ns();
    rc = cd_doc_slice(d, 0, cd_doc_len(d), &copy, &copy_len);
    ser_ns = now_ns() - t0;
    if (rc || copy_len != DOC_UNITS || memcmp(copy, text, DOC_UNITS * sizeof *copy) != 0)
        die("serialise", rc);
    free(copy);
    t0 = now_ns();
    memcpy(flat, text, DOC_UNITS * sizeof *flat);
    t0 = now_ns() - t0;
    printf("build (cd_doc_new_from, best of 3)  %8.2f ms\n", (double)build_ns / 1e6);
    printf("serialise (cd_doc_slice)            %8.2f ms   (flat memcpy peer %.2f ms)\n",
           (double)ser_ns / 1e6, (double)t0 / 1e6);

    for (size_t i = 0; i < 1000; i++) /* clock cost, included in every figure below */
        ns[i] = now_ns();
    for (size_t i = 0; i < 1000; i++) {
        t0 = now_ns();
        ns[i] = now_ns() - t0;
    }
    printf("timer overhead                     median %9.0f ns\n", summarise(ns, 1000).median);

    for (size_t i = 0; i < ops; i++) {
        const struct op *o = &seq[i];
        t0 = now_ns();
        rc = cd_doc_replace(d, o->pos, o->pos + o->del, &o->ch, !o->del);
        ns[i] = now_ns() - t0;
        if (rc)
            die("cd_doc_replace", rc);
    }
    rope = summarise(ns, ops);
    print_stats("rope: 1-unit insert/delete", rope, ops);

    len = DOC_UNITS;
    for (size_t i = 0; i < flat_ops; i++) {
        const struct op *o = &seq[i];
        t0 = now_ns();
        if (o->del) {
            memmove(flat + o->pos, flat + o->pos + 1, (len - o->pos - 1) * sizeof *flat);
            len--;
        } else {
            memmove(flat + o->pos + 1, flat + o->pos, (len - o->pos) * sizeof *flat);
            flat[o->pos] = o->ch;
            len++;
        }
        ns[i] = now_ns() - t0;
    }
    arr = summarise(ns, flat_ops);
    print_stats("flat array + memmove (peer)", arr, flat_ops);
    if (rope.median > 0 && rope.p99 > 0)
        printf("ratio flat/rope                    median %9.0fx p99 %8.0fx mean %8.0fx\n",
               arr.median / rope.median, arr.p99 / rope.p99, arr.mean / rope.mean);
    if (flat_ops == ops) {
        if (cd_doc_len(d) != len || cd_doc_slice(d, 0, len, &copy, &copy_len) != 0 ||
            memcmp(copy, flat, len * sizeof *copy) != 0)
            die("rope and flat array differ", -1);
        free(copy);
        printf("content check: rope == flat array (%zu units), cd_doc_check %d\n", len,
               cd_doc_check(d));
    }

    /* typing: consecutive inserts at one cursor (leaf splits on the way) */
    {
        size_t at = cd_doc_len(d) / 3;
        for (size_t i = 0; i < ops; i++) {
            uint16_t ch = random_unit();
            t0 = now_ns();
            rc = cd_doc_replace(d, at + i, at + i, &ch, 1);
            ns[i] = now_ns() - t0;
            if (rc)
                die("typing", rc);
        }
        print_stats("rope: typing at one cursor", summarise(ns, ops), ops);
    }
    /* paste 4 Ki units over 4 Ki units at random places (spans leaves: the general path) */
    {
        size_t n = ops / 10 ? ops / 10 : 1;
        for (size_t i = 0; i < n; i++) {
            size_t at = (size_t)(rnd() % (cd_doc_len(d) - 4096));
            t0 = now_ns();
            rc = cd_doc_replace(d, at, at + 4096, paste, 4096);
            ns[i] = now_ns() - t0;
            if (rc)
                die("paste", rc);
        }
        print_stats("rope: replace 4 Ki units by 4 Ki", summarise(ns, n), n);
    }
    printf("after all edits: %zu units, height %zu, %zu bytes of heap, cd_doc_check %d\n",
           cd_doc_len(d), cd_doc_height(d), cd_doc_mem(d), cd_doc_check(d));

    cd_doc_free(d);
    free(text);
    free(flat);
    free(paste);
    free(seq);
    free(ns);
    return 0;
}
