/*
 * server.h: the one struct that ties a running collabd together. Created by main.c, which
 * owns it; every module receives a pointer and reads what it needs. Everything in it is
 * touched only on the event-loop thread. Library types are forward-declared so that core/
 * includes no libwebsockets, libuv or hiredis header.
 */
#ifndef CD_CORE_SERVER_H
#define CD_CORE_SERVER_H

#include "core/config.h"

#include <stdint.h>

struct lws_context;
struct lws_vhost;
struct uv_loop_s;
struct cd_store;
struct cd_rooms;
struct cd_pyexec;
struct cd_seclog;
struct cd_stats;
struct cd_ratelimit;

struct cd_counters {
    uint64_t http_requests;
    uint64_t http_errors; /* 4xx + 5xx answered */
    uint64_t ws_opened;
    uint64_t ws_current;
    uint64_t ws_rejected;
    uint64_t ws_msgs_in;
    uint64_t ws_msgs_out;
    uint64_t ws_slow_dropped;
    uint64_t ws_presence_coalesced; /* queued cursors replaced by a newer one */
    uint64_t sessions_created;
    uint64_t sessions_deleted;
    uint64_t updates_relayed; /* committed through the shared store, applied from its channel */
};

struct cd_server {
    struct cd_config cfg;
    struct uv_loop_s *loop;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    struct cd_store *store;
    struct cd_rooms *rooms;
    struct cd_pyexec *py;     /* server-side Python, or NULL when off */
    struct cd_seclog *seclog; /* logs/security.log, or NULL if it could not be opened */
    uint64_t started_mono_ms;
    uint64_t started_wall_ms;
    int port;     /* the port actually bound */
    int ready;    /* 0 until listening; 0 again while draining */
    int draining; /* SIGTERM received */
    struct cd_counters n;

    struct cd_stats *stats;          /* audit/stats.h: executions, latency, messages/s */
    struct cd_ratelimit *http_limit; /* per-address REST rate limit, or NULL when off */
};

#endif
