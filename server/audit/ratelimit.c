/*
 * ratelimit.c: per-address token buckets in a fixed table (see ratelimit.h).
 * Invariants: an address is held in at most one slot, always inside the probe window of its
 * hash (slots are replaced in place, never deleted, so no tombstones); tokens are in
 * [0, burst]. The hash is seeded once per table (clock and address bits: not secret, but not
 * known from outside either). Depends on util/error only.
 */
#include "ratelimit.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
    char key[CD_RATELIMIT_KEY_MAX];
    uint8_t klen;    /* 0: empty */
    uint8_t limited; /* the last request was refused */
    uint32_t hash;
    double tokens;
    uint64_t last_ms;
};

struct cd_ratelimit {
    double rate, burst;
    uint32_t seed;
    size_t mask;
    struct cd_ratelimit_stats st;
    struct slot *slots;
};

static uint32_t hash_key(uint32_t seed, const char *k, size_t n)
{
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h ^ (h >> 15);
}

int cd_ratelimit_new(struct cd_ratelimit **out, double rate, double burst, size_t slots)
{
    *out = NULL;
    if (!(rate > 0) || !(burst >= 1) || !slots || slots > ((size_t)1 << 24))
        return CD_EINVAL;
    size_t n = CD_RATELIMIT_PROBE;
    while (n < slots)
        n <<= 1;
    struct cd_ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return CD_ENOMEM;
    rl->slots = calloc(n, sizeof(*rl->slots));
    if (!rl->slots) {
        free(rl);
        return CD_ENOMEM;
    }
    rl->rate = rate;
    rl->burst = burst;
    rl->mask = n - 1;
    rl->st.slots = n;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    rl->seed = (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)rl;
    *out = rl;
    return CD_OK;
}

void cd_ratelimit_free(struct cd_ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->slots);
    free(rl);
}

/* Tokens the slot would hold at now_ms. */
static double projected(const struct cd_ratelimit *rl, const struct slot *s, uint64_t now_ms)
{
    double t = s->tokens;
    if (now_ms > s->last_ms)
        t += (double)(now_ms - s->last_ms) * rl->rate / 1000.0;
    return t > rl->burst ? rl->burst : t;
}

/* The slot of key (*found = 1), or the one it should take: an empty slot, else the one whose
 * bucket is fullest (an idle address first: forgetting it changes nothing; an address over
 * its limit last, so that a flood of new addresses cannot wipe its debt). */
static struct slot *find(struct cd_ratelimit *rl, const char *key, size_t klen, uint32_t h,
                         uint64_t now_ms, int *found, double *victim_tokens)
{
    struct slot *empty = NULL, *victim = NULL;
    double best = -1;
    for (size_t i = 0; i < CD_RATELIMIT_PROBE; i++) {
        struct slot *s = &rl->slots[(h + i) & rl->mask];
        if (!s->klen) {
            if (!empty)
                empty = s;
            continue;
        }
        if (s->hash == h && s->klen == klen && !memcmp(s->key, key, klen)) {
            *found = 1;
            return s;
        }
        double t = projected(rl, s, now_ms);
        if (t > best) {
            best = t;
            victim = s;
        }
    }
    *found = 0;
    *victim_tokens = empty ? rl->burst : best;
    return empty ? empty : victim;
}

int cd_ratelimit_take(struct cd_ratelimit *rl, const char *key, size_t klen, uint64_t now_ms,
                      unsigned *retry_after_s, int *streak_start)
{
    if (!klen) { /* klen 0 marks an empty slot */
        key = "?";
        klen = 1;
    }
    if (klen >= CD_RATELIMIT_KEY_MAX)
        klen = CD_RATELIMIT_KEY_MAX - 1;
    uint32_t h = hash_key(rl->seed, key, klen);
    int found;
    double victim_tokens = 0;
    struct slot *s = find(rl, key, klen, h, now_ms, &found, &victim_tokens);
    if (!found) {
        if (!s->klen)
            rl->st.entries++;
        else if (victim_tokens < rl->burst)
            rl->st.evicted++;
        memcpy(s->key, key, klen);
        s->klen = (uint8_t)klen;
        s->hash = h;
        s->tokens = rl->burst;
        s->limited = 0;
    } else {
        s->tokens = projected(rl, s, now_ms);
    }
    if (now_ms > s->last_ms || !found)
        s->last_ms = now_ms;
    if (s->tokens >= 1.0 - 1e-9) { /* refills are sums of fractions: forgive the rounding */
        s->tokens -= 1.0;
        s->limited = 0;
        rl->st.allowed++;
        return CD_OK;
    }
    rl->st.refused++;
    if (streak_start)
        *streak_start = !s->limited;
    s->limited = 1;
    if (retry_after_s) {
        double secs = ceil((1.0 - s->tokens) / rl->rate);
        *retry_after_s = secs < 1 ? 1 : secs > 86400 ? 86400 : (unsigned)secs;
    }
    return CD_ELIMIT;
}

void cd_ratelimit_stats_get(const struct cd_ratelimit *rl, struct cd_ratelimit_stats *out)
{
    if (!rl) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = rl->st;
}
