/*
 * ndjson.c - any newline-delimited JSON stream, messages mapped by the
 * config's `format:` (default: the generic field map and its `fields:`).
 */
#include <stddef.h>

#include "brandmon/backoff.h"
#include "brandmon/framer.h"
#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

const struct bm_source_ops bm_source_ndjson = {
    .name = "ndjson",
    .description = "any NDJSON stream (fields: or format:)",
    .transport = BM_TRANSPORT_STREAM,
    .framer = BM_FRAMER_NDJSON,
    .backoff = &bm_backoff_sse,
    .stall_ms = 90 * 1000,
    .format = "generic",
    .accept = "application/x-ndjson, application/json",
};
