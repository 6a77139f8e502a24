/*
 * poll.c - a JSON API fetched every `interval` (Reddit listings, HN Algolia
 * search, Bluesky searchPosts, any JSON page), mapped by `format:`.
 *
 * The URL may hold {since} (epoch seconds) or {since_iso} (ISO 8601): the
 * newest post seen less two minutes, since search indexes lag; repeats are
 * dropped by id. Rate-limit headers are honoured (Retry-After,
 * X-Ratelimit-Reset, RateLimit-Reset, x-rate-limit-reset).
 */
#include <stddef.h>

#include "brandmon/backoff.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

const struct bm_source_ops bm_source_poll = {
    .name = "poll",
    .description = "a JSON API polled every interval (format: reddit, hn, ...)",
    .transport = BM_TRANSPORT_POLL,
    .backoff = &bm_backoff_poll,
    .accept = "application/json",
};
