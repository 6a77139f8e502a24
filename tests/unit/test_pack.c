/*
 * test_pack.c - loading rule packs (include/brandmon/pack.h) and running
 * their embedded tests (include/brandmon/ruletest.h).
 *
 * The base data (lexicon and default intents) comes from
 * tests/data/packs/base/, so these tests do not move when the shipped
 * lexicon does; only the last tests read the shipped files in rules/.
 * Malformed packs are written to a temporary folder, one per test, and each
 * must fail with the exact `file:line:col: message` bm_diag_format() gives.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "brandmon/buf.h"
#include "brandmon/diag.h"
#include "brandmon/engine.h"
#include "brandmon/pack.h"
#include "brandmon/post.h"
#include "brandmon/ruletest.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif
#ifndef BM_RULES_DIR
#define BM_RULES_DIR "rules"
#endif

#define BASE_DIR   BM_TEST_DATA "/packs/base"
#define VALID_PACK BM_TEST_DATA "/packs/acme.yaml"

/* Terms the files in base/ define: 18 in the lexicon, 5 more in intents. */
#define BASE_TERMS 23

/* ---- a temporary folder for packs written by the tests ----------------- */

#define MAX_MADE 64
#define PATH_LEN 256

static char tmp_root[64];
/* Files and folders made under tmp_root, removed in reverse order. */
static char made[MAX_MADE][PATH_LEN];
static bool made_dir[MAX_MADE];
static size_t nmade;

static const char *remember(const char *path, bool dir)
{
    for (size_t i = 0; i < nmade; i++)
        if (strcmp(made[i], path) == 0)
            return made[i];
    assert_true(nmade < MAX_MADE);
    snprintf(made[nmade], sizeof(made[nmade]), "%s", path);
    made_dir[nmade] = dir;
    return made[nmade++];
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/bm_test_pack.XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    while (nmade > 0) {
        nmade--;
        if (made_dir[nmade])
            rmdir(made[nmade]);
        else
            unlink(made[nmade]);
    }
    rmdir(tmp_root);
    return 0;
}

/* Makes the folder @name under the temporary folder; returns its path. */
static const char *mkdir_tmp(const char *name)
{
    char path[PATH_LEN];

    snprintf(path, sizeof(path), "%s/%s", tmp_root, name);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
    return remember(path, true);
}

/* Writes @text to @name under the temporary folder; returns its path. */
static const char *put(const char *name, const char *text)
{
    char path[PATH_LEN];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmp_root, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return remember(path, false);
}

/* ---- loading ------------------------------------------------------------ */

static struct bm_ruleset *load_n(const char *const *paths, size_t n,
                                 struct bm_diag *d)
{
    memset(d, 0, sizeof(*d));
    return bm_ruleset_load(paths, n, BASE_DIR, d);
}

/* Loads @paths, which must succeed. */
static struct bm_ruleset *load_ok(const char *const *paths, size_t n)
{
    struct bm_diag d;
    struct bm_ruleset *rs = load_n(paths, n, &d);
    char msg[1200];

    if (!rs) {
        bm_diag_format(&d, msg, sizeof(msg));
        fail_msg("load failed: %s", msg);
    }
    return rs;
}

static struct bm_ruleset *load_one(const char *path)
{
    return load_ok(&path, 1);
}

/* Loading @paths must fail with `file:line:col: msg` (or `file: msg` when
 * @line is 0). */
static void expect_load_error(const char *const *paths, size_t n,
                              const char *file, unsigned line, unsigned col,
                              const char *msg)
{
    struct bm_diag d;
    struct bm_ruleset *rs = load_n(paths, n, &d);
    char got[1200], want[1200];

    if (line)
        snprintf(want, sizeof(want), "%s:%u:%u: %s", file, line, col, msg);
    else
        snprintf(want, sizeof(want), "%s: %s", file, msg);
    if (rs) {
        bm_ruleset_free(rs);
        fail_msg("loaded, but expected: %s", want);
    }
    bm_diag_format(&d, got, sizeof(got));
    assert_string_equal(got, want);
}

/* The pack @yaml, alone, must fail at @line:@col with @msg. */
static void expect_pack_error(const char *yaml, unsigned line, unsigned col,
                              const char *msg)
{
    const char *path = put("p.yaml", yaml);

    expect_load_error(&path, 1, path, line, col, msg);
}

/* The pack @yaml, alone, must load. */
static void expect_pack_ok(const char *yaml)
{
    bm_ruleset_free(load_one(put("ok.yaml", yaml)));
}

/* ---- deciding ----------------------------------------------------------- */

static void decide(struct bm_engine *e, const char *text, struct bm_decision *d)
{
    static struct bm_post post;

    bm_post_init(&post);
    post.id = "t1";
    post.text = text;
    post.text_len = strlen(text);
    post.source = "test";
    assert_int_equal(bm_engine_decide(e, &post, d), 0);
}

static bool shows_intent(const struct bm_decision *d, const char *name)
{
    for (size_t i = 0; i < d->nintents; i++)
        if (strcmp(d->intents[i], name) == 0)
            return true;
    return false;
}

static const struct bm_decision_match *match_of(const struct bm_decision *d,
                                                const char *rule)
{
    for (size_t i = 0; i < d->nmatches; i++)
        if (strcmp(d->matches[i].rule, rule) == 0)
            return &d->matches[i];
    return NULL;
}

static bool match_has_term(const struct bm_decision_match *m, const char *t)
{
    for (size_t i = 0; m && i < m->nterms; i++)
        if (strcmp(m->terms[i], t) == 0)
            return true;
    return false;
}

/* Runs the rule set's tests; returns what they printed (caller frees). */
static char *run_pack_tests(const struct bm_ruleset *rs,
                            struct bm_ruletest_result *res)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    assert_non_null(f);
    assert_int_equal(bm_ruletest_run(rs, f, res), 0);
    assert_int_equal(fclose(f), 0);
    assert_non_null(out);
    return out;
}

/* ---- a valid pack ------------------------------------------------------- */

static void test_base_data_alone(void **state)
{
    struct bm_ruleset *rs = load_ok(NULL, 0);

    (void)state;
    assert_int_equal(bm_ruleset_brands(rs), 0);
    assert_int_equal(bm_ruleset_rules(rs), 0);
    assert_int_equal(bm_ruleset_tests(rs), 0);
    assert_int_equal(bm_ruleset_terms(rs), BASE_TERMS);
    assert_int_equal(strlen(bm_ruleset_hash(rs)), 16);
    bm_ruleset_free(rs);
}

static void test_valid_pack_loads(void **state)
{
    struct bm_ruleset *rs = load_one(VALID_PACK);
    struct bm_ruleset *again = load_one(VALID_PACK);
    struct bm_ruleset *base = load_ok(NULL, 0);
    const char *hash = bm_ruleset_hash(rs);

    (void)state;
    assert_int_equal(bm_ruleset_brands(rs), 2);
    assert_int_equal(bm_ruleset_rules(rs), 6);
    assert_int_equal(bm_ruleset_tests(rs), 3);
    assert_int_equal(bm_ruleset_terms(rs), BASE_TERMS + 14);
    /* The hash is 16 hex digits, the same for the same files, another for
     * other files. */
    assert_int_equal(strlen(hash), 16);
    assert_int_equal(strspn(hash, "0123456789abcdef"), 16);
    assert_string_equal(hash, bm_ruleset_hash(again));
    assert_string_not_equal(hash, bm_ruleset_hash(base));
    bm_ruleset_free(again);
    bm_ruleset_free(base);
    bm_ruleset_free(rs);
}

static void test_valid_pack_counts_one_pack(void **state)
{
    struct bm_ruleset *rs = load_one(VALID_PACK);
    size_t packs = bm_ruleset_packs(rs);

    (void)state;
    bm_ruleset_free(rs);
    /*
     * BUG (daemon/rules/pack.c, register_unit()/bm_ruleset_packs()): the
     * shipped intents file is registered as a pack, so one pack counts as
     * two (and `--check` prints "2 packs" for one). pack.h says the base
     * data is held "besides the packs". Left failing on purpose.
     */
    assert_int_equal(packs, 1);
}

static void test_valid_pack_own_tests_pass(void **state)
{
    struct bm_ruleset *rs = load_one(VALID_PACK);
    struct bm_ruletest_result res;
    char *out = run_pack_tests(rs, &res);
    char want[4096];

    (void)state;
    snprintf(want, sizeof(want),
             "PASS %s:88 jammed printer\n"
             "PASS %s:91 the cartoon\n"
             "PASS %s:94 Does Acme make a wide-format printer?\n",
             VALID_PACK, VALID_PACK, VALID_PACK);
    assert_string_equal(out, want);
    assert_int_equal(res.passed, 3);
    assert_int_equal(res.failed, 0);
    free(out);
    bm_ruleset_free(rs);
}

static void test_valid_pack_decides(void **state)
{
    struct bm_ruleset *rs = load_one(VALID_PACK);
    struct bm_engine *e = bm_engine_new(rs);
    const struct bm_decision_match *m;
    struct bm_decision d;

    (void)state;
    assert_non_null(e);
    /* A complaint: the brand's terms and the list's term are recorded. */
    decide(e, "My acme printers keep jamming, I want a refund", &d);
    m = match_of(&d, "acme.defense.complaint");
    assert_non_null(m);
    assert_int_equal(m->kind, BM_KIND_DEFENSE);
    assert_int_equal(m->priority, BM_PRIO_HIGH);
    assert_string_equal(m->brand, "acme");
    assert_string_equal(m->brand_name, "Acme Printers");
    assert_string_equal(m->message,
                        "{author} ({followers} followers) on {source}: {text}");
    assert_true(match_has_term(m, "refund*"));
    /* ... but not when joking (`none:`). */
    decide(e, "My acme printers keep jamming, I want a refund /s", &d);
    assert_null(match_of(&d, "acme.defense.complaint"));
    /* An exclusion un-names the brand. */
    decide(e, "acme anvil broken by the road runner", &d);
    assert_int_equal(d.nbrands, 0);
    assert_int_equal(d.nmatches, 0);
    /* A competitor in the same post. */
    decide(e, "acme or globex for the office?", &d);
    assert_non_null(match_of(&d, "acme.insight.competitor"));
    assert_int_equal(d.nbrands, 2);
    /* A priority left out is medium. */
    decide(e, "acme printers are reliable, love them", &d);
    m = match_of(&d, "acme.amplify.statement");
    assert_non_null(m);
    assert_int_equal(m->priority, BM_PRIO_MEDIUM);
    assert_int_equal(m->kind, BM_KIND_AMPLIFICATION);
    assert_true(match_has_term(m, "reliable"));
    bm_engine_free(e);
    bm_ruleset_free(rs);
}

static void test_kind_and_priority_names(void **state)
{
    (void)state;
    assert_string_equal(bm_kind_name(BM_KIND_DEFENSE), "defense");
    assert_string_equal(bm_kind_name(BM_KIND_AMPLIFICATION), "amplification");
    assert_string_equal(bm_kind_name(BM_KIND_INSIGHT), "insight");
    assert_string_equal(bm_priority_name(BM_PRIO_LOW), "low");
    assert_string_equal(bm_priority_name(BM_PRIO_MEDIUM), "medium");
    assert_string_equal(bm_priority_name(BM_PRIO_HIGH), "high");
    assert_string_equal(bm_priority_name(BM_PRIO_CRITICAL), "critical");
}

/* ---- malformed packs: one error each, with its position ---------------- */

/* Lines 1-5 of most packs below. */
#define HEAD                                                                   \
    "version: 1\n"                                                             \
    "pack: p\n"                                                                \
    "brands:\n"                                                                \
    "  acme:\n"                                                                \
    "    terms: [acme]\n"

static void test_unknown_top_level_key(void **state)
{
    (void)state;
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "brandz:\n"
                      "  acme: {terms: [acme]}\n",
                      3, 1,
                      "unknown key 'brandz' in rule pack (did you mean "
                      "'brands'?)");
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "colour: blue\n",
                      3, 1, "unknown key 'colour' in rule pack");
}

static void test_unknown_key_in_rule(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: defense\n"
                           "    priorty: high\n"
                           "    when: {terms: [acme]}\n",
                      9, 5,
                      "unknown key 'priorty' in rule (did you mean "
                      "'priority'?)");
}

static void test_unknown_condition(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    when:\n"
                           "      all:\n"
                           "        - terms: [acme]\n"
                           "        - sentimnet: {below: -0.2}\n",
                      13, 11,
                      "unknown condition 'sentimnet' (did you mean "
                      "'sentiment'?)");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: defense\n"
                           "    when:\n"
                           "      weather: sunny\n",
                      10, 7, "unknown condition 'weather'");
}

static void test_undefined_list(void **state)
{
    (void)state;
    /* Close to a list that exists: suggested. */
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "lists:\n"
                      "  complaint: [broken, worst]\n"
                      "rules:\n"
                      "  - id: r1\n"
                      "    kind: defense\n"
                      "    when:\n"
                      "      terms: $complaints\n",
                      9, 14,
                      "list '$complaints' is not defined (did you mean "
                      "'$complaint'?)");
    /* Inside a list of terms, far from any name. */
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "lists:\n"
                      "  complaint: [broken, worst]\n"
                      "rules:\n"
                      "  - id: r1\n"
                      "    kind: defense\n"
                      "    when:\n"
                      "      terms: [acme, $zzz_unknown]\n",
                      9, 21, "list '$zzz_unknown' is not defined");
    /* In a brand's terms. */
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "brands:\n"
                      "  acme:\n"
                      "    terms: $acme_names\n",
                      5, 12, "list '$acme_names' is not defined");
    /* A quoted "$word" is a term, not a reference. */
    expect_pack_ok("version: 1\n"
                   "pack: p\n"
                   "brands:\n"
                   "  acme:\n"
                   "    terms: [\"$acme\"]\n");
}

static void test_list_cycle(void **state)
{
    (void)state;
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "lists:\n"
                      "  a: [x, $b]\n"
                      "  b: [y, $a]\n",
                      5, 10, "list '$a' refers to itself through $refs");
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "lists:\n"
                      "  a: [x, $a]\n",
                      4, 10, "list '$a' refers to itself through $refs");
    /* A list used twice without a cycle is fine. */
    expect_pack_ok("version: 1\n"
                   "pack: p\n"
                   "lists:\n"
                   "  a: [x, $c]\n"
                   "  b: [$c, $a]\n"
                   "  c: [z]\n");
}

static void test_regex_does_not_compile(void **state)
{
    (void)state;
    /* The wording is PCRE2's own (pcre2_get_error_message). */
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: insight\n"
                           "    when:\n"
                           "      regex: \"(abc\"\n",
                      10, 14,
                      "regex does not compile: missing closing parenthesis "
                      "at offset 4");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: insight\n"
                           "    when:\n"
                           "      regex: '[a-'\n",
                      10, 14,
                      "regex does not compile: missing terminating ] for "
                      "character class at offset 3");
    /* In an intent's patterns. */
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "intents:\n"
                      "  compensation:\n"
                      "    patterns: ['\\bmoney (back']\n",
                      5, 16,
                      "regex does not compile: missing closing parenthesis "
                      "at offset 13");
    /* In a field's `matches`. */
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: insight\n"
                           "    when:\n"
                           "      field: {path: /user/name, matches: "
                           "'a)b'}\n",
                      10, 42,
                      "regex does not compile: unmatched closing parenthesis "
                      "at offset 1");
}

/* Lines 1-11 of the first of two packs. */
static const char pack_a[] = "version: 1\n"
                             "pack: pa\n"
                             "lists:\n"
                             "  shared: [one, two]\n"
                             "brands:\n"
                             "  acme:\n"
                             "    terms: [acme]\n"
                             "rules:\n"
                             "  - id: r.one\n"
                             "    kind: defense\n"
                             "    when: {terms: [acme]}\n";

static void expect_second_pack_error(const char *yaml_b, unsigned line,
                                     unsigned col, const char *msg)
{
    const char *paths[2];

    paths[0] = put("a.yaml", pack_a);
    paths[1] = put("b.yaml", yaml_b);
    expect_load_error(paths, 2, paths[1], line, col, msg);
}

static void test_duplicates_across_packs(void **state)
{
    char msg[1200], a[PATH_LEN], p[PATH_LEN];

    (void)state;
    snprintf(a, sizeof(a), "%s/a.yaml", tmp_root);
    snprintf(p, sizeof(p), "%s/p.yaml", tmp_root);
    expect_second_pack_error("version: 1\n"
                             "pack: pb\n"
                             "brands:\n"
                             "  globex:\n"
                             "    terms: [globex]\n"
                             "  acme:\n"
                             "    terms: [acme]\n",
                             6, 3, "brand 'acme' is already defined");

    snprintf(msg, sizeof(msg), "list 'shared' is already defined at %s:4", a);
    expect_second_pack_error("version: 1\n"
                             "pack: pb\n"
                             "lists:\n"
                             "  other: [x]\n"
                             "  shared: [three]\n",
                             5, 3, msg);

    snprintf(msg, sizeof(msg), "id 'r.one' is already used at %s:9", a);
    expect_second_pack_error("version: 1\n"
                             "pack: pb\n"
                             "rules:\n"
                             "  - id: r.two\n"
                             "    kind: insight\n"
                             "    when: {terms: [x]}\n"
                             "  - id: r.one\n"
                             "    kind: insight\n"
                             "    when: {terms: [y]}\n",
                             7, 9, msg);
    /* Escalation ids share the rules' namespace. */
    expect_second_pack_error("version: 1\n"
                             "pack: pb\n"
                             "escalations:\n"
                             "  - id: r.one\n"
                             "    brand: acme\n"
                             "    kind: defense\n"
                             "    window: 10m\n"
                             "    when: {count_at_least: 5}\n",
                             4, 9, msg);

    snprintf(msg, sizeof(msg), "pack 'pa' is already loaded from %s", a);
    expect_second_pack_error("version: 1\n"
                             "pack: pa\n",
                             2, 7, msg);

    /* Twice in one pack, too. */
    snprintf(msg, sizeof(msg), "id 'r1' is already used at %s:7", p);
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: insight\n"
                           "    when: {terms: [x]}\n"
                           "  - id: r1\n"
                           "    kind: insight\n"
                           "    when: {terms: [y]}\n",
                      10, 9, msg);
}

static void test_rule_with_unknown_brand(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acmee\n"
                           "    kind: defense\n"
                           "    when: {terms: [acme]}\n",
                      8, 12,
                      "brand 'acmee' is not defined (did you mean 'acme'?)");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: initech\n"
                           "    kind: defense\n"
                           "    when: {terms: [acme]}\n",
                      8, 12, "brand 'initech' is not defined");
    /* In a brand's competitors. */
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "brands:\n"
                      "  globex:\n"
                      "    terms: [globex]\n"
                      "  acme:\n"
                      "    terms: [acme]\n"
                      "    competitors: [globx]\n",
                      8, 19,
                      "brand 'globx' is not defined (did you mean "
                      "'globex'?)");
}

static void test_rule_without_kind(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    when: {terms: [acme]}\n",
                      7, 5,
                      "rule 'r1' has no 'kind' (defense, amplification or "
                      "insight)");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: defence\n"
                           "    when: {terms: [acme]}\n",
                      8, 11,
                      "unknown kind 'defence' (did you mean 'defense'?)");
}

static void test_bad_priority(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: defense\n"
                           "    priority: hihg\n"
                           "    when: {terms: [acme]}\n",
                      9, 15, "unknown priority 'hihg' (did you mean 'high'?)");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: defense\n"
                           "    priority: urgent\n"
                           "    when: {terms: [acme]}\n",
                      9, 15, "unknown priority 'urgent'");
}

static void test_statement_needs_brand(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: amplification\n"
                           "    when:\n"
                           "      statement: {at_least: 1}\n",
                      10, 7, "'statement' needs the rule to have a 'brand'");
    /* A brand without statement words. */
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: amplification\n"
                           "    when:\n"
                           "      statement: {at_least: 1}\n",
                      11, 7, "brand 'acme' has no 'statement' words");
    /* More statement words than the brand has. */
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "brands:\n"
                      "  acme:\n"
                      "    terms: [acme]\n"
                      "    statement: [reliable, sturdy]\n"
                      "rules:\n"
                      "  - id: r1\n"
                      "    brand: acme\n"
                      "    kind: amplification\n"
                      "    when:\n"
                      "      statement: {at_least: 3}\n",
                      12, 29, "expected an integer from 1 to 2");
}

static void test_competitor_needs_competitors(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: insight\n"
                           "    when:\n"
                           "      competitor: true\n",
                      11, 7, "brand 'acme' lists no 'competitors'");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: insight\n"
                           "    when:\n"
                           "      competitor: true\n",
                      10, 7, "'competitor' needs the rule to have a 'brand'");
}

static void test_sentiment_out_of_range(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    when:\n"
                           "      sentiment: {below: -1.5}\n",
                      11, 26, "expected a number from -1 to 1");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    when:\n"
                           "      sentiment: {above: 0.5, below: 0.2}\n",
                      11, 18, "sentiment: 'above' must be less than 'below'");
}

static void test_at_least_larger_than_list(void **state)
{
    (void)state;
    /* "broken" and "Broken" are one term: two distinct, not three. */
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    when:\n"
                           "      terms: {any: [broken, Broken, worst], "
                           "at_least: 3}\n",
                      11, 14,
                      "at_least is 3 but the list has only 2 distinct terms");
    expect_pack_ok(HEAD "rules:\n"
                        "  - id: r1\n"
                        "    brand: acme\n"
                        "    kind: defense\n"
                        "    when:\n"
                        "      terms: {any: [broken, Broken, worst], "
                        "at_least: 2}\n");
}

static void test_bad_throttle_duration(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    when: {terms: [acme]}\n"
                           "    alert:\n"
                           "      throttle: {per: author, window: 30x}\n",
                      12, 39, "expected a duration like 30s, 10m, 6h or 1d");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: defense\n"
                           "    when: {terms: [acme]}\n"
                           "    alert:\n"
                           "      throttle: {per: brand, window: 30m}\n",
                      11, 23, "'per: brand' needs the rule to have a brand");
}

static void test_unknown_placeholder(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    when: {terms: [acme]}\n"
                           "    alert:\n"
                           "      message: \"{autor} wrote {text}\"\n",
                      12, 16,
                      "unknown placeholder '{autor}' in alert message (did "
                      "you mean '{author}'?)");
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    when: {terms: [acme]}\n"
                           "    alert:\n"
                           "      message: \"{text} {mood}\"\n",
                      12, 16, "unknown placeholder '{mood}' in alert message");
}

static void test_escalation_errors(void **state)
{
    (void)state;
    expect_pack_error(HEAD "escalations:\n"
                           "  - id: x1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    window: 10m\n"
                           "    when: {count_at_least: 20, "
                           "ratio_to_baseline: 3.0}\n",
                      11, 51, "'ratio_to_baseline' needs a 'baseline' span");
    expect_pack_error(HEAD "escalations:\n"
                           "  - id: x1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    window: 10m\n"
                           "    baseline: 5m\n"
                           "    when: {count_at_least: 20}\n",
                      11, 15, "baseline must be longer than the window");
    expect_pack_error(HEAD "escalations:\n"
                           "  - id: x1\n"
                           "    brand: acme\n"
                           "    kind: defense\n"
                           "    window: 1h\n"
                           "    baseline: 60m\n"
                           "    when: {count_at_least: 20}\n",
                      11, 15, "baseline must be longer than the window");
}

static void test_test_expects_unknown_rule(void **state)
{
    (void)state;
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: defense\n"
                           "    when: {terms: [acme]}\n"
                           "tests:\n"
                           "  - text: acme is broken\n"
                           "    expect: [r1, r2]\n",
                      12, 18,
                      "test expects rule 'r2', which no loaded pack defines");
}

static void test_version(void **state)
{
    (void)state;
    expect_pack_error("version: 2\n"
                      "pack: p\n",
                      1, 10,
                      "unsupported version (this brandmond reads version 1)");
    expect_pack_error("pack: p\n"
                      "brands: {}\n",
                      1, 1, "missing 'version: 1'");
    expect_pack_error("version: 1\n"
                      "brands: {}\n",
                      1, 1, "missing 'pack: NAME'");
}

static void test_yaml_anchors_refused(void **state)
{
    (void)state;
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "lists:\n"
                      "  a: &x [one]\n"
                      "  b: *x\n",
                      4, 6, "YAML anchors and aliases are not supported");
}

static void test_empty_term(void **state)
{
    (void)state;
    expect_pack_error("version: 1\n"
                      "pack: p\n"
                      "brands:\n"
                      "  acme:\n"
                      "    terms: [acme, \" \"]\n",
                      5, 19,
                      "term ' ' is empty once normalised, or longer than 16 "
                      "words");
}

static void test_missing_file_and_empty_folder(void **state)
{
    char path[PATH_LEN];
    const char *p = path, *dir;

    (void)state;
    snprintf(path, sizeof(path), "%s/no-such-pack.yaml", tmp_root);
    expect_load_error(&p, 1, path, 0, 0,
                      "cannot open: No such file or directory");

    dir = mkdir_tmp("empty");
    expect_load_error(&dir, 1, dir, 0, 0,
                      "folder holds no .yaml or .yml rule packs");
    /* Files that are not packs do not count. */
    put("empty/README.txt", "not a pack\n");
    put("empty/.hidden.yaml", "version: 1\npack: hidden\n");
    expect_load_error(&dir, 1, dir, 0, 0,
                      "folder holds no .yaml or .yml rule packs");

    /* A data folder without a lexicon. */
    {
        struct bm_diag d;
        const char *pk = VALID_PACK;
        char got[1200], want[1200];
        struct bm_ruleset *rs;

        memset(&d, 0, sizeof(d));
        rs = bm_ruleset_load(&pk, 1, dir, &d);
        assert_null(rs);
        bm_diag_format(&d, got, sizeof(got));
        snprintf(want, sizeof(want),
                 "%s/sentiment-lexicon.yaml: cannot open: No such file or "
                 "directory",
                 dir);
        assert_string_equal(got, want);
    }
}

/* ---- folders, intents, tests ------------------------------------------- */

static void test_data_files_named_again_are_read_once(void **state)
{
    const char *paths[3] = { BASE_DIR "/intents.yaml",
                             BASE_DIR "/sentiment-lexicon.yaml", VALID_PACK };
    struct bm_ruleset *rs = load_ok(paths, 3);
    struct bm_ruleset *plain = load_one(VALID_PACK);

    (void)state;
    assert_int_equal(bm_ruleset_packs(rs), bm_ruleset_packs(plain));
    assert_int_equal(bm_ruleset_rules(rs), 6);
    assert_int_equal(bm_ruleset_terms(rs), bm_ruleset_terms(plain));
    assert_string_equal(bm_ruleset_hash(rs), bm_ruleset_hash(plain));
    bm_ruleset_free(plain);
    bm_ruleset_free(rs);
}

static void test_folder_ignores_subfolder_named_like_a_pack(void **state)
{
    const char *dir = mkdir_tmp("withsub");
    struct bm_diag d;
    struct bm_ruleset *rs;
    char msg[1200] = "";

    (void)state;
    put("withsub/a.yaml", "version: 1\n"
                          "pack: a\n"
                          "brands:\n"
                          "  acme:\n"
                          "    terms: [acme]\n");
    mkdir_tmp("withsub/old.yaml");
    rs = load_n(&dir, 1, &d);
    if (!rs)
        bm_diag_format(&d, msg, sizeof(msg));
    /*
     * BUG (daemon/rules/pack.c, expand_path()): a folder's entries are
     * taken by name only, so a sub-folder called "old.yaml" is opened as a
     * pack and the load fails with "<dir>/old.yaml: cannot read: Is a
     * directory". pack.h loads a folder's *.yaml files, not recursing.
     * Left failing on purpose.
     */
    assert_string_equal(msg, "");
    assert_non_null(rs);
    assert_int_equal(bm_ruleset_brands(rs), 1);
    bm_ruleset_free(rs);
}

static void test_folder_loads_in_name_order(void **state)
{
    static const char first[] = "version: 1\n"
                                "pack: first\n"
                                "brands:\n"
                                "  acme:\n"
                                "    terms: [acme]\n"
                                "rules:\n"
                                "  - id: first.rule\n"
                                "    brand: acme\n"
                                "    kind: defense\n"
                                "    when: {terms: [broken]}\n"
                                "tests:\n"
                                "  - name: from a\n"
                                "    text: acme is broken\n"
                                "    expect: [first.rule]\n";
    /* Its test names a rule of the other pack, and the brand is the
     * other pack's too. */
    static const char second[] = "version: 1\n"
                                 "pack: second\n"
                                 "rules:\n"
                                 "  - id: second.rule\n"
                                 "    brand: acme\n"
                                 "    kind: insight\n"
                                 "    when: {terms: [globex]}\n"
                                 "tests:\n"
                                 "  - name: from b\n"
                                 "    text: acme is broken, globex too\n"
                                 "    expect: [first.rule, second.rule]\n";
    const char *dir = mkdir_tmp("order");
    const char *b = put("order/b_second.yaml", second);
    const char *a = put("order/a_first.yaml", first);
    const char *ab[2] = { a, b }, *ba[2] = { b, a };
    struct bm_ruleset *rs, *rs_ab, *rs_ba, *base;
    struct bm_ruletest_result res;
    char *out, want[4096];

    (void)state;
    put("order/notes.txt", "::: not yaml :::\n");
    put("order/.hidden.yaml", "::: not yaml :::\n");
    mkdir_tmp("order/sub");
    put("order/sub/c.yaml", "::: not yaml :::\n");

    rs = load_one(dir);
    rs_ab = load_ok(ab, 2);
    rs_ba = load_ok(ba, 2);
    base = load_ok(NULL, 0);
    assert_int_equal(bm_ruleset_packs(rs), bm_ruleset_packs(base) + 2);
    assert_int_equal(bm_ruleset_brands(rs), 1);
    assert_int_equal(bm_ruleset_rules(rs), 2);
    assert_int_equal(bm_ruleset_tests(rs), 2);
    /* The hash covers the files in load order: a folder is name order. */
    assert_string_equal(bm_ruleset_hash(rs), bm_ruleset_hash(rs_ab));
    assert_string_not_equal(bm_ruleset_hash(rs), bm_ruleset_hash(rs_ba));

    out = run_pack_tests(rs, &res);
    snprintf(want, sizeof(want),
             "PASS %s:12 from a\n"
             "PASS %s:9 from b\n",
             a, b);
    assert_string_equal(out, want);
    assert_int_equal(res.passed, 2);
    assert_int_equal(res.failed, 0);
    free(out);
    bm_ruleset_free(base);
    bm_ruleset_free(rs_ba);
    bm_ruleset_free(rs_ab);
    bm_ruleset_free(rs);
}

static void test_folder_duplicate_reported_in_later_name(void **state)
{
    static const char pack_x[] = "version: 1\n"
                                 "pack: %s\n"
                                 "brands:\n"
                                 "  dup:\n"
                                 "    terms: [dup]\n";
    char text[256];
    const char *dir = mkdir_tmp("dups"), *x2;

    (void)state;
    /* The later name is written first. */
    snprintf(text, sizeof(text), pack_x, "x2");
    x2 = put("dups/x2.yaml", text);
    snprintf(text, sizeof(text), pack_x, "x1");
    put("dups/x1.yaml", text);
    expect_load_error(&dir, 1, x2, 4, 3, "brand 'dup' is already defined");
}

/* A pack that uses the intents of base/ without changing them. */
static const char intents_user[] = "version: 1\n"
                                   "pack: user\n"
                                   "rules:\n"
                                   "  - id: user.buy\n"
                                   "    kind: insight\n"
                                   "    when: {intent: purchase}\n";

static void test_shipped_intents_apply(void **state)
{
    struct bm_ruleset *rs = load_one(put("user.yaml", intents_user));
    struct bm_engine *e = bm_engine_new(rs);
    struct bm_decision d;

    (void)state;
    assert_non_null(e);
    decide(e, "I am looking for a printer", &d);
    assert_true(shows_intent(&d, "purchase"));
    assert_non_null(match_of(&d, "user.buy"));
    assert_true(match_has_term(match_of(&d, "user.buy"), "looking for"));
    decide(e, "does acme make toner", &d);
    assert_true(shows_intent(&d, "purchase"));
    decide(e, "switching to globex", &d);
    assert_true(shows_intent(&d, "churn"));
    assert_false(shows_intent(&d, "purchase"));
    assert_null(match_of(&d, "user.buy"));
    bm_engine_free(e);
    bm_ruleset_free(rs);
}

static void test_pack_overrides_intents(void **state)
{
    static const char shop[] = "version: 1\n"
                               "pack: shop\n"
                               "intents:\n"
                               "  purchase:\n"
                               "    terms: [\"take my money\"]\n"
                               "  compensation:\n"
                               "    terms: [\"money back\"]\n"
                               "rules:\n"
                               "  - id: shop.buy\n"
                               "    kind: insight\n"
                               "    when: {intent: purchase}\n"
                               "  - id: shop.comp\n"
                               "    kind: defense\n"
                               "    when: {intent: [compensation, churn]}\n";
    struct bm_ruleset *rs = load_one(put("shop.yaml", shop));
    struct bm_engine *e = bm_engine_new(rs);
    const struct bm_decision_match *m;
    struct bm_decision d;

    (void)state;
    assert_non_null(e);
    /* The pack's purchase terms show the intent... */
    decide(e, "shut up and take my money", &d);
    assert_true(shows_intent(&d, "purchase"));
    m = match_of(&d, "shop.buy");
    assert_non_null(m);
    assert_true(match_has_term(m, "take my money"));
    /* ... and the shipped ones are replaced whole: terms and patterns. */
    decide(e, "I am looking for a printer", &d);
    assert_false(shows_intent(&d, "purchase"));
    assert_null(match_of(&d, "shop.buy"));
    decide(e, "does acme make toner", &d);
    assert_false(shows_intent(&d, "purchase"));
    /* A new intent, and a shipped one the pack left alone. */
    decide(e, "I want my money back", &d);
    assert_true(shows_intent(&d, "compensation"));
    assert_non_null(match_of(&d, "shop.comp"));
    decide(e, "cancelling and switching to globex", &d);
    assert_true(shows_intent(&d, "churn"));
    assert_non_null(match_of(&d, "shop.comp"));
    assert_null(match_of(&d, "shop.buy"));
    bm_engine_free(e);
    bm_ruleset_free(rs);
}

static void test_two_packs_define_one_intent(void **state)
{
    static const char one[] = "version: 1\n"
                              "pack: one\n"
                              "intents:\n"
                              "  compensation:\n"
                              "    terms: [\"money back\"]\n";
    static const char two[] = "version: 1\n"
                              "pack: two\n"
                              "intents:\n"
                              "  compensation:\n"
                              "    terms: [voucher]\n";
    const char *paths[2];

    (void)state;
    paths[0] = put("one.yaml", one);
    paths[1] = put("two.yaml", two);
    expect_load_error(paths, 2, paths[1], 4, 3,
                      "intent 'compensation' is already defined by a pack");
    /* An intent leaf naming no intent. */
    expect_pack_error(HEAD "rules:\n"
                           "  - id: r1\n"
                           "    kind: insight\n"
                           "    when: {intent: purchse}\n",
                      9, 20,
                      "unknown intent 'purchse' (did you mean 'purchase'?)");
}

static void test_ruletest_reports_pass_and_fail(void **state)
{
    static const char pack[] = "version: 1\n"
                               "pack: t\n"
                               "brands:\n"
                               "  acme:\n"
                               "    terms: [acme]\n"
                               "rules:\n"
                               "  - id: t.broken\n"
                               "    brand: acme\n"
                               "    kind: defense\n"
                               "    when:\n"
                               "      terms: [broken, jammed]\n"
                               "tests:\n"
                               "  - name: right\n"
                               "    text: my acme printer is broken\n"
                               "    expect: [t.broken]\n"
                               "  - text: acme is fine today\n"
                               "    expect: [t.broken]\n"
                               "  - name: quiet\n"
                               "    text: globex is broken\n"
                               "    expect: []\n"
                               "  - name: fires too much\n"
                               "    text: acme jammed\n"
                               "    expect: []\n";
    const char *path = put("t.yaml", pack);
    struct bm_ruleset *rs = load_one(path);
    struct bm_ruletest_result res = { 99, 99 };
    char *out = run_pack_tests(rs, &res);
    char want[4096];

    (void)state;
    snprintf(want, sizeof(want),
             "PASS %s:13 right\n"
             "FAIL %s:16 acme is fine today: expected [t.broken] got []\n"
             "PASS %s:18 quiet\n"
             "FAIL %s:21 fires too much: expected [] got [t.broken]\n",
             path, path, path, path);
    assert_string_equal(out, want);
    assert_int_equal(res.passed, 2);
    assert_int_equal(res.failed, 2);
    free(out);
    bm_ruleset_free(rs);
}

static void test_ruletest_reports_tone_brand_intent(void **state)
{
    static const char pack[] = "version: 1\n"
                               "pack: t\n"
                               "brands:\n"
                               "  acme:\n"
                               "    terms: [acme]\n"
                               "  globex:\n"
                               "    terms: [globex]\n"
                               "tests:\n"
                               "  - name: all wrong\n"
                               "    text: acme is terrible\n"
                               "    tone: positive\n"
                               "    brands: {acme: positive, globex: "
                               "neutral}\n"
                               "    intents: [purchase]\n"
                               "  - name: all right\n"
                               "    text: acme is terrible, I am looking for "
                               "another\n"
                               "    tone: negative\n"
                               "    brands: {acme: negative}\n"
                               "    intents: [purchase]\n";
    const char *path = put("t2.yaml", pack);
    struct bm_ruleset *rs = load_one(path);
    struct bm_ruletest_result res;
    char *out = run_pack_tests(rs, &res), head[1024], *line2;

    (void)state;
    assert_int_equal(res.passed, 1);
    assert_int_equal(res.failed, 1);
    snprintf(head, sizeof(head),
             "FAIL %s:9 all wrong: tone expected positive got negative (",
             path);
    assert_memory_equal(out, head, strlen(head));
    line2 = strchr(out, '\n');
    assert_non_null(line2);
    *line2++ = '\0';
    assert_non_null(
        strstr(out, "; brand acme tone expected positive got negative ("));
    assert_non_null(strstr(out, "; brand globex not mentioned"));
    assert_non_null(strstr(out, "; intent purchase not shown"));
    snprintf(head, sizeof(head), "PASS %s:14 all right\n", path);
    assert_string_equal(line2, head);
    free(out);
    bm_ruleset_free(rs);
}

static void test_terms_at_least_above_64(void **state)
{
    struct bm_buf yaml = BM_BUF_INIT, text = BM_BUF_INIT;
    struct bm_ruleset *rs;
    struct bm_engine *e;
    struct bm_decision d;
    bool many, few;

    (void)state;
    /* 70 distinct words; rules need 64 and 65 of them. */
    for (int i = 0; i < 70; i++) {
        assert_int_equal(bm_buf_printf(&text, "%sw%03d", i ? " " : "", i), 0);
        assert_int_equal(bm_buf_printf(&yaml, "%sw%03d", i ? ", " : "", i), 0);
    }
    {
        struct bm_buf pack = BM_BUF_INIT;

        assert_int_equal(bm_buf_printf(&pack,
                                       "version: 1\n"
                                       "pack: big\n"
                                       "lists:\n"
                                       "  words: [%s]\n"
                                       "rules:\n"
                                       "  - id: big.few\n"
                                       "    kind: insight\n"
                                       "    when:\n"
                                       "      terms: {any: $words, at_least: "
                                       "64}\n"
                                       "  - id: big.many\n"
                                       "    kind: insight\n"
                                       "    when:\n"
                                       "      terms: {any: $words, at_least: "
                                       "65}\n",
                                       yaml.data),
                         0);
        rs = load_one(put("big.yaml", pack.data));
        bm_buf_release(&pack);
    }
    e = bm_engine_new(rs);
    assert_non_null(e);
    decide(e, text.data, &d);
    few = match_of(&d, "big.few") != NULL;
    many = match_of(&d, "big.many") != NULL;
    bm_engine_free(e);
    bm_ruleset_free(rs);
    bm_buf_release(&yaml);
    bm_buf_release(&text);
    assert_true(few);
    /*
     * BUG (daemon/rules/cond.c, eval_terms()): at most 64 found terms are
     * counted (`found < 64`), so `at_least` above 64 can never be met,
     * although the loader accepts it (up to the list's size). Left failing
     * on purpose.
     */
    assert_true(many);
}

/* ---- the shipped files -------------------------------------------------- */

static bool shipped_data_present(void)
{
    return access(BM_RULES_DIR "/sentiment-lexicon.yaml", R_OK) == 0 &&
           access(BM_RULES_DIR "/intents.yaml", R_OK) == 0;
}

static void test_shipped_intents_are_defined(void **state)
{
    static const char pack[] =
        "version: 1\n"
        "pack: uses-shipped\n"
        "rules:\n"
        "  - id: every.intent\n"
        "    kind: insight\n"
        "    when:\n"
        "      intent: [complaint, question, purchase, praise, churn, "
        "support, recommendation]\n";
    const char *path;
    struct bm_diag d;
    struct bm_ruleset *rs;
    char msg[1200];

    (void)state;
    if (!shipped_data_present())
        skip(); /* rules/ is still being written */
    path = put("uses-shipped.yaml", pack);
    memset(&d, 0, sizeof(d));
    rs = bm_ruleset_load(&path, 1, BM_RULES_DIR, &d);
    if (!rs) {
        bm_diag_format(&d, msg, sizeof(msg));
        fail_msg("%s", msg);
    }
    assert_int_equal(bm_ruleset_rules(rs), 1);
    assert_true(bm_ruleset_terms(rs) > 100);
    bm_ruleset_free(rs);
}

static void test_shipped_examples_pass_their_tests(void **state)
{
    const char *path = BM_RULES_DIR "/examples";
    struct bm_ruletest_result res;
    struct bm_diag d;
    struct bm_ruleset *rs;
    char msg[1200], *out;

    (void)state;
    if (!shipped_data_present())
        skip();
    memset(&d, 0, sizeof(d));
    rs = bm_ruleset_load(&path, 1, BM_RULES_DIR, &d);
    if (!rs) {
        bm_diag_format(&d, msg, sizeof(msg));
        fail_msg("%s", msg);
    }
    assert_true(bm_ruleset_brands(rs) >= 3);
    assert_true(bm_ruleset_tests(rs) > 0);
    out = run_pack_tests(rs, &res);
    if (res.failed)
        fail_msg("%u of %u example tests fail:\n%s", res.failed,
                 res.failed + res.passed, out);
    assert_int_equal(res.passed, bm_ruleset_tests(rs));
    free(out);
    bm_ruleset_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_data_alone),
        cmocka_unit_test(test_valid_pack_loads),
        cmocka_unit_test(test_valid_pack_counts_one_pack),
        cmocka_unit_test(test_valid_pack_own_tests_pass),
        cmocka_unit_test(test_valid_pack_decides),
        cmocka_unit_test(test_kind_and_priority_names),
        cmocka_unit_test(test_unknown_top_level_key),
        cmocka_unit_test(test_unknown_key_in_rule),
        cmocka_unit_test(test_unknown_condition),
        cmocka_unit_test(test_undefined_list),
        cmocka_unit_test(test_list_cycle),
        cmocka_unit_test(test_regex_does_not_compile),
        cmocka_unit_test(test_duplicates_across_packs),
        cmocka_unit_test(test_rule_with_unknown_brand),
        cmocka_unit_test(test_rule_without_kind),
        cmocka_unit_test(test_bad_priority),
        cmocka_unit_test(test_statement_needs_brand),
        cmocka_unit_test(test_competitor_needs_competitors),
        cmocka_unit_test(test_sentiment_out_of_range),
        cmocka_unit_test(test_at_least_larger_than_list),
        cmocka_unit_test(test_bad_throttle_duration),
        cmocka_unit_test(test_unknown_placeholder),
        cmocka_unit_test(test_escalation_errors),
        cmocka_unit_test(test_test_expects_unknown_rule),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_yaml_anchors_refused),
        cmocka_unit_test(test_empty_term),
        cmocka_unit_test(test_missing_file_and_empty_folder),
        cmocka_unit_test(test_data_files_named_again_are_read_once),
        cmocka_unit_test(test_folder_loads_in_name_order),
        cmocka_unit_test(test_folder_ignores_subfolder_named_like_a_pack),
        cmocka_unit_test(test_folder_duplicate_reported_in_later_name),
        cmocka_unit_test(test_shipped_intents_apply),
        cmocka_unit_test(test_pack_overrides_intents),
        cmocka_unit_test(test_two_packs_define_one_intent),
        cmocka_unit_test(test_ruletest_reports_pass_and_fail),
        cmocka_unit_test(test_ruletest_reports_tone_brand_intent),
        cmocka_unit_test(test_terms_at_least_above_64),
        cmocka_unit_test(test_shipped_intents_are_defined),
        cmocka_unit_test(test_shipped_examples_pass_their_tests),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
