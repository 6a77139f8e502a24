/*
 * stream.h - the running sources of a daemon, on one libevent loop.
 *
 * A struct bm_streams holds every configured source. Each source has its
 * own state machine:
 *
 *   CONNECTING --200 + bytes--> STREAMING --drop/stall/error--> BACKOFF
 *        ^                                                        |
 *        +-------------------- timer ------------------------------+
 *   401/403 (bad credentials), 204 on SSE, a missing file: STOPPED
 *
 * and its own counters, error buffer, framer, dedup memory and backoff.
 * A source that fails does not disturb the others.
 *
 * Every post a source maps is handed to the daemon's callback; the post is
 * borrowed for that call. Sources never write output themselves.
 * Everything runs on the loop thread.
 */
#ifndef BRANDMON_STREAM_H
#define BRANDMON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "brandmon/config.h"
#include "brandmon/post.h"
#include "brandmon/source.h"

struct bm_streams;
struct bm_source;

enum bm_source_state {
    BM_SOURCE_IDLE,       /* not started */
    BM_SOURCE_CONNECTING, /* request sent, no stream yet */
    BM_SOURCE_STREAMING,  /* receiving (or, for polls, waiting to poll) */
    BM_SOURCE_BACKOFF,    /* waiting to reconnect */
    BM_SOURCE_STOPPED,    /* given up (credentials) or finished (replay) */
};

/* Counters kept per source. */
enum bm_source_counter {
    BM_SC_BYTES,        /* body bytes received */
    BM_SC_FRAMES,       /* frames with data */
    BM_SC_KEEPALIVES,   /* keep-alive lines and comments */
    BM_SC_POSTS,        /* posts handed on */
    BM_SC_DUPLICATES,   /* posts dropped as already seen */
    BM_SC_IGNORED,      /* messages that are not posts (deletes, control) */
    BM_SC_CONNECTS,     /* connection attempts */
    BM_SC_RECONNECTS,   /* attempts after a failure or a drop */
    BM_SC_STALLS,       /* connections dropped for silence */
    BM_SC_HTTP_ERRORS,  /* responses with an error status */
    BM_SC_RATE_LIMITED, /* 429 answers */
    BM_SC_COUNT,
};

struct bm_source_stats {
    uint64_t c[BM_SC_COUNT];
    uint64_t skipped[BM_SKIP_COUNT]; /* bad input, by reason */
};

/* A post from @src; borrowed for the call. */
typedef void (*bm_stream_post_fn)(struct bm_source *src,
                                  const struct bm_post *post, void *arg);

/*
 * Sources for every entry of @cfg->sources, not started. Borrows @cfg,
 * which must outlive the set. NULL with @err set (a fixed string) when a
 * source cannot be set up (unknown type, out of memory).
 */
struct bm_streams *bm_streams_new(struct event_base *base,
                                  const struct bm_config *cfg,
                                  bm_stream_post_fn on_post, void *arg,
                                  const char **err);
/* Stops every source and frees the set. */
void bm_streams_free(struct bm_streams *set);

/* Starts every source (connects, opens files). A source that cannot start
 * goes to BACKOFF or STOPPED and says why in the log; this never fails. */
void bm_streams_start(struct bm_streams *set);
/* Closes every connection and file; the sources go to STOPPED. Frames
 * already received were decided when they arrived. */
void bm_streams_stop(struct bm_streams *set);

/*
 * Swaps in @cfg (a reload): sources whose settings did not change keep
 * running, connection, framer and dedup memory included, and now point at
 * their entry in @cfg; removed sources stop; new ones start. @cfg must
 * outlive the set (the old config may be freed once this returns 0).
 * 0, or -ENOMEM (then nothing changed).
 */
int bm_streams_reload(struct bm_streams *set, const struct bm_config *cfg);

size_t bm_streams_count(const struct bm_streams *set);
struct bm_source *bm_streams_get(struct bm_streams *set, size_t i);
/* True when every source is STOPPED (replays finished, or given up). */
bool bm_streams_all_stopped(const struct bm_streams *set);

/* Where a source resumes after a restart (docs/redis-schema.md, cursors). */
struct bm_cursor {
    char last_event_id[1024]; /* SSE: sent back as Last-Event-ID ("" none) */
    int64_t time_us;          /* Jetstream: the last event's time_us (0) */
    int64_t newest_ms;        /* polls: the newest post time seen (0) */
};

/* Fills @out; false when the source has no position to keep. */
bool bm_source_cursor(const struct bm_source *src, struct bm_cursor *out);
/* Sets where the source resumes; call before bm_streams_start(). */
void bm_source_restore(struct bm_source *src, const struct bm_cursor *c);

const char *bm_source_name(const struct bm_source *src);
const char *bm_source_type(const struct bm_source *src);
enum bm_source_state bm_source_state(const struct bm_source *src);
const struct bm_source_stats *bm_source_stats(const struct bm_source *src);
const char *bm_source_state_name(enum bm_source_state state);
const char *bm_source_counter_name(enum bm_source_counter c);

#endif
