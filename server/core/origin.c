/*
 * origin.c: origin matching. Comparison is exact (scheme, host and port as the browser sent
 * them), case-insensitive for the ASCII scheme/host as browsers serialise them lower-case.
 */
#include "origin.h"

#include <string.h>
#include <strings.h>

static int same_origin(const char *origin, const char *host)
{
    if (!host || !*host)
        return 0;
    const char *rest = NULL;
    if (!strncasecmp(origin, "http://", 7))
        rest = origin + 7;
    else if (!strncasecmp(origin, "https://", 8))
        rest = origin + 8;
    return rest && !strcasecmp(rest, host);
}

int cd_origin_allowed(const char *origin, const char *host, const char *allow_list)
{
    if (!origin || !*origin)
        return 1;
    if (same_origin(origin, host))
        return 1;
    size_t olen = strlen(origin);
    const char *p = allow_list ? allow_list : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        size_t n = (size_t)(end - start);
        if (n == 1 && *start == '*')
            return 1;
        if (n && n == olen && !strncasecmp(start, origin, n))
            return 1;
    }
    return 0;
}
