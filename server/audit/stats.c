/*
 * stats.c: counting (see stats.h) and the JSON of /api/stats and /api/dashboard/stats.
 * Owns one struct cd_stats of fixed size, allocated once: counting never allocates, takes no
 * lock and touches a few cache lines (a per-event cost measured by bench/stats_bench.c).
 * Invariants: the dashboard view (view, exec_us, hours, recent, ips, uas, uploads, push_us)
 * is what cd_stats_clear() empties; the lifetime fields (life, *_life, life_uploads*) only
 * grow. Strings kept here were made printable ASCII on the way in, so whatever a client sent
 * is safe in JSON, in Prometheus labels and in a page.
 * Depends on core/clock and cJSON; knows nothing of the server, lws or Python.
 */
#include "internal.h"
#include "stats.h"
#include "core/clock.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prometheus buckets: run time (5 ms .. 60 s) and push-to-broadcast time (10 us .. 250 ms) */
static const uint64_t exec_le_us[] = {5000,     10000,    25000,   50000,   100000,
                                      250000,   500000,   1000000, 2500000, 5000000,
                                      10000000, 30000000, 60000000};
static const char *const exec_le_text[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                           "1",     "2.5",  "5",     "10",   "30",  "60"};
static const uint64_t push_le_us[] = {10,   25,   50,    100,   250,   500,    1000,
                                      2500, 5000, 10000, 25000, 50000, 100000, 250000};
static const char *const push_le_text[] = {"0.00001", "0.000025", "0.00005", "0.0001", "0.00025",
                                           "0.0005",  "0.001",    "0.0025",  "0.005",  "0.01",
                                           "0.025",   "0.05",     "0.1",     "0.25"};
#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- histograms ------------------------------------------------------------------------ */

static size_t fine_index(uint64_t v)
{
    if (v < 8)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v);
    if (e > 40)
        return CD_FINE_N - 1;
    return (size_t)(e - 2) * 8 + (size_t)((v >> (e - 3)) & 7);
}

static double fine_lo(size_t i)
{
    if (i < 8)
        return (double)i;
    return (double)((uint64_t)(8 + i % 8) << (i / 8 - 1));
}

static double fine_hi(size_t i)
{
    if (i < 8)
        return (double)i + 1;
    return (double)((uint64_t)(9 + i % 8) << (i / 8 - 1));
}

void cd_fine_add(struct cd_fine_hist *h, uint64_t us)
{
    h->n[fine_index(us)]++;
    if (!h->count || us < h->min_us)
        h->min_us = us;
    if (us > h->max_us)
        h->max_us = us;
    h->count++;
    h->sum_us += us;
}

double cd_fine_quantile(const struct cd_fine_hist *h, double q)
{
    if (!h->count)
        return 0;
    double rank = q * (double)h->count;
    if (rank < 1)
        rank = 1;
    double cum = 0;
    for (size_t i = 0; i < CD_FINE_N; i++) {
        if (!h->n[i])
            continue;
        if (cum + (double)h->n[i] >= rank) {
            if (i == CD_FINE_N - 1) /* unbounded above */
                return (double)h->max_us;
            double v = fine_lo(i) + (fine_hi(i) - fine_lo(i)) * (rank - cum) / (double)h->n[i];
            if (v < (double)h->min_us)
                v = (double)h->min_us;
            if (v > (double)h->max_us)
                v = (double)h->max_us;
            return v;
        }
        cum += (double)h->n[i];
    }
    return (double)h->max_us;
}

void cd_prom_add(struct cd_prom_hist *h, uint64_t us)
{
    size_t i = 0;
    while (i < h->nb && us > h->le_us[i])
        i++;
    h->n[i]++;
    h->count++;
    h->sum_us += us;
}

/* ---- bounded tables -------------------------------------------------------------------- */

/* Copy printable ASCII of s (others become '?') into out, at most size - 1 bytes; FNV-1a of
 * the result. */
static uint32_t clean_key(const char *s, char *out, size_t size)
{
    uint32_t h = 2166136261u;
    size_t n = 0;
    for (; s[n] && n + 1 < size; n++) {
        unsigned char c = (unsigned char)s[n];
        out[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        h = (h ^ (unsigned char)out[n]) * 16777619u;
    }
    out[n] = '\0';
    return h;
}

void cd_hh_add(struct cd_hh *t, const char *key)
{
    char k[CD_STATS_KEY_MAX];
    uint32_t h = clean_key(key, k, sizeof(k));
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].hash == h && !strcmp(t->e[i].key, k)) {
            t->e[i].count++;
            return;
        }
    }
    struct cd_hh_entry *e;
    if (t->n < CD_STATS_TOP) {
        e = &t->e[t->n++];
        e->count = 0;
        e->err = 0;
    } else { /* space-saving: the new key takes over the smallest count */
        e = &t->e[0];
        for (size_t i = 1; i < t->n; i++)
            if (t->e[i].count < e->count)
                e = &t->e[i];
        e->err = e->count;
    }
    e->count++;
    e->hash = h;
    memcpy(e->key, k, strlen(k) + 1);
}

/* 1 if s is 1..32 bytes of [a-z0-9_]. */
static int category_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= 32 ||
            !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n > 0;
}

static void agg_category(struct cd_stats_agg *a, const char *type)
{
    const char *name = type && category_ok(type) ? type : "other";
    for (size_t i = 0; i < a->ncat; i++) {
        if (!strcmp(a->cat[i].name, name)) {
            a->cat[i].n++;
            return;
        }
    }
    if (a->ncat + 1 >= CD_STATS_CATS && strcmp(name, "other") != 0) {
        agg_category(a, "other"); /* the last slot stays free for "other" */
        return;
    }
    snprintf(a->cat[a->ncat].name, sizeof(a->cat[a->ncat].name), "%s", name);
    a->cat[a->ncat++].n = 1;
}

static void agg_add(struct cd_stats_agg *a, const struct cd_stats_exec *e)
{
    a->total++;
    if (e->success) {
        a->ok++;
    } else {
        a->failed++;
        agg_category(a, e->error_type);
    }
    if (e->ms >= 0) {
        a->timed++;
        a->sum_ms += e->ms;
    }
}

/* ---- counting ---------------------------------------------------------------------------- */

int cd_stats_new(struct cd_stats **out, uint64_t now_wall_ms)
{
    struct cd_stats *st = calloc(1, sizeof(*st));
    *out = st;
    if (!st)
        return CD_ENOMEM;
    st->since_wall_ms = now_wall_ms;
    st->exec_life.le_us = exec_le_us;
    st->exec_life.le_text = exec_le_text;
    st->exec_life.nb = NELEMS(exec_le_us);
    st->push_life.le_us = push_le_us;
    st->push_life.le_text = push_le_text;
    st->push_life.nb = NELEMS(push_le_us);
    _Static_assert(NELEMS(exec_le_us) == NELEMS(exec_le_text) && NELEMS(exec_le_us) <= CD_PROM_MAX,
                   "run-time buckets");
    _Static_assert(NELEMS(push_le_us) == NELEMS(push_le_text) && NELEMS(push_le_us) <= CD_PROM_MAX,
                   "push buckets");
    return CD_OK;
}

void cd_stats_free(struct cd_stats *st)
{
    free(st);
}

void cd_stats_execution(struct cd_stats *st, const struct cd_stats_exec *run, uint64_t now_wall_ms)
{
    if (!st)
        return;
    struct cd_stats_exec copy = *run;
    if (!isfinite(copy.ms)) /* NaN or infinite: unknown */
        copy.ms = -1;
    const struct cd_stats_exec *e = &copy;
    agg_add(&st->view, e);
    agg_add(&st->life, e);
    if (e->ms >= 0) {
        double d = e->ms * 1000.0 + 0.5;
        uint64_t us = d < 1e18 ? (uint64_t)d : (uint64_t)1e18; /* a year is 3e13 us */
        cd_fine_add(&st->exec_us, us);
        cd_prom_add(&st->exec_life, us);
    }
    uint64_t hour = now_wall_ms / 3600000u;
    struct cd_stats_hour *h = &st->hours[hour % 24];
    if (h->hour != hour) {
        h->hour = hour;
        h->total = h->failed = 0;
    }
    h->total++;
    h->failed += !e->success;
    st->last_exec_wall_ms = now_wall_ms;

    struct cd_stats_rec *r = &st->recent[st->recent_next];
    st->recent_next = (st->recent_next + 1) % CD_STATS_RECENT;
    if (st->recent_n < CD_STATS_RECENT)
        st->recent_n++;
    r->wall_ms = now_wall_ms;
    r->ms = e->ms;
    r->success = e->success;
    clean_key(e->ip ? e->ip : "", r->ip, sizeof(r->ip));
    const char *outcome = e->success                                    ? "success"
                          : e->error_type && category_ok(e->error_type) ? e->error_type
                                                                        : "error";
    snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
    clean_key(e->code_sha256 ? e->code_sha256 : "", r->sha, sizeof(r->sha));
    clean_key(e->source ? e->source : "", r->source, sizeof(r->source));

    if (e->ip && e->ip[0])
        cd_hh_add(&st->ips, e->ip);
    if (e->user_agent && e->user_agent[0])
        cd_hh_add(&st->uas, e->user_agent);
}

void cd_stats_run_result(struct cd_stats *st, const cJSON *result, const char *source,
                         const char *ip, const char *user_agent, const char *code_sha256)
{
    if (!st || !result)
        return;
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(result, "success");
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(result, "errorType");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(result, "executionTime");
    struct cd_stats_exec e = {
        .success = cJSON_IsTrue(ok),
        .error_type = cJSON_IsString(et) ? et->valuestring : NULL,
        .ms = cJSON_IsNumber(ms) && isfinite(ms->valuedouble) && ms->valuedouble >= 0
                  ? ms->valuedouble
                  : -1,
        .ip = ip,
        .user_agent = user_agent,
        .code_sha256 = code_sha256,
        .source = source,
    };
    cd_stats_execution(st, &e, cd_wall_ms());
}

void cd_stats_upload(struct cd_stats *st, uint64_t bytes, int ok)
{
    if (!st)
        return;
    if (ok) {
        st->uploads++;
        st->upload_bytes += bytes;
        st->life_uploads++;
        st->life_upload_bytes += bytes;
    } else {
        st->uploads_failed++;
        st->life_uploads_failed++;
    }
}

void cd_stats_ws_message(struct cd_stats *st, uint64_t now_ms)
{
    if (!st)
        return;
    uint64_t s = now_ms / 1000;
    if (s > st->msg_sec) {
        if (s - st->msg_sec >= NELEMS(st->msg))
            memset(st->msg, 0, sizeof(st->msg));
        else
            for (uint64_t t = st->msg_sec + 1; t <= s; t++)
                st->msg[t % NELEMS(st->msg)] = 0;
        st->msg_sec = s;
    } else if (st->msg_sec - s >= NELEMS(st->msg)) {
        return; /* older than the ring (a clock that went back): not counted */
    }
    st->msg[s % NELEMS(st->msg)]++;
}

void cd_stats_push_latency(struct cd_stats *st, uint64_t us)
{
    if (!st)
        return;
    cd_fine_add(&st->push_us, us);
    cd_prom_add(&st->push_life, us);
}

void cd_stats_clear(struct cd_stats *st, uint64_t now_wall_ms)
{
    if (!st)
        return;
    memset(&st->view, 0, sizeof(st->view));
    memset(&st->exec_us, 0, sizeof(st->exec_us));
    memset(st->hours, 0, sizeof(st->hours));
    memset(st->recent, 0, sizeof(st->recent));
    st->recent_next = st->recent_n = 0;
    memset(&st->ips, 0, sizeof(st->ips));
    memset(&st->uas, 0, sizeof(st->uas));
    st->uploads = st->upload_bytes = st->uploads_failed = 0;
    memset(&st->push_us, 0, sizeof(st->push_us));
    st->last_exec_wall_ms = 0;
    st->since_wall_ms = now_wall_ms;
}

uint64_t cd_stats_msgs_in_second(const struct cd_stats *st, uint64_t sec)
{
    if (sec > st->msg_sec || st->msg_sec - sec >= NELEMS(st->msg))
        return 0;
    return st->msg[sec % NELEMS(st->msg)];
}

double cd_stats_messages_per_second(const struct cd_stats *st, uint64_t now_ms, int seconds)
{
    if (!st)
        return 0;
    if (seconds < 1)
        seconds = 1;
    if (seconds > 60)
        seconds = 60;
    uint64_t cur = now_ms / 1000, sum = 0;
    for (int k = 1; k <= seconds && (uint64_t)k <= cur; k++)
        sum += cd_stats_msgs_in_second(st, cur - (uint64_t)k);
    return (double)sum / seconds;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static double round_to(double v, double unit)
{
    return round(v / unit) * unit;
}

static void add_time(cJSON *o, const char *name, uint64_t wall_ms)
{
    if (!wall_ms) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    char ts[32];
    cd_iso8601(wall_ms, ts);
    cJSON_AddStringToObject(o, name, ts);
}

/* {p50, p90, p99, max} in ms */
static cJSON *percentiles_ms(const struct cd_fine_hist *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "p50", round_to(cd_fine_quantile(h, 0.50) / 1000.0, 0.001));
    cJSON_AddNumberToObject(o, "p90", round_to(cd_fine_quantile(h, 0.90) / 1000.0, 0.001));
    cJSON_AddNumberToObject(o, "p99", round_to(cd_fine_quantile(h, 0.99) / 1000.0, 0.001));
    cJSON_AddNumberToObject(o, "max", round_to((double)h->max_us / 1000.0, 0.001));
    return o;
}

/* 24 numbers: executions in the last 24 hours, index = UTC hour of day (the older server's
 * hourlyTrend, which indexed by the local hour; collabd keeps time in UTC). */
static cJSON *hourly_trend(const struct cd_stats *st, uint64_t now_wall_ms)
{
    uint64_t now_h = now_wall_ms / 3600000u;
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < 24; i++) {
        const struct cd_stats_hour *h = &st->hours[i];
        int live = h->hour && h->hour <= now_h && now_h - h->hour < 24;
        cJSON_AddItemToArray(a, cJSON_CreateNumber(live ? (double)h->total : 0));
    }
    return a;
}

/* The last 24 hours, oldest first: [{hour, executions, failed}] */
static cJSON *hourly_series(const struct cd_stats *st, uint64_t now_wall_ms)
{
    uint64_t now_h = now_wall_ms / 3600000u;
    cJSON *a = cJSON_CreateArray();
    for (uint64_t k = 24; k-- > 0;) {
        uint64_t hr = now_h - k;
        const struct cd_stats_hour *h = &st->hours[hr % 24];
        int live = h->hour == hr;
        cJSON *o = cJSON_CreateObject();
        add_time(o, "hour", hr * 3600000u);
        cJSON_AddNumberToObject(o, "executions", live ? (double)h->total : 0);
        cJSON_AddNumberToObject(o, "failed", live ? (double)h->failed : 0);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *categories_object(const struct cd_stats_agg *a)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < a->ncat; i++)
        cJSON_AddNumberToObject(o, a->cat[i].name, (double)a->cat[i].n);
    return o;
}

struct named {
    const char *name;
    uint64_t count;
};

static int by_count(const void *pa, const void *pb)
{
    const struct named *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* [{name, count}] of the largest counts, at most max */
static cJSON *top_list(struct named *v, size_t n, size_t max)
{
    qsort(v, n, sizeof(*v), by_count);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n && i < max; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", v[i].name);
        cJSON_AddNumberToObject(o, "count", (double)v[i].count);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *top_hh(const struct cd_hh *t)
{
    struct named v[CD_STATS_TOP];
    for (size_t i = 0; i < t->n; i++)
        v[i] = (struct named){t->e[i].key, t->e[i].count};
    return top_list(v, t->n, CD_STATS_TOP_SHOW);
}

static cJSON *top_errors(const struct cd_stats_agg *a)
{
    struct named v[CD_STATS_CATS];
    for (size_t i = 0; i < a->ncat; i++)
        v[i] = (struct named){a->cat[i].name, a->cat[i].n};
    return top_list(v, a->ncat, CD_STATS_CATS);
}

static cJSON *recent_list(const struct cd_stats *st)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t k = 0; k < st->recent_n; k++) {
        const struct cd_stats_rec *r =
            &st->recent[(st->recent_next + CD_STATS_RECENT - 1 - k) % CD_STATS_RECENT];
        cJSON *o = cJSON_CreateObject();
        add_time(o, "time", r->wall_ms);
        cJSON_AddStringToObject(o, "ip", r->ip);
        cJSON_AddStringToObject(o, "outcome", r->outcome);
        cJSON_AddBoolToObject(o, "success", r->success);
        if (r->ms >= 0)
            cJSON_AddNumberToObject(o, "ms", round_to(r->ms, 0.001));
        else
            cJSON_AddNullToObject(o, "ms");
        cJSON_AddStringToObject(o, "codeSha256", r->sha);
        cJSON_AddStringToObject(o, "source", r->source);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static double average_ms(const struct cd_stats_agg *a)
{
    return a->timed ? round_to(a->sum_ms / (double)a->timed, 0.001) : 0;
}

static void uptime_human(double s, char *out, size_t size)
{
    uint64_t t = (uint64_t)s;
    uint64_t d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60, sec = t % 60;
    if (d)
        snprintf(out, size, "%llud %lluh %llum %llus", (unsigned long long)d, (unsigned long long)h,
                 (unsigned long long)m, (unsigned long long)sec);
    else if (h)
        snprintf(out, size, "%lluh %llum %llus", (unsigned long long)h, (unsigned long long)m,
                 (unsigned long long)sec);
    else
        snprintf(out, size, "%llum %llus", (unsigned long long)m, (unsigned long long)sec);
}

static cJSON *collab_json(const struct cd_stats *st, const struct cd_stats_live *live, int full)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "sessions", (double)live->sessions);
    cJSON_AddNumberToObject(c, "connections", (double)live->connections);
    cJSON_AddNumberToObject(c, "messagesPerSecond",
                            round_to(cd_stats_messages_per_second(st, live->loop_ms, 5), 0.01));
    if (!full)
        return c;
    cJSON_AddNumberToObject(c, "messagesReceived", (double)live->ws_msgs_in);
    cJSON_AddNumberToObject(c, "messagesSent", (double)live->ws_msgs_out);
    cJSON *rate = cJSON_AddArrayToObject(c, "messageRate"); /* last 60 s, oldest first */
    uint64_t cur = live->loop_ms / 1000;
    for (uint64_t k = 60; k >= 1; k--)
        cJSON_AddItemToArray(
            rate, cJSON_CreateNumber(k <= cur ? (double)cd_stats_msgs_in_second(st, cur - k) : 0));
    cJSON_AddNumberToObject(c, "sessionsCreated", (double)live->sessions_created);
    cJSON_AddNumberToObject(c, "connectionsOpened", (double)live->ws_opened);
    cJSON_AddNumberToObject(c, "pushes", (double)st->push_us.count);
    cJSON_AddItemToObject(c, "pushLatencyMs", percentiles_ms(&st->push_us));
    return c;
}

cJSON *cd_stats_legacy_json(const struct cd_stats *st, const struct cd_stats_live *live)
{
    if (!st)
        return NULL;
    const struct cd_stats_agg *a = &st->view;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "uptime", round_to(live->uptime_s, 0.001));
    cJSON_AddBoolToObject(o, "pythonReady", live->python_ready);
    cJSON_AddBoolToObject(o, "isReady", live->python_ready);
    cJSON_AddStringToObject(o, "version", live->version ? live->version : "");
    add_time(o, "timestamp", live->wall_ms);
    add_time(o, "statsSince", st->since_wall_ms);
    cJSON *x = cJSON_AddObjectToObject(o, "executionStats");
    cJSON_AddNumberToObject(x, "totalExecutions", (double)a->total);
    cJSON_AddNumberToObject(x, "successfulExecutions", (double)a->ok);
    cJSON_AddNumberToObject(x, "failedExecutions", (double)a->failed);
    cJSON_AddNumberToObject(x, "successRate",
                            a->total ? round_to((double)a->ok / (double)a->total, 0.0001) : 0);
    cJSON_AddNumberToObject(x, "averageExecutionTime", average_ms(a));
    cJSON_AddItemToObject(x, "executionTimePercentiles", percentiles_ms(&st->exec_us));
    cJSON_AddItemToObject(x, "errorCategories", categories_object(a));
    cJSON_AddItemToObject(x, "hourlyTrend", hourly_trend(st, live->wall_ms));
    add_time(x, "lastExecutionTime", st->last_exec_wall_ms);
    cJSON *u = cJSON_AddObjectToObject(o, "uploads");
    cJSON_AddNumberToObject(u, "files", (double)st->uploads);
    cJSON_AddNumberToObject(u, "bytes", (double)st->upload_bytes);
    cJSON_AddNumberToObject(u, "failed", (double)st->uploads_failed);
    cJSON_AddItemToObject(o, "collab", collab_json(st, live, 0));
    return o;
}

cJSON *cd_stats_dashboard_json(const struct cd_stats *st, const struct cd_stats_live *live)
{
    if (!st)
        return NULL;
    const struct cd_stats_agg *a = &st->view;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", 1);
    add_time(o, "timestamp", live->wall_ms);
    cJSON *s = cJSON_AddObjectToObject(o, "stats");

    cJSON *ov = cJSON_AddObjectToObject(s, "overview");
    char up[64];
    uptime_human(live->uptime_s, up, sizeof(up));
    cJSON_AddNumberToObject(ov, "totalExecutions", (double)a->total);
    cJSON_AddNumberToObject(ov, "successfulExecutions", (double)a->ok);
    cJSON_AddNumberToObject(ov, "failedExecutions", (double)a->failed);
    cJSON_AddNumberToObject(ov, "successRate",
                            a->total ? round_to(100.0 * (double)a->ok / (double)a->total, 0.1) : 0);
    cJSON_AddNumberToObject(ov, "averageExecutionTime", average_ms(a));
    cJSON_AddItemToObject(ov, "executionTimeMs", percentiles_ms(&st->exec_us));
    cJSON_AddNumberToObject(ov, "uptimeSeconds", floor(live->uptime_s));
    cJSON_AddStringToObject(ov, "uptimeHuman", up);
    const struct cd_stats_hour *h = &st->hours[(live->wall_ms / 3600000u) % 24];
    cJSON_AddNumberToObject(ov, "lastHourExecutions",
                            h->hour == live->wall_ms / 3600000u ? (double)h->total : 0);
    add_time(ov, "lastExecutionTime", st->last_exec_wall_ms);
    cJSON_AddNumberToObject(ov, "filesUploaded", (double)st->uploads);
    cJSON_AddNumberToObject(ov, "uploadBytes", (double)st->upload_bytes);
    cJSON_AddNumberToObject(ov, "uploadsFailed", (double)st->uploads_failed);
    cJSON_AddBoolToObject(ov, "pythonEnabled", live->python_enabled);
    cJSON_AddBoolToObject(ov, "pythonReady", live->python_ready);
    add_time(ov, "statsSince", st->since_wall_ms);

    cJSON_AddItemToObject(s, "recent", recent_list(st));
    cJSON_AddItemToObject(s, "topIPs", top_hh(&st->ips));
    cJSON_AddItemToObject(s, "topErrors", top_errors(a));
    cJSON_AddItemToObject(s, "userAgents", top_hh(&st->uas));
    cJSON_AddItemToObject(s, "hourlyTrend", hourly_trend(st, live->wall_ms));
    cJSON_AddItemToObject(s, "hourly", hourly_series(st, live->wall_ms));
    cJSON_AddItemToObject(s, "collab", collab_json(st, live, 1));
    cJSON *http = cJSON_AddObjectToObject(s, "http");
    cJSON_AddNumberToObject(http, "requests", (double)live->http_requests);
    cJSON_AddNumberToObject(http, "errors", (double)live->http_errors);
    cJSON_AddNumberToObject(http, "rateLimited", (double)live->http_rate_limited);
    return o;
}
