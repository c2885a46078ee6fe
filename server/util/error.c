/*
 * error.c: the string tables behind error.h. Owns nothing at run time; pure lookups.
 */
#include "error.h"

#include <stddef.h>

struct entry {
    int code;
    const char *name;
    const char *msg;
};

static const struct entry table[] = {
#define CD_ERR_ROW(name, val, id, msg) {val, id, msg},
    CD_ERRORS(CD_ERR_ROW)
#undef CD_ERR_ROW
};

static const struct entry *find(int err)
{
    for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].code == err)
            return &table[i];
    return NULL;
}

const char *cd_strerror(int err)
{
    const struct entry *e = find(err);
    return e ? e->msg : "unknown error";
}

const char *cd_errname(int err)
{
    const struct entry *e = find(err);
    return e ? e->name : "unknown";
}
