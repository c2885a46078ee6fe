/*
 * clientip.h: the client's address as collabd reports it (security log, stats, rate limits,
 * Python contexts). The TCP peer is the client, unless the peer is one of the configured
 * trusted proxies (--trusted-proxies, e.g. nginx): then X-Forwarded-For is read from the right
 * (the entries the proxies appended) and the first address that is not itself a trusted proxy
 * is the client. X-Forwarded-For from anyone else is ignored: a client cannot choose its own
 * address. Pure functions; thread-safe.
 */
#ifndef CD_CORE_CLIENTIP_H
#define CD_CORE_CLIENTIP_H

#include <stddef.h>

/* 1 if addr (text, IPv4 or IPv6) matches an entry of trusted: a comma-separated list of
 * addresses and CIDR ranges ("127.0.0.1, 10.0.0.0/8, ::1"). */
int cd_ip_trusted(const char *addr, const char *trusted);
/* The client's address into out (size bytes, NUL-terminated): peer, or, when peer is trusted,
 * the rightmost untrusted well-formed address of xff[0..xff_len) (network bytes; may be NULL).
 * Entries that are not IP addresses stop the walk (the peer's own view is kept then). */
void cd_client_ip(const char *peer, const char *xff, size_t xff_len, const char *trusted, char *out,
                  size_t size);

#endif
