/*
 * buf.c: capped growable buffer. Invariant: len < alloc whenever data != NULL, and
 * data[len] == '\0'. Growth doubles, clamped to cap + 1 (room for the terminator).
 */
#include "buf.h"
#include "error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cd_buf_init(struct cd_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void cd_buf_cleanup(struct cd_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void cd_buf_reset(struct cd_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int cd_buf_reserve(struct cd_buf *b, size_t n)
{
    if (n > b->cap || b->len > b->cap - n)
        return CD_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->alloc)
        return CD_OK;
    size_t a = b->alloc ? b->alloc : 64;
    while (a < need)
        a = a > SIZE_MAX / 2 ? need : a * 2;
    if (a > b->cap + 1)
        a = b->cap + 1;
    char *p = realloc(b->data, a);
    if (!p)
        return CD_ENOMEM;
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->alloc = a;
    return CD_OK;
}

int cd_buf_append(struct cd_buf *b, const void *p, size_t n)
{
    int rc = cd_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return CD_OK;
}

int cd_buf_puts(struct cd_buf *b, const char *s)
{
    return cd_buf_append(b, s, strlen(s));
}

int cd_buf_printf(struct cd_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return CD_EINVAL;
    if ((size_t)n < sizeof(small))
        return cd_buf_append(b, small, (size_t)n);
    int rc = cd_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CD_OK;
}

char *cd_buf_take(struct cd_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}
