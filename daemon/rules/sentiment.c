/*
 * sentiment.c - the lexicon loader and the scorer (see sentiment.h for the
 * method).
 *
 * The lexicon's terms go into the rule set's matcher, so scoring starts from
 * the hits of the one pass over the post: no second look-up per token. The
 * scorer works on token positions: it takes the longest lexicon term at
 * each position, cuts the post into clauses and sentences, sums each
 * clause's adjusted valences, then weights clauses for contrast, emphasis
 * and questions. Brand targeting only regroups the same clause sums.
 *
 * It does not know rules, brands' rules or Redis; engine.c calls it once per
 * post after matching.
 */
#include "brandmon/sentiment.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "brandmon/yaml.h"

#include "rules/engine_int.h"
#include "rules/loader_int.h"

/* Tokens a modifier reaches forward, and how its strength decays. */
#define MOD_REACH 3
static const double mod_decay[MOD_REACH + 1] = { 0, 1.0, 0.9, 0.8 };

#define NEGATION_SCALE  (-0.6) /* "not good": flipped and weaker */
#define CAPS_BOOST      1.3    /* "WORST" in a post that is not all caps */
#define EXCLAIM_STEP    0.08   /* per "!" in a sentence, at most four */
#define EXCLAIM_MAX     4
#define QUESTION_DAMP   0.5    /* positive words in a question */
#define BEFORE_CONTRAST 0.5    /* clauses before "but" */
#define AFTER_CONTRAST  1.5    /* the clause from "but" on */
#define NORMALISE_ALPHA 15.0   /* S / sqrt(S^2 + alpha) */
#define SHOUTING_SHARE  0.8    /* share of CAPS words that makes a post shout */
#define IRONY_SCALE     (-0.6) /* praise in a post with an irony marker */

static const char *const lexicon_keys[] = {
    "version",      "lexicon",   "description", "words",     "negations",
    "intensifiers", "dampeners", "contrast",    "emoticons", "emoji",
    "irony",        "intents",   NULL,
};

enum bm_tone bm_tone_of(double score)
{
    if (score < BM_TONE_NEGATIVE_BELOW)
        return BM_TONE_NEGATIVE;
    if (score > BM_TONE_POSITIVE_ABOVE)
        return BM_TONE_POSITIVE;
    return BM_TONE_NEUTRAL;
}

const char *bm_tone_name(enum bm_tone tone)
{
    static const char *const names[] = { "negative", "neutral", "positive" };

    return tone <= BM_TONE_POSITIVE ? names[tone] : "?";
}

int bm_tone_parse(const char *name, enum bm_tone *out)
{
    for (int t = BM_TONE_NEGATIVE; t <= BM_TONE_POSITIVE; t++)
        if (strcmp(bm_tone_name((enum bm_tone)t), name) == 0) {
            *out = (enum bm_tone)t;
            return 0;
        }
    return -EINVAL;
}

/* ---- loading ---- */

static int set_role(struct loader *ld, const struct bm_ydoc *doc,
                    const struct bm_ynode *at, const char *term,
                    enum lex_role role, double value)
{
    int id = loader_add_term(ld, doc, at, term, strlen(term));
    struct terminfo *ti;

    if (id < 0)
        return id;
    ti = &ld->rs->tinfo[id];
    if (ti->lex_role != LEX_NONE)
        return bm_ynode_error(doc, at, ld->diag,
                              "'%s' is already in the lexicon (or the same "
                              "once normalised)",
                              term);
    ti->lex_role = (uint8_t)role;
    ti->value = (float)value;
    return 0;
}

/* A mapping of term: number within [min, max]. */
static int load_valued(struct loader *ld, const struct bm_ydoc *doc,
                       const struct bm_ynode *sec, enum lex_role role,
                       double min, double max)
{
    if (sec->type != BM_YNODE_MAP)
        return bm_ynode_error(doc, sec, ld->diag,
                              "expected a mapping of term: number");
    for (size_t i = 0; i < sec->n; i++) {
        double v;

        if (bm_ynode_double(doc, sec->pairs[i].value, min, max, &v, ld->diag) ||
            set_role(ld, doc, sec->pairs[i].key, sec->pairs[i].key->str, role,
                     v))
            return -EINVAL;
    }
    return 0;
}

static int load_plain(struct loader *ld, const struct bm_ydoc *doc,
                      const struct bm_ynode *sec, enum lex_role role)
{
    if (sec->type != BM_YNODE_SEQ)
        return bm_ynode_error(doc, sec, ld->diag, "expected a list of terms");
    for (size_t i = 0; i < sec->n; i++) {
        const char *s;

        if (bm_ynode_string(doc, sec->items[i], &s, ld->diag) ||
            set_role(ld, doc, sec->items[i], s, role, 0))
            return -EINVAL;
    }
    return 0;
}

/* Irony markers may also have a valence ("🙄" is negative on its own). */
static int load_irony(struct loader *ld, const struct bm_ydoc *doc,
                      const struct bm_ynode *sec)
{
    if (sec->type != BM_YNODE_SEQ)
        return bm_ynode_error(doc, sec, ld->diag, "expected a list of terms");
    for (size_t i = 0; i < sec->n; i++) {
        const struct bm_ynode *it = sec->items[i];
        const char *s;
        int id;

        if (bm_ynode_string(doc, it, &s, ld->diag))
            return -EINVAL;
        id = loader_add_term(ld, doc, it, s, strlen(s));
        if (id < 0)
            return id;
        if (ld->rs->tinfo[id].irony)
            return bm_ynode_error(doc, it, ld->diag,
                                  "'%s' is already an irony marker", s);
        ld->rs->tinfo[id].irony = true;
    }
    return 0;
}

int lexicon_load(struct loader *ld, const struct bm_ydoc *doc)
{
    const struct bm_ynode *root = doc->root, *v;
    int64_t ver;

    if (!root || root->type != BM_YNODE_MAP)
        return bm_diag_set(ld->diag, doc->file, 1, 1,
                           "a sentiment lexicon must be a mapping with "
                           "'version: 1' and 'words'");
    if (bm_ynode_check_keys(doc, root, "sentiment lexicon", lexicon_keys,
                            ld->diag))
        return -EINVAL;
    v = bm_ynode_get(root, "version");
    if (!v || bm_ynode_int(doc, v, 1, 1, &ver, ld->diag))
        return bm_diag_set(ld->diag, doc->file, v ? v->line : 1, v ? v->col : 1,
                           "lexicon needs 'version: 1'");
    v = bm_ynode_get(root, "words");
    if (!v)
        return bm_diag_set(ld->diag, doc->file, 1, 1, "lexicon has no 'words'");
    if (load_valued(ld, doc, v, LEX_WORD, -4.0, 4.0))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "emoticons")) &&
        load_valued(ld, doc, v, LEX_WORD, -4.0, 4.0))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "emoji")) &&
        load_valued(ld, doc, v, LEX_WORD, -4.0, 4.0))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "intensifiers")) &&
        load_valued(ld, doc, v, LEX_INTENSIFIER, 0.0, 2.0))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "dampeners")) &&
        load_valued(ld, doc, v, LEX_DAMPENER, 0.0, 0.95))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "negations")) &&
        load_plain(ld, doc, v, LEX_NEGATION))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "contrast")) &&
        load_plain(ld, doc, v, LEX_CONTRAST))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "irony")) && load_irony(ld, doc, v))
        return -EINVAL;
    return 0;
}

int lexicon_intents(struct loader *ld, const struct bm_ydoc *doc)
{
    const struct bm_ynode *sec = bm_ynode_get(doc->root, "intents");

    if (!sec)
        return 0;
    if (sec->type != BM_YNODE_MAP)
        return bm_ynode_error(doc, sec, ld->diag,
                              "'intents' must map intent names to valences");
    for (size_t i = 0; i < sec->n; i++) {
        const struct bm_ynode *k = sec->pairs[i].key;
        int at = bm_ruleset_intent(ld->rs, k->str);
        double v;

        if (at < 0)
            return bm_ynode_error(doc, k, ld->diag,
                                  "intent '%s' is not defined", k->str);
        if (bm_ynode_double(doc, sec->pairs[i].value, -4.0, 4.0, &v, ld->diag))
            return -EINVAL;
        ld->rs->intent_valence[at] = (float)v;
    }
    return 0;
}

/* ---- scoring ---- */

void sent_scratch_release(struct sent_scratch *s)
{
    free(s->lex);
    free(s->span);
    free(s->clause);
    free(s->cpos);
    free(s->cneg);
    free(s->weight);
    free(s->csent);
    free(s->cexcl);
    free(s->cquest);
    free(s->cbrands);
    memset(s, 0, sizeof(*s));
}

static int reserve(struct sent_scratch *s, size_t ntok)
{
    size_t cap = s->tokcap ? s->tokcap : 256;
    void *p;

    if (ntok <= s->tokcap)
        return 0;
    while (cap < ntok)
        cap *= 2;
#define GROW(field)                                                            \
    do {                                                                       \
        p = realloc(s->field, cap * sizeof(*s->field));                        \
        if (!p)                                                                \
            return -ENOMEM;                                                    \
        s->field = p;                                                          \
    } while (0)
    GROW(lex);
    GROW(span);
    GROW(clause);
    s->tokcap = cap;
    /* A clause holds at least one token: as many clauses as tokens. */
    GROW(cpos);
    GROW(cneg);
    GROW(weight);
    GROW(csent);
    GROW(cexcl);
    GROW(cquest);
    GROW(cbrands);
    s->clausecap = cap;
#undef GROW
    return 0;
}

static bool tok_is(const struct bm_text *t, size_t i, char c)
{
    return t->tok[i].len == 1 && t->norm.data[t->tok[i].off] == c;
}

static bool ends_sentence(const struct bm_text *t, size_t i)
{
    const char *s = t->norm.data + t->tok[i].off;

    if (!(t->tok[i].flags & BM_TOK_PUNCT))
        return false;
    return tok_is(t, i, '.') || tok_is(t, i, '!') || tok_is(t, i, '?') ||
           (t->tok[i].len == 3 && memcmp(s, "\xe2\x80\xa6", 3) == 0);
}

static bool ends_clause(const struct bm_text *t, size_t i)
{
    return (t->tok[i].flags & BM_TOK_PUNCT) &&
           (tok_is(t, i, ',') || tok_is(t, i, ';') || tok_is(t, i, ':'));
}

/* Longest lexicon term at each token; tokens inside one are skipped. */
static void mark_lexicon(const struct evalctx *c, struct sent_scratch *s)
{
    const struct bm_hits *h = c->hits;

    memset(s->lex, 0, c->text->ntok * sizeof(*s->lex));
    memset(s->span, 0, c->text->ntok * sizeof(*s->span));
    for (size_t i = 0; i < h->n; i++) {
        const struct bm_hit *hit = &h->v[i];

        if (c->rs->tinfo[hit->term].lex_role == LEX_NONE &&
            !c->rs->tinfo[hit->term].irony)
            continue;
        if (hit->ntok > s->span[hit->tok]) {
            s->span[hit->tok] = (uint8_t)hit->ntok;
            s->lex[hit->tok] = hit->term + 1;
        }
    }
}

static bool is_shouting(const struct bm_text *t)
{
    size_t words = 0, caps = 0;

    for (size_t i = 0; i < t->ntok; i++) {
        if (!(t->tok[i].flags & BM_TOK_WORD) || t->tok[i].len < 2)
            continue;
        words++;
        caps += (t->tok[i].flags & BM_TOK_CAPS) != 0;
    }
    return words >= 2 && (double)caps >= SHOUTING_SHARE * (double)words;
}

/* The valence of the word at @i after the modifiers before it. */
static double adjusted(const struct evalctx *c, const struct sent_scratch *s,
                       size_t i, size_t clause_start, bool shouting)
{
    const struct bm_text *t = c->text;
    const struct terminfo *ti = &c->rs->tinfo[s->lex[i] - 1];
    double v = ti->value, scale = 1.0;
    bool negated = false;

    if (!(t->tok[i].flags & BM_TOK_WORD))
        return v; /* emoji and emoticons are not negated or intensified */
    for (size_t d = 1; d <= MOD_REACH && i >= clause_start + d; d++) {
        size_t j = i - d;
        const struct terminfo *m;

        if (!s->lex[j])
            continue;
        m = &c->rs->tinfo[s->lex[j] - 1];
        if (m->lex_role == LEX_INTENSIFIER)
            scale *= 1.0 + m->value * mod_decay[d];
        else if (m->lex_role == LEX_DAMPENER)
            scale *= 1.0 - m->value * mod_decay[d];
        else if (m->lex_role == LEX_NEGATION)
            negated = !negated;
    }
    v *= scale;
    if (negated)
        v *= NEGATION_SCALE;
    if (!shouting && (t->tok[i].flags & BM_TOK_CAPS))
        v *= CAPS_BOOST;
    return v;
}

/*
 * Cuts the post into clauses and sums each; returns the number of clauses.
 * Sentence-level weights (emphasis, questions, contrast) are applied after,
 * once each sentence's end is known.
 */
static size_t sum_clauses(const struct evalctx *c, struct sent_scratch *s,
                          bool *irony)
{
    const struct bm_text *t = c->text;
    bool shouting = is_shouting(t);
    size_t nclause = 0, start = 0, sentence = 0;
    bool open = false;

    for (size_t i = 0; i < t->ntok;) {
        size_t span = s->span[i] ? s->span[i] : 1;
        const struct terminfo *ti =
            s->lex[i] ? &c->rs->tinfo[s->lex[i] - 1] : NULL;
        bool contrast = ti && ti->lex_role == LEX_CONTRAST;

        if (open && (t->tok[i].flags & BM_TOK_NEWLINE_BEFORE)) {
            open = false;
            sentence++;
        }
        if (!open || contrast) {
            s->cpos[nclause] = s->cneg[nclause] = 0;
            s->weight[nclause] = contrast ? -1.0 : 1.0; /* -1: marks "but" */
            s->csent[nclause] = (uint32_t)sentence;
            s->cbrands[nclause] = 0;
            s->cexcl[nclause] = s->cquest[nclause] = 0;
            start = i;
            nclause++;
            open = true;
        }
        for (size_t k = i; k < i + span && k < t->ntok; k++)
            s->clause[k] = (uint32_t)(nclause - 1);
        if (ti && ti->irony)
            *irony = true;
        if (ti && ti->lex_role == LEX_WORD) {
            double v = adjusted(c, s, i, start, shouting);

            if (v > 0)
                s->cpos[nclause - 1] += v;
            else
                s->cneg[nclause - 1] += v;
        }
        if (tok_is(t, i, '!') && s->cexcl[nclause - 1] < UINT8_MAX)
            s->cexcl[nclause - 1]++;
        if (tok_is(t, i, '?'))
            s->cquest[nclause - 1] = 1;
        if (ends_sentence(t, i)) {
            /* A run like "?!" or "..." ends one sentence, not several. */
            if (i + 1 >= t->ntok || !ends_sentence(t, i + 1)) {
                open = false;
                sentence++;
            }
        } else if (ends_clause(t, i)) {
            open = false;
        }
        i += span;
    }
    return nclause;
}

/* An intent with a valence (a complaint) counts where it shows, even when
 * no word of the lexicon says how the author feels. */
static void add_intents(const struct evalctx *c, struct sent_scratch *s)
{
    for (size_t i = 0; i < c->rs->nintents; i++) {
        double v = c->rs->intent_valence[i];
        uint32_t k;

        if (v == 0 || !(c->intents >> i & 1))
            continue;
        k = s->clause[c->intent_tok[i]];
        if (v > 0)
            s->cpos[k] += v;
        else
            s->cneg[k] += v;
    }
}

/* Emphasis, questions and contrast, sentence by sentence. */
static void weigh_sentences(struct sent_scratch *s, size_t nclause)
{
    size_t first = 0;

    while (first < nclause) {
        uint32_t sent = s->csent[first];
        size_t end = first, excl = 0;
        bool question = false;

        for (; end < nclause && s->csent[end] == sent; end++) {
            excl += s->cexcl[end];
            question |= s->cquest[end] != 0;
        }
        if (excl > EXCLAIM_MAX)
            excl = EXCLAIM_MAX;
        for (size_t k = first; k < end; k++) {
            double boost = 1.0 + EXCLAIM_STEP * (double)excl;

            s->cpos[k] *= boost * (question ? QUESTION_DAMP : 1.0);
            s->cneg[k] *= boost;
        }
        /* "X, but Y": Y matters more than X; a sentence that opens with
         * "But" also takes weight from the sentence before it. */
        for (size_t k = first; k < end; k++) {
            if (s->weight[k] >= 0)
                continue;
            for (size_t j = k; j-- > 0;) {
                if (s->weight[j] < 0 || s->csent[j] + 1 < sent)
                    break;
                if (s->csent[j] != sent && k != first)
                    break;
                s->weight[j] = BEFORE_CONTRAST;
            }
            for (size_t j = k; j < end; j++)
                if (j == k || s->weight[j] > 0)
                    s->weight[j] = AFTER_CONTRAST;
            break;
        }
        first = end;
    }
    for (size_t k = 0; k < nclause; k++)
        if (s->weight[k] < 0)
            s->weight[k] = AFTER_CONTRAST;
}

static double normalise(double sum)
{
    double v = sum / sqrt(sum * sum + NORMALISE_ALPHA);

    return v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v;
}

static double clause_value(const struct sent_scratch *s, size_t k)
{
    return (s->cpos[k] + s->cneg[k]) * s->weight[k];
}

/* Which named brands each clause speaks of (see sentiment.h). */
static void target_brands(const struct evalctx *c, struct sent_scratch *s,
                          size_t nclause)
{
    const struct bm_hits *h = c->hits;
    uint64_t carry = 0, first = 0;

    for (size_t i = 0; i < h->n; i++) {
        const struct terminfo *ti = &c->rs->tinfo[h->v[i].term];

        for (uint32_t u = 0; u < ti->nuse; u++) {
            const struct brand_use *use = &c->rs->uses[ti->use0 + u];

            if (use->role != BRAND_TERM || !ctx_mentions(c, use->brand))
                continue;
            for (size_t k = 0; k < c->nnamed && k < 64; k++)
                if (c->named[k] == use->brand)
                    s->cbrands[s->clause[h->v[i].tok]] |= (uint64_t)1 << k;
        }
    }
    for (size_t k = 0; k < nclause && !first; k++)
        first = s->cbrands[k];
    for (size_t k = 0; k < nclause; k++) {
        if (s->cbrands[k])
            carry = s->cbrands[k];
        else
            s->cbrands[k] = carry ? carry : first;
    }
}

int sentiment_score(struct evalctx *c, struct sent_scratch *s)
{
    size_t nclause;
    double total = 0;
    bool irony = false;

    c->post_score = 0;
    for (size_t k = 0; k < c->nnamed; k++)
        c->brand_score[c->named[k]] = 0;
    if (c->text->ntok == 0)
        return 0;
    if (reserve(s, c->text->ntok))
        return -ENOMEM;
    mark_lexicon(c, s);
    nclause = sum_clauses(c, s, &irony);
    add_intents(c, s);
    weigh_sentences(s, nclause);
    if (irony)
        for (size_t k = 0; k < nclause; k++) {
            s->cneg[k] += IRONY_SCALE * s->cpos[k];
            s->cpos[k] = 0;
        }
    for (size_t k = 0; k < nclause; k++)
        total += clause_value(s, k);
    c->post_score = normalise(total);
    if (c->nnamed <= 1) {
        if (c->nnamed == 1)
            c->brand_score[c->named[0]] = c->post_score;
        return 0;
    }
    target_brands(c, s, nclause);
    for (size_t b = 0; b < c->nnamed; b++) {
        double sum = 0;

        if (b >= 64) {
            c->brand_score[c->named[b]] = c->post_score;
            continue;
        }
        for (size_t k = 0; k < nclause; k++)
            if (s->cbrands[k] >> b & 1)
                sum += clause_value(s, k);
        c->brand_score[c->named[b]] = normalise(sum);
    }
    return 0;
}
