/*
 * utf16.h: text encoding helpers for JavaScript strings.
 *
 * collabd keeps document text the way the browser does: as UTF-16 code units (uint16_t arrays
 * with an explicit length). Any JavaScript string must round-trip exactly, including astral
 * characters (surrogate pairs), lone surrogates and U+0000.
 *
 * The path in:  raw JSON text (already validated as UTF-8 by the WebSocket layer)
 *               -> cd_json_wtf8_prepass() -> cJSON -> valuestring (generalized UTF-8, "WTF-8")
 *               -> cd_utf16_from_wtf8().
 * cJSON refuses lone-surrogate escapes and truncates strings at "\u0000", so the pre-pass rewrites
 * those escapes into byte sequences that valid UTF-8 can never contain and cJSON copies verbatim:
 *   - a lone \uD800..\uDFFF becomes its 3-byte generalized UTF-8 form ED A0 80 .. ED BF BF;
 *   - \u0000 becomes C0 80 (the "modified UTF-8" spelling of NUL, so C strings stay unbroken).
 * The decoders below accept exactly those two extensions on top of strict UTF-8.
 * Caution: a valuestring may therefore hold bytes that are not valid UTF-8; never echo it to the
 * wire as is: decode it, or use cd_utf16_json_append_wtf8().
 *
 * The path out: cd_utf16_json_append() writes exactly what JavaScript's JSON.stringify writes for
 * the same string (valid pairs as UTF-8, lone surrogates as \udxxx, control characters escaped).
 *
 * Ownership: arrays returned through out parameters are malloc'd and owned by the caller (free()).
 * Pure functions, no global state: safe on any thread.
 */
#ifndef CD_UTIL_UTF16_H
#define CD_UTIL_UTF16_H

#include <stddef.h>
#include <stdint.h>

struct cd_buf;

/* Decode n bytes of UTF-8, also accepting encoded surrogates (WTF-8, 3-byte ED A0..BF xx) and
 * C0 80 for U+0000, into a new malloc'd uint16_t array (*out, *out_len; *out non-NULL even for
 * n == 0). Refuses other overlong forms, code points > 0x10FFFF, stray continuation bytes and
 * truncated sequences: CD_EINVAL. CD_ENOMEM on allocation failure. On error *out is NULL. */
int cd_utf16_from_wtf8(const char *s, size_t n, uint16_t **out, size_t *out_len);
/* Number of UTF-16 units that s (valid WTF-8, as above) decodes to; -1 if invalid. */
long cd_utf16_count_wtf8(const char *s, size_t n);
/* Decode s into dst, which has room for cap units; *written receives the count.
 * CD_EINVAL if s is invalid, CD_ETOOBIG if it does not fit (dst contents then unspecified). */
int cd_utf16_decode_wtf8(const char *s, size_t n, uint16_t *dst, size_t cap, size_t *written);

/* Append u[0..n) to b as a JSON string literal including the quotes, byte for byte what
 * JSON.stringify produces. Returns 0, CD_ETOOBIG or CD_ENOMEM; on error b is unchanged. */
int cd_utf16_json_append(struct cd_buf *b, const uint16_t *u, size_t n);
/* The same literal for a text handed over in pieces (the chunks of a rope): open, any number of
 * pieces, close. A surrogate pair split between two pieces is joined, so the bytes equal
 * cd_utf16_json_append() of the whole text. Each call returns 0, CD_ETOOBIG or CD_ENOMEM; after
 * an error b holds a partial literal and the caller discards it. The stream borrows b. */
struct cd_utf16_json_stream {
    struct cd_buf *b;
    uint16_t held; /* a high surrogate that ended the last piece, or 0 */
};
int cd_utf16_json_open(struct cd_utf16_json_stream *js, struct cd_buf *b);
int cd_utf16_json_piece(struct cd_utf16_json_stream *js, const uint16_t *u, size_t n);
int cd_utf16_json_close(struct cd_utf16_json_stream *js);
/* Same for a WTF-8 string (e.g. a cJSON valuestring after the pre-pass): CD_EINVAL if s is not
 * valid WTF-8. On error b is unchanged. */
int cd_utf16_json_append_wtf8(struct cd_buf *b, const char *s, size_t n);
/* Append u[0..n) as plain UTF-8 (lone surrogates become U+FFFD) — for logs/export.
 * Returns 0, CD_ETOOBIG or CD_ENOMEM; on error b is unchanged. */
int cd_utf16_utf8_append(struct cd_buf *b, const uint16_t *u, size_t n);

/* The pre-pass, run on raw JSON text right before cJSON parses it: inside JSON strings, rewrite
 * each lone \uD800..\uDFFF escape into its 3 WTF-8 bytes and each \u0000 into C0 80, in place
 * (the text only shrinks); *len is updated. Escaped pairs (\uD83D\uDE00), escaped backslashes
 * ("\\ud83d" is a backslash and "ud83d") and text outside strings are left alone; invalid JSON is
 * left for cJSON to reject. Returns 0, or CD_EPARSE when a string holds a raw control character
 * (< 0x20): JSON forbids it and JSON.parse refuses it, but cJSON would accept it (and cut the
 * string at a raw NUL). The text is fully rewritten in both cases. */
int cd_json_wtf8_prepass(char *text, size_t *len);

#endif
