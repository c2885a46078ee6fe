/*
 * hash.c: one-shot SHA-256 through OpenSSL's EVP interface (see hash.h).
 */
#include "hash.h"
#include "util/error.h"

#include <openssl/evp.h>

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
