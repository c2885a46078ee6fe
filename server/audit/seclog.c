/*
 * seclog.c: the hash-chained security log (format and guarantees in seclog.h).
 *
 * Owns the log file's descriptor, a writer thread and a byte ring between the callers and it.
 * Two locks:
 *   chain_mu orders the chain. Whoever holds it formats a line with the current seq and prev,
 *     hashes it and copies it into the ring; seq/prev advance only once the line is in, so a
 *     dropped event leaves no hole in the chain. The scratch buffers belong to the holder.
 *   q_mu guards the ring positions, the pending file switches, the counters and the writer's
 *     state. It is held for a copy of one line at most, never across hashing or I/O.
 * Lock order: chain_mu, then q_mu. The writer thread takes only q_mu.
 * The ring: head and tail count bytes ever queued and ever written; the writer reads
 * [tail, head) WITHOUT the lock (callers only write past head, and tail moves only after the
 * write), and callers never let head - tail pass cap, so memory stays fixed. Anchors may use
 * ANCHOR_RESERVE bytes beyond cap, so that a rotation can always start its file. Every line in
 * the ring is whole and ends in a newline, and so does every span the writer takes.
 * A switch record (pos, fd) hands the writer its next file once it has written up to pos, so
 * lines chained before a rotation go to the old file. After start, fd belongs to the writer
 * thread until it is joined.
 * Wake-ups cost a system call, so callers wake the writer only when it is idle (the ring was
 * empty) or when a gathering writer should stop waiting (the ring is half full). A woken writer
 * gathers for GATHER_MS before writing, unless a flush or stop waits for it.
 * The verifier (bottom of the file) shares nothing with the writer but the format.
 * Must not depend on lws or the event loop: it is also run by "collabd audit verify".
 */
#include "seclog.h"
#include "internal.h"

#include "core/clock.h"
#include "util/buf.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HASH_HEX       64
#define ANCHOR_RESERVE 4096u  /* ring bytes beyond the cap, for chain_start lines only */
#define GATHER_MS      2      /* how long a woken writer lets lines pile up */
#define TAIL_CHUNK     65536u /* read size when scanning a file's tail or verifying */
#define EVENT_MAX      64     /* longest event name */
#define REPORT_MAX     20     /* problems printed per file by verify */

struct switch_rec {
    struct switch_rec *next;
    uint64_t pos; /* ring position from which lines go to fd */
    int fd;
};

enum writer_state { W_BUSY, W_IDLE, W_GATHERING };

struct cd_seclog {
    char *path;
    int fsync;

    /* the chain: under chain_mu */
    pthread_mutex_t chain_mu;
    uint64_t seq;            /* seq of the next line */
    char prev[HASH_HEX + 1]; /* hash of the last queued line */
    uint64_t drops_pending;  /* events dropped since the last events_dropped line */
    uint64_t drops_since_ms; /* wall time of the first of them */
    dev_t dev;               /* the file lines are queued for, to tell whether it */
    ino_t ino;               /* was renamed when asked to reopen */
    struct cd_buf line;      /* scratch: the line being built */
    EVP_MD *sha256;          /* fetched once: an implicit fetch per line costs a lock and */
    EVP_MD_CTX *mdctx;       /* an allocation (OpenSSL 3) */
    char *fields;            /* scratch: fields as printed by cJSON */
    size_t fields_alloc;

    /* the ring: under q_mu (ring bytes in [tail, head) are read by the writer unlocked) */
    pthread_mutex_t q_mu;
    pthread_cond_t work; /* the writer waits on it */
    pthread_cond_t done; /* flush waits on it */
    char *ring;
    size_t cap;       /* bytes events may occupy */
    size_t ring_size; /* cap + ANCHOR_RESERVE */
    uint64_t head, tail;
    struct switch_rec *switches, **switches_tail;
    enum writer_state state;
    int flushers, held, stop, io_error;
    struct cd_seclog_stats st;

    /* the writer thread */
    int fd;
    pthread_t thread;
    int started;
};

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char md[SHA256_DIGEST_LENGTH], char out[HASH_HEX + 1])
{
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hexdig[md[i] >> 4];
        out[2 * i + 1] = hexdig[md[i] & 15];
    }
    out[HASH_HEX] = '\0';
}

static int is_hash_hex(const char *s)
{
    size_t i = 0;
    for (; s[i] && i <= HASH_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == HASH_HEX;
}

static int valid_event(const char *e)
{
    size_t i = 0;
    if (!e)
        return 0;
    for (; e[i] && i <= EVENT_MAX; i++) {
        char c = e[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return i >= 1 && i <= EVENT_MAX;
}

static int reserved_key(const cJSON *fields)
{
    static const char *const keys[] = {"time", "seq", "event", "prev"};
    for (const cJSON *f = fields ? fields->child : NULL; f; f = f->next) {
        if (!f->string)
            return 1;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (!strcmp(f->string, keys[i]))
                return 1;
    }
    return 0;
}

/* mkdir -p of the directories above path, mode 0700 for the ones created. */
static int make_parent_dirs(const char *path)
{
    int rc = CD_OK;
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p)
        return CD_ENOMEM;
    memcpy(p, path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (p[i] != '/')
            continue;
        p[i] = '\0';
        if (mkdir(p, 0700) && errno != EEXIST) {
            rc = CD_EIO;
            goto out;
        }
        p[i] = '/';
    }
out:
    free(p);
    return rc;
}

static int open_locked(const char *path, int *fd_out, struct stat *st)
{
    int rc = CD_OK;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = CD_EIO;
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        rc = errno == EWOULDBLOCK ? CD_EEXIST : CD_EIO;
        goto out;
    }
    if (fstat(fd, st)) {
        rc = CD_EIO;
        goto out;
    }
out:
    if (rc && fd >= 0)
        close(fd);
    *fd_out = rc ? -1 : fd;
    return rc;
}

/* ---- caller side: build, hash, queue (chain_mu held) ---- */

/* Build {"time":..,"seq":..,"event":..,<inner>,"prev":..} in l->line. inner is the members of
 * an object without its braces, or empty. */
static int build_line(struct cd_seclog *l, const char *event, const char *inner, size_t inner_len)
{
    char ts[32];
    struct cd_buf *b = &l->line;
    cd_iso8601(cd_wall_ms(), ts);
    cd_buf_reset(b);
    int rc = cd_buf_printf(b, "{\"time\":\"%s\",\"seq\":%" PRIu64 ",\"event\":\"%s\"", ts, l->seq,
                           event);
    if (!rc && inner_len) {
        rc = cd_buf_append(b, ",", 1);
        if (!rc)
            rc = cd_buf_append(b, inner, inner_len);
    }
    if (!rc)
        rc = cd_buf_puts(b, ",\"prev\":\"");
    if (!rc)
        rc = cd_buf_append(b, l->prev, HASH_HEX);
    if (!rc)
        rc = cd_buf_append(b, "\"}\n", 3);
    return rc;
}

static int has_work(const struct cd_seclog *l)
{
    return l->head != l->tail || l->switches;
}

/* q_mu held. Copy p[0..n) into the ring at head. */
static void ring_put(struct cd_seclog *l, const char *p, size_t n)
{
    size_t off = (size_t)(l->head % l->ring_size);
    size_t first = n < l->ring_size - off ? n : l->ring_size - off;
    memcpy(l->ring + off, p, first);
    memcpy(l->ring, p + first, n - first);
    uint64_t before = l->head - l->tail;
    l->head += n;
    if (l->head - l->tail > l->st.queued_max)
        l->st.queued_max = l->head - l->tail;
    if (l->state == W_IDLE ||
        (l->state == W_GATHERING && before < l->cap / 2 && l->head - l->tail >= l->cap / 2))
        pthread_cond_signal(&l->work);
}

static void commit(struct cd_seclog *l, const char hash[HASH_HEX + 1])
{
    memcpy(l->prev, hash, HASH_HEX + 1);
    l->seq++;
}

enum admit { ADMIT_ANCHOR, ADMIT_EVENT, ADMIT_IF_ROOM };

/* Hash l->line (without its newline) into hash_out. */
static int hash_line(struct cd_seclog *l, char hash_out[HASH_HEX + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    if (!EVP_DigestInit_ex2(l->mdctx, l->sha256, NULL) ||
        !EVP_DigestUpdate(l->mdctx, l->line.data, l->line.len - 1) ||
        !EVP_DigestFinal_ex(l->mdctx, md, NULL))
        return CD_EUNAVAIL;
    to_hex(md, hash_out);
    return CD_OK;
}

/* Queue l->line, then advance the chain. sw (may be NULL) is queued just before it (a rotation).
 * Returns 1 if queued, 0 if there was no room (ADMIT_EVENT counts the drop), or CD_EUNAVAIL
 * (libcrypto failed). */
static int enqueue_line(struct cd_seclog *l, enum admit how, struct switch_rec *sw)
{
    char hash[HASH_HEX + 1];
    if (hash_line(l, hash))
        return CD_EUNAVAIL;
    pthread_mutex_lock(&l->q_mu);
    size_t limit = how == ADMIT_ANCHOR ? l->ring_size : l->cap;
    int ok = l->head - l->tail + l->line.len <= limit;
    if (ok) {
        if (sw) {
            sw->pos = l->head;
            *l->switches_tail = sw;
            l->switches_tail = &sw->next;
        }
        ring_put(l, l->line.data, l->line.len);
    } else if (how == ADMIT_EVENT) {
        l->st.dropped++;
    }
    pthread_mutex_unlock(&l->q_mu);
    if (!ok) {
        if (how == ADMIT_EVENT) {
            if (!l->drops_pending)
                l->drops_since_ms = cd_wall_ms();
            l->drops_pending++;
        }
        return 0;
    }
    commit(l, hash);
    return 1;
}

/* Chain an events_dropped line if events were dropped and there is room now. */
static int emit_drops(struct cd_seclog *l)
{
    char since[32], inner[96];
    if (!l->drops_pending)
        return CD_OK;
    cd_iso8601(l->drops_since_ms, since);
    int n = snprintf(inner, sizeof(inner), "\"count\":%" PRIu64 ",\"since\":\"%s\"",
                     l->drops_pending, since);
    int rc = build_line(l, "events_dropped", inner, (size_t)n);
    if (!rc)
        rc = enqueue_line(l, ADMIT_IF_ROOM, NULL);
    if (rc == 1)
        l->drops_pending = 0;
    return rc < 0 ? rc : CD_OK;
}

static int anchor_line(struct cd_seclog *l, const char *reason)
{
    char inner[48];
    int n = snprintf(inner, sizeof(inner), "\"reason\":\"%s\"", reason);
    return build_line(l, "chain_start", inner, (size_t)n);
}

/* Print fields into l->fields; *inner and *len get its members without the braces. */
static int print_fields(struct cd_seclog *l, cJSON *fields, const char **inner, size_t *len)
{
    for (;;) {
        if (l->fields && cJSON_PrintPreallocated(fields, l->fields, (int)l->fields_alloc, 0))
            break;
        if (l->fields_alloc > CD_SECLOG_LINE_MAX)
            return CD_ETOOBIG;
        size_t a = l->fields_alloc ? l->fields_alloc * 2 : 4096;
        char *p = realloc(l->fields, a);
        if (!p)
            return CD_ENOMEM;
        l->fields = p;
        l->fields_alloc = a;
    }
    size_t n = strlen(l->fields); /* cJSON's own output, "{...}" */
    *inner = l->fields + 1;
    *len = n >= 2 ? n - 2 : 0;
    return CD_OK;
}

int cd_seclog_event(struct cd_seclog *l, const char *event, cJSON *fields)
{
    int rc = CD_OK, locked = 0;
    const char *inner = NULL;
    size_t inner_len = 0;
    if (!l || !valid_event(event) || (fields && !cJSON_IsObject(fields)) || reserved_key(fields)) {
        rc = CD_EINVAL;
        goto out;
    }
    pthread_mutex_lock(&l->chain_mu);
    locked = 1;
    if (fields && fields->child) {
        rc = print_fields(l, fields, &inner, &inner_len);
        if (rc)
            goto out;
    }
    rc = emit_drops(l);
    if (rc)
        goto out;
    rc = build_line(l, event, inner, inner_len);
    if (rc)
        goto out;
    rc = enqueue_line(l, ADMIT_EVENT, NULL);
    if (rc > 0)
        rc = CD_OK; /* queued; a drop (0) is counted, not an error */
out:
    if (locked)
        pthread_mutex_unlock(&l->chain_mu);
    cJSON_Delete(fields);
    return rc;
}

/* ---- writer thread ---- */

static uint64_t count_newlines(const char *p, size_t n)
{
    uint64_t c = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        c++;
        p++;
    }
    return c;
}

struct wresult {
    uint64_t lines, bytes, errors;
};

/* Write ring bytes [from, to) (whole lines) to fd and account for them. Called unlocked. */
static void write_span(struct cd_seclog *l, uint64_t from, uint64_t to, struct wresult *r)
{
    size_t n = (size_t)(to - from), off = (size_t)(from % l->ring_size);
    size_t first = n < l->ring_size - off ? n : l->ring_size - off;
    struct iovec iov[2] = {{l->ring + off, first}, {l->ring, n - first}};
    struct iovec *v = iov;
    int nv = n - first ? 2 : 1;
    size_t done = 0;
    while (done < n) {
        ssize_t w = writev(l->fd, v, nv);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
        while (nv && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            nv--;
        }
        if (nv) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    uint64_t lines = count_newlines(l->ring + off, first) + count_newlines(l->ring, n - first);
    if (done == n) {
        r->lines += lines;
        r->bytes += n;
    } else {
        size_t d1 = done < first ? done : first;
        uint64_t whole = count_newlines(l->ring + off, d1) + count_newlines(l->ring, done - d1);
        r->lines += whole;
        r->bytes += done;
        r->errors += lines - whole;
        char last = done ? l->ring[(from + done - 1) % l->ring_size] : '\n';
        if (last != '\n' && write(l->fd, "\n", 1) == 1)
            r->bytes++; /* end the cut line so that the next one starts on its own */
    }
    if (l->fsync && done)
        fdatasync(l->fd);
}

/* q_mu held: wait up to GATHER_MS for more lines, unless someone waits for the writer. */
static void gather(struct cd_seclog *l)
{
    struct timespec ts;
    if (l->stop || l->flushers || l->head - l->tail >= l->cap / 2)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += GATHER_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    l->state = W_GATHERING;
    pthread_cond_timedwait(&l->work, &l->q_mu, &ts);
    l->state = W_BUSY;
}

static void *writer_main(void *arg)
{
    struct cd_seclog *l = arg;
    pthread_mutex_lock(&l->q_mu);
    for (;;) {
        while ((!has_work(l) || l->held) && !l->stop) {
            l->state = W_IDLE;
            pthread_cond_wait(&l->work, &l->q_mu);
            l->state = W_BUSY;
        }
        if (!has_work(l))
            break; /* stopping, and everything is written */
        gather(l);
        uint64_t from = l->tail, to = l->head;
        struct switch_rec *sw = l->switches;
        if (sw && sw->pos < to)
            to = sw->pos;
        pthread_mutex_unlock(&l->q_mu);

        struct wresult r = {0, 0, 0};
        if (to > from)
            write_span(l, from, to, &r);
        if (sw && sw->pos == to) {
            close(l->fd);
            l->fd = sw->fd;
        } else {
            sw = NULL;
        }

        pthread_mutex_lock(&l->q_mu);
        l->tail = to;
        if (sw) {
            l->switches = sw->next;
            if (!l->switches)
                l->switches_tail = &l->switches;
            free(sw);
        }
        l->st.lines += r.lines;
        l->st.bytes += r.bytes;
        l->st.write_errors += r.errors;
        if (r.errors)
            l->io_error = 1;
        if (!has_work(l))
            pthread_cond_broadcast(&l->done);
    }
    pthread_mutex_unlock(&l->q_mu);
    return NULL;
}

/* ---- opening: continue the chain of an existing file ---- */

static int pread_all(int fd, char *p, size_t n, off_t at)
{
    while (n) {
        ssize_t r = pread(fd, p, n, at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return CD_EIO;
        p += r;
        n -= (size_t)r;
        at += r;
    }
    return CD_OK;
}

struct tail {
    char hash[HASH_HEX + 1]; /* of the last line */
    int ends_with_newline;
    int has_seq; /* the last line is a JSON object with a usable seq */
    uint64_t seq;
};

/* Find the last line of the size-byte file fd without reading more than that line (plus one
 * chunk), hash it, and parse its seq if it is short enough to be one of ours. */
static int read_tail(int fd, off_t size, struct tail *t)
{
    int rc = CD_OK;
    char *chunk = malloc(TAIL_CHUNK);
    char *line = malloc(CD_SECLOG_LINE_MAX + 1);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    cJSON *o = NULL;
    memset(t, 0, sizeof(*t));
    if (!chunk || !line || !ctx || !sha256) {
        rc = CD_ENOMEM;
        goto out;
    }
    char last;
    rc = pread_all(fd, &last, 1, size - 1);
    if (rc)
        goto out;
    t->ends_with_newline = last == '\n';
    off_t end = t->ends_with_newline ? size - 1 : size, start = 0, pos = end;
    while (pos > 0) {
        size_t n = pos > (off_t)TAIL_CHUNK ? TAIL_CHUNK : (size_t)pos;
        rc = pread_all(fd, chunk, n, pos - (off_t)n);
        if (rc)
            goto out;
        char *nl = memrchr(chunk, '\n', n);
        if (nl) {
            start = pos - (off_t)n + (nl - chunk) + 1;
            break;
        }
        pos -= (off_t)n;
    }
    size_t kept = 0;
    if (!EVP_DigestInit_ex2(ctx, sha256, NULL)) {
        rc = CD_EUNAVAIL;
        goto out;
    }
    for (off_t at = start; at < end;) {
        size_t n = end - at > (off_t)TAIL_CHUNK ? TAIL_CHUNK : (size_t)(end - at);
        rc = pread_all(fd, chunk, n, at);
        if (rc)
            goto out;
        if (!EVP_DigestUpdate(ctx, chunk, n)) {
            rc = CD_EUNAVAIL;
            goto out;
        }
        if (end - start <= CD_SECLOG_LINE_MAX) {
            memcpy(line + kept, chunk, n);
            kept += n;
        }
        at += (off_t)n;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    if (!EVP_DigestFinal_ex(ctx, md, NULL)) {
        rc = CD_EUNAVAIL;
        goto out;
    }
    to_hex(md, t->hash);
    if (end - start <= CD_SECLOG_LINE_MAX && (o = cJSON_ParseWithLength(line, kept))) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
        if (cJSON_IsObject(o) && cJSON_IsNumber(seq) && seq->valuedouble >= 0 &&
            seq->valuedouble < 9007199254740992.0 &&
            seq->valuedouble == (double)(uint64_t)seq->valuedouble) {
            t->has_seq = 1;
            t->seq = (uint64_t)seq->valuedouble;
        }
    }
out:
    cJSON_Delete(o);
    EVP_MD_free(sha256);
    EVP_MD_CTX_free(ctx);
    free(line);
    free(chunk);
    return rc;
}

int cd_seclog_open(struct cd_seclog **out, const char *path, const struct cd_seclog_opts *opts)
{
    int rc = CD_OK;
    struct cd_seclog *l = NULL;
    struct stat st;
    const char *reason = NULL;
    pthread_condattr_t ca;
    if (!out)
        return CD_EINVAL;
    *out = NULL;
    if (!path || !*path)
        return CD_EINVAL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return CD_ENOMEM;
    l->fd = -1;
    l->switches_tail = &l->switches;
    l->cap = opts && opts->queue_bytes ? opts->queue_bytes : CD_SECLOG_QUEUE_DEFAULT;
    if (l->cap < CD_SECLOG_LINE_MAX + 1)
        l->cap = CD_SECLOG_LINE_MAX + 1;
    l->ring_size = l->cap + ANCHOR_RESERVE;
    l->fsync = opts ? opts->fsync : 0;
    cd_buf_init(&l->line, CD_SECLOG_LINE_MAX + 1);
    memset(l->prev, '0', HASH_HEX);
    pthread_mutex_init(&l->chain_mu, NULL);
    pthread_mutex_init(&l->q_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* for the gathering timeout */
    pthread_cond_init(&l->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&l->done, NULL);
    l->path = strdup(path);
    l->ring = malloc(l->ring_size);
    l->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    l->mdctx = EVP_MD_CTX_new();
    if (!l->path || !l->ring || !l->sha256 || !l->mdctx) {
        rc = CD_ENOMEM;
        goto out;
    }
    rc = make_parent_dirs(path);
    if (!rc)
        rc = open_locked(path, &l->fd, &st);
    if (rc)
        goto out;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    if (st.st_size == 0) {
        reason = "new";
    } else {
        struct tail t;
        rc = read_tail(l->fd, st.st_size, &t);
        if (rc)
            goto out;
        if (!t.ends_with_newline && write(l->fd, "\n", 1) != 1) {
            rc = CD_EIO;
            goto out;
        }
        memcpy(l->prev, t.hash, HASH_HEX + 1);
        if (t.has_seq)
            l->seq = t.seq + 1;
        else
            reason = "damaged_tail";
    }
    if (reason) {
        rc = anchor_line(l, reason);
        if (!rc)
            rc = enqueue_line(l, ADMIT_ANCHOR, NULL); /* the ring is empty: it fits */
        if (rc < 0)
            goto out;
        rc = CD_OK;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay with the event loop */
    int e = pthread_create(&l->thread, NULL, writer_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        rc = CD_ENOMEM;
        goto out;
    }
    l->started = 1;
    pthread_setname_np(l->thread, "cd-seclog"); /* shows in top -H and perf */
out:
    if (rc) {
        cd_seclog_free(l);
        l = NULL;
    }
    *out = l;
    return rc;
}

int cd_seclog_reopen(struct cd_seclog *l)
{
    int rc = CD_OK, fd = -1;
    struct switch_rec *sw = NULL;
    struct stat st;
    if (!l)
        return CD_EINVAL;
    pthread_mutex_lock(&l->chain_mu);
    if (stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
        goto out; /* not renamed: keep writing where we are */
    rc = make_parent_dirs(l->path);
    if (!rc)
        rc = open_locked(l->path, &fd, &st);
    if (!rc)
        rc = anchor_line(l, "rotate");
    if (rc)
        goto out;
    sw = calloc(1, sizeof(*sw));
    if (!sw) {
        rc = CD_ENOMEM;
        goto out;
    }
    sw->fd = fd;
    rc = enqueue_line(l, ADMIT_ANCHOR, sw);
    if (rc <= 0) {
        /* 0: even the anchor reserve is full (rotations faster than the disk) */
        rc = rc ? rc : CD_ELIMIT;
        goto out;
    }
    rc = CD_OK;
    sw = NULL;
    fd = -1;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
out:
    pthread_mutex_unlock(&l->chain_mu);
    free(sw);
    if (fd >= 0)
        close(fd);
    return rc;
}

static void wait_written(struct cd_seclog *l)
{
    pthread_mutex_lock(&l->q_mu);
    l->flushers++;
    if (l->state == W_GATHERING)
        pthread_cond_signal(&l->work);
    while (has_work(l))
        pthread_cond_wait(&l->done, &l->q_mu);
    l->flushers--;
    pthread_mutex_unlock(&l->q_mu);
}

int cd_seclog_flush(struct cd_seclog *l)
{
    int rc;
    if (!l)
        return CD_EINVAL;
    wait_written(l);
    pthread_mutex_lock(&l->chain_mu);
    rc = emit_drops(l);
    pthread_mutex_unlock(&l->chain_mu);
    wait_written(l);
    pthread_mutex_lock(&l->q_mu);
    if (l->io_error && !rc)
        rc = CD_EIO;
    l->io_error = 0;
    pthread_mutex_unlock(&l->q_mu);
    return rc;
}

void cd_seclog_stats_get(struct cd_seclog *l, struct cd_seclog_stats *out)
{
    pthread_mutex_lock(&l->q_mu);
    *out = l->st;
    out->queued_bytes = l->head - l->tail;
    pthread_mutex_unlock(&l->q_mu);
}

void cd_seclog_hold_writer(struct cd_seclog *l, int hold)
{
    pthread_mutex_lock(&l->q_mu);
    l->held = hold;
    if (!hold && l->state == W_IDLE)
        pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&l->q_mu);
}

void cd_seclog_free(struct cd_seclog *l)
{
    if (!l)
        return;
    if (l->started) {
        cd_seclog_hold_writer(l, 0);
        cd_seclog_flush(l);
        pthread_mutex_lock(&l->q_mu);
        l->stop = 1;
        pthread_cond_signal(&l->work);
        pthread_mutex_unlock(&l->q_mu);
        pthread_join(l->thread, NULL);
    }
    for (struct switch_rec *sw = l->switches, *next; sw; sw = next) {
        next = sw->next;
        close(sw->fd);
        free(sw);
    }
    if (l->fd >= 0)
        close(l->fd);
    pthread_cond_destroy(&l->done);
    pthread_cond_destroy(&l->work);
    pthread_mutex_destroy(&l->q_mu);
    pthread_mutex_destroy(&l->chain_mu);
    cd_buf_cleanup(&l->line);
    EVP_MD_CTX_free(l->mdctx);
    EVP_MD_free(l->sha256);
    free(l->ring);
    free(l->fields);
    free(l->path);
    free(l);
}

/* ---- verification ---- */

struct verify {
    FILE *report;
    const char *prefix; /* "path: " when several files are reported together, else "" */
    const char *expect_prev;
    long lineno, bad, problems;
    char prev_hash[HASH_HEX + 1]; /* hash of the line above ("" before line 1) */
    int prev_seq_ok;
    uint64_t prev_seq;
};

static void problem(struct verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct verify *v, const char *fmt, ...)
{
    v->problems++;
    if (!v->bad)
        v->bad = v->lineno;
    if (!v->report || v->problems > REPORT_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(v->report, "%sline %ld: ", v->prefix, v->lineno);
    vfprintf(v->report, fmt, ap);
    fputc('\n', v->report);
    va_end(ap);
}

static int seq_value(const cJSON *seq, uint64_t *out)
{
    if (!cJSON_IsNumber(seq) || !(seq->valuedouble >= 0) ||
        !(seq->valuedouble < 9007199254740992.0) ||
        seq->valuedouble != (double)(uint64_t)seq->valuedouble)
        return 0;
    *out = (uint64_t)seq->valuedouble;
    return 1;
}

/* Check one line: its own syntax, then its link to the line above. len <= LINE_MAX unless
 * too_long; terminated: it ended with a newline. */
static void check_line(struct verify *v, const char *line, size_t len, int too_long, int terminated,
                       const char hash[HASH_HEX + 1])
{
    cJSON *o = NULL;
    uint64_t seq = 0;
    int seq_ok = 0;
    v->lineno++;
    if (too_long) {
        problem(v, "longer than %d bytes: not a line of this log", CD_SECLOG_LINE_MAX);
        goto out;
    }
    if (!terminated) {
        problem(v, "cut off: no newline at the end of the file (an interrupted write?)");
        goto out;
    }
    o = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(o)) {
        problem(v, "not a JSON object");
        goto out;
    }
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(o, "event");
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(o, "prev");
    seq_ok = seq_value(cJSON_GetObjectItemCaseSensitive(o, "seq"), &seq);
    if (!seq_ok) {
        problem(v, "no valid \"seq\"");
        goto out;
    }
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "time"))) {
        problem(v, "no \"time\"");
        goto out;
    }
    if (!cJSON_IsString(event)) {
        problem(v, "no \"event\"");
        goto out;
    }
    if (!cJSON_IsString(prev) || !is_hash_hex(prev->valuestring)) {
        problem(v, "no valid \"prev\" (64 lower-case hex digits)");
        goto out;
    }
    if (v->lineno == 1) {
        if (strcmp(event->valuestring, "chain_start"))
            problem(v, "the file does not start with a chain_start line (lines were removed "
                       "from its start?)");
        else if (v->expect_prev && strcmp(prev->valuestring, v->expect_prev))
            problem(v, "chain_start prev is not the last hash of the file before (lines were "
                       "removed from the end of that file, or the files are not consecutive)");
        goto out;
    }
    if (strcmp(prev->valuestring, v->prev_hash)) {
        problem(v,
                "prev does not match the hash of line %ld (line %ld was edited, or lines were "
                "removed, inserted or moved here)",
                v->lineno - 1, v->lineno - 1);
        goto out;
    }
    if (v->prev_seq_ok && seq != v->prev_seq + 1)
        problem(v, "seq is %" PRIu64 ", expected %" PRIu64 " (a line was removed or moved)", seq,
                v->prev_seq + 1);
out:
    cJSON_Delete(o);
    memcpy(v->prev_hash, hash, HASH_HEX + 1);
    v->prev_seq_ok = seq_ok;
    v->prev_seq = seq;
}

static int verify_file(const char *path, const char *expect_prev, char last_hash[HASH_HEX + 1],
                       FILE *report, const char *prefix, long *bad_line)
{
    int rc = CD_OK;
    struct verify v;
    FILE *f = NULL;
    char *chunk = malloc(TAIL_CHUNK), *line = malloc(CD_SECLOG_LINE_MAX);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hash[HASH_HEX + 1];
    size_t len = 0, n;
    int too_long = 0, in_line = 0, md_ok = 1; /* md_ok: libcrypto has not failed */
    memset(&v, 0, sizeof(v));
    v.report = report;
    v.prefix = prefix;
    v.expect_prev = expect_prev;
    if (last_hash)
        last_hash[0] = '\0';
    if (!chunk || !line || !ctx || !sha256) {
        rc = CD_ENOMEM;
        goto out;
    }
    if (!path || (expect_prev && !is_hash_hex(expect_prev))) {
        rc = CD_EINVAL;
        goto out;
    }
    f = fopen(path, "rb");
    if (!f) {
        if (report)
            fprintf(report, "%scannot open %s: %s\n", prefix, path, strerror(errno));
        rc = CD_EIO;
        goto out;
    }
    md_ok &= EVP_DigestInit_ex2(ctx, sha256, NULL);
    while ((n = fread(chunk, 1, TAIL_CHUNK, f)) > 0) {
        for (size_t i = 0; i < n;) {
            const char *nl = memchr(chunk + i, '\n', n - i);
            size_t seg = nl ? (size_t)(nl - (chunk + i)) : n - i;
            md_ok &= EVP_DigestUpdate(ctx, chunk + i, seg);
            if (seg > CD_SECLOG_LINE_MAX - len) {
                too_long = 1;
            } else {
                memcpy(line + len, chunk + i, seg);
                len += seg;
            }
            in_line = 1;
            i += seg;
            if (!nl)
                continue;
            md_ok &= EVP_DigestFinal_ex(ctx, md, NULL);
            to_hex(md, hash);
            check_line(&v, line, len, too_long, 1, hash);
            md_ok &= EVP_DigestInit_ex2(ctx, sha256, NULL);
            len = 0;
            too_long = in_line = 0;
            i++;
        }
    }
    if (ferror(f)) {
        if (report)
            fprintf(report, "%scannot read %s: %s\n", prefix, path, strerror(errno));
        rc = CD_EIO;
        goto out;
    }
    if (in_line) {
        md_ok &= EVP_DigestFinal_ex(ctx, md, NULL);
        to_hex(md, hash);
        check_line(&v, line, len, too_long, 0, hash);
    }
    if (!md_ok) {
        rc = CD_EUNAVAIL; /* hashes cannot be trusted: report nothing */
        goto out;
    }
    if (v.lineno == 0) {
        v.lineno = 1;
        problem(&v, "the file is empty (no chain_start line)");
        v.lineno = 0;
    }
    if (last_hash)
        memcpy(last_hash, v.prev_hash, HASH_HEX + 1);
    if (v.problems) {
        if (report && v.problems > REPORT_MAX)
            fprintf(report, "%s... %ld problems in all\n", prefix, v.problems);
        rc = CD_EPARSE;
    } else if (report) {
        fprintf(report, "%sok: %ld lines, chain intact (last hash %s)\n", prefix, v.lineno,
                v.prev_hash);
    }
out:
    if (bad_line)
        *bad_line = rc == CD_EPARSE ? v.bad : 0;
    if (f)
        fclose(f);
    EVP_MD_free(sha256);
    EVP_MD_CTX_free(ctx);
    free(line);
    free(chunk);
    return rc;
}

int cd_seclog_verify_file(const char *path, const char *expect_prev, char last_hash[65],
                          FILE *report, long *bad_line)
{
    return verify_file(path, expect_prev, last_hash, report, "", bad_line);
}

int cd_seclog_verify(const char *path, FILE *report, long *bad_line)
{
    return verify_file(path, NULL, NULL, report, "", bad_line);
}

int cd_seclog_verify_main(int argc, char **argv)
{
    char last[HASH_HEX + 1] = "", expect[HASH_HEX + 1] = "", prefix[1100];
    int exit_code = 0, have_last = 0;
    if (argc < 3 || strcmp(argv[1], "verify")) {
        fprintf(stderr, "usage: collabd audit verify FILE [FILE...]\n"
                        "  checks the hash chain of security logs; give rotated files oldest "
                        "first\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        long bad = 0;
        if (argc > 3)
            snprintf(prefix, sizeof(prefix), "%s: ", argv[i]);
        else
            prefix[0] = '\0';
        memcpy(expect, last, sizeof(expect));
        int rc = verify_file(argv[i], have_last ? expect : NULL, last, stdout, prefix, &bad);
        have_last = last[0] != '\0';
        if (rc == CD_EPARSE && exit_code < 1)
            exit_code = 1;
        else if (rc && rc != CD_EPARSE)
            exit_code = 2;
    }
    fflush(stdout);
    return exit_code;
}
