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

#endif
