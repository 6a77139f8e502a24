/*
 * stream_int.h - a running source, shared by the transports in
 * daemon/stream/ (http.c: streams and polls; replay_source.c; websocket.c).
 */
#ifndef BRANDMON_STREAM_INT_H
#define BRANDMON_STREAM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "brandmon/backoff.h"
#include "brandmon/buf.h"
#include "brandmon/config.h"
#include "brandmon/curlev.h"
#include "brandmon/dedup.h"
#include "brandmon/framer.h"
#include "brandmon/log.h"
#include "brandmon/stream.h"

/* A connection that stayed up this long was healthy: backoff restarts. */
#define BM_HEALTHY_MS (30 * 1000)

struct evdns_base;
struct transport_ops;

struct bm_source {
    struct bm_streams *set;             /* borrowed: the owner */
    const struct bm_source_config *cfg; /* borrowed: the daemon's config */
    const struct bm_source_ops *ops;    /* the type */
    const struct bm_source_ops *format; /* the field map */
    const struct transport_ops *tr;     /* how it gets messages */
    char tag[160];                      /* "source:TYPE:NAME" for logs */
    enum bm_source_state state;
    struct bm_source_stats stats;
    struct bm_backoff backoff;
    struct bm_dedup dedup;
    struct bm_ratelimit rl;    /* bad-input log lines */
    struct event *retry_timer; /* owned: BACKOFF -> CONNECTING */
    struct event *stall_timer; /* owned: checks for silence */
    uint64_t max_frame;        /* the frame ceiling in bytes */
    uint64_t stall_ms;         /* 0: no stall detection */
    uint64_t connected_at;     /* monotonic ms of the 200 */
    uint64_t last_byte_at;     /* monotonic ms of the last byte */
    uint64_t retry_at;         /* wall ms the retry is due */
    char *token;               /* owned, wiped on free: bearer */
    bool stopping;             /* bm_streams_stop() under way */
    void *impl;                /* owned by the transport */
};

/* A transport: the half of a source that talks to the outside. */
struct transport_ops {
    int (*init)(struct bm_source *src);   /* allocate impl; 0 or -errno */
    void (*start)(struct bm_source *src); /* connect / open / poll now */
    void (*stop)(struct bm_source *src);  /* close; no callbacks after */
    void (*free)(struct bm_source *src);  /* free impl */
    /* Optional: the resume position (stream.h); false: none. */
    bool (*cursor)(const struct bm_source *src, struct bm_cursor *out);
    void (*restore)(struct bm_source *src, const struct bm_cursor *c);
};

extern const struct transport_ops bm_transport_http_stream;
extern const struct transport_ops bm_transport_http_poll;
extern const struct transport_ops bm_transport_replay;
extern const struct transport_ops bm_transport_websocket;

/* stream.c, for the transports: */

struct event_base *source_base(const struct bm_source *src);
struct bm_curlev *source_curlev(const struct bm_source *src);
uint32_t source_random(struct bm_source *src);
/* The set's resolver, made on first use and freed with the set; NULL when
 * it cannot be made (out of memory). */
struct evdns_base *source_dns(struct bm_source *src);

/*
 * One message (a JSON document) from the wire: parsed, unwrapped, mapped,
 * deduplicated and handed on; bad input is counted and logged at a limited
 * rate. @what says where it came from for the log ("line 12", "event 3").
 */
void source_message(struct bm_source *src, const char *data, size_t len);

/* Counts bad input by reason and logs it at a limited rate. */
void source_skip(struct bm_source *src, enum bm_skip_reason why,
                 const char *detail);

void source_set_state(struct bm_source *src, enum bm_source_state state);

/* A failure of @kind: waits per the backoff (at least @min_wait_ms), then
 * starts again. */
void source_retry(struct bm_source *src, enum bm_backoff_kind kind,
                  uint64_t min_wait_ms, const char *why);
/* Like a network failure, but the first wait is @first_ms (an SSE server's
 * `retry:`), doubling on repeated failures up to the ladder's ceiling. */
void source_retry_from(struct bm_source *src, uint64_t first_ms,
                       const char *why);
/* Gives up until the next reload or restart. */
void source_give_up(struct bm_source *src, const char *why);

/* http.c: a poll remembers the newest post it handed on, for {since}. */
void http_note_post(struct bm_source *src, const struct bm_post *post);

/* Arms the stall check for a connection that just started. */
void source_watch_stall(struct bm_source *src);
/* A byte arrived. */
static inline void source_alive(struct bm_source *src)
{
    src->last_byte_at = bm_now_ms();
}

/*
 * sources/jetstream.c, for websocket.c: Jetstream's resume protocol.
 *
 * bm_jetstream_url() returns @url (ws:// or wss://) with one
 * wantedCollections parameter per entry of @collections (or for
 * app.bsky.feed.post when @n is 0) unless the URL names some already, and,
 * when @cursor_us > 0, with `cursor=<cursor_us>` in place of any cursor it
 * had. The caller frees the result; NULL when out of memory.
 *
 * bm_jetstream_time_us() finds the top-level "time_us" of one event
 * without building a JSON tree; 0 when there is none.
 */
char *bm_jetstream_url(const char *url, char *const *collections, size_t n,
                       int64_t cursor_us);
int64_t bm_jetstream_time_us(const char *data, size_t len);

#define SRC_LOG(level, src, ...) BM_LOG(level, (src)->tag, __VA_ARGS__)

#endif
