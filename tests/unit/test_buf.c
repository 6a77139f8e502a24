/* test_buf.c - the growable byte buffer (include/brandmon/buf.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "brandmon/buf.h"

static void test_init_empty(void **state)
{
    struct bm_buf b = BM_BUF_INIT;

    (void)state;
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    bm_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    bm_buf_release(&b); /* releasing an empty buffer is fine */
    assert_null(b.data);
}

static void test_append_and_nul(void **state)
{
    struct bm_buf b = BM_BUF_INIT;

    (void)state;
    assert_int_equal(bm_buf_append(&b, "abc", 3), 0);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    assert_int_equal(bm_buf_putc(&b, 'd'), 0);
    assert_int_equal(bm_buf_puts(&b, "ef"), 0);
    assert_string_equal(b.data, "abcdef");
    assert_int_equal(b.len, 6);
    assert_true(b.cap > b.len);
    /* Embedded NUL bytes are data. */
    assert_int_equal(bm_buf_append(&b, "x\0y", 3), 0);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data + 6, "x\0y", 3);
    assert_int_equal(b.data[9], '\0');
    bm_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_growth(void **state)
{
    struct bm_buf b = BM_BUF_INIT;
    char chunk[100];
    size_t i;

    (void)state;
    memset(chunk, 'a', sizeof(chunk));
    for (i = 0; i < 1000; i++)
        assert_int_equal(bm_buf_append(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.len, 100000);
    assert_true(b.cap >= 100001);
    assert_int_equal(strlen(b.data), 100000);
    bm_buf_release(&b);
}

static void test_reserve(void **state)
{
    struct bm_buf b = BM_BUF_INIT;
    char *before;

    (void)state;
    assert_int_equal(bm_buf_reserve(&b, 500), 0);
    assert_true(b.cap >= 501);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    before = b.data;
    /* Room that was reserved is used without moving the data. */
    assert_int_equal(bm_buf_append(&b, "hello", 5), 0);
    assert_ptr_equal(b.data, before);
    /* Absurd sizes fail without touching the buffer. */
    assert_int_equal(bm_buf_reserve(&b, SIZE_MAX), -ENOMEM);
    assert_int_equal(bm_buf_reserve(&b, SIZE_MAX - 3), -ENOMEM);
    assert_string_equal(b.data, "hello");
    assert_int_equal(b.len, 5);
    bm_buf_release(&b);
}

static void test_reset_keeps_storage(void **state)
{
    struct bm_buf b = BM_BUF_INIT;
    size_t cap;
    char *p;

    (void)state;
    bm_buf_reset(&b); /* on an empty buffer: nothing to do */
    assert_null(b.data);
    bm_buf_puts(&b, "some text");
    cap = b.cap;
    p = b.data;
    bm_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.data, p);
    assert_string_equal(b.data, "");
    bm_buf_puts(&b, "x");
    assert_string_equal(b.data, "x");
    bm_buf_release(&b);
}

static void test_printf(void **state)
{
    struct bm_buf b = BM_BUF_INIT;
    char big[3000];

    (void)state;
    assert_int_equal(bm_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "42-x");
    assert_int_equal(b.len, 4);
    /* Longer than the first allocation: must grow and retry. */
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(bm_buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 4 + 2 + 2999);
    assert_int_equal(b.data[4], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(strlen(b.data), b.len);
    assert_int_equal(bm_buf_printf(&b, "%s", ""), 0);
    assert_int_equal(b.len, 4 + 2 + 2999);
    bm_buf_release(&b);
}

static void test_detach(void **state)
{
    struct bm_buf b = BM_BUF_INIT;
    char *s;

    (void)state;
    s = bm_buf_detach(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    bm_buf_puts(&b, "owned now");
    s = bm_buf_detach(&b);
    assert_string_equal(s, "owned now");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
    /* The buffer is usable again after a detach. */
    assert_int_equal(bm_buf_puts(&b, "again"), 0);
    assert_string_equal(b.data, "again");
    bm_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_empty),
        cmocka_unit_test(test_append_and_nul),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reset_keeps_storage),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_detach),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
