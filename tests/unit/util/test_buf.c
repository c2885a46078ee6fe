/* Unit tests for util/buf: the cap is enforced exactly, failed appends change nothing, take/reset.
 */
#include "test.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdlib.h>

static void test_cap(void)
{
    struct cd_buf b;
    cd_buf_init(&b, 10);
    CD_CHECK_INT(cd_buf_append(&b, "hello", 5), CD_OK);
    CD_CHECK_INT(cd_buf_append(&b, "world", 5), CD_OK);
    CD_CHECK_INT(b.len, 10);
    CD_CHECK_INT(cd_buf_append(&b, "!", 1), CD_ETOOBIG);
    CD_CHECK_INT(b.len, 10);
    CD_CHECK_STR(b.data, "helloworld");
    CD_CHECK(b.alloc <= 11);
    cd_buf_reset(&b);
    CD_CHECK_INT(b.len, 0);
    CD_CHECK_STR(b.data, "");
    CD_CHECK_INT(cd_buf_append(&b, "x", (size_t)-1), CD_ETOOBIG);
    cd_buf_cleanup(&b);
}

static void test_printf_take(void)
{
    struct cd_buf b;
    cd_buf_init(&b, 1 << 20);
    CD_CHECK_INT(cd_buf_printf(&b, "%d-%s", 42, "x"), CD_OK);
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CD_CHECK_INT(cd_buf_printf(&b, "%s", big), CD_OK);
    CD_CHECK_INT(b.len, 4 + 599);
    size_t n = 0;
    char *p = cd_buf_take(&b, &n);
    CD_CHECK_INT(n, 603);
    CD_CHECK(p && p[603] == '\0' && p[0] == '4');
    CD_CHECK(b.data == NULL && b.len == 0);
    free(p);
    cd_buf_init(&b, 3);
    CD_CHECK_INT(cd_buf_printf(&b, "%s", "abcd"), CD_ETOOBIG);
    CD_CHECK(cd_buf_take(&b, NULL) == NULL);
}

int main(void)
{
    CD_RUN(test_cap);
    CD_RUN(test_printf_take);
    CD_TEST_END();
}
