/*
 * buf.h - a growable byte buffer.
 *
 * Invariants: after bm_buf_init() `data` may be NULL while `len` and `cap` are
 * 0; once anything was appended, `data` is NUL-terminated at `len` (the NUL is
 * not counted). Not thread safe; everything runs on the loop thread.
 */
#ifndef BRANDMON_BUF_H
#define BRANDMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct bm_buf {
    char *data; /* owned; NUL-terminated at len once non-empty */
    size_t len; /* bytes in use, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
};

#define BM_BUF_INIT                                                            \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

void bm_buf_init(struct bm_buf *b);
/* Frees the storage; the buffer is left as after bm_buf_init(). */
void bm_buf_release(struct bm_buf *b);
/* Empties the buffer and keeps the storage for reuse. */
void bm_buf_reset(struct bm_buf *b);

/* Makes room for @extra more bytes (plus the NUL). 0 or -ENOMEM; on failure
 * the buffer is unchanged. */
int bm_buf_reserve(struct bm_buf *b, size_t extra);
int bm_buf_append(struct bm_buf *b, const void *p, size_t n);
int bm_buf_puts(struct bm_buf *b, const char *s);
int bm_buf_putc(struct bm_buf *b, char c);
int bm_buf_printf(struct bm_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int bm_buf_vprintf(struct bm_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Gives the storage to the caller, who frees it with free(); the buffer is
 * left empty. Returns "" duplicated when nothing was appended; NULL only on
 * allocation failure. */
char *bm_buf_detach(struct bm_buf *b);

#endif
