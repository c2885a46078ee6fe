/*
 * text.h: small checks and transformations of UTF-8 text received from the network.
 * Pure functions; thread-safe.
 */
#ifndef CD_UTIL_TEXT_H
#define CD_UTIL_TEXT_H

#include <stddef.h>

/* 1 if s[0..n) is well-formed UTF-8 (no surrogates, no overlongs, <= U+10FFFF). */
int cd_utf8_valid(const char *s, size_t n);
/* Length in bytes of the longest prefix of the valid UTF-8 s[0..n) that is at most max_bytes
 * long and does not cut a character. */
size_t cd_utf8_prefix(const char *s, size_t n, size_t max_bytes);
/* Make a display name from untrusted UTF-8: drops control characters and markup (< > & " ' `),
 * collapses runs of white space, trims, keeps at most max_chars characters, writes a
 * NUL-terminated result into out (outsize bytes). Returns the byte length written; 0 if
 * nothing printable remains or the input is not valid UTF-8. */
size_t cd_sanitize_name(const char *s, size_t n, size_t max_chars, char *out, size_t outsize);
/* Repair untrusted bytes into well-formed UTF-8 (program output): each malformed sequence
 * becomes U+FFFD. out must hold 3 * n bytes. A sequence cut by the end of the input is not
 * replaced but left out: *tail receives its length (0..3) so the caller can prepend those
 * bytes to the next piece. Returns the bytes written to out. */
size_t cd_utf8_repair(const char *s, size_t n, char *out, size_t *tail);
/* 1 if s[0..n) is 1..max bytes of [A-Za-z0-9_.-]. */
int cd_token_valid(const char *s, size_t n, size_t max);

#endif
