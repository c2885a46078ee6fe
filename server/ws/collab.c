/*
 * collab.c: push, pull, cursor and sync (see collab.h). Change sets travel as the JSON text
 * the engine produced (cd_cs_to_json), spliced into messages built here, so an update is
 * serialised once and its bytes are shared by every recipient. Strings from clients pass
 * the lone-surrogate pre-pass before cJSON (handlers.c), so document text round-trips exactly.
 * Invariant: a refused push changes nothing and is answered with an error naming the reason.
 * With a store that makes updates durable (ops->commit, the Redis store), a push is rebased
 * and checked against the authority, sent to the store, and applied and broadcast only once
 * the store accepted it; if the store's version moved first, the push is rebased over the
 * missed updates (one at a time) and sent again. One commit per session is in flight; the
 * pushes that arrive meanwhile go together as the next one (see struct commit_queue).
 */
#include "collab.h"
#include "defer.h"
#include "run.h"
#include "audit/stats.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/text.h"
#include "util/utf16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CD_PUSH_UPDATES_MAX 100
#define CD_CLIENT_ID_MAX    64
#define CD_COMMIT_TRIES     50 /* store round trips of one push before it is refused as stale */
#define CD_COMMIT_BATCH_MAX CD_PUSH_UPDATES_MAX /* updates in one commit (one push may fill it) */
/* The refusal of a push the store could not make durable (code store_unavailable). */
#define STORE_DOWN "the session store is unreachable: nothing was saved; push again shortly"

/* A JSON integer in [0, 2^53]; -1 otherwise. */
static int64_t json_uint(const cJSON *v)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 9007199254740992.0 || floor(v->valuedouble) != v->valuedouble)
        return -1;
    return (int64_t)v->valuedouble;
}

static struct cd_auth *auth_of(struct cd_conn *c)
{
    struct cd_room *r = c->room;
    return r && r->session ? r->session->auth : NULL;
}

/* {"clientID":"...","changes":[...]} of history entry h. */
static int append_update(struct cd_buf *b, const struct cd_hist *h)
{
    int rc = cd_buf_puts(b, "{\"clientID\":");
    if (!rc)
        rc = cd_utf16_json_append_wtf8(b, h->client_id, strlen(h->client_id));
    if (!rc)
        rc = cd_buf_puts(b, ",\"changes\":");
    if (!rc)
        rc = cd_buf_append(b, h->json, h->json_len);
    if (!rc)
        rc = cd_buf_puts(b, "}");
    return rc;
}

static struct cd_msg *update_msg(uint64_t version_after, const struct cd_hist *h)
{
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 31);
    struct cd_msg *m = NULL;
    if (!cd_buf_printf(&b, "{\"type\":\"update\",\"version\":%llu,\"clientID\":",
                       (unsigned long long)version_after) &&
        !cd_utf16_json_append_wtf8(&b, h->client_id, strlen(h->client_id)) &&
        !cd_buf_puts(&b, ",\"changes\":") && !cd_buf_append(&b, h->json, h->json_len) &&
        !cd_buf_puts(&b, "}"))
        m = cd_msg_new(b.data, b.len);
    cd_buf_cleanup(&b);
    return m;
}

/* {"type":"updates","version":from,"updates":[...]} with every update after from. */
static int send_updates(struct cd_conn *c, struct cd_auth *a, uint64_t from, const cJSON *ref)
{
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 31);
    int rc = cd_buf_printf(&b, "{\"type\":\"updates\",\"version\":%llu,\"updates\":[",
                           (unsigned long long)from);
    for (uint64_t v = from; !rc && v < cd_auth_version(a); v++) {
        if (v > from)
            rc = cd_buf_puts(&b, ",");
        if (!rc)
            rc = append_update(&b, cd_auth_entry(a, v));
    }
    if (!rc)
        rc = cd_buf_puts(&b, "]");
    if (!rc && ref) {
        char *r = cJSON_PrintUnformatted(ref);
        rc = r ? cd_buf_printf(&b, ",\"ref\":%s", r) : CD_ENOMEM;
        free(r);
    }
    if (!rc)
        rc = cd_buf_puts(&b, "}");
    struct cd_msg *m = rc ? NULL : cd_msg_new(b.data, b.len);
    cd_buf_cleanup(&b);
    if (!m)
        return CD_ENOMEM;
    rc = cd_conn_send(c, m);
    cd_msg_unref(m);
    return rc;
}

static int doc_piece(void *ctx, const uint16_t *u, size_t n)
{
    return cd_utf16_json_piece(ctx, u, n);
}

/* The sync message, built in place: a 10 MB document is encoded once, straight from the
 * rope's chunks into the message's own storage (no intermediate copies, no cJSON tree). */
static struct cd_msg *sync_msg(struct cd_conn *c, struct cd_session *s, uint64_t version,
                               int with_doc)
{
    const struct cd_doc *d = cd_auth_doc(s->auth);
    struct cd_msg *m = NULL;
    char *hs = NULL, *ts = NULL;
    cJSON *head = cJSON_CreateObject(), *tail = cJSON_CreateObject();
    if (!head || !tail)
        goto out;
    cJSON_AddStringToObject(head, "type", "sync");
    cJSON *sess = cJSON_AddObjectToObject(head, "session");
    cJSON_AddStringToObject(sess, "id", s->id);
    cJSON_AddStringToObject(sess, "language", s->language);
    cJSON_AddNumberToObject(head, "version", (double)version);
    cJSON_AddBoolToObject(head, "resumed", !with_doc);
    cJSON_AddItemToObject(tail, "users", cd_room_users_json(c->room));
    cJSON_AddItemToObject(tail, "you", cd_conn_user_json(c));
    hs = cJSON_PrintUnformatted(head);
    ts = cJSON_PrintUnformatted(tail);
    if (!hs || !ts)
        goto out;
    size_t hl = strlen(hs), tl = strlen(ts), dl = with_doc ? cd_doc_len(d) : 0;
    /* code is mostly ASCII: a unit is a byte, plus escapes (newlines) */
    struct cd_buf b;
    struct cd_utf16_json_stream js;
    int rc = cd_msg_buf_init(&b, (size_t)1 << 31, hl + tl + dl + dl / 8 + 16);
    if (!rc)
        rc = cd_buf_append(&b, hs, hl - 1); /* without its closing brace */
    if (!rc && with_doc) {
        rc = cd_buf_puts(&b, ",\"doc\":");
        if (!rc)
            rc = cd_utf16_json_open(&js, &b);
        if (!rc)
            rc = cd_doc_foreach(d, 0, dl, doc_piece, &js);
        if (!rc)
            rc = cd_utf16_json_close(&js);
    }
    if (!rc)
        rc = cd_buf_puts(&b, ",");
    if (!rc)
        rc = cd_buf_append(&b, ts + 1, tl - 1); /* without its opening brace */
    if (rc)
        cd_buf_cleanup(&b);
    else
        m = cd_msg_take_buf(&b);
out:
    free(hs);
    free(ts);
    cJSON_Delete(head);
    cJSON_Delete(tail);
    return m;
}

int cd_collab_send_sync(struct cd_conn *c, struct cd_session *s, int64_t from)
{
    struct cd_auth *a = s->auth;
    uint64_t v = cd_auth_version(a);
    int resume = from >= 0 && (uint64_t)from >= cd_auth_oldest(a) && (uint64_t)from <= v;
    struct cd_msg *m = sync_msg(c, s, resume ? (uint64_t)from : v, !resume);
    if (!m)
        return CD_ENOMEM;
    int rc = cd_conn_send(c, m);
    cd_msg_unref(m);
    if (!rc && resume && (uint64_t)from < v)
        rc = send_updates(c, a, (uint64_t)from, NULL);
    return rc;
}

/* Map every stored cursor of the room through the update that produced version v + 1. */
static void map_cursors(struct cd_room *r, const struct cd_hist *h)
{
    for (struct cd_conn *c = r->head; c; c = c->next)
        for (size_t i = 0; i < c->ncursor; i++) {
            cd_cs_map_pos(h->changes, c->cursor[i].anchor, -1, CD_MAP_SIMPLE, &c->cursor[i].anchor);
            cd_cs_map_pos(h->changes, c->cursor[i].head, -1, CD_MAP_SIMPLE, &c->cursor[i].head);
        }
}

static const char *push_error_code(int rc)
{
    switch (rc) {
    case CD_ERANGE:
        return "bad_version";
    case CD_ESTALE:
        return "resync";
    case CD_ECONFLICT:
        return "stale";
    case CD_EMISMATCH:
        return "bad_changes";
    case CD_ETOOBIG:
        return "doc_too_large";
    default:
        return "internal";
    }
}

/* Broadcast the accepted entries first .. first + n - 1 of room r (NULL: nobody listens). */
static void broadcast_accepted(struct cd_room *r, struct cd_auth *a, uint64_t first, size_t n)
{
    for (size_t k = 0; r && k < n; k++) {
        const struct cd_hist *h = cd_auth_entry(a, first + k);
        if (!h)
            continue; /* not held any more (callers broadcast before the history trims) */
        struct cd_msg *m = update_msg(first + k + 1, h);
        map_cursors(r, h);
        if (m)
            cd_room_broadcast(r, m, NULL);
        cd_msg_unref(m);
    }
}

/* A push waiting for the store. It names its sender instead of pointing at it: the sender may
 * be gone when the store answers. */
struct push_op {
    uint64_t conn_seq;
    cJSON *ref;
    uint64_t base; /* the authority's version its updates are rebased onto */
    struct cd_update *u;
    size_t n;
    int reject, tries;
    struct push_op *next;
};

/* The pushes of one session committed together. Copies of their updates are prepared into one
 * sequence at base (each push's rebased over those of the pushes before it), go to the store
 * as one commit, and are applied and broadcast together once the store accepted them. When the
 * stored version moved first, the batch is dissolved and made again from its pushes (each
 * still one client's updates at a version of the history): a sequence mixing clients cannot
 * be rebased as one, since rebasing drops an update the history already holds only when it
 * leads the sequence. It names its session: the session may be deleted meanwhile. */
struct commit_batch {
    struct cd_server *srv;
    char session[37];
    struct push_op *ops, *last; /* answered together */
    struct cd_update *u;        /* the prepared copies, CD_COMMIT_BATCH_MAX slots */
    size_t n;
    uint64_t base;
    int reject;
};

/* The pushes of one session on their way to the store (s->commits). One commit per session is
 * in flight at a time on this instance; pushes that arrive meanwhile wait and then go as one
 * batch, instead of all racing for the same version (n pushers: n^2 round trips, and
 * refusals after CD_COMMIT_TRIES). A batch starts at the end of the loop's poll phase, so
 * that the pushes of one burst go together. NULL while nothing waits or is in flight. */
struct commit_queue {
    struct cd_server *srv;
    struct push_op *head, *tail; /* waiting */
    struct commit_batch *flight; /* the commit in flight, or NULL */
    int kicked;                  /* listed in kicked[], to start at the end of the poll phase */
};

/* Sessions whose waiting pushes start at the end of this poll phase (or before the loop
 * sleeps, for pushes queued outside it). */
static struct cd_defer *kicked;

static void push_op_free(struct push_op *op)
{
    for (size_t i = 0; i < op->n; i++)
        cd_update_cleanup(&op->u[i]);
    free(op->u);
    cJSON_Delete(op->ref);
    free(op);
}

static void batch_free(struct commit_batch *b)
{
    while (b->ops) {
        struct push_op *op = b->ops;
        b->ops = op->next;
        push_op_free(op);
    }
    for (size_t i = 0; i < b->n; i++)
        cd_update_cleanup(&b->u[i]);
    free(b->u);
    free(b);
}

static struct cd_conn *sender_of(struct cd_session *s, uint64_t seq)
{
    struct cd_room *r = s ? s->room : NULL;
    for (struct cd_conn *c = r ? r->head : NULL; c; c = c->next)
        if (c->seq == seq)
            return c;
    return NULL;
}

/* Refuse op for rc (err: the authority's sentence) and free it. */
static void push_refused(struct push_op *op, struct cd_session *s, int rc, const char *err)
{
    struct cd_conn *c = sender_of(s, op->conn_seq);
    if (c && rc == CD_EUNAVAIL)
        cd_conn_send_error(c, "store_unavailable", STORE_DOWN, op->ref);
    else if (c && rc == CD_ENOTFOUND)
        cd_conn_send_error(c, "session_not_found", "this session was deleted", op->ref);
    else if (c && rc == CD_ENOMEM)
        cd_conn_send_error(c, "internal", "out of memory", op->ref);
    else if (c)
        cd_conn_send_error(c, push_error_code(rc), err, op->ref);
    push_op_free(op);
}

/* Refuse every push of b (see push_refused) and free it. */
static void batch_refused(struct commit_batch *b, struct cd_session *s, int rc, const char *err)
{
    while (b->ops) {
        struct push_op *op = b->ops;
        b->ops = op->next;
        push_refused(op, s, rc, err);
    }
    batch_free(b);
}

/* Rebase op over the newer history (in place: op stays one client's updates, now at the
 * current version), then copies of its updates over b's, and add the copies to b (the caller
 * checked they fit); a refused op is answered, and op is freed unless added. */
static void batch_add(struct commit_batch *b, struct push_op *op, struct cd_session *s)
{
    char err[192];
    size_t m = op->n, k = 0;
    struct cd_update *cp = b->u + b->n;
    int rc = cd_auth_prepare(s->auth, op->base, op->u, op->n, op->reject, &m, err, sizeof(err));
    op->n = m;
    op->base = cd_auth_version(s->auth);
    for (; !rc && k < m; k++)
        if (!(cp[k].client_id = strdup(op->u[k].client_id)) ||
            cd_cs_dup(op->u[k].changes, &cp[k].changes))
            rc = CD_ENOMEM;
    if (!rc)
        rc = cd_auth_prepare_after(s->auth, op->base, b->u, b->n, cp, m, 0, &k, err, sizeof(err));
    if (rc || !k) { /* refused, or every update is held already (by the history or by b) */
        for (size_t i = 0; i < m; i++)
            cd_update_cleanup(&cp[i]);
        if (rc)
            push_refused(op, s, rc, err);
        else
            push_op_free(op);
        return;
    }
    b->n += k;
    op->next = NULL;
    if (b->last)
        b->last->next = op;
    else
        b->ops = op;
    b->last = op;
    b->reject |= op->reject;
}

static void on_committed(void *arg, int rc, uint64_t version);

/* Send b's updates to the store at b->base. */
static int batch_send(struct commit_batch *b, struct cd_session *s)
{
    struct cd_store *st = b->srv->store;
    struct cd_buf j[CD_COMMIT_BATCH_MAX];
    const char *e[CD_COMMIT_BATCH_MAX];
    size_t l[CD_COMMIT_BATCH_MAX];
    int rc = CD_OK;
    size_t i;
    for (i = 0; i < b->n && !rc; i++) {
        cd_buf_init(&j[i], (size_t)1 << 31);
        rc = cd_buf_puts(&j[i], "{\"clientID\":");
        if (!rc)
            rc = cd_utf16_json_append_wtf8(&j[i], b->u[i].client_id, strlen(b->u[i].client_id));
        if (!rc)
            rc = cd_buf_puts(&j[i], ",\"changes\":");
        if (!rc)
            rc = cd_cs_to_json(b->u[i].changes, &j[i]);
        if (!rc)
            rc = cd_buf_puts(&j[i], "}");
        e[i] = j[i].data;
        l[i] = j[i].len;
    }
    if (!rc)
        rc = st->ops->commit(st, s, b->base, e, l, b->n, on_committed, b);
    for (size_t k = 0; k < i; k++)
        cd_buf_cleanup(&j[k]);
    return rc;
}

/* Send the waiting pushes of s as one batch (nothing is in flight), or free the queue when
 * nothing is left to send. */
static void commit_next(struct cd_session *s)
{
    struct commit_queue *q = s->commits;
    while (q->head && !q->flight) {
        struct commit_batch *b = calloc(1, sizeof(*b));
        struct cd_update *u = calloc(CD_COMMIT_BATCH_MAX, sizeof(*u));
        if (!b || !u) {
            free(b);
            free(u);
            while (q->head) {
                struct push_op *op = q->head;
                q->head = op->next;
                push_refused(op, s, CD_ENOMEM, NULL);
            }
            q->tail = NULL;
            break;
        }
        b->srv = q->srv;
        memcpy(b->session, s->id, sizeof(b->session));
        b->u = u;
        b->base = cd_auth_version(s->auth);
        /* a push that refuses rebasing goes alone: nothing may come before it */
        while (q->head && b->n + q->head->n <= CD_COMMIT_BATCH_MAX && !b->reject &&
               !(q->head->reject && b->n)) {
            struct push_op *op = q->head;
            q->head = op->next;
            batch_add(b, op, s);
        }
        if (!q->head)
            q->tail = NULL;
        if (!b->n) {
            batch_free(b);
            continue;
        }
        int rc = batch_send(b, s);
        if (rc)
            batch_refused(b, s, rc, "the update could not be sent to the store");
        else
            q->flight = b;
    }
    if (!q->head && !q->flight) {
        free(q);
        s->commits = NULL;
    }
}

/* commit_next answers refusals and sends commands: it never kicks, so the list holds */
static void start_kicked(void *item)
{
    struct cd_session *s = item;
    ((struct commit_queue *)s->commits)->kicked = 0;
    commit_next(s);
}

/* s has pushes waiting and none in flight: send them at the end of this poll phase. */
static void commit_kick(struct cd_session *s)
{
    struct commit_queue *q = s->commits;
    if (q->kicked)
        return;
    if (!kicked || cd_defer_add(kicked, s)) { /* the loop is gone, or out of memory: now */
        commit_next(s);
        return;
    }
    q->kicked = 1;
}

/* Drop the waiting pushes of s and its queue (a batch in flight frees itself when answered). */
static void queue_drop(struct cd_session *s)
{
    struct commit_queue *q = s->commits;
    while (q && q->head) { /* their senders are told the session was deleted */
        struct push_op *op = q->head;
        q->head = op->next;
        push_op_free(op);
    }
    if (q && q->kicked)
        cd_defer_remove(kicked, s);
    free(q);
    s->commits = NULL;
}

void cd_collab_session_gone(struct cd_session *s)
{
    queue_drop(s);
}

static void commit_answered(struct commit_batch *b, struct cd_session *s, int rc, uint64_t version);

static void on_committed(void *arg, int rc, uint64_t version)
{
    struct commit_batch *b = arg;
    struct cd_session *s = b->srv->store->ops->get(b->srv->store, b->session, 36);
    struct commit_queue *q = s ? s->commits : NULL;
    if (!q || q->flight != b) {
        batch_free(b); /* the session was deleted meanwhile: its clients were told */
        return;
    }
    commit_answered(b, s, rc, version);
    q->flight = NULL;
    if (q->head)
        commit_kick(s);
    else
        queue_drop(s);
}

/* The store's answer to b's commit: b is answered and freed, or its pushes wait again. */
static void commit_answered(struct commit_batch *b, struct cd_session *s, int rc, uint64_t version)
{
    char err[192];
    struct cd_auth *a = s->auth;
    if (rc == CD_OK) {
        if (cd_auth_version(a) >= version && version > b->base) {
            batch_free(b); /* applied and broadcast already: the store heard its publication */
            return;
        }
        if (cd_auth_version(a) != b->base) { /* the store and the mirror disagree */
            cd_logf(CD_LOG_ERROR, NULL, "push: session %s stored at %llu, held at %llu", s->id,
                    (unsigned long long)b->base, (unsigned long long)cd_auth_version(a));
            batch_refused(b, s, CD_ESTALE, "the document moved; reload it");
            return;
        }
        struct cd_auth_result res;
        rc = cd_auth_push(a, b->base, b->u, b->n, 0, &res, err, sizeof(err));
        b->n = 0; /* taken */
        if (rc) {
            cd_logf(CD_LOG_ERROR, NULL, "push: stored update of %s not applied (%s)", s->id, err);
            batch_refused(b, s, rc, err);
            return;
        }
        broadcast_accepted(s->room, a, res.first, res.accepted);
        batch_free(b);
        return;
    }
    if (rc != CD_ECONFLICT) { /* CD_ENOTFOUND, CD_EUNAVAIL */
        batch_refused(b, s, rc, "");
        return;
    }
    /* The stored version moved to `version`; the store applied the updates the mirror missed
     * (sent back with the refusal) before answering. The mirror may be further on still:
     * publications of later commits can overtake this answer. The pushes wait again, first in
     * line, and the next batch is made from them over the history as it is now. */
    int lost = version > cd_auth_version(a);
    struct commit_queue *q = s->commits;
    struct push_op *back = NULL, *last = NULL;
    while (b->ops) {
        struct push_op *op = b->ops;
        b->ops = op->next;
        if (lost || ++op->tries > CD_COMMIT_TRIES) {
            push_refused(op, s, CD_ECONFLICT, "the document moved on; pull and push again");
            continue;
        }
        op->next = NULL;
        if (last)
            last->next = op;
        else
            back = op;
        last = op;
    }
    if (last) {
        last->next = q->head;
        if (!q->head)
            q->tail = last;
        q->head = back;
    }
    batch_free(b);
}

/* The push of c, parsed into u[0..n) (taken), through the store. */
static int push_durable(struct cd_conn *c, struct cd_auth *a, uint64_t base, struct cd_update *u,
                        size_t n, int reject, const cJSON *ref)
{
    char err[192];
    size_t m = n;
    struct push_op *op = NULL;
    int rc = cd_store_status(c->srv->store);
    if (rc) {
        cd_conn_send_error(c, "store_unavailable", STORE_DOWN, ref);
        goto fail;
    }
    rc = cd_auth_prepare(a, base, u, n, reject, &m, err, sizeof(err));
    if (rc) {
        cd_conn_send_error(c, push_error_code(rc), err, ref);
        goto fail;
    }
    if (!m)
        goto fail; /* every update was already accepted: nothing to do */
    struct cd_session *sess = c->room->session;
    op = calloc(1, sizeof(*op));
    if (!op || (ref && !(op->ref = cJSON_Duplicate(ref, 1))) ||
        (!sess->commits && !(sess->commits = calloc(1, sizeof(struct commit_queue))))) {
        rc = CD_ENOMEM;
        cd_conn_send_error(c, "internal", "out of memory", ref);
        goto fail;
    }
    op->conn_seq = c->seq;
    op->base = cd_auth_version(a);
    op->u = u;
    op->n = m;
    op->reject = reject;
    struct commit_queue *q = sess->commits;
    q->srv = c->srv;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    if (!q->flight)
        commit_kick(sess);
    return CD_OK;
fail:
    if (op) {
        cJSON_Delete(op->ref);
        free(op);
    }
    for (size_t i = 0; i < n; i++)
        cd_update_cleanup(&u[i]);
    free(u);
    return rc;
}

int cd_collab_init(struct cd_server *srv)
{
    kicked = cd_defer_new(srv->loop, start_kicked);
    return kicked ? CD_OK : CD_ENOMEM;
}

void cd_collab_cleanup(void)
{
    struct cd_session *s;
    while (kicked && (s = cd_defer_pop(kicked))) { /* their clients are gone */
        ((struct commit_queue *)s->commits)->kicked = 0;
        queue_drop(s);
    }
    cd_defer_free(kicked);
    kicked = NULL;
}
static void store_reset(void *arg, struct cd_session *s)
{
    (void)arg;
    struct cd_room *r = s->room;
    for (struct cd_conn *c = r ? r->head : NULL; c; c = c->next)
        cd_conn_close_after_flush(c, CD_CLOSE_GOING_AWAY, "re-synced from the store: reconnect");
}

static void store_applied(void *arg, struct cd_session *s, uint64_t first, size_t n)
{
    struct cd_server *srv = arg;
    broadcast_accepted(s->room, s->auth, first, n);
    srv->n.updates_relayed += n;
}

static void store_removed(void *arg, struct cd_session *s)
{
    struct cd_server *srv = arg;
    cd_room_session_deleted(s);
    cd_run_session_deleted(srv, s->id); /* its runs end, its Python context goes */
}

void cd_collab_store_hooks(struct cd_server *srv, struct cd_store_hooks *h)
{
    h->reset = store_reset;
    h->applied = store_applied;
    h->removed = store_removed;
    h->arg = srv;
}

int cd_collab_on_push(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    uint64_t t0 = cd_mono_us(); /* push-to-broadcast latency, for the stats */
    struct cd_auth *a = auth_of(c);
    char err[192];
    if (!a) {
        cd_conn_send_error(c, "session_not_found", "this session was deleted", ref);
        return CD_ENOTFOUND;
    }
    if (c->read_only) {
        cd_conn_send_error(c, "read_only", "this is a read-only (view) connection", ref);
        return CD_EPERM;
    }
    int64_t base = json_uint(cJSON_GetObjectItemCaseSensitive(msg, "version"));
    const cJSON *ups = cJSON_GetObjectItemCaseSensitive(msg, "updates");
    if (base < 0) {
        cd_conn_send_error(c, "bad_message", "push needs \"version\": a non-negative integer", ref);
        return CD_EINVAL;
    }
    int n = cJSON_IsArray(ups) ? cJSON_GetArraySize(ups) : -1;
    if (n < 1 || n > CD_PUSH_UPDATES_MAX) {
        cd_conn_send_error(c, "bad_message", "push needs \"updates\": an array of 1 to 100 updates",
                           ref);
        return CD_EINVAL;
    }
    struct cd_update *u = calloc((size_t)n, sizeof(*u));
    if (!u) {
        cd_conn_send_error(c, "internal", "out of memory", ref);
        return CD_ENOMEM;
    }
    int rc = CD_OK, i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ups)
    {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(it, "clientID");
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(it, "changes");
        size_t cl = cJSON_IsString(cid) ? strlen(cid->valuestring) : 0;
        if (!cl || cl > CD_CLIENT_ID_MAX || !cd_utf8_valid(cid->valuestring, cl)) {
            snprintf(err, sizeof(err), "update %d: clientID must be a string of 1-64 bytes", i);
            rc = CD_EINVAL;
            break;
        }
        char cserr[128];
        u[i].client_id = strdup(cid->valuestring);
        if (!u[i].client_id) {
            rc = CD_ENOMEM;
            break;
        }
        rc = cd_cs_from_json(ch, &u[i].changes, cserr, sizeof(cserr));
        if (rc) {
            snprintf(err, sizeof(err), "update %d: %s", i, ch ? cserr : "missing \"changes\"");
            i++;
            break;
        }
        i++;
    }
    if (rc) {
        for (int k = 0; k < i; k++)
            cd_update_cleanup(&u[k]);
        free(u);
        cd_conn_send_error(c, rc == CD_ENOMEM ? "internal" : "bad_changes",
                           rc == CD_ENOMEM ? "out of memory" : err, ref);
        return rc;
    }
    struct cd_auth_result res;
    int reject = !strcmp(c->srv->cfg.collab_mode, "reject");
    if (c->srv->store->ops->commit)
        return push_durable(c, a, (uint64_t)base, u, (size_t)n, reject, ref);
    rc = cd_auth_push(a, (uint64_t)base, u, (size_t)n, reject, &res, err, sizeof(err));
    free(u);
    if (rc) {
        cd_conn_send_error(c, push_error_code(rc), err, ref);
        if (rc == CD_ENOMEM)
            cd_logf(CD_LOG_ERROR, NULL, "push: out of memory in session %s", c->room->session->id);
        return rc;
    }
    struct cd_room *r = c->room;
    for (size_t k = 0; k < res.accepted; k++) {
        const struct cd_hist *h = cd_auth_entry(a, res.first + k);
        struct cd_msg *m = update_msg(res.first + k + 1, h);
        map_cursors(r, h);
        if (m)
            cd_room_broadcast(r, m, NULL);
        cd_msg_unref(m);
    }
    cd_stats_push_latency(c->srv->stats, cd_mono_us() - t0);
    return CD_OK;
}

int cd_collab_on_pull(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    struct cd_auth *a = auth_of(c);
    if (!a) {
        cd_conn_send_error(c, "session_not_found", "this session was deleted", ref);
        return CD_ENOTFOUND;
    }
    int64_t v = json_uint(cJSON_GetObjectItemCaseSensitive(msg, "version"));
    if (v < 0) {
        cd_conn_send_error(c, "bad_message", "pull needs \"version\": a non-negative integer", ref);
        return CD_EINVAL;
    }
    if ((uint64_t)v > cd_auth_version(a)) {
        cd_conn_send_error(c, "bad_version", "that version is ahead of the server", ref);
        return CD_ERANGE;
    }
    if ((uint64_t)v < cd_auth_oldest(a)) /* too old for the history: the whole document */
        return cd_collab_send_sync(c, c->room->session, -1);
    return send_updates(c, a, (uint64_t)v, ref);
}

static cJSON *ranges_json(const struct cd_conn *c)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < c->ncursor; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "anchor", (double)c->cursor[i].anchor);
        cJSON_AddNumberToObject(r, "head", (double)c->cursor[i].head);
        cJSON_AddItemToArray(a, r);
    }
    return a;
}

int cd_collab_on_cursor(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    struct cd_auth *a = auth_of(c);
    if (!a)
        return CD_ENOTFOUND;
    const cJSON *ranges = cJSON_GetObjectItemCaseSensitive(msg, "ranges");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(msg, "version");
    int64_t v = ver ? json_uint(ver) : (int64_t)cd_auth_version(a);
    int64_t main_i = cJSON_GetObjectItemCaseSensitive(msg, "main")
                         ? json_uint(cJSON_GetObjectItemCaseSensitive(msg, "main"))
                         : 0;
    int n = cJSON_IsArray(ranges) ? cJSON_GetArraySize(ranges) : -1;
    if (n < 1 || n > CD_CURSOR_RANGES_MAX || v < 0 || main_i < 0 || main_i >= n) {
        cd_conn_send_error(c, "bad_message",
                           "cursor needs \"ranges\": 1 to 32 {anchor, head}, and a valid main",
                           ref);
        return CD_EINVAL;
    }
    struct cd_range tmp[CD_CURSOR_RANGES_MAX];
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ranges)
    {
        int64_t an = json_uint(cJSON_GetObjectItemCaseSensitive(it, "anchor"));
        int64_t hd = json_uint(cJSON_GetObjectItemCaseSensitive(it, "head"));
        int rc = an < 0 || hd < 0 ? CD_EINVAL : CD_OK;
        if (!rc)
            rc = cd_auth_map_pos(a, (uint64_t)v, (size_t)an, -1, &tmp[i].anchor);
        if (!rc)
            rc = cd_auth_map_pos(a, (uint64_t)v, (size_t)hd, -1, &tmp[i].head);
        if (rc) {
            cd_conn_send_error(c, rc == CD_ESTALE ? "resync" : "bad_cursor",
                               rc == CD_ESTALE ? "cursor version is older than the history"
                                               : "cursor position outside the document",
                               ref);
            return rc;
        }
        i++;
    }
    memcpy(c->cursor, tmp, sizeof(tmp[0]) * (size_t)n);
    c->ncursor = (size_t)n;
    c->cursor_main = (size_t)main_i;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "cursor");
    cJSON_AddStringToObject(o, "connId", c->conn_id);
    cJSON_AddStringToObject(o, "userId", c->user_id);
    cJSON_AddStringToObject(o, "userName", c->user_name);
    cJSON_AddStringToObject(o, "color", c->color);
    cJSON_AddNumberToObject(o, "version", (double)cd_auth_version(a));
    cJSON_AddItemToObject(o, "ranges", ranges_json(c));
    cJSON_AddNumberToObject(o, "main", (double)c->cursor_main);
    struct cd_msg *m = cd_msg_from_json(o);
    cJSON_Delete(o);
    if (m) {
        m->presence_of = c->seq;
        cd_room_broadcast(c->room, m, c);
    }
    cd_msg_unref(m);
    return CD_OK;
}
