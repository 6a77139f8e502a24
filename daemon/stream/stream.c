/*
 * stream.c - the set of running sources: lifecycle, state machine, backoff
 * and stall timers, and the path from one wire message to a post.
 *
 * Transports (http.c, replay_source.c, websocket.c) move bytes and
 * frames; everything they have in common lives here, so that a source
 * behaves the same way whatever carries it: bad input is counted and logged
 * at a limited rate, repeats are dropped, failures wait per the API's
 * backoff, silence is a stall. This file never writes output: posts go to
 * the daemon's callback.
 */
#include "brandmon/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <jansson.h>

#include "brandmon/text.h"
#include "brandmon/time.h"

#include "stream/stream_int.h"

struct bm_streams {
    struct event_base *base;     /* borrowed: the daemon's loop */
    const struct bm_config *cfg; /* borrowed: outlives the set */
    struct bm_curlev *curlev;    /* owned */
    struct evdns_base *dns;      /* owned: created on first use, or NULL */
    /* owned: one allocation per source, so that a source never moves (its
     * timers and transfers point at it) when a reload reshuffles the set */
    struct bm_source **sources;
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

bool bm_source_cursor(const struct bm_source *src, struct bm_cursor *out)
{
    memset(out, 0, sizeof(*out));
    return src->tr->cursor && src->tr->cursor(src, out);
}

void bm_source_restore(struct bm_source *src, const struct bm_cursor *c)
{
    if (src->tr->restore)
        src->tr->restore(src, c);
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
    return i < set->n ? set->sources[i] : NULL;
}

bool bm_streams_all_stopped(const struct bm_streams *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->sources[i]->state != BM_SOURCE_STOPPED)
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

struct evdns_base *source_dns(struct bm_source *src)
{
    struct bm_streams *set = src->set;
    int opts = EVDNS_BASE_DISABLE_WHEN_INACTIVE;

    if (set->dns)
        return set->dns;
    set->dns =
        evdns_base_new(set->base, opts | EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!set->dns) {
        /* No usable resolv.conf: numeric addresses still work. */
        SRC_LOG(BM_LOG_WARNING, src, "cannot read the resolver settings");
        set->dns = evdns_base_new(set->base, opts);
    }
    return set->dns;
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

/* The backoff step for a failure of @kind, after a healthy connection's
 * reset; false when the source is stopping. */
static bool retry_step(struct bm_source *src, enum bm_backoff_kind kind,
                       uint64_t *wait)
{
    evtimer_del(src->stall_timer);
    if (src->stopping) {
        source_set_state(src, BM_SOURCE_STOPPED);
        return false;
    }
    if (src->connected_at && bm_now_ms() - src->connected_at >= BM_HEALTHY_MS)
        bm_backoff_reset(&src->backoff);
    src->connected_at = 0;
    *wait = bm_backoff_next(&src->backoff, kind, source_random(src));
    return true;
}

static void retry_in(struct bm_source *src, enum bm_backoff_kind kind,
                     uint64_t wait, const char *why)
{
    source_set_state(src, BM_SOURCE_BACKOFF);
    src->retry_at = (uint64_t)bm_time_now_ms() + wait;
    SRC_LOG(BM_LOG_NOTICE, src, "%s; reconnecting in %llu ms (%s backoff)", why,
            (unsigned long long)wait, bm_backoff_kind_name(kind));
    arm_ms(src->retry_timer, wait);
}

void source_retry(struct bm_source *src, enum bm_backoff_kind kind,
                  uint64_t min_wait_ms, const char *why)
{
    uint64_t wait;

    if (!retry_step(src, kind, &wait))
        return;
    retry_in(src, kind, wait < min_wait_ms ? min_wait_ms : wait, why);
}

void source_retry_from(struct bm_source *src, uint64_t first_ms,
                       const char *why)
{
    const struct bm_backoff_ladder *l =
        &src->backoff.policy->ladder[BM_BACKOFF_NETWORK];
    uint64_t wait, ignored;
    uint32_t tries;

    if (!retry_step(src, BM_BACKOFF_NETWORK, &ignored))
        return;
    /* The ladder's step count, with the server's wait as its first rung. */
    tries = src->backoff.tries ? src->backoff.tries - 1 : 0;
    wait = first_ms;
    for (uint32_t i = 0; i < tries && wait < l->max_ms; i++)
        wait *= 2;
    if (wait > l->max_ms && first_ms <= l->max_ms)
        wait = l->max_ms;
    retry_in(src, BM_BACKOFF_NETWORK, wait, why);
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
        return &bm_transport_websocket;
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

static void source_free(struct bm_source *src)
{
    if (!src)
        return;
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
    free(src);
}

static struct bm_source *source_new(struct bm_streams *set,
                                    const struct bm_source_config *cfg,
                                    const char **err)
{
    struct bm_source *src = calloc(1, sizeof(*src));

    if (!src)
        return NULL;
    if (source_init(set, src, cfg, err)) {
        source_free(src);
        return NULL;
    }
    return src;
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
        set->sources[i] = source_new(set, &cfg->sources[i], err);
        if (!set->sources[i])
            goto out_free;
        set->n++;
    }
    return set;

out_free:
    bm_streams_free(set);
    return NULL;
}

void bm_streams_start(struct bm_streams *set)
{
    for (size_t i = 0; i < set->n; i++) {
        struct bm_source *src = set->sources[i];

        src->stopping = false;
        SRC_LOG(BM_LOG_INFO, src, "starting");
        src->tr->start(src);
    }
}

/* One line per source at stop: what it did and what it skipped. */
static void log_summary(const struct bm_source *src)
{
    const struct bm_source_stats *st = &src->stats;
    char skipped[512];
    size_t o = 0;

    skipped[0] = '\0';
    for (int r = 0; r < BM_SKIP_COUNT; r++)
        if (st->skipped[r] && o < sizeof(skipped))
            o += (size_t)snprintf(skipped + o, sizeof(skipped) - o, "%s%s %llu",
                                  o ? ", " : "",
                                  bm_skip_reason_name((enum bm_skip_reason)r),
                                  (unsigned long long)st->skipped[r]);
    SRC_LOG(BM_LOG_INFO, src,
            "stopped: %llu posts, %llu duplicates, %llu ignored, %llu "
            "keep-alives, %llu connects, %llu stalls, %llu http errors, "
            "%llu rate limited; skipped: %s",
            (unsigned long long)st->c[BM_SC_POSTS],
            (unsigned long long)st->c[BM_SC_DUPLICATES],
            (unsigned long long)st->c[BM_SC_IGNORED],
            (unsigned long long)st->c[BM_SC_KEEPALIVES],
            (unsigned long long)st->c[BM_SC_CONNECTS],
            (unsigned long long)st->c[BM_SC_STALLS],
            (unsigned long long)st->c[BM_SC_HTTP_ERRORS],
            (unsigned long long)st->c[BM_SC_RATE_LIMITED],
            o ? skipped : "none");
}

static void source_stop(struct bm_source *src)
{
    src->stopping = true;
    evtimer_del(src->retry_timer);
    evtimer_del(src->stall_timer);
    src->tr->stop(src);
    source_set_state(src, BM_SOURCE_STOPPED);
    log_summary(src);
}

void bm_streams_stop(struct bm_streams *set)
{
    for (size_t i = 0; i < set->n; i++)
        source_stop(set->sources[i]);
}

static struct bm_source *take_kept(struct bm_streams *set,
                                   const struct bm_source_config *want)
{
    for (size_t i = 0; i < set->n; i++) {
        struct bm_source *src = set->sources[i];

        if (src && strcmp(src->cfg->name, want->name) == 0 &&
            bm_source_config_equal(src->cfg, want)) {
            set->sources[i] = NULL;
            return src;
        }
    }
    return NULL;
}

int bm_streams_reload(struct bm_streams *set, const struct bm_config *cfg)
{
    struct bm_source **next =
        calloc(cfg->nsources ? cfg->nsources : 1, sizeof(*next));
    bool *fresh = calloc(cfg->nsources ? cfg->nsources : 1, sizeof(*fresh));
    const char *err;
    size_t kept = 0;

    if (!next || !fresh)
        goto out_nomem;
    /* New sources first: a failure leaves the running set untouched. */
    for (size_t i = 0; i < cfg->nsources; i++) {
        bool same = false;

        for (size_t k = 0; k < set->n && !same; k++)
            same =
                strcmp(set->sources[k]->cfg->name, cfg->sources[i].name) == 0 &&
                bm_source_config_equal(set->sources[k]->cfg, &cfg->sources[i]);
        if (same)
            continue;
        next[i] = source_new(set, &cfg->sources[i], &err);
        if (!next[i])
            goto out_nomem;
        fresh[i] = true;
    }
    /* Unchanged sources move over, connections and all; they only point
     * at their entry of the new config. */
    for (size_t i = 0; i < cfg->nsources; i++) {
        if (next[i])
            continue;
        next[i] = take_kept(set, &cfg->sources[i]);
        next[i]->cfg = &cfg->sources[i];
        kept++;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (!set->sources[i])
            continue;
        source_stop(set->sources[i]);
        source_free(set->sources[i]);
    }
    free(set->sources);
    set->sources = next;
    set->n = cfg->nsources;
    set->cfg = cfg;
    for (size_t i = 0; i < set->n; i++)
        if (fresh[i]) {
            SRC_LOG(BM_LOG_INFO, set->sources[i], "starting");
            set->sources[i]->tr->start(set->sources[i]);
        }
    BM_INFO("streams", "reloaded: %zu sources kept connected, %zu started",
            kept, set->n - kept);
    free(fresh);
    return 0;

out_nomem:
    for (size_t i = 0; next && fresh && i < cfg->nsources; i++)
        if (fresh[i])
            source_free(next[i]);
    free(next);
    free(fresh);
    return -ENOMEM;
}

void bm_streams_free(struct bm_streams *set)
{
    if (!set)
        return;
    for (size_t i = 0; set->sources && i < set->n; i++)
        source_free(set->sources[i]);
    free(set->sources);
    /* After the sources: their connections no longer wait on it. */
    if (set->dns)
        evdns_base_free(set->dns, 1);
    bm_curlev_free(set->curlev);
    free(set);
}
