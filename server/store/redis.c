/*
 * redis.c: the Redis session store (--store redis --redis-url URL). It owns one hiredis
 * asynchronous connection attached to collabd's libuv loop (never a blocking call), a backoff
 * timer, and a mirror of every stored session in a memory store (store/memory.c): reads are
 * served from the mirror, writes complete only once Redis has accepted them.
 *
 * URL forms: redis://[[user]:password@]host[:port][/db] and unix:///path/to.sock[?db=N]
 * [&password=P]. On every connection: AUTH (when a password is given), SELECT db, SCRIPT LOAD
 * of the Lua scripts below, then the whole key space of collabd is read into the mirror
 * (sessions that Redis holds and the mirror lacks are added; a document whose stored version
 * differs from the mirror's replaces it). Only then is the store "ok"; until then, and after
 * the connection drops, every write fails with CD_EUNAVAIL and a reconnect is tried with
 * exponential backoff (100 ms doubling to 2 s).
 *
 * Several instances share one Redis. Every write script publishes what it did, in the same
 * atomic step, on the session's channel collabd:<db>:room:{id} (channels are not per database):
 *   "u <first> <n>\n<update>\n..."  n updates appended after version first (update JSON has
 *                                    no raw newline)
 *   "c <nonce>" / "d <nonce>"        the session was created / deleted by the instance whose
 *                                    random nonce this is (its own events are ignored)
 * A second connection (the subscriber) PSUBSCRIBEs to collabd:<db>:room:*. Updates are applied
 * to the mirror in version order and handed to the rooms (hooks.applied): one already held is
 * skipped, one after a gap makes the store fetch the session (the load script) and apply what
 * it missed, so relayed updates arrive in order, once each. A commit refused because the
 * stored version moved gets the missed updates back in the same answer, so a pusher can rebase
 * at once. The first load waits for the subscription; a subscriber that reconnects reloads
 * every session (messages may have been missed), applying the stored updates that continue the
 * mirror's history and resetting a room whose stored history is not a continuation of it.
 *
 * Key layout (documented for operators in README.md; {id} is the session UUID, written with
 * its braces so that a session's keys share a Redis Cluster hash slot):
 *   collabd:seq                 INCR counter: the creation sequence (the list cursor)
 *   collabd:sessions            sorted set: member id, score seq
 *   collabd:session:{id}        hash: id, language, created_ms, seq, view_token
 *   collabd:doc:{id}            hash: snapshot (the document at snapshot_version as a JSON
 *                               string, lone surrogates escaped), snapshot_version, version
 *   collabd:log:{id}            list: the updates after snapshot_version, oldest first, each
 *                               {"clientID":...,"changes":[...]} (ChangeSet JSON)
 * The three per-session keys expire after ttl seconds without a write (0: never); the sweep
 * (SWEEP_CHUNK) finds the mirrored sessions Redis no longer holds, drops them here and removes
 * their sorted set members.
 * Accepting updates is one Lua script (commit): append only if the stored version equals the
 * pusher's base, return the new version; otherwise return the stored version so the caller
 * rebases over the missed updates and tries again. Scripts run by EVALSHA, with EVAL when
 * Redis answers NOSCRIPT. The log is folded into the snapshot (compact) every history_max
 * updates, from the document the mirror holds at that version.
 *
 * Must not depend on lws. Event-loop thread only.
 */
#include "core/clock.h"
#include "core/log.h"
#include "internal.h"
#include "redis_uv.h"
#include "store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf16.h"

#include <cjson/cJSON.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
/* hiredis 0.14's libuv adapter drops poll errors, so a refused connect is never reported:
 * a connection that is not through SELECT after this long is abandoned and tried again. */
#define CONNECT_TIMEOUT_MS 1000
/* Sessions expire in Redis (--redis-ttl) without telling anyone, and a deletion published while
 * the subscriber was away is never heard: every mirrored session is checked against Redis
 * SWEEP_CHUNK at a time, after every (re)load and every ttl/4 (1 s to 60 s), and dropped here
 * when Redis no longer holds it. */
#define SWEEP_CHUNK         256
#define SWEEP_PERIOD_MAX_MS 60000

enum { SC_CREATE, SC_COMMIT, SC_COMPACT, SC_LOAD, SC_REMOVE, SC_ALIVE, SC_COUNT };

static const char *const scripts[SC_COUNT] = {
    /* create: KEYS seq, sessions, session, doc; ARGV id, language, created_ms, view_token,
     * snapshot, ttl, channel, nonce -> seq */
    "local seq = redis.call('INCR', KEYS[1])\n"
    "redis.call('HSET', KEYS[3], 'id', ARGV[1], 'language', ARGV[2], 'created_ms', ARGV[3],"
    " 'seq', seq, 'view_token', ARGV[4])\n"
    "redis.call('HSET', KEYS[4], 'snapshot', ARGV[5], 'snapshot_version', 0, 'version', 0)\n"
    "redis.call('ZADD', KEYS[2], seq, ARGV[1])\n"
    "if tonumber(ARGV[6]) > 0 then redis.call('EXPIRE', KEYS[3], ARGV[6]);"
    " redis.call('EXPIRE', KEYS[4], ARGV[6]) end\n"
    "redis.call('PUBLISH', ARGV[7], 'c ' .. ARGV[8])\n"
    "return seq\n",
    /* commit: KEYS session, doc, log; ARGV base, ttl, channel, update... -> {0, new version}
     * appended and published; {-1, stored version, {updates after base...}} moved (the
     * updates only while the log still holds them); {-2, 0} no such session (its doc hash,
     * which always holds version, is gone). ttl > 0: renew the three keys' expiry; ttl < 0:
     * not due, only a log list this push creates (compact emptied it) gets -ttl; 0: none */
    "local vs = redis.call('HGET', KEYS[2], 'version')\n"
    "if not vs then return {-2, 0} end\n"
    "local v = tonumber(vs)\n"
    "local base = tonumber(ARGV[1])\n"
    "if v ~= base then\n"
    "  local sv = tonumber(redis.call('HGET', KEYS[2], 'snapshot_version') or '0')\n"
    "  if base >= sv and base < v then\n"
    "    return {-1, v, redis.call('LRANGE', KEYS[3], base - sv, -1)}\n"
    "  end\n"
    "  return {-1, v}\n"
    "end\n"
    "local n = #ARGV - 3\n"
    "local len = redis.call('RPUSH', KEYS[3], unpack(ARGV, 4))\n"
    "redis.call('HSET', KEYS[2], 'version', v + n)\n"
    "local ttl = tonumber(ARGV[2])\n"
    "if ttl > 0 then for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end\n"
    "elseif ttl < 0 and len == n then redis.call('EXPIRE', KEYS[3], -ttl) end\n"
    "redis.call('PUBLISH', ARGV[3], string.format('u %d %d\\n', v, n) .."
    " table.concat(ARGV, '\\n', 4))\n"
    "return {0, v + n}\n",
    /* compact: KEYS doc, log; ARGV snapshot, its version -> 1 folded, 0 not applicable */
    "local sv = tonumber(redis.call('HGET', KEYS[1], 'snapshot_version') or '0')\n"
    "local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')\n"
    "local nv = tonumber(ARGV[2])\n"
    "if nv <= sv or nv > v then return 0 end\n"
    "redis.call('LTRIM', KEYS[2], nv - sv, -1)\n"
    "redis.call('HSET', KEYS[1], 'snapshot', ARGV[1], 'snapshot_version', nv)\n"
    "return 1\n",
    /* load: KEYS session, doc, log -> nil, or {id, language, created_ms, seq, view_token,
     * snapshot, snapshot_version, version, {updates...}} */
    "local s = redis.call('HMGET', KEYS[1], 'id', 'language', 'created_ms', 'seq', 'view_token')\n"
    "if not s[1] then return false end\n"
    "local d = redis.call('HMGET', KEYS[2], 'snapshot', 'snapshot_version', 'version')\n"
    "return {s[1], s[2], s[3], s[4], s[5], d[1] or '\"\"', d[2] or '0', d[3] or '0',"
    " redis.call('LRANGE', KEYS[3], 0, -1)}\n",
    /* remove: KEYS session, doc, log, sessions; ARGV id, channel, nonce -> 1 */
    "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])\n"
    "redis.call('ZREM', KEYS[4], ARGV[1])\n"
    "redis.call('PUBLISH', ARGV[2], 'd ' .. ARGV[3])\n"
    "return 1\n",
    /* alive: KEYS session hash of each id, then sessions; ARGV ids -> the ids Redis no longer
     * holds (expired, or deleted unheard), dropped from sessions */
    "local gone = {}\n"
    "for i = 1, #ARGV do\n"
    "  if redis.call('EXISTS', KEYS[i]) == 0 then\n"
    "    redis.call('ZREM', KEYS[#KEYS], ARGV[i])\n"
    "    gone[#gone + 1] = ARGV[i]\n"
    "  end\n"
    "end\n"
    "return gone\n",
};

enum rstate { R_DOWN, R_CONNECTING, R_LOADING, R_READY };

struct redis_store;

/* One connection to Redis: the command connection, or the subscriber. */
struct link {
    struct redis_store *rs;
    redisAsyncContext *ac; /* NULL while down */
    uv_timer_t timer;      /* the connect timeout, then the reconnect backoff */
    unsigned backoff_ms;
    int connecting; /* connect or handshake under way */
    int sub;        /* the subscriber */
};

/* A session being fetched because an update arrived after a gap; want: the version the
 * publication showed exists. */
struct fetch {
    struct fetch *next;
    char id[37];
    uint64_t want;
    int again; /* want rose while the load was under way */
};

struct redis_store {
    struct cd_store base; /* first: the public view */
    struct cd_store *mem; /* the mirror */
    uv_loop_t *loop;
    struct link cmd, sub;
    enum rstate state; /* of the command connection and the mirror */
    int stopping;
    int subscribed; /* the subscriber's PSUBSCRIBE is confirmed */
    size_t loads_pending;
    int reloading; /* a reload of every session is under way (begin_load) */
    struct fetch *fetches;
    uv_timer_t sweep;     /* the next chunk of the sweep for sessions Redis no longer holds */
    uint64_t sweep_after; /* the sweep's cursor: the seq of the last session checked */
    int sweeping;         /* a chunk is in flight */
    char nonce[37];       /* this instance, in its session events */
    char channel[64];     /* "collabd:<db>:room:" */
    long ttl;
    char host[256];
    int port;
    char path[512]; /* Unix socket, or "" */
    char user[128];
    char password[256];
    long db;
    char sha[SC_COUNT][41];
    char detail[160];
};

/* One scripted call in flight. argv[0..1] are "EVALSHA"/"EVAL" and the sha or script text
 * (not owned); the rest are owned copies, kept so the call can be sent again as EVAL. */
struct call {
    struct redis_store *rs;
    int script, evalled, argc;
    char **argv;
    size_t *argvlen;
    void (*done)(struct call *c, redisReply *r); /* r NULL: the connection is gone */
    void *op;
};

static void schedule_reconnect(struct link *l);
static void on_timer(uv_timer_t *t);

static void call_free(struct call *c)
{
    if (!c)
        return;
    for (int i = 2; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    free(c->argvlen);
    free(c);
}

static struct call *call_new(struct redis_store *rs, int script, int argc)
{
    struct call *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->argv = calloc((size_t)argc, sizeof(*c->argv));
    c->argvlen = calloc((size_t)argc, sizeof(*c->argvlen));
    if (!c->argv || !c->argvlen) {
        free(c->argv);
        free(c->argvlen);
        free(c);
        return NULL;
    }
    c->rs = rs;
    c->script = script;
    c->argc = argc;
    return c;
}

static int call_arg(struct call *c, int i, const char *s, size_t n)
{
    c->argv[i] = malloc(n + 1);
    if (!c->argv[i])
        return CD_ENOMEM;
    memcpy(c->argv[i], s, n);
    c->argv[i][n] = '\0';
    c->argvlen[i] = n;
    return CD_OK;
}

/* The key "collabd:<kind>:{<id>}". */
static int call_key(struct call *c, int i, const char *kind, const char *id)
{
    char k[128];
    int n = snprintf(k, sizeof(k), "collabd:%s:{%s}", kind, id);
    return call_arg(c, i, k, (size_t)n);
}

/* The session's three keys, session, doc and log, as argv[i..i+2]. */
static int call_session_keys(struct call *c, int i, const char *id)
{
    return call_key(c, i, "session", id) || call_key(c, i + 1, "doc", id) ||
                   call_key(c, i + 2, "log", id)
               ? CD_ENOMEM
               : CD_OK;
}

static int call_argu(struct call *c, int i, unsigned long long v)
{
    char k[32];
    int n = snprintf(k, sizeof(k), "%llu", v);
    return call_arg(c, i, k, (size_t)n);
}

/* The channel "collabd:<db>:room:{<id>}". */
static int call_channel(struct call *c, int i, const char *id)
{
    char k[128];
    int n = snprintf(k, sizeof(k), "%s{%s}", c->rs->channel, id);
    return call_arg(c, i, k, (size_t)n);
}

static void set_script_args(struct call *c)
{
    if (c->evalled) {
        c->argv[0] = (char *)"EVAL";
        c->argv[1] = (char *)scripts[c->script];
    } else {
        c->argv[0] = (char *)"EVALSHA";
        c->argv[1] = c->rs->sha[c->script];
    }
    c->argvlen[0] = strlen(c->argv[0]);
    c->argvlen[1] = strlen(c->argv[1]);
}

static void on_call_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct call *c = privdata;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR && !c->evalled && !strncmp(r->str, "NOSCRIPT", 8) &&
        c->rs->cmd.ac == ac) {
        c->evalled = 1;
        set_script_args(c);
        if (redisAsyncCommandArgv(ac, on_call_reply, c, c->argc, (const char **)c->argv,
                                  c->argvlen) == REDIS_OK)
            return;
        r = NULL;
    }
    if (r && r->type == REDIS_REPLY_ERROR)
        cd_logf(CD_LOG_ERROR, NULL, "redis: script %d failed: %.*s", c->script, (int)r->len,
                r->str);
    c->done(c, r);
    call_free(c);
}

/* Send c (its argv[2..] filled); on error c is freed and done is never called. */
static int call_send(struct call *c)
{
    struct redis_store *rs = c->rs;
    if (!rs->cmd.ac || rs->state < R_LOADING) {
        call_free(c);
        return CD_EUNAVAIL;
    }
    c->evalled = !rs->sha[c->script][0];
    set_script_args(c);
    if (redisAsyncCommandArgv(rs->cmd.ac, on_call_reply, c, c->argc, (const char **)c->argv,
                              c->argvlen) != REDIS_OK) {
        call_free(c);
        return CD_EUNAVAIL;
    }
    return CD_OK;
}

/* Send c, whose completion done gets op (a plain allocation); on error both are freed and
 * done is never called. */
static int call_start(struct call *c, void (*done)(struct call *, redisReply *), void *op)
{
    c->op = op;
    c->done = done;
    int rc = call_send(c);
    if (rc)
        free(op);
    return rc;
}

/* ---- URL ---- */

static int parse_long(const char *s, size_t n, long lo, long hi, long *out)
{
    char tmp[24];
    if (!n || n >= sizeof(tmp))
        return CD_EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end = NULL;
    long v = strtol(tmp, &end, 10);
    if (*end || v < lo || v > hi)
        return CD_EINVAL;
    *out = v;
    return CD_OK;
}

static int copy_part(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        return CD_EINVAL;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return CD_OK;
}

/* unix query: db=N and password=P, '&'-separated. */
static int parse_query(struct redis_store *rs, const char *q)
{
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n > 3 && !strncmp(q, "db=", 3)) {
            if (parse_long(q + 3, n - 3, 0, 100000, &rs->db))
                return CD_EINVAL;
        } else if (n > 9 && !strncmp(q, "password=", 9)) {
            if (copy_part(rs->password, sizeof(rs->password), q + 9, n - 9))
                return CD_EINVAL;
        } else {
            return CD_EINVAL;
        }
        q += n + (amp ? 1 : 0);
    }
    return CD_OK;
}

static int parse_url(struct redis_store *rs, const char *url)
{
    rs->port = 6379;
    if (!strncmp(url, "unix://", 7)) {
        const char *p = url + 7, *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (!n || p[0] != '/' || copy_part(rs->path, sizeof(rs->path), p, n))
            return CD_EINVAL;
        return q ? parse_query(rs, q + 1) : CD_OK;
    }
    if (strncmp(url, "redis://", 8))
        return CD_EINVAL;
    const char *p = url + 8, *slash = strchr(p, '/');
    size_t hostpart = slash ? (size_t)(slash - p) : strlen(p);
    const char *at = memrchr(p, '@', hostpart);
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return CD_EINVAL;
        if (copy_part(rs->user, sizeof(rs->user), p, (size_t)(colon - p)) ||
            copy_part(rs->password, sizeof(rs->password), colon + 1, (size_t)(at - colon - 1)))
            return CD_EINVAL;
        hostpart -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *colon = memchr(p, ':', hostpart);
    size_t hn = colon ? (size_t)(colon - p) : hostpart;
    if (!hn || copy_part(rs->host, sizeof(rs->host), p, hn))
        return CD_EINVAL;
    if (colon) {
        long port;
        if (parse_long(colon + 1, hostpart - hn - 1, 1, 65535, &port))
            return CD_EINVAL;
        rs->port = (int)port;
    }
    if (slash && slash[1] && parse_long(slash + 1, strlen(slash + 1), 0, 100000, &rs->db))
        return CD_EINVAL;
    return CD_OK;
}

/* ---- encoding ---- */

static int doc_piece(void *ctx, const uint16_t *u, size_t n)
{
    return cd_utf16_json_piece(ctx, u, n);
}

/* The document of a as a JSON string into b. */
static int snapshot_json(const struct cd_doc *d, struct cd_buf *b)
{
    struct cd_utf16_json_stream js;
    int rc = cd_utf16_json_open(&js, b);
    if (!rc)
        rc = cd_doc_foreach(d, 0, cd_doc_len(d), doc_piece, &js);
    if (!rc)
        rc = cd_utf16_json_close(&js);
    return rc;
}

/* The parsed JSON text s[0..n) (lone surrogates kept), or NULL. */
static cJSON *parse_json(const char *s, size_t n)
{
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    memcpy(t, s, n);
    t[n] = '\0';
    size_t len = n;
    cJSON *j = cd_json_wtf8_prepass(t, &len) ? NULL : cJSON_ParseWithLength(t, len);
    free(t);
    return j;
}

/* ---- loading ---- */

static int reply_str(const redisReply *r, const char **s, size_t *n)
{
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS))
        return CD_EPARSE;
    *s = r->str;
    *n = r->len;
    return CD_OK;
}

static int reply_u64(const redisReply *r, uint64_t *out)
{
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
        *out = (uint64_t)r->integer;
        return CD_OK;
    }
    const char *s;
    size_t n;
    char tmp[24];
    if (reply_str(r, &s, &n) || !n || n >= sizeof(tmp))
        return CD_EPARSE;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end = NULL;
    unsigned long long v = strtoull(tmp, &end, 10);
    if (*end || tmp[0] == '-')
        return CD_EPARSE;
    *out = v;
    return CD_OK;
}

/* Apply the stored update e[0..n) ({"clientID":..,"changes":..}) to a at its version. */
static int push_entry(struct cd_auth *a, const char *e, size_t n)
{
    cJSON *j = parse_json(e, n);
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(j, "clientID");
    struct cd_update u = {NULL, NULL};
    struct cd_auth_result res;
    int rc = CD_EPARSE;
    if (cJSON_IsString(cid) && (u.client_id = strdup(cid->valuestring)) &&
        !cd_cs_from_json(cJSON_GetObjectItemCaseSensitive(j, "changes"), &u.changes, NULL, 0))
        rc = cd_auth_push(a, cd_auth_version(a), &u, 1, 1, &res, NULL, 0);
    else
        cd_update_cleanup(&u);
    cJSON_Delete(j);
    return rc;
}

/* Whether the stored update e[0..n) is the entry h the mirror holds. */
static int same_entry(const struct cd_hist *h, const char *e, size_t n)
{
    cJSON *j = parse_json(e, n);
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(j, "clientID");
    struct cd_cs *cs = NULL;
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 31);
    int same = h && cJSON_IsString(cid) && !strcmp(cid->valuestring, h->client_id) &&
               !cd_cs_from_json(cJSON_GetObjectItemCaseSensitive(j, "changes"), &cs, NULL, 0) &&
               !cd_cs_to_json(cs, &b) && b.len == h->json_len && !memcmp(b.data, h->json, b.len);
    cd_cs_free(cs);
    cd_buf_cleanup(&b);
    cJSON_Delete(j);
    return same;
}

/* Whether the stored snapshot (a JSON string) is the document d. */
static int same_snapshot(const struct cd_doc *d, const redisReply *snap)
{
    const char *e;
    size_t n;
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 31);
    int same =
        !reply_str(snap, &e, &n) && !snapshot_json(d, &b) && b.len == n && !memcmp(b.data, e, n);
    cd_buf_cleanup(&b);
    return same;
}

/* Apply the updates e[0..n) stored after version first to s, skipping those the mirror holds;
 * the rooms hear of them through hooks.applied. CD_ERANGE when they start after the mirror's
 * version (a gap); another error when one does not apply (the mirror is then behind). */
static int apply_stored(struct redis_store *rs, struct cd_session *s, uint64_t first,
                        const char *const *e, const size_t *l, size_t n)
{
    uint64_t v0 = cd_auth_version(s->auth);
    if (first > v0)
        return CD_ERANGE;
    int rc = CD_OK;
    for (uint64_t i = v0 - first; i < n && !rc; i++) {
        uint64_t v = cd_auth_version(s->auth);
        /* handed over one at a time: the history may drop an entry at the next push */
        if (!(rc = push_entry(s->auth, e[i], l[i])) && rs->base.hooks.applied)
            rs->base.hooks.applied(rs->base.hooks.arg, s, v, 1);
    }
    uint64_t v = cd_auth_version(s->auth);
    if (rc)
        cd_logf(CD_LOG_ERROR, NULL, "redis: session %s: stored update %llu does not apply (%s)",
                s->id, (unsigned long long)v, cd_strerror(rc));
    return rc;
}

/* The strings of an array reply r[from..] into e/l (n entries, allocated); CD_EPARSE. */
static int reply_strings(const redisReply *r, size_t from, const char ***e, size_t **l, size_t *n)
{
    *e = NULL;
    *l = NULL;
    *n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || from > r->elements)
        return CD_EPARSE;
    size_t k = r->elements - from;
    if (!k)
        return CD_OK;
    *e = calloc(k, sizeof(**e));
    *l = calloc(k, sizeof(**l));
    if (!*e || !*l)
        goto fail;
    for (size_t i = 0; i < k; i++)
        if (reply_str(r->element[from + i], &(*e)[i], &(*l)[i]))
            goto fail;
    *n = k;
    return CD_OK;
fail:
    free((void *)*e);
    free(*l);
    *e = NULL;
    *l = NULL;
    return CD_EPARSE;
}

/* The authority of a loaded document: the snapshot, then each logged update in turn. */
static int build_auth(struct redis_store *rs, const redisReply *snap, uint64_t sv, uint64_t v,
                      const redisReply *log, struct cd_auth **out)
{
    const char *s;
    size_t n;
    uint16_t *text = NULL;
    size_t tlen = 0;
    struct cd_auth *a = NULL;
    int rc = reply_str(snap, &s, &n);
    cJSON *j = rc ? NULL : parse_json(s, n);
    if (!j || !cJSON_IsString(j) ||
        cd_utf16_from_wtf8(j->valuestring, strlen(j->valuestring), &text, &tlen)) {
        rc = CD_EPARSE;
        goto out;
    }
    if ((rc = cd_auth_new(&rs->base.limits, text, tlen, &a)) || (rc = cd_auth_set_version(a, sv)))
        goto out;
    if (!log || log->type != REDIS_REPLY_ARRAY || log->elements != v - sv) {
        rc = CD_EPARSE;
        goto out;
    }
    for (size_t i = 0; i < log->elements && !rc; i++)
        rc = reply_str(log->element[i], &s, &n) ? CD_EPARSE : push_entry(a, s, n);
    if (rc)
        goto out;
    *out = a;
    a = NULL;
out:
    cJSON_Delete(j);
    free(text);
    cd_auth_free(a);
    return rc;
}

/* Drop s, which Redis no longer holds, from the mirror: its clients are closed as by a local
 * delete (hooks.removed) and its record freed. */
static void forget(struct redis_store *rs, struct cd_session *s, const char *why)
{
    char id[37];
    memcpy(id, s->id, sizeof(id));
    cd_logf(CD_LOG_INFO, NULL, "redis: session %s %s", id, why);
    if (rs->base.hooks.removed)
        rs->base.hooks.removed(rs->base.hooks.arg, s);
    rs->mem->ops->remove(rs->mem, id, 36);
}

static void sweep_chunk(uv_timer_t *t);

/* The next chunk in delay_ms; delay_ms < 0: the next pass after the period (if sessions
 * expire at all). */
static void sweep_later(struct redis_store *rs, long delay_ms)
{
    if (rs->stopping)
        return;
    if (delay_ms < 0) {
        rs->sweep_after = 0;
        if (rs->ttl <= 0)
            return; /* nothing expires: the next (re)load sweeps */
        delay_ms = rs->ttl * 250 < 1000 ? 1000 : rs->ttl * 250;
        if (delay_ms > SWEEP_PERIOD_MAX_MS)
            delay_ms = SWEEP_PERIOD_MAX_MS;
    }
    uv_timer_start(&rs->sweep, sweep_chunk, (uint64_t)delay_ms, 0);
}

static void on_alive(struct call *c, redisReply *r)
{
    struct redis_store *rs = c->rs;
    uint64_t after = *(uint64_t *)c->op;
    free(c->op);
    rs->sweeping = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        sweep_later(rs, -1); /* the connection is gone: the next load sweeps again */
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const char *id;
        size_t n;
        struct cd_session *s;
        if (!reply_str(r->element[i], &id, &n) && (s = rs->mem->ops->get(rs->mem, id, n)))
            forget(rs, s, "is no longer in Redis (expired, or deleted unheard): dropped here");
    }
    rs->sweep_after = after;
    sweep_later(rs, after ? 10 : -1);
}

/* Check the next SWEEP_CHUNK mirrored sessions (after the cursor) against Redis. */
static void sweep_chunk(uv_timer_t *t)
{
    struct redis_store *rs = t->data;
    struct cd_session *ss[SWEEP_CHUNK];
    int more = 0;
    if (rs->state != R_READY || rs->sweeping)
        return; /* load_finished starts a pass */
    size_t n = rs->mem->ops->list(rs->mem, rs->sweep_after, ss, SWEEP_CHUNK, &more);
    if (!n) {
        sweep_later(rs, -1);
        return;
    }
    struct call *c = call_new(rs, SC_ALIVE, 3 + 2 * (int)n + 1);
    uint64_t *after = malloc(sizeof(*after));
    int rc = !c || !after || call_argu(c, 2, n + 1);
    for (size_t i = 0; i < n && !rc; i++)
        rc = call_key(c, 3 + (int)i, "session", ss[i]->id) ||
             call_arg(c, 3 + (int)(n + 1 + i), ss[i]->id, 36);
    if (!rc)
        rc = call_arg(c, 3 + (int)n, "collabd:sessions", 16);
    if (rc) {
        call_free(c);
        free(after);
        sweep_later(rs, -1);
        return;
    }
    *after = more ? ss[n - 1]->seq : 0;
    if (call_start(c, on_alive, after)) {
        sweep_later(rs, -1);
        return;
    }
    rs->sweeping = 1;
}

/* A (re)load of every session is done once its last load answered. */
static void load_finished(struct redis_store *rs)
{
    if (!rs->reloading || rs->loads_pending)
        return;
    rs->reloading = 0;
    if (rs->state == R_LOADING) {
        rs->state = R_READY;
        snprintf(rs->detail, sizeof(rs->detail), "connected");
        cd_logf(CD_LOG_INFO, NULL, "redis: ready, %zu sessions", rs->mem->ops->count(rs->mem));
    }
    rs->sweep_after = 0; /* sessions deleted while this instance was not listening go */
    sweep_later(rs, 0);
}

/* A load of one session: at (re)connect (reload), or to fill a gap (catch-up). */
struct load_op {
    char id[37];
    int reload;
};

static int fetch_session(struct redis_store *rs, const char *id, uint64_t want);

/* s, which the mirror holds, as Redis holds it now: the stored updates that continue the
 * mirror's history are applied (a continuation: the stored update before them, or the stored
 * snapshot when they follow it, is what the mirror holds); a stored history that does not
 * continue it replaces it (the room re-syncs). A catch-up load may find Redis behind the mirror:
 * updates published after the load ran were applied first. At a reload, Redis behind the mirror
 * lost writes. */
static void merge_loaded(struct redis_store *rs, struct cd_session *s, const redisReply *r,
                         uint64_t sv, uint64_t v, int reload)
{
    uint64_t mv = cd_auth_version(s->auth);
    const redisReply *log = r->element[8];
    if (v == mv || (v < mv && !reload))
        return;
    if (v > mv && mv >= sv && log->elements == v - sv) {
        /* a continuation when the stored update before it is the mirror's last one */
        const char *e;
        size_t n;
        int cont = mv == sv ? same_snapshot(cd_auth_doc(s->auth), r->element[5])
                            : !reply_str(log->element[mv - sv - 1], &e, &n) &&
                                  same_entry(cd_auth_entry(s->auth, mv - 1), e, n);
        const char **es = NULL;
        size_t *ls = NULL, k = 0;
        if (cont && !reply_strings(log, (size_t)(mv - sv), &es, &ls, &k)) {
            int rc = apply_stored(rs, s, mv, es, ls, k);
            free((void *)es);
            free(ls);
            if (!rc)
                return;
        }
    }
    struct cd_auth *fresh = NULL; /* built only here: most loads find the mirror current */
    if (build_auth(rs, r->element[5], sv, v, log, &fresh)) {
        cd_logf(CD_LOG_ERROR, NULL, "redis: session %s cannot be loaded: the mirror keeps its copy",
                s->id);
        return;
    }
    cd_logf(CD_LOG_WARN, NULL, "redis: session %s reloaded at version %llu (was %llu)", s->id,
            (unsigned long long)v, (unsigned long long)mv);
    cd_auth_free(s->auth);
    s->auth = fresh;
    if (rs->base.hooks.reset)
        rs->base.hooks.reset(rs->base.hooks.arg, s);
}

static void on_load(struct call *c, redisReply *r)
{
    struct redis_store *rs = c->rs;
    struct load_op *op = c->op;
    const char *id = op->id;
    struct cd_session tmpl, *s;
    struct cd_auth *a = NULL;
    uint64_t seq, created, sv, v = 0;
    const char *str;
    size_t n;
    if (op->reload)
        rs->loads_pending--;
    if (!r)
        goto done;                    /* the connection is gone: the next one loads again */
    if (r->type == REDIS_REPLY_NIL) { /* expired or deleted: forget it */
        if (op->reload)
            redisAsyncCommand(rs->cmd.ac, NULL, NULL, "ZREM collabd:sessions %s", id);
        if ((s = rs->mem->ops->get(rs->mem, id, strlen(id))))
            forget(rs, s, "is no longer in Redis: dropped here");
        goto done;
    }
    memset(&tmpl, 0, sizeof(tmpl));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 9 || reply_u64(r->element[2], &created) ||
        reply_u64(r->element[3], &seq) || reply_u64(r->element[6], &sv) ||
        reply_u64(r->element[7], &v) || sv > v || reply_str(r->element[1], &str, &n) ||
        copy_part(tmpl.language, sizeof(tmpl.language), str, n) ||
        reply_str(r->element[4], &str, &n) ||
        copy_part(tmpl.view_token, sizeof(tmpl.view_token), str, n) ||
        copy_part(tmpl.id, sizeof(tmpl.id), id, strlen(id)) ||
        r->element[8]->type != REDIS_REPLY_ARRAY) {
        cd_logf(CD_LOG_ERROR, NULL, "redis: session %s cannot be loaded: skipped", id);
        goto done;
    }
    tmpl.created_ms = created;
    tmpl.seq = seq;
    s = rs->mem->ops->get(rs->mem, id, strlen(id));
    if (s)
        merge_loaded(rs, s, r, sv, v, op->reload);
    else if (build_auth(rs, r->element[5], sv, v, r->element[8], &a))
        cd_logf(CD_LOG_ERROR, NULL, "redis: session %s cannot be loaded: skipped", id);
    else if (cd_store_memory_insert(rs->mem, &tmpl, a, &s)) /* takes a */
        cd_logf(CD_LOG_ERROR, NULL, "redis: session %s: out of memory", id);
done:
    /* a fetch that heard of a newer version while this one ran goes again */
    for (struct fetch **p = &rs->fetches; *p && !op->reload; p = &(*p)->next) {
        struct fetch *f = *p;
        if (strcmp(f->id, id))
            continue;
        *p = f->next;
        int again = f->again && r && r->type == REDIS_REPLY_ARRAY && f->want > v;
        uint64_t want = f->want;
        free(f);
        if (again)
            fetch_session(rs, id, want);
        break;
    }
    free(op);
    load_finished(rs);
}

/* Send the load script for session id[0..n); reload: part of a (re)load of everything. */
static int send_load(struct redis_store *rs, const char *id, size_t n, int reload)
{
    struct call *c = call_new(rs, SC_LOAD, 6);
    struct load_op *op = calloc(1, sizeof(*op));
    if (!c || !op || copy_part(op->id, sizeof(op->id), id, n) || call_arg(c, 2, "3", 1) ||
        call_session_keys(c, 3, op->id)) {
        call_free(c);
        free(op);
        return CD_ENOMEM;
    }
    op->reload = reload;
    return call_start(c, on_load, op);
}

/* Load session id because Redis holds it at version want or later (a publication showed it);
 * one load per session at a time, which goes again if want rises meanwhile. */
static int fetch_session(struct redis_store *rs, const char *id, uint64_t want)
{
    for (struct fetch *f = rs->fetches; f; f = f->next)
        if (!strcmp(f->id, id)) {
            if (want > f->want) {
                f->want = want;
                f->again = 1;
            }
            return CD_OK;
        }
    struct fetch *f = calloc(1, sizeof(*f));
    if (!f)
        return CD_ENOMEM;
    snprintf(f->id, sizeof(f->id), "%s", id);
    f->want = want;
    int rc = send_load(rs, id, strlen(id), 0);
    if (rc) {
        free(f);
        return rc;
    }
    f->next = rs->fetches;
    rs->fetches = f;
    return CD_OK;
}

static void on_ids(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = ac->data;
    struct redis_store *rs = l->rs;
    redisReply *r = reply;
    (void)privdata;
    if (!r || rs->cmd.ac != ac)
        return;
    if (r->type != REDIS_REPLY_ARRAY) {
        cd_logf(CD_LOG_ERROR, NULL, "redis: cannot list sessions");
        redisAsyncDisconnect(ac);
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const char *id;
        size_t n;
        if (!reply_str(r->element[i], &id, &n) && cd_uuid_valid(id, n) && !send_load(rs, id, n, 1))
            rs->loads_pending++;
    }
    load_finished(rs);
}

/* (Re)load every stored session once the command connection is through its handshake and
 * the subscriber listens (so no update falls between the load and the first publication). */
static void begin_load(struct redis_store *rs)
{
    if (!rs->cmd.ac || rs->cmd.connecting || !rs->subscribed)
        return;
    if (rs->state < R_LOADING) {
        rs->state = R_LOADING;
        snprintf(rs->detail, sizeof(rs->detail), "loading");
    }
    rs->reloading = 1;
    redisAsyncCommand(rs->cmd.ac, on_ids, NULL, "ZRANGE collabd:sessions 0 -1");
}

/* ---- publications ---- */

/* The unsigned decimal at *p (advanced past it), or -1. */
static int64_t take_uint(const char **p, const char *end)
{
    int64_t v = 0;
    const char *s = *p;
    while (s < end && *s >= '0' && *s <= '9' && v < ((int64_t)1 << 53))
        v = v * 10 + (*s++ - '0');
    if (s == *p || v >= ((int64_t)1 << 53))
        return -1;
    *p = s;
    return v;
}

/* "u <first> <n>\n<update>\n..." on the channel of session s (or of id, unknown here). */
static void on_updates(struct redis_store *rs, const char *id, struct cd_session *s, const char *p,
                       size_t len)
{
    const char *end = p + len, *q = p + 2;
    int64_t first = take_uint(&q, end), n = -1;
    if (first >= 0 && q < end && *q == ' ') {
        q++;
        n = take_uint(&q, end);
    }
    if (n <= 0 || n > 100000 || q >= end || *q != '\n') {
        cd_logf(CD_LOG_WARN, NULL, "redis: malformed publication for session %s ignored", id);
        return;
    }
    uint64_t last = (uint64_t)first + (uint64_t)n;
    if (!s || (uint64_t)first > cd_auth_version(s->auth)) {
        fetch_session(rs, id, last); /* a gap (or a session created elsewhere) */
        return;
    }
    if (last <= cd_auth_version(s->auth))
        return; /* held already: this instance's own commit, answered first */
    const char **e = calloc((size_t)n, sizeof(*e));
    size_t *l = calloc((size_t)n, sizeof(*l)), k = 0;
    for (q++; e && l && k < (size_t)n && q <= end; k++) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        e[k] = q;
        l[k] = (size_t)((nl ? nl : end) - q);
        q = nl ? nl + 1 : end + 1;
    }
    if (!e || !l || k != (size_t)n || q != end + 1)
        cd_logf(CD_LOG_WARN, NULL, "redis: malformed publication for session %s ignored", id);
    else if (apply_stored(rs, s, (uint64_t)first, e, l, k))
        fetch_session(rs, id, last); /* the mirror fell out of step: Redis decides */
    free((void *)e);
    free(l);
}

/* A publication on the channel chan[0..clen) of a session. */
static void on_publication(struct redis_store *rs, const char *chan, size_t clen, const char *p,
                           size_t n)
{
    size_t pl = strlen(rs->channel);
    char id[37];
    if (clen != pl + 38 || memcmp(chan, rs->channel, pl) || chan[pl] != '{' ||
        chan[clen - 1] != '}' || !cd_uuid_valid(chan + pl + 1, 36) || n < 2 || p[1] != ' ')
        return;
    memcpy(id, chan + pl + 1, 36);
    id[36] = '\0';
    struct cd_session *s = rs->mem->ops->get(rs->mem, id, 36);
    if (p[0] == 'u') {
        on_updates(rs, id, s, p, n);
        return;
    }
    if (n - 2 == strlen(rs->nonce) && !memcmp(p + 2, rs->nonce, n - 2))
        return; /* this instance's own event: done already */
    if (p[0] == 'c' && !s) {
        fetch_session(rs, id, 0);
    } else if (p[0] == 'd' && s) {
        forget(rs, s, "was deleted by another instance");
    }
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = ac->data;
    struct redis_store *rs = l->rs;
    redisReply *r = reply;
    const char *kind, *chan, *p;
    size_t kn, cn, n;
    (void)privdata;
    if (!r || rs->sub.ac != ac || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        reply_str(r->element[0], &kind, &kn))
        return;
    if (kn == 10 && !memcmp(kind, "psubscribe", 10)) {
        uv_timer_stop(&l->timer);
        l->connecting = 0;
        l->backoff_ms = 0;
        rs->subscribed = 1;
        cd_logf(CD_LOG_INFO, NULL, "redis: subscribed to %s*", rs->channel);
        begin_load(rs); /* at a reconnect: publications may have been missed */
    } else if (kn == 8 && !memcmp(kind, "pmessage", 8) && r->elements == 4 &&
               !reply_str(r->element[2], &chan, &cn) && !reply_str(r->element[3], &p, &n)) {
        on_publication(rs, chan, cn, p, n);
    }
}

/* ---- connections ---- */

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = ac->data;
    redisReply *r = reply;
    size_t i = (size_t)(uintptr_t)privdata;
    if (r && r->type == REDIS_REPLY_STRING && r->len == 40 && l->rs->cmd.ac == ac)
        memcpy(l->rs->sha[i], r->str, 41);
}

static void on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = ac->data;
    struct redis_store *rs = l->rs;
    redisReply *r = reply;
    if (!r || l->ac != ac || (ac->c.flags & REDIS_DISCONNECTING))
        return; /* an earlier step failed: its reason stands */
    if (r->type == REDIS_REPLY_ERROR) {
        cd_logf(CD_LOG_ERROR, NULL, "redis: %s refused: %.*s", (const char *)privdata, (int)r->len,
                r->str);
        snprintf(rs->detail, sizeof(rs->detail), "%s refused", (const char *)privdata);
        redisAsyncDisconnect(ac);
        return;
    }
    if (!strcmp(privdata, "SELECT")) {
        uv_timer_stop(&l->timer);
        l->connecting = 0;
        l->backoff_ms = 0;
        cd_logf(CD_LOG_INFO, NULL, "redis: connected");
        if (!rs->subscribed)
            snprintf(rs->detail, sizeof(rs->detail), "waiting for the subscription");
        for (size_t i = 0; i < SC_COUNT; i++)
            redisAsyncCommand(ac, on_script_loaded, (void *)(uintptr_t)i, "SCRIPT LOAD %s",
                              scripts[i]);
        begin_load(rs);
    }
}

/* l's connection is gone (hiredis frees or has freed it). */
static void link_down(struct link *l)
{
    struct redis_store *rs = l->rs;
    l->ac = NULL;
    l->connecting = 0;
    if (l->sub) {
        rs->subscribed = 0;
    } else {
        rs->state = R_DOWN;
        memset(rs->sha, 0, sizeof(rs->sha));
    }
}

static const char *link_name(const struct link *l)
{
    return l->sub ? "redis (subscriber)" : "redis";
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    if (l->ac != ac || status == REDIS_OK)
        return;
    cd_logf(CD_LOG_WARN, NULL, "%s: cannot connect: %s", link_name(l), ac->errstr);
    if (!l->sub)
        snprintf(l->rs->detail, sizeof(l->rs->detail), "cannot connect: %s", ac->errstr);
    link_down(l);
    schedule_reconnect(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    struct redis_store *rs = l->rs;
    if (l->ac != ac)
        return;
    int was_up = !l->connecting; /* else the handshake failed and detail says why */
    link_down(l);
    if (rs->stopping)
        return;
    if (was_up) {
        cd_logf(CD_LOG_WARN, NULL, "%s: connection lost: %s", link_name(l),
                status == REDIS_OK ? "closed" : ac->errstr);
        if (!l->sub)
            snprintf(rs->detail, sizeof(rs->detail), "connection lost");
    }
    schedule_reconnect(l);
}

static void do_connect(struct link *l)
{
    struct redis_store *rs = l->rs;
    redisAsyncContext *ac =
        rs->path[0] ? redisAsyncConnectUnix(rs->path) : redisAsyncConnect(rs->host, rs->port);
    if (!ac || ac->err) {
        cd_logf(CD_LOG_WARN, NULL, "%s: cannot connect: %s", link_name(l),
                ac ? ac->errstr : "out of memory");
        if (ac && !l->sub)
            snprintf(rs->detail, sizeof(rs->detail), "cannot connect: %s", ac->errstr);
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    ac->data = l;
    if (cd_redis_uv_attach(ac, rs->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    l->ac = ac;
    l->connecting = 1;
    if (!l->sub)
        rs->state = R_CONNECTING;
    uv_timer_start(&l->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (rs->password[0] && rs->user[0])
        redisAsyncCommand(ac, on_handshake, (void *)"AUTH", "AUTH %s %s", rs->user, rs->password);
    else if (rs->password[0])
        redisAsyncCommand(ac, on_handshake, (void *)"AUTH", "AUTH %s", rs->password);
    if (l->sub)
        redisAsyncCommand(ac, on_sub_reply, NULL, "PSUBSCRIBE %s*", rs->channel);
    else
        redisAsyncCommand(ac, on_handshake, (void *)"SELECT", "SELECT %ld", rs->db);
}

static void on_timer(uv_timer_t *t)
{
    struct link *l = t->data;
    struct redis_store *rs = l->rs;
    if (rs->stopping)
        return;
    if (l->ac && l->connecting) { /* connect or handshake timed out */
        redisAsyncContext *ac = l->ac;
        link_down(l);
        cd_logf(CD_LOG_WARN, NULL, "%s: cannot connect to %s (no answer)", link_name(l),
                rs->path[0] ? rs->path : rs->host);
        if (!l->sub)
            snprintf(rs->detail, sizeof(rs->detail), "cannot connect");
        redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    if (!l->ac)
        do_connect(l);
}

static void schedule_reconnect(struct link *l)
{
    if (l->rs->stopping)
        return;
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (l->backoff_ms > BACKOFF_MAX_MS)
        l->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&l->timer, on_timer, l->backoff_ms, 0);
}

/* ---- operations ---- */

struct create_op {
    struct cd_session tmpl;
    struct cd_auth *auth;
    cd_store_cb cb;
    void *arg;
};

static void on_created(struct call *c, redisReply *r)
{
    struct create_op *op = c->op;
    struct cd_session *s = NULL;
    int rc = CD_EUNAVAIL;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        op->tmpl.seq = (uint64_t)r->integer;
        rc = cd_store_memory_insert(c->rs->mem, &op->tmpl, op->auth, &s);
        op->auth = NULL;
        if (rc == CD_EEXIST) { /* loaded already: an update to it was published first */
            s = c->rs->mem->ops->get(c->rs->mem, op->tmpl.id, 36);
            rc = CD_OK;
        }
    }
    op->cb(op->arg, rc, s);
    cd_auth_free(op->auth);
    free(op);
}

static int r_create_async(struct cd_store *st, const char *language, const uint16_t *text, size_t n,
                          cd_store_cb cb, void *arg)
{
    struct redis_store *rs = (struct redis_store *)st;
    struct create_op *op = NULL;
    struct call *c = NULL;
    struct cd_buf b;
    int rc = CD_EUNAVAIL;
    cd_buf_init(&b, (size_t)1 << 31);
    if (rs->state != R_READY)
        goto fail;
    rc = CD_ELIMIT;
    if (rs->mem->ops->count(rs->mem) >= st->max_sessions)
        goto fail;
    rc = CD_ENOMEM;
    op = calloc(1, sizeof(*op));
    c = call_new(rs, SC_CREATE, 15);
    if (!op || !c || cd_auth_new(&st->limits, text, n, &op->auth) ||
        snapshot_json(cd_auth_doc(op->auth), &b))
        goto fail;
    cd_uuid_v4(op->tmpl.id);
    cd_uuid_v4(op->tmpl.view_token);
    snprintf(op->tmpl.language, sizeof(op->tmpl.language), "%s", language);
    op->tmpl.created_ms = cd_wall_ms();
    op->cb = cb;
    op->arg = arg;
    if (call_arg(c, 2, "4", 1) || call_arg(c, 3, "collabd:seq", 11) ||
        call_arg(c, 4, "collabd:sessions", 16) || call_key(c, 5, "session", op->tmpl.id) ||
        call_key(c, 6, "doc", op->tmpl.id) || call_arg(c, 7, op->tmpl.id, strlen(op->tmpl.id)) ||
        call_arg(c, 8, language, strlen(language)) || call_argu(c, 9, op->tmpl.created_ms) ||
        call_arg(c, 10, op->tmpl.view_token, strlen(op->tmpl.view_token)) ||
        call_arg(c, 11, b.data, b.len) || call_argu(c, 12, (unsigned long long)rs->ttl) ||
        call_channel(c, 13, op->tmpl.id) || call_arg(c, 14, rs->nonce, strlen(rs->nonce)))
        goto fail;
    cd_buf_cleanup(&b);
    c->op = op;
    c->done = on_created;
    rc = call_send(c);
    if (rc) {
        cd_auth_free(op->auth);
        free(op);
    }
    return rc;
fail:
    cd_buf_cleanup(&b);
    call_free(c);
    if (op)
        cd_auth_free(op->auth);
    free(op);
    return rc;
}

struct remove_op {
    char id[37];
    cd_store_cb cb;
    void *arg;
};

static void on_removed(struct call *c, redisReply *r)
{
    struct remove_op *op = c->op;
    struct cd_store *mem = c->rs->mem;
    struct cd_session *s = mem->ops->get(mem, op->id, strlen(op->id));
    if (!r || r->type == REDIS_REPLY_ERROR || !s) {
        op->cb(op->arg, s ? CD_EUNAVAIL : CD_ENOTFOUND, NULL);
    } else {
        op->cb(op->arg, CD_OK, s);
        mem->ops->remove(mem, op->id, strlen(op->id));
    }
    free(op);
}

static int r_remove_async(struct cd_store *st, const char *id, size_t idlen, cd_store_cb cb,
                          void *arg)
{
    struct redis_store *rs = (struct redis_store *)st;
    if (!rs->mem->ops->get(rs->mem, id, idlen))
        return CD_ENOTFOUND;
    if (rs->state != R_READY)
        return CD_EUNAVAIL;
    struct remove_op *op = calloc(1, sizeof(*op));
    struct call *c = call_new(rs, SC_REMOVE, 10);
    if (!op || !c || copy_part(op->id, sizeof(op->id), id, idlen) || call_arg(c, 2, "4", 1) ||
        call_session_keys(c, 3, op->id) || call_arg(c, 6, "collabd:sessions", 16) ||
        call_arg(c, 7, op->id, strlen(op->id)) || call_channel(c, 8, op->id) ||
        call_arg(c, 9, rs->nonce, strlen(rs->nonce))) {
        free(op);
        call_free(c);
        return CD_ENOMEM;
    }
    op->cb = cb;
    op->arg = arg;
    return call_start(c, on_removed, op);
}

struct commit_op {
    char id[37];
    uint64_t base;
    uint64_t renew_ms; /* the commit renews the keys' expiry (sent at this time), or 0 */
    cd_store_commit_cb cb;
    void *arg;
};

static void ignore_reply(struct call *c, redisReply *r)
{
    (void)c;
    (void)r;
}

static void compact(struct redis_store *rs, struct cd_session *s)
{
    struct cd_buf b;
    cd_buf_init(&b, (size_t)1 << 31);
    struct call *c = call_new(rs, SC_COMPACT, 7);
    if (!c || snapshot_json(cd_auth_doc(s->auth), &b) || call_arg(c, 2, "2", 1) ||
        call_key(c, 3, "doc", s->id) || call_key(c, 4, "log", s->id) ||
        call_arg(c, 5, b.data, b.len) || call_argu(c, 6, cd_auth_version(s->auth))) {
        call_free(c);
        cd_buf_cleanup(&b);
        return;
    }
    cd_buf_cleanup(&b);
    c->done = ignore_reply;
    call_send(c);
}

/* A commit at op->base found the stored version at v: apply the updates the mirror missed,
 * sent back with the refusal, so the pusher can rebase over them at once; without them (the
 * log was folded past base), load the session. */
static void catch_up(struct redis_store *rs, const struct commit_op *op, const redisReply *r,
                     uint64_t v)
{
    struct cd_session *s = rs->mem->ops->get(rs->mem, op->id, strlen(op->id));
    const char **e = NULL;
    size_t *l = NULL, n = 0;
    if (!s || v <= cd_auth_version(s->auth))
        return;
    if (r->elements == 3 && !reply_strings(r->element[2], 0, &e, &l, &n) && n == v - op->base)
        apply_stored(rs, s, op->base, e, l, n);
    free((void *)e);
    free(l);
    if (cd_auth_version(s->auth) < v)
        fetch_session(rs, op->id, v);
}

static void on_committed(struct call *c, redisReply *r)
{
    struct commit_op *op = c->op;
    struct redis_store *rs = c->rs;
    int rc = CD_EUNAVAIL;
    uint64_t v = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && (r->elements == 2 || r->elements == 3) &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        long long code = r->element[0]->integer;
        v = (uint64_t)r->element[1]->integer;
        rc = code == 0 ? CD_OK : code == -1 ? CD_ECONFLICT : CD_ENOTFOUND;
    }
    if (rc == CD_ECONFLICT)
        catch_up(rs, op, r, v);
    op->cb(op->arg, rc, v);
    if (!rc) {
        /* fold the log into a snapshot each time it grows past another history_max updates */
        uint64_t k = rs->base.limits.history_max ? rs->base.limits.history_max : 1;
        struct cd_session *s = rs->mem->ops->get(rs->mem, op->id, strlen(op->id));
        if (s && op->renew_ms)
            s->expiry_renewed_ms = op->renew_ms;
        if (s && cd_auth_version(s->auth) == v && v / k != op->base / k)
            compact(rs, s);
    }
    free(op);
}

static int r_commit(struct cd_store *st, struct cd_session *sess, uint64_t base,
                    const char *const *entries, const size_t *lens, size_t n, cd_store_commit_cb cb,
                    void *arg)
{
    struct redis_store *rs = (struct redis_store *)st;
    if (rs->state != R_READY)
        return CD_EUNAVAIL;
    struct commit_op *op = calloc(1, sizeof(*op));
    struct call *c = call_new(rs, SC_COMMIT, 9 + (int)n);
    /* The expiry is renewed by the first commit after a tenth of the TTL since the last
     * renewal, not by every commit (three EXPIREs per script call): a session expires between
     * 0.9 x ttl and ttl after its last edit. */
    char ttl[32];
    uint64_t now = cd_mono_us() / 1000;
    int due = rs->ttl > 0 && (!sess->expiry_renewed_ms ||
                              now - sess->expiry_renewed_ms >= (uint64_t)rs->ttl * 100);
    int tl = snprintf(ttl, sizeof(ttl), "%ld", due ? rs->ttl : -rs->ttl);
    if (!op || !c || call_arg(c, 2, "3", 1) || call_session_keys(c, 3, sess->id) ||
        call_argu(c, 6, base) || call_arg(c, 7, ttl, (size_t)tl) || call_channel(c, 8, sess->id))
        goto fail;
    op->renew_ms = due ? now : 0;
    for (size_t i = 0; i < n; i++)
        if (call_arg(c, 9 + (int)i, entries[i], lens[i]))
            goto fail;
    memcpy(op->id, sess->id, sizeof(op->id));
    op->base = base;
    op->cb = cb;
    op->arg = arg;
    return call_start(c, on_committed, op);
fail:
    free(op);
    call_free(c);
    return CD_ENOMEM;
}

/* ---- the rest of the ops table ---- */

static int r_create(struct cd_store *st, const char *language, struct cd_session **out)
{
    (void)st;
    (void)language;
    (void)out;
    return CD_EUNAVAIL; /* only create_async makes a durable session */
}

static struct cd_session *r_get(struct cd_store *st, const char *id, size_t idlen)
{
    struct redis_store *rs = (struct redis_store *)st;
    return rs->mem->ops->get(rs->mem, id, idlen);
}

static size_t r_list(struct cd_store *st, uint64_t after, struct cd_session **out, size_t limit,
                     int *more)
{
    struct redis_store *rs = (struct redis_store *)st;
    return rs->mem->ops->list(rs->mem, after, out, limit, more);
}

static int r_remove(struct cd_store *st, const char *id, size_t idlen)
{
    (void)st;
    (void)id;
    (void)idlen;
    return CD_EUNAVAIL; /* only remove_async */
}

static size_t r_count(struct cd_store *st)
{
    struct redis_store *rs = (struct redis_store *)st;
    return rs->mem->ops->count(rs->mem);
}

static int r_status(struct cd_store *st)
{
    return ((struct redis_store *)st)->state == R_READY ? CD_OK : CD_EUNAVAIL;
}

static const char *r_status_detail(struct cd_store *st)
{
    return ((struct redis_store *)st)->detail;
}

static void link_shutdown(struct link *l)
{
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, NULL);
    if (l->ac && l->connecting) {
        /* no reply may ever come (see CONNECT_TIMEOUT_MS): free it now, inside the loop */
        redisAsyncContext *ac = l->ac;
        l->ac = NULL;
        redisAsyncFree(ac);
    } else if (l->ac) {
        redisAsyncDisconnect(l->ac); /* pending calls get their replies first */
    }
}

static void r_shutdown(struct cd_store *st)
{
    struct redis_store *rs = (struct redis_store *)st;
    if (rs->stopping)
        return;
    rs->stopping = 1;
    uv_timer_stop(&rs->sweep);
    uv_close((uv_handle_t *)&rs->sweep, NULL);
    link_shutdown(&rs->cmd);
    link_shutdown(&rs->sub);
}

static void r_destroy(struct cd_store *st)
{
    struct redis_store *rs = (struct redis_store *)st;
    struct link *links[2] = {&rs->cmd, &rs->sub};
    for (int i = 0; i < 2; i++)
        if (links[i]->ac) {
            redisAsyncContext *ac = links[i]->ac;
            links[i]->ac = NULL;
            redisAsyncFree(ac);
        }
    while (rs->fetches) {
        struct fetch *f = rs->fetches;
        rs->fetches = f->next;
        free(f);
    }
    cd_store_free(rs->mem);
    free(rs);
}

static const struct cd_store_ops redis_ops = {
    .name = "redis",
    .create = r_create,
    .get = r_get,
    .list = r_list,
    .remove = r_remove,
    .count = r_count,
    .destroy = r_destroy,
    .create_async = r_create_async,
    .remove_async = r_remove_async,
    .commit = r_commit,
    .status = r_status,
    .status_detail = r_status_detail,
    .shutdown = r_shutdown,
};

struct cd_store *cd_store_redis_new(struct uv_loop_s *loop, const char *url, long ttl_s,
                                    size_t max_sessions, const struct cd_auth_limits *lim,
                                    char *err, size_t errlen)
{
    struct redis_store *rs = calloc(1, sizeof(*rs));
    if (!rs || !(rs->mem = cd_store_memory_new(max_sessions, lim))) {
        snprintf(err, errlen, "out of memory");
        free(rs);
        return NULL;
    }
    if (parse_url(rs, url)) {
        snprintf(err, errlen,
                 "invalid redis URL (redis://[[user]:password@]host[:port][/db] or "
                 "unix:///path[?db=N][&password=P])");
        cd_store_free(rs->mem);
        free(rs);
        return NULL;
    }
    rs->base.ops = &redis_ops;
    rs->base.max_sessions = max_sessions;
    rs->base.limits = *lim;
    rs->loop = loop;
    rs->ttl = ttl_s;
    snprintf(rs->detail, sizeof(rs->detail), "connecting");
    cd_uuid_v4(rs->nonce);
    snprintf(rs->channel, sizeof(rs->channel), "collabd:%ld:room:", rs->db);
    uv_timer_init(loop, &rs->sweep);
    rs->sweep.data = rs;
    struct link *links[2] = {&rs->cmd, &rs->sub};
    for (int i = 0; i < 2; i++) {
        links[i]->rs = rs;
        links[i]->sub = i;
        uv_timer_init(loop, &links[i]->timer);
        links[i]->timer.data = links[i];
        do_connect(links[i]);
    }
    return &rs->base;
}
