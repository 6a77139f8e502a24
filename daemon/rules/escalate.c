/*
 * escalate.c - escalation windows in memory, for backtesting a pack on
 * history with `brandmond --replay`.
 *
 * Each escalation keeps a ring of per-minute counts covering its window and
 * its baseline span, plus the running sums of both for the newest minute
 * seen, so a post in the newest minute is judged in constant time; moving
 * to a later minute retires the minutes that leave the window (into the
 * baseline) and the baseline (out of the ring), and a jump of a whole ring
 * or more just clears it. A post that arrives late (an earlier minute,
 * still in the ring) is judged by summing the ring at its own minute. The
 * last few counted post ids are copied into reused buffers for the samples.
 *
 * It reads decisions and the rule set and writes nothing: the caller prints
 * the escalations it finds in the decision. It knows nothing of Redis; the
 * running daemon's counts live there (docs/redis-schema.md), with the same
 * semantics.
 */
#include "brandmon/escalate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules_int.h"

#define MINUTE_MS 60000

/* One counted post kept for the samples. */
struct sample {
    char *id; /* owned: reused, grown to the longest id */
    size_t cap;
    int64_t minute;
};

struct esc_state {
    const struct escalation *x; /* borrowed: rule set */
    const char *brand;          /* borrowed: rule set */
    uint32_t *ring;             /* owned: minute m at slot m mod nmin */
    int64_t wmin;               /* window, minutes (>= 1) */
    int64_t smin;               /* baseline span, minutes (0: none) */
    int64_t nmin;               /* wmin + smin */
    bool started;               /* head is set */
    int64_t head;               /* newest minute counted */
    uint64_t win_sum;           /* [head - wmin + 1, head] */
    uint64_t base_sum;          /* [head - nmin + 1, head - wmin] */
    bool fired;
    int64_t fired_ms; /* post time of the last firing */
    struct sample samples[BM_ESCALATE_MAX_SAMPLES];
    unsigned nsamples; /* kept so far, up to the maximum */
    unsigned next;     /* the slot the next sample takes */
    /* borrowed: samples[].id; what the last firing reported */
    const char *sample_ids[BM_ESCALATE_MAX_SAMPLES];
};

struct bm_escalator {
    const struct bm_ruleset *rs; /* borrowed: outlives the escalator */
    struct esc_state *st;        /* owned: one per escalation */
    size_t n;
    struct bm_decision_escalation *events; /* owned: one per escalation */
    bool *counts; /* owned: scratch, escalation i counts this post */
    bool have_last;
    int64_t last_ms; /* the previous post's time */
};

static int64_t ceil_minutes(uint64_t ms)
{
    return (int64_t)(ms / MINUTE_MS + (ms % MINUTE_MS != 0));
}

/* Minutes since the epoch, rounding toward the past for negative times. */
static int64_t minute_of(int64_t ms)
{
    int64_t m = ms / MINUTE_MS;

    return ms % MINUTE_MS < 0 ? m - 1 : m;
}

static size_t slot_of(const struct esc_state *s, int64_t minute)
{
    int64_t r = minute % s->nmin;

    return (size_t)(r < 0 ? r + s->nmin : r);
}

struct bm_escalator *bm_escalator_new(const struct bm_ruleset *rs)
{
    size_t n = rs->nescalations;
    struct bm_escalator *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->rs = rs;
    e->n = n;
    e->st = calloc(n ? n : 1, sizeof(*e->st));
    e->events = calloc(n ? n : 1, sizeof(*e->events));
    e->counts = calloc(n ? n : 1, sizeof(*e->counts));
    if (!e->st || !e->events || !e->counts)
        goto out_free;
    for (size_t i = 0; i < n; i++) {
        struct esc_state *s = &e->st[i];
        const struct escalation *x = &rs->escalations[i];

        s->x = x;
        s->brand = rs->brands[x->brand].id;
        s->wmin = ceil_minutes(x->window_ms);
        if (s->wmin < 1)
            s->wmin = 1;
        s->smin = ceil_minutes(x->baseline_ms);
        s->nmin = s->wmin + s->smin;
        if ((uint64_t)s->nmin > SIZE_MAX / sizeof(*s->ring))
            goto out_free;
        s->ring = calloc((size_t)s->nmin, sizeof(*s->ring));
        if (!s->ring)
            goto out_free;
    }
    return e;

out_free:
    bm_escalator_free(e);
    return NULL;
}

void bm_escalator_free(struct bm_escalator *e)
{
    if (!e)
        return;
    for (size_t i = 0; e->st && i < e->n; i++) {
        free(e->st[i].ring);
        for (unsigned k = 0; k < BM_ESCALATE_MAX_SAMPLES; k++)
            free(e->st[i].samples[k].id);
    }
    free(e->st);
    free(e->events);
    free(e->counts);
    free(e);
}

/* True when @d has a match of the escalation's kind for its brand. */
static bool post_counts(const struct esc_state *s, const struct bm_decision *d)
{
    for (size_t i = 0; i < d->nmatches; i++) {
        const struct bm_decision_match *m = &d->matches[i];

        if (m->kind == s->x->kind && m->brand &&
            (m->brand == s->brand || strcmp(m->brand, s->brand) == 0))
            return true;
    }
    return false;
}

/* Makes the next sample slot hold @len bytes and a NUL. 0 or -ENOMEM. */
static int sample_reserve(struct esc_state *s, size_t len)
{
    struct sample *sm = &s->samples[s->next];
    char *p;

    if (len < sm->cap)
        return 0;
    p = realloc(sm->id, len + 1);
    if (!p)
        return -ENOMEM;
    sm->id = p;
    sm->cap = len + 1;
    return 0;
}

static void sample_keep(struct esc_state *s, const char *id, int64_t minute)
{
    struct sample *sm = &s->samples[s->next];

    memcpy(sm->id, id, strlen(id) + 1);
    sm->minute = minute;
    s->next = (s->next + 1) % BM_ESCALATE_MAX_SAMPLES;
    if (s->nsamples < BM_ESCALATE_MAX_SAMPLES)
        s->nsamples++;
}

/* Moves the head to @minute (later than it), retiring what leaves. */
static void advance(struct esc_state *s, int64_t minute)
{
    if (minute - s->head >= s->nmin) {
        memset(s->ring, 0, (size_t)s->nmin * sizeof(*s->ring));
        s->win_sum = 0;
        s->base_sum = 0;
        s->head = minute;
        return;
    }
    for (int64_t m = s->head + 1; m <= minute; m++) {
        /* Minute m takes the slot of m - nmin, the oldest in the ring. */
        uint32_t *oldest = &s->ring[slot_of(s, m)];

        if (s->smin == 0) {
            s->win_sum -= *oldest;
        } else {
            uint32_t moved = s->ring[slot_of(s, m - s->wmin)];

            s->base_sum -= *oldest;
            s->win_sum -= moved;
            s->base_sum += moved;
        }
        *oldest = 0;
    }
    s->head = minute;
}

/* Counts one post at @minute. False when it is older than the ring. */
static bool count(struct esc_state *s, int64_t minute)
{
    if (!s->started) {
        s->started = true;
        s->head = minute;
    } else if (minute > s->head) {
        advance(s, minute);
    } else if (minute <= s->head - s->nmin) {
        return false;
    }
    s->ring[slot_of(s, minute)]++;
    if (minute > s->head - s->wmin)
        s->win_sum++;
    else
        s->base_sum++;
    return true;
}

static uint64_t ring_sum(const struct esc_state *s, int64_t from, int64_t to)
{
    uint64_t sum = 0;

    if (from <= s->head - s->nmin)
        from = s->head - s->nmin + 1; /* forgotten: counts as quiet */
    for (int64_t m = from; m <= to; m++)
        sum += s->ring[slot_of(s, m)];
    return sum;
}

/* The window and baseline sums at @minute (in the ring). */
static void sums_at(const struct esc_state *s, int64_t minute, uint64_t *win,
                    uint64_t *base)
{
    if (minute == s->head) {
        *win = s->win_sum;
        *base = s->base_sum;
        return;
    }
    *win = ring_sum(s, minute - s->wmin + 1, minute);
    *base = ring_sum(s, minute - s->nmin + 1, minute - s->wmin);
}

static bool cooling(const struct esc_state *s, int64_t ms)
{
    if (!s->fired)
        return false;
    /* A late post from before the firing does not raise it again. */
    return ms < s->fired_ms || (uint64_t)(ms - s->fired_ms) < s->x->cooldown_ms;
}

/* Judges escalation @s at the post's time @ms; fills @ev when it fires. */
static bool judge(struct esc_state *s, int64_t ms,
                  struct bm_decision_escalation *ev)
{
    int64_t minute = minute_of(ms);
    uint64_t win, base;
    double avg = 0;
    size_t n = 0;

    sums_at(s, minute, &win, &base);
    if (s->smin)
        avg = (double)base * (double)s->wmin / (double)s->smin;
    if (win < s->x->count_at_least)
        return false;
    if (s->x->ratio_to_baseline > 0 &&
        (double)win < s->x->ratio_to_baseline * avg)
        return false;
    if (cooling(s, ms))
        return false;
    s->fired = true;
    s->fired_ms = ms;
    for (unsigned k = 1; k <= s->nsamples; k++) {
        const struct sample *sm =
            &s->samples[(s->next + BM_ESCALATE_MAX_SAMPLES - k) %
                        BM_ESCALATE_MAX_SAMPLES];

        if (sm->minute <= minute && sm->minute > minute - s->wmin)
            s->sample_ids[n++] = sm->id;
    }
    *ev = (struct bm_decision_escalation){
        .id = s->x->id,
        .brand = s->brand,
        .priority = s->x->priority,
        .count = win > UINT32_MAX ? UINT32_MAX : (uint32_t)win,
        .baseline = (double)(uint64_t)(avg * 100 + 0.5) / 100,
        .samples = s->sample_ids,
        .nsamples = n,
    };
    return true;
}

int bm_escalator_feed(struct bm_escalator *e, struct bm_decision *d,
                      int64_t t_ms)
{
    const char *id = d->post ? d->post->id : NULL;
    int64_t ms;
    size_t nev = 0;

    d->escalations = NULL;
    d->nescalations = 0;
    if (d->post && d->post->created_ms != 0)
        ms = d->post->created_ms;
    else
        ms = e->have_last ? e->last_ms : t_ms;

    /* Make room for every sample first, so a failure changes nothing. */
    for (size_t i = 0; i < e->n; i++) {
        e->counts[i] = post_counts(&e->st[i], d);
        if (e->counts[i] && id && sample_reserve(&e->st[i], strlen(id)))
            return -ENOMEM;
    }
    e->have_last = true;
    e->last_ms = ms;
    for (size_t i = 0; i < e->n; i++) {
        struct esc_state *s = &e->st[i];

        if (!e->counts[i] || !count(s, minute_of(ms)))
            continue;
        if (id)
            sample_keep(s, id, minute_of(ms));
        if (judge(s, ms, &e->events[nev]))
            nev++;
    }
    if (nev) {
        d->escalations = e->events;
        d->nescalations = nev;
    }
    return 0;
}
