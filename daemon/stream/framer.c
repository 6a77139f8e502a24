/*
 * framer.c - cuts a stream body into NDJSON lines or Server-Sent Events.
 *
 * Both framers sit behind one API and one struct; the type picks the feed.
 * Bytes arrive in whatever pieces the transport delivers and frames go out
 * through the callback as soon as their terminator is seen.
 *
 * NDJSON scans each piece with memchr for '\n' and hands complete lines to
 * the callback straight from the caller's piece; only the unfinished tail of
 * a piece is copied, into one reused buffer that never holds more than the
 * ceiling plus one byte (the '\r' of a "\r\n" ending), so a byte is copied at
 * most once and a steady stream allocates nothing.
 *
 * SSE is a byte-level state machine over lines, following the WHATWG event
 * stream rules: the parts of a line are routed as they arrive, a data value
 * straight into the data buffer, an id into a scratch buffer, retry digits
 * into an accumulator, comments and unknown fields nowhere. Line ends are
 * found with memchr (the next '\n' and the next '\r' of a piece are each
 * searched once and remembered, so CR-only streams stay linear). There is no
 * line buffer, so again each byte is copied at most once. The data buffer,
 * the event type and the id are each bounded by the ceiling: an event whose
 * data or type is over it is reported as BM_FRAME_TOO_BIG when it is
 * dispatched, and an id value over it is ignored like one holding U+0000 (the
 * spec has no ceiling; memory does). Bytes are passed through as they are:
 * invalid UTF-8 is not replaced by U+FFFD here but left to the decoder, which
 * counts it, and the BOM is recognised as its three bytes. The last-event-ID
 * buffer starts each stream as the last event ID (as browsers do on a
 * reconnection), so a reset keeps the ID for events that carry none.
 *
 * Frame fields: data is never NULL (KEEPALIVE and TOO_BIG frames carry "" and
 * a length of 0) and is NUL-terminated for SSE only; NDJSON frames have NULL
 * event and id; SSE frames always carry the last event ID, and their event is
 * the event type for DATA and TOO_BIG and "" for KEEPALIVE.
 *
 * It does not decode JSON, know about HTTP, or time anything out. A callback
 * must not reset or free its framer; when it returns a negative value the rest
 * of that piece is dropped and the framer is left at the frame boundary.
 */
#include "brandmon/framer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/buf.h"

/* "event" and "retry" are the longest field names. */
#define SSE_NAME_MAX 5

/* Where the SSE parser stands within the current line. */
enum sse_state {
    SSE_LINE_START,  /* nothing of the line seen yet */
    SSE_NAME,        /* inside a field name */
    SSE_VALUE_START, /* just after the ':', a space may be dropped */
    SSE_VALUE,       /* inside a field value */
    SSE_COMMENT,     /* inside a ':' line */
};

enum sse_field {
    SSE_F_DATA,
    SSE_F_EVENT,
    SSE_F_ID,
    SSE_F_RETRY,
    SSE_F_OTHER,
};

struct ndjson_state {
    struct bm_buf line; /* the unfinished line, at most max_frame + 1 bytes */
    size_t pending;     /* bytes of the unfinished line, kept or not */
};

struct sse_state_data {
    enum sse_state state;
    enum sse_field field;
    char name[SSE_NAME_MAX];
    size_t name_len; /* may pass SSE_NAME_MAX: then no known field */
    bool cr_pending; /* the last line ended in '\r': skip one '\n' */
    bool bom_done;   /* the BOM check of this stream is over */
    unsigned bom_len;

    struct bm_buf data; /* each data line plus '\n', max_frame + 1 at most */
    bool data_over;
    struct bm_buf type; /* the event type buffer */
    bool type_over;
    struct bm_buf id_value; /* the value of the id line being read */
    bool id_bad;            /* that value holds U+0000 or is too long */
    /* The last-event-ID buffer when id_dirty; otherwise the buffer equals
     * last_id and this is scratch. */
    struct bm_buf id_buf;
    bool id_dirty;
    struct bm_buf last_id; /* the stream's last event ID, kept over resets */

    int64_t retry_acc;
    bool retry_digits; /* the retry value so far is only digits */
    bool retry_any;    /* and not empty */
    int64_t retry_ms;  /* -1 until a valid retry: line */

    size_t line_bytes;  /* bytes of the current line so far */
    size_t event_bytes; /* bytes of the lines of the pending event */
};

struct bm_framer {
    enum bm_framer_type type;
    size_t max_frame;
    bm_frame_fn cb;
    /* borrowed: the caller's, handed back to cb */
    void *arg;
    struct ndjson_state nd;
    struct sse_state_data sse;
};

static const char *buf_str(const struct bm_buf *b)
{
    return b->data ? b->data : "";
}

static void buf_swap(struct bm_buf *a, struct bm_buf *b)
{
    struct bm_buf t = *a;

    *a = *b;
    *b = t;
}

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* Appends what fits under @limit bytes and sets *@over when something did
 * not; once over, appends nothing more. 0 or -ENOMEM. */
static int append_capped(struct bm_buf *b, const char *p, size_t n,
                         size_t limit, bool *over)
{
    size_t room;

    if (*over)
        return 0;
    room = b->len < limit ? limit - b->len : 0;
    if (n > room) {
        *over = true;
        n = room;
    }
    if (n == 0)
        return 0;
    return bm_buf_append(b, p, n);
}

static int emit(struct bm_framer *f, enum bm_frame_kind kind, const char *data,
                size_t len, const char *event, const char *id)
{
    struct bm_frame fr;

    fr.kind = kind;
    fr.data = kind == BM_FRAME_DATA ? data : "";
    fr.len = kind == BM_FRAME_DATA ? len : 0;
    fr.event = event;
    fr.id = id;
    return f->cb(&fr, f->arg);
}

/* ---- NDJSON ---- */

/* One line of @kept bytes at @p whose full length was @total; a '\r' right
 * before the '\n' is not part of it. */
static int ndjson_line(struct bm_framer *f, const char *p, size_t kept,
                       size_t total)
{
    if (total > kept)
        return emit(f, BM_FRAME_TOO_BIG, NULL, 0, NULL, NULL);
    if (kept > 0 && p[kept - 1] == '\r')
        kept--;
    if (kept == 0)
        return emit(f, BM_FRAME_KEEPALIVE, NULL, 0, NULL, NULL);
    if (kept > f->max_frame)
        return emit(f, BM_FRAME_TOO_BIG, NULL, 0, NULL, NULL);
    return emit(f, BM_FRAME_DATA, p, kept, NULL, NULL);
}

static int ndjson_keep(struct bm_framer *f, const char *p, size_t n)
{
    struct ndjson_state *nd = &f->nd;
    bool over = nd->pending > nd->line.len;

    nd->pending = add_sat(nd->pending, n);
    return append_capped(&nd->line, p, n, f->max_frame + 1, &over);
}

static int ndjson_take_pending(struct bm_framer *f)
{
    struct ndjson_state *nd = &f->nd;
    size_t total = nd->pending;
    int rc;

    nd->pending = 0;
    rc = ndjson_line(f, buf_str(&nd->line), nd->line.len, total);
    bm_buf_reset(&nd->line);
    return rc;
}

static int ndjson_feed(struct bm_framer *f, const char *p, size_t n)
{
    const char *end = p + n;
    const char *nl;
    int rc;

    if (f->nd.pending > 0) {
        nl = memchr(p, '\n', n);
        rc = ndjson_keep(f, p, nl ? (size_t)(nl - p) : n);
        if (rc < 0 || !nl)
            return rc;
        rc = ndjson_take_pending(f);
        if (rc < 0)
            return rc;
        p = nl + 1;
    }
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        rc = ndjson_line(f, p, (size_t)(nl - p), (size_t)(nl - p));
        if (rc < 0)
            return rc;
        p = nl + 1;
    }
    if (p < end)
        return ndjson_keep(f, p, (size_t)(end - p));
    return 0;
}

/* ---- SSE ---- */

static enum sse_field sse_lookup(const struct sse_state_data *s)
{
    if (s->name_len == 4 && memcmp(s->name, "data", 4) == 0)
        return SSE_F_DATA;
    if (s->name_len == 5 && memcmp(s->name, "event", 5) == 0)
        return SSE_F_EVENT;
    if (s->name_len == 2 && memcmp(s->name, "id", 2) == 0)
        return SSE_F_ID;
    if (s->name_len == 5 && memcmp(s->name, "retry", 5) == 0)
        return SSE_F_RETRY;
    return SSE_F_OTHER;
}

static void sse_field_begin(struct sse_state_data *s)
{
    s->field = sse_lookup(s);
    switch (s->field) {
    case SSE_F_EVENT:
        bm_buf_reset(&s->type);
        s->type_over = false;
        break;
    case SSE_F_ID:
        bm_buf_reset(&s->id_value);
        s->id_bad = false;
        break;
    case SSE_F_RETRY:
        s->retry_acc = 0;
        s->retry_digits = true;
        s->retry_any = false;
        break;
    case SSE_F_DATA:
    case SSE_F_OTHER:
        break;
    }
}

static void sse_retry_value(struct sse_state_data *s, const char *p, size_t n)
{
    size_t i;
    int d;

    for (i = 0; i < n && s->retry_digits; i++) {
        if (p[i] < '0' || p[i] > '9') {
            s->retry_digits = false;
            break;
        }
        d = p[i] - '0';
        if (s->retry_acc > (INT64_MAX - d) / 10)
            s->retry_acc = INT64_MAX;
        else
            s->retry_acc = s->retry_acc * 10 + d;
        s->retry_any = true;
    }
}

static int sse_field_value(struct bm_framer *f, const char *p, size_t n)
{
    struct sse_state_data *s = &f->sse;

    switch (s->field) {
    case SSE_F_DATA:
        return append_capped(&s->data, p, n, f->max_frame + 1, &s->data_over);
    case SSE_F_EVENT:
        return append_capped(&s->type, p, n, f->max_frame, &s->type_over);
    case SSE_F_ID:
        if (!s->id_bad && memchr(p, '\0', n))
            s->id_bad = true;
        return append_capped(&s->id_value, p, n, f->max_frame, &s->id_bad);
    case SSE_F_RETRY:
        sse_retry_value(s, p, n);
        return 0;
    case SSE_F_OTHER:
        return 0;
    }
    return 0;
}

static int sse_field_end(struct bm_framer *f)
{
    struct sse_state_data *s = &f->sse;

    switch (s->field) {
    case SSE_F_DATA:
        return append_capped(&s->data, "\n", 1, f->max_frame + 1,
                             &s->data_over);
    case SSE_F_ID:
        if (!s->id_bad) {
            buf_swap(&s->id_buf, &s->id_value);
            s->id_dirty = true;
        }
        return 0;
    case SSE_F_RETRY:
        if (s->retry_digits && s->retry_any)
            s->retry_ms = s->retry_acc;
        return 0;
    case SSE_F_EVENT:
    case SSE_F_OTHER:
        return 0;
    }
    return 0;
}

static int sse_dispatch(struct bm_framer *f)
{
    struct sse_state_data *s = &f->sse;
    const char *type;
    int rc;

    if (s->id_dirty) {
        buf_swap(&s->last_id, &s->id_buf);
        s->id_dirty = false;
    }
    if (s->data.len == 0 && !s->data_over) {
        rc = 0;
        goto out_clear;
    }
    if (s->type_over)
        type = "";
    else
        type = s->type.len ? s->type.data : "message";
    if (s->data_over || s->type_over) {
        rc = emit(f, BM_FRAME_TOO_BIG, NULL, 0, type, buf_str(&s->last_id));
        goto out_clear;
    }
    /* The last '\n' is not part of the data. */
    s->data.len--;
    s->data.data[s->data.len] = '\0';
    rc = emit(f, BM_FRAME_DATA, s->data.data, s->data.len, type,
              buf_str(&s->last_id));
out_clear:
    bm_buf_reset(&s->data);
    s->data_over = false;
    bm_buf_reset(&s->type);
    s->type_over = false;
    return rc;
}

/* A line ended; the state is back at a line start before any callback. */
static int sse_line_end(struct bm_framer *f)
{
    struct sse_state_data *s = &f->sse;
    enum sse_state st = s->state;
    int rc = 0;

    s->state = SSE_LINE_START;
    switch (st) {
    case SSE_LINE_START:
        s->event_bytes = 0;
        rc = sse_dispatch(f);
        break;
    case SSE_COMMENT:
        rc = emit(f, BM_FRAME_KEEPALIVE, NULL, 0, "", buf_str(&s->last_id));
        break;
    case SSE_NAME:
        sse_field_begin(s);
        rc = sse_field_end(f);
        s->event_bytes = add_sat(s->event_bytes, s->line_bytes + 1);
        break;
    case SSE_VALUE_START:
    case SSE_VALUE:
        rc = sse_field_end(f);
        s->event_bytes = add_sat(s->event_bytes, s->line_bytes + 1);
        break;
    }
    s->line_bytes = 0;
    return rc;
}

/* Bytes [p, q) of a line, none of them '\r' or '\n'. */
static int sse_content(struct bm_framer *f, const char *p, const char *q)
{
    struct sse_state_data *s = &f->sse;
    const char *colon, *stop;
    size_t n;
    int rc;

    s->line_bytes = add_sat(s->line_bytes, (size_t)(q - p));
    while (p < q) {
        switch (s->state) {
        case SSE_LINE_START:
            if (*p == ':') {
                s->state = SSE_COMMENT;
                p++;
                break;
            }
            s->state = SSE_NAME;
            s->name_len = 0;
            break;
        case SSE_NAME:
            colon = memchr(p, ':', (size_t)(q - p));
            stop = colon ? colon : q;
            n = (size_t)(stop - p);
            if (s->name_len + n <= SSE_NAME_MAX)
                memcpy(s->name + s->name_len, p, n);
            s->name_len = add_sat(s->name_len, n);
            p = stop;
            if (colon) {
                sse_field_begin(s);
                s->state = SSE_VALUE_START;
                p++;
            }
            break;
        case SSE_VALUE_START:
            if (*p == ' ')
                p++;
            s->state = SSE_VALUE;
            break;
        case SSE_VALUE:
            rc = sse_field_value(f, p, (size_t)(q - p));
            if (rc < 0)
                return rc;
            p = q;
            break;
        case SSE_COMMENT:
            p = q;
            break;
        }
    }
    return 0;
}

/* The next '\n' and the next '\r' at or after the scan point, each searched
 * once per occurrence; the piece's end when there is none. */
struct eol_scan {
    const char *end;
    const char *lf;
    const char *cr;
};

static const char *find_char(const char *p, const char *end, char c)
{
    const char *r = memchr(p, c, (size_t)(end - p));

    return r ? r : end;
}

static const char *find_eol(struct eol_scan *e, const char *p)
{
    if (e->lf < p)
        e->lf = find_char(p, e->end, '\n');
    if (e->cr < p)
        e->cr = find_char(p, e->end, '\r');
    return e->lf < e->cr ? e->lf : e->cr;
}

static int sse_scan(struct bm_framer *f, const char *p, size_t n)
{
    struct sse_state_data *s = &f->sse;
    struct eol_scan e;
    const char *eol;
    int rc;

    e.end = p + n;
    e.lf = find_char(p, e.end, '\n');
    e.cr = find_char(p, e.end, '\r');
    while (p < e.end) {
        if (s->cr_pending) {
            s->cr_pending = false;
            if (*p == '\n') {
                p++;
                continue;
            }
        }
        eol = find_eol(&e, p);
        if (eol > p) {
            rc = sse_content(f, p, eol);
            if (rc < 0)
                return rc;
        }
        if (eol == e.end)
            break;
        s->cr_pending = *eol == '\r';
        p = eol + 1;
        rc = sse_line_end(f);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sse_feed(struct bm_framer *f, const char *p, size_t n)
{
    static const char bom[] = "\xEF\xBB\xBF";
    struct sse_state_data *s = &f->sse;
    int rc;

    while (!s->bom_done && n > 0) {
        if (*p == bom[s->bom_len]) {
            p++;
            n--;
            s->bom_len++;
            s->bom_done = s->bom_len == 3;
            continue;
        }
        /* Not a BOM after all: the bytes held back are ordinary input. */
        s->bom_done = true;
        if (s->bom_len > 0) {
            rc = sse_scan(f, bom, s->bom_len);
            if (rc < 0)
                return rc;
        }
    }
    if (n == 0)
        return 0;
    return sse_scan(f, p, n);
}

static void sse_reset(struct sse_state_data *s)
{
    s->state = SSE_LINE_START;
    s->field = SSE_F_OTHER;
    s->name_len = 0;
    s->cr_pending = false;
    s->bom_done = false;
    s->bom_len = 0;
    bm_buf_reset(&s->data);
    s->data_over = false;
    bm_buf_reset(&s->type);
    s->type_over = false;
    bm_buf_reset(&s->id_value);
    s->id_bad = false;
    bm_buf_reset(&s->id_buf);
    s->id_dirty = false;
    s->line_bytes = 0;
    s->event_bytes = 0;
}

/* ---- API ---- */

struct bm_framer *bm_framer_new(enum bm_framer_type type, size_t max_frame,
                                bm_frame_fn cb, void *arg)
{
    struct bm_framer *f;

    if (!cb || (type != BM_FRAMER_NDJSON && type != BM_FRAMER_SSE))
        return NULL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->type = type;
    /* max_frame + 1 must not wrap. */
    f->max_frame = max_frame < SIZE_MAX - 1 ? max_frame : SIZE_MAX - 2;
    f->cb = cb;
    f->arg = arg;
    bm_buf_init(&f->nd.line);
    bm_buf_init(&f->sse.data);
    bm_buf_init(&f->sse.type);
    bm_buf_init(&f->sse.id_value);
    bm_buf_init(&f->sse.id_buf);
    bm_buf_init(&f->sse.last_id);
    sse_reset(&f->sse);
    f->sse.retry_ms = -1;
    return f;
}

void bm_framer_free(struct bm_framer *f)
{
    if (!f)
        return;
    bm_buf_release(&f->nd.line);
    bm_buf_release(&f->sse.data);
    bm_buf_release(&f->sse.type);
    bm_buf_release(&f->sse.id_value);
    bm_buf_release(&f->sse.id_buf);
    bm_buf_release(&f->sse.last_id);
    free(f);
}

int bm_framer_feed(struct bm_framer *f, const char *data, size_t len)
{
    if (len == 0)
        return 0;
    if (f->type == BM_FRAMER_NDJSON)
        return ndjson_feed(f, data, len);
    return sse_feed(f, data, len);
}

size_t bm_framer_finish(struct bm_framer *f)
{
    struct sse_state_data *s = &f->sse;
    size_t pending;

    if (f->type == BM_FRAMER_NDJSON) {
        pending = f->nd.pending;
        if (pending > 0)
            (void)ndjson_take_pending(f);
        return pending;
    }
    pending = add_sat(s->event_bytes, s->line_bytes);
    if (!s->bom_done)
        pending = add_sat(pending, s->bom_len);
    sse_reset(s);
    return pending;
}

size_t bm_framer_pending(const struct bm_framer *f)
{
    if (f->type == BM_FRAMER_NDJSON)
        return f->nd.pending;
    return add_sat(f->sse.event_bytes, f->sse.line_bytes);
}

void bm_framer_reset(struct bm_framer *f)
{
    bm_buf_reset(&f->nd.line);
    f->nd.pending = 0;
    sse_reset(&f->sse);
}

const char *bm_framer_last_event_id(const struct bm_framer *f)
{
    return buf_str(&f->sse.last_id);
}

int64_t bm_framer_retry_ms(const struct bm_framer *f)
{
    return f->sse.retry_ms;
}

int bm_framer_set_last_event_id(struct bm_framer *f, const char *id)
{
    struct bm_buf b = BM_BUF_INIT;
    size_t len;

    if (f->type != BM_FRAMER_SSE || !id)
        return -EINVAL;
    /* It goes out as a header value: no line breaks. */
    len = strcspn(id, "\r\n");
    if (id[len] != '\0' || len > f->max_frame)
        return -EINVAL;
    if (bm_buf_append(&b, id, len) < 0)
        return -ENOMEM;
    buf_swap(&f->sse.last_id, &b);
    bm_buf_release(&b);
    /* The last-event-ID buffer follows. */
    bm_buf_reset(&f->sse.id_buf);
    f->sse.id_dirty = false;
    return 0;
}
