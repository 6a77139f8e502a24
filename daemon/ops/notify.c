/*
 * notify.c - the sd_notify protocol: telling systemd how the daemon is.
 *
 * Each call sends one "KEY=VALUE" datagram to the socket named by
 * $NOTIFY_SOCKET and forgets about it: a notification that cannot be sent
 * is dropped, because the daemon must run the same with or without systemd.
 * With libsystemd (BM_HAVE_SYSTEMD) the library does the sending; without
 * it, the same small protocol is spoken by hand (a path, or an abstract
 * socket when the name starts with '@'). The module keeps no state, reads
 * the environment on every call, and never unsets it. It does not decide
 * when to notify or how often to ping the watchdog; the daemon does.
 */
#include "brandmon/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BM_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

/* Longest STATUS= text sent; systemd shows one short line anyway. */
#define STATUS_MAX 200

#ifdef BM_HAVE_SYSTEMD

static void send_state(const char *state)
{
    /* 0: keep $NOTIFY_SOCKET, later calls still need it. */
    (void)sd_notify(0, state);
}

static uint64_t watchdog_usec(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0)
        return 0;
    return usec;
}

#else /* !BM_HAVE_SYSTEMD */

static void send_state(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    size_t n;
    int fd;

    if (!name || (name[0] != '/' && name[0] != '@'))
        return;
    n = strlen(name);
    if (n < 2 || n >= sizeof(sa.sun_path))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, n);
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (name[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: the length, not a NUL, ends it */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)sendto(fd, state, strlen(state), MSG_NOSIGNAL,
                 (const struct sockaddr *)&sa, salen);
    close(fd);
}

/* Parses a whole decimal number; false on anything else or overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    unsigned long long v;
    char *end;

    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static uint64_t watchdog_usec(void)
{
    const char *pid = getenv("WATCHDOG_PID");
    uint64_t usec, p;

    if (!parse_u64(getenv("WATCHDOG_USEC"), &usec) || usec == 0)
        return 0;
    /* Without WATCHDOG_PID the interval is for whoever reads it. */
    if (pid && (!parse_u64(pid, &p) || p != (uint64_t)getpid()))
        return 0;
    return usec;
}

#endif /* BM_HAVE_SYSTEMD */

void bm_notify_ready(void)
{
    send_state("READY=1");
}

void bm_notify_reloading(void)
{
    send_state("RELOADING=1");
}

void bm_notify_stopping(void)
{
    send_state("STOPPING=1");
}

void bm_notify_watchdog(void)
{
    send_state("WATCHDOG=1");
}

void bm_notify_status(const char *fmt, ...)
{
    static const char prefix[] = "STATUS=";
    char msg[sizeof(prefix) + STATUS_MAX];
    va_list ap;

    /* Not under systemd: skip the formatting too. */
    if (!getenv("NOTIFY_SOCKET"))
        return;
    memcpy(msg, prefix, sizeof(prefix) - 1);
    va_start(ap, fmt);
    /* vsnprintf cuts what does not fit, which is what the header promises. */
    if (vsnprintf(msg + sizeof(prefix) - 1, STATUS_MAX + 1, fmt, ap) < 0)
        msg[sizeof(prefix) - 1] = '\0';
    va_end(ap);
    /* One line: a newline would start a new KEY=VALUE assignment. */
    msg[sizeof(prefix) - 1 + strcspn(msg + sizeof(prefix) - 1, "\r\n")] = '\0';
    send_state(msg);
}

uint64_t bm_notify_watchdog_usec(void)
{
    return watchdog_usec();
}
