/*
 * notify.h - telling systemd how the daemon is (sd_notify).
 *
 * READY once sources and the sink are set up; RELOADING / READY around a
 * reload; STOPPING on the way out; STATUS with a one-line summary;
 * WATCHDOG pings from the loop, so a loop that hangs gets restarted.
 * Without $NOTIFY_SOCKET (not under systemd) every call does nothing, and
 * the daemon behaves the same.
 */
#ifndef BRANDMON_NOTIFY_H
#define BRANDMON_NOTIFY_H

#include <stdint.h>

void bm_notify_ready(void);
void bm_notify_reloading(void);
void bm_notify_stopping(void);
void bm_notify_watchdog(void);
/* STATUS=... (one line; longer text is cut). */
void bm_notify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd asked for (WATCHDOG_USEC for this pid), in
 * microseconds, or 0 when there is none. */
uint64_t bm_notify_watchdog_usec(void);

#endif
