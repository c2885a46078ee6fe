/*
 * seclog_bench.c: what one security-log event costs the thread that logs it (the event loop).
 *
 * Each run opens a fresh log in a temporary directory, then times N calls of cd_seclog_event
 * with the fields a code-execution event carries (IP, user agent, code hash, session, duration,
 * outcome), building the fields inside the timed loop as a caller would. A second loop builds
 * and frees the same fields without logging, so that the difference is the log's own cost
 * (format, hash, queue). The queue has its default cap, as in collabd; a dropped event would
 * take a shorter path, so drops are printed (there should be none: the writer keeps up). Also
 * prints how long the writer thread needed to get everything on disk after the last call.
 * Prints the median of 5 runs. The machine's load shows in the figures: run it twice.
 *
 * usage: seclog_bench [N]   (default 200000). Owns its temporary files and removes them.
 */
#include "audit/seclog.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static cJSON *fields(long i)
{
    char ip[32];
    snprintf(ip, sizeof(ip), "203.0.113.%ld", i % 250);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "ip", ip);
    cJSON_AddStringToObject(f, "ua",
                            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                            "Gecko) Chrome/120.0 Safari/537.36");
    cJSON_AddStringToObject(f, "code_sha256",
                            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    cJSON_AddStringToObject(f, "session", "3b241101-e2bb-4255-8caf-4136c566a962");
    cJSON_AddNumberToObject(f, "duration_ms", (double)(i % 1000) / 10.0);
    cJSON_AddStringToObject(f, "outcome", i % 7 ? "ok" : "error");
    return f;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    double with_log[RUNS], build_only[RUNS], drain_ms[RUNS];
    uint64_t dropped = 0, bytes = 0;
    if (n <= 0) {
        fprintf(stderr, "usage: seclog_bench [N]\n");
        return 2;
    }
    for (int r = 0; r < RUNS; r++) {
        char dir[] = "/tmp/seclog_benchXXXXXX", path[64];
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(path, sizeof(path), "%s/security.log", dir);
        struct cd_seclog_opts o = {0, 0};
        struct cd_seclog *l;
        int rc = cd_seclog_open(&l, path, &o);
        if (rc) {
            fprintf(stderr, "open: %s\n", cd_strerror(rc));
            return 1;
        }
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++)
            cd_seclog_event(l, "execute", fields(i));
        uint64_t t1 = now_ns();
        cd_seclog_flush(l);
        uint64_t t2 = now_ns();
        for (long i = 0; i < n; i++)
            cJSON_Delete(fields(i));
        uint64_t t3 = now_ns();
        struct cd_seclog_stats st;
        cd_seclog_stats_get(l, &st);
        dropped += st.dropped;
        bytes = st.bytes;
        cd_seclog_free(l);
        long bad = 0;
        if (cd_seclog_verify(path, NULL, &bad))
            fprintf(stderr, "run %d: the chain does not verify (line %ld)\n", r, bad);
        unlink(path);
        rmdir(dir);
        with_log[r] = (double)(t1 - t0) / (double)n;
        drain_ms[r] = (double)(t2 - t1) / 1e6;
        build_only[r] = (double)(t3 - t2) / (double)n;
    }
    qsort(with_log, RUNS, sizeof(double), cmp_double);
    qsort(build_only, RUNS, sizeof(double), cmp_double);
    qsort(drain_ms, RUNS, sizeof(double), cmp_double);
    printf("seclog: %ld events/run, %d runs, %.0f bytes/line, %" PRIu64 " dropped\n", n, RUNS,
           (double)bytes / (double)(n + 1), dropped);
    printf("  caller thread, building fields + cd_seclog_event: median %7.0f ns/event "
           "(min %.0f, max %.0f)\n",
           with_log[RUNS / 2], with_log[0], with_log[RUNS - 1]);
    printf("  building and freeing the fields alone:             median %7.0f ns/event\n",
           build_only[RUNS / 2]);
    printf("  => cd_seclog_event itself:                         ~%.0f ns/event\n",
           with_log[RUNS / 2] - build_only[RUNS / 2]);
    printf("  writer thread still busy after the last call:      median %7.1f ms\n",
           drain_ms[RUNS / 2]);
    return 0;
}
