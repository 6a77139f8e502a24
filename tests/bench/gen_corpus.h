/*
 * gen_corpus.h - synthetic input for the replay benchmark.
 *
 * Everything is a pure function of the seed: the same options write the
 * same bytes on every machine, so figures from two runs (or two machines)
 * measure the same work. Two kinds of output:
 *   - a corpus of X API v2 filtered-stream messages, one JSON object per
 *     line, shaped like the real stream (data, includes.users,
 *     matching_rules) with varied English text, some long note_tweet posts,
 *     some non-ASCII, HTML entities as X sends them, and about a fifth of
 *     the posts naming one or two of the generated brands;
 *   - a rule pack over those brands: 10 terms per brand, shared term lists
 *     and a fixed number of rules built from a handful of shapes (terms,
 *     sentiment, intent, followers, regex, competitor, nested all/any/none).
 * A small pack is the same rules re-pointed at the first brands only, so
 * the two packs differ in their number of terms and little else.
 *
 * Brand popularity follows a Zipf law over brand indexes: brand 0 is named
 * most often, and the first ten brands take about 40% of all brand mentions.
 * Nothing here is thread safe; it is a benchmark helper, not daemon code.
 */
#ifndef BRANDMON_GEN_CORPUS_H
#define BRANDMON_GEN_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#define BM_GEN_POSTS_DEFAULT   200000u
#define BM_GEN_BRANDS_DEFAULT  1000u
#define BM_GEN_RULES_DEFAULT   200u
#define BM_GEN_SMALL_BRANDS    10u
#define BM_GEN_TERMS_PER_BRAND 10u

struct bm_gen_opts {
    uint64_t seed; /* everything derives from this */
    size_t posts;  /* messages in the corpus */
    size_t brands; /* brands in the full pack (and named by the corpus) */
    size_t rules;  /* rules in either pack */
};

/* Fills @o with the defaults: seed 1, 200,000 posts, 1,000 brands, 200
 * rules. */
void bm_gen_opts_default(struct bm_gen_opts *o);

/*
 * Writes the corpus to @path (created or truncated). On success stores the
 * number of bytes written in @bytes (may be NULL). 0, -ENOMEM, or the
 * negative errno of the failed open/write/close.
 */
int bm_gen_write_corpus(const char *path, const struct bm_gen_opts *o,
                        uint64_t *bytes);

/*
 * Writes a rule pack to @path with the first @nbrands brands of the set
 * described by @o (@nbrands between 1 and o->brands) and o->rules rules,
 * each rule's brand taken modulo @nbrands. 0, -EINVAL for a bad @nbrands,
 * -ENOMEM, or the negative errno of the failed open/write/close.
 */
int bm_gen_write_pack(const char *path, const struct bm_gen_opts *o,
                      size_t nbrands);

#endif
