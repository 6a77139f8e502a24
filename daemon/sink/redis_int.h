/*
 * redis_int.h - shared by the Redis sink's files: the Lua script (generated
 * from redis_script.lua) and the builder of its argument.
 */
#ifndef BRANDMON_REDIS_INT_H
#define BRANDMON_REDIS_INT_H

#include <stdint.h>

#include "brandmon/buf.h"
#include "brandmon/engine.h"
#include "brandmon/pack.h"

/* NUL-terminated Lua source of the per-post write. */
extern const char bm_redis_script[];

struct payload_ctx {
    const char *prefix;             /* borrowed: config */
    const char *instance;           /* borrowed: config */
    uint64_t maxlen;                /* XADD MAXLEN ~ */
    const struct bm_ruleset *rules; /* borrowed: for escalations */
};

/*
 * Appends the script's argument for @d decided at @now_ms (wall clock):
 * 0; 1 when the post names no brand and fires nothing (nothing to write);
 * -ENOMEM.
 */
int redis_payload(const struct payload_ctx *c, const struct bm_decision *d,
                  int64_t now_ms, struct bm_buf *out);

#endif
