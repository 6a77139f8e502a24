/*
 * stream.c - the set of running sources: lifecycle, state machine, backoff
 * and stall timers, and the path from one wire message to a post.
 *
 * Transports (http.c, replay_source.c) move bytes and frames; everything
 * they have in common lives here, so that a source behaves the same way
 * whatever carries it: bad input is counted and logged at a limited rate,
 * repeats are dropped, failures wait per the API's backoff, silence is a
 * stall. This file never writes output: posts go to the daemon's callback.
 */
#include "brandmon/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "brandmon/text.h"
#include "brandmon/time.h"

#include "stream/stream_int.h"

struct bm_streams {
    struct event_base *base;     /* borrowed: the daemon's loop */
    const struct bm_config *cfg; /* borrowed: outlives the set */
    struct bm_curlev *curlev;    /* owned */
    struct bm_source *sources;   /* owned: cfg->nsources */
    size_t n;
    bm_stream_post_fn on_post;
    void *arg;
    uint64_t rng; /* xorshift state for jitter */
};

static const char *const state_names[] = {
    "idle", "connecting", "streaming", "backoff", "stopped",
};

static const char *const counter_names[BM_SC_COUNT] = {
    "bytes",      "frames",      "keepalives",   "posts",
    "duplicates", "ignored",     "connects",     "reconnects",
    "stalls",     "http_errors", "rate_limited",
};

const char *bm_source_state_name(enum bm_source_state state)
{
    return state <= BM_SOURCE_STOPPED ? state_names[state] : "?";
}

const char *bm_source_counter_name(enum bm_source_counter c)
{
    return c < BM_SC_COUNT ? counter_names[c] : "?";
}

const char *bm_source_name(const struct bm_source *src)
{
    return src->cfg->name;
}

const char *bm_source_type(const struct bm_source *src)
{
    return src->ops->name;
}

enum bm_source_state bm_source_state(const struct bm_source *src)
{
    return src->state;
}

const struct bm_source_stats *bm_source_stats(const struct bm_source *src)
{
    return &src->stats;
}

size_t bm_streams_count(const struct bm_streams *set)
{
    return set->n;
}

struct bm_source *bm_streams_get(struct bm_streams *set, size_t i)
{
    return i < set->n ? &set->sources[i] : NULL;
}

bool bm_streams_all_stopped(const struct bm_streams *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->sources[i].state != BM_SOURCE_STOPPED)
            return false;
    return true;
}

struct event_base *source_base(const struct bm_source *src)
{
    return src->set->base;
}

struct bm_curlev *source_curlev(const struct bm_source *src)
{
    return src->set->curlev;
}

uint32_t source_random(struct bm_source *src)
{
    uint64_t x = src->set->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    src->set->rng = x;
    return (uint32_t)(x >> 32);
}

void source_set_state(struct bm_source *src, enum bm_source_state state)
{
    if (src->state == state)
        return;
    SRC_LOG(BM_LOG_DEBUG, src, "%s -> %s", bm_source_state_name(src->state),
            bm_source_state_name(state));
    src->state = state;
}

/* ---- messages ---- */

void source_skip(struct bm_source *src, enum bm_skip_reason why,
                 const char *detail)
{
    src->stats.skipped[why]++;
    if (why == BM_SKIP_EMPTY)
        return;
    BM_WARN_RATELIMIT(&src->rl, src->tag, "skipped %s%s%s",
                      bm_skip_reason_name(why), detail ? ": " : "",
                      detail ? detail : "");
}

static void handle_item(struct bm_source *src, const json_t *item)
{
    const struct bm_field_map *map = &src->cfg->fields;
    struct bm_post post;
    char what[200];

    bm_post_init(&post);
    switch (src->format->field_map(item, map, &post)) {
    case BM_MAP_POST:
        break;
    case BM_MAP_IGNORE:
        src->stats.c[BM_SC_IGNORED]++;
        if (src->ops->describe && src->ops->describe(item, what, sizeof(what)))
            BM_WARN_RATELIMIT(&src->rl, src->tag, "the stream says: %s", what);
        goto out;
    case BM_MAP_NO_TEXT:
        source_skip(src, BM_SKIP_NO_TEXT, post.id);
        goto out;
    case BM_MAP_INVALID:
        source_skip(src, BM_SKIP_INVALID, src->format->name);
        goto out;
    }
    if (bm_dedup_seen(&src->dedup, post.id, strlen(post.id))) {
        src->stats.c[BM_SC_DUPLICATES]++;
        goto out;
    }
    post.source = src->cfg->name;
    post.raw = item;
    src->stats.c[BM_SC_POSTS]++;
    if (src->ops->transport == BM_TRANSPORT_POLL)
        http_note_post(src, &post);
    src->set->on_post(src, &post, src->set->arg);
out:
    bm_post_release(&post);
}

void source_message(struct bm_source *src, const char *data, size_t len)
{
    json_error_t jerr;
    const json_t *items;
    json_t *msg;
    char detail[200];

    msg = json_loadb(data, len, 0, &jerr);
    if (!msg) {
        if (!bm_utf8_is_valid(data, len)) {
            source_skip(src, BM_SKIP_INVALID_UTF8, NULL);
            return;
        }
        snprintf(detail, sizeof(detail), "%s at column %d", jerr.text,
                 jerr.column);
        source_skip(src, BM_SKIP_MALFORMED_JSON, detail);
        return;
    }
    items = src->format->unwrap ? src->format->unwrap(msg) : NULL;
    if (!items) {
        handle_item(src, msg);
    } else {
        for (size_t i = 0; i < json_array_size(items); i++)
            handle_item(src, json_array_get(items, i));
    }
    json_decref(msg);
}

/* ---- timers ---- */

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bm_source *src = arg;

    (void)fd;
    (void)what;
    if (src->stopping)
        return;
    src->stats.c[BM_SC_RECONNECTS]++;
    src->tr->start(src);
}

static void arm_ms(struct event *ev, uint64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000),
                          (suseconds_t)(ms % 1000) * 1000 };

    evtimer_add(ev, &tv);
}

void source_retry(struct bm_source *src, enum bm_backoff_kind kind,
                  uint64_t min_wait_ms, const char *why)
{
    uint64_t wait;

    evtimer_del(src->stall_timer);
    if (src->stopping) {
        source_set_state(src, BM_SOURCE_STOPPED);
        return;
    }
    if (src->connected_at && bm_now_ms() - src->connected_at >= BM_HEALTHY_MS)
        bm_backoff_reset(&src->backoff);
    src->connected_at = 0;
    wait = bm_backoff_next(&src->backoff, kind, source_random(src));
    if (wait < min_wait_ms)
        wait = min_wait_ms;
    source_set_state(src, BM_SOURCE_BACKOFF);
    src->retry_at = (uint64_t)bm_time_now_ms() + wait;
    SRC_LOG(BM_LOG_NOTICE, src, "%s; reconnecting in %llu ms (%s backoff)", why,
            (unsigned long long)wait, bm_backoff_kind_name(kind));
    arm_ms(src->retry_timer, wait);
}

void source_give_up(struct bm_source *src, const char *why)
{
    evtimer_del(src->stall_timer);
    evtimer_del(src->retry_timer);
    source_set_state(src, BM_SOURCE_STOPPED);
    BM_ERR(src->tag,
           "%s; this source stays stopped until a reload or "
           "restart",
           why);
}

static void stall_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bm_source *src = arg;
    uint64_t now = bm_now_ms(), quiet = now - src->last_byte_at;

    (void)fd;
    (void)what;
    if (src->state != BM_SOURCE_CONNECTING && src->state != BM_SOURCE_STREAMING)
        return;
    if (quiet >= src->stall_ms) {
        char why[96];

        src->stats.c[BM_SC_STALLS]++;
        snprintf(why, sizeof(why), "no byte for %llu ms: stalled",
                 (unsigned long long)quiet);
        src->tr->stop(src);
        source_retry(src, BM_BACKOFF_NETWORK, 0, why);
        return;
    }
    arm_ms(src->stall_timer, src->stall_ms - quiet);
}

void source_watch_stall(struct bm_source *src)
{
    src->last_byte_at = bm_now_ms();
    if (src->stall_ms)
        arm_ms(src->stall_timer, src->stall_ms);
}

/* ---- the set ---- */

static const struct transport_ops *transport_of(enum bm_transport t)
{
    switch (t) {
    case BM_TRANSPORT_STREAM:
        return &bm_transport_http_stream;
    case BM_TRANSPORT_POLL:
        return &bm_transport_http_poll;
    case BM_TRANSPORT_REPLAY:
        return &bm_transport_replay;
    case BM_TRANSPORT_WEBSOCKET:
    case BM_TRANSPORT_NONE:
        break;
    }
    return NULL;
}

static int source_init(struct bm_streams *set, struct bm_source *src,
                       const struct bm_source_config *cfg, const char **err)
{
    const char *fmt;

    src->set = set;
    src->cfg = cfg;
    src->ops = bm_source_type_find(cfg->type);
    if (!src->ops || !(src->tr = transport_of(src->ops->transport))) {
        *err = "a source type has no transport in this build";
        return -EINVAL;
    }
    fmt = cfg->format ? cfg->format : src->ops->format;
    src->format = fmt ? bm_source_format_find(fmt) : src->ops;
    if (!src->format || !src->format->field_map) {
        *err = "a source names an unknown format";
        return -EINVAL;
    }
    snprintf(src->tag, sizeof(src->tag), "source:%s:%s", src->ops->name,
             cfg->name);
    src->rl = (struct bm_ratelimit)BM_RATELIMIT_INIT(1000, 5);
    src->max_frame = cfg->max_frame ? cfg->max_frame : set->cfg->max_frame;
    src->stall_ms = cfg->stall_ms ? cfg->stall_ms : src->ops->stall_ms;
    bm_backoff_init(&src->backoff,
                    src->ops->backoff ? src->ops->backoff : &bm_backoff_sse);
    src->retry_timer = evtimer_new(set->base, retry_cb, src);
    src->stall_timer = evtimer_new(set->base, stall_cb, src);
    if (!src->retry_timer || !src->stall_timer ||
        bm_dedup_init(&src->dedup, cfg->dedup) || src->tr->init(src)) {
        *err = "out of memory";
        return -ENOMEM;
    }
    return 0;
}

static void source_release(struct bm_source *src)
{
    if (src->tr && src->impl)
        src->tr->stop(src);
    if (src->tr)
        src->tr->free(src);
    if (src->retry_timer)
        event_free(src->retry_timer);
    if (src->stall_timer)
        event_free(src->stall_timer);
    bm_dedup_release(&src->dedup);
    if (src->token) {
        explicit_bzero(src->token, strlen(src->token));
        free(src->token);
    }
}

struct bm_streams *bm_streams_new(struct event_base *base,
                                  const struct bm_config *cfg,
                                  bm_stream_post_fn on_post, void *arg,
                                  const char **err)
{
    struct bm_streams *set = calloc(1, sizeof(*set));
    struct timespec ts;

    *err = "out of memory";
    if (!set)
        return NULL;
    set->base = base;
    set->cfg = cfg;
    set->on_post = on_post;
    set->arg = arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    set->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
               ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15ull;
    set->curlev = bm_curlev_new(base);
    set->sources =
        calloc(cfg->nsources ? cfg->nsources : 1, sizeof(*set->sources));
    if (!set->curlev || !set->sources)
        goto out_free;
    for (size_t i = 0; i < cfg->nsources; i++) {
        set->n++;
        if (source_init(set, &set->sources[i], &cfg->sources[i], err))
            goto out_free;
    }
    return set;

out_free:
    bm_streams_free(set);
    return NULL;
}

void bm_streams_start(struct bm_streams *set)
{
    for (size_t i = 0; i < set->n; i++) {
        struct bm_source *src = &set->sources[i];

        src->stopping = false;
        SRC_LOG(BM_LOG_INFO, src, "starting");
        src->tr->start(src);
    }
}

void bm_streams_stop(struct bm_streams *set)
{
    for (size_t i = 0; i < set->n; i++) {
        struct bm_source *src = &set->sources[i];

        src->stopping = true;
        evtimer_del(src->retry_timer);
        evtimer_del(src->stall_timer);
        src->tr->stop(src);
        source_set_state(src, BM_SOURCE_STOPPED);
    }
}

void bm_streams_free(struct bm_streams *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        source_release(&set->sources[i]);
    free(set->sources);
    bm_curlev_free(set->curlev);
    free(set);
}
