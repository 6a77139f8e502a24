/*
 * queue.c - the Redis sink's bounded FIFO of pending writes.
 *
 * A fixed ring of `cap` entries allocated once at init: pushing copies the
 * caller's bytes into a fresh allocation, acknowledging frees the oldest
 * entry. The first `inflight` entries from the head were handed to Redis and
 * wait for a reply; bm_queue_unsend() makes them unsent again after a
 * reconnect, so they are sent again first and in order. Entries never move
 * inside the ring, so a pointer from bm_queue_next_unsent() or bm_queue_at()
 * stays valid until that entry is acknowledged or the queue released. The
 * queue neither talks to Redis nor spills to disk: the sink does both.
 */
#include "brandmon/queue.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t slot(const struct bm_queue *q, size_t i)
{
    return (q->head + i) % q->cap;
}

int bm_queue_init(struct bm_queue *q, size_t max)
{
    assert(max >= 1);
    memset(q, 0, sizeof(*q));
    q->ring = calloc(max, sizeof(*q->ring));
    if (!q->ring)
        return -ENOMEM;
    q->cap = max;
    return 0;
}

void bm_queue_release(struct bm_queue *q)
{
    size_t i;

    if (q->ring) {
        for (i = 0; i < q->n; i++)
            free(q->ring[slot(q, i)].data);
        free(q->ring);
    }
    memset(q, 0, sizeof(*q));
}

bool bm_queue_is_full(const struct bm_queue *q)
{
    return q->n >= q->cap;
}

bool bm_queue_is_empty(const struct bm_queue *q)
{
    return q->n == 0;
}

int bm_queue_push(struct bm_queue *q, const void *data, size_t len,
                  uint64_t seq, uint64_t now_ms)
{
    struct bm_queue_entry *e;
    char *copy;

    if (bm_queue_is_full(q))
        return -ENOSPC;
    /* malloc(0) may return NULL; an empty write still needs a pointer. */
    copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    e = &q->ring[slot(q, q->n)];
    e->data = copy;
    e->len = len;
    e->seq = seq;
    e->enqueued_ms = now_ms;
    q->n++;
    q->bytes += len;
    return 0;
}

struct bm_queue_entry *bm_queue_next_unsent(struct bm_queue *q)
{
    struct bm_queue_entry *e;

    if (q->inflight >= q->n)
        return NULL;
    e = &q->ring[slot(q, q->inflight)];
    q->inflight++;
    return e;
}

void bm_queue_ack(struct bm_queue *q)
{
    struct bm_queue_entry *e;

    assert(q->n > 0 && q->inflight > 0);
    e = &q->ring[q->head];
    q->bytes -= e->len;
    free(e->data);
    memset(e, 0, sizeof(*e));
    q->head = slot(q, 1);
    q->n--;
    q->inflight--;
}

void bm_queue_unsend(struct bm_queue *q)
{
    q->inflight = 0;
}

struct bm_queue_entry *bm_queue_at(struct bm_queue *q, size_t i)
{
    if (i >= q->n)
        return NULL;
    return &q->ring[slot(q, i)];
}
