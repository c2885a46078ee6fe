/*
 * main.c: wires collabd together and owns the process life cycle. It creates the libuv loop
 * (collabd's, not lws's: lws runs on it as a foreign loop, which keeps latency flat with
 * many idle connections), the store, the lws context with the "http" and "collabd"
 * protocols, and the signal handlers:
 *   SIGINT/SIGTERM: stop being ready, tell WebSocket clients, drain for at most
 *                   shutdown_grace_ms, destroy the lws context inside the loop, exit 0;
 *   SIGHUP:         reopen the log file (rotation).
 * "collabd audit verify FILE..." only runs the security-log verifier (audit/seclog.h).
 * Nothing else lives here.
 */
#include "audit/events.h"
#include "audit/ratelimit.h"
#include "audit/seclog.h"
#include "audit/stats.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/server.h"
#include "http/http.h"
#include "http/tls.h"
#include "pyexec/pool.h"
#include "store/store.h"
#include "util/error.h"
#include "ws/collab.h"
#include "ws/inflate.h"
#include "ws/writer.h"
#include "ws/room.h"
#include "ws/run.h"
#include "ws/ws.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

struct app {
    struct cd_server srv;
    struct cd_rooms rooms;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t drain;
    uint64_t drain_deadline;
    uint64_t tell_at; /* when the drain delay ends */
    int told;         /* clients have been told */
    int exit_code;
};

static void close_handles(struct app *a)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&a->sigint, (uv_handle_t *)&a->sigterm,
                         (uv_handle_t *)&a->sighup, (uv_handle_t *)&a->drain};
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], NULL);
}

static void on_drain_tick(uv_timer_t *t)
{
    struct app *a = t->data;
    if (!a->told) {
        /* a balancer has had drain_delay_ms to see /health fail: now tell the clients */
        if (cd_mono_ms() < a->tell_at)
            return;
        a->told = 1;
        cd_ws_shutdown(&a->srv);
        a->drain_deadline = cd_mono_ms() + (uint64_t)a->srv.cfg.shutdown_grace_ms;
    }
    if (a->rooms.n && cd_mono_ms() < a->drain_deadline)
        return;
    if (a->rooms.n)
        cd_logf(CD_LOG_WARN, NULL, "drain timeout: closing %zu connections", a->rooms.n);
    cd_logf(CD_LOG_INFO, NULL, "shutdown: stopping the server");
    uv_timer_stop(t);
    lws_context_destroy(a->srv.lws); /* inside the loop, as lws wants for foreign loops */
    cd_collab_cleanup();
    cd_run_shutdown();
    cd_store_shutdown(a->srv.store); /* its connection and timer close inside the loop */
    cd_pyexec_stop(a->srv.py);
    a->srv.py = NULL;
    cd_inflate_cleanup();
    cd_writer_cleanup();
    close_handles(a);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *a = h->data;
    if (signum == SIGHUP) {
        cd_log_reopen();
        if (a->srv.seclog && cd_seclog_reopen(a->srv.seclog))
            cd_logf(CD_LOG_ERROR, NULL, "security log: reopen failed; still writing the old file");
        cd_logf(CD_LOG_INFO, NULL, "log reopened (SIGHUP)");
        return;
    }
    if (a->srv.draining) {
        cd_logf(CD_LOG_WARN, NULL, "second signal: stopping now");
        a->tell_at = 0;
        a->drain_deadline = 0;
        return;
    }
    cd_logf(CD_LOG_INFO, NULL, "shutdown requested (%s): draining %zu connections",
            signum == SIGINT ? "SIGINT" : "SIGTERM", a->rooms.n);
    a->srv.draining = 1;
    a->srv.ready = 0;
    a->tell_at = cd_mono_ms() + (uint64_t)a->srv.cfg.drain_delay_ms;
    uv_timer_start(&a->drain, on_drain_tick, 0, 20);
}

/* collabd-py: configured, or beside this executable. */
static void worker_path(const struct cd_config *c, char *out, size_t size)
{
    if (c->py_worker_bin[0]) {
        snprintf(out, size, "%s", c->py_worker_bin);
        return;
    }
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, size, "%s/collabd-py", n > 0 ? self : ".");
}

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    cd_logf(level == LLL_ERR ? CD_LOG_ERROR : CD_LOG_WARN, NULL, "lws: %.*s", (int)n, line);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "audit"))
        return cd_seclog_verify_main(argc - 1, argv + 1);
    static struct app a;
    struct cd_server *srv = &a.srv;
    int rc = 1;

    cd_config_defaults(&srv->cfg);
    int cr = cd_config_load(&srv->cfg, argc, argv);
    if (cr == 1)
        return 0;
    if (cr)
        return 2;
    char tlserr[1400];
    if (cd_tls_check(&srv->cfg, tlserr, sizeof(tlserr))) {
        fprintf(stderr, "collabd: %s\n", tlserr);
        return 2;
    }
    cd_log_open(srv->cfg.log_dir, srv->cfg.log_level, (int)srv->cfg.log_stderr);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    signal(SIGPIPE, SIG_IGN);
    srv->started_mono_ms = cd_mono_ms();
    char secpath[600];
    snprintf(secpath, sizeof(secpath), "%s/security.log", srv->cfg.log_dir);
    int slrc = cd_seclog_open(&srv->seclog, secpath, NULL);
    if (slrc)
        cd_logf(CD_LOG_ERROR, NULL, "security log %s cannot be opened (%s): events are not kept",
                secpath, cd_strerror(slrc));
    cd_audit(srv->seclog, "server_start", NULL, NULL, NULL);
    srv->started_wall_ms = cd_wall_ms();
    srv->rooms = &a.rooms;
    if (cd_stats_new(&srv->stats, srv->started_wall_ms) ||
        (srv->cfg.http_rate_limit &&
         cd_ratelimit_new(&srv->http_limit, (double)srv->cfg.http_rate_limit,
                          (double)srv->cfg.http_rate_burst, 4096))) {
        fprintf(stderr, "collabd: out of memory\n");
        goto fail_log;
    }

    if (uv_loop_init(&a.loop)) {
        fprintf(stderr, "collabd: cannot create the event loop\n");
        goto fail_log;
    }
    srv->loop = &a.loop;
    struct cd_auth_limits lim = {(size_t)srv->cfg.max_doc, (size_t)srv->cfg.history_max,
                                 (size_t)srv->cfg.history_bytes};
    char serr[200] = "out of memory";
    if (!strcmp(srv->cfg.store, "redis"))
        srv->store = cd_store_redis_new(&a.loop, srv->cfg.redis_url, srv->cfg.redis_ttl,
                                        (size_t)srv->cfg.max_sessions, &lim, serr, sizeof(serr));
    else
        srv->store = cd_store_memory_new((size_t)srv->cfg.max_sessions, &lim);
    if (!srv->store) {
        fprintf(stderr, "collabd: %s\n", serr);
        goto fail_loop;
    }
    cd_collab_store_hooks(srv, &srv->store->hooks); /* what other instances did reaches rooms */

    /* the Python zygote is forked before lws opens any socket, so it inherits none */
    char pybin[1100];
    worker_path(&srv->cfg, pybin, sizeof(pybin));
    int pyrc = cd_pyexec_start(&srv->py, &a.loop, &srv->cfg, pybin);
    if (pyrc && pyrc != CD_EUNAVAIL)
        cd_logf(CD_LOG_ERROR, NULL, "python: cannot start the pool (%s): server-side runs off",
                cd_strerror(pyrc));

    static struct lws_protocols protocols[3];
    cd_http_protocol(&protocols[0], srv);
    cd_ws_protocol(&protocols[1], srv);
    static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL, "default", "1"};
    static const struct lws_protocol_vhost_options pvo = {NULL, &pvo_default, CD_WS_PROTOCOL_NAME,
                                                          ""};
    static const struct lws_extension exts[] = {
        {"permessage-deflate", lws_extension_callback_pm_deflate,
         "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
        {NULL, NULL, NULL}};
    static lws_retry_bo_t retry;
    retry.secs_since_valid_ping = (uint16_t)srv->cfg.ping_interval;
    retry.secs_since_valid_hangup = (uint16_t)srv->cfg.idle_timeout;

    void *loops[1] = {&a.loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = (int)srv->cfg.port;
    info.iface = srv->cfg.host;
    info.protocols = protocols;
    info.pvo = &pvo;
    /* off by default: lws 4.1.6's inflate asserts (abort) on a truncated compressed frame */
    info.extensions = srv->cfg.ws_deflate ? exts : NULL;
    info.headers = cd_http_vhost_headers();
    info.options =
        LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.user = srv;
    info.retry_and_idle_policy = &retry;
    info.max_http_header_data = 8192;
    info.timeout_secs = 30;
    info.vhost_name = "collabd";
    cd_tls_configure(&info, &srv->cfg); /* HTTPS/WSS on the same port with --tls-cert */

    srv->lws = lws_create_context(&info);
    if (!srv->lws) {
        fprintf(stderr,
                "collabd: cannot listen on %s:%ld (port in use, or the libuv event "
                "library plugin missing: install libwebsockets-evlib-uv)\n",
                srv->cfg.host, srv->cfg.port);
        goto fail_py;
    }
    srv->vhost = lws_get_vhost_by_name(srv->lws, "collabd");
    srv->port = srv->vhost ? lws_get_vhost_listen_port(srv->vhost) : (int)srv->cfg.port;

    if (cd_inflate_init(srv) || cd_writer_init(srv) || cd_collab_init(srv)) {
        fprintf(stderr, "collabd: out of memory\n");
        cd_inflate_cleanup();
        cd_writer_cleanup();
        cd_collab_cleanup();
        lws_context_destroy(srv->lws);
        srv->lws = NULL;
        goto fail_py;
    }
    uv_signal_init(&a.loop, &a.sigint);
    uv_signal_init(&a.loop, &a.sigterm);
    uv_signal_init(&a.loop, &a.sighup);
    uv_timer_init(&a.loop, &a.drain);
    a.sigint.data = a.sigterm.data = a.sighup.data = a.drain.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sighup, on_signal, SIGHUP);

    srv->ready = 1;
    const char *scheme = cd_tls_scheme(&srv->cfg);
    printf("collabd %s listening on %s://%s:%d/ (store: %s)\n", COLLABD_VERSION, scheme,
           srv->cfg.host, srv->port, srv->store->ops->name);
    fflush(stdout);
    cd_logf(CD_LOG_INFO, NULL, "listening on %s://%s:%d/", scheme, srv->cfg.host, srv->port);

    uv_run(&a.loop, UV_RUN_DEFAULT);
    lws_context_destroy(srv->lws);
    srv->lws = NULL;
    rc = 0;
    cd_logf(CD_LOG_INFO, NULL, "stopped");
fail_py:
    cd_pyexec_stop(srv->py); /* NULL after a normal stop */
    srv->py = NULL;
    cd_store_shutdown(srv->store); /* done already after a normal stop */
    if (rc)
        uv_run(&a.loop, UV_RUN_NOWAIT);
    cd_store_free(srv->store);
fail_loop:
    if (srv->lws == NULL && rc) {
        uv_run(&a.loop, UV_RUN_NOWAIT);
    }
    if (uv_loop_close(&a.loop))
        cd_logf(CD_LOG_WARN, NULL, "event loop closed with handles still open");
fail_log:
    cd_ratelimit_free(srv->http_limit);
    srv->http_limit = NULL;
    cd_stats_free(srv->stats);
    srv->stats = NULL;
    cd_audit(srv->seclog, "server_stop", NULL, NULL, NULL);
    cd_seclog_free(srv->seclog);
    srv->seclog = NULL;
    cd_log_close();
    return rc;
}
