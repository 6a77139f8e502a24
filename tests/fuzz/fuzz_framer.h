/*
 * fuzz_framer.h - the driver both framer targets share (fuzz_framer_ndjson.c,
 * fuzz_framer_sse.c): bytes off the front of the input choose the frame
 * ceiling and where the payload is cut into pieces; the rest is the body of
 * a stream.
 *
 * Input layout:
 *   byte 0   bits 0-2: the ceiling, an index into `fuzz_ceilings`;
 *            bit 3: (SSE) start from a restored last event ID
 *   byte 1   bits 0-3: number of cut points N; bits 4-7: the frame at which
 *            a third run's callback stops the feed (0: never)
 *   2*N bytes: cut points, big-endian, taken modulo the payload length + 1
 *   the rest: the payload
 *
 * Each input is framed three times: in one piece, in the pieces the cut
 * points make, and in those pieces with a callback that fails once. Every
 * frame is checked against the contract of framer.h (kinds, lengths, the
 * ceiling, no line break inside a frame, NUL-terminated SSE data, event and
 * id under the ceiling), and the first two runs must produce exactly the
 * same frames, end state and last event ID: a framer cannot depend on how
 * the network cut the bytes.
 */
#ifndef BRANDMON_FUZZ_FRAMER_H
#define BRANDMON_FUZZ_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/buf.h"
#include "brandmon/framer.h"

#include "fuzz_util.h"

#define FUZZ_MAX_CUTS 15
/* What the failing callback returns. */
#define FUZZ_STOP (-EPIPE)

static const size_t fuzz_ceilings[8] = { 0, 1, 2, 5, 16, 64, 1024, 1 << 20 };

struct frame_log {
    enum bm_framer_type type;
    size_t max_frame;
    struct bm_buf out; /* owned: every frame, serialised */
    size_t nframes;
    size_t stop_at; /* fail at this frame (1-based); 0: never */
    bool stopped;   /* the callback failed during the current feed */
    bool has_nul;   /* the payload holds a NUL byte */
};

static inline bool has_line_break(const char *s, size_t n)
{
    return memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL;
}

static inline void check_frame(const struct frame_log *log,
                               const struct bm_frame *f)
{
    FUZZ_CHECK(f->kind == BM_FRAME_DATA || f->kind == BM_FRAME_KEEPALIVE ||
               f->kind == BM_FRAME_TOO_BIG);
    FUZZ_CHECK(f->data != NULL);
    FUZZ_CHECK(f->kind == BM_FRAME_DATA || f->len == 0);
    /* The ceiling: the point of the whole design. */
    FUZZ_CHECK(f->len <= log->max_frame);
    if (log->type == BM_FRAMER_NDJSON) {
        FUZZ_CHECK(f->event == NULL && f->id == NULL);
        /* An empty line is a keep-alive, never an empty frame. */
        FUZZ_CHECK(f->kind != BM_FRAME_DATA || f->len > 0);
        FUZZ_CHECK(memchr(f->data, '\n', f->len) == NULL);
        return;
    }
    FUZZ_CHECK(f->event != NULL && f->id != NULL);
    /* The type buffer is bounded; "message" is the default, not read. */
    FUZZ_CHECK(strlen(f->event) <= log->max_frame ||
               strcmp(f->event, "message") == 0);
    FUZZ_CHECK(strlen(f->id) <= log->max_frame);
    FUZZ_CHECK(!has_line_break(f->event, strlen(f->event)));
    FUZZ_CHECK(!has_line_break(f->id, strlen(f->id)));
    if (f->kind == BM_FRAME_DATA) {
        FUZZ_CHECK(f->data[f->len] == '\0');
        /* Data lines are joined with '\n'; a '\r' always ends a line. */
        FUZZ_CHECK(memchr(f->data, '\r', f->len) == NULL);
        /* An empty event type buffer means "message". (A type that starts
         * with U+0000 reaches the callback as "": event is a C string.) */
        FUZZ_CHECK(f->event[0] != '\0' || log->has_nul);
    }
}

static inline int record_cb(const struct bm_frame *f, void *arg)
{
    struct frame_log *log = arg;
    int rc;

    check_frame(log, f);
    log->nframes++;
    rc = bm_buf_printf(&log->out, "%d %zu:", (int)f->kind, f->len);
    if (rc == 0)
        rc = bm_buf_append(&log->out, f->data, f->len);
    if (rc == 0 && log->type == BM_FRAMER_SSE) {
        rc = bm_buf_puts(&log->out, f->event);
        if (rc == 0)
            rc = bm_buf_putc(&log->out, '\0');
        if (rc == 0)
            rc = bm_buf_puts(&log->out, f->id);
        if (rc == 0)
            rc = bm_buf_putc(&log->out, '\0');
    }
    FUZZ_CHECK(rc == 0);
    if (log->nframes == log->stop_at) {
        log->stopped = true;
        return FUZZ_STOP;
    }
    return 0;
}

/* The state a run ends in, compared between runs. */
struct frame_run {
    struct frame_log log;
    size_t finish; /* bm_framer_finish()'s result */
    char *last_id; /* owned: bm_framer_last_event_id() at the end */
    int64_t retry_ms;
};

/*
 * Frames @payload cut at the sorted @cuts (@ncuts of them, each <= @len)
 * into @run. With a @stop_at, the feed that fails must return the
 * callback's value, and feeding goes on with the next piece.
 */
static inline void frame_run(enum bm_framer_type type, size_t max_frame,
                             const char *restored_id, const char *payload,
                             size_t len, const size_t *cuts, size_t ncuts,
                             size_t stop_at, struct frame_run *run)
{
    struct bm_framer *fr;
    size_t from = 0;

    memset(run, 0, sizeof(*run));
    run->log.type = type;
    run->log.max_frame = max_frame;
    run->log.stop_at = stop_at;
    run->log.has_nul = memchr(payload, '\0', len) != NULL;
    bm_buf_init(&run->log.out);
    fr = bm_framer_new(type, max_frame, record_cb, &run->log);
    FUZZ_CHECK(fr != NULL);
    if (restored_id)
        FUZZ_CHECK(bm_framer_set_last_event_id(fr, restored_id) == 0);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        int rc;

        run->log.stopped = false;
        rc = bm_framer_feed(fr, payload + from, to - from);
        FUZZ_CHECK(rc == (run->log.stopped ? FUZZ_STOP : 0));
        if (run->log.stopped) {
            /* The framer was left at a frame boundary. */
            FUZZ_CHECK(type != BM_FRAMER_NDJSON || bm_framer_pending(fr) == 0);
        }
        from = to;
    }
    run->finish = bm_framer_finish(fr);
    FUZZ_CHECK(bm_framer_pending(fr) == 0);
    run->last_id = strdup(bm_framer_last_event_id(fr));
    FUZZ_CHECK(run->last_id != NULL);
    run->retry_ms = bm_framer_retry_ms(fr);
    FUZZ_CHECK(run->retry_ms >= -1);
    bm_framer_reset(fr);
    FUZZ_CHECK(bm_framer_pending(fr) == 0);
    /* A reset keeps the last event ID. */
    FUZZ_CHECK(strcmp(bm_framer_last_event_id(fr), run->last_id) == 0);
    bm_framer_free(fr);
}

static inline void frame_run_release(struct frame_run *run)
{
    bm_buf_release(&run->log.out);
    free(run->last_id);
}

static inline int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

static inline int fuzz_framer(enum bm_framer_type type, const uint8_t *data,
                              size_t size)
{
    struct frame_run whole, split, stopping;
    struct fuzz_input in;
    size_t cuts[FUZZ_MAX_CUTS], ncuts, max_frame, stop_at;
    const char *restored = NULL;
    uint8_t b0, b1;

    fuzz_input_init(&in, data, size);
    b0 = fuzz_input_byte(&in);
    b1 = fuzz_input_byte(&in);
    max_frame = fuzz_ceilings[b0 & 7];
    if (type == BM_FRAMER_SSE && (b0 & 8) && max_frame >= 7)
        restored = "restore";
    ncuts = b1 & 15;
    stop_at = b1 >> 4;
    for (size_t i = 0; i < ncuts; i++)
        cuts[i] = fuzz_input_u16(&in);
    for (size_t i = 0; i < ncuts; i++)
        cuts[i] %= in.left + 1;
    qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);

    frame_run(type, max_frame, restored, (const char *)in.p, in.left, NULL, 0,
              0, &whole);
    frame_run(type, max_frame, restored, (const char *)in.p, in.left, cuts,
              ncuts, 0, &split);
    FUZZ_CHECK(whole.log.nframes == split.log.nframes);
    FUZZ_CHECK(whole.log.out.len == split.log.out.len);
    FUZZ_CHECK(
        whole.log.out.len == 0 ||
        memcmp(whole.log.out.data, split.log.out.data, whole.log.out.len) == 0);
    FUZZ_CHECK(whole.finish == split.finish);
    FUZZ_CHECK(strcmp(whole.last_id, split.last_id) == 0);
    FUZZ_CHECK(whole.retry_ms == split.retry_ms);
    if (stop_at > 0) {
        frame_run(type, max_frame, restored, (const char *)in.p, in.left, cuts,
                  ncuts, stop_at, &stopping);
        frame_run_release(&stopping);
    }
    frame_run_release(&whole);
    frame_run_release(&split);
    return 0;
}

#endif
