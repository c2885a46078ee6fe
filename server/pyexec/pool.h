/*
 * pool.h: server-side Python for the rest of collabd. A pool of sandboxed worker processes
 * forked by a zygote (worker/zygote.c, the collabd-py executable) that collabd starts before
 * it listens. Each worker belongs to one context key (a session, or a client address) and
 * keeps that context's variables between runs, like a notebook kernel; one run at a time
 * per context, the others wait in a bounded FIFO queue. Output streams through callbacks as
 * the program produces it. Timeouts interrupt (SIGINT, keeping the variables) and then kill.
 *
 * Threads: everything here runs on the event-loop thread; the loop never runs Python and
 * never blocks on a worker (all worker I/O is non-blocking, watched by uv_poll handles).
 * Ownership: the pool owns jobs; a caller holds a job pointer only until its done callback
 * has run or it called cd_pyjob_detach().
 */
#ifndef CD_PYEXEC_POOL_H
#define CD_PYEXEC_POOL_H

#include "core/config.h"

#include <cjson/cJSON.h>
#include <stddef.h>

struct uv_loop_s;
struct cd_pyexec;
struct cd_pyjob;

#define CD_PY_KEY_MAX 96

enum cd_py_kind {
    CD_PY_EXEC,  /* run code in the context */
    CD_PY_RESET, /* clear the context's variables */
    CD_PY_LIST,  /* the importable modules */
};

struct cd_py_request {
    enum cd_py_kind kind;
    const char *key;  /* context key (copied): "s:<session>", "ip:<address>", ... */
    const char *code; /* CD_PY_EXEC: the program, code_len bytes of UTF-8 (copied) */
    size_t code_len;
    const cJSON *context; /* CD_PY_EXEC: an object of variables, or NULL (serialised) */
    long timeout_ms;      /* 0: the configured default; capped by the configured maximum */
    const char *workdir;  /* optional: the directory the context works in (see _dir()) */
};

struct cd_py_callbacks {
    /* The job got its worker and the program starts now (optional). */
    void (*started)(void *ud);
    /* Output of the running program, as well-formed UTF-8 pieces; stream 1 or 2. */
    void (*output)(void *ud, int stream, const char *data, size_t len);
    /* The program called input(prompt): answer with cd_pyjob_input(). NULL: input() gets EOF. */
    void (*input)(void *ud, struct cd_pyjob *job, const char *prompt);
    /* The run ended. result (ownership passes to the callee) is
     * {success, result, error?, errorType?, traceback?, executionTime, timestamp, ...}. */
    void (*done)(void *ud, cJSON *result);
};

/* Start the pool: creates the sandbox directory, forks + execs the zygote (exe: path of
 * collabd-py). Returns 0, CD_EUNAVAIL (disabled by configuration) or an error; the pool is
 * usable at once (jobs wait until the zygote reports ready). */
int cd_pyexec_start(struct cd_pyexec **out, struct uv_loop_s *loop, const struct cd_config *cfg,
                    const char *exe);
/* Stop: fail queued and running jobs (CD_ESHUTDOWN), kill every worker and the zygote, close
 * the handles; the memory is released once libuv has closed them. NULL is a no-op. */
void cd_pyexec_stop(struct cd_pyexec *px);
/* Queue a job. Returns 0 and *job, CD_ELIMIT when the queue is full, CD_EUNAVAIL when the
 * pool is down, CD_EINVAL for a bad request. Callbacks are never called from inside submit. */
int cd_pyexec_submit(struct cd_pyexec *px, const struct cd_py_request *req,
                     const struct cd_py_callbacks *cb, void *ud, struct cd_pyjob **job);
/* The caller is gone: no more callbacks. A queued job is dropped, a running one interrupted. */
void cd_pyjob_detach(struct cd_pyjob *job);
/* Answer a pending input() with a line (or end of input when eof). CD_EINVAL if none waits. */
int cd_pyjob_input(struct cd_pyjob *job, const char *line, size_t len, int eof);
/* Stop a run: KeyboardInterrupt in the program (the context survives), then a kill after a
 * grace period if it does not stop. */
int cd_pyjob_interrupt(struct cd_pyjob *job);
/* 1 while the job waits for its worker (it has not started). */
int cd_pyjob_queued(const struct cd_pyjob *job);
/* How many runs of the same context go before this one (the running one included); 0 when it
 * runs, or will start as soon as its worker is free of nobody else's run. */
size_t cd_pyjob_ahead(const struct cd_pyjob *job);
/* Forget a context (its session was deleted): its worker is killed, its queued jobs fail,
 * its directory and the files in it are removed. */
void cd_pyexec_drop(struct cd_pyexec *px, const char *key);
/* The directory of a context key (created, owned by the workers' uid) into out; for uploads. */
int cd_pyexec_dir(struct cd_pyexec *px, const char *key, char *out, size_t size);
/* A JSON object describing the pool for /health (new object, caller owns). */
cJSON *cd_pyexec_health(const struct cd_pyexec *px);
/* 1 once the zygote is up. */
int cd_pyexec_ready(const struct cd_pyexec *px);

#endif
