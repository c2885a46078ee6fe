/*
 * internal.h: what audit/ shares between its own files and with its unit tests, not with the
 * rest of collabd. Same threading rules as seclog.h and stats.h.
 */
#ifndef CD_AUDIT_INTERNAL_H
#define CD_AUDIT_INTERNAL_H

#include "audit/stats.h"

#include <stddef.h>
#include <stdint.h>

struct cd_seclog;

/* Tests only: while hold is 1 the writer thread takes nothing from the queue, so that a test
 * can fill the queue deterministically. cd_seclog_flush() waits forever while held;
 * cd_seclog_free() releases the hold itself. */
void cd_seclog_hold_writer(struct cd_seclog *l, int hold);

/* ---- stats.c and metrics.c (see stats.h); event-loop thread only ---- */

/* Log-linear histogram of microseconds: 8 buckets per power of two (a value is placed within
 * 12.5% of itself), from 0 to 2^41 us; larger values go to the last bucket. For percentiles. */
#define CD_FINE_N 312
struct cd_fine_hist {
    uint64_t n[CD_FINE_N];
    uint64_t count;
    uint64_t sum_us;
    uint64_t min_us, max_us;
};
void cd_fine_add(struct cd_fine_hist *h, uint64_t us);
/* The q-quantile (0..1) in us, interpolated inside its bucket and clamped to [min, max];
 * 0 when empty. */
double cd_fine_quantile(const struct cd_fine_hist *h, double q);

/* A Prometheus histogram: counts per fixed upper bound (le, in us) plus +Inf. */
#define CD_PROM_MAX 16
struct cd_prom_hist {
    const uint64_t *le_us;      /* nb ascending bounds */
    const char *const *le_text; /* the same in seconds, as the le label shows them */
    size_t nb;
    uint64_t n[CD_PROM_MAX + 1]; /* per bucket, not cumulative; n[nb] is +Inf */
    uint64_t count;
    uint64_t sum_us;
};
void cd_prom_add(struct cd_prom_hist *h, uint64_t us);

struct cd_stats_cat {
    char name[33];
    uint64_t n;
};

/* Counts of executions; the last category slot is kept for "other". */
struct cd_stats_agg {
    uint64_t total, ok, failed;
    uint64_t timed; /* runs that reported a time */
    double sum_ms;
    struct cd_stats_cat cat[CD_STATS_CATS];
    size_t ncat;
};

/* Space-saving table: the CD_STATS_TOP keys with the highest counts (upper bounds; err is
 * how much a count may overestimate). */
struct cd_hh_entry {
    uint64_t count, err;
    uint32_t hash;
    char key[CD_STATS_KEY_MAX];
};
struct cd_hh {
    struct cd_hh_entry e[CD_STATS_TOP];
    size_t n;
};
void cd_hh_add(struct cd_hh *t, const char *key);

struct cd_stats_hour {
    uint64_t hour; /* hours since the epoch this bucket counts */
    uint64_t total, failed;
};

struct cd_stats_rec {
    uint64_t wall_ms;
    double ms; /* < 0: unknown */
    int success;
    char ip[48];
    char outcome[33];
    char sha[65];
    char source[8];
};

struct cd_stats {
    uint64_t since_wall_ms;     /* the dashboard view starts here */
    uint64_t last_exec_wall_ms; /* 0: none in the view */
    struct cd_stats_agg view, life;
    struct cd_fine_hist exec_us; /* view */
    struct cd_prom_hist exec_life;
    struct cd_stats_hour hours[24]; /* index: hour of day (UTC) */
    struct cd_stats_rec recent[CD_STATS_RECENT];
    size_t recent_next, recent_n;
    struct cd_hh ips, uas;
    uint64_t uploads, upload_bytes, uploads_failed; /* view */
    uint64_t life_uploads, life_upload_bytes, life_uploads_failed;
    struct cd_fine_hist push_us; /* view */
    struct cd_prom_hist push_life;
    uint32_t msg[64]; /* messages received in second s at msg[s % 64] */
    uint64_t msg_sec; /* the newest second counted */
};

/* Messages received in second sec (0 outside the 64 seconds the ring holds). */
uint64_t cd_stats_msgs_in_second(const struct cd_stats *st, uint64_t sec);

#endif
