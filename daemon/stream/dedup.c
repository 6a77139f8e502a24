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

#define FIRST_RING  64
#define FIRST_TABLE 128

static size_t table_target(size_t cap)
{
    size_t t = 16;

    while (t < cap * 2)
        t *= 2;
    return t;
}

int bm_dedup_init(struct bm_dedup *d, size_t capacity)
{
    *d = (struct bm_dedup){ 0 };
    if (capacity == 0)
        return 0;
    d->cap = capacity;
    d->ring_alloc = capacity < FIRST_RING ? capacity : FIRST_RING;
    d->tcap = table_target(capacity);
    if (d->tcap > FIRST_TABLE)
        d->tcap = FIRST_TABLE;
    d->ring = calloc(d->ring_alloc, sizeof(*d->ring));
    d->table = calloc(d->tcap, sizeof(*d->table));
    if (!d->ring || !d->table) {
        bm_dedup_release(d);
        return -ENOMEM;
    }
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

/* Doubles the table (keeping it at most half full) and the ring (while it
 * has not wrapped yet: then head == n and its order is the array's). On
 * failure nothing changes and the set stays a little fuller. */
static void grow(struct bm_dedup *d)
{
    if (d->ring_alloc < d->cap && d->n == d->ring_alloc) {
        size_t nr = d->ring_alloc * 2 < d->cap ? d->ring_alloc * 2 : d->cap;
        uint64_t *ring = realloc(d->ring, nr * sizeof(*ring));

        if (ring) {
            d->ring = ring;
            d->ring_alloc = nr;
            d->head = d->n; /* it had wrapped to 0 when it filled */
        }
    }
    if ((d->n + 1) * 2 > d->tcap && d->tcap < table_target(d->cap)) {
        uint64_t *old = d->table, *nt = calloc(d->tcap * 2, sizeof(*nt));
        size_t ocap = d->tcap;

        if (!nt)
            return;
        d->table = nt;
        d->tcap *= 2;
        for (size_t i = 0; i < ocap; i++)
            if (old[i])
                d->table[find(d, old[i])] = old[i];
        free(old);
    }
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
    if (d->n < d->cap) {
        grow(d);
        at = find(d, h);
    }
    if (d->n == d->ring_alloc) {
        forget(d, d->ring[d->head]);
        d->n--;
        at = find(d, h);
    }
    d->table[at] = h;
    d->ring[d->head] = h;
    d->head = (d->head + 1) % d->ring_alloc;
    d->n++;
    return false;
}
