/*
 * pack.c - loads YAML rule packs into one compiled rule set.
 *
 * The load runs in passes so that every name can be used before or after it
 * is defined, in any pack:
 *   1. read and parse every file (the lexicon, the shipped intents, then the
 *      packs in the order given, folders in name order);
 *   2. register what each pack defines: lists, brands, intents, rule and
 *      escalation ids, checking one shared namespace;
 *   3. compile: term lists (resolving $refs, refusing cycles), brands,
 *      intents, rules with their conditions, escalations and tests;
 *   4. index which brands and intents each term belongs to and build the
 *      matcher.
 * The first error stops the load and frees everything: a rule set is never
 * half-loaded. Escalation and throttle blocks are validated here; acting on
 * them is the runtime's job.
 */
#include "brandmon/pack.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brandmon/sentiment.h"
#include "brandmon/yaml.h"

#include "rules/loader_int.h"

#define LEXICON_FILE "sentiment-lexicon.yaml"
#define INTENTS_FILE "intents.yaml"

static const char *const pack_keys[] = {
    "version", "pack",        "description", "lists",   "brands",
    "rules",   "escalations", "tests",       "intents", NULL,
};
static const char *const brand_keys[] = {
    "name", "terms", "exclude", "statement", "competitors", NULL,
};
static const char *const rule_keys[] = {
    "id", "description", "brand", "kind", "priority", "when", "alert", NULL,
};
static const char *const alert_keys[] = { "message", "throttle", NULL };
static const char *const throttle_keys[] = { "per", "window", NULL };
static const char *const escalation_keys[] = {
    "id",       "brand",    "kind",     "window", "when",
    "baseline", "priority", "cooldown", NULL,
};
static const char *const escalation_when_keys[] = {
    "count_at_least",
    "ratio_to_baseline",
    NULL,
};
static const char *const intent_keys[] = { "terms", "patterns", NULL };
static const char *const test_keys[] = {
    "name",   "text",  "author", "followers", "lang",
    "source", "reply", "repost", "html",      "fields",
    "expect", "tone",  "brands", "intents",   NULL,
};
static const char *const kind_names[] = {
    "defense",
    "amplification",
    "insight",
    NULL,
};
static const char *const priority_names[] = {
    "low", "medium", "high", "critical", NULL,
};
/* Placeholders an alert message may use. */
static const char *const template_fields[] = {
    "author",    "followers", "source",     "text", "url",  "post_id",
    "lang",      "brand",     "brand_name", "rule", "kind", "priority",
    "sentiment", "tone",      "terms",      NULL,
};

/* One parsed file and what it is. */
struct unit {
    struct bm_ydoc *doc; /* owned */
    bool lexicon;        /* the sentiment lexicon */
    bool base_intents;   /* the shipped intents: packs may override them */
    const char *pack;    /* borrowed: doc; the pack's name */
};

const char *bm_kind_name(enum bm_rule_kind kind)
{
    return kind <= BM_KIND_INSIGHT ? kind_names[kind] : "?";
}

const char *bm_priority_name(enum bm_priority prio)
{
    return prio <= BM_PRIO_CRITICAL ? priority_names[prio] : "?";
}

const char *bm_ruleset_default_data_dir(void)
{
    const char *env = getenv("BRANDMON_DATA_DIR");

    if (env && *env)
        return env;
    if (access(BM_DATADIR "/" LEXICON_FILE, R_OK) == 0)
        return BM_DATADIR;
    return BM_SOURCE_RULES_DIR;
}

size_t bm_ruleset_packs(const struct bm_ruleset *rs)
{
    size_t n = 0;

    for (size_t i = 0; i < rs->npacks; i++)
        n += !rs->packs[i].base;
    return n;
}

size_t bm_ruleset_brands(const struct bm_ruleset *rs)
{
    return rs->nbrands;
}

size_t bm_ruleset_rules(const struct bm_ruleset *rs)
{
    return rs->nrules;
}

size_t bm_ruleset_terms(const struct bm_ruleset *rs)
{
    return bm_matcher_count(rs->matcher);
}

size_t bm_ruleset_tests(const struct bm_ruleset *rs)
{
    return rs->ntests;
}

const char *bm_ruleset_hash(const struct bm_ruleset *rs)
{
    return rs->hash;
}

const char *bm_ruleset_rule_id(const struct bm_ruleset *rs, size_t i)
{
    return i < rs->nrules ? rs->rules[i].id : NULL;
}

size_t bm_ruleset_escalations(const struct bm_ruleset *rs)
{
    return rs->nescalations;
}

void bm_ruleset_escalation(const struct bm_ruleset *rs, size_t i,
                           struct bm_escalation_info *out)
{
    const struct escalation *x = &rs->escalations[i];
    const struct brand *b = &rs->brands[x->brand];

    *out = (struct bm_escalation_info){
        .id = x->id,
        .brand = b->id,
        .brand_name = b->name,
        .kind = x->kind,
        .window_ms = x->window_ms,
        .baseline_ms = x->baseline_ms,
        .cooldown_ms = x->cooldown_ms,
        .count_at_least = x->count_at_least,
        .ratio_to_baseline = x->ratio_to_baseline,
        .priority = x->priority,
    };
}

int bm_ruleset_intent(const struct bm_ruleset *rs, const char *name)
{
    for (size_t i = 0; i < rs->nintents; i++)
        if (strcmp(rs->intents[i].name, name) == 0)
            return (int)i;
    return -1;
}

int bm_ruleset_brand(const struct bm_ruleset *rs, const char *id)
{
    for (size_t i = 0; i < rs->nbrands; i++)
        if (strcmp(rs->brands[i].id, id) == 0)
            return (int)i;
    return -1;
}

bool termset_has(const struct termset *set, uint32_t id)
{
    uint32_t lo = 0, hi = set->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (set->ids[mid] == id)
            return true;
        if (set->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

void termset_release(struct termset *s)
{
    free(s->ids);
    s->ids = NULL;
    s->n = 0;
}

static void free_strv(char **v, uint32_t n)
{
    for (uint32_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void ruletest_release(struct ruletest *t)
{
    free(t->file);
    free(t->name);
    free(t->text);
    free(t->author);
    free(t->lang);
    free(t->source);
    json_decref(t->fields);
    free_strv(t->expect, t->nexpect);
    free_strv(t->brand_ids, t->nbrands);
    free(t->brand_tones);
}

/* Drops an intent's terms and patterns, keeping its name. */
static void intent_clear(struct intent *in)
{
    termset_release(&in->terms);
    for (uint32_t i = 0; i < in->npatterns; i++) {
        pcre2_code_free(in->patterns[i]);
        free(in->pattern_src[i]);
        if (in->gates)
            termset_release(&in->gates[i]);
    }
    free(in->patterns);
    free(in->pattern_src);
    free(in->gates);
    in->patterns = NULL;
    in->pattern_src = NULL;
    in->gates = NULL;
    in->npatterns = 0;
}

static void intent_release(struct intent *in)
{
    intent_clear(in);
    free(in->name);
    memset(in, 0, sizeof(*in));
}

void bm_ruleset_free(struct bm_ruleset *rs)
{
    if (!rs)
        return;
    bm_matcher_free(rs->matcher);
    free(rs->tinfo);
    free(rs->uses);
    free(rs->iuses);
    for (size_t i = 0; i < rs->nbrands; i++) {
        struct brand *b = &rs->brands[i];

        free(b->id);
        free(b->name);
        termset_release(&b->terms);
        termset_release(&b->exclude);
        termset_release(&b->statement);
        free(b->competitors);
    }
    free(rs->brands);
    for (size_t i = 0; i < rs->nrules; i++) {
        struct rule *r = &rs->rules[i];

        free(r->id);
        free(r->description);
        free(r->message);
        cond_release(&r->when);
    }
    free(rs->rules);
    for (size_t i = 0; i < rs->nescalations; i++)
        free(rs->escalations[i].id);
    free(rs->escalations);
    for (size_t i = 0; i < rs->nintents; i++)
        intent_release(&rs->intents[i]);
    for (size_t i = 0; i < rs->ntests; i++)
        ruletest_release(&rs->tests[i]);
    free(rs->tests);
    for (size_t i = 0; i < rs->npacks; i++) {
        free(rs->packs[i].name);
        free(rs->packs[i].file);
    }
    free(rs->packs);
    free(rs);
}

/* ---- helpers shared with cond.c and sentiment.c ---- */

int loader_add_term(struct loader *ld, const struct bm_ydoc *doc,
                    const struct bm_ynode *n, const char *term, size_t len)
{
    struct bm_ruleset *rs = ld->rs;
    int id = bm_matcher_add(rs->matcher, term, len);

    if (id == -EINVAL)
        return bm_ynode_error(doc, n, ld->diag,
                              "term '%s' is empty once normalised, or longer "
                              "than %d words",
                              term, BM_MATCH_MAX_TERM_TOKENS);
    if (id < 0)
        return bm_ynode_error(doc, n, ld->diag, "out of memory");
    if ((size_t)id >= rs->ntinfo) {
        size_t ncap = rs->ntinfo ? rs->ntinfo * 2 : 1024;
        struct terminfo *ti;

        while (ncap <= (size_t)id)
            ncap *= 2;
        ti = realloc(rs->tinfo, ncap * sizeof(*ti));
        if (!ti)
            return bm_ynode_error(doc, n, ld->diag, "out of memory");
        memset(ti + rs->ntinfo, 0, (ncap - rs->ntinfo) * sizeof(*ti));
        rs->tinfo = ti;
        rs->ntinfo = ncap;
    }
    return id;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Sorts and dedupes; the set takes @ids. */
static void termset_take(struct termset *s, uint32_t *ids, uint32_t n)
{
    uint32_t w = 0;

    qsort(ids, n, sizeof(*ids), u32_cmp);
    for (uint32_t i = 0; i < n; i++)
        if (w == 0 || ids[w - 1] != ids[i])
            ids[w++] = ids[i];
    s->ids = ids;
    s->n = w;
}

static struct listdef *find_list(struct loader *ld, const char *name)
{
    for (size_t i = 0; i < ld->nlists; i++)
        if (strcmp(ld->lists[i].name, name) == 0)
            return &ld->lists[i];
    return NULL;
}

static int append_ids(uint32_t **v, uint32_t *n, uint32_t *cap,
                      const uint32_t *add, uint32_t nadd)
{
    if (*n + nadd > *cap) {
        uint32_t ncap = *cap ? *cap : 16;
        uint32_t *nv;

        while (ncap < *n + nadd)
            ncap *= 2;
        nv = realloc(*v, ncap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = ncap;
    }
    memcpy(*v + *n, add, nadd * sizeof(*add));
    *n += nadd;
    return 0;
}

static int resolve_list(struct loader *ld, const struct bm_ydoc *doc,
                        const struct bm_ynode *at, const char *ref,
                        const struct termset **out)
{
    struct listdef *l = find_list(ld, ref + 1);
    const char *near;
    int err;

    if (!l) {
        const char **names = calloc(ld->nlists + 1, sizeof(*names));

        for (size_t i = 0; names && i < ld->nlists; i++)
            names[i] = ld->lists[i].name;
        near = names ? bm_diag_suggest(ref + 1, names) : NULL;
        if (near)
            err = bm_ynode_error(doc, at, ld->diag,
                                 "list '%s' is not defined (did you mean "
                                 "'$%s'?)",
                                 ref, near);
        else
            err = bm_ynode_error(doc, at, ld->diag, "list '%s' is not defined",
                                 ref);
        free(names);
        return err;
    }
    if (l->state == 1)
        return bm_ynode_error(doc, at, ld->diag,
                              "list '%s' refers to itself through $refs", ref);
    if (l->state == 0) {
        l->state = 1;
        err = loader_termlist(ld, l->doc, l->node, &l->set);
        if (err)
            return err;
        l->state = 2;
    }
    *out = &l->set;
    return 0;
}

int loader_termlist(struct loader *ld, const struct bm_ydoc *doc,
                    const struct bm_ynode *n, struct termset *out)
{
    uint32_t *ids = NULL, nids = 0, cap = 0;
    const struct termset *sub;
    int err = 0;

    if (n->type == BM_YNODE_SCALAR && !n->quoted && n->str[0] == '$') {
        err = resolve_list(ld, doc, n, n->str, &sub);
        if (!err)
            err = append_ids(&ids, &nids, &cap, sub->ids, sub->n);
        goto out;
    }
    if (n->type != BM_YNODE_SEQ)
        return bm_ynode_error(doc, n, ld->diag,
                              "expected a list of terms or a $list");
    if (n->n == 0)
        return bm_ynode_error(doc, n, ld->diag, "the list of terms is empty");
    for (size_t i = 0; i < n->n && !err; i++) {
        const struct bm_ynode *it = n->items[i];
        uint32_t id;
        int r;

        if (it->type != BM_YNODE_SCALAR) {
            err = bm_ynode_error(doc, it, ld->diag,
                                 "expected a term (a string) or a $list");
            break;
        }
        if (it->str[0] == '$' && !it->quoted) {
            err = resolve_list(ld, doc, it, it->str, &sub);
            if (!err)
                err = append_ids(&ids, &nids, &cap, sub->ids, sub->n);
            continue;
        }
        r = loader_add_term(ld, doc, it, it->str, it->len);
        if (r < 0) {
            err = r;
            break;
        }
        id = (uint32_t)r;
        err = append_ids(&ids, &nids, &cap, &id, 1);
    }
out:
    if (err) {
        if (err == -ENOMEM)
            bm_ynode_error(doc, n, ld->diag, "out of memory");
        free(ids);
        return -EINVAL;
    }
    termset_take(out, ids, nids);
    return 0;
}

pcre2_code *loader_regex(struct loader *ld, const struct bm_ydoc *doc,
                         const struct bm_ynode *n, const char *pattern)
{
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE off;
    int code;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP |
                                       PCRE2_NO_UTF_CHECK,
                                   &code, &off, ld->cctx);

    if (!re) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        bm_ynode_error(doc, n, ld->diag,
                       "regex does not compile: %s at offset %zu",
                       (const char *)msg, (size_t)off);
        return NULL;
    }
    /* JIT is an optimisation: where it is unavailable the interpreter runs. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

int loader_strings(struct loader *ld, const struct bm_ydoc *doc,
                   const struct bm_ynode *n, char ***out, uint32_t *nout)
{
    size_t cnt = n->type == BM_YNODE_SEQ ? n->n : 1;
    char **v;

    if (n->type == BM_YNODE_MAP || (n->type == BM_YNODE_SEQ && n->n == 0))
        return bm_ynode_error(doc, n, ld->diag,
                              "expected a string or a list of strings");
    v = calloc(cnt, sizeof(*v));
    if (!v)
        return bm_ynode_error(doc, n, ld->diag, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        const struct bm_ynode *it = n->type == BM_YNODE_SEQ ? n->items[i] : n;
        const char *s;

        if (bm_ynode_string(doc, it, &s, ld->diag) || !(v[i] = strdup(s))) {
            free_strv(v, (uint32_t)cnt);
            return -EINVAL;
        }
    }
    *out = v;
    *nout = (uint32_t)cnt;
    return 0;
}

json_t *loader_node_json(const struct bm_ynode *n)
{
    json_t *j;

    switch (n->type) {
    case BM_YNODE_SEQ:
        j = json_array();
        for (size_t i = 0; j && i < n->n; i++)
            if (json_array_append_new(j, loader_node_json(n->items[i]))) {
                json_decref(j);
                return NULL;
            }
        return j;
    case BM_YNODE_MAP:
        j = json_object();
        for (size_t i = 0; j && i < n->n; i++)
            if (json_object_set_new(j, n->pairs[i].key->str,
                                    loader_node_json(n->pairs[i].value))) {
                json_decref(j);
                return NULL;
            }
        return j;
    case BM_YNODE_SCALAR:
        break;
    }
    if (!n->quoted) {
        char *end;
        long long ll;
        double d;

        if (strcmp(n->str, "null") == 0 || strcmp(n->str, "~") == 0)
            return json_null();
        if (strcasecmp(n->str, "true") == 0)
            return json_true();
        if (strcasecmp(n->str, "false") == 0)
            return json_false();
        errno = 0;
        ll = strtoll(n->str, &end, 10);
        if (n->len && *end == '\0' && errno == 0)
            return json_integer(ll);
        d = strtod(n->str, &end);
        if (n->len && *end == '\0')
            return json_real(d);
    }
    return json_stringn(n->str, n->len);
}

/* ---- pass 1: files ---- */

static int add_unit(struct unit **units, size_t *n, struct bm_ydoc *doc)
{
    struct unit *nu = realloc(*units, (*n + 1) * sizeof(*nu));

    if (!nu)
        return -ENOMEM;
    *units = nu;
    memset(&nu[*n], 0, sizeof(nu[*n]));
    nu[*n].doc = doc;
    (*n)++;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_yaml_name(const char *name)
{
    size_t len = strlen(name);

    if (name[0] == '.')
        return false;
    return (len > 5 && strcmp(name + len - 5, ".yaml") == 0) ||
           (len > 4 && strcmp(name + len - 4, ".yml") == 0);
}

/* The files of @path: itself, or a folder's YAML files in name order. */
static int expand_path(const char *path, char ***files, size_t *nfiles,
                       struct bm_diag *diag)
{
    struct stat st;
    DIR *dir;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int err = 0;

    if (stat(path, &st) != 0)
        return bm_diag_set(diag, path, 0, 0, "cannot open: %s",
                           strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        names = malloc(sizeof(*names));
        if (!names || !(names[0] = strdup(path))) {
            free(names);
            return bm_diag_set(diag, path, 0, 0, "out of memory");
        }
        n = 1;
        goto out_append;
    }
    dir = opendir(path);
    if (!dir)
        return bm_diag_set(diag, path, 0, 0, "cannot open folder: %s",
                           strerror(errno));
    while ((de = readdir(dir)) != NULL) {
        char *full;

        struct stat est;

        if (!is_yaml_name(de->d_name))
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof(*nn));

            if (!nn) {
                err = -ENOMEM;
                break;
            }
            names = nn;
            cap = cap ? cap * 2 : 16;
        }
        full = malloc(strlen(path) + strlen(de->d_name) + 2);
        if (!full) {
            err = -ENOMEM;
            break;
        }
        sprintf(full, "%s/%s", path, de->d_name);
        /* Not recursing: a folder named like a pack is passed over. */
        if (stat(full, &est) != 0 || !S_ISREG(est.st_mode)) {
            free(full);
            continue;
        }
        names[n++] = full;
    }
    closedir(dir);
    if (err) {
        free_strv(names, (uint32_t)n);
        return bm_diag_set(diag, path, 0, 0, "out of memory");
    }
    if (n == 0) {
        free(names);
        return bm_diag_set(diag, path, 0, 0,
                           "folder holds no .yaml or .yml rule packs");
    }
    qsort(names, n, sizeof(*names), name_cmp);
out_append : {
    char **nf = realloc(*files, (*nfiles + n) * sizeof(*nf));

    if (!nf) {
        free_strv(names, (uint32_t)n);
        return bm_diag_set(diag, path, 0, 0, "out of memory");
    }
    memcpy(nf + *nfiles, names, n * sizeof(*names));
    *files = nf;
    *nfiles += n;
    free(names);
}
    return 0;
}

static uint64_t hash_file(uint64_t h, const char *path)
{
    unsigned char buf[8192];
    size_t got;
    FILE *f = fopen(path, "rb");

    if (!f)
        return h;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        for (size_t i = 0; i < got; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    fclose(f);
    return h;
}

/* Same file twice (the shipped intents given again in --rules): skip. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* ---- pass 2: names ---- */

static int check_version(struct loader *ld, const struct bm_ydoc *doc,
                         const struct bm_ynode *root)
{
    const struct bm_ynode *v = bm_ynode_get(root, "version");
    int64_t ver;

    if (!v)
        return bm_diag_set(ld->diag, doc->file, root->line, root->col,
                           "missing 'version: 1'");
    if (bm_ynode_int(doc, v, 1, 1, &ver, ld->diag))
        return bm_ynode_error(doc, v, ld->diag,
                              "unsupported version (this brandmond reads "
                              "version 1)");
    return 0;
}

static int register_lists(struct loader *ld, const struct bm_ydoc *doc,
                          const struct bm_ynode *lists)
{
    if (lists->type != BM_YNODE_MAP)
        return bm_ynode_error(doc, lists, ld->diag,
                              "'lists' must be a mapping of name: [terms]");
    for (size_t i = 0; i < lists->n; i++) {
        const struct bm_ynode *k = lists->pairs[i].key;
        struct listdef *old = find_list(ld, k->str);

        if (old)
            return bm_ynode_error(doc, k, ld->diag,
                                  "list '%s' is already defined at %s:%u",
                                  k->str, old->doc->file, old->node->line);
        if (ld->nlists == ld->listcap) {
            size_t ncap = ld->listcap ? ld->listcap * 2 : 32;
            struct listdef *nl = realloc(ld->lists, ncap * sizeof(*nl));

            if (!nl)
                return bm_ynode_error(doc, k, ld->diag, "out of memory");
            ld->lists = nl;
            ld->listcap = ncap;
        }
        ld->lists[ld->nlists++] = (struct listdef){
            .name = k->str,
            .doc = doc,
            .node = lists->pairs[i].value,
        };
    }
    return 0;
}

static bool valid_id(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_'))
            return false;
    return true;
}

static int register_brands(struct loader *ld, const struct bm_ydoc *doc,
                           const struct bm_ynode *brands)
{
    struct bm_ruleset *rs = ld->rs;
    struct brand *nb;

    if (brands->type != BM_YNODE_MAP)
        return bm_ynode_error(doc, brands, ld->diag,
                              "'brands' must be a mapping of id: {...}");
    nb = realloc(rs->brands, (rs->nbrands + brands->n) * sizeof(*nb));
    if (!nb)
        return bm_ynode_error(doc, brands, ld->diag, "out of memory");
    rs->brands = nb;
    for (size_t i = 0; i < brands->n; i++) {
        const struct bm_ynode *k = brands->pairs[i].key;
        struct brand *b;

        if (!valid_id(k->str))
            return bm_ynode_error(doc, k, ld->diag,
                                  "brand id '%s' may hold only letters, "
                                  "digits, '.', '-' and '_'",
                                  k->str);
        if (bm_ruleset_brand(rs, k->str) >= 0)
            return bm_ynode_error(doc, k, ld->diag,
                                  "brand '%s' is already defined", k->str);
        b = &rs->brands[rs->nbrands];
        memset(b, 0, sizeof(*b));
        b->id = strdup(k->str);
        if (!b->id)
            return bm_ynode_error(doc, k, ld->diag, "out of memory");
        rs->nbrands++;
    }
    return 0;
}

static int register_intents(struct loader *ld, const struct bm_ydoc *doc,
                            const struct bm_ynode *intents, bool base,
                            uint64_t *defined_by_packs)
{
    struct bm_ruleset *rs = ld->rs;

    if (intents->type != BM_YNODE_MAP)
        return bm_ynode_error(doc, intents, ld->diag,
                              "'intents' must be a mapping of name: {...}");
    for (size_t i = 0; i < intents->n; i++) {
        const struct bm_ynode *k = intents->pairs[i].key;
        int at = bm_ruleset_intent(rs, k->str);

        if (!valid_id(k->str))
            return bm_ynode_error(doc, k, ld->diag,
                                  "intent name '%s' may hold only letters, "
                                  "digits, '.', '-' and '_'",
                                  k->str);
        if (at >= 0 && (base || (*defined_by_packs >> at & 1)))
            return bm_ynode_error(doc, k, ld->diag,
                                  "intent '%s' is already defined by a pack",
                                  k->str);
        if (at < 0) {
            if (rs->nintents == BM_MAX_INTENTS)
                return bm_ynode_error(doc, k, ld->diag, "more than %d intents",
                                      BM_MAX_INTENTS);
            at = (int)rs->nintents++;
            rs->intents[at].name = strdup(k->str);
            if (!rs->intents[at].name)
                return bm_ynode_error(doc, k, ld->diag, "out of memory");
        }
        if (!base)
            *defined_by_packs |= (uint64_t)1 << at;
    }
    return 0;
}

/* Rule and escalation ids: one namespace across packs. */
static int check_ids(struct loader *ld, struct unit *units, size_t nunits)
{
    const struct bm_ynode **seen = NULL;
    const struct bm_ydoc **seen_doc = NULL;
    size_t n = 0, cap = 0;
    int err = 0;

    for (size_t u = 0; u < nunits && !err; u++) {
        const struct bm_ydoc *doc = units[u].doc;
        const char *sections[] = { "rules", "escalations" };

        if (units[u].lexicon)
            continue;
        for (int s = 0; s < 2 && !err; s++) {
            const struct bm_ynode *list = bm_ynode_get(doc->root, sections[s]);

            if (!list)
                continue;
            if (list->type != BM_YNODE_SEQ) {
                err = bm_ynode_error(doc, list, ld->diag, "'%s' must be a list",
                                     sections[s]);
                break;
            }
            for (size_t i = 0; i < list->n && !err; i++) {
                const struct bm_ynode *id = bm_ynode_get(list->items[i], "id");

                if (!id || id->type != BM_YNODE_SCALAR)
                    continue; /* reported when the item is compiled */
                for (size_t j = 0; j < n; j++)
                    if (strcmp(seen[j]->str, id->str) == 0) {
                        err = bm_ynode_error(doc, id, ld->diag,
                                             "id '%s' is already used at "
                                             "%s:%u",
                                             id->str, seen_doc[j]->file,
                                             seen[j]->line);
                        break;
                    }
                if (err)
                    break;
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    const struct bm_ynode **ns =
                        realloc(seen, cap * sizeof(*ns));
                    const struct bm_ydoc **nd =
                        ns ? realloc(seen_doc, cap * sizeof(*nd)) : NULL;

                    if (ns)
                        seen = ns;
                    if (!ns || !nd) {
                        err =
                            bm_ynode_error(doc, id, ld->diag, "out of memory");
                        break;
                    }
                    seen_doc = nd;
                }
                seen[n] = id;
                seen_doc[n++] = doc;
            }
        }
    }
    free(seen);
    free(seen_doc);
    return err;
}

/* ---- pass 3: compile ---- */

static int parse_enum(struct loader *ld, const struct bm_ydoc *doc,
                      const struct bm_ynode *n, const char *what,
                      const char *const *names, int *out)
{
    const char *s, *near;

    if (bm_ynode_string(doc, n, &s, ld->diag))
        return -EINVAL;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return 0;
        }
    near = bm_diag_suggest(s, names);
    if (near)
        return bm_ynode_error(doc, n, ld->diag,
                              "unknown %s '%s' (did you mean '%s'?)", what, s,
                              near);
    return bm_ynode_error(doc, n, ld->diag, "unknown %s '%s'", what, s);
}

static int brand_ref(struct loader *ld, const struct bm_ydoc *doc,
                     const struct bm_ynode *n, uint32_t *out)
{
    const char *s, *near;
    const char **ids;
    int at;

    if (bm_ynode_string(doc, n, &s, ld->diag))
        return -EINVAL;
    at = bm_ruleset_brand(ld->rs, s);
    if (at >= 0) {
        *out = (uint32_t)at;
        return 0;
    }
    ids = calloc(ld->rs->nbrands + 1, sizeof(*ids));
    for (size_t i = 0; ids && i < ld->rs->nbrands; i++)
        ids[i] = ld->rs->brands[i].id;
    near = ids ? bm_diag_suggest(s, ids) : NULL;
    if (near)
        bm_ynode_error(doc, n, ld->diag,
                       "brand '%s' is not defined (did you mean '%s'?)", s,
                       near);
    else
        bm_ynode_error(doc, n, ld->diag, "brand '%s' is not defined", s);
    free(ids);
    return -EINVAL;
}

static int compile_brand(struct loader *ld, const struct bm_ydoc *doc,
                         const struct bm_ynode *key,
                         const struct bm_ynode *node)
{
    struct brand *b = &ld->rs->brands[bm_ruleset_brand(ld->rs, key->str)];
    const struct bm_ynode *v;
    const char *s;

    if (bm_ynode_check_keys(doc, node, "brand", brand_keys, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(node, "name");
    if (v) {
        if (bm_ynode_string(doc, v, &s, ld->diag))
            return -EINVAL;
    } else {
        s = key->str;
    }
    b->name = strdup(s);
    if (!b->name)
        return bm_ynode_error(doc, node, ld->diag, "out of memory");
    v = bm_ynode_get(node, "terms");
    if (!v)
        return bm_ynode_error(doc, key, ld->diag, "brand '%s' has no 'terms'",
                              key->str);
    if (loader_termlist(ld, doc, v, &b->terms))
        return -EINVAL;
    v = bm_ynode_get(node, "exclude");
    if (v && loader_termlist(ld, doc, v, &b->exclude))
        return -EINVAL;
    v = bm_ynode_get(node, "statement");
    if (v && loader_termlist(ld, doc, v, &b->statement))
        return -EINVAL;
    v = bm_ynode_get(node, "competitors");
    if (v) {
        if (v->type != BM_YNODE_SEQ)
            return bm_ynode_error(doc, v, ld->diag,
                                  "'competitors' must be a list of brand "
                                  "ids");
        b->competitors = calloc(v->n ? v->n : 1, sizeof(*b->competitors));
        if (!b->competitors)
            return bm_ynode_error(doc, v, ld->diag, "out of memory");
        for (size_t i = 0; i < v->n; i++) {
            if (brand_ref(ld, doc, v->items[i], &b->competitors[i]))
                return -EINVAL;
            if (strcmp(ld->rs->brands[b->competitors[i]].id, b->id) == 0)
                return bm_ynode_error(doc, v->items[i], ld->diag,
                                      "a brand cannot be its own "
                                      "competitor");
            b->ncompetitors++;
        }
    }
    return 0;
}

/*
 * One intent pattern: a regex, or {regex: R, requires: [terms]} where the
 * regex only runs on posts that hold one of the terms. Terms cost nothing
 * extra (the matcher finds them anyway) and keep a regex off most posts.
 */
static int compile_pattern(struct loader *ld, const struct bm_ydoc *doc,
                           const struct bm_ynode *n, struct intent *in,
                           size_t i)
{
    static const char *const keys[] = { "regex", "requires", NULL };
    const struct bm_ynode *re = n, *req = NULL;
    const char *s;

    if (n->type == BM_YNODE_MAP) {
        if (bm_ynode_check_keys(doc, n, "pattern", keys, ld->diag))
            return -EINVAL;
        re = bm_ynode_get(n, "regex");
        req = bm_ynode_get(n, "requires");
        if (!re)
            return bm_ynode_error(doc, n, ld->diag, "pattern needs 'regex'");
    }
    if (bm_ynode_string(doc, re, &s, ld->diag))
        return -EINVAL;
    if (!(in->pattern_src[i] = strdup(s)))
        return bm_ynode_error(doc, re, ld->diag, "out of memory");
    in->patterns[i] = loader_regex(ld, doc, re, s);
    if (!in->patterns[i])
        return -EINVAL;
    return req ? loader_termlist(ld, doc, req, &in->gates[i]) : 0;
}

static int compile_intent(struct loader *ld, const struct bm_ydoc *doc,
                          const struct bm_ynode *key,
                          const struct bm_ynode *node)
{
    struct intent *in = &ld->rs->intents[bm_ruleset_intent(ld->rs, key->str)];
    const struct bm_ynode *terms, *pats;

    if (bm_ynode_check_keys(doc, node, "intent", intent_keys, ld->diag))
        return -EINVAL;
    /* A pack's definition replaces the shipped one whole. */
    intent_clear(in);

    terms = bm_ynode_get(node, "terms");
    pats = bm_ynode_get(node, "patterns");
    if (!terms && !pats)
        return bm_ynode_error(doc, key, ld->diag,
                              "intent '%s' needs 'terms' or 'patterns'",
                              key->str);
    if (terms && loader_termlist(ld, doc, terms, &in->terms))
        return -EINVAL;
    if (!pats)
        return 0;
    if (pats->type != BM_YNODE_SEQ || pats->n == 0)
        return bm_ynode_error(doc, pats, ld->diag,
                              "'patterns' must be a list of regexes");
    in->patterns = calloc(pats->n, sizeof(*in->patterns));
    in->pattern_src = calloc(pats->n, sizeof(*in->pattern_src));
    in->gates = calloc(pats->n, sizeof(*in->gates));
    if (!in->patterns || !in->pattern_src || !in->gates)
        return bm_ynode_error(doc, pats, ld->diag, "out of memory");
    in->npatterns = (uint32_t)pats->n;
    for (size_t i = 0; i < pats->n; i++)
        if (compile_pattern(ld, doc, pats->items[i], in, i))
            return -EINVAL;
    return 0;
}

static int check_template(struct loader *ld, const struct bm_ydoc *doc,
                          const struct bm_ynode *n, const char *tpl)
{
    for (const char *p = tpl; *p; p++) {
        const char *end;
        char name[32];
        size_t len;
        bool known = false;

        if (*p != '{')
            continue;
        end = strchr(p, '}');
        if (!end)
            return bm_ynode_error(doc, n, ld->diag,
                                  "alert message has a '{' without '}'");
        len = (size_t)(end - p - 1);
        if (len < sizeof(name)) {
            memcpy(name, p + 1, len);
            name[len] = '\0';
            for (int i = 0; template_fields[i]; i++)
                known |= strcmp(template_fields[i], name) == 0;
        }
        if (!known) {
            const char *near = len < sizeof(name)
                                   ? bm_diag_suggest(name, template_fields)
                                   : NULL;

            if (near)
                return bm_ynode_error(doc, n, ld->diag,
                                      "unknown placeholder '{%.*s}' in "
                                      "alert message (did you mean "
                                      "'{%s}'?)",
                                      (int)len, p + 1, near);
            return bm_ynode_error(doc, n, ld->diag,
                                  "unknown placeholder '{%.*s}' in alert "
                                  "message",
                                  (int)len, p + 1);
        }
        p = end;
    }
    return 0;
}

static int compile_alert(struct loader *ld, const struct bm_ydoc *doc,
                         const struct bm_ynode *node, struct rule *r)
{
    static const char *const pers[] = { "author", "brand", "rule", NULL };
    const struct bm_ynode *v, *t;
    const char *s;
    int per;

    if (bm_ynode_check_keys(doc, node, "alert", alert_keys, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(node, "message");
    if (v) {
        if (bm_ynode_string(doc, v, &s, ld->diag) ||
            check_template(ld, doc, v, s))
            return -EINVAL;
        r->message = strdup(s);
        if (!r->message)
            return bm_ynode_error(doc, v, ld->diag, "out of memory");
    }
    t = bm_ynode_get(node, "throttle");
    if (!t)
        return 0;
    if (bm_ynode_check_keys(doc, t, "throttle", throttle_keys, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(t, "per");
    if (!v)
        return bm_ynode_error(doc, t, ld->diag,
                              "throttle needs 'per: author|brand|rule'");
    if (parse_enum(ld, doc, v, "throttle key", pers, &per))
        return -EINVAL;
    if (per == 1 && r->brand < 0)
        return bm_ynode_error(doc, v, ld->diag,
                              "'per: brand' needs the rule to have a brand");
    r->throttle_per = (enum throttle_per)(per + 1);
    v = bm_ynode_get(t, "window");
    if (!v)
        return bm_ynode_error(doc, t, ld->diag,
                              "throttle needs a 'window' such as 30m");
    return bm_ynode_duration(doc, v, &r->throttle_ms, ld->diag);
}

static int compile_rule(struct loader *ld, const struct bm_ydoc *doc,
                        const char *pack, const struct bm_ynode *node)
{
    struct bm_ruleset *rs = ld->rs;
    struct rule *r = &rs->rules[rs->nrules];
    const struct bm_ynode *v;
    const char *s;
    uint32_t b;
    int e;

    memset(r, 0, sizeof(*r));
    r->brand = -1;
    r->priority = BM_PRIO_MEDIUM;
    r->pack = pack;
    /* Counted now so that bm_ruleset_free() releases a half-built rule. */
    rs->nrules++;
    if (bm_ynode_check_keys(doc, node, "rule", rule_keys, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(node, "id");
    if (!v)
        return bm_ynode_error(doc, node, ld->diag, "rule has no 'id'");
    if (bm_ynode_string(doc, v, &s, ld->diag))
        return -EINVAL;
    if (!valid_id(s))
        return bm_ynode_error(doc, v, ld->diag,
                              "rule id '%s' may hold only letters, digits, "
                              "'.', '-' and '_'",
                              s);
    if (!(r->id = strdup(s)))
        return bm_ynode_error(doc, v, ld->diag, "out of memory");
    v = bm_ynode_get(node, "description");
    if (v && (bm_ynode_string(doc, v, &s, ld->diag) ||
              !(r->description = strdup(s))))
        return -EINVAL;
    v = bm_ynode_get(node, "brand");
    if (v) {
        if (brand_ref(ld, doc, v, &b))
            return -EINVAL;
        r->brand = (int32_t)b;
    }
    v = bm_ynode_get(node, "kind");
    if (!v)
        return bm_ynode_error(doc, node, ld->diag,
                              "rule '%s' has no 'kind' (defense, "
                              "amplification or insight)",
                              r->id);
    if (parse_enum(ld, doc, v, "kind", kind_names, &e))
        return -EINVAL;
    r->kind = (enum bm_rule_kind)e;
    v = bm_ynode_get(node, "priority");
    if (v) {
        if (parse_enum(ld, doc, v, "priority", priority_names, &e))
            return -EINVAL;
        r->priority = (enum bm_priority)e;
    }
    v = bm_ynode_get(node, "when");
    if (!v)
        return bm_ynode_error(doc, node, ld->diag, "rule '%s' has no 'when'",
                              r->id);
    if (cond_parse(ld, doc, v, r, &r->when, 0))
        return -EINVAL;
    v = bm_ynode_get(node, "alert");
    return v ? compile_alert(ld, doc, v, r) : 0;
}

static int compile_escalation(struct loader *ld, const struct bm_ydoc *doc,
                              const struct bm_ynode *node)
{
    struct bm_ruleset *rs = ld->rs;
    struct escalation *x = &rs->escalations[rs->nescalations];
    const struct bm_ynode *v, *w;
    const char *s;
    int64_t cnt;
    int e;

    memset(x, 0, sizeof(*x));
    x->priority = BM_PRIO_CRITICAL;
    rs->nescalations++;
    if (bm_ynode_check_keys(doc, node, "escalation", escalation_keys, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(node, "id");
    if (!v)
        return bm_ynode_error(doc, node, ld->diag, "escalation has no 'id'");
    if (bm_ynode_string(doc, v, &s, ld->diag) || !(x->id = strdup(s)))
        return -EINVAL;
    v = bm_ynode_get(node, "brand");
    if (!v)
        return bm_ynode_error(doc, node, ld->diag,
                              "escalation '%s' has no 'brand'", x->id);
    if (brand_ref(ld, doc, v, &x->brand))
        return -EINVAL;
    v = bm_ynode_get(node, "kind");
    if (!v)
        return bm_ynode_error(doc, node, ld->diag,
                              "escalation '%s' has no 'kind'", x->id);
    if (parse_enum(ld, doc, v, "kind", kind_names, &e))
        return -EINVAL;
    x->kind = (enum bm_rule_kind)e;
    v = bm_ynode_get(node, "window");
    if (!v)
        return bm_ynode_error(doc, node, ld->diag,
                              "escalation '%s' has no 'window'", x->id);
    if (bm_ynode_duration(doc, v, &x->window_ms, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(node, "priority");
    if (v) {
        if (parse_enum(ld, doc, v, "priority", priority_names, &e))
            return -EINVAL;
        x->priority = (enum bm_priority)e;
    }
    v = bm_ynode_get(node, "cooldown");
    if (v && bm_ynode_duration(doc, v, &x->cooldown_ms, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(node, "baseline");
    if (v) {
        if (bm_ynode_duration(doc, v, &x->baseline_ms, ld->diag))
            return -EINVAL;
        if (x->baseline_ms <= x->window_ms)
            return bm_ynode_error(doc, v, ld->diag,
                                  "baseline must be longer than the window");
    }
    w = bm_ynode_get(node, "when");
    if (!w)
        return bm_ynode_error(doc, node, ld->diag,
                              "escalation '%s' has no 'when'", x->id);
    if (bm_ynode_check_keys(doc, w, "escalation condition",
                            escalation_when_keys, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(w, "count_at_least");
    if (!v)
        return bm_ynode_error(doc, w, ld->diag,
                              "escalation needs 'count_at_least'");
    if (bm_ynode_int(doc, v, 1, 1000000000, &cnt, ld->diag))
        return -EINVAL;
    x->count_at_least = (uint32_t)cnt;
    v = bm_ynode_get(w, "ratio_to_baseline");
    if (v) {
        if (bm_ynode_double(doc, v, 0.01, 1e6, &x->ratio_to_baseline, ld->diag))
            return -EINVAL;
        if (!x->baseline_ms)
            return bm_ynode_error(doc, v, ld->diag,
                                  "'ratio_to_baseline' needs a 'baseline' "
                                  "span");
    }
    return 0;
}

static int dup_opt(const struct bm_ydoc *doc, const struct bm_ynode *n,
                   char **out, struct bm_diag *diag)
{
    const char *s;

    if (!n)
        return 0;
    if (bm_ynode_string(doc, n, &s, diag))
        return -EINVAL;
    *out = strdup(s);
    return *out ? 0 : bm_ynode_error(doc, n, diag, "out of memory");
}

static int compile_test(struct loader *ld, const struct bm_ydoc *doc,
                        const struct bm_ynode *node)
{
    struct bm_ruleset *rs = ld->rs;
    struct ruletest *t = &rs->tests[rs->ntests];
    const struct bm_ynode *v;
    int64_t n;
    int tone;

    memset(t, 0, sizeof(*t));
    t->followers = -1;
    t->tone = -1;
    rs->ntests++;
    if (bm_ynode_check_keys(doc, node, "test", test_keys, ld->diag))
        return -EINVAL;
    t->line = node->line;
    if (!(t->file = strdup(doc->file)))
        return bm_ynode_error(doc, node, ld->diag, "out of memory");
    v = bm_ynode_get(node, "text");
    if (!v)
        return bm_ynode_error(doc, node, ld->diag, "test has no 'text'");
    if (dup_opt(doc, v, &t->text, ld->diag) ||
        dup_opt(doc, bm_ynode_get(node, "name"), &t->name, ld->diag) ||
        dup_opt(doc, bm_ynode_get(node, "author"), &t->author, ld->diag) ||
        dup_opt(doc, bm_ynode_get(node, "lang"), &t->lang, ld->diag) ||
        dup_opt(doc, bm_ynode_get(node, "source"), &t->source, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(node, "followers");
    if (v) {
        if (bm_ynode_int(doc, v, 0, INT64_MAX, &n, ld->diag))
            return -EINVAL;
        t->followers = n;
    }
    if ((v = bm_ynode_get(node, "reply")) &&
        bm_ynode_bool(doc, v, &t->reply, ld->diag))
        return -EINVAL;
    if ((v = bm_ynode_get(node, "repost")) &&
        bm_ynode_bool(doc, v, &t->repost, ld->diag))
        return -EINVAL;
    if ((v = bm_ynode_get(node, "html")) &&
        bm_ynode_bool(doc, v, &t->html, ld->diag))
        return -EINVAL;
    v = bm_ynode_get(node, "fields");
    if (v) {
        if (v->type != BM_YNODE_MAP)
            return bm_ynode_error(doc, v, ld->diag,
                                  "'fields' must be a mapping (the raw "
                                  "message)");
        if (!(t->fields = loader_node_json(v)))
            return bm_ynode_error(doc, v, ld->diag, "out of memory");
    }
    v = bm_ynode_get(node, "expect");
    if (v) {
        t->has_expect = true;
        if (v->type != BM_YNODE_SEQ)
            return bm_ynode_error(doc, v, ld->diag,
                                  "'expect' must be a list of rule ids "
                                  "([] for none)");
        if (v->n && loader_strings(ld, doc, v, &t->expect, &t->nexpect))
            return -EINVAL;
        for (uint32_t i = 0; i < t->nexpect; i++) {
            bool known = false;

            for (size_t r = 0; r < rs->nrules && !known; r++)
                known = strcmp(rs->rules[r].id, t->expect[i]) == 0;
            if (!known)
                return bm_ynode_error(doc, v->items[i], ld->diag,
                                      "test expects rule '%s', which no "
                                      "loaded pack defines",
                                      t->expect[i]);
        }
    }
    v = bm_ynode_get(node, "tone");
    if (v) {
        const char *s;

        if (bm_ynode_string(doc, v, &s, ld->diag))
            return -EINVAL;
        if (bm_tone_parse(s, (enum bm_tone *)&tone))
            return bm_ynode_error(doc, v, ld->diag,
                                  "tone must be negative, neutral or "
                                  "positive");
        t->tone = tone;
    }
    v = bm_ynode_get(node, "brands");
    if (v) {
        if (v->type != BM_YNODE_MAP || v->n == 0)
            return bm_ynode_error(doc, v, ld->diag,
                                  "'brands' must map brand ids to tones");
        t->brand_ids = calloc(v->n, sizeof(*t->brand_ids));
        t->brand_tones = calloc(v->n, sizeof(*t->brand_tones));
        if (!t->brand_ids || !t->brand_tones)
            return bm_ynode_error(doc, v, ld->diag, "out of memory");
        for (size_t i = 0; i < v->n; i++) {
            const char *s;
            uint32_t b;

            if (brand_ref(ld, doc, v->pairs[i].key, &b))
                return -EINVAL;
            if (!(t->brand_ids[i] = strdup(v->pairs[i].key->str)))
                return bm_ynode_error(doc, v, ld->diag, "out of memory");
            t->nbrands++;
            if (bm_ynode_string(doc, v->pairs[i].value, &s, ld->diag))
                return -EINVAL;
            if (bm_tone_parse(s, (enum bm_tone *)&tone))
                return bm_ynode_error(doc, v->pairs[i].value, ld->diag,
                                      "tone must be negative, neutral or "
                                      "positive");
            t->brand_tones[i] = tone;
        }
    }
    v = bm_ynode_get(node, "intents");
    if (v) {
        char **names;
        uint32_t nn;

        if (loader_strings(ld, doc, v, &names, &nn))
            return -EINVAL;
        for (uint32_t i = 0; i < nn; i++) {
            int at = bm_ruleset_intent(rs, names[i]);

            if (at < 0) {
                bm_ynode_error(doc, v, ld->diag, "unknown intent '%s'",
                               names[i]);
                free_strv(names, nn);
                return -EINVAL;
            }
            t->intents |= (uint64_t)1 << at;
        }
        free_strv(names, nn);
    }
    return 0;
}

static int compile_unit(struct loader *ld, struct unit *u)
{
    struct bm_ruleset *rs = ld->rs;
    const struct bm_ydoc *doc = u->doc;
    const struct bm_ynode *root = doc->root, *sec;

    sec = bm_ynode_get(root, "intents");
    for (size_t i = 0; sec && i < sec->n; i++)
        if (compile_intent(ld, doc, sec->pairs[i].key, sec->pairs[i].value))
            return -EINVAL;
    sec = bm_ynode_get(root, "brands");
    for (size_t i = 0; sec && i < sec->n; i++)
        if (compile_brand(ld, doc, sec->pairs[i].key, sec->pairs[i].value))
            return -EINVAL;
    /* Lists no brand or rule refers to are compiled too: a typo in an
     * unused list is still an error. */
    for (size_t i = 0; i < ld->nlists; i++) {
        const struct termset *dummy;
        char ref[256];

        if (ld->lists[i].doc != doc || ld->lists[i].state == 2)
            continue;
        snprintf(ref, sizeof(ref), "$%s", ld->lists[i].name);
        if (resolve_list(ld, doc, ld->lists[i].node, ref, &dummy))
            return -EINVAL;
    }
    sec = bm_ynode_get(root, "rules");
    if (sec && sec->n) {
        struct rule *nr =
            realloc(rs->rules, (rs->nrules + sec->n) * sizeof(*nr));

        if (!nr)
            return bm_ynode_error(doc, sec, ld->diag, "out of memory");
        rs->rules = nr;
        for (size_t i = 0; i < sec->n; i++)
            if (compile_rule(ld, doc, u->pack, sec->items[i]))
                return -EINVAL;
    }
    sec = bm_ynode_get(root, "escalations");
    if (sec && sec->n) {
        struct escalation *ne =
            realloc(rs->escalations, (rs->nescalations + sec->n) * sizeof(*ne));

        if (!ne)
            return bm_ynode_error(doc, sec, ld->diag, "out of memory");
        rs->escalations = ne;
        for (size_t i = 0; i < sec->n; i++)
            if (compile_escalation(ld, doc, sec->items[i]))
                return -EINVAL;
    }
    return 0;
}

static int compile_tests(struct loader *ld, struct unit *u)
{
    struct bm_ruleset *rs = ld->rs;
    const struct bm_ynode *sec = bm_ynode_get(u->doc->root, "tests");
    struct ruletest *nt;

    if (!sec)
        return 0;
    if (sec->type != BM_YNODE_SEQ)
        return bm_ynode_error(u->doc, sec, ld->diag, "'tests' must be a list");
    if (sec->n == 0)
        return 0;
    nt = realloc(rs->tests, (rs->ntests + sec->n) * sizeof(*nt));
    if (!nt)
        return bm_ynode_error(u->doc, sec, ld->diag, "out of memory");
    rs->tests = nt;
    for (size_t i = 0; i < sec->n; i++)
        if (compile_test(ld, u->doc, sec->items[i]))
            return -EINVAL;
    return 0;
}

/* ---- pass 4: indexes ---- */

static int iuse_cmp(const void *a, const void *b)
{
    const struct intent_use *x = a, *y = b;

    if (x->term != y->term)
        return x->term < y->term ? -1 : 1;
    return x->intent < y->intent ? -1 : x->intent > y->intent;
}

/* term -> (brand, role) grouped by term, and term -> intent sorted. */
static int build_indexes(struct bm_ruleset *rs)
{
    size_t nterms = bm_matcher_count(rs->matcher), total = 0, ni = 0;
    uint32_t *fill;

    for (size_t b = 0; b < rs->nbrands; b++) {
        const struct brand *br = &rs->brands[b];
        const struct termset *sets[3] = { &br->terms, &br->exclude,
                                          &br->statement };

        for (int r = 0; r < 3; r++)
            for (uint32_t i = 0; i < sets[r]->n; i++)
                rs->tinfo[sets[r]->ids[i]].nuse++;
    }
    for (size_t t = 0; t < nterms; t++) {
        rs->tinfo[t].use0 = (uint32_t)total;
        total += rs->tinfo[t].nuse;
    }
    rs->uses = calloc(total ? total : 1, sizeof(*rs->uses));
    fill = calloc(nterms ? nterms : 1, sizeof(*fill));
    if (!rs->uses || !fill) {
        free(fill);
        return -ENOMEM;
    }
    rs->nuses = total;
    for (size_t b = 0; b < rs->nbrands; b++) {
        const struct brand *br = &rs->brands[b];
        const struct termset *sets[3] = { &br->terms, &br->exclude,
                                          &br->statement };

        for (int r = 0; r < 3; r++)
            for (uint32_t i = 0; i < sets[r]->n; i++) {
                uint32_t t = sets[r]->ids[i];

                rs->uses[rs->tinfo[t].use0 + fill[t]++] =
                    (struct brand_use){ (uint32_t)b, (uint8_t)r };
            }
    }
    free(fill);

    for (size_t i = 0; i < rs->nintents; i++)
        ni += rs->intents[i].terms.n;
    rs->iuses = calloc(ni ? ni : 1, sizeof(*rs->iuses));
    if (!rs->iuses)
        return -ENOMEM;
    for (size_t i = 0; i < rs->nintents; i++)
        for (uint32_t k = 0; k < rs->intents[i].terms.n; k++)
            rs->iuses[rs->niuses++] =
                (struct intent_use){ rs->intents[i].terms.ids[k], (uint8_t)i };
    qsort(rs->iuses, rs->niuses, sizeof(*rs->iuses), iuse_cmp);
    return 0;
}

/* ---- the load ---- */

static int load_files(struct loader *ld, const char *const *paths,
                      size_t npaths, const char *data_dir, struct unit **units,
                      size_t *nunits, uint64_t *hash)
{
    char lex[PATH_MAX], intents[PATH_MAX];
    char **files = NULL;
    size_t nfiles = 0;
    int err = 0;

    snprintf(lex, sizeof(lex), "%s/%s", data_dir, LEXICON_FILE);
    snprintf(intents, sizeof(intents), "%s/%s", data_dir, INTENTS_FILE);
    for (size_t i = 0; i < npaths && !err; i++)
        err = expand_path(paths[i], &files, &nfiles, ld->diag);
    for (size_t i = 0; i < nfiles + 2 && !err; i++) {
        const char *path = i == 0 ? lex : i == 1 ? intents : files[i - 2];
        struct bm_ydoc *doc;

        if (i >= 2 && (same_file(path, intents) || same_file(path, lex)))
            continue;
        doc = bm_ydoc_load(path, ld->diag);
        if (!doc) {
            err = -EINVAL;
            break;
        }
        *hash = hash_file(*hash, path);
        if (add_unit(units, nunits, doc)) {
            bm_ydoc_free(doc);
            err = bm_diag_set(ld->diag, path, 0, 0, "out of memory");
            break;
        }
        (*units)[*nunits - 1].lexicon = i == 0;
        (*units)[*nunits - 1].base_intents = i == 1;
    }
    free_strv(files, (uint32_t)nfiles);
    return err;
}

static int register_unit(struct loader *ld, struct unit *u,
                         uint64_t *pack_intents)
{
    struct bm_ruleset *rs = ld->rs;
    const struct bm_ydoc *doc = u->doc;
    const struct bm_ynode *root = doc->root, *v;
    struct pack_info *np;
    const char *name;

    if (!root || root->type != BM_YNODE_MAP)
        return bm_diag_set(ld->diag, doc->file, root ? root->line : 0,
                           root ? root->col : 0,
                           "a rule pack must be a mapping with 'version: 1' "
                           "and 'pack: NAME'");
    if (bm_ynode_check_keys(doc, root, "rule pack", pack_keys, ld->diag) ||
        check_version(ld, doc, root))
        return -EINVAL;
    v = bm_ynode_get(root, "pack");
    if (!v)
        return bm_diag_set(ld->diag, doc->file, root->line, root->col,
                           "missing 'pack: NAME'");
    if (bm_ynode_string(doc, v, &name, ld->diag))
        return -EINVAL;
    for (size_t i = 0; i < rs->npacks; i++)
        if (strcmp(rs->packs[i].name, name) == 0)
            return bm_ynode_error(doc, v, ld->diag,
                                  "pack '%s' is already loaded from %s", name,
                                  rs->packs[i].file);
    np = realloc(rs->packs, (rs->npacks + 1) * sizeof(*np));
    if (!np)
        return bm_ynode_error(doc, v, ld->diag, "out of memory");
    rs->packs = np;
    np[rs->npacks].name = strdup(name);
    np[rs->npacks].file = strdup(doc->file);
    np[rs->npacks].base = u->base_intents;
    rs->npacks++;
    if (!np[rs->npacks - 1].name || !np[rs->npacks - 1].file)
        return bm_ynode_error(doc, v, ld->diag, "out of memory");
    u->pack = np[rs->npacks - 1].name;

    if ((v = bm_ynode_get(root, "description")) &&
        bm_ynode_string(doc, v, &name, ld->diag))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "lists")) && register_lists(ld, doc, v))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "brands")) && register_brands(ld, doc, v))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "intents")) &&
        register_intents(ld, doc, v, u->base_intents, pack_intents))
        return -EINVAL;
    if ((v = bm_ynode_get(root, "tests")) && v->type != BM_YNODE_SEQ)
        return bm_ynode_error(doc, v, ld->diag, "'tests' must be a list");
    return 0;
}

struct bm_ruleset *bm_ruleset_load(const char *const *paths, size_t npaths,
                                   const char *data_dir, struct bm_diag *diag)
{
    struct loader ld = { .diag = diag };
    struct unit *units = NULL;
    size_t nunits = 0;
    uint64_t hash = 14695981039346656037ull, pack_intents = 0;
    struct bm_ruleset *rs;
    int err = -EINVAL;

    if (!data_dir)
        data_dir = bm_ruleset_default_data_dir();
    rs = calloc(1, sizeof(*rs));
    if (!rs) {
        bm_diag_set(diag, "", 0, 0, "out of memory");
        return NULL;
    }
    ld.rs = rs;
    rs->matcher = bm_matcher_new();
    ld.cctx = pcre2_compile_context_create(NULL);
    if (!rs->matcher || !ld.cctx) {
        bm_diag_set(diag, "", 0, 0, "out of memory");
        goto out;
    }
    if (load_files(&ld, paths, npaths, data_dir, &units, &nunits, &hash))
        goto out;
    for (size_t i = 0; i < nunits; i++) {
        if (units[i].lexicon) {
            if (lexicon_load(&ld, units[i].doc))
                goto out;
        } else if (register_unit(&ld, &units[i], &pack_intents)) {
            goto out;
        }
    }
    if (lexicon_intents(&ld, units[0].doc) || check_ids(&ld, units, nunits))
        goto out;
    for (size_t i = 0; i < nunits; i++)
        if (!units[i].lexicon && compile_unit(&ld, &units[i]))
            goto out;
    /* Tests name rules of any pack, so they come after every rule. */
    for (size_t i = 0; i < nunits; i++)
        if (!units[i].lexicon && compile_tests(&ld, &units[i]))
            goto out;
    if (bm_matcher_build(rs->matcher) || build_indexes(rs)) {
        bm_diag_set(diag, "", 0, 0, "out of memory");
        goto out;
    }
    snprintf(rs->hash, sizeof(rs->hash), "%016llx", (unsigned long long)hash);
    err = 0;
out:
    for (size_t i = 0; i < ld.nlists; i++)
        termset_release(&ld.lists[i].set);
    free(ld.lists);
    pcre2_compile_context_free(ld.cctx);
    for (size_t i = 0; i < nunits; i++)
        bm_ydoc_free(units[i].doc);
    free(units);
    if (err) {
        bm_ruleset_free(rs);
        return NULL;
    }
    return rs;
}
