/*
 * log.h - leveled logging to stderr for journald.
 *
 * Every line starts with a syslog priority prefix (`<3>` error .. `<7>` debug)
 * that journald reads from a service's stderr, then `[component]`, then the
 * message. The macros check the level before any formatting. Secrets must
 * never be passed to them.
 *
 * The logger's settings are the only global state outside the daemon context:
 * main() sets them once with bm_log_set_level().
 */
#ifndef BRANDMON_LOG_H
#define BRANDMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum bm_log_level {
    BM_LOG_ERR = 3,
    BM_LOG_WARNING = 4,
    BM_LOG_NOTICE = 5,
    BM_LOG_INFO = 6,
    BM_LOG_DEBUG = 7,
};

extern enum bm_log_level bm_log_level;

void bm_log_set_level(enum bm_log_level level);
/* Parses "error", "warning", "notice", "info" or "debug". 0 or -EINVAL. */
int bm_log_parse_level(const char *name, enum bm_log_level *out);
void bm_log_write(enum bm_log_level level, const char *component,
                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define BM_LOG(level, component, ...)                                          \
    do {                                                                       \
        if ((level) <= bm_log_level)                                           \
            bm_log_write((level), (component), __VA_ARGS__);                   \
    } while (0)

#define BM_ERR(component, ...)   BM_LOG(BM_LOG_ERR, component, __VA_ARGS__)
#define BM_WARN(component, ...)  BM_LOG(BM_LOG_WARNING, component, __VA_ARGS__)
#define BM_INFO(component, ...)  BM_LOG(BM_LOG_INFO, component, __VA_ARGS__)
#define BM_DEBUG(component, ...) BM_LOG(BM_LOG_DEBUG, component, __VA_ARGS__)

/*
 * A rate limit for repeated messages (bad input): at most `burst` lines per
 * `interval_ms`; the first line after a quiet period says how many were
 * suppressed.
 */
struct bm_ratelimit {
    uint32_t interval_ms; /* window length */
    uint32_t burst;       /* lines allowed per window */
    uint64_t window_start;
    uint32_t printed;    /* lines in the current window */
    uint64_t suppressed; /* lines dropped since the last printed one */
};

#define BM_RATELIMIT_INIT(interval_ms, burst)                                  \
    {                                                                          \
        (interval_ms), (burst), 0, 0, 0                                        \
    }

/* True when a line may be printed now; counts the line as suppressed if not.
 * Takes the current time so that tests can drive it. */
bool bm_ratelimit_allow(struct bm_ratelimit *rl, uint64_t now_ms);

/* Logs a warning through @rl; the first line printed after some were dropped
 * says how many. */
void bm_log_ratelimited(struct bm_ratelimit *rl, const char *component,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define BM_WARN_RATELIMIT(rl, component, ...)                                  \
    do {                                                                       \
        if (BM_LOG_WARNING <= bm_log_level)                                    \
            bm_log_ratelimited((rl), (component), __VA_ARGS__);                \
    } while (0)

/* Monotonic clock in milliseconds. */
uint64_t bm_now_ms(void);

#endif
