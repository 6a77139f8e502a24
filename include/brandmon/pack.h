/*
 * pack.h - rule packs: load, validate and compile into one rule set.
 *
 * A rule set is every pack the daemon was pointed at, compiled together:
 * one namespace for lists, brands, rule ids and intents, one matcher for all
 * their terms and for the sentiment lexicon, PCRE2 (JIT) code for every
 * regex. Loading is all or nothing: the first thing wrong in any pack fails
 * the whole load with `file:line:col: what is wrong` and nothing is kept.
 *
 * Besides the packs, a rule set holds the shipped base data: the sentiment
 * lexicon and the default intents, read from a data folder (see
 * bm_ruleset_default_data_dir()). A pack's own `intents:` replace or extend
 * the shipped ones.
 *
 * A built rule set is read-only: the engine (engine.h) decides posts against
 * it, and a reload builds a new one beside it.
 */
#ifndef BRANDMON_PACK_H
#define BRANDMON_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "brandmon/diag.h"

struct bm_ruleset;

enum bm_rule_kind {
    BM_KIND_DEFENSE,
    BM_KIND_AMPLIFICATION,
    BM_KIND_INSIGHT,
};

enum bm_priority {
    BM_PRIO_LOW,
    BM_PRIO_MEDIUM,
    BM_PRIO_HIGH,
    BM_PRIO_CRITICAL,
};

/* Where the base data lives: $BRANDMON_DATA_DIR if set, else the installed
 * folder if it holds sentiment-lexicon.yaml, else the source tree's rules/. */
const char *bm_ruleset_default_data_dir(void);

/*
 * Loads the packs at @paths (files, or folders whose *.yaml and *.yml files
 * are loaded in name order, not recursing), plus the base data from
 * @data_dir (NULL: the default). Returns the rule set, or NULL with @diag
 * filled. Caller frees with bm_ruleset_free().
 */
struct bm_ruleset *bm_ruleset_load(const char *const *paths, size_t npaths,
                                   const char *data_dir, struct bm_diag *diag);
void bm_ruleset_free(struct bm_ruleset *rs);

/* Counts, for logs and --check. */
size_t bm_ruleset_packs(const struct bm_ruleset *rs);
size_t bm_ruleset_brands(const struct bm_ruleset *rs);
size_t bm_ruleset_rules(const struct bm_ruleset *rs);
size_t bm_ruleset_terms(const struct bm_ruleset *rs);
size_t bm_ruleset_tests(const struct bm_ruleset *rs);
/* A hex digest of every loaded file's bytes, in load order (16 chars). */
const char *bm_ruleset_hash(const struct bm_ruleset *rs);

/* An escalation as the runtime needs it (borrowed from the rule set). */
struct bm_escalation_info {
    const char *id;
    const char *brand;      /* brand id */
    const char *brand_name; /* the brand's display name */
    enum bm_rule_kind kind; /* the matches it counts */
    uint64_t window_ms;
    uint64_t baseline_ms; /* 0: no baseline */
    uint64_t cooldown_ms;
    uint32_t count_at_least;
    double ratio_to_baseline; /* 0: not set */
    enum bm_priority priority;
};

/* The id of rule @i (< bm_ruleset_rules()); borrowed. */
const char *bm_ruleset_rule_id(const struct bm_ruleset *rs, size_t i);

size_t bm_ruleset_escalations(const struct bm_ruleset *rs);
/* Escalation @i (< bm_ruleset_escalations()). */
void bm_ruleset_escalation(const struct bm_ruleset *rs, size_t i,
                           struct bm_escalation_info *out);

const char *bm_kind_name(enum bm_rule_kind kind);
const char *bm_priority_name(enum bm_priority prio);

#endif
