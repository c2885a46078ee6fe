/*
 * health.c: GET /health, /api/health, /api/status. 200 while serving, 503 while starting
 * or draining (so a balancer stops sending new clients before the process exits), and 503
 * "degraded" while the store cannot make writes durable (Redis unreachable): a balancer then
 * prefers an instance that can accept edits; reads still work here.
 */
#include "core/clock.h"
#include "routes.h"
#include "pyexec/pool.h"
#include "store/store.h"
#include "ws/room.h"

int cd_health_get(struct cd_http_req *r)
{
    struct cd_server *srv = r->srv;
    char ts[32];
    cd_iso8601(srv->started_wall_ms, ts);
    int ok = srv->ready && !srv->draining;
    int store_ok = cd_store_status(srv->store) == 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status",
                            srv->draining ? "draining"
                            : !ok         ? "starting"
                            : store_ok    ? "ok"
                                          : "degraded");
    cJSON_AddStringToObject(o, "version", COLLABD_VERSION);
    cJSON_AddNumberToObject(o, "uptimeSeconds",
                            (double)(cd_mono_ms() - srv->started_mono_ms) / 1000.0);
    cJSON_AddStringToObject(o, "startedAt", ts);
    cJSON *store = cJSON_AddObjectToObject(o, "store");
    cJSON_AddStringToObject(store, "type", srv->store->ops->name);
    cJSON_AddStringToObject(store, "status", store_ok ? "ok" : "degraded");
    if (srv->store->ops->status_detail)
        cJSON_AddStringToObject(store, "detail", srv->store->ops->status_detail(srv->store));
    cJSON_AddItemToObject(o, "python", cd_pyexec_health(srv->py));
    cJSON *counts = cJSON_AddObjectToObject(o, "counts");
    cJSON_AddNumberToObject(counts, "sessions", (double)srv->store->ops->count(srv->store));
    cJSON_AddNumberToObject(counts, "connections", (double)srv->rooms->n);
    cJSON_AddNumberToObject(counts, "httpRequests", (double)srv->n.http_requests);
    cJSON_AddNumberToObject(counts, "wsMessagesIn", (double)srv->n.ws_msgs_in);
    cJSON_AddNumberToObject(counts, "wsMessagesOut", (double)srv->n.ws_msgs_out);
    cJSON_AddNumberToObject(counts, "slowClientsDropped", (double)srv->n.ws_slow_dropped);
    cJSON_AddNumberToObject(counts, "presenceCoalesced", (double)srv->n.ws_presence_coalesced);
    cJSON_AddNumberToObject(counts, "updatesRelayed", (double)srv->n.updates_relayed);
    return cd_http_json(r, ok && store_ok ? 200 : 503, o);
}
