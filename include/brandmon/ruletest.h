/*
 * ruletest.h - runs the `tests:` embedded in rule packs.
 *
 * Each test is a post (text and optional author, followers, lang, source,
 * reply, repost, html, raw fields) decided by a fresh engine over the whole
 * rule set, then compared with what the test expects: the exact set of rules
 * that fire, the post's tone, brand tones, intents shown.
 */
#ifndef BRANDMON_RULETEST_H
#define BRANDMON_RULETEST_H

#include <stdio.h>

struct bm_ruleset;

struct bm_ruletest_result {
    unsigned passed;
    unsigned failed;
};

/*
 * Runs every test, printing one line per test to @out:
 *   PASS file:line name
 *   FAIL file:line name: expected [a, b] got [a, c]; tone expected ... got ...
 * Returns 0 when the tests could run (see @res for the verdict) or -ENOMEM.
 */
int bm_ruletest_run(const struct bm_ruleset *rs, FILE *out,
                    struct bm_ruletest_result *res);

#endif
