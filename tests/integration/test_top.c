/*
 * test_top.c - `brandmond --top --once` against a real redis-server.
 *
 * The group starts one redis-server on a free 127.0.0.1 port (no
 * persistence), each test fills keys with hiredis exactly as
 * docs/redis-schema.md says the daemon writes them (minute buckets,
 * totals, the alerts stream, a heartbeat), runs the built binary
 * (BM_BINARY) with posix_spawn() and checks what it printed: the brand
 * rows and their order, the counts, the sparkline, the latest alerts and
 * the footer. Minute buckets are named from the clock, so a test that
 * straddles a minute boundary fills its keys again and reruns.
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
#include <hiredis/hiredis.h>

#include "harness.h"

#ifndef BM_BINARY
#error "BM_BINARY must name the brandmond binary"
#endif
/* The path CMake found; empty: redis-server is looked up on PATH. */
#ifndef BM_REDIS_SERVER
#define BM_REDIS_SERVER ""
#endif

#define PREFIX     "it:"
#define TIMEOUT_MS 30000

/* sysexits(3), spelled out so the test does not depend on the header. */
#define EXIT_USAGE       64
#define EXIT_UNAVAILABLE 69

struct redis {
    pid_t pid;
    unsigned port;
    redisContext *c; /* owned: the test's own connection */
};

/* One run of the binary. */
struct run {
    int status; /* exit code; 128 + signal when killed */
    char *out;  /* owned; NUL-terminated */
    char *err;  /* owned; NUL-terminated */
};

static long long wall_minute(void)
{
    return (long long)time(NULL) / 60;
}

static int group_setup(void **state)
{
    static struct redis r;
    char server[512];

    if (!it_find_tool(BM_REDIS_SERVER, "redis-server", server,
                      sizeof(server))) {
        fprintf(stderr, "test_top: redis-server is needed (Debian's "
                        "redis-server package; scripts/deps.sh)\n");
        return -1;
    }
    r.port = it_free_port();
    r.pid = it_redis_start(server, r.port, NULL, NULL, 10000);
    r.c = redisConnect("127.0.0.1", (int)r.port);
    if (!r.c || r.c->err) {
        fprintf(stderr, "test_top: cannot connect to redis-server on port %u\n",
                r.port);
        if (r.c)
            redisFree(r.c);
        it_kill(r.pid);
        return -1;
    }
    *state = &r;
    return 0;
}

static int group_teardown(void **state)
{
    struct redis *r = *state;

    if (!r)
        return 0;
    if (r->c)
        redisFree(r->c);
    kill(r->pid, SIGTERM);
    waitpid(r->pid, NULL, 0);
    return 0;
}

/* ---- writing keys as the daemon does ---- */

__attribute__((format(printf, 2, 3))) static void cmd(struct redis *r,
                                                      const char *fmt, ...)
{
    redisReply *rep;
    va_list ap;

    va_start(ap, fmt);
    rep = redisvCommand(r->c, fmt, ap);
    va_end(ap);
    assert_non_null(rep);
    if (rep->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", rep->str);
    freeReplyObject(rep);
}

static void flush(struct redis *r)
{
    cmd(r, "FLUSHALL");
}

/* "YYYYMMDDHHMM" of @ago minutes before now, UTC. */
static void minute_stamp(int ago, char out[16])
{
    time_t t = time(NULL) - (time_t)ago * 60;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y%m%d%H%M", &tm);
}

static void iso_now(long long offset_ms, char out[40])
{
    struct timespec ts;
    long long ms;
    time_t t;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset_ms;
    t = (time_t)(ms / 1000);
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + strlen(out), 40 - strlen(out), ".%03dZ", (int)(ms % 1000));
}

/* One brand's minute bucket, as the script's HINCRBY / HINCRBYFLOAT. */
struct bucket {
    int ago;
    long mentions, positive, neutral, negative;
    const char *sentiment_sum;
    long defense, amplification;
};

static void put_bucket(struct redis *r, const char *brand,
                       const struct bucket *b)
{
    char stamp[16], key[256];

    minute_stamp(b->ago, stamp);
    snprintf(key, sizeof(key), PREFIX "minute:%s:%s", brand, stamp);
    cmd(r, "HINCRBY %s mentions %ld", key, b->mentions);
    cmd(r, "HINCRBY %s positive %ld", key, b->positive);
    cmd(r, "HINCRBY %s neutral %ld", key, b->neutral);
    cmd(r, "HINCRBY %s negative %ld", key, b->negative);
    cmd(r, "HINCRBYFLOAT %s sentiment_sum %s", key, b->sentiment_sum);
    cmd(r, "HINCRBY %s source:mastodon %ld", key, b->mentions);
    if (b->defense)
        cmd(r, "HINCRBY %s defense %ld", key, b->defense);
    if (b->amplification)
        cmd(r, "HINCRBY %s amplification %ld", key, b->amplification);
    cmd(r, "EXPIRE %s 172800", key);
    snprintf(key, sizeof(key), PREFIX "total:%s", brand);
    cmd(r, "HINCRBY %s mentions %ld", key, b->mentions);
}

static void put_alert(struct redis *r, long long ago_ms, const char *kind,
                      const char *prio, const char *brand, const char *author,
                      const char *text, const char *message)
{
    char when[40];

    iso_now(-ago_ms, when);
    cmd(r,
        "XADD " PREFIX "alerts MAXLEN ~ 100000 * schema 1 kind %s rule %s.r "
        "priority %s brand %s source mastodon post_id 1%lld author %s "
        "followers 12 url %s text %s sentiment -0.5000 tone negative terms "
        "[\"x\"] message %s created_at %s detected_at %s instance it-1",
        kind, brand, prio, brand, ago_ms, author, "", text, message, when,
        when);
}

/*
 * The fixture, by minutes ago:
 *   acme    0: 8 (2+ 2= 4-, -2.5, 3 def)   1: 4 (4-, -1.5, 2 def)
 *           3: 2 (2+, 0.75, 1 amp)        59: 1 (1=, 0.25)
 *          61: 100 (outside the hour)
 *   globex  0: 20 (20+, 12.0, 6 amp)
 *   initech only an all-time total
 *   hooli   odd values: text in counters, a bucket of the wrong type
 * Hour: acme 15 mentions, 27% 20% 53%, mean -3.0/15 = -0.20, 5 def, 1 amp.
 */
static void fill(struct redis *r)
{
    static const struct bucket acme[] = {
        { 0, 8, 2, 2, 4, "-2.5", 3, 0 },    { 1, 4, 0, 0, 4, "-1.5", 2, 0 },
        { 3, 2, 2, 0, 0, "0.75", 0, 1 },    { 59, 1, 0, 1, 0, "0.25", 0, 0 },
        { 61, 100, 100, 0, 0, "90", 0, 0 },
    };
    static const struct bucket globex = { 0, 20, 20, 0, 0, "12.0", 0, 6 };
    char stamp[16], when[40];

    flush(r);
    for (size_t i = 0; i < sizeof(acme) / sizeof(acme[0]); i++)
        put_bucket(r, "acme", &acme[i]);
    put_bucket(r, "globex", &globex);
    cmd(r, "HSET " PREFIX "total:initech mentions 3 positive 3");
    cmd(r, "HSET " PREFIX "total:hooli mentions 1");
    minute_stamp(0, stamp);
    cmd(r, "HSET " PREFIX "minute:hooli:%s mentions lots sentiment_sum nan",
        stamp);
    minute_stamp(1, stamp);
    cmd(r, "SET " PREFIX "minute:hooli:%s 12", stamp);

    /* 12 alerts, oldest first: only the newest 10 are shown */
    for (int i = 0; i < 9; i++) {
        char text[64];

        snprintf(text, sizeof(text), "old alert number %d", i);
        put_alert(r, 600000 - i * 1000, "insight", "low", "globex", "shopper",
                  text, "");
    }
    put_alert(r, 120000, "amplification", "medium", "globex", "fan_42",
              "Globex support was great, thank you!", "");
    put_alert(r, 60000, "escalation", "critical", "acme", "", "",
              "acme.crisis: 25 defense matches for Acme in 10 min "
              "(baseline 2.00)");
    put_alert(r, 1000, "defense", "high", "acme", "angry_customer",
              "My Acme printer jammed\tagain\x1b[31m and support never "
              "answered. Worst purchase ever, I want a refund and I am "
              "telling everyone I know about it, twice over and again.",
              "");

    iso_now(-3000, when);
    cmd(r,
        "HSET " PREFIX "instance:it-1 schema 1 version 0.1.0 rules_hash abc "
        "started_at %s updated_at %s decided 4242 written 4242 queue 1 "
        "spool 0 lost 0",
        when, when);
    cmd(r, "EXPIRE " PREFIX "instance:it-1 60");
}

/* ---- running brandmond ---- */

/* Runs brandmond with @args; @columns: COLUMNS for it, or NULL for none. */
static void run_top(struct run *res, const char *const *args,
                    const char *columns)
{
    static const char *const drop[] = { "COLUMNS", "NO_COLOR", NULL };
    const char *argv[24] = { "brandmond" };
    const char *extra[2] = { NULL, NULL };
    char colenv[32], **envp;
    struct it_run r;
    size_t na = 1;

    for (; *args && na < 23; args++)
        argv[na++] = *args;
    argv[na] = NULL;
    if (columns) {
        snprintf(colenv, sizeof(colenv), "COLUMNS=%s", columns);
        extra[0] = colenv;
    }
    envp = it_make_env(drop, extra);
    /* Past the deadline it is killed: status 128 + SIGKILL. */
    it_run(&r, BM_BINARY, argv, envp, NULL, 0, TIMEOUT_MS);
    free(envp);
    res->status = r.status;
    res->out = r.out.data; /* taken */
    res->err = r.err.data; /* taken */
}

static void run_free(struct run *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof(*res));
}

/* Fills Redis and runs; again if the minute turned while it did. */
static void fill_and_run(struct redis *r, struct run *res,
                         const char *const *args, const char *columns)
{
    for (int tries = 0; tries < 3; tries++) {
        long long minute = wall_minute();

        fill(r);
        run_top(res, args, columns);
        if (wall_minute() == minute)
            return;
        run_free(res);
    }
    fail_msg("the clock kept crossing minutes");
}

/* ---- reading the output ---- */

/* The line that starts with @start, copied; fails when there is none. */
static char *line_starting(const char *text, const char *start)
{
    size_t n = strlen(start);

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        if (len >= n && strncmp(p, start, n) == 0)
            return strndup(p, len);
        p += len + (nl ? 1 : 0);
    }
    fail_msg("no line starts with '%s' in:\n%s", start, text);
    return NULL;
}

static bool has_line_starting(const char *text, const char *start)
{
    size_t n = strlen(start);

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        if (len >= n && strncmp(p, start, n) == 0)
            return true;
        p += len + (nl ? 1 : 0);
    }
    return false;
}

/* Where @start's line is in @text, to check the order of rows; fails
 * when there is none. */
static long line_index(const char *text, const char *start)
{
    size_t n = strlen(start);
    long i = 0;

    for (const char *p = text; *p; i++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        if (len >= n && strncmp(p, start, n) == 0)
            return i;
        p += len + (nl ? 1 : 0);
    }
    fail_msg("no line starts with '%s' in:\n%s", start, text);
    return -1;
}

/* Characters of a UTF-8 line (the fixture has no wide characters). */
static size_t chars(const char *s, size_t n)
{
    size_t c = 0;

    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static size_t widest_line(const char *text)
{
    size_t widest = 0;

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        size_t c = chars(p, len);

        if (c > widest)
            widest = c;
        p += len + (nl ? 1 : 0);
    }
    return widest;
}

static void url_of(const struct redis *r, char out[64])
{
    snprintf(out, 64, "redis://127.0.0.1:%u/0", r->port);
}

/* ---- tests ---- */

static void test_frame(void **state)
{
    struct redis *r = *state;
    char url[64], *row;
    const char *args[] = { "--top",    "--once", "--redis", url,
                           "--prefix", PREFIX,   NULL };
    struct run res;
    const char *spark;

    url_of(r, url);
    fill_and_run(r, &res, args, "200");
    if (res.status != 0)
        fail_msg("exit %d, stderr: %s", res.status, res.err);
    assert_string_equal(res.err, "");
    assert_null(strchr(res.out, '\033')); /* a pipe: no colour, no screen */

    /* title */
    row = line_starting(res.out, "brandmon top  redis://127.0.0.1:");
    assert_non_null(strstr(row, "  prefix it:  "));
    assert_non_null(strstr(row, " UTC"));
    free(row);

    /* rows by mentions in the last hour: globex 20, acme 15, then the
     * quiet ones by name */
    row = line_starting(res.out, "brand ");
    assert_non_null(strstr(row, "1m   1h  sent  pos  neu  neg  def  amp  "
                                "mentions/min, last 60 min"));
    free(row);
    assert_true(line_index(res.out, "globex ") < line_index(res.out, "acme "));
    assert_true(line_index(res.out, "acme ") < line_index(res.out, "hooli "));
    assert_true(line_index(res.out, "hooli ") <
                line_index(res.out, "initech "));

    row = line_starting(res.out, "globex ");
    assert_non_null(
        strstr(row, "globex    20   20 +0.60 100%   0%   0%    0    6  "));
    /* 20 in the current minute only: blanks, then a full block */
    assert_true(strlen(row) >= 3 && strcmp(row + strlen(row) - 4, " █") == 0);
    free(row);

    row = line_starting(res.out, "acme ");
    assert_non_null(
        strstr(row, "acme       8   15 -0.20  27%  20%  53%    5    1  "));
    /* 59 minutes ago 1, 3 ago 2, 2 ago none, 1 ago 4, now 8 */
    spark = strstr(row, "    5    1  ") + strlen("    5    1  ");
    assert_true(strncmp(spark, "▁", strlen("▁")) == 0);
    spark += strlen("▁");
    for (int i = 0; i < 55; i++)
        assert_true(spark[i] == ' ');
    assert_string_equal(spark + 55, "▂ ▄█");
    free(row);

    /* odd values read as nothing; a key of the wrong type is skipped */
    row = line_starting(res.out, "hooli ");
    assert_non_null(
        strstr(row, "hooli      0    0     -    -    -    -    0    0"));
    free(row);
    row = line_starting(res.out, "initech ");
    assert_non_null(strstr(row, "initech    0    0     -"));
    free(row);

    /* the newest 10 alerts, newest first, text cleaned and cut */
    assert_true(line_index(res.out, "latest alerts") >
                line_index(res.out, "initech "));
    {
        long first = line_index(res.out, "latest alerts") + 1;
        const char *p = res.out;
        char *l1, *l2, *l3;

        for (long i = 0; i < first; i++)
            p = strchr(p, '\n') + 1;
        l1 = strndup(p, strcspn(p, "\n"));
        p = strchr(p, '\n') + 1;
        l2 = strndup(p, strcspn(p, "\n"));
        p = strchr(p, '\n') + 1;
        l3 = strndup(p, strcspn(p, "\n"));
        assert_non_null(strstr(l1, " high     defense       acme   "
                                   "angry_customer My Acme printer jammed "
                                   "again [31m and support"));
        assert_int_equal(chars(l1, strlen(l1)), 200);
        assert_string_equal(l1 + strlen(l1) - strlen("…"), "…");
        assert_non_null(strstr(l2, " critical escalation    acme   -        "
                                   "      acme.crisis: 25 defense matches "
                                   "for Acme in 10 min (baseline 2.00)"));
        assert_non_null(strstr(l3, " medium   amplification globex fan_42  "
                                   "       Globex support was great, thank "
                                   "you!"));
        assert_true(l1[2] == ':' && l1[5] == ':');
        free(l1);
        free(l2);
        free(l3);
    }
    assert_non_null(strstr(res.out, "old alert number 2"));
    assert_null(strstr(res.out, "old alert number 1"));
    assert_null(strstr(res.out, "old alert number 0"));

    row = line_starting(res.out, "instances: it-1 decided 4242 queue 1 "
                                 "spool 0 age ");
    free(row);
    assert_true(widest_line(res.out) <= 200);
    run_free(&res);
}

static void test_default_width(void **state)
{
    struct redis *r = *state;
    char url[64], *row;
    const char *args[] = { "--top",    "--once", "--redis", url,
                           "--prefix", PREFIX,   NULL };
    struct run res;

    url_of(r, url);
    fill_and_run(r, &res, args, NULL);
    assert_int_equal(res.status, 0);
    /* not a terminal and no COLUMNS: 100 columns */
    assert_int_equal(widest_line(res.out), 100);
    /* the sparkline keeps the newest minutes that fit: 100 columns less
     * the name (7), the numbers (41) and the gap (2) */
    row = line_starting(res.out, "brand ");
    assert_non_null(strstr(row, "last 50 min"));
    free(row);
    row = line_starting(res.out, "acme ");
    assert_string_equal(row + strlen(row) - strlen("▂ ▄█"), "▂ ▄█");
    assert_null(strstr(row, "▁"));
    free(row);

    /* a narrow terminal: every line cut */
    run_free(&res);
    fill_and_run(r, &res, args, "33");
    assert_int_equal(res.status, 0);
    assert_true(widest_line(res.out) <= 33);
    free(line_starting(res.out, "acme       8   15 -0.20  27%  20%"));
    run_free(&res);
}

static void test_brands_flag(void **state)
{
    struct redis *r = *state;
    char url[64], *row;
    const char *args[] = { "--top", "--once",   "--redis",    url, "--prefix",
                           PREFIX,  "--brands", "nope, acme", NULL };
    struct run res;

    url_of(r, url);
    fill_and_run(r, &res, args, "200");
    assert_int_equal(res.status, 0);
    assert_true(line_index(res.out, "acme ") < line_index(res.out, "nope "));
    row = line_starting(res.out, "nope ");
    assert_non_null(strstr(row, "nope     0    0     -    -    -    -    0"));
    free(row);
    assert_false(has_line_starting(res.out, "globex "));
    assert_false(has_line_starting(res.out, "initech "));
    run_free(&res);
}

static void test_empty(void **state)
{
    struct redis *r = *state;
    char url[64];
    const char *args[] = { "--top", "--once", "--redis", url, NULL };
    struct run res;

    url_of(r, url);
    /* data under it:, none under the default prefix brandmon: */
    fill_and_run(r, &res, args, NULL);
    assert_int_equal(res.status, 0);
    free(line_starting(res.out, "no mentions yet"));
    free(line_starting(res.out, "no alerts yet"));
    free(line_starting(res.out, "instances: none"));
    assert_false(has_line_starting(res.out, "acme "));
    run_free(&res);
}

static void test_unavailable(void **state)
{
    char url[64];
    const char *args[] = { "--top", "--once", "--redis", url, NULL };
    const char *bad[] = { "--top", "--once", "--redis", "http://x", NULL };
    struct run res;

    (void)state;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%u/0", it_free_port());
    run_top(&res, args, NULL);
    assert_int_equal(res.status, EXIT_UNAVAILABLE);
    assert_string_equal(res.out, "");
    assert_non_null(strstr(res.err, "cannot reach Redis at "));
    assert_non_null(strstr(res.err, url));
    /* one line */
    assert_true(strchr(res.err, '\n') == res.err + strlen(res.err) - 1);
    run_free(&res);

    run_top(&res, bad, NULL);
    assert_int_equal(res.status, EXIT_USAGE);
    run_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_default_width),
        cmocka_unit_test(test_brands_flag),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_unavailable),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
