/*
 * frame.c: encoding and decoding of worker frames (see frame.h). No state, no I/O.
 */
#include "frame.h"
#include "util/error.h"

#include <stdint.h>

int cd_pyframe_next(const char *buf, size_t len, size_t max, struct cd_pyframe *f)
{
    if (len < CD_PYFRAME_HDR)
        return 0;
    const unsigned char *u = (const unsigned char *)buf;
    uint32_t n = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    if (n > max)
        return CD_ETOOBIG;
    if (len - CD_PYFRAME_HDR < n)
        return 0;
    f->type = (char)u[4];
    f->payload = buf + CD_PYFRAME_HDR;
    f->len = n;
    f->consumed = CD_PYFRAME_HDR + (size_t)n;
    return 1;
}

int cd_pyframe_put(struct cd_buf *b, char type, const char *payload, size_t len)
{
    if (len > UINT32_MAX)
        return CD_ETOOBIG;
    unsigned char h[CD_PYFRAME_HDR] = {(unsigned char)len, (unsigned char)(len >> 8),
                                       (unsigned char)(len >> 16), (unsigned char)(len >> 24),
                                       (unsigned char)type};
    size_t before = b->len;
    int rc = cd_buf_append(b, h, sizeof(h));
    if (!rc && len)
        rc = cd_buf_append(b, payload, len);
    if (rc && b->data) { /* all or nothing */
        b->len = before;
        b->data[before] = '\0';
    }
    return rc;
}
