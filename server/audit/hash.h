/*
 * hash.h: SHA-256 of a byte string as lower-case hex, for the security log (the hash of every
 * executed program is logged, never the program). Thread-safe; no state.
 */
#ifndef CD_AUDIT_HASH_H
#define CD_AUDIT_HASH_H

#include <stddef.h>

/* out receives 64 hex digits and a NUL. Returns 0 or CD_EUNAVAIL (libcrypto failed; out is
 * then the empty string). */
int cd_sha256_hex(const void *data, size_t len, char out[65]);

#endif
