/* Unit tests for audit/hash: SHA-256 hex and the constant-time secret comparison. */
#include "audit/hash.h"
#include "test.h"

static void test_sha256(void)
{
    char out[65];
    CD_CHECK_INT(cd_sha256_hex("abc", 3, out), 0);
    CD_CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CD_CHECK_INT(cd_sha256_hex("", 0, out), 0);
    CD_CHECK_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_secret_equal(void)
{
    CD_CHECK(cd_secret_equal("s3cret-token", "s3cret-token"));
    CD_CHECK(!cd_secret_equal("s3cret-tokex", "s3cret-token")); /* same length, one byte off */
    CD_CHECK(!cd_secret_equal("s3cret", "s3cret-token"));       /* a prefix */
    CD_CHECK(!cd_secret_equal("s3cret-token-and-more", "s3cret-token"));
    CD_CHECK(!cd_secret_equal("", "s3cret-token")); /* nothing presented */
    CD_CHECK(!cd_secret_equal("", ""));             /* an empty secret never matches */
}

int main(void)
{
    CD_RUN(test_sha256);
    CD_RUN(test_secret_equal);
    CD_TEST_END();
}
