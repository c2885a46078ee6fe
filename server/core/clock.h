/*
 * clock.h: time and identifiers for the whole server. Thread-safe (no shared state besides
 * libuuid's own).
 */
#ifndef CD_CORE_CLOCK_H
#define CD_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds / microseconds (for durations and timeouts). */
uint64_t cd_mono_ms(void);
uint64_t cd_mono_us(void);
/* Wall-clock milliseconds since the epoch (for timestamps shown to users). */
uint64_t cd_wall_ms(void);
/* Format wall-clock ms as ISO 8601 UTC with milliseconds ("2026-11-25T10:00:00.123Z"). */
void cd_iso8601(uint64_t wall_ms, char out[32]);
/* A new random UUID v4 (libuuid), lower-case, 36 chars + NUL. */
void cd_uuid_v4(char out[37]);
/* 1 if s[0..n) is a canonical lower/upper-case UUID (8-4-4-4-12 hex). */
int cd_uuid_valid(const char *s, size_t n);

#endif
