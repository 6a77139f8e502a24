/*
 * test_streams.c - the daemon's live streams, end to end: the built
 * brandmond (BM_BINARY) in daemon mode against the mock stream server
 * (BM_MOCKSTREAM) over 127.0.0.1.
 *
 * Each test gets a fresh temporary folder. It builds a mock script with
 * jansson, starts mockstream and waits for its port, writes a config
 * (`sink: stdout`, the pack tests/data/streams/acme.yaml, the shipped
 * lexicon in rules/) and starts `brandmond -c CONFIG` with its stdout and
 * stderr going to files. It then waits, by polling those files against a
 * deadline, for what it expects: decisions (one JSON line per post on
 * stdout), log lines (stderr), or requests in the mock's request log. Then
 * both get SIGTERM; brandmond must exit 0 and print one summary line per
 * source ("stopped: N posts, ...; skipped: ..."), which the test parses.
 * Delays (resume, backoff, stall) are measured from the request log's t_ms.
 *
 * The tests do not link the daemon's code; they see only what an operator
 * sees. Delays in the scripts are scaled down (keep-alive pauses of tens of
 * milliseconds, `stall: 1s`), so each test takes a few seconds at most; the
 * longest is the 503 one, which waits out the HTTP backoff's first 4-6 s.
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
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

#ifndef BM_BINARY
#error "BM_BINARY must name the brandmond binary"
#endif
#ifndef BM_MOCKSTREAM
#error "BM_MOCKSTREAM must name the mockstream binary"
#endif
#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif
#ifndef BM_RULES_DIR
#define BM_RULES_DIR "rules"
#endif

#define PACK BM_TEST_DATA "/streams/acme.yaml"

/* Upper bounds only: a passing test never waits this long. Generous, since
 * a sanitizer build starts slowly. */
#define START_MS 10000 /* a process to come up */
#define WAIT_MS  8000  /* something that should happen at once */
#define STOP_MS  10000 /* a process to exit after SIGTERM */
#define POLL_MS  10

/* The generic field map used by most generic sources below. */
#define FIELDS "    fields: {id: /id, text: /text}\n"

/* One test's world: a folder, a mock server and a daemon. */
struct env {
    char dir[64];
    pid_t mock;        /* 0 when not running */
    pid_t daemon;      /* 0 when not running */
    unsigned port;     /* the mock's */
    json_t *decisions; /* owned: stdout parsed, after stop_all() */
    json_t *requests;  /* owned: the mock's log parsed, last read */
    char *err;         /* owned: brandmond's stderr, after stop_all() */
};

/* What a source's summary line said. */
struct summary {
    unsigned long long posts, duplicates, ignored, keepalives, connects, stalls,
        http_errors, rate_limited;
    char skipped[512];
};

/* ---- small things ---- */

/* Appends @msg as one compact JSON line ending in @eol; takes @msg. */
static void text_json(struct it_buf *t, json_t *msg, const char *eol)
{
    char *s;

    if (!msg)
        fail_msg("json_pack failed");
    s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!s)
        fail_msg("out of memory");
    it_buf_put(t, s, strlen(s));
    it_buf_put(t, eol, strlen(eol));
    free(s);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* ---- the folder ---- */

static void in_dir(const struct env *e, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", e->dir, name);
}

static void put_file(const struct env *e, const char *name, const void *data,
                     size_t len)
{
    char path[128];

    in_dir(e, name, path, sizeof(path));
    it_write_file(path, data, len);
}

/* ---- failing with the evidence ---- */

static void dump_file(const struct env *e, const char *name)
{
    char path[128];
    char *s;

    in_dir(e, name, path, sizeof(path));
    s = it_read_file(path, NULL);
    fprintf(stderr, "----- %s -----\n%s%s", name, s ? s : "(none)\n",
            s && *s && s[strlen(s) - 1] != '\n' ? "\n" : "");
    free(s);
}

/* Prints the daemon's output and the mock's log, then fails the test. */
__attribute__((format(printf, 3, 4))) static void
fail_dump(const struct env *e, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dump_file(e, "brandmond.yaml");
    dump_file(e, "stderr");
    dump_file(e, "stdout");
    dump_file(e, "requests.jsonl");
    dump_file(e, "mock.err");
    fail_msg("test_streams.c:%d: %s", line, msg);
}

#define CHECK(e, cond)                                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            fail_dump((e), __LINE__, "%s", #cond);                             \
    } while (0)

#define CHECKF(e, cond, ...)                                                   \
    do {                                                                       \
        if (!(cond))                                                           \
            fail_dump((e), __LINE__, __VA_ARGS__);                             \
    } while (0)

/* ---- processes ---- */

/* Fails the test if brandmond died while the test waited on it. */
static void check_alive(struct env *e)
{
    int st;
    char how[64];

    if (!e->daemon || waitpid(e->daemon, &st, WNOHANG) != e->daemon)
        return;
    e->daemon = 0;
    it_describe_status(st, how, sizeof(how));
    fail_dump(e, __LINE__, "brandmond ended before SIGTERM: %s", how);
}

/* Writes {"routes": @routes} (taken) as the script and starts mockstream. */
static void mock_start(struct env *e, json_t *routes)
{
    char script[128], port_file[128], log[128], err[128];
    const char *argv[] = { BM_MOCKSTREAM, "--script", script, "--port-file",
                           port_file,     "--log",    log,    "--max-seconds",
                           "120",         NULL };

    in_dir(e, "script.json", script, sizeof(script));
    in_dir(e, "port", port_file, sizeof(port_file));
    in_dir(e, "requests.jsonl", log, sizeof(log));
    in_dir(e, "mock.err", err, sizeof(err));
    it_write_script(script, routes);
    e->mock = it_spawn(argv, NULL, "/dev/null", NULL, err, 0);
    e->port = it_wait_port(&e->mock, port_file, err, START_MS);
}

/*
 * Writes the config and starts brandmond. @tmpl is the rest of the config
 * after the common head (rules, data_dir, sink): `log:`, `limits:` and the
 * `sources:`, where "$URL" stands for http://127.0.0.1:PORT and "$DIR" for
 * the test's folder.
 */
static void daemon_start(struct env *e, const char *tmpl)
{
    char config[128], out[128], err[128], url[64];
    const char *argv[] = { BM_BINARY, "-c", config, NULL };
    struct it_buf t = { 0 };

    in_dir(e, "brandmond.yaml", config, sizeof(config));
    in_dir(e, "stdout", out, sizeof(out));
    in_dir(e, "stderr", err, sizeof(err));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", e->port);
    it_buf_printf(&t,
                  "# written by test_streams.c\n"
                  "instance: streams-test\n"
                  "rules: %s\n"
                  "data_dir: %s\n"
                  "sink: stdout\n",
                  PACK, BM_RULES_DIR);
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "$URL", 4)) {
            it_buf_put(&t, url, strlen(url));
            p += 4;
        } else if (!strncmp(p, "$DIR", 4)) {
            it_buf_put(&t, e->dir, strlen(e->dir));
            p += 4;
        } else {
            it_buf_put(&t, p++, 1);
        }
    }
    put_file(e, "brandmond.yaml", t.data, t.len);
    it_buf_release(&t);
    e->daemon = it_spawn(argv, NULL, "/dev/null", out, err, 0);
}

/* ---- reading what happened, while it happens ---- */

static char *read_in_dir(const struct env *e, const char *name)
{
    char path[128];

    in_dir(e, name, path, sizeof(path));
    return it_read_file(path, NULL);
}

/* The mock's request log, parsed into e->requests (an array). */
static void load_requests(struct env *e)
{
    char *log = read_in_dir(e, "requests.jsonl");
    json_t *all = json_array();

    for (char *line = log, *eol; line && (eol = strchr(line, '\n'));
         line = eol + 1) {
        json_error_t jerr;
        json_t *req = json_loadb(line, (size_t)(eol - line), 0, &jerr);

        if (!req) {
            free(log);
            json_decref(all);
            fail_dump(e, __LINE__, "bad request log line: %s", jerr.text);
        }
        json_array_append_new(all, req);
    }
    free(log);
    json_decref(e->requests);
    e->requests = all;
}

/* The @i-th request (0-based) to @path in the last log read, or NULL. */
static const json_t *request(const struct env *e, const char *path, size_t i)
{
    size_t k;
    const json_t *req;

    json_array_foreach(e->requests, k, req)
    {
        const char *p = json_string_value(json_object_get(req, "path"));

        if (p && !strcmp(p, path) && i-- == 0)
            return req;
    }
    return NULL;
}

static size_t count_requests(struct env *e, const char *path)
{
    size_t n = 0;

    load_requests(e);
    while (request(e, path, n))
        n++;
    return n;
}

static long long request_t(const struct env *e, const char *path, size_t i)
{
    const json_t *req = request(e, path, i);

    CHECKF(e, req, "no request %zu to %s", i, path);
    return (long long)json_integer_value(json_object_get(req, "t_ms"));
}

/* A request header (names are lower case in the log), "" when absent. */
static const char *request_header(const struct env *e, const char *path,
                                  size_t i, const char *name)
{
    const json_t *req = request(e, path, i);

    CHECKF(e, req, "no request %zu to %s", i, path);
    return or_empty(json_string_value(
        json_object_get(json_object_get(req, "headers"), name)));
}

/* The query string of a request, "" when it had none. */
static const char *request_query(const struct env *e, const char *path,
                                 size_t i)
{
    const json_t *req = request(e, path, i);

    CHECKF(e, req, "no request %zu to %s", i, path);
    return or_empty(json_string_value(json_object_get(req, "query")));
}

/* How often @needle is in brandmond's stderr so far. */
static size_t count_log(struct env *e, const char *needle)
{
    char *s = read_in_dir(e, "stderr");
    size_t n = it_count_str(s, needle);

    free(s);
    return n;
}

/* Decisions printed so far: all (@id NULL) or those of post @id. */
static size_t count_out(struct env *e, const char *id)
{
    char *s = read_in_dir(e, "stdout");
    char key[160];
    size_t n;

    if (id) {
        snprintf(key, sizeof(key), "{\"post_id\":\"%s\",", id);
        n = it_count_str(s, key);
    } else {
        n = it_count_str(s, "\n");
    }
    free(s);
    return n;
}

typedef size_t (*count_fn)(struct env *e, const char *arg);

/* Polls until @fn(@arg) reaches @want, for at most @ms. */
static void wait_for(struct env *e, int line, count_fn fn, const char *what,
                     const char *arg, size_t want, long long ms)
{
    long long deadline = it_now_ms() + ms;
    size_t got;

    for (;;) {
        got = fn(e, arg);
        if (got >= want)
            return;
        check_alive(e);
        if (it_now_ms() > deadline)
            break;
        it_sleep_ms(POLL_MS);
    }
    fail_dump(e, line, "waited %lld ms for %zu %s \"%s\", saw %zu", ms, want,
              what, arg ? arg : "(any)", got);
}

#define WAIT_LOG(e, needle, n, ms)                                             \
    wait_for((e), __LINE__, count_log, "log lines with", (needle), (n), (ms))
#define WAIT_OUT(e, id, n, ms)                                                 \
    wait_for((e), __LINE__, count_out, "decisions of", (id), (n), (ms))
#define WAIT_REQ(e, path, n, ms)                                               \
    wait_for((e), __LINE__, count_requests, "requests to", (path), (n), (ms))

/* ---- stopping and reading the results ---- */

/*
 * SIGTERM to brandmond, which must exit 0 within STOP_MS; then to the
 * mock. Loads stdout (every line must be a JSON decision), stderr and the
 * request log.
 */
static void stop_all(struct env *e)
{
    char *out, how[64];
    int st;

    if (e->daemon) {
        kill(e->daemon, SIGTERM);
        st = it_wait_pid(e->daemon, STOP_MS);
        if (st != -1)
            e->daemon = 0;
        it_describe_status(st, how, sizeof(how));
        CHECKF(e, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
               "brandmond after SIGTERM: %s (want exit 0)", how);
    }
    if (e->mock) {
        kill(e->mock, SIGTERM);
        st = it_wait_pid(e->mock, STOP_MS);
        if (st != -1)
            e->mock = 0;
        it_describe_status(st, how, sizeof(how));
        CHECKF(e, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
               "mockstream after SIGTERM: %s", how);
    }
    free(e->err);
    e->err = read_in_dir(e, "stderr");
    CHECK(e, e->err != NULL);
    CHECK(e, strstr(e->err, "[daemon] SIGTERM: stopping") != NULL);
    /* A sanitizer build reports here (and exits non-zero, checked above). */
    CHECK(e, !strstr(e->err, "runtime error:"));
    CHECK(e, !strstr(e->err, "Sanitizer"));
    load_requests(e);
    out = read_in_dir(e, "stdout");
    CHECK(e, out != NULL);
    json_decref(e->decisions);
    e->decisions = json_array();
    for (char *line = out, *eol; (eol = strchr(line, '\n')); line = eol + 1) {
        json_error_t jerr;
        json_t *d = json_loadb(line, (size_t)(eol - line), 0, &jerr);

        if (!d || !json_is_string(json_object_get(d, "post_id"))) {
            free(out);
            json_decref(d);
            fail_dump(e, __LINE__, "stdout line is not a decision: %s",
                      jerr.text);
        }
        json_array_append_new(e->decisions, d);
    }
    CHECKF(e, !*out || out[strlen(out) - 1] == '\n',
           "stdout ends inside a line");
    free(out);
}

/* Parses the summary line of source "TYPE:NAME" (@tag). */
static void summary_of(const struct env *e, const char *tag, struct summary *s)
{
    char key[160];
    const char *p;
    int n;

    snprintf(key, sizeof(key), "[source:%s] stopped: ", tag);
    p = e->err ? strstr(e->err, key) : NULL;
    CHECKF(e, p, "no summary line for %s", tag);
    CHECKF(e, !strstr(p + 1, key), "two summary lines for %s", tag);
    memset(s, 0, sizeof(*s));
    n = sscanf(p + strlen(key),
               "%llu posts, %llu duplicates, %llu ignored, %llu keep-alives, "
               "%llu connects, %llu stalls, %llu http errors, %llu rate "
               "limited; skipped: %511[^\n]",
               &s->posts, &s->duplicates, &s->ignored, &s->keepalives,
               &s->connects, &s->stalls, &s->http_errors, &s->rate_limited,
               s->skipped);
    CHECKF(e, n == 9, "cannot read the summary of %s (%d fields)", tag, n);
}

/* The count after @reason in "reason N, reason N" (0 when absent). */
static unsigned long long skipped_of(const struct summary *s,
                                     const char *reason)
{
    size_t k = strlen(reason);

    for (const char *p = s->skipped; p && *p;) {
        if (!strncmp(p, reason, k) && p[k] == ' ')
            return strtoull(p + k + 1, NULL, 10);
        p = strstr(p, ", ");
        if (p)
            p += 2;
    }
    return 0;
}

static const char *decision_str(const json_t *d, const char *key)
{
    return or_empty(json_string_value(json_object_get(d, key)));
}

/* The index of the first decision of post @id, or -1. */
static long decision_index(const struct env *e, const char *id)
{
    size_t i;
    const json_t *d;

    json_array_foreach(e->decisions, i, d)
    {
        if (!strcmp(decision_str(d, "post_id"), id))
            return (long)i;
    }
    return -1;
}

static size_t decided(const struct env *e, const char *id)
{
    size_t i, n = 0;
    const json_t *d;

    json_array_foreach(e->decisions, i, d)
    {
        if (!strcmp(decision_str(d, "post_id"), id))
            n++;
    }
    return n;
}

static size_t decided_from(const struct env *e, const char *source)
{
    size_t i, n = 0;
    const json_t *d;

    json_array_foreach(e->decisions, i, d)
    {
        if (!strcmp(decision_str(d, "source"), source))
            n++;
    }
    return n;
}

static bool has_brand(const json_t *d, const char *brand)
{
    size_t i;
    const json_t *b;

    json_array_foreach(json_object_get(d, "brands"), i, b)
    {
        if (!strcmp(json_string_value(json_object_get(b, "id")), brand))
            return true;
    }
    return false;
}

/* Post @id was decided exactly once, from @source, and names acme. */
static const json_t *check_decided(const struct env *e, const char *id,
                                   const char *source)
{
    long i = decision_index(e, id);
    const json_t *d;

    CHECKF(e, i >= 0, "post %s was not decided", id);
    CHECKF(e, decided(e, id) == 1, "post %s was decided %zu times", id,
           decided(e, id));
    d = json_array_get(e->decisions, (size_t)i);
    CHECKF(e, !strcmp(decision_str(d, "source"), source),
           "post %s: source %s, want %s", id, decision_str(d, "source"),
           source);
    CHECKF(e, has_brand(d, "acme"), "post %s: the brand acme was not found",
           id);
    return d;
}

/* The posts @ids (NULL-terminated) were decided once each, in that order. */
static void check_in_order(const struct env *e, const char *source,
                           const char *const *ids)
{
    long last = -1;

    for (; *ids; ids++) {
        long i;

        check_decided(e, *ids, source);
        i = decision_index(e, *ids);
        CHECKF(e, i > last, "post %s was decided out of order", *ids);
        last = i;
    }
}

/* ---- messages ---- */

/* An X filtered-stream message; @note is the note_tweet text or NULL. */
static json_t *x_post(const char *id, const char *text, const char *note)
{
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "text",
                             text, "author_id", "2001", "lang", "en",
                             "created_at", "2025-03-14T09:00:03.412Z");

    if (!data)
        fail_msg("json_pack failed");
    if (note)
        json_object_set_new(data, "note_tweet",
                            json_pack("{s:s}", "text", note));
    return json_pack("{s:o, s:{s:[{s:s, s:s, s:{s:i}}]}, s:[{s:s, s:s}]}",
                     "data", data, "includes", "users", "id", "2001",
                     "username", "printfan", "public_metrics",
                     "followers_count", 1234, "matching_rules", "id",
                     "1900412345678901001", "tag", "brand-acme");
}

/* X's in-stream error object, written just before the server closes. */
static json_t *x_disconnect(void)
{
    return json_pack(
        "{s:[{s:s, s:s, s:s, s:s}]}", "errors", "title",
        "operational-disconnect", "disconnect_type",
        "UpstreamOperationalDisconnect", "detail",
        "This stream has been disconnected upstream for operational reasons.",
        "type", "https://api.twitter.com/2/problems/operational-disconnect");
}

/* A Mastodon Status. */
static json_t *toot(const char *id, const char *html)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:i}}", "id",
                     id, "created_at", "2025-03-14T09:00:00.000Z", "content",
                     html, "spoiler_text", "", "language", "en", "url",
                     "https://mastodon.example/@ink/1", "account", "id", "77",
                     "acct", "ink@mastodon.example", "followers_count", 321);
}

/* A message of the simple generic shape {"id", "text"}. */
static json_t *plain(const char *id, const char *text)
{
    return json_pack("{s:s, s:s}", "id", id, "text", text);
}

/* A scenario: @type body @body, then @then (NULL: the mock's default). */
static json_t *scenario(const char *type, const char *body, const char *then)
{
    json_t *sc = json_pack("{s:s, s:s}", "type", type, "body", body);

    if (!sc)
        fail_msg("json_pack failed");
    if (then)
        json_object_set_new(sc, "then", json_string(then));
    return sc;
}

static json_t *set_int(json_t *sc, const char *key, long long v)
{
    json_object_set_new(sc, key, json_integer(v));
    return sc;
}

static json_t *set_str(json_t *sc, const char *key, const char *v)
{
    json_object_set_new(sc, key, json_string(v));
    return sc;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    if (!e)
        return -1;
    if (it_mkdtemp(e->dir, sizeof(e->dir), "streams") != 0) {
        free(e);
        return -1;
    }
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    it_stop(e->daemon, 2000);
    it_stop(e->mock, 2000);
    json_decref(e->decisions);
    json_decref(e->requests);
    free(e->err);
    it_remove_tree(e->dir);
    free(e);
    return 0;
}

/* ===================================================================== */
/* Presets                                                               */
/* ===================================================================== */

/*
 * X: NDJSON with \r\n, keep-alive blank lines (their pauses scaled down to
 * 50 ms), pieces of 1-40 bytes (so lines are split, also between \r and
 * \n), a long post whose brand word is only in note_tweet, and the
 * operational-disconnect error object, after which the server closes: the
 * daemon says why, and reconnects at once (X: first retry immediate).
 */
static void test_preset_x(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 }, b = { 0 };
    struct summary s;
    const char *const order[] = { "1001", "1002", "1003", NULL };
    json_t *sc1, *sc2;

    it_buf_printf(&a, "\r\n");
    text_json(&a, x_post("1001", "My Acme printer jammed again", NULL), "\r\n");
    it_buf_printf(&a, "\r\n");
    text_json(&a,
              x_post("1002",
                     "A long thread about the office printer situation, "
                     "part one of many\xE2\x80\xA6",
                     "A long thread about the office printer situation. "
                     "Part two: the Acme printer jammed on every page and "
                     "support was no help at all."),
              "\r\n");
    it_buf_printf(&a, "\r\n\r\n");
    text_json(&a, x_disconnect(), "\r\n");
    text_json(&b, x_post("1003", "I love my Acme printer, it is great", NULL),
              "\r\n");
    sc1 =
        set_int(scenario("ndjson", a.data, "close"), "keepalive_pause_ms", 50);
    json_object_set_new(sc1, "chunk", json_pack("[i,i]", 1, 40));
    sc2 = scenario("ndjson", b.data, "keepalive:200");
    it_buf_release(&a);
    it_buf_release(&b);
    mock_start(e, json_pack("{s:[o,o]}", "/2/tweets/search/stream", sc1, sc2));
    put_file(e, "x_token", "x-secret-token\n", 15);
    daemon_start(e, "sources:\n"
                    "  - name: xs\n"
                    "    type: x\n"
                    "    url: $URL/2/tweets/search/stream?tweet.fields=lang\n"
                    "    token_file: $DIR/x_token\n");
    WAIT_OUT(e, "1003", 1, WAIT_MS);
    WAIT_REQ(e, "/2/tweets/search/stream", 2, WAIT_MS);
    stop_all(e);

    /* check_decided() wants the brand found: for 1002 it is only in
     * note_tweet.text. */
    check_in_order(e, "xs", order);
    CHECK(e, !strcmp(decision_str(check_decided(e, "1001", "xs"), "author"),
                     "printfan"));
    CHECK(e, json_array_size(e->decisions) == 3);
    CHECK(e, strstr(e->err, "[source:x:xs] the stream says: "
                            "operational-disconnect") != NULL);
    CHECK(e, strstr(e->err, "[source:x:xs] the server ended the stream; "
                            "reconnecting in 0 ms (network backoff)") != NULL);
    CHECK(e, it_count_str(e->err, "[source:x:xs] connected (HTTP 200)") == 2);
    /* At once: well under the HTTP ladder's 5 s. */
    CHECKF(e,
           request_t(e, "/2/tweets/search/stream", 1) -
                   request_t(e, "/2/tweets/search/stream", 0) <
               1000,
           "the reconnect after operational-disconnect took %lld ms",
           request_t(e, "/2/tweets/search/stream", 1) -
               request_t(e, "/2/tweets/search/stream", 0));
    CHECK(e, !strcmp(request_query(e, "/2/tweets/search/stream", 0),
                     "tweet.fields=lang"));
    CHECK(e, !strcmp(request_header(e, "/2/tweets/search/stream", 0,
                                    "authorization"),
                     "Bearer x-secret-token"));
    CHECK(e, !strstr(e->err, "x-secret-token"));
    summary_of(e, "x:xs", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, s.ignored == 1); /* the error object */
    CHECK(e, s.keepalives >= 4);
    CHECK(e, s.connects == 2);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/*
 * Mastodon: SSE with the ":)" preamble, ":thump" comments, `update` and
 * `status.update` decided (the HTML content is read as HTML), `delete`
 * (a bare id, not JSON) ignored.
 */
static void test_preset_mastodon(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 };
    struct summary s;
    const char *const order[] = { "m1", "m2", "m3", NULL };
    json_t *sc;

    it_buf_printf(&a, ":)\n");
    it_buf_printf(&a, "event: update\ndata: ");
    text_json(&a,
              toot("m1", "<p>My <strong>Acme</strong> printer jammed "
                         "&amp; I want a refund</p>"),
              "\n\n");
    it_buf_printf(&a, ":thump\n");
    it_buf_printf(&a, "event: delete\ndata: 114160021234567890\n\n");
    it_buf_printf(&a, "event: update\ndata: ");
    text_json(&a,
              toot("m2", "<p>I <em>love</em> my Acme printer, it is "
                         "great</p>"),
              "\n\n");
    it_buf_printf(&a, ":thump\n");
    it_buf_printf(&a, "event: status.update\ndata: ");
    text_json(&a,
              toot("m3", "<p>Edited: the Acme printer is broken "
                         "again</p>"),
              "\n\n");
    sc = set_int(scenario("sse", a.data, "hang"), "keepalive_pause_ms", 50);
    json_object_set_new(sc, "chunk", json_pack("[i,i]", 1, 64));
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o}", "/api/v1/streaming/public", sc));
    daemon_start(e, "sources:\n"
                    "  - name: fedi\n"
                    "    type: mastodon\n"
                    "    url: $URL/api/v1/streaming/public\n");
    WAIT_OUT(e, "m3", 1, WAIT_MS);
    stop_all(e);

    check_in_order(e, "fedi", order);
    CHECK(e, json_array_size(e->decisions) == 3);
    CHECK(e, !strcmp(decision_str(check_decided(e, "m1", "fedi"), "author"),
                     "ink@mastodon.example"));
    CHECK(e, !strcmp(request_header(e, "/api/v1/streaming/public", 0, "accept"),
                     "text/event-stream"));
    summary_of(e, "mastodon:fedi", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, s.ignored == 1);    /* the delete */
    CHECK(e, s.keepalives == 3); /* ":)" and two ":thump" */
    CHECK(e, s.connects == 1);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/*
 * Generic SSE with `fields:` and resume: the server sends `retry: 4000` and
 * event ids, then closes. The reconnect carries Last-Event-ID = the last id
 * seen and comes no sooner than the retry time (4 s is above the SSE
 * ladder's first wait, 3 s +-20 %, so the retry decides the delay).
 */
static void test_preset_sse_resume(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 }, b = { 0 };
    struct summary s;
    const char *const order[] = { "s1", "s2", "s3", NULL };
    long long gap;
    json_t *sc1, *sc2;

    it_buf_printf(&a, "retry: 4000\n\n");
    it_buf_printf(&a, "id: ev-41\nevent: mention\ndata: ");
    text_json(&a,
              json_pack("{s:{s:s, s:s}, s:{s:s, s:i}}", "msg", "id", "s1",
                        "body", "the Acme printer jammed", "who", "handle",
                        "feeder", "followers", 77),
              "\n\n");
    it_buf_printf(&a, "id: ev-42\nevent: mention\ndata: ");
    text_json(&a,
              json_pack("{s:{s:s, s:s}, s:{s:s, s:i}}", "msg", "id", "s2",
                        "body", "love the new Acme printer, great", "who",
                        "handle", "feeder", "followers", 77),
              "\n\n");
    it_buf_printf(&b, "id: ev-43\ndata: ");
    text_json(&b,
              json_pack("{s:{s:s, s:s}, s:{s:s, s:i}}", "msg", "id", "s3",
                        "body", "Acme printer broken", "who", "handle",
                        "feeder", "followers", 77),
              "\n\n");
    sc1 = scenario("sse", a.data, "close");
    sc2 = scenario("sse", b.data, "keepalive:200");
    it_buf_release(&a);
    it_buf_release(&b);
    mock_start(e, json_pack("{s:[o,o]}", "/events", sc1, sc2));
    daemon_start(e, "sources:\n"
                    "  - name: feed\n"
                    "    type: sse\n"
                    "    url: $URL/events\n"
                    "    fields:\n"
                    "      id: /msg/id\n"
                    "      text: /msg/body\n"
                    "      author: /who/handle\n"
                    "      followers: /who/followers\n");
    WAIT_OUT(e, "s2", 1, WAIT_MS);
    WAIT_OUT(e, "s3", 1, WAIT_MS);
    stop_all(e);

    check_in_order(e, "feed", order);
    CHECK(e, !strcmp(decision_str(check_decided(e, "s1", "feed"), "author"),
                     "feeder"));
    CHECK(e, !*request_header(e, "/events", 0, "last-event-id"));
    CHECK(e,
          !strcmp(request_header(e, "/events", 1, "last-event-id"), "ev-42"));
    gap = request_t(e, "/events", 1) - request_t(e, "/events", 0);
    CHECKF(e, gap >= 3950, "reconnected after %lld ms, retry was 4000", gap);
    CHECKF(e, gap <= 6000, "reconnected after %lld ms, retry was 4000", gap);
    summary_of(e, "sse:feed", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, s.connects == 2);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/*
 * A `retry:` shorter than the SSE ladder's first wait (3 s +-20 %). The
 * streams README (3.2) says the reconnection time is "replaced by any valid
 * retry:", and the comment on bm_backoff_sse in daemon/stream/backoff.c says
 * "the server's retry: replaces the first wait", so a server asking for
 * 800 ms should see the client back after about 800 ms.
 *
 * KNOWN FAILURE (daemon bug, reported, not fixed here): http.c passes the
 * retry to source_retry() as a minimum wait, and source_retry() keeps the
 * longer of it and the ladder's wait, so the reconnect comes after 2.4-3.6 s
 * whatever the server asked for; retry: can lengthen the wait but never
 * shorten it.
 */
static void test_preset_sse_short_retry(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 }, b = { 0 };
    long long gap;
    json_t *sc1, *sc2;

    it_buf_printf(&a, "retry: 800\nid: 7\ndata: ");
    text_json(&a, plain("q1", "Acme printer jammed"), "\n\n");
    it_buf_printf(&b, "id: 8\ndata: ");
    text_json(&b, plain("q2", "Acme printer broken"), "\n\n");
    sc1 = scenario("sse", a.data, "close");
    sc2 = scenario("sse", b.data, "keepalive:200");
    it_buf_release(&a);
    it_buf_release(&b);
    mock_start(e, json_pack("{s:[o,o]}", "/events", sc1, sc2));
    daemon_start(e, "sources:\n"
                    "  - name: feed\n"
                    "    type: sse\n"
                    "    url: $URL/events\n" FIELDS);
    WAIT_OUT(e, "q2", 1, WAIT_MS);
    stop_all(e);

    check_decided(e, "q1", "feed");
    check_decided(e, "q2", "feed");
    CHECK(e, !strcmp(request_header(e, "/events", 1, "last-event-id"), "7"));
    gap = request_t(e, "/events", 1) - request_t(e, "/events", 0);
    CHECKF(e, gap >= 750, "reconnected after %lld ms, retry was 800", gap);
    CHECKF(e, gap <= 2000,
           "reconnected after %lld ms, but the server's retry: was 800 ms "
           "(known daemon bug: retry: is only a lower bound)",
           gap);
}

/* Generic NDJSON with `fields:` pointing into nested objects. */
static void test_preset_ndjson(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 };
    struct summary s;
    const char *const order[] = { "n1", "n2", "n3", NULL };
    const json_t *d;
    json_t *sc;

    text_json(&a,
              json_pack("{s:{s:s, s:s}, s:{s:s, s:i}, s:s}", "post", "key",
                        "n1", "body", "Acme printer jammed, I want a refund",
                        "user", "handle", "ann", "followers", 12000, "lang",
                        "en"),
              "\n");
    it_buf_printf(&a, "\n");
    text_json(&a,
              json_pack("{s:{s:s, s:s}, s:{s:s, s:i}, s:s}", "post", "key",
                        "n2", "body", "my acme printer is great, love it",
                        "user", "handle", "ben", "followers", 5, "lang", "en"),
              "\n");
    text_json(&a,
              json_pack("{s:{s:s, s:s}, s:{s:s, s:i}, s:s}", "post", "key",
                        "n3", "body", "acme printers: broken again", "user",
                        "handle", "cat", "followers", 9, "lang", "en"),
              "\n");
    sc = scenario("ndjson", a.data, "keepalive:200");
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o}", "/feed", sc));
    daemon_start(e, "sources:\n"
                    "  - name: partner\n"
                    "    type: ndjson\n"
                    "    url: $URL/feed\n"
                    "    headers:\n"
                    "      X-Client: brandmon-test\n"
                    "    fields:\n"
                    "      id: /post/key\n"
                    "      text: /post/body\n"
                    "      author: /user/handle\n"
                    "      followers: /user/followers\n"
                    "      lang: /lang\n");
    WAIT_OUT(e, "n3", 1, WAIT_MS);
    stop_all(e);

    check_in_order(e, "partner", order);
    d = check_decided(e, "n1", "partner");
    CHECK(e, !strcmp(decision_str(d, "author"), "ann"));
    CHECK(e, !strcmp(decision_str(check_decided(e, "n3", "partner"), "author"),
                     "cat"));
    CHECK(e,
          !strcmp(request_header(e, "/feed", 0, "x-client"), "brandmon-test"));
    summary_of(e, "ndjson:partner", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, s.keepalives >= 1);
    CHECK(e, s.connects == 1);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/* A Reddit Listing of three posts. */
static char *reddit_page(void)
{
    json_t *children = json_array();
    static const char *const posts[][3] = {
        { "t3_r3", "Acme printer broken after update", "1741943100.0" },
        { "t3_r2", "Love my Acme printer, great value", "1741942900.0" },
        { "t3_r1", "Acme printers jammed &amp; no refund", "1741942800.0" },
    };
    json_t *page;
    char *s;

    for (size_t i = 0; i < 3; i++)
        json_array_append_new(
            children,
            json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:f, s:s, s:s}}", "kind",
                      "t3", "data", "name", posts[i][0], "id", posts[i][0] + 3,
                      "title", posts[i][1], "selftext", "", "created_utc",
                      strtod(posts[i][2], NULL), "author", "redditor",
                      "permalink", "/r/printers/comments/x/"));
    page = json_pack("{s:s, s:{s:n, s:i, s:o, s:n}}", "kind", "Listing", "data",
                     "after", "dist", 3, "children", children, "before");
    s = json_dumps(page, JSON_COMPACT);
    json_decref(page);
    return s;
}

/*
 * Reddit, polled every second: the second poll returns the same page, and
 * no post is decided twice (they are counted as duplicates). The debug log
 * says when a poll is done ("connecting -> streaming").
 */
static void test_preset_poll_reddit(void **state)
{
    struct env *e = *state;
    struct summary s;
    char *page = reddit_page();
    json_t *sc;

    sc = scenario("json", page, NULL);
    free(page);
    json_object_set_new(sc, "headers",
                        json_pack("{s:i, s:s, s:i}", "X-Ratelimit-Used", 12,
                                  "X-Ratelimit-Remaining", "88.0",
                                  "X-Ratelimit-Reset", 412));
    mock_start(e, json_pack("{s:o}", "/r/printers/new.json", sc));
    daemon_start(e, "log: {level: debug}\n"
                    "sources:\n"
                    "  - name: reddit\n"
                    "    type: poll\n"
                    "    format: reddit\n"
                    "    interval: 1s\n"
                    "    user_agent: \"linux:brandmon-test:v1 (by /u/t)\"\n"
                    "    url: $URL/r/printers/new.json?limit=100\n");
    WAIT_REQ(e, "/r/printers/new.json", 2, WAIT_MS);
    WAIT_LOG(e, "[source:poll:reddit] connecting -> streaming", 2, WAIT_MS);
    stop_all(e);

    check_decided(e, "t3_r1", "reddit");
    check_decided(e, "t3_r2", "reddit");
    check_decided(e, "t3_r3", "reddit");
    CHECK(e, json_array_size(e->decisions) == 3);
    CHECK(e, !strcmp(request_query(e, "/r/printers/new.json", 1), "limit=100"));
    CHECK(e, !strcmp(request_header(e, "/r/printers/new.json", 0, "user-agent"),
                     "linux:brandmon-test:v1 (by /u/t)"));
    /* The interval, not sooner. */
    CHECK(e, request_t(e, "/r/printers/new.json", 1) -
                     request_t(e, "/r/printers/new.json", 0) >=
                 950);
    summary_of(e, "poll:reddit", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, s.connects >= 2);
    CHECK(e, s.duplicates == 3 * (s.connects - 1) ||
                 s.duplicates == 3 * (s.connects - 2)); /* one in flight */
    CHECK(e, s.duplicates >= 3);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/* The number after "created_at_i%3E" in a query, or -1. */
static long long since_in(const char *query)
{
    const char *p = query ? strstr(query, "created_at_i%3E") : NULL;

    return p ? strtoll(p + strlen("created_at_i%3E"), NULL, 10) : -1;
}

/*
 * HN (Algolia), polled every second with {since} in the URL: the first
 * poll asks for the last hour, the next one for the newest post seen less
 * two minutes; the second page repeats the first and nothing is decided
 * twice.
 */
static void test_preset_poll_hn(void **state)
{
    struct env *e = *state;
    struct summary s;
    json_t *hits, *page, *sc;
    long long t_wall = (long long)time(NULL), since;
    char *body;

    hits = json_pack(
        "[{s:s, s:s, s:s, s:i, s:[s,s], s:s, s:i}, {s:s, s:s, s:s, s:i, "
        "s:[s,s,s], s:s, s:s, s:i}]",
        "objectID", "43001", "comment_text",
        "<p>Our Acme printer jammed again, support wants a refund form.",
        "created_at", "2025-03-14T09:05:00.000Z", "created_at_i", 1741943100,
        "_tags", "comment", "author_acmedev", "author", "acmedev", "parent_id",
        43000, "objectID", "43000", "title",
        "Acme printers are great, I love the new firmware", "created_at",
        "2025-03-14T09:00:00.000Z", "created_at_i", 1741942800, "_tags",
        "story", "author_pg", "front_page", "author", "pg", "url",
        "https://acme.example/blog", "points", 120);
    CHECK(e, hits != NULL);
    page =
        json_pack("{s:o, s:i, s:i, s:i, s:i, s:s}", "hits", hits, "nbHits", 2,
                  "page", 0, "nbPages", 1, "hitsPerPage", 50, "query", "acme");
    body = json_dumps(page, JSON_COMPACT);
    json_decref(page);
    sc = scenario("json", body, NULL);
    free(body);
    mock_start(e, json_pack("{s:o}", "/api/v1/search_by_date", sc));
    daemon_start(e, "log: {level: debug}\n"
                    "sources:\n"
                    "  - name: hn\n"
                    "    type: poll\n"
                    "    format: hn\n"
                    "    interval: 1s\n"
                    "    url: \"$URL/api/v1/search_by_date?query=acme&"
                    "tags=(story,comment)&numericFilters=created_at_i%3E"
                    "{since}&hitsPerPage=50\"\n");
    WAIT_REQ(e, "/api/v1/search_by_date", 2, WAIT_MS);
    WAIT_LOG(e, "[source:poll:hn] connecting -> streaming", 2, WAIT_MS);
    stop_all(e);

    check_decided(e, "43000", "hn");
    check_decided(e, "43001", "hn");
    CHECK(e, json_array_size(e->decisions) == 2);
    /* First poll: an hour back from now. */
    since = since_in(request_query(e, "/api/v1/search_by_date", 0));
    CHECKF(e, since >= t_wall - 3600 - 10 && since <= t_wall - 3600 + 30,
           "first {since} = %lld, want about %lld", since, t_wall - 3600);
    CHECK(e, strstr(request_query(e, "/api/v1/search_by_date", 0),
                    "query=acme&tags=(story,comment)&numericFilters=") ==
                 request_query(e, "/api/v1/search_by_date", 0));
    CHECK(e, strstr(request_query(e, "/api/v1/search_by_date", 0),
                    "&hitsPerPage=50") != NULL);
    /* Second poll: the newest post (09:05:00Z) less 120 s. */
    since = since_in(request_query(e, "/api/v1/search_by_date", 1));
    CHECKF(e, since == 1741943100 - 120, "second {since} = %lld", since);
    CHECK(e, !strstr(request_query(e, "/api/v1/search_by_date", 1), "{since"));
    summary_of(e, "poll:hn", &s);
    CHECK(e, s.posts == 2);
    CHECK(e, s.duplicates >= 2);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/*
 * Replay: a file of X messages at `rate: 10`, `loop: false`. The posts are
 * decided in file order, a repeated line is a duplicate, the source says
 * it finished, and the six lines take at least half a second.
 */
static void test_preset_replay(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 };
    struct summary s;
    const char *const order[] = { "r1", "r2", "r3", "r4", "r5", NULL };
    long long t_start, t_end;

    text_json(&a, x_post("r1", "Acme printer jammed", NULL), "\n");
    text_json(&a, x_post("r2", "love my Acme printer, great", NULL), "\n");
    text_json(&a, x_post("r3", "acme printers broken", NULL), "\n");
    text_json(&a, x_post("r2", "love my Acme printer, great", NULL), "\n");
    text_json(&a, x_post("r4", "Acme printer: refund please", NULL), "\n");
    text_json(&a, x_post("r5", "the acme printer is great", NULL), "\n");
    put_file(e, "replay.ndjson", a.data, a.len);
    it_buf_release(&a);
    mock_start(e, json_object());
    daemon_start(e, "sources:\n"
                    "  - name: demo\n"
                    "    type: replay\n"
                    "    file: $DIR/replay.ndjson\n"
                    "    rate: 10\n"
                    "    loop: false\n");
    WAIT_LOG(e, "[source:replay:demo] starting", 1, START_MS);
    t_start = it_now_ms();
    WAIT_LOG(e, "[source:replay:demo] replay finished: 6 lines", 1, WAIT_MS);
    t_end = it_now_ms();
    WAIT_OUT(e, NULL, 5, WAIT_MS);
    stop_all(e);

    check_in_order(e, "demo", order);
    CHECK(e, json_array_size(e->decisions) == 5);
    /* Line 6 is due 500 ms into the pass (minus our polling slack). */
    CHECKF(e, t_end - t_start >= 300, "6 lines at rate 10 took %lld ms",
           t_end - t_start);
    summary_of(e, "replay:demo", &s);
    CHECK(e, s.posts == 5);
    CHECK(e, s.duplicates == 1);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/* ===================================================================== */
/* Faults                                                                */
/* ===================================================================== */

/*
 * The connection drops in the middle of a line: the partial line is
 * counted as truncated and never decided; the daemon reconnects (X: at
 * once) and decides what the next connection brings.
 */
static void test_fault_close_mid_frame(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 }, b = { 0 };
    struct summary s;
    size_t first;
    json_t *sc1, *sc2;

    text_json(&a, x_post("c1", "Acme printer jammed", NULL), "\r\n");
    first = a.len;
    text_json(&a, x_post("c2", "Acme printer broken, the cut one", NULL),
              "\r\n");
    text_json(&b, x_post("c3", "Acme printer great, love it", NULL), "\r\n");
    sc1 = set_int(scenario("ndjson", a.data, NULL), "close_after_bytes",
                  (long long)(first + (a.len - first) / 2));
    sc2 = scenario("ndjson", b.data, "keepalive:200");
    it_buf_release(&a);
    it_buf_release(&b);
    mock_start(e, json_pack("{s:[o,o]}", "/stream", sc1, sc2));
    daemon_start(e, "sources:\n"
                    "  - name: xs\n"
                    "    type: x\n"
                    "    url: $URL/stream\n");
    WAIT_OUT(e, "c3", 1, WAIT_MS);
    stop_all(e);

    check_decided(e, "c1", "xs");
    check_decided(e, "c3", "xs");
    CHECK(e, decided(e, "c2") == 0);
    CHECK(e, json_array_size(e->decisions) == 2);
    CHECK(e, strstr(e->err, "[source:x:xs] connection failed") != NULL);
    CHECK(e, strstr(e->err, "(network backoff)") != NULL);
    CHECK(e, request_t(e, "/stream", 1) - request_t(e, "/stream", 0) < 1000);
    summary_of(e, "x:xs", &s);
    CHECK(e, s.posts == 2);
    CHECK(e, s.connects == 2);
    CHECK(e, skipped_of(&s, "truncated") == 1);
}

/*
 * A stall: the server sends one post and then nothing while keeping the
 * connection open. With `stall: 1s` the daemon drops it after a second,
 * says so, and reconnects (X: at once).
 */
static void test_fault_stall(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 }, b = { 0 };
    struct summary s;
    long long gap;
    json_t *sc1, *sc2;

    text_json(&a, x_post("h1", "Acme printer jammed", NULL), "\r\n");
    text_json(&b, x_post("h2", "Acme printer great", NULL), "\r\n");
    sc1 = scenario("ndjson", a.data, "hang");
    sc2 = scenario("ndjson", b.data, "keepalive:200");
    it_buf_release(&a);
    it_buf_release(&b);
    mock_start(e, json_pack("{s:[o,o]}", "/stream", sc1, sc2));
    daemon_start(e, "sources:\n"
                    "  - name: xs\n"
                    "    type: x\n"
                    "    url: $URL/stream\n"
                    "    stall: 1s\n");
    WAIT_OUT(e, "h2", 1, WAIT_MS);
    stop_all(e);

    check_decided(e, "h1", "xs");
    check_decided(e, "h2", "xs");
    CHECK(e, strstr(e->err, "[source:x:xs] no byte for ") != NULL);
    CHECK(e, strstr(e->err, "stalled; reconnecting in 0 ms (network backoff)"));
    gap = request_t(e, "/stream", 1) - request_t(e, "/stream", 0);
    CHECKF(e, gap >= 950 && gap <= 3000, "reconnected after %lld ms", gap);
    summary_of(e, "x:xs", &s);
    CHECK(e, s.stalls == 1);
    CHECK(e, s.connects == 2);
}

/*
 * 429 with x-rate-limit-reset two seconds ahead: the daemon must not come
 * back before the reset. (X's rate-limit ladder starts at 60 s, which is
 * longer still, so within the test's window there is no second request.)
 */
static void test_fault_429(void **state)
{
    struct env *e = *state;
    struct summary s;
    const char *p;
    unsigned long long wait_ms;
    long long t0;
    json_t *sc;

    sc = scenario("json",
                  "{\"title\":\"ConnectionException\",\"detail\":\"This "
                  "stream is currently at the maximum allowed connection "
                  "limit.\",\"connection_issue\":\"TooManyConnections\"}",
                  NULL);
    set_int(sc, "status", 429);
    json_object_set_new(sc, "headers",
                        json_pack("{s:i, s:i, s:s}", "x-rate-limit-limit", 50,
                                  "x-rate-limit-remaining", 0,
                                  "x-rate-limit-reset", "$now+2"));
    mock_start(e, json_pack("{s:o}", "/stream", sc));
    daemon_start(e, "sources:\n"
                    "  - name: xs\n"
                    "    type: x\n"
                    "    url: $URL/stream\n");
    WAIT_LOG(e, "(rate-limit backoff)", 1, WAIT_MS);
    t0 = it_now_ms();
    /* Watch for a second request for two seconds after the 429. */
    while (it_now_ms() - t0 < 2000 && count_requests(e, "/stream") < 2)
        it_sleep_ms(50);
    stop_all(e);

    CHECK(e, json_array_size(e->decisions) == 0);
    CHECKF(e, request(e, "/stream", 1) == NULL,
           "a second request %lld ms after the 429",
           request_t(e, "/stream", 1) - request_t(e, "/stream", 0));
    p = strstr(e->err, "[source:x:xs] HTTP 429: rate limited");
    CHECK(e, p != NULL);
    p = strstr(p, "reconnecting in ");
    CHECK(e, p != NULL);
    wait_ms = strtoull(p + strlen("reconnecting in "), NULL, 10);
    /* The reset is 1-2 s away (whole epoch seconds); X's ladder says 60 s
     * +-10 %. Either way no less than the reset. */
    CHECKF(e, wait_ms >= 1000, "waits %llu ms after a 429", wait_ms);
    summary_of(e, "x:xs", &s);
    CHECK(e, s.rate_limited == 1);
    CHECK(e, s.connects == 1);
    CHECK(e, s.posts == 0);
}

/*
 * 503: the HTTP backoff. A generic NDJSON source's HTTP ladder starts at
 * 5 s +-20 %, like X's: the reconnect comes after at least 4 s, and is
 * logged as http backoff.
 */
static void test_fault_503(void **state)
{
    struct env *e = *state;
    struct it_buf b = { 0 };
    struct summary s;
    long long gap;
    json_t *sc1, *sc2;

    sc1 = set_int(scenario("raw", "Service Unavailable: try again later", NULL),
                  "status", 503);
    set_str(sc1, "content_type", "text/plain");
    text_json(&b, plain("u1", "Acme printer jammed"), "\n");
    sc2 = scenario("ndjson", b.data, "keepalive:200");
    it_buf_release(&b);
    mock_start(e, json_pack("{s:[o,o]}", "/feed", sc1, sc2));
    daemon_start(e, "sources:\n"
                    "  - name: feed\n"
                    "    type: ndjson\n"
                    "    url: $URL/feed\n" FIELDS);
    WAIT_LOG(e, "[source:ndjson:feed] HTTP 503", 1, WAIT_MS);
    WAIT_OUT(e, "u1", 1, 7000);
    stop_all(e);

    check_decided(e, "u1", "feed");
    CHECK(e, strstr(e->err, "(http backoff)") != NULL);
    CHECK(e, strstr(e->err, "Service Unavailable") != NULL);
    gap = request_t(e, "/feed", 1) - request_t(e, "/feed", 0);
    CHECKF(e, gap >= 3950 && gap <= 6500, "reconnected after %lld ms", gap);
    summary_of(e, "ndjson:feed", &s);
    CHECK(e, s.http_errors == 1);
    CHECK(e, s.connects == 2);
    CHECK(e, s.posts == 1);
}

/*
 * 401: that source stops for good with a line about its credentials,
 * while the second source of the same daemon goes on deciding posts that
 * arrive after the refusal (its posts are spaced 150 ms apart).
 */
static void test_fault_401(void **state)
{
    struct env *e = *state;
    struct it_buf b = { 0 };
    struct summary s;
    const char *const order[] = { "g1", "g2", "g3", NULL };
    json_t *bad, *good;

    bad =
        set_int(scenario("json",
                         "{\"title\":\"Unauthorized\",\"type\":\"about:"
                         "blank\",\"status\":401,\"detail\":\"Unauthorized\"}",
                         NULL),
                "status", 401);
    text_json(&b, plain("g1", "Acme printer jammed"), "\n");
    it_buf_printf(&b, "\n");
    text_json(&b, plain("g2", "Acme printer broken"), "\n");
    it_buf_printf(&b, "\n");
    text_json(&b, plain("g3", "love my Acme printer, great"), "\n");
    good = set_int(scenario("ndjson", b.data, "keepalive:200"),
                   "keepalive_pause_ms", 150);
    it_buf_release(&b);
    mock_start(e, json_pack("{s:o, s:o}", "/bad", bad, "/good", good));
    put_file(e, "token", "wrong-token-123\n", 16);
    daemon_start(e, "sources:\n"
                    "  - name: bad\n"
                    "    type: x\n"
                    "    url: $URL/bad\n"
                    "    token_file: $DIR/token\n"
                    "  - name: good\n"
                    "    type: ndjson\n"
                    "    url: $URL/good\n" FIELDS);
    WAIT_LOG(e, "[source:x:bad] HTTP 401", 1, WAIT_MS);
    WAIT_OUT(e, "g3", 1, WAIT_MS);
    stop_all(e);

    check_in_order(e, "good", order);
    CHECK(e, decided_from(e, "bad") == 0);
    CHECK(e, strstr(e->err, "[source:x:bad] HTTP 401: the credentials were "
                            "refused") != NULL);
    CHECK(e, strstr(e->err, "this source stays stopped") != NULL);
    CHECK(e, !strstr(e->err, "[source:x:bad] the server ended"));
    CHECK(e, !strstr(e->err, "wrong-token-123"));
    CHECK(e, !strcmp(request_header(e, "/bad", 0, "authorization"),
                     "Bearer wrong-token-123"));
    CHECK(e, request(e, "/bad", 1) == NULL);
    summary_of(e, "x:bad", &s);
    CHECK(e, s.http_errors == 1);
    CHECK(e, s.connects == 1);
    CHECK(e, s.posts == 0);
    summary_of(e, "ndjson:good", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, s.connects == 1);
}

/*
 * Garbage between good lines: a line that is not JSON and one that is not
 * UTF-8 (a Latin-1 byte inside a string) are counted by reason; the good
 * lines around them are decided.
 */
static void test_fault_garbage(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 };
    struct summary s;
    const char *const order[] = { "k1", "k2", "k3", NULL };
    char path[128];
    json_t *sc;

    text_json(&a, plain("k1", "Acme printer jammed"), "\n");
    it_buf_printf(&a, "this is not json {\"id\": \n");
    text_json(&a, plain("k2", "Acme printer broken"), "\n");
    it_buf_printf(&a,
                  "{\"id\":\"kx\",\"text\":\"caf\xE9 acme printer jammed\"}\n");
    text_json(&a, plain("k3", "love the Acme printer, great"), "\n");
    put_file(e, "garbage.ndjson", a.data, a.len);
    it_buf_release(&a);
    in_dir(e, "garbage.ndjson", path, sizeof(path));
    sc = scenario("ndjson", "", "keepalive:200");
    json_object_del(sc, "body");
    set_str(sc, "body_file", path);
    mock_start(e, json_pack("{s:o}", "/feed", sc));
    daemon_start(e, "sources:\n"
                    "  - name: feed\n"
                    "    type: ndjson\n"
                    "    url: $URL/feed\n" FIELDS);
    WAIT_OUT(e, "k3", 1, WAIT_MS);
    stop_all(e);

    check_in_order(e, "feed", order);
    CHECK(e, decided(e, "kx") == 0);
    CHECK(e, json_array_size(e->decisions) == 3);
    CHECK(e, strstr(e->err, "[source:ndjson:feed] skipped malformed_json"));
    CHECK(e, strstr(e->err, "[source:ndjson:feed] skipped invalid_utf8"));
    summary_of(e, "ndjson:feed", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, skipped_of(&s, "malformed_json") == 1);
    CHECK(e, skipped_of(&s, "invalid_utf8") == 1);
    CHECK(e, s.connects == 1);
}

/*
 * A proxy's HTML error page with status 200: counted as not_a_stream and
 * retried (Mastodon's HTTP ladder starts at 1 s), and the real stream that
 * follows is decided.
 */
static void test_fault_html_page(void **state)
{
    struct env *e = *state;
    struct it_buf b = { 0 };
    struct summary s;
    long long gap;
    json_t *sc1, *sc2;

    sc1 = scenario("raw",
                   "<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
                   "</head><body><h1>Bad Gateway</h1><p>acme printer jammed"
                   "</p></body></html>\n",
                   NULL);
    set_str(sc1, "content_type", "text/html; charset=utf-8");
    it_buf_printf(&b, ":)\nevent: update\ndata: ");
    text_json(&b, toot("w1", "<p>Acme printer jammed</p>"), "\n\n");
    sc2 = scenario("sse", b.data, "keepalive:200");
    it_buf_release(&b);
    mock_start(e, json_pack("{s:[o,o]}", "/api/v1/streaming/public", sc1, sc2));
    daemon_start(e, "sources:\n"
                    "  - name: fedi\n"
                    "    type: mastodon\n"
                    "    url: $URL/api/v1/streaming/public\n");
    WAIT_OUT(e, "w1", 1, WAIT_MS);
    stop_all(e);

    check_decided(e, "w1", "fedi");
    CHECK(e, json_array_size(e->decisions) == 1);
    CHECK(e, strstr(e->err, "[source:mastodon:fedi] skipped not_a_stream"));
    CHECK(e, strstr(e->err, "an HTML page came instead of the API's answer; "
                            "reconnecting in "));
    CHECK(e, strstr(e->err, "(http backoff)"));
    gap = request_t(e, "/api/v1/streaming/public", 1) -
          request_t(e, "/api/v1/streaming/public", 0);
    CHECKF(e, gap >= 700 && gap <= 3000, "retried after %lld ms", gap);
    summary_of(e, "mastodon:fedi", &s);
    CHECK(e, skipped_of(&s, "not_a_stream") == 1);
    CHECK(e, s.connects == 2);
    CHECK(e, s.posts == 1);
}

/* A slow drip (400 bytes a second): every post is still decided, from one
 * connection, with nothing skipped. */
static void test_fault_slow_drip(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 };
    struct summary s;
    const char *const order[] = { "d1", "d2", "d3", NULL };
    long long t0, took;
    size_t len;
    json_t *sc;

    text_json(&a, plain("d1", "Acme printer jammed"), "\n");
    text_json(&a, plain("d2", "the Acme printer is broken, refund"), "\n");
    text_json(&a, plain("d3", "love my Acme printer, great"), "\n");
    len = a.len;
    sc = set_int(scenario("ndjson", a.data, "keepalive:200"), "drip_bps", 400);
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o}", "/feed", sc));
    daemon_start(e, "sources:\n"
                    "  - name: feed\n"
                    "    type: ndjson\n"
                    "    url: $URL/feed\n" FIELDS);
    WAIT_REQ(e, "/feed", 1, START_MS);
    t0 = it_now_ms();
    WAIT_OUT(e, "d3", 1, WAIT_MS);
    took = it_now_ms() - t0;
    stop_all(e);

    check_in_order(e, "feed", order);
    /* The body really came slowly: about len / 400 s. */
    CHECKF(e, took >= (long long)(len * 1000 / 400) - 250,
           "%zu bytes arrived in %lld ms", len, took);
    summary_of(e, "ndjson:feed", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, s.connects == 1);
    CHECK(e, s.stalls == 0);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/* The server accepts and never answers: the stall detector (stall: 1s)
 * gives up on the request and reconnects. */
static void test_fault_accept_only(void **state)
{
    struct env *e = *state;
    struct it_buf b = { 0 };
    struct summary s;
    long long gap;
    json_t *sc1, *sc2;

    sc1 = json_pack("{s:b}", "accept_only", 1);
    text_json(&b, x_post("ao1", "Acme printer jammed", NULL), "\r\n");
    sc2 = scenario("ndjson", b.data, "keepalive:200");
    it_buf_release(&b);
    mock_start(e, json_pack("{s:[o,o]}", "/stream", sc1, sc2));
    daemon_start(e, "sources:\n"
                    "  - name: xs\n"
                    "    type: x\n"
                    "    url: $URL/stream\n"
                    "    stall: 1s\n");
    WAIT_OUT(e, "ao1", 1, WAIT_MS);
    stop_all(e);

    check_decided(e, "ao1", "xs");
    CHECK(e, strstr(e->err, "[source:x:xs] no byte for "));
    CHECK(e, strstr(e->err, "stalled; reconnecting in "));
    gap = request_t(e, "/stream", 1) - request_t(e, "/stream", 0);
    CHECKF(e, gap >= 950 && gap <= 3000, "reconnected after %lld ms", gap);
    summary_of(e, "x:xs", &s);
    CHECK(e, s.stalls == 1);
    CHECK(e, s.connects == 2);
    CHECK(e, s.posts == 1);
}

/* A 5 KB line over `max_frame: 1KiB`: skipped as too_long, and the post
 * after it decided. */
static void test_fault_frame_too_long(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 }, big = { 0 };
    struct summary s;
    const char *const order[] = { "f1", "f2", NULL };
    json_t *sc;

    for (int i = 0; i < 560; i++)
        it_buf_printf(&big, "acme jam ");
    text_json(&a, plain("f1", "Acme printer jammed"), "\n");
    text_json(&a, plain("fbig", big.data), "\n");
    text_json(&a, plain("f2", "love my Acme printer, great"), "\n");
    it_buf_release(&big);
    CHECK(e, a.len > 5000);
    sc = scenario("ndjson", a.data, "keepalive:200");
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o}", "/feed", sc));
    daemon_start(e, "sources:\n"
                    "  - name: feed\n"
                    "    type: ndjson\n"
                    "    url: $URL/feed\n"
                    "    max_frame: 1KiB\n" FIELDS);
    WAIT_OUT(e, "f2", 1, WAIT_MS);
    stop_all(e);

    check_in_order(e, "feed", order);
    CHECK(e, decided(e, "fbig") == 0);
    CHECK(e, json_array_size(e->decisions) == 2);
    CHECK(e, strstr(e->err, "[source:ndjson:feed] skipped too_long"));
    summary_of(e, "ndjson:feed", &s);
    CHECK(e, s.posts == 2);
    CHECK(e, skipped_of(&s, "too_long") == 1);
    CHECK(e, s.connects == 1);
}

/*
 * Two sources, one broken (every connection drops mid-line, and it keeps
 * reconnecting) and one healthy: the healthy one decides every post, in
 * order, from its single connection.
 */
static void test_fault_broken_and_healthy(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 }, b = { 0 };
    struct summary s;
    const char *const order[] = { "ok1", "ok2", "ok3", "ok4", "ok5", NULL };
    json_t *broken, *healthy;

    text_json(&a, x_post("bx1", "Acme printer jammed", NULL), "\r\n");
    broken = set_int(scenario("ndjson", a.data, NULL), "close_after_bytes", 40);
    it_buf_release(&a);
    for (int i = 1; i <= 5; i++) {
        char id[8];

        snprintf(id, sizeof(id), "ok%d", i);
        text_json(&b, plain(id, "Acme printer jammed again"), "\n");
        it_buf_printf(&b, "\n");
    }
    healthy = set_int(scenario("ndjson", b.data, "keepalive:200"),
                      "keepalive_pause_ms", 100);
    it_buf_release(&b);
    mock_start(e,
               json_pack("{s:o, s:o}", "/broken", broken, "/healthy", healthy));
    daemon_start(e, "sources:\n"
                    "  - name: broken\n"
                    "    type: x\n"
                    "    url: $URL/broken\n"
                    "  - name: healthy\n"
                    "    type: ndjson\n"
                    "    url: $URL/healthy\n" FIELDS);
    WAIT_OUT(e, "ok5", 1, WAIT_MS);
    WAIT_REQ(e, "/broken", 3, WAIT_MS);
    stop_all(e);

    check_in_order(e, "healthy", order);
    CHECK(e, decided_from(e, "healthy") == 5);
    CHECK(e, decided_from(e, "broken") == 0);
    summary_of(e, "ndjson:healthy", &s);
    CHECK(e, s.posts == 5);
    CHECK(e, s.connects == 1);
    CHECK(e, s.stalls == 0);
    CHECK(e, !strcmp(s.skipped, "none"));
    summary_of(e, "x:broken", &s);
    CHECK(e, s.posts == 0);
    CHECK(e, s.connects >= 3);
    CHECK(e, skipped_of(&s, "truncated") >= 2);
}

/* ===================================================================== */
/* SIGTERM                                                               */
/* ===================================================================== */

/*
 * SIGTERM right after the daemon received 40 posts and a marker line (not
 * JSON, so the daemon logs it as soon as it has read it; lines are read in
 * order, so every post before it has been decided by then). The signal
 * comes before or around the sink's 100 ms flush: every decision must
 * still be printed, brandmond exits 0 and prints its summaries.
 */
static void test_sigterm(void **state)
{
    struct env *e = *state;
    struct it_buf a = { 0 };
    struct summary s;
    const char *ids[41];
    char names[40][8];
    json_t *sc;

    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "t%02d", i);
        ids[i] = names[i];
        text_json(&a, x_post(names[i], "Acme printer jammed", NULL), "\r\n");
    }
    ids[40] = NULL;
    it_buf_printf(&a, "end-of-batch marker\r\n");
    sc = scenario("ndjson", a.data, "hang");
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o, s:o}", "/stream", sc, "/other",
                            scenario("sse", ":)\n", "keepalive:100")));
    daemon_start(e, "sources:\n"
                    "  - name: xs\n"
                    "    type: x\n"
                    "    url: $URL/stream\n"
                    "  - name: other\n"
                    "    type: sse\n"
                    "    url: $URL/other\n" FIELDS);
    WAIT_LOG(e, "[source:x:xs] skipped malformed_json", 1, WAIT_MS);
    stop_all(e);

    check_in_order(e, "xs", ids);
    CHECK(e, json_array_size(e->decisions) == 40);
    CHECK(e, strstr(e->err, "[daemon] stopped: 40 posts decided"));
    summary_of(e, "x:xs", &s);
    CHECK(e, s.posts == 40);
    CHECK(e, skipped_of(&s, "malformed_json") == 1);
    summary_of(e, "sse:other", &s);
    CHECK(e, s.posts == 0);
    CHECK(e, s.connects == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_preset_x, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preset_mastodon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preset_sse_resume, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_preset_sse_short_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_preset_ndjson, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preset_poll_reddit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_preset_poll_hn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preset_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_close_mid_frame, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fault_stall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_html_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_slow_drip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_accept_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fault_frame_too_long, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fault_broken_and_healthy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sigterm, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
