/*
 * sandbox.h: what a Python worker does to itself between fork() and the first line of user
 * code. Runs in the worker process (collabd-py), never in collabd. Order matters and is
 * fixed inside cd_sandbox_apply(): namespaces (while still privileged), working directory,
 * rlimits, file-system rules (Landlock), privilege drop, no_new_privs, seccomp last (it
 * forbids the calls the earlier steps make).
 */
#ifndef CD_PYEXEC_SANDBOX_H
#define CD_PYEXEC_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

struct cd_sandbox_cfg {
    const char *workdir; /* the run's own directory; the only writable place */
    long mem_bytes;      /* RLIMIT_AS */
    long cpu_seconds;    /* RLIMIT_CPU: lifetime CPU of the worker (a safety net) */
    long fsize_bytes;    /* RLIMIT_FSIZE */
    long nofile;         /* RLIMIT_NOFILE */
    long nproc;          /* RLIMIT_NPROC (threads count too) */
    uid_t uid;           /* drop to this uid/gid when started as root */
    gid_t gid;
};

/* What was actually applied; reported to collabd in the worker's hello. */
struct cd_sandbox_report {
    int netns;    /* own empty network namespace */
    int landlock; /* Landlock ABI version in force, 0 if unavailable */
    int seccomp;  /* filter loaded */
    int uid_drop; /* ran as root and dropped to cfg.uid */
    int userns;   /* own user namespace (unprivileged start) */
};

/* Apply every layer; returns 0 or a negative errno-style code naming the failed step in
 * *step. Layers the kernel does not offer (namespaces, Landlock) are skipped and reported as
 * 0 in *rep; rlimits, the uid drop and seccomp are mandatory. */
int cd_sandbox_apply(const struct cd_sandbox_cfg *cfg, struct cd_sandbox_report *rep,
                     const char **step);

#endif
