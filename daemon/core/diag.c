/*
 * diag.c - positioned error messages for config and rule-pack loaders.
 *
 * A loader fills one struct bm_diag with the first thing wrong and returns;
 * this file formats it as `file:line:col: message` and offers "did you mean"
 * suggestions for misspelt keys. It does not print anything or decide which
 * error is reported: the loaders do.
 */
#include "brandmon/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Words longer than this get no edit-distance suggestion (only a
 * case-insensitive match); a typo in a 64-byte key is not worth a table. */
#define SUGGEST_MAX_LEN 64
/* A candidate farther than this is not suggested. */
#define SUGGEST_MAX_DIST 2

int bm_diag_set(struct bm_diag *d, const char *file, unsigned line,
                unsigned col, const char *fmt, ...)
{
    va_list ap;

    if (!d)
        return -EINVAL;
    snprintf(d->file, sizeof(d->file), "%s", file ? file : "");
    d->line = line;
    d->col = col;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

void bm_diag_format(const struct bm_diag *d, char *out, size_t n)
{
    if (!out || n == 0)
        return;
    if (d->file[0] == '\0')
        snprintf(out, n, "%s", d->msg);
    else if (d->line == 0)
        snprintf(out, n, "%s: %s", d->file, d->msg);
    else if (d->col == 0)
        snprintf(out, n, "%s:%u: %s", d->file, d->line, d->msg);
    else
        snprintf(out, n, "%s:%u:%u: %s", d->file, d->line, d->col, d->msg);
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;

    return m < c ? m : c;
}

/*
 * Optimal string alignment distance (Levenshtein plus the transposition of
 * two neighbours, each substring edited once), over bytes. Both lengths are
 * at most SUGGEST_MAX_LEN.
 */
static size_t osa_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t rows[3][SUGGEST_MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *tmp;
    size_t i, j, cost;

    for (j = 0; j <= lb; j++)
        prev[j] = j;
    for (i = 1; i <= la; i++) {
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            cost = a[i - 1] == b[j - 1] ? 0 : 1;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        tmp = prev2;
        prev2 = prev;
        prev = cur;
        cur = tmp;
    }
    return prev[lb];
}

const char *bm_diag_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_dist = (size_t)-1;
    size_t lw, lc, d;

    if (!word || !candidates)
        return NULL;
    lw = strlen(word);
    for (; *candidates; candidates++) {
        const char *c = *candidates;

        lc = strlen(c);
        if (strcasecmp(word, c) == 0) {
            d = 0;
        } else {
            if (lw > SUGGEST_MAX_LEN || lc > SUGGEST_MAX_LEN)
                continue;
            if ((lw > lc ? lw - lc : lc - lw) > SUGGEST_MAX_DIST)
                continue;
            d = osa_distance(word, lw, c, lc);
            if (d > SUGGEST_MAX_DIST || d >= lw)
                continue;
        }
        /* Strictly closer only: ties go to the earlier candidate. */
        if (d < best_dist) {
            best = c;
            best_dist = d;
        }
    }
    return best;
}
