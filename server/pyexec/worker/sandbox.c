/*
 * sandbox.c: the layers a Python worker puts around itself before user code runs.
 * Runs in the worker process only (collabd-py, after the zygote forked it), single-threaded.
 * Invariants: seccomp is loaded last and cannot be removed; once cd_sandbox_apply() returns
 * 0 the process cannot open a socket, exec, fork, ptrace, signal anything but itself, write
 * outside cfg.workdir (Landlock), nor raise its rlimits above what is set here.
 * Layers the kernel may not offer (network namespace, Landlock) degrade to "not applied"
 * and are reported; the others are mandatory and a failure aborts the worker.
 * Depends on libc, the kernel headers and libseccomp only.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Landlock constants newer than Debian 12's kernel headers (the running kernel decides). */
#define LL_FS_EXECUTE          (1ULL << 0)
#define LL_FS_WRITE_FILE       (1ULL << 1)
#define LL_FS_READ_FILE        (1ULL << 2)
#define LL_FS_READ_DIR         (1ULL << 3)
#define LL_FS_REFER            (1ULL << 13)
#define LL_FS_TRUNCATE         (1ULL << 14)
#define LL_FS_IOCTL_DEV        (1ULL << 15)
#define LL_NET_BIND_TCP        (1ULL << 0)
#define LL_NET_CONNECT_TCP     (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define LL_SCOPE_SIGNAL        (1ULL << 1)

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI >= 4 */
    uint64_t scoped;             /* ABI >= 6 */
};

static int set_limit(int res, long v)
{
    struct rlimit rl = {(rlim_t)v, (rlim_t)v};
    return setrlimit(res, &rl);
}

static int rlimits(const struct cd_sandbox_cfg *c)
{
    if (set_limit(RLIMIT_CORE, 0) || set_limit(RLIMIT_NOFILE, c->nofile) ||
        set_limit(RLIMIT_FSIZE, c->fsize_bytes) || set_limit(RLIMIT_CPU, c->cpu_seconds) ||
        set_limit(RLIMIT_NPROC, c->nproc) || set_limit(RLIMIT_MEMLOCK, 0) ||
        set_limit(RLIMIT_MSGQUEUE, 0))
        return -errno;
    if (c->mem_bytes > 0 && set_limit(RLIMIT_AS, c->mem_bytes))
        return -errno;
    signal(SIGXFSZ, SIG_IGN); /* an over-long file write returns EFBIG instead of killing */
    return 0;
}

static int ll_add(int ruleset, const char *path, uint64_t access)
{
    struct landlock_path_beneath_attr pb = {.allowed_access = access};
    pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
    if (pb.parent_fd < 0)
        return errno == ENOENT ? 0 : -errno; /* a path this system lacks grants nothing */
    int rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    int e = errno;
    close(pb.parent_fd);
    return rc ? -e : 0;
}

/* Read-only system files, the run's directory read-write; no TCP; no signals or abstract
 * sockets outside the sandbox. Returns the ABI applied (0: Landlock unavailable). */
static int landlock(const char *workdir)
{
    int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1)
        return 0;
    uint64_t fs_all = (1ULL << 13) - 1; /* ABI 1: execute .. make_sym */
    if (abi >= 2)
        fs_all |= LL_FS_REFER;
    if (abi >= 3)
        fs_all |= LL_FS_TRUNCATE;
    if (abi >= 5)
        fs_all |= LL_FS_IOCTL_DEV;
    struct ll_ruleset_attr attr = {.handled_access_fs = fs_all};
    size_t size = sizeof(uint64_t);
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        size = sizeof(attr);
    }
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs < 0)
        return -errno;
    const uint64_t ro_dir = LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR;
    const uint64_t rw_file = LL_FS_READ_FILE | LL_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0);
    int rc = 0;
    static const char *const ro[] = {"/usr", "/lib", "/lib64", "/bin"};
    for (size_t i = 0; !rc && i < sizeof(ro) / sizeof(ro[0]); i++)
        rc = ll_add(rs, ro[i], ro_dir);
    if (!rc)
        rc = ll_add(rs, "/dev/null", rw_file);
    if (!rc)
        rc = ll_add(rs, "/dev/zero", LL_FS_READ_FILE);
    if (!rc)
        rc = ll_add(rs, "/dev/urandom", LL_FS_READ_FILE);
    if (!rc)
        rc = ll_add(rs, "/dev/random", LL_FS_READ_FILE);
    if (!rc)
        rc = ll_add(rs, workdir, fs_all);
    if (!rc && syscall(SYS_landlock_restrict_self, rs, 0))
        rc = -errno;
    close(rs);
    return rc ? rc : abi;
}

/* Calls a Python program has no business with: EPERM, so Python raises PermissionError. */
static const int denied[] = {
    SCMP_SYS(socket),
    SCMP_SYS(socketpair),
    SCMP_SYS(connect),
    SCMP_SYS(bind),
    SCMP_SYS(listen),
    SCMP_SYS(accept),
    SCMP_SYS(accept4),
    SCMP_SYS(sendto),
    SCMP_SYS(sendmsg),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(recvfrom),
    SCMP_SYS(recvmsg),
    SCMP_SYS(recvmmsg),
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(fork),
    SCMP_SYS(vfork),
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(tkill),
    SCMP_SYS(pidfd_open),
    SCMP_SYS(pidfd_send_signal),
    SCMP_SYS(pidfd_getfd),
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(chroot),
    SCMP_SYS(setns),
    SCMP_SYS(unshare),
    SCMP_SYS(reboot),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(kexec_load),
    SCMP_SYS(kexec_file_load),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(ioperm),
    SCMP_SYS(iopl),
    SCMP_SYS(personality),
    SCMP_SYS(acct),
    SCMP_SYS(settimeofday),
    SCMP_SYS(clock_settime),
    SCMP_SYS(clock_adjtime),
    SCMP_SYS(adjtimex),
    SCMP_SYS(sethostname),
    SCMP_SYS(setdomainname),
    SCMP_SYS(syslog),
    SCMP_SYS(quotactl),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(io_uring_register),
    SCMP_SYS(fanotify_init),
    SCMP_SYS(mknod),
    SCMP_SYS(mknodat),
    SCMP_SYS(setuid),
    SCMP_SYS(setgid),
    SCMP_SYS(setreuid),
    SCMP_SYS(setregid),
    SCMP_SYS(setresuid),
    SCMP_SYS(setresgid),
    SCMP_SYS(setgroups),
    SCMP_SYS(setfsuid),
    SCMP_SYS(setfsgid),
    SCMP_SYS(move_pages),
    SCMP_SYS(migrate_pages),
    SCMP_SYS(mbind),
    SCMP_SYS(set_mempolicy),
    SCMP_SYS(vhangup),
    SCMP_SYS(lookup_dcookie),
    SCMP_SYS(uselib),
    SCMP_SYS(fsopen),
    SCMP_SYS(fsmount),
    SCMP_SYS(fsconfig),
    SCMP_SYS(move_mount),
    SCMP_SYS(open_tree),
    SCMP_SYS(mount_setattr),
    SCMP_SYS(process_madvise),
    SCMP_SYS(kcmp),
};

static int seccomp(void)
{
    int rc = -1;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0)) != 0)
            goto out;
    /* Threads yes, processes no: clone without CLONE_THREAD is a fork. clone3 hides its
     * flags in memory a filter cannot read, so it is "not implemented" and glibc falls back
     * to clone. */
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))) ||
        (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)))
        goto out;
    /* Signals only to itself (raise(), abort()); never to collabd or other workers. */
    pid_t self = getpid();
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1,
                               SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self))) ||
        (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1,
                               SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self))) ||
        (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(rt_sigqueueinfo), 1,
                               SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self))) ||
        (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(rt_tgsigqueueinfo), 1,
                               SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self))))
        goto out;
    /* prctl stays allowed except the calls that would weaken what is set up here */
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(prctl), 1,
                               SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE))))
        goto out;
    rc = seccomp_load(ctx);
out:
    seccomp_release(ctx);
    return rc;
}

int cd_sandbox_apply(const struct cd_sandbox_cfg *cfg, struct cd_sandbox_report *rep,
                     const char **step)
{
    int rc;
    memset(rep, 0, sizeof(*rep));
    int root = geteuid() == 0;

    /* 1. An empty network namespace: no interface but a loopback that is down. */
    if (root)
        rep->netns = unshare(CLONE_NEWNET) == 0;
    else if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0)
        rep->netns = rep->userns = 1;

    *step = "chdir";
    if (chdir(cfg->workdir))
        return -errno;
    *step = "rlimits";
    if ((rc = rlimits(cfg)))
        return rc;
    *step = "no_new_privs";
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
        return -errno;
    *step = "landlock";
    rc = landlock(cfg->workdir);
    if (rc < 0)
        return rc;
    rep->landlock = rc;
    if (root) {
        *step = "setuid";
        if (setgroups(0, NULL) || setresgid(cfg->gid, cfg->gid, cfg->gid) ||
            setresuid(cfg->uid, cfg->uid, cfg->uid))
            return -errno;
        if (setuid(0) == 0) /* must be impossible now */
            return -EPERM;
        rep->uid_drop = 1;
    }
    *step = "seccomp";
    if ((rc = seccomp()))
        return rc < 0 ? rc : -EINVAL;
    rep->seccomp = 1;
    *step = "";
    return 0;
}
