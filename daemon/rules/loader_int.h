/*
 * loader_int.h - state shared by the rule-set loader's files while one load
 * runs (pack.c drives it; cond.c parses conditions, sentiment.c the
 * lexicon). Nothing here outlives bm_ruleset_load().
 */
#ifndef BRANDMON_LOADER_INT_H
#define BRANDMON_LOADER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "brandmon/diag.h"
#include "brandmon/yaml.h"

#include "rules/rules_int.h"

/* A `lists:` entry, resolved on first use. */
struct listdef {
    const char *name; /* borrowed: its document */
    const struct bm_ydoc *doc;
    const struct bm_ynode *node;
    struct termset set; /* owned once resolved */
    int state;          /* 0 unresolved, 1 resolving, 2 resolved */
};

struct loader {
    struct bm_ruleset *rs; /* the set being built */
    struct bm_diag *diag;
    struct listdef *lists; /* owned */
    size_t nlists;
    size_t listcap;
    pcre2_compile_context *cctx; /* owned */
};

/* Adds one term to the matcher and sizes the term infos to match. Returns
 * the term id, or -EINVAL with the diag set at @n. */
int loader_add_term(struct loader *ld, const struct bm_ydoc *doc,
                    const struct bm_ynode *n, const char *term, size_t len);

/* A term list: a "$name" scalar, or a sequence of terms and "$name"s. */
int loader_termlist(struct loader *ld, const struct bm_ydoc *doc,
                    const struct bm_ynode *n, struct termset *out);

/* Compiles @pattern (case-insensitive, UTF, JIT). NULL with the diag set at
 * @n when it does not compile. */
pcre2_code *loader_regex(struct loader *ld, const struct bm_ydoc *doc,
                         const struct bm_ynode *n, const char *pattern);

/* A string or a sequence of strings, copied. */
int loader_strings(struct loader *ld, const struct bm_ydoc *doc,
                   const struct bm_ynode *n, char ***out, uint32_t *nout);

/* cond.c: parses a `when:` mapping for @rule (whose brand is set). */
int cond_parse(struct loader *ld, const struct bm_ydoc *doc,
               const struct bm_ynode *n, const struct rule *rule,
               struct cond *out, unsigned depth);
void cond_release(struct cond *c);

/* A YAML node turned into JSON (plain scalars typed as YAML 1.2 core).
 * Caller owns the result; NULL on allocation failure. */
json_t *loader_node_json(const struct bm_ynode *n);

void termset_release(struct termset *s);

#endif
