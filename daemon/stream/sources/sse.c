/*
 * sse.c - any Server-Sent Events stream (WHATWG), messages mapped by the
 * config's `format:` (default: the generic field map and its `fields:`).
 *
 * The transport resumes with Last-Event-ID and honours `retry:`; `events:`
 * in the config picks the event types that carry posts (default: all).
 */
#include <stddef.h>

#include "brandmon/backoff.h"
#include "brandmon/framer.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

const struct bm_source_ops bm_source_sse = {
    .name = "sse",
    .description = "any Server-Sent Events stream (fields: or format:)",
    .transport = BM_TRANSPORT_STREAM,
    .framer = BM_FRAMER_SSE,
    .backoff = &bm_backoff_sse,
    /* The spec suggests a comment every 15 s; Wikimedia sends none but
     * carries tens of events a second (ours: 60 s). */
    .stall_ms = 60 * 1000,
    .format = "generic",
    .accept = "text/event-stream",
};
