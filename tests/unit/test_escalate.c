/*
 * test_escalate.c - escalations evaluated in post time (brandmon/escalate.h)
 * on posts decided by the engine against the packs in tests/data/escalate/,
 * with the small lexicon and intents in tests/data/escalate/base/.
 *
 * Covers: a burst after a quiet baseline fires once, with its count,
 * baseline and samples, and the decision JSON carries it; the cooldown
 * keeps it quiet and it fires again once the cooldown is over; a high
 * baseline blocks a burst under ratio_to_baseline until the burst beats
 * it; matches of another kind or brand do not count, and a post firing two
 * rules counts once; minute buckets at their boundaries, a window rounded
 * up to whole minutes, posts without a time; the ring reused over days
 * without growing, jumps of a whole ring and more, and late posts.
 */
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "brandmon/buf.h"
#include "brandmon/diag.h"
#include "brandmon/engine.h"
#include "brandmon/escalate.h"
#include "brandmon/pack.h"
#include "brandmon/post.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

#define ESC_DATA BM_TEST_DATA "/escalate"
#define BASE_DIR ESC_DATA "/base"

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
/* 2025-03-14T12:00:00Z */
#define T0 1741953600000LL
/* What the tests pass as the wall clock: far from every post time. */
#define WALL (T0 + 400 * DAY)

/* A pack, an engine and an escalator over it, per test. */
struct fixture {
    struct bm_ruleset *rs;    /* owned */
    struct bm_engine *e;      /* owned */
    struct bm_escalator *esc; /* owned */
    struct bm_post post;      /* the post of the last decision */
    char id[64];              /* its id */
    struct bm_decision d;     /* the last decision */
};

static int setup_pack(void **state, const char *name)
{
    char path[1024], msg[2048];
    const char *paths[1] = { path };
    struct bm_diag diag = { .line = 0 };
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(path, sizeof(path), "%s/%s", ESC_DATA, name);
    f->rs = bm_ruleset_load(paths, 1, BASE_DIR, &diag);
    if (!f->rs) {
        bm_diag_format(&diag, msg, sizeof(msg));
        print_error("%s\n", msg);
        free(f);
        return -1;
    }
    f->e = bm_engine_new(f->rs);
    f->esc = bm_escalator_new(f->rs);
    if (!f->e || !f->esc) {
        bm_escalator_free(f->esc);
        bm_engine_free(f->e);
        bm_ruleset_free(f->rs);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup_crisis(void **state)
{
    return setup_pack(state, "crisis.yaml");
}

static int setup_ratio(void **state)
{
    return setup_pack(state, "ratio.yaml");
}

static int setup_minute(void **state)
{
    return setup_pack(state, "minute.yaml");
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    bm_escalator_free(f->esc);
    bm_engine_free(f->e);
    bm_ruleset_free(f->rs);
    free(f);
    return 0;
}

/* A fresh escalator over the same rule set: everything forgotten. */
static void restart(struct fixture *f)
{
    bm_escalator_free(f->esc);
    f->esc = bm_escalator_new(f->rs);
    assert_non_null(f->esc);
}

/* Decides the post @id with @text made at @ms (0: no time) and feeds it
 * to the escalator; returns the decision. */
static const struct bm_decision *feed(struct fixture *f, const char *id,
                                      const char *text, int64_t ms)
{
    snprintf(f->id, sizeof(f->id), "%s", id);
    bm_post_init(&f->post);
    f->post.id = f->id;
    f->post.text = text;
    f->post.text_len = strlen(text);
    f->post.created_ms = ms;
    f->post.source = "test";
    assert_int_equal(bm_engine_decide(f->e, &f->post, &f->d), 0);
    assert_null(f->d.escalations);
    assert_int_equal(f->d.nescalations, 0);
    assert_int_equal(bm_escalator_feed(f->esc, &f->d, WALL), 0);
    return &f->d;
}

/* Feeds a post and checks that no escalation fires on it. */
static void feed_quiet(struct fixture *f, const char *id, const char *text,
                       int64_t ms)
{
    const struct bm_decision *d = feed(f, id, text, ms);

    if (d->nescalations != 0)
        fail_msg("post %s (%s, t=%lld) fired %s with count %u", id, text,
                 (long long)ms, d->escalations[0].id, d->escalations[0].count);
    assert_null(d->escalations);
}

/* Checks that @d fired exactly escalation @id with @count and @baseline,
 * and the samples named in @samples (comma separated, newest first). */
static void expect_fired(const struct bm_decision *d, const char *id,
                         uint32_t count, double baseline, const char *samples)
{
    const struct bm_decision_escalation *x;
    char got[512] = "";

    if (d->nescalations != 1)
        fail_msg("post %s fired %zu escalations, expected 1 (%s)", d->post->id,
                 d->nescalations, id);
    x = &d->escalations[0];
    assert_string_equal(x->id, id);
    assert_int_equal(x->count, count);
    assert_true(fabs(x->baseline - baseline) < 1e-9);
    for (size_t i = 0; i < x->nsamples; i++) {
        size_t len = strlen(got);

        snprintf(got + len, sizeof(got) - len, "%s%s", i ? "," : "",
                 x->samples[i]);
    }
    assert_string_equal(got, samples);
}

static void idf(char *buf, size_t n, const char *prefix, int i)
{
    snprintf(buf, n, "%s%d", prefix, i);
}

/* Two quiet posts in the hour before T0, then 20 at 30 s intervals from
 * T0: b0 .. b19 in minutes T0 .. T0+9. The 20th fires. */
static void quiet_then_burst(struct fixture *f)
{
    char id[32];

    feed_quiet(f, "q1", "acme is broken", T0 - 50 * MIN);
    feed_quiet(f, "q2", "acme is broken", T0 - 20 * MIN);
    for (int i = 0; i < 19; i++) {
        idf(id, sizeof(id), "b", i);
        feed_quiet(f, id, "my acme printer is broken again", T0 + i * 30 * SEC);
    }
}

/* ---- a burst ---- */

static void test_burst_fires_once(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    const struct bm_decision_escalation *x;
    struct bm_buf out = BM_BUF_INIT;
    json_error_t jerr;
    json_t *j, *esc, *samples;

    quiet_then_burst(f);
    d = feed(f, "b19", "acme broken again", T0 + 19 * 30 * SEC);
    /* 20 in [T0, T0+9]; 2 in the hour before: 2 per 10 minutes / 6 */
    expect_fired(d, "esc.acme.crisis", 20, 0.33, "b19,b18,b17,b16,b15");
    x = &d->escalations[0];
    assert_string_equal(x->brand, "acme");
    assert_int_equal(x->priority, BM_PRIO_HIGH);

    /* the decision JSON carries it */
    assert_int_equal(bm_decision_write_json(d, &out), 0);
    j = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        fail_msg("not JSON (%s): %s", jerr.text, out.data);
    esc = json_object_get(j, "escalations");
    assert_int_equal(json_array_size(esc), 1);
    esc = json_array_get(esc, 0);
    assert_string_equal(json_string_value(json_object_get(esc, "id")),
                        "esc.acme.crisis");
    assert_string_equal(json_string_value(json_object_get(esc, "brand")),
                        "acme");
    assert_string_equal(json_string_value(json_object_get(esc, "priority")),
                        "high");
    assert_int_equal(json_integer_value(json_object_get(esc, "count")), 20);
    assert_true(fabs(json_number_value(json_object_get(esc, "baseline")) -
                     0.33) < 1e-9);
    samples = json_object_get(esc, "samples");
    assert_int_equal(json_array_size(samples), 5);
    assert_string_equal(json_string_value(json_array_get(samples, 0)), "b19");
    assert_string_equal(json_string_value(json_array_get(samples, 4)), "b15");
    assert_int_equal(json_object_size(esc), 6);
    json_decref(j);

    /* the next post of the burst does not fire again */
    feed_quiet(f, "b20", "acme broken", T0 + 20 * 30 * SEC);
    /* and a decision without escalations writes an empty list */
    bm_buf_reset(&out);
    assert_int_equal(bm_decision_write_json(&f->d, &out), 0);
    assert_non_null(strstr(out.data, ",\"escalations\":[]}"));
    bm_buf_release(&out);
}

static void test_cooldown(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char id[32];

    quiet_then_burst(f);
    d = feed(f, "b19", "acme broken", T0 + 19 * 30 * SEC);
    expect_fired(d, "esc.acme.crisis", 20, 0.33, "b19,b18,b17,b16,b15");
    /* The burst goes on at 2 a minute, 20 per window, for the 30 minutes
     * of the cooldown: quiet, though the window holds 20 all along. */
    for (int i = 20; i < 79; i++) {
        idf(id, sizeof(id), "b", i);
        feed_quiet(f, id, "acme broken", T0 + i * 30 * SEC);
    }
    /* b79 is exactly 30 minutes after b19: the cooldown is over. Window
     * [T0+30, T0+39] holds 20; the hour before it holds q2 and 60 of the
     * burst: 61 / 6 = 10.17. */
    d = feed(f, "b79", "acme broken", T0 + 79 * 30 * SEC);
    expect_fired(d, "esc.acme.crisis", 20, 10.17, "b79,b78,b77,b76,b75");
    feed_quiet(f, "b80", "acme broken", T0 + 80 * 30 * SEC);
}

/* ---- ratio_to_baseline ---- */

static void test_ratio_blocks_burst(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char id[32];
    int i;

    /* Against a quiet baseline, 15 in a window is enough. */
    for (i = 0; i < 14; i++) {
        idf(id, sizeof(id), "a", i);
        feed_quiet(f, id, "acme broken", T0 + i * 30 * SEC);
    }
    d = feed(f, "a14", "acme broken", T0 + 14 * 30 * SEC);
    expect_fired(d, "esc.acme.surge", 15, 0, "a14,a13,a12,a11,a10");
    assert_int_equal(d->escalations[0].priority, BM_PRIO_CRITICAL);

    /* An hour of one a minute (10 a window, under count_at_least), then
     * the same burst: the baseline is 8.5 to 10 a window, so 3 times it is
     * more than the burst's 20. */
    restart(f);
    for (i = 60; i > 0; i--) {
        idf(id, sizeof(id), "h", i);
        feed_quiet(f, id, "acme broken", T0 - i * MIN + 5 * SEC);
    }
    for (i = 0; i < 20; i++) {
        idf(id, sizeof(id), "b", i);
        feed_quiet(f, id, "acme broken", T0 + i * 30 * SEC);
    }
    /* In minute T0+9 the baseline is the whole hour, 60 / 6 = 10: the
     * 30th post of the window fires. */
    for (i = 0; i < 9; i++) {
        idf(id, sizeof(id), "x", i);
        feed_quiet(f, id, "acme broken", T0 + 9 * MIN + 40 * SEC + i * SEC);
    }
    d = feed(f, "x9", "acme broken", T0 + 9 * MIN + 49 * SEC);
    expect_fired(d, "esc.acme.surge", 30, 10, "x9,x8,x7,x6,x5");
}

/* ---- what counts ---- */

static void test_other_kind_and_brand(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char id[32];
    int i;

    /* amplification of acme, defense of globex: neither counts */
    for (i = 0; i < 30; i++) {
        idf(id, sizeof(id), "love", i);
        d = feed(f, id, "I love acme", T0 + i * 10 * SEC);
        assert_int_equal(d->nmatches, 1);
        assert_null(d->escalations);
        idf(id, sizeof(id), "globex", i);
        d = feed(f, id, "globex is broken", T0 + i * 10 * SEC + SEC);
        assert_int_equal(d->nmatches, 1);
        assert_null(d->escalations);
    }
    for (i = 0; i < 19; i++) {
        idf(id, sizeof(id), "d", i);
        feed_quiet(f, id, "acme broken", T0 + 5 * MIN + i * SEC);
    }
    /* two defense rules of acme on one post: it counts once */
    d = feed(f, "two", "acme broken, I want a refund", T0 + 6 * MIN);
    assert_int_equal(d->nmatches, 2);
    expect_fired(d, "esc.acme.crisis", 20, 0, "two,d18,d17,d16,d15");
}

/* ---- minutes ---- */

static void test_minute_boundaries(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    /* 12:00:59.999 and 12:01:00.000 are in different minutes */
    feed_quiet(f, "a1", "acme broken", T0 + MIN - 1);
    feed_quiet(f, "a2", "acme broken", T0 + MIN);
    /* 12:01:59.999 is in 12:01 with a2 */
    d = feed(f, "a3", "acme broken", T0 + 2 * MIN - 1);
    expect_fired(d, "esc.acme.minute", 2, 0, "a3,a2");
    assert_int_equal(d->escalations[0].priority, BM_PRIO_LOW);
    /* no cooldown, but 12:02 starts again */
    feed_quiet(f, "a4", "acme broken", T0 + 2 * MIN);
    /* a post without a time takes the previous post's: 12:02 */
    d = feed(f, "u1", "acme broken", 0);
    expect_fired(d, "esc.acme.minute", 2, 0, "u1,a4");

    /* 90 s is rounded up to two whole minutes */
    feed_quiet(f, "g1", "globex broken", T0 + 10 * MIN);
    d = feed(f, "g2", "globex broken", T0 + 12 * MIN - 1);
    expect_fired(d, "esc.globex.round", 2, 0, "g2,g1");
    assert_string_equal(d->escalations[0].brand, "globex");
    feed_quiet(f, "g3", "globex broken", T0 + 13 * MIN);

    /* the first post without a time takes the wall clock */
    restart(f);
    feed_quiet(f, "w1", "acme broken", 0);
    d = feed(f, "w2", "acme broken", WALL + 1);
    expect_fired(d, "esc.acme.minute", 2, 0, "w2,w1");
    /* and times before 1970 fall in the minute before, not after */
    restart(f);
    feed_quiet(f, "n1", "acme broken", -1);
    d = feed(f, "n2", "acme broken", -MIN);
    expect_fired(d, "esc.acme.minute", 2, 0, "n2,n1");
    /* the 90 s window's ring is two minutes: a post from two minutes
     * before the newest is too late, and leaves no count behind */
    restart(f);
    feed_quiet(f, "k30", "globex broken", T0 + 30 * MIN);
    feed_quiet(f, "k28", "globex broken", T0 + 28 * MIN + 30 * SEC);
    d = feed(f, "k31", "globex broken", T0 + 31 * MIN);
    expect_fired(d, "esc.globex.round", 2, 0, "k31,k30");
    d = feed(f, "k32", "globex broken", T0 + 32 * MIN);
    expect_fired(d, "esc.globex.round", 2, 0, "k32,k31");
}

/* ---- the ring ---- */

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks;
}

static void test_ring_jumps(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char id[32];
    int i;

    /* The ring is 10 + 60 minutes. 19 in minute T0, then one 70 minutes
     * later, in the same slot: the 19 are forgotten. */
    for (i = 0; i < 19; i++) {
        idf(id, sizeof(id), "p", i);
        feed_quiet(f, id, "acme broken", T0 + i * SEC);
    }
    feed_quiet(f, "r70", "acme broken", T0 + 70 * MIN);
    /* a day later, 19 again, then a step of 10 minutes (through the
     * minute-by-minute path): they moved out of the window */
    for (i = 0; i < 19; i++) {
        idf(id, sizeof(id), "s", i);
        feed_quiet(f, id, "acme broken", T0 + DAY + i * SEC);
    }
    feed_quiet(f, "s+10", "acme broken", T0 + DAY + 10 * MIN);
    /* 19 more there make 20; the baseline holds the first 19: 19 / 6 */
    for (i = 0; i < 18; i++) {
        idf(id, sizeof(id), "t", i);
        feed_quiet(f, id, "acme broken", T0 + DAY + 10 * MIN + (i + 1) * SEC);
    }
    d = feed(f, "t18", "acme broken", T0 + DAY + 10 * MIN + 30 * SEC);
    expect_fired(d, "esc.acme.crisis", 20, 3.17, "t18,t17,t16,t15,t14");
}

static void test_ring_wraps_over_days(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    size_t before = 0;
    int64_t end = T0 + 3 * DAY;
    int64_t t;
    char id[32];
    int i = 0;

    /* One a minute for three days: 10 a window, never 20. The heap stays
     * the same size from the first day on. */
    for (t = T0; t < end; t += MIN, i++) {
        if (t == T0 + DAY)
            before = heap_in_use();
        idf(id, sizeof(id), "m", i % 100000);
        feed_quiet(f, id, "acme broken", t + 7 * SEC);
    }
    assert_int_equal(heap_in_use(), before);
    /* Then 11 more in the next minute: 9 + 11 in the window, and the
     * hour before it holds 60: baseline 10. */
    for (i = 0; i < 10; i++) {
        idf(id, sizeof(id), "z", i);
        feed_quiet(f, id, "acme broken", end + i * SEC);
    }
    d = feed(f, "z10", "acme broken", end + 10 * SEC);
    expect_fired(d, "esc.acme.crisis", 20, 10, "z10,z9,z8,z7,z6");
}

static void test_late_posts(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char id[32];
    int i;

    for (i = 0; i < 19; i++) {
        idf(id, sizeof(id), "e", i);
        feed_quiet(f, id, "acme broken", T0 + 5 * MIN + i * SEC);
    }
    feed_quiet(f, "later", "acme broken", T0 + 20 * MIN);
    /* A post from minute T0+9 arrives now: judged at its own minute, whose
     * window holds the 19 and itself; the later post is not in it. */
    d = feed(f, "late", "acme broken", T0 + 9 * MIN);
    expect_fired(d, "esc.acme.crisis", 20, 0, "late,e18,e17,e16");
    /* older than the ring (70 minutes before the newest): not counted,
     * and a late post from before the firing does not fire again */
    feed_quiet(f, "ancient", "acme broken", T0 - 60 * MIN);
    feed_quiet(f, "late2", "acme broken", T0 + 8 * MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_fires_once, setup_crisis,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cooldown, setup_crisis, teardown),
        cmocka_unit_test_setup_teardown(test_ratio_blocks_burst, setup_ratio,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_kind_and_brand, setup_crisis,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_minute_boundaries, setup_minute,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ring_jumps, setup_crisis,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ring_wraps_over_days, setup_crisis,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_late_posts, setup_crisis,
                                        teardown),
    };

    return cmocka_run_group_tests_name("escalate", tests, NULL, NULL);
}
