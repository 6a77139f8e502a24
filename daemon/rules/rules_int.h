/*
 * rules_int.h - the compiled rule set, shared by the files of daemon/rules/.
 *
 * Everything here is built by pack.c and read-only afterwards. Strings and
 * arrays are owned by the rule set and freed by bm_ruleset_free().
 */
#ifndef BRANDMON_RULES_INT_H
#define BRANDMON_RULES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>

#include "brandmon/engine.h"
#include "brandmon/match.h"
#include "brandmon/pack.h"

#define BM_MAX_INTENTS 64

/* A sorted set of term ids. */
struct termset {
    uint32_t *ids; /* owned; ascending, no duplicates */
    uint32_t n;
};

/* What a term means to the sentiment scorer. */
enum lex_role {
    LEX_NONE = 0,
    LEX_WORD,        /* has a valence */
    LEX_NEGATION,    /* flips what follows */
    LEX_INTENSIFIER, /* raises what follows by `value` */
    LEX_DAMPENER,    /* lowers what follows by `value` */
    LEX_CONTRAST,    /* starts a clause that weighs more */
};

/* Per term id: its sentiment role and which brands use it. */
struct terminfo {
    float value;      /* valence (-4..4) or modifier fraction */
    uint8_t lex_role; /* enum lex_role */
    bool irony;       /* marks the post's praise as ironic (any role) */
    uint32_t use0;    /* first entry in ruleset.uses */
    uint32_t nuse;
};

enum brand_role {
    BRAND_TERM,
    BRAND_EXCLUDE,
    BRAND_STATEMENT,
};

struct brand_use {
    uint32_t brand;
    uint8_t role; /* enum brand_role */
};

/* Intents shown by a term also go through the use list, as this role: */
struct intent_use {
    uint32_t term;
    uint8_t intent;
};

struct brand {
    char *id;   /* owned */
    char *name; /* owned */
    struct termset terms;
    struct termset exclude;
    struct termset statement;
    uint32_t *competitors; /* owned: brand indexes */
    uint32_t ncompetitors;
};

enum cond_type {
    COND_ALL,
    COND_ANY,
    COND_NONE,
    COND_TERMS,
    COND_STATEMENT,
    COND_REGEX,
    COND_SENTIMENT,
    COND_INTENT,
    COND_FOLLOWERS,
    COND_LANG,
    COND_SOURCE,
    COND_REPLY,
    COND_REPOST,
    COND_COMPETITOR,
    COND_FIELD,
};

enum field_op {
    FIELD_EQUALS,
    FIELD_IN,
    FIELD_MATCHES,
    FIELD_AT_LEAST,
};

struct cond {
    enum cond_type type;
    struct cond *kids; /* owned: combinators' children */
    uint32_t nkids;
    struct termset terms; /* COND_TERMS */
    uint32_t at_least;    /* COND_TERMS, COND_STATEMENT */
    pcre2_code *re;       /* owned: COND_REGEX, FIELD_MATCHES */
    char *pattern;        /* owned: the regex as written */
    bool has_below, has_above;
    double below, above; /* COND_SENTIMENT, COND_FOLLOWERS */
    uint64_t intents;    /* COND_INTENT: bit per intent index */
    char **strs;         /* owned: COND_LANG, COND_SOURCE */
    uint32_t nstrs;
    bool flag;        /* COND_REPLY, COND_REPOST, COND_COMPETITOR */
    char *path;       /* owned: COND_FIELD pointer */
    enum field_op op; /* COND_FIELD */
    json_t *value;    /* owned: COND_FIELD equals / in (an array) */
    double number;    /* COND_FIELD at_least */
};

/* The same values as enum bm_throttle_per (engine.h). */
enum throttle_per {
    THROTTLE_NONE = BM_THROTTLE_NONE,
    THROTTLE_AUTHOR = BM_THROTTLE_AUTHOR,
    THROTTLE_BRAND = BM_THROTTLE_BRAND,
    THROTTLE_RULE = BM_THROTTLE_RULE,
};

struct rule {
    char *id;          /* owned */
    char *description; /* owned, or NULL */
    const char *pack;  /* borrowed: ruleset.packs[].name */
    int32_t brand;     /* brand index, or -1 for every post */
    enum bm_rule_kind kind;
    enum bm_priority priority;
    struct cond when;
    char *message; /* owned: alert template, or NULL */
    enum throttle_per throttle_per;
    uint64_t throttle_ms;
};

struct escalation {
    char *id; /* owned */
    uint32_t brand;
    enum bm_rule_kind kind;
    uint64_t window_ms;
    uint64_t baseline_ms; /* 0: no baseline */
    uint64_t cooldown_ms;
    uint32_t count_at_least;
    double ratio_to_baseline; /* 0: not set */
    enum bm_priority priority;
};

struct intent {
    char *name; /* owned */
    struct termset terms;
    pcre2_code **patterns; /* owned */
    char **pattern_src;    /* owned: as written */
    struct termset *gates; /* owned: per pattern, terms one of which must be
                              in the post for it to run (n = 0: always) */
    uint32_t npatterns;
};

/* One embedded test. Expectations that were not given are unset. */
struct ruletest {
    char *file; /* owned */
    unsigned line;
    char *name;                   /* owned, or NULL */
    char *text;                   /* owned */
    char *author, *lang, *source; /* owned, or NULL */
    int64_t followers;            /* -1: unknown */
    bool reply, repost, html;
    json_t *fields; /* owned: the raw message, or NULL */
    bool has_expect;
    char **expect; /* owned: rule ids */
    uint32_t nexpect;
    int tone;         /* enum bm_tone, or -1 */
    char **brand_ids; /* owned: expected brand tones */
    int *brand_tones;
    uint32_t nbrands;
    uint64_t intents; /* must be shown */
};

struct pack_info {
    char *name; /* owned */
    char *file; /* owned */
    bool base;  /* the shipped intents, not counted as a pack */
};

struct bm_ruleset {
    struct bm_matcher *matcher; /* owned */
    struct terminfo *tinfo;     /* owned: one per term id */
    size_t ntinfo;
    struct brand_use *uses; /* owned: grouped by term */
    size_t nuses;
    struct intent_use *iuses; /* owned: sorted by term */
    size_t niuses;
    struct brand *brands; /* owned */
    size_t nbrands;
    struct rule *rules; /* owned */
    size_t nrules;
    struct escalation *escalations; /* owned */
    size_t nescalations;
    struct intent intents[BM_MAX_INTENTS];
    size_t nintents;
    struct ruletest *tests; /* owned */
    size_t ntests;
    struct pack_info *packs; /* owned */
    size_t npacks;
    size_t nregex; /* rule regexes, for stats */
    /* Valence an intent adds where it shows (lexicon `intents:`). */
    float intent_valence[BM_MAX_INTENTS];
    char hash[17];
};

/* Index of the intent named @name, or -1. */
int bm_ruleset_intent(const struct bm_ruleset *rs, const char *name);
/* Index of the brand @id, or -1. */
int bm_ruleset_brand(const struct bm_ruleset *rs, const char *id);

/* True when @id is in @set. */
bool termset_has(const struct termset *set, uint32_t id);

/* sentiment.c: reads the `words` .. `emoji` sections of a lexicon document
 * into the matcher and term infos. Used by pack.c while loading. */
struct bm_ydoc;
struct loader;
int lexicon_load(struct loader *ld, const struct bm_ydoc *doc);
/* The lexicon's `intents:` section, once every intent is registered. */
int lexicon_intents(struct loader *ld, const struct bm_ydoc *doc);

#endif
