/*
 * writer.c: see writer.h. Owns the list (defer.h: flushed at the end of the poll phase) of
 * connections with output to flush (c->write_noted marks membership, so each is in it at most once)
 * and one batch buffer shared by every connection: frames are copied into it and handed to
 * lws_write() as raw bytes, and lws keeps only what the socket refused (at most one batch).
 * Invariants: collabd's own frames are complete, unmasked, final text frames, so they interleave
 * with lws's control frames only at frame boundaries; nothing is written while lws still holds
 * unsent bytes of the connection; large messages and close frames are written only inside the
 * writable callback, and, with --ws-deflate, after a large message nothing at all until the next
 * one: lws's permessage-deflate compresses a message bigger than its buffer over several writable
 * events, reading from the caller's payload each time (so that message is held, c->tx_held, until
 * then), and turns any lws_write() made meanwhile into a continuation of it. Uncompressed frames on
 * a connection that negotiated permessage-deflate are legal (RFC 7692: RSV1 marks the compressed
 * ones).
 */
#include "writer.h"
#include "defer.h"
#include "core/log.h"
#include "util/error.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(CD_WRITER_FRAME_MAX < 65536, "frames use at most a 16-bit length");

#define ROUNDS_PER_FLUSH 16 /* batches written before other connections get their turn */

static struct cd_defer *pend; /* the connections with output to flush */
static unsigned char *batch;  /* LWS_PRE + CD_WRITER_BATCH */

/* Header of an unmasked, final text frame of len bytes; returns its size (2 or 4). */
static size_t frame_header(unsigned char *h, size_t len)
{
    h[0] = 0x81;
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    h[1] = 126;
    h[2] = (unsigned char)(len >> 8);
    h[3] = (unsigned char)(len & 0xff);
    return 4;
}

/* lws is done with the message last written through lws_write(): lws calls the writable
 * callback only once its extension has drained (rops_handle_POLLOUT_ws, 4.1.6), and a closing
 * connection compresses nothing more. */
static void release_held(struct cd_conn *c)
{
    cd_msg_unref(c->tx_held);
    c->tx_held = NULL;
}

/* Write from c's queue while the socket takes it (at most ROUNDS_PER_FLUSH sends).
 * in_cb: inside c's writable callback. Returns 0, or -1 if the connection failed. */
static int drain(struct cd_conn *c, int in_cb)
{
    struct lws *wsi = c->wsi;
    if (c->tx_held && !in_cb)
        return 0; /* permessage-deflate may still be compressing it */
    release_held(c);
    if (!in_cb && lws_partial_buffered(wsi))
        return 0;
    for (int round = 0; round < ROUNDS_PER_FLUSH && c->qlen; round++) {
        struct cd_msg *m = c->q[c->qhead];
        if (m->len > CD_WRITER_FRAME_MAX) {
            if (!in_cb)
                return 0;
            if (lws_write(wsi, cd_msg_payload(m), m->len, LWS_WRITE_TEXT) < (int)m->len)
                return -1;
            if (c->srv->cfg.ws_deflate) { /* it may be compressing it still */
                c->tx_held = cd_msg_ref(m);
                cd_conn_pop_written(c);
                return 0; /* the rest after the next writable callback */
            }
            cd_conn_pop_written(c); /* lws keeps what the socket did not take */
            if (lws_send_pipe_choked(wsi))
                return 0;
            continue;
        }
        unsigned char *p = batch + LWS_PRE;
        size_t off = 0;
        while (c->qlen && (m = c->q[c->qhead])->len <= CD_WRITER_FRAME_MAX &&
               off + 4 + m->len <= CD_WRITER_BATCH) {
            off += frame_header(p + off, m->len);
            memcpy(p + off, cd_msg_payload(m), m->len);
            off += m->len;
            cd_conn_pop_written(c);
        }
        /* LWS_WRITE_HTTP on a WebSocket connection: the bytes go out as they are */
        if (lws_write(wsi, p, off, LWS_WRITE_HTTP) < (int)off)
            return -1;
        if (lws_partial_buffered(wsi))
            return 0; /* lws holds the rest and asks for POLLOUT itself */
    }
    return 0;
}

static void flush_one(struct cd_conn *c)
{
    if (!c->srv || c->write_failed || c->close_code == CD_CLOSE_SLOW_CONSUMER)
        return;
    if (c->peer_closed) { /* lws writes the close answer when POLLOUT comes */
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (c->qlen && drain(c, 0) < 0) {
        /* the socket failed outside any lws callback: have lws close it from its own loop */
        c->write_failed = 1;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    if (c->qlen || c->close_code || c->tx_held) /* held: free it at the next callback */
        lws_callback_on_writable(c->wsi);
}

/* flushing never queues output, so the list cannot grow while it is walked */
static void flush_listed(void *item)
{
    struct cd_conn *c = item;
    c->write_noted = 0;
    flush_one(c);
}

int cd_writer_init(struct cd_server *srv)
{
    pend = cd_defer_new(srv->loop, flush_listed);
    batch = malloc(LWS_PRE + CD_WRITER_BATCH);
    if (!pend || !batch) {
        cd_defer_free(pend);
        free(batch);
        pend = NULL;
        batch = NULL;
        return CD_ENOMEM;
    }
    return CD_OK;
}

void cd_writer_cleanup(void)
{
    cd_defer_free(pend);
    pend = NULL;
    free(batch);
    batch = NULL;
}

void cd_writer_kick(struct cd_conn *c)
{
    if (c->write_noted || !pend)
        return; /* already listed, or the server is past its loop */
    if (cd_defer_add(pend, c)) {
        lws_callback_on_writable(c->wsi); /* slower, but the output still goes */
        return;
    }
    c->write_noted = 1;
}

void cd_writer_forget(struct cd_conn *c)
{
    release_held(c);
    if (!c->write_noted)
        return;
    c->write_noted = 0;
    if (pend) /* the others keep their order: connections are flushed in the order they asked */
        cd_defer_remove(pend, c);
}

/* How long a connection whose close frame went out may wait for the client to hang up. */
#define CLOSE_LINGER_S 3

/* The close frame, once the queue is empty. lws 4.1.6 on libuv drops the close frame that
 * lws_close_reason() + return -1 should send from a writable callback (the peer sees 1006),
 * so it is written here. At the next writable callback (lws has sent it all) the write side
 * is shut (FIN) and the connection lingers, reading and dropping what the client still sends,
 * until the client hangs up or CLOSE_LINGER_S pass: closing at once while the client's
 * messages sit unread makes the kernel answer with a reset, which can destroy the close frame
 * before the client reads it (a flooding client saw 1006 instead of 4003). */
static int write_close(struct cd_conn *c)
{
    if (c->close_sent) {
        if (!c->close_linger) {
            c->close_linger = 1;
            shutdown(lws_get_socket_fd(c->wsi), SHUT_WR);
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_LINGER_S);
        }
        return 0;
    }
    unsigned char frame[LWS_PRE + 125];
    unsigned char *p = frame + LWS_PRE;
    size_t rl = strlen(c->close_reason);
    if (rl > 123)
        rl = 123;
    p[0] = (unsigned char)(c->close_code >> 8);
    p[1] = (unsigned char)(c->close_code & 0xff);
    memcpy(p + 2, c->close_reason, rl);
    /* LWS_WRITE_CLOSE (4) is private in the 4.1 headers: between HTTP (3) and PING (5) */
    if (lws_write(c->wsi, p, 2 + rl, (enum lws_write_protocol)(LWS_WRITE_PING - 1)) < 0)
        return -1;
    c->close_sent = 1;
    cd_writer_kick(c);
    return 0;
}

int cd_writer_on_writable(struct cd_conn *c)
{
    if (c->write_failed || c->close_code == CD_CLOSE_SLOW_CONSUMER)
        return -1;
    release_held(c);
    if (c->peer_closed)
        return 0;
    if (c->close_code && !c->qlen)
        return write_close(c);
    if (drain(c, 1) < 0)
        return -1;
    /* asked from inside this callback, lws 4.1.6 on libuv answers a writable request only
     * seconds later: continue from the check handle instead */
    if (c->qlen || c->close_code || c->tx_held)
        cd_writer_kick(c);
    return 0;
}
