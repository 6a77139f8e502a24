/*
 * test_dedup.c - the bounded set of recent ids (brandmon/dedup.h).
 *
 * bm_dedup_seen() both asks and remembers: a miss stores the id and, when
 * the set is full, forgets the oldest stored one. The tests keep that in
 * mind: every query of an id not held counts as an arrival. The long runs
 * push a million ids through a capacity of a thousand, which deletes from
 * the open-addressing table a million times (the backward shift), and
 * compare every answer with a plain model of "the last N stored ids".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "brandmon/dedup.h"

static bool seen_str(struct bm_dedup *d, const char *s)
{
    return bm_dedup_seen(d, s, strlen(s));
}

static bool seen_num(struct bm_dedup *d, uint64_t v)
{
    char id[32];
    int n = snprintf(id, sizeof(id), "%llu", (unsigned long long)v);

    return bm_dedup_seen(d, id, (size_t)n);
}

/* The table holds exactly `n` ids and the ring's live slots are among them
 * (checked through the public struct). */
static void check_invariants(const struct bm_dedup *d)
{
    size_t used = 0;

    assert_true(d->n <= d->cap);
    if (d->cap == 0)
        return;
    /* The table grows with the ids held: always at most half full. */
    assert_true(d->tcap >= 2 * d->n);
    assert_true(d->ring_alloc >= d->n && d->ring_alloc <= d->cap);
    assert_int_equal(d->tcap & (d->tcap - 1), 0);
    for (size_t i = 0; i < d->tcap; i++)
        used += d->table[i] != 0;
    assert_int_equal(used, d->n);
}

static void test_new_then_repeat(void **state)
{
    struct bm_dedup d;

    (void)state;
    assert_int_equal(bm_dedup_init(&d, 100), 0);
    assert_false(seen_str(&d, "1790000000000000001"));
    assert_false(seen_str(&d, "1790000000000000002"));
    assert_false(seen_str(&d, "at://did:plc:abc/app.bsky.feed.post/3k"));
    assert_true(seen_str(&d, "1790000000000000001"));
    assert_true(seen_str(&d, "1790000000000000002"));
    assert_true(seen_str(&d, "1790000000000000001"));
    assert_true(seen_str(&d, "at://did:plc:abc/app.bsky.feed.post/3k"));
    /* Near misses are different ids. */
    assert_false(seen_str(&d, "179000000000000000"));
    assert_false(seen_str(&d, "17900000000000000010"));
    assert_false(seen_str(&d, "at://did:plc:abc/app.bsky.feed.post/3K"));
    /* The empty id is an id too. */
    assert_false(bm_dedup_seen(&d, "", 0));
    assert_true(bm_dedup_seen(&d, "", 0));
    assert_int_equal(d.n, 7);
    check_invariants(&d);
    bm_dedup_release(&d);
    assert_null(d.ring);
    assert_null(d.table);
}

static void test_capacity_exact(void **state)
{
    struct bm_dedup d;

    (void)state;
    assert_int_equal(bm_dedup_init(&d, 3), 0);
    assert_false(seen_str(&d, "a"));
    assert_false(seen_str(&d, "b"));
    assert_false(seen_str(&d, "c"));
    assert_true(seen_str(&d, "a")); /* full, all three held */
    assert_true(seen_str(&d, "b"));
    assert_true(seen_str(&d, "c"));
    assert_false(seen_str(&d, "d")); /* forgets a, the oldest */
    assert_true(seen_str(&d, "b"));
    assert_true(seen_str(&d, "c"));
    assert_true(seen_str(&d, "d"));
    /* A repeat does not refresh an id: b is still the oldest. */
    assert_false(seen_str(&d, "a")); /* a is new again, b goes */
    assert_true(seen_str(&d, "c"));
    assert_true(seen_str(&d, "d"));
    assert_true(seen_str(&d, "a"));
    assert_false(seen_str(&d, "b")); /* b back, c goes */
    assert_false(seen_str(&d, "c")); /* c back, d goes */
    assert_false(seen_str(&d, "d")); /* d back, a goes */
    assert_true(seen_str(&d, "b"));
    assert_true(seen_str(&d, "c"));
    assert_true(seen_str(&d, "d"));
    assert_false(seen_str(&d, "a"));
    check_invariants(&d);
    bm_dedup_release(&d);
}

/* For several capacities: N ids all held, the (N+1)th forgets the first,
 * and the rest go in ring order. */
static void test_capacity_n(void **state)
{
    static const size_t caps[] = { 1, 2, 7, 8, 9, 16, 100, 1000, 4097 };

    (void)state;
    for (size_t c = 0; c < sizeof(caps) / sizeof(*caps); c++) {
        size_t n = caps[c];
        struct bm_dedup d;

        assert_int_equal(bm_dedup_init(&d, n), 0);
        for (size_t i = 0; i < n; i++)
            assert_false(seen_num(&d, i));
        for (size_t i = 0; i < n; i++)
            assert_true(seen_num(&d, i));
        assert_int_equal(d.n, n);
        check_invariants(&d);
        /* id n pushes out id 0, id n + 1 pushes out id 1. */
        assert_false(seen_num(&d, n));
        assert_false(seen_num(&d, n + 1));
        for (size_t i = 2; i < n + 2; i++)
            assert_true(seen_num(&d, i));
        /* 0 and 1 are new again (and push out 2 and 3). */
        assert_false(seen_num(&d, 0));
        if (n >= 2) {
            assert_false(seen_num(&d, 1));
            assert_true(seen_num(&d, 0));
        }
        assert_int_equal(d.n, n);
        check_invariants(&d);
        bm_dedup_release(&d);
    }
}

static void test_capacity_zero(void **state)
{
    struct bm_dedup d;

    (void)state;
    assert_int_equal(bm_dedup_init(&d, 0), 0);
    for (int i = 0; i < 100; i++) {
        assert_false(seen_str(&d, "same"));
        assert_false(seen_num(&d, (uint64_t)i % 3));
    }
    assert_int_equal(d.n, 0);
    bm_dedup_release(&d);
    bm_dedup_release(&d); /* twice is harmless */
}

/* A million new ids through a capacity of 1000, then the window. */
static void test_long_run_sequential(void **state)
{
    const uint64_t total = 1000000, cap = 1000;
    struct bm_dedup d;

    (void)state;
    assert_int_equal(bm_dedup_init(&d, cap), 0);
    for (uint64_t i = 0; i < total; i++) {
        if (seen_num(&d, i))
            fail_msg("id %llu reported seen on first arrival",
                     (unsigned long long)i);
        /* Now and then, the one just stored and the oldest held. */
        if (i % 997 == 0) {
            assert_true(seen_num(&d, i));
            if (i >= cap - 1)
                assert_true(seen_num(&d, i + 1 - cap));
        }
    }
    assert_int_equal(d.n, cap);
    check_invariants(&d);
    /* Every one of the last 1000 is held (these hits store nothing). */
    for (uint64_t i = total - cap; i < total; i++)
        if (!seen_num(&d, i))
            fail_msg("id %llu of the last %llu not seen", (unsigned long long)i,
                     (unsigned long long)cap);
    /* Older ones are forgotten. Each miss stores the id and forgets the
     * oldest held, so after k misses ids total-cap .. total-cap+k-1 go:
     * the sample stays below total - cap and never asks twice. */
    for (uint64_t i = 0; i < 500; i++) {
        uint64_t old = (i * 1999) % (total - cap);

        if (seen_num(&d, old))
            fail_msg("old id %llu still seen", (unsigned long long)old);
    }
    /* The 500 misses pushed out the 500 oldest of the window. */
    for (uint64_t i = total - cap; i < total - cap + 500; i++)
        assert_false(seen_num(&d, i)); /* each re-stores one */
    check_invariants(&d);
    bm_dedup_release(&d);
}

/* A small xorshift so the run is the same every time. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * Random mix of fresh ids and repeats of recent and older ones, every
 * answer checked against a model: id v was stored as arrival stored_at[v];
 * it is held iff fewer than `cap` arrivals came since.
 */
static void test_long_run_model(void **state)
{
    const size_t cap = 1000, ops = 1000000;
    struct bm_dedup d;
    int64_t *stored_at;
    uint64_t fresh = 0, arrivals = 0, rng = 0x9e3779b97f4a7c15ull;
    size_t hits = 0, misses = 0;

    (void)state;
    stored_at = malloc(ops * sizeof(*stored_at));
    assert_non_null(stored_at);
    assert_int_equal(bm_dedup_init(&d, cap), 0);
    for (size_t op = 0; op < ops; op++) {
        uint64_t r = next_rand(&rng), v;
        bool want, got;

        if (fresh == 0 || r % 4 == 0) {
            v = fresh++;
            stored_at[v] = -1;
        } else {
            /* Look back up to 2x the capacity: both sides of the edge. */
            uint64_t back = (r >> 8) % (2 * cap);

            v = back < fresh ? fresh - 1 - back : 0;
        }
        /* Held iff fewer than `cap` arrivals came after v's own. */
        want = stored_at[v] >= 0 &&
               arrivals - (uint64_t)stored_at[v] - 1 < (uint64_t)cap;
        got = seen_num(&d, v);
        if (got != want)
            fail_msg("op %zu id %llu: seen %d, expected %d", op,
                     (unsigned long long)v, got, want);
        if (!got) {
            stored_at[v] = (int64_t)arrivals++;
            misses++;
        } else {
            hits++;
        }
        if (op % 100000 == 0)
            check_invariants(&d);
    }
    check_invariants(&d);
    assert_int_equal(d.n, cap);
    /* The mix really did both. */
    assert_true(hits > ops / 10);
    assert_true(misses > ops / 10);
    bm_dedup_release(&d);
    free(stored_at);
}

static void test_embedded_nul(void **state)
{
    struct bm_dedup d;

    (void)state;
    assert_int_equal(bm_dedup_init(&d, 10), 0);
    assert_false(bm_dedup_seen(&d, "a\0b", 3));
    assert_false(bm_dedup_seen(&d, "a\0c", 3)); /* differs after the NUL */
    assert_false(bm_dedup_seen(&d, "a\1b", 3)); /* NUL is not \1 */
    assert_false(bm_dedup_seen(&d, "a", 1));    /* a prefix */
    assert_false(bm_dedup_seen(&d, "a\0", 2));
    assert_false(bm_dedup_seen(&d, "\0", 1));
    assert_false(bm_dedup_seen(&d, "\0\0", 2));
    assert_false(bm_dedup_seen(&d, "", 0));
    assert_true(bm_dedup_seen(&d, "a\0b", 3));
    assert_true(bm_dedup_seen(&d, "a\0c", 3));
    assert_true(bm_dedup_seen(&d, "a\1b", 3));
    assert_true(bm_dedup_seen(&d, "a", 1));
    assert_true(bm_dedup_seen(&d, "a\0", 2));
    assert_true(bm_dedup_seen(&d, "\0", 1));
    assert_true(bm_dedup_seen(&d, "\0\0", 2));
    assert_true(bm_dedup_seen(&d, "", 0));
    /* Only @len bytes count: what follows is not part of the id. */
    assert_true(bm_dedup_seen(&d, "a\0bXYZ", 3));
    assert_true(bm_dedup_seen(&d, "aZ", 1));
    assert_int_equal(d.n, 8);
    bm_dedup_release(&d);
}

/* Memory follows the ids seen: a fresh set of capacity 10,000 starts small
 * and reaches its full size only when full. */
static void test_grows_lazily(void **state)
{
    struct bm_dedup d;

    (void)state;
    assert_int_equal(bm_dedup_init(&d, 10000), 0);
    assert_true(d.ring_alloc <= 64);
    assert_true(d.tcap <= 128);
    for (uint64_t i = 0; i < 10000; i++)
        assert_false(seen_num(&d, i));
    assert_int_equal(d.ring_alloc, 10000);
    assert_true(d.tcap >= 20000);
    check_invariants(&d);
    for (uint64_t i = 0; i < 10000; i++)
        assert_true(seen_num(&d, i));
    assert_false(seen_num(&d, 10000)); /* forgets 0 */
    assert_false(seen_num(&d, 0));
    check_invariants(&d);
    bm_dedup_release(&d);
}

static void test_long_ids(void **state)
{
    const size_t len = 1 << 20;
    struct bm_dedup d;
    char *a, *b;

    (void)state;
    a = malloc(len);
    b = malloc(len);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 'x', len);
    memcpy(b, a, len);
    b[len - 1] = 'y'; /* differs in the last byte only */
    assert_int_equal(bm_dedup_init(&d, 4), 0);
    assert_false(bm_dedup_seen(&d, a, len));
    assert_false(bm_dedup_seen(&d, b, len));
    assert_false(bm_dedup_seen(&d, a, len - 1)); /* one byte shorter */
    b[0] = 'z';
    assert_false(bm_dedup_seen(&d, b, len)); /* and in the first */
    b[0] = 'x';
    assert_true(bm_dedup_seen(&d, a, len));
    assert_true(bm_dedup_seen(&d, b, len));
    assert_true(bm_dedup_seen(&d, a, len - 1));
    /* A copy at another address is the same id. */
    memcpy(b, a, len);
    assert_true(bm_dedup_seen(&d, b, len));
    bm_dedup_release(&d);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_then_repeat),
        cmocka_unit_test(test_capacity_exact),
        cmocka_unit_test(test_capacity_n),
        cmocka_unit_test(test_capacity_zero),
        cmocka_unit_test(test_long_run_sequential),
        cmocka_unit_test(test_long_run_model),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_long_ids),
        cmocka_unit_test(test_grows_lazily),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
