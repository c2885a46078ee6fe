/*
 * msg.c: shared outgoing messages (see msg.h). Invariant: refs > 0 while reachable;
 * the payload is NUL-terminated for debugging convenience (not counted in len).
 */
#include "msg.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

struct cd_msg *cd_msg_new(const char *data, size_t len)
{
    struct cd_msg *m = malloc(sizeof(*m) + LWS_PRE + len + 1);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = len;
    memcpy(m->buf + LWS_PRE, data, len);
    m->buf[LWS_PRE + len] = '\0';
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
