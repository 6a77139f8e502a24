/*
 * test_linereader.c - bounded line reading (brandmon/linereader.h).
 *
 * Inputs are written to a tmpfile() and read back; the 10 MB line comes from
 * a fopencookie() stream that makes its bytes up as they are read, so the
 * only large buffer that could appear is one the reader allocates (the test
 * checks the peak RSS does not grow by anything near 10 MB). The reader
 * reads 64 KiB at a time: lines ending on, before and after that boundary,
 * a line of exactly the ceiling, one byte over (reported too long, the next
 * line intact), a last line without "\n", empty input, empty lines, NUL and
 * CR bytes as data, the line and byte counters, a read error, and a random
 * mix checked line by line.
 */
#define _GNU_SOURCE /* fopencookie */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cmocka.h>

#include "brandmon/linereader.h"

#define CHUNK (64 * 1024) /* the reader's read size (linereader.c) */

/* A tmpfile holding @len bytes of @data, positioned at the start. */
static FILE *file_with(const void *data, size_t len)
{
    FILE *f = tmpfile();

    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fflush(f), 0);
    rewind(f);
    return f;
}

static void expect_line(struct bm_linereader *lr, const void *want,
                        size_t want_len)
{
    const char *line = NULL;
    size_t len = 12345;
    bool too_long = true;

    assert_int_equal(bm_linereader_next(lr, &line, &len, &too_long), 1);
    assert_false(too_long);
    assert_non_null(line);
    assert_int_equal(len, want_len);
    if (want_len)
        assert_memory_equal(line, want, want_len);
}

static void expect_str(struct bm_linereader *lr, const char *want)
{
    expect_line(lr, want, strlen(want));
}

static void expect_too_long(struct bm_linereader *lr)
{
    const char *line = NULL;
    size_t len = 0;
    bool too_long = false;

    assert_int_equal(bm_linereader_next(lr, &line, &len, &too_long), 1);
    assert_true(too_long);
}

static void expect_end(struct bm_linereader *lr)
{
    const char *line = NULL;
    size_t len = 0;
    bool too_long = false;

    assert_int_equal(bm_linereader_next(lr, &line, &len, &too_long), 0);
    /* And it stays at the end. */
    assert_int_equal(bm_linereader_next(lr, &line, &len, &too_long), 0);
}

static void test_basic_and_counters(void **state)
{
    static const char in[] = "alpha\nbeta\n\ngamma\n";
    struct bm_linereader lr;
    FILE *f = file_with(in, sizeof(in) - 1);

    (void)state;
    assert_int_equal(bm_linereader_init(&lr, f, 100), 0);
    assert_int_equal(lr.lines, 0);
    expect_str(&lr, "alpha");
    assert_int_equal(lr.lines, 1);
    expect_str(&lr, "beta");
    expect_str(&lr, "");
    expect_str(&lr, "gamma");
    assert_int_equal(lr.lines, 4);
    expect_end(&lr);
    assert_int_equal(lr.lines, 4);
    assert_int_equal(lr.bytes, sizeof(in) - 1);
    bm_linereader_release(&lr);
    assert_null(lr.chunk);
    assert_null(lr.line);
    fclose(f);
}

static void test_empty_file(void **state)
{
    struct bm_linereader lr;
    FILE *f = file_with("", 0);

    (void)state;
    assert_int_equal(bm_linereader_init(&lr, f, 16), 0);
    expect_end(&lr);
    assert_int_equal(lr.lines, 0);
    assert_int_equal(lr.bytes, 0);
    bm_linereader_release(&lr);
    fclose(f);
}

static void test_empty_lines(void **state)
{
    static const char in[] = "\n\n\nx\n\n";
    struct bm_linereader lr;
    FILE *f = file_with(in, sizeof(in) - 1);

    (void)state;
    assert_int_equal(bm_linereader_init(&lr, f, 16), 0);
    expect_str(&lr, "");
    expect_str(&lr, "");
    expect_str(&lr, "");
    expect_str(&lr, "x");
    expect_str(&lr, ""); /* the final "\n" ends it: no extra empty line */
    expect_end(&lr);
    assert_int_equal(lr.lines, 5);
    assert_int_equal(lr.bytes, 6);
    bm_linereader_release(&lr);
    fclose(f);
}

static void test_last_line_without_newline(void **state)
{
    static const char in[] = "one\ntwo";
    struct bm_linereader lr;
    FILE *f = file_with(in, sizeof(in) - 1);

    (void)state;
    assert_int_equal(bm_linereader_init(&lr, f, 16), 0);
    expect_str(&lr, "one");
    expect_str(&lr, "two");
    expect_end(&lr);
    assert_int_equal(lr.lines, 2);
    assert_int_equal(lr.bytes, 7);
    bm_linereader_release(&lr);
    fclose(f);

    /* A single byte, no newline. */
    f = file_with("z", 1);
    assert_int_equal(bm_linereader_init(&lr, f, 16), 0);
    expect_str(&lr, "z");
    expect_end(&lr);
    bm_linereader_release(&lr);
    fclose(f);

    /* A too long last line without newline is still a (too long) line. */
    f = file_with("ok\n0123456789abcdef!", 20);
    assert_int_equal(bm_linereader_init(&lr, f, 16), 0);
    expect_str(&lr, "ok");
    expect_too_long(&lr);
    expect_end(&lr);
    assert_int_equal(lr.lines, 2);
    bm_linereader_release(&lr);
    fclose(f);
}

static void test_exact_max_and_one_over(void **state)
{
    static const char in[] = "0123456789\n"   /* 10: max */
                             "0123456789A\n"  /* 11: too long */
                             "next\n"         /* intact */
                             "0123456789AB\n" /* too long */
                             "abcdefghij";    /* 10, no newline */
    struct bm_linereader lr;
    FILE *f = file_with(in, sizeof(in) - 1);

    (void)state;
    assert_int_equal(bm_linereader_init(&lr, f, 10), 0);
    expect_str(&lr, "0123456789");
    expect_too_long(&lr);
    expect_str(&lr, "next");
    expect_too_long(&lr);
    expect_str(&lr, "abcdefghij");
    expect_end(&lr);
    assert_int_equal(lr.lines, 5);
    assert_int_equal(lr.bytes, sizeof(in) - 1);
    bm_linereader_release(&lr);
    fclose(f);
}

static void test_max_zero(void **state)
{
    static const char in[] = "\na\n\n";
    struct bm_linereader lr;
    FILE *f = file_with(in, sizeof(in) - 1);

    (void)state;
    assert_int_equal(bm_linereader_init(&lr, f, 0), 0);
    expect_str(&lr, "");
    expect_too_long(&lr);
    expect_str(&lr, "");
    expect_end(&lr);
    bm_linereader_release(&lr);
    fclose(f);
}

static void test_nul_and_cr_are_data(void **state)
{
    static const char in[] = "a\0b\r\n\0\n\r\r\n";
    struct bm_linereader lr;
    FILE *f = file_with(in, sizeof(in) - 1);

    (void)state;
    assert_int_equal(bm_linereader_init(&lr, f, 16), 0);
    expect_line(&lr, "a\0b\r", 4);
    expect_line(&lr, "\0", 1);
    expect_line(&lr, "\r\r", 2);
    expect_end(&lr);
    bm_linereader_release(&lr);
    fclose(f);
}

/* A line of @first bytes ('a'), "\n", then "tail\n": the first newline sits
 * at offset @first, around the 64 KiB read boundary. */
static void test_newline_at_chunk_edges(void **state)
{
    static const size_t firsts[] = { CHUNK - 2,    CHUNK - 1,     CHUNK,
                                     CHUNK + 1,    2 * CHUNK - 1, 2 * CHUNK,
                                     2 * CHUNK + 5 };

    (void)state;
    for (size_t k = 0; k < sizeof(firsts) / sizeof(*firsts); k++) {
        size_t first = firsts[k], len = first + 1 + 5;
        char *in = malloc(len), *want = malloc(first);
        struct bm_linereader lr;
        FILE *f;

        assert_non_null(in);
        assert_non_null(want);
        for (size_t i = 0; i < first; i++)
            want[i] = (char)('a' + i % 26);
        memcpy(in, want, first);
        in[first] = '\n';
        memcpy(in + first + 1, "tail\n", 5);
        f = file_with(in, len);

        /* A ceiling above the line: all of it, across the boundary. */
        assert_int_equal(bm_linereader_init(&lr, f, 3 * CHUNK), 0);
        expect_line(&lr, want, first);
        expect_str(&lr, "tail");
        expect_end(&lr);
        assert_int_equal(lr.bytes, len);
        bm_linereader_release(&lr);

        /* A ceiling of exactly the line. */
        rewind(f);
        assert_int_equal(bm_linereader_init(&lr, f, first), 0);
        expect_line(&lr, want, first);
        expect_str(&lr, "tail");
        expect_end(&lr);
        bm_linereader_release(&lr);

        /* One byte short: too long, and "tail" after it intact. */
        rewind(f);
        assert_int_equal(bm_linereader_init(&lr, f, first - 1), 0);
        expect_too_long(&lr);
        expect_str(&lr, "tail");
        expect_end(&lr);
        assert_int_equal(lr.lines, 2);
        bm_linereader_release(&lr);

        fclose(f);
        free(in);
        free(want);
    }
}

/* Short lines packed so that several of them straddle the boundary. */
static void test_short_lines_across_chunks(void **state)
{
    const size_t n = 40000; /* about 7 bytes each: 4+ chunks */
    char *in = malloc(n * 16);
    size_t len = 0;
    struct bm_linereader lr;
    FILE *f;

    (void)state;
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(in + len, "%zu\n", i * 7);
    assert_true(len > 4 * CHUNK);
    f = file_with(in, len);
    assert_int_equal(bm_linereader_init(&lr, f, 8), 0);
    for (size_t i = 0; i < n; i++) {
        char want[32];

        snprintf(want, sizeof(want), "%zu", i * 7);
        expect_str(&lr, want);
    }
    expect_end(&lr);
    assert_int_equal(lr.lines, n);
    assert_int_equal(lr.bytes, len);
    bm_linereader_release(&lr);
    fclose(f);
    free(in);
}

/* A deterministic xorshift. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random lines (lengths 0 .. 3000, any byte but "\n", NUL included) with a
 * ceiling of 2000, checked one by one. */
static void test_random_mix(void **state)
{
    const size_t max = 2000, nlines = 400;
    size_t *lens = malloc(nlines * sizeof(*lens));
    size_t *offs = malloc(nlines * sizeof(*offs));
    char *in = malloc(nlines * 3001);
    size_t len = 0, over = 0;
    uint64_t rng = 0x2545f4914f6cdd1dull;
    struct bm_linereader lr;
    FILE *f;

    (void)state;
    assert_non_null(lens);
    assert_non_null(offs);
    assert_non_null(in);
    for (size_t i = 0; i < nlines; i++) {
        lens[i] = next_rand(&rng) % 3001;
        offs[i] = len;
        for (size_t j = 0; j < lens[i]; j++) {
            char c = (char)(next_rand(&rng) & 0xff);

            in[len++] = c == '\n' ? '\0' : c;
        }
        over += lens[i] > max;
        /* The last line has no newline. */
        if (i + 1 < nlines)
            in[len++] = '\n';
    }
    assert_true(over > 10);
    assert_true(len > 4 * CHUNK);
    f = file_with(in, len);
    assert_int_equal(bm_linereader_init(&lr, f, max), 0);
    for (size_t i = 0; i < nlines; i++) {
        if (lens[i] > max)
            expect_too_long(&lr);
        else
            expect_line(&lr, in + offs[i], lens[i]);
    }
    expect_end(&lr);
    assert_int_equal(lr.lines, nlines);
    assert_int_equal(lr.bytes, len);
    bm_linereader_release(&lr);
    fclose(f);
    free(in);
    free(offs);
    free(lens);
}

/* A stream of `size` bytes of 'x' then "\nafter\n", made up on the fly. */
struct gen {
    uint64_t size; /* bytes of 'x' */
    uint64_t pos;  /* bytes given so far */
};

static ssize_t gen_read_cb(void *cookie, char *buf, size_t size)
{
    static const char tail[] = "\nafter\n";
    struct gen *g = cookie;
    uint64_t total = g->size + sizeof(tail) - 1;
    size_t n = 0;

    while (n < size && g->pos < total) {
        buf[n++] = g->pos < g->size ? 'x' : tail[g->pos - g->size];
        g->pos++;
    }
    return (ssize_t)n;
}

static long peak_rss_kib(void)
{
    struct rusage ru;

    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

static void test_huge_line_small_memory(void **state)
{
    const uint64_t big = 10u * 1000 * 1000;
    struct gen g = { .size = big, .pos = 0 };
    cookie_io_functions_t io = { .read = gen_read_cb };
    struct bm_linereader lr;
    char *chunk, *line;
    long before, after;
    FILE *f;

    (void)state;
    f = fopencookie(&g, "r", io);
    assert_non_null(f);
    assert_int_equal(bm_linereader_init(&lr, f, 1024), 0);
    chunk = lr.chunk;
    line = lr.line;
    before = peak_rss_kib();
    expect_too_long(&lr);
    expect_str(&lr, "after");
    expect_end(&lr);
    after = peak_rss_kib();
    assert_int_equal(lr.lines, 2);
    assert_int_equal(lr.bytes, big + 7);
    /* The reader kept its two buffers and did not grow: holding the line
     * would have raised the peak RSS by 10 MB. */
    assert_ptr_equal(lr.chunk, chunk);
    assert_ptr_equal(lr.line, line);
    if (after - before > 4 * 1024)
        fail_msg("peak RSS grew by %ld KiB reading a 10 MB line",
                 after - before);
    bm_linereader_release(&lr);
    fclose(f);
}

static void test_read_error(void **state)
{
    struct bm_linereader lr;
    const char *line;
    size_t len;
    bool too_long;
    FILE *f = fopen("/dev/null", "w"); /* reading it fails */

    (void)state;
    assert_non_null(f);
    assert_int_equal(bm_linereader_init(&lr, f, 16), 0);
    assert_int_equal(bm_linereader_next(&lr, &line, &len, &too_long), -EIO);
    bm_linereader_release(&lr);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_and_counters),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_empty_lines),
        cmocka_unit_test(test_last_line_without_newline),
        cmocka_unit_test(test_exact_max_and_one_over),
        cmocka_unit_test(test_max_zero),
        cmocka_unit_test(test_nul_and_cr_are_data),
        cmocka_unit_test(test_newline_at_chunk_edges),
        cmocka_unit_test(test_short_lines_across_chunks),
        cmocka_unit_test(test_random_mix),
        cmocka_unit_test(test_huge_line_small_memory),
        cmocka_unit_test(test_read_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
