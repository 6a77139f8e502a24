/*
 * top.c - `brandmond --top`: the live view a PR person watches instead of
 * logs.
 *
 * It reads what the daemons write to Redis (docs/redis-schema.md): the
 * brands from `Ptotal:*` (or --brands), each brand's last 60 minute
 * buckets, the latest entries of `Palerts` and the `Pinstance:*`
 * heartbeats; then draws one frame of plain text with ANSI escape codes
 * and draws it again every interval. It only reads: it never writes a key.
 *
 * The file has two halves. The renderer (bm_top_render() and its helpers)
 * turns plain structs into text, cleaning what came from the internet
 * (control characters would otherwise drive the terminal) and cutting
 * every line to the terminal's width by display columns (utf8proc's
 * widths). The runner talks to Redis with hiredis's synchronous API,
 * pipelining the minute buckets, and to the terminal with termios and a
 * poll() on stdin; no curses.
 *
 * Signals: the handlers only set flags (volatile sig_atomic_t, the one
 * piece of mutable global state here, because a handler can reach nothing
 * else); the loop checks them, restores the terminal and returns. SIGTSTP
 * puts the terminal back before the process stops and takes it again when
 * it continues.
 */
#include "brandmon/top.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sysexits.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <utf8proc.h>

#include "brandmon/time.h"

#define DEFAULT_URL        "redis://127.0.0.1:6379/0"
#define DEFAULT_PREFIX     "brandmon:"
#define NAME_COL_MIN       5  /* "brand" */
#define NAME_COL_MAX       20 /* longer brand ids get "…" */
#define ALERT_COL_MAX      16 /* brand and author columns of an alert */
#define BRANDS_MAX         10000
#define INSTANCES_MAX      64
#define BRANDS_PER_BATCH   32 /* brands whose buckets go in one pipeline */
#define CONNECT_TIMEOUT_S  2
#define COMMAND_TIMEOUT_S  5
#define HEARTBEAT_STALE_MS 30000 /* three missed refreshes */
#define SCAN_COUNT         "1000"

/* ------------------------------------------------------------------ */
/* Text: cleaning, display width, cutting                             */
/* ------------------------------------------------------------------ */

/*
 * Reads one character of @s (@n bytes left) as it will be shown: @cp is
 * what to print (a space for a control character, '?' for a byte that is
 * not UTF-8, -1 for a character to drop), @w its width. Returns the bytes
 * consumed (at least 1).
 */
static size_t next_char(const char *s, size_t n, int32_t *cp, unsigned *w)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t len;
    utf8proc_category_t cat;

    len =
        utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &c);
    if (len <= 0) {
        *cp = '?';
        *w = 1;
        return 1;
    }
    cat = utf8proc_category(c);
    if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_ZL ||
        cat == UTF8PROC_CATEGORY_ZP) {
        *cp = ' ';
        *w = 1;
    } else if (cat == UTF8PROC_CATEGORY_CF) {
        /* bidi overrides and friends would reorder the rest of the line */
        *cp = -1;
        *w = 0;
    } else if (cat == UTF8PROC_CATEGORY_CN) {
        *cp = '?';
        *w = 1;
    } else {
        *cp = c;
        *w = (unsigned)utf8proc_charwidth(c);
    }
    return (size_t)len;
}

static unsigned text_width(const char *s)
{
    size_t n = strlen(s), i = 0;
    unsigned width = 0;

    while (i < n) {
        int32_t cp;
        unsigned w;

        i += next_char(s + i, n - i, &cp, &w);
        width += w;
    }
    return width;
}

/* Appends @s cleaned and cut to @cols columns; with @ellipsis the last
 * column is "…" when @s was longer. Returns the columns used or -ENOMEM. */
static int put_clean(struct bm_buf *out, const char *s, unsigned cols,
                     bool ellipsis)
{
    size_t n = strlen(s), i = 0;
    bool cut = text_width(s) > cols;
    unsigned room = cols, used = 0;

    if (cut && ellipsis && cols > 0)
        room = cols - 1;
    while (i < n) {
        utf8proc_uint8_t enc[4];
        int32_t cp;
        unsigned w;
        size_t len = next_char(s + i, n - i, &cp, &w);

        if (used + w > room)
            break;
        i += len;
        if (cp < 0)
            continue;
        if (bm_buf_append(out, enc, (size_t)utf8proc_encode_char(cp, enc)))
            return -ENOMEM;
        used += w;
    }
    if (cut && ellipsis && cols > 0) {
        if (bm_buf_puts(out, "…"))
            return -ENOMEM;
        used++;
    }
    return (int)used;
}

int bm_top_put_cut(struct bm_buf *out, const char *s, unsigned cols)
{
    return put_clean(out, s, cols, true);
}

/* ------------------------------------------------------------------ */
/* Numbers                                                            */
/* ------------------------------------------------------------------ */

void bm_top_format_count(uint64_t v, char out[8])
{
    static const char units[] = "kMGTPE";
    uint64_t scale = 1000;

    if (v < 10000) {
        snprintf(out, 8, "%u", (unsigned)v);
        return;
    }
    for (size_t u = 0; u < sizeof(units) - 1; u++, scale *= 1000) {
        uint64_t whole = v / scale;

        /* 1.2M keeps a decimal where it fits in four characters; 10k
         * does not need one, as 9999 is still written out */
        if (whole < 10 && u > 0) {
            snprintf(out, 8, "%u.%u%c", (unsigned)whole,
                     (unsigned)(v / (scale / 10) % 10), units[u]);
            return;
        }
        if (whole < 1000 || u == sizeof(units) - 2) {
            snprintf(out, 8, "%u%c", (unsigned)whole, units[u]);
            return;
        }
    }
}

const char *bm_top_spark_char(uint64_t v, uint64_t max)
{
    static const char *const blocks[8] = { "▁", "▂", "▃", "▄",
                                           "▅", "▆", "▇", "█" };
    double level;

    if (v == 0 || max == 0)
        return " ";
    if (v >= max)
        return blocks[7];
    level = ceil((double)v * 8.0 / (double)max);
    if (level < 1)
        level = 1;
    if (level > 8)
        level = 8;
    return blocks[(int)level - 1];
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* "3s", "12m", "5h", "9d" */
static void format_age(int64_t ms, char out[16])
{
    int64_t s = ms < 0 ? 0 : ms / 1000;

    if (s < 120)
        snprintf(out, 16, "%llds", (long long)s);
    else if (s < 120 * 60)
        snprintf(out, 16, "%lldm", (long long)(s / 60));
    else if (s < 48 * 3600)
        snprintf(out, 16, "%lldh", (long long)(s / 3600));
    else
        snprintf(out, 16, "%lldd", (long long)(s / 86400));
}

static void utc_tm(int64_t ms, struct tm *tm)
{
    time_t t = (time_t)(ms / 1000);

    if (!gmtime_r(&t, tm))
        memset(tm, 0, sizeof(*tm));
}

/* ------------------------------------------------------------------ */
/* Sorting                                                            */
/* ------------------------------------------------------------------ */

static int brand_cmp(const void *a, const void *b)
{
    const struct bm_top_brand *x = a, *y = b;

    if (x->hour != y->hour)
        return x->hour > y->hour ? -1 : 1;
    if (x->minute != y->minute)
        return x->minute > y->minute ? -1 : 1;
    return strcmp(x->name, y->name);
}

void bm_top_sort(struct bm_top_brand *b, size_t n)
{
    if (n > 1)
        qsort(b, n, sizeof(*b), brand_cmp);
}

/* ------------------------------------------------------------------ */
/* The renderer                                                       */
/* ------------------------------------------------------------------ */

/* Writes lines into a buffer, tracking the columns used so nothing
 * passes the width, and the lines so nothing passes the height. */
struct pen {
    struct bm_buf *out;            /* borrowed: the caller's frame */
    const struct bm_top_style *st; /* borrowed: the caller's */
    struct bm_buf tmp;             /* owned: one field at a time */
    unsigned col;                  /* columns used on this line */
    unsigned lines;                /* lines ended so far */
    bool limited;                  /* st->height applies */
    unsigned max_lines;            /* with limited */
    bool sgr;                      /* an SGR attribute is on */
    int err;                       /* the first error, sticky */
};

static bool pen_is_full(const struct pen *p)
{
    return p->err || (p->limited && p->lines >= p->max_lines);
}

static void pen_sgr(struct pen *p, const char *code)
{
    if (pen_is_full(p) || !p->st->color || !code)
        return;
    if (bm_buf_printf(p->out, "\033[%sm", code))
        p->err = -ENOMEM;
    else
        p->sgr = true;
}

static void pen_reset(struct pen *p)
{
    if (pen_is_full(p) || !p->sgr)
        return;
    if (bm_buf_puts(p->out, "\033[0m"))
        p->err = -ENOMEM;
    p->sgr = false;
}

/* Text, cut hard at the line's end. */
static void pen_put(struct pen *p, const char *s)
{
    unsigned room;
    int used;

    if (pen_is_full(p))
        return;
    room = p->st->width > p->col ? p->st->width - p->col : 0;
    used = put_clean(p->out, s, room, false);
    if (used < 0)
        p->err = used;
    else
        p->col += (unsigned)used;
}

__attribute__((format(printf, 2, 3))) static void pen_putf(struct pen *p,
                                                           const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pen_put(p, line);
}

/* @s in exactly @w columns: cut with "…" or padded with spaces. */
static void pen_field(struct pen *p, const char *s, unsigned w, bool right)
{
    int used;

    if (pen_is_full(p))
        return;
    bm_buf_reset(&p->tmp);
    if (!right) {
        used = put_clean(&p->tmp, s, w, true);
        while (used >= 0 && (unsigned)used < w)
            used = bm_buf_putc(&p->tmp, ' ') ? -ENOMEM : used + 1;
    } else {
        unsigned sw = text_width(s);

        used = 0;
        for (; sw < w && used >= 0; sw++)
            used = bm_buf_putc(&p->tmp, ' ') ? -ENOMEM : used;
        if (used >= 0)
            used = put_clean(&p->tmp, s, w, true);
    }
    if (used < 0) {
        p->err = used;
        return;
    }
    pen_put(p, p->tmp.data ? p->tmp.data : "");
}

/* @s in what is left of the line, cut with "…" when it does not fit. */
static void pen_fit(struct pen *p, const char *s)
{
    unsigned room;
    int used;

    if (pen_is_full(p))
        return;
    room = p->st->width > p->col ? p->st->width - p->col : 0;
    used = put_clean(p->out, s, room, true);
    if (used < 0)
        p->err = used;
    else
        p->col += (unsigned)used;
}

/* A coloured field: the colour is off again before the next one. */
static void pen_cfield(struct pen *p, const char *sgr, const char *s,
                       unsigned w, bool right)
{
    pen_sgr(p, sgr);
    pen_field(p, s, w, right);
    pen_reset(p);
}

static void pen_end(struct pen *p)
{
    if (pen_is_full(p))
        return;
    pen_reset(p);
    if (p->st->screen && bm_buf_puts(p->out, "\033[K"))
        p->err = -ENOMEM;
    if (bm_buf_putc(p->out, '\n'))
        p->err = -ENOMEM;
    p->col = 0;
    p->lines++;
}

/* ---- title ---- */

static void render_title(struct pen *p, const struct bm_top_frame *f)
{
    char when[32];
    struct tm tm;

    utc_tm(f->now_ms, &tm);
    if (!strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
        when[0] = '\0';
    pen_sgr(p, "1");
    pen_put(p, "brandmon top");
    pen_reset(p);
    pen_putf(p, "  %s  prefix %s  %s", f->where ? f->where : "",
             f->prefix ? f->prefix : "", when);
    if (p->st->screen) {
        pen_sgr(p, "2");
        pen_put(p, "  q quits");
        pen_reset(p);
    }
    pen_end(p);
    if (f->problem) {
        pen_sgr(p, "1;31");
        pen_put(p, "! ");
        pen_put(p, f->problem);
        pen_end(p);
    }
}

/* ---- brands ---- */

/* Columns right of the name: 1m 1h sent pos neu neg def amp. */
#define ROW_FIXED (5 + 5 + 6 + 5 + 5 + 5 + 5 + 5)
#define SPARK_GAP 2

struct table {
    unsigned name_w; /* width of the brand column */
    unsigned spark;  /* minutes shown, the most recent */
};

static struct table table_layout(const struct bm_top_frame *f, unsigned width)
{
    struct table t = { NAME_COL_MIN, 0 };
    unsigned fixed;

    for (size_t i = 0; i < f->nbrands; i++) {
        unsigned w = text_width(f->brands[i].name);

        if (w > t.name_w)
            t.name_w = w < NAME_COL_MAX ? w : NAME_COL_MAX;
    }
    fixed = t.name_w + ROW_FIXED + SPARK_GAP;
    if (width > fixed)
        t.spark =
            width - fixed < BM_TOP_MINUTES ? width - fixed : BM_TOP_MINUTES;
    return t;
}

static void render_brand_header(struct pen *p, const struct table *t)
{
    static const char *const heads[] = { "1m",  "1h",  "sent", "pos",
                                         "neu", "neg", "def",  "amp" };
    static const unsigned widths[] = { 4, 4, 5, 4, 4, 4, 4, 4 };
    char spark[48];

    pen_sgr(p, "1");
    pen_field(p, "brand", t->name_w, false);
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        pen_put(p, " ");
        pen_field(p, heads[i], widths[i], true);
    }
    if (t->spark) {
        snprintf(spark, sizeof(spark), "mentions/min, last %u min", t->spark);
        pen_put(p, "  ");
        pen_fit(p, spark);
    }
    pen_end(p);
}

static void share(uint64_t part, uint64_t all, char out[8])
{
    if (all == 0)
        snprintf(out, 8, "-");
    else
        snprintf(out, 8, "%u%%",
                 (unsigned)((double)part * 100.0 / (double)all + 0.5));
}

static void render_brand_row(struct pen *p, const struct table *t,
                             const struct bm_top_brand *b)
{
    uint64_t tones = add_sat(add_sat(b->positive, b->neutral), b->negative);
    uint64_t max = 0;
    const char *sent_sgr = NULL;
    char num[8], sent[16];
    size_t first = BM_TOP_MINUTES - t->spark;

    pen_field(p, b->name, t->name_w, false);
    bm_top_format_count(b->minute, num);
    pen_put(p, " ");
    pen_field(p, num, 4, true);
    bm_top_format_count(b->hour, num);
    pen_put(p, " ");
    pen_field(p, num, 4, true);

    snprintf(sent, sizeof(sent), "-");
    if (b->hour > 0 && isfinite(b->sentiment_sum)) {
        double mean = b->sentiment_sum / (double)b->hour;

        if (mean > 9.99)
            mean = 9.99;
        if (mean < -9.99)
            mean = -9.99;
        snprintf(sent, sizeof(sent), "%+.2f", mean);
        if (mean <= -0.2)
            sent_sgr = "31";
        else if (mean >= 0.2)
            sent_sgr = "32";
    }
    pen_put(p, " ");
    pen_cfield(p, sent_sgr, sent, 5, true);

    share(b->positive, tones, num);
    pen_put(p, " ");
    pen_field(p, num, 4, true);
    share(b->neutral, tones, num);
    pen_put(p, " ");
    pen_field(p, num, 4, true);
    share(b->negative, tones, num);
    pen_put(p, " ");
    pen_field(p, num, 4, true);

    bm_top_format_count(b->defense, num);
    pen_put(p, " ");
    pen_cfield(p, b->defense ? "31" : NULL, num, 4, true);
    bm_top_format_count(b->amplification, num);
    pen_put(p, " ");
    pen_cfield(p, b->amplification ? "32" : NULL, num, 4, true);

    if (t->spark) {
        for (size_t i = first; i < BM_TOP_MINUTES; i++)
            if (b->spark[i] > max)
                max = b->spark[i];
        pen_put(p, "  ");
        pen_sgr(p, "36");
        for (size_t i = first; i < BM_TOP_MINUTES; i++)
            pen_put(p, bm_top_spark_char(b->spark[i], max));
        pen_reset(p);
    }
    pen_end(p);
}

static void render_brands(struct pen *p, const struct bm_top_frame *f,
                          long budget)
{
    struct table t = table_layout(f, p->st->width);
    size_t shown = f->nbrands;

    if (f->nbrands == 0) {
        pen_put(p, "no mentions yet");
        pen_end(p);
        return;
    }
    render_brand_header(p, &t);
    if (budget >= 0 && (size_t)budget < f->nbrands)
        shown = budget > 1 ? (size_t)budget - 1 : 0;
    for (size_t i = 0; i < shown; i++)
        render_brand_row(p, &t, &f->brands[i]);
    if (shown < f->nbrands) {
        uint64_t rest = 0;

        for (size_t i = shown; i < f->nbrands; i++)
            rest += f->brands[i].hour;
        pen_sgr(p, "2");
        pen_putf(p, "… %zu more brands, %llu mentions in the last hour",
                 f->nbrands - shown, (unsigned long long)rest);
        pen_end(p);
    }
}

/* ---- alerts ---- */

static const char *priority_sgr(const char *prio)
{
    if (strcmp(prio, "critical") == 0)
        return "1;37;41";
    if (strcmp(prio, "high") == 0)
        return "1;31";
    if (strcmp(prio, "medium") == 0)
        return "33";
    if (strcmp(prio, "low") == 0)
        return "36";
    return NULL;
}

static void alert_time(int64_t at, int64_t now, char out[16])
{
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;

    if (at <= 0) {
        snprintf(out, 16, "?");
        return;
    }
    utc_tm(at, &tm);
    if (now - at < 86400000LL)
        strftime(out, 16, "%H:%M:%S", &tm);
    else
        snprintf(out, 16, "%s %02u", months[(unsigned)tm.tm_mon % 12],
                 (unsigned)tm.tm_mday % 100);
}

static unsigned col_width(const struct bm_top_alert *a, size_t n, size_t off,
                          unsigned lo, unsigned hi)
{
    unsigned w = lo;

    for (size_t i = 0; i < n; i++) {
        unsigned sw = text_width((const char *)&a[i] + off);

        if (sw > w)
            w = sw;
    }
    return w < hi ? w : hi;
}

static void render_alerts(struct pen *p, const struct bm_top_frame *f)
{
    unsigned kind_w, brand_w, author_w;

    pen_sgr(p, "1");
    pen_put(p, "latest alerts");
    pen_end(p);
    if (f->nalerts == 0) {
        pen_put(p, "no alerts yet");
        pen_end(p);
        return;
    }
    kind_w = col_width(f->alerts, f->nalerts,
                       offsetof(struct bm_top_alert, kind), 4, 13);
    brand_w = col_width(f->alerts, f->nalerts,
                        offsetof(struct bm_top_alert, brand), 1, ALERT_COL_MAX);
    author_w =
        col_width(f->alerts, f->nalerts, offsetof(struct bm_top_alert, author),
                  1, ALERT_COL_MAX);
    for (size_t i = 0; i < f->nalerts; i++) {
        const struct bm_top_alert *a = &f->alerts[i];
        char when[16];

        alert_time(a->at_ms, f->now_ms, when);
        pen_field(p, when, 8, false);
        pen_put(p, " ");
        pen_cfield(p, priority_sgr(a->priority), a->priority, 8, false);
        pen_put(p, " ");
        pen_field(p, a->kind, kind_w, false);
        pen_put(p, " ");
        pen_field(p, a->brand[0] ? a->brand : "-", brand_w, false);
        pen_put(p, " ");
        pen_field(p, a->author[0] ? a->author : "-", author_w, false);
        pen_put(p, " ");
        pen_fit(p, a->text);
        pen_end(p);
    }
}

/* ---- footer ---- */

static void render_footer(struct pen *p, const struct bm_top_frame *f)
{
    pen_put(p, "instances:");
    if (f->ninstances == 0) {
        pen_sgr(p, "33");
        pen_put(p, " none (no heartbeat in the last minute)");
        pen_reset(p);
    }
    for (size_t i = 0; i < f->ninstances; i++) {
        const struct bm_top_instance *in = &f->instances[i];
        int64_t age = f->now_ms - in->updated_ms;
        char n1[8], n2[8], n3[8], when[16];

        bm_top_format_count(in->decided, n1);
        bm_top_format_count(in->queue, n2);
        bm_top_format_count(in->spool, n3);
        if (in->updated_ms > 0)
            format_age(age, when);
        else
            snprintf(when, sizeof(when), "?");
        pen_put(p, i ? "  · " : " ");
        pen_sgr(p, "1");
        pen_put(p, in->name);
        pen_reset(p);
        pen_putf(p, " decided %s", n1);
        pen_sgr(p, in->queue ? "33" : NULL);
        pen_putf(p, " queue %s", n2);
        pen_reset(p);
        pen_sgr(p, in->spool ? "33" : NULL);
        pen_putf(p, " spool %s", n3);
        pen_reset(p);
        pen_sgr(p,
                in->updated_ms <= 0 || age > HEARTBEAT_STALE_MS ? "33" : NULL);
        pen_putf(p, " age %s", when);
        pen_reset(p);
    }
    pen_end(p);
}

int bm_top_render(const struct bm_top_frame *f, const struct bm_top_style *s,
                  struct bm_buf *out)
{
    struct bm_top_style st = *s;
    struct pen p = { .out = out, .st = &st };
    long budget = -1;
    int err;

    if (st.width == 0)
        st.width = 1;
    if (st.height > 0) {
        /* the last row stays empty so that the final newline does not
         * scroll the screen */
        long others = 1 + (f->problem ? 1 : 0) + 1 + 1 + 1 + 1 +
                      (long)(f->nalerts ? f->nalerts : 1) + 1 + 1;

        p.limited = true;
        p.max_lines = st.height - 1;
        budget = (long)p.max_lines - others;
        if (budget < 0)
            budget = 0;
    }
    bm_buf_init(&p.tmp);
    render_title(&p, f);
    pen_end(&p);
    render_brands(&p, f, budget);
    pen_end(&p);
    render_alerts(&p, f);
    pen_end(&p);
    render_footer(&p, f);
    err = p.err;
    bm_buf_release(&p.tmp);
    return err;
}

/* ------------------------------------------------------------------ */
/* Reading Redis                                                      */
/* ------------------------------------------------------------------ */

struct target {
    char host[256];
    int port;
    char unix_path[256];
    int db;
};

/* redis://HOST[:PORT][/DB], redis://[V6]:PORT/DB or unix:///PATH. */
static int parse_url(const char *url, struct target *t)
{
    const char *p, *end, *colon = NULL;
    size_t hostlen;
    char *num_end;
    long v;

    memset(t, 0, sizeof(*t));
    t->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        if (url[7] != '/' || strlen(url + 7) >= sizeof(t->unix_path))
            return -EINVAL;
        snprintf(t->unix_path, sizeof(t->unix_path), "%s", url + 7);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return -EINVAL;
    p = url + 8;
    end = p + strcspn(p, "/");
    if (memchr(p, '@', (size_t)(end - p)))
        return -EINVAL;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));

        if (!close)
            return -EINVAL;
        hostlen = (size_t)(close - p - 1);
        if (close + 1 < end) {
            if (close[1] != ':')
                return -EINVAL;
            colon = close + 1;
        }
        p++;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        hostlen = (size_t)((colon ? colon : end) - p);
    }
    if (hostlen >= sizeof(t->host))
        return -EINVAL;
    memcpy(t->host, p, hostlen);
    t->host[hostlen] = '\0';
    if (!t->host[0])
        snprintf(t->host, sizeof(t->host), "127.0.0.1");
    if (colon) {
        errno = 0;
        v = strtol(colon + 1, &num_end, 10);
        if (errno || num_end != end || num_end == colon + 1 || v < 1 ||
            v > 65535)
            return -EINVAL;
        t->port = (int)v;
    }
    if (*end == '/' && end[1]) {
        errno = 0;
        v = strtol(end + 1, &num_end, 10);
        if (errno || *num_end || v < 0 || v > 65535)
            return -EINVAL;
        t->db = (int)v;
    }
    return 0;
}

/* What one frame shows, read in one go. */
struct snapshot {
    int64_t now_ms;              /* when it was read */
    struct bm_top_brand *brands; /* owned; sorted */
    size_t nbrands;
    size_t cap;
    struct bm_top_alert alerts[BM_TOP_ALERTS]; /* newest first */
    size_t nalerts;
    struct bm_top_instance inst[INSTANCES_MAX];
    size_t ninst;
};

/* The runner's state, for one run of bm_top_run(). */
struct top {
    const struct bm_top_opts *opts; /* borrowed: the caller's */
    const char *url;                /* borrowed: opts or DEFAULT_URL */
    const char *prefix;             /* borrowed: opts or DEFAULT_PREFIX */
    struct target target;
    redisContext *c; /* owned; NULL while Redis is away */
    char **names;    /* owned, each owned: the brands' full ids */
    size_t nnames;
    bool fixed_names;       /* names came from --brands */
    struct snapshot *shown; /* owned: the last complete read */
    struct snapshot *next;  /* owned: the read under way */
    bool have_data;         /* shown holds a complete read */
    char problem[320];
    struct bm_buf frame; /* owned: reused per frame */
    struct bm_buf key;   /* owned: reused per key */
};

static void set_problem(struct top *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_problem(struct top *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t->problem, sizeof(t->problem), fmt, ap);
    va_end(ap);
}

static void drop_connection(struct top *t)
{
    if (t->c)
        redisFree(t->c);
    t->c = NULL;
}

static int connect_redis(struct top *t)
{
    struct timeval tv = { CONNECT_TIMEOUT_S, 0 };
    const char *password;
    redisReply *r;

    drop_connection(t);
    if (t->target.unix_path[0])
        t->c = redisConnectUnixWithTimeout(t->target.unix_path, tv);
    else
        t->c = redisConnectWithTimeout(t->target.host, t->target.port, tv);
    if (!t->c) {
        set_problem(t, "cannot reach Redis at %s: out of memory", t->url);
        return -ENOMEM;
    }
    if (t->c->err) {
        set_problem(t, "cannot reach Redis at %s: %s", t->url, t->c->errstr);
        goto out_drop;
    }
    redisSetTimeout(t->c, (struct timeval){ COMMAND_TIMEOUT_S, 0 });
    /* redis-cli's variable, so the password stays out of argv */
    password = getenv("REDISCLI_AUTH");
    if (password && *password) {
        r = redisCommand(t->c, "AUTH %s", password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            set_problem(t, "Redis at %s: AUTH: %s", t->url,
                        r ? r->str : t->c->errstr);
            if (r)
                freeReplyObject(r);
            goto out_drop;
        }
        freeReplyObject(r);
    }
    if (t->target.db == 0)
        return 0;
    r = redisCommand(t->c, "SELECT %d", t->target.db);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        set_problem(t, "Redis at %s: SELECT %d: %s", t->url, t->target.db,
                    r ? r->str : t->c->errstr);
        if (r)
            freeReplyObject(r);
        goto out_drop;
    }
    freeReplyObject(r);
    return 0;

out_drop:
    drop_connection(t);
    return -EIO;
}

/* The reply failed as a whole (connection gone, or an error such as
 * NOAUTH): names the problem and drops the connection. */
static int reply_failed(struct top *t, redisReply *r, const char *what)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        set_problem(t, "Redis at %s: %s: %s", t->url, what, r->str);
    else if (r)
        set_problem(t, "Redis at %s: %s: unexpected reply", t->url, what);
    else
        set_problem(t, "Redis at %s stopped answering: %s", t->url,
                    t->c && t->c->errstr[0] ? t->c->errstr : "no reply");
    if (r)
        freeReplyObject(r);
    drop_connection(t);
    return -EIO;
}

/* A non-negative integer field; anything odd reads as 0. */
static uint64_t reply_u64(const redisReply *r)
{
    unsigned long long v;
    char *end;

    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer > 0 ? (uint64_t)r->integer : 0;
    if (!r || r->type != REDIS_REPLY_STRING || !r->str ||
        !(r->str[0] >= '0' && r->str[0] <= '9'))
        return 0;
    errno = 0;
    v = strtoull(r->str, &end, 10);
    if (errno == ERANGE)
        return UINT64_MAX;
    if (*end != '\0' && *end != '.')
        return 0;
    return (uint64_t)v;
}

static double reply_double(const redisReply *r)
{
    char *end;
    double v;

    if (r && r->type == REDIS_REPLY_INTEGER)
        return (double)r->integer;
    if (!r || r->type != REDIS_REPLY_STRING || !r->str || !r->str[0])
        return 0;
    v = strtod(r->str, &end);
    return *end == '\0' && isfinite(v) ? v : 0;
}

static void copy_str(char *dst, size_t n, const redisReply *r)
{
    size_t len;

    dst[0] = '\0';
    if (!r ||
        (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) ||
        !r->str)
        return;
    len = r->len < n - 1 ? r->len : n - 1;
    memcpy(dst, r->str, len);
    dst[len] = '\0';
    /* a NUL inside the value would end the string early: harmless */
}

/* @s with the SCAN glob characters escaped, into t->key. */
static int put_glob_escaped(struct top *t, const char *s)
{
    for (; *s; s++) {
        if (strchr("*?[]\\", *s) && bm_buf_putc(&t->key, '\\'))
            return -ENOMEM;
        if (bm_buf_putc(&t->key, *s))
            return -ENOMEM;
    }
    return 0;
}

typedef int (*scan_key_fn)(struct top *t, const char *key, size_t len);

/* SCANs Prefix+@infix+"*" and hands each key to @cb. */
static int scan_keys(struct top *t, const char *infix, scan_key_fn cb)
{
    char cursor[32] = "0";
    char *pattern;
    int err = 0;

    bm_buf_reset(&t->key);
    if (put_glob_escaped(t, t->prefix) || put_glob_escaped(t, infix) ||
        bm_buf_putc(&t->key, '*'))
        return -ENOMEM;
    pattern = bm_buf_detach(&t->key);
    if (!pattern)
        return -ENOMEM;
    do {
        redisReply *r = redisCommand(t->c, "SCAN %s MATCH %s COUNT %s", cursor,
                                     pattern, SCAN_COUNT);
        redisReply *keys;

        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            err = reply_failed(t, r, "SCAN");
            goto out_free_pattern;
        }
        copy_str(cursor, sizeof(cursor), r->element[0]);
        keys = r->element[1];
        for (size_t i = 0; i < keys->elements && !err; i++)
            if (keys->element[i]->type == REDIS_REPLY_STRING)
                err = cb(t, keys->element[i]->str, keys->element[i]->len);
        freeReplyObject(r);
    } while (!err && strcmp(cursor, "0") != 0 && cursor[0]);

out_free_pattern:
    free(pattern);
    return err;
}

static int add_name(struct top *t, const char *name, size_t len)
{
    char **nn;

    if (len == 0 || t->nnames >= BRANDS_MAX)
        return 0;
    nn = realloc(t->names, (t->nnames + 1) * sizeof(*nn));
    if (!nn)
        return -ENOMEM;
    t->names = nn;
    t->names[t->nnames] = strndup(name, len);
    if (!t->names[t->nnames])
        return -ENOMEM;
    t->nnames++;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* SCAN may return a key twice, and --brands may repeat one. */
static void unique_names(struct top *t)
{
    size_t n = 0;

    if (t->nnames < 2)
        return;
    qsort(t->names, t->nnames, sizeof(*t->names), name_cmp);
    for (size_t i = 0; i < t->nnames; i++) {
        if (n > 0 && strcmp(t->names[n - 1], t->names[i]) == 0)
            free(t->names[i]);
        else
            t->names[n++] = t->names[i];
    }
    t->nnames = n;
}

static void free_names(struct top *t)
{
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i]);
    free(t->names);
    t->names = NULL;
    t->nnames = 0;
}

static int brand_key_cb(struct top *t, const char *key, size_t len)
{
    size_t skip = strlen(t->prefix) + strlen("total:");

    if (len <= skip || memchr(key, '\0', len))
        return 0;
    return add_name(t, key + skip, len - skip);
}

/* --brands "a, b,,c" */
static int parse_brands(struct top *t, const char *list)
{
    while (*list) {
        size_t len = strcspn(list, ",");
        const char *s = list, *e = list + len;
        int err;

        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        err = add_name(t, s, (size_t)(e - s));
        if (err)
            return err;
        list += len;
        if (*list == ',')
            list++;
    }
    return 0;
}

static const char *const bucket_fields[] = {
    "mentions",      "positive", "neutral",       "negative",
    "sentiment_sum", "defense",  "amplification",
};
#define NBUCKET_FIELDS (sizeof(bucket_fields) / sizeof(bucket_fields[0]))

static void add_bucket(struct bm_top_brand *b, size_t minute,
                       const redisReply *r)
{
    uint64_t m;

    /* WRONGTYPE or a missing key: nothing to add */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != NBUCKET_FIELDS)
        return;
    m = reply_u64(r->element[0]);
    b->spark[minute] = m;
    if (minute == BM_TOP_MINUTES - 1)
        b->minute = m;
    b->hour = add_sat(b->hour, m);
    b->positive = add_sat(b->positive, reply_u64(r->element[1]));
    b->neutral = add_sat(b->neutral, reply_u64(r->element[2]));
    b->negative = add_sat(b->negative, reply_u64(r->element[3]));
    b->sentiment_sum += reply_double(r->element[4]);
    b->defense = add_sat(b->defense, reply_u64(r->element[5]));
    b->amplification = add_sat(b->amplification, reply_u64(r->element[6]));
}

/* Pipelines HMGET over the minute buckets of brands [from, to). */
static int fetch_buckets(struct top *t, size_t from, size_t to,
                         char stamps[][16])
{
    struct snapshot *sn = t->next;

    for (size_t i = from; i < to; i++) {
        for (size_t m = 0; m < BM_TOP_MINUTES; m++) {
            bm_buf_reset(&t->key);
            if (bm_buf_printf(&t->key, "%sminute:%s:%s", t->prefix, t->names[i],
                              stamps[m]))
                return -ENOMEM;
            if (redisAppendCommand(
                    t->c, "HMGET %b %s %s %s %s %s %s %s", t->key.data,
                    t->key.len, bucket_fields[0], bucket_fields[1],
                    bucket_fields[2], bucket_fields[3], bucket_fields[4],
                    bucket_fields[5], bucket_fields[6]) != REDIS_OK)
                return reply_failed(t, NULL, "HMGET");
        }
    }
    for (size_t i = from; i < to; i++) {
        struct bm_top_brand *b = &sn->brands[i];

        memset(b, 0, sizeof(*b));
        snprintf(b->name, sizeof(b->name), "%s", t->names[i]);
        for (size_t m = 0; m < BM_TOP_MINUTES; m++) {
            void *reply = NULL;

            if (redisGetReply(t->c, &reply) != REDIS_OK || !reply)
                return reply_failed(t, NULL, "HMGET");
            add_bucket(b, m, reply);
            freeReplyObject(reply);
        }
    }
    return 0;
}

static int fetch_brands(struct top *t)
{
    struct snapshot *sn = t->next;
    char stamps[BM_TOP_MINUTES][16];
    int64_t now_min = sn->now_ms / 60000;
    int err;

    if (!t->fixed_names) {
        free_names(t);
        err = scan_keys(t, "total:", brand_key_cb);
        if (err)
            return err;
        unique_names(t);
    }
    for (size_t m = 0; m < BM_TOP_MINUTES; m++) {
        struct tm tm;

        utc_tm((now_min - (int64_t)(BM_TOP_MINUTES - 1 - m)) * 60000, &tm);
        strftime(stamps[m], sizeof(stamps[m]), "%Y%m%d%H%M", &tm);
    }
    if (t->nnames > sn->cap) {
        struct bm_top_brand *nb = realloc(sn->brands, t->nnames * sizeof(*nb));

        if (!nb)
            return -ENOMEM;
        sn->brands = nb;
        sn->cap = t->nnames;
    }
    for (size_t i = 0; i < t->nnames; i += BRANDS_PER_BATCH) {
        size_t to = i + BRANDS_PER_BATCH;

        err = fetch_buckets(t, i, to < t->nnames ? to : t->nnames, stamps);
        if (err)
            return err;
    }
    sn->nbrands = t->nnames;
    bm_top_sort(sn->brands, sn->nbrands);
    return 0;
}

static const redisReply *field_of(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i];

        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
            return fields->element[i + 1];
    }
    return NULL;
}

static void read_alert(struct bm_top_alert *a, const redisReply *entry)
{
    const redisReply *id = entry->element[0], *fields = entry->element[1];
    char when[64];
    int64_t ms = 0;

    memset(a, 0, sizeof(*a));
    if (id->type == REDIS_REPLY_STRING)
        a->at_ms = strtoll(id->str, NULL, 10);
    if (fields->type != REDIS_REPLY_ARRAY)
        return;
    copy_str(when, sizeof(when), field_of(fields, "detected_at"));
    if (when[0] && bm_time_parse_iso8601(when, &ms) == 0)
        a->at_ms = ms;
    copy_str(a->priority, sizeof(a->priority), field_of(fields, "priority"));
    copy_str(a->kind, sizeof(a->kind), field_of(fields, "kind"));
    copy_str(a->brand, sizeof(a->brand), field_of(fields, "brand"));
    copy_str(a->author, sizeof(a->author), field_of(fields, "author"));
    copy_str(a->text, sizeof(a->text), field_of(fields, "text"));
    if (!a->text[0])
        copy_str(a->text, sizeof(a->text), field_of(fields, "message"));
}

static int fetch_alerts(struct top *t)
{
    struct snapshot *sn = t->next;
    redisReply *r;

    sn->nalerts = 0;
    bm_buf_reset(&t->key);
    if (bm_buf_printf(&t->key, "%salerts", t->prefix))
        return -ENOMEM;
    r = redisCommand(t->c, "XREVRANGE %b + - COUNT %d", t->key.data, t->key.len,
                     BM_TOP_ALERTS);
    if (!r)
        return reply_failed(t, NULL, "XREVRANGE");
    if (r->type != REDIS_REPLY_ARRAY) {
        /* a key of another type: nothing to show, nothing broken */
        freeReplyObject(r);
        return 0;
    }
    for (size_t i = 0; i < r->elements && sn->nalerts < BM_TOP_ALERTS; i++) {
        const redisReply *e = r->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        read_alert(&sn->alerts[sn->nalerts++], e);
    }
    freeReplyObject(r);
    return 0;
}

static int instance_key_cb(struct top *t, const char *key, size_t len)
{
    struct snapshot *sn = t->next;
    size_t skip = strlen(t->prefix) + strlen("instance:");
    struct bm_top_instance *in;
    char when[64];
    int64_t ms = 0;
    redisReply *r;

    if (len <= skip || sn->ninst >= INSTANCES_MAX || memchr(key, '\0', len))
        return 0;
    r = redisCommand(t->c, "HMGET %b decided queue spool updated_at", key, len);
    if (!r)
        return reply_failed(t, NULL, "HMGET");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[3]->type == REDIS_REPLY_NIL) {
        freeReplyObject(r); /* gone since the SCAN, or not a heartbeat */
        return 0;
    }
    in = &sn->inst[sn->ninst++];
    memset(in, 0, sizeof(*in));
    len -= skip;
    if (len >= sizeof(in->name))
        len = sizeof(in->name) - 1;
    memcpy(in->name, key + skip, len);
    in->decided = reply_u64(r->element[0]);
    in->queue = reply_u64(r->element[1]);
    in->spool = reply_u64(r->element[2]);
    copy_str(when, sizeof(when), r->element[3]);
    if (bm_time_parse_iso8601(when, &ms) == 0)
        in->updated_ms = ms;
    freeReplyObject(r);
    return 0;
}

static int inst_cmp(const void *a, const void *b)
{
    return strcmp(((const struct bm_top_instance *)a)->name,
                  ((const struct bm_top_instance *)b)->name);
}

static int fetch_instances(struct top *t)
{
    struct snapshot *sn = t->next;
    int err;

    sn->ninst = 0;
    err = scan_keys(t, "instance:", instance_key_cb);
    if (err)
        return err;
    if (sn->ninst > 1)
        qsort(sn->inst, sn->ninst, sizeof(*sn->inst), inst_cmp);
    return 0;
}

/*
 * One read of everything a frame shows, into t->next; only a complete read
 * replaces t->shown, so a Redis that goes away mid-read leaves the last
 * good frame on screen. 0; -EIO with t->problem set; -ENOMEM.
 */
static int fetch(struct top *t)
{
    struct snapshot *done;
    int err;

    if (!t->c) {
        err = connect_redis(t);
        if (err)
            return err;
    }
    t->next->now_ms = bm_time_now_ms();
    err = fetch_brands(t);
    if (!err)
        err = fetch_alerts(t);
    if (!err)
        err = fetch_instances(t);
    if (err)
        return err;
    done = t->next;
    t->next = t->shown;
    t->shown = done;
    t->problem[0] = '\0';
    t->have_data = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The terminal                                                       */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t got_stop;   /* SIGINT, SIGTERM, SIGHUP */
static volatile sig_atomic_t got_tstp;   /* Ctrl-Z */
static volatile sig_atomic_t got_resize; /* SIGWINCH */

static void stop_cb(int sig)
{
    (void)sig;
    got_stop = 1;
}

static void tstp_cb(int sig)
{
    (void)sig;
    got_tstp = 1;
}

static void resize_cb(int sig)
{
    (void)sig;
    got_resize = 1;
}

struct term {
    bool tty_in;             /* stdin is a terminal: keys and termios */
    bool raw;                /* saved holds the settings to restore */
    struct termios saved;    /* stdin's settings before ours */
    bool screen;             /* the alternate screen is on */
    struct sigaction old[5]; /* handlers before ours, in sigs[] order */
};

static const int sigs[5] = { SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGWINCH };

static int write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_str(const char *s)
{
    return write_all(s, strlen(s));
}

static void term_size(unsigned *cols, unsigned *rows)
{
    struct winsize ws;
    const char *env = getenv("COLUMNS");

    *cols = 0;
    *rows = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
        return;
    }
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);

        if (*end == '\0' && v > 0 && v <= 10000)
            *cols = (unsigned)v;
    }
    if (*cols == 0)
        *cols = BM_TOP_WIDTH_DEFAULT;
}

static bool use_color(void)
{
    const char *nc = getenv("NO_COLOR");

    return isatty(STDOUT_FILENO) && !(nc && *nc);
}

/* Non-canonical, no echo, alternate screen, no cursor. */
static void term_enter(struct term *tm)
{
    if (tm->tty_in && tcgetattr(STDIN_FILENO, &tm->saved) == 0) {
        struct termios raw = tm->saved;

        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tm->raw = tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
    }
    tm->screen = write_str("\033[?1049h\033[?25l") == 0;
}

static void term_leave(struct term *tm)
{
    if (tm->screen)
        (void)write_str("\033[0m\033[?25h\033[?1049l");
    tm->screen = false;
    if (tm->raw)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &tm->saved);
    tm->raw = false;
}

static void signals_catch(struct term *tm)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: poll() must wake up to see the flag */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sa.sa_handler = sigs[i] == SIGTSTP    ? tstp_cb
                        : sigs[i] == SIGWINCH ? resize_cb
                                              : stop_cb;
        sigaction(sigs[i], &sa, &tm->old[i]);
    }
}

static void signals_restore(struct term *tm)
{
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &tm->old[i], NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int draw(struct top *t, const struct bm_top_style *st)
{
    const struct snapshot *sn = t->shown;
    struct bm_top_frame f = {
        .now_ms = t->have_data ? sn->now_ms : bm_time_now_ms(),
        .where = t->url,
        .prefix = t->prefix,
        .problem = t->problem[0] ? t->problem : NULL,
        .brands = sn->brands,
        .nbrands = t->have_data ? sn->nbrands : 0,
        .alerts = sn->alerts,
        .nalerts = t->have_data ? sn->nalerts : 0,
        .instances = sn->inst,
        .ninstances = t->have_data ? sn->ninst : 0,
    };

    bm_buf_reset(&t->frame);
    if (st->screen && bm_buf_puts(&t->frame, "\033[H"))
        return -ENOMEM;
    if (bm_top_render(&f, st, &t->frame))
        return -ENOMEM;
    if (st->screen && bm_buf_puts(&t->frame, "\033[J"))
        return -ENOMEM;
    return write_all(t->frame.data, t->frame.len);
}

/* Reads the keys waiting on stdin: true when one of them quits. */
static bool read_keys(void)
{
    char keys[64];
    ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));

    for (ssize_t i = 0; i < n; i++)
        if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == 0x04)
            return true;
    return false;
}

/* Says on the problem line that the view keeps trying, and how old the
 * figures on screen are. */
static void note_retry(struct top *t)
{
    size_t len = strlen(t->problem);
    char when[16] = "";
    struct tm tm;

    if (t->have_data) {
        utc_tm(t->shown->now_ms, &tm);
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
    }
    snprintf(t->problem + len, sizeof(t->problem) - len,
             when[0] ? "; retrying, figures from %s UTC" : "; retrying%s",
             when);
}

static int run_live(struct top *t)
{
    struct term tm = { .tty_in = isatty(STDIN_FILENO) == 1 };
    struct bm_top_style st = { .color = use_color(), .screen = true };
    unsigned interval =
        t->opts->interval_ms ? t->opts->interval_ms : BM_TOP_INTERVAL_DEFAULT;
    int64_t next = 0;
    int code = EX_OK;

    got_stop = got_tstp = got_resize = 0;
    signals_catch(&tm);
    term_enter(&tm);
    while (!got_stop) {
        int64_t now = mono_ms();
        bool redraw = got_resize;
        struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
        int err;

        if (got_tstp) {
            got_tstp = 0;
            term_leave(&tm);
            kill(getpid(), SIGSTOP);
            /* continued: take the terminal again and draw at once */
            term_enter(&tm);
            next = 0;
            continue;
        }
        got_resize = 0;
        if (now >= next) {
            err = fetch(t);
            if (err == -ENOMEM) {
                code = EX_OSERR;
                break;
            }
            if (err)
                note_retry(t);
            next = now + interval;
            redraw = true;
        }
        if (redraw) {
            term_size(&st.width, &st.height);
            err = draw(t, &st);
            if (err) {
                code = err == -ENOMEM ? EX_OSERR : EX_IOERR;
                break;
            }
        }
        now = mono_ms();
        if (poll(&pfd, tm.tty_in ? 1 : 0, next > now ? (int)(next - now) : 0) >
                0 &&
            (pfd.revents & POLLIN) && read_keys())
            break;
        if (pfd.revents & (POLLHUP | POLLERR))
            tm.tty_in = false;
    }
    term_leave(&tm);
    signals_restore(&tm);
    return code;
}

static int run_once(struct top *t)
{
    struct bm_top_style st = { .color = use_color(), .screen = false };
    unsigned rows;
    int err = fetch(t);

    if (err == -ENOMEM) {
        fprintf(stderr, "brandmond: out of memory\n");
        return EX_OSERR;
    }
    if (err) {
        fprintf(stderr, "brandmond: %s\n", t->problem);
        return EX_UNAVAILABLE;
    }
    term_size(&st.width, &rows);
    err = draw(t, &st);
    if (err) {
        fprintf(stderr, "brandmond: cannot write the view: %s\n",
                strerror(-err));
        return err == -ENOMEM ? EX_OSERR : EX_IOERR;
    }
    return EX_OK;
}

int bm_top_run(const struct bm_top_opts *opts)
{
    struct top t = {
        .opts = opts,
        .url = opts->redis_url ? opts->redis_url : DEFAULT_URL,
        .prefix = opts->prefix ? opts->prefix : DEFAULT_PREFIX,
    };
    int code;

    bm_buf_init(&t.frame);
    bm_buf_init(&t.key);
    if (parse_url(t.url, &t.target)) {
        fprintf(stderr,
                "brandmond: --redis takes redis://HOST[:PORT][/DB] "
                "or unix:///PATH, not '%s'\n",
                t.url);
        return EX_USAGE;
    }
    t.shown = calloc(1, sizeof(*t.shown));
    t.next = calloc(1, sizeof(*t.next));
    if (!t.shown || !t.next) {
        code = EX_OSERR;
        goto out_free;
    }
    if (opts->brands) {
        t.fixed_names = true;
        if (parse_brands(&t, opts->brands)) {
            code = EX_OSERR;
            goto out_free;
        }
        unique_names(&t);
    }
    /* the first connection decides: a Redis that is not there is an
     * error even for the live view */
    if (connect_redis(&t)) {
        fprintf(stderr, "brandmond: %s\n", t.problem);
        code = EX_UNAVAILABLE;
        goto out_free;
    }
    code = opts->once ? run_once(&t) : run_live(&t);
    drop_connection(&t);
out_free:
    if (t.next)
        free(t.next->brands);
    if (t.shown)
        free(t.shown->brands);
    free(t.next);
    free(t.shown);
    free_names(&t);
    bm_buf_release(&t.key);
    bm_buf_release(&t.frame);
    return code;
}
