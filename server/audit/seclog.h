/*
 * seclog.h: the security log (logs/security.log), hash-chained so that tampering shows.
 *
 * One JSON object per line, members in this order:
 *   {"time":"2026-11-25T10:00:00.123Z","seq":N,"event":"run", ...fields..., "prev":"<hex>"}
 * where prev is the lower-case hex SHA-256 of the previous line's bytes (without its newline)
 * and seq counts lines by one, continuing across rotations. A file starts with an anchor line
 *   {"time":...,"seq":N,"event":"chain_start","reason":"new"|"rotate"|"damaged_tail","prev":...}
 * whose prev is 64 zeros for the first file ever, or the last hash of the file before it.
 *
 * What verification can and cannot find. cd_seclog_verify() re-hashes every line; a line that
 * was edited, removed, inserted or moved breaks the prev (and usually the seq) of the line
 * that now follows it. The line reported is the FIRST LINE AT WHICH A CHECK FAILS, and a line's
 * checks cover its own syntax and its link to the line above it:
 *   - an edit of line K that keeps it valid JSON is reported at line K+1 (its prev no longer
 *     matches); an edit of seq, or one that breaks the JSON, is reported at line K itself;
 *   - removing line K, or swapping lines K and K+1, is reported at line K;
 *   - removing line 1 is reported at line 1 (a file must start with chain_start).
 * The chain cannot protect its own end: removing (or editing) the LAST lines of a file leaves
 * a shorter chain that is still intact. Across rotation, the next file's anchor holds the old
 * file's last hash, so "collabd audit verify old new" finds a cut-off tail of every file but the
 * newest; for the newest, keep its last hash elsewhere (verify prints it).
 *
 * Threads. cd_seclog_event/_reopen/_flush/_stats_get may be called from any thread (a mutex
 * orders the chain); in collabd they run on the event-loop thread. They never wait for the
 * disk: a line is formatted and hashed on the caller's thread, then copied into a fixed ring
 * of bytes that the log's own writer thread drains. Lines reach the file within a few
 * milliseconds (the writer gathers them to write many at once), so a crash loses at most the
 * lines still in the ring. When the ring is full the event is dropped and counted, and a
 * {"event":"events_dropped","count":N,"since":...} line is chained in as soon as there is
 * room again. Only _flush and _free wait (for the writer). cd_seclog_verify* use no shared
 * state.
 */
#ifndef CD_AUDIT_SECLOG_H
#define CD_AUDIT_SECLOG_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

/* Longest line accepted (bytes, without the newline); longer events fail with CD_ETOOBIG. */
#define CD_SECLOG_LINE_MAX 65536
/* Default byte cap of the queue between callers and the writer thread. */
#define CD_SECLOG_QUEUE_DEFAULT (4u * 1024 * 1024)

struct cd_seclog;

struct cd_seclog_opts {
    size_t queue_bytes; /* cap of queued, not yet written bytes (allocated up front); 0:
                         * CD_SECLOG_QUEUE_DEFAULT; raised to CD_SECLOG_LINE_MAX + 1 if less */
    int fsync;          /* 1: fdatasync after every batch the writer writes (writer thread) */
};

/* Counters for the dashboard; a consistent snapshot is copied out by cd_seclog_stats_get. */
struct cd_seclog_stats {
    uint64_t lines;        /* lines written to disk, anchors and events_dropped included */
    uint64_t bytes;        /* bytes written to disk */
    uint64_t dropped;      /* events dropped because the queue was full */
    uint64_t write_errors; /* lines lost because write() failed (disk full, I/O error) */
    uint64_t queued_bytes; /* bytes waiting for the writer now */
    uint64_t queued_max;   /* the most bytes that ever waited */
};

/* Open (creating it, and its directories, mode 0700 / file 0600) the log at path and start its
 * writer thread. An empty file gets a chain_start anchor with 64 zeros as prev; a file with
 * lines continues the chain from its last line (only the file's tail is read). If the last
 * line is damaged (a write cut short), a newline ends it and an anchor with reason
 * "damaged_tail" follows, so that the damage stays visible to verify. The file is locked
 * (flock) against a second writer. opts may be NULL for defaults.
 * Returns 0 and *out, or CD_EINVAL, CD_ENOMEM, CD_EIO (cannot create/read/write), CD_EEXIST
 * (another process has the file open through cd_seclog_open). On error *out is NULL. */
int cd_seclog_open(struct cd_seclog **out, const char *path, const struct cd_seclog_opts *opts);

/* Chain and queue one event. event: 1..64 chars of [a-z0-9_.-]. fields: a cJSON object or NULL,
 * always consumed (also on error); its keys must not be time, seq, event or prev. Strings are
 * JSON-escaped, so hostile input cannot break a line. Never waits for the disk.
 * Returns 0 (also when the event was dropped because the queue is full: see stats.dropped),
 * CD_EINVAL, CD_ETOOBIG (line over CD_SECLOG_LINE_MAX), CD_ENOMEM or CD_EUNAVAIL (libcrypto
 * failed); on error nothing is chained. */
int cd_seclog_event(struct cd_seclog *l, const char *event, cJSON *fields);

/* For SIGHUP rotation: if the file at the path is no longer the one being written (the operator
 * renamed it), open a new one there and start it with a chain_start anchor (reason "rotate")
 * whose prev is the old file's last hash. Lines queued before the call still go to the old
 * file. If the path still names the current file, nothing happens. Returns 0, or CD_EIO /
 * CD_EEXIST (the new file cannot be opened or locked), CD_ELIMIT (rotations faster than the
 * writer can empty the queue), CD_ENOMEM; after an error logging continues into the old file.
 * Opens the new file on the caller's thread, as cd_log_reopen does. */
int cd_seclog_reopen(struct cd_seclog *l);

/* Wait until every line queued so far has been written (and synced, with opts.fsync),
 * including a pending events_dropped line. Returns 0, or CD_EIO if a write failed since the
 * last flush (the lines are counted in stats.write_errors). */
int cd_seclog_flush(struct cd_seclog *l);

/* Copy the counters. */
void cd_seclog_stats_get(struct cd_seclog *l, struct cd_seclog_stats *out);

/* Flush, stop and join the writer thread, close the file. NULL is a no-op. */
void cd_seclog_free(struct cd_seclog *l);

/* Re-compute the chain of the file at path. Every problem is printed to report (if not NULL)
 * as "line K: <what is wrong>"; on success "ok: N lines, chain intact (last hash H)".
 * Returns 0 if intact, CD_EPARSE if not (then *bad_line, if not NULL, is the first bad line,
 * see the top of this file), CD_EIO if the file cannot be read (then *bad_line is 0).
 * Garbage, over-long and cut-off lines are reported, never trusted. */
int cd_seclog_verify(const char *path, FILE *report, long *bad_line);

/* The same, for one file of a rotated series: if expect_prev (64 hex) is not NULL, line 1's
 * prev must equal it (the last hash of the file before). If last_hash is not NULL it receives
 * the hex hash of the file's last line ("" for an empty file), also when the chain is broken. */
int cd_seclog_verify_file(const char *path, const char *expect_prev, char last_hash[65],
                          FILE *report, long *bad_line);

/* "collabd audit verify FILE [FILE...]" with argv[0] == "audit": verifies each file, and that
 * each file continues the one before it (give them oldest first). Prints to stdout; returns the
 * process exit code: 0 all intact, 1 tampered or damaged, 2 usage error or unreadable file. */
int cd_seclog_verify_main(int argc, char **argv);

#endif
