/*
 * redis_payload.c - the argument of the per-post Lua script: one JSON
 * object with everything the script writes (docs/redis-schema.md).
 *
 * Alerts are prepared here in both their forms, the stream entry's
 * field/value list and the JSON published on the brand's channel, so the
 * script only has to copy them. Pure: no I/O, no Redis.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "brandmon/json.h"
#include "brandmon/sentiment.h"
#include "brandmon/time.h"

#include "sink/redis_int.h"

const char bm_redis_script[] = {
#include "redis_script.inc"
};

struct stamp {
    char min[16];  /* YYYYMMDDHHMM */
    char hour[16]; /* YYYYMMDDHH */
    char day[16];  /* YYYYMMDD */
    char at[32];   /* ISO 8601 with ms */
};

static void stamp_of(int64_t now_ms, struct stamp *st)
{
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    strftime(st->min, sizeof(st->min), "%Y%m%d%H%M", &tm);
    strftime(st->hour, sizeof(st->hour), "%Y%m%d%H", &tm);
    strftime(st->day, sizeof(st->day), "%Y%m%d", &tm);
    bm_time_format_iso8601(now_ms, st->at);
}

static double brand_score(const struct bm_decision *d, const char *brand)
{
    for (size_t i = 0; brand && i < d->nbrands; i++)
        if (strcmp(d->brands[i].id, brand) == 0)
            return d->brands[i].sentiment;
    return d->sentiment;
}

/* "key":"value" with a leading comma unless @first. */
static int kv(struct bm_buf *b, bool first, const char *k, const char *v)
{
    int err = bm_buf_printf(b, "%s\"%s\":", first ? "" : ",", k);

    return err ? err : bm_json_put_cstr(b, v);
}

static int put_terms_array(struct bm_buf *b, const struct bm_decision_match *m)
{
    int err = bm_buf_putc(b, '[');

    for (size_t i = 0; i < m->nterms && !err; i++) {
        if (i)
            err = bm_buf_putc(b, ',');
        if (!err)
            err = bm_json_put_cstr(b, m->terms[i]);
    }
    return err ? err : bm_buf_putc(b, ']');
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* One alert as the stream entry's ["field","value",...] and as the JSON
 * that is published. */
static int put_alert(struct bm_buf *b, const struct payload_ctx *c,
                     const struct bm_decision *d,
                     const struct bm_decision_match *m, const struct stamp *st,
                     struct bm_buf *scratch)
{
    const struct bm_post *p = d->post;
    double s = brand_score(d, m->brand);
    char followers[24] = "", sent[24], *msg = NULL, *text;
    const char *f[36];
    size_t nf = 0;
    int err = 0;

    if (p->followers >= 0)
        snprintf(followers, sizeof(followers), "%lld", (long long)p->followers);
    snprintf(sent, sizeof(sent), "%.4f", s);
    bm_buf_reset(scratch);
    err |= put_terms_array(scratch, m);
    err |= bm_buf_putc(scratch, '\0');
    size_t text_at = scratch->len, msg_at = 0;

    err |= bm_decision_render(d, m, "{text}", scratch);
    err |= bm_buf_putc(scratch, '\0');
    if (m->message) {
        msg_at = scratch->len;
        err |= bm_decision_render(d, m, m->message, scratch);
        err |= bm_buf_putc(scratch, '\0');
    }
    if (err)
        return -ENOMEM;
    /* Pointers into scratch only now: it may have moved while growing. */
    text = scratch->data + text_at;
    if (m->message)
        msg = scratch->data + msg_at;
#define F(k, v) (f[nf++] = (k), f[nf++] = or_empty(v))
    F("schema", "1");
    F("kind", bm_kind_name(m->kind));
    F("rule", m->rule);
    F("priority", bm_priority_name(m->priority));
    F("brand", m->brand);
    F("source", p->source);
    F("post_id", p->id);
    F("author", p->author);
    F("followers", followers);
    F("url", p->url);
    F("text", text);
    F("sentiment", sent);
    F("tone", bm_tone_name(bm_tone_of(s)));
    F("terms", scratch->data);
    F("message", msg);
    F("created_at", p->created_at);
    F("detected_at", st->at);
    F("instance", c->instance);
#undef F
    err |= bm_buf_puts(b, ",\"fields\":[");
    for (size_t i = 0; i < nf && !err; i++) {
        if (i)
            err |= bm_buf_putc(b, ',');
        err |= bm_json_put_cstr(b, f[i]);
    }
    err |= bm_buf_puts(b, "]");
    /* The published JSON: numbers as numbers, terms as an array. Built in
     * a second buffer, then quoted into the payload. */
    {
        struct bm_buf j = BM_BUF_INIT;

        err |= bm_buf_putc(&j, '{');
        for (size_t i = 0; i < nf && !err; i += 2) {
            bool num = (strcmp(f[i], "followers") == 0 && f[i + 1][0]) ||
                       strcmp(f[i], "sentiment") == 0 ||
                       strcmp(f[i], "schema") == 0;

            err |= bm_buf_printf(&j, "%s\"%s\":", i ? "," : "", f[i]);
            if (num || strcmp(f[i], "terms") == 0)
                err |= bm_buf_puts(&j, f[i + 1]);
            else if (strcmp(f[i], "followers") == 0)
                err |= bm_buf_puts(&j, "null");
            else
                err |= bm_json_put_cstr(&j, f[i + 1]);
        }
        err |= bm_buf_putc(&j, '}');
        err |= bm_buf_puts(b, ",\"json\":");
        err |= err ? 0 : bm_json_put_str(b, j.data, j.len);
        bm_buf_release(&j);
    }
    return err ? -ENOMEM : 0;
}

static int put_match(struct bm_buf *b, const struct payload_ctx *c,
                     const struct bm_decision *d,
                     const struct bm_decision_match *m, const struct stamp *st,
                     struct bm_buf *scratch)
{
    const struct bm_post *p = d->post;
    int err = 0;

    err |= kv(b, true, "b", m->brand ? m->brand : "");
    err |= kv(b, false, "rule", m->rule);
    err |= kv(b, false, "kind", bm_kind_name(m->kind));
    if (m->throttle_ms) {
        const char *key = "-";

        if (m->throttle_per == BM_THROTTLE_AUTHOR && p->author)
            key = p->author;
        else if (m->throttle_per == BM_THROTTLE_BRAND && m->brand)
            key = m->brand;
        err |= bm_buf_puts(b, ",\"thr\":");
        bm_buf_reset(scratch);
        err |=
            bm_buf_printf(scratch, "%sthrottle:%s:%s", c->prefix, m->rule, key);
        err |= err ? 0 : bm_json_put_str(b, scratch->data, scratch->len);
        err |= bm_buf_printf(b, ",\"px\":%llu",
                             (unsigned long long)m->throttle_ms);
    }
    return err ? -ENOMEM : put_alert(b, c, d, m, st, scratch);
}

static bool fires_kind(const struct bm_decision *d, const char *brand,
                       enum bm_rule_kind kind)
{
    for (size_t i = 0; i < d->nmatches; i++)
        if (d->matches[i].kind == kind && d->matches[i].brand &&
            strcmp(d->matches[i].brand, brand) == 0)
            return true;
    return false;
}

static uint64_t minutes_up(uint64_t ms)
{
    return (ms + 59999) / 60000;
}

static int put_escalations(struct bm_buf *b, const struct payload_ctx *c,
                           const struct bm_decision *d)
{
    size_t n = c->rules ? bm_ruleset_escalations(c->rules) : 0;
    bool first = true;
    int err = bm_buf_puts(b, ",\"esc\":[");

    for (size_t i = 0; i < n && !err; i++) {
        struct bm_escalation_info x;

        bm_ruleset_escalation(c->rules, i, &x);
        if (!fires_kind(d, x.brand, x.kind))
            continue;
        err |= bm_buf_puts(b, first ? "{" : ",{");
        first = false;
        err |= kv(b, true, "id", x.id);
        err |= kv(b, false, "b", x.brand);
        err |= kv(b, false, "name", x.brand_name);
        err |= kv(b, false, "kind", bm_kind_name(x.kind));
        err |= kv(b, false, "prio", bm_priority_name(x.priority));
        err |= bm_buf_printf(
            b,
            ",\"win\":%llu,\"base\":%llu,\"cnt\":%u,"
            "\"ratio\":%g,\"cool\":%llu}",
            (unsigned long long)minutes_up(x.window_ms),
            (unsigned long long)minutes_up(x.baseline_ms), x.count_at_least,
            x.ratio_to_baseline,
            (unsigned long long)(x.cooldown_ms ? x.cooldown_ms : 1));
    }
    return err ? err : bm_buf_putc(b, ']');
}

int redis_payload(const struct payload_ctx *c, const struct bm_decision *d,
                  int64_t now_ms, struct bm_buf *out)
{
    const struct bm_post *p = d->post;
    struct bm_buf scratch = BM_BUF_INIT;
    struct stamp st;
    int err = 0;

    if (d->nbrands == 0 && d->nmatches == 0)
        return 1;
    stamp_of(now_ms, &st);
    err |= bm_buf_putc(out, '{');
    err |= kv(out, true, "p", c->prefix);
    err |= kv(out, false, "src", p->source);
    err |= kv(out, false, "id", p->id);
    err |= kv(out, false, "inst", c->instance);
    err |= kv(out, false, "min", st.min);
    err |= kv(out, false, "hour", st.hour);
    err |= kv(out, false, "day", st.day);
    err |= kv(out, false, "at", st.at);
    if (p->author)
        err |= kv(out, false, "author", p->author);
    err |= bm_buf_printf(out, ",\"now\":%lld,\"maxlen\":%llu",
                         (long long)now_ms, (unsigned long long)c->maxlen);
    err |= bm_buf_puts(out, ",\"brands\":[");
    for (size_t i = 0; i < d->nbrands && !err; i++) {
        err |= bm_buf_puts(out, i ? ",{" : "{");
        err |= kv(out, true, "b", d->brands[i].id);
        err |= kv(out, false, "tone",
                  bm_tone_name(bm_tone_of(d->brands[i].sentiment)));
        err |= bm_buf_puts(out, ",\"s\":");
        err |= bm_json_put_num(out, d->brands[i].sentiment);
        err |= bm_buf_putc(out, '}');
    }
    err |= bm_buf_puts(out, "],\"matches\":[");
    for (size_t i = 0; i < d->nmatches && !err; i++) {
        err |= bm_buf_puts(out, i ? ",{" : "{");
        err |= put_match(out, c, d, &d->matches[i], &st, &scratch);
        err |= bm_buf_putc(out, '}');
    }
    err |= bm_buf_putc(out, ']');
    if (!err)
        err = put_escalations(out, c, d);
    err |= bm_buf_putc(out, '}');
    bm_buf_release(&scratch);
    return err ? -ENOMEM : 0;
}
