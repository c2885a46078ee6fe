/*
 * memory.c: the in-memory session store (the default). Owns every struct cd_session it
 * creates. Records are kept in a hash map by id and in an array sorted by seq (creation
 * order), which makes the paginated list a binary search plus a walk. Removal compacts the
 * array (O(n) memmove of pointers; n <= max_sessions). Must not depend on lws or hiredis.
 */
#include "internal.h"
#include "store.h"
#include "core/clock.h"
#include "util/error.h"
#include "util/map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mem_store {
    struct cd_store base; /* first: the public view */
    struct cd_map by_id;
    struct cd_session **order; /* sorted by seq */
    size_t n, alloc;
    uint64_t next_seq;
};

static int mem_create(struct cd_store *s, const char *language, struct cd_session **out)
{
    struct mem_store *m = (struct mem_store *)s;
    if (m->n >= s->max_sessions)
        return CD_ELIMIT;
    if (m->n == m->alloc) {
        size_t a = m->alloc ? m->alloc * 2 : 64;
        struct cd_session **o = realloc(m->order, a * sizeof(*o));
        if (!o)
            return CD_ENOMEM;
        m->order = o;
        m->alloc = a;
    }
    struct cd_session *r = calloc(1, sizeof(*r));
    if (!r)
        return CD_ENOMEM;
    if (cd_auth_new(&s->limits, NULL, 0, &r->auth)) {
        free(r);
        return CD_ENOMEM;
    }
    cd_uuid_v4(r->id);
    cd_uuid_v4(r->view_token);
    snprintf(r->language, sizeof(r->language), "%s", language);
    r->created_ms = cd_wall_ms();
    r->seq = ++m->next_seq;
    if (cd_map_put(&m->by_id, r->id, 36, r)) {
        cd_auth_free(r->auth);
        free(r);
        return CD_ENOMEM;
    }
    m->order[m->n++] = r;
    *out = r;
    return CD_OK;
}

static struct cd_session *mem_get(struct cd_store *s, const char *id, size_t idlen)
{
    return cd_map_get(&((struct mem_store *)s)->by_id, id, idlen);
}

/* Index of the first record with seq > after. */
static size_t lower_bound(const struct mem_store *m, uint64_t after)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->order[mid]->seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int cd_store_memory_insert(struct cd_store *s, const struct cd_session *tmpl, struct cd_auth *auth,
                           struct cd_session **out)
{
    struct mem_store *m = (struct mem_store *)s;
    struct cd_session *r = NULL;
    int rc = CD_ENOMEM;
    if (cd_map_get(&m->by_id, tmpl->id, strlen(tmpl->id))) {
        rc = CD_EEXIST;
        goto fail;
    }
    if (m->n == m->alloc) {
        size_t a = m->alloc ? m->alloc * 2 : 64;
        struct cd_session **o = realloc(m->order, a * sizeof(*o));
        if (!o)
            goto fail;
        m->order = o;
        m->alloc = a;
    }
    r = calloc(1, sizeof(*r));
    if (!r)
        goto fail;
    memcpy(r->id, tmpl->id, sizeof(r->id));
    memcpy(r->view_token, tmpl->view_token, sizeof(r->view_token));
    memcpy(r->language, tmpl->language, sizeof(r->language));
    r->created_ms = tmpl->created_ms;
    r->seq = tmpl->seq;
    r->auth = auth;
    if (cd_map_put(&m->by_id, r->id, strlen(r->id), r))
        goto fail;
    size_t i = lower_bound(m, r->seq);
    memmove(&m->order[i + 1], &m->order[i], (m->n - i) * sizeof(*m->order));
    m->order[i] = r;
    m->n++;
    if (r->seq > m->next_seq)
        m->next_seq = r->seq;
    *out = r;
    return CD_OK;
fail:
    free(r);
    cd_auth_free(auth);
    return rc;
}

static size_t mem_list(struct cd_store *s, uint64_t after, struct cd_session **out, size_t limit,
                       int *more)
{
    struct mem_store *m = (struct mem_store *)s;
    size_t i = lower_bound(m, after), k = 0;
    while (i < m->n && k < limit)
        out[k++] = m->order[i++];
    *more = i < m->n;
    return k;
}

static int mem_remove(struct cd_store *s, const char *id, size_t idlen)
{
    struct mem_store *m = (struct mem_store *)s;
    struct cd_session *r = cd_map_del(&m->by_id, id, idlen);
    if (!r)
        return CD_ENOTFOUND;
    size_t i = lower_bound(m, r->seq - 1);
    if (i < m->n && m->order[i] == r) {
        memmove(&m->order[i], &m->order[i + 1], (m->n - i - 1) * sizeof(*m->order));
        m->n--;
    }
    cd_auth_free(r->auth);
    free(r);
    return CD_OK;
}

static size_t mem_count(struct cd_store *s)
{
    return ((struct mem_store *)s)->n;
}

static void mem_destroy(struct cd_store *s)
{
    struct mem_store *m = (struct mem_store *)s;
    for (size_t i = 0; i < m->n; i++) {
        cd_auth_free(m->order[i]->auth);
        free(m->order[i]);
    }
    free(m->order);
    cd_map_cleanup(&m->by_id);
    free(m);
}

static const struct cd_store_ops mem_ops = {
    .name = "memory",
    .create = mem_create,
    .get = mem_get,
    .list = mem_list,
    .remove = mem_remove,
    .count = mem_count,
    .destroy = mem_destroy,
};

struct cd_store *cd_store_memory_new(size_t max_sessions, const struct cd_auth_limits *lim)
{
    struct mem_store *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base.ops = &mem_ops;
    m->base.max_sessions = max_sessions;
    m->base.limits = *lim;
    cd_map_init(&m->by_id);
    return &m->base;
}

void cd_store_free(struct cd_store *s)
{
    if (s)
        s->ops->destroy(s);
}
