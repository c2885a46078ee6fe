/*
 * fuzz_changeset.c: libFuzzer target for the change-set path of network input.
 *
 * Bytes -> cd_json_wtf8_prepass -> cJSON -> cd_cs_from_json, as the server does with a pushed
 * update. The message may be a bare change set or an object {"changes": [...], "doc": "..."}.
 * Whatever parses is then driven through the whole engine on a document of matching length and
 * the algebra's invariants are checked (any violation aborts):
 *   - toJSON text parses back to the same text;
 *   - apply gives cd_cs_new_len units, and iterChanges rebuilds the same document;
 *   - invert undoes it, and compose(A, invert(A)) applied gives the original document;
 *   - for a C on A's result made from the input bytes (ChangeSet.of, cutting into A's texts),
 *     A.compose(C) applied equals C applied after A;
 *   - for B = compose(A, invert(A)), B = A and a B made from the input: A.compose(B.map(A)) and
 *     B.compose(A.map(B, true)) reach the same document (convergence); mapDesc on descs gives the
 *     sections of map;
 *   - rebaseUpdates([A], [other client's B]) is A.map(B), and [A] over [own A] drops it;
 *   - every string in the message survives decode -> JSON -> pre-pass -> cJSON -> decode.
 * Owns nothing across calls; documents are capped so one input stays fast.
 */
#include "collab/changeset.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf16.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (64 * 1024)
#define MAX_DOC   8192

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const uint16_t *a, size_t an, const uint16_t *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an * sizeof(*a)) == 0);
}

static char *to_text(const struct cd_cs *cs, size_t *n)
{
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 24);
    if (cd_cs_to_json(cs, &b) != CD_OK) {
        cd_buf_cleanup(&b);
        return NULL;
    }
    return cd_buf_take(&b, n);
}

static char *desc_text(const struct cd_cs *cs)
{
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 24);
    if (cd_cs_desc_to_json(cs, &b) != CD_OK) {
        cd_buf_cleanup(&b);
        return NULL;
    }
    return cd_buf_take(&b, NULL);
}

static cJSON *parse(char *text, size_t n)
{
    cd_json_wtf8_prepass(text, &n);
    return cJSON_ParseWithLength(text, n);
}

/* Apply, or NULL when allocation failed (never a length error here). */
static uint16_t *apply(const struct cd_cs *cs, const uint16_t *doc, size_t n, size_t *out_n)
{
    uint16_t *out = NULL;
    int rc = cd_cs_apply(cs, doc, n, &out, out_n);
    CHECK(rc == CD_OK || rc == CD_ENOMEM);
    return out;
}

struct rebuild {
    uint16_t *doc;
    size_t n, cap;
};

static int rebuild_cb(void *ctx, size_t from_a, size_t to_a, size_t from_b, size_t to_b,
                      const uint16_t *ins, size_t ins_len)
{
    struct rebuild *r = ctx;
    size_t del = to_a - from_a;
    CHECK(to_b - from_b == ins_len && from_b + del <= r->n);
    CHECK(r->n - del + ins_len <= r->cap);
    memmove(r->doc + from_b + ins_len, r->doc + from_b + del,
            (r->n - from_b - del) * sizeof(*r->doc));
    if (ins_len)
        memcpy(r->doc + from_b, ins, ins_len * sizeof(*r->doc));
    r->n = r->n - del + ins_len;
    return 0;
}

/* Each string value: decode, serialise, pre-pass, parse, decode again: the same units. */
static void check_strings(const cJSON *root)
{
    const cJSON *stack[64];
    int depth = 0;
    const cJSON *it = root;

    while (it) {
        if (cJSON_IsString(it) && it->valuestring) {
            uint16_t *u = NULL, *v = NULL;
            size_t un = 0, vn = 0;
            if (cd_utf16_from_wtf8(it->valuestring, strlen(it->valuestring), &u, &un) == CD_OK) {
                struct cd_buf b;
                cJSON *back;
                cd_buf_init(&b, (size_t)1 << 24);
                if (cd_utf16_json_append(&b, u, un) == CD_OK && (back = parse(b.data, b.len))) {
                    CHECK(cJSON_IsString(back));
                    CHECK(cd_utf16_from_wtf8(back->valuestring, strlen(back->valuestring), &v,
                                             &vn) == CD_OK);
                    CHECK(same(u, un, v, vn));
                    cJSON_Delete(back);
                }
                cd_buf_cleanup(&b);
            }
            free(u);
            free(v);
        }
        if (it->child && depth < 64) {
            stack[depth++] = it;
            it = it->child;
            continue;
        }
        /* next sibling, else climb; the root's siblings are not ours to visit */
        while (it) {
            if (depth == 0)
                it = NULL;
            else if (it->next)
                break;
            else
                it = stack[--depth];
        }
        if (it)
            it = it->next;
    }
}

/* A change set on a document of length len made from the input bytes: up to 4 replacements,
 * unsorted and overlapping, with texts that mix surrogates and line breaks (ChangeSet.of). */
static struct cd_cs *derived(const uint8_t *data, size_t size, size_t salt, size_t len)
{
    static const uint16_t bits[] = {'x', '\r', '\n', 0xD83D, 0xDE00, 'y', 0xDC01, '\r'};
    struct cd_cs_change ch[4];
    uint16_t text[4][6];
    struct cd_cs *cs = NULL;
    size_t k = size ? (data[salt % size] & 3) + 1 : 1;

    for (size_t i = 0; i < k; i++) {
        size_t p = size ? data[(salt + 3 * i + 1) % size] * 131u + salt : salt;
        size_t q = size ? data[(salt + 3 * i + 2) % size] * 7u : i;
        size_t from = p % (len + 1), to = from + q % (len + 1 - from);
        size_t tl = (p + q) % 7;
        for (size_t t = 0; t < tl && t < 6; t++)
            text[i][t] = bits[(p / 3 + t * q) % 8];
        ch[i].from = from;
        ch[i].to = to;
        ch[i].insert = text[i];
        ch[i].insert_len = tl < 6 ? tl : 6;
    }
    if (cd_cs_of(ch, k, len, &cs) != CD_OK)
        return NULL;
    CHECK(cd_cs_len(cs) == len);
    return cs;
}

static void check_engine(const struct cd_cs *a, const uint16_t *doc, size_t n, const uint8_t *data,
                         size_t size)
{
    struct cd_cs *bd = NULL, *c = NULL, *ac = NULL;
    struct cd_cs *inv = NULL, *id = NULL, *amb = NULL, *bma = NULL, *x = NULL, *y = NULL;
    struct cd_cs *da = NULL, *db = NULL, *md = NULL;
    uint16_t *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    char *t1 = NULL, *t2 = NULL;
    struct rebuild rb = {NULL, 0, 0};
    int rc;

    d1 = apply(a, doc, n, &n1);
    if (!d1)
        goto out;
    CHECK(n1 == cd_cs_new_len(a));
    /* iterChanges rebuilds the same document */
    rb.cap = n + n1 + 1;
    rb.doc = malloc(rb.cap * sizeof(*rb.doc));
    if (rb.doc) {
        if (n)
            memcpy(rb.doc, doc, n * sizeof(*doc));
        rb.n = n;
        CHECK(cd_cs_iter_changes(a, rebuild_cb, &rb) == 0);
        CHECK(same(rb.doc, rb.n, d1, n1));
    }
    /* invert undoes */
    if (cd_cs_invert(a, doc, n, &inv))
        goto out;
    CHECK(cd_cs_len(inv) == n1 && cd_cs_new_len(inv) == n);
    d2 = apply(inv, d1, n1, &n2);
    if (!d2)
        goto out;
    CHECK(same(d2, n2, doc, n));
    free(d2);
    d2 = NULL;
    /* compose(A, invert(A)) is the identity on this document */
    rc = cd_cs_compose(a, inv, &id);
    CHECK(rc == CD_OK || rc == CD_ENOMEM);
    if (rc)
        goto out;
    CHECK(cd_cs_len(id) == n && cd_cs_new_len(id) == n);
    d2 = apply(id, doc, n, &n2);
    if (!d2)
        goto out;
    CHECK(same(d2, n2, doc, n));
    free(d2);
    d2 = NULL;
    /* compose law: A.compose(C) applied == C applied after A, for a C that cuts into A's texts */
    c = derived(data, size, 17, n1);
    if (!c)
        goto out;
    rc = cd_cs_compose(a, c, &ac);
    CHECK(rc == CD_OK || rc == CD_ENOMEM);
    if (rc)
        goto out;
    d3 = apply(ac, doc, n, &n3);
    d4 = apply(c, d1, n1, &n4);
    if (!d3 || !d4)
        goto out;
    CHECK(same(d3, n3, d4, n4));
    free(d3);
    free(d4);
    d3 = d4 = NULL;
    /* convergence with B = id, B = A, and B made from the input */
    bd = derived(data, size, 5, n);
    if (!bd)
        goto out;
    for (int round = 0; round < 3; round++) {
        const struct cd_cs *b = round == 0 ? id : round == 1 ? a : bd;
        rc = cd_cs_map(a, b, 1, &amb);
        CHECK(rc == CD_OK || rc == CD_ENOMEM);
        if (rc)
            goto out;
        rc = cd_cs_map(b, a, 0, &bma);
        CHECK(rc == CD_OK || rc == CD_ENOMEM);
        if (rc)
            goto out;
        CHECK(cd_cs_len(amb) == cd_cs_new_len(b) && cd_cs_len(bma) == cd_cs_new_len(a));
        if (cd_cs_compose(a, bma, &x) || cd_cs_compose(b, amb, &y))
            goto out;
        d3 = apply(x, doc, n, &n3);
        d4 = apply(y, doc, n, &n4);
        if (!d3 || !d4)
            goto out;
        CHECK(same(d3, n3, d4, n4));
        /* mapDesc on descs has the same sections as map */
        if (cd_cs_desc(a, &da) || cd_cs_desc(b, &db) || cd_cs_map_desc(da, db, 1, &md))
            goto out;
        t1 = desc_text(md);
        t2 = desc_text(amb);
        if (t1 && t2)
            CHECK(strcmp(t1, t2) == 0);
        free(t1);
        free(t2);
        t1 = t2 = NULL;
        free(d3);
        free(d4);
        d3 = d4 = NULL;
        cd_cs_free(x);
        cd_cs_free(y);
        cd_cs_free(da);
        cd_cs_free(db);
        cd_cs_free(md);
        x = y = da = db = md = NULL;
        if (round < 2) {
            cd_cs_free(amb);
            cd_cs_free(bma);
            amb = bma = NULL;
        }
    }
    /* rebase [A] over another client's B is A.map(B); over its own A it is dropped */
    {
        struct cd_update up = {NULL, NULL}, over = {(char *)"other", bd};
        size_t left = 0;
        up.client_id = malloc(3);
        if (!up.client_id || cd_cs_dup(a, &up.changes)) {
            cd_update_cleanup(&up);
            goto out;
        }
        memcpy(up.client_id, "me", 3);
        rc = cd_cs_rebase_updates(&up, 1, &over, 1, &left);
        CHECK(rc == CD_OK || rc == CD_ENOMEM);
        if (rc == CD_OK) {
            struct cd_cs *want = NULL;
            CHECK(left == 1);
            if (cd_cs_map(a, bd, 0, &want) == CD_OK) {
                t1 = to_text(up.changes, NULL);
                t2 = to_text(want, NULL);
                if (t1 && t2)
                    CHECK(strcmp(t1, t2) == 0);
            }
            cd_cs_free(want);
            free(t1);
            free(t2);
            t1 = t2 = NULL;
            over.client_id = (char *)"me";
            over.changes = (struct cd_cs *)a;
            rc = cd_cs_rebase_updates(&up, 1, &over, 1, &left);
            CHECK(rc == CD_OK && left == 0 && !up.changes);
        }
        cd_update_cleanup(&up);
    }
    /* mapped positions stay in range */
    for (size_t p = 0; p <= n; p += 1 + n / 8) {
        size_t m = 0;
        CHECK(cd_cs_map_pos(a, p, p & 1 ? 1 : -1, CD_MAP_SIMPLE, &m) == CD_OK && m <= n1);
        rc = cd_cs_map_pos(a, p, -1, CD_MAP_TRACK_DEL, &m);
        CHECK(rc == CD_OK || rc == CD_ENOTFOUND);
    }
    CHECK(cd_cs_map_pos(a, n + 1, 1, CD_MAP_SIMPLE, &n4) == CD_ERANGE);
out:
    free(t1);
    free(t2);
    free(rb.doc);
    free(d1);
    free(d2);
    free(d3);
    free(d4);
    cd_cs_free(bd);
    cd_cs_free(c);
    cd_cs_free(ac);
    cd_cs_free(inv);
    cd_cs_free(id);
    cd_cs_free(amb);
    cd_cs_free(bma);
    cd_cs_free(x);
    cd_cs_free(y);
    cd_cs_free(da);
    cd_cs_free(db);
    cd_cs_free(md);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = NULL, *t1 = NULL, *t2 = NULL;
    cJSON *root = NULL, *back = NULL;
    const cJSON *csj, *docj = NULL;
    struct cd_cs *a = NULL, *a2 = NULL;
    uint16_t *doc = NULL;
    size_t n = size, docn = 0, l1 = 0, l2 = 0;
    char err[160];

    if (size > MAX_INPUT)
        return 0;
    text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (cd_json_wtf8_prepass(text, &n) != CD_OK)
        goto out; /* the server refuses such a message */
    CHECK(n <= size);
    root = cJSON_ParseWithLength(text, n);
    if (!root)
        goto out;
    check_strings(root);
    csj = root;
    if (cJSON_IsObject(root)) {
        csj = cJSON_GetObjectItemCaseSensitive(root, "changes");
        docj = cJSON_GetObjectItemCaseSensitive(root, "doc");
    }
    if (cd_cs_from_json(csj, &a, err, sizeof(err)) != CD_OK) {
        CHECK(a == NULL && err[0] != '\0');
        goto out;
    }
    CHECK(err[0] == '\0');
    /* the text round trip is exact */
    t1 = to_text(a, &l1);
    if (!t1)
        goto out;
    back = parse(t1, l1);
    CHECK(back != NULL);
    free(t1);
    t1 = to_text(a, &l1);
    CHECK(cd_cs_from_json(back, &a2, err, sizeof(err)) == CD_OK);
    t2 = to_text(a2, &l2);
    if (t1 && t2)
        CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0);
    CHECK(cd_cs_len(a2) == cd_cs_len(a) && cd_cs_new_len(a2) == cd_cs_new_len(a));
    if (cd_cs_len(a) > MAX_DOC || cd_cs_new_len(a) > MAX_DOC)
        goto out;
    /* the document: the message's own when its length matches, else one made from the input */
    if (cJSON_IsString(docj) &&
        cd_utf16_from_wtf8(docj->valuestring, strlen(docj->valuestring), &doc, &docn) == CD_OK &&
        docn != cd_cs_len(a)) {
        free(doc);
        doc = NULL;
    }
    if (!doc) {
        static const uint16_t alphabet[] = {'a', '\n', 0xD83D, 0xDE00, 0xDC00, 0, 'z', 0xE9};
        docn = cd_cs_len(a);
        doc = malloc((docn + 1) * sizeof(*doc));
        if (!doc)
            goto out;
        for (size_t i = 0; i < docn; i++)
            doc[i] = alphabet[(i + (size ? data[i % size] : 0)) % 8];
    }
    check_engine(a, doc, docn, data, size);
out:
    free(doc);
    free(t1);
    free(t2);
    cd_cs_free(a);
    cd_cs_free(a2);
    cJSON_Delete(back);
    cJSON_Delete(root);
    free(text);
    return 0;
}
