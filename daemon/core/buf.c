/*
 * buf.c - a growable, NUL-terminated byte buffer.
 *
 * The buffer grows by doubling (at least 64 bytes) and never shrinks until
 * bm_buf_release(); bm_buf_reset() keeps the storage so a buffer reused per
 * message stops allocating once it has seen the largest message. It knows
 * nothing about encodings: bytes in, bytes out. It does not cap its own size;
 * callers that read untrusted input bound what they append.
 */
#include "brandmon/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64

void bm_buf_init(struct bm_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void bm_buf_release(struct bm_buf *b)
{
    free(b->data);
    bm_buf_init(b);
}

void bm_buf_reset(struct bm_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int bm_buf_reserve(struct bm_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    /* len + extra + 1 must not overflow. */
    if (extra > SIZE_MAX - 1 - b->len)
        return -ENOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;
}

int bm_buf_append(struct bm_buf *b, const void *p, size_t n)
{
    int rc = bm_buf_reserve(b, n);

    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int bm_buf_puts(struct bm_buf *b, const char *s)
{
    return bm_buf_append(b, s, strlen(s));
}

int bm_buf_putc(struct bm_buf *b, char c)
{
    return bm_buf_append(b, &c, 1);
}

int bm_buf_vprintf(struct bm_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    size_t room;
    int n, rc;

    /* Make sure data is not NULL so that the first try can write. */
    rc = bm_buf_reserve(b, 0);
    if (rc < 0)
        return rc;
    room = b->cap - b->len;
    va_copy(ap2, ap);
    n = vsnprintf(b->data + b->len, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->data[b->len] = '\0';
        return -EINVAL;
    }
    if ((size_t)n >= room) {
        rc = bm_buf_reserve(b, (size_t)n);
        if (rc < 0) {
            b->data[b->len] = '\0';
            return rc;
        }
        va_copy(ap2, ap);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
        va_end(ap2);
        if (n < 0) {
            b->data[b->len] = '\0';
            return -EINVAL;
        }
    }
    b->len += (size_t)n;
    return 0;
}

int bm_buf_printf(struct bm_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = bm_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *bm_buf_detach(struct bm_buf *b)
{
    char *p = b->data;

    if (!p)
        return strdup("");
    bm_buf_init(b);
    return p;
}
