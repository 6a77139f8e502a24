/*
 * test_yaml.c - the YAML tree: positions, refusals with their positions,
 * key checks and scalar conversions.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "brandmon/diag.h"
#include "brandmon/yaml.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif

static struct bm_ydoc *parse(const char *text, struct bm_diag *d)
{
    memset(d, 0, sizeof(*d));
    return bm_ydoc_parse("t.yaml", text, strlen(text), d);
}

/* Parses @text, which must be refused at @line:@col with @msg. */
static void check_refused(const char *text, unsigned line, unsigned col,
                          const char *msg)
{
    struct bm_diag d;
    struct bm_ydoc *doc = parse(text, &d);

    assert_null(doc);
    assert_string_equal(d.file, "t.yaml");
    assert_string_equal(d.msg, msg);
    assert_int_equal(d.line, line);
    assert_int_equal(d.col, col);
}

static void check_pos(const struct bm_ynode *n, unsigned line, unsigned col)
{
    assert_non_null(n);
    assert_int_equal(n->line, line);
    assert_int_equal(n->col, col);
}

static void check_scalar(const struct bm_ynode *n, const char *str, bool quoted,
                         unsigned line, unsigned col)
{
    check_pos(n, line, col);
    assert_int_equal(n->type, BM_YNODE_SCALAR);
    assert_string_equal(n->str, str);
    assert_int_equal(n->len, strlen(str));
    assert_int_equal(n->quoted, quoted);
}

/* ---- tree and positions ------------------------------------------------- */

static void test_nested_document(void **state)
{
    const struct bm_ynode *root, *brands, *b0, *terms, *limits, *n;
    struct bm_diag d;
    struct bm_ydoc *doc;

    (void)state;
    memset(&d, 0, sizeof(d));
    doc = bm_ydoc_load(BM_TEST_DATA "/yaml/nested.yaml", &d);
    assert_non_null(doc);
    assert_string_equal(doc->file, BM_TEST_DATA "/yaml/nested.yaml");
    root = doc->root;
    check_pos(root, 2, 1);
    assert_int_equal(root->type, BM_YNODE_MAP);
    assert_int_equal(root->n, 5);

    /* Pairs keep document order; keys sit at their own first character. */
    check_scalar(root->pairs[0].key, "name", false, 2, 1);
    check_scalar(root->pairs[0].value, "acme", false, 2, 7);
    check_scalar(root->pairs[1].key, "brands", false, 3, 1);
    check_scalar(root->pairs[2].key, "limits", false, 8, 1);
    check_scalar(root->pairs[3].key, "note", false, 12, 1);
    check_scalar(root->pairs[4].key, "folded", false, 15, 1);

    brands = bm_ynode_get(root, "brands");
    check_pos(brands, 4, 3);
    assert_int_equal(brands->type, BM_YNODE_SEQ);
    assert_int_equal(brands->n, 2);
    b0 = brands->items[0];
    check_pos(b0, 4, 5);
    assert_int_equal(b0->type, BM_YNODE_MAP);
    check_scalar(bm_ynode_get(b0, "name"), "Acme", false, 4, 11);
    terms = bm_ynode_get(b0, "terms");
    check_pos(terms, 5, 12);
    assert_int_equal(terms->type, BM_YNODE_SEQ);
    assert_int_equal(terms->n, 3);
    check_scalar(terms->items[0], "acme", false, 5, 13);
    check_scalar(terms->items[1], "acme corp", true, 5, 19);
    check_scalar(terms->items[2], "ACME", true, 5, 32);
    check_scalar(bm_ynode_get(brands->items[1], "enabled"), "true", false, 7,
                 14);

    limits = bm_ynode_get(root, "limits");
    check_pos(limits, 9, 3);
    assert_int_equal(limits->n, 3);
    check_scalar(limits->pairs[1].key, "window", false, 10, 3);
    check_scalar(bm_ynode_get(limits, "max_rate"), "12", false, 9, 13);
    /* A key with nothing after it has an empty plain scalar. */
    n = bm_ynode_get(limits, "empty");
    assert_non_null(n);
    assert_int_equal(n->type, BM_YNODE_SCALAR);
    assert_int_equal(n->len, 0);
    assert_false(n->quoted);

    check_scalar(bm_ynode_get(root, "note"), "first line\nsecond line\n", true,
                 12, 7);
    check_scalar(bm_ynode_get(root, "folded"), "one two\nthree", true, 15, 9);
    bm_ydoc_free(doc);
}

static void test_get(void **state)
{
    struct bm_diag d;
    struct bm_ydoc *doc = parse("a: 1\nb: [x]\n", &d);

    (void)state;
    assert_non_null(doc);
    check_scalar(bm_ynode_get(doc->root, "a"), "1", false, 1, 4);
    assert_null(bm_ynode_get(doc->root, "c"));
    assert_null(bm_ynode_get(doc->root, "")); /* no such key */
    /* Not a mapping, or no node at all. */
    assert_null(bm_ynode_get(bm_ynode_get(doc->root, "b"), "x"));
    assert_null(bm_ynode_get(NULL, "a"));
    bm_ydoc_free(doc);
}

static void test_columns_count_characters(void **state)
{
    struct bm_diag d;
    struct bm_ydoc *doc = parse("\xc3\xa9t\xc3\xa9: [\xc3\xbc, x]\n", &d);

    (void)state;
    assert_non_null(doc);
    check_scalar(doc->root->pairs[0].key, "\xc3\xa9t\xc3\xa9", false, 1, 1);
    check_pos(doc->root->pairs[0].value, 1, 6);
    check_scalar(doc->root->pairs[0].value->items[1], "x", false, 1, 10);
    bm_ydoc_free(doc);
}

static void test_empty_documents(void **state)
{
    static const char *const empty[] = {
        "", "# only a comment\n", "\n\n   \n", "---\n", "--- # c\n...\n",
    };
    struct bm_diag d;
    struct bm_ydoc *doc;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        doc = parse(empty[i], &d);
        assert_non_null(doc);
        assert_null(doc->root);
        bm_ydoc_free(doc);
    }
    /* An empty quoted string is content, not an empty document. */
    doc = parse("''\n", &d);
    assert_non_null(doc);
    check_scalar(doc->root, "", true, 1, 1);
    bm_ydoc_free(doc);
    /* NULL data with no length is an empty document too. */
    doc = bm_ydoc_parse("x", NULL, 0, &d);
    assert_non_null(doc);
    assert_null(doc->root);
    bm_ydoc_free(doc);
    bm_ydoc_free(NULL);
}

static void test_quoted_flag(void **state)
{
    struct bm_diag d;
    struct bm_ydoc *doc = parse("p: plain\n"
                                "s: 'single'\n"
                                "d: \"double\"\n"
                                "l: |\n"
                                "  lit\n"
                                "f: >\n"
                                "  fold\n"
                                "n: 12\n"
                                "e: \"\"\n",
                                &d);

    (void)state;
    assert_non_null(doc);
    check_scalar(bm_ynode_get(doc->root, "p"), "plain", false, 1, 4);
    check_scalar(bm_ynode_get(doc->root, "s"), "single", true, 2, 4);
    check_scalar(bm_ynode_get(doc->root, "d"), "double", true, 3, 4);
    check_scalar(bm_ynode_get(doc->root, "l"), "lit\n", true, 4, 4);
    check_scalar(bm_ynode_get(doc->root, "f"), "fold\n", true, 6, 4);
    check_scalar(bm_ynode_get(doc->root, "n"), "12", false, 8, 4);
    check_scalar(bm_ynode_get(doc->root, "e"), "", true, 9, 4);
    bm_ydoc_free(doc);
}

static void test_block_scalars(void **state)
{
    struct bm_diag d;
    struct bm_ydoc *doc = parse("keep: |+\n"
                                "  a\n"
                                "    indented\n"
                                "\n"
                                "strip: |-\n"
                                "  one\n"
                                "  two\n"
                                "fold: >\n"
                                "  joined\n"
                                "  words\n"
                                "\n"
                                "  new paragraph\n"
                                "after: x\n",
                                &d);

    (void)state;
    assert_non_null(doc);
    check_scalar(bm_ynode_get(doc->root, "keep"), "a\n  indented\n\n", true, 1,
                 7);
    check_scalar(bm_ynode_get(doc->root, "strip"), "one\ntwo", true, 5, 8);
    check_scalar(bm_ynode_get(doc->root, "fold"),
                 "joined words\nnew paragraph\n", true, 8, 7);
    check_scalar(bm_ynode_get(doc->root, "after"), "x", false, 13, 8);
    bm_ydoc_free(doc);
}

static void test_embedded_nul(void **state)
{
    const char *s = "unset";
    struct bm_diag d;
    struct bm_ydoc *doc = parse("a: \"x\\0y\"\n", &d);
    const struct bm_ynode *n;

    (void)state;
    assert_non_null(doc);
    n = bm_ynode_get(doc->root, "a");
    assert_non_null(n);
    assert_int_equal(n->len, 3);
    assert_memory_equal(n->str, "x\0y", 4);
    /* A string that C would cut short is refused, not truncated. */
    assert_int_equal(bm_ynode_string(doc, n, &s, &d), -EINVAL);
    assert_string_equal(s, "unset");
    assert_int_equal(d.line, 1);
    assert_int_equal(d.col, 4);
    bm_ydoc_free(doc);
}

/* ---- refusals ------------------------------------------------------------ */

static void test_anchors_and_aliases(void **state)
{
    static const char msg[] = "YAML anchors and aliases are not supported";

    (void)state;
    check_refused("a: &x 1\n", 1, 4, msg);
    check_refused("a: 1\nb: *x\n", 2, 4, msg);
    check_refused("- a\n- &s [b]\n", 2, 3, msg);
    check_refused("top:\n  m: &m {k: v}\n", 2, 6, msg);
    check_refused("a: [1, *x]\n", 1, 8, msg);
}

static void test_billion_laughs(void **state)
{
    static const char text[] =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
        "j: [*i,*i,*i,*i,*i,*i,*i,*i,*i]\n";
    struct timespec t0, t1;
    double secs;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    check_refused(text, 1, 4, "YAML anchors and aliases are not supported");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) +
           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 0.5);
}

static void test_duplicate_keys(void **state)
{
    char big[8192], key[120];
    struct bm_diag d;
    struct bm_ydoc *doc;
    size_t off = 0;
    int i;

    (void)state;
    check_refused("a: 1\nb: 2\na: 3\n", 3, 1,
                  "duplicate key 'a' (first at line 1)");
    check_refused("x:\n  k: 1\n  'k': 2\n", 3, 3,
                  "duplicate key 'k' (first at line 2)");
    check_refused("{a: 1, b: 2, a: 3}", 1, 14,
                  "duplicate key 'a' (first at line 1)");
    check_refused("- {p: 1}\n- q: 1\n  r: 2\n  q: 3\n", 4, 3,
                  "duplicate key 'q' (first at line 2)");

    /* The same keys in sibling and nested mappings are fine. */
    doc = parse("- {a: 1, b: 2}\n- {a: 1, b: {a: 1, b: 2}}\n", &d);
    assert_non_null(doc);
    assert_int_equal(doc->root->n, 2);
    bm_ydoc_free(doc);

    /* A mapping past the hash threshold, the duplicate near the end. */
    for (i = 0; i < 200; i++)
        off +=
            (size_t)snprintf(big + off, sizeof(big) - off, "key%d: %d\n", i, i);
    snprintf(big + off, sizeof(big) - off, "key42: again\n");
    check_refused(big, 201, 1, "duplicate key 'key42' (first at line 43)");
    big[off] = '\0';
    doc = parse(big, &d);
    assert_non_null(doc);
    assert_int_equal(doc->root->n, 200);
    check_scalar(bm_ynode_get(doc->root, "key199"), "199", false, 200, 9);
    bm_ydoc_free(doc);

    /* A long key is cut short in the message. */
    memset(key, 'k', 100);
    key[100] = '\0';
    snprintf(big, sizeof(big), "%s: 1\n%s: 2\n", key, key);
    doc = parse(big, &d);
    assert_null(doc);
    assert_int_equal(d.line, 2);
    /* 64 bytes of it are shown. */
    memset(key, 'k', 64);
    strcpy(key + 64, "...' (first at line 1)");
    assert_non_null(strstr(d.msg, key));
    assert_int_equal(strlen(d.msg), strlen("duplicate key '") + strlen(key));
}

static void test_non_scalar_keys(void **state)
{
    (void)state;
    check_refused("? [a, b]\n: 1\n", 1, 3, "mapping keys must be scalars");
    check_refused("ok: 1\n[a]: 1\n", 2, 1, "mapping keys must be scalars");
    check_refused("{{k: v}: 1}\n", 1, 2, "mapping keys must be scalars");
}

static void test_multiple_documents(void **state)
{
    struct bm_diag d;
    struct bm_ydoc *doc;

    (void)state;
    check_refused("a: 1\n---\nb: 2\n", 2, 1,
                  "only one YAML document is allowed in a file");
    check_refused("--- a\n--- b\n", 2, 1,
                  "only one YAML document is allowed in a file");
    /* One document with explicit markers is fine. */
    doc = parse("%YAML 1.1\n---\na: 1\n...\n", &d);
    assert_non_null(doc);
    check_scalar(bm_ynode_get(doc->root, "a"), "1", false, 3, 4);
    bm_ydoc_free(doc);
}

static void test_depth(void **state)
{
    char text[8192];
    struct bm_diag d;
    struct bm_ydoc *doc;
    const struct bm_ynode *n;
    size_t off = 0;
    int i, depth;

    (void)state;
    /* Exactly the limit of flow sequences parses. */
    memset(text, '[', BM_YAML_MAX_DEPTH);
    memset(text + BM_YAML_MAX_DEPTH, ']', BM_YAML_MAX_DEPTH);
    text[2 * BM_YAML_MAX_DEPTH] = '\0';
    doc = parse(text, &d);
    assert_non_null(doc);
    for (n = doc->root, depth = 0; n && n->type == BM_YNODE_SEQ; depth++)
        n = n->n ? n->items[0] : NULL;
    assert_int_equal(depth, BM_YAML_MAX_DEPTH);
    bm_ydoc_free(doc);

    /* One more is refused where it opens. */
    memset(text, '[', BM_YAML_MAX_DEPTH + 1);
    memset(text + BM_YAML_MAX_DEPTH + 1, ']', BM_YAML_MAX_DEPTH + 1);
    text[2 * BM_YAML_MAX_DEPTH + 2] = '\0';
    check_refused(text, 1, 65, "nesting deeper than 64 levels");

    /* Block mappings, one level per line: the 65th opens on line 65. */
    for (i = 0; i <= BM_YAML_MAX_DEPTH; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "%*sa:%s\n",
                                2 * i, "", i == BM_YAML_MAX_DEPTH ? " 1" : "");
    check_refused(text, 65, 129, "nesting deeper than 64 levels");
}

/* "[0,0,...,0]" with @items items. */
static char *flow_seq(size_t items)
{
    char *s = malloc(2 * items + 2);
    size_t i;

    assert_non_null(s);
    s[0] = '[';
    for (i = 0; i < items; i++) {
        s[1 + 2 * i] = '0';
        s[2 + 2 * i] = ',';
    }
    s[2 * items] = ']';
    s[2 * items + 1] = '\0';
    return s;
}

static void test_node_limit(void **state)
{
    struct bm_diag d;
    struct bm_ydoc *doc;
    char *text;

    (void)state;
    /* The root sequence and its items: exactly the limit. */
    text = flow_seq(BM_YAML_MAX_NODES - 1);
    doc = bm_ydoc_parse("t.yaml", text, strlen(text), &d);
    assert_non_null(doc);
    assert_int_equal(doc->root->n, BM_YAML_MAX_NODES - 1);
    bm_ydoc_free(doc);
    free(text);

    /* One more node: refused at the item that goes over, column 2 * i. */
    text = flow_seq(BM_YAML_MAX_NODES);
    memset(&d, 0, sizeof(d));
    doc = bm_ydoc_parse("t.yaml", text, strlen(text), &d);
    assert_null(doc);
    assert_string_equal(d.msg, "more than 2000000 nodes");
    assert_int_equal(d.line, 1);
    assert_int_equal(d.col, 2 * BM_YAML_MAX_NODES);
    free(text);
}

static void test_too_large(void **state)
{
    char path[] = "/tmp/bm_test_yaml_XXXXXX";
    struct bm_diag d;
    char *text;
    int fd;

    (void)state;
    /* A sparse file one byte over the limit: refused before it is read. */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, BM_YAML_MAX_BYTES + 1), 0);
    close(fd);
    memset(&d, 0, sizeof(d));
    assert_null(bm_ydoc_load(path, &d));
    unlink(path);
    assert_string_equal(d.file, path);
    assert_int_equal(d.line, 0);
    assert_string_equal(d.msg,
                        "file is 16777217 bytes, larger than the 16 MiB limit");

    /* The same from memory. */
    text = calloc(1, BM_YAML_MAX_BYTES + 1);
    assert_non_null(text);
    memset(&d, 0, sizeof(d));
    assert_null(bm_ydoc_parse("big.yaml", text, BM_YAML_MAX_BYTES + 1, &d));
    assert_string_equal(d.file, "big.yaml");
    assert_int_equal(d.line, 0);
    assert_string_equal(d.msg,
                        "file is 16777217 bytes, larger than the 16 MiB limit");
    free(text);
}

static void test_cannot_open(void **state)
{
    struct bm_diag d;

    (void)state;
    memset(&d, 0, sizeof(d));
    assert_null(bm_ydoc_load(BM_TEST_DATA "/yaml/no-such-file.yaml", &d));
    assert_string_equal(d.file, BM_TEST_DATA "/yaml/no-such-file.yaml");
    assert_int_equal(d.line, 0);
    assert_int_equal(d.col, 0);
    assert_string_equal(d.msg, "cannot open: No such file or directory");

    /* A directory opens but cannot be read. */
    memset(&d, 0, sizeof(d));
    assert_null(bm_ydoc_load(BM_TEST_DATA "/yaml", &d));
    assert_int_equal(d.line, 0);
    assert_string_equal(d.msg, "cannot read: Is a directory");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    check_refused("a: \"abc\nb: 1\n", 3, 1,
                  "found unexpected end of stream while scanning a quoted "
                  "scalar");
    check_refused("a: 'abc\n", 2, 1,
                  "found unexpected end of stream while scanning a quoted "
                  "scalar");
    check_refused("a: 1\nb: @x\n", 2, 4,
                  "found character that cannot start any token while "
                  "scanning for the next token");
    check_refused("a:\n\tb: 1\n", 2, 1,
                  "found character that cannot start any token while "
                  "scanning for the next token");
    check_refused("a: b: c\n", 1, 5,
                  "mapping values are not allowed in this context");
    check_refused("a:\n  - b\n c: 1\n", 3, 2,
                  "did not find expected key while parsing a block mapping");
    check_refused("[a, b\n", 2, 1,
                  "did not find expected ',' or ']' while parsing a flow "
                  "sequence");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    check_refused("a: \xff\n", 1, 4, "invalid leading UTF-8 octet (0xFF)");
    /* At the bad byte; the two-byte character before it is one column. */
    check_refused("ok: 1\n\xc3\xa9: \xc3(\n", 2, 5,
                  "invalid trailing UTF-8 octet (0x28)");
    check_refused("a: b\nc: d\xc3", 2, 5, "incomplete UTF-8 octet sequence");
    check_refused("a: \x01\n", 1, 4,
                  "control characters are not allowed (0x01)");
}

/* ---- key checks ---------------------------------------------------------- */

static void test_check_keys(void **state)
{
    static const char *const allowed[] = { "match", "sentiment", "brand",
                                           NULL };
    struct bm_diag d;
    struct bm_ydoc *doc = parse("rules:\n"
                                "  - match: x\n"
                                "    brand: acme\n"
                                "  - match: y\n"
                                "    sentimnet: negative\n"
                                "  - match: z\n"
                                "    zzzzzzzz: 1\n"
                                "  - [not, a, map]\n",
                                &d);
    const struct bm_ynode *rules;

    (void)state;
    assert_non_null(doc);
    rules = bm_ynode_get(doc->root, "rules");
    assert_non_null(rules);
    assert_int_equal(rules->n, 4);

    assert_int_equal(
        bm_ynode_check_keys(doc, rules->items[0], "rule", allowed, &d), 0);

    assert_int_equal(
        bm_ynode_check_keys(doc, rules->items[1], "rule", allowed, &d),
        -EINVAL);
    assert_string_equal(d.file, "t.yaml");
    assert_int_equal(d.line, 5);
    assert_int_equal(d.col, 5);
    assert_string_equal(d.msg, "unknown key 'sentimnet' in rule (did you mean "
                               "'sentiment'?)");

    assert_int_equal(
        bm_ynode_check_keys(doc, rules->items[2], "rule", allowed, &d),
        -EINVAL);
    assert_int_equal(d.line, 7);
    assert_int_equal(d.col, 5);
    assert_string_equal(d.msg, "unknown key 'zzzzzzzz' in rule");

    assert_int_equal(
        bm_ynode_check_keys(doc, rules->items[3], "rule", allowed, &d),
        -EINVAL);
    assert_int_equal(d.line, 8);
    assert_int_equal(d.col, 5);
    assert_string_equal(d.msg, "rule must be a mapping");

    memset(&d, 0, sizeof(d));
    assert_int_equal(bm_ynode_check_keys(doc, NULL, "rule", allowed, &d),
                     -EINVAL);
    assert_int_equal(d.line, 0);
    assert_string_equal(d.msg, "rule must be a mapping");
    bm_ydoc_free(doc);
}

/* ---- conversions --------------------------------------------------------- */

static const char conv_text[] = "t: true\n"
                                "T: TRUE\n"
                                "f: False\n"
                                "yes: yes\n"
                                "one: 1\n"
                                "qt: \"true\"\n"
                                "seq: [1]\n"
                                "map: {a: 1}\n"
                                "i: 42\n"
                                "neg: -17\n"
                                "plus: +5\n"
                                "zeros: 007\n"
                                "max: 9223372036854775807\n"
                                "min: -9223372036854775808\n"
                                "over: 9223372036854775808\n"
                                "hex: 0x10\n"
                                "flt: 1.5\n"
                                "sign: '-'\n"
                                "exp: 2.5e-3\n"
                                "nan: nan\n"
                                "inf: inf\n"
                                "sp: ' 1'\n"
                                "empty: \"\"\n"
                                "s: hello\n";

static struct bm_ydoc *conv_doc(void)
{
    struct bm_diag d;
    struct bm_ydoc *doc = parse(conv_text, &d);

    assert_non_null(doc);
    return doc;
}

static const struct bm_ynode *at(const struct bm_ydoc *doc, const char *key)
{
    const struct bm_ynode *n = bm_ynode_get(doc->root, key);

    assert_non_null(n);
    return n;
}

static void check_diag(const struct bm_diag *d, unsigned line, unsigned col,
                       const char *msg)
{
    assert_string_equal(d->file, "t.yaml");
    assert_int_equal(d->line, line);
    assert_int_equal(d->col, col);
    assert_string_equal(d->msg, msg);
}

static void test_bool(void **state)
{
    static const char msg[] = "expected true or false";
    struct bm_ydoc *doc = conv_doc();
    struct bm_diag d;
    bool b = false;

    (void)state;
    assert_int_equal(bm_ynode_bool(doc, at(doc, "t"), &b, &d), 0);
    assert_true(b);
    assert_int_equal(bm_ynode_bool(doc, at(doc, "f"), &b, &d), 0);
    assert_false(b);
    assert_int_equal(bm_ynode_bool(doc, at(doc, "T"), &b, &d), 0);
    assert_true(b);
    assert_int_equal(bm_ynode_bool(doc, at(doc, "qt"), &b, &d), 0);
    assert_true(b);

    b = false;
    assert_int_equal(bm_ynode_bool(doc, at(doc, "yes"), &b, &d), -EINVAL);
    check_diag(&d, 4, 6, msg);
    assert_false(b);
    assert_int_equal(bm_ynode_bool(doc, at(doc, "one"), &b, &d), -EINVAL);
    check_diag(&d, 5, 6, msg);
    assert_int_equal(bm_ynode_bool(doc, at(doc, "seq"), &b, &d), -EINVAL);
    check_diag(&d, 7, 6, msg);
    assert_int_equal(bm_ynode_bool(doc, at(doc, "empty"), &b, &d), -EINVAL);
    check_diag(&d, 23, 8, msg);
    bm_ydoc_free(doc);
}

static void test_int(void **state)
{
    static const char msg[] = "expected an integer from -100 to 100";
    struct bm_ydoc *doc = conv_doc();
    struct bm_diag d;
    int64_t v = 0;

    (void)state;
    assert_int_equal(bm_ynode_int(doc, at(doc, "i"), -100, 100, &v, &d), 0);
    assert_int_equal(v, 42);
    assert_int_equal(bm_ynode_int(doc, at(doc, "neg"), -100, 100, &v, &d), 0);
    assert_int_equal(v, -17);
    assert_int_equal(bm_ynode_int(doc, at(doc, "plus"), -100, 100, &v, &d), 0);
    assert_int_equal(v, 5);
    assert_int_equal(bm_ynode_int(doc, at(doc, "zeros"), -100, 100, &v, &d), 0);
    assert_int_equal(v, 7);
    assert_int_equal(
        bm_ynode_int(doc, at(doc, "max"), INT64_MIN, INT64_MAX, &v, &d), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(
        bm_ynode_int(doc, at(doc, "min"), INT64_MIN, INT64_MAX, &v, &d), 0);
    assert_true(v == INT64_MIN);

    v = 99;
    assert_int_equal(bm_ynode_int(doc, at(doc, "i"), 0, 10, &v, &d), -EINVAL);
    check_diag(&d, 9, 4, "expected an integer from 0 to 10");
    assert_int_equal(v, 99);
    assert_int_equal(bm_ynode_int(doc, at(doc, "neg"), 0, 10, &v, &d), -EINVAL);
    check_diag(&d, 10, 6, "expected an integer from 0 to 10");
    assert_int_equal(
        bm_ynode_int(doc, at(doc, "over"), INT64_MIN, INT64_MAX, &v, &d),
        -EINVAL);
    check_diag(&d, 15, 7,
               "expected an integer from -9223372036854775808 to "
               "9223372036854775807");
    assert_int_equal(bm_ynode_int(doc, at(doc, "hex"), -100, 100, &v, &d),
                     -EINVAL);
    check_diag(&d, 16, 6, msg);
    assert_int_equal(bm_ynode_int(doc, at(doc, "flt"), -100, 100, &v, &d),
                     -EINVAL);
    check_diag(&d, 17, 6, msg);
    assert_int_equal(bm_ynode_int(doc, at(doc, "sign"), -100, 100, &v, &d),
                     -EINVAL);
    check_diag(&d, 18, 7, msg);
    assert_int_equal(bm_ynode_int(doc, at(doc, "sp"), -100, 100, &v, &d),
                     -EINVAL);
    check_diag(&d, 22, 5, msg);
    assert_int_equal(bm_ynode_int(doc, at(doc, "empty"), -100, 100, &v, &d),
                     -EINVAL);
    check_diag(&d, 23, 8, msg);
    assert_int_equal(bm_ynode_int(doc, at(doc, "map"), -100, 100, &v, &d),
                     -EINVAL);
    check_diag(&d, 8, 6, msg);
    assert_int_equal(v, 99);
    bm_ydoc_free(doc);
}

static void test_double(void **state)
{
    static const char msg[] = "expected a number from -1 to 1";
    struct bm_ydoc *doc = conv_doc();
    struct bm_diag d;
    double v = 0;

    (void)state;
    assert_int_equal(bm_ynode_double(doc, at(doc, "flt"), 0, 2, &v, &d), 0);
    assert_true(v == 1.5);
    assert_int_equal(bm_ynode_double(doc, at(doc, "exp"), -1, 1, &v, &d), 0);
    assert_true(v == 2.5e-3);
    assert_int_equal(bm_ynode_double(doc, at(doc, "neg"), -20, 0, &v, &d), 0);
    assert_true(v == -17.0);

    v = 7;
    assert_int_equal(bm_ynode_double(doc, at(doc, "flt"), -1, 1, &v, &d),
                     -EINVAL);
    check_diag(&d, 17, 6, msg);
    assert_true(v == 7);
    assert_int_equal(bm_ynode_double(doc, at(doc, "nan"), -1, 1, &v, &d),
                     -EINVAL);
    check_diag(&d, 20, 6, msg);
    assert_int_equal(
        bm_ynode_double(doc, at(doc, "inf"), -1e300, 1e300, &v, &d), -EINVAL);
    check_diag(&d, 21, 6, "expected a number from -1e+300 to 1e+300");
    assert_int_equal(bm_ynode_double(doc, at(doc, "hex"), -100, 100, &v, &d),
                     -EINVAL);
    assert_int_equal(bm_ynode_double(doc, at(doc, "sign"), -1, 1, &v, &d),
                     -EINVAL);
    check_diag(&d, 18, 7, msg);
    assert_int_equal(bm_ynode_double(doc, at(doc, "sp"), -1, 1, &v, &d),
                     -EINVAL);
    check_diag(&d, 22, 5, msg);
    assert_int_equal(bm_ynode_double(doc, at(doc, "s"), -1, 1, &v, &d),
                     -EINVAL);
    check_diag(&d, 24, 4, msg);
    assert_int_equal(bm_ynode_double(doc, at(doc, "seq"), -1, 1, &v, &d),
                     -EINVAL);
    check_diag(&d, 7, 6, msg);
    assert_true(v == 7);
    bm_ydoc_free(doc);
}

static void test_duration(void **state)
{
    static const struct {
        const char *text;
        uint64_t ms;
    } ok[] = {
        { "500ms", 500 },    { "30s", 30000 },    { "10m", 600000 },
        { "6h", 21600000 },  { "1d", 86400000 },  { "45", 45000 },
        { "1.5h", 5400000 }, { "0.25s", 250 },    { "0.5", 500 },
        { "1ms", 1 },        { "1.9ms", 1 },      { "'2m'", 120000 },
        { "0.001", 1 },      { "7d", 604800000 },
    };
    static const char *const bad[] = {
        "10x", "s",   "-5s", "+5s", "5 s",  "1.s",  ".5s",  "5sec",
        "5S",  "1e3", "abc", "''",  "0x10", "5ms5", "1..2",
    };
    static const char msg[] = "expected a duration like 30s, 10m, 6h or 1d";
    char text[64];
    struct bm_diag d;
    struct bm_ydoc *doc;
    uint64_t ms;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(text, sizeof(text), "v: %s\n", ok[i].text);
        doc = parse(text, &d);
        assert_non_null(doc);
        ms = 0;
        assert_int_equal(bm_ynode_duration(doc, at(doc, "v"), &ms, &d), 0);
        assert_int_equal(ms, ok[i].ms);
        bm_ydoc_free(doc);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "x: 1\nv: %s\n", bad[i]);
        doc = parse(text, &d);
        assert_non_null(doc);
        ms = 77;
        assert_int_equal(bm_ynode_duration(doc, at(doc, "v"), &ms, &d),
                         -EINVAL);
        check_diag(&d, 2, 4, msg);
        assert_int_equal(ms, 77);
        bm_ydoc_free(doc);
    }

    doc =
        parse("z: 0s\nsub: 0.0001s\nseq: [1s]\nhuge: 99999999999999999d\n", &d);
    assert_non_null(doc);
    assert_int_equal(bm_ynode_duration(doc, at(doc, "z"), &ms, &d), -EINVAL);
    check_diag(&d, 1, 4, "a duration must be at least 1ms");
    assert_int_equal(bm_ynode_duration(doc, at(doc, "sub"), &ms, &d), -EINVAL);
    check_diag(&d, 2, 6, "a duration must be at least 1ms");
    assert_int_equal(bm_ynode_duration(doc, at(doc, "seq"), &ms, &d), -EINVAL);
    check_diag(&d, 3, 6, msg);
    assert_int_equal(bm_ynode_duration(doc, at(doc, "huge"), &ms, &d), -EINVAL);
    check_diag(&d, 4, 7, "duration is too long");
    bm_ydoc_free(doc);
}

static void test_string(void **state)
{
    struct bm_ydoc *doc = conv_doc();
    struct bm_diag d;
    const char *s = NULL;

    (void)state;
    assert_int_equal(bm_ynode_string(doc, at(doc, "s"), &s, &d), 0);
    assert_string_equal(s, "hello");
    /* Any scalar is a string, whatever it looks like. */
    assert_int_equal(bm_ynode_string(doc, at(doc, "i"), &s, &d), 0);
    assert_string_equal(s, "42");
    assert_int_equal(bm_ynode_string(doc, at(doc, "empty"), &s, &d), 0);
    assert_string_equal(s, "");

    assert_int_equal(bm_ynode_string(doc, at(doc, "seq"), &s, &d), -EINVAL);
    check_diag(&d, 7, 6, "expected a string");
    assert_int_equal(bm_ynode_string(doc, at(doc, "map"), &s, &d), -EINVAL);
    check_diag(&d, 8, 6, "expected a string");
    assert_string_equal(s, "");
    bm_ydoc_free(doc);
}

static void test_error_helper(void **state)
{
    struct bm_ydoc *doc = conv_doc();
    struct bm_diag d;
    char out[BM_DIAG_FILE_MAX + BM_DIAG_MSG_MAX + 32];

    (void)state;
    assert_int_equal(
        bm_ynode_error(doc, at(doc, "s"), &d, "bad %s #%d", "thing", 3),
        -EINVAL);
    check_diag(&d, 24, 4, "bad thing #3");
    bm_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "t.yaml:24:4: bad thing #3");
    /* No node: the whole file. */
    assert_int_equal(bm_ynode_error(doc, NULL, &d, "missing"), -EINVAL);
    assert_int_equal(d.line, 0);
    assert_int_equal(d.col, 0);
    bm_ydoc_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_document),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_columns_count_characters),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_quoted_flag),
        cmocka_unit_test(test_block_scalars),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_anchors_and_aliases),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_non_scalar_keys),
        cmocka_unit_test(test_multiple_documents),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_node_limit),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_cannot_open),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_double),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_error_helper),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
