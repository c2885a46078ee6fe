/*
 * Minimal unit-test harness shared by every tests/unit executable.
 * Each test file defines static test functions and calls them from main() through CD_RUN;
 * a failed CD_CHECK prints file:line and the expression, and the process exits non-zero.
 */
#ifndef CD_TEST_H
#define CD_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cd_test_failures;
static int cd_test_count;

#define CD_CHECK(expr)                                                                             \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);               \
            cd_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CD_CHECK_INT(a, b)                                                                         \
    do {                                                                                           \
        long long cd_a_ = (long long)(a), cd_b_ = (long long)(b);                                  \
        if (cd_a_ != cd_b_) {                                                                      \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,    \
                    cd_a_, #b, cd_b_);                                                             \
            cd_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CD_CHECK_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *cd_a_ = (a), *cd_b_ = (b);                                                     \
        if (!cd_a_ || !cd_b_ || strcmp(cd_a_, cd_b_) != 0) {                                       \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    cd_a_ ? cd_a_ : "(null)", cd_b_ ? cd_b_ : "(null)");                           \
            cd_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CD_RUN(fn)                                                                                 \
    do {                                                                                           \
        int cd_before_ = cd_test_failures;                                                         \
        fn();                                                                                      \
        cd_test_count++;                                                                           \
        fprintf(stderr, "%s %s\n", cd_test_failures == cd_before_ ? "ok  " : "FAIL", #fn);         \
    } while (0)

#define CD_TEST_END()                                                                              \
    do {                                                                                           \
        fprintf(stderr, "%d tests, %d failed checks\n", cd_test_count, cd_test_failures);          \
        return cd_test_failures ? 1 : 0;                                                           \
    } while (0)

#endif
