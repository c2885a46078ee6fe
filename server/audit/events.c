/*
 * events.c: the shared fields of security events (see events.h).
 */
#include "events.h"

#include <string.h>

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

void cd_audit_run(struct cd_seclog *log, const cJSON *result, const char *sha256, size_t code_bytes,
                  const char *ip, const char *user_agent, cJSON *fields)
{
    if (!log) {
        cJSON_Delete(fields);
        return;
    }
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(result, "success");
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(result, "errorType");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(result, "executionTime");
    cJSON *ev = fields ? fields : cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "codeSha256", sha256);
    cJSON_AddNumberToObject(ev, "codeBytes", (double)code_bytes);
    cJSON_AddStringToObject(ev, "outcome",
                            cJSON_IsTrue(ok)     ? "success"
                            : cJSON_IsString(et) ? et->valuestring
                                                 : "error");
    if (cJSON_IsNumber(ms))
        cJSON_AddNumberToObject(ev, "durationMs", ms->valuedouble);
    int sandbox = cJSON_IsString(et) && !strcmp(et->valuestring, "sandbox");
    cJSON *violation = NULL;
    if (sandbox) {
        violation = cJSON_CreateObject();
        cJSON_AddStringToObject(violation, "codeSha256", sha256);
    }
    cd_audit(log, cJSON_IsTrue(ok) ? "code_executed" : "code_execution_error", ip, user_agent, ev);
    if (violation)
        cd_audit(log, "sandbox_violation", ip, user_agent, violation);
}
