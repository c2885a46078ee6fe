/*
 * Unit tests for collab/authority: pushes at the current version, stale pushes rebased one
 * stored update at a time, duplicates dropped, every refusal leaving the room unchanged,
 * bounded history, and every rebaseSeq case of ../shared/vectors (made by the real
 * @codemirror/collab) replayed through the authority with the expected final document.
 */
#include "collab/authority.h"
#include "test.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf16.h"

#include <stdio.h>
#include <stdlib.h>

static struct cd_auth_limits lim = {1 << 20, 1000, 1 << 20};

static uint16_t *u16(const char *s, size_t *n)
{
    uint16_t *u = NULL;
    cd_utf16_from_wtf8(s, strlen(s), &u, n);
    return u;
}

static int doc_is(const struct cd_auth *a, const char *expect)
{
    size_t n, m;
    uint16_t *want = u16(expect, &n), *got = NULL;
    const struct cd_doc *d = cd_auth_doc(a);
    cd_doc_slice(d, 0, cd_doc_len(d), &got, &m);
    int ok = n == m && !memcmp(want, got, n * 2);
    free(want);
    free(got);
    return ok;
}

static struct cd_update upd(const char *client, const char *changes_json)
{
    struct cd_update u = {strdup(client), NULL};
    size_t len = strlen(changes_json);
    char *text = strdup(changes_json);
    cd_json_wtf8_prepass(text, &len);
    cJSON *j = cJSON_ParseWithLength(text, len);
    char err[128];
    if (cd_cs_from_json(j, &u.changes, err, sizeof(err)))
        fprintf(stderr, "bad test change set %s: %s\n", changes_json, err);
    cJSON_Delete(j);
    free(text);
    return u;
}

static int push1(struct cd_auth *a, uint64_t base, const char *client, const char *changes,
                 struct cd_auth_result *res)
{
    struct cd_update u = upd(client, changes);
    char err[160];
    return cd_auth_push(a, base, &u, 1, 0, res, err, sizeof(err));
}

static void test_push_and_rebase(void)
{
    size_t n;
    uint16_t *t = u16("abc", &n);
    struct cd_auth *a;
    CD_CHECK_INT(cd_auth_new(&lim, t, n, &a), CD_OK);
    free(t);
    struct cd_auth_result r;
    CD_CHECK_INT(push1(a, 0, "A", "[[0,\"X\"],3]", &r), CD_OK);
    CD_CHECK_INT(r.accepted, 1);
    CD_CHECK_INT(r.first, 0);
    CD_CHECK(doc_is(a, "Xabc"));
    /* B pushed against version 0: rebased over A's insert */
    CD_CHECK_INT(push1(a, 0, "B", "[3,[0,\"Y\"]]", &r), CD_OK);
    CD_CHECK_INT(r.accepted, 1);
    CD_CHECK_INT(r.first, 1);
    CD_CHECK(doc_is(a, "XabcY"));
    CD_CHECK_INT(cd_auth_version(a), 2);
    /* A re-pushes its already accepted update: dropped, nothing applied */
    CD_CHECK_INT(push1(a, 0, "A", "[[0,\"X\"],3]", &r), CD_OK);
    CD_CHECK_INT(r.accepted, 0);
    CD_CHECK_INT(r.dropped, 1);
    CD_CHECK(doc_is(a, "XabcY"));
    const struct cd_hist *h = cd_auth_entry(a, 1);
    CD_CHECK(h && !strcmp(h->client_id, "B"));
    CD_CHECK(h && !strcmp(h->json, "[4,[0,\"Y\"]]"));
    size_t pos;
    CD_CHECK_INT(cd_auth_map_pos(a, 0, 3, 1, &pos), CD_OK);
    CD_CHECK_INT(pos, 5); /* after "abc" at v0, sticking right past B's insert */
    CD_CHECK_INT(cd_auth_map_pos(a, 0, 3, -1, &pos), CD_OK);
    CD_CHECK_INT(pos, 4);
    cd_auth_free(a);
}

static void test_refusals_change_nothing(void)
{
    struct cd_auth *a;
    struct cd_auth_limits small = {10, 3, 1 << 20};
    CD_CHECK_INT(cd_auth_new(&small, NULL, 0, &a), CD_OK);
    struct cd_auth_result r;
    CD_CHECK_INT(push1(a, 0, "A", "[[0,\"hello\"]]", &r), CD_OK);
    CD_CHECK_INT(push1(a, 5, "A", "[5,[0,\"!\"]]", &r), CD_ERANGE);       /* from the future */
    CD_CHECK_INT(push1(a, 1, "A", "[4,[0,\"!\"]]", &r), CD_EMISMATCH);    /* wrong length */
    CD_CHECK_INT(push1(a, 1, "A", "[5,[0,\"123456\"]]", &r), CD_ETOOBIG); /* 11 > 10 */
    CD_CHECK(doc_is(a, "hello"));
    CD_CHECK_INT(cd_auth_version(a), 1);
    struct cd_update two[2] = {upd("B", "[5,[0,\"!\"]]"), upd("B", "[5,[0,\"?\"]]")};
    char err[160];
    CD_CHECK_INT(cd_auth_push(a, 1, two, 2, 0, &r, err, sizeof(err)), CD_EMISMATCH);
    CD_CHECK(strstr(err, "update 1") != NULL);
    CD_CHECK(doc_is(a, "hello")); /* the valid first update was not applied either */
    /* reject mode refuses a stale push */
    CD_CHECK_INT(push1(a, 1, "B", "[5,[0,\"!\"]]", &r), CD_OK);
    struct cd_update s = upd("C", "[5,[0,\"?\"]]");
    CD_CHECK_INT(cd_auth_push(a, 1, &s, 1, 1, &r, err, sizeof(err)), CD_ECONFLICT);
    /* history bounded at 3: version 0 and 1 fall off; a push based on them must resync */
    for (int i = 0; i < 3; i++) {
        char cs[32];
        snprintf(cs, sizeof(cs), "[%zu]", (size_t)0);
        uint64_t v = cd_auth_version(a);
        CD_CHECK_INT(push1(a, v, "D", "[6]", &r), CD_OK);
    }
    CD_CHECK_INT(cd_auth_history_len(a), 3);
    CD_CHECK_INT(cd_auth_oldest(a), 2);
    CD_CHECK_INT(push1(a, 1, "E", "[6,[0,\"x\"]]", &r), CD_ESTALE);
    /* a push of more updates than the history holds: every one of them stays readable for the
     * broadcast that follows (the history is trimmed on the next push) */
    struct cd_auth *b;
    struct cd_auth_limits tiny = {100, 3, 1 << 20};
    CD_CHECK_INT(cd_auth_new(&tiny, NULL, 0, &b), CD_OK);
    struct cd_update five[5] = {upd("F", "[[0,\"1\"]]"), upd("F", "[1,[0,\"2\"]]"),
                                upd("F", "[2,[0,\"3\"]]"), upd("F", "[3,[0,\"4\"]]"),
                                upd("F", "[4,[0,\"5\"]]")};
    CD_CHECK_INT(cd_auth_push(b, 0, five, 5, 0, &r, err, sizeof(err)), CD_OK);
    CD_CHECK_INT(r.accepted, 5);
    for (size_t k = 0; k < r.accepted; k++)
        CD_CHECK(cd_auth_entry(b, r.first + k) != NULL);
    CD_CHECK_INT(push1(b, 5, "G", "[5]", &r), CD_OK);
    CD_CHECK_INT(cd_auth_history_len(b), 3);
    CD_CHECK(doc_is(b, "12345"));
    cd_auth_free(b);
    size_t pos;
    CD_CHECK_INT(cd_auth_map_pos(a, 1, 0, 1, &pos), CD_ESTALE);
    CD_CHECK(cd_auth_mem(a) > 0);
    cd_auth_free(a);
    cd_auth_free(NULL);
}

/* Parse a vectors file (after the lone-surrogate pre-pass). */
static cJSON *load(const char *name)
{
    char path[1024];
    const char *dir = getenv("CD_SHARED_DIR");
    snprintf(path, sizeof(path), "%s/vectors/%s", dir ? dir : "../shared", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    rewind(f);
    char *text = malloc(len + 1);
    size_t got = fread(text, 1, len, f);
    fclose(f);
    text[got] = '\0';
    cd_json_wtf8_prepass(text, &got);
    cJSON *j = cJSON_ParseWithLength(text, got);
    free(text);
    return j;
}

static struct cd_update from_item(const cJSON *item)
{
    const cJSON *cid = cJSON_GetObjectItem(item, "clientID");
    struct cd_update u = {strdup(cid->valuestring), NULL};
    cd_cs_from_json(cJSON_GetObjectItem(item, "changes"), &u.changes, NULL, 0);
    return u;
}

static void replay(const char *file)
{
    cJSON *root = load(file);
    CD_CHECK(root != NULL);
    if (!root)
        return;
    int cases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "rebaseSeq"))
    {
        const char *doc0 = cJSON_GetObjectItem(c, "doc0")->valuestring;
        size_t n;
        uint16_t *t = u16(doc0, &n);
        struct cd_auth *a;
        CD_CHECK_INT(cd_auth_new(&lim, t, n, &a), CD_OK);
        free(t);
        struct cd_auth_result r;
        char err[160];
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItem(c, "history"))
        {
            struct cd_update u = from_item(h);
            CD_CHECK_INT(cd_auth_push(a, cd_auth_version(a), &u, 1, 0, &r, err, sizeof(err)), 0);
        }
        const cJSON *pushed = cJSON_GetObjectItem(c, "pushed");
        const cJSON *ups = cJSON_GetObjectItem(pushed, "updates");
        size_t k = (size_t)cJSON_GetArraySize(ups), i = 0;
        struct cd_update *arr = calloc(k ? k : 1, sizeof(*arr));
        cJSON_ArrayForEach(h, ups) arr[i++] = from_item(h);
        /* The pushed updates were made on doc0: they are rebased over the whole history (the
         * vectors' pushed.version is not the base; the real library's run rebased from 0). */
        uint64_t base = 0;
        uint64_t before = cd_auth_version(a);
        CD_CHECK_INT(cd_auth_push(a, base, arr, k, 0, &r, err, sizeof(err)), CD_OK);
        free(arr);
        CD_CHECK_INT(r.dropped, cJSON_GetObjectItem(c, "dropped")->valueint);
        CD_CHECK_INT(r.accepted, cJSON_GetArraySize(cJSON_GetObjectItem(c, "rebased")));
        CD_CHECK_INT(cd_auth_version(a), before + r.accepted);
        /* the stored updates are exactly the rebased ones of the real library */
        const cJSON *want;
        size_t j = 0;
        cJSON_ArrayForEach(want, cJSON_GetObjectItem(c, "rebased"))
        {
            const struct cd_hist *e = cd_auth_entry(a, before + j++);
            struct cd_update w = from_item(want);
            struct cd_buf b;
            cd_buf_init(&b, 1 << 20);
            cd_cs_to_json(w.changes, &b);
            CD_CHECK(e && !strcmp(e->json, b.data));
            CD_CHECK(e && !strcmp(e->client_id, w.client_id));
            cd_buf_cleanup(&b);
            cd_update_cleanup(&w);
        }
        if (!doc_is(a, cJSON_GetObjectItem(c, "docAfter")->valuestring)) {
            fprintf(stderr, "%s case %d: final document differs\n", file,
                    cJSON_GetObjectItem(c, "id")->valueint);
            CD_CHECK(0);
        }
        cd_auth_free(a);
        cases++;
    }
    CD_CHECK(cases >= 50);
    fprintf(stderr, "%s: %d rebaseSeq cases replayed\n", file, cases);
    cJSON_Delete(root);
}

/* A push prepared to apply after a batch not applied yet (cd_auth_prepare_after): rebased over
 * the newer history, then over the batch; a re-push of a batch update is dropped; the size
 * limit and reject mode count the batch. */
static void test_prepare_after(void)
{
    size_t n, m;
    char err[160];
    uint16_t *t = u16("abc", &n);
    struct cd_auth *a;
    struct cd_auth_limits six = {6, 1000, 1 << 20};
    CD_CHECK_INT(cd_auth_new(&six, t, n, &a), CD_OK);
    free(t);
    struct cd_auth_result r;
    CD_CHECK_INT(push1(a, 0, "A", "[[0,\"X\"],3]", &r), CD_OK); /* v1: Xabc */
    /* the batch: B at v1, prepared, not applied (XabcY once it is) */
    struct cd_update batch[2] = {upd("B", "[4,[0,\"Y\"]]"), {NULL, NULL}};
    /* C pushed at v0 inserts Z after "a": over A, then over B */
    batch[1] = upd("C", "[1,[0,\"Z\"],2]");
    CD_CHECK_INT(cd_auth_prepare_after(a, 0, batch, 1, &batch[1], 1, 0, &m, err, sizeof(err)),
                 CD_OK);
    CD_CHECK_INT(m, 1);
    struct cd_buf js;
    cd_buf_init(&js, 1 << 20);
    CD_CHECK_INT(cd_cs_to_json(batch[1].changes, &js), CD_OK);
    CD_CHECK_STR(js.data, "[2,[0,\"Z\"],3]");
    cd_buf_cleanup(&js);
    /* against the history alone C would be 4 units long: the batch is counted */
    struct cd_update c2 = upd("C", "[1,[0,\"Z\"],2]");
    CD_CHECK_INT(cd_auth_prepare(a, 0, &c2, 1, 0, &m, err, sizeof(err)), CD_OK);
    CD_CHECK_INT(cd_cs_len(c2.changes), 4);
    cd_update_cleanup(&c2);
    /* B pushed again (a client re-pushing what it sent): dropped */
    struct cd_update again = upd("B", "[4,[0,\"Y\"]]");
    CD_CHECK_INT(cd_auth_prepare_after(a, 1, batch, 2, &again, 1, 0, &m, err, sizeof(err)), CD_OK);
    CD_CHECK_INT(m, 0);
    /* 6 units fit, 7 do not: "XaZbcY" plus one more */
    struct cd_update big = upd("D", "[[0,\"12\"],4]");
    CD_CHECK_INT(cd_auth_prepare(a, 1, &big, 1, 0, &m, err, sizeof(err)), CD_OK);
    cd_update_cleanup(&big);
    big = upd("D", "[[0,\"1\"],4]");
    CD_CHECK_INT(cd_auth_prepare_after(a, 1, batch, 2, &big, 1, 0, &m, err, sizeof(err)),
                 CD_ETOOBIG);
    cd_update_cleanup(&big);
    /* reject mode: nothing may come before the push, not even a batch */
    struct cd_update rj = upd("E", "[4]");
    CD_CHECK_INT(cd_auth_prepare_after(a, 1, batch, 1, &rj, 1, 1, &m, err, sizeof(err)),
                 CD_ECONFLICT);
    CD_CHECK_INT(cd_auth_prepare_after(a, 1, NULL, 0, &rj, 1, 1, &m, err, sizeof(err)), CD_OK);
    cd_update_cleanup(&rj);
    /* the batch applies as one sequence at v1 */
    CD_CHECK_INT(cd_auth_push(a, 1, batch, 2, 0, &r, err, sizeof(err)), CD_OK);
    CD_CHECK_INT(r.accepted, 2);
    CD_CHECK(doc_is(a, "XaZbcY"));
    cd_auth_free(a);
}

static void test_vectors(void)
{
    replay("changesets.json");
    replay("changesets-surrogates.json");
}

int main(void)
{
    CD_RUN(test_push_and_rebase);
    CD_RUN(test_refusals_change_nothing);
    CD_RUN(test_prepare_after);
    CD_RUN(test_vectors);
    CD_TEST_END();
}
