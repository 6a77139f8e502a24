/*
 * dedup.h - the ids a source saw last, to drop the repeats a resume or a
 * backfill replays.
 *
 * Bounded memory: it remembers the last `capacity` ids (a ring), as 64-bit
 * hashes in an open-addressing set; the oldest is forgotten when a new one
 * comes. Memory grows with the ids actually seen, up to the capacity, so a
 * thousand quiet sources cost little. Two different ids collide with
 * probability about n / 2^64.
 */
#ifndef BRANDMON_DEDUP_H
#define BRANDMON_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bm_dedup {
    uint64_t *ring;    /* owned: ids in arrival order */
    uint64_t *table;   /* owned: the set; 0 = empty slot */
    size_t cap;        /* ids remembered */
    size_t ring_alloc; /* ring slots allocated (grows to cap) */
    size_t tcap;       /* table slots, a power of two (grows to >= 2 cap) */
    size_t head;       /* next ring slot */
    size_t n;          /* ids held */
};

/* 0, or -ENOMEM. A capacity of 0 remembers nothing (every id is new). */
int bm_dedup_init(struct bm_dedup *d, size_t capacity);
void bm_dedup_release(struct bm_dedup *d);

/* True when @id (of @len bytes) was seen among the last `capacity` ids;
 * otherwise remembers it and returns false. */
bool bm_dedup_seen(struct bm_dedup *d, const char *id, size_t len);

#endif
