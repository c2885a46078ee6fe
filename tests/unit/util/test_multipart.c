/*
 * Unit tests for util/multipart: boundary extraction, the strict multipart/form-data parser
 * (on the exact bytes curl 7.88 and Chromium send, captured on loopback), its limits, and the
 * upload file-name policy against path-traversal attempts.
 */
#include "test.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/multipart.h"

#define LIT(s) s, sizeof(s) - 1

static struct cd_mpart parts[8];
static size_t nparts;

static int parse(const char *body, size_t len, const char *boundary, size_t max)
{
    return cd_multipart_parse(body, len, boundary, parts, max, &nparts);
}

/* 1 if part k's data is exactly s[0..n). */
static int data_is(size_t k, const char *s, size_t n)
{
    return parts[k].len == n && memcmp(parts[k].data, s, n) == 0;
}

/* Parse "--B\r\n" + headers + "\r\n\r\n" + data + "\r\n--B--\r\n" (one part), boundary "B". */
static int one_part(const char *headers, const char *data)
{
    struct cd_buf b;
    int rc;
    cd_buf_init(&b, 1 << 20);
    rc = cd_buf_printf(&b, "--B\r\n%s\r\n\r\n%s\r\n--B--\r\n", headers, data);
    if (rc == 0)
        rc = parse(b.data, b.len, "B", 8);
    cd_buf_cleanup(&b);
    return rc;
}

static void test_boundary(void)
{
    char out[CD_MPART_BOUNDARY_MAX + 1];
    char small[4];
    char seventy[] = "multipart/form-data; boundary="
                     "0123456789012345678901234567890123456789012345678901234567890123456789";

    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary=------------------------"
                                           "a28ee8af92389ddc"),
                                       out, sizeof out),
                 0);
    CD_CHECK_STR(out, "------------------------a28ee8af92389ddc");
    CD_CHECK_INT(cd_multipart_boundary(
                     LIT("multipart/form-data; boundary=----WebKitFormBoundaryGFZPGVQBPGdJT4b7"),
                     out, sizeof out),
                 0);
    CD_CHECK_STR(out, "----WebKitFormBoundaryGFZPGVQBPGdJT4b7");
    CD_CHECK_INT(
        cd_multipart_boundary(LIT("Multipart/Form-Data;BOUNDARY=\"a b:c\""), out, sizeof out), 0);
    CD_CHECK_STR(out, "a b:c");
    CD_CHECK_INT(cd_multipart_boundary(LIT(" multipart/form-data ; charset=utf-8; boundary=x "),
                                       out, sizeof out),
                 0);
    CD_CHECK_STR(out, "x");
    CD_CHECK_INT(
        cd_multipart_boundary(LIT("multipart/form-data; boundary=\"a\\\"b\""), out, sizeof out),
        CD_EPARSE); /* '"' is no bchar even escaped */
    CD_CHECK_INT(cd_multipart_boundary(seventy, sizeof seventy - 1, out, sizeof out), 0);
    CD_CHECK_INT(strlen(out), 70);
    seventy[sizeof seventy - 2] = '\0'; /* now 69: still fine */
    CD_CHECK_INT(cd_multipart_boundary(seventy, sizeof seventy - 2, out, sizeof out), 0);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary="
                                           "01234567890123456789012345678901234567890123456789"
                                           "012345678901234567890"),
                                       out, sizeof out),
                 CD_EPARSE); /* 71 */

    CD_CHECK_INT(cd_multipart_boundary(LIT("text/plain; boundary=x"), out, sizeof out), CD_EINVAL);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/mixed; boundary=x"), out, sizeof out),
                 CD_EINVAL);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-datax; boundary=x"), out, sizeof out),
                 CD_EINVAL);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form"), out, sizeof out), CD_EINVAL);
    CD_CHECK_INT(cd_multipart_boundary(LIT(""), out, sizeof out), CD_EINVAL);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data"), out, sizeof out), CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; charset=x"), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary="), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary=\"\""), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(
        cd_multipart_boundary(LIT("multipart/form-data; boundary=\"ab \""), out, sizeof out),
        CD_EPARSE); /* may not end in space */
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary=a@b"), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(
        cd_multipart_boundary(LIT("multipart/form-data; boundary=\"a@b\""), out, sizeof out),
        CD_EPARSE);
    CD_CHECK_INT(
        cd_multipart_boundary(LIT("multipart/form-data; boundary=a; boundary=a"), out, sizeof out),
        CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary=\"abc"), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary=x;"), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary = x"), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; boundary=x\0y"), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; charset=\"\x01\"; boundary=x"),
                                       out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; =x; boundary=x"), out, sizeof out),
                 CD_EPARSE);
    CD_CHECK_INT(cd_multipart_boundary(LIT("multipart/form-data; charset=\"a\\\x01\"; boundary=x"),
                                       out, sizeof out),
                 CD_EPARSE); /* a backslash does not hide a control character */
    CD_CHECK_INT(
        cd_multipart_boundary(LIT("multipart/form-data; boundary=abcd"), small, sizeof small),
        CD_ETOOBIG);
    CD_CHECK_INT(
        cd_multipart_boundary(LIT("multipart/form-data; boundary=abc"), small, sizeof small), 0);
    CD_CHECK_STR(small, "abc");
}

/* curl -F file=@x.csv -F note=hello (x.csv is "a,b\r\n1,2\n"), curl 7.88.1. */
static const char curl_body[] =
    "--------------------------a28ee8af92389ddc\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "a,b\r\n"
    "1,2\n"
    "\r\n"
    "--------------------------a28ee8af92389ddc\r\n"
    "Content-Disposition: form-data; name=\"note\"\r\n"
    "\r\n"
    "hello\r\n"
    "--------------------------a28ee8af92389ddc--\r\n";
static const char curl_boundary[] = "------------------------a28ee8af92389ddc";

static void test_curl(void)
{
    CD_CHECK_INT(parse(LIT(curl_body), curl_boundary, 8), 0);
    CD_CHECK_INT(nparts, 2);
    CD_CHECK_STR(parts[0].name, "file");
    CD_CHECK_INT(parts[0].name_len, 4);
    CD_CHECK_INT(parts[0].has_filename, 1);
    CD_CHECK_STR(parts[0].filename, "x.csv");
    CD_CHECK_INT(parts[0].filename_len, 5);
    CD_CHECK_STR(parts[0].content_type, "application/octet-stream");
    CD_CHECK(data_is(0, LIT("a,b\r\n1,2\n")));
    CD_CHECK(parts[0].data == curl_body + 149); /* a slice of the body, not a copy */
    CD_CHECK_STR(parts[1].name, "note");
    CD_CHECK_INT(parts[1].has_filename, 0);
    CD_CHECK_STR(parts[1].filename, "");
    CD_CHECK_STR(parts[1].content_type, "");
    CD_CHECK(data_is(1, LIT("hello")));
}

/* curl -F 'file=@q.txt;filename=a"b\c.txt' -F 'f2=@x.csv;filename=../../etc/p.csv;type=text/csv':
 * curl (like browsers) sends '"' as %22 and the backslash unescaped. */
static void test_curl_names(void)
{
    static const char body[] =
        "--------------------------67bfe2513abd8894\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a%22b\\c.txt\"\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "x\r\n"
        "--------------------------67bfe2513abd8894\r\n"
        "Content-Disposition: form-data; name=\"f2\"; filename=\"../../etc/p.csv\"\r\n"
        "Content-Type: text/csv\r\n"
        "\r\n"
        "a,b\r\n"
        "1,2\n"
        "\r\n"
        "--------------------------67bfe2513abd8894--\r\n";
    char safe[CD_UPLOAD_NAME_MAX + 1];
    CD_CHECK_INT(parse(LIT(body), "------------------------67bfe2513abd8894", 8), 0);
    CD_CHECK_INT(nparts, 2);
    CD_CHECK_STR(parts[0].filename, "a%22b\\c.txt");
    CD_CHECK_INT(cd_upload_name_safe(parts[0].filename, parts[0].filename_len, safe, sizeof safe),
                 0);
    CD_CHECK_STR(safe, "c.txt");
    CD_CHECK_STR(parts[1].filename, "../../etc/p.csv");
    CD_CHECK_STR(parts[1].content_type, "text/csv");
    CD_CHECK_INT(cd_upload_name_safe(parts[1].filename, parts[1].filename_len, safe, sizeof safe),
                 0);
    CD_CHECK_STR(safe, "p.csv");
}

/* Chromium 156 headless: FormData with a File named 'x "q"\bé.csv', a text field with a
 * newline, and a Blob of bytes 00 0D 0A 2D 2D 0D 0A named d.bin, posted with fetch(). */
static void test_chromium(void)
{
    static const char body[] =
        "------WebKitFormBoundaryGFZPGVQBPGdJT4b7\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"x %22q%22\\b\xc3\xa9.csv\"\r\n"
        "Content-Type: text/csv\r\n"
        "\r\n"
        "a,b\r\n"
        "1,2\n"
        "\xc3\xa9\r\n"
        "------WebKitFormBoundaryGFZPGVQBPGdJT4b7\r\n"
        "Content-Disposition: form-data; name=\"note\"\r\n"
        "\r\n"
        "line1\r\n"
        "line2\r\n"
        "------WebKitFormBoundaryGFZPGVQBPGdJT4b7\r\n"
        "Content-Disposition: form-data; name=\"bin\"; filename=\"d.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "\x00\r\n"
        "--\r\n"
        "\r\n"
        "------WebKitFormBoundaryGFZPGVQBPGdJT4b7--\r\n";
    char safe[CD_UPLOAD_NAME_MAX + 1];
    CD_CHECK_INT(parse(LIT(body), "----WebKitFormBoundaryGFZPGVQBPGdJT4b7", 8), 0);
    CD_CHECK_INT(nparts, 3);
    CD_CHECK_STR(parts[0].filename, "x %22q%22\\b\xc3\xa9.csv"); /* raw UTF-8 kept */
    CD_CHECK(data_is(0, LIT("a,b\r\n1,2\n\xc3\xa9")));
    CD_CHECK_INT(cd_upload_name_safe(parts[0].filename, parts[0].filename_len, safe, sizeof safe),
                 CD_EINVAL); /* non-ASCII: refused */
    CD_CHECK_STR(parts[1].name, "note");
    CD_CHECK(data_is(1, LIT("line1\r\nline2")));
    CD_CHECK_STR(parts[2].filename, "d.bin");
    CD_CHECK(data_is(2, LIT("\x00\r\n--\r\n")));
}

/* A truncated upload is refused at every length; only the full body, or the body without
 * the CRLF after the closing delimiter, is accepted. */
static void test_truncated(void)
{
    size_t full = sizeof curl_body - 1, bad = 0;
    for (size_t n = 0; n <= full; n++) {
        int rc = parse(curl_body, n, curl_boundary, 8);
        int want = n == full || n == full - 2 ? 0 : CD_EPARSE;
        if (rc != want) {
            fprintf(stderr, "truncated at %zu: rc %d\n", n, rc);
            bad++;
        }
        if (rc == 0)
            CD_CHECK_INT(nparts, 2);
    }
    CD_CHECK_INT(bad, 0);
    CD_CHECK_INT(
        parse(LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\nxyz\r\n--B"), "B", 8),
        CD_EPARSE);
    CD_CHECK_INT(
        parse(LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\nxyz\r\n--B-"), "B", 8),
        CD_EPARSE);
    CD_CHECK_INT(nparts, 0);
}

/* Binary data with CRLFs, NULs and near-misses of the delimiter stays data. */
static void test_binary(void)
{
    static const char data[] = "\r\n\r\n\x00\xff"
                               "\r\n--XyZ"
                               "q" /* "\r\n--XyZq" would be a false delimiter: see below */
                               "\r\n--Xy\r\n" /* prefix of the boundary */
                               "\r\n-XyZ\r\n" /* one dash */
                               "ab--XyZ\r\n"  /* boundary without the leading CRLF */
                               "\n--XyZ\r\n"  /* bare LF: not a delimiter */
                               "\r--XyZ\r\n"  /* bare CR: not a delimiter */
                               "x--XyZ--\r\n" /* closing-looking, no CRLF before */
                               "\r\n";
    struct cd_buf b;
    /* Without the "q" line: build the body from the data minus bytes 6..14. */
    char clean[sizeof data];
    size_t cn = 0;
    for (size_t i = 0; i < sizeof data - 1; i++)
        if (i < 6 || i >= 14)
            clean[cn++] = data[i];
    cd_buf_init(&b, 1 << 16);
    CD_CHECK_INT(cd_buf_puts(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; "
                                 "filename=\"b.bin\"\r\n\r\n"),
                 0);
    CD_CHECK_INT(cd_buf_append(&b, clean, cn), 0);
    CD_CHECK_INT(cd_buf_puts(&b, "\r\n--XyZ--"), 0);
    CD_CHECK_INT(parse(b.data, b.len, "XyZ", 8), 0);
    CD_CHECK_INT(nparts, 1);
    CD_CHECK(data_is(0, clean, cn));
    CD_CHECK_INT(clean[cn - 1], '\n'); /* the data's own trailing CRLF is kept */
    /* "\r\n--XyZq" inside the data looks like a delimiter followed by junk: refused. */
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_puts(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n"), 0);
    CD_CHECK_INT(cd_buf_append(&b, data, sizeof data - 1), 0);
    CD_CHECK_INT(cd_buf_puts(&b, "\r\n--XyZ--"), 0);
    CD_CHECK_INT(parse(b.data, b.len, "XyZ", 8), CD_EPARSE);
    cd_buf_cleanup(&b);
    /* Transport padding after a delimiter is allowed. */
    CD_CHECK_INT(
        parse(LIT("--B \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--B--  "), "B", 8),
        0);
    CD_CHECK(data_is(0, LIT("1")));
    /* A boundary that is a prefix of a line of data ("--Bx") with CRLF before it: refused. */
    CD_CHECK_INT(parse(LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--Bx\r\n"
                           "--B--"),
                       "B", 8),
                 CD_EPARSE);
}

static void test_preamble_epilogue(void)
{
    CD_CHECK_INT(parse(LIT("This is the preamble --B without CRLF\r\n"
                           "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                           "--B--\r\nepilogue\r\n--B\r\nContent-Disposition: x\r\n"),
                       "B", 8),
                 0);
    CD_CHECK_INT(nparts, 1);
    CD_CHECK(data_is(0, LIT("1")));
    CD_CHECK_INT(parse(LIT("--B--"), "B", 8), 0);
    CD_CHECK_INT(nparts, 0);
    CD_CHECK_INT(parse(LIT("--B--x"), "B", 8), CD_EPARSE);
    CD_CHECK_INT(
        parse(LIT("--B\n\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--B--"), "B", 8),
        CD_EPARSE); /* bare LF after the delimiter */
    CD_CHECK_INT(
        parse(LIT("--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\n--B--"), "B", 8),
        CD_EPARSE); /* bare LF before it: data, and then no delimiter */
    CD_CHECK_INT(parse(LIT("no boundary at all"), "B", 8), CD_EPARSE);
    CD_CHECK_INT(parse(LIT(""), "B", 8), CD_EPARSE);
    CD_CHECK_INT(parse(LIT("--B\r\n--B--"), "B", 8), CD_EPARSE); /* a part needs headers */
    CD_CHECK_INT(parse(LIT("--B\r\n\r\n--B--"), "B", 8), CD_EPARSE);
    /* Empty data, with and without the blank line. */
    CD_CHECK_INT(parse(LIT("--B\r\nContent-Disposition: form-data; name=e; filename=\"\"\r\n"
                           "\r\n\r\n--B--"),
                       "B", 8),
                 0);
    CD_CHECK_INT(parts[0].len, 0);
    CD_CHECK_INT(parts[0].has_filename, 1);
    CD_CHECK_STR(parts[0].filename, "");
    CD_CHECK_INT(parse(LIT("--B\r\nContent-Disposition: form-data; name=e\r\n\r\n--B--"), "B", 8),
                 0); /* the delimiter's CRLF ends the header block */
    CD_CHECK_INT(parts[0].len, 0);
    CD_CHECK_INT(parse(LIT("--B\r\nContent-Disposition: form-data; name=e\r\n--B--"), "B", 8),
                 CD_EPARSE); /* the header line itself is not terminated */
    CD_CHECK_INT(parse(LIT("--B\r\nContent-Disposition: form-data; name=e--B--"), "B", 8),
                 CD_EPARSE);
}

static void test_bad_boundary_arg(void)
{
    CD_CHECK_INT(parse(LIT("--\r\n"), "", 8), CD_EINVAL);
    CD_CHECK_INT(parse(LIT("--a@b--"), "a@b", 8), CD_EINVAL);
    CD_CHECK_INT(parse(LIT("--ab --"), "ab ", 8), CD_EINVAL);
    CD_CHECK_INT(parse(LIT("--x--"),
                       "01234567890123456789012345678901234567890123456789012345678901234567890",
                       8),
                 CD_EINVAL);
    CD_CHECK_INT(nparts, 0);
}

static void test_too_many_parts(void)
{
    static const char body[] = "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                               "--B\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
                               "--B\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n"
                               "--B--\r\n";
    CD_CHECK_INT(parse(LIT(body), "B", 3), 0);
    CD_CHECK_INT(nparts, 3);
    CD_CHECK_STR(parts[2].name, "c");
    CD_CHECK(data_is(2, LIT("3")));
    CD_CHECK_INT(parse(LIT(body), "B", 2), CD_ELIMIT);
    CD_CHECK_INT(nparts, 0);
    CD_CHECK_INT(cd_multipart_parse(LIT(body), "B", NULL, 0, &nparts), CD_ELIMIT);
}

static void test_header_limits(void)
{
    char line[CD_MPART_LINE_MAX + 2], name[CD_MPART_FIELD_MAX + 64], ct[CD_MPART_CTYPE_MAX + 32];
    const char *cd = "Content-Disposition: form-data; name=a";
    struct cd_buf b;
    int n;

    /* A header line of exactly CD_MPART_LINE_MAX bytes is fine, one more is not. */
    n = snprintf(line, sizeof line, "X-Pad: ");
    memset(line + n, 'p', sizeof line - (size_t)n);
    line[CD_MPART_LINE_MAX] = '\0';
    cd_buf_init(&b, 1 << 16);
    CD_CHECK_INT(cd_buf_printf(&b, "%s\r\n%s", cd, line), 0);
    CD_CHECK_INT(one_part(b.data, "d"), 0);
    line[CD_MPART_LINE_MAX] = 'p';
    line[CD_MPART_LINE_MAX + 1] = '\0';
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_printf(&b, "%s\r\n%s", cd, line), 0);
    CD_CHECK_INT(one_part(b.data, "d"), CD_ETOOBIG);
    /* A long header line that runs into the delimiter. */
    CD_CHECK_INT(one_part(line, ""), CD_ETOOBIG);

    /* CD_MPART_HEADERS_MAX lines are fine, one more is not. */
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_puts(&b, cd), 0);
    for (int i = 1; i < CD_MPART_HEADERS_MAX; i++)
        CD_CHECK_INT(cd_buf_printf(&b, "\r\nX-H%d: v", i), 0);
    CD_CHECK_INT(one_part(b.data, "d"), 0);
    CD_CHECK_INT(cd_buf_puts(&b, "\r\nX-Last: v"), 0);
    CD_CHECK_INT(one_part(b.data, "d"), CD_ELIMIT);

    /* name and filename: 255 bytes fit, 256 do not. */
    memset(name, 'n', sizeof name);
    name[CD_MPART_FIELD_MAX - 1] = '\0';
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_printf(&b, "Content-Disposition: form-data; name=\"%s\"", name), 0);
    CD_CHECK_INT(one_part(b.data, "d"), 0);
    CD_CHECK_INT(parts[0].name_len, CD_MPART_FIELD_MAX - 1);
    CD_CHECK_INT(strlen(parts[0].name), CD_MPART_FIELD_MAX - 1);
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_printf(&b, "Content-Disposition: form-data; name=a; filename=\"%s\"", name),
                 0);
    CD_CHECK_INT(one_part(b.data, "d"), 0);
    CD_CHECK_INT(parts[0].filename_len, CD_MPART_FIELD_MAX - 1);
    name[CD_MPART_FIELD_MAX - 1] = 'n';
    name[CD_MPART_FIELD_MAX] = '\0';
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_printf(&b, "Content-Disposition: form-data; name=\"%s\"", name), 0);
    CD_CHECK_INT(one_part(b.data, "d"), CD_ETOOBIG);
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_printf(&b, "Content-Disposition: form-data; name=a; filename=\"%s\"", name),
                 0);
    CD_CHECK_INT(one_part(b.data, "d"), CD_ETOOBIG);
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_printf(&b, "Content-Disposition: form-data; name=%s", name), 0);
    CD_CHECK_INT(one_part(b.data, "d"), CD_ETOOBIG); /* token form too */

    /* Content-Type: 127 bytes fit, 128 do not. */
    memset(ct, 't', sizeof ct);
    ct[CD_MPART_CTYPE_MAX - 1] = '\0';
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_printf(&b, "%s\r\nContent-Type: %s", cd, ct), 0);
    CD_CHECK_INT(one_part(b.data, "d"), 0);
    CD_CHECK_INT(strlen(parts[0].content_type), CD_MPART_CTYPE_MAX - 1);
    ct[CD_MPART_CTYPE_MAX - 1] = 't';
    ct[CD_MPART_CTYPE_MAX] = '\0';
    cd_buf_reset(&b);
    CD_CHECK_INT(cd_buf_printf(&b, "%s\r\nContent-Type: %s", cd, ct), 0);
    CD_CHECK_INT(one_part(b.data, "d"), CD_ETOOBIG);
    cd_buf_cleanup(&b);

    /* Too many Content-Disposition parameters. */
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a; a=1; b=2; c=3; d=4; e=5; f=6; "
                          "g=7; h=8; i=9; j=10; k=11; l=12; m=13; n=14; o=15",
                          "d"),
                 0);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a; a=1; b=2; c=3; d=4; e=5; f=6; "
                          "g=7; h=8; i=9; j=10; k=11; l=12; m=13; n=14; o=15; p=16",
                          "d"),
                 CD_ELIMIT);
}

static void test_headers_strict(void)
{
    CD_CHECK_INT(one_part("content-disposition: FORM-DATA; NAME=f;FileName=\"a.txt\"", "d"), 0);
    CD_CHECK_STR(parts[0].name, "f");
    CD_CHECK_STR(parts[0].filename, "a.txt");
    CD_CHECK_INT(one_part("Content-Disposition:form-data;name=\"\"", "d"), 0); /* empty name */
    CD_CHECK_STR(parts[0].name, "");
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\r\n"
                          "Content-Transfer-Encoding: binary\r\nContent-Type:  text/csv \t",
                          "d"),
                 0);
    CD_CHECK_STR(parts[0].content_type, "text/csv");

    CD_CHECK_INT(one_part("Content-Type: text/plain", "d"), CD_EPARSE); /* no disposition */
    CD_CHECK_INT(one_part("Content-Disposition: attachment; name=a", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; filename=a.txt", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a; name=b", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a; filename=x; filename=y", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\r\n"
                          "Content-Disposition: form-data; name=b",
                          "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\r\n"
                          "Content-Type: text/plain\r\nContent-Type: text/csv",
                          "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\r\nContent-Type:", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\nContent-Type: x", "d"),
                 CD_EPARSE); /* bare LF inside the header block */
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\rX: y", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\r\nX-Ignored: a\nb", "d"),
                 CD_EPARSE); /* even in a header that is otherwise ignored */
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\r\nX-Ignored: a\x01", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a; =x", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=\"a\\\x01\"", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data;\r\n name=a", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a\r\nNo colon here", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition : form-data; name=a", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a;", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name =a", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a b", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=\"a", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=\"a\"x", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=\"a\x01\"", "d"), CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=\"a\x7f\"", "d"), CD_EPARSE);
    /* The header block must end in an empty line (or at the delimiter). */
    CD_CHECK_INT(parse(LIT("--B\r\nContent-Disposition: form-data; name=a\r\nX: y--B--"), "B", 8),
                 CD_EPARSE);
}

static void test_quoted(void)
{
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=\"a\\\"b\\\\c\"; "
                          "filename=\"C:\\\\dir\\\\x.csv\"",
                          "d"),
                 0);
    CD_CHECK_STR(parts[0].name, "a\"b\\c");
    CD_CHECK_INT(parts[0].name_len, 5);
    CD_CHECK_STR(parts[0].filename, "C:\\dir\\x.csv");
    /* A backslash before anything else is kept (what browsers send for IE-style paths). */
    CD_CHECK_INT(
        one_part("Content-Disposition: form-data; name=a; filename=\"C:\\dir\\x.csv\"", "d"), 0);
    CD_CHECK_STR(parts[0].filename, "C:\\dir\\x.csv");
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a; filename=\"a;b=c\\\"\"", "d"),
                 0);
    CD_CHECK_STR(parts[0].filename, "a;b=c\"");
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=a; filename=\"abc\\\"", "d"),
                 CD_EPARSE); /* the closing quote is escaped */
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=\"tab\there\"", "d"), 0);
    CD_CHECK_STR(parts[0].name, "tab\there");
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=\"\xe6\x96\x87\"", "d"), 0);
    CD_CHECK_STR(parts[0].name, "\xe6\x96\x87");
}

static void test_filename_star(void)
{
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename=\"fallback.txt\"; "
                          "filename*=UTF-8''na%C3%AFve%20x.csv",
                          "d"),
                 0);
    CD_CHECK_STR(parts[0].filename, "na\xc3\xafve x.csv");
    CD_CHECK_INT(parts[0].filename_len, 12);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=utf-8'en-GB'a%2ecsv; "
                          "filename=\"fallback.txt\"",
                          "d"),
                 0); /* preferred whatever the order */
    CD_CHECK_STR(parts[0].filename, "a.csv");
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''a.py", "d"), 0);
    CD_CHECK_INT(parts[0].has_filename, 1);
    CD_CHECK_STR(parts[0].filename, "a.py");
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''", "d"), 0);
    CD_CHECK_INT(parts[0].has_filename, 1);
    CD_CHECK_STR(parts[0].filename, "");

    {
        char star[3 * CD_MPART_FIELD_MAX + 64], *q;
        int k = snprintf(star, sizeof star,
                         "Content-Disposition: form-data; name=f; "
                         "filename*=UTF-8''");
        q = star + k;
        for (int i = 0; i < CD_MPART_FIELD_MAX - 2; i++)
            *q++ = 'a';
        memcpy(q, "%41", 4); /* 255 bytes once decoded */
        CD_CHECK_INT(one_part(star, "d"), 0);
        CD_CHECK_INT(parts[0].filename_len, CD_MPART_FIELD_MAX - 1);
        CD_CHECK_INT(parts[0].filename[CD_MPART_FIELD_MAX - 2], 'A');
        memcpy(q, "a%41", 5); /* 256 */
        CD_CHECK_INT(one_part(star, "d"), CD_ETOOBIG);
    }
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''a%G1", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''a%4", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''%FF.py", "d"),
                 CD_EPARSE); /* not UTF-8 */
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''%C0%AF", "d"),
                 CD_EPARSE); /* overlong '/' */
    CD_CHECK_INT(
        one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''x.py%00.txt", "d"),
        CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''x%0A.py", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(
        one_part("Content-Disposition: form-data; name=f; filename*=ISO-8859-1''x.py", "d"),
        CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8'x.py", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=\"UTF-8''x.py\"", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''a'b", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8'e n'x", "d"),
                 CD_EPARSE);
    CD_CHECK_INT(one_part("Content-Disposition: form-data; name=f; filename*=UTF-8''a; "
                          "filename*=UTF-8''b",
                          "d"),
                 CD_EPARSE);
}

/* The whole path: a part's filename (plain or filename*) through the name policy. */
static int upload_name(const char *disposition, char *out, size_t outsize)
{
    int rc = one_part(disposition, "d");
    if (rc == 0)
        rc = cd_upload_name_safe(parts[0].filename, parts[0].filename_len, out, outsize);
    return rc;
}

static void test_names_end_to_end(void)
{
    char out[CD_UPLOAD_NAME_MAX + 1];
    CD_CHECK_INT(upload_name("Content-Disposition: form-data; name=f; "
                             "filename*=UTF-8''%2e%2e%2fx.py",
                             out, sizeof out),
                 0); /* filename* is decoded, then the directory part goes */
    CD_CHECK_STR(out, "x.py");
    CD_CHECK_INT(upload_name("Content-Disposition: form-data; name=f; filename=\"%2e%2e%2fx.py\"",
                             out, sizeof out),
                 CD_EINVAL); /* not decoded: '%' is refused */
    CD_CHECK_INT(upload_name("Content-Disposition: form-data; name=f; "
                             "filename*=UTF-8''..%E2%88%95x.py",
                             out, sizeof out),
                 CD_EINVAL); /* U+2215 */
    CD_CHECK_INT(upload_name("Content-Disposition: form-data; name=f; "
                             "filename*=UTF-8''..%5C..%5Cx.py",
                             out, sizeof out),
                 0);
    CD_CHECK_STR(out, "x.py");
    CD_CHECK_INT(
        upload_name("Content-Disposition: form-data; name=f; filename=\"..\\\\..\\\\a.py\"", out,
                    sizeof out),
        0);
    CD_CHECK_STR(out, "a.py");
    CD_CHECK_INT(
        upload_name("Content-Disposition: form-data; name=f; filename=\"..\"", out, sizeof out),
        CD_EINVAL);
}

struct nasty {
    const char *in;
    size_t n;
    int rc;
    const char *out;
};

#define NASTY(s, rc, out)                                                                          \
    {                                                                                              \
        s, sizeof(s) - 1, rc, out                                                                  \
    }

static void test_name_safe(void)
{
    static const struct nasty cases[] = {
        NASTY("x.csv", 0, "x.csv"),
        NASTY("data (1).csv", 0, "data (1).csv"),
        NASTY("my_file-v2+final.JSON", 0, "my_file-v2+final.JSON"),
        NASTY("../../etc/passwd", 0, "passwd"),
        NASTY("..\\..\\x.py", 0, "x.py"),
        NASTY("a/../../b.py", 0, "b.py"),
        NASTY("/abs/path/c.txt", 0, "c.txt"),
        NASTY("C:\\Users\\x\\data.csv", 0, "data.csv"),
        NASTY("dir/sub\\mix/e.py", 0, "e.py"),
        NASTY("%2e%2e%2fx.py", CD_EINVAL, ""),
        NASTY("x.py\0.txt", CD_EINVAL, ""),
        NASTY("\0", CD_EINVAL, ""),
        NASTY("x\n.py", CD_EINVAL, ""),
        NASTY("x.py\r\n", CD_EINVAL, ""),
        NASTY("a\n../../b.py", CD_EINVAL, ""),
        NASTY("x\t.py", CD_EINVAL, ""),
        NASTY("x\x7f.py", CD_EINVAL, ""),
        NASTY("..\xe2\x88\x95x.py", CD_EINVAL, ""), /* U+2215 DIVISION SLASH */
        NASTY("..\xef\xbc\x8fx.py", CD_EINVAL, ""), /* U+FF0F FULLWIDTH SOLIDUS */
        NASTY("..\xe2\xa7\xb8x.py", CD_EINVAL, ""), /* U+29F8 BIG SOLIDUS */
        NASTY("..\xc0\xafx.py", CD_EINVAL, ""),     /* overlong '/' */
        NASTY("\xff.py", CD_EINVAL, ""),
        NASTY("\xff/x.py", CD_EINVAL, ""), /* even in the directory part that is dropped */
        NASTY("caf\xc3\xa9/x.py", CD_EINVAL, ""),
        NASTY("a\n/x.py", CD_EINVAL, ""),
        NASTY("caf\xc3\xa9.csv", CD_EINVAL, ""),
        NASTY("\xe2\x80\xaeyp.txt", CD_EINVAL, ""), /* RLO */
        NASTY("", CD_EINVAL, ""),
        NASTY(".", CD_EINVAL, ""),
        NASTY("..", CD_EINVAL, ""),
        NASTY("...", CD_EINVAL, ""),
        NASTY("a/..", CD_EINVAL, ""),
        NASTY("a\\.", CD_EINVAL, ""),
        NASTY("a/", CD_EINVAL, ""),
        NASTY("x.py/", CD_EINVAL, ""),
        NASTY("/", CD_EINVAL, ""),
        NASTY("\\", CD_EINVAL, ""),
        NASTY(".bashrc", CD_EINVAL, ""),
        NASTY(".py", CD_EINVAL, ""),
        NASTY("a/.hidden.py", CD_EINVAL, ""),
        NASTY("-rf.py", CD_EINVAL, ""),
        NASTY(" x.py", CD_EINVAL, ""),
        NASTY("x.py ", CD_EINVAL, ""),
        NASTY("x.py.", CD_EINVAL, ""),
        NASTY("x:y.py", CD_EINVAL, ""),
        NASTY("a*b.py", CD_EINVAL, ""),
        NASTY("a?b.py", CD_EINVAL, ""),
        NASTY("a|b.py", CD_EINVAL, ""),
        NASTY("a<b>.py", CD_EINVAL, ""),
        NASTY("a\"b.py", CD_EINVAL, ""),
        NASTY("a'b.py", CD_EINVAL, ""),
        NASTY("$(rm).py", CD_EINVAL, ""),
        NASTY("~x.py", CD_EINVAL, ""),
    };
    char out[CD_UPLOAD_NAME_MAX + 1], big[CD_UPLOAD_NAME_MAX + 2], tiny[5], wide[512];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        memset(out, 'X', sizeof out);
        rc = cd_upload_name_safe(cases[i].in, cases[i].n, out, sizeof out);
        if (rc != cases[i].rc || strcmp(out, cases[i].out) != 0) {
            fprintf(stderr, "case %zu: rc %d out \"%s\"\n", i, rc, out);
            CD_CHECK(0);
        }
    }
    /* 128 bytes are fine (even after a long directory part), 129 are not. */
    memset(big, 'a', sizeof big);
    memcpy(big + CD_UPLOAD_NAME_MAX - 3, ".py", 3);
    CD_CHECK_INT(cd_upload_name_safe(big, CD_UPLOAD_NAME_MAX, out, sizeof out), 0);
    CD_CHECK_INT(strlen(out), CD_UPLOAD_NAME_MAX);
    memcpy(big + CD_UPLOAD_NAME_MAX - 2, ".py", 3);
    CD_CHECK_INT(cd_upload_name_safe(big, CD_UPLOAD_NAME_MAX + 1, out, sizeof out), CD_ETOOBIG);
    CD_CHECK_STR(out, "");
    CD_CHECK_INT(cd_upload_name_safe(big, CD_UPLOAD_NAME_MAX + 1, wide, sizeof wide), CD_ETOOBIG);
    big[0] = '/';
    CD_CHECK_INT(cd_upload_name_safe(big, CD_UPLOAD_NAME_MAX + 1, out, sizeof out), 0);
    CD_CHECK_INT(strlen(out), CD_UPLOAD_NAME_MAX);
    CD_CHECK_INT(cd_upload_name_safe(LIT("a.csv"), tiny, sizeof tiny), CD_ETOOBIG);
    CD_CHECK_INT(cd_upload_name_safe(LIT("a.py"), tiny, sizeof tiny), 0);
    CD_CHECK_STR(tiny, "a.py");
}

static void test_ext(void)
{
    CD_CHECK(cd_upload_ext_allowed("x.py"));
    CD_CHECK(cd_upload_ext_allowed("X.PY"));
    CD_CHECK(cd_upload_ext_allowed("a.Json"));
    CD_CHECK(cd_upload_ext_allowed("a b.csv"));
    CD_CHECK(cd_upload_ext_allowed("notes.v2.txt"));
    CD_CHECK(cd_upload_ext_allowed("x.exe.py"));
    CD_CHECK(!cd_upload_ext_allowed("x.py.exe"));
    CD_CHECK(!cd_upload_ext_allowed("x.pyc"));
    CD_CHECK(!cd_upload_ext_allowed("x.tx"));
    CD_CHECK(!cd_upload_ext_allowed("x.txt2"));
    CD_CHECK(!cd_upload_ext_allowed("py"));
    CD_CHECK(!cd_upload_ext_allowed("csv"));
    CD_CHECK(!cd_upload_ext_allowed("passwd"));
    CD_CHECK(!cd_upload_ext_allowed("x.sh"));
    CD_CHECK(!cd_upload_ext_allowed("x."));
    CD_CHECK(!cd_upload_ext_allowed(""));
}

int main(void)
{
    CD_RUN(test_boundary);
    CD_RUN(test_curl);
    CD_RUN(test_curl_names);
    CD_RUN(test_chromium);
    CD_RUN(test_truncated);
    CD_RUN(test_binary);
    CD_RUN(test_preamble_epilogue);
    CD_RUN(test_bad_boundary_arg);
    CD_RUN(test_too_many_parts);
    CD_RUN(test_header_limits);
    CD_RUN(test_headers_strict);
    CD_RUN(test_quoted);
    CD_RUN(test_filename_star);
    CD_RUN(test_names_end_to_end);
    CD_RUN(test_name_safe);
    CD_RUN(test_ext);
    CD_TEST_END();
}
