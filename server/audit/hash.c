/*
 * hash.c: one-shot SHA-256 through OpenSSL's EVP interface (see hash.h).
 */
#include "hash.h"
#include "util/error.h"

#include <openssl/evp.h>
#include <string.h>

int cd_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
        return CD_EUNAVAIL;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return CD_OK;
}

int cd_secret_equal(const char *got, const char *want)
{
    char a[65], b[65];
    if (!got[0] || cd_sha256_hex(got, strlen(got), a) || cd_sha256_hex(want, strlen(want), b))
        return 0;
    unsigned char diff = 0;
    for (size_t i = 0; i < 64; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}
