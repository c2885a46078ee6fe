/*
 * stats.c: the statistics resources (A4-A6):
 *   GET  /api/stats                        the older Pyodide server's shape
 *   GET  /api/dashboard/stats              the dashboard's figures
 *   POST /api/dashboard/stats/clear        empties the dashboard view (admin token)
 *   GET  /api/dashboard/stats/dashboard    the dashboard page (also /dashboard), built by Vite
 *   GET  /metrics                          Prometheus text format
 * The figures themselves are counted in audit/stats.c; this file gathers what the server
 * holds (sessions, connections, counters) and answers. Admin: without cfg.admin_token the
 * clear endpoint answers 403; a token is compared in constant time (as SHA-256 digests, so
 * not even its length shows) and is never logged; a refusal and a clear are security events.
 * Event-loop thread only.
 */
#include "audit/events.h"
#include "audit/hash.h"
#include "audit/ratelimit.h"
#include "audit/seclog.h"
#include "audit/stats.h"
#include "core/clock.h"
#include "core/log.h"
#include "pyexec/pool.h"
#include "routes.h"
#include "store/store.h"
#include "util/error.h"
#include "ws/room.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <uv.h>

#define CD_METRICS_MAX (1024 * 1024)

static void live_figures(struct cd_server *srv, struct cd_stats_live *l)
{
    memset(l, 0, sizeof(*l));
    l->wall_ms = cd_wall_ms();
    l->loop_ms = uv_now(srv->loop);
    l->started_wall_ms = srv->started_wall_ms;
    l->uptime_s = (double)(cd_mono_ms() - srv->started_mono_ms) / 1000.0;
    l->version = COLLABD_VERSION;
    l->python_enabled = srv->py != NULL;
    l->python_ready = cd_pyexec_ready(srv->py);
    l->sessions = srv->store->ops->count(srv->store);
    l->connections = srv->rooms->n;
    l->sessions_created = srv->n.sessions_created;
    l->sessions_deleted = srv->n.sessions_deleted;
    l->ws_opened = srv->n.ws_opened;
    l->ws_rejected = srv->n.ws_rejected;
    l->ws_msgs_in = srv->n.ws_msgs_in;
    l->ws_msgs_out = srv->n.ws_msgs_out;
    l->ws_slow_dropped = srv->n.ws_slow_dropped;
    l->http_requests = srv->n.http_requests;
    l->http_errors = srv->n.http_errors;
    struct cd_ratelimit_stats rs;
    cd_ratelimit_stats_get(srv->http_limit, &rs);
    l->http_rate_limited = rs.refused;
    if (srv->seclog) {
        struct cd_seclog_stats ss;
        cd_seclog_stats_get(srv->seclog, &ss);
        l->seclog_lines = ss.lines;
        l->seclog_dropped = ss.dropped;
    }
}

int cd_stats_get(struct cd_http_req *r)
{
    struct cd_stats_live l;
    live_figures(r->srv, &l);
    cJSON *o = cd_stats_legacy_json(r->srv->stats, &l);
    if (!o)
        return cd_http_error(r, 500, "internal", "statistics are not available");
    return cd_http_json(r, 200, o);
}

int cd_dashboard_stats_get(struct cd_http_req *r)
{
    struct cd_stats_live l;
    live_figures(r->srv, &l);
    cJSON *o = cd_stats_dashboard_json(r->srv->stats, &l);
    if (!o)
        return cd_http_error(r, 500, "internal", "statistics are not available");
    return cd_http_json(r, 200, o);
}

int cd_metrics_get(struct cd_http_req *r)
{
    struct cd_stats_live l;
    live_figures(r->srv, &l);
    struct cd_buf b;
    cd_buf_init(&b, CD_METRICS_MAX);
    int rc = cd_stats_metrics(r->srv->stats, &l, &b);
    if (rc) {
        cd_buf_cleanup(&b);
        return cd_http_error(r, 500, "internal", "metrics: %s", cd_strerror(rc));
    }
    rc = cd_http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.data, b.len);
    cd_buf_cleanup(&b);
    return rc;
}

int cd_dashboard_page_get(struct cd_http_req *r)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof(path), "%s/dashboard.html", r->srv->cfg.static_dir);
    if (stat(path, &st) || !S_ISREG(st.st_mode))
        return cd_http_error(r, 404, "dashboard_not_built",
                             "the dashboard page is not built (deploy/build-frontend.sh)");
    return cd_http_file(r, path, "text/html; charset=utf-8", "cache-control: no-cache\r\n");
}

/* The presented admin token (Authorization: Bearer, else X-Admin-Token) into got. */
static void presented_token(struct cd_http_req *r, char *got, size_t size)
{
    char auth[300];
    got[0] = '\0';
    int n = lws_hdr_copy(r->wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && !strncasecmp(auth, "Bearer ", 7))
        snprintf(got, size, "%s", auth + 7);
    else if (lws_hdr_custom_copy(r->wsi, got, (int)size, "x-admin-token:", 14) < 0)
        got[0] = '\0';
}

/* Answer an admin refusal (status 401 or 403) and log it as a security event. */
static int refuse_admin(struct cd_http_req *r, int status, const char *code, const char *reason,
                        const char *message)
{
    char ip[64], ua[160];
    cd_http_peer(r, ip, sizeof(ip));
    cd_http_user_agent(r, ua, sizeof(ua));
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "ip", ip);
    cJSON_AddStringToObject(f, "path", r->path);
    cJSON_AddStringToObject(f, "reason", reason);
    cd_log_fields(CD_LOG_WARN, r->req_id, "security: admin token refused", f);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "path", r->path);
    cJSON_AddStringToObject(ev, "reason", reason);
    cJSON_AddStringToObject(ev, "requestId", r->req_id);
    cd_audit(r->srv->seclog, "admin_token_refused", ip, ua, ev);
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return cd_http_error(r, 500, "out_of_memory", "out of memory");
    int rc =
        cd_http_send(r, status, "application/json",
                     status == 401 ? "www-authenticate: Bearer realm=\"collabd-admin\"\r\n" : NULL,
                     s, strlen(s));
    free(s);
    return rc;
}

int cd_dashboard_stats_clear_post(struct cd_http_req *r)
{
    const char *want = r->srv->cfg.admin_token;
    if (!want[0])
        return refuse_admin(r, 403, "admin_disabled", "disabled",
                            "admin endpoints are disabled on this server (no --admin-token)");
    char got[300];
    presented_token(r, got, sizeof(got));
    int ok = cd_secret_equal(got, want);
    int missing = !got[0];
    memset(got, 0, sizeof(got));
    if (!ok)
        return refuse_admin(r, 401, "admin_token_required", missing ? "missing" : "wrong",
                            "this endpoint needs the admin token (Authorization: Bearer, or "
                            "X-Admin-Token)");
    uint64_t now = cd_wall_ms();
    cd_stats_clear(r->srv->stats, now);
    char ip[64], ua[160], ts[32];
    cd_http_peer(r, ip, sizeof(ip));
    cd_http_user_agent(r, ua, sizeof(ua));
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "ip", ip);
    cd_log_fields(CD_LOG_INFO, r->req_id, "stats cleared by the admin", f);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "path", r->path);
    cJSON_AddStringToObject(ev, "requestId", r->req_id);
    cd_audit(r->srv->seclog, "stats_cleared", ip, ua, ev);
    cd_iso8601(now, ts);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", 1);
    cJSON_AddStringToObject(o, "message", "statistics cleared");
    cJSON_AddStringToObject(o, "clearedAt", ts);
    return cd_http_json(r, 200, o);
}
