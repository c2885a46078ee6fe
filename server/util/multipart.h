/*
 * multipart.h: a strict multipart/form-data parser (RFC 7578 on top of RFC 2046) for uploads,
 * and the policy that turns a client's file name into a safe base name.
 *
 * The body is complete and in memory (POST /api/upload reads it whole, capped by --upload-max):
 * the parser works on {body, len} and never copies data. Each struct cd_mpart borrows a slice
 * of the body (valid as long as the body is) and owns fixed-size copies of the form field's
 * name, file name and Content-Type. Pure functions, no I/O, no allocation; thread-safe.
 *
 * Strictness, and why:
 *   - Lines end with CRLF only. A bare LF never ends a header line (it is refused there) and
 *     never starts a delimiter (in data it is data): accepting "\n--boundary" as a delimiter
 *     would cut binary files that happen to contain it.
 *   - Every "CRLF--boundary" in the body must be a real delimiter (followed by optional spaces
 *     and CRLF, or by "--" for the last one). RFC 2046 forbids the boundary inside a part, and
 *     guessing would make us disagree with other parsers about where a part ends.
 *   - The closing "--boundary--" is required: a truncated upload is refused (CD_EPARSE).
 *   - Each part needs exactly one "Content-Disposition: form-data" with a name; a repeated
 *     header or parameter is refused rather than picking the first or the last.
 *   - Quoted strings: backslash escapes only '"' and '\' (RFC 7230 quoted-pair limited to what
 *     needs it). Any other backslash is kept: browsers and curl send "a\b.txt" unescaped.
 *     Browsers and curl send '"' as %22 in names; plain parameters are NOT percent-decoded.
 *   - filename*=UTF-8''pct-encoded (RFC 8187) is decoded and preferred over filename; it must
 *     decode to valid UTF-8. Only the UTF-8 charset is accepted.
 *   - Names never contain control characters (bytes < 0x20 other than TAB, or 0x7F), so they
 *     never contain NUL: strlen(name) == name_len. Bytes >= 0x80 are kept as sent (Chrome
 *     sends raw UTF-8); cd_upload_name_safe() decides what may reach the file system.
 *   - Preamble and epilogue are ignored; other part headers (e.g. Content-Transfer-Encoding)
 *     are ignored, at most CD_MPART_HEADERS_MAX lines of CD_MPART_LINE_MAX bytes per part.
 */
#ifndef CD_UTIL_MULTIPART_H
#define CD_UTIL_MULTIPART_H

#include <stddef.h>

#define CD_MPART_BOUNDARY_MAX 70   /* RFC 2046: 1..70 characters */
#define CD_MPART_FIELD_MAX    256  /* name and filename, including the NUL */
#define CD_MPART_CTYPE_MAX    128  /* a part's Content-Type, including the NUL */
#define CD_MPART_HEADERS_MAX  8    /* header lines per part */
#define CD_MPART_LINE_MAX     1024 /* bytes per header line, CRLF not counted */
#define CD_UPLOAD_NAME_MAX    128  /* bytes of a safe base name, NUL not counted */

struct cd_mpart {
    char name[CD_MPART_FIELD_MAX]; /* form field name, NUL-terminated, may be "" */
    size_t name_len;
    char filename[CD_MPART_FIELD_MAX]; /* filename* if present, else filename; "" if neither */
    size_t filename_len;
    int has_filename;                      /* 1 if filename or filename* was given (even "") */
    char content_type[CD_MPART_CTYPE_MAX]; /* the part's Content-Type, trimmed; "" if none */
    const char *data;                      /* borrowed: points into the body, not terminated */
    size_t len;
};

/* Extract the boundary from a Content-Type header value content_type[0..n) (network bytes):
 * "multipart/form-data; boundary=X" or boundary="X", type and parameter names
 * case-insensitive, other parameters ignored. The boundary must be 1..70 characters of
 * RFC 2046's bchars (letters digits ' ( ) + _ , - . / : = ? and space), not ending in space.
 * Writes it NUL-terminated to out (outsize >= CD_MPART_BOUNDARY_MAX + 1 always suffices).
 * Returns 0; CD_EINVAL if the type is not multipart/form-data; CD_EPARSE if the boundary is
 * missing, repeated or invalid or the parameters are malformed; CD_ETOOBIG if out is too small.
 */
int cd_multipart_boundary(const char *content_type, size_t n, char *out, size_t outsize);

/* Split body[0..len) into at most max_parts parts written to parts[0..*nparts).
 * boundary is a trusted NUL-terminated string as cd_multipart_boundary() produces.
 * Returns 0; CD_EINVAL if the boundary is invalid; CD_EPARSE if the body is malformed or
 * truncated (see the rules above); CD_ELIMIT if there are more than max_parts parts, or a
 * part has more than CD_MPART_HEADERS_MAX header lines or more than 16 Content-Disposition
 * parameters; CD_ETOOBIG if a header line is over
 * CD_MPART_LINE_MAX or a name, filename or Content-Type does not fit its array.
 * On error *nparts is 0 and the content of parts[] is unspecified. Zero parts
 * ("--boundary--" alone) is not an error. */
int cd_multipart_parse(const char *body, size_t len, const char *boundary, struct cd_mpart *parts,
                       size_t max_parts, size_t *nparts);

/* Turn a client-supplied file name name[0..n) into a safe base name, or refuse it.
 * Accepted, exactly: every byte of the input is printable ASCII (0x20..0x7E), so NUL,
 * control characters, newlines, invalid UTF-8 and every non-ASCII character (including the
 * look-alike slashes U+2215, U+FF0F, U+29F8) are refused; the base name is what follows the
 * last '/' or '\'; it is 1..CD_UPLOAD_NAME_MAX bytes of letters, digits, space and . _ - ( ) +,
 * does not start with '.', '-' or space (so never "." or ".."), and does not end with '.' or
 * space. No decoding of any kind is done ("%2e%2e%2f" stays as it is and is refused for '%').
 * Non-ASCII file names are refused rather than transliterated: the client must rename.
 * Writes the base name NUL-terminated to out. Returns 0; CD_EINVAL if refused; CD_ETOOBIG if
 * the base name is longer than CD_UPLOAD_NAME_MAX or does not fit in outsize. */
int cd_upload_name_safe(const char *name, size_t n, char *out, size_t outsize);

/* 1 if the NUL-terminated name (already accepted by cd_upload_name_safe) ends in one of the
 * extensions uploads may have: .csv .json .txt .py (case-insensitive); 0 otherwise. */
int cd_upload_ext_allowed(const char *name);

#endif
