/*
 * Unit tests for audit/stats and audit/metrics: execution counts and categories (bounded,
 * sanitised), the 24-hour ring across hour changes and after a day away, the space-saving
 * tables under many distinct keys, the recent-runs ring, percentiles against known
 * distributions, the per-second message ring, clearing (the dashboard view only), the JSON
 * shapes, and the Prometheus text (every line well formed, HELP/TYPE before samples,
 * cumulative buckets ending in +Inf == _count). Time is driven by the test.
 */
#include "audit/internal.h"
#include "audit/stats.h"
#include "test.h"
#include "util/buf.h"
#include "util/error.h"

#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000ull
/* 2026-11-25T10:00:00Z */
#define T0 (1795600800000ull)

static struct cd_stats *fresh(void)
{
    struct cd_stats *st = NULL;
    CD_CHECK_INT(cd_stats_new(&st, T0), CD_OK);
    return st;
}

static void run(struct cd_stats *st, int ok, const char *type, double ms, const char *ip,
                uint64_t when)
{
    struct cd_stats_exec e = {ok,
                              type,
                              ms,
                              ip,
                              "test-agent/1.0",
                              "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                              "rest"};
    cd_stats_execution(st, &e, when);
}

static struct cd_stats_live live_at(uint64_t wall_ms)
{
    struct cd_stats_live l;
    memset(&l, 0, sizeof(l));
    l.wall_ms = wall_ms;
    l.loop_ms = 500000;
    l.started_wall_ms = T0;
    l.uptime_s = (double)(wall_ms - T0) / 1000.0;
    l.version = "0.1.0";
    l.python_enabled = l.python_ready = 1;
    l.sessions = 3;
    l.connections = 7;
    return l;
}

static const cJSON *path(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = path(o, a, b);
    CD_CHECK(cJSON_IsNumber(x));
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

static void test_counts_and_categories(void)
{
    struct cd_stats *st = fresh();
    run(st, 1, NULL, 10, "10.0.0.1", T0);
    run(st, 1, NULL, 30, "10.0.0.1", T0);
    run(st, 0, "syntax", 1, "10.0.0.2", T0);
    run(st, 0, "timeout", 5000, "10.0.0.2", T0);
    run(st, 0, "timeout", -1, "10.0.0.3", T0); /* no time: not in the average */
    run(st, 0, "Evil\"Type", 2, NULL, T0);     /* not [a-z0-9_]: "other" */
    run(st, 0, NULL, 2, NULL, T0);             /* no type: "other" */
    CD_CHECK_INT(st->view.total, 7);
    CD_CHECK_INT(st->view.ok, 2);
    CD_CHECK_INT(st->view.failed, 5);
    CD_CHECK_INT(st->view.timed, 6);
    CD_CHECK(fabs(st->view.sum_ms - 5045) < 1e-9);

    struct cd_stats_live l = live_at(T0 + 1000);
    cJSON *o = cd_stats_legacy_json(st, &l);
    const cJSON *x = path(o, "executionStats", NULL);
    CD_CHECK_INT(num(x, "totalExecutions", NULL), 7);
    CD_CHECK_INT(num(x, "successfulExecutions", NULL), 2);
    CD_CHECK_INT(num(x, "failedExecutions", NULL), 5);
    CD_CHECK(fabs(num(x, "successRate", NULL) - 0.2857) < 1e-9);
    CD_CHECK(fabs(num(x, "averageExecutionTime", NULL) - 840.833) < 1e-9);
    CD_CHECK_INT(num(x, "errorCategories", "syntax"), 1);
    CD_CHECK_INT(num(x, "errorCategories", "timeout"), 2);
    CD_CHECK_INT(num(x, "errorCategories", "other"), 2);
    CD_CHECK_INT(cJSON_GetArraySize(path(x, "errorCategories", NULL)), 3);
    CD_CHECK(cJSON_IsTrue(path(o, "pythonReady", NULL)) && cJSON_IsTrue(path(o, "isReady", NULL)));
    CD_CHECK(fabs(num(o, "uptime", NULL) - 1.0) < 1e-9);
    CD_CHECK_INT(num(o, "collab", "connections"), 7);
    cJSON_Delete(o);

    /* more distinct categories than the table holds: the rest count as "other" */
    for (int i = 0; i < 100; i++) {
        char t[16];
        snprintf(t, sizeof(t), "kind_%d", i);
        run(st, 0, t, 1, NULL, T0);
    }
    CD_CHECK(st->view.ncat >= CD_STATS_CATS - 1 && st->view.ncat <= CD_STATS_CATS);
    uint64_t sum = 0, other = 0;
    for (size_t i = 0; i < st->view.ncat; i++) {
        sum += st->view.cat[i].n;
        if (!strcmp(st->view.cat[i].name, "other"))
            other = st->view.cat[i].n;
    }
    CD_CHECK_INT(sum, st->view.failed);
    CD_CHECK_INT(other, 2 + 100 - (st->view.ncat - 3)); /* 3: syntax, timeout, other */
    cd_stats_free(st);
}

static void test_hourly_ring(void)
{
    struct cd_stats *st = fresh();
    run(st, 1, NULL, 1, "a", T0 + 5 * 60000);           /* 10:05 */
    run(st, 0, "runtime", 1, "a", T0 + 59 * 60000);     /* 10:59 */
    run(st, 1, NULL, 1, "a", T0 + HOUR_MS + 1);         /* 11:00 */
    run(st, 1, NULL, 1, "a", T0 + 3 * HOUR_MS + 99999); /* 13:01 */
    struct cd_stats_live l = live_at(T0 + 3 * HOUR_MS + 120000);
    cJSON *o = cd_stats_dashboard_json(st, &l);
    const cJSON *s = path(o, "stats", NULL);
    const cJSON *trend = path(s, "hourlyTrend", NULL);
    CD_CHECK_INT(cJSON_GetArraySize(trend), 24);
    CD_CHECK_INT(cJSON_GetArrayItem(trend, 10)->valuedouble, 2);
    CD_CHECK_INT(cJSON_GetArrayItem(trend, 11)->valuedouble, 1);
    CD_CHECK_INT(cJSON_GetArrayItem(trend, 12)->valuedouble, 0);
    CD_CHECK_INT(cJSON_GetArrayItem(trend, 13)->valuedouble, 1);
    const cJSON *hourly = path(s, "hourly", NULL);
    CD_CHECK_INT(cJSON_GetArraySize(hourly), 24);
    const cJSON *last = cJSON_GetArrayItem(hourly, 23), *h10 = cJSON_GetArrayItem(hourly, 20);
    CD_CHECK_STR(path(last, "hour", NULL)->valuestring, "2026-11-25T13:00:00.000Z");
    CD_CHECK_INT(num(last, "executions", NULL), 1);
    CD_CHECK_STR(path(h10, "hour", NULL)->valuestring, "2026-11-25T10:00:00.000Z");
    CD_CHECK_INT(num(h10, "executions", NULL), 2);
    CD_CHECK_INT(num(h10, "failed", NULL), 1);
    CD_CHECK_INT(num(s, "overview", "lastHourExecutions"), 1);
    cJSON_Delete(o);

    /* a day later every old bucket reads 0 (13:00 yesterday is 24 h old at 13:00 today); a new
     * run reuses the 10:00 slot */
    run(st, 1, NULL, 1, "a", T0 + 24 * HOUR_MS + 10);
    l = live_at(T0 + 27 * HOUR_MS);
    o = cd_stats_dashboard_json(st, &l);
    trend = path(path(o, "stats", NULL), "hourlyTrend", NULL);
    double total = 0;
    for (int i = 0; i < 24; i++)
        total += cJSON_GetArrayItem(trend, i)->valuedouble;
    CD_CHECK_INT(total, 1);
    CD_CHECK_INT(cJSON_GetArrayItem(trend, 10)->valuedouble, 1);
    cJSON_Delete(o);
    cd_stats_free(st);
}

static void test_heavy_hitters(void)
{
    struct cd_stats *st = fresh();
    /* 5000 runs: one address makes every fifth, 4000 others once each */
    for (int i = 0; i < 5000; i++) {
        char ip[32];
        if (i % 5 == 0)
            snprintf(ip, sizeof(ip), "198.51.100.7");
        else
            snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        run(st, 1, NULL, 1, ip, T0);
    }
    CD_CHECK_INT(st->ips.n, CD_STATS_TOP);
    uint64_t sum = 0;
    for (size_t i = 0; i < st->ips.n; i++)
        sum += st->ips.e[i].count;
    CD_CHECK_INT(sum, 5000); /* space-saving keeps the total */
    struct cd_stats_live l = live_at(T0);
    cJSON *o = cd_stats_dashboard_json(st, &l);
    const cJSON *top = path(path(o, "stats", NULL), "topIPs", NULL);
    CD_CHECK_INT(cJSON_GetArraySize(top), CD_STATS_TOP_SHOW);
    const cJSON *first = cJSON_GetArrayItem(top, 0);
    CD_CHECK_STR(path(first, "name", NULL)->valuestring, "198.51.100.7");
    CD_CHECK(num(first, "count", NULL) >= 1000); /* never underestimated */
    for (int i = 1; i < cJSON_GetArraySize(top); i++)
        CD_CHECK(num(cJSON_GetArrayItem(top, i - 1), "count", NULL) >=
                 num(cJSON_GetArrayItem(top, i), "count", NULL));
    const cJSON *ua = path(path(o, "stats", NULL), "userAgents", NULL);
    CD_CHECK_INT(cJSON_GetArraySize(ua), 1);
    CD_CHECK_INT(num(cJSON_GetArrayItem(ua, 0), "count", NULL), 5000);
    cJSON_Delete(o);
    cd_stats_free(st);
}

static void test_hostile_keys(void)
{
    struct cd_stats *st = fresh();
    char ua[600];
    memset(ua, 'A', sizeof(ua) - 1);
    ua[sizeof(ua) - 1] = '\0';
    memcpy(ua, "x\n\"<\xc3\xa9\x01", 7);
    struct cd_stats_exec e = {1, NULL, 1, "1.2.3.4\r\n", ua, "zz\x7f", "rest"};
    cd_stats_execution(st, &e, T0);
    CD_CHECK_INT(strlen(st->uas.e[0].key), CD_STATS_KEY_MAX - 1);
    CD_CHECK(!strncmp(st->uas.e[0].key, "x?\"<???AAA", 10));
    CD_CHECK_STR(st->ips.e[0].key, "1.2.3.4??");
    CD_CHECK_STR(st->recent[0].sha, "zz?");
    for (size_t i = 0; st->uas.e[0].key[i]; i++)
        CD_CHECK(st->uas.e[0].key[i] >= 0x20 && st->uas.e[0].key[i] < 0x7f);
    cd_stats_free(st);
}

static void test_recent(void)
{
    struct cd_stats *st = fresh();
    for (int i = 0; i < CD_STATS_RECENT + 10; i++)
        run(st, i % 2, i % 2 ? NULL : "memory", i, "10.0.0.1", T0 + (uint64_t)i * 1000);
    struct cd_stats_live l = live_at(T0 + 100000);
    cJSON *o = cd_stats_dashboard_json(st, &l);
    const cJSON *rec = path(path(o, "stats", NULL), "recent", NULL);
    CD_CHECK_INT(cJSON_GetArraySize(rec), CD_STATS_RECENT);
    const cJSON *newest = cJSON_GetArrayItem(rec, 0);
    const cJSON *oldest = cJSON_GetArrayItem(rec, CD_STATS_RECENT - 1);
    CD_CHECK_INT(num(newest, "ms", NULL), CD_STATS_RECENT + 9);
    CD_CHECK_STR(path(newest, "outcome", NULL)->valuestring, "success");
    CD_CHECK_INT(num(oldest, "ms", NULL), 10);
    CD_CHECK_STR(path(oldest, "outcome", NULL)->valuestring, "memory");
    CD_CHECK_STR(path(oldest, "time", NULL)->valuestring, "2026-11-25T10:00:10.000Z");
    CD_CHECK_STR(path(newest, "codeSha256", NULL)->valuestring,
                 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    CD_CHECK_STR(path(newest, "ip", NULL)->valuestring, "10.0.0.1");
    CD_CHECK_STR(path(newest, "source", NULL)->valuestring, "rest");
    CD_CHECK(!path(newest, "code", NULL));
    cJSON_Delete(o);
    cd_stats_free(st);
}

static void test_percentiles(void)
{
    struct cd_fine_hist h;
    memset(&h, 0, sizeof(h));
    CD_CHECK(cd_fine_quantile(&h, 0.5) == 0);
    for (uint64_t v = 1; v <= 100000; v++)
        cd_fine_add(&h, v);
    double qs[] = {0.01, 0.1, 0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        double got = cd_fine_quantile(&h, qs[i]), want = qs[i] * 100000;
        CD_CHECK(fabs(got - want) / want < 0.125);
    }
    CD_CHECK(cd_fine_quantile(&h, 1.0) <= 100000);
    CD_CHECK_INT(h.min_us, 1);
    CD_CHECK_INT(h.max_us, 100000);
    /* one value: every quantile is that value (clamped to min and max) */
    memset(&h, 0, sizeof(h));
    cd_fine_add(&h, 1234);
    CD_CHECK(cd_fine_quantile(&h, 0.5) == 1234 && cd_fine_quantile(&h, 0.99) == 1234);
    /* huge values go to the last bucket and still report their max */
    cd_fine_add(&h, UINT64_MAX / 2);
    CD_CHECK(cd_fine_quantile(&h, 1.0) == (double)(UINT64_MAX / 2));
    /* exponential spread: each quantile within 12.5% */
    memset(&h, 0, sizeof(h));
    uint64_t vals[2000];
    for (int i = 0; i < 2000; i++) {
        vals[i] = (uint64_t)(10 * pow(1.005, i));
        cd_fine_add(&h, vals[i]);
    }
    double p90 = cd_fine_quantile(&h, 0.9);
    CD_CHECK(fabs(p90 - (double)vals[1799]) / (double)vals[1799] < 0.125);

    struct cd_stats *st = fresh();
    for (int i = 1; i <= 1000; i++)
        cd_stats_push_latency(st, (uint64_t)i);
    struct cd_stats_live l = live_at(T0);
    cJSON *o = cd_stats_dashboard_json(st, &l);
    const cJSON *c = path(path(o, "stats", NULL), "collab", NULL);
    CD_CHECK_INT(num(c, "pushes", NULL), 1000);
    double p50 = num(c, "pushLatencyMs", "p50");
    CD_CHECK(p50 > 0.5 * 0.875 && p50 < 0.5 * 1.125);
    CD_CHECK(fabs(num(c, "pushLatencyMs", "max") - 1.0) < 1e-9);
    cJSON_Delete(o);
    cd_stats_free(st);
}

static void test_message_rate(void)
{
    struct cd_stats *st = fresh();
    /* 10 messages a second during seconds 100..109 */
    for (uint64_t s = 100; s < 110; s++)
        for (int i = 0; i < 10; i++)
            cd_stats_ws_message(st, s * 1000 + (uint64_t)i * 50);
    CD_CHECK(fabs(cd_stats_messages_per_second(st, 110000, 5) - 10) < 1e-9);
    CD_CHECK(fabs(cd_stats_messages_per_second(st, 109500, 5) - 10) < 1e-9);
    CD_CHECK(fabs(cd_stats_messages_per_second(st, 112000, 5) - 6) < 1e-9); /* 107..111 */
    CD_CHECK(fabs(cd_stats_messages_per_second(st, 110000, 20) - 5) < 1e-9);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 105), 10);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 99), 0);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 110), 0);
    /* after 100 s of silence the ring holds nothing old */
    cd_stats_ws_message(st, 210000);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 146), 0);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 105), 0);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 210), 1);
    /* a short gap clears exactly the skipped seconds */
    cd_stats_ws_message(st, 213000);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 210), 1);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 211), 0);
    CD_CHECK_INT(cd_stats_msgs_in_second(st, 213), 1);
    struct cd_stats_live l = live_at(T0);
    l.loop_ms = 214000;
    cJSON *o = cd_stats_dashboard_json(st, &l);
    const cJSON *rate = path(path(path(o, "stats", NULL), "collab", NULL), "messageRate", NULL);
    CD_CHECK_INT(cJSON_GetArraySize(rate), 60);
    CD_CHECK_INT(cJSON_GetArrayItem(rate, 59)->valuedouble, 1); /* second 213 */
    CD_CHECK_INT(cJSON_GetArrayItem(rate, 56)->valuedouble, 1); /* second 210 */
    CD_CHECK_INT(cJSON_GetArrayItem(rate, 57)->valuedouble, 0);
    cJSON_Delete(o);
    cd_stats_free(st);
}

static void test_clear(void)
{
    struct cd_stats *st = fresh();
    run(st, 1, NULL, 3, "10.0.0.1", T0);
    run(st, 0, "sandbox", 3, "10.0.0.1", T0);
    cd_stats_upload(st, 100, 1);
    cd_stats_upload(st, 0, 0);
    cd_stats_push_latency(st, 40);
    cd_stats_clear(st, T0 + 5000);
    CD_CHECK_INT(st->view.total, 0);
    CD_CHECK_INT(st->ips.n, 0);
    CD_CHECK_INT(st->recent_n, 0);
    CD_CHECK_INT(st->uploads, 0);
    CD_CHECK_INT(st->push_us.count, 0);
    CD_CHECK_INT(st->life.total, 2); /* /metrics counters only go up */
    CD_CHECK_INT(st->exec_life.count, 2);
    CD_CHECK_INT(st->push_life.count, 1);
    CD_CHECK_INT(st->life_uploads, 1);
    CD_CHECK_INT(st->life_upload_bytes, 100);
    struct cd_stats_live l = live_at(T0 + 6000);
    cJSON *o = cd_stats_legacy_json(st, &l);
    CD_CHECK_STR(path(o, "statsSince", NULL)->valuestring, "2026-11-25T10:00:05.000Z");
    CD_CHECK_INT(num(o, "executionStats", "totalExecutions"), 0);
    CD_CHECK(cJSON_IsNull(path(o, "executionStats", "lastExecutionTime")));
    cJSON_Delete(o);
    cd_stats_free(st);
}

static void test_null_is_harmless(void)
{
    struct cd_stats_live l = live_at(T0);
    run(NULL, 1, NULL, 1, "x", T0);
    cd_stats_upload(NULL, 1, 1);
    cd_stats_ws_message(NULL, 1);
    cd_stats_push_latency(NULL, 1);
    cd_stats_clear(NULL, 1);
    cd_stats_run_result(NULL, NULL, "rest", NULL, NULL, NULL);
    CD_CHECK(!cd_stats_legacy_json(NULL, &l));
    CD_CHECK(!cd_stats_dashboard_json(NULL, &l));
    CD_CHECK(cd_stats_messages_per_second(NULL, 1, 5) == 0);
    cd_stats_free(NULL);
    struct cd_buf b;
    cd_buf_init(&b, 1 << 20);
    CD_CHECK_INT(cd_stats_metrics(NULL, &l, &b), CD_OK); /* the live figures alone */
    CD_CHECK(strstr(b.data, "collabd_sessions 3\n") != NULL);
    cd_buf_cleanup(&b);
}

static void test_run_result(void)
{
    struct cd_stats *st = fresh();
    cJSON *r =
        cJSON_Parse("{\"success\":false,\"errorType\":\"recursion\",\"executionTime\":12.5}");
    cd_stats_run_result(st, r, "room", "10.1.1.1", "ua", "abc");
    cJSON_Delete(r);
    r = cJSON_Parse("{\"success\":true,\"executionTime\":\"fast\"}");
    cd_stats_run_result(st, r, "rest", NULL, NULL, NULL);
    cJSON_Delete(r);
    CD_CHECK_INT(st->view.total, 2);
    CD_CHECK_INT(st->view.timed, 1);
    CD_CHECK_STR(st->view.cat[0].name, "recursion");
    CD_CHECK_STR(st->recent[0].source, "room");
    CD_CHECK_STR(st->recent[0].outcome, "recursion");
    CD_CHECK_STR(st->recent[1].ip, "");
    cd_stats_free(st);
}

/* Every line of the exposition: a comment (# HELP / # TYPE naming a family before its
 * samples) or `name{labels} value`. Histogram buckets ascend and are cumulative. */
static void test_metrics_text(void)
{
    struct cd_stats *st = fresh();
    run(st, 1, NULL, 3, "a", T0);
    run(st, 1, NULL, 70, "a", T0);
    run(st, 0, "timeout", 30000, "a", T0);
    run(st, 0, "syntax", 0.5, "a", T0);
    run(st, 0, "syntax", 120000, "a", T0); /* past the last bound: +Inf only */
    for (uint64_t us = 5; us < 400000; us = us * 3 + 1)
        cd_stats_push_latency(st, us);
    cd_stats_upload(st, 2048, 1);
    struct cd_stats_live l = live_at(T0 + 2000);
    l.version = "0.1.0\"\\\n";
    struct cd_buf b;
    cd_buf_init(&b, 1 << 20);
    CD_CHECK_INT(cd_stats_metrics(st, &l, &b), CD_OK);

    regex_t sample, help, type;
    CD_CHECK(!regcomp(&sample,
                      "^(collabd_[a-z_]+)(\\{[a-z_]+=\"([^\"\\\\]|\\\\.)*\"(,[a-z_]+=\"([^\"\\\\]|"
                      "\\\\.)*\")*\\})? (-?[0-9]+(\\.[0-9]+)?|\\+Inf)$",
                      REG_EXTENDED));
    CD_CHECK(!regcomp(&help, "^# HELP (collabd_[a-z_]+) [^\n]+$", REG_EXTENDED));
    CD_CHECK(!regcomp(&type, "^# TYPE (collabd_[a-z_]+) (counter|gauge|histogram)$", REG_EXTENDED));
    char family[128] = "", ftype[16] = "";
    int lines = 0, histograms = 0;
    double prev_le = -1, prev_cum = -1, inf_cum = -1;
    char *text = strdup(b.data), *next = NULL;
    CD_CHECK(b.len && b.data[b.len - 1] == '\n');
    for (char *line = text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        CD_CHECK(*line != '\0'); /* no empty lines */
        regmatch_t m[8];
        lines++;
        if (!regexec(&help, line, 2, m, 0)) {
            snprintf(family, sizeof(family), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                     line + m[1].rm_so);
            ftype[0] = '\0';
            continue;
        }
        if (!regexec(&type, line, 3, m, 0)) {
            CD_CHECK(!strncmp(line + 7, family, strlen(family)));
            snprintf(ftype, sizeof(ftype), "%.*s", (int)(m[2].rm_eo - m[2].rm_so),
                     line + m[2].rm_so);
            histograms += !strcmp(ftype, "histogram");
            prev_le = prev_cum = inf_cum = -1;
            continue;
        }
        if (regexec(&sample, line, 8, m, 0)) {
            fprintf(stderr, "bad line: %s\n", line);
            CD_CHECK(0);
            continue;
        }
        CD_CHECK(ftype[0] != '\0');
        CD_CHECK(!strncmp(line, family, strlen(family)));
        if (!strcmp(ftype, "counter"))
            CD_CHECK(strstr(family, "_total") != NULL);
        if (!strcmp(ftype, "histogram")) {
            const char *sp = strrchr(line, ' ');
            double v = strtod(sp + 1, NULL);
            const char *le = strstr(line, "_bucket{le=\"");
            if (le) {
                le += 12;
                double bound = !strncmp(le, "+Inf", 4) ? INFINITY : strtod(le, NULL);
                CD_CHECK(bound > prev_le);
                CD_CHECK(v >= prev_cum);
                prev_le = bound;
                prev_cum = v;
                if (isinf(bound))
                    inf_cum = v;
            } else if (strstr(line, "_count ")) {
                CD_CHECK(v == inf_cum);
            }
        }
    }
    free(text);
    regfree(&sample);
    regfree(&help);
    regfree(&type);
    CD_CHECK(lines > 60);
    CD_CHECK_INT(histograms, 2);
    CD_CHECK(strstr(b.data, "collabd_build_info{version=\"0.1.0\\\"\\\\\\n\"} 1\n") != NULL);
    CD_CHECK(strstr(b.data, "collabd_python_executions_total{outcome=\"success\"} 2\n"));
    CD_CHECK(strstr(b.data, "collabd_python_executions_total{outcome=\"failure\"} 3\n"));
    CD_CHECK(strstr(b.data, "collabd_python_errors_total{type=\"syntax\"} 2\n"));
    CD_CHECK(strstr(b.data, "collabd_python_execution_seconds_bucket{le=\"0.005\"} 2\n"));
    CD_CHECK(strstr(b.data, "collabd_python_execution_seconds_bucket{le=\"0.1\"} 3\n"));
    CD_CHECK(strstr(b.data, "collabd_python_execution_seconds_bucket{le=\"60\"} 4\n"));
    CD_CHECK(strstr(b.data, "collabd_python_execution_seconds_bucket{le=\"+Inf\"} 5\n"));
    CD_CHECK(strstr(b.data, "collabd_python_execution_seconds_count 5\n"));
    CD_CHECK(strstr(b.data, "collabd_python_execution_seconds_sum 150.073500\n"));
    CD_CHECK(strstr(b.data, "collabd_upload_bytes_total 2048\n"));
    CD_CHECK(strstr(b.data, "collabd_ws_connections 7\n"));
    cd_buf_cleanup(&b);

    /* a buffer too small fails cleanly */
    cd_buf_init(&b, 100);
    CD_CHECK_INT(cd_stats_metrics(st, &l, &b), CD_ETOOBIG);
    cd_buf_cleanup(&b);
    cd_stats_free(st);
}

int main(void)
{
    CD_RUN(test_counts_and_categories);
    CD_RUN(test_hourly_ring);
    CD_RUN(test_heavy_hitters);
    CD_RUN(test_hostile_keys);
    CD_RUN(test_recent);
    CD_RUN(test_percentiles);
    CD_RUN(test_message_rate);
    CD_RUN(test_clear);
    CD_RUN(test_null_is_harmless);
    CD_RUN(test_run_result);
    CD_RUN(test_metrics_text);
    CD_TEST_END();
}
