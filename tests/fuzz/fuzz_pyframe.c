/*
 * fuzz_pyframe.c: libFuzzer target for the frames a Python worker sends collabd
 * (pyexec/frame.c). The worker runs user code, so its bytes are as untrusted as network
 * input. The input is split into frames as collabd's read loop does, with a cap from the
 * first byte; every decoded frame must lie inside the input, be re-encodable to the very same
 * bytes, and its payload is parsed as JSON the way pool.c does. Depends on pyexec/frame and
 * util/ only.
 */
#include "pyexec/frame.h"
#include "util/buf.h"
#include "util/error.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    size_t max = (size_t)data[0] * 4; /* the cap, as py_output_max + slack would be */
    const char *p = (const char *)data + 1;
    size_t len = size - 1, off = 0;
    while (off < len) {
        struct cd_pyframe f;
        int rc = cd_pyframe_next(p + off, len - off, max, &f);
        if (rc == 0 || rc == CD_ETOOBIG)
            break;
        FUZZ_CHECK(rc == 1);
        FUZZ_CHECK(f.consumed == CD_PYFRAME_HDR + f.len && f.consumed <= len - off);
        FUZZ_CHECK(f.payload == p + off + CD_PYFRAME_HDR && f.len <= max);
        struct cd_buf b;
        cd_buf_init(&b, f.consumed);
        FUZZ_CHECK(cd_pyframe_put(&b, f.type, f.payload, f.len) == CD_OK);
        FUZZ_CHECK(b.len == f.consumed && !memcmp(b.data, p + off, f.consumed));
        cd_buf_cleanup(&b);
        cJSON_Delete(cJSON_ParseWithLength(f.payload, f.len));
        off += f.consumed;
    }
    return 0;
}
