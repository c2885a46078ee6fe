/*
 * ratelimit.c: the per-address rate limit of REST requests (A7), asked by the router before a
 * handler runs (static files are exempt: a page load fetches many of them). The buckets are
 * audit/ratelimit.c's; this file answers a refusal: 429, Retry-After, the JSON error body,
 * and one server.log line and one security event per streak of refusals of an address (a
 * flood does not flood the logs). Event-loop thread only.
 */
#include "audit/events.h"
#include "audit/ratelimit.h"
#include "core/clock.h"
#include "core/log.h"
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cd_http_rate_limited(struct cd_http_req *r, int *rc)
{
    struct cd_ratelimit *rl = r->srv->http_limit;
    if (!rl)
        return 0;
    char ip[64];
    unsigned retry = 1;
    int first = 0;
    cd_http_peer(r, ip, sizeof(ip));
    if (!cd_ratelimit_take(rl, ip, strlen(ip), cd_mono_ms(), &retry, &first))
        return 0;
    if (first) { /* once per streak of refusals, not once per request of a flood */
        char ua[160];
        cd_http_user_agent(r, ua, sizeof(ua));
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "ip", ip);
        cJSON_AddStringToObject(f, "path", r->path);
        cd_log_fields(CD_LOG_WARN, r->req_id, "rest rate limit: refusing an address", f);
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "source", "rest");
        cJSON_AddStringToObject(ev, "path", r->path);
        cJSON_AddStringToObject(ev, "action", "refused");
        cd_audit(r->srv->seclog, "rate_limited", ip, ua, ev);
    }
    /* a body that was announced is not read: close once the answer is out */
    r->close_after = r->method == CD_POST || r->method == CD_PUT || r->method == CD_PATCH;
    char msg[160], hdr[48];
    snprintf(msg, sizeof(msg),
             "too many requests from this address (over %ld per second); retry in %u s",
             r->srv->cfg.http_rate_limit, retry);
    snprintf(hdr, sizeof(hdr), "retry-after: %u\r\n", retry);
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", "rate_limited");
    cJSON_AddStringToObject(e, "message", msg);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    *rc = s ? cd_http_send(r, 429, "application/json", hdr, s, strlen(s)) : -1;
    free(s);
    return 1;
}
