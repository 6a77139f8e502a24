/*
 * replay.c - decides a file of messages offline (`brandmond --replay`).
 *
 * Lines come from a bounded line reader (linereader.h): a longer line than
 * the ceiling is read and dropped, never held. Each line is parsed (a line
 * jansson refuses is checked for UTF-8, so the reason is told right), unwrapped
 * when the format answers with pages of items (Reddit, HN), mapped to a
 * post by the format's field map and decided; with the rule set given, an
 * escalator (escalate.h) adds the escalations that fire, in the posts' own
 * time. Nothing here touches the network or writes output: decisions go to
 * the caller's callback.
 */
#include "brandmon/replay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/escalate.h"
#include "brandmon/linereader.h"
#include "brandmon/log.h"
#include "brandmon/text.h"
#include "brandmon/time.h"

struct replay {
    const struct bm_replay_opts *opts;
    struct bm_engine *engine;
    struct bm_escalator *esc; /* owned, or NULL without a rule set */
    bm_replay_decision_fn cb;
    void *arg;
    struct bm_replay_stats *st;
    struct bm_ratelimit rl;
};

static void skip(struct replay *r, enum bm_skip_reason why, uint64_t line,
                 const char *detail)
{
    r->st->skipped[why]++;
    if (why == BM_SKIP_EMPTY || why == BM_SKIP_NOT_A_POST)
        return; /* keep-alives and control messages are normal */
    BM_WARN_RATELIMIT(&r->rl, "replay", "line %llu skipped: %s%s%s",
                      (unsigned long long)line, bm_skip_reason_name(why),
                      detail ? ": " : "", detail ? detail : "");
}

static int decide_item(struct replay *r, const json_t *item, uint64_t line)
{
    struct bm_post post;
    struct bm_decision d;
    enum bm_map_result res;
    int err = 0;

    bm_post_init(&post);
    res = r->opts->ops->field_map(item, r->opts->map, &post);
    switch (res) {
    case BM_MAP_POST:
        break;
    case BM_MAP_IGNORE:
        skip(r, BM_SKIP_NOT_A_POST, line, NULL);
        goto out;
    case BM_MAP_NO_TEXT:
        skip(r, BM_SKIP_NO_TEXT, line, NULL);
        goto out;
    case BM_MAP_INVALID:
        skip(r, BM_SKIP_INVALID, line, r->opts->ops->name);
        goto out;
    }
    post.source = r->opts->source;
    post.raw = item;
    r->st->posts++;
    err = bm_engine_decide(r->engine, &post, &d);
    if (err)
        goto out;
    if (r->esc) {
        err = bm_escalator_feed(r->esc, &d, bm_time_now_ms());
        if (err)
            goto out;
    }
    r->st->decided++;
    r->st->matches += d.nmatches;
    err = r->cb(&d, r->arg);
out:
    bm_post_release(&post);
    return err;
}

static int handle_line(struct replay *r, const char *s, size_t len,
                       uint64_t line)
{
    json_error_t jerr;
    const json_t *items;
    json_t *msg;
    size_t i, n;
    int err = 0;
    char detail[200];

    while (len &&
           (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    /* A file saved with a byte-order mark: not part of the first line. */
    if (line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
        s += 3;
        len -= 3;
    }
    if (len == 0) {
        skip(r, BM_SKIP_EMPTY, line, NULL);
        return 0;
    }
    msg = json_loadb(s, len, 0, &jerr);
    if (!msg) {
        /* jansson refuses invalid UTF-8 too; say which it was. */
        if (!bm_utf8_is_valid(s, len)) {
            skip(r, BM_SKIP_INVALID_UTF8, line, NULL);
            return 0;
        }
        snprintf(detail, sizeof(detail), "%s at column %d", jerr.text,
                 jerr.column);
        skip(r, BM_SKIP_MALFORMED_JSON, line, detail);
        return 0;
    }
    items = r->opts->ops->unwrap ? r->opts->ops->unwrap(msg) : NULL;
    if (!items) {
        err = decide_item(r, msg, line);
    } else {
        n = json_array_size(items);
        for (i = 0; i < n && !err; i++)
            err = decide_item(r, json_array_get(items, i), line);
    }
    json_decref(msg);
    return err;
}

int bm_replay_stream(FILE *in, const struct bm_replay_opts *opts,
                     struct bm_engine *e, bm_replay_decision_fn cb, void *arg,
                     struct bm_replay_stats *st)
{
    struct replay r = {
        .opts = opts,
        .engine = e,
        .cb = cb,
        .arg = arg,
        .st = st,
        .rl = BM_RATELIMIT_INIT(1000, 10),
    };
    size_t max = opts->max_line ? opts->max_line : BM_REPLAY_MAX_LINE_DEFAULT;
    struct bm_linereader lr;
    const char *line;
    size_t len;
    bool too_long;
    int err, got = 0;

    memset(st, 0, sizeof(*st));
    if (opts->rules) {
        r.esc = bm_escalator_new(opts->rules);
        if (!r.esc)
            return -ENOMEM;
    }
    err = bm_linereader_init(&lr, in, max);
    while (!err &&
           (got = bm_linereader_next(&lr, &line, &len, &too_long)) > 0) {
        st->lines = lr.lines;
        if (too_long)
            skip(&r, BM_SKIP_TOO_LONG, st->lines, NULL);
        else
            err = handle_line(&r, line, len, st->lines);
    }
    if (!err && got < 0)
        err = got;
    st->bytes = lr.bytes;
    bm_linereader_release(&lr);
    bm_escalator_free(r.esc);
    return err;
}

void bm_replay_summary(const struct bm_replay_stats *st, FILE *out)
{
    uint64_t skipped = 0;
    bool first = true;

    for (int i = 0; i < BM_SKIP_COUNT; i++)
        skipped += st->skipped[i];
    fprintf(out,
            "replay: %llu lines, %llu posts, %llu decided, %llu matches, "
            "%llu skipped",
            (unsigned long long)st->lines, (unsigned long long)st->posts,
            (unsigned long long)st->decided, (unsigned long long)st->matches,
            (unsigned long long)skipped);
    for (int i = 0; i < BM_SKIP_COUNT; i++) {
        if (!st->skipped[i])
            continue;
        fprintf(out, "%s%s: %llu", first ? " (" : ", ",
                bm_skip_reason_name((enum bm_skip_reason)i),
                (unsigned long long)st->skipped[i]);
        first = false;
    }
    fprintf(out, "%s\n", first ? "" : ")");
}
