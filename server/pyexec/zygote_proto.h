/*
 * zygote_proto.h: the messages between collabd (pool.c) and its zygote process (zygote.c)
 * on their SOCK_SEQPACKET control socket. Both ends are collabd's own code from the same
 * build, so a message is this fixed struct; the three sockets of a new worker travel with
 * SPAWN as SCM_RIGHTS. Workers never see this socket.
 */
#ifndef CD_PYEXEC_ZYGOTE_PROTO_H
#define CD_PYEXEC_ZYGOTE_PROTO_H

#include <stdint.h>

enum cd_zop {
    CD_Z_READY = 1, /* zygote -> collabd: Python is up; a = zygote pid, text = version */
    CD_Z_SPAWN,     /* collabd -> zygote: fork worker `id` in directory `text` (+3 fds) */
    CD_Z_SIGNAL,  /* collabd -> zygote: send signal `a` to worker `id` if it lives; a SIGINT carries
                     run `b` and interrupts only that run */
    CD_Z_SPAWNED, /* zygote -> collabd: worker `id` is pid `a` */
    CD_Z_SPAWN_FAILED /* zygote -> collabd: fork of `id` failed with errno `a` */,
    CD_Z_EXITED, /* zygote -> collabd: worker `id` was reaped; a = wait status */
};

struct cd_zmsg {
    uint32_t op;
    uint32_t id;
    int32_t a;
    int32_t b;
    char text[480];
};

/* Exit code of a worker whose sandbox could not be applied (it never ran user code). */
#define CD_Z_SANDBOX_FAILED 121

#endif
