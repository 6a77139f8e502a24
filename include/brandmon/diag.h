/*
 * diag.h - errors a person must read and fix: a position and a message.
 *
 * Rule packs and the config report the first thing wrong with them as
 * `file:line:col: message`. Lines and columns count from 1; 0 means "the
 * whole file" and is left out when printed.
 */
#ifndef BRANDMON_DIAG_H
#define BRANDMON_DIAG_H

#include <stddef.h>

#define BM_DIAG_FILE_MAX 512
#define BM_DIAG_MSG_MAX  512

struct bm_diag {
    char file[BM_DIAG_FILE_MAX]; /* the file the error is in */
    unsigned line;               /* 1-based; 0 when unknown */
    unsigned col;                /* 1-based; 0 when unknown */
    char msg[BM_DIAG_MSG_MAX];   /* what is wrong, no trailing newline */
};

/* Fills @d (which may be NULL: then nothing happens). Always returns -EINVAL,
 * so that a loader can write `return bm_diag_set(...)`. */
int bm_diag_set(struct bm_diag *d, const char *file, unsigned line,
                unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Writes `file:line:col: msg` into @out (always NUL-terminated). */
void bm_diag_format(const struct bm_diag *d, char *out, size_t n);

/* Levenshtein-nearest of @candidates (NULL-terminated) to @word, or NULL when
 * none is within a distance that suggests a typo. */
const char *bm_diag_suggest(const char *word, const char *const *candidates);

#endif
