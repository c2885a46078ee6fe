/* Unit tests for the memory store: create/get/remove, the session limit, pagination order. */
#include "store/store.h"
#include "test.h"
#include "util/error.h"

static const struct cd_auth_limits lim = {1 << 20, 100, 1 << 20};

static void test_crud(void)
{
    struct cd_store *s = cd_store_memory_new(3, &lim);
    struct cd_session *a, *b, *c, *d;
    CD_CHECK_INT(s->ops->create(s, "python", &a), CD_OK);
    CD_CHECK_INT(s->ops->create(s, "javascript", &b), CD_OK);
    CD_CHECK_INT(s->ops->create(s, "python", &c), CD_OK);
    CD_CHECK_INT(s->ops->create(s, "python", &d), CD_ELIMIT);
    CD_CHECK(s->ops->get(s, a->id, 36) == a);
    CD_CHECK(s->ops->get(s, "nope", 4) == NULL);
    CD_CHECK_STR(b->language, "javascript");
    CD_CHECK(strcmp(a->id, a->view_token) != 0);
    CD_CHECK(a->auth && cd_auth_version(a->auth) == 0 && cd_doc_len(cd_auth_doc(a->auth)) == 0);
    CD_CHECK_INT(s->ops->remove(s, b->id, 36), CD_OK);
    CD_CHECK_INT(s->ops->remove(s, "nope", 4), CD_ENOTFOUND);
    CD_CHECK_INT(s->ops->count(s), 2);
    CD_CHECK_INT(s->ops->create(s, "python", &d), CD_OK);
    cd_store_free(s);
    cd_store_free(NULL);
}

static void test_pages(void)
{
    struct cd_store *s = cd_store_memory_new(100, &lim);
    struct cd_session *all[10], *page[4];
    for (int i = 0; i < 10; i++)
        CD_CHECK_INT(s->ops->create(s, "python", &all[i]), CD_OK);
    uint64_t removed_seq = all[5]->seq;
    CD_CHECK_INT(s->ops->remove(s, all[5]->id, 36), CD_OK);
    uint64_t after = 0;
    int more = 1, seen = 0, pages = 0;
    while (more) {
        size_t n = s->ops->list(s, after, page, 4, &more);
        for (size_t i = 0; i < n; i++) {
            CD_CHECK(page[i]->seq > after);
            after = page[i]->seq;
            seen++;
        }
        pages++;
        CD_CHECK(pages < 10);
    }
    CD_CHECK_INT(seen, 9);
    CD_CHECK_INT(pages, 3);
    /* a cursor pointing at a removed record still resumes after it */
    size_t n = s->ops->list(s, removed_seq, page, 4, &more);
    CD_CHECK_INT(n, 4);
    CD_CHECK(page[0] == all[6]);
    cd_store_free(s);
}

int main(void)
{
    CD_RUN(test_crud);
    CD_RUN(test_pages);
    CD_TEST_END();
}
