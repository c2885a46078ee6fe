/*
 * events.c: the shared fields of security events (see events.h).
 */
#include "events.h"

void cd_audit(struct cd_seclog *log, const char *event, const char *ip, const char *user_agent,
              cJSON *fields)
{
    if (!log) {
        cJSON_Delete(fields);
        return;
    }
    if (!fields)
        fields = cJSON_CreateObject();
    if (ip && *ip)
        cJSON_AddStringToObject(fields, "ip", ip);
    if (user_agent && *user_agent)
        cJSON_AddStringToObject(fields, "userAgent", user_agent);
    cd_seclog_event(log, event, fields);
}
