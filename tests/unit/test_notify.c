/* test_notify.c - the sd_notify protocol (include/brandmon/notify.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "brandmon/notify.h"

/* A datagram socket standing in for systemd's notify socket. */
struct listener {
    int fd;
    char dir[64];
    char path[128];
};

static int setup_path(void **state)
{
    struct listener *l = calloc(1, sizeof(*l));
    struct sockaddr_un sa;

    if (!l)
        return -1;
    strcpy(l->dir, "/tmp/bm-notify-XXXXXX");
    if (!mkdtemp(l->dir))
        goto out_free;
    snprintf(l->path, sizeof(l->path), "%s/notify.sock", l->dir);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0)
        goto out_rmdir;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, l->path);
    if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        goto out_close;
    setenv("NOTIFY_SOCKET", l->path, 1);
    *state = l;
    return 0;

out_close:
    close(l->fd);
out_rmdir:
    rmdir(l->dir);
out_free:
    free(l);
    return -1;
}

static int teardown_path(void **state)
{
    struct listener *l = *state;

    unsetenv("NOTIFY_SOCKET");
    close(l->fd);
    unlink(l->path);
    rmdir(l->dir);
    free(l);
    return 0;
}

/* Reads the next datagram without waiting: the send is synchronous, so a
 * notification either is queued already or was never sent. Returns its
 * length, or -1 when there is none. */
static ssize_t next_datagram(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);

    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static void expect_datagram(int fd, const char *want)
{
    char buf[1024];

    assert_int_equal(next_datagram(fd, buf, sizeof(buf)), strlen(want));
    assert_string_equal(buf, want);
}

static void expect_nothing(int fd)
{
    char buf[1024];

    assert_int_equal(next_datagram(fd, buf, sizeof(buf)), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void test_states(void **state)
{
    struct listener *l = *state;

    bm_notify_ready();
    expect_datagram(l->fd, "READY=1");
    bm_notify_reloading();
    expect_datagram(l->fd, "RELOADING=1");
    bm_notify_stopping();
    expect_datagram(l->fd, "STOPPING=1");
    bm_notify_watchdog();
    expect_datagram(l->fd, "WATCHDOG=1");
    expect_nothing(l->fd);
}

static void test_status(void **state)
{
    struct listener *l = *state;
    char buf[1024];
    char big[600];
    ssize_t n;
    size_t i;

    bm_notify_status("%d sources, %s", 3, "12 rules");
    expect_datagram(l->fd, "STATUS=3 sources, 12 rules");
    bm_notify_status("%s", "");
    expect_datagram(l->fd, "STATUS=");

    /* A newline would start another assignment: only the first line. */
    bm_notify_status("first line\nREADY=1\n");
    expect_datagram(l->fd, "STATUS=first line");
    bm_notify_status("crlf\r\nrest");
    expect_datagram(l->fd, "STATUS=crlf");

    /* Long text is cut, not dropped. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bm_notify_status("%s", big);
    n = next_datagram(l->fd, buf, sizeof(buf));
    assert_true(n > (ssize_t)strlen("STATUS=") + 64);
    assert_true(n < (ssize_t)(strlen("STATUS=") + strlen(big)));
    assert_memory_equal(buf, "STATUS=", 7);
    for (i = 7; i < (size_t)n; i++)
        assert_int_equal(buf[i], 'x');
    expect_nothing(l->fd);
}

static void test_abstract_socket(void **state)
{
    struct sockaddr_un sa;
    char name[64];
    socklen_t len;
    int fd;

    (void)state;
    snprintf(name, sizeof(name), "@bm-notify-test-%ld", (long)getpid());
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, strlen(name));
    sa.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);

    setenv("NOTIFY_SOCKET", name, 1);
    bm_notify_ready();
    expect_datagram(fd, "READY=1");
    bm_notify_status("up %u", 7u);
    expect_datagram(fd, "STATUS=up 7");
    unsetenv("NOTIFY_SOCKET");
    close(fd);
}

static void test_no_socket(void **state)
{
    struct listener *l = *state;

    /* Not under systemd: every call is a no-op. The listener stays bound
     * to prove nothing reaches it. */
    unsetenv("NOTIFY_SOCKET");
    bm_notify_ready();
    bm_notify_reloading();
    bm_notify_stopping();
    bm_notify_watchdog();
    bm_notify_status("nobody hears %s", "this");
    expect_nothing(l->fd);

    /* A socket that is not there is no error either. */
    setenv("NOTIFY_SOCKET", "/nonexistent/brandmon/notify.sock", 1);
    bm_notify_ready();
    bm_notify_status("still %d", 1);
    expect_nothing(l->fd);

    /* And the listener still works once the variable is back. */
    setenv("NOTIFY_SOCKET", l->path, 1);
    bm_notify_watchdog();
    expect_datagram(l->fd, "WATCHDOG=1");
}

static void test_watchdog_usec(void **state)
{
    char pid[32];

    (void)state;
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(bm_notify_watchdog_usec(), 0);

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_USEC", "30000000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(bm_notify_watchdog_usec(), 30000000);

    /* Meant for another process (e.g. inherited by a child): not ours. */
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(bm_notify_watchdog_usec(), 0);

    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    setenv("WATCHDOG_USEC", "not-a-number", 1);
    assert_int_equal(bm_notify_watchdog_usec(), 0);
    setenv("WATCHDOG_USEC", "0", 1);
    assert_int_equal(bm_notify_watchdog_usec(), 0);

    setenv("WATCHDOG_USEC", "5000000", 1);
    assert_int_equal(bm_notify_watchdog_usec(), 5000000);

    unsetenv("WATCHDOG_USEC");
    assert_int_equal(bm_notify_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_states, setup_path, teardown_path),
        cmocka_unit_test_setup_teardown(test_status, setup_path, teardown_path),
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test_setup_teardown(test_no_socket, setup_path,
                                        teardown_path),
        cmocka_unit_test(test_watchdog_usec),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
