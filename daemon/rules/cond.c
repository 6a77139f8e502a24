/*
 * cond.c - rule conditions: parsed from a `when:` tree, evaluated per post.
 *
 * A condition mapping holds combinators (all, any, none: lists of condition
 * mappings) and leaves; several keys in one mapping are all required. The
 * parser checks each leaf's shape and values and refers to brands, intents
 * and lists by index, so evaluation does no lookups by name. Evaluation
 * short-circuits, and records the terms and patterns of the leaves that made
 * the rule true (a subtree that turns out false takes its terms back).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "brandmon/json.h"
#include "brandmon/yaml.h"

#include "rules/engine_int.h"
#include "rules/loader_int.h"

#define COND_MAX_DEPTH 32

static const char *const cond_names[] = {
    "all",       "any",        "none",      "terms", "statement", "regex",
    "sentiment", "intent",     "followers", "lang",  "source",    "reply",
    "repost",    "competitor", "field",     NULL,
};
static const char *const terms_keys[] = { "any", "at_least", NULL };
static const char *const statement_keys[] = { "at_least", NULL };
static const char *const range_keys[] = { "below", "above", NULL };
static const char *const followers_keys[] = { "at_least", "below", NULL };
static const char *const field_keys[] = {
    "path", "equals", "in", "matches", "at_least", NULL,
};

void cond_release(struct cond *c)
{
    for (uint32_t i = 0; i < c->nkids; i++)
        cond_release(&c->kids[i]);
    free(c->kids);
    termset_release(&c->terms);
    pcre2_code_free(c->re);
    free(c->pattern);
    for (uint32_t i = 0; i < c->nstrs; i++)
        free(c->strs[i]);
    free(c->strs);
    free(c->path);
    json_decref(c->value);
    memset(c, 0, sizeof(*c));
}

static int unknown_cond(struct loader *ld, const struct bm_ydoc *doc,
                        const struct bm_ynode *key)
{
    const char *near = bm_diag_suggest(key->str, cond_names);

    if (near)
        return bm_ynode_error(doc, key, ld->diag,
                              "unknown condition '%s' (did you mean '%s'?)",
                              key->str, near);
    return bm_ynode_error(doc, key, ld->diag, "unknown condition '%s'",
                          key->str);
}

static int parse_terms(struct loader *ld, const struct bm_ydoc *doc,
                       const struct bm_ynode *v, struct cond *c)
{
    const struct bm_ynode *list = v, *n;
    int64_t at_least = 1;

    if (v->type == BM_YNODE_MAP) {
        if (bm_ynode_check_keys(doc, v, "terms", terms_keys, ld->diag))
            return -EINVAL;
        list = bm_ynode_get(v, "any");
        if (!list)
            return bm_ynode_error(doc, v, ld->diag,
                                  "terms needs 'any: [terms]'");
        n = bm_ynode_get(v, "at_least");
        if (n && bm_ynode_int(doc, n, 1, 1000000, &at_least, ld->diag))
            return -EINVAL;
    }
    if (loader_termlist(ld, doc, list, &c->terms))
        return -EINVAL;
    if ((uint64_t)at_least > c->terms.n)
        return bm_ynode_error(doc, v, ld->diag,
                              "at_least is %lld but the list has only %u "
                              "distinct terms",
                              (long long)at_least, c->terms.n);
    c->at_least = (uint32_t)at_least;
    return 0;
}

static int parse_range(struct loader *ld, const struct bm_ydoc *doc,
                       const struct bm_ynode *v, const char *const *keys,
                       const char *what, double min, double max, struct cond *c)
{
    const struct bm_ynode *lo, *hi;

    if (bm_ynode_check_keys(doc, v, what, keys, ld->diag))
        return -EINVAL;
    hi = bm_ynode_get(v, "below");
    lo = bm_ynode_get(v, keys[0][0] == 'a' ? "at_least" : "above");
    if (!hi && !lo)
        return bm_ynode_error(doc, v, ld->diag, "%s needs '%s' or '%s'", what,
                              keys[0], keys[1]);
    if (hi) {
        if (bm_ynode_double(doc, hi, min, max, &c->below, ld->diag))
            return -EINVAL;
        c->has_below = true;
    }
    if (lo) {
        if (bm_ynode_double(doc, lo, min, max, &c->above, ld->diag))
            return -EINVAL;
        c->has_above = true;
    }
    if (hi && lo && c->above >= c->below && keys != followers_keys)
        return bm_ynode_error(doc, v, ld->diag,
                              "%s: 'above' must be less than 'below'", what);
    if (hi && lo && c->above >= c->below)
        return bm_ynode_error(doc, v, ld->diag,
                              "%s: 'at_least' must be less than 'below'", what);
    return 0;
}

static int parse_intent(struct loader *ld, const struct bm_ydoc *doc,
                        const struct bm_ynode *v, struct cond *c)
{
    char **names;
    uint32_t n;
    int err = 0;

    if (loader_strings(ld, doc, v, &names, &n))
        return -EINVAL;
    for (uint32_t i = 0; i < n && !err; i++) {
        int at = bm_ruleset_intent(ld->rs, names[i]);

        if (at < 0) {
            const char *all[BM_MAX_INTENTS + 1] = { 0 };
            const char *near;

            for (size_t k = 0; k < ld->rs->nintents; k++)
                all[k] = ld->rs->intents[k].name;
            near = bm_diag_suggest(names[i], all);
            if (near)
                err = bm_ynode_error(doc, v, ld->diag,
                                     "unknown intent '%s' (did you mean "
                                     "'%s'?)",
                                     names[i], near);
            else
                err = bm_ynode_error(doc, v, ld->diag, "unknown intent '%s'",
                                     names[i]);
        } else {
            c->intents |= (uint64_t)1 << at;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return err;
}

static int parse_field(struct loader *ld, const struct bm_ydoc *doc,
                       const struct bm_ynode *v, struct cond *c)
{
    const struct bm_ynode *p, *op = NULL;
    const char *s;
    int nops = 0;

    if (bm_ynode_check_keys(doc, v, "field", field_keys, ld->diag))
        return -EINVAL;
    p = bm_ynode_get(v, "path");
    if (!p)
        return bm_ynode_error(doc, v, ld->diag,
                              "field needs 'path: /json/pointer'");
    if (bm_ynode_string(doc, p, &s, ld->diag))
        return -EINVAL;
    if (!bm_json_pointer_is_valid(s) || !*s)
        return bm_ynode_error(doc, p, ld->diag,
                              "'%s' is not a JSON pointer (it starts with "
                              "/)",
                              s);
    if (!(c->path = strdup(s)))
        return bm_ynode_error(doc, p, ld->diag, "out of memory");
    for (int i = 1; field_keys[i]; i++) {
        const struct bm_ynode *o = bm_ynode_get(v, field_keys[i]);

        if (o) {
            op = o;
            c->op = (enum field_op)(i - 1);
            nops++;
        }
    }
    if (nops != 1)
        return bm_ynode_error(doc, v, ld->diag,
                              "field needs exactly one of equals, in, "
                              "matches, at_least");
    switch (c->op) {
    case FIELD_EQUALS:
        c->value = loader_node_json(op);
        break;
    case FIELD_IN:
        if (op->type != BM_YNODE_SEQ || op->n == 0)
            return bm_ynode_error(doc, op, ld->diag,
                                  "'in' must be a list of values");
        c->value = loader_node_json(op);
        break;
    case FIELD_MATCHES:
        if (bm_ynode_string(doc, op, &s, ld->diag))
            return -EINVAL;
        if (!(c->pattern = strdup(s)))
            return bm_ynode_error(doc, op, ld->diag, "out of memory");
        c->re = loader_regex(ld, doc, op, s);
        return c->re ? 0 : -EINVAL;
    case FIELD_AT_LEAST:
        return bm_ynode_double(doc, op, -1e300, 1e300, &c->number, ld->diag);
    }
    return c->value ? 0 : bm_ynode_error(doc, op, ld->diag, "out of memory");
}

static int needs_brand(struct loader *ld, const struct bm_ydoc *doc,
                       const struct bm_ynode *key, const struct rule *rule)
{
    if (rule->brand >= 0)
        return 0;
    return bm_ynode_error(doc, key, ld->diag,
                          "'%s' needs the rule to have a 'brand'", key->str);
}

static int parse_kids(struct loader *ld, const struct bm_ydoc *doc,
                      const struct bm_ynode *key, const struct bm_ynode *v,
                      const struct rule *rule, struct cond *c, unsigned depth)
{
    if (v->type != BM_YNODE_SEQ || v->n == 0)
        return bm_ynode_error(doc, v, ld->diag,
                              "'%s' must be a non-empty list of conditions",
                              key->str);
    c->kids = calloc(v->n, sizeof(*c->kids));
    if (!c->kids)
        return bm_ynode_error(doc, v, ld->diag, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        c->nkids++;
        if (cond_parse(ld, doc, v->items[i], rule, &c->kids[i], depth + 1))
            return -EINVAL;
    }
    return 0;
}

/* One key of a condition mapping. */
static int parse_one(struct loader *ld, const struct bm_ydoc *doc,
                     const struct bm_ynode *key, const struct bm_ynode *v,
                     const struct rule *rule, struct cond *c, unsigned depth)
{
    const struct brand *b =
        rule->brand >= 0 ? &ld->rs->brands[rule->brand] : NULL;
    const char *s;
    int type = -1;
    int64_t n;

    for (int i = 0; cond_names[i]; i++)
        if (strcmp(cond_names[i], key->str) == 0)
            type = i;
    if (type < 0)
        return unknown_cond(ld, doc, key);
    c->type = (enum cond_type)type;
    switch (c->type) {
    case COND_ALL:
    case COND_ANY:
    case COND_NONE:
        return parse_kids(ld, doc, key, v, rule, c, depth);
    case COND_TERMS:
        return parse_terms(ld, doc, v, c);
    case COND_STATEMENT:
        if (needs_brand(ld, doc, key, rule) ||
            bm_ynode_check_keys(doc, v, "statement", statement_keys, ld->diag))
            return -EINVAL;
        if (b->statement.n == 0)
            return bm_ynode_error(doc, key, ld->diag,
                                  "brand '%s' has no 'statement' words", b->id);
        c->at_least = 1;
        if (bm_ynode_get(v, "at_least")) {
            if (bm_ynode_int(doc, bm_ynode_get(v, "at_least"), 1,
                             b->statement.n, &n, ld->diag))
                return -EINVAL;
            c->at_least = (uint32_t)n;
        }
        return 0;
    case COND_REGEX:
        if (bm_ynode_string(doc, v, &s, ld->diag))
            return -EINVAL;
        if (!(c->pattern = strdup(s)))
            return bm_ynode_error(doc, v, ld->diag, "out of memory");
        c->re = loader_regex(ld, doc, v, s);
        if (!c->re)
            return -EINVAL;
        ld->rs->nregex++;
        return 0;
    case COND_SENTIMENT:
        return parse_range(ld, doc, v, range_keys, "sentiment", -1.0, 1.0, c);
    case COND_INTENT:
        return parse_intent(ld, doc, v, c);
    case COND_FOLLOWERS:
        return parse_range(ld, doc, v, followers_keys, "followers", 0, 1e12, c);
    case COND_LANG:
    case COND_SOURCE:
        return loader_strings(ld, doc, v, &c->strs, &c->nstrs);
    case COND_REPLY:
    case COND_REPOST:
        return bm_ynode_bool(doc, v, &c->flag, ld->diag);
    case COND_COMPETITOR:
        if (needs_brand(ld, doc, key, rule) ||
            bm_ynode_bool(doc, v, &c->flag, ld->diag))
            return -EINVAL;
        if (b->ncompetitors == 0)
            return bm_ynode_error(doc, key, ld->diag,
                                  "brand '%s' lists no 'competitors'", b->id);
        return 0;
    case COND_FIELD:
        return parse_field(ld, doc, v, c);
    }
    return unknown_cond(ld, doc, key);
}

int cond_parse(struct loader *ld, const struct bm_ydoc *doc,
               const struct bm_ynode *n, const struct rule *rule,
               struct cond *out, unsigned depth)
{
    memset(out, 0, sizeof(*out));
    if (depth > COND_MAX_DEPTH)
        return bm_ynode_error(doc, n, ld->diag,
                              "conditions nest deeper than %d levels",
                              COND_MAX_DEPTH);
    if (n->type != BM_YNODE_MAP || n->n == 0)
        return bm_ynode_error(doc, n, ld->diag,
                              "expected a condition (a mapping such as "
                              "'terms: [...]' or 'all: [...]')");
    if (n->n == 1)
        return parse_one(ld, doc, n->pairs[0].key, n->pairs[0].value, rule, out,
                         depth);
    /* Several keys in one mapping: all of them must hold. */
    out->type = COND_ALL;
    out->kids = calloc(n->n, sizeof(*out->kids));
    if (!out->kids)
        return bm_ynode_error(doc, n, ld->diag, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        out->nkids++;
        if (parse_one(ld, doc, n->pairs[i].key, n->pairs[i].value, rule,
                      &out->kids[i], depth + 1))
            return -EINVAL;
    }
    return 0;
}

/* ---- evaluation ---- */

void ctx_fire(struct evalctx *c, const char *what)
{
    for (size_t i = 0; i < c->nfired; i++)
        if (c->fired[i] == what)
            return;
    if (c->nfired == c->firedcap)
        return;
    c->fired[c->nfired++] = what;
}

bool ctx_regex(struct evalctx *c, const pcre2_code *re, const char *s,
               size_t len)
{
    int rc = pcre2_jit_match(re, (PCRE2_SPTR)s, len, 0, 0, c->md, c->mctx);

    /* Where JIT was unavailable for this pattern, the interpreter runs. */
    if (rc == PCRE2_ERROR_JIT_BADOPTION)
        rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, c->md,
                         c->mctx);

    /* Errors (match limit reached) count as no match. */
    return rc >= 0;
}

/* Counts the distinct terms of @set found in the post; the first
 * FIRED_SHOWN of them are reported as what fired. */
#define FIRED_SHOWN 64

static bool eval_terms(const struct termset *set, uint32_t at_least,
                       struct evalctx *c)
{
    const char *fired[FIRED_SHOWN];
    uint32_t found = 0;

    if (set->n <= c->ndistinct * 4) {
        for (uint32_t i = 0; i < set->n; i++)
            if (c->seen[set->ids[i]] == c->gen) {
                if (found < FIRED_SHOWN)
                    fired[found] = bm_matcher_term(c->rs->matcher, set->ids[i]);
                found++;
            }
    } else {
        for (size_t i = 0; i < c->ndistinct; i++)
            if (termset_has(set, c->distinct[i])) {
                if (found < FIRED_SHOWN)
                    fired[found] =
                        bm_matcher_term(c->rs->matcher, c->distinct[i]);
                found++;
            }
    }
    if (found < at_least)
        return false;
    for (uint32_t i = 0; i < found && i < FIRED_SHOWN; i++)
        ctx_fire(c, fired[i]);
    return true;
}

static bool lang_matches(const char *want, const char *have)
{
    size_t n = strlen(want);

    return strncasecmp(want, have, n) == 0 &&
           (have[n] == '\0' || have[n] == '-' || have[n] == '_');
}

static bool json_same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b);
}

static bool eval_field(const struct cond *cd, struct evalctx *c)
{
    const json_t *v =
        c->post->raw ? bm_json_pointer(c->post->raw, cd->path) : NULL;
    size_t i;
    json_t *it;

    if (!v)
        return false;
    switch (cd->op) {
    case FIELD_EQUALS:
        return json_same(v, cd->value);
    case FIELD_IN:
        json_array_foreach(cd->value, i, it)
        {
            if (json_same(v, it))
                return true;
        }
        return false;
    case FIELD_MATCHES:
        if (!json_is_string(v))
            return false;
        if (!ctx_regex(c, cd->re, json_string_value(v), json_string_length(v)))
            return false;
        ctx_fire(c, cd->pattern);
        return true;
    case FIELD_AT_LEAST:
        return json_is_number(v) && json_number_value(v) >= cd->number;
    }
    return false;
}

static bool eval_leaf(const struct cond *cd, struct evalctx *c)
{
    const struct bm_post *p = c->post;
    const struct brand *b =
        c->rule->brand >= 0 ? &c->rs->brands[c->rule->brand] : NULL;
    double score;

    switch (cd->type) {
    case COND_TERMS:
        return eval_terms(&cd->terms, cd->at_least, c);
    case COND_STATEMENT:
        return eval_terms(&b->statement, cd->at_least, c);
    case COND_REGEX:
        if (!ctx_regex(c, cd->re, c->text->norm.data ? c->text->norm.data : "",
                       c->text->norm.len))
            return false;
        ctx_fire(c, cd->pattern);
        return true;
    case COND_SENTIMENT:
        score = b ? c->brand_score[c->rule->brand] : c->post_score;
        return (!cd->has_below || score < cd->below) &&
               (!cd->has_above || score > cd->above);
    case COND_INTENT:
        for (size_t i = 0; i < c->rs->nintents; i++)
            if ((cd->intents & c->intents) >> i & 1) {
                ctx_fire(c, c->intent_why[i]);
                return true;
            }
        return false;
    case COND_FOLLOWERS:
        if (p->followers < 0)
            return false;
        return (!cd->has_below || (double)p->followers < cd->below) &&
               (!cd->has_above || (double)p->followers >= cd->above);
    case COND_LANG:
        for (uint32_t i = 0; p->lang && i < cd->nstrs; i++)
            if (lang_matches(cd->strs[i], p->lang))
                return true;
        return false;
    case COND_SOURCE:
        for (uint32_t i = 0; p->source && i < cd->nstrs; i++)
            if (strcmp(cd->strs[i], p->source) == 0)
                return true;
        return false;
    case COND_REPLY:
        return p->reply == cd->flag;
    case COND_REPOST:
        return p->repost == cd->flag;
    case COND_COMPETITOR: {
        bool any = false;

        for (uint32_t i = 0; i < b->ncompetitors && !any; i++)
            any = ctx_mentions(c, b->competitors[i]);
        return any == cd->flag;
    }
    case COND_FIELD:
        return eval_field(cd, c);
    case COND_ALL:
    case COND_ANY:
    case COND_NONE:
        break;
    }
    return false;
}

bool cond_eval(const struct cond *cd, struct evalctx *c)
{
    size_t mark = c->nfired;
    bool ok;

    switch (cd->type) {
    case COND_ALL:
        ok = true;
        for (uint32_t i = 0; i < cd->nkids && ok; i++)
            ok = cond_eval(&cd->kids[i], c);
        break;
    case COND_ANY:
        ok = false;
        for (uint32_t i = 0; i < cd->nkids && !ok; i++)
            ok = cond_eval(&cd->kids[i], c);
        break;
    case COND_NONE:
        ok = true;
        for (uint32_t i = 0; i < cd->nkids && ok; i++)
            ok = !cond_eval(&cd->kids[i], c);
        c->nfired = mark; /* what a `none` looked at did not fire */
        break;
    default:
        ok = eval_leaf(cd, c);
        break;
    }
    if (!ok)
        c->nfired = mark;
    return ok;
}
