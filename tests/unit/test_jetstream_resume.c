/*
 * test_jetstream_resume.c - Jetstream's resume protocol as the WebSocket
 * transport uses it (daemon/stream/sources/jetstream.c, declared in
 * daemon/stream/stream_int.h): the URL with wantedCollections and cursor,
 * and the top-level time_us of an event found without a JSON tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../daemon/stream/stream_int.h"

static void expect_url(const char *url, char *const *colls, size_t n,
                       int64_t cursor, const char *want)
{
    char *got = bm_jetstream_url(url, colls, n, cursor);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_url_default_collection(void **state)
{
    (void)state;
    expect_url("wss://js.example/subscribe", NULL, 0, 0,
               "wss://js.example/subscribe?wantedCollections="
               "app.bsky.feed.post");
    expect_url("ws://127.0.0.1:9/subscribe?compress=false", NULL, 0, 0,
               "ws://127.0.0.1:9/subscribe?compress=false&wantedCollections="
               "app.bsky.feed.post");
}

static void test_url_config_collections(void **state)
{
    char post[] = "app.bsky.feed.post", feed[] = "app.bsky.feed.*";
    char odd[] = "odd name&x";
    char *colls[] = { post, feed, odd };

    (void)state;
    expect_url("wss://js.example/subscribe", colls, 3, 0,
               "wss://js.example/subscribe?wantedCollections=app.bsky.feed."
               "post&wantedCollections=app.bsky.feed.*&wantedCollections="
               "odd%20name%26x");
}

static void test_url_keeps_its_own_collections(void **state)
{
    char like[] = "app.bsky.feed.like";
    char *colls[] = { like };

    (void)state;
    expect_url("wss://js.example/subscribe?wantedCollections=a.b.c", colls, 1,
               0, "wss://js.example/subscribe?wantedCollections=a.b.c");
}

static void test_url_cursor_replaced(void **state)
{
    (void)state;
    /* No cursor yet: the URL's own stays. */
    expect_url("ws://h/subscribe?cursor=5&wantedCollections=x", NULL, 0, 0,
               "ws://h/subscribe?cursor=5&wantedCollections=x");
    /* A cursor replaces it, wherever it was, and only it. */
    expect_url("ws://h/subscribe?cursor=5&wantedCollections=x&cursorx=1", NULL,
               0, 1741942835000000LL,
               "ws://h/subscribe?wantedCollections=x&cursorx=1&cursor="
               "1741942835000000");
    expect_url("ws://h/subscribe?wantedCollections=x&cursor=5&cursor=6", NULL,
               0, 7, "ws://h/subscribe?wantedCollections=x&cursor=7");
}

static void test_url_fragment_and_empty_params(void **state)
{
    (void)state;
    expect_url("ws://h/s?&&wantedCollections=x&#frag", NULL, 0, 3,
               "ws://h/s?wantedCollections=x&cursor=3");
    expect_url("ws://h/s#frag?cursor=1", NULL, 0, 0,
               "ws://h/s?wantedCollections=app.bsky.feed.post");
}

static int64_t time_of(const char *s)
{
    return bm_jetstream_time_us(s, strlen(s));
}

static void test_time_us(void **state)
{
    (void)state;
    assert_int_equal(time_of("{\"did\":\"d\",\"time_us\":1741942800812983,"
                             "\"kind\":\"commit\"}"),
                     1741942800812983LL);
    assert_int_equal(time_of("{ \"time_us\" : 42 }"), 42);
    /* A nested key or text that looks like one does not count. */
    assert_int_equal(time_of("{\"commit\":{\"record\":{\"time_us\":99,\"text\":"
                             "\"\\\"time_us\\\":98\"}},\"time_us\":7}"),
                     7);
    assert_int_equal(time_of("{\"a\":[{\"time_us\":5}],\"b\":\"time_us\"}"), 0);
    /* "time_us" as a value, then as the key. */
    assert_int_equal(time_of("{\"x\":\"time_us\",\"time_us\":8}"), 8);
    /* None, negative, too long, cut short. */
    assert_int_equal(time_of("{\"kind\":\"identity\"}"), 0);
    assert_int_equal(time_of("{\"time_us\":-5}"), 0);
    assert_int_equal(time_of("{\"time_us\":1234567890123456789012}"), 0);
    assert_int_equal(bm_jetstream_time_us("{\"time_us\":12", 8), 0);
    assert_int_equal(time_of("{\"text\":\"unterminated"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_default_collection),
        cmocka_unit_test(test_url_config_collections),
        cmocka_unit_test(test_url_keeps_its_own_collections),
        cmocka_unit_test(test_url_cursor_replaced),
        cmocka_unit_test(test_url_fragment_and_empty_params),
        cmocka_unit_test(test_time_us),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
