/*
 * log.h: the server log, logs/server.log, one JSON object per line:
 *   {"ts":"2026-11-25T10:00:00.123Z","level":"info","msg":"...","req":"r1a2b", ...fields}
 * Optionally also a human line on stderr. Reopened by cd_log_reopen() (SIGHUP) for rotation.
 * Single-threaded: called from the event-loop thread only.
 */
#ifndef CD_CORE_LOG_H
#define CD_CORE_LOG_H

#include <cjson/cJSON.h>

enum cd_log_level { CD_LOG_DEBUG = 0, CD_LOG_INFO, CD_LOG_WARN, CD_LOG_ERROR };

/* Open dir/server.log (creating dir). level_name: debug|info|warn|error. Returns 0 or CD_EIO
 * (then logging goes to stderr only). */
int cd_log_open(const char *dir, const char *level_name, int also_stderr);
/* Close and reopen the file at the same path (log rotation). */
int cd_log_reopen(void);
void cd_log_close(void);
int cd_log_enabled(int level);
/* Log msg with optional request id and extra fields; fields (may be NULL) is consumed. */
void cd_log_fields(int level, const char *req_id, const char *msg, cJSON *fields);
/* printf-style message without extra fields. */
void cd_logf(int level, const char *req_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
