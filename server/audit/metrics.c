/*
 * metrics.c: /metrics in the Prometheus text exposition format 0.0.4 (see stats.h).
 * Every family has # HELP and # TYPE lines and the collabd_ prefix; counters end in _total
 * and come from the lifetime view (never cleared); histograms print cumulative _bucket lines
 * with ascending le bounds ending in +Inf (= _count), then _sum (seconds) and _count.
 * Label values are escaped (\\, \", \n) although the ones used here are already plain.
 * Writes into a capped struct cd_buf the caller owns; no other state.
 */
#include "internal.h"
#include "stats.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int family(struct cd_buf *b, const char *name, const char *type, const char *help)
{
    return cd_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int sample_u64(struct cd_buf *b, const char *name, const char *type, const char *help,
                      uint64_t v)
{
    int rc = family(b, name, type, help);
    return rc ? rc : cd_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static int sample_f(struct cd_buf *b, const char *name, const char *type, const char *help,
                    double v)
{
    int rc = family(b, name, type, help);
    return rc ? rc : cd_buf_printf(b, "%s %.6f\n", name, v);
}

/* A label value with \, " and newline escaped. */
static int label_value(struct cd_buf *b, const char *s)
{
    int rc = CD_OK;
    for (; *s && !rc; s++) {
        if (*s == '\\' || *s == '"')
            rc = cd_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            rc = cd_buf_puts(b, "\\n");
        else
            rc = cd_buf_append(b, s, 1);
    }
    return rc;
}

static int histogram(struct cd_buf *b, const char *name, const char *help,
                     const struct cd_prom_hist *h)
{
    int rc = family(b, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->nb && !rc; i++) {
        cum += h->n[i];
        rc = cd_buf_printf(b, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, h->le_text[i], cum);
    }
    if (!rc)
        rc = cd_buf_printf(
            b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
            h->count, name, (double)h->sum_us / 1e6, name, h->count);
    return rc;
}

int cd_stats_metrics(const struct cd_stats *st, const struct cd_stats_live *live,
                     struct cd_buf *out)
{
    int rc = CD_OK;
    struct cd_buf *b = out;
#define TRY(x)                                                                                     \
    do {                                                                                           \
        rc = (x);                                                                                  \
        if (rc)                                                                                    \
            goto out;                                                                              \
    } while (0)
    TRY(family(b, "collabd_build_info", "gauge", "Always 1; the version is a label."));
    TRY(cd_buf_puts(b, "collabd_build_info{version=\""));
    TRY(label_value(b, live->version ? live->version : ""));
    TRY(cd_buf_puts(b, "\"} 1\n"));
    TRY(sample_f(b, "collabd_start_time_seconds", "gauge",
                 "When collabd started, seconds since the epoch.",
                 (double)live->started_wall_ms / 1000.0));
    TRY(sample_f(b, "collabd_uptime_seconds", "gauge", "Seconds since collabd started.",
                 live->uptime_s));

    TRY(sample_u64(b, "collabd_http_requests_total", "counter", "HTTP requests received.",
                   live->http_requests));
    TRY(sample_u64(b, "collabd_http_errors_total", "counter",
                   "HTTP requests answered with a 4xx or 5xx status.", live->http_errors));
    TRY(sample_u64(b, "collabd_http_rate_limited_total", "counter",
                   "REST requests refused with 429 by the per-address rate limit.",
                   live->http_rate_limited));

    TRY(sample_u64(b, "collabd_sessions", "gauge", "Editing sessions held now.", live->sessions));
    TRY(sample_u64(b, "collabd_sessions_created_total", "counter", "Sessions created.",
                   live->sessions_created));
    TRY(sample_u64(b, "collabd_sessions_deleted_total", "counter", "Sessions deleted.",
                   live->sessions_deleted));
    TRY(sample_u64(b, "collabd_ws_connections", "gauge", "WebSocket connections open now.",
                   live->connections));
    TRY(sample_u64(b, "collabd_ws_connections_opened_total", "counter",
                   "WebSocket connections accepted.", live->ws_opened));
    TRY(sample_u64(b, "collabd_ws_connections_rejected_total", "counter",
                   "WebSocket upgrades refused.", live->ws_rejected));
    TRY(sample_u64(b, "collabd_ws_slow_clients_dropped_total", "counter",
                   "Clients disconnected because their send queue passed its cap.",
                   live->ws_slow_dropped));
    TRY(sample_u64(b, "collabd_ws_messages_received_total", "counter",
                   "WebSocket messages received from clients.", live->ws_msgs_in));
    TRY(sample_u64(b, "collabd_ws_messages_sent_total", "counter",
                   "WebSocket messages queued to clients.", live->ws_msgs_out));
    TRY(sample_f(b, "collabd_ws_messages_per_second", "gauge",
                 "Messages received per second over the last 5 complete seconds.",
                 st ? cd_stats_messages_per_second(st, live->loop_ms, 5) : 0));

    TRY(sample_u64(b, "collabd_python_ready", "gauge",
                   "1 when server-side Python is up (its zygote is ready).",
                   (uint64_t)(live->python_ready != 0)));
    if (st) {
        TRY(histogram(b, "collabd_push_broadcast_seconds",
                      "Time from a push's arrival in its handler to its updates queued to every "
                      "reader.",
                      &st->push_life));
        TRY(family(b, "collabd_python_executions_total", "counter",
                   "Server-side Python runs finished, by outcome."));
        TRY(cd_buf_printf(b,
                          "collabd_python_executions_total{outcome=\"success\"} %" PRIu64 "\n"
                          "collabd_python_executions_total{outcome=\"failure\"} %" PRIu64 "\n",
                          st->life.ok, st->life.failed));
        TRY(family(b, "collabd_python_errors_total", "counter",
                   "Failed server-side Python runs, by the pool's errorType."));
        for (size_t i = 0; i < st->life.ncat; i++) {
            TRY(cd_buf_puts(b, "collabd_python_errors_total{type=\""));
            TRY(label_value(b, st->life.cat[i].name));
            TRY(cd_buf_printf(b, "\"} %" PRIu64 "\n", st->life.cat[i].n));
        }
        TRY(histogram(b, "collabd_python_execution_seconds",
                      "Run time of server-side Python programs (executionTime).", &st->exec_life));
        TRY(family(b, "collabd_uploads_total", "counter", "File uploads, by outcome."));
        TRY(cd_buf_printf(b,
                          "collabd_uploads_total{outcome=\"ok\"} %" PRIu64 "\n"
                          "collabd_uploads_total{outcome=\"failed\"} %" PRIu64 "\n",
                          st->life_uploads, st->life_uploads_failed));
        TRY(sample_u64(b, "collabd_upload_bytes_total", "counter", "Bytes of accepted uploads.",
                       st->life_upload_bytes));
    }
    TRY(sample_u64(b, "collabd_security_log_lines_total", "counter",
                   "Lines written to the security log.", live->seclog_lines));
    TRY(sample_u64(b, "collabd_security_log_dropped_total", "counter",
                   "Security events dropped because the log's queue was full.",
                   live->seclog_dropped));
#undef TRY
out:
    return rc;
}
