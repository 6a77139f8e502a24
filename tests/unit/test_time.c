/* test_time.c - ISO 8601 timestamps (brandmon/time.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "brandmon/time.h"

/* 2025-03-14T09:00:03Z */
#define T0 1741942803000LL

static int64_t parse_ok(const char *s)
{
    int64_t ms = -1;

    assert_int_equal(bm_time_parse_iso8601(s, &ms), 0);
    return ms;
}

static void test_parse_forms(void **state)
{
    (void)state;
    assert_true(parse_ok("2025-03-14T09:00:03Z") == T0);
    assert_true(parse_ok("2025-03-14T09:00:03.412Z") == T0 + 412);
    assert_true(parse_ok("2025-03-14T09:00:03.000Z") == T0);
    assert_true(parse_ok("2025-03-14T09:00:03.4Z") == T0 + 400);
    assert_true(parse_ok("2025-03-14T09:00:03.41Z") == T0 + 410);
    /* Digits past milliseconds are cut, not rounded. */
    assert_true(parse_ok("2025-03-14T09:00:03.412999Z") == T0 + 412);
    assert_true(parse_ok("2025-03-14T10:00:03+01:00") == T0);
    assert_true(parse_ok("2025-03-14T04:30:03-04:30") == T0);
    assert_true(parse_ok("2025-03-14T10:00:03+0100") == T0);
    assert_true(parse_ok("2025-03-14T10:00:03+01") == T0);
    assert_true(parse_ok("2025-03-14T09:00:03+00:00") == T0);
    assert_true(parse_ok("2025-03-14 09:00:03z") == T0);
    assert_true(parse_ok("2025-03-14t09:00:03Z") == T0);
    /* No zone is read as UTC. */
    assert_true(parse_ok("2025-03-14T09:00:03") == T0);
    /* An offset can move the date. */
    assert_true(parse_ok("2025-03-15T01:00:03+16:00") == T0);
}

static void test_parse_calendar(void **state)
{
    (void)state;
    assert_true(parse_ok("1970-01-01T00:00:00Z") == 0);
    assert_true(parse_ok("1969-12-31T23:59:59.999Z") == -1);
    assert_true(parse_ok("2000-02-29T00:00:00Z") == 951782400000LL);
    assert_true(parse_ok("2024-02-29T12:00:00Z") == 1709208000000LL);
    assert_true(parse_ok("2000-03-01T00:00:00Z") == 951868800000LL);
    assert_true(parse_ok("1900-03-01T00:00:00Z") == -2203891200000LL);
    assert_true(parse_ok("1600-01-01T00:00:00Z") == -11676096000000LL);
    assert_true(parse_ok("9999-12-31T23:59:59Z") == 253402300799000LL);
    assert_true(parse_ok("0000-01-01T00:00:00Z") == -62167219200000LL);
    /* A leap second counts as the next second. */
    assert_true(parse_ok("2016-12-31T23:59:60Z") == 1483228800000LL);
}

static void test_parse_matches_timegm_sweep(void **state)
{
    int64_t y, ms;
    char s[40];
    struct tm tm;
    unsigned m;

    (void)state;
    /* The 28th of every month over four centuries against the C library
     * (only as an oracle in the test; the code does not use timegm). */
    for (y = 1800; y < 2200; y++) {
        for (m = 1; m <= 12; m++) {
            memset(&tm, 0, sizeof(tm));
            tm.tm_year = (int)(y - 1900);
            tm.tm_mon = (int)m - 1;
            tm.tm_mday = 28;
            tm.tm_hour = 13;
            snprintf(s, sizeof(s), "%04d-%02u-28T13:00:00Z", (int)y, m);
            ms = parse_ok(s);
            assert_true(ms == (int64_t)timegm(&tm) * 1000);
        }
    }
}

static void test_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "2025-03-14",
        "2025-03-14T09:00Z",
        "2025-3-14T09:00:03Z",
        "2025-03-14T09:00:03ZZ",
        "2025-03-14T09:00:03.Z",
        "2025-03-14T09:00:03 Z",
        "2025-13-14T09:00:03Z",
        "2025-00-14T09:00:03Z",
        "2025-02-29T09:00:03Z",
        "1900-02-29T09:00:03Z",
        "2025-04-31T09:00:03Z",
        "2025-03-00T09:00:03Z",
        "2025-03-14T24:00:00Z",
        "2025-03-14T09:60:03Z",
        "2025-03-14T09:00:61Z",
        "2025-03-14T09:00:03+1:00",
        "2025-03-14T09:00:03+01:",
        "2025-03-14T09:00:03+01:60",
        "2025-03-14T09:00:03+24:00",
        "2025-03-14X09:00:03Z",
        "Fri, 14 Mar 2025 09:00:03 GMT",
        "2025-03-14T09:00:03Z trailing",
    };
    int64_t ms = 77;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bm_time_parse_iso8601(bad[i], &ms) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(ms, 77); /* untouched on failure */
    assert_int_equal(bm_time_parse_iso8601(NULL, &ms), -EINVAL);
    assert_int_equal(bm_time_parse_iso8601("2025-03-14T09:00:03Z", NULL),
                     -EINVAL);
}

static void check_format(int64_t ms, const char *want)
{
    char out[32];

    memset(out, 'x', sizeof(out));
    bm_time_format_iso8601(ms, out);
    assert_string_equal(out, want);
}

static void test_format(void **state)
{
    (void)state;
    check_format(T0 + 412, "2025-03-14T09:00:03.412Z");
    check_format(0, "1970-01-01T00:00:00.000Z");
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(951782400000LL, "2000-02-29T00:00:00.000Z");
    check_format(1741945090500LL, "2025-03-14T09:38:10.500Z");
    check_format(253402300799999LL, "9999-12-31T23:59:59.999Z");
    check_format(-62167219200000LL, "0000-01-01T00:00:00.000Z");
    assert_int_equal(strlen("2025-03-14T09:00:03.412Z") + 1, 25);
}

static void test_round_trip(void **state)
{
    char out[32];
    int64_t ms, back;

    (void)state;
    /* Steps that are not a divisor of a day, across eras both sides of
     * 1970. */
    for (ms = -12219292800000LL; ms < 4102444800000LL; ms += 7777777777LL) {
        bm_time_format_iso8601(ms, out);
        assert_int_equal(bm_time_parse_iso8601(out, &back), 0);
        assert_true(back == ms);
    }
}

static void test_now(void **state)
{
    int64_t now = bm_time_now_ms();

    (void)state;
    /* After 2025-01-01 and within a day of time(). */
    assert_true(now > 1735689600000LL);
    assert_true(now / 1000 - (int64_t)time(NULL) < 86400);
    assert_true((int64_t)time(NULL) - now / 1000 < 86400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_calendar),
        cmocka_unit_test(test_parse_matches_timegm_sweep),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_now),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
