/*
 * top.h - `brandmond --top`: a live terminal view of what the daemons write
 * to Redis (docs/redis-schema.md).
 *
 * Two halves. bm_top_run() talks to Redis (hiredis, synchronous) and the
 * terminal; the rest renders plain data (struct bm_top_frame) into a
 * buffer, with no Redis and no terminal, so it can be tested on fixed data.
 * Nothing here is thread safe; it all runs on the main thread of a process
 * that does nothing else.
 */
#ifndef BRANDMON_TOP_H
#define BRANDMON_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "brandmon/buf.h"

#define BM_TOP_MINUTES          60   /* sparkline and "last hour" span */
#define BM_TOP_ALERTS           10   /* latest alerts shown */
#define BM_TOP_WIDTH_DEFAULT    100  /* when the terminal does not say */
#define BM_TOP_INTERVAL_DEFAULT 2000 /* ms between frames */
#define BM_TOP_NAME_MAX         128  /* brand, author, instance names */
#define BM_TOP_TEXT_MAX         1024 /* alert text kept for one line */

/* What `brandmond --top` was asked; every pointer is borrowed from argv. */
struct bm_top_opts {
    const char *redis_url; /* redis://HOST[:PORT][/DB] or unix:///PATH;
                              NULL: redis://127.0.0.1:6379/0 */
    const char *prefix;    /* key prefix; NULL: "brandmon:" */
    const char *brands;    /* comma-separated brand ids; NULL: SCAN */
    unsigned interval_ms;  /* between frames; 0: BM_TOP_INTERVAL_DEFAULT */
    bool once;             /* one plain frame on stdout, then exit */
};

/* One brand's row: the last BM_TOP_MINUTES minute buckets added up. */
struct bm_top_brand {
    char name[BM_TOP_NAME_MAX];
    uint64_t minute;      /* mentions in the current minute's bucket */
    uint64_t hour;        /* mentions over the last 60 minute buckets */
    double sentiment_sum; /* over the same buckets */
    uint64_t positive;    /* tones over the same buckets */
    uint64_t neutral;
    uint64_t negative;
    uint64_t defense; /* rule matches over the same buckets */
    uint64_t amplification;
    /* mentions per minute, oldest first; the last is the current minute */
    uint64_t spark[BM_TOP_MINUTES];
};

/* One entry of Palerts. Strings are as read (the renderer cleans them). */
struct bm_top_alert {
    int64_t at_ms; /* detected_at, else the stream id's time; 0: unknown */
    char priority[16];
    char kind[16];
    char brand[BM_TOP_NAME_MAX];
    char author[BM_TOP_NAME_MAX];
    char text[BM_TOP_TEXT_MAX]; /* the post's text, else the message */
};

/* One Pinstance:* heartbeat. */
struct bm_top_instance {
    char name[BM_TOP_NAME_MAX];
    uint64_t decided;
    uint64_t queue;
    uint64_t spool;
    int64_t updated_ms; /* updated_at; 0: unknown */
};

/* Everything one frame shows. */
struct bm_top_frame {
    int64_t now_ms;      /* wall clock of the reads */
    const char *where;   /* borrowed: the Redis URL, for the title */
    const char *prefix;  /* borrowed: the key prefix, for the title */
    const char *problem; /* borrowed: a line on what went wrong, or NULL */
    const struct bm_top_brand *brands; /* borrowed; sorted by the caller */
    size_t nbrands;
    const struct bm_top_alert *alerts; /* borrowed; newest first */
    size_t nalerts;
    const struct bm_top_instance *instances; /* borrowed */
    size_t ninstances;
};

/* How to draw it. */
struct bm_top_style {
    unsigned width;  /* columns; every line is cut to it (at least 1) */
    unsigned height; /* rows the frame may fill; 0: no limit (--once) */
    bool color;      /* SGR colour codes */
    bool screen;     /* live: each line ends with "clear to end of line" */
};

/*
 * Renders @f into @out (appended): a title, the brand table (or "no
 * mentions yet"), the latest alerts and a footer of heartbeats, every line
 * cut to style->width display columns and ended with '\n'. Text from Redis
 * is cleaned of control characters and invalid UTF-8 first. With a height,
 * brand rows that do not fit are summed up in one line. 0 or -ENOMEM (what
 * was appended stays).
 */
int bm_top_render(const struct bm_top_frame *f, const struct bm_top_style *s,
                  struct bm_buf *out);

/* Sorts brands by mentions in the last hour, then this minute, both
 * descending, then by name. */
void bm_top_sort(struct bm_top_brand *b, size_t n);

/* The sparkline character (UTF-8, NUL-terminated) for @v on a scale whose
 * top is @max: " " for 0, then "▁" to "█" in eight even steps, "█" for
 * @max and above. */
const char *bm_top_spark_char(uint64_t v, uint64_t max);

/* Writes @v in at most 4 characters, rounded down: "0".."9999",
 * "10k".."999k", "1.0M".."9.9M", "10M".."999M", then G, T, P and E the
 * same way (UINT64_MAX is "18E"). */
void bm_top_format_count(uint64_t v, char out[8]);

/* Appends @s, cleaned (control characters become spaces, invalid UTF-8
 * "?"), cut to at most @cols display columns, the last being "…" when it
 * was cut. Returns the columns used, or -ENOMEM. */
int bm_top_put_cut(struct bm_buf *out, const char *s, unsigned cols);

/*
 * Runs the view: connects to Redis, then draws a frame every interval until
 * q, Ctrl-C or SIGTERM (with the terminal in non-canonical mode, restored on
 * the way out), or draws one plain frame with opts->once. Returns a
 * sysexits(3) code: 0; 69 (EX_UNAVAILABLE) when Redis cannot be reached
 * or, with once, does not answer; 64 for a bad URL; 71 when out of memory;
 * 74 when stdout fails.
 */
int bm_top_run(const struct bm_top_opts *opts);

#endif
