/*
 * events.h: the security events collabd writes to the hash-chained security log, with the
 * fields every event shares (client address and user agent). The log may be NULL (it could
 * not be opened): the event is then dropped, never an error for the caller. Event-loop
 * thread (the log itself is thread-safe).
 */
#ifndef CD_AUDIT_EVENTS_H
#define CD_AUDIT_EVENTS_H

#include "audit/seclog.h"

#include <cjson/cJSON.h>

/* Log event with fields (consumed; may be NULL) plus "ip" and "userAgent" when not NULL. */
void cd_audit(struct cd_seclog *log, const char *event, const char *ip, const char *user_agent,
              cJSON *fields);

/* A server-side run ended: code_executed or code_execution_error (and sandbox_violation when
 * the sandbox refused something) with the program's SHA-256 and size, the outcome and duration
 * read from result (the pool's result object, borrowed), and the caller's fields (consumed;
 * may be NULL: source, context, session, ...). */
void cd_audit_run(struct cd_seclog *log, const cJSON *result, const char *sha256, size_t code_bytes,
                  const char *ip, const char *user_agent, cJSON *fields);

#endif
