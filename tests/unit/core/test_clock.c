/* Unit tests for core/clock: UUID v4 shape and uniqueness, validation, ISO 8601 formatting. */
#include "core/clock.h"
#include "test.h"

static void test_uuid(void)
{
    char a[37], b[37];
    cd_uuid_v4(a);
    cd_uuid_v4(b);
    CD_CHECK(cd_uuid_valid(a, 36));
    CD_CHECK(strcmp(a, b) != 0);
    CD_CHECK(a[14] == '4');                                                 /* version 4 */
    CD_CHECK(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b'); /* RFC 4122 variant */
    CD_CHECK(!cd_uuid_valid("not-a-uuid", 10));
    CD_CHECK(!cd_uuid_valid("123e4567-e89b-12d3-a456-42661417400g", 36));
    CD_CHECK(!cd_uuid_valid("123e4567xe89b-12d3-a456-426614174000", 36));
    CD_CHECK(cd_uuid_valid("123e4567-e89b-12d3-a456-426614174000", 36));
}

static void test_iso(void)
{
    char out[32];
    cd_iso8601(1764064800123ULL, out);
    CD_CHECK_STR(out, "2025-11-25T10:00:00.123Z");
    cd_iso8601(5, out);
    CD_CHECK_STR(out, "1970-01-01T00:00:00.005Z");
}

int main(void)
{
    CD_RUN(test_uuid);
    CD_RUN(test_iso);
    CD_TEST_END();
}
