/*
 * test_mockstream.c - the mock stream server (tests/mock/mockstream.c) that
 * the other integration tests drive, checked from the outside.
 *
 * The group setup starts the built mockstream (BM_MOCKSTREAM) on the script
 * tests/data/mock/script.json and waits for its port file; each test then
 * fetches one route with libcurl's easy interface and checks what arrived,
 * how it ended (curl's result code) and how long it took. The last tests
 * read the request log, stop the server with SIGTERM (exit 0, which under
 * ASan also means no leaks), and run short-lived extra instances for
 * --max-seconds and a bad script. Every transfer has a timeout, so the
 * whole program finishes in a few seconds.
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
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "harness.h"

#ifndef BM_MOCKSTREAM
#error "BM_MOCKSTREAM must name the mockstream binary"
#endif
#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

#define MOCK_DIR   BM_TEST_DATA "/mock/"
#define SCRIPT     MOCK_DIR "script.json"
#define X_STREAM   MOCK_DIR "x_stream.ndjson"
#define SSE_STREAM MOCK_DIR "mastodon.sse"
#define START_MS   10000
#define DEFAULT_MS 5000

/* The server the group shares. */
struct fixture {
    pid_t pid; /* 0 once stopped */
    char dir[64];
    char port_file[128];
    char log[128];
    unsigned port;
    int requests; /* logged requests made so far */
};

/* One transfer's outcome. */
struct reply {
    struct it_buf body; /* NUL-terminated */
    struct it_buf head; /* NUL-terminated response headers */
    size_t writes;      /* calls of the write callback */
    size_t abort_after; /* 0: never abort */
    long code;
    CURLcode rc;
    long long ms;
};

/* Starts mockstream; stderr goes to @err_file when given. */
static pid_t spawn_mock(const char *script, const char *port_file,
                        const char *log, const char *max_seconds,
                        const char *err_file)
{
    const char *argv[12];
    size_t n = 0;

    argv[n++] = BM_MOCKSTREAM;
    argv[n++] = "--script";
    argv[n++] = script;
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    if (log) {
        argv[n++] = "--log";
        argv[n++] = log;
    }
    if (max_seconds) {
        argv[n++] = "--max-seconds";
        argv[n++] = max_seconds;
    }
    argv[n] = NULL;
    return it_spawn(argv, NULL, NULL, NULL, err_file, 0);
}

static size_t body_cb(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;

    it_buf_put(&r->body, p, size * n);
    r->writes++;
    if (r->abort_after && r->body.len >= r->abort_after)
        return 0;
    return size * n;
}

static size_t head_cb(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;

    it_buf_put(&r->head, p, size * n);
    return size * n;
}

/* GETs @path (with optional extra headers) into @r, waiting at most
 * @timeout_ms. */
static void fetch(struct fixture *fx, const char *path, long timeout_ms,
                  struct curl_slist *headers, struct reply *r)
{
    char url[512];
    CURL *h = curl_easy_init();
    long long t0;

    assert_non_null(h);
    it_buf_put(&r->body, "", 0);
    it_buf_put(&r->head, "", 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", fx->port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, head_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (headers)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    t0 = it_now_ms();
    r->rc = curl_easy_perform(h);
    r->ms = it_now_ms() - t0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
    curl_easy_cleanup(h);
    if (strcmp(path, "/_mock/stats") != 0)
        fx->requests++;
}

static void reply_free(struct reply *r)
{
    it_buf_release(&r->body);
    it_buf_release(&r->head);
    memset(r, 0, sizeof(*r));
}

/* The value of response header @name, or NULL; caller frees. */
static char *header(const struct reply *r, const char *name)
{
    size_t n = strlen(name);

    for (const char *line = r->head.data; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);

        if (len > n && !strncasecmp(line, name, n) && line[n] == ':') {
            const char *v = line + n + 1;

            while (*v == ' ')
                v++;
            return strndup(v, len - (size_t)(v - line));
        }
        line = eol ? eol + 2 : NULL;
    }
    return NULL;
}

static void assert_body_is_file(const struct reply *r, const char *path)
{
    size_t len;
    char *want = it_read_file(path, &len);

    assert_non_null(want);
    assert_int_equal(r->body.len, len);
    assert_memory_equal(r->body.data, want, len);
    free(want);
}

static int group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    if (it_mkdtemp(fx->dir, sizeof(fx->dir), "mockstream") != 0)
        return -1;
    snprintf(fx->port_file, sizeof(fx->port_file), "%s/port", fx->dir);
    snprintf(fx->log, sizeof(fx->log), "%s/requests.jsonl", fx->dir);
    fx->pid = spawn_mock(SCRIPT, fx->port_file, fx->log, "60", NULL);
    fx->port = it_wait_port(&fx->pid, fx->port_file, NULL, START_MS);
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *fx = *state;

    it_kill(fx->pid);
    it_remove_tree(fx->dir);
    curl_global_cleanup();
    free(fx);
    return 0;
}

/* A whole ndjson body arrives intact through many small chunks. */
static void test_ndjson_body_complete(void **state)
{
    struct reply r = { 0 };
    char *ct;

    fetch(*state, "/2/tweets/search/stream", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_body_is_file(&r, X_STREAM);
    ct = header(&r, "Content-Type");
    assert_non_null(ct);
    assert_string_equal(ct, "application/json; charset=utf-8");
    free(ct);
    /* Pieces of at most 40 bytes come in several reads. */
    assert_true(r.writes >= 2);
    reply_free(&r);
}

/* Status and headers come from the script; "$now+900" is expanded. */
static void test_status_and_header(void **state)
{
    struct reply r = { 0 };
    long long want = (long long)time(NULL) + 900;
    char *reset, *remaining;

    fetch(*state, "/ratelimited", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 429);
    reset = header(&r, "x-rate-limit-reset");
    remaining = header(&r, "x-rate-limit-remaining");
    assert_non_null(reset);
    assert_non_null(remaining);
    assert_in_range(atoll(reset), want - 5, want + 5);
    assert_string_equal(remaining, "0");
    assert_non_null(strstr(r.body.data, "Too Many Requests"));
    free(reset);
    free(remaining);
    reply_free(&r);
}

/* close_after_bytes cuts the body mid-frame and curl reports it. */
static void test_close_after_bytes(void **state)
{
    struct reply r = { 0 };
    size_t len;
    char *want = it_read_file(X_STREAM, &len);

    fetch(*state, "/truncated", DEFAULT_MS, NULL, &r);
    assert_int_not_equal(r.rc, CURLE_OK);
    assert_int_not_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.body.len, 100);
    assert_memory_equal(r.body.data, want, 100);
    free(want);
    reply_free(&r);
}

/* accept_only never answers: not even a status line. */
static void test_accept_only_times_out(void **state)
{
    struct reply r = { 0 };

    fetch(*state, "/accept", 500, NULL, &r);
    assert_int_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.body.len, 0);
    assert_int_equal(r.head.len, 0);
    assert_true(r.ms >= 450);
    reply_free(&r);
}

/* "hang" sends the whole body, then stalls without the final chunk. */
static void test_hang_after_body(void **state)
{
    struct reply r = { 0 };

    fetch(*state, "/hang", 500, NULL, &r);
    assert_int_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(r.code, 200);
    assert_body_is_file(&r, X_STREAM);
    assert_true(r.ms >= 450);
    reply_free(&r);
}

/* "reset" sends the whole body, then drops the connection. */
static void test_reset_after_body(void **state)
{
    struct reply r = { 0 };

    fetch(*state, "/reset", DEFAULT_MS, NULL, &r);
    assert_int_not_equal(r.rc, CURLE_OK);
    assert_int_not_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
    assert_body_is_file(&r, X_STREAM);
    reply_free(&r);
}

/* 60 bytes at 200 bytes a second take about 0.3 s, in many reads. */
static void test_drip(void **state)
{
    struct reply r = { 0 };

    fetch(*state, "/drip", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_string_equal(
        r.body.data,
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX");
    assert_in_range(r.ms, 220, 3000);
    assert_true(r.writes >= 10);
    reply_free(&r);
}

/* The Nth request gets the Nth scenario, then the last repeats; an
 * unknown path is a 404. */
static void test_sequence_and_404(void **state)
{
    static const long codes[] = { 503, 200, 200 };
    static const char *const bodies[] = { "busy", "ok", "ok" };
    struct reply r = { 0 };

    for (size_t i = 0; i < 3; i++) {
        fetch(*state, "/sequence?attempt=x", DEFAULT_MS, NULL, &r);
        assert_int_equal(r.rc, CURLE_OK);
        assert_int_equal(r.code, codes[i]);
        assert_string_equal(r.body.data, bodies[i]);
        reply_free(&r);
    }
    fetch(*state, "/no/such/route", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.code, 404);
    reply_free(&r);
}

/* sse: a pause before each of the two comment lines, body intact. */
static void test_sse_keepalive_pause(void **state)
{
    struct reply r = { 0 };
    char *ct;

    fetch(*state, "/sse", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_body_is_file(&r, SSE_STREAM);
    assert_in_range(r.ms, 280, 3000);
    ct = header(&r, "Content-Type");
    assert_non_null(ct);
    assert_non_null(strstr(ct, "text/event-stream"));
    free(ct);
    reply_free(&r);
}

/* ndjson: a pause before each of the two empty keep-alive lines. */
static void test_ndjson_keepalive_pause(void **state)
{
    struct reply r = { 0 };

    fetch(*state, "/x-paused", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_body_is_file(&r, X_STREAM);
    assert_in_range(r.ms, 220, 3000);
    reply_free(&r);
}

/* "keepalive:50" keeps sending "\r\n" after the body until the client
 * gives up. */
static void test_then_keepalive(void **state)
{
    static const char first[] = "{\"data\":{\"id\":\"1\"}}\r\n";
    struct reply r = { 0 };
    size_t n = strlen(first), kas;

    fetch(*state, "/idle", 400, NULL, &r);
    assert_int_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
    assert_true(r.body.len > n);
    assert_memory_equal(r.body.data, first, n);
    assert_int_equal((r.body.len - n) % 2, 0);
    kas = (r.body.len - n) / 2;
    assert_in_range(kas, 3, 9);
    for (size_t i = n; i < r.body.len; i += 2)
        assert_memory_equal(r.body.data + i, "\r\n", 2);
    reply_free(&r);
}

static void test_repeat(void **state)
{
    struct reply r = { 0 };

    fetch(*state, "/repeat", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_string_equal(r.body.data, "abc\nabc\nabc\n");
    reply_free(&r);
}

static long active_streams(struct fixture *fx)
{
    struct reply r = { 0 };
    json_t *root, *v;
    long n;

    fetch(fx, "/_mock/stats", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.code, 200);
    root = json_loads(r.body.data, 0, NULL);
    assert_non_null(root);
    v = json_object_get(root, "active_streams");
    assert_true(json_is_integer(v));
    n = (long)json_integer_value(v);
    json_decref(root);
    reply_free(&r);
    return n;
}

/*
 * A client that leaves mid-stream frees the server's stream at once, and
 * the server goes on serving. By now the clients of the accept_only, hang
 * and keep-alive tests have left too, so nothing may remain.
 */
static void test_client_disconnect_frees_stream(void **state)
{
    struct fixture *fx = *state;
    struct reply r = { 0 };
    long long deadline;
    long n;

    r.abort_after = 15;
    fetch(fx, "/slow", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.rc, CURLE_WRITE_ERROR);
    assert_true(r.ms < 1000);
    reply_free(&r);

    deadline = it_now_ms() + 2000;
    while ((n = active_streams(fx)) != 0 && it_now_ms() < deadline)
        it_sleep_ms(20);
    assert_int_equal(n, 0);

    fetch(fx, "/repeat", DEFAULT_MS, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_string_equal(r.body.data, "abc\nabc\nabc\n");
    reply_free(&r);
}

/* One log line per request, with the query and every request header. */
static void test_log(void **state)
{
    struct fixture *fx = *state;
    struct curl_slist *hdrs = NULL;
    struct reply r = { 0 };
    char *text, *line, *save = NULL;
    long long last_t = -1;
    int lines = 0, seq = 0, found = 0;

    hdrs = curl_slist_append(hdrs, "Authorization: Bearer test-token-123");
    hdrs = curl_slist_append(hdrs, "User-Agent: brandmon-test/1.0");
    hdrs = curl_slist_append(hdrs, "Last-Event-ID: 114100000000000001");
    fetch(fx, "/headers?tweet.fields=created_at&expansions=author_id",
          DEFAULT_MS, hdrs, &r);
    curl_slist_free_all(hdrs);
    assert_int_equal(r.rc, CURLE_OK);
    reply_free(&r);

    text = it_read_file(fx->log, NULL);
    assert_non_null(text);
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        json_t *h;
        const char *path;
        long long t;

        if (!o)
            fail_msg("log line %d is not JSON: %s", lines + 1, err.text);
        lines++;
        assert_true(json_is_integer(json_object_get(o, "t_ms")));
        t = json_integer_value(json_object_get(o, "t_ms"));
        assert_true(t >= last_t);
        last_t = t;
        path = json_string_value(json_object_get(o, "path"));
        assert_non_null(path);
        assert_null(strchr(path, '?'));
        h = json_object_get(o, "headers");
        assert_true(json_is_object(h));
        assert_non_null(json_object_get(h, "host"));
        if (!strcmp(path, "/sequence")) {
            assert_int_equal(json_integer_value(json_object_get(o, "n")), seq);
            assert_string_equal(json_string_value(json_object_get(o, "query")),
                                "attempt=x");
            seq++;
        } else if (!strcmp(path, "/no/such/route")) {
            assert_int_equal(json_integer_value(json_object_get(o, "n")), -1);
        } else if (!strcmp(path, "/headers")) {
            found++;
            assert_int_equal(json_integer_value(json_object_get(o, "n")), 0);
            assert_string_equal(json_string_value(json_object_get(o, "query")),
                                "tweet.fields=created_at&expansions=author_id");
            assert_string_equal(
                json_string_value(json_object_get(h, "authorization")),
                "Bearer test-token-123");
            assert_string_equal(
                json_string_value(json_object_get(h, "user-agent")),
                "brandmon-test/1.0");
            assert_string_equal(
                json_string_value(json_object_get(h, "last-event-id")),
                "114100000000000001");
        } else if (!strcmp(path, "/2/tweets/search/stream")) {
            assert_true(json_is_null(json_object_get(o, "query")));
        }
        json_decref(o);
    }
    free(text);
    assert_int_equal(lines, fx->requests);
    assert_int_equal(found, 1);
}

/* SIGTERM stops the server with status 0 (under ASan: and no leaks). */
static void test_sigterm_exits_zero(void **state)
{
    struct fixture *fx = *state;
    int st;

    assert_true(fx->pid > 0);
    assert_int_equal(kill(fx->pid, SIGTERM), 0);
    st = it_wait_pid(fx->pid, 5000);
    assert_int_not_equal(st, -1);
    fx->pid = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* --max-seconds stops a forgotten server by itself. */
static void test_max_seconds(void **state)
{
    struct fixture *fx = *state;
    char port_file[192], err_file[192];
    long long t0 = it_now_ms();
    char *err;
    pid_t pid;
    int st;

    snprintf(port_file, sizeof(port_file), "%s/port2", fx->dir);
    snprintf(err_file, sizeof(err_file), "%s/max.err", fx->dir);
    pid = spawn_mock(SCRIPT, port_file, NULL, "1", err_file);
    assert_true(it_wait_port(&pid, port_file, err_file, START_MS) > 0);
    st = it_wait_pid(pid, 5000);
    if (st == -1) {
        it_kill(pid);
        fail_msg("mockstream outlived --max-seconds 1");
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_in_range(it_now_ms() - t0, 900, 5000);
    err = it_read_file(err_file, NULL);
    assert_non_null(err);
    assert_non_null(strstr(err, "max-seconds"));
    free(err);
}

/* A misspelt field is an error naming it, before any port is written. */
static void test_bad_script(void **state)
{
    struct fixture *fx = *state;
    static const char bad[] =
        "{\"routes\": {\"/x\": [{\"status\": 200, \"dealy_ms\": 5}]}}\n";
    char script[192], port_file[192], err_file[192];
    char *err;
    pid_t pid;
    int st;

    snprintf(script, sizeof(script), "%s/bad.json", fx->dir);
    snprintf(port_file, sizeof(port_file), "%s/port3", fx->dir);
    snprintf(err_file, sizeof(err_file), "%s/bad.err", fx->dir);
    it_write_file(script, bad, strlen(bad));
    pid = spawn_mock(script, port_file, NULL, "5", err_file);
    st = it_wait_pid(pid, 5000);
    if (st == -1) {
        it_kill(pid);
        fail_msg("mockstream accepted a bad script");
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 65);
    assert_int_equal(access(port_file, F_OK), -1);
    err = it_read_file(err_file, NULL);
    assert_non_null(err);
    assert_non_null(strstr(err, "dealy_ms"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_body_complete),
        cmocka_unit_test(test_status_and_header),
        cmocka_unit_test(test_close_after_bytes),
        cmocka_unit_test(test_accept_only_times_out),
        cmocka_unit_test(test_hang_after_body),
        cmocka_unit_test(test_reset_after_body),
        cmocka_unit_test(test_drip),
        cmocka_unit_test(test_sequence_and_404),
        cmocka_unit_test(test_sse_keepalive_pause),
        cmocka_unit_test(test_ndjson_keepalive_pause),
        cmocka_unit_test(test_then_keepalive),
        cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_client_disconnect_frees_stream),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_sigterm_exits_zero),
        cmocka_unit_test(test_max_seconds),
        cmocka_unit_test(test_bad_script),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
