/*
 * sink.c - the table of sinks and the calls every sink shares.
 */
#include "brandmon/sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sink/sink_int.h"

static const struct bm_sink_ops *const all_sinks[] = {
    &bm_sink_stdout,
    &bm_sink_redis,
    NULL,
};

struct bm_sink *bm_sink_new(const char *name, const struct bm_config *cfg,
                            struct event_base *base)
{
    const struct bm_sink_ops *ops = NULL;
    struct bm_sink *sink;

    for (size_t i = 0; all_sinks[i] && !ops; i++)
        if (strcmp(all_sinks[i]->name, name) == 0)
            ops = all_sinks[i];
    if (!ops)
        return NULL;
    sink = calloc(1, sizeof(*sink));
    if (!sink)
        return NULL;
    sink->ops = ops;
    sink->cfg = cfg;
    sink->base = base;
    if (ops->open(sink)) {
        free(sink);
        return NULL;
    }
    return sink;
}

void bm_sink_free(struct bm_sink *sink)
{
    if (!sink)
        return;
    sink->ops->flush(sink);
    sink->ops->close(sink);
    free(sink);
}

int bm_sink_put(struct bm_sink *sink, const struct bm_decision *d)
{
    int err = sink->ops->put(sink, d);

    if (err)
        sink->lost++;
    else
        sink->put++;
    return err;
}

void bm_sink_flush(struct bm_sink *sink)
{
    sink->ops->flush(sink);
}

void bm_sink_drain(struct bm_sink *sink, void (*done)(void *arg), void *arg)
{
    sink->ops->drain(sink, done, arg);
}

void bm_sink_stats(struct bm_sink *sink, struct bm_sink_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->connected = true;
    if (sink->ops->stats)
        sink->ops->stats(sink, out);
    out->lost += sink->lost;
}

void bm_sink_heartbeat(struct bm_sink *sink, const char *const *kv, size_t n)
{
    if (sink->ops->heartbeat)
        sink->ops->heartbeat(sink, kv, n);
}

void bm_sink_cursor_save(struct bm_sink *sink, const char *source,
                         const char *const *kv, size_t n)
{
    if (sink->ops->cursor_save)
        sink->ops->cursor_save(sink, source, kv, n);
}

int bm_sink_cursor_load(struct bm_sink *sink, const char *source,
                        void (*field)(const char *k, const char *v, void *arg),
                        void *arg)
{
    if (!sink->ops->cursor_load)
        return -ENOTSUP;
    return sink->ops->cursor_load(sink, source, field, arg);
}
