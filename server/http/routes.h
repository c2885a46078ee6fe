/*
 * routes.h: the REST handlers, one file per resource, plugged into the table in router.c.
 * Each handler answers through cd_http_json/cd_http_error and returns 0 (or -1 to drop the
 * connection). Event-loop thread only.
 */
#ifndef CD_HTTP_ROUTES_H
#define CD_HTTP_ROUTES_H

#include "request.h"

int cd_sessions_create(struct cd_http_req *r);
int cd_sessions_list(struct cd_http_req *r);
int cd_sessions_get(struct cd_http_req *r);
int cd_sessions_delete(struct cd_http_req *r);
int cd_sessions_document(struct cd_http_req *r);
int cd_health_get(struct cd_http_req *r);
int cd_execute_post(struct cd_http_req *r);
int cd_execute_raw_post(struct cd_http_req *r);
int cd_execute_reset_post(struct cd_http_req *r);
int cd_execute_packages_get(struct cd_http_req *r);
int cd_upload_post(struct cd_http_req *r);
int cd_upload_list(struct cd_http_req *r);
int cd_upload_info(struct cd_http_req *r);
int cd_upload_delete(struct cd_http_req *r);
/* Server-side Python may serve this request: it is on, and the execution token (when one is
 * configured) was presented. Otherwise the refusal is answered (*rc) and 0 returned. */
int cd_http_py_allowed(struct cd_http_req *r, int *rc);
int cd_static_get(struct cd_http_req *r);
int cd_docs_get(struct cd_http_req *r);
int cd_openapi_get(struct cd_http_req *r);
int cd_stats_get(struct cd_http_req *r);
int cd_dashboard_stats_get(struct cd_http_req *r);
int cd_dashboard_stats_clear_post(struct cd_http_req *r);
int cd_dashboard_page_get(struct cd_http_req *r);
int cd_metrics_get(struct cd_http_req *r);

#endif
