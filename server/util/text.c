/*
 * text.c: UTF-8 validation and sanitising (see text.h). Decoding follows RFC 3629 exactly;
 * anything not well-formed is refused rather than repaired.
 */
#include "text.h"

#include <stdint.h>
#include <string.h>

/* Decode one code point at s[i]; returns its byte length, or 0 if malformed. */
static size_t decode(const unsigned char *s, size_t n, size_t i, uint32_t *cp)
{
    unsigned char c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i + k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

int cd_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = decode(u, n, i, &cp);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

size_t cd_utf8_prefix(const char *s, size_t n, size_t max_bytes)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t k = decode(u, n, i, &cp);
        if (!k || i + k > max_bytes)
            break;
        i += k;
    }
    return i;
}

size_t cd_sanitize_name(const char *s, size_t n, size_t max_chars, char *out, size_t outsize)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0, chars = 0;
    int pending_space = 0;
    if (!outsize)
        return 0;
    if (!cd_utf8_valid(s, n)) {
        out[0] = '\0';
        return 0;
    }
    for (size_t i = 0; i < n && chars < max_chars;) {
        uint32_t cp = 0;
        size_t k = decode(u, n, i, &cp);
        const unsigned char *src = u + i;
        i += k;
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0 || cp == 0x3000) {
            pending_space = o > 0;
            continue;
        }
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0x2028 || cp == 0x2029 ||
            (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF)
            continue; /* controls, bidi overrides, BOM */
        if (cp == '<' || cp == '>' || cp == '&' || cp == '"' || cp == '\'' || cp == '`')
            continue;
        size_t need = k + (pending_space ? 1 : 0);
        if (o + need + 1 > outsize || (pending_space && chars + 1 >= max_chars))
            break;
        if (pending_space) {
            out[o++] = ' ';
            chars++;
            pending_space = 0;
        }
        memcpy(out + o, src, k);
        o += k;
        chars++;
    }
    out[o] = '\0';
    return o;
}

int cd_token_valid(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* 1 if s[i..n) could become a well-formed sequence with more bytes. */
static int incomplete_prefix(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || n - i >= len || c == 0xC0 || c == 0xC1 || c > 0xF4)
        return 0;
    for (size_t k = i + 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    if (n - i >= 2) { /* the second byte decides overlongs, surrogates and > U+10FFFF */
        unsigned char d = s[i + 1];
        if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F) || (c == 0xF0 && d < 0x90) ||
            (c == 0xF4 && d > 0x8F))
            return 0;
    }
    return 1;
}

size_t cd_utf8_repair(const char *s, size_t n, char *out, size_t *tail)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    *tail = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = decode(u, n, i, &cp);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        if (incomplete_prefix(u, n, i)) {
            *tail = n - i;
            break;
        }
        memcpy(out + o, "\xEF\xBF\xBD", 3);
        o += 3;
        i++;
        while (i < n && (u[i] & 0xC0) == 0x80 && !decode(u, n, i, &cp))
            i++; /* one replacement for a malformed sequence's continuation bytes */
    }
    return o;
}
