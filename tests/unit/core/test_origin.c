/* Unit tests for core/origin: same-origin, allow-list, wildcard, near misses refused. */
#include "core/origin.h"
#include "test.h"

static void test_origin(void)
{
    CD_CHECK(cd_origin_allowed(NULL, "localhost:8080", ""));
    CD_CHECK(cd_origin_allowed("", "localhost:8080", ""));
    CD_CHECK(cd_origin_allowed("http://localhost:8080", "localhost:8080", ""));
    CD_CHECK(cd_origin_allowed("https://localhost:8080", "localhost:8080", ""));
    CD_CHECK(!cd_origin_allowed("http://localhost:8081", "localhost:8080", ""));
    CD_CHECK(!cd_origin_allowed("http://evil.example", "localhost:8080", ""));
    CD_CHECK(!cd_origin_allowed("http://localhost:8080.evil.example", "localhost:8080", ""));
    CD_CHECK(cd_origin_allowed("http://app.example", "x", "http://a.example, http://app.example"));
    CD_CHECK(!cd_origin_allowed("http://app.example.com", "x", "http://app.example"));
    CD_CHECK(!cd_origin_allowed("http://app.exampl", "x", "http://app.example"));
    CD_CHECK(cd_origin_allowed("http://anything", "x", "*"));
    CD_CHECK(!cd_origin_allowed("null", "x", ""));
}

int main(void)
{
    CD_RUN(test_origin);
    CD_TEST_END();
}
