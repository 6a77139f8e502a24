/*
 * source.h - sources as structs of callbacks.
 *
 * Each API is one file in daemon/stream/sources/ that ends in a designated
 * initializer of struct bm_source_ops; daemon/stream/source.c lists them all
 * in one static table. An ops struct is both a message format (the field
 * map from a decoded message to the canonical post) and, for the types a
 * config names, a transport with the API's framing, backoff, stall interval
 * and quirks. The transports themselves (stream.h) are shared: adding an
 * API is one file and one line in source.c.
 */
#ifndef BRANDMON_SOURCE_H
#define BRANDMON_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "brandmon/post.h"

/* What a field map made of one message. */
enum bm_map_result {
    BM_MAP_POST = 0,    /* @post is filled */
    BM_MAP_IGNORE = 1,  /* not a post: control/error message, delete, an
                           identity event, another collection; not an error */
    BM_MAP_NO_TEXT = 2, /* a post without text (counted as bad input) */
    BM_MAP_INVALID = 3, /* not the shape this source sends */
};

/* Why a message or frame was skipped: bad input is counted by reason. */
enum bm_skip_reason {
    BM_SKIP_EMPTY,          /* blank line (a keep-alive) */
    BM_SKIP_TOO_LONG,       /* longer than the frame ceiling */
    BM_SKIP_INVALID_UTF8,   /* not UTF-8 */
    BM_SKIP_MALFORMED_JSON, /* not JSON */
    BM_SKIP_NOT_A_POST,     /* a control message, a delete, ... */
    BM_SKIP_NO_TEXT,        /* a post without text */
    BM_SKIP_INVALID,        /* JSON, but not what the format sends */
    BM_SKIP_TRUNCATED,      /* the connection ended inside a frame */
    BM_SKIP_NOT_A_STREAM,   /* an HTML page or other body, not the stream */
    BM_SKIP_COUNT,
};

/* "empty", "too_long", "invalid_utf8", "malformed_json", "not_a_post",
 * "no_text", "invalid", "truncated", "not_a_stream". */
const char *bm_skip_reason_name(enum bm_skip_reason r);

/* The generic map: RFC 6901 pointers into the message, one per post field.
 * NULL leaves the field unset; `id` and `text` are required. */
enum bm_field {
    BM_FIELD_ID,
    BM_FIELD_TEXT,
    BM_FIELD_AUTHOR,
    BM_FIELD_FOLLOWERS,
    BM_FIELD_LANG,
    BM_FIELD_URL,
    BM_FIELD_CREATED_AT,
    BM_FIELD_REPLY,
    BM_FIELD_REPOST,
    BM_FIELD_COUNT,
};

struct bm_field_map {
    const char *ptr[BM_FIELD_COUNT]; /* borrowed: the config */
    int html;                        /* text is HTML */
};

/* Field names as written in config ("id", "text", "author", "followers",
 * "lang", "url", "created_at", "reply", "repost"), indexed by enum bm_field. */
extern const char *const bm_field_names[BM_FIELD_COUNT];

/*
 * Maps @msg to @post (initialised by the caller with bm_post_init(); its
 * `source` is set by the caller). Strings are borrowed from @msg or kept on
 * the post. @map is the generic field map, NULL for the fixed presets.
 */
typedef enum bm_map_result (*bm_field_map_fn)(const json_t *msg,
                                              const struct bm_field_map *map,
                                              struct bm_post *post);

/*
 * Some polled APIs answer with a page of items (a Reddit Listing, an HN
 * Algolia result page). Returns the array of items in @msg (borrowed), or
 * NULL when @msg is a single item.
 */
typedef const json_t *(*bm_unwrap_fn)(const json_t *msg);

/* How a source type gets its messages. */
enum bm_transport {
    BM_TRANSPORT_NONE,      /* a message format only (reddit, hn, generic) */
    BM_TRANSPORT_STREAM,    /* a long-lived HTTP response, framed */
    BM_TRANSPORT_POLL,      /* a JSON API fetched every interval */
    BM_TRANSPORT_REPLAY,    /* a file of messages played at a rate */
    BM_TRANSPORT_WEBSOCKET, /* a WebSocket of JSON text frames */
};

struct bm_backoff_policy;

struct bm_source_ops {
    const char *name;        /* the config's `type:` / `format:` */
    const char *description; /* one line for --help */

    /* The message format: NULL for types that take `format:` instead. */
    bm_field_map_fn field_map;
    bm_unwrap_fn unwrap; /* NULL: every message is one item */

    /* The network half (transport BM_TRANSPORT_NONE: a format only). */
    enum bm_transport transport;
    int framer;                              /* enum bm_framer_type */
    const struct bm_backoff_policy *backoff; /* borrowed: static */
    uint64_t stall_ms;         /* no byte for this long: reconnect (0: never) */
    const char *format;        /* default `format:`, NULL: this ops' own map */
    const char *accept;        /* the Accept header, or NULL */
    const char *const *events; /* SSE event types that carry posts (NULL-
                                  terminated; NULL: every type) */
    /*
     * A message that is not a post but that an operator should hear of
     * (X's in-stream error objects): writes a one-line description into
     * @buf and returns true. Optional.
     */
    bool (*describe)(const json_t *msg, char *buf, size_t n);
};

/* The ops for @name, or NULL. */
const struct bm_source_ops *bm_source_ops_find(const char *name);
/* The ops for @name when it is a message format (has a field map). */
const struct bm_source_ops *bm_source_format_find(const char *name);
/* The ops for @name when it is a source type (has a transport). */
const struct bm_source_ops *bm_source_type_find(const char *name);
/* NULL-terminated list of every source's ops, in a stable order. */
const struct bm_source_ops *const *bm_source_ops_all(void);

#endif
