/*
 * test_match.c - the one-pass term matcher (include/brandmon/match.h), fed
 * text normalised by text.h exactly as the engine does.
 *
 * Covers word edges, prefixes, multi-word terms, mention and hashtag terms,
 * Unicode folding, punctuation terms, equal terms sharing an id, the
 * add/build life cycle, the order of hits, and a scale test: ten thousand
 * generated terms plus fifty prefixes, each of which must be found where it
 * is written and nowhere else.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "brandmon/buf.h"
#include "brandmon/match.h"
#include "brandmon/text.h"

/* A matcher, a text and a hit list, set up fresh for every test. */
struct fx {
    struct bm_matcher *m; /* owned */
    struct bm_text text;
    struct bm_hits hits;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    f->m = bm_matcher_new();
    if (!f->m) {
        free(f);
        return -1;
    }
    bm_text_init(&f->text);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    bm_matcher_free(f->m);
    bm_text_release(&f->text);
    bm_hits_release(&f->hits);
    free(f);
    return 0;
}

/* Adds @term; returns what bm_matcher_add() returned. */
static int add(struct fx *f, const char *term)
{
    return bm_matcher_add(f->m, term, strlen(term));
}

/* Adds @term, which must be accepted; returns its id. */
static uint32_t add_ok(struct fx *f, const char *term)
{
    int id = add(f, term);

    assert_true(id >= 0);
    return (uint32_t)id;
}

static void build(struct fx *f)
{
    assert_int_equal(bm_matcher_build(f->m), 0);
}

/* Normalises @text (no HTML) and runs the matcher; returns the hit count. */
static size_t run(struct fx *f, const char *text)
{
    assert_int_equal(bm_text_normalise(&f->text, text, strlen(text), 0), 0);
    assert_int_equal(bm_matcher_run(f->m, &f->text, &f->hits), 0);
    return f->hits.n;
}

/* How many hits of term @id the last run produced. */
static size_t count_of(const struct fx *f, uint32_t id)
{
    size_t n = 0;

    for (size_t i = 0; i < f->hits.n; i++)
        n += f->hits.v[i].term == id;
    return n;
}

/* True when the last run hit term @id at tokens [tok, tok + ntok). */
static bool has_hit(const struct fx *f, uint32_t id, uint32_t tok,
                    uint32_t ntok)
{
    for (size_t i = 0; i < f->hits.n; i++)
        if (f->hits.v[i].term == id && f->hits.v[i].tok == tok &&
            f->hits.v[i].ntok == ntok)
            return true;
    return false;
}

/* @text must hit @id exactly once, at [tok, tok + ntok). */
static void expect_one(struct fx *f, const char *text, uint32_t id,
                       uint32_t tok, uint32_t ntok)
{
    run(f, text);
    if (count_of(f, id) != 1 || !has_hit(f, id, tok, ntok))
        fail_msg("'%s': expected term %u ('%s') once at token %u+%u, got "
                 "%zu hits of it",
                 text, id, bm_matcher_term(f->m, id), tok, ntok,
                 count_of(f, id));
}

/* @text must not hit @id. */
static void expect_none(struct fx *f, const char *text, uint32_t id)
{
    run(f, text);
    if (count_of(f, id) != 0)
        fail_msg("'%s': term %u ('%s') should not match", text, id,
                 bm_matcher_term(f->m, id));
}

/* ---- single terms and word edges --------------------------------------- */

static void test_exact_single_terms(void **state)
{
    struct fx *f = *state;
    uint32_t acme = add_ok(f, "acme");
    uint32_t globex = add_ok(f, "globex");

    assert_int_not_equal(acme, globex);
    build(f);
    assert_int_equal(bm_matcher_count(f->m), 2);

    assert_int_equal(run(f, "I love acme printers"), 1);
    assert_true(has_hit(f, acme, 2, 1));
    expect_one(f, "ACME rules", acme, 0, 1);
    expect_one(f, "AcMe", acme, 0, 1);
    expect_none(f, "acme", globex);
    assert_int_equal(run(f, "nothing to see here"), 0);
    assert_int_equal(run(f, ""), 0);

    /* Both, in token order. */
    assert_int_equal(run(f, "globex beats acme"), 2);
    assert_int_equal(f->hits.v[0].term, globex);
    assert_int_equal(f->hits.v[0].tok, 0);
    assert_int_equal(f->hits.v[1].term, acme);
    assert_int_equal(f->hits.v[1].tok, 2);

    /* Every occurrence is a hit. */
    assert_int_equal(run(f, "acme acme, acme!"), 3);
    assert_int_equal(count_of(f, acme), 3);
    assert_true(has_hit(f, acme, 0, 1));
    assert_true(has_hit(f, acme, 1, 1));
    assert_true(has_hit(f, acme, 3, 1));
}

static void test_word_edges(void **state)
{
    struct fx *f = *state;
    uint32_t acme = add_ok(f, "acme");

    build(f);
    /* Not inside a longer word, digits and "_" included. */
    expect_none(f, "welcome to acmeville", acme);
    expect_none(f, "xacme", acme);
    expect_none(f, "acme2", acme);
    expect_none(f, "acme_inc", acme);
    expect_none(f, "bigacmestore", acme);
    expect_none(f, "acm", acme);
    /* At the edges punctuation makes. */
    expect_one(f, "acme's new printer", acme, 0, 1);
    expect_one(f, "acme\xe2\x80\x99s new printer", acme, 0, 1);
    expect_one(f, "acme, again", acme, 0, 1);
    expect_one(f, "(acme)", acme, 1, 1);
    expect_one(f, "I said 'acme'.", acme, 3, 1);
    expect_one(f, "acme-printers", acme, 0, 1);
    expect_one(f, "really?acme!", acme, 2, 1);
    expect_one(f, "\"acme\"", acme, 1, 1);
    expect_one(f, "  \n\tacme\n", acme, 0, 1);
}

static void test_prefix_terms(void **state)
{
    struct fx *f = *state;
    uint32_t pre = add_ok(f, "refund*");
    uint32_t exact = add_ok(f, "refund");

    assert_int_not_equal(pre, exact);
    build(f);
    assert_string_equal(bm_matcher_term(f->m, pre), "refund*");
    expect_one(f, "refund", pre, 0, 1);
    expect_one(f, "I want refunds", pre, 2, 1);
    expect_one(f, "they refunded me", pre, 1, 1);
    expect_one(f, "REFUNDING now", pre, 0, 1);
    expect_one(f, "my refund's late", pre, 1, 1);
    expect_one(f, "#refundnow", pre, 0, 1);
    expect_none(f, "prerefund", pre);
    expect_none(f, "no prerefunds", pre);
    expect_none(f, "refun", pre);
    expect_none(f, "re-fund", pre);
    expect_none(f, "re fund", pre);
    /* The exact term keeps its word edge. */
    expect_none(f, "refunds", exact);
    expect_one(f, "refund", exact, 0, 1);
}

/* ---- multi-word terms --------------------------------------------------- */

static void test_multiword_terms(void **state)
{
    struct fx *f = *state;
    uint32_t again = add_ok(f, "never again");
    uint32_t three = add_ok(f, "stopped working today");
    uint32_t never = add_ok(f, "never");

    build(f);
    expect_one(f, "never again", again, 0, 2);
    expect_one(f, "NEVER AGAIN!", again, 0, 2);
    expect_one(f, "I will never     again buy", again, 2, 2);
    expect_one(f, "never\nagain", again, 0, 2);
    expect_one(f, "never \t\r\n again", again, 0, 2);
    expect_one(f,
               "never\xc2\xa0"
               "again",
               again, 0, 2); /* no-break space */
    expect_one(f, "it stopped\nworking\n\ntoday", three, 1, 3);
    /* The single word still hits on its own. */
    run(f, "never again");
    assert_true(has_hit(f, never, 0, 1));

    /* Not across punctuation, not when joined, not with a word between. */
    expect_none(f, "never, again", again);
    expect_none(f, "never-again", again);
    expect_none(f, "never.again", again);
    expect_none(f, "neveragain", again);
    expect_none(f, "never ever again", again);
    expect_none(f, "again never", again);
    expect_none(f, "never", again);
    expect_none(f, "stopped working", three);
    expect_none(f, "stopped working. today", three);
    expect_none(f, "stopped working todays", three);
}

static void test_multiword_prefix(void **state)
{
    struct fx *f = *state;
    uint32_t t = add_ok(f, "acme printer*");

    build(f);
    assert_string_equal(bm_matcher_term(f->m, t), "acme printer*");
    expect_one(f, "my acme printer", t, 1, 2);
    expect_one(f, "two acme printers", t, 1, 2);
    expect_one(f, "ACME PRINTERINK sale", t, 0, 2);
    expect_one(f, "acme\n printers", t, 0, 2);
    expect_none(f, "acme print", t);
    expect_none(f, "acme, printers", t);
    expect_none(f, "acme reprinters", t);
    expect_none(f, "acmes printers", t);
    expect_none(f, "I like acme", t); /* the text ends after the first word */
    /* Not even right after a text whose tokens went on (the text's buffers
     * are reused, so stale tokens lie past its end). */
    expect_one(f, "acme printers", t, 0, 2);
    expect_none(f, "acme", t);
    expect_none(f, "printers by acme", t);
}

/* ---- mentions and hashtags --------------------------------------------- */

static void test_mentions_and_hashtags(void **state)
{
    struct fx *f = *state;
    uint32_t plain = add_ok(f, "acme");
    uint32_t at = add_ok(f, "@acme");
    uint32_t tag = add_ok(f, "#acme");
    uint32_t handle = add_ok(f, "@acmeprinters");
    uint32_t two = add_ok(f, "acme printers");

    assert_true(plain != at && at != tag && plain != tag);
    build(f);

    /* "#acme": the plain term and the hashtag, not the mention. */
    run(f, "down again #acme");
    assert_true(has_hit(f, plain, 2, 1));
    assert_true(has_hit(f, tag, 2, 1));
    assert_int_equal(count_of(f, at), 0);
    assert_int_equal(f->hits.n, 2);

    /* "@acme": the plain term and the mention, not the hashtag. */
    run(f, "@ACME help");
    assert_true(has_hit(f, plain, 0, 1));
    assert_true(has_hit(f, at, 0, 1));
    assert_int_equal(count_of(f, tag), 0);
    assert_int_equal(f->hits.n, 2);

    /* A plain word: only the plain term. */
    assert_int_equal(run(f, "acme"), 1);
    assert_true(has_hit(f, plain, 0, 1));

    /* A longer hashtag or handle is another word. */
    assert_int_equal(run(f, "#acmedown"), 0);
    assert_int_equal(run(f, "@acmefan"), 0);

    /* A handle term: its own mention, not the bare word or the hashtag. */
    expect_one(f, "ping @AcmePrinters", handle, 1, 1);
    expect_none(f, "acmeprinters", handle);
    expect_none(f, "#acmeprinters", handle);
    expect_none(f, "@acmeprinters2", handle);

    /* A sigil that is not followed by a word makes no mention. */
    run(f, "@ acme");
    assert_true(has_hit(f, plain, 1, 1));
    assert_int_equal(count_of(f, at), 0);

    /* A multi-word plain term may start at a mention or hashtag body. */
    expect_one(f, "#acme printers rock", two, 0, 2);
    expect_one(f, "@acme printers rock", two, 0, 2);
}

/* ---- Unicode ------------------------------------------------------------ */

static void test_unicode_folding(void **state)
{
    struct fx *f = *state;
    uint32_t acme = add_ok(f, "acme");
    /* Fullwidth letters fold to the same term. */
    uint32_t wide =
        add_ok(f, "\xef\xbc\xa1\xef\xbd\x83\xef\xbd\x8d\xef\xbd\x85");
    uint32_t strasse = add_ok(f, "Stra\xc3\x9f"
                                 "e");
    /* "ΣΊΣΥΦΟΣ" in capitals. */
    uint32_t sisyphus = add_ok(f, "\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6"
                                  "\xce\x9f\xce\xa3");
    uint32_t cafe = add_ok(f, "caf\xc3\xa9");
    uint32_t thumbs = add_ok(f, "\xf0\x9f\x91\x8d");

    assert_int_equal(wide, acme);
    build(f);
    expect_one(f, "\xef\xbc\xa1\xef\xbc\xa3\xef\xbc\xad\xef\xbc\xa5 rocks",
               acme, 0, 1);
    expect_one(f, "go STRASSE", strasse, 1, 1);
    expect_one(f,
               "stra\xc3\x9f"
               "e",
               strasse, 0, 1);
    expect_none(f, "strase", strasse);
    /* "σίσυφος" in small letters, with a final sigma. */
    expect_one(f, "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82",
               sisyphus, 0, 1);
    /* Skin tones and variation selectors are dropped: U+1F44D is
     * U+1F44D U+1F3FD, and U+1F44D U+FE0F. */
    run(f, "great \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd and \xf0\x9f\x91\x8d"
           "\xef\xb8\x8f");
    assert_int_equal(count_of(f, thumbs), 2);
    assert_true(has_hit(f, thumbs, 1, 1));
    assert_true(has_hit(f, thumbs, 3, 1));
    /* Decomposed "é" composes to the same term. */
    expect_one(f, "CAFE\xcc\x81 open", cafe, 0, 1);
    expect_none(f, "cafe open", cafe);
}

static void test_japanese_unsegmented(void **state)
{
    struct fx *f = *state;
    /* アクメ, プリンター, 好き, 東京 */
    uint32_t acme = add_ok(f, "\xe3\x82\xa2\xe3\x82\xaf\xe3\x83\xa1");
    uint32_t printer = add_ok(f, "\xe3\x83\x97\xe3\x83\xaa\xe3\x83\xb3"
                                 "\xe3\x82\xbf\xe3\x83\xbc");
    uint32_t suki = add_ok(f, "\xe5\xa5\xbd\xe3\x81\x8d");
    uint32_t tokyo = add_ok(f, "\xe6\x9d\xb1\xe4\xba\xac");
    /* Halfwidth ｱｸﾒ is アクメ once NFKC'd. */
    uint32_t half = add_ok(f, "\xef\xbd\xb1\xef\xbd\xb8\xef\xbe\x92");
    /* 私はアクメのプリンターが好き: one token per character. */
    const char *text = "\xe7\xa7\x81\xe3\x81\xaf\xe3\x82\xa2\xe3\x82\xaf"
                       "\xe3\x83\xa1\xe3\x81\xae\xe3\x83\x97\xe3\x83\xaa"
                       "\xe3\x83\xb3\xe3\x82\xbf\xe3\x83\xbc\xe3\x81\x8c"
                       "\xe5\xa5\xbd\xe3\x81\x8d";

    assert_int_equal(half, acme);
    build(f);
    run(f, text);
    assert_int_equal(f->hits.n, 3);
    assert_true(has_hit(f, acme, 2, 3));
    assert_true(has_hit(f, printer, 6, 5));
    assert_true(has_hit(f, suki, 12, 2));
    assert_int_equal(count_of(f, tokyo), 0);
    /* 京東 is not 東京. */
    expect_none(f, "\xe4\xba\xac\xe6\x9d\xb1", tokyo);
    /* 東京都 holds 東京. */
    expect_one(f, "\xe6\x9d\xb1\xe4\xba\xac\xe9\x83\xbd", tokyo, 0, 2);
    /* アク alone is not アクメ. */
    expect_none(f, "\xe3\x82\xa2\xe3\x82\xaf", acme);
}

/* ---- punctuation and emoticon terms ------------------------------------ */

static void test_punctuation_terms(void **state)
{
    struct fx *f = *state;
    uint32_t q = add_ok(f, "?");
    uint32_t sarcasm = add_ok(f, "/s");
    uint32_t bangs = add_ok(f, "!!!");
    uint32_t smile = add_ok(f, ":)");

    build(f);
    expect_one(f, "why?", q, 1, 1);
    expect_none(f, "why.", q);
    expect_one(f, "great job /s", sarcasm, 2, 2);
    expect_one(f, "great job /S.", sarcasm, 2, 2);
    expect_none(f, "see /sarcasm", sarcasm);
    expect_none(f, "s/ no", sarcasm);
    expect_none(f, "a/b", sarcasm);
    expect_one(f, "wow!!!", bangs, 1, 3);
    expect_none(f, "wow!!", bangs);
    expect_one(f, "nice :)", smile, 1, 1);
    expect_none(f, "sad :(", smile);
}

/* ---- ids, spelling, refusals, life cycle -------------------------------- */

static void test_equal_terms_share_an_id(void **state)
{
    struct fx *f = *state;
    uint32_t a = add_ok(f, "Acme");
    uint32_t pre = add_ok(f, "acme*");
    uint32_t two = add_ok(f, "acme printers");

    assert_int_equal(a, 0);
    assert_int_equal(pre, 1);
    assert_int_equal(two, 2);
    assert_int_equal(add(f, "ACME"), (int)a);
    assert_int_equal(add(f, "  acme\t"), (int)a);
    assert_int_equal(add(f, "\xef\xbc\xa1\xef\xbd\x83\xef\xbd\x8d\xef\xbd\x85"),
                     (int)a);
    assert_int_equal(add(f, "ACME*"), (int)pre);
    assert_int_equal(add(f, "ACME   Printers"), (int)two);
    assert_int_equal(add(f, "acme\nprinters"), (int)two);
    assert_int_equal(bm_matcher_count(f->m), 3);
    /* The first spelling is kept. */
    assert_string_equal(bm_matcher_term(f->m, a), "Acme");
    assert_string_equal(bm_matcher_term(f->m, pre), "acme*");
    assert_string_equal(bm_matcher_term(f->m, two), "acme printers");
    assert_null(bm_matcher_term(f->m, 3));
    build(f);
    /* One term, one hit, however many spellings were added. */
    run(f, "ACME");
    assert_int_equal(count_of(f, a), 1);
    assert_int_equal(count_of(f, pre), 1);
    assert_int_equal(f->hits.n, 2);
}

static void test_term_with_len_not_nul_terminated(void **state)
{
    struct fx *f = *state;
    const char buf[] = "acme printers and more";
    int id = bm_matcher_add(f->m, buf, 4);

    assert_true(id >= 0);
    assert_string_equal(bm_matcher_term(f->m, (uint32_t)id), "acme");
    build(f);
    expect_one(f, "acme printers", (uint32_t)id, 0, 1);
    assert_int_equal(run(f, "printers"), 0);
}

static void test_refused_terms(void **state)
{
    struct fx *f = *state;
    char big[256] = "";

    assert_int_equal(add(f, ""), -EINVAL);
    assert_int_equal(bm_matcher_add(f->m, "acme", 0), -EINVAL);
    assert_int_equal(add(f, "   "), -EINVAL);
    assert_int_equal(add(f, "\t\r\n"), -EINVAL);
    assert_int_equal(add(f, "*"), -EINVAL);
    assert_int_equal(add(f, "  *"), -EINVAL);
    /* Zero-width space and joiner make no token. */
    assert_int_equal(add(f, "\xe2\x80\x8b"), -EINVAL);
    assert_int_equal(add(f, "\xe2\x80\x8d\xef\xb8\x8f"), -EINVAL);
    /* Seventeen words are one too many; sixteen are fine. */
    for (int i = 0; i < 17; i++)
        strcat(big, i ? " w" : "w");
    assert_int_equal(add(f, big), -EINVAL);
    big[strlen(big) - 2] = '\0';
    assert_int_equal(add(f, big), 0);
    assert_int_equal(bm_matcher_count(f->m), 1);
    build(f);
    expect_one(f, big, 0, 0, BM_MATCH_MAX_TERM_TOKENS);
}

static void test_busy_after_build(void **state)
{
    struct fx *f = *state;
    uint32_t acme = add_ok(f, "acme");

    build(f);
    assert_int_equal(add(f, "globex"), -EBUSY);
    assert_int_equal(add(f, "acme"), -EBUSY);
    assert_int_equal(bm_matcher_count(f->m), 1);
    /* Building again changes nothing. */
    build(f);
    expect_one(f, "acme", acme, 0, 1);
    assert_int_equal(run(f, "globex"), 0);
}

static void test_empty_matcher(void **state)
{
    struct fx *f = *state;

    build(f);
    assert_int_equal(bm_matcher_count(f->m), 0);
    assert_null(bm_matcher_term(f->m, 0));
    assert_int_equal(run(f, "acme printers are great"), 0);
}

/* ---- order of hits ------------------------------------------------------ */

static void test_hits_in_token_order(void **state)
{
    struct fx *f = *state;
    uint32_t alpha = add_ok(f, "alpha");
    uint32_t beta = add_ok(f, "beta");
    uint32_t gd = add_ok(f, "gamma delta");
    static const struct {
        uint32_t tok, ntok;
    } want[] = { { 0, 1 }, { 1, 1 }, { 2, 2 }, { 4, 1 }, { 6, 1 } };
    uint32_t ids[5];

    build(f);
    ids[0] = beta;
    ids[1] = alpha;
    ids[2] = gd;
    ids[3] = beta;
    ids[4] = alpha;
    assert_int_equal(run(f, "beta alpha gamma delta beta, alpha"), 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(f->hits.v[i].term, ids[i]);
        assert_int_equal(f->hits.v[i].tok, want[i].tok);
        assert_int_equal(f->hits.v[i].ntok, want[i].ntok);
    }
    /* The list is emptied by each run, not appended to. */
    assert_int_equal(run(f, "alpha"), 1);
    assert_int_equal(f->hits.v[0].term, alpha);
    assert_int_equal(run(f, "zeta"), 0);
}

static void test_several_terms_at_one_token(void **state)
{
    struct fx *f = *state;
    uint32_t acme = add_ok(f, "acme");
    uint32_t two = add_ok(f, "acme printers");
    uint32_t twopre = add_ok(f, "acme printer*");
    uint32_t acm = add_ok(f, "acm*");
    uint32_t three = add_ok(f, "acme printers rock");
    uint32_t rock = add_ok(f, "rock");

    build(f);
    assert_int_equal(run(f, "acme printers rock"), 6);
    for (size_t i = 0; i + 1 < f->hits.n; i++)
        assert_true(f->hits.v[i].tok <= f->hits.v[i + 1].tok);
    assert_true(has_hit(f, acme, 0, 1));
    assert_true(has_hit(f, two, 0, 2));
    assert_true(has_hit(f, twopre, 0, 2));
    assert_true(has_hit(f, acm, 0, 1));
    assert_true(has_hit(f, three, 0, 3));
    assert_true(has_hit(f, rock, 2, 1));
    assert_int_equal(f->hits.v[5].term, rock);
}

/* ---- at scale ----------------------------------------------------------- */

#define SCALE_WORDS   8000 /* one-word terms */
#define SCALE_PHRASES 2000 /* two- and three-word terms */
#define SCALE_PREFIX  50
#define SCALE_TERMS   (SCALE_WORDS + SCALE_PHRASES + SCALE_PREFIX)
#define SCALE_CHUNK   97  /* terms per text */
#define TERM_MAX      128 /* bytes for a generated term */
#define TEXT_MAX      256 /* bytes for a generated term as written in text */

/* @n in base 26 over a-z, @width letters. */
static void letters(char *out, unsigned n, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('a' + n % 26);
        n /= 26;
    }
    out[width] = '\0';
}

/*
 * Term @i as written, and as it appears in a text. One-word terms are
 * "k" + 4 letters, phrases "m.... n...." (and " o...." every third); all
 * are 5-letter words, so no term is inside another. Prefix terms are
 * "z" + 2 letters, padded with "x" to lengths from 3 to 101 (so past the
 * 64-byte mark too); in a text each gets a tail after it, or none.
 */
static void scale_term(unsigned i, char term[TERM_MAX], char text[TEXT_MAX])
{
    char a[8], pad[100];

    if (i < SCALE_WORDS) {
        letters(a, i * 7 + 3, 4);
        snprintf(term, TERM_MAX, "k%s", a);
        snprintf(text, TEXT_MAX, "k%s", a);
        /* Odd ones are written in capitals in the text. */
        for (char *p = text; i % 2 && *p; p++)
            *p = (char)(*p - 'a' + 'A');
    } else if (i < SCALE_WORDS + SCALE_PHRASES) {
        unsigned k = i - SCALE_WORDS;

        letters(a, k * 11 + 5, 4);
        if (k % 3 == 0) {
            snprintf(term, TERM_MAX, "m%s n%s o%s", a, a, a);
            snprintf(text, TEXT_MAX, "m%s\nn%s   o%s", a, a, a);
        } else {
            snprintf(term, TERM_MAX, "m%s n%s", a, a);
            snprintf(text, TEXT_MAX, "M%s \t n%s", a, a);
        }
    } else {
        unsigned k = i - SCALE_WORDS - SCALE_PHRASES;
        size_t len = 3 + (k * 2) % 99;

        letters(a, k * 13, 2);
        memset(pad, 'x', sizeof(pad));
        pad[len - 3] = '\0';
        snprintf(term, TERM_MAX, "z%s%s*", a, pad);
        snprintf(text, TEXT_MAX, k % 2 ? "z%s%s" : "z%s%sing", a, pad);
    }
}

/* Term @i spelt so that it must not match anything. */
static void scale_miss(unsigned i, char text[TEXT_MAX])
{
    char term[TERM_MAX], hit[TEXT_MAX];
    size_t len;

    scale_term(i, term, hit);
    len = strlen(term);
    if (i < SCALE_WORDS) {
        /* Longer, shorter, or glued to a letter in front. */
        if (i % 3 == 0)
            snprintf(text, TEXT_MAX, "%sq", term);
        else if (i % 3 == 1)
            snprintf(text, TEXT_MAX, "%.*s", (int)len - 1, term);
        else
            snprintf(text, TEXT_MAX, "y%s", term);
    } else if (i < SCALE_WORDS + SCALE_PHRASES) {
        char *sp = strchr(term, ' ');

        /* Punctuation between the words, or only the first word. */
        if (i % 2) {
            *sp = '\0';
            snprintf(text, TEXT_MAX, "%s, %s", term, sp + 1);
        } else {
            *sp = '\0';
            snprintf(text, TEXT_MAX, "%s", term);
        }
    } else {
        /* The prefix minus its last letter, or with a letter in front. */
        term[len - 1] = '\0';
        if (i % 2)
            snprintf(text, TEXT_MAX, "%.*s", (int)len - 2, term);
        else
            snprintf(text, TEXT_MAX, "y%sing", term);
    }
}

static size_t tokens_of(struct bm_text *t, const char *s)
{
    assert_int_equal(bm_text_normalise(t, s, strlen(s), 0), 0);
    return t->ntok;
}

static void test_scale_every_term_found(void **state)
{
    struct fx *f = *state;
    struct bm_buf text = BM_BUF_INIT;
    struct bm_text one;
    uint32_t *want_id, *want_tok, *want_ntok;
    char term[TERM_MAX], hit[TEXT_MAX];

    bm_text_init(&one);
    want_id = calloc(SCALE_CHUNK, sizeof(*want_id));
    want_tok = calloc(SCALE_CHUNK, sizeof(*want_tok));
    want_ntok = calloc(SCALE_CHUNK, sizeof(*want_ntok));
    assert_non_null(want_id);
    assert_non_null(want_tok);
    assert_non_null(want_ntok);

    /* Every term is new, in order; added again it keeps its id. */
    for (unsigned i = 0; i < SCALE_TERMS; i++) {
        scale_term(i, term, hit);
        assert_int_equal(add(f, term), (int)i);
    }
    for (unsigned i = 0; i < SCALE_TERMS; i += 7) {
        scale_term(i, term, hit);
        for (char *p = term; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        assert_int_equal(add(f, term), (int)i);
    }
    assert_int_equal(bm_matcher_count(f->m), SCALE_TERMS);
    build(f);
    for (unsigned i = 0; i < SCALE_TERMS; i++) {
        scale_term(i, term, hit);
        assert_string_equal(bm_matcher_term(f->m, i), term);
    }

    /* Present: texts of SCALE_CHUNK terms, each between full stops; the
     * hits are exactly those terms at exactly their tokens. */
    for (unsigned start = 0; start < SCALE_TERMS; start += SCALE_CHUNK) {
        unsigned n = 0;
        uint32_t tok = 0;

        bm_buf_reset(&text);
        /* A permutation of the ids, so a text mixes every kind. */
        for (unsigned j = start; j < start + SCALE_CHUNK && j < SCALE_TERMS;
             j++) {
            unsigned i = (j * 7919u) % SCALE_TERMS;

            scale_term(i, term, hit);
            assert_int_equal(bm_buf_puts(&text, hit), 0);
            assert_int_equal(bm_buf_puts(&text, " . "), 0);
            want_id[n] = i;
            want_tok[n] = tok;
            want_ntok[n] = (uint32_t)tokens_of(&one, hit);
            tok += want_ntok[n] + 1;
            n++;
        }
        assert_int_equal(run(f, text.data), n);
        for (unsigned k = 0; k < n; k++) {
            const struct bm_hit *h = &f->hits.v[k];

            if (h->term != want_id[k] || h->tok != want_tok[k] ||
                h->ntok != want_ntok[k])
                fail_msg("chunk at %u, hit %u: want term %u at %u+%u, got "
                         "term %u at %u+%u",
                         start, k, want_id[k], want_tok[k], want_ntok[k],
                         h->term, h->tok, h->ntok);
        }
    }

    /* Absent: every term spelt wrong, all in one text, and not one hit. */
    bm_buf_reset(&text);
    for (unsigned i = 0; i < SCALE_TERMS; i++) {
        scale_miss(i, hit);
        assert_int_equal(bm_buf_puts(&text, hit), 0);
        assert_int_equal(bm_buf_puts(&text, i % 5 ? " " : ". "), 0);
    }
    run(f, text.data);
    if (f->hits.n)
        fail_msg("%zu hits in the text of misses, first '%s' at token %u",
                 f->hits.n, bm_matcher_term(f->m, f->hits.v[0].term),
                 f->hits.v[0].tok);

    free(want_id);
    free(want_tok);
    free(want_ntok);
    bm_text_release(&one);
    bm_buf_release(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_exact_single_terms),
        T(test_word_edges),
        T(test_prefix_terms),
        T(test_multiword_terms),
        T(test_multiword_prefix),
        T(test_mentions_and_hashtags),
        T(test_unicode_folding),
        T(test_japanese_unsegmented),
        T(test_punctuation_terms),
        T(test_equal_terms_share_an_id),
        T(test_term_with_len_not_nul_terminated),
        T(test_refused_terms),
        T(test_busy_after_build),
        T(test_empty_matcher),
        T(test_hits_in_token_order),
        T(test_several_terms_at_one_token),
        T(test_scale_every_term_found),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
