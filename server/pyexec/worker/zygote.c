/*
 * zygote.c: main() of collabd-py, the process collabd starts (fork + exec) before it
 * listens. It initialises CPython once through the embedding API in isolated mode, imports
 * the worker bootstrap and the common modules, freezes the heap for the garbage collector
 * (so forks share pages), then waits on its control socket: each SPAWN forks a worker that
 * takes the three sockets it was sent as fds 3 (control), 1 (stdout) and 2 (stderr),
 * sandboxes itself (sandbox.c) and serves runs until collabd closes its control socket.
 * The zygote never runs user code. It is the workers' parent, so it alone reaps them and
 * signals them (no pid can be reused under a pending signal), and reports each exit.
 * It dies with collabd (PR_SET_PDEATHSIG), and its workers die with it.
 * Depends on CPython (python3-embed), libseccomp (through sandbox.c) and libc.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../zygote_proto.h"
#include "bootstrap_py.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CTL_FD 3

struct child {
    uint32_t id;
    pid_t pid;
};

/* The run a SIGINT may interrupt: set by the bootstrap around each run (module _collabd).
 * collabd's interrupts are queued signals carrying the run's id, so an interrupt meant for a
 * run that already ended (it crosses the zygote hop late) never hits the next run or the
 * worker's idle loop. */
static volatile sig_atomic_t current_run;

static void on_sigint(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (si->si_code == SI_QUEUE && current_run && si->si_value.sival_int == current_run)
        PyErr_SetInterrupt(); /* async-signal-safe: KeyboardInterrupt at the next check */
}

/* _collabd.begin(run_id): interrupts for this run are taken from now on. */
static PyObject *m_begin(PyObject *self, PyObject *arg)
{
    (void)self;
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    current_run = (sig_atomic_t)v;
    Py_RETURN_NONE;
}

/* _collabd.end(): no run may be interrupted now; one already pending is dropped. */
static PyObject *m_end(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    current_run = 0;
    if (PyErr_CheckSignals() < 0)
        PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef m_methods[] = {
    {"begin", m_begin, METH_O, "interrupts carrying this run id are taken"},
    {"end", m_end, METH_NOARGS, "the run ended: interrupts are ignored"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef m_def = {
    PyModuleDef_HEAD_INIT, "_collabd", NULL, -1, m_methods, NULL, NULL, NULL, NULL};

static PyObject *m_init(void)
{
    return PyModule_Create(&m_def); /* new reference */
}

static struct child *kids;
static size_t nkids, kids_alloc;
static struct cd_sandbox_cfg sb;

static long arg_long(int argc, char **argv, const char *name, long dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) {
            char *end = NULL;
            long v = strtol(argv[i + 1], &end, 10);
            return end && !*end ? v : dflt;
        }
    return dflt;
}

static int send_msg(int fd, uint32_t op, uint32_t id, int32_t a, const char *text)
{
    struct cd_zmsg m;
    memset(&m, 0, sizeof(m));
    m.op = op;
    m.id = id;
    m.a = a;
    if (text)
        snprintf(m.text, sizeof(m.text), "%s", text);
    return send(fd, &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -1;
}

/* Python up, bootstrap imported; returns the module (new reference) or NULL. */
static PyObject *python_init(void)
{
    PyConfig config;
    if (PyImport_AppendInittab("_collabd", m_init) < 0)
        return NULL;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 1; /* SIGINT -> KeyboardInterrupt: how Stop interrupts */
    config.buffered_stdio = 0;          /* output streams while the program runs */
    config.parse_argv = 0;
    config.site_import = 1;
    PyStatus st = PyConfig_SetString(&config, &config.stdio_encoding, L"utf-8");
    if (!PyStatus_Exception(st))
        st = PyConfig_SetString(&config, &config.stdio_errors, L"backslashreplace");
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        fprintf(stderr, "collabd-py: Python failed to start: %s\n", st.err_msg ? st.err_msg : "?");
        return NULL;
    }
    /* new reference */
    PyObject *code = Py_CompileString(cd_bootstrap_py, "<collabd-bootstrap>", Py_file_input);
    PyObject *mod = code ? PyImport_ExecCodeModule("_collabd_worker", code) : NULL;
    Py_XDECREF(code);
    if (!mod) {
        PyErr_Print();
        return NULL;
    }
    /* move everything imported so far out of the collector's sight: a fork then shares
     * these pages instead of copying them on the first collection */
    PyObject *r = PyRun_String("import gc; gc.collect(); gc.freeze()", Py_file_input,
                               PyModule_GetDict(mod), PyModule_GetDict(mod));
    Py_XDECREF(r);
    PyErr_Clear();
    return mod;
}

/* In the forked child: become a sandboxed worker and serve; never returns. */
static void worker_main(PyObject *mod, int fds[3], int sigfd, const char *dir)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    close(sigfd);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_RDWR);
    /* fds[] may sit on 0..3 themselves: move them out of the way first */
    int tmp[3];
    for (int i = 0; i < 3; i++)
        tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
    if (devnull < 0 || tmp[0] < 0 || tmp[1] < 0 || tmp[2] < 0 || dup2(devnull, 0) < 0 ||
        dup2(tmp[1], 1) < 0 || dup2(tmp[2], 2) < 0 || dup2(tmp[0], CTL_FD) < 0)
        _exit(CD_Z_SANDBOX_FAILED);
    syscall(SYS_close_range, CTL_FD + 1, ~0U, 0);
    PyOS_AfterFork_Child();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigint;
    sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: a blocking call returns EINTR and Python checks */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    clearenv(); /* the worker's environment is empty */
    struct cd_sandbox_cfg cfg = sb;
    cfg.workdir = dir;
    struct cd_sandbox_report rep;
    const char *step = "";
    int rc = cd_sandbox_apply(&cfg, &rep, &step);
    if (rc) {
        dprintf(2, "collabd-py: sandbox step %s failed: %s\n", step, strerror(-rc));
        _exit(CD_Z_SANDBOX_FAILED);
    }
    PyObject *report = Py_BuildValue("{s:i,s:i,s:i,s:i,s:i}", "netns", rep.netns, "landlock",
                                     rep.landlock, "seccomp", rep.seccomp, "uidDrop", rep.uid_drop,
                                     "userns", rep.userns); /* new reference */
    PyObject *r = report ? PyObject_CallMethod(mod, "serve", "O", report) : NULL;
    if (!r)
        PyErr_Print();
    fflush(NULL);
    _exit(r ? 0 : 1);
}

static void spawn(PyObject *mod, int ctl, int sigfd)
{
    struct cd_zmsg m;
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {&m, sizeof(m)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
    if (n <= 0) {
        if (n == 0 || (errno != EINTR && errno != EAGAIN))
            exit(0); /* collabd is gone: PDEATHSIG takes the workers */
        return;
    }
    int fds[3] = {-1, -1, -1};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(3 * sizeof(int)))
        memcpy(fds, CMSG_DATA(c), sizeof(fds));
    if (n != sizeof(m))
        goto out;
    if (m.op == CD_Z_SIGNAL) {
        for (size_t i = 0; i < nkids; i++) {
            if (kids[i].id != m.id)
                continue;
            if (m.a == SIGINT) { /* tied to the run in b (see on_sigint) */
                union sigval v = {.sival_int = m.b};
                sigqueue(kids[i].pid, SIGINT, v);
            } else {
                kill(kids[i].pid, m.a);
            }
        }
        goto out;
    }
    if (m.op != CD_Z_SPAWN || fds[2] < 0)
        goto out;
    m.text[sizeof(m.text) - 1] = '\0';
    if (nkids == kids_alloc) {
        size_t na = kids_alloc ? kids_alloc * 2 : 64;
        struct child *k = realloc(kids, na * sizeof(*k));
        if (!k) {
            send_msg(ctl, CD_Z_SPAWN_FAILED, m.id, ENOMEM, NULL);
            goto out;
        }
        kids = k;
        kids_alloc = na;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(ctl);
        worker_main(mod, fds, sigfd, m.text);
    }
    if (pid < 0) {
        send_msg(ctl, CD_Z_SPAWN_FAILED, m.id, errno, NULL);
        goto out;
    }
    kids[nkids].id = m.id;
    kids[nkids].pid = pid;
    nkids++;
    send_msg(ctl, CD_Z_SPAWNED, m.id, pid, NULL);
out:
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static void reap(int ctl, int sigfd)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < nkids; i++) {
            if (kids[i].pid != pid)
                continue;
            send_msg(ctl, CD_Z_EXITED, kids[i].id, status, NULL);
            kids[i] = kids[--nkids];
            break;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--zygote") != 0) {
        fprintf(stderr, "collabd-py: started by collabd only (collabd --help: py-* options)\n");
        return 2;
    }
    int ctl = CTL_FD;
    pid_t parent = getppid();
    /* dispositions survive exec: a collabd started in the background has SIGINT ignored,
     * and SIGINT is how a run is interrupted */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    syscall(SYS_close_range, CTL_FD + 1, ~0U, 0);
    setpgid(0, 0); /* a terminal's Ctrl-C reaches collabd, not the workers */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 0;
    sb.mem_bytes = arg_long(argc, argv, "--mem", 512L << 20);
    sb.cpu_seconds = arg_long(argc, argv, "--cpu", 300);
    sb.fsize_bytes = arg_long(argc, argv, "--fsize", 16L << 20);
    sb.nofile = arg_long(argc, argv, "--nofile", 64);
    sb.nproc = arg_long(argc, argv, "--nproc", 512);
    sb.uid = (uid_t)arg_long(argc, argv, "--uid", 65534);
    sb.gid = (gid_t)arg_long(argc, argv, "--gid", 65534);

    PyObject *mod = python_init(); /* new reference, kept for the life of the zygote */
    if (!mod)
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0)
        return 1;
    char ver[64];
    snprintf(ver, sizeof(ver), "%s", Py_GetVersion());
    char *sp = strchr(ver, ' ');
    if (sp)
        *sp = '\0';
    if (send_msg(ctl, CD_Z_READY, 0, (int32_t)getpid(), ver))
        return 1;
    for (;;) {
        struct pollfd p[2] = {{ctl, POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (p[1].revents)
            reap(ctl, sigfd);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            spawn(mod, ctl, sigfd);
    }
}
