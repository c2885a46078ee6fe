/*
 * tls.c: see tls.h. The checks read the files with OpenSSL exactly as lws will a moment later
 * (PEM, the first certificate of the file, the private key), so what passes here loads there.
 * An encrypted key is refused rather than prompting on the terminal: collabd runs unattended.
 * Policy (Mozilla's "intermediate"): TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers for 1.2,
 * OpenSSL's TLS 1.3 suites, no compression, no renegotiation; ALPN offers http/1.1 alone. HSTS is
 * sent only here, i.e. only when collabd itself speaks TLS: over plain HTTP browsers ignore it, and
 * behind a proxy the proxy sets it.
 */
#include "tls.h"
#include "util/error.h"

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* lws copies nothing of the header list: it must live as long as the context */
static struct lws_protocol_vhost_options hsts = {NULL, NULL,
                                                 "strict-transport-security:", "max-age=31536000"};

int cd_tls_enabled(const struct cd_config *c)
{
    return c->tls_cert[0] != '\0';
}

const char *cd_tls_scheme(const struct cd_config *c)
{
    return cd_tls_enabled(c) ? "https" : "http";
}

/* never asked: an encrypted key fails to load instead of prompting */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static FILE *open_pem(const char *flag, const char *path, char *err, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        snprintf(err, size, "%s %s: cannot read it: %s", flag, path, strerror(errno));
    return f;
}

int cd_tls_check(const struct cd_config *c, char *err, size_t size)
{
    int rc = CD_EINVAL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    FILE *f = NULL;

    if (!cd_tls_enabled(c))
        return CD_OK;
    if (!(f = open_pem("--tls-cert", c->tls_cert, err, size)))
        goto out;
    cert = PEM_read_X509(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!cert) {
        snprintf(err, size, "--tls-cert %s: no PEM certificate in it", c->tls_cert);
        goto out;
    }
    if (!(f = open_pem("--tls-key", c->tls_key, err, size)))
        goto out;
    key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!key) {
        snprintf(err, size,
                 "--tls-key %s: no PEM private key in it (an encrypted key is not "
                 "accepted)",
                 c->tls_key);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        snprintf(err, size, "--tls-key %s does not match the certificate in --tls-cert %s",
                 c->tls_key, c->tls_cert);
        goto out;
    }
    rc = CD_OK;
out:
    ERR_clear_error(); /* what OpenSSL queued about the failure is said in err */
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

void cd_tls_configure(struct lws_context_creation_info *info, const struct cd_config *c)
{
    if (!cd_tls_enabled(c))
        return;
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info->ssl_cert_filepath = c->tls_cert;
    info->ssl_private_key_filepath = c->tls_key;
    /* HTTP/1.1 only: lws offers h2 by default, and collabd's responses and WebSocket upgrade are
     * HTTP/1.1 (an h2 client got an empty reply) */
    info->alpn = "http/1.1";
    info->ssl_cipher_list = TLS12_CIPHERS;
    info->tls1_3_plus_cipher_list = TLS13_CIPHERS;
    info->ssl_options_set = (long)(SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                                   SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    hsts.next = info->headers;
    info->headers = &hsts;
}
