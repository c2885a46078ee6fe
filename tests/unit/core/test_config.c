/* Unit tests for core/config: precedence file < env < flags, validation, unknown options. */
#include "core/config.h"
#include "test.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void test_flags(void)
{
    struct cd_config c;
    cd_config_defaults(&c);
    char *argv[] = {"collabd", "--port", "9001", "--max-body=2k", "--host", "0.0.0.0", NULL};
    CD_CHECK_INT(cd_config_load(&c, 6, argv), CD_OK);
    CD_CHECK_INT(c.port, 9001);
    CD_CHECK_INT(c.max_body, 2048);
    CD_CHECK_STR(c.host, "0.0.0.0");
}

static void test_errors(void)
{
    struct cd_config c;
    cd_config_defaults(&c);
    char *a1[] = {"collabd", "--port", "70000", NULL};
    CD_CHECK_INT(cd_config_load(&c, 3, a1), CD_EINVAL);
    char *a2[] = {"collabd", "--nope", "1", NULL};
    CD_CHECK_INT(cd_config_load(&c, 3, a2), CD_EINVAL);
    char *a3[] = {"collabd", "--port", "12x", NULL};
    CD_CHECK_INT(cd_config_load(&c, 3, a3), CD_EINVAL);
    char *a4[] = {"collabd", "--port", NULL};
    CD_CHECK_INT(cd_config_load(&c, 2, a4), CD_EINVAL);
    char *a5[] = {"collabd", "--log-level", "loud", NULL};
    CD_CHECK_INT(cd_config_load(&c, 3, a5), CD_EINVAL);
}

static void test_precedence(void)
{
    char path[] = "/tmp/cdcfgXXXXXX";
    int fd = mkstemp(path);
    CD_CHECK(fd >= 0);
    const char *json = "{\"port\": 7000, \"max_sessions\": 5, \"host\": \"10.0.0.1\"}";
    CD_CHECK(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
    close(fd);
    setenv("COLLABD_MAX_SESSIONS", "6", 1);
    struct cd_config c;
    cd_config_defaults(&c);
    char *argv[] = {"collabd", "--config", path, "--host", "127.0.0.2", NULL};
    CD_CHECK_INT(cd_config_load(&c, 5, argv), CD_OK);
    CD_CHECK_INT(c.port, 7000);        /* from the file */
    CD_CHECK_INT(c.max_sessions, 6);   /* env beats file */
    CD_CHECK_STR(c.host, "127.0.0.2"); /* flag beats file */
    unsetenv("COLLABD_MAX_SESSIONS");
    /* a file with an unknown key is refused */
    FILE *f = fopen(path, "w");
    fputs("{\"bogus\": 1}", f);
    fclose(f);
    cd_config_defaults(&c);
    CD_CHECK_INT(cd_config_load(&c, 3, argv), CD_EINVAL);
    unlink(path);
}

int main(void)
{
    CD_RUN(test_flags);
    CD_RUN(test_errors);
    CD_RUN(test_precedence);
    CD_TEST_END();
}
