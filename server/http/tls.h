/*
 * tls.h: collabd serving HTTPS and WSS itself (--tls-cert, --tls-key), for one machine without
 * a proxy in front. lws does the TLS through OpenSSL on the one listening port (HTTP and the
 * WebSocket upgrade alike); this module checks the two files before lws sees them, so a bad
 * path or a key that is not the certificate's stops start-up with one readable line, sets the
 * protocol floor (TLS 1.2) and the cipher policy, and adds Strict-Transport-Security to every
 * HTTP response. Main thread, at start-up only; nothing here is touched once the loop runs.
 */
#ifndef CD_HTTP_TLS_H
#define CD_HTTP_TLS_H

#include "core/config.h"

#include <stddef.h>

struct lws_context_creation_info;

/* 1 when the configuration asks for TLS (config.c already made sure both files are named). */
int cd_tls_enabled(const struct cd_config *c);
/* Check that tls_cert holds a PEM certificate, tls_key an unencrypted PEM private key, and
 * that the key is the certificate's. Returns 0 (also when TLS is off), or CD_EINVAL with a
 * one-line reason (no "collabd:" prefix, no newline) in err. */
int cd_tls_check(const struct cd_config *c, char *err, size_t size);
/* With TLS on: point info at the files, set the TLS options and put the HSTS header in front
 * of info->headers (call after info->headers is set). Without TLS: nothing. The strings stay
 * c's; c must outlive the lws context. */
void cd_tls_configure(struct lws_context_creation_info *info, const struct cd_config *c);
/* "https" or "http", for the start-up line. */
const char *cd_tls_scheme(const struct cd_config *c);

#endif
