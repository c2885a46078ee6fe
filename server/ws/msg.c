/*
 * msg.c: shared outgoing messages (see msg.h). Invariant: refs > 0 while reachable;
 * the payload is NUL-terminated for debugging convenience (not counted in len).
 */
#include "msg.h"
#include "util/buf.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct cd_msg *cd_msg_new(const char *data, size_t len)
{
    struct cd_msg *m = malloc(sizeof(*m) + LWS_PRE + len + 1);
    if (!m)
        return NULL;
    m->refs = 1;
    m->presence_of = 0;
    m->len = len;
    memcpy(m->buf + LWS_PRE, data, len);
    m->buf[LWS_PRE + len] = '\0';
    return m;
}

#define HEADROOM (offsetof(struct cd_msg, buf) + LWS_PRE)

int cd_msg_buf_init(struct cd_buf *b, size_t cap, size_t expect)
{
    static const unsigned char zero[HEADROOM];
    cd_buf_init(b, HEADROOM + cap);
    int rc = cd_buf_reserve(b, HEADROOM + (expect < cap ? expect : cap));
    return rc ? rc : cd_buf_append(b, zero, HEADROOM);
}

struct cd_msg *cd_msg_take_buf(struct cd_buf *b)
{
    size_t len = 0;
    if (b->len < HEADROOM) {
        cd_buf_cleanup(b);
        return NULL;
    }
    /* malloc'd storage is aligned for any type, and the buffer keeps its NUL terminator */
    struct cd_msg *m = (struct cd_msg *)cd_buf_take(b, &len);
    m->refs = 1;
    m->presence_of = 0;
    m->len = len - HEADROOM;
    return m;
}

struct cd_msg *cd_msg_from_json(const cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (!s)
        return NULL;
    struct cd_msg *m = cd_msg_new(s, strlen(s));
    free(s);
    return m;
}

unsigned char *cd_msg_payload(struct cd_msg *m)
{
    return m->buf + LWS_PRE;
}

struct cd_msg *cd_msg_ref(struct cd_msg *m)
{
    m->refs++;
    return m;
}

void cd_msg_unref(struct cd_msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}
