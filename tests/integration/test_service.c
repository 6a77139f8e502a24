/*
 * test_service.c - brandmond run as a service, end to end: the built daemon
 * (BM_BINARY) with `-c CONFIG`, a `replay` source of X posts from
 * tests/data/service/ (or HTTP sources aimed at ports on 127.0.0.1) and
 * `sink: stdout`, seen only from outside, as systemd and an operator see it.
 *
 * - notify: a datagram socket in the test's folder stands in for systemd's
 *   $NOTIFY_SOCKET. READY=1, STATUS=, WATCHDOG=1 pings at half of
 *   WATCHDOG_USEC, RELOADING=1 / READY=1 around a SIGHUP and STOPPING=1 on
 *   SIGTERM must arrive; without $NOTIFY_SOCKET the daemon runs the same.
 * - reload: a SIGHUP after the config changed one source and the pack
 *   gained a rule keeps the other source connected (each of its posts is
 *   decided exactly once, by the old rules or the new ones), and a broken
 *   pack fails the reload with file:line:col and keeps the running rules.
 * - metrics and health: /metrics (fetched with libcurl) is checked line by
 *   line against the Prometheus text format and for the families an
 *   operator needs; /health answers 200, or 503 when no source streams.
 * - logging: every stderr line starts with a syslog priority and a
 *   component tag, and a source's token never shows in the log or metrics.
 *
 * Each test gets a fresh temporary folder holding the config, the daemon's
 * stdout and stderr, and whatever else it writes. Waits poll against a
 * deadline, so a passing test waits only as long as the daemon needs; a
 * failing one prints the config, stdout, stderr and notifications.
 *
 * Environment: the daemon is started without NOTIFY_SOCKET, WATCHDOG_USEC,
 * WATCHDOG_PID or proxy variables inherited from the test's environment
 * (a proxy would capture the connections to 127.0.0.1), plus what the test
 * sets. WATCHDOG_PID is never set: the child's pid is not known before it
 * is spawned, and libsystemd's sd_watchdog_enabled() takes WATCHDOG_USEC
 * alone as meant for the calling process when WATCHDOG_PID is absent.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
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

#define DATA BM_TEST_DATA "/service"

/* Upper bounds only: a passing test never waits this long. Generous, since
 * a sanitizer build starts slowly. */
#define START_MS  10000 /* the daemon to come up */
#define WAIT_MS   8000  /* something that should happen at once */
#define STOP_MS   10000 /* the daemon to exit after SIGTERM */
#define STATUS_MS 12000 /* a STATUS= after the daemon's 5 s tick */
#define POLL_MS   10

/* WATCHDOG_USEC given to the daemon, and the window in which it must have
 * pinged twice (it pings every half interval). */
#define WATCHDOG_USEC      2000000
#define WATCHDOG_WINDOW_MS 2500

/* A token that must never be logged or served. */
#define SECRET "tok-9f3Kq2-never-log-me-7741"

#define NOTES_MAX 4096

/* One datagram from the daemon, and when it arrived (test clock, ms). */
struct note {
    long long t;
    char text[512];
};

/* One test's world: a folder, a daemon and the notify socket. */
struct env {
    char dir[64];
    pid_t daemon;          /* 0 when not running */
    int notify_fd;         /* the $NOTIFY_SOCKET stand-in, or -1 */
    char notify_path[128]; /* its path */
    struct note *notes;    /* owned: every datagram received, in order */
    size_t nnotes;
    json_t *decisions; /* owned: stdout parsed, after stop_daemon() */
    char *err;         /* owned: the daemon's stderr, after stop_daemon() */
};

/* ---- small things ---- */

/* ---- the folder ---- */

static void in_dir(const struct env *e, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", e->dir, name);
}

static char *read_in_dir(const struct env *e, const char *name)
{
    char path[128];

    in_dir(e, name, path, sizeof(path));
    return it_read_file(path, NULL);
}

static void put_file(const struct env *e, const char *name, const void *data,
                     size_t len)
{
    char path[128];

    /* Written aside and renamed, so the daemon never reads half a file. */
    in_dir(e, name, path, sizeof(path));
    it_write_file(path, data, len);
}

/* Copies the fixture tests/data/service/@fixture to @name in the folder. */
static void put_fixture(const struct env *e, const char *fixture,
                        const char *name)
{
    char src[256];
    char *s;

    snprintf(src, sizeof(src), "%s/%s", DATA, fixture);
    s = it_read_file(src, NULL);
    if (!s)
        fail_msg("cannot read %s", src);
    put_file(e, name, s, strlen(s));
    free(s);
}

/* ---- failing with the evidence ---- */

static void dump_file(const struct env *e, const char *name)
{
    char *s = read_in_dir(e, name);
    size_t n = s ? strlen(s) : 0;

    /* The tail is what matters, and a looping replay prints a lot. */
    fprintf(stderr, "----- %s -----\n%s%s%s", name, n > 6000 ? "(...)\n" : "",
            s ? s + (n > 6000 ? n - 6000 : 0) : "(none)\n",
            n && s[n - 1] != '\n' ? "\n" : "");
    free(s);
}

static void dump_notes(const struct env *e)
{
    if (e->notify_fd < 0 && !e->nnotes)
        return;
    fprintf(stderr, "----- notifications -----\n");
    for (size_t i = 0; i < e->nnotes; i++)
        fprintf(stderr, "%6lld ms  %s\n", e->notes[i].t - e->notes[0].t,
                e->notes[i].text);
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
    dump_file(e, "check.err");
    dump_notes(e);
    fail_msg("test_service.c:%d: %s", line, msg);
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

/* Variables the daemon must not inherit from the test's environment. */
static const char *const dropped_vars[] = {
    "NOTIFY_SOCKET", "WATCHDOG_USEC",
    "WATCHDOG_PID",  "http_proxy",
    "https_proxy",   "HTTP_PROXY",
    "HTTPS_PROXY",   "all_proxy",
    "ALL_PROXY",     NULL,
};

/* Starts @argv with environ less dropped_vars plus @extra_env
 * (NULL-terminated "K=V"s), stdin from /dev/null, stdout and stderr to
 * @out_file and @err_file. */
static pid_t spawn(const char *const *argv, const char *const *extra_env,
                   const char *out_file, const char *err_file)
{
    char **envp = it_make_env(dropped_vars, extra_env);
    pid_t pid = it_spawn(argv, envp, "/dev/null", out_file, err_file, 0);

    free(envp);
    return pid;
}

/* Fails the test if the daemon died while the test waited on it. */
static void check_alive(struct env *e)
{
    char how[64];
    int st;

    if (!e->daemon || waitpid(e->daemon, &st, WNOHANG) != e->daemon)
        return;
    e->daemon = 0;
    it_describe_status(st, how, sizeof(how));
    fail_dump(e, __LINE__, "brandmond ended before SIGTERM: %s", how);
}

/*
 * Writes brandmond.yaml from @tmpl, where "$DIR" stands for the test's
 * folder, "$DATA" for tests/data/service and "$RULES" for the shipped data
 * folder. The common head (instance, data_dir, sink) comes first.
 */
static void write_config(const struct env *e, const char *tmpl)
{
    static const struct {
        const char *key;
        const char *value;
    } subst[] = {
        { "$DATA", DATA },
        { "$RULES", BM_RULES_DIR },
        { "$DIR", NULL },
    };
    struct it_buf t = { 0 };

    it_buf_printf(&t,
                  "# written by test_service.c\n"
                  "instance: service-test\n"
                  "data_dir: %s\n"
                  "sink: stdout\n",
                  BM_RULES_DIR);
    for (const char *p = tmpl; *p;) {
        bool done = false;

        for (size_t i = 0; i < sizeof(subst) / sizeof(subst[0]) && !done; i++) {
            size_t k = strlen(subst[i].key);
            const char *v = subst[i].value ? subst[i].value : e->dir;

            if (!strncmp(p, subst[i].key, k)) {
                it_buf_put(&t, v, strlen(v));
                p += k;
                done = true;
            }
        }
        if (!done)
            it_buf_put(&t, p++, 1);
    }
    put_file(e, "brandmond.yaml", t.data, t.len);
    it_buf_release(&t);
}

/* Starts `brandmond -c brandmond.yaml` with @extra_env added. */
static void daemon_start(struct env *e, const char *const *extra_env)
{
    char config[128], out[128], err[128];
    const char *argv[] = { BM_BINARY, "-c", config, NULL };

    in_dir(e, "brandmond.yaml", config, sizeof(config));
    in_dir(e, "stdout", out, sizeof(out));
    in_dir(e, "stderr", err, sizeof(err));
    e->daemon = spawn(argv, extra_env, out, err);
}

static void signal_daemon(struct env *e, int sig)
{
    CHECK(e, e->daemon > 0);
    check_alive(e);
    CHECK(e, kill(e->daemon, sig) == 0);
}

/* `brandmond -c brandmond.yaml --check`: exit status and stdout. */
static int run_check(struct env *e, char **out)
{
    char config[128], outp[128], errp[128];
    const char *argv[] = { BM_BINARY, "-c", config, "--check", NULL };
    pid_t pid;
    int st;

    in_dir(e, "brandmond.yaml", config, sizeof(config));
    in_dir(e, "check.out", outp, sizeof(outp));
    in_dir(e, "check.err", errp, sizeof(errp));
    pid = spawn(argv, NULL, outp, errp);
    st = it_wait_pid(pid, START_MS);
    if (st == -1)
        it_kill(pid);
    *out = read_in_dir(e, "check.out");
    return st;
}

/* ---- stderr and stdout while the daemon runs ---- */

static size_t count_log(struct env *e, const char *needle)
{
    char *s = read_in_dir(e, "stderr");
    size_t n = it_count_str(s, needle);

    free(s);
    return n;
}

static size_t count_out(struct env *e, const char *needle)
{
    char *s = read_in_dir(e, "stdout");
    size_t n = it_count_str(s, needle ? needle : "\n");

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
#define WAIT_OUT(e, needle, n, ms)                                             \
    wait_for((e), __LINE__, count_out, "stdout lines with", (needle), (n), (ms))

/* The line of @text holding @needle, copied to @out ("" when none). */
static void line_with(const char *text, const char *needle, char *out, size_t n)
{
    const char *p = text ? strstr(text, needle) : NULL;
    const char *b, *eol;

    out[0] = '\0';
    if (!p)
        return;
    for (b = p; b > text && b[-1] != '\n'; b--)
        ;
    eol = strchr(p, '\n');
    if (!eol)
        eol = p + strlen(p);
    snprintf(out, n, "%.*s", (int)(eol - b), b);
}

/*
 * Every stderr line is `<N>[component] message`: N a syslog priority 0-7
 * (journald reads it), the component a non-empty tag without blanks.
 */
static void check_log_lines(const struct env *e)
{
    size_t lineno = 0;

    CHECK(e, e->err != NULL);
    CHECKF(e, !*e->err || e->err[strlen(e->err) - 1] == '\n',
           "stderr ends inside a line");
    for (const char *l = e->err, *eol; (eol = strchr(l, '\n')); l = eol + 1) {
        const char *tag = l + 4, *end;

        lineno++;
        CHECKF(e,
               eol - l >= 4 && l[0] == '<' && l[1] >= '0' && l[1] <= '7' &&
                   l[2] == '>' && l[3] == '[',
               "stderr line %zu has no <N>[ prefix: %.*s", lineno,
               (int)(eol - l), l);
        end = memchr(tag, ']', (size_t)(eol - tag));
        CHECKF(e, end && end > tag, "stderr line %zu has no component: %.*s",
               lineno, (int)(eol - l), l);
        for (const char *c = tag; c < end; c++)
            CHECKF(e, !isspace((unsigned char)*c) && *c != '[',
                   "stderr line %zu: bad component: %.*s", lineno,
                   (int)(eol - l), l);
        CHECKF(e, end + 1 < eol && end[1] == ' ',
               "stderr line %zu: no message after the component: %.*s", lineno,
               (int)(eol - l), l);
    }
}

/*
 * SIGTERM; the daemon must exit 0 within STOP_MS. Loads stderr (every
 * line checked by check_log_lines()) and stdout (every line a JSON
 * decision with a post_id) into e->err and e->decisions.
 */
static void stop_daemon(struct env *e)
{
    char *out, how[64];
    int st;

    signal_daemon(e, SIGTERM);
    st = it_wait_pid(e->daemon, STOP_MS);
    if (st != -1)
        e->daemon = 0;
    it_describe_status(st, how, sizeof(how));
    CHECKF(e, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "brandmond after SIGTERM: %s (want exit 0)", how);
    free(e->err);
    e->err = read_in_dir(e, "stderr");
    CHECK(e, e->err != NULL);
    CHECK(e, strstr(e->err, "[daemon] SIGTERM: stopping") != NULL);
    check_log_lines(e);
    out = read_in_dir(e, "stdout");
    CHECK(e, out != NULL);
    json_decref(e->decisions);
    e->decisions = json_array();
    for (char *line = out, *eol; (eol = strchr(line, '\n')); line = eol + 1) {
        json_error_t jerr;
        json_t *d = json_loadb(line, (size_t)(eol - line), 0, &jerr);

        if (!d || !json_is_string(json_object_get(d, "post_id"))) {
            json_decref(d);
            free(out);
            fail_dump(e, __LINE__, "stdout line is not a decision: %s",
                      jerr.text);
        }
        json_array_append_new(e->decisions, d);
    }
    CHECKF(e, !*out || out[strlen(out) - 1] == '\n',
           "stdout ends inside a line");
    free(out);
}

/* ---- decisions ---- */

static const char *dec_str(const json_t *d, const char *key)
{
    const char *s = json_string_value(json_object_get(d, key));

    return s ? s : "";
}

static bool dec_has_rule(const json_t *d, const char *rule)
{
    size_t i;
    const json_t *m;

    json_array_foreach(json_object_get(d, "matches"), i, m)
    {
        if (!strcmp(dec_str(m, "rule"), rule))
            return true;
    }
    return false;
}

/* The decisions from source @source, in the order printed (a new array). */
static json_t *decisions_from(const struct env *e, const char *source)
{
    json_t *out = json_array();
    size_t i;
    json_t *d;

    json_array_foreach(e->decisions, i, d)
    {
        if (!strcmp(dec_str(d, "source"), source))
            json_array_append(out, d);
    }
    return out;
}

/* The post ids of an X replay file, in file order (a new array). */
static json_t *file_ids(const struct env *e, const char *fixture)
{
    char path[256];
    char *s;
    json_t *ids = json_array();

    snprintf(path, sizeof(path), "%s/%s", DATA, fixture);
    s = it_read_file(path, NULL);
    CHECKF(e, s, "cannot read %s", path);
    for (char *line = s, *eol; (eol = strchr(line, '\n')); line = eol + 1) {
        json_t *msg = json_loadb(line, (size_t)(eol - line), 0, NULL);
        const char *id = json_string_value(
            json_object_get(json_object_get(msg, "data"), "id"));

        if (id)
            json_array_append_new(ids, json_string(id));
        json_decref(msg);
    }
    free(s);
    return ids;
}

/* ---- the notify socket ---- */

static void notify_open(struct env *e)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    in_dir(e, "notify", e->notify_path, sizeof(e->notify_path));
    CHECK(e, strlen(e->notify_path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, e->notify_path, strlen(e->notify_path) + 1);
    e->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(e, e->notify_fd >= 0);
    CHECKF(e, bind(e->notify_fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0,
           "bind %s: %s", e->notify_path, strerror(errno));
}

/* Receives datagrams into e->notes until @until (test clock). */
static void notify_pump(struct env *e, long long until)
{
    for (;;) {
        long long left = until - it_now_ms();
        struct pollfd pfd = { .fd = e->notify_fd, .events = POLLIN };
        char buf[sizeof(e->notes[0].text)];
        ssize_t n;
        int r;

        r = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(e, r >= 0);
        if (r == 0)
            return;
        n = recv(e->notify_fd, buf, sizeof(buf) - 1, 0);
        CHECK(e, n >= 0);
        CHECK(e, e->nnotes < NOTES_MAX);
        buf[n] = '\0';
        e->notes[e->nnotes].t = it_now_ms();
        memcpy(e->notes[e->nnotes].text, buf, (size_t)n + 1);
        e->nnotes++;
    }
}

/* True when note @i is @key ("READY=1", or "STATUS=" as a prefix). */
static bool note_is(const struct env *e, size_t i, const char *key)
{
    const char *t = e->notes[i].text;

    if (key[strlen(key) - 1] == '=')
        return !strncmp(t, key, strlen(key));
    return !strcmp(t, key);
}

/*
 * Waits up to @ms for a note @key at index @from or later that also holds
 * @has (NULL: any); its index.
 */
static size_t notify_wait(struct env *e, int line, size_t from, const char *key,
                          const char *has, long long ms)
{
    long long deadline = it_now_ms() + ms;
    size_t i = from;

    for (;;) {
        for (; i < e->nnotes; i++)
            if (note_is(e, i, key) && (!has || strstr(e->notes[i].text, has)))
                return i;
        check_alive(e);
        if (it_now_ms() > deadline)
            break;
        notify_pump(e, it_now_ms() + 50);
    }
    fail_dump(e, line, "waited %lld ms for the notification %s%s%s", ms, key,
              has ? " with " : "", has ? has : "");
    return 0;
}

#define NOTIFY_WAIT(e, from, key, has, ms)                                     \
    notify_wait((e), __LINE__, (from), (key), (has), (ms))

/* ---- HTTP ---- */

/* An answer: status (0 when no connection), Content-Type and body. */
struct reply {
    long code;
    char type[128];
    struct it_buf body;
};

static size_t body_cb(char *p, size_t size, size_t n, void *arg)
{
    it_buf_put(arg, p, size * n);
    return size * n;
}

/* GET http://127.0.0.1:@port@path into @r (released by the caller). */
static void http_get(unsigned port, const char *path, struct reply *r)
{
    char url[128];
    const char *type = NULL;
    CURL *c = curl_easy_init();

    memset(r, 0, sizeof(*r));
    it_buf_put(&r->body, "", 0);
    if (!c)
        fail_msg("curl_easy_init failed");
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
        snprintf(r->type, sizeof(r->type), "%s", type ? type : "");
    }
    curl_easy_cleanup(c);
}

/* Polls @path until it answers at all (the daemon is listening). */
static void http_wait_up(struct env *e, unsigned port, const char *path,
                         struct reply *r)
{
    long long deadline = it_now_ms() + START_MS;

    for (;;) {
        http_get(port, path, r);
        if (r->code != 0)
            return;
        it_buf_release(&r->body);
        check_alive(e);
        CHECKF(e, it_now_ms() < deadline, "nothing answered on port %u", port);
        it_sleep_ms(50);
    }
}

/* ---- the Prometheus text format ---- */

static bool is_name_start(char c, bool metric)
{
    return isalpha((unsigned char)c) || c == '_' || (metric && c == ':');
}

static bool is_name_char(char c, bool metric)
{
    return is_name_start(c, metric) || isdigit((unsigned char)c);
}

/* Reads a metric (@metric) or label name at *@p; its length, 0 if none. */
static size_t read_name(const char **p, bool metric)
{
    const char *s = *p;
    size_t n;

    if (!is_name_start(*s, metric))
        return 0;
    while (is_name_char(*s, metric))
        s++;
    n = (size_t)(s - *p);
    *p = s;
    return n;
}

/* A sample value: a decimal float, NaN, +Inf or -Inf. */
static bool parse_value(const char *s, size_t n, double *out)
{
    char buf[64];
    char *end;
    size_t i = 0;
    bool digits = false;

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!strcmp(buf, "NaN") || !strcmp(buf, "+Inf") || !strcmp(buf, "-Inf")) {
        *out = strtod(buf, NULL);
        return true;
    }
    /* [-+]? digits [. digits] [e [-+] digits]: no hex, no "inf". */
    if (buf[i] == '-' || buf[i] == '+')
        i++;
    while (isdigit((unsigned char)buf[i]))
        i++, digits = true;
    if (buf[i] == '.')
        for (i++; isdigit((unsigned char)buf[i]); i++)
            digits = true;
    if (!digits)
        return false;
    if (buf[i] == 'e' || buf[i] == 'E') {
        i++;
        if (buf[i] == '-' || buf[i] == '+')
            i++;
        if (!isdigit((unsigned char)buf[i]))
            return false;
        while (isdigit((unsigned char)buf[i]))
            i++;
    }
    if (buf[i])
        return false;
    *out = strtod(buf, &end);
    return *end == '\0';
}

/*
 * Parses and checks @body, the text format 0.0.4. Each line is a comment
 * (`# HELP name text`, `# TYPE name type`, or any other `# ...`) or a
 * sample `name[{label="value",...}] value [timestamp]`. A sample's family
 * must have had its TYPE line before it, a family gets one TYPE, a label
 * is given once per sample, and a series (name and labels) appears once.
 * Returns the samples as [{name, labels (the text between the braces),
 * value (its text)}], or fails the test at the first bad line.
 */
static json_t *parse_metrics(const struct env *e, const char *body)
{
    json_t *samples = json_array(), *types = json_object(),
           *series = json_object(), *sampled = json_object();
    size_t lineno = 0;

    CHECKF(e, *body && body[strlen(body) - 1] == '\n',
           "/metrics is empty or does not end in a newline");
    for (const char *l = body, *eol; (eol = strchr(l, '\n')); l = eol + 1) {
        char name[256], key[1024], fam[256];
        const char *p = l, *lab0, *lab1 = NULL, *v, *vend;
        size_t n, nlabels = 0;
        char seen[16][128];
        double value = 0;
        json_t *sample;

        lineno++;
        CHECKF(e, eol > l, "/metrics line %zu is empty", lineno);
        if (*p == '#') {
            bool help = !strncmp(p, "# HELP ", 7),
                 type = !strncmp(p, "# TYPE ", 7);

            if (!help && !type)
                continue;
            p += 7;
            n = read_name(&p, true);
            CHECKF(e, n > 0 && n < sizeof(name) && (*p == ' ' || p == eol),
                   "/metrics line %zu: bad comment: %.*s", lineno,
                   (int)(eol - l), l);
            snprintf(name, sizeof(name), "%.*s", (int)n, p - n);
            if (type) {
                const char *t = p + 1;
                size_t tl = (size_t)(eol - t);
                bool known = false;

                for (const char *const *k =
                         (const char *const[]){ "counter", "gauge", "histogram",
                                                "summary", "untyped", NULL };
                     *k; k++)
                    known |= strlen(*k) == tl && !strncmp(t, *k, tl);
                CHECKF(e, known, "/metrics line %zu: unknown type: %.*s",
                       lineno, (int)(eol - l), l);
                CHECKF(e, !json_object_get(types, name),
                       "/metrics line %zu: a second TYPE for %s", lineno, name);
                CHECKF(e, !json_object_get(sampled, name),
                       "/metrics line %zu: TYPE of %s after its samples",
                       lineno, name);
                json_object_set_new(types, name, json_stringn(t, tl));
            }
            continue;
        }
        n = read_name(&p, true);
        CHECKF(e, n > 0 && n < sizeof(name), "/metrics line %zu: no name: %.*s",
               lineno, (int)(eol - l), l);
        snprintf(name, sizeof(name), "%.*s", (int)n, l);
        lab0 = p;
        if (*p == '{') {
            p++;
            while (*p != '}') {
                const char *ln = p;

                n = read_name(&p, false);
                CHECKF(e,
                       n > 0 && n < sizeof(seen[0]) && *p == '=' && p[1] == '"',
                       "/metrics line %zu: bad label: %.*s", lineno,
                       (int)(eol - l), l);
                for (size_t k = 0; k < nlabels; k++)
                    CHECKF(e, strlen(seen[k]) != n || strncmp(seen[k], ln, n),
                           "/metrics line %zu: label %.*s twice", lineno,
                           (int)n, ln);
                CHECKF(e, nlabels < 16, "/metrics line %zu: too many labels",
                       lineno);
                snprintf(seen[nlabels++], sizeof(seen[0]), "%.*s", (int)n, ln);
                for (p += 2; *p != '"'; p++) {
                    CHECKF(e, p < eol, "/metrics line %zu: open label value",
                           lineno);
                    if (*p == '\\') {
                        p++;
                        CHECKF(e, *p == '\\' || *p == '"' || *p == 'n',
                               "/metrics line %zu: bad escape", lineno);
                    }
                }
                p++;
                if (*p == ',')
                    p++;
                else
                    CHECKF(e, *p == '}', "/metrics line %zu: bad label list",
                           lineno);
            }
            lab1 = p++;
        }
        CHECKF(e, *p == ' ', "/metrics line %zu: no blank before the value",
               lineno);
        v = ++p;
        while (p < eol && *p != ' ')
            p++;
        vend = p;
        CHECKF(e, parse_value(v, (size_t)(p - v), &value),
               "/metrics line %zu: bad value: %.*s", lineno, (int)(eol - l), l);
        if (p < eol) {
            /* An optional timestamp: an integer, milliseconds. */
            const char *ts = ++p;

            if (*p == '-')
                p++;
            while (p < eol && isdigit((unsigned char)*p))
                p++;
            CHECKF(e, p == eol && p > ts,
                   "/metrics line %zu: junk after the value: %.*s", lineno,
                   (int)(eol - l), l);
        }
        /* The family: the name, or for histograms and summaries the name
         * without its _sum, _count or _bucket. */
        snprintf(fam, sizeof(fam), "%s", name);
        if (!json_object_get(types, fam))
            for (const char *const *sfx =
                     (const char *const[]){ "_sum", "_count", "_bucket", NULL };
                 *sfx; sfx++) {
                size_t fl = strlen(name), sl = strlen(*sfx);

                if (fl > sl && !strcmp(name + fl - sl, *sfx)) {
                    snprintf(fam, sizeof(fam), "%.*s", (int)(fl - sl), name);
                    break;
                }
            }
        CHECKF(e, json_object_get(types, fam),
               "/metrics line %zu: sample of %s before (or without) its TYPE",
               lineno, name);
        snprintf(key, sizeof(key), "%s%.*s", name,
                 lab1 ? (int)(lab1 - lab0 + 1) : 0, lab0);
        CHECKF(e, !json_object_get(series, key),
               "/metrics line %zu: series %s twice", lineno, key);
        json_object_set_new(series, key, json_true());
        json_object_set_new(sampled, name, json_true());
        /* The value as text: jansson has no NaN or infinities. */
        sample = json_pack("{s:s, s:s%, s:s%}", "name", name, "labels",
                           lab1 ? lab0 + 1 : "",
                           lab1 ? (size_t)(lab1 - lab0 - 1) : 0, "value", v,
                           (size_t)(vend - v));
        CHECK(e, sample != NULL);
        json_array_append_new(samples, sample);
    }
    json_decref(types);
    json_decref(series);
    json_decref(sampled);
    return samples;
}

/*
 * The value of the first sample @name whose labels hold every string of
 * @has (NULL-terminated, e.g. "state=\"streaming\""); false if none.
 */
static bool metric(const json_t *samples, const char *name,
                   const char *const *has, double *value)
{
    size_t i;
    const json_t *s;

    json_array_foreach(samples, i, s)
    {
        const char *labels = dec_str(s, "labels");
        bool all = true;

        if (strcmp(dec_str(s, "name"), name))
            continue;
        for (const char *const *h = has; h && *h && all; h++)
            all = strstr(labels, *h) != NULL;
        if (all) {
            *value = strtod(dec_str(s, "value"), NULL);
            return true;
        }
    }
    return false;
}

/* Fetches and parses /metrics; fails unless it is 200 and text/plain. */
static json_t *scrape(struct env *e, unsigned port, char **raw)
{
    struct reply r;
    json_t *samples;

    http_get(port, "/metrics", &r);
    CHECKF(e, r.code == 200, "GET /metrics: %ld", r.code);
    CHECKF(e, !strncmp(r.type, "text/plain", 10),
           "GET /metrics: Content-Type %s", r.type);
    CHECKF(e, strstr(r.type, "version=0.0.4") != NULL,
           "GET /metrics: Content-Type %s has no version=0.0.4", r.type);
    samples = parse_metrics(e, r.body.data);
    if (raw)
        *raw = r.body.data;
    else
        it_buf_release(&r.body);
    return samples;
}

/* ---- fixtures ---- */

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    if (!e)
        return -1;
    e->notify_fd = -1;
    e->notes = calloc(NOTES_MAX, sizeof(*e->notes));
    if (!e->notes || it_mkdtemp(e->dir, sizeof(e->dir), "service") != 0) {
        free(e->notes);
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
    if (e->notify_fd >= 0)
        close(e->notify_fd);
    json_decref(e->decisions);
    free(e->err);
    free(e->notes);
    it_remove_tree(e->dir);
    free(e);
    return 0;
}

/* The looping replay most tests run: posts.ndjson (16 posts and one line
 * that is not JSON) at 200 lines a second, over and over. */
#define LOOP_SOURCE                                                            \
    "sources:\n"                                                               \
    "  - name: feed\n"                                                         \
    "    type: replay\n"                                                       \
    "    file: $DATA/posts.ndjson\n"                                           \
    "    rate: 200\n"                                                          \
    "    loop: true\n"

/* ===================================================================== */
/* sd_notify                                                             */
/* ===================================================================== */

/*
 * Under a stand-in systemd: READY=1 once up; a STATUS= line with the
 * streams and the rate; WATCHDOG=1 at least twice within 2.5 s of READY
 * (WATCHDOG_USEC 2 s: a ping every second) and never more than 2 s apart;
 * RELOADING=1 then READY=1 around a SIGHUP; STOPPING=1 on SIGTERM, and
 * exit 0. Decisions are printed all along.
 */
static void test_notify(void **state)
{
    struct env *e = *state;
    char sock_env[160], wd_env[64];
    const char *extra[] = { sock_env, wd_env, NULL };
    size_t ready, status, busy, hup_from, reloading, ready2, stop_from;
    unsigned up = 0, total = 0;
    double pps = -1;
    long long t_ready, last_ping = -1, max_gap = 0;
    size_t pings = 0, i;

    notify_open(e);
    snprintf(sock_env, sizeof(sock_env), "NOTIFY_SOCKET=%s", e->notify_path);
    snprintf(wd_env, sizeof(wd_env), "WATCHDOG_USEC=%d", WATCHDOG_USEC);
    write_config(e, "rules: $DATA/acme.yaml\n" LOOP_SOURCE);
    daemon_start(e, extra);

    ready = NOTIFY_WAIT(e, 0, "READY=1", NULL, START_MS);
    t_ready = e->notes[ready].t;
    /* The first STATUS comes with READY; it names the streams. */
    status = NOTIFY_WAIT(e, 0, "STATUS=", NULL, WAIT_MS);
    CHECKF(e,
           strstr(e->notes[status].text, "streams 1/1 up") &&
               strstr(e->notes[status].text, "posts/s"),
           "first status: %s", e->notes[status].text);
    notify_pump(e, t_ready + WATCHDOG_WINDOW_MS);
    for (i = ready + 1; i < e->nnotes; i++)
        pings += note_is(e, i, "WATCHDOG=1") &&
                 e->notes[i].t <= t_ready + WATCHDOG_WINDOW_MS;
    CHECKF(e, pings >= 2, "%zu WATCHDOG=1 within %d ms of READY=1", pings,
           WATCHDOG_WINDOW_MS);
    /* The 5 s tick: a STATUS whose rate counts the replay's posts. */
    busy = NOTIFY_WAIT(e, status + 1, "STATUS=", "posts/s", STATUS_MS);
    CHECKF(e,
           sscanf(e->notes[busy].text, "STATUS=streams %u/%u up, %lf posts/s",
                  &up, &total, &pps) == 3,
           "status does not parse: %s", e->notes[busy].text);
    CHECKF(e, up == 1 && total == 1 && pps > 0 && pps <= 260,
           "status after 5 s: %s (want 1/1 up, 0 < posts/s <= the rate)",
           e->notes[busy].text);

    hup_from = e->nnotes;
    signal_daemon(e, SIGHUP);
    reloading = NOTIFY_WAIT(e, hup_from, "RELOADING=1", NULL, WAIT_MS);
    ready2 = NOTIFY_WAIT(e, reloading + 1, "READY=1", NULL, WAIT_MS);
    CHECK(e, ready2 > reloading);
    WAIT_LOG(e, "[daemon] reloaded: 1 packs, 2 rules, 1 sources", 1, WAIT_MS);

    /* A little more running, to see the watchdog go on after a reload. */
    notify_pump(e, it_now_ms() + 1200);
    stop_from = e->nnotes;
    stop_daemon(e); /* SIGTERM, exit 0 */
    /* The datagrams wait in the socket after the daemon is gone. */
    notify_pump(e, it_now_ms() + 100);
    for (i = stop_from; i < e->nnotes && !note_is(e, i, "STOPPING=1"); i++)
        ;
    CHECKF(e, i < e->nnotes, "no STOPPING=1 after SIGTERM");

    /* systemd kills a service that misses a ping for WATCHDOG_USEC. */
    for (i = 0; i < e->nnotes; i++) {
        if (!note_is(e, i, "WATCHDOG=1"))
            continue;
        if (last_ping >= 0 && e->notes[i].t - last_ping > max_gap)
            max_gap = e->notes[i].t - last_ping;
        last_ping = e->notes[i].t;
    }
    CHECKF(e, max_gap > 0 && max_gap < WATCHDOG_USEC / 1000,
           "largest gap between WATCHDOG=1 pings: %lld ms", max_gap);
    /* READY=1 only at start and after the reload; not again once
     * stopping. */
    pings = 0;
    for (i = 0; i < e->nnotes; i++)
        pings += note_is(e, i, "READY=1");
    CHECKF(e, pings == 2, "%zu READY=1 notifications, want 2", pings);
    for (i = stop_from; i < e->nnotes; i++)
        CHECKF(e, !note_is(e, i, "READY=1") && !note_is(e, i, "RELOADING=1"),
               "after SIGTERM: %s", e->notes[i].text);
    CHECKF(e, json_array_size(e->decisions) >= 200,
           "only %zu decisions in about 7 s at 200 posts/s",
           json_array_size(e->decisions));
}

/*
 * Not under systemd: no $NOTIFY_SOCKET (nor watchdog). The daemon runs the
 * same: decisions are printed, a SIGHUP reloads, SIGTERM exits 0, and
 * nothing in the log complains about notifications.
 */
static void test_no_notify(void **state)
{
    struct env *e = *state;
    size_t before;

    write_config(e, "rules: $DATA/acme.yaml\n" LOOP_SOURCE);
    daemon_start(e, NULL);
    WAIT_OUT(e, "\"source\":\"feed\"", 50, START_MS);
    signal_daemon(e, SIGHUP);
    WAIT_LOG(e, "[daemon] reloaded: 1 packs, 2 rules, 1 sources", 1, WAIT_MS);
    before = count_out(e, NULL);
    WAIT_OUT(e, NULL, before + 50, WAIT_MS);
    stop_daemon(e);

    CHECK(e, json_array_size(e->decisions) >= before + 50);
    CHECK(e,
          dec_has_rule(json_array_get(e->decisions, 0), "service.complaint"));
    CHECK(e, !strstr(e->err, "notify"));
    CHECK(e, !strstr(e->err, "NOTIFY_SOCKET"));
    CHECK(e, !strstr(e->err, "<3>"));
}

/* ===================================================================== */
/* Reload                                                                */
/* ===================================================================== */

/* Source @src's decisions so far on stdout (reads the file). */
static size_t count_from(struct env *e, const char *src)
{
    char key[64];

    snprintf(key, sizeof(key), "\"source\":\"%s\"", src);
    return count_out(e, key);
}

/*
 * Two replays, a and b (90 posts each, distinct ids, 30 a second, so about
 * 3 s each). While they play:
 * 1. the config changes only b's rate and the pack gains a rule
 *    (acme_v2.yaml: service.mention, on every post naming acme); SIGHUP.
 *    a stays connected ("1 sources kept connected"), b starts over.
 * 2. the pack gets a YAML syntax error (acme_broken.yaml); SIGHUP. The
 *    reload fails with the pack's file:line:col and the running rules stay.
 * Then every post of a.ndjson is decided exactly once, in file order, and
 * a's decisions switch from the old rules to the new ones at one point,
 * never back (posts decided after the failed reload still fire
 * service.mention).
 */
static void test_reload_no_gap(void **state)
{
    struct env *e = *state;
    static const char tmpl[] = "rules: $DIR/pack.yaml\n"
                               "sources:\n"
                               "  - name: a\n"
                               "    type: replay\n"
                               "    file: $DATA/a.ndjson\n"
                               "    rate: 30\n"
                               "    loop: false\n"
                               "  - name: b\n"
                               "    type: replay\n"
                               "    file: $DATA/b.ndjson\n"
                               "    rate: %s\n"
                               "    loop: false\n";
    char config[sizeof(tmpl) + 16], failed[1024], where[1024];
    char *check_out = NULL, *check_err, *at;
    unsigned err_line = 0, err_col = 0;
    json_t *ids, *from_a, *from_b, *ids_b, *seen;
    long first_new = -1;
    size_t i, after_fail;
    json_t *d;
    int st;

    put_fixture(e, "acme.yaml", "pack.yaml");
    snprintf(config, sizeof(config), tmpl, "30");
    write_config(e, config);
    daemon_start(e, NULL);
    WAIT_OUT(e, "\"source\":\"a\"", 8, START_MS);
    CHECK(e, count_out(e, "service.mention") == 0);

    /* 1: b's rate and one more rule. */
    put_fixture(e, "acme_v2.yaml", "pack.yaml");
    snprintf(config, sizeof(config), tmpl, "45");
    write_config(e, config);
    signal_daemon(e, SIGHUP);
    WAIT_LOG(e, "[streams] reloaded: 1 sources kept connected, 1 started", 1,
             WAIT_MS);
    WAIT_LOG(e, "[daemon] reloaded: 1 packs, 3 rules, 2 sources", 1, WAIT_MS);
    WAIT_OUT(e, "service.mention", 3, WAIT_MS);

    /* 2: a broken pack. */
    put_fixture(e, "acme_broken.yaml", "pack.yaml");
    signal_daemon(e, SIGHUP);
    WAIT_LOG(e, "reload failed", 1, WAIT_MS);
    /* Lines printed from now on were decided after the failed reload (the
     * stdout sink flushes every 100 ms). */
    it_sleep_ms(300);
    after_fail = count_from(e, "a");
    WAIT_OUT(e, "\"source\":\"a\"", after_fail + 5, WAIT_MS);
    WAIT_LOG(e, "[source:replay:a] replay finished: 90 lines", 1, WAIT_MS);
    /* Where should the error point? Where --check points. */
    st = run_check(e, &check_out);
    check_err = read_in_dir(e, "check.err");
    CHECKF(e, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 78,
           "--check of the broken pack: status %#x", st);
    /* "DIR/pack.yaml:L:C: what": keep "DIR/pack.yaml:L:C: ". */
    line_with(check_err, "/pack.yaml:", where, sizeof(where));
    at = strstr(where, "/pack.yaml:");
    CHECKF(e,
           at && sscanf(at, "/pack.yaml:%u:%u: ", &err_line, &err_col) == 2 &&
               err_line > 0 && err_col > 0,
           "--check gives no line and column: %s", where);
    snprintf(strchr(strchr(at + 11, ':') + 1, ':'), 3, ": ");
    CHECKF(e, where[0] == '/', "--check's message is not path-first: %s",
           where);
    free(check_out);
    free(check_err);
    stop_daemon(e);

    line_with(e->err, "reload failed", failed, sizeof(failed));
    CHECKF(e, failed[0] == '<' && failed[1] == '3',
           "a failed reload is not an error: %s", failed);
    CHECKF(e, strstr(failed, where) != NULL,
           "the failed reload does not say where (%s): %s", where, failed);
    CHECKF(e, it_count_str(e->err, "reload failed") == 1, "%zu failed reloads",
           it_count_str(e->err, "reload failed"));
    CHECK(e, it_count_str(e->err, "[daemon] reloaded: ") == 1);
    CHECK(e, it_count_str(e->err, "[source:replay:a] starting") == 1);
    CHECK(e, it_count_str(e->err, "[source:replay:b] starting") == 2);

    /* a: every post of the file, once, in file order. */
    ids = file_ids(e, "a.ndjson");
    from_a = decisions_from(e, "a");
    CHECK(e, json_array_size(ids) == 90);
    CHECKF(e, json_array_size(from_a) == json_array_size(ids),
           "a: %zu decisions for %zu posts", json_array_size(from_a),
           json_array_size(ids));
    json_array_foreach(from_a, i, d)
    {
        const char *want = json_string_value(json_array_get(ids, i));

        CHECKF(e, !strcmp(dec_str(d, "post_id"), want),
               "a's decision %zu is post %s, want %s (a post missing, "
               "repeated or out of order)",
               i, dec_str(d, "post_id"), want);
        if (first_new < 0 && dec_has_rule(d, "service.mention"))
            first_new = (long)i;
        /* One switch, never back: after it every post fires the rule. */
        CHECKF(e, (first_new >= 0) == dec_has_rule(d, "service.mention"),
               "a's decision %zu (post %s): service.mention %s", i,
               dec_str(d, "post_id"),
               first_new >= 0 ? "missing after the reload"
                              : "before the reload");
    }
    CHECKF(e, first_new >= 8 && (size_t)first_new < after_fail,
           "the new rule first fired on a's decision %ld", first_new);
    CHECKF(e, after_fail + 5 <= json_array_size(from_a),
           "only %zu of a's decisions came after the failed reload",
           json_array_size(from_a) - after_fail);
    /* The old rules' own matches go on after both reloads. */
    json_array_foreach(from_a, i, d)
    {
        if (i >= after_fail && dec_has_rule(d, "service.complaint"))
            break;
    }
    CHECKF(e, i < json_array_size(from_a),
           "service.complaint never fired after the failed reload");

    /* b started over: only its own posts, each at most twice. */
    ids_b = file_ids(e, "b.ndjson");
    from_b = decisions_from(e, "b");
    seen = json_object();
    json_array_foreach(from_b, i, d)
    {
        const char *id = dec_str(d, "post_id");
        json_int_t n = json_integer_value(json_object_get(seen, id));
        bool in_file = false;
        size_t k;
        json_t *want;

        json_array_foreach(ids_b, k, want)
        {
            in_file |= !strcmp(json_string_value(want), id);
        }
        CHECKF(e, in_file, "b decided post %s, which is not in b.ndjson", id);
        CHECKF(e, n < 2, "b decided post %s three times", id);
        json_object_set_new(seen, id, json_integer(n + 1));
    }
    json_decref(seen);
    json_decref(ids_b);
    json_decref(from_b);
    json_decref(from_a);
    json_decref(ids);
}

/* ===================================================================== */
/* Metrics and health                                                    */
/* ===================================================================== */

/* The "(hash H)" of `brandmond -c CONFIG --check`. */
static void check_hash(struct env *e, char *hash, size_t n)
{
    char *out = NULL, said[512];
    int st = run_check(e, &out);
    const char *p, *end;

    /* A copy, so that a failure below leaks nothing. */
    snprintf(said, sizeof(said), "%s", out ? out : "");
    free(out);
    p = strstr(said, "(hash ");
    end = p ? strchr(p, ')') : NULL;
    CHECKF(e, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "--check: status %#x, stdout %s", st, said);
    CHECKF(e, p && end && end > p + 6, "--check says: %s", said);
    snprintf(hash, n, "%.*s", (int)(end - p - 6), p + 6);
}

/*
 * /metrics and /health of a daemon playing posts.ndjson in a loop: the
 * answer is 200, text/plain (version 0.0.4), every line valid, and the
 * families an operator relies on are there with sensible values; the
 * decided count grows between two scrapes; the rules hash is the one
 * `--check` prints. /health is 200 with the source "ok".
 */
static void test_metrics_and_health(void **state)
{
    struct env *e = *state;
    unsigned port = it_free_port();
    char config[512], hash[64], label[128];
    const char *feed[] = { "source=\"feed\"", "type=\"replay\"", NULL };
    const char *streaming[] = { "source=\"feed\"", "state=\"streaming\"",
                                NULL };
    const char *backoff[] = { "source=\"feed\"", "state=\"backoff\"", NULL };
    const char *malformed[] = { "source=\"feed\"", "type=\"replay\"",
                                "reason=\"malformed_json\"", NULL };
    const char *complaint[] = { "rule=\"service.complaint\"", NULL };
    const char *praise[] = { "rule=\"service.praise\"", NULL };
    const char *with_hash[] = { label, NULL };
    double in1 = 0, dec1 = 0, dec2 = 0, v = 0;
    json_t *s1, *s2;
    struct reply r;

    snprintf(config, sizeof(config),
             "rules: $DATA/acme.yaml\n"
             "metrics: {listen: \"127.0.0.1:%u\"}\n" LOOP_SOURCE,
             port);
    write_config(e, config);
    /* The hash of the rules, as `--check` says it before the start. */
    check_hash(e, hash, sizeof(hash));
    daemon_start(e, NULL);
    http_wait_up(e, port, "/health", &r);
    it_buf_release(&r.body);
    WAIT_OUT(e, "\"source\":\"feed\"", 20, WAIT_MS);

    s1 = scrape(e, port, NULL);
    it_sleep_ms(500);
    s2 = scrape(e, port, NULL);
    CHECK(e, metric(s1, "brandmon_posts_in_total", feed, &in1) && in1 > 0);
    CHECK(e, metric(s1, "brandmon_posts_decided_total", NULL, &dec1));
    CHECK(e, metric(s2, "brandmon_posts_decided_total", NULL, &dec2));
    CHECKF(e, dec1 > 0 && dec2 > dec1,
           "posts decided: %g, then %g half a second later", dec1, dec2);
    CHECK(e, metric(s2, "brandmon_posts_skipped_total", malformed, &v));
    CHECKF(e, v >= 1, "malformed_json skipped: %g", v);
    CHECK(e, metric(s2, "brandmon_rule_matches_total", complaint, &v) && v > 0);
    CHECK(e, metric(s2, "brandmon_rule_matches_total", praise, &v));
    CHECK(e, metric(s2, "brandmon_source_state", streaming, &v) && v == 1);
    CHECK(e, metric(s2, "brandmon_source_state", backoff, &v) && v == 0);
    CHECK(e, metric(s2, "brandmon_sink_queue_depth", NULL, &v) && v >= 0);
    snprintf(label, sizeof(label), "hash=\"%s\"", hash);
    CHECKF(e, metric(s2, "brandmon_rules_info", with_hash, &v) && v == 2,
           "no brandmon_rules_info{hash=\"%s\"} 2", hash);
    CHECK(e, metric(s2, "brandmon_rules_load_seconds", NULL, &v) && v >= 0 &&
                 v < 60);
    json_decref(s1);
    json_decref(s2);

    http_get(port, "/health", &r);
    CHECKF(e, r.code == 200, "GET /health: %ld: %s", r.code, r.body.data);
    CHECKF(e, strstr(r.body.data, "ok source feed: streaming") != NULL,
           "GET /health: %s", r.body.data);
    CHECKF(e, !strstr(r.body.data, "fail"), "GET /health: %s", r.body.data);
    it_buf_release(&r.body);
    http_get(port, "/nothing-here", &r);
    CHECKF(e, r.code == 404, "GET /nothing-here: %ld", r.code);
    it_buf_release(&r.body);
    stop_daemon(e);
}

/*
 * The only source is an NDJSON stream to a port on 127.0.0.1 where nothing
 * listens: it keeps failing and backing off, and /health answers 503 with
 * "fail no source is streaming" within a few seconds.
 */
static void test_health_no_source(void **state)
{
    struct env *e = *state;
    unsigned port = it_free_port(), closed = it_free_port();
    const char *streaming[] = { "source=\"dead\"", "state=\"streaming\"",
                                NULL };
    char config[512];
    long long deadline;
    json_t *samples;
    double v = -1;
    struct reply r;

    CHECK(e, port != closed);
    snprintf(config, sizeof(config),
             "rules: $DATA/acme.yaml\n"
             "metrics: {listen: \"127.0.0.1:%u\"}\n"
             "sources:\n"
             "  - name: dead\n"
             "    type: ndjson\n"
             "    url: http://127.0.0.1:%u/\n"
             "    fields: {id: /id, text: /text}\n",
             port, closed);
    write_config(e, config);
    daemon_start(e, NULL);
    http_wait_up(e, port, "/health", &r);
    deadline = it_now_ms() + 5000;
    while (r.code != 503 && it_now_ms() < deadline) {
        it_buf_release(&r.body);
        it_sleep_ms(100);
        check_alive(e);
        http_get(port, "/health", &r);
    }
    CHECKF(e, r.code == 503, "GET /health: %ld: %s", r.code, r.body.data);
    CHECKF(e, strstr(r.body.data, "fail no source is streaming") != NULL,
           "GET /health: %s", r.body.data);
    CHECKF(e, strstr(r.body.data, "source dead: ") != NULL, "GET /health: %s",
           r.body.data);
    it_buf_release(&r.body);
    samples = scrape(e, port, NULL);
    CHECK(e, metric(samples, "brandmon_source_state", streaming, &v) && v == 0);
    json_decref(samples);
    WAIT_LOG(e, "[source:ndjson:dead]", 1, WAIT_MS);
    stop_daemon(e);
    CHECK(e, json_array_size(e->decisions) == 0);
}

/*
 * `brandmond -c CONFIG --check` while the daemon of that config runs: what
 * an operator does before `systemctl reload`. It must say "config ok" with
 * the running rules' hash and exit 0, and leave the daemon serving.
 *
 * A regression test: --check used to build the whole daemon with
 * bm_daemon_new(), which binds the metrics listener, so with the service
 * running it failed with "cannot listen on the metrics address" (exit 78).
 */
static void test_check_while_running(void **state)
{
    struct env *e = *state;
    unsigned port = it_free_port();
    char config[512], hash[64], label[128];
    const char *with_hash[] = { label, NULL };
    json_t *samples;
    struct reply r;
    double v;

    snprintf(config, sizeof(config),
             "rules: $DATA/acme.yaml\n"
             "metrics: {listen: \"127.0.0.1:%u\"}\n" LOOP_SOURCE,
             port);
    write_config(e, config);
    daemon_start(e, NULL);
    http_wait_up(e, port, "/health", &r);
    it_buf_release(&r.body);
    check_hash(e, hash, sizeof(hash));
    samples = scrape(e, port, NULL);
    snprintf(label, sizeof(label), "hash=\"%s\"", hash);
    CHECK(e, metric(samples, "brandmon_rules_info", with_hash, &v));
    json_decref(samples);
    stop_daemon(e);
}

/* ===================================================================== */
/* Logging                                                               */
/* ===================================================================== */

/*
 * Accepts one connection on @lfd within @ms, reads the request head into
 * @req and answers 401. False when no request came.
 */
static bool answer_401(struct env *e, int lfd, long long ms, struct it_buf *req)
{
    static const char body[] =
        "{\"title\":\"Unauthorized\",\"status\":401,\"detail\":\"no\"}\n";
    long long deadline = it_now_ms() + ms;
    struct pollfd pfd = { .fd = lfd, .events = POLLIN };
    char resp[512];
    int fd, n;

    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 401 Unauthorized\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n"
                 "Connection: close\r\n"
                 "\r\n%s",
                 sizeof(body) - 1, body);
    if (poll(&pfd, 1, (int)ms) != 1)
        return false;
    fd = accept(lfd, NULL, NULL);
    CHECK(e, fd >= 0);
    it_buf_put(req, "", 0);
    while (!strstr(req->data, "\r\n\r\n") && it_now_ms() < deadline) {
        char buf[2048];
        ssize_t got;

        pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 100) != 1)
            continue;
        got = recv(fd, buf, sizeof(buf), 0);
        if (got <= 0)
            break;
        it_buf_put(req, buf, (size_t)got);
    }
    (void)!send(fd, resp, (size_t)n, MSG_NOSIGNAL);
    close(fd);
    return strstr(req->data, "\r\n\r\n") != NULL;
}

/*
 * A token in token_file: one X source aims at a closed port (it backs off
 * and retries, logging each failure), another at a listener of the test's
 * that checks the token is sent and answers 401 (the source gives up and
 * says why). At log level debug, for about a second: every stderr line has
 * the priority and component prefix, and the token is in neither stderr,
 * stdout, /metrics nor /health.
 */
static void test_logging_no_secret(void **state)
{
    struct env *e = *state;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    unsigned port = it_free_port(), closed = it_free_port();
    struct it_buf req = { 0 };
    char config[1024], *out, *metrics_text;
    json_t *samples;
    struct reply r;
    int lfd;

    CHECK(e, port != closed);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(e, lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                 getsockname(lfd, (struct sockaddr *)&sa, &len) == 0 &&
                 listen(lfd, 4) == 0);
    put_file(e, "token", SECRET "\n", strlen(SECRET) + 1);
    snprintf(config, sizeof(config),
             "rules: $DATA/acme.yaml\n"
             "metrics: {listen: \"127.0.0.1:%u\"}\n"
             "log: {level: debug}\n"
             "sources:\n"
             "  - name: closed\n"
             "    type: x\n"
             "    url: http://127.0.0.1:%u/2/tweets/search/stream\n"
             "    token_file: $DIR/token\n"
             "  - name: denied\n"
             "    type: x\n"
             "    url: http://127.0.0.1:%u/2/tweets/search/stream\n"
             "    token_file: $DIR/token\n",
             port, closed, (unsigned)ntohs(sa.sin_port));
    write_config(e, config);
    daemon_start(e, NULL);
    CHECKF(e, answer_401(e, lfd, START_MS, &req),
           "the source 'denied' sent no request");
    close(lfd);
    CHECKF(e, strstr(req.data, "Bearer " SECRET "\r\n") != NULL,
           "the request carries no bearer token:\n%s", req.data);
    it_buf_release(&req);
    http_wait_up(e, port, "/health", &r);
    CHECKF(e, !strstr(r.body.data, SECRET), "/health: %s", r.body.data);
    it_buf_release(&r.body);
    WAIT_LOG(e, "[source:x:closed]", 2, WAIT_MS);
    WAIT_LOG(e, "[source:x:denied]", 2, WAIT_MS);
    it_sleep_ms(1000);
    samples = scrape(e, port, &metrics_text);
    json_decref(samples);
    CHECKF(e, !strstr(metrics_text, SECRET), "the token is in /metrics");
    free(metrics_text);
    stop_daemon(e);

    CHECK(e, strstr(e->err, "<7>[") != NULL); /* debug lines were written */
    CHECKF(e, !strstr(e->err, SECRET), "the token is in the log");
    CHECKF(e, !strstr(e->err, "tok-9f3Kq2"), "part of the token is in the log");
    out = read_in_dir(e, "stdout");
    CHECK(e, out && !strstr(out, SECRET));
    free(out);
    CHECK(e, strstr(e->err, "[source:x:denied]") != NULL);
    CHECK(e, strstr(e->err, "stays stopped") != NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_no_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_and_health, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_health_no_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logging_no_secret, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_while_running, setup,
                                        teardown),
    };
    int rc;

    /* A daemon that dies must not take the test with it. */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
