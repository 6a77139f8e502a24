/*
 * test_engine.c - the rule engine's decisions (brandmon/engine.h) on packs
 * written for the tests (tests/data/engine/, one YAML file each) with a small
 * lexicon and intents (tests/data/engine/base/), so no result depends on how
 * the shipped lexicon is tuned.
 *
 * Covers: which brands a post names and which an exclusion rules out; every
 * leaf of the rule language true and false; all/any/none and several keys in
 * one mapping; the terms each match reports; rules without a brand; the
 * alert template for every placeholder; and the decision JSON parsed back
 * with jansson, field by field, escaping included.
 */
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
#include "brandmon/pack.h"
#include "brandmon/post.h"
#include "brandmon/sentiment.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

#define ENGINE_DATA BM_TEST_DATA "/engine"
#define BASE_DIR    ENGINE_DATA "/base"

/* One loaded pack and an engine over it, shared by a group of tests. */
struct fixture {
    struct bm_ruleset *rs; /* owned */
    struct bm_engine *e;   /* owned */
    struct bm_decision d;  /* the last decision; borrowed from e */
    struct bm_post post;   /* the post of the last decision */
};

static struct bm_ruleset *load_pack(const char *name)
{
    char path[1024], msg[2048];
    const char *paths[1] = { path };
    struct bm_diag diag = { .line = 0 };
    struct bm_ruleset *rs;

    snprintf(path, sizeof(path), "%s/%s", ENGINE_DATA, name);
    rs = bm_ruleset_load(paths, 1, BASE_DIR, &diag);
    if (!rs) {
        bm_diag_format(&diag, msg, sizeof(msg));
        print_error("%s\n", msg);
    }
    return rs;
}

static int setup_pack(void **state, const char *name)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    f->rs = load_pack(name);
    f->e = f->rs ? bm_engine_new(f->rs) : NULL;
    if (!f->e) {
        bm_ruleset_free(f->rs);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup_leaves(void **state)
{
    return setup_pack(state, "leaves.yaml");
}

static int setup_render(void **state)
{
    return setup_pack(state, "render.yaml");
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (!f)
        return 0; /* the setup failed */
    bm_engine_free(f->e);
    bm_ruleset_free(f->rs);
    free(f);
    return 0;
}

/* A post with @text and neutral defaults: id "p1", source "x-main", no
 * author, unknown followers, not a reply or repost. */
static struct bm_post *post_reset(struct fixture *f, const char *text)
{
    struct bm_post *p = &f->post;

    bm_post_init(p);
    p->id = "p1";
    p->text = text;
    p->text_len = strlen(text);
    p->source = "x-main";
    return p;
}

static const struct bm_decision *decide_post(struct fixture *f)
{
    assert_int_equal(bm_engine_decide(f->e, &f->post, &f->d), 0);
    assert_ptr_equal(f->d.post, &f->post);
    return &f->d;
}

/* Decides @text with the defaults of post_reset(). */
static const struct bm_decision *decide(struct fixture *f, const char *text)
{
    post_reset(f, text);
    return decide_post(f);
}

static const struct bm_decision_match *match_of(const struct bm_decision *d,
                                                const char *rule)
{
    for (size_t i = 0; i < d->nmatches; i++)
        if (strcmp(d->matches[i].rule, rule) == 0)
            return &d->matches[i];
    return NULL;
}

static bool fired(const struct bm_decision *d, const char *rule)
{
    return match_of(d, rule) != NULL;
}

static const struct bm_decision_brand *brand_of(const struct bm_decision *d,
                                                const char *id)
{
    for (size_t i = 0; i < d->nbrands; i++)
        if (strcmp(d->brands[i].id, id) == 0)
            return &d->brands[i];
    return NULL;
}

static bool has_intent(const struct bm_decision *d, const char *name)
{
    for (size_t i = 0; i < d->nintents; i++)
        if (strcmp(d->intents[i], name) == 0)
            return true;
    return false;
}

static bool has_term(const struct bm_decision_match *m, const char *term)
{
    for (size_t i = 0; i < m->nterms; i++)
        if (strcmp(m->terms[i], term) == 0)
            return true;
    return false;
}

/* Asserts that @rule fired and reported exactly the terms in @want (a
 * NULL-terminated list), in any order. */
static void assert_terms(const struct bm_decision *d, const char *rule,
                         const char *const *want)
{
    const struct bm_decision_match *m = match_of(d, rule);
    size_t n = 0;

    if (!m)
        fail_msg("rule %s did not fire", rule);
    for (; want[n]; n++)
        if (!has_term(m, want[n]))
            fail_msg("rule %s: term '%s' not reported", rule, want[n]);
    if (m->nterms != n) {
        for (size_t i = 0; i < m->nterms; i++)
            print_message("  %s reported '%s'\n", rule, m->terms[i]);
        fail_msg("rule %s: %zu terms reported, expected %zu", rule, m->nterms,
                 n);
    }
}

#define ASSERT_FIRED(d, rule)                                                  \
    do {                                                                       \
        if (!fired((d), (rule)))                                               \
            fail_msg("expected %s to fire on \"%s\"", (rule),                  \
                     (d)->post->text);                                         \
    } while (0)

#define ASSERT_NOT_FIRED(d, rule)                                              \
    do {                                                                       \
        if (fired((d), (rule)))                                                \
            fail_msg("expected %s not to fire on \"%s\"", (rule),              \
                     (d)->post->text);                                         \
    } while (0)

/* ---- the loaded pack ---- */

static void test_counts(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(bm_ruleset_brands(f->rs), 2);
    assert_int_equal(bm_ruleset_rules(f->rs), 34);
    assert_true(bm_ruleset_packs(f->rs) >= 1);
    assert_int_equal(strlen(bm_ruleset_hash(f->rs)), 16);
    assert_string_equal(bm_kind_name(BM_KIND_AMPLIFICATION), "amplification");
    assert_string_equal(bm_priority_name(BM_PRIO_CRITICAL), "critical");
}

/* ---- brands ---- */

static void test_brands_named(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    const struct bm_decision_brand *b;

    d = decide(f, "My Acme printer jammed");
    assert_int_equal(d->nbrands, 1);
    b = brand_of(d, "acme");
    assert_non_null(b);
    assert_string_equal(b->name, "Acme Printers");

    d = decide(f, "Globex or ACME, which one?");
    assert_int_equal(d->nbrands, 2);
    assert_non_null(brand_of(d, "acme"));
    assert_non_null(brand_of(d, "globex"));

    d = decide(f, "hey @AcmePrinters my order");
    assert_non_null(brand_of(d, "acme"));

    /* word edges: no brand inside another word */
    d = decide(f, "Acmeville has a new bakery, globexx too");
    assert_int_equal(d->nbrands, 0);
}

static void test_brand_excluded(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    d = decide(f, "Beep beep, the road runner beat the acme anvil");
    assert_int_equal(d->nbrands, 0);
    assert_null(brand_of(d, "acme"));

    /* An exclusion rules the brand out, and its rules are not evaluated; a
     * brand-less rule still sees the post. */
    d = decide(f, "Acme Corp is broken, worst anvil ever");
    assert_null(brand_of(d, "acme"));
    ASSERT_NOT_FIRED(d, "e.terms");
    ASSERT_NOT_FIRED(d, "e.terms2");
    ASSERT_FIRED(d, "e.intent");

    /* It only rules out its own brand. */
    d = decide(f, "acme corp bought globex");
    assert_int_equal(d->nbrands, 1);
    assert_non_null(brand_of(d, "globex"));

    /* Without the exclusion the same words name the brand. */
    d = decide(f, "Acme is broken, worst printer ever");
    assert_non_null(brand_of(d, "acme"));
    ASSERT_FIRED(d, "e.terms");
}

/* ---- leaves ---- */

static void test_leaf_terms(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    d = decide(f, "My acme printer is broken");
    assert_terms(d, "e.terms", (const char *const[]){ "acme", "broken", 0 });
    ASSERT_NOT_FIRED(d, "e.terms2");

    d = decide(f, "Acme refunded me, finally");
    assert_terms(d, "e.terms", (const char *const[]){ "acme", "refund*", 0 });

    d = decide(f, "I will never   again buy ACME");
    assert_terms(d, "e.terms",
                 (const char *const[]){ "acme", "never again", 0 });

    d = decide(f, "Acme: broken, and the worst");
    ASSERT_FIRED(d, "e.terms");
    assert_terms(d, "e.terms2",
                 (const char *const[]){ "acme", "broken", "worst", 0 });

    /* at_least counts distinct terms */
    d = decide(f, "Acme broken, broken, BROKEN");
    ASSERT_FIRED(d, "e.terms");
    ASSERT_NOT_FIRED(d, "e.terms2");

    d = decide(f, "Acme is fine, unbroken and no refunds needed");
    ASSERT_FIRED(d, "e.terms"); /* refunds: the prefix term */
    d = decide(f, "Acme is fine and unbroken");
    ASSERT_NOT_FIRED(d, "e.terms");
}

static void test_leaf_statement(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    d = decide(f, "Acme is reliable and built to last");
    assert_terms(
        d, "e.statement",
        (const char *const[]){ "acme", "reliable", "built to last", 0 });

    d = decide(f, "Acme is reliable, I guess");
    ASSERT_NOT_FIRED(d, "e.statement");

    /* The statement words without the brand: the rule does not look. */
    d = decide(f, "Reliable, sustainable and built to last");
    ASSERT_NOT_FIRED(d, "e.statement");
}

static void test_leaf_regex(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    d = decide(f, "Acme Model X200 is here");
    assert_terms(d, "e.regex",
                 (const char *const[]){ "acme", "\\bmodel x\\d+\\b", 0 });
    d = decide(f, "Acme Model Y is here");
    ASSERT_NOT_FIRED(d, "e.regex");

    /* Case-insensitive by default; (?-i) makes the pattern case-sensitive
     * against the (case-folded) normalised text. */
    d = decide(f, "ACME rocks");
    ASSERT_FIRED(d, "e.regex-ci");
    ASSERT_FIRED(d, "e.regex-cs-lower");
    ASSERT_NOT_FIRED(d, "e.regex-cs-upper");

    /* the regex runs on normalised text: the full-width letters fold */
    d = decide(f, "\xEF\xBC\xA1\xEF\xBD\x83\xEF\xBD\x8D\xEF\xBD\x85 model x9");
    assert_non_null(brand_of(d, "acme"));
    ASSERT_FIRED(d, "e.regex");
}

static void test_leaf_sentiment(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    const struct bm_decision_brand *acme, *globex;

    /* brand-targeted: negative for acme, positive for globex and the post */
    d = decide(f, "Love Globex, Acme is a joke");
    acme = brand_of(d, "acme");
    globex = brand_of(d, "globex");
    assert_non_null(acme);
    assert_non_null(globex);
    assert_true(acme->sentiment < -0.2);
    assert_true(globex->sentiment > 0.2);
    assert_true(d->sentiment > 0.2);
    ASSERT_FIRED(d, "e.sent-neg");
    ASSERT_NOT_FIRED(d, "e.sent-pos");
    /* without a brand the rule reads the post's score */
    ASSERT_FIRED(d, "e.post-pos");
    ASSERT_NOT_FIRED(d, "e.post-neg");

    d = decide(f, "Love Acme, Globex is a joke");
    ASSERT_FIRED(d, "e.sent-pos");
    ASSERT_NOT_FIRED(d, "e.sent-neg");

    d = decide(f, "Acme is awful");
    ASSERT_FIRED(d, "e.sent-neg");
    ASSERT_FIRED(d, "e.post-neg");
    ASSERT_NOT_FIRED(d, "e.sent-pos");

    d = decide(f, "Acme ships on Tuesday");
    assert_true(fabs(d->sentiment) < 1e-9);
    ASSERT_NOT_FIRED(d, "e.sent-neg");
    ASSERT_NOT_FIRED(d, "e.sent-pos");
    ASSERT_NOT_FIRED(d, "e.post-neg");
    ASSERT_NOT_FIRED(d, "e.post-pos");
}

static void test_leaf_intent(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    d = decide(f, "my printer is broken");
    assert_true(has_intent(d, "complaint"));
    assert_terms(d, "e.intent", (const char *const[]){ "broken", 0 });
    ASSERT_NOT_FIRED(d, "e.intent-list");

    d = decide(f, "Where can I buy Globex toner");
    assert_true(has_intent(d, "purchase"));
    assert_false(has_intent(d, "complaint"));
    assert_terms(d, "e.intent-list",
                 (const char *const[]){ "where can i buy", 0 });
    ASSERT_NOT_FIRED(d, "e.intent");

    /* shown by a pattern: the pattern is what fired */
    d = decide(f, "Does Globex sell toner");
    assert_true(has_intent(d, "purchase"));
    assert_terms(d, "e.intent-list",
                 (const char *const[]){ "\\bdoes \\w+ (make|sell)\\b", 0 });

    d = decide(f, "I am switching to Globex");
    assert_true(has_intent(d, "churn"));
    ASSERT_FIRED(d, "e.intent-list");

    d = decide(f, "Is it any good?");
    assert_true(has_intent(d, "question"));
    ASSERT_NOT_FIRED(d, "e.intent-list");

    d = decide(f, "Nice weather today");
    assert_int_equal(d->nintents, 0);
    ASSERT_NOT_FIRED(d, "e.intent");
    ASSERT_NOT_FIRED(d, "e.intent-list");
}

static void test_leaf_followers(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int64_t followers;
        bool big, small;
    } cases[] = {
        { 5000, true, false }, { 1000, true, false }, { 999, false, false },
        { 100, false, false }, { 99, false, true },   { 0, false, true },
        { -1, false, false }, /* unknown never matches */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bm_decision *d;

        post_reset(f, "hello")->followers = cases[i].followers;
        d = decide_post(f);
        if (fired(d, "e.followers-big") != cases[i].big)
            fail_msg("followers %lld: at_least 1000 gave %d",
                     (long long)cases[i].followers, !cases[i].big);
        if (fired(d, "e.followers-small") != cases[i].small)
            fail_msg("followers %lld: below 100 gave %d",
                     (long long)cases[i].followers, !cases[i].small);
    }
}

static void test_leaf_lang(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *lang;
        bool match;
    } cases[] = {
        { "en", true },   { "en-GB", true }, { "en_US", true }, { "EN", true },
        { "eng", false }, { "de", false },   { "", false },     { NULL, false },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        post_reset(f, "hello")->lang = cases[i].lang;
        if (fired(decide_post(f), "e.lang") != cases[i].match)
            fail_msg("lang %s: expected %d",
                     cases[i].lang ? cases[i].lang : "(null)", cases[i].match);
    }
}

static void test_leaf_source(void **state)
{
    struct fixture *f = *state;

    post_reset(f, "hello")->source = "x-main";
    ASSERT_FIRED(decide_post(f), "e.source");
    post_reset(f, "hello")->source = "mastodon-1";
    ASSERT_FIRED(decide_post(f), "e.source");
    post_reset(f, "hello")->source = "x-main2";
    ASSERT_NOT_FIRED(decide_post(f), "e.source");
    post_reset(f, "hello")->source = "x";
    ASSERT_NOT_FIRED(decide_post(f), "e.source");
    post_reset(f, "hello")->source = NULL;
    ASSERT_NOT_FIRED(decide_post(f), "e.source");
}

static void test_leaf_reply_repost(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    post_reset(f, "hello")->reply = true;
    d = decide_post(f);
    ASSERT_FIRED(d, "e.reply");
    ASSERT_NOT_FIRED(d, "e.not-reply");
    ASSERT_NOT_FIRED(d, "e.repost");
    ASSERT_FIRED(d, "e.not-repost");

    post_reset(f, "hello")->repost = true;
    d = decide_post(f);
    ASSERT_NOT_FIRED(d, "e.reply");
    ASSERT_FIRED(d, "e.not-reply");
    ASSERT_FIRED(d, "e.repost");
    ASSERT_NOT_FIRED(d, "e.not-repost");
}

static void test_leaf_competitor(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    d = decide(f, "Acme vs Globex, round two");
    ASSERT_FIRED(d, "e.competitor");
    ASSERT_NOT_FIRED(d, "e.no-competitor");
    /* the rule's own brand term is reported (whether the competitor's
     * term should be too, RULES.md does not say) */
    assert_true(has_term(match_of(d, "e.competitor"), "acme"));

    d = decide(f, "Acme on its own");
    ASSERT_NOT_FIRED(d, "e.competitor");
    ASSERT_FIRED(d, "e.no-competitor");

    /* the competitor alone: the rule's own brand is not named */
    d = decide(f, "Globex on its own");
    ASSERT_NOT_FIRED(d, "e.competitor");
    ASSERT_NOT_FIRED(d, "e.no-competitor");
}

static void check_fields(struct fixture *f, const char *raw, bool eq,
                         bool eq_num, bool in, bool matches, bool at_least)
{
    json_error_t err;
    json_t *j = raw ? json_loads(raw, 0, &err) : NULL;
    const struct bm_decision *d;

    if (raw && !j)
        fail_msg("bad fixture %s: %s", raw, err.text);
    post_reset(f, "hello")->raw = j;
    d = decide_post(f);
    if (fired(d, "e.field-eq") != eq || fired(d, "e.field-eq-num") != eq_num ||
        fired(d, "e.field-in") != in ||
        fired(d, "e.field-matches") != matches ||
        fired(d, "e.field-at-least") != at_least)
        fail_msg("%s: eq %d eq-num %d in %d matches %d at-least %d", raw,
                 fired(d, "e.field-eq"), fired(d, "e.field-eq-num"),
                 fired(d, "e.field-in"), fired(d, "e.field-matches"),
                 fired(d, "e.field-at-least"));
    if (matches)
        assert_terms(d, "e.field-matches",
                     (const char *const[]){ "^urgent\\b", 0 });
    json_decref(j);
}

static void test_leaf_field(void **state)
{
    struct fixture *f = *state;

    check_fields(f,
                 "{\"data\":{\"kind\":\"review\",\"stars\":5,"
                 "\"country\":\"AT\",\"title\":\"Urgent: ink refill\"}}",
                 true, true, true, true, true);
    check_fields(f,
                 "{\"data\":{\"kind\":\"news\",\"stars\":3,"
                 "\"country\":\"US\",\"title\":\"not urgent\"}}",
                 false, false, false, false, false);
    /* 5.0 equals 5; at_least compares numbers */
    check_fields(f, "{\"data\":{\"stars\":5.0}}", false, true, false, false,
                 true);
    check_fields(f, "{\"data\":{\"stars\":4.5}}", false, false, false, false,
                 true);
    /* a string is not a number, and equals does not convert */
    check_fields(f, "{\"data\":{\"stars\":\"5\",\"kind\":\"Review\"}}", false,
                 false, false, false, false);
    /* the value must be the one at the pointer, not anywhere */
    check_fields(f, "{\"kind\":\"review\",\"data\":{\"country\":[\"AT\"]}}",
                 false, false, false, false, false);
    check_fields(f, "{}", false, false, false, false, false);
    check_fields(f, NULL, false, false, false, false, false);
}

/* ---- combinators ---- */

static void test_nested(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    d = decide(f, "Acme printer is awful");
    assert_terms(d, "e.nested", (const char *const[]){ "acme", "printer", 0 });
    d = decide(f, "The Acme scanner is awful");
    assert_terms(d, "e.nested", (const char *const[]){ "acme", "scanner", 0 });

    /* none: a joking marker, or either branch of the nested any */
    ASSERT_NOT_FIRED(decide(f, "Acme printer is awful jk"), "e.nested");
    ASSERT_NOT_FIRED(decide(f, "Acme printer is awful /s"), "e.nested");
    ASSERT_NOT_FIRED(decide(f, "Acme printer is awful, sarcasm"), "e.nested");
    ASSERT_NOT_FIRED(decide(f, "Acme printer is awful, just kidding"),
                     "e.nested");
    /* the nested all: sentiment */
    ASSERT_NOT_FIRED(decide(f, "Acme printer is great"), "e.nested");
    /* the any */
    ASSERT_NOT_FIRED(decide(f, "Acme is awful"), "e.nested");
}

static void test_several_keys(void **state)
{
    struct fixture *f = *state;

    post_reset(f, "Acme printer")->followers = 10;
    ASSERT_FIRED(decide_post(f), "e.multikey");
    post_reset(f, "Acme printer")->followers = 9;
    ASSERT_NOT_FIRED(decide_post(f), "e.multikey");
    post_reset(f, "Acme scanner")->followers = 50;
    ASSERT_NOT_FIRED(decide_post(f), "e.multikey");

    /* `all:` and `none:` side by side in one mapping */
    ASSERT_FIRED(decide(f, "acme printer broken"), "e.none-terms");
    ASSERT_NOT_FIRED(decide(f, "acme printer broken jk"), "e.none-terms");
    ASSERT_NOT_FIRED(decide(f, "acme printer fine"), "e.none-terms");
}

static void test_terms_reported(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    /* "printer" was looked at inside the none's all, which failed: it is
     * not what made the rule fire */
    d = decide(f, "My acme printer is broken");
    assert_terms(d, "e.none-terms",
                 (const char *const[]){ "acme", "broken", 0 });
    /* the failed first branch of the any takes its "printer" back */
    assert_terms(d, "e.any-failed",
                 (const char *const[]){ "acme", "broken", 0 });
    /* every leaf of an all: brand terms, terms and the pattern */
    d = decide(f, "@AcmePrinters the printer X200 again");
    assert_terms(
        d, "e.regex-terms",
        (const char *const[]){ "@acmeprinters", "printer", "x\\d00", 0 });
    /* brand terms once each, in any order */
    d = decide(f, "acme ACME Acme Printers broken");
    assert_terms(d, "e.terms",
                 (const char *const[]){ "acme", "acme printers", "broken", 0 });
    /* a leaf that reads no terms adds none */
    post_reset(f, "hello")->followers = 5000;
    d = decide_post(f);
    assert_terms(d, "e.followers-big", (const char *const[]){ 0 });
}

static void test_rules_without_brand(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    const struct bm_decision_match *m;

    d = decide(f, "Out of ink again");
    assert_int_equal(d->nbrands, 0);
    m = match_of(d, "e.nobrand");
    assert_non_null(m);
    assert_null(m->brand);
    assert_null(m->brand_name);
    assert_int_equal(m->kind, BM_KIND_INSIGHT);
    assert_int_equal(m->priority, BM_PRIO_MEDIUM); /* the default */
    assert_terms(d, "e.nobrand", (const char *const[]){ "ink", 0 });
    ASSERT_FIRED(d, "e.not-reply");
    ASSERT_NOT_FIRED(d, "e.terms");

    d = decide(f, "Acme ink again");
    ASSERT_FIRED(d, "e.nobrand");
    assert_null(match_of(d, "e.nobrand")->brand);
    m = match_of(d, "e.no-competitor");
    assert_non_null(m);
    assert_string_equal(m->brand, "acme");
    assert_string_equal(m->brand_name, "Acme Printers");

    /* every decision: brand-less rules with a leaf that holds for all */
    for (int i = 0; i < 3; i++) {
        static const char *const texts[] = { "a", "Globex", "Acme Corp" };

        ASSERT_FIRED(decide(f, texts[i]), "e.not-repost");
    }
}

static void test_match_fields(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision_match *m;
    const struct bm_decision *d;

    d = decide(f, "My acme printer is broken");
    m = match_of(d, "e.terms");
    assert_non_null(m);
    assert_string_equal(m->brand, "acme");
    assert_int_equal(m->kind, BM_KIND_DEFENSE);
    assert_int_equal(m->priority, BM_PRIO_HIGH);
    assert_null(m->message);
    m = match_of(d, "e.statement");
    assert_null(m);
}

/* The engine is reused: nothing of one post leaks into the next. */
static void test_reuse(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;

    for (int i = 0; i < 3; i++) {
        d = decide(f, "Love Globex, Acme is a joke, broken");
        assert_int_equal(d->nbrands, 2);
        assert_true(has_intent(d, "complaint"));
        d = decide(f, "nothing here");
        assert_int_equal(d->nbrands, 0);
        assert_int_equal(d->nintents, 0);
        ASSERT_NOT_FIRED(d, "e.terms");
        ASSERT_NOT_FIRED(d, "e.intent");
        assert_true(fabs(d->sentiment) < 1e-9);
    }
    d = decide(f, "");
    assert_int_equal(d->nbrands, 0);
    assert_true(fabs(d->sentiment) < 1e-9);
}

/*
 * at_least counts distinct terms, whatever their number: also past the 64
 * terms a match shows (cond.c once stopped counting at 64, so that
 * `at_least: 65` could never hold).
 */
static void test_terms_at_least_many(void **state)
{
    struct bm_ruleset *rs = load_pack("many-terms.yaml");
    struct bm_engine *e = rs ? bm_engine_new(rs) : NULL;
    char text[1024] = "";
    struct bm_decision d;
    struct bm_post p;
    bool f64, f65, f70;

    (void)state;
    assert_non_null(e);
    for (int i = 0; i < 70; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "w%02d ", i);
    bm_post_init(&p);
    p.id = "many";
    p.text = text;
    p.text_len = strlen(text);
    assert_int_equal(bm_engine_decide(e, &p, &d), 0);
    f64 = fired(&d, "m.all-64");
    f65 = fired(&d, "m.all-65");
    f70 = fired(&d, "m.all-70");
    bm_engine_free(e);
    bm_ruleset_free(rs);
    assert_true(f64);
    assert_true(f65);
    assert_true(f70);
}

/* ---- rendering ---- */

/* Renders @tpl for @rule's match into @out (a copy, so that a failed
 * assertion leaks nothing). */
static void render(const struct bm_decision *d, const char *rule,
                   const char *tpl, char *out, size_t n)
{
    const struct bm_decision_match *m = match_of(d, rule);
    struct bm_buf b = BM_BUF_INIT;

    if (!m)
        fail_msg("rule %s did not fire", rule);
    assert_int_equal(bm_decision_render(d, m, tpl, &b), 0);
    snprintf(out, n, "%s", b.data ? b.data : "");
    assert_true(b.len < n);
    bm_buf_release(&b);
}

static void test_render_placeholders(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    const struct bm_decision_brand *acme;
    struct bm_post *p;
    char want[1024], got[1024];

    p = post_reset(f, "My @AcmePrinters printer is broken\nagain");
    p->id = "1900";
    p->author = "ann";
    p->followers = 1234;
    p->lang = "en-GB";
    p->url = "https://x.com/ann/status/1900";
    d = decide_post(f);
    acme = brand_of(d, "acme");
    assert_non_null(acme);
    assert_true(acme->sentiment < -0.1);

    render(d, "r.alert",
           "{author}|{followers}|{source}|{text}|{url}|{post_id}|"
           "{lang}|{brand}|{brand_name}|{rule}|{kind}|{priority}|"
           "{sentiment}|{tone}",
           got, sizeof(got));
    snprintf(want, sizeof(want),
             "ann|1234|x-main|My @AcmePrinters printer is broken again|"
             "https://x.com/ann/status/1900|1900|en-GB|acme|Acme "
             "\"Printers\"|r.alert|defense|critical|%.2f|negative",
             acme->sentiment);
    assert_string_equal(got, want);

    render(d, "r.alert", "[{terms}]", got, sizeof(got));
    if (strcmp(got, "[@acmeprinters, broken]") != 0 &&
        strcmp(got, "[broken, @acmeprinters]") != 0)
        fail_msg("terms rendered as %s", got);

    /* text around and between placeholders is kept as is */
    render(d, "r.alert", "a {} {rule}}{ b", got, sizeof(got));
    assert_string_equal(got, "a {} r.alert}{ b");

    /* a rule without a brand: empty brand, the post's tone */
    render(d, "r.nobrand", "<{brand}|{brand_name}|{tone}|{terms}>", got,
           sizeof(got));
    assert_string_equal(got, "<||negative|printer>");
}

static void test_render_missing_fields(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char got[1024];

    post_reset(f, "acme is broken");
    d = decide_post(f);
    render(d, "r.alert", "{author}|{followers}|{url}|{lang}|{post_id}", got,
           sizeof(got));
    /* unknown author and followers read as words a person understands,
     * missing url and lang are empty */
    assert_string_equal(got, "someone|?|||p1");
}

static void test_render_html_text(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char got[1024];

    post_reset(f, "<p>My <b>Acme</b> printer is broken</p>")->text_is_html =
        true;
    d = decide_post(f);
    render(d, "r.alert", "{text}", got, sizeof(got));
    assert_string_equal(got, "My Acme printer is broken");
}

/*
 * {text} is "the post's text as a person reads it" (engine.c). HTML
 * character references must read as the characters they stand for: in HTML
 * posts (Mastodon, HN) and in the plain text X and Reddit send with &amp;
 * &lt; &gt; escaped (text.h).
 */
static void test_render_entities(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char got[1024];

    post_reset(f, "<p>Acme &amp; Globex: &quot;broken&quot;</p>")
        ->text_is_html = true;
    d = decide_post(f);
    render(d, "r.alert", "{text}", got, sizeof(got));
    assert_string_equal(got, "Acme & Globex: \"broken\"");

    post_reset(f, "Acme &amp; Globex &lt;3 broken");
    d = decide_post(f);
    render(d, "r.alert", "{text}", got, sizeof(got));
    assert_string_equal(got, "Acme & Globex <3 broken");
}

/*
 * A line break or a paragraph in HTML must not glue two words together in
 * {text}.
 */
static void test_render_html_breaks(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    char got[1024];

    post_reset(f, "<p>Acme is broken<br>again</p><p>Sigh</p>")->text_is_html =
        true;
    d = decide_post(f);
    render(d, "r.alert", "{text}", got, sizeof(got));
    if (strstr(got, "brokenagain") || strstr(got, "againSigh"))
        fail_msg("words glued together: %s", got);
    /* and {text} stays on one line, white space folded */
    post_reset(f, "  Acme   is\n\n broken\t\r\nagain  ");
    d = decide_post(f);
    render(d, "r.alert", "[{text}]", got, sizeof(got));
    assert_string_equal(got, "[Acme is broken again]");
}

/* ---- JSON ---- */

static json_t *decision_json(const struct bm_decision *d)
{
    struct bm_buf b = BM_BUF_INIT;
    json_error_t err;
    json_t *j;

    assert_int_equal(bm_decision_write_json(d, &b), 0);
    assert_non_null(b.data);
    /* one line, and no raw control character anywhere */
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.data[i] < 0x20)
            fail_msg("raw control character 0x%02x at %zu in %s",
                     (unsigned char)b.data[i], i, b.data);
    j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        fail_msg("decision JSON does not parse: %s in %s", err.text, b.data);
    bm_buf_release(&b);
    return j;
}

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v))
        fail_msg("'%s' is not a string", key);
    return json_string_value(v);
}

static const json_t *jmatch(const json_t *matches, const char *rule)
{
    size_t i;
    json_t *m;

    json_array_foreach(matches, i, m)
    {
        if (strcmp(jstr(m, "rule"), rule) == 0)
            return m;
    }
    fail_msg("no match %s in the JSON", rule);
    return NULL;
}

static bool jarray_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static void check_score(const json_t *o, double want)
{
    const json_t *s = json_object_get(o, "sentiment");
    double v;

    assert_true(json_is_number(s));
    v = json_number_value(s);
    assert_true(v >= -1.0 && v <= 1.0);
    assert_true(fabs(v - want) < 0.0001);
    assert_string_equal(jstr(o, "tone"), bm_tone_name(bm_tone_of(want)));
}

static void test_json_fields(void **state)
{
    struct fixture *f = *state;
    static const char author[] = "ann \"the\"\nprinter\x01\\fan";
    static const char text[] =
        "Love Globex. My @AcmePrinters printer is \"broken\"\tagain\x02";
    const struct bm_decision *d;
    const json_t *brands, *matches, *m, *terms;
    json_t *j;
    size_t i;
    struct bm_post *p;
    char want[512];

    p = post_reset(f, text);
    p->id = "1900\"x";
    p->author = author;
    p->followers = 12;
    d = decide_post(f);
    assert_int_equal(d->nmatches, 3);
    j = decision_json(d);

    assert_string_equal(jstr(j, "post_id"), "1900\"x");
    assert_string_equal(jstr(j, "source"), "x-main");
    assert_string_equal(jstr(j, "author"), author);
    check_score(j, d->sentiment);

    brands = json_object_get(j, "brands");
    assert_true(json_is_array(brands));
    assert_int_equal(json_array_size(brands), d->nbrands);
    assert_int_equal(json_array_size(brands), 2);
    for (i = 0; i < d->nbrands; i++) {
        const json_t *b = json_array_get(brands, i);

        assert_string_equal(jstr(b, "id"), d->brands[i].id);
        check_score(b, d->brands[i].sentiment);
    }
    /* brand-targeted in the JSON too */
    for (i = 0; i < 2; i++) {
        const json_t *b = json_array_get(brands, i);
        bool is_acme = strcmp(jstr(b, "id"), "acme") == 0;

        assert_string_equal(jstr(b, "tone"), is_acme ? "negative" : "positive");
    }

    assert_true(json_is_array(json_object_get(j, "intents")));
    assert_int_equal(json_array_size(json_object_get(j, "intents")),
                     d->nintents);
    assert_true(jarray_has(json_object_get(j, "intents"), "complaint"));
    assert_true(jarray_has(json_object_get(j, "intents"), "praise"));

    matches = json_object_get(j, "matches");
    assert_true(json_is_array(matches));
    assert_int_equal(json_array_size(matches), 3);

    m = jmatch(matches, "r.alert");
    assert_string_equal(jstr(m, "kind"), "defense");
    assert_string_equal(jstr(m, "priority"), "critical");
    assert_string_equal(jstr(m, "brand"), "acme");
    terms = json_object_get(m, "terms");
    assert_int_equal(json_array_size(terms), 2);
    assert_true(jarray_has(terms, "@acmeprinters"));
    assert_true(jarray_has(terms, "broken"));
    /* the message: quotes, the template's and the author's newlines and
     * the author's control character survive the round trip; the text
     * reads on one line (its tab folded to a space; its control character
     * kept or dropped) */
    {
        char want2[512];
        const char *t0 = json_string_value(json_array_get(terms, 0));
        const char *t1 = json_string_value(json_array_get(terms, 1));

        snprintf(want, sizeof(want),
                 "Alert \"%s\"\nLove Globex. My @AcmePrinters printer is "
                 "\"broken\" again\x02 [%s, %s]",
                 author, t0, t1);
        snprintf(want2, sizeof(want2),
                 "Alert \"%s\"\nLove Globex. My @AcmePrinters printer is "
                 "\"broken\" again [%s, %s]",
                 author, t0, t1);
        if (strcmp(jstr(m, "message"), want) != 0 &&
            strcmp(jstr(m, "message"), want2) != 0) {
            snprintf(want2, sizeof(want2), "%s", jstr(m, "message"));
            json_decref(j);
            fail_msg("message is \"%s\"", want2);
        }
    }

    m = jmatch(matches, "r.quiet");
    assert_string_equal(jstr(m, "kind"), "insight");
    assert_string_equal(jstr(m, "priority"), "low");
    assert_string_equal(jstr(m, "brand"), "globex");
    assert_int_equal(json_array_size(json_object_get(m, "terms")), 1);
    assert_true(jarray_has(json_object_get(m, "terms"), "globex"));
    assert_null(json_object_get(m, "message"));

    m = jmatch(matches, "r.nobrand");
    assert_true(json_is_null(json_object_get(m, "brand")));
    assert_string_equal(jstr(m, "kind"), "amplification");
    assert_string_equal(jstr(m, "priority"), "medium");
    assert_string_equal(jstr(m, "message"),
                        "<||r.nobrand|amplification|medium>");

    assert_true(json_is_array(json_object_get(j, "escalations")));
    assert_int_equal(json_array_size(json_object_get(j, "escalations")), 0);
    json_decref(j);
}

static void test_json_empty(void **state)
{
    struct fixture *f = *state;
    const struct bm_decision *d;
    json_t *j;

    post_reset(f, "nothing to see")->source = NULL;
    d = decide_post(f);
    j = decision_json(d);
    assert_string_equal(jstr(j, "post_id"), "p1");
    assert_true(json_is_null(json_object_get(j, "author")));
    assert_true(json_is_null(json_object_get(j, "source")));
    check_score(j, 0.0);
    assert_string_equal(jstr(j, "tone"), "neutral");
    assert_int_equal(json_array_size(json_object_get(j, "brands")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "intents")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "matches")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "escalations")), 0);
    assert_int_equal(json_object_size(j), 9);
    json_decref(j);
}

/* ---- load errors the engine tests rely on ---- */

static void test_load_missing_base(void **state)
{
    const char *paths[] = { ENGINE_DATA "/leaves.yaml" };
    struct bm_diag diag = { .line = 0 };

    (void)state;
    assert_null(bm_ruleset_load(paths, 1, ENGINE_DATA "/no-such-dir", &diag));
    assert_non_null(strstr(diag.file, "sentiment-lexicon.yaml"));
}

int main(void)
{
    const struct CMUnitTest leaves[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_brands_named),
        cmocka_unit_test(test_brand_excluded),
        cmocka_unit_test(test_leaf_terms),
        cmocka_unit_test(test_leaf_statement),
        cmocka_unit_test(test_leaf_regex),
        cmocka_unit_test(test_leaf_sentiment),
        cmocka_unit_test(test_leaf_intent),
        cmocka_unit_test(test_leaf_followers),
        cmocka_unit_test(test_leaf_lang),
        cmocka_unit_test(test_leaf_source),
        cmocka_unit_test(test_leaf_reply_repost),
        cmocka_unit_test(test_leaf_competitor),
        cmocka_unit_test(test_leaf_field),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_several_keys),
        cmocka_unit_test(test_terms_reported),
        cmocka_unit_test(test_rules_without_brand),
        cmocka_unit_test(test_match_fields),
        cmocka_unit_test(test_reuse),
    };
    const struct CMUnitTest output[] = {
        cmocka_unit_test(test_render_placeholders),
        cmocka_unit_test(test_render_missing_fields),
        cmocka_unit_test(test_render_html_text),
        cmocka_unit_test(test_render_entities),
        cmocka_unit_test(test_render_html_breaks),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_json_empty),
        cmocka_unit_test(test_load_missing_base),
        cmocka_unit_test(test_terms_at_least_many),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("engine: leaves", leaves,
                                          setup_leaves, teardown);
    failed += cmocka_run_group_tests_name("engine: output", output,
                                          setup_render, teardown);
    return failed ? 1 : 0;
}
