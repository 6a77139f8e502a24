/*
 * bench_framer.c - throughput of the NDJSON and SSE framers.
 *
 * Not a test: a standalone program that generates about 100 MB of stream
 * body in memory for each framer and feeds it in 16 KB pieces, as libcurl's
 * write callback would, printing MB/s and frames/s (best of a few runs).
 * NDJSON looks like the X filtered stream: one JSON post per "\r\n" line of
 * 300 to 1,500 bytes, with a bare "\r\n" keep-alive now and then. SSE mixes
 * Mastodon-style events ("event: update" + one data line, ":thump" comments)
 * with Wikimedia-style ones (an id: JSON array before the data). Build with
 * optimisation, e.g.
 *   cc -O2 -std=c11 -Iinclude daemon/stream/framer.c daemon/core/buf.c \
 *      tests/bench/bench_framer.c -o bench_framer
 * An optional argument sets the input size in MB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "brandmon/buf.h"
#include "brandmon/framer.h"

#define PIECE (16u * 1024)
#define RUNS  3

struct counts {
    size_t data, keepalive, too_big, bytes;
};

static int count_cb(const struct bm_frame *f, void *arg)
{
    struct counts *c = arg;

    switch (f->kind) {
    case BM_FRAME_DATA:
        c->data++;
        /* Touch the frame so the work cannot be skipped. */
        c->bytes += f->len + (unsigned char)f->data[f->len - 1];
        break;
    case BM_FRAME_KEEPALIVE:
        c->keepalive++;
        break;
    case BM_FRAME_TOO_BIG:
        c->too_big++;
        break;
    }
    return 0;
}

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Appends a post-like JSON object of about @len bytes. */
static int put_post(struct bm_buf *b, uint32_t *seed, size_t len, size_t n)
{
    static const char words[] =
        "acme printers jammed again support ticket globex cloud outage "
        "initech ink refill caf\xc3\xa9 \xe2\x9c\x93 love hate broken fixed ";
    size_t start = b->len, w;

    if (bm_buf_printf(b,
                      "{\"data\":{\"author_id\":\"%u\",\"created_at\":"
                      "\"2025-03-14T09:00:03.412Z\",\"id\":\"19004719785793"
                      "%05zu\",\"lang\":\"en\",\"text\":\"",
                      rnd(seed), n % 100000) < 0)
        return -1;
    while (b->len - start < len) {
        w = rnd(seed) % (sizeof(words) - 9);
        if (bm_buf_append(b, words + w, 8) < 0)
            return -1;
    }
    return bm_buf_puts(b, "\"},\"matching_rules\":[{\"id\":\"1\",\"tag\":"
                          "\"brand-acme\"}]}");
}

static int gen_ndjson(struct bm_buf *b, size_t size)
{
    uint32_t seed = 1;
    size_t n = 0;

    while (b->len < size) {
        if (put_post(b, &seed, 300 + rnd(&seed) % 1200, n++) < 0 ||
            bm_buf_puts(b, "\r\n") < 0)
            return -1;
        if (n % 50 == 0 && bm_buf_puts(b, "\r\n") < 0)
            return -1;
    }
    return 0;
}

static int gen_sse(struct bm_buf *b, size_t size)
{
    uint32_t seed = 2;
    size_t n = 0;
    int rc;

    if (bm_buf_puts(b, ":)\n") < 0)
        return -1;
    while (b->len < size) {
        if (n % 2)
            rc = bm_buf_printf(
                b,
                "event: message\nid: [{\"topic\":\"eqiad.mediawiki."
                "recentchange\",\"partition\":0,\"timestamp\":17419428%05zu},"
                "{\"topic\":\"codfw.mediawiki.recentchange\",\"partition\":0,"
                "\"offset\":-1}]\ndata: ",
                n % 100000);
        else
            rc = bm_buf_puts(b, "event: update\ndata: ");
        if (rc < 0 || put_post(b, &seed, 300 + rnd(&seed) % 1200, n++) < 0 ||
            bm_buf_puts(b, "\n\n") < 0)
            return -1;
        if (n % 50 == 0 && bm_buf_puts(b, ":thump\n") < 0)
            return -1;
    }
    return 0;
}

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int bench(const char *name, enum bm_framer_type type,
                 const struct bm_buf *in)
{
    struct counts c;
    struct bm_framer *f;
    double best = 0, t0, secs;
    size_t at, n;
    int run;

    for (run = 0; run < RUNS; run++) {
        memset(&c, 0, sizeof(c));
        f = bm_framer_new(type, 1024 * 1024, count_cb, &c);
        if (!f)
            return -1;
        t0 = now();
        for (at = 0; at < in->len; at += n) {
            n = in->len - at < PIECE ? in->len - at : PIECE;
            if (bm_framer_feed(f, in->data + at, n) < 0) {
                bm_framer_free(f);
                return -1;
            }
        }
        (void)bm_framer_finish(f);
        secs = now() - t0;
        bm_framer_free(f);
        if (best == 0 || secs < best)
            best = secs;
    }
    printf("bench_framer: %-6s %.1f MB in %u-byte pieces: %zu frames, "
           "%zu keep-alives, %zu too big\n",
           name, (double)in->len / 1e6, PIECE, c.data, c.keepalive, c.too_big);
    printf("bench_framer: %-6s best of %d: %.3f s, %.0f MB/s, %.0f frames/s\n",
           name, RUNS, best, (double)in->len / best / 1e6,
           (double)c.data / best);
    return 0;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 100;
    struct bm_buf in = BM_BUF_INIT;
    int rc = 1;

    if (mb == 0)
        mb = 1;
    if (gen_ndjson(&in, mb * 1000 * 1000) < 0 ||
        bench("ndjson", BM_FRAMER_NDJSON, &in) < 0)
        goto out_release;
    bm_buf_reset(&in);
    if (gen_sse(&in, mb * 1000 * 1000) < 0 ||
        bench("sse", BM_FRAMER_SSE, &in) < 0)
        goto out_release;
    rc = 0;
out_release:
    if (rc)
        fprintf(stderr, "bench_framer: out of memory\n");
    bm_buf_release(&in);
    return rc;
}
