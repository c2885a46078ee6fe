/*
 * stats_bench.c: what counting costs the event loop, per counted event (audit/stats.c,
 * audit/ratelimit.c). Each figure is the median of 5 runs of N calls:
 *   - cd_stats_ws_message: every WebSocket message received (the loop's cached time given);
 *   - cd_stats_push_latency: every accepted push, plus the two cd_mono_us() reads around it
 *     that ws/collab.c adds (measured on their own too);
 *   - cd_stats_execution: every finished Python run, with 1,000 distinct addresses and 100
 *     user agents, so the space-saving tables are full and replace entries all the time (the
 *     worst case);
 *   - cd_stats_run_result: the same from a pool result (cJSON lookups, a wall-clock read);
 *   - cd_ratelimit_take: every REST request that is not a static file, 1,000 addresses.
 * The figures are CPU time on the calling thread; the machine's load shows: run it twice.
 *
 * usage: stats_bench [N]   (default 2000000; runs are N/10 for the execution figures)
 */
#include "audit/ratelimit.h"
#include "audit/stats.h"
#include "core/clock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 5

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

enum kind { WS_MESSAGE, PUSH, CLOCK2, EXECUTION, RUN_RESULT, RATELIMIT, NKINDS };
static const char *const names[NKINDS] = {
    "cd_stats_ws_message (per message)", "cd_stats_push_latency (per push)",
    "two cd_mono_us() reads (per push)", "cd_stats_execution, full tables (per run)",
    "cd_stats_run_result (per run)",     "cd_ratelimit_take, 1000 addresses (per request)",
};

static char ips[1000][32], uas[100][96];

static double one_run(enum kind k, long n)
{
    struct cd_stats *st = NULL;
    struct cd_ratelimit *rl = NULL;
    if (cd_stats_new(&st, 1795600800000ull) ||
        cd_ratelimit_new(&rl, 1e9, 1e9, 4096)) { /* never refuses: the common path */
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    cJSON *res = cJSON_Parse("{\"success\":false,\"result\":null,\"error\":\"NameError: x\","
                             "\"errorType\":\"runtime\",\"executionTime\":3.25,"
                             "\"timestamp\":\"2026-11-25T10:00:00.000Z\"}");
    const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    uint64_t t0 = now_ns();
    switch (k) {
    case WS_MESSAGE:
        for (long i = 0; i < n; i++)
            cd_stats_ws_message(st, 1000000 + (uint64_t)i / 4096); /* ~4k messages per ms */
        break;
    case PUSH:
        for (long i = 0; i < n; i++)
            cd_stats_push_latency(st, 20 + (uint64_t)(i & 1023));
        break;
    case CLOCK2:
        for (long i = 0; i < n; i++)
            sink += cd_mono_us() - cd_mono_us();
        break;
    case EXECUTION:
        for (long i = 0; i < n; i++) {
            struct cd_stats_exec e = {(int)(i % 3 != 0),
                                      i % 3 ? NULL : "runtime",
                                      (double)(i % 500) / 10.0,
                                      ips[(i * 7919) % 1000],
                                      uas[(i * 31) % 100],
                                      sha,
                                      "rest"};
            cd_stats_execution(st, &e, 1795600800000ull + (uint64_t)i * 10);
        }
        break;
    case RUN_RESULT:
        for (long i = 0; i < n; i++)
            cd_stats_run_result(st, res, "rest", ips[(i * 7919) % 1000], uas[(i * 31) % 100], sha);
        break;
    case RATELIMIT:
        for (long i = 0; i < n; i++) {
            const char *ip = ips[(i * 7919) % 1000];
            sink += (uint64_t)cd_ratelimit_take(rl, ip, strlen(ip), 1000 + (uint64_t)i / 1000, NULL,
                                                NULL);
        }
        break;
    default:
        break;
    }
    uint64_t t1 = now_ns();
    cJSON_Delete(res);
    cd_ratelimit_free(rl);
    cd_stats_free(st);
    return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
    if (n < 100) {
        fprintf(stderr, "usage: stats_bench [N]\n");
        return 2;
    }
    for (int i = 0; i < 1000; i++)
        snprintf(ips[i], sizeof(ips[i]), "10.%d.%d.%d", i / 65536, i / 256 % 256, i % 256);
    for (int i = 0; i < 100; i++)
        snprintf(uas[i], sizeof(uas[i]),
                 "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/%d.0 Safari/537.36",
                 100 + i);
    printf("stats: ns per counted event on the calling thread (median of %d runs)\n", RUNS);
    for (int k = 0; k < NKINDS; k++) {
        long calls = k == EXECUTION || k == RUN_RESULT ? n / 10 : n;
        double v[RUNS];
        for (int r = 0; r < RUNS; r++)
            v[r] = one_run((enum kind)k, calls);
        qsort(v, RUNS, sizeof(double), cmp_double);
        printf("  %-48s %8.1f ns  (min %.1f, max %.1f; %ld calls)\n", names[k], v[RUNS / 2], v[0],
               v[RUNS - 1], calls);
    }
    return 0;
}
