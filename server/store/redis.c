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
 * Key layout (documented for operators in README.md; {id} is the session UUID, written with
 * its braces so that a session's keys share a Redis Cluster hash slot):
 *   collabd:seq                 INCR counter: the creation sequence (the list cursor)
 *   collabd:sessions            sorted set: member id, score seq
 *   collabd:session:{id}        hash: id, language, created_ms, seq, view_token
 *   collabd:doc:{id}            hash: snapshot (the document at snapshot_version as a JSON
 *                               string, lone surrogates escaped), snapshot_version, version
 *   collabd:log:{id}            list: the updates after snapshot_version, oldest first, each
 *                               {"clientID":...,"changes":[...]} (ChangeSet JSON)
 * The three per-session keys expire after ttl seconds without a write (0: never); the sorted
 * set member of an expired session is removed the next time collabd loads.
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
#include "store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf16.h"

#include <cjson/cJSON.h>
#include <hiredis/adapters/libuv.h>
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

enum { SC_CREATE, SC_COMMIT, SC_COMPACT, SC_LOAD, SC_COUNT };

static const char *const scripts[SC_COUNT] = {
    /* create: KEYS seq, sessions, session, doc; ARGV id, language, created_ms, view_token,
     * snapshot, ttl -> seq */
    "local seq = redis.call('INCR', KEYS[1])\n"
    "redis.call('HSET', KEYS[3], 'id', ARGV[1], 'language', ARGV[2], 'created_ms', ARGV[3],"
    " 'seq', seq, 'view_token', ARGV[4])\n"
    "redis.call('HSET', KEYS[4], 'snapshot', ARGV[5], 'snapshot_version', 0, 'version', 0)\n"
    "redis.call('ZADD', KEYS[2], seq, ARGV[1])\n"
    "if tonumber(ARGV[6]) > 0 then redis.call('EXPIRE', KEYS[3], ARGV[6]);"
    " redis.call('EXPIRE', KEYS[4], ARGV[6]) end\n"
    "return seq\n",
    /* commit: KEYS session, doc, log; ARGV base, ttl, update... -> {0, new version} appended,
     * {-1, stored version} moved, {-2, 0} no such session */
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {-2, 0} end\n"
    "local v = tonumber(redis.call('HGET', KEYS[2], 'version') or '0')\n"
    "if v ~= tonumber(ARGV[1]) then return {-1, v} end\n"
    "for i = 3, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end\n"
    "v = v + #ARGV - 2\n"
    "redis.call('HSET', KEYS[2], 'version', v)\n"
    "if tonumber(ARGV[2]) > 0 then for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end"
    " end\n"
    "return {0, v}\n",
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
};

enum rstate { R_DOWN, R_CONNECTING, R_LOADING, R_READY };

struct redis_store {
    struct cd_store base; /* first: the public view */
    struct cd_store *mem; /* the mirror */
    uv_loop_t *loop;
    uv_timer_t timer; /* reconnect backoff */
    redisAsyncContext *ac;
    enum rstate state;
    int stopping;
    unsigned backoff_ms;
    size_t loads_pending;
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

static void schedule_reconnect(struct redis_store *rs);
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

static int call_argu(struct call *c, int i, unsigned long long v)
{
    char k[32];
    int n = snprintf(k, sizeof(k), "%llu", v);
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
        c->rs->ac == ac) {
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
    if (!rs->ac || rs->state < R_LOADING) {
        call_free(c);
        return CD_EUNAVAIL;
    }
    c->evalled = !rs->sha[c->script][0];
    set_script_args(c);
    if (redisAsyncCommandArgv(rs->ac, on_call_reply, c, c->argc, (const char **)c->argv,
                              c->argvlen) != REDIS_OK) {
        call_free(c);
        return CD_EUNAVAIL;
    }
    return CD_OK;
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
    for (size_t i = 0; i < log->elements; i++) {
        cJSON *e = reply_str(log->element[i], &s, &n) ? NULL : parse_json(s, n);
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(e, "clientID");
        struct cd_update u = {NULL, NULL};
        struct cd_auth_result res;
        rc = CD_EPARSE;
        if (cJSON_IsString(cid) && (u.client_id = strdup(cid->valuestring)) &&
            !cd_cs_from_json(cJSON_GetObjectItemCaseSensitive(e, "changes"), &u.changes, NULL, 0))
            rc = cd_auth_push(a, cd_auth_version(a), &u, 1, 1, &res, NULL, 0);
        else
            cd_update_cleanup(&u);
        cJSON_Delete(e);
        if (rc)
            goto out;
    }
    *out = a;
    a = NULL;
out:
    cJSON_Delete(j);
    free(text);
    cd_auth_free(a);
    return rc;
}

static void load_finished(struct redis_store *rs)
{
    if (rs->state != R_LOADING || rs->loads_pending)
        return;
    rs->state = R_READY;
    rs->backoff_ms = 0;
    snprintf(rs->detail, sizeof(rs->detail), "connected");
    cd_logf(CD_LOG_INFO, NULL, "redis: ready, %zu sessions", rs->mem->ops->count(rs->mem));
}

static void on_load(struct call *c, redisReply *r)
{
    struct redis_store *rs = c->rs;
    char *id = c->op;
    struct cd_session tmpl, *s;
    struct cd_auth *a = NULL;
    uint64_t seq, created, sv, v;
    const char *str;
    size_t n;
    rs->loads_pending--;
    if (!r) {
        free(id);
        return; /* the connection is gone: the next one loads again */
    }
    if (r->type == REDIS_REPLY_NIL) { /* expired: forget it */
        redisAsyncCommand(rs->ac, NULL, NULL, "ZREM collabd:sessions %s", id);
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
        build_auth(rs, r->element[5], sv, v, r->element[8], &a)) {
        cd_logf(CD_LOG_ERROR, NULL, "redis: session %s cannot be loaded: skipped", id);
        goto done;
    }
    tmpl.created_ms = created;
    tmpl.seq = seq;
    s = rs->mem->ops->get(rs->mem, id, strlen(id));
    if (s) {
        if (cd_auth_version(s->auth) != v) {
            /* Redis holds another history than the mirror (it lost writes, or another
             * instance wrote): Redis is the truth. */
            cd_logf(CD_LOG_WARN, NULL, "redis: session %s reloaded at version %llu (was %llu)", id,
                    (unsigned long long)v, (unsigned long long)cd_auth_version(s->auth));
            cd_auth_free(s->auth);
            s->auth = a;
            a = NULL;
            if (rs->base.reset_cb)
                rs->base.reset_cb(rs->base.reset_arg, s);
        }
        cd_auth_free(a);
    } else if (cd_store_memory_insert(rs->mem, &tmpl, a, &s)) {
        cd_logf(CD_LOG_ERROR, NULL, "redis: session %s: out of memory", id);
    }
done:
    free(id);
    load_finished(rs);
}

static void on_ids(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_store *rs = ac->data;
    redisReply *r = reply;
    if (!r || rs->ac != ac)
        return;
    if (r->type != REDIS_REPLY_ARRAY) {
        cd_logf(CD_LOG_ERROR, NULL, "redis: cannot list sessions");
        redisAsyncDisconnect(ac);
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const char *id;
        size_t n;
        if (reply_str(r->element[i], &id, &n) || !cd_uuid_valid(id, n))
            continue;
        struct call *c = call_new(rs, SC_LOAD, 6);
        if (!c || call_arg(c, 2, "3", 1) || call_key(c, 3, "session", id) ||
            call_key(c, 4, "doc", id) || call_key(c, 5, "log", id) || !(c->op = strndup(id, n))) {
            call_free(c);
            continue;
        }
        c->done = on_load;
        if (!call_send(c))
            rs->loads_pending++;
    }
    load_finished(rs);
}

/* ---- connection ---- */

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_store *rs = ac->data;
    redisReply *r = reply;
    size_t i = (size_t)(uintptr_t)privdata;
    if (r && r->type == REDIS_REPLY_STRING && r->len == 40 && rs->ac == ac)
        memcpy(rs->sha[i], r->str, 41);
}

static void on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_store *rs = ac->data;
    redisReply *r = reply;
    if (!r || rs->ac != ac || (ac->c.flags & REDIS_DISCONNECTING))
        return; /* an earlier step failed: its reason stands */
    if (r->type == REDIS_REPLY_ERROR) {
        cd_logf(CD_LOG_ERROR, NULL, "redis: %s refused: %.*s", (const char *)privdata, (int)r->len,
                r->str);
        snprintf(rs->detail, sizeof(rs->detail), "%s refused", (const char *)privdata);
        redisAsyncDisconnect(ac);
        return;
    }
    if (!strcmp(privdata, "SELECT")) {
        uv_timer_stop(&rs->timer);
        rs->state = R_LOADING;
        snprintf(rs->detail, sizeof(rs->detail), "loading");
        for (size_t i = 0; i < SC_COUNT; i++)
            redisAsyncCommand(ac, on_script_loaded, (void *)(uintptr_t)i, "SCRIPT LOAD %s",
                              scripts[i]);
        redisAsyncCommand(ac, on_ids, NULL, "ZRANGE collabd:sessions 0 -1");
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct redis_store *rs = ac->data;
    if (rs->ac != ac)
        return;
    if (status != REDIS_OK) {
        cd_logf(CD_LOG_WARN, NULL, "redis: cannot connect: %s", ac->errstr);
        snprintf(rs->detail, sizeof(rs->detail), "cannot connect: %s", ac->errstr);
        rs->ac = NULL; /* hiredis frees it */
        rs->state = R_DOWN;
        schedule_reconnect(rs);
        return;
    }
    cd_logf(CD_LOG_INFO, NULL, "redis: connected");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redis_store *rs = ac->data;
    if (rs->ac != ac)
        return;
    int was_up = rs->state >= R_LOADING; /* else the handshake failed and detail says why */
    rs->ac = NULL;
    rs->state = R_DOWN;
    memset(rs->sha, 0, sizeof(rs->sha));
    if (rs->stopping)
        return;
    if (was_up) {
        cd_logf(CD_LOG_WARN, NULL, "redis: connection lost: %s",
                status == REDIS_OK ? "closed" : ac->errstr);
        snprintf(rs->detail, sizeof(rs->detail), "connection lost");
    }
    schedule_reconnect(rs);
}

static void do_connect(struct redis_store *rs)
{
    redisAsyncContext *ac =
        rs->path[0] ? redisAsyncConnectUnix(rs->path) : redisAsyncConnect(rs->host, rs->port);
    if (!ac || ac->err) {
        cd_logf(CD_LOG_WARN, NULL, "redis: cannot connect: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            snprintf(rs->detail, sizeof(rs->detail), "cannot connect: %s", ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect(rs);
        return;
    }
    ac->data = rs;
    if (redisLibuvAttach(ac, rs->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(rs);
        return;
    }
    rs->ac = ac;
    rs->state = R_CONNECTING;
    uv_timer_start(&rs->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (rs->password[0] && rs->user[0])
        redisAsyncCommand(ac, on_handshake, (void *)"AUTH", "AUTH %s %s", rs->user, rs->password);
    else if (rs->password[0])
        redisAsyncCommand(ac, on_handshake, (void *)"AUTH", "AUTH %s", rs->password);
    redisAsyncCommand(ac, on_handshake, (void *)"SELECT", "SELECT %ld", rs->db);
}

static void on_timer(uv_timer_t *t)
{
    struct redis_store *rs = t->data;
    if (rs->stopping)
        return;
    if (rs->ac && rs->state == R_CONNECTING) { /* connect or handshake timed out */
        redisAsyncContext *ac = rs->ac;
        rs->ac = NULL;
        rs->state = R_DOWN;
        cd_logf(CD_LOG_WARN, NULL, "redis: cannot connect to %s (no answer)",
                rs->path[0] ? rs->path : rs->host);
        snprintf(rs->detail, sizeof(rs->detail), "cannot connect");
        redisAsyncFree(ac); /* not connected: no disconnect callback */
        schedule_reconnect(rs);
        return;
    }
    if (!rs->ac)
        do_connect(rs);
}

static void schedule_reconnect(struct redis_store *rs)
{
    if (rs->stopping)
        return;
    rs->backoff_ms = rs->backoff_ms ? rs->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (rs->backoff_ms > BACKOFF_MAX_MS)
        rs->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&rs->timer, on_timer, rs->backoff_ms, 0);
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
    c = call_new(rs, SC_CREATE, 13);
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
        call_arg(c, 11, b.data, b.len) || call_argu(c, 12, (unsigned long long)rs->ttl))
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
    struct redis_store *rs;
    char id[37];
    cd_store_cb cb;
    void *arg;
};

static void on_removed(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct remove_op *op = privdata;
    redisReply *r = reply;
    struct cd_store *mem = op->rs->mem;
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
    if (rs->state != R_READY || !rs->ac)
        return CD_EUNAVAIL;
    struct remove_op *op = calloc(1, sizeof(*op));
    if (!op)
        return CD_ENOMEM;
    op->rs = rs;
    snprintf(op->id, sizeof(op->id), "%.*s", (int)idlen, id);
    op->cb = cb;
    op->arg = arg;
    if (redisAsyncCommand(rs->ac, NULL, NULL,
                          "DEL collabd:session:{%s} collabd:doc:{%s} collabd:log:{%s}", op->id,
                          op->id, op->id) != REDIS_OK ||
        redisAsyncCommand(rs->ac, on_removed, op, "ZREM collabd:sessions %s", op->id) != REDIS_OK) {
        free(op);
        return CD_EUNAVAIL;
    }
    return CD_OK;
}

struct commit_op {
    char id[37];
    uint64_t base;
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

static void on_committed(struct call *c, redisReply *r)
{
    struct commit_op *op = c->op;
    struct redis_store *rs = c->rs;
    int rc = CD_EUNAVAIL;
    uint64_t v = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        long long code = r->element[0]->integer;
        v = (uint64_t)r->element[1]->integer;
        rc = code == 0 ? CD_OK : code == -1 ? CD_ECONFLICT : CD_ENOTFOUND;
    }
    op->cb(op->arg, rc, v);
    if (!rc) {
        /* fold the log into a snapshot each time it grows past another history_max updates */
        uint64_t k = rs->base.limits.history_max ? rs->base.limits.history_max : 1;
        struct cd_session *s = rs->mem->ops->get(rs->mem, op->id, strlen(op->id));
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
    struct call *c = call_new(rs, SC_COMMIT, 8 + (int)n);
    if (!op || !c || call_arg(c, 2, "3", 1) || call_key(c, 3, "session", sess->id) ||
        call_key(c, 4, "doc", sess->id) || call_key(c, 5, "log", sess->id) ||
        call_argu(c, 6, base) || call_argu(c, 7, (unsigned long long)rs->ttl))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (call_arg(c, 8 + (int)i, entries[i], lens[i]))
            goto fail;
    memcpy(op->id, sess->id, sizeof(op->id));
    op->base = base;
    op->cb = cb;
    op->arg = arg;
    c->op = op;
    c->done = on_committed;
    int rc = call_send(c);
    if (rc)
        free(op);
    return rc;
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

static void r_shutdown(struct cd_store *st)
{
    struct redis_store *rs = (struct redis_store *)st;
    if (rs->stopping)
        return;
    rs->stopping = 1;
    uv_timer_stop(&rs->timer);
    uv_close((uv_handle_t *)&rs->timer, NULL);
    if (rs->ac && rs->state == R_CONNECTING) {
        /* no reply may ever come (see CONNECT_TIMEOUT_MS): free it now, inside the loop */
        redisAsyncContext *ac = rs->ac;
        rs->ac = NULL;
        redisAsyncFree(ac);
    } else if (rs->ac) {
        redisAsyncDisconnect(rs->ac); /* pending calls get their replies first */
    }
}

static void r_destroy(struct cd_store *st)
{
    struct redis_store *rs = (struct redis_store *)st;
    if (rs->ac) {
        redisAsyncContext *ac = rs->ac;
        rs->ac = NULL;
        redisAsyncFree(ac);
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
    uv_timer_init(loop, &rs->timer);
    rs->timer.data = rs;
    do_connect(rs);
    return &rs->base;
}
