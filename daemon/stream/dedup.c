/*
 * dedup.c - a bounded set of recent ids: a ring for age, a linear-probing
 * table for lookup, with backward-shift deletion so no tombstones pile up.
 */
#include "brandmon/dedup.h"

#include <errno.h>
#include <stdlib.h>

static uint64_t id_hash(const char *id, size_t len)
{
    uint64_t h = 14695981039346656037ull;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    /* Mix the high bits down: the table index uses the low ones. */
    h ^= h >> 29;
    return h ? h : 1;
}

int bm_dedup_init(struct bm_dedup *d, size_t capacity)
{
    size_t tcap = 16;

    *d = (struct bm_dedup){ 0 };
    if (capacity == 0)
        return 0;
    while (tcap < capacity * 2)
        tcap *= 2;
    d->ring = calloc(capacity, sizeof(*d->ring));
    d->table = calloc(tcap, sizeof(*d->table));
    if (!d->ring || !d->table) {
        bm_dedup_release(d);
        return -ENOMEM;
    }
    d->cap = capacity;
    d->tcap = tcap;
    return 0;
}

void bm_dedup_release(struct bm_dedup *d)
{
    free(d->ring);
    free(d->table);
    *d = (struct bm_dedup){ 0 };
}

static size_t find(const struct bm_dedup *d, uint64_t h)
{
    size_t mask = d->tcap - 1, i = h & mask;

    while (d->table[i] && d->table[i] != h)
        i = (i + 1) & mask;
    return i;
}

/* Removes @h and shifts later entries of its cluster back into the gap. */
static void forget(struct bm_dedup *d, uint64_t h)
{
    size_t mask = d->tcap - 1, i = find(d, h), j = i;

    if (!d->table[i])
        return;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (!d->table[j])
            break;
        home = d->table[j] & mask;
        /* Move j into i when its home is not within (i, j]. */
        if ((j > i && (home <= i || home > j)) ||
            (j < i && (home <= i && home > j))) {
            d->table[i] = d->table[j];
            i = j;
        }
    }
    d->table[i] = 0;
}

bool bm_dedup_seen(struct bm_dedup *d, const char *id, size_t len)
{
    uint64_t h;
    size_t at;

    if (d->cap == 0)
        return false;
    h = id_hash(id, len);
    at = find(d, h);
    if (d->table[at])
        return true;
    if (d->n == d->cap) {
        forget(d, d->ring[d->head]);
        d->n--;
        at = find(d, h);
    }
    d->table[at] = h;
    d->ring[d->head] = h;
    d->head = (d->head + 1) % d->cap;
    d->n++;
    return false;
}
