/* test_queue.c - the Redis sink's bounded FIFO (include/brandmon/queue.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "brandmon/queue.h"

/* Pushes "post-<seq>" with sequence number @seq. */
static int push_seq(struct bm_queue *q, uint64_t seq)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "post-%llu", (unsigned long long)seq);

    return bm_queue_push(q, buf, (size_t)n, seq, 1000 + seq);
}

static void assert_entry(const struct bm_queue_entry *e, uint64_t seq)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "post-%llu", (unsigned long long)seq);

    assert_non_null(e);
    assert_int_equal(e->seq, seq);
    assert_int_equal(e->len, (size_t)n);
    assert_memory_equal(e->data, buf, (size_t)n);
    assert_int_equal(e->enqueued_ms, 1000 + seq);
}

static void test_init_empty(void **state)
{
    struct bm_queue q;

    (void)state;
    assert_int_equal(bm_queue_init(&q, 4), 0);
    assert_non_null(q.ring);
    assert_int_equal(q.cap, 4);
    assert_true(bm_queue_is_empty(&q));
    assert_false(bm_queue_is_full(&q));
    assert_null(bm_queue_next_unsent(&q));
    assert_null(bm_queue_at(&q, 0));
    assert_int_equal(q.inflight, 0);
    assert_int_equal(q.bytes, 0);
    bm_queue_release(&q);
    assert_null(q.ring);
    assert_int_equal(q.n, 0);
}

static void test_push_copies(void **state)
{
    struct bm_queue q;
    char src[] = "hello";
    struct bm_queue_entry *e;

    (void)state;
    assert_int_equal(bm_queue_init(&q, 2), 0);
    assert_int_equal(bm_queue_push(&q, src, 5, 7, 42), 0);
    memcpy(src, "XXXXX", 5);
    e = bm_queue_at(&q, 0);
    assert_non_null(e);
    assert_ptr_not_equal(e->data, src);
    assert_memory_equal(e->data, "hello", 5);
    assert_int_equal(e->len, 5);
    assert_int_equal(e->seq, 7);
    assert_int_equal(e->enqueued_ms, 42);
    /* An empty write is an entry too. */
    assert_int_equal(bm_queue_push(&q, "", 0, 8, 43), 0);
    e = bm_queue_at(&q, 1);
    assert_non_null(e);
    assert_non_null(e->data);
    assert_int_equal(e->len, 0);
    assert_int_equal(e->seq, 8);
    assert_int_equal(q.bytes, 5);
    bm_queue_release(&q);
}

static void test_fifo_order(void **state)
{
    struct bm_queue q;
    uint64_t i;

    (void)state;
    assert_int_equal(bm_queue_init(&q, 8), 0);
    for (i = 1; i <= 5; i++)
        assert_int_equal(push_seq(&q, i), 0);
    assert_int_equal(q.n, 5);
    for (i = 1; i <= 5; i++)
        assert_entry(bm_queue_next_unsent(&q), i);
    assert_null(bm_queue_next_unsent(&q));
    assert_int_equal(q.inflight, 5);
    for (i = 1; i <= 5; i++) {
        assert_entry(bm_queue_at(&q, 0), i);
        bm_queue_ack(&q);
    }
    assert_true(bm_queue_is_empty(&q));
    assert_int_equal(q.inflight, 0);
    assert_int_equal(q.bytes, 0);
    bm_queue_release(&q);
}

static void test_full(void **state)
{
    struct bm_queue q;
    uint64_t i;

    (void)state;
    assert_int_equal(bm_queue_init(&q, 3), 0);
    for (i = 1; i <= 3; i++) {
        assert_false(bm_queue_is_full(&q));
        assert_int_equal(push_seq(&q, i), 0);
    }
    assert_true(bm_queue_is_full(&q));
    assert_int_equal(push_seq(&q, 4), -ENOSPC);
    assert_int_equal(q.n, 3);
    assert_int_equal(q.bytes, 3 * strlen("post-1"));
    assert_null(bm_queue_at(&q, 3));
    assert_entry(bm_queue_at(&q, 2), 3);
    /* Sending frees no room; only an acknowledgement does. */
    assert_entry(bm_queue_next_unsent(&q), 1);
    assert_int_equal(push_seq(&q, 4), -ENOSPC);
    bm_queue_ack(&q);
    assert_false(bm_queue_is_full(&q));
    assert_int_equal(push_seq(&q, 4), 0);
    assert_true(bm_queue_is_full(&q));
    assert_entry(bm_queue_at(&q, 0), 2);
    assert_entry(bm_queue_at(&q, 2), 4);
    bm_queue_release(&q);
}

static void test_max_one(void **state)
{
    struct bm_queue q;

    (void)state;
    assert_int_equal(bm_queue_init(&q, 1), 0);
    assert_int_equal(push_seq(&q, 1), 0);
    assert_true(bm_queue_is_full(&q));
    assert_int_equal(push_seq(&q, 2), -ENOSPC);
    assert_entry(bm_queue_next_unsent(&q), 1);
    bm_queue_ack(&q);
    assert_true(bm_queue_is_empty(&q));
    assert_int_equal(push_seq(&q, 2), 0);
    assert_entry(bm_queue_next_unsent(&q), 2);
    bm_queue_release(&q);
}

/* Send 3, one is acknowledged, the connection drops: the 2 others are sent
 * again first and in order, then the ones never sent. */
static void test_inflight_ack_unsend(void **state)
{
    struct bm_queue q;
    uint64_t i;

    (void)state;
    assert_int_equal(bm_queue_init(&q, 16), 0);
    for (i = 1; i <= 5; i++)
        assert_int_equal(push_seq(&q, i), 0);
    for (i = 1; i <= 3; i++)
        assert_entry(bm_queue_next_unsent(&q), i);
    assert_int_equal(q.inflight, 3);
    bm_queue_ack(&q);
    assert_int_equal(q.inflight, 2);
    assert_int_equal(q.n, 4);
    assert_entry(bm_queue_at(&q, 0), 2);

    bm_queue_unsend(&q);
    assert_int_equal(q.inflight, 0);
    assert_int_equal(q.n, 4);
    /* Pushed while disconnected: must come after the older ones. */
    assert_int_equal(push_seq(&q, 6), 0);
    for (i = 2; i <= 6; i++)
        assert_entry(bm_queue_next_unsent(&q), i);
    assert_null(bm_queue_next_unsent(&q));
    assert_int_equal(q.inflight, 5);

    /* A second drop with nothing acknowledged resends from the head. */
    bm_queue_unsend(&q);
    assert_entry(bm_queue_next_unsent(&q), 2);
    bm_queue_ack(&q);
    assert_entry(bm_queue_next_unsent(&q), 3);
    assert_int_equal(q.inflight, 1);
    bm_queue_ack(&q);
    assert_int_equal(q.inflight, 0);
    assert_entry(bm_queue_at(&q, 0), 4);
    /* Unsend with nothing in flight changes nothing. */
    bm_queue_unsend(&q);
    assert_int_equal(q.n, 3);
    assert_entry(bm_queue_next_unsent(&q), 4);
    bm_queue_release(&q);
}

/* Pushes and acknowledges past the end of the ring many times, in uneven
 * steps, checking order, `at` and the byte count all along. */
static void test_wrap_around(void **state)
{
    struct bm_queue q;
    uint64_t next_push = 1, next_ack = 1;
    size_t round, k, i, expect_bytes = 0;
    char buf[32];

    (void)state;
    assert_int_equal(bm_queue_init(&q, 7), 0);
    for (round = 0; round < 500; round++) {
        size_t pushes = 1 + round % 5, acks = 1 + (round * 3) % 4;

        for (k = 0; k < pushes && !bm_queue_is_full(&q); k++) {
            int n = snprintf(buf, sizeof(buf), "post-%llu",
                             (unsigned long long)next_push);

            assert_int_equal(push_seq(&q, next_push), 0);
            expect_bytes += (size_t)n;
            next_push++;
        }
        assert_int_equal(q.n, next_push - next_ack);
        assert_int_equal(q.bytes, expect_bytes);
        for (i = 0; i < q.n; i++)
            assert_entry(bm_queue_at(&q, i), next_ack + i);
        assert_null(bm_queue_at(&q, q.n));
        for (k = 0; k < acks && !bm_queue_is_empty(&q); k++) {
            struct bm_queue_entry *e = bm_queue_next_unsent(&q);

            assert_entry(e, next_ack);
            expect_bytes -= e->len;
            bm_queue_ack(&q);
            next_ack++;
        }
    }
    /* 7 slots, about 1500 entries: the head went around many times. */
    assert_true(next_ack > 50 * 7);
    bm_queue_release(&q);
}

/* Entries left in the queue, sent or not, are freed (ASan reports leaks). */
static void test_release_frees(void **state)
{
    struct bm_queue q;
    char big[4096];
    uint64_t i;

    (void)state;
    memset(big, 'x', sizeof(big));
    assert_int_equal(bm_queue_init(&q, 10), 0);
    for (i = 0; i < 10; i++)
        assert_int_equal(bm_queue_push(&q, big, sizeof(big), i, 0), 0);
    assert_int_equal(q.bytes, 10 * sizeof(big));
    assert_non_null(bm_queue_next_unsent(&q));
    assert_non_null(bm_queue_next_unsent(&q));
    bm_queue_ack(&q);
    assert_int_equal(push_seq(&q, 11), 0);
    bm_queue_release(&q);
    assert_null(q.ring);
    assert_int_equal(q.n, 0);
    assert_int_equal(q.bytes, 0);
    /* A released queue can be set up again. */
    assert_int_equal(bm_queue_init(&q, 2), 0);
    assert_true(bm_queue_is_empty(&q));
    bm_queue_release(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_empty),
        cmocka_unit_test(test_push_copies),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_max_one),
        cmocka_unit_test(test_inflight_ack_unsend),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_release_frees),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
