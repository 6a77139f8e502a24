/*
 * harness.h - the plumbing brandmon's integration tests share: time,
 * growing strings, temporary folders and files, child processes (spawned,
 * waited for against a deadline, stopped), free ports, and the servers the
 * tests run beside the daemon (redis-server, mockstream, mockws).
 *
 * Contract for every function below:
 * - "Fails the test" means cmocka's fail_msg(): it prints why and jumps out
 *   of the running test or fixture (setup, teardown, group setup). These
 *   functions are therefore only for use while cmocka runs one of those.
 *   Anything the function acquired itself is released before it fails;
 *   what the caller holds (a pid it passed in, say) stays the caller's.
 * - Functions that return int return 0 or a negative errno, unless their
 *   comment says otherwise; pointers returned are the caller's to free()
 *   unless said otherwise.
 * - Deadlines are in milliseconds of the monotonic clock (it_now_ms()).
 * - Nothing here keeps state between calls; everything runs on the test's
 *   one thread.
 */
#ifndef BRANDMON_IT_HARNESS_H
#define BRANDMON_IT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* ---- time ---- */

/* Milliseconds of CLOCK_MONOTONIC. Cannot fail. */
long long it_now_ms(void);

/* Sleeps @ms milliseconds, resuming after signals. Cannot fail. */
void it_sleep_ms(long ms);

/* ---- growing strings ---- */

/*
 * A growing byte string. Zero-initialise it; once anything (even "", with
 * @n 0) was put, @data is non-NULL and NUL-terminated at @len (the bytes
 * may hold NULs of their own). Release with it_buf_release().
 */
struct it_buf {
    char *data; /* owned; NULL until the first put */
    size_t len; /* bytes in @data, without the terminating NUL */
    size_t cap; /* bytes allocated */
};

/* Appends @n bytes from @p. Fails the test when out of memory. */
void it_buf_put(struct it_buf *b, const void *p, size_t n);

/* Appends printf(@fmt, ...). Fails the test when out of memory or when
 * @fmt cannot be formatted. */
__attribute__((format(printf, 2, 3))) void it_buf_printf(struct it_buf *b,
                                                         const char *fmt, ...);

/* Frees @b's bytes and zeroes it, ready for reuse. Cannot fail. */
void it_buf_release(struct it_buf *b);

/* How often @needle occurs in @hay, not overlapping; 0 when @hay is NULL.
 * @needle must not be empty. Cannot fail. */
size_t it_count_str(const char *hay, const char *needle);

/* ---- folders and files ---- */

/*
 * Creates a fresh folder /tmp/bm_@name.XXXXXX (mode 0700) and writes its
 * path to @dir (@n bytes). Returns 0, -ENAMETOOLONG when the path does not
 * fit, or mkdtemp's -errno. Does not fail the test (for setup functions
 * that report failure by their return value).
 */
int it_mkdtemp(char *dir, size_t n, const char *name);

/* Removes @dir and everything below it, never following symbolic links.
 * Errors are ignored (for teardown functions); NULL or "" does nothing. */
void it_remove_tree(const char *dir);

/*
 * The whole file @path, NUL-terminated (the bytes may hold NULs of their
 * own); its length in *@len unless @len is NULL. Returns NULL, with errno
 * set, when the file cannot be opened or read; the caller frees the
 * result. Fails the test when out of memory.
 */
char *it_read_file(const char *path, size_t *len);

/* True when @path can be read and contains @needle. Cannot fail. */
bool it_file_has(const char *path, const char *needle);

/* Polls @path every 50 ms until it contains @needle: true, or false once
 * @ms have passed without it. Cannot fail. */
bool it_wait_file_has(const char *path, const char *needle, long long ms);

/*
 * Writes @len bytes of @data to @path, through "@path.part" renamed over
 * @path, so a process reading @path never sees half of it. Fails the test
 * when anything goes wrong.
 */
void it_write_file(const char *path, const void *data, size_t len);

/* Writes {"routes": @routes} to @path as a mockstream script (see
 * tests/mock/mockstream.c). Takes @routes, also when it fails the test
 * (when @routes is NULL or the file cannot be written). */
void it_write_script(const char *path, json_t *routes);

/* ---- child processes ---- */

/*
 * A copy of environ without the variables named in @drop (NULL-terminated
 * names, without '='; NULL: drop none), followed by @extra
 * (NULL-terminated "NAME=value" strings; NULL: none). The array is the
 * caller's to free(); its strings are borrowed from environ and @extra.
 * Fails the test when out of memory.
 */
char **it_make_env(const char *const *drop, const char *const *extra);

/* it_spawn() flag: open @out and @err for appending, not truncated. */
#define IT_APPEND 0x1

/*
 * Starts argv[0] (a path) with @argv (NULL-terminated) and @envp (NULL:
 * environ). Its stdin reads the file @in, its stdout and stderr write the
 * files @out and @err (created 0644, truncated unless @flags has
 * IT_APPEND); a NULL name leaves that stream the test's own. When @err
 * names the same file as @out, stderr shares stdout's open file. Returns
 * the pid, for it_wait_pid(), it_stop() or it_kill(); fails the test when
 * the process cannot be started.
 */
pid_t it_spawn(const char *const *argv, char *const *envp, const char *in,
               const char *out, const char *err, int flags);

/*
 * Waits up to @ms for the child @pid to exit and reaps it. Returns its
 * wait status (see waitpid(2)), or -1 with errno ETIMEDOUT when it still
 * runs after @ms (it is left running) or with waitpid's errno when @pid
 * cannot be waited for. Does not fail the test.
 */
int it_wait_pid(pid_t pid, long long ms);

/* A wait status as one number: the exit code, or 128 + the signal that
 * ended the process. Cannot fail. */
int it_exit_code(int status);

/* Describes a wait status (-1: "still running") in @out, @n bytes.
 * Cannot fail. */
void it_describe_status(int status, char *out, size_t n);

/*
 * Stops the child @pid: SIGTERM, up to @ms for it to exit, then SIGKILL.
 * Always reaps it. Returns how it ended (a wait status), or -1 when @pid
 * is not positive or cannot be waited for. Does not fail the test.
 */
int it_stop(pid_t pid, long long ms);

/* SIGKILL to the child @pid, then reaps it; nothing when @pid is not
 * positive. Does not fail the test. */
void it_kill(pid_t pid);

/* One run of a program to its end, with its output captured. */
struct it_run {
    int status;        /* it_exit_code() of how it ended */
    struct it_buf out; /* stdout, always NUL-terminated */
    struct it_buf err; /* stderr, always NUL-terminated */
};

/*
 * Runs @path with @argv (NULL-terminated; argv[0] need not be @path) and
 * @envp (NULL: environ) to its end, filling @r (any previous content is
 * overwritten, not freed). Its stdin is /dev/null when @in is NULL, else a
 * pipe fed the @inlen bytes of @in and then closed. Returns 0, or
 * -ETIMEDOUT when it ran longer than @ms: then it was killed with SIGKILL
 * and @r holds what it printed until then. Either way the caller releases
 * @r with it_run_release(). Fails the test (after killing the child) when
 * it cannot be started or its output cannot be read. A child that exits
 * before reading all of @in raises SIGPIPE in the test: ignore SIGPIPE
 * when that can happen.
 */
int it_run(struct it_run *r, const char *path, const char *const *argv,
           char *const *envp, const char *in, size_t inlen, long long ms);

/* Frees @r's output and zeroes it. Cannot fail. */
void it_run_release(struct it_run *r);

/* ---- ports and servers ---- */

/* A TCP port on 127.0.0.1 that nothing listens on (just released). Fails
 * the test when no socket can be bound. */
unsigned it_free_port(void);

/*
 * Finds a program: @given when it is a non-empty path to an executable
 * (a path found at build time), else @name in the folders of $PATH
 * (/usr/local/bin:/usr/bin:/bin when PATH is unset). Writes the path to
 * @out (@n bytes): true, or false when there is none. Cannot fail.
 */
bool it_find_tool(const char *given, const char *name, char *out, size_t n);

/*
 * Waits up to @ms for the server *@pid (mockstream, mockws) to write
 * @port_file, which must hold a port as decimal digits and "\n", and
 * returns that port. Fails the test, printing @err_file (the server's
 * stderr; NULL: none) first, when the server exits before (it is reaped
 * and *@pid set to 0), when the file holds anything else, or after @ms
 * (the server is left running: *@pid stays the caller's to stop).
 */
unsigned it_wait_port(pid_t *pid, const char *port_file, const char *err_file,
                      long long ms);

/*
 * Starts @server (a redis-server) on 127.0.0.1:@port and waits up to @ms
 * until it answers PING with PONG. With @dir it keeps an append-only file
 * there, fsync'ed on every write (restarting it on the same @dir reloads
 * it); with @dir NULL it keeps nothing. Its stdout and stderr are appended
 * to @log (NULL: /dev/null). Returns its pid, for it_stop(). Fails the
 * test when it exits first or does not answer in time (then it is
 * killed first).
 */
pid_t it_redis_start(const char *server, unsigned port, const char *dir,
                     const char *log, long long ms);

#endif /* BRANDMON_IT_HARNESS_H */
