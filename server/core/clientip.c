/*
 * clientip.c: which address is the client (see clientip.h). Addresses are compared in their
 * binary form (inet_pton), so "::ffff:10.0.0.1" style spellings do not slip through a text
 * comparison; a CIDR range compares the leading bits. Depends on libc only.
 */
#include "clientip.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct addr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char b[16];
};

static int parse(const char *s, size_t n, struct addr *a)
{
    char buf[INET6_ADDRSTRLEN + 1];
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (!n || n >= sizeof(buf))
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, a->b) == 1) {
        a->family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, buf, a->b) == 1) {
        a->family = AF_INET6;
        /* an IPv4-mapped IPv6 address is the IPv4 address */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(a->b, mapped, 12)) {
            memmove(a->b, a->b + 12, 4);
            a->family = AF_INET;
        }
        return 1;
    }
    return 0;
}

/* Does a fall in the range spelled s[0..n) ("addr" or "addr/bits")? */
static int in_range(const struct addr *a, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    const char *slash = memchr(s, '/', n);
    struct addr r;
    if (!parse(s, slash ? (size_t)(slash - s) : n, &r) || r.family != a->family)
        return 0;
    int max = a->family == AF_INET ? 32 : 128, bits = max;
    if (slash) {
        char num[8];
        size_t k = n - (size_t)(slash - s) - 1;
        if (!k || k >= sizeof(num))
            return 0;
        memcpy(num, slash + 1, k);
        num[k] = '\0';
        char *end = NULL;
        long v = strtol(num, &end, 10);
        if (*end || v < 0 || v > max)
            return 0;
        bits = (int)v;
    }
    for (int i = 0; i < bits; i++) {
        int byte = i / 8, mask = 0x80 >> (i % 8);
        if ((a->b[byte] & mask) != (r.b[byte] & mask))
            return 0;
    }
    return 1;
}

static int trusted_addr(const struct addr *a, const char *trusted)
{
    const char *p = trusted;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (in_range(a, p, n))
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

int cd_ip_trusted(const char *addr, const char *trusted)
{
    struct addr a;
    return trusted && *trusted && parse(addr, strlen(addr), &a) && trusted_addr(&a, trusted);
}

void cd_client_ip(const char *peer, const char *xff, size_t xff_len, const char *trusted, char *out,
                  size_t size)
{
    snprintf(out, size, "%s", peer);
    if (!xff || !xff_len || !cd_ip_trusted(peer, trusted))
        return;
    size_t end = xff_len;
    while (end) {
        size_t start = end;
        while (start && xff[start - 1] != ',')
            start--;
        struct addr a;
        if (!parse(xff + start, end - start, &a))
            return; /* garbage: keep what we know for sure */
        char text[INET6_ADDRSTRLEN];
        if (!inet_ntop(a.family, a.b, text, sizeof(text)))
            return;
        snprintf(out, size, "%s", text);
        if (!trusted_addr(&a, trusted))
            return; /* the first address no trusted proxy vouches for: the client */
        end = start ? start - 1 : 0;
    }
}
