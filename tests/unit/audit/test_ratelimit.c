/*
 * Unit tests for audit/ratelimit: a burst, then refusals with Retry-After and the start of a
 * streak marked once, refill over time, addresses independent of each other, a table that
 * never grows past its slots under a flood of distinct addresses (idle addresses forgotten
 * first, one over its limit kept), long keys, bad arguments. Time is driven by the test.
 */
#include "audit/ratelimit.h"
#include "test.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static int take(struct cd_ratelimit *rl, const char *k, uint64_t now, unsigned *retry, int *first)
{
    return cd_ratelimit_take(rl, k, strlen(k), now, retry, first);
}

static void test_burst_and_refill(void)
{
    struct cd_ratelimit *rl = NULL;
    CD_CHECK_INT(cd_ratelimit_new(&rl, 2, 5, 64), CD_OK);
    uint64_t t = 1000000;
    for (int i = 0; i < 5; i++)
        CD_CHECK_INT(take(rl, "10.0.0.1", t, NULL, NULL), CD_OK);
    unsigned retry = 0;
    int first = -1;
    CD_CHECK_INT(take(rl, "10.0.0.1", t, &retry, &first), CD_ELIMIT);
    CD_CHECK_INT(retry, 1);
    CD_CHECK_INT(first, 1);
    CD_CHECK_INT(take(rl, "10.0.0.1", t + 100, &retry, &first), CD_ELIMIT);
    CD_CHECK_INT(first, 0); /* the same streak */
    /* another address is not affected */
    CD_CHECK_INT(take(rl, "10.0.0.2", t + 100, NULL, NULL), CD_OK);
    /* 2 per second: one token after 500 ms */
    CD_CHECK_INT(take(rl, "10.0.0.1", t + 499, NULL, NULL), CD_ELIMIT);
    CD_CHECK_INT(take(rl, "10.0.0.1", t + 500, NULL, NULL), CD_OK);
    CD_CHECK_INT(take(rl, "10.0.0.1", t + 500, &retry, &first), CD_ELIMIT);
    CD_CHECK_INT(first, 1); /* a new streak after an allowed request */
    /* after a long pause the bucket is full again, and no fuller than burst */
    for (int i = 0; i < 5; i++)
        CD_CHECK_INT(take(rl, "10.0.0.1", t + 60000, NULL, NULL), CD_OK);
    CD_CHECK_INT(take(rl, "10.0.0.1", t + 60000, NULL, NULL), CD_ELIMIT);
    struct cd_ratelimit_stats s;
    cd_ratelimit_stats_get(rl, &s);
    CD_CHECK_INT(s.allowed, 12);
    CD_CHECK_INT(s.refused, 5);
    CD_CHECK_INT(s.entries, 2);
    CD_CHECK_INT(s.slots, 64);
    cd_ratelimit_free(rl);
}

static void test_slow_rate_retry_after(void)
{
    struct cd_ratelimit *rl = NULL;
    CD_CHECK_INT(cd_ratelimit_new(&rl, 0.25, 1, 8), CD_OK); /* one request per 4 s */
    unsigned retry = 0;
    CD_CHECK_INT(take(rl, "a", 5000, NULL, NULL), CD_OK);
    CD_CHECK_INT(take(rl, "a", 5000, &retry, NULL), CD_ELIMIT);
    CD_CHECK_INT(retry, 4);
    CD_CHECK_INT(take(rl, "a", 7000, &retry, NULL), CD_ELIMIT);
    CD_CHECK_INT(retry, 2);
    CD_CHECK_INT(take(rl, "a", 9000, &retry, NULL), CD_OK);
    cd_ratelimit_free(rl);
}

static void test_bounded_table(void)
{
    struct cd_ratelimit *rl = NULL;
    CD_CHECK_INT(cd_ratelimit_new(&rl, 10, 10, 100), CD_OK); /* 128 slots */
    struct cd_ratelimit_stats s;
    cd_ratelimit_stats_get(rl, &s);
    CD_CHECK_INT(s.slots, 128);
    /* a busy address, over its limit, then a flood of distinct addresses at the same time */
    for (int i = 0; i < 10; i++)
        take(rl, "203.0.113.9", 1000, NULL, NULL);
    CD_CHECK_INT(take(rl, "203.0.113.9", 1000, NULL, NULL), CD_ELIMIT);
    int still_limited = 0;
    for (int i = 0; i < 100000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        CD_CHECK_INT(take(rl, k, 1000 + (uint64_t)i / 1000, NULL, NULL), CD_OK);
        if (i % 1000 == 999) /* the busy address keeps asking */
            still_limited += take(rl, "203.0.113.9", 1000, NULL, NULL) == CD_ELIMIT;
    }
    cd_ratelimit_stats_get(rl, &s);
    CD_CHECK(s.entries <= s.slots);
    CD_CHECK(s.evicted > 0);
    CD_CHECK_INT(still_limited, 100); /* never forgotten while in debt */

    /* idle addresses (bucket full again) are taken before busy ones */
    cd_ratelimit_free(rl);
    CD_CHECK_INT(cd_ratelimit_new(&rl, 1, 2, 8), CD_OK); /* one window of 8 slots */
    for (int i = 0; i < 8; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        take(rl, k, 0, NULL, NULL);
    }
    take(rl, "busy", 10000, NULL, NULL); /* all eight idle by now: replaces one, no eviction */
    take(rl, "busy", 10000, NULL, NULL);
    CD_CHECK_INT(take(rl, "busy", 10000, NULL, NULL), CD_ELIMIT);
    cd_ratelimit_stats_get(rl, &s);
    CD_CHECK_INT(s.evicted, 0);
    CD_CHECK_INT(s.entries, 8);
    for (int i = 0; i < 6; i++) {
        char k[8];
        snprintf(k, sizeof(k), "n%d", i);
        take(rl, k, 10001, NULL, NULL); /* replace idle ones */
    }
    CD_CHECK_INT(take(rl, "busy", 10001, NULL, NULL), CD_ELIMIT); /* still known, still limited */
    cd_ratelimit_free(rl);
}

static void test_long_keys_and_args(void)
{
    struct cd_ratelimit *rl = NULL;
    CD_CHECK_INT(cd_ratelimit_new(&rl, 0, 1, 8), CD_EINVAL);
    CD_CHECK(rl == NULL);
    CD_CHECK_INT(cd_ratelimit_new(&rl, 1, 0.5, 8), CD_EINVAL);
    CD_CHECK_INT(cd_ratelimit_new(&rl, 1, 1, 0), CD_EINVAL);
    CD_CHECK_INT(cd_ratelimit_new(&rl, 1, 1, 1), CD_OK);
    char a[200], b[200];
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(a));
    b[150] = 'y'; /* differs only past the kept bytes: the same address */
    CD_CHECK_INT(take(rl, a, 0, NULL, NULL), CD_OK);
    CD_CHECK_INT(take(rl, b, 0, NULL, NULL), CD_ELIMIT);
    cd_ratelimit_free(rl);
    cd_ratelimit_free(NULL);
    struct cd_ratelimit_stats s;
    cd_ratelimit_stats_get(NULL, &s);
    CD_CHECK_INT(s.refused, 0);
}

int main(void)
{
    CD_RUN(test_burst_and_refill);
    CD_RUN(test_slow_rate_retry_after);
    CD_RUN(test_bounded_table);
    CD_RUN(test_long_keys_and_args);
    CD_TEST_END();
}
