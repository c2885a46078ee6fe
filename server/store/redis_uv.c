/*
 * redis_uv.c: see redis_uv.h. It owns, per hiredis connection, a uv_poll_t (readable, and
 * writable only while a write would block) and a uv_idle_t that flushes hiredis's output
 * buffer. hiredis's own libuv adapter restarts the poll on every command to watch for
 * writability and again to stop (two epoll_ctl system calls per command: 12 % of collabd's CPU
 * in a Redis benchmark at 8,000 pushes/s). Here a command only marks output pending and starts
 * the idle handle; the next loop iteration writes everything queued since in one write(), and
 * the poll watches writability only when the socket refused part of it (or while connecting).
 * Invariant: the idle handle is active only while output is pending and the poll does not
 * watch writability.
 */
#include "redis_uv.h"

#include <stdlib.h>

struct rev {
    redisAsyncContext *ac; /* NULL once hiredis let go of it */
    uv_poll_t poll;
    uv_idle_t idle;
    int events;   /* what the poll watches */
    int want;     /* hiredis has output to write */
    int flushing; /* inside the idle flush */
    int open;     /* handles not yet closed */
};

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct rev *p = h->data;
    if (status < 0) /* hiredis learns of the error at its next read or write */
        events = p->events;
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void watch(struct rev *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->poll, events, on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void on_idle(uv_idle_t *h)
{
    struct rev *p = h->data;
    uv_idle_stop(&p->idle);
    if (!p->ac || !p->want)
        return;
    p->flushing = 1;
    redisAsyncHandleWrite(p->ac); /* clears want when all is written */
    p->flushing = 0;
    if (p->ac && p->want) /* the socket is full, or still connecting: wait until writable */
        watch(p, p->events | UV_WRITABLE);
}

static void add_read(void *arg)
{
    struct rev *p = arg;
    watch(p, p->events | UV_READABLE);
}

static void del_read(void *arg)
{
    struct rev *p = arg;
    watch(p, p->events & ~UV_READABLE);
}

static void add_write(void *arg)
{
    struct rev *p = arg;
    p->want = 1;
    if (!p->flushing && !(p->events & UV_WRITABLE))
        uv_idle_start(&p->idle, on_idle);
}

static void del_write(void *arg)
{
    struct rev *p = arg;
    p->want = 0;
    uv_idle_stop(&p->idle);
    watch(p, p->events & ~UV_WRITABLE);
}

static void on_closed(uv_handle_t *h)
{
    struct rev *p = h->data;
    if (--p->open == 0)
        free(p);
}

static void cleanup(void *arg)
{
    struct rev *p = arg;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, on_closed);
    uv_close((uv_handle_t *)&p->idle, on_closed);
}

int cd_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return REDIS_ERR;
    struct rev *p = calloc(1, sizeof(*p));
    if (!p)
        return REDIS_ERR;
    if (uv_poll_init_socket(loop, &p->poll, ac->c.fd)) {
        free(p);
        return REDIS_ERR;
    }
    uv_idle_init(loop, &p->idle);
    p->poll.data = p->idle.data = p;
    p->open = 2;
    p->ac = ac;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}
