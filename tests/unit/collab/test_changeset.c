/*
 * test_changeset.c: the change-set engine against the real library.
 *
 * shared/vectors/changesets.json and changesets-surrogates.json were produced by
 * @codemirror/state 6.7.6 and @codemirror/collab 6.1.1; for every case every key the files
 * provide is checked: toJSON round trip, lengths, desc, apply, invert, ChangeSet.of(spec),
 * mapPos, map both ways, mapDesc, compose, the documents they lead to, batched rebase
 * (`rebase`) and rebase-one-entry-at-a-time (`rebaseSeq`) with dropped counts and docAfter.
 * Change sets are compared as text: ours (cd_cs_to_json) against the expected value normalised
 * through our parser and serialiser, and, independently, our text parsed back by cJSON against
 * the expected JSON value. Texts are compared as UTF-16 arrays.
 * Then: the strict parser's refusals, exact JSON.stringify output, error codes, and allocation
 * failure at every allocation of every operation (changeset.c is compiled into this test with
 * malloc/calloc/realloc redirected; ASan's leak check covers the unwinding).
 */
#include <stdlib.h>

#include "test.h"

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/utf16.h"

static long fi_fail_at; /* 0: no injection; else the allocation call number that fails */
static long fi_calls;
static int fi_failed;

static int fi_hit(void)
{
    if (fi_fail_at && ++fi_calls == fi_fail_at) {
        fi_failed = 1;
        return 1;
    }
    return 0;
}

static void *fi_malloc(size_t n)
{
    return fi_hit() ? NULL : malloc(n);
}

static void *fi_calloc(size_t a, size_t b)
{
    return fi_hit() ? NULL : calloc(a, b);
}

static void *fi_realloc(void *p, size_t n)
{
    return fi_hit() ? NULL : realloc(p, n);
}

#define malloc(n)     fi_malloc(n)
#define calloc(a, b)  fi_calloc(a, b)
#define realloc(p, n) fi_realloc(p, n)
#include "../../../server/collab/changeset.c"
#undef malloc
#undef calloc
#undef realloc

/* ---- helpers ----------------------------------------------------------------------------------
 */

static const char *ctx_file = "";
static long ctx_id = -1;
static long n_compared; /* values compared against the real library's output */

static void fail(const char *what, const char *got, const char *want)
{
    fprintf(stderr, "%s case %ld: %s\n  got  %s\n  want %s\n", ctx_file, ctx_id, what,
            got ? got : "(null)", want ? want : "(null)");
    cd_test_failures++;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* JSON text -> pre-pass -> cJSON, like the server does with a message. */
static cJSON *parse_text(const char *text, size_t n)
{
    char *t = malloc(n + 1);
    cJSON *j = NULL;
    if (!t)
        return NULL;
    memcpy(t, text, n);
    t[n] = '\0';
    if (cd_json_wtf8_prepass(t, &n) == CD_OK)
        j = cJSON_ParseWithLength(t, n);
    free(t);
    return j;
}

static cJSON *load_vectors(const char *name)
{
    const char *dir = getenv("CD_SHARED_DIR");
    char path[4096];
    FILE *f;
    char *data = NULL;
    long size;
    cJSON *j = NULL;

    snprintf(path, sizeof(path), "%s/vectors/%s", dir ? dir : "../shared", name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (set CD_SHARED_DIR)\n", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)size)) && fread(data, 1, (size_t)size, f) == (size_t)size)
        j = parse_text(data, (size_t)size);
    free(data);
    fclose(f);
    if (!j)
        fprintf(stderr, "cannot parse %s\n", path);
    return j;
}

static struct cd_cs *cs_from(const cJSON *j, const char *what)
{
    struct cd_cs *cs = NULL;
    char err[200];
    int rc = cd_cs_from_json(j, &cs, err, sizeof(err));
    if (rc) {
        char *t = cJSON_PrintUnformatted(j);
        fail(what, err, t);
        cJSON_free(t);
    }
    return cs;
}

static char *cs_text(const struct cd_cs *cs)
{
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 26);
    if (!cs || cd_cs_to_json(cs, &b)) {
        cd_buf_cleanup(&b);
        return NULL;
    }
    return cd_buf_take(&b, NULL);
}

static char *desc_text(const struct cd_cs *cs)
{
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 26);
    if (!cs || cd_cs_desc_to_json(cs, &b)) {
        cd_buf_cleanup(&b);
        return NULL;
    }
    return cd_buf_take(&b, NULL);
}

/* The expected change set, normalised through our parser and serialiser. */
static char *norm_text(const cJSON *j)
{
    struct cd_cs *cs = NULL;
    char *t;
    if (cd_cs_from_json(j, &cs, NULL, 0))
        return NULL;
    t = cs_text(cs);
    cd_cs_free(cs);
    return t;
}

/* Compare a computed change set with the expected JSON value, two independent ways. */
static void check_cs(const struct cd_cs *cs, const cJSON *want, const char *what)
{
    char *got = cs_text(cs), *exp = norm_text(want);
    n_compared++;
    if (!got || !exp || strcmp(got, exp) != 0) {
        fail(what, got, exp);
    } else {
        cJSON *back = parse_text(got, strlen(got));
        if (!back || !cJSON_Compare(back, want, 1))
            fail(what, got, "(structurally different from the expected JSON)");
        cJSON_Delete(back);
    }
    free(got);
    free(exp);
}

static void check_desc(const struct cd_cs *cs, const cJSON *want, const char *what)
{
    char *got = desc_text(cs), *exp = cJSON_PrintUnformatted(want);
    n_compared++;
    if (!got || !exp || strcmp(got, exp) != 0)
        fail(what, got, exp);
    free(got);
    cJSON_free(exp);
}

static uint16_t *u16_of(const cJSON *s, size_t *n)
{
    uint16_t *u = NULL;
    *n = 0;
    if (!cJSON_IsString(s) ||
        cd_utf16_from_wtf8(s->valuestring, strlen(s->valuestring), &u, n) != CD_OK)
        return NULL;
    return u;
}

static void check_units(const uint16_t *u, size_t n, const cJSON *want, const char *what)
{
    size_t wn = 0;
    uint16_t *w = u16_of(want, &wn);
    n_compared++;
    if (!u || !w || n != wn || (n && memcmp(u, w, n * sizeof(*u)) != 0)) {
        struct cd_buf b;
        cd_buf_init(&b, 1 << 20);
        if (u)
            cd_utf16_json_append(&b, u, n);
        fail(what, b.data, want && want->valuestring ? want->valuestring : "(missing)");
        cd_buf_cleanup(&b);
    }
    free(w);
}

static void check_num(long long got, const cJSON *want, const char *what)
{
    n_compared++;
    if (!cJSON_IsNumber(want) || (double)got != want->valuedouble) {
        char g[32], w[32];
        snprintf(g, sizeof(g), "%lld", got);
        snprintf(w, sizeof(w), "%g", cJSON_IsNumber(want) ? want->valuedouble : -1.0);
        fail(what, g, w);
    }
}

/* Apply cs to doc and check the result against want (when present); returns the new doc. */
static uint16_t *apply_check(const struct cd_cs *cs, const uint16_t *doc, size_t n,
                             const cJSON *want, const char *what, size_t *out_n)
{
    uint16_t *res = NULL;
    *out_n = 0;
    if (!cs || cd_cs_apply(cs, doc, n, &res, out_n)) {
        fail(what, "apply failed", "");
        return NULL;
    }
    if (want)
        check_units(res, *out_n, want, what);
    return res;
}

/* ChangeSet.of(spec, length) for a vector's spec list. */
static struct cd_cs *of_spec(const cJSON *spec, size_t length)
{
    size_t n = (size_t)cJSON_GetArraySize(spec), i = 0;
    struct cd_cs_change *ch = calloc(n ? n : 1, sizeof(*ch));
    uint16_t **texts = calloc(n ? n : 1, sizeof(*texts));
    struct cd_cs *cs = NULL;
    const cJSON *s;
    int ok = ch && texts;

    cJSON_ArrayForEach(s, spec)
    {
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(s, "from");
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(s, "to");
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(s, "insert");
        if (!ok)
            break;
        ch[i].from = (size_t)from->valuedouble;
        ch[i].to = to ? (size_t)to->valuedouble : ch[i].from;
        if (ins) {
            texts[i] = u16_of(ins, &ch[i].insert_len);
            ch[i].insert = texts[i];
        }
        i++;
    }
    if (ok && cd_cs_of(ch, n, length, &cs))
        cs = NULL;
    for (i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(ch);
    return cs;
}

struct rebuild {
    uint16_t *doc; /* copy of the old document, edited change by change */
    size_t n;
    const uint16_t *orig;
    size_t last_to_a;
    int bad;
};

/* Apply each reported change to a copy of the document (positions in the new document). */
static int rebuild_cb(void *ctx, size_t from_a, size_t to_a, size_t from_b, size_t to_b,
                      const uint16_t *ins, size_t ins_len)
{
    struct rebuild *r = ctx;
    size_t keep = r->n - (from_b + (to_a - from_a));
    uint16_t *nd;
    if (to_b - from_b != ins_len || from_a < r->last_to_a || (ins_len && !ins)) {
        r->bad = 1;
        return 1;
    }
    r->last_to_a = to_a;
    nd = malloc((from_b + ins_len + keep + 1) * sizeof(*nd));
    if (!nd) {
        r->bad = 1;
        return 1;
    }
    memcpy(nd, r->doc, from_b * sizeof(*nd));
    if (ins_len)
        memcpy(nd + from_b, ins, ins_len * sizeof(*nd));
    memcpy(nd + from_b + ins_len, r->doc + from_b + (to_a - from_a), keep * sizeof(*nd));
    free(r->doc);
    r->doc = nd;
    r->n = from_b + ins_len + keep;
    return 0;
}

/* Checks for one side (A, B or C) of a pair: every key the vector gives. */
static void check_side(const cJSON *side, struct cd_cs *cs, const uint16_t *doc, size_t n,
                       const char *name)
{
    char what[64];
    const cJSON *j;
    size_t an = 0;
    uint16_t *applied;

    snprintf(what, sizeof(what), "%s.json", name);
    check_cs(cs, cJSON_GetObjectItemCaseSensitive(side, "json"), what);
    if (!cs)
        return;
    if ((j = cJSON_GetObjectItemCaseSensitive(side, "len")))
        check_num((long long)cd_cs_len(cs), j, "len");
    if ((j = cJSON_GetObjectItemCaseSensitive(side, "newLen")))
        check_num((long long)cd_cs_new_len(cs), j, "newLen");
    if ((j = cJSON_GetObjectItemCaseSensitive(side, "desc"))) {
        struct cd_cs *d = NULL;
        snprintf(what, sizeof(what), "%s.desc", name);
        check_desc(cs, j, what);
        CD_CHECK_INT(cd_cs_desc(cs, &d), CD_OK);
        check_desc(d, j, what);
        CD_CHECK(d && !cd_cs_is_set(d));
        cd_cs_free(d);
    }
    snprintf(what, sizeof(what), "%s.applied", name);
    applied = apply_check(cs, doc, n, cJSON_GetObjectItemCaseSensitive(side, "applied"), what, &an);
    if ((j = cJSON_GetObjectItemCaseSensitive(side, "inverted"))) {
        struct cd_cs *inv = NULL;
        snprintf(what, sizeof(what), "%s.inverted", name);
        CD_CHECK_INT(cd_cs_invert(cs, doc, n, &inv), CD_OK);
        check_cs(inv, j, what);
        if (inv && applied) {
            size_t bn = 0;
            uint16_t *back = NULL;
            /* the inverse takes the new document back to the old one */
            CD_CHECK_INT(cd_cs_apply(inv, applied, an, &back, &bn), CD_OK);
            CD_CHECK(bn == n && (n == 0 || (back && memcmp(back, doc, n * 2) == 0)));
            free(back);
        }
        cd_cs_free(inv);
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(side, "spec"))) {
        struct cd_cs *of = of_spec(j, n);
        snprintf(what, sizeof(what), "ChangeSet.of(%s.spec)", name);
        check_cs(of, cJSON_GetObjectItemCaseSensitive(side, "json"), what);
        cd_cs_free(of);
    }
    /* iterChanges reports changes that rebuild the same document */
    if (applied) {
        struct rebuild r = {NULL, n, doc, 0, 0};
        r.doc = malloc((n + 1) * sizeof(*r.doc));
        if (r.doc && n)
            memcpy(r.doc, doc, n * sizeof(*r.doc));
        CD_CHECK_INT(cd_cs_iter_changes(cs, rebuild_cb, &r), 0);
        snprintf(what, sizeof(what), "%s iterChanges", name);
        n_compared++;
        if (r.bad || r.n != an || (an && memcmp(r.doc, applied, an * 2) != 0))
            fail(what, "different document", "");
        free(r.doc);
    }
    free(applied);
}

static void run_pair(const cJSON *c)
{
    const cJSON *jA = cJSON_GetObjectItemCaseSensitive(c, "A");
    const cJSON *jB = cJSON_GetObjectItemCaseSensitive(c, "B");
    const cJSON *jC = cJSON_GetObjectItemCaseSensitive(c, "C");
    const cJSON *j, *p;
    struct cd_cs *A, *B, *C = NULL, *dA = NULL, *dB = NULL;
    struct cd_cs *AmB = NULL, *AmBb = NULL, *BmA = NULL, *BmAb = NULL, *t = NULL, *t2 = NULL;
    uint16_t *doc, *da = NULL, *db = NULL, *x = NULL;
    size_t n = 0, na = 0, nb = 0, nx = 0;

    ctx_id = (long)cJSON_GetObjectItemCaseSensitive(c, "id")->valuedouble;
    doc = u16_of(cJSON_GetObjectItemCaseSensitive(c, "doc"), &n);
    CD_CHECK(doc != NULL);
    check_num((long long)n, cJSON_GetObjectItemCaseSensitive(c, "docLen"), "docLen");
    A = cs_from(cJSON_GetObjectItemCaseSensitive(jA, "json"), "A.json");
    B = cs_from(cJSON_GetObjectItemCaseSensitive(jB, "json"), "B.json");
    if (!doc || !A || !B)
        goto out;
    check_side(jA, A, doc, n, "A");
    check_side(jB, B, doc, n, "B");
    CD_CHECK_INT(cd_cs_apply(A, doc, n, &da, &na), CD_OK);
    CD_CHECK_INT(cd_cs_apply(B, doc, n, &db, &nb), CD_OK);

    CD_CHECK_INT(cd_cs_map(A, B, 0, &AmB), CD_OK);
    CD_CHECK_INT(cd_cs_map(A, B, 1, &AmBb), CD_OK);
    CD_CHECK_INT(cd_cs_map(B, A, 0, &BmA), CD_OK);
    CD_CHECK_INT(cd_cs_map(B, A, 1, &BmAb), CD_OK);
    check_cs(AmB, cJSON_GetObjectItemCaseSensitive(c, "A_map_B"), "A.map(B)");
    check_cs(AmBb, cJSON_GetObjectItemCaseSensitive(c, "A_map_B_before"), "A.map(B, true)");
    check_cs(BmA, cJSON_GetObjectItemCaseSensitive(c, "B_map_A"), "B.map(A)");
    check_cs(BmAb, cJSON_GetObjectItemCaseSensitive(c, "B_map_A_before"), "B.map(A, true)");

    /* mapDesc: on the sets (ChangeSet.mapDesc) and on their descs (ChangeDesc.mapDesc) */
    CD_CHECK_INT(cd_cs_desc(A, &dA), CD_OK);
    CD_CHECK_INT(cd_cs_desc(B, &dB), CD_OK);
    if ((j = cJSON_GetObjectItemCaseSensitive(c, "A_mapDesc_B"))) {
        CD_CHECK_INT(cd_cs_map_desc(A, B, 0, &t), CD_OK);
        check_desc(t, j, "A.mapDesc(B)");
        cd_cs_free(t);
        t = NULL;
        CD_CHECK_INT(cd_cs_map_desc(dA, dB, 0, &t), CD_OK);
        check_desc(t, j, "A.desc.mapDesc(B.desc)");
        cd_cs_free(t);
        t = NULL;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(c, "A_mapDesc_B_before"))) {
        CD_CHECK_INT(cd_cs_map_desc(dA, dB, 1, &t), CD_OK);
        check_desc(t, j, "A.desc.mapDesc(B.desc, true)");
        cd_cs_free(t);
        t = NULL;
    }

    /* compose: A then B.map(A), and B then A.map(B, true) */
    if ((j = cJSON_GetObjectItemCaseSensitive(c, "A_compose_BmapA")) && BmA) {
        CD_CHECK_INT(cd_cs_compose(A, BmA, &t), CD_OK);
        check_cs(t, j, "A.compose(B.map(A))");
        /* composeDesc gives the same sections */
        if (t) {
            struct cd_cs *dBmA = NULL;
            char *want = desc_text(t), *got;
            CD_CHECK_INT(cd_cs_desc(BmA, &dBmA), CD_OK);
            CD_CHECK_INT(cd_cs_compose_desc(dA, dBmA, &t2), CD_OK);
            got = desc_text(t2);
            CD_CHECK(got && want && strcmp(got, want) == 0);
            free(got);
            free(want);
            cd_cs_free(dBmA);
            cd_cs_free(t2);
            t2 = NULL;
        }
        cd_cs_free(t);
        t = NULL;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(c, "B_compose_AmapB_before")) && AmBb) {
        CD_CHECK_INT(cd_cs_compose(B, AmBb, &t), CD_OK);
        check_cs(t, j, "B.compose(A.map(B, true))");
        cd_cs_free(t);
        t = NULL;
    }
    if (da && db) {
        free(apply_check(AmB, db, nb, cJSON_GetObjectItemCaseSensitive(c, "doc_B_then_AmapB"),
                         "doc_B_then_AmapB", &nx));
        free(apply_check(AmBb, db, nb,
                         cJSON_GetObjectItemCaseSensitive(c, "doc_B_then_AmapB_before"),
                         "doc_B_then_AmapB_before", &nx));
        free(apply_check(BmA, da, na, cJSON_GetObjectItemCaseSensitive(c, "doc_A_then_BmapA"),
                         "doc_A_then_BmapA", &nx));
    }

    /* C follows A */
    if (jC && da) {
        C = cs_from(cJSON_GetObjectItemCaseSensitive(jC, "json"), "C.json");
        if (C) {
            check_side(jC, C, da, na, "C");
            if ((j = cJSON_GetObjectItemCaseSensitive(c, "A_compose_C"))) {
                CD_CHECK_INT(cd_cs_compose(A, C, &t), CD_OK);
                check_cs(t, j, "A.compose(C)");
                x = apply_check(t, doc, n,
                                cJSON_GetObjectItemCaseSensitive(c, "A_compose_C_applied"),
                                "A.compose(C) applied", &nx);
                free(x);
                cd_cs_free(t);
                t = NULL;
            }
        }
    }

    /* mapPos: [pos, assoc, expected] on A */
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "mapPos"))
    {
        size_t pos = (size_t)cJSON_GetArrayItem(p, 0)->valuedouble, got = 0;
        int assoc = (int)cJSON_GetArrayItem(p, 1)->valuedouble;
        CD_CHECK_INT(cd_cs_map_pos(A, pos, assoc, CD_MAP_SIMPLE, &got), CD_OK);
        check_num((long long)got, cJSON_GetArrayItem(p, 2), "A.mapPos");
    }
out:
    cd_cs_free(A);
    cd_cs_free(B);
    cd_cs_free(C);
    cd_cs_free(dA);
    cd_cs_free(dB);
    cd_cs_free(AmB);
    cd_cs_free(AmBb);
    cd_cs_free(BmA);
    cd_cs_free(BmAb);
    free(doc);
    free(da);
    free(db);
}

static void free_updates(struct cd_update *u, size_t n)
{
    for (size_t i = 0; u && i < n; i++)
        cd_update_cleanup(&u[i]);
    free(u);
}

static struct cd_update *load_updates(const cJSON *arr, size_t *n)
{
    size_t cnt = (size_t)cJSON_GetArraySize(arr), i = 0;
    struct cd_update *u = calloc(cnt ? cnt : 1, sizeof(*u));
    const cJSON *e;
    *n = 0;
    if (!u)
        return NULL;
    cJSON_ArrayForEach(e, arr)
    {
        u[i].client_id = dup_str(cJSON_GetObjectItemCaseSensitive(e, "clientID")->valuestring);
        u[i].changes = cs_from(cJSON_GetObjectItemCaseSensitive(e, "changes"), "update");
        if (!u[i].client_id || !u[i].changes) {
            free_updates(u, i + 1);
            return NULL;
        }
        i++;
    }
    *n = cnt;
    return u;
}

/* Apply updates in order to doc (takes ownership of doc); returns the final document. */
static uint16_t *apply_all(uint16_t *doc, size_t *n, const struct cd_update *u, size_t cnt)
{
    for (size_t i = 0; doc && i < cnt; i++) {
        uint16_t *next = NULL;
        size_t nn = 0;
        int rc = cd_cs_apply(u[i].changes, doc, *n, &next, &nn);
        free(doc);
        doc = rc ? NULL : next;
        *n = nn;
    }
    return doc;
}

static void run_rebase(const cJSON *c, int sequential)
{
    const cJSON *pushed = cJSON_GetObjectItemCaseSensitive(c, "pushed"), *e;
    struct cd_update *hist, *upd;
    size_t nh = 0, nu = 0, n0, ndoc = 0, i;
    uint16_t *doc;

    ctx_id = (long)cJSON_GetObjectItemCaseSensitive(c, "id")->valuedouble;
    hist = load_updates(cJSON_GetObjectItemCaseSensitive(c, "history"), &nh);
    upd = load_updates(cJSON_GetObjectItemCaseSensitive(pushed, "updates"), &nu);
    doc = u16_of(cJSON_GetObjectItemCaseSensitive(c, "doc0"), &ndoc);
    CD_CHECK(hist && upd && doc);
    if (!hist || !upd || !doc)
        goto out;
    n0 = nu;
    /* the history leads from doc0 to docBefore */
    doc = apply_all(doc, &ndoc, hist, nh);
    CD_CHECK(doc != NULL);
    if (!doc)
        goto out;
    check_units(doc, ndoc, cJSON_GetObjectItemCaseSensitive(c, "docBefore"), "docBefore");
    if (sequential) {
        for (i = 0; i < nh; i++)
            CD_CHECK_INT(cd_cs_rebase_updates(upd, nu, &hist[i], 1, &nu), CD_OK);
    } else {
        CD_CHECK_INT(cd_cs_rebase_updates(upd, nu, hist, nh, &nu), CD_OK);
    }
    check_num((long long)(n0 - nu), cJSON_GetObjectItemCaseSensitive(c, "dropped"), "dropped");
    i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "rebased"))
    {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(e, "clientID");
        if (i >= nu) {
            fail("rebased", "fewer updates", "more");
            break;
        }
        n_compared++;
        if (strcmp(upd[i].client_id, cid->valuestring) != 0)
            fail("rebased clientID", upd[i].client_id, cid->valuestring);
        check_cs(upd[i].changes, cJSON_GetObjectItemCaseSensitive(e, "changes"),
                 sequential ? "rebaseSeq changes" : "rebase changes");
        i++;
    }
    CD_CHECK_INT(i, nu);
    doc = apply_all(doc, &ndoc, upd, nu);
    CD_CHECK(doc != NULL);
    if (doc)
        check_units(doc, ndoc, cJSON_GetObjectItemCaseSensitive(c, "docAfter"), "docAfter");
out:
    free(doc);
    free_updates(hist, nh);
    free_updates(upd, nu);
}

static void run_file(const char *name, long *pairs, long *rebases)
{
    cJSON *v = load_vectors(name);
    const cJSON *c;
    CD_CHECK(v != NULL);
    if (!v)
        return;
    ctx_file = name;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(v, "pairs"))
    {
        run_pair(c);
        (*pairs)++;
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(v, "rebase"))
    {
        run_rebase(c, 0);
        (*rebases)++;
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(v, "rebaseSeq"))
    {
        run_rebase(c, 1);
        (*rebases)++;
    }
    ctx_file = "";
    ctx_id = -1;
    cJSON_Delete(v);
}

static void test_vectors(void)
{
    long pairs = 0, rebases = 0, before = n_compared;
    run_file("changesets.json", &pairs, &rebases);
    run_file("changesets-surrogates.json", &pairs, &rebases);
    fprintf(stderr, "  %ld pairs, %ld rebase cases, %ld values compared\n", pairs, rebases,
            n_compared - before);
    CD_CHECK_INT(pairs, 300);
    CD_CHECK_INT(rebases, 420);
}

/* ---- the strict parser -------------------------------------------------------------------------
 */

static struct cd_cs *parse_str(const char *text, int *rc, char *err, size_t errlen)
{
    cJSON *j = parse_text(text, strlen(text));
    struct cd_cs *cs = (struct cd_cs *)1;
    if (!j) {
        *rc = 1;
        return NULL;
    }
    *rc = cd_cs_from_json(j, &cs, err, errlen);
    cJSON_Delete(j);
    return cs;
}

static void test_parser_refuses(void)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{}", "must be a JSON array"},
        {"\"[1]\"", "must be a JSON array"},
        {"null", "must be a JSON array"},
        {"[0]", "item 0: keep length must be a positive integer"},
        {"[3,-1]", "item 1: keep length must be a positive integer"},
        {"[1.5]", "item 0: keep length must be a positive integer"},
        {"[2147483648]", "item 0: keep length is too large"},
        {"[1e400]", "item 0: keep length is too large"},
        {"[-1e400]", "item 0: keep length must be a positive integer"},
        {"[true]", "item 0: must be a number (keep) or an array (change)"},
        {"[null]", "item 0: must be a number (keep) or an array (change)"},
        {"[\"3\"]", "item 0: must be a number (keep) or an array (change)"},
        {"[{\"len\":3}]", "item 0: must be a number (keep) or an array (change)"},
        {"[1,[]]", "item 1: change must not be an empty array"},
        {"[[-1,\"a\"]]", "item 0: deletion length must be a non-negative integer"},
        {"[[0.5]]", "item 0: deletion length must be a non-negative integer"},
        {"[[\"a\"]]", "item 0: deletion length must be a non-negative integer"},
        {"[[[1]]]", "item 0: deletion length must be a non-negative integer"},
        {"[[2147483648]]", "item 0: deletion length is too large"},
        {"[[1,2]]", "item 0, element 1: inserted line must be a string"},
        {"[[1,\"a\",null]]", "item 0, element 2: inserted line must be a string"},
        {"[[1,\"a\",[\"b\"]]]", "item 0, element 2: inserted line must be a string"},
        {"[2,[0,\"a\\nb\"]]", "item 1, element 1: inserted line contains a line break"},
        {"[[0,\"\xff\"]]", "item 0, element 1: inserted line is not valid UTF-8"},
        {"[[0,\"\xc0\xaf\"]]", "item 0, element 1: inserted line is not valid UTF-8"},
        {"[[0]]", "item 0: change neither deletes nor inserts anything"},
        {"[5,[0,\"\"]]", "item 1: change neither deletes nor inserts anything"},
        {"[2147483647,1]", "item 1: document length exceeds the maximum"},
        {"[[0,\"a\"],2147483647]", "item 1: document length exceeds the maximum"},
        {"[[2147483647],[2147483647]]", "item 1: document length exceeds the maximum"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[200] = "x";
        int rc = 0;
        struct cd_cs *cs = parse_str(bad[i].json, &rc, err, sizeof(err));
        if (rc != CD_EPARSE || cs != NULL || !strstr(err, bad[i].msg)) {
            fprintf(stderr, "  %s: rc %d, err \"%s\", want \"%s\"\n", bad[i].json, rc, err,
                    bad[i].msg);
            cd_test_failures++;
        }
        cd_cs_free(cs == (struct cd_cs *)1 ? NULL : cs);
    }
    /* err may be NULL, and a tiny err buffer is still terminated */
    {
        cJSON *j = cJSON_Parse("[0]");
        struct cd_cs *cs = NULL;
        char tiny[4] = "abc";
        CD_CHECK_INT(cd_cs_from_json(j, &cs, NULL, 0), CD_EPARSE);
        CD_CHECK_INT(cd_cs_from_json(j, &cs, tiny, sizeof(tiny)), CD_EPARSE);
        CD_CHECK_STR(tiny, "ite");
        cJSON_Delete(j);
    }
}

static void test_parser_accepts(void)
{
    /* exact JSON.stringify(ChangeSet.fromJSON(x).toJSON()) texts, from the real library */
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"[]", "[]"},
        {"[3]", "[3]"},
        {"[3,[0,\"a\",\"b\"],[2],1]", "[3,[0,\"a\",\"b\"],[2],1]"},
        {"[[3,\"\"]]", "[[3]]"},
        {"[1.0, 2e0]", "[1,2]"},
        {"[[0,\"\",\"\"]]", "[[0,\"\",\"\"]]"},
        {"[[0,\"\\ud83d\"],1]", "[[0,\"\\ud83d\"],1]"},
        {"[[0,\"\\ude00\\ud83d\"]]", "[[0,\"\\ude00\\ud83d\"]]"},
        {"[[0,\"\\ud83d\\ude00\"]]", "[[0,\"\xf0\x9f\x98\x80\"]]"},
        {"[[0,\"\\ud83d\",\"\\ude00\"]]", "[[0,\"\\ud83d\",\"\\ude00\"]]"},
        {"[[0,\"\\u0001\\t\\\"\\\\/\\u007f\"]]", "[[0,\"\\u0001\\t\\\"\\\\/\x7f\"]]"},
        {"[[0,\"a\\u0000b\"]]", "[[0,\"a\\u0000b\"]]"},
        {"[[0,\"a\\r\"]]", "[[0,\"a\\r\"]]"},
        {"[3,4]", "[3,4]"},
        {"[[2],[3]]", "[[2],[3]]"},
        {"[2147483647]", "[2147483647]"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char err[200] = "";
        int rc = 0;
        struct cd_cs *cs = parse_str(ok[i].in, &rc, err, sizeof(err));
        char *t = rc ? NULL : cs_text(cs);
        if (rc || !t || strcmp(t, ok[i].out) != 0) {
            fprintf(stderr, "  %s: rc %d err \"%s\" got %s want %s\n", ok[i].in, rc, err,
                    t ? t : "(null)", ok[i].out);
            cd_test_failures++;
        }
        free(t);
        cd_cs_free(rc ? NULL : cs);
    }
    /* lengths and the inserted units of a tricky one */
    {
        int rc;
        struct cd_cs *cs = parse_str("[1,[1,\"a\\u0000\",\"\\ud83d\"]]", &rc, NULL, 0);
        uint16_t doc[2] = {'x', 'y'}, *out = NULL;
        size_t on = 0;
        static const uint16_t want[] = {'x', 'a', 0, '\n', 0xD83D};
        CD_CHECK_INT(rc, CD_OK);
        if (!rc) {
            CD_CHECK_INT(cd_cs_len(cs), 2);
            CD_CHECK_INT(cd_cs_new_len(cs), 5);
            CD_CHECK_INT(cd_cs_apply(cs, doc, 2, &out, &on), CD_OK);
            CD_CHECK(on == 5 && out && memcmp(out, want, sizeof(want)) == 0);
            free(out);
            cd_cs_free(cs);
        }
    }
}

/* ---- behaviour beyond the vectors
 * ---------------------------------------------------------------- */

static struct cd_cs *P(const char *json)
{
    int rc;
    struct cd_cs *cs = parse_str(json, &rc, NULL, 0);
    if (rc) {
        fprintf(stderr, "  cannot parse %s\n", json);
        cd_test_failures++;
        return NULL;
    }
    return cs;
}

static int stop_at_first(void *ctx, size_t fa, size_t ta, size_t fb, size_t tb, const uint16_t *ins,
                         size_t n)
{
    int *calls = ctx;
    (*calls)++;
    return 7;
}

struct collected {
    size_t v[16][5];
    int n;
};

static int collect(void *ctx, size_t fa, size_t ta, size_t fb, size_t tb, const uint16_t *ins,
                   size_t n)
{
    struct collected *c = ctx;
    if (c->n < 16) {
        c->v[c->n][0] = fa;
        c->v[c->n][1] = ta;
        c->v[c->n][2] = fb;
        c->v[c->n][3] = tb;
        c->v[c->n][4] = n;
    }
    c->n++;
    return 0;
}

static void test_errors_and_kinds(void)
{
    struct cd_cs *a = P("[2,[1,\"xy\"],3]"), *b = P("[5]"), *d = NULL, *r = NULL;
    struct cd_buf buf;
    uint16_t doc[6] = {'a', 'b', 'c', 'd', 'e', 'f'}, *out = (uint16_t *)1;
    size_t on = 9;

    if (!a || !b)
        goto out;
    CD_CHECK_INT(cd_cs_len(a), 6);
    CD_CHECK_INT(cd_cs_new_len(a), 7);
    CD_CHECK(!cd_cs_empty(a));
    CD_CHECK(cd_cs_empty(b));
    CD_CHECK(cd_cs_is_set(a));
    CD_CHECK(cd_cs_mem(a) > 0);
    /* wrong lengths */
    CD_CHECK_INT(cd_cs_apply(a, doc, 5, &out, &on), CD_EMISMATCH);
    CD_CHECK(out == NULL && on == 0);
    CD_CHECK_INT(cd_cs_invert(a, doc, 5, &r), CD_EMISMATCH);
    CD_CHECK_INT(cd_cs_map(a, b, 0, &r), CD_EMISMATCH); /* CodeMirror would return a here */
    CD_CHECK_INT(cd_cs_map_desc(a, b, 0, &r), CD_EMISMATCH);
    CD_CHECK_INT(cd_cs_compose(a, b, &r), CD_EMISMATCH);
    CD_CHECK_INT(cd_cs_compose_desc(b, a, &r), CD_EMISMATCH);
    CD_CHECK(r == NULL);
    /* descs cannot be applied, serialised as sets, or mapped as sets */
    CD_CHECK_INT(cd_cs_desc(a, &d), CD_OK);
    if (!d)
        goto out;
    CD_CHECK(!cd_cs_is_set(d));
    CD_CHECK_INT(cd_cs_apply(d, doc, 6, &out, &on), CD_EINVAL);
    cd_buf_init(&buf, 1024);
    CD_CHECK_INT(cd_cs_to_json(d, &buf), CD_EINVAL);
    CD_CHECK_INT(buf.len, 0);
    CD_CHECK_INT(cd_cs_desc_to_json(d, &buf), CD_OK);
    CD_CHECK_STR(buf.data, "[2,-1,1,2,3,-1]");
    cd_buf_cleanup(&buf);
    CD_CHECK_INT(cd_cs_map(d, a, 0, &r), CD_EINVAL);
    CD_CHECK_INT(cd_cs_compose(a, d, &r), CD_EINVAL);
    /* inverting a desc works (the texts come from the document) */
    CD_CHECK_INT(cd_cs_invert(d, doc, 6, &r), CD_OK);
    if (r) {
        char *t = cs_text(r);
        CD_CHECK_STR(t, "[2,[2,\"c\"],3]");
        free(t);
        cd_cs_free(r);
        r = NULL;
    }
    /* a buffer cap too small leaves the buffer unchanged */
    cd_buf_init(&buf, 8);
    CD_CHECK_INT(cd_buf_append(&buf, "ab", 2), CD_OK);
    CD_CHECK_INT(cd_cs_to_json(a, &buf), CD_ETOOBIG);
    CD_CHECK_STR(buf.data, "ab");
    CD_CHECK_INT(cd_cs_desc_to_json(a, &buf), CD_ETOOBIG);
    CD_CHECK_STR(buf.data, "ab");
    cd_buf_cleanup(&buf);
    /* iteration stops with the callback's value */
    {
        int calls = 0;
        CD_CHECK_INT(cd_cs_iter_changes(a, stop_at_first, &calls), 7);
        CD_CHECK_INT(calls, 1);
    }
    /* ChangeSet.empty */
    CD_CHECK_INT(cd_cs_new_empty(0, &r), CD_OK);
    if (r) {
        char *t = cs_text(r);
        CD_CHECK_STR(t, "[]");
        CD_CHECK(cd_cs_empty(r));
        free(t);
        cd_cs_free(r);
        r = NULL;
    }
    CD_CHECK_INT(cd_cs_new_empty(4, &r), CD_OK);
    if (r) {
        char *t = cs_text(r);
        CD_CHECK_STR(t, "[4]");
        free(t);
        cd_cs_free(r);
        r = NULL;
    }
    cd_cs_free(NULL);
out:
    cd_cs_free(a);
    cd_cs_free(b);
    cd_cs_free(d);
}

static void test_iter_changes_merges_adjacent(void)
{
    /* two adjacent changed sections are reported as one change, like iterChanges(f, false) */
    struct cd_cs *a = P("[1,[2,\"xy\"],[0,\"z\"],[1],2]");
    struct collected c;
    memset(&c, 0, sizeof(c));
    if (!a)
        return;
    CD_CHECK_INT(cd_cs_iter_changes(a, collect, &c), 0);
    CD_CHECK_INT(c.n, 1);
    CD_CHECK_INT(c.v[0][0], 1);
    CD_CHECK_INT(c.v[0][1], 4);
    CD_CHECK_INT(c.v[0][2], 1);
    CD_CHECK_INT(c.v[0][3], 4);
    CD_CHECK_INT(c.v[0][4], 3);
    cd_cs_free(a);
}

static void test_map_pos_modes(void)
{
    /* values from ChangeDesc.mapPos of @codemirror/state 6.7.6 */
    struct cd_cs *a = P("[2,[2],2,[0,\"xyz\"],1]");
    static const struct {
        size_t pos;
        int assoc, mode, rc;
        size_t want;
    } t[] = {
        {0, -1, CD_MAP_SIMPLE, 0, 0},
        {2, -1, CD_MAP_SIMPLE, 0, 2},
        {3, -1, CD_MAP_SIMPLE, 0, 2},
        {3, 1, CD_MAP_SIMPLE, 0, 2},
        {4, 1, CD_MAP_SIMPLE, 0, 2},
        {6, -1, CD_MAP_SIMPLE, 0, 4},
        {6, 1, CD_MAP_SIMPLE, 0, 7},
        {7, 1, CD_MAP_SIMPLE, 0, 8},
        {3, -1, CD_MAP_TRACK_DEL, CD_ENOTFOUND, 0},
        {2, -1, CD_MAP_TRACK_DEL, 0, 2},
        {4, 1, CD_MAP_TRACK_DEL, 0, 2},
        {2, 1, CD_MAP_TRACK_BEFORE, 0, 2},
        {4, 1, CD_MAP_TRACK_BEFORE, CD_ENOTFOUND, 0},
        {2, 1, CD_MAP_TRACK_AFTER, CD_ENOTFOUND, 0},
        {4, -1, CD_MAP_TRACK_AFTER, 0, 2},
        {6, 1, CD_MAP_TRACK_AFTER, 0, 7},
        {8, 1, CD_MAP_SIMPLE, CD_ERANGE, 0},
    };
    if (!a)
        return;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t got = 99;
        int rc = cd_cs_map_pos(a, t[i].pos, t[i].assoc, (enum cd_map_mode)t[i].mode, &got);
        if (rc != t[i].rc || got != (rc == 0 ? t[i].want : 99)) { /* untouched on error */
            fprintf(stderr, "  mapPos(%zu, %d, %d): rc %d got %zu want rc %d %zu\n", t[i].pos,
                    t[i].assoc, t[i].mode, rc, got, t[i].rc, t[i].want);
            cd_test_failures++;
        }
    }
    cd_cs_free(a);
}

static void test_of_edge_cases(void)
{
    static const uint16_t crlf[] = {'a', '\r', '\n', 'b', '\r', 'c', '\n'};
    struct cd_cs_change ch[3];
    struct cd_cs *cs = NULL;
    char *t;

    memset(ch, 0, sizeof(ch));
    /* line breaks are normalised; unsorted changes are mapped onto each other */
    ch[0].from = 3;
    ch[0].to = 4;
    ch[0].insert = crlf;
    ch[0].insert_len = 7;
    ch[1].from = 1;
    ch[1].to = 2;
    CD_CHECK_INT(cd_cs_of(ch, 2, 5, &cs), CD_OK);
    t = cs_text(cs);
    CD_CHECK_STR(t, "[1,[1],1,[1,\"a\",\"b\",\"c\",\"\"],1]");
    free(t);
    cd_cs_free(cs);
    cs = NULL;
    /* no changes at all */
    CD_CHECK_INT(cd_cs_of(NULL, 0, 3, &cs), CD_OK);
    t = cs_text(cs);
    CD_CHECK_STR(t, "[3]");
    free(t);
    cd_cs_free(cs);
    cs = NULL;
    /* out of range */
    ch[0].from = 2;
    ch[0].to = 1;
    CD_CHECK_INT(cd_cs_of(ch, 1, 5, &cs), CD_ERANGE);
    ch[0].from = 2;
    ch[0].to = 6;
    CD_CHECK_INT(cd_cs_of(ch, 1, 5, &cs), CD_ERANGE);
    CD_CHECK(cs == NULL);
}

/* invert swaps sections one for one, without merging (real library output) */
static void test_invert_keeps_sections(void)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"[[2],[3],2]", "[[0,\"ab\"],[0,\"cde\"],2]"},
        {"[3,4]", "[3,4]"},
        {"[[1,\"x\"],[0,\"y\"],6]", "[[1,\"a\"],[1],6]"},
        {"[[0,\"q\"],[2],[0,\"r\"],5]", "[[1],[0,\"ab\"],[1],5]"},
    };
    static const uint16_t doc[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g'};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct cd_cs *a = P(t[i].in), *r = NULL;
        char *got;
        if (!a)
            continue;
        CD_CHECK_INT(cd_cs_invert(a, doc, 7, &r), CD_OK);
        got = cs_text(r);
        CD_CHECK_STR(got, t[i].out);
        free(got);
        cd_cs_free(r);
        cd_cs_free(a);
    }
}

/* Exact representation choices that depend on set vs desc (checked against the real library). */
static void test_kind_shortcuts(void)
{
    struct cd_cs *a = P("[3,4]"), *e = P("[7]"), *da = NULL, *r = NULL;
    char *t;
    if (!a || !e)
        goto out;
    CD_CHECK_INT(cd_cs_desc(a, &da), CD_OK);
    /* ChangeDesc.mapDesc returns this unchanged when other is empty ... */
    CD_CHECK_INT(cd_cs_map_desc(da, e, 0, &r), CD_OK);
    t = desc_text(r);
    CD_CHECK_STR(t, "[3,-1,4,-1]");
    free(t);
    cd_cs_free(r);
    /* ... ChangeSet.mapDesc always runs mapSet, which merges */
    CD_CHECK_INT(cd_cs_map_desc(a, e, 0, &r), CD_OK);
    t = cs_text(r);
    CD_CHECK_STR(t, "[7]");
    free(t);
    cd_cs_free(r);
    /* ChangeSet.map returns this when other is empty */
    CD_CHECK_INT(cd_cs_map(a, e, 0, &r), CD_OK);
    t = cs_text(r);
    CD_CHECK_STR(t, "[3,4]");
    free(t);
    cd_cs_free(r);
    /* [3,4] is not `empty` in CodeMirror's sense, but [7] is: compose returns the other one */
    CD_CHECK(!cd_cs_empty(a));
    CD_CHECK_INT(cd_cs_compose(a, e, &r), CD_OK);
    t = cs_text(r);
    CD_CHECK_STR(t, "[3,4]");
    free(t);
    cd_cs_free(r);
    CD_CHECK_INT(cd_cs_compose(e, a, &r), CD_OK);
    t = cs_text(r);
    CD_CHECK_STR(t, "[3,4]");
    free(t);
    cd_cs_free(r);
out:
    cd_cs_free(a);
    cd_cs_free(e);
    cd_cs_free(da);
}

static struct cd_update mk_update(const char *client, const char *json)
{
    struct cd_update u;
    u.client_id = dup_str(client);
    u.changes = P(json);
    return u;
}

static char *updates_text(const struct cd_update *u, size_t n)
{
    struct cd_buf b;
    cd_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < n; i++) {
        cd_buf_puts(&b, u[i].client_id);
        cd_buf_puts(&b, ":");
        cd_cs_to_json(u[i].changes, &b);
        cd_buf_puts(&b, ";");
    }
    return cd_buf_take(&b, NULL);
}

static void test_rebase_edges(void)
{
    struct cd_update up[3], over[2];
    size_t n = 77;
    char *before, *after;

    up[0] = mk_update("me", "[[0,\"a\"],3]");
    up[1] = mk_update("me", "[4,[0,\"b\"]]");
    over[0] = mk_update("other", "[1,[0,\"xy\"],2]");
    over[1] = mk_update("other", "[9]"); /* wrong length: 5 expected */
    /* nothing to rebase over, or nothing to rebase */
    CD_CHECK_INT(cd_cs_rebase_updates(up, 2, over, 0, &n), CD_OK);
    CD_CHECK_INT(n, 2);
    CD_CHECK_INT(cd_cs_rebase_updates(up, 0, over, 1, &n), CD_OK);
    CD_CHECK_INT(n, 0);
    /* a length mismatch is refused and leaves the updates untouched */
    before = updates_text(up, 2);
    CD_CHECK_INT(cd_cs_rebase_updates(up, 2, over, 2, &n), CD_EMISMATCH);
    CD_CHECK_INT(n, 2);
    after = updates_text(up, 2);
    CD_CHECK_STR(after, before);
    free(before);
    free(after);
    /* the real thing: values from rebaseUpdates of @codemirror/collab 6.1.1 */
    CD_CHECK_INT(cd_cs_rebase_updates(up, 2, over, 1, &n), CD_OK);
    CD_CHECK_INT(n, 2);
    after = updates_text(up, 2);
    CD_CHECK_STR(after, "me:[[0,\"a\"],5];me:[6,[0,\"b\"]];");
    free(after);
    /* confirming both drops both */
    cd_update_cleanup(&over[1]);
    over[0].client_id[0] = 'm';
    over[0].client_id[1] = 'e';
    over[0].client_id[2] = '\0';
    cd_cs_free(over[0].changes);
    over[0].changes = P("[[0,\"a\"],5]");
    over[1] = mk_update("me", "[6,[0,\"b\"]]");
    CD_CHECK_INT(cd_cs_rebase_updates(up, 2, over, 2, &n), CD_OK);
    CD_CHECK_INT(n, 0);
    CD_CHECK(up[0].client_id == NULL && up[0].changes == NULL);
    CD_CHECK(up[1].client_id == NULL && up[1].changes == NULL);
    for (int i = 0; i < 2; i++) {
        cd_update_cleanup(&up[i]);
        cd_update_cleanup(&over[i]);
    }
    /* rebaseUpdates' running `changes` starts as a ChangeSet ([7,2] here): ChangeSet.mapDesc
     * always runs mapSet and so normalises it to [9], after which update.changes.map() takes
     * the empty-shortcut and returns the un-normalised [1,[1],3,4] as is (real library output) */
    up[0] = mk_update("me", "[9]");
    up[1] = mk_update("me", "[1,[1],3,4]");
    over[0] = mk_update("other", "[7,2]");
    CD_CHECK_INT(cd_cs_rebase_updates(up, 2, over, 1, &n), CD_OK);
    CD_CHECK_INT(n, 2);
    after = updates_text(up, 2);
    CD_CHECK_STR(after, "me:[9];me:[1,[1],3,4];");
    free(after);
    for (int i = 0; i < 2; i++)
        cd_update_cleanup(&up[i]);
    cd_update_cleanup(&over[0]);
    /* a desc in the updates is refused */
    up[2] = mk_update("me", "[1]");
    over[0] = mk_update("x", "[1]");
    {
        struct cd_cs *d = NULL;
        CD_CHECK_INT(cd_cs_desc(up[2].changes, &d), CD_OK);
        cd_cs_free(up[2].changes);
        up[2].changes = d;
    }
    CD_CHECK_INT(cd_cs_rebase_updates(&up[2], 1, over, 1, &n), CD_EINVAL);
    cd_update_cleanup(&up[2]);
    cd_update_cleanup(&over[0]);
}

/* ---- allocation failure
 * -------------------------------------------------------------------------- */

struct oom_ctx {
    const cJSON *json;
    struct cd_cs *a, *b, *c; /* b starts with a, c follows a */
    const uint16_t *doc;
    size_t n;
    struct cd_update *up, *over;
    size_t nup, nover;
};

typedef int (*oom_op)(struct oom_ctx *x);

static int op_parse(struct oom_ctx *x)
{
    struct cd_cs *r = (struct cd_cs *)1;
    char err[100];
    int rc = cd_cs_from_json(x->json, &r, err, sizeof(err));
    CD_CHECK(rc ? r == NULL : r != NULL);
    cd_cs_free(r);
    return rc;
}

#define OP2(name, call)                                                                            \
    static int name(struct oom_ctx *x)                                                             \
    {                                                                                              \
        struct cd_cs *r = (struct cd_cs *)1;                                                       \
        int rc = call;                                                                             \
        CD_CHECK(rc ? r == NULL : r != NULL);                                                      \
        cd_cs_free(r);                                                                             \
        return rc;                                                                                 \
    }

OP2(op_map, cd_cs_map(x->a, x->b, 0, &r))
OP2(op_map_before, cd_cs_map(x->b, x->a, 1, &r))
OP2(op_map_desc, cd_cs_map_desc(x->a, x->b, 1, &r))
OP2(op_compose, cd_cs_compose(x->a, x->c, &r))
OP2(op_compose_desc, cd_cs_compose_desc(x->a, x->c, &r))
OP2(op_invert, cd_cs_invert(x->a, x->doc, x->n, &r))
OP2(op_dup, cd_cs_dup(x->a, &r))
OP2(op_desc, cd_cs_desc(x->a, &r))
OP2(op_empty, cd_cs_new_empty(5, &r))

static int op_apply(struct oom_ctx *x)
{
    uint16_t *out = (uint16_t *)1;
    size_t on = 1;
    int rc = cd_cs_apply(x->a, x->doc, x->n, &out, &on);
    CD_CHECK(rc ? out == NULL : out != NULL);
    free(out);
    return rc;
}

static int op_of(struct oom_ctx *x)
{
    static const uint16_t t1[] = {'a', '\r', '\n', 'b'}, t2[] = {'q'};
    struct cd_cs_change ch[4] = {
        {3, 5, t1, 4},
        {0, 1, t2, 1},
        {4, 4, t2, 1},
        {1, 6, NULL, 0},
    };
    struct cd_cs *r = (struct cd_cs *)1;
    int rc = cd_cs_of(ch, 4, 8, &r);
    CD_CHECK(rc ? r == NULL : r != NULL);
    cd_cs_free(r);
    return rc;
}

static int op_rebase(struct oom_ctx *x)
{
    /* work on copies made with injection paused, and check the copies are untouched on error */
    struct cd_update *u = calloc(x->nup, sizeof(*u));
    long saved = fi_fail_at;
    size_t n = 0;
    int rc = CD_ENOMEM;
    char *before = NULL, *after = NULL;

    fi_fail_at = 0;
    for (size_t i = 0; u && i < x->nup; i++) {
        u[i].client_id = dup_str(x->up[i].client_id);
        if (cd_cs_dup(x->up[i].changes, &u[i].changes))
            goto out;
    }
    before = updates_text(u, x->nup);
    fi_fail_at = saved;
    rc = cd_cs_rebase_updates(u, x->nup, x->over, x->nover, &n);
    fi_fail_at = 0;
    if (rc) {
        after = updates_text(u, x->nup);
        CD_CHECK_INT(n, x->nup);
        CD_CHECK(before && after && strcmp(before, after) == 0);
    }
out:
    fi_fail_at = saved;
    free_updates(u, x->nup);
    free(before);
    free(after);
    return rc;
}

/* Run op failing its 1st, 2nd, ... allocation until it succeeds untouched. */
static void oom_loop(const char *name, oom_op op, struct oom_ctx *x)
{
    long k;
    for (k = 1; k < 10000; k++) {
        int rc;
        fi_calls = 0;
        fi_failed = 0;
        fi_fail_at = k;
        rc = op(x);
        fi_fail_at = 0;
        if (!fi_failed) {
            CD_CHECK_INT(rc, CD_OK);
            break;
        }
        if (rc != CD_ENOMEM) {
            fprintf(stderr, "  %s: allocation %ld failed, rc %d\n", name, k, rc);
            cd_test_failures++;
        }
    }
    CD_CHECK(k > 1 || op == op_empty); /* every op allocates */
}

static void test_alloc_failure(void)
{
    struct oom_ctx x;
    cJSON *j = parse_text("[2,[1,\"\\ud83dx\",\"y\"],3,[0,\"z\"],[2],1]", 38);
    static const uint16_t doc[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'};
    memset(&x, 0, sizeof(x));
    CD_CHECK(j != NULL);
    x.json = j;
    x.a = P("[2,[1,\"\\ud83dx\",\"y\"],3,[0,\"z\"],[2],1]");
    x.b = P("[1,[3,\"uv\"],[0,\"w\"],2,[1],2]");
    x.c = P("[1,[3,\"k\"],2,[0,\"m\",\"n\"],4,[1]]");
    x.doc = doc;
    x.n = 9;
    x.up = calloc(2, sizeof(*x.up));
    x.over = calloc(3, sizeof(*x.over));
    if (!x.a || !x.b || !x.c || !x.up || !x.over)
        goto out;
    x.up[0] = mk_update("me", "[1,[0,\"a\"],8]");
    x.up[1] = mk_update("me", "[3,[2,\"bc\"],5]");
    x.over[0] = mk_update("you", "[[2,\"x\"],7]");
    x.over[1] = mk_update("me", "[[1,\"x\"],[0,\"a\"],7]");
    x.over[2] = mk_update("you", "[4,[0,\"q\"],5]");
    x.nup = 2;
    x.nover = 3;
    oom_loop("parse", op_parse, &x);
    oom_loop("map", op_map, &x);
    oom_loop("map before", op_map_before, &x);
    oom_loop("mapDesc", op_map_desc, &x);
    oom_loop("compose", op_compose, &x);
    oom_loop("composeDesc", op_compose_desc, &x);
    oom_loop("invert", op_invert, &x);
    oom_loop("dup", op_dup, &x);
    oom_loop("desc", op_desc, &x);
    oom_loop("empty", op_empty, &x);
    oom_loop("apply", op_apply, &x);
    oom_loop("of", op_of, &x);
    oom_loop("rebase", op_rebase, &x);
out:
    cJSON_Delete(j);
    cd_cs_free(x.a);
    cd_cs_free(x.b);
    cd_cs_free(x.c);
    free_updates(x.up, x.up ? 2 : 0);
    free_updates(x.over, x.over ? 3 : 0);
}

int main(void)
{
    CD_RUN(test_vectors);
    CD_RUN(test_parser_refuses);
    CD_RUN(test_parser_accepts);
    CD_RUN(test_errors_and_kinds);
    CD_RUN(test_iter_changes_merges_adjacent);
    CD_RUN(test_map_pos_modes);
    CD_RUN(test_of_edge_cases);
    CD_RUN(test_invert_keeps_sections);
    CD_RUN(test_kind_shortcuts);
    CD_RUN(test_rebase_edges);
    CD_RUN(test_alloc_failure);
    CD_TEST_END();
}
