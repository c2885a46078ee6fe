/*
 * stats.h: collabd's statistics (A3): Python executions (totals, success rate, average and
 * percentile time, error categories, a 24-hour hourly trend, the most recent runs, the top
 * client addresses and user agents), uploads, WebSocket messages per second and the
 * push-to-broadcast latency of the collaboration authority. They feed /api/stats (the older
 * Pyodide server's shape), /api/dashboard/stats and /metrics (metrics.c).
 *
 * Two views of the same events. The dashboard view is what /api/stats and the dashboard show;
 * cd_stats_clear() (the admin's "clear") empties it. The lifetime view feeds /metrics and is
 * never cleared, because Prometheus counters only go up.
 *
 * Bounded memory whatever the traffic: the top addresses and user agents are kept with the
 * space-saving ("heavy hitters") scheme in CD_STATS_TOP entries each (once more distinct keys
 * than that have been seen, a count is an upper bound that overestimates by at most the count
 * of the entry it replaced); error categories in CD_STATS_CATS entries (then "other");
 * CD_STATS_RECENT recent runs; 24 hour buckets; 64 one-second message buckets.
 *
 * Threads: event-loop thread only; no locks, no allocation after cd_stats_new(). Every
 * function accepts a NULL struct cd_stats and then does nothing (returns NULL / 0).
 * Times are passed in by the caller (wall-clock ms since the epoch, monotonic ms or us), so
 * that tests can drive the clock.
 */
#ifndef CD_AUDIT_STATS_H
#define CD_AUDIT_STATS_H

#include "util/buf.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define CD_STATS_TOP      64  /* keys tracked per heavy-hitters table */
#define CD_STATS_TOP_SHOW 10  /* entries shown by the dashboard */
#define CD_STATS_RECENT   50  /* recent executions kept */
#define CD_STATS_CATS     32  /* distinct error categories; past that, "other" */
#define CD_STATS_KEY_MAX  128 /* bytes of an address or user agent kept (longer are cut) */

struct cd_stats;

/* One finished Python run (a program, not a reset). Strings are borrowed for the call. */
struct cd_stats_exec {
    int success;
    const char *error_type;  /* the pool's errorType ("syntax", "timeout", ...) or NULL */
    double ms;               /* executionTime in ms; < 0 when unknown */
    const char *ip;          /* client address, or NULL */
    const char *user_agent;  /* or NULL */
    const char *code_sha256; /* 64 hex digits, or NULL: the program itself is never kept */
    const char *source;      /* "rest" or "room" */
};

/* Figures the stats do not own, gathered by the caller (http/stats.c) when it answers. */
struct cd_stats_live {
    uint64_t wall_ms;         /* now, wall clock */
    uint64_t loop_ms;         /* now, on the clock given to cd_stats_ws_message() */
    uint64_t started_wall_ms; /* when collabd started */
    double uptime_s;
    const char *version;
    int python_enabled;
    int python_ready;
    uint64_t sessions;    /* held now */
    uint64_t connections; /* WebSocket connections now */
    uint64_t sessions_created, sessions_deleted;
    uint64_t ws_opened, ws_rejected, ws_msgs_in, ws_msgs_out, ws_slow_dropped;
    uint64_t http_requests, http_errors, http_rate_limited;
    uint64_t seclog_lines, seclog_dropped;
};

/* Allocate empty statistics; now_wall_ms is the start of the dashboard view.
 * Returns 0 and *out, or CD_ENOMEM (then *out is NULL). */
int cd_stats_new(struct cd_stats **out, uint64_t now_wall_ms);
/* NULL is a no-op. */
void cd_stats_free(struct cd_stats *st);

/* Count one finished run at wall-clock time now_wall_ms. Error types outside [a-z0-9_]{1,32}
 * are counted as "other"; addresses and user agents keep printable ASCII only (others become
 * '?') and at most CD_STATS_KEY_MAX - 1 bytes. */
void cd_stats_execution(struct cd_stats *st, const struct cd_stats_exec *e, uint64_t now_wall_ms);
/* The same from a pool result {success, errorType?, executionTime?} (see pyexec/pool.h),
 * at the current wall-clock time. */
void cd_stats_run_result(struct cd_stats *st, const cJSON *result, const char *source,
                         const char *ip, const char *user_agent, const char *code_sha256);
/* Count one upload of bytes bytes; ok 0 for a refused or failed one. */
void cd_stats_upload(struct cd_stats *st, uint64_t bytes, int ok);
/* Count one WebSocket message received at now_ms (any monotonic ms clock, the same one given
 * later as cd_stats_live.loop_ms; collabd uses the loop's cached time). */
void cd_stats_ws_message(struct cd_stats *st, uint64_t now_ms);
/* Count one accepted push: us microseconds from its handler's start to its updates queued to
 * every reader. */
void cd_stats_push_latency(struct cd_stats *st, uint64_t us);

/* Empty the dashboard view (not the lifetime counters of /metrics); it restarts at
 * now_wall_ms. */
void cd_stats_clear(struct cd_stats *st, uint64_t now_wall_ms);

/* Messages received per second, averaged over the last `seconds` complete seconds before
 * now_ms (1..60). */
double cd_stats_messages_per_second(const struct cd_stats *st, uint64_t now_ms, int seconds);

/* GET /api/stats: the older Pyodide server's shape (new object, caller owns; NULL if st is
 * NULL or out of memory):
 *   {uptime, pythonReady, isReady, version, timestamp, statsSince,
 *    executionStats: {totalExecutions, successfulExecutions, failedExecutions, successRate
 *    (0..1), averageExecutionTime (ms), executionTimePercentiles {p50, p90, p99},
 *    errorCategories {type: n}, hourlyTrend [24: index = UTC hour of day], lastExecutionTime},
 *    uploads {files, bytes, failed}, collab {sessions, connections, messagesPerSecond}} */
cJSON *cd_stats_legacy_json(const struct cd_stats *st, const struct cd_stats_live *live);
/* GET /api/dashboard/stats (new object, caller owns; NULL as above):
 *   {success: true, timestamp, stats: {overview, recent [newest first], topIPs, topErrors,
 *    userAgents [{name, count}], hourlyTrend [24], hourly [{hour, executions, failed}: the
 *    last 24 hours, oldest first], collab {...}}} */
cJSON *cd_stats_dashboard_json(const struct cd_stats *st, const struct cd_stats_live *live);

/* GET /metrics (metrics.c): append the Prometheus text exposition format (version 0.0.4) to
 * out. Returns 0, or CD_ETOOBIG / CD_ENOMEM from the buffer (out then holds a part). */
int cd_stats_metrics(const struct cd_stats *st, const struct cd_stats_live *live,
                     struct cd_buf *out);

#endif
