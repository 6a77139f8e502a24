/*
 * engine.h - decides posts against a rule set.
 *
 * For every post: normalise the text, match every term in one pass, find the
 * brands it names (and those an exclusion rules out), score sentiment for
 * the post and for each brand, find its intents, then evaluate each rule
 * whose brand is named (or that has none) and record which terms or patterns
 * made it fire.
 *
 * An engine holds the scratch memory of one decision and is reused, so a
 * steady stream of posts allocates nothing. It borrows the rule set, which
 * must outlive it. One engine per thread; the daemon has one.
 */
#ifndef BRANDMON_ENGINE_H
#define BRANDMON_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "brandmon/buf.h"
#include "brandmon/pack.h"
#include "brandmon/post.h"

struct bm_engine;
struct bm_ruleset;

/* A brand the post names, with its brand-targeted score. */
struct bm_decision_brand {
    const char *id; /* borrowed: rule set */
    const char *name;
    double sentiment;
};

/* Whose alerts a rule's throttle groups (alert.throttle.per). */
enum bm_throttle_per {
    BM_THROTTLE_NONE,
    BM_THROTTLE_AUTHOR,
    BM_THROTTLE_BRAND,
    BM_THROTTLE_RULE,
};

/* A rule that fired. */
struct bm_decision_match {
    const char *rule; /* borrowed: rule set */
    uint32_t index;   /* the rule's index in the rule set (for counters) */
    enum bm_rule_kind kind;
    enum bm_priority priority;
    const char *brand;      /* borrowed: rule set; NULL for no brand */
    const char *brand_name; /* borrowed: rule set; NULL for no brand */
    const char *message;    /* the alert template, or NULL */
    enum bm_throttle_per throttle_per;
    uint64_t throttle_ms;     /* 0: not throttled */
    const char *const *terms; /* borrowed: engine; what fired */
    size_t nterms;
};

/* An escalation that fired on the post (escalate.h fills these). */
struct bm_decision_escalation {
    const char *id;    /* borrowed: rule set */
    const char *brand; /* borrowed: rule set */
    enum bm_priority priority;
    uint32_t count;  /* matching posts in the window */
    double baseline; /* average count per window length, 2 decimals */
    /* borrowed: escalator; post ids, most recent first */
    const char *const *samples;
    size_t nsamples;
};

/*
 * The decision on one post. Everything in it is borrowed from the engine,
 * the rule set and the post, and valid until the engine's next decision.
 * The engine leaves `escalations` empty; an escalator (escalate.h) fills
 * them, borrowed from it until its next feed.
 */
struct bm_decision {
    const struct bm_post *post;
    /* The post's text as a person reads it: HTML dropped, references
     * decoded, case kept (text.h's decoded text). */
    const char *text;
    size_t text_len;
    double sentiment;
    const struct bm_decision_brand *brands;
    size_t nbrands;
    const char *const *intents; /* names */
    size_t nintents;
    const struct bm_decision_match *matches;
    size_t nmatches;
    const struct bm_decision_escalation *escalations;
    size_t nescalations;
};

/* NULL on allocation failure. The engine borrows @rs. */
struct bm_engine *bm_engine_new(const struct bm_ruleset *rs);
void bm_engine_free(struct bm_engine *e);

/*
 * Decides @post; @out points into the engine until the next call.
 * 0, or -ENOMEM (then @out is empty).
 */
int bm_engine_decide(struct bm_engine *e, const struct bm_post *post,
                     struct bm_decision *out);

/*
 * Appends the decision as one line of JSON (no newline), in the format of
 * DESIGN.md: post_id, source, author, sentiment, tone, brands, intents,
 * matches (each with rule, kind, priority, brand, terms, and message when
 * the rule has an alert template), escalations (each with id, brand,
 * priority, count, baseline and samples). 0 or -ENOMEM.
 */
int bm_decision_write_json(const struct bm_decision *d, struct bm_buf *out);

/*
 * Renders @tpl for a match: {author} {followers} {source} {text} {url}
 * {post_id} {lang} {brand} {brand_name} {rule} {kind} {priority}
 * {sentiment} {tone} {terms}. Unknown fields cannot occur (the loader
 * refuses them). Appends to @out. 0 or -ENOMEM.
 */
int bm_decision_render(const struct bm_decision *d,
                       const struct bm_decision_match *m, const char *tpl,
                       struct bm_buf *out);

#endif
