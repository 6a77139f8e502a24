/*
 * test_hostile_packs.c - rule packs written to hurt the loader or the engine
 * (brandmon/pack.h, brandmon/engine.h): each must be refused with a precise
 * `file:line:col: message`, or loaded and used within bounded time and
 * memory.
 *
 * Covers: a "billion laughs" of YAML anchors and aliases (refused at the
 * first anchor, before anything is expanded); a merge key; a 100 MB pack
 * (refused by its size without being read); an endless device as a pack
 * (read up to the limit, then refused); nesting ten thousand levels deep;
 * more nodes than the YAML limit; a catastrophic regex `(a+)+$` on 50,000
 * 'a's and a '!' (the PCRE2 match limit turns it into "no match", and the
 * post is still decided); 100,000 terms in one pack (load and match, with
 * the peak resident memory growing by less than 200 MB); cyclic $refs
 * within a pack and across two packs, and undefined $refs; and the inputs
 * the fuzzers found crashes with (tests/fuzz/).
 *
 * Packs are written to a temporary folder that the group teardown removes.
 * The base data is the small one in tests/data/packs/base/.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "brandmon/buf.h"
#include "brandmon/diag.h"
#include "brandmon/engine.h"
#include "brandmon/pack.h"
#include "brandmon/post.h"
#include "brandmon/ruletest.h"
#include "brandmon/yaml.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

#define BASE_DIR BM_TEST_DATA "/packs/base"
/* fuzz_pack's first crash (tests/fuzz/fuzz_pack.c, 2026-11-22). */
#define FUZZ_CRASH_1 BM_TEST_DATA "/hostile/fuzz_pack-crash-365dc3e2.yaml"

#define MIB ((size_t)1024 * 1024)

/* ---- a temporary folder ------------------------------------------------- */

#define MAX_FILES 32
#define PATH_LEN  256

static char tmp_root[64];
static char files[MAX_FILES][PATH_LEN]; /* written under tmp_root */
static size_t nfiles;

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/bm_test_hostile.XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    while (nfiles > 0)
        unlink(files[--nfiles]);
    rmdir(tmp_root);
    return 0;
}

/* The path of @name in the temporary folder, remembered for the teardown. */
static const char *tmp_path(const char *name)
{
    for (size_t i = 0; i < nfiles; i++) {
        const char *base = strrchr(files[i], '/');

        if (base && strcmp(base + 1, name) == 0)
            return files[i];
    }
    assert_true(nfiles < MAX_FILES);
    snprintf(files[nfiles], PATH_LEN, "%s/%s", tmp_root, name);
    return files[nfiles++];
}

/* Writes @len bytes of @data as @name; returns its path. */
static const char *write_pack(const char *name, const char *data, size_t len)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_pack(name, text, strlen(text));
}

/* ---- loading ------------------------------------------------------------ */

static struct bm_ruleset *load(const char *const *paths, size_t n,
                               struct bm_diag *d)
{
    memset(d, 0, sizeof(*d));
    return bm_ruleset_load(paths, n, BASE_DIR, d);
}

/* @path must fail to load with exactly @line:@col and a message that holds
 * @msg. */
static void expect_refused(const char *path, unsigned line, unsigned col,
                           const char *msg)
{
    const char *paths[1] = { path };
    char text[BM_DIAG_FILE_MAX + BM_DIAG_MSG_MAX + 64];
    struct bm_ruleset *rs;
    struct bm_diag d;

    rs = load(paths, 1, &d);
    bm_diag_format(&d, text, sizeof(text));
    if (rs || strcmp(d.file, path) != 0 || d.line != line || d.col != col ||
        !strstr(d.msg, msg))
        print_error("got: %s\nwant: %s:%u:%u: ...%s...\n",
                    rs ? "(loaded)" : text, path, line, col, msg);
    bm_ruleset_free(rs);
    assert_null(rs);
    assert_string_equal(d.file, path);
    assert_int_equal(d.line, line);
    assert_int_equal(d.col, col);
    assert_non_null(strstr(d.msg, msg));
}

/* Peak resident memory of this process so far, in bytes. */
static size_t peak_rss(void)
{
    struct rusage ru;

    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return (size_t)ru.ru_maxrss * 1024;
}

/* ---- YAML bombs ---------------------------------------------------------- */

/* Ten levels of ten aliases each: 10^10 "lol"s once expanded. */
static void test_billion_laughs_refused_at_first_anchor(void **state)
{
    struct bm_buf b = BM_BUF_INIT;
    const char *path;

    (void)state;
    assert_int_equal(bm_buf_puts(&b, "version: 1\npack: lol\nlists:\n"), 0);
    assert_int_equal(bm_buf_puts(&b, "  lol0: &l0 [lol, lol, lol, lol, lol, "
                                     "lol, lol, lol, lol, lol]\n"),
                     0);
    for (int i = 1; i < 10; i++) {
        assert_int_equal(bm_buf_printf(&b, "  lol%d: &l%d [", i, i), 0);
        for (int j = 0; j < 10; j++)
            assert_int_equal(bm_buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1),
                             0);
        assert_int_equal(bm_buf_puts(&b, "]\n"), 0);
    }
    assert_int_equal(bm_buf_puts(&b, "brands:\n  lol:\n    terms: $lol9\n"), 0);
    path = write_pack("laughs.yaml", b.data, b.len);
    bm_buf_release(&b);
    /* Line 4, at the '&' of the first anchor: nothing was expanded. */
    expect_refused(path, 4, 9, "YAML anchors and aliases are not supported");
}

/* An alias with no anchor in sight, and a merge key, are refused too. */
static void test_alias_and_merge_key_refused(void **state)
{
    (void)state;
    expect_refused(write_text("alias.yaml", "version: 1\n"
                                            "pack: alias\n"
                                            "lists:\n"
                                            "  a: [x, *nowhere]\n"),
                   4, 10, "YAML anchors and aliases are not supported");
    expect_refused(write_text("merge.yaml", "version: 1\n"
                                            "pack: merge\n"
                                            "brands:\n"
                                            "  acme:\n"
                                            "    <<: *base\n"
                                            "    terms: [acme]\n"),
                   5, 9, "YAML anchors and aliases are not supported");
}

/* 100 MB (sparse: it costs no disk) is refused by its size, unread. */
static void test_100mb_pack_refused_by_size(void **state)
{
    static const char head[] = "version: 1\npack: huge\n";
    const char *path = write_text("huge.yaml", head);
    size_t before = peak_rss();
    int fd;

    (void)state;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(100 * MIB)), 0);
    assert_int_equal(close(fd), 0);
    expect_refused(path, 0, 0,
                   "file is 104857600 bytes, larger than the 16 MiB limit");
    /* Refused before reading: not even the 16 MiB limit was allocated. */
    assert_true(peak_rss() - before < 8 * MIB);
}

/* A pack that never ends (a character device) is read up to the limit. */
static void test_endless_device_refused_at_limit(void **state)
{
    (void)state;
    expect_refused("/dev/zero", 0, 0, "larger than the 16 MiB limit");
}

/* "[[[[...]]]]" ten thousand deep stops at the depth limit. */
static void test_deep_nesting_refused(void **state)
{
    struct bm_buf b = BM_BUF_INIT;
    const char *path;
    char msg[64];

    (void)state;
    assert_int_equal(bm_buf_puts(&b, "version: 1\npack: deep\nlists:\n  a: "),
                     0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(bm_buf_putc(&b, '['), 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(bm_buf_putc(&b, ']'), 0);
    assert_int_equal(bm_buf_putc(&b, '\n'), 0);
    path = write_pack("deep.yaml", b.data, b.len);
    bm_buf_release(&b);
    /* The root mapping and `lists:` hold two levels: the refused '[' is
     * level BM_YAML_MAX_DEPTH + 1, the (MAX_DEPTH - 1)th bracket. */
    snprintf(msg, sizeof(msg), "deeper than %d", BM_YAML_MAX_DEPTH);
    expect_refused(path, 4, 6 + BM_YAML_MAX_DEPTH - 2, msg);
}

/* More nodes than BM_YAML_MAX_NODES, in a file well under the size limit. */
static void test_too_many_nodes_refused(void **state)
{
    const size_t items = BM_YAML_MAX_NODES + 10;
    struct bm_buf b = BM_BUF_INIT;
    const char *path;
    char msg[64];

    (void)state;
    assert_int_equal(bm_buf_puts(&b, "version: 1\npack: wide\nlists:\n  a: ["),
                     0);
    assert_int_equal(bm_buf_reserve(&b, 2 * items + 2), 0);
    for (size_t i = 0; i < items; i++)
        assert_int_equal(bm_buf_append(&b, i ? ",x" : "x", i ? 2 : 1), 0);
    assert_int_equal(bm_buf_puts(&b, "]\n"), 0);
    assert_true(b.len < BM_YAML_MAX_BYTES);
    path = write_pack("wide.yaml", b.data, b.len);
    bm_buf_release(&b);
    /* Nine nodes come before the list's first item (the root mapping,
     * `version` and 1, `pack` and `wide`, `lists` and its mapping, `a`, the
     * list), so item K is node K + 9 and the refused node, MAX_NODES + 1,
     * is item MAX_NODES - 8, at column 7 + 2 * (MAX_NODES - 9). */
    snprintf(msg, sizeof(msg), "more than %u nodes", BM_YAML_MAX_NODES);
    expect_refused(path, 4, 7 + 2 * (BM_YAML_MAX_NODES - 9), msg);
}

/* ---- the engine under a hostile pack ----------------------------------- */

/* (a+)+$ on "aaa...a!" backtracks exponentially without a limit. */
static void test_catastrophic_regex_is_no_match(void **state)
{
    static const char pack[] = "version: 1\n"
                               "pack: redos\n"
                               "rules:\n"
                               "  - id: redos.nested\n"
                               "    kind: insight\n"
                               "    when: {regex: '(a+)+$'}\n"
                               "  - id: redos.bang\n"
                               "    kind: insight\n"
                               "    when: {regex: 'a!$'}\n";
    const size_t n = 50000;
    const char *paths[1] = { write_text("redos.yaml", pack) };
    struct bm_ruleset *rs;
    struct bm_engine *e;
    struct bm_decision d;
    struct bm_post p;
    struct bm_diag diag;
    char *text;
    bool bang = false;

    (void)state;
    rs = load(paths, 1, &diag);
    assert_non_null(rs);
    e = bm_engine_new(rs);
    assert_non_null(e);
    text = malloc(n + 2);
    assert_non_null(text);
    memset(text, 'a', n);
    text[n] = '!';
    text[n + 1] = '\0';
    bm_post_init(&p);
    p.id = "redos-1";
    p.source = "test";
    p.text = text;
    p.text_len = n + 1;

    assert_int_equal(bm_engine_decide(e, &p, &d), 0);
    assert_ptr_equal(d.post, &p);
    for (size_t i = 0; i < d.nmatches; i++) {
        /* The match limit was hit: that counts as no match. */
        assert_string_not_equal(d.matches[i].rule, "redos.nested");
        if (strcmp(d.matches[i].rule, "redos.bang") == 0)
            bang = true;
    }
    /* The other regex on the same text still ran and matched. */
    assert_true(bang);

    bm_post_release(&p);
    free(text);
    bm_engine_free(e);
    bm_ruleset_free(rs);
}

/* 100,000 distinct terms in one list, used by a brand and a rule. */
static void test_100k_terms_load_and_match(void **state)
{
    const unsigned nterms = 100000;
    static const char post_text[] = "Bought a zq077777 and a zq000001 today";
    struct bm_buf b = BM_BUF_INIT;
    const char *paths[1];
    struct bm_ruleset *rs;
    struct bm_engine *e;
    struct bm_decision d;
    struct bm_post p;
    struct bm_diag diag;
    size_t before, growth;

    (void)state;
    assert_int_equal(bm_buf_puts(&b, "version: 1\npack: big\nlists:\n  big:\n"),
                     0);
    for (unsigned i = 0; i < nterms; i++)
        assert_int_equal(bm_buf_printf(&b, "    - zq%06u\n", i), 0);
    assert_int_equal(bm_buf_puts(&b, "brands:\n"
                                     "  big:\n"
                                     "    terms: $big\n"
                                     "rules:\n"
                                     "  - id: big.any\n"
                                     "    brand: big\n"
                                     "    kind: insight\n"
                                     "    when: {terms: {any: $big, "
                                     "at_least: 2}}\n"),
                     0);
    paths[0] = write_pack("big.yaml", b.data, b.len);
    bm_buf_release(&b);

    before = peak_rss();
    rs = load(paths, 1, &diag);
    if (!rs)
        print_error("%s:%u:%u: %s\n", diag.file, diag.line, diag.col, diag.msg);
    assert_non_null(rs);
    assert_true(bm_ruleset_terms(rs) >= nterms);
    assert_int_equal(bm_ruleset_brands(rs), 1);
    e = bm_engine_new(rs);
    assert_non_null(e);

    bm_post_init(&p);
    p.id = "big-1";
    p.source = "test";
    p.text = post_text;
    p.text_len = strlen(post_text);
    assert_int_equal(bm_engine_decide(e, &p, &d), 0);
    assert_int_equal(d.nbrands, 1);
    assert_string_equal(d.brands[0].id, "big");
    assert_int_equal(d.nmatches, 1);
    assert_string_equal(d.matches[0].rule, "big.any");
    assert_int_equal(d.matches[0].nterms, 2);
    assert_true((strcmp(d.matches[0].terms[0], "zq077777") == 0 &&
                 strcmp(d.matches[0].terms[1], "zq000001") == 0) ||
                (strcmp(d.matches[0].terms[0], "zq000001") == 0 &&
                 strcmp(d.matches[0].terms[1], "zq077777") == 0));
    /* A term that is not in the list does not match. */
    p.text = "zq100000 zq1";
    p.text_len = strlen(p.text);
    assert_int_equal(bm_engine_decide(e, &p, &d), 0);
    assert_int_equal(d.nbrands, 0);
    assert_int_equal(d.nmatches, 0);

    growth = peak_rss() - before;
    print_message("100,000 terms: peak RSS grew by %zu MiB\n", growth / MIB);
    assert_true(growth < 200 * MIB);
    bm_post_release(&p);
    bm_engine_free(e);
    bm_ruleset_free(rs);
}

/* ---- $refs -------------------------------------------------------------- */

static void test_cyclic_refs_refused(void **state)
{
    (void)state;
    /* a -> b -> c -> a: found at the $a that closes the cycle. */
    expect_refused(write_text("cycle3.yaml", "version: 1\n"
                                             "pack: cycle3\n"
                                             "lists:\n"
                                             "  a: [x, $b]\n"
                                             "  b: [$c, y]\n"
                                             "  c: [z, $a]\n"),
                   6, 10, "list '$a' refers to itself through $refs");
    /* A list naming itself, as a whole. */
    expect_refused(write_text("cycle1.yaml", "version: 1\n"
                                             "pack: cycle1\n"
                                             "lists:\n"
                                             "  self: $self\n"),
                   4, 9, "list '$self' refers to itself through $refs");
}

/* Lists may refer across packs; so may a cycle. */
static void test_cyclic_refs_across_packs_refused(void **state)
{
    const char *paths[2];
    struct bm_ruleset *rs;
    struct bm_diag d;

    (void)state;
    paths[0] = write_text("ping.yaml", "version: 1\n"
                                       "pack: ping\n"
                                       "lists:\n"
                                       "  ping: [ping, $pong]\n");
    paths[1] = write_text("pong.yaml", "version: 1\n"
                                       "pack: pong\n"
                                       "lists:\n"
                                       "  pong: [pong, $ping]\n");
    rs = load(paths, 2, &d);
    assert_null(rs);
    /* Compiled in load order: ping, then pong, whose $ping closes it. */
    assert_string_equal(d.file, paths[1]);
    assert_int_equal(d.line, 4);
    assert_int_equal(d.col, 16);
    assert_string_equal(d.msg, "list '$ping' refers to itself through $refs");
}

static void test_missing_refs_refused(void **state)
{
    (void)state;
    expect_refused(write_text("missing.yaml", "version: 1\n"
                                              "pack: missing\n"
                                              "brands:\n"
                                              "  acme:\n"
                                              "    terms: [acme, $nowhere]\n"),
                   5, 19, "list '$nowhere' is not defined");
    expect_refused(write_text("typo.yaml", "version: 1\n"
                                           "pack: typo\n"
                                           "lists:\n"
                                           "  complaints: [broken, worst]\n"
                                           "rules:\n"
                                           "  - id: typo.r\n"
                                           "    kind: defense\n"
                                           "    when: {terms: $complaint}\n"),
                   8, 19,
                   "list '$complaint' is not defined (did you mean "
                   "'$complaints'?)");
}

/* ---- regressions found by fuzzing ------------------------------------- */

/*
 * A rule that fires with no term (a sentiment-only rule) as the first match
 * an engine ever makes: the engine's list of fired terms has never been
 * allocated, and keep_terms() (daemon/rules/engine.c:252) passed NULL to
 * memcpy with a length of 0, which is undefined behaviour (UBSan: "null
 * pointer passed as argument 1, which is declared to never be null"; clang
 * also reports "applying zero offset to null pointer"). Found by fuzz_pack
 * running a pack's embedded tests. Under the sanitize build this test
 * aborts until that is fixed; in any build the decision must hold the match
 * with no terms.
 */
static void test_termless_rule_first_match(void **state)
{
    static const char pack[] = "version: 1\n"
                               "pack: noterms\n"
                               "rules:\n"
                               "  - id: noterms.positive\n"
                               "    kind: amplification\n"
                               "    when: {sentiment: {above: 0.2}}\n";
    const char *paths[1] = { write_text("noterms.yaml", pack) };
    struct bm_ruleset *rs;
    struct bm_engine *e;
    struct bm_decision d;
    struct bm_post p;
    struct bm_diag diag;

    (void)state;
    rs = load(paths, 1, &diag);
    assert_non_null(rs);
    e = bm_engine_new(rs);
    assert_non_null(e);
    bm_post_init(&p);
    p.id = "noterms-1";
    p.source = "test";
    p.text = "great";
    p.text_len = strlen(p.text);
    assert_int_equal(bm_engine_decide(e, &p, &d), 0);
    assert_int_equal(d.nmatches, 1);
    assert_string_equal(d.matches[0].rule, "noterms.positive");
    assert_int_equal(d.matches[0].nterms, 0);
    bm_post_release(&p);
    bm_engine_free(e);
    bm_ruleset_free(rs);
}

/* The fuzzer's own input for the same bug, through `--test`'s path: the
 * pack's one test decides a post on which only `clacme` (sentiment above
 * 0.2, no terms) fires; the test expects nothing, so it fails. */
static void test_fuzz_crash_1_runs_its_tests(void **state)
{
    const char *paths[1] = { FUZZ_CRASH_1 };
    struct bm_ruletest_result res = { 0, 0 };
    struct bm_ruleset *rs;
    struct bm_diag diag;
    FILE *out;

    (void)state;
    rs = load(paths, 1, &diag);
    assert_non_null(rs);
    assert_int_equal(bm_ruleset_tests(rs), 1);
    out = fopen("/dev/null", "w");
    assert_non_null(out);
    assert_int_equal(bm_ruletest_run(rs, out, &res), 0);
    fclose(out);
    assert_int_equal(res.passed, 0);
    assert_int_equal(res.failed, 1);
    bm_ruleset_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, so that its peak memory is measured from a low base. */
        cmocka_unit_test(test_100k_terms_load_and_match),
        cmocka_unit_test(test_billion_laughs_refused_at_first_anchor),
        cmocka_unit_test(test_alias_and_merge_key_refused),
        cmocka_unit_test(test_100mb_pack_refused_by_size),
        cmocka_unit_test(test_endless_device_refused_at_limit),
        cmocka_unit_test(test_deep_nesting_refused),
        cmocka_unit_test(test_too_many_nodes_refused),
        cmocka_unit_test(test_catastrophic_regex_is_no_match),
        cmocka_unit_test(test_cyclic_refs_refused),
        cmocka_unit_test(test_cyclic_refs_across_packs_refused),
        cmocka_unit_test(test_missing_refs_refused),
        cmocka_unit_test(test_termless_rule_first_match),
        cmocka_unit_test(test_fuzz_crash_1_runs_its_tests),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
