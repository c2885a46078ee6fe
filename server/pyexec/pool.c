/*
 * pool.c: the collabd side of server-side Python (see pool.h): the zygote process, the
 * workers it forks, the context keys they serve, the job queue, timeouts and output.
 *
 * Invariants:
 *  - a worker serves one context key for its whole life and runs one job at a time;
 *    live workers (spawning, idle, busy, dying) never exceed cfg.py_workers;
 *  - a worker is freed only after the zygote reported its exit (EXITED) and libuv closed its
 *    handles, so a job's outcome always knows how the process ended;
 *  - everything a worker sends is untrusted: frames are size-capped, JSON fields type-checked,
 *    output repaired into UTF-8 and capped per run (cfg.py_output_max) with a marker;
 *  - the zygote is the workers' parent: collabd signals them through it (no pid reuse race).
 * Depends on libuv, cJSON, core/ and util/; includes no Python header (workers do).
 */
#include "pool.h"
#include "frame.h"
#include "zygote_proto.h"

#include "core/clock.h"
#include "core/log.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/text.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define CTL                0
#define OUT                1
#define ERR                2
#define INTERRUPT_GRACE_MS 1500 /* after SIGINT, SIGKILL if the run has not ended */
#define FRAME_SLACK        (256 * 1024)

enum wstate { W_SPAWNING, W_IDLE, W_BUSY, W_DYING };

struct worker;

struct cd_pyjob {
    struct cd_pyjob *next; /* queue link */
    struct cd_pyexec *px;
    struct worker *w; /* while running */
    uint32_t id;
    enum cd_py_kind kind;
    char key[CD_PY_KEY_MAX];
    char workdir[PATH_MAX];
    struct cd_buf frame; /* the request, framed */
    long timeout_ms;
    struct cd_py_callbacks cb;
    void *ud;
    int detached;
    uint64_t start_us;
    size_t out_bytes;
    int truncated, timed_out, interrupted, waiting_input;
    char carry[3][4]; /* an incomplete UTF-8 sequence per stream, for the next read */
    size_t carry_n[3];
};

struct worker {
    struct worker *next;
    struct cd_pyexec *px;
    uint32_t id;
    int pid;
    enum wstate state;
    char key[CD_PY_KEY_MAX];
    int fd[3];
    uv_poll_t poll[3];
    int polling[3]; /* events being watched, 0 when stopped */
    uv_timer_t timer;
    int open_handles;
    struct cd_buf rx, tx;
    size_t tx_off;
    struct cd_pyjob *job;
    uint64_t last_used_ms;
    unsigned long runs;
    int ctl_eof;
    int killed; /* SIGKILL requested */
};

struct cd_pyexec {
    uv_loop_t *loop;
    const struct cd_config *cfg;
    char exe[PATH_MAX];
    char root[PATH_MAX]; /* sandbox directory, absolute */
    int uid, gid;        /* the workers' identity when collabd runs as root; -1 otherwise */
    int tmp_root;        /* root is a directory collabd made in /tmp (removed at stop) */
    int zfd;
    int zpid;
    uv_poll_t zpoll;
    uv_timer_t tick;
    uv_timer_t kick; /* dispatch on the next loop iteration (never inside submit) */
    int open_handles;
    int ready, stopping;
    uint64_t started_ms, ready_ms;
    char python[32];
    struct worker *workers;
    size_t nworkers;
    struct cd_pyjob *qhead, *qtail;
    size_t queued;
    uint32_t next_id;
    cJSON *sandbox; /* the layers the last worker reported */
    uint64_t runs, failures, timeouts, crashes, spawned, restarts_zygote;
    uint64_t ticks, dirs_swept;
};

static void dispatch(struct cd_pyexec *px);
static void on_kick(uv_timer_t *t);
static void worker_kill(struct worker *w);
static void on_ctl(uv_poll_t *h, int status, int events);
static void on_out(uv_poll_t *h, int status, int events);

/* ---- helpers ---------------------------------------------------------------------------- */

static int zsend(struct cd_pyexec *px, uint32_t op, uint32_t id, int32_t a, int32_t b,
                 const char *text, const int *fds)
{
    struct cd_zmsg m;
    memset(&m, 0, sizeof(m));
    m.op = op;
    m.id = id;
    m.a = a;
    m.b = b;
    if (text)
        snprintf(m.text, sizeof(m.text), "%s", text);
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {&m, sizeof(m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fds) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(3 * sizeof(int));
        memcpy(CMSG_DATA(c), fds, 3 * sizeof(int));
    }
    if (px->zfd < 0)
        return CD_EUNAVAIL;
    /* a few small messages; the socket buffer holds thousands, so this does not block */
    return sendmsg(px->zfd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(m) ? 0 : CD_EIO;
}

static void job_free(struct cd_pyjob *j)
{
    if (!j)
        return;
    cd_buf_cleanup(&j->frame);
    free(j);
}

static void queue_remove(struct cd_pyexec *px, struct cd_pyjob *j)
{
    struct cd_pyjob **pp = &px->qhead, *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = j->next;
    if (px->qtail == j)
        px->qtail = prev;
    j->next = NULL;
    px->queued--;
}

/* The directory name of a context key: its characters outside [A-Za-z0-9.-] become '_'. */
static size_t key_name(const char *key, char name[CD_PY_KEY_MAX])
{
    size_t i = 0;
    for (; key[i] && i + 1 < CD_PY_KEY_MAX; i++) {
        char c = key[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-';
        name[i] = ok ? c : '_';
    }
    name[i] = '\0';
    return i;
}

static int key_dir(struct cd_pyexec *px, const char *key, char *out, size_t size)
{
    char name[CD_PY_KEY_MAX];
    size_t i = key_name(key, name);
    if (!i || name[0] == '.')
        return CD_EINVAL;
    int n = snprintf(out, size, "%s/%s", px->root, name);
    if (n < 0 || (size_t)n >= size)
        return CD_ETOOBIG;
    if (mkdir(out, 0700) && errno != EEXIST)
        return CD_EIO;
    if (px->uid >= 0 && chown(out, (uid_t)px->uid, (gid_t)px->gid))
        return CD_EIO;
    return CD_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) ? 0 : 0; /* best effort: what cannot be removed stays */
}

/* One handle of the pool closed; the last one after a stop frees it (and removes a sandbox
 * directory collabd made for itself in /tmp). */
static void px_release(struct cd_pyexec *px)
{
    if (--px->open_handles || !px->stopping)
        return;
    if (px->tmp_root)
        nftw(px->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    cJSON_Delete(px->sandbox);
    free(px);
}

int cd_pyexec_dir(struct cd_pyexec *px, const char *key, char *out, size_t size)
{
    if (!px)
        return CD_EUNAVAIL;
    return key_dir(px, key, out, size);
}

/* ---- results ---------------------------------------------------------------------------- */

static const char *status_category(struct cd_pyjob *j, struct worker *w, int status, char *msg,
                                   size_t size)
{
    if (j->timed_out) {
        snprintf(msg, size, "TimeoutError: the run took longer than %ld ms and was stopped",
                 j->timeout_ms);
        return "timeout";
    }
    if (j->truncated) {
        snprintf(msg, size, "the program's output passed the limit of %ld bytes; it was stopped",
                 w->px->cfg->py_output_max);
        return "output_limit";
    }
    if (j->interrupted) {
        snprintf(msg, size, "KeyboardInterrupt: the run was stopped");
        return "interrupted";
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGXCPU) {
            snprintf(msg, size, "the worker used up its CPU time limit and was stopped");
            return "cpu_limit";
        }
        if (sig == SIGSYS) {
            snprintf(msg, size, "the program made a forbidden system call");
            return "sandbox";
        }
        if (sig == SIGKILL && w->killed) {
            snprintf(msg, size,
                     "the worker was stopped by collabd (it broke the worker protocol, "
                     "or the Python pool restarted)");
            return "worker_lost";
        }
        if (sig == SIGKILL) {
            snprintf(msg, size, "the worker was killed by the system (out of memory?)");
            return "memory";
        }
        snprintf(msg, size, "the Python process crashed (%s)", strsignal(sig));
        return "crash";
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == CD_Z_SANDBOX_FAILED) {
        snprintf(msg, size, "the sandbox could not be set up; nothing was run");
        return "sandbox_setup";
    }
    snprintf(msg, size, "the Python process exited (status %d) before the run ended",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return "crash";
}

static void finish(struct cd_pyjob *j, cJSON *res)
{
    struct cd_pyexec *px = j->px;
    struct worker *w = j->w;
    if (w) {
        uv_timer_stop(&w->timer);
        w->job = NULL;
        w->last_used_ms = cd_mono_ms();
        w->runs++;
    }
    cJSON *ok = cJSON_GetObjectItemCaseSensitive(res, "success");
    if (j->kind == CD_PY_EXEC) {
        px->runs++;
        if (!cJSON_IsTrue(ok))
            px->failures++;
    }
    char ts[32];
    cd_iso8601(cd_wall_ms(), ts);
    cJSON_AddNumberToObject(res, "executionTime", (double)(cd_mono_us() - j->start_us) / 1000.0);
    cJSON_AddStringToObject(res, "timestamp", ts);
    if (j->truncated)
        cJSON_AddBoolToObject(res, "truncated", 1);
    if (!j->detached && j->cb.done)
        j->cb.done(j->ud, res);
    else
        cJSON_Delete(res);
    job_free(j);
}

static cJSON *error_result(const char *category, const char *msg)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "success", 0);
    cJSON_AddNullToObject(r, "result");
    cJSON_AddStringToObject(r, "error", msg);
    cJSON_AddStringToObject(r, "errorType", category);
    return r;
}

static void set_field(cJSON *o, const char *name, cJSON *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, name);
    cJSON_AddItemToObject(o, name, v);
}

/* Copy the fields a result may carry, type-checked, from the worker's JSON. */
static cJSON *result_from_worker(struct cd_pyjob *j, cJSON *in)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *ok = cJSON_GetObjectItemCaseSensitive(in, "success");
    int success = cJSON_IsTrue(ok);
    cJSON_AddBoolToObject(r, "success", success);
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(in, "result");
    cJSON_AddItemToObject(r, "result", v ? v : cJSON_CreateNull());
    static const char *const strs[] = {"error", "errorType", "traceback"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        cJSON *s = cJSON_GetObjectItemCaseSensitive(in, strs[i]);
        if (cJSON_IsString(s))
            cJSON_AddStringToObject(r, strs[i], s->valuestring);
    }
    cJSON *pk = cJSON_DetachItemFromObjectCaseSensitive(in, "packages");
    if (cJSON_IsArray(pk))
        cJSON_AddItemToObject(r, "packages", pk);
    else
        cJSON_Delete(pk);
    if (!success && !cJSON_GetObjectItemCaseSensitive(r, "error"))
        cJSON_AddStringToObject(r, "error", "the run failed");
    if (j->timed_out || j->interrupted) { /* stopped by SIGINT: say why */
        char msg[160];
        const char *cat = status_category(j, j->w, 0, msg, sizeof(msg));
        set_field(r, "success", cJSON_CreateFalse());
        set_field(r, "error", cJSON_CreateString(msg));
        set_field(r, "errorType", cJSON_CreateString(cat));
    }
    return r;
}

/* ---- output ----------------------------------------------------------------------------- */

static void emit(struct cd_pyjob *j, int stream, const char *data, size_t n)
{
    if (!n || j->detached || !j->cb.output)
        return;
    j->cb.output(j->ud, stream, data, n);
}

/* Pass n bytes of a stream to the job: repaired into UTF-8, capped per run. */
static void deliver(struct worker *w, int stream, const char *data, size_t n)
{
    struct cd_pyjob *j = w->job;
    if (!j || j->truncated || !n)
        return; /* between runs (a stray thread) or past the cap: dropped */
    size_t cap = (size_t)w->px->cfg->py_output_max;
    size_t room = cap > j->out_bytes ? cap - j->out_bytes : 0;
    size_t take = n < room ? n : room;
    char in[8192 + 4], out[3 * (8192 + 4)];
    while (take) {
        size_t piece = take < 8192 ? take : 8192;
        size_t c = j->carry_n[stream];
        memcpy(in, j->carry[stream], c);
        memcpy(in + c, data, piece);
        size_t tail = 0;
        size_t o = cd_utf8_repair(in, c + piece, out, &tail);
        memcpy(j->carry[stream], in + c + piece - tail, tail);
        j->carry_n[stream] = tail;
        emit(j, stream, out, o);
        data += piece;
        take -= piece;
        j->out_bytes += piece;
    }
    if (n > room) {
        char marker[128];
        int m = snprintf(marker, sizeof(marker), "\n[output truncated: over %zu bytes]\n", cap);
        emit(j, stream, marker, (size_t)m);
        j->truncated = 1;
        worker_kill(w);
    }
}

/* Read what a stream socket holds now, without blocking. Returns 0, or -1 at EOF/error. */
static int drain(struct worker *w, int stream)
{
    char buf[65536];
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = recv(w->fd[stream], buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            deliver(w, stream, buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        return -1;
    }
    return 0; /* more later: do not starve the loop */
}

static void drain_all(struct worker *w)
{
    for (int s = OUT; s <= ERR; s++)
        while (w->fd[s] >= 0) {
            char probe;
            if (recv(w->fd[s], &probe, 1, MSG_DONTWAIT | MSG_PEEK) <= 0)
                break;
            if (drain(w, s))
                break;
        }
}

/* ---- workers ---------------------------------------------------------------------------- */

static void poll_set(struct worker *w, int i, int events)
{
    if (w->fd[i] < 0 || w->polling[i] == events)
        return;
    if (events)
        uv_poll_start(&w->poll[i], events, i == CTL ? on_ctl : on_out);
    else
        uv_poll_stop(&w->poll[i]);
    w->polling[i] = events;
}

static void worker_closed(uv_handle_t *h)
{
    struct worker *w = h->data;
    if (--w->open_handles)
        return;
    struct cd_pyexec *px = w->px;
    for (int i = 0; i < 3; i++)
        if (w->fd[i] >= 0)
            close(w->fd[i]);
    cd_buf_cleanup(&w->rx);
    cd_buf_cleanup(&w->tx);
    free(w);
    px_release(px);
}

/* Unlink and close a worker whose process is gone. */
static void worker_free(struct worker *w)
{
    struct cd_pyexec *px = w->px;
    struct worker **pp = &px->workers;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = w->next;
        px->nworkers--;
    }
    for (int i = 0; i < 3; i++)
        uv_close((uv_handle_t *)&w->poll[i], worker_closed);
    uv_close((uv_handle_t *)&w->timer, worker_closed);
}

static void worker_signal(struct worker *w, int sig)
{
    /* an interrupt names the run it is for (the worker ignores it once that run ended) */
    int32_t run = sig == SIGINT && w->job ? (int32_t)(w->job->id & 0x7fffffff) : 0;
    zsend(w->px, CD_Z_SIGNAL, w->id, sig, run, NULL, NULL);
}

static void worker_kill(struct worker *w)
{
    if (w->killed)
        return;
    w->killed = 1;
    w->state = W_DYING;
    worker_signal(w, SIGKILL);
}

/* The zygote reaped the worker: end its job with what the exit status says. */
static void worker_exited(struct worker *w, int status)
{
    struct cd_pyexec *px = w->px;
    drain_all(w);
    struct cd_pyjob *j = w->job;
    if (j && px->stopping) {
        finish(j, error_result("shutting_down", "the server is shutting down"));
    } else if (j) {
        char msg[200];
        const char *cat = status_category(j, w, status, msg, sizeof(msg));
        if (!strcmp(cat, "timeout"))
            px->timeouts++;
        else if (!strcmp(cat, "crash") || !strcmp(cat, "memory"))
            px->crashes++;
        cJSON *r = error_result(cat, msg);
        cJSON_AddBoolToObject(r, "contextLost", 1);
        finish(j, r);
    } else if (w->state == W_SPAWNING && !px->stopping) {
        /* it died before serving: the jobs waiting for it would only spawn it again */
        char msg[200];
        struct cd_pyjob fake = {.px = px, .timeout_ms = 0};
        const char *cat = status_category(&fake, w, status, msg, sizeof(msg));
        cd_logf(CD_LOG_ERROR, NULL, "python: worker %u died while starting: %s", w->id, msg);
        for (struct cd_pyjob *q = px->qhead, *next; q; q = next) {
            next = q->next;
            if (strcmp(q->key, w->key))
                continue;
            queue_remove(px, q);
            finish(q, error_result(cat, msg));
        }
    }
    worker_free(w);
}

static void on_timer(uv_timer_t *t)
{
    struct worker *w = t->data;
    struct cd_pyjob *j = w->job;
    if (!j)
        return;
    if (j->waiting_input) { /* nobody answered input(): it gets end of input */
        cd_pyjob_input(j, NULL, 0, 1);
        return;
    }
    if (!j->timed_out && !j->interrupted) {
        j->timed_out = 1;
        worker_signal(w, SIGINT); /* KeyboardInterrupt keeps the context's variables */
        uv_timer_start(&w->timer, on_timer, INTERRUPT_GRACE_MS, 0);
        return;
    }
    worker_kill(w); /* it did not stop: the context is lost */
}

static void tx_flush(struct worker *w)
{
    while (w->tx_off < w->tx.len) {
        ssize_t n = send(w->fd[CTL], w->tx.data + w->tx_off, w->tx.len - w->tx_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            w->tx_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            poll_set(w, CTL, UV_READABLE | UV_WRITABLE);
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        worker_kill(w);
        return;
    }
    cd_buf_reset(&w->tx);
    w->tx_off = 0;
    if (!w->ctl_eof)
        poll_set(w, CTL, UV_READABLE);
}

static int worker_send(struct worker *w, const char *frame, size_t len)
{
    int rc = cd_buf_append(&w->tx, frame, len);
    if (rc)
        return rc;
    tx_flush(w);
    return CD_OK;
}

static void start_job(struct worker *w, struct cd_pyjob *j)
{
    w->state = W_BUSY;
    w->job = j;
    j->w = w;
    j->start_us = cd_mono_us();
    if (worker_send(w, j->frame.data, j->frame.len)) {
        worker_kill(w);
        return;
    }
    cd_buf_cleanup(&j->frame);
    uv_timer_start(&w->timer, on_timer, (uint64_t)j->timeout_ms, 0);
    if (!j->detached && j->cb.started)
        j->cb.started(j->ud);
}

static void on_frame(struct worker *w, const struct cd_pyframe *f)
{
    struct cd_pyexec *px = w->px;
    cJSON *o = cJSON_ParseWithLength(f->payload, f->len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        worker_kill(w); /* not our bootstrap talking */
        return;
    }
    if (f->type == 'H' && w->state == W_SPAWNING) {
        w->state = W_IDLE;
        w->last_used_ms = cd_mono_ms();
        cJSON *sb = cJSON_DetachItemFromObjectCaseSensitive(o, "sandbox");
        if (cJSON_IsObject(sb)) {
            cJSON_Delete(px->sandbox);
            px->sandbox = sb;
        } else {
            cJSON_Delete(sb);
        }
        dispatch(px);
    } else if (f->type == 'R' && w->state == W_BUSY && w->job) {
        struct cd_pyjob *j = w->job;
        drain_all(w); /* output written before the result is in the stream sockets now */
        if (j->truncated) {
            cJSON_Delete(o);
            return; /* the worker is being killed; worker_exited() ends the job */
        }
        for (int s = OUT; s <= ERR; s++) /* a cut character at the very end */
            if (j->carry_n[s]) {
                emit(j, s, "\xEF\xBF\xBD", 3);
                j->carry_n[s] = 0;
            }
        cJSON *r = result_from_worker(j, o);
        if (j->timed_out)
            px->timeouts++;
        w->state = W_IDLE;
        finish(j, r);
        dispatch(px);
    } else if (f->type == 'Q' && w->state == W_BUSY && w->job) {
        struct cd_pyjob *j = w->job;
        cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prompt");
        j->waiting_input = 1;
        uv_timer_stop(&w->timer); /* a person is typing: the run's clock waits */
        if (j->detached || !j->cb.input) {
            cd_pyjob_input(j, NULL, 0, 1);
        } else {
            uv_timer_start(&w->timer, on_timer, (uint64_t)px->cfg->py_input_timeout_ms, 0);
            j->cb.input(j->ud, j, cJSON_IsString(p) ? p->valuestring : "");
        }
    } else {
        worker_kill(w);
    }
    cJSON_Delete(o);
}

static void on_ctl(uv_poll_t *h, int status, int events)
{
    struct worker *w = h->data;
    if (status == 0 && (events & UV_WRITABLE))
        tx_flush(w);
    if (status < 0) {
        w->ctl_eof = 1;
        poll_set(w, CTL, 0);
        return;
    }
    if (events & (UV_READABLE | UV_DISCONNECT)) {
        char buf[65536];
        ssize_t n = recv(w->fd[CTL], buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            if (cd_buf_append(&w->rx, buf, (size_t)n)) {
                worker_kill(w); /* a frame over the cap */
                return;
            }
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            w->ctl_eof = 1; /* the process is going: its exit status ends the job */
            poll_set(w, CTL, 0);
            return;
        }
        size_t off = 0;
        while (w->rx.len - off) {
            struct cd_pyframe f;
            size_t max = (size_t)w->px->cfg->py_output_max + FRAME_SLACK;
            int rc = cd_pyframe_next(w->rx.data + off, w->rx.len - off, max, &f);
            if (rc < 0) {
                worker_kill(w);
                return;
            }
            if (rc == 0)
                break;
            off += f.consumed;
            on_frame(w, &f);
            if (w->state == W_DYING)
                return;
        }
        if (off) {
            memmove(w->rx.data, w->rx.data + off, w->rx.len - off);
            w->rx.len -= off;
            w->rx.data[w->rx.len] = '\0';
        }
    }
}

static void on_out(uv_poll_t *h, int status, int events)
{
    struct worker *w = h->data;
    int s = h == &w->poll[OUT] ? OUT : ERR;
    if (status < 0 || drain(w, s))
        poll_set(w, s, 0); /* EOF: the process is going */
}

static struct worker *worker_spawn(struct cd_pyexec *px, const char *key, const char *workdir)
{
    int pairs[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    char dir[PATH_MAX];
    if (workdir && *workdir)
        snprintf(dir, sizeof(dir), "%s", workdir);
    else if (key_dir(px, key, dir, sizeof(dir)))
        goto fail;
    for (int i = 0; i < 3; i++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[i]))
            goto fail;
    w->px = px;
    w->id = ++px->next_id;
    w->state = W_SPAWNING;
    snprintf(w->key, sizeof(w->key), "%s", key);
    int theirs[3] = {pairs[0][1], pairs[1][1], pairs[2][1]};
    if (zsend(px, CD_Z_SPAWN, w->id, 0, 0, dir, theirs))
        goto fail;
    for (int i = 0; i < 3; i++) {
        close(pairs[i][1]);
        w->fd[i] = pairs[i][0];
        fcntl(w->fd[i], F_SETFL, O_NONBLOCK);
        uv_poll_init(px->loop, &w->poll[i], w->fd[i]);
        w->poll[i].data = w;
    }
    uv_timer_init(px->loop, &w->timer);
    w->timer.data = w;
    w->open_handles = 4;
    px->open_handles++;
    cd_buf_init(&w->rx, (size_t)px->cfg->py_output_max + FRAME_SLACK + 65536);
    cd_buf_init(&w->tx, 8 * (size_t)px->cfg->max_body + FRAME_SLACK);
    poll_set(w, CTL, UV_READABLE);
    poll_set(w, OUT, UV_READABLE);
    poll_set(w, ERR, UV_READABLE);
    w->next = px->workers;
    px->workers = w;
    px->nworkers++;
    px->spawned++;
    return w;
fail:
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++)
            if (pairs[i][k] >= 0)
                close(pairs[i][k]);
    free(w);
    return NULL;
}

static struct worker *find_worker(struct cd_pyexec *px, const char *key)
{
    for (struct worker *w = px->workers; w; w = w->next)
        if (w->state != W_DYING && !strcmp(w->key, key))
            return w;
    return NULL;
}

/* Give a least-recently-used idle worker back, to make room for another context. */
static int evict_one(struct cd_pyexec *px)
{
    struct worker *lru = NULL;
    for (struct worker *w = px->workers; w; w = w->next)
        if (w->state == W_IDLE && (!lru || w->last_used_ms < lru->last_used_ms))
            lru = w;
    if (!lru)
        return 0;
    worker_kill(lru);
    return 1;
}

static void dispatch(struct cd_pyexec *px)
{
    if (!px->ready || px->stopping)
        return;
    size_t dying = 0;
    for (struct worker *w = px->workers; w; w = w->next)
        dying += w->state == W_DYING;
    for (struct cd_pyjob *j = px->qhead, *next; j; j = next) {
        next = j->next;
        struct worker *w = find_worker(px, j->key);
        if (w) {
            if (w->state == W_IDLE) {
                queue_remove(px, j);
                start_job(w, j);
            }
            continue; /* its context is busy or starting: it waits its turn */
        }
        if (px->nworkers < (size_t)px->cfg->py_workers) {
            if (!worker_spawn(px, j->key, j->workdir)) {
                queue_remove(px, j);
                finish(j, error_result("unavailable", "could not start a Python worker"));
            }
            continue;
        }
        if (dying)
            dying--; /* a worker already on its way out makes room for this job */
        else if (!evict_one(px))
            break; /* every worker is busy: wait for one */
    }
}

/* ---- zygote ----------------------------------------------------------------------------- */

static void zygote_lost(struct cd_pyexec *px, const char *why);

static void on_zygote(uv_poll_t *h, int status, int events)
{
    struct cd_pyexec *px = h->data;
    for (;;) {
        struct cd_zmsg m;
        ssize_t n = status < 0 ? -1 : recv(px->zfd, &m, sizeof(m), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n != (ssize_t)sizeof(m)) {
            zygote_lost(px, "the Python zygote exited");
            return;
        }
        struct worker *w = px->workers;
        while (w && w->id != m.id)
            w = w->next;
        switch (m.op) {
        case CD_Z_READY:
            px->ready = 1;
            px->ready_ms = cd_mono_ms();
            m.text[sizeof(m.text) - 1] = '\0';
            snprintf(px->python, sizeof(px->python), "%.31s", m.text);
            cd_logf(CD_LOG_INFO, NULL, "python: zygote ready (Python %s) in %llu ms", px->python,
                    (unsigned long long)(px->ready_ms - px->started_ms));
            dispatch(px);
            break;
        case CD_Z_SPAWNED:
            if (w)
                w->pid = m.a;
            break;
        case CD_Z_SPAWN_FAILED:
            if (w) {
                cd_logf(CD_LOG_ERROR, NULL, "python: fork failed: %s", strerror(m.a));
                worker_exited(w, 0);
                dispatch(px);
            }
            break;
        case CD_Z_EXITED:
            if (w) {
                worker_exited(w, m.a);
                dispatch(px);
            }
            break;
        default:
            break;
        }
    }
}

static int zygote_start(struct cd_pyexec *px)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        return CD_EIO;
    char a_mem[32], a_cpu[32], a_uid[32], a_gid[32];
    snprintf(a_mem, sizeof(a_mem), "%ld", px->cfg->py_memory);
    snprintf(a_cpu, sizeof(a_cpu), "%ld", px->cfg->py_cpu_seconds);
    snprintf(a_uid, sizeof(a_uid), "%d", px->uid);
    snprintf(a_gid, sizeof(a_gid), "%d", px->gid);
    char *argv[] = {"collabd-py", "--zygote", "--mem", a_mem, "--cpu", a_cpu,
                    "--uid",      a_uid,      "--gid", a_gid, NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", NULL};
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return CD_EIO;
    }
    if (pid == 0) {
        /* the child: the control socket on fd 3, nothing else of collabd's */
        if (dup2(sv[1], 3) < 0)
            _exit(127);
        for (int fd = 4; fd < 1024; fd++)
            close(fd);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(px->exe, argv, envp);
        dprintf(2, "collabd: cannot start %s: %s\n", px->exe, strerror(errno));
        _exit(127);
    }
    close(sv[1]);
    px->zfd = sv[0];
    px->zpid = pid;
    px->started_ms = cd_mono_ms();
    fcntl(px->zfd, F_SETFL, O_NONBLOCK);
    uv_poll_init(px->loop, &px->zpoll, px->zfd);
    px->zpoll.data = px;
    px->open_handles++;
    uv_poll_start(&px->zpoll, UV_READABLE | UV_DISCONNECT, on_zygote);
    return CD_OK;
}

static void zpoll_closed(uv_handle_t *h)
{
    px_release(h->data);
}

static void fail_queue(struct cd_pyexec *px, const char *category, const char *msg)
{
    while (px->qhead) {
        struct cd_pyjob *j = px->qhead;
        queue_remove(px, j);
        finish(j, error_result(category, msg));
    }
}

/* The zygote is gone (crash, or stop): its workers die with it. */
static void zygote_lost(struct cd_pyexec *px, const char *why)
{
    if (px->zfd < 0)
        return;
    if (!px->stopping)
        cd_logf(CD_LOG_ERROR, NULL, "python: %s; workers lost, restarting the pool", why);
    uv_poll_stop(&px->zpoll);
    uv_close((uv_handle_t *)&px->zpoll, zpoll_closed);
    close(px->zfd);
    px->zfd = -1;
    kill(px->zpid, SIGKILL);
    waitpid(px->zpid, NULL, 0); /* dead or dying: this returns at once */
    px->ready = 0;
    while (px->workers) {
        struct worker *w = px->workers;
        w->killed = 1;
        if (w->pid > 0)
            kill(w->pid, SIGKILL); /* PDEATHSIG does it too; be sure */
        worker_exited(w, SIGKILL);
    }
    if (px->stopping) {
        fail_queue(px, "shutting_down", "the server is shutting down");
        return;
    }
    px->restarts_zygote++;
    if (zygote_start(px)) {
        fail_queue(px, "unavailable", "the Python pool could not be restarted");
    }
}

/* Remove the directories of address contexts (ip_*) that no worker serves and nothing has
 * changed in for cfg.py_context_ttl seconds: the disk a passer-by used is given back.
 * Session directories go with their session (cd_pyexec_drop). */
static void sweep_dirs(struct cd_pyexec *px)
{
    DIR *d = opendir(px->root);
    if (!d)
        return;
    time_t cutoff = time(NULL) - (time_t)px->cfg->py_context_ttl;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "ip_", 3))
            continue;
        int live = 0;
        for (struct worker *w = px->workers; w && !live; w = w->next) {
            char name[CD_PY_KEY_MAX];
            key_name(w->key, name);
            live = !strcmp(name, e->d_name);
        }
        char path[PATH_MAX];
        struct stat st;
        if (live ||
            snprintf(path, sizeof(path), "%s/%s", px->root, e->d_name) >= (int)sizeof(path) ||
            lstat(path, &st) || !S_ISDIR(st.st_mode) || st.st_mtime > cutoff)
            continue;
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        px->dirs_swept++;
    }
    closedir(d);
}

static void on_tick(uv_timer_t *t)
{
    struct cd_pyexec *px = t->data;
    uint64_t now = cd_mono_ms();
    uint64_t idle = (uint64_t)px->cfg->py_idle_seconds * 1000;
    for (struct worker *w = px->workers; w; w = w->next)
        if (w->state == W_IDLE && now - w->last_used_ms > idle)
            worker_kill(w); /* a context nobody used for a while gives its worker back */
    uint64_t every = px->cfg->py_context_ttl < 60 ? (uint64_t)px->cfg->py_context_ttl : 60;
    if (++px->ticks % every == 0)
        sweep_dirs(px);
}

static void on_kick(uv_timer_t *t)
{
    dispatch(t->data);
}

static void tick_closed(uv_handle_t *h)
{
    zpoll_closed(h);
}

/* ---- public ----------------------------------------------------------------------------- */

/* 1 if uid can search every directory from / down to path (absolute). */
static int traversable(const char *path, uid_t uid)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    for (;;) {
        struct stat st;
        if (stat(p[0] ? p : "/", &st))
            return 0;
        if (st.st_uid != uid && !(st.st_mode & S_IXOTH))
            return 0;
        char *slash = strrchr(p, '/');
        if (!slash || !p[0])
            return 1;
        *slash = '\0';
    }
}

int cd_pyexec_start(struct cd_pyexec **out, uv_loop_t *loop, const struct cd_config *cfg,
                    const char *exe)
{
    *out = NULL;
    if (!cfg->py_enabled)
        return CD_EUNAVAIL;
    if (access(exe, X_OK)) {
        cd_logf(CD_LOG_ERROR, NULL, "python: %s is missing: server-side Python is off", exe);
        return CD_EUNAVAIL;
    }
    struct cd_pyexec *px = calloc(1, sizeof(*px));
    if (!px)
        return CD_ENOMEM;
    px->loop = loop;
    px->cfg = cfg;
    px->zfd = -1;
    px->uid = px->gid = -1;
    snprintf(px->exe, sizeof(px->exe), "%s", exe);
    if (geteuid() == 0) {
        px->uid = (int)cfg->py_uid;
        px->gid = (int)cfg->py_uid;
    }
    if (mkdir(cfg->py_sandbox_dir, 0711) && errno != EEXIST) {
        cd_logf(CD_LOG_ERROR, NULL, "python: cannot create %s: %s", cfg->py_sandbox_dir,
                strerror(errno));
        free(px);
        return CD_EIO;
    }
    if (!realpath(cfg->py_sandbox_dir, px->root) || chmod(px->root, 0711)) {
        free(px);
        return CD_EIO;
    }
    if (px->uid >= 0 && !traversable(px->root, (uid_t)px->uid)) {
        /* e.g. a checkout under /root (0700): the workers could not reach their directories */
        char tmp[] = "/tmp/collabd-sandbox-XXXXXX";
        if (!mkdtemp(tmp) || chmod(tmp, 0711) || !realpath(tmp, px->root)) {
            free(px);
            return CD_EIO;
        }
        px->tmp_root = 1;
        cd_logf(CD_LOG_WARN, NULL,
                "python: the workers (uid %d) cannot reach %s (a parent directory is not "
                "searchable by others); using %s instead (set --py-sandbox-dir)",
                px->uid, cfg->py_sandbox_dir, px->root);
    }
    int rc = zygote_start(px);
    if (rc) {
        free(px);
        return rc;
    }
    uv_timer_init(loop, &px->tick);
    px->tick.data = px;
    px->open_handles++;
    uv_timer_start(&px->tick, on_tick, 1000, 1000);
    uv_unref((uv_handle_t *)&px->tick);
    uv_timer_init(loop, &px->kick);
    px->kick.data = px;
    px->open_handles++;
    *out = px;
    return CD_OK;
}

void cd_pyexec_stop(struct cd_pyexec *px)
{
    if (!px || px->stopping)
        return;
    px->stopping = 1;
    uv_timer_stop(&px->tick);
    uv_close((uv_handle_t *)&px->tick, tick_closed);
    uv_timer_stop(&px->kick);
    uv_close((uv_handle_t *)&px->kick, tick_closed);
    zygote_lost(px, "stopping");
}

int cd_pyexec_submit(struct cd_pyexec *px, const struct cd_py_request *req,
                     const struct cd_py_callbacks *cb, void *ud, struct cd_pyjob **job)
{
    if (job)
        *job = NULL;
    if (!px || px->stopping || px->zfd < 0)
        return CD_EUNAVAIL;
    if (!req->key || !*req->key || strlen(req->key) >= CD_PY_KEY_MAX)
        return CD_EINVAL;
    if (px->queued >= (size_t)px->cfg->py_queue_max)
        return CD_ELIMIT;
    struct cd_pyjob *j = calloc(1, sizeof(*j));
    if (!j)
        return CD_ENOMEM;
    j->px = px;
    j->id = ++px->next_id;
    j->kind = req->kind;
    snprintf(j->key, sizeof(j->key), "%s", req->key);
    if (req->workdir)
        snprintf(j->workdir, sizeof(j->workdir), "%s", req->workdir);
    j->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : px->cfg->py_timeout_ms;
    if (j->timeout_ms > px->cfg->py_timeout_max_ms)
        j->timeout_ms = px->cfg->py_timeout_max_ms;
    if (cb)
        j->cb = *cb;
    j->ud = ud;
    cd_buf_init(&j->frame, 8 * (size_t)px->cfg->max_body + FRAME_SLACK);
    int rc = CD_ENOMEM;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", j->id);
    char type = 'L';
    if (req->kind == CD_PY_EXEC) {
        type = 'E';
        char *code = malloc(req->code_len + 1);
        if (!code)
            goto out;
        memcpy(code, req->code, req->code_len);
        code[req->code_len] = '\0';
        cJSON_AddItemToObject(o, "code", cJSON_CreateString(code));
        free(code);
        if (req->context)
            cJSON_AddItemToObject(o, "context", cJSON_Duplicate(req->context, 1));
    } else if (req->kind == CD_PY_RESET) {
        type = 'X';
    }
    char *s = cJSON_PrintUnformatted(o);
    if (!s)
        goto out;
    rc = cd_pyframe_put(&j->frame, type, s, strlen(s));
    free(s);
    if (rc)
        goto out;
    j->start_us = cd_mono_us();
    if (px->qtail)
        px->qtail->next = j;
    else
        px->qhead = j;
    px->qtail = j;
    px->queued++;
    if (job)
        *job = j;
    rc = CD_OK;
out:
    cJSON_Delete(o);
    if (rc) {
        job_free(j);
        return rc;
    }
    /* on the next loop iteration: no callback may run inside submit */
    uv_timer_start(&px->kick, on_kick, 0, 0);
    return CD_OK;
}

void cd_pyjob_detach(struct cd_pyjob *job)
{
    if (!job)
        return;
    job->detached = 1;
    if (!job->w) {
        queue_remove(job->px, job);
        job_free(job);
        return;
    }
    cd_pyjob_interrupt(job);
}

void cd_pyexec_drop(struct cd_pyexec *px, const char *key)
{
    if (!px)
        return;
    for (struct cd_pyjob *q = px->qhead, *next; q; q = next) {
        next = q->next;
        if (!strcmp(q->key, key)) {
            queue_remove(px, q);
            finish(q, error_result("context_deleted", "the session was deleted"));
        }
    }
    struct worker *w = find_worker(px, key);
    if (w)
        worker_kill(w);
    char dir[PATH_MAX];
    /* the directory only, never a path outside the sandbox: key_dir() sanitises the name */
    if (!key_dir(px, key, dir, sizeof(dir)))
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int cd_pyjob_input(struct cd_pyjob *job, const char *line, size_t len, int eof)
{
    if (!job || !job->w || !job->waiting_input)
        return CD_EINVAL;
    struct worker *w = job->w;
    cJSON *o = cJSON_CreateObject();
    if (eof) {
        cJSON_AddBoolToObject(o, "eof", 1);
    } else {
        char *s = malloc(len + 1);
        if (!s) {
            cJSON_Delete(o);
            return CD_ENOMEM;
        }
        memcpy(s, line, len);
        s[len] = '\0';
        cJSON_AddItemToObject(o, "line", cJSON_CreateString(s));
        free(s);
    }
    char *p = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!p)
        return CD_ENOMEM;
    struct cd_buf fb;
    cd_buf_init(&fb, 8 * (size_t)w->px->cfg->max_body + FRAME_SLACK);
    int rc = cd_pyframe_put(&fb, 'I', p, strlen(p));
    free(p);
    if (!rc)
        rc = worker_send(w, fb.data, fb.len);
    cd_buf_cleanup(&fb);
    if (rc)
        return rc;
    job->waiting_input = 0;
    uv_timer_start(&w->timer, on_timer, (uint64_t)job->timeout_ms, 0);
    return CD_OK;
}

int cd_pyjob_interrupt(struct cd_pyjob *job)
{
    if (!job || !job->w)
        return CD_EINVAL;
    struct worker *w = job->w;
    if (job->interrupted || job->timed_out)
        return CD_OK;
    job->interrupted = 1;
    if (job->waiting_input) /* end of input stops input(); a signal mid-frame would not */
        cd_pyjob_input(job, NULL, 0, 1);
    else
        worker_signal(w, SIGINT);
    uv_timer_start(&w->timer, on_timer, INTERRUPT_GRACE_MS, 0);
    return CD_OK;
}

int cd_pyjob_queued(const struct cd_pyjob *job)
{
    return job && !job->w;
}

size_t cd_pyjob_ahead(const struct cd_pyjob *job)
{
    if (!job || job->w)
        return 0;
    const struct worker *w = find_worker(job->px, job->key);
    size_t n = w && w->state == W_BUSY;
    for (const struct cd_pyjob *j = job->px->qhead; j && j != job; j = j->next)
        n += !strcmp(j->key, job->key);
    return n;
}

int cd_pyexec_ready(const struct cd_pyexec *px)
{
    return px && px->ready && !px->stopping;
}

cJSON *cd_pyexec_health(const struct cd_pyexec *px)
{
    cJSON *o = cJSON_CreateObject();
    if (!px) {
        cJSON_AddBoolToObject(o, "enabled", 0);
        cJSON_AddStringToObject(o, "status", "disabled");
        return o;
    }
    size_t busy = 0, idle = 0;
    for (const struct worker *w = px->workers; w; w = w->next) {
        busy += w->state == W_BUSY;
        idle += w->state == W_IDLE;
    }
    cJSON_AddBoolToObject(o, "enabled", 1);
    cJSON_AddStringToObject(o, "status", px->ready ? "ok" : "starting");
    cJSON_AddStringToObject(o, "python", px->python);
    if (px->ready)
        cJSON_AddNumberToObject(o, "readyMs", (double)(px->ready_ms - px->started_ms));
    cJSON_AddNumberToObject(o, "maxWorkers", (double)px->cfg->py_workers);
    cJSON_AddNumberToObject(o, "workers", (double)px->nworkers);
    cJSON_AddNumberToObject(o, "busy", (double)busy);
    cJSON_AddNumberToObject(o, "idle", (double)idle);
    cJSON_AddNumberToObject(o, "queued", (double)px->queued);
    cJSON_AddNumberToObject(o, "runs", (double)px->runs);
    cJSON_AddNumberToObject(o, "failures", (double)px->failures);
    cJSON_AddNumberToObject(o, "timeouts", (double)px->timeouts);
    cJSON_AddNumberToObject(o, "crashes", (double)px->crashes);
    cJSON_AddNumberToObject(o, "workersStarted", (double)px->spawned);
    cJSON_AddNumberToObject(o, "zygoteRestarts", (double)px->restarts_zygote);
    cJSON_AddNumberToObject(o, "contextDirsRemoved", (double)px->dirs_swept);
    cJSON_AddNumberToObject(o, "timeoutMs", (double)px->cfg->py_timeout_ms);
    cJSON_AddNumberToObject(o, "memoryBytes", (double)px->cfg->py_memory);
    if (px->sandbox)
        cJSON_AddItemToObject(o, "sandbox", cJSON_Duplicate(px->sandbox, 1));
    return o;
}
