/*
 * loadgen.c: native WebSocket load generator for collabd's protocol (and for the Node peer in
 * bench/node-authority, which speaks the same protocol), and for the Yjs sync protocol of the
 * y-websocket and Hocuspocus peers (bench/yjs-peers).
 *
 * One thread, libwebsockets as a client on a libuv loop (epoll), so that it is not the
 * bottleneck; it reports its own CPU time against wall time to show it.
 *
 *   loadgen --url ws://127.0.0.1:PORT --rooms R --editors K --rate PUSHES_PER_SEC --seconds S
 *           [--pid PID[,PID]]              read the servers' VmRSS and CPU time around the run
 *                                          (collabd and its redis-server: the sum)
 *           [--mix]                        room r has 2 + r % (K-1) editors (2..K) instead of K
 *           [--idle]                       connect, push nothing, report RSS/connection
 *           [--storm]                      connect, then drop every connection at once and
 *                                          reconnect them all at once: time until all are synced
 *           [--join FILE --joins N]        one room whose document is FILE; join it N times in
 *                                          turn, timing upgrade request -> whole sync; with
 *                                          --editors K --rate R, K editors then edit that room
 *           [--url2 ws://127.0.0.1:PORT2]  odd editors connect to this second instance
 *           [--yjs FRAMES --proto ywebsocket|hocuspocus]
 *                                          speak the Yjs sync protocol (see below); --join then
 *                                          names a seed file written by frames.mjs seed
 *
 * collabd mode: creates R sessions with POST /sessions (a blocking HTTP/1.1 request on a plain
 * socket), connects the editors (at most 128 handshakes at a time), waits until all have their
 * `sync`, then hands out PUSHES_PER_SEC tokens per second round-robin over all editors for S
 * seconds. An editor that holds a token pushes a one-character insert at its synced version
 * (version tracked from `update` messages; the document length follows, since every update is
 * a one-unit insert), with clientID "e<editor>-<seq>". Like a CodeMirror client it keeps at
 * most one push in flight: a token arriving while one is in flight is kept (one at most) and
 * used as soon as its own update comes back; a further one is counted as skipped. The send
 * time of every push is kept in a per-editor ring keyed by seq, so every receiver recovers the
 * push->delivery latency from the clientID of the `update` it gets: push->own delivery (the
 * sender) and push->delivery at the others are reported apart; with --url2, the deliveries
 * between editors on different instances (through Redis) also apart, as cross. After S seconds
 * pushing stops
 * and in-flight pushes get up to 3 s to come back.
 *
 * Yjs mode: no sessions; room r is the document "<nonce>-r<r>" (the URL path for y-websocket,
 * the name at the head of every frame for Hocuspocus; nonce: new per run, so documents and
 * client clocks never collide). On connect an editor sends the Auth message (Hocuspocus) and
 * SyncStep1 with an empty state vector, answers the server's SyncStep1 with an empty SyncStep2,
 * and counts as synced when the server's SyncStep2 arrives. Its pushes are the precomputed
 * updates of FRAMES (bench/yjs-peers/frames.mjs: editor i is clientID base+i and its push seq
 * is the update starting at clock (seq-1)*chars), sent as sync-protocol Update messages. Both
 * servers apply each update and broadcast it to every connection of the room, the sender
 * included, so the same bookkeeping holds: a delivery is recognised by the clientID and clock at
 * the head of the update. An editor that has used all its frames skips its tokens.
 *
 * Output: a human summary on stderr and one line `RESULT {json}` on stdout.
 * Every loop is bounded: connection phase 120 s, run S s, drain 3 s, storm 60 s.
 */
#include <libwebsockets.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING                  64
#define MAX_INFLIGHT_CONNECTS 128
#define CONNECT_PHASE_S       120.0
#define DRAIN_S               3.0
/* Connections are spread over NCTX lws contexts on the one libuv loop: lws 4.1 keeps each
 * context's pending timeouts in one sorted list, and 2,000 connections opened at once in one
 * context cost O(n^2) insertions (a perf profile of the reconnect storm: 36 % of the load
 * generator's CPU in lws_dll2_add_sorted). */
#define NCTX 16

/* ---------- clock ---------- */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------- latency histogram: 1 us buckets to 200 ms, then 1 ms buckets to 60 s ---------- */
#define H_FINE   200000u
#define H_COARSE 60000u
struct hist {
    uint32_t fine[H_FINE];
    uint32_t coarse[H_COARSE];
    uint64_t over, n;
    double sum;
};
static void hist_add(struct hist *h, uint64_t us)
{
    h->n++;
    h->sum += (double)us;
    if (us < H_FINE)
        h->fine[us]++;
    else if (us / 1000 < H_COARSE)
        h->coarse[us / 1000]++;
    else
        h->over++;
}
static double hist_pct(const struct hist *h, double p)
{
    if (!h->n)
        return -1;
    uint64_t want = (uint64_t)(p * (double)h->n);
    if (want >= h->n)
        want = h->n - 1;
    uint64_t acc = 0;
    for (uint32_t i = 0; i < H_FINE; i++) {
        acc += h->fine[i];
        if (acc > want)
            return i;
    }
    for (uint32_t i = H_FINE / 1000; i < H_COARSE; i++) {
        acc += h->coarse[i];
        if (acc > want)
            return (double)i * 1000.0;
    }
    return (double)H_COARSE * 1000.0;
}

/* ---------- state ---------- */
#define OUTQ 4
struct out {
    unsigned char *buf; /* LWS_PRE headroom, then len bytes; owned by the queue */
    size_t len;
    uint32_t seq; /* a push to time when written, or 0 */
    int binary;
};
struct editor {
    struct lws *wsi;
    int idx, room, state; /* 0 idle/not started, 1 connecting, 2 synced, 3 closed */
    int tries;
    long version, base_ver, base_len;
    int inflight, pending;
    uint32_t seq;
    uint64_t sent_ns[RING];
    uint32_t sent_seq[RING];
    char *rx;
    size_t rxlen, rxcap;
    struct out q[OUTQ];
    int qh, qn;
    uint64_t connect_ns, sync_ns;
    size_t sync_bytes;
};

enum proto { P_COLLAB, P_YWS, P_HOCUS };

static struct {
    char host[128];
    int port, port2; /* --url2: odd editors connect there (two instances sharing one Redis) */
    int rooms, editors, seconds, idle, storm, mix, joins;
    int pids[4], n_pids;
    double rate;
    enum proto proto;
    const char *join_file;
    char **room_ids;
    struct editor *ed;
    int n_ed;
    /* load editors are ed[first_load .. first_load + n_load); joiners come first, a Yjs seeder
     * (the editor that uploads the big document and stays connected) last */
    int first_load, n_load, seeder;
    int next_connect, connecting, synced, synced_load, closed_early, connect_errors, retries;
    uv_loop_t loop;
    uv_timer_t tick;
    struct lws_context *ctx[NCTX];
    int phase; /* 0 connect, 1 run, 2 drain, 3 done, 4 storm */
    uint64_t phase_start, run_start, run_end;
    uint64_t issued, pushes, skipped, deliveries_in_window, deliveries, gaps, errors, unmatched;
    uint64_t other_msgs, bytes_in_window;
    char err_codes[8][32];
    uint64_t err_counts[8];
    struct hist *own, *others, *cross; /* cross: others on the other instance (--url2) */
    size_t rr;
    /* Yjs frames (frames.mjs edits): frame j of client c at yf_off[c * yf_frames + j] */
    unsigned char *yf;
    uint32_t yf_clients, yf_frames, yf_chars, yf_base;
    size_t *yf_off;
    unsigned char *seed; /* frames.mjs seed: one update */
    size_t seed_len;
    int seed_applied;
    char nonce[24];
    /* join mode */
    int join_done;
    double *join_ms;
    /* storm */
    uint64_t storm_start;
    int storm_synced;
    /* cpu */
    struct rusage ru0, ru1;
    long srv_rss_start, srv_rss0, srv_rss1;
    double srv_cpu0, srv_cpu1, pid_cpu0[4], pid_cpu1[4];
} G;

static void die(const char *m)
{
    fprintf(stderr, "loadgen: %s\n", m);
    exit(2);
}

static int is_load(const struct editor *e)
{
    return e->idx >= G.first_load && e->idx < G.first_load + G.n_load;
}
static int is_joiner(const struct editor *e)
{
    return e->idx < G.first_load;
}

static long parse_long(const char *v, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "loadgen: bad %s: %s\n", what, v);
        exit(2);
    }
    return n;
}

/* ---------- /proc of the servers (every --pid; the figures are summed) ---------- */
static long proc_rss_kb1(int pid)
{
    char path[64], line[256];
    long kb = -1;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}
static double proc_cpu_s1(int pid)
{
    char path[64], buf[1024];
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14)
     * stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
/* The sum over every --pid of VmRSS in kB (rss) or CPU seconds, -1 if none could be read;
 * each pid's own figure in per[] when per is not NULL. */
static double proc_sum(int rss, double *per)
{
    double sum = -1;
    for (int i = 0; i < G.n_pids; i++) {
        double v = rss ? (double)proc_rss_kb1(G.pids[i]) : proc_cpu_s1(G.pids[i]);
        if (per)
            per[i] = v;
        if (v >= 0)
            sum = (sum < 0 ? 0 : sum) + v;
    }
    return sum;
}
static long proc_rss_kb(void)
{
    return (long)proc_sum(1, NULL);
}
/* ,"server_cpu_s_by_pid":[...]: each server process's CPU seconds over the window, in --pid
 * order (collabd Redis: collabd, then redis-server). */
static void pid_cpu_json(FILE *o)
{
    fprintf(o, ",\"server_cpu_s_by_pid\":[");
    for (int i = 0; i < G.n_pids; i++)
        fprintf(o, "%s%.3f", i ? "," : "", G.pid_cpu1[i] - G.pid_cpu0[i]);
    fprintf(o, "]");
}
static double ru_s(const struct rusage *r)
{
    return (double)r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 + (double)r->ru_stime.tv_sec +
           r->ru_stime.tv_usec / 1e6;
}

/* ---------- blocking HTTP POST /sessions ---------- */
static int create_session(const char *body, size_t blen, char *id, size_t idsz)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)G.port);
    inet_pton(AF_INET, G.host, &a.sin_addr);
    struct timeval tv = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    char hdr[512];
    int hl = snprintf(hdr, sizeof hdr,
                      "POST /sessions HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      G.host, G.port, blen);
    const char *parts[2] = {hdr, body};
    size_t lens[2] = {(size_t)hl, blen};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        for (int guard = 0; off < lens[i] && guard < 1000000; guard++) {
            ssize_t w = write(fd, parts[i] + off, lens[i] - off);
            if (w <= 0) {
                close(fd);
                return -1;
            }
            off += (size_t)w;
        }
    }
    char resp[8192];
    size_t got = 0;
    for (int guard = 0; got < sizeof resp - 1 && guard < 10000; guard++) {
        ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        resp[got] = 0;
        char *hend = strstr(resp, "\r\n\r\n");
        char *cl = strcasestr(resp, "content-length:");
        if (hend && cl && cl < hend &&
            got >= (size_t)(hend + 4 - resp) + strtoul(cl + 15, NULL, 10))
            break;
    }
    close(fd);
    resp[got] = 0;
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || status != 201) {
        fprintf(stderr, "loadgen: POST /sessions answered %d: %.200s\n", status, resp);
        return -1;
    }
    char *p = strstr(resp, "\"id\":\"");
    if (!p)
        return -1;
    p += 6;
    char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= idsz)
        return -1;
    memcpy(id, p, (size_t)(q - p));
    id[q - p] = 0;
    return 0;
}

/* ---------- tiny JSON field readers (our messages only; bounded by n) ---------- */
static const char *field(const char *p, size_t n, const char *key)
{
    return memmem(p, n, key, strlen(key));
}
static long field_long(const char *p, size_t n, const char *key, long dflt)
{
    const char *f = field(p, n, key);
    if (!f)
        return dflt;
    return strtol(f + strlen(key), NULL, 10);
}
static size_t utf16_len_of_json_string(const char *s, const char *end)
{
    size_t units = 0;
    for (const char *c = s; c < end && *c != '"'; c++) {
        unsigned char u = (unsigned char)*c;
        if (u == '\\') {
            c++;
            if (c < end && *c == 'u')
                c += 4;
            units++;
        } else if ((u & 0xC0) == 0x80) {
            continue;
        } else if (u >= 0xF0) {
            units += 2;
        } else {
            units++;
        }
    }
    return units;
}

static void record_error(const char *p, size_t n)
{
    G.errors++;
    const char *c = field(p, n, "\"code\":\"");
    char code[32] = "?";
    if (c) {
        c += 8;
        size_t i = 0;
        while (i < sizeof code - 1 && c + i < p + n && c[i] != '"') {
            code[i] = c[i];
            i++;
        }
        code[i] = 0;
    }
    for (int i = 0; i < 8; i++) {
        if (!G.err_codes[i][0])
            snprintf(G.err_codes[i], sizeof G.err_codes[i], "%s", code);
        if (!strcmp(G.err_codes[i], code)) {
            G.err_counts[i]++;
            return;
        }
    }
}

/* ---------- outgoing queue (a few frames per editor; written one per writable callback) ----------
 */
static void enqueue(struct editor *e, const void *data, size_t len, int binary, uint32_t seq)
{
    if (e->qn == OUTQ || !e->wsi) {
        if (seq)
            e->inflight = 0;
        G.skipped++;
        return;
    }
    unsigned char *b = malloc(LWS_PRE + len);
    if (!b)
        die("out of memory");
    memcpy(b + LWS_PRE, data, len);
    struct out *o = &e->q[(e->qh + e->qn++) % OUTQ];
    o->buf = b;
    o->len = len;
    o->seq = seq;
    o->binary = binary;
    lws_callback_on_writable(e->wsi);
}
static void drop_queue(struct editor *e)
{
    for (; e->qn; e->qn--, e->qh = (e->qh + 1) % OUTQ)
        free(e->q[e->qh].buf);
    e->qh = 0;
}

/* ---------- lib0 encoding (the Yjs sync protocol's framing) ---------- */
static size_t put_varuint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v > 0x7f) {
        p[n++] = (unsigned char)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}
static const unsigned char *get_varuint(const unsigned char *p, const unsigned char *end,
                                        uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
        unsigned char c = *p++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return p;
        }
    }
    return NULL;
}
/* The frame head: Hocuspocus starts every message with the document name. */
static size_t yjs_head(const struct editor *e, unsigned char *p)
{
    size_t n = 0;
    if (G.proto == P_HOCUS) {
        const char *name = G.room_ids[e->room];
        size_t l = strlen(name);
        n += put_varuint(p, l);
        memcpy(p + n, name, l);
        n += l;
    }
    return n;
}
/* Sends [head] 0 (sync) SUB [varuint len, data]: SyncStep1 (0), SyncStep2 (1), Update (2). */
static void yjs_send_sync(struct editor *e, unsigned sub, const unsigned char *data, size_t len,
                          uint32_t seq)
{
    unsigned char small[512];
    size_t cap = len + 160;
    unsigned char *b = cap <= sizeof small ? small : malloc(cap);
    if (!b)
        die("out of memory");
    size_t n = yjs_head(e, b);
    b[n++] = 0;
    b[n++] = (unsigned char)sub;
    n += put_varuint(b + n, len);
    memcpy(b + n, data, len);
    n += len;
    enqueue(e, b, n, 1, seq);
    if (b != small)
        free(b);
}
static void yjs_hello(struct editor *e)
{
    if (G.proto == P_HOCUS) { /* Auth: type 2, Token (0), empty token */
        unsigned char b[160];
        size_t n = yjs_head(e, b);
        b[n++] = 2;
        b[n++] = 0;
        b[n++] = 0;
        enqueue(e, b, n, 1, 0);
    }
    static const unsigned char empty_sv[1] = {0};
    yjs_send_sync(e, 0, empty_sv, sizeof empty_sv, 0);
    if (e == &G.ed[G.seeder] && G.seed)
        yjs_send_sync(e, 2, G.seed, G.seed_len, 0);
}

/* ---------- pushing ---------- */
static void push(struct editor *e)
{
    if (G.proto != P_COLLAB) {
        if (e->seq >= G.yf_frames || (uint32_t)e->idx >= G.yf_clients) {
            G.skipped++;
            return;
        }
        uint32_t seq = ++e->seq;
        size_t off = G.yf_off[(size_t)e->idx * G.yf_frames + (seq - 1)];
        uint32_t len;
        memcpy(&len, G.yf + off, 4);
        e->inflight = 1;
        e->sent_seq[seq % RING] = seq;
        e->sent_ns[seq % RING] = 0; /* stamped when written */
        G.pushes++;
        yjs_send_sync(e, 2, G.yf + off + 4, len, seq);
        return;
    }
    long len = e->base_len + (e->version - e->base_ver);
    uint32_t seq = ++e->seq;
    long pos =
        (long)(((uint64_t)seq * 2654435761u + (uint64_t)e->idx * 40503u) % (uint64_t)(len + 1));
    char ch[64], msg[256];
    if (len == 0)
        snprintf(ch, sizeof ch, "[[0,\"x\"]]");
    else if (pos == 0)
        snprintf(ch, sizeof ch, "[[0,\"x\"],%ld]", len);
    else if (pos == len)
        snprintf(ch, sizeof ch, "[%ld,[0,\"x\"]]", len);
    else
        snprintf(ch, sizeof ch, "[%ld,[0,\"x\"],%ld]", pos, len - pos);
    int n = snprintf(msg, sizeof msg,
                     "{\"type\":\"push\",\"version\":%ld,\"updates\":[{\"clientID\":\"e%d-%u\","
                     "\"changes\":%s}]}",
                     e->version, e->idx, seq, ch);
    e->inflight = 1;
    e->sent_seq[seq % RING] = seq;
    e->sent_ns[seq % RING] = 0; /* stamped when written */
    G.pushes++;
    enqueue(e, msg, (size_t)n, 0, seq);
}

/* A delivery of push `seq` of editor `idx`, received by e at t. */
static void on_delivery(struct editor *e, long idx, uint32_t seq, size_t bytes, uint64_t t)
{
    G.deliveries++;
    if (G.phase == 1) {
        G.deliveries_in_window++;
        G.bytes_in_window += bytes;
    }
    if (idx < 0 || idx >= G.n_ed) {
        G.unmatched++;
        return;
    }
    struct editor *s = &G.ed[idx];
    if (s->sent_seq[seq % RING] != seq || !s->sent_ns[seq % RING]) {
        G.unmatched++;
    } else {
        uint64_t us = (t - s->sent_ns[seq % RING]) / 1000;
        hist_add(s == e ? G.own : G.others, us);
        if (G.port2 && (s->idx % 2) != (e->idx % 2))
            hist_add(G.cross, us); /* the editors are on different instances */
    }
    if (s == e && seq == e->seq) {
        e->inflight = 0;
        if (e->pending && G.phase == 1) {
            e->pending = 0;
            push(e);
        }
    }
}

static void on_update(struct editor *e, const char *p, size_t n, uint64_t t)
{
    long v = field_long(p, n, "\"version\":", -1);
    if (v > e->version + 1)
        G.gaps++;
    if (v > e->version)
        e->version = v;
    const char *c = field(p, n, "\"clientID\":\"e");
    char *endp = NULL;
    long idx = c ? strtol(c + 13, &endp, 10) : -1;
    if (!c || *endp != '-') {
        on_delivery(e, -1, 0, n, t);
        return;
    }
    on_delivery(e, idx, (uint32_t)strtoul(endp + 1, NULL, 10), n, t);
}

static void mark_synced(struct editor *e, size_t n, uint64_t t)
{
    e->sync_ns = t;
    e->sync_bytes = n;
    if (e->state == 1) {
        e->state = 2;
        G.synced++;
        if (G.phase == 4)
            G.storm_synced++;
        else if (is_load(e))
            G.synced_load++;
    }
}

static void on_message(struct editor *e, const char *p, size_t n)
{
    uint64_t t = now_ns();
    const char *ty = field(p, n, "\"type\":\"");
    if (!ty) {
        G.other_msgs++;
        return;
    }
    ty += 8;
    if (!strncmp(ty, "update\"", 7)) {
        on_update(e, p, n, t);
    } else if (!strncmp(ty, "sync\"", 5)) {
        e->version = e->base_ver = field_long(p, n, "\"version\":", 0);
        const char *d = field(p, n, "\"doc\":\"");
        e->base_len = d ? (long)utf16_len_of_json_string(d + 7, p + n) : 0;
        mark_synced(e, n, t);
    } else if (!strncmp(ty, "error\"", 6)) {
        record_error(p, n);
        e->inflight = 0;
    } else {
        G.other_msgs++;
    }
}

/* A Yjs sync-protocol message: [name] type [sub ...]. */
static void on_yjs_message(struct editor *e, const unsigned char *p, size_t n)
{
    uint64_t t = now_ns();
    const unsigned char *end = p + n, *q = p;
    uint64_t type, sub, len, v;
    if (G.proto == P_HOCUS) {
        if (!(q = get_varuint(q, end, &len)) || len > (uint64_t)(end - q))
            goto other;
        q += len;
    }
    if (!(q = get_varuint(q, end, &type)) || (type != 0 && type != 4) ||
        !(q = get_varuint(q, end, &sub)))
        goto other;
    if (sub == 0) { /* the server's SyncStep1: answer with our (empty) state */
        static const unsigned char empty_update[2] = {0, 0};
        yjs_send_sync(e, 1, empty_update, sizeof empty_update, 0);
        return;
    }
    if (sub == 1) {
        mark_synced(e, n, t);
        return;
    }
    if (sub != 2)
        goto other;
    /* Update: varuint length, then update v1: #clients, #structs, client, clock */
    uint64_t client, clock;
    if (!(q = get_varuint(q, end, &len)) || !(q = get_varuint(q, end, &v)) || v < 1 ||
        !(q = get_varuint(q, end, &v)) || !(q = get_varuint(q, end, &client)) ||
        !(q = get_varuint(q, end, &clock))) {
        G.unmatched++;
        return;
    }
    if (client == 1 && e == &G.ed[G.seeder]) {
        G.seed_applied = 1; /* our big document is in */
        return;
    }
    if (client == 1)
        return;
    long idx = client >= G.yf_base ? (long)(client - G.yf_base) : -1;
    on_delivery(e, idx, (uint32_t)(clock / (G.yf_chars ? G.yf_chars : 1) + 1), n, t);
    return;
other:
    G.other_msgs++;
}

/* ---------- lws ---------- */
static void start_connect(struct editor *e);

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct editor *e = (struct editor *)lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (e) {
            G.connecting--;
            if (G.proto != P_COLLAB)
                yjs_hello(e);
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!e)
            break;
        G.connecting--;
        e->wsi = NULL;
        drop_queue(e);
        if (++e->tries < 3 && (G.phase == 0 || G.phase == 4)) {
            G.retries++;
            e->state = 0;
            start_connect(e);
        } else {
            G.connect_errors++;
            e->state = 3;
            fprintf(stderr, "loadgen: connect error: %s\n", in ? (const char *)in : "?");
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!e)
            break;
        int done = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
        int yjs = G.proto != P_COLLAB;
        if (done && e->rxlen == 0) {
            if (yjs)
                on_yjs_message(e, (const unsigned char *)in, len);
            else
                on_message(e, (const char *)in, len);
        } else {
            if (e->rxlen + len > e->rxcap) {
                size_t cap = e->rxcap ? e->rxcap : 65536;
                while (cap < e->rxlen + len)
                    cap *= 2;
                char *nb = realloc(e->rx, cap);
                if (!nb)
                    die("out of memory");
                e->rx = nb;
                e->rxcap = cap;
            }
            memcpy(e->rx + e->rxlen, in, len);
            e->rxlen += len;
            if (done) {
                if (yjs)
                    on_yjs_message(e, (const unsigned char *)e->rx, e->rxlen);
                else
                    on_message(e, e->rx, e->rxlen);
                e->rxlen = 0;
            }
        }
        if (is_joiner(e) && e->state == 2)
            return -1; /* join mode: got the sync, leave */
        break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (e && e->qn) {
            struct out *o = &e->q[e->qh];
            if (o->seq)
                e->sent_ns[o->seq % RING] = now_ns();
            int w = lws_write(wsi, o->buf + LWS_PRE, o->len,
                              o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            free(o->buf);
            e->qh = (e->qh + 1) % OUTQ;
            e->qn--;
            if (w < 0)
                return -1;
            if (e->qn)
                lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (e) {
            if (G.phase < 2 && !is_joiner(e) && e != &G.ed[G.seeder])
                G.closed_early++;
            if (e->state == 1)
                G.connecting--;
            e->state = 3;
            e->wsi = NULL;
            drop_queue(e);
            if (is_joiner(e))
                G.join_done++;
        }
        break;
    default:
        break;
    }
    (void)user;
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"bench", cb, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void start_connect(struct editor *e)
{
    char path[256];
    if (G.proto == P_COLLAB)
        snprintf(path, sizeof path, "/ws/%s?userId=e%d", G.room_ids[e->room], e->idx);
    else
        snprintf(path, sizeof path, "/%s", G.room_ids[e->room]);
    char hostport[160];
    snprintf(hostport, sizeof hostport, "%s:%d", G.host, G.port2 && e->idx % 2 ? G.port2 : G.port);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = G.ctx[e->idx % NCTX];
    ci.address = G.host;
    ci.port = G.port2 && e->idx % 2 ? G.port2 : G.port;
    ci.path = path;
    ci.host = hostport;
    ci.origin = NULL;
    ci.protocol = NULL;
    ci.local_protocol_name = "bench";
    ci.opaque_user_data = e;
    e->state = 1;
    e->rxlen = 0;
    G.connecting++;
    e->connect_ns = now_ns();
    e->sync_ns = 0;
    e->wsi = lws_client_connect_via_info(&ci);
    if (!e->wsi && e->state == 1) {
        /* failed synchronously; CONNECTION_ERROR may or may not have been called */
        G.connecting--;
        G.connect_errors++;
        e->state = 3;
    }
}

/* ---------- driver ---------- */
static void finish(void);

static void start_run(uint64_t now)
{
    G.phase = 1;
    G.phase_start = G.run_start = now;
    getrusage(RUSAGE_SELF, &G.ru0);
    G.srv_cpu0 = proc_sum(0, G.pid_cpu0);
}

/* Drops every load editor's connection (no close handshake, like a network loss) and starts a
 * new one for each at once, without the handshake cap. */
static void start_storm(uint64_t now)
{
    G.phase = 4;
    G.phase_start = G.storm_start = now;
    getrusage(RUSAGE_SELF, &G.ru0);
    G.srv_cpu0 = proc_sum(0, G.pid_cpu0);
    for (int i = G.first_load; i < G.first_load + G.n_load; i++) {
        struct editor *e = &G.ed[i];
        if (e->wsi) {
            lws_set_opaque_user_data(e->wsi, NULL);
            lws_set_timeout(e->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            e->wsi = NULL;
        }
        drop_queue(e);
        e->tries = 0;
        if (e->state == 2)
            start_connect(e);
    }
}

static int join_step(double since)
{
    /* Yjs: the seeder uploads the document first and stays connected (the servers drop a
     * document when its last connection leaves) */
    if (G.seed && !G.seed_applied) {
        struct editor *s = &G.ed[G.seeder];
        if (s->state == 0)
            start_connect(s);
        if (s->state == 3 || since > CONNECT_PHASE_S)
            die("the seeder could not upload the document");
        return 0;
    }
    int cur = G.join_done;
    if (cur >= G.joins)
        return 1;
    struct editor *e = &G.ed[cur];
    if (e->state == 0)
        start_connect(e);
    else if (e->state == 3 && !e->sync_ns)
        G.join_done++; /* failed; closed ones are counted via CLIENT_CLOSED */
    if (since > CONNECT_PHASE_S)
        return 1;
    return 0;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    uint64_t now = now_ns();
    double since = (double)(now - G.phase_start) / 1e9;
    if (G.phase == 0) {
        if (G.joins && G.join_done < G.joins) {
            if (!join_step(since))
                return;
            if (!G.n_load) {
                finish();
                return;
            }
            G.phase_start = now;
        }
        for (int guard = 0; G.next_connect < G.first_load + G.n_load &&
                            G.connecting < MAX_INFLIGHT_CONNECTS && guard < MAX_INFLIGHT_CONNECTS;
             guard++)
            start_connect(&G.ed[G.next_connect++]);
        int finished = G.synced_load + G.connect_errors + G.closed_early;
        if ((G.next_connect >= G.first_load + G.n_load && finished >= G.n_load) ||
            since > CONNECT_PHASE_S) {
            if (finished < G.n_load)
                fprintf(stderr, "loadgen: connect phase timed out: %d synced of %d\n",
                        G.synced_load, G.n_load);
            if (G.storm) {
                start_storm(now);
                return;
            }
            if (G.idle) {
                /* let the server settle, then measure */
                G.phase = 2;
                G.phase_start = now;
                return;
            }
            start_run(now);
        }
        return;
    }
    if (G.phase == 4) {
        if (G.storm_synced + G.connect_errors >= G.synced_load || since > 60.0) {
            G.run_end = now;
            getrusage(RUSAGE_SELF, &G.ru1);
            G.srv_cpu1 = proc_sum(0, G.pid_cpu1);
            finish();
        }
        return;
    }
    if (G.phase == 1) {
        uint64_t due = (uint64_t)(since * G.rate);
        for (uint64_t guard = 0; G.issued < due && guard < 1000000; guard++) {
            G.issued++;
            struct editor *e = NULL;
            for (int k = 0; k < G.n_load; k++) {
                struct editor *c = &G.ed[G.first_load + (int)(G.rr++ % (size_t)G.n_load)];
                if (c->state == 2) {
                    e = c;
                    break;
                }
            }
            if (!e) {
                G.skipped++;
                continue;
            }
            if (!e->inflight)
                push(e);
            else if (!e->pending)
                e->pending = 1;
            else
                G.skipped++;
        }
        if (since >= G.seconds) {
            G.run_end = now;
            getrusage(RUSAGE_SELF, &G.ru1);
            G.srv_cpu1 = proc_sum(0, G.pid_cpu1);
            G.phase = 2;
            G.phase_start = now;
        }
        return;
    }
    if (G.phase == 2) {
        if (G.idle) {
            if (since >= 2.0)
                finish();
            return;
        }
        int inflight = 0;
        for (int i = 0; i < G.n_ed; i++)
            inflight += G.ed[i].state == 2 && G.ed[i].inflight;
        if (!inflight || since >= DRAIN_S)
            finish();
    }
}

static void jstr_pct(FILE *f, const char *name, const struct hist *h)
{
    fprintf(f,
            "\"%s\":{\"n\":%" PRIu64
            ",\"p50\":%.0f,\"p99\":%.0f,\"p999\":%.0f,\"max_over_60s\":%" PRIu64 ",\"mean\":%.0f}",
            name, h->n, hist_pct(h, 0.5), hist_pct(h, 0.99), hist_pct(h, 0.999), h->over,
            h->n ? h->sum / (double)h->n : -1.0);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The join figures, as JSON members (no braces), or nothing outside join mode. */
static void join_json(FILE *o)
{
    if (!G.joins)
        return;
    int n = 0;
    for (int i = 0; i < G.joins; i++)
        if (G.ed[i].sync_ns)
            G.join_ms[n++] = (double)(G.ed[i].sync_ns - G.ed[i].connect_ns) / 1e6;
    qsort(G.join_ms, (size_t)n, sizeof(double), cmp_d);
    fprintf(o,
            "\"joins\":%d,\"ok\":%d,\"sync_bytes\":%zu,\"min_ms\":%.2f,\"median_ms\":%.2f,"
            "\"max_ms\":%.2f,",
            G.joins, n, G.ed[0].sync_bytes, n ? G.join_ms[0] : -1.0, n ? G.join_ms[n / 2] : -1.0,
            n ? G.join_ms[n - 1] : -1.0);
    fprintf(stderr, "join: %d/%d ok, sync %zu bytes, median %.2f ms\n", n, G.joins,
            G.ed[0].sync_bytes, n ? G.join_ms[n / 2] : -1.0);
}

static void finish(void)
{
    G.phase = 3;
    uv_timer_stop(&G.tick);
    long rss_now = proc_rss_kb();
    FILE *o = stdout;
    if (G.joins && !G.n_load) {
        fprintf(o, "RESULT {\"mode\":\"join\",");
        join_json(o);
        fprintf(o, "\"server_rss_kb\":%ld}\n", rss_now);
        fflush(o);
        _exit(0);
    }
    if (G.idle) {
        G.srv_rss1 = rss_now;
        double per = G.synced ? (double)(G.srv_rss1 - G.srv_rss0) * 1024.0 / G.synced : -1;
        double per_start =
            G.synced ? (double)(G.srv_rss1 - G.srv_rss_start) * 1024.0 / G.synced : -1;
        fprintf(
            o,
            "RESULT {\"mode\":\"idle\",\"rooms\":%d,\"connections\":%d,\"synced\":%d,"
            "\"connect_errors\":%d,\"rss_start_kb\":%ld,\"rss_before_kb\":%ld,"
            "\"rss_after_kb\":%ld,\"bytes_per_conn\":%.0f,\"bytes_per_conn_from_start\":%.0f}\n",
            G.rooms, G.n_load, G.synced, G.connect_errors, G.srv_rss_start, G.srv_rss0, G.srv_rss1,
            per, per_start);
        fprintf(stderr, "idle: %d synced, server RSS %ld -> %ld -> %ld kB: %.0f bytes/connection\n",
                G.synced, G.srv_rss_start, G.srv_rss0, G.srv_rss1, per);
        fflush(o);
        _exit(0);
    }
    double wall = (double)(G.run_end - G.run_start) / 1e9;
    double cpu = ru_s(&G.ru1) - ru_s(&G.ru0);
    double scpu = G.n_pids ? G.srv_cpu1 - G.srv_cpu0 : -1;
    if (G.storm) {
        int n = 0;
        double *ms = G.join_ms;
        for (int i = G.first_load; i < G.first_load + G.n_load; i++)
            if (G.ed[i].state == 2 && G.ed[i].sync_ns > G.storm_start)
                ms[n++] = (double)(G.ed[i].sync_ns - G.storm_start) / 1e6;
        qsort(ms, (size_t)n, sizeof(double), cmp_d);
        double all = n && n >= G.synced_load ? ms[n - 1] : -1.0;
        wall = (double)(G.run_end - G.storm_start) / 1e9;
        fprintf(o,
                "RESULT {\"mode\":\"storm\",\"rooms\":%d,\"connections\":%d,\"synced_before\":%d,"
                "\"resynced\":%d,\"failed\":%d,\"retries\":%d,\"all_ms\":%.1f,\"p50_ms\":%.1f,"
                "\"p99_ms\":%.1f,\"loadgen_cpu_share\":%.3f,\"server_cpu_s\":%.3f,"
                "\"server_cpu_share\":%.3f,\"server_rss_kb\":%ld",
                G.rooms, G.n_load, G.synced_load, n, G.synced_load - n, G.retries, all,
                n ? ms[n / 2] : -1.0, n ? ms[(size_t)((n - 1) * 0.99)] : -1.0, cpu / wall, scpu,
                scpu >= 0 ? scpu / wall : -1.0, rss_now);
        pid_cpu_json(o);
        fprintf(o, "}\n");
        fprintf(stderr, "storm: %d of %d resynced, all in %.1f ms, %d retries\n", n, G.synced_load,
                all, G.retries);
        fflush(o);
        _exit(0);
    }
    int lost = 0;
    for (int i = 0; i < G.n_ed; i++)
        lost += G.ed[i].inflight;
    fprintf(o, "RESULT {\"mode\":\"load\",");
    join_json(o);
    fprintf(o,
            "\"rooms\":%d,\"editors\":%d,\"connections\":%d,\"synced\":%d,"
            "\"connect_errors\":%d,\"closed_early\":%d,\"target_rate\":%.0f,\"seconds\":%.3f,"
            "\"pushes\":%" PRIu64 ",\"pushes_per_s\":%.1f,\"skipped\":%" PRIu64
            ",\"deliveries\":%" PRIu64 ",\"deliveries_per_s\":%.1f,\"delivery_bytes\":%.1f,"
            "\"gaps\":%" PRIu64 ",\"unmatched\":%" PRIu64 ",\"lost\":%d,\"errors\":%" PRIu64
            ",\"error_codes\":{",
            G.rooms, G.editors, G.n_load, G.synced_load, G.connect_errors, G.closed_early, G.rate,
            wall, G.pushes, (double)G.pushes / wall, G.skipped, G.deliveries,
            (double)G.deliveries_in_window / wall,
            G.deliveries_in_window ? (double)G.bytes_in_window / (double)G.deliveries_in_window
                                   : -1.0,
            G.gaps, G.unmatched, lost, G.errors);
    for (int i = 0, first = 1; i < 8 && G.err_codes[i][0]; i++, first = 0)
        fprintf(o, "%s\"%s\":%" PRIu64, first ? "" : ",", G.err_codes[i], G.err_counts[i]);
    fprintf(o, "},");
    jstr_pct(o, "own_us", G.own);
    fprintf(o, ",");
    jstr_pct(o, "others_us", G.others);
    if (G.port2) {
        fprintf(o, ",");
        jstr_pct(o, "cross_us", G.cross);
    }
    fprintf(o,
            ",\"loadgen_cpu_s\":%.3f,\"loadgen_cpu_share\":%.3f,\"server_cpu_s\":%.3f,"
            "\"server_cpu_share\":%.3f,\"server_rss_kb\":%ld",
            cpu, cpu / wall, scpu, scpu >= 0 ? scpu / wall : -1.0, rss_now);
    pid_cpu_json(o);
    fprintf(o, "}\n");
    fprintf(stderr,
            "load: %d rooms x %d editors, target %.0f/s: %.0f pushes/s, %.0f deliveries/s, own p50 "
            "%.0f p99 %.0f p999 %.0f us, others p99 %.0f us, cross-instance p99 %.0f us, errors "
            "%" PRIu64 ", lost %d, skipped %" PRIu64 "; loadgen cpu %.0f%%, server cpu %.0f%%\n",
            G.rooms, G.editors, G.rate, (double)G.pushes / wall,
            (double)G.deliveries_in_window / wall, hist_pct(G.own, .5), hist_pct(G.own, .99),
            hist_pct(G.own, .999), hist_pct(G.others, .99), G.port2 ? hist_pct(G.cross, .99) : -1,
            G.errors, lost, G.skipped, 100 * cpu / wall, 100 * scpu / wall);
    fflush(o);
    _exit(0);
}

static unsigned char *read_all(const char *path, size_t *outlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open a --join/--yjs file");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *raw = malloc((size_t)sz + 1);
    if (!raw || fread(raw, 1, (size_t)sz, f) != (size_t)sz)
        die("cannot read a --join/--yjs file");
    fclose(f);
    raw[sz] = 0;
    *outlen = (size_t)sz;
    return raw;
}

static char *read_file_json_body(const char *path, size_t *outlen)
{
    size_t sz;
    char *raw = (char *)read_all(path, &sz);
    static const char head[] = "{\"language\":\"plaintext\",\"content\":\"";
    char *b = malloc(sz * 2 + sizeof head + 8);
    if (!b)
        die("out of memory");
    memcpy(b, head, sizeof head - 1);
    size_t o = sizeof head - 1;
    for (size_t i = 0; i < sz; i++) {
        char c = raw[i];
        if (c == '\n') {
            b[o++] = '\\';
            b[o++] = 'n';
        } else if (c == '"' || c == '\\') {
            b[o++] = '\\';
            b[o++] = c;
        } else if ((unsigned char)c < 0x20) {
            b[o++] = ' ';
        } else {
            b[o++] = c;
        }
    }
    b[o++] = '"';
    b[o++] = '}';
    free(raw);
    *outlen = o;
    return b;
}

/* Reads a frames.mjs file; *off gets the offset of every frame (its u32 length first). */
static unsigned char *read_frames(const char *path, uint32_t hdr[4], size_t **off)
{
    size_t sz;
    unsigned char *f = read_all(path, &sz);
    if (sz < 20 || memcmp(f, "YJF1", 4))
        die("not a frames.mjs file");
    memcpy(hdr, f + 4, 16);
    size_t n = (size_t)hdr[0] * hdr[1], at = 20;
    *off = malloc((n ? n : 1) * sizeof(size_t));
    if (!*off)
        die("out of memory");
    for (size_t i = 0; i < n; i++) {
        uint32_t len;
        if (at + 4 > sz)
            die("frames file truncated");
        memcpy(&len, f + at, 4);
        (*off)[i] = at;
        at += 4 + (size_t)len;
        if (at > sz)
            die("frames file truncated");
    }
    return f;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *yjs = NULL, *proto = NULL;
    G.rooms = 1;
    G.editors = 2;
    G.rate = 100;
    G.seconds = 5;
    int rate_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--idle")) {
            G.idle = 1;
            continue;
        }
        if (!strcmp(a, "--storm")) {
            G.storm = 1;
            continue;
        }
        if (!strcmp(a, "--mix")) {
            G.mix = 1;
            continue;
        }
        if (!v)
            die("missing value");
        i++;
        if (!strcmp(a, "--url")) {
            url = v;
        } else if (!strcmp(a, "--url2")) {
            char h2[128];
            if (sscanf(v, "ws://%127[^:]:%d", h2, &G.port2) != 2 || G.port2 <= 0)
                die("--url2 ws://HOST:PORT");
        } else if (!strcmp(a, "--rooms")) {
            G.rooms = (int)parse_long(v, 1, 100000, a);
        } else if (!strcmp(a, "--editors")) {
            G.editors = (int)parse_long(v, 1, 100000, a);
        } else if (!strcmp(a, "--rate")) {
            G.rate = strtod(v, NULL);
            rate_given = 1;
        } else if (!strcmp(a, "--seconds")) {
            G.seconds = (int)parse_long(v, 1, 600, a);
        } else if (!strcmp(a, "--pid")) {
            for (const char *p = v; *p && G.n_pids < 4;) {
                char *end;
                long pid = strtol(p, &end, 10);
                if (end == p || pid <= 0)
                    die("bad --pid");
                G.pids[G.n_pids++] = (int)pid;
                p = *end == ',' ? end + 1 : end;
            }
        } else if (!strcmp(a, "--join")) {
            G.join_file = v;
        } else if (!strcmp(a, "--joins")) {
            G.joins = (int)parse_long(v, 1, 100, a);
        } else if (!strcmp(a, "--yjs")) {
            yjs = v;
        } else if (!strcmp(a, "--proto")) {
            proto = v;
        } else {
            die("unknown option (see the comment at the top of loadgen.c)");
        }
    }
    if (!url || sscanf(url, "ws://%127[^:]:%d", G.host, &G.port) != 2)
        die("--url ws://HOST:PORT is required");
    if (G.seconds < 1 || G.rate < 0 || (G.mix && G.editors < 2))
        die("bad --rooms/--editors/--seconds/--rate/--mix");
    if (yjs) {
        if (!proto || (strcmp(proto, "ywebsocket") && strcmp(proto, "hocuspocus")))
            die("--yjs needs --proto ywebsocket|hocuspocus");
        G.proto = !strcmp(proto, "hocuspocus") ? P_HOCUS : P_YWS;
        uint32_t hdr[4];
        G.yf = read_frames(yjs, hdr, &G.yf_off);
        G.yf_clients = hdr[0];
        G.yf_frames = hdr[1];
        G.yf_chars = hdr[2];
        G.yf_base = hdr[3];
    }
    if (G.join_file && !G.joins)
        G.joins = 5;

    lws_set_log_level(LLL_ERR, NULL);
    /* the editors: joiners, then load editors room by room, then a seeder (Yjs join mode) */
    if (G.joins) {
        G.rooms = 1;
        if (!rate_given)
            G.editors = 0;
    }
    G.n_load = 0;
    for (int r = 0; r < G.rooms; r++)
        G.n_load += G.mix ? 2 + r % (G.editors - 1) : G.editors;
    G.first_load = G.joins;
    G.seeder = G.joins + G.n_load;
    G.n_ed = G.seeder + 1;
    if (G.n_load > 100000)
        die("at most 100,000 editors");
    G.ed = calloc((size_t)G.n_ed, sizeof(struct editor));
    G.own = calloc(1, sizeof(struct hist));
    G.others = calloc(1, sizeof(struct hist));
    G.cross = calloc(1, sizeof(struct hist));
    G.join_ms = calloc((size_t)G.n_ed, sizeof(double));
    G.room_ids = calloc((size_t)G.rooms, sizeof(char *));
    if (!G.ed || !G.own || !G.others || !G.cross || !G.join_ms || !G.room_ids)
        die("out of memory");
    for (int i = 0, r = 0, in_room = 0; i < G.n_ed; i++) {
        G.ed[i].idx = i;
        if (i < G.first_load || i >= G.seeder)
            continue;
        G.ed[i].room = r;
        if (++in_room == (G.mix ? 2 + r % (G.editors - 1) : G.editors)) {
            r++;
            in_room = 0;
        }
    }

    G.srv_rss_start = proc_rss_kb();
    if (G.proto == P_COLLAB) {
        size_t blen = 2;
        char *body = G.join_file ? read_file_json_body(G.join_file, &blen) : strdup("{}");
        for (int r = 0; r < G.rooms; r++) {
            G.room_ids[r] = malloc(80);
            if (!G.room_ids[r] || create_session(body, blen, G.room_ids[r], 80))
                die("cannot create a session");
        }
        free(body);
    } else {
        snprintf(G.nonce, sizeof G.nonce, "%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
        for (int r = 0; r < G.rooms; r++) {
            G.room_ids[r] = malloc(64);
            if (!G.room_ids[r])
                die("out of memory");
            snprintf(G.room_ids[r], 64, "%s-r%d", G.nonce, r);
        }
        if (G.join_file) {
            uint32_t hdr[4];
            size_t *off;
            unsigned char *f = read_frames(G.join_file, hdr, &off);
            if (hdr[0] != 1 || hdr[1] != 1)
                die("--join in Yjs mode takes a frames.mjs seed file");
            memcpy(&hdr[0], f + off[0], 4);
            G.seed = f + off[0] + 4;
            G.seed_len = hdr[0];
            free(off);
        }
    }
    G.srv_rss0 = proc_rss_kb();

    uv_loop_init(&G.loop);
    void *loops[1] = {&G.loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.timeout_secs = 60;
    for (int i = 0; i < NCTX; i++) {
        G.ctx[i] = lws_create_context(&info);
        if (!G.ctx[i])
            die("lws_create_context failed (libwebsockets-evlib-uv installed? ulimit -n?)");
    }

    uv_timer_init(&G.loop, &G.tick);
    G.phase_start = now_ns();
    G.next_connect = G.first_load;
    uv_timer_start(&G.tick, on_tick, 1, 1);
    uv_run(&G.loop, UV_RUN_DEFAULT);
    finish();
    return 0;
}
