/*
 * fuzz_yaml.c - libFuzzer target: the YAML tree builder (yaml.h) on any
 * bytes, then every scalar conversion on every node.
 *
 * A document that parses must be a tree that keeps the promises of yaml.h:
 * positions from 1, nesting no deeper than BM_YAML_MAX_DEPTH, no more than
 * BM_YAML_MAX_NODES nodes, scalars NUL-terminated at their length, mapping
 * keys scalars and unique. A document that does not parse must leave a
 * message in the diag. The conversions (string, bool, int, double,
 * duration, key check) must either succeed or fail with a positioned diag.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "brandmon/diag.h"
#include "brandmon/yaml.h"

#include "fuzz_util.h"

static const char *const some_keys[] = { "version", "pack", "rules", "brands",
                                         "terms",   "when", NULL };

static void check_diag(const struct bm_diag *d)
{
    char line[BM_DIAG_FILE_MAX + BM_DIAG_MSG_MAX + 64];

    FUZZ_CHECK(memchr(d->msg, '\0', sizeof(d->msg)) != NULL);
    FUZZ_CHECK(d->msg[0] != '\0');
    bm_diag_format(d, line, sizeof(line));
    FUZZ_CHECK(memchr(line, '\0', sizeof(line)) != NULL);
}

/* A failed conversion says why and where. */
static void check_conversion(int rc, const struct bm_diag *d,
                             const struct bm_ynode *n)
{
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0)
        return;
    check_diag(d);
    FUZZ_CHECK(d->line == n->line && d->col == n->col);
}

static void convert(const struct bm_ydoc *doc, const struct bm_ynode *n)
{
    struct bm_diag d;
    const char *s;
    int64_t i;
    double x;
    uint64_t ms;
    bool b;
    int rc;

    memset(&d, 0, sizeof(d));
    rc = bm_ynode_string(doc, n, &s, &d);
    check_conversion(rc, &d, n);
    if (rc == 0)
        FUZZ_CHECK(s != NULL);
    memset(&d, 0, sizeof(d));
    check_conversion(bm_ynode_bool(doc, n, &b, &d), &d, n);
    memset(&d, 0, sizeof(d));
    rc = bm_ynode_int(doc, n, -1000, 1000000, &i, &d);
    check_conversion(rc, &d, n);
    if (rc == 0)
        FUZZ_CHECK(i >= -1000 && i <= 1000000);
    memset(&d, 0, sizeof(d));
    rc = bm_ynode_double(doc, n, -4.0, 4.0, &x, &d);
    check_conversion(rc, &d, n);
    if (rc == 0)
        FUZZ_CHECK(x >= -4.0 && x <= 4.0);
    memset(&d, 0, sizeof(d));
    rc = bm_ynode_duration(doc, n, &ms, &d);
    check_conversion(rc, &d, n);
    if (rc == 0)
        FUZZ_CHECK(ms >= 1);
}

/* Walks the tree; returns the number of nodes. */
static size_t walk(const struct bm_ydoc *doc, const struct bm_ynode *n,
                   unsigned depth)
{
    struct bm_diag d;
    size_t count = 1;

    FUZZ_CHECK(n != NULL);
    /* @depth counts the collections open, this one included. */
    FUZZ_CHECK(n->type == BM_YNODE_SCALAR || depth <= BM_YAML_MAX_DEPTH);
    FUZZ_CHECK(n->line >= 1 && n->col >= 1);
    convert(doc, n);
    switch (n->type) {
    case BM_YNODE_SCALAR:
        FUZZ_CHECK(n->str != NULL);
        FUZZ_CHECK(n->str[n->len] == '\0');
        return count;
    case BM_YNODE_SEQ:
        FUZZ_CHECK(n->n == 0 || n->items != NULL);
        for (size_t i = 0; i < n->n; i++)
            count += walk(doc, n->items[i], depth + 1);
        return count;
    case BM_YNODE_MAP:
        FUZZ_CHECK(n->n == 0 || n->pairs != NULL);
        for (size_t i = 0; i < n->n; i++) {
            const struct bm_ynode *k = n->pairs[i].key;

            FUZZ_CHECK(k != NULL && k->type == BM_YNODE_SCALAR);
            FUZZ_CHECK(k->str[k->len] == '\0');
            /* Duplicate keys were refused. */
            for (size_t j = 0; j < i; j++) {
                const struct bm_ynode *o = n->pairs[j].key;

                FUZZ_CHECK(o->len != k->len ||
                           memcmp(o->str, k->str, k->len) != 0);
            }
            if (memchr(k->str, '\0', k->len) == NULL)
                FUZZ_CHECK(bm_ynode_get(n, k->str) != NULL);
            count += 1 + walk(doc, n->pairs[i].value, depth + 1);
        }
        memset(&d, 0, sizeof(d));
        if (bm_ynode_check_keys(doc, n, "fuzz", some_keys, &d) != 0)
            check_diag(&d);
        return count;
    }
    FUZZ_CHECK(!"unknown node type");
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bm_diag d;
    struct bm_ydoc *doc;

    memset(&d, 0, sizeof(d));
    doc = bm_ydoc_parse("fuzz.yaml", (const char *)data, size, &d);
    if (!doc) {
        check_diag(&d);
        FUZZ_CHECK(strcmp(d.file, "fuzz.yaml") == 0);
        return 0;
    }
    FUZZ_CHECK(doc->file != NULL && strcmp(doc->file, "fuzz.yaml") == 0);
    if (doc->root)
        FUZZ_CHECK(walk(doc, doc->root, 1) <= BM_YAML_MAX_NODES);
    bm_ydoc_free(doc);
    return 0;
}
