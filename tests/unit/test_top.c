/*
 * test_top.c - the --top renderer on fixed data (brandmon/top.h): the
 * sparkline scale, number formats, sorting, cleaning and cutting text to
 * display columns, whole frames at several widths and heights, colours on
 * and off, and odd values. No Redis and no terminal are involved.
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
#include <utf8proc.h>

#include "brandmon/buf.h"
#include "brandmon/time.h"
#include "brandmon/top.h"

/* 2026-11-22T12:04:31Z */
#define NOW 1795349071000LL

static int64_t at(const char *iso)
{
    int64_t ms = 0;

    assert_int_equal(bm_time_parse_iso8601(iso, &ms), 0);
    return ms;
}

/* Display columns of one line, skipping CSI escape sequences. */
static unsigned columns(const char *s, size_t n)
{
    unsigned cols = 0;
    size_t i = 0;

    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t len;

        if (s[i] == '\033') {
            assert_true(i + 1 < n && s[i + 1] == '[');
            i += 2;
            while (i < n && !(s[i] >= 0x40 && s[i] <= 0x7e))
                i++;
            i++;
            continue;
        }
        len = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                               (utf8proc_ssize_t)(n - i), &cp);
        assert_true(len > 0); /* the renderer writes valid UTF-8 only */
        cols += (unsigned)utf8proc_charwidth(cp);
        i += (size_t)len;
    }
    return cols;
}

/* Checks every line of @frame fits @width; returns the number of lines. */
static unsigned check_lines(const char *frame, unsigned width)
{
    unsigned lines = 0;
    const char *p = frame;

    while (*p) {
        const char *nl = strchr(p, '\n');

        assert_non_null(nl); /* every line ends with a newline */
        if (columns(p, (size_t)(nl - p)) > width)
            fail_msg("line wider than %u: %.*s", width, (int)(nl - p), p);
        lines++;
        p = nl + 1;
    }
    return lines;
}

/* The line of @frame that starts with @start (NUL-terminated copy). */
static char *line_starting(const char *frame, const char *start)
{
    size_t n = strlen(start);
    const char *p = frame;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        if (len >= n && strncmp(p, start, n) == 0) {
            char *line = malloc(len + 1);

            assert_non_null(line);
            memcpy(line, p, len);
            line[len] = '\0';
            return line;
        }
        p += len + (nl ? 1 : 0);
    }
    fail_msg("no line starts with '%s' in:\n%s", start, frame);
    return NULL;
}

static void brand(struct bm_top_brand *b, const char *name, uint64_t hour,
                  uint64_t minute)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->hour = hour;
    b->minute = minute;
    b->spark[BM_TOP_MINUTES - 1] = minute;
}

/* acme: 120 mentions over the hour, 4 of them this minute; globex quiet. */
static void fixture(struct bm_top_brand b[2], struct bm_top_alert a[3],
                    struct bm_top_instance *in, struct bm_top_frame *f)
{
    brand(&b[0], "acme", 120, 4);
    for (int i = 0; i < BM_TOP_MINUTES; i++)
        b[0].spark[i] = (uint64_t)(i % 8) + 1; /* 1..8, repeating */
    b[0].spark[BM_TOP_MINUTES - 1] = 4;
    b[0].sentiment_sum = -30.0; /* mean -0.25 */
    b[0].positive = 30;
    b[0].neutral = 30;
    b[0].negative = 60;
    b[0].defense = 7;
    b[0].amplification = 12345;
    brand(&b[1], "globex", 0, 0);

    memset(a, 0, 3 * sizeof(*a));
    a[0].at_ms = at("2026-11-22T12:03:59.120Z");
    snprintf(a[0].priority, sizeof(a[0].priority), "critical");
    snprintf(a[0].kind, sizeof(a[0].kind), "escalation");
    snprintf(a[0].brand, sizeof(a[0].brand), "acme");
    snprintf(a[0].text, sizeof(a[0].text),
             "acme.crisis: 25 defense matches for Acme in 10 min");
    a[1].at_ms = at("2026-11-22T11:58:02Z");
    snprintf(a[1].priority, sizeof(a[1].priority), "high");
    snprintf(a[1].kind, sizeof(a[1].kind), "defense");
    snprintf(a[1].brand, sizeof(a[1].brand), "acme");
    snprintf(a[1].author, sizeof(a[1].author), "jdoe");
    snprintf(a[1].text, sizeof(a[1].text),
             "My Acme printer jammed\tagain.\n\033[2JWorst purchase ever");
    a[2].at_ms = at("2026-11-20T08:00:00Z");
    snprintf(a[2].priority, sizeof(a[2].priority), "low");
    snprintf(a[2].kind, sizeof(a[2].kind), "insight");
    snprintf(a[2].brand, sizeof(a[2].brand), "globex");
    snprintf(a[2].author, sizeof(a[2].author), "shopkeeper");
    snprintf(a[2].text, sizeof(a[2].text), "Does Globex make a wide one?");

    memset(in, 0, sizeof(*in));
    snprintf(in->name, sizeof(in->name), "brandmond-1");
    in->decided = 48213;
    in->queue = 0;
    in->spool = 2;
    in->updated_ms = NOW - 4000;

    memset(f, 0, sizeof(*f));
    f->now_ms = NOW;
    f->where = "redis://127.0.0.1:6379/0";
    f->prefix = "brandmon:";
    f->brands = b;
    f->nbrands = 2;
    f->alerts = a;
    f->nalerts = 3;
    f->instances = in;
    f->ninstances = 1;
}

static char *render(const struct bm_top_frame *f, unsigned width,
                    unsigned height, bool color, bool screen)
{
    struct bm_top_style st = { width, height, color, screen };
    struct bm_buf out = BM_BUF_INIT;

    char *frame;

    assert_int_equal(bm_top_render(f, &st, &out), 0);
    frame = bm_buf_detach(&out);
    assert_non_null(frame);
    return frame;
}

static void test_spark_char(void **state)
{
    (void)state;
    assert_string_equal(bm_top_spark_char(0, 8), " ");
    assert_string_equal(bm_top_spark_char(0, 0), " ");
    assert_string_equal(bm_top_spark_char(5, 0), " ");
    assert_string_equal(bm_top_spark_char(1, 8), "▁");
    assert_string_equal(bm_top_spark_char(2, 8), "▂");
    assert_string_equal(bm_top_spark_char(3, 8), "▃");
    assert_string_equal(bm_top_spark_char(4, 8), "▄");
    assert_string_equal(bm_top_spark_char(5, 8), "▅");
    assert_string_equal(bm_top_spark_char(6, 8), "▆");
    assert_string_equal(bm_top_spark_char(7, 8), "▇");
    assert_string_equal(bm_top_spark_char(8, 8), "█");
    assert_string_equal(bm_top_spark_char(9, 8), "█");
    /* a single mention next to a busy minute still shows */
    assert_string_equal(bm_top_spark_char(1, 100000), "▁");
    /* the step is rounded up: half of the top is the fourth block */
    assert_string_equal(bm_top_spark_char(50, 100), "▄");
    assert_string_equal(bm_top_spark_char(51, 100), "▅");
    assert_string_equal(bm_top_spark_char(UINT64_MAX, UINT64_MAX), "█");
    assert_string_equal(bm_top_spark_char(1, UINT64_MAX), "▁");
}

static void test_format_count(void **state)
{
    static const struct {
        uint64_t v;
        const char *want;
    } cases[] = {
        { 0, "0" },
        { 7, "7" },
        { 9999, "9999" },
        { 10000, "10k" },
        { 12345, "12k" },
        { 999999, "999k" },
        { 1000000, "1.0M" },
        { 1234567, "1.2M" },
        { 9999999, "9.9M" },
        { 10000000, "10M" },
        { 999999999, "999M" },
        { 1000000000, "1.0G" },
        { 45000000000ull, "45G" },
        { UINT64_MAX, "18E" },
    };
    char out[8];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bm_top_format_count(cases[i].v, out);
        assert_string_equal(out, cases[i].want);
    }
    /* never more than four characters, whatever the value */
    for (uint64_t v = 1; v < UINT64_MAX / 3; v = v * 3 + 1) {
        bm_top_format_count(v, out);
        assert_true(strlen(out) <= 4);
    }
}

static void test_sort(void **state)
{
    struct bm_top_brand b[5];

    (void)state;
    brand(&b[0], "initech", 5, 0);
    brand(&b[1], "acme", 50, 1);
    brand(&b[2], "hooli", 5, 2);
    brand(&b[3], "globex", 0, 0);
    brand(&b[4], "contoso", 5, 0);
    bm_top_sort(b, 5);
    assert_string_equal(b[0].name, "acme");
    assert_string_equal(b[1].name, "hooli");   /* 5, busier this minute */
    assert_string_equal(b[2].name, "contoso"); /* 5, 0: by name */
    assert_string_equal(b[3].name, "initech");
    assert_string_equal(b[4].name, "globex");
    bm_top_sort(b, 0); /* nothing to do, nothing to break */
    bm_top_sort(NULL, 0);
}

static void test_put_cut(void **state)
{
    struct bm_buf out = BM_BUF_INIT;

    (void)state;
    assert_int_equal(bm_top_put_cut(&out, "acme", 10), 4);
    assert_string_equal(out.data, "acme");
    bm_buf_reset(&out);
    assert_int_equal(bm_top_put_cut(&out, "acme printers", 6), 6);
    assert_string_equal(out.data, "acme …");
    bm_buf_reset(&out);
    /* exactly the width: no ellipsis */
    assert_int_equal(bm_top_put_cut(&out, "acme", 4), 4);
    assert_string_equal(out.data, "acme");
    bm_buf_reset(&out);
    /* control characters and escape sequences are made harmless */
    assert_int_equal(bm_top_put_cut(&out, "a\033[2Jb\tc\nd\x7f", 20), 11);
    assert_string_equal(out.data, "a [2Jb c d ");
    bm_buf_reset(&out);
    /* invalid UTF-8 */
    assert_int_equal(bm_top_put_cut(&out, "caf\xc3 \xff!", 20), 7);
    assert_string_equal(out.data, "caf? ?!");
    bm_buf_reset(&out);
    /* wide characters take two columns and are not split */
    assert_int_equal(bm_top_put_cut(&out, "日本語テキスト", 6), 5);
    assert_string_equal(out.data, "日本…");
    bm_buf_reset(&out);
    /* combining marks take none; a bidi override is dropped */
    assert_int_equal(bm_top_put_cut(&out, "e\xcc\x81t\xc3\xa9\xe2\x80\xae!", 9),
                     4);
    assert_string_equal(out.data, "e\xcc\x81t\xc3\xa9!");
    bm_buf_reset(&out);
    /* nothing fits */
    assert_int_equal(bm_top_put_cut(&out, "acme", 0), 0);
    assert_true(out.len == 0);
    assert_int_equal(bm_top_put_cut(&out, "acme", 1), 1);
    assert_string_equal(out.data, "…");
    bm_buf_release(&out);
}

static void test_frame_plain(void **state)
{
    struct bm_top_brand b[2];
    struct bm_top_alert a[3];
    struct bm_top_instance in;
    struct bm_top_frame f;
    char *frame, *row, spark[BM_TOP_MINUTES * 3 + 1] = "";
    const char *got;

    (void)state;
    fixture(b, a, &in, &f);
    /* 60 minutes: the 1..8 ramp on a top of 8, the last minute 4 */
    for (int i = 0; i < BM_TOP_MINUTES; i++)
        strcat(spark, bm_top_spark_char((uint64_t)(i % 8) + 1, 8));
    assert_true(strncmp(spark, "▁▂▃▄▅▆▇█▁", strlen("▁▂▃▄▅▆▇█▁")) == 0);
    assert_string_equal(spark + strlen(spark) - 12, "▁▂▃▄");
    frame = render(&f, 140, 0, false, false);
    assert_null(strchr(frame, '\033')); /* no colour, no screen codes */
    check_lines(frame, 140);
    row = line_starting(frame, "brandmon top  redis://127.0.0.1:6379/0  "
                               "prefix brandmon:  2026-11-22 12:04:31 UTC");
    free(row);
    row = line_starting(frame, "brand ");
    assert_non_null(strstr(row, "  1m   1h  sent  pos  neu  neg  def  amp"));
    assert_non_null(strstr(row, "mentions/min, last 60 min"));
    free(row);

    row = line_starting(frame, "acme ");
    /* name column 6 wide (globex), then 1m 1h sent pos neu neg def amp */
    assert_non_null(
        strstr(row, "acme      4  120 -0.25  25%  25%  50%    7  12k  "));
    got = strstr(row, "12k  ");
    assert_non_null(got);
    assert_string_equal(got + 5, spark);
    free(row);
    row = line_starting(frame, "globex ");
    assert_non_null(strstr(row, "globex    0    0     -    -    -    -    0 "
                                "   0  "));
    free(row);

    /* alerts, newest first; text cleaned; older than a day: the date */
    row = line_starting(frame, "12:03:59 critical escalation acme   -    "
                               "      acme.crisis: 25 defense matches");
    free(row);
    row = line_starting(frame, "11:58:02 high     defense    acme   jdoe "
                               "      My Acme");
    assert_non_null(strstr(row, "My Acme printer jammed again.  [2JWorst"));
    free(row);
    row = line_starting(frame, "Nov 20   low      insight    globex "
                               "shopkeeper Does Globex make a wide one?");
    free(row);
    row = line_starting(frame, "instances: brandmond-1 decided 48k queue 0 "
                               "spool 2 age 4s");
    free(row);
    free(frame);
}

static void test_frame_empty(void **state)
{
    struct bm_top_frame f = { .now_ms = NOW, .where = "unix:///run/r.sock" };
    char *frame;

    (void)state;
    frame = render(&f, 100, 0, false, false);
    check_lines(frame, 100);
    free(line_starting(frame, "no mentions yet"));
    free(line_starting(frame, "no alerts yet"));
    free(line_starting(frame, "instances: none"));
    assert_null(strstr(frame, "brand  "));
    free(frame);

    f.problem = "Redis at unix:///run/r.sock stopped answering; retrying";
    frame = render(&f, 100, 0, false, false);
    free(line_starting(frame, "! Redis at unix:///run/r.sock stopped"));
    free(frame);
}

static void test_frame_widths(void **state)
{
    struct bm_top_brand b[2];
    struct bm_top_alert a[3];
    struct bm_top_instance in;
    struct bm_top_frame f;

    (void)state;
    fixture(b, a, &in, &f);
    for (unsigned w = 1; w <= 160; w++) {
        char *plain = render(&f, w, 0, false, false);
        char *color = render(&f, w, 0, true, true);

        /* the same number of lines, none wider than the terminal */
        assert_int_equal(check_lines(plain, w), check_lines(color, w));
        free(plain);
        free(color);
    }
}

static void test_frame_narrow_spark(void **state)
{
    struct bm_top_brand b[2];
    struct bm_top_alert a[3];
    struct bm_top_instance in;
    struct bm_top_frame f;
    char *frame, *row;

    (void)state;
    fixture(b, a, &in, &f);
    /* 100 columns: name 6 + numbers 41 + gap 2 leave 51 minutes, the
     * newest */
    frame = render(&f, 100, 0, false, false);
    row = line_starting(frame, "brand ");
    assert_non_null(strstr(row, "last 51 min"));
    free(row);
    row = line_starting(frame, "acme ");
    assert_int_equal(columns(row, strlen(row)), 100);
    assert_non_null(strstr(row, "12k  ▂▃▄▅▆▇█▁▂▃▄▅▆▇█"));
    assert_true(strlen(row) > 4 && strcmp(row + strlen(row) - 6, "▃▄") == 0);
    free(row);
    free(frame);

    /* too narrow for a sparkline: the numbers are kept, cut at the end */
    frame = render(&f, 40, 0, false, false);
    row = line_starting(frame, "acme ");
    assert_string_equal(row, "acme      4  120 -0.25  25%  25%  50%   ");
    free(row);
    free(frame);
}

static void test_frame_color(void **state)
{
    struct bm_top_brand b[2];
    struct bm_top_alert a[3];
    struct bm_top_instance in;
    struct bm_top_frame f;
    char *frame;
    const char *p;

    (void)state;
    fixture(b, a, &in, &f);
    frame = render(&f, 140, 0, true, true);
    assert_non_null(strstr(frame, "\033[1;37;41mcritical\033[0m"));
    assert_non_null(strstr(frame, "\033[1;31mhigh    \033[0m"));
    assert_non_null(strstr(frame, "\033[36mlow     \033[0m"));
    assert_non_null(strstr(frame, "\033[31m-0.25\033[0m"));
    /* live: each line clears the rest of its row */
    for (p = strchr(frame, '\n'); p; p = strchr(p + 1, '\n'))
        assert_memory_equal(p - 3, "\033[K", 3);
    /* no attribute left on at the end of a line */
    for (p = frame; *p;) {
        const char *nl = strchr(p, '\n');
        const char *last_on = NULL, *last_off = NULL;

        for (const char *q = p; q < nl; q++) {
            if (strncmp(q, "\033[0m", 4) == 0)
                last_off = q;
            else if (q[0] == '\033' && q[1] == '[' && q[2] != 'K')
                last_on = q;
        }
        assert_true(!last_on || (last_off && last_off > last_on));
        p = nl + 1;
    }
    free(frame);
}

static void test_frame_height(void **state)
{
    struct bm_top_brand b[30];
    struct bm_top_frame f = { .now_ms = NOW, .brands = b, .nbrands = 30 };
    char *frame, *row;
    unsigned lines;

    (void)state;
    for (int i = 0; i < 30; i++) {
        char name[16];

        snprintf(name, sizeof(name), "brand%02d", i);
        brand(&b[i], name, (uint64_t)(100 - i), 0);
    }
    /* 20 rows: 19 lines; title, blank, header, blank, alerts (2), blank,
     * footer leave 11: 10 brands and a summary */
    frame = render(&f, 100, 20, false, true);
    lines = check_lines(frame, 100);
    assert_int_equal(lines, 19);
    free(line_starting(frame, "brand09 "));
    assert_null(strstr(frame, "brand10 "));
    row = line_starting(frame, "… 20 more brands, ");
    /* 90 + 89 + ... + 71 */
    assert_non_null(strstr(row, "1610 mentions in the last hour"));
    free(row);
    free(frame);

    /* a tiny terminal: nothing past its last row */
    for (unsigned h = 1; h < 12; h++) {
        frame = render(&f, 30, h, true, true);
        assert_true(check_lines(frame, 30) <= h - 1);
        free(frame);
    }
}

static void test_odd_values(void **state)
{
    struct bm_top_brand b[3];
    struct bm_top_alert a;
    struct bm_top_instance in;
    struct bm_top_frame f = { .now_ms = NOW, .brands = b, .nbrands = 3 };
    char *frame, *row;

    (void)state;
    brand(&b[0], "nan", 3, 0);
    b[0].sentiment_sum = NAN;
    brand(&b[1], "huge", UINT64_MAX, UINT64_MAX);
    b[1].sentiment_sum = 1e300;
    b[1].positive = UINT64_MAX;
    b[1].neutral = UINT64_MAX;
    b[1].negative = UINT64_MAX;
    for (int i = 0; i < BM_TOP_MINUTES; i++)
        b[1].spark[i] = UINT64_MAX - (uint64_t)i;
    brand(&b[2], "", 0, 0);
    b[2].sentiment_sum = -5; /* without mentions: no mean */
    memset(&a, 0, sizeof(a));
    a.at_ms = 0;
    memset(a.text, 'x', sizeof(a.text) - 1);
    memset(&in, 0, sizeof(in));
    snprintf(in.name, sizeof(in.name), "\033]0;owned\007");
    in.updated_ms = 0;
    f.alerts = &a;
    f.nalerts = 1;
    f.instances = &in;
    f.ninstances = 1;

    frame = render(&f, 120, 0, false, false);
    check_lines(frame, 120);
    assert_null(strchr(frame, '\033'));
    assert_null(strchr(frame, '\007'));
    row = line_starting(frame, "nan ");
    assert_non_null(strstr(row, "   3     -")); /* NaN mean: no figure */
    free(row);
    row = line_starting(frame, "huge ");
    assert_non_null(strstr(row, " 18E  18E +9.99 ")); /* clamped */
    free(row);
    /* unknown time, empty priority, kind, brand and author; long text */
    row = line_starting(frame, "?                      - - xxx");
    assert_int_equal(columns(row, strlen(row)), 120);
    assert_string_equal(row + strlen(row) - 4, "x…");
    free(row);
    free(line_starting(frame, "instances:  ]0;owned  decided 0 queue 0 "
                              "spool 0 age ?"));
    free(frame);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spark_char),
        cmocka_unit_test(test_format_count),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_put_cut),
        cmocka_unit_test(test_frame_plain),
        cmocka_unit_test(test_frame_empty),
        cmocka_unit_test(test_frame_widths),
        cmocka_unit_test(test_frame_narrow_spark),
        cmocka_unit_test(test_frame_color),
        cmocka_unit_test(test_frame_height),
        cmocka_unit_test(test_odd_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
