/*
 * sink_int.h - the sinks' ops objects, listed by sink.c.
 */
#ifndef BRANDMON_SINK_INT_H
#define BRANDMON_SINK_INT_H

#include "brandmon/sink.h"

extern const struct bm_sink_ops bm_sink_stdout;
extern const struct bm_sink_ops bm_sink_redis;

#endif
