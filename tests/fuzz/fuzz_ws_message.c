/*
 * fuzz_ws_message.c: libFuzzer target for the WebSocket message handler: the bytes a client
 * can send, after lws has reassembled and UTF-8-validated them, go through
 * cd_ws_handle_message() (pre-pass, cJSON, routing, push/pull/cursor, the authority) for two
 * participants of one room. The input is split into messages at 0xFF bytes (which valid
 * UTF-8 never contains). lws itself is not exercised: the two lws calls the handlers make on
 * the way (request a writable callback, kill a slow client) are wrapped out at link time
 * (-Wl,--wrap). Seeds: the client message examples in protocol/examples/client/.
 * Checks: no crash, leak or UB (ASan/UBSan); the document length always matches the history.
 */
#include "collab/authority.h"
#include "core/server.h"
#include "store/store.h"
#include "util/text.h"
#include "ws/handlers.h"
#include "ws/room.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int __wrap_lws_callback_on_writable(struct lws *wsi);
void __wrap_lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int __wrap_lws_callback_on_writable(struct lws *wsi)
{
    (void)wsi;
    return 1;
}

void __wrap_lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs)
{
    (void)wsi;
    (void)reason;
    (void)secs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cd_server srv;
    static struct cd_rooms rooms;
    struct cd_auth_limits lim = {4096, 8, 1 << 16};
    cd_config_defaults(&srv.cfg);
    srv.cfg.rate_limit = 1000000;
    srv.cfg.rate_burst = 1000000;
    srv.cfg.send_queue_max = 1 << 20;
    srv.rooms = &rooms;
    srv.store = cd_store_memory_new(4, &lim);
    struct cd_session *s = NULL;
    if (!srv.store || srv.store->ops->create(srv.store, "python", &s))
        abort();
    struct cd_conn conns[2];
    memset(conns, 0, sizeof(conns));
    for (int i = 0; i < 2; i++) {
        conns[i].srv = &srv;
        conns[i].wsi = (struct lws *)(uintptr_t)(0x1000 + i); /* never dereferenced */
        conns[i].read_only = i == 1 && size && (data[0] & 1);
        cd_buf_init(&conns[i].rx, (size_t)srv.cfg.max_message);
        if (cd_room_join(&srv, s, &conns[i]))
            abort();
        conns[i].joined = 1;
    }
    size_t start = 0, who = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != 0xFF)
            continue;
        size_t n = i - start;
        if (cd_utf8_valid((const char *)data + start, n)) {
            char *msg = malloc(n + 1);
            memcpy(msg, data + start, n);
            msg[n] = '\0';
            cd_ws_handle_message(&conns[who++ % 2], msg, n);
            free(msg);
        }
        start = i + 1;
    }
    /* the document is exactly what the retained history says it is */
    const struct cd_auth *a = s->auth;
    if (cd_auth_version(a) - cd_auth_oldest(a) != cd_auth_history_len(a))
        abort();
    uint64_t v = cd_auth_version(a);
    if (v > cd_auth_oldest(a) &&
        cd_cs_new_len(cd_auth_entry(a, v - 1)->changes) != cd_doc_len(cd_auth_doc(a)))
        abort();
    for (int i = 0; i < 2; i++)
        cd_room_leave(&conns[i]);
    cd_store_free(srv.store);
    return 0;
}
