/*
 * room.c: room membership, presence lists and the bounded per-connection send queues.
 * Invariants: a connection is in at most one room and, when joined, in srv->rooms->all;
 * qbytes is the sum of the lengths of the queued messages; those behind the first never add
 * up to more than cfg.send_queue_max; every queued message holds one reference.
 * Writing the queues is writer.c's job.
 */
#include "room.h"
#include "collab.h"
#include "writer.h"
#include "core/log.h"
#include "util/error.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *palette[] = {"#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4",
                                "#f032e6", "#9a6324", "#469990", "#800000", "#808000", "#000075"};

int cd_room_join(struct cd_server *srv, struct cd_session *s, struct cd_conn *c)
{
    struct cd_room *r = s->room;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return CD_ENOMEM;
        r->session = s;
        s->room = r;
    }
    if (r->nconns >= (size_t)srv->cfg.max_clients_per_room) {
        if (!r->nconns) {
            s->room = NULL;
            free(r);
        }
        return CD_ELIMIT;
    }
    snprintf(c->color, sizeof(c->color), "%s",
             palette[r->next_color++ % (sizeof(palette) / sizeof(palette[0]))]);
    c->room = r;
    c->next = r->head;
    if (r->head)
        r->head->prev = c;
    r->head = c;
    r->nconns++;
    struct cd_rooms *all = srv->rooms;
    c->all_next = all->all;
    if (all->all)
        all->all->all_prev = c;
    all->all = c;
    all->n++;
    return CD_OK;
}

static void drop_queue(struct cd_conn *c)
{
    while (c->qlen) {
        cd_msg_unref(c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qalloc;
        c->qlen--;
    }
    free(c->q);
    c->q = NULL;
    c->qalloc = c->qhead = c->qbytes = 0;
}

void cd_room_leave(struct cd_conn *c)
{
    struct cd_room *r = c->room;
    if (r) {
        if (c->prev)
            c->prev->next = c->next;
        else
            r->head = c->next;
        if (c->next)
            c->next->prev = c->prev;
        r->nconns--;
        struct cd_rooms *all = c->srv->rooms;
        if (c->all_prev)
            c->all_prev->all_next = c->all_next;
        else
            all->all = c->all_next;
        if (c->all_next)
            c->all_next->all_prev = c->all_prev;
        all->n--;
        if (!r->nconns) {
            if (r->session)
                r->session->room = NULL;
            free(r);
        }
        c->room = NULL;
        c->prev = c->next = c->all_prev = c->all_next = NULL;
    }
    drop_queue(c);
    cd_buf_cleanup(&c->rx);
}

static void drop_slow(struct cd_conn *c)
{
    if (c->close_code == CD_CLOSE_SLOW_CONSUMER)
        return;
    c->close_code = CD_CLOSE_SLOW_CONSUMER;
    snprintf(c->close_reason, sizeof(c->close_reason), "send queue full");
    c->srv->n.ws_slow_dropped++;
    cd_logf(CD_LOG_WARN, NULL, "dropping slow client %s (%s): %zu bytes queued", c->conn_id, c->ip,
            c->qbytes);
    /* The client is not reading, so a close frame would sit behind the queue: kill it from
     * outside this callback, and free the queue now so its memory is returned at once. */
    drop_queue(c);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Drop the queued cursor of participant seq from c's queue, if one of the last
 * PRESENCE_SCAN messages is one. */
#define PRESENCE_SCAN 64
static void drop_queued_presence(struct cd_conn *c, uint64_t seq)
{
    size_t from = c->qlen > PRESENCE_SCAN ? c->qlen - PRESENCE_SCAN : 0;
    for (size_t i = c->qlen; i-- > from;) {
        struct cd_msg *old = c->q[(c->qhead + i) % c->qalloc];
        if (old->presence_of != seq)
            continue;
        for (size_t k = i; k + 1 < c->qlen; k++)
            c->q[(c->qhead + k) % c->qalloc] = c->q[(c->qhead + k + 1) % c->qalloc];
        c->qlen--;
        c->qbytes -= old->len;
        c->srv->n.ws_presence_coalesced++;
        cd_msg_unref(old);
        return; /* there is at most one: every cursor queued replaced the one before */
    }
}

void cd_conn_pop_written(struct cd_conn *c)
{
    struct cd_msg *m = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % c->qalloc;
    c->qlen--;
    c->qbytes -= m->len;
    c->srv->n.ws_msgs_out++;
    cd_msg_unref(m);
}

void cd_conn_peer_closed(struct cd_conn *c)
{
    c->peer_closed = 1;
    drop_queue(c);
    cd_writer_kick(c);
}

int cd_conn_send(struct cd_conn *c, struct cd_msg *m)
{
    if (c->close_code == CD_CLOSE_SLOW_CONSUMER || c->peer_closed)
        return CD_ELIMIT;
    if (m->presence_of && c->qlen)
        drop_queued_presence(c, m->presence_of);
    /* The backlog behind the message at the head is capped: a message larger than the whole
     * cap (a sync of a big document) still goes, alone or at the head of the queue. */
    if (c->qlen && c->qbytes - c->q[c->qhead]->len + m->len > (size_t)c->srv->cfg.send_queue_max) {
        drop_slow(c);
        return CD_ELIMIT;
    }
    if (c->qlen == c->qalloc) {
        size_t a = c->qalloc ? c->qalloc * 2 : 8;
        struct cd_msg **q = malloc(a * sizeof(*q));
        if (!q)
            return CD_ENOMEM;
        for (size_t i = 0; i < c->qlen; i++)
            q[i] = c->q[(c->qhead + i) % c->qalloc];
        free(c->q);
        c->q = q;
        c->qhead = 0;
        c->qalloc = a;
    }
    c->q[(c->qhead + c->qlen) % c->qalloc] = cd_msg_ref(m);
    c->qlen++;
    c->qbytes += m->len;
    cd_writer_kick(c);
    return CD_OK;
}

int cd_conn_send_json(struct cd_conn *c, const cJSON *o)
{
    struct cd_msg *m = cd_msg_from_json(o);
    if (!m)
        return CD_ENOMEM;
    int rc = cd_conn_send(c, m);
    cd_msg_unref(m);
    return rc;
}

void cd_conn_send_error(struct cd_conn *c, const char *code, const char *message, const cJSON *ref)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", message);
    if (ref)
        cJSON_AddItemToObject(o, "ref", cJSON_Duplicate(ref, 1));
    cd_conn_send_json(c, o);
    cJSON_Delete(o);
}

void cd_room_broadcast(struct cd_room *r, struct cd_msg *m, const struct cd_conn *skip)
{
    struct cd_conn *c = r->head;
    while (c) {
        struct cd_conn *next = c->next; /* drop_slow never unlinks synchronously, but be safe */
        if (c != skip && c->joined)
            cd_conn_send(c, m);
        c = next;
    }
}

void cd_conn_close_after_flush(struct cd_conn *c, int code, const char *reason)
{
    if (c->close_code)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    cd_writer_kick(c);
}

cJSON *cd_conn_user_json(const struct cd_conn *c)
{
    cJSON *u = cJSON_CreateObject();
    if (!u)
        return NULL;
    cJSON_AddStringToObject(u, "connId", c->conn_id);
    cJSON_AddStringToObject(u, "userId", c->user_id);
    cJSON_AddStringToObject(u, "userName", c->user_name);
    cJSON_AddStringToObject(u, "color", c->color);
    cJSON_AddBoolToObject(u, "readOnly", c->read_only);
    if (c->ncursor) {
        cJSON *cur = cJSON_AddObjectToObject(u, "cursor");
        cJSON *a = cJSON_AddArrayToObject(cur, "ranges");
        for (size_t i = 0; i < c->ncursor; i++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "anchor", (double)c->cursor[i].anchor);
            cJSON_AddNumberToObject(r, "head", (double)c->cursor[i].head);
            cJSON_AddItemToArray(a, r);
        }
        cJSON_AddNumberToObject(cur, "main", (double)c->cursor_main);
    }
    return u;
}

cJSON *cd_room_users_json(const struct cd_room *r)
{
    cJSON *a = cJSON_CreateArray();
    if (!a || !r)
        return a;
    for (const struct cd_conn *c = r->head; c; c = c->next)
        if (c->joined)
            cJSON_AddItemToArray(a, cd_conn_user_json(c));
    return a;
}

void cd_room_session_deleted(struct cd_session *s)
{
    struct cd_room *r = s->room;
    cd_collab_session_gone(s);
    if (!r)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "session_deleted");
    cJSON_AddStringToObject(o, "sessionId", s->id);
    struct cd_msg *m = cd_msg_from_json(o);
    cJSON_Delete(o);
    for (struct cd_conn *c = r->head; c; c = c->next) {
        if (m)
            cd_conn_send(c, m);
        cd_conn_close_after_flush(c, CD_CLOSE_SESSION_DELETED, "session deleted");
    }
    cd_msg_unref(m);
    /* The record is about to be freed: the room lives on until its last client closes. */
    r->session = NULL;
    s->room = NULL;
}
