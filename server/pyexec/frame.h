/*
 * frame.h: the framing of collabd <-> Python worker messages on a worker's control socket:
 * 4-byte little-endian payload length, 1 type byte, payload (UTF-8 JSON). The worker side
 * is bootstrap.py. Frames from a worker are untrusted input (user code can write to the
 * socket): cd_pyframe_next() checks lengths against a cap and never reads past len.
 * Pure functions; thread-safe.
 */
#ifndef CD_PYEXEC_FRAME_H
#define CD_PYEXEC_FRAME_H

#include "util/buf.h"

#include <stddef.h>

#define CD_PYFRAME_HDR 5

struct cd_pyframe {
    char type;
    const char *payload; /* borrowed from the input buffer */
    size_t len;
    size_t consumed; /* header + payload bytes */
};

/* Decode the frame at the start of buf[0..len). Returns 1 and fills *f when a whole frame is
 * there, 0 when more bytes are needed, CD_ETOOBIG when the announced payload is over max. */
int cd_pyframe_next(const char *buf, size_t len, size_t max, struct cd_pyframe *f);
/* Append a frame of the given type and payload to b (CD_ETOOBIG / CD_ENOMEM as cd_buf). */
int cd_pyframe_put(struct cd_buf *b, char type, const char *payload, size_t len);

#endif
