/*
 * origin.h: the same-origin / allow-list policy shared by CORS (http/) and the WebSocket
 * Origin check (ws/). Pure; thread-safe.
 */
#ifndef CD_CORE_ORIGIN_H
#define CD_CORE_ORIGIN_H

#include <stddef.h>

/* 1 if a request carrying Origin `origin` to Host `host` is allowed: when the origin is
 * http(s)://host itself, or is listed in allow_list (comma-separated, spaces ignored), or the
 * list is "*". A request without an Origin (origin NULL or empty) is not cross-origin: 1. */
int cd_origin_allowed(const char *origin, const char *host, const char *allow_list);

#endif
