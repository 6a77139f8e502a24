/*
 * test_replay.c - offline replay (brandmon/replay.h): lines in, decisions
 * out, bad input counted by reason and skipped.
 *
 * Input is built in memory from the fixtures in tests/data/replay/ and fed
 * through fmemopen(), mixed with keep-alives, control messages, malformed
 * JSON, invalid UTF-8, lines over the ceiling, posts without text, CRLF
 * endings and a last line without its newline. The tests count the
 * callback's calls, check which posts were decided, the statistics per
 * reason and the summary line. Reddit Listings and HN pages unwrap into
 * several posts.
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
#include "brandmon/diag.h"
#include "brandmon/engine.h"
#include "brandmon/pack.h"
#include "brandmon/replay.h"
#include "brandmon/source.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

#define MAX_SEEN 32

struct fixture {
    struct bm_ruleset *rs; /* owned */
    struct bm_engine *e;   /* owned */
    char *x[3];            /* owned: the lines of replay/x.ndjson */
};

/* What the callback saw. */
struct seen {
    size_t calls;
    char ids[MAX_SEEN][64];
    char sources[MAX_SEEN][32];
    size_t matches[MAX_SEEN];
    bool raw[MAX_SEEN];
    int stop_at; /* return -ECANCELED on this call (1-based); 0: never */
};

static char *read_file(const char *name, size_t *len)
{
    char path[1024];
    struct bm_buf b = BM_BUF_INIT;
    char chunk[4096];
    size_t got;
    FILE *f;

    snprintf(path, sizeof(path), "%s/replay/%s", BM_TEST_DATA, name);
    f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(bm_buf_append(&b, chunk, got), 0);
    fclose(f);
    if (len)
        *len = b.len;
    return bm_buf_detach(&b);
}

static int setup(void **state)
{
    const char *paths[] = { BM_TEST_DATA "/replay/rules.yaml" };
    struct bm_diag diag = { .line = 0 };
    struct fixture *f = calloc(1, sizeof(*f));
    char msg[2048], *all, *line, *save = NULL;
    int i = 0;

    if (!f)
        return -1;
    f->rs = bm_ruleset_load(paths, 1, BM_TEST_DATA "/engine/base", &diag);
    if (!f->rs) {
        bm_diag_format(&diag, msg, sizeof(msg));
        print_error("%s\n", msg);
        free(f);
        return -1;
    }
    f->e = bm_engine_new(f->rs);
    all = read_file("x.ndjson", NULL);
    for (line = strtok_r(all, "\n", &save); line && i < 3;
         line = strtok_r(NULL, "\n", &save))
        f->x[i++] = strdup(line);
    free(all);
    *state = f; /* the teardown frees it, also when the setup fails */
    if (!f->e || i != 3 || !f->x[0] || !f->x[1] || !f->x[2])
        return -1;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (!f)
        return 0; /* the setup failed */
    for (int i = 0; i < 3; i++)
        free(f->x[i]);
    bm_engine_free(f->e);
    bm_ruleset_free(f->rs);
    free(f);
    return 0;
}

static int record_cb(const struct bm_decision *d, void *arg)
{
    struct seen *s = arg;
    size_t i = s->calls++;

    if (i < MAX_SEEN) {
        snprintf(s->ids[i], sizeof(s->ids[i]), "%s", d->post->id);
        snprintf(s->sources[i], sizeof(s->sources[i]), "%s",
                 d->post->source ? d->post->source : "(null)");
        s->matches[i] = d->nmatches;
        s->raw[i] = d->post->raw != NULL;
    }
    if (s->stop_at && (int)s->calls == s->stop_at)
        return -ECANCELED;
    return 0;
}

/* Replays @len bytes of @input in @format; returns bm_replay_stream's
 * result. */
static int replay(struct fixture *f, const char *input, size_t len,
                  const char *format, size_t max_line, struct seen *seen,
                  struct bm_replay_stats *st)
{
    struct bm_replay_opts opts = {
        .ops = bm_source_ops_find(format),
        .map = NULL,
        .source = "replay-src",
        .max_line = max_line,
    };
    FILE *in;
    int err;

    assert_non_null(opts.ops);
    /* fmemopen() of 0 bytes is an error in some libcs: use /dev/null */
    in = len ? fmemopen((void *)input, len, "rb") : fopen("/dev/null", "rb");
    assert_non_null(in);
    err = bm_replay_stream(in, &opts, f->e, record_cb, seen, st);
    fclose(in);
    return err;
}

static char *summary(const struct bm_replay_stats *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    bm_replay_summary(st, out);
    fclose(out);
    return text;
}

static uint64_t total_skipped(const struct bm_replay_stats *st)
{
    uint64_t n = 0;

    for (int i = 0; i < BM_SKIP_COUNT; i++)
        n += st->skipped[i];
    return n;
}

static void test_reason_names(void **state)
{
    static const char *const want[] = {
        [BM_SKIP_EMPTY] = "empty",
        [BM_SKIP_TOO_LONG] = "too_long",
        [BM_SKIP_INVALID_UTF8] = "invalid_utf8",
        [BM_SKIP_MALFORMED_JSON] = "malformed_json",
        [BM_SKIP_NOT_A_POST] = "not_a_post",
        [BM_SKIP_NO_TEXT] = "no_text",
        [BM_SKIP_INVALID] = "invalid",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(bm_skip_reason_name((enum bm_skip_reason)i),
                            want[i]);
    /* every reason has a name of its own */
    for (int i = 0; i < BM_SKIP_COUNT; i++) {
        const char *name = bm_skip_reason_name((enum bm_skip_reason)i);

        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(
                name, bm_skip_reason_name((enum bm_skip_reason)k));
    }
}

/* Every kind of bad line between good ones. */
static void test_mixed_stream(void **state)
{
    struct fixture *f = *state;
    struct bm_buf in = BM_BUF_INIT;
    struct seen seen = { 0 };
    struct bm_replay_stats st;
    char *sum;
    int err;

    memset(&st, 0xab, sizeof(st)); /* the replay resets it */
    /* 1 */ bm_buf_printf(&in, "%s\n", f->x[0]);
    /* 2 */ bm_buf_puts(&in, "\n");
    /* 3 */ bm_buf_puts(&in, "   \t \r\n");
    /* 4 */ bm_buf_puts(&in, "{\"errors\":[{\"title\":\"operational-"
                             "disconnect\",\"type\":\"https://api.x.com/2/"
                             "problems/operational-disconnect\"}]}\n");
    /* 5 */ bm_buf_puts(&in, "{\"data\":{\"id\":\"201\",\"text\":\"cut\n");
    /* 6 */ bm_buf_puts(&in, "{\"data\":{\"id\":\"202\",\"text\":\"caf\xC3"
                             "\x28 acme broken\"}}\n");
    /* 7 */ bm_buf_printf(&in, "%s\r\n", f->x[1]);
    /* 8 */ bm_buf_puts(&in, "{\"data\":{\"id\":\"203\",\"text\":\"");
    for (int i = 0; i < 600; i++)
        bm_buf_puts(&in, "acme broken ");
    bm_buf_puts(&in, "\"}}\n");
    /* 9 */ bm_buf_puts(&in, "{\"data\":{\"id\":\"204\"}}\n");
    /* 10 */ bm_buf_puts(&in, "{\"data\":\"204\"}\n");
    /* 11 */ bm_buf_puts(&in, "[1,2,3]\n");
    /* 12 */ bm_buf_puts(&in, "   ");
    bm_buf_puts(&in, f->x[2]); /* leading blanks, and no final newline */

    err = replay(f, in.data, in.len, "x", 1024, &seen, &st);
    assert_int_equal(err, 0);

    /* the good posts around the bad lines were all decided, in order */
    assert_int_equal(seen.calls, 3);
    assert_string_equal(seen.ids[0], "101");
    assert_string_equal(seen.ids[1], "102");
    assert_string_equal(seen.ids[2], "103");
    assert_string_equal(seen.sources[0], "replay-src");
    assert_true(seen.raw[0]);
    assert_int_equal(seen.matches[0], 1); /* rp.complaint */
    assert_int_equal(seen.matches[1], 1); /* rp.praise */
    assert_int_equal(seen.matches[2], 0);

    assert_int_equal(st.lines, 12);
    assert_int_equal(st.bytes, in.len);
    assert_int_equal(st.posts, 3);
    assert_int_equal(st.decided, 3);
    assert_int_equal(st.matches, 2);
    assert_int_equal(st.skipped[BM_SKIP_EMPTY], 2);
    assert_int_equal(st.skipped[BM_SKIP_NOT_A_POST], 1);
    assert_int_equal(st.skipped[BM_SKIP_MALFORMED_JSON], 1);
    assert_int_equal(st.skipped[BM_SKIP_INVALID_UTF8], 1);
    assert_int_equal(st.skipped[BM_SKIP_TOO_LONG], 1);
    assert_int_equal(st.skipped[BM_SKIP_NO_TEXT], 1);
    assert_int_equal(st.skipped[BM_SKIP_INVALID], 2);
    assert_int_equal(total_skipped(&st) + st.posts, st.lines);

    sum = summary(&st);
    assert_string_equal(sum, "replay: 12 lines, 3 posts, 3 decided, 2 "
                             "matches, 9 skipped (empty: 2, too_long: 1, "
                             "invalid_utf8: 1, malformed_json: 1, "
                             "not_a_post: 1, no_text: 1, invalid: 2)\n");
    free(sum);
    bm_buf_release(&in);
}

/* The ceiling: a line of exactly max_line bytes is read, one more is not,
 * and a too-long last line without a newline is still counted. */
static void test_max_line_boundary(void **state)
{
    struct fixture *f = *state;
    struct bm_buf in = BM_BUF_INIT;
    struct seen seen = { 0 };
    struct bm_replay_stats st;
    size_t max = 0;

    for (int i = 0; i < 3; i++)
        if (strlen(f->x[i]) + 10 > max)
            max = strlen(f->x[i]) + 10;

    bm_buf_puts(&in, f->x[0]);
    for (size_t n = strlen(f->x[0]); n < max; n++)
        bm_buf_putc(&in, ' ');
    bm_buf_putc(&in, '\n'); /* exactly max bytes before the newline */
    bm_buf_puts(&in, f->x[1]);
    for (size_t n = strlen(f->x[1]); n < max + 1; n++)
        bm_buf_putc(&in, ' ');
    bm_buf_putc(&in, '\n'); /* one byte over */
    bm_buf_printf(&in, "%s\n", f->x[2]);
    bm_buf_puts(&in, f->x[1]);
    for (size_t n = strlen(f->x[1]); n < max + 5; n++)
        bm_buf_putc(&in, ' '); /* over, and no newline */

    assert_int_equal(replay(f, in.data, in.len, "x", max, &seen, &st), 0);
    assert_int_equal(seen.calls, 2);
    assert_string_equal(seen.ids[0], "101");
    assert_string_equal(seen.ids[1], "103");
    assert_int_equal(st.lines, 4);
    assert_int_equal(st.skipped[BM_SKIP_TOO_LONG], 2);
    assert_int_equal(total_skipped(&st), 2);
    bm_buf_release(&in);
}

/* Lines longer than the read chunk: a long good line is read whole, and a
 * very long bad one is dropped without losing the line after it. */
static void test_long_lines(void **state)
{
    struct fixture *f = *state;
    struct bm_buf in = BM_BUF_INIT;
    struct seen seen = { 0 };
    struct bm_replay_stats st;

    bm_buf_puts(&in, "{\"data\":{\"id\":\"301\",\"text\":\"");
    for (int i = 0; i < 20000; i++)
        bm_buf_puts(&in, "acme love ");
    bm_buf_puts(&in, "\"}}\n");
    bm_buf_puts(&in, "{\"data\":{\"id\":\"302\",\"text\":\"");
    for (int i = 0; i < 40000; i++)
        bm_buf_puts(&in, "acme broken ");
    bm_buf_puts(&in, "\"}}\n");
    bm_buf_printf(&in, "%s\n", f->x[0]);

    assert_int_equal(replay(f, in.data, in.len, "x", 300000, &seen, &st), 0);
    assert_int_equal(seen.calls, 2);
    assert_string_equal(seen.ids[0], "301");
    assert_int_equal(seen.matches[0], 1);
    assert_string_equal(seen.ids[1], "101");
    assert_int_equal(st.lines, 3);
    assert_int_equal(st.skipped[BM_SKIP_TOO_LONG], 1);
    bm_buf_release(&in);
}

static void test_default_ceiling(void **state)
{
    struct fixture *f = *state;
    struct bm_buf in = BM_BUF_INIT;
    struct seen seen = { 0 };
    struct bm_replay_stats st;

    /* 0 means BM_REPLAY_MAX_LINE_DEFAULT: 1.2 MB is over it */
    bm_buf_puts(&in, "{\"data\":{\"id\":\"401\",\"text\":\"");
    for (int i = 0; i < 120000; i++)
        bm_buf_puts(&in, "acme love ");
    bm_buf_puts(&in, "\"}}\n");
    bm_buf_printf(&in, "%s\n", f->x[2]);
    assert_true(in.len > BM_REPLAY_MAX_LINE_DEFAULT);
    assert_int_equal(replay(f, in.data, in.len, "x", 0, &seen, &st), 0);
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.ids[0], "103");
    assert_int_equal(st.skipped[BM_SKIP_TOO_LONG], 1);
    bm_buf_release(&in);
}

static void test_empty_input(void **state)
{
    struct fixture *f = *state;
    struct seen seen = { 0 };
    struct bm_replay_stats st;
    char *sum;

    assert_int_equal(replay(f, "", 0, "x", 0, &seen, &st), 0);
    assert_int_equal(seen.calls, 0);
    assert_int_equal(st.lines, 0);
    assert_int_equal(st.bytes, 0);
    sum = summary(&st);
    assert_string_equal(sum, "replay: 0 lines, 0 posts, 0 decided, 0 "
                             "matches, 0 skipped\n");
    free(sum);

    assert_int_equal(replay(f, "\n\r\n\n", 4, "x", 0, &seen, &st), 0);
    assert_int_equal(seen.calls, 0);
    assert_int_equal(st.lines, 3);
    assert_int_equal(st.skipped[BM_SKIP_EMPTY], 3);
    sum = summary(&st);
    assert_string_equal(sum, "replay: 3 lines, 0 posts, 0 decided, 0 "
                             "matches, 3 skipped (empty: 3)\n");
    free(sum);
}

static void test_crlf_only(void **state)
{
    struct fixture *f = *state;
    struct bm_buf in = BM_BUF_INIT;
    struct seen seen = { 0 };
    struct bm_replay_stats st;

    for (int i = 0; i < 3; i++)
        bm_buf_printf(&in, "%s\r\n", f->x[i]);
    assert_int_equal(replay(f, in.data, in.len, "x", 0, &seen, &st), 0);
    assert_int_equal(seen.calls, 3);
    assert_int_equal(st.lines, 3);
    assert_int_equal(total_skipped(&st), 0);
    assert_string_equal(seen.ids[2], "103");
    bm_buf_release(&in);
}

/* A negative return from the callback stops the replay with that error. */
static void test_callback_stops(void **state)
{
    struct fixture *f = *state;
    struct bm_buf in = BM_BUF_INIT;
    struct seen seen = { .stop_at = 2 };
    struct bm_replay_stats st;

    for (int i = 0; i < 3; i++)
        bm_buf_printf(&in, "%s\n", f->x[i]);
    assert_int_equal(replay(f, in.data, in.len, "x", 0, &seen, &st),
                     -ECANCELED);
    assert_int_equal(seen.calls, 2);
    assert_int_equal(st.decided, 2);
    bm_buf_release(&in);
}

static void test_reddit_listing(void **state)
{
    struct fixture *f = *state;
    struct seen seen = { 0 };
    struct bm_replay_stats st;
    size_t len;
    char *in = read_file("reddit_listing.json", &len);

    assert_int_equal(replay(f, in, len, "reddit", 0, &seen, &st), 0);
    assert_int_equal(st.lines, 1);
    assert_int_equal(st.posts, 2);
    assert_int_equal(seen.calls, 2);
    assert_string_equal(seen.ids[0], "t3_aaa");
    assert_string_equal(seen.ids[1], "t1_bbb");
    assert_int_equal(seen.matches[0], 1); /* jammed */
    assert_int_equal(seen.matches[1], 1); /* love */
    assert_true(seen.raw[1]);
    assert_int_equal(st.skipped[BM_SKIP_NOT_A_POST], 1); /* "more" */
    assert_int_equal(st.skipped[BM_SKIP_NO_TEXT], 1);
    assert_int_equal(st.matches, 2);
    free(in);
}

static void test_hn_page(void **state)
{
    struct fixture *f = *state;
    struct seen seen = { 0 };
    struct bm_replay_stats st;
    size_t len;
    char *in = read_file("hn_page.json", &len);
    struct bm_buf two = BM_BUF_INIT;

    assert_int_equal(replay(f, in, len, "hn", 0, &seen, &st), 0);
    assert_int_equal(st.lines, 1);
    assert_int_equal(st.posts, 2);
    assert_int_equal(seen.calls, 2);
    assert_string_equal(seen.ids[0], "500");
    assert_string_equal(seen.ids[1], "501");
    assert_int_equal(seen.matches[0], 1); /* broken */
    assert_int_equal(st.skipped[BM_SKIP_NO_TEXT], 1);

    /* two pages, the second after a keep-alive */
    bm_buf_append(&two, in, len);
    bm_buf_puts(&two, "\n");
    bm_buf_append(&two, in, len);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(replay(f, two.data, two.len, "hn", 0, &seen, &st), 0);
    assert_int_equal(seen.calls, 4);
    assert_int_equal(st.lines, 3);
    assert_int_equal(st.skipped[BM_SKIP_EMPTY], 1);
    assert_string_equal(seen.ids[3], "501");
    bm_buf_release(&two);
    free(in);
}

/* A single Reddit thing (not a page) is one post. */
static void test_reddit_single(void **state)
{
    struct fixture *f = *state;
    struct seen seen = { 0 };
    struct bm_replay_stats st;
    static const char line[] =
        "{\"kind\":\"t1\",\"data\":{\"name\":\"t1_zzz\",\"body\":\"acme is "
        "broken\",\"author\":\"kim\"}}\n"
        "{\"kind\":\"Listing\",\"data\":{\"children\":[]}}\n";

    assert_int_equal(replay(f, line, sizeof(line) - 1, "reddit", 0, &seen, &st),
                     0);
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.ids[0], "t1_zzz");
    assert_int_equal(st.lines, 2);
    assert_int_equal(st.posts, 1);
    assert_int_equal(total_skipped(&st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_mixed_stream),
        cmocka_unit_test(test_max_line_boundary),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_default_ceiling),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_crlf_only),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_reddit_listing),
        cmocka_unit_test(test_hn_page),
        cmocka_unit_test(test_reddit_single),
    };

    return cmocka_run_group_tests_name("replay", tests, setup, teardown);
}
