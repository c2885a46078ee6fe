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

/* 1 if the presented secret got equals the configured want: their SHA-256 digests are compared
 * in constant time, so neither the content nor the length of want leaks through timing.
 * 0 when got is empty or hashing fails. For tokens (execution, admin). */
int cd_secret_equal(const char *got, const char *want);

#endif
