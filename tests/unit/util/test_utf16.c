/*
 * test_utf16.c: unit tests for util/utf16 — decoding (strict UTF-8 plus encoded surrogates and
 * C0 80), refusal of every other ill-formed sequence, JSON.stringify-exact output, the lossy
 * UTF-8 export, the JSON pre-pass on tricky escapes, and allocation failure.
 * utf16.c is compiled into this test with malloc redirected, so its allocation-failure path
 * can be exercised; everything else links from cd_util.
 */
#include <stdlib.h>

#include "test.h"

#include <cjson/cJSON.h>

static long fi_fail_at; /* 0: no injection; else the allocation call number that fails */
static long fi_calls;
static int fi_failed;

static void *fi_malloc(size_t n)
{
    if (fi_fail_at && ++fi_calls == fi_fail_at) {
        fi_failed = 1;
        return NULL;
    }
    return malloc(n);
}

#define malloc(n) fi_malloc(n)
#include "../../../server/util/utf16.c"
#undef malloc

#define U16(...) ((const uint16_t[]){__VA_ARGS__})

/* Decode s (n bytes) and compare with the expected units. */
static int decodes_to(const char *s, size_t n, const uint16_t *want, size_t want_n)
{
    uint16_t *u = NULL;
    size_t un = 0;
    int ok = cd_utf16_from_wtf8(s, n, &u, &un) == CD_OK && u && un == want_n &&
             (want_n == 0 || memcmp(u, want, want_n * sizeof(*u)) == 0) &&
             cd_utf16_count_wtf8(s, n) == (long)want_n;
    free(u);
    return ok;
}

static int refused(const char *s, size_t n)
{
    uint16_t *u = (uint16_t *)1;
    size_t un = 99;
    int rc = cd_utf16_from_wtf8(s, n, &u, &un);
    return rc == CD_EINVAL && u == NULL && un == 0 && cd_utf16_count_wtf8(s, n) == -1;
}

static void test_decode_valid(void)
{
    CD_CHECK(decodes_to("", 0, NULL, 0));
    CD_CHECK(decodes_to("abc", 3, U16('a', 'b', 'c'), 3));
    CD_CHECK(decodes_to("\xc3\xa9", 2, U16(0xE9), 1));
    CD_CHECK(decodes_to("\xe2\x82\xac", 3, U16(0x20AC), 1));
    CD_CHECK(decodes_to("\xf0\x9f\x98\x80", 4, U16(0xD83D, 0xDE00), 2));
    CD_CHECK(decodes_to("\xf4\x8f\xbf\xbf", 4, U16(0xDBFF, 0xDFFF), 2)); /* U+10FFFF */
    CD_CHECK(decodes_to("\xef\xbf\xbf", 3, U16(0xFFFF), 1));
    /* encoded lone surrogates (WTF-8) */
    CD_CHECK(decodes_to("\xed\xa0\xbd", 3, U16(0xD83D), 1));
    CD_CHECK(decodes_to("\xed\xb8\x80", 3, U16(0xDE00), 1));
    CD_CHECK(decodes_to("\xed\xa0\x80\xed\xbf\xbf", 6, U16(0xD800, 0xDFFF), 2));
    CD_CHECK(decodes_to("x\xed\xb8\x80\xed\xa0\xbd", 7, U16('x', 0xDE00, 0xD83D), 3));
    /* C0 80 is NUL (written by the pre-pass); a raw NUL byte too */
    CD_CHECK(decodes_to("a\xc0\x80z", 4, U16('a', 0, 'z'), 3));
    CD_CHECK(decodes_to("a\0z", 3, U16('a', 0, 'z'), 3));
}

static void test_decode_invalid(void)
{
    CD_CHECK(refused("\xc0\x81", 2));         /* overlong */
    CD_CHECK(refused("\xc1\xbf", 2));         /* overlong */
    CD_CHECK(refused("\xe0\x80\x80", 3));     /* overlong NUL, 3 bytes */
    CD_CHECK(refused("\xe0\x9f\xbf", 3));     /* overlong U+07FF */
    CD_CHECK(refused("\xf0\x80\x80\x80", 4)); /* overlong, 4 bytes */
    CD_CHECK(refused("\xf0\x8f\xbf\xbf", 4)); /* overlong U+FFFF */
    CD_CHECK(refused("\xf4\x90\x80\x80", 4)); /* U+110000 */
    CD_CHECK(refused("\xf5\x80\x80\x80", 4)); /* lead byte beyond range */
    CD_CHECK(refused("\xff", 1));
    CD_CHECK(refused("\x80", 1)); /* stray continuation */
    CD_CHECK(refused("a\xbf", 2));
    CD_CHECK(refused("\xc3", 1));         /* truncated */
    CD_CHECK(refused("\xe2\x82", 2));     /* truncated */
    CD_CHECK(refused("\xf0\x9f\x98", 3)); /* truncated */
    CD_CHECK(refused("\xc3\x28", 2));     /* bad continuation */
    CD_CHECK(refused("\xe2\x28\xa1", 3));
    CD_CHECK(refused("\xc0", 1)); /* C0 not followed by 80 */
    CD_CHECK(refused("\xc0\x80\xc0", 3));
    CD_CHECK(refused("\xf8\x88\x80\x80\x80", 5)); /* 5-byte form */
}

static void test_decode_into(void)
{
    uint16_t dst[2];
    size_t w = 99;
    CD_CHECK_INT(cd_utf16_decode_wtf8("ab", 2, dst, 2, &w), CD_OK);
    CD_CHECK_INT(w, 2);
    CD_CHECK_INT(cd_utf16_decode_wtf8("abc", 3, dst, 2, &w), CD_ETOOBIG);
    CD_CHECK_INT(cd_utf16_decode_wtf8("a\xf0\x9f\x98\x80", 5, dst, 2, &w), CD_ETOOBIG);
    CD_CHECK_INT(cd_utf16_decode_wtf8("\xff", 1, dst, 2, &w), CD_EINVAL);
}

/* JSON-append u and compare with the expected text. */
static int json_is(const uint16_t *u, size_t n, const char *want)
{
    struct cd_buf b;
    int ok;
    cd_buf_init(&b, 1 << 20);
    ok = cd_utf16_json_append(&b, u, n) == CD_OK && b.data && strcmp(b.data, want) == 0;
    if (!ok)
        fprintf(stderr, "  got %s, want %s\n", b.data ? b.data : "(null)", want);
    cd_buf_cleanup(&b);
    return ok;
}

static int utf8_is(const uint16_t *u, size_t n, const char *want, size_t want_n)
{
    struct cd_buf b;
    int ok;
    cd_buf_init(&b, 1 << 20);
    ok = cd_utf16_utf8_append(&b, u, n) == CD_OK && b.len == want_n &&
         (want_n == 0 || memcmp(b.data, want, want_n) == 0);
    cd_buf_cleanup(&b);
    return ok;
}

static void test_json_append(void)
{
    /* Expected texts are JSON.stringify's output for the same JavaScript strings. */
    CD_CHECK(json_is(NULL, 0, "\"\""));
    CD_CHECK(json_is(U16('a', '"', '\\', '/', 'b'), 5, "\"a\\\"\\\\/b\""));
    CD_CHECK(json_is(U16('\b', '\f', '\n', '\r', '\t'), 5, "\"\\b\\f\\n\\r\\t\""));
    CD_CHECK(json_is(U16(0, 1, 0x1f, 0x7f), 4, "\"\\u0000\\u0001\\u001f\x7f\""));
    CD_CHECK(json_is(U16(0xE9, 0x20AC, 0x2028), 3, "\"\xc3\xa9\xe2\x82\xac\xe2\x80\xa8\""));
    CD_CHECK(json_is(U16(0xD83D, 0xDE00), 2, "\"\xf0\x9f\x98\x80\""));
    CD_CHECK(json_is(U16(0xD83D), 1, "\"\\ud83d\""));
    CD_CHECK(json_is(U16(0xDE00), 1, "\"\\ude00\""));
    CD_CHECK(json_is(U16(0xDE00, 0xD83D), 2, "\"\\ude00\\ud83d\""));
    CD_CHECK(json_is(U16(0xD83D, 0xD83D, 0xDE00), 3, "\"\\ud83d\xf0\x9f\x98\x80\""));
    CD_CHECK(json_is(U16('x', 0xDBFF), 2, "\"x\\udbff\""));
}

static void test_json_append_long_and_cap(void)
{
    /* Longer than the staging buffer, mixing all widths, then a cap that is too small. */
    enum { N = 3000 };
    uint16_t *u = malloc(N * sizeof(*u));
    struct cd_buf b;
    size_t i;
    CD_CHECK(u != NULL);
    if (!u)
        return;
    for (i = 0; i < N; i++)
        u[i] = (uint16_t)(i % 3 == 0 ? 0xD800 + i % 5 : i % 3 == 1 ? 'q' : 0x4E2D);
    cd_buf_init(&b, 1 << 20);
    CD_CHECK_INT(cd_utf16_json_append(&b, u, N), CD_OK);
    CD_CHECK_INT(b.len, 2 + (N / 3) * (6 + 1 + 3));
    /* parse it back through the pre-pass + cJSON path and decode: must be identical */
    {
        size_t len = b.len;
        cJSON *j;
        uint16_t *back = NULL;
        size_t bn = 0;
        CD_CHECK_INT(cd_json_wtf8_prepass(b.data, &len), CD_OK);
        j = cJSON_ParseWithLength(b.data, len);
        CD_CHECK(cJSON_IsString(j));
        if (cJSON_IsString(j)) {
            CD_CHECK_INT(cd_utf16_from_wtf8(j->valuestring, strlen(j->valuestring), &back, &bn),
                         CD_OK);
            CD_CHECK_INT(bn, N);
            CD_CHECK(back && memcmp(back, u, N * sizeof(*u)) == 0);
        }
        free(back);
        cJSON_Delete(j);
    }
    cd_buf_cleanup(&b);

    cd_buf_init(&b, 100);
    CD_CHECK_INT(cd_buf_append(&b, "keep", 4), CD_OK);
    CD_CHECK_INT(cd_utf16_json_append(&b, u, N), CD_ETOOBIG);
    CD_CHECK_INT(b.len, 4);
    CD_CHECK_STR(b.data, "keep");
    CD_CHECK_INT(cd_utf16_utf8_append(&b, u, N), CD_ETOOBIG);
    CD_CHECK_STR(b.data, "keep");
    cd_buf_cleanup(&b);
    free(u);
}

/* The streamed literal equals the one-shot literal for every way of cutting the text in
 * pieces: surrogate pairs cut in two are joined again, lone halves stay escaped. */
static void test_json_stream(void)
{
    static const uint16_t cases[][6] = {
        {'a', 0xD83D, 0xDE00, 'b', '\n', '"'},
        {0xD83D, 0xDE00, 0xD83D, 0xDE00, 0xD83D, 'x'},
        {0xDE00, 0xD83D, 0xD83D, 0xDE00, 0, 'z'},
        {'x', 'y', 0xDBFF, 0xDBFF, 0xDFFF, 0xDC00},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct cd_buf whole;
        cd_buf_init(&whole, 1 << 10);
        CD_CHECK_INT(cd_utf16_json_append(&whole, cases[k], 6), CD_OK);
        /* every subset of the 5 inner cut points */
        for (unsigned cuts = 0; cuts < 32; cuts++) {
            struct cd_buf b;
            struct cd_utf16_json_stream js;
            size_t from = 0;
            cd_buf_init(&b, 1 << 10);
            CD_CHECK_INT(cd_utf16_json_open(&js, &b), CD_OK);
            for (size_t at = 1; at <= 6; at++)
                if (at == 6 || (cuts & (1u << (at - 1)))) {
                    CD_CHECK_INT(cd_utf16_json_piece(&js, cases[k] + from, at - from), CD_OK);
                    CD_CHECK_INT(cd_utf16_json_piece(&js, NULL, 0), CD_OK); /* empty pieces too */
                    from = at;
                }
            CD_CHECK_INT(cd_utf16_json_close(&js), CD_OK);
            CD_CHECK_STR(b.data, whole.data);
            cd_buf_cleanup(&b);
        }
        cd_buf_cleanup(&whole);
    }
    /* the cap holds for streamed literals too */
    struct cd_buf small;
    struct cd_utf16_json_stream js;
    cd_buf_init(&small, 4);
    CD_CHECK_INT(cd_utf16_json_open(&js, &small), CD_OK);
    CD_CHECK_INT(cd_utf16_json_piece(&js, U16('a', 'b', 'c', 'd'), 4), CD_ETOOBIG);
    cd_buf_cleanup(&small);
}

static void test_utf8_append(void)
{
    CD_CHECK(utf8_is(NULL, 0, "", 0));
    CD_CHECK(utf8_is(U16('a', '"', '\n'), 3, "a\"\n", 3));
    CD_CHECK(utf8_is(U16(0xD83D, 0xDE00, 0xE9), 3, "\xf0\x9f\x98\x80\xc3\xa9", 6));
    CD_CHECK(utf8_is(U16(0xD83D, 'x'), 2, "\xef\xbf\xbdx", 4));
    CD_CHECK(utf8_is(U16(0xDE00, 0xD83D), 2, "\xef\xbf\xbd\xef\xbf\xbd", 6));
    CD_CHECK(utf8_is(U16(0), 1, "\0", 1));
}

static void test_json_append_wtf8(void)
{
    struct cd_buf b;
    cd_buf_init(&b, 1024);
    CD_CHECK_INT(cd_utf16_json_append_wtf8(&b, "a\xed\xa0\xbd\xc0\x80\"", 7), CD_OK);
    CD_CHECK_STR(b.data, "\"a\\ud83d\\u0000\\\"\"");
    CD_CHECK_INT(cd_utf16_json_append_wtf8(&b, "\xc3", 1), CD_EINVAL);
    CD_CHECK_STR(b.data, "\"a\\ud83d\\u0000\\\"\"");
    cd_buf_cleanup(&b);
}

/* Run the pre-pass on in and compare the result (and its return code). */
static int prepass_is(const char *in, const char *want, int want_rc)
{
    size_t n = strlen(in);
    char *t = malloc(n + 1);
    int rc, ok;
    if (!t)
        return 0;
    memcpy(t, in, n + 1);
    rc = cd_json_wtf8_prepass(t, &n);
    ok = rc == want_rc && n == strlen(want) && memcmp(t, want, n) == 0;
    if (!ok)
        fprintf(stderr, "  prepass(%s): rc %d len %zu\n", in, rc, n);
    free(t);
    return ok;
}

static void test_prepass(void)
{
    CD_CHECK(prepass_is("", "", 0));
    CD_CHECK(prepass_is("[1,2]", "[1,2]", 0));
    CD_CHECK(prepass_is("\"\\ud83d\"", "\"\xed\xa0\xbd\"", 0));
    CD_CHECK(prepass_is("\"\\uDE00x\"", "\"\xed\xb8\x80x\"", 0));
    /* a valid escaped pair is left to cJSON, in either case */
    CD_CHECK(prepass_is("\"\\ud83d\\ude00\"", "\"\\ud83d\\ude00\"", 0));
    CD_CHECK(prepass_is("\"\\uD83D\\uDE00\"", "\"\\uD83D\\uDE00\"", 0));
    /* reversed pair: two lone surrogates */
    CD_CHECK(prepass_is("\"\\ude00\\ud83d\"", "\"\xed\xb8\x80\xed\xa0\xbd\"", 0));
    /* high, high, low: the first is lone, the rest a pair */
    CD_CHECK(prepass_is("\"\\ud83d\\ud83d\\ude00\"", "\"\xed\xa0\xbd\\ud83d\\ude00\"", 0));
    /* pair, then a lone low */
    CD_CHECK(prepass_is("\"\\ud83d\\ude00\\ude00\"", "\"\\ud83d\\ude00\xed\xb8\x80\"", 0));
    /* an escaped backslash followed by "ud83d" is not an escape */
    CD_CHECK(prepass_is("\"\\\\ud83d\"", "\"\\\\ud83d\"", 0));
    CD_CHECK(prepass_is("\"\\\\\\ud83d\"", "\"\\\\\xed\xa0\xbd\"", 0));
    /* high followed by an escaped backslash + "ude00": lone */
    CD_CHECK(prepass_is("\"\\ud83d\\\\ude00\"", "\"\xed\xa0\xbd\\\\ude00\"", 0));
    /* an escaped quote does not end the string */
    CD_CHECK(prepass_is("\"\\\"\\ud800\"", "\"\\\"\xed\xa0\x80\"", 0));
    /* outside strings nothing is touched (invalid JSON is cJSON's business) */
    CD_CHECK(prepass_is("[\\ud83d, \"a\"]", "[\\ud83d, \"a\"]", 0));
    CD_CHECK(prepass_is("{\"k\\udc00\":\"\\ud800\"}", "{\"k\xed\xb0\x80\":\"\xed\xa0\x80\"}", 0));
    /* NUL escapes become C0 80 so cJSON cannot truncate at them */
    CD_CHECK(prepass_is("\"a\\u0000b\"", "\"a\xc0\x80\x62\"", 0));
    CD_CHECK(prepass_is("\"\\ud83d\\u0000\"", "\"\xed\xa0\xbd\xc0\x80\"", 0));
    /* other escapes are untouched */
    CD_CHECK(prepass_is("\"\\u00e9\\n\\u0041\"", "\"\\u00e9\\n\\u0041\"", 0));
    /* truncated / malformed escapes are left for cJSON */
    CD_CHECK(prepass_is("\"\\ud83", "\"\\ud83", 0));
    CD_CHECK(prepass_is("\"\\ud83d", "\"\xed\xa0\xbd", 0));
    CD_CHECK(prepass_is("\"\\uzzzz\"", "\"\\uzzzz\"", 0));
    CD_CHECK(prepass_is("\"\\", "\"\\", 0));
    CD_CHECK(prepass_is("\"\\ud83d\\ude0\"", "\"\xed\xa0\xbd\\ude0\"", 0));
    /* raw control characters inside a string are refused (JSON.parse does too) */
    CD_CHECK(prepass_is("\"a\nb\"", "\"a\nb\"", CD_EPARSE));
    CD_CHECK(prepass_is("[1,\n\"a\"]", "[1,\n\"a\"]", 0));
}

/* The whole path: JSON text -> pre-pass -> cJSON -> decode; then back to JSON text. */
static void test_round_trip_through_cjson(void)
{
    static const char *texts[] = {
        "\"\\ud83d\"",        "\"x\\udfff\\ud800y\"",
        "\"\\u0000\\u0000\"", "\"\xf0\x9f\x98\x80\\ud83d\"",
        "\"a\\\\ud83d\\\"\"",
    };
    const uint16_t *want[] = {
        U16(0xD83D),
        U16('x', 0xDFFF, 0xD800, 'y'),
        U16(0, 0),
        U16(0xD83D, 0xDE00, 0xD83D),
        U16('a', '\\', 'u', 'd', '8', '3', 'd', '"'),
    };
    static const size_t want_n[] = {1, 4, 2, 3, 8};
    static const char *back[] = {
        "\"\\ud83d\"",        "\"x\\udfff\\ud800y\"",
        "\"\\u0000\\u0000\"", "\"\xf0\x9f\x98\x80\\ud83d\"",
        "\"a\\\\ud83d\\\"\"",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t n = strlen(texts[i]);
        char *t = malloc(n + 1);
        cJSON *j;
        uint16_t *u = NULL;
        size_t un = 0;
        if (!t)
            continue;
        memcpy(t, texts[i], n + 1);
        CD_CHECK_INT(cd_json_wtf8_prepass(t, &n), CD_OK);
        j = cJSON_ParseWithLength(t, n);
        CD_CHECK(cJSON_IsString(j));
        if (cJSON_IsString(j)) {
            CD_CHECK_INT(cd_utf16_from_wtf8(j->valuestring, strlen(j->valuestring), &u, &un),
                         CD_OK);
            CD_CHECK_INT(un, want_n[i]);
            CD_CHECK(u && memcmp(u, want[i], want_n[i] * sizeof(*u)) == 0);
            CD_CHECK(json_is(u, un, back[i]));
        }
        free(u);
        cJSON_Delete(j);
        free(t);
    }
    /* without the pre-pass cJSON refuses the lone surrogate: the reason the pre-pass exists */
    {
        cJSON *j = cJSON_Parse("\"\\ud83d\"");
        CD_CHECK(j == NULL);
        cJSON_Delete(j);
    }
}

static void test_alloc_failure(void)
{
    uint16_t *u = (uint16_t *)1;
    size_t un = 7;
    int rc;
    fi_calls = 0;
    fi_failed = 0;
    fi_fail_at = 1;
    rc = cd_utf16_from_wtf8("abc", 3, &u, &un);
    fi_fail_at = 0;
    CD_CHECK(fi_failed);
    CD_CHECK_INT(rc, CD_ENOMEM);
    CD_CHECK(u == NULL);
    CD_CHECK_INT(un, 0);
    /* the wtf8 JSON helper frees what it decoded, whatever fails */
    {
        struct cd_buf b;
        cd_buf_init(&b, 4);
        CD_CHECK_INT(cd_utf16_json_append_wtf8(&b, "abcdef", 6), CD_ETOOBIG);
        CD_CHECK_INT(b.len, 0);
        fi_calls = 0;
        fi_fail_at = 1;
        CD_CHECK_INT(cd_utf16_json_append_wtf8(&b, "ab", 2), CD_ENOMEM);
        fi_fail_at = 0;
        cd_buf_cleanup(&b);
    }
}

int main(void)
{
    CD_RUN(test_decode_valid);
    CD_RUN(test_decode_invalid);
    CD_RUN(test_decode_into);
    CD_RUN(test_json_append);
    CD_RUN(test_json_append_long_and_cap);
    CD_RUN(test_json_stream);
    CD_RUN(test_utf8_append);
    CD_RUN(test_json_append_wtf8);
    CD_RUN(test_prepass);
    CD_RUN(test_round_trip_through_cjson);
    CD_RUN(test_alloc_failure);
    CD_TEST_END();
}
