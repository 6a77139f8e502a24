/*
 * yaml.h - a YAML document as a small tree with positions, for loaders.
 *
 * libyaml's event parser is turned into a tree of scalars, sequences and
 * mappings, each node carrying the 1-based line and column where it starts,
 * so that the rule-pack and config loaders can say `file:line:col: what`.
 *
 * What it refuses, with a diag: syntax errors, aliases and anchors (a rule
 * pack has no use for them and they are the "billion laughs" attack), a
 * duplicate key in a mapping, a non-scalar mapping key, more than one
 * document, nesting deeper than BM_YAML_MAX_DEPTH, more than
 * BM_YAML_MAX_NODES nodes, and a file larger than BM_YAML_MAX_BYTES.
 *
 * All nodes and strings belong to the document and live until
 * bm_ydoc_free(). Nothing here keeps global state.
 */
#ifndef BRANDMON_YAML_H
#define BRANDMON_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "brandmon/diag.h"

#define BM_YAML_MAX_BYTES (16u * 1024 * 1024)
#define BM_YAML_MAX_DEPTH 64
#define BM_YAML_MAX_NODES 2000000u

enum bm_ynode_type {
    BM_YNODE_SCALAR,
    BM_YNODE_SEQ,
    BM_YNODE_MAP,
};

struct bm_ynode;

struct bm_ypair {
    struct bm_ynode *key;   /* borrowed: document; always a scalar */
    struct bm_ynode *value; /* borrowed: document */
};

struct bm_ynode {
    enum bm_ynode_type type;
    unsigned line; /* 1-based position of the node's first character */
    unsigned col;
    /* scalars: the value, NUL-terminated (may contain NULs: see len) */
    const char *str; /* borrowed: document */
    size_t len;
    bool quoted; /* scalar was written '...' or "..." or as a block */
    struct bm_ynode **items; /* seq: the items; borrowed: document */
    struct bm_ypair *pairs;  /* map: pairs in document order; borrowed */
    size_t n;                /* number of items or pairs */
};

struct bm_ydoc {
    char *file;            /* owned: the name used in diags */
    struct bm_ynode *root; /* NULL for an empty document */
    void *arena;           /* owned: every node and string */
};

/* Reads and parses @path. Returns NULL and fills @diag on any error (I/O
 * included: `path: cannot open: reason`). Caller frees with bm_ydoc_free(). */
struct bm_ydoc *bm_ydoc_load(const char *path, struct bm_diag *diag);
/* The same from memory; @name is used in diags. */
struct bm_ydoc *bm_ydoc_parse(const char *name, const char *data, size_t len,
                              struct bm_diag *diag);
void bm_ydoc_free(struct bm_ydoc *doc);

/* The value for @key in a mapping, or NULL (also when @map is not a map). */
const struct bm_ynode *bm_ynode_get(const struct bm_ynode *map,
                                    const char *key);

/*
 * Checks that every key of @map is in @allowed (NULL-terminated). On the
 * first unknown key fills @diag at the key's position with
 * "unknown key 'K' in WHAT (did you mean 'X'?)" and returns -EINVAL.
 * Also fails when @map is not a mapping ("WHAT must be a mapping").
 */
int bm_ynode_check_keys(const struct bm_ydoc *doc, const struct bm_ynode *map,
                        const char *what, const char *const *allowed,
                        struct bm_diag *diag);

/*
 * Scalar conversions. Each returns 0, or -EINVAL with @diag set at the node
 * ("expected a number", ...). Plain-scalar rules follow YAML 1.2 core:
 * booleans are true/false (any case), yes/no are not booleans.
 */
int bm_ynode_string(const struct bm_ydoc *doc, const struct bm_ynode *n,
                    const char **out, struct bm_diag *diag);
int bm_ynode_bool(const struct bm_ydoc *doc, const struct bm_ynode *n,
                  bool *out, struct bm_diag *diag);
int bm_ynode_int(const struct bm_ydoc *doc, const struct bm_ynode *n,
                 int64_t min, int64_t max, int64_t *out, struct bm_diag *diag);
int bm_ynode_double(const struct bm_ydoc *doc, const struct bm_ynode *n,
                    double min, double max, double *out, struct bm_diag *diag);
/* A duration like 500ms, 30s, 10m, 6h, 1d (a bare number is seconds), in
 * milliseconds, at least 1 ms. */
int bm_ynode_duration(const struct bm_ydoc *doc, const struct bm_ynode *n,
                      uint64_t *out_ms, struct bm_diag *diag);

/* Fills @diag at @n's position; returns -EINVAL. */
int bm_ynode_error(const struct bm_ydoc *doc, const struct bm_ynode *n,
                   struct bm_diag *diag, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
