/*
 * authority.c: see authority.h. Invariants: version == oldest + history length; the document
 * is the result of every accepted update; hbytes is the sum of the history entries' json_len;
 * history entries form a ring (hstart, hlen) whose oldest entry takes oldest -> oldest + 1.
 * A push is validated completely (rebased, lengths checked, size cap checked) before the
 * document is touched, so a refused push changes nothing.
 */
#include "authority.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cd_auth {
    struct cd_doc *doc;
    uint64_t version;
    struct cd_hist *hist;
    size_t hstart, hlen, halloc, hbytes;
    struct cd_auth_limits lim;
};

__attribute__((format(printf, 3, 4))) static void say(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int cd_auth_new(const struct cd_auth_limits *lim, const uint16_t *text, size_t n,
                struct cd_auth **out)
{
    *out = NULL;
    struct cd_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return CD_ENOMEM;
    a->lim = *lim;
    if (!a->lim.history_max)
        a->lim.history_max = 1;
    int rc = text ? cd_doc_new_from(text, n, &a->doc) : ((a->doc = cd_doc_new()) ? 0 : CD_ENOMEM);
    if (rc) {
        free(a);
        return rc;
    }
    *out = a;
    return CD_OK;
}

static void hist_free(struct cd_hist *h)
{
    free(h->client_id);
    cd_cs_free(h->changes);
    free(h->json);
    memset(h, 0, sizeof(*h));
}

static struct cd_hist *at(const struct cd_auth *a, size_t i)
{
    return &a->hist[(a->hstart + i) % a->halloc];
}

void cd_auth_free(struct cd_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->hlen; i++)
        hist_free(at(a, i));
    free(a->hist);
    cd_doc_free(a->doc);
    free(a);
}

uint64_t cd_auth_version(const struct cd_auth *a)
{
    return a->version;
}

uint64_t cd_auth_oldest(const struct cd_auth *a)
{
    return a->version - a->hlen;
}

const struct cd_doc *cd_auth_doc(const struct cd_auth *a)
{
    return a->doc;
}

size_t cd_auth_history_len(const struct cd_auth *a)
{
    return a->hlen;
}

size_t cd_auth_mem(const struct cd_auth *a)
{
    size_t m = sizeof(*a) + cd_doc_mem(a->doc) + a->halloc * sizeof(struct cd_hist);
    for (size_t i = 0; i < a->hlen; i++) {
        const struct cd_hist *h = at(a, i);
        m += cd_cs_mem(h->changes) + h->json_len + 1 + strlen(h->client_id) + 1;
    }
    return m;
}

const struct cd_hist *cd_auth_entry(const struct cd_auth *a, uint64_t v)
{
    uint64_t oldest = cd_auth_oldest(a);
    if (v < oldest || v >= a->version)
        return NULL;
    return at(a, (size_t)(v - oldest));
}

static void drop_oldest(struct cd_auth *a)
{
    struct cd_hist *h = at(a, 0);
    a->hbytes -= h->json_len;
    hist_free(h);
    a->hstart = (a->hstart + 1) % a->halloc;
    a->hlen--;
}

static int reserve(struct cd_auth *a, size_t more)
{
    if (a->hlen + more <= a->halloc)
        return CD_OK;
    size_t n = a->halloc ? a->halloc : 16;
    while (n < a->hlen + more)
        n *= 2;
    struct cd_hist *h = calloc(n, sizeof(*h));
    if (!h)
        return CD_ENOMEM;
    for (size_t i = 0; i < a->hlen; i++)
        h[i] = *at(a, i);
    free(a->hist);
    a->hist = h;
    a->hstart = 0;
    a->halloc = n;
    return CD_OK;
}

struct apply_ctx {
    struct cd_doc *doc;
    int rc;
};

/* Changes arrive in document order; positions before from_b are already in new coordinates. */
static int apply_change(void *ctx, size_t from_a, size_t to_a, size_t from_b, size_t to_b,
                        const uint16_t *ins, size_t ins_len)
{
    struct apply_ctx *c = ctx;
    (void)to_b;
    c->rc = cd_doc_replace(c->doc, from_b, from_b + (to_a - from_a), ins, ins_len);
    return c->rc ? 1 : 0;
}

/* Checks, rebases (one stored update at a time, then over after[0..nafter), one at a time) and
 * validates updates[0..n) pushed at base; *m receives how many remain (dropped duplicates are
 * freed). Changes nothing in a. */
static int prepare(const struct cd_auth *a, uint64_t base, const struct cd_update *after,
                   size_t nafter, struct cd_update *updates, size_t n, int reject_stale,
                   size_t *m_out, size_t *dropped, char *err, size_t errlen)
{
    int rc = CD_OK;
    size_t m = n;
    say(err, errlen, "%s", "");
    if (base > a->version) {
        say(err, errlen, "version %llu is ahead of the server's %llu", (unsigned long long)base,
            (unsigned long long)a->version);
        rc = CD_ERANGE;
        goto out;
    }
    if (base < cd_auth_oldest(a)) {
        say(err, errlen, "version %llu is older than the history (oldest %llu); resync",
            (unsigned long long)base, (unsigned long long)cd_auth_oldest(a));
        rc = CD_ESTALE;
        goto out;
    }
    if ((base < a->version || nafter) && reject_stale) {
        say(err, errlen, "the document is at version %llu; pull and push again",
            (unsigned long long)a->version);
        rc = CD_ECONFLICT;
        goto out;
    }
    /* One stored update at a time (DESIGN.md section 3). */
    for (uint64_t v = base; v < a->version && m; v++) {
        const struct cd_hist *h = cd_auth_entry(a, v);
        struct cd_update over = {h->client_id, h->changes};
        size_t left = m;
        rc = cd_cs_rebase_updates(updates, m, &over, 1, &left);
        if (rc) {
            say(err, errlen, "changes do not fit the document at version %llu",
                (unsigned long long)base);
            goto out;
        }
        *dropped += m - left;
        m = left;
    }
    for (size_t k = 0; k < nafter && m; k++) {
        size_t left = m;
        rc = cd_cs_rebase_updates(updates, m, &after[k], 1, &left);
        if (rc) {
            say(err, errlen, "changes do not fit the document at version %llu",
                (unsigned long long)base);
            goto out;
        }
        *dropped += m - left;
        m = left;
    }
    /* Validate every remaining update against the document it will apply to. */
    size_t len = nafter ? cd_cs_new_len(after[nafter - 1].changes) : cd_doc_len(a->doc);
    for (size_t i = 0; i < m; i++) {
        if (cd_cs_len(updates[i].changes) != len) {
            say(err, errlen, "update %zu expects a document of %zu units, it has %zu", i,
                cd_cs_len(updates[i].changes), len);
            rc = CD_EMISMATCH;
            goto out;
        }
        len = cd_cs_new_len(updates[i].changes);
        if (len > a->lim.max_doc) {
            say(err, errlen, "the document would have %zu units, over the limit of %zu", len,
                a->lim.max_doc);
            rc = CD_ETOOBIG;
            goto out;
        }
    }
out:
    *m_out = m;
    return rc;
}

int cd_auth_prepare(const struct cd_auth *a, uint64_t base, struct cd_update *updates, size_t n,
                    int reject_stale, size_t *m, char *err, size_t errlen)
{
    size_t dropped = 0;
    return prepare(a, base, NULL, 0, updates, n, reject_stale, m, &dropped, err, errlen);
}

int cd_auth_prepare_after(const struct cd_auth *a, uint64_t base, const struct cd_update *after,
                          size_t nafter, struct cd_update *updates, size_t n, int reject_stale,
                          size_t *m, char *err, size_t errlen)
{
    size_t dropped = 0;
    return prepare(a, base, after, nafter, updates, n, reject_stale, m, &dropped, err, errlen);
}

int cd_auth_set_version(struct cd_auth *a, uint64_t v)
{
    if (a->hlen)
        return CD_EINVAL;
    a->version = v;
    return CD_OK;
}

int cd_auth_push(struct cd_auth *a, uint64_t base, struct cd_update *updates, size_t n,
                 int reject_stale, struct cd_auth_result *res, char *err, size_t errlen)
{
    int rc = CD_OK;
    struct cd_buf js;
    cd_buf_init(&js, (size_t)1 << 31);
    struct cd_hist *fresh = NULL;
    size_t m = n;
    memset(res, 0, sizeof(*res));
    rc = prepare(a, base, NULL, 0, updates, n, reject_stale, &m, &res->dropped, err, errlen);
    if (rc)
        goto out;
    /* Serialise first (the only step besides the document that can fail), then apply. */
    fresh = calloc(m ? m : 1, sizeof(*fresh));
    if (!fresh || (rc = reserve(a, m))) {
        rc = CD_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        cd_buf_reset(&js);
        if ((rc = cd_cs_to_json(updates[i].changes, &js)))
            goto out;
        fresh[i].json = cd_buf_take(&js, &fresh[i].json_len);
        if (!fresh[i].json) {
            rc = CD_ENOMEM;
            goto out;
        }
    }
    res->first = a->version;
    for (size_t i = 0; i < m; i++) {
        struct apply_ctx ctx = {a->doc, 0};
        cd_cs_iter_changes(updates[i].changes, apply_change, &ctx);
        if (ctx.rc) {
            /* Out of memory inside the rope mid-update: the document no longer matches the
             * history. Refuse everything from here on rather than serve a corrupt room. */
            say(err, errlen, "out of memory while applying an update");
            rc = ctx.rc;
            goto out;
        }
        struct cd_hist *h = at(a, a->hlen);
        h->client_id = updates[i].client_id;
        h->changes = updates[i].changes;
        h->json = fresh[i].json;
        h->json_len = fresh[i].json_len;
        updates[i].client_id = NULL;
        updates[i].changes = NULL;
        fresh[i].json = NULL;
        a->hlen++;
        a->hbytes += h->json_len;
        a->version++;
        res->accepted++;
    }
    /* Fold the oldest into the snapshot, but never the updates of this push: the caller still
     * has to broadcast them (so one push may leave the history up to 100 entries, or one push's
     * bytes, over the limits until the next push). */
    while (
        (a->hlen > a->lim.history_max || (a->hlen > 1 && a->hbytes > a->lim.history_bytes_max)) &&
        cd_auth_oldest(a) < res->first)
        drop_oldest(a);
out:
    if (fresh)
        for (size_t i = 0; i < m && i < n; i++)
            free(fresh[i].json);
    free(fresh);
    cd_buf_cleanup(&js);
    for (size_t i = 0; i < n; i++)
        cd_update_cleanup(&updates[i]);
    return rc;
}

int cd_auth_map_pos(const struct cd_auth *a, uint64_t v, size_t pos, int assoc, size_t *out)
{
    if (v < cd_auth_oldest(a) || v > a->version)
        return CD_ESTALE;
    for (; v < a->version; v++) {
        const struct cd_hist *h = cd_auth_entry(a, v);
        int rc = cd_cs_map_pos(h->changes, pos, assoc, CD_MAP_SIMPLE, &pos);
        if (rc)
            return rc;
    }
    if (pos > cd_doc_len(a->doc))
        return CD_ERANGE;
    *out = pos;
    return CD_OK;
}
