/* Unit tests for util/text: UTF-8 validation, safe truncation, name sanitising, tokens. */
#include "test.h"
#include "util/text.h"

static void test_valid(void)
{
    CD_CHECK(cd_utf8_valid("abc", 3));
    CD_CHECK(cd_utf8_valid("\xc3\xa9\xf0\x9f\x98\x80", 6));
    CD_CHECK(!cd_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    CD_CHECK(!cd_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CD_CHECK(!cd_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CD_CHECK(!cd_utf8_valid("\xe2\x82", 2));         /* truncated */
    CD_CHECK(!cd_utf8_valid("\x80", 1));
}

static void test_prefix(void)
{
    const char *s = "a\xf0\x9f\x98\x80"
                    "b"; /* a, emoji (4 bytes), b */
    CD_CHECK_INT(cd_utf8_prefix(s, 6, 3), 1);
    CD_CHECK_INT(cd_utf8_prefix(s, 6, 5), 5);
    CD_CHECK_INT(cd_utf8_prefix(s, 6, 100), 6);
}

static void test_sanitize(void)
{
    char out[64];
    CD_CHECK_INT(cd_sanitize_name("  <b>Ada</b>  Lovelace ", 23, 64, out, sizeof(out)), 15);
    CD_CHECK_STR(out, "bAda/b Lovelace"); /* markup characters removed, not interpreted */
    cd_sanitize_name("<script>alert(1)</script>", 25, 64, out, sizeof(out));
    CD_CHECK(strchr(out, '<') == NULL && strchr(out, '>') == NULL);
    CD_CHECK_INT(cd_sanitize_name("\x01\x02\t ", 4, 64, out, sizeof(out)), 0);
    CD_CHECK_INT(cd_sanitize_name("abcdef", 6, 3, out, sizeof(out)), 3);
    CD_CHECK_STR(out, "abc");
    CD_CHECK_INT(cd_sanitize_name("\xc3\xa9t\xc3\xa9", 6, 2, out, sizeof(out)), 3);
    CD_CHECK_STR(out, "\xc3\xa9t");
    CD_CHECK_INT(cd_sanitize_name("\xff", 1, 8, out, sizeof(out)), 0);
    CD_CHECK_INT(cd_sanitize_name("a\xe2\x80\xaet", 5, 8, out, sizeof(out)), 2); /* RLO */
    CD_CHECK_STR(out, "at");
}

static void test_token(void)
{
    CD_CHECK(cd_token_valid("user_1.a-b", 10, 64));
    CD_CHECK(!cd_token_valid("", 0, 64));
    CD_CHECK(!cd_token_valid("a b", 3, 64));
    CD_CHECK(!cd_token_valid("abc", 3, 2));
    CD_CHECK(!cd_token_valid("a/b", 3, 64));
}

static void test_repair(void)
{
    char out[64];
    size_t tail = 9;
    CD_CHECK_INT(cd_utf8_repair("ab\xc3\xa9", 4, out, &tail), 4); /* valid: unchanged */
    CD_CHECK_INT(tail, 0);
    CD_CHECK(!memcmp(out, "ab\xc3\xa9", 4));
    /* a character cut at the end is held back for the next piece, not replaced */
    CD_CHECK_INT(cd_utf8_repair("a\xf0\x9f\x98", 4, out, &tail), 1);
    CD_CHECK_INT(tail, 3);
    /* a byte that can never start a character becomes U+FFFD */
    CD_CHECK_INT(cd_utf8_repair("a\xff"
                                "b",
                                3, out, &tail),
                 5);
    CD_CHECK(!memcmp(out,
                     "a\xef\xbf\xbd"
                     "b",
                     5));
    CD_CHECK_INT(tail, 0);
    /* a truncated sequence followed by more text: one replacement, text kept */
    CD_CHECK_INT(cd_utf8_repair("\xe2\x82X", 3, out, &tail), 4);
    CD_CHECK(!memcmp(out,
                     "\xef\xbf\xbd"
                     "X",
                     4));
    /* a surrogate or overlong prefix at the end cannot complete: replaced, not held */
    CD_CHECK_INT(cd_utf8_repair("\xed\xa0", 2, out, &tail), 3);
    CD_CHECK_INT(tail, 0);
    CD_CHECK_INT(cd_utf8_repair("\xc0", 1, out, &tail), 3);
    CD_CHECK_INT(tail, 0);
    /* whatever the input, the output is well-formed */
    const char junk[] = "\x80\x80\xfe\xf4\x90\x80\x80ok\xf0\x9f\x98\x80";
    size_t n = cd_utf8_repair(junk, sizeof(junk) - 1, out, &tail);
    CD_CHECK(cd_utf8_valid(out, n));
    CD_CHECK_INT(tail, 0);
}

int main(void)
{
    CD_RUN(test_valid);
    CD_RUN(test_repair);
    CD_RUN(test_prefix);
    CD_RUN(test_sanitize);
    CD_RUN(test_token);
    CD_TEST_END();
}
