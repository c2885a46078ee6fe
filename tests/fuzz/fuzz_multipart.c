/*
 * fuzz_multipart.c: libFuzzer target for util/multipart (the body of POST /api/upload and its
 * Content-Type header, and the client's file names).
 *
 * Input: byte 0 is k; the next k % 72 bytes are the boundary (so 0 and 71, both invalid, occur
 * too); the rest is the body. Checks (any violation aborts):
 *   - a boundary that is not 1..70 bchars not ending in space gives CD_EINVAL, and only then;
 *   - the result is 0 or one of the documented codes, and *nparts is 0 on error;
 *   - on success every part's data is a slice of the body, in order, not overlapping, directly
 *     followed by "\r\n--boundary", and never containing it; names are NUL-free, as long as
 *     their _len says, and free of control characters;
 *   - the parts, written out again as a canonical body, parse back to the same parts;
 *   - cd_upload_name_safe, fed every parsed file name, the raw boundary and the start of the
 *     body, accepts only printable-ASCII names without '/' or '\\' that are not "." or "..",
 *     do not start with '.', and fit CD_UPLOAD_NAME_MAX;
 *   - cd_multipart_boundary, fed the raw body and "multipart/form-data; boundary=<raw>",
 *     returns only boundaries that cd_multipart_parse accepts.
 * Owns nothing across calls.
 */
#include "util/buf.h"
#include "util/error.h"
#include "util/multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 16

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cd_mpart parts[MAX_PARTS], again[MAX_PARTS];

static int boundary_valid(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n > CD_MPART_BOUNDARY_MAX || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("'()+_,-./:=? ", c)))
            return 0;
    }
    return 1;
}

static void check_field(const char *s, size_t len, size_t cap)
{
    FUZZ_CHECK(len < cap && strlen(s) == len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7F));
    }
}

static void check_name_safe(const char *name, size_t n)
{
    char out[CD_UPLOAD_NAME_MAX + 1];
    size_t len;
    int rc = cd_upload_name_safe(name, n, out, sizeof out);
    FUZZ_CHECK(rc == 0 || rc == CD_EINVAL || rc == CD_ETOOBIG);
    if (rc) {
        FUZZ_CHECK(out[0] == '\0');
        return;
    }
    len = strlen(out);
    FUZZ_CHECK(len >= 1 && len <= CD_UPLOAD_NAME_MAX && len <= n);
    FUZZ_CHECK(!strchr(out, '/') && !strchr(out, '\\'));
    FUZZ_CHECK(strcmp(out, ".") != 0 && strcmp(out, "..") != 0 && out[0] != '.');
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK(out[i] >= 0x20 && out[i] <= 0x7E);
    FUZZ_CHECK(memcmp(out, name + n - len, len) == 0); /* the base name, unchanged */
    (void)cd_upload_ext_allowed(out);
}

/* A quoted-string for s, escaping '"' and '\'. */
static int put_quoted(struct cd_buf *b, const char *s, size_t n)
{
    int rc = cd_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (s[i] == '"' || s[i] == '\\')
            rc = cd_buf_append(b, "\\", 1);
        if (rc == 0)
            rc = cd_buf_append(b, s + i, 1);
    }
    return rc ? rc : cd_buf_append(b, "\"", 1);
}

/* Write the parts out as a canonical body and parse it again: it must give the same parts.
 * Skipped when a Content-Disposition line would pass CD_MPART_LINE_MAX once escaped. */
static void roundtrip(const char *boundary, size_t n)
{
    struct cd_buf b;
    size_t n2 = 0;
    cd_buf_init(&b, 1 << 24);
    for (size_t i = 0; i < n; i++) {
        const struct cd_mpart *p = &parts[i];
        size_t line;
        FUZZ_CHECK(cd_buf_printf(&b, "--%s\r\nContent-Disposition: form-data; name=", boundary) ==
                   0);
        line = b.len - strlen("Content-Disposition: form-data; name=");
        FUZZ_CHECK(put_quoted(&b, p->name, p->name_len) == 0);
        if (p->has_filename) {
            FUZZ_CHECK(cd_buf_puts(&b, "; filename=") == 0);
            FUZZ_CHECK(put_quoted(&b, p->filename, p->filename_len) == 0);
        }
        if (b.len - line > CD_MPART_LINE_MAX)
            goto out;
        if (p->content_type[0])
            FUZZ_CHECK(cd_buf_printf(&b, "\r\nContent-Type: %s", p->content_type) == 0);
        FUZZ_CHECK(cd_buf_puts(&b, "\r\n\r\n") == 0);
        FUZZ_CHECK(cd_buf_append(&b, p->data, p->len) == 0);
        FUZZ_CHECK(cd_buf_puts(&b, "\r\n") == 0);
    }
    FUZZ_CHECK(cd_buf_printf(&b, "--%s--\r\n", boundary) == 0);
    FUZZ_CHECK(cd_multipart_parse(b.data, b.len, boundary, again, MAX_PARTS, &n2) == 0);
    FUZZ_CHECK(n2 == n);
    for (size_t i = 0; i < n; i++) {
        const struct cd_mpart *p = &parts[i], *q = &again[i];
        FUZZ_CHECK(p->name_len == q->name_len && memcmp(p->name, q->name, p->name_len + 1) == 0);
        FUZZ_CHECK(p->has_filename == q->has_filename && p->filename_len == q->filename_len);
        FUZZ_CHECK(memcmp(p->filename, q->filename, p->filename_len + 1) == 0);
        FUZZ_CHECK(strcmp(p->content_type, q->content_type) == 0);
        FUZZ_CHECK(p->len == q->len && (p->len == 0 || memcmp(p->data, q->data, p->len) == 0));
    }
out:
    cd_buf_cleanup(&b);
}

static void check_parts(const char *body, size_t len, const char *boundary, size_t n)
{
    char delim[4 + CD_MPART_BOUNDARY_MAX];
    size_t dlen = 4 + strlen(boundary);
    const char *prev_end = body;
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, dlen - 4);
    FUZZ_CHECK(n <= MAX_PARTS);
    for (size_t i = 0; i < n; i++) {
        const struct cd_mpart *p = &parts[i];
        FUZZ_CHECK(p->data >= prev_end && p->data <= body + len);
        FUZZ_CHECK(p->len <= (size_t)(body + len - p->data));
        FUZZ_CHECK((size_t)(body + len - (p->data + p->len)) >= dlen);
        FUZZ_CHECK(memcmp(p->data + p->len, delim, dlen) == 0);
        FUZZ_CHECK(memmem(p->data, p->len, delim, dlen) == NULL);
        prev_end = p->data + p->len + dlen;
        check_field(p->name, p->name_len, sizeof p->name);
        check_field(p->filename, p->filename_len, sizeof p->filename);
        FUZZ_CHECK(p->has_filename || p->filename_len == 0);
        check_field(p->content_type, strlen(p->content_type), sizeof p->content_type);
        check_name_safe(p->filename, p->filename_len);
    }
}

static void check_boundary_of(const char *ct, size_t n)
{
    char out[CD_MPART_BOUNDARY_MAX + 1];
    size_t parts_n = 0;
    int rc = cd_multipart_boundary(ct, n, out, sizeof out);
    FUZZ_CHECK(rc == 0 || rc == CD_EINVAL || rc == CD_EPARSE);
    if (rc == 0) {
        FUZZ_CHECK(boundary_valid(out));
        FUZZ_CHECK(cd_multipart_parse("", 0, out, NULL, 0, &parts_n) == CD_EPARSE);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char boundary[CD_MPART_BOUNDARY_MAX + 2];
    const char *body;
    size_t k, len, n = 12345;
    int rc;
    struct cd_buf ct;

    if (size == 0)
        return 0;
    k = data[0] % (CD_MPART_BOUNDARY_MAX + 2);
    if (k > size - 1)
        k = size - 1;
    memcpy(boundary, data + 1, k);
    boundary[k] = '\0';
    body = (const char *)data + 1 + k;
    len = size - 1 - k;

    rc = cd_multipart_parse(body, len, boundary, parts, MAX_PARTS, &n);
    FUZZ_CHECK(rc == 0 || rc == CD_EINVAL || rc == CD_EPARSE || rc == CD_ELIMIT ||
               rc == CD_ETOOBIG);
    FUZZ_CHECK((rc == CD_EINVAL) == !boundary_valid(boundary));
    FUZZ_CHECK(rc == 0 || n == 0);
    if (rc == 0) {
        check_parts(body, len, boundary, n);
        roundtrip(boundary, n);
    }

    check_name_safe((const char *)data + 1, k);
    check_name_safe(body, len < 300 ? len : 300);
    check_boundary_of(body, len);
    cd_buf_init(&ct, 4096);
    if (cd_buf_puts(&ct, "multipart/form-data; boundary=") == 0 &&
        cd_buf_append(&ct, data + 1, k) == 0)
        check_boundary_of(ct.data, ct.len);
    cd_buf_cleanup(&ct);
    return 0;
}
