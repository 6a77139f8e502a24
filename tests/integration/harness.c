/*
 * harness.c - the plumbing brandmon's integration tests share (see
 * harness.h for the contract of each function).
 *
 * It does what every test program needs around the processes it checks:
 * reading the clock, growing strings, making and removing temporary
 * folders, reading and writing whole files, spawning children with their
 * standard streams redirected, waiting for them against a deadline and
 * stopping them, finding a free port on 127.0.0.1, and starting the
 * servers the tests run beside the daemon (redis-server; mockstream and
 * mockws through their port files). It knows nothing of brandmond itself,
 * its config, its output or what a test asserts: those stay in the test
 * files. It does not link hiredis or libcurl (redis-server's PING is
 * spoken over a plain socket), so every integration test can link it.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

/* ---- time ---- */

long long it_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- growing strings ---- */

/* Makes room for @n more bytes and a NUL in @b; fails the test when out
 * of memory. */
static void reserve(struct it_buf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 1024;
    char *data;

    if (b->len + n + 1 <= b->cap)
        return;
    while (cap < b->len + n + 1)
        cap *= 2;
    data = realloc(b->data, cap);
    if (!data)
        fail_msg("out of memory");
    b->data = data;
    b->cap = cap;
}

void it_buf_put(struct it_buf *b, const void *p, size_t n)
{
    reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void it_buf_printf(struct it_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail_msg("it_buf_printf: cannot format \"%s\"", fmt);
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void it_buf_release(struct it_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

size_t it_count_str(const char *hay, const char *needle)
{
    size_t n = 0, k = strlen(needle);

    for (const char *p = hay; p && (p = strstr(p, needle)); p += k)
        n++;
    return n;
}

/* ---- folders and files ---- */

int it_mkdtemp(char *dir, size_t n, const char *name)
{
    int len = snprintf(dir, n, "/tmp/bm_%s.XXXXXX", name);

    if (len < 0 || (size_t)len >= n)
        return -ENAMETOOLONG;
    return mkdtemp(dir) ? 0 : -errno;
}

void it_remove_tree(const char *dir)
{
    struct stat st;
    struct dirent *de;
    DIR *d;

    if (!dir || !*dir)
        return;
    if (lstat(dir, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(dir);
        return;
    }
    d = opendir(dir);
    if (d) {
        while ((de = readdir(d))) {
            char path[PATH_MAX];
            int len;

            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            len = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            if (len > 0 && (size_t)len < sizeof(path))
                it_remove_tree(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

char *it_read_file(const char *path, size_t *len)
{
    struct it_buf b = { 0 };
    char chunk[8192];
    size_t got;
    FILE *f = fopen(path, "rb");
    int err;

    if (!f)
        return NULL;
    it_buf_put(&b, "", 0);
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        it_buf_put(&b, chunk, got);
    if (ferror(f)) {
        err = errno;
        fclose(f);
        it_buf_release(&b);
        errno = err;
        return NULL;
    }
    fclose(f);
    if (len)
        *len = b.len;
    return b.data;
}

bool it_file_has(const char *path, const char *needle)
{
    char *text = it_read_file(path, NULL);
    bool has = text && strstr(text, needle);

    free(text);
    return has;
}

bool it_wait_file_has(const char *path, const char *needle, long long ms)
{
    long long deadline = it_now_ms() + ms;

    while (it_now_ms() < deadline) {
        if (it_file_has(path, needle))
            return true;
        it_sleep_ms(50);
    }
    return false;
}

void it_write_file(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    FILE *f;
    int n = snprintf(tmp, sizeof(tmp), "%s.part", path);

    if (n < 0 || (size_t)n >= sizeof(tmp))
        fail_msg("cannot write %s: the name is too long", path);
    f = fopen(tmp, "wb");
    if (!f)
        fail_msg("cannot write %s: %s", tmp, strerror(errno));
    if (fwrite(data, 1, len, f) != len) {
        fclose(f);
        unlink(tmp);
        fail_msg("cannot write %s", tmp);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        fail_msg("cannot write %s: %s", path, strerror(errno));
    }
}

void it_write_script(const char *path, json_t *routes)
{
    json_t *root = routes ? json_pack("{s:o}", "routes", routes) : NULL;
    int rc = root ? json_dump_file(root, path, JSON_INDENT(1)) : -1;

    json_decref(root);
    if (rc != 0)
        fail_msg("cannot write the mock's script %s", path);
}

/* ---- child processes ---- */

/* True when @entry ("NAME=value") names one of @names. */
static bool env_named(const char *entry, const char *const *names)
{
    for (; names && *names; names++) {
        size_t k = strlen(*names);

        if (!strncmp(entry, *names, k) && entry[k] == '=')
            return true;
    }
    return false;
}

char **it_make_env(const char *const *drop, const char *const *extra)
{
    size_t n = 0, m = 0, k = 0;
    char **envp;

    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    envp = calloc(n + m + 1, sizeof(*envp));
    if (!envp)
        fail_msg("out of memory");
    for (size_t i = 0; i < n; i++)
        if (!env_named(environ[i], drop))
            envp[k++] = environ[i];
    for (size_t i = 0; i < m; i++)
        envp[k++] = (char *)extra[i];
    envp[k] = NULL;
    return envp;
}

pid_t it_spawn(const char *const *argv, char *const *envp, const char *in,
               const char *out, const char *err, int flags)
{
    int mode = O_WRONLY | O_CREAT | (flags & IT_APPEND ? O_APPEND : O_TRUNC);
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc;

    posix_spawn_file_actions_init(&fa);
    if (in)
        posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
    if (out)
        posix_spawn_file_actions_addopen(&fa, 1, out, mode, 0644);
    if (err && out && !strcmp(err, out))
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    else if (err)
        posix_spawn_file_actions_addopen(&fa, 2, err, mode, 0644);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                     envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot run %s: %s", argv[0], strerror(rc));
    return pid;
}

int it_wait_pid(pid_t pid, long long ms)
{
    long long deadline = it_now_ms() + ms;
    int st;

    for (;;) {
        pid_t got = waitpid(pid, &st, WNOHANG);

        if (got == pid)
            return st;
        if (got < 0 && errno != EINTR)
            return -1;
        if (it_now_ms() > deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        it_sleep_ms(5);
    }
}

int it_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

void it_describe_status(int status, char *out, size_t n)
{
    if (status == -1)
        snprintf(out, n, "still running");
    else if (WIFEXITED(status))
        snprintf(out, n, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, n, "status %#x", status);
}

int it_stop(pid_t pid, long long ms)
{
    int st;

    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    st = it_wait_pid(pid, ms);
    if (st == -1 && errno == ETIMEDOUT) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, 0) < 0)
            if (errno != EINTR)
                return -1;
    }
    return st;
}

void it_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Reads what is there on *@fd into @b; closes it and sets it to -1 at
 * the end of the stream. */
static void drain(int *fd, struct it_buf *b)
{
    char chunk[8192];
    ssize_t n = read(*fd, chunk, sizeof(chunk));

    if (n > 0) {
        it_buf_put(b, chunk, (size_t)n);
    } else if (n == 0 || errno != EINTR) {
        close(*fd);
        *fd = -1;
    }
}

/* Writes what more of @in the pipe *@fd takes; closes it and sets it to
 * -1 once all @inlen bytes are written or the reader has gone. */
static void feed(int *fd, const char *in, size_t inlen, size_t *written)
{
    ssize_t n = write(*fd, in + *written, inlen - *written);

    if (n > 0)
        *written += (size_t)n;
    if ((n < 0 && errno != EAGAIN && errno != EINTR) || *written == inlen) {
        close(*fd);
        *fd = -1;
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void close_pipe(int p[2])
{
    close_fd(&p[0]);
    close_fd(&p[1]);
}

int it_run(struct it_run *r, const char *path, const char *const *argv,
           char *const *envp, const char *in, size_t inlen, long long ms)
{
    int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
    long long deadline = it_now_ms() + ms;
    posix_spawn_file_actions_t fa;
    bool timed_out = false;
    size_t written = 0;
    pid_t pid;
    int st, rc;

    memset(r, 0, sizeof(*r));
    it_buf_put(&r->out, "", 0);
    it_buf_put(&r->err, "", 0);
    if ((in && pipe(pin) != 0) || pipe(pout) != 0 || pipe(perr) != 0) {
        rc = errno;
        close_pipe(pin);
        close_pipe(pout);
        close_pipe(perr);
        fail_msg("pipe: %s", strerror(rc));
    }
    posix_spawn_file_actions_init(&fa);
    if (in) {
        posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
        posix_spawn_file_actions_addclose(&fa, pin[1]);
    } else {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    posix_spawn_file_actions_addclose(&fa, pout[0]);
    posix_spawn_file_actions_addclose(&fa, perr[0]);
    rc = posix_spawn(&pid, path, &fa, NULL, (char *const *)argv,
                     envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    close_fd(&pin[0]);
    close_fd(&pout[1]);
    close_fd(&perr[1]);
    if (rc != 0) {
        close_pipe(pin);
        close_pipe(pout);
        close_pipe(perr);
        fail_msg("cannot run %s: %s", path, strerror(rc));
    }
    if (pin[1] >= 0 && inlen == 0)
        close_fd(&pin[1]);
    if (pin[1] >= 0)
        fcntl(pin[1], F_SETFL, O_NONBLOCK);

    while (pout[0] >= 0 || perr[0] >= 0) {
        struct pollfd pf[3] = {
            { pout[0], POLLIN, 0 },
            { perr[0], POLLIN, 0 },
            { pin[1], POLLOUT, 0 },
        };
        long long left = deadline - it_now_ms();

        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(pf, 3, (int)left) < 0) {
            if (errno == EINTR)
                continue;
            rc = errno;
            it_kill(pid);
            close_pipe(pin);
            close_pipe(pout);
            close_pipe(perr);
            fail_msg("poll: %s", strerror(rc));
        }
        if (pout[0] >= 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            drain(&pout[0], &r->out);
        if (perr[0] >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
            drain(&perr[0], &r->err);
        if (pin[1] >= 0 && (pf[2].revents & (POLLOUT | POLLERR | POLLHUP)))
            feed(&pin[1], in, inlen, &written);
    }
    if (timed_out)
        kill(pid, SIGKILL);
    close_pipe(pin);
    close_pipe(pout);
    close_pipe(perr);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));
    r->status = it_exit_code(st);
    return timed_out ? -ETIMEDOUT : 0;
}

void it_run_release(struct it_run *r)
{
    it_buf_release(&r->out);
    it_buf_release(&r->err);
    r->status = 0;
}

/* ---- ports and servers ---- */

unsigned it_free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        int err = errno;

        if (fd >= 0)
            close(fd);
        fail_msg("cannot find a free port: %s", strerror(err));
    }
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

bool it_find_tool(const char *given, const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");

    if (given && given[0] && access(given, X_OK) == 0) {
        snprintf(out, n, "%s", given);
        return true;
    }
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");

        snprintf(out, n, "%.*s/%s", (int)len, path, name);
        if (len && access(out, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

/* Prints the file @path (a server's stderr) to our stderr, if there is
 * one. */
static void print_err_file(const char *path)
{
    char *text = path ? it_read_file(path, NULL) : NULL;

    if (text)
        fprintf(stderr, "----- %s -----\n%s\n", path, text);
    free(text);
}

/* The port in @text: decimal digits and "\n", in 1..65535; 0 otherwise. */
static unsigned parse_port(const char *text)
{
    char *end;
    unsigned long port;

    if (*text < '0' || *text > '9')
        return 0;
    port = strtoul(text, &end, 10);
    if (*end != '\n' || end[1] != '\0' || port == 0 || port > 65535)
        return 0;
    return (unsigned)port;
}

unsigned it_wait_port(pid_t *pid, const char *port_file, const char *err_file,
                      long long ms)
{
    long long deadline = it_now_ms() + ms;

    while (it_now_ms() < deadline) {
        char *text = it_read_file(port_file, NULL);
        int st;

        if (text) {
            unsigned port = parse_port(text);

            free(text);
            if (!port) {
                print_err_file(err_file);
                fail_msg("port file %s is malformed", port_file);
            }
            return port;
        }
        if (waitpid(*pid, &st, WNOHANG) == *pid) {
            char how[64];

            *pid = 0;
            it_describe_status(st, how, sizeof(how));
            print_err_file(err_file);
            fail_msg("the server writing %s ended first (%s)", port_file, how);
        }
        it_sleep_ms(10);
    }
    print_err_file(err_file);
    fail_msg("no port in %s after %lld ms", port_file, ms);
    return 0;
}

/* True when a redis-server on 127.0.0.1:@port answers PING with PONG
 * within about @ms (RESP spoken by hand: no hiredis here). */
static bool redis_pong(unsigned port, int ms)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    char reply[64];
    size_t got = 0;
    bool pong = false;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return false;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        send(fd, ping, sizeof(ping) - 1, MSG_NOSIGNAL) !=
            (ssize_t)(sizeof(ping) - 1))
        goto out_close_fd;
    while (got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
        ssize_t n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);

        if (n <= 0)
            goto out_close_fd;
        got += (size_t)n;
    }
    reply[got] = '\0';
    pong = strcmp(reply, "+PONG\r\n") == 0;
out_close_fd:
    close(fd);
    return pong;
}

pid_t it_redis_start(const char *server, unsigned port, const char *dir,
                     const char *log, long long ms)
{
    char port_s[16];
    const char *argv[20];
    size_t n = 0;
    long long deadline = it_now_ms() + ms;
    pid_t pid;

    snprintf(port_s, sizeof(port_s), "%u", port);
    argv[n++] = server;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = port_s;
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    if (dir) {
        argv[n++] = "yes";
        argv[n++] = "--appendfsync";
        argv[n++] = "always";
        argv[n++] = "--dir";
        argv[n++] = dir;
    } else {
        argv[n++] = "no";
    }
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    argv[n] = NULL;
    if (!log)
        log = "/dev/null";
    pid = it_spawn(argv, NULL, "/dev/null", log, log, IT_APPEND);
    while (it_now_ms() < deadline) {
        int st;

        if (redis_pong(port, 200))
            return pid;
        if (waitpid(pid, &st, WNOHANG) == pid)
            fail_msg("redis-server on port %u exited; see %s", port, log);
        it_sleep_ms(30);
    }
    it_kill(pid);
    fail_msg("redis-server on port %u did not answer in %lld ms", port, ms);
    return 0;
}
