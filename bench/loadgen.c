/*
 * loadgen.c: native WebSocket load generator for collabd's protocol (and for the Node peer in
 * bench/node-authority, which speaks the same protocol).
 *
 * One thread, libwebsockets as a client on a libuv loop (epoll), so that it is not the
 * bottleneck; it reports its own CPU time against wall time to show it.
 *
 *   loadgen --url ws://127.0.0.1:PORT --rooms R --editors K --rate PUSHES_PER_SEC --seconds S
 *           [--pid SERVER_PID]             read the server's VmRSS and CPU time around the run
 *           [--idle]                       connect R*K editors, push nothing, report RSS/connection
 *           [--join FILE --joins N]        one session created with FILE as its content; join it
 *                                          N times in turn, timing upgrade request -> whole sync
 *
 * Load mode: creates R sessions with POST /sessions (a blocking HTTP/1.1 request on a plain
 * socket), connects R*K editors (at most 128 handshakes at a time), waits until all have their
 * `sync`, then hands out PUSHES_PER_SEC tokens per second round-robin over all editors for S
 * seconds. An editor that holds a token pushes a one-character insert at its synced version
 * (version tracked from `update` messages; the document length follows, since every update is
 * a one-unit insert), with clientID "e<editor>-<seq>". Like a CodeMirror client it keeps at
 * most one push in flight: a token arriving while one is in flight is kept (one at most) and
 * used as soon as its own update comes back; a further one is counted as skipped. The send
 * time of every push is kept in a per-editor ring keyed by seq, so every receiver recovers the
 * push->delivery latency from the clientID of the `update` it gets: push->own delivery (the
 * sender) and push->delivery at the others are reported apart. After S seconds pushing stops
 * and in-flight pushes get up to 3 s to come back.
 *
 * Output: a human summary on stderr and one line `RESULT {json}` on stdout.
 * Every loop is bounded: connection phase 120 s, run S s, drain 3 s.
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
    char tx[LWS_PRE + 256];
    size_t txlen;
    uint64_t connect_ns, sync_ns;
    size_t sync_bytes;
};

static struct {
    char host[128];
    int port;
    int rooms, editors, seconds, idle, joins, pid;
    double rate;
    const char *join_file;
    char **room_ids;
    struct editor *ed;
    int n_ed;
    int next_connect, connecting, synced, closed_early, connect_errors;
    uv_loop_t loop;
    uv_timer_t tick;
    struct lws_context *ctx;
    int phase; /* 0 connect, 1 run, 2 drain, 3 done */
    uint64_t phase_start, run_start, run_end;
    uint64_t issued, pushes, skipped, deliveries_in_window, deliveries, gaps, errors, unmatched;
    uint64_t other_msgs;
    char err_codes[8][32];
    uint64_t err_counts[8];
    struct hist *own, *others;
    size_t rr;
    /* join mode */
    int join_done;
    double *join_ms;
    size_t join_sync_bytes;
    /* cpu */
    struct rusage ru0, ru1;
    long srv_rss0, srv_rss1;
    double srv_cpu0, srv_cpu1;
} G;

static void die(const char *m)
{
    fprintf(stderr, "loadgen: %s\n", m);
    exit(2);
}

/* ---------- /proc of the server ---------- */
static long proc_rss_kb(int pid)
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
static double proc_cpu_s(int pid)
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

/* ---------- pushing ---------- */
static void push(struct editor *e)
{
    long len = e->base_len + (e->version - e->base_ver);
    uint32_t seq = ++e->seq;
    long pos =
        (long)(((uint64_t)seq * 2654435761u + (uint64_t)e->idx * 40503u) % (uint64_t)(len + 1));
    char ch[64];
    if (len == 0)
        snprintf(ch, sizeof ch, "[[0,\"x\"]]");
    else if (pos == 0)
        snprintf(ch, sizeof ch, "[[0,\"x\"],%ld]", len);
    else if (pos == len)
        snprintf(ch, sizeof ch, "[%ld,[0,\"x\"]]", len);
    else
        snprintf(ch, sizeof ch, "[%ld,[0,\"x\"],%ld]", pos, len - pos);
    int n = snprintf(e->tx + LWS_PRE, sizeof e->tx - LWS_PRE,
                     "{\"type\":\"push\",\"version\":%ld,\"updates\":[{\"clientID\":\"e%d-%u\","
                     "\"changes\":%s}]}",
                     e->version, e->idx, seq, ch);
    e->txlen = (size_t)n;
    e->inflight = 1;
    e->sent_seq[seq % RING] = seq;
    e->sent_ns[seq % RING] = 0; /* stamped when written */
    G.pushes++;
    lws_callback_on_writable(e->wsi);
}

static void on_update(struct editor *e, const char *p, size_t n, uint64_t t)
{
    long v = field_long(p, n, "\"version\":", -1);
    if (v > e->version + 1)
        G.gaps++;
    if (v > e->version)
        e->version = v;
    G.deliveries++;
    if (G.phase == 1)
        G.deliveries_in_window++;
    const char *c = field(p, n, "\"clientID\":\"e");
    if (!c) {
        G.unmatched++;
        return;
    }
    char *endp;
    long idx = strtol(c + 13, &endp, 10);
    if (*endp != '-' || idx < 0 || idx >= G.n_ed) {
        G.unmatched++;
        return;
    }
    uint32_t seq = (uint32_t)strtoul(endp + 1, NULL, 10);
    struct editor *s = &G.ed[idx];
    if (s->sent_seq[seq % RING] != seq || !s->sent_ns[seq % RING]) {
        G.unmatched++;
    } else {
        uint64_t us = (t - s->sent_ns[seq % RING]) / 1000;
        hist_add(s == e ? G.own : G.others, us);
    }
    if (s == e && seq == e->seq) {
        e->inflight = 0;
        if (e->pending && G.phase == 1) {
            e->pending = 0;
            push(e);
        }
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
        e->sync_ns = t;
        e->sync_bytes = n;
        if (e->state == 1) {
            e->state = 2;
            G.synced++;
        }
    } else if (!strncmp(ty, "error\"", 6)) {
        record_error(p, n);
        e->inflight = 0;
    } else {
        G.other_msgs++;
    }
}

/* ---------- lws ---------- */
static void start_connect(struct editor *e);

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct editor *e = (struct editor *)lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (e)
            G.connecting--;
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!e)
            break;
        G.connecting--;
        e->wsi = NULL;
        if (++e->tries < 3 && G.phase == 0) {
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
        if (done && e->rxlen == 0) {
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
                on_message(e, e->rx, e->rxlen);
                e->rxlen = 0;
            }
        }
        if (G.joins && e->state == 2)
            return -1; /* join mode: got the sync, leave */
        break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (e && e->txlen) {
            e->sent_ns[e->seq % RING] = now_ns();
            int w = lws_write(wsi, (unsigned char *)e->tx + LWS_PRE, e->txlen, LWS_WRITE_TEXT);
            e->txlen = 0;
            if (w < 0)
                return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (e) {
            if (G.phase < 2 && !G.joins)
                G.closed_early++;
            if (e->state == 1)
                G.connecting--;
            e->state = 3;
            e->wsi = NULL;
            if (G.joins)
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
    snprintf(path, sizeof path, "/ws/%s?userId=e%d", G.room_ids[e->room], e->idx);
    char hostport[160];
    snprintf(hostport, sizeof hostport, "%s:%d", G.host, G.port);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = G.ctx;
    ci.address = G.host;
    ci.port = G.port;
    ci.path = path;
    ci.host = hostport;
    ci.origin = NULL;
    ci.protocol = NULL;
    ci.local_protocol_name = "bench";
    ci.opaque_user_data = e;
    e->state = 1;
    G.connecting++;
    e->connect_ns = now_ns();
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

static void on_tick(uv_timer_t *t)
{
    (void)t;
    uint64_t now = now_ns();
    double since = (double)(now - G.phase_start) / 1e9;
    if (G.phase == 0) {
        if (G.joins) {
            /* one join at a time */
            int cur = G.join_done;
            if (cur >= G.joins) {
                finish();
                return;
            }
            struct editor *e = &G.ed[cur];
            if (e->state == 0)
                start_connect(e);
            else if (e->state == 3 && e->sync_ns) {
                /* closed after sync: counted via CLIENT_CLOSED */
            } else if (e->state == 3 && !e->sync_ns) {
                G.join_done++;
            }
            if (since > CONNECT_PHASE_S)
                finish();
            return;
        }
        for (int guard = 0; G.next_connect < G.n_ed && G.connecting < MAX_INFLIGHT_CONNECTS &&
                            guard < MAX_INFLIGHT_CONNECTS;
             guard++)
            start_connect(&G.ed[G.next_connect++]);
        int finished = G.synced + G.connect_errors + G.closed_early;
        if ((G.next_connect >= G.n_ed && finished >= G.n_ed) || since > CONNECT_PHASE_S) {
            if (finished < G.n_ed)
                fprintf(stderr, "loadgen: connect phase timed out: %d synced of %d\n", G.synced,
                        G.n_ed);
            if (G.idle) {
                /* let the server settle, then measure */
                G.phase = 2;
                G.phase_start = now;
                return;
            }
            G.phase = 1;
            G.phase_start = G.run_start = now;
            getrusage(RUSAGE_SELF, &G.ru0);
            G.srv_cpu0 = proc_cpu_s(G.pid);
        }
        return;
    }
    if (G.phase == 1) {
        uint64_t due = (uint64_t)(since * G.rate);
        for (uint64_t guard = 0; G.issued < due && guard < 1000000; guard++) {
            G.issued++;
            struct editor *e = NULL;
            for (int k = 0; k < G.n_ed; k++) {
                struct editor *c = &G.ed[G.rr++ % (size_t)G.n_ed];
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
            G.srv_cpu1 = proc_cpu_s(G.pid);
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

static void finish(void)
{
    G.phase = 3;
    uv_timer_stop(&G.tick);
    long rss_now = proc_rss_kb(G.pid);
    FILE *o = stdout;
    if (G.joins) {
        int n = 0;
        for (int i = 0; i < G.joins; i++)
            if (G.ed[i].sync_ns)
                G.join_ms[n++] = (double)(G.ed[i].sync_ns - G.ed[i].connect_ns) / 1e6;
        qsort(G.join_ms, (size_t)n, sizeof(double), cmp_d);
        fprintf(o,
                "RESULT {\"mode\":\"join\",\"joins\":%d,\"ok\":%d,\"sync_bytes\":%zu,"
                "\"min_ms\":%.2f,\"median_ms\":%.2f,\"max_ms\":%.2f}\n",
                G.joins, n, G.ed[0].sync_bytes, n ? G.join_ms[0] : -1.0,
                n ? G.join_ms[n / 2] : -1.0, n ? G.join_ms[n - 1] : -1.0);
        fprintf(stderr, "join: %d/%d ok, sync %zu bytes, median %.2f ms\n", n, G.joins,
                G.ed[0].sync_bytes, n ? G.join_ms[n / 2] : -1.0);
        fflush(o);
        _exit(0);
    }
    if (G.idle) {
        G.srv_rss1 = rss_now;
        double per = G.synced ? (double)(G.srv_rss1 - G.srv_rss0) * 1024.0 / G.synced : -1;
        fprintf(o,
                "RESULT {\"mode\":\"idle\",\"connections\":%d,\"synced\":%d,\"connect_errors\":%d,"
                "\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"bytes_per_conn\":%.0f}\n",
                G.n_ed, G.synced, G.connect_errors, G.srv_rss0, G.srv_rss1, per);
        fprintf(stderr, "idle: %d synced, server RSS %ld -> %ld kB: %.0f bytes/connection\n",
                G.synced, G.srv_rss0, G.srv_rss1, per);
        fflush(o);
        _exit(0);
    }
    double wall = (double)(G.run_end - G.run_start) / 1e9;
    double cpu = ru_s(&G.ru1) - ru_s(&G.ru0);
    double scpu = G.pid > 0 ? G.srv_cpu1 - G.srv_cpu0 : -1;
    int lost = 0;
    for (int i = 0; i < G.n_ed; i++)
        lost += G.ed[i].inflight;
    fprintf(
        o,
        "RESULT {\"mode\":\"load\",\"rooms\":%d,\"editors\":%d,\"connections\":%d,\"synced\":%d,"
        "\"connect_errors\":%d,\"closed_early\":%d,\"target_rate\":%.0f,\"seconds\":%.3f,"
        "\"pushes\":%" PRIu64 ",\"pushes_per_s\":%.1f,\"skipped\":%" PRIu64
        ",\"deliveries\":%" PRIu64 ",\"deliveries_per_s\":%.1f,\"gaps\":%" PRIu64
        ",\"unmatched\":%" PRIu64 ",\"lost\":%d,\"errors\":%" PRIu64 ",\"error_codes\":{",
        G.rooms, G.editors, G.n_ed, G.synced, G.connect_errors, G.closed_early, G.rate, wall,
        G.pushes, (double)G.pushes / wall, G.skipped, G.deliveries,
        (double)G.deliveries_in_window / wall, G.gaps, G.unmatched, lost, G.errors);
    for (int i = 0, first = 1; i < 8 && G.err_codes[i][0]; i++, first = 0)
        fprintf(o, "%s\"%s\":%" PRIu64, first ? "" : ",", G.err_codes[i], G.err_counts[i]);
    fprintf(o, "},");
    jstr_pct(o, "own_us", G.own);
    fprintf(o, ",");
    jstr_pct(o, "others_us", G.others);
    fprintf(o,
            ",\"loadgen_cpu_s\":%.3f,\"loadgen_cpu_share\":%.3f,\"server_cpu_s\":%.3f,"
            "\"server_cpu_share\":%.3f,\"server_rss_kb\":%ld}\n",
            cpu, cpu / wall, scpu, scpu >= 0 ? scpu / wall : -1.0, rss_now);
    fprintf(stderr,
            "load: %d rooms x %d editors, target %.0f/s: %.0f pushes/s, %.0f deliveries/s, own p50 "
            "%.0f p99 %.0f p999 %.0f us, others p99 %.0f us, errors %" PRIu64
            ", lost %d, skipped %" PRIu64 "; loadgen cpu %.0f%%, server cpu %.0f%%\n",
            G.rooms, G.editors, G.rate, (double)G.pushes / wall,
            (double)G.deliveries_in_window / wall, hist_pct(G.own, .5), hist_pct(G.own, .99),
            hist_pct(G.own, .999), hist_pct(G.others, .99), G.errors, lost, G.skipped,
            100 * cpu / wall, 100 * scpu / wall);
    fflush(o);
    _exit(0);
}

static char *read_file_json_body(const char *path, size_t *outlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open --join file");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *raw = malloc((size_t)sz + 1);
    if (!raw || fread(raw, 1, (size_t)sz, f) != (size_t)sz)
        die("cannot read --join file");
    fclose(f);
    char *b = malloc((size_t)sz * 2 + 64);
    if (!b)
        die("out of memory");
    size_t o = (size_t)sprintf(b, "{\"language\":\"plaintext\",\"content\":\"");
    for (long i = 0; i < sz; i++) {
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
    o += (size_t)sprintf(b + o, "\"}");
    free(raw);
    *outlen = o;
    return b;
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    G.rooms = 1;
    G.editors = 2;
    G.rate = 100;
    G.seconds = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--idle")) {
            G.idle = 1;
            continue;
        }
        if (!v)
            die("missing value");
        i++;
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--rooms"))
            G.rooms = atoi(v);
        else if (!strcmp(a, "--editors"))
            G.editors = atoi(v);
        else if (!strcmp(a, "--rate"))
            G.rate = atof(v);
        else if (!strcmp(a, "--seconds"))
            G.seconds = atoi(v);
        else if (!strcmp(a, "--pid"))
            G.pid = atoi(v);
        else if (!strcmp(a, "--join"))
            G.join_file = v;
        else if (!strcmp(a, "--joins"))
            G.joins = atoi(v);
        else
            die("unknown option (see the comment at the top of loadgen.c)");
    }
    if (!url || sscanf(url, "ws://%127[^:]:%d", G.host, &G.port) != 2)
        die("--url ws://HOST:PORT is required");
    if (G.rooms < 1 || G.editors < 1 || G.rooms * G.editors > 100000 || G.seconds < 1 ||
        G.seconds > 600 || G.rate < 0)
        die("bad --rooms/--editors/--seconds/--rate");
    if (G.join_file && G.joins < 1)
        G.joins = 5;
    if (G.joins > 100)
        die("--joins at most 100");

    lws_set_log_level(LLL_ERR, NULL);
    if (G.joins) {
        G.rooms = 1;
        G.editors = G.joins;
    }
    G.room_ids = calloc((size_t)G.rooms, sizeof(char *));
    size_t blen = 2;
    char *body = G.join_file ? read_file_json_body(G.join_file, &blen) : strdup("{}");
    for (int r = 0; r < G.rooms; r++) {
        G.room_ids[r] = malloc(80);
        if (create_session(body, blen, G.room_ids[r], 80))
            die("cannot create a session");
    }
    free(body);
    G.srv_rss0 = proc_rss_kb(G.pid);

    G.n_ed = G.rooms * G.editors;
    G.ed = calloc((size_t)G.n_ed, sizeof(struct editor));
    G.own = calloc(1, sizeof(struct hist));
    G.others = calloc(1, sizeof(struct hist));
    G.join_ms = calloc((size_t)G.n_ed, sizeof(double));
    if (!G.ed || !G.own || !G.others || !G.join_ms)
        die("out of memory");
    for (int i = 0; i < G.n_ed; i++) {
        G.ed[i].idx = i;
        G.ed[i].room = G.joins ? 0 : i / G.editors;
    }

    uv_loop_init(&G.loop);
    void *loops[1] = {&G.loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.timeout_secs = 60;
    G.ctx = lws_create_context(&info);
    if (!G.ctx)
        die("lws_create_context failed (libwebsockets-evlib-uv installed? ulimit -n?)");

    uv_timer_init(&G.loop, &G.tick);
    G.phase_start = now_ns();
    uv_timer_start(&G.tick, on_tick, 1, 1);
    uv_run(&G.loop, UV_RUN_DEFAULT);
    finish();
    return 0;
}
