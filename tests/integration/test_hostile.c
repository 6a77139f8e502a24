/*
 * test_hostile.c - hostile input against the real daemon: the built
 * brandmond (BM_BINARY) with `sink: stdout` and two sources, a hostile one
 * served by the mock stream server (BM_MOCKSTREAM) and a healthy `replay`
 * source playing X posts at a steady 20 a second.
 *
 * Each case starts the mock and the daemon in a fresh temporary folder,
 * lets the hostile server do its worst while the healthy replay plays,
 * waits (against deadlines) until the hostile input has been seen and the
 * replay has finished, and then checks the same five things:
 *   - the hostile input was counted: the hostile source's summary line at
 *     SIGTERM ("skipped: REASON N", keep-alives, stalls, connects) and the
 *     matching /metrics family agree;
 *   - the daemon's peak RSS (VmHWM in /proc/PID/status, read just before
 *     SIGTERM) stays under 150 MB;
 *   - every healthy post was decided, once, in order;
 *   - brandmond exits 0 on SIGTERM, with nothing from a sanitizer;
 *   - the case took a bounded time.
 *
 * The cases: a 1 GiB line (a 1 MiB body without newline repeated 1024
 * times; the first keep-alive after it ends the line), a gzip bomb (1 GiB
 * of 'a' and a newline, gzip'ed into a few MB and sent with
 * Content-Encoding: gzip: curl inflates it, the frame ceiling bounds
 * memory), JSON nested 100,000 deep (arrays and objects), 10,000 SSE
 * comment lines between two events, invalid UTF-8 in every field of an X
 * message, a server sending one byte a second, a server that accepts and
 * never answers, and one that never closes.
 *
 * The plumbing (processes, files, waiting, ports) is tests/integration/
 * harness.c's. The tests see only what an operator sees and do not link
 * the daemon's code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Upper bounds only: a passing case never waits this long. */
#define START_MS 10000 /* a process to come up */
#define WAIT_MS  10000 /* something that should happen soon */
#define STOP_MS  10000 /* brandmond to exit after SIGTERM */
#define POLL_MS  20

/* Every case, from the processes starting to the daemon's exit. */
#define CASE_MS 20000
/* The whole file (the gzip bomb's generation included). */
#define FILE_MS 90000

/* The healthy replay: posts a second. */
#define HEALTHY_RATE 20

/*
 * Peak RSS bound. The daemon stays near 16 MB in these cases (about 45 MB
 * under AddressSanitizer): a bound this loose fails only when something is
 * held that should have been dropped.
 */
#ifndef MAX_HWM_KB
#define MAX_HWM_KB (150L * 1024)
#endif

#define MIB ((size_t)1 << 20)

/* One case's world: a folder, a mock server and a daemon. */
struct env {
    char dir[64];
    pid_t mock;            /* 0 when not running */
    pid_t daemon;          /* 0 when not running */
    unsigned port;         /* the mock's */
    unsigned metrics_port; /* the daemon's /metrics */
    size_t healthy;        /* posts in the healthy replay */
    long long t0;          /* when the case started its processes */
    long hwm_kb;           /* VmHWM just before SIGTERM */
    json_t *decisions;     /* owned: stdout parsed, after stop_all() */
    char *err;             /* owned: brandmond's stderr, after stop_all() */
};

/* What a source's summary line said. */
struct summary {
    unsigned long long posts, duplicates, ignored, keepalives, connects, stalls,
        http_errors, rate_limited;
    char skipped[512];
};

/* ---- small things ---- */

static void text_str(struct it_buf *t, const char *s)
{
    it_buf_put(t, s, strlen(s));
}

/* Appends @c @n times. */
static void text_fill(struct it_buf *t, char c, size_t n)
{
    char buf[4096];

    memset(buf, c, sizeof(buf));
    while (n > 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);

        it_buf_put(t, buf, k);
        n -= k;
    }
}

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
    text_str(t, s);
    text_str(t, eol);
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

static char *read_in_dir(const struct env *e, const char *name)
{
    char path[128];

    in_dir(e, name, path, sizeof(path));
    return it_read_file(path, NULL);
}

/* ---- failing with the evidence ---- */

/* Prints at most the last 6 KB of a file of the case's folder. */
static void dump_file(const struct env *e, const char *name)
{
    char *s = read_in_dir(e, name);
    size_t len = s ? strlen(s) : 0;
    const char *from = len > 6000 ? s + len - 6000 : s;

    fprintf(stderr, "----- %s%s -----\n%s%s", name,
            len > 6000 ? " (last 6 KB)" : "", s ? from : "(none)\n",
            len && s[len - 1] != '\n' ? "\n" : "");
    free(s);
}

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
    fail_msg("test_hostile.c:%d: %s", line, msg);
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

/* Fails the case if brandmond died while the case waited on it. */
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

/* An X filtered-stream message naming acme. */
static json_t *x_post(const char *id, const char *text)
{
    return json_pack(
        "{s:{s:s, s:s, s:s, s:s, s:s}, s:{s:[{s:s, s:s, s:{s:i}}]}}", "data",
        "id", id, "text", text, "author_id", "2001", "lang", "en", "created_at",
        "2025-03-14T09:00:03.412Z", "includes", "users", "id", "2001",
        "username", "printfan", "public_metrics", "followers_count", 1234);
}

/* A message of the simple generic shape {"id", "text"}. */
static json_t *plain(const char *id, const char *text)
{
    return json_pack("{s:s, s:s}", "id", id, "text", text);
}

/*
 * Writes the healthy replay (@n X posts "ok1".."okN"), the config and
 * starts brandmond; the case's clock starts here. @hostile is the hostile
 * source's YAML after "  - name: hostile\n", where "$URL" stands for
 * http://127.0.0.1:PORT.
 */
static void daemon_start(struct env *e, const char *hostile, size_t n)
{
    char config[128], out[128], err[128], url[64];
    const char *argv[] = { BM_BINARY, "-c", config, NULL };
    struct it_buf t = { 0 }, r = { 0 };

    for (size_t i = 1; i <= n; i++) {
        char id[16];

        snprintf(id, sizeof(id), "ok%zu", i);
        text_json(&r, x_post(id, "My Acme printer jammed again"), "\n");
    }
    put_file(e, "healthy.ndjson", r.data, r.len);
    it_buf_release(&r);
    e->healthy = n;
    e->metrics_port = it_free_port();
    in_dir(e, "brandmond.yaml", config, sizeof(config));
    in_dir(e, "stdout", out, sizeof(out));
    in_dir(e, "stderr", err, sizeof(err));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", e->port);
    it_buf_printf(&t,
                  "# written by test_hostile.c\n"
                  "instance: hostile-test\n"
                  "rules: %s\n"
                  "data_dir: %s\n"
                  "sink: stdout\n"
                  "metrics: {listen: \"127.0.0.1:%u\"}\n"
                  "sources:\n"
                  "  - name: healthy\n"
                  "    type: replay\n"
                  "    file: %s/healthy.ndjson\n"
                  "    rate: %d\n"
                  "  - name: hostile\n",
                  PACK, BM_RULES_DIR, e->metrics_port, e->dir, HEALTHY_RATE);
    for (const char *p = hostile; *p;) {
        if (!strncmp(p, "$URL", 4)) {
            text_str(&t, url);
            p += 4;
        } else {
            it_buf_put(&t, p++, 1);
        }
    }
    put_file(e, "brandmond.yaml", t.data, t.len);
    it_buf_release(&t);
    e->t0 = it_now_ms();
    e->daemon = it_spawn(argv, NULL, "/dev/null", out, err, 0);
}

/* ---- reading what happens, while it happens ---- */

/* How often @needle is in brandmond's stderr so far. */
static size_t count_log(struct env *e, const char *needle)
{
    char *s = read_in_dir(e, "stderr");
    size_t n = it_count_str(s, needle);

    free(s);
    return n;
}

/* Decisions printed so far from source @source. */
static size_t count_out(struct env *e, const char *source)
{
    char *s = read_in_dir(e, "stdout");
    char key[96];
    size_t n;

    snprintf(key, sizeof(key), "\"source\":\"%s\"", source);
    n = it_count_str(s, key);
    free(s);
    return n;
}

/* Requests to @path in the mock's log so far. */
static size_t count_requests(struct env *e, const char *path)
{
    char *s = read_in_dir(e, "requests.jsonl");
    char key[96];
    size_t n;

    snprintf(key, sizeof(key), "\"path\":\"%s\"", path);
    n = it_count_str(s, key);
    free(s);
    return n;
}

/*
 * GET http://127.0.0.1:@port@path with a plain socket: the body, or NULL
 * when the endpoint does not answer. Caller frees.
 */
static char *http_get(unsigned port, const char *path)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct timeval tv = { 2, 0 };
    struct it_buf t = { 0 };
    char req[256], buf[8192];
    ssize_t got;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char *body;

    if (fd < 0)
        return NULL;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return NULL;
    }
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return NULL;
    }
    it_buf_put(&t, "", 0);
    while ((got = read(fd, buf, sizeof(buf))) > 0)
        it_buf_put(&t, buf, (size_t)got);
    close(fd);
    body = strstr(t.data, "\r\n\r\n");
    if (!body || strncmp(t.data, "HTTP/1.", 7) != 0) {
        it_buf_release(&t);
        return NULL;
    }
    memmove(t.data, body + 4, strlen(body + 4) + 1);
    return t.data;
}

/*
 * The value of the sample @series (a metric name with its labels, exactly
 * as /metrics prints it) or -1 when it is not there.
 */
static long long metric(struct env *e, const char *series)
{
    char *m = http_get(e->metrics_port, "/metrics");
    size_t k = strlen(series);
    long long v = -1;

    for (const char *p = m; p && *p;) {
        if (!strncmp(p, series, k) && p[k] == ' ') {
            v = strtoll(p + k + 1, NULL, 10);
            break;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    free(m);
    return v;
}

/* brandmon_posts_skipped_total of the hostile source for @reason. */
static long long skipped_metric(struct env *e, const char *type,
                                const char *reason)
{
    char series[256];

    snprintf(series, sizeof(series),
             "brandmon_posts_skipped_total{source=\"hostile\",type=\"%s\","
             "reason=\"%s\"}",
             type, reason);
    return metric(e, series);
}

/* brandmon_source_@what_total of the hostile source. */
static long long source_metric(struct env *e, const char *type,
                               const char *what)
{
    char series[256];

    snprintf(series, sizeof(series),
             "brandmon_source_%s_total{source=\"hostile\",type=\"%s\"}", what,
             type);
    return metric(e, series);
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
              what, arg, got);
}

#define WAIT_LOG(e, needle, n, ms)                                             \
    wait_for((e), __LINE__, count_log, "log lines with", (needle), (n), (ms))
#define WAIT_OUT(e, source, n, ms)                                             \
    wait_for((e), __LINE__, count_out, "decisions from", (source), (n), (ms))
#define WAIT_REQ(e, path, n, ms)                                               \
    wait_for((e), __LINE__, count_requests, "requests to", (path), (n), (ms))

/* Polls brandmon_source_@what_total of the hostile source until it
 * reaches @want, for at most @ms: its last value. */
static long long wait_source_metric(struct env *e, const char *type,
                                    const char *what, long long want,
                                    long long ms)
{
    long long deadline = it_now_ms() + ms, v;

    for (;;) {
        v = source_metric(e, type, what);
        if (v >= want || it_now_ms() > deadline)
            return v;
        check_alive(e);
        it_sleep_ms(50);
    }
}

/* The daemon's peak resident set so far, in kB (VmHWM), or -1. */
static long hwm_kb(pid_t pid)
{
    char path[64], *s, *p;
    long kb = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    s = it_read_file(path, NULL);
    p = s ? strstr(s, "VmHWM:") : NULL;
    if (p)
        kb = strtol(p + 6, NULL, 10);
    free(s);
    return kb;
}

/* ---- the end of a case ---- */

/*
 * Waits for the healthy replay to finish and every healthy post to be
 * decided, reads VmHWM, then SIGTERM: brandmond must exit 0 within
 * STOP_MS. Loads stdout (every line must be a JSON decision) and stderr,
 * stops the mock, and checks the healthy source, the RSS bound and the
 * case's time.
 */
static void stop_all(struct env *e)
{
    char *out, how[64], tag[64];
    long long took;
    size_t last = 0, i;
    json_t *d;
    int st;

    snprintf(tag, sizeof(tag), "replay finished: %zu lines", e->healthy);
    WAIT_LOG(e, tag, 1, WAIT_MS + (long long)e->healthy * 1000 / HEALTHY_RATE);
    WAIT_OUT(e, "healthy", e->healthy, WAIT_MS);
    check_alive(e);
    e->hwm_kb = hwm_kb(e->daemon);
    CHECKF(e, e->hwm_kb > 0, "cannot read VmHWM of pid %d", (int)e->daemon);
    kill(e->daemon, SIGTERM);
    st = it_wait_pid(e->daemon, STOP_MS);
    if (st != -1)
        e->daemon = 0;
    it_describe_status(st, how, sizeof(how));
    CHECKF(e, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "brandmond after SIGTERM: %s (want exit 0)", how);
    took = it_now_ms() - e->t0;
    it_stop(e->mock, STOP_MS);
    e->mock = 0;
    free(e->err);
    e->err = read_in_dir(e, "stderr");
    CHECK(e, e->err != NULL);
    CHECK(e, strstr(e->err, "[daemon] SIGTERM: stopping") != NULL);
    CHECK(e, !strstr(e->err, "runtime error:"));
    CHECK(e, !strstr(e->err, "Sanitizer"));
    out = read_in_dir(e, "stdout");
    CHECK(e, out != NULL);
    json_decref(e->decisions);
    e->decisions = json_array();
    for (char *line = out, *eol; (eol = strchr(line, '\n')); line = eol + 1) {
        json_error_t jerr;
        json_t *dj = json_loadb(line, (size_t)(eol - line), 0, &jerr);

        if (!dj || !json_is_string(json_object_get(dj, "post_id"))) {
            free(out);
            json_decref(dj);
            fail_dump(e, __LINE__, "stdout line is not a decision: %s",
                      jerr.text);
        }
        json_array_append_new(e->decisions, dj);
    }
    CHECKF(e, !*out || out[strlen(out) - 1] == '\n',
           "stdout ends inside a line");
    free(out);

    /* The healthy posts: each once, in order. */
    json_array_foreach(e->decisions, i, d)
    {
        char want[16];

        if (strcmp(or_empty(json_string_value(json_object_get(d, "source"))),
                   "healthy") != 0)
            continue;
        snprintf(want, sizeof(want), "ok%zu", ++last);
        CHECKF(e,
               !strcmp(json_string_value(json_object_get(d, "post_id")), want),
               "healthy decision %zu is %s, want %s", last,
               json_string_value(json_object_get(d, "post_id")), want);
    }
    CHECKF(e, last == e->healthy, "%zu healthy posts decided, want %zu", last,
           e->healthy);
    CHECKF(e, e->hwm_kb < MAX_HWM_KB, "peak RSS %ld kB, bound %ld kB",
           e->hwm_kb, MAX_HWM_KB);
    CHECKF(e, took < CASE_MS, "the case took %lld ms", took);
    print_message("      peak RSS %ld kB, %lld ms\n", e->hwm_kb, took);
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

/* The healthy source's summary: every post, one connection, no trouble. */
static void check_healthy_summary(const struct env *e)
{
    struct summary s;

    summary_of(e, "replay:healthy", &s);
    CHECKF(e, s.posts == e->healthy, "healthy: %llu posts, want %zu", s.posts,
           e->healthy);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/* How many decisions post @id has. */
static size_t decided(const struct env *e, const char *id)
{
    size_t i, n = 0;
    const json_t *d;

    json_array_foreach(e->decisions, i, d)
    {
        if (!strcmp(or_empty(json_string_value(json_object_get(d, "post_id"))),
                    id))
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
        if (!strcmp(or_empty(json_string_value(json_object_get(d, "source"))),
                    source))
            n++;
    }
    return n;
}

/* ---- scenarios ---- */

/* A scenario: @type body @body (raw bytes, @len of them), then @then. */
static json_t *scenario(const char *type, const char *body, size_t len,
                        const char *then)
{
    json_t *sc = json_pack("{s:s, s:s%, s:s}", "type", type, "body", body, len,
                           "then", then);

    if (!sc)
        fail_msg("json_pack failed (is the body UTF-8?)");
    return sc;
}

/* A scenario whose body is the file @name of the case's folder. */
static json_t *file_scenario(const struct env *e, const char *type,
                             const char *name, const char *then)
{
    char path[128];
    json_t *sc;

    in_dir(e, name, path, sizeof(path));
    sc = json_pack("{s:s, s:s, s:s}", "type", type, "body_file", path, "then",
                   then);
    if (!sc)
        fail_msg("json_pack failed");
    return sc;
}

static json_t *set_int(json_t *sc, const char *key, long long v)
{
    json_object_set_new(sc, key, json_integer(v));
    return sc;
}

static json_t *set_chunk(json_t *sc, size_t lo, size_t hi)
{
    json_object_set_new(sc, "chunk",
                        json_pack("[I,I]", (json_int_t)lo, (json_int_t)hi));
    return sc;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    if (!e)
        return -1;
    if (it_mkdtemp(e->dir, sizeof(e->dir), "hostile") != 0) {
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
    free(e->err);
    it_remove_tree(e->dir);
    free(e);
    return 0;
}

#define GENERIC                                                                \
    "    type: ndjson\n    url: $URL/hostile\n"                                \
    "    fields: {id: /id, text: /text}\n"

/* ===================================================================== */
/* Cases                                                                 */
/* ===================================================================== */

/*
 * A 1 GiB line: a 1 MiB body of 'a' without newline sent 1024 times in
 * 1 MiB pieces, then keep-alives, the first of which ends the line. With
 * the default max_frame (1 MiB) it is counted too_long once, never held.
 */
static void test_gigabyte_line(void **state)
{
    struct env *e = *state;
    struct summary s;
    struct it_buf mb = { 0 };
    json_t *sc;

    text_fill(&mb, 'a', MIB);
    put_file(e, "mb.txt", mb.data, mb.len);
    it_buf_release(&mb);
    sc = file_scenario(e, "ndjson", "mb.txt", "keepalive:200");
    set_int(sc, "repeat", 1024);
    set_chunk(sc, MIB, MIB);
    mock_start(e, json_pack("{s:o}", "/hostile", sc));
    daemon_start(e, GENERIC, 40);
    WAIT_LOG(e, "[source:ndjson:hostile] skipped too_long", 1, 15000);
    CHECK(e, source_metric(e, "ndjson", "bytes") >= (long long)(1024 * MIB));
    CHECK(e, skipped_metric(e, "ndjson", "too_long") == 1);
    stop_all(e);

    check_healthy_summary(e);
    summary_of(e, "ndjson:hostile", &s);
    CHECK(e, skipped_of(&s, "too_long") == 1);
    CHECK(e, s.posts == 0);
    CHECK(e, s.connects == 1);
    CHECK(e, decided_from(e, "hostile") == 0);
}

/*
 * A gzip bomb: 1 GiB of 'a' and a newline, gzip -1'ed into about 5 MB and
 * sent with Content-Encoding: gzip. curl inflates it as it arrives; the
 * frame ceiling drops the line as it grows, so memory stays flat: one
 * too_long. `then: hang`: keep-alives after the gzip stream would be bytes
 * outside it.
 */
static void test_gzip_bomb(void **state)
{
    struct env *e = *state;
    struct summary s;
    char cmd[512], path[128];
    long long t;
    json_t *sc;

    in_dir(e, "bomb.gz", path, sizeof(path));
    snprintf(cmd, sizeof(cmd),
             "{ head -c 1073741824 /dev/zero | tr '\\0' a; echo; } | "
             "gzip -1 > '%s'",
             path);
    t = it_now_ms();
    assert_int_equal(system(cmd), 0);
    print_message("      bomb generated in %lld ms\n", it_now_ms() - t);
    sc = file_scenario(e, "raw", "bomb.gz", "hang");
    json_object_set_new(sc, "content_type",
                        json_string("application/x-ndjson"));
    json_object_set_new(sc, "headers",
                        json_pack("{s:s}", "Content-Encoding", "gzip"));
    set_chunk(sc, 65536, 65536);
    mock_start(e, json_pack("{s:o}", "/hostile", sc));
    daemon_start(e, GENERIC, 40);
    WAIT_LOG(e, "[source:ndjson:hostile] skipped too_long", 1, 15000);
    /* The source counts bytes after inflating: the whole gigabyte. */
    CHECK(e, source_metric(e, "ndjson", "bytes") >= (long long)(1024 * MIB));
    CHECK(e, skipped_metric(e, "ndjson", "too_long") == 1);
    stop_all(e);

    check_healthy_summary(e);
    summary_of(e, "ndjson:hostile", &s);
    CHECK(e, skipped_of(&s, "too_long") == 1);
    CHECK(e, s.posts == 0);
    CHECK(e, decided_from(e, "hostile") == 0);
}

/*
 * JSON nested 100,000 deep, as arrays and as objects, between two good
 * posts: past jansson's depth limit, so malformed_json twice, and the
 * posts around them are decided.
 */
static void test_deep_nesting(void **state)
{
    struct env *e = *state;
    struct summary s;
    struct it_buf a = { 0 };
    json_t *sc;

    text_json(&a, plain("n1", "Acme printer jammed"), "\n");
    text_fill(&a, '[', 100000);
    text_fill(&a, ']', 100000);
    text_str(&a, "\n");
    for (int i = 0; i < 100000; i++)
        text_str(&a, "{\"a\":");
    text_str(&a, "1");
    text_fill(&a, '}', 100000);
    text_str(&a, "\n");
    text_json(&a, plain("n2", "Acme printer broken"), "\n");
    sc =
        set_chunk(scenario("ndjson", a.data, a.len, "keepalive:200"), 1, 65536);
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o}", "/hostile", sc));
    daemon_start(e, GENERIC, 40);
    WAIT_OUT(e, "hostile", 2, WAIT_MS);
    CHECK(e, skipped_metric(e, "ndjson", "malformed_json") == 2);
    stop_all(e);

    check_healthy_summary(e);
    CHECK(e, decided(e, "n1") == 1);
    CHECK(e, decided(e, "n2") == 1);
    CHECK(e, decided_from(e, "hostile") == 2);
    summary_of(e, "ndjson:hostile", &s);
    CHECK(e, s.posts == 2);
    CHECK(e, skipped_of(&s, "malformed_json") == 2);
    CHECK(e, strstr(e->err, "[source:ndjson:hostile] skipped malformed_json"));
}

/*
 * 10,000 SSE comment lines between two events: both events are decided
 * and every comment is counted as a keep-alive.
 */
static void test_sse_comments(void **state)
{
    struct env *e = *state;
    struct summary s;
    struct it_buf a = { 0 };
    json_t *sc;

    text_str(&a, "event: mention\ndata: ");
    text_json(&a, plain("c1", "Acme printer jammed"), "\n\n");
    for (int i = 0; i < 10000; i++)
        it_buf_printf(&a, ": keep-alive %d\n", i);
    text_str(&a, "event: mention\ndata: ");
    text_json(&a, plain("c2", "Acme printer broken"), "\n\n");
    sc = set_chunk(scenario("sse", a.data, a.len, "hang"), 1, 4096);
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o}", "/hostile", sc));
    daemon_start(e,
                 "    type: sse\n    url: $URL/hostile\n"
                 "    fields: {id: /id, text: /text}\n",
                 40);
    WAIT_OUT(e, "hostile", 2, WAIT_MS);
    CHECK(e,
          wait_source_metric(e, "sse", "keepalives", 10000, WAIT_MS) == 10000);
    stop_all(e);

    check_healthy_summary(e);
    CHECK(e, decided(e, "c1") == 1);
    CHECK(e, decided(e, "c2") == 1);
    summary_of(e, "sse:hostile", &s);
    CHECK(e, s.posts == 2);
    CHECK(e, s.keepalives == 10000);
    CHECK(e, s.connects == 1);
    CHECK(e, !strcmp(s.skipped, "none"));
}

/* One X message with raw (already JSON-escaped) field values. */
static void x_raw(struct it_buf *t, const char *id, const char *text,
                  const char *author_id, const char *lang,
                  const char *created_at, const char *username,
                  const char *name)
{
    it_buf_printf(
        t,
        "{\"data\":{\"id\":\"%s\",\"text\":\"%s\",\"author_id\":\"%s\","
        "\"lang\":\"%s\",\"created_at\":\"%s\"},\"includes\":{\"users\":"
        "[{\"id\":\"%s\",\"username\":\"%s\",\"name\":\"%s\","
        "\"public_metrics\":{\"followers_count\":12}}]},"
        "\"matching_rules\":[{\"id\":\"1\",\"tag\":\"acme\"}]}\r\n",
        id, text, author_id, lang, created_at, author_id, username, name);
}

/*
 * Invalid UTF-8 in every field of an X message: all at once, then one
 * field at a time (id, text, author_id, lang, created_at, username,
 * name), with several kinds of bad bytes (a stray continuation byte, a
 * truncated sequence, an overlong '/', an encoded surrogate, bytes that
 * never occur, a 5-byte form), and JSON escapes that are no character (a
 * lone surrogate, NUL). Whatever the daemon does with each (skips it as
 * invalid_utf8 or malformed_json, or decides it with the bytes replaced),
 * every message is accounted for, every decision printed is valid UTF-8
 * JSON, and the good post after them is decided.
 */
static void test_invalid_utf8(void **state)
{
    struct env *e = *state;
    struct summary s;
    struct it_buf a = { 0 };
    const int messages = 11;
    unsigned long long skipped;
    json_t *sc;

    x_raw(&a,
          "9\xff"
          "01",
          "Acme printer \xc3\x28 jammed", "\xed\xa0\x80", "e\xc0\xafn",
          "2025-\xf8\x88\x80\x80\x80", "bad\x80user", "\xc1\xbf");
    x_raw(&a, "u1\xfe", "Acme printer jammed", "2001", "en",
          "2025-03-14T09:00:00Z", "printfan", "Printer Fan");
    x_raw(&a, "u2", "Acme printer jammed \xe2\x82", "2001", "en",
          "2025-03-14T09:00:00Z", "printfan", "Printer Fan");
    x_raw(&a, "u3", "Acme printer jammed",
          "20\x80"
          "01",
          "en", "2025-03-14T09:00:00Z", "printfan", "Printer Fan");
    x_raw(&a, "u4", "Acme printer jammed", "2001", "\xc0\xaf",
          "2025-03-14T09:00:00Z", "printfan", "Printer Fan");
    x_raw(&a, "u5", "Acme printer jammed", "2001", "en",
          "2025-03-14T09:00:00Z\xed\xbf\xbf", "printfan", "Printer Fan");
    x_raw(&a, "u6", "Acme printer jammed", "2001", "en", "2025-03-14T09:00:00Z",
          "print\xf5\x80\x80\x80"
          "fan",
          "Printer Fan");
    x_raw(&a, "u7", "Acme printer jammed", "2001", "en", "2025-03-14T09:00:00Z",
          "printfan", "Printer \xff\xfe Fan");
    x_raw(&a, "u8", "Acme printer jammed \\ud800 here", "2001", "en",
          "2025-03-14T09:00:00Z", "printfan", "Printer Fan");
    x_raw(&a, "u9", "Acme printer \\u0000 jammed", "2001", "en",
          "2025-03-14T09:00:00Z", "printfan", "Printer Fan");
    /* An invalid byte in a key, not a value. */
    text_str(&a, "{\"data\":{\"id\":\"u10\",\"te\xffxt\":\"Acme printer "
                 "jammed\"}}\r\n");
    x_raw(&a, "uok", "My Acme printer jammed", "2001", "en",
          "2025-03-14T09:00:00Z", "printfan", "Printer Fan");
    put_file(e, "utf8.ndjson", a.data, a.len);
    it_buf_release(&a);
    sc = file_scenario(e, "ndjson", "utf8.ndjson", "keepalive:200");
    mock_start(e, json_pack("{s:o}", "/hostile", sc));
    daemon_start(e, "    type: x\n    url: $URL/hostile\n", 40);
    WAIT_OUT(e, "hostile", 1, WAIT_MS);
    WAIT_LOG(e, "[source:x:hostile] skipped", 1, WAIT_MS);
    stop_all(e);

    check_healthy_summary(e);
    CHECK(e, decided(e, "uok") == 1);
    summary_of(e, "x:hostile", &s);
    skipped = skipped_of(&s, "invalid_utf8") +
              skipped_of(&s, "malformed_json") + skipped_of(&s, "invalid") +
              skipped_of(&s, "no_text");
    print_message("      decided %llu, skipped: %s\n", s.posts, s.skipped);
    CHECKF(e, s.posts + skipped == (unsigned long long)messages + 1,
           "%llu posts + %llu skipped, want %d messages", s.posts, skipped,
           messages + 1);
    CHECK(e, s.posts == decided_from(e, "hostile"));
    CHECK(e, skipped_of(&s, "invalid_utf8") >= 1);
    CHECK(e, s.connects == 1);
}

/*
 * A server sending one byte a second: no post arrives within the case's
 * time, the stall detector (stall: 3s) does not fire because bytes do
 * arrive, and the healthy source decides its posts at its own pace.
 */
static void test_drip(void **state)
{
    struct env *e = *state;
    struct summary s;
    struct it_buf a = { 0 };
    long long bytes, t;
    json_t *sc;

    text_json(&a, plain("d1", "Acme printer jammed, the slowest post ever"),
              "\n");
    sc = set_int(scenario("ndjson", a.data, a.len, "keepalive:200"), "drip_bps",
                 1);
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o}", "/hostile", sc));
    daemon_start(e, GENERIC "    stall: 3s\n", 100);
    t = it_now_ms();
    WAIT_OUT(e, "healthy", 100, WAIT_MS);
    /* 100 posts at 20 a second, unhindered. */
    CHECKF(e, it_now_ms() - t < 5000 + 3000, "the healthy replay took %lld ms",
           it_now_ms() - t);
    bytes = source_metric(e, "ndjson", "bytes");
    CHECKF(e, bytes >= 2, "%lld bytes from the drip", bytes);
    CHECK(e, source_metric(e, "ndjson", "stalls") == 0);
    stop_all(e);

    check_healthy_summary(e);
    CHECK(e, decided(e, "d1") == 0);
    summary_of(e, "ndjson:hostile", &s);
    CHECK(e, s.posts == 0);
    CHECK(e, s.stalls == 0);
    CHECK(e, s.connects == 1);
    CHECK(e, count_requests(e, "/hostile") == 1);
}

/*
 * A server that accepts the connection and never answers: with `stall:
 * 1s` the source gives up and reconnects, and the post of the second
 * answer is decided.
 */
static void test_accept_only(void **state)
{
    struct env *e = *state;
    struct summary s;
    struct it_buf a = { 0 };
    json_t *sc1, *sc2;

    sc1 = json_pack("{s:b}", "accept_only", 1);
    text_json(&a, plain("a1", "Acme printer jammed"), "\n");
    sc2 = scenario("ndjson", a.data, a.len, "keepalive:200");
    it_buf_release(&a);
    mock_start(e, json_pack("{s:[o,o]}", "/hostile", sc1, sc2));
    daemon_start(e, GENERIC "    stall: 1s\n", 60);
    WAIT_OUT(e, "hostile", 1, WAIT_MS);
    CHECK(e, source_metric(e, "ndjson", "stalls") == 1);
    stop_all(e);

    check_healthy_summary(e);
    CHECK(e, decided(e, "a1") == 1);
    CHECK(e, count_requests(e, "/hostile") == 2);
    CHECK(e, strstr(e->err, "[source:ndjson:hostile] no byte for "));
    summary_of(e, "ndjson:hostile", &s);
    CHECK(e, s.stalls == 1);
    CHECK(e, s.posts == 1);
}

/*
 * A server that never closes: three posts, then a keep-alive every 200 ms
 * for as long as the daemon listens. One connection for the whole case,
 * the posts decided, the keep-alives counted.
 */
static void test_never_closes(void **state)
{
    struct env *e = *state;
    struct summary s;
    struct it_buf a = { 0 };
    json_t *sc;

    text_json(&a, plain("k1", "Acme printer jammed"), "\n");
    text_json(&a, plain("k2", "Acme printer broken"), "\n");
    text_json(&a, plain("k3", "love my Acme printer, great"), "\n");
    sc = scenario("ndjson", a.data, a.len, "keepalive:200");
    it_buf_release(&a);
    mock_start(e, json_pack("{s:o}", "/hostile", sc));
    daemon_start(e, GENERIC "    stall: 1s\n", 60);
    WAIT_OUT(e, "hostile", 3, WAIT_MS);
    stop_all(e);

    check_healthy_summary(e);
    CHECK(e, decided(e, "k1") == 1);
    CHECK(e, decided(e, "k2") == 1);
    CHECK(e, decided(e, "k3") == 1);
    CHECK(e, count_requests(e, "/hostile") == 1);
    summary_of(e, "ndjson:hostile", &s);
    CHECK(e, s.posts == 3);
    CHECK(e, s.connects == 1);
    CHECK(e, s.stalls == 0);
    /* About 3 s of keep-alives, every 200 ms. */
    CHECKF(e, s.keepalives >= 5, "%llu keep-alives", s.keepalives);
    CHECK(e, !strcmp(s.skipped, "none"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gigabyte_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_comments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_closes, setup, teardown),
    };

    long long t0 = it_now_ms(), took;
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    took = it_now_ms() - t0;
    printf("test_hostile: %lld ms in all (bound %d ms)\n", took, FILE_MS);
    if (took >= FILE_MS) {
        fprintf(stderr, "test_hostile: the cases took %lld ms, over %d ms\n",
                took, FILE_MS);
        failed++;
    }
    return failed;
}
