/*
 * inflate.c: see inflate.h. Invariant: the pending list holds each connection that received
 * data since the last idle pass exactly once (c->rx_noted marks membership); the idle handle
 * runs only while the list is non-empty and stops as soon as lws reports no pending service,
 * so idle clients cost nothing.
 */
#include "inflate.h"
#include "util/error.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <uv.h>

static uv_idle_t *idle;
static struct cd_server *server;
static struct cd_conn **pending;
static size_t npending, apending;

static void on_idle(uv_idle_t *h)
{
    if (!npending || !server->lws || lws_service_adjust_timeout(server->lws, 1, 0) != 0) {
        for (size_t i = 0; i < npending; i++)
            pending[i]->rx_noted = 0;
        npending = 0;
        uv_idle_stop(h);
        return;
    }
    /* Service every candidate once; those that receive again are noted again meanwhile.
     * Servicing may close connections, so work on a copy of their fds. */
    size_t n = npending;
    int small[64], *fds = n <= 64 ? small : malloc(n * sizeof(int));
    if (!fds)
        return;
    for (size_t i = 0; i < n; i++) {
        fds[i] = (int)lws_get_socket_fd(pending[i]->wsi);
        pending[i]->rx_noted = 0;
    }
    npending = 0;
    for (size_t i = 0; i < n; i++) {
        struct lws_pollfd pfd = {.fd = fds[i], .events = LWS_POLLIN, .revents = LWS_POLLIN};
        if (fds[i] >= 0)
            lws_service_fd(server->lws, &pfd);
    }
    if (fds != small)
        free(fds);
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

int cd_inflate_init(struct cd_server *srv)
{
    idle = malloc(sizeof(*idle));
    if (!idle)
        return CD_ENOMEM;
    uv_idle_init(srv->loop, idle);
    server = srv;
    return CD_OK;
}

void cd_inflate_cleanup(void)
{
    if (idle) {
        uv_idle_stop(idle);
        uv_close((uv_handle_t *)idle, on_close);
        idle = NULL;
    }
    free(pending);
    pending = NULL;
    npending = apending = 0;
}

void cd_inflate_forget(struct cd_conn *c)
{
    if (!c->rx_noted)
        return;
    c->rx_noted = 0;
    for (size_t i = 0; i < npending; i++) {
        if (pending[i] == c) {
            pending[i] = pending[--npending];
            return;
        }
    }
}

void cd_inflate_note(struct cd_conn *c)
{
    if (!idle)
        return;
    if (c->rx_noted)
        return;
    if (npending == apending) {
        size_t a = apending ? apending * 2 : 8;
        struct cd_conn **p = realloc(pending, a * sizeof(*p));
        if (!p)
            return; /* lws's own idle pass still runs; worst case the stall it has anyway */
        pending = p;
        apending = a;
    }
    pending[npending++] = c;
    c->rx_noted = 1;
    uv_idle_start(idle, on_idle);
}
