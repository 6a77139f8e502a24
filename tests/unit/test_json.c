/* test_json.c - JSON pointers, getters and the writer (brandmon/json.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "brandmon/buf.h"
#include "brandmon/json.h"

static json_t *load(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_ALLOW_NUL, &err);

    assert_non_null(v);
    return v;
}

static const char *str_at(const json_t *root, const char *ptr)
{
    const json_t *v = bm_json_pointer(root, ptr);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_pointer_rfc6901(void **state)
{
    /* The example document of RFC 6901 section 5. */
    json_t *doc = load("{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,"
                       "\"c%d\":2,\"e^f\":3,\"g|h\":4,\"i\\\\j\":5,"
                       "\"k\\\"l\":6,\" \":7,\"m~n\":8}");

    (void)state;
    assert_ptr_equal(bm_json_pointer(doc, ""), doc);
    assert_true(json_is_array(bm_json_pointer(doc, "/foo")));
    assert_string_equal(str_at(doc, "/foo/0"), "bar");
    assert_string_equal(str_at(doc, "/foo/1"), "baz");
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/")), 0);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/a~1b")), 1);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/c%d")), 2);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/e^f")), 3);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/g|h")), 4);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/i\\j")), 5);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/k\"l")), 6);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/ ")), 7);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/m~0n")), 8);
    json_decref(doc);
}

static void test_pointer_escapes_order(void **state)
{
    /* "~01" is the key "~1", not "/": ~0 and ~1 are read left to right. */
    json_t *doc = load("{\"~1\":\"tilde-one\",\"/\":\"slash\",\"~\":\"t\","
                       "\"a\":{\"b/c\":{\"d~e\":\"deep\"}}}");

    (void)state;
    assert_string_equal(str_at(doc, "/~01"), "tilde-one");
    assert_string_equal(str_at(doc, "/~1"), "slash");
    assert_string_equal(str_at(doc, "/~0"), "t");
    assert_string_equal(str_at(doc, "/a/b~1c/d~0e"), "deep");
    /* Invalid escapes and a lone '~' resolve to nothing. */
    assert_null(bm_json_pointer(doc, "/~2"));
    assert_null(bm_json_pointer(doc, "/~"));
    assert_null(bm_json_pointer(doc, "/a/b~"));
    json_decref(doc);
}

static void test_pointer_arrays(void **state)
{
    json_t *doc = load("{\"a\":[10,[20,21],{\"0\":\"key zero\"}]}");

    (void)state;
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/a/0")), 10);
    assert_int_equal(json_integer_value(bm_json_pointer(doc, "/a/1/1")), 21);
    /* A digit key on an object is a member name. */
    assert_string_equal(str_at(doc, "/a/2/0"), "key zero");
    assert_null(bm_json_pointer(doc, "/a/3"));
    assert_null(bm_json_pointer(doc, "/a/-"));
    assert_null(bm_json_pointer(doc, "/a/01"));
    assert_null(bm_json_pointer(doc, "/a/+1"));
    assert_null(bm_json_pointer(doc, "/a/1x"));
    assert_null(bm_json_pointer(doc, "/a/"));
    assert_null(bm_json_pointer(doc, "/a/99999999999999999999999999"));
    /* Going through a scalar, or a missing member. */
    assert_null(bm_json_pointer(doc, "/a/0/x"));
    assert_null(bm_json_pointer(doc, "/missing"));
    assert_null(bm_json_pointer(doc, "a"));
    assert_null(bm_json_pointer(NULL, "/a"));
    assert_null(bm_json_pointer(doc, NULL));
    json_decref(doc);
}

static void test_pointer_long_key(void **state)
{
    char key[600], ptr[700];
    json_t *doc = json_object();

    (void)state;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    json_object_set_new(doc, key, json_string("long"));
    snprintf(ptr, sizeof(ptr), "/%s", key);
    assert_string_equal(str_at(doc, ptr), "long");
    json_decref(doc);
}

static void test_pointer_is_valid(void **state)
{
    (void)state;
    assert_true(bm_json_pointer_is_valid(""));
    assert_true(bm_json_pointer_is_valid("/"));
    assert_true(bm_json_pointer_is_valid("/a/b~0~1/0"));
    assert_false(bm_json_pointer_is_valid("a/b"));
    assert_false(bm_json_pointer_is_valid("/a~"));
    assert_false(bm_json_pointer_is_valid("/a~2"));
    assert_false(bm_json_pointer_is_valid(NULL));
}

static void test_getters(void **state)
{
    json_t *doc = load("{\"s\":\"str\",\"i\":42,\"big\":9007199254740993,"
                       "\"r\":1.5,\"n\":null,\"neg\":-7}");

    (void)state;
    assert_string_equal(bm_json_str(doc, "s"), "str");
    assert_null(bm_json_str(doc, "i"));
    assert_null(bm_json_str(doc, "n"));
    assert_null(bm_json_str(doc, "nope"));
    assert_null(bm_json_str(NULL, "s"));
    assert_int_equal(bm_json_int(doc, "i", -1), 42);
    assert_int_equal(bm_json_int(doc, "neg", 0), -7);
    assert_true(bm_json_int(doc, "big", 0) == 9007199254740993LL);
    assert_int_equal(bm_json_int(doc, "r", -1), -1);
    assert_int_equal(bm_json_int(doc, "s", -1), -1);
    assert_int_equal(bm_json_int(doc, "nope", 5), 5);
    assert_int_equal(bm_json_int(json_array_get(doc, 0), "i", 3), 3);
    json_decref(doc);
}

static void test_put_str_escapes(void **state)
{
    struct bm_buf b = BM_BUF_INIT;

    (void)state;
    assert_int_equal(bm_json_put_cstr(&b, "plain"), 0);
    assert_string_equal(b.data, "\"plain\"");
    bm_buf_reset(&b);
    assert_int_equal(bm_json_put_cstr(&b, "say \"hi\" \\ back/slash"), 0);
    assert_string_equal(b.data, "\"say \\\"hi\\\" \\\\ back/slash\"");
    bm_buf_reset(&b);
    assert_int_equal(bm_json_put_cstr(&b, "a\nb\tc\rd\be\ff\x01g\x1fh"), 0);
    assert_string_equal(b.data, "\"a\\nb\\tc\\rd\\be\\ff\\u0001g\\u001fh\"");
    bm_buf_reset(&b);
    /* An embedded NUL in a counted string is escaped, not a terminator. */
    assert_int_equal(bm_json_put_str(&b, "x\0y", 3), 0);
    assert_string_equal(b.data, "\"x\\u0000y\"");
    bm_buf_reset(&b);
    /* UTF-8 and DEL pass through untouched. */
    assert_int_equal(bm_json_put_cstr(&b, "caf\xc3\xa9 \xf0\x9f\x94\xa5 \x7f"),
                     0);
    assert_string_equal(b.data, "\"caf\xc3\xa9 \xf0\x9f\x94\xa5 \x7f\"");
    bm_buf_reset(&b);
    assert_int_equal(bm_json_put_cstr(&b, NULL), 0);
    assert_string_equal(b.data, "null");
    bm_buf_reset(&b);
    assert_int_equal(bm_json_put_str(&b, "", 0), 0);
    assert_string_equal(b.data, "\"\"");
    bm_buf_release(&b);
}

static void test_put_str_round_trip(void **state)
{
    struct bm_buf b = BM_BUF_INIT;
    char all[128];
    json_t *v;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(all); i++)
        all[i] = (char)i;
    /* Appends after what is there already. */
    bm_buf_puts(&b, "[");
    assert_int_equal(bm_json_put_str(&b, all, sizeof(all)), 0);
    bm_buf_puts(&b, "]");
    v = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
    assert_non_null(v);
    assert_int_equal(json_string_length(json_array_get(v, 0)), sizeof(all));
    assert_memory_equal(json_string_value(json_array_get(v, 0)), all,
                        sizeof(all));
    json_decref(v);
    bm_buf_release(&b);
}

static void check_num(double v, const char *want)
{
    struct bm_buf b = BM_BUF_INIT;

    assert_int_equal(bm_json_put_num(&b, v), 0);
    assert_string_equal(b.data, want);
    bm_buf_release(&b);
}

static void test_put_num(void **state)
{
    (void)state;
    check_num(0.25, "0.25");
    check_num(-1, "-1");
    check_num(0, "0");
    check_num(1, "1");
    check_num(0.1, "0.1");
    check_num(-0.5, "-0.5");
    check_num(0.33333333, "0.3333");
    check_num(0.66666666, "0.6667");
    check_num(0.00004, "0");
    check_num(-0.00004, "0");
    check_num(-0.0, "0");
    check_num(12345.5, "12345.5");
    check_num(100, "100");
    check_num(1e6, "1000000");
    check_num(NAN, "0");
    check_num(INFINITY, "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointer_rfc6901),
        cmocka_unit_test(test_pointer_escapes_order),
        cmocka_unit_test(test_pointer_arrays),
        cmocka_unit_test(test_pointer_long_key),
        cmocka_unit_test(test_pointer_is_valid),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_put_str_escapes),
        cmocka_unit_test(test_put_str_round_trip),
        cmocka_unit_test(test_put_num),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
