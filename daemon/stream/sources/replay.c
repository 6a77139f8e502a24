/*
 * replay.c - a file of messages, one per line, played at `rate` posts a
 * second (0: as fast as the loop allows), for demos and load tests;
 * `loop: true` starts over at the end. Mapped by `format:` (default x).
 */
#include <stddef.h>

#include "brandmon/source.h"

#include "stream/sources/sources_int.h"

const struct bm_source_ops bm_source_replay = {
    .name = "replay",
    .description = "a file of messages played at a steady rate",
    .transport = BM_TRANSPORT_REPLAY,
    .format = "x",
};
