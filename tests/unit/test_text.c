/*
 * test_text.c - unit tests for text normalisation and tokenisation
 * (include/brandmon/text.h).
 *
 * Every normalisation also checks the invariants the header promises: the
 * tokens lie in order inside norm, norm is NUL-terminated, and norm is the
 * tokens joined with one space exactly where SPACE_BEFORE says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "brandmon/text.h"

#define W    BM_TOK_WORD
#define P    BM_TOK_PUNCT
#define M    BM_TOK_MENTION
#define H    BM_TOK_HASHTAG
#define E    BM_TOK_EMOTICON
#define J    BM_TOK_EMOJI
#define CAPS BM_TOK_CAPS
#define SP   BM_TOK_SPACE_BEFORE
#define NL   BM_TOK_NEWLINE_BEFORE

#define KIND_MASK (W | P | M | H | E | J | CAPS)

static void check_invariants(const struct bm_text *t)
{
    struct bm_buf joined = BM_BUF_INIT;
    size_t i, end = 0;

    assert_non_null(t->norm.data);
    assert_int_equal(t->norm.data[t->norm.len], '\0');
    assert_int_equal(strlen(t->norm.data), t->norm.len);
    for (i = 0; i < t->ntok; i++) {
        const struct bm_token *k = &t->tok[i];

        assert_true(k->len > 0);
        assert_true(k->off >= end);
        assert_true((size_t)k->off + k->len <= t->norm.len);
        end = k->off + k->len;
        if (i > 0 && (k->flags & SP))
            assert_int_equal(bm_buf_putc(&joined, ' '), 0);
        assert_int_equal(bm_buf_append(&joined, t->norm.data + k->off, k->len),
                         0);
        /* A line break is white space too. */
        if (k->flags & NL)
            assert_true(k->flags & SP);
    }
    assert_int_equal(joined.len, t->norm.len);
    if (t->norm.len)
        assert_memory_equal(joined.data, t->norm.data, t->norm.len);
    bm_buf_release(&joined);
}

static void run(struct bm_text *t, const char *in, unsigned opts)
{
    assert_int_equal(bm_text_normalise(t, in, strlen(in), opts), 0);
    check_invariants(t);
}

/* The tokens' texts joined by '|'. */
static const char *toks(const struct bm_text *t, char *buf, size_t n)
{
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < t->ntok; i++) {
        int w = snprintf(buf + o, n - o, "%s%.*s", i ? "|" : "",
                         (int)t->tok[i].len, t->norm.data + t->tok[i].off);

        assert_true(w >= 0 && (size_t)w < n - o);
        o += (size_t)w;
    }
    return buf;
}

static void expect_norm(const char *in, unsigned opts, const char *norm)
{
    struct bm_text t;

    bm_text_init(&t);
    run(&t, in, opts);
    assert_string_equal(t.norm.data, norm);
    bm_text_release(&t);
}

static void expect_toks(const char *in, unsigned opts, const char *want)
{
    struct bm_text t;
    char buf[4096];

    bm_text_init(&t);
    run(&t, in, opts);
    assert_string_equal(toks(&t, buf, sizeof(buf)), want);
    bm_text_release(&t);
}

/* Flags of token @i, which must have text @text. */
static uint32_t flags_of(const struct bm_text *t, size_t i, const char *text)
{
    assert_true(i < t->ntok);
    assert_int_equal(t->tok[i].len, strlen(text));
    assert_memory_equal(t->norm.data + t->tok[i].off, text, strlen(text));
    return t->tok[i].flags;
}

static void test_fullwidth(void **state)
{
    struct bm_text t;

    (void)state;
    bm_text_init(&t);
    run(&t, "\xef\xbc\xa1\xef\xbd\x83\xef\xbd\x8d\xef\xbd\x85",
        0); /* Ａｃｍｅ */
    assert_string_equal(t.norm.data, "acme");
    assert_int_equal(t.ntok, 1);
    assert_int_equal(flags_of(&t, 0, "acme"), W);

    run(&t, "\xef\xbc\xa1\xef\xbd\x83\xef\xbd\x8d\xef\xbd\x85   PRINTERS!", 0);
    assert_string_equal(t.norm.data, "acme printers!");
    assert_int_equal(t.ntok, 3);
    assert_int_equal(flags_of(&t, 0, "acme"), W);
    assert_int_equal(flags_of(&t, 1, "printers"), W | CAPS | SP);
    assert_int_equal(flags_of(&t, 2, "!"), P);

    /* Fullwidth digits and punctuation fold to ASCII too. */
    run(&t, "X\xef\xbc\x92\xef\xbc\x90\xef\xbc\x90\xef\xbc\x81", 0);
    assert_string_equal(t.norm.data, "x200!");
    bm_text_release(&t);
}

static void test_caps(void **state)
{
    struct bm_text t;

    (void)state;
    bm_text_init(&t);
    run(&t, "ACME Acme acme X200 WORST A I'M \xc3\x89T\xc3\x89 __ABC__", 0);
    assert_string_equal(
        t.norm.data,
        "acme acme acme x200 worst a i'm \xc3\xa9t\xc3\xa9 __abc__");
    assert_int_equal(t.ntok, 9);
    assert_int_equal(flags_of(&t, 0, "acme"), W | CAPS);
    assert_int_equal(flags_of(&t, 1, "acme"), W | SP);
    assert_int_equal(flags_of(&t, 2, "acme"), W | SP);
    assert_int_equal(flags_of(&t, 3, "x200"), W | SP); /* one letter */
    assert_int_equal(flags_of(&t, 4, "worst"), W | CAPS | SP);
    assert_int_equal(flags_of(&t, 5, "a"), W | SP);
    assert_int_equal(flags_of(&t, 6, "i'm"), W | CAPS | SP);
    assert_int_equal(flags_of(&t, 7, "\xc3\xa9t\xc3\xa9"), W | CAPS | SP);
    assert_int_equal(flags_of(&t, 8, "__abc__"), W | CAPS | SP);

    /* Hashtags shout too; a word of digits does not. */
    run(&t, "#FAIL 2024", 0);
    assert_int_equal(flags_of(&t, 0, "#fail"), H | CAPS);
    assert_int_equal(flags_of(&t, 1, "2024"), W | SP);
    bm_text_release(&t);
}

static void test_casefold(void **state)
{
    (void)state;
    expect_norm("Stra\xc3\x9f"
                "e STRASSE",
                0, "strasse strasse");
    /* ﬁ ligature, Greek final sigma, Kelvin sign, superscript two */
    expect_norm("\xef\xac\x81ne", 0, "fine");
    expect_norm("\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3", 0,
                "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x83");
    expect_norm("\xe2\x84\xaa", 0, "k");
    expect_norm("m\xc2\xb2", 0, "m2");
}

static void test_combining(void **state)
{
    struct bm_text t;

    (void)state;
    bm_text_init(&t);
    /* e + U+0301 composes to U+00E9 */
    run(&t, "Cafe\xcc\x81 cafe\xcc\x81s", 0);
    assert_string_equal(t.norm.data, "caf\xc3\xa9 caf\xc3\xa9s");
    assert_int_equal(t.ntok, 2);
    /* and a precomposed one stays as it is */
    run(&t, "Caf\xc3\xa9", 0);
    assert_string_equal(t.norm.data, "caf\xc3\xa9");
    /* a mark with nothing to mark makes no token */
    run(&t, "\xcc\x81 a", 0);
    assert_string_equal(t.norm.data, "a");
    assert_int_equal(t.ntok, 1);
    bm_text_release(&t);
}

static const char mastodon_html[] =
    "<p>Loving my new <a href=\"https://acme.example/tags/Acme\" "
    "class=\"mention hashtag\" rel=\"tag\">#<span>Acme</span></a> printer, "
    "thanks <span class=\"h-card\" translate=\"no\"><a "
    "href=\"https://acme.example/@support\" class=\"u-url "
    "mention\">@<span>support</span></a></span>! It&#39;s great.</p>"
    "<p>Review: <a href=\"https://blog.example/acme-review\" target=\"_blank\" "
    "rel=\"nofollow noopener noreferrer\"><span "
    "class=\"invisible\">https://</span><span "
    "class=\"ellipsis\">blog.example/acme-rev</span><span "
    "class=\"invisible\">iew</span></a></p>";

static void test_mastodon_html(void **state)
{
    struct bm_text t;
    char buf[1024];

    (void)state;
    bm_text_init(&t);
    run(&t, mastodon_html, BM_TEXT_HTML);
    assert_string_equal(t.norm.data,
                        "loving my new #acme printer, thanks @support! it's "
                        "great. review: https://blog.example/acme-review");
    assert_string_equal(toks(&t, buf, sizeof(buf)),
                        "loving|my|new|#acme|printer|,|thanks|@support|!|it|'s|"
                        "great|.|review|:|https|:|/|/|blog|.|example|/|acme|-|"
                        "review");
    assert_int_equal(flags_of(&t, 0, "loving"), W | SP | NL);
    assert_int_equal(flags_of(&t, 3, "#acme"), H | SP);
    assert_int_equal(flags_of(&t, 7, "@support"), M | SP);
    assert_int_equal(flags_of(&t, 8, "!"), P);
    assert_int_equal(flags_of(&t, 10, "'s"), W);
    assert_int_equal(flags_of(&t, 13, "review"), W | SP | NL);
    assert_int_equal(flags_of(&t, 15, "https"), W | SP);
    assert_int_equal(t.replaced, 0);

    /* Without BM_TEXT_HTML the tags are text. */
    run(&t, "<p>hi</p>", 0);
    assert_string_equal(t.norm.data, "<p>hi</p>");
    bm_text_release(&t);
}

static void test_html_tags(void **state)
{
    struct bm_text t;
    unsigned h = BM_TEXT_HTML;

    (void)state;
    expect_norm("a<br>b<br/>c<BR />d", h, "a b c d");
    expect_norm("<ul><li>one</li><li>two</li></ul><hr>end", h, "one two end");
    expect_norm("<blockquote>quoted</blockquote>reply", h, "quoted reply");
    expect_norm("x<script>var a = '<p>'; if (a < b) {}</script>y", h, "xy");
    expect_norm("x<style type=\"text/css\">p { color: red }</STYLE >y", h,
                "xy");
    expect_norm("x<script>never closed", h, "x");
    expect_norm("x<!-- a <b> comment -->y<!DOCTYPE html>z", h, "xyz");
    expect_norm("x<!-- never closed", h, "x");
    expect_norm("acme <b", h, "acme");
    expect_norm("acme <a href=\"x>y\" title='>'>printers</a>", h,
                "acme printers");
    /* A '<' that starts no tag is text. */
    expect_norm("a < b and 1<2", h, "a < b and 1<2");
    expect_norm("I <3 acme", h, "i <3 acme");
    expect_norm("broken </3 heart", h, "broken </3 heart");
    expect_norm("trailing <", h, "trailing <");
    /* Entities are decoded after tags are gone, and only once. */
    expect_norm("&lt;b&gt;not a tag&lt;/b&gt;", h, "<b>not a tag</b>");
    /* In HTML a source line break is only white space. */
    bm_text_init(&t);
    run(&t, "<p>one\ntwo</p>\n<p>three</p>", h);
    assert_string_equal(t.norm.data, "one two three");
    assert_int_equal(flags_of(&t, 1, "two"), W | SP);
    assert_int_equal(flags_of(&t, 2, "three"), W | SP | NL);
    /* Inline tags glue words: the Mastodon link spans. */
    run(&t, "<span>ac</span><b>me</b>", h);
    assert_string_equal(t.norm.data, "acme");
    assert_int_equal(t.ntok, 1);
    bm_text_release(&t);
}

static void test_x_entities(void **state)
{
    struct bm_text t;

    (void)state;
    bm_text_init(&t);
    run(&t, "Tom &amp; Jerry &gt; Acme", 0);
    assert_string_equal(t.norm.data, "tom & jerry > acme");
    assert_int_equal(flags_of(&t, 1, "&"), P | SP);

    run(&t, "I &lt;3 Acme", 0);
    assert_string_equal(t.norm.data, "i <3 acme");
    assert_int_equal(t.ntok, 3);
    assert_int_equal(flags_of(&t, 1, "<3"), E | SP);

    run(&t, "&quot;Acme&quot; &apos;printers&apos;", 0);
    assert_string_equal(t.norm.data, "\"acme\" 'printers'");
    bm_text_release(&t);
}

static void test_entity_edges(void **state)
{
    struct bm_text t;
    char buf[512];

    (void)state;
    /* Double-escaped decodes once. */
    expect_norm("&amp;amp;", 0, "&amp;");
    expect_toks("&amp;amp;", 0, "&|amp|;");
    expect_norm("&#39; &#x27; &#X27; &#00039;", 0, "' ' ' '");
    expect_norm("don&#x2019;t don&#146;t", 0, "don't don't");
    expect_norm("&eacute;t&eacute; &Eacute;T&Eacute; na&iuml;ve", 0,
                "\xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9 na\xc3\xafve");
    expect_norm("&copy; &euro;5 &hellip;", 0,
                "\xc2\xa9 \xe2\x82\xac"
                "5 ...");
    expect_norm("a&mdash;b", 0,
                "a\xe2\x80\x94"
                "b");
    /* Zero, surrogate and out-of-range references become U+FFFD. */
    expect_norm("&#0; &#xD800; &#x110000; &#99999999999999999999;", 0,
                "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
    /* Unknown or unterminated references are text. */
    expect_norm("&bogus; &amp &#; &#x; &#12 &#xZZ; & a&", 0,
                "&bogus; &amp &#; &#x; &#12 &#xzz; & a&");
    /* Names are case-sensitive: &AMP; is not in the table. */
    expect_norm("&AMP;", 0, "&amp;");
    expect_toks("&AMP;", 0, "&|amp|;");
    /* Too long to be a name. */
    expect_norm("&abcdefghijklmnop;", 0, "&abcdefghijklmnop;");

    /* &nbsp; is white space. */
    bm_text_init(&t);
    run(&t, "acme&nbsp;printers", 0);
    assert_string_equal(toks(&t, buf, sizeof(buf)), "acme|printers");
    assert_int_equal(flags_of(&t, 1, "printers"), W | SP);
    /* U+FFFD from a reference is not a UTF-8 replacement. */
    run(&t, "&#0;", 0);
    assert_int_equal(t.replaced, 0);
    /* A reference cut by the end of input is text. */
    assert_int_equal(bm_text_normalise(&t, "&amp;", 4, 0), 0);
    check_invariants(&t);
    assert_string_equal(t.norm.data, "&amp");
    bm_text_release(&t);
}

static void test_invalid_utf8(void **state)
{
    static const struct {
        const char *in;
        const char *norm;
        uint32_t replaced;
    } cases[] = {
        /* lone continuation byte */
        { "a\x80z", "a\xef\xbf\xbdz", 1 },
        /* overlong '/' in two and in three bytes */
        { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", 2 },
        { "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3 },
        /* UTF-16 surrogate U+D800 */
        { "x\xed\xa0\x80y", "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy", 3 },
        /* above U+10FFFF */
        { "\xf4\x90\x80\x80",
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4 },
        /* truncated at the end: one replacement for the maximal subpart */
        { "acme\xe2\x82", "acme\xef\xbf\xbd", 1 },
        { "acme\xf0\x9f\x98", "acme\xef\xbf\xbd", 1 },
        /* truncated in the middle */
        { "a\xe2\x82 b", "a\xef\xbf\xbd b", 1 },
        /* bytes that never appear */
        { "\xfe\xff", "\xef\xbf\xbd\xef\xbf\xbd", 2 },
    };
    struct bm_text t;
    size_t i;

    (void)state;
    bm_text_init(&t);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(&t, cases[i].in, 0);
        assert_string_equal(t.norm.data, cases[i].norm);
        assert_int_equal(t.replaced, cases[i].replaced);
        assert_false(bm_utf8_is_valid(cases[i].in, strlen(cases[i].in)));
        assert_true(bm_utf8_is_valid(t.norm.data, t.norm.len));
    }
    /* Every byte value on its own: never a crash, always valid output. */
    for (i = 0; i < 256; i++) {
        char c = (char)i;

        assert_int_equal(bm_text_normalise(&t, &c, 1, BM_TEXT_HTML), 0);
        check_invariants(&t);
        assert_true(bm_utf8_is_valid(t.norm.data, t.norm.len));
        assert_int_equal(t.replaced, i >= 0x80 ? 1 : 0);
    }
    bm_text_release(&t);
}

static void test_utf8_is_valid(void **state)
{
    (void)state;
    assert_true(bm_utf8_is_valid("", 0));
    assert_true(bm_utf8_is_valid("plain ascii", 11));
    assert_true(bm_utf8_is_valid("\xc2\x80", 2));         /* U+0080 */
    assert_true(bm_utf8_is_valid("\xed\x9f\xbf", 3));     /* U+D7FF */
    assert_true(bm_utf8_is_valid("\xee\x80\x80", 3));     /* U+E000 */
    assert_true(bm_utf8_is_valid("\xf0\x9f\x98\x80", 4)); /* emoji */
    assert_true(bm_utf8_is_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    assert_true(bm_utf8_is_valid("a\0b", 3));             /* NUL is valid */
    assert_false(bm_utf8_is_valid("\x80", 1));
    assert_false(bm_utf8_is_valid("\xc1\xbf", 2));         /* overlong */
    assert_false(bm_utf8_is_valid("\xe0\x9f\xbf", 3));     /* overlong */
    assert_false(bm_utf8_is_valid("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    assert_false(bm_utf8_is_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(bm_utf8_is_valid("\xed\xbf\xbf", 3));     /* surrogate */
    assert_false(bm_utf8_is_valid("\xf4\x90\x80\x80", 4)); /* > 10FFFF */
    assert_false(bm_utf8_is_valid("\xf5\x80\x80\x80", 4));
    assert_false(bm_utf8_is_valid("\xe2\x82", 2));         /* truncated */
    assert_false(bm_utf8_is_valid("\xf0\x9f\x98\x80", 3)); /* cut by len */
    assert_false(bm_utf8_is_valid("\xe2\x28\xa1", 3));     /* bad 2nd */
}

static void test_emoji(void **state)
{
    struct bm_text t;

    (void)state;
    bm_text_init(&t);
    /* woman + skin tone + ZWJ + laptop: the two base emoji */
    run(&t, "\xf0\x9f\x91\xa9\xf0\x9f\x8f\xbd\xe2\x80\x8d\xf0\x9f\x92\xbb", 0);
    assert_int_equal(t.ntok, 2);
    assert_int_equal(flags_of(&t, 0, "\xf0\x9f\x91\xa9"), P | J);
    assert_int_equal(flags_of(&t, 1, "\xf0\x9f\x92\xbb"), P | J);

    /* thumbs up + skin tone, heart + VS16, family of three, a flag */
    run(&t,
        "acme \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbf \xe2\x9d\xa4\xef\xb8\x8f "
        "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91"
        "\xa7 \xf0\x9f\x87\xba\xf0\x9f\x87\xb8",
        0);
    assert_string_equal(t.norm.data,
                        "acme \xf0\x9f\x91\x8d \xe2\x9d\xa4 "
                        "\xf0\x9f\x91\xa8\xf0\x9f\x91\xa9\xf0\x9f\x91\xa7 "
                        "\xf0\x9f\x87\xba\xf0\x9f\x87\xb8");
    assert_int_equal(t.ntok, 8);
    assert_int_equal(flags_of(&t, 1, "\xf0\x9f\x91\x8d"), P | J | SP);
    assert_int_equal(flags_of(&t, 2, "\xe2\x9d\xa4"), P | J | SP);
    assert_int_equal(flags_of(&t, 4, "\xf0\x9f\x91\xa9"), P | J);

    /* ★ U+2605 and ⭐ U+2B50 are in the ranges; © is a symbol only. */
    run(&t, "\xe2\x98\x85\xe2\xad\x90\xc2\xa9", 0);
    assert_int_equal(t.ntok, 3);
    assert_int_equal(flags_of(&t, 0, "\xe2\x98\x85"), P | J);
    assert_int_equal(flags_of(&t, 1, "\xe2\xad\x90"), P | J);
    assert_int_equal(flags_of(&t, 2, "\xc2\xa9"), P);

    /* An emoji ends a word; a zero-width joiner inside a word does not. */
    run(&t, "acme\xf0\x9f\x98\xa1 ac\xe2\x80\x8bme", 0);
    assert_string_equal(t.norm.data, "acme\xf0\x9f\x98\xa1 acme");
    bm_text_release(&t);
}

static void test_emoticons(void **state)
{
    /* Every emoticon in the table of text.c. */
    static const char *const all[] = {
        ":)",  ":-)", ":]",  "=)",  ":D",  ":-D", "=D",  "xD",   "XD",  "^^",
        "^_^", ":3",  ":')", ";)",  ";-)", ";D",  ";P",  ":P",   ":-P", ":p",
        ":-p", "xP",  ":(",  ":-(", ":[",  "=(",  ":'(", ":'-(", "D:",  "T_T",
        ";_;", ">:(", ":/",  ":-/", ":\\", ":|",  ":-|", "-_-",  "o_O", "O_o",
        ":O",  ":-O", ":o",  ":*",  ":-*", "<3",  "</3",
    };
    struct bm_text t;
    char in[32];
    size_t i, k;

    (void)state;
    bm_text_init(&t);
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        run(&t, all[i], 0);
        assert_int_equal(t.ntok, 1);
        assert_int_equal(flags_of(&t, 0, all[i]), E);
        snprintf(in, sizeof(in), "ok %s\nok", all[i]);
        run(&t, in, 0);
        assert_int_equal(t.ntok, 3);
        assert_int_equal(flags_of(&t, 1, all[i]), E | SP);
        /* glued to a word it is no emoticon */
        snprintf(in, sizeof(in), "a%s", all[i]);
        run(&t, in, 0);
        for (k = 0; k < t.ntok; k++)
            assert_int_equal(t.tok[k].flags & E, 0);
    }
    /* Unbounded: no emoticon. */
    expect_toks("a:)", 0, "a|:|)");
    expect_toks(":)b", 0, ":|)|b");
    expect_toks("(see: D)", 0, "(|see|:|d|)");
    expect_toks("great :).", 0, "great|:|)|.");
    expect_toks("xDD", 0, "xdd");
    expect_toks("http://acme", 0, "http|:|/|/|acme");
    /* Bounded by any white space, and written as in the source. */
    run(&t, "great\xc2\xa0:P\xe3\x80\x80XD", 0);
    assert_int_equal(t.ntok, 3);
    assert_int_equal(flags_of(&t, 1, ":P"), E | SP);
    assert_int_equal(flags_of(&t, 2, "XD"), E | SP);
    bm_text_release(&t);
}

static void test_spaceless_scripts(void **state)
{
    struct bm_text t;
    char buf[1024];

    (void)state;
    bm_text_init(&t);
    /* 日本語のアクメプリンター */
    run(&t,
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x82\xa2\xe3\x82"
        "\xaf\xe3\x83\xa1\xe3\x83\x97\xe3\x83\xaa\xe3\x83\xb3\xe3\x82\xbf\xe3"
        "\x83\xbc",
        0);
    assert_int_equal(t.ntok, 12);
    assert_int_equal(flags_of(&t, 0, "\xe6\x97\xa5"), W);
    assert_int_equal(flags_of(&t, 11, "\xe3\x83\xbc"), W); /* ー */
    assert_string_equal(t.norm.data,
                        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3"
                        "\x82\xa2\xe3\x82\xaf\xe3\x83\xa1\xe3\x83\x97\xe3\x83"
                        "\xaa\xe3\x83\xb3\xe3\x82\xbf\xe3\x83\xbc");
    /* Chinese next to Latin: 用Acme打印 */
    run(&t,
        "\xe7\x94\xa8"
        "Acme\xe6\x89\x93\xe5\x8d\xb0",
        0);
    assert_string_equal(toks(&t, buf, sizeof(buf)),
                        "\xe7\x94\xa8|acme|\xe6\x89\x93|\xe5\x8d\xb0");
    assert_string_equal(t.norm.data, "\xe7\x94\xa8"
                                     "acme\xe6\x89\x93\xe5\x8d\xb0");
    /* Korean keeps its words: 삼성전자는 좋아요 */
    run(&t,
        "\xec\x82\xbc\xec\x84\xb1\xec\xa0\x84\xec\x9e\x90\xeb\x8a\x94 \xec\xa2"
        "\x8b\xec\x95\x84\xec\x9a\x94",
        0);
    assert_int_equal(t.ntok, 2);
    assert_int_equal(flags_of(&t, 0,
                              "\xec\x82\xbc\xec\x84\xb1\xec\xa0\x84\xec\x9e\x90"
                              "\xeb\x8a\x94"),
                     W);
    /* Halfwidth katakana: ｱｸﾒ -> アクメ, and ｶﾞ -> ガ in one token */
    run(&t, "\xef\xbd\xb1\xef\xbd\xb8\xef\xbe\x92 \xef\xbd\xb6\xef\xbe\x9e", 0);
    assert_string_equal(toks(&t, buf, sizeof(buf)),
                        "\xe3\x82\xa2|\xe3\x82\xaf|\xe3\x83\xa1|\xe3\x82\xac");
    /* Thai: a consonant keeps its vowel mark: สวัสดี -> ส วั ส ดี */
    run(&t,
        "\xe0\xb8\xaa\xe0\xb8\xa7\xe0\xb8\xb1\xe0\xb8\xaa\xe0\xb8\x94\xe0"
        "\xb8\xb5",
        0);
    assert_string_equal(toks(&t, buf, sizeof(buf)),
                        "\xe0\xb8\xaa|\xe0\xb8\xa7\xe0\xb8\xb1|\xe0\xb8\xaa|"
                        "\xe0\xb8\x94\xe0\xb8\xb5");
    /* A CJK compatibility ideograph folds to the unified one (U+F900). */
    run(&t, "\xef\xa4\x80", 0);
    assert_string_equal(t.norm.data, "\xe8\xb1\x88");
    /* A hashtag keeps its CJK characters together: #日本 */
    run(&t, "#\xe6\x97\xa5\xe6\x9c\xac", 0);
    assert_int_equal(t.ntok, 1);
    assert_int_equal(flags_of(&t, 0, "#\xe6\x97\xa5\xe6\x9c\xac"), H);
    bm_text_release(&t);
}

static void test_apostrophes(void **state)
{
    struct bm_text t;

    (void)state;
    expect_toks("don't", 0, "don't");
    expect_toks("don\xe2\x80\x99t", 0, "don't");
    expect_norm("don\xe2\x80\x99t", 0, "don't");
    expect_toks("acme's", 0, "acme|'s");
    expect_toks("acme\xe2\x80\x99s", 0, "acme|'s");
    expect_norm("acme\xe2\x80\x99s printer", 0, "acme's printer");
    expect_toks("ACME'S.", 0, "acme|'s|.");
    expect_toks("caf\xc3\xa9's", 0, "caf\xc3\xa9|'s");
    expect_toks("90's", 0, "90|'s");
    expect_toks("rock'n'roll", 0, "rock'n'roll");
    expect_toks("acme'sville", 0, "acme'sville");
    expect_toks("'quoted'", 0, "'|quoted|'");
    expect_toks("dogs' bowls", 0, "dogs|'|bowls");
    expect_toks("it''s", 0, "it|'|'|s");
    expect_toks("wi-fi", 0, "wi|-|fi");
    expect_toks("@acme's", 0, "@acme|'s");

    bm_text_init(&t);
    run(&t, "Acme's", 0);
    assert_int_equal(flags_of(&t, 0, "acme"), W);
    assert_int_equal(flags_of(&t, 1, "'s"), W);
    run(&t, "WI-FI", 0);
    assert_int_equal(flags_of(&t, 0, "wi"), W | CAPS);
    assert_int_equal(flags_of(&t, 1, "-"), P);
    assert_int_equal(flags_of(&t, 2, "fi"), W | CAPS);
    /* A curly apostrophe standing alone is stored as ' as well. */
    run(&t, "\xe2\x80\x98hi\xe2\x80\x99", 0);
    assert_string_equal(t.norm.data, "\xe2\x80\x98hi'");
    bm_text_release(&t);
}

static void test_mentions_hashtags(void **state)
{
    struct bm_text t;

    (void)state;
    bm_text_init(&t);
    run(&t, "@AcmeSupport #Acme_Printers (@acme) user@example.com", 0);
    assert_string_equal(t.norm.data,
                        "@acmesupport #acme_printers (@acme) user@example.com");
    assert_int_equal(flags_of(&t, 0, "@acmesupport"), M);
    assert_int_equal(flags_of(&t, 1, "#acme_printers"), H | SP);
    assert_int_equal(flags_of(&t, 2, "("), P | SP);
    assert_int_equal(flags_of(&t, 3, "@acme"), M);
    assert_int_equal(flags_of(&t, 5, "user"), W | SP);
    assert_int_equal(flags_of(&t, 6, "@"), P);
    assert_int_equal(flags_of(&t, 7, "example"), W);

    /* Not followed by a word character: punctuation. */
    run(&t, "@ acme # 1 #", 0);
    assert_int_equal(flags_of(&t, 0, "@"), P);
    assert_int_equal(flags_of(&t, 2, "#"), P | SP);
    assert_int_equal(flags_of(&t, 4, "#"), P | SP);

    /* ##acme: the first '#' is punctuation, the second a hashtag. */
    run(&t, "##acme", 0);
    assert_int_equal(flags_of(&t, 0, "#"), P);
    assert_int_equal(flags_of(&t, 1, "#acme"), H);

    /* Fullwidth sigils and names fold to ASCII. */
    run(&t,
        "\xef\xbc\xa0\xef\xbd\x81\xef\xbd\x83\xef\xbd\x8d\xef\xbd\x85 "
        "\xef\xbc\x83\xef\xbc\xa1\xef\xbc\xa3\xef\xbc\xad\xef\xbc\xa5",
        0);
    assert_string_equal(t.norm.data, "@acme #acme");
    assert_int_equal(flags_of(&t, 0, "@acme"), M);
    assert_int_equal(flags_of(&t, 1, "#acme"), H | CAPS | SP);

    /* A hashtag after an emoji or CJK text still counts. */
    run(&t, "\xf0\x9f\x98\xa1#fail \xe6\x97\xa5#acme", 0);
    assert_int_equal(flags_of(&t, 1, "#fail"), H);
    assert_int_equal(flags_of(&t, 3, "#acme"), H);
    bm_text_release(&t);
}

static void test_space_flags(void **state)
{
    struct bm_text t;

    (void)state;
    bm_text_init(&t);
    run(&t,
        "  a b\tc\nd\r\ne\xe2\x80\xa8"
        "f\xc2\xa0g\xe3\x80\x80h\xe2\x80\x89i\x0bj\x01k\xc2\x85l",
        0);
    assert_string_equal(t.norm.data, "a b c d e f g h i j k l");
    assert_int_equal(t.ntok, 12);
    assert_int_equal(flags_of(&t, 0, "a"), W | SP); /* leading space */
    assert_int_equal(flags_of(&t, 1, "b"), W | SP);
    assert_int_equal(flags_of(&t, 2, "c"), W | SP);
    assert_int_equal(flags_of(&t, 3, "d"), W | SP | NL);
    assert_int_equal(flags_of(&t, 4, "e"), W | SP | NL);
    assert_int_equal(flags_of(&t, 5, "f"), W | SP | NL);  /* U+2028 */
    assert_int_equal(flags_of(&t, 6, "g"), W | SP);       /* NBSP */
    assert_int_equal(flags_of(&t, 7, "h"), W | SP);       /* U+3000 */
    assert_int_equal(flags_of(&t, 8, "i"), W | SP);       /* thin space */
    assert_int_equal(flags_of(&t, 9, "j"), W | SP | NL);  /* \v */
    assert_int_equal(flags_of(&t, 10, "k"), W | SP);      /* a control */
    assert_int_equal(flags_of(&t, 11, "l"), W | SP | NL); /* NEL */

    run(&t, "ab,cd!", 0);
    assert_int_equal(flags_of(&t, 1, ","), P);
    assert_int_equal(flags_of(&t, 2, "cd"), W);
    run(&t, "x \n\n  \t y  ", 0);
    assert_string_equal(t.norm.data, "x y");
    assert_int_equal(flags_of(&t, 1, "y"), W | SP | NL);
    bm_text_release(&t);
}

static void test_norm_exact(void **state)
{
    (void)state;
    expect_norm("", 0, "");
    expect_norm(" \n\t ", 0, "");
    expect_norm("   Acme   Printers   ", 0, "acme printers");
    expect_norm("My #Acme X200 jammed AGAIN!!! :( @AcmeSupport fix it", 0,
                "my #acme x200 jammed again!!! :( @acmesupport fix it");
    expect_norm("Beep beep, the road runner beat the acme anvil", 0,
                "beep beep, the road runner beat the acme anvil");
    expect_norm("Does Acme make a wide-format printer?", 0,
                "does acme make a wide-format printer?");
    expect_norm("Zweimal in einem Monat, langsam reicht&#39;s.", BM_TEXT_HTML,
                "zweimal in einem monat, langsam reicht's.");
    expect_norm("\xef\xbc\xa1\xef\xbd\x83\xef\xbd\x8d\xef\xbd\x85\xe3\x80\x80"
                "\xef\xbc\xb0\xef\xbd\x92\xef\xbd\x89\xef\xbd\x8e\xef\xbd\x94",
                0, "acme print");
    expect_norm("soft\xc2\xadhyphen ac\xe2\x80\x8dme", 0, "softhyphen acme");
}

static void test_nul_and_length(void **state)
{
    struct bm_text t;

    (void)state;
    bm_text_init(&t);
    /* The input need not be NUL-terminated, and may hold NUL bytes. */
    assert_int_equal(bm_text_normalise(&t, "acme printers", 4, 0), 0);
    check_invariants(&t);
    assert_string_equal(t.norm.data, "acme");
    assert_int_equal(bm_text_normalise(&t, "ac\0me", 5, 0), 0);
    check_invariants(&t);
    assert_string_equal(t.norm.data, "ac me");
    assert_int_equal(bm_text_normalise(&t, NULL, 0, BM_TEXT_HTML), 0);
    check_invariants(&t);
    assert_string_equal(t.norm.data, "");
    assert_int_equal(t.ntok, 0);
    bm_text_release(&t);
}

static void test_long_input(void **state)
{
    const size_t big = 300 * 1024;
    struct bm_text t;
    char *in = malloc(big);
    size_t i;

    (void)state;
    assert_non_null(in);
    bm_text_init(&t);

    /* "word " repeated: cut at 256 KiB, inside the last word. */
    for (i = 0; i < big; i++)
        in[i] = "word "[i % 5];
    assert_int_equal(bm_text_normalise(&t, in, big, 0), 0);
    check_invariants(&t);
    assert_int_equal(t.ntok, BM_TEXT_MAX_INPUT / 5 + 1);
    assert_true(t.norm.len <= BM_TEXT_MAX_INPUT);

    /* € (3 bytes) repeated: the cut falls inside a character and backs up,
     * so nothing is replaced. */
    for (i = 0; i + 3 <= big; i += 3)
        memcpy(in + i, "\xe2\x82\xac", 3);
    assert_int_equal(bm_text_normalise(&t, in, i, 0), 0);
    check_invariants(&t);
    assert_int_equal(t.replaced, 0);
    assert_int_equal(t.ntok, BM_TEXT_MAX_INPUT / 3);
    assert_true(bm_utf8_is_valid(t.norm.data, t.norm.len));

    /* 300 KB of bytes that are all invalid, in HTML mode. */
    memset(in, 0xff, big);
    assert_int_equal(bm_text_normalise(&t, in, big, BM_TEXT_HTML), 0);
    check_invariants(&t);
    assert_int_equal(t.replaced, BM_TEXT_MAX_INPUT);
    assert_int_equal(t.ntok, BM_TEXT_MAX_INPUT);

    /* An unterminated tag swallows the rest, however long. */
    memset(in, 'a', big);
    memcpy(in, "ok <b ", 6);
    assert_int_equal(bm_text_normalise(&t, in, big, BM_TEXT_HTML), 0);
    check_invariants(&t);
    assert_string_equal(t.norm.data, "ok");

    /* One giant non-ASCII word folds in one piece. */
    for (i = 0; i + 2 <= big; i += 2)
        memcpy(in + i, "\xc3\x89", 2); /* É */
    assert_int_equal(bm_text_normalise(&t, in, i, 0), 0);
    check_invariants(&t);
    assert_int_equal(t.ntok, 1);
    assert_int_equal(t.norm.len, BM_TEXT_MAX_INPUT);
    assert_memory_equal(t.norm.data, "\xc3\xa9\xc3\xa9", 4);
    assert_int_equal(t.tok[0].flags, W | CAPS);

    bm_text_release(&t);
    free(in);
}

static void test_reuse(void **state)
{
    static const struct {
        const char *in;
        unsigned opts;
    } posts[] = {
        { "Acme's X200 is the WORST \xf0\x9f\x98\xa1 #fail", 0 },
        { "", 0 },
        { mastodon_html, BM_TEXT_HTML },
        { "Stra\xc3\x9f"
          "e &amp; Caf\xc3\xa9 :) \xe6\x97\xa5\xe6\x9c\xac",
          0 },
        { "bad \xff\xfe utf8 \xe2\x82", 0 },
        { "  ", BM_TEXT_HTML },
        { "\xef\xbc\xa1\xef\xbd\x83\xef\xbd\x8d\xef\xbd\x85 don\xe2\x80\x99t",
          0 },
    };
    enum { NPOSTS = sizeof(posts) / sizeof(posts[0]) };
    struct bm_text fresh[NPOSTS], t;
    char *big;
    size_t i, round, k;

    (void)state;
    for (i = 0; i < NPOSTS; i++) {
        bm_text_init(&fresh[i]);
        run(&fresh[i], posts[i].in, posts[i].opts);
    }
    big = malloc(100000);
    assert_non_null(big);
    memset(big, 'x', 100000);
    bm_text_init(&t);
    for (round = 0; round < 200; round++) {
        if (round % 50 == 0) {
            assert_int_equal(bm_text_normalise(&t, big, 100000, 0), 0);
            assert_int_equal(t.ntok, 1);
        }
        for (k = 0; k < NPOSTS; k++) {
            i = (k * 3 + round) % NPOSTS;
            run(&t, posts[i].in, posts[i].opts);
            assert_string_equal(t.norm.data, fresh[i].norm.data);
            assert_int_equal(t.ntok, fresh[i].ntok);
            assert_int_equal(t.replaced, fresh[i].replaced);
            assert_memory_equal(t.tok, fresh[i].tok,
                                t.ntok * sizeof(struct bm_token));
        }
    }
    /* A reused bm_text stops growing. */
    {
        size_t cap = t.norm.cap, scap = t.scratch.cap, tcap = t.tokcap;

        for (i = 0; i < NPOSTS; i++)
            run(&t, posts[i].in, posts[i].opts);
        assert_int_equal(t.norm.cap, cap);
        assert_int_equal(t.scratch.cap, scap);
        assert_int_equal(t.tokcap, tcap);
    }
    bm_text_release(&t);
    assert_null(t.tok);
    assert_null(t.norm.data);
    for (i = 0; i < NPOSTS; i++)
        bm_text_release(&fresh[i]);
    free(big);
}

static void test_kinds(void **state)
{
    struct bm_text t;
    size_t i;

    (void)state;
    /* Every token has exactly one kind. */
    bm_text_init(&t);
    run(&t, mastodon_html, BM_TEXT_HTML);
    for (i = 0; i < t.ntok; i++) {
        uint32_t kind = t.tok[i].flags & (W | P | M | H | E);

        assert_true(kind == W || kind == P || kind == M || kind == H ||
                    kind == E);
        assert_int_equal(t.tok[i].flags & ~(KIND_MASK | SP | NL), 0);
    }
    bm_text_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fullwidth),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_casefold),
        cmocka_unit_test(test_combining),
        cmocka_unit_test(test_mastodon_html),
        cmocka_unit_test(test_html_tags),
        cmocka_unit_test(test_x_entities),
        cmocka_unit_test(test_entity_edges),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_utf8_is_valid),
        cmocka_unit_test(test_emoji),
        cmocka_unit_test(test_emoticons),
        cmocka_unit_test(test_spaceless_scripts),
        cmocka_unit_test(test_apostrophes),
        cmocka_unit_test(test_mentions_hashtags),
        cmocka_unit_test(test_space_flags),
        cmocka_unit_test(test_norm_exact),
        cmocka_unit_test(test_nul_and_length),
        cmocka_unit_test(test_long_input),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_kinds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
