/*
 * test_cli.c - brandmond's command line, run as a user runs it.
 *
 * Every test spawns the built binary (BM_BINARY) with posix_spawn(), feeds
 * its stdin, collects stdout and stderr apart and checks the exit code
 * (sysexits(3)), what it printed and, for --replay, every decision line
 * parsed with jansson. Packs and inputs are in tests/data/cli/; the small
 * test lexicon in tests/data/engine/base/ keeps results independent of the
 * shipped lexicon, except for the shipped example packs, which must pass
 * their own tests with the shipped data.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

#ifndef BM_BINARY
#error "BM_BINARY must name the brandmond binary"
#endif
#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif
#ifndef BM_RULES_DIR
#define BM_RULES_DIR "rules"
#endif

#define CLI        BM_TEST_DATA "/cli/"
#define BASE_DIR   BM_TEST_DATA "/engine/base"
#define MAX_ARGS   32
#define TIMEOUT_MS 60000

/* sysexits(3), spelled out so the test does not depend on the header. */
#define EXIT_USAGE   64
#define EXIT_NOINPUT 66
#define EXIT_CONFIG  78

/*
 * Runs BM_BINARY with @args (NULL-terminated, without argv[0]), writing
 * @in (@inlen bytes, may be NULL) to its stdin.
 */
static void run_cli(struct it_run *r, const char *in, size_t inlen,
                    const char *const *args)
{
    const char *argv[MAX_ARGS + 2];
    size_t nargs = 0;

    argv[0] = BM_BINARY;
    for (; args[nargs]; nargs++) {
        assert_true(nargs < MAX_ARGS);
        argv[nargs + 1] = args[nargs];
    }
    argv[nargs + 1] = NULL;
    /* stdin is a pipe, closed at once when there is nothing to write. */
    if (it_run(r, BM_BINARY, argv, NULL, in ? in : "", in ? inlen : 0,
               TIMEOUT_MS) != 0) {
        it_run_release(r);
        fail_msg("%s did not finish in %d ms", BM_BINARY, TIMEOUT_MS);
    }
}

static void run_args(struct it_run *r, const char *const *args)
{
    run_cli(r, NULL, 0, args);
}

static void expect_status(const struct it_run *r, int want)
{
    if (r->status != want)
        fail_msg("exit %d, expected %d\n--- stdout:\n%s--- stderr:\n%s",
                 r->status, want, r->out.data, r->err.data);
}

static void expect_has(const char *what, const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("%s lacks \"%s\":\n%s", what, needle, text);
}

static unsigned count_lines_starting(const char *text, const char *prefix)
{
    unsigned n = 0;
    size_t plen = strlen(prefix);

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');

        n += strncmp(p, prefix, plen) == 0;
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

/* Parses every line of @text as a decision; returns them in an array. */
static json_t *decisions(const char *text)
{
    json_t *all = json_array();
    const char *p = text;

    while (*p) {
        const char *nl = strchr(p, '\n');
        json_error_t err;
        json_t *d;

        if (!nl)
            fail_msg("last stdout line has no newline: %s", p);
        d = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &err);
        if (!d)
            fail_msg("stdout line is not JSON (%s): %.*s", err.text,
                     (int)(nl - p), p);
        if (!json_is_object(d) ||
            !json_is_string(json_object_get(d, "post_id")) ||
            !json_is_number(json_object_get(d, "sentiment")) ||
            !json_is_string(json_object_get(d, "tone")) ||
            !json_is_array(json_object_get(d, "brands")) ||
            !json_is_array(json_object_get(d, "intents")) ||
            !json_is_array(json_object_get(d, "matches")) ||
            !json_is_array(json_object_get(d, "escalations")))
            fail_msg("not a decision: %.*s", (int)(nl - p), p);
        json_array_append_new(all, d);
        p = nl + 1;
    }
    return all;
}

static const char *dstr(const json_t *d, const char *key)
{
    return json_string_value(json_object_get(d, key));
}

/* The rule ids of decision @d's matches, joined with ','. */
static void match_ids(const json_t *d, char *out, size_t n)
{
    const json_t *m;
    size_t i;

    out[0] = '\0';
    json_array_foreach(json_object_get(d, "matches"), i, m)
    {
        size_t len = strlen(out);

        snprintf(out + len, n - len, "%s%s", i ? "," : "", dstr(m, "rule"));
    }
}

/* The summary line on stderr, without its newline, or fails. */
static void summary_line(const struct it_run *r, char *out, size_t n)
{
    const char *s = strstr(r->err.data, "replay: ");
    const char *nl;

    if (!s)
        fail_msg("no replay summary on stderr:\n%s", r->err.data);
    nl = strchr(s, '\n');
    if (!nl)
        fail_msg("the summary line has no newline: %s", s);
    snprintf(out, n, "%.*s", (int)(nl - s), s);
}

/* ---- help, version, usage errors ---- */

static void test_help(void **state)
{
    static const char *const formats[] = { "x",      "mastodon", "jetstream",
                                           "reddit", "hn",       "generic" };
    struct it_run r;

    (void)state;
    run_args(&r, (const char *const[]){ "--help", NULL });
    expect_status(&r, 0);
    expect_has("--help", r.out.data, "--replay");
    expect_has("--help", r.out.data, "--check");
    expect_has("--help", r.out.data, "--test");
    expect_has("--help", r.out.data, "--rules");
    expect_has("--help", r.out.data, "--format");
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        char line[64];

        snprintf(line, sizeof(line), " %s ", formats[i]);
        expect_has("--help formats", r.out.data, line);
    }
    assert_int_equal(r.err.len, 0);
    it_run_release(&r);

    run_args(&r, (const char *const[]){ "-h", NULL });
    expect_status(&r, 0);
    expect_has("-h", r.out.data, "--replay");
    it_run_release(&r);
}

static void test_version(void **state)
{
    struct it_run r;

    (void)state;
    run_args(&r, (const char *const[]){ "--version", NULL });
    expect_status(&r, 0);
#ifdef BM_VERSION
    assert_string_equal(r.out.data, "brandmond " BM_VERSION "\n");
#else
    assert_int_equal(strncmp(r.out.data, "brandmond ", 10), 0);
#endif
    it_run_release(&r);
    run_args(&r, (const char *const[]){ "-V", NULL });
    expect_status(&r, 0);
    assert_int_equal(strncmp(r.out.data, "brandmond ", 10), 0);
    it_run_release(&r);
}

static void test_usage_errors(void **state)
{
    struct it_run r;

    (void)state;
    /* no mode */
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", NULL });
    expect_status(&r, EXIT_USAGE);
    expect_has("stderr", r.err.data, "--check");
    assert_int_equal(r.out.len, 0);
    it_run_release(&r);

    run_args(&r, (const char *const[]){ NULL });
    expect_status(&r, EXIT_USAGE);
    it_run_release(&r);

    /* a mode but no rules */
    run_args(&r, (const char *const[]){ "--check", NULL });
    expect_status(&r, EXIT_USAGE);
    expect_has("stderr", r.err.data, "--rules");
    it_run_release(&r);

    /* two modes */
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--check",
                                        "--test", NULL });
    expect_status(&r, EXIT_USAGE);
    it_run_release(&r);

    /* an unknown flag */
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--check",
                                        "--no-such-flag", NULL });
    expect_status(&r, EXIT_USAGE);
    it_run_release(&r);

    /* an unknown format, and a file that is not there */
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--data",
                                        BASE_DIR, "--format", "myspace",
                                        "--replay", CLI "mixed.ndjson", NULL });
    expect_status(&r, EXIT_USAGE);
    expect_has("stderr", r.err.data, "myspace");
    it_run_release(&r);
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--data",
                                        BASE_DIR, "--replay",
                                        CLI "no-such-file.ndjson", NULL });
    expect_status(&r, EXIT_NOINPUT);
    expect_has("stderr", r.err.data, "no-such-file.ndjson");
    it_run_release(&r);
}

/* ---- --check ---- */

static void test_check_good(void **state)
{
    struct it_run r;

    (void)state;
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--check",
                                        "--data", BASE_DIR, NULL });
    expect_status(&r, 0);
    assert_int_equal(strncmp(r.out.data, "rules ok", 8), 0);
    expect_has("--check", r.out.data, " 1 brands");
    expect_has("--check", r.out.data, " 2 rules");
    expect_has("--check", r.out.data, " 3 tests");
    it_run_release(&r);

    /* paths after the flags belong to --rules */
    run_args(&r, (const char *const[]){ "--check", "--data", BASE_DIR,
                                        "--rules", CLI "good.yaml",
                                        CLI "failing.yaml", NULL });
    expect_status(&r, 0);
    expect_has("--check", r.out.data, " 2 brands");
    expect_has("--check", r.out.data, " 3 rules");
    it_run_release(&r);
}

static void test_check_broken(void **state)
{
    struct it_run r;

    (void)state;
    run_args(&r, (const char *const[]){ "--rules", CLI "broken.yaml", "--check",
                                        "--data", BASE_DIR, NULL });
    expect_status(&r, EXIT_CONFIG);
    expect_has("stderr", r.err.data,
               "broken.yaml:16:11: unknown condition 'sentimnet' (did you "
               "mean 'sentiment'?)");
    assert_null(strstr(r.out.data, "rules ok"));
    it_run_release(&r);

    run_args(&r, (const char *const[]){ "--rules", CLI "undefined-list.yaml",
                                        "--check", "--data", BASE_DIR, NULL });
    expect_status(&r, EXIT_CONFIG);
    expect_has("stderr", r.err.data,
               "undefined-list.yaml:13:19: list '$complaints' is not defined");
    it_run_release(&r);

    /* one bad pack fails the whole load */
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml",
                                        CLI "broken.yaml", "--check", "--data",
                                        BASE_DIR, NULL });
    expect_status(&r, EXIT_CONFIG);
    expect_has("stderr", r.err.data, "broken.yaml:16:11:");
    it_run_release(&r);

    run_args(&r, (const char *const[]){ "--rules", CLI "no-such-pack.yaml",
                                        "--check", "--data", BASE_DIR, NULL });
    expect_status(&r, EXIT_CONFIG);
    expect_has("stderr", r.err.data, "no-such-pack.yaml");
    it_run_release(&r);
}

/* ---- --test ---- */

static void test_test_passing(void **state)
{
    struct it_run r;

    (void)state;
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--test",
                                        "--data", BASE_DIR, NULL });
    expect_status(&r, 0);
    expect_has("--test", r.out.data, "3 passed, 0 failed\n");
    assert_int_equal(count_lines_starting(r.out.data, "PASS "), 3);
    assert_int_equal(count_lines_starting(r.out.data, "FAIL "), 0);
    expect_has("--test", r.out.data, "good.yaml:");
    it_run_release(&r);
}

static void test_test_failing(void **state)
{
    struct it_run r;

    (void)state;
    run_args(&r, (const char *const[]){ "--rules", CLI "failing.yaml", "--test",
                                        "--data", BASE_DIR, NULL });
    expect_status(&r, 1);
    assert_int_equal(count_lines_starting(r.out.data, "FAIL "), 1);
    assert_int_equal(count_lines_starting(r.out.data, "PASS "), 1);
    expect_has("--test", r.out.data,
               "FAIL " CLI "failing.yaml:22 expects a rule that does not "
               "fire: ");
    expect_has("--test", r.out.data, "1 passed, 1 failed\n");
    it_run_release(&r);
}

/* ---- --replay ---- */

static const char *const mixed_summary =
    "replay: 7 lines, 3 posts, 3 decided, 2 matches, 4 skipped (empty: 1, "
    "invalid_utf8: 1, malformed_json: 1, not_a_post: 1)";

static void check_mixed(const struct it_run *r, const char *source)
{
    char sum[512], ids[256];
    json_t *all = decisions(r->out.data);
    const json_t *d, *m;

    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(dstr(json_array_get(all, 0), "post_id"), "101");
    assert_string_equal(dstr(json_array_get(all, 1), "post_id"), "102");
    assert_string_equal(dstr(json_array_get(all, 2), "post_id"), "103");
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(dstr(json_array_get(all, i), "source"), source);

    d = json_array_get(all, 0);
    assert_string_equal(dstr(d, "author"), "ann");
    assert_string_equal(dstr(d, "tone"), "negative");
    match_ids(d, ids, sizeof(ids));
    assert_string_equal(ids, "cli.complaint");
    m = json_array_get(json_object_get(d, "matches"), 0);
    assert_string_equal(dstr(m, "brand"), "acme");
    assert_string_equal(dstr(m, "priority"), "high");
    {
        char want[256];

        snprintf(want, sizeof(want),
                 "ann (120) on %s: My Acme printer is broken again", source);
        assert_string_equal(dstr(m, "message"), want);
    }
    match_ids(json_array_get(all, 1), ids, sizeof(ids));
    assert_string_equal(ids, "cli.praise");
    match_ids(json_array_get(all, 2), ids, sizeof(ids));
    assert_string_equal(ids, "");
    json_decref(all);

    summary_line(r, sum, sizeof(sum));
    assert_string_equal(sum, mixed_summary);
}

static void test_replay_file(void **state)
{
    struct it_run r;

    (void)state;
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--data",
                                        BASE_DIR, "--replay",
                                        CLI "mixed.ndjson", NULL });
    expect_status(&r, 0);
    check_mixed(&r, "x"); /* the format is the default source name */
    /* bad lines are reported with their line number */
    expect_has("stderr", r.err.data, "line 5");
    expect_has("stderr", r.err.data, "line 6");
    it_run_release(&r);
}

static void test_replay_stdin(void **state)
{
    struct it_run r, file;
    size_t len;
    char *in = it_read_file(CLI "mixed.ndjson", &len);

    (void)state;
    if (!in)
        fail_msg("cannot open %s", CLI "mixed.ndjson");
    run_cli(&r, in, len,
            (const char *const[]){ "--rules", CLI "good.yaml", "--data",
                                   BASE_DIR, "--source", "x-main", "--replay",
                                   "-", NULL });
    expect_status(&r, 0);
    check_mixed(&r, "x-main");
    /* the same as reading the file */
    run_args(&file,
             (const char *const[]){ "--rules", CLI "good.yaml", "--data",
                                    BASE_DIR, "--source", "x-main", "--replay",
                                    CLI "mixed.ndjson", NULL });
    expect_status(&file, 0);
    assert_string_equal(r.out.data, file.out.data);
    it_run_release(&file);
    it_run_release(&r);
    free(in);
}

static void test_replay_max_line(void **state)
{
    struct it_run r;
    char sum[512];

    (void)state;
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--data",
                                        BASE_DIR, "--max-line", "64",
                                        "--replay", CLI "mixed.ndjson", NULL });
    expect_status(&r, 0);
    assert_int_equal(r.out.len, 0);
    summary_line(&r, sum, sizeof(sum));
    assert_string_equal(sum, "replay: 7 lines, 0 posts, 0 decided, 0 "
                             "matches, 7 skipped (empty: 1, too_long: 4, "
                             "invalid_utf8: 1, malformed_json: 1)");
    it_run_release(&r);

    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--data",
                                        BASE_DIR, "--max-line", "12",
                                        "--replay", CLI "mixed.ndjson", NULL });
    expect_status(&r, EXIT_USAGE);
    it_run_release(&r);
}

/* One input per format: the ids decided, what fired, the summary. */
struct format_case {
    const char *format;
    const char *file;
    const char *extra[10]; /* more flags, NULL-terminated */
    const char *ids[4];    /* NULL-terminated */
    const char *rules[4];  /* match ids per decision, ',' joined */
    const char *summary;
};

static const struct format_case format_cases[] = {
    {
        "x",
        "mixed.ndjson",
        { NULL },
        { "101", "102", "103", NULL },
        { "cli.complaint", "cli.praise", "" },
        NULL, /* checked in test_replay_file */
    },
    {
        "mastodon",
        "mastodon.jsonl",
        { NULL },
        { "m1", "m2", NULL },
        { "cli.complaint", "cli.praise" },
        "replay: 3 lines, 2 posts, 2 decided, 2 matches, 1 skipped "
        "(no_text: 1)",
    },
    {
        "jetstream",
        "jetstream.jsonl",
        { NULL },
        { "at://did:plc:aaa/app.bsky.feed.post/3k1",
          "at://did:plc:ddd/app.bsky.feed.post/3k3", NULL },
        { "cli.complaint", "cli.praise" },
        "replay: 4 lines, 2 posts, 2 decided, 2 matches, 2 skipped "
        "(not_a_post: 2)",
    },
    {
        "reddit",
        "reddit.json",
        { NULL },
        { "t3_aaa", "t1_bbb", NULL },
        { "cli.complaint", "cli.praise" },
        "replay: 1 lines, 2 posts, 2 decided, 2 matches, 1 skipped "
        "(not_a_post: 1)",
    },
    {
        "hn",
        "hn.json",
        { NULL },
        { "500", "501", NULL },
        { "cli.complaint", "cli.praise" },
        "replay: 1 lines, 2 posts, 2 decided, 2 matches, 0 skipped",
    },
    {
        "generic",
        "generic.jsonl",
        { "--field", "id=/uid", "--field", "text=/body/content", "--field",
          "author=/user/name", "--field", "followers=/user/followers", NULL },
        { "g1", "42", NULL },
        { "cli.complaint", "cli.praise" },
        "replay: 3 lines, 2 posts, 2 decided, 2 matches, 1 skipped "
        "(no_text: 1)",
    },
};

static void run_format(const struct format_case *c, struct it_run *r)
{
    const char *args[MAX_ARGS + 1];
    char path[1024];
    size_t n = 0;

    snprintf(path, sizeof(path), "%s%s", CLI, c->file);
    args[n++] = "--rules";
    args[n++] = CLI "good.yaml";
    args[n++] = "--data";
    args[n++] = BASE_DIR;
    args[n++] = "--format";
    args[n++] = c->format;
    for (size_t i = 0; c->extra[i]; i++)
        args[n++] = c->extra[i];
    args[n++] = "--replay";
    args[n++] = path;
    args[n] = NULL;
    run_args(r, args);
}

static void test_replay_formats(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(format_cases) / sizeof(format_cases[0]);
         k++) {
        const struct format_case *c = &format_cases[k];
        struct it_run r;
        json_t *all;
        size_t n = 0;
        char sum[512], ids[256];

        run_format(c, &r);
        print_message("--format %s: %s", c->format,
                      strstr(r.err.data, "replay: ")
                          ? strstr(r.err.data, "replay: ")
                          : "(no summary)\n");
        expect_status(&r, 0);
        all = decisions(r.out.data);
        while (c->ids[n])
            n++;
        if (json_array_size(all) != n)
            fail_msg("--format %s: %zu decisions, expected %zu:\n%s", c->format,
                     json_array_size(all), n, r.out.data);
        for (size_t i = 0; i < n; i++) {
            const json_t *d = json_array_get(all, i);

            assert_string_equal(dstr(d, "post_id"), c->ids[i]);
            assert_string_equal(dstr(d, "source"), c->format);
            match_ids(d, ids, sizeof(ids));
            assert_string_equal(ids, c->rules[i]);
        }
        if (c->summary) {
            summary_line(&r, sum, sizeof(sum));
            assert_string_equal(sum, c->summary);
        }
        json_decref(all);
        it_run_release(&r);
    }
}

/* Fields the formats carry into decisions and alert messages. */
static void test_replay_format_fields(void **state)
{
    struct it_run r;
    json_t *all;
    const json_t *m;

    (void)state;
    run_format(&format_cases[1], &r); /* mastodon */
    expect_status(&r, 0);
    all = decisions(r.out.data);
    assert_string_equal(dstr(json_array_get(all, 0), "author"),
                        "ann@social.example");
    m = json_array_get(json_object_get(json_array_get(all, 0), "matches"), 0);
    expect_has("mastodon message", dstr(m, "message"),
               "ann@social.example (321) on mastodon: My @AcmePrinters "
               "printer is broken");
    json_decref(all);
    it_run_release(&r);

    run_format(&format_cases[5], &r); /* generic */
    expect_status(&r, 0);
    all = decisions(r.out.data);
    assert_string_equal(dstr(json_array_get(all, 0), "author"), "zed");
    m = json_array_get(json_object_get(json_array_get(all, 0), "matches"), 0);
    assert_string_equal(dstr(m, "message"),
                        "zed (9) on generic: Acme is broken");
    assert_string_equal(dstr(json_array_get(all, 1), "author"), "yan");
    json_decref(all);
    it_run_release(&r);
}

/*
 * --field for some post fields only: the others keep their defaults (/id,
 * /text, ...), and the pointers given are used. KNOWN BUG, left failing on
 * purpose: daemon/main.c run_replay() drops the whole --field map unless
 * both id= and text= were given, so `--field text=/body` is silently
 * ignored and every line is skipped as no_text.
 */
static void test_replay_generic_partial_fields(void **state)
{
    struct it_run r;
    json_t *all;

    (void)state;
    run_args(&r, (const char *const[]){ "--rules", CLI "good.yaml", "--data",
                                        BASE_DIR, "--format", "generic",
                                        "--field", "text=/body", "--field",
                                        "author=/who", "--replay",
                                        CLI "generic-partial.jsonl", NULL });
    expect_status(&r, 0);
    all = decisions(r.out.data);
    if (json_array_size(all) != 1) {
        char err[1024];
        size_t n = json_array_size(all);

        snprintf(err, sizeof(err), "%s", r.err.data);
        json_decref(all);
        it_run_release(&r);
        fail_msg("--field text=/body: %zu decisions, expected 1; stderr:\n%s",
                 n, err);
    }
    assert_string_equal(dstr(json_array_get(all, 0), "post_id"), "d1");
    assert_string_equal(dstr(json_array_get(all, 0), "author"), "amy");
    json_decref(all);
    it_run_release(&r);
}

/* ---- the shipped example packs ---- */

static void run_shipped_test(const char *path)
{
    struct it_run r;
    const char *line;

    run_args(&r, (const char *const[]){ "--rules", path, "--test", "--data",
                                        BM_RULES_DIR, NULL });
    /* the result line: "N passed, N failed" */
    line = strstr(r.out.data, " passed, ");
    while (line && line > r.out.data && line[-1] != '\n')
        line--;
    print_message("%s: %s", path, line ? line : "(no result line)\n");
    if (r.status != 0 || !strstr(r.out.data, " passed, 0 failed\n") ||
        count_lines_starting(r.out.data, "FAIL ") != 0)
        fail_msg("--test on %s: exit %d\n%s%s", path, r.status, r.out.data,
                 r.err.data);
    assert_true(count_lines_starting(r.out.data, "PASS ") > 0);
    it_run_release(&r);
}

static void test_shipped_examples(void **state)
{
    const char *dir = BM_RULES_DIR "/examples";
    char path[1024];
    struct dirent *de;
    unsigned packs = 0;
    DIR *d = opendir(dir);

    (void)state;
    if (!d)
        fail_msg("cannot open %s", dir);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        if (de->d_name[0] == '.' ||
            !((len > 5 && strcmp(de->d_name + len - 5, ".yaml") == 0) ||
              (len > 4 && strcmp(de->d_name + len - 4, ".yml") == 0)))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        run_shipped_test(path);
        packs++;
    }
    closedir(d);
    assert_true(packs >= 1);
    /* and all of them loaded together, as a daemon pointed at the folder */
    run_shipped_test(dir);
}

/* ---- escalations in --replay ---- */

#define ESC_DIR BM_TEST_DATA "/escalate/"

/* Appends one X message for post @id made at @t (seconds since the epoch;
 * 0: no created_at) to @f. */
static void put_x_post(FILE *f, const char *id, const char *text, time_t t)
{
    char when[64] = "";
    struct tm tm;

    if (t) {
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when),
                 ",\"created_at\": \"%Y-%m-%dT%H:%M:%S.000Z\"", &tm);
    }
    fprintf(f,
            "{\"data\": {\"id\": \"%s\", \"text\": \"%s\", \"author_id\": "
            "\"u%s\"%s}, \"includes\": {\"users\": [{\"id\": \"u%s\", "
            "\"username\": \"user%s\"}]}}\n",
            id, text, id, when, id, id);
}

/*
 * A generated file of timestamped X posts, replayed with an escalation of
 * 20 acme defense posts in 10 minutes (tests/data/escalate/crisis.yaml):
 * two in the hour before, other kinds and brands that do not count, then a
 * burst of one every 30 s from 12:00 with one post without a time (it
 * takes the previous post's). The 20th counted post carries the escalation,
 * and no other decision does (the cooldown holds the rest of the burst).
 */
static void test_replay_escalation(void **state)
{
    const time_t t0 = 1741953600; /* 2025-03-14T12:00:00Z */
    char path[] = "/tmp/brandmon-escalation-XXXXXX";
    char id[32];
    struct it_run r;
    json_t *all, *esc, *samples;
    const json_t *d;
    size_t i, fired = 0, at = 0;
    int fd;
    FILE *f;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    put_x_post(f, "q1", "Acme is broken", t0 - 50 * 60);
    put_x_post(f, "q2", "my acme is broken", t0 - 20 * 60);
    put_x_post(f, "n1", "Printer ink is on sale", t0 - 5 * 60);
    put_x_post(f, "l1", "I love acme", t0 - 2 * 60);
    put_x_post(f, "g1", "globex is broken", t0 - 60);
    for (int k = 0; k < 25; k++) {
        snprintf(id, sizeof(id), "b%d", k);
        put_x_post(f, id, "Acme printer broken again", t0 + k * 30);
        if (k == 10)
            put_x_post(f, "nt", "acme still broken", 0);
    }
    assert_int_equal(fclose(f), 0);

    run_args(&r,
             (const char *const[]){ "--rules", ESC_DIR "crisis.yaml", "--data",
                                    ESC_DIR "base", "--replay", path, NULL });
    unlink(path);
    expect_status(&r, 0);
    all = decisions(r.out.data);
    assert_int_equal(json_array_size(all), 31);
    json_array_foreach(all, i, d)
    {
        if (json_array_size(json_object_get(d, "escalations")) > 0) {
            fired++;
            at = i;
        }
    }
    if (fired != 1)
        fail_msg("%zu decisions carry escalations, expected 1:\n%s", fired,
                 r.out.data);
    d = json_array_get(all, at);
    /* q1 q2 n1 l1 g1, b0 .. b10, nt, b11 .. b18: the 20th acme defense
     * post is b18 */
    assert_string_equal(dstr(d, "post_id"), "b18");
    assert_int_equal(at, 24);
    esc = json_array_get(json_object_get(d, "escalations"), 0);
    assert_int_equal(json_array_size(json_object_get(d, "escalations")), 1);
    assert_int_equal(json_object_size(esc), 6);
    assert_string_equal(dstr(esc, "id"), "esc.acme.crisis");
    assert_string_equal(dstr(esc, "brand"), "acme");
    assert_string_equal(dstr(esc, "priority"), "high");
    assert_int_equal(json_integer_value(json_object_get(esc, "count")), 20);
    /* 2 posts in the hour before the window: 2 / 6 windows */
    assert_true(json_is_number(json_object_get(esc, "baseline")));
    assert_true(json_number_value(json_object_get(esc, "baseline")) > 0.329 &&
                json_number_value(json_object_get(esc, "baseline")) < 0.331);
    samples = json_object_get(esc, "samples");
    assert_int_equal(json_array_size(samples), 5);
    for (size_t k = 0; k < 5; k++) {
        snprintf(id, sizeof(id), "b%zu", 18 - k);
        assert_string_equal(json_string_value(json_array_get(samples, k)), id);
    }
    json_decref(all);
    it_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_check_good),
        cmocka_unit_test(test_check_broken),
        cmocka_unit_test(test_test_passing),
        cmocka_unit_test(test_test_failing),
        cmocka_unit_test(test_replay_file),
        cmocka_unit_test(test_replay_stdin),
        cmocka_unit_test(test_replay_max_line),
        cmocka_unit_test(test_replay_formats),
        cmocka_unit_test(test_replay_format_fields),
        cmocka_unit_test(test_replay_generic_partial_fields),
        cmocka_unit_test(test_shipped_examples),
        cmocka_unit_test(test_replay_escalation),
    };

    /* brandmond may exit before reading all of its stdin */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
