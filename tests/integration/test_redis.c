/*
 * test_redis.c - the Redis sink, end to end: the built brandmond writing to
 * real redis-server processes, read back with hiredis's synchronous API.
 *
 * Each test starts its own redis-server (Debian's, found at build time or
 * on PATH) on a free 127.0.0.1 port with an append-only file fsync'ed on
 * every write, in a fresh temporary folder, and stops it by pid. The daemon
 * runs as a user runs it (`brandmond -c CONFIG`, `sink: redis`) with a
 * `replay` source playing tests/data/redis/posts.ndjson (or files made
 * from it), decided by the pack tests/data/redis/acme.yaml.
 *
 * What must end up in Redis is computed, not written down: the same file is
 * decided offline (`brandmond --rules PACK --replay FILE`) and the
 * decisions give the mentions, tones, scores, rule matches and alerts. Two
 * things --replay cannot know are simulated here from the pack: the
 * throttle of rt.complaint (per author, 1h: the first match of an author
 * alerts, later ones are counted as throttled) and the escalation rt.crisis
 * (fires once, on the fifth post with an Acme defense match, since the
 * daemon counts by decision time and a run lasts seconds).
 *
 * The tests: the schema of docs/redis-schema.md key by key; the heartbeat;
 * what the daemon's connection sends (MONITOR, INFO commandstats); Redis
 * killed and restarted from its AOF mid-stream; Redis frozen (SIGSTOP)
 * past the command timeout, while posts keep coming and while the stream
 * is quiet; the spool carried over a daemon restart; a throttle shared by
 * two daemons; redis-cli reading the stream as a consumer group; and the
 * sources' cursors (Pcursor:SOURCE) carried over a daemon restart, with an
 * SSE and a poll source against the mock stream server (BM_MOCKSTREAM,
 * tests/mock/mockstream.c) instead of a replay. Every wait is bounded. With
 * BM_IT_KEEP=1 in the environment the temporary folder of a failed test is
 * kept; BM_IT_FILTER=PATTERN runs some tests.
 *
 * Tests marked KNOWN FAILURE below fail on purpose until the daemon is
 * fixed: they check what docs/redis-schema.md and docs/config.md promise.
 */
#define _GNU_SOURCE /* strptime */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
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
#ifndef BM_VERSION
#define BM_VERSION ""
#endif
/* Paths found by CMake; empty: looked up on PATH when the tests start. */
#ifndef BM_REDIS_SERVER
#define BM_REDIS_SERVER ""
#endif
#ifndef BM_REDIS_CLI
#define BM_REDIS_CLI ""
#endif
/* The mock stream server (tests/mock/mockstream.c); empty: the cursor test
 * is skipped. */
#ifndef BM_MOCKSTREAM
#define BM_MOCKSTREAM ""
#endif

#define DATA   BM_TEST_DATA "/redis/"
#define PACK   DATA "acme.yaml"
#define POSTS  DATA "posts.ndjson"
#define SHARED DATA "shared.ndjson"
#define PREFIX "brandmon:"
#define SOURCE "it"

/* What the pack says, for what --replay cannot show (see the top). */
#define THROTTLED_RULE "rt.complaint"
#define THROTTLE_MS    3600000LL
#define ESC_ID         "rt.crisis"
#define ESC_BRAND      "acme"
#define ESC_KIND       "defense"
#define ESC_COUNT      5
#define ESC_WINDOW_MIN 10
#define ESC_COOLDOWN   3600000LL

/* TTLs of docs/redis-schema.md, in seconds. */
#define TTL_MINUTE    172800LL
#define TTL_HOUR      7776000LL
#define TTL_DAY       2592000LL
#define TTL_SOV_DAY   34560000LL
#define TTL_SEEN      86400LL
#define TTL_HEARTBEAT 60LL

static char redis_server[PATH_MAX];
static char redis_cli[PATH_MAX];

/* One redis-server process. */
struct redis_srv {
    pid_t pid; /* 0 when not running */
    unsigned port;
    char dir[128]; /* its --dir: the AOF lives here */
    char log[128];
};

/* One brandmond process. */
struct daemon_run {
    pid_t pid; /* 0 when not running */
    char config[128];
    char log[128]; /* stdout and stderr */
};

/* What Redis must hold after a run, from the offline decisions. */
struct expect {
    json_t *posts;     /* post_id -> {author, followers, text, created_at} */
    json_t *decisions; /* the offline decisions, in order */
    json_t *counters;  /* brand -> {field -> count}, non-zero fields only */
    json_t *sentiment; /* brand -> sum of scores */
    json_t *authors;   /* brand -> {author -> mentions} */
    json_t *alerts;    /* "RULE POST_ID" -> the expected alert fields */
    json_t *throttles; /* "RULE:KEY" -> true: throttle keys that exist */
    json_t *writes;    /* post_id -> true: posts with something to write */
    size_t nalerts;
    size_t nwrites;
    size_t esc_posts; /* posts feeding the escalation */
};

/* A test's processes and files; torn down whatever happened. */
struct ctx {
    char tmp[64]; /* /tmp/bm_redis.XXXXXX */
    struct redis_srv redis;
    struct daemon_run d[2];
    struct expect e;    /* released at teardown, whatever happened */
    pid_t mock;         /* mockstream, 0 when not running */
    unsigned mock_port; /* its port, once it runs */
    bool passed;        /* set at the end of a test body */
};

/* What a daemon's config holds. */
struct cfg {
    const char *instance;
    const char *source;
    const char *file;
    const char *prefix;   /* NULL: the default */
    double rate;          /* 0: as fast as possible */
    unsigned queue_max;   /* 0: the default */
    const char *cmd_tmo;  /* command_timeout, NULL: default */
    const char *conn_tmo; /* connect_timeout, NULL: default */
};

/* Problems found by a check, reported together at the end. */
struct problems {
    char text[32768];
    size_t len;
    unsigned count;
};

/* ---- small helpers ---- */

static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static __attribute__((format(printf, 2, 3))) void problem(struct problems *p,
                                                          const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (strstr(p->text, line))
        return; /* the same finding on many entries is told once */
    p->count++;
    n = snprintf(p->text + p->len, sizeof(p->text) - p->len, "  - %s\n", line);
    if (n > 0 && p->len + (size_t)n < sizeof(p->text))
        p->len += (size_t)n;
}

static void problems_check(const struct problems *p, const char *what)
{
    if (p->count)
        fail_msg("%s: %u problem(s):\n%s", what, p->count, p->text);
}

static long long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* ---- processes ---- */

/* Waits for @pid: its exit code, 128 + signal, or -1 after @ms. */
static int wait_pid(pid_t pid, long long ms)
{
    int st = it_wait_pid(pid, ms);

    if (st == -1 && errno != ETIMEDOUT)
        fail_msg("waitpid %d: %s", (int)pid, strerror(errno));
    return st == -1 ? -1 : it_exit_code(st);
}

/* Runs @argv to the end (at most 30 s), stdin from /dev/null, stdout
 * and stderr appended to @out and @err (NULL: /dev/null): its exit code. */
static int run_tool(const char *const *argv, const char *out, const char *err)
{
    pid_t pid = it_spawn(argv, NULL, "/dev/null", out ? out : "/dev/null",
                         err ? err : "/dev/null", IT_APPEND);
    int rc = wait_pid(pid, 30000);

    if (rc < 0) {
        it_kill(pid);
        fail_msg("%s did not finish in 30 s", argv[0]);
    }
    return rc;
}

/* ---- Redis ---- */

static redisContext *rconnect_tmo(unsigned port, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", (int)port, tv);

    if (!c)
        return NULL;
    if (c->err) {
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static redisContext *rconnect(unsigned port)
{
    redisContext *c = rconnect_tmo(port, 3000);

    if (!c)
        fail_msg("cannot connect to Redis on 127.0.0.1:%u", port);
    return c;
}

/* A command's reply, which must come and must not be an error. */
static __attribute__((format(printf, 2, 3))) redisReply *
rcmd(redisContext *c, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        fail_msg("Redis did not answer '%s': %s", fmt, c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("Redis refused '%s': %s", fmt, r->str);
    return r;
}

/* An integer reply (or a string holding one; nil: @dflt). */
static __attribute__((format(printf, 3, 4))) long long
rnum(redisContext *c, long long dflt, const char *fmt, ...)
{
    redisReply *r;
    long long v = dflt;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        fail_msg("Redis did not answer '%s': %s", fmt, c->errstr);
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    else if (r->type == REDIS_REPLY_ERROR)
        fail_msg("Redis refused '%s': %s", fmt, r->str);
    freeReplyObject(r);
    return v;
}

/* Starts the test's redis-server, or starts it again (same port, same
 * --dir: it reloads its AOF); fails the test unless it answers in 10 s. */
static void redis_start(struct redis_srv *r)
{
    r->pid = it_redis_start(redis_server, r->port, r->dir, r->log, 10000);
}

/* Stops it, also when frozen (SIGSTOP); nothing when it is not running. */
static void redis_stop(struct redis_srv *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGCONT);
    it_stop(r->pid, 5000);
    r->pid = 0;
}

static void redis_kill9(struct redis_srv *r)
{
    assert_true(r->pid > 0);
    assert_int_equal(kill(r->pid, SIGKILL), 0);
    assert_int_equal(wait_pid(r->pid, 5000), 128 + SIGKILL);
    r->pid = 0;
}

/* HGET as an integer, on a connection of its own; -1 when Redis does not
 * answer (it may be down on purpose). */
static long long try_hget(unsigned port, const char *key, const char *field)
{
    redisContext *c = rconnect_tmo(port, 300);
    redisReply *r = c ? redisCommand(c, "HGET %s %s", key, field) : NULL;
    long long v = -1;

    if (r && r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    else if (r && r->type == REDIS_REPLY_NIL)
        v = 0;
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return v;
}

/* Polls HGET @key @field until it is @want or @ms pass: the last value. */
static long long wait_hget(unsigned port, const char *key, const char *field,
                           long long want, long long ms)
{
    long long deadline = it_now_ms() + ms, v = -1;

    while (it_now_ms() < deadline) {
        v = try_hget(port, key, field);
        if (v >= want)
            return v; /* past it: counted twice, no use waiting */
        it_sleep_ms(50);
    }
    return v;
}

/* Every key matching @pattern (SCAN), as a JSON array of strings. */
static json_t *scan_keys(redisContext *c, const char *pattern)
{
    json_t *keys = json_array();
    char cursor[32] = "0";

    do {
        redisReply *r = rcmd(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);

        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 2);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            json_array_append_new(keys,
                                  json_string(r->element[1]->element[i]->str));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return keys;
}

/* A hash as a JSON object of strings. */
static json_t *hgetall(redisContext *c, const char *key)
{
    redisReply *r = rcmd(c, "HGETALL %s", key);
    json_t *o = json_object();

    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        json_object_set_new(o, r->element[i]->str,
                            json_string(r->element[i + 1]->str));
    freeReplyObject(r);
    return o;
}

/* The alerts stream, oldest first: an array of {"id": ID, "f": {...}}. */
static json_t *read_stream(redisContext *c, const char *prefix)
{
    redisReply *r = rcmd(c, "XRANGE %salerts - +", prefix);
    json_t *all = json_array();

    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i], *kv = e->element[1];
        json_t *f = json_object();

        for (size_t j = 0; j + 1 < kv->elements; j += 2)
            json_object_set_new(f, kv->element[j]->str,
                                json_string(kv->element[j + 1]->str));
        json_array_append_new(
            all, json_pack("{s:s, s:o}", "id", e->element[0]->str, "f", f));
    }
    freeReplyObject(r);
    return all;
}

/* ---- the daemon ---- */

static void write_config(struct ctx *t, int i, const struct cfg *c)
{
    char text[16384], extra[512] = "";
    int n = 0;

    if (c->prefix)
        n += snprintf(extra + n, sizeof(extra) - (size_t)n,
                      "  prefix: \"%s\"\n", c->prefix);
    if (c->queue_max)
        n += snprintf(extra + n, sizeof(extra) - (size_t)n, "  queue_max: %u\n",
                      c->queue_max);
    if (c->cmd_tmo)
        n += snprintf(extra + n, sizeof(extra) - (size_t)n,
                      "  command_timeout: %s\n", c->cmd_tmo);
    if (c->conn_tmo)
        n += snprintf(extra + n, sizeof(extra) - (size_t)n,
                      "  connect_timeout: %s\n", c->conn_tmo);
    snprintf(text, sizeof(text),
             "instance: %s\n"
             "rules: \"%s\"\n"
             "data_dir: \"%s\"\n"
             "sink: redis\n"
             "redis:\n"
             "  url: \"redis://127.0.0.1:%u/0\"\n"
             "  spool: \"%s/spool\"\n"
             "%s"
             "log:\n"
             "  level: info\n"
             "sources:\n"
             "  - name: %s\n"
             "    type: replay\n"
             "    file: \"%s\"\n"
             "    rate: %g\n",
             c->instance, PACK, BM_RULES_DIR, t->redis.port, t->tmp, extra,
             c->source, c->file, c->rate);
    /* A copy: gcc cannot tell that t->tmp and t->d[i] do not overlap. */
    {
        char dir[sizeof(t->tmp)];

        memcpy(dir, t->tmp, sizeof(dir));
        snprintf(t->d[i].config, sizeof(t->d[i].config), "%s/brandmond-%d.yaml",
                 dir, i);
        snprintf(t->d[i].log, sizeof(t->d[i].log), "%s/brandmond-%d.log", dir,
                 i);
    }
    it_write_file(t->d[i].config, text, strlen(text));
}

static void daemon_start(struct ctx *t, int i)
{
    const char *argv[] = { BM_BINARY, "-c", t->d[i].config, NULL };

    t->d[i].pid =
        it_spawn(argv, NULL, "/dev/null", t->d[i].log, t->d[i].log, IT_APPEND);
}

/* SIGTERM, then the exit code (fails after 10 s). */
static int daemon_stop(struct ctx *t, int i)
{
    int rc;

    assert_true(t->d[i].pid > 0);
    assert_int_equal(kill(t->d[i].pid, SIGTERM), 0);
    rc = wait_pid(t->d[i].pid, 10000);
    if (rc < 0)
        fail_msg("brandmond did not stop within 10 s of SIGTERM; see %s",
                 t->d[i].log);
    t->d[i].pid = 0;
    return rc;
}

static void print_tail(const char *what, const char *path)
{
    size_t len;
    char *s = it_read_file(path, &len);

    if (!s)
        return;
    fprintf(stderr, "---- %s (%s), last lines ----\n%s\n", what, path,
            len > 6000 ? s + len - 6000 : s);
    free(s);
}

/* ---- posts and what they must give ---- */

/* Writes @passes copies of @src to @dst, ids made unique with the pass
 * number ("k3-2001"), at most @limit lines (0: all). */
static void make_posts(const char *src, const char *dst, int passes,
                       size_t limit, const char *tag)
{
    char *text = it_read_file(src, NULL);
    FILE *out = fopen(dst, "w");
    size_t lines = 0;

    assert_non_null(text);
    assert_non_null(out);
    for (int p = 0; p < passes; p++) {
        char *save = NULL, *copy = strdup(text);

        assert_non_null(copy);
        for (char *l = strtok_r(copy, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            json_error_t jerr;
            json_t *m, *data;
            char id[64], *dump;

            if (limit && lines == limit)
                break;
            m = json_loads(l, 0, &jerr);
            assert_non_null(m);
            data = json_object_get(m, "data");
            snprintf(id, sizeof(id), "%s%d-%s", tag, p,
                     json_string_value(json_object_get(data, "id")));
            json_object_set_new(data, "id", json_string(id));
            dump = json_dumps(m, JSON_COMPACT);
            assert_non_null(dump);
            fprintf(out, "%s\n", dump);
            free(dump);
            json_decref(m);
            lines++;
        }
        free(copy);
    }
    assert_int_equal(fclose(out), 0);
    free(text);
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The string at @key, or "" when there is none. */
static const char *js(const json_t *o, const char *key)
{
    const char *s = jstr(o, key);

    return s ? s : "";
}

static void bump(json_t *map, const char *brand, const char *field, long long n)
{
    json_t *b = json_object_get(map, brand);
    json_t *v;

    if (!b) {
        b = json_object();
        json_object_set_new(map, brand, b);
    }
    v = json_object_get(b, field);
    json_object_set_new(b, field,
                        json_integer((v ? json_integer_value(v) : 0) + n));
}

static void add_real(json_t *map, const char *key, double x)
{
    json_t *v = json_object_get(map, key);

    json_object_set_new(map, key, json_real((v ? json_real_value(v) : 0) + x));
}

/* The fixture's own view of each post: what the alert fields come from. */
static void read_fixture(const char *posts, json_t *out)
{
    char *text = it_read_file(posts, NULL), *save = NULL;

    assert_non_null(text);
    for (char *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *m = json_loads(l, 0, &jerr);
        json_t *data = json_object_get(m, "data");
        json_t *users =
            json_object_get(json_object_get(m, "includes"), "users");
        json_t *user = json_array_get(users, 0);
        json_t *fol = json_object_get(json_object_get(user, "public_metrics"),
                                      "followers_count");
        json_t *p = json_object();

        assert_non_null(m);
        json_object_set_new(p, "author",
                            json_string(user ? jstr(user, "username") : ""));
        json_object_set_new(p, "followers",
                            fol ? json_integer_value(fol) >= 0 ? json_copy(fol)
                                                               : json_null()
                                : json_null());
        json_object_set_new(p, "text", json_string(jstr(data, "text")));
        json_object_set_new(p, "created_at",
                            json_string(jstr(data, "created_at")
                                            ? jstr(data, "created_at")
                                            : ""));
        json_object_set(out, jstr(data, "id"), p);
        json_decref(p);
        json_decref(m);
    }
    free(text);
}

static void expect_release(struct expect *e)
{
    json_decref(e->posts);
    json_decref(e->decisions);
    json_decref(e->counters);
    json_decref(e->sentiment);
    json_decref(e->authors);
    json_decref(e->alerts);
    json_decref(e->throttles);
    json_decref(e->writes);
    memset(e, 0, sizeof(*e));
}

/* One expected rule alert, from a decision and one of its matches. */
static json_t *expected_alert(const json_t *d, const json_t *m,
                              const json_t *post, const char *source)
{
    const char *brand = jstr(m, "brand");
    const json_t *brands = json_object_get(d, "brands");
    double score = json_number_value(json_object_get(d, "sentiment"));
    const char *tone = jstr(d, "tone");
    size_t i;
    json_t *b;

    /* A rule with a brand reads that brand's score. */
    json_array_foreach(brands, i, b)
    {
        if (brand && strcmp(jstr(b, "id"), brand) == 0) {
            score = json_number_value(json_object_get(b, "sentiment"));
            tone = jstr(b, "tone");
        }
    }
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:f, s:s, s:O, s:s, s:O, s:O, "
        "s:O}",
        "kind", jstr(m, "kind"), "rule", jstr(m, "rule"), "priority",
        jstr(m, "priority"), "brand", brand ? brand : "", "source", source,
        "post_id", jstr(d, "post_id"), "author",
        json_object_get(post, "author"), "sentiment", score, "tone", tone,
        "terms", json_object_get(m, "terms"), "message",
        jstr(m, "message") ? jstr(m, "message") : "", "followers",
        json_object_get(post, "followers"), "text",
        json_object_get(post, "text"), "created_at",
        json_object_get(post, "created_at"));
}

/*
 * Decides @posts offline (as source @source) and works out what Redis must
 * hold after a daemon wrote every post once: see the top of the file.
 */
static void expect_build(struct ctx *t, const char *posts, const char *source,
                         struct expect *e)
{
    char out[PATH_MAX + 32], err[PATH_MAX + 32];
    const char *argv[] = { BM_BINARY,    "--rules",  PACK,  "--data",
                           BM_RULES_DIR, "--replay", posts, "--source",
                           source,       NULL };
    char *text, *save = NULL;
    size_t esc_n = 0;

    memset(e, 0, sizeof(*e));
    e->posts = json_object();
    e->decisions = json_array();
    e->counters = json_object();
    e->sentiment = json_object();
    e->authors = json_object();
    e->alerts = json_object();
    e->throttles = json_object();
    e->writes = json_object();
    read_fixture(posts, e->posts);
    snprintf(out, sizeof(out), "%s/offline.ndjson", t->tmp);
    snprintf(err, sizeof(err), "%s/offline.err", t->tmp);
    unlink(out);
    assert_int_equal(run_tool(argv, out, err), 0);
    text = it_read_file(out, NULL);
    assert_non_null(text);
    for (char *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *d = json_loads(l, 0, &jerr), *b, *m;
        json_t *brands = json_object_get(d, "brands");
        json_t *matches = json_object_get(d, "matches");
        const char *id = jstr(d, "post_id");
        const char *author = jstr(d, "author");
        json_t *post = json_object_get(e->posts, id);
        bool feeds_esc = false;
        size_t i;

        if (!d)
            fail_msg("offline decision is not JSON: %s", jerr.text);
        assert_non_null(post);
        json_array_append(e->decisions, d);
        if (json_array_size(brands) || json_array_size(matches)) {
            json_object_set_new(e->writes, id, json_true());
            e->nwrites++;
        }
        json_array_foreach(brands, i, b)
        {
            const char *bid = jstr(b, "id");
            char field[128];

            bump(e->counters, bid, "mentions", 1);
            bump(e->counters, bid, jstr(b, "tone"), 1);
            snprintf(field, sizeof(field), "source:%s", source);
            bump(e->counters, bid, field, 1);
            add_real(e->sentiment, bid,
                     json_number_value(json_object_get(b, "sentiment")));
            if (author && author[0])
                bump(e->authors, bid, author, 1);
        }
        json_array_foreach(matches, i, m)
        {
            const char *rule = jstr(m, "rule");
            const char *brand = jstr(m, "brand");
            bool throttled = false;
            char key[256];

            if (strcmp(rule, THROTTLED_RULE) == 0) {
                snprintf(key, sizeof(key), "%s:%s", rule,
                         author && author[0] ? author : "-");
                throttled = json_object_get(e->throttles, key) != NULL;
                json_object_set_new(e->throttles, key, json_true());
            }
            if (brand && brand[0]) {
                char field[128];

                bump(e->counters, brand, jstr(m, "kind"), 1);
                snprintf(field, sizeof(field), "rule:%s", rule);
                bump(e->counters, brand, field, 1);
                bump(e->counters, brand, throttled ? "throttled" : "alerts", 1);
                if (strcmp(brand, ESC_BRAND) == 0 &&
                    strcmp(jstr(m, "kind"), ESC_KIND) == 0)
                    feeds_esc = true;
            }
            if (!throttled) {
                snprintf(key, sizeof(key), "%s %s", rule, id);
                json_object_set_new(e->alerts, key,
                                    expected_alert(d, m, post, source));
                e->nalerts++;
            }
        }
        if (feeds_esc && ++esc_n == ESC_COUNT) {
            char key[256];

            snprintf(key, sizeof(key), "%s %s", ESC_ID, id);
            json_object_set_new(
                e->alerts, key,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind",
                          "escalation", "rule", ESC_ID, "priority", "critical",
                          "brand", ESC_BRAND, "source", source, "post_id", id));
            e->nalerts++;
            /* The script counts fired escalations in the brand's
             * counters too (a field docs/redis-schema.md does not list). */
            bump(e->counters, ESC_BRAND, "escalations", 1);
        }
        json_decref(d);
    }
    e->esc_posts = esc_n;
    free(text);
    assert_true(json_array_size(e->decisions) > 0);
}

static long long counter(const struct expect *e, const char *brand,
                         const char *field)
{
    return json_integer_value(
        json_object_get(json_object_get(e->counters, brand), field));
}

/* ---- checks ---- */

/* Every expected alert is in the stream exactly once, and nothing else. */
static void check_alerts_once(const struct expect *e, redisContext *c,
                              const char *prefix, struct problems *p)
{
    json_t *stream = read_stream(c, prefix);
    json_t *seen = json_object(), *v, *x;
    const char *key;
    size_t i;

    json_array_foreach(stream, i, x)
    {
        const json_t *f = json_object_get(x, "f");
        char k[256];
        json_t *n;

        snprintf(k, sizeof(k), "%s %s", jstr(f, "rule") ? jstr(f, "rule") : "?",
                 jstr(f, "post_id") ? jstr(f, "post_id") : "?");
        n = json_object_get(seen, k);
        json_object_set_new(seen, k,
                            json_integer(n ? json_integer_value(n) + 1 : 1));
    }
    json_object_foreach(e->alerts, key, v)
    {
        long long n = json_integer_value(json_object_get(seen, key));

        if (n == 0)
            problem(p, "alert '%s' is missing from the stream", key);
        else if (n > 1)
            problem(p, "alert '%s' is in the stream %lld times", key, n);
    }
    json_object_foreach(seen, key, v)
    {
        if (!json_object_get(e->alerts, key))
            problem(p, "alert '%s' should not be in the stream (%lld times)",
                    key, (long long)json_integer_value(v));
    }
    if (json_array_size(stream) != e->nalerts)
        problem(p, "the stream holds %zu entries, expected %zu",
                json_array_size(stream), e->nalerts);
    json_decref(seen);
    json_decref(stream);
}

/* A counter hash (@got, as HGETALL gives it; @what names it in messages)
 * against what @brand must count. */
static void check_counter_hash(const struct expect *e, const char *brand,
                               const char *what, const json_t *got,
                               struct problems *p)
{
    const json_t *want = json_object_get(e->counters, brand);
    double want_sum = json_real_value(json_object_get(e->sentiment, brand));
    const char *field;
    json_t *v;

    if (!want) {
        if (json_object_size(got))
            problem(p, "%s: brand %s is counted but names no post", what,
                    brand);
        return;
    }
    json_object_foreach((json_t *)want, field, v)
    {
        const char *s = jstr(got, field);

        if (!s)
            problem(p, "%s: field %s is missing (expected %lld)", what, field,
                    (long long)json_integer_value(v));
        else if (strtoll(s, NULL, 10) != json_integer_value(v))
            problem(p, "%s: %s is %s, expected %lld", what, field, s,
                    (long long)json_integer_value(v));
    }
    json_object_foreach((json_t *)got, field, v)
    {
        if (strcmp(field, "sentiment_sum") == 0) {
            double s = strtod(json_string_value(v), NULL);

            if (fabs(s - want_sum) >
                0.001 * (double)counter(e, brand, "mentions") + 1e-6)
                problem(p, "%s: sentiment_sum is %s, expected %.4f", what,
                        json_string_value(v), want_sum);
        } else if (!json_object_get(want, field)) {
            problem(p, "%s: unexpected field %s = %s", what, field,
                    json_string_value(v));
        }
    }
    if (!jstr(got, "sentiment_sum"))
        problem(p, "%s: field sentiment_sum is missing", what);
}

/* Ptotal:BRAND, and the minute and hour buckets: their sums equal the
 * totals (a run may straddle a minute) and each has its TTL. */
static void check_counters(const struct expect *e, redisContext *c,
                           const char *prefix, const char *brand, bool buckets,
                           struct problems *p)
{
    static const struct {
        const char *name;
        long long ttl;
    } kinds[] = { { "minute", TTL_MINUTE }, { "hour", TTL_HOUR } };
    char key[256], what[300];
    json_t *got;

    snprintf(key, sizeof(key), "%stotal:%s", prefix, brand);
    got = hgetall(c, key);
    check_counter_hash(e, brand, key, got, p);
    if (rnum(c, -9, "TTL %s", key) != -1)
        problem(p, "%s should not expire", key);
    json_decref(got);
    for (size_t k = 0; buckets && k < 2; k++) {
        json_t *keys, *sum = json_object(), *kv;
        double ssum = 0;
        size_t i;

        snprintf(key, sizeof(key), "%s%s:%s:*", prefix, kinds[k].name, brand);
        keys = scan_keys(c, key);
        if (json_array_size(keys) == 0)
            problem(p, "no %s key", key);
        json_array_foreach(keys, i, kv)
        {
            const char *name = json_string_value(kv);
            long long ttl = rnum(c, -9, "TTL %s", name);
            const char *stamp = strrchr(name, ':') + 1;
            json_t *h = hgetall(c, name), *v;
            const char *field;

            if (ttl <= 0 || ttl > kinds[k].ttl)
                problem(p, "%s has TTL %lld, expected (0, %lld]", name, ttl,
                        kinds[k].ttl);
            if (strlen(stamp) != (k == 0 ? 12u : 10u))
                problem(p, "%s: the stamp is not %s", name,
                        k == 0 ? "YYYYMMDDHHMM" : "YYYYMMDDHH");
            json_object_foreach(h, field, v)
            {
                const char *s = json_string_value(v);

                if (strcmp(field, "sentiment_sum") == 0) {
                    ssum += strtod(s, NULL);
                } else {
                    json_t *o = json_object_get(sum, field);

                    json_object_set_new(
                        sum, field,
                        json_integer((o ? json_integer_value(o) : 0) +
                                     strtoll(s, NULL, 10)));
                }
            }
            json_decref(h);
        }
        /* Back to strings, as HGETALL gives them. */
        {
            json_t *as_str = json_object(), *v;
            const char *field;
            char num[64];

            json_object_foreach(sum, field, v)
            {
                snprintf(num, sizeof(num), "%lld",
                         (long long)json_integer_value(v));
                json_object_set_new(as_str, field, json_string(num));
            }
            snprintf(num, sizeof(num), "%.6f", ssum);
            json_object_set_new(as_str, "sentiment_sum", json_string(num));
            snprintf(what, sizeof(what), "the sum of %s", key);
            check_counter_hash(e, brand, what, as_str, p);
            json_decref(as_str);
        }
        json_decref(sum);
        json_decref(keys);
    }
}

static bool is_iso_ms(const char *s)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";

    if (!s || strlen(s) != sizeof(pat) - 1)
        return false;
    for (size_t i = 0; pat[i]; i++)
        if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
            return false;
    return true;
}

static bool is_digits(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The text as a person reads it: the fixture's, with &amp; decoded. */
static void readable(const char *in, char *out, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; in[i] && o + 1 < n; i++) {
        if (strncmp(in + i, "&amp;", 5) == 0) {
            out[o++] = '&';
            i += 4;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

/* Every stream entry has the fields of docs/redis-schema.md, with the
 * values the decision and the post give. */
static void check_alert_fields(const struct expect *e, redisContext *c,
                               const char *prefix, const char *instance,
                               long long t0, struct problems *p)
{
    static const char *const fields[] = {
        "schema",     "kind",        "rule",     "priority",  "brand",
        "source",     "post_id",     "author",   "followers", "url",
        "text",       "sentiment",   "tone",     "terms",     "message",
        "created_at", "detected_at", "instance", NULL,
    };
    json_t *stream = read_stream(c, prefix), *x;
    long long t1 = wall_ms();
    size_t i;

    json_array_foreach(stream, i, x)
    {
        const json_t *f = json_object_get(x, "f");
        const char *sid = jstr(x, "id");
        char key[256], text[1024];
        const json_t *want;
        const char *s;
        json_error_t jerr;
        json_t *terms;

        snprintf(key, sizeof(key), "%s %s", jstr(f, "rule"),
                 jstr(f, "post_id"));
        want = json_object_get(e->alerts, key);
        if (!want)
            continue; /* told by check_alerts_once */
        if (!jstr(f, "schema") || strcmp(jstr(f, "schema"), "1") != 0)
            problem(p, "entry %s: schema is not 1", sid);
        if (!is_iso_ms(jstr(f, "detected_at")))
            problem(p, "entry %s: detected_at '%s' is not ISO 8601 with ms",
                    sid, jstr(f, "detected_at"));
        else {
            /* Within the run, by the wall clock (seconds are enough). */
            struct tm tm = { 0 };
            const char *d = jstr(f, "detected_at");
            long long ms;

            strptime(d, "%Y-%m-%dT%H:%M:%S", &tm);
            ms = (long long)timegm(&tm) * 1000 + atoi(d + 20);
            if (ms < t0 - 2000 || ms > t1 + 2000)
                problem(p, "entry %s: detected_at %s is not within the run",
                        sid, d);
        }
        if (!jstr(f, "instance") || strcmp(jstr(f, "instance"), instance))
            problem(p, "entry %s: instance is '%s', expected '%s'", sid,
                    jstr(f, "instance"), instance);
        for (const char *const *k =
                 (const char *const[]){ "kind", "rule", "priority", "brand",
                                        "source", "post_id", NULL };
             *k; k++) {
            s = jstr(f, *k);
            if (!s || strcmp(s, jstr(want, *k)) != 0)
                problem(p, "entry %s (%s): %s is '%s', expected '%s'", sid, key,
                        *k, s ? s : "(missing)", jstr(want, *k));
        }
        if (strcmp(jstr(want, "kind"), "escalation") == 0) {
            json_t *samples;

            if (!is_digits(jstr(f, "count")) ||
                atoll(jstr(f, "count")) < ESC_COUNT)
                problem(p, "escalation %s: count is '%s', expected >= %d", sid,
                        jstr(f, "count"), ESC_COUNT);
            if (!jstr(f, "baseline"))
                problem(p, "escalation %s: no baseline", sid);
            samples = jstr(f, "samples") ? json_loads(jstr(f, "samples"),
                                                      JSON_DECODE_ANY, &jerr)
                                         : NULL;
            if (!json_is_array(samples) || json_array_size(samples) == 0 ||
                json_array_size(samples) > 5)
                problem(p,
                        "escalation %s: samples '%s' is not a JSON array "
                        "of 1 to 5 post ids",
                        sid, jstr(f, "samples"));
            else if (!json_equal(json_array_get(samples, 0),
                                 json_object_get(want, "post_id")))
                problem(p,
                        "escalation %s: samples %s do not start with the "
                        "post that fired it",
                        sid, jstr(f, "samples"));
            json_decref(samples);
            if (!jstr(f, "message") || !jstr(f, "message")[0])
                problem(p, "escalation %s: no message", sid);
            continue;
        }
        for (const char *const *k = fields; *k; k++)
            if (!json_object_get(f, *k))
                problem(p,
                        "alert entries lack the field '%s' "
                        "(docs/redis-schema.md, Alerts)",
                        *k);
        for (const char *const *k =
                 (const char *const[]){ "author", "tone", "message",
                                        "created_at", NULL };
             *k; k++) {
            s = jstr(f, *k);
            if (s && strcmp(s, jstr(want, *k)) != 0)
                problem(p, "entry %s (%s): %s is '%s', expected '%s'", sid, key,
                        *k, s, jstr(want, *k));
        }
        s = jstr(f, "followers");
        if (s) {
            const json_t *fw = json_object_get(want, "followers");
            char num[32] = "";

            if (json_is_integer(fw))
                snprintf(num, sizeof(num), "%lld",
                         (long long)json_integer_value(fw));
            if (strcmp(s, num) != 0)
                problem(p, "entry %s: followers is '%s', expected '%s'", sid, s,
                        num);
        }
        s = jstr(f, "sentiment");
        if (s) {
            const char *dot = strchr(s, '.');
            double v = strtod(s, NULL);

            if (!dot || strlen(dot + 1) != 4)
                problem(p,
                        "entry %s: sentiment '%s' does not have 4 "
                        "decimals",
                        sid, s);
            if (v < -1 || v > 1 ||
                fabs(v - json_real_value(json_object_get(want, "sentiment"))) >
                    0.00006)
                problem(p, "entry %s: sentiment is %s, expected %.4f", sid, s,
                        json_real_value(json_object_get(want, "sentiment")));
        }
        s = jstr(f, "terms");
        if (s) {
            terms = json_loads(s, JSON_DECODE_ANY, &jerr);
            if (!json_is_array(terms))
                problem(p, "entry %s: terms '%s' is not a JSON array", sid, s);
            else if (!json_equal(terms, json_object_get(want, "terms")))
                problem(p, "entry %s: terms are %s, not the decision's", sid,
                        s);
            json_decref(terms);
        }
        s = jstr(f, "url");
        if (s) {
            char tail[128];

            snprintf(tail, sizeof(tail), "/status/%s", jstr(f, "post_id"));
            if (jstr(want, "author")[0] ? strstr(s, tail) == NULL : s[0])
                problem(p, "entry %s: url '%s' is not the post's link", sid, s);
        }
        s = jstr(f, "text");
        if (s) {
            readable(jstr(want, "text"), text, sizeof(text));
            if (strcmp(s, text) != 0 || strchr(s, '\n'))
                problem(p, "entry %s: text is '%s', expected '%s'", sid, s,
                        text);
        }
    }
    json_decref(stream);
}

/* The messages that arrived on a SUBSCRIBE connection: each is the JSON
 * of a stream entry, with numbers and arrays as docs/redis-schema.md
 * says. */
static void check_published(redisContext *sub, redisContext *c,
                            const char *prefix, struct problems *p)
{
    json_t *stream = read_stream(c, prefix), *by_key = json_object(), *x;
    size_t i, want_acme = 0, want_none = 0, got_acme = 0, got_none = 0;
    char chan_acme[128], chan_none[128];
    struct timeval tv = { 0, 500000 };
    void *reply;

    snprintf(chan_acme, sizeof(chan_acme), "%salerts:acme", prefix);
    snprintf(chan_none, sizeof(chan_none), "%salerts:_", prefix);
    json_array_foreach(stream, i, x)
    {
        const json_t *f = json_object_get(x, "f");
        char key[256];

        snprintf(key, sizeof(key), "%s %s", jstr(f, "rule"),
                 jstr(f, "post_id"));
        json_object_set(by_key, key, (json_t *)f);
        if (strcmp(js(f, "brand"), "acme") == 0)
            want_acme++;
        else if (!js(f, "brand")[0])
            want_none++;
    }
    redisSetTimeout(sub, tv);
    while (redisGetReply(sub, &reply) == REDIS_OK) {
        redisReply *r = reply;
        json_error_t jerr;
        json_t *j;
        const json_t *f;
        char key[256];

        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
            strcmp(r->element[0]->str, "message") != 0) {
            freeReplyObject(r);
            continue;
        }
        if (strcmp(r->element[1]->str, chan_acme) == 0)
            got_acme++;
        else if (strcmp(r->element[1]->str, chan_none) == 0)
            got_none++;
        j = json_loads(r->element[2]->str, 0, &jerr);
        if (!json_is_object(j)) {
            problem(p, "a message on %s is not a JSON object: %.200s",
                    r->element[1]->str, r->element[2]->str);
            freeReplyObject(r);
            json_decref(j);
            continue;
        }
        snprintf(key, sizeof(key), "%s %s", jstr(j, "rule"),
                 jstr(j, "post_id"));
        f = json_object_get(by_key, key);
        if (!f) {
            problem(p, "published alert '%s' is not in the stream", key);
        } else {
            const char *k;
            json_t *v;

            json_object_foreach((json_t *)f, k, v)
            {
                const json_t *pv = json_object_get(j, k);
                const char *sv = json_string_value(v);

                if (!pv) {
                    problem(p, "published JSON lacks '%s'", k);
                } else if (strcmp(k, "followers") == 0 ||
                           strcmp(k, "sentiment") == 0 ||
                           strcmp(k, "count") == 0 ||
                           strcmp(k, "baseline") == 0) {
                    bool unknown = !sv[0] && strcmp(k, "followers") == 0;
                    bool ok = unknown ? json_is_null(pv)
                                      : json_is_number(pv) &&
                                            fabs(json_number_value(pv) -
                                                 strtod(sv, NULL)) < 0.00006;

                    if (!ok)
                        problem(p,
                                "published %s of '%s' is not the number "
                                "%s",
                                k, key, sv);
                } else if (strcmp(k, "terms") == 0 ||
                           strcmp(k, "samples") == 0) {
                    json_t *arr = json_loads(sv, JSON_DECODE_ANY, &jerr);

                    if (!json_is_array(pv) || !json_equal(pv, arr))
                        problem(p,
                                "published %s of '%s' is not the array "
                                "%s",
                                k, key, sv);
                    json_decref(arr);
                } else if (strcmp(k, "schema") == 0) {
                    if (!(json_is_integer(pv) && json_integer_value(pv) == 1) &&
                        !(json_is_string(pv) &&
                          strcmp(json_string_value(pv), "1") == 0))
                        problem(p, "published schema is not 1");
                } else if (!json_is_string(pv) ||
                           strcmp(json_string_value(pv), sv) != 0) {
                    problem(p,
                            "published %s of '%s' differs from the "
                            "stream's '%s'",
                            k, key, sv);
                }
            }
        }
        json_decref(j);
        freeReplyObject(r);
    }
    if (got_acme != want_acme)
        problem(p,
                "%zu messages on %s, expected %zu (the stream's acme "
                "alerts)",
                got_acme, chan_acme, want_acme);
    if (got_none != want_none)
        problem(p,
                "%zu messages on %s, expected %zu (alerts of rules "
                "without brand)",
                got_none, chan_none, want_none);
    json_decref(by_key);
    json_decref(stream);
}

/* authors, uniq, sov, seen, throttle and escalation keys. */
static void check_other_keys(const struct expect *e, redisContext *c,
                             const char *prefix, const char *source,
                             struct problems *p)
{
    char pat[256];
    json_t *keys, *kv, *got, *v;
    const char *k;
    size_t i;

    /* Pauthors:acme:YYYYMMDD: author -> mentions, summed over days. */
    snprintf(pat, sizeof(pat), "%sauthors:acme:*", prefix);
    keys = scan_keys(c, pat);
    got = json_object();
    if (json_array_size(keys) == 0)
        problem(p, "no %s key", pat);
    json_array_foreach(keys, i, kv)
    {
        const char *name = json_string_value(kv);
        redisReply *r = rcmd(c, "ZRANGE %s 0 -1 WITHSCORES", name);
        long long ttl = rnum(c, -9, "TTL %s", name);

        if (ttl <= 0 || ttl > TTL_DAY)
            problem(p, "%s has TTL %lld, expected (0, %lld]", name, ttl,
                    TTL_DAY);
        if (strlen(strrchr(name, ':') + 1) != 8)
            problem(p, "%s: the stamp is not YYYYMMDD", name);
        for (size_t j = 0; j + 1 < r->elements; j += 2) {
            json_t *o = json_object_get(got, r->element[j]->str);

            json_object_set_new(got, r->element[j]->str,
                                json_integer((o ? json_integer_value(o) : 0) +
                                             atoll(r->element[j + 1]->str)));
        }
        freeReplyObject(r);
    }
    if (!json_equal(got, json_object_get(e->authors, "acme"))) {
        char *a = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *b = json_dumps(json_object_get(e->authors, "acme"),
                             JSON_COMPACT | JSON_SORT_KEYS);

        problem(p, "authors of acme are %s, expected %s", a, b);
        free(a);
        free(b);
    }
    json_decref(got);
    json_decref(keys);

    /* Puniq:acme:YYYYMMDD: distinct authors. */
    snprintf(pat, sizeof(pat), "%suniq:acme:*", prefix);
    keys = scan_keys(c, pat);
    if (json_array_size(keys) == 0) {
        problem(p, "no %s key", pat);
    } else {
        long long n = 0;

        json_array_foreach(keys, i, kv)
        {
            const char *name = json_string_value(kv);
            long long ttl = rnum(c, -9, "TTL %s", name);

            if (ttl <= 0 || ttl > TTL_DAY)
                problem(p, "%s has TTL %lld, expected (0, %lld]", name, ttl,
                        TTL_DAY);
            n += rnum(c, -1, "PFCOUNT %s", name);
        }
        /* HyperLogLog counts small sets exactly. */
        if ((size_t)n != json_object_size(json_object_get(e->authors, "acme")))
            problem(p, "PFCOUNT of %s is %lld, expected %zu", pat, n,
                    json_object_size(json_object_get(e->authors, "acme")));
    }
    json_decref(keys);

    /* Psov:{minute,hour,day}:STAMP: brand -> mentions. */
    for (int s = 0; s < 3; s++) {
        static const char *const names[] = { "minute", "hour", "day" };
        static const long long ttls[] = { TTL_MINUTE, TTL_HOUR, TTL_SOV_DAY };
        long long acme = 0, globex = 0;

        snprintf(pat, sizeof(pat), "%ssov:%s:*", prefix, names[s]);
        keys = scan_keys(c, pat);
        if (json_array_size(keys) == 0)
            problem(p, "no %s key", pat);
        json_array_foreach(keys, i, kv)
        {
            const char *name = json_string_value(kv);
            long long ttl = rnum(c, -9, "TTL %s", name);

            if (ttl <= 0 || ttl > ttls[s])
                problem(p, "%s has TTL %lld, expected (0, %lld]", name, ttl,
                        ttls[s]);
            acme += rnum(c, 0, "ZSCORE %s acme", name);
            globex += rnum(c, 0, "ZSCORE %s globex", name);
        }
        if (acme != counter(e, "acme", "mentions") ||
            globex != counter(e, "globex", "mentions"))
            problem(p, "%s: acme %lld, globex %lld; expected %lld, %lld", pat,
                    acme, globex, counter(e, "acme", "mentions"),
                    counter(e, "globex", "mentions"));
        json_decref(keys);
    }

    /* Pseen:SOURCE:POST_ID: for each post written, and only those. */
    json_object_foreach(e->posts, k, v)
    {
        char key[256];
        long long ttl;
        bool want = json_object_get(e->writes, k) != NULL;

        snprintf(key, sizeof(key), "%sseen:%s:%s", prefix, source, k);
        ttl = rnum(c, -9, "TTL %s", key);
        if (want && (ttl <= 0 || ttl > TTL_SEEN))
            problem(p, "%s: TTL %lld, expected (0, %lld]", key, ttl, TTL_SEEN);
        if (!want && ttl != -2)
            problem(p, "%s exists, yet the post has nothing to write", key);
    }

    /* Pthrottle:RULE:KEY: one per closed throttle, with its window. */
    snprintf(pat, sizeof(pat), "%sthrottle:*", prefix);
    keys = scan_keys(c, pat);
    if (json_array_size(keys) != json_object_size(e->throttles))
        problem(p, "%zu throttle keys, expected %zu", json_array_size(keys),
                json_object_size(e->throttles));
    json_object_foreach(e->throttles, k, v)
    {
        char key[256];
        long long pttl;

        snprintf(key, sizeof(key), "%sthrottle:%s", prefix, k);
        pttl = rnum(c, -9, "PTTL %s", key);
        if (pttl <= 0 || pttl > THROTTLE_MS)
            problem(p, "%s: PTTL %lld, expected (0, %lld]", key, pttl,
                    THROTTLE_MS);
    }
    json_decref(keys);

    /* Pesc:ID: per-minute counts; Pesc:ID:cooldown after it fired. */
    {
        char key[256];
        json_t *h;
        long long sum = 0, pttl;

        snprintf(key, sizeof(key), "%sesc:%s", prefix, ESC_ID);
        h = hgetall(c, key);
        json_object_foreach(h, k, v)
        {
            if (!is_digits(k))
                problem(p, "%s: field '%s' is not minutes since the epoch", key,
                        k);
            else if (llabs(atoll(k) - wall_ms() / 60000) > 2)
                problem(p, "%s: minute %s is not now", key, k);
            sum += atoll(json_string_value(v));
        }
        if ((size_t)sum != e->esc_posts)
            problem(p, "%s counts %lld matches, expected %zu", key, sum,
                    e->esc_posts);
        pttl = rnum(c, -9, "PTTL %s", key);
        if (pttl <= 0 || pttl > (ESC_WINDOW_MIN + 1) * 60000LL)
            problem(p, "%s: PTTL %lld, expected (0, %lld]", key, pttl,
                    (ESC_WINDOW_MIN + 1) * 60000LL);
        json_decref(h);
        strcat(key, ":cooldown");
        pttl = rnum(c, -9, "PTTL %s", key);
        if (pttl <= 0 || pttl > ESC_COOLDOWN)
            problem(p, "%s: PTTL %lld, expected (0, %lld]", key, pttl,
                    ESC_COOLDOWN);
    }
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    (void)state;
    if (!it_find_tool(BM_REDIS_SERVER, "redis-server", redis_server,
                      sizeof(redis_server)) ||
        !it_find_tool(BM_REDIS_CLI, "redis-cli", redis_cli,
                      sizeof(redis_cli))) {
        fprintf(stderr, "redis-server and redis-cli are needed (Debian's "
                        "redis-server package; scripts/deps.sh installs "
                        "it)\n");
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int setup(void **state)
{
    struct ctx *t = calloc(1, sizeof(*t));

    if (!t)
        return -1;
    if (it_mkdtemp(t->tmp, sizeof(t->tmp), "redis") != 0) {
        free(t);
        return -1;
    }
    t->redis.port = it_free_port();
    snprintf(t->redis.dir, sizeof(t->redis.dir), "%s/redis", t->tmp);
    snprintf(t->redis.log, sizeof(t->redis.log), "%s/redis.log", t->tmp);
    if (mkdir(t->redis.dir, 0700) != 0) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *t = *state;
    const char *keep = getenv("BM_IT_KEEP");

    for (int i = 0; i < 2; i++) {
        it_kill(t->d[i].pid);
        if (!t->passed && t->d[i].log[0])
            print_tail("brandmond log", t->d[i].log);
    }
    if (t->mock > 0) {
        it_stop(t->mock, 5000);
        if (!t->passed) {
            char mlog[PATH_MAX];

            snprintf(mlog, sizeof(mlog), "%s/requests.jsonl", t->tmp);
            print_tail("mockstream request log", mlog);
        }
    }
    redis_stop(&t->redis);
    expect_release(&t->e);
    if (!t->passed)
        print_tail("redis-server log", t->redis.log);
    if (!t->passed && keep && strcmp(keep, "1") == 0)
        fprintf(stderr, "kept %s\n", t->tmp);
    else
        it_remove_tree(t->tmp);
    free(t);
    return 0;
}

/* Waits until the daemon wrote every post @e expects, then stops it
 * (exit 0). */
static void run_to_end(struct ctx *t, int i, const struct expect *e,
                       const char *prefix, long long ms)
{
    char key[256];
    long long got;

    snprintf(key, sizeof(key), "%stotal:acme", prefix);
    got = wait_hget(t->redis.port, key, "mentions",
                    counter(e, "acme", "mentions"), ms);
    if (got > counter(e, "acme", "mentions"))
        fail_msg("%s mentions is %lld, expected %lld: posts were counted "
                 "twice",
                 key, got, counter(e, "acme", "mentions"));
    if (got != counter(e, "acme", "mentions"))
        fail_msg("%s mentions reached %lld, expected %lld within %lld ms", key,
                 got, counter(e, "acme", "mentions"), ms);
    /* Give a duplicate the chance to show, then stop. */
    it_sleep_ms(300);
    assert_int_equal(daemon_stop(t, i), 0);
}

/* ---- 1. the schema ---- */

/*
 * The fixture played once (rate 0), then every key family of
 * docs/redis-schema.md checked against the offline decisions: the stream's
 * entries and each field's value, the total/minute/hour counters (minute
 * and hour summed over their buckets) and TTLs, authors, uniq, share of
 * voice, seen markers, throttle keys, the escalation's keys, and the JSON
 * published on Palerts:acme and Palerts:_ (subscribed before the daemon
 * starts). Pcursor:SOURCE is not checked: a replay source has no cursor.
 * All findings are reported together.
 *
 * KNOWN FAILURE (daemon bug, reported): stream entries and published
 * alerts have no `text` field; redis_payload.c's put_alert() never adds
 * it, although the schema lists it.
 */
static void test_schema(void **state)
{
    struct ctx *t = *state;
    struct cfg cfg = { .instance = "it-schema",
                       .source = SOURCE,
                       .file = POSTS };
    struct problems p = { .len = 0 };
    struct expect *e = &t->e;
    redisContext *sub, *c;
    redisReply *r;
    long long t0 = wall_ms();

    expect_build(t, POSTS, SOURCE, e);
    /* The fixture exercises what it should. */
    assert_true(counter(e, "acme", "throttled") > 0);
    assert_true(e->esc_posts >= ESC_COUNT);
    assert_true(counter(e, "globex", "mentions") > 0);
    assert_true(e->nwrites < json_array_size(e->decisions));

    redis_start(&t->redis);
    sub = rconnect(t->redis.port);
    r = rcmd(sub, "SUBSCRIBE %salerts:acme %salerts:_", PREFIX, PREFIX);
    freeReplyObject(r);
    assert_int_equal(redisGetReply(sub, (void **)&r), REDIS_OK);
    freeReplyObject(r);

    write_config(t, 0, &cfg);
    daemon_start(t, 0);
    run_to_end(t, 0, e, PREFIX, 10000);

    c = rconnect(t->redis.port);
    check_alerts_once(e, c, PREFIX, &p);
    check_alert_fields(e, c, PREFIX, cfg.instance, t0, &p);
    check_counters(e, c, PREFIX, "acme", true, &p);
    check_counters(e, c, PREFIX, "globex", true, &p);
    check_other_keys(e, c, PREFIX, SOURCE, &p);
    check_published(sub, c, PREFIX, &p);
    /* The stream is an actual stream, trimmed with MAXLEN ~. */
    assert_int_equal(rnum(c, -1, "XLEN %salerts", PREFIX), e->nalerts);
    redisFree(c);
    redisFree(sub);
    problems_check(&p, "docs/redis-schema.md");
    t->passed = true;
}

/* ---- 1b. the heartbeat ---- */

/*
 * KNOWN FAILURE (daemon bug, reported): the heartbeat written by redis.c
 * has `written` and `lost` where docs/redis-schema.md lists `posts`,
 * `alerts` and `sources`.
 *
 * Pinstance:INSTANCE, as docs/redis-schema.md describes it: a running
 * daemon has one (refreshed every 10 s, TTL 60 s) with the documented
 * fields. The key is polled for up to 12 s; that it appears within 3 s of
 * the start is checked too, since "a key that vanished is a daemon that
 * stopped" must not call a fresh daemon stopped for its first 10 s.
 */
static void test_heartbeat(void **state)
{
    struct ctx *t = *state;
    struct cfg cfg = { .instance = "it-heartbeat",
                       .source = SOURCE,
                       .file = POSTS };
    struct problems p = { .len = 0 };
    char key[128], out[PATH_MAX + 16], hash[128] = "";
    const char *argv[] = { BM_BINARY,    "--rules", PACK, "--data",
                           BM_RULES_DIR, "--check", NULL };
    long long start, seen_after = -1, ttl;
    json_t *h, *sources;
    json_error_t jerr;
    redisContext *c;
    char *check, *at;

    snprintf(out, sizeof(out), "%s/check.out", t->tmp);
    assert_int_equal(run_tool(argv, out, NULL), 0);
    check = it_read_file(out, NULL);
    assert_non_null(check);
    at = strstr(check, "hash ");
    assert_non_null(at);
    sscanf(at + 5, "%127[0-9a-zA-Z]", hash);
    free(check);
    assert_true(hash[0] != '\0');

    redis_start(&t->redis);
    write_config(t, 0, &cfg);
    snprintf(key, sizeof(key), "%sinstance:%s", PREFIX, cfg.instance);
    c = rconnect(t->redis.port);
    start = it_now_ms();
    daemon_start(t, 0);
    while (it_now_ms() - start < 12500) {
        if (rnum(c, 0, "EXISTS %s", key) == 1) {
            seen_after = it_now_ms() - start;
            break;
        }
        it_sleep_ms(100);
    }
    if (seen_after < 0)
        fail_msg("no %s within 12.5 s of the daemon's start", key);
    ttl = rnum(c, -9, "TTL %s", key);
    if (ttl <= 0 || ttl > TTL_HEARTBEAT)
        problem(&p, "%s: TTL %lld, expected (0, %lld]", key, ttl,
                TTL_HEARTBEAT);
    h = hgetall(c, key);
    for (const char *const *f =
             (const char *const[]){ "schema", "version", "rules_hash",
                                    "started_at", "updated_at", "posts",
                                    "decided", "alerts", "queue", "spool",
                                    "sources", NULL };
         *f; f++)
        if (!jstr(h, *f))
            problem(&p, "%s lacks the field '%s'", key, *f);
    if (jstr(h, "schema") && strcmp(jstr(h, "schema"), "1") != 0)
        problem(&p, "%s: schema is %s", key, jstr(h, "schema"));
    if (jstr(h, "version") && strcmp(jstr(h, "version"), BM_VERSION) != 0)
        problem(&p, "%s: version is %s, expected %s", key, jstr(h, "version"),
                BM_VERSION);
    if (jstr(h, "rules_hash") && strcmp(jstr(h, "rules_hash"), hash) != 0)
        problem(&p, "%s: rules_hash is %s, --check says %s", key,
                jstr(h, "rules_hash"), hash);
    for (const char *const *f =
             (const char *const[]){ "started_at", "updated_at", NULL };
         *f; f++) {
        const char *s = jstr(h, *f);

        if (s && (strlen(s) < 20 || s[4] != '-' || s[10] != 'T'))
            problem(&p, "%s: %s '%s' is not ISO 8601", key, *f, s);
    }
    for (const char *const *f =
             (const char *const[]){ "posts", "decided", "alerts", "queue",
                                    "spool", NULL };
         *f; f++)
        if (jstr(h, *f) && !is_digits(jstr(h, *f)))
            problem(&p, "%s: %s '%s' is not a count", key, *f, jstr(h, *f));
    sources = jstr(h, "sources")
                  ? json_loads(jstr(h, "sources"), JSON_DECODE_ANY, &jerr)
                  : NULL;
    if (jstr(h, "sources") &&
        (!json_is_array(sources) || json_array_size(sources) != 1 ||
         !jstr(json_array_get(sources, 0), "name") ||
         strcmp(jstr(json_array_get(sources, 0), "name"), SOURCE) != 0 ||
         !jstr(json_array_get(sources, 0), "type") ||
         !jstr(json_array_get(sources, 0), "state")))
        problem(&p,
                "%s: sources '%s' is not [{name, type, state, posts, "
                "reconnects}] of the one source",
                key, jstr(h, "sources"));
    json_decref(sources);
    json_decref(h);
    if (seen_after > 3000)
        problem(&p,
                "%s appeared %lld ms after the start: a running daemon "
                "has no heartbeat for its first 10 s",
                key, seen_after);
    redisFree(c);
    assert_int_equal(daemon_stop(t, 0), 0);
    problems_check(&p, "heartbeat (docs/redis-schema.md)");
    t->passed = true;
}

/* ---- 2. pipelining: what the daemon's connection sends ---- */

static void test_pipelining(void **state)
{
    struct ctx *t = *state;
    struct cfg cfg = { .instance = "it-pipe", .source = SOURCE, .file = POSTS };
    struct problems p = { .len = 0 };
    struct expect *e = &t->e;
    redisContext *mon, *c, *poll;
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    char own[64];
    redisReply *r;
    void *reply;
    json_t *clients = json_object(), *cmds = json_object();
    size_t evalsha = 0, evalsha_posts = 0, script_load = 0, lua_xadd = 0,
           lua_hincrby = 0;
    size_t cursor_reads = 0;
    struct timeval tv = { 0, 500000 };
    char *info;

    expect_build(t, POSTS, SOURCE, e);
    redis_start(&t->redis);
    mon = rconnect(t->redis.port);
    r = rcmd(mon, "MONITOR");
    freeReplyObject(r);
    /* One connection of ours polls; MONITOR shows it as "own". */
    poll = rconnect(t->redis.port);
    assert_int_equal(getsockname(poll->fd, (struct sockaddr *)&sa, &salen), 0);
    snprintf(own, sizeof(own), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    write_config(t, 0, &cfg);
    daemon_start(t, 0);
    {
        long long deadline = it_now_ms() + 10000, got = 0;

        while (it_now_ms() < deadline &&
               (got = rnum(poll, 0, "HGET %stotal:acme mentions", PREFIX)) <
                   counter(e, "acme", "mentions"))
            it_sleep_ms(50);
        assert_int_equal(got, counter(e, "acme", "mentions"));
    }
    it_sleep_ms(300);
    assert_int_equal(daemon_stop(t, 0), 0);

    /* Every line MONITOR showed: "TS [DB ADDR] "CMD" ...". Lines of the
     * script are "[0 lua]"; every other address but ours is the
     * daemon's. */
    redisSetTimeout(mon, tv);
    while (redisGetReply(mon, &reply) == REDIS_OK) {
        char addr[64] = "", cmd[64] = "", arg1[256] = "";
        const char *s;

        r = reply;
        s = r->type == REDIS_REPLY_STATUS ? r->str : "";
        if (sscanf(s, "%*s [%*s %63[^]]] \"%63[^\"]\" \"%255[^\"]\"", addr, cmd,
                   arg1) < 2) {
            freeReplyObject(r);
            continue;
        }
        for (char *u = cmd; *u; u++)
            *u = (char)(*u >= 'a' && *u <= 'z' ? *u - 32 : *u);
        if (strcmp(addr, "lua") == 0) {
            lua_xadd += strcmp(cmd, "XADD") == 0;
            lua_hincrby += strcmp(cmd, "HINCRBY") == 0;
        } else if (strcmp(addr, own) != 0 && strcmp(cmd, "HGETALL") == 0 &&
                   strncmp(arg1, PREFIX "cursor:", strlen(PREFIX "cursor:")) ==
                       0) {
            /* At start, each source's cursor is read over a short
             * connection of its own, before the writing one is up. */
            cursor_reads++;
        } else if (strcmp(addr, own) != 0) {
            json_object_set_new(clients, addr, json_true());
            json_object_set_new(cmds, cmd, json_true());
            if (strcmp(cmd, "EVALSHA") == 0) {
                /* One call carries one post or, under load, several:
                 * each payload starts {"p": (quoted by MONITOR). */
                for (const char *q = strstr(s, "\"{\\\"p\\\":"); q;
                     q = strstr(q + 1, "\"{\\\"p\\\":"))
                    evalsha_posts++;
                evalsha++;
            } else if (strcmp(cmd, "SCRIPT") == 0) {
                script_load++;
            } else if (strcmp(cmd, "HSET") == 0 || strcmp(cmd, "EXPIRE") == 0) {
                if (strncmp(arg1, PREFIX "instance:",
                            strlen(PREFIX "instance:")) != 0 &&
                    strncmp(arg1, PREFIX "cursor:", strlen(PREFIX "cursor:")) !=
                        0)
                    problem(&p,
                            "the daemon sent %s %s (only the heartbeat "
                            "may be written outside the script)",
                            cmd, arg1);
            } else if (strcmp(cmd, "AUTH") != 0 && strcmp(cmd, "SELECT") != 0 &&
                       strcmp(cmd, "PING") != 0) {
                problem(&p, "the daemon sent %s outside the script", cmd);
            }
        }
        freeReplyObject(r);
    }
    redisFree(mon);
    redisFree(poll);
    if (json_object_size(clients) != 1)
        problem(&p, "the daemon wrote over %zu connections, expected one",
                json_object_size(clients));
    if (cursor_reads != 1)
        problem(&p,
                "the daemon read %zu cursors at start, expected one per "
                "source (1)",
                cursor_reads);
    if (evalsha_posts != e->nwrites)
        problem(&p,
                "MONITOR saw %zu posts in EVALSHA calls, expected each post "
                "with something to write once: %zu",
                evalsha_posts, e->nwrites);
    if (evalsha == 0 || evalsha > e->nwrites)
        problem(&p, "MONITOR saw %zu EVALSHA for %zu posts", evalsha,
                e->nwrites);
    if (script_load != 1)
        problem(&p, "MONITOR saw %zu SCRIPT LOAD, expected 1", script_load);
    if (lua_xadd != e->nalerts)
        problem(&p, "the script ran XADD %zu times, expected %zu alerts",
                lua_xadd, e->nalerts);
    if (lua_hincrby == 0)
        problem(&p, "the script ran no HINCRBY");

    /* The server's own count agrees. */
    c = rconnect(t->redis.port);
    r = rcmd(c, "INFO commandstats");
    info = strdup(r->str);
    freeReplyObject(r);
    assert_non_null(info);
    {
        const char *at = strstr(info, "cmdstat_evalsha:calls=");
        const char *xa = strstr(info, "cmdstat_xadd:calls=");
        const char *pb = strstr(info, "cmdstat_publish:calls=");

        if (!at || (size_t)atoll(at + 22) != evalsha)
            problem(&p, "INFO: evalsha calls %s, MONITOR saw %zu",
                    at ? at + 22 : "none", evalsha);
        if (!xa || (size_t)atoll(xa + 19) != e->nalerts)
            problem(&p, "INFO: xadd calls %lld, expected %zu",
                    xa ? atoll(xa + 19) : 0, e->nalerts);
        if (!pb || (size_t)atoll(pb + 22) != e->nalerts)
            problem(&p, "INFO: publish calls %lld, expected %zu",
                    pb ? atoll(pb + 22) : 0, e->nalerts);
        if (strstr(info, "cmdstat_eval:"))
            problem(&p, "INFO: the script was sent whole (EVAL), not by "
                        "its SHA");
    }
    free(info);
    redisFree(c);
    json_decref(clients);
    json_decref(cmds);
    problems_check(&p, "pipelining");
    t->passed = true;
}

/* ---- 3 and 4. Redis killed, Redis frozen ---- */

static void check_exactly_once(struct ctx *t, const struct expect *e,
                               const char *what)
{
    struct problems p = { .len = 0 };
    redisContext *c = rconnect(t->redis.port);
    char pat[128];
    json_t *seen;

    check_alerts_once(e, c, PREFIX, &p);
    check_counters(e, c, PREFIX, "acme", false, &p);
    check_counters(e, c, PREFIX, "globex", false, &p);
    snprintf(pat, sizeof(pat), "%sseen:*", PREFIX);
    seen = scan_keys(c, pat);
    if (json_array_size(seen) != e->nwrites)
        problem(&p, "%zu seen markers, expected %zu", json_array_size(seen),
                e->nwrites);
    json_decref(seen);
    redisFree(c);
    problems_check(&p, what);
}

/* @passes copies of the fixture (24 posts each) at 100 posts a second;
 * returns 1 s into the stream. */
static void start_stream_run(struct ctx *t, struct expect *e, const char *tag,
                             int passes, const char *cmd_tmo)
{
    char file[PATH_MAX + 32];
    struct cfg cfg = { .instance = "it-outage",
                       .source = SOURCE,
                       .file = file,
                       .rate = 100,
                       .cmd_tmo = cmd_tmo,
                       .conn_tmo = "1s" };
    long long mentions;

    snprintf(file, sizeof(file), "%s/stream.ndjson", t->tmp);
    make_posts(POSTS, file, passes, 0, tag);
    expect_build(t, file, SOURCE, e);
    redis_start(&t->redis);
    write_config(t, 0, &cfg);
    daemon_start(t, 0);
    it_sleep_ms(1000);
    mentions = try_hget(t->redis.port, PREFIX "total:acme", "mentions");
    /* Mid-stream: some written, some still to come. */
    assert_true(mentions > 0);
    assert_true(mentions < counter(e, "acme", "mentions"));
}

/* 408 posts at 100/s; Redis killed 1 s in, restarted from its AOF 1 s
 * later on the same port. */
static void test_redis_killed(void **state)
{
    struct ctx *t = *state;
    struct expect *e = &t->e;
    long long before;

    start_stream_run(t, e, "k", 17, NULL);
    redis_kill9(&t->redis);
    it_sleep_ms(1000);
    redis_start(&t->redis); /* same port, same --dir: reloads the AOF */
    before = try_hget(t->redis.port, PREFIX "total:acme", "mentions");
    assert_true(before > 0); /* what was acknowledged survived */
    run_to_end(t, 0, e, PREFIX, 20000);
    check_exactly_once(t, e, "after SIGKILL and restart of Redis");
    t->passed = true;
}

/*
 * 408 posts at 100/s; Redis frozen (SIGSTOP) 1 s in for 3 s, with
 * command_timeout 1s. Every post must still be written once; and the
 * daemon must notice that its commands got no answer for 1 s
 * (docs/config.md, command_timeout: "the connection is dropped").
 *
 * KNOWN FAILURE (daemon bug, reported): the sink's timeout measures the
 * time since the last reply *or send* (redis.c, pump() sets last_progress
 * on every send), so while posts keep arriving faster than the timeout,
 * a Redis that answers nothing is never dropped; the posts pile into the
 * socket until PIPELINE_MAX (512) are in flight. The exactly-once check
 * passes; the timeout check fails.
 */
static void test_redis_stopped(void **state)
{
    struct ctx *t = *state;
    struct expect *e = &t->e;

    start_stream_run(t, e, "s", 17, "1s");
    assert_int_equal(kill(t->redis.pid, SIGSTOP), 0);
    it_sleep_ms(3000);
    assert_int_equal(kill(t->redis.pid, SIGCONT), 0);
    run_to_end(t, 0, e, PREFIX, 20000);
    check_exactly_once(t, e, "after SIGSTOP/SIGCONT of Redis");
    if (!it_file_has(t->d[0].log, "stopped answering"))
        fail_msg("Redis answered nothing for 3 s with command_timeout 1s, "
                 "and the daemon never dropped the connection (posts kept "
                 "coming, and each send counts as progress)");
    t->passed = true;
}

/*
 * The same freeze when the stream goes quiet during it (144 posts at
 * 100/s, frozen from 1 s to 4 s): the daemon drops the connection, its
 * reconnects hang on the frozen server, and after SIGCONT Redis runs the
 * scripts the dropped connection had sent as well as the daemon's resent
 * ones. The marker keys must make every post count once.
 */
static void test_redis_stopped_quiet(void **state)
{
    struct ctx *t = *state;
    struct expect *e = &t->e;

    start_stream_run(t, e, "q", 6, "1s");
    assert_int_equal(kill(t->redis.pid, SIGSTOP), 0);
    it_sleep_ms(3000);
    assert_int_equal(kill(t->redis.pid, SIGCONT), 0);
    run_to_end(t, 0, e, PREFIX, 20000);
    if (!it_file_has(t->d[0].log, "stopped answering"))
        fail_msg("the daemon never timed out on the frozen Redis");
    check_exactly_once(t, e, "after SIGSTOP/SIGCONT of a quiet stream");
    t->passed = true;
}

/* ---- 5. the spool across a daemon restart ---- */

/* Records in a spool file (spool.h: length, bytes, CRC): -1 when torn. */
static long long spool_records(const char *path)
{
    size_t len, off = 0;
    char *s = it_read_file(path, &len);
    long long n = 0;

    if (!s)
        return -1;
    while (off + 4 <= len) {
        const unsigned char *u = (const unsigned char *)s + off;
        size_t rec = (size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 |
                     (size_t)u[3] << 24;

        if (off + 8 + rec > len) {
            n = -1;
            break;
        }
        off += 8 + rec;
        n++;
    }
    if (n >= 0 && off != len)
        n = -1;
    free(s);
    return n;
}

static void test_spool_restart(void **state)
{
    struct ctx *t = *state;
    char file[PATH_MAX + 32], empty[PATH_MAX + 32], spool[PATH_MAX + 32];
    struct cfg cfg = { .instance = "it-spool",
                       .source = SOURCE,
                       .file = file,
                       .queue_max = 10,
                       .conn_tmo = "1s" };
    struct expect *e = &t->e;
    long long records, got;

    snprintf(file, sizeof(file), "%s/hundred.ndjson", t->tmp);
    snprintf(empty, sizeof(empty), "%s/empty.ndjson", t->tmp);
    snprintf(spool, sizeof(spool), "%s/spool", t->tmp);
    make_posts(POSTS, file, 5, 100, "sp");
    it_write_file(empty, "", 0);
    expect_build(t, file, SOURCE, e);
    assert_true(e->nwrites > 10);

    /* Run 1: no Redis on the port. */
    write_config(t, 0, &cfg);
    daemon_start(t, 0);
    if (!it_wait_file_has(t->d[0].log, "replay finished", 10000))
        fail_msg("the replay did not finish within 10 s");
    it_sleep_ms(200);
    assert_int_equal(daemon_stop(t, 0), 0);
    records = spool_records(spool);
    if (records != (long long)e->nwrites)
        fail_msg("the spool holds %lld records (size %lld), expected %zu: "
                 "one per post with something to write",
                 records, file_size(spool), e->nwrites);

    /* Run 2: Redis is up; nothing new to replay. */
    redis_start(&t->redis);
    cfg.file = empty;
    write_config(t, 1, &cfg);
    daemon_start(t, 1);
    got = wait_hget(t->redis.port, PREFIX "total:acme", "mentions",
                    counter(e, "acme", "mentions"), 10000);
    assert_int_equal(got, counter(e, "acme", "mentions"));
    {
        long long deadline = it_now_ms() + 5000;

        while (file_size(spool) != 0 && it_now_ms() < deadline)
            it_sleep_ms(50);
        if (file_size(spool) != 0)
            fail_msg("the spool still holds %lld bytes once all was written",
                     file_size(spool));
    }
    it_sleep_ms(300);
    assert_int_equal(daemon_stop(t, 1), 0);
    assert_int_equal(file_size(spool), 0);
    check_exactly_once(t, e, "after the spool was replayed");
    t->passed = true;
}

/* ---- 6. a throttle shared by two daemons ---- */

static void test_shared_throttle(void **state)
{
    struct ctx *t = *state;
    struct cfg a = { .instance = "it-a",
                     .source = "src-a",
                     .file = SHARED,
                     .prefix = "shared:" };
    struct cfg b = { .instance = "it-b",
                     .source = "src-b",
                     .file = SHARED,
                     .prefix = "shared:" };
    struct problems p = { .len = 0 };
    struct expect *e = &t->e;
    redisContext *c;
    json_t *stream, *x, *h;
    long long n = 0, esc = 0, got, matches, pttl;
    size_t i;

    expect_build(t, SHARED, "src-a", e);
    matches = counter(e, "acme", "rule:" THROTTLED_RULE);
    assert_int_equal(matches, (long long)json_array_size(e->decisions));
    assert_true(matches >= 2);

    redis_start(&t->redis);
    write_config(t, 0, &a);
    write_config(t, 1, &b);
    daemon_start(t, 0);
    daemon_start(t, 1);
    got = wait_hget(t->redis.port, "shared:total:acme", "mentions", 2 * matches,
                    10000);
    assert_int_equal(got, 2 * matches);
    it_sleep_ms(300);
    assert_int_equal(daemon_stop(t, 0), 0);
    assert_int_equal(daemon_stop(t, 1), 0);

    c = rconnect(t->redis.port);
    stream = read_stream(c, "shared:");
    json_array_foreach(stream, i, x)
    {
        const json_t *f = json_object_get(x, "f");

        if (strcmp(js(f, "rule"), THROTTLED_RULE) == 0 &&
            strcmp(js(f, "author"), "zed") == 0)
            n++;
        if (strcmp(js(f, "kind"), "escalation") == 0)
            esc++;
    }
    if (n != 1)
        problem(&p,
                "%lld alerts of %s for zed, expected 1 (throttle per "
                "author, 1h, shared)",
                n, THROTTLED_RULE);
    if (esc != 1)
        problem(&p, "%lld escalation alerts, expected 1 (shared cooldown)",
                esc);
    h = hgetall(c, "shared:total:acme");
    {
        static const char *const fields[] = {
            "rule:" THROTTLED_RULE, "defense",     "alerts", "throttled",
            "source:src-a",         "source:src-b"
        };
        long long want[] = { 2 * matches,     2 * matches, 1,
                             2 * matches - 1, matches,     matches };

        for (size_t k = 0; k < 6; k++) {
            const char *s = jstr(h, fields[k]);

            if (!s || atoll(s) != want[k])
                problem(&p, "shared:total:acme %s is %s, expected %lld",
                        fields[k], s ? s : "(missing)", want[k]);
        }
    }
    json_decref(h);
    pttl = rnum(c, -9, "PTTL shared:throttle:%s:zed", THROTTLED_RULE);
    if (pttl <= 0 || pttl > THROTTLE_MS)
        problem(&p, "shared:throttle:%s:zed PTTL %lld", THROTTLED_RULE, pttl);
    json_decref(stream);
    redisFree(c);
    problems_check(&p, "shared throttle");
    t->passed = true;
}

/* ---- 7. a consumer group in redis-cli ---- */

/* Runs redis-cli on the test's Redis with @args (NULL-terminated): its
 * output (caller frees). */
static char *cli(struct ctx *t, const char *const *args)
{
    char port[16], out[PATH_MAX + 16];
    size_t nargs = 0, n = 0;
    const char **argv;
    char *text;

    while (args[nargs])
        nargs++;
    argv = calloc(nargs + 6, sizeof(*argv));
    assert_non_null(argv);
    snprintf(port, sizeof(port), "%u", t->redis.port);
    snprintf(out, sizeof(out), "%s/cli.out", t->tmp);
    argv[n++] = redis_cli;
    argv[n++] = "-h";
    argv[n++] = "127.0.0.1";
    argv[n++] = "-p";
    argv[n++] = port;
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    unlink(out);
    assert_int_equal(run_tool(argv, out, NULL), 0);
    free(argv);
    text = it_read_file(out, NULL);
    assert_non_null(text);
    return text;
}

static bool is_stream_id(const char *s)
{
    const char *dash = strchr(s, '-');

    return dash && dash > s && dash[1] &&
           strspn(s, "0123456789") == (size_t)(dash - s) &&
           strspn(dash + 1, "0123456789") == strlen(dash + 1);
}

static void test_foreign_consumer(void **state)
{
    struct ctx *t = *state;
    struct cfg cfg = { .instance = "it-cli", .source = SOURCE, .file = POSTS };
    struct expect *e = &t->e;
    char *out, *save = NULL, *line, *prev = NULL;
    json_t *read = json_object(), *ids = json_array(), *v;
    const char *key, **xack;
    size_t nx = 0, i;
    redisContext *c;
    redisReply *r;

    expect_build(t, POSTS, SOURCE, e);
    assert_true(e->nalerts <= 100);
    redis_start(&t->redis);
    write_config(t, 0, &cfg);
    daemon_start(t, 0);
    run_to_end(t, 0, e, PREFIX, 10000);

    out = cli(t, (const char *const[]){ "XGROUP", "CREATE", PREFIX "alerts",
                                        "g", "0", "MKSTREAM", NULL });
    assert_string_equal(out, "OK\n");
    free(out);
    /* Non-interactive redis-cli prints one string per line: the stream,
     * then each entry's id and its field/value pairs. */
    out = cli(t, (const char *const[]){ "XREADGROUP", "GROUP", "g", "c1",
                                        "COUNT", "100", "STREAMS",
                                        PREFIX "alerts", ">", NULL });
    {
        char rule[128] = "", post[128] = "";

        for (line = strtok_r(out, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            if (is_stream_id(line)) {
                json_array_append_new(ids, json_string(line));
                rule[0] = post[0] = '\0';
            } else if (prev && strcmp(prev, "rule") == 0) {
                snprintf(rule, sizeof(rule), "%s", line);
            } else if (prev && strcmp(prev, "post_id") == 0) {
                snprintf(post, sizeof(post), "%s", line);
            }
            if (rule[0] && post[0]) {
                char k[300];

                snprintf(k, sizeof(k), "%s %s", rule, post);
                json_object_set_new(read, k, json_true());
                rule[0] = post[0] = '\0';
            }
            prev = line;
        }
    }
    assert_int_equal(json_array_size(ids), e->nalerts);
    json_object_foreach(e->alerts, key, v)
    {
        if (!json_object_get(read, key))
            fail_msg("redis-cli XREADGROUP did not read alert '%s'", key);
    }
    assert_int_equal(json_object_size(read), e->nalerts);
    free(out);

    /* Read, not acknowledged: all pending for c1; then XACK clears them. */
    c = rconnect(t->redis.port);
    r = rcmd(c, "XPENDING %salerts g", PREFIX);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[0]->integer, (long long)e->nalerts);
    freeReplyObject(r);
    xack = calloc(json_array_size(ids) + 4, sizeof(*xack));
    assert_non_null(xack);
    xack[nx++] = "XACK";
    xack[nx++] = PREFIX "alerts";
    xack[nx++] = "g";
    for (i = 0; i < json_array_size(ids); i++)
        xack[nx++] = json_string_value(json_array_get(ids, i));
    xack[nx] = NULL;
    out = cli(t, xack);
    free(xack);
    assert_int_equal(atoll(out), (long long)e->nalerts);
    free(out);
    r = rcmd(c, "XPENDING %salerts g", PREFIX);
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
    /* Nothing new for the group. */
    out = cli(t, (const char *const[]){ "XREADGROUP", "GROUP", "g", "c1",
                                        "COUNT", "100", "STREAMS",
                                        PREFIX "alerts", ">", NULL });
    assert_string_equal(out, "\n");
    free(out);
    redisFree(c);
    json_decref(read);
    json_decref(ids);
    t->passed = true;
}

/* ---- 8. source cursors across a daemon restart ---- */

#define CUR_SSE       "feed"
#define CUR_POLL      "reddit"
#define CUR_SSE_PATH  "/events"
#define CUR_POLL_PATH "/r/acme/new.json"
#define CUR_NEWEST_S  1741943100LL /* the newest post of the Reddit page */
#define CUR_OVERLAP_S 120LL        /* {since} = newest - 2 min (http.c) */
#define CUR_FIRST_S   3600LL       /* the first poll looks an hour back */

/* Writes {"routes": @routes} (taken) as the mock's script, starts
 * mockstream and waits for the port it picked. */
static void cursor_mock_start(struct ctx *t, json_t *routes)
{
    char script[PATH_MAX], port_file[PATH_MAX], log[PATH_MAX], err[PATH_MAX];
    const char *argv[] = { BM_MOCKSTREAM, "--script", script, "--port-file",
                           port_file,     "--log",    log,    "--max-seconds",
                           "60",          NULL };

    snprintf(script, sizeof(script), "%s/script.json", t->tmp);
    snprintf(port_file, sizeof(port_file), "%s/mock.port", t->tmp);
    snprintf(log, sizeof(log), "%s/requests.jsonl", t->tmp);
    snprintf(err, sizeof(err), "%s/mock.err", t->tmp);
    it_write_script(script, routes);
    t->mock = it_spawn(argv, NULL, "/dev/null", "/dev/null", err, IT_APPEND);
    t->mock_port = it_wait_port(&t->mock, port_file, err, 10000);
}

/* The mock's logged requests to @path, oldest first (caller releases). */
static json_t *cursor_requests(const struct ctx *t, const char *path)
{
    char log[PATH_MAX], *text, *save = NULL;
    json_t *all = json_array();

    snprintf(log, sizeof(log), "%s/requests.jsonl", t->tmp);
    text = it_read_file(log, NULL);
    for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l;
         l = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *r = json_loads(l, 0, &jerr);

        if (!r)
            fail_msg("the mock's log has a line that is not JSON: %s", l);
        if (strcmp(js(r, "path"), path) == 0)
            json_array_append(all, r);
        json_decref(r);
    }
    free(text);
    return all;
}

/* Waits until the mock logged at least @n requests to @path: their
 * number, which may be short after @ms. */
static size_t cursor_wait_requests(const struct ctx *t, const char *path,
                                   size_t n, long long ms)
{
    long long deadline = it_now_ms() + ms;
    size_t got = 0;

    for (;;) {
        json_t *all = cursor_requests(t, path);

        got = json_array_size(all);
        json_decref(all);
        if (got >= n || it_now_ms() >= deadline)
            return got;
        it_sleep_ms(50);
    }
}

/* Request @i to @path: a header (@header, lower case) or, with @header
 * NULL, the query, copied to @out ("" when absent). False when there is no
 * such request. */
static bool cursor_request_field(const struct ctx *t, const char *path,
                                 size_t i, const char *header, char *out,
                                 size_t n)
{
    json_t *all = cursor_requests(t, path);
    const json_t *r = json_array_get(all, i);
    const char *v = NULL;

    if (r)
        v = header ? jstr(json_object_get(r, "headers"), header)
                   : jstr(r, "query");
    snprintf(out, n, "%s", v ? v : "");
    json_decref(all);
    return r != NULL;
}

/* The number after "since=" in a query, or -1. */
static long long cursor_since(const char *query)
{
    const char *p = strstr(query, "since=");

    return p ? strtoll(p + strlen("since="), NULL, 10) : -1;
}

/* Polls Pcursor:@source until @field is there (it is written every 5 s
 * and at stop): its value in @out ("" after @ms). */
static void cursor_wait_field(const struct ctx *t, const char *source,
                              const char *field, char *out, size_t n,
                              long long ms)
{
    long long deadline = it_now_ms() + ms;
    char key[128];

    snprintf(key, sizeof(key), PREFIX "cursor:%s", source);
    out[0] = '\0';
    do {
        redisContext *c = rconnect(t->redis.port);
        json_t *h = hgetall(c, key);

        snprintf(out, n, "%s", js(h, field));
        json_decref(h);
        redisFree(c);
        if (out[0])
            return;
        it_sleep_ms(50);
    } while (it_now_ms() < deadline);
}

/* The cursor keys in Redis, for a failure message. */
static void cursor_keys(const struct ctx *t, char *out, size_t n)
{
    redisContext *c = rconnect(t->redis.port);
    json_t *keys = scan_keys(c, PREFIX "cursor:*"), *k;
    size_t i, len = 0;

    out[0] = '\0';
    json_array_foreach(keys, i, k)
    {
        int w = snprintf(out + len, n - len, "%s%s", len ? ", " : "",
                         json_string_value(k));

        if (w < 0 || (size_t)w >= n - len)
            break;
        len += (size_t)w;
    }
    if (!len)
        snprintf(out, n, "none");
    json_decref(keys);
    redisFree(c);
}

/* A generic SSE event: "id: @id" and a post naming acme. */
static void cursor_sse_event(char *buf, size_t n, size_t *len, int id)
{
    int w =
        snprintf(buf + *len, n - *len,
                 "id: %d\ndata: {\"id\": \"cur-%d\", \"text\": \"My Acme "
                 "printer arrived today, box %d\", \"author\": \"ann\"}\n\n",
                 id, id, id);

    assert_true(w > 0 && (size_t)w < n - *len);
    *len += (size_t)w;
}

/* A Reddit Listing of three posts naming acme, the newest first. */
static char *cursor_reddit_page(void)
{
    static const struct {
        const char *name;
        const char *title;
        long long created;
    } posts[] = {
        { "t3_cur3", "Acme printer setup notes", CUR_NEWEST_S },
        { "t3_cur2", "Anyone else using the Acme printer?",
          CUR_NEWEST_S - 200 },
        { "t3_cur1", "Acme printer in our office", CUR_NEWEST_S - 300 },
    };
    json_t *children = json_array(), *page;
    char *s;

    for (size_t i = 0; i < 3; i++)
        json_array_append_new(
            children,
            json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:f, s:s, s:s}}", "kind",
                      "t3", "data", "name", posts[i].name, "id",
                      posts[i].name + 3, "title", posts[i].title, "selftext",
                      "", "created_utc", (double)posts[i].created, "author",
                      "redditor", "permalink", "/r/acme/comments/x/"));
    page = json_pack("{s:s, s:{s:n, s:i, s:o, s:n}}", "kind", "Listing", "data",
                     "after", "dist", 3, "children", children, "before");
    s = json_dumps(page, JSON_COMPACT);
    json_decref(page);
    assert_non_null(s);
    return s;
}

/* The same config for both runs: an SSE source and a poll source, each
 * against the mock, and the test's Redis. */
static void cursor_config(struct ctx *t, int i)
{
    char text[4096], dir[sizeof(t->tmp)];

    memcpy(dir, t->tmp, sizeof(dir));
    snprintf(text, sizeof(text),
             "instance: it-cursor\n"
             "rules: \"%s\"\n"
             "data_dir: \"%s\"\n"
             "sink: redis\n"
             "redis:\n"
             "  url: \"redis://127.0.0.1:%u/0\"\n"
             "  spool: \"%s/spool\"\n"
             "log:\n"
             "  level: debug\n"
             "sources:\n"
             "  - name: " CUR_SSE "\n"
             "    type: sse\n"
             "    url: \"http://127.0.0.1:%u" CUR_SSE_PATH "\"\n"
             "    fields: {id: /id, text: /text, author: /author}\n"
             "  - name: " CUR_POLL "\n"
             "    type: poll\n"
             "    format: reddit\n"
             "    interval: 1h\n"
             "    user_agent: \"linux:brandmon-test:v1 (by /u/t)\"\n"
             "    url: \"http://127.0.0.1:%u" CUR_POLL_PATH
             "?limit=100&since={since}\"\n",
             PACK, BM_RULES_DIR, t->redis.port, dir, t->mock_port,
             t->mock_port);
    snprintf(t->d[i].config, sizeof(t->d[i].config), "%s/brandmond-%d.yaml",
             dir, i);
    snprintf(t->d[i].log, sizeof(t->d[i].log), "%s/brandmond-%d.log", dir, i);
    it_write_file(t->d[i].config, text, strlen(text));
}

/* Waits until Ptotal:acme counts @want posts from @source; fails with
 * what it saw. */
static void cursor_wait_posts(struct ctx *t, const char *source, long long want,
                              const char *when)
{
    char field[64];
    long long got;

    snprintf(field, sizeof(field), "source:%s", source);
    got = wait_hget(t->redis.port, PREFIX "total:acme", field, want, 8000);
    if (got != want)
        fail_msg("%s: " PREFIX "total:acme %s is %lld, expected %lld", when,
                 field, got, want);
}

/*
 * A restart resumes where the last run stopped (docs/redis-schema.md,
 * "Source cursors"). One daemon config, two sources on the mock:
 *
 *   - `feed`, generic SSE: events with ids 1..5, each a post naming acme,
 *     then the connection hangs; the next connection gets event 6.
 *   - `reddit`, a poll every hour (so once per run) of a Reddit page of
 *     three posts, the newest created at CUR_NEWEST_S, with {since} in
 *     the URL.
 *
 * Run 1 writes the 8 posts and gets SIGTERM; Pcursor:feed must hold
 * last_event_id 5 and Pcursor:reddit newest_ms the newest post's time in
 * ms. Run 2 (same config, same Redis) must log "resuming after event id 5",
 * send Last-Event-ID: 5, and ask Reddit for {since} = newest - 120 s
 * rather than now - 1 h; the page it gets again must not be counted again
 * (the per-post marker). After run 2 the SSE cursor is at 6.
 *
 * Run 1 waits for the 5 s status tick to write the cursors; run 2 gets
 * SIGTERM about half a second in, so only the write at stop can move the
 * SSE cursor to 6.
 *
 * KNOWN FAILURE (daemon bug, reported): the cursors written at stop never
 * reach Redis when the sink has nothing left to write. stop_cb() in
 * daemon.c calls save_cursors(), whose HSET redis_cursor_save() only
 * queues in hiredis's output buffer; bm_sink_drain() then finds everything
 * written, finish_drain() ends the loop at once, and redis_close()'s
 * redisAsyncFree() drops the unsent HSET (MONITOR shows no cursor HSET
 * after SIGTERM). Only the 5 s tick saves a cursor, so a restart within 5 s
 * of the last save resumes from an older position. Everything else here
 * passes.
 */
static void test_cursor_resume(void **state)
{
    struct ctx *t = *state;
    struct problems p = { .len = 0 };
    char body[4096], buf[256], keys[512];
    size_t blen = 0, n;
    long long t_wall, t_run2, since;
    json_t *sc1, *sc2, *poll;
    char *page;

    if (!BM_MOCKSTREAM[0] || access(BM_MOCKSTREAM, X_OK) != 0) {
        fprintf(stderr, "mockstream not built: cursor test skipped\n");
        t->passed = true;
        skip();
    }
    for (int id = 1; id <= 5; id++)
        cursor_sse_event(body, sizeof(body), &blen, id);
    sc1 = json_pack("{s:s, s:s, s:s}", "type", "sse", "body", body, "then",
                    "hang");
    blen = 0;
    cursor_sse_event(body, sizeof(body), &blen, 6);
    sc2 = json_pack("{s:s, s:s, s:s}", "type", "sse", "body", body, "then",
                    "hang");
    page = cursor_reddit_page();
    poll = json_pack("{s:s, s:s}", "type", "json", "body", page);
    free(page);
    assert_non_null(sc1);
    assert_non_null(sc2);
    assert_non_null(poll);
    redis_start(&t->redis);
    cursor_mock_start(t, json_pack("{s:[o,o], s:[o]}", CUR_SSE_PATH, sc1, sc2,
                                   CUR_POLL_PATH, poll));

    /* Run 1: no cursor yet. */
    cursor_config(t, 0);
    cursor_config(t, 1);
    t_wall = wall_ms() / 1000;
    daemon_start(t, 0);
    cursor_wait_posts(t, CUR_SSE, 5, "run 1");
    cursor_wait_posts(t, CUR_POLL, 3, "run 1");
    /* The cursors: written by the 5 s status tick while it runs. */
    cursor_wait_field(t, CUR_SSE, "last_event_id", buf, sizeof(buf), 7000);
    cursor_keys(t, keys, sizeof(keys));
    if (strcmp(buf, "5") != 0)
        fail_msg("7 s into run 1, " PREFIX "cursor:" CUR_SSE " last_event_id "
                 "is '%s', expected '5' (cursor keys: %s)",
                 buf, keys);
    cursor_wait_field(t, CUR_POLL, "newest_ms", buf, sizeof(buf), 1000);
    if (strtoll(buf, NULL, 10) != CUR_NEWEST_S * 1000)
        fail_msg("7 s into run 1, " PREFIX "cursor:" CUR_POLL " newest_ms is "
                 "'%s', expected %lld (cursor keys: %s)",
                 buf, CUR_NEWEST_S * 1000, keys);
    cursor_wait_field(t, CUR_SSE, "updated_at", buf, sizeof(buf), 0);
    if (!is_iso_ms(buf))
        problem(&p, PREFIX "cursor:" CUR_SSE " updated_at '%s' is not ISO 8601",
                buf);
    assert_int_equal(daemon_stop(t, 0), 0);
    if (it_file_has(t->d[0].log, "resuming after"))
        problem(&p, "run 1 says it is resuming, with no cursor in Redis");
    n = cursor_wait_requests(t, CUR_SSE_PATH, 1, 0);
    if (n != 1)
        fail_msg("run 1 made %zu requests to " CUR_SSE_PATH ", expected 1 "
                 "(the second scenario is meant for run 2)",
                 n);
    cursor_request_field(t, CUR_SSE_PATH, 0, "last-event-id", buf, sizeof(buf));
    if (buf[0])
        problem(&p, "run 1 sent Last-Event-ID: %s with no cursor", buf);
    n = cursor_wait_requests(t, CUR_POLL_PATH, 1, 0);
    if (n != 1)
        fail_msg("run 1 polled " CUR_POLL_PATH " %zu times, expected once "
                 "(interval 1h)",
                 n);
    cursor_request_field(t, CUR_POLL_PATH, 0, NULL, buf, sizeof(buf));
    since = cursor_since(buf);
    if (since < t_wall - CUR_FIRST_S - 10 || since > t_wall - CUR_FIRST_S + 30)
        problem(&p,
                "run 1's first poll asked for since=%lld (query '%s'), "
                "expected about now - 1 h = %lld",
                since, buf, t_wall - CUR_FIRST_S);

    /* Run 2: the same config and Redis. */
    t_run2 = it_now_ms();
    daemon_start(t, 1);
    if (!it_wait_file_has(t->d[1].log, "resuming after event id 5", 8000))
        fail_msg("run 2 did not log \"resuming after event id 5\"");
    if (cursor_wait_requests(t, CUR_SSE_PATH, 2, 8000) < 2)
        fail_msg("run 2 never connected to " CUR_SSE_PATH);
    cursor_request_field(t, CUR_SSE_PATH, 1, "last-event-id", buf, sizeof(buf));
    if (strcmp(buf, "5") != 0)
        problem(&p,
                "run 2's request to " CUR_SSE_PATH " has Last-Event-ID "
                "'%s', expected '5'",
                buf);
    if (cursor_wait_requests(t, CUR_POLL_PATH, 2, 8000) < 2)
        fail_msg("run 2 never polled " CUR_POLL_PATH);
    cursor_request_field(t, CUR_POLL_PATH, 1, NULL, buf, sizeof(buf));
    since = cursor_since(buf);
    if (since != CUR_NEWEST_S - CUR_OVERLAP_S)
        problem(&p,
                "run 2's poll asked for since=%lld (query '%s'), expected "
                "the cursor's newest less 120 s = %lld",
                since, buf, CUR_NEWEST_S - CUR_OVERLAP_S);
    cursor_wait_posts(t, CUR_SSE, 6, "run 2");
    if (!it_wait_file_has(t->d[1].log,
                          "[source:poll:" CUR_POLL "] connecting -> streaming",
                          8000))
        fail_msg("run 2's poll did not finish");
    it_sleep_ms(300); /* a duplicate would be counted by now */
    t_run2 = it_now_ms() - t_run2;
    assert_int_equal(daemon_stop(t, 1), 0);
    {
        long long got =
            try_hget(t->redis.port, PREFIX "total:acme", "source:" CUR_POLL);

        if (got != 3)
            problem(&p,
                    PREFIX "total:acme source:" CUR_POLL " is %lld after "
                           "run 2 polled the same page again, expected 3",
                    got);
        got = try_hget(t->redis.port, PREFIX "total:acme", "mentions");
        if (got != 9)
            problem(&p,
                    PREFIX "total:acme mentions is %lld after both runs, "
                           "expected 9 (5 + 1 SSE, 3 Reddit)",
                    got);
    }
    /* Run 2 got SIGTERM before its first 5 s tick: only the write at stop
     * can have moved the cursor to 6. */
    cursor_wait_field(t, CUR_SSE, "last_event_id", buf, sizeof(buf), 0);
    if (strcmp(buf, "6") != 0 && t_run2 < 4500)
        problem(&p,
                "after run 2 (SIGTERM %lld ms after it started, before any "
                "5 s tick), " PREFIX "cursor:" CUR_SSE " last_event_id is "
                "'%s', expected '6': the cursor written at stop never "
                "reached Redis",
                t_run2, buf);
    else if (strcmp(buf, "6") != 0)
        problem(&p,
                "after run 2, " PREFIX "cursor:" CUR_SSE " last_event_id is "
                "'%s', expected '6'",
                buf);
    cursor_wait_field(t, CUR_POLL, "newest_ms", buf, sizeof(buf), 0);
    if (strtoll(buf, NULL, 10) != CUR_NEWEST_S * 1000)
        problem(&p,
                "after run 2, " PREFIX "cursor:" CUR_POLL " newest_ms is "
                "'%s', expected %lld",
                buf, CUR_NEWEST_S * 1000);
    problems_check(&p, "cursors across a restart");
    t->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_stopped_quiet, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_throttle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_consumer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_resume, setup, teardown),
    };

    /* BM_IT_FILTER=test_spool* runs some of them. */
    if (getenv("BM_IT_FILTER"))
        cmocka_set_test_filter(getenv("BM_IT_FILTER"));
    return cmocka_run_group_tests_name("integration.redis", tests, group_setup,
                                       NULL);
}
