/*
 * match.h - every term of every loaded pack, matched in one pass.
 *
 * Terms are compiled into hash tables keyed by normalised tokens (text.h),
 * so the cost of matching a post is a few hash probes per token, whatever
 * the number of terms:
 *   - a term is normalised exactly as post text is, into a token sequence;
 *   - single-token terms hit on one probe of the token;
 *   - a multi-word term is keyed by its first token and verified on the
 *     tokens that follow (white space between them does not matter, any
 *     other token does: "acme printers" does not match "acme, printers");
 *   - a trailing `*` makes the last token a prefix ("refund*"); the probes
 *     for prefixes are one per distinct prefix length in the term set;
 *   - a plain term also matches the body of a mention or hashtag token
 *     ("acme" matches "#acme" and "@acme"); a "@handle" or "#tag" term
 *     matches only that mention or hashtag token.
 * Terms that normalise to the same tokens get the same id; the term as first
 * written is what bm_matcher_term() returns.
 *
 * Lifecycle: bm_matcher_new(), bm_matcher_add() for every term,
 * bm_matcher_build() once, then bm_matcher_run() any number of times. A built
 * matcher is read-only and may be shared.
 */
#ifndef BRANDMON_MATCH_H
#define BRANDMON_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "brandmon/text.h"

#define BM_MATCH_MAX_TERM_TOKENS 16

struct bm_matcher;

/* One occurrence of a term: tokens [tok, tok + ntok) of the text. */
struct bm_hit {
    uint32_t term;
    uint32_t tok;
    uint32_t ntok;
};

/* A growable array of hits, reused across posts. */
struct bm_hits {
    struct bm_hit *v; /* owned */
    size_t n;
    size_t cap;
};

struct bm_matcher *bm_matcher_new(void);
void bm_matcher_free(struct bm_matcher *m);

/*
 * Adds a term as written in a pack (@len bytes of UTF-8). Returns its id
 * (>= 0), the id it already had if an equal term was added before, -EINVAL
 * when the term is empty once normalised or longer than
 * BM_MATCH_MAX_TERM_TOKENS tokens, -EBUSY after build, or -ENOMEM.
 */
int bm_matcher_add(struct bm_matcher *m, const char *term, size_t len);

/* Compiles the tables. 0 or -ENOMEM. Adding after this fails. */
int bm_matcher_build(struct bm_matcher *m);

/* Number of distinct terms; ids run from 0 to count - 1. */
size_t bm_matcher_count(const struct bm_matcher *m);
/* The term as first written. Borrowed from the matcher. */
const char *bm_matcher_term(const struct bm_matcher *m, uint32_t id);

/*
 * Appends to @out (after emptying it) every occurrence of every term in @t,
 * ordered by first token; several terms may start at one token. 0 or
 * -ENOMEM (then @out holds what was found so far).
 */
int bm_matcher_run(const struct bm_matcher *m, const struct bm_text *t,
                   struct bm_hits *out);

void bm_hits_release(struct bm_hits *h);

#endif
