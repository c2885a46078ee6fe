/*
 * Unit tests for audit/seclog: the chain on disk (hashes recomputed here with OpenSSL, not
 * taken from the module), what verify finds after each kind of tampering and at which line,
 * rotation and restart, damaged files, JSON escaping, and the queue cap. Each test works in
 * its own temporary directory, removed at the end.
 */
#include "audit/internal.h"
#include "audit/seclog.h"
#include "test.h"
#include "util/error.h"

#include <ftw.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

struct lines {
    char **v; /* without newlines; NUL bytes inside are kept (len gives the length) */
    size_t *len;
    size_t n;
    int ends_with_newline;
};

static void lines_free(struct lines *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->v[i]);
    free(ls->v);
    free(ls->len);
    memset(ls, 0, sizeof(*ls));
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    *len = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) == (size_t)n) {
        p[n] = '\0';
        *len = (size_t)n;
    } else {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

static int read_lines(const char *path, struct lines *ls)
{
    size_t n;
    char *p = slurp(path, &n);
    memset(ls, 0, sizeof(*ls));
    if (!p)
        return -1;
    ls->v = calloc(n + 1, sizeof(char *));
    ls->len = calloc(n + 1, sizeof(size_t));
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '\n')
            continue;
        if (i == n && start == n)
            break;
        ls->len[ls->n] = i - start;
        ls->v[ls->n] = malloc(i - start + 1);
        memcpy(ls->v[ls->n], p + start, i - start);
        ls->v[ls->n][i - start] = '\0';
        ls->n++;
        start = i + 1;
    }
    ls->ends_with_newline = n > 0 && p[n - 1] == '\n';
    free(p);
    return 0;
}

static void write_lines(const char *path, const struct lines *ls, int final_newline)
{
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; f && i < ls->n; i++) {
        fwrite(ls->v[i], 1, ls->len[i], f);
        if (i + 1 < ls->n || final_newline)
            fputc('\n', f);
    }
    if (f)
        fclose(f);
}

static void append_raw(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "ab");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

static void sha_hex(const char *p, size_t n, char out[65])
{
    unsigned char md[32];
    SHA256((const unsigned char *)p, n, md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The string value of key in the JSON line, copied into out ("" if absent). */
static const char *field(const char *line, const char *key, char *out, size_t cap)
{
    cJSON *o = cJSON_Parse(line);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    out[0] = '\0';
    if (cJSON_IsString(v))
        snprintf(out, cap, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(out, cap, "%.0f", v->valuedouble);
    cJSON_Delete(o);
    return out;
}

static long seq_of(const char *line)
{
    char b[32];
    field(line, "seq", b, sizeof(b));
    return b[0] ? strtol(b, NULL, 10) : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

struct tmp {
    char dir[64];
    char path[128]; /* dir/logs/security.log */
};

static void tmp_init(struct tmp *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/cd_seclog_XXXXXX");
    if (!mkdtemp(t->dir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(t->path, sizeof(t->path), "%s/logs/security.log", t->dir);
}

static void tmp_cleanup(struct tmp *t)
{
    nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A log with an anchor and n "login" events carrying {"i":k,"user":"u<k>"}: n + 1 lines. */
static void make_log(const char *path, int n)
{
    struct cd_seclog *l = NULL;
    CD_CHECK_INT(cd_seclog_open(&l, path, NULL), CD_OK);
    if (!l)
        return;
    for (int k = 0; k < n; k++) {
        char user[16];
        snprintf(user, sizeof(user), "u%d", k);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "i", k);
        cJSON_AddStringToObject(f, "user", user);
        CD_CHECK_INT(cd_seclog_event(l, "login", f), CD_OK);
    }
    CD_CHECK_INT(cd_seclog_flush(l), CD_OK);
    cd_seclog_free(l);
}

static long verify_bad(const char *path)
{
    long bad = -1;
    int rc = cd_seclog_verify(path, NULL, &bad);
    if (rc == CD_OK)
        return 0;
    if (rc != CD_EPARSE)
        return -100 + rc;
    return bad;
}

/* Verify with the report captured; returns the number of "line K:" problems reported. */
static int report_problems(const char *path, char *out, size_t cap)
{
    FILE *f = fmemopen(out, cap, "w");
    long bad;
    cd_seclog_verify(path, f, &bad);
    fclose(f);
    int n = 0;
    for (const char *p = out; (p = strstr(p, "line ")); p++)
        if (p == out || p[-1] == '\n')
            n++;
    return n;
}

/* Every line's prev is the SHA-256 of the line above, seq counts by one from seq0. */
static void check_chain(const struct lines *ls, long seq0)
{
    char prev[80], want[65];
    for (size_t i = 0; i < ls->n; i++) {
        CD_CHECK_INT(seq_of(ls->v[i]), seq0 + (long)i);
        CD_CHECK(!strncmp(ls->v[i], "{\"time\":\"", 9));
        CD_CHECK(ls->len[i] > 75 && !strncmp(ls->v[i] + ls->len[i] - 75, ",\"prev\":\"", 9));
        if (i == 0)
            continue;
        sha_hex(ls->v[i - 1], ls->len[i - 1], want);
        CD_CHECK_STR(field(ls->v[i], "prev", prev, sizeof(prev)), want);
    }
}

/* ---- tests ---- */

static void test_write_verify(void)
{
    struct tmp t;
    struct lines ls;
    struct stat st;
    char b[80], rep[512];
    tmp_init(&t);
    make_log(t.path, 10);

    CD_CHECK(stat(t.path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(b, sizeof(b), "%s/logs", t.dir);
    CD_CHECK(stat(b, &st) == 0 && (st.st_mode & 0777) == 0700);

    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    CD_CHECK_INT(ls.n, 11);
    CD_CHECK(ls.ends_with_newline);
    if (ls.n == 11) {
        CD_CHECK_STR(field(ls.v[0], "event", b, sizeof(b)), "chain_start");
        CD_CHECK_STR(field(ls.v[0], "reason", b, sizeof(b)), "new");
        CD_CHECK_STR(field(ls.v[0], "prev", b, sizeof(b)),
                     "0000000000000000000000000000000000000000000000000000000000000000");
        CD_CHECK_STR(field(ls.v[4], "event", b, sizeof(b)), "login");
        CD_CHECK_STR(field(ls.v[4], "user", b, sizeof(b)), "u3");
        CD_CHECK_INT(strlen(field(ls.v[4], "time", b, sizeof(b))), 24);
        check_chain(&ls, 0);
    }
    lines_free(&ls);

    long bad = -1;
    CD_CHECK_INT(cd_seclog_verify(t.path, NULL, &bad), CD_OK);
    CD_CHECK_INT(bad, 0);
    CD_CHECK_INT(report_problems(t.path, rep, sizeof(rep)), 0);
    CD_CHECK(strstr(rep, "ok: 11 lines, chain intact") == rep);

    /* the counters */
    struct cd_seclog *l = NULL;
    size_t size0, size1;
    free(slurp(t.path, &size0));
    CD_CHECK_INT(cd_seclog_open(&l, t.path, NULL), CD_OK);
    CD_CHECK_INT(cd_seclog_event(l, "logout", NULL), CD_OK);
    CD_CHECK_INT(cd_seclog_flush(l), CD_OK);
    struct cd_seclog_stats s;
    cd_seclog_stats_get(l, &s);
    cd_seclog_free(l);
    free(slurp(t.path, &size1));
    CD_CHECK_INT(s.lines, 1);
    CD_CHECK_INT(s.bytes, size1 - size0);
    CD_CHECK_INT(s.dropped, 0);
    CD_CHECK_INT(s.write_errors, 0);
    CD_CHECK_INT(s.queued_bytes, 0);
    CD_CHECK_INT(verify_bad(t.path), 0);
    tmp_cleanup(&t);
}

/* An edit that keeps the line valid JSON shows at the next line; one to seq or to the
 * syntax shows at the line itself; an edit of the last line cannot show (documented). */
static void test_edit(void)
{
    struct tmp t;
    struct lines ls;
    char rep[1024];
    tmp_init(&t);
    make_log(t.path, 10);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);

    char *p = strstr(ls.v[2], "\"user\":\"u1\"");
    CD_CHECK(p != NULL);
    if (p) {
        p[8] = 'x'; /* "u1" -> "x1" */
        write_lines(t.path, &ls, 1);
        CD_CHECK_INT(verify_bad(t.path), 4);
        CD_CHECK_INT(report_problems(t.path, rep, sizeof(rep)), 1);
        CD_CHECK(strstr(rep, "line 4: prev does not match the hash of line 3") == rep);
        p[8] = 'u';
    }
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 0);

    p = strstr(ls.v[2], "\"seq\":2,");
    CD_CHECK(p != NULL);
    if (p) {
        p[6] = '7';
        write_lines(t.path, &ls, 1);
        CD_CHECK_INT(verify_bad(t.path), 3);
        p[6] = '2';
    }

    ls.v[2][0] = '[';
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 3);
    ls.v[2][0] = '{';

    p = strstr(ls.v[10], "\"user\":\"u9\"");
    CD_CHECK(p != NULL);
    if (p) {
        p[8] = 'x';
        write_lines(t.path, &ls, 1);
        CD_CHECK_INT(verify_bad(t.path), 0); /* the chain cannot protect its own end */
    }
    lines_free(&ls);
    tmp_cleanup(&t);
}

static void remove_line(struct lines *ls, size_t i)
{
    free(ls->v[i]);
    memmove(ls->v + i, ls->v + i + 1, (ls->n - i - 1) * sizeof(char *));
    memmove(ls->len + i, ls->len + i + 1, (ls->n - i - 1) * sizeof(size_t));
    ls->n--;
}

static void test_delete(void)
{
    struct tmp t;
    struct lines ls;
    char rep[1024];
    tmp_init(&t);

    make_log(t.path, 10);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    remove_line(&ls, 4); /* line 5 */
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 5);
    CD_CHECK_INT(report_problems(t.path, rep, sizeof(rep)), 1);
    CD_CHECK(strstr(rep, "line 5: prev does not match") == rep);
    remove_line(&ls, 0); /* and the anchor */
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 1);
    lines_free(&ls);

    unlink(t.path);
    make_log(t.path, 10);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    remove_line(&ls, ls.n - 1);
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 0); /* a removed last line cannot show (documented) */
    lines_free(&ls);
    tmp_cleanup(&t);
}

static void swap_lines(struct lines *ls, size_t i, size_t j)
{
    char *v = ls->v[i];
    size_t n = ls->len[i];
    ls->v[i] = ls->v[j];
    ls->len[i] = ls->len[j];
    ls->v[j] = v;
    ls->len[j] = n;
}

static void test_swap(void)
{
    struct tmp t;
    struct lines ls;
    tmp_init(&t);
    make_log(t.path, 10);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    swap_lines(&ls, 3, 4); /* lines 4 and 5 */
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 4);
    swap_lines(&ls, 3, 4);
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 0);
    swap_lines(&ls, 0, 1);
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 1);
    swap_lines(&ls, 0, 1);
    swap_lines(&ls, 9, 10); /* the last two */
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 10);
    lines_free(&ls);
    tmp_cleanup(&t);
}

static int run_main(const char *a, const char *b, const char *c)
{
    char *argv[] = {"audit", "verify", (char *)a, (char *)b, (char *)c, NULL};
    int argc = 2 + (a != NULL) + (b != NULL) + (c != NULL);
    return cd_seclog_verify_main(argc, argv);
}

static void test_rotate(void)
{
    struct tmp t;
    struct lines a, b;
    char old[160], want[65], got[80];
    struct cd_seclog *l = NULL;
    tmp_init(&t);
    snprintf(old, sizeof(old), "%s.1", t.path);

    CD_CHECK_INT(cd_seclog_open(&l, t.path, NULL), CD_OK);
    if (!l)
        return;
    for (int k = 0; k < 5; k++)
        CD_CHECK_INT(cd_seclog_event(l, "login", NULL), CD_OK);
    CD_CHECK_INT(cd_seclog_reopen(l), CD_OK); /* not renamed: nothing happens */
    /* no flush: lines queued before the rename must still land in the old file */
    CD_CHECK_INT(rename(t.path, old), 0);
    CD_CHECK_INT(cd_seclog_reopen(l), CD_OK);
    for (int k = 0; k < 3; k++)
        CD_CHECK_INT(cd_seclog_event(l, "run", NULL), CD_OK);
    cd_seclog_free(l);

    CD_CHECK_INT(verify_bad(old), 0);
    CD_CHECK_INT(verify_bad(t.path), 0);
    CD_CHECK_INT(read_lines(old, &a), 0);
    CD_CHECK_INT(read_lines(t.path, &b), 0);
    CD_CHECK_INT(a.n, 6);
    CD_CHECK_INT(b.n, 4);
    if (a.n == 6 && b.n == 4) {
        sha_hex(a.v[5], a.len[5], want);
        CD_CHECK_STR(field(b.v[0], "event", got, sizeof(got)), "chain_start");
        CD_CHECK_STR(field(b.v[0], "reason", got, sizeof(got)), "rotate");
        CD_CHECK_STR(field(b.v[0], "prev", got, sizeof(got)), want);
        CD_CHECK_STR(field(b.v[1], "event", got, sizeof(got)), "run");
        check_chain(&a, 0);
        check_chain(&b, 6);

        char last[65];
        long bad = -1;
        CD_CHECK_INT(cd_seclog_verify_file(old, NULL, last, NULL, &bad), CD_OK);
        CD_CHECK_STR(last, want);
        CD_CHECK_INT(cd_seclog_verify_file(t.path, want, NULL, NULL, &bad), CD_OK);
        char zeros[65];
        memset(zeros, '0', 64);
        zeros[64] = '\0';
        CD_CHECK_INT(cd_seclog_verify_file(t.path, zeros, NULL, NULL, &bad), CD_EPARSE);
        CD_CHECK_INT(bad, 1);
        CD_CHECK_INT(cd_seclog_verify_file(t.path, "zz", NULL, NULL, &bad), CD_EINVAL);

        CD_CHECK_INT(run_main(old, t.path, NULL), 0);
        CD_CHECK_INT(run_main(t.path, old, NULL), 1);
        /* a cut-off end of the older file shows in the newer one */
        remove_line(&a, a.n - 1);
        write_lines(old, &a, 1);
        CD_CHECK_INT(verify_bad(old), 0);
        CD_CHECK_INT(run_main(old, t.path, NULL), 1);
    }
    CD_CHECK_INT(run_main(NULL, NULL, NULL), 2);
    char *bad_argv[] = {"audit", "check", "x", NULL};
    CD_CHECK_INT(cd_seclog_verify_main(3, bad_argv), 2);
    CD_CHECK_INT(run_main("/nonexistent/security.log", NULL, NULL), 2);
    lines_free(&a);
    lines_free(&b);
    tmp_cleanup(&t);
}

static void test_continue(void)
{
    struct tmp t;
    struct lines ls;
    char b[80], want[65], rep[2048];
    struct cd_seclog *l = NULL, *l2 = NULL;
    tmp_init(&t);

    make_log(t.path, 3);
    CD_CHECK_INT(cd_seclog_open(&l, t.path, NULL), CD_OK);
    CD_CHECK_INT(cd_seclog_open(&l2, t.path, NULL), CD_EEXIST); /* one writer per file */
    CD_CHECK(l2 == NULL);
    for (int k = 0; k < 3; k++)
        CD_CHECK_INT(cd_seclog_event(l, "again", NULL), CD_OK);
    cd_seclog_free(l);
    CD_CHECK_INT(verify_bad(t.path), 0);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    CD_CHECK_INT(ls.n, 7);
    check_chain(&ls, 0);
    int anchors = 0;
    for (size_t i = 0; i < ls.n; i++)
        anchors += !strcmp(field(ls.v[i], "event", b, sizeof(b)), "chain_start");
    CD_CHECK_INT(anchors, 1);
    lines_free(&ls);

    /* a write cut short: the damage stays visible, the chain goes on after it */
    static const char cut[] = "{\"time\":\"2026-01-01T00:00:00.000Z\",\"seq\":";
    append_raw(t.path, cut, sizeof(cut) - 1);
    CD_CHECK_INT(verify_bad(t.path), 8);
    CD_CHECK_INT(report_problems(t.path, rep, sizeof(rep)), 1);
    CD_CHECK(strstr(rep, "line 8: cut off") == rep);
    CD_CHECK_INT(cd_seclog_open(&l, t.path, NULL), CD_OK);
    CD_CHECK_INT(cd_seclog_event(l, "after", NULL), CD_OK);
    cd_seclog_free(l);
    CD_CHECK_INT(verify_bad(t.path), 8);
    CD_CHECK_INT(report_problems(t.path, rep, sizeof(rep)), 1);
    CD_CHECK(strstr(rep, "line 8: not a JSON object") == rep);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    CD_CHECK_INT(ls.n, 10);
    if (ls.n == 10) {
        sha_hex(ls.v[7], ls.len[7], want);
        CD_CHECK_STR(field(ls.v[8], "reason", b, sizeof(b)), "damaged_tail");
        CD_CHECK_STR(field(ls.v[8], "prev", b, sizeof(b)), want);
        CD_CHECK_STR(field(ls.v[9], "event", b, sizeof(b)), "after");
    }
    lines_free(&ls);

    /* a last line longer than the tail-reading chunk: hashed whole, in pieces */
    unlink(t.path);
    make_log(t.path, 2);
    size_t n = 200000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\n';
    append_raw(t.path, big, n + 1);
    sha_hex(big, n, want);
    free(big);
    CD_CHECK_INT(cd_seclog_open(&l, t.path, NULL), CD_OK);
    cd_seclog_free(l);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    CD_CHECK_INT(ls.n, 5);
    if (ls.n == 5)
        CD_CHECK_STR(field(ls.v[4], "prev", b, sizeof(b)), want);
    lines_free(&ls);
    CD_CHECK_INT(verify_bad(t.path), 4);
    CD_CHECK_INT(report_problems(t.path, rep, sizeof(rep)), 1);
    CD_CHECK(strstr(rep, "line 4: longer than") == rep);
    tmp_cleanup(&t);
}

static void test_garbage(void)
{
    struct tmp t;
    struct lines ls;
    char rep[4096];
    long bad = -1;
    tmp_init(&t);

    CD_CHECK_INT(cd_seclog_verify(t.path, NULL, &bad), CD_EIO); /* no such file */
    CD_CHECK_INT(bad, 0);
    make_log(t.path, 0);
    FILE *f = fopen(t.path, "w"); /* empty */
    if (f)
        fclose(f);
    CD_CHECK_INT(verify_bad(t.path), 1);

    /* noise, NUL bytes included */
    f = fopen(t.path, "wb");
    uint64_t x = 42;
    for (int i = 0; f && i < 300000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        fputc((int)(x >> 56), f);
    }
    if (f)
        fclose(f);
    CD_CHECK_INT(verify_bad(t.path), 1);
    CD_CHECK(report_problems(t.path, rep, sizeof(rep)) >= 1);

    /* one bad line in the middle of a good log: reported at that line, and only there
     * except for the line after it, whose prev no longer matches */
#define JUNK(s)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
    static const struct {
        const char *s;
        size_t n;
    } junk[] = {
        JUNK(""),
        JUNK("not json"),
        JUNK("[1,2]"),
        JUNK("{\"seq\":"),
        JUNK("{\"time\":\"t\",\"seq\":4,\"event\":\"e\",\"prev\":\"XYZ\"}"),
        JUNK("{\"time\":\"t\",\"seq\":-4,\"event\":\"e\",\"prev\":\"0\"}"),
        JUNK("{\"a\":\"\0\"}"),
        JUNK("{\"time\":\"t\",\"seq\":4.5,\"event\":\"e\",\"prev\":\"0\"}"),
    };
#undef JUNK
    unlink(t.path);
    make_log(t.path, 8);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
        char *keep = ls.v[4];
        size_t keep_len = ls.len[4];
        ls.v[4] = (char *)junk[j].s;
        ls.len[4] = junk[j].n;
        write_lines(t.path, &ls, 1);
        long got = verify_bad(t.path);
        CD_CHECK_INT(got, 5);
        if (got != 5)
            fprintf(stderr, "  (junk %zu)\n", j);
        ls.v[4] = keep;
        ls.len[4] = keep_len;
    }
    /* an over-long line */
    char *keep = ls.v[4];
    size_t keep_len = ls.len[4];
    ls.len[4] = CD_SECLOG_LINE_MAX + 10;
    ls.v[4] = malloc(ls.len[4]);
    memset(ls.v[4], '{', ls.len[4]);
    write_lines(t.path, &ls, 1);
    CD_CHECK_INT(verify_bad(t.path), 5);
    free(ls.v[4]);
    ls.v[4] = keep;
    ls.len[4] = keep_len;
    /* the last line cut off */
    ls.len[ls.n - 1] -= 10;
    write_lines(t.path, &ls, 0);
    CD_CHECK_INT(verify_bad(t.path), (long)ls.n);
    lines_free(&ls);
    tmp_cleanup(&t);
}

static void test_escaping(void)
{
    struct tmp t;
    struct lines ls;
    struct cd_seclog *l = NULL;
    static const char nasty[] = "quote \" backslash \\ slash / newline \n cr \r tab \t bell \x01 "
                                "esc \x1b del \x7f </script><script>alert(1)</script> "
                                "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \"prev\":\"0\"}\n{";
    static const char key[] = "we\"ird\nkey\\";
    tmp_init(&t);
    CD_CHECK_INT(cd_seclog_open(&l, t.path, NULL), CD_OK);
    if (!l)
        return;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "ua", nasty);
    cJSON_AddStringToObject(f, key, "v");
    cJSON *arr = cJSON_AddArrayToObject(f, "list");
    cJSON_AddItemToArray(arr, cJSON_CreateString("a\nb"));
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(1.5));
    CD_CHECK_INT(cd_seclog_event(l, "run", f), CD_OK);

    /* refused, consumed, and no hole in the chain */
    CD_CHECK_INT(cd_seclog_event(l, "Bad Event", NULL), CD_EINVAL);
    CD_CHECK_INT(cd_seclog_event(l, "", NULL), CD_EINVAL);
    CD_CHECK_INT(cd_seclog_event(l, NULL, NULL), CD_EINVAL);
    CD_CHECK_INT(cd_seclog_event(
                     l, "a123456789a123456789a123456789a123456789a123456789a123456789abcde", NULL),
                 CD_EINVAL);
    CD_CHECK_INT(cd_seclog_event(
                     l, "a123456789a123456789a123456789a123456789a123456789a123456789abcd", NULL),
                 CD_OK);
    f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "prev", "0000");
    CD_CHECK_INT(cd_seclog_event(l, "run", f), CD_EINVAL);
    f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "seq", 1);
    CD_CHECK_INT(cd_seclog_event(l, "run", f), CD_EINVAL);
    CD_CHECK_INT(cd_seclog_event(l, "run", cJSON_CreateArray()), CD_EINVAL);
    char *huge = malloc(CD_SECLOG_LINE_MAX + 1);
    memset(huge, 'h', CD_SECLOG_LINE_MAX);
    huge[CD_SECLOG_LINE_MAX] = '\0';
    f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "big", huge);
    free(huge);
    CD_CHECK_INT(cd_seclog_event(l, "run", f), CD_ETOOBIG);
    CD_CHECK_INT(cd_seclog_event(l, "done", cJSON_CreateObject()), CD_OK);
    cd_seclog_free(l);

    CD_CHECK_INT(verify_bad(t.path), 0);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    CD_CHECK_INT(ls.n, 4);
    if (ls.n == 4) {
        check_chain(&ls, 0);
        cJSON *o = cJSON_Parse(ls.v[1]);
        const cJSON *ua = cJSON_GetObjectItemCaseSensitive(o, "ua");
        CD_CHECK_STR(cJSON_IsString(ua) ? ua->valuestring : NULL, nasty);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, key);
        CD_CHECK_STR(cJSON_IsString(k) ? k->valuestring : NULL, "v");
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "list");
        CD_CHECK_INT(cJSON_GetArraySize(list), 2);
        char b[80];
        CD_CHECK_STR(field(ls.v[1], "event", b, sizeof(b)), "run");
        CD_CHECK_INT(strlen(field(ls.v[1], "prev", b, sizeof(b))), 64);
        cJSON_Delete(o);
        CD_CHECK(strstr(ls.v[3], "\"event\":\"done\",\"prev\"") != NULL); /* {} adds nothing */
    }
    lines_free(&ls);
    tmp_cleanup(&t);
}

static int wait_drained(struct cd_seclog *l)
{
    struct cd_seclog_stats s;
    for (int i = 0; i < 5000; i++) {
        cd_seclog_stats_get(l, &s);
        if (s.queued_bytes == 0)
            return 1;
        usleep(1000);
    }
    return 0;
}

static void test_queue_cap(void)
{
    struct tmp t;
    struct lines ls;
    struct cd_seclog *l = NULL;
    struct cd_seclog_stats s;
    struct cd_seclog_opts o = {1, 0}; /* raised to the minimum, CD_SECLOG_LINE_MAX + 1 */
    const uint64_t cap = CD_SECLOG_LINE_MAX + 1;
    char b[80];
    tmp_init(&t);
    CD_CHECK_INT(cd_seclog_open(&l, t.path, &o), CD_OK);
    if (!l)
        return;
    CD_CHECK_INT(cd_seclog_flush(l), CD_OK);

    /* round 1: the next event reports the drops once there is room */
    cd_seclog_hold_writer(l, 1);
    for (int k = 0; k < 1000; k++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "i", k);
        cJSON_AddStringToObject(f, "pad", "0123456789012345678901234567890123456789");
        CD_CHECK_INT(cd_seclog_event(l, "fill", f), CD_OK); /* dropping is not an error */
    }
    cd_seclog_stats_get(l, &s);
    long queued_events = 1000 - (long)s.dropped;
    CD_CHECK(s.dropped > 300 && s.dropped < 1000);
    CD_CHECK(s.queued_bytes <= cap && s.queued_max <= cap);
    CD_CHECK(s.queued_bytes + 200 > cap); /* full: another line would not fit */
    CD_CHECK_INT(s.lines, 1);             /* only the anchor reached the disk */
    cd_seclog_hold_writer(l, 0);
    CD_CHECK(wait_drained(l));
    CD_CHECK_INT(cd_seclog_event(l, "later", NULL), CD_OK);
    CD_CHECK_INT(cd_seclog_flush(l), CD_OK);
    uint64_t dropped1 = s.dropped;

    /* round 2: flush reports them */
    cd_seclog_hold_writer(l, 1);
    for (int k = 0; k < 1000; k++)
        CD_CHECK_INT(cd_seclog_event(l, "fill2", NULL), CD_OK);
    cd_seclog_stats_get(l, &s);
    uint64_t dropped2 = s.dropped - dropped1;
    CD_CHECK(dropped2 > 0);
    cd_seclog_hold_writer(l, 0);
    CD_CHECK_INT(cd_seclog_flush(l), CD_OK);
    cd_seclog_stats_get(l, &s);
    CD_CHECK_INT(s.queued_bytes, 0);
    CD_CHECK(s.queued_max <= cap);
    long lines_on_disk = (long)s.lines;
    cd_seclog_free(l);

    CD_CHECK_INT(verify_bad(t.path), 0);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    /* anchor, queued fills, events_dropped, later, queued fill2s, events_dropped */
    long want = 1 + queued_events + 2 + (1000 - (long)dropped2) + 1;
    CD_CHECK_INT(ls.n, want);
    CD_CHECK_INT(lines_on_disk, want);
    if ((long)ls.n == want) {
        check_chain(&ls, 0);
        for (long k = 0; k < queued_events; k++) /* the first ones were kept, in order */
            CD_CHECK_INT(strtol(field(ls.v[1 + k], "i", b, sizeof(b)), NULL, 10), k);
        size_t d1 = (size_t)(1 + queued_events);
        CD_CHECK_STR(field(ls.v[d1], "event", b, sizeof(b)), "events_dropped");
        CD_CHECK_INT(strtol(field(ls.v[d1], "count", b, sizeof(b)), NULL, 10), dropped1);
        CD_CHECK_INT(strlen(field(ls.v[d1], "since", b, sizeof(b))), 24);
        CD_CHECK_STR(field(ls.v[d1 + 1], "event", b, sizeof(b)), "later");
        CD_CHECK_STR(field(ls.v[ls.n - 1], "event", b, sizeof(b)), "events_dropped");
        CD_CHECK_INT(strtol(field(ls.v[ls.n - 1], "count", b, sizeof(b)), NULL, 10), dropped2);
    }
    lines_free(&ls);
    tmp_cleanup(&t);
}

/* Many events from two threads at once: one chain, nothing lost, nothing interleaved. */
static void *burst(void *arg)
{
    for (int k = 0; k < 1000; k++)
        cd_seclog_event(arg, "burst", NULL);
    return NULL;
}

static void test_threads(void)
{
    struct tmp t;
    struct cd_seclog *l = NULL;
    struct cd_seclog_opts o = {64u * 1024 * 1024, 1};
    struct lines ls;
    tmp_init(&t);
    CD_CHECK_INT(cd_seclog_open(&l, t.path, &o), CD_OK);
    if (!l)
        return;
    pthread_t a, b;
    pthread_create(&a, NULL, burst, l);
    pthread_create(&b, NULL, burst, l);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    cd_seclog_free(l);
    CD_CHECK_INT(verify_bad(t.path), 0);
    CD_CHECK_INT(read_lines(t.path, &ls), 0);
    CD_CHECK_INT(ls.n, 2001);
    lines_free(&ls);
    tmp_cleanup(&t);
}

int main(void)
{
    CD_RUN(test_write_verify);
    CD_RUN(test_edit);
    CD_RUN(test_delete);
    CD_RUN(test_swap);
    CD_RUN(test_rotate);
    CD_RUN(test_continue);
    CD_RUN(test_garbage);
    CD_RUN(test_escaping);
    CD_RUN(test_queue_cap);
    CD_RUN(test_threads);
    CD_TEST_END();
}
