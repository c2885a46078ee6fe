/*
 * utf16.c: conversions between UTF-16 code units (how JavaScript and collabd hold text), the
 * generalized UTF-8 that cJSON hands us after the pre-pass, and the JSON text we emit.
 *
 * Owns nothing beyond the arrays it returns. Invariants:
 *   - the decoder accepts strict UTF-8 plus exactly two extensions: 3-byte encoded surrogates
 *     (ED A0..BF xx) and C0 80 for U+0000; everything else that is not shortest-form UTF-8 is
 *     refused, so decoding is a function of the bytes and never guesses;
 *   - cd_utf16_json_append() is byte-identical to JSON.stringify on the same string;
 *   - the pre-pass only ever shrinks the text, so it can work in place.
 * Depends only on util/buf and util/error; no cJSON here (callers hand us its strings).
 */
#include "utf16.h"
#include "buf.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

#define SUR_HI_MIN 0xD800u
#define SUR_LO_MIN 0xDC00u
#define SUR_MAX    0xDFFFu

static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Decode one code point at s[*i..n); advances *i. Returns the code point or -1 if invalid. */
static long decode_one(const unsigned char *s, size_t n, size_t *i)
{
    size_t p = *i;
    unsigned char c = s[p];
    long cp;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

    if (c < 0x80) {
        *i = p + 1;
        return c;
    }
    if (c == 0xC0) { /* only C0 80, our spelling of U+0000 */
        if (p + 1 < n && s[p + 1] == 0x80) {
            *i = p + 2;
            return 0;
        }
        return -1;
    }
    if (c < 0xC2)
        return -1; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) {
        need = 1;
        cp = c & 0x1F;
    } else if (c < 0xF0) {
        need = 2;
        cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* below is overlong; ED A0..BF (surrogates) stays allowed */
    } else if (c < 0xF5) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    if (n - p - 1 < need)
        return -1;
    if (s[p + 1] < lo || s[p + 1] > hi)
        return -1;
    for (size_t k = 1; k <= need; k++) {
        if (!is_cont(s[p + k]))
            return -1;
        cp = (cp << 6) | (s[p + k] & 0x3F);
    }
    *i = p + 1 + need;
    return cp;
}

int cd_utf16_decode_wtf8(const char *s, size_t n, uint16_t *dst, size_t cap, size_t *written)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, w = 0;
    int rc = CD_OK;

    while (i < n) {
        long cp = decode_one(u, n, &i);
        if (cp < 0) {
            rc = CD_EINVAL;
            goto out;
        }
        if (cp >= 0x10000) {
            if (cap - w < 2) {
                rc = CD_ETOOBIG;
                goto out;
            }
            cp -= 0x10000;
            dst[w++] = (uint16_t)(SUR_HI_MIN + (cp >> 10));
            dst[w++] = (uint16_t)(SUR_LO_MIN + (cp & 0x3FF));
        } else {
            if (cap - w < 1) {
                rc = CD_ETOOBIG;
                goto out;
            }
            dst[w++] = (uint16_t)cp;
        }
    }
out:
    *written = w;
    return rc;
}

long cd_utf16_count_wtf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    long count = 0;

    while (i < n) {
        long cp = decode_one(u, n, &i);
        if (cp < 0)
            return -1;
        count += cp >= 0x10000 ? 2 : 1;
    }
    return count;
}

int cd_utf16_from_wtf8(const char *s, size_t n, uint16_t **out, size_t *out_len)
{
    uint16_t *arr = NULL;
    size_t w = 0;
    int rc;
    long count = cd_utf16_count_wtf8(s, n);

    *out = NULL;
    *out_len = 0;
    if (count < 0) {
        rc = CD_EINVAL;
        goto out;
    }
    /* count <= n, so this cannot overflow; +1 keeps malloc(0) out of the picture */
    arr = malloc(((size_t)count + 1) * sizeof(*arr));
    if (!arr) {
        rc = CD_ENOMEM;
        goto out;
    }
    rc = cd_utf16_decode_wtf8(s, n, arr, (size_t)count, &w);
    if (rc)
        goto out;
    *out = arr;
    *out_len = w;
    arr = NULL;
out:
    free(arr);
    return rc;
}

/* Output is staged in a small stack buffer and flushed with cd_buf_append, so a large string
 * costs no worst-case reservation against the buffer's cap. */
struct stage {
    struct cd_buf *b;
    size_t used;
    char tmp[512];
};

static int stage_flush(struct stage *st)
{
    int rc = cd_buf_append(st->b, st->tmp, st->used);
    st->used = 0;
    return rc;
}

/* Make room for up to 12 bytes. */
static int stage_room(struct stage *st)
{
    if (sizeof(st->tmp) - st->used >= 12)
        return CD_OK;
    return stage_flush(st);
}

static void put_utf8(struct stage *st, uint32_t cp)
{
    char *o = st->tmp + st->used;
    if (cp < 0x80) {
        o[0] = (char)cp;
        st->used += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        st->used += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        st->used += 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        st->used += 4;
    }
}

static void put_u_escape(struct stage *st, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    char *o = st->tmp + st->used;
    o[0] = '\\';
    o[1] = 'u';
    o[2] = hex[(v >> 12) & 0xF];
    o[3] = hex[(v >> 8) & 0xF];
    o[4] = hex[(v >> 4) & 0xF];
    o[5] = hex[v & 0xF];
    st->used += 6;
}

static void put2(struct stage *st, char a, char c)
{
    st->tmp[st->used++] = a;
    st->tmp[st->used++] = c;
}

/* Emit u[0..n) with JSON.stringify's escaping (json != 0) or as plain UTF-8 with U+FFFD for
 * lone surrogates (json == 0). */
static int emit(struct stage *st, const uint16_t *u, size_t n, int json)
{
    int rc = CD_OK;

    for (size_t i = 0; i < n; i++) {
        uint32_t c = u[i];
        rc = stage_room(st);
        if (rc)
            goto out;
        if (c >= SUR_HI_MIN && c <= SUR_MAX) {
            if (c < SUR_LO_MIN && i + 1 < n && u[i + 1] >= SUR_LO_MIN && u[i + 1] <= SUR_MAX) {
                put_utf8(st, 0x10000 + ((c - SUR_HI_MIN) << 10) + (u[i + 1] - SUR_LO_MIN));
                i++;
            } else if (json) {
                put_u_escape(st, c);
            } else {
                put_utf8(st, 0xFFFD);
            }
            continue;
        }
        if (json && (c < 0x20 || c == '"' || c == '\\')) {
            switch (c) {
            case '"':
                put2(st, '\\', '"');
                break;
            case '\\':
                put2(st, '\\', '\\');
                break;
            case '\b':
                put2(st, '\\', 'b');
                break;
            case '\f':
                put2(st, '\\', 'f');
                break;
            case '\n':
                put2(st, '\\', 'n');
                break;
            case '\r':
                put2(st, '\\', 'r');
                break;
            case '\t':
                put2(st, '\\', 't');
                break;
            default:
                put_u_escape(st, c);
                break;
            }
            continue;
        }
        put_utf8(st, c);
    }
out:
    return rc;
}

/* json: escape as in a JSON string; quotes: also open and close the literal. */
static int append_units(struct cd_buf *b, const uint16_t *u, size_t n, int json, int quotes)
{
    struct stage st;
    size_t saved = b->len;
    int rc;

    st.b = b;
    st.used = 0;
    if (quotes)
        st.tmp[st.used++] = '"';
    rc = emit(&st, u, n, json);
    if (rc)
        goto out;
    if (quotes) {
        rc = stage_room(&st);
        if (rc)
            goto out;
        st.tmp[st.used++] = '"';
    }
    rc = stage_flush(&st);
out:
    if (rc && b->data) {
        b->len = saved;
        b->data[saved] = '\0';
    }
    return rc;
}

int cd_utf16_json_append(struct cd_buf *b, const uint16_t *u, size_t n)
{
    return append_units(b, u, n, 1, 1);
}

int cd_utf16_utf8_append(struct cd_buf *b, const uint16_t *u, size_t n)
{
    return append_units(b, u, n, 0, 0);
}

int cd_utf16_json_open(struct cd_utf16_json_stream *js, struct cd_buf *b)
{
    js->b = b;
    js->held = 0;
    return cd_buf_append(b, "\"", 1);
}

int cd_utf16_json_piece(struct cd_utf16_json_stream *js, const uint16_t *u, size_t n)
{
    int rc = CD_OK;
    if (!n)
        return CD_OK;
    if (js->held) { /* a high surrogate that ended the previous piece: pair it if we can */
        uint16_t pair[2] = {js->held, u[0]};
        int paired = u[0] >= SUR_LO_MIN && u[0] <= SUR_MAX;
        js->held = 0;
        rc = append_units(js->b, pair, paired ? 2 : 1, 1, 0);
        if (rc)
            return rc;
        if (paired) {
            u++;
            n--;
        }
    }
    if (n && u[n - 1] >= SUR_HI_MIN && u[n - 1] < SUR_LO_MIN) {
        js->held = u[n - 1];
        n--;
    }
    return n ? append_units(js->b, u, n, 1, 0) : CD_OK;
}

int cd_utf16_json_close(struct cd_utf16_json_stream *js)
{
    if (js->held) {
        int rc = append_units(js->b, &js->held, 1, 1, 0);
        js->held = 0;
        if (rc)
            return rc;
    }
    return cd_buf_append(js->b, "\"", 1);
}

int cd_utf16_json_append_wtf8(struct cd_buf *b, const char *s, size_t n)
{
    uint16_t *u = NULL;
    size_t un = 0;
    int rc = cd_utf16_from_wtf8(s, n, &u, &un);
    if (rc)
        goto out;
    rc = cd_utf16_json_append(b, u, un);
out:
    free(u);
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at p (caller checked they are in bounds), or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

int cd_json_wtf8_prepass(char *text, size_t *len)
{
    size_t n = *len, r = 0, w = 0;
    int in_str = 0, rc = CD_OK;

    /* w <= r throughout: every rewrite is shorter than what it replaces. */
    while (r < n) {
        unsigned char c = (unsigned char)text[r];
        long cp;
        size_t copy = 1;

        if (!in_str) {
            if (c == '"')
                in_str = 1;
        } else if (c == '"') {
            in_str = 0;
        } else if (c < 0x20) {
            rc = CD_EPARSE;
        } else if (c == '\\' && r + 1 < n) {
            copy = 2; /* any two-character escape, \\ and \" included, passes unchanged */
            if (text[r + 1] == 'u' && n - r >= 6 && (cp = hex4(text + r + 2)) >= 0) {
                copy = 6;
                if (cp >= SUR_HI_MIN && cp < SUR_LO_MIN && n - r >= 12 && text[r + 6] == '\\' &&
                    text[r + 7] == 'u') {
                    long lo = hex4(text + r + 8);
                    if (lo >= (long)SUR_LO_MIN && lo <= (long)SUR_MAX)
                        copy = 12; /* an escaped pair: cJSON handles it */
                }
                if (copy == 6 && cp >= SUR_HI_MIN && cp <= SUR_MAX) {
                    text[w++] = (char)0xED;
                    text[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    text[w++] = (char)(0x80 | (cp & 0x3F));
                    r += 6;
                    continue;
                }
                if (cp == 0) {
                    text[w++] = (char)0xC0;
                    text[w++] = (char)0x80;
                    r += 6;
                    continue;
                }
            }
        }
        if (w != r)
            memmove(text + w, text + r, copy);
        w += copy;
        r += copy;
    }
    *len = w;
    if (w < n)
        text[w] = '\0';
    return rc;
}
