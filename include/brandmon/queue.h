/*
 * queue.h - the Redis sink's bounded FIFO of pending writes.
 *
 * Each entry is one post's write (an opaque byte string: the script's
 * argument) with a sequence number. Entries leave the queue only when Redis
 * acknowledged them, in order; those sent but not yet acknowledged stay at
 * the head and are sent again after a reconnect (the write is idempotent).
 *
 *   [ head ... in flight ... | ... not sent yet ... tail ]
 *
 * The queue holds at most `max` entries; the sink spills beyond that to the
 * spool (spool.h). Not thread safe; the loop thread only.
 */
#ifndef BRANDMON_QUEUE_H
#define BRANDMON_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bm_queue_entry {
    char *data; /* owned */
    size_t len;
    uint64_t seq;
    uint64_t enqueued_ms; /* monotonic, for latency */
};

struct bm_queue {
    struct bm_queue_entry *ring; /* owned: cap entries */
    size_t cap;                  /* == max */
    size_t head;                 /* index of the oldest entry */
    size_t n;                    /* entries held */
    size_t inflight;             /* entries from the head that were sent */
    uint64_t bytes;              /* payload bytes held */
};

/* 0 or -ENOMEM. @max >= 1. */
int bm_queue_init(struct bm_queue *q, size_t max);
/* Frees every entry's data and the ring. */
void bm_queue_release(struct bm_queue *q);

bool bm_queue_is_full(const struct bm_queue *q);
bool bm_queue_is_empty(const struct bm_queue *q);

/* Appends a copy of @len bytes. 0, -ENOSPC when full, -ENOMEM. */
int bm_queue_push(struct bm_queue *q, const void *data, size_t len,
                  uint64_t seq, uint64_t now_ms);

/* The next entry not sent yet (NULL: none), and marks it in flight. */
struct bm_queue_entry *bm_queue_next_unsent(struct bm_queue *q);

/* The oldest entry was acknowledged: frees it. Must be in flight. */
void bm_queue_ack(struct bm_queue *q);

/* The connection dropped: every in-flight entry is unsent again. */
void bm_queue_unsend(struct bm_queue *q);

/* The entry @i places from the head (0 = oldest), or NULL. */
struct bm_queue_entry *bm_queue_at(struct bm_queue *q, size_t i);

#endif
