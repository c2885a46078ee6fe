/* Unit tests for util/map: insert, replace, delete with tombstones, growth past many entries. */
#include "test.h"
#include "util/error.h"
#include "util/map.h"

#include <stdio.h>

static void test_basic(void)
{
    struct cd_map m;
    cd_map_init(&m);
    CD_CHECK(cd_map_get(&m, "a", 1) == NULL);
    int one = 1, two = 2;
    CD_CHECK_INT(cd_map_put(&m, "a", 1, &one), CD_OK);
    CD_CHECK(cd_map_get(&m, "a", 1) == &one);
    CD_CHECK_INT(cd_map_put(&m, "a", 1, &two), CD_OK);
    CD_CHECK(cd_map_get(&m, "a", 1) == &two);
    CD_CHECK_INT(m.count, 1);
    CD_CHECK(cd_map_del(&m, "a", 1) == &two);
    CD_CHECK(cd_map_get(&m, "a", 1) == NULL);
    CD_CHECK(cd_map_del(&m, "a", 1) == NULL);
    CD_CHECK_INT(m.count, 0);
    cd_map_cleanup(&m);
}

static void test_many(void)
{
    struct cd_map m;
    cd_map_init(&m);
    static int vals[5000];
    char k[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof(k), "key-%d", i);
        vals[i] = i;
        CD_CHECK_INT(cd_map_put(&m, k, (size_t)n, &vals[i]), CD_OK);
    }
    for (int i = 0; i < 5000; i += 2) {
        int n = snprintf(k, sizeof(k), "key-%d", i);
        CD_CHECK(cd_map_del(&m, k, (size_t)n) == &vals[i]);
    }
    /* churn: tombstones must not make lookups loop or the table grow without bound */
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < 5000; i += 2) {
            int n = snprintf(k, sizeof(k), "key-%d", i);
            CD_CHECK_INT(cd_map_put(&m, k, (size_t)n, &vals[i]), CD_OK);
            CD_CHECK(cd_map_del(&m, k, (size_t)n) == &vals[i]);
        }
    CD_CHECK_INT(m.count, 2500);
    CD_CHECK(m.nslots <= 16384);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof(k), "key-%d", i);
        void *v = cd_map_get(&m, k, (size_t)n);
        CD_CHECK(i % 2 ? v == &vals[i] : v == NULL);
    }
    cd_map_cleanup(&m);
}

int main(void)
{
    CD_RUN(test_basic);
    CD_RUN(test_many);
    CD_TEST_END();
}
