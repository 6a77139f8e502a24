/*
 * fuzz_pack.c - libFuzzer target: a rule pack (pack.h) written by anyone,
 * loaded with the shipped lexicon and intents (the repository's rules/,
 * BM_RULES_DIR), then used.
 *
 * Loading the shipped base data costs most of each run (about 30 times the
 * small base in tests/data/packs/base). $BM_FUZZ_DATA_DIR names another
 * data folder for a faster search of the pack language itself.
 *
 * bm_ruleset_load() reads paths, so the input is written to a file in
 * /dev/shm. A load either fails with a message that names that file, or
 * gives a rule set that an engine can decide posts with: a few fixed posts
 * are decided and written as JSON, every match's alert template is
 * rendered, and the pack's own tests are run (their report goes to
 * /dev/null).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/buf.h"
#include "brandmon/diag.h"
#include "brandmon/engine.h"
#include "brandmon/pack.h"
#include "brandmon/post.h"
#include "brandmon/ruletest.h"

#include "fuzz_util.h"

#ifndef BM_RULES_DIR
#define BM_RULES_DIR "rules"
#endif

static const char *const posts[] = {
    "My Acme printer jammed again. Worst purchase ever. @acmeprinters",
    "<p>Love <b>Globex</b>, but Acme is a joke &amp; a scam!!! :(</p>",
    "Does anyone sell a cheaper printer? asking for a friend #help",
};

static FILE *devnull;
static const char *data_dir = BM_RULES_DIR;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *env = getenv("BM_FUZZ_DATA_DIR");

    (void)argc;
    (void)argv;
    if (env && *env)
        data_dir = env;
    devnull = fopen("/dev/null", "w");
    FUZZ_CHECK(devnull != NULL);
    return 0;
}

static void use_ruleset(const struct bm_ruleset *rs)
{
    struct bm_ruletest_result res = { 0, 0 };
    struct bm_buf out = BM_BUF_INIT;
    struct bm_engine *e = bm_engine_new(rs);
    struct bm_decision d;
    struct bm_post p;

    FUZZ_CHECK(e != NULL);
    for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++) {
        bm_post_init(&p);
        p.id = "fuzz";
        p.source = "fuzz";
        p.text = posts[i];
        p.text_len = strlen(posts[i]);
        p.text_is_html = i == 1;
        FUZZ_CHECK(bm_engine_decide(e, &p, &d) == 0);
        bm_buf_reset(&out);
        FUZZ_CHECK(bm_decision_write_json(&d, &out) == 0);
        for (size_t m = 0; m < d.nmatches; m++) {
            if (d.matches[m].message)
                FUZZ_CHECK(bm_decision_render(&d, &d.matches[m],
                                              d.matches[m].message, &out) == 0);
        }
        bm_post_release(&p);
    }
    bm_buf_release(&out);
    bm_engine_free(e);
    FUZZ_CHECK(bm_ruletest_run(rs, devnull, &res) == 0);
    FUZZ_CHECK(res.passed + res.failed == bm_ruleset_tests(rs));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmp_path("pack");
    const char *paths[1] = { path };
    struct bm_ruleset *rs;
    struct bm_diag d;

    FUZZ_CHECK(fuzz_write_file(path, data, size) == 0);
    memset(&d, 0, sizeof(d));
    rs = bm_ruleset_load(paths, 1, data_dir, &d);
    if (!rs) {
        FUZZ_CHECK(d.msg[0] != '\0');
        FUZZ_CHECK(memchr(d.msg, '\0', sizeof(d.msg)) != NULL);
        /* The shipped data loads, so the error is in the pack. */
        FUZZ_CHECK(strcmp(d.file, path) == 0);
        return 0;
    }
    FUZZ_CHECK(bm_ruleset_packs(rs) == 1);
    FUZZ_CHECK(strlen(bm_ruleset_hash(rs)) == 16);
    use_ruleset(rs);
    bm_ruleset_free(rs);
    return 0;
}
