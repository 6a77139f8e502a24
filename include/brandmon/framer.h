/*
 * framer.h - bytes in, frames out: NDJSON lines and Server-Sent Events.
 *
 * A framer takes a stream's body in whatever pieces the network delivers
 * (a frame may span many pieces, a piece may hold many frames, a piece may
 * end between '\r' and '\n' or inside a UTF-8 sequence) and calls back once
 * per complete frame. It includes neither curl nor libevent.
 *
 * Each framer has a ceiling on frame size: the bytes of a frame beyond it
 * are not kept; when the frame ends, the callback is told it was too big
 * (BM_FRAME_TOO_BIG) and receives no data. So memory stays bounded by the
 * ceiling whatever the input.
 *
 * NDJSON (X filtered stream, generic NDJSON): frames end at "\n" (a "\r"
 * before it is dropped); an empty line is a keep-alive (BM_FRAME_KEEPALIVE).
 *
 * SSE follows the WHATWG "event stream interpretation" exactly: a leading
 * BOM is dropped; lines end at CRLF, LF or CR (a CR at the end of a piece
 * waits for the next byte); ':' lines are comments (reported as
 * BM_FRAME_KEEPALIVE so stall detection sees them); fields event, data, id
 * (ignored when it holds U+0000), retry (digits only); a blank line
 * dispatches an event when the data buffer is not empty; the last event ID
 * persists across events; a pending event at end of stream is discarded.
 *
 * Ownership: frame data passed to the callback is borrowed for that call
 * only. Everything runs on the loop thread.
 */
#ifndef BRANDMON_FRAMER_H
#define BRANDMON_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "brandmon/buf.h"

enum bm_frame_kind {
    BM_FRAME_DATA,      /* a complete frame: an NDJSON line, an SSE event */
    BM_FRAME_KEEPALIVE, /* an empty NDJSON line, an SSE comment */
    BM_FRAME_TOO_BIG,   /* a frame over the ceiling ended; no data */
};

struct bm_frame {
    enum bm_frame_kind kind;
    const char *data; /* borrowed: NDJSON line or SSE data, no terminator */
    size_t len;
    const char *event; /* SSE: the event type ("message" by default) */
    const char *id;    /* SSE: the last event ID after this event ("" none) */
};

/* Called once per frame. A negative return stops the feed and is returned
 * by bm_framer_feed(). */
typedef int (*bm_frame_fn)(const struct bm_frame *f, void *arg);

enum bm_framer_type {
    BM_FRAMER_NDJSON,
    BM_FRAMER_SSE,
};

struct bm_framer;

/* A framer of @type whose frames are at most @max_frame bytes. NULL when out
 * of memory. */
struct bm_framer *bm_framer_new(enum bm_framer_type type, size_t max_frame,
                                bm_frame_fn cb, void *arg);
void bm_framer_free(struct bm_framer *f);

/* Feeds @len bytes. Returns 0, -ENOMEM, or the callback's negative value. */
int bm_framer_feed(struct bm_framer *f, const char *data, size_t len);

/*
 * The stream ended. NDJSON: a last line without its "\n" is delivered (a
 * truncated chunk is then a malformed frame for the decoder to count);
 * SSE: a pending event is discarded as the spec says. Returns the number of
 * bytes that were pending (0 for a clean end), for counting truncation.
 */
size_t bm_framer_finish(struct bm_framer *f);

/* Bytes of a frame begun but not complete (0 between frames). */
size_t bm_framer_pending(const struct bm_framer *f);

/* Forgets any partial frame (a reconnect). SSE keeps the last event ID and
 * the reconnection time; the BOM check starts over. */
void bm_framer_reset(struct bm_framer *f);

/* SSE: the last event ID ("" when none), to send as Last-Event-ID, and the
 * reconnection time from the last valid retry: field (-1 when none). */
const char *bm_framer_last_event_id(const struct bm_framer *f);
int64_t bm_framer_retry_ms(const struct bm_framer *f);
/* SSE: sets the last event ID (a cursor restored from Redis at start). */
int bm_framer_set_last_event_id(struct bm_framer *f, const char *id);

#endif
