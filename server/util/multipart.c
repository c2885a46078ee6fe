/*
 * multipart.c: multipart/form-data parsing and the upload file-name policy (see multipart.h
 * for the rules and why each is strict).
 *
 * Owns nothing beyond the caller's arrays: parts borrow slices of the body; names are copied
 * into the fixed arrays of struct cd_mpart with their lengths. Invariants: every read is
 * bounded by an explicit length (network bytes are never treated as C strings; only the
 * trusted boundary and name_safe's output are); the scan is linear in the body (each part's
 * delimiter search starts where the previous one ended; header lines are searched within
 * CD_MPART_LINE_MAX + 2 bytes). Depends only on libc and util/text, util/error; no lws.
 */
#include "multipart.h"

#include "error.h"
#include "text.h"

#include <string.h>

#define DISPOSITION_MAX_PARAMS 16

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7F;
}

/* RFC 7230 tchar. */
static int is_tchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bchars. */
static int is_bchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("'()+_,-./:=? ", c) != NULL);
}

/* RFC 8187 attr-char. */
static int is_attr_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$&+-.^_`|~", c) != NULL);
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* 1 if s[0..n) equals the lower-case literal lit, ignoring ASCII case. */
static int ieq(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n != k)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

static size_t skip_ows(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A parameter as it stands in the header: val is the raw token, or the inside of the quotes
 * with its escapes still in place (checked well-formed by next_param). */
struct param {
    const char *key, *val;
    size_t klen, vlen;
    int quoted;
};

/* Read `OWS ";" OWS token "=" (token / quoted-string)` at s[*i..n).
 * Returns 1 with *p filled and *i moved past it, 0 at the end (only OWS left), CD_EPARSE. */
static int next_param(const char *s, size_t n, size_t *i, struct param *p)
{
    size_t k = skip_ows(s, n, *i);
    if (k == n)
        return 0;
    if (s[k] != ';')
        return CD_EPARSE;
    k = skip_ows(s, n, k + 1);
    p->key = s + k;
    while (k < n && is_tchar((unsigned char)s[k]))
        k++;
    p->klen = (size_t)(s + k - p->key);
    if (!p->klen || k == n || s[k] != '=')
        return CD_EPARSE;
    k++;
    if (k < n && s[k] == '"') {
        p->quoted = 1;
        p->val = s + ++k;
        for (;;) {
            unsigned char c;
            if (k == n)
                return CD_EPARSE; /* unterminated */
            c = (unsigned char)s[k];
            if (c == '"')
                break;
            if (is_ctl(c))
                return CD_EPARSE;
            if (c == '\\' && k + 1 < n && (s[k + 1] == '"' || s[k + 1] == '\\'))
                k++;
            k++;
        }
        p->vlen = (size_t)(s + k - p->val);
        k++;
    } else {
        p->quoted = 0;
        p->val = s + k;
        while (k < n && is_tchar((unsigned char)s[k]))
            k++;
        p->vlen = (size_t)(s + k - p->val);
        if (!p->vlen)
            return CD_EPARSE;
    }
    *i = k;
    return 1;
}

/* Copy a parameter's value to out (cap bytes, NUL-terminated), undoing quoted-pairs.
 * Returns 0 or CD_ETOOBIG. */
static int param_value(const struct param *p, char *out, size_t cap, size_t *olen)
{
    size_t o = 0;
    for (size_t k = 0; k < p->vlen; k++) {
        char c = p->val[k];
        if (p->quoted && c == '\\' && k + 1 < p->vlen &&
            (p->val[k + 1] == '"' || p->val[k + 1] == '\\'))
            c = p->val[++k];
        if (o + 1 >= cap)
            return CD_ETOOBIG;
        out[o++] = c;
    }
    out[o] = '\0';
    *olen = o;
    return 0;
}

int cd_multipart_boundary(const char *content_type, size_t n, char *out, size_t outsize)
{
    static const char type[] = "multipart/form-data";
    const char *s = content_type;
    char b[CD_MPART_BOUNDARY_MAX + 1];
    size_t i, blen = 0;
    int found = 0, r, rc = CD_EINVAL;
    struct param p;

    if (outsize)
        out[0] = '\0';
    i = skip_ows(s, n, 0);
    if (n - i < sizeof type - 1 || !ieq(s + i, sizeof type - 1, type))
        goto out;
    i += sizeof type - 1;
    if (i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t')
        goto out;
    rc = CD_EPARSE;
    while ((r = next_param(s, n, &i, &p)) == 1) {
        if (!ieq(p.key, p.klen, "boundary"))
            continue;
        if (found)
            goto out; /* two boundaries: refuse rather than pick one */
        found = 1;
        if (param_value(&p, b, sizeof b, &blen))
            goto out; /* longer than 70 */
    }
    if (r < 0 || !found || blen == 0 || b[blen - 1] == ' ')
        goto out;
    for (size_t k = 0; k < blen; k++)
        if (!is_bchar((unsigned char)b[k]))
            goto out;
    rc = CD_ETOOBIG;
    if (blen + 1 > outsize)
        goto out;
    memcpy(out, b, blen + 1);
    rc = 0;
out:
    return rc;
}

/* Decode an RFC 8187 ext-value `UTF-8'lang'pct-encoded` (unquoted) into out. */
static int ext_value(const struct param *p, char *out, size_t cap, size_t *olen)
{
    const char *v = p->val;
    size_t n = p->vlen, k = 0, o = 0;
    int rc = CD_EPARSE;

    if (p->quoted)
        goto out;
    while (k < n && v[k] != '\'')
        k++;
    if (k == n || !ieq(v, k, "utf-8"))
        goto out;
    for (k++; k < n && v[k] != '\''; k++)
        if (!is_alpha((unsigned char)v[k]) && !is_digit((unsigned char)v[k]) && v[k] != '-')
            goto out;
    if (k == n)
        goto out;
    for (k++; k < n; k++) {
        unsigned char c = (unsigned char)v[k];
        if (c == '%') {
            int hi = k + 2 < n ? hexval((unsigned char)v[k + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)v[k + 2]) : -1;
            if (lo < 0)
                goto out;
            c = (unsigned char)(hi << 4 | lo);
            k += 2;
            if (is_ctl(c))
                goto out;
        } else if (!is_attr_char(c)) {
            goto out;
        }
        if (o + 1 >= cap) {
            rc = CD_ETOOBIG;
            goto out;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (!cd_utf8_valid(out, o))
        goto out;
    *olen = o;
    rc = 0;
out:
    return rc;
}

/* Content-Disposition: form-data; name="..."[; filename="..."][; filename*=UTF-8''...] */
static int disposition(const char *s, size_t n, struct cd_mpart *part)
{
    char star[CD_MPART_FIELD_MAX];
    size_t i = 0, star_len = 0, count = 0;
    int seen_name = 0, seen_file = 0, seen_star = 0, r, rc = CD_EPARSE;
    struct param p;

    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (!ieq(s, i, "form-data"))
        goto out;
    while ((r = next_param(s, n, &i, &p)) == 1) {
        int dup = 0;
        rc = 0;
        if (++count > DISPOSITION_MAX_PARAMS) {
            rc = CD_ELIMIT;
        } else if (ieq(p.key, p.klen, "name")) {
            dup = seen_name++;
            rc = param_value(&p, part->name, sizeof part->name, &part->name_len);
        } else if (ieq(p.key, p.klen, "filename")) {
            dup = seen_file++;
            rc = param_value(&p, part->filename, sizeof part->filename, &part->filename_len);
        } else if (ieq(p.key, p.klen, "filename*")) {
            dup = seen_star++;
            rc = ext_value(&p, star, sizeof star, &star_len);
        }
        if (dup)
            rc = CD_EPARSE; /* a repeated parameter: refuse rather than pick one */
        if (rc)
            goto out;
    }
    rc = CD_EPARSE;
    if (r < 0 || !seen_name)
        goto out;
    if (seen_star) {
        memcpy(part->filename, star, star_len + 1);
        part->filename_len = star_len;
    }
    part->has_filename = seen_file || seen_star;
    rc = 0;
out:
    return rc;
}

/* One header line s[0..n) (CRLF excluded) of a part. */
static int header_line(const char *s, size_t n, struct cd_mpart *part, int *seen_cd, int *seen_ct)
{
    size_t colon = 0, v, e;
    int rc = CD_EPARSE;

    for (size_t k = 0; k < n; k++)
        if (is_ctl((unsigned char)s[k]))
            goto out; /* bare CR or LF, NUL, ... */
    while (colon < n && is_tchar((unsigned char)s[colon]))
        colon++;
    if (colon == 0 || colon == n || s[colon] != ':')
        goto out; /* also refuses folded lines (leading space) and "Name :" */
    v = skip_ows(s, n, colon + 1);
    e = n;
    while (e > v && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (ieq(s, colon, "content-disposition")) {
        if ((*seen_cd)++)
            goto out;
        rc = disposition(s + v, e - v, part);
        goto out;
    }
    if (ieq(s, colon, "content-type")) {
        if ((*seen_ct)++ || e == v)
            goto out;
        rc = CD_ETOOBIG;
        if (e - v >= sizeof part->content_type)
            goto out;
        memcpy(part->content_type, s + v, e - v);
        part->content_type[e - v] = '\0';
    }
    rc = 0;
out:
    return rc;
}

/* A part p[0..n): what lies between the CRLF after a delimiter line and the next delimiter's
 * CRLF. Headers end at an empty line, or at n right after a header's CRLF (the delimiter's
 * own CRLF then closes the header block and the data is empty, as RFC 2046's grammar allows).
 */
static int parse_part(const char *p, size_t n, struct cd_mpart *part)
{
    size_t pos = 0, lines = 0;
    int seen_cd = 0, seen_ct = 0, rc;

    memset(part, 0, sizeof *part);
    for (;;) {
        size_t window = n - pos, linelen;
        const char *e;
        if (pos == n) {
            part->data = p + n;
            break;
        }
        if (window > CD_MPART_LINE_MAX + 2)
            window = CD_MPART_LINE_MAX + 2;
        e = memmem(p + pos, window, "\r\n", 2);
        if (!e) {
            rc = n - pos > CD_MPART_LINE_MAX ? CD_ETOOBIG : CD_EPARSE;
            goto out;
        }
        linelen = (size_t)(e - (p + pos));
        if (linelen == 0) {
            part->data = p + pos + 2;
            part->len = n - pos - 2;
            break;
        }
        rc = CD_ELIMIT;
        if (++lines > CD_MPART_HEADERS_MAX)
            goto out;
        rc = header_line(p + pos, linelen, part, &seen_cd, &seen_ct);
        if (rc)
            goto out;
        pos += linelen + 2;
    }
    rc = seen_cd ? 0 : CD_EPARSE;
out:
    return rc;
}

/* At s[*pos], just after a dash-boundary: "--" (close: *closed = 1, then padding and the end
 * or CRLF + epilogue) or padding + CRLF (a part follows at the new *pos). */
static int after_delimiter(const char *s, size_t n, size_t *pos, int *closed)
{
    size_t k = *pos;
    *closed = n - k >= 2 && s[k] == '-' && s[k + 1] == '-';
    if (*closed)
        k += 2;
    k = skip_ows(s, n, k);
    if (*closed && k == n)
        goto ok;
    if (n - k < 2 || s[k] != '\r' || s[k + 1] != '\n')
        return CD_EPARSE;
    k += 2;
ok:
    *pos = k;
    return 0;
}

int cd_multipart_parse(const char *body, size_t len, const char *boundary, struct cd_mpart *parts,
                       size_t max_parts, size_t *nparts)
{
    char delim[4 + CD_MPART_BOUNDARY_MAX];
    size_t blen = 0, dlen, pos, count = 0;
    const char *d;
    int closed = 0, rc = CD_EINVAL;

    while (blen <= CD_MPART_BOUNDARY_MAX && boundary[blen])
        if (!is_bchar((unsigned char)boundary[blen++]))
            goto out;
    if (blen == 0 || blen > CD_MPART_BOUNDARY_MAX || boundary[blen - 1] == ' ')
        goto out;
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    dlen = 4 + blen;

    rc = CD_EPARSE;
    /* The first dash-boundary opens the body or follows the preamble's CRLF. */
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        pos = dlen - 2;
    } else {
        d = memmem(body, len, delim, dlen);
        if (!d)
            goto out;
        pos = (size_t)(d - body) + dlen;
    }
    for (;;) {
        size_t start;
        rc = after_delimiter(body, len, &pos, &closed);
        if (rc || closed)
            goto out;
        start = pos;
        rc = CD_ELIMIT;
        if (count == max_parts)
            goto out;
        rc = CD_EPARSE;
        d = memmem(body + start, len - start, delim, dlen);
        if (!d)
            goto out; /* truncated: no closing delimiter */
        pos = (size_t)(d - body);
        rc = parse_part(body + start, pos - start, &parts[count]);
        if (rc)
            goto out;
        count++;
        pos += dlen;
    }
out:
    *nparts = rc ? 0 : count;
    return rc;
}

static int name_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr(" ._-()+", c) != NULL);
}

int cd_upload_name_safe(const char *name, size_t n, char *out, size_t outsize)
{
    size_t start = 0, blen;
    const char *b;
    int rc = CD_EINVAL;

    if (outsize)
        out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c > 0x7E)
            goto out; /* NUL, controls, DEL, every non-ASCII byte */
        if (c == '/' || c == '\\')
            start = i + 1;
    }
    b = name + start;
    blen = n - start;
    if (blen == 0)
        goto out;
    for (size_t i = 0; i < blen; i++)
        if (!name_char((unsigned char)b[i]))
            goto out;
    if (b[0] == '.' || b[0] == '-' || b[0] == ' ' || b[blen - 1] == '.' || b[blen - 1] == ' ')
        goto out;
    rc = CD_ETOOBIG;
    if (blen > CD_UPLOAD_NAME_MAX || blen + 1 > outsize)
        goto out;
    memcpy(out, b, blen);
    out[blen] = '\0';
    rc = 0;
out:
    return rc;
}

int cd_upload_ext_allowed(const char *name)
{
    static const char *const allowed[] = {"csv", "json", "txt", "py"};
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (ieq(dot + 1, strlen(dot + 1), allowed[i]))
            return 1;
    return 0;
}
