/*
 * inflate.c: see inflate.h. Invariant: the pending list holds each connection that received
 * data since the last idle pass exactly once (c->rx_noted marks membership); the idle handle
 * runs only while the list is non-empty and stops as soon as lws reports no pending service,
 * so idle clients cost nothing.
 */
#include "inflate.h"
#include "writer.h"
#include "util/error.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <uv.h>

static uv_idle_t *idle;
static uv_timer_t *tick;
static struct cd_server *server;
static struct cd_conn **pending;
static size_t npending, apending;

/* Service the sockets of conns[0..n) once (servicing may close connections: fds first). */
static void service(struct cd_conn **conns, size_t n, int clear_marks)
{
    int small[64], *fds = n <= 64 ? small : malloc(n * sizeof(int));
    if (!fds)
        return;
    for (size_t i = 0; i < n; i++) {
        fds[i] = (int)lws_get_socket_fd(conns[i]->wsi);
        if (clear_marks)
            conns[i]->rx_noted = 0;
    }
    if (clear_marks)
        npending = 0;
    for (size_t i = 0; i < n; i++) {
        struct lws_pollfd pfd = {.fd = fds[i], .events = LWS_POLLIN, .revents = LWS_POLLIN};
        if (fds[i] >= 0)
            lws_service_fd(server->lws, &pfd);
    }
    if (fds != small)
        free(fds);
}

static void on_idle(uv_idle_t *h)
{
    if (!npending || !server->lws || lws_service_adjust_timeout(server->lws, 1, 0) != 0) {
        for (size_t i = 0; i < npending; i++)
            pending[i]->rx_noted = 0;
        npending = 0;
        uv_idle_stop(h);
        return;
    }
    /* Service every candidate once; those that receive again are noted again meanwhile. */
    service(pending, npending, 1);
}

/* The safety net: lws may hold data for a connection that received nothing we saw (seen under
 * ASan timing: two editors waited forever for an update and a push answer). Every tick, if lws
 * says forced service is pending, service every WebSocket connection once. */
static void on_tick(uv_timer_t *t)
{
    (void)t;
    if (!server->lws || !server->rooms->n)
        return;
    /* When lws finishes flushing a partial write it asks for a writable callback from inside its
     * POLLOUT handler and then drops that request on its way out (output.c + service.c, 4.1.6):
     * our callback never comes and the queue waits for unrelated traffic (seen: an editor stuck
     * eight updates behind, forever). Flush again every connection that still has output. */
    for (struct cd_conn *c = server->rooms->all; c; c = c->all_next)
        if (c->qlen || c->peer_closed || (c->close_code && c->close_code != CD_CLOSE_SLOW_CONSUMER))
            cd_writer_kick(c);
    if (lws_service_adjust_timeout(server->lws, 1, 0) != 0)
        return;
    size_t n = 0;
    struct cd_conn **all = malloc(server->rooms->n * sizeof(*all));
    if (!all)
        return;
    for (struct cd_conn *c = server->rooms->all; c && n < server->rooms->n; c = c->all_next)
        all[n++] = c;
    service(all, n, 0);
    free(all);
}

/* Double a pointer array's capacity; 1 on success. */
static int grow(void **arr, size_t *alloc)
{
    size_t a = *alloc ? *alloc * 2 : 8;
    void *p = realloc(*arr, a * sizeof(void *));
    if (!p)
        return 0;
    *arr = p;
    *alloc = a;
    return 1;
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

int cd_inflate_init(struct cd_server *srv)
{
    idle = malloc(sizeof(*idle));
    tick = malloc(sizeof(*tick));
    if (!idle || !tick) {
        free(idle);
        free(tick);
        idle = NULL;
        tick = NULL;
        return CD_ENOMEM;
    }
    uv_idle_init(srv->loop, idle);
    uv_timer_init(srv->loop, tick);
    uv_timer_start(tick, on_tick, 20, 20);
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
    if (tick) {
        uv_timer_stop(tick);
        uv_close((uv_handle_t *)tick, on_close);
        tick = NULL;
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
    if (npending == apending && !grow((void **)&pending, &apending))
        return; /* lws's own idle pass still runs; worst case the stall it has anyway */
    pending[npending++] = c;
    c->rx_noted = 1;
    uv_idle_start(idle, on_idle);
}
