/*
 * test_backoff.c - reconnect ladders (brandmon/backoff.h).
 *
 * The ladders are walked with rnd = 2^31, whose jitter factor is 1 + about
 * 2.3e-11: the wait is the ladder value itself (asserted within 0.1 %, which
 * for these values means exactly). The numbers are those of the streams
 * README: X 1.5 (network 0 +250 ms to 16 s, HTTP 5 s doubling to 320 s, 429
 * 60 s doubling, our cap 15 min), Mastodon 2.4 (at once, then 1 s doubling
 * to 60 s), Jetstream 4.1 (250 ms doubling to 30 s). The rest checks kind
 * switches, reset, the jitter bounds, that jitter never feeds back into the
 * ladder, and the kind names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "brandmon/backoff.h"

/* Jitter factor 1 + ~2.3e-11: no visible effect on waits below 10^9 ms. */
#define RND_MID ((uint32_t)0x80000000u)

/* Asserts @got is within 0.1 % of @want (so exact below 1000 ms). */
static void assert_near(uint64_t got, uint64_t want)
{
    uint64_t tol = want / 1000;
    uint64_t diff = got > want ? got - want : want - got;

    if (diff > tol)
        fail_msg("wait %llu ms, expected %llu ms (+-%llu)",
                 (unsigned long long)got, (unsigned long long)want,
                 (unsigned long long)tol);
}

/* Walks @n waits of @kind from a fresh backoff and compares each. */
static void walk(const struct bm_backoff_policy *p, enum bm_backoff_kind kind,
                 const uint64_t *want, size_t n)
{
    struct bm_backoff b;

    bm_backoff_init(&b, p);
    for (size_t i = 0; i < n; i++) {
        uint64_t got = bm_backoff_next(&b, kind, RND_MID);

        assert_near(got, want[i]);
        assert_int_equal(b.last_ms, want[i]); /* no jitter in last_ms */
        assert_int_equal(b.tries, i + 1);
    }
}

static void test_x_network_linear(void **state)
{
    struct bm_backoff b;
    uint64_t got;

    (void)state;
    bm_backoff_init(&b, &bm_backoff_x);
    /* 0, 250, 500, ... 16000: 65 waits, the last one the cap. */
    for (uint64_t i = 0; i <= 64; i++) {
        got = bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID);
        assert_near(got, i * 250);
    }
    assert_int_equal(b.last_ms, 16000);
    /* Then it stays at 16 s. */
    for (int i = 0; i < 1000; i++) {
        got = bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID);
        assert_near(got, 16000);
    }
}

static void test_x_http_exponential(void **state)
{
    static const uint64_t want[] = { 5000,   10000,  20000,  40000,  80000,
                                     160000, 320000, 320000, 320000, 320000 };

    (void)state;
    walk(&bm_backoff_x, BM_BACKOFF_HTTP, want, sizeof(want) / sizeof(*want));
}

static void test_x_rate_limit(void **state)
{
    static const uint64_t want[] = { 60000,  120000, 240000, 480000,
                                     900000, 900000, 900000 };

    (void)state;
    walk(&bm_backoff_x, BM_BACKOFF_RATE_LIMIT, want,
         sizeof(want) / sizeof(*want));
}

static void test_mastodon(void **state)
{
    static const uint64_t want[] = { 0,     1000,  2000,  4000,  8000,
                                     16000, 32000, 60000, 60000, 60000 };

    (void)state;
    walk(&bm_backoff_mastodon, BM_BACKOFF_NETWORK, want,
         sizeof(want) / sizeof(*want));
}

static void test_jetstream(void **state)
{
    static const uint64_t want[] = { 250,  500,   1000,  2000,  4000,
                                     8000, 16000, 30000, 30000, 30000 };

    (void)state;
    walk(&bm_backoff_jetstream, BM_BACKOFF_NETWORK, want,
         sizeof(want) / sizeof(*want));
}

/* Every ladder of every policy: never decreasing, reaches its cap, stays
 * there through many tries (no overflow from doubling). */
static void test_all_ladders_capped(void **state)
{
    const struct bm_backoff_policy *const policies[] = {
        &bm_backoff_x,         &bm_backoff_mastodon, &bm_backoff_sse,
        &bm_backoff_jetstream, &bm_backoff_poll,
    };

    (void)state;
    for (size_t p = 0; p < sizeof(policies) / sizeof(*policies); p++) {
        assert_true(policies[p]->jitter >= 0.0);
        assert_true(policies[p]->jitter <= 0.5);
        for (int k = 0; k < BM_BACKOFF_KINDS; k++) {
            const struct bm_backoff_ladder *l = &policies[p]->ladder[k];
            struct bm_backoff b;
            uint64_t prev = 0;

            assert_true(l->max_ms > 0);
            bm_backoff_init(&b, policies[p]);
            for (int i = 0; i < 10000; i++) {
                uint64_t w =
                    bm_backoff_next(&b, (enum bm_backoff_kind)k, RND_MID);

                assert_true(b.last_ms >= prev);
                assert_true(b.last_ms <= l->max_ms);
                if (i == 0)
                    assert_int_equal(b.last_ms, l->first_ms);
                assert_near(w, b.last_ms);
                prev = b.last_ms;
            }
            assert_int_equal(prev, l->max_ms);
        }
    }
}

static void test_switch_kind_restarts(void **state)
{
    struct bm_backoff b;

    (void)state;
    bm_backoff_init(&b, &bm_backoff_x);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 0);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 250);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 500);
    /* HTTP starts its own ladder at its bottom. */
    assert_near(bm_backoff_next(&b, BM_BACKOFF_HTTP, RND_MID), 5000);
    assert_int_equal(b.kind, BM_BACKOFF_HTTP);
    assert_int_equal(b.tries, 1);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_HTTP, RND_MID), 10000);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_HTTP, RND_MID), 20000);
    /* Back to network: not 750, the bottom again. */
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 0);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 250);
    /* 429, then HTTP again: both from their bottoms. */
    assert_near(bm_backoff_next(&b, BM_BACKOFF_RATE_LIMIT, RND_MID), 60000);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_RATE_LIMIT, RND_MID), 120000);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_HTTP, RND_MID), 5000);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_RATE_LIMIT, RND_MID), 60000);
}

static void test_reset_restarts(void **state)
{
    struct bm_backoff b;

    (void)state;
    bm_backoff_init(&b, &bm_backoff_x);
    for (int i = 0; i < 10; i++)
        bm_backoff_next(&b, BM_BACKOFF_HTTP, RND_MID);
    assert_int_equal(b.last_ms, 320000);
    bm_backoff_reset(&b);
    assert_int_equal(b.tries, 0);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_HTTP, RND_MID), 5000);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_HTTP, RND_MID), 10000);

    /* Same kind after a reset: the bottom too. */
    for (int i = 0; i < 100; i++)
        bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID);
    assert_int_equal(b.last_ms, 16000);
    bm_backoff_reset(&b);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 0);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 250);

    /* Mastodon: at once again after a healthy stream. */
    bm_backoff_init(&b, &bm_backoff_mastodon);
    for (int i = 0; i < 5; i++)
        bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID);
    assert_int_equal(b.last_ms, 8000);
    bm_backoff_reset(&b);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 0);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_NETWORK, RND_MID), 1000);
}

/* got within 1 ms of base * factor (the wait may be truncated). */
static void assert_scaled(uint64_t got, uint64_t base, double factor)
{
    double want = (double)base * factor;

    if ((double)got < want - 1.0 || (double)got > want + 1e-6)
        fail_msg("wait %llu ms, expected %.3f ms (%llu x %.3f)",
                 (unsigned long long)got, want, (unsigned long long)base,
                 factor);
}

static void test_jitter_bounds(void **state)
{
    const struct bm_backoff_policy *const policies[] = {
        &bm_backoff_x,   &bm_backoff_mastodon, &bm_backoff_jetstream,
        &bm_backoff_sse, &bm_backoff_poll,
    };
    static const uint32_t rnds[] = { 1u,          12345u,      0x3fffffffu,
                                     0x7fffffffu, 0xc0000000u, 0xfffffffeu };

    (void)state;
    for (size_t p = 0; p < sizeof(policies) / sizeof(*policies); p++) {
        double j = policies[p]->jitter;

        for (int k = 0; k < BM_BACKOFF_KINDS; k++) {
            struct bm_backoff lo, hi, mid;

            bm_backoff_init(&lo, policies[p]);
            bm_backoff_init(&hi, policies[p]);
            bm_backoff_init(&mid, policies[p]);
            /* Three backoffs walk in step: rnd changes the wait only. */
            for (int i = 0; i < 30; i++) {
                enum bm_backoff_kind kind = (enum bm_backoff_kind)k;
                uint64_t wlo = bm_backoff_next(&lo, kind, 0);
                uint64_t whi = bm_backoff_next(&hi, kind, UINT32_MAX);
                uint64_t wmid = bm_backoff_next(&mid, kind, rnds[i % 6]);
                uint64_t base = lo.last_ms;

                assert_int_equal(hi.last_ms, base);
                assert_int_equal(mid.last_ms, base);
                if (base == 0) {
                    /* An immediate retry stays immediate. */
                    assert_int_equal(wlo, 0);
                    assert_int_equal(whi, 0);
                    assert_int_equal(wmid, 0);
                    continue;
                }
                assert_scaled(wlo, base, 1.0 - j);
                assert_scaled(whi, base, 1.0 + j);
                assert_true(wmid >= wlo);
                assert_true(wmid <= whi);
            }
        }
    }
}

static void test_jitter_examples(void **state)
{
    struct bm_backoff b;

    (void)state;
    /* X, +-10 %: 5 s becomes 4.5 s .. 5.5 s. */
    bm_backoff_init(&b, &bm_backoff_x);
    assert_scaled(bm_backoff_next(&b, BM_BACKOFF_HTTP, 0), 5000, 0.9);
    assert_scaled(bm_backoff_next(&b, BM_BACKOFF_HTTP, UINT32_MAX), 10000, 1.1);
    /* The factor is linear in rnd: a quarter of the range gives 0.95. */
    assert_scaled(bm_backoff_next(&b, BM_BACKOFF_HTTP, 0x40000000u), 20000,
                  1.0 + 0.1 * (2.0 * (double)0x40000000u / 4294967295.0 - 1.0));

    /* Mastodon, +-20 %: the first retry 0 whatever rnd, then 0.8 .. 1.2 s. */
    bm_backoff_init(&b, &bm_backoff_mastodon);
    assert_int_equal(bm_backoff_next(&b, BM_BACKOFF_NETWORK, UINT32_MAX), 0);
    assert_scaled(bm_backoff_next(&b, BM_BACKOFF_NETWORK, 0), 1000, 0.8);
    assert_scaled(bm_backoff_next(&b, BM_BACKOFF_NETWORK, UINT32_MAX), 2000,
                  1.2);
    bm_backoff_reset(&b);
    assert_int_equal(bm_backoff_next(&b, BM_BACKOFF_NETWORK, 0), 0);

    /* X network: 0 stays 0 with any rnd. */
    bm_backoff_init(&b, &bm_backoff_x);
    assert_int_equal(bm_backoff_next(&b, BM_BACKOFF_NETWORK, UINT32_MAX), 0);
    bm_backoff_reset(&b);
    assert_int_equal(bm_backoff_next(&b, BM_BACKOFF_NETWORK, 0), 0);
    bm_backoff_reset(&b);
    assert_int_equal(bm_backoff_next(&b, BM_BACKOFF_NETWORK, 0x12345678u), 0);

    /* Near the middle both ways: within 0.1 % (the wait may be truncated
     * by 1 ms when the factor is a hair below 1). */
    bm_backoff_init(&b, &bm_backoff_x);
    assert_scaled(bm_backoff_next(&b, BM_BACKOFF_HTTP, 0x7fffffffu), 5000, 1.0);
    assert_near(bm_backoff_next(&b, BM_BACKOFF_HTTP, 0x80000000u), 10000);
}

/* Jitter drawn at the top every time must not compound along the ladder. */
static void test_jitter_does_not_compound(void **state)
{
    struct bm_backoff b;
    static const uint64_t base[] = { 5000,  10000,  20000,  40000,
                                     80000, 160000, 320000, 320000 };

    (void)state;
    bm_backoff_init(&b, &bm_backoff_x);
    for (size_t i = 0; i < sizeof(base) / sizeof(*base); i++) {
        assert_scaled(bm_backoff_next(&b, BM_BACKOFF_HTTP, UINT32_MAX), base[i],
                      1.1);
        assert_int_equal(b.last_ms, base[i]);
    }
    bm_backoff_init(&b, &bm_backoff_x);
    for (uint64_t i = 0; i < 80; i++) {
        uint64_t want = i * 250 > 16000 ? 16000 : i * 250;

        assert_scaled(bm_backoff_next(&b, BM_BACKOFF_NETWORK, 0), want, 0.9);
        assert_int_equal(b.last_ms, want);
    }
}

static void test_kind_names(void **state)
{
    const char *unknown;

    (void)state;
    assert_string_equal(bm_backoff_kind_name(BM_BACKOFF_NETWORK), "network");
    assert_string_equal(bm_backoff_kind_name(BM_BACKOFF_HTTP), "http");
    assert_string_equal(bm_backoff_kind_name(BM_BACKOFF_RATE_LIMIT),
                        "rate-limit");
    /* Out of range: some string, not one of the real names. */
    unknown = bm_backoff_kind_name(BM_BACKOFF_KINDS);
    assert_non_null(unknown);
    assert_string_not_equal(unknown, "network");
    assert_string_not_equal(unknown, "http");
    assert_string_not_equal(unknown, "rate-limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x_network_linear),
        cmocka_unit_test(test_x_http_exponential),
        cmocka_unit_test(test_x_rate_limit),
        cmocka_unit_test(test_mastodon),
        cmocka_unit_test(test_jetstream),
        cmocka_unit_test(test_all_ladders_capped),
        cmocka_unit_test(test_switch_kind_restarts),
        cmocka_unit_test(test_reset_restarts),
        cmocka_unit_test(test_jitter_bounds),
        cmocka_unit_test(test_jitter_examples),
        cmocka_unit_test(test_jitter_does_not_compound),
        cmocka_unit_test(test_kind_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
