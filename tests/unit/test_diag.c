/* test_diag.c - positioned errors and "did you mean" (brandmon/diag.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "brandmon/diag.h"

static void test_set_and_format(void **state)
{
    struct bm_diag d;
    char out[256];

    (void)state;
    assert_int_equal(bm_diag_set(&d, "rules/acme.yaml", 14, 9,
                                 "unknown condition '%s'", "sentimnet"),
                     -EINVAL);
    assert_string_equal(d.file, "rules/acme.yaml");
    assert_int_equal(d.line, 14);
    assert_int_equal(d.col, 9);
    assert_string_equal(d.msg, "unknown condition 'sentimnet'");
    bm_diag_format(&d, out, sizeof(out));
    assert_string_equal(out,
                        "rules/acme.yaml:14:9: unknown condition 'sentimnet'");
}

static void test_format_without_position(void **state)
{
    struct bm_diag d;
    char out[256];

    (void)state;
    bm_diag_set(&d, "a.yaml", 3, 0, "bad");
    bm_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "a.yaml:3: bad");
    bm_diag_set(&d, "a.yaml", 0, 0, "empty file");
    bm_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "a.yaml: empty file");
    bm_diag_set(&d, NULL, 0, 0, "no file");
    bm_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "no file");
}

static void test_set_null_and_truncation(void **state)
{
    struct bm_diag d;
    char longname[BM_DIAG_FILE_MAX * 2];
    char small[12];

    (void)state;
    assert_int_equal(bm_diag_set(NULL, "x", 1, 1, "ignored"), -EINVAL);
    memset(longname, 'f', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    bm_diag_set(&d, longname, 1, 2, "%s", "m");
    assert_int_equal(strlen(d.file), BM_DIAG_FILE_MAX - 1);
    bm_diag_set(&d, "file.yaml", 1, 2, "message");
    bm_diag_format(&d, small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_string_equal(small, "file.yaml:1");
}

static const char *const conditions[] = {
    "terms",      "statement", "regex",  "sentiment", "intent",
    "followers",  "lang",      "source", "reply",     "repost",
    "competitor", "field",     NULL,
};

static void test_suggest(void **state)
{
    (void)state;
    /* Transposition counts as one edit. */
    assert_string_equal(bm_diag_suggest("sentimnet", conditions), "sentiment");
    assert_string_equal(bm_diag_suggest("term", conditions), "terms");
    assert_string_equal(bm_diag_suggest("folowers", conditions), "followers");
    assert_string_equal(bm_diag_suggest("regx", conditions), "regex");
    /* Case-insensitive equality always suggests, whatever the length. */
    assert_string_equal(bm_diag_suggest("COMPETITOR", conditions),
                        "competitor");
    /* Too far. */
    assert_null(bm_diag_suggest("banana", conditions));
    assert_null(bm_diag_suggest("sentimentalist", conditions));
    /* Two edits is still a typo. */
    assert_string_equal(bm_diag_suggest("sentimental", conditions),
                        "sentiment");
    assert_null(bm_diag_suggest("", conditions));
    assert_null(bm_diag_suggest(NULL, conditions));
}

static void test_suggest_ties_and_closest(void **state)
{
    static const char *const c1[] = { "abcd", "abce", "abcx", NULL };
    static const char *const c2[] = { "helo", "hello", NULL };
    static const char *const c3[] = { "xbcd", "abc", NULL };
    static const char *const none[] = { NULL };
    static const char *const short_words[] = { "cd", "abcd", "y", NULL };

    (void)state;
    /* Equal distance: the first in list order wins. */
    assert_string_equal(bm_diag_suggest("abcz", c1), "abcd");
    /* The closer candidate wins even when it comes later. */
    assert_string_equal(bm_diag_suggest("hello", c2), "hello");
    assert_string_equal(bm_diag_suggest("abc", c3), "abc");
    assert_null(bm_diag_suggest("abc", none));
    /* A distance of at least the word's length is no hint: "ab" -> "cd"
     * and "ab" -> "abcd" are 2 edits, "x" -> "y" is 1. */
    assert_null(bm_diag_suggest("ab", short_words));
    assert_null(bm_diag_suggest("x", short_words));
    assert_string_equal(bm_diag_suggest("abc", short_words), "abcd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_format),
        cmocka_unit_test(test_format_without_position),
        cmocka_unit_test(test_set_null_and_truncation),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_suggest_ties_and_closest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
