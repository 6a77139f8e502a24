/* test_log.c - leveled and rate-limited logging (brandmon/log.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "brandmon/log.h"

/* stderr redirected into a temporary file while a test logs. */
static char captured[16384];
static FILE *cap_file;
static int saved_fd = -1;

static void capture_start(void)
{
    cap_file = tmpfile();
    assert_non_null(cap_file);
    fflush(stderr);
    saved_fd = dup(STDERR_FILENO);
    assert_true(saved_fd >= 0);
    assert_true(dup2(fileno(cap_file), STDERR_FILENO) >= 0);
}

static const char *capture_end(void)
{
    size_t n;

    fflush(stderr);
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    saved_fd = -1;
    rewind(cap_file);
    n = fread(captured, 1, sizeof(captured) - 1, cap_file);
    captured[n] = '\0';
    fclose(cap_file);
    cap_file = NULL;
    return captured;
}

static int reset_level(void **state)
{
    (void)state;
    bm_log_set_level(BM_LOG_INFO);
    return 0;
}

static void test_default_level(void **state)
{
    (void)state;
    /* Runs first, before any test changes the level. */
    assert_int_equal(bm_log_level, BM_LOG_INFO);
}

static void test_parse_level(void **state)
{
    enum bm_log_level l = BM_LOG_INFO;

    (void)state;
    assert_int_equal(bm_log_parse_level("error", &l), 0);
    assert_int_equal(l, BM_LOG_ERR);
    assert_int_equal(bm_log_parse_level("warning", &l), 0);
    assert_int_equal(l, BM_LOG_WARNING);
    assert_int_equal(bm_log_parse_level("notice", &l), 0);
    assert_int_equal(l, BM_LOG_NOTICE);
    assert_int_equal(bm_log_parse_level("info", &l), 0);
    assert_int_equal(l, BM_LOG_INFO);
    assert_int_equal(bm_log_parse_level("debug", &l), 0);
    assert_int_equal(l, BM_LOG_DEBUG);
    assert_int_equal(bm_log_parse_level("verbose", &l), -EINVAL);
    assert_int_equal(bm_log_parse_level("", &l), -EINVAL);
    assert_int_equal(bm_log_parse_level(NULL, &l), -EINVAL);
    assert_int_equal(l, BM_LOG_DEBUG); /* unchanged on failure */
}

static void test_line_format(void **state)
{
    const char *out;

    (void)state;
    capture_start();
    bm_log_write(BM_LOG_ERR, "source:x:acme", "stream closed: %s (%d)", "reset",
                 104);
    BM_WARN("sink:redis", "queue at %d%%", 90);
    BM_INFO("daemon", "ready");
    out = capture_end();
    assert_string_equal(out, "<3>[source:x:acme] stream closed: reset (104)\n"
                             "<4>[sink:redis] queue at 90%\n"
                             "<6>[daemon] ready\n");
}

static void test_level_filter_skips_formatting(void **state)
{
    const char *out;
    int evaluated = 0;

    (void)state;
    bm_log_set_level(BM_LOG_WARNING);
    assert_int_equal(bm_log_level, BM_LOG_WARNING);
    capture_start();
    BM_INFO("daemon", "not shown %d", ++evaluated);
    BM_DEBUG("daemon", "not shown %d", ++evaluated);
    BM_ERR("daemon", "shown %d", ++evaluated);
    out = capture_end();
    /* Arguments of filtered calls are never evaluated. */
    assert_int_equal(evaluated, 1);
    assert_string_equal(out, "<3>[daemon] shown 1\n");
}

static void test_one_line_per_call(void **state)
{
    const char *out;

    (void)state;
    capture_start();
    BM_WARN("source:reddit:r", "bad input: \"%s\"", "line1\nline2\r\n");
    out = capture_end();
    assert_string_equal(out,
                        "<4>[source:reddit:r] bad input: \"line1 line2  \"\n");
}

static void test_long_message_cut(void **state)
{
    static char big[20000];
    const char *out;
    size_t n;

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    capture_start();
    BM_WARN("c", "%s", big);
    out = capture_end();
    n = strlen(out);
    assert_true(n < 8192);
    assert_true(n > 8000);
    assert_memory_equal(out, "<4>[c] aaa", 10);
    assert_string_equal(out + n - 4, "...\n");
    assert_ptr_equal(strchr(out, '\n'), out + n - 1);
}

static void test_long_message_utf8_edge(void **state)
{
    static char big[20000];
    const char *out;
    size_t i, n;

    (void)state;
    /* "é" (C3 A9) over and over: any cut must fall between two of them. */
    for (i = 0; i + 2 < sizeof(big); i += 2) {
        big[i] = (char)0xC3;
        big[i + 1] = (char)0xA9;
    }
    big[i] = '\0';
    /* Prefixes of odd and even length, so that the cut falls once between
     * two characters and once inside one. */
    capture_start();
    BM_WARN("c", "%s", big);
    BM_WARN("cc", "%s", big);
    out = capture_end();
    for (i = 0; i < 2; i++) {
        const char *nl = strchr(out, '\n');

        assert_non_null(nl);
        n = (size_t)(nl - out) + 1;
        assert_memory_equal(out + n - 4, "...\n", 4);
        /* The byte before "..." ends a whole character. */
        assert_int_equal((unsigned char)out[n - 5], 0xA9);
        assert_int_equal((unsigned char)out[n - 6], 0xC3);
        out += n;
    }
    assert_string_equal(out, "");
}

static void test_ratelimit_allow(void **state)
{
    struct bm_ratelimit rl = BM_RATELIMIT_INIT(1000, 3);

    (void)state;
    assert_true(bm_ratelimit_allow(&rl, 5000));
    assert_true(bm_ratelimit_allow(&rl, 5100));
    assert_true(bm_ratelimit_allow(&rl, 5200));
    assert_false(bm_ratelimit_allow(&rl, 5300));
    assert_false(bm_ratelimit_allow(&rl, 5999));
    assert_int_equal(rl.suppressed, 2);
    assert_int_equal(rl.printed, 3);
    /* A new window opens interval_ms after the first line of the last. */
    assert_true(bm_ratelimit_allow(&rl, 6000));
    assert_int_equal(rl.window_start, 6000);
    assert_int_equal(rl.printed, 1);
    /* allow() counts; only the logger clears the suppressed count. */
    assert_int_equal(rl.suppressed, 2);
    /* A clock that went backwards starts a new window, never blocks. */
    rl.printed = 3;
    assert_true(bm_ratelimit_allow(&rl, 10));
    assert_int_equal(rl.window_start, 10);
}

static void test_ratelimit_burst_zero(void **state)
{
    struct bm_ratelimit rl = BM_RATELIMIT_INIT(1000, 0);

    (void)state;
    assert_false(bm_ratelimit_allow(&rl, 1));
    assert_false(bm_ratelimit_allow(&rl, 5000));
    assert_int_equal(rl.suppressed, 2);
}

static void test_log_ratelimited(void **state)
{
    struct bm_ratelimit rl = BM_RATELIMIT_INIT(60000, 1);
    const char *out;

    (void)state;
    capture_start();
    BM_WARN_RATELIMIT(&rl, "decode", "bad json %d", 1);
    BM_WARN_RATELIMIT(&rl, "decode", "bad json %d", 2);
    BM_WARN_RATELIMIT(&rl, "decode", "bad json %d", 3);
    /* Make the next call open a new window, whatever the clock says. */
    rl.interval_ms = 0;
    BM_WARN_RATELIMIT(&rl, "decode", "bad json %d", 4);
    BM_WARN_RATELIMIT(&rl, "decode", "bad json %d", 5);
    out = capture_end();
    assert_string_equal(
        out, "<4>[decode] bad json 1\n"
             "<4>[decode] bad json 4 (2 similar messages suppressed)\n"
             "<4>[decode] bad json 5\n");
    assert_int_equal(rl.suppressed, 0);
}

static void test_log_ratelimited_below_level(void **state)
{
    struct bm_ratelimit rl = BM_RATELIMIT_INIT(60000, 5);
    const char *out;

    (void)state;
    bm_log_set_level(BM_LOG_ERR);
    capture_start();
    BM_WARN_RATELIMIT(&rl, "decode", "hidden");
    bm_log_ratelimited(&rl, "decode", "hidden too");
    out = capture_end();
    assert_string_equal(out, "");
    assert_int_equal(rl.printed, 0);
}

static void test_now_ms(void **state)
{
    uint64_t a, b;

    (void)state;
    a = bm_now_ms();
    usleep(2000);
    b = bm_now_ms();
    assert_true(a > 0);
    assert_true(b >= a + 1);
    assert_true(b - a < 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_level),
        cmocka_unit_test_teardown(test_parse_level, reset_level),
        cmocka_unit_test_teardown(test_line_format, reset_level),
        cmocka_unit_test_teardown(test_level_filter_skips_formatting,
                                  reset_level),
        cmocka_unit_test_teardown(test_one_line_per_call, reset_level),
        cmocka_unit_test_teardown(test_long_message_cut, reset_level),
        cmocka_unit_test_teardown(test_long_message_utf8_edge, reset_level),
        cmocka_unit_test(test_ratelimit_allow),
        cmocka_unit_test(test_ratelimit_burst_zero),
        cmocka_unit_test_teardown(test_log_ratelimited, reset_level),
        cmocka_unit_test_teardown(test_log_ratelimited_below_level,
                                  reset_level),
        cmocka_unit_test(test_now_ms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
