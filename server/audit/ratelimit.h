/*
 * ratelimit.h: a token bucket per client address (A7), in a table of fixed size.
 * Each address may make `rate` requests per second on average and `burst` at once. The table
 * never grows: an address is looked up in a window of CD_RATELIMIT_PROBE slots after its hash;
 * a new address takes an empty slot of the window, else the slot whose bucket is fullest: an
 * idle address first (forgetting it changes nothing), an address over its limit last, so a
 * flood of new addresses cannot wipe out the debt of a busy one. An address that is forgotten
 * starts again with a full bucket: the limit can only loosen for it, never refuse an address
 * that is within its rate.
 * Threads: one thread (collabd's event loop); no locks. Times are monotonic ms from the caller.
 */
#ifndef CD_AUDIT_RATELIMIT_H
#define CD_AUDIT_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define CD_RATELIMIT_PROBE   8
#define CD_RATELIMIT_KEY_MAX 64 /* bytes of an address kept (longer keys are cut) */

struct cd_ratelimit;

struct cd_ratelimit_stats {
    uint64_t allowed;
    uint64_t refused;
    uint64_t evicted; /* addresses forgotten while their bucket was not full */
    size_t entries;   /* addresses held now */
    size_t slots;
};

/* A table of slots entries (rounded up to a power of two, at least CD_RATELIMIT_PROBE).
 * rate > 0 tokens per second, burst >= 1. Returns 0 and *out, or CD_EINVAL / CD_ENOMEM
 * (then *out is NULL). */
int cd_ratelimit_new(struct cd_ratelimit **out, double rate, double burst, size_t slots);
/* NULL is a no-op. */
void cd_ratelimit_free(struct cd_ratelimit *rl);

/* Take one token for key[0..klen) at now_ms (an empty key is the key "?"). Returns 0 when the
 * request may go on, or CD_ELIMIT when it is over the limit: then *retry_after_s (if not NULL) is
 * the whole number of seconds (>= 1) after which one token will be there again, and *streak_start
 * (if not NULL) is 1 when the address's previous request was allowed (a refusal worth logging
 * once), else 0. */
int cd_ratelimit_take(struct cd_ratelimit *rl, const char *key, size_t klen, uint64_t now_ms,
                      unsigned *retry_after_s, int *streak_start);

/* Copy the counters. */
void cd_ratelimit_stats_get(const struct cd_ratelimit *rl, struct cd_ratelimit_stats *out);

#endif
