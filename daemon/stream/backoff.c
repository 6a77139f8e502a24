/*
 * backoff.c - reconnect ladders with the numbers each API documents.
 *
 * Pure arithmetic: no clock, no randomness of its own (the caller passes a
 * random value), so the ladders can be tested exactly.
 */
#include "brandmon/backoff.h"

#define S(x)   ((uint64_t)(x)*1000)
#define MIN(x) ((uint64_t)(x)*60 * 1000)

/* X API v2 filtered stream (streams README 1.5): network errors linear from
 * 0 by 250 ms to 16 s; HTTP errors 5 s doubling to 320 s; 429 60 s doubling,
 * capped at one 15-minute rate-limit window (ours). */
const struct bm_backoff_policy bm_backoff_x = {
    .ladder = {
        [BM_BACKOFF_NETWORK] = { 0, 250, 0, S(16) },
        [BM_BACKOFF_HTTP] = { S(5), 0, S(10), S(320) },
        [BM_BACKOFF_RATE_LIMIT] = { S(60), 0, S(120), MIN(15) },
    },
    .jitter = 0.1,
};

/* Mastodon (2.4, ours): at once, then 1 s doubling to 60 s, +-20 %. */
const struct bm_backoff_policy bm_backoff_mastodon = {
    .ladder = {
        [BM_BACKOFF_NETWORK] = { 0, 0, S(1), S(60) },
        [BM_BACKOFF_HTTP] = { S(1), 0, S(2), S(60) },
        [BM_BACKOFF_RATE_LIMIT] = { S(60), 0, S(120), MIN(15) },
    },
    .jitter = 0.2,
};

/* Generic SSE (3.2): a few seconds (the server's retry: replaces the first
 * wait), doubling to 60 s on repeated failures. */
const struct bm_backoff_policy bm_backoff_sse = {
    .ladder = {
        [BM_BACKOFF_NETWORK] = { S(3), 0, S(6), S(60) },
        [BM_BACKOFF_HTTP] = { S(5), 0, S(10), S(300) },
        [BM_BACKOFF_RATE_LIMIT] = { S(60), 0, S(120), MIN(15) },
    },
    .jitter = 0.2,
};

/* Jetstream (4.1): the official client's 250 ms doubling to 30 s. */
const struct bm_backoff_policy bm_backoff_jetstream = {
    .ladder = {
        [BM_BACKOFF_NETWORK] = { 250, 0, 500, S(30) },
        [BM_BACKOFF_HTTP] = { S(1), 0, S(2), S(30) },
        [BM_BACKOFF_RATE_LIMIT] = { S(60), 0, S(120), MIN(15) },
    },
    .jitter = 0.2,
};

/* Polled APIs: a failed poll is retried sooner than the next interval, but
 * a 429 waits for the window (the rate-limit headers may say longer). */
const struct bm_backoff_policy bm_backoff_poll = {
    .ladder = {
        [BM_BACKOFF_NETWORK] = { S(5), 0, S(10), MIN(5) },
        [BM_BACKOFF_HTTP] = { S(10), 0, S(20), MIN(10) },
        [BM_BACKOFF_RATE_LIMIT] = { S(60), 0, S(120), MIN(15) },
    },
    .jitter = 0.2,
};

const char *bm_backoff_kind_name(enum bm_backoff_kind kind)
{
    static const char *const names[] = { "network", "http", "rate-limit" };

    return kind < BM_BACKOFF_KINDS ? names[kind] : "?";
}

void bm_backoff_init(struct bm_backoff *b, const struct bm_backoff_policy *p)
{
    b->policy = p;
    bm_backoff_reset(b);
}

void bm_backoff_reset(struct bm_backoff *b)
{
    b->kind = BM_BACKOFF_NETWORK;
    b->tries = 0;
    b->last_ms = 0;
}

static uint64_t ladder_step(const struct bm_backoff_ladder *l, uint32_t tries,
                            uint64_t last)
{
    uint64_t next;

    if (tries == 0)
        return l->first_ms;
    if (l->step_ms)
        next = last + l->step_ms;
    else if (tries == 1)
        next = l->start_ms;
    else
        next = last > l->max_ms / 2 ? l->max_ms : last * 2;
    return next > l->max_ms ? l->max_ms : next;
}

uint64_t bm_backoff_next(struct bm_backoff *b, enum bm_backoff_kind kind,
                         uint32_t rnd)
{
    const struct bm_backoff_ladder *l = &b->policy->ladder[kind];
    double factor;
    uint64_t wait;

    if (kind != b->kind) {
        b->kind = kind;
        b->tries = 0;
        b->last_ms = 0;
    }
    wait = ladder_step(l, b->tries, b->last_ms);
    b->last_ms = wait;
    if (b->tries < UINT32_MAX)
        b->tries++;
    if (wait == 0)
        return 0;
    /* A factor in [1 - jitter, 1 + jitter] from the 32 random bits. */
    factor = 1.0 + b->policy->jitter * (2.0 * (rnd / 4294967295.0) - 1.0);
    return (uint64_t)((double)wait * factor);
}
