/*
 * replay_source.c - the replay transport: a file of messages, one per line,
 * played on the loop at a steady rate (demos, load tests, shadow runs).
 *
 * A timer releases the lines that are due: at `rate` lines a second, or,
 * with rate 0, as fast as possible in batches that let the rest of the loop
 * run between them. Lines are read with the frame ceiling (a longer line is
 * dropped unread). At the end of the file the source stops, or starts over
 * with `loop: true` (forgetting the ids it saw, so the posts count again).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/linereader.h"

#include "stream/stream_int.h"

#define BATCH 256 /* lines per timer run, at most */

struct replay_src {
    FILE *f; /* owned */
    struct bm_linereader lr;
    bool lr_ready;
    struct event *tick;  /* owned */
    uint64_t started_ms; /* monotonic ms when this pass began */
    uint64_t played;     /* lines released in this pass */
};

static struct replay_src *impl(struct bm_source *src)
{
    return src->impl;
}

static void close_file(struct replay_src *r)
{
    if (r->lr_ready)
        bm_linereader_release(&r->lr);
    r->lr_ready = false;
    if (r->f)
        fclose(r->f);
    r->f = NULL;
}

static int open_file(struct bm_source *src)
{
    struct replay_src *r = impl(src);

    close_file(r);
    r->f = fopen(src->cfg->file, "rb");
    if (!r->f)
        return -errno;
    if (bm_linereader_init(&r->lr, r->f, src->max_frame)) {
        close_file(r);
        return -ENOMEM;
    }
    r->lr_ready = true;
    r->started_ms = bm_now_ms();
    r->played = 0;
    return 0;
}

static void arm(struct replay_src *r, uint64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000),
                          (suseconds_t)(ms % 1000) * 1000 };

    evtimer_add(r->tick, &tv);
}

/* The end of the file: stop, or start the next pass. */
static bool at_end(struct bm_source *src)
{
    struct replay_src *r = impl(src);
    int err;

    if (!src->cfg->loop) {
        close_file(r);
        source_set_state(src, BM_SOURCE_STOPPED);
        SRC_LOG(BM_LOG_NOTICE, src, "replay finished: %llu lines",
                (unsigned long long)r->played);
        return false;
    }
    bm_dedup_release(&src->dedup);
    err = open_file(src);
    if (!err)
        err = bm_dedup_init(&src->dedup, src->cfg->dedup);
    if (err) {
        source_give_up(src, "cannot reopen the replay file");
        return false;
    }
    return true;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bm_source *src = arg;
    struct replay_src *r = impl(src);
    double rate = src->cfg->rate;
    uint64_t due = BATCH, elapsed;

    (void)fd;
    (void)what;
    if (rate > 0) {
        elapsed = bm_now_ms() - r->started_ms;
        due = (uint64_t)(rate * (double)elapsed / 1000.0) + 1;
        due = due > r->played ? due - r->played : 0;
        if (due > BATCH)
            due = BATCH;
    }
    for (uint64_t i = 0; i < due; i++) {
        const char *line;
        size_t len;
        bool too_long;
        int got = bm_linereader_next(&r->lr, &line, &len, &too_long);

        if (got < 0) {
            source_give_up(src, "cannot read the replay file");
            return;
        }
        if (got == 0) {
            if (!at_end(src))
                return;
            break;
        }
        r->played++;
        src->stats.c[BM_SC_BYTES] += len + 1;
        source_alive(src);
        if (too_long) {
            source_skip(src, BM_SKIP_TOO_LONG, NULL);
            continue;
        }
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
            len--;
        if (len == 0) {
            src->stats.c[BM_SC_KEEPALIVES]++;
            continue;
        }
        src->stats.c[BM_SC_FRAMES]++;
        source_message(src, line, len);
    }
    if (rate > 0) {
        /* The next line is due at played / rate seconds into the pass;
         * rounded up, so the timer never spins within a millisecond. */
        uint64_t next = (uint64_t)ceil((double)r->played * 1000.0 / rate);
        uint64_t now = bm_now_ms() - r->started_ms;

        arm(r, next > now ? next - now : 1);
    } else {
        arm(r, 0);
    }
}

static int replay_init(struct bm_source *src)
{
    struct replay_src *r = calloc(1, sizeof(*r));

    if (!r)
        return -ENOMEM;
    src->impl = r;
    r->tick = evtimer_new(source_base(src), tick_cb, src);
    return r->tick ? 0 : -ENOMEM;
}

static void replay_start(struct bm_source *src)
{
    struct replay_src *r = impl(src);
    int err = open_file(src);

    if (err) {
        char why[300];

        snprintf(why, sizeof(why), "cannot open %s: %s", src->cfg->file,
                 strerror(-err));
        source_give_up(src, why);
        return;
    }
    src->stats.c[BM_SC_CONNECTS]++;
    src->connected_at = bm_now_ms();
    source_set_state(src, BM_SOURCE_STREAMING);
    arm(r, 0);
}

static void replay_stop(struct bm_source *src)
{
    struct replay_src *r = impl(src);

    if (r->tick)
        evtimer_del(r->tick);
    close_file(r);
}

static void replay_free(struct bm_source *src)
{
    struct replay_src *r = impl(src);

    if (!r)
        return;
    close_file(r);
    if (r->tick)
        event_free(r->tick);
    free(r);
    src->impl = NULL;
}

const struct transport_ops bm_transport_replay = {
    .init = replay_init,
    .start = replay_start,
    .stop = replay_stop,
    .free = replay_free,
};
