/*
 * engine_int.h - what the engine knows about one post while deciding it,
 * shared by engine.c (which fills it), sentiment.c and cond.c (which read
 * it). It lives in struct bm_engine and is reused for every post.
 */
#ifndef BRANDMON_ENGINE_INT_H
#define BRANDMON_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "brandmon/match.h"
#include "brandmon/post.h"
#include "brandmon/text.h"

#include "rules/rules_int.h"

struct evalctx {
    const struct bm_ruleset *rs; /* borrowed: the engine's rule set */
    const struct bm_post *post;  /* borrowed: valid for one decision */
    const struct bm_text *text;  /* borrowed: the engine's */
    const struct bm_hits *hits;  /* borrowed: the engine's */

    /* Term t was found in this post iff seen[t] == gen. */
    uint32_t *seen; /* owned by the engine: one per term */
    uint32_t gen;
    uint32_t *distinct; /* owned by the engine: the terms found, once each */
    size_t ndistinct;

    /* Brand b is mentioned iff mentioned[b] == gen (and not excluded). */
    uint32_t *mentioned; /* owned by the engine: one per brand */
    uint32_t *excluded;  /* owned by the engine: one per brand */
    uint32_t *named;     /* owned: brands mentioned in this post, in order */
    size_t nnamed;
    double *brand_score; /* owned: per brand; valid when mentioned */

    double post_score;
    uint64_t intents;                       /* bit per intent shown */
    const char *intent_why[BM_MAX_INTENTS]; /* the term or pattern */
    uint32_t intent_tok[BM_MAX_INTENTS];    /* the token where it shows */

    const struct rule *rule; /* the rule being evaluated */
    const char **fired;      /* owned: terms that fired for the rule */
    size_t nfired;
    size_t firedcap;

    pcre2_match_data *md;      /* owned */
    pcre2_match_context *mctx; /* owned: match and depth limits */
};

/* True when brand @b is mentioned in the current post. */
static inline bool ctx_mentions(const struct evalctx *c, uint32_t b)
{
    return c->mentioned[b] == c->gen && c->excluded[b] != c->gen;
}

/* Records a term or pattern that fired; silently stops at the capacity. */
void ctx_fire(struct evalctx *c, const char *what);

/* Runs @re on the normalised text. */
bool ctx_regex(struct evalctx *c, const pcre2_code *re, const char *s,
               size_t len);

/* cond.c */
bool cond_eval(const struct cond *c, struct evalctx *ctx);

/* Per-token and per-clause arrays the scorer reuses across posts. */
struct sent_scratch {
    uint32_t *lex;    /* owned: per token, 1 + the longest lexicon term
                         starting there, or 0 */
    uint8_t *span;    /* owned: per token, that term's length in tokens */
    uint32_t *clause; /* owned: per token, its clause */
    size_t tokcap;
    double *cpos;      /* owned: per clause, sum of positive valences */
    double *cneg;      /* owned: per clause, sum of negative valences */
    double *weight;    /* owned: per clause, contrast weight */
    uint32_t *csent;   /* owned: per clause, its sentence */
    uint8_t *cexcl;    /* owned: per clause, its "!" (saturating) */
    uint8_t *cquest;   /* owned: per clause, 1 when it holds a "?" */
    uint64_t *cbrands; /* owned: per clause, bit k = ctx->named[k] */
    size_t clausecap;
};

void sent_scratch_release(struct sent_scratch *s);

/* sentiment.c: the post's and every named brand's score, from the hits.
 * 0 or -ENOMEM. */
int sentiment_score(struct evalctx *ctx, struct sent_scratch *s);

#endif
