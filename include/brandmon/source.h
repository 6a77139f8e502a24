/*
 * source.h - sources as structs of callbacks.
 *
 * Each API is one file in daemon/stream/sources/ that ends in a designated
 * initializer of struct bm_source_ops; daemon/stream/source.c lists them all
 * in one static table. For now an ops struct carries the parts the rule
 * engine and offline replay need: the name and the field map from a decoded
 * message to the canonical post. The network half (open, on_data, backoff,
 * cursor) joins it with the stream issue.
 */
#ifndef BRANDMON_SOURCE_H
#define BRANDMON_SOURCE_H

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

struct bm_source_ops {
    const char *name;        /* the config's `type:` / replay --format */
    const char *description; /* one line for --help */
    bm_field_map_fn field_map;
    bm_unwrap_fn unwrap; /* NULL: every message is one item */
};

/* The ops for @name, or NULL. */
const struct bm_source_ops *bm_source_ops_find(const char *name);
/* NULL-terminated list of every source's ops, in a stable order. */
const struct bm_source_ops *const *bm_source_ops_all(void);

#endif
