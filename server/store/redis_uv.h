/*
 * redis_uv.h: hiredis's asynchronous connections on collabd's libuv loop, with writes batched
 * once per loop iteration (see redis_uv.c). Event-loop thread only.
 */
#ifndef CD_STORE_REDIS_UV_H
#define CD_STORE_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attach ac to loop (instead of hiredis's adapters/libuv.h); REDIS_OK or REDIS_ERR. */
int cd_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
