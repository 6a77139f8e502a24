/*
 * stdout.c - the dry-run sink: one decision JSON per line on stdout.
 *
 * Lines are buffered and written out at most every FLUSH_MS, so a busy
 * stream costs one write(2) per batch, while a quiet one still shows its
 * decisions at once. Nothing is written anywhere else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/buf.h"
#include "brandmon/log.h"

#include "sink/sink_int.h"

#define FLUSH_MS 100
#define FLUSH_AT (64u * 1024) /* bytes that are written out at once */

struct out {
    struct bm_buf line;  /* owned: pending output */
    struct event *timer; /* owned: the periodic flush */
};

static void stdout_flush(struct bm_sink *sink)
{
    struct out *o = sink->impl;

    if (o->line.len &&
        fwrite(o->line.data, 1, o->line.len, stdout) != o->line.len)
        BM_ERR("sink:stdout", "cannot write decisions: %s", strerror(errno));
    fflush(stdout);
    bm_buf_reset(&o->line);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stdout_flush(arg);
}

static int stdout_open(struct bm_sink *sink)
{
    struct out *o = calloc(1, sizeof(*o));

    if (!o)
        return -ENOMEM;
    o->timer = event_new(sink->base, -1, EV_PERSIST, flush_cb, sink);
    if (!o->timer) {
        free(o);
        return -ENOMEM;
    }
    sink->impl = o;
    event_add(o->timer, &(struct timeval){ 0, FLUSH_MS * 1000 });
    return 0;
}

static int stdout_put(struct bm_sink *sink, const struct bm_decision *d)
{
    struct out *o = sink->impl;
    size_t mark = o->line.len;

    if (bm_decision_write_json(d, &o->line) || bm_buf_putc(&o->line, '\n')) {
        o->line.len = mark;
        return -ENOMEM;
    }
    if (o->line.len >= FLUSH_AT)
        stdout_flush(sink);
    return 0;
}

static void stdout_drain(struct bm_sink *sink, void (*done)(void *arg),
                         void *arg)
{
    stdout_flush(sink);
    done(arg);
}

static void stdout_close(struct bm_sink *sink)
{
    struct out *o = sink->impl;

    event_free(o->timer);
    bm_buf_release(&o->line);
    free(o);
}

const struct bm_sink_ops bm_sink_stdout = {
    .name = "stdout",
    .open = stdout_open,
    .put = stdout_put,
    .flush = stdout_flush,
    .drain = stdout_drain,
    .close = stdout_close,
};
