/*
 * buf.h: a growable byte buffer with a hard size cap (after curl's dynbuf).
 * Every network byte collabd keeps passes through one of these, so memory stays bounded:
 * an append that would pass the cap fails with CD_ETOOBIG and leaves the buffer unchanged.
 * The content is always NUL-terminated (the terminator is not counted in len) so that it
 * can be handed to parsers that want a C string. Not thread-safe; owned by whoever inits it.
 */
#ifndef CD_UTIL_BUF_H
#define CD_UTIL_BUF_H

#include <stddef.h>

struct cd_buf {
    char *data;   /* NULL until the first append */
    size_t len;   /* bytes used, excluding the terminator */
    size_t alloc; /* bytes allocated */
    size_t cap;   /* maximum len; appends beyond it fail */
};

/* Prepare an empty buffer that may hold at most cap bytes. Cannot fail. */
void cd_buf_init(struct cd_buf *b, size_t cap);
/* Release the storage; the buffer is empty and reusable (same cap) afterwards. */
void cd_buf_cleanup(struct cd_buf *b);
/* Forget the content, keep the allocation. */
void cd_buf_reset(struct cd_buf *b);
/* Append n bytes. Returns 0, CD_ETOOBIG past the cap, or CD_ENOMEM; on error b is unchanged. */
int cd_buf_append(struct cd_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string (trusted, not network input). */
int cd_buf_puts(struct cd_buf *b, const char *s);
/* printf-style append; same errors as cd_buf_append. */
int cd_buf_printf(struct cd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Make sure n more bytes fit without reallocating; same errors as cd_buf_append. */
int cd_buf_reserve(struct cd_buf *b, size_t n);
/* Hand the storage to the caller (who frees it with free()); the buffer becomes empty.
 * Returns NULL if nothing was ever appended; *len receives the length when len is not NULL. */
char *cd_buf_take(struct cd_buf *b, size_t *len);

#endif
