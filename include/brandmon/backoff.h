/*
 * backoff.h - how long a source waits before it reconnects.
 *
 * Each API documents its own ladder (streams README): X waits nothing, then
 * 250 ms more per try up to 16 s after network errors, 5 s doubling to
 * 320 s after HTTP errors, 60 s doubling after 429; Mastodon retries at
 * once, then 1 s doubling to 60 s; generic SSE waits a few seconds (3 s, or
 * the server's `retry:`), doubling to 60 s; Jetstream 250 ms doubling to
 * 30 s.
 * A policy holds those numbers; a struct bm_backoff walks one ladder and
 * restarts it when the kind of failure changes or the stream was healthy.
 *
 * Jitter spreads reconnects of many daemons: the delay is scaled by a
 * factor drawn uniformly from [1 - jitter, 1 + jitter], never below 0,
 * except that an immediate first retry stays immediate.
 */
#ifndef BRANDMON_BACKOFF_H
#define BRANDMON_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

enum bm_backoff_kind {
    BM_BACKOFF_NETWORK,    /* refused, reset, DNS, TLS, stall, stream end */
    BM_BACKOFF_HTTP,       /* an HTTP error worth retrying (5xx, 4xx) */
    BM_BACKOFF_RATE_LIMIT, /* HTTP 429 (X's legacy 420) */
    BM_BACKOFF_KINDS,
};

/* One ladder: first, then +step (linear) or *2 (exponential), up to max. */
struct bm_backoff_ladder {
    uint64_t first_ms; /* the first wait (0: retry at once) */
    uint64_t step_ms;  /* linear: added per try; 0: exponential (doubling) */
    uint64_t start_ms; /* exponential: the wait after `first_ms` */
    uint64_t max_ms;   /* never longer */
};

struct bm_backoff_policy {
    struct bm_backoff_ladder ladder[BM_BACKOFF_KINDS];
    double jitter; /* 0 .. 0.5 */
};

struct bm_backoff {
    const struct bm_backoff_policy *policy; /* borrowed: static */
    enum bm_backoff_kind kind;              /* the ladder being walked */
    uint32_t tries;                         /* waits given on it */
    uint64_t last_ms;                       /* the last wait, no jitter */
};

/* The documented policies. */
extern const struct bm_backoff_policy bm_backoff_x;
extern const struct bm_backoff_policy bm_backoff_mastodon;
extern const struct bm_backoff_policy bm_backoff_sse;
extern const struct bm_backoff_policy bm_backoff_jetstream;
extern const struct bm_backoff_policy bm_backoff_poll;

void bm_backoff_init(struct bm_backoff *b, const struct bm_backoff_policy *p);
/* The stream was healthy: the next failure starts at the bottom again. */
void bm_backoff_reset(struct bm_backoff *b);
/*
 * The wait before the next try after a failure of @kind. @rnd is a uniform
 * random 32-bit value (the caller's generator, so tests are repeatable).
 * Switching kinds restarts the ladder of the new kind.
 */
uint64_t bm_backoff_next(struct bm_backoff *b, enum bm_backoff_kind kind,
                         uint32_t rnd);
const char *bm_backoff_kind_name(enum bm_backoff_kind kind);

#endif
