/*
 * defer.c: see defer.h. Owns its prepare and check handles (each freed by its close callback)
 * and the array of listed items; the handles run only while an item is listed.
 */
#include "defer.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

struct cd_defer {
    uv_prepare_t *prep;
    uv_check_t *check;
    void (*run)(void *item);
    void **items;
    size_t n, alloc;
};

static void run_all(struct cd_defer *d)
{
    for (size_t i = 0; i < d->n; i++)
        d->run(d->items[i]);
    d->n = 0;
    uv_prepare_stop(d->prep);
    uv_check_stop(d->check);
}

/* prepare: items listed by timers and idle handlers, before the loop sleeps in poll */
static void on_prepare(uv_prepare_t *h)
{
    run_all(h->data);
}

/* check: items listed by the callbacks of the poll phase */
static void on_check(uv_check_t *h)
{
    run_all(h->data);
}

struct cd_defer *cd_defer_new(uv_loop_t *loop, void (*run)(void *item))
{
    struct cd_defer *d = calloc(1, sizeof(*d));
    uv_prepare_t *prep = malloc(sizeof(*prep));
    uv_check_t *check = malloc(sizeof(*check));
    if (!d || !prep || !check) {
        free(d);
        free(prep);
        free(check);
        return NULL;
    }
    uv_prepare_init(loop, prep);
    uv_check_init(loop, check);
    prep->data = check->data = d;
    d->prep = prep;
    d->check = check;
    d->run = run;
    return d;
}

int cd_defer_add(struct cd_defer *d, void *item)
{
    if (d->n == d->alloc) {
        size_t a = d->alloc ? d->alloc * 2 : 64;
        void **p = realloc(d->items, a * sizeof(*p));
        if (!p)
            return CD_ENOMEM;
        d->items = p;
        d->alloc = a;
    }
    d->items[d->n++] = item;
    uv_prepare_start(d->prep, on_prepare);
    uv_check_start(d->check, on_check);
    return CD_OK;
}

void cd_defer_remove(struct cd_defer *d, void *item)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i] == item) {
            memmove(d->items + i, d->items + i + 1, (d->n - i - 1) * sizeof(*d->items));
            d->n--;
            return;
        }
}

void *cd_defer_pop(struct cd_defer *d)
{
    return d->n ? d->items[--d->n] : NULL;
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

void cd_defer_free(struct cd_defer *d)
{
    if (!d)
        return;
    uv_prepare_stop(d->prep);
    uv_check_stop(d->check);
    uv_close((uv_handle_t *)d->prep, on_close);
    uv_close((uv_handle_t *)d->check, on_close);
    free(d->items);
    free(d);
}
