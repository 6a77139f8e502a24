/*
 * test_jetstream.c - brandmond's Jetstream source over a real WebSocket,
 * against the mock server tests/mock/mockws.c.
 *
 * Each test starts mockws (BM_MOCKWS) on a fixture of tests/data/jetstream/
 * with its own options, writes a config (one jetstream source at
 * ws://127.0.0.1:PORT/subscribe, the stdout sink, the pack
 * tests/data/jetstream/acme.yaml, the lexicon and intents in rules/), runs
 * the built brandmond (BM_BINARY) with stdout and stderr going to files,
 * waits for what it should see (decisions, requests in the mock's log),
 * then stops it with SIGTERM, which must end it with status 0 (under ASan
 * also meaning no leaks). Every wait is bounded; each test takes a few
 * seconds.
 *
 * frames.jsonl holds six posts among an identity, an account, a delete and
 * a like event, ten seconds of time_us apart, so that a resume cursor
 * (the last time_us less five seconds) replays exactly one event.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

#ifndef BM_MOCKWS
#error "BM_MOCKWS must name the mockws binary"
#endif
#ifndef BM_BINARY
#error "BM_BINARY must name the brandmond binary"
#endif
#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif
#ifndef BM_RULES_DIR
#define BM_RULES_DIR "rules"
#endif

#define JS_DIR   BM_TEST_DATA "/jetstream/"
#define FRAMES   JS_DIR "frames.jsonl"
#define BAD      JS_DIR "bad.jsonl"
#define PACK     JS_DIR "acme.yaml"
#define START_MS 10000
#define WAIT_MS  8000
#define STOP_MS  5000
#define T0_US    1741942800000000LL /* time_us of the first frame */
#define STEP_US  10000000LL         /* between two frames */

/* The six posts of frames.jsonl, in order. */
static const char *const frame_posts[] = {
    "at://did:plc:js0aaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3ljsa0000000a",
    "at://did:plc:js2ccccccccccccccccccccc/app.bsky.feed.post/3ljsa0000000c",
    "at://did:plc:js5fffffffffffffffffffff/app.bsky.feed.post/3ljsa0000000f",
    "at://did:plc:js6ggggggggggggggggggggg/app.bsky.feed.post/3ljsa0000000g",
    "at://did:plc:js8iiiiiiiiiiiiiiiiiiiii/app.bsky.feed.post/3ljsa0000000i",
    "at://did:plc:js9jjjjjjjjjjjjjjjjjjjjj/app.bsky.feed.post/3ljsa0000000j",
};
#define NPOSTS (sizeof(frame_posts) / sizeof(frame_posts[0]))

/* One test's processes and files. */
struct run {
    char dir[64];
    char port_file[96];
    char log[96];    /* mockws's request log */
    char config[96]; /* brandmond's config */
    char out[96];    /* brandmond's stdout: decisions */
    char err[96];    /* brandmond's stderr: its log */
    char mock_err[96];
    pid_t mock;   /* 0 once stopped */
    pid_t daemon; /* 0 once stopped */
    unsigned port;
};

/* Every line of @path that is a JSON object, as an array (empty when the
 * file is missing). */
static json_t *json_lines(const char *path)
{
    json_t *arr = json_array();
    char *text = it_read_file(path, NULL), *line, *save = NULL;

    if (!text)
        return arr;
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *v = json_loads(line, 0, NULL);

        if (json_is_object(v))
            json_array_append_new(arr, v);
        else
            json_decref(v);
    }
    free(text);
    return arr;
}

static size_t count_lines(const char *path)
{
    json_t *arr = json_lines(path);
    size_t n = json_array_size(arr);

    json_decref(arr);
    return n;
}

/* Starts mockws on @frames with @extra options (NULL-terminated). */
static void start_mock(struct run *r, const char *frames,
                       const char *const *extra)
{
    const char *argv[32];
    size_t n = 0;

    argv[n++] = BM_MOCKWS;
    argv[n++] = "--frames";
    argv[n++] = frames;
    argv[n++] = "--port-file";
    argv[n++] = r->port_file;
    argv[n++] = "--log";
    argv[n++] = r->log;
    argv[n++] = "--max-seconds";
    argv[n++] = "60";
    for (; extra && *extra && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    r->mock = it_spawn(argv, NULL, NULL, NULL, r->mock_err, 0);
    r->port = it_wait_port(&r->mock, r->port_file, r->mock_err, START_MS);
}

/* Writes the config (@source_extra: more YAML lines for the source) and
 * starts brandmond. */
static void start_daemon(struct run *r, const char *stall,
                         const char *source_extra)
{
    const char *argv[] = { BM_BINARY, "-c", r->config, NULL };
    FILE *f = fopen(r->config, "w");

    assert_non_null(f);
    fprintf(f,
            "rules: [\"%s\"]\n"
            "data_dir: \"%s\"\n"
            "sink: stdout\n"
            "log:\n"
            "  level: info\n"
            "sources:\n"
            "  - name: bsky\n"
            "    type: jetstream\n"
            "    url: ws://127.0.0.1:%u/subscribe\n"
            "    stall: %s\n"
            "%s",
            PACK, BM_RULES_DIR, r->port, stall,
            source_extra ? source_extra : "");
    assert_int_equal(fclose(f), 0);
    r->daemon = it_spawn(argv, NULL, NULL, r->out, r->err, 0);
}

/* Waits until the daemon printed @decisions lines and the mock logged
 * @requests upgrades; false after WAIT_MS. */
static bool wait_for(struct run *r, size_t decisions, size_t requests)
{
    long long deadline = it_now_ms() + WAIT_MS;

    while (it_now_ms() < deadline) {
        if (count_lines(r->out) >= decisions && count_lines(r->log) >= requests)
            return true;
        it_sleep_ms(20);
    }
    return false;
}

/* SIGTERM to the daemon: it must exit 0. */
static void stop_daemon(struct run *r)
{
    int st;

    assert_int_equal(kill(r->daemon, SIGTERM), 0);
    st = it_wait_pid(r->daemon, STOP_MS);
    if (st == -1)
        it_kill(r->daemon);
    r->daemon = 0;
    if (st == -1)
        fail_msg("brandmond did not stop in %d ms after SIGTERM", STOP_MS);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char *log = it_read_file(r->err, NULL);

        fprintf(stderr, "brandmond's log:\n%s\n", log ? log : "(none)");
        free(log);
        fail_msg("brandmond ended with status %d after SIGTERM", st);
    }
}

static int setup(void **state)
{
    struct run *r = calloc(1, sizeof(*r));

    if (!r)
        return -1;
    if (it_mkdtemp(r->dir, sizeof(r->dir), "jetstream") != 0) {
        free(r);
        return -1;
    }
    snprintf(r->port_file, sizeof(r->port_file), "%s/port", r->dir);
    snprintf(r->log, sizeof(r->log), "%s/requests.jsonl", r->dir);
    snprintf(r->config, sizeof(r->config), "%s/brandmond.yaml", r->dir);
    snprintf(r->out, sizeof(r->out), "%s/decisions.jsonl", r->dir);
    snprintf(r->err, sizeof(r->err), "%s/brandmond.log", r->dir);
    snprintf(r->mock_err, sizeof(r->mock_err), "%s/mockws.log", r->dir);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct run *r = *state;

    it_kill(r->daemon);
    it_stop(r->mock, STOP_MS);
    it_remove_tree(r->dir);
    free(r);
    return 0;
}

/* ---- checks ---- */

/* How many decisions name @post_id. */
static size_t decided(const json_t *decisions, const char *post_id)
{
    size_t i, n = 0;
    json_t *d;

    json_array_foreach(decisions, i, d)
    {
        const char *id = json_string_value(json_object_get(d, "post_id"));

        if (id && strcmp(id, post_id) == 0)
            n++;
    }
    return n;
}

/* Each post of frames.jsonl decided exactly once, and nothing else. */
static void expect_frame_posts(const struct run *r)
{
    json_t *decisions = json_lines(r->out);

    for (size_t i = 0; i < NPOSTS; i++)
        if (decided(decisions, frame_posts[i]) != 1)
            fail_msg("%s decided %zu times", frame_posts[i],
                     decided(decisions, frame_posts[i]));
    assert_int_equal(json_array_size(decisions), NPOSTS);
    json_decref(decisions);
}

/* The query of the @n-th upgrade request ("" for none). */
static char *request_query(const struct run *r, size_t n)
{
    json_t *reqs = json_lines(r->log);
    json_t *q = json_object_get(json_array_get(reqs, n), "query");
    char *s = strdup(json_is_string(q) ? json_string_value(q) : "");

    json_decref(reqs);
    assert_non_null(s);
    return s;
}

/* The cursor parameter of @query, or -1. */
static long long cursor_of(const char *query)
{
    const char *p = strstr(query, "cursor=");

    if (!p || (p != query && p[-1] != '&'))
        return -1;
    return strtoll(p + 7, NULL, 10);
}

static size_t count_substr(const char *s, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- tests ---- */

/* Posts are decided; identity, account, delete and like events are not. */
static void test_posts_only(void **state)
{
    struct run *r = *state;
    json_t *decisions, *reqs, *first, *matches;
    char *query;
    size_t i;
    json_t *d;
    bool complaint = false;

    start_mock(r, FRAMES, NULL);
    start_daemon(r, "30s", NULL);
    assert_true(wait_for(r, NPOSTS, 1));
    it_sleep_ms(200); /* anything more would show now */
    stop_daemon(r);
    expect_frame_posts(r);

    /* The first request asks for posts only, with no cursor. */
    reqs = json_lines(r->log);
    assert_int_equal(json_array_size(reqs), 1);
    first = json_array_get(reqs, 0);
    assert_string_equal(json_string_value(json_object_get(first, "path")),
                        "/subscribe");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(first, "headers"),
                                          "sec-websocket-version")),
        "13");
    json_decref(reqs);
    query = request_query(r, 0);
    assert_string_equal(query, "wantedCollections=app.bsky.feed.post");
    free(query);

    /* The field map reached the rules: the complaint in post A matched. */
    decisions = json_lines(r->out);
    json_array_foreach(decisions, i, d)
    {
        const char *id = json_string_value(json_object_get(d, "post_id"));
        json_t *m;
        size_t k;

        if (strcmp(id, frame_posts[0]) != 0)
            continue;
        matches = json_object_get(d, "matches");
        json_array_foreach(
            matches, k,
            m) if (strcmp(json_string_value(json_object_get(m, "rule")),
                          "js.complaint") == 0) complaint = true;
    }
    json_decref(decisions);
    assert_true(complaint);
}

/* The server closes after five frames: brandmond reconnects with a cursor
 * five seconds before the last event it processed, and the event that
 * brings back is not decided twice. */
static void test_reconnect_cursor(void **state)
{
    struct run *r = *state;
    const char *const extra[] = { "--close-after", "5", NULL };
    char *q0, *q1, *q2;

    start_mock(r, FRAMES, extra);
    start_daemon(r, "30s", NULL);
    assert_true(wait_for(r, NPOSTS, 3));
    it_sleep_ms(200);
    stop_daemon(r);
    expect_frame_posts(r);

    q0 = request_query(r, 0);
    q1 = request_query(r, 1);
    q2 = request_query(r, 2);
    assert_int_equal(cursor_of(q0), -1);
    /* Connection 0 ended with frame 4 (t0 + 40 s). */
    assert_true(cursor_of(q1) > 0);
    assert_true(cursor_of(q1) <= T0_US + 4 * STEP_US);
    assert_int_equal(cursor_of(q1), T0_US + 4 * STEP_US - 5000000LL);
    /* Connection 1 replayed frame 4 and ended with frame 8. */
    assert_int_equal(cursor_of(q2), T0_US + 8 * STEP_US - 5000000LL);
    /* The cursor replaces, never repeats; wantedCollections stays once. */
    assert_int_equal(count_substr(q2, "cursor="), 1);
    assert_int_equal(count_substr(q2, "wantedCollections="), 1);
    assert_true(it_file_has(r->err, "the server closed the WebSocket"));
    free(q0);
    free(q1);
    free(q2);
}

/* A server that answers no ping and sends nothing more is a stall: the
 * source reconnects (resuming) after the stall interval. */
static void test_stall_reconnects(void **state)
{
    struct run *r = *state;
    const char *const extra[] = { "--pings", "ignore", NULL };
    char *q1;

    start_mock(r, FRAMES, extra);
    start_daemon(r, "1s", NULL);
    assert_true(wait_for(r, NPOSTS, 2));
    stop_daemon(r);
    expect_frame_posts(r);
    assert_true(it_file_has(r->err, "stalled"));
    q1 = request_query(r, 1);
    assert_int_equal(cursor_of(q1), T0_US + 9 * STEP_US - 5000000LL);
    free(q1);
}

/* The same silence, but pongs come back: the connection stays up. */
static void test_pongs_keep_alive(void **state)
{
    struct run *r = *state;

    start_mock(r, FRAMES, NULL);
    start_daemon(r, "1s", NULL);
    assert_true(wait_for(r, NPOSTS, 1));
    it_sleep_ms(2500); /* 2.5 stall intervals of silence but for pongs */
    stop_daemon(r);
    expect_frame_posts(r);
    assert_int_equal(count_lines(r->log), 1);
    assert_false(it_file_has(r->err, "stalled"));
}

/* A message over max_frame and a line that is not JSON are skipped; the
 * connection stays up and the posts around them are decided. */
static void test_bad_frames_skipped(void **state)
{
    struct run *r = *state;
    json_t *decisions;

    start_mock(r, BAD, NULL);
    start_daemon(r, "30s", "    max_frame: 1KiB\n");
    assert_true(wait_for(r, 2, 1));
    it_sleep_ms(300);
    stop_daemon(r);
    decisions = json_lines(r->out);
    assert_int_equal(json_array_size(decisions), 2);
    assert_int_equal(decided(decisions,
                             "at://did:plc:jsbad00000000000000000000/"
                             "app.bsky.feed.post/3ljsb0000000a"),
                     1);
    assert_int_equal(decided(decisions,
                             "at://did:plc:jsbad00000000000000000003/"
                             "app.bsky.feed.post/3ljsb0000000d"),
                     1);
    json_decref(decisions);
    assert_int_equal(count_lines(r->log), 1);
    assert_true(it_file_has(r->err, "too_long"));
    assert_true(it_file_has(r->err, "malformed_json"));
}

/* An upgrade answered with HTTP 503 is retried, and the retry streams;
 * the configured collections are the wantedCollections asked for. */
static void test_refused_upgrade_retried(void **state)
{
    struct run *r = *state;
    char *q0, *q1;

    start_mock(r, FRAMES, (const char *const[]){ "--refuse", "1", NULL });
    start_daemon(r, "30s",
                 "    collections: [app.bsky.feed.post, app.bsky.feed.like]\n");
    assert_true(wait_for(r, NPOSTS, 2));
    it_sleep_ms(200);
    stop_daemon(r);
    expect_frame_posts(r); /* the like is not a post */
    assert_int_equal(count_lines(r->log), 2);
    assert_true(it_file_has(r->err, "HTTP 503"));
    q0 = request_query(r, 0);
    q1 = request_query(r, 1);
    assert_string_equal(q0, "wantedCollections=app.bsky.feed.post&"
                            "wantedCollections=app.bsky.feed.like");
    /* Nothing was processed before the retry: no cursor yet. */
    assert_string_equal(q1, q0);
    free(q0);
    free(q1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_posts_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stall_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pongs_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_frames_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_upgrade_retried, setup,
                                        teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("integration.jetstream", tests, NULL,
                                       NULL);
}
