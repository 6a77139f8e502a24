/*
 * log.c - leveled, rate-limited logging to stderr in journald's format.
 *
 * Each line is `<N>[component] message\n`, where N is the syslog priority
 * that journald reads from a service's stderr. A line is built in a stack
 * buffer and written with one fwrite(), so lines from one process never
 * interleave mid-line; line breaks inside a message become spaces so that one
 * call is one journal entry, and a message longer than LOG_LINE_MAX is cut
 * (at a UTF-8 character edge) and ends in "...". Logging never allocates, so
 * it works when memory is short.
 *
 * The level is the only global: main() sets it once. Nothing here filters
 * secrets; callers must never pass them.
 */
#include "brandmon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_LINE_MAX 8192
/* Bytes kept free for "...", the suppressed-count suffix and the newline. */
#define LOG_TAIL_ROOM 64

enum bm_log_level bm_log_level = BM_LOG_INFO;

static const struct {
    const char *name;
    enum bm_log_level level;
} level_names[] = {
    { "error", BM_LOG_ERR },     { "warning", BM_LOG_WARNING },
    { "notice", BM_LOG_NOTICE }, { "info", BM_LOG_INFO },
    { "debug", BM_LOG_DEBUG },
};

void bm_log_set_level(enum bm_log_level level)
{
    bm_log_level = level;
}

int bm_log_parse_level(const char *name, enum bm_log_level *out)
{
    size_t i;

    if (!name)
        return -EINVAL;
    for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i].name) == 0) {
            if (out)
                *out = level_names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

/* Moves @len back so that the text does not end inside a UTF-8 sequence
 * (only a sequence cut short is dropped; bytes before @start are kept). */
static size_t utf8_cut(const char *s, size_t start, size_t len)
{
    size_t end = len, want;
    unsigned char lead;

    while (end > start && ((unsigned char)s[end - 1] & 0xC0) == 0x80)
        end--;
    if (end == start)
        return len; /* no lead byte in reach: not UTF-8, leave it */
    lead = (unsigned char)s[end - 1];
    if (lead < 0xC0)
        return len; /* ends in ASCII, or stray continuation bytes */
    want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return len - (end - 1) >= want ? len : end - 1;
}

static void log_emit(enum bm_log_level level, const char *component,
                     uint64_t suppressed, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void log_emit(enum bm_log_level level, const char *component,
                     uint64_t suppressed, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    size_t len, start, avail, i;
    int n;

    if (component)
        n = snprintf(line, sizeof(line), "<%d>[%.64s] ", (int)level, component);
    else
        n = snprintf(line, sizeof(line), "<%d>", (int)level);
    if (n < 0)
        return;
    start = (size_t)n;
    avail = sizeof(line) - start - LOG_TAIL_ROOM;
    n = vsnprintf(line + start, avail, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= avail) {
        len = utf8_cut(line, start, start + avail - 1);
        memcpy(line + len, "...", 3);
        len += 3;
    } else {
        len = start + (size_t)n;
    }
    for (i = start; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    if (suppressed) {
        n = snprintf(line + len, sizeof(line) - len,
                     " (%llu similar messages suppressed)",
                     (unsigned long long)suppressed);
        if (n > 0 && (size_t)n < sizeof(line) - len)
            len += (size_t)n;
    }
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

void bm_log_write(enum bm_log_level level, const char *component,
                  const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(level, component, 0, fmt, ap);
    va_end(ap);
}

bool bm_ratelimit_allow(struct bm_ratelimit *rl, uint64_t now_ms)
{
    /* A clock that went backwards also starts a new window. */
    if (now_ms < rl->window_start ||
        now_ms - rl->window_start >= rl->interval_ms) {
        rl->window_start = now_ms;
        rl->printed = 0;
    }
    if (rl->printed < rl->burst) {
        rl->printed++;
        return true;
    }
    rl->suppressed++;
    return false;
}

void bm_log_ratelimited(struct bm_ratelimit *rl, const char *component,
                        const char *fmt, ...)
{
    uint64_t dropped;
    va_list ap;

    if (BM_LOG_WARNING > bm_log_level)
        return;
    if (!bm_ratelimit_allow(rl, bm_now_ms()))
        return;
    dropped = rl->suppressed;
    rl->suppressed = 0;
    va_start(ap, fmt);
    log_emit(BM_LOG_WARNING, component, dropped, fmt, ap);
    va_end(ap);
}

uint64_t bm_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
