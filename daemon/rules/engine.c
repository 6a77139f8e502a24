/*
 * engine.c - one decision per post: match, name brands, score, evaluate.
 *
 * The engine owns every scratch array a decision needs, sized once for the
 * rule set (per term, per brand, per rule) or grown to the largest post
 * seen, so deciding allocates nothing in steady state. Per-term and
 * per-brand state is stamped with a generation number instead of being
 * cleared for each post.
 *
 * It writes nothing anywhere: the caller prints or sinks the decision.
 */
#include "brandmon/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/json.h"
#include "brandmon/sentiment.h"
#include "brandmon/text.h"

#include "rules/engine_int.h"

#define FIRED_PER_RULE 64
#define MATCH_LIMIT    100000 /* PCRE2 backtracking steps per regex run */
#define DEPTH_LIMIT    1000

struct bm_engine {
    const struct bm_ruleset *rs; /* borrowed: outlives the engine */
    struct bm_text text;
    struct bm_hits hits;
    struct evalctx ctx;
    struct sent_scratch sent;
    struct bm_decision_brand *brands; /* owned: one per brand at most */
    const char *intent_names[BM_MAX_INTENTS];
    struct bm_decision_match *matches; /* owned: one per rule at most */
    size_t *match_term0;               /* owned: offsets into terms */
    const char **terms;                /* owned: fired terms of all matches */
    size_t nterms;
    size_t termcap;
};

struct bm_engine *bm_engine_new(const struct bm_ruleset *rs)
{
    size_t nterms = bm_matcher_count(rs->matcher);
    size_t nb = rs->nbrands ? rs->nbrands : 1;
    size_t nr = rs->nrules ? rs->nrules : 1;
    struct bm_engine *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->rs = rs;
    bm_text_init(&e->text);
    e->ctx.rs = rs;
    e->ctx.text = &e->text;
    e->ctx.hits = &e->hits;
    e->ctx.seen = calloc(nterms ? nterms : 1, sizeof(*e->ctx.seen));
    e->ctx.distinct = calloc(nterms ? nterms : 1, sizeof(*e->ctx.distinct));
    e->ctx.mentioned = calloc(nb, sizeof(*e->ctx.mentioned));
    e->ctx.excluded = calloc(nb, sizeof(*e->ctx.excluded));
    e->ctx.named = calloc(nb, sizeof(*e->ctx.named));
    e->ctx.brand_score = calloc(nb, sizeof(*e->ctx.brand_score));
    e->ctx.fired = calloc(FIRED_PER_RULE, sizeof(*e->ctx.fired));
    e->ctx.firedcap = FIRED_PER_RULE;
    e->ctx.md = pcre2_match_data_create(1, NULL);
    e->ctx.mctx = pcre2_match_context_create(NULL);
    e->brands = calloc(nb, sizeof(*e->brands));
    e->matches = calloc(nr, sizeof(*e->matches));
    e->match_term0 = calloc(nr, sizeof(*e->match_term0));
    if (!e->ctx.seen || !e->ctx.distinct || !e->ctx.mentioned ||
        !e->ctx.excluded || !e->ctx.named || !e->ctx.brand_score ||
        !e->ctx.fired || !e->ctx.md || !e->ctx.mctx || !e->brands ||
        !e->matches || !e->match_term0) {
        bm_engine_free(e);
        return NULL;
    }
    pcre2_set_match_limit(e->ctx.mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(e->ctx.mctx, DEPTH_LIMIT);
    return e;
}

void bm_engine_free(struct bm_engine *e)
{
    if (!e)
        return;
    bm_text_release(&e->text);
    bm_hits_release(&e->hits);
    sent_scratch_release(&e->sent);
    free(e->ctx.seen);
    free(e->ctx.distinct);
    free(e->ctx.mentioned);
    free(e->ctx.excluded);
    free(e->ctx.named);
    free(e->ctx.brand_score);
    free(e->ctx.fired);
    pcre2_match_data_free(e->ctx.md);
    pcre2_match_context_free(e->ctx.mctx);
    free(e->brands);
    free(e->matches);
    free(e->match_term0);
    free(e->terms);
    free(e);
}

/* A new generation; on wrap-around every stamp is cleared once. */
static void next_generation(struct bm_engine *e)
{
    struct evalctx *c = &e->ctx;

    if (++c->gen == 0) {
        memset(c->seen, 0, bm_matcher_count(e->rs->matcher) * sizeof(*c->seen));
        memset(c->mentioned, 0, e->rs->nbrands * sizeof(*c->mentioned));
        memset(c->excluded, 0, e->rs->nbrands * sizeof(*c->excluded));
        c->gen = 1;
    }
    c->ndistinct = 0;
    c->nnamed = 0;
    c->intents = 0;
}

static const struct intent_use *first_intent_use(const struct bm_ruleset *rs,
                                                 uint32_t term)
{
    size_t lo = 0, hi = rs->niuses;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (rs->iuses[mid].term < term)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rs->niuses && rs->iuses[lo].term == term ? &rs->iuses[lo]
                                                         : NULL;
}

/* Terms found, brands named or excluded, intents shown by terms. */
static void collect(struct bm_engine *e)
{
    struct evalctx *c = &e->ctx;
    const struct bm_ruleset *rs = e->rs;
    size_t w = 0;

    for (size_t i = 0; i < e->hits.n; i++) {
        uint32_t t = e->hits.v[i].term;
        const struct terminfo *ti = &rs->tinfo[t];
        const struct intent_use *iu;

        if (c->seen[t] == c->gen)
            continue;
        c->seen[t] = c->gen;
        c->distinct[c->ndistinct++] = t;
        for (uint32_t u = 0; u < ti->nuse; u++) {
            const struct brand_use *use = &rs->uses[ti->use0 + u];

            if (use->role == BRAND_EXCLUDE) {
                c->excluded[use->brand] = c->gen;
            } else if (use->role == BRAND_TERM &&
                       c->mentioned[use->brand] != c->gen) {
                c->mentioned[use->brand] = c->gen;
                c->named[c->nnamed++] = use->brand;
            }
        }
        for (iu = first_intent_use(rs, t);
             iu && iu < rs->iuses + rs->niuses && iu->term == t; iu++) {
            if (!(c->intents >> iu->intent & 1)) {
                c->intent_why[iu->intent] = bm_matcher_term(rs->matcher, t);
                c->intent_tok[iu->intent] = e->hits.v[i].tok;
            }
            c->intents |= (uint64_t)1 << iu->intent;
        }
    }
    /* A brand with an exclusion in the post is not named. */
    for (size_t i = 0; i < c->nnamed; i++)
        if (c->excluded[c->named[i]] != c->gen)
            c->named[w++] = c->named[i];
    c->nnamed = w;
}

static size_t match_start(const struct evalctx *c)
{
    return (size_t)pcre2_get_ovector_pointer(c->md)[0];
}

/* The token that holds byte @off of the normalised text (the last token
 * starting at or before it). */
static uint32_t token_at(const struct bm_text *t, size_t off)
{
    size_t lo = 0, hi = t->ntok;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (t->tok[mid].off <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? (uint32_t)(lo - 1) : 0;
}

/* True when the pattern has no gate or one of its terms is in the post. */
static bool gate_open(const struct evalctx *c, const struct termset *gate)
{
    for (uint32_t i = 0; i < gate->n; i++)
        if (c->seen[gate->ids[i]] == c->gen)
            return true;
    return gate->n == 0;
}

static void intent_patterns(struct bm_engine *e)
{
    struct evalctx *c = &e->ctx;
    const char *s = e->text.norm.data ? e->text.norm.data : "";

    for (size_t i = 0; i < e->rs->nintents; i++) {
        const struct intent *in = &e->rs->intents[i];

        if (c->intents >> i & 1)
            continue;
        for (uint32_t p = 0; p < in->npatterns; p++)
            if (gate_open(c, &in->gates[p]) &&
                ctx_regex(c, in->patterns[p], s, e->text.norm.len)) {
                c->intents |= (uint64_t)1 << i;
                c->intent_why[i] = in->pattern_src[p];
                c->intent_tok[i] = token_at(&e->text, match_start(c));
                break;
            }
    }
}

static int keep_terms(struct bm_engine *e, size_t nmatch)
{
    struct evalctx *c = &e->ctx;

    if (e->nterms + c->nfired > e->termcap) {
        size_t ncap = e->termcap ? e->termcap * 2 : 256;
        const char **nt;

        while (ncap < e->nterms + c->nfired)
            ncap *= 2;
        nt = realloc(e->terms, ncap * sizeof(*nt));
        if (!nt)
            return -ENOMEM;
        e->terms = nt;
        e->termcap = ncap;
    }
    e->match_term0[nmatch] = e->nterms;
    /* A rule may fire on no term at all (a sentiment-only rule): then the
     * pool may still be unallocated, and NULL + 0 is undefined. */
    if (c->nfired)
        memcpy(e->terms + e->nterms, c->fired, c->nfired * sizeof(*c->fired));
    e->nterms += c->nfired;
    e->matches[nmatch].nterms = c->nfired;
    return 0;
}

/* The brand's own terms that were found start the list of what fired. */
static void fire_brand_terms(struct evalctx *c, const struct brand *b)
{
    for (size_t i = 0; i < c->ndistinct; i++)
        if (termset_has(&b->terms, c->distinct[i]))
            ctx_fire(c, bm_matcher_term(c->rs->matcher, c->distinct[i]));
}

static int evaluate_rules(struct bm_engine *e, size_t *nmatch)
{
    struct evalctx *c = &e->ctx;
    const struct bm_ruleset *rs = e->rs;

    *nmatch = 0;
    e->nterms = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const struct rule *r = &rs->rules[i];
        const struct brand *b = r->brand >= 0 ? &rs->brands[r->brand] : NULL;
        struct bm_decision_match *m;

        if (b && !ctx_mentions(c, (uint32_t)r->brand))
            continue;
        c->rule = r;
        c->nfired = 0;
        if (b)
            fire_brand_terms(c, b);
        if (!cond_eval(&r->when, c))
            continue;
        m = &e->matches[*nmatch];
        m->rule = r->id;
        m->index = (uint32_t)i;
        m->kind = r->kind;
        m->priority = r->priority;
        m->brand = b ? b->id : NULL;
        m->brand_name = b ? b->name : NULL;
        m->message = r->message;
        m->throttle_per = (enum bm_throttle_per)r->throttle_per;
        m->throttle_ms = r->throttle_ms;
        if (keep_terms(e, *nmatch))
            return -ENOMEM;
        (*nmatch)++;
    }
    /* The pool may have moved while it grew: point into it only now. */
    for (size_t i = 0; i < *nmatch; i++)
        e->matches[i].terms = e->terms ? e->terms + e->match_term0[i] : NULL;
    return 0;
}

int bm_engine_decide(struct bm_engine *e, const struct bm_post *post,
                     struct bm_decision *out)
{
    struct evalctx *c = &e->ctx;
    size_t nmatch, nint = 0;
    int err;

    memset(out, 0, sizeof(*out));
    out->post = post;
    c->post = post;
    next_generation(e);
    err = bm_text_normalise(&e->text, post->text ? post->text : "",
                            post->text ? post->text_len : 0,
                            post->text_is_html ? BM_TEXT_HTML : 0);
    if (!err)
        err = bm_matcher_run(e->rs->matcher, &e->text, &e->hits);
    if (err)
        return err;
    collect(e);
    intent_patterns(e);
    err = sentiment_score(c, &e->sent);
    if (!err)
        err = evaluate_rules(e, &nmatch);
    if (err)
        return err;

    for (size_t i = 0; i < c->nnamed; i++) {
        const struct brand *b = &e->rs->brands[c->named[i]];

        e->brands[i] =
            (struct bm_decision_brand){ b->id, b->name,
                                        c->brand_score[c->named[i]] };
    }
    for (size_t i = 0; i < e->rs->nintents; i++)
        if (c->intents >> i & 1)
            e->intent_names[nint++] = e->rs->intents[i].name;
    out->text = e->text.scratch.data ? e->text.scratch.data : "";
    out->text_len = e->text.scratch.len;
    out->sentiment = c->post_score;
    out->brands = e->brands;
    out->nbrands = c->nnamed;
    out->intents = e->intent_names;
    out->nintents = nint;
    out->matches = e->matches;
    out->nmatches = nmatch;
    return 0;
}

/* ---- output ---- */

static double match_sentiment(const struct bm_decision *d,
                              const struct bm_decision_match *m)
{
    for (size_t i = 0; m->brand && i < d->nbrands; i++)
        if (d->brands[i].id == m->brand)
            return d->brands[i].sentiment;
    return d->sentiment;
}

int bm_decision_write_json(const struct bm_decision *d, struct bm_buf *out)
{
    const struct bm_post *p = d->post;
    int err = 0;

    err |= bm_buf_puts(out, "{\"post_id\":");
    err |= bm_json_put_cstr(out, p->id);
    err |= bm_buf_puts(out, ",\"source\":");
    err |= bm_json_put_cstr(out, p->source);
    err |= bm_buf_puts(out, ",\"author\":");
    err |= bm_json_put_cstr(out, p->author);
    err |= bm_buf_puts(out, ",\"sentiment\":");
    err |= bm_json_put_num(out, d->sentiment);
    err |= bm_buf_puts(out, ",\"tone\":\"");
    err |= bm_buf_puts(out, bm_tone_name(bm_tone_of(d->sentiment)));
    err |= bm_buf_puts(out, "\",\"brands\":[");
    for (size_t i = 0; i < d->nbrands; i++) {
        const struct bm_decision_brand *b = &d->brands[i];

        err |= bm_buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
        err |= bm_json_put_cstr(out, b->id);
        err |= bm_buf_puts(out, ",\"sentiment\":");
        err |= bm_json_put_num(out, b->sentiment);
        err |= bm_buf_puts(out, ",\"tone\":\"");
        err |= bm_buf_puts(out, bm_tone_name(bm_tone_of(b->sentiment)));
        err |= bm_buf_puts(out, "\"}");
    }
    err |= bm_buf_puts(out, "],\"intents\":[");
    for (size_t i = 0; i < d->nintents; i++) {
        if (i)
            err |= bm_buf_putc(out, ',');
        err |= bm_json_put_cstr(out, d->intents[i]);
    }
    err |= bm_buf_puts(out, "],\"matches\":[");
    for (size_t i = 0; i < d->nmatches; i++) {
        const struct bm_decision_match *m = &d->matches[i];

        err |= bm_buf_puts(out, i ? ",{\"rule\":" : "{\"rule\":");
        err |= bm_json_put_cstr(out, m->rule);
        err |= bm_buf_puts(out, ",\"kind\":\"");
        err |= bm_buf_puts(out, bm_kind_name(m->kind));
        err |= bm_buf_puts(out, "\",\"priority\":\"");
        err |= bm_buf_puts(out, bm_priority_name(m->priority));
        err |= bm_buf_puts(out, "\",\"brand\":");
        err |= bm_json_put_cstr(out, m->brand);
        err |= bm_buf_puts(out, ",\"terms\":[");
        for (size_t k = 0; k < m->nterms; k++) {
            if (k)
                err |= bm_buf_putc(out, ',');
            err |= bm_json_put_cstr(out, m->terms[k]);
        }
        err |= bm_buf_putc(out, ']');
        if (m->message) {
            size_t mark;

            err |= bm_buf_puts(out, ",\"message\":");
            mark = out->len;
            /* Render after the buffer, then quote it in place. */
            err |= bm_decision_render(d, m, m->message, out);
            if (!err) {
                char *msg = strndup(out->data + mark, out->len - mark);

                out->len = mark;
                err |= msg ? bm_json_put_cstr(out, msg) : -ENOMEM;
                free(msg);
            }
        }
        err |= bm_buf_putc(out, '}');
    }
    err |= bm_buf_puts(out, "],\"escalations\":[");
    for (size_t i = 0; i < d->nescalations; i++) {
        const struct bm_decision_escalation *x = &d->escalations[i];

        err |= bm_buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
        err |= bm_json_put_cstr(out, x->id);
        err |= bm_buf_puts(out, ",\"brand\":");
        err |= bm_json_put_cstr(out, x->brand);
        err |= bm_buf_puts(out, ",\"priority\":\"");
        err |= bm_buf_puts(out, bm_priority_name(x->priority));
        err |= bm_buf_puts(out, "\",\"count\":");
        err |= bm_buf_printf(out, "%" PRIu32, x->count);
        err |= bm_buf_puts(out, ",\"baseline\":");
        err |= bm_json_put_num(out, x->baseline);
        err |= bm_buf_puts(out, ",\"samples\":[");
        for (size_t k = 0; k < x->nsamples; k++) {
            if (k)
                err |= bm_buf_putc(out, ',');
            err |= bm_json_put_cstr(out, x->samples[k]);
        }
        err |= bm_buf_puts(out, "]}");
    }
    err |= bm_buf_puts(out, "]}");
    return err ? -ENOMEM : 0;
}

/* The decoded text on one line: runs of white space become one space, and
 * none is left at either end. */
static int put_plain_text(struct bm_buf *out, const struct bm_decision *d)
{
    bool space = false, any = false;
    int err = 0;

    for (size_t i = 0; i < d->text_len && !err; i++) {
        char ch = d->text[i];

        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
            space = any;
            continue;
        }
        if (space)
            err = bm_buf_putc(out, ' ');
        if (!err)
            err = bm_buf_putc(out, ch);
        space = false;
        any = true;
    }
    return err;
}

int bm_decision_render(const struct bm_decision *d,
                       const struct bm_decision_match *m, const char *tpl,
                       struct bm_buf *out)
{
    const struct bm_post *p = d->post;
    int err = 0;

    for (const char *s = tpl; *s && !err; s++) {
        const char *end;
        size_t n;

        if (*s != '{' || !(end = strchr(s, '}'))) {
            err = bm_buf_putc(out, *s);
            continue;
        }
        n = (size_t)(end - s - 1);
#define IS(name) (n == sizeof(name) - 1 && memcmp(s + 1, name, n) == 0)
        if (IS("author"))
            err = bm_buf_puts(out, p->author ? p->author : "someone");
        else if (IS("followers"))
            err = p->followers >= 0
                      ? bm_buf_printf(out, "%lld", (long long)p->followers)
                      : bm_buf_puts(out, "?");
        else if (IS("source"))
            err = bm_buf_puts(out, p->source ? p->source : "");
        else if (IS("text"))
            err = put_plain_text(out, d);
        else if (IS("url"))
            err = bm_buf_puts(out, p->url ? p->url : "");
        else if (IS("post_id"))
            err = bm_buf_puts(out, p->id ? p->id : "");
        else if (IS("lang"))
            err = bm_buf_puts(out, p->lang ? p->lang : "");
        else if (IS("brand"))
            err = bm_buf_puts(out, m->brand ? m->brand : "");
        else if (IS("brand_name"))
            err = bm_buf_puts(out, m->brand_name ? m->brand_name : "");
        else if (IS("rule"))
            err = bm_buf_puts(out, m->rule);
        else if (IS("kind"))
            err = bm_buf_puts(out, bm_kind_name(m->kind));
        else if (IS("priority"))
            err = bm_buf_puts(out, bm_priority_name(m->priority));
        else if (IS("sentiment"))
            err = bm_buf_printf(out, "%.2f", match_sentiment(d, m));
        else if (IS("tone"))
            err = bm_buf_puts(out,
                              bm_tone_name(bm_tone_of(match_sentiment(d, m))));
        else if (IS("terms"))
            for (size_t k = 0; k < m->nterms && !err; k++)
                err = bm_buf_printf(out, "%s%s", k ? ", " : "", m->terms[k]);
        else
            err = bm_buf_append(out, s, n + 2);
#undef IS
        s = end;
    }
    return err;
}
