/*
 * test_framer.c - NDJSON and SSE framers (brandmon/framer.h).
 *
 * Each fixture in tests/data/framer/ comes with <name>.expected.json: the
 * framer type, its ceiling, every frame in order (kind, data, event, id), what
 * bm_framer_finish() returns and the final last event ID and retry. Every
 * fixture is fed whole, split in two at every byte position, one byte at a
 * time and in random-sized pieces (fixed seed); each run must give exactly
 * the expected frames. The rest checks one rule each: a CR at a piece end,
 * the BOM, the ceiling (and that a 50 MB frame is not held in memory),
 * finish, reset, the last event ID, a callback that stops the feed, retry.
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
#include <sys/resource.h>

#include <cmocka.h>
#include <jansson.h>

#include "brandmon/framer.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

#define FRAMER_DATA BM_TEST_DATA "/framer"

/* One frame as the callback saw it, copied. */
struct rec {
    enum bm_frame_kind kind;
    char *data; /* owned */
    size_t len;
    char *event; /* owned; NULL when the frame had none */
    char *id;    /* owned; NULL when the frame had none */
};

struct log {
    struct rec *v; /* owned */
    size_t n, cap;
    size_t stop_after; /* return stop_rc from this frame on (0: never) */
    int stop_rc;
};

static char *dup_or_null(const char *s)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    assert_non_null(d);
    return d;
}

static int record_cb(const struct bm_frame *fr, void *arg)
{
    struct log *lg = arg;
    struct rec *r;

    if (lg->n == lg->cap) {
        lg->cap = lg->cap ? lg->cap * 2 : 16;
        lg->v = realloc(lg->v, lg->cap * sizeof(*lg->v));
        assert_non_null(lg->v);
    }
    r = &lg->v[lg->n++];
    r->kind = fr->kind;
    assert_non_null(fr->data);
    r->len = fr->len;
    r->data = malloc(fr->len + 1);
    assert_non_null(r->data);
    memcpy(r->data, fr->data, fr->len);
    r->data[fr->len] = '\0';
    r->event = dup_or_null(fr->event);
    r->id = dup_or_null(fr->id);
    if (lg->stop_after && lg->n >= lg->stop_after)
        return lg->stop_rc;
    return 0;
}

static void log_clear(struct log *lg)
{
    size_t i;

    for (i = 0; i < lg->n; i++) {
        free(lg->v[i].data);
        free(lg->v[i].event);
        free(lg->v[i].id);
    }
    free(lg->v);
    memset(lg, 0, sizeof(*lg));
}

/* ---- fixtures ---- */

struct expect {
    enum bm_framer_type type;
    size_t max_frame;
    struct log frames;
    size_t finish;
    char *last_id; /* owned */
    int64_t retry_ms;
};

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long sz;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    sz = ftell(fp);
    assert_true(sz > 0);
    rewind(fp);
    buf = malloc((size_t)sz);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *len = (size_t)sz;
    return buf;
}

static char *json_dup(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return NULL;
    assert_true(json_is_string(v));
    return dup_or_null(json_string_value(v));
}

static void load_expect(const char *name, struct expect *ex)
{
    char path[512];
    json_error_t err;
    json_t *root, *frames, *fo;
    const char *kind;
    struct rec *r;
    size_t i;

    memset(ex, 0, sizeof(*ex));
    snprintf(path, sizeof(path), "%s/%s.expected.json", FRAMER_DATA, name);
    root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    ex->type =
        strcmp(json_string_value(json_object_get(root, "type")), "sse") == 0
            ? BM_FRAMER_SSE
            : BM_FRAMER_NDJSON;
    ex->max_frame =
        (size_t)json_integer_value(json_object_get(root, "max_frame"));
    ex->finish = (size_t)json_integer_value(json_object_get(root, "finish"));
    ex->retry_ms = json_integer_value(json_object_get(root, "retry_ms"));
    ex->last_id = json_dup(root, "last_event_id");
    assert_non_null(ex->last_id);
    frames = json_object_get(root, "frames");
    assert_true(json_is_array(frames));
    ex->frames.n = json_array_size(frames);
    ex->frames.cap = ex->frames.n;
    ex->frames.v = calloc(ex->frames.n + 1, sizeof(struct rec));
    assert_non_null(ex->frames.v);
    json_array_foreach(frames, i, fo)
    {
        r = &ex->frames.v[i];
        kind = json_string_value(json_object_get(fo, "kind"));
        assert_non_null(kind);
        if (strcmp(kind, "data") == 0)
            r->kind = BM_FRAME_DATA;
        else if (strcmp(kind, "keepalive") == 0)
            r->kind = BM_FRAME_KEEPALIVE;
        else
            r->kind = BM_FRAME_TOO_BIG;
        r->data = json_dup(fo, "data");
        if (!r->data)
            r->data = dup_or_null("");
        r->len = strlen(r->data);
        r->event = json_dup(fo, "event");
        /* SSE keep-alives carry an empty event type. */
        if (!r->event && ex->type == BM_FRAMER_SSE)
            r->event = dup_or_null("");
        r->id = json_dup(fo, "id");
    }
    json_decref(root);
}

static void expect_clear(struct expect *ex)
{
    log_clear(&ex->frames);
    free(ex->last_id);
}

static void assert_str_or_null(const char *got, const char *want,
                               const char *what, const char *ctx, size_t i)
{
    if (!want && !got)
        return;
    if (!want || !got || strcmp(got, want) != 0)
        fail_msg("%s: frame %zu: %s is \"%s\", expected \"%s\"", ctx, i, what,
                 got ? got : "(null)", want ? want : "(null)");
}

static void assert_same_frames(const struct log *got, const struct log *want,
                               const char *ctx)
{
    size_t i;

    if (got->n != want->n)
        fail_msg("%s: %zu frames, expected %zu", ctx, got->n, want->n);
    for (i = 0; i < got->n; i++) {
        if (got->v[i].kind != want->v[i].kind)
            fail_msg("%s: frame %zu: kind %d, expected %d", ctx, i,
                     (int)got->v[i].kind, (int)want->v[i].kind);
        if (got->v[i].len != want->v[i].len ||
            memcmp(got->v[i].data, want->v[i].data, got->v[i].len) != 0)
            fail_msg("%s: frame %zu: data \"%s\", expected \"%s\"", ctx, i,
                     got->v[i].data, want->v[i].data);
        assert_str_or_null(got->v[i].event, want->v[i].event, "event", ctx, i);
        assert_str_or_null(got->v[i].id, want->v[i].id, "id", ctx, i);
    }
}

/* Feeds @in cut at the offsets in @cuts (ascending, inside the input),
 * finishes, and checks everything against @ex. */
static void run_cuts(const struct expect *ex, const char *in, size_t len,
                     const size_t *cuts, size_t ncuts, const char *ctx)
{
    struct log lg = { 0 };
    struct bm_framer *f;
    size_t i, at = 0, next;

    f = bm_framer_new(ex->type, ex->max_frame, record_cb, &lg);
    assert_non_null(f);
    for (i = 0; i <= ncuts; i++) {
        next = i < ncuts ? cuts[i] : len;
        assert_true(next >= at && next <= len);
        assert_int_equal(bm_framer_feed(f, in + at, next - at), 0);
        at = next;
    }
    if (bm_framer_finish(f) != ex->finish)
        fail_msg("%s: finish returned a wrong count", ctx);
    assert_same_frames(&lg, &ex->frames, ctx);
    assert_string_equal(bm_framer_last_event_id(f), ex->last_id);
    assert_int_equal(bm_framer_retry_ms(f), ex->retry_ms);
    bm_framer_free(f);
    log_clear(&lg);
}

/* A fixed-seed generator, so the random split is the same on every run. */
static uint32_t lcg_next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void check_fixture(const char *file)
{
    char path[512], name[128], ctx[256];
    struct expect ex;
    size_t len, i, n, *cuts;
    uint32_t seed = 20250314u;
    char *in, *dot;
    int round;

    snprintf(path, sizeof(path), "%s/%s", FRAMER_DATA, file);
    snprintf(name, sizeof(name), "%s", file);
    dot = strrchr(name, '.');
    assert_non_null(dot);
    *dot = '\0';
    in = read_file(path, &len);
    load_expect(name, &ex);
    /* The fixture must exercise something. */
    assert_true(ex.frames.n > 0);
    cuts = calloc(len + 1, sizeof(*cuts));
    assert_non_null(cuts);

    snprintf(ctx, sizeof(ctx), "%s whole", file);
    run_cuts(&ex, in, len, NULL, 0, ctx);

    for (i = 0; i <= len; i++) {
        snprintf(ctx, sizeof(ctx), "%s split at %zu", file, i);
        cuts[0] = i;
        run_cuts(&ex, in, len, cuts, 1, ctx);
    }

    for (i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    snprintf(ctx, sizeof(ctx), "%s byte by byte", file);
    run_cuts(&ex, in, len, cuts, len - 1, ctx);

    for (round = 0; round < 50; round++) {
        n = 0;
        i = 0;
        for (;;) {
            i += 1 + lcg_next(&seed) % (round % 2 ? 7 : 97);
            if (i >= len)
                break;
            cuts[n++] = i;
        }
        snprintf(ctx, sizeof(ctx), "%s random round %d", file, round);
        run_cuts(&ex, in, len, cuts, n, ctx);
    }

    free(cuts);
    expect_clear(&ex);
    free(in);
}

static void test_fixture_sse_edge(void **state)
{
    (void)state;
    check_fixture("sse_edge.sse");
}

static void test_fixture_mastodon(void **state)
{
    (void)state;
    check_fixture("mastodon.sse");
}

static void test_fixture_wikimedia(void **state)
{
    (void)state;
    check_fixture("wikimedia.sse");
}

static void test_fixture_x_stream(void **state)
{
    (void)state;
    check_fixture("x_stream.ndjson");
}

static void test_fixture_ndjson_edge(void **state)
{
    (void)state;
    check_fixture("ndjson_edge.ndjson");
}

/* ---- single rules ---- */

static int feed_str(struct bm_framer *f, const char *s)
{
    return bm_framer_feed(f, s, strlen(s));
}

static void test_sse_cr_at_piece_end(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    f = bm_framer_new(BM_FRAMER_SSE, 1024, record_cb, &lg);
    assert_non_null(f);
    /* "\r" | "\n" is one line end, not a line end and a blank line. */
    assert_int_equal(feed_str(f, "data: a\r"), 0);
    assert_int_equal(feed_str(f, "\n"), 0);
    assert_int_equal(lg.n, 0);
    /* A CR-only blank line dispatches at once, without waiting. */
    assert_int_equal(feed_str(f, "\r"), 0);
    assert_int_equal(lg.n, 1);
    assert_string_equal(lg.v[0].data, "a");
    /* The LF after it belongs to that CR. */
    assert_int_equal(feed_str(f, "\n"), 0);
    assert_int_equal(feed_str(f, "data: b\r"), 0);
    assert_int_equal(feed_str(f, "\r"), 0);
    assert_int_equal(lg.n, 2);
    assert_string_equal(lg.v[1].data, "b");
    /* Two CRs in one piece end a line and make a blank one. */
    assert_int_equal(feed_str(f, "data: c\r\r"), 0);
    assert_int_equal(lg.n, 3);
    assert_string_equal(lg.v[2].data, "c");
    assert_int_equal(bm_framer_finish(f), 0);
    bm_framer_free(f);
    log_clear(&lg);
}

static void test_sse_bom(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    f = bm_framer_new(BM_FRAMER_SSE, 1024, record_cb, &lg);
    assert_non_null(f);
    /* Split BOM, then a comment: a keep-alive. */
    assert_int_equal(feed_str(f, "\xEF"), 0);
    assert_int_equal(feed_str(f, "\xBB"), 0);
    assert_int_equal(feed_str(f, "\xBF:hi\n"), 0);
    assert_int_equal(lg.n, 1);
    assert_int_equal(lg.v[0].kind, BM_FRAME_KEEPALIVE);
    /* Only the first BOM of a stream is dropped. */
    assert_int_equal(feed_str(f, "\xEF\xBB\xBF"
                                 "data: x\n\n"),
                     0);
    assert_int_equal(lg.n, 1);
    assert_int_equal(feed_str(f, "data: y\n\n"), 0);
    assert_int_equal(lg.n, 2);
    assert_string_equal(lg.v[1].data, "y");
    bm_framer_free(f);
    log_clear(&lg);

    /* Two bytes of a BOM are not a BOM: they start a field name, so the
     * ':' line is an unknown field, not a comment. */
    f = bm_framer_new(BM_FRAMER_SSE, 1024, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(feed_str(f, "\xEF\xBB"), 0);
    assert_int_equal(feed_str(f, ":c\n\ndata: z\n\n"), 0);
    assert_int_equal(lg.n, 1);
    assert_int_equal(lg.v[0].kind, BM_FRAME_DATA);
    assert_string_equal(lg.v[0].data, "z");
    /* ... and "\xEF" then "data" is the field "\xEF" "data": ignored. */
    bm_framer_reset(f);
    assert_int_equal(feed_str(f, "\xEF"
                                 "data: w\n\n"),
                     0);
    assert_int_equal(lg.n, 1);
    bm_framer_free(f);
    log_clear(&lg);
}

static void test_ndjson_ceiling(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;
    char line[64];
    size_t i;

    (void)state;
    f = bm_framer_new(BM_FRAMER_NDJSON, 16, record_cb, &lg);
    assert_non_null(f);
    memset(line, 'a', sizeof(line));
    /* 16 bytes pass, with "\n" or "\r\n", whole or in two pieces. */
    assert_int_equal(bm_framer_feed(f, line, 16), 0);
    assert_int_equal(feed_str(f, "\r\n"), 0);
    assert_int_equal(bm_framer_feed(f, line, 16), 0);
    assert_int_equal(feed_str(f, "\n"), 0);
    assert_int_equal(feed_str(f, "bbbbbbbbbbbbbbbb\r\n"), 0);
    /* 17 bytes: one TOO_BIG each, whole and in pieces. */
    assert_int_equal(feed_str(f, "ccccccccccccccccc\n"), 0);
    assert_int_equal(bm_framer_feed(f, line, 10), 0);
    assert_int_equal(bm_framer_feed(f, line, 7), 0);
    assert_int_equal(feed_str(f, "\r"), 0);
    assert_int_equal(feed_str(f, "\nnext\n"), 0);
    /* Far over, in many pieces. */
    for (i = 0; i < 20; i++)
        assert_int_equal(bm_framer_feed(f, line, sizeof(line)), 0);
    assert_int_equal(feed_str(f, "\nlast\r\n"), 0);
    assert_int_equal(lg.n, 8);
    for (i = 0; i < 3; i++) {
        assert_int_equal(lg.v[i].kind, BM_FRAME_DATA);
        assert_int_equal(lg.v[i].len, 16);
    }
    assert_memory_equal(lg.v[2].data, "bbbbbbbbbbbbbbbb", 16);
    assert_int_equal(lg.v[3].kind, BM_FRAME_TOO_BIG);
    assert_int_equal(lg.v[3].len, 0);
    assert_int_equal(lg.v[4].kind, BM_FRAME_TOO_BIG);
    assert_int_equal(lg.v[5].kind, BM_FRAME_DATA);
    assert_string_equal(lg.v[5].data, "next");
    assert_int_equal(lg.v[6].kind, BM_FRAME_TOO_BIG);
    assert_int_equal(lg.v[7].kind, BM_FRAME_DATA);
    assert_string_equal(lg.v[7].data, "last");
    /* NDJSON frames carry no event type or ID. */
    assert_null(lg.v[7].event);
    assert_null(lg.v[7].id);
    bm_framer_free(f);
    log_clear(&lg);
}

static void test_sse_ceiling(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    f = bm_framer_new(BM_FRAMER_SSE, 8, record_cb, &lg);
    assert_non_null(f);
    /* 8 bytes of data, on two lines (3 + '\n' + 4), pass. */
    assert_int_equal(feed_str(f, "id: 1\ndata: 123\ndata: 4567\n\n"), 0);
    /* 9 bytes do not; the event type and the id still count. */
    assert_int_equal(feed_str(f, "event: e\nid: 2\ndata: 123456789\n\n"), 0);
    assert_int_equal(feed_str(f, "data: 1234\ndata: 5678\n\n"), 0);
    /* An event type over the ceiling makes the event too big. */
    assert_int_equal(feed_str(f, "event: 123456789\ndata: x\n\n"), 0);
    /* A later event line replaces it. */
    assert_int_equal(feed_str(f, "event: 123456789\nevent: ok\ndata: y\n\n"),
                     0);
    /* An id over the ceiling is ignored. */
    assert_int_equal(feed_str(f, "id: 123456789\ndata: z\n\n"), 0);
    assert_int_equal(lg.n, 6);
    assert_int_equal(lg.v[0].kind, BM_FRAME_DATA);
    assert_string_equal(lg.v[0].data, "123\n4567");
    assert_int_equal(lg.v[1].kind, BM_FRAME_TOO_BIG);
    assert_string_equal(lg.v[1].event, "e");
    assert_string_equal(lg.v[1].id, "2");
    assert_int_equal(lg.v[1].len, 0);
    assert_int_equal(lg.v[2].kind, BM_FRAME_TOO_BIG);
    assert_string_equal(lg.v[2].event, "message");
    assert_int_equal(lg.v[3].kind, BM_FRAME_TOO_BIG);
    assert_int_equal(lg.v[4].kind, BM_FRAME_DATA);
    assert_string_equal(lg.v[4].event, "ok");
    assert_string_equal(lg.v[4].data, "y");
    assert_int_equal(lg.v[5].kind, BM_FRAME_DATA);
    assert_string_equal(lg.v[5].id, "2");
    bm_framer_free(f);
    log_clear(&lg);
}

static long maxrss_kb(void)
{
    struct rusage ru;

    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* 50 MB of one frame in 64 KB pieces with a 1 MB ceiling. */
static void feed_huge(enum bm_framer_type type, const char *head,
                      const char *tail, enum bm_frame_kind want)
{
    struct log lg = { 0 };
    struct bm_framer *f;
    char *piece;
    size_t i, psize = 64 * 1024;
    long before;

    piece = malloc(psize);
    assert_non_null(piece);
    memset(piece, 'q', psize);
    before = maxrss_kb();
    f = bm_framer_new(type, 1024 * 1024, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(feed_str(f, head), 0);
    for (i = 0; i < 50 * 1024 * 1024 / psize; i++)
        assert_int_equal(bm_framer_feed(f, piece, psize), 0);
    assert_int_equal(feed_str(f, tail), 0);
    assert_int_equal(bm_framer_finish(f), 0);
    assert_int_equal(lg.n, 2);
    assert_int_equal(lg.v[0].kind, want);
    assert_int_equal(lg.v[1].kind, BM_FRAME_DATA);
    assert_string_equal(lg.v[1].data, "after");
    /* The framer held at most a couple of ceilings, never the frame. */
    assert_true(maxrss_kb() - before < 10 * 1024);
    bm_framer_free(f);
    log_clear(&lg);
    free(piece);
}

static void test_memory_bounded(void **state)
{
    (void)state;
    feed_huge(BM_FRAMER_NDJSON, "", "\r\nafter\n", BM_FRAME_TOO_BIG);
    feed_huge(BM_FRAMER_SSE, "data: ", "\n\ndata: after\n\n", BM_FRAME_TOO_BIG);
    /* Comments and unknown fields are skipped, not stored. */
    feed_huge(BM_FRAMER_SSE, ":", "\ndata: after\n\n", BM_FRAME_KEEPALIVE);
}

static void test_ndjson_finish(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;
    size_t i;

    (void)state;
    f = bm_framer_new(BM_FRAMER_NDJSON, 16, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(bm_framer_finish(f), 0);
    assert_int_equal(lg.n, 0);
    assert_int_equal(feed_str(f, "{\"a\":1}\n{\"par"), 0);
    assert_int_equal(feed_str(f, "t\":"), 0);
    assert_int_equal(lg.n, 1);
    assert_int_equal(bm_framer_finish(f), 8);
    assert_int_equal(lg.n, 2);
    assert_int_equal(lg.v[1].kind, BM_FRAME_DATA);
    assert_string_equal(lg.v[1].data, "{\"part\":");
    /* Nothing is left after it. */
    assert_int_equal(bm_framer_finish(f), 0);
    assert_int_equal(lg.n, 2);
    /* A partial line over the ceiling: TOO_BIG, and every byte counted. */
    for (i = 0; i < 5; i++)
        assert_int_equal(feed_str(f, "0123456789"), 0);
    assert_int_equal(bm_framer_finish(f), 50);
    assert_int_equal(lg.n, 3);
    assert_int_equal(lg.v[2].kind, BM_FRAME_TOO_BIG);
    /* The stream cut between '\r' and '\n': the '\r' is not data. */
    assert_int_equal(feed_str(f, "{}\r"), 0);
    assert_int_equal(bm_framer_finish(f), 3);
    assert_int_equal(lg.n, 4);
    assert_string_equal(lg.v[3].data, "{}");
    /* The framer goes on as new. */
    assert_int_equal(feed_str(f, "x\n"), 0);
    assert_int_equal(lg.n, 5);
    assert_string_equal(lg.v[4].data, "x");
    bm_framer_free(f);
    log_clear(&lg);
}

static void test_sse_finish(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    f = bm_framer_new(BM_FRAMER_SSE, 1024, record_cb, &lg);
    assert_non_null(f);
    /* A clean end, even after comments. */
    assert_int_equal(feed_str(f, "data: a\n\n:thump\n"), 0);
    assert_int_equal(bm_framer_finish(f), 0);
    assert_int_equal(lg.n, 2);
    /* A pending event is discarded and its bytes counted. */
    assert_int_equal(feed_str(f, "id: 9\ndata: x\ndata: y"), 0);
    assert_int_equal(bm_framer_finish(f), 21);
    assert_int_equal(lg.n, 2);
    /* Its id was never dispatched. */
    assert_string_equal(bm_framer_last_event_id(f), "");
    /* Complete lines without the blank line are pending too. */
    assert_int_equal(feed_str(f, "event: e\ndata: z\n"), 0);
    assert_int_equal(bm_framer_finish(f), 17);
    assert_int_equal(lg.n, 2);
    /* Finish starts a new stream: the BOM check again, empty buffers. */
    assert_int_equal(feed_str(f, "\xEF\xBB\xBF"
                                 "data: new\n\n"),
                     0);
    assert_int_equal(lg.n, 3);
    assert_string_equal(lg.v[2].data, "new");
    assert_string_equal(lg.v[2].event, "message");
    bm_framer_free(f);
    log_clear(&lg);
}

static void test_sse_reset(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    f = bm_framer_new(BM_FRAMER_SSE, 1024, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(feed_str(f, "retry: 700\nid: 5\ndata: a\n\n"), 0);
    assert_int_equal(feed_str(f, "id: 6\nevent: half\ndata: par"), 0);
    assert_int_equal(lg.n, 1);
    bm_framer_reset(f);
    assert_string_equal(bm_framer_last_event_id(f), "5");
    assert_int_equal(bm_framer_retry_ms(f), 700);
    /* The partial event is gone; the ID carries over to the new stream. */
    assert_int_equal(feed_str(f, "\xEF\xBB\xBF"
                                 "data: b\n\n"),
                     0);
    assert_int_equal(lg.n, 2);
    assert_string_equal(lg.v[1].data, "b");
    assert_string_equal(lg.v[1].event, "message");
    assert_string_equal(lg.v[1].id, "5");
    bm_framer_free(f);
    log_clear(&lg);

    /* NDJSON: a reset drops the partial line. */
    f = bm_framer_new(BM_FRAMER_NDJSON, 1024, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(feed_str(f, "{\"half"), 0);
    bm_framer_reset(f);
    assert_int_equal(feed_str(f, "{}\n"), 0);
    assert_int_equal(bm_framer_finish(f), 0);
    assert_int_equal(lg.n, 1);
    assert_string_equal(lg.v[0].data, "{}");
    assert_string_equal(bm_framer_last_event_id(f), "");
    assert_int_equal(bm_framer_retry_ms(f), -1);
    bm_framer_free(f);
    log_clear(&lg);
}

static void test_set_last_event_id(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    f = bm_framer_new(BM_FRAMER_SSE, 64, record_cb, &lg);
    assert_non_null(f);
    assert_string_equal(bm_framer_last_event_id(f), "");
    assert_int_equal(bm_framer_set_last_event_id(f, "[{\"offset\":7}]"), 0);
    assert_string_equal(bm_framer_last_event_id(f), "[{\"offset\":7}]");
    /* Events without an id keep it; keep-alives show it. */
    assert_int_equal(feed_str(f, ":ok\n\ndata: a\n\n"), 0);
    assert_int_equal(lg.n, 2);
    assert_string_equal(lg.v[0].id, "[{\"offset\":7}]");
    assert_string_equal(lg.v[0].event, "");
    assert_string_equal(lg.v[1].id, "[{\"offset\":7}]");
    /* The stream's id replaces it. */
    assert_int_equal(feed_str(f, "id: 8\n\n"), 0);
    assert_string_equal(bm_framer_last_event_id(f), "8");
    /* A header value cannot hold a line break; the ceiling holds. */
    assert_int_equal(bm_framer_set_last_event_id(f, "a\nb"), -EINVAL);
    assert_int_equal(bm_framer_set_last_event_id(f, "a\rb"), -EINVAL);
    assert_int_equal(
        bm_framer_set_last_event_id(
            f, "0123456789012345678901234567890123456789012345678901234567890"
               "1234"),
        -EINVAL);
    assert_int_equal(bm_framer_set_last_event_id(f, NULL), -EINVAL);
    assert_string_equal(bm_framer_last_event_id(f), "8");
    /* An id read but not yet dispatched is overridden by the setter. */
    assert_int_equal(feed_str(f, "id: 9\n"), 0);
    assert_int_equal(bm_framer_set_last_event_id(f, ""), 0);
    assert_int_equal(feed_str(f, "data: b\n\n"), 0);
    assert_int_equal(lg.n, 3);
    assert_string_equal(lg.v[2].id, "");
    bm_framer_free(f);
    log_clear(&lg);

    f = bm_framer_new(BM_FRAMER_NDJSON, 64, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(bm_framer_set_last_event_id(f, "1"), -EINVAL);
    bm_framer_free(f);
}

static void test_callback_stops(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    lg.stop_after = 2;
    lg.stop_rc = -42;
    f = bm_framer_new(BM_FRAMER_NDJSON, 64, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(feed_str(f, "a\nb\nc\nd"), -42);
    assert_int_equal(lg.n, 2);
    assert_string_equal(lg.v[1].data, "b");
    bm_framer_free(f);
    log_clear(&lg);

    lg.stop_after = 2;
    lg.stop_rc = -ECANCELED;
    f = bm_framer_new(BM_FRAMER_SSE, 64, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(feed_str(f, ":)\ndata: a\n\ndata: b\n\n"), -ECANCELED);
    assert_int_equal(lg.n, 2);
    assert_string_equal(lg.v[1].data, "a");
    /* The framer stopped at the frame boundary and goes on from there. */
    lg.stop_after = 0;
    assert_int_equal(feed_str(f, "data: c\n\n"), 0);
    assert_int_equal(lg.n, 3);
    assert_string_equal(lg.v[2].data, "c");
    bm_framer_free(f);
    log_clear(&lg);

    /* A stop from the frame that completes a partial NDJSON line. */
    lg.stop_after = 1;
    lg.stop_rc = -7;
    f = bm_framer_new(BM_FRAMER_NDJSON, 64, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(feed_str(f, "par"), 0);
    assert_int_equal(feed_str(f, "tial\nnext\n"), -7);
    assert_int_equal(lg.n, 1);
    assert_string_equal(lg.v[0].data, "partial");
    bm_framer_free(f);
    log_clear(&lg);
}

static void test_retry(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    f = bm_framer_new(BM_FRAMER_SSE, 64, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(bm_framer_retry_ms(f), -1);
    assert_int_equal(feed_str(f, "retry: 2500\n"), 0);
    assert_int_equal(bm_framer_retry_ms(f), 2500);
    assert_int_equal(feed_str(f, "retry: 10a\nretry: a10\nretry: 1 0\n"), 0);
    assert_int_equal(feed_str(f, "retry:\nretry\nretry: -1\nretry: +3\n"), 0);
    assert_int_equal(feed_str(f, "retry:  30\nRetry: 40\nretry: 1.5\n"), 0);
    assert_int_equal(bm_framer_retry_ms(f), 2500);
    /* No space after the colon is fine; 0 is a value. */
    assert_int_equal(feed_str(f, "retry:0\n"), 0);
    assert_int_equal(bm_framer_retry_ms(f), 0);
    assert_int_equal(feed_str(f, "retry: 86400000\n"), 0);
    assert_int_equal(bm_framer_retry_ms(f), 86400000);
    assert_int_equal(feed_str(f, "retry: 9223372036854775807\n"), 0);
    assert_int_equal(bm_framer_retry_ms(f), INT64_MAX);
    assert_int_equal(feed_str(f, "retry: 4294967296\n"), 0);
    assert_int_equal(bm_framer_retry_ms(f), 4294967296LL);
    /* Past INT64_MAX it saturates rather than wraps. */
    assert_int_equal(feed_str(f, "retry: 99999999999999999999999999\n"), 0);
    assert_int_equal(bm_framer_retry_ms(f), INT64_MAX);
    /* Split in pieces; a retry line dispatches nothing. */
    assert_int_equal(feed_str(f, "ret"), 0);
    assert_int_equal(feed_str(f, "ry: 12"), 0);
    assert_int_equal(feed_str(f, "34\r"), 0);
    assert_int_equal(bm_framer_retry_ms(f), 1234);
    assert_int_equal(feed_str(f, "\n\n"), 0);
    assert_int_equal(lg.n, 0);
    bm_framer_free(f);
}

static void test_new_and_empty_feed(void **state)
{
    struct log lg = { 0 };
    struct bm_framer *f;

    (void)state;
    assert_null(bm_framer_new(BM_FRAMER_SSE, 64, NULL, NULL));
    assert_null(bm_framer_new((enum bm_framer_type)7, 64, record_cb, &lg));
    bm_framer_free(NULL);
    f = bm_framer_new(BM_FRAMER_NDJSON, 64, record_cb, &lg);
    assert_non_null(f);
    assert_int_equal(bm_framer_feed(f, NULL, 0), 0);
    assert_int_equal(bm_framer_feed(f, "", 0), 0);
    assert_int_equal(lg.n, 0);
    bm_framer_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, so earlier tests do not raise the peak it measures. */
        cmocka_unit_test(test_memory_bounded),
        cmocka_unit_test(test_fixture_sse_edge),
        cmocka_unit_test(test_fixture_mastodon),
        cmocka_unit_test(test_fixture_wikimedia),
        cmocka_unit_test(test_fixture_x_stream),
        cmocka_unit_test(test_fixture_ndjson_edge),
        cmocka_unit_test(test_sse_cr_at_piece_end),
        cmocka_unit_test(test_sse_bom),
        cmocka_unit_test(test_ndjson_ceiling),
        cmocka_unit_test(test_sse_ceiling),
        cmocka_unit_test(test_ndjson_finish),
        cmocka_unit_test(test_sse_finish),
        cmocka_unit_test(test_sse_reset),
        cmocka_unit_test(test_set_last_event_id),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_new_and_empty_feed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
